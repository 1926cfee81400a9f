//! What the core answers, independent of the front that sends it.

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
}

impl std::fmt::Display for ETag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\"{:08x}-{:x}-{:x}\"", self.crc32, self.size, self.mtime)
    }
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
}

impl Body {
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Static(s) => s.len() as u64,
            Body::Owned(v) => v.len() as u64,
            Body::Mapped { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<(&'static str, bool)>,
    pub content_length: Option<u64>,
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
            431 => "Request Header Fields Too Large\n",
            501 => "Not Implemented\n",
            _ => "Internal Server Error\n",
        };
        Response {
            content_type: Some(("text/plain", true)),
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
        if let Some((mime, charset)) = self.content_type {
            let charset = if charset { "; charset=utf-8" } else { "" };
            write!(out, "Content-Type: {mime}{charset}\r\n")?;
        }
        if let Some(len) = self.content_length {
            write!(out, "Content-Length: {len}\r\n")?;
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
        };
        assert_eq!(e.to_string(), "\"000000ab-1000-6553f100\"");
    }
}
