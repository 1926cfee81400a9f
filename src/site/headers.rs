//! A site's `_headers` file: response headers by URL pattern, in the syntax
//! Netlify and Cloudflare Pages document (Cloudflare's reading where the two
//! differ).
//!
//! ```text
//! # comment
//! /*
//!   X-Frame-Options: DENY
//!   X-Robots-Tag: noindex
//! /assets/*
//!   Cache-Control: public, max-age=31536000, immutable
//! /:lang/docs/*
//!   Content-Language: :lang
//!   Link: </:lang/docs/:splat.md>; rel="alternate"; type="text/markdown"
//! /sitemap.xml
//!   ! X-Robots-Tag
//! https://:sub.example.org/*
//!   X-Sub: :sub
//! ```
//!
//! A pattern line starts at the left margin: a path (`/…`), or an `https://`
//! (or `http://`) URL whose host must also match the request's: the scheme
//! is ignored, the host compared without case and without the request's
//! port (a pattern may not name a port; with no path it stands for `/`).
//! The indented lines under it (spaces or tabs) are its rule: `Name: value`
//! sets a header, `! Name` removes one that an earlier matching rule set.
//! Lines whose first non-blank character is `#` are comments.
//!
//! In a pattern, `*` (at most one a rule, in the host or the path) matches
//! any run of characters, `/` included, possibly empty: `/assets/*` matches
//! `/assets/` and everything below it but not `/assets` (unlike a
//! `_redirects` source), `/*.js` every path ending in `.js`. `:name` (a
//! letter, then letters, digits, `_`) is a whole path segment, or a whole
//! host label, and matches any one segment (label) that is not empty:
//! `/:lang/docs` matches `/en/docs`, not `/docs` nor `/en/x/docs`. Paths
//! are compared decoded and with case, so `%XX` in a pattern stands for its
//! byte (`%3A` for a `:` followed by a letter, `%2A` for a literal `*`).
//!
//! Every rule matching a request applies, in file order. A header set again
//! (by the same or a later rule) is joined to the earlier value with `, `;
//! names are compared without case, and the response keeps the spelling
//! that first set the header;
//! `Set-Cookie`, which cannot be joined, goes out once per value. A rule's
//! `! Name` lines apply before its own headers, so they remove what earlier
//! rules set, never what the same rule sets. In a value, `:name` and
//! `:splat` stand for what the placeholder and `*` matched; any control
//! character in what the request put there becomes a space (as the response
//! writer does), so a request cannot add a CR, LF or NUL to a header, and
//! what one response's values take from the request is bounded
//! ([`MAX_SUBSTITUTED`]).
//!
//! Parsed once per archive version, and bounded as Cloudflare bounds it: at
//! most [`MAX_RULES`] rules, [`MAX_LINE`] bytes a line, [`MAX_BYTES`] in
//! all; beyond a limit the rest of the file is ignored (the rules read
//! before it are kept) and the limit is reported once. A bad line (a header
//! before any pattern, a pattern that is neither a path nor a URL, no colon,
//! a name that is not an RFC 9110 token, a control character in a value, a
//! line longer than [`MAX_LINE`]) is reported and skipped; under a skipped
//! pattern line, its header lines are skipped with it.
//!
//! Some headers cannot be set or removed here, since wwz or the web server
//! owns them: those describing the bytes sent and answering conditional and
//! range requests (`Content-Length`, `Content-Encoding`, `Content-Range`,
//! `Transfer-Encoding`, `ETag`, `Last-Modified`, `Accept-Ranges`),
//! hop-by-hop headers (`Connection`, `Keep-Alive`, `Proxy-Connection`, `TE`,
//! `Trailer`, `Upgrade`), and those a web server acts on in a FastCGI or CGI
//! answer (`Status`; `Location`, as redirects are `_redirects`' job;
//! nginx's `X-Accel-*`; the `X-Sendfile` family, which would serve a file
//! from the server's disk). `Vary`, `Cache-Control`, `Content-Type` and all
//! others can be set: how they combine with what wwz sends is the caller's
//! choice.

