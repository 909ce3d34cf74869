//! Reading captures: pcap and pcapng files taken apart into timestamped UDP datagrams, and a feed that
//! hands a connection the datagrams of a capture that were addressed to it, at the capture's times.
//!
//! The reader borrows the file's bytes and allocates only for the pcapng interface table. It reads the
//! classic pcap format (both byte orders, micro- and nanosecond timestamps) and pcapng (sections in both
//! byte orders, several interfaces with their own link types and timestamp resolutions, Enhanced and Simple
//! Packet Blocks; other blocks are skipped). Link layers: raw IP (101, 228, 229), Ethernet (1, with one
//! 802.1Q tag), BSD loopback (0, 108) and Linux cooked capture (113, 276). Packets that are not whole
//! IPv4 or IPv6 UDP datagrams (TCP, ARP, fragments, damaged headers) are skipped and counted, not errors;
//! a file whose framing cannot be trusted is an error naming the byte offset: a length that points past
//! the end of the file or contradicts itself ([`CaptureError::LyingLength`]), a link type this reader does
//! not know ([`CaptureError::UnknownLinkType`]), a file cut short ([`CaptureError::Truncated`]).

use alloc::vec::Vec;
use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::time::Duration;

use crate::machine::{Datagram, PathMachine, Transmit};
use crate::time::Instant;

const PCAP_MICROS: u32 = 0xA1B2_C3D4;
const PCAP_NANOS: u32 = 0xA1B2_3C4D;
const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
const PCAPNG_BYTE_ORDER: u32 = 0x1A2B_3C4D;
const BLOCK_IDB: u32 = 1;
const BLOCK_SPB: u32 = 3;
const BLOCK_EPB: u32 = 6;
/// The largest packet a capture may claim (the 256 KiB snapshot length tools use as "everything").
const MAX_PACKET: usize = 256 << 10;
/// The most interfaces one pcapng section may describe.
const MAX_INTERFACES: usize = 256;
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;

/// Why a capture cannot be read. Every variant names the byte offset where reading stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaptureError {
    /// The first bytes are neither a pcap nor a pcapng header (offset 0).
    NotACapture,
    /// The file ends inside the header, block or packet record starting at `offset`.
    Truncated {
        /// Where the incomplete header or record starts.
        offset: usize,
    },
    /// A length field at `offset` claims more bytes than there are, or contradicts another length.
    LyingLength {
        /// Where the length field is.
        offset: usize,
        /// The length it claims.
        claimed: u64,
    },
    /// The link type given at `offset` (pcap header or pcapng interface description) is not one this
    /// reader takes apart.
    UnknownLinkType {
        /// Where the link type is.
        offset: usize,
        /// The link type (a `LINKTYPE_*` value).
        link_type: u32,
    },
    /// Anything else that cannot be what it claims.
    Corrupt {
        /// Where the bad field starts.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
}

impl CaptureError {
    /// The byte offset the error is about.
    pub fn offset(&self) -> usize {
        match *self {
            CaptureError::NotACapture => 0,
            CaptureError::Truncated { offset }
            | CaptureError::LyingLength { offset, .. }
            | CaptureError::UnknownLinkType { offset, .. }
            | CaptureError::Corrupt { offset, .. } => offset,
        }
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::NotACapture => f.write_str("neither pcap nor pcapng (bad magic at offset 0)"),
            CaptureError::Truncated { offset } => write!(f, "capture truncated in the record at offset {offset}"),
            CaptureError::LyingLength { offset, claimed } => {
                write!(f, "capture length at offset {offset} claims {claimed} bytes, which are not there")
            }
            CaptureError::UnknownLinkType { offset, link_type } => {
                write!(f, "unknown link type {link_type} at offset {offset}")
            }
            CaptureError::Corrupt { offset, what } => write!(f, "corrupt capture at offset {offset}: {what}"),
        }
    }
}

impl core::error::Error for CaptureError {}

