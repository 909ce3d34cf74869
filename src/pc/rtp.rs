//! Media on the connection's transport: SRTP keyed from the DTLS exporter once DTLS connects, received
//! RTP routed to its transceiver as RFC 8843 §9.2 and RFC 8829 §6 say (by the MID header extension, then
//! by the SSRCs the peer signalled or learned, then by a payload type unique to one m-section), then the
//! connection's RTP session ([`super::rtp_session`]) for RTP and RTCP, and the RTP-level calls:
//! [`PeerConnection::write_rtp`], [`PeerConnection::write_rtp_raw`], [`PeerConnection::write_rtcp`],
//! [`PeerConnection::request_keyframe`].
//!
//! A received packet is routed from its header before it is decrypted (the header and its extensions are
//! in the clear, RFC 3711 §3.1), so a packet that matches nothing leaves SRTP untouched; a routed one is
//! decrypted once into a shared buffer, handed to the RTP session there (mutable: an RTX packet is
//! restored in place), and the [`RtpPacket`] event is a view into it (a [`Bytes`]): no copy after
//! decryption, and no allocation per packet once the buffer is warm. What is learned from a packet (its
//! SSRC's transceiver and rid, a new receive stream of the session) is kept only once it authenticates.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use bytes::{Bytes, BytesMut};
use smallvec::SmallVec;

use super::conn::PeerConnection;
use super::error::{Error, MediaDrop, RecvError};
use super::transceiver::{Tag, TransceiverId};
use super::{Event, TARGET};
use crate::dtls;
use crate::rtcp::Compound;
use crate::rtp;
#[cfg(test)]
use crate::rtp::Header;
use crate::rtp::{ExtensionForm, ExtensionKind, ExtensionMap, ExtensionValue, Extensions, Packet};
use crate::srtp;
use crate::time::Instant;
use crate::util::VecMap;

/// At most this many received RTP streams (SSRCs) are tracked; packets of more are dropped.
const MAX_STREAMS: usize = 64;
/// Room left in [`super::Config::media_mtu`] for the RTP header, header extensions and SRTP tag when
/// RED sizes its payloads.
const RED_OVERHEAD: usize = 100;
/// Received packets are decrypted into buffers of at least this size, shared by the events cut from them.
const ARENA: usize = 16 * 1024;

/// Which transceivers a payload type routes to (RFC 8843 §9.2: only a payload type one m-section
/// receives on can route).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PtRoute {
    One(TransceiverId),
    Many,
}

/// A received RTP stream: the transceiver its SSRC was routed to, and what its packets said.
#[derive(Clone, Debug)]
pub(super) struct RecvStream {
    pub(super) transceiver: TransceiverId,
    pub(super) rid: Option<Tag>,
    /// A redundancy (RTX) stream: its payload type is an RTX one, or it carries a repaired rid.
    pub(super) rtx: bool,
    /// The highest extended sequence number authenticated (for packets the RTP session does not take).
    highest: u64,
}

/// The connection's media state, kept small until media flows: the SRTP profile DTLS negotiated and our
/// role (the keys themselves are exported from DTLS again when the session is first needed, RFC 5764
/// §4.2), and the rest in a box made on first use.
#[derive(Debug, Default)]
pub(super) struct MediaIo {
    keys: Option<(srtp::Profile, srtp::Role)>,
    pub(super) state: Option<Box<MediaState>>,
    /// The wall clock at `Instant::ZERO` since the NTP epoch, for sender reports.
    pub(super) ntp_epoch: core::time::Duration,
}

/// The SRTP session, the routing tables and the buffers.
#[derive(Debug, Default)]
pub(super) struct MediaState {
    /// Built when the first packet needs it (a connection that carries no media never makes one).
    pub(super) srtp: Option<Box<srtp::Session>>,
    /// The RTP session, made with the SRTP session ([`super::rtp_session`]). Both are boxed so that a
    /// connection that negotiated media but carries none stays small.
    pub(super) rtp: Option<Box<rtp::session::Session>>,
    /// Where received packets are decrypted, cut into the `Bytes` events carry; `spare` is the previous
    /// one, reused once the application has dropped every packet cut from it.
    arena: BytesMut,
    spare: BytesMut,
    pub(super) out: Vec<u8>,
    pub(super) streams: VecMap<u32, RecvStream>,
    /// Payload types some receiving transceiver has, and where they route (a few entries: looked up only
    /// for the first packet of an SSRC without a MID).
    pt_routes: Vec<(u8, PtRoute)>,
    /// The BUNDLE group's ids of the MID, RID and repaired-RID extensions.
    mid_id: Option<u8>,
    rid_id: Option<u8>,
    rrid_id: Option<u8>,
    /// The packetizers of [`PeerConnection::write_frame`] (a few: one per sending stream and payload type
    /// used, pruned by renegotiation).
    pub(super) frames: Vec<super::frame::FramePacketizer>,
    /// RED decoders and encoders, DTMF senders and receivers ([`super::audio`]).
    pub(super) audio: super::audio::AudioState,
}

impl MediaState {
    /// Empties the receive buffer, with room for `len` octets.
    fn make_room(&mut self, len: usize) {
        self.arena.clear();
        if self.arena.capacity() < len && !self.arena.try_reclaim(len) {
            if self.spare.try_reclaim(len.max(ARENA)) {
                core::mem::swap(&mut self.arena, &mut self.spare);
            } else {
                // Both still shared with packets the application holds: a new buffer.
                self.spare = core::mem::take(&mut self.arena);
                self.arena.reserve(len.max(ARENA));
            }
        }
    }

    /// Copies `data` into the receive buffer, ready to be decrypted in place and cut off as a `Bytes`.
    fn load(&mut self, data: &[u8]) {
        self.make_room(data.len());
        self.arena.extend_from_slice(data);
    }
}

impl MediaIo {
    /// The negotiated SRTP profile, once DTLS connected.
    pub fn profile(&self) -> Option<srtp::Profile> {
        self.keys.map(|(p, _)| p)
    }

