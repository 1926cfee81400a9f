//! The query string and percent-coding: `Query::parse` on any bytes (empty
//! pairs change nothing), `percent::decode` in both modes (a query value
//! never fails and never grows), and every encoder's output decoding back to
//! the bytes it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wwz::http::Query;
use wwz::util::percent::{self, Decode, Keep};

fuzz_target!(|data: &[u8]| {
    let q = Query::parse(data);
    // Empty pairs are skipped: `&` around the string changes nothing.
    let mut framed = b"&".to_vec();
    framed.extend_from_slice(data);
    framed.push(b'&');
    assert_eq!(Query::parse(&framed), q);

    // A query value decodes whatever it holds (a bad escape stands for itself).
    let Ok(as_query) = percent::decode(data, Decode::Query) else {
        panic!("a query value failed to decode: {data:?}");
    };
    assert!(as_query.len() <= data.len());
    if let Ok(as_path) = percent::decode(data, Decode::Path) {
        assert!(as_path.len() <= data.len());
        // The modes differ only in `+` (and in what a path refuses).
        if !data.contains(&b'+') {
            assert_eq!(as_path, as_query);
        }
    }

    // Every encoding round-trips; `Url` keeps `%` as written, so it is only
    // checked to leave nothing that could end a header or an attribute.
    for keep in [
        Keep::QueryValue,
        Keep::HeaderSegment,
        Keep::AttributeSegment,
    ] {
        let mut enc = String::new();
        percent::encode_into(&mut enc, data, keep);
        let back = percent::decode(enc.as_bytes(), Decode::Path);
        assert_eq!(back.as_deref(), Ok(data), "{keep:?}: {enc:?}");
        if keep == Keep::QueryValue {
            let back = percent::decode(enc.as_bytes(), Decode::Query);
            assert_eq!(back.as_deref(), Ok(data), "{enc:?}");
        }
    }
    let mut url = String::new();
    percent::encode_into(&mut url, data, Keep::Url);
    assert!(
        url.bytes()
            .all(|b| b.is_ascii_graphic() && !b"\"<>\\".contains(&b)),
        "{url:?}"
    );
    // The `&str` encoder agrees with the byte one.
    if let Ok(s) = std::str::from_utf8(data) {
        assert_eq!(percent::encode(s, Keep::QueryValue), {
            let mut e = String::new();
            percent::encode_into(&mut e, data, Keep::QueryValue);
            e
        });
    }
});
