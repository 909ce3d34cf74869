//! RTP transceivers in the W3C vocabulary (`RTCRtpTransceiver`): created by [`PeerConnection::add_transceiver`],
//! [`PeerConnection::add_track`] or a remote offer, each bound to one audio or video m-section once
//! negotiated. A transceiver holds what the application asked for (direction, streams, encodings, codec
//! preferences), its local SSRCs, and what the last descriptions said (its sections and the negotiated
//! codecs and extensions). The SDP side is in [`super::negotiate`], the packets in [`super::rtp`].

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use bytes::Bytes;

use super::codec::{Codec, MediaKind};
use super::conn::PeerConnection;
use super::error::Error;
use super::media::{HeaderExtension, Section, has_send};
use super::media_stats::SentTotals;
use super::rtp::KeyframeRequestKind;
use crate::rand::SeededRng;
use crate::rtp::ExtensionKind;
use crate::sdp::Direction;
use crate::time::Instant;

/// A local handle for an RTP transceiver (W3C `RTCRtpTransceiver`), stable for the connection's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransceiverId(pub u32);

impl fmt::Display for TransceiverId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0)
    }
}

/// An identification tag: an m-section's mid (RFC 8843 §15) or an RTP stream's rid (RFC 8851). Cloning
/// one shares its bytes, so received packets carry their mid without an allocation.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Tag(Bytes);

impl Tag {
    /// The tag's text.
    pub fn as_str(&self) -> &str {
        // Built only from `&str`, so always UTF-8.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The tag's bytes.
    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// A tag from RTP header extension data (MID, RID): `None` unless it is 1–255 bytes of UTF-8 text.
    pub(super) fn from_extension(data: &[u8]) -> Option<Tag> {
        if data.is_empty() {
            return None;
        }
        let text = core::str::from_utf8(data).ok()?;
        Some(Tag::from(text))
    }
}

impl From<&str> for Tag {
    fn from(s: &str) -> Tag {
        Tag(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl core::ops::Deref for Tag {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for Tag {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Tag {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// A track to send (W3C `MediaStreamTrack` as far as signalling sees it): its kind and id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Track {
    /// Audio or video.
    pub kind: MediaKind,
    /// The track id (the `a=msid` appdata).
    pub id: String,
}

impl Track {
    /// A track of `kind` with `id`.
    pub fn new(kind: MediaKind, id: impl Into<String>) -> Track {
        Track { kind, id: id.into() }
    }
}

/// What [`PeerConnection::add_transceiver`] is given: a kind (W3C `addTransceiver("audio")`) or a track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackOrKind {
    /// A kind, with no track.
    Kind(MediaKind),
    /// A track.
    Track(Track),
}

impl From<MediaKind> for TrackOrKind {
    fn from(kind: MediaKind) -> Self {
        TrackOrKind::Kind(kind)
    }
}

impl From<Track> for TrackOrKind {
    fn from(track: Track) -> Self {
        TrackOrKind::Track(track)
    }
}

/// One encoding a transceiver sends (W3C `RTCRtpEncodingParameters`): more than one is simulcast
/// (RFC 8853), each with its rid.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SendEncoding {
    /// The rid (RFC 8851: letters, digits, `-` and `_`, at most 16); required with more than one encoding.
    pub rid: Option<String>,
}

/// How [`PeerConnection::add_transceiver`] sets a transceiver up (W3C `RTCRtpTransceiverInit`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransceiverInit {
    /// The direction (default `sendrecv`).
    pub direction: Direction,
    /// The ids of the media streams its track belongs to (`a=msid`).
    pub stream_ids: Vec<String>,
    /// The encodings it sends; empty means one without a rid.
    pub send_encodings: Vec<SendEncoding>,
}

impl Default for TransceiverInit {
    fn default() -> Self {
        TransceiverInit { direction: Direction::SendRecv, stream_ids: Vec::new(), send_encodings: Vec::new() }
    }
}

impl TransceiverInit {
    /// The default with `direction`.
    pub fn with_direction(direction: Direction) -> Self {
        TransceiverInit { direction, ..TransceiverInit::default() }
    }
}

/// One encoding's outgoing state: its SSRCs and next sequence numbers.
#[derive(Clone, Debug)]
pub(super) struct Encoding {
    pub rid: Option<Tag>,
    pub ssrc: u32,
    pub rtx_ssrc: u32,
    pub seq: u16,
    /// W3C `RTCRtpEncodingParameters.active`: off, it has no stream in the RTP session and sends nothing.
    pub active: bool,
    /// The last answer lets it send (RFC 8853 §5.3: a simulcast layer the answer did not accept is not
    /// sent); true until an answer says.
    pub negotiated: bool,
    /// Its rid goes out in the RtpStreamId extension: simulcast was negotiated (or it is the only
    /// encoding and has a rid).
    pub send_rid: bool,
    /// What its streams in the RTP session sent before it was last turned off (a stream turned off
    /// leaves the session), for the statistics.
    pub sent_before: SentTotals,
}

/// What an offer/answer exchange settled for a transceiver.
#[derive(Clone)]
pub(super) struct Negotiated {
    /// The codecs both sides use, in the answer's order, with the answer's payload types.
    pub codecs: Vec<Codec>,
    /// The header extensions, with their directions from our point of view.
    pub extensions: Vec<HeaderExtension>,
    /// The ids of the extensions, for reading received packets.
    pub map: ExtensionIds,
    /// Reduced-size RTCP (RFC 5506).
    pub rtcp_rsize: bool,
}

impl fmt::Debug for Negotiated {
    /// The extension map is left out: it repeats `extensions`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Negotiated")
            .field("codecs", &self.codecs)
            .field("extensions", &self.extensions)
            .field("rtcp_rsize", &self.rtcp_rsize)
            .finish_non_exhaustive()
    }
}

impl Negotiated {
    pub fn new(mut codecs: Vec<Codec>, mut extensions: Vec<HeaderExtension>, rtcp_rsize: bool) -> Negotiated {
        codecs.shrink_to_fit();
        extensions.shrink_to_fit();
        let map = ExtensionIds::new(&extensions);
        Negotiated { codecs, extensions, map, rtcp_rsize }
    }

