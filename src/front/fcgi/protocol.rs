//! The FastCGI connection protocol (spec §3–§6) as a state machine with no
//! I/O: records in, an [`Action`] and reply bytes out. The connection
//! ([`super::connection`]) reads, writes and keeps time; everything the spec
//! says about which record means what is decided here, and tested here.
//!
//! One request is served at a time: a BEGIN_REQUEST for another id while one
//! is in progress gets CANT_MPX_CONN (GET_VALUES says FCGI_MPXS_CONNS=0).
//! STDIN and DATA are read and dropped; a request is answered as soon as its
//! PARAMS stream ends.

use super::params;
use super::record::{self, kind, BeginRequest, Record};

/// A peer that broke the protocol; the connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// A record that is not FastCGI at all.
    Frame(record::FrameError),
    /// A BEGIN_REQUEST body shorter than the spec's 8 bytes.
    ShortBeginRequest,
    /// A second BEGIN_REQUEST for the request in progress.
    DuplicateBegin(u16),
    /// A name-value pair block that does not decode.
    Params(params::ParamsError),
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProtocolError::Frame(e) => e.fmt(f),
            ProtocolError::ShortBeginRequest => f.write_str("short BEGIN_REQUEST body"),
            ProtocolError::DuplicateBegin(id) => {
                write!(f, "BEGIN_REQUEST for request {id} already in progress")
            }
            ProtocolError::Params(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ProtocolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProtocolError::Frame(e) => Some(e),
            ProtocolError::Params(e) => Some(e),
            ProtocolError::ShortBeginRequest | ProtocolError::DuplicateBegin(_) => None,
        }
    }
}

impl From<record::FrameError> for ProtocolError {
    fn from(e: record::FrameError) -> Self {
        ProtocolError::Frame(e)
    }
}

impl From<params::ParamsError> for ProtocolError {
    fn from(e: params::ParamsError) -> Self {
        ProtocolError::Params(e)
    }
}

/// What the connection must do after a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Nothing,
    /// Send the reply bytes queued (management replies, END_REQUEST).
    Flush,
    /// Send what was queued, then close.
    FlushAndClose,
    /// The PARAMS stream of request `id` ended: answer it from [`Protocol::params`].
    Respond {
        id: u16,
        keep_conn: bool,
    },
    /// PARAMS of request `id` grew past the limit: answer 431, then close.
    TooLarge {
        id: u16,
    },
}

/// The request in progress.
#[derive(Debug)]
struct Active {
    id: u16,
    keep_conn: bool,
}

/// One connection's protocol state.
#[derive(Debug)]
pub struct Protocol {
    active: Option<Active>,
    /// The PARAMS stream of the active (or last answered) request.
    params: Vec<u8>,
    /// Cap on one request's PARAMS stream.
    max_params: usize,
    /// Advertised as FCGI_MAX_CONNS and FCGI_MAX_REQS.
    max_conns: usize,
}

impl Protocol {
    pub fn new(max_params: usize, max_conns: usize) -> Protocol {
        Protocol {
            active: None,
            params: Vec::new(),
            max_params,
            max_conns,
        }
    }

    /// Whether no request is in progress.
    pub fn is_idle(&self) -> bool {
        self.active.is_none()
    }

    /// The PARAMS block of the request last handed out by [`Action::Respond`].
    pub fn params(&self) -> &[u8] {
        &self.params
    }

    /// Applies one record; replies to send are appended to `out`.
    pub fn on_record(
        &mut self,
        rec: Record<'_>,
        out: &mut Vec<u8>,
    ) -> Result<Action, ProtocolError> {
        if rec.request_id == 0 {
            return self.management(rec, out);
        }
        let is_active = self.active.as_ref().is_some_and(|a| a.id == rec.request_id);
        match rec.kind {
            kind::BEGIN_REQUEST => self.begin(rec, out),
            kind::PARAMS if is_active => {
                if rec.content.is_empty() {
                    return Ok(match self.active.take() {
                        Some(a) => Action::Respond {
                            id: a.id,
                            keep_conn: a.keep_conn,
                        },
                        None => Action::Nothing,
                    });
                }
                if self.params.len() + rec.content.len() > self.max_params {
                    let id = self.active.take().map_or(rec.request_id, |a| a.id);
                    return Ok(Action::TooLarge { id });
                }
                self.params.extend_from_slice(rec.content);
                Ok(Action::Nothing)
            }
            kind::ABORT_REQUEST if is_active => {
                let keep = self.active.take().is_some_and(|a| a.keep_conn);
                record::push_end_request(out, rec.request_id, 0, record::status::REQUEST_COMPLETE);
                Ok(if keep {
                    Action::Flush
                } else {
                    Action::FlushAndClose
                })
            }
            // STDIN and DATA are drained; records for requests already answered
            // (a stray second empty STDIN, a late ABORT) are ignored, as the spec says.
            _ => Ok(Action::Nothing),
        }
    }

