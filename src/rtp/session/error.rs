//! Errors of the RTP session: malformed input, peer misbehaviour and API misuse kept apart.

use core::fmt;

/// Why a received packet was dropped (it has been counted in [`super::Stats`] and traced). The session's
/// state is unchanged by a dropped packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// Malformed: not a valid RTP packet.
    Rtp(crate::rtp::Error),
    /// Malformed: not a valid RTCP compound packet (framing), or none of its packets decoded.
    Rtcp(crate::rtcp::Error),
    /// An RTP packet from an SSRC the session does not know, while it rejects unknown SSRCs; or RTCP about
    /// streams it does not have.
    UnknownSsrc(u32),
    /// An RTP packet from a new SSRC while the session already has as many receive streams as it may.
    TooManyStreams,
    /// A payload type the session has no format for (an unsignalled stream, or RTX with no `apt`).
    UnknownPayloadType(u8),
    /// An RTP packet carrying one of this session's own sending SSRCs (a loop or an SSRC collision).
    OwnSsrc(u32),
    /// A new, unsignalled source still on probation (RFC 3550 §A.1): its packets are not delivered until
    /// two arrive in sequence.
    Probation,
    /// A sequence number far from the stream's (RFC 3550 §A.1 `MAX_DROPOUT`); a second one in sequence
    /// after it restarts the stream.
    SequenceJump,
    /// A packet older than the first one the stream received (reordered across its start).
    BeforeStreamStart,
    /// Peer misbehaviour: an RTX packet repairing a sequence number beyond the highest received, which
    /// was never asked for.
    RepairNotRequested,
    /// Peer misbehaviour: a sender report whose NTP time is not after the previous one.
    SenderReportNotMonotonic,
    /// Transport-wide feedback about packets this session never sent (or has no record of).
    FeedbackForUnsentPackets,
    /// Every packet of the RTCP compound was dropped (the first reason is given by the counters).
    NothingUsable,
}

impl From<crate::rtp::Error> for Error {
    fn from(e: crate::rtp::Error) -> Self {
        Error::Rtp(e)
    }
}

impl From<crate::rtcp::Error> for Error {
    fn from(e: crate::rtcp::Error) -> Self {
        Error::Rtcp(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Rtp(e) => write!(f, "malformed RTP packet: {e}"),
            Error::Rtcp(e) => write!(f, "malformed RTCP packet: {e}"),
            Error::UnknownSsrc(s) => write!(f, "unknown SSRC {s:#010x}"),
            Error::TooManyStreams => f.write_str("receive stream limit reached"),
            Error::UnknownPayloadType(pt) => write!(f, "unknown payload type {pt}"),
            Error::OwnSsrc(s) => write!(f, "packet carries our own SSRC {s:#010x}"),
            Error::Probation => f.write_str("new source on probation"),
            Error::SequenceJump => f.write_str("sequence number jump"),
            Error::BeforeStreamStart => f.write_str("packet from before the stream's start"),
            Error::RepairNotRequested => f.write_str("RTX repairs a packet never asked for"),
            Error::SenderReportNotMonotonic => f.write_str("sender report NTP time did not advance"),
            Error::FeedbackForUnsentPackets => f.write_str("feedback about packets never sent"),
            Error::NothingUsable => f.write_str("no usable packet in the RTCP compound"),
        }
    }
}

impl core::error::Error for Error {}

/// Why an API call was refused (caller misuse or a configured limit); nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// No send (or receive) stream with this SSRC.
    NoSuchStream(u32),
    /// The SSRC is already used by a stream of this session (as media or RTX).
    SsrcInUse(u32),
    /// As many streams of this direction as the configuration allows.
    TooManyStreams,
    /// The payload type is above 127.
    BadPayloadType(u8),
    /// The packet could not be written (an extension not in the map, too many octets for the form).
    Rtp(crate::rtp::Error),
    /// A configuration value out of range (named).
    BadConfig(&'static str),
    /// Padding asked for on the RTX stream of send stream `ssrc` before that stream sent any media: the
    /// padding would carry a made-up timestamp, and the receiver could not yet tie the RTX stream to
    /// its media (libwebrtc does not pad before the first media packet either).
    NoMediaSentYet(u32),
}

impl From<crate::rtp::Error> for UsageError {
    fn from(e: crate::rtp::Error) -> Self {
        UsageError::Rtp(e)
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::NoSuchStream(s) => write!(f, "no stream with SSRC {s:#010x}"),
            UsageError::SsrcInUse(s) => write!(f, "SSRC {s:#010x} already in use"),
            UsageError::TooManyStreams => f.write_str("stream limit reached"),
            UsageError::BadPayloadType(pt) => write!(f, "payload type {pt} above 127"),
            UsageError::Rtp(e) => write!(f, "cannot write RTP packet: {e}"),
            UsageError::BadConfig(what) => write!(f, "bad configuration: {what}"),
            UsageError::NoMediaSentYet(s) => write!(f, "stream {s:#010x} has sent no media yet"),
        }
    }
}

impl core::error::Error for UsageError {}
