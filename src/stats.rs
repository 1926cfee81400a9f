//! What a running responder has done, for the status page (`--status-path`).
//!
//! Process-wide counters, bumped where each event happens with relaxed
//! atomics: a figure may lag another by an event, never by more, and keeping
//! them costs a few uncontended increments per request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::SystemTime;

/// One monotonic count, or a gauge that goes up and down.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn inc(&self) {
        self.add(1);
    }

    /// For gauges; never below zero.
    pub fn dec(&self) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The counters of connections, requests and bytes. The archive cache keeps
/// its own ([`crate::archive::cache::CacheStats`]).
#[derive(Debug)]
pub struct Stats {
    /// Connections accepted since start.
    pub accepted: Counter,
    /// Connections open now (gauge).
    pub connections: Counter,
    /// Of those, waiting between requests (gauge).
    pub idle: Counter,
    /// Idle connections closed to make room for a new one at the limit.
    pub idle_closed_at_limit: Counter,
    /// Responses by status class: 1xx … 5xx.
    pub responses: [Counter; 5],
    /// Body bytes the kernel sent straight from a mapping.
    pub bytes_mapped: Counter,
    /// Of those, the bytes sent with sendfile(2) from the archive file.
    pub bytes_sendfile: Counter,
    /// Body bytes sent from buffers of ours (listings, error pages, inflated output).
    pub bytes_copied: Counter,
    /// Bytes produced by inflating deflated members, skipped ones included.
    pub bytes_inflated: Counter,
}

pub static STATS: Stats = Stats {
    accepted: Counter::new(),
    connections: Counter::new(),
    idle: Counter::new(),
    idle_closed_at_limit: Counter::new(),
    responses: [
        Counter::new(),
        Counter::new(),
        Counter::new(),
        Counter::new(),
        Counter::new(),
    ],
    bytes_mapped: Counter::new(),
    bytes_sendfile: Counter::new(),
    bytes_copied: Counter::new(),
    bytes_inflated: Counter::new(),
};

impl Stats {
    /// Counts one response.
    pub fn response(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        if let Some(c) = self.responses.get(class) {
            c.inc();
        }
    }
}

static STARTED: OnceLock<SystemTime> = OnceLock::new();

/// Marks the start of serving; the first call wins.
pub fn mark_start() {
    let _ = STARTED.get_or_init(SystemTime::now);
}

/// When serving started (or, if it never was marked, when first asked).
pub fn started() -> SystemTime {
    *STARTED.get_or_init(SystemTime::now)
}

/// The version of this build.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The commit this binary was built from, when the build knew it.
pub fn commit() -> Option<&'static str> {
    option_env!("WWZ_COMMIT")
}
