//! The index `wwz pack` writes into its archives, so that a server opens a
//! 100,000-member archive by reading a table instead of building one.
//!
//! It is not a member: like the APK signing block, it sits between the last
//! member's data and the central directory, where zip readers never look
//! (they find members through the directory). A tool that rewrites the
//! archive (`zip -d`, `zip` adding a file) copies members, not this block,
//! so the result simply has no index. A fixed trailer ends exactly where the
//! directory starts:
//!
//! ```text
//! ... last member | header 32 | entries 32 × n | names | slots 8 × 2^k | trailer 48 | central directory | end records
//!
//! header:  "WWZINDEX" | version u32 | n u32 | names length u32 | k u32 | seed u64
//! entry:   offset lo u32 | compressed lo u32 | size lo u32 | CRC-32 | mtime u32 | name start u32
//!          | name length u16 | method u16 | offset hi u8 | compressed hi u8 | size hi u8 | bits u8
//! trailer: CRC-32 of header..slots | CRC-32 of the central directory | length of header..slots u64
//!          | directory offset u64 | directory size u64 | entries u64 | "WWZIDXv1"
//! ```
//!
//! [`load`] uses it only when the trailer describes this very directory
//! (offset, size, count, and the CRC-32 of all its bytes), both CRCs hold
//! and every length agrees; anything else is `None` and the caller builds
//! from the directory as for any zip. What the block says is then held to
//! what the directory would be: names within the names, members that do not
//! overlap and end before the block, a bounded probe per lookup
//! ([`super::table`]), and, when a member is first served, a local header
//! that names it and agrees on method and sizes. So a corrupt or crafted
//! block can cost a fallback, or a miss, but never a panic, and never
//! another member's bytes under a name.

use std::sync::atomic::AtomicU16;

use super::directory;
use super::end::EndOfCentralDirectory;
use super::entry::{check_overlaps, Entry, ENCRYPTED, IS_SIBLING, LOCAL_UNKNOWN, SIBLINGS};
use super::format;
use super::index::Index;
use super::read::ReadAt;
use super::table::{slots_for, Table};

const HEADER_MAGIC: &[u8; 8] = b"WWZINDEX";
const TRAILER_MAGIC: &[u8; 8] = b"WWZIDXv1";
const VERSION: u32 = 1;
const PACK_SEED: u64 = 0x7777_7a69_6e64_6578;
const HEADER_LEN: usize = 32;
const ENTRY_LEN: usize = 32;
pub const TRAILER_LEN: usize = 48;
/// Bits of an entry the block may set: siblings, is-sibling, encrypted
/// (stored as [`super::entry`] defines them).
const BITS: u8 = SIBLINGS | IS_SIBLING | ENCRYPTED;

/// What [`probe`] found before the central directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackedState {
    /// No trailer: not written by `wwz pack` (or removed by a rewrite).
    Absent,
    /// A trailer, but for another directory, or a block that does not check out.
    Stale,
    /// An index of this many entries, used when serving.
    Valid(u64),
}

/// Whether the archive carries an index for its directory (for `wwz check`).
pub fn probe<R: ReadAt + ?Sized>(src: &R, end: &EndOfCentralDirectory) -> PackedState {
    if read_trailer(src, end.cd_offset).is_none() {
        return PackedState::Absent;
    }
    match load(src, end) {
        Some(index) => PackedState::Valid(index.entries().len() as u64),
        None => PackedState::Stale,
    }
}

struct Trailer {
    block_crc: u32,
    cd_crc: u32,
    block_len: u64,
    cd_offset: u64,
    cd_size: u64,
    entries: u64,
}

fn read_trailer<R: ReadAt + ?Sized>(src: &R, cd_offset: u64) -> Option<Trailer> {
    let at = cd_offset.checked_sub(TRAILER_LEN as u64)?;
    let mut t = [0u8; TRAILER_LEN];
    src.read_exact_at(&mut t, at).ok()?;
    if t.get(40..48)? != TRAILER_MAGIC {
        return None;
    }
    Some(Trailer {
        block_crc: format::u32_at(&t, 0)?,
        cd_crc: format::u32_at(&t, 4)?,
        block_len: format::u64_at(&t, 8)?,
        cd_offset: format::u64_at(&t, 16)?,
        cd_size: format::u64_at(&t, 24)?,
        entries: format::u64_at(&t, 32)?,
    })
}

