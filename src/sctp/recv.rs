//! The receiving half: the TSN window, reassembly, in-order delivery, unordered delivery without
//! head-of-line blocking, SACK contents (RFC 9260 §6.2, §6.7) and FORWARD-TSN (RFC 3758 §3.6).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use bytes::Bytes;

use super::Message;
use super::wire::{DataChunk, DataFlags};

/// How far past the cumulative TSN a DATA chunk may be (gap-block offsets are 16-bit).
pub(crate) const WINDOW: u64 = 1 << 16;
/// Duplicate TSNs remembered for the next SACK.
const MAX_DUPS: usize = 16;

/// A chunk that arrived ahead of the cumulative TSN.
#[derive(Debug)]
struct Stored {
    flags: DataFlags,
    stream: u16,
    ssn: u16,
    ppid: u32,
    data: Bytes,
}

#[derive(Debug)]
struct Assembly {
    stream: u16,
    ssn: u16,
    ppid: u32,
    unordered: bool,
    buf: Vec<u8>,
}

/// What happened to one DATA chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Accept {
    /// New data, taken.
    New,
    /// Already had it.
    Duplicate,
    /// Beyond the window or over the memory bound: dropped (the sender will retransmit).
    Dropped,
}

#[derive(Debug)]
pub(crate) struct RecvState {
    /// Cumulative TSN, unwrapped to 64 bits.
    cum: u64,
    highest: u64,
    /// Received TSNs past `cum`, as a ring indexed by TSN modulo its size in bits. It starts empty and
    /// doubles when a TSN arrives further ahead than it reaches (up to [`WINDOW`] bits, 8 KiB), so an
    /// association that never sees much reordering keeps it small.
    bits: Vec<u64>,
    ooo: BTreeMap<u64, Stored>,
    assembling: Option<Assembly>,
    /// Next SSN to deliver on each stream (ordered messages).
    expected: Vec<u16>,
    /// First TSN of each ordered message whose first fragment is held out of order, by (stream, SSN).
    heads: BTreeMap<(u16, u16), u64>,
    /// Bytes held (out of order, assembling, or delivered but not yet polled).
    pub(crate) held: usize,
    pub(crate) window: usize,
    pub(crate) max_message: usize,
    dups: Vec<u32>,
    /// Messages discarded (orphan fragments, oversize, abandoned by FORWARD-TSN).
    pub(crate) discarded: u64,
    /// Words of the ring read by [`RecvState::scan`] (the work of building SACKs), for tests.
    #[cfg(test)]
    pub(crate) words_scanned: core::cell::Cell<u64>,
}

impl RecvState {
    pub(crate) fn new(window: usize, max_message: usize) -> Self {
        RecvState {
            cum: 0,
            highest: 0,
            bits: Vec::new(),
            ooo: BTreeMap::new(),
            assembling: None,
            expected: Vec::new(),
            heads: BTreeMap::new(),
            held: 0,
            window,
            max_message,
            dups: Vec::new(),
            discarded: 0,
            #[cfg(test)]
            words_scanned: core::cell::Cell::new(0),
        }
    }

    /// Starts at the peer's initial TSN.
    pub(crate) fn start(&mut self, peer_initial_tsn: u32) {
        self.cum = u64::from(peer_initial_tsn.wrapping_sub(1)) + (1 << 32);
        self.highest = self.cum;
        self.bits.clear();
        self.ooo.clear();
        self.assembling = None;
        self.expected.clear();
        self.heads.clear();
    }

    /// The cumulative TSN as sent in SACKs.
    pub(crate) fn cumulative_tsn(&self) -> u32 {
        self.cum as u32
    }

    /// Our advertised receive window.
    pub(crate) fn a_rwnd(&self) -> u32 {
        u32::try_from(self.window.saturating_sub(self.held)).unwrap_or(u32::MAX)
    }

    fn unwrap(&self, tsn: u32) -> u64 {
        let delta = tsn.wrapping_sub(self.cum as u32) as i32;
        self.cum.wrapping_add_signed(i64::from(delta))
    }

    /// Bits in the ring.
    fn ring(&self) -> u64 {
        self.bits.len() as u64 * 64
    }

