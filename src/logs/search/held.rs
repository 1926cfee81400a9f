//! A search runs on a thread of its own and its page is held here until the
//! client reads it, so the search slot ([`super::scan::Slot`]) is given back
//! when the *scan* ends, not when a slow (or stalled) client has read the
//! last byte: two stalled readers no longer lock search out for everyone.
//!
//! What is held is bounded per search (at most [`super::MAX_MATCHES`]
//! results, a shown line cut to 4 KiB) and in the process ([`MAX_HELD`]:
//! past it a new search is answered 503 until clients read, or their
//! connections time out and drop what was held for them).
//!
//! ```text
//! scanner thread:  Search::step ─▶ pieces ─┐  (the slot dropped at the end)
//! Body::Stream:    Held::step  ◀─ wait ────┘  (a piece per step, as sent)
//! ```

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::http::body::Produce;

/// Bytes of pages held for their clients, all searches together, past which
/// no new search starts.
pub const MAX_HELD: usize = 64 << 20;

static HELD: AtomicUsize = AtomicUsize::new(0);

/// Whether the process holds too much unread search output to start another.
pub(crate) fn full() -> bool {
    HELD.load(Ordering::Acquire) >= MAX_HELD
}

#[derive(Default)]
struct Made {
    pieces: VecDeque<Vec<u8>>,
    error: Option<io::Error>,
    done: bool,
}

#[derive(Default)]
struct HeldState {
    made: Mutex<Made>,
    ready: Condvar,
    /// The client went away: the scan stops at its next step.
    gone: AtomicBool,
}

impl HeldState {
    fn lock(&self) -> MutexGuard<'_, Made> {
        self.made.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, piece: Vec<u8>, error: Option<io::Error>, done: bool) {
        let mut made = self.lock();
        if !piece.is_empty() {
            HELD.fetch_add(piece.len(), Ordering::AcqRel);
            made.pieces.push_back(piece);
        }
        if error.is_some() {
            made.error = error;
        }
        made.done |= done;
        self.ready.notify_all();
    }
}

impl Drop for HeldState {
    fn drop(&mut self) {
        let made = self.made.get_mut().unwrap_or_else(|e| e.into_inner());
        let left: usize = made.pieces.iter().map(Vec::len).sum();
        HELD.fetch_sub(left, Ordering::AcqRel);
    }
}

/// The page of a search running on its own thread, as a [`Produce`]r.
pub(crate) struct Held(Arc<HeldState>);

impl Held {
    /// Starts `make()`'s producer on a thread of its own, run to its end
    /// whatever the client does (unless it goes away). `make` runs there too:
    /// listing the members to search is work over the whole index.
    pub(crate) fn start<P: Produce>(make: impl FnOnce() -> P + Send + 'static) -> io::Result<Held> {
        let shared = Arc::new(HeldState::default());
        let theirs = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("wwz-search".into())
            .spawn(move || run(make, &theirs))?;
        Ok(Held(shared))
    }
}

fn run<P: Produce>(make: impl FnOnce() -> P, shared: &HeldState) {
    let mut producer = Some(make());

    while let Some(p) = producer.as_mut() {
        if shared.gone.load(Ordering::Acquire) {
            break;
        }
        let mut out = Vec::new();
        let result = p.step(&mut out);
        let more = matches!(result, Ok(true));
        if !more {
            // The slot goes back before the client can see the page end.
            producer = None;
        }
        shared.publish(out, result.err(), !more);
    }
    drop(producer);
    shared.publish(Vec::new(), None, true);
}

/// At most this much is handed to the front per step.
const PIECE: usize = 64 << 10;

impl Produce for Held {
    fn step(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        let shared = &self.0;
        let mut made = shared.lock();
        loop {
            if !made.pieces.is_empty() {
                while out.len() < PIECE {
                    let Some(piece) = made.pieces.pop_front() else {
                        break;
                    };
                    HELD.fetch_sub(piece.len(), Ordering::AcqRel);
                    out.extend_from_slice(&piece);
                }
                return Ok(true);
            }
            if let Some(e) = made.error.take() {
                return Err(e);
            }
            if made.done {
                return Ok(false);
            }
            made = shared.ready.wait(made).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.gone.store(true, Ordering::Release);
    }
}
