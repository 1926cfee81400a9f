//! The serving index built from arbitrary bytes (an archive a CI job
//! uploaded), then every question the responder asks of it: lookups by name,
//! the local header behind each entry, directory listings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wwz::pages::listing::{self, Place};
use wwz::zip::{Child, Index};

fuzz_target!(|data: &[u8]| {
    let Ok(index) = Index::build(data) else {
        return;
    };
    assert!(index.len() <= index.entries().len());
    let mut dirs: Vec<Vec<u8>> = vec![Vec::new()];
    for entry in index.entries() {
        let name = index.name_of(entry);
        // Duplicate names resolve to one entry, which carries the same name.
        let found = index.get(name).expect("every indexed name is found");
        assert_eq!(index.name_of(found), name);
        if let Ok(offset) = index.data_offset(entry, data) {
            let end = offset
                .checked_add(entry.compressed_size())
                .expect("data end fits");
            assert!(end <= data.len() as u64, "member data past the end");
            // A second call answers from the cache, identically.
            assert_eq!(index.data_offset(entry, data).ok(), Some(offset));
        }
        if let Some(slash) = name.iter().rposition(|&b| b == b'/') {
            dirs.push(name[..=slash].to_vec());
        }
    }
    dirs.truncate(64);
    for dir in &dirs {
        let Some(children) = index.children(dir) else {
            continue;
        };
        for child in &children {
            match child {
                Child::Dir(n) => assert!(!n.is_empty() && !n.contains(&b'/')),
                Child::File(n, _) => assert!(!n.is_empty() && !n.contains(&b'/')),
            }
        }
        let dir = String::from_utf8_lossy(dir);
        let place = Place {
            archive: "fuzz.wwz",
            dir: &dir,
        };
        let _ = listing::html(&place, &children, |t| t);
        let _ = listing::json(&place, &children, |t| t);
    }
});