    /// Whether TSN `t` (past `cum`) was received.
    fn bit(&self, t: u64) -> bool {
        let ring = self.ring();
        if t <= self.cum || t - self.cum >= ring {
            return false;
        }
        let i = (t % ring) as usize;
        self.bits.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Marks TSN `t` received (`t` past `cum` and within [`WINDOW`] of it) or clears its bit.
    fn set_bit(&mut self, t: u64, on: bool) {
        if on && t.saturating_sub(self.cum) >= self.ring() {
            self.grow(t - self.cum + 1);
        }
        let ring = self.ring();
        if ring == 0 {
            return;
        }
        let i = (t % ring) as usize;
        if let Some(w) = self.bits.get_mut(i / 64) {
            if on {
                *w |= 1 << (i % 64);
            } else {
                *w &= !(1 << (i % 64));
            }
        }
    }

    /// The first TSN in `from..=to` (all past `cum` and below `cum` + ring) whose bit is `set`, or `to + 1`
    /// when there is none. Reads the ring a word at a time: at most `(to - from) / 64 + 2` words, whatever
    /// the bits.
    fn scan(&self, from: u64, to: u64, set: bool) -> u64 {
        let ring = self.ring();
        if ring == 0 {
            return if set { to + 1 } else { from };
        }
        let mut t = from;
        while t <= to {
            #[cfg(test)]
            self.words_scanned.set(self.words_scanned.get() + 1);
            // `ring` is a multiple of 64, so the bits of one word are consecutive TSNs.
            let i = (t % ring) as usize;
            let word = self.bits.get(i / 64).copied().unwrap_or(0);
            let word = if set { word } else { !word } >> (i % 64);
            if word != 0 {
                return (t + u64::from(word.trailing_zeros())).min(to + 1);
            }
            t += 64 - (i % 64) as u64;
        }
        to + 1
    }

    /// Makes the ring reach `span` TSNs past `cum`, moving the bits already set (all within
    /// `(cum, highest]`) to their places in the larger ring.
    fn grow(&mut self, span: u64) {
        let size = span.next_power_of_two().clamp(64, WINDOW);
        let mut bits = alloc::vec![0u64; (size / 64) as usize];
        let mut t = self.cum + 1;
        while t <= self.highest {
            t = self.scan(t, self.highest, true);
            if t > self.highest {
                break;
            }
            let i = (t % size) as usize;
            if let Some(w) = bits.get_mut(i / 64) {
                *w |= 1 << (i % 64);
            }
            t += 1;
        }
        self.bits = bits;
    }

    /// Whether there are holes (out-of-order data), which makes a SACK urgent.
    pub(crate) fn has_gaps(&self) -> bool {
        self.highest > self.cum
    }

    /// Takes one DATA chunk, delivering whatever completes into `deliver`.
    pub(crate) fn on_data(&mut self, chunk: &DataChunk<'_>, deliver: &mut impl FnMut(Message)) -> Accept {
        let t = self.unwrap(chunk.tsn);
        if t <= self.cum || (t < self.cum + WINDOW && self.bit(t)) {
            if self.dups.len() < MAX_DUPS {
                self.dups.push(chunk.tsn);
            }
            return Accept::Duplicate;
        }
        if t >= self.cum + WINDOW {
            return Accept::Dropped;
        }
        let len = chunk.payload.len();
        // Memory bound. A chunk past a hole must fit the window. The chunk at cum+1 is new data when nothing
        // is held past it, taken while the window is not yet overshot (it may overshoot by itself only);
        // when it fills a hole, it is taken up to twice the window: the sender counted it against the window
        // when it first sent it, and what is held past the hole (and a message assembled across it) leaves
        // only once the hole closes, so refusing it would stall the association for good.
        let fits = if t != self.cum + 1 {
            self.held + len <= self.window
        } else if t < self.highest {
            self.held + len <= self.window.saturating_mul(2)
        } else {
            self.held <= self.window
        };
        if !fits {
            return Accept::Dropped;
        }
        self.set_bit(t, true);
        self.highest = self.highest.max(t);
        if t == self.cum + 1 {
            self.cum = t;
            self.set_bit(t, false);
            self.in_order(chunk.flags, chunk.stream, chunk.ssn, chunk.ppid, chunk.payload, deliver);
            self.advance(deliver);
        } else {
            self.held += len;
            let stored = Stored {
                flags: chunk.flags,
                stream: chunk.stream,
                ssn: chunk.ssn,
                ppid: chunk.ppid,
                data: Bytes::copy_from_slice(chunk.payload),
            };
            self.ooo.insert(t, stored);
            if chunk.flags.unordered() {
                self.try_unordered(t, deliver);
            } else {
                if chunk.flags.begin() {
                    self.heads.insert((chunk.stream, chunk.ssn), t);
                }
                self.release(chunk.stream, deliver);
            }
        }
        Accept::New
    }

    /// Advances the cumulative TSN over chunks already received.
    fn advance(&mut self, deliver: &mut impl FnMut(Message)) {
        while self.cum < self.highest && self.bit(self.cum + 1) {
            self.cum += 1;
            let t = self.cum;
            self.set_bit(t, false);
            match self.take(t) {
                Some(s) => {
                    self.held = self.held.saturating_sub(s.data.len());
                    self.in_order(s.flags, s.stream, s.ssn, s.ppid, &s.data, deliver);
                }
                // Delivered early as part of an unordered message: nothing may be half-assembled here.
                None => self.drop_assembly(),
            }
        }
    }

    fn drop_assembly(&mut self) {
        if let Some(a) = self.assembling.take() {
            self.held = self.held.saturating_sub(a.buf.len());
            self.discarded += 1;
        }
    }

    /// Removes a stored chunk, forgetting it as a message head.
    /// The last TSN and total size of the message whose first fragment is `first`, when every fragment up to
    /// its end is held and each belongs to the same message (`same`); `None` while it is incomplete or when it
    /// exceeds the maximum message size.
    fn complete(&self, first: u64, same: impl Fn(&Stored) -> bool) -> Option<(u64, usize)> {
        let mut last = first;
        let mut total = 0usize;
        loop {
            let s = self.ooo.get(&last)?;
            if !same(s) || (last != first && s.flags.begin()) {
                return None;
            }
            total += s.data.len();
            if s.flags.end() {
                break;
            }
            last += 1;
        }
        (total <= self.max_message).then_some((last, total))
    }

    /// Removes the fragments `first..=last` of a complete message and joins their payloads (a single
    /// fragment is handed on without a copy). Returns the PPID and the message.
    fn take_message(&mut self, first: u64, last: u64, total: usize) -> Option<(u32, Bytes)> {
        let mut ppid = 0;
        let data = if first == last {
            let s = self.take(first)?;
            ppid = s.ppid;
            s.data
        } else {
            let mut buf = Vec::with_capacity(total);
            for k in first..=last {
                if let Some(s) = self.take(k) {
                    ppid = s.ppid;
                    buf.extend_from_slice(&s.data);
                }
            }
            Bytes::from(buf)
        };
        self.held = self.held.saturating_sub(total);
        Some((ppid, data))
    }

    fn take(&mut self, t: u64) -> Option<Stored> {
        let s = self.ooo.remove(&t)?;
        if s.flags.begin() && !s.flags.unordered() && self.heads.get(&(s.stream, s.ssn)) == Some(&t) {
            self.heads.remove(&(s.stream, s.ssn));
        }
        Some(s)
    }

    fn expected(&self, stream: u16) -> u16 {
        self.expected.get(usize::from(stream)).copied().unwrap_or(0)
    }

    fn set_expected(&mut self, stream: u16, ssn: u16) {
        let i = usize::from(stream);
        if self.expected.len() <= i {
            self.expected.resize(i + 1, 0);
        }
        if let Some(e) = self.expected.get_mut(i) {
            *e = ssn;
        }
    }

    /// Delivers, ahead of the cumulative TSN, every complete ordered message held for `stream` whose SSN is
    /// the next one due: ordered streams do not wait for holes on other streams.
    fn release(&mut self, stream: u16, deliver: &mut impl FnMut(Message)) {
        loop {
            let ssn = self.expected(stream);
            let Some(&first) = self.heads.get(&(stream, ssn)) else { return };
            let same = |s: &Stored| s.stream == stream && s.ssn == ssn && !s.flags.unordered();
            let Some((last, total)) = self.complete(first, same) else { return };
            let Some((ppid, data)) = self.take_message(first, last, total) else { return };
            self.set_expected(stream, ssn.wrapping_add(1));
            self.emit(stream, ppid, false, data, deliver);
        }
    }

    /// The peer reset its outgoing `stream` (RFC 6525): its sequence numbers restart at zero.
    pub(crate) fn reset_stream(&mut self, stream: u16, deliver: &mut impl FnMut(Message)) {
        self.set_expected(stream, 0);
        self.release(stream, deliver);
    }

    fn in_order(
        &mut self,
        flags: DataFlags,
        stream: u16,
        ssn: u16,
        ppid: u32,
        payload: &[u8],
        deliver: &mut impl FnMut(Message),
    ) {
        let unordered = flags.unordered();
        if flags.begin() {
            self.drop_assembly();
            if flags.end() {
                self.emit(stream, ppid, unordered, Bytes::copy_from_slice(payload), deliver);
                if !unordered {
                    self.delivered_in_order(stream, ssn, deliver);
                }
                return;
            }
            let mut buf = Vec::with_capacity((payload.len() * 4).min(self.max_message));
            buf.extend_from_slice(payload);
            self.held += payload.len();
            self.assembling = Some(Assembly { stream, ssn, ppid, unordered, buf });
            return;
        }
        let Some(a) = self.assembling.as_mut() else {
            self.discarded += 1; // A fragment of a message abandoned or malformed.
            return;
        };
        if a.stream != stream || a.buf.len() + payload.len() > self.max_message {
            self.drop_assembly();
            return;
        }
        a.buf.extend_from_slice(payload);
        self.held += payload.len();
        if flags.end() {
            if let Some(a) = self.assembling.take() {
                self.held = self.held.saturating_sub(a.buf.len());
                let (stream, ssn, unordered) = (a.stream, a.ssn, a.unordered);
                self.emit(stream, a.ppid, unordered, Bytes::from(a.buf), deliver);
                if !unordered {
                    self.delivered_in_order(stream, ssn, deliver);
                }
            }
        }
    }

    /// An ordered message went out in TSN order (the authority on order): later ones of its stream held
    /// ahead may follow.
    fn delivered_in_order(&mut self, stream: u16, ssn: u16, deliver: &mut impl FnMut(Message)) {
        self.set_expected(stream, ssn.wrapping_add(1));
        self.release(stream, deliver);
    }

    fn emit(&mut self, stream: u16, ppid: u32, unordered: bool, data: Bytes, deliver: &mut impl FnMut(Message)) {
        // Delivered bytes stay counted until the application polls them (back-pressure on the window).
        self.held += data.len();
        deliver(Message { stream, ppid, unordered, data });
    }

    /// Delivers an unordered message held out of order as soon as all its fragments are in.
    fn try_unordered(&mut self, t: u64, deliver: &mut impl FnMut(Message)) {
        let Some(s) = self.ooo.get(&t) else { return };
        let stream = s.stream;
        let matches = |s: &Stored| s.stream == stream && s.flags.unordered();
        // Find the first fragment.
        let mut first = t;
        loop {
            let Some(s) = self.ooo.get(&first) else { return };
            if !matches(s) {
                return;
            }
            if s.flags.begin() {
                break;
            }
            first -= 1;
        }
        let Some((last, total)) = self.complete(first, matches) else { return };
        let Some((ppid, data)) = self.take_message(first, last, total) else { return };
        self.emit(stream, ppid, true, data, deliver);
    }

    /// FORWARD-TSN (RFC 3758 §3.6): moves the cumulative TSN to `new_cum`, delivering complete messages below
    /// it and discarding abandoned fragments. Returns false when it was old news.
    pub(crate) fn on_forward_tsn(
        &mut self,
        new_cum: u32,
        skipped: impl Iterator<Item = (u16, u16)>,
        deliver: &mut impl FnMut(Message),
    ) -> bool {
        let target = self.unwrap(new_cum);
        if target <= self.cum {
            return false;
        }
        // Walk the stored chunks up to the target in order; a hole breaks any message in progress.
        let mut last = self.cum;
        while let Some((&k, _)) = self.ooo.first_key_value() {
            if k > target {
                break;
            }
            let Some(s) = self.take(k) else { break };
            self.held = self.held.saturating_sub(s.data.len());
            if k != last + 1 {
                self.drop_assembly();
            }
            last = k;
            self.in_order(s.flags, s.stream, s.ssn, s.ppid, &s.data, deliver);
        }
        if last != target {
            self.drop_assembly();
        }
        // Clear the received bits the jump passes over.
        if target - self.cum >= self.ring() {
            self.bits.iter_mut().for_each(|w| *w = 0);
        } else {
            for t in self.cum + 1..=target {
                self.set_bit(t, false);
            }
        }
        self.cum = target;
        self.highest = self.highest.max(target);
        // Ordered streams skip past their abandoned messages.
        for (stream, ssn) in skipped {
            let next = ssn.wrapping_add(1);
            if (next.wrapping_sub(self.expected(stream)) as i16) > 0 {
                self.set_expected(stream, next);
            }
            self.release(stream, deliver);
        }
        self.advance(deliver);
        true
    }

    /// A delivered message was polled by the application: its bytes leave the window.
    pub(crate) fn consumed(&mut self, len: usize) {
        self.held = self.held.saturating_sub(len);
    }

    /// Fills `gaps` with the gap-ack blocks from the lowest TSN up, at most `max` (what fits in the packet:
    /// RFC 9260 §6.2 and §6.7 leave the highest unreported when not all fit). The work is bounded by the
    /// window, not by what the peer sent: the ring is scanned a word at a time, at most 1,024 words for the
    /// 65,536-TSN window plus two per block.
    pub(crate) fn sack_blocks(&mut self, gaps: &mut Vec<(u16, u16)>, max: usize) {
        gaps.clear();
        let (cum, top) = (self.cum, self.highest);
        let mut t = cum + 1;
        while t <= top && gaps.len() < max {
            let start = self.scan(t, top, true);
            if start > top {
                break;
            }
            // The first missing TSN after the block (or one past the highest received).
            t = self.scan(start, top, false);
            // Offsets fit in 16 bits: everything held is within `WINDOW` of `cum`.
            gaps.push(((start - cum) as u16, (t - 1 - cum) as u16));
        }
    }

    /// Takes the duplicate TSNs collected since the last SACK.
    pub(crate) fn take_dups(&mut self, out: &mut Vec<u32>) {
        out.clear();
        out.append(&mut self.dups);
    }
}
