//! Typed STUN attributes (RFC 8489 §14, RFC 8445 §16.1 for ICE, RFC 8656 §18 for TURN).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::MAGIC_COOKIE;
use crate::stun::error::Error;

/// Attribute type codepoints (the registry is open: any `u16` may appear on the wire).
#[derive(Debug)]
pub enum AttributeType {}

#[allow(missing_docs)]
impl AttributeType {
    pub const MAPPED_ADDRESS: u16 = 0x0001;
    pub const USERNAME: u16 = 0x0006;
    pub const MESSAGE_INTEGRITY: u16 = 0x0008;
    pub const ERROR_CODE: u16 = 0x0009;
    pub const UNKNOWN_ATTRIBUTES: u16 = 0x000A;
    pub const CHANNEL_NUMBER: u16 = 0x000C;
    pub const LIFETIME: u16 = 0x000D;
    pub const XOR_PEER_ADDRESS: u16 = 0x0012;
    pub const DATA: u16 = 0x0013;
    pub const REALM: u16 = 0x0014;
    pub const NONCE: u16 = 0x0015;
    pub const XOR_RELAYED_ADDRESS: u16 = 0x0016;
    pub const EVEN_PORT: u16 = 0x0018;
    pub const REQUESTED_TRANSPORT: u16 = 0x0019;
    pub const DONT_FRAGMENT: u16 = 0x001A;
    pub const MESSAGE_INTEGRITY_SHA256: u16 = 0x001C;
    pub const PASSWORD_ALGORITHM: u16 = 0x001D;
    pub const USERHASH: u16 = 0x001E;
    pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
    pub const RESERVATION_TOKEN: u16 = 0x0022;
    pub const PRIORITY: u16 = 0x0024;
    pub const USE_CANDIDATE: u16 = 0x0025;
    pub const PASSWORD_ALGORITHMS: u16 = 0x8002;
    pub const SOFTWARE: u16 = 0x8022;
    pub const ALTERNATE_SERVER: u16 = 0x8023;
    pub const FINGERPRINT: u16 = 0x8028;
    pub const ICE_CONTROLLED: u16 = 0x8029;
    pub const ICE_CONTROLLING: u16 = 0x802A;
}

impl AttributeType {
    /// Whether this crate parses `typ` into a typed [`Attribute`].
    pub const fn is_known(typ: u16) -> bool {
        matches!(
            typ,
            0x0001
                | 0x0006
                | 0x0008
                | 0x0009
                | 0x000A
                | 0x000C
                | 0x000D
                | 0x0012
                | 0x0013
                | 0x0014
                | 0x0015
                | 0x0016
                | 0x0018
                | 0x0019
                | 0x001A
                | 0x001C
                | 0x001D
                | 0x001E
                | 0x0020
                | 0x0022
                | 0x0024
                | 0x0025
                | 0x8002
                | 0x8022
                | 0x8023
                | 0x8028
                | 0x8029
                | 0x802A
        )
    }
}

/// Longest USERNAME value in bytes (RFC 8489 §14.3).
pub const MAX_USERNAME: usize = 513;
/// Longest REALM, NONCE, SOFTWARE value and ERROR-CODE reason in bytes (RFC 8489 §14.8–§14.10, §14.14).
pub const MAX_TEXT: usize = 763;

/// ERROR-CODE (RFC 8489 §14.8): a code from 300 to 699 and a UTF-8 reason phrase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorCode<'a> {
    /// The code (class × 100 + number), 300..=699.
    pub code: u16,
    /// The reason phrase.
    pub reason: &'a str,
}