    /// Notes the SRTP profile DTLS negotiated (use_srtp, RFC 5764 §4.1.2) and our role.
    pub fn key(&mut self, connected: &dtls::Connected) {
        let Some(profile) = connected.srtp_profile.and_then(|p| srtp::Profile::from_id(p.0)) else {
            tracing::debug!(target: TARGET, "DTLS connected without an SRTP profile: no media");
            return;
        };
        let role = match connected.role {
            dtls::Role::Client => srtp::Role::Client,
            dtls::Role::Server => srtp::Role::Server,
        };
        tracing::debug!(target: TARGET, ?profile, "SRTP profile");
        self.keys = Some((profile, role));
    }

    /// Whether SRTP is keyed.
    pub(super) fn keyed(&self) -> bool {
        self.keys.is_some()
    }

    pub(super) fn state(&mut self) -> &mut MediaState {
        self.state.get_or_insert_with(Box::default)
    }

    /// The state with its SRTP session, built on first use from the DTLS exporter.
    fn session(&mut self, dtls: Option<&dtls::Dtls>) -> Option<&mut MediaState> {
        let (profile, role) = self.keys?;
        let st = self.state.get_or_insert_with(Box::default);
        if st.srtp.is_none() {
            let mut block = [0u8; 88];
            let block = block.get_mut(..profile.keying_material_len())?;
            dtls?.export_keying_material(b"EXTRACTOR-dtls_srtp", block).ok()?;
            let config = srtp::Config { max_streams: MAX_STREAMS, ..srtp::Config::default() };
            match srtp::Session::from_keying_material(profile, block, role, config) {
                Ok(session) => st.srtp = Some(Box::new(session)),
                Err(e) => tracing::debug!(target: TARGET, error = %e, "SRTP keying failed"),
            }
            block.fill(0);
        }
        st.srtp.is_some().then_some(st)
    }

    /// Gives back the buffers kept for reuse.
    pub fn trim(&mut self) {
        if let Some(st) = self.state.as_mut() {
            st.arena = BytesMut::new();
            st.spare = BytesMut::new();
            st.out = Vec::new();
        }
    }
}

/// What an RTP header says before decryption (RFC 3550 §5.1; SRTP leaves it in the clear).
struct Peek<'a> {
    payload_type: u8,
    ssrc: u32,
    extensions: Extensions<'a>,
}

fn peek(data: &[u8]) -> Option<Peek<'_>> {
    let (&[first, second, _, _, _, _, _, _, s0, s1, s2, s3], _) = data.split_first_chunk::<12>()?;
    if first >> 6 != 2 {
        return None;
    }
    let at = 12 + 4 * usize::from(first & 0x0f);
    let mut extensions = Extensions::empty();
    if first & 0x10 != 0 {
        let &[p0, p1, l0, l1] = data.get(at..)?.first_chunk::<4>()?;
        let end = at + 4 + 4 * usize::from(u16::from_be_bytes([l0, l1]));
        let block = data.get(at + 4..end)?;
        if let Some(form) = ExtensionForm::from_profile(u16::from_be_bytes([p0, p1])) {
            extensions = Extensions::new(form, block);
        }
    } else if data.len() < at {
        return None;
    }
    Some(Peek { payload_type: second & 0x7f, ssrc: u32::from_be_bytes([s0, s1, s2, s3]), extensions })
}

/// The MID, RID and repaired-RID extension data of a packet, in one pass over its extensions.
#[derive(Default)]
struct Tags<'a> {
    mid: Option<&'a [u8]>,
    rid: Option<&'a [u8]>,
    rrid: Option<&'a [u8]>,
}

fn tags<'a>(extensions: &Extensions<'a>, m: &MediaState) -> Tags<'a> {
    let mut t = Tags::default();
    if m.mid_id.is_none() && m.rid_id.is_none() && m.rrid_id.is_none() {
        return t;
    }
    for e in extensions.clone().filter_map(Result::ok) {
        let id = Some(e.id);
        let slot = if id == m.mid_id {
            &mut t.mid
        } else if id == m.rid_id {
            &mut t.rid
        } else if id == m.rrid_id {
            &mut t.rrid
        } else {
            continue;
        };
        // The first element with an id counts, as `find` says.
        slot.get_or_insert(e.data);
    }
    t
}

fn find<'a>(extensions: &Extensions<'a>, id: Option<u8>) -> Option<&'a [u8]> {
    let id = id?;
    extensions.clone().filter_map(Result::ok).find(|e| e.id == id).map(|e| e.data)
}

/// The extended sequence number of `seq` next to the highest one seen (RFC 3550 Appendix A.1): the value
/// of the same low 16 bits closest to `highest`.
fn extend_seq(highest: u64, seq: u16) -> u64 {
    let base = (highest & !0xffff) | u64::from(seq);
    [base.checked_sub(0x1_0000), Some(base), base.checked_add(0x1_0000)]
        .into_iter()
        .flatten()
        .min_by_key(|c| c.abs_diff(highest))
        .unwrap_or(base)
}

/// A received RTP packet, decrypted and routed to its transceiver ([`Event::Rtp`]). The packet is held as
/// a [`Bytes`] view into the buffer it was decrypted in; [`RtpPacket::payload`] and
/// [`RtpPacket::extension`] borrow from it and [`RtpPacket::payload_bytes`] shares it, without copying.
#[derive(Clone, PartialEq, Eq)]
pub struct RtpPacket {
    /// The transceiver it was routed to.
    pub transceiver: TransceiverId,
    /// Its m-section's mid.
    pub mid: Tag,
    /// Its stream's rid (RFC 8852), from this packet or an earlier one of the same SSRC.
    pub rid: Option<Tag>,
    /// Its SSRC.
    pub ssrc: u32,
    /// Its payload type.
    pub payload_type: u8,
    /// Whether it is a retransmission (RTX, RFC 4588) as it came: an RTX payload type or a repaired rid
    /// of a stream the RTP session does not know (unsignalled). The payload then starts with the
    /// original sequence number. RTX of a known stream arrives restored instead (see `repaired`).
    pub rtx: bool,
    /// It came as an RTX retransmission and the RTP session restored it in place: SSRC, sequence number
    /// and payload type are the original's. A retransmission of a packet that had arrived already (a
    /// bandwidth probe) is counted and not handed up (the session's `rtx_duplicates`).
    pub repaired: bool,
    /// The extended sequence number (RFC 3550 Appendix A.1, as the RTP session extends it: rollovers
    /// counted from the stream's first packet).
    pub sequence_number: u64,
    /// The RTP timestamp.
    pub timestamp: u32,
    /// The marker bit.
    pub marker: bool,
    /// It was recovered from the redundancy of a later RED packet (RFC 2198): its own packet was not
    /// received. Its payload type and timestamp are the block's, its sequence number inferred from the
    /// block's place (one packet per block), and [`RtpPacket::as_bytes`] is the RED packet that carried
    /// it.
    pub recovered: bool,
    packet: Bytes,
    header_len: usize,
    payload_end: usize,
    /// The negotiated id of each [`ExtensionKind::ALL`] kind, 0 for none.
    ext_ids: [u8; 8],
}

