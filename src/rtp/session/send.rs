//! A send stream: sequence numbering, sender report figures, the retransmission history and the RTX
//! packets built from it (RFC 4588 §4).

use alloc::vec::Vec;

use super::config::{HistoryConfig, SendStreamConfig};
use super::event::SendStats;
use super::history::PacketHistory;
use super::receive::rtp_time;
use crate::rtcp::SenderInfo;
use crate::rtp::{self, ExtensionForm, ExtensionKind, ExtensionMap, Header, Packet, Writer};
use crate::time::Instant;

#[derive(Clone, Debug)]
pub(super) struct SendStream {
    pub(super) config: SendStreamConfig,
    pub(super) next_seq: u16,
    pub(super) rtx_seq: u16,
    pub(super) history: PacketHistory,
    /// The RTP timestamp of the newest packet and when it was sent: the clock for sender reports.
    pub(super) last_rtp: Option<(u32, Instant)>,
    /// The sequence number of the last FIR acted on (RFC 5104 §4.3.1.2: a repeat is not a new request).
    pub(super) last_fir: Option<(u32, u8)>,
    pub(super) sent_since_report: bool,
    pub(super) stats: SendStats,
}

impl SendStream {
    pub(super) fn new(config: SendStreamConfig, first_seq: u16, rtx_seq: u16) -> Self {
        Self {
            config,
            next_seq: config.initial_sequence.unwrap_or(first_seq),
            rtx_seq,
            // Without RTX nothing is kept.
            history: PacketHistory::new(match config.rtx_ssrc {
                Some(_) => config.history,
                None => HistoryConfig::new(0, 0, config.history.max_age),
            }),
            last_rtp: None,
            last_fir: None,
            sent_since_report: false,
            stats: SendStats { ssrc: config.ssrc, ..SendStats::default() },
        }
    }

    /// Records a packet just sent.
    pub(super) fn on_sent(&mut self, now: Instant, seq: u16, timestamp: u32, payload_len: usize, packet: &[u8]) {
        self.next_seq = seq.wrapping_add(1);
        self.stats.packets += 1;
        self.stats.payload_bytes += payload_len as u64;
        self.stats.header_bytes += packet.len().saturating_sub(payload_len) as u64;
        self.last_rtp = Some((timestamp, now));
        self.sent_since_report = true;
        if self.config.rtx_ssrc.is_some() {
            self.history.store(now, seq, packet);
        }
    }

    /// The sender information for a report at `now` (NTP time `ntp`), if the stream has sent anything.
    /// The RTP timestamp is the newest packet's, advanced by the time since at the clock rate.
    pub(super) fn sender_info(&self, now: Instant, ntp: u64) -> Option<SenderInfo> {
        let (ts, at) = self.last_rtp?;
        let elapsed = rtp_time(Instant::ZERO + now.saturating_duration_since(at), self.config.clock_rate);
        Some(SenderInfo {
            ntp_timestamp: ntp,
            rtp_timestamp: ts.wrapping_add(elapsed),
            packet_count: self.stats.packets as u32,
            octet_count: self.stats.payload_bytes as u32,
        })
    }
}

/// Writes into `out` (cleared first) the RTX packet (RFC 4588 §4) repairing `original`: the RTX header
/// `rtx` (its own SSRC, sequence number and payload type; the original timestamp and marker), the
/// original CSRCs and header extensions (the transport-wide sequence number replaced by `twcc`'s, an
/// RtpStreamId element rewritten as RepairedRtpStreamId when the map has one), then the original sequence
/// number (OSN) and payload. The original padding is not carried.
pub(super) fn write_rtx(
    out: &mut Vec<u8>,
    original: &Packet<&[u8]>,
    rtx: &Header,
    map: &ExtensionMap,
    twcc: Option<(u8, u16)>,
) -> Result<(), rtp::Error> {
    out.clear();
    let mut csrcs = [0u32; 15];
    let mut n = 0;
    for (slot, c) in csrcs.iter_mut().zip(original.csrcs()) {
        *slot = c;
        n += 1;
    }
    let mut w = Writer::new(out, rtx, csrcs.get(..n).unwrap_or_default())?;
    if let Some(form) = original.extension_profile().and_then(ExtensionForm::from_profile) {
        w.start_extensions(form)?;
        let rid = map.id(ExtensionKind::RtpStreamId);
        let rrid = map.id(ExtensionKind::RepairedRtpStreamId);
        let twcc_bytes = twcc.map(|(id, seq)| (id, seq.to_be_bytes()));
        for e in original.extensions().flatten() {
            let (id, data) = match (twcc_bytes.as_ref(), rrid) {
                (Some((tid, bytes)), _) if *tid == e.id => (e.id, &bytes[..]),
                (_, Some(rrid)) if Some(e.id) == rid => (rrid, e.data),
                _ => (e.id, e.data),
            };
            // An element the form cannot carry (a rewritten ID) is left out.
            let _ = w.extension(id, data);
        }
    }
    w.finish(&[], 0)?;
    out.extend_from_slice(&original.sequence_number().to_be_bytes());
    out.extend_from_slice(original.payload());
    Ok(())
}
