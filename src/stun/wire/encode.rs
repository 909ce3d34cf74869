//! Writing STUN messages into caller-owned buffers.

use alloc::vec::Vec;

use super::attr::{Attribute, AttributeType, pad4};
use super::{Class, HEADER_LEN, MAGIC_COOKIE, Message, MessageType, TransactionId};
use crate::stun::error::Error;
use crate::stun::integrity::{FINGERPRINT_XOR, Key};

/// Where a [`MessageBuilder`] writes: a growable `Vec<u8>` (appends; allocates only when it lacks
/// capacity) or a fixed [`SliceBuffer`] (fails with [`Error::BufferTooSmall`]).
pub trait Buffer {
    /// Everything written so far.
    fn written(&self) -> &[u8];
    /// Everything written so far, mutably.
    fn written_mut(&mut self) -> &mut [u8];
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error>;
    /// Forgets what was written after the first `len` bytes.
    fn truncate(&mut self, len: usize);
}

impl Buffer for Vec<u8> {
    #[inline]
    fn written(&self) -> &[u8] {
        self
    }
    #[inline]
    fn written_mut(&mut self) -> &mut [u8] {
        self
    }
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.extend_from_slice(bytes);
        Ok(())
    }
    #[inline]
    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len);
    }
}

/// A fixed output slice and how much of it is written.
#[derive(Debug)]
pub struct SliceBuffer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> SliceBuffer<'a> {
    /// An empty buffer over `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        SliceBuffer { buf, len: 0 }
    }

    /// Bytes written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Buffer for SliceBuffer<'_> {
    #[inline]
    fn written(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
    #[inline]
    fn written_mut(&mut self) -> &mut [u8] {
        self.buf.get_mut(..self.len).unwrap_or(&mut [])
    }
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let end = self.len + bytes.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(Error::BufferTooSmall)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
    #[inline]
    fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
}

/// Writes one STUN message at the end of a [`Buffer`]: header, then attributes, then optionally
/// MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT, in that order (RFC 8489 §14.5–§14.7).
///
/// The header's length field is kept current after every call, so the bytes written are a valid message
/// at any point. Writing into a `Vec` with enough capacity, or into a slice, allocates nothing.
///
/// ```
/// use sansrtc::stun::{Attribute, Key, Message, MessageBuilder, MessageType, TransactionId};
///
/// let key = Key::short_term("VOkJxbRl1RmTxUk/WvJxBt");
/// let mut buf = Vec::with_capacity(128);
/// let mut b = MessageBuilder::new(&mut buf, MessageType::BINDING_REQUEST, TransactionId([7; 12]))?;
/// b.add(Attribute::Username("evtj:h6vY"))?;
/// b.add(Attribute::Priority(0x6e0001ff))?;
/// b.message_integrity(&key)?;
/// b.fingerprint()?;
/// let len = b.finish();
///
/// let msg = Message::new_checked(&buf[..len])?;
/// msg.verify_fingerprint()?;
/// msg.verify_integrity(&key)?;
/// # Ok::<(), sansrtc::stun::Error>(())
/// ```
#[derive(Debug)]
pub struct MessageBuilder<'b, B: Buffer + ?Sized> {
    buf: &'b mut B,
    start: usize,
    id: [u8; 12],
    padding: u8,
}

impl<'b, B: Buffer + ?Sized> MessageBuilder<'b, B> {
    /// Starts a message of type `typ` with transaction id `id` after what `buf` already holds.
    pub fn new(buf: &'b mut B, typ: MessageType, id: TransactionId) -> Result<Self, Error> {
        let start = buf.written().len();
        let mut header = [0u8; HEADER_LEN];
        header[0..2].copy_from_slice(&typ.bits().to_be_bytes());
        header[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        header[8..20].copy_from_slice(&id.0);
        buf.put(&header)?;
        Ok(MessageBuilder { buf, start, id: id.0, padding: 0 })
    }

    /// Starts the response of `class` ([`Class::Success`] or [`Class::Error`]) to `request`: same method,
    /// same transaction id.
    pub fn response<T: AsRef<[u8]>>(buf: &'b mut B, request: &Message<T>, class: Class) -> Result<Self, Error> {
        MessageBuilder::new(buf, request.typ().with_class(class), request.transaction_id())
    }

    /// Sets the byte used to pad values to 4 bytes (0 by default; RFC 8489 lets it be anything).
    pub fn padding(&mut self, byte: u8) -> &mut Self {
        self.padding = byte;
        self
    }

    /// The transaction id.
    pub fn transaction_id(&self) -> TransactionId {
        TransactionId(self.id)
    }

    /// Bytes of the message written so far (header included).
    pub fn len(&self) -> usize {
        self.buf.written().len() - self.start
    }

    /// Whether only the header is written (never empty in the byte sense).
    pub fn is_empty(&self) -> bool {
        self.len() == HEADER_LEN
    }

    /// The message written so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.written().get(self.start..).unwrap_or(&[])
    }

    /// Writes `length` into the header's length field.
    #[inline]
    fn set_length(&mut self, length: usize) -> Result<(), Error> {
        let length = u16::try_from(length).map_err(|_| Error::MessageTooLong)?;
        let field = self.buf.written_mut().get_mut(self.start + 2..self.start + 4).ok_or(Error::BufferTooSmall)?;
        field.copy_from_slice(&length.to_be_bytes());
        Ok(())
    }

