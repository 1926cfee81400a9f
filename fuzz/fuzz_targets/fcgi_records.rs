//! A FastCGI byte stream as a peer might send it: records decoded one after
//! another, PARAMS streams gathered per request and decoded as name-value
//! pairs, BEGIN_REQUEST and END_REQUEST bodies parsed. Nothing may panic, and
//! the decoder's accounting must hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wwz::front::fcgi::params;
use wwz::front::fcgi::record::{self, kind, BeginRequest, EndRequest};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let mut block = Vec::new();
    loop {
        let (rec, used) = match record::decode(rest) {
            Ok(Some(r)) => r,
            Ok(None) | Err(_) => break,
        };
        assert!(used >= record::HEADER_LEN + rec.content.len());
        assert!(used <= rest.len());
        assert!(used <= record::MAX_RECORD);
        match rec.kind {
            kind::BEGIN_REQUEST => {
                let _ = BeginRequest::parse(rec.content).map(|b| b.keep_conn());
            }
            kind::END_REQUEST => {
                let _ = EndRequest::parse(rec.content);
            }
            kind::GET_VALUES => check_params(rec.content),
            kind::PARAMS if rec.content.is_empty() => {
                check_params(&block);
                block.clear();
            }
            kind::PARAMS => block.extend_from_slice(rec.content),
            _ => {}
        }
        rest = &rest[used..];
    }
    // The whole input as one params block, too.
    check_params(data);
});

fn check_params(block: &[u8]) {
    let valid = params::validate(block).is_ok();
    let mut total = 0usize;
    let mut pairs = 0usize;
    for pair in params::pairs(block) {
        match pair {
            Ok((name, value)) => {
                total += name.len() + value.len();
                pairs += 1;
                // What was decoded re-encodes to a block that decodes to the same pair.
                let mut again = Vec::new();
                params::push_pair(&mut again, name, value);
                let mut it = params::pairs(&again);
                assert_eq!(it.next(), Some(Ok((name, value))));
                assert_eq!(it.next(), None);
            }
            Err(_) => assert!(!valid),
        }
    }
    assert!(total <= block.len());
    assert!(pairs * 2 <= block.len());
    if valid {
        for name in [
            "REQUEST_URI",
            "DOCUMENT_ROOT",
            "SCRIPT_FILENAME",
            "PATH_INFO",
        ] {
            let _ = params::find(block, name);
        }
    }
}
