//! HTTP semantics, and nothing else: the request parsed once from a front's
//! [`Params`], routing it to an archive and member, conditional requests,
//! ranges, content negotiation, multipart bodies, downloads
//! (`Content-Disposition`), the response and the body stream. What a site, a log viewer or wwz's own pages make of a request
//! lives in `site`, `logs` and `pages`; `service` runs the pipeline.

pub mod body;
pub mod conditional;
pub mod disposition;
pub mod header;
pub mod multipart;
pub mod negotiate;
pub mod params;
pub mod query;
pub mod range;
pub mod request;
pub mod response;
pub mod route;
pub mod status;

pub use body::Body;
pub use params::{OwnedParams, Param, Params};
pub use query::Query;
pub use request::Request;
pub use response::Response;
pub use status::Status;
