//! The STUN wire format (RFC 8489 §5, §14): a zero-copy [`Message`] view, typed [`Attribute`]s read by a
//! lazy iterator, and a [`MessageBuilder`] writing into caller-owned buffers.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |0 0|     STUN Message Type     |         Message Length        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         Magic Cookie                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     Transaction ID (96 bits)                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

#![deny(clippy::indexing_slicing)]

mod attr;
mod encode;

use core::fmt;
use core::net::SocketAddr;

pub use attr::{Attribute, AttributeType, ErrorCode, PasswordAlgorithm, PasswordAlgorithms, UnknownAttributes};
pub use encode::{Buffer, MessageBuilder, SliceBuffer};

use super::error::Error;
use crate::rand::SeededRng;

/// The magic cookie every RFC 5389/8489 message carries (§5).
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// Bytes in a STUN header.
pub const HEADER_LEN: usize = 20;
/// Bytes in an attribute header (type and length).
pub const ATTR_HEADER_LEN: usize = 4;

/// Whether `datagram` looks like a STUN message, for demultiplexing one socket between STUN, DTLS, TURN
/// channel data and RTP (RFC 7983 §7): first byte in 0..=3, the magic cookie in place, at least a header
/// long, and a length that is a multiple of 4. Cheap: no attribute is read.
///
/// A first byte of 4..=63 would be a STUN type with a method above 0x0FF, which no registered method has;
/// RFC 7983 gives that range to DTLS (20..=63) and ZRTP, so it is refused here although
/// [`Message::new_checked`] accepts it.
#[inline]
pub fn is_stun(datagram: &[u8]) -> bool {
    match datagram {
        [t0, _, _, l1, c0, c1, c2, c3, ..] if datagram.len() >= HEADER_LEN => {
            *t0 < 4 && l1 & 3 == 0 && u32::from_be_bytes([*c0, *c1, *c2, *c3]) == MAGIC_COOKIE
        }
        _ => false,
    }
}

/// A STUN method: a 12-bit codepoint, open to values this crate does not name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Method(u16);

impl Method {
    /// Binding (RFC 8489).
    pub const BINDING: Method = Method(0x001);
    /// Allocate (RFC 8656).
    pub const ALLOCATE: Method = Method(0x003);
    /// Refresh (RFC 8656).
    pub const REFRESH: Method = Method(0x004);
    /// Send (RFC 8656).
    pub const SEND: Method = Method(0x006);
    /// Data (RFC 8656).
    pub const DATA: Method = Method(0x007);
    /// CreatePermission (RFC 8656).
    pub const CREATE_PERMISSION: Method = Method(0x008);
    /// ChannelBind (RFC 8656).
    pub const CHANNEL_BIND: Method = Method(0x009);

    /// The method with codepoint `value` (only the low 12 bits are kept).
    pub const fn new(value: u16) -> Method {
        Method(value & 0x0FFF)
    }

    /// The 12-bit codepoint.
    pub const fn value(self) -> u16 {
        self.0
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            Method::BINDING => "Binding",
            Method::ALLOCATE => "Allocate",
            Method::REFRESH => "Refresh",
            Method::SEND => "Send",
            Method::DATA => "Data",
            Method::CREATE_PERMISSION => "CreatePermission",
            Method::CHANNEL_BIND => "ChannelBind",
            Method(other) => return write!(f, "Method(0x{other:03x})"),
        };
        f.write_str(name)
    }
}

/// A STUN message class (two bits: the set is closed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// A request: expects a response.
    Request,
    /// An indication: no response.
    Indication,
    /// A success response.
    Success,
    /// An error response.
    Error,
}

impl Class {
    const fn bits(self) -> u16 {
        match self {
            Class::Request => 0b00,
            Class::Indication => 0b01,
            Class::Success => 0b10,
            Class::Error => 0b11,
        }
    }

    /// Whether this is a success or error response.
    pub const fn is_response(self) -> bool {
        matches!(self, Class::Success | Class::Error)
    }
}

/// A message type: method and class interleaved in 14 bits (RFC 8489 §5, figure 3).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageType(u16);

impl MessageType {
    /// Binding request.
    pub const BINDING_REQUEST: MessageType = MessageType::new(Method::BINDING, Class::Request);
    /// Binding success response.
    pub const BINDING_SUCCESS: MessageType = MessageType::new(Method::BINDING, Class::Success);
    /// Binding error response.
    pub const BINDING_ERROR: MessageType = MessageType::new(Method::BINDING, Class::Error);
    /// Binding indication (ICE keepalives).
    pub const BINDING_INDICATION: MessageType = MessageType::new(Method::BINDING, Class::Indication);

