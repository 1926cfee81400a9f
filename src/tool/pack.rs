//! `wwz pack DIR -o OUT.wwz`: a directory tree → an archive built for serving.
//!
//! - Members in sorted order (byte order within each directory, depth first),
//!   directories as `name/` entries, so the same tree gives the same bytes.
//! - `--deflate auto` (the default) deflates text-like members that shrink by
//!   ≥ 10 %; the rest are stored, their data aligned.
//! - `--jobs` workers open, read and compress files within a bounded window
//!   ahead of the archive; whichever holds the next member in order writes
//!   it, so reading and writing overlap. The bytes written (and the error
//!   reported, if any) do not depend on the number of threads.
//! - `--precompress br,zstd,gz` adds stored siblings `NAME.br`, `NAME.zst`,
//!   `NAME.gz` after a text-like member where they save ≥ 10 % over what the
//!   archive already offers for it (see [`add_siblings`]).
//! - Times: each file's mtime (UT extra field + DOS time as UTC), or one time
//!   for all from `--mtime` / `SOURCE_DATE_EPOCH`. Permissions become 0644 or
//!   0755 (any execute bit); no owners, no access times.
//! - Symbolic links are followed (a link to a directory is packed as that
//!   directory); a dangling link or a loop is an error. Sockets, FIFOs and
//!   devices are skipped with a warning. The output file (and its temporary
//!   twin) are never packed into themselves.
//! - Written to a temporary file beside OUT (its writeback started as each
//!   MiB is written), fsynced, renamed into place, the directory fsynced.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{IsTerminal, Read};
use std::num::NonZeroUsize;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Instant;

use clap::{Args, ValueEnum};

use super::compress::{self, Deflater};
use super::write::{Member, Writer, MAX_ALIGN};
use super::{fail, Error, Output};
use crate::zip::format::{FLAG_UTF8, METHOD_DEFLATED, METHOD_STORED};
use crate::zip::name::member_name_problem;

/// `--align auto`: members at least this large are page-aligned…
pub const AUTO_LARGE: u64 = 64 * 1024;
/// …to this (the page size of x86-64 and most arm64 kernels)…
pub const AUTO_PAGE: u32 = 4096;
/// …and smaller ones to this, as `zipalign -c 4` requires.
pub const AUTO_SMALL: u32 = 4;
/// `--align auto` also page-aligns about one member in this many, chosen by a
/// hash of its name (so the choice does not depend on any file's contents).
/// The padding before such a member absorbs small size changes earlier in the
/// archive: later members keep their offsets, so their central directory
/// headers stay byte-identical and rsync sends only the changed region.
pub const RESYNC_EVERY: u64 = 256;
/// Members larger than this are never deflated (compression happens in memory).
const DEFLATE_MAX: u64 = 256 << 20;
/// Workers hold at most this many bytes of file data read ahead of the writer
/// (more only for the one file the writer waits for): what pack holds in memory.
const WINDOW_BYTES: u64 = 64 << 20;
/// …and work at most this many members ahead of the writer.
const WINDOW_ITEMS: usize = 256;
/// Stored files up to this size are read by a worker (with their CRC-32), off
/// the writer's thread; larger ones stream from disk through the writer's buffer.
const READ_MAX: u64 = 8 << 20;
/// A tree with at least this many entries gets a progress bar on a terminal.
const PROGRESS_MIN: usize = 2000;
/// Version made by: Unix (3), APPNOTE 2.0; version needed 2.0 (deflate, directories).
const MADE_BY: u16 = 0x0314;
const VERSION_NEEDED: u16 = 20;

#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:
  wwz pack public/ -o site.wwz                (text deflated, the rest stored and aligned)
  wwz pack public/ -o site.wwz --precompress br,zstd   (+ NAME.br, NAME.zst siblings)
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) wwz pack build/ -o build.wwz
  wwz pack dist/ -o dist.wwz --deflate never --align 4096   (all stored, page-aligned)

Symbolic links are followed; dangling links and loops are errors. Sockets,
FIFOs and devices are skipped with a warning. See docs/pack.md.")]
pub struct PackArgs {
    /// Directory to pack; its contents become the archive's top level.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// Archive to write; replaced by rename, never rewritten in place.
    #[arg(short, long, value_name = "OUT.wwz")]
    pub output: PathBuf,

