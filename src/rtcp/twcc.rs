//! Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1):
//! packet status chunks (run-length and status vector) and receive deltas.

use alloc::vec::Vec;

use super::Error;
use super::feedback::ssrcs;
use super::read::{i24, u8_at, u16_at, u24_at};

/// Receive deltas are in units of 250 µs.
pub const DELTA_TICK_US: u32 = 250;
/// The reference time is in units of 64 ms.
pub const REFERENCE_TICK_MS: u32 = 64;

/// A packet's status in the feedback (the 2-bit symbol and its delta).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TwccStatus {
    /// `00`: not received (yet).
    NotReceived,
    /// `01`: received, delta 0..=255 ticks of 250 µs.
    SmallDelta(u8),
    /// `10`: received, large or negative delta in ticks of 250 µs.
    LargeDelta(i16),
}

impl TwccStatus {
    /// The status for a packet received `delta` ticks (250 µs) after the previous one, choosing the
    /// small form when it fits; `None` if the delta exceeds ±8191.75 ms.
    pub fn received(delta: i32) -> Option<Self> {
        match delta {
            0..=255 => Some(TwccStatus::SmallDelta(delta as u8)),
            d => i16::try_from(d).ok().map(TwccStatus::LargeDelta),
        }
    }

    fn symbol(self) -> u16 {
        match self {
            TwccStatus::NotReceived => 0,
            TwccStatus::SmallDelta(_) => 1,
            TwccStatus::LargeDelta(_) => 2,
        }
    }

    /// The receive delta in ticks, if received.
    pub fn delta(self) -> Option<i32> {
        match self {
            TwccStatus::NotReceived => None,
            TwccStatus::SmallDelta(d) => Some(i32::from(d)),
            TwccStatus::LargeDelta(d) => Some(i32::from(d)),
        }
    }
}

/// One packet of the feedback.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TwccPacket {
    /// Transport-wide sequence number.
    pub sequence: u16,
    /// Status and receive delta.
    pub status: TwccStatus,
}

/// How many symbols a chunk holds and the symbol at index `i` (< that count).
fn chunk_symbols(chunk: u16) -> (u16, impl Fn(u16) -> u16) {
    let n = if chunk & 0x8000 == 0 {
        chunk & 0x1fff
    } else if chunk & 0x4000 == 0 {
        14
    } else {
        7
    };
    (n, move |i: u16| {
        if chunk & 0x8000 == 0 {
            (chunk >> 13) & 0x3
        } else if chunk & 0x4000 == 0 {
            (chunk >> (13 - i)) & 0x1
        } else {
            (chunk >> (12 - 2 * i)) & 0x3
        }
    })
}

/// Transport-wide CC feedback (RTPFB FMT 15).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportCc<'a> {
    /// SSRC of the packet sender.
    pub sender_ssrc: u32,
    /// SSRC of the media source.
    pub media_ssrc: u32,
    /// First transport-wide sequence number reported.
    pub base_sequence: u16,
    /// Number of packets reported.
    pub status_count: u16,
    /// Reference time, 24-bit signed, in units of 64 ms.
    pub reference_time: i32,
    /// Feedback packet counter.
    pub feedback_count: u8,
    chunks: &'a [u8],
    deltas: &'a [u8],
}

