//! The sending half: the message queue, fragmentation, the retransmission queue, SACK processing,
//! congestion control (RFC 9260 §7) and PR-SCTP abandonment (RFC 3758 §3.5).

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use super::wire::{DataFlags, SackChunk};
use super::{SendOptions, tsn_le, tsn_lt};
use crate::time::Instant;

/// A message waiting for its first fragment to be sent, or partly sent.
#[derive(Debug)]
pub(crate) struct OutMsg {
    pub(crate) ppid: u32,
    pub(crate) data: Bytes,
    /// Bytes already cut into fragments.
    pub(crate) offset: usize,
    pub(crate) ssn: u16,
    pub(crate) unordered: bool,
    pub(crate) max_rtx: Option<u32>,
    pub(crate) expires: Option<Instant>,
    /// Counted in its stream's buffered amount (control messages of the layer above are not).
    pub(crate) counted: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Sent and counted in the flight.
    InFlight,
    /// Marked for retransmission (not in the flight).
    Retransmit,
    /// Acknowledged by a gap block.
    GapAcked,
    /// Abandoned (PR-SCTP); waiting for the peer's cumulative ack to pass it.
    Abandoned,
}

/// A fragment with a TSN, until the cumulative ack passes it.
#[derive(Debug)]
pub(crate) struct Sent {
    pub(crate) tsn: u32,
    pub(crate) stream: u16,
    pub(crate) ssn: u16,
    pub(crate) ppid: u32,
    pub(crate) flags: u8,
    pub(crate) data: Bytes,
    pub(crate) sent_at: Instant,
    pub(crate) transmissions: u32,
    pub(crate) status: Status,
    pub(crate) misses: u8,
    pub(crate) fast_retransmitted: bool,
    pub(crate) max_rtx: Option<u32>,
    pub(crate) expires: Option<Instant>,
    /// Counted in its stream's buffered amount.
    pub(crate) counted: bool,
}

/// What a SACK changed, for the association to act on.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SackOutcome {
    /// The cumulative ack advanced.
    pub(crate) advanced: bool,
    /// An RTT sample to feed the RTO estimator.
    pub(crate) rtt: Option<Duration>,
    /// The SACK acknowledged TSNs never sent.
    pub(crate) invalid: bool,
}

/// The scheduling weight of a stream nobody set a priority for (the data channel "normal" priority,
/// RFC 8831 §6.4; see [`Association::set_stream_priority`](crate::sctp::Association::set_stream_priority)).
pub const DEFAULT_PRIORITY: u16 = 256;

/// Per-stream outbound state, with the stream's messages waiting for their first (or next) fragment.
#[derive(Debug)]
pub(crate) struct StreamOut {
    pub(crate) id: u16,
    pub(crate) next_ssn: u16,
    /// Weight in the scheduler.
    pub(crate) priority: u16,
    pub(crate) resetting: bool,
    pub(crate) buffered: usize,
    /// Virtual finish time of the message at the front of `queue` (weighted fair queueing).
    finish: u64,
    queue: VecDeque<OutMsg>,
}

impl StreamOut {
    fn new(id: u16) -> Self {
        StreamOut {
            id,
            next_ssn: 0,
            priority: DEFAULT_PRIORITY,
            resetting: false,
            buffered: 0,
            finish: 0,
            queue: VecDeque::new(),
        }
    }
}

/// The virtual time a message of `len` bytes costs a stream of weight `priority`: streams are served in
/// proportion to their weights (self-clocked fair queueing over messages, as dcSCTP does).
fn cost(len: usize, priority: u16) -> u64 {
    ((len as u64) << 16) / u64::from(priority.max(1))
}

