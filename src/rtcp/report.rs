//! Sender and receiver reports, SDES, BYE and APP (RFC 3550 §6.4–§6.7).

use super::Error;
use super::read::{i24, u8_at, u32_at, u64_at};

/// Length of a report block.
pub const REPORT_BLOCK_LEN: usize = 24;
/// Length of the sender info of an SR.
pub const SENDER_INFO_LEN: usize = 20;

/// Sender information of an SR (RFC 3550 §6.4.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SenderInfo {
    /// NTP timestamp (64 bits, seconds since 1900 in 32.32 fixed point), supplied by the caller's clock.
    pub ntp_timestamp: u64,
    /// RTP timestamp corresponding to the NTP timestamp.
    pub rtp_timestamp: u32,
    /// Packets sent.
    pub packet_count: u32,
    /// Payload octets sent.
    pub octet_count: u32,
}

/// A reception report block (RFC 3550 §6.4.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the last report, as a fixed-point fraction of 256.
    pub fraction_lost: u8,
    /// Cumulative number of packets lost (24-bit signed).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_sequence: u32,
    /// Interarrival jitter, in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received (LSR).
    pub last_sr: u32,
    /// Delay since that SR, in units of 1/65536 s (DLSR).
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    fn read(b: &[u8]) -> Option<Self> {
        Some(Self {
            ssrc: u32_at(b, 0)?,
            fraction_lost: u8_at(b, 4)?,
            cumulative_lost: i24(u32_at(b, 4)? & 0x00ff_ffff),
            highest_sequence: u32_at(b, 8)?,
            jitter: u32_at(b, 12)?,
            last_sr: u32_at(b, 16)?,
            delay_since_last_sr: u32_at(b, 20)?,
        })
    }

    pub(crate) fn write(&self, out: &mut alloc::vec::Vec<u8>) {
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.push(self.fraction_lost);
        out.extend_from_slice(&(self.cumulative_lost as u32).to_be_bytes()[1..]);
        out.extend_from_slice(&self.highest_sequence.to_be_bytes());
        out.extend_from_slice(&self.jitter.to_be_bytes());
        out.extend_from_slice(&self.last_sr.to_be_bytes());
        out.extend_from_slice(&self.delay_since_last_sr.to_be_bytes());
    }
}

/// Lazy iterator over report blocks (lengths validated when the packet was parsed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportBlocks<'a> {
    data: &'a [u8],
}

impl Iterator for ReportBlocks<'_> {
    type Item = ReportBlock;

    fn next(&mut self) -> Option<ReportBlock> {
        let block = ReportBlock::read(self.data.get(..REPORT_BLOCK_LEN)?)?;
        self.data = self.data.get(REPORT_BLOCK_LEN..).unwrap_or_default();
        Some(block)
    }
}

fn reports(body: &[u8], at: usize, count: u8, packet_type: u8) -> Result<(ReportBlocks<'_>, &[u8]), Error> {
    let end = at + REPORT_BLOCK_LEN * usize::from(count);
    let data = body.get(at..end).ok_or(Error::BadLength { packet_type })?;
    Ok((ReportBlocks { data }, body.get(end..).unwrap_or_default()))
}

/// A sender report (PT 200).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderReport<'a> {
    /// SSRC of the sender.
    pub ssrc: u32,
    /// Sender information.
    pub info: SenderInfo,
    /// Reception report blocks.
    pub reports: ReportBlocks<'a>,
    /// Profile-specific extension octets after the report blocks.
    pub extension: &'a [u8],
}

impl<'a> SenderReport<'a> {
    pub(crate) fn parse(count: u8, body: &'a [u8]) -> Result<Self, Error> {
        let bad = Error::BadLength { packet_type: super::packet_type::SR };
        let info = SenderInfo {
            ntp_timestamp: u64_at(body, 4).ok_or(bad)?,
            rtp_timestamp: u32_at(body, 12).ok_or(bad)?,
            packet_count: u32_at(body, 16).ok_or(bad)?,
            octet_count: u32_at(body, 20).ok_or(bad)?,
        };
        let (reports, extension) = reports(body, 4 + SENDER_INFO_LEN, count, super::packet_type::SR)?;
        Ok(Self { ssrc: u32_at(body, 0).ok_or(bad)?, info, reports, extension })
    }
}

/// A receiver report (PT 201).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    /// SSRC of the receiver.
    pub ssrc: u32,
    /// Reception report blocks.
    pub reports: ReportBlocks<'a>,
    /// Profile-specific extension octets after the report blocks.
    pub extension: &'a [u8],
}

impl<'a> ReceiverReport<'a> {
    pub(crate) fn parse(count: u8, body: &'a [u8]) -> Result<Self, Error> {
        let ssrc = u32_at(body, 0).ok_or(Error::BadLength { packet_type: super::packet_type::RR })?;
        let (reports, extension) = reports(body, 4, count, super::packet_type::RR)?;
        Ok(Self { ssrc, reports, extension })
    }
}

/// An SDES item type (RFC 3550 §6.5). Open: unknown types are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SdesType {
    /// CNAME (1).
    Cname,
    /// NAME (2).
    Name,
    /// EMAIL (3).
    Email,
    /// PHONE (4).
    Phone,
    /// LOC (5).
    Location,
    /// TOOL (6).
    Tool,
    /// NOTE (7).
    Note,
    /// PRIV (8).
    Private,
    /// Any other type.
    Unknown(u8),
}

