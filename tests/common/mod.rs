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
pub mod s3;

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

/// The most a busy machine is allowed to stretch a wait: past this many times
/// its allowance on an idle machine, whatever is awaited is taken as broken.
pub const MAX_LOAD_FACTOR: f64 = 4.0;

/// How much slower than an idle machine this one is now: the 1-minute load
/// average per online CPU, between 1 and [`MAX_LOAD_FACTOR`]. The tests run
/// two at a time beside whatever else the machine does (a build, say), and
/// every process they wait for competes for the same cores.
pub fn load_factor() -> f64 {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    // SAFETY: sysconf has no memory-safety preconditions.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as f64;
    (load / cpus).clamp(1.0, MAX_LOAD_FACTOR)
}

/// `allowance` (what a wait may take on an idle machine) stretched by the
/// machine's load now: what a deadline for another process's work should be.
pub fn patience(allowance: Duration) -> Duration {
    allowance.mul_f64(load_factor())
}

/// Waits until `cond` holds, polling it; fails the test with `what` (and the
/// output of `diagnose`) once it has not held for `allowance` stretched by the
/// load (see [`poll`]). The one way tests wait for something another process
/// does: a socket, a pid file, a log line, a connection closed, a counter
/// grown.
pub fn wait_until_or(
    what: &str,
    allowance: Duration,
    cond: impl FnMut() -> bool,
    diagnose: impl Fn() -> String,
) {
    let start = Instant::now();
    assert!(
        poll(allowance, cond),
        "timed out after {:?} (an allowance of {allowance:?}, load factor {:.1}) waiting for {what}{}",
        start.elapsed(),
        load_factor(),
        diagnose()
    );
}

/// Polls `cond` until it holds (true) or the wait is over (false): over once
/// `allowance` has passed *and* `allowance` times the load factor (read again
/// at each poll past the allowance, so load that rises during the wait
/// counts) has passed, so at most [`MAX_LOAD_FACTOR`] times `allowance`.
/// The interval starts at a millisecond and doubles up to 50 ms: short waits
/// end promptly, and a long one does not take CPU from the process it waits for.
pub fn poll(allowance: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    let mut interval = Duration::from_millis(1);
    loop {
        if cond() {
            return true;
        }
        let elapsed = start.elapsed();
        if elapsed >= allowance && elapsed >= patience(allowance) {
            return false;
        }
        std::thread::sleep(interval);
        interval = (interval * 2).min(Duration::from_millis(50));
    }
}

/// Sets `stream`'s read and write timeouts to [`WAIT`] stretched by the load
/// now: how long one read may wait for the server's next bytes (or a write
/// for room) before the test fails. [`Client::connect`] sets [`WAIT`] itself.
pub fn stretch_timeouts(stream: &Stream) {
    let limit = Some(patience(WAIT));
    let set = match stream {
        Stream::Unix(s) => s
            .set_read_timeout(limit)
            .and_then(|()| s.set_write_timeout(limit)),
        Stream::Tcp(s) => s
            .set_read_timeout(limit)
            .and_then(|()| s.set_write_timeout(limit)),
    };
    set.expect("set socket timeouts");
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
