//! DTMF digits as RTP telephone events (RFC 4733): the payload format, a sender that turns a string of
//! tones into the RFC's packet train, and a receiver that reports each digit once.
//!
//! The payload (§2.3) is one or more 4-octet event reports, read by [`events`] and written by
//! [`TelephoneEvent::write`]:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     event     |E|R| volume    |          duration             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! [`DtmfSender`] speaks the W3C `RTCDTMFSender` vocabulary (`insertDTMF(tones, duration,
//! interToneGap)`, `tonechange`) and is sans-IO: [`DtmfSender::insert`] queues tones,
//! [`DtmfSender::poll_timeout`] says when the next packet is due, [`DtmfSender::handle_timeout`] makes
//! it, [`DtmfSender::poll_packet`] and [`DtmfSender::poll_event`] hand packets and tone changes over.
//! Each tone is one event (§2.5.1): every packet of it has the RTP timestamp of its start, the first
//! has the marker bit, the duration grows by the packet interval, and the last report, with the E bit
//! and the full duration, goes three times (§2.5.1.4). A tone longer than the 16-bit duration allows
//! is split into segments (§2.5.1.3). The RTP timestamp follows the audio stream's clock when the
//! caller says where it stands ([`DtmfSender::sync`]).
//!
//! [`DtmfReceiver`] takes the payloads of received telephone-event packets and reports each event
//! once ([`Digit`]): when its end report arrives, or, if every end report was lost, when no report of
//! it came for the receiver's timeout ([`DtmfReceiver::poll_timeout`] says when), or when the next
//! event starts. Repeated end reports and late packets of an event already reported are dropped.
//!
//! Nothing here allocates per packet; queues are bounded.
#![deny(clippy::indexing_slicing)]

use core::fmt;
use core::time::Duration;

use crate::time::Instant;

/// The `tracing` target of telephone events.
const TARGET: &str = "sansrtc::dtmf";

/// At most this many event reports are read from one payload; more is [`DtmfError::TooManyEvents`].
pub const MAX_EVENTS: usize = 16;

/// The longest tone string [`DtmfSender::insert`] accepts.
pub const MAX_TONES: usize = 128;

/// W3C bounds on a tone's duration and the gap between tones (`insertDTMF`).
pub const MIN_DURATION: Duration = Duration::from_millis(40);
/// See [`MIN_DURATION`].
pub const MAX_DURATION: Duration = Duration::from_millis(6000);
/// See [`MIN_DURATION`].
pub const MIN_GAP: Duration = Duration::from_millis(30);

/// How long a `,` in a tone string pauses (W3C `insertDTMF`).
pub const COMMA_PAUSE: Duration = Duration::from_millis(2000);

/// Why a telephone-event payload could not be read, or tones could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DtmfError {
    /// The payload is empty.
    Empty,
    /// The payload is not a whole number of 4-octet event reports.
    BadLength,
    /// More than [`MAX_EVENTS`] reports in one payload.
    TooManyEvents,
    /// `insert`: a character that is no DTMF tone (`0`–`9`, `A`–`D`, `#`, `*`, `,`).
    InvalidTone,
    /// `insert`: more than [`MAX_TONES`] tones.
    TooManyTones,
}

impl fmt::Display for DtmfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DtmfError::Empty => "empty telephone-event payload",
            DtmfError::BadLength => "telephone-event payload not a multiple of 4 octets",
            DtmfError::TooManyEvents => "too many telephone events in one payload",
            DtmfError::InvalidTone => "not a DTMF tone",
            DtmfError::TooManyTones => "too many DTMF tones",
        })
    }
}

impl core::error::Error for DtmfError {}

/// One event report (§2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TelephoneEvent {
    /// The event code (§3.2: 0–9 the digits, 10 `*`, 11 `#`, 12–15 `A`–`D`; others kept as they are).
    pub event: u8,
    /// The E bit: the event has ended.
    pub end: bool,
    /// The power level, 0 to 63 (−0 to −63 dBm0).
    pub volume: u8,
    /// How long the event has lasted, in RTP timestamp units from its timestamp.
    pub duration: u16,
}

impl TelephoneEvent {
    /// The report as it goes on the wire (the R bit clear; `volume` masked to 6 bits).
    pub fn to_bytes(&self) -> [u8; 4] {
        let [d0, d1] = self.duration.to_be_bytes();
        [self.event, (u8::from(self.end) << 7) | (self.volume & 0x3f), d0, d1]
    }

