//! The RTCP common header (RFC 3550 §6.4.1) and the lazy iterator over a compound packet.

use super::feedback::{ExtendedReport, Fir, Nack, Pli, Remb, psfb, rtpfb, ssrcs};
use super::report::{App, Bye, ReceiverReport, Sdes, SenderReport};
use super::twcc::TransportCc;
use super::{Error, packet_type};

/// Length of the common header.
pub const HEADER_LEN: usize = 4;

/// The common header of one RTCP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// The P bit.
    pub padding: bool,
    /// The 5-bit count field (report count, source count, subtype or FMT).
    pub count: u8,
    /// Packet type.
    pub packet_type: u8,
    /// Length in 32-bit words minus one.
    pub length: u16,
}

impl Header {
    /// Reads the header at the start of `b`.
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let &[first, packet_type, l0, l1] = b.first_chunk::<HEADER_LEN>().ok_or(Error::Truncated)?;
        if first >> 6 != 2 {
            return Err(Error::BadVersion(first >> 6));
        }
        Ok(Self { padding: first & 0x20 != 0, count: first & 0x1f, packet_type, length: u16::from_be_bytes([l0, l1]) })
    }

    /// Total length of the packet in octets.
    pub fn packet_len(&self) -> usize {
        4 * (usize::from(self.length) + 1)
    }
}

/// A packet type sansrtc does not decode (or a feedback FMT it does not know), kept raw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unknown<'a> {
    /// Packet type.
    pub packet_type: u8,
    /// The count/FMT field.
    pub count: u8,
    /// The body after the common header, padding removed.
    pub body: &'a [u8],
}

/// One packet of a compound RTCP datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtcpPacket<'a> {
    /// SR (200).
    SenderReport(SenderReport<'a>),
    /// RR (201).
    ReceiverReport(ReceiverReport<'a>),
    /// SDES (202).
    Sdes(Sdes<'a>),
    /// BYE (203).
    Bye(Bye<'a>),
    /// APP (204).
    App(App<'a>),
    /// XR (207).
    ExtendedReport(ExtendedReport<'a>),
    /// RTPFB Generic NACK.
    Nack(Nack<'a>),
    /// RTPFB transport-wide CC feedback.
    TransportCc(TransportCc<'a>),
    /// PSFB picture loss indication.
    Pli(Pli),
    /// PSFB full intra request.
    Fir(Fir<'a>),
    /// PSFB REMB.
    Remb(Remb<'a>),
    /// Anything else (skippable).
    Unknown(Unknown<'a>),
}

impl<'a> RtcpPacket<'a> {
    /// Decodes one packet's body given its header.
    pub fn parse(header: &Header, body: &'a [u8]) -> Result<Self, Error> {
        let count = header.count;
        let unknown = RtcpPacket::Unknown(Unknown { packet_type: header.packet_type, count, body });
        Ok(match (header.packet_type, count) {
            (packet_type::SR, _) => RtcpPacket::SenderReport(SenderReport::parse(count, body)?),
            (packet_type::RR, _) => RtcpPacket::ReceiverReport(ReceiverReport::parse(count, body)?),
            (packet_type::SDES, _) => RtcpPacket::Sdes(Sdes::parse(count, body)?),
            (packet_type::BYE, _) => RtcpPacket::Bye(Bye::parse(count, body)?),
            (packet_type::APP, _) => RtcpPacket::App(App::parse(count, body)?),
            (packet_type::XR, _) => RtcpPacket::ExtendedReport(ExtendedReport::parse(body)?),
            (packet_type::RTPFB, rtpfb::NACK) => RtcpPacket::Nack(Nack::parse(body)?),
            (packet_type::RTPFB, rtpfb::TRANSPORT_CC) => RtcpPacket::TransportCc(TransportCc::parse(body)?),
            (packet_type::PSFB, psfb::PLI) => {
                let (sender_ssrc, media_ssrc, _) = ssrcs(body, packet_type::PSFB)?;
                RtcpPacket::Pli(Pli { sender_ssrc, media_ssrc })
            }
            (packet_type::PSFB, psfb::FIR) => RtcpPacket::Fir(Fir::parse(body)?),
            (packet_type::PSFB, psfb::AFB) => match Remb::parse(body)? {
                Some(remb) => RtcpPacket::Remb(remb),
                None => unknown,
            },
            _ => unknown,
        })
    }
}

/// Lazy iterator over the packets of a compound (or reduced-size, RFC 5506) RTCP datagram.
///
/// Each item is one packet. A packet whose body does not decode yields an error and the iterator moves
/// on to the next one; a header whose length runs past the datagram yields an error and ends the
/// iteration (nothing after it can be framed). Unknown packet types are yielded as
/// [`RtcpPacket::Unknown`] and can simply be skipped.
#[derive(Clone, Debug)]
pub struct Compound<'a> {
    data: &'a [u8],
}

impl<'a> Compound<'a> {
    /// Iterates the packets of `datagram` (after SRTCP unprotection).
    pub fn new(datagram: &'a [u8]) -> Self {
        Self { data: datagram }
    }

    /// Checks that `datagram` frames into whole RTCP packets (version 2, lengths and padding consistent),
    /// without decoding bodies.
    pub fn check_framing(datagram: &[u8]) -> Result<usize, Error> {
        let mut n = 0;
        let mut it = Compound::new(datagram);
        while !it.data.is_empty() {
            it.frame()?;
            n += 1;
        }
        Ok(n)
    }

    fn frame(&mut self) -> Result<(Header, &'a [u8]), Error> {
        let header = match Header::parse(self.data) {
            Ok(h) => h,
            Err(e) => {
                self.data = &[];
                return Err(e);
            }
        };
        let Some(packet) = self.data.get(..header.packet_len()) else {
            self.data = &[];
            return Err(Error::Truncated);
        };
        self.data = self.data.get(header.packet_len()..).unwrap_or_default();
        let mut end = packet.len();
        if header.padding {
            let pad = usize::from(packet.last().copied().unwrap_or(0));
            if pad == 0 || pad > end - HEADER_LEN {
                return Err(Error::BadPadding);
            }
            end -= pad;
        }
        Ok((header, packet.get(HEADER_LEN..end).unwrap_or_default()))
    }
}

impl<'a> Iterator for Compound<'a> {
    type Item = Result<RtcpPacket<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.data.is_empty() {
            return None;
        }
        Some(self.frame().and_then(|(header, body)| RtcpPacket::parse(&header, body)))
    }
}
