//! The parser: limits first, then one pass over the lines, borrowing every value from the input.

use alloc::borrow::Cow;
use alloc::vec::Vec;

use super::attr::{self, is_token, parse_decimal, split_once_byte, tokens};
use super::candidate::CandidateAttribute;
use super::description::{
    Attribute, AttributeList, Bandwidth, Connection, MediaDescription, Origin, SessionDescription, Timing,
};
use super::error::{AttributeKind, SdpError, SdpErrorKind};

const TARGET: &str = "sansrtc::sdp";

/// Bounds on what [`SessionDescription::parse_with`] accepts, so hostile input is rejected before, or
/// early in, parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseLimits {
    /// Largest body in bytes; checked before anything else. Default 64 KiB.
    pub max_bytes: usize,
    /// Most lines. Default 1024.
    pub max_lines: u32,
    /// Longest line in bytes, without its line ending. Default 4096.
    pub max_line_len: usize,
    /// Most m-sections. Default 64.
    pub max_media: usize,
    /// Most `a=` lines in one section (session or m-section). Default 512.
    pub max_attributes: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self { max_bytes: 64 * 1024, max_lines: 1024, max_line_len: 4096, max_media: 64, max_attributes: 512 }
    }
}

/// Where the parser is in the RFC 8866 §5 order. Each line type has a rank; ranks never go down.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Start,
    Info,
    Uri,
    Email,
    Phone,
    Connection,
    Bandwidth,
    Time,
    Zone,
    Key,
    Attribute,
}

fn session_rank(t: u8) -> Option<(Rank, bool)> {
    // (rank, may repeat)
    Some(match t {
        b'i' => (Rank::Info, false),
        b'u' => (Rank::Uri, false),
        b'e' => (Rank::Email, true),
        b'p' => (Rank::Phone, true),
        b'c' => (Rank::Connection, false),
        b'b' => (Rank::Bandwidth, true),
        b't' | b'r' => (Rank::Time, true),
        b'z' => (Rank::Zone, false),
        b'k' => (Rank::Key, false),
        b'a' => (Rank::Attribute, true),
        _ => return None,
    })
}

fn media_rank(t: u8) -> Option<(Rank, bool)> {
    Some(match t {
        b'i' => (Rank::Info, false),
        b'c' => (Rank::Connection, true),
        b'b' => (Rank::Bandwidth, true),
        b'k' => (Rank::Key, false),
        b'a' => (Rank::Attribute, true),
        _ => return None,
    })
}

/// Splits the body into lines (LF or CRLF), enforcing the per-line rules.
struct Lines<'a> {
    rest: &'a str,
    number: u32,
    limits: ParseLimits,
}

impl<'a> Lines<'a> {
    /// The next `(line number, type letter, value)`, `None` at the end.
    fn next_line(&mut self) -> Option<Result<(u32, u8, &'a str), SdpError>> {
        if self.rest.is_empty() {
            return None;
        }
        self.number = self.number.saturating_add(1);
        let n = self.number;
        if n > self.limits.max_lines {
            return Some(Err(SdpError::new(n, SdpErrorKind::TooManyLines)));
        }
        // One pass over the bytes finds the LF and the first NUL or CR; it stops once the line is too long.
        let bytes = self.rest.as_bytes();
        let scan = bytes.get(..self.limits.max_line_len.saturating_add(2)).unwrap_or(bytes);
        let mut newline = None;
        let mut special = None;
        // Eight bytes at a time while none of them is a control byte up to CR (the SWAR "has a byte less
        // than n" test, n = 14); then byte by byte from the word that has one.
        let mut start = 0;
        while let Some(word) = scan.get(start..start + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
            let w = u64::from_le_bytes(word);
            if w.wrapping_sub(0x0E0E_0E0E_0E0E_0E0E) & !w & 0x8080_8080_8080_8080 != 0 {
                break;
            }
            start += 8;
        }
        for (i, &b) in scan.iter().enumerate().skip(start) {
            if b <= b'\r' {
                if b == b'\n' {
                    newline = Some(i);
                    break;
                }
                if (b == 0 || b == b'\r') && special.is_none() {
                    special = Some((i, b));
                }
            }
        }
        let end = match newline {
            Some(i) => i,
            None if scan.len() < bytes.len() => return Some(Err(SdpError::new(n, SdpErrorKind::LineTooLong))),
            None => bytes.len(),
        };
        let line = self.rest.get(..end).unwrap_or_default();
        self.rest = self.rest.get(end.saturating_add(1)..).unwrap_or_default();
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.len() > self.limits.max_line_len {
            return Some(Err(SdpError::new(n, SdpErrorKind::LineTooLong)));
        }
        // A CR at `line.len()` is the one ending the line.
        if let Some((_, b)) = special.filter(|&(i, _)| i < line.len()) {
            let kind = if b == 0 { SdpErrorKind::NulByte } else { SdpErrorKind::BareCarriageReturn };
            return Some(Err(SdpError::new(n, kind)));
        }
        if line.is_empty() {
            // Blank lines are tolerated only at the very end.
            if self.rest.bytes().all(|b| b == b'\r' || b == b'\n') {
                self.rest = "";
                return None;
            }
            return Some(Err(SdpError::new(n, SdpErrorKind::EmptyLine)));
        }
        let bytes = line.as_bytes();
        let (Some(&t), Some(b'=')) = (bytes.first(), bytes.get(1)) else {
            return Some(Err(SdpError::new(n, SdpErrorKind::MalformedLine)));
        };
        if !t.is_ascii_lowercase() {
            return Some(Err(SdpError::new(n, SdpErrorKind::MalformedLine)));
        }
        Some(Ok((n, t, line.get(2..).unwrap_or_default())))
    }
}

