//! Where a member's data starts: after its local header (APPNOTE 4.3.7),
//! whose extra field the central directory does not tell. The header is read
//! on the member's first request, checked against the entry, and its extra
//! length remembered in the entry, so later requests read nothing.

use std::io;
use std::sync::atomic::Ordering;

use super::entry::{Entry, LOCAL_UNKNOWN};
use super::error::DataError;
use super::format;
use super::index::Index;
use super::read::ReadAt;

impl Index {
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
            // Checked when it was stored (below): the same sum cannot overflow now.
            return local_offset
                .checked_add((format::LOCAL_LEN + name.len() + usize::from(known)) as u64)
                .ok_or(DataError::BadLocalHeader);
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

    /// The bytes a server would send for stored member `name` of `zip`.
    #[cfg(test)]
    pub(super) fn served<'a>(&self, zip: &'a [u8], name: &str) -> Option<&'a [u8]> {
        let e = self.get(name.as_bytes())?;
        let off = usize::try_from(self.data_offset(e, zip).ok()?).ok()?;
        zip.get(off..)?.get(..usize::try_from(e.size()).ok()?)
    }
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use crate::zip::testing::archive;
    use crate::zip::{DataError, Index};

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

    /// The second call answers from the remembered extra length, identically,
    /// without reading (the source is gone).
    #[test]
    fn extra_length_is_remembered() {
        let zip = archive(&[("a.txt", b"xyz"), ("b.txt", b"b")]);
        let index = Index::build(&zip[..]).unwrap();
        let e = index.get(b"b.txt").unwrap();
        let first = index.data_offset(e, &zip[..]).unwrap();
        assert_eq!(index.data_offset(e, &b""[..]).unwrap(), first);
        assert_eq!(&zip[first as usize..][..1], b"b");
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
        let eocd_at = zip.len() - crate::zip::format::EOCD_LEN;
        let cd_at = crate::zip::format::u32_at(&zip, eocd_at + 16).unwrap() as usize;
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
}
