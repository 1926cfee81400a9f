//! Step 7: what answers a path the site resolved. A member is sent (as an
//! attachment with `?download`), or shown as a log (`?view`); a directory
//! is listed, searched (`?q=`) or sent as one zip (`?zip`). Every view is
//! chosen here, once, from the parsed request.

use std::borrow::Cow;

use super::{download, member, Ctx, Service};
use crate::http::body::Body;
use crate::http::request::Format;
use crate::http::{Request, Response, Status};
use crate::logs::{search, view as log_view};
use crate::pages::listing::{self, Place};
use crate::zip::{Child, Entry};

/// What answers a request.
pub(super) enum View<'a> {
    /// The member's bytes, in the representation negotiated.
    Member { name: &'a str, entry: &'a Entry },
    /// `MEMBER?view`: a text member as a numbered, coloured log page.
    Log { name: &'a str, entry: &'a Entry },
    /// A directory without an index page: its listing (HTML or JSON).
    Listing { dir: &'a str },
    /// `DIR/?q=TEXT`: names and contents under a directory searched.
    Search { dir: &'a str },
    /// `DIR/?zip`: every member under a directory in one zip.
    Zip { dir: &'a str },
}

impl<'a> View<'a> {
    pub(super) fn of_member(name: &'a str, entry: &'a Entry, req: &Request<'_>) -> View<'a> {
        // A download is the member's bytes, whatever else the query asks.
        if req.query.view && !req.query.download {
            View::Log { name, entry }
        } else {
            View::Member { name, entry }
        }
    }

    pub(super) fn of_dir(dir: &'a str, req: &Request<'_>) -> View<'a> {
        if req.query.zip {
            View::Zip { dir }
        } else if req.query.search.is_some() {
            View::Search { dir }
        } else {
            View::Listing { dir }
        }
    }
}

impl Service {
    pub(super) fn view(&self, ctx: &Ctx<'_>, view: View<'_>) -> Response {
        match view {
            View::Member { name, entry } => {
                let mut resp = member::respond(ctx, name, entry);
                self.add_site_headers(ctx, &mut resp);
                if ctx.req.query.download {
                    download::attach(&mut resp, download::file_name(name));
                }
                resp
            }
            View::Log { name, entry } => log_view::page(
                ctx.archive,
                name,
                entry,
                &ctx.req.query,
                ctx.cache_control,
                ctx.head,
            ),
            // Over every child of the directory: off the event loop.
            View::Listing { dir } => super::off_loop::run(|| self.listing(ctx, dir, false)),
            View::Search { dir } => super::off_loop::run(|| self.listing(ctx, dir, true)),
            // A pass over every member under the directory: off the event loop.
            View::Zip { dir } => super::off_loop::run(|| self.zip(ctx, dir)),
        }
    }

    /// A directory's listing or search; 404 where it is not a directory,
    /// 403 where listings are off.
    fn listing(&self, ctx: &Ctx<'_>, dir: &str, search: bool) -> Response {
        let Some(mut children) = ctx.archive.index().children(dir.as_bytes()) else {
            return self.error_page(ctx, Status::NotFound);
        };
        // The site's configuration files (at its root) are not content.
        if dir.is_empty() {
            children.retain(|c| !matches!(c, Child::File(name, _) if crate::site::is_config(name)));
        }
        if !self.listing {
            return self.error_page(ctx, Status::Forbidden);
        }
        if search {
            let title = format!("/{}/{dir}", ctx.route.mount());
            return search::page(
                ctx.archive,
                &title,
                dir,
                &ctx.req.query,
                ctx.req.format,
                ctx.cache_control,
                ctx.head,
            );
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
        let (body, content_type) = match ctx.req.format {
            Format::Json => (
                listing::json(&place, &children, mtime_of),
                "application/json; charset=utf-8",
            ),
            Format::Html => (
                listing::html_with(
                    &place,
                    &children,
                    mtime_of,
                    &listing::Extras::new(ctx.archive.index(), dir, &ctx.req.query),
                ),
                "text/html; charset=utf-8",
            ),
        };
        let mut resp = Response {
            content_type: Some(Cow::Borrowed(content_type)),
            content_length: Some(body.len() as u64),
            cache_control: Some(ctx.cache_control),
            vary: Some("Accept"),
            body: if ctx.head {
                Body::Empty
            } else {
                Body::Owned(body.into_bytes())
            },
            ..Response::new(Status::Ok)
        };
        self.add_site_headers(ctx, &mut resp);
        resp
    }
}