    /// Appends the report to `out`.
    pub fn write(&self, out: &mut alloc::vec::Vec<u8>) {
        out.extend_from_slice(&self.to_bytes());
    }

    fn from_bytes(b: [u8; 4]) -> Self {
        let [event, flags, d0, d1] = b;
        TelephoneEvent { event, end: flags & 0x80 != 0, volume: flags & 0x3f, duration: u16::from_be_bytes([d0, d1]) }
    }
}

/// The event code of a DTMF tone character (`0`–`9`, `*`, `#`, `A`–`D`, case-insensitive).
pub fn event_of(tone: char) -> Option<u8> {
    Some(match tone.to_ascii_uppercase() {
        c @ '0'..='9' => c as u8 - b'0',
        '*' => 10,
        '#' => 11,
        c @ 'A'..='D' => c as u8 - b'A' + 12,
        _ => return None,
    })
}

/// The tone character of a DTMF event code (0–15).
pub fn tone_of(event: u8) -> Option<char> {
    Some(match event {
        0..=9 => char::from(b'0' + event),
        10 => '*',
        11 => '#',
        12..=15 => char::from(b'A' + event - 12),
        _ => return None,
    })
}

/// The event reports of a payload, checked once: non-empty, a whole number of reports, at most
/// [`MAX_EVENTS`]. Several reports in one packet are consecutive events (§2.5.1.5), the first starting
/// at the packet's timestamp.
pub fn events(payload: &[u8]) -> Result<impl Iterator<Item = TelephoneEvent> + '_, DtmfError> {
    if payload.is_empty() {
        return Err(DtmfError::Empty);
    }
    if payload.len() % 4 != 0 {
        return Err(DtmfError::BadLength);
    }
    if payload.len() / 4 > MAX_EVENTS {
        return Err(DtmfError::TooManyEvents);
    }
    Ok(payload.chunks_exact(4).map(|c| TelephoneEvent::from_bytes(c.try_into().unwrap_or_default())))
}

/// Samples of `d` at `clock_rate` Hz.
fn samples(d: Duration, clock_rate: u32) -> u64 {
    (d.as_nanos() * u128::from(clock_rate) / 1_000_000_000) as u64
}

/// One packet a [`DtmfSender`] made: send it on the telephone-event payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    /// The RTP timestamp (the event's, or its segment's, start).
    pub timestamp: u32,
    /// The RTP marker bit (the first packet of an event).
    pub marker: bool,
    /// The report.
    pub event: TelephoneEvent,
}

impl DtmfPacket {
    /// The payload.
    pub fn payload(&self) -> [u8; 4] {
        self.event.to_bytes()
    }
}

/// What a [`DtmfSender`] says to the application (W3C `RTCDTMFToneChangeEvent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToneChange {
    /// A tone (or a `,` pause) starts.
    Tone(char),
    /// Every queued tone was played (the W3C event with an empty `tone`).
    Done,
}

/// Where the sender is in its tone string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendState {
    /// Nothing queued.
    Idle,
    /// The next tone starts at `at`.
    Waiting { at: Instant },
    /// A tone sounds: it started at `start` (RTP timestamp `timestamp`, `segment` samples into it the
    /// current segment began), the next report is due at `next`.
    Playing { event: u8, start: Instant, timestamp: u32, segment: u64, next: Instant, first: bool },
}

/// Sends DTMF tones as telephone events (see the [module docs](self)). Packets are due every
/// `interval` (50 ms by default, RFC 4733 §2.5.1.2's suggestion) while a tone sounds; at most 8
/// packets wait in its queue (drain [`DtmfSender::poll_packet`] after each call).
#[derive(Debug, Clone)]
pub struct DtmfSender {
    clock_rate: u32,
    interval: Duration,
    volume: u8,
    /// The tones left to play (ASCII), `tones[..len]`, the next at `pos`.
    tones: [u8; MAX_TONES],
    len: usize,
    pos: usize,
    duration: Duration,
    gap: Duration,
    state: SendState,
    /// A known point of the RTP clock: timestamp `.1` at `.0`.
    clock: Option<(Instant, u32)>,
    packets: heapless_queue::Queue<DtmfPacket, 8>,
    events: heapless_queue::Queue<ToneChange, 4>,
    now: Instant,
}

