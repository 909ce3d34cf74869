//! The DTLS 1.3 record layer (RFC 9147 §4): the unified header of protected records, record number
//! encryption (§4.2.3), reconstruction of the full sequence number and epoch from their low bits (§4.2.2),
//! and AEAD record protection with the per-record nonce (RFC 8446 §5.2–5.3: AES-128-GCM, AES-256-GCM and
//! ChaCha20-Poly1305).
//!
//! ```text
//!  0 1 2 3 4 5 6 7
//! +-+-+-+-+-+-+-+-+
//! |0|0|1|C|S|L|E E|   C: connection ID present, S: 16-bit sequence number, L: length present,
//! +-+-+-+-+-+-+-+-+   E: low two bits of the epoch
//! | Connection ID |   (if C; its length is negotiated, not on the wire)
//! |  8 or 16 bit  |
//! |Sequence Number|   (encrypted: XORed with AES-ECB(sn_key, ciphertext[0..16]) or ChaCha20's block)
//! | 16 bit Length |   (if L; else the record runs to the end of the datagram)
//! +-+-+-+-+-+-+-+-+
//! | encrypted DTLSInnerPlaintext: content ‖ type ‖ zero padding, then the AEAD tag
//! ```
//!
//! The additional data is the header as sent but with the sequence number before its encryption; the
//! nonce is the write IV XOR the 64-bit sequence number (the epoch is not in it, unlike DTLS 1.2).
//!
//! The DTLS machine ([`Dtls`](crate::dtls::Dtls)) uses it once DTLS 1.3 is negotiated.

use alloc::boxed::Box;
use alloc::vec::Vec;

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes::{Aes128Enc, Aes256Enc};
use aes_gcm::aead::AeadInOut;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::{Aes128Gcm, Aes256Gcm, Tag};
#[cfg(feature = "dtls13")]
use chacha20poly1305::ChaCha20Poly1305;

use super::key_schedule::{HashAlg, TrafficKeys};
use crate::dtls::error::Error;
use crate::dtls::wire::{CipherSuite, ContentType};

/// The three fixed high bits of a unified header, `001`.
pub const FIXED_BITS: u8 = 0b0010_0000;
/// Connection ID present.
pub const C_BIT: u8 = 0x10;
/// 16-bit sequence number (else 8-bit).
pub const S_BIT: u8 = 0x08;
/// Length present.
pub const L_BIT: u8 = 0x04;
/// The epoch's low two bits.
pub const EPOCH_MASK: u8 = 0x03;
/// Bytes the AEAD adds (the GCM tag).
pub const TAG_LEN: usize = 16;
/// Ciphertext bytes the record number mask is computed from: shorter records are refused (§4.2.3).
pub const SN_SAMPLE_LEN: usize = 16;
/// Largest DTLSInnerPlaintext (2^14 content plus its type byte and padding, RFC 8446 §5.4).
pub const MAX_INNER_PLAINTEXT: usize = (1 << 14) + 256;
/// Longest connection ID (RFC 9146 §3: `opaque cid<0..2^8-1>`).
pub const MAX_CID_LEN: usize = 255;
/// Longest unified header: first byte, CID, 16-bit sequence number, length.
pub const MAX_HEADER_LEN: usize = 1 + MAX_CID_LEN + 2 + 2;

/// Whether a record starting with `first` is a DTLS 1.3 DTLSCiphertext (RFC 9147 §4.1: top bits 001).
pub fn is_ciphertext(first: u8) -> bool {
    first & 0xe0 == FIXED_BITS
}

/// The fields of a unified header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnifiedHeader<'a> {
    /// The low two bits of the epoch.
    pub epoch_bits: u8,
    /// The connection ID (empty when the C bit is clear).
    pub cid: &'a [u8],
    /// The sequence number's low 8 or 16 bits as on the wire (encrypted in a received record).
    pub seq: u16,
    /// Whether the sequence number field is 16 bits (S bit) rather than 8.
    pub seq_16: bool,
    /// Whether the length field is present (L bit).
    pub length_present: bool,
}

