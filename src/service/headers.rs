//! Step 12: the headers a site's `_headers` and the operator's `--header`
//! add, and the CORS preflight they answer.
//!
//! The site's headers go on what the site serves (members, index pages,
//! listings, its error pages, 304s of them), never on wwz's own log, search
//! and status pages; the operator's go on every response, unless the site
//! set the same header. `Access-Control-Allow-Origin` may list several
//! origins: the response then names the request's `Origin` when it is one of
//! them (and none otherwise), with `Vary: Origin`.

use std::borrow::Cow;

use super::{Ctx, Service};
use crate::http::request::Request;
use crate::http::{Response, Status};

const ALLOW_ORIGIN: &str = "Access-Control-Allow-Origin";
const ALLOW_METHODS: &str = "Access-Control-Allow-Methods";
const ALLOW_HEADERS: &str = "Access-Control-Allow-Headers";
const MAX_AGE: &str = "Access-Control-Max-Age";
const ALLOW_CREDENTIALS: &str = "Access-Control-Allow-Credentials";

/// How long a browser may keep a preflight's answer when the site does not
/// say (browsers cap it: Chromium at 2 hours, Firefox at 24).
const DEFAULT_MAX_AGE: &str = "7200";

/// A header's name and value, from the site or the operator.
pub(super) type Header = (Cow<'static, str>, Cow<'static, str>);

impl Service {
    /// The site's `_headers` for the path asked for, added to `resp`.
    pub(super) fn add_site_headers(&self, ctx: &Ctx<'_>, resp: &mut Response) {
        for (name, value) in site_headers(ctx) {
            add(resp, name, value, ctx.req.origin);
        }
    }

    /// The sandbox policy on a member a browser would run scripts in, with
    /// `--sandbox`. Sent as a header of its own, after the site's: a second
    /// policy only narrows what the first allows, so `_headers` cannot lift it.
    pub(super) fn add_sandbox(&self, resp: &mut Response) {
        let active = resp
            .content_type
            .as_deref()
            .is_some_and(crate::content::mime::is_active);
        if self.sandbox && active {
            resp.extra.push((
                Cow::Borrowed("Content-Security-Policy"),
                Cow::Borrowed(super::SANDBOX),
            ));
        }
    }

    /// The operator's `--header`s, where the site did not set the same one.
    pub(super) fn add_operator_headers(&self, req: &Request<'_>, resp: &mut Response) {
        for (name, value) in self.headers {
            if !resp.extra.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                add(
                    resp,
                    Cow::Borrowed(name.as_str()),
                    Cow::Borrowed(value.as_str()),
                    req.origin,
                );
            }
        }
    }

    /// A CORS preflight for a path: 204, with the `Access-Control-*`
    /// headers when the site (or operator) grants the request's origin
    /// access to that path, and without them (the browser then refuses the
    /// request) when it does not.
    pub(super) fn preflight(&self, ctx: &Ctx<'_>, allow: &'static str) -> Response {
        let mut granted: Vec<Header> = site_headers(ctx);
        for (name, value) in self.headers {
            if !granted.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                granted.push((Cow::Borrowed(name), Cow::Borrowed(value)));
            }
        }
        let mut resp = Response {
            allow: Some(allow),
            ..Response::new(Status::NoContent)
        };
        let get = |name: &str| {
            granted
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let Some(origins) = get(ALLOW_ORIGIN) else {
            return resp;
        };
        add(
            &mut resp,
            Cow::Borrowed(ALLOW_ORIGIN),
            origins,
            ctx.req.origin,
        );
        if !resp.extra.iter().any(|(n, _)| n == ALLOW_ORIGIN) {
            return resp;
        }
        let methods = get(ALLOW_METHODS).unwrap_or(Cow::Borrowed(allow));
        resp.add_header(Cow::Borrowed(ALLOW_METHODS), methods);
        match (get(ALLOW_HEADERS), ctx.req.cors_headers) {
            // `*` is no wildcard for requests with credentials: echoing the
            // names asked for allows them in both cases.
            (Some(h), Some(asked)) if h.trim() == "*" => {
                resp.add_header(Cow::Borrowed(ALLOW_HEADERS), Cow::Owned(asked.to_owned()));
                resp.add_vary("Access-Control-Request-Headers");
            }
            (Some(h), _) => resp.add_header(Cow::Borrowed(ALLOW_HEADERS), h),
            (None, _) => {}
        }
        if let Some(c) = get(ALLOW_CREDENTIALS) {
            resp.add_header(Cow::Borrowed(ALLOW_CREDENTIALS), c);
        }
        let max_age = get(MAX_AGE).unwrap_or(Cow::Borrowed(DEFAULT_MAX_AGE));
        resp.add_header(Cow::Borrowed(MAX_AGE), max_age);
        resp
    }
}

/// What the site's `_headers` says for the path asked for.
fn site_headers(ctx: &Ctx<'_>) -> Vec<Header> {
    let rules = &crate::site::rules(ctx.archive).headers;
    if rules.is_empty() {
        return Vec::new();
    }
    let path = format!("/{}", ctx.route.member());
    rules
        .for_request(ctx.req.host, &path)
        .into_iter()
        .map(|(n, v)| (Cow::Owned(n), Cow::Owned(v)))
        .collect()
}

/// Adds one header, resolving a list of allowed origins against `origin`.
fn add(
    resp: &mut Response,
    name: Cow<'static, str>,
    value: Cow<'static, str>,
    origin: Option<&str>,
) {
    if name.eq_ignore_ascii_case(ALLOW_ORIGIN) && value.contains(',') {
        // The answer now depends on the request's Origin.
        resp.add_vary("Origin");
        let listed = origin.filter(|o| value.split(',').any(|v| v.trim() == *o));
        if let Some(o) = listed {
            resp.add_header(Cow::Borrowed(ALLOW_ORIGIN), Cow::Owned(o.to_owned()));
        }
        return;
    }
    resp.add_header(name, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_origins_names_the_one_that_asked() {
        let list = "https://a.example, https://b.example";
        let mut r = Response::new(Status::Ok);
        add(
            &mut r,
            ALLOW_ORIGIN.into(),
            list.into(),
            Some("https://b.example"),
        );
        let names: Vec<_> = r.extra.iter().map(|(n, v)| format!("{n}: {v}")).collect();
        assert_eq!(
            names,
            [
                "Vary: Origin",
                "Access-Control-Allow-Origin: https://b.example"
            ]
        );
        let mut r = Response::new(Status::Ok);
        add(
            &mut r,
            ALLOW_ORIGIN.into(),
            list.into(),
            Some("https://c.example"),
        );
        assert_eq!(r.extra.len(), 1, "{:?}", r.extra);
        let mut r = Response::new(Status::Ok);
        add(&mut r, ALLOW_ORIGIN.into(), "*".into(), None);
        assert_eq!(r.extra, [(ALLOW_ORIGIN.into(), "*".into())]);
    }

    #[test]
    fn vary_is_merged_with_wwz_own() {
        let mut r = Response {
            vary: Some("Accept-Encoding"),
            ..Response::new(Status::Ok)
        };
        r.add_header("vary".into(), "Origin, accept-encoding".into());
        r.add_vary("Cookie");
        let mut head = Vec::new();
        r.write_head(&mut head);
        let head = String::from_utf8_lossy(&head);
        assert!(
            head.contains("Vary: Accept-Encoding, Origin, Cookie\r\n"),
            "{head}"
        );
        assert_eq!(head.matches("Vary").count(), 1, "{head}");
    }
}
