//! The URL policy (`--html-handling`): at which URL a page answers and where
//! its other URLs redirect, in Cloudflare Pages' four modes. For a site with
//! `page.html` and `dir/index.html`:
//!
//! | request | auto-trailing-slash | force-trailing-slash | drop-trailing-slash | none |
//! |---|---|---|---|---|
//! | `page` | `page.html` | → `./page/` | `page.html` | 404 |
//! | `page/` | → `../page` | `page.html` | → `../page` | 404 |
//! | `page.html` | `page.html` | → `./page/` | → `./page` | `page.html` |
//! | `dir` | → `./dir/` | → `./dir/` | `dir/index.html` | → `./dir/` |
//! | `dir/` | `dir/index.html` | `dir/index.html` | → `../dir` | listing |
//! | `dir/index` | `dir/index.html` | → `./` | → `../dir` | 404 |
//! | `dir/index.html` | `dir/index.html` | → `./` | → `../dir` | `dir/index.html` |
//!
//! `auto-trailing-slash` answers every URL that answered before these modes
//! existed as it did, and turns into redirects only URLs that were 404.
//!
//! A redirect is made only when its target answers directly with the same
//! member (as Cloudflare's "safe redirect" does), so there are never two in
//! a row; locations are relative references (right under any mount) and
//! the caller appends the query.
//!
//! Without clean URLs (`--no-clean-urls`) a `NAME.html` member is never
//! found by a name without `.html` (`page`, `page/`, `dir/index`), and a URL
//! ending in `.html` is never redirected: it answers with that member or not
//! at all. Index pages and the trailing-slash rules for directories stay.
//!
//! Pure: it asks [`Names`] what the archive holds and answers with names.

use std::borrow::Cow;

use crate::util::percent::{self, Keep};

/// Cloudflare Pages' (Workers static assets') `html_handling` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum HtmlHandling {
    /// `/page` for page.html, `/dir/` for dir/index.html; other URLs that
    /// find nothing redirect to them.
    #[default]
    AutoTrailingSlash,
    /// `/page/` and `/dir/`; other URLs of a page redirect there.
    ForceTrailingSlash,
    /// `/page` and `/dir`; other URLs of a page redirect there.
    DropTrailingSlash,
    /// Members at their own names only: no clean URLs, no index pages.
    None,
}

/// The mode and whether clean URLs are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub mode: HtmlHandling,
    pub clean_urls: bool,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            mode: HtmlHandling::AutoTrailingSlash,
            clean_urls: true,
        }
    }
}

impl Policy {
    /// Whether a `.html` member named exactly may be redirected rather than
    /// served: then the exact lookup leaves the path to [`resolve`].
    pub fn may_redirect_html(self) -> bool {
        self.clean_urls
            && matches!(
                self.mode,
                HtmlHandling::ForceTrailingSlash | HtmlHandling::DropTrailingSlash
            )
    }
}

/// What the archive holds, as the policy asks it.
pub trait Names {
    /// Whether `name` is a member that may be served (not the site's configuration).
    fn member(&self, name: &str) -> bool;
    /// Whether `dir` (ending in `/`) is a directory of the archive.
    fn dir(&self, dir: &str) -> bool;
}

/// What answers a URL without a redirect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Direct<'a> {
    /// This member.
    Member(Cow<'a, str>),
    /// This directory's listing (the path ends in `/` or is the root).
    Listing(Cow<'a, str>),
}

impl Direct<'_> {
    fn into_owned(self) -> Direct<'static> {
        match self {
            Direct::Member(m) => Direct::Member(Cow::Owned(m.into_owned())),
            Direct::Listing(d) => Direct::Listing(Cow::Owned(d.into_owned())),
        }
    }

    fn is_member(&self, name: &str) -> bool {
        matches!(self, Direct::Member(m) if m == name)
    }
}

/// What a URL answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<'a> {
    Direct(Direct<'a>),
    /// A redirect to `location` (relative to the request, without query),
    /// where `then` answers directly.
    Redirect {
        location: String,
        then: Direct<'static>,
    },
    Nothing,
}