/// The CRC-32 of `len` bytes of `src` from `at`, read through a 256 KiB buffer.
fn crc_of<R: ReadAt + ?Sized>(src: &R, at: u64, len: u64) -> Option<u32> {
    let mut crc = crc32fast::Hasher::new();
    let mut buf = vec![0u8; usize::try_from(len.min(256 * 1024)).ok()?];
    let (mut pos, end) = (at, at.checked_add(len)?);
    while pos < end {
        let n = usize::try_from(end - pos).map_or(buf.len(), |left| left.min(buf.len()));
        let chunk = buf.get_mut(..n)?;
        src.read_exact_at(chunk, pos).ok()?;
        crc.update(chunk);
        pos += n as u64;
    }
    Some(crc.finalize())
}

/// The index written before the directory that `end` describes, if there is
/// one made for exactly this directory and it checks out (module docs).
pub fn load<R: ReadAt + ?Sized>(src: &R, end: &EndOfCentralDirectory) -> Option<Index> {
    let t = read_trailer(src, end.cd_offset)?;
    if (t.cd_offset, t.cd_size) != (end.cd_offset, end.cd_size)
        || end.check_count(t.entries).is_err()
    {
        return None;
    }
    let start = end
        .cd_offset
        .checked_sub(TRAILER_LEN as u64)?
        .checked_sub(t.block_len)?;
    let mut header = [0u8; HEADER_LEN];
    src.read_exact_at(&mut header, start).ok()?;
    if header.get(..8)? != HEADER_MAGIC || format::u32_at(&header, 8)? != VERSION {
        return None;
    }
    let n = format::u32_at(&header, 12)?;
    let names_len = format::u32_at(&header, 16)?;
    let log2 = format::u32_at(&header, 20)?;
    let seed = format::u64_at(&header, 24)?;
    let n_usize = usize::try_from(n).ok()?;
    // The count is the directory's; the names fit in it; the table has the
    // size we would give it (so the block cannot make us allocate more).
    if u64::from(n) != t.entries
        || u64::from(names_len) > end.cd_size
        || log2 >= usize::BITS
        || 1usize << log2 != slots_for(n_usize)
    {
        return None;
    }
    let slots_len = 1usize << log2;
    let expected = (HEADER_LEN as u64)
        .checked_add(u64::from(n).checked_mul(ENTRY_LEN as u64)?)?
        .checked_add(u64::from(names_len))?
        .checked_add((slots_len as u64).checked_mul(8)?)?;
    if expected != t.block_len {
        return None;
    }

    let mut crc = crc32fast::Hasher::new();
    crc.update(&header);
    let mut pos = start + HEADER_LEN as u64;
    // Entries and slots are decoded from 256 KiB reads; names read in place.
    let mut buf = vec![0u8; 256 * 1024];
    let mut entries = Vec::with_capacity(n_usize);
    while entries.len() < n_usize {
        let count = (n_usize - entries.len()).min(buf.len() / ENTRY_LEN);
        let chunk = buf.get_mut(..count * ENTRY_LEN)?;
        src.read_exact_at(chunk, pos).ok()?;
        crc.update(chunk);
        pos += chunk.len() as u64;
        for e in chunk.chunks_exact(ENTRY_LEN) {
            entries.push(decode(e, names_len)?);
        }
    }
    let mut names = vec![0u8; usize::try_from(names_len).ok()?];
    src.read_exact_at(&mut names, pos).ok()?;
    crc.update(&names);
    pos += u64::from(names_len);
    let mut slots = Vec::with_capacity(slots_len);
    while slots.len() < slots_len {
        let count = (slots_len - slots.len()).min(buf.len() / 8);
        let chunk = buf.get_mut(..count * 8)?;
        src.read_exact_at(chunk, pos).ok()?;
        crc.update(chunk);
        pos += chunk.len() as u64;
        slots.extend(
            chunk
                .chunks_exact(8)
                .map(|s| s.first_chunk::<8>().map_or(0, |b| u64::from_le_bytes(*b))),
        );
    }
    drop(buf);
    if crc.finalize() != t.block_crc || crc_of(src, end.cd_offset, end.cd_size)? != t.cd_crc {
        return None;
    }
    let data_end = start;
    // Members must end before the block, as they must end before the directory.
    if check_overlaps(&entries).is_err()
        || entries.iter().any(|e| {
            e.local_offset()
                .checked_add(e.compressed_size())
                .is_none_or(|end| end > data_end)
        })
    {
        return None;
    }
    let table = Table::from_parts(seed, slots)?;
    Some(Index::from_parts(entries, names, table, data_end))
}

