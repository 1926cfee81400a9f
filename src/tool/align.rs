//! `wwz align IN.zip -o OUT.wwz`: re-align any tool's zip.
//!
//! Member data is copied byte for byte; only local headers are rewritten:
//! from the central directory's values (so data descriptors are no longer
//! needed and bit 3 is cleared), keeping the local extra fields except old
//! alignment records, ZIP64 fields (rewritten when needed) and zipalign's bare
//! zero padding, plus a 0xD935 record padding stored data to its alignment.
//! Central directory headers keep every field (times, attributes, extra
//! fields, comments) except the local header offset; the archive comment is
//! kept too. `--store` inflates deflated members and stores them instead,
//! verifying their CRC-32.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;

use super::pack::{parse_align, Align};
use super::read::{filter_extra, read_local, Central, Directory};
use super::write::{Member, Writer};
use super::{fail, Error, Output};
use crate::zip::format::{
    EXTRA_ALIGN, EXTRA_ZIP64, FLAG_DATA_DESCRIPTOR, FLAG_ENCRYPTED, METHOD_DEFLATED, METHOD_STORED,
};
use crate::zip::read::RangeReader;

#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:
  wwz align site.zip -o site.wwz                  (zip -r output → servable, aligned)
  wwz align app.jar -o app.wwz --store            (inflate and store every member)
  wwz align old.wwz -o new.wwz --align 4096       (page-align every stored member)")]
pub struct AlignArgs {
    /// Zip archive to read.
    #[arg(value_name = "IN.zip")]
    pub input: PathBuf,

    /// Archive to write; replaced by rename, never rewritten in place.
    #[arg(short, long, value_name = "OUT.wwz")]
    pub output: PathBuf,

    /// Inflate deflated members and store them (so every member is aligned and
    /// served zero-copy).
    #[arg(long)]
    pub store: bool,

    /// Alignment of stored members' data: a power of two up to 65536, or
    /// `auto`: 4096 for members of 64 KiB or more, 4 for smaller ones.
    #[arg(long, default_value = "auto", value_parser = parse_align, value_name = "N")]
    pub align: Align,

    /// No summary line.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: &AlignArgs) -> ExitCode {
    let start = Instant::now();
    match align(args) {
        Ok((members, bytes)) => {
            if !args.quiet {
                eprintln!(
                    "wwz align: {}: {members} members, {bytes} bytes written, {:.2} s",
                    args.output.display(),
                    start.elapsed().as_secs_f64()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

/// Re-aligns `args.input` into `args.output`; returns (members, archive bytes).
pub fn align(args: &AlignArgs) -> Result<(u64, u64), Error> {
    let in_path = &args.input;
    let input = File::open(in_path).map_err(Error::io(in_path, "open"))?;
    let dir = Directory::read(&input, in_path)?;
    let mut out = Output::create(&args.output)?;
    let file = out
        .take_file()
        .ok_or_else(|| Error::input(&args.output, "output already taken"))?;
    let mut w = Writer::new(file, out.tmp_path());
    for m in &dir.members {
        copy_member(&mut w, &input, in_path, &dir, m, args)?;
    }
    let file = w.finish(&dir.comment)?;
    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    out.commit(file)?;
    Ok((dir.members.len() as u64, bytes))
}

fn copy_member(
    w: &mut Writer,
    input: &File,
    in_path: &Path,
    dir: &Directory,
    m: &Central,
    args: &AlignArgs,
) -> Result<(), Error> {
    let err = |problem: String| Error::member(in_path, &m.name, problem);
    if m.flags & FLAG_ENCRYPTED != 0 {
        return Err(err("encrypted members cannot be served".into()));
    }
    let local = read_local(input, m.local_offset).map_err(|e| err(e.to_string()))?;
    if local.name != m.name {
        return Err(err(
            "local header name differs from the central directory's".into(),
        ));
    }
    let data_end = local
        .data_offset
        .checked_add(m.compressed_size)
        .filter(|&e| e <= dir.cd_offset)
        .ok_or_else(|| err("data runs past the start of the central directory".into()))?;
    let local_extra = filter_extra(&local.extra, &[EXTRA_ZIP64, EXTRA_ALIGN]);
    let central_extra = filter_extra(&m.extra, &[EXTRA_ZIP64, EXTRA_ALIGN]);
    let inflate = args.store && m.method == METHOD_DEFLATED;
    if args.store && m.method != METHOD_DEFLATED && m.method != METHOD_STORED {
        return Err(err(format!(
            "compression method {} cannot be stored",
            m.method
        )));
    }
    let stored = m.method == METHOD_STORED || inflate;
    let member = Member {
        name: &m.name,
        flags: m.flags & !FLAG_DATA_DESCRIPTOR,
        method: if inflate { METHOD_STORED } else { m.method },
        dos_date: m.dos_date,
        dos_time: m.dos_time,
        crc32: m.crc32,
        compressed_size: if inflate { m.size } else { m.compressed_size },
        size: m.size,
        made_by: m.made_by,
        version_needed: m.version_needed,
        internal_attrs: m.internal_attrs,
        external_attrs: m.external_attrs,
        local_extra: &local_extra,
        central_extra: &central_extra,
        comment: &m.comment,
        align: stored.then(|| args.align.for_member(&m.name, m.size)),
    };
    let at = w.begin(&member)?;
    if inflate {
        let raw = RangeReader {
            src: input,
            pos: local.data_offset,
            end: data_end,
        };
        let mut dec = flate2::read::DeflateDecoder::new(raw);
        let crc = w
            .fill_from(&mut dec, m.size, in_path)
            .map_err(|e| match e {
                // Errors reading the input are errors inflating this member.
                Error::Input { .. } => {
                    err("inflates to fewer bytes than the directory says".into())
                }
                Error::Io {
                    ref path,
                    ref source,
                    ..
                } if path == in_path => err(format!("cannot inflate: {source}")),
                other => other,
            })?;
        let mut probe = [0u8; 1];
        if !matches!(dec.read(&mut probe), Ok(0)) {
            return Err(err(format!(
                "inflates to more than the {} bytes the directory says",
                m.size
            )));
        }
        if crc != m.crc32 {
            return Err(err(format!(
                "CRC-32 mismatch after inflating: {crc:08x}, the directory says {:08x}",
                m.crc32
            )));
        }
    } else {
        w.copy_from(input, local.data_offset, m.compressed_size, in_path)?;
    }
    w.end(&member, at)
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    #[test]
    fn align_default_is_auto() {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            a: super::AlignArgs,
        }
        let t = T::try_parse_from(["t", "in.zip", "-o", "out.wwz"]).unwrap();
        assert_eq!(t.a.align, super::Align::Auto);
        assert!(!t.a.store);
    }
}
