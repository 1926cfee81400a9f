//! The static-file semantics: from a routed request to a response.
//!
//! Order of work for a member: pick the representation (see [`locate`]:
//! identity, a precompressed sibling `NAME.br` / `NAME.zst` / `NAME.gz` sent
//! as it is stored, or the gzip passthrough of a deflated member, as
//! [`super::negotiate`] chooses), compute its validators, evaluate
//! preconditions (304/412), then Range (206/416, several ranges in
//! [`super::multipart`]), always of the identity.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::body::Body;
use super::conditional::{self, Conditions, Outcome, Validators};
use super::multipart;
use super::negotiate::{Accept, Coding};
use super::range::{self, Ranges};
use super::response::{ContentRange, ETag, Response, TEXT_PLAIN};
use super::route::{route, Route, RouteError};
use super::{Param, Params};
use crate::archive::inflate::ZSTD_DECODE_WINDOW_LOG_MAX;
use crate::archive::{Archive, Cache, OpenError};
use crate::content::gzip::gzip_trailer;
use crate::content::mime;
use crate::log;
use crate::logs::{search, view as logview};
use crate::pages::listing::{self, Place};
use crate::pages::status;
use crate::site::lookup::{self, Found};
use crate::site::redirects::{self, Action};
use crate::stats::STATS;
use crate::util::percent;
use crate::zip::format::{METHOD_DEFLATED, METHOD_STORED, METHOD_ZSTD};
use crate::zip::index::{SIBLING_BR, SIBLING_GZ, SIBLING_ZSTD};
use crate::zip::{Entry, Index};

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
        }
    }
}

/// Caches may keep a copy but must revalidate it before each use: a deploy by
/// rename shows at once, and revalidation costs a bodiless 304.
pub const DEFAULT_CACHE_CONTROL: &str = "public, max-age=0, must-revalidate";
pub const IMMUTABLE_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// Everything a request needs: configuration and the shared archive cache.
pub struct Service {
    /// `--docroot`; when `None`, each request's DOCUMENT_ROOT.
    pub docroot: Option<PathBuf>,
    pub cache: Cache,
    cache_control: &'static str,
    immutable_cache_control: Option<&'static str>,
    listing: bool,
    status_path: Option<&'static str>,
    error_pages: bool,
    clean_urls: bool,
}

