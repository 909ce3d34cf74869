//! Codecs as SDP names them (`a=rtpmap`, `a=fmtp`, `a=rtcp-fb`), the ones a peer connection supports by
//! default, and the format matching offer/answer needs: which offered payload type is the same format as
//! a local codec, and what the answer says about it. H.264 follows RFC 6184 §8.2.2 (profile and
//! packetization mode must match, the level is negotiated), VP9 and AV1 match on their profile, H.265 on
//! profile, tier and transmission mode (RFC 7798 §7.2.2), everything else on name, clock rate and channels.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// What an RTP transceiver carries (W3C `MediaStreamTrack.kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MediaKind {
    /// `audio`.
    Audio,
    /// `video`.
    Video,
}

impl MediaKind {
    /// The SDP media name (`audio`, `video`).
    pub const fn as_str(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
        }
    }

    /// The kind of an SDP media name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "audio" => Some(MediaKind::Audio),
            "video" => Some(MediaKind::Video),
            _ => None,
        }
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An RTCP feedback mechanism (`a=rtcp-fb`, RFC 4585 §4.2) this stack negotiates. Others are left out of
/// answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Feedback {
    /// `nack`: generic NACK (RFC 4585 §6.2.1).
    Nack,
    /// `nack pli`: picture loss indication (RFC 4585 §6.3.1).
    NackPli,
    /// `ccm fir`: full intra request (RFC 5104 §7.1).
    CcmFir,
    /// `transport-cc`: transport-wide congestion control feedback.
    TransportCc,
    /// `goog-remb`: receiver estimated maximum bitrate.
    GoogRemb,
}

impl Feedback {
    /// Every mechanism, in the order browsers write them.
    pub const ALL: [Feedback; 5] =
        [Feedback::GoogRemb, Feedback::TransportCc, Feedback::CcmFir, Feedback::Nack, Feedback::NackPli];

    /// The `a=rtcp-fb` text after the payload type.
    pub const fn as_str(self) -> &'static str {
        match self {
            Feedback::Nack => "nack",
            Feedback::NackPli => "nack pli",
            Feedback::CcmFir => "ccm fir",
            Feedback::TransportCc => "transport-cc",
            Feedback::GoogRemb => "goog-remb",
        }
    }

    /// The mechanism an `a=rtcp-fb` text names, if it is one of these (case-insensitive, RFC 4585 §4.2).
    pub fn parse(text: &str) -> Option<Self> {
        let mut words = text.split(' ').filter(|w| !w.is_empty());
        let (first, second, rest) = (words.next()?, words.next(), words.next());
        if rest.is_some() {
            return None;
        }
        let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        Some(match (first, second) {
            (f, None) if is(f, "nack") => Feedback::Nack,
            (f, Some(s)) if is(f, "nack") && is(s, "pli") => Feedback::NackPli,
            (f, Some(s)) if is(f, "ccm") && is(s, "fir") => Feedback::CcmFir,
            (f, None) if is(f, "transport-cc") => Feedback::TransportCc,
            (f, None) if is(f, "goog-remb") => Feedback::GoogRemb,
            _ => return None,
        })
    }
}

/// A codec: one payload type's `a=rtpmap`, `a=fmtp` and `a=rtcp-fb`, and the payload type of its RTX
/// (RFC 4588) if retransmission is used. In [`super::Config::codecs`] it is a codec the connection supports
/// (its payload types are the ones our offers use); on a negotiated transceiver it is what both sides
/// agreed, with the payload types of the description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Codec {
    /// Audio or video.
    pub kind: MediaKind,
    /// The RTP payload type.
    pub payload_type: u8,
    /// The encoding name (`opus`, `VP8`, `H264`, …); compared case-insensitively.
    pub name: Cow<'static, str>,
    /// The RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Audio channels (the rtpmap encoding parameter; 1 when absent); 0 for video.
    pub channels: u16,
    /// The `a=fmtp` parameters as written (`minptime=10;useinbandfec=1`), empty for none.
    pub fmtp: Cow<'static, str>,
    /// The RTCP feedback the codec uses.
    pub feedback: Cow<'static, [Feedback]>,
    /// The payload type of its RTX format (`a=rtpmap:<pt> rtx/<clock>`, `a=fmtp:<pt> apt=<payload type>`),
    /// if retransmission is used.
    pub rtx_payload_type: Option<u8>,
}

