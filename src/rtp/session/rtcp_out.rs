//! RTCP the session sends: regular compound reports on the RFC 3550 §6.3 schedule, and feedback (NACK,
//! PLI, FIR, transport-wide CC, BYE) as soon as it is due, compound or reduced-size (RFC 5506).

use core::time::Duration;

use super::nack::NackTiming;
use super::receive::clamp_lost;
use super::report::{self, Membership, mid32, to_units};
use super::{DlrrItem, KeyframeRequest, PacketKind, RRTR_SLOTS, Session, TARGET, Timer, dlrr_item};
use crate::rtcp::{self, FirEntry, ReportBlock, SdesChunkRepr, SdesType, TransportCcRepr, Writer, XrBlockRepr};
use crate::time::Instant;

/// Report blocks per SR or RR (the 5-bit count).
const MAX_BLOCKS: usize = 31;

/// The wait before NACKing a packet again: a round trip plus a margin for the retransmission's own
/// delay (a quarter of the round trip, at least 5 ms).
pub(super) fn retry_after(rtt: Duration) -> Duration {
    rtt + (rtt / 4).max(Duration::from_millis(5))
}

impl Session {
    fn membership(&self) -> Membership {
        let receiving = self.recv.iter().flatten().count() as u64;
        let heard = self.recv.iter().flatten().filter(|s| s.heard).count() as u64;
        let we_sent = self.send.iter().flatten().any(|s| s.sent_since_report);
        Membership { members: 1 + receiving, senders: heard + u64::from(we_sent), we_sent }
    }

    /// RFC 3550 §A.7 `rtcp_interval` for the session as it is now.
    pub(super) fn report_interval(&mut self) -> Duration {
        let who = self.membership();
        self.schedule.interval(&self.config.rtcp, who, &mut self.rng)
    }

    /// RFC 3550 §A.7 `OnExpire` for a report: send if the interval, drawn again, has passed since the last
    /// report (timer reconsideration), else wait until it has.
    pub(super) fn on_report_timer(&mut self, now: Instant) {
        let t = self.report_interval();
        let last = self.schedule.last.unwrap_or(now);
        let next = last + t;
        if next > now {
            self.timers.set(Timer::Report, next);
            return;
        }
        let t = self.report_interval();
        self.send_report(now);
        self.schedule.last = Some(now);
        self.schedule.initial = false;
        self.timers.set(Timer::Report, now + t);
    }

    /// Fills `scratch.blocks` with a reception report block for every source heard since the last report
    /// and starts new loss intervals.
    fn collect_blocks(&mut self, now: Instant) {
        let blocks = &mut self.scratch.blocks;
        blocks.clear();
        for s in self.recv.iter_mut().flatten() {
            if core::mem::take(&mut s.heard) {
                if let Some(seq) = s.seq.as_mut().filter(|q| q.valid()) {
                    let fraction_lost = seq.take_fraction_lost();
                    s.stats.fraction_lost = fraction_lost;
                    let (last_sr, delay_since_last_sr) = match s.last_sr {
                        Some((info, at)) => (mid32(info.ntp_timestamp), to_units(now - at)),
                        None => (0, 0),
                    };
                    blocks.push(ReportBlock {
                        ssrc: s.config.ssrc,
                        fraction_lost,
                        cumulative_lost: clamp_lost(seq.lost()),
                        highest_sequence: seq.ext_max() as u32,
                        jitter: s.jitter.get(),
                        last_sr,
                        delay_since_last_sr,
                    });
                }
            }
            if core::mem::take(&mut s.rtx_heard) {
                if let (Some(seq), Some(ssrc)) = (s.rtx_seq.as_mut(), s.config.rtx_ssrc) {
                    blocks.push(ReportBlock {
                        ssrc,
                        fraction_lost: seq.take_fraction_lost(),
                        cumulative_lost: clamp_lost(seq.lost()),
                        highest_sequence: seq.ext_max() as u32,
                        jitter: 0, // meaningless for retransmissions (RFC 4588 §4)
                        last_sr: 0,
                        delay_since_last_sr: 0,
                    });
                }
            }
        }
    }

