//! From request parameters to (docroot, archive, member).
//!
//! Web servers disagree on SCRIPT_NAME, SCRIPT_FILENAME and PATH_INFO, so the
//! router derives everything from one decoded URL path:
//!
//! 1. SCRIPT_FILENAME + PATH_INFO, when the server already split at a `.wwz`
//!    file inside the docroot (mod_fcgid, lighttpd, nginx with
//!    `fastcgi_split_path_info`, HAProxy `path-info`, Caddy `split`); both
//!    are decoded already.
//! 2. Else REQUEST_URI without its query, percent-decoded exactly once (nginx
//!    without a split, mod_proxy_fcgi, Caddy without `split`, CGI).
//! 3. Else DOCUMENT_URI, then SCRIPT_NAME + PATH_INFO (decoded already).
//!
//! The path is then checked (UTF-8, no NUL, backslash or control bytes, no
//! `..` segment), `//` and `/./` are folded, and it is split after the first
//! segment ending in `.wwz`. The cache confines the archive to the docroot
//! again after resolving symlinks.
//!
//! A whole site at a host's root (or under a prefix) names its archive
//! instead, with the parameter `WWZ_ARCHIVE` (a path below the docroot, set
//! with `fastcgi_param` or `SetEnv`). Where that site is mounted, first that
//! applies:
//!
//! 1. `WWZ_PREFIX`, when sent (even empty, for the root): the URL path less
//!    the prefix is the member path.
//! 2. A standard CGI mount: the server split the URL into SCRIPT_NAME (the
//!    mount, `/docs`) and PATH_INFO (the member path, decoded already; empty
//!    for `/docs` itself, or `/` where the URL ends at SCRIPT_NAME, as
//!    mod_proxy_fcgi sends it). Taken only when PATH_INFO is sent, SCRIPT_NAME
//!    is not empty, and the decoded REQUEST_URI (when sent) is SCRIPT_NAME
//!    followed by nothing or by `/…`, bare on both sides or on neither.
//!    Otherwise the split is not one of the URL: nginx's stock parameters
//!    put the whole path in SCRIPT_NAME with no PATH_INFO, a rewrite to a
//!    `.fcgi` program names the program, a rewrite names another path.
//!    Without PATH_INFO the bare `/docs` (Apache's ScriptAlias, lighttpd)
//!    cannot be told from nginx's stock parameters: their recipes redirect
//!    it to `/docs/` themselves. lighttpd's `/` prefix splits every URL after
//!    its first segment, which reads as a mount: its recipe for a site at the
//!    root sends an empty `WWZ_PREFIX`.
//! 3. Else the host's root: the whole URL path is the member path.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::request::Target;
mod path;

use path::{concat, fold, normalise, percent_decode, trim_trailing_slashes};

/// Why a request has no archive to go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteError {
    /// The path is malformed or hostile (400).
    BadPath(&'static str),
    /// The path names no `.wwz` archive (404).
    NoArchive,
    /// Neither `--docroot` nor DOCUMENT_ROOT gives a docroot (500: a configuration fault).
    NoDocroot,
}

impl std::fmt::Display for RouteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteError::BadPath(why) => write!(f, "rejected request path: {why}"),
            RouteError::NoArchive => f.write_str("the path names no .wwz archive"),
            RouteError::NoDocroot => {
                f.write_str("no docroot: pass --docroot or have the web server send DOCUMENT_ROOT")
            }
        }
    }
}

impl std::error::Error for RouteError {}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route<'a> {
    pub docroot: &'a Path,
    /// The normalised path: `/` + archive path [+ `/` + member path].
    path: Cow<'a, str>,
    /// End of the archive part of `path`.
    archive_end: usize,
    /// Where the archive's root is in the URL, when that is not the
    /// archive's own path (a site at a host's root or under a prefix).
    mount: Option<String>,
}

impl<'a> Route<'a> {
    /// The archive, relative to the docroot: `jobs/1234.wwz`.
    pub fn archive(&self) -> &str {
        self.path.get(1..self.archive_end).unwrap_or_default()
    }

    /// The member path inside the archive, `""` for the archive root; a
    /// directory request keeps its trailing `/`.
    pub fn member(&self) -> &str {
        let rest = self.path.get(self.archive_end..).unwrap_or_default();
        rest.strip_prefix('/').unwrap_or(rest)
    }

    /// Whether the URL named the archive's root without a trailing slash
    /// (`/site.wwz`, or `/docs` for a site mounted there).
    pub fn is_bare_archive(&self) -> bool {
        self.path.len() == self.archive_end
    }

    /// The last segment of the archive path.
    pub fn archive_name(&self) -> &str {
        let a = self.archive();
        a.rsplit('/').next().unwrap_or(a)
    }

    /// The URL path (without slashes at either end) where the archive's root
    /// is: the archive's own path, or the mount of a site named by
    /// `WWZ_ARCHIVE` (empty at a host's root). Links and redirects are built
    /// from it, so the archive's file name shows only when the URL has it.
    pub fn mount(&self) -> &str {
        self.mount.as_deref().unwrap_or_else(|| self.archive())
    }