/// The feedback browsers use for video codecs.
const VIDEO_FEEDBACK: &[Feedback] = &Feedback::ALL;

/// The codecs of [`Codec::defaults`], static so that a default configuration allocates nothing for them.
pub(super) static DEFAULT_CODECS: [Codec; 13] = [
    Codec::opus(),
    Codec::red(),
    Codec::g722(),
    Codec::pcmu(),
    Codec::pcma(),
    Codec::audio(110, "telephone-event", 48_000, 1, "0-15"),
    Codec::audio(126, "telephone-event", 8_000, 1, "0-15"),
    Codec::vp8(),
    Codec::video(98, "VP9", "profile-id=0", 99),
    Codec::video(100, "VP9", "profile-id=2", 101),
    Codec::video(108, "H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", 109),
    Codec::video(102, "H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f", 103),
    Codec::video(45, "AV1", "level-idx=5;profile=0;tier=0", 46),
];

impl Codec {
    const fn audio(payload_type: u8, name: &'static str, clock_rate: u32, channels: u16, fmtp: &'static str) -> Codec {
        Codec::audio_with(payload_type, name, clock_rate, channels, fmtp, &[])
    }

    const fn audio_with(
        payload_type: u8,
        name: &'static str,
        clock_rate: u32,
        channels: u16,
        fmtp: &'static str,
        feedback: &'static [Feedback],
    ) -> Codec {
        Codec {
            kind: MediaKind::Audio,
            payload_type,
            name: Cow::Borrowed(name),
            clock_rate,
            channels,
            fmtp: Cow::Borrowed(fmtp),
            feedback: Cow::Borrowed(feedback),
            rtx_payload_type: None,
        }
    }

    const fn video(payload_type: u8, name: &'static str, fmtp: &'static str, rtx: u8) -> Codec {
        Codec {
            kind: MediaKind::Video,
            payload_type,
            name: Cow::Borrowed(name),
            clock_rate: 90_000,
            channels: 0,
            fmtp: Cow::Borrowed(fmtp),
            feedback: Cow::Borrowed(VIDEO_FEEDBACK),
            rtx_payload_type: Some(rtx),
        }
    }

    /// Opus (RFC 7587) on payload type 111 with in-band FEC and a 10 ms minimum packet time, as browsers
    /// offer it, and transport-wide congestion control feedback.
    pub const fn opus() -> Codec {
        Codec::audio_with(111, "opus", 48_000, 2, "minptime=10;useinbandfec=1", &[Feedback::TransportCc])
    }

    /// Redundant Opus (RFC 2198) on payload type 63, every block Opus on 111 (`a=fmtp:63 111/111`), as
    /// Chromium offers it. In a description its fmtp names the Opus payload type of that description.
    pub const fn red() -> Codec {
        Codec::audio(63, "red", 48_000, 2, "111/111")
    }

    /// G.722 on its static payload type 9 (its RTP clock is 8000 Hz, RFC 3551 §4.5.2).
    pub const fn g722() -> Codec {
        Codec::audio(9, "G722", 8_000, 1, "")
    }

    /// PCMU (G.711 µ-law) on its static payload type 0.
    pub const fn pcmu() -> Codec {
        Codec::audio(0, "PCMU", 8_000, 1, "")
    }

    /// PCMA (G.711 A-law) on its static payload type 8.
    pub const fn pcma() -> Codec {
        Codec::audio(8, "PCMA", 8_000, 1, "")
    }

    /// DTMF events (RFC 4733) at `clock_rate` (48000 goes with Opus, 8000 with G.711 and G.722), events
    /// 0–15.
    pub const fn telephone_event(payload_type: u8, clock_rate: u32) -> Codec {
        Codec::audio(payload_type, "telephone-event", clock_rate, 1, "0-15")
    }

    /// VP8 (RFC 7741) on 96, RTX on 97.
    pub const fn vp8() -> Codec {
        Codec::video(96, "VP8", "", 97)
    }