    /// The type for `method` and `class`.
    pub const fn new(method: Method, class: Class) -> MessageType {
        let m = method.0;
        let c = class.bits();
        MessageType((m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((c & 1) << 4) | ((c & 2) << 7))
    }

    /// The type from its 14-bit wire value (the top two bits are dropped).
    pub const fn from_bits(bits: u16) -> MessageType {
        MessageType(bits & 0x3FFF)
    }

    /// The 14-bit wire value.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// The method.
    pub const fn method(self) -> Method {
        let t = self.0;
        Method((t & 0x000F) | ((t & 0x00E0) >> 1) | ((t & 0x3E00) >> 2))
    }

    /// The class.
    pub const fn class(self) -> Class {
        match ((self.0 >> 4) & 1) | ((self.0 >> 7) & 2) {
            0 => Class::Request,
            1 => Class::Indication,
            2 => Class::Success,
            _ => Class::Error,
        }
    }

    /// The same method with another class (a request's response type).
    pub const fn with_class(self, class: Class) -> MessageType {
        MessageType::new(self.method(), class)
    }
}

impl fmt::Debug for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {:?}", self.method(), self.class())
    }
}

/// A 96-bit transaction id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TransactionId(pub [u8; 12]);

impl TransactionId {
    /// A fresh id drawn from `rng` (RFC 8489 §6: uniformly random).
    pub fn random(rng: &mut SeededRng) -> TransactionId {
        TransactionId(rng.bytes())
    }

    /// The 12 bytes.
    pub const fn as_bytes(&self) -> &[u8; 12] {
        &self.0
    }
}

impl fmt::Debug for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TransactionId(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// An attribute as it sits on the wire: type, value (without padding) and offset of its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawAttribute<'a> {
    /// The attribute type.
    pub typ: u16,
    /// The value, without padding.
    pub value: &'a [u8],
    /// Offset of the attribute's header from the start of the message.
    pub offset: usize,
}

/// Which attributes the walk still honours (RFC 8489 §14.5, §14.6, §14.7): after MESSAGE-INTEGRITY only
/// MESSAGE-INTEGRITY-SHA256 and FINGERPRINT count, after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT, after
/// FINGERPRINT nothing. Others are skipped (still bounds-checked).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Open,
    AfterIntegrity,
    AfterSha256,
    Done,
}

impl Stage {
    /// Whether an attribute of `typ` counts at this stage, and the stage after it.
    #[inline]
    fn admit(self, typ: u16) -> (bool, Stage) {
        match (self, typ) {
            (Stage::Done, _) => (false, Stage::Done),
            (_, AttributeType::FINGERPRINT) => (true, Stage::Done),
            (Stage::Open, AttributeType::MESSAGE_INTEGRITY) => (true, Stage::AfterIntegrity),
            (Stage::Open | Stage::AfterIntegrity, AttributeType::MESSAGE_INTEGRITY_SHA256) => {
                (true, Stage::AfterSha256)
            }
            (Stage::Open, _) => (true, Stage::Open),
            (stage, _) => (false, stage),
        }
    }
}

/// Reads the next attribute at `pos` of `bytes` (a whole message), returning it and the offset after its
/// padding.
#[inline]
fn read_raw(bytes: &[u8], pos: usize) -> Result<(RawAttribute<'_>, usize), Error> {
    let Some([t0, t1, l0, l1]) = bytes.get(pos..pos + ATTR_HEADER_LEN).and_then(|h| <[u8; 4]>::try_from(h).ok()) else {
        return Err(Error::AttributeOverrun { typ: 0 });
    };
    let typ = u16::from_be_bytes([t0, t1]);
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    let start = pos + ATTR_HEADER_LEN;
    let padded_end = start + ((len + 3) & !3);
    if padded_end > bytes.len() {
        return Err(Error::AttributeOverrun { typ });
    }
    let value = bytes.get(start..start + len).ok_or(Error::AttributeOverrun { typ })?;
    Ok((RawAttribute { typ, value, offset: pos }, padded_end))
}