impl ErrorCode<'_> {
    /// 300 Try Alternate.
    pub const TRY_ALTERNATE: u16 = 300;
    /// 400 Bad Request.
    pub const BAD_REQUEST: u16 = 400;
    /// 401 Unauthenticated.
    pub const UNAUTHENTICATED: u16 = 401;
    /// 403 Forbidden (TURN).
    pub const FORBIDDEN: u16 = 403;
    /// 420 Unknown Attribute.
    pub const UNKNOWN_ATTRIBUTE: u16 = 420;
    /// 437 Allocation Mismatch (TURN).
    pub const ALLOCATION_MISMATCH: u16 = 437;
    /// 438 Stale Nonce.
    pub const STALE_NONCE: u16 = 438;
    /// 441 Wrong Credentials (TURN).
    pub const WRONG_CREDENTIALS: u16 = 441;
    /// 442 Unsupported Transport Protocol (TURN).
    pub const UNSUPPORTED_TRANSPORT: u16 = 442;
    /// 486 Allocation Quota Reached (TURN).
    pub const ALLOCATION_QUOTA_REACHED: u16 = 486;
    /// 487 Role Conflict (ICE).
    pub const ROLE_CONFLICT: u16 = 487;
    /// 500 Server Error.
    pub const SERVER_ERROR: u16 = 500;
    /// 508 Insufficient Capacity (TURN).
    pub const INSUFFICIENT_CAPACITY: u16 = 508;
}

/// UNKNOWN-ATTRIBUTES (RFC 8489 §14.9): a lazy list of 16-bit types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownAttributes<'a>(&'a [u8]);

impl<'a> UnknownAttributes<'a> {
    /// The list in wire form (big-endian `u16`s); its length must be even.
    pub fn from_wire(bytes: &'a [u8]) -> Option<Self> {
        (bytes.len() % 2 == 0).then_some(UnknownAttributes(bytes))
    }

    /// The types listed.
    pub fn iter(&self) -> impl Iterator<Item = u16> + 'a {
        self.0.chunks_exact(2).filter_map(|c| c.first_chunk().map(|&t| u16::from_be_bytes(t)))
    }

    /// The list in wire form.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

/// One PASSWORD-ALGORITHM entry (RFC 8489 §14.11, §14.12): algorithm number and parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordAlgorithm<'a> {
    /// The algorithm: 0x0001 MD5, 0x0002 SHA-256, others open.
    pub algorithm: u16,
    /// Its parameters (empty for MD5 and SHA-256).
    pub parameters: &'a [u8],
}

impl PasswordAlgorithm<'_> {
    /// MD5 (RFC 8489 §18.5.1).
    pub const MD5: u16 = 0x0001;
    /// SHA-256 (RFC 8489 §18.5.1).
    pub const SHA256: u16 = 0x0002;

    fn wire_len(&self) -> usize {
        4 + pad4(self.parameters.len())
    }
}

/// Reads one PASSWORD-ALGORITHM entry from the front of `bytes`, returning it and the bytes after it.
fn read_algorithm(bytes: &[u8]) -> Option<(PasswordAlgorithm<'_>, &[u8])> {
    let (&[a0, a1, l0, l1], rest) = bytes.split_first_chunk::<4>()?;
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    let parameters = rest.get(..len)?;
    let rest = rest.get(pad4(len)..)?;
    Some((PasswordAlgorithm { algorithm: u16::from_be_bytes([a0, a1]), parameters }, rest))
}

/// PASSWORD-ALGORITHMS (RFC 8489 §14.11): a lazy list of [`PasswordAlgorithm`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordAlgorithms<'a>(&'a [u8]);

impl<'a> PasswordAlgorithms<'a> {
    /// The list in wire form, validated.
    pub fn from_wire(mut bytes: &'a [u8]) -> Option<Self> {
        let all = bytes;
        while !bytes.is_empty() {
            bytes = read_algorithm(bytes)?.1;
        }
        Some(PasswordAlgorithms(all))
    }

    /// The entries.
    pub fn iter(&self) -> impl Iterator<Item = PasswordAlgorithm<'a>> + 'a {
        let mut bytes = self.0;
        core::iter::from_fn(move || {
            let (alg, rest) = read_algorithm(bytes)?;
            bytes = rest;
            Some(alg)
        })
    }

