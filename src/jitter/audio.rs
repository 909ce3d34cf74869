//! The audio playout buffer: RTP packets in, packets out in order at their playout time.

use alloc::vec::Vec;
use core::time::Duration;

use super::{Arrival, EXT_BASE, Place, ResetProbe, TARGET, place, ring_size};
use crate::rtp::Packet;
use crate::time::Instant;

/// Configuration of an [`AudioBuffer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AudioConfig {
    /// The RTP clock rate of the stream (48,000 for Opus).
    pub clock_rate: u32,
    /// The least target delay.
    pub min_delay: Duration,
    /// The most target delay; no packet is held longer than this after its arrival.
    pub max_delay: Duration,
    /// The target delay is this many times the interarrival jitter (then clamped).
    pub jitter_factor: u32,
    /// Packets held at most: the window of sequence numbers (rounded up to a power of two, 2..=32768).
    pub max_packets: usize,
    /// Payload bytes held at most.
    pub max_bytes: usize,
    /// How far ahead of the window a sequence number still moves the window; farther is out of window.
    pub max_jump: u16,
    /// Consecutive out-of-window packets, each 1 to 16 after the previous, taken for a restarted stream.
    pub reset_after: u8,
    /// Samples per packet assumed until two consecutive packets show it (for gaps at the start).
    pub packet_samples: u32,
}

impl AudioConfig {
    /// The defaults at `clock_rate`: delay 20 ms..400 ms, 4 × jitter, 256 packets, 256 KiB, `max_jump`
    /// 3000, `reset_after` 4, 20 ms packets.
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate: clock_rate.max(1),
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(400),
            jitter_factor: 4,
            max_packets: 256,
            max_bytes: 256 << 10,
            max_jump: 3000,
            reset_after: 4,
            packet_samples: clock_rate.max(1) / 50,
        }
    }
}

/// What [`AudioBuffer::poll_event`] hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudioEvent<'a> {
    /// A packet to decode now.
    Packet {
        /// Its sequence number.
        sequence: u16,
        /// Its RTP timestamp.
        timestamp: u32,
        /// Its payload.
        payload: &'a [u8],
    },
    /// Packets that did not arrive in time: conceal them now (run the decoder's PLC).
    Gap {
        /// Sequence number of the first missing packet.
        sequence: u16,
        /// Missing packets.
        packets: u16,
        /// RTP timestamp the first missing packet is estimated to have had.
        timestamp: u32,
        /// Estimated duration of the gap in RTP clock units.
        duration: u32,
    },
}

/// Counters of an [`AudioBuffer`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AudioStats {
    /// Packets given to `handle_receive`.
    pub packets_received: u64,
    /// Packets whose sequence number was already held.
    pub duplicates: u64,
    /// Packets that arrived after their place was played or concealed.
    pub late: u64,
    /// Packets dropped for a limit, out of window, or at a stream reset.
    pub dropped: u64,
    /// Packets handed out.
    pub played: u64,
    /// Gaps handed out.
    pub gaps: u64,
    /// Packets concealed in those gaps.
    pub concealed: u64,
    /// Stream restarts detected.
    pub resets: u64,
    /// Timing jumps (a timestamp or arrival far from the rest) after which the timing reference restarted.
    pub resyncs: u64,
}

#[derive(Clone, Debug)]
struct Slot {
    ext: u64,
    present: bool,
    timestamp: u32,
    /// Media time of the timestamp in nanoseconds, from the stream's first timestamp.
    media_ns: i64,
    arrival: Instant,
    data: Vec<u8>,
}

/// What is at the head.
#[derive(Clone, Copy, Debug)]
enum Head {
    Packet,
    /// Missing places up to `present`; the first is estimated at `timestamp` (`step` per packet).
    Gap {
        present: u64,
        timestamp: u32,
        step: u32,
    },
}

