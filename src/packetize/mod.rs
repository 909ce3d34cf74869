//! RTP payload formats: codec frames split into RTP payloads and put back together.
//!
//! A [`Packetizer`] takes one encoded frame and hands out payloads of at most `max_payload` bytes (the
//! last one marked for the RTP marker bit); a [`Depacketizer`] takes payloads in sequence-number order and
//! appends the codec bitstream they carry to the caller's frame buffer, saying in a [`PayloadInfo`] where
//! frames begin and whether they decode on their own. Neither reads the RTP header: the caller owns
//! sequence numbers, timestamps and loss detection (and calls [`Depacketizer::reset`] on a gap).
//!
//! Each codec also offers a borrowed parse of its payload header, so that a forwarding server can read
//! key frames, layers and picture ids without copying.

use core::fmt;

pub mod av1;
pub mod h265;
pub mod leb128;
pub mod vp9;

/// One RTP payload produced by a packetizer. `data` borrows the packetizer's scratch buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload<'a> {
    /// The payload bytes.
    pub data: &'a [u8],
    /// The last payload of the frame: set the RTP marker bit.
    pub marker: bool,
}

/// Splits encoded frames into RTP payloads.
pub trait Packetizer {
    /// Splits one encoded frame (codec bitstream as the encoder produced it; Annex-B for H.264/H.265, a
    /// temporal unit of OBUs in low-overhead format for AV1) into RTP payloads of at most `max_payload` bytes,
    /// in order, handing each to `emit`. Returns the number of payloads. Reuses internal buffers: no
    /// allocation once warm.
    fn packetize(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        emit: &mut dyn FnMut(Payload<'_>),
    ) -> Result<usize, PacketizeError>;
}

/// What one RTP payload says about the frame it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PayloadInfo {
    /// The payload begins a frame (VP8 S=1 and PID=0, VP9 B, H.264 first NAL / FU-A start, AV1 first OBU...).
    pub frame_start: bool,
    /// The payload format says the frame ends here (VP9 E bit); `None` when only the RTP marker says so.
    pub frame_end: Option<bool>,
    /// The payload starts a frame that decodes on its own (VP8 P=0, VP9 !P && B at spatial 0, H.264 IDR/SPS,
    /// H.265 IRAP, AV1 N bit / sequence header).
    pub keyframe: bool,
    /// Picture id where the format carries one (VP8/VP9), else `None`.
    pub picture_id: Option<u16>,
    /// Spatial layer id where the format carries one, else 0.
    pub spatial_layer: u8,
    /// Temporal layer id where the format carries one, else 0.
    pub temporal_layer: u8,
}

/// Puts RTP payloads back together into codec frames.
pub trait Depacketizer {
    /// Parses one RTP payload and appends the codec bitstream it carries to `frame` (descriptors stripped;
    /// Annex-B start codes restored for H.264/H.265; OBUs in low-overhead format with sizes for AV1).
    /// On error nothing is appended. State kept between payloads (for FU-A, AV1 fragments...) is bounded.
    fn depacketize(&mut self, payload: &[u8], frame: &mut alloc::vec::Vec<u8>)
    -> Result<PayloadInfo, DepacketizeError>;
    /// Forgets partial state (a packet was lost or a new frame begins).
    fn reset(&mut self) {}
}

/// Why a frame could not be packetized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PacketizeError {
    /// `max_payload` is too small to carry any data with this format's header.
    MtuTooSmall,
    /// The frame is empty or not in the format the packetizer expects.
    BadFrame,
}

/// Why an RTP payload was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DepacketizeError {
    /// The payload is empty.
    Empty,
    /// The payload ends inside its header or descriptor.
    Truncated,
    /// A length field runs past the end.
    BadLength,
    /// A reserved or invalid value (bad NAL type, bad scalability structure, bad leb128...).
    Malformed,
    /// A fragment arrived without its start, or a fragment run grew past the bound.
    BadFragment,
    /// A valid construct this implementation does not handle.
    Unsupported,
}

impl fmt::Display for PacketizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PacketizeError::MtuTooSmall => "maximum payload size too small for the payload format",
            PacketizeError::BadFrame => "empty or malformed frame",
        })
    }
}

impl fmt::Display for DepacketizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DepacketizeError::Empty => "empty RTP payload",
            DepacketizeError::Truncated => "RTP payload header truncated",
            DepacketizeError::BadLength => "length field runs past the end of the payload",
            DepacketizeError::Malformed => "malformed RTP payload",
            DepacketizeError::BadFragment => "fragment without its start, or fragment too long",
            DepacketizeError::Unsupported => "unsupported RTP payload construct",
        })
    }
}

impl core::error::Error for PacketizeError {}
impl core::error::Error for DepacketizeError {}
