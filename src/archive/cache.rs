//! Open archives shared by all connections, revalidated against the file.
//!
//! A new version of an archive arrives by rename (rsync, `wwz pack`). An open
//! archive is checked against its path with `stat` when its [`Ticket`] says
//! something on the path changed (inotify, see [`watch`]), or, where no
//! ticket could be issued, at most every `revalidate` interval. A changed
//! identity (device, inode, size, mtime) opens the new file, while responses
//! in flight finish from the old mapping they hold through their `Arc`.
//!
//! Opening is single flight: while one request opens and indexes a version
//! of an archive, the others that want the same version wait for its result
//! (an index built once, however many requests arrive after a deploy).
//!
//! The cache is bounded twice: by the number of open archives (each holds a
//! descriptor and a mapping) and by the memory of their indexes. The least
//! recently used go first, a batch at a time.
//!
//! [`watch`]: super::watch

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::watch::{Ticket, Watcher};
use super::{confine, Archive, Identity, OpenError};
use crate::log;
use crate::stats::Counter;

/// Cached outcome of opening one path.
struct CacheSlot {
    /// A broken archive is remembered too, so its error is logged once per version.
    state: Result<Arc<Archive>, Arc<str>>,
    identity: Identity,
    /// Valid while nothing on the path changed; without one, `checked` paces the checks.
    ticket: Option<Ticket>,
    checked: Instant,
    used: u64,
    /// What this slot counts against `--cache-memory`.
    bytes: usize,
}

type Key = Box<[u8]>;
type Map<V> = hashbrown::HashMap<Key, V>;

#[derive(Default)]
struct Slots {
    /// docroot → path below it → slot, keyed by bytes: two levels so lookups
    /// need no allocation, and bytes hash faster than `Path` components.
    roots: Map<Map<CacheSlot>>,
    open: usize,
    bytes: usize,
    clock: u64,
    /// Opens under way, by full path: whoever wants the same version waits.
    pending: hashbrown::HashMap<PathBuf, Arc<PendingOpen>>,
}

/// One open under way, and its outcome for the requests that wait for it.
struct PendingOpen {
    /// The version (as `stat` saw it) being opened: a request that sees
    /// another one does not wait for this.
    identity: Identity,
    outcome: Mutex<Option<Result<Arc<Archive>, OpenError>>>,
    done: Condvar,
}

impl PendingOpen {
    /// Waits for the outcome (on a thread that may block, see [`off_the_event_loop`]).
    fn wait(&self) -> Result<Arc<Archive>, OpenError> {
        let mut outcome = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(o) = outcome.as_ref() {
                return o.clone();
            }
            outcome = self.done.wait(outcome).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Sets the outcome, unless one was set already.
    fn publish(&self, o: Result<Arc<Archive>, OpenError>) {
        let mut outcome = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        outcome.get_or_insert(o);
        self.done.notify_all();
    }
}

/// The open a request leads: removed from the pending map when it ends,
/// even by unwinding (the waiters then get a 503, and the next request
/// opens anew: a failed open leaves nothing behind but what `open` cached).
struct Leading<'a> {
    cache: &'a Cache,
    path: PathBuf,
    pending: Arc<PendingOpen>,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        {
            let mut slots = self.cache.lock();
            if slots
                .pending
                .get(&self.path)
                .is_some_and(|p| Arc::ptr_eq(p, &self.pending))
            {
                slots.pending.remove(&self.path);
            }
        }
        self.pending
            .publish(Err(OpenError::Unavailable("the open was abandoned".into())));
    }
}

/// What bounds the cache.
#[derive(Debug, Clone, Copy)]
pub struct CacheLimits {
    /// Archives open at once (`--max-archives`).
    pub archives: usize,
    /// Bytes of indexes (and bookkeeping) of the open archives (`--cache-memory`).
    pub memory: usize,
    /// Longest wait between checks of an archive without a ticket (`--revalidate-ms`).
    pub revalidate: Duration,
}

