//! `wwz check FILE...`: is each archive servable and safe?
//!
//! An archive passes when wwz's own index accepts it and every member has a
//! safe, unique name; no encryption; method 0, 8 or 93 (zstd, whose frame
//! window wwz must be able to decode); a local header that agrees
//! with the central directory (name, method, flags, CRC-32 and sizes unless a
//! data descriptor carries them); data inside the file, before the central
//! directory and overlapping no other member; stored data aligned (to
//! `--align`, 4 by default as `zipalign -c 4` checks, and to what its 0xD935
//! record declares); data whose CRC-32 (after inflating or decoding, for
//! compressed members) matches, and precompressed siblings (`NAME.br`,
//! `NAME.zst`, `NAME.gz`) that decode to exactly `NAME` (`--fast` skips
//! both); and no symbolic-link members ([`siblings`]).

mod siblings;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::read::{declared_alignment, read_local, Central, Directory, Local};
use super::{display_name, printable};
use crate::archive::inflate::ZSTD_DECODE_WINDOW_LOG_MAX;
use crate::content::coding::Coding;
use crate::site::{headers, redirects};
use crate::util::json::json_str;
use crate::zip::format::{
    zstd_frame_window, FLAG_DATA_DESCRIPTOR, FLAG_ENCRYPTED, METHOD_DEFLATED, METHOD_STORED,
    METHOD_ZSTD,
};
use crate::zip::name::member_name_problem;
use crate::zip::read::RangeReader;
use crate::zip::{Index, IndexError};

#[derive(Args, Debug, Clone)]
#[command(
    after_help = "Prints one line per problem, `FILE: member NAME: PROBLEM` (or `FILE: PROBLEM`
for the archive as a whole), nothing for a clean archive. Exit status: 0 if every
FILE is clean, 1 if any has a problem, 2 on usage errors.

