//! Work in the pipeline that grows with the archive rather than the request:
//! a directory's listing (every child, with `Extras` over the index), the
//! first directory question (sorting every name once), sniffing an
//! extension-less member (a `pread` or an inflate). It runs where blocking
//! is allowed instead of on a tokio worker, where it would stall every other
//! connection that worker serves: the worker's other tasks move to another
//! thread first (`block_in_place`, as `archive::cache` does to open an
//! archive). Chosen over a capped listing with a "more" link: a listing stays
//! whole and its URL keeps meaning the same page, and a member hit, the hot
//! path, never comes here.

/// Runs `work` without holding up the other connections of this thread: on
/// a multi-threaded runtime's worker, its other tasks move to another thread
/// first. Elsewhere (CGI, the blocking pool, tests) it just runs.
pub(super) fn run<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}
