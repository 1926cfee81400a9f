//! wwz serves the members of zip archives (`.wwz` files in a docroot) over
//! FastCGI, straight from a memory mapping.
//!
//! Folders, bottom up (each knows only those above it in this list):
//! - `util`: calendar and HTTP dates, percent-coding, JSON strings.
//! - [`content`]: what a member's bytes are, for the server and the tool alike:
//!   media types, content codings and their sibling names, gzip framing.
//! - [`zip`]: APPNOTE record layouts, the end records, the name index (built or packed).
//! - [`archive`]: an open archive (file, mapping, index), the shared cache that
//!   revalidates it against renames, inflate; knows nothing of sites, logs or HTTP.
//! - [`http`]: HTTP semantics: the request, routing, conditional requests,
//!   ranges, negotiation, the response and its body, and the member pipeline.
//! - [`site`]: what a static host does: index pages, clean URLs, error pages, `_redirects`.
//! - [`logs`]: what a CI log viewer does: the terminal renderer, the log view, search.
//! - [`pages`]: the pages wwz writes itself (listings, the status page).
//! - [`front`]: FastCGI, CGI and the HTTP preview, and the serving loop.
//! - [`tool`]: the companion subcommands (`pack`, `align`, `check`, `ls`).
//! - [`cli`]: the `wwz` command line.

// Two exceptions, each allowed where it is justified: the archive mapping
// (`archive::mmap`) and adopting systemd's socket (`front::listen`).
#![deny(unsafe_code)]

pub mod archive;
pub mod cli;
pub mod content;
pub mod front;
pub mod http;
pub mod log;
pub mod logs;
pub mod pages;
pub mod service;
pub mod site;
pub mod stats;
pub mod tool;
pub mod util;
pub mod zip;