/// A directory's index pages, in the order they are looked for.
const INDEX_PAGES: [&str; 2] = ["index.html", "index.htm"];

/// Resolves the member path `path` (no leading `/`; empty for the root).
pub fn resolve<'a, N: Names + ?Sized>(policy: Policy, path: &'a str, names: &N) -> Answer<'a> {
    let r = Resolver {
        policy,
        names,
        path,
    };
    match policy.mode {
        HtmlHandling::AutoTrailingSlash => r.auto(),
        HtmlHandling::ForceTrailingSlash => r.force(),
        HtmlHandling::DropTrailingSlash => r.drop(),
        HtmlHandling::None => r.none(),
    }
}

/// What `path` answers without a redirect, if anything.
pub fn direct<'a, N: Names + ?Sized>(
    policy: Policy,
    path: &'a str,
    names: &N,
) -> Option<Direct<'a>> {
    let dir_form = is_dir_form(path);
    if !dir_form && names.member(path) {
        return Some(Direct::Member(Cow::Borrowed(path)));
    }
    let index_of = |dir: &str| {
        INDEX_PAGES
            .iter()
            .map(|page| format!("{dir}{page}"))
            .find(|name| names.member(name))
    };
    // `x` finds `x.html` (clean URLs).
    let page_of = |x: &str| {
        if !policy.clean_urls || x.is_empty() || x.ends_with('/') {
            return None;
        }
        let name = format!("{x}.html");
        names.member(&name).then_some(name)
    };
    let member = |name: String| Direct::Member(Cow::Owned(name));
    if dir_form {
        let listing =
            || (path.is_empty() || names.dir(path)).then_some(Direct::Listing(Cow::Borrowed(path)));
        return match policy.mode {
            HtmlHandling::None => listing(),
            HtmlHandling::AutoTrailingSlash => index_of(path).map(member).or_else(listing),
            HtmlHandling::ForceTrailingSlash => index_of(path)
                .or_else(|| path.strip_suffix('/').and_then(page_of))
                .map(member)
                .or_else(listing),
            // A page answers without the slash; the root and listings keep it.
            HtmlHandling::DropTrailingSlash => match index_of(path) {
                Some(page) if path.is_empty() => Some(member(page)),
                Some(_) => None,
                None => listing(),
            },
        };
    }
    match policy.mode {
        HtmlHandling::None | HtmlHandling::ForceTrailingSlash => None,
        HtmlHandling::AutoTrailingSlash => page_of(path).map(member),
        HtmlHandling::DropTrailingSlash => page_of(path)
            .or_else(|| index_of(&format!("{path}/")))
            .map(member),
    }
}

/// Empty (the root) or ending in `/`.
fn is_dir_form(path: &str) -> bool {
    path.is_empty() || path.ends_with('/')
}

/// `(pre, html)` for `pre` + `index` (`html` false) or `pre` + `index.html`,
/// `pre` being empty or ending in `/`.
fn split_index(path: &str) -> Option<(&str, bool)> {
    let (pre, html) = match path.strip_suffix("index.html") {
        Some(pre) => (pre, true),
        None => (path.strip_suffix("index")?, false),
    };
    is_dir_form(pre).then_some((pre, html))
}

/// `x` for `x.html`, `x` a page name (not empty, not a directory, not an index).
fn split_html(path: &str) -> Option<&str> {
    let x = path.strip_suffix(".html")?;
    (!is_dir_form(x) && split_index(path).is_none()).then_some(x)
}

struct Resolver<'a, 'n, N: ?Sized> {
    policy: Policy,
    names: &'n N,
    path: &'a str,
}

