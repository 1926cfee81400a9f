//! A site's `_redirects` file, in the syntax Netlify and GitLab Pages
//! document: one rule a line, `from to [status]`.
//!
//! ```text
//! # comment
//! /old            /new                 301
//! /news/*         /blog/:splat         302
//! /u/:name/posts  /people/:name        308
//! /app/*          /index.html          200    (a rewrite inside the archive)
//! /ext            https://example.org/ 302    (absolute targets for 3xx only)
//! ```
//!
//! Parsed once per archive version and bounded: at most [`MAX_RULES`] rules
//! and [`MAX_BYTES`] bytes (beyond that every rule is ignored and the site is
//! still served); a bad line is reported and skipped. A target never leaves
//! the archive: paths with `.` or `..` segments, `//host` and schemes other
//! than `https://` (`http://` included: a redirect must not move the site's
//! visitors to cleartext) are refused when the file is read. A request
//! applies at most one rule, so no rule can loop within a request.
//!
//! What a request's path puts into a redirect target is percent-encoded for
//! where it lands (a path segment, the splat's path, a query value), so a
//! `?`, `#`, `@` or `/` in it never starts a query or fragment or reaches the
//! authority; a placeholder in the authority itself is refused when the file
//! is read, so no request can change a target's scheme, host or port.

use crate::http::Status;
use crate::util::percent::{self, Keep};

/// Rules beyond this many mean the whole file is ignored.
pub const MAX_RULES: usize = 1000;
/// A `_redirects` larger than this is ignored.
pub const MAX_BYTES: usize = 64 * 1024;

/// The statuses a rule may give; 301 when none is written.
const STATUSES: [Status; 6] = [
    Status::Ok,
    Status::MovedPermanently,
    Status::Found,
    Status::SeeOther,
    Status::TemporaryRedirect,
    Status::PermanentRedirect,
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum PatternSegment {
    Literal(String),
    /// `:name`: any one segment.
    Placeholder(String),
    /// `*`, last: the rest of the path, zero or more segments.
    Splat,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    from: Vec<PatternSegment>,
    to: String,
    status: Status,
    /// `301!`: applies even where a member exists.
    force: bool,
}

/// A line of `_redirects` that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based.
    pub line: usize,
    pub why: &'static str,
}

/// The rules of one archive; empty when there is no `_redirects`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redirects {
    rules: Vec<Rule>,
}

impl Redirects {
    /// No rules.
    pub const EMPTY: Redirects = Redirects { rules: Vec::new() };
}

/// What a rule says to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleAction {
    /// Answer with this status and `Location` (a path inside the site, to be
    /// made relative to the request, or an absolute `https://` URL).
    Redirect { status: Status, to: String },
    /// Answer with this member path instead (no leading `/`).
    Rewrite(String),
}