/// One DTLSCiphertext record of a datagram, as parsed: header fields, the header bytes and the encrypted
/// record (ciphertext and tag).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CiphertextRecord<'a> {
    /// The header's fields.
    pub header: UnifiedHeader<'a>,
    /// The header bytes as received.
    pub header_bytes: &'a [u8],
    /// encrypted_record: the encrypted DTLSInnerPlaintext and the tag.
    pub encrypted: &'a [u8],
}

impl<'a> UnifiedHeader<'a> {
    /// The header's length on the wire.
    pub fn len(&self) -> usize {
        1 + self.cid.len() + if self.seq_16 { 2 } else { 1 } + if self.length_present { 2 } else { 0 }
    }

    /// Never empty: at least the first byte and an 8-bit sequence number.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The first byte.
    pub fn first_byte(&self) -> u8 {
        let mut b = FIXED_BITS | (self.epoch_bits & EPOCH_MASK);
        if !self.cid.is_empty() {
            b |= C_BIT;
        }
        if self.seq_16 {
            b |= S_BIT;
        }
        if self.length_present {
            b |= L_BIT;
        }
        b
    }

    /// Appends the header with `length` (used only when the L bit is set).
    pub fn emit(&self, out: &mut Vec<u8>, length: u16) {
        out.push(self.first_byte());
        out.extend_from_slice(self.cid);
        if self.seq_16 {
            out.extend_from_slice(&self.seq.to_be_bytes());
        } else {
            out.push(self.seq as u8);
        }
        if self.length_present {
            out.extend_from_slice(&length.to_be_bytes());
        }
    }

    /// Parses the DTLSCiphertext at the start of `buf`; `cid_len` is the negotiated length of the
    /// connection IDs we receive (0 when none was negotiated: a record with the C bit set is then refused).
    /// Returns the record and what follows it in the datagram (nothing when the length is absent).
    pub fn parse_prefix(buf: &'a [u8], cid_len: usize) -> Result<(CiphertextRecord<'a>, &'a [u8]), Error> {
        let (&first, rest) = buf.split_first().ok_or(Error::Truncated)?;
        if !is_ciphertext(first) {
            return Err(Error::UnknownContentType(first));
        }
        let has_cid = first & C_BIT != 0;
        if has_cid && cid_len == 0 {
            return Err(Error::Malformed);
        }
        let (cid, rest) = rest.split_at_checked(if has_cid { cid_len } else { 0 }).ok_or(Error::Truncated)?;
        let seq_16 = first & S_BIT != 0;
        let (seq, rest) = if seq_16 {
            let (s, rest) = rest.split_first_chunk::<2>().ok_or(Error::Truncated)?;
            (u16::from_be_bytes(*s), rest)
        } else {
            let (s, rest) = rest.split_first().ok_or(Error::Truncated)?;
            (u16::from(*s), rest)
        };
        let length_present = first & L_BIT != 0;
        let (encrypted, after) = if length_present {
            let (l, rest) = rest.split_first_chunk::<2>().ok_or(Error::Truncated)?;
            let len = usize::from(u16::from_be_bytes(*l));
            rest.split_at_checked(len).ok_or(Error::Truncated)?
        } else {
            (rest, &[][..])
        };
        if encrypted.len() > MAX_INNER_PLAINTEXT + TAG_LEN {
            return Err(Error::Malformed);
        }
        let header = UnifiedHeader { epoch_bits: first & EPOCH_MASK, cid, seq, seq_16, length_present };
        let header_bytes = buf.get(..header.len()).ok_or(Error::Truncated)?;
        Ok((CiphertextRecord { header, header_bytes, encrypted }, after))
    }
}

/// The full sequence number whose low `bits` bits (8 or 16) are `low` and that is closest to `expected`,
/// one plus the highest sequence number deprotected so far in the epoch (RFC 9147 §4.2.2). Never below
/// zero nor above 2^48 - 1.
pub fn reconstruct_seq(expected: u64, low: u16, bits: u32) -> u64 {
    const MAX: u64 = (1 << 48) - 1;
    let bits = bits.clamp(1, 16);
    let window = 1u64 << bits;
    let half = window / 2;
    let expected = expected.min(MAX);
    let candidate = (expected & !(window - 1)) | (u64::from(low) & (window - 1));
    if candidate + half <= expected && candidate + window <= MAX {
        candidate + window
    } else if candidate > expected + half && candidate >= window {
        candidate - window
    } else {
        candidate
    }
}

