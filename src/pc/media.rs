//! The media description model: what an audio or video m-section says (codecs with their payload types,
//! fmtp and RTCP feedback, RTX, header extensions, direction, `a=msid`, `a=ssrc` and `a=ssrc-group:FID`,
//! `a=rid`/`a=simulcast`, `a=rtcp-mux`, `a=rtcp-rsize`), read from parsed SDP and written back, and the
//! offer/answer rules between two of them (RFC 3264 §6, RFC 8285 §7, RFC 4588 §8, RFC 8829 §5.3.1).
//! Pure functions of their inputs; the transceivers that own these live in [`super::transceiver`].

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::codec::{Codec, Feedback, MediaKind};
use crate::rtp::ExtensionKind;
use crate::sdp::{Attribute, Connection, Direction, MediaDescription, SessionDescription, TransportParams};

/// The RTP profile WebRTC uses (RFC 8829 §5.1.2).
pub(super) const PROTO: &str = "UDP/TLS/RTP/SAVPF";

/// An RTP header extension of an m-section (RFC 8285 §5): its id, what it is, and the direction its
/// `a=extmap` gave (`sendrecv` when none was written).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HeaderExtension {
    /// The id (1–14 in the one-byte form, up to 255 in the two-byte form).
    pub id: u8,
    /// The extension.
    pub kind: ExtensionKind,
    /// Its direction, from the point of view of the description's writer.
    pub direction: Direction,
}

/// A header extension the connection uses on one kind of media, with the id its offers give it (see
/// [`super::Config::header_extensions`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExtensionPreference {
    /// Audio or video.
    pub media: MediaKind,
    /// The extension.
    pub kind: ExtensionKind,
    /// The id our offers use (1–14), unless the BUNDLE group already has one for it.
    pub id: u8,
}

impl ExtensionPreference {
    /// The default set, with Chromium's ids: audio level (1), abs-send-time (2), transport-wide CC (3),
    /// MID (4), RID (10), repaired RID (11) and video orientation (13). Audio sections get audio level,
    /// abs-send-time, transport-wide CC and MID; video sections the others.
    pub fn defaults() -> Vec<ExtensionPreference> {
        DEFAULT_EXTENSIONS.to_vec()
    }
}

/// [`ExtensionPreference::defaults`], static so that a default configuration allocates nothing for them.
pub(super) static DEFAULT_EXTENSIONS: [ExtensionPreference; 10] = {
    use ExtensionKind as K;
    use MediaKind::{Audio, Video};
    const fn e(media: MediaKind, kind: ExtensionKind, id: u8) -> ExtensionPreference {
        ExtensionPreference { media, kind, id }
    }
    [
        e(Audio, K::AudioLevel, 1),
        e(Audio, K::AbsSendTime, 2),
        e(Audio, K::TransportWideCc, 3),
        e(Audio, K::Mid, 4),
        e(Video, K::AbsSendTime, 2),
        e(Video, K::TransportWideCc, 3),
        e(Video, K::Mid, 4),
        e(Video, K::RtpStreamId, 10),
        e(Video, K::RepairedRtpStreamId, 11),
        e(Video, K::VideoOrientation, 13),
    ]
};

/// A restriction identifier (`a=rid`, RFC 8851) and whether its writer sends or receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Rid {
    pub id: String,
    pub send: bool,
}

/// What one audio or video m-section says, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Section {
    pub kind: MediaKind,
    pub mid: Option<String>,
    /// Port 0 (rejected, RFC 3264 §6).
    pub rejected: bool,
    pub direction: Direction,
    /// The primary codecs this stack knows, in m-line order, each with its RTX payload type.
    pub codecs: Vec<Codec>,
    /// The header extensions this stack knows (section level, or session level without any).
    pub extensions: Vec<HeaderExtension>,
    /// Extensions this stack knows offered with an id of the extended range 4096–4351 (RFC 8285 §7): an
    /// answer that wants one gives it a free id of the valid range.
    pub extended: Vec<(ExtensionKind, Direction)>,
    /// `a=msid` (stream id, track id), or the `msid` of `a=ssrc` lines without any.
    pub msids: Vec<(String, Option<String>)>,
    /// The media SSRCs (`a=ssrc`), each with its RTX SSRC (`a=ssrc-group:FID`).
    pub ssrcs: Vec<(u32, Option<u32>)>,
    /// The CNAME of the first `a=ssrc` that has one.
    pub cname: Option<String>,
    pub rids: Vec<Rid>,
    pub rtcp_mux: bool,
    pub rtcp_rsize: bool,
}

