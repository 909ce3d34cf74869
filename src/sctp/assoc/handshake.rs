//! Setting up an association (RFC 9260 §5): INIT and INIT-ACK with their parameters, the state cookie
//! and COOKIE-ECHO, collisions and restarts (§5.2), stale cookies (§5.2.6), and establishing.

use alloc::vec::Vec;
use core::time::Duration;

use super::super::cookie::{Cookie, F_FORWARD_TSN, F_RECONFIG, F_ZERO_CHECKSUM};
use super::super::error::Error;
use super::super::recv::RecvState;
use super::super::send::SendState;
use super::super::wire::{
    self, CauseCode, ChunkType, HEADER_LEN, InitChunk, InitFields, ParamType, ZERO_CHECKSUM_DTLS,
};
use super::super::{CloseReason, Event, TARGET};
use super::{Association, MAX_ECHO, MAX_STALE_COOKIE_RETRIES, Owed, ParsedInit, Peer, State, Timer};

impl Association {
    pub(super) fn establish(&mut self, peer: Peer, my_tag: u32, my_initial_tsn: u32) {
        self.establish_as(peer, my_tag, my_initial_tsn, Event::Connected);
    }

    /// §5.2.4 action A: the peer restarted. Everything about the old association is dropped (queued and
    /// in-flight data, stream sequence numbers, reconfiguration, congestion state and RTT) and the
    /// association is established again from the cookie.
    fn restart(&mut self, peer: Peer, my_tag: u32, my_initial_tsn: u32) {
        tracing::debug!(target: TARGET, old_peer_tag = self.peer.tag, new_peer_tag = peer.tag, "peer restarted");
        let window = self.config.receive_window as usize;
        self.send = SendState::new(self.config.mtu);
        self.recv = RecvState::new(window, self.config.max_message_size);
        self.timers.clear_all();
        self.owed = Owed::default();
        self.owed.cookie_ack = true;
        self.sack_owed = false;
        self.packets_since_sack = 0;
        self.heartbeat_nonce = None;
        self.srtt = None;
        self.rttvar = Duration::ZERO;
        self.rto = self.config.rto_initial;
        self.reset_queue.clear();
        self.reset_inflight = None;
        self.deferred_reset = None;
        self.reset_response = None;
        self.establish_as(peer, my_tag, my_initial_tsn, Event::Restarted);
    }

    fn establish_as(&mut self, peer: Peer, my_tag: u32, my_initial_tsn: u32, event: Event) {
        self.peer = peer;
        self.my_tag = my_tag;
        self.my_initial_tsn = my_initial_tsn;
        self.send.start(my_initial_tsn, peer.rwnd);
        self.recv.start(peer.initial_tsn);
        // RFC 6525 §4.1: re-configuration request sequence numbers start at the initial TSN.
        self.next_reset_seq = my_initial_tsn;
        self.peer_reset_seq = peer.initial_tsn;
        self.last_reset_result = super::wire::ReconfigResult::BAD_SEQUENCE.0;
        self.outbound_streams = self.config.outbound_streams.min(peer.max_inbound);
        self.inbound_streams = self.config.max_inbound_streams.min(peer.outbound);
        self.zero_checksum_tx = self.config.zero_checksum && peer.features & F_ZERO_CHECKSUM != 0;
        // Messages queued before the handshake completed now learn what the peer supports.
        self.send.on_established(self.outbound_streams, peer.features & F_FORWARD_TSN != 0);
        self.state = State::Established;
        self.error_count = 0;
        self.init_retries = 0;
        self.stale_retries = 0;
        self.cookie_preservative = None;
        self.cookie = Vec::new();
        self.owed.init = false;
        self.owed.cookie_echo = false;
        self.timers.clear(Timer::T1Init);
        self.timers.clear(Timer::T1Cookie);
        self.arm_heartbeat();
        tracing::debug!(target: TARGET, my_tag, peer_tag = peer.tag, "association established");
        self.push_event(event);
    }