/// The epoch a record with `epoch_bits` belongs to, given the `current` receive epoch (RFC 9147 §4.2.2):
/// the current one if its bits match, else the most recent past epoch with matching bits, if any.
pub fn reconstruct_epoch(current: u64, epoch_bits: u8) -> Option<u64> {
    let bits = u64::from(epoch_bits & EPOCH_MASK);
    let back = (current.wrapping_sub(bits)) & 3;
    current.checked_sub(back)
}

/// The AEAD of a TLS 1.3 cipher suite (RFC 8446 §B.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aead {
    /// AEAD_AES_128_GCM (TLS_AES_128_GCM_SHA256).
    Aes128Gcm,
    /// AEAD_AES_256_GCM (TLS_AES_256_GCM_SHA384).
    Aes256Gcm,
    /// AEAD_CHACHA20_POLY1305 (TLS_CHACHA20_POLY1305_SHA256, RFC 8439); needs the `dtls13` feature.
    ChaCha20Poly1305,
}

impl Aead {
    /// The key length in bytes (of the write key and of the record number key alike).
    pub fn key_len(self) -> usize {
        match self {
            Aead::Aes128Gcm => 16,
            Aead::Aes256Gcm | Aead::ChaCha20Poly1305 => 32,
        }
    }

    /// The hash and AEAD of a TLS 1.3 cipher suite we implement.
    pub fn of_suite(suite: CipherSuite) -> Option<(HashAlg, Aead)> {
        match suite {
            CipherSuite::TLS13_AES_128_GCM_SHA256 => Some((HashAlg::Sha256, Aead::Aes128Gcm)),
            CipherSuite::TLS13_AES_256_GCM_SHA384 => Some((HashAlg::Sha384, Aead::Aes256Gcm)),
            #[cfg(feature = "dtls13")]
            CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => Some((HashAlg::Sha256, Aead::ChaCha20Poly1305)),
            _ => None,
        }
    }
}

/// The AEAD of one direction and epoch with its record number cipher (RFC 9147 §4.2.3): AES-ECB under the
/// sn_key for the AES suites, the ChaCha20 block function under the sn_key for ChaCha20-Poly1305.
// Boxed: each suite's key schedules are of their own size (AES-128's 250 octets smaller than AES-256's), and
// a connection holds only the epochs it has keys for; a pointer more on the record path, no allocation.
#[derive(Clone)]
enum Cipher {
    A128(Box<(Aes128Gcm, Aes128Enc)>),
    A256(Box<(Aes256Gcm, Aes256Enc)>),
    #[cfg(feature = "dtls13")]
    ChaCha(Box<(ChaCha20Poly1305, [u8; 32])>),
}

/// AEAD_AES_128_GCM, AEAD_AES_256_GCM and AEAD_CHACHA20_POLY1305 share nonce and tag types (RFC 5116).
type Nonce12 = aes_gcm::Nonce<aes_gcm::aead::consts::U12>;
type Tag16 = Tag<aes_gcm::aead::consts::U16>;

impl Cipher {
    fn new(aead: Aead, keys: &TrafficKeys) -> Result<Cipher, Error> {
        let (key, sn) = (keys.key(), keys.sn_key());
        if key.len() != aead.key_len() || sn.len() != aead.key_len() {
            return Err(Error::InvalidKey);
        }
        let bad = |_| Error::InvalidKey;
        Ok(match aead {
            Aead::Aes128Gcm => Cipher::A128(Box::new((
                Aes128Gcm::new_from_slice(key).map_err(bad)?,
                Aes128Enc::new_from_slice(sn).map_err(bad)?,
            ))),
            Aead::Aes256Gcm => Cipher::A256(Box::new((
                Aes256Gcm::new_from_slice(key).map_err(bad)?,
                Aes256Enc::new_from_slice(sn).map_err(bad)?,
            ))),
            #[cfg(feature = "dtls13")]
            Aead::ChaCha20Poly1305 => {
                let mut sn_key = [0u8; 32];
                sn_key.copy_from_slice(sn);
                Cipher::ChaCha(Box::new((ChaCha20Poly1305::new_from_slice(key).map_err(bad)?, sn_key)))
            }
            #[cfg(not(feature = "dtls13"))]
            Aead::ChaCha20Poly1305 => return Err(Error::InvalidKey),
        })
    }

