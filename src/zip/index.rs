//! The serving index: the central directory turned into a hash table from
//! member name to entry, built once per archive with ordinary reads.
//!
//! Memory is one 36-byte [`Entry`] and one table slot per member, plus one
//! shared buffer holding every name; nothing is allocated per member. A miss
//! costs one hash and one probe, the same as a hit.

use std::hash::BuildHasher;
use std::io;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::OnceLock;

use super::end::{self, EndOfCentralDirectory};
use super::format::{self, CentralHeader};
use super::read::ReadAt;
use super::table::Table;
use super::{DataError, IndexError};

/// One member, as the central directory describes it, in 36 bytes.
///
/// Offsets and sizes are 40-bit (up to 1 TiB; a larger one makes the archive
/// [`IndexError::TooLarge`]), split into a low `u32` and a high byte so that
/// the struct needs no 8-byte alignment:
///
/// ```text
/// 0       4       8       12      16      20      24   26   28   30 31 32 33 34 35
/// |off_lo |csz_lo |size_lo|crc32  |mtime  |name_st|nlen|meth|lext|oh|ch|sh|bits|
/// ```
#[derive(Debug)]
pub struct Entry {
    pub(super) offset_lo: u32,
    pub(super) compressed_lo: u32,
    pub(super) size_lo: u32,
    pub(super) crc32: u32,
    /// Unix seconds, clamped to `0..=u32::MAX` (1970 to 2106).
    pub(super) mtime: u32,
    pub(super) name_start: u32,
    pub(super) name_len: u16,
    pub(super) method: u16,
    /// The local header's extra length, read on first use; [`LOCAL_UNKNOWN`]
    /// until then (an extra field of exactly 65,535 bytes is just never cached).
    pub(super) local_extra: AtomicU16,
    pub(super) offset_hi: u8,
    pub(super) compressed_hi: u8,
    pub(super) size_hi: u8,
    /// [`SIBLING_BR`] | [`SIBLING_ZSTD`] | [`SIBLING_GZ`]: the precompressed
    /// siblings this member has; [`IS_SIBLING`]: this member is one;
    /// [`ENCRYPTED`]: general purpose flag bit 0.
    pub(super) bits: u8,
}

pub(super) const LOCAL_UNKNOWN: u16 = u16::MAX;
/// The largest offset or size an [`Entry`] holds: 40 bits.
pub const MAX_40: u64 = (1 << 40) - 1;
pub(super) const ENCRYPTED: u8 = 16;

/// A 40-bit value as (low 32 bits, high 8 bits).
fn split40(v: u64) -> Result<(u32, u8), IndexError> {
    if v > MAX_40 {
        return Err(IndexError::TooLarge);
    }
    Ok((v as u32, (v >> 32) as u8))
}

fn join40(lo: u32, hi: u8) -> u64 {
    u64::from(lo) | u64::from(hi) << 32
}

/// `NAME.br`, a stored member, exists beside `NAME`.
pub const SIBLING_BR: u8 = 1;
/// `NAME.zst`, a stored member, exists beside `NAME`.
pub const SIBLING_ZSTD: u8 = 2;
/// `NAME.gz`, a stored member, exists beside `NAME`.
pub const SIBLING_GZ: u8 = 4;
/// This member is the stored sibling of another member.
pub const IS_SIBLING: u8 = 8;
/// The sibling suffixes and their bits.
pub const SIBLING_SUFFIXES: [(&[u8], u8); 3] = [
    (b".br", SIBLING_BR),
    (b".zst", SIBLING_ZSTD),
    (b".gz", SIBLING_GZ),
];

