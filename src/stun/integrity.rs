//! Credentials and the MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT checks
//! (RFC 8489 §9, §14.5–§14.7).
//!
//! A [`Key`] holds the HMAC state already keyed (the inner and outer pads hashed once), so checking or
//! writing a message costs one clone of that state and the hashing of the message itself: keep one `Key`
//! per credential, not per message. Checking allocates nothing: the header is copied to the stack with its
//! length field adjusted, and the HMAC is fed the slices of the message in place.
//!
//! Under `cfg(fuzzing)` (cargo-fuzz builds only) the checks are computed but a mismatch is accepted, so
//! fuzzers feeding whole machines reach the states behind them (house style §19).

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::Sha256;

use super::error::Error;
use super::wire::{HEADER_LEN, Message};

/// The value FINGERPRINT's CRC-32 is XORed with (RFC 8489 §14.7).
pub const FINGERPRINT_XOR: u32 = 0x5354_554e;

/// A STUN integrity key, with its HMAC-SHA1 and HMAC-SHA256 states pre-keyed.
#[derive(Clone)]
pub struct Key {
    sha1: Hmac<Sha1>,
    sha256: Hmac<Sha256>,
}

impl core::fmt::Debug for Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Key(..)")
    }
}

fn keyed<M: KeyInit>(key: &[u8]) -> M {
    // HMAC accepts keys of any length, so the fallback is never taken.
    M::new_from_slice(key).unwrap_or_else(|_| M::new(&Default::default()))
}

impl Key {
    /// A key from its raw bytes.
    pub fn from_bytes(key: &[u8]) -> Key {
        Key { sha1: keyed(key), sha256: keyed(key) }
    }

    /// The short-term credential key (RFC 8489 §9.1.1): the password after OpaqueString. This takes the
    /// password's UTF-8 bytes as they are: ICE passwords (RFC 8445 §5.3) are ASCII `ice-char`s, on which
    /// OpaqueString (and the SASLprep of RFC 5389) changes nothing.
    pub fn short_term(password: &str) -> Key {
        Key::from_bytes(password.as_bytes())
    }

    /// The long-term credential key with the default MD5 algorithm (RFC 8489 §9.2.2):
    /// `MD5(username ":" realm ":" password)`. Strings are taken as given (already processed with
    /// OpaqueString / SASLprep by the caller where needed).
    pub fn long_term(username: &str, realm: &str, password: &str) -> Key {
        let mut md5 = Md5::new();
        for part in [username, ":", realm, ":", password] {
            md5.update(part.as_bytes());
        }
        Key::from_bytes(&md5.finalize())
    }

    /// The long-term credential key with PASSWORD-ALGORITHM SHA-256 (RFC 8489 §9.2.2):
    /// `SHA-256(username ":" realm ":" password)`.
    pub fn long_term_sha256(username: &str, realm: &str, password: &str) -> Key {
        let mut sha = Sha256::new();
        for part in [username, ":", realm, ":", password] {
            sha.update(part.as_bytes());
        }
        Key::from_bytes(&sha.finalize())
    }

    /// HMAC-SHA1 over the concatenation of `parts`.
    #[inline]
    pub(crate) fn sha1_over(&self, parts: &[&[u8]]) -> [u8; 20] {
        let mut mac = self.sha1.clone();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// HMAC-SHA256 over the concatenation of `parts`.
    #[inline]
    pub(crate) fn sha256_over(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.sha256.clone();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }
}

/// USERHASH for `username` in `realm` (RFC 8489 §14.4): `SHA-256(username ":" realm)`.
pub fn userhash(username: &str, realm: &str) -> [u8; 32] {
    let mut sha = Sha256::new();
    for part in [username, ":", realm] {
        sha.update(part.as_bytes());
    }
    sha.finalize().into()
}

/// The message's header with its length field set to cover attributes up to `end` (an offset from the
/// start of the message), and the attribute bytes before `upto`.
#[inline]
fn adjusted(bytes: &[u8], end: usize, upto: usize) -> Option<([u8; HEADER_LEN], &[u8])> {
    let mut header = *bytes.first_chunk::<HEADER_LEN>()?;
    let length = u16::try_from(end.checked_sub(HEADER_LEN)?).ok()?;
    header[2..4].copy_from_slice(&length.to_be_bytes());
    Some((header, bytes.get(HEADER_LEN..upto)?))
}

/// Constant-time equality (always true in fuzzing builds, see the module docs).
#[inline]
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let equal = a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
    equal || cfg!(fuzzing)
}

