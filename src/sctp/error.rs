//! SCTP errors: malformed input, peer misbehaviour and API misuse kept apart.

use core::fmt;

/// Why bytes could not be decoded as SCTP (RFC 9260 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// Shorter than the 12-byte common header.
    TooShort,
    /// A chunk or parameter length field is below its header size or runs past the end of the packet.
    BadLength,
    /// A chunk's fixed fields do not fit its length (for example a DATA chunk without user data).
    Truncated,
    /// The CRC32c checksum does not match (RFC 9260 §6.8).
    BadChecksum,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WireError::TooShort => "packet shorter than the SCTP common header",
            WireError::BadLength => "chunk or parameter length out of bounds",
            WireError::Truncated => "chunk too short for its fixed fields",
            WireError::BadChecksum => "bad CRC32c checksum",
        })
    }
}

impl core::error::Error for WireError {}

/// Why a received packet was dropped (it has been counted and traced), or why the association aborted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The packet could not be decoded.
    Wire(WireError),
    /// The verification tag does not belong to this association (RFC 9260 §8.5).
    BadVerificationTag,
    /// An INIT or INIT-ACK was bundled with other chunks, had a zero tag or had too few streams (§3.3.2).
    BadInit,
    /// The state cookie's signature does not verify (forged or corrupted).
    BadCookie,
    /// The state cookie is older than its lifetime (§5.1.5, stale cookie).
    StaleCookie,
    /// A chunk that makes no sense in the current state (out of the blue, §8.4); dropped.
    UnexpectedChunk,
    /// A chunk type the peer must not send was met with the upper bits saying "stop processing" (§3.2).
    UnknownChunk,
    /// A DATA chunk's TSN is outside the receive window.
    TsnOutOfWindow,
    /// A DATA chunk names a stream beyond the negotiated inbound count (§6.5): reported with an ERROR.
    InvalidStream,
    /// A DATA chunk carried no user data (§6.2): the association was aborted.
    NoUserData,
    /// A SACK acknowledged TSNs never sent (§6.2.1, protocol violation): the association was aborted.
    InvalidAck,
    /// Reassembly memory is full (the peer ignored our receive window); the chunk was dropped.
    ReceiveBufferFull,
    /// The association is closed; the packet was ignored.
    Closed,
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        Error::Wire(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Wire(e) => write!(f, "malformed SCTP packet: {e}"),
            Error::BadVerificationTag => f.write_str("verification tag mismatch"),
            Error::BadInit => f.write_str("invalid INIT or INIT-ACK"),
            Error::BadCookie => f.write_str("state cookie signature does not verify"),
            Error::StaleCookie => f.write_str("state cookie expired"),
            Error::UnexpectedChunk => f.write_str("chunk unexpected in this state"),
            Error::UnknownChunk => f.write_str("unrecognised chunk type"),
            Error::TsnOutOfWindow => f.write_str("TSN outside the receive window"),
            Error::InvalidStream => f.write_str("stream identifier out of range"),
            Error::NoUserData => f.write_str("DATA chunk without user data"),
            Error::InvalidAck => f.write_str("SACK acknowledges TSNs never sent"),
            Error::ReceiveBufferFull => f.write_str("receive buffer full"),
            Error::Closed => f.write_str("association closed"),
        }
    }
}

impl core::error::Error for Error {}

/// Why a call from the application was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The message is larger than the configured maximum message size.
    TooLarge,
    /// The association is not established (or is shutting down).
    NotConnected,
    /// The stream identifier is not below the negotiated outbound stream count.
    InvalidStream,
    /// The stream is being reset (closed) and accepts no more data.
    StreamClosing,
    /// The send buffer is full; try again after data has been acknowledged.
    BufferFull,
    /// An empty message: SCTP cannot carry zero bytes (data channels send a one-byte placeholder).
    Empty,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::TooLarge => "message exceeds the maximum message size",
            SendError::NotConnected => "association not established",
            SendError::InvalidStream => "stream identifier out of range",
            SendError::StreamClosing => "stream is closing",
            SendError::BufferFull => "send buffer full",
            SendError::Empty => "empty message",
        })
    }
}

impl core::error::Error for SendError {}