/// Bytes read to decide whether an extension-less member is text.
const SNIFF_LEN: usize = 512;

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
            cache_control: leak(opts.cache_control),
            immutable_cache_control: opts.immutable_cache_control.map(leak),
            listing: opts.listing,
            status_path: opts.status_path.map(leak),
            error_pages: opts.error_pages,
            clean_urls: opts.clean_urls,
        }
    }

    /// Answers one request.
    pub fn respond<P: Params + ?Sized>(&self, req: &P) -> Response {
        let resp = self.answer(req);
        STATS.response(resp.status);
        resp
    }

    fn answer<P: Params + ?Sized>(&self, req: &P) -> Response {
        let head = match req.param(Param::RequestMethod).unwrap_or(b"GET") {
            b"GET" => false,
            b"HEAD" => true,
            _ => {
                return Response {
                    allow: Some("GET, HEAD"),
                    ..Response::error(405)
                }
            }
        };
        let resp = match self.status_path {
            Some(path) if request_path_is(req, path) => status::page(&self.cache, query(req)),
            _ => self.get(req, head),
        };
        if head {
            resp.without_body()
        } else {
            resp
        }
    }

    fn get<P: Params + ?Sized>(&self, req: &P, head: bool) -> Response {
        let route = match route(req, self.docroot.as_deref()) {
            Ok(r) => r,
            Err(RouteError::BadPath(why)) => {
                log::info(format_args!("rejected request path: {why}"));
                return Response::error(400);
            }
            Err(RouteError::NoArchive) => return Response::error(404),
            Err(RouteError::NoDocroot) => {
                log::error(format_args!(
                    "no docroot: pass --docroot or have the web server send DOCUMENT_ROOT"
                ));
                return Response::error(500);
            }
        };
        let archive = match self.cache.get(route.docroot, Path::new(route.archive())) {
            Ok(a) => a,
            Err(OpenError::NotFound) => return Response::error(404),
            Err(OpenError::Broken(_)) => return Response::error(500),
            Err(OpenError::Unavailable(_)) => return Response::error(503),
        };
        if route.is_bare_archive() {
            return redirect(segment_location(route.mount_name()), req);
        }
        let cache_control = match self.immutable_cache_control {
            Some(cc) if is_content_addressed(route.archive_name()) => cc,
            _ => self.cache_control,
        };
        let ctx = Ctx {
            archive: &archive,
            route: &route,
            cache_control,
            head,
        };
        self.member(&ctx, req)
    }

    fn member<P: Params + ?Sized>(&self, ctx: &Ctx<'_>, req: &P) -> Response {
        let path = ctx.route.member();
        let rules = &crate::site::rules(ctx.archive).redirects;
        if !rules.is_empty() {
            if let Some(action) = rules.apply(path, true) {
                return self.follow(ctx, req, action);
            }
        }
        match lookup::find(ctx.archive.index(), path, self.clean_urls, true) {
            // `?view`: the log view (checked without allocating).
            Found::Member(name, entry) if logview::wanted(query(req)) => logview::page(
                ctx.archive,
                &name,
                entry,
                query(req).unwrap_or_default(),
                ctx.cache_control,
                ctx.head,
            ),
            Found::Member(name, entry) => member_response(ctx, &name, entry, req),
            Found::AddSlash => {
                let last = path.rsplit('/').next().unwrap_or(path);
                redirect(segment_location(last), req)
            }
            Found::Listing => self.listing(ctx, path, req),
            Found::Nothing => match rules.apply(path, false) {
                Some(action) => self.follow(ctx, req, action),
                None => self.error_page(ctx, req, 404),
            },
        }
    }

    /// Carries out the one `_redirects` rule a request matched.
    fn follow<P: Params + ?Sized>(&self, ctx: &Ctx<'_>, req: &P, action: Action) -> Response {
        let q = query(req).map(String::from_utf8_lossy);
        match action {
            Action::Redirect { status, to } => {
                let location = if to.starts_with('/') {
                    redirects::relative_location(ctx.route.member(), &to, q.as_deref())
                } else {
                    redirects::absolute_location(&to, q.as_deref())
                };
                Response {
                    status,
                    location: Some(location),
                    ..Response::error(status)
                }
            }
            // A rewrite is looked up once more, without rules or redirects.
            Action::Rewrite(target) => {
                match lookup::find(ctx.archive.index(), &target, self.clean_urls, false) {
                    Found::Member(name, entry) => member_response(ctx, &name, entry, req),
                    Found::Listing => self.listing(ctx, &target, req),
                    Found::AddSlash | Found::Nothing => self.error_page(ctx, req, 404),
                }
            }
        }
    }

    /// `status` (404 or 403) with the site's nearest `404.html` / `403.html`
    /// when there is one that can be served, else the short built-in page.
    /// The page goes out as any member would (the coding negotiated, zero
    /// copy where it can), but without its validators, so a cache never
    /// mistakes the error for the page. Never a 5xx: a page that is too big,
    /// encrypted, broken or not acceptable gives the built-in page.
    fn error_page<P: Params + ?Sized>(&self, ctx: &Ctx<'_>, req: &P, status: u16) -> Response {
        if !self.error_pages {
            return Response::error(status);
        }
        let Some((name, entry)) =
            lookup::error_page(ctx.archive.index(), ctx.route.member(), status)
        else {
            return Response::error(status);
        };
        if entry.size() > lookup::MAX_ERROR_PAGE || entry.is_encrypted() {
            return Response::error(status);
        }
        let Ok(page) = locate(ctx, &name, entry, req, false) else {
            return Response::error(status);
        };
        let resp = Response {
            content_type: Some(mime::for_name(&name).unwrap_or(Cow::Borrowed(TEXT_PLAIN))),
            cache_control: Some("no-cache"),
            vary: page.varies.then_some("Accept-Encoding"),
            ..Response::new(status)
        };
        with_body(ctx.archive, &page, Ranges::Whole, resp)
    }

    fn listing<P: Params + ?Sized>(&self, ctx: &Ctx<'_>, dir: &str, req: &P) -> Response {
        let Some(children) = ctx.archive.index().children(dir.as_bytes()) else {
            return self.error_page(ctx, req, 404);
        };
        if !self.listing {
            return self.error_page(ctx, req, 403);
        }
        if search::wanted(query(req)) {
            let title = format!("/{}/{dir}", ctx.route.mount());
            let q = query(req).unwrap_or_default();
            return search::page(ctx.archive, &title, dir, q, ctx.cache_control, ctx.head);
        }
        let place = Place {
            archive: ctx.route.mount(),
            dir,
        };
        let archive_mtime = ctx.archive.mtime();
        let mtime_of = |t: i64| {
            let cap = archive_mtime
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            t.min(cap)
        };
        let (body, content_type) = if wants_json(req) {
            (
                listing::json(&place, &children, mtime_of),
                "application/json; charset=utf-8",
            )
        } else {
            (
                listing::html_with(
                    &place,
                    &children,
                    mtime_of,
                    &listing::Extras::new(ctx.archive.index(), dir, query(req)),
                ),
                "text/html; charset=utf-8",
            )
        };
        Response {
            content_type: Some(Cow::Borrowed(content_type)),
            content_length: Some(body.len() as u64),
            cache_control: Some(ctx.cache_control),
            vary: Some("Accept"),
            body: if ctx.head {
                Body::Empty
            } else {
                Body::Owned(body.into_bytes())
            },
            ..Response::new(200)
        }
    }
}