impl<'a> SessionDescription<'a> {
    /// Parses a description with the default [`ParseLimits`].
    pub fn parse(input: &'a str) -> Result<Self, SdpError> {
        Self::parse_with(input.as_bytes(), &ParseLimits::default())
    }

    /// Parses a description from bytes (checking the size before the UTF-8), with the default limits.
    pub fn parse_bytes(input: &'a [u8]) -> Result<Self, SdpError> {
        Self::parse_with(input, &ParseLimits::default())
    }

    /// Parses a description within `limits`. Lines may end in CRLF or LF; values borrow from `input`.
    ///
    /// Checks syntax (RFC 8866 §5 line order included) and the attributes this module types (see
    /// [`AttributeKind`]); unknown attributes are kept as written. Whether the description is usable for
    /// WebRTC is a separate step: [`SessionDescription::validate_webrtc`].
    pub fn parse_with(input: &'a [u8], limits: &ParseLimits) -> Result<Self, SdpError> {
        let result = parse(input, limits);
        if let Err(e) = &result {
            tracing::debug!(target: TARGET, line = e.line, error = %e.kind, "rejected session description");
        }
        result
    }
}

fn parse<'a>(input: &'a [u8], limits: &ParseLimits) -> Result<SessionDescription<'a>, SdpError> {
    if input.len() > limits.max_bytes {
        return Err(SdpError::new(0, SdpErrorKind::TooLarge { len: input.len(), limit: limits.max_bytes }));
    }
    if input.is_empty() {
        return Err(SdpError::new(0, SdpErrorKind::Empty));
    }
    let text = core::str::from_utf8(input).map_err(|e| {
        let before = input.get(..e.valid_up_to()).unwrap_or_default();
        let line = before.iter().filter(|&&b| b == b'\n').count().saturating_add(1);
        SdpError::new(u32::try_from(line).unwrap_or(u32::MAX), SdpErrorKind::NotUtf8)
    })?;
    let mut lines = Lines { rest: text, number: 0, limits: *limits };
    let mut next = |missing: SdpErrorKind| -> Result<(u32, u8, &'a str), SdpError> {
        lines.next_line().unwrap_or(Err(SdpError::new(0, missing)))
    };

    // v=0, o=, s= come first, in that order.
    let (n, t, v) = next(SdpErrorKind::Empty)?;
    if t != b'v' {
        return Err(SdpError::new(n, SdpErrorKind::MissingVersion));
    }
    if v != "0" {
        return Err(SdpError::new(n, SdpErrorKind::BadVersion));
    }
    let (n, t, v) = next(SdpErrorKind::MissingOrigin)?;
    if t != b'o' {
        return Err(SdpError::new(n, SdpErrorKind::MissingOrigin));
    }
    let origin = parse_origin(v).ok_or(SdpError::new(n, SdpErrorKind::BadOrigin))?;
    let (n, t, v) = next(SdpErrorKind::MissingSessionName)?;
    if t != b's' {
        return Err(SdpError::new(n, SdpErrorKind::MissingSessionName));
    }
    let mut sdp = SessionDescription {
        origin,
        session_name: Cow::Borrowed(v),
        information: None,
        uri: None,
        emails: Vec::new(),
        phones: Vec::new(),
        connection: None,
        bandwidths: Vec::new(),
        timings: Vec::new(),
        time_zones: None,
        key: None,
        attributes: AttributeList::new(),
        media: Vec::new(),
    };

    let mut rank = Rank::Start;
    let mut last_type = b's';
    let mut in_media = false;
    let mut mids: Vec<&'a str> = Vec::new();
    while let Some(line) = lines.next_line() {
        let (n, t, v) = line?;
        let err = |kind| SdpError::new(n, kind);
        if t == b'm' {
            if sdp.timings.is_empty() {
                return Err(err(SdpErrorKind::MissingTiming));
            }
            if sdp.media.len() >= limits.max_media {
                return Err(err(SdpErrorKind::TooManyMediaSections));
            }
            let mut media = parse_media_line(v).ok_or(err(SdpErrorKind::BadMediaLine))?;
            media.line = n;
            sdp.media.push(media);
            in_media = true;
            rank = Rank::Start;
            last_type = t;
            continue;
        }
        let ranked = if in_media { media_rank(t) } else { session_rank(t) };
        let Some((line_rank, repeats)) = ranked else {
            return Err(err(if b"vosiuepcbtrzkam".contains(&t) {
                SdpErrorKind::UnexpectedLine(t)
            } else {
                SdpErrorKind::UnknownLineType(t)
            }));
        };
        if line_rank < rank || (line_rank == rank && !repeats) || (t == b'r' && !matches!(last_type, b't' | b'r')) {
            return Err(err(SdpErrorKind::UnexpectedLine(t)));
        }
        rank = line_rank;
        last_type = t;
        let value = Cow::Borrowed(v);
        let media = if in_media { sdp.media.last_mut() } else { None };
        match (t, media) {
            (b'a', media) => {
                let attribute = parse_attribute(n, v)?;
                if attribute.name == "mid" && media.is_some() {
                    if mids.contains(&v.get(4..).unwrap_or_default()) {
                        return Err(err(SdpErrorKind::DuplicateMid));
                    }
                    mids.push(v.get(4..).unwrap_or_default());
                }
                let list = match media {
                    Some(m) => &mut m.attributes,
                    None => &mut sdp.attributes,
                };
                if list.len() >= limits.max_attributes {
                    return Err(err(SdpErrorKind::TooManyAttributes));
                }
                list.push(attribute);
            }
            (b'i', Some(m)) => m.information = Some(value),
            (b'c', Some(m)) => m.connections.push(parse_connection(v).ok_or(err(SdpErrorKind::BadConnection))?),
            (b'b', Some(m)) => m.bandwidths.push(parse_bandwidth(v).ok_or(err(SdpErrorKind::BadBandwidth))?),
            (b'k', Some(m)) => m.key = Some(value),
            (b'i', None) => sdp.information = Some(value),
            (b'u', None) => sdp.uri = Some(value),
            (b'e', None) => sdp.emails.push(value),
            (b'p', None) => sdp.phones.push(value),
            (b'c', None) => sdp.connection = Some(parse_connection(v).ok_or(err(SdpErrorKind::BadConnection))?),
            (b'b', None) => sdp.bandwidths.push(parse_bandwidth(v).ok_or(err(SdpErrorKind::BadBandwidth))?),
            (b't', None) => {
                let (start, stop) = split_once_byte(v, b' ').ok_or(err(SdpErrorKind::BadTiming))?;
                let start = parse_decimal(start, u64::MAX).ok_or(err(SdpErrorKind::BadTiming))?;
                let stop = parse_decimal(stop, u64::MAX).ok_or(err(SdpErrorKind::BadTiming))?;
                sdp.timings.push(Timing { start, stop, repeats: Vec::new() });
            }
            (b'r', None) => {
                if let Some(t) = sdp.timings.last_mut() {
                    t.repeats.push(value);
                }
            }
            (b'z', None) => sdp.time_zones = Some(value),
            (b'k', None) => sdp.key = Some(value),
            _ => return Err(err(SdpErrorKind::UnexpectedLine(t))),
        }
    }
    if sdp.timings.is_empty() {
        return Err(SdpError::new(0, SdpErrorKind::MissingTiming));
    }
    tracing::trace!(target: TARGET, lines = lines.number, media = sdp.media.len(), "parsed session description");
    Ok(sdp)
}

