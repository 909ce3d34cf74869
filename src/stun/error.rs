//! Errors of the STUN codec and transaction machine.

use core::fmt;

/// Why a STUN message was rejected, could not be written, or could not be matched.
///
/// Malformed input (the `Truncated` … `InvalidAttribute` variants), failed checks (`IntegrityMismatch`,
/// `FingerprintMismatch`, …), encoder misuse (`BufferTooSmall`, `MessageTooLong`, `ValueTooLong`) and
/// transaction matching (`UnknownTransaction`, `NotAResponse`, `TableFull`) are kept apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// Fewer than 20 bytes: no room for the header.
    Truncated,
    /// The first two bits are not zero (RFC 8489 §5): not a STUN message.
    NotStun,
    /// The magic cookie is not 0x2112A442 (RFC 8489 §5).
    BadMagicCookie,
    /// The header's length field is not a multiple of 4.
    UnalignedLength,
    /// The header's length field does not match the bytes given (`header` says, `actual` there are).
    LengthMismatch {
        /// Bytes of attributes the header announces.
        header: u16,
        /// Bytes after the header in the buffer.
        actual: usize,
    },
    /// An attribute (header, value or padding) runs past the end of the message.
    AttributeOverrun {
        /// The attribute's type.
        typ: u16,
    },
    /// An attribute's value has the wrong length or content for its type.
    InvalidAttribute {
        /// The attribute's type.
        typ: u16,
    },
    /// The message has no MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256 to check.
    NoIntegrity,
    /// MESSAGE-INTEGRITY(-SHA256) does not match the key.
    IntegrityMismatch,
    /// The message has no FINGERPRINT to check.
    NoFingerprint,
    /// FINGERPRINT does not match the message's CRC-32.
    FingerprintMismatch,
    /// The output slice is too small for the message.
    BufferTooSmall,
    /// The message would exceed the 16-bit length field.
    MessageTooLong,
    /// An attribute value is longer than its type allows (or than 65535 bytes).
    ValueTooLong {
        /// The attribute's type.
        typ: u16,
    },
    /// A response whose transaction id matches no transaction in progress.
    UnknownTransaction,
    /// A request or indication was given where a response was expected.
    NotAResponse,
    /// A response or indication was given where a request was expected.
    NotARequest,
    /// The transaction table is full.
    TableFull,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("STUN message shorter than its 20-byte header"),
            Error::NotStun => f.write_str("first two bits not zero: not a STUN message"),
            Error::BadMagicCookie => f.write_str("STUN magic cookie is not 0x2112A442"),
            Error::UnalignedLength => f.write_str("STUN message length is not a multiple of 4"),
            Error::LengthMismatch { header, actual } => {
                write!(f, "STUN header announces {header} bytes of attributes, {actual} present")
            }
            Error::AttributeOverrun { typ } => write!(f, "STUN attribute 0x{typ:04x} runs past the message"),
            Error::InvalidAttribute { typ } => write!(f, "STUN attribute 0x{typ:04x} has an invalid value"),
            Error::NoIntegrity => f.write_str("STUN message has no MESSAGE-INTEGRITY"),
            Error::IntegrityMismatch => f.write_str("STUN MESSAGE-INTEGRITY does not match"),
            Error::NoFingerprint => f.write_str("STUN message has no FINGERPRINT"),
            Error::FingerprintMismatch => f.write_str("STUN FINGERPRINT does not match"),
            Error::BufferTooSmall => f.write_str("output buffer too small for the STUN message"),
            Error::MessageTooLong => f.write_str("STUN message longer than 65535 bytes of attributes"),
            Error::ValueTooLong { typ } => write!(f, "value too long for STUN attribute 0x{typ:04x}"),
            Error::UnknownTransaction => f.write_str("STUN response matches no transaction"),
            Error::NotAResponse => f.write_str("STUN message is not a response"),
            Error::NotARequest => f.write_str("STUN message is not a request"),
            Error::TableFull => f.write_str("STUN transaction table is full"),
        }
    }
}

impl core::error::Error for Error {}