    /// The list in wire form.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

/// A typed STUN attribute borrowing from the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attribute<'a> {
    /// MAPPED-ADDRESS (RFC 8489 §14.1).
    MappedAddress(SocketAddr),
    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2), already un-XORed.
    XorMappedAddress(SocketAddr),
    /// USERNAME (RFC 8489 §14.3).
    Username(&'a str),
    /// USERHASH (RFC 8489 §14.4).
    Userhash(&'a [u8; 32]),
    /// MESSAGE-INTEGRITY (RFC 8489 §14.5): the HMAC-SHA1 as found.
    MessageIntegrity(&'a [u8; 20]),
    /// MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6): the (possibly truncated, 16..=32 bytes) HMAC-SHA256.
    MessageIntegritySha256(&'a [u8]),
    /// FINGERPRINT (RFC 8489 §14.7): the value as found.
    Fingerprint(u32),
    /// ERROR-CODE (RFC 8489 §14.8).
    ErrorCode(ErrorCode<'a>),
    /// REALM (RFC 8489 §14.9).
    Realm(&'a str),
    /// NONCE (RFC 8489 §14.10).
    Nonce(&'a str),
    /// PASSWORD-ALGORITHMS (RFC 8489 §14.11).
    PasswordAlgorithms(PasswordAlgorithms<'a>),
    /// PASSWORD-ALGORITHM (RFC 8489 §14.12).
    PasswordAlgorithm(PasswordAlgorithm<'a>),
    /// UNKNOWN-ATTRIBUTES (RFC 8489 §14.13).
    UnknownAttributes(UnknownAttributes<'a>),
    /// SOFTWARE (RFC 8489 §14.14).
    Software(&'a str),
    /// ALTERNATE-SERVER (RFC 8489 §14.15).
    AlternateServer(SocketAddr),
    /// PRIORITY (RFC 8445 §7.1.1).
    Priority(u32),
    /// USE-CANDIDATE (RFC 8445 §7.1.2).
    UseCandidate,
    /// ICE-CONTROLLED with its tie-breaker (RFC 8445 §7.1.3).
    IceControlled(u64),
    /// ICE-CONTROLLING with its tie-breaker (RFC 8445 §7.1.3).
    IceControlling(u64),
    /// CHANNEL-NUMBER (RFC 8656 §18.1).
    ChannelNumber(u16),
    /// LIFETIME in seconds (RFC 8656 §18.2).
    Lifetime(u32),
    /// XOR-PEER-ADDRESS (RFC 8656 §18.3), already un-XORed.
    XorPeerAddress(SocketAddr),
    /// DATA (RFC 8656 §18.4).
    Data(&'a [u8]),
    /// XOR-RELAYED-ADDRESS (RFC 8656 §18.5), already un-XORed.
    XorRelayedAddress(SocketAddr),
    /// EVEN-PORT with its R bit (RFC 8656 §18.7).
    EvenPort(bool),
    /// REQUESTED-TRANSPORT: the IP protocol number, 17 for UDP (RFC 8656 §18.8).
    RequestedTransport(u8),
    /// DONT-FRAGMENT (RFC 8656 §18.9).
    DontFragment,
    /// RESERVATION-TOKEN (RFC 8656 §18.10).
    ReservationToken([u8; 8]),
    /// Any other attribute, kept raw.
    Unknown {
        /// Its type.
        typ: u16,
        /// Its value, without padding.
        value: &'a [u8],
    },
}

/// `n` rounded up to a multiple of 4.
#[inline]
pub(crate) const fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

#[inline]
fn array<const N: usize>(typ: u16, value: &[u8]) -> Result<[u8; N], Error> {
    <[u8; N]>::try_from(value).map_err(|_| Error::InvalidAttribute { typ })
}

#[inline]
fn text(typ: u16, value: &[u8], max: usize) -> Result<&str, Error> {
    if value.len() > max {
        return Err(Error::InvalidAttribute { typ });
    }
    core::str::from_utf8(value).map_err(|_| Error::InvalidAttribute { typ })
}

/// Reads a (possibly XORed) address attribute (RFC 8489 §14.1, §14.2).
fn address(typ: u16, value: &[u8], xor: Option<&[u8; 12]>) -> Result<SocketAddr, Error> {
    let bad = Error::InvalidAttribute { typ };
    let (&[_, family, p0, p1], addr) = value.split_first_chunk::<4>().ok_or(bad)?;
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let mut port = u16::from_be_bytes([p0, p1]);
    if xor.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    let ip = match family {
        0x01 => {
            let mut a = <[u8; 4]>::try_from(addr).map_err(|_| bad)?;
            if xor.is_some() {
                for (b, k) in a.iter_mut().zip(cookie) {
                    *b ^= k;
                }
            }
            IpAddr::V4(Ipv4Addr::from(a))
        }
        0x02 => {
            let mut a = <[u8; 16]>::try_from(addr).map_err(|_| bad)?;
            if let Some(id) = xor {
                for (b, k) in a.iter_mut().zip(cookie.iter().chain(id.iter())) {
                    *b ^= k;
                }
            }
            IpAddr::V6(Ipv6Addr::from(a))
        }
        _ => return Err(bad),
    };
    Ok(SocketAddr::new(ip, port))
}

/// Writes a (possibly XORed) address value (8 octets for IPv4, 20 for IPv6) by handing its pieces to `put`.
fn write_address(
    addr: &SocketAddr,
    xor: Option<&[u8; 12]>,
    mut put: impl FnMut(&[u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let mut port = addr.port();
    if xor.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    let [p0, p1] = port.to_be_bytes();
    match addr.ip() {
        IpAddr::V4(ip) => {
            let mut a = ip.octets();
            if xor.is_some() {
                for (b, k) in a.iter_mut().zip(cookie) {
                    *b ^= k;
                }
            }
            let [a0, a1, a2, a3] = a;
            put(&[0, 0x01, p0, p1, a0, a1, a2, a3])
        }
        IpAddr::V6(ip) => {
            let mut a = ip.octets();
            if let Some(id) = xor {
                for (b, k) in a.iter_mut().zip(cookie.iter().chain(id.iter())) {
                    *b ^= k;
                }
            }
            put(&[0, 0x02, p0, p1])?;
            put(&a)
        }
    }
}

impl<'a> Attribute<'a> {
    /// Parses the value of an attribute of type `typ` in a message with transaction id `id` (needed to
    /// un-XOR IPv6 addresses).
    pub fn parse(typ: u16, value: &'a [u8], id: &[u8; 12]) -> Result<Attribute<'a>, Error> {
        type T = AttributeType;
        let bad = Error::InvalidAttribute { typ };
        Ok(match typ {
            T::MAPPED_ADDRESS => Attribute::MappedAddress(address(typ, value, None)?),
            T::XOR_MAPPED_ADDRESS => Attribute::XorMappedAddress(address(typ, value, Some(id))?),
            T::XOR_PEER_ADDRESS => Attribute::XorPeerAddress(address(typ, value, Some(id))?),
            T::XOR_RELAYED_ADDRESS => Attribute::XorRelayedAddress(address(typ, value, Some(id))?),
            T::ALTERNATE_SERVER => Attribute::AlternateServer(address(typ, value, None)?),
            T::USERNAME => Attribute::Username(text(typ, value, MAX_USERNAME)?),
            T::REALM => Attribute::Realm(text(typ, value, MAX_TEXT)?),
            T::NONCE => Attribute::Nonce(text(typ, value, MAX_TEXT)?),
            T::SOFTWARE => Attribute::Software(text(typ, value, MAX_TEXT)?),
            T::USERHASH => Attribute::Userhash(value.try_into().map_err(|_| bad)?),
            T::MESSAGE_INTEGRITY => Attribute::MessageIntegrity(value.try_into().map_err(|_| bad)?),
            T::MESSAGE_INTEGRITY_SHA256 => {
                if !(16..=32).contains(&value.len()) || value.len() % 4 != 0 {
                    return Err(bad);
                }
                Attribute::MessageIntegritySha256(value)
            }
            T::FINGERPRINT => Attribute::Fingerprint(u32::from_be_bytes(array(typ, value)?)),
            T::ERROR_CODE => {
                let (&[_, _, class, number], reason) = value.split_first_chunk::<4>().ok_or(bad)?;
                let class = class & 0x07;
                if !(3..=6).contains(&class) || number > 99 {
                    return Err(bad);
                }
                let reason = text(typ, reason, MAX_TEXT)?;
                Attribute::ErrorCode(ErrorCode { code: u16::from(class) * 100 + u16::from(number), reason })
            }
            T::UNKNOWN_ATTRIBUTES => Attribute::UnknownAttributes(UnknownAttributes::from_wire(value).ok_or(bad)?),
            T::PASSWORD_ALGORITHMS => Attribute::PasswordAlgorithms(PasswordAlgorithms::from_wire(value).ok_or(bad)?),
            T::PASSWORD_ALGORITHM => match read_algorithm(value) {
                Some((alg, [])) => Attribute::PasswordAlgorithm(alg),
                _ => return Err(bad),
            },
            T::PRIORITY => Attribute::Priority(u32::from_be_bytes(array(typ, value)?)),
            T::USE_CANDIDATE if value.is_empty() => Attribute::UseCandidate,
            T::ICE_CONTROLLED => Attribute::IceControlled(u64::from_be_bytes(array(typ, value)?)),
            T::ICE_CONTROLLING => Attribute::IceControlling(u64::from_be_bytes(array(typ, value)?)),
            T::CHANNEL_NUMBER => {
                let [c0, c1, _, _] = array(typ, value)?;
                Attribute::ChannelNumber(u16::from_be_bytes([c0, c1]))
            }
            T::LIFETIME => Attribute::Lifetime(u32::from_be_bytes(array(typ, value)?)),
            T::DATA => Attribute::Data(value),
            T::EVEN_PORT => {
                let [flags] = array(typ, value)?;
                Attribute::EvenPort(flags & 0x80 != 0)
            }
            T::REQUESTED_TRANSPORT => {
                let [protocol, _, _, _] = array(typ, value)?;
                Attribute::RequestedTransport(protocol)
            }
            T::DONT_FRAGMENT if value.is_empty() => Attribute::DontFragment,
            T::RESERVATION_TOKEN => Attribute::ReservationToken(array(typ, value)?),
            T::USE_CANDIDATE | T::DONT_FRAGMENT => return Err(bad),
            _ => Attribute::Unknown { typ, value },
        })
    }

    /// The attribute's type.
    pub fn typ(&self) -> u16 {
        type T = AttributeType;
        match self {
            Attribute::MappedAddress(_) => T::MAPPED_ADDRESS,
            Attribute::XorMappedAddress(_) => T::XOR_MAPPED_ADDRESS,
            Attribute::Username(_) => T::USERNAME,
            Attribute::Userhash(_) => T::USERHASH,
            Attribute::MessageIntegrity(_) => T::MESSAGE_INTEGRITY,
            Attribute::MessageIntegritySha256(_) => T::MESSAGE_INTEGRITY_SHA256,
            Attribute::Fingerprint(_) => T::FINGERPRINT,
            Attribute::ErrorCode(_) => T::ERROR_CODE,
            Attribute::Realm(_) => T::REALM,
            Attribute::Nonce(_) => T::NONCE,
            Attribute::PasswordAlgorithms(_) => T::PASSWORD_ALGORITHMS,
            Attribute::PasswordAlgorithm(_) => T::PASSWORD_ALGORITHM,
            Attribute::UnknownAttributes(_) => T::UNKNOWN_ATTRIBUTES,
            Attribute::Software(_) => T::SOFTWARE,
            Attribute::AlternateServer(_) => T::ALTERNATE_SERVER,
            Attribute::Priority(_) => T::PRIORITY,
            Attribute::UseCandidate => T::USE_CANDIDATE,
            Attribute::IceControlled(_) => T::ICE_CONTROLLED,
            Attribute::IceControlling(_) => T::ICE_CONTROLLING,
            Attribute::ChannelNumber(_) => T::CHANNEL_NUMBER,
            Attribute::Lifetime(_) => T::LIFETIME,
            Attribute::XorPeerAddress(_) => T::XOR_PEER_ADDRESS,
            Attribute::Data(_) => T::DATA,
            Attribute::XorRelayedAddress(_) => T::XOR_RELAYED_ADDRESS,
            Attribute::EvenPort(_) => T::EVEN_PORT,
            Attribute::RequestedTransport(_) => T::REQUESTED_TRANSPORT,
            Attribute::DontFragment => T::DONT_FRAGMENT,
            Attribute::ReservationToken(_) => T::RESERVATION_TOKEN,
            Attribute::Unknown { typ, .. } => *typ,
        }
    }

    /// Writes the value (without header or padding) by handing its pieces to `put`, in a message with
    /// transaction id `id`. Returns an error when the value is too long for its type.
    pub(crate) fn write_value(
        &self,
        id: &[u8; 12],
        mut put: impl FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        match self {
            Attribute::MappedAddress(a) | Attribute::AlternateServer(a) => write_address(a, None, put),
            Attribute::XorMappedAddress(a) | Attribute::XorPeerAddress(a) | Attribute::XorRelayedAddress(a) => {
                write_address(a, Some(id), put)
            }
            Attribute::Username(s) | Attribute::Realm(s) | Attribute::Nonce(s) | Attribute::Software(s) => {
                put(s.as_bytes())
            }
            Attribute::Userhash(v) => put(&v[..]),
            Attribute::MessageIntegrity(v) => put(&v[..]),
            Attribute::MessageIntegritySha256(v) | Attribute::Data(v) => put(v),
            Attribute::Unknown { value, .. } => put(value),
            Attribute::Fingerprint(v) | Attribute::Priority(v) | Attribute::Lifetime(v) => put(&v.to_be_bytes()),
            Attribute::ErrorCode(e) => {
                put(&[0, 0, (e.code / 100) as u8 & 0x07, (e.code % 100) as u8])?;
                put(e.reason.as_bytes())
            }
            Attribute::UnknownAttributes(list) => put(list.as_bytes()),
            Attribute::PasswordAlgorithms(list) => put(list.as_bytes()),
            Attribute::PasswordAlgorithm(alg) => {
                let len = u16::try_from(alg.parameters.len())
                    .map_err(|_| Error::ValueTooLong { typ: AttributeType::PASSWORD_ALGORITHM })?;
                let [l0, l1] = len.to_be_bytes();
                let [a0, a1] = alg.algorithm.to_be_bytes();
                put(&[a0, a1, l0, l1])?;
                put(alg.parameters)?;
                let padding = [0; 3];
                put(padding.get(..pad4(alg.parameters.len()) - alg.parameters.len()).unwrap_or_default())
            }
            Attribute::IceControlled(v) | Attribute::IceControlling(v) => put(&v.to_be_bytes()),
            Attribute::ChannelNumber(c) => {
                let [c0, c1] = c.to_be_bytes();
                put(&[c0, c1, 0, 0])
            }
            Attribute::EvenPort(r) => put(&[if *r { 0x80 } else { 0 }]),
            Attribute::RequestedTransport(p) => put(&[*p, 0, 0, 0]),
            Attribute::ReservationToken(t) => put(t),
            Attribute::UseCandidate | Attribute::DontFragment => Ok(()),
        }
    }

    /// Length of the value (without header or padding) as [`Attribute::write_value`] writes it.
    pub(crate) fn value_len(&self) -> usize {
        match self {
            Attribute::MappedAddress(a)
            | Attribute::AlternateServer(a)
            | Attribute::XorMappedAddress(a)
            | Attribute::XorPeerAddress(a)
            | Attribute::XorRelayedAddress(a) => {
                if a.is_ipv4() {
                    8
                } else {
                    20
                }
            }
            Attribute::Username(s) | Attribute::Realm(s) | Attribute::Nonce(s) | Attribute::Software(s) => s.len(),
            Attribute::Userhash(_) => 32,
            Attribute::MessageIntegrity(_) => 20,
            Attribute::MessageIntegritySha256(v) | Attribute::Data(v) => v.len(),
            Attribute::Unknown { value, .. } => value.len(),
            Attribute::Fingerprint(_) | Attribute::Priority(_) | Attribute::Lifetime(_) => 4,
            Attribute::ErrorCode(e) => 4 + e.reason.len(),
            Attribute::UnknownAttributes(list) => list.as_bytes().len(),
            Attribute::PasswordAlgorithms(list) => list.as_bytes().len(),
            Attribute::PasswordAlgorithm(alg) => alg.wire_len(),
            Attribute::IceControlled(_) | Attribute::IceControlling(_) | Attribute::ReservationToken(_) => 8,
            Attribute::ChannelNumber(_) | Attribute::RequestedTransport(_) => 4,
            Attribute::EvenPort(_) => 1,
            Attribute::UseCandidate | Attribute::DontFragment => 0,
        }
    }

    /// The most bytes a value of this attribute's type may have, if its type limits it.
    pub(crate) fn max_len(&self) -> usize {
        match self {
            Attribute::Username(_) => MAX_USERNAME,
            Attribute::Realm(_) | Attribute::Nonce(_) | Attribute::Software(_) => MAX_TEXT,
            Attribute::ErrorCode(_) => 4 + MAX_TEXT,
            _ => usize::from(u16::MAX),
        }
    }
}
