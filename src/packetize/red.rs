//! Redundant audio data (RED, RFC 2198): a primary encoding and copies of earlier payloads in one RTP
//! payload, so that a lost packet is recovered from the next one. WebRTC uses it for Opus
//! (`a=rtpmap:63 red/48000/2`, `a=fmtp:63 111/111`: every block is Opus on payload type 111).
//!
//! The wire format (§3) is read and written by [`RedPayload`] and [`write()`], apart from any state: a
//! 4-octet header per redundant block (F bit set, block payload type, 14-bit timestamp offset, 10-bit
//! block length), a 1-octet header for the primary (F clear, payload type), then the blocks in header
//! order, the primary last, running to the end.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |F|   block PT  |  timestamp offset         |   block length    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! On top, two small machines without clocks of their own:
//! - [`RedEncoder`] keeps the last `distance` payloads it sent (bounded in count and size, buffers
//!   reused) and puts them ahead of each new primary;
//! - [`RedDecoder`] splits each received RED payload into the packets it carries, in timestamp order:
//!   the redundant copies of packets that were not received (recovered), then the primary, each at most
//!   once (a redundant copy of a packet already delivered, or a primary already recovered, is dropped).
//!
//! Neither allocates per packet once warm; malformed payloads are typed errors, never a panic.
#![deny(clippy::indexing_slicing)]

use alloc::vec::Vec;
use core::fmt;

/// At most this many blocks (redundant ones and the primary) are read from one payload; more is
/// [`RedError::TooManyBlocks`]. Chromium sends at most 10 (nine redundant), RFC 2198 sets no limit.
pub const MAX_BLOCKS: usize = 32;

/// The largest timestamp offset a block header carries (14 bits).
pub const MAX_TIMESTAMP_OFFSET: u32 = (1 << 14) - 1;

/// The longest redundant block a header can describe (10 bits).
pub const MAX_BLOCK_LEN: usize = (1 << 10) - 1;

/// At most this many earlier payloads an encoder repeats.
pub const MAX_DISTANCE: usize = 8;

/// Why a RED payload could not be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedError {
    /// The payload is empty (a primary header is needed at least).
    Empty,
    /// The payload ends inside a block header.
    Truncated,
    /// The redundant blocks' lengths run past the end of the payload.
    BlockPastEnd,
    /// More than [`MAX_BLOCKS`] block headers.
    TooManyBlocks,
    /// Writing: a timestamp offset above [`MAX_TIMESTAMP_OFFSET`] (the block is too old to carry).
    OffsetTooLarge,
    /// Writing: a redundant block longer than [`MAX_BLOCK_LEN`].
    BlockTooLong,
    /// Writing: a payload type above 127.
    BadPayloadType,
}

impl fmt::Display for RedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RedError::Empty => "empty RED payload",
            RedError::Truncated => "RED payload ends inside a block header",
            RedError::BlockPastEnd => "RED block length runs past the end of the payload",
            RedError::TooManyBlocks => "too many RED blocks",
            RedError::OffsetTooLarge => "RED timestamp offset does not fit in 14 bits",
            RedError::BlockTooLong => "RED redundant block longer than 1023 octets",
            RedError::BadPayloadType => "payload type above 127",
        })
    }
}

impl core::error::Error for RedError {}

/// One block of a RED payload, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedBlock<'a> {
    /// The block's payload type (the primary codec's for WebRTC's Opus RED).
    pub payload_type: u8,
    /// How far the block's timestamp is behind the packet's (0 for the primary).
    pub timestamp_offset: u16,
    /// The block's data.
    pub data: &'a [u8],
    /// Where `data` starts in the RED payload (for a caller that shares the packet's buffer).
    pub offset: usize,
}

/// A RED payload whose block headers and lengths were checked ([`RedPayload::new_checked`]); its
/// accessors cannot fail or panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedPayload<'a> {
    payload: &'a [u8],
    /// The number of redundant blocks (4-octet headers).
    redundant: usize,
}

