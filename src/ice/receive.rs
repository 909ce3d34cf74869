//! The receive path: every datagram that arrives on a declared socket. Application data is handed back
//! from validated pairs only; STUN is checked (FINGERPRINT, MESSAGE-INTEGRITY, the symmetric address
//! rule) before it may move the agent, then binding requests are answered and trigger checks (RFC 8445
//! §7.3), responses complete checks, consent and gathering transactions (§7.2.5, RFC 7675, §5.1.1), and
//! indications count as liveness on a validated pair (§11).

use super::{IceAgent, Incoming};
use crate::ice::TARGET;
use crate::ice::candidate::{Candidate, CandidateKind, Foundation, Transport};
use crate::ice::checklist::{CheckListState, Pair, PairState};
use crate::ice::config::Role;
use crate::ice::error::IceError;
use crate::machine::Datagram;
use crate::stun::{Attribute, Class, ErrorCode, Message, MessageBuilder, Method};
use crate::time::Instant;

use core::net::SocketAddr;

impl IceAgent {
    /// Handles one datagram that arrived on a declared socket: consumes STUN, returns application data
    /// from validated remote addresses, drops (and counts) everything else.
    ///
    /// A dropped datagram changes nothing but its discard counter (and the clock, which every call moves):
    /// no check is paced, no event queued, no timer moved, so junk cannot steer the agent.
    pub fn receive<'a>(&mut self, now: Instant, datagram: Datagram<'a>) -> Result<Incoming<'a>, IceError> {
        self.touch(now);
        let r = self.receive_inner(datagram);
        match r {
            Ok(_) => self.after_change(),
            Err(e) => {
                self.stats.discarded.count(e);
                tracing::trace!(target: TARGET, from = %datagram.source, error = %e, "dropped");
            }
        }
        r
    }

    fn receive_inner<'a>(&mut self, d: Datagram<'a>) -> Result<Incoming<'a>, IceError> {
        if self.closed {
            return Err(IceError::Closed);
        }
        if !crate::stun::is_stun(d.contents) {
            return self.receive_data(d);
        }
        let msg = Message::new_checked(d.contents).map_err(|_| IceError::Malformed)?;
        // RFC 8489 §14.7: FINGERPRINT, when present, is the last attribute. The codec skips what follows it;
        // ICE, which tells STUN from the protocols sharing its port by it, drops such a message.
        let fingerprint_last = msg.fingerprint_offset().is_none_or(|at| at + 8 == d.contents.len());
        if msg.has_fingerprint() && (!fingerprint_last || msg.verify_fingerprint().is_err()) {
            return Err(IceError::BadFingerprint);
        }
        if msg.method() != Method::BINDING {
            return Err(IceError::UnsupportedMessage);
        }
        match msg.class() {
            Class::Request => self.on_request(d, &msg)?,
            Class::Success | Class::Error => self.on_response(d, &msg)?,
            Class::Indication => {
                if !msg.has_fingerprint() {
                    return Err(IceError::BadFingerprint);
                }
                // A keepalive (§11) carries no integrity: it counts only on a validated pair, where it
                // proves liveness like any packet, and is dropped from anywhere else (accepting it would
                // tell the caller an unauthenticated address belongs to this agent).
                if !self.validated(d.destination, d.source) {
                    return Err(IceError::UnvalidatedSource);
                }
                self.mark_received(d.destination, d.source, false);
            }
        }
        Ok(Incoming::Stun)
    }

    /// Whether `remote` reaches `base` on the selected pair or a pair a check validated.
    fn validated(&self, base: SocketAddr, remote: SocketAddr) -> bool {
        self.selected.is_some_and(|s| s.local.base == base && s.remote.address == remote)
            || self.list.pairs.iter().any(|p| {
                (p.valid || p.state == PairState::Succeeded)
                    && self.locals.get(p.local).is_some_and(|l| l.base == base)
                    && self.remotes.get(p.remote).is_some_and(|r| r.address == remote)
            })
    }

    fn receive_data<'a>(&mut self, d: Datagram<'a>) -> Result<Incoming<'a>, IceError> {
        let len = d.contents.len() as u64;
        let on_selected =
            self.selected.as_mut().filter(|s| s.local.base == d.destination && s.remote.address == d.source);
        if let Some(s) = on_selected {
            s.data.packets_received += 1;
            s.data.bytes_received += len;
        } else {
            // Data on a validated pair that is not (or no longer) the selected one.
            let (locals, remotes) = (&self.locals, &self.remotes);
            let pair = self.list.pairs.iter_mut().find(|p| {
                (p.valid || p.state == PairState::Succeeded)
                    && locals.get(p.local).is_some_and(|l| l.base == d.destination)
                    && remotes.get(p.remote).is_some_and(|r| r.address == d.source)
            });
            let Some(pair) = pair else { return Err(IceError::UnvalidatedSource) };
            pair.stats.data.packets_received += 1;
            pair.stats.data.bytes_received += len;
        }
        self.mark_received(d.destination, d.source, false);
        self.stats.data_received += 1;
        self.stats.data_bytes_received += len;
        Ok(Incoming::Data(d.contents))
    }

    // ----- checks received (RFC 8445 §7.3) -----

    fn on_request(&mut self, d: Datagram<'_>, msg: &Message<&[u8]>) -> Result<(), IceError> {
        if !msg.has_fingerprint() {
            return Err(IceError::BadFingerprint);
        }
        let username = msg.username().ok_or(IceError::UnknownUsername)?.as_bytes();
        let ours = self.local_creds.ufrag.as_bytes();
        if username.len() <= ours.len() || !username.starts_with(ours) || username.get(ours.len()) != Some(&b':') {
            return Err(IceError::UnknownUsername);
        }
        if msg.verify_integrity_sha1(&self.local_key).is_err() {
            return Err(IceError::BadIntegrity);
        }
        let Some(li) = self.local_for_base(d.destination) else {
            return Err(IceError::UnknownLocalAddress);
        };
        self.stats.checks_received += 1;

        // Role conflict (§7.3.1.1).
        let mut conflict = false;
        let role = msg.ice_role();
        let theirs_controlling = role.filter(|r| r.0).map(|r| r.1);
        let theirs_controlled = role.filter(|r| !r.0).map(|r| r.1);
        match (self.role, theirs_controlling, theirs_controlled) {
            (Role::Controlling, Some(theirs), _) => {
                self.stats.role_conflicts += 1;
                if self.tie_breaker >= theirs {
                    conflict = true;
                } else {
                    self.switch_role(Role::Controlled);
                }
            }
            (Role::Controlled, _, Some(theirs)) => {
                self.stats.role_conflicts += 1;
                if self.config.lite || self.tie_breaker < theirs {
                    conflict = true;
                } else {
                    self.switch_role(Role::Controlling);
                }
            }
            _ => {}
        }
        if conflict {
            let _ = self.respond(d, msg, Some(487));
            return Ok(());
        }

        // Remote candidate: known, or peer-reflexive from PRIORITY (§7.3.1.3).
        // Over TCP the peer's end of the connection is a peer-reflexive candidate of the opposite
        // direction (RFC 6544 §7.2): the peer connected from an ephemeral port.
        let transport = match self.locals.get(li).map(|l| l.transport) {
            Some(Transport::Tcp(t)) => Transport::Tcp(t.opposite()),
            _ => Transport::Udp,
        };
        let same = |r: &Candidate| r.address == d.source && r.transport.is_tcp() == transport.is_tcp();
        let ri = match self.remotes.iter().position(same) {
            Some(i) => Some(i),
            None if self.remotes.len() < self.config.max_remote_candidates && msg.priority().is_some() => {
                self.next_prflx = self.next_prflx.wrapping_add(1);
                let f = Foundation::from_number(self.next_prflx.wrapping_add(1_000_000));
                let prio = msg.priority().unwrap_or(0);
                crate::util::reserve_compact(&mut self.remotes);
                let c = Candidate::remote(CandidateKind::PeerReflexive, d.source, prio, f).with_transport(transport);
                self.remotes.push(c);
                Some(self.remotes.len() - 1)
            }
            None => None,
        };
        let Some(ri) = ri else {
            // Still answer: the peer may learn a valid pair even if we cannot keep it.
            let _ = self.respond(d, msg, None);
            return Err(IceError::LimitReached);
        };
        let answered = self.respond(d, msg, None);
        self.mark_checking();
        self.mark_received(d.destination, d.source, self.config.lite);

        // The pair and the triggered check (§7.3.1.4).
        let pi = match self.list.find(li, ri) {
            Some(i) => Some(i),
            None => {
                let (Some(l), Some(r)) = (self.locals.get(li), self.remotes.get(ri)) else { return Ok(()) };
                let p = Pair::new(li, l, ri, r, self.role);
                self.list.insert(p)
            }
        };
        let Some(pi) = pi else {
            self.stats.discarded.limit_reached += 1;
            return Ok(());
        };
        if let Some(p) = self.list.pairs.get_mut(pi) {
            p.stats.requests_received = p.stats.requests_received.saturating_add(1);
            p.stats.responses_sent = p.stats.responses_sent.saturating_add(u32::from(answered));
        }
        let nominate = msg.use_candidate() && self.role == Role::Controlled;
        if self.config.lite {
            // §7.3.1.5 (lite): a check makes the pair valid; USE-CANDIDATE nominates it.
            if let Some(p) = self.list.pairs.get_mut(pi) {
                p.state = PairState::Succeeded;
                p.valid = true;
                p.nominated |= nominate;
            }
            if nominate {
                self.select(pi);
            }
            return Ok(());
        }
        let state = self.list.pairs.get(pi).map(|p| p.state);
        let valid = self.list.pairs.get(pi).is_some_and(|p| p.valid);
        match state {
            _ if nominate && valid => {
                if let Some(p) = self.list.pairs.get_mut(pi) {
                    p.nominated = true;
                }
                self.select(pi);
            }
            Some(PairState::Succeeded) => {}
            Some(PairState::InProgress) => {
                if let Some(p) = self.list.pairs.get_mut(pi) {
                    p.nominate_on_success |= nominate;
                }
            }
            Some(_) => {
                if let Some(p) = self.list.pairs.get_mut(pi) {
                    p.nominate_on_success |= nominate;
                }
                if self.list.state == CheckListState::Running || nominate {
                    self.list.trigger(pi);
                }
            }
            None => {}
        }
        Ok(())
    }

    /// Answers a check; whether the answer was queued.
    fn respond(&mut self, d: Datagram<'_>, msg: &Message<&[u8]>, error: Option<u16>) -> bool {
        let key = &self.local_key;
        let pushed = self.transmits.push_with((d.destination, d.source), |buf| {
            let class = if error.is_some() { Class::Error } else { Class::Success };
            let mut b = MessageBuilder::response(buf, msg, class)?;
            match error {
                Some(code) => b.add(Attribute::ErrorCode(ErrorCode { code, reason: "Role Conflict" }))?,
                None => b.add(Attribute::XorMappedAddress(d.source))?,
            };
            b.message_integrity(key)?.fingerprint()?;
            b.finish();
            Ok::<(), crate::stun::Error>(())
        });
        if pushed == Ok(true) {
            self.stats.responses_sent += 1;
        }
        pushed == Ok(true)
    }

    // ----- responses (RFC 8445 §7.2.5) -----

    fn on_response(&mut self, d: Datagram<'_>, msg: &Message<&[u8]>) -> Result<(), IceError> {
        let id = msg.transaction_id().0;
        if let Some(pi) = self.list.pairs.iter().position(|p| p.txn.is_some_and(|t| t.id == id)) {
            return self.on_check_response(pi, d, msg);
        }
        if self.selected.is_some_and(|s| s.consent_txn.is_some_and(|t| t.id == id)) {
            return self.on_consent_response(d, msg);
        }
        if let Some(gi) = self.gathers.iter().position(|g| !g.done && g.id == id) {
            return self.on_gather_response(gi, d, msg);
        }
        Err(IceError::UnknownTransaction)
    }

    fn check_response_auth(&self, msg: &Message<&[u8]>) -> Result<(), IceError> {
        let Some(remote) = self.remote_creds.as_ref() else { return Err(IceError::BadIntegrity) };
        msg.verify_integrity_sha1(&remote.key).map_err(|_| IceError::BadIntegrity)
    }

    fn on_check_response(&mut self, pi: usize, d: Datagram<'_>, msg: &Message<&[u8]>) -> Result<(), IceError> {
        let Some(pair) = self.list.pairs.get(pi).copied() else { return Err(IceError::UnknownTransaction) };
        let (Some(l), Some(r)) = (self.locals.get(pair.local).copied(), self.remotes.get(pair.remote).copied()) else {
            return Err(IceError::UnknownTransaction);
        };
        // §7.2.5.2.1: the response must come from where the request went, to where it left from.
        if d.source != r.address || d.destination != l.base {
            return Err(IceError::UnexpectedSource);
        }
        self.check_response_auth(msg)?;
        self.stats.responses_received += 1;
        let Some(txn) = pair.txn else { return Err(IceError::UnknownTransaction) };
        let rtt = self.now.saturating_duration_since(txn.last_sent());
        if let Some(p) = self.list.pairs.get_mut(pi) {
            p.stats.responses_received = p.stats.responses_received.saturating_add(1);
            p.stats.rtt(rtt);
        }
        self.mark_received(d.destination, d.source, false);
        if msg.class() == Class::Error {
            let p = self.list.pairs.get_mut(pi);
            if msg.error_code().map(|e| e.code) == Some(ErrorCode::ROLE_CONFLICT) {
                // §7.2.5.1: switch role and check the pair again.
                self.stats.role_conflicts += 1;
                let new_role = if txn.controlling { Role::Controlled } else { Role::Controlling };
                if let Some(p) = p {
                    p.txn = None;
                    p.state = PairState::Waiting;
                    p.nominating = false;
                }
                self.switch_role(new_role);
                if let Some(pi) = self.list.find(pair.local, pair.remote) {
                    self.list.trigger(pi);
                }
            } else if let Some(p) = p {
                p.txn = None;
                p.state = PairState::Failed;
                p.nominating = false;
            }
            return Ok(());
        }
        // Success: the pair is valid (§7.2.5.3). A mapped address we do not know is a peer-reflexive local
        // candidate on the same base (§7.2.5.3.1); the checked pair stays the valid one since data leaves
        // from the base either way.
        if let Some(mapped) = mapped_address(msg) {
            if !self.locals.iter().any(|c| c.address == mapped) && self.locals.len() < self.config.max_local_candidates
            {
                // Its priority is the PRIORITY we sent (§7.2.5.3.1).
                if self.push_local(CandidateKind::PeerReflexive, mapped, l.base, Some(l.base), None).is_ok() {
                    if let Some(last) = self.locals.last_mut() {
                        last.priority = txn.priority;
                    }
                }
            }
        }
        let now = self.now;
        let mut nominated = false;
        if let Some(p) = self.list.pairs.get_mut(pi) {
            p.txn = None;
            p.state = PairState::Succeeded;
            p.valid = true;
            if (txn.use_candidate && self.role == Role::Controlling)
                || (p.nominate_on_success && self.role == Role::Controlled)
            {
                p.nominated = true;
                nominated = true;
            }
            p.nominating = false;
        }
        if self.first_valid_at.is_none() {
            self.first_valid_at = Some(now);
        }
        self.list.unfreeze_foundation(pi);
        if nominated {
            self.select(pi);
        } else {
            self.maybe_nominate(false);
        }
        Ok(())
    }

    fn on_consent_response(&mut self, d: Datagram<'_>, msg: &Message<&[u8]>) -> Result<(), IceError> {
        let Some(sel) = self.selected else { return Err(IceError::UnknownTransaction) };
        if d.source != sel.remote.address || d.destination != sel.local.base {
            return Err(IceError::UnexpectedSource);
        }
        self.check_response_auth(msg)?;
        self.stats.responses_received += 1;
        let now = self.now;
        if let Some(txn) = sel.consent_txn {
            let rtt = now.saturating_duration_since(txn.last_sent());
            if let Some(p) = self.selected_pair_mut() {
                p.stats.responses_received = p.stats.responses_received.saturating_add(1);
                p.stats.rtt(rtt);
            }
        }
        if let Some(s) = self.selected.as_mut() {
            s.consent_txn = None;
            if msg.class() == Class::Success {
                s.consent_last = now;
            }
        }
        self.mark_received(d.destination, d.source, false);
        Ok(())
    }

    fn on_gather_response(&mut self, gi: usize, d: Datagram<'_>, msg: &Message<&[u8]>) -> Result<(), IceError> {
        let Some(g) = self.gathers.get(gi).copied() else { return Err(IceError::UnknownTransaction) };
        if d.source != g.server || d.destination != g.base {
            return Err(IceError::UnexpectedSource);
        }
        if let Some(g) = self.gathers.get_mut(gi) {
            g.done = true;
        }
        self.stats.responses_received += 1;
        if let (Class::Success, Some(mapped)) = (msg.class(), mapped_address(msg)) {
            // §5.1.3: a server-reflexive address equal to a host candidate's is redundant.
            if !self.locals.iter().any(|c| c.address == mapped && c.base == g.base) {
                let _ = self.push_local(CandidateKind::ServerReflexive, mapped, g.base, Some(g.base), Some(g.server));
            }
        }
        Ok(())
    }
}

/// XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS from a classic (RFC 3489) server.
fn mapped_address(msg: &Message<&[u8]>) -> Option<SocketAddr> {
    msg.xor_mapped_address().or_else(|| match msg.attribute(0x0001) {
        Some(Attribute::MappedAddress(a)) => Some(a),
        _ => None,
    })
}
