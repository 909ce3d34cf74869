//! Errors from parsing, validating and building SDP.

use core::fmt;

/// Why a session description was rejected, and on which line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdpError {
    /// The 1-based line the problem is on; 0 when it concerns the whole description (its size, or something
    /// missing from it that belongs to no line).
    pub line: u32,
    /// What was wrong.
    pub kind: SdpErrorKind,
}

impl SdpError {
    pub(crate) const fn new(line: u32, kind: SdpErrorKind) -> Self {
        Self { line, kind }
    }
}

/// The attributes this crate parses into typed forms; named by errors about them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttributeKind {
    /// `a=group` (RFC 5888, RFC 9143).
    Group,
    /// `a=mid` (RFC 5888).
    Mid,
    /// `a=setup` (RFC 4145, RFC 8842).
    Setup,
    /// `a=fingerprint` (RFC 8122).
    Fingerprint,
    /// `a=ice-ufrag` (RFC 8839 §5.4).
    IceUfrag,
    /// `a=ice-pwd` (RFC 8839 §5.4).
    IcePwd,
    /// `a=ice-options` (RFC 8839 §5.6).
    IceOptions,
    /// `a=candidate` (RFC 8839 §5.1).
    Candidate,
    /// `a=sctp-port` (RFC 8841 §5).
    SctpPort,
    /// `a=max-message-size` (RFC 8841 §6).
    MaxMessageSize,
    /// `a=rtpmap` (RFC 8866 §6.6).
    RtpMap,
    /// `a=fmtp` (RFC 8866 §6.15).
    Fmtp,
    /// `a=rtcp-fb` (RFC 4585 §4.2).
    RtcpFb,
    /// `a=extmap` (RFC 8285 §8).
    ExtMap,
    /// `a=ssrc` (RFC 5576 §4.1).
    Ssrc,
    /// `a=ssrc-group` (RFC 5576 §4.2).
    SsrcGroup,
    /// `a=msid` (RFC 8830 §2).
    Msid,
    /// A flag attribute (`rtcp-mux`, `ice-lite`, `end-of-candidates`, a direction) given a value.
    Flag,
}

/// What was wrong with a session description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SdpErrorKind {
    /// The body is larger than [`ParseLimits::max_bytes`](super::ParseLimits::max_bytes).
    TooLarge {
        /// The body's length in bytes.
        len: usize,
        /// The configured limit.
        limit: usize,
    },
    /// More lines than [`ParseLimits::max_lines`](super::ParseLimits::max_lines).
    TooManyLines,
    /// More m-sections than [`ParseLimits::max_media`](super::ParseLimits::max_media).
    TooManyMediaSections,
    /// More attributes in one section than [`ParseLimits::max_attributes`](super::ParseLimits::max_attributes).
    TooManyAttributes,
    /// A line longer than [`ParseLimits::max_line_len`](super::ParseLimits::max_line_len).
    LineTooLong,
    /// The body is not UTF-8.
    NotUtf8,
    /// A NUL byte (RFC 8866 §9 forbids NUL, CR and LF inside values).
    NulByte,
    /// A CR that is not immediately followed by LF.
    BareCarriageReturn,
    /// An empty line in the middle of the description.
    EmptyLine,
    /// The body is empty.
    Empty,
    /// A line that is not `<letter>=<value>`.
    MalformedLine,
    /// A line type letter RFC 8866 does not define (§5: such a description must be ignored).
    UnknownLineType(u8),
    /// A line in a place RFC 8866 §5 does not allow it (wrong order, or repeated where only one may be).
    UnexpectedLine(u8),
    /// The description does not start with `v=`.
    MissingVersion,
    /// `v=` is not `0`.
    BadVersion,
    /// No `o=` line after `v=`.
    MissingOrigin,
    /// The `o=` line does not have six space-separated fields.
    BadOrigin,
    /// No `s=` line after `o=`.
    MissingSessionName,
    /// No `t=` line.
    MissingTiming,
    /// A `t=` line is not two integers.
    BadTiming,
    /// A `c=` line is not `nettype addrtype address`.
    BadConnection,
    /// A `b=` line is not `type:integer`.
    BadBandwidth,
    /// An `m=` line is not `media port[/count] proto fmt…`.
    BadMediaLine,
    /// An attribute line with an empty name, or a name that is not a token.
    BadAttributeName,
    /// An attribute this crate understands had a value it could not parse.
    BadAttribute(AttributeKind),
    /// A fingerprint's hash function is known but its length does not match it, or its bytes are not
    /// colon-separated hex pairs.
    BadFingerprint,
    /// `a=ice-ufrag` outside 4–256 characters (RFC 8839 §5.4); the length found.
    UfragLength(usize),
    /// `a=ice-pwd` outside 22–256 characters (RFC 8839 §5.4); the length found.
    PwdLength(usize),
    /// A character outside the ice-char set (`ALPHA / DIGIT / "+" / "/"`).
    BadIceChar,
    /// Two m-sections share one `a=mid` (RFC 5888 §4).
    DuplicateMid,
    /// A `BUNDLE` group names a mid no m-section has.
    UnknownBundleMid,
    /// An m-section has no fingerprint, and neither has the session (RFC 8122 §5).
    MissingFingerprint,
    /// An m-section has no `a=ice-ufrag`, and neither has the session.
    MissingIceUfrag,
    /// An m-section has no `a=ice-pwd`, and neither has the session.
    MissingIcePwd,
    /// A bundled RTP m-section lacks `a=rtcp-mux` (RFC 8843 §9.1).
    MissingRtcpMux,
    /// An m-section has no `a=mid` though the description uses BUNDLE.
    MissingMid,
    /// An answer said `a=setup:actpass`, or there was no setup where one is needed (RFC 8842 §5).
    BadSetup,
}

