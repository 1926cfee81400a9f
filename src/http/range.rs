//! Byte ranges (RFC 9110 §14): parsing `Range: bytes=…` and resolving it
//! against a representation's length.

use std::ops::Range;

/// At most this many ranges are honoured; more is a sign of abuse, and the
/// whole representation is sent instead.
const MAX_RANGES: usize = 16;

/// What a Range header asks of a representation of `len` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ranges {
    /// No usable Range header: send everything with 200.
    Whole,
    /// Sorted, non-overlapping, non-adjacent ranges (coalesced), each non-empty.
    Some(Vec<Range<u64>>),
    /// A valid header none of whose ranges overlaps the representation: 416.
    Unsatisfiable,
}

/// Resolves a `Range` header value against `len`. Malformed headers and
/// other units are ignored (200), as §14.2 allows.
pub fn resolve(header: &[u8], len: u64) -> Ranges {
    let Some(spec) = std::str::from_utf8(header)
        .ok()
        .map(str::trim)
        .and_then(|h| h.strip_prefix("bytes="))
    else {
        return Ranges::Whole;
    };
    let mut out: Vec<Range<u64>> = Vec::new();
    let mut count = 0;
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        count += 1;
        if count > MAX_RANGES {
            return Ranges::Whole;
        }
        let Some((first, last)) = part.split_once('-') else {
            return Ranges::Whole;
        };
        let (first, last) = (first.trim(), last.trim());
        let range = if first.is_empty() {
            // Suffix: the last N bytes.
            let Ok(n) = last.parse::<u64>() else {
                return Ranges::Whole;
            };
            if n == 0 {
                continue;
            }
            len.saturating_sub(n)..len
        } else {
            let Ok(start) = first.parse::<u64>() else {
                return Ranges::Whole;
            };
            let end = if last.is_empty() {
                len
            } else {
                match last.parse::<u64>() {
                    Ok(l) if l >= start => l.saturating_add(1).min(len),
                    _ => return Ranges::Whole,
                }
            };
            if start >= len {
                continue;
            }
            start..end
        };
        if !range.is_empty() {
            out.push(range);
        }
    }
    if count == 0 {
        return Ranges::Whole;
    }
    if out.is_empty() {
        return Ranges::Unsatisfiable;
    }
    out.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(out.len());
    for r in out {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    Ranges::Some(merged)
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;

    fn r(h: &str, len: u64) -> Ranges {
        resolve(h.as_bytes(), len)
    }

    #[test]
    fn single_ranges() {
        assert_eq!(r("bytes=0-99", 1000), Ranges::Some(vec![0..100]));
        assert_eq!(r("bytes=500-", 1000), Ranges::Some(vec![500..1000]));
        assert_eq!(r("bytes=-100", 1000), Ranges::Some(vec![900..1000]));
        assert_eq!(r("bytes=-5000", 1000), Ranges::Some(vec![0..1000]));
        assert_eq!(r("bytes=990-5000", 1000), Ranges::Some(vec![990..1000]));
        assert_eq!(r(" bytes=0-0 ", 1000), Ranges::Some(vec![0..1]));
    }

    #[test]
    fn several_ranges_coalesce() {
        assert_eq!(r("bytes=0-9,20-29", 100), Ranges::Some(vec![0..10, 20..30]));
        assert_eq!(r("bytes=20-29,0-9", 100), Ranges::Some(vec![0..10, 20..30]));
        assert_eq!(r("bytes=0-9,10-19", 100), Ranges::Some(vec![0..20]));
        assert_eq!(
            r("bytes=0-50,40-60,-10", 100),
            Ranges::Some(vec![0..61, 90..100])
        );
    }

    #[test]
    fn unsatisfiable() {
        assert_eq!(r("bytes=1000-", 1000), Ranges::Unsatisfiable);
        assert_eq!(r("bytes=1000-2000,3000-", 1000), Ranges::Unsatisfiable);
        assert_eq!(r("bytes=-0", 1000), Ranges::Unsatisfiable);
        assert_eq!(r("bytes=0-", 0), Ranges::Unsatisfiable);
    }

    #[test]
    fn ignored() {
        for h in [
            "",
            "bytes=",
            "items=0-1",
            "bytes=a-b",
            "bytes=5-1",
            "bytes=1",
            "bytes=--1",
            "bytes=18446744073709551616-",
            "bytes=0-1,2-3,4-5,6-7,8-9,10-11,12-13,14-15,16-17,18-19,20-21,22-23,24-25,26-27,28-29,30-31,32-33",
        ] {
            assert_eq!(r(h, 1000), Ranges::Whole, "{h:?}");
        }
        assert_eq!(
            r("bytes=0-18446744073709551615", 10),
            Ranges::Some(vec![0..10])
        );
    }
}
