//! The pipeline every request walks, from a front's parameters to a
//! [`Response`]. Read it top to bottom; each step is one file here or a
//! module of its own:
//!
//! 1. **Request**: parsed once ([`Request::parse`]): method, target, query,
//!    conditions, `Range`, `Accept-Encoding`, `Accept` (JSON, Markdown).
//! 2. **Method**: GET and HEAD; OPTIONS is 204 with `Allow` (a CORS
//!    preflight goes on to step 12); anything else is 405.
//! 3. **Status page**: `--status-path` answers before any archive is opened.
//! 4. **Route** ([`crate::http::route`]): docroot, archive and member path;
//!    a hostile path is 400.
//! 5. **Archive** ([`Cache`]): opened, mapped, indexed, revalidated against renames.
//! 6. **Site** ([`site`]): `_redirects` rules that apply before lookup; the
//!    member, index page, clean URL or directory the path names, or the
//!    redirect the URL policy makes ([`crate::site::lookup`],
//!    [`crate::site::policy`]); rules that apply after it; the site's own
//!    error pages.
//! 7. **View** ([`view`]): what answers: the member (a page's Markdown twin
//!    when `Accept` prefers it; an attachment with `?download`), its log
//!    view or test report, a listing, a search, a directory's test reports,
//!    or a directory's zip (`?zip`, [`download`]: local headers of ours and
//!    each member's stored bytes from the mapping, its own validators, Range
//!    and body).
//! 8. **Representation** ([`representation`]): identity, a precompressed
//!    sibling, gzip passthrough or decoded on the way out, and its ETag.
//! 9. **Preconditions** ([`member`]): 304 and 412 in RFC 9110 §13.2.2's order.
//! 10. **Range** ([`member`]): 206, 416, several ranges as multipart.
//! 11. **Body** ([`member`]): what the front sends: mapped bytes (zero copy),
//!     gzip framing around mapped bytes, or a decoding stream; for a
//!     directory's zip ([`download`]), batches of headers of ours and members'
//!     stored bytes from the mapping, a bounded step at a time.
//! 12. **Headers** ([`headers`]): what the site's `_headers` adds to what it
//!     serves, and the operator's `--header` to every response; a CORS
//!     preflight (OPTIONS with `Origin`) is answered from them after step 5.

mod download;
mod headers;
mod member;
mod off_loop;
mod representation;
mod site;
mod view;

use std::path::{Path, PathBuf};

use std::sync::Arc;

use crate::archive::s3::{self, StorageError, Store};
use crate::archive::{Archive, Cache, OpenError};
use crate::http::request::Method;
use crate::http::route::{route, Route, RouteError};
use crate::http::{Params, Request, Response, Status};
use crate::log;
use crate::pages::status;
pub use crate::site::policy::HtmlHandling;
use crate::site::policy::Policy;
use crate::stats::STATS;

/// How responses are shaped; from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// `Cache-Control` on members and listings.
    pub cache_control: String,
    /// `Cache-Control` for archives whose names carry a content hash
    /// (`name-<hex>.wwz` or `name.<hex>.wwz`, 8+ hex digits); `None` treats them like the rest.
    pub immutable_cache_control: Option<String>,
    /// Directory listings when a directory has no index.html.
    pub listing: bool,
    /// The request path that answers the status page instead of a member.
    pub status_path: Option<String>,
    /// A 404 or 403 serves the archive's nearest `404.html` / `403.html`.
    pub error_pages: bool,
    /// `PATH` finds `PATH.html` when `PATH` is not a member.
    pub clean_urls: bool,
    /// `--header`: added to every response (a site's `_headers` may replace one).
    pub headers: Vec<(String, String)>,
    /// `--sandbox`: members a browser would run scripts in get [`SANDBOX`].
    pub sandbox: bool,
    /// The URL policy: where pages answer and where their other URLs redirect.
    pub html_handling: HtmlHandling,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            cache_control: DEFAULT_CACHE_CONTROL.into(),
            immutable_cache_control: None,
            listing: true,
            status_path: None,
            error_pages: true,
            clean_urls: true,
            headers: Vec::new(),
            sandbox: false,
            html_handling: HtmlHandling::default(),
        }
    }
}

