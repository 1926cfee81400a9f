//! FastCGI 1.0 record framing (spec §3.3): a fixed header, content, padding.
//! Pure byte work, no I/O, so it can be tested and fuzzed on its own.
//!
//! ```text
//!  0         1         2         3         4         5         6         7
//! +---------+---------+---------+---------+---------+---------+---------+---------+
//! | version |  type   |    request id     |  content length   | padding | reserved|
//! +---------+---------+---------+---------+---------+---------+---------+---------+
//! | content (0..=65535 bytes)              | padding (0..=255 bytes, skipped)      |
//! ```

/// The only protocol version there is.
pub const VERSION: u8 = 1;
/// Size of a record header.
pub const HEADER_LEN: usize = 8;
/// Largest content a single record can carry.
pub const MAX_CONTENT: usize = 65535;
/// Largest whole record: header, content and padding.
pub const MAX_RECORD: usize = HEADER_LEN + MAX_CONTENT + 255;

/// Record types (spec §8).
pub mod kind {
    pub const BEGIN_REQUEST: u8 = 1;
    pub const ABORT_REQUEST: u8 = 2;
    pub const END_REQUEST: u8 = 3;
    pub const PARAMS: u8 = 4;
    pub const STDIN: u8 = 5;
    pub const STDOUT: u8 = 6;
    pub const STDERR: u8 = 7;
    pub const DATA: u8 = 8;
    pub const GET_VALUES: u8 = 9;
    pub const GET_VALUES_RESULT: u8 = 10;
    pub const UNKNOWN_TYPE: u8 = 11;
}

/// Roles a BEGIN_REQUEST may ask for (spec §6).
pub mod role {
    pub const RESPONDER: u16 = 1;
    pub const AUTHORIZER: u16 = 2;
    pub const FILTER: u16 = 3;
}

/// `protocolStatus` of END_REQUEST (spec §5.5).
pub mod status {
    pub const REQUEST_COMPLETE: u8 = 0;
    pub const CANT_MPX_CONN: u8 = 1;
    pub const OVERLOADED: u8 = 2;
    pub const UNKNOWN_ROLE: u8 = 3;
}

/// BEGIN_REQUEST flag: keep the connection open after the response.
pub const KEEP_CONN: u8 = 1;

/// One record borrowed from a read buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub kind: u8,
    pub request_id: u16,
    pub content: &'a [u8],
}

/// Why a byte stream is not FastCGI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The version byte is not 1: the peer speaks something else (often HTTP).
    BadVersion(u8),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::BadVersion(v) => write!(f, "not a FastCGI record (version byte {v})"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Decodes the record at the start of `buf`.
///
/// Returns the record and the number of bytes it occupies (padding included),
/// or `None` when `buf` does not yet hold the whole record.
pub fn decode(buf: &[u8]) -> Result<Option<(Record<'_>, usize)>, FrameError> {
    let Some(header) = buf.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let [version, kind, id_hi, id_lo, len_hi, len_lo, padding, _reserved] = *header;
    if version != VERSION {
        return Err(FrameError::BadVersion(version));
    }
    let content_len = usize::from(u16::from_be_bytes([len_hi, len_lo]));
    let total = HEADER_LEN + content_len + usize::from(padding);
    let Some(content) = buf.get(HEADER_LEN..HEADER_LEN + content_len) else {
        return Ok(None);
    };
    if buf.len() < total {
        return Ok(None);
    }
    let record = Record {
        kind,
        request_id: u16::from_be_bytes([id_hi, id_lo]),
        content,
    };
    Ok(Some((record, total)))
}

/// Padding that brings `content_len` up to a multiple of 8, as the spec recommends.
pub const fn padding_for(content_len: usize) -> usize {
    (8 - content_len % 8) % 8
}

/// The header of a record carrying `content_len` bytes, padded to 8.
///
/// `content_len` must not exceed [`MAX_CONTENT`]; callers split larger streams.
pub fn header(kind: u8, request_id: u16, content_len: usize) -> [u8; HEADER_LEN] {
    debug_assert!(content_len <= MAX_CONTENT);
    let len = (content_len.min(MAX_CONTENT) as u16).to_be_bytes();
    let id = request_id.to_be_bytes();
    [
        VERSION,
        kind,
        id[0],
        id[1],
        len[0],
        len[1],
        padding_for(content_len) as u8,
        0,
    ]
}

const ZEROS: [u8; 8] = [0; 8];

/// The padding bytes that follow `content_len` bytes of content.
pub fn padding(content_len: usize) -> &'static [u8] {
    ZEROS.get(..padding_for(content_len)).unwrap_or_default()
}

