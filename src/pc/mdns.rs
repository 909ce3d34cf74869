//! mDNS for the connection's candidates (draft-ietf-mmusic-mdns-ice-candidates), both ways:
//!
//! - **Resolving** (§3.2.1): remote candidates whose address is a `.local` name are held while the
//!   connection's [`Resolver`] resolves their names, then handed to ICE with the address
//!   ([`super::Config::resolve_mdns`]). The resolver's queries leave from the connection's first host
//!   socket of each family to the mDNS group ([`PeerConnection::poll_transmit`](crate::PathMachine::poll_transmit)
//!   hands them out with the rest); its deadlines are part of `poll_timeout`.
//! - **Hiding** (§3.1, [`super::Config::hide_local_addresses`]): each host address gets a random
//!   `<UUIDv4>.local` name (from the connection's seeded generator) when its socket is declared; the
//!   name replaces the address in the candidates we signal, and the related address of our other
//!   candidates is hidden (`0.0.0.0`/`::` port 9, §3.1.2.2). The [`Responder`] answers queries for the
//!   names, which reach the caller's socket bound to port 5353
//!   ([`PeerConnection::add_mdns_socket`]).
//!
//! **In**: a datagram that is not STUN goes to the mDNS part when it arrives on port 5353 (the caller's
//! mDNS socket; a one-shot query comes from any port, the peer's ICE socket included), or comes from port
//! 5353 (a response) but not from an address ICE knows as a remote candidate (signalled or
//! peer-reflexive). This is checked before the
//! RFC 7983 demultiplexing, in whose first-byte ranges a DNS header with id zero would pass for STUN. A
//! peer's own ICE traffic from port 5353 is STUN, or comes from an address ICE has learned, so it still
//! goes down the usual path. Responses go to the resolver, queries to the responder; anything about no
//! name of ours is dropped and counted ([`super::Stats::mdns_dropped`]).
//!
//! **Memory**: all of it lives in one box made on first use (the first `.local` candidate, or the first
//! host socket while hiding): a connection that never meets mDNS pays one pointer for it.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddr};

use super::conn::PeerConnection;
use super::error::{Error, RecvError};
use super::{IceTransportPolicy, TARGET};
use crate::ice::{Candidate, CandidateKind};
use crate::machine::{Datagram, Machine, PathMachine};
use crate::mdns::{self, Event as MdnsEvent, Resolver, Responder};
use crate::sdp::{CandidateAddress, CandidateAttribute};
use crate::time::Instant;

/// Remote `.local` candidates held at most while their names resolve.
const MAX_HELD: usize = 16;

/// A remote candidate waiting for its name.
#[derive(Debug)]
struct Held {
    name: String,
    /// The candidate, its address's IP still unspecified (the port is the signalled one).
    candidate: Candidate,
    /// Whether the resolver has been asked (it cannot be before a host socket is declared).
    asked: bool,
}

/// The connection's mDNS part, boxed in [`PeerConnection`] and made on first use.
#[derive(Debug)]
pub(super) struct Mdns {
    resolver: Resolver,
    held: Vec<Held>,
    /// The names hiding our host addresses (empty unless hiding is on); its sources are the caller's
    /// sockets bound to port 5353 ([`PeerConnection::add_mdns_socket`]).
    responder: Responder,
}

impl Mdns {
    fn new() -> Self {
        Mdns { resolver: Resolver::new(mdns::Config::default()), held: Vec::new(), responder: Responder::new() }
    }

    /// Whether `datagram` is mDNS this connection has a use for: a response while a name is being
    /// resolved, or a query for one of our names.
    fn wants(&self, datagram: &Datagram<'_>) -> bool {
        if !is_mdns_port(datagram) || crate::stun::is_stun(datagram.contents) {
            return false;
        }
        let response = mdns::wire::Message::new_checked(datagram.contents).is_ok_and(|m| m.flags().is_response());
        if response {
            datagram.source.port() == mdns::wire::PORT && self.resolver.pending() > 0
        } else {
            self.responder.is_asked(datagram.contents)
        }
    }

    /// Whether it has anything to do with mDNS traffic at all (names being resolved, or names of ours).
    fn active(&self) -> bool {
        self.resolver.pending() > 0 || !self.responder.is_empty()
    }

    fn has_transmit(&self) -> bool {
        self.resolver.has_transmit() || self.responder.poll_timeout().is_some()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [self.resolver.poll_timeout(), self.responder.poll_timeout()].into_iter().flatten().min()
    }
}

