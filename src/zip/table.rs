//! The name table of the serving index: open addressing with linear probing
//! over one `Vec<u64>`, sized once for its entry count (at most 80% full, no
//! rehash), with a hash of our own so that `wwz pack` can write the table
//! into the archive and a server can use it as read (see [`super::packed`]).
//!
//! ```text
//! slot (u64) = tag (high 32 bits of the name's hash) << 32 | (entry id + 1);  0 = empty
//! home slot  = hash & (slots - 1)
//! ```
//!
//! A table read from an archive may be hostile: every probe is bounded by
//! [`MAX_PROBE`] and a found id still has to name the same bytes, so a bad
//! table can only make lookups miss, never answer with another member. A
//! table we build with a random seed that would need a longer probe is
//! refused (not a lucky accident at 80% load: a crafted directory).

use super::error::IndexError;

/// The longest probe sequence a lookup follows. At 80% load, a run of 1,024
/// occupied slots has a probability of about e^-35 per slot.
pub const MAX_PROBE: usize = 1024;

/// Slots for `n` entries: a power of two, at most 80% full.
pub fn slots_for(n: usize) -> usize {
    n.saturating_add(n / 4)
        .saturating_add(1)
        .max(8)
        .checked_next_power_of_two()
        .unwrap_or(usize::MAX)
}

/// The hash of `name` under `seed`: 8 bytes at a time, each folded in with a
/// 64 × 64 → 128-bit multiply (as wyhash and foldhash do). Fixed here, not
/// taken from a crate, because tables written into archives depend on it.
pub fn hash(seed: u64, name: &[u8]) -> u64 {
    const K1: u64 = 0x9e37_79b9_7f4a_7c15;
    const K2: u64 = 0xbf58_476d_1ce4_e5b9;
    let fold = |a: u64, b: u64| {
        let m = u128::from(a) * u128::from(b);
        (m as u64) ^ ((m >> 64) as u64)
    };
    let mut h = fold(seed ^ K1, (name.len() as u64) ^ K2);
    let mut chunks = name.chunks_exact(8);
    for c in &mut chunks {
        let v = c.first_chunk::<8>().map_or(0, |b| u64::from_le_bytes(*b));
        h = fold(h ^ v, K1);
    }
    let mut tail = [0u8; 8];
    let rest = chunks.remainder();
    if let Some(t) = tail.get_mut(..rest.len()) {
        t.copy_from_slice(rest);
    }
    fold(h ^ u64::from_le_bytes(tail), K2) ^ h
}

/// Ids of entries by name.
pub struct Table {
    seed: u64,
    slots: Vec<u64>,
    len: usize,
}

impl Table {
    /// An empty table for `n` entries, hashing with `seed`.
    pub fn with_capacity(n: usize, seed: u64) -> Table {
        Table {
            seed,
            slots: vec![0; slots_for(n)],
            len: 0,
        }
    }

    /// A table as read from an archive: `slots` must be a power of two long
    /// (ids are checked by whoever resolves them).
    pub fn from_parts(seed: u64, slots: Vec<u64>) -> Option<Table> {
        if !slots.len().is_power_of_two() {
            return None;
        }
        let len = slots.iter().filter(|&&s| s != 0).count();
        Some(Table { seed, slots, len })
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn slots(&self) -> &[u64] {
        &self.slots
    }

    /// Distinct names held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn allocation_size(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<u64>()
    }

