//! A member's compressed bytes (deflate, or zstd, method 93) decoded by the
//! streaming `Inflater` the server uses, at any declared size, read in any
//! chunk size, and again after a `skip` under a `limit` (a Range). Output
//! never exceeds the declared size or a read's buffer; a member that decodes
//! completely decodes to the same bytes however it is read, and any two reads
//! agree where they overlap.
#![no_main]

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use wwz::archive::inflate::{Compressed, CrcMismatch, Inflater};
use wwz::archive::Archive;
use wwz::zip::format::{METHOD_DEFLATED, METHOD_ZSTD};

/// Declared sizes are taken modulo this, so a bomb costs milliseconds.
const MAX_SIZE: u64 = 256 * 1024;
/// Room for the longest input libFuzzer is given (`tools/fuzz`: -max_len=65536).
const ROOM: usize = 70_000;
/// The stored member "m" starts after its 30-byte local header and 1-byte name.
const DATA_AT: u64 = 31;

/// An `Inflater` reads through an `Archive`'s file with `pread`; one archive
/// is made per process, and each input is written over its one member's
/// bytes, which the decoder is then pointed at (no zip built per input).
fn archive() -> &'static (Arc<Archive>, File) {
    static ARCHIVE: OnceLock<(Arc<Archive>, File)> = OnceLock::new();
    ARCHIVE.get_or_init(|| {
        let path =
            std::env::temp_dir().join(format!("wwz-fuzz-inflate-{}.zip", std::process::id()));
        std::fs::write(&path, stored_zip(&[0; ROOM])).expect("write the scratch archive");
        let file = File::options()
            .read(true)
            .write(true)
            .open(&path)
            .expect("open the scratch archive");
        let _ = std::fs::remove_file(&path);
        let writer = file.try_clone().expect("dup the scratch archive");
        let archive = Archive::from_file(file, &path).expect("the scratch archive indexes");
        (Arc::new(archive), writer)
    })
}

fuzz_target!(|data: &[u8]| {
    // Header: method, declared size, skip, range length, read size; then the stream.
    let Some((head, stream)) = data.split_first_chunk::<10>() else {
        return;
    };
    let method = if head[0] & 1 == 0 {
        METHOD_DEFLATED
    } else {
        METHOD_ZSTD
    };
    let size = u64::from(u32::from_le_bytes([head[1], head[2], head[3], head[4]])) % (MAX_SIZE + 1);
    let skip = u64::from(u16::from_le_bytes([head[5], head[6]])) * 4;
    let take = u64::from(u16::from_le_bytes([head[7], head[8]])) * 4;
    let chunk = 1 + usize::from(head[9]) * 257;
    let (archive, writer) = archive();
    if stream.len() > ROOM || writer.write_all_at(stream, DATA_AT).is_err() {
        return;
    }
    let len = stream.len() as u64;
    let member = |crc32| Compressed {
        method,
        offset: DATA_AT,
        len,
        size,
        crc32,
    };
    // The decoded bytes' CRC-32 is checked at the end: learn it from a first
    // pass (the mismatch names it), so the passes below check the real one.
    let crc32 = {
        let mut probe = Inflater::new(Arc::clone(archive), member(0), None);
        let mut scratch = vec![0u8; 64 * 1024];
        loop {
            match probe.read(&mut scratch) {
                Ok(0) => break 0,
                Ok(_) => {}
                Err(e) => {
                    break e
                        .get_ref()
                        .and_then(|e| e.downcast_ref::<CrcMismatch>())
                        .map_or(0, |m| m.actual)
                }
            }
        }
    };
    let new = || Inflater::new(Arc::clone(archive), member(crc32), None);

    // Read it all, `chunk` bytes at a time.
    let mut buf = vec![0u8; chunk.max(64 * 1024)];
    let mut whole = Vec::new();
    let mut inf = new();
    let complete = loop {
        match inf.read(&mut buf[..chunk]) {
            Ok(0) => break true,
            Ok(n) => {
                assert!(n <= chunk);
                whole.extend_from_slice(&buf[..n]);
                assert!(whole.len() as u64 <= size, "past the declared size");
            }
            Err(_) => break false,
        }
    };
    if complete {
        assert_eq!(whole.len() as u64, size, "ended before the declared size");
    }

    // A Range: skip, then at most `take` bytes, read 64 KiB at a time.
    let mut inf = new();
    let skipped = inf.skip(skip).is_ok();
    if complete {
        assert_eq!(skipped, skip <= size);
    }
    if !skipped {
        return;
    }
    let mut inf = inf.limit(take);
    let mut part = Vec::new();
    let part_complete = loop {
        match inf.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => part.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    assert!(part.len() as u64 <= take);
    let from = skip as usize;
    if complete {
        let want = &whole[from..(from + take as usize).min(whole.len())];
        assert!(
            part_complete && part == want,
            "a Range differs from the whole"
        );
    } else {
        // Both are prefixes of one stream: they agree where both reached.
        let overlap = whole.get(from..).unwrap_or_default();
        let n = overlap.len().min(part.len());
        assert!(part[..n] == overlap[..n], "a Range differs from the whole");
    }
});

/// A zip of one stored member "m" holding `data` (CRC left 0: not checked
/// when indexing, and never served here).
fn stored_zip(data: &[u8]) -> Vec<u8> {
    let n = data.len() as u32;
    let mut z = Vec::new();
    z.extend_from_slice(b"PK\x03\x04");
    z.extend_from_slice(&20u16.to_le_bytes()); // version needed
    z.extend_from_slice(&[0; 8]); // flags, method stored, time, date
    z.extend_from_slice(&0u32.to_le_bytes()); // CRC-32
    z.extend_from_slice(&n.to_le_bytes());
    z.extend_from_slice(&n.to_le_bytes());
    z.extend_from_slice(&1u16.to_le_bytes()); // name length
    z.extend_from_slice(&0u16.to_le_bytes()); // extra length
    z.push(b'm');
    z.extend_from_slice(data);
    let cd_at = z.len() as u32;
    z.extend_from_slice(b"PK\x01\x02");
    z.extend_from_slice(&20u16.to_le_bytes()); // version made by
    z.extend_from_slice(&20u16.to_le_bytes()); // version needed
    z.extend_from_slice(&[0; 8]); // flags, method, time, date
    z.extend_from_slice(&0u32.to_le_bytes());
    z.extend_from_slice(&n.to_le_bytes());
    z.extend_from_slice(&n.to_le_bytes());
    z.extend_from_slice(&1u16.to_le_bytes()); // name length
    z.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attributes
    z.extend_from_slice(&0u32.to_le_bytes()); // external attributes
    z.extend_from_slice(&0u32.to_le_bytes()); // local header offset
    z.push(b'm');
    let cd_len = z.len() as u32 - cd_at;
    z.extend_from_slice(b"PK\x05\x06");
    z.extend_from_slice(&[0; 4]); // disk numbers
    z.extend_from_slice(&1u16.to_le_bytes());
    z.extend_from_slice(&1u16.to_le_bytes());
    z.extend_from_slice(&cd_len.to_le_bytes());
    z.extend_from_slice(&cd_at.to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes()); // comment length
    z
}