#[derive(Debug)]
pub(crate) struct SendState {
    pub(crate) mtu: usize,
    /// Outbound streams that have been used, sorted by id.
    streams: Vec<StreamOut>,
    /// Streams with queued messages, in the order they became active (ties go to the earlier one).
    active: Vec<u16>,
    /// The stream whose front message is partly cut into fragments: it goes on until the message ends
    /// (without I-DATA, fragments of one message take consecutive TSNs, RFC 9260 §6.9).
    current: Option<u16>,
    /// The scheduler's virtual time: the finish time of the last message started.
    vtime: u64,
    /// Messages queued (not yet completely cut into fragments).
    pub(crate) queued: usize,
    pub(crate) sent: VecDeque<Sent>,
    /// No fragment in `sent` expires before this (a lower bound; `None`: none has a lifetime), so that
    /// the search for expired fragments after each SACK costs nothing when none can be due.
    next_expiry: Option<Instant>,
    /// TSN of the next new fragment.
    pub(crate) next_tsn: u32,
    /// The peer's cumulative ack.
    pub(crate) cum_acked: u32,
    /// Bytes in flight (RFC 9260 §6.1 flightsize).
    pub(crate) flight: usize,
    pub(crate) cwnd: usize,
    pub(crate) ssthresh: usize,
    pub(crate) partial_bytes_acked: usize,
    /// The peer's receive window as we last computed it.
    pub(crate) peer_rwnd: usize,
    /// Fast recovery: the highest TSN outstanding when it began.
    pub(crate) recovery_exit: Option<u32>,
    /// Chunks marked for retransmission.
    pub(crate) to_retransmit: usize,
    /// A fast retransmit is due: one packet may go regardless of cwnd (§7.2.4 step 3).
    pub(crate) fast_rtx_due: bool,
    /// PR-SCTP Advanced.Peer.Ack.Point, when ahead of `cum_acked`.
    pub(crate) forward_tsn_due: bool,
    /// Bytes queued in all (pending plus unacknowledged).
    pub(crate) buffered: usize,
    /// TSN whose ack gives an RTT sample, and when it was sent.
    rtt_probe: Option<(u32, Instant)>,
    pub(crate) retransmissions: u64,
    pub(crate) fast_retransmits: u64,
    pub(crate) abandoned: u64,
}

impl SendState {
    pub(crate) fn new(mtu: usize) -> Self {
        SendState {
            mtu,
            streams: Vec::new(),
            active: Vec::new(),
            current: None,
            vtime: 0,
            queued: 0,
            sent: VecDeque::new(),
            next_expiry: None,
            next_tsn: 0,
            cum_acked: 0,
            flight: 0,
            cwnd: initial_cwnd(mtu),
            ssthresh: usize::MAX,
            partial_bytes_acked: 0,
            peer_rwnd: 0,
            recovery_exit: None,
            to_retransmit: 0,
            fast_rtx_due: false,
            forward_tsn_due: false,
            buffered: 0,
            rtt_probe: None,
            retransmissions: 0,
            fast_retransmits: 0,
            abandoned: 0,
        }
    }

    /// Starts sending at `initial_tsn` to a peer advertising `a_rwnd` (§7.2.1: ssthresh = peer's rwnd).
    pub(crate) fn start(&mut self, initial_tsn: u32, a_rwnd: u32) {
        self.next_tsn = initial_tsn;
        self.cum_acked = initial_tsn.wrapping_sub(1);
        self.peer_rwnd = a_rwnd as usize;
        self.ssthresh = a_rwnd as usize;
        self.cwnd = initial_cwnd(self.mtu);
    }

    fn find(&self, stream: u16) -> Result<usize, usize> {
        self.streams.binary_search_by_key(&stream, |s| s.id)
    }

    pub(crate) fn stream(&self, stream: u16) -> Option<&StreamOut> {
        self.find(stream).ok().and_then(|i| self.streams.get(i))
    }

    pub(crate) fn stream_mut(&mut self, stream: u16) -> &mut StreamOut {
        let i = match self.find(stream) {
            Ok(i) => i,
            Err(i) => {
                self.streams.insert(i, StreamOut::new(stream));
                i
            }
        };
        &mut self.streams[i]
    }

    pub(crate) fn stream_buffered(&self, stream: u16) -> usize {
        self.stream(stream).map_or(0, |s| s.buffered)
    }

    /// Sets a stream's scheduler weight (0 counts as 1). Applies from its next message on.
    pub(crate) fn set_priority(&mut self, stream: u16, priority: u16) {
        let priority = priority.max(1);
        if priority == DEFAULT_PRIORITY && self.stream(stream).is_none() {
            return; // What an unused stream has already: no entry needed.
        }
        self.stream_mut(stream).priority = priority;
    }

    /// A stream's scheduler weight.
    pub(crate) fn priority(&self, stream: u16) -> u16 {
        self.stream(stream).map_or(DEFAULT_PRIORITY, |s| s.priority)
    }

