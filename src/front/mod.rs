//! The fronts: each translates its wire format to a request for the core and
//! writes the response back; none decides HTTP semantics.
//!
//! - [`fcgi`]: FastCGI (record codec, protocol, STDOUT framing, connection).
//! - [`cgi`]: one request from the environment, the answer on stdout.
//! - [`preview`]: plain HTTP/1.1 for browsing archives locally.
//! - [`listen`], [`server`], [`connections`]: where the socket comes from,
//!   accepting, limits, shutdown.

pub mod cgi;
pub mod connections;
pub mod fcgi;
pub mod listen;
pub mod preview;
pub mod server;
