//! The video jitter buffer: RTP packets in, whole codec frames out.

use alloc::vec::Vec;
use core::time::Duration;

use super::{Arrival, EXT_BASE, Place, ResetProbe, TARGET, place, ring_size};
use crate::packetize::{Depacketizer, PayloadInfo};
use crate::rtp::Packet;
use crate::time::Instant;

/// What the buffer favours when a packet is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Emit only decodable frames, as soon as they are. A complete key frame behind a gap is emitted at
    /// once (the frames before it are dropped); a gap given up drops every frame up to the next key frame
    /// and asks for one ([`VideoEvent::KeyframeRequest`]).
    Latency,
    /// Wait for retransmissions up to the bound, then give the gap up and emit every frame anyway, marked:
    /// the frame with the hole as not complete (what the depacketizer made of the payloads left; a frame
    /// of which nothing is left is not emitted), the frames after it as not decodable until a key frame
    /// (for a decoder that conceals errors, or a recorder). A key frame is asked for as in `Latency`.
    Quality,
}

/// Configuration of a [`VideoBuffer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VideoConfig {
    /// See [`Mode`].
    pub mode: Mode,
    /// Packets held at most: the window of sequence numbers (rounded up to a power of two, 2..=32768). It
    /// must hold the largest frame with room to spare: a frame longer than the window never completes.
    pub max_packets: usize,
    /// Payload bytes held at most.
    pub max_bytes: usize,
    /// The longest a gap is waited for, whatever the round-trip time.
    pub max_hold: Duration,
    /// Added to the round-trip-based wait: the spread of network delay (see the module docs).
    pub margin: Duration,
    /// No packet is held longer than this after its arrival (a frame whose end never comes).
    pub max_age: Duration,
    /// The round-trip time assumed until [`VideoBuffer::set_rtt`] is called.
    pub initial_rtt: Duration,
    /// NACKs the caller's generator sends per missing packet (0: no retransmission is coming).
    pub nack_retries: u8,
    /// How far ahead of the window a sequence number still moves the window (dropping the oldest packets);
    /// farther is out of window.
    pub max_jump: u16,
    /// Consecutive out-of-window packets, each 1 to 16 after the previous, taken for a restarted stream.
    pub reset_after: u8,
    /// While frames are not decodable, a key frame is asked for again after this long.
    pub keyframe_retry: Duration,
}

impl VideoConfig {
    /// The defaults in the given mode: 512 packets, 4 MiB, `max_hold` 1 s, `margin` 20 ms, `max_age` 3 s,
    /// initial RTT 100 ms, 3 NACK retries, `max_jump` 3000, `reset_after` 4, key frame retry 500 ms.
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            max_packets: 512,
            max_bytes: 4 << 20,
            max_hold: Duration::from_secs(1),
            margin: Duration::from_millis(20),
            max_age: Duration::from_secs(3),
            initial_rtt: Duration::from_millis(100),
            nack_retries: 3,
            max_jump: 3000,
            reset_after: 4,
            keyframe_retry: Duration::from_millis(500),
        }
    }
}

impl Default for VideoConfig {
    fn default() -> Self {
        Self::new(Mode::Latency)
    }
}

/// One assembled frame, borrowing the buffer's reused frame buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The codec bitstream, as the depacketizer wrote it.
    pub data: &'a [u8],
    /// The RTP timestamp shared by its packets.
    pub timestamp: u32,
    /// Sequence number of its first packet.
    pub first_sequence: u16,
    /// Sequence number of its last packet (or of the last place before the next frame, if that was lost).
    pub last_sequence: u16,
    /// Its first payload says it decodes on its own.
    pub keyframe: bool,
    /// No packet is missing inside it, its start was seen and every payload parsed.
    pub complete: bool,
    /// Complete, and a key frame or following without a missing packet the previous frame emitted, which
    /// was decodable.
    pub decodable: bool,
}

/// What [`VideoBuffer::poll_event`] hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoEvent<'a> {
    /// A frame to decode.
    Frame(Frame<'a>),
    /// Frames can no longer be decoded: ask the sender for a key frame (PLI).
    KeyframeRequest,
}

