//! Congestion control on the connection: the connection composes [`crate::cc`]'s
//! [`BandwidthEstimator`] and [`Pacer`] once, and routes between them and its RTP session. The
//! estimation and pacing logic stays in `cc`; here only the wiring:
//!
//! - **Made with the RTP session**, when transport-wide CC is negotiated (without feedback there is
//!   nothing to estimate from: packets go out as they are written, as before).
//! - **Send side**: every RTP packet written ([`PeerConnection::write_rtp`], so
//!   [`PeerConnection::write_frame`] too) and every RTX retransmission the RTP session makes is
//!   SRTP-protected and, with pacing on ([`Config::pacer`](super::Config::pacer)), queued in the pacer
//!   (audio, then retransmissions, then video) and released from `handle_timeout` (and at once when the
//!   pacing budget allows); the pacer's next release time is part of `poll_timeout`. When a packet
//!   leaves it is recorded with the estimator as sent: its whole size as protected (header, extensions,
//!   SRTP tag, RTX header) and its transport-wide sequence number. Without pacing it is recorded as it
//!   is written.
//! - **Feedback**: the RTP session's transport-wide feedback ([`Event::TransportFeedback`], one feedback
//!   at a time), REMB (an upper bound) and round-trip time go to the estimator.
//! - **Output**: [`Event::TargetBitrate`] when the estimator's target moves materially (3 % or more),
//!   [`PeerConnection::target_bitrate`], and `availableOutgoingBitrate` in the candidate-pair statistics;
//!   the pacer follows the target.
//!
//! Packets wait in buffers kept for reuse (one per queued packet, at most the pacer's queue bounds), so
//! the media path allocates nothing per packet once warm. The transport-wide sequence number is given
//! when a packet is written, so audio or a retransmission sent ahead of queued video goes out of
//! transport-wide order; the estimator takes send times from when each packet leaves, and its arrival
//! grouping ignores a packet sent before its group, as libwebrtc's does. Probe clusters are sent with
//! queued media at the probe's rate, and with padding-only packets on a video stream's RTX SSRC when
//! nothing is queued (as libwebrtc probes; without a video stream with RTX a probe measures only the
//! media it carries).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::time::Duration;

use super::conn::PeerConnection;
use super::{Event, MediaKind, TARGET};
use crate::cc::{self, BandwidthEstimator, Class, Paced, Pacer, PacerConfig, SentPacket};
use crate::rtp::session::PacketFeedback;
use crate::rtp::{ExtensionKind, ExtensionValue};
use crate::time::Instant;

/// Feedback packets of one transport-wide feedback buffered before they go to the estimator (a feedback
/// reports up to the RTP session's `max_per_feedback`, 400 by default; a longer one goes in parts).
const MAX_FEEDBACK: usize = 512;

/// The padding in one padding-only packet at most (octets; RFC 3550 counts it in one octet; libwebrtc
/// sends 224).
const PADDING_MAX: usize = 224;

/// What each waiting packet's buffer is made with: a packet up to the common 1500-octet MTU.
const SLOT_CAPACITY: usize = 1500;

/// A protected packet waiting in the pacer.
#[derive(Debug, Default)]
struct Slot {
    data: Vec<u8>,
    transport_sequence: Option<u16>,
}

/// The estimator, the pacer and the packets waiting in it.
#[derive(Debug)]
pub(super) struct Congestion {
    bwe: BandwidthEstimator,
    pacer: Option<Pacer>,
    /// Indexed by the pacer's token; grows up to the pacer's queue bounds, then reused.
    slots: Vec<Slot>,
    free: Vec<usize>,
    max_slots: usize,
    /// The packets of the feedback being read.
    feedback: Vec<PacketFeedback>,
    /// Padding a probe asked for and that was not sent (no video stream with RTX).
    padding_skipped: u64,
    /// The BUNDLE group's transport-wide CC extension id (to read a retransmission's number).
    twcc_id: Option<u8>,
}