    /// The last segment of [`Route::mount`] (for the redirect of a bare root).
    pub fn mount_name(&self) -> &str {
        let m = self.mount();
        m.rsplit('/').next().unwrap_or(m)
    }
}

pub(crate) const ARCHIVE_SUFFIX: &str = ".wwz";

/// Routes a request; `docroot` is `--docroot` when given.
pub fn route<'a>(params: &Target<'a>, docroot: Option<&'a Path>) -> Result<Route<'a>, RouteError> {
    let docroot = match docroot {
        Some(d) => d,
        None => params
            .document_root
            .filter(|d| d.first() == Some(&b'/'))
            .map(|d| Path::new(OsStr::from_bytes(d)))
            .ok_or(RouteError::NoDocroot)?,
    };
    if let Some(archive) = params.archive.filter(|a| !a.is_empty()) {
        return named(params, docroot, archive);
    }
    let (raw, split_by_server) = url_path(params, docroot)?;
    let (path, archive_end) = normalise(raw)?;
    let mount = if split_by_server {
        hidden_mount(params, &path, archive_end)
    } else {
        None
    };
    Ok(Route {
        docroot,
        path,
        archive_end,
        mount,
    })
}

/// A route for the archive `WWZ_ARCHIVE` names, mounted where `WWZ_PREFIX`,
/// else the server's split, else the host's root says.
fn named<'a>(
    params: &Target<'a>,
    docroot: &'a Path,
    archive: &[u8],
) -> Result<Route<'a>, RouteError> {
    let archive = std::str::from_utf8(archive.strip_prefix(b"/").unwrap_or(archive))
        .map_err(|_| RouteError::BadPath("WWZ_ARCHIVE is not UTF-8"))?;
    let (archive_path, archive_end) = normalise(Cow::Owned(format!("/{archive}").into_bytes()))?;
    if archive_end != archive_path.len() {
        return Err(RouteError::BadPath("WWZ_ARCHIVE must name a .wwz file"));
    }
    let (mount, member) = match standard_mount(params)? {
        Some(split) => split,
        None => prefixed(params)?,
    };
    let mut path = archive_path.into_owned();
    path.push_str(&member);
    Ok(Route {
        docroot,
        path: Cow::Owned(path),
        archive_end,
        mount: Some(mount.trim_matches('/').to_owned()),
    })
}

/// Where a named archive's root is in the URL, and the member path (`""`
/// for the bare mount), both decoded.
type Mounted<'a> = (Cow<'a, str>, Cow<'a, str>);

/// The mount and member path of a site whose URL path is the member path,
/// less `WWZ_PREFIX` when set; the member is `""` for the bare prefix.
fn prefixed<'a>(params: &Target<'a>) -> Result<Mounted<'a>, RouteError> {
    let url = url_str(request_url(params)?)?;
    let prefix = params
        .prefix
        .map(|p| std::str::from_utf8(p).map_err(|_| RouteError::BadPath("WWZ_PREFIX is not UTF-8")))
        .transpose()?
        .unwrap_or("")
        .trim_end_matches('/');
    // The prefix ends at a segment boundary: /docs covers /docs and /docs/x, not /docsx.
    let member = match url.strip_prefix(prefix) {
        Some("") => Cow::Borrowed(""),
        Some(rest) if rest.starts_with('/') => fold(Cow::Owned(rest.as_bytes().to_vec()))?,
        _ => return Err(RouteError::NoArchive),
    };
    Ok((Cow::Borrowed(prefix), member))
}

/// The mount (SCRIPT_NAME) and member path (PATH_INFO, `""` for the bare
/// mount) when the server split the URL the standard CGI way and that split
/// is one of the URL the client asked for; `None` to route as before.
fn standard_mount<'a>(params: &Target<'a>) -> Result<Option<Mounted<'a>>, RouteError> {
    if params.prefix.is_some() {
        return Ok(None);
    }
    let (Some(script), Some(info)) = (params.script_name, params.path_info) else {
        return Ok(None);
    };
    if script.is_empty() || !(info.is_empty() || info.starts_with(b"/")) {
        return Ok(None);
    }
    // A SCRIPT_NAME that is no clean path is no mount: route as before.
    let Ok(script) = fold(Cow::Borrowed(script)) else {
        return Ok(None);
    };
    let mount = match &script {
        Cow::Borrowed(s) => Cow::Borrowed(s.trim_end_matches('/')),
        Cow::Owned(s) => Cow::Owned(s.trim_end_matches('/').to_owned()),
    };
    if mount.is_empty() {
        return Ok(None);
    }
    // mod_proxy_fcgi sends PATH_INFO=/ for /docs itself: only the URL tells
    // the bare mount from /docs/ there.
    let mut bare = info.is_empty();
    if let Some(uri) = params.request_uri {
        let url = fold(percent_decode(uri_path(uri))?)?;
        let rest = match url.strip_prefix(&*mount) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
            _ => return Ok(None),
        };
        let url_bare = rest.is_empty();
        if url_bare && info == b"/" {
            bare = true;
        }
        if url_bare != bare {
            return Ok(None);
        }
    }
    let member = if bare {
        Cow::Borrowed("")
    } else {
        fold(Cow::Borrowed(info))?
    };
    Ok(Some((mount, member)))
}

