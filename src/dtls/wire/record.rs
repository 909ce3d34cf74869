//! The DTLS 1.2 record layer (RFC 6347 §4.1): a 13-byte header with epoch and 48-bit sequence number;
//! several records may share one datagram.

use alloc::vec::Vec;

use super::{ContentType, DTLS1_0, DTLS1_2, Reader, put_u16, put_u48};
use crate::dtls::error::Error;

/// Length of the DTLS record header.
pub const HEADER_LEN: usize = 13;

/// Largest record payload we accept: 2^14 plaintext plus the AEAD expansion allowance (RFC 5246 §6.2.3).
pub const MAX_FRAGMENT: usize = (1 << 14) + 2048;

/// A view of one record: header plus fragment, length-checked.
///
/// The header is type (octet 0), version (1..3), epoch (3..5), 48-bit sequence number (5..11) and fragment
/// length (11..13); the accessors read it from the header array by position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    header: &'a [u8; HEADER_LEN],
    fragment: &'a [u8],
    buf: &'a [u8],
}

impl<'a> Record<'a> {
    /// Parses the record at the start of `buf`, returning it and the bytes after it. Checks the header
    /// length, the declared fragment length and the version (DTLS 1.0 or 1.2).
    pub fn parse_prefix(buf: &'a [u8]) -> Result<(Record<'a>, &'a [u8]), Error> {
        let mut r = Reader::new(buf);
        let header = r.take_array::<HEADER_LEN>()?;
        let &[.., l0, l1] = header;
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        if len > MAX_FRAGMENT {
            return Err(Error::Malformed);
        }
        let fragment = r.take(len)?;
        let (rec, rest) = buf.split_at_checked(HEADER_LEN + len).ok_or(Error::Truncated)?;
        let record = Record { header, fragment, buf: rec };
        let v = record.version();
        if v != DTLS1_2 && v != DTLS1_0 {
            return Err(Error::UnsupportedVersion(v));
        }
        Ok((record, rest))
    }

    /// The content type.
    pub fn content_type(&self) -> ContentType {
        let &[ty, ..] = self.header;
        ContentType(ty)
    }
    /// The record version.
    pub fn version(&self) -> u16 {
        let &[_, a, b, ..] = self.header;
        u16::from_be_bytes([a, b])
    }
    /// The epoch.
    pub fn epoch(&self) -> u16 {
        let &[_, _, _, a, b, ..] = self.header;
        u16::from_be_bytes([a, b])
    }
    /// The 48-bit sequence number.
    pub fn sequence(&self) -> u64 {
        let &[_, _, _, _, _, a, b, c, d, e, f, ..] = self.header;
        u64::from_be_bytes([0, 0, a, b, c, d, e, f])
    }
    /// The fragment (plaintext or protected).
    pub fn fragment(&self) -> &'a [u8] {
        self.fragment
    }
    /// The whole record, header included.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }
}

/// A lazy iterator over the records of one datagram. Yields an error once and stops at the first
/// malformed record (the rest of the datagram is dropped, RFC 6347 §4.1.2.7).
#[derive(Clone, Debug)]
pub struct RecordIter<'a> {
    rest: &'a [u8],
}

impl<'a> RecordIter<'a> {
    /// An iterator over the records packed in `datagram`.
    pub fn new(datagram: &'a [u8]) -> Self {
        RecordIter { rest: datagram }
    }
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = Result<Record<'a>, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match Record::parse_prefix(self.rest) {
            Ok((rec, rest)) => {
                self.rest = rest;
                Some(Ok(rec))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// Appends a record header.
pub fn write_header(out: &mut Vec<u8>, ty: ContentType, version: u16, epoch: u16, seq: u64, len: u16) {
    out.push(ty.0);
    put_u16(out, version);
    put_u16(out, epoch);
    put_u48(out, seq);
    put_u16(out, len);
}

/// The AEAD additional data of RFC 5246 §6.2.3.3 with DTLS's epoch (RFC 6347 §4.1.2.1): epoch ‖ seq ‖
/// type ‖ version ‖ plaintext length.
pub fn additional_data(epoch: u16, seq: u64, ty: ContentType, version: u16, len: u16) -> [u8; 13] {
    let mut ad = [0u8; 13];
    ad[0..2].copy_from_slice(&epoch.to_be_bytes());
    ad[2..8].copy_from_slice(&seq.to_be_bytes()[2..]);
    ad[8] = ty.0;
    ad[9..11].copy_from_slice(&version.to_be_bytes());
    ad[11..13].copy_from_slice(&len.to_be_bytes());
    ad
}
