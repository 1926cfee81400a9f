//! What the core answers, independent of the front that sends it.

use std::borrow::Cow;
use std::io::Write;
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

impl std::fmt::Display for ETag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let gz = if self.gzip { "-gz" } else { "" };
        write!(
            f,
            "\"{:08x}-{:x}-{:x}{gz}\"",
            self.crc32, self.size, self.mtime
        )
    }
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

    /// Writes the CGI response header block (`Status:` first, blank line last).
    pub fn write_head(&self, out: &mut Vec<u8>) {
        // Writing to a Vec cannot fail.
        let _ = self.try_write_head(out);
    }

    fn try_write_head(&self, out: &mut Vec<u8>) -> std::io::Result<()> {
        write!(out, "Status: {} {}\r\n", self.status, reason(self.status))?;
        if let Some(mime) = &self.content_type {
            write!(out, "Content-Type: {mime}\r\n")?;
        }
        if let Some(len) = self.content_length {
            write!(out, "Content-Length: {len}\r\n")?;
        }
        match self.content_range {
            Some(ContentRange::Bytes { first, last, total }) => {
                write!(out, "Content-Range: bytes {first}-{last}/{total}\r\n")?
            }
            Some(ContentRange::Unsatisfied { total }) => {
                write!(out, "Content-Range: bytes */{total}\r\n")?
            }
            None => {}
        }
        if let Some(enc) = self.content_encoding {
            write!(out, "Content-Encoding: {enc}\r\n")?;
        }
        if let Some(cc) = self.cache_control {
            write!(out, "Cache-Control: {cc}\r\n")?;
        }
        if let Some(vary) = self.vary {
            write!(out, "Vary: {vary}\r\n")?;
        }
        if let Some(t) = self.last_modified {
            write!(out, "Last-Modified: {}\r\n", httpdate::HttpDate::from(t))?;
        }
        if let Some(etag) = self.etag {
            write!(out, "ETag: {etag}\r\n")?;
        }
        if let Some(loc) = &self.location {
            write!(out, "Location: {loc}\r\n")?;
        }
        if let Some(allow) = self.allow {
            write!(out, "Allow: {allow}\r\n")?;
        }
        if self.accept_ranges {
            out.extend_from_slice(b"Accept-Ranges: bytes\r\n");
        }
        out.extend_from_slice(b"X-Content-Type-Options: nosniff\r\n\r\n");
        Ok(())
    }
}

pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        412 => "Precondition Failed",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

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
