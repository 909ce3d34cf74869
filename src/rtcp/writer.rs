//! Writes RTCP packets, one after another, into a caller-owned `Vec` (a compound packet).

use alloc::vec::Vec;

use super::feedback::{DlrrItem, FirEntry, NackPair, REMB_ID, Remb, psfb, rtpfb, xr_block};
use super::report::{ReportBlock, SdesType, SenderInfo};
use super::twcc::TransportCcRepr;
use super::{Error, HEADER_LEN, packet_type};

/// An XR block to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XrBlockRepr<'a> {
    /// Receiver reference time.
    Rrtr {
        /// NTP timestamp.
        ntp_timestamp: u64,
    },
    /// DLRR sub-blocks.
    Dlrr(&'a [DlrrItem]),
    /// Another block type, raw (`data` is padded with zeros to 32 bits).
    Unknown {
        /// Block type.
        block_type: u8,
        /// Type-specific octet.
        type_specific: u8,
        /// Contents.
        data: &'a [u8],
    },
}

/// One SDES chunk to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdesChunkRepr<'a> {
    /// SSRC/CSRC.
    pub ssrc: u32,
    /// Items (each value at most 255 octets).
    pub items: &'a [(SdesType, &'a [u8])],
}

/// Appends RTCP packets to a buffer. Each method writes one whole packet (header and length included);
/// calling several builds a compound packet.
///
/// ```
/// use sansrtc::rtcp::{Compound, RtcpPacket, Writer};
///
/// let mut buf = Vec::new();
/// let mut w = Writer::new(&mut buf);
/// w.receiver_report(0x1111, &[], &[])?;
/// w.pli(0x1111, 0x2222)?;
/// let kinds: Vec<_> = Compound::new(&buf).map(|p| matches!(p, Ok(RtcpPacket::Pli(_)))).collect();
/// assert_eq!(kinds, [false, true]);
/// # Ok::<(), sansrtc::rtcp::Error>(())
/// ```
#[derive(Debug)]
pub struct Writer<'b> {
    out: &'b mut Vec<u8>,
}

impl<'b> Writer<'b> {
    /// Writes after whatever `out` already holds.
    pub fn new(out: &'b mut Vec<u8>) -> Self {
        Self { out }
    }

    fn begin(&mut self, count: u8, pt: u8) -> Result<usize, Error> {
        if count > 31 {
            return Err(Error::TooMany);
        }
        let at = self.out.len();
        self.out.extend_from_slice(&[0x80 | count, pt, 0, 0]);
        Ok(at)
    }

    /// Zero-pads to 32 bits (or, with `p_bit`, sets P and puts the count in the last octet) and sets
    /// the length.
    fn end(&mut self, at: usize, p_bit: bool) -> Result<(), Error> {
        let pad = (4 - (self.out.len() - at) % 4) % 4;
        let padded = pad > 0 && p_bit;
        if pad > 0 {
            self.out.resize(self.out.len() + pad, 0);
            if p_bit {
                if let Some(last) = self.out.last_mut() {
                    *last = pad as u8;
                }
            }
        }
        let words = (self.out.len() - at) / 4 - 1;
        let words = u16::try_from(words).map_err(|_| Error::TooMany)?;
        // `begin` wrote the 4-octet header at `at`.
        let [first, _, length @ ..] =
            self.out.get_mut(at..).and_then(<[u8]>::first_chunk_mut::<HEADER_LEN>).ok_or(Error::Truncated)?;
        if padded {
            *first |= 0x20;
        }
        *length = words.to_be_bytes();
        Ok(())
    }

    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    /// A sender report.
    pub fn sender_report(
        &mut self,
        ssrc: u32,
        info: &SenderInfo,
        reports: &[ReportBlock],
        extension: &[u8],
    ) -> Result<(), Error> {
        let at = self.begin(u8::try_from(reports.len()).map_err(|_| Error::TooMany)?, packet_type::SR)?;
        self.u32(ssrc);
        self.out.extend_from_slice(&info.ntp_timestamp.to_be_bytes());
        self.u32(info.rtp_timestamp);
        self.u32(info.packet_count);
        self.u32(info.octet_count);
        for r in reports {
            r.write(self.out);
        }
        self.out.extend_from_slice(extension);
        self.end(at, false)
    }