    /// Whether messages wait for (more of) their fragments to be sent.
    pub(crate) fn has_pending(&self) -> bool {
        !self.active.is_empty()
    }

    /// Queues a message (already checked by the caller). `counted`: whether it counts in the stream's
    /// buffered amount (it always counts in the total, which the send buffer bounds).
    pub(crate) fn queue(
        &mut self,
        now: Instant,
        stream: u16,
        ppid: u32,
        data: Bytes,
        opts: SendOptions,
        counted: bool,
    ) {
        let len = data.len();
        let vtime = self.vtime;
        let s = self.stream_mut(stream);
        let ssn = if opts.unordered {
            0
        } else {
            let ssn = s.next_ssn;
            s.next_ssn = ssn.wrapping_add(1);
            ssn
        };
        if counted {
            s.buffered += len;
        }
        let was_idle = s.queue.is_empty();
        if was_idle {
            s.finish = vtime.saturating_add(cost(len, s.priority));
        }
        s.queue.push_back(OutMsg {
            ppid,
            data,
            offset: 0,
            ssn,
            unordered: opts.unordered,
            max_rtx: opts.max_retransmits,
            expires: opts.max_lifetime.map(|l| now + l),
            counted,
        });
        self.buffered += len;
        self.queued += 1;
        if was_idle {
            self.active.push(stream);
        }
    }

    fn deactivate(&mut self, stream: u16) {
        if let Some(k) = self.active.iter().position(|&a| a == stream) {
            self.active.remove(k);
        }
        if self.current == Some(stream) {
            self.current = None;
        }
    }

    /// The front message of `stream` is done (sent whole or dropped): the stream's next message gets its
    /// finish time, or the stream leaves the active set.
    fn next_message(&mut self, si: usize) {
        let vtime = self.vtime;
        let Some(s) = self.streams.get_mut(si) else { return };
        if s.queue.pop_front().is_some() {
            self.queued = self.queued.saturating_sub(1);
        }
        let id = s.id;
        match s.queue.front() {
            Some(m) => s.finish = vtime.saturating_add(cost(m.data.len(), s.priority)),
            None => self.deactivate(id),
        }
        if self.current == Some(id) {
            self.current = None;
        }
    }

    /// The active stream whose front message finishes first in virtual time, after dropping messages whose
    /// lifetime passed before any fragment was sent.
    fn pick(&mut self, now: Instant) -> Option<u16> {
        loop {
            let mut best: Option<(u64, u16)> = None;
            for &id in &self.active {
                let f = self.stream(id).map_or(u64::MAX, |s| s.finish);
                if best.is_none_or(|(bf, _)| f < bf) {
                    best = Some((f, id));
                }
            }
            let (_, id) = best?;
            let Ok(si) = self.find(id) else {
                self.deactivate(id);
                continue;
            };
            let expired =
                self.streams.get(si).and_then(|s| s.queue.front()).map(|m| {
                    (m.offset == 0 && m.expires.is_some_and(|e| e <= now)).then_some((m.data.len(), m.counted))
                });
            match expired {
                None => self.deactivate(id), // Nothing queued after all.
                Some(Some((len, counted))) => {
                    self.release(id, len, counted);
                    self.abandoned += 1;
                    self.next_message(si);
                }
                Some(None) => return Some(id),
            }
        }
    }

    /// Called when the association is established: drops messages queued before on streams beyond the
    /// negotiated count, and without PR-SCTP at the peer makes every queued message reliable.
    pub(crate) fn on_established(&mut self, outbound: u16, pr_sctp: bool) {
        let mut dropped = Vec::new();
        for s in &mut self.streams {
            if s.id >= outbound {
                let n = s.queue.len();
                if n > 0 {
                    let (mut counted, mut uncounted) = (0, 0);
                    for m in &s.queue {
                        *(if m.counted { &mut counted } else { &mut uncounted }) += m.data.len() - m.offset;
                    }
                    dropped.push((s.id, counted, uncounted, n));
                }
                s.queue.clear();
            } else if !pr_sctp {
                for m in &mut s.queue {
                    m.max_rtx = None;
                    m.expires = None;
                }
            }
        }
        for (id, counted, uncounted, n) in dropped {
            self.release(id, counted, true);
            self.release(id, uncounted, false);
            self.queued = self.queued.saturating_sub(n);
            self.abandoned += n as u64;
            self.deactivate(id);
        }
    }

