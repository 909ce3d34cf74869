//! The few header fields SRTP needs from RTP and RTCP packets, read with every length checked.

use super::Error;

/// RTP fixed header length.
pub(crate) const RTP_HEADER: usize = 12;
/// RTCP header length covered by SRTCP in the clear: the first 8 octets (RFC 3711 §3.4).
pub(crate) const RTCP_HEADER: usize = 8;
/// The E flag in the SRTCP trailer word (RFC 3711 §3.4).
pub(crate) const E_FLAG: u32 = 0x8000_0000;
/// SRTCP index mask (31 bits).
pub(crate) const SRTCP_INDEX_MASK: u32 = 0x7fff_ffff;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?, *b.get(at + 3)?]))
}

/// What SRTP reads from an RTP header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RtpHeader {
    pub(crate) seq: u16,
    pub(crate) ssrc: u32,
    /// Header length including CSRCs and the header extension: the start of the payload.
    pub(crate) len: usize,
}

/// Parses the RTP header of `packet` (which excludes any SRTP tag).
pub(crate) fn rtp_header(packet: &[u8]) -> Result<RtpHeader, Error> {
    let first = *packet.first().ok_or(Error::TooShort)?;
    if packet.len() < RTP_HEADER {
        return Err(Error::TooShort);
    }
    if first >> 6 != 2 {
        return Err(Error::Malformed);
    }
    let cc = usize::from(first & 0x0f);
    let mut len = RTP_HEADER + 4 * cc;
    if first & 0x10 != 0 {
        let words = be16(packet, len + 2).ok_or(Error::Malformed)?;
        len += 4 + 4 * usize::from(words);
    }
    if len > packet.len() {
        return Err(Error::Malformed);
    }
    Ok(RtpHeader { seq: be16(packet, 2).ok_or(Error::TooShort)?, ssrc: be32(packet, 8).ok_or(Error::TooShort)?, len })
}

/// Reads the sender SSRC of an RTCP packet (octets 4..8), checking the version.
pub(crate) fn rtcp_ssrc(packet: &[u8]) -> Result<u32, Error> {
    let first = *packet.first().ok_or(Error::TooShort)?;
    if packet.len() < RTCP_HEADER {
        return Err(Error::TooShort);
    }
    if first >> 6 != 2 {
        return Err(Error::Malformed);
    }
    be32(packet, 4).ok_or(Error::TooShort)
}
