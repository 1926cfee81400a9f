//! Content negotiation (RFC 9110 §12.5.3): which codings a client takes.

/// Whether `Accept-Encoding` allows gzip: named (or `x-gzip`) with q > 0, or
/// not named and `*` with q > 0. No header means identity only: a deflated
/// member is then inflated rather than sent as gzip.
pub fn accepts_gzip(header: Option<&[u8]>) -> bool {
    let Some(header) = header.and_then(|h| std::str::from_utf8(h).ok()) else {
        return false;
    };
    let mut star = None;
    for item in header.split(',') {
        let mut fields = item.split(';');
        let coding = fields.next().unwrap_or("").trim();
        let q = fields
            .filter_map(|f| {
                f.trim()
                    .strip_prefix("q=")
                    .or_else(|| f.trim().strip_prefix("Q="))
            })
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            return q > 0.0;
        }
        if coding == "*" {
            star = Some(q > 0.0);
        }
    }
    star.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding() {
        assert!(accepts_gzip(Some(b"gzip")));
        assert!(accepts_gzip(Some(b"gzip, deflate, br")));
        assert!(accepts_gzip(Some(b"br;q=1.0, gzip;q=0.8")));
        assert!(accepts_gzip(Some(b"*")));
        assert!(accepts_gzip(Some(b"x-gzip")));
        assert!(!accepts_gzip(Some(b"gzip;q=0")));
        assert!(!accepts_gzip(Some(b"gzip; q=0.000")));
        assert!(!accepts_gzip(Some(b"*;q=0")));
        assert!(!accepts_gzip(Some(b"gzip;q=0, *")));
        assert!(!accepts_gzip(Some(b"identity")));
        assert!(!accepts_gzip(Some(b"deflate, br")));
        assert!(!accepts_gzip(Some(b"")));
        assert!(!accepts_gzip(None));
    }
}