impl Congestion {
    fn new(bwe: BandwidthEstimator, pacer: Option<PacerConfig>) -> Self {
        let max_slots = pacer.map_or(0, |p| p.queue_packets.iter().sum());
        Self {
            pacer: pacer.map(|c| Pacer::new(c, bwe.target_bitrate())),
            bwe,
            slots: Vec::new(),
            free: Vec::new(),
            max_slots,
            feedback: Vec::with_capacity(MAX_FEEDBACK),
            padding_skipped: 0,
            twcc_id: None,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        let pacer = self.pacer.as_ref().and_then(Pacer::poll_timeout);
        [self.bwe.poll_timeout(), pacer].into_iter().flatten().min()
    }

    /// How long what is queued takes to leave at the pacing rate.
    fn queue_delay(&self) -> Duration {
        let Some(p) = &self.pacer else { return Duration::ZERO };
        let rate = p.pacing_rate().max(1);
        let ns = u128::from(p.queued_bytes()) * 8 * 1_000_000_000 / u128::from(rate);
        Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }

    /// Takes the estimator's events: targets go to the pacer, probes to the pacer; the newest target is
    /// returned for the application.
    fn take_events(&mut self) -> Option<Event> {
        let mut out = None;
        while let Some(e) = self.bwe.poll_event() {
            match e {
                cc::Event::TargetBitrate { bitrate, loss, rtt } => {
                    if let Some(p) = self.pacer.as_mut() {
                        p.set_target(bitrate);
                    }
                    let loss_fraction = (loss.clamp(0.0, 1.0) * 255.0) as u8;
                    out = Some((bitrate, loss_fraction, rtt));
                }
                cc::Event::Probe(c) => {
                    if let Some(p) = self.pacer.as_mut() {
                        p.start_probe(c);
                    }
                }
            }
        }
        let queue_delay = self.queue_delay();
        out.map(|(bitrate_bps, loss_fraction, rtt)| Event::TargetBitrate {
            bitrate_bps,
            loss_fraction,
            rtt,
            queue_delay,
        })
    }

    fn flush_feedback(&mut self, now: Instant) {
        if self.feedback.is_empty() {
            return;
        }
        if let Err(e) = self.bwe.handle_feedback(now, self.feedback.drain(..)) {
            tracing::trace!(target: TARGET, error = %e, "feedback not taken by the estimator");
        }
    }
}

impl PeerConnection {
    /// Makes the estimator and pacer (with the RTP session, and again after a renegotiation) when
    /// transport-wide CC is negotiated under extension id `twcc_id`.
    pub(super) fn ensure_congestion(&mut self, twcc_id: Option<u8>) {
        if let Some(cc) = self.cc.as_deref_mut() {
            if twcc_id.is_some() {
                cc.twcc_id = twcc_id;
                return;
            }
            // A renegotiation took transport-wide CC away: no more feedback to estimate from. What waits
            // in the pacer goes out now, in its order, and packets go out as they are written again.
            if let Some(p) = cc.pacer.as_mut() {
                p.set_target(u64::MAX);
            }
            let now = self.now();
            self.release_paced(now);
            // (Only a probe cluster in progress could still hold some back.)
            let left = self.cc.take().and_then(|c| c.pacer.map(|p| p.queued_packets())).unwrap_or(0);
            self.stats.media_paced_dropped += left as u64;
            return;
        }
        if twcc_id.is_none() {
            return;
        }
        match BandwidthEstimator::new(self.config.bandwidth) {
            Ok(bwe) => {
                let mut cc = Congestion::new(bwe, self.config.pacer);
                cc.twcc_id = twcc_id;
                self.cc = Some(Box::new(cc));
            }
            Err(e) => tracing::debug!(target: TARGET, error = %e, "no bandwidth estimator: bad bounds"),
        }
    }

    /// The transport-wide sequence number of an RTP packet the RTP session made (an RTX
    /// retransmission), read from its header (in the clear under SRTP).
    pub(super) fn transport_sequence_of(&self, packet: &[u8]) -> Option<u16> {
        let id = self.cc.as_deref()?.twcc_id?;
        let p = crate::rtp::Packet::new_checked(packet).ok()?;
        let &[a, b] = p.extension(id)? else { return None };
        Some(u16::from_be_bytes([a, b]))
    }

    /// The send target the bandwidth estimator gives (bit/s): what the encoders should produce, all
    /// streams together, headers included. The configured start rate until media flows with
    /// transport-wide CC.
    pub fn target_bitrate(&self) -> u64 {
        self.cc.as_deref().map_or(self.config.bandwidth.start_bitrate, |c| c.bwe.target_bitrate())
    }

