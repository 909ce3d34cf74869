//! The connection's RTP session ([`crate::rtp::session::Session`]): one for the BUNDLE transport, made when
//! the first media packet needs SRTP (so a connection that negotiated media but never sent or received
//! any holds none), configured from the negotiation and kept in step with it.
//!
//! - **Configuration**: the payload types of every negotiated transceiver with their clock rates, RTX
//!   (`apt`) pairs and `a=rtcp-fb` (`nack`, `nack pli`), the BUNDLE group's header extension ids
//!   (transport-wide CC only when some codec negotiated `transport-cc`), `a=rtcp-rsize`.
//! - **Streams**: a send stream (with its RTX SSRC when a codec has RTX) per active encoding of each
//!   sending transceiver; a receive stream per SSRC the peer signalled (`a=ssrc`, `a=ssrc-group:FID`) and per
//!   SSRC learned from an authenticated packet routed by MID or payload type. A renegotiation adds and
//!   removes streams (a removed send stream says BYE); the streams that stay keep their state.
//! - **Output**: what the session transmits (reports, NACK, PLI/FIR, transport-wide feedback, RTX) is
//!   protected and sent at once; its events become the connection's ([`Event::KeyframeRequest`],
//!   [`Event::Remb`], [`Event::TransportFeedback`]); its timers join [`crate::Machine::poll_timeout`].

use alloc::vec::Vec;

use super::codec::{Codec, Feedback};
use super::conn::PeerConnection;
use super::rtp::KeyframeRequestKind;
use super::transceiver::{Transceiver, TransceiverId};
use super::{Event, TARGET};
use crate::rtp::ExtensionKind;
use crate::rtp::ExtensionMap;
use crate::rtp::session::{
    self as rs, PacketKind, PayloadTypes, ReceiveStreamConfig, SendStreamConfig, Session, UnknownSsrcs,
};
use crate::time::Instant;

/// How often the receiving side sends transport-wide feedback.
const TWCC_INTERVAL: core::time::Duration = core::time::Duration::from_millis(50);
/// Send streams (media SSRCs) the connection's session holds at most.
pub(super) const MAX_SEND_STREAMS: usize = 16;
/// Receive streams (media SSRCs) the connection's session holds at most.
pub(super) const MAX_RECEIVE_STREAMS: usize = 32;

/// What the negotiation says the session is configured with.
struct Negotiation {
    payload_types: PayloadTypes,
    extensions: ExtensionMap,
    reduced_size: bool,
}

fn has(codec: &Codec, f: Feedback) -> bool {
    codec.feedback.contains(&f)
}

/// The receive stream configuration for `codec` (its clock rate and feedback).
pub(super) fn receive_config(ssrc: u32, rtx_ssrc: Option<u32>, codec: &Codec) -> ReceiveStreamConfig {
    let mut c = ReceiveStreamConfig::video(ssrc, rtx_ssrc.filter(|_| codec.rtx_payload_type.is_some()));
    c.clock_rate = codec.clock_rate.max(1);
    c.nack = has(codec, Feedback::Nack);
    c.keyframe_on_loss = has(codec, Feedback::NackPli);
    c
}

impl PeerConnection {
    fn negotiation(&self) -> Negotiation {
        let mut payload_types = PayloadTypes::new();
        let mut extensions = ExtensionMap::new();
        let mut reduced_size = false;
        let mut twcc = false;
        for t in self.transceivers.list.iter().filter(|t| !t.stopped) {
            let Some(n) = &t.negotiated else { continue };
            for c in &n.codecs {
                let _ = payload_types.media(
                    c.payload_type,
                    c.clock_rate.max(1),
                    has(c, Feedback::Nack),
                    has(c, Feedback::NackPli),
                );
                if let Some(rtx) = c.rtx_payload_type {
                    let _ = payload_types.rtx(rtx, c.payload_type);
                }
                twcc |= has(c, Feedback::TransportCc);
            }
            for e in &n.extensions {
                if e.kind != ExtensionKind::TransportWideCc && extensions.id(e.kind).is_none() {
                    extensions.insert(e.id, e.kind);
                }
            }
            if twcc && extensions.id(ExtensionKind::TransportWideCc).is_none() {
                if let Some(id) = n.map.id(ExtensionKind::TransportWideCc) {
                    extensions.insert(id, ExtensionKind::TransportWideCc);
                }
            }
            reduced_size |= n.rtcp_rsize;
        }
        Negotiation { payload_types, extensions, reduced_size }
    }

