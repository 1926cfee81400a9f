//! Shared helpers for the black-box tests, one file per concern:
//!
//! - [`fixtures`]: the sample site and archives made of it by real tools;
//! - [`process`]: the real `wwz` binary (or any command) on a real socket;
//! - [`fcgi`]: the FastCGI client, `tools/fcgi_client.rs`, shared with the
//!   load generator `fcgi-load`;
//! - [`curl`]: HTTP through a web server with curl, and curl's output parsed;
//! - [`nginx`]: nginx in front of wwz, around the recipes in `tools/servers/`;
//! - [`browser`]: headless Chromium.
//!
//! Every test gets its own temp dir, socket and ports, so tests run in parallel.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub mod browser;
pub mod curl;
// Shared with the load generator (tools/fcgi_load.rs): parts of it serve only that.
#[allow(dead_code)]
#[path = "../../tools/fcgi_client.rs"]
pub mod fcgi;
pub mod fixtures;
pub mod nginx;
pub mod process;

pub use browser::*;
pub use curl::*;
pub use fcgi::*;
pub use fixtures::*;
pub use process::*;
pub use tempfile::TempDir;

/// A fresh temp dir named for the test.
pub fn tempdir() -> TempDir {
    tempfile::Builder::new()
        .prefix("wwz-test-")
        .tempdir()
        .expect("create temp dir")
}

/// Fails with the Debian package to install when `tool` is not on PATH.
pub fn require_tool(tool: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(tool);
        if candidate.is_file() {
            return candidate;
        }
    }
    for dir in ["/usr/sbin", "/sbin", "/usr/bin"] {
        let candidate = Path::new(dir).join(tool);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`{tool}` not found: install the Debian package `{package}` \
         (tools/test installs everything the tests need)"
    );
}

/// Waits until `cond` holds, polling it every few milliseconds; fails the test
/// with `what` (and the output of `diagnose`) after `limit`. The one way tests
/// wait for something another process does: a socket, a pid file, a log line,
/// a connection closed, a counter grown.
pub fn wait_until_or(
    what: &str,
    limit: Duration,
    cond: impl FnMut() -> bool,
    diagnose: impl Fn() -> String,
) {
    assert!(
        poll(limit, cond),
        "timed out after {limit:?} waiting for {what}{}",
        diagnose()
    );
}

/// Polls `cond` every few milliseconds until it holds (true) or `limit` has
/// passed (false).
pub fn poll(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// [`wait_until_or`] with nothing more to say on failure.
pub fn wait_until(what: &str, limit: Duration, cond: impl FnMut() -> bool) {
    wait_until_or(what, limit, cond, String::new);
}

/// The params nginx's stock `fastcgi_params` sends for `uri`, with the site's
/// docroot as DOCUMENT_ROOT.
pub fn nginx_params(site: &Site, method: &str, uri: &str) -> Vec<(String, Vec<u8>)> {
    stock_params(site.docroot.to_str().unwrap(), method, uri)
}
