//! Encoded frames on a transceiver: [`PeerConnection::write_frame`] packetizes a frame with the payload
//! format of its negotiated codec ([`crate::packetize`]) and sends each payload as
//! [`PeerConnection::write_rtp`] does, its header and body ([`Packetizer::packetize_parts`]) written straight
//! into the packet, so that the frame's bytes are copied once.
//!
//! The packetizers are kept per transceiver, encoding (SSRC) and payload type, made on first use and
//! reused, so the state a format carries from frame to frame lives on: the VP8 and VP9 picture ids (whose
//! start is drawn from the connection's generator), the H.264 and H.265 parameter sets repeated ahead of
//! a key frame sent without them, the AV1 sequence header. A renegotiation forgets the packetizers of
//! stopped transceivers, of streams gone and of payload types no longer negotiated.

use crate::packetize::{
    PacketizeError, Packetizer, PayloadParts, av1::Av1Packetizer, g711, g722::G722Packetizer, h264,
    h265::H265Packetizer, opus::OpusPacketizer, vp8::Vp8Packetizer, vp9::Vp9Packetizer,
};
use crate::rtp::{ExtensionForm, ExtensionKind, ExtensionValue};
use crate::time::Instant;

use super::codec::Codec;
use super::conn::PeerConnection;
use super::error::Error;
use super::rtp::OutgoingRtp;
use super::transceiver::{Negotiated, TransceiverId};

/// The RTP fixed header (RFC 3550 §5.1), without CSRCs.
const RTP_HEADER: usize = 12;
/// The original sequence number an RTX packet puts ahead of the payload (RFC 4588 §4).
const RTX_HEADER: usize = 2;
/// The transport-wide sequence number's data.
const TWCC_LEN: usize = 2;

/// An encoded frame for [`PeerConnection::write_frame`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutgoingFrame<'a> {
    /// A negotiated payload type of the transceiver, or `None` for its first negotiated codec (the one the
    /// answer preferred).
    pub payload_type: Option<u8>,
    /// The RTP timestamp every packet of the frame carries.
    pub timestamp: u32,
    /// The frame as the encoder produced it: one Opus packet; G.711 or G.722 octets; a VP8 or VP9 frame;
    /// an H.264 or H.265 access unit in Annex-B form; an AV1 temporal unit of OBUs (see
    /// [`crate::packetize`]).
    pub data: &'a [u8],
    /// Header extensions put on every packet of the frame (as [`OutgoingRtp::extensions`]).
    pub extensions: &'a [ExtensionValue<'a>],
    /// The encoding to send on, by rid (simulcast); `None` for the first.
    pub rid: Option<&'a str>,
}

impl<'a> OutgoingFrame<'a> {
    /// A frame on the transceiver's first codec, with no extensions, on its first encoding.
    pub fn new(timestamp: u32, data: &'a [u8]) -> Self {
        OutgoingFrame { payload_type: None, timestamp, data, extensions: &[], rid: None }
    }
}

/// What [`PeerConnection::write_frame`] sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SentFrame {
    /// The SSRC the packets went out on.
    pub ssrc: u32,
    /// Their payload type.
    pub payload_type: u8,
    /// How many packets.
    pub packets: usize,
    /// The first packet's sequence number.
    pub first_sequence_number: u16,
    /// The last packet's sequence number (the one with the marker bit, for video).
    pub last_sequence_number: u16,
}

/// The payload format of a codec, by its rtpmap name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    Opus,
    G711(g711::Law),
    G722,
    Vp8,
    Vp9,
    /// Packetization mode 1 (RFC 6184 §6.3).
    H264,
    /// Packetization mode 0 (RFC 6184 §6.2): each NAL unit in a packet of its own.
    H264SingleNal,
    H265,
    Av1,
}

impl Format {
    /// The format of `codec`, if it has one here.
    pub(super) fn of(codec: &Codec) -> Option<Format> {
        let is = |name: &str| codec.name.eq_ignore_ascii_case(name);
        Some(if is("opus") {
            Format::Opus
        } else if is("PCMU") {
            Format::G711(g711::Law::Mu)
        } else if is("PCMA") {
            Format::G711(g711::Law::A)
        } else if is("G722") {
            Format::G722
        } else if is("VP8") {
            Format::Vp8
        } else if is("VP9") {
            Format::Vp9
        } else if is("H265") {
            Format::H265
        } else if is("AV1") {
            Format::Av1
        } else if let Some(params) = codec.h264_params() {
            match params.packetization_mode {
                0 => Format::H264SingleNal,
                1 => Format::H264,
                _ => return None,
            }
        } else {
            return None;
        })
    }
}

