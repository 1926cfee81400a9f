//! The streaming decoder's tests: output, bounds, CRC, checkpoints.

// unwrap/expect here act on inputs the tests build themselves, never on
// bytes from the network or an archive in service: a failure is the test's.

use super::zstd_memory::ZSTD_WINDOW_LOG_MIN;
use super::*;
use std::process::Command;

/// A member inflated once is then entered at checkpoints, with the same bytes.
#[test]
fn checkpoints_resume_with_identical_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = Vec::new();
    let mut i = 0u64;
    while text.len() < 9 << 20 {
        // Varied enough that blocks and Huffman tables change along the way.
        let x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
        text.extend_from_slice(
            format!("line {i} value {x:x} {}\n", "ab".repeat((x % 40) as usize)).as_bytes(),
        );
        i += 1;
    }
    std::fs::write(dir.path().join("big.log"), &text).unwrap();
    let ok = Command::new("zip")
        .args(["-q", "-6", "a.zip", "big.log"])
        .current_dir(dir.path())
        .status()
        .expect("Info-ZIP zip (apt install zip)");
    assert!(ok.success());
    let archive = Arc::new(Archive::open(&dir.path().join("a.zip")).unwrap());
    let entry = archive.index().get(b"big.log").unwrap();
    let (offset, raw) = archive.raw_data(entry).unwrap();
    let size = entry.size();
    assert_eq!(size, text.len() as u64);

    let member = Compressed {
        method: METHOD_DEFLATED,
        offset,
        len: raw,
        size,
        crc32: entry.crc32(),
    };
    // No checkpoints yet: starts at 0.
    let first = Inflater::at(Arc::clone(&archive), member, None, 7 << 20);
    assert_eq!(first.position(), (0, Some(0)));
    let mut whole = Inflater::new(Arc::clone(&archive), member, None);
    let mut out = vec![0; 70_000];
    let mut got = Vec::new();
    loop {
        match whole.read(&mut out).unwrap() {
            0 => break,
            n => got.extend_from_slice(&out[..n]),
        }
    }
    assert!(got == text);

    for target in [(1 << 20) - 1, 1 << 20, (7 << 20) + 12345, size - 1] {
        let mut inf = Inflater::at(Arc::clone(&archive), member, None, target);
        let (at, lines) = inf.position();
        assert!(
            at <= target && target - at < checkpoints::SPACING,
            "{at} {target}"
        );
        let newlines = text[..at as usize].iter().filter(|&&b| b == b'\n').count() as u64;
        assert_eq!(lines, Some(newlines));
        let mut inf_out = Vec::new();
        loop {
            match inf.read(&mut out).unwrap() {
                0 => break,
                n => inf_out.extend_from_slice(&out[..n]),
            }
        }
        assert!(inf_out == text[at as usize..], "resumed at {at}");
    }

    // Resumed at a checkpoint, the CRC of the bytes before it is known
    // too: a wrong CRC-32 is still found at the end, and the last bytes
    // are withheld.
    let lying = Compressed {
        crc32: entry.crc32() ^ 1,
        ..member
    };
    let mut inf = Inflater::at(Arc::clone(&archive), lying, None, size - 1);
    assert!(inf.position().0 > 0);
    let mut sent = inf.position().0;
    let err = loop {
        match inf.read(&mut out) {
            Ok(0) => panic!("a member with a wrong CRC-32 ended cleanly"),
            Ok(n) => sent += n as u64,
            Err(e) => break e,
        }
    };
    assert!(CrcMismatch::is(&err), "{err}");
    assert!(sent < size, "every byte was handed out");
}

/// A member whose CRC-32 does not match is an error in place of its last
/// bytes, whole or from a Range that reaches its end (the skipped bytes
/// are decoded and counted); a Range that stops short cannot tell.
#[test]
fn crc_mismatch_withholds_the_last_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let text = b"some text that deflates\n".repeat(5000);
    std::fs::write(dir.path().join("t.txt"), &text).unwrap();
    let ok = Command::new("zip")
        .args(["-q", "-6", "a.zip", "t.txt"])
        .current_dir(dir.path())
        .status()
        .expect("Info-ZIP zip (apt install zip)");
    assert!(ok.success());
    let archive = Arc::new(Archive::open(&dir.path().join("a.zip")).unwrap());
    let entry = archive.index().get(b"t.txt").unwrap();
    let (offset, len) = archive.raw_data(entry).unwrap();
    let good = Compressed {
        method: METHOD_DEFLATED,
        offset,
        len,
        size: entry.size(),
        crc32: entry.crc32(),
    };
    let bad = Compressed {
        crc32: good.crc32 ^ 0x8000_0000,
        ..good
    };
    let drain = |mut inf: Inflater, skip: u64| -> io::Result<u64> {
        inf.skip(skip)?;
        let mut out = vec![0; 4096];
        let mut n = 0;
        loop {
            match inf.read(&mut out)? {
                0 => return Ok(n),
                m => n += m as u64,
            }
        }
    };
    let size = good.size;
    assert_eq!(
        drain(Inflater::new(Arc::clone(&archive), good, None), 0).unwrap(),
        size
    );
    let e = drain(Inflater::new(Arc::clone(&archive), bad, None), 0).unwrap_err();
    assert!(CrcMismatch::is(&e));
    let tail = Inflater::new(Arc::clone(&archive), bad, None).limit(100);
    assert!(CrcMismatch::is(&drain(tail, size - 100).unwrap_err()));
    let short = Inflater::new(Arc::clone(&archive), bad, None).limit(100);
    assert_eq!(drain(short, 1000).unwrap(), 100);
}

/// Windows are reserved from one budget: a 32 MiB window at most four
/// times at once, released when dropped; at least one block each.
#[test]
fn zstd_windows_are_reserved_within_the_budget() {
    let mut held = Vec::new();
    while let Ok(m) = ZstdMemory::reserve(32 << 20) {
        held.push(m);
        assert!(held.len() <= 4, "past the budget");
    }
    assert!(!held.is_empty());
    assert!(ZstdMemory::reserve(32 << 20).is_err());
    assert!(zstd_reserved() <= ZSTD_DECODE_MEMORY);
    held.pop();
    let again = ZstdMemory::reserve(32 << 20).unwrap();
    assert_eq!(again.bytes(), 32 << 20);
    drop(held);
    drop(again);
    let small = ZstdMemory::reserve(514).unwrap();
    assert_eq!(small.bytes(), 1 << ZSTD_WINDOW_LOG_MIN);
    assert_eq!(ZstdMemory::reserve((1 << 20) + 1).unwrap().bytes(), 2 << 20);
}

#[test]
fn zstd_ratio_and_window_bounds() {
    assert_eq!(zstd_refusal(1 << 20, 72_000, 58), None);
    assert_eq!(zstd_refusal(1 << 20, 1032 << 20, 1 << 20), None);
    assert_eq!(
        zstd_refusal(1 << 17, 1 << 30, 32_774),
        Some(ZstdRefusal::Ratio)
    );
    assert_eq!(
        zstd_refusal((32 << 20) + 1, 10, 10),
        Some(ZstdRefusal::Window)
    );
}