/// A tiny fixed-capacity FIFO, so that the sender's queues never allocate.
mod heapless_queue {
    #[derive(Debug, Clone)]
    pub(super) struct Queue<T: Copy, const N: usize> {
        items: [Option<T>; N],
        head: usize,
        len: usize,
    }

    impl<T: Copy, const N: usize> Queue<T, N> {
        pub(super) fn new() -> Self {
            Queue { items: [None; N], head: 0, len: 0 }
        }

        /// Adds `item`; when full, the oldest is dropped (and returned).
        pub(super) fn push(&mut self, item: T) -> Option<T> {
            let dropped = if self.len == N { self.pop() } else { None };
            if let Some(slot) = self.items.get_mut((self.head + self.len) % N) {
                *slot = Some(item);
                self.len += 1;
            }
            dropped
        }

        pub(super) fn pop(&mut self) -> Option<T> {
            if self.len == 0 {
                return None;
            }
            let item = self.items.get_mut(self.head).and_then(Option::take);
            self.head = (self.head + 1) % N;
            self.len -= 1;
            item
        }

        pub(super) fn clear(&mut self) {
            while self.pop().is_some() {}
        }
    }
}

impl DtmfSender {
    /// A sender for a telephone-event format at `clock_rate` Hz (8000, or 48000 with Opus), whose
    /// events begin at RTP timestamp `initial_timestamp` until [`DtmfSender::sync`] says otherwise.
    pub fn new(clock_rate: u32, initial_timestamp: u32) -> Self {
        DtmfSender {
            clock_rate: clock_rate.max(1),
            interval: Duration::from_millis(50),
            volume: 10,
            tones: [0; MAX_TONES],
            len: 0,
            pos: 0,
            duration: Duration::from_millis(100),
            gap: Duration::from_millis(70),
            state: SendState::Idle,
            clock: None,
            packets: heapless_queue::Queue::new(),
            events: heapless_queue::Queue::new(),
            now: Instant::ZERO,
        }
        .with_clock_start(initial_timestamp)
    }

    fn with_clock_start(mut self, ts: u32) -> Self {
        self.clock = Some((Instant::ZERO, ts));
        self
    }

    /// Sets how often a report goes while a tone sounds (at least 10 ms).
    pub fn set_interval(&mut self, interval: Duration) {
        self.interval = interval.max(Duration::from_millis(10));
    }

    /// Sets the volume reported (0 to 63, as −dBm0).
    pub fn set_volume(&mut self, volume: u8) {
        self.volume = volume.min(63);
    }

    /// Says where the audio stream's RTP clock stands (timestamp `timestamp` at `at`), so that events
    /// start at the audio's timeline (RFC 4733 §2.5.1.2).
    pub fn sync(&mut self, at: Instant, timestamp: u32) {
        self.clock = Some((at, timestamp));
    }

    fn timestamp_at(&self, at: Instant) -> u32 {
        let (base, ts) = self.clock.unwrap_or((Instant::ZERO, 0));
        let forward = at.saturating_duration_since(base);
        let backward = base.saturating_duration_since(at);
        ts.wrapping_add(samples(forward, self.clock_rate) as u32)
            .wrapping_sub(samples(backward, self.clock_rate) as u32)
    }

    /// W3C `insertDTMF(tones, duration, interToneGap)`: replaces what is queued with `tones` (a tone
    /// already sounding finishes first), each sounding `duration` (clamped to 40–6000 ms) with `gap`
    /// (at least 30 ms) after it; `,` pauses 2 s. Characters are checked first: an invalid one queues
    /// nothing.
    pub fn insert(&mut self, now: Instant, tones: &str, duration: Duration, gap: Duration) -> Result<(), DtmfError> {
        self.now = self.now.max(now);
        if tones.len() > MAX_TONES {
            return Err(DtmfError::TooManyTones);
        }
        if tones.chars().any(|c| c != ',' && event_of(c).is_none()) {
            return Err(DtmfError::InvalidTone);
        }
        for (slot, b) in self.tones.iter_mut().zip(tones.bytes()) {
            *slot = b.to_ascii_uppercase();
        }
        self.len = tones.len();
        self.pos = 0;
        self.duration = duration.clamp(MIN_DURATION, MAX_DURATION);
        self.gap = gap.max(MIN_GAP);
        if self.state == SendState::Idle && self.len > 0 {
            self.state = SendState::Waiting { at: self.now };
        }
        Ok(())
    }