/// One payload format's packetizer.
#[derive(Debug)]
enum Packetizers {
    Opus(OpusPacketizer),
    G711(g711::G711Packetizer),
    G722(G722Packetizer),
    Vp8(Vp8Packetizer),
    Vp9(Vp9Packetizer),
    H264(h264::H264Packetizer),
    H264SingleNal,
    H265(H265Packetizer),
    Av1(Av1Packetizer),
}

impl Packetizers {
    /// A packetizer for `format`; picture ids start at `picture_id`.
    /// An audio stream's first packet opens a talkspurt (RFC 3551 §4.1: the marker bit).
    fn new(format: Format, picture_id: u16) -> Packetizers {
        match format {
            Format::Opus => {
                let mut p = OpusPacketizer::new();
                p.start_talkspurt();
                Packetizers::Opus(p)
            }
            Format::G711(law) => {
                let mut p = g711::G711Packetizer::new(law);
                p.start_talkspurt();
                Packetizers::G711(p)
            }
            Format::G722 => {
                let mut p = G722Packetizer::new();
                p.start_talkspurt();
                Packetizers::G722(p)
            }
            Format::Vp8 => Packetizers::Vp8(Vp8Packetizer::new(picture_id)),
            Format::Vp9 => Packetizers::Vp9(Vp9Packetizer::new(picture_id)),
            Format::H264 => Packetizers::H264(h264::H264Packetizer::new()),
            Format::H264SingleNal => Packetizers::H264SingleNal,
            Format::H265 => Packetizers::H265(H265Packetizer::new()),
            Format::Av1 => Packetizers::Av1(Av1Packetizer::new()),
        }
    }

