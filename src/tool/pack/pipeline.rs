//! The pipeline that turns the walk's items into the archive: `--jobs`
//! workers read and compress items ahead of the writer, within a window
//! bounded in items and bytes (a condvar, [`Flow`]); whoever holds the next
//! item in order writes it. Kept apart because its ordering is what makes the
//! archive (and the error reported) independent of threads and timing.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::os::unix::fs::MetadataExt;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError, TryLockError};

use super::args::{compressible, PackArgs};
use super::member::{add_dir, add_file, open, read_and_compress, MemberBytes, MemberSource, Ready};
use super::walk::Item;
use super::Summary;
use crate::tool::compress::Deflater;
use crate::tool::write::Writer;
use crate::tool::Error;

/// Workers hold at most this many bytes of file data read ahead of the writer
/// (more only for the one file the writer waits for): what pack holds in memory.
const WINDOW_BYTES: u64 = 64 << 20;
/// …and work at most this many members ahead of the writer.
const WINDOW_ITEMS: usize = 256;
/// Stored files up to this size are read by a worker (with their CRC-32), off
/// the writer's thread; larger ones stream from disk through the writer's buffer.
const READ_MAX: u64 = 8 << 20;

/// Writes the members of `items` into `w`, in order. `jobs` workers open,
/// read and compress items, in any order within the window; whichever
/// finishes the item next in the walk's order writes it (and the ones after
/// it that are ready) while the others keep reading. The archive does not
/// depend on `jobs` or on timing, nor does the error reported: the first in
/// the walk's order.
pub(super) fn write_items(
    items: &[Item],
    args: &PackArgs,
    exclude: &[(u64, u64)],
    w: Writer,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<(Writer, Summary), Error> {
    let jobs = args
        .jobs
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, NonZeroUsize::get);
    // A sibling is never made over a file of the tree with the sibling's name.
    let names: HashSet<&[u8]> = items.iter().map(|i| i.name.as_bytes()).collect();
    let ctx = PackRun {
        items,
        args,
        names: &names,
        exclude,
        flow: Flow::default(),
        queue: Mutex::default(),
        sink: Mutex::new(Output {
            w,
            summary: Summary::default(),
            failed: None,
        }),
        progress,
    };
    let panicked = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs.clamp(1, items.len().max(1)))
            .map(|_| scope.spawn(|| ctx.work()))
            .collect();
        handles.into_iter().any(|h| h.join().is_err())
    });
    let written = ctx.lock_queue().next;
    let Output { w, summary, failed } = ctx
        .sink
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(e) = failed {
        return Err(e);
    }
    if panicked || written != items.len() {
        return Err(Error::input(&args.dir, "a pack worker thread panicked"));
    }
    Ok((w, summary))
}

/// What the workers and the writer share.
struct PackRun<'a> {
    items: &'a [Item],
    args: &'a PackArgs,
    names: &'a HashSet<&'a [u8]>,
    exclude: &'a [(u64, u64)],
    flow: Flow,
    /// Items prepared ahead of the next one to write.
    queue: Mutex<Queue>,
    /// The archive being written: held by the worker writing.
    sink: Mutex<Output>,
    progress: Option<&'a indicatif::ProgressBar>,
}

#[derive(Default)]
struct Queue {
    /// The next item to write.
    next: usize,
    /// Prepared items (or their errors) waiting for the ones before them.
    early: HashMap<usize, Result<Ready, Error>>,
}

struct Output {
    w: Writer,
    summary: Summary,
    /// The first error in the walk's order; writing stops there.
    failed: Option<Error>,
}

/// Bounds the work in flight: workers take items at most [`WINDOW_ITEMS`]
/// ahead of the writer and hold at most [`WINDOW_BYTES`] of file data in
/// memory; the item the writer waits for always goes ahead, so the pipeline
/// cannot stall.
#[derive(Default)]
struct Flow {
    state: Mutex<FlowState>,
    changed: Condvar,
}

#[derive(Default)]
struct FlowState {
    /// The next item a worker takes.
    next: usize,
    /// Items written (the writer waits for item `written`).
    written: usize,
    /// Bytes of file data read into memory and not yet written.
    in_flight: u64,
    /// Set when the writer is done (or failed): workers stop.
    stop: bool,
}