    pub(super) fn init_fields(&self, tag: u32, initial_tsn: u32) -> InitFields<'static> {
        InitFields {
            initiate_tag: tag,
            a_rwnd: self.recv.a_rwnd(),
            outbound_streams: self.config.outbound_streams,
            max_inbound_streams: self.config.max_inbound_streams,
            initial_tsn,
            forward_tsn: true,
            reconfig: true,
            zero_checksum: self.config.zero_checksum,
            cookie: None,
            cookie_preservative: None,
            unrecognized: &[],
        }
    }

    /// Reads the peer's parameters from an INIT or INIT-ACK. Returns the cookie parameter and the Cookie
    /// Preservative, if any. Unrecognised parameters to report (§3.2.1) are appended to `unrec`, each wrapped
    /// in an Unrecognized Parameter parameter if `wrap` (for an INIT-ACK, §3.3.3) or as they are (for the
    /// cause of an ERROR), up to [`MAX_ECHO`] bytes.
    fn parse_init<'a>(init: &InitChunk<'a>, unrec: &mut Vec<u8>, wrap: bool) -> Result<ParsedInit<'a>, Error> {
        if init.initiate_tag == 0 || init.outbound_streams == 0 || init.max_inbound_streams == 0 {
            return Err(Error::BadInit);
        }
        let mut peer = Peer {
            tag: init.initiate_tag,
            initial_tsn: init.initial_tsn,
            rwnd: init.a_rwnd,
            outbound: init.outbound_streams,
            max_inbound: init.max_inbound_streams,
            features: 0,
        };
        let mut cookie = None;
        let mut preservative = None;
        for p in init.params() {
            let p = p.map_err(|_| Error::BadInit)?;
            match p.kind {
                ParamType::STATE_COOKIE => cookie = Some(p.value),
                ParamType::FORWARD_TSN_SUPPORTED => peer.features |= F_FORWARD_TSN,
                ParamType::SUPPORTED_EXTENSIONS => {
                    for &c in p.value {
                        match ChunkType(c) {
                            ChunkType::FORWARD_TSN => peer.features |= F_FORWARD_TSN,
                            ChunkType::RECONFIG => peer.features |= F_RECONFIG,
                            _ => {}
                        }
                    }
                }
                ParamType::ZERO_CHECKSUM_ACCEPTABLE => {
                    if wire::be32(p.value, 0) == Ok(ZERO_CHECKSUM_DTLS) {
                        peer.features |= F_ZERO_CHECKSUM;
                    }
                }
                // A preservative without its 4-byte value is malformed: ignored, like an absent one.
                ParamType::COOKIE_PRESERVATIVE => preservative = wire::be32(p.value, 0).ok(),
                ParamType::IPV4 | ParamType::IPV6 | ParamType::SUPPORTED_ADDRESS_TYPES | ParamType::UNRECOGNIZED => {}
                other => {
                    // §3.2.1: the upper two bits say whether to go on past it and whether to report it.
                    let (skip, report) = other.unknown_action();
                    let len = wire::pad4(p.value.len() + 4);
                    if report && unrec.len() + len + if wrap { 4 } else { 0 } <= MAX_ECHO {
                        if wrap {
                            let outer = u16::try_from(len + 4).unwrap_or(u16::MAX);
                            unrec.extend_from_slice(&ParamType::UNRECOGNIZED.0.to_be_bytes());
                            unrec.extend_from_slice(&outer.to_be_bytes());
                        }
                        wire::emit_param(unrec, other.0, p.value);
                    }
                    if !skip {
                        break;
                    }
                }
            }
        }
        Ok((peer, cookie, preservative))
    }

    pub(super) fn on_init(&mut self, init: &InitChunk<'_>, init_tag: u32) -> Result<(), Error> {
        if init_tag != 0 {
            return Err(Error::BadVerificationTag);
        }
        let mut unrec = Vec::new();
        let (peer, _, preservative) = Self::parse_init(init, &mut unrec, true)?;
        let (tag, itsn, tie) = match self.state {
            // Stateless answer with fresh values (§5.1), no tie-tags.
            State::Closed => (self.nonzero_tag(), self.rng.u32(), (0, 0)),
            // §5.2.1: an INIT collision; answer with the parameters of our own INIT.
            State::CookieWait => (self.my_tag, self.my_initial_tsn, (0, 0)),
            State::CookieEchoed => (self.my_tag, self.my_initial_tsn, (self.my_tag, self.peer.tag)),
            // §9.2: in SHUTDOWN-ACK-SENT an INIT is answered by the SHUTDOWN ACK again.
            State::ShutdownAckSent => {
                self.owed.shutdown_ack = true;
                return Ok(());
            }
            // §5.2.2: an unexpected INIT (the peer may have restarted): a new tag and initial TSN, and our
            // current tags as tie-tags in the cookie; the association itself is left as it is.
            _ => (self.nonzero_tag(), self.rng.u32(), (self.my_tag, self.peer.tag)),
        };
        // §5.2.6: honour a Cookie Preservative, within reason.
        let extra = Duration::from_millis(u64::from(preservative.unwrap_or(0)));
        let cookie = Cookie {
            created: self.now,
            lifetime: self.config.cookie_lifetime + extra.min(self.config.cookie_lifetime),
            local_tie_tag: tie.0,
            peer_tie_tag: tie.1,
            my_tag: tag,
            my_initial_tsn: itsn,
            peer_tag: peer.tag,
            peer_initial_tsn: peer.initial_tsn,
            peer_rwnd: peer.rwnd,
            peer_outbound: peer.outbound,
            peer_max_inbound: peer.max_inbound,
            peer_features: peer.features,
        }
        .encode(&self.key);
        let mut fields = self.init_fields(tag, itsn);
        fields.cookie = Some(&cookie);
        fields.unrecognized = &unrec;
        let (src, dst) = (self.config.local_port, self.config.remote_port);
        let queued = self.out.push_with((), |buf| {
            wire::emit_header(buf, src, dst, peer.tag);
            wire::emit_init(buf, ChunkType::INIT_ACK, &fields);
            wire::finish_packet(buf, false);
            Ok::<(), Error>(())
        })?;
        if !queued {
            tracing::debug!(target: TARGET, "INIT-ACK dropped: output queue full");
        }
        Ok(())
    }

    pub(super) fn on_init_ack(&mut self, init: &InitChunk<'_>) -> Result<(), Error> {
        if self.state != State::CookieWait {
            return Ok(()); // §5.2.3: discard.
        }
        let mut unrec = core::mem::take(&mut self.unrecognized_params);
        unrec.clear();
        let parsed = Self::parse_init(init, &mut unrec, false);
        self.unrecognized_params = unrec;
        let (peer, cookie, _) = parsed?;
        let cookie = cookie.ok_or(Error::BadInit)?;
        self.owed.unrecognized_params = !self.unrecognized_params.is_empty();
        if cookie.len() > self.config.mtu.saturating_sub(HEADER_LEN + 4) {
            return Err(Error::BadInit);
        }
        self.peer = peer;
        self.cookie.clear();
        self.cookie.extend_from_slice(cookie);
        self.state = State::CookieEchoed;
        self.owed.cookie_echo = true;
        self.timers.clear(Timer::T1Init);
        self.init_retries = 0;
        self.t1_rto = self.config.rto_initial;
        self.timers.set(Timer::T1Cookie, self.now + self.t1_rto);
        Ok(())
    }

    pub(super) fn on_cookie_echo(&mut self, bytes: &[u8], vtag: u32) -> Result<(), Error> {
        let cookie = Cookie::open(bytes, &self.key)?;
        if vtag != cookie.my_tag {
            return Err(Error::BadVerificationTag);
        }
        if self.ended {
            return Err(Error::Closed);
        }
        let local_match = self.my_tag != 0 && cookie.my_tag == self.my_tag;
        let peer_match = self.peer.tag != 0 && cookie.peer_tag == self.peer.tag;
        if let Some(late) = cookie.staleness(self.now) {
            // §5.1.5 step 3 / §5.2.4 step 3: a stale cookie is valid only if it names this very association.
            if self.state == State::Closed || !(local_match && peer_match) {
                self.stats.stale_cookies += 1;
                let micros = u32::try_from(late.as_micros()).unwrap_or(u32::MAX);
                self.queue_error(cookie.peer_tag, CauseCode::STALE_COOKIE, &micros.to_be_bytes());
                return Err(Error::StaleCookie);
            }
        }
        let peer = Peer {
            tag: cookie.peer_tag,
            initial_tsn: cookie.peer_initial_tsn,
            rwnd: cookie.peer_rwnd,
            outbound: cookie.peer_outbound,
            max_inbound: cookie.peer_max_inbound,
            features: cookie.peer_features,
        };
        if self.state == State::Closed {
            self.establish(peer, cookie.my_tag, cookie.my_initial_tsn);
            self.owed.cookie_ack = true;
            return Ok(());
        }
        // §5.2.4, Table 12.
        let tie_match =
            cookie.local_tie_tag != 0 && cookie.local_tie_tag == self.my_tag && cookie.peer_tie_tag == self.peer.tag;
        let no_tie = cookie.local_tie_tag == 0 && cookie.peer_tie_tag == 0;
        match (local_match, peer_match) {
            // (A) The peer restarted.
            (false, false) if tie_match && self.state >= State::Established => {
                if self.state == State::ShutdownAckSent {
                    self.owed.shutdown_ack = true;
                    self.owed.cookie_while_shutting_down = true;
                    return Ok(());
                }
                self.restart(peer, cookie.my_tag, cookie.my_initial_tsn);
                return Ok(());
            }
            // (B) An INIT collision where the peer answered ours first: take the peer's tag from the cookie.
            (true, false) => {
                if self.state < State::Established {
                    self.establish(peer, cookie.my_tag, cookie.my_initial_tsn);
                } else {
                    self.peer.tag = cookie.peer_tag;
                }
            }
            // (C) Our own late cookie: silently discarded.
            (false, true) if no_tie => return Ok(()),
            // (D) Both tags match: (re)confirm.
            (true, true) => {
                if self.state < State::Established {
                    self.establish(peer, cookie.my_tag, cookie.my_initial_tsn);
                }
            }
            _ => return Err(Error::UnexpectedChunk),
        }
        self.owed.cookie_ack = true;
        Ok(())
    }

    /// §5.2.6: the peer found our cookie stale by `micros`. Send a new INIT with a Cookie Preservative asking
    /// for that much (at most a second) plus the measured round trip, or give up after the retries allowed.
    pub(super) fn on_stale_cookie(&mut self, micros: u32) {
        self.stale_retries += 1;
        if self.stale_retries > MAX_STALE_COOKIE_RETRIES {
            self.end(CloseReason::StaleCookie);
            return;
        }
        let rtt = self.now.saturating_duration_since(self.cookie_sent);
        let extra = Duration::from_micros(u64::from(micros)).min(Duration::from_secs(1)) + rtt;
        self.cookie_preservative = Some(u32::try_from(extra.as_millis()).unwrap_or(u32::MAX).max(1));
        tracing::debug!(target: TARGET, micros, "stale cookie: sending INIT again");
        self.state = State::CookieWait;
        self.peer = Peer::default();
        self.cookie.clear();
        self.owed.cookie_echo = false;
        self.owed.init = true;
        self.timers.clear(Timer::T1Cookie);
        self.t1_rto = self.config.rto_initial;
        self.timers.set(Timer::T1Init, self.now + self.t1_rto);
    }
}
