//! DTLS errors: malformed input, peer misbehaviour and API misuse kept apart.

use core::fmt;

use super::wire::AlertDescription;

/// Why a datagram was dropped, a handshake failed, or a call was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    // --- malformed input (dropped silently per RFC 6347 §4.1.2.7) ---
    /// A record, message or field ended before its declared length.
    Truncated,
    /// A field held a value the format does not allow.
    Malformed,
    /// A record's content type is not one DTLS 1.2 defines.
    UnknownContentType(u8),
    /// A record or hello carried a protocol version other than DTLS 1.0/1.2.
    UnsupportedVersion(u16),
    /// A record of an epoch we have no keys for (or an old epoch).
    WrongEpoch(u16),
    /// A protected record failed AEAD authentication.
    BadRecordMac,
    /// A record sequence number already seen or too old for the replay window.
    Replayed,
    /// A handshake message larger than the reassembly limit, or a fragment outside its message.
    FragmentOutOfBounds,
    /// A handshake message outside the reassembly window or already processed.
    UnexpectedSequence,
    /// A bounded buffer (next-epoch records, reassembly, receive queue) was full.
    BufferFull,
    // --- peer misbehaviour (fatal: an alert is sent and the connection closes) ---
    /// A handshake message the current state does not expect.
    UnexpectedMessage,
    /// The peer offers none of our cipher suites.
    NoCommonCipherSuite,
    /// The peer offers none of our SRTP protection profiles (RFC 5764 §4.1.3).
    NoCommonSrtpProfile,
    /// The peer does not support the extended master secret (RFC 7627), which we require.
    NoExtendedMasterSecret,
    /// The peer offers no key exchange group we are configured for (x25519, secp256r1), or chose one we did
    /// not offer.
    NoCommonGroup,
    /// The peer's ECDHE public key is not a key of the negotiated group: the wrong length, a point off the
    /// curve, or a low-order X25519 point that makes the shared secret all zeros (RFC 7748 §6.1).
    BadKeyShare,
    /// The peer's certificate could not be parsed or holds no P-256 key.
    BadCertificate,
    /// The peer's certificate fingerprint differs from the expected one.
    FingerprintMismatch,
    /// A ServerKeyExchange or CertificateVerify signature did not verify.
    BadSignature,
    /// The peer's Finished verify_data was wrong.
    BadFinished,
    /// A HelloVerifyRequest cookie was missing or invalid (server, silent).
    BadCookie,
    /// The peer sent a fatal alert.
    PeerAlert(AlertDescription),
    /// The peer closed the connection with close_notify.
    PeerClosed,
    /// The handshake did not complete within the retransmission budget.
    HandshakeTimeout,
    /// A 1.3-capable server's ServerHello negotiated 1.2 with the downgrade sentinel (RFC 8446 §4.1.3).
    Downgrade,
    // --- API misuse ---
    /// The connection is not established (send before connected, or after close).
    NotConnected,
    /// The connection is closed.
    Closed,
    /// The application data does not fit one record at the configured MTU.
    TooLarge,
    /// A key or certificate given to us could not be loaded.
    InvalidKey,
}

impl Error {
    /// The fatal alert this error makes us send, if it is fatal.
    pub fn alert(self) -> Option<AlertDescription> {
        Some(match self {
            Error::UnexpectedMessage => AlertDescription::UNEXPECTED_MESSAGE,
            Error::NoCommonCipherSuite | Error::NoCommonGroup | Error::NoExtendedMasterSecret => {
                AlertDescription::HANDSHAKE_FAILURE
            }
            Error::NoCommonSrtpProfile => AlertDescription::HANDSHAKE_FAILURE,
            Error::BadKeyShare | Error::Downgrade => AlertDescription::ILLEGAL_PARAMETER,
            Error::BadCertificate | Error::FingerprintMismatch => AlertDescription::BAD_CERTIFICATE,
            Error::BadSignature | Error::BadFinished => AlertDescription::DECRYPT_ERROR,
            _ => return None,
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("truncated record or message"),
            Error::Malformed => f.write_str("malformed record or message"),
            Error::UnknownContentType(t) => write!(f, "unknown record content type {t}"),
            Error::UnsupportedVersion(v) => write!(f, "unsupported protocol version {v:#06x}"),
            Error::WrongEpoch(e) => write!(f, "record of unexpected epoch {e}"),
            Error::BadRecordMac => f.write_str("record failed authentication"),
            Error::Replayed => f.write_str("replayed or too old record"),
            Error::FragmentOutOfBounds => f.write_str("handshake fragment out of bounds or too large"),
            Error::UnexpectedSequence => f.write_str("handshake message outside the receive window"),
            Error::BufferFull => f.write_str("bounded buffer full"),
            Error::UnexpectedMessage => f.write_str("unexpected handshake message"),
            Error::NoCommonCipherSuite => f.write_str("no common cipher suite"),
            Error::NoCommonSrtpProfile => f.write_str("no common SRTP protection profile"),
            Error::NoExtendedMasterSecret => f.write_str("peer does not support extended master secret"),
            Error::NoCommonGroup => f.write_str("no common key exchange group"),
            Error::BadKeyShare => f.write_str("peer key exchange public key invalid"),
            Error::BadCertificate => f.write_str("peer certificate unusable"),
            Error::FingerprintMismatch => f.write_str("peer certificate fingerprint does not match the expected one"),
            Error::BadSignature => f.write_str("peer signature does not verify"),
            Error::BadFinished => f.write_str("peer Finished does not verify"),
            Error::BadCookie => f.write_str("missing or invalid cookie"),
            Error::PeerAlert(a) => write!(f, "peer sent fatal alert {a}"),
            Error::PeerClosed => f.write_str("peer closed the connection"),
            Error::Downgrade => f.write_str("downgrade from DTLS 1.3 detected"),
            Error::HandshakeTimeout => f.write_str("handshake timed out"),
            Error::NotConnected => f.write_str("connection not established"),
            Error::Closed => f.write_str("connection closed"),
            Error::TooLarge => f.write_str("data too large for one record"),
            Error::InvalidKey => f.write_str("invalid key or certificate"),
        }
    }
}

impl core::error::Error for Error {}
