//! The compressors `wwz pack` uses, one function per output format.
//!
//! - deflate: libdeflate (through `libdeflater`), level [`DEFLATE_LEVEL`], or
//!   [`DEFLATE_BEST`] for `--best`. Chosen by measurement on the Python
//!   documentation (docs/pack.md): at the same ratio as `zip -9` it runs about
//!   twice as fast as zlib-rs and three times as fast as miniz_oxide.
//! - gzip (`NAME.gz` siblings): the same deflate between an RFC 1952 header and trailer.
//! - brotli (`NAME.br`): quality 11, a 4 MiB window, as bundlers' plugins make them.
//! - zstd (`NAME.zst`): level 19 with the window capped at 8 MiB, the most a
//!   client must accept for `Content-Encoding: zstd` (RFC 9659); content size
//!   and checksum in the frame.
//!
//! Every function is deterministic: the same input gives the same bytes on
//! every run, whatever thread runs it.

use std::io;

/// libdeflate level of a default pack: the smallest output below `zip -9`'s
/// size at about zlib level 6's speed (levels 8 and 9 differ by < 0.1 %).
pub const DEFLATE_LEVEL: i32 = 8;
/// libdeflate's slowest, smallest level, for `pack --best`.
pub const DEFLATE_BEST: i32 = 12;
/// Brotli quality and window (log2) of `.br` siblings.
const BROTLI_QUALITY: i32 = 11;
const BROTLI_WINDOW_LOG: i32 = 22;
/// zstd level and window (log2) of `.zst` siblings: 2^23 = 8 MiB (RFC 9659).
const ZSTD_LEVEL: i32 = 19;
pub const ZSTD_WINDOW_LOG: u32 = 23;

/// The gzip member header (RFC 1952): no name, no mtime, OS = Unix; the same
/// header the server puts before a deflated member's bytes.
use crate::content::gzip::{gzip_trailer, GZIP_HEADER};

/// A deflate compressor, kept per thread (libdeflate allocates its tables once).
pub struct Deflater {
    inner: libdeflater::Compressor,
}

impl Deflater {
    pub fn new(best: bool) -> Deflater {
        let level = if best { DEFLATE_BEST } else { DEFLATE_LEVEL };
        let level = libdeflater::CompressionLvl::new(level)
            .unwrap_or_else(|_| libdeflater::CompressionLvl::default());
        Deflater {
            inner: libdeflater::Compressor::new(level),
        }
    }

    /// Raw deflate (RFC 1951) of `data`.
    pub fn deflate(&mut self, data: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = vec![0; self.inner.deflate_compress_bound(data.len())];
        let n = self
            .inner
            .deflate_compress(data, &mut out)
            .map_err(|e| io::Error::other(format!("deflate: {e:?}")))?;
        out.truncate(n);
        Ok(out)
    }

    /// A gzip file (RFC 1952) of `data`, whose CRC-32 is `crc32`.
    pub fn gzip(&mut self, data: &[u8], crc32: u32) -> io::Result<Vec<u8>> {
        let deflated = self.deflate(data)?;
        let mut out = Vec::with_capacity(GZIP_HEADER.len() + deflated.len() + 8);
        out.extend_from_slice(&GZIP_HEADER);
        out.extend_from_slice(&deflated);
        out.extend_from_slice(&gzip_trailer(crc32, data.len() as u64));
        Ok(out)
    }
}

/// A brotli stream (RFC 7932) of `data`.
pub fn brotli(data: &[u8]) -> io::Result<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: BROTLI_QUALITY,
        lgwin: BROTLI_WINDOW_LOG,
        size_hint: data.len(),
        ..Default::default()
    };
    let mut out = Vec::with_capacity(data.len() / 4 + 64);
    brotli::BrotliCompress(&mut &data[..], &mut out, &params)?;
    Ok(out)
}

/// One zstd frame (RFC 8878) of `data`, window at most 2^[`ZSTD_WINDOW_LOG`].
pub fn zstd(data: &[u8]) -> io::Result<Vec<u8>> {
    use zstd::zstd_safe::CParameter;
    let mut c = zstd::bulk::Compressor::new(ZSTD_LEVEL)?;
    c.set_parameter(CParameter::WindowLog(ZSTD_WINDOW_LOG))?;
    c.set_parameter(CParameter::ChecksumFlag(true))?;
    c.set_parameter(CParameter::ContentSizeFlag(true))?;
    c.compress(data)
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;
    use std::io::Read;

    fn sample() -> Vec<u8> {
        (0..20_000u32)
            .flat_map(|i| format!("<p>line {i} of {}</p>\n", i % 97).into_bytes())
            .collect()
    }

    #[test]
    fn each_format_round_trips_and_is_deterministic() {
        let data = sample();
        let crc = crc32fast::hash(&data);
        let mut d = Deflater::new(false);
        let deflated = d.deflate(&data).unwrap();
        assert_eq!(deflated, Deflater::new(false).deflate(&data).unwrap());
        let mut back = Vec::new();
        flate2::read::DeflateDecoder::new(&deflated[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        let best = Deflater::new(true).deflate(&data).unwrap();
        assert!(best.len() <= deflated.len());

        let gz = d.gzip(&data, crc).unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);

        let br = brotli(&data).unwrap();
        assert_eq!(br, brotli(&data).unwrap());
        let mut back = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut back).unwrap();
        assert_eq!(back, data);

        let zst = zstd(&data).unwrap();
        assert_eq!(zst, super::zstd(&data).unwrap());
        assert_eq!(zstd::decode_all(&zst[..]).unwrap(), data);
        assert!(br.len() < deflated.len() && zst.len() < deflated.len());
    }
}
