//! RTCP the session receives: reports (sender information, reception blocks, round-trip times), XR
//! RRTR/DLRR, NACKs answered with RTX, transport-wide feedback, key frame requests, REMB and BYE.
//!
//! Each packet of a compound is used or dropped on its own; a dropped one changes nothing. The work a
//! packet can cause is bounded: a NACK is read for `nack.max_fci` entries, a transport-wide feedback for
//! as many packets as the send history holds.

use super::event::PacketFeedback;
use super::history::Lookup;
use super::report::{mid32, ntp, rtt_from};
use super::{
    Error, Event, KeyframeRequest, PacketKind, RRTR_SLOTS, Received, Route, RrtrSeen, Session, SsrcList, TARGET, send,
};
use crate::rtcp::{Compound, ReportBlocks, RtcpPacket, TransportCc, XrBlock};
use crate::rtp::{Header, Packet};
use crate::time::Instant;

/// Microseconds per TWCC reference time tick (64 ms) and per receive delta tick (250 µs).
const REFERENCE_US: i64 = 64_000;
const DELTA_US: i64 = 250;

impl Session {
    /// One RTCP compound (or reduced-size) datagram.
    pub(super) fn receive_rtcp<'a>(&mut self, now: Instant, data: &[u8]) -> Result<Received<'a>, Error> {
        Compound::check_framing(data)?;
        self.stats.rtcp_received += 1;
        let (mut used, mut dropped) = (0u32, 0u32);
        let mut first_error = None;
        for packet in Compound::new(data) {
            let r = match packet {
                Ok(p) => self.on_rtcp(now, &p),
                Err(e) => Err(Error::Rtcp(e)),
            };
            match r {
                Ok(()) => used += 1,
                Err(e) => {
                    dropped += 1;
                    first_error.get_or_insert(e);
                    tracing::trace!(target: TARGET, error = %e, "RTCP packet dropped");
                }
            }
        }
        self.stats.rtcp_dropped += u64::from(dropped);
        if used == 0 {
            return Err(first_error.unwrap_or(Error::NothingUsable));
        }
        self.schedule.observe(data.len());
        Ok(Received::Rtcp { dropped: u8::try_from(dropped).unwrap_or(u8::MAX) })
    }

    fn unknown(&mut self, ssrc: u32) -> Error {
        self.stats.unknown_ssrc += 1;
        Error::UnknownSsrc(ssrc)
    }

    fn send_index(&self, ssrc: u32) -> Option<usize> {
        match self.routes.get(ssrc)? {
            Route::Send(i) => Some(i),
            _ => None,
        }
    }

