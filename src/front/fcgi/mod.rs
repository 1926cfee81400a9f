//! The FastCGI front: the record codec, name-value pairs, the protocol state
//! machine and the STDOUT framing (none of which does I/O), and the
//! connection that reads and writes for them.

pub mod connection;
pub mod params;
pub mod protocol;
pub mod record;
pub mod stdout;

pub use connection::{serve, Limits, Socket, DEFAULT_SENDFILE_MIN};