/// A lazy, borrowing iterator over a message's raw attributes, honouring the rules of which attributes
/// count after MESSAGE-INTEGRITY. Stops after the first error.
#[derive(Clone, Debug)]
pub struct RawAttributes<'a> {
    bytes: &'a [u8],
    pos: usize,
    stage: Stage,
}

impl<'a> Iterator for RawAttributes<'a> {
    type Item = Result<RawAttribute<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.pos < self.bytes.len() && self.stage != Stage::Done {
            match read_raw(self.bytes, self.pos) {
                Err(e) => {
                    self.pos = self.bytes.len();
                    return Some(Err(e));
                }
                Ok((raw, next)) => {
                    self.pos = next;
                    let (admit, stage) = self.stage.admit(raw.typ);
                    self.stage = stage;
                    if admit {
                        return Some(Ok(raw));
                    }
                }
            }
        }
        None
    }
}

/// A lazy, borrowing iterator over a message's typed attributes (see [`Message::attributes`]).
#[derive(Clone, Debug)]
pub struct Attributes<'a> {
    raw: RawAttributes<'a>,
    id: &'a [u8; 12],
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Result<Attribute<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let raw = match self.raw.next()? {
            Ok(raw) => raw,
            Err(e) => return Some(Err(e)),
        };
        let parsed = Attribute::parse(raw.typ, raw.value, self.id);
        if parsed.is_err() {
            self.raw.pos = self.raw.bytes.len();
        }
        Some(parsed)
    }
}