pub struct Cache {
    slots: Mutex<Slots>,
    limits: CacheLimits,
    watcher: Option<Watcher>,
    stats: CacheStats,
}

/// What the cache has done, for the status page.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Lookups answered from an open archive (after a revalidation or not).
    pub hits: Counter,
    /// Lookups of a path not open, or whose file changed.
    pub misses: Counter,
    /// Archives opened and indexed.
    pub opens: Counter,
    /// Archives closed to stay within `--max-archives` and `--cache-memory`.
    pub evictions: Counter,
    /// Checks of an open archive against its file (a `stat`).
    pub revalidations: Counter,
    /// Versions of archives found broken (each logged once).
    pub broken: Counter,
}

/// Memory an open archive costs besides its index: the slot, the archive
/// and the mapping's bookkeeping.
const SLOT_OVERHEAD: usize = 512;

impl Cache {
    /// A cache that checks archives by time alone (CGI, tests).
    pub fn new(max_open: usize, revalidate: Duration) -> Cache {
        Cache::with_limits(
            CacheLimits {
                archives: max_open,
                memory: usize::MAX,
                revalidate,
            },
            false,
        )
    }

    /// A cache within `limits`; with `watch`, it learns of changes from
    /// inotify where it can (a long-running server).
    pub fn with_limits(limits: CacheLimits, watch: bool) -> Cache {
        // With --revalidate-ms 0 every request checks the file: nothing to save.
        let watcher = (watch && !limits.revalidate.is_zero())
            .then(|| Watcher::start(limits.revalidate))
            .flatten();
        Cache {
            slots: Mutex::new(Slots::default()),
            limits: CacheLimits {
                archives: limits.archives.max(1),
                ..limits
            },
            watcher,
            stats: CacheStats::default(),
        }
    }

    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        // A panic elsewhere while holding the lock leaves the map consistent: every
        // update is a single insert or remove.
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The archive at `docroot/rel`, where `rel` is relative and already vetted by the router.
    pub fn get(&self, docroot: &Path, rel: &Path) -> Result<Arc<Archive>, OpenError> {
        let (root_key, rel_key) = (docroot.as_os_str().as_bytes(), rel.as_os_str().as_bytes());
        let known = {
            let mut slots = self.lock();
            slots.clock += 1;
            let clock = slots.clock;
            match slots
                .roots
                .get_mut(root_key)
                .and_then(|m| m.get_mut(rel_key))
            {
                Some(slot) => {
                    slot.used = clock;
                    let fresh = match &slot.ticket {
                        // A ticket turned false means a change: check at once.
                        Some(ticket) => ticket.valid(),
                        None => slot.checked.elapsed() <= self.limits.revalidate,
                    };
                    if fresh {
                        self.stats.hits.inc();
                        return slot.state.clone().map_err(OpenError::Broken);
                    }
                    Some(slot.identity)
                }
                None => None,
            }
        };

        if known.is_some() {
            self.stats.revalidations.inc();
        }
        // Issued before the `stat`, so that a change after it is not missed.
        let ticket = self.watcher.as_ref().and_then(|w| w.ticket(docroot, rel));
        let now = Instant::now();
        let path = docroot.join(rel);
        let meta = std::fs::metadata(&path).map_err(|_| {
            self.forget(docroot, rel);
            OpenError::NotFound
        })?;
        // Only regular files are opened at all: a socket, FIFO or device named
        // `x.wwz` is not an archive (and opening some has side effects).
        if !meta.is_file() {
            self.forget(docroot, rel);
            return Err(OpenError::NotFound);
        }
        if known == Some(Identity::of(&meta)) {
            let mut slots = self.lock();
            if let Some(slot) = slots
                .roots
                .get_mut(root_key)
                .and_then(|m| m.get_mut(rel_key))
            {
                slot.checked = now;
                slot.ticket = ticket;
                self.stats.hits.inc();
                return slot.state.clone().map_err(OpenError::Broken);
            }
        }

        self.stats.misses.inc();
        let identity = Identity::of(&meta);
        let leading = {
            let mut slots = self.lock();
            // Opened by another request since the first look: use that.
            if let Some(slot) = slots
                .roots
                .get_mut(root_key)
                .and_then(|m| m.get_mut(rel_key))
                .filter(|s| s.identity == identity)
            {
                slot.checked = now;
                slot.ticket = ticket;
                return slot.state.clone().map_err(OpenError::Broken);
            }
            match slots.pending.get(&path) {
                Some(p) if p.identity == identity => Err(Arc::clone(p)),
                _ => {
                    let pending = Arc::new(PendingOpen {
                        identity,
                        outcome: Mutex::new(None),
                        done: Condvar::new(),
                    });
                    slots.pending.insert(path.clone(), Arc::clone(&pending));
                    Ok(Leading {
                        cache: self,
                        path: path.clone(),
                        pending,
                    })
                }
            }
        };
        match leading {
            // Waiting holds this thread as building would have (block_in_place).
            Err(pending) => off_the_event_loop(|| pending.wait()),
            Ok(leading) => {
                let outcome = self.open(docroot, rel, &path, &meta, ticket, now);
                // The outcome to the waiters, then out of the pending map (on drop).
                leading.pending.publish(outcome.clone());
                outcome
            }
        }
    }