/// The link layers the reader takes apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    /// Raw IPv4 or IPv6 (101; 228 IPv4 only and 229 IPv6 only are read the same way).
    Raw,
    Ethernet,
    /// BSD loopback: a 4-byte address family (0: host byte order, 108: big-endian; read either way).
    Loopback,
    /// Linux cooked capture v1: 16 bytes, the protocol in the last two.
    LinuxSll,
    /// Linux cooked capture v2: 20 bytes, the protocol in the first two.
    LinuxSll2,
}

impl Link {
    fn from_type(link_type: u32) -> Option<Link> {
        Some(match link_type {
            101 | 228 | 229 => Link::Raw,
            1 => Link::Ethernet,
            0 | 108 => Link::Loopback,
            113 => Link::LinuxSll,
            276 => Link::LinuxSll2,
            _ => return None,
        })
    }
}

/// One packet record of a capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapturedPacket<'a> {
    /// The byte offset of its record (pcap packet header or pcapng block).
    pub offset: usize,
    /// When it was captured, since the Unix epoch.
    pub timestamp: Duration,
    /// The UDP datagram it holds, with its addresses, or why it holds none.
    pub udp: Result<Datagram<'a>, Skip>,
}

/// Why a packet of a capture holds no datagram for a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Skip {
    /// Not IPv4 or IPv6 UDP (TCP, ARP, an IPv6 extension header before UDP, …).
    NotUdp,
    /// A fragment of an IP datagram (not reassembled).
    Fragment,
    /// Headers cut short by the snapshot length or damaged.
    Malformed,
}

/// A capture's packets, in file order; see [`CaptureReader::packets`].
#[derive(Clone, Debug)]
pub struct CaptureReader<'a> {
    bytes: &'a [u8],
    format: Format,
}

#[derive(Clone, Copy, Debug)]
enum Format {
    Pcap { big_endian: bool, nanos: bool, link: Link, snaplen: u32 },
    Pcapng,
}

impl<'a> CaptureReader<'a> {
    /// Recognises the format from the first bytes and checks the pcap header (the pcapng section header
    /// is read with the packets).
    pub fn new(bytes: &'a [u8]) -> Result<Self, CaptureError> {
        let magic_le = le32(bytes, 0);
        let magic_be = be32(bytes, 0);
        let format = match (magic_le, magic_be) {
            (Some(PCAPNG_SHB), _) => Format::Pcapng,
            (Some(m), Some(b)) if [m, b].iter().any(|v| *v == PCAP_MICROS || *v == PCAP_NANOS) => {
                let big_endian = b == PCAP_MICROS || b == PCAP_NANOS;
                let nanos = if big_endian { b == PCAP_NANOS } else { m == PCAP_NANOS };
                let u32_at = |at| if big_endian { be32(bytes, at) } else { le32(bytes, at) };
                let (Some(snaplen), Some(link_field)) = (u32_at(16), u32_at(20)) else {
                    return Err(CaptureError::Truncated { offset: 0 });
                };
                // The upper bits of the link type field carry FCS information (pcap-ng draft, LinkType).
                let link_type = link_field & 0x0FFF_FFFF;
                let link = Link::from_type(link_type).ok_or(CaptureError::UnknownLinkType { offset: 20, link_type })?;
                Format::Pcap { big_endian, nanos, link, snaplen }
            }
            _ if bytes.len() < 4 => return Err(CaptureError::Truncated { offset: 0 }),
            _ => return Err(CaptureError::NotACapture),
        };
        Ok(CaptureReader { bytes, format })
    }

    /// Whether the file is pcapng (rather than classic pcap).
    pub fn is_pcapng(&self) -> bool {
        matches!(self.format, Format::Pcapng)
    }

    /// The packet records, in file order. Iteration stops after the first error.
    pub fn packets(&self) -> Packets<'a> {
        let next = match self.format {
            Format::Pcap { .. } => 24,
            Format::Pcapng => 0,
        };
        Packets {
            bytes: self.bytes,
            format: self.format,
            next,
            big_endian: false,
            interfaces: Vec::new(),
            failed: false,
        }
    }
}

