//! What the session reports: events, received packets, statistics.

use core::time::Duration;

use crate::rtcp::{ReportBlock, SenderInfo};
use crate::rtp::Packet;
use crate::time::Instant;

/// Which key frame request arrived or is to be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyframeRequest {
    /// Picture loss indication (RFC 4585 §6.3.1).
    Pli,
    /// Full intra request (RFC 5104 §4.3.1).
    Fir,
}

/// Up to eight SSRCs, inline (a REMB's list; longer lists are cut).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SsrcList {
    ssrcs: [u32; 8],
    len: u8,
}

impl SsrcList {
    pub(super) fn collect(ssrcs: impl Iterator<Item = u32>) -> Self {
        let mut list = SsrcList::default();
        for (slot, s) in list.ssrcs.iter_mut().zip(ssrcs) {
            *slot = s;
            list.len += 1;
        }
        list
    }

    /// The SSRCs.
    pub fn as_slice(&self) -> &[u32] {
        self.ssrcs.get(..usize::from(self.len)).unwrap_or_default()
    }
}

/// One packet of a transport-wide CC feedback, matched with what was sent (raw figures, no estimation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PacketFeedback {
    /// The transport-wide sequence number, extended past 16 bits.
    pub transport_sequence: u64,
    /// The stream the packet belonged to (the RTX SSRC for a retransmission).
    pub ssrc: u32,
    /// Its RTP sequence number.
    pub sequence: u16,
    /// When the session sent it (the `now` of the send).
    pub sent_at: Instant,
    /// Its size in octets (RTP header and payload, before SRTP).
    pub size: usize,
    /// When it arrived, in microseconds on the receiver's clock (reference time × 64 ms plus the receive
    /// deltas; only differences between packets mean anything), or `None` if reported not received.
    pub arrival_us: Option<i64>,
    /// The feedback packet count it came in (groups the packets of one feedback).
    pub feedback_count: u8,
}

/// Something the session reports. Drain with `poll_event` until `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A receive stream was created for an unknown SSRC (with [`super::UnknownSsrcs::Accept`]).
    NewReceiveStream {
        /// Its SSRC.
        ssrc: u32,
        /// The payload type it arrived with.
        payload_type: u8,
    },
    /// The peer asks one of our send streams for a key frame (a PLI, or a new FIR command).
    KeyframeRequest {
        /// Our send stream.
        ssrc: u32,
        /// PLI or FIR.
        kind: KeyframeRequest,
    },
    /// A receiver estimated maximum bitrate (REMB).
    Remb {
        /// Who sent it.
        sender_ssrc: u32,
        /// The estimate in bit/s.
        bitrate: u64,
        /// The SSRCs it applies to.
        ssrcs: SsrcList,
    },
    /// A sender report for one of our receive streams (its NTP/RTP time pair, for synchronisation).
    SenderReport {
        /// The receive stream.
        ssrc: u32,
        /// Its sender information.
        info: SenderInfo,
    },
    /// A reception report about one of our send streams (or their RTX streams).
    ReceiverReport {
        /// Our stream reported on.
        ssrc: u32,
        /// Who reported.
        reporter: u32,
        /// The report.
        block: ReportBlock,
    },
    /// A round-trip time measured from a report (RFC 3550 §6.4.1 LSR/DLSR, or RFC 3611 DLRR).
    RoundTripTime {
        /// The remote SSRC the measurement is with.
        ssrc: u32,
        /// The round-trip time.
        rtt: Duration,
    },
    /// Packets of a receive stream that will not be repaired (out of NACK retries, too old, out of the
    /// window). With `keyframe_on_loss`, a PLI went out unless one was sent very recently.
    Unrepairable {
        /// The receive stream.
        ssrc: u32,
        /// How many packets were given up.
        packets: u32,
        /// Whether a PLI was sent for it.
        keyframe_requested: bool,
    },
    /// One packet of a transport-wide CC feedback (consecutive events of one feedback share its
    /// `feedback_count`).
    TransportFeedback(PacketFeedback),
    /// The peer said goodbye for a receive stream (RFC 3550 §6.6). The stream stays until removed.
    Bye {
        /// The receive stream.
        ssrc: u32,
    },
}