    /// The record number mask from the first 16 bytes of the encrypted record (RFC 9147 §4.2.3):
    /// AES-ECB(sn_key, sample), or ChaCha20(sn_key, counter = sample[0..4] little-endian, nonce =
    /// sample[4..16]) applied to zeros. Records too short to sample are refused.
    #[inline]
    fn mask(&self, encrypted: &[u8]) -> Result<[u8; 16], Error> {
        let sample: &[u8; SN_SAMPLE_LEN] = encrypted.first_chunk().ok_or(Error::BadRecordMac)?;
        match self {
            Cipher::A128(k) => {
                let mut block = (*sample).into();
                k.1.encrypt_block(&mut block);
                Ok(block.into())
            }
            Cipher::A256(k) => {
                let mut block = (*sample).into();
                k.1.encrypt_block(&mut block);
                Ok(block.into())
            }
            #[cfg(feature = "dtls13")]
            Cipher::ChaCha(k) => {
                use chacha20::cipher::{KeyIvInit, StreamCipherCore};
                let (counter, nonce) = sample.split_first_chunk::<4>().ok_or(Error::BadRecordMac)?;
                let nonce: &[u8; 12] = nonce.first_chunk().ok_or(Error::BadRecordMac)?;
                // The block function itself, at the sample's counter: the stream wrapper refuses the last
                // block of the 32-bit counter (0xffffffff) as the end of its keystream, and a peer picks
                // the sample.
                let mut core =
                    chacha20::ChaChaCore::<chacha20::R20, chacha20::variants::Ietf>::new((&k.1).into(), nonce.into());
                core.set_block_pos(u32::from_le_bytes(*counter));
                let mut block = Default::default();
                core.write_keystream_block(&mut block);
                let block: [u8; 64] = block.into();
                let mut mask = [0u8; 16];
                mask.copy_from_slice(block.get(..16).ok_or(Error::BadRecordMac)?);
                Ok(mask)
            }
        }
    }

    #[inline]
    fn seal(&self, nonce: &Nonce12, aad: &[u8], buf: &mut [u8]) -> Tag16 {
        // Encryption fails only above 2^36 bytes (GCM) or 2^38 (ChaCha20); records are below 2^14 + 256.
        let tag = match self {
            Cipher::A128(k) => k.0.encrypt_inout_detached(nonce, aad, buf.into()),
            Cipher::A256(k) => k.0.encrypt_inout_detached(nonce, aad, buf.into()),
            #[cfg(feature = "dtls13")]
            Cipher::ChaCha(k) => k.0.encrypt_inout_detached(nonce, aad, buf.into()),
        };
        tag.unwrap_or_default()
    }

    /// Decrypts `buf`'s input into its output (the same slice, or another of its length).
    #[inline]
    fn open(&self, nonce: &Nonce12, aad: &[u8], buf: InOutBuf<'_, '_, u8>, tag: &Tag16) -> Result<(), Error> {
        let r = match self {
            Cipher::A128(k) => k.0.decrypt_inout_detached(nonce, aad, buf, tag),
            Cipher::A256(k) => k.0.decrypt_inout_detached(nonce, aad, buf, tag),
            #[cfg(feature = "dtls13")]
            Cipher::ChaCha(k) => k.0.decrypt_inout_detached(nonce, aad, buf, tag),
        };
        r.map_err(|_| Error::BadRecordMac)
    }
}

