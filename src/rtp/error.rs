//! Errors of the RTP codec.

use core::fmt;

/// Why an RTP packet or header extension could not be parsed or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// Shorter than the fixed header, its CSRCs, its extension block or its padding claim.
    Truncated,
    /// Not RTP version 2.
    BadVersion(u8),
    /// The padding count is zero or larger than the payload.
    BadPadding,
    /// A header extension element runs past the extension block.
    ExtensionTruncated,
    /// An extension ID or length that the chosen form (RFC 8285 one-byte or two-byte) cannot carry.
    ExtensionUnrepresentable,
    /// A typed extension value has the wrong length or content for its kind.
    BadExtensionValue,
    /// More than 15 CSRCs.
    TooManyCsrcs,
    /// The output buffer is too small (slice writer).
    BufferTooSmall,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("RTP packet truncated"),
            Error::BadVersion(v) => write!(f, "RTP version {v}, expected 2"),
            Error::BadPadding => f.write_str("bad RTP padding length"),
            Error::ExtensionTruncated => f.write_str("RTP header extension element truncated"),
            Error::ExtensionUnrepresentable => f.write_str("extension ID or length not representable in this form"),
            Error::BadExtensionValue => f.write_str("bad RTP header extension value"),
            Error::TooManyCsrcs => f.write_str("more than 15 CSRCs"),
            Error::BufferTooSmall => f.write_str("buffer too small"),
        }
    }
}

impl core::error::Error for Error {}