    /// Which members to deflate: `auto` (text-like members that shrink by at
    /// least 10%), `never` (all stored), `always` (every non-empty file).
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
    pub deflate: Deflate,

    /// Add stored precompressed siblings NAME.br / NAME.zst / NAME.gz beside
    /// text-like members where they save at least 10%; any of br, zstd, gz.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "CODINGS")]
    pub precompress: Vec<Coding>,

    /// Threads that read, compress and write files (default: the number of
    /// cores). The archive is byte-identical whatever the number.
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<NonZeroUsize>,

    /// Smallest deflate output (libdeflate level 12), several times slower.
    #[arg(long)]
    pub best: bool,

    /// Alignment of stored members' data: a power of two up to 65536, or
    /// `auto`: 4096 for members of 64 KiB or more, 4 for smaller ones.
    #[arg(long, default_value = "auto", value_parser = parse_align, value_name = "N")]
    pub align: Align,

    /// Give every member this time (Unix seconds) instead of its file's mtime.
    #[arg(long, env = "SOURCE_DATE_EPOCH", value_name = "SECS")]
    pub mtime: Option<i64>,

    /// No progress bar and no summary line (warnings and errors still print).
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deflate {
    Never,
    Auto,
    Always,
}

/// A precompressed sibling's coding (`--precompress`).
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Coding {
    Br,
    Zstd,
    Gz,
}

impl Coding {
    /// The suffix of the sibling's name.
    pub fn suffix(self) -> &'static str {
        match self {
            Coding::Br => ".br",
            Coding::Zstd => ".zst",
            Coding::Gz => ".gz",
        }
    }
}

/// The alignment of stored members' data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// [`AUTO_PAGE`] for members of [`AUTO_LARGE`] bytes or more, else [`AUTO_SMALL`].
    Auto,
    Fixed(u32),
}

impl Align {
    /// The alignment of a stored member named `name` with `size` bytes.
    pub fn for_member(self, name: &[u8], size: u64) -> u32 {
        match self {
            Align::Auto if size >= AUTO_LARGE || is_resync_point(name) => AUTO_PAGE,
            Align::Auto => AUTO_SMALL,
            Align::Fixed(n) => n,
        }
    }
}

/// Whether `--align auto` page-aligns this member to resynchronise offsets
/// (see [`RESYNC_EVERY`]). FNV-1a: fixed forever, unlike std's hasher.
pub fn is_resync_point(name: &[u8]) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % RESYNC_EVERY == 0
}

/// Parses `--align`: `auto` or a power of two from 1 to 65536.
pub fn parse_align(s: &str) -> Result<Align, String> {
    if s == "auto" {
        return Ok(Align::Auto);
    }
    match s.parse::<u32>() {
        Ok(n) if n.is_power_of_two() && n <= MAX_ALIGN => Ok(Align::Fixed(n)),
        _ => Err(format!(
            "expected `auto` or a power of two from 1 to {MAX_ALIGN}"
        )),
    }
}

/// One thing to pack, found by the walk.
struct Item {
    /// The member name: `/`-separated, directories end in `/`.
    name: String,
    path: PathBuf,
    /// For directories, their mtime (files are stat'ed when opened).
    dir_mtime: Option<i64>,
}

/// What a pack did, for the summary line.
#[derive(Debug, Default, Clone, Copy)]
pub struct Summary {
    pub files: u64,
    pub dirs: u64,
    pub deflated: u64,
    /// Precompressed siblings added.
    pub siblings: u64,
    /// Uncompressed bytes of all files.
    pub bytes: u64,
    pub archive_bytes: u64,
}