impl Flow {
    fn lock(&self) -> MutexGuard<'_, FlowState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, g: MutexGuard<'a, FlowState>) -> MutexGuard<'a, FlowState> {
        self.changed.wait(g).unwrap_or_else(PoisonError::into_inner)
    }

    /// The next item to prepare, or `None` when there is none or the writer stopped.
    fn take(&self, len: usize) -> Option<usize> {
        let mut g = self.lock();
        while !g.stop && g.next < len && g.next >= g.written + WINDOW_ITEMS {
            g = self.wait(g);
        }
        if g.stop || g.next >= len {
            return None;
        }
        g.next += 1;
        Some(g.next - 1)
    }

    /// Waits until item `i` may hold `bytes` in memory; false if the writer stopped.
    fn reserve(&self, i: usize, bytes: u64) -> bool {
        let mut g = self.lock();
        while !g.stop && i != g.written && g.in_flight > 0 && g.in_flight + bytes > WINDOW_BYTES {
            g = self.wait(g);
        }
        if g.stop {
            return false;
        }
        g.in_flight += bytes;
        true
    }

    /// Item `i`, which held `bytes`, is written.
    fn written(&self, i: usize, bytes: u64) {
        let mut g = self.lock();
        g.written = i + 1;
        g.in_flight = g.in_flight.saturating_sub(bytes);
        drop(g);
        self.changed.notify_all();
    }

    fn stop(&self) {
        self.lock().stop = true;
        self.changed.notify_all();
    }
}

/// Stops the other workers if this one unwinds (they would wait forever for
/// the item it held).
struct StopOnPanic<'a>(&'a Flow);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.stop();
        }
    }
}