    /// The bandwidth estimator, once media flows with transport-wide CC (read-only: its delay signal,
    /// acknowledged rate and counters).
    pub fn bandwidth_estimator(&self) -> Option<&BandwidthEstimator> {
        self.cc.as_deref().map(|c| &c.bwe)
    }

    /// The pacer, once media flows with transport-wide CC and pacing on (read-only: its rate, queue and
    /// counters).
    pub fn pacer(&self) -> Option<&Pacer> {
        self.cc.as_deref()?.pacer.as_ref()
    }

    /// Sends the protected RTP packet in `self.media.out`: into the pacer when pacing, else out at once
    /// (recorded with the estimator as sent).
    pub(super) fn send_rtp_paced(&mut self, now: Instant, class: Class, transport_sequence: Option<u16>) {
        let Some(m) = self.media.state.as_deref_mut() else { return };
        let size = m.out.len();
        let Some(cc) = self.cc.as_deref_mut() else {
            if self.ice.send(now, &m.out).is_err() {
                self.stats.media_unsent += 1;
            }
            return;
        };
        let Some(pacer) = cc.pacer.as_mut() else {
            if self.ice.send(now, &m.out).is_err() {
                self.stats.media_unsent += 1;
            }
            cc.bwe.handle_sent(now, SentPacket { transport_sequence, size, probe_cluster: None });
            self.after_congestion();
            return;
        };
        let token = match cc.free.pop() {
            Some(i) => i,
            None if cc.slots.len() < cc.max_slots => {
                // Room for any packet of the usual MTU, so a slot that held audio takes video unchanged.
                cc.slots.push(Slot { data: Vec::with_capacity(size.max(SLOT_CAPACITY)), transport_sequence: None });
                cc.slots.len() - 1
            }
            None => {
                self.stats.media_paced_dropped += 1;
                return;
            }
        };
        if pacer.enqueue(now, token as u64, size, class).is_err() {
            cc.free.push(token);
            self.stats.media_paced_dropped += 1;
            tracing::debug!(target: TARGET, ?class, "pacer queue full: packet dropped");
            return;
        }
        if let Some(slot) = cc.slots.get_mut(token) {
            slot.data.clear();
            slot.data.extend_from_slice(&m.out);
            slot.transport_sequence = transport_sequence;
        }
        self.release_paced(now);
    }

    /// Sends what the pacer lets go at `now`, each packet recorded with the estimator as it leaves.
    fn release_paced(&mut self, now: Instant) {
        if let Some(p) = self.cc.as_deref_mut().and_then(|c| c.pacer.as_mut()) {
            p.handle_timeout(now);
        }
        loop {
            let Some(cc) = self.cc.as_deref_mut() else { return };
            let Some(p) = cc.pacer.as_mut().and_then(Pacer::poll_transmit) else { break };
            match p {
                Paced::Packet { token, size, probe_cluster, .. } => {
                    let Some(slot) = usize::try_from(token).ok().and_then(|i| cc.slots.get(i)) else { continue };
                    if self.ice.send(now, &slot.data).is_err() {
                        self.stats.media_unsent += 1;
                    }
                    let transport_sequence = slot.transport_sequence;
                    cc.free.push(token as usize);
                    cc.bwe.handle_sent(now, SentPacket { transport_sequence, size, probe_cluster });
                }
                Paced::Padding { size, probe_cluster } => self.send_padding(now, size, probe_cluster),
            }
        }
        self.after_congestion();
    }