    /// Opens and indexes the archive at `path` (`docroot/rel`, which `stat`
    /// found as `meta`) and caches the outcome: the one open of a version.
    fn open(
        &self,
        docroot: &Path,
        rel: &Path,
        path: &Path,
        meta: &std::fs::Metadata,
        ticket: Option<Ticket>,
        now: Instant,
    ) -> Result<Arc<Archive>, OpenError> {
        let (root_key, rel_key) = (docroot.as_os_str().as_bytes(), rel.as_os_str().as_bytes());
        // Reading and indexing a central directory can take milliseconds.
        let opened = off_the_event_loop(|| {
            confine::open_beneath(docroot, rel, path).and_then(|f| Archive::from_file(f, path))
        });
        let (state, identity) = match opened {
            Ok(archive) => {
                self.stats.opens.inc();
                let id = archive.identity();
                (Ok(Arc::new(archive)), id)
            }
            Err(OpenError::NotFound) => {
                self.forget(docroot, rel);
                return Err(OpenError::NotFound);
            }
            Err(OpenError::Unavailable(msg)) => {
                // Not cached: a shortage of descriptors is not a broken archive.
                log::warn!("{}: cannot open now: {msg}", path.display());
                return Err(OpenError::Unavailable(msg));
            }
            // Files are not in object storage; not cached either.
            Err(e @ OpenError::Storage(_)) => return Err(e),
            Err(OpenError::Broken(msg)) => {
                self.stats.broken.inc();
                log::error!("{}: {msg}", path.display());
                (Err(msg), Identity::of(meta))
            }
        };
        let bytes = SLOT_OVERHEAD
            + root_key.len()
            + rel_key.len()
            + state.as_ref().map_or(0, |a| a.index().heap_bytes());
        let mut slots = self.lock();
        slots.clock += 1;
        let slot = CacheSlot {
            state: state.clone(),
            identity,
            ticket,
            checked: now,
            used: slots.clock,
            bytes,
        };
        let replaced = slots
            .roots
            .entry(Box::from(root_key))
            .or_default()
            .insert(Box::from(rel_key), slot);
        match replaced {
            Some(old) => slots.bytes -= old.bytes,
            None => slots.open += 1,
        }
        slots.bytes += bytes;
        let evicted = evict(&mut slots, &self.limits);
        self.stats.evictions.add(evicted);
        state.map_err(OpenError::Broken)
    }