    /// VP9 profile `profile_id` (0 or 2) on `payload_type`, RTX on `rtx`.
    pub fn vp9(payload_type: u8, profile_id: u8, rtx: u8) -> Codec {
        Codec {
            fmtp: Cow::Owned(alloc::format!("profile-id={profile_id}")),
            ..Codec::video(payload_type, "VP9", "", rtx)
        }
    }

    /// H.264 (RFC 6184) with `profile_level_id` (six hex digits) and packetization mode 1, level
    /// asymmetry allowed.
    pub fn h264(payload_type: u8, profile_level_id: &str, rtx: u8) -> Codec {
        let fmtp = alloc::format!("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id={profile_level_id}");
        Codec { fmtp: Cow::Owned(fmtp), ..Codec::video(payload_type, "H264", "", rtx) }
    }

    /// AV1 (profile 0, level 3.1, main tier, as browsers offer it).
    pub const fn av1(payload_type: u8, rtx: u8) -> Codec {
        Codec::video(payload_type, "AV1", "level-idx=5;profile=0;tier=0", rtx)
    }

    /// H.265 (RFC 7798), Main profile, level 3.1, main tier.
    pub const fn h265(payload_type: u8, rtx: u8) -> Codec {
        Codec::video(payload_type, "H265", "level-id=93;profile-id=1;tier-flag=0;tx-mode=SRST", rtx)
    }

    /// What [`super::Config::default`] supports, in preference order: Opus, RED for Opus, G.722, PCMU, PCMA and DTMF
    /// events (with Opus's and G.711's clock rates) for audio; VP8, VP9 (profiles 0 and 2), H.264
    /// (Constrained Baseline and Baseline, level 3.1, packetization mode 1) and AV1 for video, each with
    /// RTX. The payload types are Chromium's.
    pub fn defaults() -> Vec<Codec> {
        DEFAULT_CODECS.to_vec()
    }

    /// The value of format parameter `key` (case-insensitive), `Some("")` for a parameter without a value.
    pub fn param(&self, key: &str) -> Option<&str> {
        params(&self.fmtp).find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
    }

    fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// Whether this is a DTMF (`telephone-event`) format.
    pub fn is_telephone_event(&self) -> bool {
        self.is("telephone-event")
    }

    /// Whether this is RED (`red`, RFC 2198).
    pub fn is_red(&self) -> bool {
        self.is("red")
    }

    /// Whether this is RED whose blocks are all of payload type `pt`: its fmtp (RFC 2198 §5) a
    /// `/`-separated list naming `pt` alone (`111/111` in WebRTC).
    pub fn red_protects(&self, pt: u8) -> bool {
        if !self.is_red() {
            return false;
        }
        // Read by hand rather than with `split`, which a firmware would link for this alone.
        let (mut value, mut digits) = (0u16, 0u8);
        for b in self.fmtp.bytes().chain([b'/']) {
            match b {
                b'0'..=b'9' if digits < 3 => {
                    value = value * 10 + u16::from(b - b'0');
                    digits += 1;
                }
                b'/' if digits > 0 && value == u16::from(pt) => (value, digits) = (0, 0),
                b' ' => {}
                _ => return false,
            }
        }
        true
    }

    /// Opus's parameters (RFC 7587 §7), for an Opus codec.
    pub fn opus_params(&self) -> Option<OpusParams> {
        if !self.is("opus") {
            return None;
        }
        let flag = |key| self.param(key).is_some_and(|v| v.trim() == "1");
        Some(OpusParams {
            minptime: self.param("minptime").and_then(|v| v.trim().parse().ok()),
            useinbandfec: flag("useinbandfec"),
            stereo: flag("stereo"),
        })
    }

    /// H.264's parameters (RFC 6184 §8.1), for an H.264 codec; `None` also when `profile-level-id` is
    /// malformed.
    pub fn h264_params(&self) -> Option<H264Params> {
        if !self.is("H264") {
            return None;
        }
        let profile_level_id = match self.param("profile-level-id") {
            Some(v) => ProfileLevelId::parse(v)?,
            None => ProfileLevelId::DEFAULT,
        };
        let flag = |key| self.param(key).and_then(|v| v.trim().parse::<u8>().ok()).unwrap_or(0);
        Some(H264Params {
            profile_level_id,
            packetization_mode: flag("packetization-mode"),
            level_asymmetry_allowed: flag("level-asymmetry-allowed") == 1,
        })
    }