/// What the member functions share.
struct Ctx<'a> {
    archive: &'a Arc<Archive>,
    route: &'a Route<'a>,
    cache_control: &'static str,
    head: bool,
}

/// The representation chosen for a member.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Repr {
    /// Stored: the mapped bytes are the body.
    Stored,
    /// Deflated, sent as gzip without recompression.
    Gzip,
    /// Deflated (or zstd, method 93), decoded on the way out.
    Inflated,
    /// Mapped bytes sent as they are in this coding: a stored sibling's, or
    /// a method-93 member's zstd frame.
    Coded(Coding),
}

/// A member about to be answered: where its bytes are and how they go out.
struct Member<'a> {
    /// The member asked for (NAME): type, Last-Modified and identity come from it.
    entry: &'a Entry,
    repr: Repr,
    /// The raw data in the mapping of what is sent: NAME's (possibly
    /// compressed) data, or the sibling's.
    offset: u64,
    raw_len: u64,
    /// The entity tag of the representation.
    tag: ETag,
    /// Whether another `Accept-Encoding` could get another representation.
    varies: bool,
}

fn member_response<P: Params + ?Sized>(
    ctx: &Ctx<'_>,
    name: &str,
    entry: &Entry,
    req: &P,
) -> Response {
    // Range is defined for GET only (RFC 9110 §14.2); HEAD answers as a plain GET would.
    let range_header = req
        .param(Param::HttpRange)
        .filter(|h| !h.is_empty() && !ctx.head);
    let member = match locate(ctx, name, entry, req, range_header.is_some()) {
        Ok(m) => m,
        // The identity refused and no coding the client takes: another
        // Accept-Encoding would get an answer.
        Err(406) => {
            return Response {
                vary: Some("Accept-Encoding"),
                ..Response::error(406)
            }
        }
        Err(status) => return Response::error(status),
    };
    let etag = member.tag;
    // Formatted only when a precondition compares it: the common request needs no allocation.
    let if_range = req.param(Param::HttpIfRange);
    let conditions = Conditions {
        if_match: req.param(Param::HttpIfMatch),
        if_none_match: req.param(Param::HttpIfNoneMatch),
        if_modified_since: req.param(Param::HttpIfModifiedSince),
        if_unmodified_since: req.param(Param::HttpIfUnmodifiedSince),
    };
    let compares_tags =
        conditions.if_match.is_some() || conditions.if_none_match.is_some() || if_range.is_some();
    let etag_text = if compares_tags {
        etag.to_string()
    } else {
        String::new()
    };
    let validators = Validators {
        etag: &etag_text,
        last_modified: ctx.archive.member_mtime(entry),
    };
    let base = Response {
        last_modified: Some(validators.last_modified),
        etag: Some(etag),
        cache_control: Some(ctx.cache_control),
        vary: member.varies.then_some("Accept-Encoding"),
        ..Response::new(200)
    };
    match conditional::evaluate(&conditions, &validators) {
        Outcome::Proceed => {}
        Outcome::NotModified => {
            return Response {
                status: 304,
                ..base
            }
        }
        Outcome::Failed => {
            return Response {
                cache_control: None,
                vary: None,
                ..Response::error(412)
            }
        }
    }
    let ranges = match range_header {
        Some(h) if if_range.is_none_or(|v| conditional::if_range_holds(v, &validators)) => {
            range::resolve(h, entry.size())
        }
        _ => Ranges::Whole,
    };
    let content_type = match mime::for_name(name) {
        Some(ct) => ct,
        None => sniff(ctx.archive, &member),
    };
    with_body(
        ctx.archive,
        &member,
        ranges,
        Response {
            content_type: Some(content_type),
            accept_ranges: true,
            ..base
        },
    )
}