    /// Bytes of `stream` leave the buffered count (and the stream's, if they were `counted` there).
    fn release(&mut self, stream: u16, len: usize, counted: bool) {
        self.buffered = self.buffered.saturating_sub(len);
        if !counted {
            return;
        }
        if let Ok(i) = self.find(stream) {
            if let Some(s) = self.streams.get_mut(i) {
                s.buffered = s.buffered.saturating_sub(len);
            }
        }
    }

    /// Gives back the memory of the sent list and of the streams' queues when nothing is queued or in
    /// flight (an idle association); a busy one keeps them, so sending allocates nothing.
    pub(crate) fn trim(&mut self) {
        if !self.idle() {
            return;
        }
        self.sent = VecDeque::new();
        self.active = Vec::new();
        for s in &mut self.streams {
            s.queue = VecDeque::new();
        }
        self.streams.shrink_to_fit();
    }

    /// Whether every queued byte has been acknowledged.
    pub(crate) fn idle(&self) -> bool {
        self.active.is_empty() && self.sent.is_empty()
    }

    /// Whether some fragment is outstanding (T3-rtx should run).
    pub(crate) fn outstanding(&self) -> bool {
        self.flight > 0 || self.to_retransmit > 0 || self.sent.front().is_some_and(|s| s.status == Status::Abandoned)
    }

    /// The cumulative ack carried by a SHUTDOWN chunk (RFC 9260 §9.2): acknowledges up to `cum`.
    pub(crate) fn ack_cumulative(&mut self, cum: u32) {
        if !tsn_lt(cum, self.next_tsn) {
            return;
        }
        while let Some(front) = self.sent.front() {
            if !tsn_le(front.tsn, cum) {
                break;
            }
            let Some(s) = self.sent.pop_front() else { break };
            match s.status {
                Status::InFlight => self.flight = self.flight.saturating_sub(s.data.len()),
                Status::Retransmit => self.to_retransmit = self.to_retransmit.saturating_sub(1),
                _ => {}
            }
            if matches!(s.status, Status::InFlight | Status::Retransmit) {
                self.release(s.stream, s.data.len(), s.counted);
            }
        }
        if tsn_lt(self.cum_acked, cum) {
            self.cum_acked = cum;
        }
    }

    /// Whether a pending message of `stream` still has unsent bytes.
    pub(crate) fn has_unsent(&self, stream: u16) -> bool {
        self.stream(stream).is_some_and(|s| !s.queue.is_empty())
    }

    /// The largest fragment payload that fits one packet alone.
    pub(crate) fn max_fragment(&self) -> usize {
        self.mtu.saturating_sub(12 + 16).max(16)
    }

    /// Cuts the next fragment if cwnd and the peer's window allow, assigning it a TSN. `room` is the space
    /// left in the packet being built; `alone` says the packet holds no DATA yet. The stream is chosen by
    /// weighted fair queueing over messages (weights are stream priorities); a message once begun goes on.
    pub(crate) fn next_fragment(&mut self, now: Instant, room: usize, alone: bool) -> Option<usize> {
        if self.to_retransmit > 0 || self.flight >= self.cwnd {
            return None;
        }
        let id = match self.current {
            Some(id) => id,
            None => self.pick(now)?,
        };
        let max_frag = self.max_fragment();
        let (peer_rwnd, flight, vtime) = (self.peer_rwnd, self.flight, self.vtime);
        let Ok(si) = self.find(id) else {
            self.deactivate(id);
            return None;
        };
        let s = self.streams.get_mut(si)?;
        let finish = s.finish;
        let Some(msg) = s.queue.front_mut() else {
            self.deactivate(id);
            return None;
        };
        let left = msg.data.len() - msg.offset;
        let size = left.min(max_frag);
        if size + 16 > room {
            return None;
        }
        // §6.1 rule A: respect the peer's window, but allow one probe when nothing is in flight.
        if size > peer_rwnd && !(flight == 0 && alone) {
            return None;
        }
        let mut flags = 0;
        if msg.offset == 0 {
            flags |= DataFlags::BEGIN;
            self.vtime = vtime.max(finish);
        }
        if size == left {
            flags |= DataFlags::END;
        }
        if msg.unordered {
            flags |= DataFlags::UNORDERED;
        }
        let data = msg.data.slice(msg.offset..msg.offset + size);
        msg.offset += size;
        let sent = Sent {
            tsn: self.next_tsn,
            stream: id,
            ssn: msg.ssn,
            ppid: msg.ppid,
            flags,
            data,
            sent_at: now,
            transmissions: 1,
            status: Status::InFlight,
            misses: 0,
            fast_retransmitted: false,
            max_rtx: msg.max_rtx,
            expires: msg.expires,
            counted: msg.counted,
        };
        if msg.offset == msg.data.len() {
            self.next_message(si);
        } else {
            self.current = Some(id);
        }
        self.next_tsn = self.next_tsn.wrapping_add(1);
        self.flight += size;
        self.peer_rwnd = self.peer_rwnd.saturating_sub(size);
        if self.rtt_probe.is_none() {
            self.rtt_probe = Some((sent.tsn, now));
        }
        if let Some(e) = sent.expires {
            self.next_expiry = Some(self.next_expiry.map_or(e, |n| n.min(e)));
        }
        self.sent.push_back(sent);
        Some(self.sent.len() - 1)
    }