/// A pcapng interface: its link layer and timestamp units.
#[derive(Clone, Copy, Debug)]
struct Interface {
    link: Option<(Link, u32)>,
    /// Where its link type is, for the error when a packet uses an unknown one.
    link_offset: usize,
    link_type: u32,
    /// Timestamp units: 10^-n seconds (`pow2` false) or 2^-n seconds.
    resolution: u8,
    pow2: bool,
    /// Seconds added to every timestamp.
    offset_secs: i64,
    snaplen: u32,
}

/// The packets of a capture; see [`CaptureReader::packets`].
#[derive(Clone, Debug)]
pub struct Packets<'a> {
    bytes: &'a [u8],
    format: Format,
    next: usize,
    /// The current pcapng section's byte order.
    big_endian: bool,
    interfaces: Vec<Interface>,
    failed: bool,
}

impl<'a> Iterator for Packets<'a> {
    type Item = Result<CapturedPacket<'a>, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let r = match self.format {
            Format::Pcap { big_endian, nanos, link, snaplen } => self.pcap_record(big_endian, nanos, link, snaplen),
            Format::Pcapng => self.pcapng_block(),
        };
        if matches!(r, Some(Err(_))) {
            self.failed = true;
        }
        r
    }
}

impl<'a> Packets<'a> {
    fn u32_at(&self, at: usize, big_endian: bool) -> Option<u32> {
        if big_endian { be32(self.bytes, at) } else { le32(self.bytes, at) }
    }