impl From<u8> for SdesType {
    fn from(v: u8) -> Self {
        match v {
            1 => SdesType::Cname,
            2 => SdesType::Name,
            3 => SdesType::Email,
            4 => SdesType::Phone,
            5 => SdesType::Location,
            6 => SdesType::Tool,
            7 => SdesType::Note,
            8 => SdesType::Private,
            v => SdesType::Unknown(v),
        }
    }
}

impl From<SdesType> for u8 {
    fn from(t: SdesType) -> u8 {
        match t {
            SdesType::Cname => 1,
            SdesType::Name => 2,
            SdesType::Email => 3,
            SdesType::Phone => 4,
            SdesType::Location => 5,
            SdesType::Tool => 6,
            SdesType::Note => 7,
            SdesType::Private => 8,
            SdesType::Unknown(v) => v,
        }
    }
}

/// One SDES item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SdesItem<'a> {
    /// Item type.
    pub kind: SdesType,
    /// Item text (UTF-8 by the RFC, not checked).
    pub value: &'a [u8],
}

/// The items of one SDES chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdesItems<'a> {
    data: &'a [u8],
}

impl<'a> Iterator for SdesItems<'a> {
    type Item = SdesItem<'a>;

    fn next(&mut self) -> Option<SdesItem<'a>> {
        let kind = *self.data.first()?;
        if kind == 0 {
            return None;
        }
        let len = usize::from(*self.data.get(1)?);
        let value = self.data.get(2..2 + len)?;
        self.data = self.data.get(2 + len..).unwrap_or_default();
        Some(SdesItem { kind: SdesType::from(kind), value })
    }
}

/// One SDES chunk: an SSRC and its items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    /// SSRC or CSRC described.
    pub ssrc: u32,
    /// Its items.
    pub items: SdesItems<'a>,
}

/// Scans one chunk at `at`; returns its items' slice and the offset of the next chunk.
fn sdes_chunk(body: &[u8], at: usize) -> Option<(u32, &[u8], usize)> {
    let ssrc = u32_at(body, at)?;
    let start = at + 4;
    let mut pos = start;
    loop {
        let kind = *body.get(pos)?;
        if kind == 0 {
            // The list ends with a null octet, then nulls up to the next 32-bit boundary.
            let next = (pos + 1).div_ceil(4) * 4;
            if next > body.len() {
                return None;
            }
            return Some((ssrc, body.get(start..pos)?, next));
        }
        pos += 2 + usize::from(*body.get(pos + 1)?);
    }
}

/// A source description packet (PT 202).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sdes<'a> {
    count: u8,
    body: &'a [u8],
}

impl<'a> Sdes<'a> {
    pub(crate) fn parse(count: u8, body: &'a [u8]) -> Result<Self, Error> {
        let mut at = 0;
        for _ in 0..count {
            at = sdes_chunk(body, at).ok_or(Error::BadItem)?.2;
        }
        Ok(Self { count, body })
    }

    /// The chunks.
    pub fn chunks(&self) -> impl Iterator<Item = SdesChunk<'a>> + 'a {
        let body = self.body;
        let mut at = 0;
        (0..self.count).map_while(move |_| {
            let (ssrc, items, next) = sdes_chunk(body, at)?;
            at = next;
            Some(SdesChunk { ssrc, items: SdesItems { data: items } })
        })
    }

    /// The CNAME of the first chunk, the usual content of a WebRTC SDES.
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.chunks().flat_map(|c| c.items).find(|i| i.kind == SdesType::Cname).map(|i| i.value)
    }
}

/// A goodbye packet (PT 203).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bye<'a> {
    ssrcs: &'a [u8],
    /// Reason for leaving, if given.
    pub reason: Option<&'a [u8]>,
}

impl<'a> Bye<'a> {
    pub(crate) fn parse(count: u8, body: &'a [u8]) -> Result<Self, Error> {
        let n = 4 * usize::from(count);
        let ssrcs = body.get(..n).ok_or(Error::BadLength { packet_type: super::packet_type::BYE })?;
        let reason = match body.get(n) {
            Some(&len) => Some(body.get(n + 1..n + 1 + usize::from(len)).ok_or(Error::BadItem)?),
            None => None,
        };
        Ok(Self { ssrcs, reason })
    }

    /// The SSRCs leaving.
    pub fn ssrcs(&self) -> impl Iterator<Item = u32> + 'a {
        self.ssrcs.chunks_exact(4).filter_map(|c| u32_at(c, 0))
    }
}

/// An application-defined packet (PT 204).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct App<'a> {
    /// Subtype (the 5-bit count field).
    pub subtype: u8,
    /// SSRC/CSRC.
    pub ssrc: u32,
    /// Four ASCII characters naming the application.
    pub name: [u8; 4],
    /// Application data.
    pub data: &'a [u8],
}

impl<'a> App<'a> {
    pub(crate) fn parse(count: u8, body: &'a [u8]) -> Result<Self, Error> {
        let bad = Error::BadLength { packet_type: super::packet_type::APP };
        let name = u32_at(body, 4).ok_or(bad)?.to_be_bytes();
        Ok(Self { subtype: count, ssrc: u32_at(body, 0).ok_or(bad)?, name, data: body.get(8..).unwrap_or_default() })
    }
}