    /// A receiver report (with no blocks it is the "empty RR" that starts a compound without reports).
    pub fn receiver_report(&mut self, ssrc: u32, reports: &[ReportBlock], extension: &[u8]) -> Result<(), Error> {
        let at = self.begin(u8::try_from(reports.len()).map_err(|_| Error::TooMany)?, packet_type::RR)?;
        self.u32(ssrc);
        for r in reports {
            r.write(self.out);
        }
        self.out.extend_from_slice(extension);
        self.end(at, false)
    }

    /// A source description.
    pub fn sdes(&mut self, chunks: &[SdesChunkRepr<'_>]) -> Result<(), Error> {
        let at = self.begin(u8::try_from(chunks.len()).map_err(|_| Error::TooMany)?, packet_type::SDES)?;
        for c in chunks {
            let start = self.out.len();
            self.u32(c.ssrc);
            for (kind, value) in c.items {
                let len = u8::try_from(value.len()).map_err(|_| Error::TooMany)?;
                self.out.extend_from_slice(&[u8::from(*kind), len]);
                self.out.extend_from_slice(value);
            }
            // At least one null octet, then nulls to the next 32-bit boundary (RFC 3550 §6.5).
            let used = self.out.len() - start + 1;
            self.out.resize(start + used.div_ceil(4) * 4, 0);
        }
        self.end(at, false)
    }

    /// A goodbye.
    pub fn bye(&mut self, ssrcs: &[u32], reason: Option<&[u8]>) -> Result<(), Error> {
        let at = self.begin(u8::try_from(ssrcs.len()).map_err(|_| Error::TooMany)?, packet_type::BYE)?;
        for s in ssrcs {
            self.u32(*s);
        }
        if let Some(reason) = reason {
            self.out.push(u8::try_from(reason.len()).map_err(|_| Error::TooMany)?);
            self.out.extend_from_slice(reason);
        }
        self.end(at, false)
    }

    /// An application-defined packet (`data` zero-padded to 32 bits).
    pub fn app(&mut self, subtype: u8, ssrc: u32, name: [u8; 4], data: &[u8]) -> Result<(), Error> {
        let at = self.begin(subtype, packet_type::APP)?;
        self.u32(ssrc);
        self.out.extend_from_slice(&name);
        self.out.extend_from_slice(data);
        self.end(at, false)
    }

    /// An extended report.
    pub fn extended_report(&mut self, ssrc: u32, blocks: &[XrBlockRepr<'_>]) -> Result<(), Error> {
        let at = self.begin(0, packet_type::XR)?;
        self.u32(ssrc);
        for b in blocks {
            let (bt, ts, words) = match b {
                XrBlockRepr::Rrtr { .. } => (xr_block::RRTR, 0, 2),
                XrBlockRepr::Dlrr(items) => (xr_block::DLRR, 0, 3 * items.len()),
                XrBlockRepr::Unknown { block_type, type_specific, data } => {
                    (*block_type, *type_specific, data.len().div_ceil(4))
                }
            };
            self.out.extend_from_slice(&[bt, ts]);
            self.out.extend_from_slice(&u16::try_from(words).map_err(|_| Error::TooMany)?.to_be_bytes());
            match b {
                XrBlockRepr::Rrtr { ntp_timestamp } => self.out.extend_from_slice(&ntp_timestamp.to_be_bytes()),
                XrBlockRepr::Dlrr(items) => {
                    for i in *items {
                        self.u32(i.ssrc);
                        self.u32(i.last_rr);
                        self.u32(i.delay_since_last_rr);
                    }
                }
                XrBlockRepr::Unknown { data, .. } => {
                    self.out.extend_from_slice(data);
                    self.out.resize(self.out.len() + (4 - data.len() % 4) % 4, 0);
                }
            }
        }
        self.end(at, false)
    }

    fn feedback(&mut self, pt: u8, fmt: u8, sender_ssrc: u32, media_ssrc: u32) -> Result<usize, Error> {
        let at = self.begin(fmt, pt)?;
        self.u32(sender_ssrc);
        self.u32(media_ssrc);
        Ok(at)
    }

    /// A Generic NACK with the given FCI entries.
    pub fn nack(&mut self, sender_ssrc: u32, media_ssrc: u32, pairs: &[NackPair]) -> Result<(), Error> {
        let at = self.feedback(packet_type::RTPFB, rtpfb::NACK, sender_ssrc, media_ssrc)?;
        for p in pairs {
            self.out.extend_from_slice(&p.pid.to_be_bytes());
            self.out.extend_from_slice(&p.blp.to_be_bytes());
        }
        self.end(at, false)
    }

    /// A Generic NACK for the lost sequence numbers `lost` (in sending order; packed greedily into
    /// PID + bitmask entries).
    pub fn nack_lost(
        &mut self,
        sender_ssrc: u32,
        media_ssrc: u32,
        lost: impl IntoIterator<Item = u16>,
    ) -> Result<(), Error> {
        let at = self.feedback(packet_type::RTPFB, rtpfb::NACK, sender_ssrc, media_ssrc)?;
        let mut current: Option<NackPair> = None;
        for seq in lost {
            match &mut current {
                Some(p) if (1..=16).contains(&seq.wrapping_sub(p.pid)) => p.blp |= 1 << (seq.wrapping_sub(p.pid) - 1),
                Some(p) if seq == p.pid => {}
                _ => {
                    if let Some(p) = current.take() {
                        self.out.extend_from_slice(&p.pid.to_be_bytes());
                        self.out.extend_from_slice(&p.blp.to_be_bytes());
                    }
                    current = Some(NackPair { pid: seq, blp: 0 });
                }
            }
        }
        if let Some(p) = current {
            self.out.extend_from_slice(&p.pid.to_be_bytes());
            self.out.extend_from_slice(&p.blp.to_be_bytes());
        }
        self.end(at, false)
    }

    /// A picture loss indication.
    pub fn pli(&mut self, sender_ssrc: u32, media_ssrc: u32) -> Result<(), Error> {
        let at = self.feedback(packet_type::PSFB, psfb::PLI, sender_ssrc, media_ssrc)?;
        self.end(at, false)
    }

    /// A full intra request (media SSRC 0, as RFC 5104 §4.3.1.2 requires).
    pub fn fir(&mut self, sender_ssrc: u32, entries: &[FirEntry]) -> Result<(), Error> {
        let at = self.feedback(packet_type::PSFB, psfb::FIR, sender_ssrc, 0)?;
        for e in entries {
            self.u32(e.ssrc);
            self.out.extend_from_slice(&[e.sequence, 0, 0, 0]);
        }
        self.end(at, false)
    }

    /// A REMB (media SSRC 0).
    pub fn remb(&mut self, sender_ssrc: u32, bitrate: u64, ssrcs: &[u32]) -> Result<(), Error> {
        let at = self.feedback(packet_type::PSFB, psfb::AFB, sender_ssrc, 0)?;
        self.out.extend_from_slice(&REMB_ID);
        let (exp, mantissa) = Remb::encode_bitrate(bitrate);
        self.out.push(u8::try_from(ssrcs.len()).map_err(|_| Error::TooMany)?);
        self.out.extend_from_slice(&((u32::from(exp) << 18) | mantissa).to_be_bytes()[1..]);
        for s in ssrcs {
            self.u32(*s);
        }
        self.end(at, false)
    }

    /// Transport-wide CC feedback, chunked as libwebrtc does and padded with the P bit as libwebrtc does.
    pub fn transport_cc(&mut self, repr: &TransportCcRepr<'_>) -> Result<(), Error> {
        let at = self.feedback(packet_type::RTPFB, rtpfb::TRANSPORT_CC, repr.sender_ssrc, repr.media_ssrc)?;
        repr.write_fci(self.out)?;
        self.end(at, true)
    }

    /// Any packet, raw: `count` in the 5-bit field, `body` zero-padded to 32 bits.
    pub fn raw(&mut self, packet_type: u8, count: u8, body: &[u8]) -> Result<(), Error> {
        let at = self.begin(count, packet_type)?;
        self.out.extend_from_slice(body);
        self.end(at, false)
    }
}