/// Protection of the records of one direction and epoch: the AEAD with the per-record nonce, and record
/// number encryption. Its `Debug` shows no keys.
#[derive(Clone)]
pub struct RecordProtection {
    cipher: Cipher,
    iv: [u8; 12],
}

impl core::fmt::Debug for RecordProtection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RecordProtection(..)")
    }
}

/// A received record, deprotected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The true content type, from inside the protection.
    pub content_type: ContentType,
    /// The reconstructed full sequence number.
    pub seq: u64,
}

impl RecordProtection {
    /// Protection with a traffic secret's keys for `aead` (keys of its length, else
    /// [`Error::InvalidKey`]; so is ChaCha20-Poly1305 without the `dtls13` feature).
    pub fn new(aead: Aead, keys: &TrafficKeys) -> Result<RecordProtection, Error> {
        Ok(RecordProtection { cipher: Cipher::new(aead, keys)?, iv: keys.iv })
    }

    /// The per-record nonce: the 64-bit sequence number, left-padded to 12 bytes, XOR the write IV (RFC 8446
    /// §5.3).
    #[inline]
    pub fn nonce(&self, seq: u64) -> [u8; 12] {
        let mut n = self.iv;
        let (_, low) = n.split_at_mut(4);
        let x = u64::from_be_bytes(low.try_into().unwrap_or([0; 8])) ^ seq;
        low.copy_from_slice(&x.to_be_bytes());
        n
    }

    /// Encrypts `buf` in place with `aad` and record number `seq`, then appends the tag.
    pub fn seal_in_place(&self, seq: u64, aad: &[u8], buf: &mut Vec<u8>) {
        let tag = self.cipher.seal(&self.nonce(seq).into(), aad, buf.as_mut_slice());
        buf.extend_from_slice(&tag);
    }

    /// Decrypts `buf` (ciphertext ‖ tag) in place with `aad` and record number `seq` and removes the tag. On
    /// failure `buf` is cleared.
    pub fn open_in_place(&self, seq: u64, aad: &[u8], buf: &mut Vec<u8>) -> Result<(), Error> {
        let Some(ct_len) = buf.len().checked_sub(TAG_LEN) else {
            buf.clear();
            return Err(Error::BadRecordMac);
        };
        let (ct, tag) = buf.split_at_mut(ct_len);
        let tag = Tag16::try_from(&*tag).unwrap_or_default();
        if self.cipher.open(&self.nonce(seq).into(), aad, ct.into(), &tag).is_err() {
            buf.clear();
            return Err(Error::BadRecordMac);
        }
        buf.truncate(ct_len);
        Ok(())
    }

    /// Appends one DTLSCiphertext to `out`: the unified header (`epoch`'s low bits, `cid`, the low 16 bits
    /// of `seq` or 8 when `seq_16` is false, the length when `length_present`), then `content` of
    /// `content_type` with `padding` zero bytes, encrypted; then encrypts the sequence number. Content is
    /// padded further if needed so that the ciphertext is at least 16 bytes (§4.2.3).
    #[allow(clippy::too_many_arguments)]
    pub fn seal(
        &self,
        out: &mut Vec<u8>,
        epoch: u64,
        seq: u64,
        cid: &[u8],
        seq_16: bool,
        length_present: bool,
        content_type: ContentType,
        content: &[u8],
        padding: usize,
    ) -> Result<(), Error> {
        if cid.len() > MAX_CID_LEN {
            return Err(Error::InvalidKey);
        }
        // The tag alone is 16 bytes, so every GCM ciphertext is long enough to sample.
        let inner_len = content.len() + 1 + padding;
        if inner_len > MAX_INNER_PLAINTEXT {
            return Err(Error::TooLarge);
        }
        let header = UnifiedHeader { epoch_bits: (epoch & 3) as u8, cid, seq: seq as u16, seq_16, length_present };
        let start = out.len();
        out.reserve(header.len() + inner_len + TAG_LEN);
        header.emit(out, (inner_len + TAG_LEN) as u16);
        let body_at = out.len();
        out.extend_from_slice(content);
        out.push(content_type.0);
        if padding > 0 {
            out.resize(body_at + inner_len, 0);
        }
        // Encrypted in place after the header, which is the additional data: no allocation per record.
        let (head, body) = out.split_at_mut(body_at);
        let aad = head.get(start..).unwrap_or(&[]);
        let tag = self.cipher.seal(&self.nonce(seq).into(), aad, body);
        out.extend_from_slice(&tag);
        let mask = match self.cipher.mask(out.get(body_at..).unwrap_or(&[])) {
            Ok(m) => m,
            Err(e) => {
                out.truncate(start);
                return Err(e);
            }
        };
        let seq_at = start + 1 + cid.len();
        let seq_len = if seq_16 { 2 } else { 1 };
        if let Some(field) = out.get_mut(seq_at..seq_at + seq_len) {
            field.iter_mut().zip(mask).for_each(|(b, m)| *b ^= m);
        }
        Ok(())
    }

