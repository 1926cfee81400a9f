//! The CGI-style parameters a front hands the core (`REQUEST_METHOD`,
//! `REQUEST_URI`, `HTTP_*`, …): a closed set, so a FastCGI front indexes them
//! once per request and a lookup is an array access.

/// The request parameters the core reads: a closed set, so that a front can
/// index them once per request and a lookup is an array access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    RequestMethod,
    DocumentRoot,
    ScriptFilename,
    PathInfo,
    RequestUri,
    DocumentUri,
    ScriptName,
    QueryString,
    HttpRange,
    HttpIfRange,
    HttpAcceptEncoding,
    HttpAccept,
    HttpIfMatch,
    HttpIfNoneMatch,
    HttpIfModifiedSince,
    HttpIfUnmodifiedSince,
    WwzArchive,
    WwzPrefix,
    HttpHost,
    HttpOrigin,
    HttpAccessControlRequestMethod,
    HttpAccessControlRequestHeaders,
}

impl Param {
    pub const ALL: [Param; 22] = [
        Param::RequestMethod,
        Param::DocumentRoot,
        Param::ScriptFilename,
        Param::PathInfo,
        Param::RequestUri,
        Param::DocumentUri,
        Param::ScriptName,
        Param::QueryString,
        Param::HttpRange,
        Param::HttpIfRange,
        Param::HttpAcceptEncoding,
        Param::HttpAccept,
        Param::HttpIfMatch,
        Param::HttpIfNoneMatch,
        Param::HttpIfModifiedSince,
        Param::HttpIfUnmodifiedSince,
        Param::WwzArchive,
        Param::WwzPrefix,
        Param::HttpHost,
        Param::HttpOrigin,
        Param::HttpAccessControlRequestMethod,
        Param::HttpAccessControlRequestHeaders,
    ];

    /// The CGI name (RFC 3875; `WWZ_*` are ours).
    pub const fn name(self) -> &'static str {
        match self {
            Param::RequestMethod => "REQUEST_METHOD",
            Param::DocumentRoot => "DOCUMENT_ROOT",
            Param::ScriptFilename => "SCRIPT_FILENAME",
            Param::PathInfo => "PATH_INFO",
            Param::RequestUri => "REQUEST_URI",
            Param::DocumentUri => "DOCUMENT_URI",
            Param::ScriptName => "SCRIPT_NAME",
            Param::QueryString => "QUERY_STRING",
            Param::HttpRange => "HTTP_RANGE",
            Param::HttpIfRange => "HTTP_IF_RANGE",
            Param::HttpAcceptEncoding => "HTTP_ACCEPT_ENCODING",
            Param::HttpAccept => "HTTP_ACCEPT",
            Param::HttpIfMatch => "HTTP_IF_MATCH",
            Param::HttpIfNoneMatch => "HTTP_IF_NONE_MATCH",
            Param::HttpIfModifiedSince => "HTTP_IF_MODIFIED_SINCE",
            Param::HttpIfUnmodifiedSince => "HTTP_IF_UNMODIFIED_SINCE",
            Param::WwzArchive => "WWZ_ARCHIVE",
            Param::WwzPrefix => "WWZ_PREFIX",
            Param::HttpHost => "HTTP_HOST",
            Param::HttpOrigin => "HTTP_ORIGIN",
            Param::HttpAccessControlRequestMethod => "HTTP_ACCESS_CONTROL_REQUEST_METHOD",
            Param::HttpAccessControlRequestHeaders => "HTTP_ACCESS_CONTROL_REQUEST_HEADERS",
        }
    }
}

/// CGI-style request parameters (`REQUEST_METHOD`, `REQUEST_URI`, `HTTP_*`, …).
pub trait Params {
    fn param(&self, p: Param) -> Option<&[u8]>;
}

impl Params for [(&str, &str)] {
    fn param(&self, p: Param) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| *n == p.name())
            .map(|(_, v)| v.as_bytes())
    }
}

impl<const N: usize> Params for [(&str, &str); N] {
    fn param(&self, p: Param) -> Option<&[u8]> {
        self[..].param(p)
    }
}

/// Parameters collected into owned storage (CGI environment, HTTP preview).
#[derive(Debug, Default, Clone)]
pub struct OwnedParams(pub Vec<(String, Vec<u8>)>);

impl Params for OwnedParams {
    fn param(&self, p: Param) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(n, _)| n == p.name())
            .map(|(_, v)| v.as_slice())
    }
}
