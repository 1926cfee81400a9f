//! Step 6: what the site says about a path: its `_redirects` rules, the
//! member, index page, clean URL or directory the path names, and the site's
//! own error pages. These only change *which* member answers (or redirect);
//! the member then goes out as any other.

use std::borrow::Cow;

use super::view::View;
use super::{representation, Ctx, Service};
use crate::content::mime;
use crate::http::body::Body;
use crate::http::range::Ranges;
use crate::http::response::TEXT_PLAIN;
use crate::http::{Request, Response, Status};
use crate::site::lookup::{self, Found};
use crate::site::redirects::{self, RuleAction};
use crate::util::percent;

impl Service {
    /// The rules that apply before lookup, the lookup, then the rules that
    /// apply after it, and the error page when nothing answers.
    pub(super) fn site(&self, ctx: &Ctx<'_>) -> Response {
        let path = ctx.route.member();
        let rules = &crate::site::rules(ctx.archive).redirects;
        if !rules.is_empty() {
            if let Some(action) = rules.apply(path, true) {
                return self.follow(ctx, action);
            }
        }
        // A directory's zip, whether or not an index page would answer it.
        if ctx.req.query.zip && (path.is_empty() || path.ends_with('/')) {
            return self.view(ctx, View::Zip { dir: path });
        }
        match self.find(ctx, path) {
            Found::Member(name, entry) => self.view(ctx, View::of_member(&name, entry, ctx.req)),
            Found::Redirect(location) => redirect(location, ctx.req),
            Found::Listing(dir) => self.view(ctx, View::of_dir(&dir, ctx.req)),
            Found::Nothing => match rules.apply(path, false) {
                Some(action) => self.follow(ctx, action),
                None => self.error_page(ctx, Status::NotFound),
            },
        }
    }

    /// The lookup. A member named exactly is the hot path and answers here;
    /// anything else may ask the index a directory question, whose first
    /// sorts every name, so it runs off the event loop.
    fn find<'a>(&self, ctx: &'a Ctx<'_>, path: &'a str) -> Found<'a> {
        let index = ctx.archive.index();
        if let Some(found) = lookup::exact(index, path, self.policy) {
            return found;
        }
        super::off_loop::run(|| lookup::find(index, path, self.policy, true))
    }

    /// Carries out the one `_redirects` rule a request matched.
    fn follow(&self, ctx: &Ctx<'_>, action: RuleAction) -> Response {
        let q = ctx.req.query_to_keep();
        match action {
            RuleAction::Redirect { status, to } => {
                let location = if to.starts_with('/') {
                    redirects::relative_location(ctx.route.member(), &to, q)
                } else {
                    redirects::absolute_location(&to, q)
                };
                Response {
                    location: Some(location),
                    ..Response::error(status)
                }
            }
            // A rewrite is looked up once more, without rules or redirects.
            RuleAction::Rewrite(target) => {
                match lookup::find(ctx.archive.index(), &target, self.policy, false) {
                    Found::Member(name, entry) => {
                        self.view(ctx, View::Member { name: &name, entry })
                    }
                    Found::Listing(dir) => self.view(ctx, View::of_dir(&dir, ctx.req)),
                    Found::Redirect(_) | Found::Nothing => self.error_page(ctx, Status::NotFound),
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
    pub(super) fn error_page(&self, ctx: &Ctx<'_>, status: Status) -> Response {
        let mut resp = self.site_error_page(ctx, status);
        // The headers of the URL asked for, not of the page that answers;
        // but never its caching: a year meant for an asset must not pin a 404.
        self.add_site_headers(ctx, &mut resp);
        resp.extra
            .retain(|(name, _)| !name.eq_ignore_ascii_case("Cache-Control"));
        self.add_sandbox(&mut resp);
        resp
    }

    fn site_error_page(&self, ctx: &Ctx<'_>, status: Status) -> Response {
        if !self.error_pages {
            return Response::error(status);
        }
        let Some((name, entry)) =
            lookup::error_page(ctx.archive.index(), ctx.route.member(), status.code())
        else {
            return Response::error(status);
        };
        if entry.size() > lookup::MAX_ERROR_PAGE || entry.is_encrypted() {
            return Response::error(status);
        }
        let Ok(page) = representation::choose(ctx, &name, entry, false) else {
            return Response::error(status);
        };
        let resp = Response {
            content_type: Some(mime::for_name(&name).unwrap_or(Cow::Borrowed(TEXT_PLAIN))),
            cache_control: Some("no-cache"),
            vary: page.varies.then_some("Accept-Encoding"),
            ..Response::new(status)
        };
        super::member::with_body(ctx.archive, &page, Ranges::Whole, resp)
    }
}

/// A 301 to a relative reference, which resolves against the request URL
/// whatever prefix the web server mounted us under; the query is kept, with
/// what may not stand in a URL (a raw CR or LF, a space) percent-encoded.
pub(super) fn redirect(mut location: String, req: &Request<'_>) -> Response {
    if let Some(q) = req.query_to_keep() {
        location.push('?');
        percent::encode_into(&mut location, q, percent::Keep::Url);
    }
    let body = "Moved Permanently\n";
    Response {
        content_type: Some(Cow::Borrowed(TEXT_PLAIN)),
        content_length: Some(body.len() as u64),
        location: Some(location),
        body: Body::Static(body),
        ..Response::new(Status::MovedPermanently)
    }
}

/// `./segment/`: a directory's relative reference, for a redirect.
pub(super) fn segment_location(segment: &str) -> String {
    let mut out = percent::segment(segment, percent::Context::Header);
    out.push('/');
    out
}
