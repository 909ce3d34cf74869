//! DTLS 1.2 wire codecs (RFC 6347, RFC 5246): records, handshake messages, extensions, alerts. Zero-copy
//! views and lazy iterators; no state.

#![deny(clippy::indexing_slicing)]

use core::fmt;

use super::error::Error;

pub mod handshake;
pub mod record;

#[cfg(test)]
mod tests;

pub use handshake::{
    ClientHello, ExtensionIter, Extensions, HandshakeHeader, HelloVerifyRequest, ServerHello, ServerKeyExchange,
};
pub use record::{Record, RecordIter};

macro_rules! codepoint {
    ($(#[$m:meta])* $name:ident($ty:ty) { $($(#[$vm:meta])* $var:ident = $val:expr, $text:literal;)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub $ty);
        impl $name {
            $($(#[$vm])* pub const $var: $name = $name($val);)*
            /// The registry name, or `None` for a value we do not know.
            pub fn name(self) -> Option<&'static str> {
                match self { $($name::$var => Some($text),)* _ => None }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() { Some(n) => f.write_str(n), None => write!(f, "unknown({})", self.0) }
            }
        }
    };
}

codepoint! {
    /// Record content type (RFC 5246 §6.2.1).
    ContentType(u8) {
        /// change_cipher_spec
        CHANGE_CIPHER_SPEC = 20, "change_cipher_spec";
        /// alert
        ALERT = 21, "alert";
        /// handshake
        HANDSHAKE = 22, "handshake";
        /// application_data
        APPLICATION_DATA = 23, "application_data";
        /// ack (DTLS 1.3, RFC 9147 §7)
        ACK = 26, "ack";
    }
}

codepoint! {
    /// Handshake message type (RFC 5246 §7.4, RFC 6347 §4.3.2).
    HandshakeType(u8) {
        /// hello_request
        HELLO_REQUEST = 0, "hello_request";
        /// client_hello
        CLIENT_HELLO = 1, "client_hello";
        /// server_hello
        SERVER_HELLO = 2, "server_hello";
        /// hello_verify_request
        HELLO_VERIFY_REQUEST = 3, "hello_verify_request";
        /// certificate
        CERTIFICATE = 11, "certificate";
        /// server_key_exchange
        SERVER_KEY_EXCHANGE = 12, "server_key_exchange";
        /// certificate_request
        CERTIFICATE_REQUEST = 13, "certificate_request";
        /// server_hello_done
        SERVER_HELLO_DONE = 14, "server_hello_done";
        /// certificate_verify
        CERTIFICATE_VERIFY = 15, "certificate_verify";
        /// client_key_exchange
        CLIENT_KEY_EXCHANGE = 16, "client_key_exchange";
        /// finished
        FINISHED = 20, "finished";
        /// new_session_ticket (TLS 1.3)
        NEW_SESSION_TICKET = 4, "new_session_ticket";
        /// encrypted_extensions (TLS 1.3)
        ENCRYPTED_EXTENSIONS = 8, "encrypted_extensions";
        /// key_update (TLS 1.3)
        KEY_UPDATE = 24, "key_update";
        /// message_hash (TLS 1.3 §4.4.1: the hashed first ClientHello after a HelloRetryRequest)
        MESSAGE_HASH = 254, "message_hash";
    }
}

codepoint! {
    /// Cipher suite (IANA TLS registry).
    CipherSuite(u16) {
        /// TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (RFC 5289)
        ECDHE_ECDSA_AES_128_GCM_SHA256 = 0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256";
        /// TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (RFC 5289)
        ECDHE_ECDSA_AES_256_GCM_SHA384 = 0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384";
        /// TLS_AES_128_GCM_SHA256 (TLS 1.3, RFC 8446)
        TLS13_AES_128_GCM_SHA256 = 0x1301, "TLS_AES_128_GCM_SHA256";
        /// TLS_AES_256_GCM_SHA384 (TLS 1.3, RFC 8446)
        TLS13_AES_256_GCM_SHA384 = 0x1302, "TLS_AES_256_GCM_SHA384";
        /// TLS_CHACHA20_POLY1305_SHA256 (TLS 1.3, RFC 8446)
        TLS13_CHACHA20_POLY1305_SHA256 = 0x1303, "TLS_CHACHA20_POLY1305_SHA256";
        /// TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746)
        EMPTY_RENEGOTIATION_INFO_SCSV = 0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV";
    }
}

codepoint! {
    /// Hello extension type (IANA TLS ExtensionType registry).
    ExtensionType(u16) {
        /// supported_groups (RFC 8422)
        SUPPORTED_GROUPS = 10, "supported_groups";
        /// ec_point_formats (RFC 8422)
        EC_POINT_FORMATS = 11, "ec_point_formats";
        /// signature_algorithms (RFC 5246)
        SIGNATURE_ALGORITHMS = 13, "signature_algorithms";
        /// use_srtp (RFC 5764)
        USE_SRTP = 14, "use_srtp";
        /// extended_master_secret (RFC 7627)
        EXTENDED_MASTER_SECRET = 23, "extended_master_secret";
        /// supported_versions (RFC 8446 §4.2.1)
        SUPPORTED_VERSIONS = 43, "supported_versions";
        /// cookie (RFC 8446 §4.2.2)
        COOKIE = 44, "cookie";
        /// key_share (RFC 8446 §4.2.8)
        KEY_SHARE = 51, "key_share";
        /// renegotiation_info (RFC 5746)
        RENEGOTIATION_INFO = 0xff01, "renegotiation_info";
    }
}

codepoint! {
    /// Named elliptic curve group (RFC 8422).
    NamedGroup(u16) {
        /// secp256r1
        SECP256R1 = 23, "secp256r1";
        /// secp384r1
        SECP384R1 = 24, "secp384r1";
        /// x25519
        X25519 = 29, "x25519";
    }
}

codepoint! {
    /// Signature scheme (RFC 8446 §4.2.3; in TLS 1.2 the hash and signature bytes of RFC 5246 §7.4.1.4.1).
    SignatureScheme(u16) {
        /// ecdsa_secp256r1_sha256 (sha256, ecdsa)
        ECDSA_SECP256R1_SHA256 = 0x0403, "ecdsa_secp256r1_sha256";
    }
}

codepoint! {
    /// DTLS-SRTP protection profile (RFC 5764 §4.1.2, RFC 7714 §14.2). Names are OpenSSL's.
    SrtpProfile(u16) {
        /// SRTP_AES128_CM_HMAC_SHA1_80
        AES128_CM_SHA1_80 = 0x0001, "SRTP_AES128_CM_SHA1_80";
        /// SRTP_AES128_CM_HMAC_SHA1_32
        AES128_CM_SHA1_32 = 0x0002, "SRTP_AES128_CM_SHA1_32";
        /// SRTP_AEAD_AES_128_GCM
        AEAD_AES_128_GCM = 0x0007, "SRTP_AEAD_AES_128_GCM";
        /// SRTP_AEAD_AES_256_GCM
        AEAD_AES_256_GCM = 0x0008, "SRTP_AEAD_AES_256_GCM";
    }
}

impl SrtpProfile {
    /// Every profile this stack supports, in its default preference order.
    pub const ALL: [SrtpProfile; 4] = [
        SrtpProfile::AEAD_AES_128_GCM,
        SrtpProfile::AEAD_AES_256_GCM,
        SrtpProfile::AES128_CM_SHA1_80,
        SrtpProfile::AES128_CM_SHA1_32,
    ];

    /// (master key length, master salt length) in bytes, or `None` for an unknown profile.
    pub fn key_salt_len(self) -> Option<(usize, usize)> {
        match self {
            SrtpProfile::AES128_CM_SHA1_80 | SrtpProfile::AES128_CM_SHA1_32 => Some((16, 14)),
            SrtpProfile::AEAD_AES_128_GCM => Some((16, 12)),
            SrtpProfile::AEAD_AES_256_GCM => Some((32, 12)),
            _ => None,
        }
    }

    /// The exported keying material length: 2 × (key + salt) (RFC 5764 §4.2).
    pub fn keying_material_len(self) -> Option<usize> {
        self.key_salt_len().map(|(k, s)| 2 * (k + s))
    }

    /// Looks a profile up by its OpenSSL name (e.g. `SRTP_AEAD_AES_128_GCM`).
    pub fn from_name(name: &str) -> Option<SrtpProfile> {
        SrtpProfile::ALL.into_iter().find(|p| p.name() == Some(name))
    }
}

codepoint! {
    /// Alert description (RFC 5246 §7.2).
    AlertDescription(u8) {
        /// close_notify
        CLOSE_NOTIFY = 0, "close_notify";
        /// unexpected_message
        UNEXPECTED_MESSAGE = 10, "unexpected_message";
        /// bad_record_mac
        BAD_RECORD_MAC = 20, "bad_record_mac";
        /// handshake_failure
        HANDSHAKE_FAILURE = 40, "handshake_failure";
        /// bad_certificate
        BAD_CERTIFICATE = 42, "bad_certificate";
        /// unsupported_certificate
        UNSUPPORTED_CERTIFICATE = 43, "unsupported_certificate";
        /// illegal_parameter
        ILLEGAL_PARAMETER = 47, "illegal_parameter";
        /// decode_error
        DECODE_ERROR = 50, "decode_error";
        /// decrypt_error
        DECRYPT_ERROR = 51, "decrypt_error";
        /// protocol_version
        PROTOCOL_VERSION = 70, "protocol_version";
        /// internal_error
        INTERNAL_ERROR = 80, "internal_error";
        /// no_renegotiation
        NO_RENEGOTIATION = 100, "no_renegotiation";
        /// unsupported_extension
        UNSUPPORTED_EXTENSION = 110, "unsupported_extension";
    }
}

/// Alert level (RFC 5246 §7.2).
pub const ALERT_WARNING: u8 = 1;
/// Alert level fatal.
pub const ALERT_FATAL: u8 = 2;

/// DTLS 1.0 version on the wire (`{254, 255}`), used in early record headers and HelloVerifyRequest.
pub const DTLS1_0: u16 = 0xfeff;
/// DTLS 1.2 version on the wire (`{254, 253}`).
pub const DTLS1_2: u16 = 0xfefd;
/// DTLS 1.3 (RFC 9147 §5.3), only ever in supported_versions.
pub const DTLS1_3: u16 = 0xfefc;

/// A bounds-checked big-endian reader over a byte slice (every read returns `Error::Truncated` on short
/// input; nothing panics).
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }
    /// Bytes left.
    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }
    /// Whether nothing is left.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let (head, tail) = self.buf.split_at_checked(n).ok_or(Error::Truncated)?;
        self.buf = tail;
        Ok(head)
    }
    /// The next `N` bytes as an array.
    pub fn take_array<const N: usize>(&mut self) -> Result<&'a [u8; N], Error> {
        let (head, tail) = self.buf.split_first_chunk::<N>().ok_or(Error::Truncated)?;
        self.buf = tail;
        Ok(head)
    }
    /// One byte.
    pub fn u8(&mut self) -> Result<u8, Error> {
        let &[b] = self.take_array()?;
        Ok(b)
    }
    /// A big-endian u16.
    pub fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_be_bytes(*self.take_array()?))
    }
    /// A big-endian u24.
    pub fn u24(&mut self) -> Result<u32, Error> {
        let &[a, b, c] = self.take_array()?;
        Ok(u32::from_be_bytes([0, a, b, c]))
    }
    /// A big-endian u48.
    pub fn u48(&mut self) -> Result<u64, Error> {
        let &[a, b, c, d, e, f] = self.take_array()?;
        Ok(u64::from_be_bytes([0, 0, a, b, c, d, e, f]))
    }
    /// A vector with a one-byte length prefix.
    pub fn vec8(&mut self) -> Result<&'a [u8], Error> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
    /// A vector with a two-byte length prefix.
    pub fn vec16(&mut self) -> Result<&'a [u8], Error> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
    /// A vector with a three-byte length prefix.
    pub fn vec24(&mut self) -> Result<&'a [u8], Error> {
        let n = self.u24()?;
        self.take(n as usize)
    }
    /// Fails with `Error::Malformed` unless everything was consumed.
    pub fn finish(&self) -> Result<(), Error> {
        if self.buf.is_empty() { Ok(()) } else { Err(Error::Malformed) }
    }
}

/// Appends a big-endian u16.
pub(crate) fn put_u16(out: &mut alloc::vec::Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian u24 (the low 24 bits of `v`).
pub(crate) fn put_u24(out: &mut alloc::vec::Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes()[1..]);
}

/// Appends a big-endian u48 (the low 48 bits of `v`).
pub(crate) fn put_u48(out: &mut alloc::vec::Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes()[2..]);
}

/// Writes a u16 into `out[at..at + 2]` (no-op when out of range).
pub(crate) fn set_u16(out: &mut [u8], at: usize, v: u16) {
    if let Some(s) = out.get_mut(at..at + 2) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}