impl Entry {
    /// The entry for central header `h`, its name at `name_start` of the names.
    fn new(h: &CentralHeader<'_>, name_start: u32) -> Result<Entry, IndexError> {
        let (offset_lo, offset_hi) = split40(h.local_offset)?;
        let (compressed_lo, compressed_hi) = split40(h.compressed_size)?;
        let (size_lo, size_hi) = split40(h.size)?;
        let encrypted = if h.flags & format::FLAG_ENCRYPTED != 0 {
            ENCRYPTED
        } else {
            0
        };
        Ok(Entry {
            offset_lo,
            compressed_lo,
            size_lo,
            crc32: h.crc32,
            mtime: h.mtime().clamp(0, i64::from(u32::MAX)) as u32,
            name_start,
            // The name came from a 16-bit length field.
            name_len: h.name.len() as u16,
            method: h.method,
            local_extra: AtomicU16::new(LOCAL_UNKNOWN),
            offset_hi,
            compressed_hi,
            size_hi,
            bits: encrypted,
        })
    }

    pub fn method(&self) -> u16 {
        self.method
    }
    pub fn is_encrypted(&self) -> bool {
        self.bits & ENCRYPTED != 0
    }
    pub fn crc32(&self) -> u32 {
        self.crc32
    }
    /// Uncompressed size.
    pub fn size(&self) -> u64 {
        join40(self.size_lo, self.size_hi)
    }
    pub fn compressed_size(&self) -> u64 {
        join40(self.compressed_lo, self.compressed_hi)
    }
    /// Modification time, Unix seconds.
    pub fn mtime(&self) -> i64 {
        i64::from(self.mtime)
    }
    pub fn local_offset(&self) -> u64 {
        join40(self.offset_lo, self.offset_hi)
    }
    /// The precompressed siblings of this member (`SIBLING_*` bits).
    pub fn siblings(&self) -> u8 {
        self.bits & (SIBLING_BR | SIBLING_ZSTD | SIBLING_GZ)
    }
    /// Whether this member is a precompressed sibling of another (listings hide it).
    pub fn is_sibling(&self) -> bool {
        self.bits & IS_SIBLING != 0
    }
}

