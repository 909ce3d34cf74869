//! A fixed-capacity hash table from SSRC to a small value: O(1) lookup on the per-packet path.
//!
//! Open addressing with linear probing and backward-shift deletion over a power-of-two table at most half
//! full, so a probe sequence is short and always ends on an empty slot. The hash multiplies by a key drawn
//! from the session's generator, so a peer cannot pick SSRCs that pile up in one run of slots; and since
//! the table never holds more than its bound, even a worst case stays bounded.

use alloc::vec;
use alloc::vec::Vec;

#[derive(Clone, Debug)]
pub(super) struct SsrcMap<V: Copy> {
    slots: Vec<Option<(u32, V)>>,
    shift: u32,
    key: u64,
    len: usize,
    limit: usize,
}

impl<V: Copy> SsrcMap<V> {
    /// A map holding at most `limit` entries, hashed with `key`.
    pub(super) fn new(limit: usize, key: u64) -> Self {
        let capacity = (2 * limit.max(1)).next_power_of_two().max(8);
        Self { slots: vec![None; capacity], shift: 64 - capacity.trailing_zeros(), key: key | 1, len: 0, limit }
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn home(&self, ssrc: u32) -> usize {
        // Multiplicative hashing: the top bits of a 64-bit product with an odd random key.
        ((u64::from(ssrc) ^ (self.key >> 32)).wrapping_mul(self.key) >> self.shift) as usize
    }

    fn find(&self, ssrc: u32) -> Result<usize, usize> {
        let mask = self.mask();
        let mut i = self.home(ssrc);
        for _ in 0..self.slots.len() {
            match self.slots.get(i) {
                Some(Some((k, _))) if *k == ssrc => return Ok(i),
                Some(Some(_)) => i = (i + 1) & mask,
                _ => return Err(i),
            }
        }
        Err(usize::MAX)
    }

    pub(super) fn get(&self, ssrc: u32) -> Option<V> {
        let i = self.find(ssrc).ok()?;
        self.slots.get(i).copied().flatten().map(|(_, v)| v)
    }

    pub(super) fn contains(&self, ssrc: u32) -> bool {
        self.find(ssrc).is_ok()
    }

    /// Inserts a new key; `false` if it is present or the map is full.
    pub(super) fn insert(&mut self, ssrc: u32, value: V) -> bool {
        if self.len >= self.limit {
            return false;
        }
        match self.find(ssrc) {
            Ok(_) => false,
            Err(i) => match self.slots.get_mut(i) {
                Some(slot) => {
                    *slot = Some((ssrc, value));
                    self.len += 1;
                    true
                }
                None => false,
            },
        }
    }

    pub(super) fn remove(&mut self, ssrc: u32) -> Option<V> {
        let mut hole = self.find(ssrc).ok()?;
        let (_, value) = self.slots.get_mut(hole)?.take()?;
        self.len -= 1;
        // Backward-shift deletion: pull later entries of the run into the hole when their home allows.
        let mask = self.mask();
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let Some(Some((k, v))) = self.slots.get(j).copied() else { break };
            let home = self.home(k);
            // Move (k, v) if its home is not cyclically in (hole, j].
            let dist_home = j.wrapping_sub(home) & mask;
            let dist_hole = j.wrapping_sub(hole) & mask;
            if dist_home >= dist_hole {
                if let Some(h) = self.slots.get_mut(hole) {
                    *h = Some((k, v));
                }
                if let Some(s) = self.slots.get_mut(j) {
                    *s = None;
                }
                hole = j;
            }
        }
        Some(value)
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.len
    }
}
