//! Open archives shared by all connections, revalidated against the file.
//!
//! A new version of an archive arrives by rename (rsync, `wwz pack`). At most
//! every `revalidate` interval a lookup stats the path; a changed identity
//! (device, inode, size, mtime) opens the new file, while responses in flight
//! finish from the old mapping they hold through their `Arc`. The number of
//! open archives (and so of descriptors and mappings) is bounded; the least
//! recently used is closed first.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{confine, Archive, Identity, OpenError};
use crate::log;
use crate::stats::Counter;

/// Cached outcome of opening one path.
struct Slot {
    /// A broken archive is remembered too, so its error is logged once per version.
    state: Result<Arc<Archive>, Arc<str>>,
    identity: Identity,
    checked: Instant,
    used: u64,
}

type Map<V> = hashbrown::HashMap<Box<[u8]>, V>;

#[derive(Default)]
struct Slots {
    /// docroot → path below it → slot, keyed by bytes: two levels so lookups
    /// need no allocation, and bytes hash faster than `Path` components.
    roots: Map<Map<Slot>>,
    open: usize,
    clock: u64,
}

pub struct Cache {
    slots: Mutex<Slots>,
    max_open: usize,
    revalidate: Duration,
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
    /// Archives closed to stay within `--max-archives`.
    pub evictions: Counter,
    /// Checks of an open archive against its file (a `stat`).
    pub revalidations: Counter,
    /// Versions of archives found broken (each logged once).
    pub broken: Counter,
}

impl Cache {
    pub fn new(max_open: usize, revalidate: Duration) -> Cache {
        Cache {
            slots: Mutex::new(Slots::default()),
            max_open: max_open.max(1),
            revalidate,
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
        let now = Instant::now();
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
                    if now.duration_since(slot.checked) <= self.revalidate {
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
                self.stats.hits.inc();
                return slot.state.clone().map_err(OpenError::Broken);
            }
        }

        self.stats.misses.inc();
        // Reading and indexing a central directory can take milliseconds.
        let opened = off_the_event_loop(|| {
            confine::open_beneath(docroot, rel, &path).and_then(Archive::from_file)
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
                log::warn(format_args!("{}: cannot open now: {msg}", path.display()));
                return Err(OpenError::Unavailable(msg));
            }
            Err(OpenError::Broken(msg)) => {
                self.stats.broken.inc();
                log::error(format_args!("{}: {msg}", path.display()));
                (Err(msg), Identity::of(&meta))
            }
        };
        let mut slots = self.lock();
        slots.clock += 1;
        let slot = Slot {
            state: state.clone(),
            identity,
            checked: now,
            used: slots.clock,
        };
        let replaced = slots
            .roots
            .entry(Box::from(root_key))
            .or_default()
            .insert(Box::from(rel_key), slot);
        if replaced.is_none() {
            slots.open += 1;
        }
        while slots.open > self.max_open {
            if !evict_lru(&mut slots) {
                break;
            }
            self.stats.evictions.inc();
        }
        state.map_err(OpenError::Broken)
    }

    fn forget(&self, docroot: &Path, rel: &Path) {
        let mut slots = self.lock();
        let removed = slots
            .roots
            .get_mut(docroot.as_os_str().as_bytes())
            .and_then(|m| m.remove(rel.as_os_str().as_bytes()));
        if removed.is_some() {
            slots.open -= 1;
        }
    }

    /// Closes every cached archive (SIGHUP); in-flight responses keep theirs.
    pub fn clear(&self) {
        let mut slots = self.lock();
        slots.roots.clear();
        slots.open = 0;
    }

    /// How many archives are open.
    pub fn len(&self) -> usize {
        self.lock().open
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Removes the least recently used slot; linear in the (bounded) number of slots,
/// and only paid when a new archive is opened.
fn evict_lru(slots: &mut Slots) -> bool {
    let oldest = slots
        .roots
        .iter()
        .flat_map(|(root, m)| m.iter().map(move |(rel, s)| (s.used, root, rel)))
        .min_by_key(|(used, _, _)| *used)
        .map(|(_, root, rel)| (root.clone(), rel.clone()));
    let Some((root, rel)) = oldest else {
        return false;
    };
    if let Some(m) = slots.roots.get_mut(&root) {
        m.remove(&rel);
        if m.is_empty() {
            slots.roots.remove(&root);
        }
    }
    slots.open -= 1;
    true
}

/// Runs `work`, which reads files, without holding up the other connections
/// of this thread: on a multi-threaded runtime's worker, the worker's other
/// tasks move to another thread first. Elsewhere (CGI, the blocking pool)
/// it just runs.
fn off_the_event_loop<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}