impl<'a> RedPayload<'a> {
    /// Checks `payload`: every header complete, at most [`MAX_BLOCKS`] blocks, the redundant blocks'
    /// lengths within the payload (the primary may be empty).
    pub fn new_checked(payload: &'a [u8]) -> Result<Self, RedError> {
        if payload.is_empty() {
            return Err(RedError::Empty);
        }
        let mut at = 0usize;
        let mut redundant = 0usize;
        let mut lengths = 0usize;
        loop {
            let first = *payload.get(at).ok_or(RedError::Truncated)?;
            if first & 0x80 == 0 {
                at += 1;
                break;
            }
            let header = payload.get(at..at + 4).ok_or(RedError::Truncated)?;
            let byte = |n: usize| header.get(n).copied().unwrap_or(0);
            let len = usize::from(u16::from_be_bytes([byte(2), byte(3)]) & 0x3ff);
            lengths += len;
            redundant += 1;
            if redundant + 1 > MAX_BLOCKS {
                return Err(RedError::TooManyBlocks);
            }
            at += 4;
        }
        if at + lengths > payload.len() {
            return Err(RedError::BlockPastEnd);
        }
        Ok(RedPayload { payload, redundant })
    }

    /// The number of redundant blocks.
    pub fn redundant_count(&self) -> usize {
        self.redundant
    }

    fn headers_len(&self) -> usize {
        self.redundant * 4 + 1
    }

    /// The redundant blocks, in header order (oldest first, as senders write them).
    pub fn redundant(&self) -> impl Iterator<Item = RedBlock<'a>> + Clone + 'a {
        let payload = self.payload;
        let mut data_at = self.headers_len();
        (0..self.redundant).map(move |i| {
            let h = payload.get(i * 4..i * 4 + 4).unwrap_or_default();
            let byte = |n: usize| h.get(n).copied().unwrap_or(0);
            let word = u32::from_be_bytes([byte(0), byte(1), byte(2), byte(3)]);
            let len = (word & 0x3ff) as usize;
            let offset = data_at;
            data_at += len;
            RedBlock {
                payload_type: byte(0) & 0x7f,
                timestamp_offset: ((word >> 10) & 0x3fff) as u16,
                data: payload.get(offset..offset + len).unwrap_or_default(),
                offset,
            }
        })
    }

    /// The primary block: what follows the redundant blocks (possibly empty).
    pub fn primary(&self) -> RedBlock<'a> {
        let pt_at = self.redundant * 4;
        let offset = self.headers_len() + self.redundant().map(|b| b.data.len()).sum::<usize>();
        RedBlock {
            payload_type: self.payload.get(pt_at).copied().unwrap_or(0) & 0x7f,
            timestamp_offset: 0,
            data: self.payload.get(offset..).unwrap_or_default(),
            offset,
        }
    }
}