    /// The codec a payload type is for, and whether the payload type is its RTX.
    pub fn codec(&self, pt: u8) -> Option<(&Codec, bool)> {
        self.codecs.iter().find_map(|c| {
            if c.payload_type == pt {
                Some((c, false))
            } else if c.rtx_payload_type == Some(pt) {
                Some((c, true))
            } else {
                None
            }
        })
    }

    /// The id to send extension `kind` with, if it was negotiated for sending.
    pub fn send_id(&self, kind: crate::rtp::ExtensionKind) -> Option<u8> {
        self.extensions.iter().find(|e| e.kind == kind && has_send(e.direction)).map(|e| e.id)
    }
}

/// The negotiated extension ids by kind: a few (id, kind) pairs sorted by id, rather than a table of all 256
/// ids, as [`crate::rtp::ExtensionMap`] would be. Built as that map would be from the same extensions: id
/// 0 is ignored, and a later mapping of an id or a kind replaces an earlier one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct ExtensionIds(Box<[(u8, ExtensionKind)]>);

impl ExtensionIds {
    fn new(extensions: &[HeaderExtension]) -> ExtensionIds {
        let mut ids: Vec<(u8, ExtensionKind)> = Vec::with_capacity(extensions.len());
        for e in extensions.iter().filter(|e| e.id != 0) {
            ids.retain(|&(id, kind)| id != e.id && kind != e.kind);
            ids.push((e.id, e.kind));
        }
        ids.sort_unstable_by_key(|&(id, _)| id);
        ExtensionIds(ids.into_boxed_slice())
    }

    /// The id `kind` is mapped to.
    pub fn id(&self, kind: ExtensionKind) -> Option<u8> {
        self.0.iter().find(|&&(_, k)| k == kind).map(|&(id, _)| id)
    }

    /// The id of every kind in [`ExtensionKind::ALL`] order, 0 for a kind not mapped (what
    /// [`crate::rtp::ExtensionMap::ids`] gives for the same extensions): one pass over a few pairs.
    pub fn ids(&self) -> [u8; ExtensionKind::ALL.len()] {
        let mut ids = [0; ExtensionKind::ALL.len()];
        for &(id, kind) in self.0.iter() {
            if let Some(slot) = ids.get_mut(kind.index()) {
                *slot = id;
            }
        }
        ids
    }