    /// The index of the next fragment to retransmit that fits `room`, if cwnd allows (or a fast
    /// retransmit is due). Marks it in flight again. Abandons instead when its PR-SCTP policy says so.
    pub(crate) fn next_retransmit(&mut self, now: Instant, room: usize) -> Option<usize> {
        loop {
            if self.to_retransmit == 0 || (self.flight >= self.cwnd && !self.fast_rtx_due) {
                return None;
            }
            let idx = self.sent.iter().position(|s| s.status == Status::Retransmit)?;
            let s = self.sent.get(idx)?;
            let expired = s.expires.is_some_and(|e| e <= now) || s.max_rtx.is_some_and(|m| s.transmissions > m);
            if expired {
                self.abandon_message(idx);
                continue;
            }
            if s.data.len() + 16 > room {
                return None;
            }
            let s = self.sent.get_mut(idx)?;
            s.status = Status::InFlight;
            s.transmissions += 1;
            s.sent_at = now;
            s.misses = 0;
            let (len, tsn) = (s.data.len(), s.tsn);
            self.to_retransmit -= 1;
            self.flight += len;
            self.peer_rwnd = self.peer_rwnd.saturating_sub(len);
            self.retransmissions += 1;
            // Karn's rule: a retransmitted TSN gives no RTT sample.
            if self.rtt_probe.is_some_and(|(t, _)| tsn_le(t, tsn)) {
                self.rtt_probe = None;
            }
            return Some(idx);
        }
    }

    /// Abandons the whole message the fragment at `idx` belongs to (RFC 3758 §3.5 A3), including its unsent
    /// remainder.
    pub(crate) fn abandon_message(&mut self, idx: usize) {
        let Some(s) = self.sent.get(idx) else { return };
        let (stream, ssn, unordered, counted) = (s.stream, s.ssn, s.flags & DataFlags::UNORDERED != 0, s.counted);
        // Walk back to the first fragment, then forward to the last.
        let mut first = idx;
        while first > 0 {
            let Some(c) = self.sent.get(first) else { break };
            if c.flags & DataFlags::BEGIN != 0 {
                break;
            }
            first -= 1;
        }
        let mut i = first;
        let mut ended = false;
        let mut released = 0usize;
        while let Some(c) = self.sent.get_mut(i) {
            if c.stream != stream || c.ssn != ssn || (c.flags & DataFlags::UNORDERED != 0) != unordered {
                break;
            }
            match c.status {
                Status::InFlight => self.flight = self.flight.saturating_sub(c.data.len()),
                Status::Retransmit => self.to_retransmit = self.to_retransmit.saturating_sub(1),
                _ => {}
            }
            if c.status != Status::Abandoned && c.status != Status::GapAcked {
                c.status = Status::Abandoned;
                released += c.data.len();
            }
            ended = c.flags & DataFlags::END != 0;
            i += 1;
            if ended {
                break;
            }
        }
        // Abandoned bytes leave the buffered count at once (they will never be delivered).
        self.release(stream, released, counted);
        if !ended && self.current == Some(stream) {
            // The rest of the message was never sent: drop it from the queue.
            if let Ok(si) = self.find(stream) {
                let rest = self.streams.get(si).and_then(|s| s.queue.front()).and_then(|m| {
                    (m.offset > 0 && m.ssn == ssn && m.unordered == unordered).then(|| m.data.len() - m.offset)
                });
                if let Some(rest) = rest {
                    // Bytes already cut were released fragment by fragment; release the remainder.
                    self.release(stream, rest, counted);
                    self.next_message(si);
                }
            }
        }
        self.abandoned += 1;
        self.forward_tsn_due = true;
    }