pub fn run(args: &PackArgs) -> ExitCode {
    let start = Instant::now();
    match pack(args) {
        Ok(s) => {
            if !args.quiet {
                eprintln!(
                    "wwz pack: {}: {} members ({} files, {} directories, {} deflated, \
                     {} precompressed siblings), {} bytes of data, {} bytes written, {:.2} s",
                    args.output.display(),
                    s.files + s.dirs + s.siblings,
                    s.files,
                    s.dirs,
                    s.deflated,
                    s.siblings,
                    s.bytes,
                    s.archive_bytes,
                    start.elapsed().as_secs_f64()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

/// Packs `args.dir` into `args.output`.
pub fn pack(args: &PackArgs) -> Result<Summary, Error> {
    let root = &args.dir;
    let root_meta = fs::metadata(root).map_err(Error::io(root, "read"))?;
    if !root_meta.is_dir() {
        return Err(Error::input(root, "not a directory"));
    }
    let mut out = Output::create(&args.output)?;
    // Never pack the archive into itself, old or new.
    let mut exclude = Vec::new();
    for p in [out.tmp_path(), out.dest()] {
        if let Ok(m) = fs::metadata(p) {
            exclude.push((m.dev(), m.ino()));
        }
    }
    let mut items = Vec::new();
    let mut ancestors = vec![(root_meta.dev(), root_meta.ino())];
    walk(root, "", &mut ancestors, &mut items, args.mtime)?;

    let progress = (!args.quiet && items.len() >= PROGRESS_MIN && std::io::stderr().is_terminal())
        .then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(items.len() as u64),
                indicatif::ProgressDrawTarget::stderr(),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} members, {msg} ({elapsed})",
            ) {
                bar.set_style(style);
            }
            bar
        });

    let file = out
        .take_file()
        .ok_or_else(|| Error::input(&args.output, "output already taken"))?;
    let w = Writer::new(file, out.tmp_path());
    let (w, mut summary) = write_items(&items, args, &exclude, w, progress.as_ref())?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    summary.archive_bytes = w.position();
    let file = w.finish(b"")?;
    summary.archive_bytes = file
        .metadata()
        .map(|m| m.len())
        .unwrap_or(summary.archive_bytes);
    out.commit(file)?;
    Ok(summary)
}

/// Writes the members of `items` into `w`, in order. `jobs` workers open,
/// read and compress items, in any order within the window; whichever
/// finishes the item next in the walk's order writes it (and the ones after
/// it that are ready) while the others keep reading. The archive does not
/// depend on `jobs` or on timing, nor does the error reported: the first in
/// the walk's order.
fn write_items(
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
    let names: HashSet<&str> = items.iter().map(|i| i.name.as_str()).collect();
    let ctx = Context {
        items,
        args,
        names: &names,
        exclude,
        flow: Flow::default(),
        queue: Mutex::default(),
        sink: Mutex::new(Sink {
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
    let Sink { w, summary, failed } = ctx
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
struct Context<'a> {
    items: &'a [Item],
    args: &'a PackArgs,
    names: &'a HashSet<&'a str>,
    exclude: &'a [(u64, u64)],
    flow: Flow,
    /// Items prepared ahead of the next one to write.
    queue: Mutex<Queue>,
    /// The archive being written: held by the worker writing.
    sink: Mutex<Sink>,
    progress: Option<&'a indicatif::ProgressBar>,
}

#[derive(Default)]
struct Queue {
    /// The next item to write.
    next: usize,
    /// Prepared items (or their errors) waiting for the ones before them.
    early: HashMap<usize, Result<Ready, Error>>,
}

struct Sink {
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

impl Context<'_> {
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
    fn write(&self, sink: &mut Sink, i: usize, ready: Ready) -> Result<u64, Error> {
        let Some(item) = self.items.get(i) else {
            return Ok(0);
        };
        let Sink { w, summary, .. } = sink;
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
                let held = if matches!(body, Body::Read(_)) {
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
            Source::Dir(mtime) => return Ok(Some(Ready::Dir(mtime))),
            Source::Skip => return Ok(Some(Ready::Skip)),
            Source::File { file, meta, size } => (file, meta, size),
        };
        let args = self.args;
        let body = if compressible(args, &item.name, size) || size <= READ_MAX {
            if !self.flow.reserve(i, size) {
                return Ok(None);
            }
            let deflater = deflater.get_or_insert_with(|| Deflater::new(args.best));
            Body::Read(read_and_compress(
                item, &file, size, args, self.names, deflater,
            )?)
        } else {
            Body::Stream(file)
        };
        Ok(Some(Ready::File {
            mtime: meta.mtime(),
            mode: meta.mode(),
            size,
            body,
        }))
    }
}

/// Appends the entries under `dir` (member names starting with `prefix`) in sorted order.
fn walk(
    dir: &Path,
    prefix: &str,
    ancestors: &mut Vec<(u64, u64)>,
    items: &mut Vec<Item>,
    mtime: Option<i64>,
) -> Result<(), Error> {
    let mut entries = Vec::new();
    for e in fs::read_dir(dir).map_err(Error::io(dir, "read directory"))? {
        let e = e.map_err(Error::io(dir, "read directory"))?;
        let ft = e.file_type().map_err(Error::io(&e.path(), "stat"))?;
        entries.push((e.file_name(), ft));
    }
    entries.sort_unstable_by(|a, b| a.0.as_encoded_bytes().cmp(b.0.as_encoded_bytes()));
    for (file_name, mut ft) in entries {
        let path = dir.join(&file_name);
        let Some(name) = file_name.to_str() else {
            return Err(Error::input(&path, "file name is not UTF-8"));
        };
        let member = format!("{prefix}{name}");
        if let Some(problem) = member_name_problem(member.as_bytes()) {
            return Err(Error::input(
                &path,
                format!("cannot be a member: {problem}"),
            ));
        }
        let mut meta = None;
        if ft.is_symlink() {
            // Followed: the link's target is packed under the link's name.
            let m = fs::metadata(&path).map_err(|e| {
                Error::input(&path, format!("symbolic link cannot be followed: {e}"))
            })?;
            ft = m.file_type();
            meta = Some(m);
        }
        if ft.is_dir() {
            let m = match meta {
                Some(m) => m,
                None => fs::metadata(&path).map_err(Error::io(&path, "stat"))?,
            };
            let id = (m.dev(), m.ino());
            if ancestors.contains(&id) {
                return Err(Error::input(&path, "symbolic link loop"));
            }
            let member = member + "/";
            items.push(Item {
                name: member.clone(),
                path: path.clone(),
                dir_mtime: Some(mtime.unwrap_or(m.mtime())),
            });
            ancestors.push(id);
            walk(&path, &member, ancestors, items, mtime)?;
            ancestors.pop();
        } else if ft.is_file() {
            items.push(Item {
                name: member,
                path,
                dir_mtime: None,
            });
        } else {
            let kind = if ft.is_socket() {
                "socket"
            } else if ft.is_fifo() {
                "FIFO"
            } else if ft.is_block_device() || ft.is_char_device() {
                "device"
            } else {
                "special file"
            };
            eprintln!(
                "wwz pack: {}: skipped: a {kind} cannot be packed",
                path.display()
            );
        }
    }
    Ok(())
}

/// The UT extra field (APPNOTE 4.6.x, Info-ZIP "extended timestamp") with the mtime only.
fn ut_field(mtime: i64) -> [u8; 9] {
    let t = mtime.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    let [a, b, c, d] = t.to_le_bytes();
    [0x55, 0x54, 5, 0, 1, a, b, c, d]
}

fn base_member<'a>(name: &'a str, mtime: i64, ut: &'a [u8; 9], mode: u32) -> Member<'a> {
    let (dos_date, dos_time) = crate::util::time::unix_to_dos(mtime);
    Member {
        name: name.as_bytes(),
        flags: FLAG_UTF8,
        method: METHOD_STORED,
        dos_date,
        dos_time,
        crc32: 0,
        compressed_size: 0,
        size: 0,
        made_by: MADE_BY,
        version_needed: VERSION_NEEDED,
        internal_attrs: 0,
        external_attrs: mode << 16,
        local_extra: ut,
        central_extra: ut,
        comment: &[],
        align: None,
    }
}

fn add_dir(w: &mut Writer, item: &Item, mtime: i64, align: Align) -> Result<(), Error> {
    let ut = ut_field(mtime);
    let mut m = base_member(&item.name, mtime, &ut, 0o040_755);
    // MS-DOS directory attribute, as Info-ZIP sets it.
    m.external_attrs |= 0x10;
    m.align = Some(align.for_member(item.name.as_bytes(), 0));
    let at = w.begin(&m)?;
    w.end(&m, at)
}

/// An item of a batch, opened.
enum Source {
    Dir(i64),
    File {
        file: File,
        meta: fs::Metadata,
        size: u64,
    },
    /// The output itself.
    Skip,
}

fn open(item: &Item, exclude: &[(u64, u64)]) -> Result<Source, Error> {
    if let Some(mtime) = item.dir_mtime {
        return Ok(Source::Dir(mtime));
    }
    let path = &item.path;
    let file = File::open(path).map_err(Error::io(path, "open"))?;
    let meta = file.metadata().map_err(Error::io(path, "stat"))?;
    if !meta.is_file() {
        return Err(Error::input(
            path,
            "changed into a non-regular file while packing",
        ));
    }
    if exclude.contains(&(meta.dev(), meta.ino())) {
        return Ok(Source::Skip);
    }
    let size = meta.len();
    Ok(Source::File { file, meta, size })
}

/// An item prepared by a worker.
enum Ready {
    Dir(i64),
    File {
        /// The file's mtime and mode.
        mtime: i64,
        mode: u32,
        size: u64,
        body: Body,
    },
    /// The output itself.
    Skip,
}

/// A file's data: read (and compressed) by a worker, or left for the writer
/// to stream from the file (large stored files).
enum Body {
    Read(Done),
    Stream(File),
}

/// A file read and compressed by a worker, ready to be written.
struct Done {
    /// The file's bytes; left empty when the member is deflated.
    data: Vec<u8>,
    crc32: u32,
    /// The deflated data, when the member is to be deflated.
    deflated: Option<Vec<u8>>,
    /// Precompressed siblings, in `Coding` order.
    siblings: Vec<(Coding, Vec<u8>)>,
}

/// Whether a worker reads this file (to deflate it or make its siblings).
fn compressible(args: &PackArgs, name: &str, size: u64) -> bool {
    deflate_candidate(args.deflate, name, size)
        || (!args.precompress.is_empty() && deflate_candidate(Deflate::Auto, name, size))
}

/// Reads one file, computes its CRC-32 and compresses it as `args` ask.
fn read_and_compress(
    item: &Item,
    mut file: &File,
    size: u64,
    args: &PackArgs,
    names: &HashSet<&str>,
    deflater: &mut Deflater,
) -> Result<Done, Error> {
    let path = &item.path;
    let mut data = Vec::with_capacity(size as usize);
    (&mut file)
        .take(size)
        .read_to_end(&mut data)
        .map_err(Error::io(path, "read"))?;
    if data.len() as u64 != size {
        return Err(Error::input(path, "file shrank while being read"));
    }
    let crc32 = crc32fast::hash(&data);
    let text = crate::content::mime::media_type(&item.name).is_some_and(|(_, text)| text)
        || !data.iter().take(8192).any(|&b| b == 0);
    let mut deflated = None;
    if deflate_candidate(args.deflate, &item.name, size)
        && (args.deflate == Deflate::Always || text)
    {
        let d = deflater
            .deflate(&data)
            .map_err(Error::io(path, "compress"))?;
        if args.deflate == Deflate::Always || saves(d.len(), size) {
            deflated = Some(d);
        }
    }
    let mut siblings = Vec::new();
    if text && !args.precompress.is_empty() && deflate_candidate(Deflate::Auto, &item.name, size) {
        let baseline = deflated.as_ref().map_or(size, |d| d.len() as u64);
        add_siblings(
            item,
            &data,
            crc32,
            baseline,
            args,
            names,
            deflater,
            &mut siblings,
        )?;
    }
    if deflated.is_some() {
        data = Vec::new();
    }
    Ok(Done {
        data,
        crc32,
        deflated,
        siblings,
    })
}

/// Whether `len` bytes save at least 10 % over `than`.
fn saves(len: usize, than: u64) -> bool {
    (len as u64).saturating_mul(10) <= than.saturating_mul(9)
}

/// The siblings of a text-like member: each coding of `--precompress`, kept
/// where it saves ≥ 10 % over `baseline`, what the archive already offers for
/// NAME (the deflated member, which a client taking gzip gets as gzip; or the
/// stored bytes). So with the default `--deflate auto`, `NAME.gz` is rarely
/// worth it, and with `--deflate never` it gives gzip clients a compressed body
/// while ranges keep coming zero-copy from the stored NAME. A sibling name that
/// is already a file of the tree is left to that file.
#[allow(clippy::too_many_arguments)]
fn add_siblings(
    item: &Item,
    data: &[u8],
    crc32: u32,
    baseline: u64,
    args: &PackArgs,
    names: &HashSet<&str>,
    deflater: &mut Deflater,
    out: &mut Vec<(Coding, Vec<u8>)>,
) -> Result<(), Error> {
    let mut codings = args.precompress.clone();
    codings.sort_unstable();
    codings.dedup();
    for coding in codings {
        if names.contains(format!("{}{}", item.name, coding.suffix()).as_str()) {
            continue;
        }
        let bytes = match coding {
            Coding::Br => compress::brotli(data),
            Coding::Zstd => compress::zstd(data),
            Coding::Gz => deflater.gzip(data, crc32),
        }
        .map_err(Error::io(&item.path, "compress"))?;
        if saves(bytes.len(), baseline) {
            out.push((coding, bytes));
        }
    }
    Ok(())
}

/// Writes one file (with its siblings), compressed or streamed stored.
#[allow(clippy::too_many_arguments)]
fn add_file(
    w: &mut Writer,
    item: &Item,
    args: &PackArgs,
    body: Body,
    (file_mtime, mode): (i64, u32),
    size: u64,
    summary: &mut Summary,
) -> Result<(), Error> {
    let mtime = args.mtime.unwrap_or(file_mtime);
    let perm = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
    let ut = ut_field(mtime);
    let mut m = base_member(&item.name, mtime, &ut, 0o100_000 | perm);
    m.size = size;
    summary.bytes += size;
    let done = match body {
        Body::Read(done) => done,
        Body::Stream(mut file) => {
            // A large stored file: streamed from the file into the archive.
            m.compressed_size = size;
            m.align = Some(args.align.for_member(item.name.as_bytes(), size));
            let at = w.begin(&m)?;
            m.crc32 = w.fill_from(&mut file, size, &item.path)?;
            return w.end(&m, at);
        }
    };
    m.crc32 = done.crc32;
    match &done.deflated {
        Some(deflated) => {
            m.method = METHOD_DEFLATED;
            m.compressed_size = deflated.len() as u64;
            let at = w.begin(&m)?;
            w.write(deflated)?;
            w.end(&m, at)?;
            summary.deflated += 1;
        }
        None => {
            m.compressed_size = size;
            m.align = Some(args.align.for_member(item.name.as_bytes(), size));
            let at = w.begin(&m)?;
            w.write(&done.data)?;
            w.end(&m, at)?;
        }
    }
    for (coding, bytes) in &done.siblings {
        let name = format!("{}{}", item.name, coding.suffix());
        let mut s = base_member(&name, mtime, &ut, 0o100_644);
        let len = bytes.len() as u64;
        s.crc32 = crc32fast::hash(bytes);
        s.size = len;
        s.compressed_size = len;
        s.align = Some(args.align.for_member(name.as_bytes(), len));
        let at = w.begin(&s)?;
        w.write(bytes)?;
        w.end(&s, at)?;
        summary.siblings += 1;
    }
    Ok(())
}

/// Whether a member is worth trying to deflate: `auto` tries text-like names
/// (by extension) and names without a known type (then sniffed for NUL bytes).
fn deflate_candidate(mode: Deflate, name: &str, size: u64) -> bool {
    if size == 0 || size > DEFLATE_MAX {
        return false;
    }
    match mode {
        Deflate::Never => false,
        Deflate::Always => true,
        Deflate::Auto => match crate::content::mime::media_type(name) {
            Some((mime, text)) => text || mime == "application/octet-stream",
            None => true,
        },
    }
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;

    #[test]
    fn align_values() {
        assert_eq!(parse_align("auto"), Ok(Align::Auto));
        assert_eq!(parse_align("1"), Ok(Align::Fixed(1)));
        assert_eq!(parse_align("65536"), Ok(Align::Fixed(65_536)));
        for bad in ["0", "3", "131072", "-4", "x", ""] {
            assert!(parse_align(bad).is_err(), "{bad}");
        }
        assert_eq!(Align::Auto.for_member(b"a", 0), AUTO_SMALL);
        assert_eq!(Align::Auto.for_member(b"a", AUTO_LARGE), AUTO_PAGE);
        assert_eq!(Align::Fixed(8).for_member(b"a", AUTO_LARGE), 8);
        // About one name in RESYNC_EVERY is a resynchronisation point.
        let n = (0..100_000)
            .filter(|i| is_resync_point(format!("d/f{i}.txt").as_bytes()))
            .count();
        assert!((250..650).contains(&n), "{n}");
    }

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

    #[test]
    fn ut_clamps() {
        assert_eq!(ut_field(1 << 40)[5..], i32::MAX.to_le_bytes());
        assert_eq!(ut_field(0x0102_0304)[5..], [4, 3, 2, 1]);
    }
}