/// Whether `datagram` travels from or to port 5353.
fn is_mdns_port(datagram: &Datagram<'_>) -> bool {
    datagram.source.port() == mdns::wire::PORT || datagram.destination.port() == mdns::wire::PORT
}

/// A UDP candidate of component 1 whose address is a `.local` name: the name, and the candidate with an
/// unspecified IP (and the signalled port) until it resolves. `None` for any other candidate.
pub(super) fn held_candidate<'a>(c: &CandidateAttribute<'a>) -> Option<(&'a str, Candidate)> {
    let CandidateAddress::Fqdn(name) = c.address else { return None };
    if !c.address.is_mdns() {
        return None;
    }
    let unresolved = CandidateAttribute { address: CandidateAddress::Ip(Ipv4Addr::UNSPECIFIED.into()), ..*c };
    let candidate = super::describe::ice_candidate(&unresolved).ok()??;
    Some((name, candidate))
}

impl PeerConnection {
    /// The mDNS resolver of remote `.local` candidates (for its counters, [`crate::mdns::Stats`]), once
    /// the connection has met mDNS; `None` before.
    pub fn mdns_resolver(&self) -> Option<&Resolver> {
        self.mdns.as_deref().map(|m| &m.resolver)
    }

    /// The responder answering for the names hiding our host addresses
    /// ([`super::Config::hide_local_addresses`]; for its names and counters), once made.
    pub fn mdns_responder(&self) -> Option<&Responder> {
        self.mdns.as_deref().map(|m| &m.responder)
    }

    /// Declares the caller's socket bound to port 5353 (one per address family, joined to 224.0.0.251
    /// or ff02::fb): what it receives goes to [`PathMachine::handle_receive`] like everything else, and
    /// the answers to queries for our hidden names leave from it. Only hiding needs it
    /// ([`super::Config::hide_local_addresses`]); the resolver's answers reach the host sockets anyway.
    /// Then drain transmits.
    pub fn add_mdns_socket(&mut self, now: Instant, addr: SocketAddr) -> Result<(), Error> {
        let _span = self.enter_span();
        self.touch(now);
        self.check_open()?;
        self.mdns_part().responder.set_source(addr);
        Ok(())
    }

    /// The mDNS part, made now if it is not yet.
    fn mdns_part(&mut self) -> &mut Mdns {
        self.mdns.get_or_insert_with(|| Box::new(Mdns::new()))
    }

    /// Hiding: gives the host address of `addr` its name before its candidate is gathered (draft §3.1.1;
    /// an unspecified address is not hidden, it is never signalled as it is anyway).
    pub(super) fn hide_host(&mut self, addr: SocketAddr) {
        if !self.config.hide_local_addresses || addr.ip().is_unspecified() {
            return;
        }
        let mut rng = self.rng.fork();
        if let Err(e) = self.mdns_part().responder.hide(&mut rng, addr.ip()) {
            // Beyond the responder's bound the address is signalled as it is.
            tracing::debug!(target: TARGET, error = %e, "host address not hidden");
        }
    }

    /// The names hiding our host addresses, for the candidates we signal; `None` unless hiding.
    pub(super) fn hidden_names(&self) -> Option<&Responder> {
        self.mdns.as_deref().map(|m| &m.responder).filter(|_| self.config.hide_local_addresses)
    }

    /// Whether `datagram` is mDNS this connection has a use for (for [`PeerConnection::accepts`] and
    /// the router).
    pub(crate) fn takes_mdns(&self, datagram: &Datagram<'_>) -> bool {
        self.mdns.as_deref().is_some_and(|m| m.wants(datagram))
    }

    /// Whether the connection resolves names or hides addresses now (the router hands mDNS traffic only
    /// to such connections).
    pub(crate) fn mdns_in_use(&self) -> bool {
        self.mdns.as_deref().is_some_and(Mdns::active)
    }

    /// Whether `datagram` goes to the mDNS part (see the module docs): not STUN, and to port 5353 (the
    /// caller's mDNS socket: a query may come from the peer's ICE socket), or from port 5353 but not
    /// from a known remote candidate's address (a peer using port 5353 for ICE).
    pub(super) fn is_mdns(&self, datagram: &Datagram<'_>) -> bool {
        let to_mdns = datagram.destination.port() == mdns::wire::PORT;
        let from_mdns = datagram.source.port() == mdns::wire::PORT
            && !self.ice.agent().remote_candidates().iter().any(|c| c.address == datagram.source);
        (to_mdns || from_mdns) && !crate::stun::is_stun(datagram.contents)
    }

    pub(super) fn mdns_has_transmit(&self) -> bool {
        self.mdns.as_deref().is_some_and(Mdns::has_transmit)
    }

