//! The slice of STUN (RFC 8489) that ICE connectivity checks need, parsed and written without allocating.
//!
//! This is the ICE agent's own narrow view: a Binding request/response/indication with USERNAME, PRIORITY,
//! USE-CANDIDATE, ICE-CONTROLLED/ICE-CONTROLLING, XOR-MAPPED-ADDRESS, ERROR-CODE, MESSAGE-INTEGRITY (HMAC-SHA1
//! with the short-term password, RFC 8489 §14.5) and FINGERPRINT (§14.7). Parsing is one pass over the
//! attribute list that remembers where MESSAGE-INTEGRITY and FINGERPRINT sit, so both can be verified
//! later over the original bytes with the header length patched as the RFC requires.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use alloc::vec::Vec;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// The STUN magic cookie (RFC 8489 §5).
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
const FINGERPRINT_XOR: u32 = 0x5354_554e;
const HEADER_LEN: usize = 20;

/// STUN message types for the Binding method (RFC 8489 §6).
pub mod msg_type {
    /// Binding request.
    pub const REQUEST: u16 = 0x0001;
    /// Binding indication.
    pub const INDICATION: u16 = 0x0011;
    /// Binding success response.
    pub const SUCCESS: u16 = 0x0101;
    /// Binding error response.
    pub const ERROR: u16 = 0x0111;
}

/// Attribute codepoints ICE uses (RFC 8489 §18.3, RFC 8445 §16.1).
pub mod attr {
    /// MAPPED-ADDRESS (classic servers).
    pub const MAPPED_ADDRESS: u16 = 0x0001;
    /// USERNAME.
    pub const USERNAME: u16 = 0x0006;
    /// MESSAGE-INTEGRITY.
    pub const MESSAGE_INTEGRITY: u16 = 0x0008;
    /// ERROR-CODE.
    pub const ERROR_CODE: u16 = 0x0009;
    /// XOR-MAPPED-ADDRESS.
    pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
    /// PRIORITY.
    pub const PRIORITY: u16 = 0x0024;
    /// USE-CANDIDATE.
    pub const USE_CANDIDATE: u16 = 0x0025;
    /// FINGERPRINT.
    pub const FINGERPRINT: u16 = 0x8028;
    /// ICE-CONTROLLED.
    pub const ICE_CONTROLLED: u16 = 0x8029;
    /// ICE-CONTROLLING.
    pub const ICE_CONTROLLING: u16 = 0x802A;
}

/// Why a datagram was not a usable STUN message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Shorter than its header or its declared length, or an attribute overruns the message.
    Truncated,
    /// Not a STUN message (top bits, cookie or length alignment wrong).
    NotStun,
    /// An attribute has a value of the wrong size.
    BadAttribute,
}

/// A parsed Binding message, borrowing the datagram.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    bytes: &'a [u8],
    /// Message type (class and method), e.g. [`msg_type::REQUEST`].
    pub typ: u16,
    /// Transaction id.
    pub transaction: [u8; 12],
    /// USERNAME value.
    pub username: Option<&'a [u8]>,
    /// PRIORITY value.
    pub priority: Option<u32>,
    /// Whether USE-CANDIDATE is present.
    pub use_candidate: bool,
    /// ICE-CONTROLLING tie-breaker.
    pub controlling: Option<u64>,
    /// ICE-CONTROLLED tie-breaker.
    pub controlled: Option<u64>,
    /// XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS when no XOR form is present).
    pub mapped: Option<SocketAddr>,
    /// ERROR-CODE as class*100 + number.
    pub error_code: Option<u16>,
    /// Offset of the MESSAGE-INTEGRITY attribute header.
    integrity_at: Option<usize>,
    /// Offset of the FINGERPRINT attribute header.
    fingerprint_at: Option<usize>,
}