    /// VP9's `profile-id` (0 when absent), for a VP9 codec.
    pub fn vp9_profile_id(&self) -> Option<u8> {
        self.is("VP9").then(|| self.number_param("profile-id", 0))
    }

    fn number_param(&self, key: &str, default: u8) -> u8 {
        self.param(key).and_then(|v| v.trim().parse().ok()).unwrap_or(default)
    }

    /// Whether `other` is the same media format (RFC 3264 §6.1 with each payload format's rules), so one
    /// can answer the other: name, clock rate and channels, then H.264 profile and packetization mode,
    /// VP9 and AV1 profile, H.265 profile, tier and transmission mode.
    pub fn same_format(&self, other: &Codec) -> bool {
        if !self.name.eq_ignore_ascii_case(&other.name)
            || self.clock_rate != other.clock_rate
            || self.kind != other.kind
            || (self.kind == MediaKind::Audio && self.channels.max(1) != other.channels.max(1))
        {
            return false;
        }
        if self.is("H264") {
            return match (self.h264_params(), other.h264_params()) {
                (Some(a), Some(b)) => {
                    a.packetization_mode == b.packetization_mode
                        && a.profile_level_id.profile() == b.profile_level_id.profile()
                }
                _ => false,
            };
        }
        if self.is("VP9") {
            return self.vp9_profile_id() == other.vp9_profile_id();
        }
        if self.is("AV1") {
            return self.number_param("profile", 0) == other.number_param("profile", 0);
        }
        if self.is("H265") {
            let tx = |c: &Codec| c.param("tx-mode").map_or(String::from("SRST"), |v| v.to_ascii_uppercase());
            return self.number_param("profile-id", 1) == other.number_param("profile-id", 1)
                && self.number_param("tier-flag", 0) == other.number_param("tier-flag", 0)
                && tx(self) == tx(other);
        }
        true
    }

    /// The codec an answer gives for `offered` when `self` (a local codec of the same format) answers it:
    /// the offered payload type and name, our format parameters (what we can receive), the feedback both
    /// support, and RTX on the offered RTX payload type if both use it. For H.264 the profile-level-id
    /// carries the answer's level (RFC 6184 §8.2.2): with level asymmetry allowed on both sides, the
    /// highest level we receive; otherwise the lower of the two.
    pub fn answer(&self, offered: &Codec) -> Codec {
        // RED's fmtp names payload types of the offer, which the answer keeps.
        let mut fmtp = if self.is_red() { offered.fmtp.clone() } else { self.fmtp.clone() };
        if let (Some(ours), Some(theirs)) = (self.h264_params(), offered.h264_params()) {
            let level = if ours.level_asymmetry_allowed && theirs.level_asymmetry_allowed {
                ours.profile_level_id.level()
            } else {
                ours.profile_level_id.level().min(theirs.profile_level_id.level())
            };
            let id = theirs.profile_level_id.with_level(level);
            fmtp = Cow::Owned(with_param(&fmtp, "profile-level-id", &alloc::format!("{id}")));
        }
        Codec {
            kind: self.kind,
            payload_type: offered.payload_type,
            name: offered.name.clone(),
            clock_rate: offered.clock_rate,
            channels: offered.channels,
            fmtp,
            feedback: offered.feedback.iter().copied().filter(|f| self.feedback.contains(f)).collect::<Vec<_>>().into(),
            rtx_payload_type: offered.rtx_payload_type.filter(|_| self.rtx_payload_type.is_some()),
        }
    }

    /// The rtpmap value after the payload type: `opus/48000/2`, `VP8/90000`.
    pub(super) fn rtpmap(&self) -> String {
        if self.kind == MediaKind::Audio && self.channels > 1 {
            alloc::format!("{}/{}/{}", self.name, self.clock_rate, self.channels)
        } else {
            alloc::format!("{}/{}", self.name, self.clock_rate)
        }
    }
}

