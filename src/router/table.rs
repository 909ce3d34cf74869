//! The router's lookup tables: open addressing with linear probing and backward-shift deletion, over a
//! power-of-two array at most half full, so a probe sequence is short and always ends on an empty slot.
//!
//! An entry is 8 bytes: a 32-bit keyed hash of the key and a 32-bit value (a connection's slot). The key
//! itself is not stored: the router checks a candidate against the connection it names (its ufrag, or
//! one of its paths), which owns the key anyway. Hashes are keyed with random numbers drawn from the
//! router's generator, so a peer cannot choose addresses that pile up in one run of slots; and since the
//! table never holds more than its bound, even a worst case stays bounded.

use alloc::vec;
use alloc::vec::Vec;
use core::net::SocketAddr;

/// The keyed hash (a folded 64×64→128 multiply per 8-byte word, foldhash-style).
#[derive(Clone, Copy, Debug)]
pub(super) struct Hasher {
    k0: u64,
    k1: u64,
}

const SEED_MIX: u64 = 0x9e37_79b9_7f4a_7c15;

fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a).wrapping_mul(u128::from(b));
    (p as u64) ^ ((p >> 64) as u64)
}

impl Hasher {
    pub(super) fn new(k0: u64, k1: u64) -> Self {
        Hasher { k0, k1: k1 | 1 }
    }

    /// The 64-bit hash of a byte string (a ufrag).
    pub(super) fn bytes(&self, data: &[u8]) -> u64 {
        let mut h = self.k0 ^ (data.len() as u64).wrapping_mul(SEED_MIX);
        for chunk in data.chunks(8) {
            let mut w = 0u64;
            for (i, b) in chunk.iter().enumerate() {
                w |= u64::from(*b) << (8 * i);
            }
            h = fold(h ^ w, self.k1);
        }
        fold(h, self.k0 ^ SEED_MIX)
    }

    /// The hash of a path: (local address, remote address).
    pub(super) fn path(&self, local: SocketAddr, remote: SocketAddr) -> u32 {
        let mut h = self.k0;
        for a in [local, remote] {
            let (family, hi, lo) = match a {
                SocketAddr::V4(v4) => (4u64, 0, u64::from(u32::from(*v4.ip()))),
                SocketAddr::V6(v6) => {
                    let ip = u128::from(*v6.ip());
                    (6u64, (ip >> 64) as u64, ip as u64)
                }
            };
            h = fold(h ^ (u64::from(a.port()) << 8 | family), self.k1);
            h = fold(h ^ hi, self.k1 ^ SEED_MIX);
            h = fold(h ^ lo, self.k1);
        }
        Self::finish(h)
    }

    fn finish(h: u64) -> u32 {
        (h ^ (h >> 32)) as u32
    }
}

const EMPTY: u64 = u64::MAX;

/// A multimap from a 32-bit hash to 32-bit values (a value is below `u32::MAX`), growing by doubling up
/// to twice its bound, so that it is never more than half full.
#[derive(Clone, Debug)]
pub(super) struct Table {
    slots: Vec<u64>,
    len: usize,
    limit: usize,
}

fn pack(hash: u32, value: u32) -> u64 {
    u64::from(hash) << 32 | u64::from(value)
}