    fn begin(&mut self, rec: Record<'_>, out: &mut Vec<u8>) -> Result<Action, ProtocolError> {
        let begin = BeginRequest::parse(rec.content).ok_or(ProtocolError::ShortBeginRequest)?;
        if let Some(current) = &self.active {
            if current.id == rec.request_id {
                return Err(ProtocolError::DuplicateBegin(rec.request_id));
            }
            crate::log::debug!(
                "request {} while {} is in progress: CANT_MPX_CONN",
                rec.request_id,
                current.id
            );
            record::push_end_request(out, rec.request_id, 0, record::status::CANT_MPX_CONN);
            return Ok(Action::Flush);
        }
        if begin.role != record::role::RESPONDER {
            crate::log::info!("refusing FastCGI role {}", begin.role);
            record::push_end_request(out, rec.request_id, 0, record::status::UNKNOWN_ROLE);
            return Ok(if begin.keep_conn() {
                Action::Flush
            } else {
                Action::FlushAndClose
            });
        }
        self.active = Some(Active {
            id: rec.request_id,
            keep_conn: begin.keep_conn(),
        });
        self.params.clear();
        Ok(Action::Nothing)
    }

    /// Management records (request id 0): GET_VALUES, or UNKNOWN_TYPE for anything else.
    fn management(&self, rec: Record<'_>, out: &mut Vec<u8>) -> Result<Action, ProtocolError> {
        if rec.kind != kind::GET_VALUES {
            record::push_unknown_type(out, rec.kind);
            return Ok(Action::Flush);
        }
        let max = self.max_conns.to_string();
        let mut body = Vec::new();
        for pair in params::pairs(rec.content) {
            let (name, _) = pair?;
            let value: &[u8] = match name {
                b"FCGI_MAX_CONNS" | b"FCGI_MAX_REQS" => max.as_bytes(),
                b"FCGI_MPXS_CONNS" => b"0",
                _ => continue,
            };
            params::push_pair(&mut body, name, value);
        }
        record::push_stream(out, kind::GET_VALUES_RESULT, 0, &body);
        Ok(Action::Flush)
    }
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;
    use crate::front::fcgi::record::{role, status};

    const MAX_PARAMS: usize = 64;

