//! Change notices for the paths of open archives (inotify), so that the cache
//! checks an archive against its file after something on its path changed,
//! not on every request once `--revalidate-ms` has passed.
//!
//! The cache holds a [`Ticket`] per open archive: true while nothing on the
//! archive's path has changed since the ticket was issued. Issuing one
//! watches each directory from the docroot down, for the one name the path
//! takes in it; an event naming that entry (a rename deploy, a rewrite, a
//! directory swapped) turns the ticket false, and the next request checks
//! the file with `stat` as before. A ticket is issued before that `stat`, so
//! a change between the two is never lost.
//!
//! Where inotify cannot see every change, no ticket is issued and the cache
//! keeps checking by time: network and FUSE filesystems (another host's
//! writes raise no event here), archives that are symlinks (their target
//! may change elsewhere), and any watch the kernel refuses. The docroot's own
//! identity is checked by time on the watcher thread, since what replaces it
//! (a symlink swap of a parent, say) happens outside the watched directories.

use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};

use crate::log;

/// True while nothing on an archive's path has changed since it was issued.
#[derive(Debug, Clone)]
pub struct Ticket(Arc<AtomicBool>);

impl Ticket {
    pub fn valid(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// One inotify instance and the thread that reads it.
pub struct Watcher {
    shared: Arc<Shared>,
}

struct Shared {
    fd: OwnedFd,
    interests: Mutex<Interests>,
    /// The thread stopped: no ticket would ever turn false, so none is issued.
    stopped: AtomicBool,
}

#[derive(Default)]
struct Interests {
    /// (watch, entry name) → tickets of the archives whose path goes through it.
    entries: HashMap<(i32, Box<[u8]>), Tickets>,
    /// Docroots in use and their (device, inode), checked by time.
    roots: Vec<(PathBuf, Option<(u64, u64)>)>,
    /// Docroot checks since tickets of closed archives were last dropped.
    checks: u32,
}

type Tickets = Vec<Weak<AtomicBool>>;

/// What a change to a directory entry on an archive's path looks like.
const MASK: WatchFlags = WatchFlags::CREATE
    .union(WatchFlags::DELETE)
    .union(WatchFlags::MOVED_FROM)
    .union(WatchFlags::MOVED_TO)
    .union(WatchFlags::MODIFY)
    .union(WatchFlags::CLOSE_WRITE)
    .union(WatchFlags::ATTRIB)
    .union(WatchFlags::DELETE_SELF)
    .union(WatchFlags::MOVE_SELF)
    .union(WatchFlags::ONLYDIR);

/// Filesystems whose every change goes through this kernel (`statfs` magic):
/// ext2-4, XFS, Btrfs, tmpfs, F2FS, ZFS, overlayfs.
const LOCAL_FILESYSTEMS: [i64; 7] = [
    0xEF53,
    0x5846_5342,
    0x9123_683E,
    0x0102_1994,
    0xF2F5_2010,
    0x2FC1_2FC1,
    0x794C_7630,
];

impl Watcher {
    /// Starts the watcher; `None` (logged) where inotify is unavailable, for
    /// instance when the user's inotify instances are used up: the cache
    /// then checks by time alone. `period` paces the docroot checks.
    pub fn start(period: Duration) -> Option<Watcher> {
        let fd = match inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK) {
            Ok(fd) => fd,
            Err(e) => {
                log::warn!("inotify unavailable ({e}): open archives are checked by time");
                return None;
            }
        };
        let shared = Arc::new(Shared {
            fd,
            interests: Mutex::new(Interests::default()),
            stopped: AtomicBool::new(false),
        });
        let reader = Arc::clone(&shared);
        let period = period.max(Duration::from_millis(10));
        std::thread::Builder::new()
            .name("wwz-watch".into())
            .spawn(move || reader.run(period))
            .map_err(|e| log::warn!("inotify thread: {e}"))
            .ok()?;
        Some(Watcher { shared })
    }

    /// A ticket for `docroot/rel`, or `None` where changes to it might go
    /// unnoticed. `rel` is relative and vetted by the router.
    pub fn ticket(&self, docroot: &Path, rel: &Path) -> Option<Ticket> {
        if self.shared.stopped.load(Ordering::Acquire) {
            return None;
        }
        let path = docroot.join(rel);
        let parent = path.parent()?;
        if std::fs::symlink_metadata(&path)
            .ok()?
            .file_type()
            .is_symlink()
        {
            return None;
        }
        let fs = rustix::fs::statfs(parent).ok()?;
        #[allow(clippy::unnecessary_cast)] // f_type's width differs between targets
        if !LOCAL_FILESYSTEMS.contains(&(fs.f_type as i64)) {
            return None;
        }
        // Each directory from the docroot down, and the name the path takes in it.
        let mut steps = Vec::new();
        let mut dir = docroot.to_path_buf();
        for component in rel.components() {
            let Component::Normal(name) = component else {
                return None;
            };
            steps.push((dir.clone(), name));
            dir.push(name);
        }
        let ticket = Arc::new(AtomicBool::new(true));
        let mut watches = Vec::with_capacity(steps.len());
        for (i, (dir, name)) in steps.iter().enumerate() {
            // The docroot may be a symlink (it is the operator's); a symlinked
            // directory below it could be retargeted where no watch sees it.
            let flags = if i == 0 {
                MASK
            } else {
                MASK | WatchFlags::DONT_FOLLOW
            };
            let wd = inotify::add_watch(&self.shared.fd, dir.as_path(), flags).ok()?;
            watches.push((wd, Box::<[u8]>::from(name.as_bytes())));
        }
        let mut interests = self.shared.lock();
        // Checked under the lock the stopping thread takes to end every ticket.
        if self.shared.stopped.load(Ordering::Acquire) {
            return None;
        }
        for key in watches {
            let tickets = interests.entries.entry(key).or_default();
            // Closed archives' tickets go before the vector would grow: amortized
            // O(1), where pruning on every push would be quadratic in a busy directory.
            if tickets.len() == tickets.capacity() {
                tickets.retain(|t| t.strong_count() > 0);
            }
            tickets.push(Arc::downgrade(&ticket));
        }
        if !interests.roots.iter().any(|(r, _)| r == docroot) {
            let id = identity(docroot);
            interests.roots.push((docroot.to_path_buf(), id));
        }
        Some(Ticket(ticket))
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Interests> {
        // Every update is a single insert or removal: a panic elsewhere leaves it consistent.
        self.interests.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run(&self, period: Duration) {
        let mut buf = vec![MaybeUninit::<u8>::uninit(); 16 * 1024];
        let timeout = rustix::event::Timespec {
            tv_sec: i64::try_from(period.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(period.subsec_nanos()),
        };
        loop {
            let mut fds = [rustix::event::PollFd::new(
                &self.fd,
                rustix::event::PollFlags::IN,
            )];
            match rustix::event::poll(&mut fds, Some(&timeout)) {
                Ok(0) => self.check_roots(),
                Ok(_) => self.drain(&mut buf),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => {
                    // Without the thread no ticket would ever turn false: make
                    // every one false for good, so the cache checks by time.
                    log::warn!("inotify: {e}; open archives are checked by time");
                    let mut interests = self.lock();
                    self.stopped.store(true, Ordering::Release);
                    for tickets in interests.entries.values() {
                        invalidate(tickets);
                    }
                    interests.entries.clear();
                    return;
                }
            }
        }
    }

    fn drain(&self, buf: &mut [MaybeUninit<u8>]) {
        let mut reader = inotify::Reader::new(self.fd.as_fd(), buf);
        loop {
            let event = match reader.next() {
                Ok(event) => event,
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => return,
            };
            let flags = event.events();
            if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                self.invalidate_all();
            } else if flags.intersects(
                ReadFlags::IGNORED
                    | ReadFlags::DELETE_SELF
                    | ReadFlags::MOVE_SELF
                    | ReadFlags::UNMOUNT,
            ) {
                // The directory itself went away: everything below it changed.
                let wd = event.wd();
                let mut interests = self.lock();
                interests.entries.retain(|(w, _), tickets| {
                    if *w == wd {
                        invalidate(tickets);
                    }
                    *w != wd
                });
            } else if let Some(name) = event.file_name() {
                let key = (event.wd(), Box::<[u8]>::from(name.to_bytes()));
                if let Some(tickets) = self.lock().entries.remove(&key) {
                    invalidate(&tickets);
                }
            }
            if reader.is_buffer_empty() {
                return;
            }
        }
    }

    /// A docroot replaced as a whole (its identity changed): every ticket ends.
    fn check_roots(&self) {
        let mut interests = self.lock();
        let mut changed = false;
        for (root, id) in interests.roots.iter_mut() {
            let now = identity(root);
            if now != *id {
                *id = now;
                changed = true;
            }
        }
        if changed {
            for tickets in interests.entries.values() {
                invalidate(tickets);
            }
            interests.entries.clear();
        }
        // Tickets of closed archives accumulate under busy entries; drop them now and then.
        interests.checks += 1;
        if interests.checks < 64 {
            return;
        }
        interests.checks = 0;
        interests.entries.retain(|_, tickets| {
            tickets.retain(|t| t.strong_count() > 0);
            !tickets.is_empty()
        });
    }

    fn invalidate_all(&self) {
        let mut interests = self.lock();
        for tickets in interests.entries.values() {
            invalidate(tickets);
        }
        interests.entries.clear();
    }
}

fn invalidate(tickets: &[Weak<AtomicBool>]) {
    for t in tickets.iter().filter_map(Weak::upgrade) {
        t.store(false, Ordering::Release);
    }
}

fn identity(dir: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()))
}