/// One entry of the block; `None` if its name lies outside the names.
fn decode(b: &[u8], names_len: u32) -> Option<Entry> {
    let name_start = format::u32_at(b, 20)?;
    let name_len = format::u16_at(b, 24)?;
    if u64::from(name_start) + u64::from(name_len) > u64::from(names_len) {
        return None;
    }
    Some(Entry {
        offset_lo: format::u32_at(b, 0)?,
        compressed_lo: format::u32_at(b, 4)?,
        size_lo: format::u32_at(b, 8)?,
        crc32: format::u32_at(b, 12)?,
        mtime: format::u32_at(b, 16)?,
        name_start,
        name_len,
        method: format::u16_at(b, 26)?,
        local_extra: AtomicU16::new(LOCAL_UNKNOWN),
        offset_hi: *b.get(28)?,
        compressed_hi: *b.get(29)?,
        size_hi: *b.get(30)?,
        bits: *b.get(31)? & BITS,
    })
}

/// The block (header to trailer) for the central directory `central` of
/// `count` headers, to be written at `at`, right before the directory.
/// `None` if the directory cannot be indexed (then no block is written, and
/// the archive is opened by building, as any other).
pub fn block(central: &[u8], count: u64, at: u64) -> Option<Vec<u8>> {
    let end = EndOfCentralDirectory {
        entries: count,
        cd_size: central.len() as u64,
        cd_offset: 0,
        zip64: true,
        eocd_offset: central.len() as u64,
        comment_len: 0,
    };
    // A fixed seed: the same tree packs to the same bytes (reproducible
    // builds, rsync sending only what changed). A table is only as good as
    // its names allow; lookups are bounded whatever they are (super::table).
    let index = directory::build_seeded(central, &end, PACK_SEED).ok()?;
    let n = u32::try_from(index.entries.len()).ok()?;
    let names_len = u32::try_from(index.names.len()).ok()?;
    let slots = index.table.slots();
    let log2 = slots.len().trailing_zeros();
    let mut b = Vec::with_capacity(
        HEADER_LEN
            + index.entries.len() * ENTRY_LEN
            + index.names.len()
            + slots.len() * 8
            + TRAILER_LEN,
    );
    b.extend_from_slice(HEADER_MAGIC);
    for v in [VERSION, n, names_len, log2] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&index.table.seed().to_le_bytes());
    for e in &index.entries {
        for v in [
            e.offset_lo,
            e.compressed_lo,
            e.size_lo,
            e.crc32,
            e.mtime,
            e.name_start,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&e.name_len.to_le_bytes());
        b.extend_from_slice(&e.method.to_le_bytes());
        b.extend_from_slice(&[e.offset_hi, e.compressed_hi, e.size_hi, e.bits & BITS]);
    }
    b.extend_from_slice(&index.names);
    for s in slots {
        b.extend_from_slice(&s.to_le_bytes());
    }
    let block_len = b.len() as u64;
    let block_crc = crc32fast::hash(&b);
    b.extend_from_slice(&block_crc.to_le_bytes());
    b.extend_from_slice(&crc32fast::hash(central).to_le_bytes());
    let cd_offset = at.checked_add(block_len)?.checked_add(TRAILER_LEN as u64)?;
    for v in [block_len, cd_offset, central.len() as u64, count] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(TRAILER_MAGIC);
    // The block's entries must end before it, as `load` will check.
    index
        .entries
        .iter()
        .all(|e| e.local_offset().saturating_add(e.compressed_size()) <= at)
        .then_some(b)
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;
    use crate::content::coding::Coding;
    use crate::zip::testing::archive;

    /// `zip` with the block inserted before its directory (as `wwz pack` writes it).
    fn with_block(zip: &[u8]) -> (Vec<u8>, std::ops::Range<usize>) {
        let end = EndOfCentralDirectory::read(zip).unwrap();
        let (cd_at, eocd_at) = (end.cd_offset as usize, end.eocd_offset as usize);
        let central = &zip[cd_at..cd_at + end.cd_size as usize];
        let block = block(central, end.entries, cd_at as u64).unwrap();
        let mut out = zip[..cd_at].to_vec();
        out.extend_from_slice(&block);
        out.extend_from_slice(&zip[cd_at..]);
        let new_cd = (cd_at + block.len()) as u32;
        let eocd = eocd_at + block.len();
        out[eocd + 16..eocd + 20].copy_from_slice(&new_cd.to_le_bytes());
        (out, cd_at..cd_at + block.len())
    }

    fn members() -> Vec<(String, Vec<u8>)> {
        let mut m: Vec<(String, Vec<u8>)> = (0..40)
            .map(|i| {
                (
                    format!("d{}/p{i}.html", i % 3),
                    format!("page {i}").repeat(i + 1).into_bytes(),
                )
            })
            .collect();
        m.push(("d1/p1.html.br".into(), b"brotli bytes".to_vec()));
        m.push(("d2/p2.md".into(), b"# page 2\n".to_vec()));
        m
    }

    #[test]
    fn block_is_used_and_agrees_with_the_directory() {
        let m = members();
        let refs: Vec<(&str, &[u8])> = m.iter().map(|(n, d)| (n.as_str(), &d[..])).collect();
        let plain = archive(&refs);
        let (zip, _) = with_block(&plain);
        let end = EndOfCentralDirectory::read(&zip[..]).unwrap();
        assert_eq!(probe(&zip[..], &end), PackedState::Valid(m.len() as u64));
        let end_plain = EndOfCentralDirectory::read(&plain[..]).unwrap();
        assert_eq!(probe(&plain[..], &end_plain), PackedState::Absent);
        let loaded = load(&zip[..], &end).unwrap();
        let built = directory::build(&zip[..], &end).unwrap();
        assert_eq!(loaded.len(), built.len());
        for (name, data) in &m {
            let (a, b) = (
                loaded.get(name.as_bytes()).unwrap(),
                built.get(name.as_bytes()).unwrap(),
            );
            assert_eq!(
                (
                    a.local_offset(),
                    a.size(),
                    a.crc32(),
                    a.mtime(),
                    a.siblings(),
                    a.is_sibling(),
                    a.has_markdown_twin()
                ),
                (
                    b.local_offset(),
                    b.size(),
                    b.crc32(),
                    b.mtime(),
                    b.siblings(),
                    b.is_sibling(),
                    b.has_markdown_twin()
                )
            );
            assert_eq!(loaded.served(&zip, name), Some(&data[..]));
        }
        assert!(loaded.get(b"d1/p1.html").unwrap().has_sibling(Coding::Br));
        // The twin bit is not in the block: a loaded index marks twins as a built one does.
        assert!(loaded.get(b"d2/p2.html").unwrap().has_markdown_twin());
        assert!(!loaded.get(b"d1/p1.html").unwrap().has_markdown_twin());
        assert!(loaded.get(b"nope.html").is_none());
        // Member data must end before the block, not just before the directory.
        assert!(loaded.data_end < end.cd_offset - TRAILER_LEN as u64);
    }

    /// A directory changed after packing (one byte of a name, in place: same
    /// offset, size and count) makes the block stale: built from the directory.
    #[test]
    fn changed_directory_makes_the_block_stale() {
        let m = members();
        let refs: Vec<(&str, &[u8])> = m.iter().map(|(n, d)| (n.as_str(), &d[..])).collect();
        let (mut zip, _) = with_block(&archive(&refs));
        let end = EndOfCentralDirectory::read(&zip[..]).unwrap();
        let name_at = end.cd_offset as usize + format::CENTRAL_LEN;
        zip[name_at] = b'x'; // "d0/p0.html" -> "x0/p0.html" in the directory only
        assert_eq!(probe(&zip[..], &end), PackedState::Stale);
        let index = Index::build(&zip[..]).unwrap();
        assert!(index.get(b"x0/p0.html").is_some());
        assert!(index.get(b"d0/p0.html").is_none());
    }

    /// Any byte of the block flipped: never a panic, and a member that is
    /// served is served with its own bytes (whether the block is refused by
    /// its CRC or, with the CRCs bypassed, used as it is).
    #[test]
    fn corrupt_block_never_serves_another_member() {
        let m = members();
        let refs: Vec<(&str, &[u8])> = m.iter().map(|(n, d)| (n.as_str(), &d[..])).collect();
        let (zip, range) = with_block(&archive(&refs));
        let check = |bad: &[u8]| {
            let Ok(index) = Index::build(bad) else { return };
            for (name, data) in &m {
                if let Some(got) = index.served(bad, name) {
                    assert_eq!(got, &data[..], "{name}");
                }
            }
            for e in index.entries() {
                let _ = index.data_offset(e, bad);
            }
        };
        let end = EndOfCentralDirectory::read(&zip[..]).unwrap();
        for at in range.clone() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = zip.clone();
                bad[at] ^= flip;
                check(&bad);
                // The same damage with both CRCs recomputed: a crafted block.
                let t = range.end - TRAILER_LEN;
                if at < t {
                    let crc = crc32fast::hash(&bad[range.start..t]);
                    bad[t..t + 4].copy_from_slice(&crc.to_le_bytes());
                    if let Some(index) = load(&bad[..], &end) {
                        for (name, data) in &m {
                            if let Some(got) = index.served(&bad, name) {
                                assert_eq!(got, &data[..], "{name} (byte {at} ^ {flip:#x})");
                            }
                        }
                    }
                }
            }
        }
    }
}