    /// Writes the SDES CNAME chunks: our RTCP SSRC and, with `senders`, every send stream's SSRC.
    fn write_sdes(&mut self, senders: bool) -> Result<(), rtcp::Error> {
        let items = [(SdesType::Cname, self.config.cname.as_bytes())];
        let mut chunks = [SdesChunkRepr { ssrc: self.rtcp_ssrc, items: &items }; MAX_BLOCKS];
        let mut n = 1;
        let ssrcs = self.send.iter().flatten().map(|s| s.config.ssrc).filter(|s| *s != self.rtcp_ssrc);
        let mut w = Writer::new(&mut self.scratch.packet);
        for ssrc in ssrcs.take_while(|_| senders) {
            if n == MAX_BLOCKS {
                w.sdes(&chunks)?;
                n = 0;
            }
            if let Some(c) = chunks.get_mut(n) {
                c.ssrc = ssrc;
                n += 1;
            }
        }
        if n > 0 {
            w.sdes(chunks.get(..n).unwrap_or_default())?;
        }
        Ok(())
    }

    /// Builds and queues a regular compound report: SRs of the streams that sent (the first carrying the
    /// report blocks), an RR for blocks left over or when nothing was sent, SDES, and XR RRTR/DLRR.
    fn send_report(&mut self, now: Instant) {
        self.collect_blocks(now);
        self.scratch.packet.clear();
        if self.write_report(now).is_err() {
            tracing::debug!(target: TARGET, "report too large to write");
            return;
        }
        for s in self.send.iter_mut().flatten() {
            s.sent_since_report = false;
        }
        if self.queue_scratch(PacketKind::Rtcp) {
            self.stats.reports_sent += 1;
        }
    }

    fn write_report(&mut self, now: Instant) -> Result<(), rtcp::Error> {
        let ntp = report::ntp(self.config.ntp_epoch, now);
        let mut w = Writer::new(&mut self.scratch.packet);
        let mut blocks = &self.scratch.blocks[..];
        let mut wrote_sr = false;
        for s in self.send.iter().flatten() {
            if let Some(info) = s.sender_info(now, ntp) {
                let (these, rest) = blocks.split_at(blocks.len().min(MAX_BLOCKS));
                w.sender_report(s.config.ssrc, &info, these, &[])?;
                blocks = rest;
                wrote_sr = true;
            }
        }
        while !wrote_sr || !blocks.is_empty() {
            let (these, rest) = blocks.split_at(blocks.len().min(MAX_BLOCKS));
            w.receiver_report(self.rtcp_ssrc, these, &[])?;
            blocks = rest;
            wrote_sr = true;
        }
        self.write_sdes(true)?;
        // XR: our reference time, and the delay since each RRTR received (answered once).
        let mut items = [DlrrItem::default(); RRTR_SLOTS];
        let mut n = 0;
        for seen in self.rrtr.iter_mut().filter_map(Option::take) {
            if let Some(slot) = items.get_mut(n) {
                *slot = dlrr_item(&seen, now);
                n += 1;
            }
        }
        let dlrr = XrBlockRepr::Dlrr(items.get(..n).unwrap_or_default());
        let rrtr = XrBlockRepr::Rrtr { ntp_timestamp: ntp };
        let mut w = Writer::new(&mut self.scratch.packet);
        match (self.config.rtcp.rrtr, n > 0) {
            (true, true) => w.extended_report(self.rtcp_ssrc, &[rrtr, dlrr])?,
            (true, false) => w.extended_report(self.rtcp_ssrc, &[rrtr])?,
            (false, true) => w.extended_report(self.rtcp_ssrc, &[dlrr])?,
            (false, false) => {}
        }
        Ok(())
    }

    /// Starts a feedback datagram in `scratch.packet`: empty for reduced-size RTCP, else the RR (without
    /// blocks, so report intervals are not disturbed) and SDES a compound packet must begin with.
    fn begin_feedback(&mut self) -> Result<(), rtcp::Error> {
        self.scratch.packet.clear();
        if !self.config.rtcp.reduced_size {
            Writer::new(&mut self.scratch.packet).receiver_report(self.rtcp_ssrc, &[], &[])?;
            self.write_sdes(false)?;
        }
        Ok(())
    }

    /// Sends a PLI or FIR for receive stream `i`.
    pub(super) fn send_keyframe_request(&mut self, now: Instant, i: usize, kind: KeyframeRequest) {
        let Some(stream) = self.recv.get_mut(i).and_then(Option::as_mut) else { return };
        let ssrc = stream.config.ssrc;
        let fir_seq = stream.fir_seq;
        match kind {
            KeyframeRequest::Pli => stream.last_pli = Some(now),
            KeyframeRequest::Fir => stream.fir_seq = stream.fir_seq.wrapping_add(1),
        }
        if self.begin_feedback().is_err() {
            return;
        }
        let sender = self.rtcp_ssrc;
        let mut w = Writer::new(&mut self.scratch.packet);
        let written = match kind {
            KeyframeRequest::Pli => w.pli(sender, ssrc),
            KeyframeRequest::Fir => w.fir(sender, &[FirEntry { ssrc, sequence: fir_seq }]),
        };
        if written.is_err() || !self.queue_scratch(PacketKind::Rtcp) {
            return;
        }
        let Some(stream) = self.recv.get_mut(i).and_then(Option::as_mut) else { return };
        match kind {
            KeyframeRequest::Pli => {
                stream.stats.plis_sent += 1;
                self.stats.plis_sent += 1;
            }
            KeyframeRequest::Fir => {
                stream.stats.firs_sent += 1;
                self.stats.firs_sent += 1;
            }
        }
        tracing::debug!(target: TARGET, ssrc, ?kind, "key frame requested");
    }

