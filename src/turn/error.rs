//! Errors of the TURN client and its framing codec.

use core::fmt;

/// Why a datagram or stream frame was rejected, or a call on the client refused.
///
/// Malformed input (`Stun`, `ChannelDataTooShort` … `StreamCorrupt`), failed checks and unexpected
/// messages (`NotFromServer` … `MissingAttribute`) and API misuse (`NotAllocated` … `DataTooLong`) are
/// kept apart. A rejected datagram has been dropped and counted; the client's state is unchanged by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The STUN codec rejected the message.
    Stun(crate::stun::Error),
    /// Fewer than the 4 bytes of a ChannelData header.
    ChannelDataTooShort,
    /// The channel number is outside 0x4000–0x4FFF (RFC 8656 §12).
    InvalidChannel(u16),
    /// The ChannelData length field announces more bytes than are present (RFC 8656 §12.4).
    ChannelDataLength {
        /// Bytes the header announces.
        announced: u16,
        /// Bytes present after the header.
        present: usize,
    },
    /// A stream carried a first byte that starts neither a STUN message nor ChannelData: framing is lost
    /// and the stream must be closed (RFC 8656 §12.6).
    StreamCorrupt,
    /// The stream frame is larger than the decoder's buffer.
    FrameTooLarge,
    /// The datagram did not come from the TURN server.
    NotFromServer,
    /// A response whose transaction id matches no request in progress.
    UnknownTransaction,
    /// A response failed its MESSAGE-INTEGRITY check (or lacked one where it is required).
    Integrity,
    /// A success response lacks an attribute it must carry (the attribute's type).
    MissingAttribute(u16),
    /// A STUN message the client does not expect (a request, or an indication other than Data).
    UnexpectedMessage,
    /// ChannelData arrived on a channel that is not bound.
    UnknownChannel(u16),
    /// The call needs an allocation and there is none (yet, or any more).
    NotAllocated,
    /// The permissions or channels table is full.
    TableFull,
    /// No channel number is free.
    NoFreeChannel,
    /// Application data too long for one TURN message.
    DataTooLong,
    /// The output queue is full; the datagram was not queued.
    QueueFull,
}

impl From<crate::stun::Error> for Error {
    fn from(e: crate::stun::Error) -> Self {
        Error::Stun(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Stun(e) => write!(f, "TURN: {e}"),
            Error::ChannelDataTooShort => f.write_str("ChannelData shorter than its 4-byte header"),
            Error::InvalidChannel(c) => write!(f, "channel number 0x{c:04x} outside 0x4000-0x4FFF"),
            Error::ChannelDataLength { announced, present } => {
                write!(f, "ChannelData announces {announced} bytes, {present} present")
            }
            Error::StreamCorrupt => f.write_str("TURN stream framing lost: neither STUN nor ChannelData"),
            Error::FrameTooLarge => f.write_str("TURN stream frame larger than the decoder buffer"),
            Error::NotFromServer => f.write_str("datagram not from the TURN server"),
            Error::UnknownTransaction => f.write_str("TURN response matches no request in progress"),
            Error::Integrity => f.write_str("TURN response failed its MESSAGE-INTEGRITY check"),
            Error::MissingAttribute(t) => write!(f, "TURN response lacks attribute 0x{t:04x}"),
            Error::UnexpectedMessage => f.write_str("unexpected STUN message from the TURN server"),
            Error::UnknownChannel(c) => write!(f, "ChannelData on unbound channel 0x{c:04x}"),
            Error::NotAllocated => f.write_str("no TURN allocation"),
            Error::TableFull => f.write_str("TURN permissions or channels table full"),
            Error::NoFreeChannel => f.write_str("no free TURN channel number"),
            Error::DataTooLong => f.write_str("data too long for one TURN message"),
            Error::QueueFull => f.write_str("TURN output queue full"),
        }
    }
}

impl core::error::Error for Error {}

/// Why an allocation or a request on it failed, as reported in events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Failure {
    /// 401 after credentials were sent: wrong username or password (RFC 8489 §9.2.4).
    BadCredentials,
    /// 403 Forbidden: the server refuses (policy, peer address not allowed).
    Forbidden,
    /// 437 Allocation Mismatch (RFC 8656 §7.2 / §7.3).
    AllocationMismatch,
    /// 438 Stale Nonce kept coming back after fresh nonces.
    StaleNonce,
    /// 440 Address Family not Supported (RFC 8656 §19).
    AddressFamilyNotSupported,
    /// 441 Wrong Credentials: the username differs from the allocation's.
    WrongCredentials,
    /// 442 Unsupported Transport Protocol.
    UnsupportedTransport,
    /// 486 Allocation Quota Reached.
    QuotaReached,
    /// 508 Insufficient Capacity.
    InsufficientCapacity,
    /// A 401 without REALM or NONCE: long-term credentials cannot be used.
    NoRealm,
    /// Any other error code.
    Server(u16),
    /// No response within the retransmission schedule (RFC 8489 §6.2.1).
    TimedOut,
    /// The allocation's lifetime ran out without a successful refresh.
    Expired,
    /// Every response to the request failed its MESSAGE-INTEGRITY check (RFC 8489 §9.2.5: reported
    /// instead of a timeout).
    IntegrityViolated,
}

impl Failure {
    /// The failure an ERROR-CODE stands for.
    pub fn from_code(code: u16) -> Failure {
        match code {
            401 => Failure::BadCredentials,
            403 => Failure::Forbidden,
            437 => Failure::AllocationMismatch,
            438 => Failure::StaleNonce,
            440 => Failure::AddressFamilyNotSupported,
            441 => Failure::WrongCredentials,
            442 => Failure::UnsupportedTransport,
            486 => Failure::QuotaReached,
            508 => Failure::InsufficientCapacity,
            c => Failure::Server(c),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::BadCredentials => f.write_str("401 Unauthenticated: bad TURN username or password"),
            Failure::Forbidden => f.write_str("403 Forbidden"),
            Failure::AllocationMismatch => f.write_str("437 Allocation Mismatch"),
            Failure::StaleNonce => f.write_str("438 Stale Nonce repeated"),
            Failure::AddressFamilyNotSupported => f.write_str("440 Address Family not Supported"),
            Failure::WrongCredentials => f.write_str("441 Wrong Credentials"),
            Failure::UnsupportedTransport => f.write_str("442 Unsupported Transport Protocol"),
            Failure::QuotaReached => f.write_str("486 Allocation Quota Reached"),
            Failure::InsufficientCapacity => f.write_str("508 Insufficient Capacity"),
            Failure::NoRealm => f.write_str("401 without REALM and NONCE"),
            Failure::Server(c) => write!(f, "TURN server error {c}"),
            Failure::TimedOut => f.write_str("TURN request timed out"),
            Failure::Expired => f.write_str("TURN allocation expired"),
            Failure::IntegrityViolated => f.write_str("TURN responses failed their integrity check"),
        }
    }
}

impl core::error::Error for Failure {}