    /// The kind `id` is mapped to.
    #[cfg(test)]
    pub fn kind(&self, id: u8) -> Option<ExtensionKind> {
        self.0.binary_search_by_key(&id, |&(i, _)| i).ok().and_then(|i| self.0.get(i)).map(|&(_, k)| k)
    }
}

/// An RTP transceiver (W3C `RTCRtpTransceiver`). Read it with [`PeerConnection::transceiver`]; change it
/// through the connection ([`PeerConnection::set_direction`], [`PeerConnection::stop_transceiver`],
/// [`PeerConnection::set_codec_preferences`]).
#[derive(Clone, Debug)]
pub struct Transceiver {
    pub(super) id: TransceiverId,
    pub(super) kind: MediaKind,
    pub(super) mid: Option<Tag>,
    pub(super) direction: Direction,
    pub(super) current_direction: Option<Direction>,
    /// `stop()` was called: the next offer rejects its m-section.
    pub(super) stopping: bool,
    /// Negotiated away (its m-section rejected), or stopped before it was ever associated.
    pub(super) stopped: bool,
    pub(super) track: Option<String>,
    /// Created by `add_track`: a remote offer may take it (RFC 8829 §5.10).
    pub(super) from_add_track: bool,
    /// It has sent (a current direction with send): `add_track` does not reuse it.
    pub(super) has_sent: bool,
    pub(super) stream_ids: Vec<String>,
    pub(super) encodings: Vec<Encoding>,
    pub(super) preferences: Vec<Codec>,
    /// Our m-section in the last local description applied.
    pub(super) local: Option<Section>,
    /// The peer's m-section in the last remote description applied.
    pub(super) remote: Option<Section>,
    pub(super) negotiated: Option<Negotiated>,
    /// A [`super::Event::Track`] was reported and the peer still sends.
    pub(super) receiving: bool,
}

impl Transceiver {
    /// Its handle.
    pub fn id(&self) -> TransceiverId {
        self.id
    }

    /// Audio or video.
    pub fn kind(&self) -> MediaKind {
        self.kind
    }

    /// The mid of its m-section (W3C `mid`), once a description associating it is applied.
    pub fn mid(&self) -> Option<&str> {
        self.mid.as_deref()
    }

    /// The direction asked for (W3C `direction`).
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The negotiated direction (W3C `currentDirection`): `None` before an answer, or once stopped.
    pub fn current_direction(&self) -> Option<Direction> {
        if self.stopped { None } else { self.current_direction }
    }

    /// [`PeerConnection::stop_transceiver`] was called (W3C: direction `stopped`).
    pub fn is_stopping(&self) -> bool {
        self.stopping || self.stopped
    }

    /// Stopped for good (W3C `currentDirection` `stopped`): its m-section was rejected.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// The id of the track it sends, if it was given one.
    pub fn track_id(&self) -> Option<&str> {
        self.track.as_deref()
    }

    /// The stream ids it signals (`a=msid`).
    pub fn stream_ids(&self) -> &[String] {
        &self.stream_ids
    }

    /// The peer's stream ids for what it sends on this transceiver.
    pub fn remote_stream_ids(&self) -> Vec<String> {
        self.remote.as_ref().map(Section::stream_ids).unwrap_or_default()
    }

    /// The negotiated codecs (in the answer's order, with its payload types); empty before an answer.
    pub fn codecs(&self) -> &[Codec] {
        self.negotiated.as_ref().map_or(&[], |n| n.codecs.as_slice())
    }

    /// The negotiated header extensions (their directions from our point of view).
    pub fn header_extensions(&self) -> &[HeaderExtension] {
        self.negotiated.as_ref().map_or(&[], |n| n.extensions.as_slice())
    }

    /// The codec preferences set with [`PeerConnection::set_codec_preferences`].
    pub fn codec_preferences(&self) -> &[Codec] {
        &self.preferences
    }

    /// The SSRCs it sends with: per encoding, its rid, media SSRC and RTX SSRC.
    pub fn ssrcs(&self) -> impl Iterator<Item = (Option<&str>, u32, u32)> + '_ {
        self.encodings.iter().map(|e| (e.rid.as_deref(), e.ssrc, e.rtx_ssrc))
    }

    /// The SSRCs the peer signalled (`a=ssrc`), each with its RTX SSRC (`a=ssrc-group:FID`).
    pub fn remote_ssrcs(&self) -> &[(u32, Option<u32>)] {
        self.remote.as_ref().map_or(&[], |s| s.ssrcs.as_slice())
    }