use std::collections::{HashMap, HashSet};

use crate::http::header::check_name;
use crate::util::percent::{self, Decode};

/// Rules beyond this many are ignored.
pub const MAX_RULES: usize = 100;
/// A longer line (in bytes, without its line ending) is skipped.
pub const MAX_LINE: usize = 2000;
/// Bytes beyond this many are ignored. A reader may stop after
/// `MAX_BYTES + 1` bytes: that is enough to know the limit is hit.
pub const MAX_BYTES: usize = 64 * 1024;
/// At most this many bytes taken from the request (its host and path) go
/// into the values of one response; a header whose substitution would go
/// beyond is left out of that response.
pub const MAX_SUBSTITUTED: usize = 16 * 1024;

const TOO_MANY_RULES: &str = "more than 100 rules: those after the 100th are ignored";
const TOO_LARGE: &str = "larger than 64 KiB: the lines after the first 64 KiB are ignored";

/// One piece of a pattern's host or path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// Text matched as it is (a path's decoded, a host's without case).
    Literal(String),
    /// `:name`: a whole segment (label in a host) of one character or more.
    Placeholder(String),
    /// `*`: any run of characters, possibly empty.
    Splat,
}

/// A header a rule sets.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Set {
    /// The name, as this line spells it.
    name: String,
    /// The name's number in the file, the same for every spelling.
    id: usize,
    value: String,
    /// The value names a placeholder (or `:splat`) of its rule.
    substitute: bool,
    /// Whether an earlier value is joined rather than kept apart (not for
    /// `Set-Cookie`, RFC 9110 §5.3).
    joins: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// The pattern's line, 1-based.
    line: usize,
    /// For an absolute URL pattern, its host.
    host: Option<Vec<Token>>,
    path: Vec<Token>,
    /// The names (their numbers) of `! Name` lines, applied before `set`.
    detach: Vec<usize>,
    /// `Name: value` lines, in order.
    set: Vec<Set>,
}

/// A line of `_headers` that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based.
    pub line: usize,
    pub why: &'static str,
}

/// The rules of one archive's `_headers`; empty when there is none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    rules: Vec<Rule>,
    /// How many names (compared without case) the rules set or remove.
    names: usize,
}

/// What the parser is reading the header lines of.
enum Open {
    /// No pattern yet: a header line here is a bad line.
    Nothing,
    /// A pattern that was skipped: its header lines go with it, unreported.
    Skipped,
    /// A rule, and how many lines were under it so far.
    Rule(Rule, usize),
}

impl Headers {
    /// No rules.
    pub const EMPTY: Headers = Headers {
        rules: Vec::new(),
        names: 0,
    };

    /// Parses a `_headers` file: its rules, the lines skipped (in order),
    /// and the limit that stopped the reading, if one did (the rules before
    /// it are kept). Never fails: the worst file gives no rules.
    pub fn parse(text: &[u8]) -> (Headers, Vec<BadLine>, Option<&'static str>) {
        let mut limit = None;
        let mut text = text;
        if text.len() > MAX_BYTES {
            limit = Some(TOO_LARGE);
            // Whole lines only: the one cut by the limit goes with the rest.
            let kept = match text.get(MAX_BYTES) {
                Some(b'\n') => MAX_BYTES,
                _ => text
                    .get(..MAX_BYTES)
                    .and_then(|t| t.iter().rposition(|&b| b == b'\n'))
                    .unwrap_or(0),
            };
            text = text.get(..kept).unwrap_or_default();
        }
        let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);

