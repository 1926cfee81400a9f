//! `wwz pack DIR -o OUT.wwz`: a directory tree → an archive built for serving.
//!
//! How a run goes, top to bottom:
//!
//! 1. `args`: the command line, and the policy it sets: which files are
//!    compressed, what counts as text, how stored data is aligned.
//! 2. [`pack`] opens OUT's temporary twin and `walk`s DIR into a list of
//!    items, directories and files in the order they will be written.
//! 3. `pipeline`: `--jobs` workers take items in order within a bounded
//!    window, open, read and compress them; whichever holds the next item in
//!    order writes it (and the ready ones after it), so reading and writing
//!    overlap and the archive does not depend on timing.
//! 4. `member`: what a worker makes of a file (data, CRC-32, deflated data,
//!    siblings), and the headers the writer assembles around it.
//! 5. [`pack`] finishes the archive (central directory, index), fsyncs it and
//!    renames it over OUT; [`run`] prints the summary line.
//!
//! What comes out:
//!
//! - Members in sorted order (byte order within each directory, depth first),
//!   directories as `name/` entries, so the same tree gives the same bytes.
//! - `--deflate auto` (the default) deflates text-like members that shrink by
//!   ≥ 10 %; the rest are stored, their data aligned.
//! - The bytes written (and the error reported, if any) do not depend on the
//!   number of threads.
//! - `--precompress br,zstd,gz` adds stored siblings `NAME.br`, `NAME.zst`,
//!   `NAME.gz` after a text-like member where they save ≥ 10 % over what the
//!   archive already offers for it (see `member::add_siblings`).
//! - Times: each file's mtime (UT extra field + DOS time as UTC), or one time
//!   for all from `--mtime` / `SOURCE_DATE_EPOCH`. Permissions become 0644 or
//!   0755 (any execute bit); no owners, no access times.
//! - Symbolic links are followed (a link to a directory is packed as that
//!   directory); a dangling link or a loop is an error. Sockets, FIFOs and
//!   devices are skipped with a warning. The output file (and its temporary
//!   twin) are never packed into themselves.
//! - Written to a temporary file beside OUT (its writeback started as each
//!   MiB is written), fsynced, renamed into place, the directory fsynced.

mod args;
mod member;
mod pipeline;
mod walk;

use std::fs;
use std::io::IsTerminal;
use std::os::unix::fs::MetadataExt;
use std::process::ExitCode;
use std::time::Instant;

pub use args::{
    is_resync_point, parse_align, Align, Deflate, PackArgs, AUTO_LARGE, AUTO_PAGE, AUTO_SMALL,
    RESYNC_EVERY,
};

use super::write::Writer;
use super::{fail, Error, Output};

/// A tree with at least this many entries gets a progress bar on a terminal.
const PROGRESS_MIN: usize = 2000;

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
    walk::walk(root, "", &mut ancestors, &mut items, args.mtime)?;

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
    let (w, mut summary) = pipeline::write_items(&items, args, &exclude, w, progress.as_ref())?;
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
