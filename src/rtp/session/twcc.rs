//! Transport-wide congestion control (draft-holmer-rmcat-transport-wide-cc-extensions-01): sequence
//! numbers and a send history on the sending side, arrival recording and feedback on the receiving side.
//! Both are power-of-two rings indexed by the extended sequence number; nothing allocates after
//! construction except the caller-owned status list.

use crate::rtcp::{REFERENCE_TICK_MS, TwccStatus};
use crate::time::Instant;
use alloc::vec;
use alloc::vec::Vec;

const TICK_NS: i64 = 250_000;
const REFERENCE_NS: u64 = REFERENCE_TICK_MS as u64 * 1_000_000;

/// Extends a 16-bit sequence number to the one nearest `newest`.
fn extend(newest: u64, seq: u16) -> Option<u64> {
    let ahead = seq.wrapping_sub(newest as u16);
    if ahead < 0x8000 { Some(newest + u64::from(ahead)) } else { newest.checked_sub(u64::from(ahead.wrapping_neg())) }
}

/// One packet the session sent with a transport-wide sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Sent {
    pub(super) seq: u64,
    pub(super) sent_at: Instant,
    pub(super) size: u32,
    pub(super) ssrc: u32,
    pub(super) rtp_seq: u16,
}

#[derive(Clone, Debug)]
pub(super) struct TwccSender {
    slots: Vec<Option<Sent>>,
    next: u64,
}

impl TwccSender {
    pub(super) fn new(history: usize) -> Self {
        Self { slots: vec![None; history], next: 0 }
    }

    /// Assigns the next sequence number to a packet sent at `now`.
    pub(super) fn assign(&mut self, now: Instant, ssrc: u32, rtp_seq: u16, size: usize) -> u16 {
        let seq = self.next;
        self.next += 1;
        let mask = self.slots.len() as u64 - 1;
        if let Some(slot) = self.slots.get_mut((seq & mask) as usize) {
            *slot = Some(Sent { seq, sent_at: now, size: u32::try_from(size).unwrap_or(u32::MAX), ssrc, rtp_seq });
        }
        seq as u16
    }

    /// The newest sequence number sent, extended.
    pub(super) fn newest(&self) -> Option<u64> {
        self.next.checked_sub(1)
    }

    /// Extends a sequence number from feedback; `None` if it was never sent (ahead of the newest).
    pub(super) fn extend(&self, seq: u16) -> Option<u64> {
        let newest = self.newest()?;
        extend(newest, seq).filter(|e| *e <= newest)
    }

    /// The packet sent with extended sequence number `seq`, if still remembered.
    pub(super) fn get(&self, seq: u64) -> Option<Sent> {
        let mask = self.slots.len() as u64 - 1;
        self.slots.get((seq & mask) as usize).copied().flatten().filter(|s| s.seq == seq)
    }

    /// Packets remembered at most.
    pub(super) fn capacity(&self) -> usize {
        self.slots.len()
    }
}

/// The fields of one feedback packet to write (the statuses are in the caller's list).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Feedback {
    pub(super) base_sequence: u16,
    pub(super) reference_time: i32,
    pub(super) feedback_count: u8,
    pub(super) media_ssrc: u32,
}

#[derive(Clone, Debug)]
pub(super) struct TwccReceiver {
    slots: Vec<(u64, Instant)>,
    newest: Option<u64>,
    /// The first sequence number not yet reported.
    next_report: u64,
    feedback_count: u8,
    media_ssrc: u32,
    pending: bool,
}

impl TwccReceiver {
    pub(super) fn new(window: usize) -> Self {
        Self {
            slots: vec![(u64::MAX, Instant::ZERO); window],
            newest: None,
            next_report: 0,
            feedback_count: 0,
            media_ssrc: 0,
            pending: false,
        }
    }

    fn window(&self) -> u64 {
        self.slots.len() as u64
    }

    /// Whether there are arrivals not yet reported.
    pub(super) fn pending(&self) -> bool {
        self.pending
    }

    /// A packet with transport-wide sequence number `seq` of stream `media_ssrc` arrived at `now`.
    /// Returns `false` if it came after its sequence number was reported (it is not reported again).
    pub(super) fn record(&mut self, now: Instant, seq: u16, media_ssrc: u32) -> bool {
        let ext = match self.newest {
            // Start one cycle up, so that packets reordered before the first one still extend.
            None => (1 << 16) + u64::from(seq),
            Some(n) => match extend(n, seq) {
                Some(e) => e,
                None => return false,
            },
        };
        if self.newest.is_none() {
            self.next_report = ext;
        }
        if ext < self.next_report {
            return false;
        }
        let newest = self.newest.map_or(ext, |n| n.max(ext));
        // Unreported arrivals the window no longer covers are skipped.
        self.next_report = self.next_report.max(newest.saturating_sub(self.window() - 1));
        self.newest = Some(newest);
        let mask = self.window() - 1;
        if let Some(slot) = self.slots.get_mut((ext & mask) as usize) {
            *slot = (ext, now);
        }
        self.media_ssrc = media_ssrc;
        self.pending = true;
        true
    }

    fn arrival(&self, seq: u64) -> Option<Instant> {
        let mask = self.window() - 1;
        self.slots.get((seq & mask) as usize).filter(|(s, _)| *s == seq).map(|(_, t)| *t)
    }

    /// Builds the next feedback: fills `statuses` (cleared first) for the unreported run, at most `max`
    /// packets, and moves past them. `None` if nothing is pending.
    pub(super) fn build(&mut self, statuses: &mut Vec<TwccStatus>, max: usize) -> Option<Feedback> {
        statuses.clear();
        let newest = self.newest.filter(|_| self.pending)?;
        let start = self.next_report;
        // The reference time: the first arrival, rounded down to 64 ms.
        let first = (start..=newest).find_map(|s| self.arrival(s))?;
        let reference = first.as_nanos() / REFERENCE_NS;
        let mut last = i128::from(reference) * i128::from(REFERENCE_NS);
        let mut seq = start;
        while seq <= newest && statuses.len() < max {
            match self.arrival(seq) {
                Some(at) => {
                    let diff = i128::from(at.as_nanos()) - last;
                    // Round to the nearest 250 µs tick.
                    let ticks = (diff + i128::from(TICK_NS / 2)).div_euclid(i128::from(TICK_NS));
                    let Some(status) = i32::try_from(ticks).ok().and_then(TwccStatus::received) else {
                        break; // too far from the previous one: the next feedback starts here
                    };
                    last += ticks * i128::from(TICK_NS);
                    statuses.push(status);
                }
                None => statuses.push(TwccStatus::NotReceived),
            }
            seq += 1;
        }
        self.next_report = seq;
        self.pending = seq <= newest;
        if statuses.is_empty() {
            return None;
        }
        let feedback = Feedback {
            base_sequence: start as u16,
            reference_time: (reference & 0x00ff_ffff) as i32,
            feedback_count: self.feedback_count,
            media_ssrc: self.media_ssrc,
        };
        self.feedback_count = self.feedback_count.wrapping_add(1);
        Some(feedback)
    }
}
