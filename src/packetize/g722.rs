//! G.722 over RTP (RFC 3551 §4.5.2).
//!
//! G.722 samples audio at 16000 Hz and codes each pair of samples into one octet (64 kbit/s), but its RTP
//! clock runs at 8000 Hz: RFC 1890 assigned that rate by mistake and RFC 3551 keeps it for compatibility.
//! So the timestamp advances by one per octet, half the number of samples ([`timestamp_increment`] versus
//! [`samples_per_frame`]); an SDP `a=rtpmap:9 G722/8000` is right.
//!
//! Otherwise the format is G.711's: a block of 1 to 1600 octets (up to 200 ms, RFC 3551 §4.2; 20 ms, 160
//! octets, by default) per payload, never split, the marker bit only on a talkspurt's first packet
//! ([`G722Packetizer::start_talkspurt`]).
#![deny(clippy::indexing_slicing)]

use alloc::vec::Vec;

use super::g711::{check_block, depacketize_block};
use super::{DepacketizeError, Depacketizer, PacketizeError, Packetizer, Payload, PayloadInfo};

/// The static RTP payload type of G.722 (RFC 3551 Table 4).
pub const PAYLOAD_TYPE: u8 = 9;

/// The RTP clock rate of G.722: 8000 Hz, although the audio is sampled at 16000 Hz (RFC 3551 §4.5.2).
pub const CLOCK_RATE: u32 = 8000;

/// The audio sampling rate of G.722.
pub const SAMPLE_RATE: u32 = 16_000;

/// The default packetization interval, 20 ms, in octets (RFC 3551 §4.2).
pub const DEFAULT_PTIME_OCTETS: usize = 160;

/// How far the RTP timestamp advances for a payload of `octets` octets: one tick (of the 8000 Hz clock)
/// per octet, that is per pair of samples.
pub fn timestamp_increment(octets: usize) -> u32 {
    u32::try_from(octets).unwrap_or(u32::MAX)
}

/// How many 16 kHz audio samples a payload of `octets` octets holds: two per octet.
pub fn samples_per_frame(octets: usize) -> usize {
    octets.saturating_mul(2)
}

/// The duration of a payload of `octets` octets, in microseconds.
pub fn duration_us(octets: usize) -> u64 {
    octets as u64 * 125
}

/// Blocks of G.722 octets into RTP payloads, one each, not copied.
#[derive(Debug, Default)]
pub struct G722Packetizer {
    talkspurt: bool,
}

impl G722Packetizer {
    /// A packetizer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the next payload as the first of a talkspurt (RTP marker bit, RFC 3551 §4.1).
    pub fn start_talkspurt(&mut self) {
        self.talkspurt = true;
    }
}

impl Packetizer for G722Packetizer {
    /// Hands on `frame`, a block of 1 to 1600 octets, as one payload.
    fn packetize(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        emit: &mut dyn FnMut(Payload<'_>),
    ) -> Result<usize, PacketizeError> {
        check_block(frame, max_payload)?;
        emit(Payload { data: frame, marker: core::mem::take(&mut self.talkspurt) });
        Ok(1)
    }
}

/// RTP payloads back into blocks of G.722 octets.
#[derive(Debug, Default)]
pub struct G722Depacketizer {
    errors: u64,
}

impl G722Depacketizer {
    /// A depacketizer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Malformed (empty) payloads seen.
    pub fn errors(&self) -> u64 {
        self.errors
    }
}

impl Depacketizer for G722Depacketizer {
    /// Appends the octets; `frame_start`, `keyframe` and `frame_end` are all true.
    fn depacketize(&mut self, payload: &[u8], frame: &mut Vec<u8>) -> Result<PayloadInfo, DepacketizeError> {
        depacketize_block(&mut self.errors, payload, frame)
    }
}

#[cfg(test)]
#[path = "tests/g722.rs"]
mod tests;