/// Counters of a [`VideoBuffer`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VideoStats {
    /// Packets given to `handle_receive`.
    pub packets_received: u64,
    /// Packets whose sequence number was already held.
    pub duplicates: u64,
    /// Packets whose place was already emitted or given up.
    pub late: u64,
    /// Packets dropped for a limit (packets, bytes, age), out of window, or at a stream reset.
    pub dropped: u64,
    /// Missing packets given up after their deadline.
    pub gaps_given_up: u64,
    /// Frames handed out.
    pub frames_emitted: u64,
    /// Frames found incomplete (emitted or not).
    pub frames_incomplete: u64,
    /// Frames not handed out: not decodable in `Latency` mode, or nothing left of them after a loss.
    pub frames_dropped: u64,
    /// Key frame requests handed out.
    pub keyframe_requests: u64,
    /// Packets skipped over (with their frames) to reach a complete key frame behind a gap (`Latency`).
    pub skipped: u64,
    /// Payloads the depacketizer refused.
    pub depacketize_errors: u64,
    /// Stream restarts detected.
    pub resets: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Empty,
    /// Known missing since then (a later packet arrived).
    Missing(Instant),
    /// Given up.
    Lost,
    Present,
}

#[derive(Clone, Debug)]
struct Slot {
    ext: u64,
    state: State,
    timestamp: u32,
    marker: bool,
    arrival: Instant,
    data: Vec<u8>,
}

/// A frame found at the head, ready to assemble.
#[derive(Clone, Copy, Debug)]
struct Span {
    first: u64,
    last: u64,
    holes: bool,
    /// The frame's end was seen (its marker, or its last packet before another timestamp): the next place
    /// starts a frame. Not so when lost places lie between it and the next timestamp.
    clean_end: bool,
}

/// The video jitter buffer and frame assembler for one RTP stream, over a depacketizer `D`.
///
/// Packets are held in a ring indexed by extended sequence number and grouped into frames by timestamp:
/// a frame begins after the previous frame's last packet (or where the payload says so,
/// [`PayloadInfo::frame_start`]) and ends at the RTP marker (or before a packet with another timestamp).
/// Frames are depacketized in order, when [`VideoBuffer::poll_event`] is called, into one reused buffer;
/// nothing is allocated per packet once every slot has held a packet of the stream's size.
///
/// The loop: [`VideoBuffer::handle_receive`] each packet, [`VideoBuffer::handle_timeout`] once `now`
/// reaches [`VideoBuffer::poll_timeout`], [`VideoBuffer::poll_event`] until `None` after each, then wait
/// for the next packet or the timeout. Feed it [`VideoBuffer::set_rtt`] when the RTP session measures a
/// round trip. See the [module docs](super) for how long a gap is waited for and for the limits.
///
/// ```
/// use sansrtc::jitter::{Mode, VideoBuffer, VideoConfig, VideoEvent};
/// use sansrtc::packetize::{Packetizer, vp9::{Vp9Depacketizer, Vp9Packetizer}};
/// use sansrtc::Instant;
///
/// let mut buffer = VideoBuffer::new(VideoConfig::new(Mode::Latency), Vp9Depacketizer::new());
/// let mut packetizer = Vp9Packetizer::new(1);
/// let mut payloads = Vec::new();
/// // A VP9 key frame (the first byte's frame marker, version 0, key frame; then anything).
/// let frame = [0x82, 0x49, 0x83, 0x42, 0x00, 0x01, 0x40, 0x01, 0x40];
/// packetizer.packetize(&frame, 16, &mut |p| payloads.push((p.data.to_vec(), p.marker))).unwrap();
/// let now = Instant::from_millis(10);
/// for (i, (payload, marker)) in payloads.iter().enumerate() {
///     buffer.handle_receive_parts(now, 100 + i as u16, 9000, *marker, payload);
/// }
/// let Some(VideoEvent::Frame(f)) = buffer.poll_event() else { panic!() };
/// assert!(f.keyframe && f.complete && f.decodable);
/// assert_eq!((f.first_sequence, f.timestamp), (100, 9000));
/// ```
#[derive(Debug)]
pub struct VideoBuffer<D: Depacketizer> {
    config: VideoConfig,
    depacketizer: D,
    slots: Vec<Slot>,
    mask: u64,
    started: bool,
    /// Something was emitted or dropped from the head since the start: the head no longer moves back.
    consumed: bool,
    /// The oldest place held (extended sequence number).
    next: u64,
    /// One past the highest place seen.
    end: u64,
    /// The lowest `Missing` place at or after `next`, or `end`.
    cursor: u64,
    bytes: usize,
    held: usize,
    /// The place before `next` ended a frame (so `next` starts one).
    clean_start: bool,
    /// The place after the last payload given to the depacketizer (it has no partial state before it).
    depacketized_to: Option<u64>,
    /// Last place of the last frame emitted, if it was decodable.
    chain: Option<u64>,
    /// `Latency`: a complete key frame starts here, behind a gap.
    skip_to: Option<u64>,
    keyframe_pending: bool,
    last_keyframe_request: Option<Instant>,
    rtt: Duration,
    nack_retries: u8,
    now: Instant,
    probe: ResetProbe,
    frame: Vec<u8>,
    stats: VideoStats,
}

