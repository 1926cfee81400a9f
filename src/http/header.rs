//! Which response headers a site (`_headers`) or an operator (`--header`)
//! may set, and what a name and a value may be. Some cannot be, since wwz or
//! the web server owns them: those describing the bytes sent and answering
//! conditional and range requests, hop-by-hop headers, and those a web
//! server acts on in a FastCGI or CGI answer (`Status`, `Location`, nginx's
//! `X-Accel-*`, the `X-Sendfile` family, which would serve a file from the
//! server's disk).

/// Headers wwz sets from the bytes it sends and the conditions and ranges
/// it answers, lowercase.
const WWZ_OWNS: [&str; 7] = [
    "content-length",
    "content-encoding",
    "content-range",
    "transfer-encoding",
    "etag",
    "last-modified",
    "accept-ranges",
];
/// Hop-by-hop headers (RFC 9110 §7.6.1), lowercase.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];
/// Headers a web server acts on in a FastCGI or CGI answer, lowercase
/// (and every `x-accel-…`).
const GATEWAY: [&str; 6] = [
    "status",
    "location",
    "x-sendfile",
    "x-sendfile2",
    "x-lighttpd-send-file",
    "x-lighttpd-sendfile",
];

/// A name a rule may set or remove: an RFC 9110 token wwz and the web
/// server leave to the site.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("a header line with no name");
    }
    if !name.bytes().all(is_tchar) {
        return Err("a header name is a token: letters, digits and !#$%&'*+-.^_`|~");
    }
    let lower = name.to_ascii_lowercase();
    if WWZ_OWNS.contains(&lower.as_str()) {
        return Err(
            "wwz sets this header from what it sends (Content-Length, Content-Encoding, \
                    Content-Range, Transfer-Encoding, ETag, Last-Modified, Accept-Ranges)",
        );
    }
    if HOP_BY_HOP.contains(&lower.as_str()) {
        return Err(
            "a hop-by-hop header (Connection, Keep-Alive, TE, Trailer, Upgrade) \
                    is the web server's",
        );
    }
    if GATEWAY.contains(&lower.as_str()) || lower.starts_with("x-accel-") {
        return Err(
            "the web server acts on this header (Status, Location, X-Accel-*, \
                    X-Sendfile): redirects belong in _redirects",
        );
    }
    Ok(())
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Why `name: value` cannot be added to responses, if it cannot.
pub fn refuse(name: &str, value: &str) -> Option<&'static str> {
    if let Err(why) = check_name(name) {
        return Some(why);
    }
    if !is_value(value) {
        return Some("a control character (CR, LF, NUL, …) in the value");
    }
    None
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