/// Whether `bytes` looks like STUN by its first byte (RFC 7983 §7: 0..=3).
pub fn is_stun(bytes: &[u8]) -> bool {
    bytes.first().is_some_and(|b| *b <= 3)
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?, *b.get(at + 3)?]))
}

fn be64(b: &[u8]) -> Option<u64> {
    let arr: [u8; 8] = b.try_into().ok()?;
    Some(u64::from_be_bytes(arr))
}

impl<'a> Message<'a> {
    /// Parses one STUN message. Attributes after MESSAGE-INTEGRITY other than FINGERPRINT are ignored (RFC
    /// 8489 §14.5); anything after FINGERPRINT is ignored too.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        if bytes.len() < HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        let typ = be16(bytes, 0).ok_or(ParseError::Truncated)?;
        let len = usize::from(be16(bytes, 2).ok_or(ParseError::Truncated)?);
        if typ & 0xC000 != 0 || be32(bytes, 4) != Some(MAGIC_COOKIE) || len % 4 != 0 {
            return Err(ParseError::NotStun);
        }
        let Some(body) = bytes.get(HEADER_LEN..HEADER_LEN + len) else {
            return Err(ParseError::Truncated);
        };
        let mut transaction = [0u8; 12];
        transaction.copy_from_slice(bytes.get(8..20).ok_or(ParseError::Truncated)?);
        let mut m = Message {
            bytes: bytes.get(..HEADER_LEN + len).ok_or(ParseError::Truncated)?,
            typ,
            transaction,
            username: None,
            priority: None,
            use_candidate: false,
            controlling: None,
            controlled: None,
            mapped: None,
            error_code: None,
            integrity_at: None,
            fingerprint_at: None,
        };
        let mut at = 0usize;
        let mut plain_mapped = None;
        while at < body.len() {
            let kind = be16(body, at).ok_or(ParseError::Truncated)?;
            let alen = usize::from(be16(body, at + 2).ok_or(ParseError::Truncated)?);
            let value = body.get(at + 4..at + 4 + alen).ok_or(ParseError::Truncated)?;
            let start = HEADER_LEN + at;
            at += 4 + alen.div_ceil(4) * 4;
            if m.fingerprint_at.is_some() {
                break;
            }
            if kind == attr::FINGERPRINT {
                if alen != 4 {
                    return Err(ParseError::BadAttribute);
                }
                m.fingerprint_at = Some(start);
                continue;
            }
            if m.integrity_at.is_some() {
                continue;
            }
            match kind {
                attr::USERNAME => m.username = Some(value),
                attr::PRIORITY => {
                    m.priority = Some(be32(value, 0).filter(|_| alen == 4).ok_or(ParseError::BadAttribute)?)
                }
                attr::USE_CANDIDATE => m.use_candidate = true,
                attr::ICE_CONTROLLING => m.controlling = Some(be64(value).ok_or(ParseError::BadAttribute)?),
                attr::ICE_CONTROLLED => m.controlled = Some(be64(value).ok_or(ParseError::BadAttribute)?),
                attr::XOR_MAPPED_ADDRESS => m.mapped = Some(decode_address(value, Some(&transaction))?),
                attr::MAPPED_ADDRESS => plain_mapped = Some(decode_address(value, None)?),
                attr::ERROR_CODE => {
                    let class = u16::from(*value.get(2).ok_or(ParseError::BadAttribute)? & 0x07);
                    let number = u16::from(*value.get(3).ok_or(ParseError::BadAttribute)?);
                    m.error_code = Some(class * 100 + number);
                }
                attr::MESSAGE_INTEGRITY => {
                    if alen != 20 {
                        return Err(ParseError::BadAttribute);
                    }
                    m.integrity_at = Some(start);
                }
                _ => {}
            }
        }
        if m.mapped.is_none() {
            m.mapped = plain_mapped;
        }
        Ok(m)
    }

    /// Whether MESSAGE-INTEGRITY is present.
    pub fn has_integrity(&self) -> bool {
        self.integrity_at.is_some()
    }

    /// Whether FINGERPRINT is present.
    pub fn has_fingerprint(&self) -> bool {
        self.fingerprint_at.is_some()
    }

    /// Checks FINGERPRINT if present: `Some(true)` valid, `Some(false)` wrong, `None` absent.
    pub fn fingerprint_ok(&self) -> Option<bool> {
        let at = self.fingerprint_at?;
        let got = be32(self.bytes, at + 4)?;
        let covered = self.bytes.get(..at)?;
        let mut h = crc32fast::Hasher::new();
        h.update(header_with_len(covered, at + 8 - HEADER_LEN).as_slice());
        h.update(covered.get(4..)?);
        Some(h.finalize() ^ FINGERPRINT_XOR == got)
    }

    /// Checks MESSAGE-INTEGRITY (HMAC-SHA1) with `key` (the short-term password). `false` when absent.
    pub fn integrity_ok(&self, key: &[u8]) -> bool {
        let Some(at) = self.integrity_at else { return false };
        let (Some(covered), Some(tag)) = (self.bytes.get(..at), self.bytes.get(at + 4..at + 24)) else {
            return false;
        };
        let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else { return false };
        mac.update(header_with_len(covered, at + 24 - HEADER_LEN).as_slice());
        mac.update(covered.get(4..).unwrap_or_default());
        mac.verify_slice(tag).is_ok()
    }
}