/// Keeps each RED format of `codecs` only when its fmtp names an Opus format of `codecs` alone (RED for
/// another codec, or for nothing negotiated, is not sent or understood here); with
/// `opus_pt`, first points its fmtp at that Opus payload type (an offer whose Opus payload type moved).
pub(super) fn settle_red(codecs: &mut Vec<Codec>, opus_pt: Option<u8>) {
    if let Some(pt) = opus_pt {
        for c in codecs.iter_mut().filter(|c| c.is_red()) {
            c.fmtp = Cow::Owned(alloc::format!("{pt}/{pt}"));
        }
    }
    let mut i = 0;
    while let Some(c) = codecs.get(i) {
        if c.is_red() && !codecs.iter().any(|o| o.is("opus") && c.red_protects(o.payload_type)) {
            codecs.remove(i);
        } else {
            i += 1;
        }
    }
}

/// The `key=value` pairs of an fmtp parameter string (`;`-separated, spaces around them ignored). A
/// parameter without `=` (`0-15` for telephone-event) comes out with an empty value.
pub(super) fn params(fmtp: &str) -> impl Iterator<Item = (&str, &str)> {
    fmtp.split(';').map(str::trim).filter(|p| !p.is_empty()).map(|p| match p.split_once('=') {
        Some((k, v)) => (k.trim(), v.trim()),
        None => (p, ""),
    })
}

/// `fmtp` with parameter `key` set to `value` (replaced where it was, appended otherwise).
fn with_param(fmtp: &str, key: &str, value: &str) -> String {
    let mut out = String::new();
    let mut found = false;
    for (k, v) in params(fmtp) {
        if !out.is_empty() {
            out.push(';');
        }
        out.push_str(k);
        let v = if k.eq_ignore_ascii_case(key) {
            found = true;
            value
        } else {
            v
        };
        if !v.is_empty() {
            out.push('=');
            out.push_str(v);
        }
    }
    if !found {
        if !out.is_empty() {
            out.push(';');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// Opus's receiver parameters (RFC 7587 §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpusParams {
    /// `minptime`: the shortest packet time in milliseconds the receiver wants.
    pub minptime: Option<u16>,
    /// `useinbandfec=1`: the receiver can use Opus's in-band FEC.
    pub useinbandfec: bool,
    /// `stereo=1`: the receiver prefers stereo.
    pub stereo: bool,
}

/// H.264's format parameters (RFC 6184 §8.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct H264Params {
    /// `profile-level-id` (`42000a` when absent).
    pub profile_level_id: ProfileLevelId,
    /// `packetization-mode` (0 when absent).
    pub packetization_mode: u8,
    /// `level-asymmetry-allowed=1`.
    pub level_asymmetry_allowed: bool,
}

/// H.264 `profile-level-id` (RFC 6184 §8.1): `profile_idc`, `profile-iop` (the constraint flags) and
/// `level_idc`, written as six hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProfileLevelId {
    /// `profile_idc` (66 Baseline, 77 Main, 88 Extended, 100 High, …).
    pub profile_idc: u8,
    /// `profile-iop`: constraint_set0..5 flags in its top six bits.
    pub profile_iop: u8,
    /// `level_idc` (ten times the level, 11 with constraint_set3 for Level 1b in Baseline, Main and
    /// Extended, 9 for Level 1b in the others).
    pub level_idc: u8,
}

/// An H.264 profile as offer/answer compares it: profiles that decode the same streams compare equal
/// whatever `profile_idc` says (a Main `profile_idc` with constraint_set1 is Constrained Baseline, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum H264Profile {
    /// Constrained Baseline.
    ConstrainedBaseline,
    /// Baseline.
    Baseline,
    /// Main.
    Main,
    /// Extended.
    Extended,
    /// Constrained High.
    ConstrainedHigh,
    /// High.
    High,
    /// Any other `profile_idc` and constraint flags, compared exactly.
    Other(u8, u8),
}

/// An H.264 level, ordered (Level 1b falls between 1 and 1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct H264Level(u16);

impl H264Level {
    /// Level 1b.
    pub const L1B: H264Level = H264Level(21);