impl Table {
    /// An empty table holding at most `limit` entries.
    pub(super) fn new(limit: usize) -> Self {
        Table { slots: vec![EMPTY; 16], len: 0, limit }
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn home(&self, hash: u32) -> usize {
        hash as usize & self.mask()
    }

    /// The entries.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Bytes held by the array.
    pub(super) fn capacity_bytes(&self) -> usize {
        self.slots.capacity() * core::mem::size_of::<u64>()
    }

    /// The first value filed under `hash` for which `matches` holds.
    pub(super) fn find(&self, hash: u32, mut matches: impl FnMut(u32) -> bool) -> Option<u32> {
        let mask = self.mask();
        let mut i = self.home(hash);
        for _ in 0..self.slots.len() {
            let e = *self.slots.get(i)?;
            if e == EMPTY {
                return None;
            }
            if (e >> 32) as u32 == hash && matches(e as u32) {
                return Some(e as u32);
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// Files `value` under `hash`; `false` when the table holds its bound.
    pub(super) fn insert(&mut self, hash: u32, value: u32) -> bool {
        if self.len >= self.limit || value == u32::MAX {
            return false;
        }
        if 2 * (self.len + 1) > self.slots.len() {
            self.grow();
        }
        let mask = self.mask();
        let mut i = self.home(hash);
        for _ in 0..self.slots.len() {
            match self.slots.get_mut(i) {
                Some(e) if *e == EMPTY => {
                    *e = pack(hash, value);
                    self.len += 1;
                    return true;
                }
                Some(_) => i = (i + 1) & mask,
                None => return false,
            }
        }
        false
    }

    fn grow(&mut self) {
        let doubled = vec![EMPTY; self.slots.len() * 2];
        let old = core::mem::replace(&mut self.slots, doubled);
        let mask = self.mask();
        for e in old.into_iter().filter(|e| *e != EMPTY) {
            let mut i = self.home((e >> 32) as u32);
            while let Some(s) = self.slots.get_mut(i) {
                if *s == EMPTY {
                    *s = e;
                    break;
                }
                i = (i + 1) & mask;
            }
        }
    }

    /// Removes the entry `(hash, value)`; `false` if there is none.
    pub(super) fn remove(&mut self, hash: u32, value: u32) -> bool {
        let target = pack(hash, value);
        let mask = self.mask();
        let mut i = self.home(hash);
        let mut hole = None;
        for _ in 0..self.slots.len() {
            match self.slots.get(i).copied() {
                Some(e) if e == target => {
                    hole = Some(i);
                    break;
                }
                Some(e) if e != EMPTY => i = (i + 1) & mask,
                _ => break,
            }
        }
        let Some(mut hole) = hole else { return false };
        if let Some(s) = self.slots.get_mut(hole) {
            *s = EMPTY;
        }
        self.len -= 1;
        // Backward-shift deletion: pull later entries of the run into the hole when their home allows.
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let Some(&e) = self.slots.get(j) else { break };
            if e == EMPTY {
                break;
            }
            let home = self.home((e >> 32) as u32);
            if j.wrapping_sub(home) & mask >= j.wrapping_sub(hole) & mask {
                if let Some(h) = self.slots.get_mut(hole) {
                    *h = e;
                }
                if let Some(s) = self.slots.get_mut(j) {
                    *s = EMPTY;
                }
                hole = j;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_find_remove_with_colliding_hashes() {
        let mut t = Table::new(1000);
        // Many values under few hashes: long runs, wrapping, and deletions in the middle of runs.
        for v in 0..600u32 {
            assert!(t.insert(v % 7 * 0x1000_0000 + 15, v));
        }
        assert_eq!(t.len(), 600);
        for v in (0..600u32).step_by(3) {
            assert!(t.remove(v % 7 * 0x1000_0000 + 15, v));
            assert!(!t.remove(v % 7 * 0x1000_0000 + 15, v));
        }
        for v in 0..600u32 {
            let found = t.find(v % 7 * 0x1000_0000 + 15, |x| x == v);
            assert_eq!(found.is_some(), v % 3 != 0, "{v}");
        }
        assert_eq!(t.len(), 400);
    }

    #[test]
    fn bounded() {
        let mut t = Table::new(3);
        assert!(t.insert(1, 1) && t.insert(2, 2) && t.insert(3, 3));
        assert!(!t.insert(4, 4));
        assert!(t.remove(2, 2));
        assert!(t.insert(4, 4));
    }

    #[test]
    fn hashes_depend_on_the_key() {
        let (a, b) = (Hasher::new(1, 2), Hasher::new(3, 4));
        assert_ne!(a.bytes(b"abcdefgh"), b.bytes(b"abcdefgh"));
        assert_ne!(a.bytes(b"abcdefgh"), a.bytes(b"abcdefgi"));
        let (l, r): (SocketAddr, SocketAddr) = ("10.0.0.1:5000".parse().unwrap(), "10.0.0.2:5000".parse().unwrap());
        assert_ne!(a.path(l, r), a.path(r, l));
        assert_ne!(a.path(l, r), b.path(l, r));
    }
}