/// The index of one archive.
pub struct Index {
    pub(super) entries: Vec<Entry>,
    pub(super) names: Vec<u8>,
    pub(super) table: Table,
    /// Where member data must end: the start of the central directory.
    pub(super) data_end: u64,
    /// Entry ids (one per distinct name) in name order, built on the first
    /// directory question (see [`super::tree`]) so that opening stays cheap.
    pub(super) sorted: OnceLock<Vec<u32>>,
    /// Whether some name ends in `.br`, `.zst` or `.gz` (noted while reading
    /// the directory): only then is there a sibling to link.
    pub(super) maybe_siblings: bool,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl Index {
    /// Reads the central directory of `src` and indexes it.
    /// Uses the index `wwz pack` wrote before the directory when it is there,
    /// intact and made for this very directory (see [`super::packed`]).
    pub fn build<R: ReadAt + ?Sized>(src: &R) -> Result<Index, IndexError> {
        let end = EndOfCentralDirectory::read(src)?;
        if let Some(index) = super::packed::load(src, &end) {
            return Ok(index);
        }
        Index::from_directory(src, &end)
    }

    /// Reads the central directory that `end` describes and indexes it.
    pub(crate) fn from_directory<R: ReadAt + ?Sized>(
        src: &R,
        end: &EndOfCentralDirectory,
    ) -> Result<Index, IndexError> {
        // A fresh random seed per build: a directory cannot be crafted against it.
        let seed = std::collections::hash_map::RandomState::new().hash_one(0u64);
        Index::from_directory_seeded(src, end, seed)
    }

    /// [`Index::from_directory`] with the table's hash seed given.
    pub(crate) fn from_directory_seeded<R: ReadAt + ?Sized>(
        src: &R,
        end: &EndOfCentralDirectory,
        seed: u64,
    ) -> Result<Index, IndexError> {
        let end = *end;
        let mut index = Index::with_capacity(&end, seed);
        end::central_directory(src, &end, |h| index.push(h))?;
        check_overlaps(&index.entries)?;
        if index.maybe_siblings {
            index.link_siblings();
        }
        index.entries.shrink_to_fit();
        index.names.shrink_to_fit();
        Ok(index)
    }

    fn with_capacity(end: &EndOfCentralDirectory, seed: u64) -> Index {
        // `entries` was checked against the directory's size, itself inside the file.
        let capacity = usize::try_from(end.entries).unwrap_or(0);
        // The names fit in what the fixed headers leave of the directory; the
        // unused tail is returned by shrink_to_fit without being touched.
        let names = end
            .cd_size
            .saturating_sub(end.entries.saturating_mul(format::CENTRAL_LEN as u64));
        Index {
            entries: Vec::with_capacity(capacity),
            names: Vec::with_capacity(usize::try_from(names).unwrap_or(0)),
            table: Table::with_capacity(capacity, seed),
            data_end: end.cd_offset,
            sorted: OnceLock::new(),
            maybe_siblings: false,
        }
    }

    fn push(&mut self, h: &CentralHeader<'_>) -> Result<(), IndexError> {
        let name_start = u32::try_from(self.names.len()).map_err(|_| IndexError::TooLarge)?;
        let id = u32::try_from(self.entries.len()).map_err(|_| IndexError::TooLarge)?;
        self.entries.push(Entry::new(h, name_start)?);
        self.names.extend_from_slice(h.name);
        if maybe_sibling(h.name) {
            self.maybe_siblings = true;
        }
        let Index {
            entries,
            names,
            table,
            ..
        } = self;
        table.insert(h.name, id, &|i| name_of(entries, names, i))
    }

    /// Marks precompressed siblings: a stored, unencrypted `NAME.br`,
    /// `NAME.zst` or `NAME.gz` whose `NAME` is a member.
    fn link_siblings(&mut self) {
        let mut links = Vec::new();
        // In directory order: names are read front to back, not in the hash
        // table's scattered order (a cache miss per member at 100k members).
        for (id, e) in self.entries.iter().enumerate() {
            let name = self.name_of(e);
            if !maybe_sibling(name) || e.method != format::METHOD_STORED || e.bits & ENCRYPTED != 0
            {
                continue;
            }
            for (suffix, bit) in SIBLING_SUFFIXES {
                let Some(base) = name.strip_suffix(suffix) else {
                    continue;
                };
                if base.is_empty() || base.ends_with(b"/") {
                    continue;
                }
                if let Some(base_id) = self.table.find(base, |i| self.name(i) == base) {
                    links.push((base_id, id, bit));
                }
            }
        }
        for (base, sibling, bit) in links {
            if let Some(e) = self.entries.get_mut(base as usize) {
                e.bits |= bit;
            }
            if let Some(e) = self.entries.get_mut(sibling) {
                e.bits |= IS_SIBLING;
            }
        }
    }

    /// The entry named exactly `name`.
    pub fn get(&self, name: &[u8]) -> Option<&Entry> {
        let id = self.table.find(name, |i| self.name(i) == name)?;
        self.entries.get(id as usize)
    }

    pub(super) fn name(&self, id: u32) -> &[u8] {
        name_of(&self.entries, &self.names, id)
    }

    /// The name of an entry of this index.
    pub fn name_of(&self, entry: &Entry) -> &[u8] {
        let start = entry.name_start as usize;
        self.names
            .get(start..start + usize::from(entry.name_len))
            .unwrap_or_default()
    }

    /// All entries in central directory order, duplicates included.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Heap bytes held by the index (for benchmarks).
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.names.capacity()
            + self.table.allocation_size()
    }