/// The static payload types WebRTC peers send without an `a=rtpmap` (RFC 3551 §6).
fn static_codec(pt: u8) -> Option<Codec> {
    Some(match pt {
        0 => Codec::pcmu(),
        8 => Codec::pcma(),
        9 => Codec::g722(),
        _ => return None,
    })
}

impl Section {
    /// An empty section of `kind`.
    pub fn new(kind: MediaKind) -> Section {
        Section {
            kind,
            mid: None,
            rejected: false,
            direction: Direction::SendRecv,
            codecs: Vec::new(),
            extensions: Vec::new(),
            extended: Vec::new(),
            msids: Vec::new(),
            ssrcs: Vec::new(),
            cname: None,
            rids: Vec::new(),
            rtcp_mux: true,
            rtcp_rsize: true,
        }
    }

    /// Reads an audio or video RTP m-section of `sdp`; `None` for any other.
    pub fn parse(sdp: &SessionDescription<'_>, m: &MediaDescription<'_>) -> Option<Section> {
        let kind = MediaKind::from_name(&m.media)?;
        if !m.is_rtp() {
            return None;
        }
        let a = &m.attributes;
        let mut s = Section::new(kind);
        s.mid = m.mid().map(ToString::to_string);
        s.rejected = m.is_rejected();
        s.direction = a.direction().or_else(|| sdp.attributes.direction()).unwrap_or(Direction::SendRecv);
        s.rtcp_mux = a.rtcp_mux();
        s.rtcp_rsize = a.rtcp_rsize();
        s.codecs = parse_codecs(kind, m);
        // RFC 8285 §5: mappings are all at session level or all at media level.
        let extmaps = if a.extmaps().next().is_some() { a } else { &sdp.attributes };
        for e in extmaps.extmaps() {
            let Some(kind) = ExtensionKind::from_uri(e.uri) else { continue };
            let direction = e.direction.unwrap_or(Direction::SendRecv);
            let known = s.extensions.iter().any(|x| x.kind == kind) || s.extended.iter().any(|x| x.0 == kind);
            match u8::try_from(e.id) {
                // An id is used once per section; the first mapping of a kind wins.
                Ok(id) if !known && !s.extensions.iter().any(|x| x.id == id) => {
                    s.extensions.push(HeaderExtension { id, kind, direction });
                }
                Err(_) if !known && (4096..=4351).contains(&e.id) => s.extended.push((kind, direction)),
                _ => {}
            }
        }
        for msid in a.msids() {
            s.msids.push((msid.stream.to_string(), msid.track.map(ToString::to_string)));
        }
        let rtx_of: Vec<(u32, u32)> = a
            .ssrc_groups()
            .filter(|g| g.semantics == "FID")
            .filter_map(|g| {
                let mut it = g.ssrcs();
                Some((it.next()?, it.next()?))
            })
            .collect();
        for line in a.ssrcs() {
            let ssrc = line.ssrc;
            match (line.attribute, line.value) {
                ("cname", Some(v)) if s.cname.is_none() => s.cname = Some(v.to_string()),
                ("msid", Some(v)) if a.msids().next().is_none() => {
                    let (stream, track) = v.split_once(' ').map_or((v, None), |(s, t)| (s, Some(t)));
                    if !stream.is_empty() && !s.msids.iter().any(|(m, _)| m == stream) {
                        s.msids.push((stream.to_string(), track.map(ToString::to_string)));
                    }
                }
                _ => {}
            }
            let is_rtx = rtx_of.iter().any(|&(_, r)| r == ssrc);
            if !is_rtx && !s.ssrcs.iter().any(|&(p, _)| p == ssrc) {
                let rtx = rtx_of.iter().find(|&&(p, _)| p == ssrc).map(|&(_, r)| r);
                s.ssrcs.push((ssrc, rtx));
            }
        }
        for rid in a.rids() {
            let mut words = rid.split(' ');
            let (Some(id), Some(dir)) = (words.next(), words.next()) else { continue };
            if id.is_empty() || s.rids.iter().any(|r| r.id == id) {
                continue;
            }
            match dir {
                "send" => s.rids.push(Rid { id: id.to_string(), send: true }),
                "recv" => s.rids.push(Rid { id: id.to_string(), send: false }),
                _ => {}
            }
        }
        // Kept for the connection's life: no spare capacity.
        s.codecs.shrink_to_fit();
        s.extensions.shrink_to_fit();
        s.ssrcs.shrink_to_fit();
        Some(s)
    }

