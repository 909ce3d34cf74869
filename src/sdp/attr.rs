//! Typed forms of the attributes WebRTC needs, parsed on demand from an attribute's raw value.
//!
//! Each `parse` takes the text after `a=name:` and borrows from it. The parser of the whole description runs
//! them once on every known attribute (so a malformed one is an error naming its line), and the accessors of
//! [`AttributeList`](super::AttributeList) run them again when asked; they are cheap (no allocation).

use core::fmt;

use super::error::{AttributeKind, SdpErrorKind};

/// `str::split_once` for an ASCII byte: a plain byte scan, cheaper than the generic char searcher on the
/// short strings SDP is made of. Splitting at an ASCII byte always lands on char boundaries.
pub(crate) fn split_once_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|x| x == b)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// `str::split` for an ASCII byte (see [`split_once_byte`]).
pub(crate) fn split_byte(s: &str, b: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    core::iter::from_fn(move || {
        let s = rest?;
        match split_once_byte(s, b) {
            Some((head, tail)) => {
                rest = Some(tail);
                Some(head)
            }
            None => {
                rest = None;
                Some(s)
            }
        }
    })
}

/// Splits on single spaces, failing on an empty token (two spaces in a row, or a leading/trailing space).
pub(crate) fn tokens(s: &str) -> impl Iterator<Item = Result<&str, ()>> {
    split_byte(s, b' ').map(|t| if t.is_empty() { Err(()) } else { Ok(t) })
}

/// RFC 8866 §9 `token-char`.
pub(crate) fn is_token_char(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x27 | 0x2A..=0x2B | 0x2D..=0x2E | 0x30..=0x39 | 0x41..=0x5A | 0x5E..=0x7E)
}

/// A non-empty RFC 8866 `token`.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// RFC 8839 §5.1 `ice-char`: ALPHA / DIGIT / "+" / "/".
pub(crate) fn is_ice_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// A decimal integer of ASCII digits only (no sign, no spaces), at most `max`.
pub(crate) fn parse_decimal(s: &str, max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok().filter(|&v| v <= max)
}

fn bad(kind: AttributeKind) -> SdpErrorKind {
    SdpErrorKind::BadAttribute(kind)
}

/// `a=setup` (RFC 4145 §4, RFC 8842 §5): which side opens the DTLS connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Setup {
    /// The endpoint will initiate (DTLS client).
    Active,
    /// The endpoint will accept (DTLS server).
    Passive,
    /// Either; the answerer decides. The only value an offer may carry (RFC 8842 §5.2).
    ActPass,
    /// No connection for now.
    HoldConn,
}

impl Setup {
    /// Parses the attribute value.
    pub fn parse(value: &str) -> Result<Self, SdpErrorKind> {
        match value {
            "active" => Ok(Self::Active),
            "passive" => Ok(Self::Passive),
            "actpass" => Ok(Self::ActPass),
            "holdconn" => Ok(Self::HoldConn),
            _ => Err(bad(AttributeKind::Setup)),
        }
    }

    /// The value an answerer writes for an offered one (RFC 8842 §5.3): `active` for `actpass` (what
    /// JSEP, RFC 8829 §5.3.1, recommends, so the answerer is the DTLS client), the opposite role for
    /// `active` and `passive`, `holdconn` for `holdconn`.
    #[must_use]
    pub const fn answer_for(offered: Self) -> Self {
        match offered {
            Self::ActPass | Self::Passive => Self::Active,
            Self::Active => Self::Passive,
            Self::HoldConn => Self::HoldConn,
        }
    }

    /// The attribute value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Passive => "passive",
            Self::ActPass => "actpass",
            Self::HoldConn => "holdconn",
        }
    }
}

