//! The bounds on decoding zstd members for clients: the largest window, the
//! ratio a member must keep, and the one process-wide budget of window
//! memory that live decoders reserve from.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use super::super::Archive;
use crate::util::bounds;

/// The largest zstd window (log2) decoded for a request: 2^25 = 32 MiB, the
/// memory one decoding response may hold. Larger frames are refused (501).
pub const ZSTD_DECODE_WINDOW_LOG_MAX: u32 = 25;

/// The least window (log2) a zstd decoder reserves: 128 KiB, one block,
/// which the decoder holds whatever the frame's window.
pub(super) const ZSTD_WINDOW_LOG_MIN: u32 = 17;

/// Windows of all live zstd decoders together: four of the largest
/// ([`ZSTD_DECODE_WINDOW_LOG_MAX`]), a thousand of the smallest. A request
/// that would pass it gets 503 (the next one may find room).
pub const ZSTD_DECODE_MEMORY: u64 = 128 << 20;
// The largest window must fit on its own, or such members could never be decoded.
const _: () = assert!(ZSTD_DECODE_MEMORY >= 1 << ZSTD_DECODE_WINDOW_LOG_MAX);

/// The most bytes a deflate stream makes per byte (a 258-byte match in
/// about two bits): the ratio a zstd member must keep to be decoded.
pub const DEFLATE_MAX_RATIO: u64 = 1032;

/// A zstd member up to this size is decoded whatever its ratio: the work
/// is small, and highly repetitive text legitimately beats deflate's ratio.
pub const ZSTD_RATIO_FREE: u64 = 1 << 20;

/// Why a zstd member is not decoded for a client (it may still be passed
/// through as `Content-Encoding: zstd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZstdRefusal {
    /// The frame asks for a window over [`ZSTD_DECODE_WINDOW_LOG_MAX`].
    Window,
    /// It declares more output per compressed byte than deflate can make.
    Ratio,
}

impl std::fmt::Display for ZstdRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ZstdRefusal::Window => write!(
                f,
                "its zstd window is larger than wwz decodes ({} MiB)",
                (1u64 << ZSTD_DECODE_WINDOW_LOG_MAX) >> 20
            ),
            ZstdRefusal::Ratio => write!(
                f,
                "it declares more than {DEFLATE_MAX_RATIO} bytes per compressed byte \
                 (past what deflate can make), so it is not decoded"
            ),
        }
    }
}

/// Whether a zstd member whose first frame asks for `window` bytes and which
/// declares `size` bytes from `compressed` may be decoded.
pub fn zstd_refusal(window: u64, size: u64, compressed: u64) -> Option<ZstdRefusal> {
    if window > 1 << ZSTD_DECODE_WINDOW_LOG_MAX {
        return Some(ZstdRefusal::Window);
    }
    let bound = compressed
        .saturating_mul(DEFLATE_MAX_RATIO)
        .max(ZSTD_RATIO_FREE);
    (size > bound).then_some(ZstdRefusal::Ratio)
}

/// Window bytes reserved by live zstd decoders (see [`ZstdMemory`]).
static ZSTD_RESERVED: AtomicU64 = AtomicU64::new(0);

/// Window bytes reserved by live zstd decoders now.
pub fn zstd_reserved() -> u64 {
    ZSTD_RESERVED.load(Ordering::Relaxed)
}

/// All of [`ZSTD_DECODE_MEMORY`] is reserved: try again later (503).
#[derive(Debug)]
pub struct DecoderMemoryBusy;

impl std::fmt::Display for DecoderMemoryBusy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "zstd decoder memory ({} MiB) is all in use",
            ZSTD_DECODE_MEMORY >> 20
        )
    }
}

impl std::error::Error for DecoderMemoryBusy {}

/// The window one zstd decoder may use, reserved from [`ZSTD_DECODE_MEMORY`]
/// until dropped. The decoder is limited to exactly this window, so a later
/// frame of the member that asks for more is refused rather than unaccounted.
#[derive(Debug)]
pub struct ZstdMemory {
    pub(super) window_log: u32,
}

impl ZstdMemory {
    /// Reserves the window for a frame that asks for `window` bytes (rounded
    /// up to a power of two, at least one block).
    pub fn reserve(window: u64) -> Result<ZstdMemory, DecoderMemoryBusy> {
        let log = (u64::BITS - window.saturating_sub(1).leading_zeros())
            .clamp(ZSTD_WINDOW_LOG_MIN, ZSTD_DECODE_WINDOW_LOG_MAX);
        let bytes = 1u64 << log;
        ZSTD_RESERVED
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| {
                r.checked_add(bytes).filter(|&t| t <= ZSTD_DECODE_MEMORY)
            })
            .map_err(|_| DecoderMemoryBusy)?;
        Ok(ZstdMemory { window_log: log })
    }

    /// Reserves the window the zstd frame at `offset` (`len` bytes of the
    /// archive) asks for, read from its header with `pread`.
    pub fn for_frame(archive: &Archive, offset: u64, len: u64) -> io::Result<ZstdMemory> {
        let mut head = [0u8; 18];
        let n = usize::try_from(len).unwrap_or(head.len()).min(head.len());
        let head = bounds::get_mut(&mut head, 0..n)?;
        archive.read_exact_at(head, offset)?;
        let window = crate::zip::format::zstd_frame_window(head)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no zstd frame header"))?;
        ZstdMemory::reserve(window).map_err(|e| io::Error::new(io::ErrorKind::WouldBlock, e))
    }

    pub(super) fn bytes(&self) -> u64 {
        1 << self.window_log
    }
}

impl Drop for ZstdMemory {
    fn drop(&mut self) {
        ZSTD_RESERVED.fetch_sub(self.bytes(), Ordering::AcqRel);
    }
}