/// An RTP packet handed to the application by `handle_receive`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceivedRtp<'a> {
    /// The packet, with its original SSRC, sequence number and payload type if it was repaired.
    pub packet: Packet<&'a [u8]>,
    /// The (original) SSRC.
    pub ssrc: u32,
    /// Extended sequence number (monotonic per stream, also across a source restart).
    pub sequence: u64,
    /// Extended RTP timestamp.
    pub timestamp: i64,
    /// It came as an RTX retransmission (RFC 4588) and was restored.
    pub repaired: bool,
    /// The transport-wide sequence number it carried, if any.
    pub transport_sequence: Option<u16>,
}

/// What `handle_receive` made of a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Received<'a> {
    /// An RTP packet of a receive stream.
    Rtp(ReceivedRtp<'a>),
    /// An RTX packet without a retransmission in it (padding, a bandwidth probe).
    Padding {
        /// The RTX SSRC.
        ssrc: u32,
    },
    /// An RTP packet (an original, or a retransmission restored from RTX) of a packet this stream had
    /// received already: Chromium probes the bandwidth with retransmissions of packets that were not
    /// lost. Counted (statistics, receiver reports, transport-wide feedback) and not handed up again.
    /// Told only for streams with NACK, within its window.
    Duplicate {
        /// The (original) SSRC.
        ssrc: u32,
        /// Its extended sequence number.
        sequence: u64,
        /// It came as an RTX retransmission.
        repaired: bool,
    },
    /// An RTCP compound packet; what it said comes out as events.
    Rtcp {
        /// Packets of the compound dropped as bad or unknown (counted in [`Stats`]).
        dropped: u8,
    },
}

/// Counters of the whole session ([`super::Session::stats`]). Drops name the reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// RTP packets accepted (originals and restored retransmissions).
    pub rtp_received: u64,
    /// RTP packets dropped (any reason below).
    pub rtp_dropped: u64,
    /// RTP or RTCP about an unknown SSRC.
    pub unknown_ssrc: u64,
    /// RTP packets with our own SSRC.
    pub own_ssrc: u64,
    /// RTP packets refused while their unsignalled source was on probation.
    pub probation: u64,
    /// RTCP compound packets received.
    pub rtcp_received: u64,
    /// RTCP packets (within compounds) dropped.
    pub rtcp_dropped: u64,
    /// Sender reports dropped because their NTP time did not advance.
    pub sr_not_monotonic: u64,
    /// RTCP datagrams sent.
    pub rtcp_sent: u64,
    /// Regular (compound) reports sent.
    pub reports_sent: u64,
    /// NACK packets sent.
    pub nacks_sent: u64,
    /// Sequence numbers NACKed (each retry counts).
    pub nacked_packets: u64,
    /// PLIs sent.
    pub plis_sent: u64,
    /// FIRs sent.
    pub firs_sent: u64,
    /// Transport-wide CC feedback packets sent.
    pub twcc_sent: u64,
    /// Sequence numbers asked for by NACKs received.
    pub nack_requests: u64,
    /// NACK FCI entries beyond `nack.max_fci` in one packet, not read.
    pub nack_fci_dropped: u64,
    /// NACKed sequence numbers this stream never sent.
    pub nack_never_sent: u64,
    /// NACKed packets no longer in the history.
    pub nack_too_old: u64,
    /// NACKs that could not be answered: no RTX stream or no RTX payload type.
    pub nack_no_rtx: u64,
    /// RTX packets sent.
    pub rtx_sent: u64,
    /// NACKed packets not resent because they were resent less than half a round trip ago.
    pub rtx_suppressed: u64,
    /// RTX packets received and restored.
    pub rtx_received: u64,
    /// Restored packets that were neither missing nor received (given up, out of the NACK window, or of
    /// a stream without NACK): handed up all the same.
    pub rtx_spurious: u64,
    /// Restored packets already received ([`Received::Duplicate`]): not handed up.
    pub rtx_duplicates: u64,
    /// Originals already received ([`Received::Duplicate`]): not handed up.
    pub duplicates: u64,
    /// RTX packets without a retransmission (padding).
    pub rtx_padding: u64,
    /// Transport-wide CC feedback packets received.
    pub twcc_received: u64,
    /// Packets reported in feedback that this session never sent or no longer remembers.
    pub twcc_unknown: u64,
    /// Packets of a feedback not read (more than the send history can hold).
    pub twcc_dropped: u64,
    /// Transport-wide sequence numbers received after they had been reported.
    pub twcc_late: u64,
    /// Events dropped because the queue was full.
    pub events_dropped: u64,
    /// Datagrams dropped because the transmit queue was full.
    pub transmits_dropped: u64,
}