    /// Padding for a probe cluster: `size` octets in padding-only packets on the RTX stream of the first
    /// video encoding that has one (as libwebrtc probes), each recorded with the estimator as sent.
    /// Without such a stream nothing is sent (counted).
    fn send_padding(&mut self, now: Instant, size: usize, cluster: u32) {
        let found = self.transceivers.list.iter().filter(|t| t.sends() && t.kind == MediaKind::Video).find_map(|t| {
            let n = t.negotiated.as_ref()?;
            let codec = n.codecs.iter().find(|c| c.rtx_payload_type.is_some())?;
            let first = t.encodings.first()?;
            let mid = n.send_id(ExtensionKind::Mid).and(t.mid.clone());
            // A simulcast layer's RTX names its layer (RFC 8852 §3.2), for a receiver with no FID group.
            let rrid = n.send_id(ExtensionKind::RepairedRtpStreamId).and(first.rid.clone());
            Some((first.ssrc, codec.payload_type, mid, rrid))
        });
        let Some((ssrc, payload_type, mid, rrid)) = found else {
            if let Some(cc) = self.cc.as_deref_mut() {
                cc.padding_skipped += 1;
            }
            return;
        };
        let mut left = size;
        while left > 0 {
            let Some(m) = self.media.state.as_deref_mut() else { return };
            let (Some(session), Some(srtp)) = (m.rtp.as_mut(), m.srtp.as_mut()) else { return };
            let values = [
                mid.as_ref().map(|t| ExtensionValue::Mid(t.as_str())),
                rrid.as_ref().map(|t| ExtensionValue::RepairedRtpStreamId(t.as_str())),
            ];
            let extensions: smallvec::SmallVec<[ExtensionValue<'_>; 2]> = values.into_iter().flatten().collect();
            let extensions = extensions.as_slice();
            let padding = u8::try_from(left.clamp(1, PADDING_MAX)).unwrap_or(u8::MAX);
            let sent = match session.send_padding(now, ssrc, payload_type, padding, extensions, &mut m.out) {
                Ok(sent) => sent,
                Err(e) => {
                    tracing::debug!(target: TARGET, error = %e, "no padding");
                    if let Some(cc) = self.cc.as_deref_mut() {
                        cc.padding_skipped += 1;
                    }
                    return;
                }
            };
            if srtp.protect_rtp(&mut m.out).is_err() {
                self.stats.media_unsent += 1;
                return;
            }
            if self.ice.send(now, &m.out).is_err() {
                self.stats.media_unsent += 1;
            }
            let wire = m.out.len();
            left = left.saturating_sub(wire);
            if let Some(cc) = self.cc.as_deref_mut() {
                let packet = SentPacket {
                    transport_sequence: sent.transport_sequence,
                    size: wire,
                    probe_cluster: Some(cluster),
                };
                cc.bwe.handle_sent(now, packet);
            }
        }
    }

    /// The estimator's events: targets and probes to the pacer, the target to the application.
    fn after_congestion(&mut self) {
        if let Some(e) = self.cc.as_deref_mut().and_then(Congestion::take_events) {
            tracing::debug!(target: TARGET, event = ?e, "target bitrate");
            self.emit(e);
        }
    }

    /// One packet of a transport-wide feedback (the packets of one feedback come in a row).
    pub(super) fn congestion_feedback(&mut self, f: PacketFeedback) {
        let now = self.now();
        let Some(cc) = self.cc.as_deref_mut() else { return };
        if cc.feedback.last().is_some_and(|l| l.feedback_count != f.feedback_count) || cc.feedback.len() >= MAX_FEEDBACK
        {
            cc.flush_feedback(now);
        }
        cc.feedback.push(f);
    }

    /// A REMB from the peer: an upper bound on the target.
    pub(super) fn congestion_remb(&mut self, bitrate: u64) {
        let now = self.now();
        if let Some(cc) = self.cc.as_deref_mut() {
            cc.bwe.handle_remb(now, bitrate);
        }
    }

    /// After the RTP session's events: the feedback read goes to the estimator with the session's
    /// round-trip time, and what that changes goes on.
    pub(super) fn congestion_after_rtcp(&mut self, rtt: Option<Duration>) {
        let now = self.now();
        let Some(cc) = self.cc.as_deref_mut() else { return };
        if let Some(rtt) = rtt {
            cc.bwe.handle_rtt(now, rtt);
        }
        cc.flush_feedback(now);
        self.after_congestion();
        self.release_paced(now);
    }

    /// The estimator's and the pacer's timers, due at `now`.
    pub(super) fn congestion_timeout(&mut self, now: Instant) {
        let Some(cc) = self.cc.as_deref_mut() else { return };
        if cc.bwe.poll_timeout().is_some_and(|t| t <= now) {
            cc.bwe.handle_timeout(now);
            self.after_congestion();
        }
        self.release_paced(now);
    }

    /// When the estimator or the pacer is next due.
    pub(super) fn congestion_deadline(&self) -> Option<Instant> {
        self.cc.as_deref()?.deadline()
    }

    /// The estimate for the candidate-pair statistics (`availableOutgoingBitrate`), once there is one.
    pub(super) fn available_outgoing_bitrate(&self) -> Option<u64> {
        self.cc.as_deref().map(|c| c.bwe.target_bitrate())
    }
}
