//! The few DER pieces DTLS needs: TLV reading and writing, ECDSA signature encoding (RFC 5480 §2.2/§3).

use alloc::vec::Vec;

use super::error::Error;

/// DER tags used here.
pub(crate) mod tag {
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const OID: u8 = 0x06;
    pub const UTF8_STRING: u8 = 0x0c;
    pub const UTC_TIME: u8 = 0x17;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
    pub const CONTEXT_0: u8 = 0xa0;
    pub const CONTEXT_1: u8 = 0xa1;
}

/// A DER TLV reader (definite lengths up to 4 length bytes; never panics).
#[derive(Clone, Debug)]
pub(crate) struct DerReader<'a> {
    buf: &'a [u8],
}

impl<'a> DerReader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        DerReader { buf }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The next element's tag, without consuming it.
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.buf.first().copied()
    }

    /// Reads one element: `(tag, contents, whole encoding)`.
    pub(crate) fn any(&mut self) -> Result<(u8, &'a [u8], &'a [u8]), Error> {
        let start = self.buf;
        let (&t, rest) = self.buf.split_first().ok_or(Error::Truncated)?;
        let (&l0, mut rest) = rest.split_first().ok_or(Error::Truncated)?;
        let len = if l0 < 0x80 {
            usize::from(l0)
        } else {
            let n = usize::from(l0 & 0x7f);
            if n == 0 || n > 4 {
                return Err(Error::Malformed);
            }
            let (lb, r) = rest.split_at_checked(n).ok_or(Error::Truncated)?;
            rest = r;
            lb.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b))
        };
        let (contents, after) = rest.split_at_checked(len).ok_or(Error::Truncated)?;
        let whole_len = start.len() - after.len();
        self.buf = after;
        Ok((t, contents, start.get(..whole_len).unwrap_or(&[])))
    }

    /// Reads one element that must have tag `t`; returns its contents.
    pub(crate) fn expect(&mut self, t: u8) -> Result<&'a [u8], Error> {
        let (got, c, _) = self.any()?;
        if got != t {
            return Err(Error::Malformed);
        }
        Ok(c)
    }
}

/// Appends a DER length.
fn put_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
}

/// Appends a TLV.
pub(crate) fn put(out: &mut Vec<u8>, t: u8, contents: &[u8]) {
    out.push(t);
    put_len(out, contents.len());
    out.extend_from_slice(contents);
}

/// Appends a positive INTEGER from big-endian unsigned bytes (minimal encoding).
pub(crate) fn put_uint(out: &mut Vec<u8>, be: &[u8]) {
    let first = be.iter().position(|b| *b != 0).unwrap_or(be.len().saturating_sub(1));
    let trimmed = be.get(first..).unwrap_or(&[0]);
    let pad = trimmed.first().is_some_and(|b| b & 0x80 != 0);
    out.push(tag::INTEGER);
    put_len(out, trimmed.len() + usize::from(pad));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(trimmed);
}

/// DER-encodes an ECDSA signature `r ‖ s` (32 bytes each) as `SEQUENCE { INTEGER r, INTEGER s }`.
pub(crate) fn encode_ecdsa_sig(rs: &[u8]) -> Vec<u8> {
    let (r, s) = rs.split_at(rs.len() / 2);
    let mut inner = Vec::with_capacity(72);
    put_uint(&mut inner, r);
    put_uint(&mut inner, s);
    let mut out = Vec::with_capacity(inner.len() + 2);
    put(&mut out, tag::SEQUENCE, &inner);
    out
}

/// Decodes a DER ECDSA signature into `r ‖ s` (32 bytes each).
pub(crate) fn decode_ecdsa_sig(der: &[u8]) -> Result<[u8; 64], Error> {
    let mut outer = DerReader::new(der);
    let seq = outer.expect(tag::SEQUENCE)?;
    if !outer.is_empty() {
        return Err(Error::Malformed);
    }
    let mut r = DerReader::new(seq);
    let mut out = [0u8; 64];
    for half in 0..2 {
        let int = r.expect(tag::INTEGER)?;
        let first = int.iter().position(|b| *b != 0).unwrap_or(int.len());
        let v = int.get(first..).unwrap_or(&[]);
        if v.len() > 32 {
            return Err(Error::Malformed);
        }
        let start = half * 32 + 32 - v.len();
        out.get_mut(start..half * 32 + 32).ok_or(Error::Malformed)?.copy_from_slice(v);
    }
    if !r.is_empty() {
        return Err(Error::Malformed);
    }
    Ok(out)
}
