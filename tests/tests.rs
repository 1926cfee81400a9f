//! The integration tests: one binary, one module per concern (each file
//! says what it covers), so `tests/common` is compiled and linked once.
//! Modules share the process: every test gets its own temp dir, socket and
//! ports, and a module that changes something process-wide says so.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests build their own inputs: a panic is a failed assertion"
)]

mod common;

mod alloc;
mod browser;
mod ci_logs;
mod clients;
mod confinement;
mod deploy;
mod downloads;
mod exhaustion;
mod hostile;
mod http;
mod lifecycle;
mod nginx;
mod protocol;
mod release;
mod reports;
mod s3;
mod sendfile;
mod servers;
mod sites;
mod tool;
