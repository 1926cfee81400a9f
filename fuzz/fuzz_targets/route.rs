//! The router with arbitrary request parameters: a route or a clean
//! rejection, and a route never names a path that could leave the docroot.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use wwz::http::route::route;
use wwz::http::{OwnedParams, Request};

const NAMES: [&str; 6] = [
    "DOCUMENT_ROOT",
    "SCRIPT_FILENAME",
    "PATH_INFO",
    "REQUEST_URI",
    "DOCUMENT_URI",
    "SCRIPT_NAME",
];

fuzz_target!(|data: &[u8]| {
    // First byte: which parameters are present and whether --docroot is fixed;
    // the rest: their values, separated by 0xFF (which is never valid UTF-8, so
    // values can still carry every byte that matters).
    let Some((&mask, rest)) = data.split_first() else {
        return;
    };
    let mut values = rest.split(|&b| b == 0xff);
    let mut params = OwnedParams::default();
    for (bit, name) in NAMES.iter().enumerate() {
        if mask & (1 << bit) != 0 {
            let v = values.next().unwrap_or_default();
            params.0.push(((*name).to_owned(), v.to_vec()));
        }
    }
    let fixed = (mask & 0x40 != 0).then(|| Path::new("/srv/www"));
    let Ok(r) = route(&Request::parse(&params).target, fixed) else {
        return;
    };
    let archive = r.archive();
    let member = r.member();
    assert!(r.docroot.as_os_str().as_encoded_bytes().first() == Some(&b'/'));
    assert!(archive.ends_with(".wwz"), "{archive:?}");
    assert!(!archive.starts_with('/'), "{archive:?}");
    assert!(!member.starts_with('/'), "{member:?}");
    for part in [archive, member] {
        assert!(!part.contains('\0'), "{part:?}");
        assert!(!part.contains('\\'), "{part:?}");
        assert!(!part.chars().any(char::is_control), "{part:?}");
        for seg in part.split('/') {
            assert!(seg != ".." && seg != ".", "{part:?}");
        }
    }
    for seg in archive.split('/') {
        assert!(!seg.is_empty(), "{archive:?}");
    }
    assert!(!r.archive_name().contains('/'));
});