/// The audio playout buffer of one RTP stream: packets come out in sequence order, each at its playout
/// time, or a [`AudioEvent::Gap`] where packets are missing.
///
/// The playout time of a packet is its media time (RTP timestamp) mapped to local time through the
/// timing reference, plus the target delay, and never later than its arrival plus `max_delay`. The
/// reference is the smallest recent transit time (arrival minus media time): it follows a faster
/// packet at once and creeps up by 1/1024 of the difference per packet, following clock drift; a transit
/// more than `max(1 s, 4 × max_delay)` away from it restarts it (a timestamp jump, counted in
/// [`AudioStats::resyncs`]) instead of counting as jitter. The
/// target delay is `clamp(jitter_factor × J, min_delay, max_delay)` where `J` is the RFC 3550 (§A.8)
/// interarrival jitter estimate: it rises with jitter and falls back as `J` decays (gain 1/16 per packet).
/// A packet arriving after its place was played or concealed is dropped and counted; no decoding happens
/// here.
///
/// The loop: [`AudioBuffer::handle_receive`] each packet, [`AudioBuffer::handle_timeout`] once `now`
/// reaches [`AudioBuffer::poll_timeout`] (the head's playout time), [`AudioBuffer::poll_event`] until
/// `None` after each, then wait for the next packet or the timeout. Time must not go backwards.
///
/// ```
/// use core::time::Duration;
/// use sansrtc::jitter::{AudioBuffer, AudioConfig, AudioEvent};
/// use sansrtc::Instant;
///
/// let mut buffer = AudioBuffer::new(AudioConfig::new(48_000));
/// let t0 = Instant::from_secs(1);
/// buffer.handle_receive_parts(t0, 7, 960, b"opus");
/// assert!(buffer.poll_event().is_none()); // held for the target delay
/// let due = buffer.poll_timeout().unwrap();
/// assert_eq!(due, t0 + Duration::from_millis(20));
/// buffer.handle_timeout(due);
/// assert_eq!(buffer.poll_event(), Some(AudioEvent::Packet { sequence: 7, timestamp: 960, payload: b"opus" }));
/// ```
#[derive(Debug)]
pub struct AudioBuffer {
    config: AudioConfig,
    slots: Vec<Slot>,
    mask: u64,
    started: bool,
    /// Something was played or concealed since the start: the head no longer moves back.
    consumed: bool,
    next: u64,
    end: u64,
    bytes: usize,
    held: usize,
    /// The last timestamp seen as the newest, and its media time.
    ts_ref: Option<(u32, i64)>,
    /// Timing reference: the smallest recent transit, in nanoseconds.
    base: Option<i64>,
    prev_transit: Option<i64>,
    /// 16 × the interarrival jitter in nanoseconds (RFC 3550 §A.8's integer form).
    jitter16: i64,
    /// The last place handed out (packet or gap end) and its timestamp, if it was a packet.
    last_out: Option<(u64, u32)>,
    /// The highest place received and its timestamp.
    newest: Option<(u64, u32)>,
    /// Clock units between two consecutive packets, last seen.
    step: u32,
    now: Instant,
    probe: ResetProbe,
    stats: AudioStats,
}