    /// The tones not yet started (W3C `toneBuffer`), as ASCII.
    pub fn tone_buffer(&self) -> &[u8] {
        self.tones.get(self.pos..self.len).unwrap_or_default()
    }

    /// When [`DtmfSender::handle_timeout`] is next owed a call.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            SendState::Idle => None,
            SendState::Waiting { at } => Some(at),
            SendState::Playing { next, .. } => Some(next),
        }
    }

    /// Makes what is due at `now`: the start of the next tone, the reports of the one sounding, its end.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        let now = self.now;
        // A few steps at most: a tone's end leads to a wait, a wait to the next tone.
        for _ in 0..4 {
            match self.state {
                SendState::Idle => return,
                SendState::Waiting { at } if at > now => return,
                SendState::Waiting { at } => self.start_next(at),
                SendState::Playing { next, .. } if next > now => return,
                SendState::Playing { event, start, timestamp, segment, next, first } => {
                    self.report(event, start, timestamp, segment, next, first);
                }
            }
        }
    }

    /// Starts the next tone (or pause) at `at`, or goes idle.
    fn start_next(&mut self, at: Instant) {
        let Some(&tone) = self.tones.get(self.pos).filter(|_| self.pos < self.len) else {
            self.state = SendState::Idle;
            self.push_event(ToneChange::Done);
            return;
        };
        self.pos += 1;
        self.push_event(ToneChange::Tone(char::from(tone)));
        match event_of(char::from(tone)) {
            Some(event) => {
                let timestamp = self.timestamp_at(at);
                self.state = SendState::Playing { event, start: at, timestamp, segment: 0, next: at, first: true };
            }
            None => self.state = SendState::Waiting { at: at + COMMA_PAUSE },
        }
    }

    /// Sends the report due at `due` of the tone sounding since `start`: its duration so far (the first
    /// report covers its first interval: a zero duration is not allowed, §2.5.1.3), or at the tone's end
    /// the final report, three times (§2.5.1.4).
    fn report(&mut self, event: u8, start: Instant, timestamp: u32, mut segment: u64, due: Instant, mut first: bool) {
        let total = samples(self.duration, self.clock_rate);
        let end_at = start + self.duration;
        let end = due >= end_at;
        let elapsed = if end {
            total
        } else {
            samples(due.saturating_duration_since(start), self.clock_rate)
                .max(samples(self.interval, self.clock_rate).min(total))
        };
        // §2.5.1.3: a duration past 16 bits closes the segment at 0xFFFF and opens the next.
        while elapsed - segment > u64::from(u16::MAX) {
            let report = TelephoneEvent { event, end: false, volume: self.volume, duration: u16::MAX };
            let ts = timestamp.wrapping_add(segment as u32);
            self.push_packet(DtmfPacket { timestamp: ts, marker: first, event: report });
            first = false;
            segment += u64::from(u16::MAX);
        }
        let duration = (elapsed - segment) as u16;
        let report = TelephoneEvent { event, end, volume: self.volume, duration };
        let packet = DtmfPacket { timestamp: timestamp.wrapping_add(segment as u32), marker: first, event: report };
        if end {
            for i in 0..3 {
                self.push_packet(DtmfPacket { marker: packet.marker && i == 0, ..packet });
            }
            self.state = SendState::Waiting { at: end_at + self.gap };
        } else {
            self.push_packet(packet);
            let next = (due + self.interval).min(end_at);
            self.state = SendState::Playing { event, start, timestamp, segment, next, first: false };
        }
    }

    fn push_packet(&mut self, p: DtmfPacket) {
        if self.packets.push(p).is_some() {
            tracing::debug!(target: TARGET, "DTMF packet queue full: oldest dropped");
        }
    }

    fn push_event(&mut self, e: ToneChange) {
        let _ = self.events.push(e);
    }

    /// The next packet to send.
    #[must_use]
    pub fn poll_packet(&mut self) -> Option<DtmfPacket> {
        self.packets.pop()
    }

    /// The next tone change.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ToneChange> {
        self.events.pop()
    }

    /// Stops: nothing more is sent (a tone sounding is cut without its end reports).
    pub fn clear(&mut self) {
        self.len = 0;
        self.pos = 0;
        self.state = SendState::Idle;
        self.packets.clear();
    }
}