        let mut rules = Vec::new();
        let mut bad = Vec::new();
        let mut open = Open::Nothing;
        // Each name's number, by its lowercase spelling: joining and
        // removing by number keep a response's cost linear in its headers.
        let mut ids: HashMap<String, usize> = HashMap::new();
        for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
            let n = i + 1;
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let trimmed = raw.trim_ascii();
            if trimmed.is_empty() || trimmed.starts_with(b"#") {
                continue;
            }
            let indented = raw.first().is_some_and(|&b| b == b' ' || b == b'\t');
            // An indented path is still a pattern (no header name starts
            // with `/`), as Cloudflare reads it.
            let is_pattern = !indented || looks_like_pattern(trimmed);
            if !is_pattern {
                if let Open::Rule(_, lines) = &mut open {
                    *lines += 1;
                }
            }
            let line = match std::str::from_utf8(trimmed) {
                _ if raw.len() > MAX_LINE => Err("longer than 2,000 bytes"),
                Ok(line) => Ok(line),
                Err(_) => Err("not UTF-8"),
            };
            let line = match line {
                Ok(line) => line,
                Err(why) => {
                    bad.push(BadLine { line: n, why });
                    if is_pattern {
                        finish(
                            std::mem::replace(&mut open, Open::Skipped),
                            &mut rules,
                            &mut bad,
                        );
                    }
                    continue;
                }
            };
            if is_pattern {
                finish(
                    std::mem::replace(&mut open, Open::Skipped),
                    &mut rules,
                    &mut bad,
                );
                match parse_pattern(line) {
                    Ok((host, path)) => {
                        if rules.len() == MAX_RULES {
                            limit = Some(TOO_MANY_RULES);
                            break;
                        }
                        let rule = Rule {
                            line: n,
                            host,
                            path,
                            detach: Vec::new(),
                            set: Vec::new(),
                        };
                        open = Open::Rule(rule, 0);
                    }
                    Err(why) => bad.push(BadLine { line: n, why }),
                }
                continue;
            }
            match &mut open {
                Open::Nothing => bad.push(BadLine {
                    line: n,
                    why: "a header line before any pattern",
                }),
                Open::Skipped => {}
                Open::Rule(rule, _) => match parse_header(line) {
                    Ok(Line::Detach(name)) => rule.detach.push(intern(&mut ids, name)),
                    Ok(Line::Set(name, value)) => rule.set.push(Set {
                        name: name.to_owned(),
                        id: intern(&mut ids, name),
                        value: value.to_owned(),
                        substitute: false,
                        joins: !name.eq_ignore_ascii_case("set-cookie"),
                    }),
                    Err(why) => bad.push(BadLine { line: n, why }),
                },
            }
        }
        finish(open, &mut rules, &mut bad);
        bad.sort_by_key(|b| b.line);
        let names = ids.len();
        (Headers { rules, names }, bad, limit)
    }

    /// [`Headers::parse`], with each skipped line and a limit logged.
    pub fn parse_logged(text: &[u8]) -> Headers {
        let (headers, bad, limit) = Headers::parse(text);
        for b in bad {
            crate::log::warn!("_headers line {}: {}; skipped", b.line, b.why);
        }
        if let Some(why) = limit {
            crate::log::warn!("_headers is {why}");
        }
        headers
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// How many rules were kept (at most [`MAX_RULES`]).
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// The headers for a request, in the order first set: every matching
    /// rule merged in file order, `!` lines applied, placeholders
    /// substituted. `host` is the request's host (`HTTP_HOST`: a port is
    /// ignored, `None` matches no absolute-URL pattern); `path` is the URL
    /// path relative to the site's root, decoded, starting with `/`
    /// (`/guide/` for a directory's index page, `/page` for a clean URL: the
    /// path asked for, also when a 404 page answers it). No name or value
    /// holds a control character but tab (values from the file) and none
    /// holds CR, LF or NUL. An empty `Vec` (no allocation) when no rule
    /// matches.
    pub fn for_request(&self, host: Option<&str>, path: &str) -> Vec<(String, String)> {
        let mut out: Vec<(usize, String, String)> = Vec::new();
        if self.rules.is_empty() {
            return Vec::new();
        }
        let host = host.map(host_name);
        let mut captures = Vec::new();
        let mut budget = MAX_SUBSTITUTED;
        // By name number: the entry of `out` a value joins, and where the
        // entries a `!` line left in place begin (made on the first match).
        let mut joins_at: Vec<Option<usize>> = Vec::new();
        let mut live_from: Vec<usize> = Vec::new();
        for rule in &self.rules {
            captures.clear();
            if !rule.matches(host, path, &mut captures) {
                continue;
            }
            if joins_at.is_empty() {
                joins_at = vec![None; self.names];
                live_from = vec![0; self.names];
            }
            for &id in &rule.detach {
                if let (Some(at), Some(from)) = (joins_at.get_mut(id), live_from.get_mut(id)) {
                    *at = None;
                    *from = out.len();
                }
            }
            for set in &rule.set {
                let value = if set.substitute {
                    match substitute(&set.value, &captures, &mut budget) {
                        Some(v) => v,
                        None => continue,
                    }
                } else {
                    set.value.clone()
                };
                let Some(at) = joins_at.get_mut(set.id) else {
                    continue;
                };
                match at.and_then(|i| out.get_mut(i)).filter(|_| set.joins) {
                    Some((_, _, earlier)) => {
                        earlier.push_str(", ");
                        earlier.push_str(&value);
                    }
                    None => {
                        *at = Some(out.len());
                        out.push((set.id, set.name.clone(), value));
                    }
                }
            }
        }
        out.into_iter()
            .enumerate()
            .filter(|(i, (id, _, _))| live_from.get(*id).is_some_and(|from| i >= from))
            .map(|(_, (_, name, value))| (name, value))
            .collect()
    }

    /// Line numbers (in order) of the rules whose pattern matches no URL of
    /// a member in `names` (member paths as the archive has them, `a/b.html`,
    /// `dir/` for a directory entry): a rule matches something if its path
    /// matches `/` (the root), `/NAME` for a member, `/DIR/` for any
    /// directory holding one, or `/PAGE` for a member `PAGE.html` (a clean
    /// URL). A pattern's host cannot be known from the archive: only its
    /// path counts. The site's configuration files are not URLs.
    pub fn unmatched<'a>(&self, names: impl Iterator<Item = &'a str>) -> Vec<usize> {
        let mut left: Vec<&Rule> = self.rules.iter().collect();
        let mut url = String::new();
        let test = |url: &str, left: &mut Vec<&Rule>| {
            left.retain(|r| !match_tokens(&r.path, url, '/', false, &mut Vec::new()));
        };
        test("/", &mut left);
        let mut dirs: HashSet<&str> = HashSet::new();
        for name in names {
            if left.is_empty() {
                break;
            }
            if super::is_config(name.as_bytes()) {
                continue;
            }
            for (at, _) in name.match_indices('/') {
                let Some(dir) = name.get(..=at) else {
                    continue;
                };
                if dirs.insert(dir) {
                    url.clear();
                    url.push('/');
                    url.push_str(dir);
                    test(&url, &mut left);
                }
            }
            if name.is_empty() || name.ends_with('/') {
                continue;
            }
            url.clear();
            url.push('/');
            url.push_str(name);
            test(&url, &mut left);
            if let Some(page) = name.strip_suffix(".html") {
                url.clear();
                url.push('/');
                url.push_str(page);
                test(&url, &mut left);
            }
        }
        left.iter().map(|r| r.line).collect()
    }
}

