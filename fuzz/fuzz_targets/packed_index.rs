//! The index `wwz pack` writes before the central directory (zip/packed.rs),
//! from archives `wwz pack` made and mutated, with the framing and both
//! CRC-32s of the block recomputed before it is read, so that mutations
//! reach the parser instead of stopping at the checksum (`zip_index` covers
//! the bytes as they come). A block that is used must keep every promise the
//! directory's index keeps: a name found is that name, a member served sits
//! behind a local header with its own name and ends before the block, and
//! the index costs memory in proportion to the file, not to what it claims.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wwz::zip::packed::{self, TRAILER_LEN};
use wwz::zip::{EndOfCentralDirectory, Index};

const HEADER_MAGIC: &[u8] = b"WWZINDEX";
const TRAILER_MAGIC: &[u8] = b"WWZIDXv1";
const EOCD_MAGIC: &[u8] = b"PK\x05\x06";
const LOCAL_MAGIC: &[u8] = b"PK\x03\x04";

fuzz_target!(|data: &[u8]| {
    let mut zip = data.to_vec();
    let block_start = fix_up(&mut zip);
    let Ok(end) = EndOfCentralDirectory::read(&zip[..]) else {
        return;
    };
    let used = packed::load(&zip[..], &end).is_some();
    let Ok(index) = Index::build(&zip[..]) else {
        return;
    };
    assert!(
        index.heap_bytes() <= 8 * zip.len() + 64 * 1024,
        "{} heap bytes for a {}-byte file",
        index.heap_bytes(),
        zip.len()
    );
    for entry in index.entries() {
        let name = index.name_of(entry);
        // A crafted table may cost a miss, never another entry's name.
        if let Some(found) = index.get(name) {
            assert_eq!(index.name_of(found), name);
        }
        let Ok(offset) = index.data_offset(entry, &zip[..]) else {
            continue;
        };
        // Checked here by hand, not through the library: the local header.
        let local = usize::try_from(entry.local_offset()).unwrap_or(usize::MAX);
        let header = zip.get(local..).unwrap_or_default();
        assert!(
            header.starts_with(LOCAL_MAGIC),
            "no local header at {local}"
        );
        let name_len = header
            .get(26..28)
            .map_or(0, |b| usize::from(u16::from_le_bytes([b[0], b[1]])));
        assert_eq!(
            header.get(30..30 + name_len),
            Some(name),
            "another member's header"
        );
        let data_end = offset.saturating_add(entry.compressed_size());
        assert!(data_end <= zip.len() as u64, "member data past the end");
        if let (true, Some(start)) = (used, block_start) {
            assert!(
                data_end <= start as u64,
                "member data inside the index block"
            );
        }
    }
    for dir in [&b""[..], b"css/", b"logs/", b"logs/job-1/", b"d0/"] {
        let _ = index.children(dir);
    }
});

/// Makes the block agree with the directory after it, as `wwz pack` would
/// have written it for these bytes: the directory starts right after the
/// trailer (classic end record), the trailer's length, offset and size
/// fields follow, and both CRC-32s are recomputed. Returns where the block
/// starts; `None` (bytes left as they are) if there is no block to fix.
fn fix_up(zip: &mut [u8]) -> Option<usize> {
    let eocd = rfind(zip, EOCD_MAGIC, zip.len())?;
    let trailer_end = rfind(zip, TRAILER_MAGIC, eocd)? + TRAILER_MAGIC.len();
    let trailer = trailer_end.checked_sub(TRAILER_LEN)?;
    let start = rfind(zip, HEADER_MAGIC, trailer)?;
    let cd_size = eocd - trailer_end;
    let (cd_offset32, cd_size32) = (
        u32::try_from(trailer_end).ok()?,
        u32::try_from(cd_size).ok()?,
    );
    if zip.get(eocd + 12..eocd + 20)?.iter().all(|&b| b == 0xff) {
        return None; // ZIP64: its own record says where the directory is
    }
    put(zip, eocd + 12, &cd_size32.to_le_bytes())?;
    put(zip, eocd + 16, &cd_offset32.to_le_bytes())?;
    put(zip, trailer + 8, &((trailer - start) as u64).to_le_bytes())?;
    put(zip, trailer + 16, &(trailer_end as u64).to_le_bytes())?;
    put(zip, trailer + 24, &(cd_size as u64).to_le_bytes())?;
    let block_crc = crc32fast::hash(zip.get(start..trailer)?);
    let cd_crc = crc32fast::hash(zip.get(trailer_end..eocd)?);
    put(zip, trailer, &block_crc.to_le_bytes())?;
    put(zip, trailer + 4, &cd_crc.to_le_bytes())?;
    Some(start)
}

/// The last occurrence of `needle` that ends at or before `before`.
fn rfind(hay: &[u8], needle: &[u8], before: usize) -> Option<usize> {
    hay.get(..before)?
        .windows(needle.len())
        .rposition(|w| w == needle)
}

fn put(zip: &mut [u8], at: usize, bytes: &[u8]) -> Option<()> {
    zip.get_mut(at..at + bytes.len())?.copy_from_slice(bytes);
    Some(())
}