/// Writes a RED payload to `out` (cleared first): the redundant blocks given (oldest first: payload
/// type, timestamp offset, data), then the primary. Returns its length.
pub fn write<'b>(
    primary_payload_type: u8,
    primary: &[u8],
    redundant: impl IntoIterator<Item = (u8, u32, &'b [u8])> + Clone,
    out: &mut Vec<u8>,
) -> Result<usize, RedError> {
    out.clear();
    if primary_payload_type > 127 {
        return Err(RedError::BadPayloadType);
    }
    let mut count = 0;
    for (pt, offset, data) in redundant.clone() {
        count += 1;
        if count + 1 > MAX_BLOCKS {
            return Err(RedError::TooManyBlocks);
        }
        if pt > 127 {
            return Err(RedError::BadPayloadType);
        }
        if offset > MAX_TIMESTAMP_OFFSET {
            return Err(RedError::OffsetTooLarge);
        }
        if data.len() > MAX_BLOCK_LEN {
            return Err(RedError::BlockTooLong);
        }
        let word = (1u32 << 31) | (u32::from(pt) << 24) | (offset << 10) | data.len() as u32;
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.push(primary_payload_type);
    for (_, _, data) in redundant {
        out.extend_from_slice(data);
    }
    out.extend_from_slice(primary);
    Ok(out.len())
}

/// One payload an encoder keeps for redundancy.
#[derive(Debug, Clone, Default)]
struct Kept {
    payload_type: u8,
    timestamp: u32,
    data: Vec<u8>,
}

/// Wraps each payload of a stream in RED with up to `distance` earlier payloads of the stream
/// (Chromium's default is one). A kept payload too old for the 14-bit offset, longer than
/// [`MAX_BLOCK_LEN`], or not older than the new primary (a repeated or reordered timestamp) is left
/// out, as is any that would make the RED payload longer than `max_len`. Buffers are reused: no
/// allocation once warm.
#[derive(Debug, Clone)]
pub struct RedEncoder {
    distance: usize,
    max_len: usize,
    /// The last payloads sent, oldest first (at most `distance`); `spare` holds buffers to reuse.
    kept: Vec<Kept>,
    spare: Vec<Kept>,
    out: Vec<u8>,
}

impl RedEncoder {
    /// An encoder repeating up to `distance` (at most [`MAX_DISTANCE`]) earlier payloads, making RED
    /// payloads of at most `max_len` octets when the primary allows (the primary always goes).
    pub fn new(distance: usize, max_len: usize) -> Self {
        let distance = distance.min(MAX_DISTANCE);
        RedEncoder {
            distance,
            max_len,
            kept: Vec::with_capacity(distance),
            spare: Vec::with_capacity(distance + 1),
            out: Vec::new(),
        }
    }

    /// How many earlier payloads it repeats at most.
    pub fn distance(&self) -> usize {
        self.distance
    }

    /// The RED payload for `primary` (payload type `payload_type`, RTP timestamp `timestamp`), borrowed
    /// from the encoder until the next call; the primary is then kept for the next packets.
    pub fn encode(&mut self, payload_type: u8, timestamp: u32, primary: &[u8]) -> Result<&[u8], RedError> {
        if payload_type > 127 {
            return Err(RedError::BadPayloadType);
        }
        // The kept payloads that can go, newest first until the size bound says stop.
        let mut budget = self.max_len.saturating_sub(1 + primary.len());
        let mut first_usable = self.kept.len();
        for (i, k) in self.kept.iter().enumerate().rev() {
            let offset = timestamp.wrapping_sub(k.timestamp);
            let usable = offset != 0
                && offset <= MAX_TIMESTAMP_OFFSET
                && k.data.len() <= MAX_BLOCK_LEN
                && k.payload_type <= 127
                && k.data.len() + 4 <= budget;
            if !usable {
                break;
            }
            budget -= k.data.len() + 4;
            first_usable = i;
        }
        let blocks = self
            .kept
            .get(first_usable..)
            .unwrap_or_default()
            .iter()
            .map(|k| (k.payload_type, timestamp.wrapping_sub(k.timestamp), &k.data[..]));
        write(payload_type, primary, blocks, &mut self.out)?;
        // Keep the primary (reusing the oldest buffer once `distance` are kept).
        if self.distance > 0 {
            let mut slot = if self.kept.len() >= self.distance {
                self.kept.remove(0)
            } else {
                self.spare.pop().unwrap_or_default()
            };
            slot.payload_type = payload_type;
            slot.timestamp = timestamp;
            slot.data.clear();
            slot.data.extend_from_slice(primary);
            self.kept.push(slot);
        }
        Ok(&self.out)
    }

    /// Forgets the kept payloads (a new stream, or a jump in timestamps); their buffers are kept.
    pub fn reset(&mut self) {
        self.spare.append(&mut self.kept);
    }
}

/// One packet a RED payload carried, as [`RedDecoder::receive`] hands it over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unwrapped<'a> {
    /// The block's payload type.
    pub payload_type: u8,
    /// Its RTP timestamp (the packet's minus the block's offset).
    pub timestamp: u32,
    /// Its sequence number: the packet's for the primary; for a redundant block, inferred from its
    /// place (the block just before the primary is taken as the packet before, and so on), which holds
    /// when each packet carries one payload, as Chromium sends them.
    pub sequence_number: u64,
    /// The data, borrowed from the RED payload.
    pub data: &'a [u8],
    /// Where `data` starts in the RED payload.
    pub offset: usize,
    /// Recovered from a redundant block (its own packet was not received).
    pub recovered: bool,
}

/// How many delivered timestamps a decoder remembers to drop duplicates (0.64 s of 20 ms packets).
const REMEMBERED: usize = 32;

/// A timestamp this far behind the newest delivered one is taken as a restarted stream rather than a
/// late packet (about 22 s at 48 kHz).
const RESTART_DISTANCE: u32 = 1 << 20;