    /// The Advanced.Peer.Ack.Point (RFC 3758 §3.5 C1–C2) and the ordered `(stream, ssn)` pairs skipped.
    pub(crate) fn advanced_ack_point(&self, streams: &mut Vec<(u16, u16)>) -> u32 {
        streams.clear();
        let mut point = self.cum_acked;
        for s in &self.sent {
            if s.status != Status::Abandoned {
                break;
            }
            point = s.tsn;
            if s.flags & DataFlags::UNORDERED == 0 {
                if let Some(entry) = streams.iter_mut().find(|(st, _)| *st == s.stream) {
                    entry.1 = s.ssn;
                } else if streams.len() < 64 {
                    streams.push((s.stream, s.ssn));
                }
            }
        }
        point
    }

    /// Processes a SACK (RFC 9260 §6.2.1, §7.2).
    pub(crate) fn on_sack(&mut self, now: Instant, sack: &SackChunk<'_>) -> SackOutcome {
        let mut out = SackOutcome::default();
        let cum = sack.cumulative_tsn;
        if tsn_lt(cum, self.cum_acked) {
            return out; // An old, reordered SACK.
        }
        if !tsn_lt(cum, self.next_tsn) {
            out.invalid = true;
            return out;
        }
        let flight_before = self.flight;
        let mut bytes_acked = 0usize;
        let mut cum_bytes = 0usize;
        // Cumulative part.
        while let Some(front) = self.sent.front() {
            if !tsn_le(front.tsn, cum) {
                break;
            }
            let Some(s) = self.sent.pop_front() else { break };
            let len = s.data.len();
            match s.status {
                Status::InFlight => {
                    self.flight = self.flight.saturating_sub(len);
                    bytes_acked += len;
                    cum_bytes += len;
                }
                Status::Retransmit => {
                    self.to_retransmit = self.to_retransmit.saturating_sub(1);
                    bytes_acked += len;
                    cum_bytes += len;
                }
                Status::GapAcked | Status::Abandoned => {}
            }
            if matches!(s.status, Status::InFlight | Status::Retransmit) {
                self.release(s.stream, len, s.counted);
            }
            out.advanced = true;
        }
        if tsn_lt(self.cum_acked, cum) {
            self.cum_acked = cum;
        }
        if let Some((t, at)) = self.rtt_probe {
            if tsn_le(t, cum) {
                out.rtt = Some(now.saturating_duration_since(at));
                self.rtt_probe = None;
            }
        }
        // Gap blocks: ascending and non-overlapping, else the rest are ignored (absurd blocks cost nothing).
        let mut highest_acked = cum;
        let mut prev_end: u32 = 0;
        for (start, end) in sack.gap_blocks() {
            if start == 0 || end < start || u32::from(start) <= prev_end {
                break;
            }
            prev_end = u32::from(end);
            let first = cum.wrapping_add(u32::from(start));
            let last = cum.wrapping_add(u32::from(end));
            if !tsn_lt(last, self.next_tsn) {
                out.invalid = true;
                break;
            }
            let base = usize::from(start) - 1;
            for i in base..=usize::from(end) - 1 {
                let Some(s) = self.sent.get_mut(i) else { break };
                match s.status {
                    Status::InFlight => {
                        self.flight = self.flight.saturating_sub(s.data.len());
                        bytes_acked += s.data.len();
                    }
                    Status::Retransmit => {
                        self.to_retransmit = self.to_retransmit.saturating_sub(1);
                        bytes_acked += s.data.len();
                    }
                    Status::GapAcked | Status::Abandoned => continue,
                }
                s.status = Status::GapAcked;
                let (st, len, counted) = (s.stream, s.data.len(), s.counted);
                self.release(st, len, counted);
            }
            let _ = first;
            highest_acked = last;
        }
        // Fast retransmit (§7.2.4): count a miss for every in-flight TSN below the highest acked.
        let mut newly_marked = false;
        if highest_acked != cum {
            let limit = highest_acked.wrapping_sub(cum) as usize;
            for s in self.sent.iter_mut().take(limit) {
                if s.status == Status::InFlight && !s.fast_retransmitted {
                    s.misses = s.misses.saturating_add(1);
                    if s.misses >= 3 {
                        s.status = Status::Retransmit;
                        s.fast_retransmitted = true;
                        self.flight = self.flight.saturating_sub(s.data.len());
                        self.to_retransmit += 1;
                        self.fast_retransmits += 1;
                        newly_marked = true;
                    }
                }
            }
        }
        // Leave fast recovery once the cumulative ack reaches its exit point.
        if let Some(exit) = self.recovery_exit {
            if tsn_le(exit, self.cum_acked) {
                self.recovery_exit = None;
            }
        }
        // Congestion window (§7.2.1, §7.2.2), only on cumulative progress and outside fast recovery.
        if cum_bytes > 0 && self.recovery_exit.is_none() {
            if self.cwnd <= self.ssthresh {
                if flight_before + self.mtu >= self.cwnd {
                    self.cwnd += cum_bytes.min(self.mtu);
                }
            } else {
                self.partial_bytes_acked += cum_bytes;
                if self.partial_bytes_acked >= self.cwnd && flight_before + self.mtu >= self.cwnd {
                    self.partial_bytes_acked -= self.cwnd;
                    self.cwnd += self.mtu;
                }
            }
        }
        if newly_marked {
            if self.recovery_exit.is_none() {
                self.ssthresh = (self.cwnd / 2).max(4 * self.mtu);
                self.cwnd = self.ssthresh;
                self.partial_bytes_acked = 0;
                self.recovery_exit = Some(self.next_tsn.wrapping_sub(1));
            }
            self.fast_rtx_due = true;
        }
        let _ = bytes_acked;
        // §6.2.1 D: rwnd = a_rwnd minus bytes still outstanding.
        self.peer_rwnd = (sack.a_rwnd as usize).saturating_sub(self.flight);
        // PR-SCTP: abandon expired fragments still waiting (§3.5 A2), then see if a FORWARD-TSN is due.
        self.abandon_expired(now);
        if self.sent.front().is_some_and(|s| s.status == Status::Abandoned) {
            self.forward_tsn_due = true;
        }
        out
    }