impl<'a, N: Names + ?Sized> Resolver<'a, '_, N> {
    fn direct(&self, path: &str) -> Option<Direct<'static>> {
        direct(self.policy, path, self.names).map(Direct::into_owned)
    }

    /// A redirect to `dest` if what `dest` answers directly passes `want`.
    fn to(&self, dest: &str, want: impl Fn(&Direct<'_>) -> bool) -> Option<Answer<'a>> {
        let then = self.direct(dest).filter(|d| want(d))?;
        Some(Answer::Redirect {
            location: relative(self.path, dest),
            then,
        })
    }

    /// A redirect to `dest` if it answers directly with member `name`.
    fn to_member(&self, dest: &str, name: &str) -> Option<Answer<'a>> {
        self.to(dest, |d| d.is_member(name))
    }

    /// `x` → `x/` where `x/` answers (its index page, its listing, or
    /// `x.html` in force mode): a directory named without its slash.
    fn add_slash(&self) -> Option<Answer<'a>> {
        if is_dir_form(self.path) {
            return None;
        }
        self.to(&format!("{}/", self.path), |_| true)
    }

    fn served(&self) -> Answer<'a> {
        match direct(self.policy, self.path, self.names) {
            Some(d) => Answer::Direct(d),
            None => Answer::Nothing,
        }
    }

    fn exact(&self) -> Option<Answer<'a>> {
        (!is_dir_form(self.path) && self.names.member(self.path))
            .then_some(Answer::Direct(Direct::Member(Cow::Borrowed(self.path))))
    }

    /// Today's answers first; only what would be a 404 may redirect.
    fn auto(&self) -> Answer<'a> {
        let p = self.path;
        if let Some(d) = direct(self.policy, p, self.names) {
            return Answer::Direct(d);
        }
        if let Some(r) = self.add_slash() {
            return r;
        }
        if !self.policy.clean_urls {
            return Answer::Nothing;
        }
        // `page/` → `../page`.
        if let Some(x) = p.strip_suffix('/').filter(|x| !x.is_empty()) {
            if let Some(r) = self.to_member(x, &format!("{x}.html")) {
                return r;
            }
        }
        // `page/index`, `page/index.html` → `../page`.
        if let Some((pre, _)) = split_index(p) {
            if let Some(x) = pre.strip_suffix('/').filter(|x| !x.is_empty()) {
                if let Some(r) = self.to_member(x, &format!("{x}.html")) {
                    return r;
                }
            }
        }
        // `dir.html` → `./dir/`.
        if let Some(x) = split_html(p) {
            if let Some(r) = self.to_member(&format!("{x}/"), &format!("{x}/index.html")) {
                return r;
            }
        }
        Answer::Nothing
    }

    fn force(&self) -> Answer<'a> {
        let p = self.path;
        let clean = self.policy.clean_urls;
        // `x/index`, `x/index.html` → `./` where `x/` answers with either page.
        if let Some((pre, html)) = split_index(p).filter(|_| clean) {
            if html || !self.names.member(p) {
                let index = format!("{pre}index.html");
                let page = pre
                    .strip_suffix('/')
                    .filter(|x| !x.is_empty())
                    .map(|x| format!("{x}.html"));
                let want = |d: &Direct<'_>| {
                    d.is_member(&index) || page.as_ref().is_some_and(|pg| d.is_member(pg))
                };
                if let Some(r) = self.to(pre, want) {
                    return r;
                }
            }
        }
        if is_dir_form(p) {
            return self.served();
        }
        // `page.html` → `./page/`; `dir.html` → `./dir/`; both members: each at its own URL.
        if let Some(x) = split_html(p).filter(|_| clean) {
            let dir = format!("{x}/");
            if let Some(r) = self.to_member(&dir, p) {
                return r;
            }
            if let Some(r) = self.exact() {
                return r;
            }
            if let Some(r) = self.to_member(&dir, &format!("{x}/index.html")) {
                return r;
            }
        }
        if let Some(r) = self.exact() {
            return r;
        }
        self.add_slash().unwrap_or(Answer::Nothing)
    }

    fn drop(&self) -> Answer<'a> {
        let p = self.path;
        let clean = self.policy.clean_urls;
        if let Some((pre, html)) = split_index(p).filter(|_| clean) {
            if html || !self.names.member(p) {
                match pre.strip_suffix('/') {
                    // The root keeps its slash.
                    None => {
                        if let Some(r) = self.to_member("", "index.html") {
                            return r;
                        }
                    }
                    Some(x) if html => {
                        if let Some(r) = self.to_member(x, p) {
                            return r;
                        }
                        if let Some(r) = self.exact() {
                            return r;
                        }
                        if let Some(r) = self.to_member(x, &format!("{x}.html")) {
                            return r;
                        }
                    }
                    Some(x) => {
                        let (page, index) = (format!("{x}.html"), format!("{x}/index.html"));
                        if let Some(r) = self.to(x, |d| d.is_member(&page) || d.is_member(&index)) {
                            return r;
                        }
                    }
                }
            }
        }
        if is_dir_form(p) {
            // `x/` → `../x` where `x` answers with a page (not a member named `x`).
            if let Some(x) = p.strip_suffix('/').filter(|x| !x.is_empty()) {
                if let Some(r) = self.to(x, |d| matches!(d, Direct::Member(m) if m != x)) {
                    return r;
                }
            }
            return self.served();
        }
        if let Some(x) = split_html(p).filter(|_| clean) {
            if let Some(r) = self.to_member(x, p) {
                return r;
            }
            if let Some(r) = self.to_member(x, &format!("{x}/index.html")) {
                return r;
            }
        }
        if let Some(d) = direct(self.policy, p, self.names) {
            return Answer::Direct(d);
        }
        // A directory without an index page is listed at its slash form.
        self.add_slash().unwrap_or(Answer::Nothing)
    }

    fn none(&self) -> Answer<'a> {
        if let Some(d) = direct(self.policy, self.path, self.names) {
            return Answer::Direct(d);
        }
        self.add_slash().unwrap_or(Answer::Nothing)
    }
}

