//! Received RTP packets back into frames: [`FrameAssembler`], the receiving counterpart of
//! [`PeerConnection::write_frame`](super::PeerConnection::write_frame).

use alloc::vec::Vec;

use crate::packetize::{
    Depacketizer, av1::Av1Depacketizer, g711::G711Depacketizer, g722::G722Depacketizer, h264::H264Depacketizer,
    h265::H265Depacketizer, opus::OpusDepacketizer, vp8::Vp8Depacketizer, vp9::Vp9Depacketizer,
};

use super::codec::Codec;
use super::frame::Format;
use super::rtp::RtpPacket;

/// Streams (SSRC and payload type) an assembler follows at most; packets of more are dropped and counted.
pub const MAX_ASSEMBLED_STREAMS: usize = 16;
/// The largest frame an assembler builds by default (see [`FrameAssembler::with_max_frame_size`]).
pub const DEFAULT_MAX_FRAME_SIZE: usize = 4 << 20;

/// One payload format's depacketizer.
#[derive(Debug)]
enum Depacketizers {
    Opus(OpusDepacketizer),
    G711(G711Depacketizer),
    G722(G722Depacketizer),
    Vp8(Vp8Depacketizer),
    Vp9(Vp9Depacketizer),
    H264(H264Depacketizer),
    H265(H265Depacketizer),
    Av1(Av1Depacketizer),
}

impl Depacketizers {
    fn new(format: Format) -> Depacketizers {
        match format {
            Format::Opus => Depacketizers::Opus(OpusDepacketizer::new()),
            Format::G711(law) => Depacketizers::G711(G711Depacketizer::new(law)),
            Format::G722 => Depacketizers::G722(G722Depacketizer::new()),
            Format::Vp8 => Depacketizers::Vp8(Vp8Depacketizer::new()),
            Format::Vp9 => Depacketizers::Vp9(Vp9Depacketizer::new()),
            // A mode-0 stream carries single NAL unit packets, which the mode-1 depacketizer reads too.
            Format::H264 | Format::H264SingleNal => Depacketizers::H264(H264Depacketizer::new()),
            Format::H265 => Depacketizers::H265(H265Depacketizer::new()),
            Format::Av1 => Depacketizers::Av1(Av1Depacketizer::new()),
        }
    }

    fn get(&mut self) -> &mut dyn Depacketizer {
        match self {
            Depacketizers::Opus(d) => d,
            Depacketizers::G711(d) => d,
            Depacketizers::G722(d) => d,
            Depacketizers::Vp8(d) => d,
            Depacketizers::Vp9(d) => d,
            Depacketizers::H264(d) => d,
            Depacketizers::H265(d) => d,
            Depacketizers::Av1(d) => d,
        }
    }
}

/// Where a stream is between frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// The next packet opens a frame.
    Between,
    /// A frame with this timestamp is being put together.
    InFrame(u32),
    /// A packet was lost, or one did not parse: everything up to the next packet that ends a frame is
    /// dropped.
    Resync,
}

/// One received stream being put back into frames.
#[derive(Debug)]
struct Stream {
    ssrc: u32,
    payload_type: u8,
    audio: bool,
    depacketizer: Depacketizers,
    /// The sequence number the next packet should have.
    next: Option<u64>,
    state: State,
    frame: Vec<u8>,
    packets: usize,
    keyframe: bool,
}

impl Stream {
    /// Drops the frame being put together; with `resync`, everything up to the next packet that ends a
    /// frame too (the frame dropped is counted then).
    fn abandon(&mut self, stats: &mut AssemblerStats, resync: bool) {
        if !resync && matches!(self.state, State::InFrame(_)) {
            stats.frames_dropped += 1;
        }
        self.frame.clear();
        self.depacketizer.get().reset();
        self.state = if resync { State::Resync } else { State::Between };
    }
}

/// What a [`FrameAssembler`] dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AssemblerStats {
    /// Frames given out.
    pub frames: u64,
    /// Frames dropped: a packet of theirs was lost, did not parse, or they grew past the maximum frame
    /// size (the frames of one run of loss count as one).
    pub frames_dropped: u64,
    /// Packets that arrived after a later one (late, reordered or duplicated), dropped.
    pub late_packets: u64,
    /// Packets whose payload did not parse.
    pub malformed_packets: u64,
    /// Packets of a payload type with no payload format (or not among the codecs given), or of more
    /// streams than [`MAX_ASSEMBLED_STREAMS`].
    pub unhandled_packets: u64,
}

/// A frame put back together by [`FrameAssembler::push`], borrowed from the assembler until the next push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceivedFrame<'a> {
    /// The stream's SSRC.
    pub ssrc: u32,
    /// Its payload type.
    pub payload_type: u8,
    /// The RTP timestamp of the frame's packets.
    pub timestamp: u32,
    /// The codec bitstream, as [`crate::packetize::Depacketizer`] writes it (Annex-B for H.264 and H.265,
    /// OBUs with size fields for AV1).
    pub data: &'a [u8],
    /// How many packets carried it.
    pub packets: usize,
    /// A payload said it starts a frame that decodes on its own (see
    /// [`PayloadInfo::keyframe`](crate::packetize::PayloadInfo::keyframe)).
    pub keyframe: bool,
}