impl RtpPacket {
    /// The payload (padding removed).
    pub fn payload(&self) -> &[u8] {
        self.packet.get(self.header_len..self.payload_end).unwrap_or_default()
    }

    /// The payload, shared without copying.
    pub fn payload_bytes(&self) -> Bytes {
        self.packet.slice(self.header_len.min(self.payload_end)..self.payload_end)
    }

    /// Where the payload starts in the packet.
    pub(super) fn payload_start(&self) -> usize {
        self.header_len
    }

    /// A packet a RED packet carried: the block at `range` of this packet, with its own payload type,
    /// timestamp and sequence number (sharing the buffer).
    pub(super) fn unwrapped(
        &self,
        payload_type: u8,
        timestamp: u32,
        sequence_number: u64,
        range: core::ops::Range<usize>,
        recovered: bool,
    ) -> RtpPacket {
        let end = range.end.min(self.payload_end);
        RtpPacket {
            payload_type,
            timestamp,
            sequence_number,
            marker: self.marker && !recovered,
            recovered,
            header_len: range.start.min(end),
            payload_end: end,
            ..self.clone()
        }
    }

    /// The whole decrypted packet (header, extensions, payload, padding); for a packet a RED packet
    /// carried, the RED packet.
    pub fn as_bytes(&self) -> &[u8] {
        &self.packet
    }

    /// The whole decrypted packet, shared without copying.
    pub fn to_bytes(&self) -> Bytes {
        self.packet.clone()
    }

    fn map(&self) -> ExtensionMap {
        let mut map = ExtensionMap::new();
        for (kind, id) in ExtensionKind::ALL.into_iter().zip(self.ext_ids) {
            map.insert(id, kind);
        }
        map
    }

    fn raw_extensions(&self) -> Extensions<'_> {
        peek(&self.packet).map_or_else(Extensions::empty, |p| p.extensions)
    }

    /// The value of header extension `kind`, if it was negotiated and the packet carries it.
    pub fn extension(&self, kind: ExtensionKind) -> Option<ExtensionValue<'_>> {
        let i = ExtensionKind::ALL.iter().position(|k| *k == kind)?;
        let id = *self.ext_ids.get(i).filter(|id| **id != 0)?;
        let data = find(&self.raw_extensions(), Some(id))?;
        ExtensionValue::decode(kind, data).ok()
    }

    /// Every header extension the packet carries, typed where negotiated (raw otherwise), borrowed from
    /// the packet.
    pub fn extensions(&self) -> impl Iterator<Item = ExtensionValue<'_>> + '_ {
        let map = self.map();
        self.raw_extensions().filter_map(Result::ok).map(move |e| map.decode(e))
    }
}

impl fmt::Debug for RtpPacket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RtpPacket({}, mid={}, ssrc={:#010x}, pt={}, seq={}, ts={}, {} bytes{}{}{})",
            self.transceiver,
            self.mid,
            self.ssrc,
            self.payload_type,
            self.sequence_number,
            self.timestamp,
            self.payload().len(),
            if self.marker { ", marker" } else { "" },
            if self.rtx { ", rtx" } else { "" },
            if self.recovered { ", recovered" } else { "" },
        )
    }
}

/// Which key-frame request the peer sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyframeRequestKind {
    /// Picture loss indication (RFC 4585 §6.3.1).
    Pli,
    /// Full intra request (RFC 5104 §4.3.1).
    Fir,
    /// Not from the peer: the application turned the encoding on
    /// ([`PeerConnection::set_encoding_active`]), and its receivers need a key frame to start decoding.
    EncodingActivated,
}

/// An RTP packet for [`PeerConnection::write_rtp`]: the connection adds the SSRC, the sequence number,
/// the MID (and RID) header extensions and the ids of the extensions given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutgoingRtp<'a> {
    /// A negotiated payload type (a codec's, or its RTX's: RTX goes out on the RTX SSRC).
    pub payload_type: u8,
    /// The RTP timestamp.
    pub timestamp: u32,
    /// The marker bit.
    pub marker: bool,
    /// The payload.
    pub payload: &'a [u8],
    /// Header extensions by kind; those not negotiated for sending are left out ([`ExtensionValue::Raw`]
    /// goes out with its own id).
    pub extensions: &'a [ExtensionValue<'a>],
    /// The encoding to send on, by rid (simulcast); `None` for the first.
    pub rid: Option<&'a str>,
}

impl<'a> OutgoingRtp<'a> {
    /// A packet with no marker, extensions or rid.
    pub fn new(payload_type: u8, timestamp: u32, payload: &'a [u8]) -> Self {
        OutgoingRtp { payload_type, timestamp, marker: false, payload, extensions: &[], rid: None }
    }
}

/// What [`PeerConnection::write_rtp`] sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SentRtp {
    /// The SSRC it went out on.
    pub ssrc: u32,
    /// Its sequence number.
    pub sequence_number: u16,
    /// Its transport-wide sequence number, when `transport-cc` was negotiated.
    pub transport_sequence: Option<u16>,
}

impl PeerConnection {
    /// The negotiated SRTP profile, once DTLS connected.
    pub fn srtp_profile(&self) -> Option<srtp::Profile> {
        self.media.profile()
    }

