//! Random access into deflated members: checkpoints of the inflate state.
//!
//! Deflate has no index: reaching byte N of a member means inflating the N
//! bytes before it. zlib's `examples/zran.c` records, every so often, where
//! the compressed stream is (a bit offset) and the 32 KiB window of output
//! before it, so inflating can resume there. miniz_oxide's `InflateState` is
//! `Clone` and holds exactly that (bit buffer, window, the current block's
//! Huffman tables), so a checkpoint here is a clone of the state plus the
//! compressed offset its input resumes at — no bit fiddling, and a checkpoint
//! can be taken anywhere, even mid-block.
//!
//! ```text
//! member output  0        1 MiB      2 MiB      3 MiB   …
//!                |----------|----------|----------|
//! checkpoints          (out, input, lines, state)  every SPACING bytes of output
//! ```
//!
//! Checkpoints are recorded the first time a member over [`MIN_MEMBER`] is
//! inflated past its start (by any request: a Range, a log view, a search),
//! kept per archive version (its [`Identity`]) and member, within one global
//! memory budget (`--inflate-index-memory`); the least recently used member's
//! checkpoints go first. A member whose checkpoints alone exceed the budget
//! keeps the ones that fit.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use miniz_oxide::inflate::stream::InflateState;

use super::Identity;

/// Output bytes between two checkpoints.
pub const SPACING: u64 = 1 << 20;
/// Members this large or smaller are inflated from the start every time.
pub const MIN_MEMBER: u64 = 4 << 20;
/// The default budget, in bytes, for all checkpoints together.
pub const DEFAULT_BUDGET: usize = 64 << 20;

static BUDGET: AtomicUsize = AtomicUsize::new(DEFAULT_BUDGET);
static TICK: AtomicU64 = AtomicU64::new(0);
static STORE: Mutex<Vec<MemberIndex>> = Mutex::new(Vec::new());

/// Sets the memory budget for all checkpoints (`--inflate-index-memory`).
pub fn set_budget(bytes: usize) {
    BUDGET.store(bytes, Ordering::Relaxed);
}

/// Which member of which archive version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointKey {
    pub archive: Identity,
    /// Offset of the member's compressed data in the archive.
    pub data: u64,
}

/// Where inflating can resume.
#[derive(Clone)]
pub struct Checkpoint {
    /// Output bytes before this point.
    pub out: u64,
    /// Archive offset of the next compressed byte the state has not consumed.
    pub input: u64,
    /// Newlines in the output before this point (for numbered log views).
    pub lines: u64,
    /// CRC-32 of the output before this point: a body resumed here is still
    /// checked against the member's CRC at its end.
    pub crc: u32,
    pub state: Box<InflateState>,
}

/// Bytes one checkpoint costs: the inflate state (window and tables) and its record.
pub fn checkpoint_bytes() -> usize {
    std::mem::size_of::<InflateState>() + std::mem::size_of::<Checkpoint>()
}

struct MemberIndex {
    key: CheckpointKey,
    /// At `SPACING`, `2 * SPACING`, … in order, with no gap.
    points: Vec<Checkpoint>,
    last_used: u64,
    /// The budget stopped recording for this member.
    full: bool,
}

fn tick() -> u64 {
    TICK.fetch_add(1, Ordering::Relaxed)
}

/// The checkpoint nearest below or at output offset `target`, if any.
pub fn nearest(key: CheckpointKey, target: u64) -> Option<Checkpoint> {
    let mut store = STORE.lock().ok()?;
    let index = store.iter_mut().find(|m| m.key == key)?;
    index.last_used = tick();
    let k = index.points.partition_point(|p| p.out <= target);
    k.checked_sub(1)
        .and_then(|k| index.points.get(k))
        .map(|p| Checkpoint {
            out: p.out,
            input: p.input,
            lines: p.lines,
            crc: p.crc,
            state: Box::new((*p.state).clone()),
        })
}

/// Whether a checkpoint at output offset `out` would be kept: the next in
/// line for this member, and the member not stopped by the budget.
pub fn wants(key: CheckpointKey, out: u64) -> bool {
    let Ok(store) = STORE.lock() else {
        return false;
    };
    match store.iter().find(|m| m.key == key) {
        Some(index) => !index.full && next_out(index) == out,
        None => out == SPACING,
    }
}

fn next_out(index: &MemberIndex) -> u64 {
    index.points.last().map_or(SPACING, |p| p.out + SPACING)
}

/// Keeps `cp` if it is the next in line for its member, dropping the least
/// recently used members' checkpoints to stay within the budget.
pub fn insert(key: CheckpointKey, cp: Checkpoint) {
    let Ok(mut store) = STORE.lock() else {
        return;
    };
    let budget = BUDGET.load(Ordering::Relaxed);
    let each = checkpoint_bytes();
    let now = tick();
    let pos = match store.iter().position(|m| m.key == key) {
        Some(pos) => pos,
        None => {
            store.push(MemberIndex {
                key,
                points: Vec::new(),
                last_used: now,
                full: false,
            });
            store.len() - 1
        }
    };
    let Some(index) = store.get_mut(pos) else {
        return;
    };
    if index.full || next_out(index) != cp.out {
        return;
    }
    index.last_used = now;
    index.points.push(cp);
    // Over budget: drop whole members, least recently used first, never this one.
    loop {
        let total: usize = store.iter().map(|m| m.points.len() * each).sum();
        if total <= budget {
            return;
        }
        let victim = store
            .iter()
            .enumerate()
            .filter(|(_, m)| m.key != key)
            .min_by_key(|(_, m)| m.last_used)
            .map(|(i, _)| i);
        match victim {
            Some(i) => {
                store.swap_remove(i);
            }
            None => {
                // This member alone is over budget: keep what fits, record no more.
                if let Some(index) = store.iter_mut().find(|m| m.key == key) {
                    index.points.pop();
                    index.full = true;
                }
                return;
            }
        }
    }
}

/// Checkpoints kept, and the bytes they hold (for the status page).
pub fn usage() -> (usize, usize) {
    let Ok(store) = STORE.lock() else {
        return (0, 0);
    };
    let n: usize = store.iter().map(|m| m.points.len()).sum();
    (n, n * checkpoint_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_costs_a_window_and_tables() {
        let bytes = checkpoint_bytes();
        // The 32 KiB window plus the Huffman tables: about 43 KiB, so ~43 MiB per GiB.
        assert!(bytes > 32 * 1024 && bytes < 64 * 1024, "{bytes}");
        eprintln!(
            "checkpoint: {bytes} bytes; per GiB of output: {} MiB",
            (bytes * 1024) >> 20
        );
    }
}
