//! The connections' deadlines: an indexed binary min-heap, one entry per connection slot at most, whose
//! position is tracked so that a deadline moves (or leaves) in O(log n) without stale entries. The
//! earliest deadline is read in O(1).

use alloc::vec::Vec;

use crate::time::Instant;

const ABSENT: u32 = u32::MAX;

#[derive(Clone, Debug, Default)]
pub(super) struct DeadlineHeap {
    /// (deadline, slot), a min-heap on the deadline.
    items: Vec<(Instant, u32)>,
    /// Per slot: its index in `items`, or `ABSENT`.
    pos: Vec<u32>,
}

impl DeadlineHeap {
    /// The earliest deadline and its slot.
    pub(super) fn peek(&self) -> Option<(Instant, u32)> {
        self.items.first().copied()
    }

    /// Entries.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    /// Bytes held.
    pub(super) fn capacity_bytes(&self) -> usize {
        self.items.capacity() * core::mem::size_of::<(Instant, u32)>()
            + self.pos.capacity() * core::mem::size_of::<u32>()
    }

    /// Removes and returns the earliest entry's slot.
    pub(super) fn pop(&mut self) -> Option<u32> {
        let (_, slot) = self.peek()?;
        self.set(slot, None);
        Some(slot)
    }

    /// Files `slot`'s deadline (`None`: no deadline).
    pub(super) fn set(&mut self, slot: u32, deadline: Option<Instant>) {
        let s = slot as usize;
        if self.pos.len() <= s {
            if deadline.is_none() {
                return;
            }
            self.pos.resize(s + 1, ABSENT);
        }
        let at = self.pos.get(s).copied().unwrap_or(ABSENT);
        match (at, deadline) {
            (ABSENT, None) => {}
            (ABSENT, Some(t)) => {
                self.items.push((t, slot));
                let i = self.items.len() - 1;
                self.place(i);
                self.up(i);
            }
            (i, Some(t)) => {
                let i = i as usize;
                let Some(item) = self.items.get_mut(i) else { return };
                let old = item.0;
                item.0 = t;
                if t < old { self.up(i) } else { self.down(i) }
            }
            (i, None) => {
                let i = i as usize;
                let last = self.items.len() - 1;
                self.items.swap(i, last);
                self.items.pop();
                if let Some(p) = self.pos.get_mut(s) {
                    *p = ABSENT;
                }
                if i < self.items.len() {
                    self.place(i);
                    self.down(i);
                    self.up(i);
                }
            }
        }
    }

    /// Records where the item at `i` is.
    fn place(&mut self, i: usize) {
        if let Some(&(_, slot)) = self.items.get(i)
            && let Some(p) = self.pos.get_mut(slot as usize)
        {
            *p = i as u32;
        }
    }

    fn key(&self, i: usize) -> Option<Instant> {
        self.items.get(i).map(|(t, _)| *t)
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.items.swap(a, b);
        self.place(a);
        self.place(b);
    }

    fn up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.key(i) >= self.key(parent) {
                break;
            }
            self.swap(i, parent);
            i = parent;
        }
    }

    fn down(&mut self, mut i: usize) {
        let n = self.items.len();
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut least = i;
            if l < n && self.key(l) < self.key(least) {
                least = l;
            }
            if r < n && self.key(r) < self.key(least) {
                least = r;
            }
            if least == i {
                break;
            }
            self.swap(i, least);
            i = least;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::SeededRng;

    #[test]
    fn behaves_like_a_sorted_list() {
        let mut rng = SeededRng::from_seed([3; 32]);
        let mut heap = DeadlineHeap::default();
        let mut model: Vec<Option<Instant>> = alloc::vec![None; 64];
        for _ in 0..20_000 {
            let slot = rng.below(64) as u32;
            let d = if rng.below(4) == 0 { None } else { Some(Instant::from_millis(rng.below(1000))) };
            heap.set(slot, d);
            model[slot as usize] = d;
            let least = model.iter().flatten().min().copied();
            assert_eq!(heap.peek().map(|(t, _)| t), least);
            if let Some((t, s)) = heap.peek() {
                assert_eq!(model[s as usize], Some(t));
            }
            assert_eq!(heap.len(), model.iter().flatten().count());
        }
        while let Some(s) = heap.pop() {
            model[s as usize] = None;
        }
        assert!(model.iter().all(Option::is_none));
    }
}
