//! Errors of the RTCP codec.

use core::fmt;

/// Why an RTCP packet could not be parsed or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// Shorter than its header, or its length field runs past the datagram.
    Truncated,
    /// Not RTCP version 2.
    BadVersion(u8),
    /// The padding count is zero or larger than the packet body.
    BadPadding,
    /// The body is too short for what its header announces (report count, fixed fields, FCI).
    BadLength {
        /// The packet type whose body is malformed.
        packet_type: u8,
    },
    /// An SDES chunk or item, XR block or TWCC chunk list runs past the packet.
    BadItem,
    /// A list too long for its count field (e.g. more than 31 report blocks).
    TooMany,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("RTCP packet truncated"),
            Error::BadVersion(v) => write!(f, "RTCP version {v}, expected 2"),
            Error::BadPadding => f.write_str("bad RTCP padding"),
            Error::BadLength { packet_type } => write!(f, "RTCP packet type {packet_type}: bad length"),
            Error::BadItem => f.write_str("RTCP item runs past its packet"),
            Error::TooMany => f.write_str("too many items for the RTCP count field"),
        }
    }
}

impl core::error::Error for Error {}