impl PackRun<'_> {
    /// A worker: prepares items until none is left or writing stopped, and
    /// writes what is ready in order. An item's error is queued like its
    /// result, so the first error in the walk's order is the one reported,
    /// whatever thread met it.
    fn work(&self) {
        let _guard = StopOnPanic(&self.flow);
        let mut deflater = None;
        while let Some(i) = self.flow.take(self.items.len()) {
            let Some(item) = self.items.get(i) else {
                return;
            };
            let ready = match self.prepare(i, item, &mut deflater) {
                Ok(Some(ready)) => Ok(ready),
                Ok(None) => return,
                Err(e) => Err(e),
            };
            self.lock_queue().early.insert(i, ready);
            self.drain();
        }
    }

    fn lock_queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next item to write, if it is prepared.
    fn pop_next(&self) -> Option<(usize, Result<Ready, Error>)> {
        let mut q = self.lock_queue();
        let i = q.next;
        let ready = q.early.remove(&i)?;
        q.next += 1;
        Some((i, ready))
    }

    /// Writes the prepared items that come next, unless another worker is
    /// writing: that one sees them, since it checks the queue again after
    /// letting the archive go.
    fn drain(&self) {
        loop {
            let mut sink = match self.sink.try_lock() {
                Ok(sink) => sink,
                Err(TryLockError::WouldBlock) => return,
                Err(TryLockError::Poisoned(e)) => e.into_inner(),
            };
            if sink.failed.is_some() {
                return;
            }
            while let Some((i, ready)) = self.pop_next() {
                let held = match ready.and_then(|r| self.write(&mut sink, i, r)) {
                    Ok(held) => held,
                    Err(e) => {
                        sink.failed = Some(e);
                        self.flow.stop();
                        return;
                    }
                };
                self.flow.written(i, held);
            }
            drop(sink);
            let q = self.lock_queue();
            if !q.early.contains_key(&q.next) {
                return;
            }
        }
    }

    /// Writes item `i`; returns the bytes of file data it held in memory.
    fn write(&self, sink: &mut Output, i: usize, ready: Ready) -> Result<u64, Error> {
        let Some(item) = self.items.get(i) else {
            return Ok(0);
        };
        let Output { w, summary, .. } = sink;
        if let Some(bar) = self.progress {
            bar.inc(1);
            bar.set_message(format!("{} MB", summary.bytes >> 20));
        }
        match ready {
            Ready::Dir(mtime) => {
                add_dir(w, item, mtime, self.args.align)?;
                summary.dirs += 1;
                Ok(0)
            }
            Ready::Skip => Ok(0),
            Ready::File {
                mtime,
                mode,
                size,
                body,
            } => {
                let held = if matches!(body, MemberBytes::Read(_)) {
                    size
                } else {
                    0
                };
                add_file(w, item, self.args, body, (mtime, mode), size, summary)?;
                summary.files += 1;
                Ok(held)
            }
        }
    }

    /// Opens item `i` and, unless it is a large stored file (streamed by the
    /// writer), reads and compresses it. `None` if the writer stopped.
    fn prepare(
        &self,
        i: usize,
        item: &Item,
        deflater: &mut Option<Deflater>,
    ) -> Result<Option<Ready>, Error> {
        let (file, meta, size) = match open(item, self.exclude)? {
            MemberSource::Dir(mtime) => return Ok(Some(Ready::Dir(mtime))),
            MemberSource::Skip => return Ok(Some(Ready::Skip)),
            MemberSource::File { file, meta, size } => (file, meta, size),
        };
        let args = self.args;
        let body = if compressible(args, &item.name, size) || size <= READ_MAX {
            if !self.flow.reserve(i, size) {
                return Ok(None);
            }
            let deflater = deflater.get_or_insert_with(|| Deflater::new(args.best));
            MemberBytes::Read(read_and_compress(
                item, &file, size, args, self.names, deflater,
            )?)
        } else {
            MemberBytes::Stream(file)
        };
        Ok(Some(Ready::File {
            mtime: meta.mtime(),
            mode: meta.mode(),
            size,
            body,
        }))
    }
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;
    use crate::tool::pack::{Align, Deflate};
    use std::fs;
    use std::io::Read;
    use std::path::Path;

    fn args(dir: &Path, jobs: usize) -> PackArgs {
        PackArgs {
            dir: dir.to_path_buf(),
            output: dir.join("out.wwz"),
            deflate: Deflate::Auto,
            precompress: Vec::new(),
            jobs: NonZeroUsize::new(jobs),
            best: false,
            align: Align::Auto,
            mtime: Some(0),
            quiet: true,
        }
    }

    /// Workers meet errors in any order; the one reported is the first in
    /// the walk's order, whatever the number of workers (the items span
    /// more than one window).
    #[test]
    fn the_first_error_in_walk_order_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut items = Vec::new();
        for i in 0..3 * WINDOW_ITEMS {
            let name = format!("f{i:04}.txt");
            let path = dir.path().join(&name);
            if i != 130 && i != 470 {
                fs::write(&path, format!("line {i}\n").repeat(i % 50 + 1)).unwrap();
            }
            items.push(Item {
                name,
                path,
                dir_mtime: None,
            });
        }
        for jobs in 1..=4 {
            let w = Writer::new(tempfile::tempfile().unwrap(), Path::new("t.wwz"));
            let err = write_items(&items, &args(dir.path(), jobs), &[], w, None)
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains("f0130.txt: cannot open"), "{jobs}: {err}");
        }
        // Without the missing files, every number of workers writes the same bytes.
        items.retain(|i| i.path.exists());
        let mut archives = Vec::new();
        for jobs in 1..=4 {
            let w = Writer::new(tempfile::tempfile().unwrap(), Path::new("t.wwz"));
            let (w, summary) = write_items(&items, &args(dir.path(), jobs), &[], w, None).unwrap();
            assert_eq!(summary.files, items.len() as u64);
            let mut f = w.finish(b"").unwrap();
            let mut bytes = Vec::new();
            use std::io::Seek;
            f.seek(std::io::SeekFrom::Start(0)).unwrap();
            f.read_to_end(&mut bytes).unwrap();
            archives.push(bytes);
        }
        assert!(archives.iter().all(|a| *a == archives[0]));
    }

    /// The item the writer waits for goes ahead of the memory bound; others
    /// wait for room, and are let go (with `false`) when writing stops.
    #[test]
    fn flow_bounds_memory_without_stalling() {
        let flow = Flow::default();
        assert!(flow.reserve(0, WINDOW_BYTES + 1));
        std::thread::scope(|s| {
            let waiting = s.spawn(|| flow.reserve(1, 1));
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(!waiting.is_finished());
            flow.written(0, WINDOW_BYTES + 1);
            assert!(waiting.join().unwrap());
            // Item 1 (1 byte) is in flight; item 3 does not fit beside it.
            let waiting = s.spawn(|| flow.reserve(3, WINDOW_BYTES));
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(!waiting.is_finished());
            flow.stop();
            assert!(!waiting.join().unwrap());
        });
        assert_eq!(flow.take(10), None);
    }
}