impl Rule {
    /// Whether the rule applies to the request, its placeholders' values
    /// (and the splat's) pushed onto `captures`.
    fn matches<'p, 's>(
        &'p self,
        host: Option<&'s str>,
        path: &'s str,
        captures: &mut Vec<(&'p str, &'s str)>,
    ) -> bool {
        if let Some(pattern) = &self.host {
            match host {
                Some(host) if match_tokens(pattern, host, '.', true, captures) => {}
                _ => return false,
            }
        }
        match_tokens(&self.path, path, '/', false, captures)
    }

    /// The names a value may substitute: the placeholders, and `splat`.
    fn capture_names(&self) -> impl Iterator<Item = &str> {
        self.host
            .iter()
            .flatten()
            .chain(&self.path)
            .filter_map(|t| match t {
                Token::Literal(_) => None,
                Token::Placeholder(name) => Some(name.as_str()),
                Token::Splat => Some("splat"),
            })
    }
}

/// Ends the rule being read: kept if it has a header line that was not
/// skipped; a pattern with no lines at all under it is reported.
fn finish(open: Open, rules: &mut Vec<Rule>, bad: &mut Vec<BadLine>) {
    let Open::Rule(mut rule, lines) = open else {
        return;
    };
    if rule.set.is_empty() && rule.detach.is_empty() {
        if lines == 0 {
            bad.push(BadLine {
                line: rule.line,
                why: "a pattern with no header lines under it",
            });
        }
        return;
    }
    let names: Vec<&str> = rule.capture_names().collect();
    let flags: Vec<bool> = rule
        .set
        .iter()
        .map(|s| names_any(&s.value, &names))
        .collect();
    for (set, flag) in rule.set.iter_mut().zip(flags) {
        set.substitute = flag;
    }
    rules.push(rule);
}