impl<D: Depacketizer> VideoBuffer<D> {
    /// An empty buffer. Allocates the ring's slot headers (not their payload buffers, which grow once).
    pub fn new(config: VideoConfig, depacketizer: D) -> Self {
        let size = ring_size(config.max_packets);
        let empty = Slot {
            ext: u64::MAX,
            state: State::Empty,
            timestamp: 0,
            marker: false,
            arrival: Instant::ZERO,
            data: Vec::new(),
        };
        Self {
            config,
            depacketizer,
            slots: alloc::vec![empty; size],
            mask: size as u64 - 1,
            started: false,
            consumed: false,
            next: EXT_BASE,
            end: EXT_BASE,
            cursor: EXT_BASE,
            bytes: 0,
            held: 0,
            clean_start: false,
            depacketized_to: None,
            chain: None,
            skip_to: None,
            keyframe_pending: false,
            last_keyframe_request: None,
            rtt: config.initial_rtt,
            nack_retries: config.nack_retries,
            now: Instant::ZERO,
            probe: ResetProbe::default(),
            frame: Vec::new(),
            stats: VideoStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &VideoConfig {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> VideoStats {
        self.stats
    }

    /// Packets held.
    pub fn len(&self) -> usize {
        self.held
    }

    /// No packet is held.
    pub fn is_empty(&self) -> bool {
        self.held == 0
    }

    /// Payload bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The window: the most packets held at once.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The round-trip time (from RTCP), which bounds how long a gap is waited for.
    pub fn set_rtt(&mut self, rtt: Duration) {
        self.rtt = rtt;
    }

    /// NACKs the caller's NACK generator sends per missing packet (0 when NACK is not negotiated).
    pub fn set_nack_retries(&mut self, retries: u8) {
        self.nack_retries = retries;
    }

    /// How long a gap is waited for now: `min(max_hold, (nack_retries + 1) × rtt + margin)`, or
    /// `min(max_hold, margin)` without NACK.
    pub fn hold(&self) -> Duration {
        let wait = match self.nack_retries {
            0 => self.config.margin,
            n => self.rtt.saturating_mul(u32::from(n) + 1).saturating_add(self.config.margin),
        };
        wait.min(self.config.max_hold)
    }

    /// The depacketizer.
    pub fn depacketizer(&self) -> &D {
        &self.depacketizer
    }

    fn slot(&self, ext: u64) -> &Slot {
        &self.slots[(ext & self.mask) as usize]
    }

    fn slot_mut(&mut self, ext: u64) -> &mut Slot {
        &mut self.slots[(ext & self.mask) as usize]
    }

    /// State of a place in `[next, end)` (anything else reads as `Empty`).
    fn state(&self, ext: u64) -> State {
        let s = self.slot(ext);
        if s.ext == ext && ext >= self.next && ext < self.end { s.state } else { State::Empty }
    }

    fn tick(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// Takes one parsed RTP packet of the stream (after SRTP and RTX restoration).
    pub fn handle_receive<T: AsRef<[u8]>>(&mut self, now: Instant, packet: &Packet<T>) -> Arrival {
        self.handle_receive_parts(now, packet.sequence_number(), packet.timestamp(), packet.marker(), packet.payload())
    }

    /// Takes one RTP packet as its fields: sequence number, timestamp, marker bit and payload.
    pub fn handle_receive_parts(
        &mut self,
        now: Instant,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Arrival {
        self.tick(now);
        let now = self.now;
        self.stats.packets_received += 1;
        if !self.started {
            self.started = true;
            self.next = EXT_BASE + u64::from(seq);
            self.end = self.next;
            self.cursor = self.next;
        }
        let cap = self.slots.len() as u64;
        let mut arrival = Arrival::Stored;
        let ext = match place(self.next, seq, cap, self.config.max_jump) {
            Place::Window(ext) => ext,
            Place::Ahead(ext) => {
                self.drop_head_to(ext + 1 - cap);
                ext
            }
            Place::Behind(ext) if !self.consumed && self.end - ext <= cap => {
                // Nothing has left the buffer yet: an earlier packet of the first frame, reordered.
                for e in ext + 1..self.next {
                    self.set_missing(e, now);
                }
                self.next = ext;
                self.cursor = ext + 1;
                self.advance_cursor();
                ext
            }
            Place::Behind(_) => {
                self.probe.clear();
                self.stats.late += 1;
                return Arrival::Late;
            }
            Place::Outside => {
                if !self.probe.outside(seq, self.config.reset_after) {
                    self.stats.dropped += 1;
                    tracing::trace!(target: TARGET, seq, "video packet out of window");
                    return Arrival::Dropped;
                }
                self.restart(seq);
                arrival = Arrival::Reset;
                self.next
            }
        };
        self.probe.clear();
        if payload.len() > self.config.max_bytes {
            self.stats.dropped += 1;
            return Arrival::Dropped;
        }
        match self.state(ext) {
            State::Present => {
                self.stats.duplicates += 1;
                return Arrival::Duplicate;
            }
            State::Empty => {
                // A new highest place: the places between are now known missing.
                for e in self.end..ext {
                    self.set_missing(e, now);
                }
                self.end = self.end.max(ext + 1);
            }
            State::Missing(_) | State::Lost => {}
        }
        // The byte limit: the oldest packets go.
        while self.bytes + payload.len() > self.config.max_bytes && self.next < ext {
            let to = self.next + 1;
            self.drop_head_to(to);
        }
        let slot = self.slot_mut(ext);
        slot.ext = ext;
        slot.state = State::Present;
        slot.timestamp = timestamp;
        slot.marker = marker;
        slot.arrival = now;
        slot.data.clear();
        slot.data.extend_from_slice(payload);
        self.bytes += payload.len();
        self.held += 1;
        if ext == self.cursor {
            self.advance_cursor();
        }
        if self.config.mode == Mode::Latency && self.cursor < ext {
            self.look_for_keyframe(ext);
        }
        arrival
    }

    fn set_missing(&mut self, ext: u64, now: Instant) {
        let slot = self.slot_mut(ext);
        slot.ext = ext;
        slot.state = State::Missing(now);
    }

    fn advance_cursor(&mut self) {
        self.cursor = self.cursor.max(self.next);
        while self.cursor < self.end && !matches!(self.state(self.cursor), State::Missing(_)) {
            self.cursor += 1;
        }
    }

    /// Forgets the places before `to` (moving the window up to it if it lies beyond the places seen):
    /// the packets removed.
    fn clear_head_to(&mut self, to: u64) -> u64 {
        if to <= self.next {
            return 0;
        }
        let mut removed = 0;
        for e in self.next..to.min(self.end) {
            if self.state(e) == State::Present {
                removed += 1;
                let len = self.slot(e).data.len();
                self.bytes -= len;
                self.held -= 1;
            }
            self.slot_mut(e).state = State::Empty;
        }
        self.next = to;
        self.end = self.end.max(to);
        self.consumed = true;
        self.clean_start = false;
        self.advance_cursor();
        removed
    }

    /// [`Self::clear_head_to`] for a limit: the packets removed are counted as dropped.
    fn drop_head_to(&mut self, to: u64) {
        let removed = self.clear_head_to(to);
        if removed > 0 {
            tracing::debug!(target: TARGET, removed, "video buffer over a limit: oldest packets dropped");
        }
        self.stats.dropped += removed;
    }

    fn restart(&mut self, seq: u16) {
        let end = self.end;
        self.drop_head_to(end);
        self.stats.resets += 1;
        tracing::debug!(target: TARGET, seq, "video stream restarted");
        // A fresh range of extended sequence numbers, above everything used before.
        let base = (self.end + 0x2_0000) & !0xffff;
        self.next = base + u64::from(seq);
        self.end = self.next;
        self.cursor = self.next;
        self.consumed = false;
        self.clean_start = false;
        self.skip_to = None;
        self.chain = None;
        self.depacketized_to = None;
    }

    /// `Latency`: if the frame holding `ext` is now a complete key frame behind a gap, skip to it.
    fn look_for_keyframe(&mut self, ext: u64) {
        let ts = self.slot(ext).timestamp;
        let mut first = ext;
        let mut start_known = false;
        while first > self.next {
            match self.state(first - 1) {
                State::Present if self.slot(first - 1).timestamp == ts && !self.slot(first - 1).marker => first -= 1,
                State::Present => {
                    start_known = true;
                    break;
                }
                _ => break,
            }
        }
        if first <= self.cursor || self.skip_to.is_some_and(|s| s >= first) {
            return;
        }
        let mut last = ext;
        loop {
            let slot = self.slot(last);
            if slot.marker {
                break;
            }
            if self.state(last + 1) != State::Present || self.slot(last + 1).timestamp != ts {
                return;
            }
            last += 1;
        }
        let (info, ok) = self.depacketize(Span { first, last, holes: false, clean_end: true });
        if ok && info.is_some_and(|i| i.keyframe && (start_known || i.frame_start)) {
            tracing::debug!(target: TARGET, skipped = first - self.next, "complete key frame behind a gap");
            self.skip_to = Some(first);
        }
    }

    /// Gives up the gaps whose deadline passed and drops packets held longer than `max_age`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        let now = self.now;
        let hold = self.hold();
        while let State::Missing(since) = self.state(self.cursor) {
            if since.saturating_add(hold) > now {
                break;
            }
            tracing::trace!(target: TARGET, ext = self.cursor, "gap given up");
            self.slot_mut(self.cursor).state = State::Lost;
            self.stats.gaps_given_up += 1;
            self.advance_cursor();
        }
        while self.next < self.end
            && self.state(self.next) == State::Present
            && self.slot(self.next).arrival.saturating_add(self.config.max_age) <= now
        {
            let to = self.next + 1;
            self.drop_head_to(to);
        }
    }

    /// The earliest moment [`VideoBuffer::handle_timeout`] has work: the oldest gap's deadline, or the
    /// moment the oldest packet gets too old.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let gap = match self.state(self.cursor) {
            State::Missing(since) => Some(since.saturating_add(self.hold())),
            _ => None,
        };
        let age = (self.state(self.next) == State::Present)
            .then(|| self.slot(self.next).arrival.saturating_add(self.config.max_age));
        match (gap, age) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next frame ready at the head (assembled into the reused buffer), or a key frame request.
    /// Call until `None` after every other call.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<VideoEvent<'_>> {
        let frame = loop {
            if self.keyframe_pending {
                self.keyframe_pending = false;
                self.stats.keyframe_requests += 1;
                return Some(VideoEvent::KeyframeRequest);
            }
            match self.step() {
                Step::Wait => return None,
                Step::Again => {}
                Step::Emit(f) => break f,
            }
        };
        Some(VideoEvent::Frame(Frame { data: &self.frame, ..frame }))
    }

    /// Finds the head frame; if it is ready, assembles it and consumes its places.
    fn step(&mut self) -> Step {
        while self.next < self.end && self.state(self.next) == State::Lost {
            self.slot_mut(self.next).state = State::Empty;
            self.next += 1;
            self.consumed = true;
            self.clean_start = false;
        }
        let Some(span) = self.head_span() else {
            // Blocked by a gap (or waiting for the frame's end): a key frame further on may be taken.
            if let Some(to) = self.skip_to.take() {
                if to > self.next && to <= self.end {
                    let skipped = self.clear_head_to(to);
                    self.stats.skipped += skipped;
                    tracing::debug!(target: TARGET, skipped, "skipped to a complete key frame");
                    return Step::Again;
                }
            }
            return Step::Wait;
        };
        let (info, parsed) = self.depacketize(span);
        let first = self.slot(span.first);
        let timestamp = first.timestamp;
        let keyframe = info.is_some_and(|i| i.keyframe);
        let started = self.clean_start || info.is_some_and(|i| i.frame_start);
        let complete = parsed && !span.holes && started;
        let decodable = complete && (keyframe || self.chain == Some(span.first.wrapping_sub(1)));
        // Consume the places.
        for e in span.first..=span.last {
            if self.state(e) == State::Present {
                let len = self.slot(e).data.len();
                self.bytes -= len;
                self.held -= 1;
            }
            self.slot_mut(e).state = State::Empty;
        }
        self.next = span.last + 1;
        self.consumed = true;
        self.clean_start = span.clean_end;
        self.advance_cursor();
        if self.skip_to.is_some_and(|s| s < self.next) {
            self.skip_to = None;
        }
        self.stats.frames_incomplete += u64::from(!complete);
        self.chain = decodable.then_some(span.last);
        if !decodable {
            self.want_keyframe();
            // Nothing to decode (the payloads after a loss refused without their start), or `Latency`.
            if self.config.mode == Mode::Latency || self.frame.is_empty() {
                self.stats.frames_dropped += 1;
                return Step::Again;
            }
        }
        self.stats.frames_emitted += 1;
        Step::Emit(Frame {
            data: &[],
            timestamp,
            first_sequence: span.first as u16,
            last_sequence: span.last as u16,
            keyframe,
            complete,
            decodable,
        })
    }

    fn want_keyframe(&mut self) {
        let due = self
            .last_keyframe_request
            .is_none_or(|t| self.now.saturating_duration_since(t) >= self.config.keyframe_retry);
        if due {
            self.last_keyframe_request = Some(self.now);
            self.keyframe_pending = true;
        }
    }

    /// The frame at the head, if it can be taken now: it ends (marker, or a later packet with another
    /// timestamp) and no place in it is still awaited.
    fn head_span(&self) -> Option<Span> {
        if self.state(self.next) != State::Present {
            return None;
        }
        let ts = self.slot(self.next).timestamp;
        let mut holes = false;
        let mut e = self.next;
        loop {
            match self.state(e) {
                State::Present if self.slot(e).timestamp != ts => {
                    let clean_end = self.state(e - 1) == State::Present;
                    return Some(Span { first: self.next, last: e - 1, holes, clean_end });
                }
                State::Present if self.slot(e).marker => {
                    return Some(Span { first: self.next, last: e, holes, clean_end: true });
                }
                State::Present => {}
                State::Lost => holes = true,
                State::Missing(_) | State::Empty => return None,
            }
            e += 1;
        }
    }

    /// Depacketizes the places of `span` into the frame buffer: the first payload's info and whether
    /// every payload parsed.
    fn depacketize(&mut self, span: Span) -> (Option<PayloadInfo>, bool) {
        self.frame.clear();
        if self.depacketized_to != Some(span.first) {
            self.depacketizer.reset();
        }
        let mut first = None;
        let mut ok = true;
        for e in span.first..=span.last {
            let slot = &self.slots[(e & self.mask) as usize];
            if slot.ext != e || slot.state != State::Present {
                self.depacketizer.reset();
                continue;
            }
            match self.depacketizer.depacketize(&slot.data, &mut self.frame) {
                Ok(info) => {
                    if e == span.first {
                        first = Some(info);
                    }
                }
                Err(error) => {
                    ok = false;
                    self.stats.depacketize_errors += 1;
                    tracing::debug!(target: TARGET, ?error, "video payload refused");
                    self.depacketizer.reset();
                }
            }
        }
        self.depacketized_to = Some(span.last + 1);
        (first, ok)
    }
}

enum Step {
    Wait,
    Again,
    Emit(Frame<'static>),
}