impl fmt::Display for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Media direction (RFC 8866 §6.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `a=sendrecv`, the default.
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// The direction an attribute name denotes, if it is one.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sendrecv" => Some(Self::SendRecv),
            "sendonly" => Some(Self::SendOnly),
            "recvonly" => Some(Self::RecvOnly),
            "inactive" => Some(Self::Inactive),
            _ => None,
        }
    }

    /// The attribute name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The hash function of a fingerprint (RFC 8122 §5, the IANA "Hash Function Textual Names" registry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashFunction<'a> {
    /// `sha-1` (20 bytes).
    Sha1,
    /// `sha-224` (28 bytes).
    Sha224,
    /// `sha-256` (32 bytes), what browsers use.
    Sha256,
    /// `sha-384` (48 bytes).
    Sha384,
    /// `sha-512` (64 bytes).
    Sha512,
    /// `md5` (16 bytes; RFC 8122 forbids generating it).
    Md5,
    /// `md2` (16 bytes; likewise).
    Md2,
    /// Any other name, kept as written.
    Other(&'a str),
}

impl<'a> HashFunction<'a> {
    /// Parses a textual name, case-insensitively (RFC 8122 §5).
    #[must_use]
    pub fn from_name(name: &'a str) -> Self {
        const NAMES: [(&str, HashFunction<'static>); 7] = [
            ("sha-1", HashFunction::Sha1),
            ("sha-224", HashFunction::Sha224),
            ("sha-256", HashFunction::Sha256),
            ("sha-384", HashFunction::Sha384),
            ("sha-512", HashFunction::Sha512),
            ("md5", HashFunction::Md5),
            ("md2", HashFunction::Md2),
        ];
        NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map_or(Self::Other(name), |&(_, h)| h)
    }

    /// The textual name, lower case as browsers write it.
    #[must_use]
    pub const fn name(self) -> &'a str {
        match self {
            Self::Sha1 => "sha-1",
            Self::Sha224 => "sha-224",
            Self::Sha256 => "sha-256",
            Self::Sha384 => "sha-384",
            Self::Sha512 => "sha-512",
            Self::Md5 => "md5",
            Self::Md2 => "md2",
            Self::Other(name) => name,
        }
    }

    /// The digest length in bytes, when the function is known.
    #[must_use]
    pub const fn digest_len(self) -> Option<usize> {
        match self {
            Self::Sha1 => Some(20),
            Self::Sha224 => Some(28),
            Self::Sha256 => Some(32),
            Self::Sha384 => Some(48),
            Self::Sha512 => Some(64),
            Self::Md5 | Self::Md2 => Some(16),
            Self::Other(_) => None,
        }
    }
}

/// The longest fingerprint kept (a SHA-512 digest).
pub const MAX_FINGERPRINT_LEN: usize = 64;

/// `a=fingerprint` (RFC 8122 §5): a certificate's hash, `hash-func SP 2HEX *(":" 2HEX)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fingerprint<'a> {
    /// The hash function.
    pub hash: HashFunction<'a>,
    bytes: [u8; MAX_FINGERPRINT_LEN],
    len: u8,
}

impl<'a> Fingerprint<'a> {
    /// A fingerprint from a digest; `None` if it is empty, longer than 64 bytes, or not the length the hash
    /// function gives.
    #[must_use]
    pub fn new(hash: HashFunction<'a>, digest: &[u8]) -> Option<Self> {
        if digest.is_empty()
            || digest.len() > MAX_FINGERPRINT_LEN
            || hash.digest_len().is_some_and(|n| n != digest.len())
        {
            return None;
        }
        let mut bytes = [0; MAX_FINGERPRINT_LEN];
        bytes.get_mut(..digest.len())?.copy_from_slice(digest);
        Some(Self { hash, bytes, len: u8::try_from(digest.len()).ok()? })
    }