    fn pcap_record(
        &mut self,
        big_endian: bool,
        nanos: bool,
        link: Link,
        snaplen: u32,
    ) -> Option<Result<CapturedPacket<'a>, CaptureError>> {
        let at = self.next;
        if at >= self.bytes.len() {
            return None;
        }
        let field = |i: usize| self.u32_at(at + 4 * i, big_endian);
        let (Some(secs), Some(frac), Some(incl), Some(orig)) = (field(0), field(1), field(2), field(3)) else {
            return Some(Err(CaptureError::Truncated { offset: at }));
        };
        let claimed = u64::from(incl);
        let start = at + 16;
        // A record longer than the snapshot length, or than the packet it was cut from, lies.
        let fits = usize::try_from(incl).ok().filter(|n| *n <= MAX_PACKET && (snaplen == 0 || incl <= snaplen));
        let Some(len) = fits.filter(|_| incl <= orig) else {
            return Some(Err(CaptureError::LyingLength { offset: at + 8, claimed }));
        };
        let Some(data) = self.bytes.get(start..start + len) else {
            return Some(Err(CaptureError::LyingLength { offset: at + 8, claimed }));
        };
        let frac_nanos = if nanos { frac } else { frac.saturating_mul(1000) };
        if frac_nanos >= 1_000_000_000 {
            return Some(Err(CaptureError::Corrupt { offset: at + 4, what: "timestamp fraction of a second" }));
        }
        self.next = start + len;
        let timestamp = Duration::new(u64::from(secs), frac_nanos);
        Some(Ok(CapturedPacket { offset: at, timestamp, udp: udp(link, data) }))
    }

    /// Reads blocks until a packet (or the end, or an error).
    fn pcapng_block(&mut self) -> Option<Result<CapturedPacket<'a>, CaptureError>> {
        loop {
            let at = self.next;
            if at >= self.bytes.len() {
                return None;
            }
            let Some(kind_le) = le32(self.bytes, at) else { return Some(Err(CaptureError::Truncated { offset: at })) };
            if kind_le == PCAPNG_SHB {
                // A section header sets the byte order for its section (the type reads the same both ways).
                match le32(self.bytes, at + 8) {
                    Some(PCAPNG_BYTE_ORDER) => self.big_endian = false,
                    Some(m) if m.swap_bytes() == PCAPNG_BYTE_ORDER => self.big_endian = true,
                    Some(_) => return Some(Err(CaptureError::Corrupt { offset: at + 8, what: "byte-order magic" })),
                    None => return Some(Err(CaptureError::Truncated { offset: at })),
                }
                self.interfaces.clear();
            } else if at == 0 {
                return Some(Err(CaptureError::NotACapture));
            }
            let be = self.big_endian;
            let (Some(kind), Some(total)) = (self.u32_at(at, be), self.u32_at(at + 4, be)) else {
                return Some(Err(CaptureError::Truncated { offset: at }));
            };
            let claimed = u64::from(total);
            let Some(total) = usize::try_from(total).ok().filter(|t| *t >= 12 && t % 4 == 0) else {
                return Some(Err(CaptureError::LyingLength { offset: at + 4, claimed }));
            };
            let Some(end) = at.checked_add(total).filter(|e| *e <= self.bytes.len()) else {
                return Some(Err(CaptureError::LyingLength { offset: at + 4, claimed }));
            };
            if self.u32_at(end - 4, be) != Some(claimed as u32) {
                return Some(Err(CaptureError::LyingLength { offset: end - 4, claimed }));
            }
            self.next = end;
            let body_start = at + 8;
            let body = self.bytes.get(body_start..end - 4).unwrap_or(&[]);
            match kind {
                BLOCK_IDB => {
                    if let Err(e) = self.interface(body, body_start) {
                        return Some(Err(e));
                    }
                }
                BLOCK_EPB => return Some(self.enhanced(body, body_start, at)),
                BLOCK_SPB => return Some(self.simple(body, body_start, at)),
                // Section headers (read above), secrets, statistics, name resolution, custom blocks.
                _ => {}
            }
        }
    }

    fn interface(&mut self, body: &[u8], base: usize) -> Result<(), CaptureError> {
        let be = self.big_endian;
        let corrupt = |what| CaptureError::Corrupt { offset: base, what };
        if self.interfaces.len() >= MAX_INTERFACES {
            return Err(corrupt("more interfaces than this reader keeps"));
        }
        let link_type = u32::from(u16_in(body, 0, be).ok_or_else(|| corrupt("interface description"))?);
        let snaplen = u32_in(body, 4, be).ok_or_else(|| corrupt("interface description"))?;
        let mut iface = Interface {
            link: Link::from_type(link_type).map(|l| (l, link_type)),
            link_offset: base,
            link_type,
            resolution: 6,
            pow2: false,
            offset_secs: 0,
            snaplen,
        };
        for (code, value, at) in options(body, 8, be, base)? {
            match code {
                IF_TSRESOL => {
                    let v = *value.first().ok_or(CaptureError::Corrupt { offset: at, what: "if_tsresol" })?;
                    iface.pow2 = v & 0x80 != 0;
                    iface.resolution = v & 0x7f;
                    let max = if iface.pow2 { 63 } else { 19 };
                    if iface.resolution > max {
                        return Err(CaptureError::Corrupt { offset: at, what: "if_tsresol" });
                    }
                }
                IF_TSOFFSET => {
                    let b: [u8; 8] = value
                        .get(..8)
                        .and_then(|b| b.try_into().ok())
                        .ok_or(CaptureError::Corrupt { offset: at, what: "if_tsoffset" })?;
                    iface.offset_secs = if be { i64::from_be_bytes(b) } else { i64::from_le_bytes(b) };
                }
                _ => {}
            }
        }
        if iface.link.is_none() {
            return Err(CaptureError::UnknownLinkType { offset: iface.link_offset, link_type: iface.link_type });
        }
        self.interfaces.push(iface);
        Ok(())
    }

    fn enhanced(&self, body: &'a [u8], base: usize, at: usize) -> Result<CapturedPacket<'a>, CaptureError> {
        let be = self.big_endian;
        let field = |i: usize| u32_in(body, 4 * i, be).ok_or(CaptureError::Truncated { offset: at });
        let (id, hi, lo, captured, original) = (field(0)?, field(1)?, field(2)?, field(3)?, field(4)?);
        let iface = self.interface_by_id(id, base)?;
        let len = usize::try_from(captured).ok().filter(|n| *n <= MAX_PACKET && captured <= original.max(captured));
        let start = base + 20;
        let data = len
            .and_then(|n| start.checked_add(n))
            .filter(|end| *end <= base + body.len())
            .and_then(|end| self.bytes.get(start..end))
            .ok_or(CaptureError::LyingLength { offset: base + 12, claimed: u64::from(captured) })?;
        let ticks = (u64::from(hi) << 32) | u64::from(lo);
        Ok(CapturedPacket { offset: at, timestamp: iface.time(ticks), udp: udp(iface.link_kind(), data) })
    }

    fn simple(&self, body: &'a [u8], base: usize, at: usize) -> Result<CapturedPacket<'a>, CaptureError> {
        let iface = self.interface_by_id(0, base)?;
        let original = u32_in(body, 0, self.big_endian).ok_or(CaptureError::Truncated { offset: at })?;
        let room = body.len().saturating_sub(4);
        let snap = if iface.snaplen == 0 { usize::MAX } else { iface.snaplen as usize };
        let len = (original as usize).min(snap);
        let data = body
            .get(4..4usize.saturating_add(len))
            .filter(|_| len <= room)
            .ok_or(CaptureError::LyingLength { offset: base, claimed: u64::from(original) })?;
        // A Simple Packet Block has no timestamp.
        Ok(CapturedPacket { offset: at, timestamp: Duration::ZERO, udp: udp(iface.link_kind(), data) })
    }

    fn interface_by_id(&self, id: u32, base: usize) -> Result<Interface, CaptureError> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.interfaces.get(i).copied())
            .ok_or(CaptureError::Corrupt { offset: base, what: "packet of an undescribed interface" })
    }
}