    /// Entry ids held, in slot order.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots
            .iter()
            .filter(|&&s| s != 0)
            .map(|&s| (s as u32).wrapping_sub(1))
    }

    /// Adds `id` for `name`; an earlier id with the same name is replaced
    /// (the later entry wins, as in Python's zipfile and Go's archive/zip).
    /// Grows the table (twice the slots) when it would be more than 80% full:
    /// only when the end record understated the count (16-bit counts wrap).
    pub fn insert<'n>(
        &mut self,
        name: &[u8],
        id: u32,
        name_of: &impl Fn(u32) -> &'n [u8],
    ) -> Result<(), IndexError> {
        if (self.len + 1).saturating_mul(5) > self.slots.len().saturating_mul(4) {
            let size = self
                .slots
                .len()
                .checked_mul(2)
                .ok_or(IndexError::TooLarge)?;
            let old = std::mem::replace(&mut self.slots, vec![0; size]);
            self.len = 0;
            for id in old
                .iter()
                .filter(|&&s| s != 0)
                .map(|&s| (s as u32).wrapping_sub(1))
            {
                self.insert(name_of(id), id, name_of)?;
            }
        }
        let h = hash(self.seed, name);
        let tag = h >> 32;
        let value = tag << 32 | (u64::from(id) + 1);
        let mask = self.slots.len() - 1;
        let mut at = h as usize & mask;
        for _ in 0..MAX_PROBE.min(self.slots.len()) {
            let Some(slot) = self.slots.get_mut(at) else {
                break;
            };
            if *slot == 0 {
                *slot = value;
                self.len += 1;
                return Ok(());
            }
            if *slot >> 32 == tag && name_of((*slot as u32).wrapping_sub(1)) == name {
                *slot = value;
                return Ok(());
            }
            at = (at + 1) & mask;
        }
        Err(IndexError::TooManyCollisions)
    }

    /// The id stored for `name`, checked by `is` (whether that id's name is `name`).
    pub fn find(&self, name: &[u8], is: impl Fn(u32) -> bool) -> Option<u32> {
        let h = hash(self.seed, name);
        let tag = h >> 32;
        let mask = self.slots.len().checked_sub(1)?;
        let mut at = h as usize & mask;
        for _ in 0..MAX_PROBE.min(self.slots.len()) {
            let slot = *self.slots.get(at)?;
            if slot == 0 {
                return None;
            }
            let id = (slot as u32).wrapping_sub(1);
            if slot >> 32 == tag && is(id) {
                return Some(id);
            }
            at = (at + 1) & mask;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(slots_for(0), 8);
        assert_eq!(slots_for(100_101), 131_072);
        assert_eq!(slots_for(104_857), 131_072);
        assert_eq!(slots_for(104_858), 262_144);
    }

    #[test]
    fn hash_depends_on_every_byte_and_the_seed() {
        let name = b"site/s042/p01234-title.html";
        let h = hash(1, name);
        assert_ne!(h, hash(2, name));
        for i in 0..name.len() {
            let mut other = name.to_vec();
            other[i] ^= 1;
            assert_ne!(h, hash(1, &other), "byte {i}");
        }
        // Lengths differ even when the padding would not.
        assert_ne!(hash(1, b"a"), hash(1, b"a\0"));
        // Fixed: tables written into archives depend on it.
        assert_eq!(hash(0, b"index.html"), hash(0, b"index.html"));
    }

    #[test]
    fn insert_find_replace() {
        let names: Vec<Vec<u8>> = (0..5000)
            .map(|i| format!("d/{i}.html").into_bytes())
            .collect();
        let mut t = Table::with_capacity(names.len() + 1, 7);
        let name_of = |i: u32| names.get(i as usize).map_or(&b""[..], |n| &n[..]);
        for (i, n) in names.iter().enumerate() {
            t.insert(n, i as u32, &name_of).unwrap();
        }
        assert_eq!(t.len(), 5000);
        for (i, n) in names.iter().enumerate() {
            assert_eq!(t.find(n, |id| name_of(id) == &n[..]), Some(i as u32));
        }
        assert_eq!(
            t.find(b"d/5000.html", |id| name_of(id) == b"d/5000.html"),
            None
        );
        // A second entry with the same name replaces the first.
        let renamed = |i: u32| {
            if i == 7 || i == 9 {
                &b"d/7.html"[..]
            } else {
                name_of(i)
            }
        };
        t.insert(b"d/7.html", 9, &renamed).unwrap();
        assert_eq!(t.len(), 5000);
        assert_eq!(t.find(b"d/7.html", |_| true), Some(9));
        assert_eq!(t.ids().count(), 5000);
    }

    /// A table sized too small (a wrapped 16-bit count) grows instead of filling up.
    #[test]
    fn grows_past_its_capacity() {
        let names: Vec<Vec<u8>> = (0..70_000).map(|i| format!("{i}").into_bytes()).collect();
        let name_of = |i: u32| names.get(i as usize).map_or(&b""[..], |n| &n[..]);
        let mut t = Table::with_capacity(70_000 % 65_536, 5);
        for (i, n) in names.iter().enumerate() {
            t.insert(n, i as u32, &name_of).unwrap();
        }
        assert_eq!(t.len(), 70_000);
        assert!(t.slots().len() >= 70_000 * 5 / 4);
        assert_eq!(t.find(b"69999", |i| name_of(i) == b"69999"), Some(69_999));
    }

    /// A hostile table (every slot claiming the tag of the name looked up)
    /// costs at most MAX_PROBE probes and answers only what `is` accepts.
    #[test]
    fn hostile_table_is_bounded() {
        let tag = hash(3, b"x") >> 32;
        let t = Table::from_parts(3, vec![tag << 32 | 5; 1 << 16]).unwrap();
        let calls = std::cell::Cell::new(0);
        assert_eq!(
            t.find(b"x", |_| {
                calls.set(calls.get() + 1);
                false
            }),
            None
        );
        assert_eq!(calls.get(), MAX_PROBE);
        assert!(Table::from_parts(3, vec![0; 12]).is_none());
        assert!(Table::from_parts(3, Vec::new()).is_none());
    }

    /// A table full of names that collide fills up to MAX_PROBE, then refuses.
    #[test]
    fn collisions_are_refused_not_looped() {
        let mut t = Table::with_capacity(4000, 1);
        let names: Vec<Vec<u8>> = (0..4000).map(|i| format!("{i}").into_bytes()).collect();
        let name_of = |i: u32| names.get(i as usize).map_or(&b""[..], |n| &n[..]);
        // Pretend every name hashes home to the same slot by filling a run first.
        let run = MAX_PROBE + 1;
        let home = hash(1, b"probe") as usize & (t.slots.len() - 1);
        for k in 0..run {
            let at = (home + k) & (t.slots.len() - 1);
            t.slots[at] = 1 << 32 | (k as u64 + 1);
        }
        assert!(matches!(
            t.insert(b"probe", 1, &name_of),
            Err(IndexError::TooManyCollisions)
        ));
    }
}