/// Chooses how `entry` goes out and finds its data; the error status if it cannot.
fn locate<'a, P: Params + ?Sized>(
    ctx: &Ctx<'_>,
    name: &'a str,
    entry: &'a Entry,
    req: &P,
    ranged: bool,
) -> Result<Member<'a>, u16> {
    if entry.is_encrypted() {
        log::warn(format_args!(
            "{}: member {name:?} is encrypted; not served",
            ctx.route.archive()
        ));
        return Err(501);
    }
    let accept = Accept::parse(req.param(Param::HttpAcceptEncoding));
    let siblings = entry.siblings();
    let deflated = entry.method() == METHOD_DEFLATED;
    // A zstd member: passed through when its window is one every client
    // must accept (RFC 9659), decoded when the window is one we decode.
    let zstd_window = match entry.method() {
        METHOD_ZSTD => zstd_window(ctx.archive, entry),
        _ => None,
    };
    let zstd_member = zstd_window.is_some();
    let decodable = zstd_window.is_some_and(|w| w <= 1 << ZSTD_DECODE_WINDOW_LOG_MAX);
    if entry.method() != METHOD_STORED && !deflated && !zstd_member {
        log::warn(format_args!(
            "{}: member {name:?} uses compression method {}, which wwz does not serve",
            ctx.route.archive(),
            entry.method()
        ));
        return Err(501);
    }
    let has = |c: Coding| match c {
        Coding::Br => siblings & SIBLING_BR != 0,
        Coding::Zstd => {
            siblings & SIBLING_ZSTD != 0 || zstd_window.is_some_and(|w| w <= ZSTD_PASS_WINDOW)
        }
        Coding::Gzip => siblings & SIBLING_GZ != 0 || deflated,
    };
    // A Range names bytes of the identity: codings only for whole bodies
    // (or when the client refuses the identity).
    let choice = if ranged && accept.identity_ok() {
        None
    } else {
        accept.choose(has)
    };
    let varies = siblings != 0 || deflated || zstd_member;
    let identity_tag = ETag {
        crc32: entry.crc32(),
        size: entry.size(),
        mtime: entry.mtime(),
        coding: None,
    };
    let (repr, data_of) = match choice {
        None if !accept.identity_ok() => return Err(406),
        None if deflated || decodable => (Repr::Inflated, entry),
        None if zstd_member => {
            log::warn(format_args!(
                "{}: member {name:?}: its zstd window is larger than wwz decodes ({} MiB)",
                ctx.route.archive(),
                (1u64 << ZSTD_DECODE_WINDOW_LOG_MAX) >> 20
            ));
            return Err(501);
        }
        None => (Repr::Stored, entry),
        Some(Coding::Gzip) if siblings & SIBLING_GZ == 0 => (Repr::Gzip, entry),
        Some(Coding::Zstd) if siblings & SIBLING_ZSTD == 0 => (Repr::Coded(Coding::Zstd), entry),
        Some(c) => match sibling(ctx.archive.index(), name, c) {
            Some(s) => (Repr::Coded(c), s),
            None => return Err(500),
        },
    };
    let tag = match repr {
        Repr::Stored | Repr::Inflated => identity_tag,
        Repr::Gzip => ETag {
            coding: Some(Coding::Gzip),
            ..identity_tag
        },
        // The member's own zstd frame.
        Repr::Coded(c) if std::ptr::eq(data_of, entry) => ETag {
            coding: Some(c),
            ..identity_tag
        },
        // The sibling's own content, NAME's time, the coding.
        Repr::Coded(c) => ETag {
            crc32: data_of.crc32(),
            size: data_of.size(),
            mtime: entry.mtime(),
            coding: Some(c),
        },
    };
    match ctx.archive.raw_data(data_of) {
        Ok((offset, raw_len)) => Ok(Member {
            entry,
            repr,
            offset,
            raw_len,
            tag,
            varies,
        }),
        Err(e) => {
            log::error(format_args!(
                "{}: member {name:?}: {e}",
                ctx.route.archive()
            ));
            Err(500)
        }
    }
}