    /// Whether the encoding `rid` (`None`: the first) is active (W3C `RTCRtpEncodingParameters.active`,
    /// set with [`PeerConnection::set_encoding_active`]); `None` if it has no such encoding.
    pub fn encoding_active(&self, rid: Option<&str>) -> Option<bool> {
        self.encoding(rid).map(|e| e.active)
    }

    /// Whether the last answer lets the encoding `rid` (`None`: the first) be sent: with simulcast
    /// offered, the answer's `a=rid … recv` lines name the layers it accepts, and an answer without any
    /// (as Chromium's) leaves the first encoding alone, sent without its rid (RFC 8853 §5.3). Frames for
    /// an encoding not negotiated are refused with [`Error::InvalidParameter`]. `None` if it has no such
    /// encoding.
    pub fn encoding_negotiated(&self, rid: Option<&str>) -> Option<bool> {
        self.encoding(rid).map(|e| e.negotiated)
    }

    /// The encoding `rid`, or the first for `None`.
    pub(super) fn encoding(&self, rid: Option<&str>) -> Option<&Encoding> {
        match rid {
            Some(rid) => self.encodings.iter().find(|e| e.rid.as_ref().is_some_and(|r| r.as_str() == rid)),
            None => self.encodings.first(),
        }
    }

    /// Whether the negotiated direction lets us send.
    pub(super) fn sends(&self) -> bool {
        !self.stopped && !self.stopping && self.current_direction.is_some_and(has_send)
    }

    /// Whether the negotiated direction lets us receive.
    pub(super) fn receives(&self) -> bool {
        !self.stopped && self.current_direction.is_some_and(super::media::has_recv)
    }

    /// Whether this transceiver can be told apart from others by `mid`.
    pub(super) fn has_mid(&self, mid: &str) -> bool {
        // Compared as bytes: no UTF-8 check of our own tag on every packet.
        self.mid.as_ref().is_some_and(|m| m.as_bytes() == mid.as_bytes())
    }
}

/// The connection's transceivers, in the order they were added (JSEP's canonical order), with the
/// generator and CNAME their SSRCs and descriptions use.
#[derive(Debug, Default)]
pub(super) struct Transceivers {
    pub list: Vec<Transceiver>,
    next: u32,
    rng: Option<Box<SeededRng>>,
    cname: Option<String>,
}

impl Transceivers {
    pub fn get(&self, id: TransceiverId) -> Option<&Transceiver> {
        self.list.iter().find(|t| t.id == id)
    }

    pub fn get_mut(&mut self, id: TransceiverId) -> Option<&mut Transceiver> {
        self.list.iter_mut().find(|t| t.id == id)
    }

    pub fn by_mid(&self, mid: &str) -> Option<&Transceiver> {
        self.list.iter().find(|t| t.has_mid(mid))
    }

    /// The connection's CNAME (RFC 7022: random, 16 characters), made on first use.
    pub fn cname(&mut self, parent: &mut SeededRng) -> String {
        if let Some(c) = &self.cname {
            return c.clone();
        }
        const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let bytes: [u8; 16] = self.rng(parent).bytes();
        let cname: String = bytes.iter().map(|b| char::from(ALPHABET[usize::from(b & 63)])).collect();
        self.cname = Some(cname.clone());
        cname
    }

    /// The generator for SSRCs and sequence numbers, forked from the connection's on first use (so a
    /// connection without media draws nothing more from its generator).
    fn rng(&mut self, parent: &mut SeededRng) -> &mut SeededRng {
        self.rng.get_or_insert_with(|| Box::new(parent.fork()))
    }

    /// A new SSRC: random, not 0, and not one of ours or one the peer signalled.
    fn new_ssrc(&mut self, parent: &mut SeededRng, also_taken: &[u32]) -> u32 {
        loop {
            let ssrc = self.rng(parent).u32();
            let ours = self.list.iter().flat_map(|t| t.encodings.iter()).any(|e| e.ssrc == ssrc || e.rtx_ssrc == ssrc);
            let theirs = self
                .list
                .iter()
                .filter_map(|t| t.remote.as_ref())
                .flat_map(|s| s.ssrcs.iter())
                .any(|&(p, r)| p == ssrc || r == Some(ssrc));
            if ssrc != 0 && !ours && !theirs && !also_taken.contains(&ssrc) {
                return ssrc;
            }
        }
    }

