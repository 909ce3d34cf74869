//! Why a peer connection call was refused, or why a datagram was dropped.

use core::fmt;

use crate::packetize::PacketizeError;
use crate::sdp::SdpError;
use crate::{datachannel, dtls, ice, srtp, turn};

/// Why an API call on a [`super::PeerConnection`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The call is not allowed in the current signalling state (JSEP, RFC 8829 §4.1.8–4.1.10).
    InvalidState,
    /// The description did not parse or is not usable for WebRTC; the error names the line.
    Sdp(SdpError),
    /// The description has no m-section this connection can use: neither a data channel section nor an
    /// audio or video section that is not rejected.
    NoDataChannelSection,
    /// The remote description has no `sha-256` fingerprint for its transport section.
    NoSupportedFingerprint,
    /// The remote ICE credentials are unusable.
    BadCredentials,
    /// A trickled candidate did not parse or was refused.
    BadCandidate,
    /// The ICE agent refused the call.
    Ice(ice::ApiError),
    /// The data channel layer refused the call.
    DataChannel(datachannel::Error),
    /// No channel has this id (or it is closed).
    NoSuchChannel,
    /// The channel has no stream yet: the DTLS role is not negotiated.
    NotConnected,
    /// The connection is closed.
    Closed,
    /// Not supported by this version (munged local descriptions, a new DTLS certificate mid-session).
    Unsupported,
    /// The answer's m-lines do not match the offer's (RFC 3264 §6: one per offered m-line, in order).
    AnswerMismatch,
    /// No transceiver has this id (or mid).
    NoSuchTransceiver,
    /// The transceiver is stopped.
    TransceiverStopped,
    /// An argument is out of range: an encoding's rid, a codec not supported, a payload type not
    /// negotiated, an RTP or RTCP packet that does not parse.
    InvalidParameter,
    /// The transceiver is not negotiated to send (or has no SRTP keys yet: see [`Error::NotConnected`]).
    NotSending,
    /// The transceiver is not negotiated to receive, or nothing is known of what the peer sends on it.
    NotReceiving,
    /// The feedback a call needs (`nack pli` or `ccm fir` for a key-frame request) was not negotiated.
    NotNegotiated,
    /// SRTP refused to protect a packet.
    Srtp(srtp::Error),
    /// The codec of the payload type has no payload format here
    /// ([`super::PeerConnection::write_frame`] packetizes Opus, G.711, G.722, VP8, VP9, H.264 in
    /// packetization mode 0 or 1, H.265 and AV1).
    UnsupportedCodec,
    /// The frame could not be packetized: empty, not in the bitstream format the codec's payload format
    /// reads, or the MTU leaves too little room for its payload header.
    Packetize(PacketizeError),
    /// A NAL unit of an H.264 frame in packetization mode 0 does not fit one packet (mode 0 has no
    /// fragmentation, RFC 6184 §6.2).
    FrameTooLarge,
    /// The encoding is turned off ([`super::PeerConnection::set_encoding_active`]): nothing is sent on it
    /// until it is turned on again.
    EncodingInactive,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidState => f.write_str("not allowed in the current signalling state"),
            Error::Sdp(e) => write!(f, "bad SDP: {e}"),
            Error::NoDataChannelSection => f.write_str("no data channel m-section"),
            Error::NoSupportedFingerprint => f.write_str("no sha-256 fingerprint"),
            Error::BadCredentials => f.write_str("bad ICE credentials"),
            Error::BadCandidate => f.write_str("bad ICE candidate"),
            Error::Ice(e) => write!(f, "ICE: {e}"),
            Error::DataChannel(e) => write!(f, "data channel: {e}"),
            Error::NoSuchChannel => f.write_str("no such channel"),
            Error::NotConnected => f.write_str("channel not connected yet"),
            Error::Closed => f.write_str("peer connection closed"),
            Error::Unsupported => f.write_str("not supported"),
            Error::AnswerMismatch => f.write_str("the answer's m-lines do not match the offer's"),
            Error::NoSuchTransceiver => f.write_str("no such transceiver"),
            Error::TransceiverStopped => f.write_str("transceiver stopped"),
            Error::InvalidParameter => f.write_str("invalid parameter"),
            Error::NotSending => f.write_str("transceiver not negotiated to send"),
            Error::NotReceiving => f.write_str("transceiver not receiving"),
            Error::NotNegotiated => f.write_str("feedback not negotiated"),
            Error::Srtp(e) => write!(f, "SRTP: {e}"),
            Error::UnsupportedCodec => f.write_str("no payload format for the codec"),
            Error::Packetize(e) => write!(f, "frame not packetized: {e}"),
            Error::FrameTooLarge => f.write_str("NAL unit larger than a packet in packetization mode 0"),
            Error::EncodingInactive => f.write_str("encoding turned off"),
        }
    }
}

