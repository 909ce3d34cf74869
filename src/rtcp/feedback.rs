//! Feedback messages: Generic NACK (RFC 4585 §6.2.1), PLI (RFC 4585 §6.3.1), FIR (RFC 5104 §4.3.1),
//! REMB (draft-alvestrand-rmcat-remb) and extended reports RRTR/DLRR (RFC 3611 §4.4, §4.5).

use super::Error;
use super::read::{u8_at, u16_at, u24_at, u32_at, u64_at};

/// Feedback message types (FMT) of RTPFB (PT 205).
pub mod rtpfb {
    /// Generic NACK (RFC 4585).
    pub const NACK: u8 = 1;
    /// Transport-wide congestion control feedback.
    pub const TRANSPORT_CC: u8 = 15;
}

/// Feedback message types (FMT) of PSFB (PT 206).
pub mod psfb {
    /// Picture loss indication (RFC 4585).
    pub const PLI: u8 = 1;
    /// Full intra request (RFC 5104).
    pub const FIR: u8 = 4;
    /// Application layer feedback; REMB when the FCI starts with "REMB".
    pub const AFB: u8 = 15;
}

/// The two SSRCs every feedback message starts with.
pub(crate) fn ssrcs(body: &[u8], packet_type: u8) -> Result<(u32, u32, &[u8]), Error> {
    let bad = Error::BadLength { packet_type };
    Ok((u32_at(body, 0).ok_or(bad)?, u32_at(body, 4).ok_or(bad)?, body.get(8..).ok_or(bad)?))
}

/// One NACK FCI entry: a lost packet ID and a bitmask of the 16 following ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NackPair {
    /// Packet ID (sequence number) lost.
    pub pid: u16,
    /// Bit i set: `pid + i + 1` lost too.
    pub blp: u16,
}

impl NackPair {
    /// The sequence numbers this entry reports lost.
    pub fn lost(self) -> impl Iterator<Item = u16> {
        core::iter::once(self.pid)
            .chain((0..16).filter(move |i| self.blp & (1 << i) != 0).map(move |i| self.pid.wrapping_add(i + 1)))
    }
}

/// Generic NACK (RTPFB FMT 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nack<'a> {
    /// SSRC of the packet sender.
    pub sender_ssrc: u32,
    /// SSRC of the media source.
    pub media_ssrc: u32,
    fci: &'a [u8],
}

impl<'a> Nack<'a> {
    pub(crate) fn parse(body: &'a [u8]) -> Result<Self, Error> {
        let (sender_ssrc, media_ssrc, fci) = ssrcs(body, super::packet_type::RTPFB)?;
        if fci.is_empty() || fci.len() % 4 != 0 {
            return Err(Error::BadLength { packet_type: super::packet_type::RTPFB });
        }
        Ok(Self { sender_ssrc, media_ssrc, fci })
    }

    /// The FCI entries.
    pub fn pairs(&self) -> impl Iterator<Item = NackPair> + 'a {
        self.fci.chunks_exact(4).filter_map(|c| Some(NackPair { pid: u16_at(c, 0)?, blp: u16_at(c, 2)? }))
    }

    /// Every sequence number reported lost.
    pub fn lost(&self) -> impl Iterator<Item = u16> + 'a {
        self.pairs().flat_map(NackPair::lost)
    }
}

/// Picture loss indication (PSFB FMT 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pli {
    /// SSRC of the packet sender.
    pub sender_ssrc: u32,
    /// SSRC of the media source.
    pub media_ssrc: u32,
}

/// One FIR FCI entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FirEntry {
    /// SSRC of the media sender asked for a key frame.
    pub ssrc: u32,
    /// Command sequence number.
    pub sequence: u8,
}

/// Full intra request (PSFB FMT 4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fir<'a> {
    /// SSRC of the packet sender.
    pub sender_ssrc: u32,
    /// SSRC of the media source (0 per RFC 5104).
    pub media_ssrc: u32,
    fci: &'a [u8],
}

impl<'a> Fir<'a> {
    pub(crate) fn parse(body: &'a [u8]) -> Result<Self, Error> {
        let (sender_ssrc, media_ssrc, fci) = ssrcs(body, super::packet_type::PSFB)?;
        if fci.is_empty() || fci.len() % 8 != 0 {
            return Err(Error::BadLength { packet_type: super::packet_type::PSFB });
        }
        Ok(Self { sender_ssrc, media_ssrc, fci })
    }

    /// The FCI entries.
    pub fn entries(&self) -> impl Iterator<Item = FirEntry> + 'a {
        self.fci.chunks_exact(8).filter_map(|c| Some(FirEntry { ssrc: u32_at(c, 0)?, sequence: u8_at(c, 4)? }))
    }
}

/// Receiver estimated maximum bitrate (PSFB FMT 15, "REMB").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remb<'a> {
    /// SSRC of the packet sender.
    pub sender_ssrc: u32,
    /// SSRC of the media source (0 by the draft).
    pub media_ssrc: u32,
    /// Estimated bitrate in bits per second (mantissa << exponent, saturating).
    pub bitrate: u64,
    ssrcs: &'a [u8],
}