    /// Parses the attribute value. Hex digits may be either case (RFC 8122 asks for upper case; some
    /// peers write lower).
    pub fn parse(value: &'a str) -> Result<Self, SdpErrorKind> {
        let (name, hex) = split_once_byte(value, b' ').ok_or(SdpErrorKind::BadFingerprint)?;
        if !is_token(name) {
            return Err(SdpErrorKind::BadFingerprint);
        }
        // `HH:HH:…:HH`: every three bytes are two hex digits and a colon, except the last two.
        let hex = hex.as_bytes();
        let len = (hex.len() + 1) / 3;
        if hex.len() % 3 != 2 || len > MAX_FINGERPRINT_LEN {
            return Err(SdpErrorKind::BadFingerprint);
        }
        let mut bytes = [0; MAX_FINGERPRINT_LEN];
        for (i, (chunk, out)) in hex.chunks(3).zip(bytes.iter_mut()).enumerate() {
            let (&[hi, lo] | &[hi, lo, b':']) = chunk else {
                return Err(SdpErrorKind::BadFingerprint);
            };
            if chunk.len() == 2 && i + 1 != len {
                return Err(SdpErrorKind::BadFingerprint);
            }
            let (Some(hi), Some(lo)) = (hex_value(hi), hex_value(lo)) else {
                return Err(SdpErrorKind::BadFingerprint);
            };
            *out = hi << 4 | lo;
        }
        Self::new(HashFunction::from_name(name), bytes.get(..len).ok_or(SdpErrorKind::BadFingerprint)?)
            .ok_or(SdpErrorKind::BadFingerprint)
    }

    /// The digest bytes.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Writes the attribute value: `sha-256 AB:CD:…`, upper-case hex.
impl fmt::Display for Fingerprint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hash.name())?;
        for (i, b) in self.bytes().iter().enumerate() {
            f.write_str(if i == 0 { " " } else { ":" })?;
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// `a=ice-ufrag` (RFC 8839 §5.4): 4–256 ice-chars.
pub fn check_ice_ufrag(value: &str) -> Result<(), SdpErrorKind> {
    if !(4..=256).contains(&value.len()) {
        return Err(SdpErrorKind::UfragLength(value.len()));
    }
    if !value.bytes().all(is_ice_char) {
        return Err(SdpErrorKind::BadIceChar);
    }
    Ok(())
}

/// `a=ice-pwd` (RFC 8839 §5.4): 22–256 ice-chars.
pub fn check_ice_pwd(value: &str) -> Result<(), SdpErrorKind> {
    if !(22..=256).contains(&value.len()) {
        return Err(SdpErrorKind::PwdLength(value.len()));
    }
    if !value.bytes().all(is_ice_char) {
        return Err(SdpErrorKind::BadIceChar);
    }
    Ok(())
}

/// `a=group` (RFC 5888 §5): semantics and the mids it groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group<'a> {
    /// `BUNDLE`, `LS`, `FID`, …
    pub semantics: &'a str,
    mids: &'a str,
}

impl<'a> Group<'a> {
    /// Parses the attribute value.
    pub fn parse(value: &'a str) -> Result<Self, SdpErrorKind> {
        let (semantics, mids) = split_once_byte(value, b' ').unwrap_or((value, ""));
        if !is_token(semantics) || (!mids.is_empty() && tokens(mids).any(|t| t.is_err())) {
            return Err(bad(AttributeKind::Group));
        }
        Ok(Self { semantics, mids })
    }

    /// The grouped mids, in order.
    pub fn mids(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.mids.split(' ').filter(|m| !m.is_empty())
    }

    /// Whether this is a BUNDLE group (RFC 9143).
    #[must_use]
    pub fn is_bundle(&self) -> bool {
        self.semantics == "BUNDLE"
    }
}

/// `a=mid` (RFC 5888 §4): a token.
pub fn check_mid(value: &str) -> Result<(), SdpErrorKind> {
    if is_token(value) && value.len() <= 256 { Ok(()) } else { Err(bad(AttributeKind::Mid)) }
}

/// `a=rtpmap` (RFC 8866 §6.6): `payload-type SP encoding-name "/" clock-rate ["/" encoding-params]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpMap<'a> {
    /// The RTP payload type, 0–127.
    pub payload_type: u8,
    /// `opus`, `VP8`, `rtx`, …
    pub encoding: &'a str,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Encoding parameters (audio: the channel count), as written.
    pub params: Option<&'a str>,
}