    fn on_rtcp(&mut self, now: Instant, packet: &RtcpPacket<'_>) -> Result<(), Error> {
        match packet {
            RtcpPacket::SenderReport(sr) => {
                let receive = match self.routes.get(sr.ssrc) {
                    Some(Route::Receive(i)) => Some(i),
                    _ => None,
                };
                if let Some(i) = receive {
                    let Some(stream) = self.recv.get_mut(i).and_then(Option::as_mut) else {
                        return Err(Error::UnknownSsrc(sr.ssrc));
                    };
                    if let Some((previous, _)) = stream.last_sr {
                        if sr.info.ntp_timestamp.wrapping_sub(previous.ntp_timestamp) as i64 <= 0 {
                            self.stats.sr_not_monotonic += 1;
                            return Err(Error::SenderReportNotMonotonic);
                        }
                    }
                    stream.last_sr = Some((sr.info, now));
                    stream.stats.sender_reports += 1;
                    self.event(Event::SenderReport { ssrc: sr.ssrc, info: sr.info });
                }
                let matched = self.on_report_blocks(now, sr.ssrc, sr.reports.clone());
                if receive.is_none() && matched == 0 {
                    return Err(self.unknown(sr.ssrc));
                }
                Ok(())
            }
            RtcpPacket::ReceiverReport(rr) => {
                let first = rr.reports.clone().next();
                let matched = self.on_report_blocks(now, rr.ssrc, rr.reports.clone());
                match first {
                    Some(b) if matched == 0 => Err(self.unknown(b.ssrc)),
                    _ => Ok(()),
                }
            }
            RtcpPacket::ExtendedReport(xr) => {
                for block in xr.blocks() {
                    match block {
                        XrBlock::Rrtr { ntp_timestamp } => self.remember_rrtr(now, xr.ssrc, mid32(ntp_timestamp)),
                        XrBlock::Dlrr(items) => {
                            let now_mid = mid32(ntp(self.config.ntp_epoch, now));
                            let ours = self.rtcp_ssrc;
                            for item in items.filter(|i| i.ssrc == ours) {
                                if let Some(rtt) = rtt_from(now_mid, item.last_rr, item.delay_since_last_rr) {
                                    self.rtt = Some(rtt);
                                    self.event(Event::RoundTripTime { ssrc: xr.ssrc, rtt });
                                }
                            }
                        }
                        XrBlock::Unknown { .. } => {}
                    }
                }
                Ok(())
            }
            RtcpPacket::Nack(nack) => {
                let Some(i) = self.send_index(nack.media_ssrc) else { return Err(self.unknown(nack.media_ssrc)) };
                let max = self.config.nack.max_fci;
                for (n, pair) in nack.pairs().enumerate() {
                    if n >= max {
                        self.stats.nack_fci_dropped += 1;
                        continue;
                    }
                    for seq in pair.lost() {
                        self.answer_nack(now, i, seq);
                    }
                }
                Ok(())
            }
            RtcpPacket::TransportCc(fb) => self.on_transport_feedback(fb),
            RtcpPacket::Pli(pli) => {
                let Some(i) = self.send_index(pli.media_ssrc) else { return Err(self.unknown(pli.media_ssrc)) };
                if let Some(s) = self.send.get_mut(i).and_then(Option::as_mut) {
                    s.stats.keyframe_requests += 1;
                    s.stats.plis_received += 1;
                }
                self.event(Event::KeyframeRequest { ssrc: pli.media_ssrc, kind: KeyframeRequest::Pli });
                Ok(())
            }
            RtcpPacket::Fir(fir) => {
                let mut matched = 0;
                for entry in fir.entries() {
                    let Some(stream) = self.send_index(entry.ssrc).and_then(|i| self.send.get_mut(i)?.as_mut()) else {
                        continue;
                    };
                    matched += 1;
                    // RFC 5104 §4.3.1.2: a repeated sequence number is the same request again.
                    let key = (fir.sender_ssrc, entry.sequence);
                    if stream.last_fir != Some(key) {
                        stream.last_fir = Some(key);
                        stream.stats.keyframe_requests += 1;
                        stream.stats.firs_received += 1;
                        self.event(Event::KeyframeRequest { ssrc: entry.ssrc, kind: KeyframeRequest::Fir });
                    }
                }
                if matched == 0 {
                    return Err(self.unknown(fir.media_ssrc));
                }
                Ok(())
            }
            RtcpPacket::Remb(remb) => {
                let ssrcs = SsrcList::collect(remb.ssrcs());
                self.event(Event::Remb { sender_ssrc: remb.sender_ssrc, bitrate: remb.bitrate, ssrcs });
                Ok(())
            }
            RtcpPacket::Bye(bye) => {
                for ssrc in bye.ssrcs() {
                    if let Some(Route::Receive(_)) = self.routes.get(ssrc) {
                        self.event(Event::Bye { ssrc });
                    }
                }
                Ok(())
            }
            // SDES, APP and unknown types carry nothing the session acts on.
            _ => Ok(()),
        }
    }

    /// Reception report blocks from `reporter`: those about our streams become events and round-trip
    /// times. Returns how many were about our streams.
    fn on_report_blocks(&mut self, now: Instant, reporter: u32, blocks: ReportBlocks<'_>) -> usize {
        let now_mid = mid32(ntp(self.config.ntp_epoch, now));
        let mut matched = 0;
        for block in blocks {
            let (i, media) = match self.routes.get(block.ssrc) {
                Some(Route::Send(i)) => (i, true),
                Some(Route::SendRtx(i)) => (i, false),
                _ => continue,
            };
            let Some(stream) = self.send.get_mut(i).and_then(Option::as_mut) else { continue };
            matched += 1;
            let rtt = rtt_from(now_mid, block.last_sr, block.delay_since_last_sr);
            if media {
                stream.stats.last_report = Some(block);
                stream.stats.reports_received += 1;
                if let Some(rtt) = rtt {
                    stream.stats.rtt = Some(rtt);
                    stream.stats.total_rtt += rtt;
                    stream.stats.rtt_measurements += 1;
                }
            }
            self.event(Event::ReceiverReport { ssrc: block.ssrc, reporter, block });
            if let Some(rtt) = rtt {
                self.rtt = Some(rtt);
                self.event(Event::RoundTripTime { ssrc: reporter, rtt });
            }
        }
        matched
    }

    fn remember_rrtr(&mut self, now: Instant, ssrc: u32, last_rr: u32) {
        let seen = RrtrSeen { ssrc, last_rr, at: now };
        let slot = self
            .rrtr
            .iter()
            .position(|s| s.is_some_and(|s| s.ssrc == ssrc))
            .or_else(|| self.rrtr.iter().position(Option::is_none))
            .or_else(|| (0..RRTR_SLOTS).min_by_key(|&i| self.rrtr.get(i).copied().flatten().map(|s| s.at)));
        if let Some(s) = slot.and_then(|i| self.rrtr.get_mut(i)) {
            *s = Some(seen);
        }
    }

