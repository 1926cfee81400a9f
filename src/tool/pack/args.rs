//! What a pack run is asked to do, and the policy it follows: the command
//! line (`PackArgs`, `--deflate`, `--align`) and the decisions made per file
//! from it (which files are read to be compressed, which are text, when
//! compressing pays). Kept apart so the rules can be read in one place.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::builder::PossibleValue;
use clap::{Args, ValueEnum};

use crate::content::coding::Coding;
use crate::tool::write::MAX_ALIGN;

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

/// The codings `--precompress` offers, in the order `--help` lists them and
/// siblings follow their member in the archive. Fixed here, not taken from
/// [`Coding::ALL`] (an order of preference, free to change): the archive's
/// bytes must not.
pub(super) const SIBLING_CODINGS: [Coding; 3] = [Coding::Br, Coding::Zstd, Coding::Gzip];

/// `--precompress` values are the siblings' suffixes without the dot: `br`,
/// `zstd`, `gz` (not the `gzip` token), listed in `--help`, the man page and
/// the completions as the possible values.
impl ValueEnum for Coding {
    fn value_variants<'a>() -> &'a [Self] {
        &SIBLING_CODINGS
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(match self {
            Coding::Br => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gz",
        }))
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

/// Whether a worker reads this file (to deflate it or make its siblings).
pub(super) fn compressible(args: &PackArgs, name: &str, size: u64) -> bool {
    deflate_candidate(args.deflate, name, size)
        || (!args.precompress.is_empty() && deflate_candidate(Deflate::Auto, name, size))
}

/// Whether `len` bytes save at least 10 % over `than`.
pub(super) fn saves(len: usize, than: u64) -> bool {
    (len as u64).saturating_mul(10) <= than.saturating_mul(9)
}

/// Whether a file is text-like: by its name's media type, or for other
/// names by the absence of NUL bytes in its first 8 KiB.
pub(super) fn is_text(name: &str, data: &[u8]) -> bool {
    crate::content::mime::media_type(name).is_some_and(|(_, text)| text)
        || !data.iter().take(8192).any(|&b| b == 0)
}

/// Whether a member is worth trying to deflate: `auto` tries text-like names
/// (by extension) and names without a known type (then sniffed for NUL bytes).
pub(super) fn deflate_candidate(mode: Deflate, name: &str, size: u64) -> bool {
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

    /// `--precompress` takes exactly `br`, `zstd`, `gz` (a user contract).
    #[test]
    fn precompress_values() {
        let names: Vec<_> = Coding::value_variants()
            .iter()
            .filter_map(|c| c.to_possible_value())
            .map(|v| v.get_name().to_owned())
            .collect();
        assert_eq!(names, ["br", "zstd", "gz"]);
        assert_eq!(Coding::from_str("gz", false), Ok(Coding::Gzip));
        assert_eq!(Coding::from_str("zstd", false), Ok(Coding::Zstd));
        assert!(Coding::from_str("gzip", false).is_err());
        assert!(Coding::from_str("zst", false).is_err());
    }
}
