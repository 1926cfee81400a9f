//! wwz serves the members of zip archives (`.wwz` files in a docroot) over
//! FastCGI, straight from a memory mapping.
//!
//! Layers, bottom up:
//! - [`zip`]: APPNOTE record layouts and the name index built from the central directory.
//! - `time`: calendar arithmetic, DOS times and HTTP dates, shared by all of the above.
//! - [`archive`]: an open archive (file, mapping, index) and the shared cache that
//!   revalidates it against renames.
//! - [`http`]: the protocol-neutral core: routing a request to archive and member,
//!   and the static-file semantics that produce a [`http::Response`].
//! - [`fcgi`]: the FastCGI front: record codec, params, per-connection state machine.
//! - [`cgi`]: the CGI front: one request from the environment.
//! - [`devhttp`]: a plain HTTP/1.1 front for local preview.
//! - [`listen`] and [`server`]: where the socket comes from, accepting, limits, shutdown.
//! - [`cli`]: the `wwz` command line.
//! - [`tool`]: the companion subcommands (`pack`, `align`, `check`, `ls`) that make and verify archives.

// Two exceptions, each allowed where it is justified: the archive mapping
// (`archive::mmap`) and adopting systemd's socket (`listen`).
#![deny(unsafe_code)]

pub mod ansi;
pub mod archive;
pub mod cgi;
pub mod cli;
pub mod connections;
pub mod devhttp;
pub mod fcgi;
pub mod http;
pub mod json;
pub mod listen;
pub mod log;
pub mod server;
pub mod site;
pub mod stats;
pub(crate) mod time;
pub mod tool;
pub mod url;
pub mod zip;