    /// The level for `level_idc` (not 1b).
    pub const fn from_idc(level_idc: u8) -> H264Level {
        H264Level(level_idc as u16 * 2)
    }
}

const CONSTRAINT_SET0: u8 = 0x80;
const CONSTRAINT_SET1: u8 = 0x40;
const CONSTRAINT_SET3: u8 = 0x10;
const CONSTRAINT_SET4: u8 = 0x08;
const CONSTRAINT_SET5: u8 = 0x04;

impl ProfileLevelId {
    /// The value when the parameter is absent: Baseline, Level 1 (RFC 6184 §8.1).
    pub const DEFAULT: ProfileLevelId = ProfileLevelId { profile_idc: 0x42, profile_iop: 0, level_idc: 0x0a };

    /// Parses six hex digits.
    pub fn parse(text: &str) -> Option<ProfileLevelId> {
        let text = text.trim();
        if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let v = u32::from_str_radix(text, 16).ok()?;
        let [_, profile_idc, profile_iop, level_idc] = v.to_be_bytes();
        Some(ProfileLevelId { profile_idc, profile_iop, level_idc })
    }

    /// Whether `profile_idc` is Baseline, Main or Extended, where constraint_set3 with `level_idc` 11
    /// means Level 1b.
    fn baseline_family(self) -> bool {
        matches!(self.profile_idc, 66 | 77 | 88)
    }

    /// The profile, from `profile_idc` and the constraint flags (H.264 §A.2).
    pub fn profile(self) -> H264Profile {
        let iop = self.profile_iop;
        match self.profile_idc {
            66 if iop & CONSTRAINT_SET1 != 0 => H264Profile::ConstrainedBaseline,
            66 => H264Profile::Baseline,
            77 if iop & CONSTRAINT_SET0 != 0 => H264Profile::ConstrainedBaseline,
            77 => H264Profile::Main,
            88 if iop & (CONSTRAINT_SET0 | CONSTRAINT_SET1) == CONSTRAINT_SET0 | CONSTRAINT_SET1 => {
                H264Profile::ConstrainedBaseline
            }
            88 if iop & CONSTRAINT_SET0 != 0 => H264Profile::Baseline,
            88 => H264Profile::Extended,
            100 if iop & (CONSTRAINT_SET4 | CONSTRAINT_SET5) == CONSTRAINT_SET4 | CONSTRAINT_SET5 => {
                H264Profile::ConstrainedHigh
            }
            100 => H264Profile::High,
            idc => H264Profile::Other(idc, iop),
        }
    }

    /// The level, with Level 1b recognised (RFC 6184 §8.2.2).
    pub fn level(self) -> H264Level {
        let l1b = if self.baseline_family() {
            self.level_idc == 11 && self.profile_iop & CONSTRAINT_SET3 != 0
        } else {
            self.level_idc == 9
        };
        if l1b { H264Level::L1B } else { H264Level::from_idc(self.level_idc) }
    }

    /// The same profile at `level`.
    pub fn with_level(self, level: H264Level) -> ProfileLevelId {
        let mut out = self;
        if self.baseline_family() {
            out.profile_iop &= !CONSTRAINT_SET3;
        }
        if level == H264Level::L1B {
            if self.baseline_family() {
                out.level_idc = 11;
                out.profile_iop |= CONSTRAINT_SET3;
            } else {
                out.level_idc = 9;
            }
        } else {
            out.level_idc = u8::try_from(level.0 / 2).unwrap_or(u8::MAX);
        }
        out
    }
}

