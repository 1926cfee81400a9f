//! A bucket as the docroot: archives read from object storage (S3 and
//! servers that speak its API) by ranged GETs.
//!
//! `--docroot s3://BUCKET/PREFIX`: the archive `a/b/site.wwz` a URL names
//! (by the router's rules, unchanged) is the object `PREFIX/a/b/site.wwz`.
//! The endpoint, region and credentials come from the standard variables
//! (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`); a custom endpoint is
//! addressed path-style (`ENDPOINT/BUCKET/KEY`), AWS itself by virtual
//! host. Plain `http://` endpoints only for now (no TLS).
//!
//! What a request costs in storage requests:
//!
//! - opening an archive: one suffix GET of its tail ([`open`]), a second
//!   only when its central directory is larger; one per version however
//!   many requests wait (single flight, as the local cache);
//! - a member: one GET of its range, naming the version (`If-Match`)
//!   ([`object`]); none when its range was fetched recently;
//! - an archive open longer than `--s3-revalidate-ms`: one suffix GET with
//!   `If-None-Match` on its next request (a 304 keeps the index).
//!
//! A 412 marks the version replaced: the request that saw it opens the new
//! version and answers from it when its headers are not out yet; a body
//! already started is cut, never finished from another version.
//!
//! Failures are told apart ([`StorageError`]): a missing object is 404
//! (remembered for `--s3-revalidate-ms`); storage that does not answer, or
//! answers 5xx, or refuses our credentials, is 502/503/504, never a 404 and
//! never remembered.

mod client;
mod disk;
pub mod object;
mod open;

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use object::Shared;
pub use object::{Object, Pieces};

use super::{Archive, OpenError};
use crate::log;
use crate::stats::Counter;

/// Why object storage did not give the bytes asked for.
#[derive(Debug, Clone)]
pub enum StorageError {
    /// 404: no such object (or no such bucket).
    NotFound,
    /// 412 on `If-Match`: the object was replaced.
    Changed,
    /// 416: a range of an empty object.
    InvalidRange,
    /// 401 or 403: the credentials are wrong, or lack `GetObject`.
    Denied(u16),
    /// Connection refused, reset or failed.
    Unreachable(Arc<str>),
    /// 503 (S3's `SlowDown`) or 429.
    Unavailable(u16),
    /// Any other status.
    Status(u16),
    /// No answer, or a stalled body, within `--s3-timeout-ms`.
    Timeout,
    /// The body broke off.
    Cut(Arc<str>),
    /// An answer that makes no sense (a range other than the one asked for).
    Bad(Arc<str>),
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageError::NotFound => f.write_str("no such object"),
            StorageError::Changed => f.write_str("the object was replaced (412)"),
            StorageError::InvalidRange => f.write_str("range not satisfiable (416)"),
            StorageError::Denied(s) => write!(f, "access denied ({s}): check the credentials"),
            StorageError::Unreachable(why) => write!(f, "unreachable: {why}"),
            StorageError::Unavailable(s) => write!(f, "unavailable ({s})"),
            StorageError::Status(s) => write!(f, "answered {s}"),
            StorageError::Timeout => f.write_str("timed out"),
            StorageError::Cut(why) => write!(f, "answer cut: {why}"),
            StorageError::Bad(why) => write!(f, "bad answer: {why}"),
        }
    }
}

impl std::error::Error for StorageError {}

/// How a response describes a storage failure (HTTP statuses are the
/// service's to choose; this says which kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 502: storage refused us or answered nonsense.
    BadGateway,
    /// 503: storage says it is busy or down.
    Unavailable,
    /// 504: storage did not answer in time.
    Timeout,
}

impl StorageError {
    /// Whether trying again soon may succeed.
    fn may_pass(&self) -> bool {
        match self {
            StorageError::Unreachable(_)
            | StorageError::Unavailable(_)
            | StorageError::Timeout
            | StorageError::Cut(_) => true,
            StorageError::Status(s) => *s >= 500,
            _ => false,
        }
    }

    pub fn failure(&self) -> Failure {
        match self {
            StorageError::Unavailable(_) | StorageError::Changed => Failure::Unavailable,
            StorageError::Timeout => Failure::Timeout,
            _ => Failure::BadGateway,
        }
    }

    /// The storage error inside an I/O error from reading an archive, if any.
    pub fn of(e: &std::io::Error) -> Option<&StorageError> {
        e.get_ref()?.downcast_ref()
    }
}

/// Storage requests and bytes, for the status page.
#[derive(Debug, Default)]
pub struct Stats {
    /// GETs that open (or revalidate) an archive.
    pub open_gets: Counter,
    /// GETs of member ranges.
    pub member_gets: Counter,
    /// Bytes received.
    pub bytes: Counter,
    /// Failed requests (after the retry).
    pub failures: Counter,
    /// Archives written whole to the disk cache.
    pub fills: Counter,
    /// Opens answered from the disk cache.
    pub disk_hits: Counter,
}