fn url_str(url: Cow<'_, [u8]>) -> Result<Cow<'_, str>, RouteError> {
    match url {
        Cow::Borrowed(b) => std::str::from_utf8(b)
            .map(Cow::Borrowed)
            .map_err(|_| RouteError::BadPath("not UTF-8")),
        Cow::Owned(v) => String::from_utf8(v)
            .map(Cow::Owned)
            .map_err(|_| RouteError::BadPath("not UTF-8")),
    }
}

/// REQUEST_URI without its query or fragment.
fn uri_path(uri: &[u8]) -> &[u8] {
    let end = uri
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(uri.len());
    uri.get(..end).unwrap_or_default()
}

/// The decoded URL path the client asked for, whatever split the server made.
fn request_url<'a>(params: &Target<'a>) -> Result<Cow<'a, [u8]>, RouteError> {
    if let Some(uri) = params.request_uri {
        return percent_decode(uri_path(uri));
    }
    if let Some(uri) = params.document_uri {
        return Ok(Cow::Borrowed(uri));
    }
    let script_name = params.script_name.unwrap_or_default();
    let path_info = params.path_info.unwrap_or_default();
    if script_name.is_empty() && path_info.is_empty() {
        return Err(RouteError::BadPath("no request path"));
    }
    Ok(concat(script_name, path_info))
}

/// When the server named the archive in SCRIPT_FILENAME but the URL does
/// not carry it (nginx with `SCRIPT_FILENAME /srv/www/site.wwz` and
/// `PATH_INFO $uri`): where the archive's root is in the URL.
fn hidden_mount(params: &Target<'_>, path: &str, archive_end: usize) -> Option<String> {
    let uri = params.request_uri?;
    let archive = path.get(..archive_end)?;
    let url = percent_decode(uri_path(uri)).ok()?;
    let shown = url
        .strip_prefix(archive.as_bytes())
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(b"/"));
    if shown {
        return None;
    }
    let member = path.get(archive_end..).unwrap_or_default();
    let mount = url.strip_suffix(member.as_bytes()).unwrap_or(&url);
    let mount = String::from_utf8_lossy(mount);
    Some(mount.trim_matches('/').to_owned())
}