    fn forget(&self, docroot: &Path, rel: &Path) {
        let mut slots = self.lock();
        let removed = slots
            .roots
            .get_mut(docroot.as_os_str().as_bytes())
            .and_then(|m| m.remove(rel.as_os_str().as_bytes()));
        if let Some(slot) = removed {
            slots.open -= 1;
            slots.bytes -= slot.bytes;
        }
    }

    /// Closes every cached archive (SIGHUP); in-flight responses keep theirs.
    pub fn clear(&self) {
        let mut slots = self.lock();
        slots.roots.clear();
        slots.open = 0;
        slots.bytes = 0;
    }

    /// How many archives are open.
    pub fn len(&self) -> usize {
        self.lock().open
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn limits(&self) -> &CacheLimits {
        &self.limits
    }

    /// What the open archives count against `--cache-memory`.
    pub fn memory(&self) -> usize {
        self.lock().bytes
    }

    /// Whether changes are learnt from inotify (else by time alone).
    pub fn is_watching(&self) -> bool {
        self.watcher.is_some()
    }
}

/// Closes the least recently used archives until the cache is within its
/// limits, and then some: a sixteenth of the open archives at least, so
/// that the scan of every slot is paid once per many opens. The archive
/// just opened (the most recently used) stays, even alone over the memory
/// limit. Returns how many were closed.
fn evict(slots: &mut Slots, limits: &CacheLimits) -> u64 {
    let over = |s: &Slots| s.open > limits.archives || s.bytes > limits.memory;
    let mut evicted = 0;
    while over(slots) && slots.open > 1 {
        let mut oldest: Vec<(u64, Key, Key)> = slots
            .roots
            .iter()
            .flat_map(|(root, m)| {
                m.iter()
                    .map(move |(rel, s)| (s.used, root.clone(), rel.clone()))
            })
            .collect();
        if oldest.len() < 2 {
            break;
        }
        let batch = (oldest.len() / 16).clamp(1, oldest.len() - 1);
        oldest.select_nth_unstable_by_key(batch - 1, |(used, _, _)| *used);
        oldest.truncate(batch);
        oldest.sort_unstable_by_key(|(used, _, _)| *used);
        for (_, root, rel) in oldest {
            if let Some(m) = slots.roots.get_mut(&root) {
                if let Some(slot) = m.remove(&rel) {
                    slots.open -= 1;
                    slots.bytes -= slot.bytes;
                    evicted += 1;
                }
                if m.is_empty() {
                    slots.roots.remove(&root);
                }
            }
        }
    }
    evicted
}

/// Runs `work`, which reads files, without holding up the other connections
/// of this thread: on a multi-threaded runtime's worker, the worker's other
/// tasks move to another thread first. Elsewhere (CGI, the blocking pool)
/// it just runs.
pub(crate) fn off_the_event_loop<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;

    /// A leader that ends without an outcome (it unwound) leaves no pending
    /// open behind, and its waiters get a 503 (`Unavailable`), not a hang.
    #[test]
    fn an_abandoned_open_releases_its_waiters() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.wwz"), b"x").unwrap();
        let meta = std::fs::metadata(dir.path().join("a.wwz")).unwrap();
        let cache = Cache::new(4, Duration::from_secs(1));
        let path = dir.path().join("a.wwz");
        let pending = Arc::new(PendingOpen {
            identity: Identity::of(&meta),
            outcome: Mutex::new(None),
            done: Condvar::new(),
        });
        cache
            .lock()
            .pending
            .insert(path.clone(), Arc::clone(&pending));
        let waiter = {
            let p = Arc::clone(&pending);
            std::thread::spawn(move || p.wait())
        };
        drop(Leading {
            cache: &cache,
            path,
            pending,
        });
        assert!(matches!(
            waiter.join().unwrap(),
            Err(OpenError::Unavailable(_))
        ));
        assert!(cache.lock().pending.is_empty());
    }
}
