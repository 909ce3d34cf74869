//! Media files a recorder or a file player needs: IVF (VP8, VP9, AV1), Ogg Opus (RFC 7845 over
//! RFC 3533 Ogg) and H.264 / H.265 Annex-B byte streams.
//!
//! Like the rest of the crate they do no I/O: readers take bytes (a whole file in a slice, or chunks
//! pushed as they arrive into a bounded buffer) and hand out frames, packets and access units borrowed
//! from their input; writers append to a caller-owned `Vec<u8>` that the caller writes wherever it likes.
//! With the `std` feature the chunked readers also `read_from` any `std::io::Read` into their buffer, and
//! [`IvfWriter::finish_io`] patches a file written through `std::io`.
//! Lying sizes, bad CRCs and truncated input give typed errors ([`IvfError`], [`OggError`],
//! [`AnnexBError`]), never a panic or an allocation the input asks for.
//!
//! - IVF: [`IvfReader`] (a slice), [`IvfStreamReader`] (chunks), [`IvfWriter`] (with the frame count
//!   patched in at the end).
//! - Ogg Opus: [`OggOpusWriter`] (`OpusHead` with the pre-skip, `OpusTags`, audio pages whose granule
//!   positions come from each packet's TOC), [`OggOpusReader`] (headers, then packets with their granule
//!   positions); underneath, the Ogg layer alone: [`PageWriter`], [`Page`], [`OggReader`] and the Ogg
//!   [`crc32`].
//! - Annex-B: [`nal_units`] and [`access_units`] over a slice, [`AnnexBReader`] over chunks.
//!
//! ```
//! use sansrtc::media_file::{access_units, NalCodec};
//!
//! // An access unit delimiter starts each access unit.
//! let stream = [0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x65, 0x88, 0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x41, 0x9a];
//! let units: Vec<_> = access_units(&stream, NalCodec::H264).collect();
//! assert_eq!(units.len(), 2);
//! assert!(units[0].is_random_access());
//! assert_eq!(units[1].nals().collect::<Vec<_>>(), [&[0x09, 0xf0][..], &[0x41, 0x9a][..]]);
//! ```

// File contents are input like any datagram: no indexing that could panic on them.
#![deny(clippy::indexing_slicing)]

mod annexb;
mod error;
mod ivf;
mod ogg;
mod opus;

#[cfg(test)]
mod tests;

/// Reads from `source` into the free tail of a reader's buffer (at most `room` bytes, 64 KiB at a time).
#[cfg(feature = "std")]
fn read_into<R: std::io::Read>(buf: &mut alloc::vec::Vec<u8>, room: usize, source: &mut R) -> std::io::Result<usize> {
    use std::io::{Error, ErrorKind};
    if room == 0 {
        return Err(Error::new(ErrorKind::InvalidInput, "reader buffer full: poll before reading more"));
    }
    let old = buf.len();
    buf.resize(old + room.min(64 * 1024), 0);
    let read = loop {
        match source.read(buf.get_mut(old..).unwrap_or_default()) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            other => break other,
        }
    };
    buf.truncate(old + *read.as_ref().unwrap_or(&0));
    read
}

pub use annexb::{
    AccessUnit, AccessUnits, AnnexBReader, DEFAULT_MAX_ACCESS_UNIT_LEN, NalCodec, NalUnits, access_units, nal_units,
};
pub use error::{AnnexBError, IvfError, OggError};
pub use ivf::{
    DEFAULT_MAX_FRAME_LEN, FRAME_HEADER_LEN as IVF_FRAME_HEADER_LEN, HEADER_LEN as IVF_HEADER_LEN, IvfFrame, IvfHeader,
    IvfReader, IvfStreamReader, IvfWriter, MAX_HEADER_LEN as IVF_MAX_HEADER_LEN,
};
pub use ogg::{
    DEFAULT_MAX_PACKET_LEN, FLAG_BOS, FLAG_CONTINUED, FLAG_EOS, MAX_PAGE_LEN, OggPacket, OggReader, Page, PageWriter,
    crc32, crc32_update,
};
pub use opus::{
    DEFAULT_MAX_PAGE_SAMPLES, DEFAULT_PRE_SKIP, OggOpusReader, OggOpusWriter, OpusHead, OpusPacket, OpusTags,
};
