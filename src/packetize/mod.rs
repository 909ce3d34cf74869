//! RTP payload formats: codec frames into RTP payloads and back.
//!
//! A [`Packetizer`] splits one encoded frame into payloads of at most `max_payload` bytes (the caller
//! puts each in an RTP packet, sets the marker bit where [`Payload::marker`] says, and gives every payload
//! of the frame the same timestamp). A [`Depacketizer`] takes the payloads of received packets, in
//! sequence-number order, and appends the codec bitstream they carry to a frame buffer the caller owns,
//! reporting what each payload says about its frame ([`PayloadInfo`]: start, key frame, picture id,
//! layers). Both reuse their buffers: once warm, neither allocates. A sender that writes payloads straight
//! into its packets can take each one as a header and a body borrowed from the frame
//! ([`Packetizer::packetize_parts`]), and so copy the frame's bytes once.
//!
//! Each format also has a borrowed view of its payload header (the VP8 payload descriptor, the NAL units
//! of an H.264 aggregation packet...), so that a forwarding unit can read key frames, layers and picture
//! ids without copying.
//!
//! Bad input is an error value, never a panic: each depacketizer counts the malformed payloads it has seen
//! (`errors()`) and logs them at `debug` under the target `sansrtc::packetize`.
//!
//! The formats:
//! - [`opus`]: Opus (RFC 7587), with the TOC parse of RFC 6716 §3.1 for the packet's duration;
//! - [`g711`]: PCMU and PCMA (RFC 3551 §4.5.14);
//! - [`g722`]: G.722 (RFC 3551 §4.5.2), whose RTP clock runs at 8000 Hz for 16 kHz audio;
//! - [`vp8`]: VP8 (RFC 7741);
//! - [`vp9`]: VP9 (RFC 9628), with the scalability structure;
//! - [`h264`]: H.264 (RFC 6184) in packetization mode 1, Annex-B frames in and out;
//! - [`h265`]: H.265 (RFC 7798), Annex-B frames in and out;
//! - [`av1`]: AV1 (the AOM RTP payload format), OBUs with their size fields in and out ([`leb128`] sizes).
//! - [`red`]: redundant audio (RFC 2198), which WebRTC uses to protect Opus;
//! - [`dtmf`]: telephone events (RFC 4733), with a sender that paces a tone string and a receiver that
//!   reports each digit once.
//!
//! ```
//! use sansrtc::packetize::{Depacketizer, Packetizer, vp8};
//!
//! let frame = vec![0x10u8; 3000]; // an encoded VP8 frame (P bit clear: a key frame)
//! let mut packetizer = vp8::Vp8Packetizer::new(100);
//! let mut payloads: Vec<(Vec<u8>, bool)> = Vec::new();
//! let n = packetizer.packetize(&frame, 1200, &mut |p| payloads.push((p.data.to_vec(), p.marker)))?;
//! assert_eq!(n, 3);
//! assert!(payloads.iter().all(|(data, _)| data.len() <= 1200));
//! assert!(payloads[2].1, "marker on the last payload");
//!
//! let mut depacketizer = vp8::Vp8Depacketizer::new();
//! let mut received = Vec::new();
//! for (i, (data, _)) in payloads.iter().enumerate() {
//!     let info = depacketizer.depacketize(data, &mut received).expect("well formed");
//!     assert_eq!(info.frame_start, i == 0);
//!     assert_eq!(info.picture_id, Some(100));
//! }
//! assert_eq!(received, frame);
//! # Ok::<(), sansrtc::packetize::PacketizeError>(())
//! ```

use core::fmt;

pub mod av1;
pub mod dtmf;
pub mod g711;
pub mod g722;
pub mod h264;
pub mod h265;
pub mod leb128;
pub mod opus;
pub mod red;
pub mod vp8;
pub mod vp9;

/// The `tracing` target of the payload formats.
pub(crate) const TARGET: &str = "sansrtc::packetize";

/// The length of chunk `index` when `len` octets are split into `parts` chunks as evenly as possible (the
/// first `len % parts` chunks are one octet longer).
pub(crate) fn even_chunk(len: usize, parts: usize, index: usize) -> usize {
    len / parts + usize::from(index < len % parts)
}

/// One RTP payload produced by a packetizer. `data` borrows the packetizer's scratch buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload<'a> {
    /// The payload bytes (payload descriptor or header included).
    pub data: &'a [u8],
    /// The last payload of the frame: set the RTP marker bit.
    pub marker: bool,
}

