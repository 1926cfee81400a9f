//! FastCGI name-value pairs (spec §3.4), the encoding of PARAMS and GET_VALUES.
//!
//! Each length is one byte when below 128, else four bytes big-endian with the
//! top bit set: 127 is `7F`, 128 is `80 00 00 80`.

use crate::http::Param;

/// Why a params block cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamsError;

impl std::fmt::Display for ParamsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("malformed FastCGI name-value pair")
    }
}

impl std::error::Error for ParamsError {}

/// Iterates over the pairs of a complete params block, borrowing from it.
pub fn pairs(block: &[u8]) -> Pairs<'_> {
    Pairs { rest: block }
}

#[derive(Debug, Clone)]
pub struct Pairs<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Pairs<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), ParamsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let item = split_pair(self.rest);
        match item {
            Some((name, value, rest)) => {
                self.rest = rest;
                Some(Ok((name, value)))
            }
            None => {
                self.rest = &[];
                Some(Err(ParamsError))
            }
        }
    }
}

fn split_pair(buf: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (name_len, buf) = read_len(buf)?;
    let (value_len, buf) = read_len(buf)?;
    let (name, buf) = buf.split_at_checked(name_len)?;
    let (value, rest) = buf.split_at_checked(value_len)?;
    Some((name, value, rest))
}

fn read_len(buf: &[u8]) -> Option<(usize, &[u8])> {
    let (&first, rest) = buf.split_first()?;
    if first < 0x80 {
        return Some((usize::from(first), rest));
    }
    let (bytes, rest) = buf.split_first_chunk::<4>()?;
    let len = u32::from_be_bytes(*bytes) & 0x7fff_ffff;
    Some((usize::try_from(len).ok()?, rest))
}

/// Checks that a whole block decodes, so later lookups can skip errors.
pub fn validate(block: &[u8]) -> Result<(), ParamsError> {
    pairs(block).try_for_each(|p| p.map(drop))
}

/// The value of `name` in a block already passed through [`validate`].
pub fn find<'a>(block: &'a [u8], name: &str) -> Option<&'a [u8]> {
    pairs(block)
        .map_while(Result::ok)
        .find(|(n, _)| *n == name.as_bytes())
        .map(|(_, v)| v)
}

/// Which of the parameters the core asks for `name` is: a match compiles to
/// a switch on the length and a few comparisons, and most names a server
/// sends fall through at the length.
fn slot(name: &[u8]) -> Option<Param> {
    Some(match name {
        b"REQUEST_METHOD" => Param::RequestMethod,
        b"DOCUMENT_ROOT" => Param::DocumentRoot,
        b"SCRIPT_FILENAME" => Param::ScriptFilename,
        b"PATH_INFO" => Param::PathInfo,
        b"REQUEST_URI" => Param::RequestUri,
        b"DOCUMENT_URI" => Param::DocumentUri,
        b"SCRIPT_NAME" => Param::ScriptName,
        b"QUERY_STRING" => Param::QueryString,
        b"HTTP_RANGE" => Param::HttpRange,
        b"HTTP_IF_RANGE" => Param::HttpIfRange,
        b"HTTP_ACCEPT_ENCODING" => Param::HttpAcceptEncoding,
        b"HTTP_ACCEPT" => Param::HttpAccept,
        b"HTTP_IF_MATCH" => Param::HttpIfMatch,
        b"HTTP_IF_NONE_MATCH" => Param::HttpIfNoneMatch,
        b"HTTP_IF_MODIFIED_SINCE" => Param::HttpIfModifiedSince,
        b"HTTP_IF_UNMODIFIED_SINCE" => Param::HttpIfUnmodifiedSince,
        b"WWZ_ARCHIVE" => Param::WwzArchive,
        b"WWZ_PREFIX" => Param::WwzPrefix,
        b"HTTP_HOST" => Param::HttpHost,
        b"HTTP_ORIGIN" => Param::HttpOrigin,
        b"HTTP_ACCESS_CONTROL_REQUEST_METHOD" => Param::HttpAccessControlRequestMethod,
        b"HTTP_ACCESS_CONTROL_REQUEST_HEADERS" => Param::HttpAccessControlRequestHeaders,
        _ => return None,
    })
}