    fn rec(kind: u8, request_id: u16, content: &[u8]) -> Record<'_> {
        Record {
            kind,
            request_id,
            content,
        }
    }

    fn begin(role: u16, keep_conn: bool) -> [u8; 8] {
        BeginRequest {
            role,
            flags: u8::from(keep_conn),
        }
        .encode()
    }

    /// Feeds one record; returns the action and the records replied, decoded.
    fn feed(
        p: &mut Protocol,
        kind: u8,
        id: u16,
        content: &[u8],
    ) -> (Action, Vec<(u8, u16, Vec<u8>)>) {
        let mut out = Vec::new();
        let action = p.on_record(rec(kind, id, content), &mut out).unwrap();
        let mut replies = Vec::new();
        let mut at = 0;
        while let Some((r, used)) = record::decode(&out[at..]).unwrap() {
            replies.push((r.kind, r.request_id, r.content.to_vec()));
            at += used;
        }
        assert_eq!(at, out.len(), "whole records only");
        (action, replies)
    }

    fn end_request(id: u16, protocol_status: u8) -> (u8, u16, Vec<u8>) {
        (
            kind::END_REQUEST,
            id,
            vec![0, 0, 0, 0, protocol_status, 0, 0, 0],
        )
    }

    fn params_block(pairs: &[(&str, &str)]) -> Vec<u8> {
        let mut block = Vec::new();
        for (n, v) in pairs {
            params::push_pair(&mut block, n.as_bytes(), v.as_bytes());
        }
        block
    }

    #[test]
    fn a_request_is_answered_when_its_params_end() {
        for keep_conn in [true, false] {
            let mut p = Protocol::new(MAX_PARAMS, 8);
            assert!(p.is_idle());
            let (a, r) = feed(
                &mut p,
                kind::BEGIN_REQUEST,
                1,
                &begin(role::RESPONDER, keep_conn),
            );
            assert_eq!((a, r.len()), (Action::Nothing, 0));
            assert!(!p.is_idle());
            let block = params_block(&[("REQUEST_METHOD", "GET"), ("REQUEST_URI", "/a.wwz/")]);
            let (half, rest) = block.split_at(5);
            assert_eq!(feed(&mut p, kind::PARAMS, 1, half).0, Action::Nothing);
            assert_eq!(feed(&mut p, kind::PARAMS, 1, rest).0, Action::Nothing);
            let (a, r) = feed(&mut p, kind::PARAMS, 1, &[]);
            assert_eq!(a, Action::Respond { id: 1, keep_conn });
            assert!(r.is_empty());
            assert_eq!(p.params(), &block[..]);
            assert!(p.is_idle());
            // STDIN after the answer (and a stray second empty one) is dropped.
            assert_eq!(feed(&mut p, kind::STDIN, 1, b"body").0, Action::Nothing);
            assert_eq!(feed(&mut p, kind::STDIN, 1, &[]).0, Action::Nothing);
            assert_eq!(feed(&mut p, kind::STDIN, 1, &[]).0, Action::Nothing);
        }
    }

    #[test]
    fn stdin_and_data_before_the_end_of_params_are_dropped() {
        let mut p = Protocol::new(MAX_PARAMS, 8);
        feed(
            &mut p,
            kind::BEGIN_REQUEST,
            7,
            &begin(role::RESPONDER, true),
        );
        assert_eq!(feed(&mut p, kind::STDIN, 7, b"x").0, Action::Nothing);
        assert_eq!(feed(&mut p, kind::DATA, 7, b"y").0, Action::Nothing);
        assert_eq!(
            feed(&mut p, kind::PARAMS, 7, &[]).0,
            Action::Respond {
                id: 7,
                keep_conn: true
            }
        );
        assert!(p.params().is_empty());
    }

    #[test]
    fn the_next_request_on_a_kept_connection_starts_clean() {
        let mut p = Protocol::new(MAX_PARAMS, 8);
        feed(
            &mut p,
            kind::BEGIN_REQUEST,
            1,
            &begin(role::RESPONDER, true),
        );
        feed(&mut p, kind::PARAMS, 1, &params_block(&[("A", "1")]));
        feed(&mut p, kind::PARAMS, 1, &[]);
        feed(
            &mut p,
            kind::BEGIN_REQUEST,
            1,
            &begin(role::RESPONDER, true),
        );
        let second = params_block(&[("B", "2")]);
        feed(&mut p, kind::PARAMS, 1, &second);
        assert_eq!(
            feed(&mut p, kind::PARAMS, 1, &[]).0,
            Action::Respond {
                id: 1,
                keep_conn: true
            }
        );
        assert_eq!(p.params(), &second[..]);
    }

    #[test]
    fn other_roles_get_unknown_role() {
        for role in [role::AUTHORIZER, role::FILTER, 99] {
            for keep_conn in [true, false] {
                let mut p = Protocol::new(MAX_PARAMS, 8);
                let (a, r) = feed(&mut p, kind::BEGIN_REQUEST, 3, &begin(role, keep_conn));
                let want = if keep_conn {
                    Action::Flush
                } else {
                    Action::FlushAndClose
                };
                assert_eq!(a, want);
                assert_eq!(r, vec![end_request(3, status::UNKNOWN_ROLE)]);
                assert!(p.is_idle());
            }
        }
    }

    #[test]
    fn a_second_request_id_gets_cant_mpx_conn() {
        let mut p = Protocol::new(MAX_PARAMS, 8);
        feed(
            &mut p,
            kind::BEGIN_REQUEST,
            1,
            &begin(role::RESPONDER, true),
        );
        let (a, r) = feed(
            &mut p,
            kind::BEGIN_REQUEST,
            2,
            &begin(role::RESPONDER, true),
        );
        assert_eq!(a, Action::Flush);
        assert_eq!(r, vec![end_request(2, status::CANT_MPX_CONN)]);
        // The first request goes on; records for the refused one are ignored.
        assert_eq!(feed(&mut p, kind::PARAMS, 2, b"junk").0, Action::Nothing);
        assert_eq!(
            feed(&mut p, kind::PARAMS, 1, &[]).0,
            Action::Respond {
                id: 1,
                keep_conn: true
            }
        );
    }

    #[test]
    fn begin_twice_for_the_same_id_is_a_protocol_error() {
        let mut p = Protocol::new(MAX_PARAMS, 8);
        feed(
            &mut p,
            kind::BEGIN_REQUEST,
            1,
            &begin(role::RESPONDER, true),
        );
        let mut out = Vec::new();
        let body = begin(role::RESPONDER, true);
        assert!(p
            .on_record(rec(kind::BEGIN_REQUEST, 1, &body), &mut out)
            .is_err());
        assert!(
            p.on_record(rec(kind::BEGIN_REQUEST, 2, &body[..7]), &mut out)
                .is_err(),
            "a short BEGIN_REQUEST body"
        );
    }

    #[test]
    fn abort_ends_the_request() {
        for keep_conn in [true, false] {
            let mut p = Protocol::new(MAX_PARAMS, 8);
            feed(
                &mut p,
                kind::BEGIN_REQUEST,
                5,
                &begin(role::RESPONDER, keep_conn),
            );
            feed(&mut p, kind::PARAMS, 5, &params_block(&[("A", "1")]));
            let (a, r) = feed(&mut p, kind::ABORT_REQUEST, 5, &[]);
            let want = if keep_conn {
                Action::Flush
            } else {
                Action::FlushAndClose
            };
            assert_eq!(a, want);
            assert_eq!(r, vec![end_request(5, status::REQUEST_COMPLETE)]);
            assert!(p.is_idle());
            // The rest of its params, and a late second abort, are ignored.
            assert_eq!(feed(&mut p, kind::PARAMS, 5, &[]).0, Action::Nothing);
            assert_eq!(feed(&mut p, kind::ABORT_REQUEST, 5, &[]).0, Action::Nothing);
        }
    }

    #[test]
    fn params_past_the_limit_are_too_large() {
        let mut p = Protocol::new(MAX_PARAMS, 8);
        feed(
            &mut p,
            kind::BEGIN_REQUEST,
            9,
            &begin(role::RESPONDER, true),
        );
        assert_eq!(
            feed(&mut p, kind::PARAMS, 9, &[b'x'; MAX_PARAMS]).0,
            Action::Nothing
        );
        assert_eq!(
            feed(&mut p, kind::PARAMS, 9, b"y").0,
            Action::TooLarge { id: 9 }
        );
        assert!(p.is_idle());
    }

    #[test]
    fn get_values_answers_the_known_names_only() {
        let mut p = Protocol::new(MAX_PARAMS, 12);
        let mut query = Vec::new();
        for name in [
            "FCGI_MAX_CONNS",
            "FCGI_MAX_REQS",
            "FCGI_MPXS_CONNS",
            "OTHER",
        ] {
            params::push_pair(&mut query, name.as_bytes(), b"");
        }
        let (a, r) = feed(&mut p, kind::GET_VALUES, 0, &query);
        assert_eq!(a, Action::Flush);
        assert_eq!(
            r,
            vec![(
                kind::GET_VALUES_RESULT,
                0,
                params_block(&[
                    ("FCGI_MAX_CONNS", "12"),
                    ("FCGI_MAX_REQS", "12"),
                    ("FCGI_MPXS_CONNS", "0")
                ])
            )]
        );
        let mut out = Vec::new();
        assert!(p
            .on_record(rec(kind::GET_VALUES, 0, &[0x80]), &mut out)
            .is_err());
    }

    #[test]
    fn other_management_records_get_unknown_type() {
        let mut p = Protocol::new(MAX_PARAMS, 8);
        for kind in [kind::STDIN, kind::END_REQUEST, 99] {
            let (a, r) = feed(&mut p, kind, 0, b"");
            assert_eq!(a, Action::Flush);
            assert_eq!(
                r,
                vec![(kind::UNKNOWN_TYPE, 0, vec![kind, 0, 0, 0, 0, 0, 0, 0])]
            );
        }
    }

    #[test]
    fn records_an_application_sends_are_ignored_from_the_peer() {
        let mut p = Protocol::new(MAX_PARAMS, 8);
        feed(
            &mut p,
            kind::BEGIN_REQUEST,
            1,
            &begin(role::RESPONDER, true),
        );
        for kind in [
            kind::STDOUT,
            kind::STDERR,
            kind::END_REQUEST,
            kind::GET_VALUES_RESULT,
            42,
        ] {
            assert_eq!(feed(&mut p, kind, 1, b"x").0, Action::Nothing);
        }
        assert!(!p.is_idle());
    }
}