/// Where the archives are: `s3://BUCKET/PREFIX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub bucket: String,
    /// Empty, or ending in `/`.
    pub prefix: String,
}

impl Location {
    /// `s3://BUCKET` or `s3://BUCKET/PREFIX`; `None` if `text` is not an s3 URL.
    pub fn parse(text: &str) -> Option<Result<Location, String>> {
        let rest = text.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Some(Err(format!("{text}: no bucket")));
        }
        let prefix = prefix.trim_matches('/');
        Some(Ok(Location {
            bucket: bucket.to_owned(),
            prefix: match prefix {
                "" => String::new(),
                p => format!("{p}/"),
            },
        }))
    }
}

/// The local disk cache of small hot archives.
#[derive(Debug, Clone)]
pub struct DiskSettings {
    /// `--s3-cache-dir`.
    pub dir: std::path::PathBuf,
    /// `--s3-cache-bytes`: all files together.
    pub bytes: u64,
    /// `--s3-fill-max`: the largest archive written whole.
    pub fill_max: u64,
}

/// How the store behaves; from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Connect, time to headers, stall in a body (`--s3-timeout-ms`).
    pub timeout: Duration,
    /// How long an open archive (or a missing one) is trusted without
    /// asking storage (`--s3-revalidate-ms`).
    pub revalidate: Duration,
    /// Bytes of indexes of open archives (`--cache-memory`).
    pub memory: usize,
    /// Archives open at once (`--max-archives`).
    pub archives: usize,
    /// Bytes of recently fetched ranges kept in memory.
    pub chunk_bytes: usize,
    /// Small hot archives on local disk, when set.
    pub disk: Option<DiskSettings>,
}

/// The endpoint, from `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3`); AWS's
/// own for the region when unset.
fn endpoint(region: &str) -> Result<(String, rusty_s3::UrlStyle), String> {
    let custom = std::env::var("AWS_ENDPOINT_URL_S3")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .ok()
        .filter(|e| !e.is_empty());
    match custom {
        Some(url) => Ok((url, rusty_s3::UrlStyle::Path)),
        None => Ok((
            format!("http://s3.{region}.amazonaws.com"),
            rusty_s3::UrlStyle::VirtualHost,
        )),
    }
}

/// The archives of one bucket (and prefix), opened and kept like the local
/// [`super::Cache`] keeps files: one index per version, least recently used
/// closed first within `--max-archives` and `--cache-memory`.
pub struct Store {
    shared: Arc<Shared>,
    disk: Option<Arc<disk::Disk>>,
    bucket: Arc<str>,
    prefix: String,
    settings: Settings,
    slots: Mutex<Slots>,
}

#[derive(Default)]
struct Slots {
    map: HashMap<Arc<str>, Slot>,
    pending: HashMap<Arc<str>, Arc<Pending>>,
    clock: u64,
    bytes: usize,
}

struct Slot {
    /// An open version, or that the object is missing (`None`).
    archive: Option<Arc<Archive>>,
    /// The version open (the object's ETag), for revalidation.
    etag: Option<Arc<str>>,
    /// Requests answered from this version: the second asks for a fill.
    hits: u32,
    /// Served from the disk cache's file.
    local: bool,
    checked: Instant,
    used: u64,
    bytes: usize,
}

/// An open under way; the requests that want the same key wait for it.
#[derive(Default)]
struct Pending {
    outcome: Mutex<Option<Result<Arc<Archive>, OpenError>>>,
    done: Condvar,
}

impl Pending {
    fn wait(&self) -> Result<Arc<Archive>, OpenError> {
        let mut outcome = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(o) = outcome.as_ref() {
                return o.clone();
            }
            outcome = self.done.wait(outcome).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn publish(&self, o: Result<Arc<Archive>, OpenError>) {
        let mut outcome = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        outcome.get_or_insert(o);
        self.done.notify_all();
    }
}

/// The open a request leads; out of the pending map when it ends, even by
/// unwinding (its waiters then get a 503).
struct Leading<'a> {
    store: &'a Store,
    key: Arc<str>,
    pending: Arc<Pending>,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        self.store.lock().pending.remove(&self.key);
        self.pending
            .publish(Err(OpenError::Unavailable("the open was abandoned".into())));
    }
}

/// What a slot costs besides its index.
const SLOT_OVERHEAD: usize = 512;