    /// A NACK pass over every receive stream due: NACKs what is due, gives up what is out of retries.
    pub(super) fn nack_pass(&mut self, now: Instant) {
        let timing = NackTiming {
            reorder_delay: self.config.nack.reorder_delay,
            retry_after: retry_after(self.working_rtt()),
            max_retries: self.config.nack.max_retries,
            max_age: self.config.nack.max_age,
        };
        let max_fci = self.config.nack.max_fci;
        for i in 0..self.recv.len() {
            let Some(stream) = self.recv.get_mut(i).and_then(Option::as_mut) else { continue };
            let ssrc = stream.config.ssrc;
            let Some(tracker) = stream.nack.as_mut().filter(|t| t.due.is_some_and(|d| d <= now)) else { continue };
            self.scratch.pairs.clear();
            let given_up = tracker.poll(now, &timing, &mut self.scratch.pairs, max_fci);
            if !self.scratch.pairs.is_empty() && self.begin_feedback().is_ok() {
                let packets: u64 = self.scratch.pairs.iter().map(|p| 1 + u64::from(p.blp.count_ones())).sum();
                let written = Writer::new(&mut self.scratch.packet).nack(self.rtcp_ssrc, ssrc, &self.scratch.pairs);
                if written.is_ok() && self.queue_scratch(PacketKind::Rtcp) {
                    if let Some(stream) = self.recv.get_mut(i).and_then(Option::as_mut) {
                        stream.stats.nacks_sent += 1;
                    }
                    self.stats.nacks_sent += 1;
                    self.stats.nacked_packets += packets;
                    tracing::trace!(target: TARGET, ssrc, packets, "NACK sent");
                }
            }
            if given_up > 0 {
                self.unrepairable(now, i, given_up);
            }
        }
        self.refresh_nack_timer();
    }

    /// Sends transport-wide feedback for every arrival not yet reported.
    pub(super) fn send_twcc_feedback(&mut self, now: Instant) {
        let max = self.config.twcc.max_per_feedback;
        // A full receive window takes window / max feedback packets; bound the loop by that.
        let rounds = self.config.twcc.receive_window / max + 2;
        for _ in 0..rounds {
            let Some(fb) = self.twcc_recv.as_mut().and_then(|r| r.build(&mut self.scratch.statuses, max)) else {
                break;
            };
            if self.begin_feedback().is_err() {
                break;
            }
            let repr = TransportCcRepr {
                sender_ssrc: self.rtcp_ssrc,
                media_ssrc: fb.media_ssrc,
                base_sequence: fb.base_sequence,
                reference_time: fb.reference_time,
                feedback_count: fb.feedback_count,
                packets: &self.scratch.statuses,
            };
            if Writer::new(&mut self.scratch.packet).transport_cc(&repr).is_ok() && self.queue_scratch(PacketKind::Rtcp)
            {
                self.stats.twcc_sent += 1;
            }
        }
        self.twcc_last = Some(now);
        if self.twcc_recv.as_ref().is_some_and(|r| r.pending()) {
            self.timers.set(Timer::Twcc, now + self.config.twcc.interval);
        }
    }

    /// Queues a BYE for a send stream being removed (in a compound: RR, SDES, BYE).
    pub(super) fn queue_bye(&mut self, ssrc: u32, rtx: Option<u32>) {
        let ssrcs = [ssrc, rtx.unwrap_or(ssrc)];
        let ssrcs = ssrcs.get(..if rtx.is_some() { 2 } else { 1 }).unwrap_or_default();
        self.scratch.packet.clear();
        let written = Writer::new(&mut self.scratch.packet)
            .receiver_report(self.rtcp_ssrc, &[], &[])
            .and_then(|()| self.write_sdes(false))
            .and_then(|()| Writer::new(&mut self.scratch.packet).bye(ssrcs, None));
        if written.is_ok() {
            self.queue_scratch(PacketKind::Rtcp);
        }
    }
}