/// Appends whole records carrying `content` to `out`, split at [`MAX_CONTENT`].
/// Empty content appends one empty record (the end of a stream).
pub fn push_stream(out: &mut Vec<u8>, kind: u8, request_id: u16, content: &[u8]) {
    let mut chunks = content.chunks(MAX_CONTENT).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&header(kind, request_id, 0));
    }
    for chunk in chunks {
        out.extend_from_slice(&header(kind, request_id, chunk.len()));
        out.extend_from_slice(chunk);
        out.extend_from_slice(padding(chunk.len()));
    }
}

/// Appends an END_REQUEST record.
pub fn push_end_request(out: &mut Vec<u8>, request_id: u16, app_status: u32, protocol_status: u8) {
    out.extend_from_slice(&header(kind::END_REQUEST, request_id, 8));
    out.extend_from_slice(&app_status.to_be_bytes());
    out.extend_from_slice(&[protocol_status, 0, 0, 0]);
}

/// Appends an UNKNOWN_TYPE record answering a management record of `unknown` type.
pub fn push_unknown_type(out: &mut Vec<u8>, unknown: u8) {
    out.extend_from_slice(&header(kind::UNKNOWN_TYPE, 0, 8));
    out.extend_from_slice(&[unknown, 0, 0, 0, 0, 0, 0, 0]);
}

/// The body of BEGIN_REQUEST (spec §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeginRequest {
    pub role: u16,
    pub flags: u8,
}

impl BeginRequest {
    /// Parses the 8-byte body; `None` if it is shorter.
    pub fn parse(content: &[u8]) -> Option<BeginRequest> {
        let [role_hi, role_lo, flags, ..] = *content.first_chunk::<8>()?;
        Some(BeginRequest {
            role: u16::from_be_bytes([role_hi, role_lo]),
            flags,
        })
    }

    pub fn keep_conn(&self) -> bool {
        self.flags & KEEP_CONN != 0
    }

    /// Encodes the body (for clients and tests).
    pub fn encode(&self) -> [u8; 8] {
        let role = self.role.to_be_bytes();
        [role[0], role[1], self.flags, 0, 0, 0, 0, 0]
    }
}

/// The body of END_REQUEST (spec §5.5), decoded by clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndRequest {
    pub app_status: u32,
    pub protocol_status: u8,
}

impl EndRequest {
    pub fn parse(content: &[u8]) -> Option<EndRequest> {
        let [a, b, c, d, protocol_status, ..] = *content.first_chunk::<8>()?;
        Some(EndRequest {
            app_status: u32::from_be_bytes([a, b, c, d]),
            protocol_status,
        })
    }
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;

    #[test]
    fn decode_waits_for_whole_record() {
        let mut buf = Vec::new();
        push_stream(&mut buf, kind::STDIN, 7, b"hello");
        assert_eq!(buf.len(), 8 + 5 + 3);
        for cut in 0..buf.len() {
            assert_eq!(decode(&buf[..cut]), Ok(None), "cut at {cut}");
        }
        let (rec, used) = decode(&buf).unwrap().unwrap();
        assert_eq!(used, buf.len());
        assert_eq!(rec.kind, kind::STDIN);
        assert_eq!(rec.request_id, 7);
        assert_eq!(rec.content, b"hello");
    }