/// Typed getters on [`Message`]: the first attribute of a type that counts, if it parses.
macro_rules! getters {
    ($($(#[$doc:meta])* $name:ident: $typ:ident => $variant:ident($out:ty);)*) => {
        $(
            $(#[$doc])*
            pub fn $name(&self) -> Option<$out> {
                match self.attribute(AttributeType::$typ)? {
                    Attribute::$variant(v) => Some(v),
                    _ => None,
                }
            }
        )*
    };
}

/// Offsets the validating walk of [`Message::new_checked`] found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Found {
    integrity: Option<usize>,
    integrity_sha256: Option<usize>,
    fingerprint: Option<usize>,
    username: Option<usize>,
}

/// A zero-copy view of one whole STUN message.
///
/// [`Message::new_checked`] validates the header and walks the attributes once, checking every length
/// against the buffer; after it succeeds no accessor can panic or read out of bounds. Typed attributes come
/// from the lazy [`Message::attributes`] iterator; the integrity and fingerprint checks
/// ([`Message::verify_integrity`], [`Message::verify_fingerprint`], [`Message::verify_with`]) are methods on
/// the view and allocate nothing.
#[derive(Clone, Debug)]
pub struct Message<T: AsRef<[u8]>> {
    buffer: T,
    found: Found,
}

impl<T: AsRef<[u8]>> Message<T> {
    /// Validates `buffer` as exactly one STUN message: header (first two bits zero, magic cookie, length a
    /// multiple of 4 and equal to the bytes after the header) and the bounds of every attribute. For stream
    /// transports, cut one message off first with [`frame_len`].
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let found = check(buffer.as_ref()).inspect_err(|e| {
            tracing::trace!(target: super::TARGET, error = %e, "STUN message rejected");
        })?;
        Ok(Message { buffer, found })
    }

    /// The message's bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    fn header(&self) -> &[u8; HEADER_LEN] {
        // new_checked guaranteed the length; the fallback is never taken.
        self.as_bytes().first_chunk().unwrap_or(&[0; HEADER_LEN])
    }

    /// The message type.
    #[inline]
    pub fn typ(&self) -> MessageType {
        let h = self.header();
        MessageType::from_bits(u16::from_be_bytes([h[0], h[1]]))
    }

    /// The method.
    #[inline]
    pub fn method(&self) -> Method {
        self.typ().method()
    }

    /// The class.
    #[inline]
    pub fn class(&self) -> Class {
        self.typ().class()
    }

    /// The header's length field: bytes of attributes.
    #[inline]
    pub fn length(&self) -> u16 {
        let h = self.header();
        u16::from_be_bytes([h[2], h[3]])
    }

    /// The transaction id.
    #[inline]
    pub fn transaction_id(&self) -> TransactionId {
        TransactionId(*self.id_bytes())
    }

    #[inline]
    fn id_bytes(&self) -> &[u8; 12] {
        self.header().last_chunk().unwrap_or(&[0; 12])
    }

    /// The attributes that count, as typed values, in wire order. Attributes after MESSAGE-INTEGRITY other
    /// than MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are skipped, and so is anything after FINGERPRINT
    /// (RFC 8489 §14.5–§14.7). Unknown types come as [`Attribute::Unknown`]. An attribute whose value is
    /// invalid for its type yields an error and ends the iteration.
    pub fn attributes(&self) -> Attributes<'_> {
        Attributes { raw: self.raw_attributes(), id: self.id_bytes() }
    }

    /// The attributes that count, untyped (same skipping rules as [`Message::attributes`]).
    pub fn raw_attributes(&self) -> RawAttributes<'_> {
        let bytes = self.as_bytes();
        RawAttributes { bytes, pos: HEADER_LEN.min(bytes.len()), stage: Stage::Open }
    }

    /// The first attribute of type `typ` that counts, untyped.
    pub fn raw_attribute(&self, typ: u16) -> Option<&[u8]> {
        self.raw_attributes().flatten().find(|a| a.typ == typ).map(|a| a.value)
    }

    /// The first attribute of type `typ` that counts, typed (`None` if absent or invalid).
    pub fn attribute(&self, typ: u16) -> Option<Attribute<'_>> {
        let raw = self.raw_attribute(typ)?;
        Attribute::parse(typ, raw, self.id_bytes()).ok()
    }

    /// Comprehension-required attribute types (below 0x8000) that this crate does not understand, for a
    /// 420 (Unknown Attribute) error response listing them in UNKNOWN-ATTRIBUTES (RFC 8489 §6.3.1).
    pub fn unknown_comprehension_required(&self) -> impl Iterator<Item = u16> + Clone + '_ {
        self.raw_attributes().flatten().map(|a| a.typ).filter(|t| *t < 0x8000 && !AttributeType::is_known(*t))
    }

    /// Whether USE-CANDIDATE (ICE) is present.
    pub fn use_candidate(&self) -> bool {
        self.raw_attribute(AttributeType::USE_CANDIDATE).is_some()
    }

    /// The ICE role attribute: `Some((true, tie_breaker))` for ICE-CONTROLLING, `Some((false, …))` for
    /// ICE-CONTROLLED, whichever comes first.
    pub fn ice_role(&self) -> Option<(bool, u64)> {
        self.attributes().map_while(Result::ok).find_map(|a| match a {
            Attribute::IceControlling(t) => Some((true, t)),
            Attribute::IceControlled(t) => Some((false, t)),
            _ => None,
        })
    }

    getters! {
        /// PRIORITY (ICE), if present and valid.
        priority: PRIORITY => Priority(u32);
        /// XOR-MAPPED-ADDRESS, if present and valid.
        xor_mapped_address: XOR_MAPPED_ADDRESS => XorMappedAddress(SocketAddr);
        /// MAPPED-ADDRESS, if present and valid.
        mapped_address: MAPPED_ADDRESS => MappedAddress(SocketAddr);
        /// ERROR-CODE, if present and valid.
        error_code: ERROR_CODE => ErrorCode(ErrorCode<'_>);
        /// REALM, if present and valid.
        realm: REALM => Realm(&str);
        /// NONCE, if present and valid.
        nonce: NONCE => Nonce(&str);
        /// SOFTWARE, if present and valid.
        software: SOFTWARE => Software(&str);
        /// ALTERNATE-SERVER, if present and valid.
        alternate_server: ALTERNATE_SERVER => AlternateServer(SocketAddr);
        /// LIFETIME in seconds (TURN), if present and valid.
        lifetime: LIFETIME => Lifetime(u32);
        /// XOR-RELAYED-ADDRESS (TURN), if present and valid.
        xor_relayed_address: XOR_RELAYED_ADDRESS => XorRelayedAddress(SocketAddr);
        /// XOR-PEER-ADDRESS (TURN, the first one), if present and valid.
        xor_peer_address: XOR_PEER_ADDRESS => XorPeerAddress(SocketAddr);
        /// DATA (TURN), if present.
        data: DATA => Data(&[u8]);
        /// CHANNEL-NUMBER (TURN), if present and valid.
        channel_number: CHANNEL_NUMBER => ChannelNumber(u16);
    }

    /// The USERNAME value, if present and valid UTF-8 (found during [`Message::new_checked`]).
    #[inline]
    pub fn username(&self) -> Option<&str> {
        self.value_at(self.found.username).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// Whether MESSAGE-INTEGRITY is present (and counts).
    pub fn has_integrity(&self) -> bool {
        self.found.integrity.is_some()
    }

    /// Whether MESSAGE-INTEGRITY-SHA256 is present (and counts).
    pub fn has_integrity_sha256(&self) -> bool {
        self.found.integrity_sha256.is_some()
    }

    /// Whether FINGERPRINT is present (and counts).
    pub fn has_fingerprint(&self) -> bool {
        self.found.fingerprint.is_some()
    }

    /// Offset of the MESSAGE-INTEGRITY attribute header.
    pub(crate) fn integrity_offset(&self) -> Option<usize> {
        self.found.integrity
    }

    /// Offset of the MESSAGE-INTEGRITY-SHA256 attribute header.
    pub(crate) fn integrity_sha256_offset(&self) -> Option<usize> {
        self.found.integrity_sha256
    }

    /// Offset of the FINGERPRINT attribute header.
    pub(crate) fn fingerprint_offset(&self) -> Option<usize> {
        self.found.fingerprint
    }

    /// The value of the attribute whose header is at `offset`.
    pub(crate) fn value_at(&self, offset: Option<usize>) -> Option<&[u8]> {
        read_raw(self.as_bytes(), offset?).ok().map(|(raw, _)| raw.value)
    }
}

impl<'a> Message<&'a [u8]> {
    /// The USERNAME value borrowed from the datagram itself (it outlives the view), if present and valid
    /// UTF-8.
    pub fn username_in_buffer(&self) -> Option<&'a str> {
        let buffer: &'a [u8] = self.buffer;
        read_raw(buffer, self.found.username?).ok().and_then(|(raw, _)| core::str::from_utf8(raw.value).ok())
    }
}