impl Interface {
    fn link_kind(&self) -> Link {
        self.link.map_or(Link::Raw, |(l, _)| l)
    }

    /// `ticks` of this interface's units, plus its offset, as a time since the Unix epoch (saturating).
    fn time(&self, ticks: u64) -> Duration {
        let units: u128 = if self.pow2 { 1u128 << self.resolution } else { 10u128.pow(u32::from(self.resolution)) };
        let ticks = u128::from(ticks);
        let secs = ticks / units;
        let nanos = (ticks % units) * 1_000_000_000 / units;
        let secs = i128::try_from(secs).unwrap_or(i128::MAX).saturating_add(i128::from(self.offset_secs));
        let secs = u64::try_from(secs.max(0)).unwrap_or(u64::MAX);
        Duration::new(secs, nanos as u32)
    }
}

/// The options of a pcapng block body from `start`: (code, value, offset of the option).
/// A pcapng option: its code, its value and its offset in the file.
type BlockOption<'b> = (u16, &'b [u8], usize);

fn options(body: &[u8], start: usize, be: bool, base: usize) -> Result<Vec<BlockOption<'_>>, CaptureError> {
    let mut out = Vec::new();
    let mut at = start;
    while at + 4 <= body.len() {
        let (Some(code), Some(len)) = (u16_in(body, at, be), u16_in(body, at + 2, be)) else { break };
        if code == 0 {
            break;
        }
        let len = usize::from(len);
        let value = body
            .get(at + 4..at + 4 + len)
            .ok_or(CaptureError::LyingLength { offset: base + at + 2, claimed: len as u64 })?;
        out.push((code, value, base + at));
        at += 4 + len.next_multiple_of(4);
    }
    Ok(out)
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

fn u32_in(b: &[u8], at: usize, be: bool) -> Option<u32> {
    if be { be32(b, at) } else { le32(b, at) }
}

fn u16_in(b: &[u8], at: usize, be: bool) -> Option<u16> {
    let v: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if be { u16::from_be_bytes(v) } else { u16::from_le_bytes(v) })
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    u16_in(b, at, true)
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86DD;
const ETHERTYPE_VLAN: u16 = 0x8100;

