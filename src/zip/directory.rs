//! Building the serving index from the central directory (APPNOTE 4.3.12),
//! as for any zip: one pass over the headers through one reused buffer
//! ([`end::central_directory`]), then the checks and links that need every
//! entry (members that overlap, precompressed siblings).
//!
//! `wwz pack` runs this too, to write the result into the archive
//! ([`super::packed::block`]); a server runs it when there is no such block.

use std::hash::BuildHasher;

use super::end::{self, EndOfCentralDirectory};
use super::entry::{check_overlaps, sibling_bit, Entry, IS_SIBLING};
use super::error::IndexError;
use super::format::{self, CentralHeader};
use super::index::Index;
use super::read::ReadAt;
use super::table::Table;
use crate::content::coding::Coding;

/// Reads the central directory that `end` describes and indexes it.
pub(super) fn build<R: ReadAt + ?Sized>(
    src: &R,
    end: &EndOfCentralDirectory,
) -> Result<Index, IndexError> {
    // A fresh random seed per build: a directory cannot be crafted against it.
    let seed = std::collections::hash_map::RandomState::new().hash_one(0u64);
    build_seeded(src, end, seed)
}

/// [`build`] with the table's hash seed given (`wwz pack` fixes it).
pub(super) fn build_seeded<R: ReadAt + ?Sized>(
    src: &R,
    end: &EndOfCentralDirectory,
    seed: u64,
) -> Result<Index, IndexError> {
    let mut b = Builder::with_capacity(src, end, seed);
    end::central_directory(src, end, |h| b.push(h))?;
    check_overlaps(&b.entries)?;
    if b.maybe_siblings {
        b.link_siblings();
    }
    b.entries.shrink_to_fit();
    b.names.shrink_to_fit();
    Ok(Index::from_parts(
        b.entries,
        b.names,
        b.table,
        end.cd_offset,
    ))
}

/// An index being read from the directory.
struct Builder {
    entries: Vec<Entry>,
    names: Vec<u8>,
    table: Table,
    /// Whether some name ends in a sibling's suffix (noted while reading the
    /// directory): only then is there a sibling to link.
    maybe_siblings: bool,
}

/// The name of entry `id`, for the table (which holds ids, not names).
fn name_of<'a>(entries: &[Entry], names: &'a [u8], id: u32) -> &'a [u8] {
    entries
        .get(id as usize)
        .map_or(&[][..], |e| e.name_in(names))
}

impl Builder {
    /// Room for the entries the directory can hold. The declared count is
    /// only a claim: capacity comes from the bytes there are (46 per
    /// header, within the directory's size and the file's), so an end
    /// record that lies costs nothing up front. `EndOfCentralDirectory::read`
    /// refuses such counts too, but the builder does not rely on its caller.
    fn with_capacity<R: ReadAt + ?Sized>(
        src: &R,
        end: &EndOfCentralDirectory,
        seed: u64,
    ) -> Builder {
        let cd_bytes = end.cd_size.min(src.size());
        let entries = end.entries.min(cd_bytes / format::CENTRAL_LEN as u64);
        let capacity = usize::try_from(entries).unwrap_or(0);
        // The names fit in what the fixed headers leave of the directory; the
        // unused tail is returned by shrink_to_fit without being touched.
        let names = cd_bytes.saturating_sub(entries.saturating_mul(format::CENTRAL_LEN as u64));
        Builder {
            entries: Vec::with_capacity(capacity),
            names: Vec::with_capacity(usize::try_from(names).unwrap_or(0)),
            table: Table::with_capacity(capacity, seed),
            maybe_siblings: false,
        }
    }

    fn push(&mut self, h: &CentralHeader<'_>) -> Result<(), IndexError> {
        let name_start = u32::try_from(self.names.len()).map_err(|_| IndexError::TooLarge)?;
        let id = u32::try_from(self.entries.len()).map_err(|_| IndexError::TooLarge)?;
        self.entries.push(Entry::from_central(h, name_start)?);
        self.names.extend_from_slice(h.name);
        if Coding::split_sibling(h.name).is_some() {
            self.maybe_siblings = true;
        }
        let Builder {
            entries,
            names,
            table,
            ..
        } = self;
        table.insert(h.name, id, &|i| name_of(entries, names, i))
    }

    /// Marks precompressed siblings: a stored, unencrypted `NAME` + a
    /// [`Coding::suffix`] whose `NAME` is a member.
    fn link_siblings(&mut self) {
        let Builder {
            entries,
            names,
            table,
            ..
        } = self;
        let mut links = Vec::new();
        // In directory order: names are read front to back, not in the hash
        // table's scattered order (a cache miss per member at 100k members).
        for (id, e) in entries.iter().enumerate() {
            if e.method != format::METHOD_STORED || e.is_encrypted() {
                continue;
            }
            let Some((base, coding)) = Coding::split_sibling(e.name_in(names)) else {
                continue;
            };
            if base.is_empty() || base.ends_with(b"/") {
                continue;
            }
            if let Some(base_id) = table.find(base, |i| name_of(entries, names, i) == base) {
                links.push((base_id, id, sibling_bit(coding)));
            }
        }
        for (base, sibling, bit) in links {
            if let Some(e) = entries.get_mut(base as usize) {
                e.bits |= bit;
            }
            if let Some(e) = entries.get_mut(sibling) {
                e.bits |= IS_SIBLING;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;
    use crate::zip::entry::{MAX_40, SIBLING_BR, SIBLING_GZ, SIBLING_ZSTD};
    use crate::zip::testing::{archive, central, directory};

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

    /// The builder sizes its allocations from the bytes the directory can
    /// hold, not from the count the end record declares: a one-header
    /// directory declaring 65,535 or 2^32 entries reserves room for one.
    #[test]
    fn declared_count_does_not_size_the_index() {
        let zip = archive(&[("a", b"x")]);
        let real = EndOfCentralDirectory::read(&zip[..]).unwrap();
        for claimed in [65_535, 1 << 32, u64::MAX] {
            let end = EndOfCentralDirectory {
                entries: claimed,
                ..real
            };
            let b = Builder::with_capacity(&zip[..], &end, 7);
            assert!(
                b.entries.capacity() <= 1,
                "{claimed}: {}",
                b.entries.capacity()
            );
            assert!(
                b.table.allocation_size() <= 64,
                "{claimed}: {}",
                b.table.allocation_size()
            );
            assert!(b.names.capacity() <= zip.len(), "{claimed}");
        }
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
            ("f.css", b"x"),
            ("f.css.zst", b"z"),
        ]);
        let index = Index::build(&zip[..]).unwrap();
        let a = index.get(b"a.html").unwrap();
        assert_eq!(a.siblings(), SIBLING_BR | SIBLING_ZSTD | SIBLING_GZ);
        assert!(Coding::ALL.iter().all(|&c| a.has_sibling(c)));
        assert!(!a.is_sibling());
        for s in ["a.html.br", "a.html.zst", "a.html.gz", "f.css.zst"] {
            assert!(index.get(s.as_bytes()).unwrap().is_sibling(), "{s}");
        }
        let f = index.get(b"f.css").unwrap();
        assert_eq!(Coding::ALL.map(|c| f.has_sibling(c)), [false, true, false]);
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
}