impl fmt::Display for ProfileLevelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}{:02x}{:02x}", self.profile_idc, self.profile_iop, self.level_idc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn h264(fmtp: &str) -> Codec {
        Codec { fmtp: fmtp.to_string().into(), ..Codec::h264(102, "42e01f", 103) }
    }

    #[test]
    fn feedback_texts() {
        for f in Feedback::ALL {
            assert_eq!(Feedback::parse(f.as_str()), Some(f));
        }
        assert_eq!(Feedback::parse("NACK  PLI"), Some(Feedback::NackPli));
        assert_eq!(Feedback::parse("nack sli"), None);
        assert_eq!(Feedback::parse("ccm fir extra"), None);
        assert_eq!(Feedback::parse(""), None);
    }

    #[test]
    fn fmtp_parameters() {
        let opus = Codec { fmtp: "maxplaybackrate=48000; stereo=1;useinbandfec=1".into(), ..Codec::opus() };
        assert_eq!(opus.param("STEREO"), Some("1"));
        assert_eq!(opus.opus_params(), Some(OpusParams { minptime: None, useinbandfec: true, stereo: true }));
        assert_eq!(
            Codec::opus().opus_params(),
            Some(OpusParams { minptime: Some(10), useinbandfec: true, stereo: false })
        );
        assert_eq!(Codec::pcmu().opus_params(), None);
        assert_eq!(Codec::telephone_event(101, 8000).param("0-15"), Some(""));
        assert_eq!(with_param("a=1;b=2", "b", "3"), "a=1;b=3");
        assert_eq!(with_param("0-15", "x", "1"), "0-15;x=1");
        assert_eq!(with_param("", "x", "1"), "x=1");
    }

    #[test]
    fn h264_profiles_rfc6184() {
        let p = |s: &str| ProfileLevelId::parse(s).unwrap();
        assert_eq!(p("42e01f").profile(), H264Profile::ConstrainedBaseline);
        assert_eq!(p("42001f").profile(), H264Profile::Baseline);
        assert_eq!(p("4d001f").profile(), H264Profile::Main);
        assert_eq!(p("4d801f").profile(), H264Profile::ConstrainedBaseline);
        assert_eq!(p("58c01f").profile(), H264Profile::ConstrainedBaseline);
        assert_eq!(p("58801f").profile(), H264Profile::Baseline);
        assert_eq!(p("640c1f").profile(), H264Profile::ConstrainedHigh);
        assert_eq!(p("64001f").profile(), H264Profile::High);
        assert_eq!(p("f4001f").profile(), H264Profile::Other(0xf4, 0));
        assert_eq!(ProfileLevelId::parse("42e01"), None);
        assert_eq!(ProfileLevelId::parse("42e01g"), None);
        assert_eq!(p("42E01F").to_string(), "42e01f");
        // Level 1b: level_idc 11 with constraint_set3 in Baseline/Main/Extended, 9 elsewhere.
        assert_eq!(p("42f00b").level(), H264Level::L1B);
        assert_eq!(p("42e00b").level(), H264Level::from_idc(11));
        assert_eq!(p("640009").level(), H264Level::L1B);
        assert!(H264Level::from_idc(10) < H264Level::L1B && H264Level::L1B < H264Level::from_idc(11));
        assert_eq!(p("42e01f").with_level(H264Level::L1B).to_string(), "42f00b");
        assert_eq!(p("42f00b").with_level(H264Level::from_idc(11)).to_string(), "42e00b");
        assert_eq!(p("64001f").with_level(H264Level::L1B).to_string(), "640009");
    }

    #[test]
    fn h264_matching_and_level_answer() {
        let ours = h264("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f");
        // Same profile and mode at another level: the same format.
        let offered = h264("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e034");
        assert!(ours.same_format(&offered));
        // Asymmetry allowed on both sides: we answer the level we receive.
        assert!(ours.answer(&offered).fmtp.ends_with("profile-level-id=42e01f"));
        // Not allowed by the offer: the lower level.
        let offered = h264("packetization-mode=1;profile-level-id=42e00d");
        assert!(ours.answer(&offered).fmtp.ends_with("profile-level-id=42e00d"));
        let offered = h264("packetization-mode=1;profile-level-id=42e034");
        assert!(ours.answer(&offered).fmtp.ends_with("profile-level-id=42e01f"));
        // Constrained Baseline written as Main with constraint_set0 is the same profile.
        assert!(ours.same_format(&h264("packetization-mode=1;profile-level-id=4d801f")));
        // Another packetization mode (absent means 0), or another profile: not the same.
        assert!(!ours.same_format(&h264("profile-level-id=42e01f")));
        assert!(!ours.same_format(&h264("packetization-mode=1;profile-level-id=42001f")));
        assert!(!ours.same_format(&h264("packetization-mode=1;profile-level-id=64001f")));
        assert!(!ours.same_format(&h264("packetization-mode=1;profile-level-id=zz")));
        // Without the parameter: Baseline level 1.
        let baseline = h264("packetization-mode=1;profile-level-id=42001f");
        assert!(baseline.same_format(&h264("packetization-mode=1")));
    }

    #[test]
    fn other_formats() {
        assert!(Codec::vp9(98, 0, 99).same_format(&Codec { fmtp: "".into(), ..Codec::vp9(120, 0, 121) }));
        assert_eq!(Codec::defaults()[8], Codec::vp9(98, 0, 99));
        assert_eq!(Codec::defaults()[10], Codec::h264(108, "42e01f", 109));
        assert!(!Codec::vp9(98, 0, 99).same_format(&Codec::vp9(100, 2, 101)));
        assert!(Codec::av1(45, 46).same_format(&Codec { fmtp: "level-idx=8".into(), ..Codec::av1(99, 100) }));
        assert!(!Codec::av1(45, 46).same_format(&Codec { fmtp: "profile=1".into(), ..Codec::av1(99, 100) }));
        let h265 = Codec::h265(49, 50);
        assert!(h265.same_format(&Codec { fmtp: "level-id=120;profile-id=1".into(), ..Codec::h265(1, 2) }));
        assert!(!h265.same_format(&Codec { fmtp: "profile-id=2".into(), ..Codec::h265(1, 2) }));
        assert!(!h265.same_format(&Codec { fmtp: "tier-flag=1".into(), ..Codec::h265(1, 2) }));
        let vp8 = Codec { name: "vp8".into(), ..Codec::vp8() };
        assert!(Codec::vp8().same_format(&vp8));
        // Channels count for audio (absent means 1), clock rate and name always.
        assert!(Codec::pcmu().same_format(&Codec { channels: 0, ..Codec::pcmu() }));
        assert!(!Codec::opus().same_format(&Codec { channels: 1, ..Codec::opus() }));
        assert!(!Codec::telephone_event(110, 48_000).same_format(&Codec::telephone_event(126, 8_000)));
        assert!(!Codec::pcmu().same_format(&Codec::pcma()));
    }

    #[test]
    fn red_names_its_blocks_format() {
        let red = |fmtp: &'static str| Codec { fmtp: Cow::Borrowed(fmtp), ..Codec::red() };
        assert!(Codec::red().red_protects(111) && !Codec::red().red_protects(112));
        assert!(red("109/109/109").red_protects(109) && red(" 96 / 96 ").red_protects(96));
        for bad in ["", "/", "111/", "111/112", "1111/1111", "111;111", "x/111"] {
            assert!(!red(bad).red_protects(111), "{bad:?}");
        }
        assert!(!Codec::opus().red_protects(111));
        // Kept only when it protects an Opus format of the same list, and pointed at it when asked.
        let mut codecs = alloc::vec![Codec { payload_type: 109, ..Codec::opus() }, Codec::red(), Codec::g722()];
        settle_red(&mut codecs, None);
        assert_eq!(codecs.len(), 2);
        let mut codecs = alloc::vec![Codec { payload_type: 109, ..Codec::opus() }, Codec::red()];
        settle_red(&mut codecs, Some(109));
        assert_eq!(codecs[1].fmtp, "109/109");
    }

    #[test]
    fn answers_take_the_offered_payload_types_and_common_feedback() {
        let offered = Codec {
            payload_type: 120,
            feedback: alloc::vec![Feedback::Nack, Feedback::NackPli].into(),
            rtx_payload_type: Some(124),
            ..Codec::vp8()
        };
        let a = Codec::vp8().answer(&offered);
        assert_eq!((a.payload_type, a.rtx_payload_type), (120, Some(124)));
        assert_eq!(*a.feedback, [Feedback::Nack, Feedback::NackPli]);
        let no_rtx = Codec { rtx_payload_type: None, ..Codec::vp8() };
        assert_eq!(no_rtx.answer(&offered).rtx_payload_type, None);
        assert_eq!(Codec::opus().rtpmap(), "opus/48000/2");
        assert_eq!(Codec::vp8().rtpmap(), "VP8/90000");
    }
}