/// Caches may keep a copy but must revalidate it before each use: a deploy by
/// rename shows at once, and revalidation costs a bodiless 304.
pub const DEFAULT_CACHE_CONTROL: &str = "public, max-age=0, must-revalidate";
pub const IMMUTABLE_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// `--sandbox`: an archive member runs as a page of no origin (no cookies,
/// no storage, no access to other archives under the host) and without
/// scripts, forms or popups; its own styles, images and fonts still load,
/// so an HTML report still looks as it should. As Jenkins' default for
/// archived artifacts, with inline styles allowed (most reports use them).
pub const SANDBOX: &str = "sandbox; default-src 'none'; img-src 'self' data:; \
                           style-src 'self' 'unsafe-inline'; font-src 'self' data:; media-src 'self'";

/// The methods every resource allows: reading, and asking what it allows.
const ALLOW: &str = "GET, HEAD, OPTIONS";

/// Everything a request needs: configuration and the shared archive cache.
pub struct Service {
    /// `--docroot`; when `None`, each request's DOCUMENT_ROOT.
    pub docroot: Option<PathBuf>,
    pub cache: Cache,
    /// `--docroot s3://…`: archives are objects in this bucket.
    store: Option<Arc<Store>>,
    cache_control: &'static str,
    immutable_cache_control: Option<&'static str>,
    listing: bool,
    status_path: Option<&'static str>,
    error_pages: bool,
    headers: &'static [(String, String)],
    sandbox: bool,
    policy: Policy,
}

/// What the steps after routing share about one request.
struct Ctx<'a> {
    req: &'a Request<'a>,
    archive: &'a std::sync::Arc<crate::archive::Archive>,
    route: &'a Route<'a>,
    cache_control: &'static str,
    head: bool,
}

impl Service {
    pub fn new(docroot: Option<PathBuf>, cache: Cache) -> Service {
        Service::with_options(docroot, cache, Options::default())
    }

    pub fn with_options(docroot: Option<PathBuf>, cache: Cache, opts: Options) -> Service {
        // Configuration lives as long as the process; leaking makes headers borrow it for free.
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        Service {
            docroot,
            cache,
            store: None,
            cache_control: leak(opts.cache_control),
            immutable_cache_control: opts.immutable_cache_control.map(leak),
            listing: opts.listing,
            status_path: opts.status_path.map(leak),
            error_pages: opts.error_pages,
            headers: Box::leak(opts.headers.into_boxed_slice()),
            sandbox: opts.sandbox,
            policy: Policy {
                mode: opts.html_handling,
                clean_urls: opts.clean_urls,
            },
        }
    }

    /// Serves archives from object storage (`--docroot s3://…`) instead of files.
    pub fn with_store(self, store: Arc<Store>) -> Service {
        Service {
            store: Some(store),
            ..self
        }
    }

    /// The bucket archives are read from, if any.
    pub fn store(&self) -> Option<&Arc<Store>> {
        self.store.as_ref()
    }

    /// Answers one request (step 1: the request is parsed here, once).
    pub fn respond<P: Params + ?Sized>(&self, params: &P) -> Response {
        let req = Request::parse(params);
        let mut resp = self.answer(&req);
        if !self.headers.is_empty() {
            self.add_operator_headers(&req, &mut resp);
        }
        STATS.response(resp.status.code());
        if req.is_head() {
            resp.without_body()
        } else {
            resp
        }
    }