/// The UDP datagram in a link-layer frame.
fn udp(link: Link, frame: &[u8]) -> Result<Datagram<'_>, Skip> {
    let ip = match link {
        Link::Raw => frame,
        Link::Loopback => frame.get(4..).ok_or(Skip::Malformed)?,
        Link::Ethernet => {
            let mut ethertype = be16(frame, 12).ok_or(Skip::Malformed)?;
            let mut at = 14;
            if ethertype == ETHERTYPE_VLAN {
                ethertype = be16(frame, 16).ok_or(Skip::Malformed)?;
                at = 18;
            }
            if ethertype != ETHERTYPE_IPV4 && ethertype != ETHERTYPE_IPV6 {
                return Err(Skip::NotUdp);
            }
            frame.get(at..).ok_or(Skip::Malformed)?
        }
        Link::LinuxSll => frame.get(16..).ok_or(Skip::Malformed)?,
        Link::LinuxSll2 => frame.get(20..).ok_or(Skip::Malformed)?,
    };
    // The IP version says which; the link layer's protocol field is not needed.
    match ip.first().map(|b| b >> 4) {
        Some(4) => udp_v4(ip),
        Some(6) => udp_v6(ip),
        Some(_) => Err(Skip::NotUdp),
        None => Err(Skip::Malformed),
    }
}

fn udp_v4(ip: &[u8]) -> Result<Datagram<'_>, Skip> {
    let ihl = usize::from(ip.first().ok_or(Skip::Malformed)? & 0x0f) * 4;
    let total = usize::from(be16(ip, 2).ok_or(Skip::Malformed)?);
    if ihl < 20 || total < ihl || total > ip.len() {
        return Err(Skip::Malformed);
    }
    if ip.get(9) != Some(&17) {
        return Err(Skip::NotUdp);
    }
    let frag = be16(ip, 6).ok_or(Skip::Malformed)?;
    if frag & 0x3fff != 0 {
        return Err(Skip::Fragment);
    }
    let src: [u8; 4] = ip.get(12..16).and_then(|b| b.try_into().ok()).ok_or(Skip::Malformed)?;
    let dst: [u8; 4] = ip.get(16..20).and_then(|b| b.try_into().ok()).ok_or(Skip::Malformed)?;
    let segment = ip.get(ihl..total).ok_or(Skip::Malformed)?;
    udp_segment(IpAddr::V4(Ipv4Addr::from(src)), IpAddr::V4(Ipv4Addr::from(dst)), segment)
}

fn udp_v6(ip: &[u8]) -> Result<Datagram<'_>, Skip> {
    let payload_len = usize::from(be16(ip, 4).ok_or(Skip::Malformed)?);
    if ip.get(6) != Some(&17) {
        return Err(Skip::NotUdp);
    }
    let src: [u8; 16] = ip.get(8..24).and_then(|b| b.try_into().ok()).ok_or(Skip::Malformed)?;
    let dst: [u8; 16] = ip.get(24..40).and_then(|b| b.try_into().ok()).ok_or(Skip::Malformed)?;
    let segment = ip.get(40..40 + payload_len).ok_or(Skip::Malformed)?;
    udp_segment(IpAddr::V6(Ipv6Addr::from(src)), IpAddr::V6(Ipv6Addr::from(dst)), segment)
}

fn udp_segment(src: IpAddr, dst: IpAddr, segment: &[u8]) -> Result<Datagram<'_>, Skip> {
    let sport = be16(segment, 0).ok_or(Skip::Malformed)?;
    let dport = be16(segment, 2).ok_or(Skip::Malformed)?;
    let len = usize::from(be16(segment, 4).ok_or(Skip::Malformed)?);
    let contents = segment.get(8..len).ok_or(Skip::Malformed)?;
    Ok(Datagram { source: SocketAddr::new(src, sport), destination: SocketAddr::new(dst, dport), contents })
}

/// What a [`feed`] went through: the datagrams handed to the connection and the packets skipped, by why.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeedSummary {
    /// Datagrams handed to the connection.
    pub fed: u64,
    /// Of which the connection refused (`handle_receive` returned an error).
    pub refused: u64,
    /// UDP datagrams the connection sent (their source is one of its addresses): the capture's other
    /// direction.
    pub outbound: u64,
    /// UDP datagrams to or from other addresses (other sockets on the machine, other hosts).
    pub other_addresses: u64,
    /// Datagrams to the connection's address that belong to another session (the filter said no).
    pub other_sessions: u64,
    /// Packets that hold no UDP datagram ([`Skip`]).
    pub not_udp: u64,
    /// Timeouts fired between datagrams.
    pub timeouts: u64,
    /// The last `now` given.
    pub end: Instant,
}