/// The relative reference from a request for member path `from` to member
/// path `to` (both from the site's root): `./x/`, `../x`, `./`, each
/// segment percent-encoded for a header. It resolves against the request's
/// URL, so it is right whatever prefix the site is mounted under.
pub fn relative(from: &str, to: &str) -> String {
    // The directories the request URL resolves against, and those of `to`.
    let base: Vec<&str> = from.split('/').collect();
    let base = base.split_last().map_or(&[][..], |(_, dirs)| dirs);
    let target: Vec<&str> = to.split('/').collect();
    let (last, dirs) = target.split_last().map_or(("", &[][..]), |(l, d)| (*l, d));
    let common = base.iter().zip(dirs).take_while(|(a, b)| a == b).count();
    let mut out = String::with_capacity(to.len() + 8);
    let ups = base.len() - common;
    if ups == 0 {
        out.push_str("./");
    }
    for _ in 0..ups {
        out.push_str("../");
    }
    for dir in dirs.get(common..).unwrap_or_default() {
        percent::encode_into(&mut out, dir.as_bytes(), Keep::HeaderSegment);
        out.push('/');
    }
    percent::encode_into(&mut out, last.as_bytes(), Keep::HeaderSegment);
    out
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;

    /// A site of names (directories are implied by them).
    struct Site(&'static [&'static str]);

    impl Names for Site {
        fn member(&self, name: &str) -> bool {
            self.0.contains(&name)
        }
        fn dir(&self, dir: &str) -> bool {
            self.0.iter().any(|n| n.starts_with(dir))
        }
    }

    const SITE: Site = Site(&[
        "index.html",
        "page.html",
        "dir/index.html",
        "list/a.txt",
        "both.html",
        "both/index.html",
        "file",
    ]);

    /// What a case answers: `S(member)`, `L(dir)` (a listing),
    /// `R(location, member)` (a redirect whose target serves member), `N`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum E {
        S(&'static str),
        L(&'static str),
        R(&'static str, &'static str),
        N,
    }
    use E::*;

    fn answer(policy: Policy, path: &str) -> E {
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let then = |d: Direct<'_>| match d {
            Direct::Member(m) => leak(m.into_owned()),
            Direct::Listing(d) => leak(format!("listing:{d}")),
        };
        match resolve(policy, path, &SITE) {
            Answer::Direct(Direct::Member(m)) => S(leak(m.into_owned())),
            Answer::Direct(Direct::Listing(d)) => L(leak(d.into_owned())),
            Answer::Redirect { location, then: t } => R(leak(location), then(t)),
            Answer::Nothing => N,
        }
    }

    /// Resolves a relative `location` against the request for `path`, as a
    /// client does (both member paths, from the site's root).
    fn follow(path: &str, location: &str) -> String {
        let mut dirs: Vec<&str> = path.split('/').collect();
        dirs.pop();
        let mut rest = location;
        loop {
            if let Some(r) = rest.strip_prefix("./") {
                rest = r;
            } else if let Some(r) = rest.strip_prefix("../") {
                dirs.pop().expect("above the root");
                rest = r;
            } else {
                break;
            }
        }
        let mut out = dirs.join("/");
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(rest);
        out
    }

    const PATHS: [&str; 17] = [
        "",
        "index",
        "index.html",
        "page",
        "page/",
        "page.html",
        "page/index",
        "page/index.html",
        "dir",
        "dir/",
        "dir.html",
        "dir/index",
        "dir/index.html",
        "list",
        "list/",
        "nope",
        "file",
    ];

    fn check(mode: HtmlHandling, clean_urls: bool, want: [E; 17]) {
        let policy = Policy { mode, clean_urls };
        for (path, want) in PATHS.iter().zip(want) {
            let got = answer(policy, path);
            assert_eq!(got, want, "{mode:?} clean={clean_urls} {path:?}");
            // A redirect's target answers directly, with the member promised.
            if let R(location, member) = got {
                let dest = follow(path, location);
                let again = answer(policy, &dest);
                let direct = match again {
                    S(m) => m.to_owned(),
                    L(d) => format!("listing:{d}"),
                    other => panic!("{mode:?} {path:?} → {dest:?} answers {other:?}"),
                };
                assert_eq!(direct, member, "{mode:?} {path:?} → {dest:?}");
            }
        }
    }

    #[rustfmt::skip]
    #[test]
    fn auto_trailing_slash() {
        check(HtmlHandling::AutoTrailingSlash, true, [
            S("index.html"),                     // ""
            S("index.html"),                     // index
            S("index.html"),                     // index.html
            S("page.html"),                      // page
            R("../page", "page.html"),           // page/
            S("page.html"),                      // page.html
            R("../page", "page.html"),           // page/index
            R("../page", "page.html"),           // page/index.html
            R("./dir/", "dir/index.html"),       // dir
            S("dir/index.html"),                 // dir/
            R("./dir/", "dir/index.html"),       // dir.html
            S("dir/index.html"),                 // dir/index
            S("dir/index.html"),                 // dir/index.html
            R("./list/", "listing:list/"),       // list
            L("list/"),                          // list/
            N,                                   // nope
            S("file"),                           // file
        ]);
        // Without clean URLs: as before these modes (no `.html` found or redirected).
        check(HtmlHandling::AutoTrailingSlash, false, [
            S("index.html"), N, S("index.html"), N, N, S("page.html"), N, N,
            R("./dir/", "dir/index.html"), S("dir/index.html"), N, N, S("dir/index.html"),
            R("./list/", "listing:list/"), L("list/"), N, S("file"),
        ]);
    }

    #[rustfmt::skip]
    #[test]
    fn force_trailing_slash() {
        check(HtmlHandling::ForceTrailingSlash, true, [
            S("index.html"),                     // ""
            R("./", "index.html"),               // index
            R("./", "index.html"),               // index.html
            R("./page/", "page.html"),           // page
            S("page.html"),                      // page/
            R("./page/", "page.html"),           // page.html
            R("./", "page.html"),                // page/index
            R("./", "page.html"),                // page/index.html
            R("./dir/", "dir/index.html"),       // dir
            S("dir/index.html"),                 // dir/
            R("./dir/", "dir/index.html"),       // dir.html
            R("./", "dir/index.html"),           // dir/index
            R("./", "dir/index.html"),           // dir/index.html
            R("./list/", "listing:list/"),       // list
            L("list/"),                          // list/
            N,                                   // nope
            S("file"),                           // file
        ]);
        check(HtmlHandling::ForceTrailingSlash, false, [
            S("index.html"), N, S("index.html"), N, N, S("page.html"), N, N,
            R("./dir/", "dir/index.html"), S("dir/index.html"), N, N, S("dir/index.html"),
            R("./list/", "listing:list/"), L("list/"), N, S("file"),
        ]);
    }

    #[rustfmt::skip]
    #[test]
    fn drop_trailing_slash() {
        check(HtmlHandling::DropTrailingSlash, true, [
            S("index.html"),                     // ""
            R("./", "index.html"),               // index
            R("./", "index.html"),               // index.html
            S("page.html"),                      // page
            R("../page", "page.html"),           // page/
            R("./page", "page.html"),            // page.html
            R("../page", "page.html"),           // page/index
            R("../page", "page.html"),           // page/index.html
            S("dir/index.html"),                 // dir
            R("../dir", "dir/index.html"),       // dir/
            R("./dir", "dir/index.html"),        // dir.html
            R("../dir", "dir/index.html"),       // dir/index
            R("../dir", "dir/index.html"),       // dir/index.html
            R("./list/", "listing:list/"),       // list
            L("list/"),                          // list/
            N,                                   // nope
            S("file"),                           // file
        ]);
        check(HtmlHandling::DropTrailingSlash, false, [
            S("index.html"), N, S("index.html"), N, N, S("page.html"), N, N,
            S("dir/index.html"), R("../dir", "dir/index.html"), N, N, S("dir/index.html"),
            R("./list/", "listing:list/"), L("list/"), N, S("file"),
        ]);
    }

    #[rustfmt::skip]
    #[test]
    fn none() {
        let want = [
            L(""),                               // ""
            N,                                   // index
            S("index.html"),                     // index.html
            N,                                   // page
            N,                                   // page/
            S("page.html"),                      // page.html
            N,                                   // page/index
            N,                                   // page/index.html
            R("./dir/", "listing:dir/"),         // dir
            L("dir/"),                           // dir/
            N,                                   // dir.html
            N,                                   // dir/index
            S("dir/index.html"),                 // dir/index.html
            R("./list/", "listing:list/"),       // list
            L("list/"),                          // list/
            N,                                   // nope
            S("file"),                           // file
        ];
        check(HtmlHandling::None, true, want);
        check(HtmlHandling::None, false, want);
    }

    /// `both.html` and `both/index.html`: each page keeps a URL of its own.
    #[test]
    fn a_page_and_a_directory_of_the_same_name() {
        let at = |mode, path| {
            answer(
                Policy {
                    mode,
                    clean_urls: true,
                },
                path,
            )
        };
        use HtmlHandling::*;
        assert_eq!(at(AutoTrailingSlash, "both"), S("both.html"));
        assert_eq!(at(AutoTrailingSlash, "both/"), S("both/index.html"));
        assert_eq!(at(ForceTrailingSlash, "both/"), S("both/index.html"));
        assert_eq!(at(ForceTrailingSlash, "both.html"), S("both.html"));
        assert_eq!(at(DropTrailingSlash, "both"), S("both.html"));
        assert_eq!(
            at(DropTrailingSlash, "both/index.html"),
            S("both/index.html")
        );
        // A member named exactly is never redirected to a page.
        assert_eq!(at(DropTrailingSlash, "file/"), N);
    }

    #[test]
    fn relative_references() {
        assert_eq!(relative("dir", "dir/"), "./dir/");
        assert_eq!(relative("page/", "page"), "../page");
        assert_eq!(relative("page.html", "page"), "./page");
        assert_eq!(relative("a/dir/index.html", "a/dir/"), "./");
        assert_eq!(relative("a/dir/index", "a/dir"), "../dir");
        assert_eq!(relative("index.html", ""), "./");
        assert_eq!(relative("a/b/c", "x.md"), "../../x.md");
        assert_eq!(relative("a b/?#", "a b/?#.md"), "./%3F%23.md");
        assert_eq!(relative("p", "a:b/"), "./a:b/");
    }
}