/// The decoded URL path below the docroot, from whichever parameters the
/// server sent, and whether the server split it at the archive (SCRIPT_FILENAME).
fn url_path<'a>(params: &Target<'a>, docroot: &Path) -> Result<(Cow<'a, [u8]>, bool), RouteError> {
    if let Some(script) = params.script_filename {
        let root = trim_trailing_slashes(docroot.as_os_str().as_bytes());
        if let Some(rest) = script.strip_prefix(root) {
            if rest.starts_with(b"/") && rest.ends_with(ARCHIVE_SUFFIX.as_bytes()) {
                let path_info = params.path_info.unwrap_or_default();
                return Ok((concat(rest, path_info), true));
            }
        }
    }
    Ok((request_url(params)?, false))
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;
    use crate::http::{Params, Request};

    const ROOT: &str = "/srv/www";

    /// Routes `params` as the service does: parsed into a request first.
    fn route<'a, P: Params + ?Sized>(
        params: &'a P,
        docroot: Option<&'a Path>,
    ) -> Result<Route<'a>, RouteError> {
        super::route(&Request::parse(params).target, docroot)
    }

    fn uri(u: &str) -> Result<(String, String), RouteError> {
        let params = [("DOCUMENT_ROOT", ROOT), ("REQUEST_URI", u)];
        route(&params, None).map(|r| (r.archive().to_owned(), r.member().to_owned()))
    }

    fn ok(a: &str, m: &str) -> Result<(String, String), RouteError> {
        Ok((a.to_owned(), m.to_owned()))
    }

    fn named(params: &[(&str, &str)]) -> Result<(String, String, String), RouteError> {
        route(params, Some(Path::new(ROOT))).map(|r| {
            (
                r.archive().to_owned(),
                r.member().to_owned(),
                r.mount().to_owned(),
            )
        })
    }

    #[test]
    fn an_archive_named_by_wwz_archive_serves_the_whole_url() {
        let at_root = |u| named(&[("WWZ_ARCHIVE", "sites/docs.wwz"), ("REQUEST_URI", u)]);
        let ok3 = |a: &str, m: &str, mnt: &str| Ok((a.to_owned(), m.to_owned(), mnt.to_owned()));
        assert_eq!(at_root("/"), ok3("sites/docs.wwz", "", ""));
        assert_eq!(at_root("/about?x=1"), ok3("sites/docs.wwz", "about", ""));
        assert_eq!(
            at_root("/a%20b/c.html"),
            ok3("sites/docs.wwz", "a b/c.html", "")
        );
        assert_eq!(at_root("//x/./y/"), ok3("sites/docs.wwz", "x/y/", ""));
        assert_eq!(at_root("/x.wwz/y"), ok3("sites/docs.wwz", "x.wwz/y", ""));
        assert!(matches!(
            at_root("/../etc/passwd"),
            Err(RouteError::BadPath(_))
        ));
        let prefixed = |u| {
            named(&[
                ("WWZ_ARCHIVE", "/docs.wwz"),
                ("WWZ_PREFIX", "/docs/"),
                ("REQUEST_URI", u),
            ])
        };
        assert_eq!(prefixed("/docs/"), ok3("docs.wwz", "", "docs"));
        assert_eq!(prefixed("/docs/a/b"), ok3("docs.wwz", "a/b", "docs"));
        assert_eq!(prefixed("/docs"), ok3("docs.wwz", "", "docs"));
        assert_eq!(prefixed("/docsx/a"), Err(RouteError::NoArchive));
        assert_eq!(prefixed("/other"), Err(RouteError::NoArchive));
        let bare = route(
            &[
                ("WWZ_ARCHIVE", "docs.wwz"),
                ("WWZ_PREFIX", "/a/docs"),
                ("REQUEST_URI", "/a/docs"),
            ],
            Some(Path::new(ROOT)),
        )
        .unwrap();
        assert!(bare.is_bare_archive());
        assert_eq!(bare.mount_name(), "docs");
        for bad in ["", "x.zip", "../x.wwz", "a/../x.wwz", "x.wwz/inner"] {
            let r = named(&[("WWZ_ARCHIVE", bad), ("REQUEST_URI", "/")]);
            if bad.is_empty() {
                assert_eq!(
                    r,
                    Err(RouteError::NoArchive),
                    "empty WWZ_ARCHIVE is ignored"
                );
            } else {
                assert!(r.is_err(), "{bad:?} accepted: {r:?}");
            }
        }
    }

    #[test]
    fn an_archive_in_script_filename_but_not_in_the_url_has_a_hidden_mount() {
        let r = named(&[
            ("SCRIPT_FILENAME", "/srv/www/site.wwz"),
            ("PATH_INFO", "/guide/x.html"),
            ("REQUEST_URI", "/guide/x.html"),
        ]);
        assert_eq!(r, Ok(("site.wwz".into(), "guide/x.html".into(), "".into())));
        let r = named(&[
            ("SCRIPT_FILENAME", "/srv/www/site.wwz"),
            ("PATH_INFO", "/x.html"),
            ("REQUEST_URI", "/docs/x.html"),
        ]);
        assert_eq!(r, Ok(("site.wwz".into(), "x.html".into(), "docs".into())));
        // mod_fcgid: the archive is in the URL; the mount is the archive's path.
        let r = named(&[
            ("SCRIPT_FILENAME", "/srv/www/jobs/1.wwz"),
            ("PATH_INFO", "/logs/a.txt"),
            ("REQUEST_URI", "/jobs/1.wwz/logs/a.txt"),
        ]);
        assert_eq!(
            r,
            Ok((
                "jobs/1.wwz".into(),
                "logs/a.txt".into(),
                "jobs/1.wwz".into()
            ))
        );
    }

    /// What `named` routes to: (archive, member, mount, bare).
    fn mounted(params: &[(&str, &str)]) -> Result<(String, String, String, bool), RouteError> {
        route(params, Some(Path::new(ROOT))).map(|r| {
            (
                r.archive().to_owned(),
                r.member().to_owned(),
                r.mount().to_owned(),
                r.is_bare_archive(),
            )
        })
    }

    fn at(member: &str, mount: &str) -> Result<(String, String, String, bool), RouteError> {
        Ok(("docs.wwz".into(), member.into(), mount.into(), false))
    }

    fn bare(mount: &str) -> Result<(String, String, String, bool), RouteError> {
        Ok(("docs.wwz".into(), String::new(), mount.into(), true))
    }

    // The parameter sets below are what each server sent for `docs.wwz`
    // mounted at /docs by the recipes in tools/servers/*-mount*.

    #[test]
    fn standard_mount_nginx_split_path_info() {
        // location ~ ^/docs(/|$), fastcgi_split_path_info ^(/docs)(/.*|)$,
        // PATH_INFO $fastcgi_path_info; SCRIPT_NAME from the stock fastcgi_params.
        let nginx = |uri: &str, doc_uri: &str, info: &str| {
            mounted(&[
                ("SCRIPT_NAME", "/docs"),
                ("REQUEST_URI", uri),
                ("DOCUMENT_URI", doc_uri),
                ("DOCUMENT_ROOT", ROOT),
                ("PATH_INFO", info),
                ("WWZ_ARCHIVE", "docs.wwz"),
            ])
        };
        assert_eq!(
            nginx("/docs/a%20b/c?q=1", "/docs/a b/c", "/a b/c"),
            at("a b/c", "docs")
        );
        assert_eq!(nginx("/docs/", "/docs/", "/"), at("", "docs"));
        assert_eq!(nginx("/docs", "/docs", ""), bare("docs"));
        // nginx merges slashes in PATH_INFO, not in REQUEST_URI.
        assert_eq!(nginx("/docs//x/y", "/docs/x/y", "/x/y"), at("x/y", "docs"));
        assert_eq!(nginx("/docs/x%3Fy", "/docs/x?y", "/x?y"), at("x?y", "docs"));
    }

    #[test]
    fn standard_mount_apache() {
        // ScriptAlias /docs /usr/local/lib/wwz-bin/wwz (CGI; mod_fcgid the same).
        let alias = |uri: &str, info: Option<&str>| {
            let mut p = vec![
                ("SCRIPT_NAME", "/docs"),
                ("REQUEST_URI", uri),
                ("SCRIPT_FILENAME", "/usr/local/lib/wwz-bin/wwz"),
                ("DOCUMENT_ROOT", ROOT),
                ("WWZ_ARCHIVE", "docs.wwz"),
            ];
            p.extend(info.map(|i| ("PATH_INFO", i)));
            mounted(&p)
        };
        assert_eq!(
            alias("/docs/a%20b/c?q=1", Some("/a b/c")),
            at("a b/c", "docs")
        );
        assert_eq!(alias("/docs/", Some("/")), at("", "docs"));
        assert_eq!(alias("/docs//x", Some("/x")), at("x", "docs"));
        // For /docs itself Apache sends no PATH_INFO, as nginx's stock
        // parameters do for every path: the whole path (the recipe redirects
        // /docs to /docs/ before wwz sees it).
        assert_eq!(
            alias("/docs", None),
            Ok(("docs.wwz".into(), "docs".into(), "".into(), false))
        );

        // ProxyPass "/docs" "unix:…|fcgi://localhost" + proxy-fcgi-pathinfo=unescape.
        let proxy = |uri: &str, info: &str, filename: &str| {
            mounted(&[
                ("SCRIPT_FILENAME", filename),
                ("REQUEST_URI", uri),
                ("SCRIPT_NAME", "/docs"),
                ("PATH_INFO", info),
                ("DOCUMENT_ROOT", ROOT),
                ("WWZ_ARCHIVE", "docs.wwz"),
            ])
        };
        assert_eq!(
            proxy(
                "/docs/a%20b/c?q=1",
                "/a b/c",
                "proxy:fcgi://localhost/a%20b/c"
            ),
            at("a b/c", "docs")
        );
        assert_eq!(
            proxy("/docs//x", "/x", "proxy:fcgi://localhost/x"),
            at("x", "docs")
        );
        // PATH_INFO is / for both /docs and /docs/; the URL tells them apart.
        assert_eq!(
            proxy("/docs/", "/", "proxy:fcgi://localhost/"),
            at("", "docs")
        );
        assert_eq!(proxy("/docs", "/", "proxy:fcgi://localhost/"), bare("docs"));
        // With a trailing slash on the backend URL, PATH_INFO doubles it.
        assert_eq!(
            proxy(
                "/docs/a%20b/c",
                "//a b/c",
                "proxy:fcgi://localhost//a%20b/c"
            ),
            at("a b/c", "docs")
        );
    }

    #[test]
    fn standard_mount_lighttpd() {
        // $HTTP["url"] =~ "^/docs(/|$)" { fastcgi.server = ( "/docs" => … ) }
        let lighttpd = |uri: &str, info: Option<&str>| {
            let mut p = vec![
                ("REQUEST_URI", uri),
                ("SCRIPT_NAME", "/docs"),
                ("SCRIPT_FILENAME", "/srv/www/docs"),
                ("DOCUMENT_ROOT", ROOT),
                ("WWZ_ARCHIVE", "docs.wwz"),
            ];
            p.extend(info.map(|i| ("PATH_INFO", i)));
            mounted(&p)
        };
        assert_eq!(
            lighttpd("/docs/a%20b/c?q=1", Some("/a b/c")),
            at("a b/c", "docs")
        );
        assert_eq!(lighttpd("/docs/", Some("/")), at("", "docs"));
        // No PATH_INFO for /docs itself (the recipe redirects it).
        assert_eq!(
            lighttpd("/docs", None),
            Ok(("docs.wwz".into(), "docs".into(), "".into(), false))
        );
    }

    #[test]
    fn standard_mount_caddy() {
        // @docs path /docs /docs/*, transport fastcgi { split /docs }.
        let caddy = |uri: &str, info: &str| {
            mounted(&[
                ("DOCUMENT_URI", "/docs"),
                ("SCRIPT_NAME", "/docs"),
                ("PATH_INFO", info),
                ("REQUEST_URI", uri),
                ("SCRIPT_FILENAME", "/srv/www/docs"),
                ("WWZ_ARCHIVE", "docs.wwz"),
            ])
        };
        assert_eq!(caddy("/docs/a%20b/c?q=1", "/a b/c"), at("a b/c", "docs"));
        assert_eq!(caddy("/docs", ""), bare("docs"));
        assert_eq!(caddy("/docs/", "/"), at("", "docs"));
        // Caddy does not fold slashes; wwz does.
        assert_eq!(caddy("/docs//x", "//x"), at("x", "docs"));
    }

    #[test]
    fn sites_at_the_root_are_no_standard_mount() {
        let root = |params: &[(&str, &str)]| {
            let mut p = params.to_vec();
            p.push(("WWZ_ARCHIVE", "docs.wwz"));
            mounted(&p)
        };
        // nginx's stock parameters: SCRIPT_NAME is the whole path, no PATH_INFO.
        assert_eq!(
            root(&[("SCRIPT_NAME", "/guide/x"), ("REQUEST_URI", "/guide/x")]),
            at("guide/x", "")
        );
        // mod_proxy_fcgi without proxy-fcgi-pathinfo: the same.
        assert_eq!(
            root(&[
                ("SCRIPT_FILENAME", "proxy:fcgi://localhost/a%20b"),
                ("SCRIPT_NAME", "/a b"),
                ("REQUEST_URI", "/a%20b")
            ]),
            at("a b", "")
        );
        // Caddy without split: SCRIPT_NAME empty.
        assert_eq!(
            root(&[
                ("SCRIPT_NAME", ""),
                ("PATH_INFO", "/guide/x"),
                ("REQUEST_URI", "/guide/x")
            ]),
            at("guide/x", "")
        );
        // A rewrite to a .fcgi program (apache-site-fcgid.htaccess): SCRIPT_NAME
        // names the program, which the URL does not show.
        assert_eq!(
            root(&[
                ("SCRIPT_NAME", "/wwz.fcgi"),
                ("SCRIPT_FILENAME", "/srv/www/wwz.fcgi"),
                ("REQUEST_URI", "/guide/x")
            ]),
            at("guide/x", "")
        );
        // nginx's stock SCRIPT_NAME with PATH_INFO from a regex capture: not
        // a split of the URL (SCRIPT_NAME is all of it), so the whole path.
        assert_eq!(
            root(&[
                ("SCRIPT_NAME", "/docs/x"),
                ("PATH_INFO", "/x"),
                ("REQUEST_URI", "/docs/x")
            ]),
            at("docs/x", "")
        );
        // A split that is not of the URL asked for (rewritten), or not at a
        // segment boundary: the whole path, as before.
        assert_eq!(
            root(&[
                ("SCRIPT_NAME", "/docs"),
                ("PATH_INFO", "/x"),
                ("REQUEST_URI", "/old/x")
            ]),
            at("old/x", "")
        );
        assert_eq!(
            root(&[
                ("SCRIPT_NAME", "/docs"),
                ("PATH_INFO", "/y"),
                ("REQUEST_URI", "/docsx/y")
            ]),
            at("docsx/y", "")
        );
        // A bare URL with a non-bare PATH_INFO, and the other way round.
        assert_eq!(
            root(&[
                ("SCRIPT_NAME", "/docs"),
                ("PATH_INFO", ""),
                ("REQUEST_URI", "/docs/x")
            ]),
            at("docs/x", "")
        );
        // lighttpd's "/" prefix splits after the first segment: no different
        // from a mount at /guide, which it then is (lighttpd-site.conf sends
        // an empty WWZ_PREFIX).
        assert_eq!(
            root(&[
                ("SCRIPT_NAME", "/guide"),
                ("PATH_INFO", "/x"),
                ("REQUEST_URI", "/guide/x")
            ]),
            at("x", "guide")
        );
    }

    #[test]
    fn wwz_prefix_wins_over_a_standard_mount() {
        let p = |prefix: &str| {
            mounted(&[
                ("WWZ_ARCHIVE", "docs.wwz"),
                ("WWZ_PREFIX", prefix),
                ("SCRIPT_NAME", "/docs"),
                ("PATH_INFO", "/x"),
                ("REQUEST_URI", "/docs/x"),
            ])
        };
        assert_eq!(p("/docs"), at("x", "docs"));
        // Even empty: the site is at the root.
        assert_eq!(p(""), at("docs/x", ""));
    }

    #[test]
    fn standard_mount_checks() {
        let split = |script: &str, info: &str, uri: Option<&str>| {
            let mut p = vec![
                ("WWZ_ARCHIVE", "docs.wwz"),
                ("SCRIPT_NAME", script),
                ("PATH_INFO", info),
            ];
            p.extend(uri.map(|u| ("REQUEST_URI", u)));
            mounted(&p)
        };
        // Without REQUEST_URI the split is all there is.
        assert_eq!(split("/docs", "/a/b", None), at("a/b", "docs"));
        assert_eq!(split("/docs", "", None), bare("docs"));
        assert_eq!(split("/a/docs", "", None), bare("a/docs"));
        let r = route(
            &[
                ("WWZ_ARCHIVE", "docs.wwz"),
                ("SCRIPT_NAME", "/a/my docs"),
                ("PATH_INFO", ""),
                ("REQUEST_URI", "/a/my%20docs"),
            ],
            Some(Path::new(ROOT)),
        )
        .unwrap();
        assert!(r.is_bare_archive());
        assert_eq!(r.mount_name(), "my docs");
        // PATH_INFO is checked like any path.
        for hostile in [
            "/../etc/passwd",
            "/a/../../b",
            "/a\\b",
            "/a\0b",
            "/x\u{1b}[31m",
        ] {
            let r = split("/docs", hostile, Some("/docs/x"));
            assert!(
                matches!(r, Err(RouteError::BadPath(_))),
                "{hostile:?}: {r:?}"
            );
        }
        assert_eq!(split("/docs", "//a/./b//", None), at("a/b/", "docs"));
        // So is the URL, as before.
        assert!(matches!(
            split("/docs", "/b", Some("/docs/a/../b")),
            Err(RouteError::BadPath(_))
        ));
        // A SCRIPT_NAME that is no clean path, or a PATH_INFO that is no
        // path, is no mount.
        assert_eq!(split("docs", "/x", Some("/docs/x")), at("docs/x", ""));
        assert_eq!(split("/docs", "x", Some("/docs/x")), at("docs/x", ""));
        assert_eq!(split("/", "/x", Some("/x")), at("x", ""));
    }

    #[test]
    fn plain_paths() {
        assert_eq!(
            uri("/jobs/1234.wwz/logs/build.txt"),
            ok("jobs/1234.wwz", "logs/build.txt")
        );
        assert_eq!(uri("/site.wwz/"), ok("site.wwz", ""));
        assert_eq!(uri("/site.wwz/docs/"), ok("site.wwz", "docs/"));
        assert_eq!(uri("/site.wwz/a.html?x=1#f"), ok("site.wwz", "a.html"));
        assert_eq!(uri("/a%20b.wwz/c%20d.txt"), ok("a b.wwz", "c d.txt"));
        assert_eq!(uri("/x.wwz/inner.wwz/y"), ok("x.wwz", "inner.wwz/y"));
        assert_eq!(uri("/%E2%9C%93.wwz/%C3%A9"), ok("✓.wwz", "é"));
        let params = [("DOCUMENT_ROOT", ROOT), ("REQUEST_URI", "/site.wwz")];
        let r = route(&params, None).unwrap();
        assert!(r.is_bare_archive());
        assert_eq!(r.archive_name(), "site.wwz");
    }

    #[test]
    fn hostile_paths() {
        let bad = [
            "/../etc/passwd.wwz/x",
            "/x.wwz/../../etc/passwd",
            "/x.wwz/a/../../b",
            "/%2e%2e/etc.wwz/x",
            "/%2E%2E/%2E%2E/etc.wwz/a",
            "/x.wwz/%2e%2e/%2e%2e/y",
            "/a/..%2f..%2fsecret.wwz/x",
            "/x.wwz/..%5c..%5cwin.ini",
            "/x.wwz/a%5cb",
            "/x.wwz\\..\\y",
            "/x.wwz/a%00.txt",
            "/x%00.wwz/a",
            "/x.wwz/%",
            "/x.wwz/%4",
            "/x.wwz/%zz",
            "/x.wwz/%c0%ae%c0%ae/etc",
            "/x.wwz/%ff",
            "/x.wwz/%0a",
            "/x.wwz/%1b[31m",
            "/x.wwz/%7f",
            "x.wwz/relative",
            "*",
            "/..",
            "/x.wwz/..",
            "/x.wwz/%2e%2e",
            "/x.wwz/.%2e/y",
            "/x.wwz/%252e%252e/%00",
            "/x.wwz/a/b/../../../../etc/passwd",
            "/x.wwz/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
            "/x.wwz/..%2f",
            "/x.wwz/%c2%85next-line",
            "/x.wwz/tab%09name",
            "/x.wwz/%e2%80",
            "/x.wwz/\\server\\share",
            "/.wwz/../x",
        ];
        for p in bad {
            assert!(
                matches!(
                    uri(p),
                    Err(RouteError::BadPath(_)) | Err(RouteError::NoArchive)
                ),
                "{p:?} gave {:?}",
                uri(p)
            );
        }
        // Double encoding is decoded once: what remains is a literal name, not a traversal.
        assert_eq!(uri("/x.wwz/%252e%252e/y"), ok("x.wwz", "%2e%2e/y"));
    }

    #[test]
    fn folding_and_non_archives() {
        assert_eq!(uri("//x.wwz//a///b"), ok("x.wwz", "a/b"));
        assert_eq!(uri("/./x.wwz/./a/./b/."), ok("x.wwz", "a/b/"));
        assert_eq!(uri("/x.wwz/."), ok("x.wwz", ""));
        assert_eq!(uri("/"), Err(RouteError::NoArchive));
        assert_eq!(uri("/x.wwz.bak/a"), Err(RouteError::NoArchive));
        assert_eq!(uri("/x.wwz./a"), Err(RouteError::NoArchive));
        assert_eq!(uri("/x.WWZ/a"), Err(RouteError::NoArchive));
        assert_eq!(uri("/index.html"), Err(RouteError::NoArchive));
        assert_eq!(
            uri(&format!("/{}.wwz/a", "d/".repeat(2000))).unwrap().1,
            "a"
        );
    }

    #[test]
    fn server_shapes() {
        // nginx with fastcgi_split_path_info, mod_fcgid, lighttpd: decoded, split at the archive.
        let split = [
            ("DOCUMENT_ROOT", ROOT),
            ("SCRIPT_FILENAME", "/srv/www/jobs/1 2.wwz"),
            ("PATH_INFO", "/logs/a b.txt"),
            ("REQUEST_URI", "/jobs/1%202.wwz/logs/a%20b.txt"),
        ];
        let r = route(&split, None).unwrap();
        assert_eq!((r.archive(), r.member()), ("jobs/1 2.wwz", "logs/a b.txt"));

        // mod_proxy_fcgi: SCRIPT_FILENAME is a proxy URL; REQUEST_URI is what counts.
        let proxy = [
            ("DOCUMENT_ROOT", ROOT),
            (
                "SCRIPT_FILENAME",
                "proxy:fcgi://127.0.0.1:9000/srv/www/x.wwz/a%20b",
            ),
            ("REQUEST_URI", "/x.wwz/a%20b"),
        ];
        let r = route(&proxy, None).unwrap();
        assert_eq!((r.archive(), r.member()), ("x.wwz", "a b"));

        // Caddy without split: SCRIPT_FILENAME is the docroot, PATH_INFO everything.
        let caddy = [
            ("DOCUMENT_ROOT", ROOT),
            ("SCRIPT_FILENAME", ROOT),
            ("SCRIPT_NAME", ""),
            ("PATH_INFO", "/x.wwz/p.html"),
        ];
        let r = route(&caddy, None).unwrap();
        assert_eq!((r.archive(), r.member()), ("x.wwz", "p.html"));

        // CGI through Apache Action: SCRIPT_FILENAME is the program itself.
        let cgi = [
            ("DOCUMENT_ROOT", ROOT),
            ("SCRIPT_FILENAME", "/usr/lib/cgi-bin/wwz"),
            ("PATH_INFO", "/x.wwz/p.html"),
            ("REQUEST_URI", "/x.wwz/p.html"),
        ];
        let r = route(&cgi, None).unwrap();
        assert_eq!((r.archive(), r.member()), ("x.wwz", "p.html"));

        // nginx without split and no REQUEST_URI: DOCUMENT_URI is decoded already.
        let doc_uri = [("DOCUMENT_ROOT", ROOT), ("DOCUMENT_URI", "/x.wwz/100%.txt")];
        let r = route(&doc_uri, None).unwrap();
        assert_eq!(r.member(), "100%.txt");

        // SCRIPT_FILENAME outside the docroot is not trusted for the split.
        let outside = [
            ("DOCUMENT_ROOT", ROOT),
            ("SCRIPT_FILENAME", "/etc/x.wwz"),
            ("PATH_INFO", "/passwd"),
            ("REQUEST_URI", "/y.wwz/z"),
        ];
        let r = route(&outside, None).unwrap();
        assert_eq!((r.archive(), r.member()), ("y.wwz", "z"));

        // A split whose PATH_INFO smuggles a traversal is still refused.
        let smuggle = [
            ("DOCUMENT_ROOT", ROOT),
            ("SCRIPT_FILENAME", "/srv/www/x.wwz"),
            ("PATH_INFO", "/../../etc/passwd"),
        ];
        assert!(matches!(route(&smuggle, None), Err(RouteError::BadPath(_))));
    }

    #[test]
    fn docroot_sources() {
        let none = [("REQUEST_URI", "/x.wwz/a")];
        assert_eq!(route(&none, None), Err(RouteError::NoDocroot));
        let relative = [("DOCUMENT_ROOT", "www"), ("REQUEST_URI", "/x.wwz/a")];
        assert_eq!(route(&relative, None), Err(RouteError::NoDocroot));
        let fixed = Path::new("/data");
        let r = route(&relative, Some(fixed)).unwrap();
        assert_eq!(r.docroot, fixed);
        // A fixed docroot wins over what the server says.
        let other = [("DOCUMENT_ROOT", "/elsewhere"), ("REQUEST_URI", "/x.wwz/a")];
        assert_eq!(route(&other, Some(fixed)).unwrap().docroot, fixed);
    }
}