    /// Answers one NACKed sequence number of send stream `i` with an RTX packet, unless it was never
    /// sent, is no longer kept, or was resent less than half a round trip ago.
    fn answer_nack(&mut self, now: Instant, i: usize, seq: u16) {
        self.stats.nack_requests += 1;
        let min_interval = self.working_rtt() / 2;
        let twcc = match (self.twcc_id, &self.twcc_send) {
            (Some(id), Some(t)) => Some((id, t.newest().map_or(0, |n| n + 1) as u16)),
            _ => None,
        };
        let Some(stream) = self.send.get_mut(i).and_then(Option::as_mut) else { return };
        stream.stats.nack_requests += 1;
        let Some(rtx_ssrc) = stream.config.rtx_ssrc else {
            self.stats.nack_no_rtx += 1;
            return;
        };
        let rtx_seq = stream.rtx_seq;
        let original_seq = match stream.history.lookup(now, seq) {
            Lookup::NeverSent => {
                self.stats.nack_never_sent += 1;
                return;
            }
            Lookup::Gone => {
                self.stats.nack_too_old += 1;
                return;
            }
            Lookup::Found { last_resent: Some(t), .. } if now < t + min_interval => {
                self.stats.rtx_suppressed += 1;
                return;
            }
            Lookup::Found { packet, .. } => {
                let Ok(original) = Packet::new_checked(packet) else { return };
                let Some(rtx_pt) = self.config.payload_types.rtx_of(original.payload_type()) else {
                    self.stats.nack_no_rtx += 1;
                    return;
                };
                let header = Header {
                    marker: original.marker(),
                    payload_type: rtx_pt,
                    sequence_number: rtx_seq,
                    timestamp: original.timestamp(),
                    ssrc: rtx_ssrc,
                };
                if send::write_rtx(&mut self.scratch.packet, &original, &header, &self.config.extensions, twcc).is_err()
                {
                    return;
                }
                original.sequence_number()
            }
        };
        if !self.queue_scratch(PacketKind::Rtp) {
            return;
        }
        let len = self.scratch.packet.len();
        if let Some(stream) = self.send.get_mut(i).and_then(Option::as_mut) {
            stream.history.mark_resent(now, original_seq);
            stream.rtx_seq = rtx_seq.wrapping_add(1);
            stream.stats.rtx_packets += 1;
            stream.stats.rtx_bytes += len as u64;
        }
        self.stats.rtx_sent += 1;
        if let (Some(t), Some(_)) = (&mut self.twcc_send, twcc) {
            t.assign(now, rtx_ssrc, rtx_seq, len);
        }
    }

    /// Transport-wide feedback: one event per reported packet this session sent, with the arrival time
    /// the feedback gives. Reads at most as many packets as the send history holds.
    fn on_transport_feedback(&mut self, fb: &TransportCc<'_>) -> Result<(), Error> {
        self.stats.twcc_received += 1;
        let count = usize::from(fb.status_count);
        let Some(sender) = &self.twcc_send else {
            self.stats.twcc_unknown += count as u64;
            return Err(Error::FeedbackForUnsentPackets);
        };
        let (Some(base), Some(newest)) = (sender.extend(fb.base_sequence), sender.newest()) else {
            self.stats.twcc_unknown += count as u64;
            return Err(Error::FeedbackForUnsentPackets);
        };
        let limit = count.min(sender.capacity());
        let mut arrival = i64::from(fb.reference_time) * REFERENCE_US;
        let mut matched = 0usize;
        let mut read = 0usize;
        for (k, packet) in fb.packets().take(limit).enumerate() {
            let seq = base + k as u64;
            if seq > newest {
                break; // this and everything after it was never sent
            }
            read += 1;
            let arrival_us = packet.status.delta().map(|d| {
                arrival += i64::from(d) * DELTA_US;
                arrival
            });
            match sender.get(seq) {
                Some(sent) => {
                    matched += 1;
                    self.events.push(Event::TransportFeedback(PacketFeedback {
                        transport_sequence: seq,
                        ssrc: sent.ssrc,
                        sequence: sent.rtp_seq,
                        sent_at: sent.sent_at,
                        size: sent.size as usize,
                        arrival_us,
                        feedback_count: fb.feedback_count,
                    }));
                }
                None => self.stats.twcc_unknown += 1,
            }
        }
        if read < limit {
            self.stats.twcc_unknown += (count - read) as u64;
        } else {
            self.stats.twcc_dropped += (count - limit) as u64;
        }
        if matched == 0 {
            return Err(Error::FeedbackForUnsentPackets);
        }
        Ok(())
    }
}
