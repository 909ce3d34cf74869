//! Why a peer connection call was refused, or why a datagram was dropped.

use core::fmt;

use crate::sdp::SdpError;
use crate::{datachannel, dtls, ice, turn};

/// Why an API call on a [`super::PeerConnection`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The call is not allowed in the current signalling state (JSEP, RFC 8829 §4.1.8–4.1.10).
    InvalidState,
    /// The description did not parse or is not usable for WebRTC; the error names the line.
    Sdp(SdpError),
    /// The remote description has no data channel m-section that is not rejected.
    NoDataChannelSection,
    /// The remote description has no `sha-256` fingerprint for the data channel section.
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
    /// Not supported by this version (provisional answers, munged local descriptions).
    Unsupported,
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
    /// SRTP or SRTCP: media is not supported yet, so it is dropped.
    Media,
    /// DTLS arrived before the DTLS role was negotiated.
    NotReady,
    /// No protocol of RFC 7983 §7 that WebRTC uses here (ZRTP, TURN channel data, unknown first byte).
    Unknown,
    /// The connection is closed.
    Closed,
    /// A TURN client rejected a datagram from its server.
    Turn(turn::Error),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Ice(e) => write!(f, "ICE: {e}"),
            RecvError::Dtls(e) => write!(f, "DTLS: {e}"),
            RecvError::Media => f.write_str("SRTP/SRTCP not supported"),
            RecvError::NotReady => f.write_str("DTLS before the role was negotiated"),
            RecvError::Unknown => f.write_str("unknown protocol"),
            RecvError::Closed => f.write_str("peer connection closed"),
            RecvError::Turn(e) => write!(f, "TURN: {e}"),
        }
    }
}

impl core::error::Error for RecvError {}