    /// Rebuilds the routing tables after a negotiation: payload types unique to one receiving
    /// transceiver, the BUNDLE group's MID/RID extension ids, and the streams of transceivers gone.
    pub(super) fn media_changed(&mut self) {
        if !self.transceivers.list.iter().any(|t| t.negotiated.is_some()) && self.media.state.is_none() {
            return;
        }
        let m = self.media.state();
        m.pt_routes.clear();
        m.mid_id = None;
        m.rid_id = None;
        m.rrid_id = None;
        for t in self.transceivers.list.iter().filter(|t| t.receives()) {
            let Some(n) = &t.negotiated else { continue };
            for pt in n.codecs.iter().flat_map(|c| core::iter::once(c.payload_type).chain(c.rtx_payload_type)) {
                match m.pt_routes.iter_mut().find(|(p, _)| *p == pt) {
                    None => m.pt_routes.push((pt, PtRoute::One(t.id))),
                    Some((_, r)) if *r != PtRoute::One(t.id) => *r = PtRoute::Many,
                    Some(_) => {}
                }
            }
            m.mid_id = m.mid_id.or(n.map.id(ExtensionKind::Mid));
            m.rid_id = m.rid_id.or(n.map.id(ExtensionKind::RtpStreamId));
            m.rrid_id = m.rrid_id.or(n.map.id(ExtensionKind::RepairedRtpStreamId));
        }
        let live: Vec<TransceiverId> = self.transceivers.list.iter().filter(|t| t.receives()).map(|t| t.id).collect();
        let gone: Vec<u32> =
            m.streams.iter().filter(|(_, s)| !live.contains(&s.transceiver)).map(|(ssrc, _)| *ssrc).collect();
        for ssrc in gone {
            m.streams.remove(&ssrc);
        }
        self.renegotiate_rtp_session();
        self.prune_frame_packetizers();
    }

    fn drop_media(&mut self, why: MediaDrop) -> RecvError {
        let s = &mut self.stats;
        s.media_dropped += 1;
        let counter = match why {
            MediaDrop::NotReady => &mut s.media_not_ready,
            MediaDrop::Malformed => &mut s.rtp_malformed,
            MediaDrop::UnknownMid => &mut s.rtp_unknown_mid,
            MediaDrop::Unroutable => &mut s.rtp_unroutable,
            MediaDrop::UnknownPayloadType => &mut s.rtp_unknown_payload_type,
            MediaDrop::NotReceiving => &mut s.rtp_not_receiving,
            MediaDrop::TooManyStreams => &mut s.rtp_too_many_streams,
            MediaDrop::AuthFailed => &mut s.srtp_auth_failed,
            MediaDrop::Replayed => &mut s.srtp_replayed,
            MediaDrop::RtcpAuthFailed => &mut s.srtcp_auth_failed,
            MediaDrop::RtcpReplayed => &mut s.srtcp_replayed,
            MediaDrop::RtcpMalformed => &mut s.rtcp_malformed,
            MediaDrop::Session(_) => &mut s.rtp_session_dropped,
            MediaDrop::RtcpSession(_) => &mut s.rtcp_session_dropped,
        };
        *counter += 1;
        tracing::trace!(target: TARGET, ?why, "media dropped");
        RecvError::Media(why)
    }

    /// The transceiver a packet goes to (RFC 8843 §9.2): by its MID, else by its SSRC (learned or
    /// signalled), else by a payload type only one m-section receives on.
    fn route(&self, p: &Peek<'_>, mid: Option<&[u8]>) -> Result<TransceiverId, MediaDrop> {
        let Some(m) = self.media.state.as_deref() else { return Err(MediaDrop::Unroutable) };
        if let Some(data) = mid {
            // Our mids are text: bytes that are not (not UTF-8) match none.
            let t = self.transceivers.list.iter().find(|t| t.mid.as_ref().is_some_and(|m| m.as_bytes() == data));
            return t.map(|t| t.id).ok_or(MediaDrop::UnknownMid);
        }
        if let Some(s) = m.streams.get(&p.ssrc) {
            return Ok(s.transceiver);
        }
        let signalled = self.transceivers.list.iter().find(|t| {
            t.receives()
                && t.remote.as_ref().is_some_and(|s| s.ssrcs.iter().any(|&(m, r)| m == p.ssrc || r == Some(p.ssrc)))
        });
        if let Some(t) = signalled {
            return Ok(t.id);
        }
        match m.pt_routes.iter().find(|(pt, _)| *pt == p.payload_type) {
            Some((_, PtRoute::One(t))) => Ok(*t),
            _ => Err(MediaDrop::Unroutable),
        }
    }