impl core::error::Error for Error {}

impl From<SdpError> for Error {
    fn from(e: SdpError) -> Self {
        Error::Sdp(e)
    }
}

impl From<datachannel::Error> for Error {
    fn from(e: datachannel::Error) -> Self {
        Error::DataChannel(e)
    }
}

impl From<ice::ApiError> for Error {
    fn from(e: ice::ApiError) -> Self {
        Error::Ice(e)
    }
}

/// Why a received datagram was dropped (it has been counted in [`super::Stats`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecvError {
    /// The ICE agent dropped it (bad STUN, or data from an address no validated pair leads to).
    Ice(ice::IceError),
    /// DTLS dropped the record.
    Dtls(dtls::Error),
    /// SRTP or SRTCP dropped, for the reason given (each counted in [`super::Stats`]).
    Media(MediaDrop),
    /// DTLS arrived before the DTLS role was negotiated.
    NotReady,
    /// No protocol of RFC 7983 §7 that WebRTC uses here (ZRTP, TURN channel data, unknown first byte).
    Unknown,
    /// The connection is closed.
    Closed,
    /// A TURN client rejected a datagram from its server.
    Turn(turn::Error),
    /// The mDNS resolver rejected a datagram from port 5353.
    Mdns(crate::mdns::Error),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Ice(e) => write!(f, "ICE: {e}"),
            RecvError::Dtls(e) => write!(f, "DTLS: {e}"),
            RecvError::Media(why) => write!(f, "media dropped: {why}"),
            RecvError::NotReady => f.write_str("DTLS before the role was negotiated"),
            RecvError::Unknown => f.write_str("unknown protocol"),
            RecvError::Closed => f.write_str("peer connection closed"),
            RecvError::Turn(e) => write!(f, "TURN: {e}"),
            RecvError::Mdns(e) => write!(f, "mDNS: {e}"),
        }
    }
}

impl core::error::Error for RecvError {}

/// Why an SRTP or SRTCP packet was dropped. Nothing is learned from a dropped packet: routing happens
/// before decryption, and SRTP's state moves only for packets that authenticate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MediaDrop {
    /// Before DTLS connected (no SRTP keys), or DTLS negotiated no SRTP profile.
    NotReady,
    /// Not an RTP packet (version, lengths), or SRTP found it malformed.
    Malformed,
    /// Its MID header extension names no m-section of ours.
    UnknownMid,
    /// No MID, no known SSRC and no payload type unique to one m-section: nothing to route it by.
    Unroutable,
    /// Its payload type is not negotiated on the m-section it was routed to.
    UnknownPayloadType,
    /// The m-section it was routed to is not negotiated to receive.
    NotReceiving,
    /// More received streams (SSRCs) than the connection tracks.
    TooManyStreams,
    /// SRTP authentication failed: forged or corrupted.
    AuthFailed,
    /// SRTP replay protection: already received, or behind the replay window.
    Replayed,
    /// SRTCP authentication failed.
    RtcpAuthFailed,
    /// SRTCP replay protection.
    RtcpReplayed,
    /// SRTCP found the packet malformed.
    RtcpMalformed,
    /// The RTP session dropped the decrypted RTP packet (counted in its [`crate::rtp::session::Stats`]): an
    /// RTX packet repairing a sequence number never asked for, a new source on probation, a sequence
    /// jump, a packet from before the stream's start, our own SSRC.
    Session(crate::rtp::session::Error),
    /// The RTP session dropped the decrypted RTCP packet, or every packet of the compound (counted in its
    /// [`crate::rtp::session::Stats`]): about no stream of ours, a sender report going back in time.
    RtcpSession(crate::rtp::session::Error),
}

impl fmt::Display for MediaDrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MediaDrop::NotReady => "no SRTP keys yet",
            MediaDrop::Malformed => "malformed RTP",
            MediaDrop::UnknownMid => "unknown MID",
            MediaDrop::Unroutable => "no m-section for its SSRC or payload type",
            MediaDrop::UnknownPayloadType => "payload type not negotiated",
            MediaDrop::NotReceiving => "m-section not receiving",
            MediaDrop::TooManyStreams => "too many streams",
            MediaDrop::AuthFailed => "SRTP authentication failed",
            MediaDrop::Replayed => "SRTP replay",
            MediaDrop::RtcpAuthFailed => "SRTCP authentication failed",
            MediaDrop::RtcpReplayed => "SRTCP replay",
            MediaDrop::Session(e) => return write!(f, "RTP session: {e}"),
            MediaDrop::RtcpSession(e) => return write!(f, "RTP session (RTCP): {e}"),
            MediaDrop::RtcpMalformed => "malformed SRTCP",
        })
    }
}