/// The first four header bytes with the length field replaced by `len`.
fn header_with_len(covered: &[u8], len: usize) -> [u8; 4] {
    let l = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
    [covered.first().copied().unwrap_or(0), covered.get(1).copied().unwrap_or(0), l[0], l[1]]
}

fn decode_address(v: &[u8], xor_txn: Option<&[u8; 12]>) -> Result<SocketAddr, ParseError> {
    let family = *v.get(1).ok_or(ParseError::BadAttribute)?;
    let mut port = be16(v, 2).ok_or(ParseError::BadAttribute)?;
    let cookie = MAGIC_COOKIE.to_be_bytes();
    if xor_txn.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    match family {
        1 => {
            let raw: [u8; 4] = v.get(4..8).and_then(|s| s.try_into().ok()).ok_or(ParseError::BadAttribute)?;
            let mut ip = raw;
            if xor_txn.is_some() {
                for (b, k) in ip.iter_mut().zip(cookie) {
                    *b ^= k;
                }
            }
            Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port))
        }
        2 => {
            let raw: [u8; 16] = v.get(4..20).and_then(|s| s.try_into().ok()).ok_or(ParseError::BadAttribute)?;
            let mut ip = raw;
            if let Some(txn) = xor_txn {
                for (b, k) in ip.iter_mut().zip(cookie.iter().chain(txn.iter())) {
                    *b ^= k;
                }
            }
            Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port))
        }
        _ => Err(ParseError::BadAttribute),
    }
}

/// Writes one Binding message into a caller-owned (recycled) buffer.
pub struct Writer<'b> {
    pub(crate) buf: &'b mut Vec<u8>,
}

impl<'b> Writer<'b> {
    /// Starts a message of type `typ` with `transaction` in `buf` (cleared first).
    pub fn new(buf: &'b mut Vec<u8>, typ: u16, transaction: &[u8; 12]) -> Self {
        buf.clear();
        buf.extend_from_slice(&typ.to_be_bytes());
        buf.extend_from_slice(&[0, 0]);
        buf.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        buf.extend_from_slice(transaction);
        Writer { buf }
    }

    fn set_len(&mut self) {
        let len = u16::try_from(self.buf.len().saturating_sub(HEADER_LEN)).unwrap_or(u16::MAX).to_be_bytes();
        if let Some(l) = self.buf.get_mut(2..4) {
            l.copy_from_slice(&len);
        }
    }

