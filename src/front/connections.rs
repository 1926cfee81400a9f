//! Which connections wait between requests, so that at `--max-connections`
//! the one idle longest makes room for a new connection (as nginx reuses
//! keep-alive connections when it runs out), and never one in the middle of
//! a request or a response.
//!
//! Each connection has a slot whose state is one atomic word: busy, closing,
//! or the time it became idle. The acceptor turns the oldest idle slot to
//! closing with a compare-and-swap from the time it read, so a connection that
//! turned busy meanwhile is not chosen. A chosen connection closes only if no
//! request has begun to arrive; one that has takes itself back (busy again)
//! and the acceptor chooses another. So a connection in the middle of a
//! request is never closed for being idle.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::stats::STATS;

const BUSY: u64 = 0;
const CLOSING: u64 = u64::MAX;

struct ConnSlot {
    /// [`BUSY`], [`CLOSING`], or when the connection became idle, on the
    /// registry's logical clock.
    state: AtomicU64,
    /// Wakes the connection when its state turns to [`CLOSING`].
    wake: Notify,
}

/// Every open connection's slot.
pub struct Registry {
    /// Counts the moments connections become idle: only their order matters,
    /// and a counter costs less than reading the time on every request.
    clock: AtomicU64,
    slots: Mutex<hashbrown::HashMap<u64, Arc<ConnSlot>>>,
    next_id: AtomicU64,
    /// Set while a new connection waits at the limit with none idle: the
    /// next connection to become idle says so through `became_idle`.
    waiting: AtomicBool,
    became_idle: Notify,
    /// A connection chosen to close had a request arriving and stayed.
    stayed: Notify,
}

impl Registry {
    pub fn new() -> Arc<Registry> {
        Arc::new(Registry {
            clock: AtomicU64::new(BUSY + 1),
            slots: Mutex::new(hashbrown::HashMap::new()),
            next_id: AtomicU64::new(0),
            waiting: AtomicBool::new(false),
            became_idle: Notify::new(),
            stayed: Notify::new(),
        })
    }

    fn now(&self) -> u64 {
        // Starts above BUSY; 2^64 requests away from CLOSING.
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers a new connection; it starts idle (it has sent nothing yet).
    pub fn register(self: &Arc<Self>) -> Handle {
        let since = self.now();
        let slot = Arc::new(ConnSlot {
            state: AtomicU64::new(since),
            wake: Notify::new(),
        });
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, Arc::clone(&slot));
        STATS.connections.inc();
        STATS.idle.inc();
        Handle {
            registry: Arc::clone(self),
            id,
            slot,
            idle_since: Some(since),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, hashbrown::HashMap<u64, Arc<ConnSlot>>> {
        // Every update is one insert or remove: a poisoned map is still consistent.
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes room for a new connection at the limit: closes the connection
    /// idle longest, or, when every one is busy, waits until one turns idle
    /// and tries again. Returns once a connection has been told to close;
    /// its permit then frees the new connection's.
    pub async fn make_room(&self) {
        loop {
            // Announce the wait before looking: a connection turning idle
            // either is seen by the scan or sees the flag (both SeqCst).
            self.waiting.store(true, Ordering::SeqCst);
            let notified = self.became_idle.notified();
            if self.close_longest_idle() {
                self.waiting.store(false, Ordering::SeqCst);
                return;
            }
            notified.await;
        }
    }

    /// Completes when a connection chosen to close turns out to have a
    /// request arriving, so another must be chosen.
    pub async fn chosen_one_stayed(&self) {
        self.stayed.notified().await;
    }

    /// The new connection got its permit another way (a connection closed).
    pub fn stop_waiting(&self) {
        self.waiting.store(false, Ordering::SeqCst);
    }

    /// Closes the connection idle longest between requests; false if none is idle.
    pub fn close_longest_idle(&self) -> bool {
        let slots = self.lock();
        // A connection may turn busy between the scan and the swap: look again.
        for _ in 0..8 {
            let oldest = slots
                .values()
                .map(|s| (s.state.load(Ordering::SeqCst), s))
                .filter(|(state, _)| *state != BUSY && *state != CLOSING)
                .min_by_key(|(since, _)| *since);
            let Some((since, slot)) = oldest else {
                return false;
            };
            if slot
                .state
                .compare_exchange(since, CLOSING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                slot.wake.notify_one();
                return true;
            }
        }
        false
    }

    /// Connections registered now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One connection's slot, removed when the connection ends.
pub struct Handle {
    registry: Arc<Registry>,
    id: u64,
    slot: Arc<ConnSlot>,
    /// What this connection stored when it last became idle; `None` while busy.
    idle_since: Option<u64>,
}

impl Handle {
    /// The connection waits for its next request.
    pub fn set_idle(&mut self) {
        if self.idle_since.is_none() {
            let since = self.registry.now();
            self.slot.state.store(since, Ordering::SeqCst);
            self.idle_since = Some(since);
            STATS.idle.inc();
            if self.registry.waiting.load(Ordering::SeqCst) {
                self.registry.became_idle.notify_one();
            }
        }
    }

    /// The connection starts work on a request (bytes of it have arrived).
    /// If it had just been chosen to close, it stays, and says so.
    pub fn set_busy(&mut self) {
        if self.idle_since.take().is_none() {
            return;
        }
        STATS.idle.dec();
        if self.slot.state.swap(BUSY, Ordering::AcqRel) == CLOSING {
            self.registry.stayed.notify_one();
        }
    }

    /// Completes once the acceptor has chosen this (idle) connection to
    /// close. It owns what it waits on, so a connection can create it once
    /// and keep polling the same future (re-creating it for every wait cost a
    /// waiter registration per request).
    pub fn closing(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let slot = Arc::clone(&self.slot);
        async move {
            while slot.state.load(Ordering::Acquire) != CLOSING {
                slot.wake.notified().await;
            }
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
        STATS.connections.dec();
        if self.idle_since.is_some() {
            STATS.idle.dec();
        }
    }
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;

    #[test]
    fn the_longest_idle_is_closed_and_busy_ones_never() {
        let registry = Registry::new();
        let mut a = registry.register();
        let mut b = registry.register();
        let mut c = registry.register();
        a.set_busy();
        b.set_busy();
        b.set_idle();
        assert!(registry.close_longest_idle());
        // c was idle longest: chosen. b is still idle.
        assert_eq!(c.slot.state.load(Ordering::SeqCst), CLOSING);
        assert_ne!(b.slot.state.load(Ordering::SeqCst), CLOSING);
        b.set_busy();
        // a and b busy, c closing: nothing left to choose.
        assert!(!registry.close_longest_idle());
        // c had a request arriving after all: it stays, busy.
        c.set_busy();
        assert_eq!(c.slot.state.load(Ordering::SeqCst), BUSY);
        a.set_idle();
        assert!(registry.close_longest_idle());
        assert_eq!(a.slot.state.load(Ordering::SeqCst), CLOSING);
        drop((a, b, c));
        assert!(registry.is_empty());
    }

    #[tokio::test]
    async fn a_closed_connection_is_woken() {
        let registry = Registry::new();
        let h = registry.register();
        let waiter = tokio::spawn(async move {
            h.closing().await;
        });
        tokio::task::yield_now().await;
        assert!(registry.close_longest_idle());
        tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
            .await
            .expect("woken")
            .unwrap();
    }
}