    /// Where `entry`'s data starts, reading its local header on first use.
    /// Checks that the local header names the same member and that the data
    /// lies before the central directory.
    pub fn data_offset<R: ReadAt + ?Sized>(
        &self,
        entry: &Entry,
        src: &R,
    ) -> Result<u64, DataError> {
        let local_offset = entry.local_offset();
        let name = self.name_of(entry);
        let known = entry.local_extra.load(Ordering::Relaxed);
        if known != LOCAL_UNKNOWN {
            // Checked when it was stored (below); the same sum cannot overflow now.
            return Ok(local_offset + (format::LOCAL_LEN + name.len() + usize::from(known)) as u64);
        }
        let mut buf = [0u8; format::LOCAL_LEN + u16::MAX as usize];
        let head = buf
            .get_mut(..format::LOCAL_LEN + name.len())
            .ok_or(DataError::BadLocalHeader)?;
        src.read_exact_at(head, local_offset)
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => DataError::BadLocalHeader,
                _ => DataError::Io(e),
            })?;
        let local = format::LocalFixed::parse(head).ok_or(DataError::BadLocalHeader)?;
        let (name_len, extra_len) = (local.name_len, local.extra_len);
        if head.get(format::LOCAL_LEN..) != Some(name) || name_len != name.len() {
            return Err(DataError::BadLocalHeader);
        }
        // Readers that trust the local header would see another member than
        // the one we describe (method, length): refuse the ambiguity.
        if !local.agrees_with(entry.method, entry.compressed_size(), entry.size()) {
            return Err(DataError::BadLocalHeader);
        }
        // A stored member is sent as `size` bytes from its data: a larger
        // `size` than the stored bytes would send what follows the member.
        // (Encryption adds a header to stored data; such members are not served.)
        if entry.method == format::METHOD_STORED
            && !entry.is_encrypted()
            && entry.size() != entry.compressed_size()
        {
            return Err(DataError::BadLocalHeader);
        }
        let offset = local_offset
            .checked_add((format::LOCAL_LEN + name_len + extra_len) as u64)
            .filter(|o| {
                o.checked_add(entry.compressed_size())
                    .is_some_and(|end| end <= self.data_end)
            })
            .ok_or(DataError::BadLocalHeader)?;
        if let Ok(extra) = u16::try_from(extra_len) {
            entry.local_extra.store(extra, Ordering::Relaxed);
        }
        Ok(offset)
    }
}

/// Refuses archives whose members share bytes. Each member occupies at least
/// its local header's fixed part, its name and its data; the local extra
/// field is only known later, so this is the part that can be checked when
/// opening. Linear when the directory is in file order (every writer's
/// habit), else one sort of the entry ids.
pub(super) fn check_overlaps(entries: &[Entry]) -> Result<(), IndexError> {
    let start = |e: &Entry| e.local_offset();
    let min_end = |e: &Entry| {
        e.local_offset()
            .saturating_add((format::LOCAL_LEN + usize::from(e.name_len)) as u64)
            .saturating_add(e.compressed_size())
    };
    let check = |a: &Entry, b: &Entry| {
        if start(b) < min_end(a) {
            Err(IndexError::OverlappingMembers {
                first: start(a),
                second: start(b),
            })
        } else {
            Ok(())
        }
    };
    if entries.windows(2).all(|w| match w {
        [a, b] => start(a) <= start(b),
        _ => true,
    }) {
        for w in entries.windows(2) {
            if let [a, b] = w {
                check(a, b)?;
            }
        }
        return Ok(());
    }
    let mut order: Vec<&Entry> = entries.iter().collect();
    order.sort_unstable_by_key(|e| start(e));
    for w in order.windows(2) {
        if let [a, b] = w {
            check(a, b)?;
        }
    }
    Ok(())
}

/// Whether `name` ends like a precompressed sibling (`.br`, `.zst`, `.gz`):
/// a byte test before any slice comparison, as most names end otherwise.
fn maybe_sibling(name: &[u8]) -> bool {
    matches!(
        name,
        [.., b'.', b'b', b'r'] | [.., b'.', b'z', b's', b't'] | [.., b'.', b'g', b'z']
    )
}