impl Redirects {
    /// Parses a `_redirects` file: the rules and the lines skipped, or the
    /// reason the whole file is ignored.
    pub fn parse(text: &[u8]) -> Result<(Redirects, Vec<BadLine>), &'static str> {
        if text.len() > MAX_BYTES {
            return Err("larger than 64 KiB");
        }
        let text = String::from_utf8_lossy(text);
        let mut rules = Vec::new();
        let mut bad = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_rule(line) {
                Ok(rule) => {
                    if rules.len() == MAX_RULES {
                        return Err("more than 1,000 rules");
                    }
                    rules.push(rule);
                }
                Err(why) => bad.push(BadLine { line: i + 1, why }),
            }
        }
        Ok((Redirects { rules }, bad))
    }

    /// [`Redirects::parse`], with what it skipped or refused logged.
    pub fn parse_logged(text: &[u8]) -> Redirects {
        match Redirects::parse(text) {
            Ok((rules, bad)) => {
                for b in bad {
                    crate::log::warn!("_redirects line {}: {}; skipped", b.line, b.why);
                }
                rules
            }
            Err(why) => {
                crate::log::warn!("_redirects is {why}: its rules are ignored");
                Redirects::default()
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The first rule matching `path` (the member path, no leading `/`);
    /// `forced` picks among the rules that apply even where a member exists.
    pub fn apply(&self, path: &str, forced: bool) -> Option<RuleAction> {
        let path = path.trim_end_matches('/');
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        self.rules
            .iter()
            .filter(|r| r.force == forced)
            .find_map(|rule| {
                let captures = matches(&rule.from, &segments)?;
                // A rewrite names a member (decoded); a redirect is a URL.
                let rewrite = rule.status == Status::Ok;
                let to = substitute(&rule.to, &captures, !rewrite);
                Some(if rewrite {
                    RuleAction::Rewrite(to.trim_start_matches('/').to_owned())
                } else {
                    RuleAction::Redirect {
                        status: rule.status,
                        to,
                    }
                })
            })
    }
}

fn parse_rule(line: &str) -> Result<Rule, &'static str> {
    let mut fields = line.split_whitespace();
    let (Some(from), Some(to)) = (fields.next(), fields.next()) else {
        return Err("a rule needs a source and a target");
    };
    if to.contains('=') && !to.starts_with('/') && !to.starts_with("https://") {
        return Err("query and condition matching are not supported");
    }
    let (status, force) = match fields.next() {
        None => (Status::MovedPermanently, false),
        Some(s) => {
            let (digits, force) = match s.strip_suffix('!') {
                Some(d) => (d, true),
                None => (s, false),
            };
            let status = digits
                .parse::<u16>()
                .ok()
                .and_then(Status::from_code)
                .filter(|c| STATUSES.contains(c))
                .ok_or("the status must be 200, 301, 302, 303, 307 or 308")?;
            (status, force)
        }
    };
    if fields.next().is_some() {
        return Err("conditions after the status are not supported");
    }
    let from = parse_from(from)?;
    let to = check_target(to, status)?;
    if placeholder_in_authority(to, &from) {
        return Err("a placeholder may not stand in the target's host or port");
    }
    Ok(Rule {
        from,
        to: to.to_owned(),
        status,
        force,
    })
}

fn parse_from(from: &str) -> Result<Vec<PatternSegment>, &'static str> {
    if !from.starts_with('/') || from.starts_with("//") {
        return Err("the source must be a path starting with /");
    }
    let parts: Vec<&str> = from.split('/').filter(|s| !s.is_empty()).collect();
    let mut out = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let seg = if *part == "*" {
            if i + 1 != parts.len() {
                return Err("* may only end the source");
            }
            PatternSegment::Splat
        } else if let Some(name) = part.strip_prefix(':') {
            if name.is_empty() || !name.bytes().all(is_name_byte) {
                return Err("a placeholder is : and a name");
            }
            PatternSegment::Placeholder(name.to_owned())
        } else if part.contains('*') {
            return Err("* may only be a whole segment");
        } else {
            PatternSegment::Literal((*part).to_owned())
        };
        out.push(seg);
    }
    Ok(out)
}

/// A target: a path inside the site, or an `https://` URL for a redirect.
fn check_target(to: &str, status: Status) -> Result<&str, &'static str> {
    if to.starts_with("http://") {
        return Err(
            "http:// targets are refused (a redirect must not leave HTTPS): write https://",
        );
    }
    if to.starts_with("https://") {
        if status == Status::Ok {
            return Err("a rewrite (200) must stay inside the archive");
        }
        if to.bytes().any(|b| b.is_ascii_control()) {
            return Err("the target holds a control character");
        }
        return Ok(to);
    }
    if !to.starts_with('/') || to.starts_with("//") {
        return Err("the target must be a path starting with / or an https:// URL");
    }
    let path = to.split(['?', '#']).next().unwrap_or(to);
    if path
        .split('/')
        .any(|s| s == ".." || s == "." || s.contains('\\'))
        || to.bytes().any(|b| b.is_ascii_control())
    {
        return Err("the target leaves the site");
    }
    Ok(to)
}

