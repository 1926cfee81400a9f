//! Slices whose bounds the code guarantees. Where a length is computed to
//! fit a buffer, a broken guarantee is a bug: it is reported as an error
//! instead of silently giving an empty slice, which a reader would take for
//! the end of the data.

use std::io;
use std::ops::Range;

/// A slice bound that does not fit its buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfBounds {
    pub range: Range<usize>,
    pub len: usize,
}

impl std::fmt::Display for OutOfBounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "internal error: bytes {}..{} of a {}-byte buffer",
            self.range.start, self.range.end, self.len
        )
    }
}

impl std::error::Error for OutOfBounds {}

impl From<OutOfBounds> for io::Error {
    fn from(e: OutOfBounds) -> io::Error {
        io::Error::other(e)
    }
}

/// `buf[range]`.
pub fn get(buf: &[u8], range: Range<usize>) -> Result<&[u8], OutOfBounds> {
    let len = buf.len();
    buf.get(range.clone()).ok_or(OutOfBounds { range, len })
}

/// `&mut buf[range]`.
pub fn get_mut(buf: &mut [u8], range: Range<usize>) -> Result<&mut [u8], OutOfBounds> {
    let len = buf.len();
    buf.get_mut(range.clone()).ok_or(OutOfBounds { range, len })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_bound_is_an_error() {
        let mut buf = [1u8, 2, 3];
        assert_eq!(get(&buf, 1..3), Ok(&[2u8, 3][..]));
        assert_eq!(get_mut(&mut buf, 0..1).map(|s| s.len()), Ok(1));
        let e = get(&buf, 2..5).unwrap_err();
        assert_eq!(
            e,
            OutOfBounds {
                range: 2..5,
                len: 3
            }
        );
        assert!(io::Error::from(e).to_string().contains("2..5"));
    }
}
