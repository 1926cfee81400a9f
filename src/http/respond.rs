//! The static-file semantics: from a routed request to a response.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::mime;
use super::response::{Body, ETag, Response};
use super::route::{route, Route, RouteError};
use super::Params;
use crate::archive::{Archive, Cache, OpenError};
use crate::log;
use crate::zip::format::METHOD_STORED;

/// Everything a request needs: configuration and the shared archive cache.
pub struct Service {
    /// `--docroot`; when `None`, each request's DOCUMENT_ROOT.
    pub docroot: Option<PathBuf>,
    pub cache: Cache,
}

const INDEX: &str = "index.html";

impl Service {
    pub fn new(docroot: Option<PathBuf>, cache: Cache) -> Service {
        Service { docroot, cache }
    }

    /// Answers one request.
    pub fn respond<P: Params + ?Sized>(&self, req: &P) -> Response {
        let head = match req.param("REQUEST_METHOD").unwrap_or(b"GET") {
            b"GET" => false,
            b"HEAD" => true,
            _ => {
                return Response {
                    allow: Some("GET, HEAD"),
                    ..Response::error(405)
                }
            }
        };
        let resp = self.get(req);
        if head {
            resp.without_body()
        } else {
            resp
        }
    }

    fn get<P: Params + ?Sized>(&self, req: &P) -> Response {
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
        };
        if route.is_bare_archive() {
            return redirect(segment_location(route.archive_name()), req);
        }
        member_response(&archive, &route, req)
    }
}

fn member_response<P: Params + ?Sized>(
    archive: &Arc<Archive>,
    route: &Route<'_>,
    req: &P,
) -> Response {
    let index = archive.index();
    let member = route.member();
    let with_index;
    let name = if member.is_empty() || member.ends_with('/') {
        with_index = format!("{member}{INDEX}");
        with_index.as_str()
    } else {
        member
    };
    let Some(entry) = index.get(name.as_bytes()) else {
        if !member.is_empty() && !member.ends_with('/') {
            let dir = format!("{member}/");
            if index.get(dir.as_bytes()).is_some() {
                let last = member.rsplit('/').next().unwrap_or(member);
                return redirect(segment_location(last), req);
            }
        }
        return Response::error(404);
    };
    if entry.is_encrypted() {
        log::warn(format_args!(
            "{}: member {name:?} is encrypted; not served",
            route.archive()
        ));
        return Response::error(501);
    }
    if entry.method() != METHOD_STORED {
        log::warn(format_args!(
            "{}: member {name:?} uses compression method {}; not served yet",
            route.archive(),
            entry.method()
        ));
        return Response::error(501);
    }
    let (offset, len) = match archive.raw_data(entry) {
        Ok(d) => d,
        Err(e) => {
            log::error(format_args!("{}: member {name:?}: {e}", route.archive()));
            return Response::error(500);
        }
    };
    Response {
        content_type: Some(mime::content_type(name)),
        content_length: Some(len),
        last_modified: Some(archive.member_mtime(entry)),
        etag: Some(ETag {
            crc32: entry.crc32(),
            size: entry.size(),
            mtime: entry.mtime(),
        }),
        accept_ranges: true,
        body: Body::Mapped {
            archive: Arc::clone(archive),
            offset,
            len,
        },
        ..Response::new(200)
    }
}

/// A 301 to a relative reference, which resolves against the request URL
/// whatever prefix the web server mounted us under; the query is kept.
fn redirect<P: Params + ?Sized>(mut location: String, req: &P) -> Response {
    if let Some(q) = req.param("QUERY_STRING").filter(|q| !q.is_empty()) {
        location.push('?');
        location.push_str(&String::from_utf8_lossy(q));
    }
    let body = "Moved Permanently\n";
    Response {
        content_type: Some(("text/plain", true)),
        content_length: Some(body.len() as u64),
        location: Some(location),
        body: Body::Static(body),
        ..Response::new(301)
    }
}

/// `./segment/`, percent-encoded, so names with spaces, `?`, `#` or a colon stay one path segment.
fn segment_location(segment: &str) -> String {
    let mut out = String::from("./");
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push('/');
    out
}
