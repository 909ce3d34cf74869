//! Errors of the SRTP/SRTCP layer.

use core::fmt;

/// Why protecting or unprotecting a packet failed, or why a context could not be built.
///
/// Malformed input ([`TooShort`](Error::TooShort), [`Malformed`](Error::Malformed)), peer misbehaviour or
/// attack ([`AuthFailed`](Error::AuthFailed), [`Replayed`](Error::Replayed), [`TooOld`](Error::TooOld)),
/// policy ([`UnknownSsrc`](Error::UnknownSsrc), [`TooManyStreams`](Error::TooManyStreams)) and API misuse
/// ([`BufferTooSmall`](Error::BufferTooSmall), [`InvalidKeyLength`](Error::InvalidKeyLength),
/// [`InvalidConfig`](Error::InvalidConfig)) are kept apart. None of them changes the context's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The packet is shorter than its header plus the authentication tag (and SRTCP trailer).
    TooShort,
    /// The packet is not RTP/RTCP version 2, or its header (CSRCs, extension) runs past its end.
    Malformed,
    /// The authentication tag did not verify. The packet was forged or corrupted.
    AuthFailed,
    /// The packet index was already received (RFC 3711 §3.3.2).
    Replayed,
    /// The packet index is behind the replay window, or before the start of the stream.
    TooOld,
    /// No context exists for the packet's SSRC and the policy is [`UnknownSsrc::Reject`].
    ///
    /// [`UnknownSsrc::Reject`]: super::UnknownSsrc::Reject
    UnknownSsrc(u32),
    /// A new SSRC would exceed the configured maximum number of per-SSRC contexts.
    TooManyStreams,
    /// The caller's buffer cannot hold the protected packet (tag and trailer included).
    BufferTooSmall,
    /// The master key, salt or DTLS-SRTP keying block has the wrong length for the profile.
    InvalidKeyLength,
    /// The configuration is out of range (replay window of 0 or above 1024, or no streams allowed).
    InvalidConfig,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TooShort => f.write_str("packet too short"),
            Error::Malformed => f.write_str("malformed RTP/RTCP header"),
            Error::AuthFailed => f.write_str("authentication failed"),
            Error::Replayed => f.write_str("replayed packet"),
            Error::TooOld => f.write_str("packet index too old for the replay window"),
            Error::UnknownSsrc(ssrc) => write!(f, "unknown SSRC {ssrc:#010x}"),
            Error::TooManyStreams => f.write_str("too many SSRC contexts"),
            Error::BufferTooSmall => f.write_str("buffer too small for the protected packet"),
            Error::InvalidKeyLength => f.write_str("invalid key or salt length for the profile"),
            Error::InvalidConfig => f.write_str("invalid SRTP configuration"),
        }
    }
}

impl core::error::Error for Error {}
