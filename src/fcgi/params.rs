//! FastCGI name-value pairs (spec §3.4), the encoding of PARAMS and GET_VALUES.
//!
//! Each length is one byte when below 128, else four bytes big-endian with the
//! top bit set: 127 is `7F`, 128 is `80 00 00 80`.

/// Why a params block cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamsError;

impl std::fmt::Display for ParamsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("malformed FastCGI name-value pair")
    }
}

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

/// The parameters the core asks for, found in one pass over the block so a
/// request costs one decode, not one scan per lookup.
const KNOWN: [&str; 18] = [
    "REQUEST_METHOD",
    "DOCUMENT_ROOT",
    "SCRIPT_FILENAME",
    "PATH_INFO",
    "REQUEST_URI",
    "DOCUMENT_URI",
    "SCRIPT_NAME",
    "QUERY_STRING",
    "HTTP_RANGE",
    "HTTP_IF_RANGE",
    "HTTP_ACCEPT_ENCODING",
    "HTTP_ACCEPT",
    "HTTP_IF_MATCH",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE",
    "WWZ_ARCHIVE",
    "WWZ_PREFIX",
];

// Inlined so that a lookup by a constant name (every one the core makes)
// folds to an array index.
#[inline]
fn slot(name: &[u8]) -> Option<usize> {
    // A match compiles to a switch on the length and a few comparisons; most
    // names a server sends fall through at the length.
    Some(match name {
        b"REQUEST_METHOD" => 0,
        b"DOCUMENT_ROOT" => 1,
        b"SCRIPT_FILENAME" => 2,
        b"PATH_INFO" => 3,
        b"REQUEST_URI" => 4,
        b"DOCUMENT_URI" => 5,
        b"SCRIPT_NAME" => 6,
        b"QUERY_STRING" => 7,
        b"HTTP_RANGE" => 8,
        b"HTTP_IF_RANGE" => 9,
        b"HTTP_ACCEPT_ENCODING" => 10,
        b"HTTP_ACCEPT" => 11,
        b"HTTP_IF_MATCH" => 12,
        b"HTTP_IF_NONE_MATCH" => 13,
        b"HTTP_IF_MODIFIED_SINCE" => 14,
        b"HTTP_IF_UNMODIFIED_SINCE" => 15,
        b"WWZ_ARCHIVE" => 16,
        b"WWZ_PREFIX" => 17,
        _ => return None,
    })
}

/// A whole, validated params block with the common names indexed.
#[derive(Debug, Clone)]
pub struct Indexed<'a> {
    block: &'a [u8],
    known: [Option<&'a [u8]>; KNOWN.len()],
}

impl<'a> Indexed<'a> {
    /// Decodes `block` once; an error if any pair is malformed. The first
    /// occurrence of a name wins, as in [`find`].
    pub fn new(block: &'a [u8]) -> Result<Indexed<'a>, ParamsError> {
        let mut known = [None; KNOWN.len()];
        for pair in pairs(block) {
            let (name, value) = pair?;
            if let Some(slot) = known.get_mut(slot(name).unwrap_or(usize::MAX)) {
                slot.get_or_insert(value);
            }
        }
        Ok(Indexed { block, known })
    }

    #[inline]
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        match slot(name.as_bytes()) {
            Some(i) => self.known.get(i).copied().flatten(),
            None => find(self.block, name),
        }
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
    fn slots_follow_known() {
        for (i, name) in KNOWN.iter().enumerate() {
            assert_eq!(slot(name.as_bytes()), Some(i), "{name}");
        }
        assert_eq!(slot(b"HTTP_HOST"), None);
    }

    #[test]
    fn indexed_lookups_agree_with_find() {
        let mut out = Vec::new();
        push_pair(&mut out, b"REQUEST_METHOD", b"GET");
        push_pair(&mut out, b"HTTP_X_CUSTOM", b"1");
        push_pair(&mut out, b"REQUEST_METHOD", b"POST");
        push_pair(&mut out, b"HTTP_RANGE", b"");
        let idx = Indexed::new(&out).unwrap();
        for name in [
            "REQUEST_METHOD",
            "HTTP_X_CUSTOM",
            "HTTP_RANGE",
            "PATH_INFO",
            "NOPE",
        ] {
            assert_eq!(idx.get(name), find(&out, name), "{name}");
        }
        assert_eq!(idx.get("REQUEST_METHOD"), Some(&b"GET"[..]));
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
