//! The retransmission history of a send stream (RFC 4588): the packets it sent, bounded in count, octets
//! and age.
//!
//! Packets are kept in send order, so their sequence numbers are consecutive and a lookup is an index
//! computation. Their octets live in one ring buffer of `max_bytes`: each packet takes a contiguous range
//! (a packet that would straddle the end starts again at the beginning), and storing one evicts the oldest
//! packets whose octets it overwrites. Positions are "virtual" (they only grow), so a packet is live
//! exactly when its start is within `max_bytes` of the end of the newest one. The buffer grows to
//! `max_bytes` as the first packets arrive and then never allocates again.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use super::config::HistoryConfig;
use crate::time::Instant;

#[derive(Clone, Copy, Debug)]
struct Entry {
    seq: u16,
    sent_at: Instant,
    /// Virtual start in the ring; `len == 0` when the packet was not kept (larger than the ring).
    start: u64,
    len: u32,
    last_resent: Option<Instant>,
}

/// Where a requested sequence number stands.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Lookup<'a> {
    /// Kept: the packet as sent, and when it was last retransmitted.
    Found { packet: &'a [u8], last_resent: Option<Instant> },
    /// Sent, but no longer kept (evicted, too old, or too large to keep).
    Gone,
    /// Never sent by this stream.
    NeverSent,
}

#[derive(Clone, Debug)]
pub(super) struct PacketHistory {
    config: HistoryConfig,
    entries: VecDeque<Entry>,
    buf: Vec<u8>,
    /// Virtual end of the newest packet.
    end: u64,
    /// Sequence number of the newest packet sent and how many were sent (kept or not).
    newest: Option<u16>,
    sent: u64,
}

impl PacketHistory {
    pub(super) fn new(config: HistoryConfig) -> Self {
        Self {
            config,
            entries: VecDeque::with_capacity(config.max_packets.min(4096)),
            buf: Vec::new(),
            end: 0,
            newest: None,
            sent: 0,
        }
    }

    fn cap(&self) -> u64 {
        self.config.max_bytes as u64
    }

    fn expire(&mut self, now: Instant) {
        while let Some(front) = self.entries.front() {
            if now.saturating_duration_since(front.sent_at) > self.config.max_age {
                self.entries.pop_front();
            } else {
                break;
            }
        }
    }

    /// Records `packet`, sent at `now` with sequence number `seq` (one more than the previous).
    pub(super) fn store(&mut self, now: Instant, seq: u16, packet: &[u8]) {
        if self.newest.is_some_and(|n| n.wrapping_add(1) != seq) {
            self.entries.clear(); // not consecutive: start afresh
        }
        self.newest = Some(seq);
        self.sent += 1;
        self.expire(now);
        if self.config.max_packets == 0 {
            return;
        }
        if self.entries.len() >= self.config.max_packets {
            self.entries.pop_front();
        }
        let cap = self.cap();
        let len = packet.len() as u64;
        if len == 0 || len > cap {
            self.entries.push_back(Entry { seq, sent_at: now, start: self.end, len: 0, last_resent: None });
            return;
        }
        // One division per packet: where the end falls in the ring.
        let rem = self.end % cap;
        let (start, at) = if rem + len > cap {
            (self.end - rem + cap, 0) // do not straddle the end of the ring
        } else {
            (self.end, rem as usize)
        };
        let end = start + len;
        // Evict what the new octets overwrite: everything starting before `end - cap`.
        while self.entries.front().is_some_and(|e| e.len > 0 && e.start < end - cap.min(end)) {
            self.entries.pop_front();
        }
        let needed = at + packet.len();
        if self.buf.len() < needed {
            let grown = (self.buf.len() * 2).max(needed).min(self.config.max_bytes);
            self.buf.resize(grown, 0);
        }
        if let Some(dst) = self.buf.get_mut(at..needed) {
            dst.copy_from_slice(packet);
        }
        self.end = end;
        self.entries.push_back(Entry { seq, sent_at: now, start, len: len as u32, last_resent: None });
    }

    fn index(&self, seq: u16) -> Option<usize> {
        let front = self.entries.front()?;
        let i = usize::from(seq.wrapping_sub(front.seq));
        (i < self.entries.len()).then_some(i)
    }

    /// Where `seq` stands at `now`.
    pub(super) fn lookup(&mut self, now: Instant, seq: u16) -> Lookup<'_> {
        self.expire(now);
        let Some(newest) = self.newest else { return Lookup::NeverSent };
        // Ahead of the newest, or further back than everything ever sent: never sent.
        let back = newest.wrapping_sub(seq);
        if back >= 0x8000 || u64::from(back) >= self.sent {
            return Lookup::NeverSent;
        }
        let Some(e) = self.index(seq).and_then(|i| self.entries.get(i)) else { return Lookup::Gone };
        if e.len == 0 {
            return Lookup::Gone;
        }
        let Some(at) = e.start.checked_rem(self.cap()) else { return Lookup::Gone };
        let at = at as usize;
        match self.buf.get(at..at + e.len as usize) {
            Some(packet) => Lookup::Found { packet, last_resent: e.last_resent },
            None => Lookup::Gone,
        }
    }

    /// Notes that `seq` was retransmitted at `now`.
    pub(super) fn mark_resent(&mut self, now: Instant, seq: u16) {
        if let Some(e) = self.index(seq).and_then(|i| self.entries.get_mut(i)) {
            e.last_resent = Some(now);
        }
    }

    /// Packets kept and their octets.
    #[cfg(test)]
    pub(super) fn kept(&self) -> (usize, u64) {
        let kept: Vec<&Entry> = self.entries.iter().filter(|e| e.len > 0).collect();
        (kept.len(), kept.iter().map(|e| u64::from(e.len)).sum())
    }

    /// Octets of memory the ring holds.
    pub(super) fn buffer_len(&self) -> usize {
        self.buf.len()
    }
}