impl<'a> TransportCc<'a> {
    pub(crate) fn parse(body: &'a [u8]) -> Result<Self, Error> {
        let (sender_ssrc, media_ssrc, fci) = ssrcs(body, super::packet_type::RTPFB)?;
        let bad = Error::BadLength { packet_type: super::packet_type::RTPFB };
        let base_sequence = u16_at(fci, 0).ok_or(bad)?;
        let status_count = u16_at(fci, 2).ok_or(bad)?;
        let reference_time = i24(u24_at(fci, 4).ok_or(bad)?);
        let feedback_count = u8_at(fci, 7).ok_or(bad)?;
        // Walk the chunks once to find where the deltas start and how long they are.
        let mut remaining = status_count;
        let mut at = 8;
        let mut delta_len = 0usize;
        while remaining > 0 {
            let chunk = u16_at(fci, at).ok_or(Error::BadItem)?;
            at += 2;
            let (n, symbol) = chunk_symbols(chunk);
            let take = n.min(remaining);
            if chunk & 0x8000 == 0 {
                match symbol(0) {
                    1 => delta_len += usize::from(take),
                    2 => delta_len += 2 * usize::from(take),
                    3 => return Err(Error::BadItem),
                    _ => {}
                }
            } else {
                for i in 0..take {
                    match symbol(i) {
                        1 => delta_len += 1,
                        2 => delta_len += 2,
                        3 => return Err(Error::BadItem),
                        _ => {}
                    }
                }
            }
            if n == 0 {
                return Err(Error::BadItem);
            }
            remaining -= take;
        }
        let chunks = fci.get(8..at).ok_or(Error::BadItem)?;
        let deltas = fci.get(at..at + delta_len).ok_or(Error::BadItem)?;
        Ok(Self {
            sender_ssrc,
            media_ssrc,
            base_sequence,
            status_count,
            reference_time,
            feedback_count,
            chunks,
            deltas,
        })
    }

    /// Every reported packet in sequence order, with its status and delta.
    pub fn packets(&self) -> TwccPackets<'a> {
        TwccPackets {
            chunks: self.chunks,
            deltas: self.deltas,
            chunk_symbol: 0,
            sequence: self.base_sequence,
            remaining: self.status_count,
        }
    }

    /// Number of status chunks.
    pub fn chunk_count(&self) -> usize {
        self.chunks.len() / 2
    }
}

/// Lazy iterator over the packets of a TWCC feedback.
#[derive(Clone, Debug)]
pub struct TwccPackets<'a> {
    chunks: &'a [u8],
    deltas: &'a [u8],
    chunk_symbol: u16,
    sequence: u16,
    remaining: u16,
}

impl Iterator for TwccPackets<'_> {
    type Item = TwccPacket;

    fn next(&mut self) -> Option<TwccPacket> {
        if self.remaining == 0 {
            return None;
        }
        let chunk = u16_at(self.chunks, 0)?;
        let (n, symbol) = chunk_symbols(chunk);
        let status = match symbol(self.chunk_symbol) {
            0 => TwccStatus::NotReceived,
            1 => {
                let d = *self.deltas.first()?;
                self.deltas = self.deltas.get(1..)?;
                TwccStatus::SmallDelta(d)
            }
            _ => {
                let d = u16_at(self.deltas, 0)? as i16;
                self.deltas = self.deltas.get(2..)?;
                TwccStatus::LargeDelta(d)
            }
        };
        let packet = TwccPacket { sequence: self.sequence, status };
        self.sequence = self.sequence.wrapping_add(1);
        self.remaining -= 1;
        self.chunk_symbol += 1;
        if self.chunk_symbol >= n {
            self.chunk_symbol = 0;
            self.chunks = self.chunks.get(2..)?;
        }
        Some(packet)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::from(self.remaining), Some(usize::from(self.remaining)))
    }
}

/// The fields of a TWCC feedback to write; `packets` are consecutive from `base_sequence`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransportCcRepr<'a> {
    /// SSRC of the packet sender.
    pub sender_ssrc: u32,
    /// SSRC of the media source.
    pub media_ssrc: u32,
    /// First sequence number.
    pub base_sequence: u16,
    /// Reference time (24-bit signed, 64 ms units).
    pub reference_time: i32,
    /// Feedback packet counter.
    pub feedback_count: u8,
    /// Statuses of `base_sequence`, `base_sequence + 1`, …
    pub packets: &'a [TwccStatus],
}

const MAX_TWO_BIT: usize = 7;
const MAX_ONE_BIT: usize = 14;
const MAX_RUN: usize = 0x1fff;