impl Store {
    /// A store for `location`, with the endpoint and credentials from the
    /// environment.
    pub fn from_env(location: &Location, settings: Settings) -> Result<Store, String> {
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|_| "us-east-1".to_owned());
        let (endpoint, style) = endpoint(&region)?;
        if endpoint.starts_with("https://") {
            return Err(format!(
                "{endpoint}: https endpoints are not supported yet; use http:// (a local \
                 endpoint, or a TLS proxy in front of the storage)"
            ));
        }
        let url = endpoint
            .parse()
            .map_err(|e| format!("AWS_ENDPOINT_URL {endpoint}: {e}"))?;
        let bucket = rusty_s3::Bucket::new(url, style, location.bucket.clone(), region)
            .map_err(|e| format!("bucket {}: {e}", location.bucket))?;
        let credentials = rusty_s3::Credentials::from_env();
        if credentials.is_none() {
            log::warn!("no AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: requests go unsigned");
        }
        let client = client::Client::new(bucket, credentials, settings.timeout)
            .map_err(|e| format!("starting the storage client: {e}"))?;
        let disk = match &settings.disk {
            Some(d) => Some(Arc::new(
                disk::Disk::open(&d.dir, d.bytes, d.fill_max)
                    .map_err(|e| format!("--s3-cache-dir {}: {e}", d.dir.display()))?,
            )),
            None => None,
        };
        Ok(Store {
            shared: Arc::new(Shared::new(client, settings.chunk_bytes)),
            disk,
            bucket: Arc::from(location.bucket.as_str()),
            prefix: location.prefix.clone(),
            settings,
            slots: Mutex::new(Slots::default()),
        })
    }

    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The archive `rel` (already vetted by the router) names below the prefix.
    pub fn get(&self, rel: &str) -> Result<Arc<Archive>, OpenError> {
        let key: Arc<str> = Arc::from(format!("{}{rel}", self.prefix));
        let (known, leading) = {
            let mut slots = self.lock();
            slots.clock += 1;
            let clock = slots.clock;
            let mut known = None;
            if let Some(slot) = slots.map.get_mut(&key) {
                slot.used = clock;
                let replaced = slot
                    .archive
                    .as_ref()
                    .is_some_and(|a| a.object().is_some_and(Object::replaced));
                if !replaced {
                    if slot.checked.elapsed() <= self.settings.revalidate {
                        slot.hits = slot.hits.saturating_add(1);
                        let (archive, hits, local) = (slot.archive.clone(), slot.hits, slot.local);
                        drop(slots);
                        return match archive {
                            Some(a) if !local && hits >= 2 => Ok(self.prefer_disk(&key, a, hits)),
                            Some(a) => Ok(a),
                            None => Err(OpenError::NotFound),
                        };
                    }
                    known = slot
                        .archive
                        .clone()
                        .zip(slot.etag.clone())
                        .map(|(a, tag)| (a, tag, slot.local));
                }
            } else if let Some(archive) = self.restore(&key, &mut slots) {
                return Ok(archive);
            }
            match slots.pending.get(&key) {
                Some(p) => (known, Err(Arc::clone(p))),
                None => {
                    let pending = Arc::new(Pending::default());
                    slots.pending.insert(Arc::clone(&key), Arc::clone(&pending));
                    (
                        known,
                        Ok(Leading {
                            store: self,
                            key: Arc::clone(&key),
                            pending,
                        }),
                    )
                }
            }
        };
        match leading {
            Err(pending) => super::cache::off_the_event_loop(|| pending.wait()),
            Ok(leading) => {
                let outcome = super::cache::off_the_event_loop(|| self.open(&key, known));
                leading.pending.publish(outcome.clone());
                outcome
            }
        }
    }

    /// On a request after the first to a version read from storage: the
    /// disk cache's file when a fill has written it (then kept in the slot),
    /// else `remote`, and a fill asked for when the archive is small enough.
    fn prefer_disk(&self, key: &Arc<str>, remote: Arc<Archive>, hits: u32) -> Arc<Archive> {
        let (Some(disk), Some(object)) = (&self.disk, remote.object()) else {
            return remote;
        };
        if !disk.wants(object.size()) {
            return remote;
        }
        if let Some(cached) = disk.get(key).filter(|c| c.etag == *object.etag()) {
            if let Ok(local) = Archive::open(&cached.path) {
                let local = Arc::new(local);
                let mut slots = self.lock();
                if let Some(slot) = slots.map.get_mut(key) {
                    slot.archive = Some(Arc::clone(&local));
                    slot.local = true;
                }
                self.shared.stats.disk_hits.inc();
                return local;
            }
        }
        // Asked again now and then only: a fill that fails (storage down)
        // is not retried on every request.
        if hits == 2 || hits % 256 == 0 {
            disk.fill(
                &self.shared,
                Arc::clone(key),
                Arc::clone(object.etag()),
                object.size(),
            );
        }
        remote
    }

    /// An archive the disk cache holds from before (a restart): trusted like
    /// one just opened, with no storage request.
    fn restore(&self, key: &Arc<str>, slots: &mut Slots) -> Option<Arc<Archive>> {
        let cached = self.disk.as_ref()?.get(key)?;
        let archive =
            Arc::new(super::cache::off_the_event_loop(|| Archive::open(&cached.path)).ok()?);
        self.shared.stats.disk_hits.inc();
        let bytes = SLOT_OVERHEAD + key.len() + archive.index().heap_bytes();
        slots.clock += 1;
        let slot = Slot {
            archive: Some(Arc::clone(&archive)),
            etag: Some(cached.etag),
            hits: 1,
            local: true,
            checked: Instant::now(),
            used: slots.clock,
            bytes,
        };
        if let Some(old) = slots.map.insert(Arc::clone(key), slot) {
            slots.bytes -= old.bytes;
        }
        slots.bytes += bytes;
        self.evict(slots);
        Some(archive)
    }

    /// Opens (or revalidates `known`: the archive, its ETag, whether it is
    /// the disk cache's) and remembers the outcome.
    fn open(
        &self,
        key: &Arc<str>,
        known: Option<(Arc<Archive>, Arc<str>, bool)>,
    ) -> Result<Arc<Archive>, OpenError> {
        let tag = known.as_ref().map(|(_, tag, _)| Arc::clone(tag));
        let opened = open::open(&self.shared, &self.bucket, key, tag);
        let now = Instant::now();
        let archive = match opened {
            Ok(open::Opened::Unchanged) => match known {
                Some((archive, tag, local)) => {
                    self.remember(key, Some(Arc::clone(&archive)), Some(tag), local, now);
                    return Ok(archive);
                }
                None => {
                    return Err(OpenError::Storage(StorageError::Bad(
                        "304 to nothing".into(),
                    )))
                }
            },
            Ok(open::Opened::New(archive)) => Arc::new(*archive),
            Err(OpenError::NotFound) => {
                self.remember(key, None, None, false, now);
                return Err(OpenError::NotFound);
            }
            Err(OpenError::Storage(e)) => {
                self.shared.stats.failures.inc();
                log::warn!("s3://{}/{key}: {e}", self.bucket);
                return Err(OpenError::Storage(e));
            }
            Err(e) => {
                log::error!("s3://{}/{key}: {e}", self.bucket);
                return Err(e);
            }
        };
        let tag = archive.object().map(|o| Arc::clone(o.etag()));
        self.remember(key, Some(Arc::clone(&archive)), tag, false, now);
        Ok(archive)
    }

    fn remember(
        &self,
        key: &Arc<str>,
        archive: Option<Arc<Archive>>,
        etag: Option<Arc<str>>,
        local: bool,
        now: Instant,
    ) {
        let bytes = SLOT_OVERHEAD
            + key.len()
            + archive.as_ref().map_or(0, |a| {
                a.index().heap_bytes() + a.object().map_or(0, Object::heap_bytes)
            });
        let mut slots = self.lock();
        slots.clock += 1;
        let slot = Slot {
            archive,
            etag,
            hits: 1,
            local,
            checked: now,
            used: slots.clock,
            bytes,
        };
        if let Some(old) = slots.map.insert(Arc::clone(key), slot) {
            slots.bytes -= old.bytes;
        }
        slots.bytes += bytes;
        self.evict(&mut slots);
    }

    /// Closes the least recently used until within the limits (the one just
    /// opened stays).
    fn evict(&self, slots: &mut Slots) {
        let over = |s: &Slots| {
            s.map.len() > self.settings.archives.max(1) || s.bytes > self.settings.memory
        };
        if !over(slots) {
            return;
        }
        let mut order: Vec<(u64, Arc<str>)> = slots
            .map
            .iter()
            .map(|(k, s)| (s.used, Arc::clone(k)))
            .collect();
        order.sort_unstable_by_key(|(used, _)| *used);
        for (_, key) in order {
            if !over(slots) || slots.map.len() <= 1 {
                break;
            }
            if let Some(old) = slots.map.remove(&key) {
                slots.bytes -= old.bytes;
            }
        }
    }

    /// How many archives (and missing objects) are remembered.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `s3://BUCKET/PREFIX`, for the log.
    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;

    #[test]
    fn locations() {
        let l = |t: &str| Location::parse(t).map(|r| r.unwrap());
        assert_eq!(l("/srv/www"), None);
        assert_eq!(
            l("s3://b"),
            Some(Location {
                bucket: "b".into(),
                prefix: String::new()
            })
        );
        assert_eq!(l("s3://b/").unwrap().prefix, "");
        assert_eq!(l("s3://b/ci/jobs/").unwrap().prefix, "ci/jobs/");
        assert_eq!(l("s3://b/ci").unwrap().prefix, "ci/");
        assert!(Location::parse("s3:///x").unwrap().is_err());
    }
}