    /// The frame's payloads, each as a header and a body ([`Packetizer::packetize_parts`]), for writing
    /// straight into its packet: formats whose payloads are a header before a run of the frame (VP8,
    /// H.264) copy nothing here.
    fn packetize_parts(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        emit: &mut dyn FnMut(PayloadParts<'_>),
    ) -> Result<usize, Error> {
        let r = match self {
            Packetizers::Opus(p) => p.packetize_parts(frame, max_payload, emit),
            Packetizers::G711(p) => p.packetize_parts(frame, max_payload, emit),
            Packetizers::G722(p) => p.packetize_parts(frame, max_payload, emit),
            Packetizers::Vp8(p) => p.packetize_parts(frame, max_payload, emit),
            Packetizers::Vp9(p) => p.packetize_parts(frame, max_payload, emit),
            Packetizers::H264(p) => p.packetize_parts(frame, max_payload, emit),
            Packetizers::H264SingleNal => return single_nal_units(frame, max_payload, emit),
            Packetizers::H265(p) => p.packetize_parts(frame, max_payload, emit),
            Packetizers::Av1(p) => p.packetize_parts(frame, max_payload, emit),
        };
        r.map_err(Error::Packetize)
    }
}

/// H.264 packetization mode 0 (RFC 6184 §6.2): each NAL unit of the access unit as a single NAL unit
/// packet, the marker on the last. Every unit is checked before any is handed on: one larger than
/// `max_payload` is [`Error::FrameTooLarge`] (mode 0 cannot fragment).
fn single_nal_units(frame: &[u8], max_payload: usize, emit: &mut dyn FnMut(PayloadParts<'_>)) -> Result<usize, Error> {
    let units = h264::AnnexB::new(frame).map_err(Error::Packetize)?;
    let mut count = 0;
    for nal in units.clone() {
        let t = nal.first().map_or(0, |&h| h264::nal_unit_type(h));
        if !(1..=23).contains(&t) {
            return Err(Error::Packetize(PacketizeError::BadFrame));
        }
        if nal.len() > max_payload {
            return Err(Error::FrameTooLarge);
        }
        count += 1;
    }
    if count == 0 {
        return Err(Error::Packetize(PacketizeError::BadFrame));
    }
    for (i, nal) in units.enumerate() {
        emit(PayloadParts { header: &[], body: nal, marker: i + 1 == count });
    }
    Ok(count)
}

/// The packetizer of one stream (transceiver, SSRC) and payload type.
#[derive(Debug)]
pub(super) struct FramePacketizer {
    transceiver: TransceiverId,
    ssrc: u32,
    payload_type: u8,
    format: Format,
    packetizer: Packetizers,
}

/// The length of the header extension block a packet of the frame carries, at most: the MID and RID the
/// connection adds, the transport-wide sequence number the RTP session adds when it is negotiated, and
/// the extensions given that were negotiated for sending (RFC 8285 §4: the one-byte form when every
/// element fits it, else the two-byte form; padded to 32 bits).
fn extension_block_len(n: &Negotiated, mid: Option<&str>, rid: Option<&str>, given: &[ExtensionValue<'_>]) -> usize {
    // Octets of the elements' data, their count, and whether the one-byte form carries them all.
    let (mut data_len, mut count, mut one_byte) = (0usize, 0usize, true);
    let mut add = |id: u8, len: usize| {
        data_len += len;
        count += 1;
        one_byte &= ExtensionForm::OneByte.can_carry(id, len);
    };
    if let (Some(id), Some(mid)) = (n.send_id(ExtensionKind::Mid), mid) {
        add(id, mid.len());
    }
    if let (Some(id), Some(rid)) = (n.send_id(ExtensionKind::RtpStreamId), rid) {
        add(id, rid.len());
    }
    if let Some(id) = n.map.id(ExtensionKind::TransportWideCc) {
        add(id, TWCC_LEN);
    }
    let mut data = [0u8; 255];
    for v in given {
        let id = match v {
            ExtensionValue::Raw(e) => Some(e.id),
            ExtensionValue::Mid(_)
            | ExtensionValue::RtpStreamId(_)
            | ExtensionValue::RepairedRtpStreamId(_)
            | ExtensionValue::TransportWideCc(_) => None,
            v => v.kind().and_then(|k| n.send_id(k)),
        };
        if let (Some(id), Ok(len)) = (id, v.encode(&mut data)) {
            add(id, len);
        }
    }
    if count == 0 {
        return 0;
    }
    let per_element = if one_byte { 1 } else { 2 };
    4 + (data_len + count * per_element).next_multiple_of(4)
}

impl PeerConnection {
    /// Sends one encoded frame on the transceiver of m-section `mid` (which must be negotiated to send):
    /// packetizes it with the payload format of the codec of `frame.payload_type` (or the transceiver's
    /// first negotiated codec), by the codec's rtpmap name — `opus`, `PCMU`, `PCMA`, `G722`, `VP8`, `VP9`,
    /// `H264` (packetization mode 1; mode 0 sends each NAL unit in a packet of its own, and a unit larger
    /// than a packet is [`Error::FrameTooLarge`]), `H265`, `AV1` — and sends each payload with
    /// [`PeerConnection::write_rtp`], all with `frame.timestamp` and `frame.extensions`, consecutive
    /// sequence numbers, and the marker bit where the format says (the last packet of a video frame; for
    /// audio the first packet of a talkspurt, RFC 3551 §4.1, here the stream's first packet).
    ///
    /// Payloads are sized so that each SRTP packet fits [`super::Config::media_mtu`]: the MTU less the RTP
    /// header, the header extensions the packets carry (MID, RID, transport-wide CC, those given), the
    /// SRTP tag of the negotiated profile and, when the codec has RTX, the two octets an RTX
    /// retransmission adds.
    ///
    /// The packetizer is kept per transceiver, encoding and payload type, made on first use (a VP8 or VP9
    /// picture id starts at a value from the connection's generator) and reused: once warm, a frame of a
    /// steady size allocates nothing.
    ///
    /// Errors, with nothing sent: [`Error::NoSuchTransceiver`], [`Error::NotSending`],
    /// [`Error::InvalidParameter`] (a payload type not negotiated, or an RTX one; an unknown rid, or one
    /// the answer did not accept),
    /// [`Error::EncodingInactive`] (an encoding turned off with [`PeerConnection::set_encoding_active`]),
    /// [`Error::UnsupportedCodec`] (a codec without a payload format here, telephone-event for one),
    /// [`Error::Packetize`] (an empty frame, a bitstream the format cannot read, an MTU too small),
    /// [`Error::FrameTooLarge`], [`Error::NotConnected`] before SRTP is keyed. A transport failure while
    /// sending ([`Error::NotConnected`] without a selected pair, [`Error::Srtp`]) stops the frame there.
    /// Then drain `poll_transmit`.
    ///
    /// ```
    /// use sansrtc::packetize::{Depacketizer, vp8::Vp8Depacketizer};
    /// use sansrtc::pc::{Config, Direction, Event, MediaKind, OutgoingFrame, PeerConnection, TransceiverInit};
    /// use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};
    ///
    /// let mut now = Instant::ZERO;
    /// let mut a = PeerConnection::new(Config::default(), SeededRng::from_seed([1; 32]));
    /// let mut b = PeerConnection::new(Config::default(), SeededRng::from_seed([2; 32]));
    /// a.add_transceiver(now, MediaKind::Video, TransceiverInit::with_direction(Direction::SendOnly))?;
    /// # a.add_local_host(now, "10.0.0.1:5000".parse().unwrap())?;
    /// # b.add_local_host(now, "10.0.0.2:5000".parse().unwrap())?;
    /// # a.end_of_local_candidates(now);
    /// # b.end_of_local_candidates(now);
    /// # let offer = a.create_offer()?;
    /// # a.set_local_description(now, &offer)?;
    /// # b.set_remote_description(now, &offer)?;
    /// # let answer = b.create_answer()?;
    /// # b.set_local_description(now, &answer)?;
    /// # a.set_remote_description(now, &answer)?;
    /// # fn pump(now: Instant, from: &mut PeerConnection, to: &mut PeerConnection) -> bool {
    /// #     let mut moved = false;
    /// #     while let Some(t) = from.poll_transmit() {
    /// #         let (source, destination, contents) = (t.source, t.destination, t.contents.to_vec());
    /// #         let _ = to.handle_receive(now, Datagram { source, destination, contents: &contents });
    /// #         moved = true;
    /// #     }
    /// #     moved
    /// # }
    /// # while a.srtp_profile().is_none() || b.srtp_profile().is_none() {
    /// #     if !(pump(now, &mut a, &mut b) | pump(now, &mut b, &mut a)) {
    /// #         now = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min().unwrap().max(now);
    /// #         a.handle_timeout(now);
    /// #         b.handle_timeout(now);
    /// #     }
    /// # }
    /// # while b.poll_event().is_some() {}
    /// // ... the offer/answer and the README loop until both are connected; then, for each encoded frame:
    /// let frame = vec![0x10u8; 3000]; // a VP8 key frame
    /// let sent = a.write_frame(now, "0", &OutgoingFrame::new(90_000, &frame))?;
    /// assert_eq!(sent.packets, 3);
    /// # // The pacer lets the packets go over the next milliseconds: follow `poll_timeout`.
    /// # for _ in 0..1000 {
    /// #     pump(now, &mut a, &mut b);
    /// #     let Some(t) = a.poll_timeout() else { break };
    /// #     if t > now + core::time::Duration::from_millis(50) {
    /// #         break;
    /// #     }
    /// #     now = t.max(now);
    /// #     a.handle_timeout(now);
    /// # }
    /// // ... `a`'s transmits go out; `b` gets them as `Event::Rtp` and puts the frame back together.
    /// let (mut depacketizer, mut received) = (Vp8Depacketizer::new(), Vec::new());
    /// while let Some(event) = b.poll_event() {
    ///     if let Event::Rtp(packet) = event {
    ///         depacketizer.depacketize(packet.payload(), &mut received).expect("well formed");
    ///     }
    /// }
    /// assert_eq!(received, frame);
    /// # Ok::<(), sansrtc::pc::Error>(())
    /// ```
    pub fn write_frame(&mut self, now: Instant, mid: &str, frame: &OutgoingFrame<'_>) -> Result<SentFrame, Error> {
        self.touch(now);
        let now = self.now();
        self.check_open()?;
        if !self.media.keyed() {
            return Err(Error::NotConnected);
        }
        let t = self.transceivers.by_mid(mid).ok_or(Error::NoSuchTransceiver)?;
        if !t.sends() {
            return Err(Error::NotSending);
        }
        let n = t.negotiated.as_ref().ok_or(Error::NotSending)?;
        let codec = match frame.payload_type {
            Some(pt) => match n.codec(pt) {
                Some((codec, false)) => codec,
                _ => return Err(Error::InvalidParameter),
            },
            None => n.codecs.first().ok_or(Error::NotSending)?,
        };
        let enc = match frame.rid {
            Some(rid) => t.encodings.iter().find(|e| e.rid.as_ref().is_some_and(|r| r.as_str() == rid)),
            None => t.encodings.first(),
        }
        .filter(|e| e.negotiated)
        .ok_or(Error::InvalidParameter)?;
        if !enc.active {
            return Err(Error::EncodingInactive);
        }
        let format = Format::of(codec).ok_or(Error::UnsupportedCodec)?;
        if frame.data.is_empty() {
            return Err(Error::Packetize(PacketizeError::BadFrame));
        }
        let (id, ssrc, payload_type) = (t.id, enc.ssrc, codec.payload_type);
        let overhead = RTP_HEADER
            + extension_block_len(n, t.mid.as_deref(), enc.rid.as_deref().filter(|_| enc.send_rid), frame.extensions)
            + self.media.profile().map_or(0, |p| p.rtp_overhead())
            + if codec.rtx_payload_type.is_some() { RTX_HEADER } else { 0 };
        let max_payload = self.config.media_mtu.saturating_sub(overhead);
        self.media_ready()?;

        let m = self.media.state.as_deref_mut().ok_or(Error::NotConnected)?;
        let found =
            m.frames.iter().position(|p| p.transceiver == id && p.ssrc == ssrc && p.payload_type == payload_type);
        let mut p = match found {
            Some(i) if m.frames.get(i).is_some_and(|p| p.format == format) => m.frames.swap_remove(i),
            found => {
                if let Some(i) = found {
                    m.frames.swap_remove(i);
                }
                // A picture id may start at a random value (RFC 7741 §4.2; VP9 likewise).
                let picture_id = match format {
                    Format::Vp8 | Format::Vp9 => (self.rng.u32() & 0x7fff) as u16,
                    _ => 0,
                };
                tracing::debug!(target: super::TARGET, %id, ssrc, payload_type, ?format, "packetizer made");
                FramePacketizer {
                    transceiver: id,
                    ssrc,
                    payload_type,
                    format,
                    packetizer: Packetizers::new(format, picture_id),
                }
            }
        };

        let mut sent: Option<SentFrame> = None;
        let mut failed: Option<Error> = None;
        // Each payload's header and body go straight into the packet: the frame is copied once.
        let r = p.packetizer.packetize_parts(frame.data, max_payload, &mut |payload| {
            if failed.is_some() {
                return;
            }
            let packet = OutgoingRtp {
                payload_type,
                timestamp: frame.timestamp,
                marker: payload.marker,
                payload: payload.body,
                extensions: frame.extensions,
                rid: frame.rid,
            };
            match self.write_rtp_parts(now, mid, payload.header, &packet) {
                Ok(s) => match &mut sent {
                    Some(f) => {
                        f.packets += 1;
                        f.last_sequence_number = s.sequence_number;
                    }
                    None => {
                        sent = Some(SentFrame {
                            ssrc: s.ssrc,
                            payload_type,
                            packets: 1,
                            first_sequence_number: s.sequence_number,
                            last_sequence_number: s.sequence_number,
                        });
                    }
                },
                Err(e) => failed = Some(e),
            }
        });
        if let Some(m) = self.media.state.as_deref_mut() {
            m.frames.push(p);
        }
        r?;
        if let Some(e) = failed {
            return Err(e);
        }
        sent.ok_or(Error::Packetize(PacketizeError::BadFrame))
    }

    /// After a negotiation: forgets the packetizers of stopped transceivers, of streams gone and of payload
    /// types no longer negotiated. A transceiver that only pauses (`inactive`, `recvonly`) keeps them, so
    /// its picture ids run on when it sends again.
    pub(super) fn prune_frame_packetizers(&mut self) {
        let Some(m) = self.media.state.as_deref_mut() else { return };
        let list = &self.transceivers.list;
        m.frames.retain(|p| {
            list.iter().any(|t| {
                t.id == p.transceiver
                    && !t.stopped
                    && t.encodings.iter().any(|e| e.ssrc == p.ssrc)
                    && t.negotiated.as_ref().is_some_and(|n| matches!(n.codec(p.payload_type), Some((_, false))))
            })
        });
    }
}
