//! What the core answers, independent of the front that sends it.

use std::borrow::Cow;
use std::time::SystemTime;

pub use super::body::Body;
pub use super::status::Status;
use crate::util::percent::{self, Keep};

/// A strong validator derived from a member's content, so redeploying an
/// unchanged member keeps caches warm and a changed one never matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ETag {
    pub crc32: u32,
    pub size: u64,
    pub mtime: i64,
    /// Each coded representation (gzip, br, zstd) has its own tag.
    pub coding: Option<crate::content::coding::Coding>,
    /// A zip of a directory (`DIR/?zip`): `crc32` is then the digest of what
    /// its headers say about the members, `size` its length, `mtime` the
    /// newest member's time.
    pub zip: bool,
}

impl ETag {
    /// Appends the quoted tag: `"crc32-size-mtime"` in hex, then `-gz`, `-br`
    /// or `-zst` for a coded representation, `-zip` for a directory's zip.
    pub fn push(&self, out: &mut Vec<u8>) {
        out.push(b'"');
        push_hex(out, u64::from(self.crc32), 8);
        out.push(b'-');
        push_hex(out, self.size, 1);
        out.push(b'-');
        // Two's complement for times before 1970, as `{:x}` prints an i64.
        push_hex(out, self.mtime as u64, 1);
        if let Some(c) = self.coding {
            out.extend_from_slice(c.tag_suffix().as_bytes());
        }
        if self.zip {
            out.extend_from_slice(b"-zip");
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

/// Appends `n` in lower-case hex, at least `width` digits (at most 16).
fn push_hex(out: &mut Vec<u8>, n: u64, width: usize) {
    let digits = (64 - n.leading_zeros() as usize).div_ceil(4);
    for shift in (0..digits.max(width).min(16)).rev() {
        let d = ((n >> (shift * 4)) & 0xf) as u8;
        out.push(if d < 10 { b'0' + d } else { b'a' + d - 10 });
    }
}

/// Appends `n` in decimal.
fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut used = 0;
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        used += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(buf.get(buf.len() - used..).unwrap_or_default());
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentRange {
    /// `bytes first-last/total`
    Bytes { first: u64, last: u64, total: u64 },
    /// `bytes */total` (with 416)
    Unsatisfied { total: u64 },
}

#[derive(Debug)]
pub struct Response {
    pub status: Status,
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
    /// Headers the site's `_headers` or the operator's `--header` add, sent
    /// after wwz's own; empty (no allocation) on most responses.
    pub extra: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    pub body: Body,
}

impl Response {
    pub fn new(status: Status) -> Response {
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
            extra: Vec::new(),
            body: Body::Empty,
        }
    }

    /// A short plain-text error page (the reason phrase); it never names a server path.
    pub fn error(status: Status) -> Response {
        let text = status.text();
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
        if let Some(loc) = self.location_header() {
            push_line(out, "Location", loc);
        }
        out.extend_from_slice(b"Status: ");
        push_u64(out, u64::from(self.status.code()));
        out.push(b' ');
        out.extend_from_slice(self.status.reason().as_bytes());
        out.extend_from_slice(b"\r\n");
        self.each_header(|name, value| push_line(out, name, value));
        out.extend_from_slice(b"\r\n");
    }

    /// The `Location` header's value, when there is one; every front sends
    /// it through [`Value::push`], which keeps it one header line.
    pub fn location_header(&self) -> Option<Value<'_>> {
        self.location.as_deref().map(Value::Url)
    }

    /// Every header but `Status` and `Location`, in the order they are sent;
    /// the one list of what a response says, for every front.
    pub fn each_header(&self, mut each: impl FnMut(&str, Value<'_>)) {
        // A header the site or operator set replaces wwz's own of that name
        // (`Vary` arrives merged already); only names they may set are checked.
        let own = |name: &str| !self.extra.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        if let Some(mime) = &self.content_type {
            if own("Content-Type") {
                each("Content-Type", Value::Text(mime));
            }
        }
        if let Some(len) = self.content_length {
            each("Content-Length", Value::Number(len));
        }
        if let Some(range) = self.content_range {
            each("Content-Range", Value::Range(range));
        }
        if let Some(enc) = self.content_encoding {
            each("Content-Encoding", Value::Text(enc));
        }
        if let Some(cc) = self.cache_control {
            if own("Cache-Control") {
                each("Cache-Control", Value::Text(cc));
            }
        }
        if let Some(vary) = self.vary {
            if own("Vary") {
                each("Vary", Value::Text(vary));
            }
        }
        if let Some(allow) = self.allow {
            each("Allow", Value::Text(allow));
        }
        if let Some(t) = self.last_modified {
            each("Last-Modified", Value::Date(t));
        }
        if let Some(etag) = self.etag {
            each("ETag", Value::ETag(etag));
        }
        if self.accept_ranges {
            each("Accept-Ranges", Value::Text("bytes"));
        }
        if own("X-Content-Type-Options") {
            each("X-Content-Type-Options", Value::Text("nosniff"));
        }
        for (name, value) in &self.extra {
            each(name, Value::Text(value));
        }
    }

    /// Adds `name: value` from a site's `_headers` or the operator's
    /// `--header`, after wwz's own headers: one of the same name gives way,
    /// except `Vary`, whose names are merged with wwz's. The caller has
    /// checked the name may be set ([`super::header::refuse`]).
    pub fn add_header(&mut self, name: Cow<'static, str>, value: Cow<'static, str>) {
        if name.eq_ignore_ascii_case("Vary") {
            self.add_vary(&value);
            return;
        }
        self.extra.push((name, value));
    }

    /// Merges the field names in `names` into this response's `Vary`.
    pub fn add_vary(&mut self, names: &str) {
        let mut merged: Vec<&str> = Vec::new();
        let mut existing = String::new();
        if let Some(at) = self
            .extra
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case("Vary"))
        {
            existing = self.extra.remove(at).1.into_owned();
        } else if let Some(own) = self.vary {
            existing = own.to_owned();
        }
        for name in existing.split(',').chain(names.split(',')) {
            let name = name.trim();
            if !name.is_empty() && !merged.iter().any(|m| m.eq_ignore_ascii_case(name)) {
                merged.push(name);
            }
        }
        let value = if merged.contains(&"*") {
            "*".to_owned()
        } else {
            merged.join(", ")
        };
        self.extra.push((Cow::Borrowed("Vary"), Cow::Owned(value)));
    }
}

/// A header value, formatted only when written.
///
/// [`Value::push`] is the one place every front (FastCGI, CGI, the preview)
/// turns a value into bytes, so it is where a value is kept to one line: CR,
/// LF, NUL and the other control bytes (RFC 9110 §5.5: invalid in a field
/// value, and CR/LF would end the header and start one of the sender's
/// choosing) never go out as they are. A URL is percent-encoded (the
/// redirect still leads where it meant to: `%0D` is what a client would
/// send for that byte); any other text has each replaced by a space, the
/// remedy RFC 9110 §5.5 gives recipients (and what Go's net/http does), so
/// the header still says what it can rather than vanishing.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Text(&'a str),
    /// A URL (`Location`): every byte that may not stand in one percent-encoded.
    Url(&'a str),
    Number(u64),
    Range(ContentRange),
    Date(SystemTime),
    ETag(ETag),
}

impl Value<'_> {
    /// Appends the value as it goes on the wire.
    pub fn push(&self, out: &mut Vec<u8>) {
        match *self {
            Value::Text(s) => {
                let start = out.len();
                out.extend_from_slice(s.as_bytes());
                // A control byte (CR, LF, NUL above all) could end or split the
                // header line: found eight bytes at a time (this runs for every
                // header sent), and only then is the value scrubbed.
                if has_control(s.as_bytes()) {
                    for b in out.iter_mut().skip(start).filter(|b| !is_field_byte(**b)) {
                        *b = b' ';
                    }
                }
            }
            Value::Url(s) => {
                // `%` is kept, so what is encoded already is not encoded twice.
                let mut url = String::with_capacity(s.len());
                percent::encode_into(&mut url, s.as_bytes(), Keep::Url);
                out.extend_from_slice(url.as_bytes());
            }
            Value::Number(n) => push_u64(out, n),
            Value::Range(ContentRange::Bytes { first, last, total }) => {
                out.extend_from_slice(b"bytes ");
                push_u64(out, first);
                out.push(b'-');
                push_u64(out, last);
                out.push(b'/');
                push_u64(out, total);
            }
            Value::Range(ContentRange::Unsatisfied { total }) => {
                out.extend_from_slice(b"bytes */");
                push_u64(out, total);
            }
            Value::Date(t) => crate::util::time::push_http_date(out, t),
            Value::ETag(etag) => etag.push(out),
        }
    }
}