    /// The payload types this section receives on: every codec's and its RTX's.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.codecs.iter().flat_map(|c| core::iter::once(c.payload_type).chain(c.rtx_payload_type))
    }

    /// The id of extension `kind`, if the section has it.
    #[cfg(test)]
    pub fn extension_id(&self, kind: ExtensionKind) -> Option<u8> {
        self.extensions.iter().find(|e| e.kind == kind).map(|e| e.id)
    }

    /// The stream ids of `a=msid` (`-` means none, RFC 8830 §2).
    pub fn stream_ids(&self) -> Vec<String> {
        self.msids.iter().filter(|(s, _)| s != "-").map(|(s, _)| s.clone()).collect()
    }

    /// The section as SDP, with the transport parameters JSEP writes into every bundled section. Offers also
    /// carry `a=rtcp:9 IN IP4 0.0.0.0` (RFC 8829 §5.2.1).
    pub fn to_media(&self, mid: &str, transport: &TransportParams<'_>, offer: bool) -> MediaDescription<'static> {
        let formats: Vec<String> = self.payload_types().map(|pt| pt.to_string()).collect();
        let mut m = MediaDescription::new(self.kind.as_str(), 9, PROTO, formats.join(" "));
        m.connections.push(Connection::unspecified_ip4());
        let a = &mut m.attributes;
        let mut put = |name: &'static str, value: String| a.push(Attribute::with_value(name, value));
        if offer {
            put("rtcp", String::from("9 IN IP4 0.0.0.0"));
        }
        put("ice-ufrag", transport.ice_ufrag.to_string());
        put("ice-pwd", transport.ice_pwd.to_string());
        if !transport.ice_options.is_empty() {
            put("ice-options", transport.ice_options.join(" "));
        }
        for f in transport.fingerprints {
            put("fingerprint", f.to_string());
        }
        put("setup", transport.setup.as_str().to_string());
        put("mid", mid.to_string());
        for e in &self.extensions {
            let id = if e.direction == Direction::SendRecv {
                e.id.to_string()
            } else {
                alloc::format!("{}/{}", e.id, e.direction)
            };
            put("extmap", alloc::format!("{id} {}", e.kind.uri()));
        }
        a.push(Attribute::flag(self.direction.as_str()));
        for (stream, track) in &self.msids {
            let value = match track {
                Some(t) => alloc::format!("{stream} {t}"),
                None => stream.clone(),
            };
            a.push(Attribute::with_value("msid", value));
        }
        if self.rtcp_mux {
            a.push(Attribute::flag("rtcp-mux"));
        }
        if self.rtcp_rsize {
            a.push(Attribute::flag("rtcp-rsize"));
        }
        let mut put = |name: &'static str, value: String| a.push(Attribute::with_value(name, value));
        for c in &self.codecs {
            let pt = c.payload_type;
            put("rtpmap", alloc::format!("{pt} {}", c.rtpmap()));
            for f in c.feedback.iter() {
                put("rtcp-fb", alloc::format!("{pt} {}", f.as_str()));
            }
            if !c.fmtp.is_empty() {
                put("fmtp", alloc::format!("{pt} {}", c.fmtp));
            }
            if let Some(rtx) = c.rtx_payload_type {
                put("rtpmap", alloc::format!("{rtx} rtx/{}", c.clock_rate));
                put("fmtp", alloc::format!("{rtx} apt={pt}"));
            }
        }
        for r in &self.rids {
            put("rid", alloc::format!("{} {}", r.id, if r.send { "send" } else { "recv" }));
        }
        for send in [true, false] {
            let ids: Vec<&str> = self.rids.iter().filter(|r| r.send == send).map(|r| r.id.as_str()).collect();
            if ids.len() > 1 {
                put("simulcast", alloc::format!("{} {}", if send { "send" } else { "recv" }, ids.join(";")));
            }
        }
        for &(ssrc, rtx) in &self.ssrcs {
            if let Some(rtx) = rtx {
                put("ssrc-group", alloc::format!("FID {ssrc} {rtx}"));
            }
        }
        for &(ssrc, rtx) in &self.ssrcs {
            for s in core::iter::once(ssrc).chain(rtx) {
                if let Some(cname) = &self.cname {
                    put("ssrc", alloc::format!("{s} cname:{cname}"));
                }
                for (stream, track) in &self.msids {
                    let track = track.as_deref().unwrap_or("-");
                    put("ssrc", alloc::format!("{s} msid:{stream} {track}"));
                }
            }
        }
        m
    }
}

