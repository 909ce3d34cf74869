//! Bounded output queues that reuse their buffers.
//!
//! [`OutQueue`] holds datagrams waiting for `poll_transmit`. A popped datagram stays borrowed from the queue
//! until the next pop, then its buffer goes back to a free list, so once the queue has warmed up, pushing
//! and popping allocate nothing. [`EventQueue`] is a bounded FIFO for events. Both can give their memory
//! back when a connection goes idle (`trim`).

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// A bounded FIFO of datagrams, each with metadata `M` (addresses for path machines, `()` above the path).
#[derive(Debug)]
pub(crate) struct OutQueue<M> {
    queue: VecDeque<(M, Vec<u8>)>,
    spare: Vec<Vec<u8>>,
    current: Vec<u8>,
    limit: usize,
    dropped: u64,
}

impl<M> OutQueue<M> {
    /// A queue holding at most `limit` datagrams.
    pub(crate) fn new(limit: usize) -> Self {
        OutQueue { queue: VecDeque::new(), spare: Vec::new(), current: Vec::new(), limit, dropped: 0 }
    }

    /// Queues a copy of `bytes`. Returns `false` (and counts a drop) when the queue is full.
    pub(crate) fn push(&mut self, meta: M, bytes: &[u8]) -> bool {
        self.push_with(meta, |buf| {
            buf.extend_from_slice(bytes);
            Ok::<(), core::convert::Infallible>(())
        })
        .unwrap_or(false)
    }

    /// Queues a datagram written by `write` into a recycled, empty buffer. Returns `Ok(false)` (and counts a
    /// drop) when the queue is full; an error from `write` leaves the queue unchanged.
    pub(crate) fn push_with<E>(
        &mut self,
        meta: M,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<bool, E> {
        if self.queue.len() >= self.limit {
            self.dropped += 1;
            return Ok(false);
        }
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        if let Err(e) = write(&mut buf) {
            self.spare.push(buf);
            return Err(e);
        }
        self.queue.push_back((meta, buf));
        Ok(true)
    }

    /// The oldest datagram, borrowed until the next call on the queue.
    pub(crate) fn pop(&mut self) -> Option<(M, &[u8])> {
        let (meta, buf) = self.queue.pop_front()?;
        let old = core::mem::replace(&mut self.current, buf);
        if old.capacity() > 0 && self.spare.len() < self.limit {
            self.spare.push(old);
        }
        Some((meta, &self.current))
    }

    /// Datagrams waiting.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Gives back the buffers kept for reuse, if nothing is waiting (the last popped datagram is released
    /// too: call it only when that borrow has ended, e.g. from `handle_timeout`). For idle connections:
    /// the next datagram allocates again.
    pub(crate) fn trim(&mut self) {
        if self.queue.is_empty() {
            self.queue = VecDeque::new();
            self.spare = Vec::new();
            self.current = Vec::new();
        }
    }

    /// Whether nothing is waiting.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Datagrams refused because the queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Drops everything waiting (buffers are kept for reuse).
    pub(crate) fn clear(&mut self) {
        while let Some((_, buf)) = self.queue.pop_front() {
            if self.spare.len() < self.limit {
                self.spare.push(buf);
            }
        }
    }
}

/// A bounded FIFO of events. When full, the new event is refused and counted.
#[derive(Debug)]
pub(crate) struct EventQueue<T> {
    queue: VecDeque<T>,
    limit: usize,
    dropped: u64,
}

impl<T> EventQueue<T> {
    /// A queue holding at most `limit` events.
    pub(crate) fn new(limit: usize) -> Self {
        EventQueue { queue: VecDeque::new(), limit, dropped: 0 }
    }

    /// Queues `event`; returns `false` (and counts a drop) when full.
    pub(crate) fn push(&mut self, event: T) -> bool {
        if self.queue.len() >= self.limit {
            self.dropped += 1;
            return false;
        }
        self.queue.push_back(event);
        true
    }

    /// The oldest event.
    pub(crate) fn pop(&mut self) -> Option<T> {
        self.queue.pop_front()
    }

    /// Events waiting.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Gives back the queue's memory if it is empty (for idle connections).
    pub(crate) fn trim(&mut self) {
        if self.queue.is_empty() {
            self.queue = VecDeque::new();
        }
    }

    /// Events refused because the queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_gives_memory_back_only_when_nothing_waits() {
        let mut events = EventQueue::new(64);
        for n in 0..20u64 {
            assert!(events.push(n));
        }
        events.trim();
        assert_eq!(events.len(), 20, "nothing waiting is dropped");
        while events.pop().is_some() {}
        assert!(events.queue.capacity() >= 20, "draining keeps the room for the next burst");
        events.trim();
        assert_eq!(events.queue.capacity(), 0);
        let mut out = OutQueue::new(8);
        for n in 0..4u8 {
            assert!(out.push((), &[n; 300]));
        }
        out.trim();
        assert_eq!(out.len(), 4);
        while out.pop().is_some() {}
        assert!(!out.spare.is_empty() && out.current.capacity() > 0);
        out.trim();
        assert_eq!((out.spare.capacity(), out.current.capacity(), out.queue.capacity()), (0, 0, 0));
        assert!(out.push((), &[9; 10]));
        assert_eq!(out.pop().map(|(_, b)| b.to_vec()), Some(alloc::vec![9; 10]));
    }

    #[test]
    fn out_queue_is_fifo_bounded_and_counts_drops() {
        let mut q = OutQueue::new(2);
        assert!(q.push(1, b"a"));
        assert!(q.push(2, b"bb"));
        assert!(!q.push(3, b"ccc"));
        assert_eq!(q.dropped(), 1);
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(), Some((1, &b"a"[..])));
        assert_eq!(q.pop(), Some((2, &b"bb"[..])));
        assert_eq!(q.pop(), None);
        assert!(q.is_empty());
    }

    #[test]
    fn out_queue_recycles_buffers() {
        let mut q = OutQueue::new(4);
        for round in 0..10u8 {
            assert!(q.push((), &[round; 100]));
            let (_, bytes) = q.pop().unwrap_or(((), &[]));
            assert_eq!(bytes, &[round; 100][..]);
        }
        // One buffer in hand and at most one spare: nothing grew with the rounds.
        assert!(q.spare.len() <= 1);
    }

    #[test]
    fn failed_writer_leaves_queue_unchanged() {
        let mut q: OutQueue<()> = OutQueue::new(4);
        let r = q.push_with((), |buf| {
            buf.push(1);
            Err("no")
        });
        assert_eq!(r, Err("no"));
        assert!(q.is_empty());
        q.clear();
        assert_eq!(q.dropped(), 0);
    }

    #[test]
    fn event_queue_is_bounded() {
        let mut q = EventQueue::new(1);
        assert!(q.push('a'));
        assert!(!q.push('b'));
        assert_eq!(q.len(), 1);
        assert_eq!(q.dropped(), 1);
        assert_eq!(q.pop(), Some('a'));
        assert_eq!(q.pop(), None);
    }
}