impl fmt::Display for AttributeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Group => "group",
            Self::Mid => "mid",
            Self::Setup => "setup",
            Self::Fingerprint => "fingerprint",
            Self::IceUfrag => "ice-ufrag",
            Self::IcePwd => "ice-pwd",
            Self::IceOptions => "ice-options",
            Self::Candidate => "candidate",
            Self::SctpPort => "sctp-port",
            Self::MaxMessageSize => "max-message-size",
            Self::RtpMap => "rtpmap",
            Self::Fmtp => "fmtp",
            Self::RtcpFb => "rtcp-fb",
            Self::ExtMap => "extmap",
            Self::Ssrc => "ssrc",
            Self::SsrcGroup => "ssrc-group",
            Self::Msid => "msid",
            Self::Flag => "flag attribute",
        })
    }
}

impl fmt::Display for SdpErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len, limit } => write!(f, "description of {len} bytes exceeds the limit of {limit}"),
            Self::TooManyLines => f.write_str("too many lines"),
            Self::TooManyMediaSections => f.write_str("too many m-sections"),
            Self::TooManyAttributes => f.write_str("too many attributes in one section"),
            Self::LineTooLong => f.write_str("line too long"),
            Self::NotUtf8 => f.write_str("not UTF-8"),
            Self::NulByte => f.write_str("NUL byte"),
            Self::BareCarriageReturn => f.write_str("CR not followed by LF"),
            Self::EmptyLine => f.write_str("empty line"),
            Self::Empty => f.write_str("empty description"),
            Self::MalformedLine => f.write_str("line is not <type>=<value>"),
            Self::UnknownLineType(t) => write!(f, "unknown line type {:?}", char::from(*t)),
            Self::UnexpectedLine(t) => write!(f, "{}= line not allowed here", char::from(*t)),
            Self::MissingVersion => f.write_str("missing v= line"),
            Self::BadVersion => f.write_str("v= is not 0"),
            Self::MissingOrigin => f.write_str("missing o= line"),
            Self::BadOrigin => f.write_str("malformed o= line"),
            Self::MissingSessionName => f.write_str("missing s= line"),
            Self::MissingTiming => f.write_str("missing t= line"),
            Self::BadTiming => f.write_str("malformed t= line"),
            Self::BadConnection => f.write_str("malformed c= line"),
            Self::BadBandwidth => f.write_str("malformed b= line"),
            Self::BadMediaLine => f.write_str("malformed m= line"),
            Self::BadAttributeName => f.write_str("malformed attribute name"),
            Self::BadAttribute(kind) => write!(f, "malformed a={kind}"),
            Self::BadFingerprint => f.write_str("malformed fingerprint"),
            Self::UfragLength(n) => write!(f, "ice-ufrag of {n} characters (allowed: 4 to 256)"),
            Self::PwdLength(n) => write!(f, "ice-pwd of {n} characters (allowed: 22 to 256)"),
            Self::BadIceChar => f.write_str("character outside the ICE character set"),
            Self::DuplicateMid => f.write_str("duplicate mid"),
            Self::UnknownBundleMid => f.write_str("BUNDLE group names an unknown mid"),
            Self::MissingFingerprint => f.write_str("no fingerprint for this m-section"),
            Self::MissingIceUfrag => f.write_str("no ice-ufrag for this m-section"),
            Self::MissingIcePwd => f.write_str("no ice-pwd for this m-section"),
            Self::MissingRtcpMux => f.write_str("bundled RTP m-section without rtcp-mux"),
            Self::MissingMid => f.write_str("m-section without mid"),
            Self::BadSetup => f.write_str("setup attribute not allowed here"),
        }
    }
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "SDP: {}", self.kind)
        } else {
            write!(f, "SDP line {}: {}", self.line, self.kind)
        }
    }
}

impl core::error::Error for SdpError {}
