//! Remote candidates hidden behind `.local` names (draft-ietf-mmusic-mdns-ice-candidates §3.2.1): held
//! while the connection's [`Resolver`] resolves their names, then handed to ICE with the address. The
//! DNS work is the resolver's; this file only routes to it and from it.
//!
//! - **Out**: the resolver's queries leave from the connection's first host socket of each family to the
//!   mDNS group ([`PeerConnection::poll_transmit`](crate::PathMachine::poll_transmit) hands them out with
//!   the rest); its deadlines are part of `poll_timeout`.
//! - **In**: a datagram from port 5353 goes to the resolver when it is not STUN and does not come from
//!   an address ICE knows as a remote candidate (signalled or peer-reflexive). This is checked before
//!   the RFC 7983 demultiplexing, in whose first-byte ranges a DNS header with id zero would pass for
//!   STUN. A peer's own ICE traffic from port 5353 is STUN, or comes from an address ICE has learned,
//!   so it still goes down the usual path.

use alloc::string::String;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddr};

use super::conn::PeerConnection;
use super::error::RecvError;
use super::{IceTransportPolicy, TARGET};
use crate::ice::{Candidate, CandidateKind};
use crate::machine::{Datagram, Machine, PathMachine};
use crate::mdns::{self, Event as MdnsEvent, Resolver};
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

/// The connection's mDNS part: its resolver and the candidates waiting on it.
#[derive(Debug)]
pub(super) struct Mdns {
    resolver: Resolver,
    held: Vec<Held>,
    enabled: bool,
}

impl Mdns {
    pub(super) fn new(enabled: bool) -> Self {
        Mdns { resolver: Resolver::new(mdns::Config::default()), held: Vec::new(), enabled }
    }

    /// Whether `datagram` is for the resolver: from port 5353 and not STUN (see the module docs).
    pub(super) fn takes(&self, datagram: &Datagram<'_>) -> bool {
        self.enabled && datagram.source.port() == mdns::wire::PORT && !crate::stun::is_stun(datagram.contents)
    }

    /// Whether the resolver waits for an answer that `datagram` may be (for [`PeerConnection::accepts`]).
    pub(super) fn wants(&self, datagram: &Datagram<'_>) -> bool {
        self.takes(datagram) && self.resolver.pending() > 0
    }

    pub(super) fn has_transmit(&self) -> bool {
        self.resolver.has_transmit()
    }

    pub(super) fn poll_transmit(&mut self) -> Option<crate::Transmit<'_>> {
        self.resolver.poll_transmit()
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.resolver.poll_timeout()
    }
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
    /// The mDNS resolver of remote `.local` candidates (for its counters, [`crate::mdns::Stats`]).
    pub fn mdns_resolver(&self) -> &Resolver {
        &self.mdns.resolver
    }

    /// Whether `datagram` is an mDNS response for the resolver: [`Mdns::takes`] it, and it does not
    /// come from a known remote candidate's address (a peer using port 5353 for ICE).
    pub(super) fn is_mdns_response(&self, datagram: &Datagram<'_>) -> bool {
        self.mdns.takes(datagram) && !self.ice.agent().remote_candidates().iter().any(|c| c.address == datagram.source)
    }

    /// Holds a remote candidate whose address is the `.local` name `name` (from [`held_candidate`]), and
    /// asks for the name. Ignored (and counted as unresolved) when resolution is off
    /// ([`super::Config::resolve_mdns`]) or the policy is relay-only (the draft's §3.2.1 step 2).
    pub(super) fn hold_mdns_candidate(&mut self, now: Instant, name: &str, candidate: Candidate) {
        if !self.mdns.enabled || self.config.ice_transport_policy == IceTransportPolicy::Relay {
            tracing::debug!(target: TARGET, name, "mDNS candidate ignored");
            self.stats.mdns_unresolved += 1;
            return;
        }
        let duplicate = self
            .mdns
            .held
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case(name) && h.candidate.address.port() == candidate.address.port());
        if duplicate {
            return;
        }
        if self.mdns.held.len() >= MAX_HELD {
            tracing::debug!(target: TARGET, name, "too many mDNS candidates held");
            self.stats.mdns_unresolved += 1;
            return;
        }
        self.mdns.held.push(Held { name: String::from(name), candidate, asked: false });
        self.ask_mdns(now);
    }

    /// Asks the resolver for the names held but not yet asked for, once a host socket exists to send
    /// from. Called when a candidate is held and when a host socket is declared.
    pub(super) fn ask_mdns(&mut self, now: Instant) {
        if self.mdns.held.iter().all(|h| h.asked) {
            return;
        }
        for family in [false, true] {
            let host =
                self.ice.agent().local_candidates().iter().find(|c| {
                    c.kind == CandidateKind::Host && c.base.is_ipv6() == family && !c.base.ip().is_unspecified()
                });
            if let Some(c) = host {
                self.mdns.resolver.set_source(c.base);
            }
        }
        if self.mdns.resolver.sources().next().is_none() {
            return;
        }
        let mut i = 0;
        while let Some(h) = self.mdns.held.get_mut(i) {
            if h.asked {
                i += 1;
                continue;
            }
            h.asked = true;
            let name = h.name.clone();
            if let Err(e) = self.mdns.resolver.query(now, &name) {
                tracing::debug!(target: TARGET, name, error = %e, "mDNS candidate not resolved");
                self.drop_held(&name);
                continue;
            }
            i += 1;
        }
        // A name in the cache resolves at once.
        self.on_mdns_events(now);
    }

    /// Forgets the held candidates named `name`, counting them as unresolved.
    fn drop_held(&mut self, name: &str) {
        let before = self.mdns.held.len();
        self.mdns.held.retain(|h| !h.name.eq_ignore_ascii_case(name));
        self.stats.mdns_unresolved += (before - self.mdns.held.len()) as u64;
    }

    /// Down: a datagram [`Mdns::takes`] goes to the resolver, and what it resolved to ICE.
    pub(super) fn receive_mdns(&mut self, now: Instant, datagram: Datagram<'_>) -> Result<(), RecvError> {
        let r = self.mdns.resolver.handle_receive(now, datagram).map_err(|e| {
            self.stats.mdns_dropped += 1;
            RecvError::Mdns(e)
        });
        self.on_mdns_events(now);
        r
    }

    /// The resolver's timers (retransmissions, names given up).
    pub(super) fn mdns_timeout(&mut self, now: Instant) {
        self.mdns.resolver.handle_timeout(now);
        self.on_mdns_events(now);
    }

    /// Resolved names complete their held candidates, which go to ICE; failed ones are dropped.
    fn on_mdns_events(&mut self, now: Instant) {
        while let Some(e) = self.mdns.resolver.poll_event() {
            match e {
                MdnsEvent::Resolved { name, addr } => {
                    let mut i = 0;
                    while let Some(h) = self.mdns.held.get(i) {
                        if !h.name.eq_ignore_ascii_case(&name) {
                            i += 1;
                            continue;
                        }
                        let mut c = self.mdns.held.swap_remove(i).candidate;
                        c.address = SocketAddr::new(addr, c.address.port());
                        if let (SocketAddr::V6(a), Some(SocketAddr::V6(source))) =
                            (&mut c.address, self.mdns.resolver.sources().find(SocketAddr::is_ipv6))
                        {
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
