//! The NACK generator of a receive stream (RFC 4585 §6.2.1, RFC 4588 §6.3): which packets are missing,
//! when each is asked for again, and when one is given up.
//!
//! A power-of-two ring of slots indexed by extended sequence number covers the `window` sequence numbers
//! up to the highest received. A gap marks its packets missing; a missing packet is first NACKed after a
//! reordering delay, again only after a retry interval the session derives from the round-trip time, at
//! most `max_retries` times and for at most `max_age`; then, or when it falls out of the window, it is
//! given up (the session may then ask for a key frame). Work per packet is O(1) amortised (a gap costs
//! one slot per missing packet, at most the window); a NACK pass walks the window once.

use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use crate::rtcp::NackPair;
use crate::time::Instant;

#[derive(Clone, Copy, Debug)]
struct Slot {
    seq: u64,
    missing: bool,
    /// It arrived (as an original or a repair); a slot neither missing nor received was given up.
    received: bool,
    detected: Instant,
    sent: Option<Instant>,
    retries: u8,
}

impl Slot {
    const EMPTY: Slot =
        Slot { seq: u64::MAX, missing: false, received: false, detected: Instant::ZERO, sent: None, retries: 0 };
}

/// Timing of a NACK pass.
#[derive(Clone, Copy, Debug)]
pub(super) struct NackTiming {
    /// Wait before the first NACK of a gap.
    pub(super) reorder_delay: Duration,
    /// Wait between two NACKs of one packet (at least a round trip).
    pub(super) retry_after: Duration,
    /// NACKs per packet at most.
    pub(super) max_retries: u8,
    /// Age at which a missing packet is given up.
    pub(super) max_age: Duration,
}

/// What the arrival of a packet did to the missing set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Arrival {
    /// It was missing (a late original, or a repair).
    pub(super) was_missing: bool,
    /// It had arrived already (a duplicate).
    pub(super) duplicate: bool,
    /// Missing packets given up because the window moved past them (or a gap wider than the window).
    pub(super) given_up: u32,
    /// Packets newly found missing.
    pub(super) new_missing: u32,
}

/// What a packet at or before the highest received was to the tracker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Repair {
    /// Missing: now it is not.
    Missing,
    /// Received already: a duplicate (a retransmission of a packet that was not lost, a bandwidth probe).
    Duplicate,
    /// Neither: given up, or out of the window (nothing known of it).
    Other,
}

#[derive(Clone, Debug)]
pub(super) struct NackTracker {
    slots: Vec<Slot>,
    highest: Option<u64>,
    missing: usize,
    /// The earliest moment a pass may have something to do (can be early, never late).
    pub(super) due: Option<Instant>,
}

impl NackTracker {
    /// A tracker over `window` sequence numbers (a power of two).
    pub(super) fn new(window: usize) -> Self {
        Self { slots: vec![Slot::EMPTY; window.max(1)], highest: None, missing: 0, due: None }
    }

    fn mask(&self) -> u64 {
        self.slots.len() as u64 - 1
    }

    fn slot(&mut self, seq: u64) -> Option<&mut Slot> {
        let i = (seq & self.mask()) as usize;
        self.slots.get_mut(i)
    }

    /// Packets missing now.
    pub(super) fn missing(&self) -> usize {
        self.missing
    }

    /// A packet with extended sequence number `seq` arrived at `now`.
    pub(super) fn on_received(&mut self, now: Instant, seq: u64, reorder_delay: Duration) -> Arrival {
        let mut arrival = Arrival::default();
        let window = self.slots.len() as u64;
        let Some(high) = self.highest else {
            self.highest = Some(seq);
            if let Some(s) = self.slot(seq) {
                *s = Slot { seq, received: true, ..Slot::EMPTY };
            }
            return arrival;
        };
        if seq > high {
            let gap = seq - high - 1;
            let start = if gap >= window {
                // Wider than the window: the oldest part of the gap is never tracked.
                arrival.given_up += u32::try_from(gap - (window - 1)).unwrap_or(u32::MAX);
                seq - (window - 1)
            } else {
                high + 1
            };
            for s in start..=seq {
                let missing = s != seq;
                let Some(slot) = self.slot(s) else { continue };
                let was = slot.missing;
                *slot = Slot { seq: s, missing, received: !missing, detected: now, sent: None, retries: 0 };
                if was {
                    arrival.given_up += 1;
                    self.missing -= 1;
                }
                if missing {
                    self.missing += 1;
                    arrival.new_missing += 1;
                }
            }
            self.highest = Some(seq);
            if arrival.new_missing > 0 {
                let at = now + reorder_delay;
                self.due = Some(self.due.map_or(at, |d| d.min(at)));
            }
        } else if high - seq < window {
            match self.mark_received(seq) {
                Repair::Missing => arrival.was_missing = true,
                Repair::Duplicate => arrival.duplicate = true,
                Repair::Other => {}
            }
        }
        arrival
    }