/// The primary codecs of an m-section this stack can read, in m-line order, with RTX attached by `apt`
/// (RFC 4588 §8.1). RTX whose primary is not known, `ulpfec` and other formats are left out, and `red`
/// unless its blocks are an Opus format of the section.
fn parse_codecs(kind: MediaKind, m: &MediaDescription<'_>) -> Vec<Codec> {
    let a = &m.attributes;
    let fmtp_of = |pt: u8| a.fmtps().find(|f| f.format.parse::<u8>().ok() == Some(pt)).map(|f| f.params);
    let mut codecs: Vec<Codec> = Vec::new();
    let mut rtx: Vec<(u8, u8)> = Vec::new();
    for pt in m.formats().filter_map(|f| f.parse::<u8>().ok()).filter(|&pt| pt <= 127) {
        if codecs.iter().any(|c| c.payload_type == pt) || rtx.iter().any(|&(r, _)| r == pt) {
            continue;
        }
        let codec = match a.rtpmaps().find(|r| r.payload_type == pt) {
            Some(r) if r.encoding.eq_ignore_ascii_case("rtx") => {
                let apt = fmtp_of(pt).and_then(|p| {
                    super::codec::params(p)
                        .find(|(k, _)| k.eq_ignore_ascii_case("apt"))
                        .and_then(|(_, v)| v.parse().ok())
                });
                if let Some(apt) = apt {
                    rtx.push((pt, apt));
                }
                continue;
            }
            Some(r) => {
                let channels = match kind {
                    MediaKind::Audio => r.params.and_then(|p| p.parse().ok()).unwrap_or(1),
                    MediaKind::Video => 0,
                };
                Codec {
                    kind,
                    payload_type: pt,
                    name: Cow::Owned(r.encoding.to_string()),
                    clock_rate: r.clock_rate,
                    channels,
                    fmtp: Cow::Borrowed(""),
                    feedback: Cow::Borrowed(&[]),
                    rtx_payload_type: None,
                }
            }
            None => match static_codec(pt).filter(|c| c.kind == kind) {
                Some(c) => c,
                None => continue,
            },
        };
        let mut codec = codec;
        codec.fmtp = Cow::Owned(fmtp_of(pt).unwrap_or_default().to_string());
        let mut feedback: Vec<Feedback> = Vec::new();
        for fb in a.rtcp_fbs().filter(|f| f.payload_type.is_none_or(|p| p == pt)) {
            if let Some(f) = Feedback::parse(fb.feedback) {
                if !feedback.contains(&f) {
                    feedback.push(f);
                }
            }
        }
        codec.feedback = feedback.into();
        codecs.push(codec);
    }
    for (pt, apt) in rtx {
        if let Some(c) = codecs.iter_mut().find(|c| c.payload_type == apt && c.rtx_payload_type.is_none()) {
            c.rtx_payload_type = Some(pt);
        }
    }
    // Codecs this stack cannot handle at all (ulpfec, flexfec, CN) are not formats of ours; RED is, when
    // it protects an Opus format of the section.
    codecs.retain(|c| !matches!(c.name.to_ascii_lowercase().as_str(), "ulpfec" | "flexfec-03" | "cn"));
    super::codec::settle_red(&mut codecs, None);
    codecs
}

/// The direction an answer gives for an offered one and the local transceiver's (RFC 3264 §6.1, RFC 8829
/// §5.3.1): what the offerer sends we may receive, what it receives we may send.
pub(super) fn answer_direction(offered: Direction, local: Direction) -> Direction {
    direction(has_send(local) && has_recv(offered), has_recv(local) && has_send(offered))
}

/// The direction as seen from the other end.
pub(super) fn reverse(d: Direction) -> Direction {
    direction(has_recv(d), has_send(d))
}