/// Splits received RED payloads of one stream (one SSRC) into the packets they carry, each at most
/// once: a redundant block is delivered only when no packet of its timestamp was, a primary only when
/// its timestamp was not recovered before. Remembers the last 32 timestamps delivered (a fixed
/// array: no allocation); a packet older than all of them once 32 are remembered is dropped as too late
/// to tell.
#[derive(Debug, Clone)]
pub struct RedDecoder {
    delivered: [u32; REMEMBERED],
    /// How many of `delivered` are valid; the next slot to overwrite is `next`.
    len: usize,
    next: usize,
    newest: Option<u32>,
    recovered: u64,
    duplicates: u64,
    errors: u64,
}

impl Default for RedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

/// `a` is after `b` in RTP timestamp order (RFC 3550 serial arithmetic).
fn after(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 1 << 31
}

impl RedDecoder {
    /// A decoder that has delivered nothing.
    pub fn new() -> Self {
        RedDecoder { delivered: [0; REMEMBERED], len: 0, next: 0, newest: None, recovered: 0, duplicates: 0, errors: 0 }
    }

    /// Packets recovered from redundancy so far.
    pub fn recovered(&self) -> u64 {
        self.recovered
    }

    /// Blocks dropped as copies of packets already delivered (or too old to tell).
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Malformed RED payloads seen.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    fn seen(&self, timestamp: u32) -> bool {
        self.delivered.get(..self.len).unwrap_or_default().contains(&timestamp)
    }

    /// Whether a packet of `timestamp` is new: not delivered, and not older than everything
    /// remembered once the memory is full.
    fn is_new(&mut self, timestamp: u32) -> bool {
        if self.seen(timestamp) {
            return false;
        }
        match self.newest {
            Some(newest) if after(newest, timestamp) && newest.wrapping_sub(timestamp) >= RESTART_DISTANCE => {
                // Far behind: a restarted stream, not a late packet.
                self.len = 0;
                self.next = 0;
                self.newest = None;
                true
            }
            _ if self.len < REMEMBERED => true,
            _ => {
                let oldest = self.delivered.get(self.next).copied().unwrap_or(timestamp);
                after(timestamp, oldest)
            }
        }
    }

    fn remember(&mut self, timestamp: u32) {
        if let Some(slot) = self.delivered.get_mut(self.next) {
            *slot = timestamp;
        }
        self.next = (self.next + 1) % REMEMBERED;
        self.len = (self.len + 1).min(REMEMBERED);
        if self.newest.is_none_or(|n| after(timestamp, n)) {
            self.newest = Some(timestamp);
        }
    }

    /// Splits the RED payload of a packet (RTP sequence number `sequence_number`, timestamp
    /// `timestamp`) and hands `emit` the packets it carries that were not delivered before, oldest
    /// first: recovered redundant blocks, then the primary. Blocks with an empty payload are skipped.
    /// Returns how many were handed over; a malformed payload hands over nothing.
    pub fn receive<'a>(
        &mut self,
        sequence_number: u64,
        timestamp: u32,
        payload: &'a [u8],
        emit: &mut dyn FnMut(Unwrapped<'a>),
    ) -> Result<usize, RedError> {
        // Counted, not logged: the caller (the peer connection counts it as malformed RTP) decides.
        let red = RedPayload::new_checked(payload).inspect_err(|_| self.errors += 1)?;
        let count = red.redundant_count() as u64;
        let mut n = 0;
        for (i, block) in red.redundant().enumerate() {
            let ts = timestamp.wrapping_sub(u32::from(block.timestamp_offset));
            if block.data.is_empty() || block.timestamp_offset == 0 {
                continue;
            }
            if !self.is_new(ts) {
                self.duplicates += 1;
                continue;
            }
            self.remember(ts);
            self.recovered += 1;
            n += 1;
            emit(Unwrapped {
                payload_type: block.payload_type,
                timestamp: ts,
                sequence_number: sequence_number.saturating_sub(count - i as u64),
                data: block.data,
                offset: block.offset,
                recovered: true,
            });
        }
        let primary = red.primary();
        if primary.data.is_empty() {
            return Ok(n);
        }
        if !self.is_new(timestamp) {
            self.duplicates += 1;
            return Ok(n);
        }
        self.remember(timestamp);
        emit(Unwrapped {
            payload_type: primary.payload_type,
            timestamp,
            sequence_number,
            data: primary.data,
            offset: primary.offset,
            recovered: false,
        });
        Ok(n + 1)
    }
}

#[cfg(test)]
#[path = "tests/red.rs"]
mod tests;
