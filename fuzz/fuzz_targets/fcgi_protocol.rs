//! The FastCGI state machine over a record sequence from a peer: records
//! decoded from the input one after another and applied as a connection
//! would, until it would close. Nothing panics; what it queues is whole,
//! well-formed reply records that match its action; a request it hands out
//! carries exactly the PARAMS sent for it since its BEGIN_REQUEST.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wwz::front::fcgi::params;
use wwz::front::fcgi::protocol::{Action, Protocol};
use wwz::front::fcgi::record::{self, kind, status, EndRequest, Record};

fuzz_target!(|data: &[u8]| {
    // First byte: the PARAMS limit, small so that 431 is reached too.
    let Some((&limit, mut rest)) = data.split_first() else {
        return;
    };
    let max_params = 16 * usize::from(limit) + 1;
    let max_conns = 8;
    let mut p = Protocol::new(max_params, max_conns);
    // The request the state machine took, and the PARAMS bytes sent for it.
    let mut taken: Option<(u16, bool)> = None;
    let mut sent = Vec::new();
    loop {
        let Ok(Some((rec, used))) = record::decode(rest) else {
            // A frame error closes the connection; too few bytes wait for more.
            break;
        };
        rest = &rest[used..];
        let mut out = Vec::new();
        let Ok(action) = p.on_record(rec, &mut out) else {
            break; // a protocol error closes the connection
        };
        check_replies(&out, &rec, max_conns);
        match action {
            Action::Nothing => {
                assert!(out.is_empty());
                if rec.kind == kind::BEGIN_REQUEST && rec.request_id != 0 && !p.is_idle() {
                    let keep = rec
                        .content
                        .get(2)
                        .is_some_and(|f| f & record::KEEP_CONN != 0);
                    taken = Some((rec.request_id, keep));
                    sent.clear();
                } else if rec.kind == kind::PARAMS
                    && taken.is_some_and(|(id, _)| id == rec.request_id)
                {
                    sent.extend_from_slice(rec.content);
                }
            }
            Action::Flush | Action::FlushAndClose => {
                assert!(!out.is_empty(), "{action:?} with nothing queued");
                // (An ABORT_REQUEST with id 0 is a management record: UNKNOWN_TYPE.)
                if rec.kind == kind::ABORT_REQUEST && rec.request_id != 0 {
                    assert!(p.is_idle());
                    taken = None;
                }
                if action == Action::FlushAndClose {
                    break;
                }
            }
            Action::Respond { id, keep_conn } => {
                assert!(out.is_empty());
                assert!(p.is_idle());
                assert_eq!(Some((id, keep_conn)), taken, "answered another request");
                assert_eq!((rec.kind, rec.content.len()), (kind::PARAMS, 0));
                assert!(p.params() == sent.as_slice(), "PARAMS not as sent");
                assert!(p.params().len() <= max_params);
                taken = None;
                // The connection answers it, then closes unless asked to keep it.
                if !keep_conn {
                    break;
                }
            }
            Action::TooLarge { id } => {
                assert!(out.is_empty());
                assert!(p.is_idle());
                assert_eq!(Some(id), taken.map(|(id, _)| id));
                assert!(sent.len() + rec.content.len() > max_params);
                break; // 431, then close
            }
        }
    }
});

/// `out` is whole records, each a reply the protocol may send to `rec`.
fn check_replies(out: &[u8], rec: &Record<'_>, max_conns: usize) {
    let mut at = 0;
    while at < out.len() {
        let Ok(Some((reply, used))) = record::decode(&out[at..]) else {
            panic!("queued bytes are not whole records: {out:?}");
        };
        at += used;
        match reply.kind {
            kind::END_REQUEST => {
                assert_eq!(reply.request_id, rec.request_id);
                assert_ne!(reply.request_id, 0);
                let end = EndRequest::parse(reply.content).expect("8-byte END_REQUEST body");
                assert!(
                    [
                        status::REQUEST_COMPLETE,
                        status::CANT_MPX_CONN,
                        status::UNKNOWN_ROLE
                    ]
                    .contains(&end.protocol_status),
                    "{end:?}"
                );
            }
            kind::UNKNOWN_TYPE => {
                assert_eq!(reply.request_id, 0);
                assert_eq!(reply.content.first(), Some(&rec.kind));
            }
            kind::GET_VALUES_RESULT => {
                assert_eq!((reply.request_id, rec.kind), (0, kind::GET_VALUES));
                assert!(params::validate(reply.content).is_ok());
                for pair in params::pairs(reply.content) {
                    let Ok((name, value)) = pair else {
                        panic!("GET_VALUES_RESULT does not decode");
                    };
                    let want = match name {
                        b"FCGI_MPXS_CONNS" => "0".to_owned(),
                        b"FCGI_MAX_CONNS" | b"FCGI_MAX_REQS" => max_conns.to_string(),
                        _ => panic!("answered an unasked variable {name:?}"),
                    };
                    assert_eq!(value, want.as_bytes());
                }
            }
            k => panic!("reply of type {k}"),
        }
    }
}