    /// Appends an attribute with padding to a multiple of four bytes.
    pub fn attr(&mut self, kind: u16, value: &[u8]) -> &mut Self {
        let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
        self.buf.extend_from_slice(&kind.to_be_bytes());
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(value);
        let pad = value.len().div_ceil(4) * 4 - value.len();
        self.buf.extend_from_slice(&[0u8; 3][..pad]);
        self.set_len();
        self
    }

    /// Appends USERNAME as `first:second` without building the string.
    pub fn username(&mut self, first: &[u8], second: &[u8]) -> &mut Self {
        let len = first.len() + 1 + second.len();
        self.buf.extend_from_slice(&attr::USERNAME.to_be_bytes());
        self.buf.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
        self.buf.extend_from_slice(first);
        self.buf.push(b':');
        self.buf.extend_from_slice(second);
        let pad = len.div_ceil(4) * 4 - len;
        self.buf.extend_from_slice(&[0u8; 3][..pad]);
        self.set_len();
        self
    }

    /// Appends XOR-MAPPED-ADDRESS.
    pub fn xor_mapped(&mut self, addr: SocketAddr, transaction: &[u8; 12]) -> &mut Self {
        let port = (addr.port() ^ (MAGIC_COOKIE >> 16) as u16).to_be_bytes();
        let cookie = MAGIC_COOKIE.to_be_bytes();
        match addr.ip() {
            IpAddr::V4(ip) => {
                let mut v = [0u8; 8];
                v[1] = 1;
                v[2..4].copy_from_slice(&port);
                for (i, (b, k)) in ip.octets().iter().zip(cookie).enumerate() {
                    v[4 + i] = b ^ k;
                }
                self.attr(attr::XOR_MAPPED_ADDRESS, &v)
            }
            IpAddr::V6(ip) => {
                let mut v = [0u8; 20];
                v[1] = 2;
                v[2..4].copy_from_slice(&port);
                for (i, (b, k)) in ip.octets().iter().zip(cookie.iter().chain(transaction.iter())).enumerate() {
                    v[4 + i] = b ^ k;
                }
                self.attr(attr::XOR_MAPPED_ADDRESS, &v)
            }
        }
    }

    /// Appends ERROR-CODE `code` with an empty reason phrase.
    pub fn error_code(&mut self, code: u16) -> &mut Self {
        let v = [0, 0, ((code / 100) & 0x07) as u8, (code % 100) as u8];
        self.attr(attr::ERROR_CODE, &v)
    }

    /// Appends MESSAGE-INTEGRITY keyed with `key` (RFC 8489 §14.5).
    pub fn integrity(&mut self, key: &[u8]) -> &mut Self {
        // The length field must already count the MESSAGE-INTEGRITY attribute.
        let covered = self.buf.len();
        let len = u16::try_from(covered + 24 - HEADER_LEN).unwrap_or(u16::MAX).to_be_bytes();
        if let Some(l) = self.buf.get_mut(2..4) {
            l.copy_from_slice(&len);
        }
        let tag: [u8; 20] = match Hmac::<Sha1>::new_from_slice(key) {
            Ok(mut mac) => {
                mac.update(&self.buf[..covered]);
                mac.finalize().into_bytes().into()
            }
            Err(_) => [0; 20],
        };
        self.attr(attr::MESSAGE_INTEGRITY, &tag)
    }

    /// Appends FINGERPRINT (RFC 8489 §14.7); call last.
    pub fn fingerprint(&mut self) -> &mut Self {
        let covered = self.buf.len();
        let len = u16::try_from(covered + 8 - HEADER_LEN).unwrap_or(u16::MAX).to_be_bytes();
        if let Some(l) = self.buf.get_mut(2..4) {
            l.copy_from_slice(&len);
        }
        let crc = crc32fast::hash(&self.buf[..covered]) ^ FINGERPRINT_XOR;
        self.attr(attr::FINGERPRINT, &crc.to_be_bytes())
    }
}