/// Whether `value` holds `:NAME` for one of `names`.
fn names_any(value: &str, names: &[&str]) -> bool {
    value.split(':').skip(1).any(|after| {
        let len = after.bytes().take_while(|&b| is_name_byte(b)).count();
        let name = after.get(..len).unwrap_or_default();
        names.contains(&name)
    })
}

/// Whether a trimmed line is a pattern: a path, or `scheme://`.
fn looks_like_pattern(line: &[u8]) -> bool {
    if line.starts_with(b"/") {
        return true;
    }
    let scheme = line
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b"+.-".contains(&b))
        .count();
    line.first().is_some_and(u8::is_ascii_alphabetic)
        && line.get(scheme..).is_some_and(|r| r.starts_with(b"://"))
}

/// A pattern: its host (absolute URLs only) and its path.
type Pattern = (Option<Vec<Token>>, Vec<Token>);

fn parse_pattern(line: &str) -> Result<Pattern, &'static str> {
    if !looks_like_pattern(line.as_bytes()) {
        return Err("a pattern is a path starting with / or an https:// URL \
                    (header lines are indented)");
    }
    if line.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a pattern is one path or URL, with no space or control character");
    }
    let (host, path) = if line.starts_with('/') {
        (None, line)
    } else {
        let (scheme, rest) = line.split_once("://").unwrap_or_default();
        if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
            return Err("an absolute pattern is an https:// URL");
        }
        let (authority, path) = match rest.find('/') {
            Some(at) => rest.split_at_checked(at).unwrap_or((rest, "/")),
            None => (rest, "/"),
        };
        (Some(parse_host(authority)?), path)
    };
    if path.contains(['?', '#']) {
        return Err("a pattern matches paths only: no query or fragment");
    }
    let path = tokenize(path, '/')?
        .into_iter()
        .map(|t| match t {
            Token::Literal(l) => decode_literal(&l).map(Token::Literal),
            t => Ok(t),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = HashSet::new();
    let mut splats = 0;
    for t in host.iter().flatten().chain(&path) {
        let name = match t {
            Token::Literal(_) => continue,
            Token::Placeholder(name) => name.as_str(),
            Token::Splat => {
                splats += 1;
                "splat"
            }
        };
        if splats > 1 {
            return Err("more than one * in a pattern");
        }
        if !seen.insert(name) {
            return Err("a placeholder named twice in a pattern (* is :splat)");
        }
    }
    Ok((host, path))
}

/// An absolute pattern's host: labels, `:name` labels and one `*`; no user
/// and no port.
fn parse_host(authority: &str) -> Result<Vec<Token>, &'static str> {
    if authority.contains('@') {
        return Err("a pattern's host has no user name");
    }
    let host = authority.strip_suffix('.').unwrap_or(authority);
    if host.is_empty() {
        return Err("an absolute pattern needs a host");
    }
    let mut tokens = tokenize(host, '.')?;
    for t in &mut tokens {
        if let Token::Literal(l) = t {
            if l.contains(':') {
                return Err("a pattern's host has no port (the request's port is ignored)");
            }
            if !l
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
            {
                return Err("a pattern's host is letters, digits, - and . only");
            }
            l.make_ascii_lowercase();
        }
    }
    Ok(tokens)
}