    /// Steps 2 and 3: the method, the status page.
    fn answer(&self, req: &Request<'_>) -> Response {
        match req.method {
            Method::Get | Method::Head => {}
            Method::Options if req.is_preflight() => return self.get(req),
            Method::Options => {
                return Response {
                    allow: Some(ALLOW),
                    ..Response::new(Status::NoContent)
                }
            }
            Method::Other => {
                return Response {
                    allow: Some(ALLOW),
                    ..Response::error(Status::MethodNotAllowed)
                }
            }
        }
        match self.status_path {
            Some(path) if req.target.path_is(path) => {
                status::page(&self.cache, req.format, &req.query)
            }
            _ => self.get(req),
        }
    }

    /// Steps 4 and 5: the route, the archive; then the site.
    fn get(&self, req: &Request<'_>) -> Response {
        let route = match route(&req.target, self.docroot.as_deref()) {
            Ok(r) => r,
            Err(e @ RouteError::BadPath(_)) => {
                log::info!("{e}");
                return Response::error(Status::BadRequest);
            }
            Err(RouteError::NoArchive) => return Response::error(Status::NotFound),
            Err(e @ RouteError::NoDocroot) => {
                log::error!("{e}");
                return Response::error(Status::InternalServerError);
            }
        };
        let archive = match self.open(&route) {
            Ok(a) => a,
            Err(status) => return Response::error(status),
        };
        let resp = self.with_archive(req, &route, &archive);
        // Storage said the object was replaced while this request read it,
        // before any header went out: answer from the new version instead.
        if archive.object().is_some_and(s3::Object::replaced) {
            drop(resp);
            return match self.open(&route) {
                Ok(archive) => self.with_archive(req, &route, &archive),
                Err(status) => Response::error(status),
            };
        }
        resp
    }

    /// Step 5: the archive the route names, from the docroot or the bucket.
    fn open(&self, route: &Route<'_>) -> Result<Arc<Archive>, Status> {
        let opened = match &self.store {
            Some(store) => store.get(route.archive()),
            None => self.cache.get(route.docroot, Path::new(route.archive())),
        };
        opened.map_err(|e| match e {
            OpenError::NotFound => Status::NotFound,
            OpenError::Broken(_) => Status::InternalServerError,
            OpenError::Unavailable(_) => Status::ServiceUnavailable,
            OpenError::Storage(e) => storage_status(&e),
        })
    }

    /// Steps 6 on, with the archive open.
    fn with_archive(
        &self,
        req: &Request<'_>,
        route: &Route<'_>,
        archive: &Arc<Archive>,
    ) -> Response {
        if route.is_bare_archive() {
            return site::redirect(site::segment_location(route.mount_name()), req);
        }
        let cache_control = match self.immutable_cache_control {
            Some(cc) if is_content_addressed(route.archive_name()) => cc,
            _ => self.cache_control,
        };
        let ctx = Ctx {
            req,
            archive,
            route,
            cache_control,
            head: req.is_head(),
        };
        if req.is_preflight() {
            return self.preflight(&ctx, ALLOW);
        }
        self.site(&ctx)
    }
}

/// The status for a failure of object storage: never a 404.
pub(crate) fn storage_status(e: &StorageError) -> Status {
    match e.failure() {
        s3::Failure::BadGateway => Status::BadGateway,
        s3::Failure::Unavailable => Status::ServiceUnavailable,
        s3::Failure::Timeout => Status::GatewayTimeout,
    }
}

/// `name-<hex>.wwz` or `name.<hex>.wwz` with at least 8 hex digits.
fn is_content_addressed(archive_name: &str) -> bool {
    let stem = archive_name.strip_suffix(".wwz").unwrap_or(archive_name);
    let Some((_, hash)) = stem.rsplit_once(['-', '.']) else {
        return false;
    };
    hash.len() >= 8 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_addressed_names() {
        assert!(is_content_addressed("site-3f2a9c1b.wwz"));
        assert!(is_content_addressed("app.0123456789abcdef.wwz"));
        assert!(!is_content_addressed("site.wwz"));
        assert!(!is_content_addressed("site-2024.wwz"));
        assert!(!is_content_addressed("build-1234567g.wwz"));
    }
}