/// The REMB identifier.
pub const REMB_ID: [u8; 4] = *b"REMB";

impl<'a> Remb<'a> {
    /// Parses the body if its FCI is a REMB; `Ok(None)` for another application-layer feedback.
    pub(crate) fn parse(body: &'a [u8]) -> Result<Option<Self>, Error> {
        let (sender_ssrc, media_ssrc, fci) = ssrcs(body, super::packet_type::PSFB)?;
        if fci.get(..4) != Some(&REMB_ID[..]) {
            return Ok(None);
        }
        let bad = Error::BadLength { packet_type: super::packet_type::PSFB };
        let n = usize::from(u8_at(fci, 4).ok_or(bad)?);
        let v = u24_at(fci, 5).ok_or(bad)?;
        let (exp, mantissa) = (v >> 18, u64::from(v & 0x3ffff));
        let bitrate = u64::try_from(u128::from(mantissa) << exp).unwrap_or(u64::MAX);
        let ssrcs = fci.get(8..8 + 4 * n).ok_or(bad)?;
        Ok(Some(Self { sender_ssrc, media_ssrc, bitrate, ssrcs }))
    }

    /// The SSRCs the estimate applies to.
    pub fn ssrcs(&self) -> impl Iterator<Item = u32> + 'a {
        self.ssrcs.chunks_exact(4).filter_map(|c| u32_at(c, 0))
    }

    /// Splits a bitrate into (exponent, 18-bit mantissa), rounding down as libwebrtc does.
    pub fn encode_bitrate(bitrate: u64) -> (u8, u32) {
        let mut exp = 0u8;
        while bitrate >> exp > 0x3ffff {
            exp += 1;
        }
        (exp, (bitrate >> exp) as u32)
    }
}

/// XR block types (RFC 3611 §4).
pub mod xr_block {
    /// Receiver reference time report.
    pub const RRTR: u8 = 4;
    /// DLRR report.
    pub const DLRR: u8 = 5;
}

/// One DLRR sub-block (RFC 3611 §4.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DlrrItem {
    /// SSRC of the receiver.
    pub ssrc: u32,
    /// Middle 32 bits of the NTP timestamp of its last RRTR (LRR).
    pub last_rr: u32,
    /// Delay since that RRTR, 1/65536 s (DLRR).
    pub delay_since_last_rr: u32,
}

/// An XR report block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XrBlock<'a> {
    /// Receiver reference time (BT 4).
    Rrtr {
        /// NTP timestamp.
        ntp_timestamp: u64,
    },
    /// Delay since last receiver report (BT 5).
    Dlrr(DlrrItems<'a>),
    /// Any other block, kept raw.
    Unknown {
        /// Block type.
        block_type: u8,
        /// Type-specific octet.
        type_specific: u8,
        /// Block contents after the 4-octet block header.
        data: &'a [u8],
    },
}

/// Lazy iterator over DLRR sub-blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DlrrItems<'a> {
    data: &'a [u8],
}

impl Iterator for DlrrItems<'_> {
    type Item = DlrrItem;

    fn next(&mut self) -> Option<DlrrItem> {
        let d = self.data;
        let item = DlrrItem { ssrc: u32_at(d, 0)?, last_rr: u32_at(d, 4)?, delay_since_last_rr: u32_at(d, 8)? };
        self.data = d.get(12..).unwrap_or_default();
        Some(item)
    }
}

/// An extended report (PT 207).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtendedReport<'a> {
    /// SSRC of the packet sender.
    pub ssrc: u32,
    blocks: &'a [u8],
}

fn xr_block(data: &[u8]) -> Option<(XrBlock<'_>, &[u8])> {
    let block_type = u8_at(data, 0)?;
    let type_specific = u8_at(data, 1)?;
    let len = 4 * usize::from(u16_at(data, 2)?);
    let body = data.get(4..4 + len)?;
    let rest = data.get(4 + len..)?;
    let block = match block_type {
        xr_block::RRTR if len == 8 => XrBlock::Rrtr { ntp_timestamp: u64_at(body, 0)? },
        xr_block::DLRR if len % 12 == 0 => XrBlock::Dlrr(DlrrItems { data: body }),
        _ => XrBlock::Unknown { block_type, type_specific, data: body },
    };
    Some((block, rest))
}

impl<'a> ExtendedReport<'a> {
    pub(crate) fn parse(body: &'a [u8]) -> Result<Self, Error> {
        let ssrc = u32_at(body, 0).ok_or(Error::BadLength { packet_type: super::packet_type::XR })?;
        let blocks = body.get(4..).unwrap_or_default();
        let mut rest = blocks;
        while !rest.is_empty() {
            rest = xr_block(rest).ok_or(Error::BadItem)?.1;
        }
        Ok(Self { ssrc, blocks })
    }

    /// The report blocks.
    pub fn blocks(&self) -> impl Iterator<Item = XrBlock<'a>> + 'a {
        let mut rest = self.blocks;
        core::iter::from_fn(move || {
            let (block, next) = xr_block(rest)?;
            rest = next;
            Some(block)
        })
    }
}