/// Statistics of a receive stream ([`super::Session::receive_stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceiveStats {
    /// Its SSRC.
    pub ssrc: u32,
    /// Packets received as originals (RFC 3550 `received`, duplicates included).
    pub packets: u64,
    /// Payload octets received (originals and repairs).
    pub payload_bytes: u64,
    /// RTP header octets received (fixed header, CSRCs, extensions, padding), originals and repairs.
    pub header_bytes: u64,
    /// Extended highest sequence number received (0 before the first valid packet).
    pub highest_sequence: u64,
    /// Packets expected (RFC 3550 §A.3).
    pub expected: u64,
    /// Cumulative packets lost among the originals (RFC 3550 §A.3; negative with duplicates).
    pub lost: i64,
    /// Fraction lost in the last report interval, in 1/256.
    pub fraction_lost: u8,
    /// Interarrival jitter in timestamp units (RFC 3550 §A.8).
    pub jitter: u32,
    /// Lost originals repaired by RTX.
    pub repaired: u64,
    /// Packets given up.
    pub unrepairable: u64,
    /// Packets missing now.
    pub missing: u64,
    /// RTX packets received for this stream.
    pub rtx_packets: u64,
    /// PLIs sent for this stream.
    pub plis_sent: u64,
    /// FIRs sent for this stream.
    pub firs_sent: u64,
    /// NACK packets sent for this stream.
    pub nacks_sent: u64,
    /// Sender reports received for this stream.
    pub sender_reports: u64,
    /// The last sender report, and when it arrived.
    pub last_sender_report: Option<(SenderInfo, Instant)>,
}

/// Statistics of a send stream ([`super::Session::send_stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendStats {
    /// Its SSRC.
    pub ssrc: u32,
    /// Packets sent (RFC 3550 sender's packet count, not wrapped).
    pub packets: u64,
    /// Payload octets sent (sender's octet count, not wrapped).
    pub payload_bytes: u64,
    /// RTX packets sent.
    pub rtx_packets: u64,
    /// RTX octets sent (whole packets).
    pub rtx_bytes: u64,
    /// RTP header octets sent (fixed header, CSRCs, extensions, padding).
    pub header_bytes: u64,
    /// Key frame requests received (PLI and new FIRs).
    pub keyframe_requests: u64,
    /// PLIs received.
    pub plis_received: u64,
    /// New FIRs received.
    pub firs_received: u64,
    /// NACKed sequence numbers received.
    pub nack_requests: u64,
    /// The latest reception report about it.
    pub last_report: Option<ReportBlock>,
    /// The latest round-trip time measured from a report about it.
    pub rtt: Option<Duration>,
    /// The sum of every round-trip time measured from reports about it.
    pub total_rtt: Duration,
    /// How many round-trip times were measured from reports about it.
    pub rtt_measurements: u64,
    /// Reception reports received about it.
    pub reports_received: u64,
    /// Octets of memory its retransmission history holds.
    pub history_bytes: usize,
}