impl AudioBuffer {
    /// An empty buffer. Allocates the ring's slot headers (not their payload buffers, which grow once).
    pub fn new(config: AudioConfig) -> Self {
        let size = ring_size(config.max_packets);
        let empty =
            Slot { ext: u64::MAX, present: false, timestamp: 0, media_ns: 0, arrival: Instant::ZERO, data: Vec::new() };
        let config = AudioConfig { clock_rate: config.clock_rate.max(1), ..config };
        Self {
            config,
            slots: alloc::vec![empty; size],
            mask: size as u64 - 1,
            started: false,
            consumed: false,
            next: EXT_BASE,
            end: EXT_BASE,
            bytes: 0,
            held: 0,
            ts_ref: None,
            base: None,
            prev_transit: None,
            jitter16: 0,
            last_out: None,
            newest: None,
            step: config.packet_samples,
            now: Instant::ZERO,
            probe: ResetProbe::default(),
            stats: AudioStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AudioConfig {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> AudioStats {
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

    /// The interarrival jitter estimate (RFC 3550 §A.8).
    pub fn jitter(&self) -> Duration {
        Duration::from_nanos((self.jitter16 >> 4).unsigned_abs())
    }

    /// The interarrival jitter estimate in RTP clock units, as a receiver report carries it.
    pub fn jitter_rtp(&self) -> u32 {
        let units =
            u128::from((self.jitter16 >> 4).unsigned_abs()) * u128::from(self.config.clock_rate) / 1_000_000_000;
        u32::try_from(units).unwrap_or(u32::MAX)
    }

    /// The current target delay: `clamp(jitter_factor × jitter, min_delay, max_delay)`.
    pub fn target_delay(&self) -> Duration {
        let floor = self.config.min_delay.min(self.config.max_delay);
        self.jitter().saturating_mul(self.config.jitter_factor).clamp(floor, self.config.max_delay)
    }

    fn index(&self, ext: u64) -> usize {
        (ext & self.mask) as usize
    }

    fn present(&self, ext: u64) -> Option<&Slot> {
        let s = &self.slots[self.index(ext)];
        (s.present && s.ext == ext && ext >= self.next && ext < self.end).then_some(s)
    }

    fn media_ns(&self, units: i64) -> i64 {
        let rate = i64::from(self.config.clock_rate);
        match units.checked_mul(1_000_000_000) {
            Some(n) => n / rate,
            None => {
                let ns = i128::from(units) * 1_000_000_000 / i128::from(rate);
                i64::try_from(ns).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX })
            }
        }
    }

    /// Takes one parsed RTP packet of the stream.
    pub fn handle_receive<T: AsRef<[u8]>>(&mut self, now: Instant, packet: &Packet<T>) -> Arrival {
        self.handle_receive_parts(now, packet.sequence_number(), packet.timestamp(), packet.payload())
    }

    /// Takes one RTP packet as its fields: sequence number, timestamp and payload.
    pub fn handle_receive_parts(&mut self, now: Instant, seq: u16, timestamp: u32, payload: &[u8]) -> Arrival {
        self.now = self.now.max(now);
        let now = self.now;
        self.stats.packets_received += 1;
        if !self.started {
            self.started = true;
            self.next = EXT_BASE + u64::from(seq);
            self.end = self.next;
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
                self.next = ext;
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
                    tracing::trace!(target: TARGET, seq, "audio packet out of window");
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
        if self.present(ext).is_some() {
            self.stats.duplicates += 1;
            return Arrival::Duplicate;
        }
        while self.bytes + payload.len() > self.config.max_bytes && self.next < ext {
            let to = self.next + 1;
            self.drop_head_to(to);
        }
        // Media time: the timestamp unwrapped against the newest seen.
        let media = match self.ts_ref {
            None => 0,
            Some((raw, units)) => units + i64::from(timestamp.wrapping_sub(raw) as i32),
        };
        if self.ts_ref.is_none_or(|(_, units)| media > units) {
            self.ts_ref = Some((timestamp, media));
        }
        if let Some((last, before)) = self.newest
            && last + 1 == ext
            && before != timestamp
        {
            self.step = timestamp.wrapping_sub(before).min(self.config.clock_rate);
        }
        if self.newest.is_none_or(|(last, _)| ext > last) {
            self.newest = Some((ext, timestamp));
        }
        let media_ns = self.media_ns(media);
        self.update_timing(now, media_ns);
        self.end = self.end.max(ext + 1);
        let i = self.index(ext);
        let slot = &mut self.slots[i];
        slot.ext = ext;
        slot.present = true;
        slot.timestamp = timestamp;
        slot.media_ns = media_ns;
        slot.arrival = now;
        slot.data.clear();
        slot.data.extend_from_slice(payload);
        self.bytes += payload.len();
        self.held += 1;
        arrival
    }

    /// The timing reference and the RFC 3550 §A.8 jitter estimate.
    fn update_timing(&mut self, now: Instant, media_ns: i64) {
        let arrival = i64::try_from(now.as_nanos()).unwrap_or(i64::MAX);
        let transit = arrival.saturating_sub(media_ns);
        let resync = i64::try_from(self.config.max_delay.saturating_mul(4).max(Duration::from_secs(1)).as_nanos())
            .unwrap_or(i64::MAX);
        match self.base {
            Some(base) if transit.saturating_sub(base).saturating_abs() > resync => {
                tracing::debug!(target: TARGET, "audio timing jumped: reference restarted");
                self.stats.resyncs += 1;
                self.base = Some(transit);
                self.prev_transit = None;
            }
            Some(base) if transit < base => self.base = Some(transit),
            Some(base) => self.base = Some(base + ((transit - base) >> 10)),
            None => self.base = Some(transit),
        }
        if let Some(prev) = self.prev_transit {
            // J += (|D| - J) / 16, kept as 16 J (the integer form of §A.8), in nanoseconds rather than clock
            // units (the same estimate, finer).
            let d = transit.saturating_sub(prev).saturating_abs();
            self.jitter16 = self.jitter16.saturating_add(d - ((self.jitter16 + 8) >> 4)).max(0);
        }
        self.prev_transit = Some(transit);
    }

    fn drop_head_to(&mut self, to: u64) {
        let mut removed = 0;
        for e in self.next..to.min(self.end) {
            let i = self.index(e);
            if self.present(e).is_some() {
                removed += 1;
                self.bytes -= self.slots[i].data.len();
                self.held -= 1;
            }
            self.slots[i].present = false;
        }
        if removed > 0 {
            tracing::debug!(target: TARGET, removed, "audio buffer over a limit: oldest packets dropped");
        }
        self.stats.dropped += removed;
        self.next = self.next.max(to);
        self.end = self.end.max(self.next);
        self.consumed = true;
    }

    fn restart(&mut self, seq: u16) {
        let end = self.end;
        self.drop_head_to(end);
        self.stats.resets += 1;
        tracing::debug!(target: TARGET, seq, "audio stream restarted");
        let base = (self.end + 0x2_0000) & !0xffff;
        self.next = base + u64::from(seq);
        self.end = self.next;
        self.consumed = false;
        self.ts_ref = None;
        self.base = None;
        self.prev_transit = None;
        self.last_out = None;
        self.newest = None;
    }

    /// Lets the packets due by `now` out (through [`AudioBuffer::poll_event`]).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// When the head is due, and what it is.
    fn head(&self) -> Option<(Instant, Head)> {
        if self.next >= self.end {
            return None;
        }
        if let Some(slot) = self.present(self.next) {
            return Some((self.playout(slot), Head::Packet));
        }
        let present = (self.next + 1..self.end).find(|&e| self.present(e).is_some())?;
        let slot = self.present(present)?;
        let count = present - self.next;
        let step = match self.last_out {
            Some((ext, ts)) if ext + 1 == self.next => {
                u32::try_from(u64::from(slot.timestamp.wrapping_sub(ts)) / (count + 1)).unwrap_or(self.step)
            }
            _ => self.step,
        };
        let back = u64::from(step) * count;
        let timestamp = slot.timestamp.wrapping_sub(back as u32);
        let first_ns = slot.media_ns.saturating_sub(self.media_ns(i64::try_from(back).unwrap_or(i64::MAX)));
        let due = self.at(first_ns).min(self.playout(slot));
        Some((due, Head::Gap { present, timestamp, step }))
    }

    /// Reference + media time + target delay.
    fn at(&self, media_ns: i64) -> Instant {
        let target = i64::try_from(self.target_delay().as_nanos()).unwrap_or(i64::MAX);
        let t = self.base.unwrap_or(0).saturating_add(media_ns).saturating_add(target);
        Instant::from_nanos(u64::try_from(t).unwrap_or(0))
    }

    fn playout(&self, slot: &Slot) -> Instant {
        self.at(slot.media_ns).min(slot.arrival.saturating_add(self.config.max_delay))
    }

    /// The head's playout time (a packet to play or a gap to conceal), if anything is held.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.head().map(|(due, _)| due)
    }

    /// The next packet or gap whose playout time has come. Call until `None` after every other call.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<AudioEvent<'_>> {
        let (due, head) = self.head()?;
        if due > self.now {
            return None;
        }
        self.consumed = true;
        match head {
            Head::Packet => {
                let ext = self.next;
                let i = self.index(ext);
                self.next += 1;
                self.held -= 1;
                self.stats.played += 1;
                let slot = &mut self.slots[i];
                slot.present = false;
                self.bytes -= slot.data.len();
                self.last_out = Some((ext, slot.timestamp));
                let slot = &self.slots[i];
                Some(AudioEvent::Packet { sequence: ext as u16, timestamp: slot.timestamp, payload: &slot.data })
            }
            Head::Gap { present, timestamp, step } => {
                let sequence = self.next as u16;
                let count = present - self.next;
                self.next = present;
                self.last_out = None;
                self.stats.gaps += 1;
                self.stats.concealed += count;
                let packets = u16::try_from(count).unwrap_or(u16::MAX);
                Some(AudioEvent::Gap {
                    sequence,
                    packets,
                    timestamp,
                    duration: step.saturating_mul(u32::from(packets)),
                })
            }
        }
    }
}