/// The chunk encoder of libwebrtc (`TransportFeedback::LastChunk`), so our chunks match Chrome's.
struct LastChunk {
    sizes: [u16; MAX_ONE_BIT],
    size: usize,
    all_same: bool,
    has_large: bool,
}

impl LastChunk {
    fn new() -> Self {
        Self { sizes: [0; MAX_ONE_BIT], size: 0, all_same: true, has_large: false }
    }

    fn can_add(&self, s: u16) -> bool {
        self.size < MAX_TWO_BIT
            || (self.size < MAX_ONE_BIT && !self.has_large && s != 2)
            || (self.size < MAX_RUN && self.all_same && self.sizes[0] == s)
    }

    fn add(&mut self, s: u16) {
        // Past MAX_ONE_BIT only a run (all the same) continues, and a run needs only `sizes[0]`.
        if let Some(slot) = self.sizes.get_mut(self.size) {
            *slot = s;
        }
        self.size += 1;
        self.all_same = self.all_same && s == self.sizes[0];
        self.has_large = self.has_large || s == 2;
    }

    fn run_length(&self) -> u16 {
        (self.sizes[0] << 13) | self.size as u16
    }

    fn one_bit(&self) -> u16 {
        let mut c = 0x8000;
        for (i, s) in self.sizes.iter().take(self.size).enumerate() {
            c |= s << (MAX_ONE_BIT - 1 - i);
        }
        c
    }

    fn two_bit(&self, n: usize) -> u16 {
        let mut c = 0xc000;
        for (i, s) in self.sizes.iter().take(n).enumerate() {
            c |= s << (2 * (MAX_TWO_BIT - 1 - i));
        }
        c
    }

    fn emit(&mut self) -> u16 {
        if self.all_same {
            let c = self.run_length();
            *self = Self::new();
            return c;
        }
        if self.size == MAX_ONE_BIT {
            let c = self.one_bit();
            *self = Self::new();
            return c;
        }
        let c = self.two_bit(MAX_TWO_BIT);
        // The symbols after the first seven move to the front (`size` was at most MAX_ONE_BIT here).
        self.size -= MAX_TWO_BIT;
        self.sizes.copy_within(MAX_TWO_BIT.., 0);
        let kept = self.sizes.get(..self.size).unwrap_or_default();
        let first = kept.first().copied();
        self.all_same = kept.iter().all(|&s| Some(s) == first);
        self.has_large = kept.contains(&2);
        c
    }

    fn encode_last(&self) -> u16 {
        if self.all_same {
            self.run_length()
        } else if self.size <= MAX_TWO_BIT {
            self.two_bit(self.size)
        } else {
            self.one_bit()
        }
    }
}

impl TransportCcRepr<'_> {
    /// Appends the FCI (after the two SSRCs): header fields, chunks, deltas. Returns an error if more
    /// than 65535 packets are given.
    pub(crate) fn write_fci(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        let count = u16::try_from(self.packets.len()).map_err(|_| Error::TooMany)?;
        out.extend_from_slice(&self.base_sequence.to_be_bytes());
        out.extend_from_slice(&count.to_be_bytes());
        out.extend_from_slice(&(self.reference_time as u32).to_be_bytes()[1..]);
        out.push(self.feedback_count);
        let mut last = LastChunk::new();
        for p in self.packets {
            let s = p.symbol();
            if !last.can_add(s) {
                out.extend_from_slice(&last.emit().to_be_bytes());
            }
            last.add(s);
        }
        if last.size > 0 {
            out.extend_from_slice(&last.encode_last().to_be_bytes());
        }
        for p in self.packets {
            match p {
                TwccStatus::NotReceived => {}
                TwccStatus::SmallDelta(d) => out.push(*d),
                TwccStatus::LargeDelta(d) => out.extend_from_slice(&d.to_be_bytes()),
            }
        }
        Ok(())
    }
}