    /// Receives an SRTP packet: routes it, decrypts it, hands it to the RTP session (statistics, loss
    /// tracking, RTX restored in place) and reports it as [`Event::Rtp`].
    pub(super) fn receive_rtp(&mut self, data: &[u8]) -> Result<(), RecvError> {
        if !self.media.keyed() {
            return Err(self.drop_media(MediaDrop::NotReady));
        }
        let Some(p) = peek(data) else { return Err(self.drop_media(MediaDrop::Malformed)) };
        let found = self.media.state.as_deref().map(|m| tags(&p.extensions, m)).unwrap_or_default();
        let id = match self.route(&p, found.mid) {
            Ok(id) => id,
            Err(why) => return Err(self.drop_media(why)),
        };
        let (ssrc, pt) = (p.ssrc, p.payload_type);
        let m = self.media.state();
        let (rid, rrid) = (found.rid, found.rrid);
        let known = m.streams.contains_key(&ssrc);
        let full = m.streams.len() >= MAX_STREAMS;
        let Some(t) = self.transceivers.get(id) else { return Err(self.drop_media(MediaDrop::Unroutable)) };
        let (Some(n), true) = (t.negotiated.as_ref(), t.receives()) else {
            return Err(self.drop_media(MediaDrop::NotReceiving));
        };
        let Some((_, rtx_pt)) = n.codec(pt) else { return Err(self.drop_media(MediaDrop::UnknownPayloadType)) };
        let learn = !rtx_pt && rrid.is_none();
        let ext_ids = n.map.ids();
        let mid = t.mid.clone().unwrap_or_default();
        if !known && full {
            return Err(self.drop_media(MediaDrop::TooManyStreams));
        }

        // Decrypt into the shared buffer.
        let (media, dtls) = self.media_parts();
        let Some(m) = media.session(dtls) else { return Err(self.drop_media(MediaDrop::NotReady)) };
        // Decrypted from the datagram straight into the buffer: the copy is the cipher's output.
        m.make_room(data.len());
        m.arena.resize(data.len(), 0);
        let Some(session) = m.srtp.as_mut() else { return Err(self.drop_media(MediaDrop::NotReady)) };
        let len = match session.unprotect_rtp_to(data, &mut m.arena[..]) {
            Ok(len) => len,
            Err(e) => {
                m.arena.clear();
                let why = match e {
                    srtp::Error::AuthFailed => MediaDrop::AuthFailed,
                    srtp::Error::Replayed | srtp::Error::TooOld => MediaDrop::Replayed,
                    srtp::Error::TooManyStreams | srtp::Error::UnknownSsrc(_) => MediaDrop::TooManyStreams,
                    _ => MediaDrop::Malformed,
                };
                return Err(self.drop_media(why));
            }
        };
        m.arena.truncate(len);
        self.ensure_rtp_session();
        let now = self.now();
        let Some(m) = self.media.state.as_deref_mut() else { return Err(self.drop_media(MediaDrop::NotReady)) };

        // Authenticated: learn the stream (a MID may move an SSRC to another m-section, RFC 8843 §9.2).
        if !m.streams.contains_key(&ssrc) {
            let highest = Packet::new_checked(&m.arena[..]).map_or(0, |v| u64::from(v.sequence_number()));
            m.streams.insert(ssrc, RecvStream { transceiver: id, rid: None, rtx: false, highest });
        }
        let Some(stream) = m.streams.get_mut(&ssrc) else { return Ok(()) };
        stream.transceiver = id;
        // A rid is kept once per stream (a packet repeating it allocates nothing).
        if let Some(r) = rrid.or(rid).filter(|r| stream.rid.as_ref().is_none_or(|s| s.as_bytes() != *r)) {
            stream.rid = Tag::from_extension(r).or(stream.rid.take());
        }
        stream.rtx |= rrid.is_some();
        stream.rtx |= rtx_pt;
        let (stream_rid, stream_rtx, highest) = (stream.rid.clone(), stream.rtx, stream.highest);

        // The RTP session: a stream learned by MID or payload type joins it; RTX of a stream the
        // session knows is restored in place (the packet then starts two octets in).
        let mut taken = None;
        if let Some(rtp) = m.rtp.as_mut() {
            let mut joined = rtp.has_ssrc(ssrc);
            if learn && !joined {
                let c = self.transceivers.get(id).and_then(|t| t.negotiated.as_ref()).and_then(|n| n.codec(pt));
                if let Some((codec, _)) = c {
                    match rtp.add_receive_stream(super::rtp_session::receive_config(ssrc, None, codec)) {
                        Ok(()) => joined = true,
                        Err(e) => tracing::debug!(target: TARGET, ssrc, error = %e, "receive stream not added"),
                    }
                }
            }
            // RTX that no `a=ssrc-group:FID` announced, naming its stream by repaired rid (RFC 8852 §3.2,
            // a simulcast layer's): bound to the stream of that rid on this transceiver, once that stream
            // is known, so that it is restored and its padding counted for transport-wide feedback.
            if let (Some(r), false) = (rrid, joined) {
                let media = m.streams.iter().find_map(|(s, st)| {
                    let same = !st.rtx && st.transceiver == id && st.rid.as_ref().is_some_and(|x| x.as_bytes() == r);
                    same.then_some(*s)
                });
                if let Some(media) = media.filter(|s| *s != ssrc && rtp.has_ssrc(*s)) {
                    match rtp.bind_receive_rtx(media, ssrc) {
                        Ok(()) => joined = true,
                        Err(e) => tracing::debug!(target: TARGET, ssrc, media, error = %e, "RTX not bound"),
                    }
                }
            }
            if joined {
                match rtp.handle_receive(now, &mut m.arena[..]) {
                    Ok(rtp::session::Received::Rtp(r)) => {
                        let offset = usize::from(r.repaired) * 2;
                        let header_len = r.packet.header_len();
                        let payload_end = header_len + r.packet.payload().len();
                        let p = &r.packet;
                        taken = Some((
                            offset,
                            header_len,
                            payload_end,
                            r.ssrc,
                            p.payload_type(),
                            r.repaired,
                            r.sequence,
                            p.timestamp(),
                            p.marker(),
                        ));
                    }
                    Ok(_) => {
                        m.arena.clear();
                        return Ok(());
                    }
                    Err(e) => {
                        m.arena.clear();
                        self.flush_rtp_session();
                        return Err(self.drop_media(MediaDrop::Session(e)));
                    }
                }
            }
        }
        let packet = m.arena.split().freeze();
        let event = match taken {
            Some((
                offset,
                header_len,
                payload_end,
                ssrc,
                payload_type,
                repaired,
                sequence_number,
                timestamp,
                marker,
            )) => {
                let packet = if offset == 0 { packet } else { packet.slice(offset..) };
                RtpPacket {
                    transceiver: id,
                    mid,
                    rid: stream_rid,
                    ssrc,
                    payload_type,
                    rtx: false,
                    repaired,
                    sequence_number,
                    timestamp,
                    marker,
                    recovered: false,
                    packet,
                    header_len,
                    payload_end,
                    ext_ids,
                }
            }
            None => {
                // Not the session's (RTX of an unsignalled stream): handed up as it came.
                let Ok(view) = Packet::new_checked(&packet[..]) else {
                    return Err(self.drop_media(MediaDrop::Malformed));
                };
                let (header_len, payload_end) = (view.header_len(), view.header_len() + view.payload().len());
                let sequence_number = extend_seq(highest, view.sequence_number());
                let (timestamp, marker) = (view.timestamp(), view.marker());
                if let Some(s) = m.streams.get_mut(&ssrc) {
                    s.highest = s.highest.max(sequence_number);
                }
                RtpPacket {
                    transceiver: id,
                    mid,
                    rid: stream_rid,
                    ssrc,
                    payload_type: pt,
                    rtx: stream_rtx,
                    repaired: false,
                    sequence_number,
                    timestamp,
                    marker,
                    recovered: false,
                    packet,
                    header_len,
                    payload_end,
                    ext_ids,
                }
            }
        };
        self.deliver_rtp(event);
        self.flush_rtp_session();
        Ok(())
    }