pub(super) fn has_send(d: Direction) -> bool {
    matches!(d, Direction::SendRecv | Direction::SendOnly)
}

pub(super) fn has_recv(d: Direction) -> bool {
    matches!(d, Direction::SendRecv | Direction::RecvOnly)
}

pub(super) fn direction(send: bool, recv: bool) -> Direction {
    match (send, recv) {
        (true, true) => Direction::SendRecv,
        (true, false) => Direction::SendOnly,
        (false, true) => Direction::RecvOnly,
        (false, false) => Direction::Inactive,
    }
}

/// The answer's codecs for an offered section (RFC 8829 §5.3.1): every offered format a supported codec
/// matches, with the offered payload types, in offer order — or, with codec preferences, in their order
/// and only those.
pub(super) fn answer_codecs(offered: &[Codec], supported: &[Codec], preferences: &[Codec]) -> Vec<Codec> {
    let mut out: Vec<Codec> = Vec::new();
    let mut add = |o: &Codec, local: &Codec| {
        if !out.iter().any(|c| c.payload_type == o.payload_type) {
            out.push(local.answer(o));
        }
    };
    if preferences.is_empty() {
        for o in offered {
            if let Some(local) = supported.iter().find(|l| l.same_format(o)) {
                add(o, local);
            }
        }
    } else {
        for p in preferences {
            for o in offered.iter().filter(|o| p.same_format(o)) {
                add(o, p);
            }
        }
    }
    super::codec::settle_red(&mut out, None);
    out
}

/// The answer's header extensions for an offered section (RFC 8285 §7): those `supported` for it, with
/// the offered id and the mirrored direction; one offered with an id of the extended range gets the
/// lowest id of the one-byte range that `taken` (the ids the offer's BUNDLE group uses) leaves free.
pub(super) fn answer_extensions(
    offered: &Section,
    supported: impl Fn(ExtensionKind) -> bool,
    taken: &[u8],
) -> Vec<HeaderExtension> {
    let mut out: Vec<HeaderExtension> = offered
        .extensions
        .iter()
        .filter(|e| e.id != 0 && supported(e.kind))
        .map(|e| HeaderExtension { direction: reverse(e.direction), ..*e })
        .collect();
    for &(kind, direction) in offered.extended.iter().filter(|(k, _)| supported(*k)) {
        let free = (1..=14u8).find(|id| !taken.contains(id) && !out.iter().any(|e| e.id == *id));
        if let Some(id) = free {
            out.push(HeaderExtension { id, kind, direction: reverse(direction) });
        }
    }
    out
}