/// Validates the header and attribute bounds of `bytes`, noting where the attributes the checks need are.
fn check(bytes: &[u8]) -> Result<Found, Error> {
    let Some(header) = bytes.first_chunk::<HEADER_LEN>() else {
        return Err(Error::Truncated);
    };
    if header[0] & 0xC0 != 0 {
        return Err(Error::NotStun);
    }
    if u32::from_be_bytes([header[4], header[5], header[6], header[7]]) != MAGIC_COOKIE {
        return Err(Error::BadMagicCookie);
    }
    let length = u16::from_be_bytes([header[2], header[3]]);
    if length & 3 != 0 {
        return Err(Error::UnalignedLength);
    }
    if usize::from(length) != bytes.len() - HEADER_LEN {
        return Err(Error::LengthMismatch { header: length, actual: bytes.len() - HEADER_LEN });
    }
    let mut found = Found::default();
    let mut pos = HEADER_LEN;
    let mut stage = Stage::Open;
    while pos < bytes.len() {
        let (raw, next) = read_raw(bytes, pos)?;
        let (admit, next_stage) = stage.admit(raw.typ);
        stage = next_stage;
        if admit {
            let slot = match raw.typ {
                AttributeType::MESSAGE_INTEGRITY => {
                    if raw.value.len() != 20 {
                        return Err(Error::InvalidAttribute { typ: raw.typ });
                    }
                    &mut found.integrity
                }
                AttributeType::MESSAGE_INTEGRITY_SHA256 => {
                    if !(16..=32).contains(&raw.value.len()) || raw.value.len() % 4 != 0 {
                        return Err(Error::InvalidAttribute { typ: raw.typ });
                    }
                    &mut found.integrity_sha256
                }
                AttributeType::FINGERPRINT => {
                    if raw.value.len() != 4 {
                        return Err(Error::InvalidAttribute { typ: raw.typ });
                    }
                    &mut found.fingerprint
                }
                AttributeType::USERNAME => &mut found.username,
                _ => {
                    pos = next;
                    continue;
                }
            };
            if slot.is_none() {
                *slot = Some(pos);
            }
        }
        pos = next;
    }
    Ok(found)
}

/// For stream transports (STUN over TCP/TLS, RFC 8489 §6.2.2): the length of the message starting at
/// `stream`'s first byte once its header is there (`None` before that, or when it is not STUN).
pub fn frame_len(stream: &[u8]) -> Option<usize> {
    if !is_stun(stream) {
        return None;
    }
    let [_, _, l0, l1, ..] = *stream else { return None };
    Some(HEADER_LEN + usize::from(u16::from_be_bytes([l0, l1])))
}
