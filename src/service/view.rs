//! Step 7: what answers a path the site resolved. A member is sent, or
//! shown as a log or a test report (`?view`); a directory is listed,
//! searched (`?q=`), its test reports summed (`?tests`) or sent as one
//! zip (`?zip`); `?download` sends a member as an attachment.
//! Every view is chosen here, once, from the parsed request.

use std::borrow::Cow;

use super::{download, member, Ctx, Service};
use crate::content::markdown;
use crate::http::body::Body;
use crate::http::request::Format;
use crate::http::{Request, Response, Status};
use crate::logs::{report, search, view as log_view};
use crate::pages::listing::{self, Place};
use crate::site::policy;
use crate::zip::{Child, Entry};

/// What answers a request.
pub(super) enum View<'a> {
    /// The member's bytes, in the representation negotiated (for a page
    /// with a Markdown twin, the twin when `Accept` prefers Markdown).
    Member { name: &'a str, entry: &'a Entry },
    /// `MEMBER?view`: a text member as a numbered, coloured log page.
    Log { name: &'a str, entry: &'a Entry },
    /// `MEMBER.xml?view`: a test report's page if it is one, else as `Log`.
    Report { name: &'a str, entry: &'a Entry },
    /// A directory without an index page: its listing (HTML or JSON).
    Listing { dir: &'a str },
    /// `DIR/?q=TEXT`: names and contents under a directory searched.
    Search { dir: &'a str },
    /// `DIR/?tests`: the test reports under a directory, summed.
    Tests { dir: &'a str },
    /// `DIR/?zip`: every member under a directory in one zip.
    Zip { dir: &'a str },
}

impl<'a> View<'a> {
    pub(super) fn of_member(name: &'a str, entry: &'a Entry, req: &Request<'_>) -> View<'a> {
        // A download is the member's bytes, whatever else the query asks.
        let view = req.query.view && !req.query.download;
        if view && report::is_xml(name) {
            View::Report { name, entry }
        } else if view {
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
        } else if req.query.tests {
            View::Tests { dir }
        } else {
            View::Listing { dir }
        }
    }
}

/// `Vary` of a page that has a Markdown twin: `Accept` chooses between them.
const VARY_TWIN: &str = "Accept, Accept-Encoding";

/// A page with a Markdown twin: the twin when `Accept` prefers Markdown,
/// else the page with a `Link` to the twin. Both are members answered as
/// any other (codings, ranges, validators), so each has its own ETag and
/// revalidates on its own; both say that `Accept` chose them.
fn page(ctx: &Ctx<'_>, name: &str, entry: &Entry) -> Response {
    let Some(twin) = markdown::twin_of(name) else {
        return member::respond(ctx, name, entry);
    };
    let markdown = ctx
        .req
        .markdown
        .then(|| ctx.archive.index().get(twin.as_bytes()))
        .flatten();
    let mut resp = match markdown {
        Some(twin_entry) => member::respond(ctx, &twin, twin_entry),
        None => {
            let mut resp = member::respond(ctx, name, entry);
            if matches!(
                resp.status,
                Status::Ok | Status::PartialContent | Status::NotModified
            ) {
                // Relative to the URL asked, whatever the prefix or the URL policy.
                let link = format!(
                    "<{}>; rel=\"alternate\"; type=\"text/markdown\"",
                    policy::relative(ctx.route.member(), &twin)
                );
                resp.extra.push((Cow::Borrowed("Link"), Cow::Owned(link)));
            }
            resp
        }
    };
    if matches!(
        resp.status,
        Status::Ok | Status::PartialContent | Status::NotModified | Status::NotAcceptable
    ) {
        resp.vary = Some(VARY_TWIN);
    }
    resp
}

impl Service {
    pub(super) fn view(&self, ctx: &Ctx<'_>, view: View<'_>) -> Response {
        match view {
            View::Member { name, entry } => {
                let mut resp = if entry.has_markdown_twin() {
                    page(ctx, name, entry)
                } else {
                    member::respond(ctx, name, entry)
                };
                self.add_site_headers(ctx, &mut resp);
                self.add_sandbox(&mut resp);
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
            // Reading the member (a sniff, then perhaps all of it): off the event loop.
            View::Report { name, entry } => super::off_loop::run(|| {
                if report::is_report(ctx.archive, name, entry) {
                    let format = ctx.req.format;
                    report::page(
                        ctx.archive,
                        name,
                        entry,
                        format,
                        ctx.cache_control,
                        ctx.head,
                    )
                } else {
                    self.view(ctx, View::Log { name, entry })
                }
            }),
            // Over every child of the directory: off the event loop.
            View::Listing { dir } => super::off_loop::run(|| self.listing(ctx, dir, false)),
            View::Search { dir } => super::off_loop::run(|| self.listing(ctx, dir, true)),
            View::Tests { dir } => super::off_loop::run(|| self.tests(ctx, dir)),
            // A pass over every member under the directory: off the event loop.
            View::Zip { dir } => super::off_loop::run(|| self.zip(ctx, dir)),
        }
    }

    /// `DIR/?tests`; 404 where it is not a directory, 403 where listings
    /// are off (it shows what members hold, as a search does).
    fn tests(&self, ctx: &Ctx<'_>, dir: &str) -> Response {
        if ctx.archive.index().children(dir.as_bytes()).is_none() {
            return self.error_page(ctx, Status::NotFound);
        }
        if !self.listing {
            return self.error_page(ctx, Status::Forbidden);
        }
        let title = format!("/{}/{dir}", ctx.route.mount());
        let format = ctx.req.format;
        report::tests_page(
            ctx.archive,
            &title,
            dir,
            format,
            ctx.cache_control,
            ctx.head,
        )
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
                    &listing::Extras::new(ctx.archive.index(), dir, &ctx.req.query)
                        .with_reports(&children, |name, entry| {
                            report::is_report(ctx.archive, name, entry)
                        }),
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
