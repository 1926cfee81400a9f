//! Percent-coding (RFC 3986 §2.1), one encoder and one decoder for every
//! place wwz reads or writes a URL: request paths, query values, `Location`
//! headers, links in pages, `_redirects` targets.
//!
//! Links and redirects wwz makes are relative references to one path
//! segment (`./name`): relative, so they resolve against the request URL
//! whatever prefix the web server mounted wwz under; `./` first, so a name
//! like `a:b` is never read as a scheme; percent-encoded, so `?`, `#`, `%`
//! and spaces stay part of the name.

use std::borrow::Cow;

/// Which bytes stay as they are; every other byte becomes `%XX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// A path segment in a header: unreserved and sub-delims, `:` and `@`.
    HeaderSegment,
    /// A path segment in an HTML attribute: as a header, less `&` and `'`.
    AttributeSegment,
    /// A query value: unreserved characters only.
    QueryValue,
    /// A URL someone wrote (a `_redirects` target, a query string passed
    /// on): every printable ASCII byte but `"`, `<`, `>`, `\`, so reserved
    /// characters keep their meaning and nothing can end a header or an
    /// attribute.
    Url,
}

impl Keep {
    fn keeps(self, b: u8) -> bool {
        match self {
            Keep::HeaderSegment => b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b),
            Keep::AttributeSegment => b.is_ascii_alphanumeric() || b"-._~!$()*+,;=:@".contains(&b),
            Keep::QueryValue => b.is_ascii_alphanumeric() || b"-._~".contains(&b),
            Keep::Url => b.is_ascii_graphic() && !b"\"<>\\".contains(&b),
        }
    }
}

/// Appends `s`, percent-encoding every byte `keep` does not keep.
pub fn encode_into(out: &mut String, s: &[u8], keep: Keep) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s {
        if keep.keeps(b) {
            out.push(char::from(b));
        } else {
            let hex = |n: u8| char::from(HEX.get(usize::from(n)).copied().unwrap_or(b'0'));
            out.push('%');
            out.push(hex(b >> 4));
            out.push(hex(b & 15));
        }
    }
}

/// `s` percent-encoded for `keep`.
pub fn encode(s: &str, keep: Keep) -> String {
    let mut out = String::with_capacity(s.len());
    encode_into(&mut out, s.as_bytes(), keep);
    out
}

/// Where a relative reference goes: an HTML attribute must not carry `&`
/// or `'` raw; a header may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Header,
    HtmlAttribute,
}

/// `./name`, percent-encoded for `context`.
pub fn segment(name: &str, context: Context) -> String {
    let keep = match context {
        Context::Header => Keep::HeaderSegment,
        Context::HtmlAttribute => Keep::AttributeSegment,
    };
    let mut out = String::with_capacity(name.len() + 3);
    out.push_str("./");
    encode_into(&mut out, name.as_bytes(), keep);
    out
}

/// How to read what is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decode {
    /// A request path: a malformed escape is an error.
    Path,
    /// A query value (`application/x-www-form-urlencoded`): `+` is a space
    /// and a malformed escape stands for itself.
    Query,
}

/// A `%` not followed by two hex digits, in a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadEscape;

impl std::fmt::Display for BadEscape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("bad percent escape")
    }
}

impl std::error::Error for BadEscape {}

/// Decodes `%XX` escapes once (borrowing when there is nothing to decode).
pub fn decode(s: &[u8], how: Decode) -> Result<Cow<'_, [u8]>, BadEscape> {
    let plus = how == Decode::Query;
    let encoded = s.contains(&b'%') || (plus && s.contains(&b'+'));
    if !encoded {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = Vec::with_capacity(s.len());
    let mut rest = s;
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            b'+' if plus => out.push(b' '),
            b'%' => match tail {
                [h, l, after @ ..] if hex_val(*h).is_some() && hex_val(*l).is_some() => {
                    out.push(hex_val(*h).unwrap_or(0) << 4 | hex_val(*l).unwrap_or(0));
                    rest = after;
                }
                _ if how == Decode::Path => return Err(BadEscape),
                _ => out.push(b),
            },
            b => out.push(b),
        }
    }
    Ok(Cow::Owned(out))
}

fn hex_val(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;

    #[test]
    fn segments() {
        let attr = |n| segment(n, Context::HtmlAttribute);
        assert_eq!(attr("a b?#%.txt"), "./a%20b%3F%23%25.txt");
        assert_eq!(attr("c:d"), "./c:d");
        assert_eq!(attr("<x>\"'"), "./%3Cx%3E%22%27");
        assert_eq!(attr("é&"), "./%C3%A9%26");
        assert_eq!(segment("a&b'c d", Context::Header), "./a&b'c%20d");
    }

    #[test]
    fn query_values() {
        assert_eq!(encode("a b&c/é", Keep::QueryValue), "a%20b%26c%2F%C3%A9");
        assert_eq!(encode("/x?a=b c\"", Keep::Url), "/x?a=b%20c%22");
    }

    #[test]
    fn decoding() {
        let path = |s: &str| decode(s.as_bytes(), Decode::Path).map(|c| c.into_owned());
        assert_eq!(path("/a%20b+c").unwrap(), b"/a b+c");
        assert!(matches!(
            decode(b"/plain", Decode::Path),
            Ok(Cow::Borrowed(_))
        ));
        assert_eq!(path("/a%2"), Err(BadEscape));
        assert_eq!(path("/a%zz"), Err(BadEscape));
        let query = |s: &str| decode(s.as_bytes(), Decode::Query).unwrap().into_owned();
        assert_eq!(query("a+b%41%"), b"a bA%");
        assert_eq!(query("%zz%4"), b"%zz%4");
    }
}