/// Splits `s` at `sep` into literals, whole-segment placeholders and
/// splats (adjacent literal text joined).
fn tokenize(s: &str, sep: char) -> Result<Vec<Token>, &'static str> {
    let mut tokens = Vec::new();
    let mut literal = String::new();
    let flush = |literal: &mut String, tokens: &mut Vec<Token>| {
        if !literal.is_empty() {
            tokens.push(Token::Literal(std::mem::take(literal)));
        }
    };
    for (i, segment) in s.split(sep).enumerate() {
        if i > 0 {
            literal.push(sep);
        }
        if let Some(name) = segment.strip_prefix(':').filter(|n| is_name(n)) {
            flush(&mut literal, &mut tokens);
            tokens.push(Token::Placeholder(name.to_owned()));
            continue;
        }
        if segment
            .split(':')
            .skip(1)
            .any(|after| after.starts_with(|c: char| c.is_ascii_alphabetic()))
        {
            return Err("a placeholder (: and a name) must be a whole segment \
                        (write %3A for a colon)");
        }
        for (j, part) in segment.split('*').enumerate() {
            if j > 0 {
                flush(&mut literal, &mut tokens);
                tokens.push(Token::Splat);
            }
            literal.push_str(part);
        }
    }
    flush(&mut literal, &mut tokens);
    Ok(tokens)
}

/// A path literal as requests are compared: decoded.
fn decode_literal(literal: &str) -> Result<String, &'static str> {
    let bytes = percent::decode(literal.as_bytes(), Decode::Path)
        .map_err(|_| "a bad percent escape in the pattern")?;
    let text = String::from_utf8(bytes.into_owned())
        .map_err(|_| "the pattern's path decodes to bytes that are not UTF-8")?;
    if text.chars().any(char::is_control) {
        return Err("the pattern's path decodes to a control character");
    }
    Ok(text)
}

/// A placeholder name: a letter, then letters, digits and `_`.
fn is_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic()) && name.bytes().all(is_name_byte)
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A header line under a pattern.
enum Line<'a> {
    Set(&'a str, &'a str),
    Detach(&'a str),
}

fn parse_header(line: &str) -> Result<Line<'_>, &'static str> {
    if let Some(rest) = line.strip_prefix('!') {
        let name = rest.trim_matches([' ', '\t']);
        if name.contains(':') {
            return Err("a detach line is `! Name`, with no value");
        }
        check_name(name)?;
        return Ok(Line::Detach(name));
    }
    let Some((name, value)) = line.split_once(':') else {
        return Err("a header line is `Name: value` or `! Name`");
    };
    let name = name.trim_matches([' ', '\t']);
    check_name(name)?;
    let value = value.trim_matches([' ', '\t']);
    if value.is_empty() {
        return Err("a header with no value");
    }
    if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        return Err("a control character (CR, NUL, …) in the value");
    }
    Ok(Line::Set(name, value))
}

/// The number of header name `name`, the same for every spelling of it.
fn intern(ids: &mut HashMap<String, usize>, name: &str) -> usize {
    let next = ids.len();
    *ids.entry(name.to_ascii_lowercase()).or_insert(next)
}