fn parse_origin(v: &str) -> Option<Origin<'_>> {
    let mut it = tokens(v);
    let mut next = || it.next().and_then(Result::ok).map(Cow::Borrowed);
    let origin = Origin {
        username: next()?,
        session_id: next()?,
        session_version: next()?,
        nettype: next()?,
        addrtype: next()?,
        address: next()?,
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    (it.next().is_none() && digits(&origin.session_id) && digits(&origin.session_version)).then_some(origin)
}

fn parse_connection(v: &str) -> Option<Connection<'_>> {
    let mut it = tokens(v);
    let mut next = || it.next().and_then(Result::ok).map(Cow::Borrowed);
    let c = Connection { nettype: next()?, addrtype: next()?, address: next()? };
    it.next().is_none().then_some(c)
}

fn parse_bandwidth(v: &str) -> Option<Bandwidth<'_>> {
    let (bwtype, value) = split_once_byte(v, b':')?;
    if !is_token(bwtype) {
        return None;
    }
    Some(Bandwidth { bwtype: Cow::Borrowed(bwtype), bandwidth: parse_decimal(value, u64::MAX)? })
}

fn parse_media_line(v: &str) -> Option<MediaDescription<'_>> {
    // media SP port ["/" integer] SP proto 1*(SP fmt)
    let (media, rest) = split_once_byte(v, b' ')?;
    let (port, rest) = split_once_byte(rest, b' ')?;
    let (proto, formats) = split_once_byte(rest, b' ')?;
    if !is_token(media) || proto.is_empty() || !proto.split('/').all(is_token) {
        return None;
    }
    if tokens(formats).any(|f| f.is_err()) || !formats.bytes().all(|b| b == b' ' || attr::is_token_char(b)) {
        return None;
    }
    let (port, count) = match split_once_byte(port, b'/') {
        Some((p, c)) => (p, Some(u16::try_from(parse_decimal(c, u16::MAX.into())?).ok()?)),
        None => (port, None),
    };
    let port = u16::try_from(parse_decimal(port, u16::MAX.into())?).ok()?;
    let mut m = MediaDescription::new(media, port, proto, formats);
    m.port_count = count;
    Some(m)
}