/// A whole, validated params block with the core's parameters indexed.
#[derive(Debug, Clone)]
pub struct Indexed<'a> {
    /// Found in one pass, so that a lookup is an index.
    known: [Option<&'a [u8]>; Param::ALL.len()],
}

impl<'a> Indexed<'a> {
    /// Decodes `block` once; an error if any pair is malformed. The first
    /// occurrence of a name wins, as in [`find`].
    pub fn new(block: &'a [u8]) -> Result<Indexed<'a>, ParamsError> {
        let mut known = [None; Param::ALL.len()];
        for pair in pairs(block) {
            let (name, value) = pair?;
            if let Some(p) = slot(name) {
                if let Some(slot) = known.get_mut(p as usize) {
                    slot.get_or_insert(value);
                }
            }
        }
        Ok(Indexed { known })
    }

    /// One of the core's parameters (the first occurrence).
    #[inline]
    pub fn get(&self, p: Param) -> Option<&'a [u8]> {
        self.known.get(p as usize).copied().flatten()
    }
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let len = u32::try_from(len).unwrap_or(u32::MAX) & 0x7fff_ffff;
        out.extend_from_slice(&(len | 0x8000_0000).to_be_bytes());
    }
}

/// Appends one pair.
pub fn push_pair(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    push_len(out, name.len());
    push_len(out, value.len());
    out.extend_from_slice(name);
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;

    #[test]
    fn lengths_127_and_128() {
        let mut out = Vec::new();
        push_pair(&mut out, &[b'n'; 127], &[b'v'; 128]);
        assert_eq!(&out[..5], &[0x7f, 0x80, 0, 0, 0x80]);
        assert_eq!(out.len(), 5 + 127 + 128);
        let got: Vec<_> = pairs(&out).collect();
        assert_eq!(got, vec![Ok((&[b'n'; 127][..], &[b'v'; 128][..]))]);
    }

    #[test]
    fn four_byte_length_for_short_values_is_accepted() {
        // Some encoders always use the long form.
        let block = [0x80, 0, 0, 1, 0x80, 0, 0, 2, b'A', b'x', b'y'];
        assert_eq!(find(&block, "A"), Some(&b"xy"[..]));
    }

    #[test]
    fn empty_values_and_many_pairs() {
        let mut out = Vec::new();
        push_pair(&mut out, b"QUERY_STRING", b"");
        push_pair(&mut out, b"REQUEST_METHOD", b"GET");
        assert!(validate(&out).is_ok());
        assert_eq!(find(&out, "QUERY_STRING"), Some(&b""[..]));
        assert_eq!(find(&out, "REQUEST_METHOD"), Some(&b"GET"[..]));
        assert_eq!(find(&out, "PATH_INFO"), None);
    }

    #[test]
    fn slots_follow_names() {
        for p in Param::ALL {
            assert_eq!(slot(p.name().as_bytes()), Some(p), "{p:?}");
        }
        assert_eq!(slot(b"HTTP_USER_AGENT"), None);
    }

    #[test]
    fn indexed_lookups_agree_with_find() {
        let mut out = Vec::new();
        push_pair(&mut out, b"REQUEST_METHOD", b"GET");
        push_pair(&mut out, b"HTTP_X_CUSTOM", b"1");
        push_pair(&mut out, b"REQUEST_METHOD", b"POST");
        push_pair(&mut out, b"HTTP_RANGE", b"");
        let idx = Indexed::new(&out).unwrap();
        for p in Param::ALL {
            assert_eq!(idx.get(p), find(&out, p.name()), "{p:?}");
        }
        assert_eq!(idx.get(Param::RequestMethod), Some(&b"GET"[..]));
        assert!(Indexed::new(&out[..out.len() - 1]).is_err());
    }

    #[test]
    fn truncated_blocks_are_errors() {
        let mut out = Vec::new();
        push_pair(&mut out, b"NAME", &[b'v'; 300]);
        for cut in 1..out.len() {
            assert_eq!(validate(&out[..cut]), Err(ParamsError), "cut at {cut}");
        }
        assert_eq!(validate(&[0x80, 0, 0]), Err(ParamsError));
        // A length claiming 2 GiB must not allocate or panic.
        assert_eq!(
            validate(&[0xff, 0xff, 0xff, 0xff, 0x01, b'a']),
            Err(ParamsError)
        );
    }
}
