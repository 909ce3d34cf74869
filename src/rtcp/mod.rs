//! RTCP (RFC 3550 §6) compound packets and the feedback messages WebRTC uses.
//!
//! [`Compound`] iterates the packets of a datagram lazily, yielding typed views ([`RtcpPacket`]) that
//! borrow the datagram: SR, RR, SDES, BYE, APP, XR (RRTR, DLRR), Generic NACK, transport-wide CC
//! feedback, PLI, FIR and REMB. Reduced-size RTCP (RFC 5506: a datagram that does not start with SR/RR)
//! is accepted; unknown packet types come out as [`RtcpPacket::Unknown`] and are skippable. Lists inside
//! packets (report blocks, SDES chunks, NACK entries, TWCC statuses…) are lazy iterators too.
//! [`Writer`] appends packets to a caller-owned buffer.
//!
//! ```
//! use sansrtc::rtcp::{Compound, RtcpPacket, Writer};
//!
//! let mut buf = Vec::new();
//! Writer::new(&mut buf).nack_lost(1, 2, [100, 101, 105, 300])?;
//! for packet in Compound::new(&buf) {
//!     if let Ok(RtcpPacket::Nack(nack)) = packet {
//!         assert_eq!(nack.lost().collect::<Vec<_>>(), [100, 101, 105, 300]);
//!     }
//! }
//! # Ok::<(), sansrtc::rtcp::Error>(())
//! ```

#![deny(clippy::indexing_slicing)]

mod compound;
mod error;
mod feedback;
mod read;
mod report;
mod twcc;
mod writer;

#[cfg(test)]
mod tests;

pub use compound::{Compound, HEADER_LEN, Header, RtcpPacket, Unknown};
pub use error::Error;
pub use feedback::{
    DlrrItem, DlrrItems, ExtendedReport, Fir, FirEntry, Nack, NackPair, Pli, REMB_ID, Remb, XrBlock, psfb, rtpfb,
    xr_block,
};
pub use report::{
    App, Bye, REPORT_BLOCK_LEN, ReceiverReport, ReportBlock, ReportBlocks, SENDER_INFO_LEN, Sdes, SdesChunk, SdesItem,
    SdesItems, SdesType, SenderInfo, SenderReport,
};
pub use twcc::{DELTA_TICK_US, REFERENCE_TICK_MS, TransportCc, TransportCcRepr, TwccPacket, TwccPackets, TwccStatus};
pub use writer::{SdesChunkRepr, Writer, XrBlockRepr};

/// RTCP packet types.
pub mod packet_type {
    /// Sender report.
    pub const SR: u8 = 200;
    /// Receiver report.
    pub const RR: u8 = 201;
    /// Source description.
    pub const SDES: u8 = 202;
    /// Goodbye.
    pub const BYE: u8 = 203;
    /// Application-defined.
    pub const APP: u8 = 204;
    /// Transport-layer feedback (RFC 4585).
    pub const RTPFB: u8 = 205;
    /// Payload-specific feedback (RFC 4585).
    pub const PSFB: u8 = 206;
    /// Extended report (RFC 3611).
    pub const XR: u8 = 207;
}