/// One RTP payload in two parts, for a caller that writes it straight into its packet: the payload
/// format's header, written by the packetizer, then a body borrowed from the frame. The payload is `header`
/// followed by `body`; either may be empty. See [`Packetizer::packetize_parts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadParts<'a> {
    /// The payload descriptor or header (or, from the default method, the whole payload).
    pub header: &'a [u8],
    /// The frame's bytes after it, borrowed from the frame.
    pub body: &'a [u8],
    /// The last payload of the frame: set the RTP marker bit.
    pub marker: bool,
}

impl PayloadParts<'_> {
    /// The payload's length: header and body.
    pub fn len(&self) -> usize {
        self.header.len() + self.body.len()
    }

    /// Whether both parts are empty (a packetizer never emits such a payload).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
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

    /// The same payloads as [`Packetizer::packetize`] (same count, markers and errors, and the same state
    /// change, such as a picture id moving on), each handed over as a header and a body borrowed from
    /// `frame` ([`PayloadParts`]). A caller that writes `header` then `body` into its packet copies the
    /// frame's bytes once, where `packetize` copies them twice (into the packetizer's scratch buffer, then
    /// into the packet). The default goes through `packetize`: the whole payload as `header`, `body` empty;
    /// formats whose payloads are a header before a run of the frame's bytes (VP8) override it.
    fn packetize_parts(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        emit: &mut dyn FnMut(PayloadParts<'_>),
    ) -> Result<usize, PacketizeError> {
        self.packetize(frame, max_payload, &mut |p| emit(PayloadParts { header: p.data, body: &[], marker: p.marker }))
    }
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

/// Turns RTP payloads back into codec frames.
pub trait Depacketizer {
    /// Parses one RTP payload and appends the codec bitstream it carries to `frame` (descriptors stripped;
    /// Annex-B start codes restored for H.264/H.265; OBUs in low-overhead format with sizes for AV1).
    /// On error nothing is appended. State kept between payloads (for FU-A, AV1 fragments...) is bounded.
    fn depacketize(&mut self, payload: &[u8], frame: &mut alloc::vec::Vec<u8>)
    -> Result<PayloadInfo, DepacketizeError>;
    /// Forgets partial state (a packet was lost or a new frame begins).
    fn reset(&mut self) {}
}

/// A boxed depacketizer (`Box<dyn Depacketizer>`, chosen at run time by codec) is one too.
impl<D: Depacketizer + ?Sized> Depacketizer for alloc::boxed::Box<D> {
    fn depacketize(
        &mut self,
        payload: &[u8],
        frame: &mut alloc::vec::Vec<u8>,
    ) -> Result<PayloadInfo, DepacketizeError> {
        (**self).depacketize(payload, frame)
    }

    fn reset(&mut self) {
        (**self).reset();
    }
}

/// Why a frame could not be packetized (API misuse or a frame the format cannot carry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PacketizeError {
    /// `max_payload` is too small to carry any data with this format's header.
    MtuTooSmall,
    /// The frame is empty or not in the format the packetizer expects.
    BadFrame,
}

impl fmt::Display for PacketizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PacketizeError::MtuTooSmall => f.write_str("maximum payload size too small for this payload format"),
            PacketizeError::BadFrame => f.write_str("frame empty or not in the expected bitstream format"),
        }
    }
}

impl core::error::Error for PacketizeError {}

/// Why an RTP payload could not be depacketized (malformed peer input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DepacketizeError {
    /// The payload is empty.
    Empty,
    /// The payload ends inside a header or descriptor, or carries no data after it.
    Truncated,
    /// A length field runs past the end.
    BadLength,
    /// A reserved or invalid value (bad NAL type, bad scalability structure, bad leb128...).
    Malformed,
    /// A fragment arrived without its start, or a fragment run grew past the bound.
    BadFragment,
    /// A valid structure this depacketizer does not handle (an H.264 STAP-B, MTAP or FU-B...).
    Unsupported,
}

impl fmt::Display for DepacketizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DepacketizeError::Empty => f.write_str("empty RTP payload"),
            DepacketizeError::Truncated => f.write_str("RTP payload truncated"),
            DepacketizeError::BadLength => f.write_str("length field runs past the end of the RTP payload"),
            DepacketizeError::Malformed => f.write_str("reserved or invalid value in the RTP payload"),
            DepacketizeError::BadFragment => f.write_str("fragment without its start, or fragment run too long"),
            DepacketizeError::Unsupported => f.write_str("payload structure not supported"),
        }
    }
}

impl core::error::Error for DepacketizeError {}
