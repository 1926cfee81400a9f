//! Small hot archives on local disk (`--s3-cache-dir`), so that they are
//! served from a mapping like any local archive: zero copy, no storage
//! request per member.
//!
//! An archive of at most `--s3-fill-max` bytes that is asked for again is
//! fetched whole in the background (one GET naming its version), written
//! to a temporary file and renamed into place: `DIR/<sha256 of the key>.wwz`,
//! its ETag beside it in `….etag`. The files together stay within
//! `--s3-cache-bytes`, the least recently used deleted first (a deleted
//! file stays readable by the requests that have it mapped). A restart
//! finds the files and trusts each for `--s3-revalidate-ms`, like an
//! archive just opened.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use sha2::{Digest, Sha256};

use super::object::Shared;
use crate::log;

/// The local disk cache.
pub(crate) struct Disk {
    dir: PathBuf,
    cap: u64,
    fill_max: u64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// File stem → (bytes, last use).
    files: HashMap<String, (u64, u64)>,
    total: u64,
    clock: u64,
    /// Stems being filled now.
    filling: HashSet<String>,
}

/// A file of the cache: the archive, and the version it holds.
pub(crate) struct Cached {
    pub path: PathBuf,
    pub etag: Arc<str>,
}

impl Disk {
    /// The cache in `dir` (made if missing), with the files a previous run left.
    pub(crate) fn open(dir: &Path, cap: u64, fill_max: u64) -> std::io::Result<Disk> {
        std::fs::create_dir_all(dir)?;
        let mut state = State::default();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with("tmp-") {
                // A fill cut short by a stop.
                let _ = std::fs::remove_file(entry.path());
            } else if let Some(stem) = name.strip_suffix(".wwz") {
                let size = entry.metadata()?.len();
                state.total += size;
                state.files.insert(stem.to_owned(), (size, 0));
            }
        }
        log::info!(
            "s3 cache {}: {} archives, {} bytes",
            dir.display(),
            state.files.len(),
            state.total
        );
        Ok(Disk {
            dir: dir.to_path_buf(),
            cap,
            fill_max,
            state: Mutex::new(state),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stem(key: &str) -> String {
        let digest = Sha256::digest(key.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The cached file of `key`, if there is one, marked used.
    pub(crate) fn get(&self, key: &str) -> Option<Cached> {
        let stem = Disk::stem(key);
        {
            let mut state = self.lock();
            state.clock += 1;
            let clock = state.clock;
            state.files.get_mut(&stem)?.1 = clock;
        }
        let etag = std::fs::read_to_string(self.dir.join(format!("{stem}.etag"))).ok()?;
        Some(Cached {
            path: self.dir.join(format!("{stem}.wwz")),
            etag: Arc::from(etag.as_str()),
        })
    }

    /// Whether an archive of `size` bytes may be filled.
    pub(crate) fn wants(&self, size: u64) -> bool {
        size <= self.fill_max && size <= self.cap
    }

    /// Fetches version `etag` of `key` (`size` bytes) whole in the
    /// background, unless a fill of it is under way.
    pub(crate) fn fill(
        self: &Arc<Self>,
        shared: &Arc<Shared>,
        key: Arc<str>,
        etag: Arc<str>,
        size: u64,
    ) {
        let stem = Disk::stem(&key);
        if !self.lock().filling.insert(stem.clone()) {
            return;
        }
        let (disk, shared2) = (Arc::clone(self), Arc::clone(shared));
        shared.client.spawn_blocking(move || {
            match disk.fill_now(&shared2, &key, &etag, size, &stem) {
                Ok(()) => shared2.stats.fills.inc(),
                Err(e) => log::warn!("s3 cache: filling {key}: {e}"),
            }
            disk.lock().filling.remove(&stem);
        });
    }

    fn fill_now(
        &self,
        shared: &Arc<Shared>,
        key: &Arc<str>,
        etag: &Arc<str>,
        size: u64,
        stem: &str,
    ) -> std::io::Result<()> {
        let tmp = self.dir.join(format!("tmp-{stem}"));
        let mut out = std::fs::File::create(&tmp)?;
        let mut rx =
            shared
                .client
                .stream(Arc::clone(key), Arc::clone(etag), 0, size.saturating_sub(1));
        shared.stats.member_gets.inc();
        let mut got = 0u64;
        while let Some(piece) = rx.blocking_recv() {
            let piece = piece.map_err(std::io::Error::other)?;
            got += piece.len() as u64;
            shared.stats.bytes.add(piece.len() as u64);
            out.write_all(&piece)?;
        }
        if got != size {
            let _ = std::fs::remove_file(&tmp);
            return Err(std::io::Error::other("the object ended early"));
        }
        drop(out);
        // The archive first, then its ETag: a reader between the two sees
        // the new file under the old ETag, which only costs a reopen.
        let tmp_tag = self.dir.join(format!("tmp-{stem}.etag"));
        std::fs::write(&tmp_tag, etag.as_bytes())?;
        std::fs::rename(&tmp, self.dir.join(format!("{stem}.wwz")))?;
        std::fs::rename(&tmp_tag, self.dir.join(format!("{stem}.etag")))?;
        let mut state = self.lock();
        state.clock += 1;
        let clock = state.clock;
        if let Some((old, _)) = state.files.insert(stem.to_owned(), (size, clock)) {
            state.total -= old;
        }
        state.total += size;
        // Least recently used out, never the one just filled.
        while state.total > self.cap {
            let Some(victim) = state
                .files
                .iter()
                .filter(|(s, _)| s.as_str() != stem)
                .min_by_key(|(_, (_, used))| *used)
                .map(|(s, _)| s.clone())
            else {
                break;
            };
            if let Some((bytes, _)) = state.files.remove(&victim) {
                state.total -= bytes;
            }
            let _ = std::fs::remove_file(self.dir.join(format!("{victim}.wwz")));
            let _ = std::fs::remove_file(self.dir.join(format!("{victim}.etag")));
        }
        Ok(())
    }
}