    /// Makes the session if media is negotiated and SRTP is keyed (call after the SRTP session exists).
    pub(super) fn ensure_rtp_session(&mut self) {
        let Some(m) = self.media.state.as_deref() else { return };
        if m.rtp.is_some() || m.srtp.is_none() {
            return;
        }
        let n = self.negotiation();
        let twcc_id = n.extensions.id(ExtensionKind::TransportWideCc);
        let cname = self.transceivers.cname(&mut self.rng);
        let mut config = rs::Config::new(&cname, self.media.ntp_epoch);
        config.payload_types = n.payload_types;
        config.extensions = n.extensions;
        config.rtcp.reduced_size = n.reduced_size;
        config.unknown_ssrcs = UnknownSsrcs::Reject;
        config.max_send_streams = MAX_SEND_STREAMS;
        config.max_receive_streams = MAX_RECEIVE_STREAMS;
        // Feedback every 50 ms: the interval libwebrtc's receivers reach at video rates, and what the
        // bandwidth estimator needs to follow a change quickly (docs/cc.md).
        config.twcc.interval = TWCC_INTERVAL;
        let rng = self.rng.fork();
        match Session::new(config, rng) {
            Ok(s) => {
                tracing::debug!(target: TARGET, "RTP session made");
                if let Some(m) = self.media.state.as_deref_mut() {
                    m.rtp = Some(alloc::boxed::Box::new(s));
                }
                self.ensure_congestion(twcc_id);
                self.sync_streams();
            }
            Err(e) => tracing::debug!(target: TARGET, error = %e, "RTP session not made"),
        }
    }

    /// After a negotiation: the session's configuration and streams follow the transceivers.
    pub(super) fn renegotiate_rtp_session(&mut self) {
        if self.media.state.as_deref().is_none_or(|m| m.rtp.is_none()) {
            return;
        }
        let n = self.negotiation();
        let twcc_id = n.extensions.id(ExtensionKind::TransportWideCc);
        if let Some(s) = self.media.state.as_deref_mut().and_then(|m| m.rtp.as_mut()) {
            s.reconfigure(n.payload_types, n.extensions, n.reduced_size);
        }
        self.ensure_congestion(twcc_id);
        self.sync_streams();
        self.flush_rtp_session();
    }

    /// Adds the streams the transceivers have and the session lacks, and removes those no transceiver
    /// has any more.
    fn sync_streams(&mut self) {
        let now = self.now();
        let mut send: Vec<SendStreamConfig> = Vec::new();
        let mut recv: Vec<ReceiveStreamConfig> = Vec::new();
        let learned: Vec<(u32, TransceiverId)> = self
            .media
            .state
            .as_deref()
            .map(|m| m.streams.iter().filter(|(_, s)| !s.rtx).map(|(ssrc, s)| (*ssrc, s.transceiver)).collect())
            .unwrap_or_default();
        for t in &self.transceivers.list {
            let Some(codec) = t.negotiated.as_ref().and_then(|n| n.codecs.first()) else { continue };
            if t.sends() {
                // An encoding turned off, or one the answer did not accept, has no stream: it sends
                // nothing, not even reports.
                for e in t.encodings.iter().filter(|e| e.active && e.negotiated) {
                    let rtx = codec_rtx(t).then_some(e.rtx_ssrc);
                    let mut c = SendStreamConfig::video(e.ssrc, rtx);
                    c.clock_rate = codec.clock_rate.max(1);
                    c.initial_sequence = Some(e.seq);
                    send.push(c);
                }
            }
            if t.receives() {
                for &(ssrc, rtx) in t.remote.as_ref().map_or(&[][..], |s| &s.ssrcs[..]) {
                    recv.push(receive_config(ssrc, rtx, codec));
                }
                for &(ssrc, _) in learned.iter().filter(|(_, id)| *id == t.id) {
                    if !recv.iter().any(|r| r.ssrc == ssrc || r.rtx_ssrc == Some(ssrc)) {
                        recv.push(receive_config(ssrc, None, codec));
                    }
                }
            }
        }
        let Some(s) = self.media.state.as_deref_mut().and_then(|m| m.rtp.as_mut()) else { return };
        let gone: Vec<u32> = s.send_ssrcs().filter(|x| !send.iter().any(|c| c.ssrc == *x)).collect();
        for ssrc in gone {
            let _ = s.remove_send_stream(now, ssrc);
        }
        let gone: Vec<u32> = s.receive_ssrcs().filter(|x| !recv.iter().any(|c| c.ssrc == *x)).collect();
        for ssrc in gone {
            let _ = s.remove_receive_stream(ssrc);
        }
        for c in send {
            if !s.has_ssrc(c.ssrc) {
                if let Err(e) = s.add_send_stream(c) {
                    tracing::debug!(target: TARGET, ssrc = c.ssrc, error = %e, "send stream not added");
                }
            }
        }
        for c in recv {
            if !s.has_ssrc(c.ssrc) {
                if let Err(e) = s.add_receive_stream(c) {
                    tracing::debug!(target: TARGET, ssrc = c.ssrc, error = %e, "receive stream not added");
                }
            }
        }
    }