/// A rejected section answering or re-offering one: port 0, the kind, the RTP profile, the formats of
/// `formats` (at least one, RFC 8866 §5.14), and the mid.
pub(super) fn rejected(kind: &str, proto: &str, formats: &str, mid: Option<&str>) -> MediaDescription<'static> {
    let formats = if formats.is_empty() { "0" } else { formats };
    let mut m = MediaDescription::new(Cow::Owned(kind.to_string()), 0, proto.to_string(), formats.to_string());
    m.connections.push(Connection::unspecified_ip4());
    if let Some(mid) = mid {
        m.attributes.push(Attribute::with_value("mid", mid.to_string()));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdp::{Fingerprint, HashFunction, Setup};

    fn read(dir: &str) -> String {
        let path = alloc::format!("{}/vectors/sdp/{dir}/offer.sdp", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).unwrap_or_default()
    }

    fn sections(text: &str) -> Vec<Section> {
        let sdp = SessionDescription::parse(text).unwrap_or_else(|e| panic!("{e}"));
        sdp.media.iter().filter_map(|m| Section::parse(&sdp, m)).collect()
    }

    #[test]
    fn chromium_all_codecs() {
        let s = sections(&read("chromium156_allcodecs_media_data"));
        assert_eq!(s.len(), 2);
        let (audio, video) = (&s[0], &s[1]);
        assert_eq!(
            (audio.kind, audio.mid.as_deref(), audio.direction),
            (MediaKind::Audio, Some("0"), Direction::SendRecv)
        );
        assert_eq!(audio.codecs.len(), 1);
        assert_eq!(audio.codecs[0].opus_params().map(|p| (p.minptime, p.useinbandfec)), Some((Some(10), true)));
        assert_eq!(*audio.codecs[0].feedback, [Feedback::TransportCc]);
        assert_eq!(audio.extension_id(ExtensionKind::AudioLevel), Some(1));
        assert_eq!(audio.extension_id(ExtensionKind::Mid), Some(4));
        assert_eq!(audio.ssrcs, [(3_847_045_847, None)]);
        assert_eq!(audio.cname.as_deref(), Some("hAj3Xlz2XTrUBZ0h"));
        assert_eq!(audio.stream_ids(), ["f0e666fc-61d3-4914-83ca-845f41a20181"]);
        assert!(audio.rtcp_mux && audio.rtcp_rsize);
        // Video: red, ulpfec and their RTX are left out; every other format has its RTX.
        let pts: Vec<(u8, Option<u8>)> = video.codecs.iter().map(|c| (c.payload_type, c.rtx_payload_type)).collect();
        assert_eq!(
            pts,
            [
                (96, Some(97)),
                (102, Some(103)),
                (104, Some(107)),
                (108, Some(109)),
                (114, Some(115)),
                (116, Some(117)),
                (39, Some(40)),
                (45, Some(46)),
                (98, Some(99)),
                (100, Some(101))
            ]
        );
        assert_eq!(*video.codecs[0].feedback, Feedback::ALL);
        assert_eq!(video.codecs[8].vp9_profile_id(), Some(0));
        assert_eq!(video.codecs[9].vp9_profile_id(), Some(2));
        let h264 = video.codecs[1].h264_params().unwrap();
        assert_eq!(
            (h264.profile_level_id.to_string(), h264.packetization_mode, h264.level_asymmetry_allowed),
            ("42001f".into(), 1, true)
        );
        assert_eq!(video.extension_id(ExtensionKind::VideoOrientation), Some(13));
        assert_eq!(video.extension_id(ExtensionKind::RepairedRtpStreamId), Some(11));
        // toffset, playout-delay (not ours), and the other Chromium extensions are left out.
        assert_eq!(video.extensions.len(), 7);
        assert_eq!(video.ssrcs, [(4_017_449_786, Some(530_976_941))]);
    }

    #[test]
    fn firefox_static_payload_types_rtx_and_extmap_directions() {
        let s = sections(&read("firefox_esr_153_media_data"));
        let (audio, video) = (&s[0], &s[1]);
        let names: Vec<(&str, u8)> = audio.codecs.iter().map(|c| (&*c.name, c.payload_type)).collect();
        assert_eq!(names, [("opus", 109), ("G722", 9), ("PCMU", 0), ("PCMA", 8), ("telephone-event", 101)]);
        assert!(audio.codecs[0].opus_params().is_some_and(|p| p.stereo && p.useinbandfec));
        assert_eq!(audio.codecs[4].fmtp, "0-15");
        // csrc-audio-level (recvonly) is not ours.
        assert_eq!(audio.extensions.len(), 3);
        assert_eq!(audio.stream_ids(), ["{d10953a3-8803-4be2-9c3b-8983f27ec39c}"]);
        let pts: Vec<(u8, Option<u8>)> = video.codecs.iter().map(|c| (c.payload_type, c.rtx_payload_type)).collect();
        assert_eq!(pts, [(120, Some(124)), (121, Some(125)), (99, Some(100))]);
        assert_eq!(video.ssrcs, [(3_936_004_717, Some(3_900_050_602))]);
    }

    #[test]
    fn aiortc_offer() {
        let s = sections(&read("aiortc116_media_data"));
        assert_eq!(s[0].codecs[0].payload_type, 96);
        assert_eq!(*s[1].codecs[0].feedback, [Feedback::Nack, Feedback::NackPli, Feedback::GoogRemb]);
        assert!(!s[1].rtcp_rsize);
    }

    #[test]
    fn directions() {
        use Direction::*;
        for (offered, local, answer) in [
            (SendRecv, SendRecv, SendRecv),
            (SendOnly, SendRecv, RecvOnly),
            (RecvOnly, SendRecv, SendOnly),
            (SendRecv, RecvOnly, RecvOnly),
            (SendOnly, SendOnly, Inactive),
            (Inactive, SendRecv, Inactive),
            (RecvOnly, Inactive, Inactive),
        ] {
            assert_eq!(answer_direction(offered, local), answer, "{offered} {local}");
        }
        assert_eq!(reverse(SendOnly), RecvOnly);
        assert_eq!(reverse(SendRecv), SendRecv);
        assert_eq!(reverse(Inactive), Inactive);
    }

    #[test]
    fn answers_keep_offer_order_or_preferences() {
        let offered = sections(&read("chromium156_allcodecs_media_data")).remove(1).codecs;
        let ans = answer_codecs(&offered, &Codec::defaults(), &[]);
        let pts: Vec<u8> = ans.iter().map(|c| c.payload_type).collect();
        // VP8, H.264 42001f and 42e01f in packetization mode 1, AV1, VP9 profiles 0 and 2.
        assert_eq!(pts, [96, 102, 108, 45, 98, 100]);
        let prefs = [Codec::av1(45, 46), Codec::vp8()];
        let pts: Vec<u8> = answer_codecs(&offered, &Codec::defaults(), &prefs).iter().map(|c| c.payload_type).collect();
        assert_eq!(pts, [45, 96]);
        assert!(answer_codecs(&offered, &[Codec::opus()], &[]).is_empty());
    }

    #[test]
    fn written_sections_read_back() {
        let fp = Fingerprint::new(HashFunction::Sha256, &[7; 32]).into_iter().collect::<Vec<_>>();
        let transport = TransportParams {
            ice_ufrag: "abcd",
            ice_pwd: "0123456789abcdefghijkl",
            ice_options: &["trickle"],
            fingerprints: &fp,
            setup: Setup::ActPass,
        };
        let mut s = Section::new(MediaKind::Video);
        s.mid = Some("1".into());
        s.direction = Direction::SendOnly;
        s.codecs = alloc::vec![Codec::vp8(), Codec::h264(102, "42001f", 103)];
        s.extensions = alloc::vec![
            HeaderExtension { id: 4, kind: ExtensionKind::Mid, direction: Direction::SendRecv },
            HeaderExtension { id: 13, kind: ExtensionKind::VideoOrientation, direction: Direction::SendOnly },
        ];
        s.msids = alloc::vec![("stream".into(), Some("track".into()))];
        s.ssrcs = alloc::vec![(1111, Some(2222))];
        s.cname = Some("cname".into());
        s.rids = alloc::vec![Rid { id: "h".into(), send: true }, Rid { id: "l".into(), send: true }];
        let m = s.to_media("1", &transport, true);
        let b = crate::sdp::DescriptionBuilder::new(1, 1).section(m).build().to_sdp_string();
        assert!(b.contains("a=simulcast:send h;l\r\n"), "{b}");
        assert!(b.contains("a=extmap:13/sendonly urn:3gpp:video-orientation\r\n"), "{b}");
        let sdp = SessionDescription::parse(&b).unwrap();
        sdp.validate_webrtc(crate::sdp::SdpType::Offer).unwrap();
        let back = Section::parse(&sdp, &sdp.media[0]).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn extension_ids_rfc8285() {
        let offer = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
                     a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
                     m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\na=mid:a\r\n\
                     m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:v\r\n\
                     a=extmap:1/sendonly urn:3gpp:video-orientation\r\n\
                     a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
                     a=extmap:4096 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n\
                     a=extmap:300 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n\
                     a=extmap:7 http://example.com/unknown\r\n\
                     a=rtpmap:96 VP8/90000\r\n";
        let s = sections(offer);
        // Session-level mappings apply to a section without its own.
        assert_eq!(
            s[0].extensions,
            [HeaderExtension { id: 3, kind: ExtensionKind::Mid, direction: Direction::SendRecv }]
        );
        // Id 1 is taken by the first mapping; 4096 waits for an id; 300 is no valid id; unknown URIs are left out.
        let video = &s[1];
        assert_eq!(
            video.extensions,
            [HeaderExtension { id: 1, kind: ExtensionKind::VideoOrientation, direction: Direction::SendOnly }]
        );
        assert_eq!(video.extended, [(ExtensionKind::AbsSendTime, Direction::SendRecv)]);
        let answer = answer_extensions(video, |_| true, &[1, 2, 3]);
        assert_eq!(
            answer,
            [
                HeaderExtension { id: 1, kind: ExtensionKind::VideoOrientation, direction: Direction::RecvOnly },
                HeaderExtension { id: 4, kind: ExtensionKind::AbsSendTime, direction: Direction::SendRecv },
            ]
        );
        assert!(answer_extensions(video, |k| k == ExtensionKind::Mid, &[]).is_empty());
    }
}