Examples:
  wwz check site.wwz
  wwz check --fast releases/*.wwz        (skip CRC-32 verification)
  wwz check --json build.wwz | jq '.[].problems'"
)]
pub struct CheckArgs {
    /// Archives to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Skip reading member data (no CRC-32 or inflate checks).
    #[arg(long)]
    pub fast: bool,

    /// Require stored members' data to start at a multiple of N (a power of two).
    #[arg(long, default_value_t = 4, value_parser = parse_pow2, value_name = "N")]
    pub align: u32,

    /// Print a JSON array with one object per FILE instead of lines.
    #[arg(long)]
    pub json: bool,
}

fn parse_pow2(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if n.is_power_of_two() && n <= 65_536 => Ok(n),
        _ => Err("expected a power of two from 1 to 65536".into()),
    }
}

/// One problem found; `member` is `None` for the archive as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub member: Option<String>,
    pub problem: String,
}

/// The result of checking one file.
#[derive(Debug, Clone)]
pub struct Report {
    pub members: usize,
    /// The index `wwz pack` writes before the directory: "valid", "stale"
    /// (written for another directory, or damaged: ignored, the archive is
    /// indexed when opened) or "absent".
    pub index: &'static str,
    pub problems: Vec<Problem>,
}

pub fn run(args: &CheckArgs) -> ExitCode {
    let mut json = String::from("[");
    let mut any = false;
    for (i, path) in args.files.iter().enumerate() {
        let report = check_file(path, args.fast, args.align);
        any |= !report.problems.is_empty();
        if args.json {
            if i > 0 {
                json.push(',');
            }
            json.push_str("\n  {\"file\": ");
            json_str(&mut json, &path.to_string_lossy());
            json.push_str(&format!(
                ", \"members\": {}, \"index\": \"{}\", \"ok\": {}, \"problems\": [",
                report.members,
                report.index,
                report.problems.is_empty()
            ));
            for (j, p) in report.problems.iter().enumerate() {
                if j > 0 {
                    json.push_str(", ");
                }
                json.push_str("{\"member\": ");
                match &p.member {
                    Some(m) => json_str(&mut json, m),
                    None => json.push_str("null"),
                }
                json.push_str(", \"problem\": ");
                json_str(&mut json, &p.problem);
                json.push('}');
            }
            json.push_str("]}");
        } else {
            if report.index == "stale" {
                println!(
                    "{}: note: the index wwz pack wrote is stale (the directory changed since): ignored, the archive is indexed when opened",
                    path.display()
                );
            }
            for p in &report.problems {
                match &p.member {
                    Some(m) => {
                        println!("{}: member {}: {}", path.display(), printable(m), p.problem)
                    }
                    None => println!("{}: {}", path.display(), p.problem),
                }
            }
        }
    }
    if args.json {
        json.push_str("\n]");
        println!("{json}");
    }
    if any {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Checks one archive; `align` is the alignment every stored member must have.
/// The archive-wide checks come first (a failure there ends the check), then
/// each member's, then the ones across members and the site's.
pub fn check_file(path: &Path, fast: bool, align: u32) -> Report {
    let mut report = Report {
        members: 0,
        index: "absent",
        problems: Vec::new(),
    };
    let file = match open_servable(path) {
        Ok(file) => file,
        Err(problem) => return report.with(Problem::whole(problem)),
    };
    report.index = packed_index(&file);
    let dir = match Directory::read(&file, path) {
        Ok(d) => d,
        Err(e) => return report.with(Problem::whole(e.to_string())),
    };
    report.members = dir.members.len();
    let mut seen = HashSet::with_capacity(dir.members.len());
    // (start, end, member index) of each member's header and data.
    let mut ranges: Vec<(u64, u64, usize)> = Vec::with_capacity(dir.members.len());
    // Where each member's data starts, for the sibling checks after the walk.
    let mut data_at: Vec<Option<u64>> = vec![None; dir.members.len()];
    let align = u64::from(align.max(1));
    for (i, m) in dir.members.iter().enumerate() {
        let mut problems = name_problems(m, &mut seen);
        problems.extend(method_problems(m));
        problems.extend(siblings::symlink_problem(m));
        match read_local(&file, m.local_offset) {
            Err(e) => problems.push(format!("{e} ({})", m.local_offset)),
            Ok(local) => {
                problems.extend(local_header_problems(m, &local));
                if let Some(end) = local.data_offset.checked_add(m.compressed_size) {
                    ranges.push((m.local_offset, end, i));
                }
                let placement = placement_problem(m, &local, &dir);
                let in_file = placement.is_none();
                if let Some(slot) = data_at.get_mut(i) {
                    *slot = in_file.then_some(local.data_offset);
                }
                problems.extend(placement);
                problems.extend(zstd_window_problem(&file, m, &local));
                problems.extend(alignment_problems(m, &local, align));
                if !fast && in_file && readable(m) {
                    problems.extend(verify_data(&file, local.data_offset, m));
                }
            }
        }
        let name = display_name(&m.name);
        report
            .problems
            .extend(problems.into_iter().map(|problem| Problem {
                member: Some(name.clone()),
                problem,
            }));
    }
    if !fast {
        report
            .problems
            .extend(sibling_problems(&file, &dir, &data_at));
    }
    report.problems.extend(overlap_problems(ranges, &dir));
    report.problems.extend(site_problems(path, &dir));
    report
}

/// Every precompressed sibling whose member exists, decoded and compared
/// with it.
fn sibling_problems(file: &File, dir: &Directory, data_at: &[Option<u64>]) -> Vec<Problem> {
    let by_name: HashMap<&[u8], &Central> =
        dir.members.iter().map(|m| (m.name.as_slice(), m)).collect();
    let mut problems = Vec::new();
    for (m, at) in dir.members.iter().zip(data_at) {
        let (Some((base_name, coding)), Some(at)) = (Coding::split_sibling(&m.name), at) else {
            continue;
        };
        let Some(base) = by_name.get(base_name) else {
            continue;
        };
        if let Some(problem) = siblings::sibling_problem(file, m, *at, coding, base) {
            problems.push(Problem {
                member: Some(display_name(&m.name)),
                problem,
            });
        }
    }
    problems
}

impl Report {
    /// The report, ended by `problem`.
    fn with(mut self, problem: Problem) -> Report {
        self.problems.push(problem);
        self
    }
}

impl Problem {
    /// A problem of the archive as a whole.
    fn whole(problem: String) -> Problem {
        Problem {
            member: None,
            problem,
        }
    }
}

/// Opens the archive and builds wwz's own index of it: a problem if the
/// server could not serve it. Overlapping members are let through: the
/// member checks name them.
fn open_servable(path: &Path) -> Result<File, String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    match Index::build(&file) {
        Ok(_) | Err(IndexError::OverlappingMembers { .. }) => Ok(file),
        Err(e) => Err(format!("not servable: {e}")),
    }
}

/// The index `wwz pack` writes before the directory: "valid", "stale" or "absent".
fn packed_index(file: &File) -> &'static str {
    match crate::zip::EndOfCentralDirectory::read(file)
        .map(|end| crate::zip::packed::probe(file, &end))
    {
        Ok(crate::zip::packed::PackedState::Valid(_)) => "valid",
        Ok(crate::zip::packed::PackedState::Stale) => "stale",
        _ => "absent",
    }
}

/// The member's name: unsafe to serve, or the same as an earlier member's.
fn name_problems<'a>(m: &'a Central, seen: &mut HashSet<&'a [u8]>) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(p) = member_name_problem(&m.name) {
        problems.push(p);
    }
    if !seen.insert(&m.name) {
        problems.push("duplicate name (another member has the same name)".into());
    }
    problems
}

/// Whether wwz can decode the member's data: not encrypted, a method it serves.
fn readable(m: &Central) -> bool {
    m.flags & FLAG_ENCRYPTED == 0 && supported_method(m.method)
}

fn supported_method(method: u16) -> bool {
    method == METHOD_STORED || method == METHOD_DEFLATED || method == METHOD_ZSTD
}

/// Encryption, the compression method, and a stored member's sizes.
fn method_problems(m: &Central) -> Vec<String> {
    let mut problems = Vec::new();
    if m.flags & FLAG_ENCRYPTED != 0 {
        problems.push("encrypted (wwz cannot serve it)".into());
    }
    if !supported_method(m.method) {
        problems.push(format!(
            "unsupported compression method {} (only 0, stored, 8, deflated, and 93, zstd, are served)",
            m.method
        ));
    }
    if m.method == METHOD_STORED && m.compressed_size != m.size {
        problems.push(format!(
            "stored, but its compressed size {} differs from its size {}",
            m.compressed_size, m.size
        ));
    }
    problems
}

/// Where the local header disagrees with the central directory: name,
/// method, encryption, and CRC-32 and sizes unless a data descriptor carries them.
fn local_header_problems(m: &Central, local: &Local) -> Vec<String> {
    let mut problems = Vec::new();
    if local.name != m.name {
        problems.push(format!(
            "local header name \"{}\" differs from the central directory's",
            printable(&display_name(&local.name))
        ));
    }
    if local.method != m.method {
        problems.push(format!(
            "local header method {} differs from the central directory's {}",
            local.method, m.method
        ));
    }
    if (local.flags ^ m.flags) & FLAG_ENCRYPTED != 0 {
        problems.push("local header encryption flag differs from the central directory's".into());
    }
    if local.flags & FLAG_DATA_DESCRIPTOR == 0 {
        if local.crc32 != m.crc32 {
            problems.push(format!(
                "local header CRC-32 {:08x} differs from the central directory's {:08x}",
                local.crc32, m.crc32
            ));
        }
        if (local.compressed_size, local.size) != (m.compressed_size, m.size) {
            problems.push(format!(
                "local header sizes {}/{} (compressed/uncompressed) differ from the \
                 central directory's {}/{}",
                local.compressed_size, local.size, m.compressed_size, m.size
            ));
        }
    }
    problems
}

/// The member's data must lie in the file, before the central directory.
fn placement_problem(m: &Central, local: &Local, dir: &Directory) -> Option<String> {
    match local.data_offset.checked_add(m.compressed_size) {
        Some(end) if end <= dir.cd_offset => None,
        Some(end) if end <= dir.file_len => Some(format!(
            "data ({}..{end}) runs into the central directory at {}",
            local.data_offset, dir.cd_offset
        )),
        _ => Some(format!(
            "data runs past the end of the file ({} + {} > {} bytes)",
            local.data_offset, m.compressed_size, dir.file_len
        )),
    }
}

/// A zstd member must start with a frame whose window wwz can decode.
fn zstd_window_problem(file: &File, m: &Central, local: &Local) -> Option<String> {
    if m.method != METHOD_ZSTD || m.compressed_size == 0 {
        return None;
    }
    let mut head = [0u8; 18];
    let n = usize::try_from(m.compressed_size).unwrap_or(18).min(18);
    let window = head.get_mut(..n).and_then(|h| {
        std::os::unix::fs::FileExt::read_exact_at(file, h, local.data_offset)
            .ok()
            .and_then(|()| zstd_frame_window(h))
    });
    match window {
        None => Some("zstd member does not start with a zstd frame".into()),
        Some(w) if w > 1 << ZSTD_DECODE_WINDOW_LOG_MAX => Some(format!(
            "zstd window of {} MiB: wwz decodes at most {} MiB",
            w >> 20,
            (1u64 << ZSTD_DECODE_WINDOW_LOG_MAX) >> 20
        )),
        Some(_) => None,
    }
}

/// A stored member's data must start at a multiple of `align` and of what
/// its alignment record (0xD935) declares.
fn alignment_problems(m: &Central, local: &Local, align: u64) -> Vec<String> {
    let mut problems = Vec::new();
    if m.method != METHOD_STORED {
        return problems;
    }
    if local.data_offset % align != 0 {
        problems.push(format!(
            "stored data at offset {} is not aligned to {align}",
            local.data_offset
        ));
    }
    if let Some(d) = declared_alignment(&local.extra) {
        if local.data_offset % u64::from(d) != 0 {
            problems.push(format!(
                "stored data at offset {} is not aligned to the {d} its \
                 alignment record declares",
                local.data_offset
            ));
        }
    }
    problems
}

/// Members whose header or data overlap: in offset order, each member must
/// start after every earlier one ends. `ranges` holds (start, end, member index).
fn overlap_problems(mut ranges: Vec<(u64, u64, usize)>, dir: &Directory) -> Vec<Problem> {
    ranges.sort_unstable();
    let mut furthest: Option<(u64, usize)> = None;
    let mut overlaps = Vec::new();
    for &(start, end, i) in &ranges {
        if let Some((prev_end, j)) = furthest {
            if start < prev_end {
                overlaps.push((i, j));
            }
        }
        if furthest.is_none_or(|(e, _)| end > e) {
            furthest = Some((end, i));
        }
    }
    let name = |k: usize| dir.members.get(k).map(|m| display_name(&m.name));
    overlaps
        .into_iter()
        .map(|(i, j)| Problem {
            member: name(i),
            problem: format!("overlaps member {}", name(j).unwrap_or_default()),
        })
        .collect()
}

/// What a static site in the archive would trip over, judged by the code
/// that serves it: `_redirects` lines the server skips (or a whole file it
/// ignores), `_headers` lines it skips, a limit that makes it ignore the
/// rest, and rules that match no member of `dir`; and no `index.html` at the
/// root of an archive that looks like a site (HTML pages, a `404.html`, a
/// `_redirects` or `_headers` at its root).
fn site_problems(path: &Path, dir: &Directory) -> Vec<Problem> {
    let Ok(archive) = crate::archive::Archive::open(path).map(std::sync::Arc::new) else {
        return Vec::new();
    };
    let index = archive.index();
    let mut problems = Vec::new();
    let redirects = index.get(b"_redirects");
    if let Some(entry) = redirects {
        let problem = |problem: String| Problem {
            member: Some("_redirects".into()),
            problem,
        };
        if entry.size() > redirects::MAX_BYTES as u64 {
            problems.push(problem(format!(
                "{} bytes, over the {} byte limit: the server ignores every rule",
                entry.size(),
                redirects::MAX_BYTES
            )));
        } else {
            match archive.read_member(entry, redirects::MAX_BYTES) {
                Err(e) => problems.push(problem(format!("cannot be read: {e}"))),
                Ok(text) => match redirects::Redirects::parse(&text) {
                    Err(why) => {
                        problems.push(problem(format!("{why}: the server ignores every rule")))
                    }
                    Ok((_, bad)) => problems.extend(bad.into_iter().map(|b| {
                        problem(format!("line {}: {}; the server skips it", b.line, b.why))
                    })),
                },
            }
        }
    }
    let header_rules = index.get(b"_headers");
    if let Some(entry) = header_rules {
        problems.extend(header_problems(&archive, entry, dir));
    }
    // HTML pages at the root (or a `_redirects` or `_headers`) make an
    // archive a site; an HTML report deeper down (coverage/index.html) does not.
    let root_page = index.children(b"").unwrap_or_default().iter().any(|c| {
        matches!(c, crate::zip::Child::File(name, _)
            if name.ends_with(b".html") || name.ends_with(b".htm"))
    });
    let looks_like_site = redirects.is_some() || header_rules.is_some() || root_page;
    let has_index = ["index.html", "index.htm"]
        .iter()
        .any(|n| index.get(n.as_bytes()).is_some());
    if looks_like_site && !has_index {
        problems.push(Problem {
            member: None,
            problem: "looks like a site (HTML pages at its root) but has no index.html there: \
                      its root URL would show a listing"
                .into(),
        });
    }
    problems
}

/// `_headers` as the server reads it: the lines it skips, the limit that
/// makes it ignore the rest, and the rules that match no URL of a member.
fn header_problems(
    archive: &std::sync::Arc<crate::archive::Archive>,
    entry: &crate::zip::Entry,
    dir: &Directory,
) -> Vec<Problem> {
    let problem = |problem: String| Problem {
        member: Some("_headers".into()),
        problem,
    };
    // One byte past the limit tells the parser the limit is hit.
    let text = match archive.read_member(entry, headers::MAX_BYTES + 1) {
        Ok(text) => text,
        Err(e) => return vec![problem(format!("cannot be read: {e}"))],
    };
    let (rules, bad, limit) = headers::Headers::parse(&text);
    let mut problems: Vec<Problem> = bad
        .into_iter()
        .map(|b| problem(format!("line {}: {}; the server skips it", b.line, b.why)))
        .collect();
    problems.extend(limit.map(|why| problem(why.to_owned())));
    let names = dir
        .members
        .iter()
        .filter_map(|m| std::str::from_utf8(&m.name).ok());
    problems.extend(rules.unmatched(names).into_iter().map(|line| {
        problem(format!(
            "line {line}: the rule's pattern matches no member's URL"
        ))
    }));
    problems
}

/// Recomputes a member's CRC-32 (inflating if deflated); a problem if it or
/// the size disagrees with the directory.
fn verify_data(file: &File, data_offset: u64, m: &Central) -> Option<String> {
    let raw = RangeReader {
        src: file,
        pos: data_offset,
        end: data_offset.saturating_add(m.compressed_size),
    };
    let mut crc = crc32fast::Hasher::new();
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 1 << 20];
    let mut reader: Box<dyn Read> = match m.method {
        METHOD_DEFLATED => Box::new(flate2::read::DeflateDecoder::new(raw)),
        METHOD_ZSTD => match zstd::stream::read::Decoder::new(raw) {
            Ok(mut d) => {
                let limit = zstd::stream::raw::DParameter::WindowLogMax(ZSTD_DECODE_WINDOW_LOG_MAX);
                if d.set_parameter(limit).is_err() {
                    return Some("cannot make a zstd decoder".into());
                }
                Box::new(d)
            }
            Err(e) => return Some(format!("cannot make a zstd decoder: {e}")),
        },
        _ => Box::new(raw),
    };
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let chunk = buf.get(..n).unwrap_or_default();
                crc.update(chunk);
                total += n as u64;
                if total > m.size {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if m.method == METHOD_DEFLATED => {
                return Some(format!("deflate data is corrupt: {e}"))
            }
            Err(e) if m.method == METHOD_ZSTD => return Some(format!("zstd data is corrupt: {e}")),
            Err(e) => return Some(format!("cannot read data: {e}")),
        }
    }
    if total != m.size {
        return Some(format!(
            "data is {}{total} bytes, the directory says {}",
            if m.method == METHOD_DEFLATED || m.method == METHOD_ZSTD {
                "decoded to "
            } else {
                ""
            },
            m.size
        ));
    }
    let got = crc.finalize();
    (got != m.crc32).then(|| {
        format!(
            "CRC-32 mismatch: data has {got:08x}, the directory says {:08x}",
            m.crc32
        )
    })
}
