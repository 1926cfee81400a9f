//! Opening an archive's index: the one place that chooses between the index
//! `wwz pack` wrote before the central directory ([`super::packed`]) and
//! building one from the directory ([`super::directory`]). Both makers depend
//! on the index types ([`super::entry`], [`super::index`]), never on each
//! other's callers; only this module knows there are two.

use super::directory;
use super::end::EndOfCentralDirectory;
use super::error::IndexError;
use super::index::Index;
use super::packed;
use super::read::ReadAt;

impl Index {
    /// Reads the central directory of `src` and indexes it.
    /// Uses the index `wwz pack` wrote before the directory when it is there,
    /// intact and made for this very directory (see [`super::packed`]).
    pub fn build<R: ReadAt + ?Sized>(src: &R) -> Result<Index, IndexError> {
        let end = EndOfCentralDirectory::read(src)?;
        if let Some(index) = packed::load(src, &end) {
            return Ok(index);
        }
        directory::build(src, &end)
    }
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;
    use crate::zip::testing::archive;

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
}