/// Whether `to` is an absolute URL whose authority (host, port, user)
/// names one of `from`'s placeholders, which a request could then choose.
fn placeholder_in_authority(to: &str, from: &[PatternSegment]) -> bool {
    let Some(rest) = to.strip_prefix("https://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    authority.split(':').skip(1).any(|after| {
        let len = after.bytes().take_while(|&b| is_name_byte(b)).count();
        let name = after.get(..len).unwrap_or_default();
        from.iter().any(|seg| match seg {
            PatternSegment::Placeholder(p) => p == name,
            PatternSegment::Splat => name == "splat",
            PatternSegment::Literal(_) => false,
        })
    })
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The placeholder values (and `splat`) when `pattern` matches `path`.
fn matches<'p>(pattern: &'p [PatternSegment], path: &[&'p str]) -> Option<Vec<(&'p str, String)>> {
    let mut captures = Vec::new();
    for (i, seg) in pattern.iter().enumerate() {
        match seg {
            PatternSegment::Splat => {
                captures.push(("splat", path.get(i..).unwrap_or_default().join("/")));
                return Some(captures);
            }
            PatternSegment::Literal(l) => {
                if path.get(i) != Some(&l.as_str()) {
                    return None;
                }
            }
            PatternSegment::Placeholder(name) => {
                captures.push((name.as_str(), (*path.get(i)?).to_owned()))
            }
        }
    }
    (path.len() == pattern.len()).then_some(captures)
}