fn name_of<'a>(entries: &[Entry], names: &'a [u8], id: u32) -> &'a [u8] {
    entries
        .get(id as usize)
        .and_then(|e| {
            let start = e.name_start as usize;
            names.get(start..start + usize::from(e.name_len))
        })
        .unwrap_or_default()
}

#[cfg(test)]
pub(super) mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;
    use std::io::{Cursor, Write};
    use zip::write::SimpleFileOptions;

    pub(crate) fn archive(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        for (name, data) in members {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn member<'a>(zip: &'a [u8], index: &Index, name: &str) -> Option<&'a [u8]> {
        let e = index.get(name.as_bytes())?;
        let off = index.data_offset(e, zip).unwrap() as usize;
        Some(&zip[off..off + e.size() as usize])
    }

    #[test]
    fn hit_and_miss() {
        let zip = archive(&[("index.html", b"<h1>hi</h1>"), ("css/site.css", b"body{}")]);
        let index = Index::build(&zip[..]).unwrap();
        assert_eq!(index.len(), 2);
        assert_eq!(
            member(&zip, &index, "index.html"),
            Some(&b"<h1>hi</h1>"[..])
        );
        assert_eq!(member(&zip, &index, "css/site.css"), Some(&b"body{}"[..]));
        assert!(index.get(b"css").is_none());
        assert!(index.get(b"/index.html").is_none());
        assert!(index.get(b"INDEX.HTML").is_none());
        assert!(index.get(b"").is_none());
        let e = index.get(b"index.html").unwrap();
        assert_eq!(e.crc32(), crc32fast::hash(b"<h1>hi</h1>"));
        assert_eq!(e.method(), format::METHOD_STORED);
    }

    #[test]
    fn duplicate_names_last_wins() {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        w.start_file("a.txt", opts).unwrap();
        w.write_all(b"first").unwrap();
        w.start_file("b.txt", opts).unwrap();
        w.write_all(b"other").unwrap();
        let mut zip = w.finish().unwrap().into_inner();
        // Rename b.txt to a.txt in both headers: the zip crate refuses to write duplicates.
        for at in 0..zip.len() - 5 {
            if &zip[at..at + 5] == b"b.txt" {
                zip[at] = b'a';
            }
        }
        let index = Index::build(&zip[..]).unwrap();
        assert_eq!(index.entries().len(), 2);
        assert_eq!(index.len(), 1);
        assert_eq!(member(&zip, &index, "a.txt"), Some(&b"other"[..]));
    }

    #[test]
    fn empty_archive_and_comment() {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let _ = w.set_comment("PK\x05\x06 looks like a signature");
        let zip = w.finish().unwrap().into_inner();
        let index = Index::build(&zip[..]).unwrap();
        assert!(index.is_empty());
    }

    #[test]
    fn not_a_zip() {
        assert!(matches!(Index::build(&b""[..]), Err(IndexError::NotZip)));
        assert!(matches!(
            Index::build(&b"hello world, definitely not a zip file"[..]),
            Err(IndexError::NotZip)
        ));
    }

    #[test]
    fn truncated_archives_are_errors_not_panics() {
        let zip = archive(&[("a", b"aaaa"), ("b/c.txt", b"cc")]);
        for cut in 0..zip.len() {
            let _ = Index::build(&zip[..cut]);
        }
        for flip in 0..zip.len() {
            let mut bad = zip.clone();
            bad[flip] ^= 0xff;
            if let Ok(index) = Index::build(&bad[..]) {
                for e in index.entries() {
                    let _ = index.data_offset(e, &bad[..]);
                }
            }
        }
    }

    #[test]
    fn impossible_entry_count() {
        let mut zip = archive(&[("a", b"x")]);
        let eocd = zip.len() - format::EOCD_LEN;
        zip[eocd + 10] = 0xfe; // claim 65,278 entries in a 1-entry directory
        zip[eocd + 11] = 0xfe;
        assert!(matches!(
            Index::build(&zip[..]),
            Err(IndexError::ImpossibleEntryCount { .. })
        ));
    }

    #[test]
    fn local_header_must_agree() {
        let mut zip = archive(&[("a.txt", b"x")]);
        zip[30] = b'b'; // the local header's name
        let index = Index::build(&zip[..]).unwrap();
        let e = index.get(b"a.txt").unwrap();
        assert!(matches!(
            index.data_offset(e, &zip[..]),
            Err(DataError::BadLocalHeader)
        ));
    }

    /// Hostile archive `overlapping.wwz`: a member whose local header and data
    /// sit inside another member's data (the quoted-overlap zip bomb) used to be
    /// served; now the archive is refused when opened.
    #[test]
    fn overlapping_members_are_refused() {
        let inner = archive(&[("b.txt", b"inner member")]);
        // The local header of b.txt plus its data, quoted as a.txt's data.
        let quoted_len = format::LOCAL_LEN + 5 + 12;
        let quoted = inner[..quoted_len].to_vec();
        let mut zip = archive(&[("a.txt", &quoted)]);
        let index = Index::build(&zip[..]).unwrap();
        let a = index.get(b"a.txt").unwrap();
        let a_data = index.data_offset(a, &zip[..]).unwrap();
        // Append a central directory entry for b.txt pointing into a.txt's data.
        let eocd_at = zip.len() - format::EOCD_LEN;
        let cd_at = format::u32_at(&zip, eocd_at + 16).unwrap() as usize;
        let a_header = zip[cd_at..eocd_at].to_vec();
        let mut b_header = a_header.clone();
        b_header.truncate(format::CENTRAL_LEN);
        b_header[28..30].copy_from_slice(&5u16.to_le_bytes()); // name length
        b_header[30..34].fill(0); // no extra, no comment
        b_header[20..24].copy_from_slice(&12u32.to_le_bytes());
        b_header[24..28].copy_from_slice(&12u32.to_le_bytes());
        b_header[42..46].copy_from_slice(&(a_data as u32).to_le_bytes());
        b_header.extend_from_slice(b"b.txt");
        let mut eocd = zip[eocd_at..].to_vec();
        zip.truncate(eocd_at);
        zip.extend_from_slice(&b_header);
        eocd[8..10].copy_from_slice(&2u16.to_le_bytes());
        eocd[10..12].copy_from_slice(&2u16.to_le_bytes());
        let cd_size = (a_header.len() + b_header.len()) as u32;
        eocd[12..16].copy_from_slice(&cd_size.to_le_bytes());
        zip.extend_from_slice(&eocd);
        assert!(matches!(
            Index::build(&zip[..]),
            Err(IndexError::OverlappingMembers { .. })
        ));
    }

    /// Hostile archives `local-size-mismatch.wwz` and `local-method-mismatch.wwz`:
    /// a local header that disagrees with the central directory about sizes or
    /// method used to be served by the directory's word; now it is refused.
    #[test]
    fn local_header_sizes_and_method_must_agree() {
        let zip = archive(&[("a.txt", b"xyz")]);
        let size_at = 22; // uncompressed size in the local header
        let method_at = 8;
        let mut bad_size = zip.clone();
        bad_size[size_at] = 9;
        let mut bad_method = zip.clone();
        bad_method[method_at] = 8;
        for bad in [bad_size, bad_method] {
            let index = Index::build(&bad[..]).unwrap();
            let e = index.get(b"a.txt").unwrap();
            assert!(matches!(
                index.data_offset(e, &bad[..]),
                Err(DataError::BadLocalHeader)
            ));
        }
        // A data descriptor (flag bit 3) defers the sizes: zeros are fine then.
        let mut deferred = zip.clone();
        deferred[6] |= 1 << 3;
        deferred[18..26].fill(0);
        let index = Index::build(&deferred[..]).unwrap();
        let e = index.get(b"a.txt").unwrap();
        assert!(index.data_offset(e, &deferred[..]).is_ok());
    }

    /// Hostile archive `stored-sizes-differ.wwz`: a stored member whose
    /// uncompressed size (what the response sends) exceeds its stored bytes
    /// was answered with the bytes that follow it in the archive (other
    /// members, the central directory); now it is refused.
    #[test]
    fn stored_member_sizes_must_agree() {
        let mut zip = archive(&[("a.txt", b"xyz"), ("b.txt", b"secret")]);
        let eocd_at = zip.len() - format::EOCD_LEN;
        let cd_at = format::u32_at(&zip, eocd_at + 16).unwrap() as usize;
        // Uncompressed size of a.txt, in the central directory and the local header.
        zip[cd_at + 24] = 100;
        zip[22] = 100;
        let index = Index::build(&zip[..]).unwrap();
        let e = index.get(b"a.txt").unwrap();
        assert_eq!(e.size(), 100);
        assert!(matches!(
            index.data_offset(e, &zip[..]),
            Err(DataError::BadLocalHeader)
        ));
    }

    /// One central header (no local data behind it) with the given fields,
    /// ZIP64 extra for any of `size`, `compressed` and `offset` past 32 bits.
    fn central(
        name: &str,
        method: u16,
        size: u64,
        compressed: u64,
        offset: u64,
        extra: &[u8],
    ) -> Vec<u8> {
        let mut z64 = Vec::new();
        let mut field = |v: u64| {
            if v >= u64::from(u32::MAX) {
                z64.extend_from_slice(&v.to_le_bytes());
                u32::MAX
            } else {
                v as u32
            }
        };
        let (s, c, o) = (field(size), field(compressed), field(offset));
        let mut x = Vec::new();
        if !z64.is_empty() {
            x.extend_from_slice(&format::EXTRA_ZIP64.to_le_bytes());
            x.extend_from_slice(&(z64.len() as u16).to_le_bytes());
            x.extend_from_slice(&z64);
        }
        x.extend_from_slice(extra);
        let mut h = Vec::new();
        h.extend_from_slice(&format::CENTRAL_SIG.to_le_bytes());
        h.extend_from_slice(&[45, 3, 45, 0, 0, 0]);
        h.extend_from_slice(&method.to_le_bytes());
        h.extend_from_slice(&[0, 0, 0x21, 0]); // DOS time 0, 1980-01-01
        h.extend_from_slice(&0x1234_5678u32.to_le_bytes());
        h.extend_from_slice(&c.to_le_bytes());
        h.extend_from_slice(&s.to_le_bytes());
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&(x.len() as u16).to_le_bytes());
        h.extend_from_slice(&[0; 10]); // comment length, disk, attributes
        h.extend_from_slice(&o.to_le_bytes());
        h.extend_from_slice(name.as_bytes());
        h.extend_from_slice(&x);
        h
    }

    /// A central directory of `headers` and its end record (nothing else:
    /// the headers may point anywhere, nothing reads the local headers).
    fn directory(headers: &[Vec<u8>]) -> Vec<u8> {
        let cd: Vec<u8> = headers.concat();
        let mut zip = cd.clone();
        zip.extend_from_slice(&format::EOCD_SIG.to_le_bytes());
        zip.extend_from_slice(&[0; 4]);
        zip.extend_from_slice(&(headers.len() as u16).to_le_bytes());
        zip.extend_from_slice(&(headers.len() as u16).to_le_bytes());
        zip.extend_from_slice(&(cd.len() as u32).to_le_bytes());
        zip.extend_from_slice(&0u32.to_le_bytes());
        zip.extend_from_slice(&[0; 2]);
        zip
    }

    /// Entries keep 40-bit offsets and sizes exactly (ZIP64 values past 4 GiB).
    #[test]
    fn entry_keeps_40_bit_values() {
        let big = (5u64 << 32) + 12_345;
        let zip = directory(&[
            central("a", 0, big, big, 0, &[]),
            central("b", 8, MAX_40, 7, big + big, &[]),
        ]);
        let index = Index::build(&zip[..]).unwrap();
        let a = index.get(b"a").unwrap();
        assert_eq!(
            (a.size(), a.compressed_size(), a.local_offset()),
            (big, big, 0)
        );
        assert_eq!(a.crc32(), 0x1234_5678);
        let b = index.get(b"b").unwrap();
        assert_eq!(
            (b.size(), b.compressed_size(), b.local_offset(), b.method()),
            (MAX_40, 7, 2 * big, 8)
        );
        assert_eq!(b.mtime(), 315_532_800);
    }

    /// Past 1 TiB an offset or size does not fit an entry: refused, not cut.
    #[test]
    fn values_past_40_bits_are_refused() {
        for (s, c, o) in [(MAX_40 + 1, 1, 0), (1, MAX_40 + 1, 0), (1, 1, MAX_40 + 1)] {
            let zip = directory(&[central("a", 8, s, c, o, &[])]);
            assert!(matches!(Index::build(&zip[..]), Err(IndexError::TooLarge)));
        }
    }

    /// Times outside 1970..2106 are clamped to the range an entry holds.
    #[test]
    fn mtime_is_clamped() {
        let ut = |t: i32| {
            let mut x = format::EXTRA_UT.to_le_bytes().to_vec();
            x.extend_from_slice(&[5, 0, 1]);
            x.extend_from_slice(&t.to_le_bytes());
            x
        };
        let zip = directory(&[
            central("old", 0, 0, 0, 0, &ut(-5)),
            central("now", 0, 0, 0, 100, &ut(1_700_000_000)),
        ]);
        let index = Index::build(&zip[..]).unwrap();
        assert_eq!(index.get(b"old").unwrap().mtime(), 0);
        assert_eq!(index.get(b"now").unwrap().mtime(), 1_700_000_000);
    }

    /// Only stored, unencrypted `NAME.br/.zst/.gz` beside `NAME` are siblings;
    /// names that merely end in those letters are not.
    #[test]
    fn siblings_are_linked() {
        let zip = archive(&[
            ("a.html", b"x"),
            ("a.html.br", b"b"),
            ("a.html.zst", b"z"),
            ("a.html.gz", b"g"),
            ("b.html", b"x"),
            ("b.htmlbr", b"x"),
            ("c.gz", b"lonely"),
            ("d/", b""),
            ("d/.br", b"x"),
        ]);
        let index = Index::build(&zip[..]).unwrap();
        let a = index.get(b"a.html").unwrap();
        assert_eq!(a.siblings(), SIBLING_BR | SIBLING_ZSTD | SIBLING_GZ);
        assert!(!a.is_sibling());
        for s in ["a.html.br", "a.html.zst", "a.html.gz"] {
            assert!(index.get(s.as_bytes()).unwrap().is_sibling(), "{s}");
        }
        for s in ["b.html", "b.htmlbr", "c.gz", "d/", "d/.br"] {
            let e = index.get(s.as_bytes()).unwrap();
            assert!(!e.is_sibling() && e.siblings() == 0, "{s}");
        }
        // A deflated NAME.gz is a member of its own, not a sibling.
        let zip = directory(&[
            central("e.txt", 0, 1, 1, 0, &[]),
            central("e.txt.gz", 8, 1, 1, 100, &[]),
        ]);
        let index = Index::build(&zip[..]).unwrap();
        assert_eq!(index.get(b"e.txt").unwrap().siblings(), 0);
        assert!(!index.get(b"e.txt.gz").unwrap().is_sibling());
    }

    #[test]
    fn entry_is_small() {
        assert!(std::mem::size_of::<Entry>() <= 36);
    }
}
