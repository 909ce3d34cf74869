//! Opus over RTP (RFC 7587).
//!
//! An RTP payload carries exactly one Opus packet (RFC 7587 §4.2), never a fragment of one, so packetizing
//! is checking: the packet must be a valid RFC 6716 packet (§3.4 requirements R1 to R5: at least one byte,
//! the frame-count and length fields present and consistent, at most 120 ms of audio) and fit in
//! `max_payload`. The RTP timestamp advances at 48000 Hz whatever the audio bandwidth (RFC 7587 §4.1), by
//! [`packet_samples`] per packet.
//!
//! The RTP marker bit marks the first packet of a talkspurt (RFC 3551 §4.1), which only the caller knows:
//! the packetizer leaves it clear unless [`OpusPacketizer::start_talkspurt`] was called.
#![deny(clippy::indexing_slicing)]

use alloc::vec::Vec;

use super::{DepacketizeError, Depacketizer, PacketizeError, Packetizer, Payload, PayloadInfo, TARGET};

/// The RTP clock rate of Opus in every mode (RFC 7587 §4.1).
pub const CLOCK_RATE: u32 = 48_000;

/// The longest Opus packet, 120 ms, in 48 kHz samples (RFC 6716 §3.2.5, RFC 7587 §4.2).
pub const MAX_PACKET_SAMPLES: u32 = 5760;

/// The coding mode a TOC configuration selects (RFC 6716 §3.1, Table 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Linear prediction (configurations 0 to 11).
    Silk,
    /// Both layers (12 to 15).
    Hybrid,
    /// MDCT (16 to 31).
    Celt,
}

/// The audio bandwidth a TOC configuration selects (RFC 6716 §2, Table 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bandwidth {
    /// 4 kHz, 8 kHz sampling.
    Narrow,
    /// 6 kHz, 12 kHz sampling.
    Medium,
    /// 8 kHz, 16 kHz sampling.
    Wide,
    /// 12 kHz, 24 kHz sampling.
    SuperWide,
    /// 20 kHz, 48 kHz sampling.
    Full,
}

/// The table-of-contents byte that opens every Opus packet (RFC 6716 §3.1).
///
/// ```text
///  0 1 2 3 4 5 6 7
/// +-+-+-+-+-+-+-+-+
/// | config  |s| c |
/// +-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Toc(pub u8);

impl Toc {
    /// The configuration number, 0 to 31.
    pub fn config(self) -> u8 {
        self.0 >> 3
    }

    /// The `s` bit: stereo.
    pub fn stereo(self) -> bool {
        self.0 & 0x04 != 0
    }

    /// The frame-count code `c`, 0 to 3 (one frame, two equal, two different, an arbitrary number).
    pub fn code(self) -> u8 {
        self.0 & 0x03
    }

    /// The coding mode.
    pub fn mode(self) -> Mode {
        match self.config() {
            0..=11 => Mode::Silk,
            12..=15 => Mode::Hybrid,
            _ => Mode::Celt,
        }
    }

    /// The audio bandwidth.
    pub fn bandwidth(self) -> Bandwidth {
        match self.config() {
            0..=3 | 16..=19 => Bandwidth::Narrow,
            4..=7 => Bandwidth::Medium,
            8..=11 | 20..=23 => Bandwidth::Wide,
            12..=13 | 24..=27 => Bandwidth::SuperWide,
            _ => Bandwidth::Full,
        }
    }

    /// The duration of one frame in 48 kHz samples: 120 (2.5 ms), 240, 480, 960, 1920 or 2880 (60 ms).
    pub fn frame_samples(self) -> u32 {
        let c = self.config();
        let ms_index = match self.mode() {
            // Hybrid: 10, 20 ms.
            Mode::Hybrid => (c & 1) + 2,
            // CELT: 2.5, 5, 10, 20 ms.
            Mode::Celt => c & 3,
            // SILK: 10, 20, 40, 60 ms.
            Mode::Silk => (c & 3) + 2,
        };
        // 2.5, 5, 10, 20, 40, 60 ms.
        match ms_index {
            0 => 120,
            1 => 240,
            2 => 480,
            3 => 960,
            4 => 1920,
            _ => 2880,
        }
    }
}

