//! Opening an archive only if it lies inside the docroot, with no window
//! between the check and the open.
//!
//! The kernel resolves the path beneath a descriptor of the docroot
//! (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`, Linux ≥ 5.6),
//! so a symlink or directory swapped mid-lookup can never lead outside.
//! Where that cannot decide (a kernel without `openat2`, or an absolute
//! symlink, which `RESOLVE_BENEATH` refuses even when it points inside), the
//! path is first resolved to an `O_PATH` descriptor, which opens nothing (a
//! FIFO is not joined, a device's driver is not called); where that
//! descriptor really leads is checked, and only a regular file beneath the
//! docroot is then opened for reading, through `/proc/self/fd/N`: the same
//! inode, so a swap after the check cannot change what is read.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::OpenError;
use crate::log;

/// How archives are opened: read-only, and a FIFO named like an archive must
/// not block the opener.
pub(crate) fn open_flags() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    o
}

/// Opens `docroot/rel` (`path`), refusing anything that resolves outside `docroot`.
pub fn open_beneath(docroot: &Path, rel: &Path, path: &Path) -> Result<File, OpenError> {
    open_beneath_with(docroot, rel, path, Resolve::Kernel)
}

/// Who decides what lies beneath the docroot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolve {
    /// `openat2(RESOLVE_BENEATH)`, falling back where it cannot decide.
    Kernel,
    /// The fallback alone, as on a kernel without `openat2` (for tests).
    #[cfg_attr(not(test), allow(dead_code))]
    Fallback,
}

fn open_beneath_with(
    docroot: &Path,
    rel: &Path,
    path: &Path,
    how: Resolve,
) -> Result<File, OpenError> {
    if how == Resolve::Fallback {
        return open_checked(docroot, path);
    }
    // Out of descriptors here is a 503 like anywhere else, not a missing docroot.
    let root = rustix::fs::open(
        docroot,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| OpenError::from_open(&io::Error::from(e)))?;
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    // EAGAIN: a rename elsewhere raced the lookup; the kernel asks for a retry.
    let mut tries = 0;
    loop {
        return match rustix::fs::openat2(&root, rel, flags, Mode::empty(), resolve) {
            Ok(fd) => Ok(File::from(fd)),
            Err(Errno::AGAIN) if tries < 8 => {
                tries += 1;
                continue;
            }
            // Outside, or an absolute symlink; or no openat2 here (ENOSYS, or
            // EPERM from a seccomp filter that does not know it).
            Err(Errno::XDEV | Errno::NOSYS | Errno::PERM) => open_checked(docroot, path),
            Err(e) => Err(OpenError::from_open(&io::Error::from(e))),
        };
    }
}

/// Resolves `path` without opening it (`O_PATH`), checks where it leads,
/// then opens that very inode for reading.
fn open_checked(docroot: &Path, path: &Path) -> Result<File, OpenError> {
    let root = docroot.canonicalize().map_err(|_| OpenError::NotFound)?;
    let located = rustix::fs::open(path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| OpenError::from_open(&io::Error::from(e)))?;
    let refuse = |why: &str| {
        log::warn!("{}: {why}; refused", path.display());
        OpenError::NotFound
    };
    // Only the kernel's own record of the descriptor is trusted: a path
    // resolved again (canonicalize) could be swapped in between.
    let link = magic_link(&located);
    let real = std::fs::read_link(&link)
        .map_err(|_| refuse("cannot tell where it leads without /proc"))?;
    if !real.starts_with(&root) || real == root {
        return Err(refuse("resolves outside the docroot"));
    }
    // A FIFO, socket or device inside the docroot is no archive either:
    // never opened, so it is never joined or woken.
    let stat =
        rustix::fs::fstat(&located).map_err(|e| OpenError::from_open(&io::Error::from(e)))?;
    if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
        return Err(OpenError::NotFound);
    }
    // Reopening through the descriptor's link opens its inode, not a path.
    open_flags()
        .open(&link)
        .map_err(|e| OpenError::from_open(&e))
}

/// `/proc/self/fd/N`: the kernel's link to what descriptor N refers to.
fn magic_link(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    fn mkfifo(path: &Path) {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            path,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
    }

    /// The fallback, forced: symlinks leaving the docroot are refused, one
    /// staying inside is followed, by both ways of resolving.
    #[test]
    fn the_fallback_refuses_a_symlink_out_of_the_docroot() {
        let dir = tempfile::tempdir().unwrap();
        let (root, outside) = (dir.path().join("root"), dir.path().join("outside"));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("x.wwz"), b"outside").unwrap();
        std::fs::write(root.join("in.wwz"), b"inside").unwrap();
        let link = |to: &Path, name: &str| std::os::unix::fs::symlink(to, root.join(name)).unwrap();
        link(&outside.join("x.wwz"), "abs-out.wwz");
        link(Path::new("../outside/x.wwz"), "rel-out.wwz");
        link(&root.join("in.wwz"), "abs-in.wwz");
        link(&outside, "dir");
        for how in [Resolve::Fallback, Resolve::Kernel] {
            let open = |rel: &str| open_beneath_with(&root, Path::new(rel), &root.join(rel), how);
            for rel in ["in.wwz", "abs-in.wwz"] {
                let f = open(rel).unwrap_or_else(|e| panic!("{how:?} {rel}: {e}"));
                assert_eq!(std::io::read_to_string(f).unwrap(), "inside");
            }
            for rel in ["abs-out.wwz", "rel-out.wwz", "dir/x.wwz"] {
                assert!(
                    matches!(open(rel), Err(OpenError::NotFound)),
                    "{how:?} {rel} opened"
                );
            }
        }
    }

    /// A FIFO outside the docroot, named through a symlink, is checked
    /// before anything opens it: a writer waiting for a reader is never
    /// woken (the old open-then-check woke it).
    #[test]
    fn the_fallback_checks_before_it_opens() {
        let dir = tempfile::tempdir().unwrap();
        let (root, outside) = (dir.path().join("root"), dir.path().join("outside"));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let fifo = outside.join("pipe.wwz");
        mkfifo(&fifo);
        std::os::unix::fs::symlink(&fifo, root.join("pipe.wwz")).unwrap();
        mkfifo(&root.join("inner.wwz"));

        for (rel, target) in [
            ("pipe.wwz", fifo.clone()),
            ("inner.wwz", root.join("inner.wwz")),
        ] {
            let woken = Arc::new(AtomicBool::new(false));
            let writer = {
                let (woken, target) = (Arc::clone(&woken), target.clone());
                // Blocks in open(2) until some reader opens the FIFO.
                std::thread::spawn(move || {
                    let f = std::fs::OpenOptions::new().write(true).open(&target);
                    woken.store(true, Ordering::SeqCst);
                    f
                })
            };
            // Give the writer time to be waiting in open(2).
            std::thread::sleep(Duration::from_millis(100));
            let got = open_beneath_with(&root, Path::new(rel), &root.join(rel), Resolve::Fallback);
            assert!(matches!(got, Err(OpenError::NotFound)), "{rel}: {got:?}");
            std::thread::sleep(Duration::from_millis(300));
            assert!(!woken.load(Ordering::SeqCst), "{rel}: the FIFO was opened");
            // Let the writer go.
            let _reader = open_flags().open(&target).unwrap();
            writer.join().unwrap().unwrap();
        }
    }
}
