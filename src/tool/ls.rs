//! `wwz ls FILE`: one line per member, in central directory order.

use std::fs::File;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::read::{declared_alignment, read_local, Directory};
use super::{display_name, fail, Error};
use crate::util::json::json_str;
use crate::util::time::iso8601;

#[derive(Args, Debug, Clone)]
#[command(
    after_help = "Columns: method (stored, deflate, zstd, or mN for another method number), size,
compressed size, data offset (where the member's data starts; - if its local
header is unreadable), alignment (as its 0xD935 record declares; - if none),
modification time (UTC), name.

Examples:
  wwz ls site.wwz
  wwz ls --json site.wwz | jq '.[] | select(.data_offset % 4096 != 0)'"
)]
pub struct LsArgs {
    /// Archive to list.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Print a JSON array of objects: name, method, size, compressed_size,
    /// data_offset, alignment, mtime (Unix seconds), crc32.
    #[arg(long)]
    pub json: bool,
}

fn method_name(m: u16) -> String {
    match m {
        0 => "stored".into(),
        8 => "deflate".into(),
        93 => "zstd".into(),
        n => format!("m{n}"),
    }
}

pub fn run(args: &LsArgs) -> ExitCode {
    match ls(args) {
        Ok(out) => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth a message.
            let _ = stdout.write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

/// The listing, as it would be printed.
pub fn ls(args: &LsArgs) -> Result<String, Error> {
    let path = &args.file;
    let file = File::open(path).map_err(Error::io(path, "open"))?;
    let dir = Directory::read(&file, path)?;
    let mut out = String::new();
    if args.json {
        out.push('[');
    }
    for (i, m) in dir.members.iter().enumerate() {
        let local = read_local(&file, m.local_offset).ok();
        let offset = local.as_ref().map(|l| l.data_offset);
        let align = local.as_ref().and_then(|l| declared_alignment(&l.extra));
        let name = display_name(&m.name);
        if args.json {
            if i > 0 {
                out.push(',');
            }
            out.push_str("\n  {\"name\": ");
            json_str(&mut out, &name);
            let opt = |v: Option<u64>| v.map_or("null".to_string(), |v| v.to_string());
            out.push_str(&format!(
                ", \"method\": {}, \"size\": {}, \"compressed_size\": {}, \"data_offset\": {}, \
                 \"alignment\": {}, \"mtime\": {}, \"crc32\": {}}}",
                m.method,
                m.size,
                m.compressed_size,
                opt(offset),
                opt(align.map(u64::from)),
                m.mtime,
                m.crc32
            ));
        } else {
            let dash = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
            out.push_str(&format!(
                "{:<7} {:>12} {:>12} {:>12} {:>5} {} {}\n",
                method_name(m.method),
                m.size,
                m.compressed_size,
                dash(offset),
                dash(align.map(u64::from)),
                iso8601(m.mtime),
                super::printable(&name)
            ));
        }
    }
    if args.json {
        out.push_str("\n]\n");
    }
    Ok(out)
}