    /// Deprotects `record` into `out` (replacing what it held): decrypts the record number, reconstructs the
    /// full sequence number around `expected_seq` (one plus the highest deprotected in this epoch), opens the
    /// AEAD with the header (plain record number) as additional data, and strips the padding. Any failure is
    /// [`Error::BadRecordMac`] or [`Error::Malformed`] (an inner plaintext of zeros only) and leaves `out`
    /// empty; the caller drops the record (RFC 9147 §4.5.2).
    pub fn open(&self, record: &CiphertextRecord<'_>, expected_seq: u64, out: &mut Vec<u8>) -> Result<Opened, Error> {
        let r = self.open_into(record, expected_seq, out);
        if r.is_err() {
            out.clear();
        }
        r
    }

    fn open_into(&self, record: &CiphertextRecord<'_>, expected_seq: u64, out: &mut Vec<u8>) -> Result<Opened, Error> {
        let h = &record.header;
        let mask = self.cipher.mask(record.encrypted)?;
        let (low, bits) = if h.seq_16 {
            let [m0, m1, ..] = mask;
            (h.seq ^ u16::from_be_bytes([m0, m1]), 16)
        } else {
            let [m0, ..] = mask;
            ((h.seq as u8 ^ m0).into(), 8)
        };
        let seq = reconstruct_seq(expected_seq, low, bits);
        // The additional data: the header with the decrypted record number (on the stack; headers without a
        // connection ID, the usual case, in a small buffer).
        let (mut short, mut long);
        let hl = record.header_bytes.len();
        let aad: &mut [u8] = if hl <= 8 {
            short = [0u8; 8];
            &mut short
        } else {
            long = [0u8; MAX_HEADER_LEN];
            &mut long
        };
        let aad = aad.get_mut(..hl).ok_or(Error::Malformed)?;
        aad.copy_from_slice(record.header_bytes);
        let seq_at = 1 + h.cid.len();
        if h.seq_16 {
            aad.get_mut(seq_at..seq_at + 2).ok_or(Error::Malformed)?.copy_from_slice(&low.to_be_bytes());
        } else {
            *aad.get_mut(seq_at).ok_or(Error::Malformed)? = low as u8;
        }
        // Decrypted from where it lies into `out`, no copy first; a reused `out` is not zeroed either.
        let ct_len = record.encrypted.len().checked_sub(TAG_LEN).ok_or(Error::BadRecordMac)?;
        let (ct, tag) = record.encrypted.split_at(ct_len);
        let tag = Tag16::try_from(tag).map_err(|_| Error::BadRecordMac)?;
        out.truncate(ct_len);
        out.resize(ct_len, 0);
        let buf = InOutBuf::new(ct, out.as_mut_slice()).map_err(|_| Error::BadRecordMac)?;
        self.cipher.open(&self.nonce(seq).into(), aad, buf, &tag)?;
        // DTLSInnerPlaintext: content ‖ type ‖ zeros; the type is the last non-zero byte (RFC 8446 §5.4).
        let Some(type_at) = out.iter().rposition(|&b| b != 0) else {
            return Err(Error::Malformed);
        };
        let content_type = ContentType(out.get(type_at).copied().unwrap_or(0));
        out.truncate(type_at);
        Ok(Opened { content_type, seq })
    }
}