impl<T: AsRef<[u8]>> Message<T> {
    /// Checks MESSAGE-INTEGRITY-SHA256 if present, else MESSAGE-INTEGRITY, with `key` (RFC 8489 §9.1.3,
    /// §9.2.4). Attributes after it (other than FINGERPRINT) never counted. Allocates nothing.
    pub fn verify_integrity(&self, key: &Key) -> Result<(), Error> {
        if self.integrity_sha256_offset().is_some() {
            self.verify_integrity_sha256(key)
        } else {
            self.verify_integrity_sha1(key)
        }
    }

    /// Checks MESSAGE-INTEGRITY (HMAC-SHA1) with `key` (RFC 8489 §14.5).
    pub fn verify_integrity_sha1(&self, key: &Key) -> Result<(), Error> {
        let offset = self.integrity_offset().ok_or(Error::NoIntegrity)?;
        let expected = self.value_at(Some(offset)).ok_or(Error::NoIntegrity)?;
        let (header, body) = adjusted(self.as_bytes(), offset + 24, offset).ok_or(Error::NoIntegrity)?;
        let mac = key.sha1_over(&[&header, body]);
        if ct_eq(&mac, expected) { Ok(()) } else { Err(Error::IntegrityMismatch) }
    }

    /// Checks MESSAGE-INTEGRITY-SHA256 with `key`, accepting the truncations of 16..=32 bytes RFC 8489
    /// §14.6 allows.
    pub fn verify_integrity_sha256(&self, key: &Key) -> Result<(), Error> {
        let offset = self.integrity_sha256_offset().ok_or(Error::NoIntegrity)?;
        let expected = self.value_at(Some(offset)).ok_or(Error::NoIntegrity)?;
        let end = offset + 4 + expected.len();
        let (header, body) = adjusted(self.as_bytes(), end, offset).ok_or(Error::NoIntegrity)?;
        let mac = key.sha256_over(&[&header, body]);
        if ct_eq(mac.get(..expected.len()).unwrap_or(&[]), expected) { Ok(()) } else { Err(Error::IntegrityMismatch) }
    }

    /// Checks FINGERPRINT (RFC 8489 §14.7).
    pub fn verify_fingerprint(&self) -> Result<(), Error> {
        let offset = self.fingerprint_offset().ok_or(Error::NoFingerprint)?;
        let value = self.value_at(Some(offset)).ok_or(Error::NoFingerprint)?;
        let (header, body) = adjusted(self.as_bytes(), offset + 8, offset).ok_or(Error::NoFingerprint)?;
        let mut crc = crc32fast::Hasher::new();
        crc.update(&header);
        crc.update(body);
        if (crc.finalize() ^ FINGERPRINT_XOR).to_be_bytes()[..] == *value || cfg!(fuzzing) {
            Ok(())
        } else {
            Err(Error::FingerprintMismatch)
        }
    }

    /// The check an ICE agent or STUN server makes on a request: FINGERPRINT if present, then the
    /// integrity with the key `lookup` gives for the request's USERNAME (`None`: unknown user, reported
    /// as [`Error::IntegrityMismatch`]). Allocates nothing.
    pub fn verify_with<'k>(&self, lookup: impl FnOnce(&str) -> Option<&'k Key>) -> Result<(), Error> {
        if self.has_fingerprint() {
            self.verify_fingerprint()?;
        }
        let username = self.username().ok_or(Error::NoIntegrity)?;
        let key = lookup(username).ok_or(Error::IntegrityMismatch)?;
        self.verify_integrity(key)
    }
}
