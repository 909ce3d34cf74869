//! SCTP wire format (RFC 9260 §3): the common header, chunks and parameters as zero-copy views, and
//! writers that append to a caller-owned buffer.
//!
//! [`Packet::new_checked`] validates the header; [`Packet::chunks`] is a lazy iterator of [`RawChunk`]s,
//! each of which [`Chunk::parse`] turns into a typed view. Nothing here allocates.

#![deny(clippy::indexing_slicing)]

mod chunk;
mod emit;
mod param;

#[cfg(test)]
mod tests;

pub use chunk::{
    Chunk, ChunkType, DataChunk, DataFlags, ForwardTsnChunk, GapBlocks, InitChunk, SackChunk, StreamSsns, Tsns,
};
pub use emit::{
    DATA_HEADER_LEN, HEADER_LEN, InitFields, emit_chunk, emit_chunk_header, emit_data, emit_forward_tsn, emit_header,
    emit_init, emit_param, emit_reconfig_request, emit_reconfig_response, emit_sack, finish_packet,
};
pub use param::{
    Cause, CauseCode, Causes, Param, ParamType, Params, ReconfigParam, ReconfigResult, StreamList, ZERO_CHECKSUM_DTLS,
};

use super::error::WireError;

/// Byte ranges of the common header: source port 0..2, destination port 2..4, verification tag 4..8,
/// checksum 8..12 (the [`Packet`] accessors read them from the header array by position).
mod field {
    use core::ops::Range;
    pub(super) const CHECKSUM: Range<usize> = 8..12;
}

/// The big-endian `u16` at `at`, or [`WireError::Truncated`] when `b` ends before it.
#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> Result<u16, WireError> {
    match b.get(at..).and_then(<[u8]>::first_chunk) {
        Some(&x) => Ok(u16::from_be_bytes(x)),
        None => Err(WireError::Truncated),
    }
}

/// The big-endian `u32` at `at`, or [`WireError::Truncated`] when `b` ends before it.
#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> Result<u32, WireError> {
    match b.get(at..).and_then(<[u8]>::first_chunk) {
        Some(&x) => Ok(u32::from_be_bytes(x)),
        None => Err(WireError::Truncated),
    }
}

/// Rounds `n` up to a multiple of four (chunk and parameter padding).
pub(crate) const fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

/// A view of an SCTP packet: common header plus chunks.
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
    /// The common header, read once by [`Packet::new_checked`].
    header: [u8; HEADER_LEN],
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer`, checking it holds at least the common header. Chunks are checked as they are iterated.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let &header = buffer.as_ref().first_chunk::<HEADER_LEN>().ok_or(WireError::TooShort)?;
        Ok(Packet { buffer, header })
    }

    /// Source port.
    pub fn source_port(&self) -> u16 {
        let [a, b, ..] = self.header;
        u16::from_be_bytes([a, b])
    }

    /// Destination port.
    pub fn destination_port(&self) -> u16 {
        let [_, _, a, b, ..] = self.header;
        u16::from_be_bytes([a, b])
    }

    /// Verification tag.
    pub fn verification_tag(&self) -> u32 {
        let [_, _, _, _, a, b, c, d, ..] = self.header;
        u32::from_be_bytes([a, b, c, d])
    }

    /// The checksum field as sent (CRC32c, little-endian on the wire, RFC 9260 Appendix A).
    pub fn checksum(&self) -> u32 {
        let [.., a, b, c, d] = self.header;
        u32::from_le_bytes([a, b, c, d])
    }

    /// Whether the checksum field matches the packet's CRC32c.
    pub fn checksum_ok(&self) -> bool {
        compute_checksum(self.buffer.as_ref()) == self.checksum()
    }

    /// The chunks, lazily decoded.
    pub fn chunks(&self) -> Chunks<'_> {
        Chunks { rest: self.buffer.as_ref().get(HEADER_LEN..).unwrap_or(&[]) }
    }

    /// The whole packet.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// CRC32c (Castagnoli) of `packet` with its checksum field taken as zero (RFC 9260 Appendix A).
///
/// With the `std` feature this uses the `crc32c` crate (the CPU's CRC32 instructions, detected at run
/// time); without it, the `crc` crate's slice-by-16 table (pure safe Rust, `no_std`).
pub fn compute_checksum(packet: &[u8]) -> u32 {
    let head = packet.get(..field::CHECKSUM.start).unwrap_or(packet);
    let tail = packet.get(field::CHECKSUM.end..).unwrap_or(&[]);
    crc32c(&[head, &[0; 4], tail])
}

/// CRC32c of the concatenation of `parts`.
pub(crate) fn crc32c(parts: &[&[u8]]) -> u32 {
    #[cfg(feature = "std")]
    {
        parts.iter().fold(0, |crc, p| crc32c::crc32c_append(crc, p))
    }
    #[cfg(not(feature = "std"))]
    {
        crc32c_portable(parts)
    }
}

/// CRC32c through the portable slice-by-16 table.
#[cfg_attr(feature = "std", allow(dead_code))]
pub(crate) fn crc32c_portable(parts: &[&[u8]]) -> u32 {
    const CRC: crc::Crc<u32, crc::Table<16>> = crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);
    let mut digest = CRC.digest();
    for p in parts {
        digest.update(p);
    }
    digest.finalize()
}

/// One chunk as found on the wire: type, flags and value (the bytes after the 4-byte chunk header, up to the
/// chunk length, padding excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawChunk<'a> {
    /// Chunk type.
    pub kind: ChunkType,
    /// Chunk flags.
    pub flags: u8,
    /// Chunk value.
    pub value: &'a [u8],
}

/// Lazy iterator over the chunks of a packet. Stops after the first malformed chunk (yielded as an error).
#[derive(Clone, Debug)]
pub struct Chunks<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Chunks<'a> {
    type Item = Result<RawChunk<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let rest = self.rest;
        let Some((&[kind, flags, l0, l1], _)) = rest.split_first_chunk::<4>() else {
            self.rest = &[];
            return Some(Err(WireError::BadLength));
        };
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let Some(value) = rest.get(4..len) else {
            self.rest = &[];
            return Some(Err(WireError::BadLength));
        };
        // The final chunk's padding may be missing; tolerate that.
        self.rest = rest.get(pad4(len)..).unwrap_or(&[]);
        Some(Ok(RawChunk { kind: ChunkType(kind), flags, value }))
    }
}
