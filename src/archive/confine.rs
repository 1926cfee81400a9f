//! Opening an archive only if it lies inside the docroot, with no window
//! between the check and the open.
//!
//! The kernel resolves the path beneath a descriptor of the docroot
//! (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`, Linux ≥ 5.6),
//! so a symlink or directory swapped mid-lookup can never lead outside.
//! Where that cannot decide (a kernel without `openat2`, or an absolute
//! symlink, which `RESOLVE_BENEATH` refuses even when it points inside), the
//! file is opened by path and then checked by where its descriptor really
//! leads, which a swap after the check cannot change.

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

/// Opens `path`, then checks where the descriptor leads.
fn open_checked(docroot: &Path, path: &Path) -> Result<File, OpenError> {
    let root = docroot.canonicalize().map_err(|_| OpenError::NotFound)?;
    let file = open_flags()
        .open(path)
        .map_err(|e| OpenError::from_open(&e))?;
    let real = where_it_leads(&file).or_else(|_| path.canonicalize());
    match real {
        Ok(real) if real.starts_with(&root) && real != root => Ok(file),
        _ => {
            log::warn!("{}: resolves outside the docroot; refused", path.display());
            Err(OpenError::NotFound)
        }
    }
}

/// The path of the file an open descriptor refers to, as the kernel knows it.
fn where_it_leads(file: &File) -> io::Result<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
}