/// The largest zstd window passed through as `Content-Encoding: zstd`: 8 MiB,
/// what RFC 9659 requires every client to accept.
const ZSTD_PASS_WINDOW: u64 = 8 << 20;

/// The window a method-93 member's (first) zstd frame asks for, read with
/// `pread` from its frame header (RFC 8878 §3.1.1.1); `None` if the data
/// does not start with a zstd frame header.
fn zstd_window(archive: &Archive, entry: &Entry) -> Option<u64> {
    use std::os::unix::fs::FileExt;
    let (offset, raw_len) = archive.raw_data(entry).ok()?;
    let mut head = [0u8; 18];
    let n = usize::try_from(raw_len)
        .unwrap_or(head.len())
        .min(head.len());
    let head = head.get_mut(..n)?;
    archive.file().read_exact_at(head, offset).ok()?;
    crate::zip::format::zstd_frame_window(head)
}

/// The stored sibling of `name` in `coding` (`NAME.br`, …), looked up
/// without allocating for names of usual length.
fn sibling<'a>(index: &'a Index, name: &str, coding: Coding) -> Option<&'a Entry> {
    let (name, suffix) = (name.as_bytes(), coding.suffix());
    let len = name.len() + suffix.len();
    let mut buf = [0u8; 512];
    let found = match buf.get_mut(..len) {
        Some(key) => {
            let (head, tail) = key.split_at_mut(name.len());
            head.copy_from_slice(name);
            tail.copy_from_slice(suffix);
            index.get(key)
        }
        None => index.get(&[name, suffix].concat()),
    };
    found.filter(|e| e.is_sibling() && e.method() == METHOD_STORED)
}

/// Completes `resp` (validators and type set) with the body `ranges` ask for.
fn with_body(archive: &Arc<Archive>, m: &Member<'_>, ranges: Ranges, resp: Response) -> Response {
    let size = m.entry.size();
    match (m.repr, ranges) {
        // A sibling (or a zstd member) goes out whole, zero-copy, as it is stored.
        (Repr::Coded(c), _) => Response {
            content_length: Some(m.raw_len),
            content_encoding: Some(c.token()),
            body: Body::Mapped {
                archive: Arc::clone(archive),
                offset: m.offset,
                len: m.raw_len,
            },
            ..resp
        },
        (Repr::Gzip, _) => {
            let body = Body::Gzip {
                archive: Arc::clone(archive),
                offset: m.offset,
                len: m.raw_len,
                trailer: gzip_trailer(m.entry.crc32(), size),
            };
            Response {
                content_length: Some(body.len()),
                content_encoding: Some("gzip"),
                body,
                ..resp
            }
        }
        (_, Ranges::Unsatisfiable) => Response {
            content_range: Some(ContentRange::Unsatisfied { total: size }),
            ..Response::error(416)
        },
        (_, Ranges::Some(list)) if list.len() == 1 => {
            let r = list.first().cloned().unwrap_or(0..size);
            Response {
                status: 206,
                content_length: Some(r.end - r.start),
                content_range: Some(ContentRange::Bytes {
                    first: r.start,
                    last: r.end - 1,
                    total: size,
                }),
                body: identity_body(archive, m, r.start, r.end - r.start),
                ..resp
            }
        }
        (Repr::Stored, Ranges::Some(list)) => {
            let part_type = resp.content_type.as_deref().unwrap_or(TEXT_PLAIN);
            let (body, content_type) =
                multipart::byteranges(archive, m.offset, size, m.entry.crc32(), &list, part_type);
            Response {
                status: 206,
                content_type: Some(Cow::Owned(content_type)),
                content_length: Some(body.len()),
                body,
                ..resp
            }
        }
        // Several ranges of a deflated member would mean inflating it once per
        // range; the whole body with 200 is the allowed alternative.
        (_, Ranges::Whole | Ranges::Some(_)) => Response {
            content_length: Some(size),
            body: identity_body(archive, m, 0, size),
            ..resp
        },
    }
}