/// Whether any byte of `s` is below 0x20 (tab included: the scrub keeps
/// it). Eight bytes at a time: a byte below 0x20 is one whose subtraction
/// of 0x20 borrows into its high bit while that bit was clear.
fn has_control(s: &[u8]) -> bool {
    const LOW: u64 = 0x2020_2020_2020_2020;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = s.chunks_exact(8);
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        if x.wrapping_sub(LOW) & !x & HIGH != 0 {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| b < 0x20)
}

/// Whether `b` may stand in a field value: anything but the ASCII controls,
/// except tab (RFC 9110 §5.5).
fn is_field_byte(b: u8) -> bool {
    !b.is_ascii_control() || b == b'\t'
}

fn push_line(out: &mut Vec<u8>, name: &str, value: Value<'_>) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    value.push(out);
    out.extend_from_slice(b"\r\n");
}

pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;

    #[test]
    fn head_block() {
        let r = Response::error(Status::NotFound);
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
            ..Response::new(Status::MovedPermanently)
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
    fn control_bytes_are_found_anywhere() {
        assert!(!has_control(b""));
        assert!(!has_control(
            "public, max-age=0, must-revalidate ü".as_bytes()
        ));
        for at in 0..20 {
            for bad in [b'\r', b'\n', 0, 0x1f, b'\t'] {
                let mut v = vec![b'a'; 20];
                v[at] = bad;
                assert!(has_control(&v), "{bad:#x} at {at}");
            }
        }
    }

    #[test]
    fn no_header_value_holds_a_line_break() {
        // A `Location` made from a hostile query and a type from a hostile
        // name: each stays one line, the URL percent-encoded, the text spaced.
        let r = Response {
            location: Some("./x.wwz/?a=%41\r\nSet-Cookie: a=1\0".into()),
            content_type: Some(Cow::Owned("text/x\r\nSet-Cookie: b=2\n\0\t".into())),
            ..Response::new(Status::MovedPermanently)
        };
        let mut out = Vec::new();
        r.write_head(&mut out);
        let head = String::from_utf8(out).unwrap();
        assert_eq!(
            head,
            "Location: ./x.wwz/?a=%41%0D%0ASet-Cookie:%20a=1%00\r\n\
             Status: 301 Moved Permanently\r\n\
             Content-Type: text/x  Set-Cookie: b=2  \t\r\n\
             X-Content-Type-Options: nosniff\r\n\r\n"
        );
        let mut names = Vec::new();
        r.each_header(|name, _| names.push(name.to_owned()));
        assert_eq!(names, ["Content-Type", "X-Content-Type-Options"]);
    }

    #[test]
    fn etag_format() {
        let e = ETag {
            crc32: 0xab,
            size: 4096,
            mtime: 1_700_000_000,
            coding: None,
            zip: false,
        };
        assert_eq!(e.to_string(), "\"000000ab-1000-6553f100\"");
        assert_eq!(
            ETag {
                coding: Some(crate::http::negotiate::Coding::Gzip),
                ..e
            }
            .to_string(),
            "\"000000ab-1000-6553f100-gz\""
        );
        assert_eq!(
            ETag { zip: true, ..e }.to_string(),
            "\"000000ab-1000-6553f100-zip\""
        );
    }
}
