//! PCMU and PCMA, ITU-T G.711 over RTP (RFC 3551 §4.5.14).
//!
//! G.711 is sample-based: one octet per sample at 8000 Hz, so a payload of `n` octets holds `n` samples,
//! lasts `n / 8` ms and advances the RTP timestamp (8000 Hz clock) by `n` ([`timestamp_increment`]).
//! The default packetization interval is 20 ms, 160 octets (RFC 3551 §4.2); a receiver accepts up to
//! 200 ms, 1600 octets, and the packetizer sends no more. Every sample's timestamp is implied by its
//! packet's, so a block of samples is never split across payloads: a block larger than `max_payload` is
//! [`PacketizeError::MtuTooSmall`] (send shorter blocks).
//!
//! The RTP marker bit marks the first packet of a talkspurt (RFC 3551 §4.1): the packetizer leaves it
//! clear unless [`G711Packetizer::start_talkspurt`] was called.
#![deny(clippy::indexing_slicing)]

use alloc::vec::Vec;

use super::{DepacketizeError, Depacketizer, PacketizeError, Packetizer, Payload, PayloadInfo, TARGET};

/// The RTP clock rate (and sampling rate) of PCMU and PCMA.
pub const CLOCK_RATE: u32 = 8000;

/// The default packetization interval, 20 ms, in octets (RFC 3551 §4.2).
pub const DEFAULT_PTIME_OCTETS: usize = 160;

/// The longest block a receiver is asked to accept, 200 ms, in octets (RFC 3551 §4.2).
pub const MAX_PTIME_OCTETS: usize = 1600;

/// The companding law: which of the two G.711 payload formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    /// µ-law, `PCMU`, static payload type 0.
    Mu,
    /// A-law, `PCMA`, static payload type 8.
    A,
}

impl Law {
    /// The static RTP payload type (RFC 3551 Table 4).
    pub fn payload_type(self) -> u8 {
        match self {
            Law::Mu => 0,
            Law::A => 8,
        }
    }

    /// The SDP encoding name.
    pub fn encoding_name(self) -> &'static str {
        match self {
            Law::Mu => "PCMU",
            Law::A => "PCMA",
        }
    }
}

/// How far the RTP timestamp advances for a payload of `octets` octets: one tick per sample.
pub fn timestamp_increment(octets: usize) -> u32 {
    u32::try_from(octets).unwrap_or(u32::MAX)
}

/// How many samples a payload of `octets` octets holds.
pub fn samples_per_frame(octets: usize) -> usize {
    octets
}

/// The duration of a payload of `octets` octets, in microseconds.
pub fn duration_us(octets: usize) -> u64 {
    octets as u64 * 125
}

/// The checks shared by the octet-per-tick formats (G.711, G.722): a non-empty block of at most 200 ms
/// that fits in one payload.
pub(super) fn check_block(frame: &[u8], max_payload: usize) -> Result<(), PacketizeError> {
    if frame.is_empty() || frame.len() > MAX_PTIME_OCTETS {
        return Err(PacketizeError::BadFrame);
    }
    if frame.len() > max_payload {
        return Err(PacketizeError::MtuTooSmall);
    }
    Ok(())
}

/// Blocks of G.711 samples into RTP payloads, one each, not copied.
#[derive(Debug)]
pub struct G711Packetizer {
    law: Law,
    talkspurt: bool,
}

impl G711Packetizer {
    /// A packetizer for `law`.
    pub fn new(law: Law) -> Self {
        G711Packetizer { law, talkspurt: false }
    }

    /// The companding law.
    pub fn law(&self) -> Law {
        self.law
    }

    /// Marks the next payload as the first of a talkspurt (RTP marker bit, RFC 3551 §4.1).
    pub fn start_talkspurt(&mut self) {
        self.talkspurt = true;
    }
}

impl Packetizer for G711Packetizer {
    /// Hands on `frame`, a block of 1 to 1600 samples, as one payload.
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

/// RTP payloads back into blocks of G.711 samples.
#[derive(Debug)]
pub struct G711Depacketizer {
    law: Law,
    errors: u64,
}

impl G711Depacketizer {
    /// A depacketizer for `law`.
    pub fn new(law: Law) -> Self {
        G711Depacketizer { law, errors: 0 }
    }

    /// The companding law.
    pub fn law(&self) -> Law {
        self.law
    }

    /// Malformed (empty) payloads seen.
    pub fn errors(&self) -> u64 {
        self.errors
    }
}

/// The depacketizing shared by the octet-per-tick formats: any non-empty payload is a block of samples.
pub(super) fn depacketize_block(
    errors: &mut u64,
    payload: &[u8],
    frame: &mut Vec<u8>,
) -> Result<PayloadInfo, DepacketizeError> {
    if payload.is_empty() {
        *errors += 1;
        tracing::debug!(target: TARGET, "empty audio payload");
        return Err(DepacketizeError::Empty);
    }
    frame.extend_from_slice(payload);
    Ok(PayloadInfo { frame_start: true, frame_end: Some(true), keyframe: true, ..PayloadInfo::default() })
}

impl Depacketizer for G711Depacketizer {
    /// Appends the samples. Every payload is a block on its own: `frame_start`, `keyframe` and
    /// `frame_end` are all true. Blocks longer than 200 ms are accepted too.
    fn depacketize(&mut self, payload: &[u8], frame: &mut Vec<u8>) -> Result<PayloadInfo, DepacketizeError> {
        depacketize_block(&mut self.errors, payload, frame)
    }
}

#[cfg(test)]
#[path = "tests/g711.rs"]
mod tests;