/// The body for `len` bytes of the identity representation starting at `start`.
fn identity_body(archive: &Arc<Archive>, m: &Member<'_>, start: u64, len: u64) -> Body {
    match m.repr {
        Repr::Stored => Body::Mapped {
            archive: Arc::clone(archive),
            offset: m.offset + start,
            len,
        },
        // (A coded representation is always sent whole: never here.)
        Repr::Gzip | Repr::Inflated | Repr::Coded(_) => Body::Inflate {
            archive: Arc::clone(archive),
            method: m.entry.method(),
            offset: m.offset,
            compressed_len: m.raw_len,
            size: m.entry.size(),
            skip: start,
            take: len,
        },
    }
}

/// Content-Type of an extension-less member from its first bytes, read with
/// `pread` (or inflated) rather than from the mapping.
fn sniff(archive: &Arc<Archive>, m: &Member<'_>) -> Cow<'static, str> {
    match archive.read_member(m.entry, SNIFF_LEN) {
        Ok(head) if mime::looks_like_text(&head) => Cow::Borrowed(TEXT_PLAIN),
        _ => Cow::Borrowed("application/octet-stream"),
    }
}

/// Whether the request's path (before any query, as the client sent it) is `path`.
fn request_path_is<P: Params + ?Sized>(req: &P, path: &str) -> bool {
    if let Some(uri) = req.param(Param::RequestUri) {
        let end = uri.iter().position(|&b| b == b'?').unwrap_or(uri.len());
        return uri.get(..end) == Some(path.as_bytes());
    }
    if let Some(uri) = req.param(Param::DocumentUri) {
        return uri == path.as_bytes();
    }
    let script = req.param(Param::ScriptName).unwrap_or_default();
    let info = req.param(Param::PathInfo).unwrap_or_default();
    path.as_bytes().strip_prefix(script) == Some(info)
}

/// The query string: QUERY_STRING, or what follows `?` in REQUEST_URI when a server omits it.
fn query<P: Params + ?Sized>(req: &P) -> Option<&[u8]> {
    req.param(Param::QueryString).or_else(|| {
        let uri = req.param(Param::RequestUri)?;
        let at = uri.iter().position(|&b| b == b'?')?;
        let q = uri.get(at + 1..)?;
        Some(q.split(|&b| b == b'#').next().unwrap_or(q))
    })
}

fn wants_json<P: Params + ?Sized>(req: &P) -> bool {
    let query_json =
        query(req).is_some_and(|q| q.split(|&b| b == b'&').any(|kv| kv == b"format=json"));
    let accept_json = req.param(Param::HttpAccept).is_some_and(|a| {
        let a = String::from_utf8_lossy(a);
        a.split(',')
            .next()
            .is_some_and(|first| first.trim().starts_with("application/json"))
    });
    query_json || accept_json
}

/// `name-<hex>.wwz` or `name.<hex>.wwz` with at least 8 hex digits.
fn is_content_addressed(archive_name: &str) -> bool {
    let stem = archive_name.strip_suffix(".wwz").unwrap_or(archive_name);
    let Some((_, hash)) = stem.rsplit_once(['-', '.']) else {
        return false;
    };
    hash.len() >= 8 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A 301 to a relative reference, which resolves against the request URL
/// whatever prefix the web server mounted us under; the query is kept.
fn redirect<P: Params + ?Sized>(mut location: String, req: &P) -> Response {
    if let Some(q) = query(req).filter(|q| !q.is_empty()) {
        location.push('?');
        location.push_str(&String::from_utf8_lossy(q));
    }
    let body = "Moved Permanently\n";
    Response {
        content_type: Some(Cow::Borrowed(TEXT_PLAIN)),
        content_length: Some(body.len() as u64),
        location: Some(location),
        body: Body::Static(body),
        ..Response::new(301)
    }
}

/// `./segment/`: a directory's relative reference, for a redirect.
fn segment_location(segment: &str) -> String {
    let mut out = percent::segment(segment, percent::Context::Header);
    out.push('/');
    out
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
