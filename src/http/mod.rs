//! The protocol-neutral core: a request's parameters in, a [`Response`] out.
//! Fronts (FastCGI, later CGI and HTTP preview) translate their wire format to
//! [`Params`] and write the [`Response`]; they never decide HTTP semantics.

pub mod body;
pub mod conditional;
pub mod listing;
pub mod logview;
pub mod lookup;
pub mod mime;
pub mod multipart;
pub mod negotiate;
pub mod range;
pub mod respond;
pub mod response;
pub mod route;
pub mod search;
pub mod status;

pub use body::Body;
pub use respond::Service;
pub use response::Response;

/// CGI-style request parameters (`REQUEST_METHOD`, `REQUEST_URI`, `HTTP_*`, …).
pub trait Params {
    fn param(&self, name: &str) -> Option<&[u8]>;
}

impl Params for [(&str, &str)] {
    fn param(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_bytes())
    }
}

impl<const N: usize> Params for [(&str, &str); N] {
    fn param(&self, name: &str) -> Option<&[u8]> {
        self[..].param(name)
    }
}

/// Parameters collected into owned storage (CGI environment, HTTP preview).
#[derive(Debug, Default, Clone)]
pub struct OwnedParams(pub Vec<(String, Vec<u8>)>);

impl Params for OwnedParams {
    fn param(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}
