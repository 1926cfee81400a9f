//! One request, read once from a front's [`Params`]: the method, where it
//! goes, its query, and the headers the pipeline decides on. Everything
//! after this reads the [`Request`], never the parameters again.

use super::conditional::Conditions;
use super::negotiate::{Accept, Media};
use super::query::Query;
use super::{Param, Params};

/// The request methods wwz tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    /// Answered 204 with the methods wwz allows.
    Options,
    /// Anything else: answered 405.
    Other,
}

/// How a page wwz writes itself (listing, search, status) is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    /// `?format=json`, or `Accept` naming `application/json` first.
    Json,
}

/// The parameters routing reads (see [`super::route`]): web servers split
/// the URL differently, so the router looks at all of them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Target<'a> {
    pub document_root: Option<&'a [u8]>,
    pub script_filename: Option<&'a [u8]>,
    pub path_info: Option<&'a [u8]>,
    pub request_uri: Option<&'a [u8]>,
    pub document_uri: Option<&'a [u8]>,
    pub script_name: Option<&'a [u8]>,
    /// `WWZ_ARCHIVE`: the archive of a site mounted at the host's root or a prefix.
    pub archive: Option<&'a [u8]>,
    /// `WWZ_PREFIX`: where such a site is mounted.
    pub prefix: Option<&'a [u8]>,
}

impl Target<'_> {
    /// Whether the request's path (before any query, as the client sent
    /// it) is `path`.
    pub fn path_is(&self, path: &str) -> bool {
        if let Some(uri) = self.request_uri {
            let end = uri.iter().position(|&b| b == b'?').unwrap_or(uri.len());
            return uri.get(..end) == Some(path.as_bytes());
        }
        if let Some(uri) = self.document_uri {
            return uri == path.as_bytes();
        }
        let script = self.script_name.unwrap_or_default();
        let info = self.path_info.unwrap_or_default();
        path.as_bytes().strip_prefix(script) == Some(info)
    }
}

/// A request, parsed once.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: Method,
    pub target: Target<'a>,
    /// The query string as sent (QUERY_STRING, or what follows `?` in
    /// REQUEST_URI when a server omits it); kept for redirects.
    pub raw_query: Option<&'a [u8]>,
    pub query: Query,
    pub format: Format,
    /// `Accept` prefers `text/markdown` to `text/html`: a page with a
    /// Markdown twin answers with the twin.
    pub markdown: bool,
    pub accept_encoding: Accept,
    pub conditions: Conditions<'a>,
    /// `Range`, for GET only (RFC 9110 §14.2: HEAD answers as a plain GET would).
    pub range: Option<&'a [u8]>,
    pub if_range: Option<&'a [u8]>,
    /// `Host`, for `_headers` rules written with one.
    pub host: Option<&'a str>,
    /// `Origin`, for a CORS answer that depends on it.
    pub origin: Option<&'a str>,
    /// `Access-Control-Request-Method` and `-Headers`: with `Origin`, an
    /// OPTIONS request is a CORS preflight.
    pub cors_method: Option<&'a [u8]>,
    pub cors_headers: Option<&'a str>,
}

impl<'a> Request<'a> {
    pub fn parse<P: Params + ?Sized>(params: &'a P) -> Request<'a> {
        let method = match params.param(Param::RequestMethod).unwrap_or(b"GET") {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"OPTIONS" => Method::Options,
            _ => Method::Other,
        };
        let target = Target {
            document_root: params.param(Param::DocumentRoot),
            script_filename: params.param(Param::ScriptFilename),
            path_info: params.param(Param::PathInfo),
            request_uri: params.param(Param::RequestUri),
            document_uri: params.param(Param::DocumentUri),
            script_name: params.param(Param::ScriptName),
            archive: params.param(Param::WwzArchive),
            prefix: params.param(Param::WwzPrefix),
        };
        let raw_query = params.param(Param::QueryString).or_else(|| {
            let uri = target.request_uri?;
            let at = uri.iter().position(|&b| b == b'?')?;
            let q = uri.get(at + 1..)?;
            Some(q.split(|&b| b == b'#').next().unwrap_or(q))
        });
        let query = match raw_query {
            Some(q) if !q.is_empty() => Query::parse(q),
            _ => Query::default(),
        };
        let media = Media::parse(params.param(Param::HttpAccept));
        Request {
            method,
            target,
            raw_query,
            format: if query.json || media.json {
                Format::Json
            } else {
                Format::Html
            },
            markdown: media.markdown,
            query,
            accept_encoding: Accept::parse(params.param(Param::HttpAcceptEncoding)),
            conditions: Conditions {
                if_match: params.param(Param::HttpIfMatch),
                if_none_match: params.param(Param::HttpIfNoneMatch),
                if_modified_since: params.param(Param::HttpIfModifiedSince),
                if_unmodified_since: params.param(Param::HttpIfUnmodifiedSince),
            },
            range: params
                .param(Param::HttpRange)
                .filter(|h| !h.is_empty() && method == Method::Get),
            if_range: params.param(Param::HttpIfRange),
            host: text(params.param(Param::HttpHost)),
            origin: text(params.param(Param::HttpOrigin)),
            cors_method: params.param(Param::HttpAccessControlRequestMethod),
            cors_headers: text(params.param(Param::HttpAccessControlRequestHeaders)),
        }
    }

    /// A CORS preflight: OPTIONS with `Origin` and `Access-Control-Request-Method`.
    pub fn is_preflight(&self) -> bool {
        self.method == Method::Options && self.origin.is_some() && self.cors_method.is_some()
    }

    /// A HEAD request: the answer's headers without its body.
    pub fn is_head(&self) -> bool {
        self.method == Method::Head
    }

    /// The query string to carry over to a redirect, if there is one.
    pub fn query_to_keep(&self) -> Option<&'a [u8]> {
        self.raw_query.filter(|q| !q.is_empty())
    }
}

/// A header's value as text, when it is UTF-8 and not empty.
fn text(value: Option<&[u8]>) -> Option<&str> {
    value
        .filter(|v| !v.is_empty())
        .and_then(|v| std::str::from_utf8(v).ok())
}