/// Puts the packets of [`Event::Rtp`](super::Event::Rtp) back into frames with the payload format of
/// their negotiated codec (chosen by rtpmap name as [`PeerConnection::write_frame`] does): one assembler
/// per transceiver, made from [`Transceiver::codecs`](super::Transceiver::codecs); hand it each packet in
/// the order the connection gives them.
///
/// A video frame ends with the packet carrying the marker bit; every audio packet is a frame. This is no
/// jitter buffer: packets must come in sequence-number order (a lost packet drops its frame, and the
/// stream resumes with the next payload that says it begins a frame, or after the next packet that ends
/// one; a late or retransmitted packet is dropped), so
/// use it where packets do not reorder, or behind a buffer of the application's that puts them back in
/// order. Buffers are reused: once warm, a frame of a steady size allocates nothing.
///
/// [`PeerConnection::write_frame`]: super::PeerConnection::write_frame
#[derive(Debug)]
pub struct FrameAssembler {
    formats: Vec<(u8, Format)>,
    streams: Vec<Stream>,
    max_frame: usize,
    stats: AssemblerStats,
}

impl FrameAssembler {
    /// An assembler for the payload types of `codecs` (those with a payload format here).
    pub fn new(codecs: &[Codec]) -> FrameAssembler {
        let formats = codecs.iter().filter_map(|c| Some((c.payload_type, Format::of(c)?))).collect();
        FrameAssembler {
            formats,
            streams: Vec::new(),
            max_frame: DEFAULT_MAX_FRAME_SIZE,
            stats: AssemblerStats::default(),
        }
    }

    /// Frames larger than `max` octets are dropped (default [`DEFAULT_MAX_FRAME_SIZE`]).
    pub fn with_max_frame_size(mut self, max: usize) -> FrameAssembler {
        self.max_frame = max;
        self
    }

    /// What was given out and dropped so far.
    pub fn stats(&self) -> AssemblerStats {
        self.stats
    }

    /// Takes one received packet; returns the frame it completes, if it does.
    pub fn push(&mut self, packet: &RtpPacket) -> Option<ReceivedFrame<'_>> {
        let (ssrc, pt) = (packet.ssrc, packet.payload_type);
        let stats = &mut self.stats;
        let i = match self.streams.iter().position(|s| s.ssrc == ssrc && s.payload_type == pt) {
            Some(i) => i,
            None => {
                let format = self.formats.iter().find(|(p, _)| *p == pt).map(|&(_, f)| f);
                let Some(format) = format.filter(|_| self.streams.len() < MAX_ASSEMBLED_STREAMS) else {
                    stats.unhandled_packets += 1;
                    return None;
                };
                self.streams.push(Stream {
                    ssrc,
                    payload_type: pt,
                    audio: matches!(format, Format::Opus | Format::G711(_) | Format::G722),
                    depacketizer: Depacketizers::new(format),
                    next: None,
                    state: State::Between,
                    frame: Vec::new(),
                    packets: 0,
                    keyframe: false,
                });
                self.streams.len() - 1
            }
        };
        let s = self.streams.get_mut(i)?;
        let seq = packet.sequence_number;
        match s.next {
            Some(next) if seq < next => {
                stats.late_packets += 1;
                return None;
            }
            Some(next) if seq > next => s.abandon(stats, true),
            _ => {}
        }
        s.next = Some(seq + 1);
        let ends = s.audio || packet.marker;
        if let State::InFrame(ts) = s.state {
            if ts != packet.timestamp {
                // A new timestamp before the frame ended: its end was never marked.
                s.abandon(stats, false);
            }
        }
        let resync = s.state == State::Resync;
        if s.state == State::Between {
            s.packets = 0;
            s.keyframe = false;
            s.state = State::InFrame(packet.timestamp);
        }
        if resync || s.packets == 0 {
            s.frame.clear();
        }
        match (resync, s.depacketizer.get().depacketize(packet.payload(), &mut s.frame)) {
            (false, Ok(info)) => s.keyframe |= info.keyframe,
            (false, Err(_)) => {
                stats.malformed_packets += 1;
                s.abandon(stats, !ends);
                return None;
            }
            // After a loss, a payload that says it begins a frame (VP8's S bit, VP9's B bit...) starts one.
            (true, Ok(info)) if info.frame_start => {
                stats.frames_dropped += 1;
                s.packets = 0;
                s.keyframe = info.keyframe;
                s.state = State::InFrame(packet.timestamp);
            }
            // Still the frame that lost a packet: dropped up to its end.
            (true, _) => {
                s.frame.clear();
                s.depacketizer.get().reset();
                if ends {
                    stats.frames_dropped += 1;
                    s.state = State::Between;
                }
                return None;
            }
        }
        s.packets += 1;
        if s.frame.len() > self.max_frame {
            s.abandon(stats, !ends);
            return None;
        }
        if !ends {
            return None;
        }
        s.state = State::Between;
        stats.frames += 1;
        Some(ReceivedFrame {
            ssrc,
            payload_type: pt,
            timestamp: packet.timestamp,
            data: &s.frame,
            packets: s.packets,
            keyframe: s.keyframe,
        })
    }
}