    /// Appends an attribute header, the value pieces `write` produces (exactly `len` bytes) and padding.
    #[inline]
    fn put_attribute(
        &mut self,
        typ: u16,
        len: usize,
        write: impl FnOnce(&mut B) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let before = self.buf.written().len();
        let result = self.try_put_attribute(typ, len, write);
        if result.is_err() {
            self.buf.truncate(before);
            // Restore the length of the message as it was.
            let _ = self.set_length(before - self.start - HEADER_LEN);
        }
        result
    }

    #[inline]
    fn try_put_attribute(
        &mut self,
        typ: u16,
        len: usize,
        write: impl FnOnce(&mut B) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let len16 = u16::try_from(len).map_err(|_| Error::ValueTooLong { typ })?;
        let body = self.len() - HEADER_LEN + 4 + pad4(len);
        if body > usize::from(u16::MAX) {
            return Err(Error::MessageTooLong);
        }
        let [t0, t1] = typ.to_be_bytes();
        let [l0, l1] = len16.to_be_bytes();
        self.buf.put(&[t0, t1, l0, l1])?;
        write(self.buf)?;
        let pad = pad4(len) - len;
        if pad > 0 {
            let padding = [self.padding; 3];
            self.buf.put(padding.get(..pad).unwrap_or_default())?;
        }
        self.set_length(body)
    }

    /// Appends `attribute`. MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT are copied as given (to re-encode a
    /// message); use [`MessageBuilder::message_integrity`] and [`MessageBuilder::fingerprint`] to compute
    /// them. On error nothing is written.
    pub fn add(&mut self, attribute: Attribute<'_>) -> Result<&mut Self, Error> {
        let typ = attribute.typ();
        let len = attribute.value_len();
        if len > attribute.max_len() {
            return Err(Error::ValueTooLong { typ });
        }
        if let Attribute::ErrorCode(e) = attribute {
            if !(300..=699).contains(&e.code) {
                return Err(Error::InvalidAttribute { typ });
            }
        }
        let id = self.id;
        self.put_attribute(typ, len, |buf| attribute.write_value(&id, |bytes| buf.put(bytes)))?;
        Ok(self)
    }

    /// Appends UNKNOWN-ATTRIBUTES listing `types`, e.g. straight from
    /// [`Message::unknown_comprehension_required`] for a 420 answer (RFC 8489 §6.3.1).
    pub fn unknown_attributes(&mut self, types: impl Iterator<Item = u16> + Clone) -> Result<&mut Self, Error> {
        let len = types.clone().count().saturating_mul(2);
        self.put_attribute(AttributeType::UNKNOWN_ATTRIBUTES, len, |buf| {
            for t in types {
                buf.put(&t.to_be_bytes())?;
            }
            Ok(())
        })?;
        Ok(self)
    }

    /// Appends an attribute of any type with a raw value.
    pub fn add_raw(&mut self, typ: u16, value: &[u8]) -> Result<&mut Self, Error> {
        self.put_attribute(typ, value.len(), |buf| buf.put(value))?;
        Ok(self)
    }

    /// Appends MESSAGE-INTEGRITY: HMAC-SHA1 with `key` over the message so far, the length field counting
    /// the attribute itself (RFC 8489 §14.5).
    pub fn message_integrity(&mut self, key: &Key) -> Result<&mut Self, Error> {
        let body = self.len() - HEADER_LEN + 24;
        self.set_length(body)?;
        let mac = key.sha1_over(&[self.as_bytes()]);
        self.put_attribute(AttributeType::MESSAGE_INTEGRITY, 20, |buf| buf.put(&mac))?;
        Ok(self)
    }

    /// Appends MESSAGE-INTEGRITY-SHA256 (full 32 bytes): HMAC-SHA256 with `key` over the message so far,
    /// the length field counting the attribute itself (RFC 8489 §14.6).
    pub fn message_integrity_sha256(&mut self, key: &Key) -> Result<&mut Self, Error> {
        let body = self.len() - HEADER_LEN + 36;
        self.set_length(body)?;
        let mac = key.sha256_over(&[self.as_bytes()]);
        self.put_attribute(AttributeType::MESSAGE_INTEGRITY_SHA256, 32, |buf| buf.put(&mac))?;
        Ok(self)
    }

    /// Appends FINGERPRINT: CRC-32 of the message so far, the length field counting the attribute, XOR
    /// 0x5354554e (RFC 8489 §14.7). Add it last.
    pub fn fingerprint(&mut self) -> Result<&mut Self, Error> {
        let body = self.len() - HEADER_LEN + 8;
        self.set_length(body)?;
        let crc = crc32fast::hash(self.as_bytes()) ^ FINGERPRINT_XOR;
        self.put_attribute(AttributeType::FINGERPRINT, 4, |buf| buf.put(&crc.to_be_bytes()))?;
        Ok(self)
    }

    /// Ends the message, returning its length in bytes (it is the last `len` bytes of the buffer).
    pub fn finish(self) -> usize {
        self.len()
    }
}