/// `to` with each `:name` it captured replaced by its value; for a redirect
/// (`encode`), the value percent-encoded for the part of the URL it lands in.
fn substitute(to: &str, captures: &[(&str, String)], encode: bool) -> String {
    if captures.is_empty() || !to.contains(':') {
        return to.to_owned();
    }
    let mut out = String::with_capacity(to.len() + 32);
    let mut rest = to;
    while let Some(at) = rest.find(':') {
        let (literal, after) = rest.split_at(at);
        out.push_str(literal);
        let after = after.get(1..).unwrap_or_default();
        let len = after.bytes().take_while(|&b| is_name_byte(b)).count();
        let (name, tail) = after.split_at(len);
        match captures
            .iter()
            .find(|(n, _)| *n == name)
            .filter(|_| len > 0)
        {
            Some((name, value)) if encode => {
                // Only the target's own text can start its query or fragment:
                // what was substituted before is encoded and holds neither.
                let in_query = out.contains(['?', '#']);
                push_value(&mut out, value, *name == "splat", in_query);
                rest = tail;
            }
            Some((_, value)) => {
                out.push_str(value);
                rest = tail;
            }
            None => {
                out.push(':');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Appends a value taken from the request to a redirect target: in the
/// query or fragment as a query value (unreserved bytes only); in the path
/// as one segment, or for the splat as a path whose `/` stay separators.
/// `?`, `#` and `%` are always encoded, so the value cannot end the path.
fn push_value(out: &mut String, value: &str, splat: bool, in_query: bool) {
    if in_query {
        percent::encode_into(out, value.as_bytes(), Keep::QueryValue);
        return;
    }
    if !splat {
        percent::encode_into(out, value.as_bytes(), Keep::HeaderSegment);
        return;
    }
    for (i, part) in value.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        percent::encode_into(out, part.as_bytes(), Keep::HeaderSegment);
    }
}

/// A redirect target inside the site as a reference relative to a request
/// for `member` (so it resolves under whatever prefix the site is mounted),
/// percent-encoded, with the request's query kept when the target has none.
pub fn relative_location(member: &str, target: &str, query: Option<&[u8]>) -> String {
    let depth = member.matches('/').count();
    let mut out = String::from("./");
    for _ in 0..depth {
        out.push_str("../");
    }
    let target = target.trim_start_matches('/');
    encode_into(&mut out, target.as_bytes());
    push_query(&mut out, target, query);
    out
}

/// An absolute target, its substituted parts percent-encoded where they need it.
pub fn absolute_location(target: &str, query: Option<&[u8]>) -> String {
    let mut out = String::with_capacity(target.len());
    encode_into(&mut out, target.as_bytes());
    push_query(&mut out, target, query);
    out
}

/// Appends the request's query when the target has none of its own,
/// encoded like the target: what a client sent stays, but a byte that may
/// not stand in a URL (a raw CR or LF from a FastCGI client, a space) is
/// escaped.
fn push_query(out: &mut String, target: &str, query: Option<&[u8]>) {
    if let Some(q) = query.filter(|q| !q.is_empty() && !target.contains('?')) {
        out.push('?');
        encode_into(out, q);
    }
}

/// Appends `s`, percent-encoding what may not stand in a URL as it is
/// (spaces, controls, non-ASCII); reserved characters keep their meaning.
fn encode_into(out: &mut String, s: &[u8]) {
    percent::encode_into(out, s, Keep::Url);
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;

    fn rules(text: &str) -> Redirects {
        let (r, bad) = Redirects::parse(text.as_bytes()).unwrap();
        assert!(bad.is_empty(), "{bad:?}");
        r
    }

    fn redirect(status: u16, to: &str) -> Option<RuleAction> {
        Some(RuleAction::Redirect {
            status: Status::from_code(status).unwrap(),
            to: to.to_owned(),
        })
    }

    #[test]
    fn each_rule_kind() {
        let r = rules(
            "# a comment\n\n/old /new\n/news/* /blog/:splat 302\n/u/:name/posts /people/:name 308\n\
             /app/* /index.html 200\n/ext https://example.org/x 307\n/forced /here 301!\n",
        );
        assert_eq!(r.apply("old", false), redirect(301, "/new"));
        assert_eq!(r.apply("old/", false), redirect(301, "/new"));
        assert_eq!(
            r.apply("news/2024/a.html", false),
            redirect(302, "/blog/2024/a.html")
        );
        assert_eq!(r.apply("news", false), redirect(302, "/blog/"));
        assert_eq!(r.apply("u/ann/posts", false), redirect(308, "/people/ann"));
        assert_eq!(r.apply("u/ann/other", false), None);
        assert_eq!(
            r.apply("app/deep/route", false),
            Some(RuleAction::Rewrite("index.html".into()))
        );
        assert_eq!(
            r.apply("ext", false),
            redirect(307, "https://example.org/x")
        );
        assert_eq!(r.apply("forced", false), None);
        assert_eq!(r.apply("forced", true), redirect(301, "/here"));
        assert_eq!(r.apply("elsewhere", false), None);
    }

    #[test]
    fn the_first_matching_rule_wins() {
        let r = rules("/a/* /one\n/a/b /two\n");
        assert_eq!(r.apply("a/b", false), redirect(301, "/one"));
    }

    #[test]
    fn bad_lines_are_skipped_with_a_reason() {
        let text = "/ok /fine\n/a\n/b /c 404\n/c ../../etc/passwd\n/d /x/../../etc/passwd 200\n\
                    /e //evil.example 301\n/f https://example.org 200\n/g /h 301 Country=us\n\
                    /a*b /x\n/*/x /y\n/: /z\nnot-a-path /q\n/store id=:id /blog/:id\n";
        let (r, bad) = Redirects::parse(text.as_bytes()).unwrap();
        assert_eq!(r.rules.len(), 1);
        let lines: Vec<usize> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, (2..=13).collect::<Vec<_>>(), "{bad:?}");
    }

    #[test]
    fn limits() {
        let many: String = (0..=MAX_RULES).map(|i| format!("/r{i} /t\n")).collect();
        assert!(many.len() < MAX_BYTES);
        assert_eq!(
            Redirects::parse(many.as_bytes()),
            Err("more than 1,000 rules")
        );
        let big = vec![b'#'; MAX_BYTES + 1];
        assert_eq!(Redirects::parse(&big), Err("larger than 64 KiB"));
        // A megabyte-long line is over the byte limit too; invalid UTF-8 is survivable.
        assert!(Redirects::parse(&vec![b'/'; 1 << 20]).is_err());
        let (r, bad) = Redirects::parse(b"/\xff /x\n").unwrap();
        assert_eq!((r.rules.len(), bad.len()), (1, 0));
    }

    #[test]
    fn locations_are_relative_to_the_request() {
        assert_eq!(relative_location("old", "/new", None), "./new");
        assert_eq!(
            relative_location("a/b/old", "/new/x", Some(b"q=1")),
            "./../../new/x?q=1"
        );
        assert_eq!(
            relative_location("a/", "/new?k", Some(b"q=1")),
            "./../new?k"
        );
        assert_eq!(relative_location("x", "/a b/é", None), "./a%20b/%C3%A9");
        assert_eq!(
            absolute_location("https://e.org/a b", Some(b"z")),
            "https://e.org/a%20b?z"
        );
    }

    #[test]
    fn a_placeholder_stays_in_the_path_of_an_absolute_target() {
        let r = rules(
            "/go/:x https://example.org/:x 302\n/d/* https://example.org/d/:splat 301\n\
             /s/:q https://example.org/find?q=:q 302\n/port/:x https://h:8443/:x 302\n",
        );
        let to = |path: &str| match r.apply(path, false) {
            Some(RuleAction::Redirect { to, .. }) => absolute_location(&to, None),
            other => panic!("{path}: {other:?}"),
        };
        // `@`, `:` are path characters after the first `/`; `?`, `#`, `/`
        // and `%` are encoded, so none starts a query, fragment or segment.
        assert_eq!(to("go/@evil.com"), "https://example.org/@evil.com");
        assert_eq!(to("go/a?b#c"), "https://example.org/a%3Fb%23c");
        assert_eq!(to("go/..%2F..%23"), "https://example.org/..%252F..%2523");
        assert_eq!(to("go/a b\u{e9}"), "https://example.org/a%20b%C3%A9");
        assert_eq!(to("d/a/b?c/@x"), "https://example.org/d/a/b%3Fc/@x");
        assert_eq!(
            to("s/a&b=c d#"),
            "https://example.org/find?q=a%26b%3Dc%20d%23"
        );
        assert_eq!(to("port/:9"), "https://h:8443/:9");
        // Inside the site too: the value stays in the relative reference's path.
        let r = rules("/n/* /blog/:splat 302\n/p/:x /pages/:x 200\n");
        let Some(RuleAction::Redirect { to, .. }) = r.apply("n/x#y/?z", false) else {
            panic!("no redirect");
        };
        assert_eq!(relative_location("n/x", &to, None), "./../blog/x%23y/%3Fz");
        // A rewrite names a member: its value is not encoded.
        assert_eq!(
            r.apply("p/a b?", false),
            Some(RuleAction::Rewrite("pages/a b?".into()))
        );
    }

    #[test]
    fn placeholders_in_a_host_and_http_targets_are_refused() {
        let text = "/h/:x https://:x.example.org/ 302\n/p/:x https://example.org::x/ 302\n\
                    /u/:x https://:x@example.org/ 302\n/s/* https://example.org:splat 302\n\
                    /plain http://example.org/ 301\n/nul https://e.org/\0 302\n\
                    /ok/:x https://h:8443/:x 302\n/colon/:x https://h:9/a:b 302\n";
        let (r, bad) = Redirects::parse(text.as_bytes()).unwrap();
        assert_eq!(r.rules.len(), 2, "{bad:?}");
        let lines: Vec<usize> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, [1, 2, 3, 4, 5, 6], "{bad:?}");
        assert!(bad[4].why.contains("http://"), "{bad:?}");
    }

    #[test]
    fn a_query_passed_on_is_encoded() {
        let q = Some(b"x=%0d%0a&y=\r\nSet-Cookie: a=1 \xff".as_slice());
        assert_eq!(
            relative_location("a", "/b", q),
            "./b?x=%0d%0a&y=%0D%0ASet-Cookie:%20a=1%20%FF"
        );
        assert_eq!(
            absolute_location("https://e.org/", q),
            "https://e.org/?x=%0d%0a&y=%0D%0ASet-Cookie:%20a=1%20%FF"
        );
    }

    #[test]
    fn substitution_leaves_unknown_colons() {
        assert_eq!(
            substitute("/a/:x/:y:z", &[("x", "1".into())], true),
            "/a/1/:y:z"
        );
        assert_eq!(
            substitute("https://h:8443/:splat", &[("splat", "p".into())], true),
            "https://h:8443/p"
        );
    }
}
