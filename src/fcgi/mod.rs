//! The FastCGI front: the record codec (no I/O), name-value pairs, and the
//! per-connection state machine that feeds the core.

pub mod connection;
pub mod params;
pub mod record;

pub use connection::{serve, Limits};