    /// Receives an SRTCP packet: decrypts it, hands it to the RTP session (reports, NACK answered with
    /// RTX, key-frame requests, REMB, transport-wide feedback: see [`super::rtp_session`]) and up as
    /// [`Event::Rtcp`].
    pub(super) fn receive_rtcp(&mut self, data: &[u8]) -> Result<(), RecvError> {
        if !self.media.keyed() {
            return Err(self.drop_media(MediaDrop::NotReady));
        }
        // Nothing negotiated that RTCP could concern: not worth an SRTP session.
        if !self.transceivers.list.iter().any(|t| t.negotiated.is_some()) {
            return Err(self.drop_media(MediaDrop::Unroutable));
        }
        let (media, dtls) = self.media_parts();
        let Some(m) = media.session(dtls) else { return Err(self.drop_media(MediaDrop::NotReady)) };
        m.load(data);
        let Some(session) = m.srtp.as_mut() else { return Err(self.drop_media(MediaDrop::NotReady)) };
        let len = match session.unprotect_rtcp_in_place(&mut m.arena[..]) {
            Ok(len) => len,
            Err(e) => {
                m.arena.clear();
                let why = match e {
                    srtp::Error::AuthFailed => MediaDrop::RtcpAuthFailed,
                    srtp::Error::Replayed | srtp::Error::TooOld => MediaDrop::RtcpReplayed,
                    _ => MediaDrop::RtcpMalformed,
                };
                return Err(self.drop_media(why));
            }
        };
        m.arena.truncate(len);
        self.ensure_rtp_session();
        let now = self.now();
        let Some(m) = self.media.state.as_deref_mut() else { return Err(self.drop_media(MediaDrop::NotReady)) };
        let r = match m.rtp.as_mut() {
            Some(rtp) => rtp.handle_receive(now, &mut m.arena[..]).map(|_| ()),
            None => Ok(()),
        };
        let packet = m.arena.split().freeze();
        if let Err(e) = r {
            self.flush_rtp_session();
            return Err(self.drop_media(MediaDrop::RtcpSession(e)));
        }
        self.emit(Event::Rtcp(packet));
        self.flush_rtp_session();
        Ok(())
    }

    /// Protects the RTP packet in `self.media.out` in place.
    fn protect_rtp(&mut self) -> Result<(), Error> {
        let (media, dtls) = self.media_parts();
        let m = media.session(dtls).ok_or(Error::NotConnected)?;
        let session = m.srtp.as_mut().ok_or(Error::NotConnected)?;
        session.protect_rtp(&mut m.out).map_err(Error::Srtp)?;
        self.mark_active();
        Ok(())
    }

    /// Protects `self.media.out` (an RTP packet, or RTCP with `rtcp`) and sends it on the selected pair.
    fn send_media(&mut self, now: Instant, rtcp: bool) -> Result<(), Error> {
        let (media, dtls) = self.media_parts();
        let m = media.session(dtls).ok_or(Error::NotConnected)?;
        let session = m.srtp.as_mut().ok_or(Error::NotConnected)?;
        let r = if rtcp { session.protect_rtcp(&mut m.out) } else { session.protect_rtp(&mut m.out) };
        r.map_err(Error::Srtp)?;
        self.mark_active();
        let out = self.media.state.as_deref().map_or(&[][..], |m| &m.out[..]);
        self.ice.send(now, out).map_err(|_| Error::NotConnected)
    }

    /// Makes the SRTP and RTP sessions if they are not made yet.
    pub(super) fn media_ready(&mut self) -> Result<(), Error> {
        let (media, dtls) = self.media_parts();
        media.session(dtls).ok_or(Error::NotConnected)?;
        self.ensure_rtp_session();
        Ok(())
    }

    /// Sends an RTP packet on the transceiver of m-section `mid` (which must be negotiated to send),
    /// through the RTP session: the SSRC of the encoding (`rid`; one turned off is
    /// [`Error::EncodingInactive`]), the stream's next sequence number, the
    /// transport-wide sequence number when `transport-cc` was negotiated, and the MID (and RID)
    /// extensions with the extensions given, under their negotiated ids (a
    /// [`ExtensionValue::TransportWideCc`] given is left out: the session numbers the packet). The session
    /// keeps a copy for retransmission when RTX was negotiated (RTX payload types are the session's own:
    /// giving one is [`Error::InvalidParameter`]). Then SRTP-protects it and, with pacing
    /// ([`super::Config::pacer`]), queues it in the pacer (audio first), which lets it go at once or from
    /// a later `handle_timeout`. Then drain `poll_transmit` and read `poll_timeout`.
    pub fn write_rtp(&mut self, now: Instant, mid: &str, packet: &OutgoingRtp<'_>) -> Result<SentRtp, Error> {
        self.write_rtp_parts(now, mid, &[], packet)
    }