    #[test]
    fn decode_skips_any_padding() {
        // Peers may pad with anything up to 255 bytes, not only to 8.
        let mut buf = vec![1, kind::PARAMS, 0, 1, 0, 2, 200, 0, b'a', b'b'];
        buf.extend(std::iter::repeat_n(0xAA, 200));
        buf.extend_from_slice(&[1, kind::PARAMS, 0, 1, 0, 0, 0, 0]);
        let (rec, used) = decode(&buf).unwrap().unwrap();
        assert_eq!((rec.content, used), (&b"ab"[..], 210));
        let (rec, used) = decode(&buf[used..]).unwrap().unwrap();
        assert_eq!((rec.content.len(), used), (0, 8));
    }

    #[test]
    fn decode_rejects_other_versions() {
        assert_eq!(
            decode(b"GET / HTTP/1.1\r\n"),
            Err(FrameError::BadVersion(b'G'))
        );
        assert_eq!(
            decode(&[0, 1, 0, 1, 0, 0, 0, 0]),
            Err(FrameError::BadVersion(0))
        );
    }

    #[test]
    fn header_lengths_at_the_edges() {
        assert_eq!(header(kind::STDOUT, 1, 0), [1, 6, 0, 1, 0, 0, 0, 0]);
        assert_eq!(header(kind::STDOUT, 1, 1), [1, 6, 0, 1, 0, 1, 7, 0]);
        assert_eq!(header(kind::STDOUT, 1, 8), [1, 6, 0, 1, 0, 8, 0, 0]);
        assert_eq!(
            header(kind::STDOUT, 0x1234, 65535),
            [1, 6, 0x12, 0x34, 0xff, 0xff, 1, 0]
        );
        assert_eq!(
            header(kind::STDOUT, 1, 65528),
            [1, 6, 0, 1, 0xff, 0xf8, 0, 0]
        );
    }

    #[test]
    fn large_streams_split_without_wrapping_to_zero() {
        // 66000 bytes: 65535 + pad 1, then 465 + pad 7 (REFERENCE.md).
        let content = vec![0x5A; 66000];
        let mut out = Vec::new();
        push_stream(&mut out, kind::STDOUT, 1, &content);
        let (first, used1) = decode(&out).unwrap().unwrap();
        assert_eq!(first.content.len(), 65535);
        assert_eq!(used1, 8 + 65535 + 1);
        let (second, used2) = decode(&out[used1..]).unwrap().unwrap();
        assert_eq!(second.content.len(), 465);
        assert_eq!(used2, 8 + 465 + 7);
        assert_eq!(used1 + used2, out.len());

        let mut exact = Vec::new();
        push_stream(&mut exact, kind::STDOUT, 1, &content[..65536]);
        let (a, n) = decode(&exact).unwrap().unwrap();
        let (b, m) = decode(&exact[n..]).unwrap().unwrap();
        assert_eq!(
            (a.content.len(), b.content.len(), n + m),
            (65535, 1, exact.len())
        );
    }

    #[test]
    fn empty_stream_is_one_empty_record() {
        let mut out = Vec::new();
        push_stream(&mut out, kind::STDOUT, 3, b"");
        assert_eq!(out, [1, 6, 0, 3, 0, 0, 0, 0]);
    }

    #[test]
    fn end_request_and_unknown_type_bodies() {
        let mut out = Vec::new();
        push_end_request(&mut out, 2, 0x01020304, status::UNKNOWN_ROLE);
        let (rec, _) = decode(&out).unwrap().unwrap();
        assert_eq!(rec.kind, kind::END_REQUEST);
        assert_eq!(
            EndRequest::parse(rec.content),
            Some(EndRequest {
                app_status: 0x01020304,
                protocol_status: status::UNKNOWN_ROLE
            })
        );
        out.clear();
        push_unknown_type(&mut out, 99);
        assert_eq!(out, [1, 11, 0, 0, 0, 8, 0, 0, 99, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn begin_request_round_trip() {
        let b = BeginRequest {
            role: role::RESPONDER,
            flags: KEEP_CONN,
        };
        assert_eq!(BeginRequest::parse(&b.encode()), Some(b));
        assert!(b.keep_conn());
        assert_eq!(BeginRequest::parse(&[0, 1, 0]), None);
    }
}