    /// A new transceiver with SSRCs for each encoding.
    pub fn create(
        &mut self,
        parent: &mut SeededRng,
        kind: MediaKind,
        track: Option<String>,
        init: TransceiverInit,
    ) -> Result<TransceiverId, Error> {
        let rids = encoding_rids(kind, &init.send_encodings)?;
        let id = TransceiverId(self.next);
        self.next = self.next.wrapping_add(1);
        let mut encodings: Vec<Encoding> = Vec::new();
        for rid in rids {
            let mut taken: Vec<u32> = encodings.iter().flat_map(|e| [e.ssrc, e.rtx_ssrc]).collect();
            let ssrc = self.new_ssrc(parent, &taken);
            taken.push(ssrc);
            let rtx_ssrc = self.new_ssrc(parent, &taken);
            // Four octets drawn, as when the RTX stream's first sequence number was drawn here too (the
            // RTP session draws it now), so SSRCs drawn after stay as they were.
            let [a, b, _, _]: [u8; 4] = self.rng(parent).bytes();
            // RFC 3550 §5.1: the first sequence number is random; kept in the lower half so the first
            // rollover is far away.
            let seq = u16::from_be_bytes([a & 0x7f, b]);
            crate::util::reserve_compact(&mut encodings);
            encodings.push(Encoding {
                rid: rid.as_deref().map(Tag::from),
                ssrc,
                rtx_ssrc,
                seq,
                active: true,
                negotiated: true,
                send_rid: rid.is_some(),
                sent_before: SentTotals::default(),
            });
        }
        // One slot at a time: a transceiver is large, and a connection has a few.
        self.list.reserve_exact(1);
        self.list.push(Transceiver {
            id,
            kind,
            mid: None,
            direction: init.direction,
            current_direction: None,
            stopping: false,
            stopped: false,
            track,
            from_add_track: false,
            has_sent: false,
            stream_ids: init.stream_ids,
            encodings,
            preferences: Vec::new(),
            local: None,
            remote: None,
            negotiated: None,
            receiving: false,
        });
        Ok(id)
    }
}

/// The rids of the encodings asked for: one without a rid when none is given; with more than one, each
/// needs a distinct valid rid (RFC 8851 §10), and audio has one encoding.
fn encoding_rids(kind: MediaKind, encodings: &[SendEncoding]) -> Result<Vec<Option<String>>, Error> {
    if encodings.is_empty() {
        return Ok(alloc::vec![None]);
    }
    if encodings.len() > 1 && (kind == MediaKind::Audio || encodings.len() > 4) {
        return Err(Error::InvalidParameter);
    }
    let mut out: Vec<Option<String>> = Vec::new();
    for e in encodings {
        match &e.rid {
            Some(rid) => {
                let valid = !rid.is_empty()
                    && rid.len() <= 16
                    && rid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !valid || out.iter().any(|r| r.as_deref() == Some(rid.as_str())) {
                    return Err(Error::InvalidParameter);
                }
                out.push(Some(rid.clone()));
            }
            None if encodings.len() == 1 => out.push(None),
            None => return Err(Error::InvalidParameter),
        }
    }
    Ok(out)
}

impl PeerConnection {
    /// Adds a transceiver (W3C `addTransceiver`) for a kind or a track, with a direction, the streams its
    /// track belongs to and the encodings it sends. Its SSRCs (and RTX SSRCs) are drawn from the
    /// connection's generator. Emits [`super::Event::NegotiationNeeded`]; the next offer carries its
    /// m-section. A remote offer never takes a transceiver made this way (W3C); see [`Self::add_track`].
    pub fn add_transceiver(
        &mut self,
        now: Instant,
        what: impl Into<TrackOrKind>,
        init: TransceiverInit,
    ) -> Result<TransceiverId, Error> {
        self.touch(now);
        self.check_open()?;
        let (kind, track) = match what.into() {
            TrackOrKind::Kind(kind) => (kind, None),
            TrackOrKind::Track(t) => (t.kind, Some(t.id)),
        };
        let id = self.transceivers.create(&mut self.rng, kind, track, init)?;
        self.update_negotiation_needed();
        Ok(id)
    }