    /// Abandons every unacknowledged fragment whose lifetime has passed.
    pub(crate) fn abandon_expired(&mut self, now: Instant) {
        if self.next_expiry.is_none_or(|e| e > now) {
            return;
        }
        let mut i = 0;
        let mut next = None::<Instant>;
        while i < self.sent.len() {
            let (live, expires) = self
                .sent
                .get(i)
                .map_or((false, None), |s| (matches!(s.status, Status::InFlight | Status::Retransmit), s.expires));
            match expires {
                Some(e) if live && e <= now => self.abandon_message(i),
                Some(e) if live => next = Some(next.map_or(e, |n| n.min(e))),
                _ => {}
            }
            i += 1;
        }
        self.next_expiry = next;
    }

    /// T3-rtx expiry (§6.3.3): collapse cwnd and mark everything in flight for retransmission.
    pub(crate) fn on_t3_expiry(&mut self, now: Instant) {
        self.ssthresh = (self.cwnd / 2).max(4 * self.mtu);
        self.cwnd = self.mtu;
        self.partial_bytes_acked = 0;
        self.recovery_exit = None;
        self.rtt_probe = None;
        for s in self.sent.iter_mut() {
            if s.status == Status::InFlight {
                s.status = Status::Retransmit;
                self.to_retransmit += 1;
            }
        }
        self.flight = 0;
        // Fragments beyond their retransmission budget are abandoned now rather than resent.
        let mut i = 0;
        while i < self.sent.len() {
            let over = self.sent.get(i).is_some_and(|s| {
                s.status == Status::Retransmit
                    && (s.max_rtx.is_some_and(|m| s.transmissions > m) || s.expires.is_some_and(|e| e <= now))
            });
            if over {
                self.abandon_message(i);
            }
            i += 1;
        }
        if self.sent.front().is_some_and(|s| s.status == Status::Abandoned) {
            self.forward_tsn_due = true;
        }
    }
}

fn initial_cwnd(mtu: usize) -> usize {
    // §7.2.1: min(4*MTU, max(2*MTU, 4380)).
    (4 * mtu).min((2 * mtu).max(4380))
}