/// The number of frames in an Opus packet and its duration in 48 kHz samples (the RTP timestamp
/// increment), checking RFC 6716 §3.4's requirements R1 to R5 (R6 and R7, about code 3's padding and
/// frame lengths, are the decoder's). `None` when the packet is invalid.
pub fn packet_frames(packet: &[u8]) -> Option<(u8, u32)> {
    let (&toc, rest) = packet.split_first()?; // R1: at least one byte.
    let toc = Toc(toc);
    let frames: u8 = match toc.code() {
        0 => 1,
        // R3: two frames of equal size, so the rest is even.
        1 => {
            if rest.len() % 2 != 0 {
                return None;
            }
            2
        }
        // R4: the first frame's length (one or two bytes, §3.2.1) fits in what follows.
        2 => {
            let (len, header) = match rest {
                [] => return None,
                [b, ..] if *b < 252 => (usize::from(*b), 1),
                [b0, b1, ..] => (usize::from(*b0) + 4 * usize::from(*b1), 2),
                [_] => return None,
            };
            if header + len > rest.len() {
                return None;
            }
            2
        }
        // R5: a frame-count byte, at least one frame, at most 120 ms.
        _ => {
            let count = rest.first()? & 0x3f;
            if count == 0 {
                return None;
            }
            count
        }
    };
    let samples = u32::from(frames) * toc.frame_samples();
    (samples <= MAX_PACKET_SAMPLES).then_some((frames, samples))
}

/// The duration of an Opus packet in 48 kHz samples, which is how far the RTP timestamp advances for it
/// (RFC 7587 §4.2, Table 2: the sum of its frames' increments). `None` when the packet is invalid.
pub fn packet_samples(packet: &[u8]) -> Option<u32> {
    packet_frames(packet).map(|(_, samples)| samples)
}

/// Opus packets into RTP payloads: one packet each, checked, not copied.
#[derive(Debug, Default)]
pub struct OpusPacketizer {
    talkspurt: bool,
}

impl OpusPacketizer {
    /// A packetizer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the next payload as the first of a talkspurt (RTP marker bit, RFC 3551 §4.1), after silence
    /// that was not sent (discontinuous transmission).
    pub fn start_talkspurt(&mut self) {
        self.talkspurt = true;
    }
}

impl Packetizer for OpusPacketizer {
    /// Hands on `frame`, one Opus packet, as one payload. [`PacketizeError::BadFrame`] when it is not a valid
    /// packet of at most 120 ms; [`PacketizeError::MtuTooSmall`] when it exceeds `max_payload` (an Opus
    /// packet is never fragmented).
    fn packetize(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        emit: &mut dyn FnMut(Payload<'_>),
    ) -> Result<usize, PacketizeError> {
        packet_frames(frame).ok_or(PacketizeError::BadFrame)?;
        if frame.len() > max_payload {
            return Err(PacketizeError::MtuTooSmall);
        }
        emit(Payload { data: frame, marker: core::mem::take(&mut self.talkspurt) });
        Ok(1)
    }
}

/// RTP payloads back into Opus packets, each checked as [`packet_frames`] does.
#[derive(Debug, Default)]
pub struct OpusDepacketizer {
    errors: u64,
}

impl OpusDepacketizer {
    /// A depacketizer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Malformed payloads seen.
    pub fn errors(&self) -> u64 {
        self.errors
    }
}

impl Depacketizer for OpusDepacketizer {
    /// Appends the Opus packet. Every payload is a whole packet that decodes on its own: `frame_start`,
    /// `keyframe` and `frame_end` are all true.
    fn depacketize(&mut self, payload: &[u8], frame: &mut Vec<u8>) -> Result<PayloadInfo, DepacketizeError> {
        let checked = match payload {
            [] => Err(DepacketizeError::Empty),
            _ => packet_frames(payload).ok_or(DepacketizeError::Malformed),
        };
        if let Err(e) = checked {
            self.errors += 1;
            tracing::debug!(target: TARGET, error = %e, len = payload.len(), "bad Opus payload");
            return Err(e);
        }
        frame.extend_from_slice(payload);
        Ok(PayloadInfo { frame_start: true, frame_end: Some(true), keyframe: true, ..PayloadInfo::default() })
    }
}

#[cfg(test)]
#[path = "tests/opus.rs"]
mod tests;