    /// Marks `seq` (within the window, at or before the highest) received; what it was.
    fn mark_received(&mut self, seq: u64) -> Repair {
        let Some(slot) = self.slot(seq).filter(|s| s.seq == seq) else { return Repair::Other };
        if slot.received {
            return Repair::Duplicate;
        }
        slot.received = true;
        if slot.missing {
            slot.missing = false;
            self.missing -= 1;
            Repair::Missing
        } else {
            Repair::Other
        }
    }

    /// A repaired packet `seq` arrived: it is no longer missing. Never moves the window (a repair of a
    /// packet not asked for changes nothing).
    pub(super) fn on_repaired(&mut self, seq: u64) -> Repair {
        let window = self.slots.len() as u64;
        if !self.highest.is_some_and(|h| seq <= h && h - seq < window) {
            return Repair::Other;
        }
        self.mark_received(seq)
    }

    /// Forgets everything (a stream restart); returns how many missing packets were given up.
    pub(super) fn reset(&mut self) -> u32 {
        let given_up = u32::try_from(self.missing).unwrap_or(u32::MAX);
        self.slots.fill(Slot::EMPTY);
        self.highest = None;
        self.missing = 0;
        self.due = None;
        given_up
    }

    /// A NACK pass at `now`: appends the packets due to `pairs` (ascending, packed into PID + BLP
    /// entries, at most `max_pairs` entries), marks them sent, gives up those out of retries or too old,
    /// and sets [`NackTracker::due`]. Returns how many were given up.
    pub(super) fn poll(
        &mut self,
        now: Instant,
        timing: &NackTiming,
        pairs: &mut Vec<NackPair>,
        max_pairs: usize,
    ) -> u32 {
        let mut given_up = 0;
        let mut next: Option<Instant> = None;
        let mut earliest = |at: Instant| next = Some(next.map_or(at, |n: Instant| n.min(at)));
        let (Some(high), true) = (self.highest, self.missing > 0) else {
            self.due = None;
            return 0;
        };
        let low = high.saturating_sub(self.slots.len() as u64 - 1);
        let mask = self.mask();
        for seq in low..=high {
            let Some(slot) = self.slots.get_mut((seq & mask) as usize) else { continue };
            if slot.seq != seq || !slot.missing {
                continue;
            }
            let expires = slot.detected + timing.max_age;
            let due_at = match slot.sent {
                None => slot.detected + timing.reorder_delay,
                Some(t) => t + timing.retry_after,
            };
            if now >= expires || (due_at <= now && slot.retries >= timing.max_retries) {
                slot.missing = false;
                self.missing -= 1;
                given_up += 1;
                continue;
            }
            if due_at > now {
                earliest(due_at.min(expires));
                continue;
            }
            if push_packed(pairs, seq as u16, max_pairs) {
                slot.sent = Some(now);
                slot.retries += 1;
                earliest((now + timing.retry_after).min(expires));
            } else {
                earliest(now); // no room in this NACK: due again at once
            }
        }
        self.due = if self.missing > 0 { next } else { None };
        given_up
    }
}

/// Adds `seq` to `pairs` (ascending order): into the last entry's bitmask when within 16 after its PID,
/// else as a new entry if fewer than `max_pairs` exist. Returns whether it was added.
pub(super) fn push_packed(pairs: &mut Vec<NackPair>, seq: u16, max_pairs: usize) -> bool {
    if let Some(last) = pairs.last_mut() {
        let d = seq.wrapping_sub(last.pid);
        if (1..=16).contains(&d) {
            last.blp |= 1 << (d - 1);
            return true;
        }
    }
    if pairs.len() >= max_pairs {
        return false;
    }
    pairs.push(NackPair { pid: seq, blp: 0 });
    true
}
