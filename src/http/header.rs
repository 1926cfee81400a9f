//! Which response headers a site (`_headers`) or an operator (`--header`)
//! may set, and what a name and a value may be.

/// Headers wwz alone decides, refused in `_headers` and `--header`:
/// - those that describe the bytes sent (a wrong one corrupts the exchange):
///   `Content-Length`, `Content-Encoding`, `Content-Range`, `Transfer-Encoding`;
/// - the validators and range support wwz evaluates requests against:
///   `ETag`, `Last-Modified`, `Accept-Ranges`;
/// - what the web server reads as a CGI instruction: `Status`, `Location`;
/// - hop-by-hop headers, which belong to the web server's connection.
const RESERVED: [&str; 14] = [
    "Content-Length",
    "Content-Encoding",
    "Content-Range",
    "Transfer-Encoding",
    "ETag",
    "Last-Modified",
    "Accept-Ranges",
    "Status",
    "Location",
    "Connection",
    "Keep-Alive",
    "Upgrade",
    "TE",
    "Trailer",
];

/// Why `name: value` cannot be added to responses, if it cannot.
pub fn refuse(name: &str, value: &str) -> Option<&'static str> {
    if !is_token(name) {
        return Some("the header name is not a token (RFC 9110 §5.1)");
    }
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Some("wwz sets this header itself");
    }
    if !is_value(value) {
        return Some("the value has a control character (CR, LF, NUL, …)");
    }
    None
}

/// RFC 9110 §5.6.2 `token`: what a field name is made of.
pub fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A field value without control bytes (tab allowed), so it stays one line.
pub fn is_value(value: &str) -> bool {
    value.bytes().all(|b| !b.is_ascii_control() || b == b'\t')
}

/// Parses `--header 'Name: value'`.
pub fn parse_line(line: &str) -> Result<(String, String), String> {
    let Some((name, value)) = line.split_once(':') else {
        return Err(format!("{line:?}: expected 'Name: value'"));
    };
    let (name, value) = (name.trim(), value.trim());
    match refuse(name, value) {
        Some(why) => Err(format!("{name}: {why}")),
        None => Ok((name.to_owned(), value.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_values_and_reserved_headers() {
        assert_eq!(
            parse_line("X-Frame-Options:  DENY "),
            Ok(("X-Frame-Options".into(), "DENY".into()))
        );
        assert!(parse_line("Cache-Control: public, max-age=60").is_ok());
        assert!(parse_line("no colon").is_err());
        assert!(parse_line("Bad Name: x").is_err());
        assert!(parse_line("content-length: 3").is_err());
        assert!(parse_line("Status: 200").is_err());
        assert!(refuse("X-A", "a\rb").is_some());
        assert!(refuse("X-A", "a\0b").is_some());
        assert!(refuse("X-A", "a\tb").is_none());
    }
}