    /// Adds a track to send (W3C `addTrack`): reuses a transceiver of its kind that has never sent and has
    /// no track (one a remote offer created), making it send; otherwise adds a `sendrecv` transceiver that
    /// the next remote offer may take (RFC 8829 §5.10). Emits [`super::Event::NegotiationNeeded`].
    pub fn add_track(&mut self, now: Instant, track: Track, stream_ids: &[&str]) -> Result<TransceiverId, Error> {
        self.touch(now);
        self.check_open()?;
        if self.transceivers.list.iter().any(|t| t.track.as_deref() == Some(track.id.as_str()) && !t.is_stopping()) {
            return Err(Error::InvalidParameter);
        }
        let streams: Vec<String> = stream_ids.iter().map(|s| s.to_string()).collect();
        let reuse = self
            .transceivers
            .list
            .iter_mut()
            .find(|t| t.kind == track.kind && t.track.is_none() && !t.has_sent && !t.is_stopping());
        let id = match reuse {
            Some(t) => {
                t.track = Some(track.id);
                t.stream_ids = streams;
                t.direction = match t.direction {
                    Direction::RecvOnly | Direction::SendRecv => Direction::SendRecv,
                    _ => Direction::SendOnly,
                };
                t.id
            }
            None => {
                let init = TransceiverInit { stream_ids: streams, ..TransceiverInit::default() };
                let id = self.transceivers.create(&mut self.rng, track.kind, Some(track.id), init)?;
                if let Some(t) = self.transceivers.get_mut(id) {
                    t.from_add_track = true;
                }
                id
            }
        };
        self.update_negotiation_needed();
        Ok(id)
    }

    /// The transceivers (W3C `getTransceivers`), in the order they were added; stopped ones whose
    /// m-section was reused are gone.
    pub fn transceivers(&self) -> impl Iterator<Item = &Transceiver> + '_ {
        self.transceivers.list.iter()
    }

    /// A transceiver.
    pub fn transceiver(&self, id: TransceiverId) -> Option<&Transceiver> {
        self.transceivers.get(id)
    }

    /// The transceiver of the m-section `mid`.
    pub fn transceiver_by_mid(&self, mid: &str) -> Option<&Transceiver> {
        self.transceivers.by_mid(mid)
    }

    /// Sets a transceiver's direction (W3C `direction`): [`super::Event::NegotiationNeeded`] follows when
    /// it differs from what was negotiated; the change applies once an offer/answer exchange carries it.
    pub fn set_direction(&mut self, now: Instant, id: TransceiverId, direction: Direction) -> Result<(), Error> {
        self.touch(now);
        self.check_open()?;
        let t = self.transceivers.get_mut(id).ok_or(Error::NoSuchTransceiver)?;
        if t.is_stopping() {
            return Err(Error::TransceiverStopped);
        }
        t.direction = direction;
        self.update_negotiation_needed();
        Ok(())
    }

    /// Stops a transceiver (W3C `stop`): it sends nothing more at once, and the next offer rejects its
    /// m-section (whose slot a later transceiver may then reuse); [`super::Event::NegotiationNeeded`]
    /// follows. One never negotiated is stopped at once. The transport and the other transceivers and
    /// channels are not disturbed.
    pub fn stop_transceiver(&mut self, now: Instant, id: TransceiverId) -> Result<(), Error> {
        self.touch(now);
        self.check_open()?;
        let t = self.transceivers.get_mut(id).ok_or(Error::NoSuchTransceiver)?;
        if t.is_stopping() {
            return Ok(());
        }
        t.stopping = true;
        t.receiving = false;
        if t.mid.is_none() {
            t.stopped = true;
        }
        self.update_negotiation_needed();
        Ok(())
    }

