//! Directory questions about an archive: is this a directory, what does it
//! hold. Zip has no directories, only names; the tree is read from the
//! names in sorted order, built on the first question so that opening an
//! archive for serving single members stays cheap.

use super::entry::Entry;
use super::index::Index;

/// One item of a directory listing.
#[derive(Debug, Clone, Copy)]
pub enum Child<'a> {
    /// A subdirectory, explicit or implied by member names; its name has no slash.
    Dir(&'a [u8]),
    File(&'a [u8], &'a Entry),
}

impl Index {
    /// Entry ids in name order, one per distinct name.
    fn sorted(&self) -> &[u32] {
        self.sorted.get_or_init(|| {
            let mut ids: Vec<u32> = self.table.ids().collect();
            ids.sort_unstable_by(|&a, &b| self.name(a).cmp(self.name(b)));
            ids
        })
    }

    /// Position of the first name not less than `key` in [`Index::sorted`].
    fn lower_bound(&self, key: &[u8]) -> usize {
        self.sorted().partition_point(|&i| self.name(i) < key)
    }

    /// Where the names starting with `dir` begin in name order: a position
    /// for [`Index::in_order`], from which they follow one another.
    pub fn first_under(&self, dir: &[u8]) -> usize {
        self.lower_bound(dir)
    }

    /// The name at position `at` in name order (one per distinct name, as
    /// served) and its entry.
    pub fn in_order(&self, at: usize) -> Option<(&[u8], &Entry)> {
        let id = *self.sorted().get(at)?;
        Some((self.name(id), self.entries.get(id as usize)?))
    }

    /// Whether `dir` (empty for the root, else ending in `/`) is a directory:
    /// the root, an explicit entry, or a prefix of some member's name.
    pub fn is_dir(&self, dir: &[u8]) -> bool {
        if dir.is_empty() {
            return true;
        }
        let sorted = self.sorted();
        sorted
            .get(self.lower_bound(dir))
            .is_some_and(|&i| self.name(i).starts_with(dir))
    }

    /// The children of directory `dir` (empty for the root, else ending in
    /// `/`): subdirectories, then files, each in name order. `None` if `dir`
    /// is not a directory. Each subdirectory costs one binary search to skip
    /// its contents, so a listing never walks the whole tree below it.
    pub fn children(&self, dir: &[u8]) -> Option<Vec<Child<'_>>> {
        if !self.is_dir(dir) {
            return None;
        }
        let sorted = self.sorted();
        let mut dirs = Vec::new();
        let mut files = Vec::new();
        let mut at = self.lower_bound(dir);
        let mut key = Vec::new();
        while let Some(&id) = sorted.get(at) {
            let name = self.name(id);
            let Some(rest) = name.strip_prefix(dir) else {
                break;
            };
            match rest.iter().position(|&b| b == b'/') {
                Some(slash) => {
                    let sub = rest.get(..slash).unwrap_or_default();
                    if !sub.is_empty() {
                        dirs.push(Child::Dir(sub));
                    }
                    // Skip everything under `dir/sub/`: '0' sorts right after '/'.
                    key.clear();
                    key.extend_from_slice(dir);
                    key.extend_from_slice(sub);
                    key.push(b'0');
                    at = self.lower_bound(&key).max(at + 1);
                }
                None => {
                    // A precompressed sibling is a representation of its member, not a file of its own.
                    if let (false, Some(entry)) = (rest.is_empty(), self.entries.get(id as usize)) {
                        if !entry.is_sibling() {
                            files.push(Child::File(rest, entry));
                        }
                    }
                    at += 1;
                }
            }
        }
        // `logs-old/` sorts before `logs/x` by bytes; list directories by their own names.
        dirs.sort_by(|a, b| match (a, b) {
            (Child::Dir(x), Child::Dir(y)) => x.cmp(y),
            _ => std::cmp::Ordering::Equal,
        });
        dirs.extend(files);
        Some(dirs)
    }
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;
    use crate::zip::testing::archive;

    #[test]
    fn directories() {
        let zip = archive(&[
            ("a.txt", b"1"),
            ("docs/", b""),
            ("docs/b.txt", b"22"),
            ("logs/job-1/build.log", b"333"),
            ("logs/job-1/test.log", b"4444"),
            ("logs/job-2/build.log", b"5"),
            ("logs/summary.txt", b"6"),
            ("logs-old/x", b"7"),
        ]);
        let index = Index::build(&zip[..]).unwrap();
        let names = |dir: &str| -> Vec<String> {
            index
                .children(dir.as_bytes())
                .unwrap()
                .iter()
                .map(|c| match c {
                    Child::Dir(n) => format!("{}/", String::from_utf8_lossy(n)),
                    Child::File(n, _) => String::from_utf8_lossy(n).into_owned(),
                })
                .collect()
        };
        assert_eq!(names(""), ["docs/", "logs/", "logs-old/", "a.txt"]);
        assert_eq!(names("logs/"), ["job-1/", "job-2/", "summary.txt"]);
        assert_eq!(names("logs/job-1/"), ["build.log", "test.log"]);
        assert_eq!(names("docs/"), ["b.txt"]);
        assert!(index.is_dir(b"logs/job-2/"));
        assert!(index.is_dir(b"docs/"));
        assert!(!index.is_dir(b"log/"));
        assert!(!index.is_dir(b"a.txt/"));
        assert!(index.children(b"nothing/").is_none());
        // Everything under logs/, in name order, from its first position.
        let first = index.first_under(b"logs/");
        let under: Vec<&[u8]> = (first..)
            .map_while(|at| index.in_order(at))
            .map(|(name, _)| name)
            .take_while(|name| name.starts_with(b"logs/"))
            .collect();
        assert_eq!(
            under,
            [
                &b"logs/job-1/build.log"[..],
                b"logs/job-1/test.log",
                b"logs/job-2/build.log",
                b"logs/summary.txt"
            ]
        );
        assert!(index.in_order(index.len()).is_none());
    }

    #[test]
    fn large_directory_lists_in_order() {
        let names: Vec<String> = (0..10_000).map(|i| format!("d/f{i:05}.log")).collect();
        let members: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
        let zip = archive(&members);
        let index = Index::build(&zip[..]).unwrap();
        let kids = index.children(b"d/").unwrap();
        assert_eq!(kids.len(), 10_000);
        assert!(matches!(kids[9_999], Child::File(n, _) if n == b"f09999.log"));
    }
}
