//! Errors of the media file readers and writers.

use core::fmt;

/// Why IVF bytes could not be read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IvfError {
    /// The file does not start with the `DKIF` signature.
    BadSignature,
    /// A version other than 0.
    BadVersion(u16),
    /// The header size field is below 32 or above [`super::IVF_MAX_HEADER_LEN`].
    BadHeaderSize(u16),
    /// The input ends inside the file header, a frame header or a frame (`needed` bytes were announced
    /// from `offset` on).
    Truncated {
        /// Offset of the header or frame that runs past the end.
        offset: u64,
        /// Bytes that header or frame needs from `offset` on.
        needed: u64,
    },
    /// A frame header announces more than the reader's bound (`max_frame_len`).
    FrameTooLarge {
        /// Offset of the frame header.
        offset: u64,
        /// The size the header announces.
        len: u32,
    },
    /// The writer was given a frame of 4 GiB or more, or a 2^32nd frame.
    Unrepresentable,
    /// The buffer handed to [`super::IvfWriter::finish`] is not the file the writer started.
    NotThisFile,
}

impl fmt::Display for IvfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IvfError::BadSignature => f.write_str("not an IVF file (no DKIF signature)"),
            IvfError::BadVersion(v) => write!(f, "IVF version {v}, expected 0"),
            IvfError::BadHeaderSize(n) => write!(f, "IVF header size {n} out of range"),
            IvfError::Truncated { offset, needed } => {
                write!(f, "IVF truncated: {needed} bytes needed at offset {offset}")
            }
            IvfError::FrameTooLarge { offset, len } => {
                write!(f, "IVF frame of {len} bytes at offset {offset} exceeds the bound")
            }
            IvfError::Unrepresentable => f.write_str("frame or frame count not representable in IVF"),
            IvfError::NotThisFile => f.write_str("buffer does not start with this writer's IVF header"),
        }
    }
}

impl core::error::Error for IvfError {}

/// Why Ogg (RFC 3533) or Ogg Opus (RFC 7845) bytes could not be read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OggError {
    /// Bytes that are not a page start where one was expected (`skipped` bytes were passed over to the next
    /// `OggS` capture pattern).
    BadCapture {
        /// Bytes skipped to resynchronise.
        skipped: u64,
    },
    /// A page of a stream structure version other than 0.
    BadVersion(u8),
    /// A page whose CRC does not match its contents (the page is dropped).
    BadCrc {
        /// The page's sequence number as written (not trusted).
        sequence: u32,
    },
    /// The input ended inside a page (`needed` more bytes were announced).
    TruncatedPage {
        /// Bytes missing to complete the page.
        needed: u64,
    },
    /// A page sequence number skipped ahead: pages were lost, and with them any packet spanning the gap.
    PageGap {
        /// The number that was due.
        expected: u32,
        /// The number that came.
        got: u32,
    },
    /// A packet continued from a page that never came, or a page that started afresh while a packet was
    /// still open: the partial packet is dropped.
    BrokenContinuation,
    /// A packet spanning pages grew past the reader's bound (`max_packet_len`); it is dropped.
    PacketTooLarge {
        /// The bound.
        max: u32,
    },
    /// The first packet is not a valid `OpusHead` (RFC 7845 §5.1).
    BadOpusHead,
    /// The second packet is not a valid `OpusTags` (RFC 7845 §5.2).
    BadOpusTags,
    /// An Opus packet whose TOC (RFC 6716 §3.1) is missing or malformed (empty packet, code 3 without a
    /// frame count, zero frames, more than 120 ms).
    BadOpusPacket,
    /// The writer was given something the format cannot carry (a channel count of 0, more than two
    /// channels with mapping family 0, a mapping table of the wrong length, a granule position past
    /// 2^63 - 1).
    Unrepresentable,
}

impl fmt::Display for OggError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OggError::BadCapture { skipped } => write!(f, "no Ogg capture pattern: skipped {skipped} bytes"),
            OggError::BadVersion(v) => write!(f, "Ogg stream structure version {v}, expected 0"),
            OggError::BadCrc { sequence } => write!(f, "Ogg page {sequence} has a bad CRC"),
            OggError::TruncatedPage { needed } => write!(f, "Ogg page truncated: {needed} more bytes announced"),
            OggError::PageGap { expected, got } => write!(f, "Ogg page {got} came where {expected} was due"),
            OggError::BrokenContinuation => f.write_str("Ogg packet continuation broken"),
            OggError::PacketTooLarge { max } => write!(f, "Ogg packet longer than {max} bytes"),
            OggError::BadOpusHead => f.write_str("bad OpusHead packet"),
            OggError::BadOpusTags => f.write_str("bad OpusTags packet"),
            OggError::BadOpusPacket => f.write_str("bad Opus packet TOC"),
            OggError::Unrepresentable => f.write_str("not representable in Ogg Opus"),
        }
    }
}

impl core::error::Error for OggError {}

/// Why an H.264 / H.265 Annex-B stream could not be split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AnnexBError {
    /// An access unit grew past the reader's bound (`max_access_unit_len`); its bytes were dropped and the
    /// reader waits for the next access unit boundary.
    AccessUnitTooLarge {
        /// The bound.
        max: u32,
    },
    /// Bytes before the first `00 00 01` (not Annex-B, or the stream was joined mid-NAL); they are dropped.
    NoStartCode {
        /// Bytes dropped.
        skipped: u64,
    },
}

impl fmt::Display for AnnexBError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnnexBError::AccessUnitTooLarge { max } => write!(f, "access unit longer than {max} bytes"),
            AnnexBError::NoStartCode { skipped } => write!(f, "{skipped} bytes before the first start code"),
        }
    }
}

impl core::error::Error for AnnexBError {}