    /// Turns one of a transceiver's encodings on or off (W3C `RTCRtpEncodingParameters.active`, as
    /// `setParameters` sets it), by rid (`None`: the first encoding): a simulcast layer the receivers no
    /// longer need, or one the available bandwidth cannot carry. Takes effect at once, with no
    /// renegotiation; the description does not change.
    ///
    /// Turned off, the encoding sends nothing: [`PeerConnection::write_frame`] and
    /// [`PeerConnection::write_rtp`] refuse it with [`Error::EncodingInactive`] (nothing is sent, nothing
    /// counted), and its stream leaves the RTP session with an RTCP BYE (RFC 3550 §6.6, as libwebrtc does
    /// for a layer turned off), so no sender report names it any more. Turned on again, its stream
    /// returns with the same SSRCs and the sequence numbers go on from the last one sent, and
    /// [`super::Event::KeyframeRequest`] with [`KeyframeRequestKind::EncodingActivated`] asks the
    /// application for a key frame on it (when the transceiver is negotiated to send). Its
    /// `outbound-rtp` statistics stay, with `active` false while it is off. Turning an encoding to the
    /// state it is in does nothing. Errors: [`Error::NoSuchTransceiver`], [`Error::TransceiverStopped`],
    /// [`Error::InvalidParameter`] for a rid it does not have. Then drain `poll_transmit` (the BYE) and
    /// `poll_event`.
    pub fn set_encoding_active(
        &mut self,
        now: Instant,
        id: TransceiverId,
        rid: Option<&str>,
        active: bool,
    ) -> Result<(), Error> {
        self.touch(now);
        self.check_open()?;
        let t = self.transceivers.get(id).ok_or(Error::NoSuchTransceiver)?;
        if t.is_stopping() {
            return Err(Error::TransceiverStopped);
        }
        let e = t.encoding(rid).ok_or(Error::InvalidParameter)?;
        if e.active == active {
            return Ok(());
        }
        let (ssrc, tag, mid, sends) = (e.ssrc, e.rid.clone(), t.mid.clone(), t.sends());
        // What the stream sent so far, before it leaves the session.
        let sent = self.rtp_session().and_then(|s| s.send_stats(ssrc));
        let Some(e) = self.transceivers.get_mut(id).and_then(|t| t.encodings.iter_mut().find(|e| e.ssrc == ssrc))
        else {
            return Err(Error::NoSuchTransceiver);
        };
        e.active = active;
        if let Some(sent) = sent.filter(|_| !active) {
            e.sent_before.add(&sent);
        }
        tracing::debug!(target: super::TARGET, %id, rid = tag.as_deref(), ssrc, active, "encoding turned on or off");
        // The session follows the encodings: a stream removed (with its BYE) or added back.
        self.renegotiate_rtp_session();
        if let (true, true, Some(mid)) = (active, sends, mid) {
            let kind = KeyframeRequestKind::EncodingActivated;
            self.emit(super::Event::KeyframeRequest { transceiver: id, mid, rid: tag, kind });
        }
        Ok(())
    }

    /// Sets the codecs a transceiver offers and accepts, in order (W3C `setCodecPreferences`); each must
    /// be of the transceiver's kind and the same format as one of [`super::Config::codecs`] (RTX follows
    /// its codec's `rtx_payload_type`). An empty list goes back to the configured codecs. Applies to the
    /// next offer or answer; emits no event (W3C).
    pub fn set_codec_preferences(&mut self, id: TransceiverId, codecs: &[Codec]) -> Result<(), Error> {
        let supported = &self.config.codecs;
        let t = self.transceivers.list.iter_mut().find(|t| t.id == id).ok_or(Error::NoSuchTransceiver)?;
        for c in codecs {
            if c.kind != t.kind || !supported.iter().any(|s| s.same_format(c)) {
                return Err(Error::InvalidParameter);
            }
        }
        t.preferences = codecs.to_vec();
        Ok(())
    }