    /// Hands what the session owes on: its transmits protected and sent on the selected pair, its events
    /// as the connection's.
    pub(super) fn flush_rtp_session(&mut self) {
        let now = self.now();
        loop {
            let Some(m) = self.media.state.as_deref_mut() else { return };
            let Some(e) = m.rtp.as_mut().and_then(|s| s.poll_event()) else { break };
            match e {
                rs::Event::KeyframeRequest { ssrc, kind } => {
                    let kind = match kind {
                        rs::KeyframeRequest::Pli => KeyframeRequestKind::Pli,
                        rs::KeyframeRequest::Fir => KeyframeRequestKind::Fir,
                    };
                    let found = self.transceivers.list.iter().find_map(|t| {
                        let e = t.encodings.iter().find(|e| e.ssrc == ssrc)?;
                        Some((t.id, t.mid.clone()?, e.rid.clone()))
                    });
                    match found {
                        Some((transceiver, mid, rid)) => {
                            self.emit(Event::KeyframeRequest { transceiver, mid, rid, kind });
                        }
                        None => self.stats.rtcp_unroutable += 1,
                    }
                }
                rs::Event::Remb { sender_ssrc, bitrate, ssrcs } => {
                    self.congestion_remb(bitrate);
                    self.emit(Event::Remb { sender_ssrc, bitrate, ssrcs });
                }
                rs::Event::TransportFeedback(f) => {
                    self.congestion_feedback(f);
                    self.emit(Event::TransportFeedback(f));
                }
                _ => {}
            }
        }
        let rtt = self.rtp_session().and_then(Session::rtt);
        self.congestion_after_rtcp(rtt);
        loop {
            let Some(m) = self.media.state.as_deref_mut() else { return };
            let (Some(session), Some(srtp)) = (m.rtp.as_mut(), m.srtp.as_mut()) else { return };
            let Some(out) = session.poll_transmit() else { break };
            m.out.clear();
            m.out.extend_from_slice(out.data());
            let rtx = out.kind == PacketKind::Rtp;
            let r = if rtx { srtp.protect_rtp(&mut m.out) } else { srtp.protect_rtcp(&mut m.out) };
            match r {
                // A retransmission goes through the pacer (ahead of video) with its transport-wide
                // number, read from its header (SRTP leaves it in the clear).
                Ok(()) if rtx => {
                    let seq = self.media.state.as_deref().and_then(|m| self.transport_sequence_of(&m.out));
                    self.send_rtp_paced(now, crate::cc::Class::Retransmission, seq);
                }
                Ok(()) => {
                    if self.ice.send(now, &m.out).is_err() {
                        self.stats.media_unsent += 1;
                    }
                }
                Err(e) => {
                    self.stats.media_unsent += 1;
                    tracing::debug!(target: TARGET, error = %e, "SRTP refused a session packet");
                }
            }
        }
    }

    /// The session's timers, due at `now`.
    pub(super) fn rtp_session_timeout(&mut self, now: Instant) {
        let Some(s) = self.media.state.as_deref_mut().and_then(|m| m.rtp.as_mut()) else { return };
        if s.poll_timeout().is_some_and(|t| t <= now) {
            s.handle_timeout(now);
            self.flush_rtp_session();
        }
    }

    /// When the session is next due.
    pub(super) fn rtp_session_deadline(&self) -> Option<Instant> {
        self.media.state.as_deref()?.rtp.as_ref()?.poll_timeout()
    }

    /// The connection's RTP session, once media has flowed: its per-stream statistics
    /// ([`Session::send_stats`], [`Session::receive_stats`]), its counters ([`Session::stats`]: among them
    /// what it dropped, by reason) and its round-trip time.
    pub fn rtp_session(&self) -> Option<&Session> {
        self.media.state.as_deref()?.rtp.as_deref()
    }

    /// Sets the wall-clock time at [`crate::Instant::ZERO`], as time since the NTP epoch (1900-01-01 UTC),
    /// for the NTP timestamps of RTCP sender reports ([`crate::rtp::session::Config::ntp_epoch`]): the
    /// library reads no clock. Round-trip times need only a steady value; lip synchronisation with other
    /// hosts needs the real one. Zero unless set; takes effect when the RTP session is made (with the
    /// first media packet), so set it before media flows.
    pub fn set_ntp_epoch(&mut self, epoch: core::time::Duration) {
        self.media.ntp_epoch = epoch;
    }

    /// The RTP session's counters ([`crate::rtp::session::Stats`]), once media has flowed.
    pub fn media_stats(&self) -> Option<rs::Stats> {
        self.rtp_session().map(Session::stats)
    }
}

/// Whether the transceiver's codecs retransmit (one of them has RTX).
fn codec_rtx(t: &Transceiver) -> bool {
    t.negotiated.as_ref().is_some_and(|n| n.codecs.iter().any(|c| c.rtx_payload_type.is_some()))
}