fn parse_attribute(line: u32, v: &str) -> Result<Attribute<'_>, SdpError> {
    let (name, value) = match split_once_byte(v, b':') {
        Some((n, v)) => (n, Some(v)),
        None => (v, None),
    };
    if !is_token(name) {
        return Err(SdpError::new(line, SdpErrorKind::BadAttributeName));
    }
    check_known(name, value).map_err(|kind| SdpError::new(line, kind))?;
    let mut a = Attribute::new(name, value.map(Cow::Borrowed));
    a.line = line;
    Ok(a)
}

/// Checks the value of an attribute this module types; others pass untouched.
pub(crate) fn check_known(name: &str, value: Option<&str>) -> Result<(), SdpErrorKind> {
    use super::attr::{ExtMap, Fingerprint, Fmtp, Group, Msid, RtcpFb, RtpMap, Setup, Ssrc, SsrcGroup};
    let need = |kind| value.ok_or(SdpErrorKind::BadAttribute(kind));
    match name {
        "group" => Group::parse(need(AttributeKind::Group)?).map(drop),
        "mid" => attr::check_mid(need(AttributeKind::Mid)?),
        "setup" => Setup::parse(need(AttributeKind::Setup)?).map(drop),
        "fingerprint" => Fingerprint::parse(need(AttributeKind::Fingerprint)?).map(drop),
        "ice-ufrag" => attr::check_ice_ufrag(need(AttributeKind::IceUfrag)?),
        "ice-pwd" => attr::check_ice_pwd(need(AttributeKind::IcePwd)?),
        "ice-options" => attr::check_ice_options(need(AttributeKind::IceOptions)?),
        "candidate" => CandidateAttribute::parse(need(AttributeKind::Candidate)?).map(drop),
        "sctp-port" => parse_decimal(need(AttributeKind::SctpPort)?, u16::MAX.into())
            .map(drop)
            .ok_or(SdpErrorKind::BadAttribute(AttributeKind::SctpPort)),
        "max-message-size" => parse_decimal(need(AttributeKind::MaxMessageSize)?, u64::MAX)
            .map(drop)
            .ok_or(SdpErrorKind::BadAttribute(AttributeKind::MaxMessageSize)),
        "rtpmap" => RtpMap::parse(need(AttributeKind::RtpMap)?).map(drop),
        "fmtp" => Fmtp::parse(need(AttributeKind::Fmtp)?).map(drop),
        "rtcp-fb" => RtcpFb::parse(need(AttributeKind::RtcpFb)?).map(drop),
        "extmap" => ExtMap::parse(need(AttributeKind::ExtMap)?).map(drop),
        "ssrc" => Ssrc::parse(need(AttributeKind::Ssrc)?).map(drop),
        "ssrc-group" => SsrcGroup::parse(need(AttributeKind::SsrcGroup)?).map(drop),
        "msid" => Msid::parse(need(AttributeKind::Msid)?).map(drop),
        "rtcp-mux" | "rtcp-rsize" | "ice-lite" | "end-of-candidates" | "sendrecv" | "sendonly" | "recvonly"
        | "inactive" | "bundle-only" => match value {
            None => Ok(()),
            Some(_) => Err(SdpErrorKind::BadAttribute(AttributeKind::Flag)),
        },
        _ => Ok(()),
    }
}