    /// The codecs a transceiver of `kind` offers and accepts: its preferences, or the configured codecs of
    /// that kind.
    pub(super) fn codecs_for(&self, t: &Transceiver) -> Vec<Codec> {
        if t.preferences.is_empty() {
            self.config.codecs.iter().filter(|c| c.kind == t.kind).cloned().collect()
        } else {
            t.preferences.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_ids_agree_with_the_full_map() {
        use crate::rtp::ExtensionMap;
        let ext = |id, kind| HeaderExtension { id, kind, direction: Direction::SendRecv };
        let cases = [
            alloc::vec![ext(1, ExtensionKind::Mid), ext(3, ExtensionKind::TransportWideCc)],
            // A kind given twice keeps its last id; an id given twice its last kind; id 0 is ignored.
            alloc::vec![
                ext(4, ExtensionKind::Mid),
                ext(2, ExtensionKind::AbsSendTime),
                ext(4, ExtensionKind::RtpStreamId),
                ext(9, ExtensionKind::AbsSendTime),
                ext(0, ExtensionKind::TransportWideCc),
                ext(200, ExtensionKind::Mid),
            ],
            Vec::new(),
        ];
        let kinds = [
            ExtensionKind::Mid,
            ExtensionKind::RtpStreamId,
            ExtensionKind::AbsSendTime,
            ExtensionKind::TransportWideCc,
            ExtensionKind::RepairedRtpStreamId,
        ];
        for extensions in cases {
            let ids = ExtensionIds::new(&extensions);
            let mut map = ExtensionMap::new();
            for e in &extensions {
                map.insert(e.id, e.kind);
            }
            for kind in kinds {
                assert_eq!(ids.id(kind), map.id(kind), "{kind:?} in {extensions:?}");
            }
            for id in 0..=255 {
                assert_eq!(ids.kind(id), map.kind(id), "{id} in {extensions:?}");
            }
            assert_eq!(ids.ids(), map.ids(), "every id at once, in {extensions:?}");
        }
        let two = ExtensionIds::new(&[ext(4, ExtensionKind::Mid), ext(2, ExtensionKind::AbsSendTime)]);
        assert_eq!(two.id(ExtensionKind::Mid), Some(4));
        assert_eq!(two.kind(2), Some(ExtensionKind::AbsSendTime));
    }

    #[test]
    fn tags_share_and_compare_as_text() {
        let t = Tag::from("abc");
        let u = t.clone();
        assert_eq!(u, "abc");
        assert_eq!(&*u, "abc");
        assert_eq!(alloc::format!("{t} {t:?}"), "abc \"abc\"");
        assert_eq!(Tag::from_extension(b"0"), Some(Tag::from("0")));
        assert_eq!(Tag::from_extension(b""), None);
        assert_eq!(Tag::from_extension(&[0xff]), None);
    }

    #[test]
    fn encodings_need_distinct_valid_rids() {
        let e = |rid: Option<&str>| SendEncoding { rid: rid.map(String::from) };
        assert_eq!(encoding_rids(MediaKind::Video, &[]), Ok(alloc::vec![None]));
        assert_eq!(encoding_rids(MediaKind::Audio, &[e(Some("a"))]), Ok(alloc::vec![Some("a".to_string())]));
        assert_eq!(encoding_rids(MediaKind::Video, &[e(Some("h")), e(Some("l"))]).map(|v| v.len()), Ok(2));
        assert_eq!(encoding_rids(MediaKind::Video, &[e(Some("h")), e(None)]), Err(Error::InvalidParameter));
        assert_eq!(encoding_rids(MediaKind::Video, &[e(Some("h")), e(Some("h"))]), Err(Error::InvalidParameter));
        assert_eq!(encoding_rids(MediaKind::Video, &[e(Some("a b"))]), Err(Error::InvalidParameter));
        assert_eq!(encoding_rids(MediaKind::Audio, &[e(Some("a")), e(Some("b"))]), Err(Error::InvalidParameter));
    }

    #[test]
    fn ssrcs_are_distinct_and_seeded() {
        let mut parent = SeededRng::from_seed([9; 32]);
        let mut ts = Transceivers::default();
        let init = || TransceiverInit {
            send_encodings: alloc::vec![SendEncoding { rid: Some("h".into()) }, SendEncoding { rid: Some("l".into()) }],
            ..TransceiverInit::default()
        };
        ts.create(&mut parent, MediaKind::Video, None, init()).unwrap();
        ts.create(&mut parent, MediaKind::Audio, None, TransceiverInit::default()).unwrap();
        let all: Vec<u32> = ts.list.iter().flat_map(|t| t.ssrcs().flat_map(|(_, a, b)| [a, b])).collect();
        assert_eq!(all.len(), 6);
        for (i, a) in all.iter().enumerate() {
            assert!(*a != 0 && !all[i + 1..].contains(a));
        }
        // The same seed gives the same SSRCs and CNAME.
        let mut parent2 = SeededRng::from_seed([9; 32]);
        let mut ts2 = Transceivers::default();
        ts2.create(&mut parent2, MediaKind::Video, None, init()).unwrap();
        assert_eq!(ts2.list[0].encodings[0].ssrc, ts.list[0].encodings[0].ssrc);
        let cname = ts.cname(&mut parent);
        assert_eq!(cname.len(), 16);
        assert_eq!(ts.cname(&mut parent), cname);
    }
}