    pub(super) fn mdns_poll_transmit(&mut self) -> Option<crate::Transmit<'_>> {
        let m = self.mdns.as_deref_mut()?;
        if m.resolver.has_transmit() {
            return m.resolver.poll_transmit();
        }
        m.responder.poll_transmit()
    }

    pub(super) fn mdns_poll_timeout(&self) -> Option<Instant> {
        self.mdns.as_deref().and_then(Mdns::poll_timeout)
    }

    /// Holds a remote candidate whose address is the `.local` name `name` (from [`held_candidate`]), and
    /// asks for the name. Ignored (and counted as unresolved) when resolution is off
    /// ([`super::Config::resolve_mdns`]) or the policy is relay-only (the draft's §3.2.1 step 2).
    pub(super) fn hold_mdns_candidate(&mut self, now: Instant, name: &str, candidate: Candidate) {
        if !self.config.resolve_mdns || self.config.ice_transport_policy == IceTransportPolicy::Relay {
            tracing::debug!(target: TARGET, name, "mDNS candidate ignored");
            self.stats.mdns_unresolved += 1;
            return;
        }
        let m = self.mdns_part();
        let duplicate = m
            .held
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case(name) && h.candidate.address.port() == candidate.address.port());
        if duplicate {
            return;
        }
        if m.held.len() >= MAX_HELD {
            tracing::debug!(target: TARGET, name, "too many mDNS candidates held");
            self.stats.mdns_unresolved += 1;
            return;
        }
        m.held.push(Held { name: String::from(name), candidate, asked: false });
        self.ask_mdns(now);
    }

    /// Asks the resolver for the names held but not yet asked for, once a host socket exists to send
    /// from. Called when a candidate is held and when a host socket is declared.
    pub(super) fn ask_mdns(&mut self, now: Instant) {
        let Some(m) = self.mdns.as_deref_mut() else { return };
        if m.held.iter().all(|h| h.asked) {
            return;
        }
        for family in [false, true] {
            let host =
                self.ice.agent().local_candidates().iter().find(|c| {
                    c.kind == CandidateKind::Host && c.base.is_ipv6() == family && !c.base.ip().is_unspecified()
                });
            if let Some(c) = host {
                m.resolver.set_source(c.base);
            }
        }
        if m.resolver.sources().next().is_none() {
            return;
        }
        let mut failed = Vec::new();
        for h in m.held.iter_mut().filter(|h| !h.asked) {
            h.asked = true;
            if let Err(e) = m.resolver.query(now, &h.name) {
                tracing::debug!(target: TARGET, name = %h.name, error = %e, "mDNS candidate not resolved");
                failed.push(h.name.clone());
            }
        }
        for name in failed {
            self.drop_held(&name);
        }
        // A name in the cache resolves at once.
        self.on_mdns_events(now);
    }

    /// Forgets the held candidates named `name`, counting them as unresolved.
    fn drop_held(&mut self, name: &str) {
        let Some(m) = self.mdns.as_deref_mut() else { return };
        let before = m.held.len();
        m.held.retain(|h| !h.name.eq_ignore_ascii_case(name));
        self.stats.mdns_unresolved += (before - m.held.len()) as u64;
    }

    /// Down: a datagram [`Self::is_mdns`] says is mDNS goes to the resolver (a response) or the responder
    /// (a query), and what the resolver resolved to ICE. Anything about no name of ours is dropped and
    /// counted.
    pub(super) fn receive_mdns(&mut self, now: Instant, datagram: Datagram<'_>) -> Result<(), RecvError> {
        let response = mdns::wire::Message::new_checked(datagram.contents).map(|m| m.flags().is_response());
        let hiding = self.config.hide_local_addresses;
        let r = match self.mdns.as_deref_mut() {
            None => response.and(Err(mdns::Error::NotOurs)),
            Some(m) => match response {
                Ok(false) if hiding && !m.responder.is_empty() => {
                    let before = m.responder.stats().answered;
                    m.responder.handle_receive(now, datagram).and_then(|()| {
                        if m.responder.stats().answered > before { Ok(()) } else { Err(mdns::Error::NotOurs) }
                    })
                }
                Ok(false) => Err(mdns::Error::NotOurs),
                // The resolver counts what is wrong with a response (or with bytes that are no message).
                _ if m.resolver.pending() > 0 => m.resolver.handle_receive(now, datagram),
                Err(e) => Err(e),
                Ok(true) => Err(mdns::Error::NotOurs),
            },
        };
        let r = r.map_err(|e| {
            tracing::trace!(target: TARGET, from = %datagram.source, error = %e, "mDNS datagram dropped");
            self.stats.mdns_dropped += 1;
            RecvError::Mdns(e)
        });
        self.on_mdns_events(now);
        r
    }

    /// The resolver's timers (retransmissions, names given up).
    pub(super) fn mdns_timeout(&mut self, now: Instant) {
        let Some(m) = self.mdns.as_deref_mut() else { return };
        m.resolver.handle_timeout(now);
        m.responder.handle_timeout(now);
        self.on_mdns_events(now);
    }

    /// Resolved names complete their held candidates, which go to ICE; failed ones are dropped.
    fn on_mdns_events(&mut self, now: Instant) {
        loop {
            let Some(m) = self.mdns.as_deref_mut() else { return };
            let Some(e) = m.resolver.poll_event() else { return };
            match e {
                MdnsEvent::Resolved { name, addr } => {
                    let source6 = m.resolver.sources().find(SocketAddr::is_ipv6);
                    let mut resolved = Vec::new();
                    let mut i = 0;
                    while let Some(h) = m.held.get(i) {
                        if h.name.eq_ignore_ascii_case(&name) {
                            resolved.push(m.held.swap_remove(i).candidate);
                        } else {
                            i += 1;
                        }
                    }
                    for mut c in resolved {
                        c.address = SocketAddr::new(addr, c.address.port());
                        if let (SocketAddr::V6(a), Some(SocketAddr::V6(source))) = (&mut c.address, source6) {
                            // A link-local address is reachable through the interface the query left on.
                            if a.ip().is_unicast_link_local() {
                                a.set_scope_id(source.scope_id());
                            }
                        }
                        c.base = c.address;
                        tracing::debug!(target: TARGET, name, candidate = %c, "mDNS candidate resolved");
                        match self.ice.add_remote_candidate(now, c) {
                            Ok(()) | Err(crate::ice::ApiError::Duplicate) => {}
                            Err(e) => {
                                tracing::debug!(target: TARGET, error = %e, "resolved candidate refused");
                                self.stats.mdns_unresolved += 1;
                            }
                        }
                    }
                }
                MdnsEvent::Failed { name } => {
                    tracing::debug!(target: TARGET, name, "mDNS candidate did not resolve");
                    self.drop_held(&name);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::super::describe::{Hiding, sdp_candidate};
    use crate::ice::{Candidate, CandidateKind, Foundation};
    use crate::mdns::Responder;
    use crate::rand::SeededRng;

    fn candidate(kind: CandidateKind, address: &str, related: Option<&str>) -> Candidate {
        let mut c = Candidate::remote(kind, address.parse().unwrap(), 1, Foundation::new("1").unwrap());
        c.related = related.map(|r| r.parse().unwrap());
        c
    }

    #[test]
    fn hidden_host_addresses_leave_the_signalled_candidates() {
        let mut rng = SeededRng::from_seed([4; 32]);
        let mut names = Responder::new();
        let name = names.hide(&mut rng, "192.168.1.20".parse().unwrap()).unwrap().to_string();
        let hide = Hiding { related: true, names: Some(&names) };
        let host = candidate(CandidateKind::Host, "192.168.1.20:6000", None);
        assert_eq!(sdp_candidate(&host, hide).to_string(), alloc::format!("1 1 UDP 1 {name} 6000 typ host"));
        // A server-reflexive candidate keeps its public address; its related address (the host
        // address) becomes 0.0.0.0 port 9 (draft-ietf-mmusic-mdns-ice-candidates §3.1.2.2).
        let srflx = candidate(CandidateKind::ServerReflexive, "203.0.113.5:40000", Some("192.168.1.20:6000"));
        assert_eq!(
            sdp_candidate(&srflx, hide).to_string(),
            "1 1 UDP 1 203.0.113.5 40000 typ srflx raddr 0.0.0.0 rport 9"
        );
        // A host address it does not hide is signalled as it is; without hiding, nothing changes.
        let other = candidate(CandidateKind::Host, "10.0.0.7:6000", None);
        assert_eq!(sdp_candidate(&other, hide).to_string(), "1 1 UDP 1 10.0.0.7 6000 typ host");
        assert_eq!(sdp_candidate(&host, Hiding::default()).to_string(), "1 1 UDP 1 192.168.1.20 6000 typ host");
        assert_eq!(
            sdp_candidate(&srflx, Hiding::default()).to_string(),
            "1 1 UDP 1 203.0.113.5 40000 typ srflx raddr 192.168.1.20 rport 6000"
        );
    }
}