impl<'a> RtpMap<'a> {
    /// Parses the attribute value.
    pub fn parse(value: &'a str) -> Result<Self, SdpErrorKind> {
        let e = bad(AttributeKind::RtpMap);
        let (pt, rest) = split_once_byte(value, b' ').ok_or(e)?;
        let payload_type = parse_decimal(pt, 127).ok_or(e)?;
        let mut parts = rest.splitn(3, '/');
        let encoding = parts.next().filter(|s| is_token(s)).ok_or(e)?;
        let clock_rate = parts.next().and_then(|s| parse_decimal(s, u32::MAX.into())).ok_or(e)?;
        let params = parts.next();
        if params.is_some_and(str::is_empty) {
            return Err(e);
        }
        Ok(Self {
            payload_type: u8::try_from(payload_type).map_err(|_| e)?,
            encoding,
            clock_rate: u32::try_from(clock_rate).map_err(|_| e)?,
            params,
        })
    }
}

/// `a=fmtp` (RFC 8866 §6.15): `format SP parameters`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fmtp<'a> {
    /// The format (an RTP payload type for RTP media).
    pub format: &'a str,
    /// The format-specific parameters, as written.
    pub params: &'a str,
}

impl<'a> Fmtp<'a> {
    /// Parses the attribute value.
    pub fn parse(value: &'a str) -> Result<Self, SdpErrorKind> {
        let (format, params) = split_once_byte(value, b' ').ok_or(bad(AttributeKind::Fmtp))?;
        if !is_token(format) {
            return Err(bad(AttributeKind::Fmtp));
        }
        Ok(Self { format, params })
    }
}

/// `a=rtcp-fb` (RFC 4585 §4.2): `(payload-type / "*") SP feedback [SP params]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtcpFb<'a> {
    /// The payload type it applies to, `None` for `*` (all).
    pub payload_type: Option<u8>,
    /// The feedback type and parameters, as written: `nack`, `nack pli`, `transport-cc`, …
    pub feedback: &'a str,
}

impl<'a> RtcpFb<'a> {
    /// Parses the attribute value.
    pub fn parse(value: &'a str) -> Result<Self, SdpErrorKind> {
        let e = bad(AttributeKind::RtcpFb);
        let (pt, feedback) = split_once_byte(value, b' ').ok_or(e)?;
        let payload_type =
            if pt == "*" { None } else { Some(u8::try_from(parse_decimal(pt, 127).ok_or(e)?).map_err(|_| e)?) };
        if feedback.is_empty() {
            return Err(e);
        }
        Ok(Self { payload_type, feedback })
    }
}

/// `a=extmap` (RFC 8285 §8): `id ["/" direction] SP uri [SP attributes]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtMap<'a> {
    /// The extension id (1–14 one-byte, up to 255 two-byte, 4096–4351 during negotiation).
    pub id: u16,
    /// A direction, if given.
    pub direction: Option<Direction>,
    /// The extension URI.
    pub uri: &'a str,
    /// Extension attributes, as written.
    pub attributes: Option<&'a str>,
}

impl<'a> ExtMap<'a> {
    /// Parses the attribute value.
    pub fn parse(value: &'a str) -> Result<Self, SdpErrorKind> {
        let e = bad(AttributeKind::ExtMap);
        let (head, rest) = split_once_byte(value, b' ').ok_or(e)?;
        let (id, direction) = match split_once_byte(head, b'/') {
            Some((id, dir)) => (id, Some(Direction::from_name(dir).ok_or(e)?)),
            None => (head, None),
        };
        let id = u16::try_from(parse_decimal(id, 4351).filter(|&i| i >= 1).ok_or(e)?).map_err(|_| e)?;
        let (uri, attributes) = match split_once_byte(rest, b' ') {
            Some((uri, attrs)) => (uri, Some(attrs)),
            None => (rest, None),
        };
        if uri.is_empty() {
            return Err(e);
        }
        Ok(Self { id, direction, uri, attributes })
    }
}