    /// [`PeerConnection::write_rtp`] with the payload in two parts, `head` then `packet.payload` (a payload
    /// format's header and a run of the frame), each written into the packet once.
    pub(super) fn write_rtp_parts(
        &mut self,
        now: Instant,
        mid: &str,
        head: &[u8],
        packet: &OutgoingRtp<'_>,
    ) -> Result<SentRtp, Error> {
        self.touch(now);
        let now = self.now();
        self.check_open()?;
        if !self.media.keyed() {
            return Err(Error::NotConnected);
        }
        self.media_ready()?;
        let t = self.transceivers.list.iter_mut().find(|t| t.has_mid(mid)).ok_or(Error::NoSuchTransceiver)?;
        if !t.sends() {
            return Err(Error::NotSending);
        }
        let n = t.negotiated.as_ref().ok_or(Error::NotSending)?;
        let (_, rtx) = n.codec(packet.payload_type).ok_or(Error::InvalidParameter)?;
        if rtx {
            return Err(Error::InvalidParameter);
        }
        let mut values: SmallVec<[ExtensionValue<'_>; 8]> = SmallVec::new();
        let enc = match packet.rid {
            Some(rid) => t.encodings.iter_mut().find(|e| e.rid.as_ref().is_some_and(|r| r.as_str() == rid)),
            None => t.encodings.first_mut(),
        }
        .filter(|e| e.negotiated)
        .ok_or(Error::InvalidParameter)?;
        if !enc.active {
            return Err(Error::EncodingInactive);
        }
        if let (Some(_), Some(mid)) = (n.send_id(ExtensionKind::Mid), t.mid.as_deref()) {
            values.push(ExtensionValue::Mid(mid));
        }
        let rid = enc.rid.as_deref().filter(|_| enc.send_rid);
        if let (Some(rid), Some(_)) = (rid, n.send_id(ExtensionKind::RtpStreamId)) {
            values.push(ExtensionValue::RtpStreamId(rid));
        }
        for v in packet.extensions {
            let keep = match v {
                ExtensionValue::Raw(e) => !values.iter().any(|x| matches!(x, ExtensionValue::Raw(r) if r.id == e.id)),
                ExtensionValue::Mid(_)
                | ExtensionValue::RtpStreamId(_)
                | ExtensionValue::RepairedRtpStreamId(_)
                | ExtensionValue::TransportWideCc(_) => false,
                v => v.kind().and_then(|k| n.send_id(k)).is_some(),
            };
            if keep {
                values.push(*v);
            }
        }
        let ssrc = enc.ssrc;
        let audio = t.kind == super::MediaKind::Audio;
        let class = if audio { crate::cc::Class::Audio } else { crate::cc::Class::Video };
        // Opus goes out in RED (RFC 2198) where RED for it is negotiated and asked for.
        let protects = |c: &&super::Codec| c.red_protects(packet.payload_type);
        let asked = audio && self.config.red_distance > 0;
        let red = asked.then(|| n.codecs.iter().find(protects).map(|c| c.payload_type)).flatten();
        let telephone_event = n.codec(packet.payload_type).is_some_and(|(c, _)| c.is_telephone_event());
        let (distance, max_len) = (self.config.red_distance, self.config.media_mtu.saturating_sub(RED_OVERHEAD));
        let m = self.media.state.as_deref_mut().ok_or(Error::NotConnected)?;
        if audio && !telephone_event {
            m.audio.sent(ssrc, packet.timestamp, now);
        }
        // RED wraps the whole payload: audio formats hand it over as one part (`head` from `write_frame`,
        // or `payload`); a payload in two parts goes out as it is.
        let whole = match (head.is_empty(), packet.payload.is_empty()) {
            (true, _) => Some(packet.payload),
            (false, true) => Some(head),
            (false, false) => None,
        };
        let wrapped = red.zip(whole).and_then(|(red, whole)| {
            let p = m.audio.red_encode(ssrc, distance, max_len, packet.payload_type, packet.timestamp, whole)?;
            Some((red, p))
        });
        let (payload_type, head, payload) = match wrapped {
            Some((red, p)) => (red, &[][..], p),
            None => (packet.payload_type, head, packet.payload),
        };
        let session = m.rtp.as_mut().ok_or(Error::NotConnected)?;
        let outgoing = rtp::session::OutgoingRtp {
            ssrc,
            payload_type,
            marker: packet.marker,
            timestamp: packet.timestamp,
            payload,
            extensions: &values,
        };
        let sent = session.send_rtp_parts(now, head, &outgoing, &mut m.out).map_err(|e| match e {
            rtp::session::UsageError::NoSuchStream(_) => Error::NotSending,
            _ => Error::InvalidParameter,
        })?;
        drop(values);
        if let Some(enc) = self
            .transceivers
            .list
            .iter_mut()
            .find(|t| t.has_mid(mid))
            .and_then(|t| t.encodings.iter_mut().find(|e| e.ssrc == ssrc))
        {
            enc.seq = sent.sequence.wrapping_add(1);
        }
        self.protect_rtp()?;
        self.send_rtp_paced(now, class, sent.transport_sequence);
        self.flush_rtp_session();
        Ok(SentRtp { ssrc, sequence_number: sent.sequence, transport_sequence: sent.transport_sequence })
    }

    /// Sends an RTP packet exactly as given (pass-through: its SSRC, sequence number and extensions are
    /// the caller's), SRTP-protected, on the transceiver of m-section `mid` (which must be negotiated to
    /// send). When its SSRC is one of the connection's send streams the RTP session records it as sent
    /// ([`crate::rtp::session::Session::record_sent`]: the stream's counters and sender reports, and its
    /// RTX history, so a NACK for it is answered); other SSRCs (forwarded streams) are sent unrecorded.
    /// With pacing ([`super::Config::pacer`]) it waits its turn with the transceiver's other packets. Then
    /// drain `poll_transmit` and read `poll_timeout`.
    pub fn write_rtp_raw(&mut self, now: Instant, mid: &str, packet: &[u8]) -> Result<(), Error> {
        self.touch(now);
        let now = self.now();
        self.check_open()?;
        let t = self.transceivers.by_mid(mid).ok_or(Error::NoSuchTransceiver)?;
        if !t.sends() {
            return Err(Error::NotSending);
        }
        let class = if t.kind == super::MediaKind::Audio { crate::cc::Class::Audio } else { crate::cc::Class::Video };
        Packet::new_checked(packet).map_err(|_| Error::InvalidParameter)?;
        if self.media.keyed() {
            self.media_ready()?;
        }
        let m = self.media.state();
        if let Some(s) = m.rtp.as_mut() {
            s.record_sent(now, packet);
        }
        m.out.clear();
        m.out.extend_from_slice(packet);
        // Paced in order with the transceiver's other packets (without a transport-wide number of ours).
        self.protect_rtp()?;
        self.send_rtp_paced(now, class, None);
        self.flush_rtp_session();
        Ok(())
    }

    /// Sends a compound RTCP packet as given, SRTCP-protected (the connection's RTP session sends the
    /// reports and feedback itself; this is for anything else). Then drain `poll_transmit`.
    pub fn write_rtcp(&mut self, now: Instant, packet: &[u8]) -> Result<(), Error> {
        self.touch(now);
        self.check_open()?;
        Compound::check_framing(packet).map_err(|_| Error::InvalidParameter)?;
        let out = &mut self.media.state().out;
        out.clear();
        out.extend_from_slice(packet);
        self.send_media(now, true)
    }

    /// Asks the peer for a key frame on what it sends to the transceiver of m-section `mid`, through the
    /// RTP session: a PLI (RFC 4585 §6.3.1) when `nack pli` was negotiated, else a FIR (RFC 5104 §4.3.1)
    /// when `ccm fir` was, for the peer's latest media SSRC (received, else signalled). Without
    /// reduced-size RTCP it goes in a compound packet after an empty receiver report and our CNAME
    /// (RFC 3550 §6.1). Then drain `poll_transmit`.
    pub fn request_keyframe(&mut self, now: Instant, mid: &str) -> Result<(), Error> {
        use super::codec::Feedback;
        self.touch(now);
        let now = self.now();
        self.check_open()?;
        let t = self.transceivers.by_mid(mid).ok_or(Error::NoSuchTransceiver)?;
        let n = t.negotiated.as_ref().filter(|_| t.receives()).ok_or(Error::NotReceiving)?;
        let has = |f: Feedback| n.codecs.iter().any(|c| c.feedback.contains(&f));
        let pli = has(Feedback::NackPli);
        if !pli && !has(Feedback::CcmFir) {
            return Err(Error::NotNegotiated);
        }
        let id = t.id;
        let received = self.media.state.as_deref().and_then(|m| {
            m.streams.iter().filter(|(_, s)| s.transceiver == id && !s.rtx).map(|(ssrc, _)| *ssrc).last()
        });
        let signalled = t.remote.as_ref().and_then(|s| s.ssrcs.first()).map(|&(m, _)| m);
        let media_ssrc = received.or(signalled).ok_or(Error::NotReceiving)?;
        let config = n.codecs.first().map(|c| super::rtp_session::receive_config(media_ssrc, None, c));
        if !self.media.keyed() {
            return Err(Error::NotConnected);
        }
        self.media_ready()?;
        let m = self.media.state.as_deref_mut().ok_or(Error::NotConnected)?;
        let session = m.rtp.as_mut().ok_or(Error::NotConnected)?;
        if let Some(c) = config.filter(|_| !session.has_ssrc(media_ssrc)) {
            session.add_receive_stream(c).map_err(|_| Error::NotReceiving)?;
        }
        let kind = if pli { rtp::session::KeyframeRequest::Pli } else { rtp::session::KeyframeRequest::Fir };
        session.request_keyframe(now, media_ssrc, kind).map_err(|_| Error::NotReceiving)?;
        self.flush_rtp_session();
        Ok(())
    }
}

#[cfg(test)]
/// Writes an RTP packet with header extensions `ids` into `out`: the one-byte form when every id and
/// length fits it (RFC 8285 §4.2), else the two-byte form. Allocates nothing beyond `out`.
fn write_packet(
    out: &mut Vec<u8>,
    header: &Header,
    ids: &[(u8, ExtensionValue<'_>)],
    payload: &[u8],
) -> Result<(), crate::rtp::Error> {
    let mut data = [0u8; 255];
    let mut one = true;
    for (id, v) in ids {
        let n = v.encode(&mut data)?;
        one &= ExtensionForm::OneByte.can_carry(*id, n);
    }
    let mut w = crate::rtp::Writer::new(out, header, &[])?;
    if !ids.is_empty() {
        w.start_extensions(if one { ExtensionForm::OneByte } else { ExtensionForm::TwoByte { appbits: 0 } })?;
        for (id, v) in ids {
            let n = v.encode(&mut data)?;
            w.extension(*id, data.get(..n).unwrap_or_default())?;
        }
    }
    w.finish(payload, 0)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_extend_across_rollovers() {
        assert_eq!(extend_seq(10, 11), 11);
        assert_eq!(extend_seq(10, 5), 5);
        assert_eq!(extend_seq(65_535, 0), 65_536);
        assert_eq!(extend_seq(65_536, 65_535), 65_535);
        assert_eq!(extend_seq(0x2_0005, 0xfff0), 0x1_fff0);
        // Never below zero.
        assert_eq!(extend_seq(3, 0xfff0), 0xfff0);
    }

    #[test]
    fn headers_are_read_before_decryption() {
        let mut map = ExtensionMap::new();
        map.insert(4, ExtensionKind::Mid);
        let mut out = Vec::new();
        let header = Header { payload_type: 96, sequence_number: 1, timestamp: 2, ssrc: 0xabcd, marker: false };
        write_packet(&mut out, &header, &[(4, ExtensionValue::Mid("v"))], b"x").unwrap();
        let p = peek(&out).unwrap();
        assert_eq!((p.payload_type, p.ssrc), (96, 0xabcd));
        assert_eq!(find(&p.extensions, Some(4)), Some(&b"v"[..]));
        assert_eq!(find(&p.extensions, Some(5)), None);
        assert_eq!(find(&p.extensions, None), None);
        // One pass finds the MID, RID and repaired RID under the group's ids.
        let mut m = MediaState { mid_id: Some(4), rid_id: Some(5), ..MediaState::default() };
        let t = tags(&p.extensions, &m);
        assert_eq!((t.mid, t.rid, t.rrid), (Some(&b"v"[..]), None, None));
        m.mid_id = None;
        m.rrid_id = Some(4);
        let t = tags(&p.extensions, &m);
        assert_eq!((t.mid, t.rid, t.rrid), (None, None, Some(&b"v"[..])));
        // Truncated or not version 2.
        assert!(peek(&out[..11]).is_none());
        assert!(peek(&out[..14]).is_none());
        let mut bad = out.clone();
        bad[0] &= 0x3f;
        assert!(peek(&bad).is_none());
        // An id above 14 needs the two-byte form.
        out.clear();
        write_packet(
            &mut out,
            &header,
            &[(4, ExtensionValue::Mid("v")), (20, ExtensionValue::TransportWideCc(7))],
            b"",
        )
        .unwrap();
        let p = Packet::new_checked(&out[..]).unwrap();
        assert_eq!(p.extension_profile(), Some(0x1000));
        assert_eq!(p.extension(20), Some(&[0, 7][..]));
    }
}
