//! What the core answers, independent of the front that sends it.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use crate::archive::Archive;

/// A strong validator derived from a member's content, so redeploying an
/// unchanged member keeps caches warm and a changed one never matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ETag {
    pub crc32: u32,
    pub size: u64,
    pub mtime: i64,
    /// The gzip-encoded representation of a deflated member has its own tag.
    pub gzip: bool,
}

impl ETag {
    /// Appends the quoted tag: `"crc32-size-mtime"` in hex, `-gz` for gzip.
    pub fn push(&self, out: &mut Vec<u8>) {
        out.push(b'"');
        push_hex(out, u64::from(self.crc32), 8);
        out.push(b'-');
        push_hex(out, self.size, 1);
        out.push(b'-');
        // Two's complement for times before 1970, as `{:x}` prints an i64.
        push_hex(out, self.mtime as u64, 1);
        if self.gzip {
            out.extend_from_slice(b"-gz");
        }
        out.push(b'"');
    }
}

impl std::fmt::Display for ETag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut buf = Vec::with_capacity(48);
        self.push(&mut buf);
        f.write_str(std::str::from_utf8(&buf).map_err(|_| std::fmt::Error)?)
    }
}

/// Appends `n` in lower-case hex, at least `width` digits.
fn push_hex(out: &mut Vec<u8>, n: u64, width: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [b'0'; 16];
    let mut i = buf.len();
    let mut n = n;
    while n > 0 || buf.len() - i < width {
        i -= 1;
        buf[i] = DIGITS[(n & 0xf) as usize];
        n >>= 4;
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends `n` in decimal.
fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// The gzip member header (RFC 1952) put before a deflated member's raw bytes:
/// magic, CM=8, no flags, no mtime, no extra flags, OS=3 (Unix).
pub const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];

/// The gzip trailer: CRC-32 and size mod 2^32, both little-endian.
pub fn gzip_trailer(crc32: u32, size: u64) -> [u8; 8] {
    let mut t = [0; 8];
    t[..4].copy_from_slice(&crc32.to_le_bytes());
    t[4..].copy_from_slice(&(size as u32).to_le_bytes());
    t
}

/// A piece of a body: bytes of ours, or `offset, len` in the archive's mapping.
#[derive(Debug, Clone, Copy)]
pub enum Piece<'a> {
    Bytes(&'a [u8]),
    Mapped(u64, u64),
}

/// One part of a `multipart/byteranges` body.
#[derive(Debug)]
pub struct Part {
    /// Boundary line and part headers.
    pub head: String,
    pub offset: u64,
    pub len: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentRange {
    /// `bytes first-last/total`
    Bytes { first: u64, last: u64, total: u64 },
    /// `bytes */total` (with 416)
    Unsatisfied { total: u64 },
}

#[derive(Debug)]
pub enum Body {
    Empty,
    Static(&'static str),
    Owned(Vec<u8>),
    /// Bytes of an archive's mapping, sent by the kernel straight from the page cache.
    Mapped {
        archive: Arc<Archive>,
        offset: u64,
        len: u64,
    },
    /// A deflated member's raw bytes (mapped) between a gzip header and trailer.
    Gzip {
        archive: Arc<Archive>,
        offset: u64,
        len: u64,
        trailer: [u8; 8],
    },
    /// Several ranges of the mapping, each after its part head, then the closing boundary.
    Multipart {
        archive: Arc<Archive>,
        parts: Vec<Part>,
        tail: String,
    },
    /// A deflated member inflated on the fly; `skip` bytes dropped, then `take` sent.
    Inflate {
        archive: Arc<Archive>,
        offset: u64,
        compressed_len: u64,
        size: u64,
        skip: u64,
        take: u64,
    },
}

impl Body {
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Static(s) => s.len() as u64,
            Body::Owned(v) => v.len() as u64,
            Body::Mapped { len, .. } => *len,
            Body::Gzip { len, .. } => GZIP_HEADER.len() as u64 + len + 8,
            Body::Multipart { parts, tail, .. } => {
                parts
                    .iter()
                    .map(|p| p.head.len() as u64 + p.len)
                    .sum::<u64>()
                    + tail.len() as u64
            }
            Body::Inflate { take, .. } => *take,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Walks the body as the bytes to send, in order: bytes of ours, and
    /// ranges of the archive's mapping for the kernel to send. The one place
    /// that knows each body's layout; [`Body::Inflate`] has no pieces (it is
    /// streamed through [`Body::inflater`]).
    pub fn pieces(&self, mut each: impl FnMut(Piece<'_>)) {
        match self {
            Body::Empty | Body::Inflate { .. } => {}
            Body::Static(s) => each(Piece::Bytes(s.as_bytes())),
            Body::Owned(v) => each(Piece::Bytes(v)),
            Body::Mapped { offset, len, .. } => each(Piece::Mapped(*offset, *len)),
            Body::Gzip {
                offset,
                len,
                trailer,
                ..
            } => {
                each(Piece::Bytes(&GZIP_HEADER));
                each(Piece::Mapped(*offset, *len));
                each(Piece::Bytes(trailer));
            }
            Body::Multipart { parts, tail, .. } => {
                for part in parts {
                    each(Piece::Bytes(part.head.as_bytes()));
                    each(Piece::Mapped(part.offset, part.len));
                }
                each(Piece::Bytes(tail.as_bytes()));
            }
        }
    }

    /// The archive whose mapping the pieces refer to.
    pub fn archive(&self) -> Option<&Arc<Archive>> {
        match self {
            Body::Mapped { archive, .. }
            | Body::Gzip { archive, .. }
            | Body::Multipart { archive, .. }
            | Body::Inflate { archive, .. } => Some(archive),
            Body::Empty | Body::Static(_) | Body::Owned(_) => None,
        }
    }

    /// For [`Body::Inflate`]: the inflater, limited to the bytes to send, and
    /// how many bytes to skip first (the front decides how to pace that).
    pub fn inflater(&self) -> Option<(crate::archive::inflate::Inflater, u64)> {
        match self {
            Body::Inflate {
                archive,
                offset,
                compressed_len,
                size,
                skip,
                take,
            } => {
                let inflater = crate::archive::inflate::Inflater::new(
                    Arc::clone(archive),
                    *offset,
                    *compressed_len,
                    *size,
                );
                Some((inflater.limit(*take), *skip))
            }
            _ => None,
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<Cow<'static, str>>,
    pub content_length: Option<u64>,
    pub content_range: Option<ContentRange>,
    pub content_encoding: Option<&'static str>,
    pub cache_control: Option<&'static str>,
    pub vary: Option<&'static str>,
    pub last_modified: Option<SystemTime>,
    pub etag: Option<ETag>,
    pub location: Option<String>,
    pub allow: Option<&'static str>,
    pub accept_ranges: bool,
    pub body: Body,
}

impl Response {
    pub fn new(status: u16) -> Response {
        Response {
            status,
            content_type: None,
            content_length: None,
            content_range: None,
            content_encoding: None,
            cache_control: None,
            vary: None,
            last_modified: None,
            etag: None,
            location: None,
            allow: None,
            accept_ranges: false,
            body: Body::Empty,
        }
    }

    /// A short plain-text error page; it never names a server path.
    pub fn error(status: u16) -> Response {
        let text: &'static str = match status {
            400 => "Bad Request\n",
            403 => "Forbidden\n",
            404 => "Not Found\n",
            405 => "Method Not Allowed\n",
            412 => "Precondition Failed\n",
            416 => "Range Not Satisfiable\n",
            431 => "Request Header Fields Too Large\n",
            501 => "Not Implemented\n",
            503 => "Service Unavailable\n",
            _ => "Internal Server Error\n",
        };
        Response {
            content_type: Some(Cow::Borrowed(TEXT_PLAIN)),
            content_length: Some(text.len() as u64),
            body: Body::Static(text),
            ..Response::new(status)
        }
    }

    /// Turns this into the answer to a HEAD request: same headers, no body.
    pub fn without_body(mut self) -> Response {
        self.body = Body::Empty;
        self
    }

    /// Writes the CGI response header block (blank line last), hand-formatted
    /// since it runs for every response. `Location:`, when present, comes
    /// before `Status:`: HAProxy's FastCGI parser lets whichever of the two
    /// comes later set the status, and a `Location` after `Status: 301`
    /// turned every redirect into a 302.
    pub fn write_head(&self, out: &mut Vec<u8>) {
        let mut line = |name: &[u8], value: &[u8]| {
            out.extend_from_slice(name);
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        };
        if let Some(loc) = &self.location {
            line(b"Location: ", loc.as_bytes());
        }
        line(b"Status: ", self.status_line().as_bytes());
        if let Some(mime) = &self.content_type {
            line(b"Content-Type: ", mime.as_bytes());
        }
        if let Some(len) = self.content_length {
            out.extend_from_slice(b"Content-Length: ");
            push_u64(out, len);
            out.extend_from_slice(b"\r\n");
        }
        match self.content_range {
            Some(ContentRange::Bytes { first, last, total }) => {
                out.extend_from_slice(b"Content-Range: bytes ");
                push_u64(out, first);
                out.push(b'-');
                push_u64(out, last);
                out.push(b'/');
                push_u64(out, total);
                out.extend_from_slice(b"\r\n");
            }
            Some(ContentRange::Unsatisfied { total }) => {
                out.extend_from_slice(b"Content-Range: bytes */");
                push_u64(out, total);
                out.extend_from_slice(b"\r\n");
            }
            None => {}
        }
        let mut line = |name: &[u8], value: &[u8]| {
            out.extend_from_slice(name);
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        };
        if let Some(enc) = self.content_encoding {
            line(b"Content-Encoding: ", enc.as_bytes());
        }
        if let Some(cc) = self.cache_control {
            line(b"Cache-Control: ", cc.as_bytes());
        }
        if let Some(vary) = self.vary {
            line(b"Vary: ", vary.as_bytes());
        }
        if let Some(allow) = self.allow {
            line(b"Allow: ", allow.as_bytes());
        }
        if let Some(t) = self.last_modified {
            out.extend_from_slice(b"Last-Modified: ");
            crate::time::push_http_date(out, t);
            out.extend_from_slice(b"\r\n");
        }
        if let Some(etag) = self.etag {
            out.extend_from_slice(b"ETag: ");
            etag.push(out);
            out.extend_from_slice(b"\r\n");
        }
        if self.accept_ranges {
            out.extend_from_slice(b"Accept-Ranges: bytes\r\n");
        }
        out.extend_from_slice(b"X-Content-Type-Options: nosniff\r\n\r\n");
    }

    /// `200 OK`, `404 Not Found`, …
    fn status_line(&self) -> &'static str {
        match self.status {
            200 => "200 OK",
            206 => "206 Partial Content",
            301 => "301 Moved Permanently",
            302 => "302 Found",
            304 => "304 Not Modified",
            400 => "400 Bad Request",
            403 => "403 Forbidden",
            404 => "404 Not Found",
            405 => "405 Method Not Allowed",
            412 => "412 Precondition Failed",
            416 => "416 Range Not Satisfiable",
            431 => "431 Request Header Fields Too Large",
            501 => "501 Not Implemented",
            503 => "503 Service Unavailable",
            _ => "500 Internal Server Error",
        }
    }
}

pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_block() {
        let r = Response::error(404);
        let mut out = Vec::new();
        r.write_head(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Status: 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: 10\r\nX-Content-Type-Options: nosniff\r\n\r\n"
        );
    }

    #[test]
    fn numbers() {
        let mut out = Vec::new();
        for n in [0u64, 7, 10, 4096, u64::MAX] {
            out.clear();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
        out.clear();
        push_hex(&mut out, 0, 8);
        assert_eq!(out, b"00000000");
    }

    #[test]
    fn location_precedes_status() {
        // HAProxy (2.6, mux_fcgi) takes the status from the later of
        // `Status:` and `Location:` (which means 302): Status goes last.
        let r = Response {
            location: Some("./x.wwz/".into()),
            ..Response::new(301)
        };
        let mut out = Vec::new();
        r.write_head(&mut out);
        let head = String::from_utf8(out).unwrap();
        assert!(
            head.starts_with("Location: ./x.wwz/\r\nStatus: 301 Moved Permanently\r\n"),
            "{head}"
        );
    }

    #[test]
    fn etag_format() {
        let e = ETag {
            crc32: 0xab,
            size: 4096,
            mtime: 1_700_000_000,
            gzip: false,
        };
        assert_eq!(e.to_string(), "\"000000ab-1000-6553f100\"");
        assert_eq!(
            ETag { gzip: true, ..e }.to_string(),
            "\"000000ab-1000-6553f100-gz\""
        );
    }
}