/// `a=ssrc` (RFC 5576 §4.1): `ssrc-id SP attribute [":" value]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ssrc<'a> {
    /// The SSRC.
    pub ssrc: u32,
    /// The source attribute name (`cname`, `msid`, …).
    pub attribute: &'a str,
    /// Its value, if any.
    pub value: Option<&'a str>,
}

impl<'a> Ssrc<'a> {
    /// Parses the attribute value.
    pub fn parse(value: &'a str) -> Result<Self, SdpErrorKind> {
        let e = bad(AttributeKind::Ssrc);
        let (id, rest) = split_once_byte(value, b' ').ok_or(e)?;
        let ssrc = u32::try_from(parse_decimal(id, u32::MAX.into()).ok_or(e)?).map_err(|_| e)?;
        let (attribute, value) = match split_once_byte(rest, b':') {
            Some((a, v)) => (a, Some(v)),
            None => (rest, None),
        };
        if !is_token(attribute) {
            return Err(e);
        }
        Ok(Self { ssrc, attribute, value })
    }
}

/// `a=ssrc-group` (RFC 5576 §4.2): `semantics *(SP ssrc-id)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SsrcGroup<'a> {
    /// `FID`, `SIM`, `FEC-FR`, …
    pub semantics: &'a str,
    ssrcs: &'a str,
}

impl<'a> SsrcGroup<'a> {
    /// Parses the attribute value.
    pub fn parse(value: &'a str) -> Result<Self, SdpErrorKind> {
        let e = bad(AttributeKind::SsrcGroup);
        let (semantics, ssrcs) = split_once_byte(value, b' ').unwrap_or((value, ""));
        if !is_token(semantics) {
            return Err(e);
        }
        if !ssrcs.is_empty() {
            for t in tokens(ssrcs) {
                parse_decimal(t.map_err(|()| e)?, u32::MAX.into()).ok_or(e)?;
            }
        }
        Ok(Self { semantics, ssrcs })
    }

    /// The SSRCs, in order.
    pub fn ssrcs(&self) -> impl Iterator<Item = u32> + use<'a> {
        self.ssrcs.split(' ').filter_map(|s| parse_decimal(s, u32::MAX.into())).filter_map(|v| u32::try_from(v).ok())
    }
}

/// `a=msid` (RFC 8830 §2): `stream-id [SP track-id]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Msid<'a> {
    /// The MediaStream id (`-` for none).
    pub stream: &'a str,
    /// The track id ("appdata"), if given.
    pub track: Option<&'a str>,
}

impl<'a> Msid<'a> {
    /// Parses the attribute value.
    pub fn parse(value: &'a str) -> Result<Self, SdpErrorKind> {
        let e = bad(AttributeKind::Msid);
        let (stream, track) = match split_once_byte(value, b' ') {
            Some((s, t)) => (s, Some(t)),
            None => (value, None),
        };
        if stream.is_empty()
            || stream.len() > 64
            || track.is_some_and(|t| t.is_empty() || t.len() > 64 || t.contains(' '))
        {
            return Err(e);
        }
        Ok(Self { stream, track })
    }
}

/// Checks an `a=ice-options` value: space-separated tags of ice-chars and `-`/`.` (RFC 8839 §5.6 allows
/// `ice-char`; registered options such as `ice2` and Chromium's `renomination` fit it).
pub fn check_ice_options(value: &str) -> Result<(), SdpErrorKind> {
    for t in tokens(value) {
        let t = t.map_err(|()| bad(AttributeKind::IceOptions))?;
        if !t.bytes().all(|b| is_ice_char(b) || b == b'-' || b == b'.' || b == b'_') {
            return Err(bad(AttributeKind::IceOptions));
        }
    }
    Ok(())
}