/// A request's host without its port (and a final dot).
fn host_name(host: &str) -> &str {
    let name = if host.starts_with('[') {
        host.find(']')
            .and_then(|at| host.get(..=at))
            .unwrap_or(host)
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.strip_suffix('.').unwrap_or(name)
}

/// Matches all of `s` against `tokens`, pushing the captures. A
/// placeholder stops at `sep` (and always ends at one, or at the end: it
/// is a whole segment), so the tokens before the splat have one way to
/// match from the start and those after it one way from the end; the splat
/// takes what lies between (regular-expression matching of `^A(.*)B$`,
/// without backtracking). `fold` compares literals without ASCII case.
fn match_tokens<'p, 's>(
    tokens: &'p [Token],
    s: &'s str,
    sep: char,
    fold: bool,
    captures: &mut Vec<(&'p str, &'s str)>,
) -> bool {
    let splat = tokens.iter().position(|t| *t == Token::Splat);
    let (head, tail) = match splat {
        Some(at) => (
            tokens.get(..at).unwrap_or_default(),
            tokens.get(at + 1..).unwrap_or_default(),
        ),
        None => (tokens, &[][..]),
    };
    let Some(start) = match_head(head, s, sep, fold, captures) else {
        return false;
    };
    if splat.is_none() {
        return start == s.len();
    }
    let Some(end) = match_tail(tail, s, sep, fold, captures) else {
        return false;
    };
    match s.get(start..end) {
        Some(middle) if start <= end => {
            captures.push(("splat", middle));
            true
        }
        _ => false,
    }
}

/// Where `tokens` (no splat) matched from the start of `s` end.
fn match_head<'p, 's>(
    tokens: &'p [Token],
    s: &'s str,
    sep: char,
    fold: bool,
    captures: &mut Vec<(&'p str, &'s str)>,
) -> Option<usize> {
    let mut at = 0;
    for t in tokens {
        let rest = s.get(at..)?;
        match t {
            Token::Literal(l) => {
                let head = rest.as_bytes().get(..l.len())?;
                if !same(head, l.as_bytes(), fold) {
                    return None;
                }
                at += l.len();
            }
            Token::Placeholder(name) => {
                let len = rest.find(sep).unwrap_or(rest.len());
                captures.push((name.as_str(), rest.get(..len).filter(|v| !v.is_empty())?));
                at += len;
            }
            Token::Splat => return None,
        }
    }
    Some(at)
}

/// Where `tokens` (no splat) matched backwards from the end of `s` start.
fn match_tail<'p, 's>(
    tokens: &'p [Token],
    s: &'s str,
    sep: char,
    fold: bool,
    captures: &mut Vec<(&'p str, &'s str)>,
) -> Option<usize> {
    let mut end = s.len();
    for t in tokens.iter().rev() {
        let before = s.get(..end)?;
        match t {
            Token::Literal(l) => {
                let from = end.checked_sub(l.len())?;
                if !same(before.as_bytes().get(from..)?, l.as_bytes(), fold) {
                    return None;
                }
                end = from;
            }
            Token::Placeholder(name) => {
                let from = before.rfind(sep).map_or(0, |at| at + sep.len_utf8());
                captures.push((name.as_str(), before.get(from..).filter(|v| !v.is_empty())?));
                end = from;
            }
            Token::Splat => return None,
        }
    }
    Some(end)
}

fn same(a: &[u8], b: &[u8], fold: bool) -> bool {
    if fold {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

/// `value` with each `:NAME` the rule captured replaced by its value, a
/// control character in it made a space; `None` when that would take more
/// than `budget` bytes from the request (the budget is then unchanged).
fn substitute(value: &str, captures: &[(&str, &str)], budget: &mut usize) -> Option<String> {
    let mut out = String::with_capacity(value.len() + 32);
    let mut left = *budget;
    let mut rest = value;
    while let Some((literal, after)) = rest.split_once(':') {
        out.push_str(literal);
        let len = after.bytes().take_while(|&b| is_name_byte(b)).count();
        let (name, tail) = after.split_at_checked(len).unwrap_or((after, ""));
        match captures
            .iter()
            .find(|(n, _)| *n == name)
            .filter(|_| len > 0)
        {
            Some((_, v)) => {
                left = left.checked_sub(v.len())?;
                out.extend(v.chars().map(|c| if c.is_control() { ' ' } else { c }));
                rest = tail;
            }
            None => {
                out.push(':');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    *budget = left;
    Some(out)
}

#[cfg(test)]
mod tests;
