//! The serving index of one archive and the questions asked of it on every
//! request: member name → [`Entry`], one hash and one probe, hit or miss.
//!
//! Memory is one 36-byte [`Entry`] and one table slot per member, plus one
//! shared buffer holding every name; nothing is allocated per member.
//! How an index is made lives elsewhere: `open` chooses between the
//! block `wwz pack` wrote ([`super::packed`]) and the central directory
//! (`directory`); `local` finds a member's data, and
//! [`super::tree`] answers directory questions.

use std::sync::OnceLock;

use super::entry::MARKDOWN_TWIN;
use super::table::Table;
use crate::content::markdown;

pub use super::entry::{Entry, IS_SIBLING, MAX_40, SIBLING_BR, SIBLING_GZ, SIBLING_ZSTD};

/// The index of one archive.
pub struct Index {
    pub(super) entries: Vec<Entry>,
    pub(super) names: Vec<u8>,
    pub(super) table: Table,
    /// Where member data must end: the start of the central directory (or
    /// of the packed index before it).
    pub(super) data_end: u64,
    /// Entry ids (one per distinct name) in name order, built on the first
    /// directory question (see [`super::tree`]) so that opening stays cheap.
    pub(super) sorted: OnceLock<Vec<u32>>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl Index {
    /// An index of `entries`, named in `names`, found through `table`, whose
    /// member data must end before `data_end`: checked by whoever made them.
    pub(super) fn from_parts(
        mut entries: Vec<Entry>,
        names: Vec<u8>,
        table: Table,
        data_end: u64,
    ) -> Index {
        mark_twins(&mut entries, &names, &table);
        Index {
            entries,
            names,
            table,
            data_end,
            sorted: OnceLock::new(),
        }
    }

    /// Where member data must end: the start of the central directory (or
    /// of the packed index before it).
    pub fn data_end(&self) -> u64 {
        self.data_end
    }

    /// The entry named exactly `name`.
    pub fn get(&self, name: &[u8]) -> Option<&Entry> {
        let id = self.table.find(name, |i| self.name(i) == name)?;
        self.entries.get(id as usize)
    }

    /// The name of entry `id`; empty if there is no such entry.
    pub(super) fn name(&self, id: u32) -> &[u8] {
        self.entries
            .get(id as usize)
            .map_or(&[][..], |e| e.name_in(&self.names))
    }

    /// The name of an entry of this index.
    pub fn name_of(&self, entry: &Entry) -> &[u8] {
        entry.name_in(&self.names)
    }

    /// All entries in central directory order, duplicates included.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Distinct names.
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
}

/// Marks each page that has a Markdown twin ([`markdown`]), so that serving
/// a page learns it from the entry its one lookup found: a pass over the
/// names, and a lookup for each twin.
fn mark_twins(entries: &mut [Entry], names: &[u8], table: &Table) {
    let name_of = |entries: &[Entry], id: u32| {
        entries
            .get(id as usize)
            .map_or(&[][..], |e| e.name_in(names))
    };
    let mut pages = Vec::new();
    let mut key = Vec::new();
    for e in entries.iter().filter(|e| !e.is_encrypted()) {
        let Some(stem) = markdown::stem_of_twin(e.name_in(names)) else {
            continue;
        };
        key.clear();
        key.extend_from_slice(stem);
        key.extend_from_slice(markdown::PAGE);
        if let Some(id) = table.find(&key, |i| name_of(entries, i) == key) {
            pages.push(id);
        }
    }
    for id in pages {
        if let Some(e) = entries.get_mut(id as usize) {
            e.bits |= MARKDOWN_TWIN;
        }
    }
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;
    use crate::zip::format;
    use crate::zip::testing::archive;

    #[test]
    fn hit_and_miss() {
        let zip = archive(&[("index.html", b"<h1>hi</h1>"), ("css/site.css", b"body{}")]);
        let index = Index::build(&zip[..]).unwrap();
        assert_eq!(index.len(), 2);
        assert_eq!(index.served(&zip, "index.html"), Some(&b"<h1>hi</h1>"[..]));
        assert_eq!(index.served(&zip, "css/site.css"), Some(&b"body{}"[..]));
        assert!(index.get(b"css").is_none());
        assert!(index.get(b"/index.html").is_none());
        assert!(index.get(b"INDEX.HTML").is_none());
        assert!(index.get(b"").is_none());
        let e = index.get(b"index.html").unwrap();
        assert_eq!(e.crc32(), crc32fast::hash(b"<h1>hi</h1>"));
        assert_eq!(e.method(), format::METHOD_STORED);
        assert_eq!(index.name_of(e), b"index.html");
    }

    /// `NAME.html` with `NAME.md` beside it is marked; nothing else is.
    #[test]
    fn markdown_twins_are_marked() {
        let zip = archive(&[
            ("page.html", b"<p>page</p>"),
            ("page.md", b"page"),
            ("dir/index.html", b"<p>dir</p>"),
            ("dir/index.md", b"dir"),
            ("alone.html", b"<p>alone</p>"),
            ("notes.md", b"notes"),
            ("x.htm", b"<p>x</p>"),
            ("x.md", b"x"),
        ]);
        let index = Index::build(&zip[..]).unwrap();
        let twin = |name: &str| index.get(name.as_bytes()).unwrap().has_markdown_twin();
        assert!(twin("page.html") && twin("dir/index.html"));
        for name in [
            "page.md",
            "dir/index.md",
            "alone.html",
            "notes.md",
            "x.htm",
            "x.md",
        ] {
            assert!(!twin(name), "{name}");
        }
    }

    #[test]
    fn duplicate_names_last_wins() {
        let mut zip = archive(&[("a.txt", b"first"), ("b.txt", b"other")]);
        // Rename b.txt to a.txt in both headers: the zip crate refuses to write duplicates.
        for at in 0..zip.len() - 5 {
            if &zip[at..at + 5] == b"b.txt" {
                zip[at] = b'a';
            }
        }
        let index = Index::build(&zip[..]).unwrap();
        assert_eq!(index.entries().len(), 2);
        assert_eq!(index.len(), 1);
        assert_eq!(index.served(&zip, "a.txt"), Some(&b"other"[..]));
    }

    #[test]
    fn empty_archive_and_comment() {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let _ = w.set_comment("PK\x05\x06 looks like a signature");
        let zip = w.finish().unwrap().into_inner();
        let index = Index::build(&zip[..]).unwrap();
        assert!(index.is_empty());
    }
}