/// A received DTMF event, reported once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digit {
    /// The event code (see [`tone_of`] for its character).
    pub event: u8,
    /// The RTP timestamp it began at.
    pub timestamp: u32,
    /// The longest duration reported, in RTP timestamp units.
    pub duration: u32,
    /// The volume of its last report.
    pub volume: u8,
    /// An end report arrived; `false` when it was closed by a timeout or by the next event.
    pub ended: bool,
}

impl Digit {
    /// The tone character, for events 0–15.
    pub fn tone(&self) -> Option<char> {
        tone_of(self.event)
    }
}

/// The event being received.
#[derive(Debug, Clone, Copy)]
struct Current {
    digit: Digit,
    last: Instant,
}

/// How many finished events a receiver remembers (their repeated end reports are dropped): two packets'
/// worth of packed events, so a packet repeated whole is recognised.
const FINISHED: usize = 2 * MAX_EVENTS;

/// Receives telephone events of one stream and reports each once (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct DtmfReceiver {
    timeout: Duration,
    current: Option<Current>,
    /// (timestamp, event) of events reported, newest at `next - 1`.
    finished: [Option<(u32, u8)>; FINISHED],
    next: usize,
    digits: heapless_queue::Queue<Digit, MAX_EVENTS>,
    errors: u64,
    now: Instant,
}

impl DtmfReceiver {
    /// A receiver that closes an event without an end report `timeout` after its last report (a few
    /// packet intervals: 250 ms suits the 50 ms senders use).
    pub fn new(timeout: Duration) -> Self {
        DtmfReceiver {
            timeout,
            current: None,
            finished: [None; FINISHED],
            next: 0,
            digits: heapless_queue::Queue::new(),
            errors: 0,
            now: Instant::ZERO,
        }
    }

    /// Malformed payloads seen.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    fn was_reported(&self, timestamp: u32, event: u8) -> bool {
        self.finished.contains(&Some((timestamp, event)))
    }

    fn finish(&mut self, ended: bool) {
        if let Some(mut c) = self.current.take() {
            c.digit.ended = ended;
            if let Some(slot) = self.finished.get_mut(self.next) {
                *slot = Some((c.digit.timestamp, c.digit.event));
            }
            self.next = (self.next + 1) % FINISHED;
            // Room for a packet's worth of events: the connection takes them after each packet.
            let _ = self.digits.push(c.digit);
        }
    }

    /// Takes the payload of a telephone-event packet with RTP timestamp `timestamp`. A malformed one is
    /// counted and returned as an error.
    pub fn handle_receive(&mut self, now: Instant, timestamp: u32, payload: &[u8]) -> Result<(), DtmfError> {
        self.now = self.now.max(now);
        // Counted, not logged: the caller (the peer connection counts it as malformed RTP) decides.
        let reports = events(payload).inspect_err(|_| self.errors += 1)?;
        // §2.5.1.5: packed events follow one another from the packet's timestamp.
        let mut start = timestamp;
        for r in reports {
            self.take(start, r);
            start = start.wrapping_add(u32::from(r.duration));
        }
        Ok(())
    }

    fn take(&mut self, timestamp: u32, r: TelephoneEvent) {
        if self.was_reported(timestamp, r.event) {
            return;
        }
        match self.current.as_mut() {
            Some(c) if c.digit.timestamp == timestamp && c.digit.event == r.event => {
                c.digit.duration = c.digit.duration.max(u32::from(r.duration));
                c.digit.volume = r.volume;
                c.last = self.now;
            }
            _ => {
                // A new event closes the one before (its end reports lost).
                self.finish(false);
                self.current = Some(Current {
                    digit: Digit {
                        event: r.event,
                        timestamp,
                        duration: u32::from(r.duration),
                        volume: r.volume,
                        ended: false,
                    },
                    last: self.now,
                });
            }
        }
        if r.end {
            self.finish(true);
        }
    }

    /// When an event without an end report is to be closed.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.current.map(|c| c.last + self.timeout)
    }

    /// Closes an event whose reports stopped `timeout` ago.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        if self.poll_timeout().is_some_and(|t| t <= self.now) {
            self.finish(false);
        }
    }

    /// The next event to report.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Digit> {
        self.digits.pop()
    }
}

#[cfg(test)]
#[path = "tests/dtmf.rs"]
mod tests;