impl FeedSummary {
    /// Every packet skipped, for whatever reason.
    pub fn skipped(&self) -> u64 {
        self.outbound + self.other_addresses + self.other_sessions + self.not_udp
    }
}

/// What a fed connection gave back, handed to [`feed`]'s callback as it comes.
#[derive(Debug)]
pub enum Fed<'t, E> {
    /// A datagram it sent (the capture's own outbound datagrams are not replayed: these are the new ones).
    Transmit(Transmit<'t>),
    /// An event.
    Event(E),
}

/// Feeds a connection the datagrams of a capture that were addressed to it, at the capture's times, as
/// the sans-IO loop would have: before each datagram every timer due by its time fires (at its deadline),
/// and after each call every transmit and event is drained into `out`.
///
/// `locals` are the connection's own addresses: a datagram to one of them is inbound, one from one of them
/// is its own output (skipped: the connection makes its own), any other is of another socket. `epoch` is
/// the wall-clock time (since the Unix epoch) that [`Instant::ZERO`] stands for, as
/// [`RecordOptions::capture_epoch`](super::RecordOptions::capture_epoch) in the recording: a packet
/// captured at `t` is given `now = t - epoch` (and never earlier than the last `now`). `belongs` says
/// whether an inbound datagram is this session's, for captures of a socket several connections share;
/// for a [`PeerConnection`](crate::pc::PeerConnection) pass `|pc, d| pc.accepts(d)`. The feed stops at the
/// capture's end or at its first error; the counts are in the summary either way.
pub fn feed<M: PathMachine>(
    machine: &mut M,
    capture: &[u8],
    locals: &[SocketAddr],
    epoch: Duration,
    mut belongs: impl FnMut(&M, &Datagram<'_>) -> bool,
    mut out: impl FnMut(Instant, Fed<'_, M::Event>),
) -> (FeedSummary, Result<(), CaptureError>) {
    let mut summary = FeedSummary::default();
    let reader = match CaptureReader::new(capture) {
        Ok(r) => r,
        Err(e) => return (summary, Err(e)),
    };
    for packet in reader.packets() {
        let packet = match packet {
            Ok(p) => p,
            Err(e) => return (summary, Err(e)),
        };
        let datagram = match packet.udp {
            Ok(d) => d,
            Err(_) => {
                summary.not_udp += 1;
                continue;
            }
        };
        if locals.contains(&datagram.source) {
            summary.outbound += 1;
            continue;
        }
        if !locals.contains(&datagram.destination) {
            summary.other_addresses += 1;
            continue;
        }
        let since = packet.timestamp.saturating_sub(epoch);
        let now = Instant::from_nanos(u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)).max(summary.end);
        summary.end = now;
        let mut fired = None;
        while let Some(due) = machine.poll_timeout().filter(|t| *t <= now && Some(*t) != fired) {
            // Each deadline once: a machine that announced it and then owes nothing more moves it on.
            fired = Some(due);
            machine.handle_timeout(due);
            summary.timeouts += 1;
            drain(machine, due, &mut out);
        }
        if !belongs(machine, &datagram) {
            summary.other_sessions += 1;
            continue;
        }
        summary.fed += 1;
        if machine.handle_receive(now, datagram).is_err() {
            summary.refused += 1;
        }
        drain(machine, now, &mut out);
    }
    (summary, Ok(()))
}

fn drain<M: PathMachine>(machine: &mut M, now: Instant, out: &mut impl FnMut(Instant, Fed<'_, M::Event>)) {
    while let Some(t) = machine.poll_transmit() {
        out(now, Fed::Transmit(t));
    }
    while let Some(e) = machine.poll_event() {
        out(now, Fed::Event(e));
    }
}
