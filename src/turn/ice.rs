//! An ICE agent with TURN relay candidates: [`IceRelay`] routes what the agent sends from a relayed
//! address through the [`TurnClient`] that owns it, and what a relay delivers back to the agent as if it had
//! arrived on the relayed address, so relay candidates are gathered, paired and checked like any other
//! and data through a relay is transparent to the layers above (RFC 8445 §5.1.1.2, RFC 8656 §2).

use alloc::vec::Vec;
use core::net::SocketAddr;

use super::TARGET;
use super::client::{TurnClient, TurnConfig, TurnEvent};
use super::error::{Error, Failure};
use crate::ice::{ApiError, Candidate, CandidateKind, IceAgent, IceError, IceEvent, Incoming, TcpType};
use crate::machine::{Datagram, Machine, PathMachine, Transmit};
use crate::rand::SeededRng;
use crate::time::Instant;
use crate::util::{EventQueue, OutQueue, deadline};

/// What an [`IceRelay`] reports: the agent's events and each TURN client's, by server index (the order
/// of [`IceRelay::add_turn_server`] calls).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IceRelayEvent {
    /// An ICE agent event (signal `LocalCandidate`s to the peer as usual).
    Ice(IceEvent),
    /// A TURN client event.
    Turn(usize, TurnEvent),
}

/// Why a datagram was dropped, or data not sent, by an [`IceRelay`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IceRelayError {
    /// The ICE agent dropped it (directly or after a relay delivered it).
    Ice(IceError),
    /// A TURN client dropped it (or refused data to send).
    Turn(Error),
    /// The agent refused the call (no selected pair, consent lost, closed).
    Api(ApiError),
}

impl core::fmt::Display for IceRelayError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            IceRelayError::Ice(e) => write!(f, "ICE: {e}"),
            IceRelayError::Turn(e) => write!(f, "TURN: {e}"),
            IceRelayError::Api(e) => write!(f, "ICE: {e}"),
        }
    }
}

impl core::error::Error for IceRelayError {}

/// At most this many TURN servers per agent.
const MAX_SERVERS: usize = 4;

/// Local gathering, as the caller and the allocations move it on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gathering {
    /// More local sockets may come.
    Open,
    /// The caller said no more are coming; the agent is told once every allocation has settled.
    Ending,
    /// The agent was told ([`IceAgent::end_of_local_candidates`]).
    Ended,
}

/// One TURN server of an [`IceRelay`] (at most four, held inline).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Server {
    /// Its configuration names no local socket: it allocates from the first host socket of its family,
    /// with this generator.
    Waiting(TurnConfig, SeededRng),
    /// Allocating, allocated, or done.
    Started(TurnClient),
    /// No socket of its family was declared before the end of gathering.
    GaveUp(SocketAddr),
}

impl Server {
    fn client(&self) -> Option<&TurnClient> {
        if let Server::Started(c) = self { Some(c) } else { None }
    }

    fn client_mut(&mut self) -> Option<&mut TurnClient> {
        if let Server::Started(c) = self { Some(c) } else { None }
    }
}

/// An [`IceAgent`] plus the [`TurnClient`]s of its relay candidates, as one [`PathMachine`]: the one
/// place where ICE and TURN are composed (the peer connection uses it too).
///
/// Use it like the agent (declare host sockets with [`IceRelay::add_local_host`], signal candidates, feed
/// every datagram, drain transmits and events), and add TURN servers with [`IceRelay::add_turn_server`]:
/// each allocation becomes a relay candidate of the agent. A TURN client allocates from its
/// [`TurnConfig::local`] socket, or, when that is unspecified (`0.0.0.0:0`, `[::]:0`), from the first
/// host socket of the server's family declared with [`IceRelay::add_local_host`]. Datagrams from the TURN
/// server to that socket go to the client, everything else to the agent. Gathering (the agent's
/// [`IceEvent::GatheringComplete`]) completes once [`IceRelay::end_of_local_candidates`] was called and
/// every allocation has succeeded or failed. With [`crate::ice::CandidateFilter::RELAY_ONLY`] in the
/// agent's config only relayed paths are used.
///
/// Data: [`IceRelay::send`] sends on the selected pair (through the relay when it is a relayed one; a
/// channel is bound to the selected remote so data then travels as ChannelData);
/// [`IceRelay::receive`] hands received application data back borrowed from the datagram, and
/// [`IceRelay::poll_data`] yields what `handle_receive` queued.
///
/// Every call hands its output on in one pass, in a fixed order: TURN events to the agent (relay
/// candidates), the agent's events to the TURN clients (channel bindings), what the agent sends to the
/// relays or out, what the relays send out. [`Machine::poll_timeout`] is the current time while a
/// datagram is waiting in [`PathMachine::poll_transmit`].
#[derive(Debug)]
pub struct IceRelay {
    agent: IceAgent,
    servers: Vec<Server>,
    /// Seeds the TURN clients added with [`IceRelay::add_turn_server`].
    rng: Option<alloc::boxed::Box<SeededRng>>,
    now: Instant,
    out: OutQueue<(SocketAddr, SocketAddr)>,
    data: OutQueue<()>,
    events: EventQueue<IceRelayEvent>,
    /// Where local gathering stands.
    gathering: Gathering,
}

impl IceRelay {
    /// Wraps `agent`; `rng` seeds the TURN clients added later.
    pub fn new(agent: IceAgent, rng: SeededRng) -> Self {
        IceRelay { rng: Some(alloc::boxed::Box::new(rng)), ..IceRelay::with_agent_only(agent) }
    }

    /// Wraps `agent` without a generator of its own: TURN servers come with theirs
    /// ([`IceRelay::add_turn_server_with`]), so a caller that never adds one draws nothing for it.
    pub fn with_agent_only(agent: IceAgent) -> Self {
        IceRelay {
            agent,
            servers: Vec::new(),
            rng: None,
            now: Instant::ZERO,
            out: OutQueue::new(256),
            data: OutQueue::new(256),
            events: EventQueue::new(512),
            gathering: Gathering::Open,
        }
    }

    /// With room for `transmits` queued datagrams (default 256).
    pub fn with_transmit_capacity(mut self, transmits: usize) -> Self {
        self.out = OutQueue::new(transmits.max(1));
        self
    }

    /// The agent (to read its state and selected pair).
    pub fn agent(&self) -> &IceAgent {
        &self.agent
    }

    /// The agent, to change it directly. Drain output and events after changing it.
    pub fn agent_mut(&mut self) -> &mut IceAgent {
        &mut self.agent
    }

    /// The TURN client of server `index` (the order of [`IceRelay::add_turn_server`] calls), once its
    /// allocation has started.
    pub fn turn(&self, index: usize) -> Option<&TurnClient> {
        self.servers.get(index).and_then(Server::client)
    }

    /// The TURN clients whose allocation has started, in server order.
    pub fn turns(&self) -> impl Iterator<Item = &TurnClient> + '_ {
        self.servers.iter().filter_map(Server::client)
    }

    /// The address of TURN server `index`.
    pub fn server(&self, index: usize) -> Option<SocketAddr> {
        match self.servers.get(index)? {
            Server::Waiting(c, _) => Some(c.server),
            Server::Started(c) => Some(c.server()),
            Server::GaveUp(s) => Some(*s),
        }
    }

    /// Whether `datagram` is for this agent: from a TURN server to its client's socket, or a STUN
    /// message or data the agent would take (see [`IceAgent`]); used to share one socket.
    pub fn accepts_turn(&self, datagram: &Datagram<'_>) -> bool {
        self.turns().any(|t| t.accepts(datagram))
    }

    /// Whether an allocation is still in progress (gathering waits for it).
    pub fn is_allocating(&self) -> bool {
        self.servers.iter().any(|s| match s {
            Server::Waiting(..) => self.gathering == Gathering::Open,
            Server::Started(c) => c.is_allocating(),
            Server::GaveUp(_) => false,
        })
    }

    /// Adds a TURN server; its relayed address becomes a relay candidate once allocated. The allocation
    /// starts at once when `config.local` names a socket, else at the first host socket of the server's
    /// family. Returns the server index, or `Err(TableFull)` past four servers. The client's generator
    /// is forked from the one given to [`IceRelay::new`] (or seeded with zeros without one: use
    /// [`IceRelay::add_turn_server_with`] then).
    pub fn add_turn_server(&mut self, now: Instant, config: TurnConfig) -> Result<usize, Error> {
        let rng = self.rng.as_mut().map_or_else(|| SeededRng::from_seed([0; 32]), |r| r.fork());
        self.add_turn_server_with(now, config, rng)
    }

    /// [`IceRelay::add_turn_server`] with the generator for the server's client.
    pub fn add_turn_server_with(&mut self, now: Instant, config: TurnConfig, rng: SeededRng) -> Result<usize, Error> {
        self.touch(now);
        if self.servers.len() >= MAX_SERVERS {
            return Err(Error::TableFull);
        }
        self.servers.push(Server::Waiting(config, rng));
        self.start_servers(None);
        self.flush();
        Ok(self.servers.len() - 1)
    }

    /// Declares a local UDP socket: a host candidate (see [`IceAgent::add_local_host`]), and the socket
    /// TURN servers of its family waiting for one allocate from.
    pub fn add_local_host(&mut self, now: Instant, addr: SocketAddr) -> Result<Option<Candidate>, ApiError> {
        self.touch(now);
        let r = self.agent.add_local_host(self.now, addr);
        if r.is_ok() {
            self.start_servers(Some(addr));
        }
        self.flush();
        r
    }

    /// Declares a local TCP host candidate ([`IceAgent::add_local_tcp`]); TURN allocations are not made
    /// from TCP bases.
    pub fn add_local_tcp(&mut self, now: Instant, addr: SocketAddr, tcp_type: TcpType) -> Result<Candidate, ApiError> {
        self.touch(now);
        let r = self.agent.add_local_tcp(self.now, addr, tcp_type);
        self.flush();
        r
    }

    /// Adds a STUN server for server-reflexive candidates ([`IceAgent::add_stun_server`]).
    pub fn add_stun_server(&mut self, now: Instant, server: SocketAddr) -> Result<(), ApiError> {
        self.touch(now);
        let r = self.agent.add_stun_server(self.now, server);
        self.flush();
        r
    }

    /// No more local sockets: TURN servers still waiting for a socket of their family give up
    /// ([`TurnEvent::Failed`] with [`Failure::AddressFamilyNotSupported`]), and the agent's gathering
    /// completes once every allocation has succeeded or failed.
    pub fn end_of_local_candidates(&mut self, now: Instant) {
        self.touch(now);
        self.start_servers(None);
        for (i, s) in self.servers.iter_mut().enumerate() {
            if let Server::Waiting(c, _) = s {
                let server = c.server;
                *s = Server::GaveUp(server);
                let failure = Failure::AddressFamilyNotSupported;
                self.events.push(IceRelayEvent::Turn(i, TurnEvent::Failed(failure)));
            }
        }
        if self.gathering == Gathering::Open {
            self.gathering = Gathering::Ending;
        }
        self.flush();
    }

    /// Adds a remote candidate to the agent ([`IceAgent::add_remote_candidate`]).
    pub fn add_remote_candidate(&mut self, now: Instant, candidate: crate::ice::Candidate) -> Result<(), ApiError> {
        self.touch(now);
        let r = self.agent.add_remote_candidate(self.now, candidate);
        self.flush();
        r
    }

    /// Runs `f` on the agent at `now` (credentials, roles, restarts, end of remote candidates), then
    /// hands on what it produced.
    pub fn with_agent<R>(&mut self, now: Instant, f: impl FnOnce(&mut IceAgent, Instant) -> R) -> R {
        self.touch(now);
        let r = f(&mut self.agent, self.now);
        self.flush();
        r
    }

    /// Sends application data on the selected pair. What the agent queued before (a binding response
    /// that may be what lets the peer select this pair) leaves first.
    pub fn send(&mut self, now: Instant, data: &[u8]) -> Result<(), IceRelayError> {
        self.touch(now);
        self.flush_agent_transmits();
        let t = self.agent.send(data).map_err(IceRelayError::Api)?;
        let (source, destination) = (t.source, t.destination);
        match send_relayed(&mut self.servers, self.now, source, destination, data) {
            Some(sent) => {
                self.flush_turn_transmits();
                sent.map_err(IceRelayError::Turn)
            }
            None => {
                if !self.out.push((source, destination), data) {
                    tracing::debug!(target: TARGET, "output queue full, data dropped");
                }
                Ok(())
            }
        }
    }

    /// Stops: the agent closes, allocations are released (RFC 8656 §7.2: Refresh with LIFETIME 0; their
    /// answers are still taken), servers still waiting for a socket are forgotten.
    pub fn close(&mut self, now: Instant) {
        self.touch(now);
        self.agent.close();
        for s in &mut self.servers {
            match s {
                Server::Started(c) => c.close(self.now),
                Server::Waiting(c, _) => *s = Server::GaveUp(c.server),
                Server::GaveUp(_) => {}
            }
        }
        self.flush();
    }

    /// Gives back buffers kept for reuse where nothing waits in them.
    pub fn trim(&mut self) {
        self.out.trim();
        self.data.trim();
        self.events.trim();
        self.agent.trim();
    }

    /// The number of datagrams waiting in [`PathMachine::poll_transmit`].
    pub fn transmits_queued(&self) -> usize {
        self.out.len()
    }

    /// Datagrams dropped because the transmit queue was full.
    pub fn transmits_dropped(&self) -> u64 {
        self.out.dropped()
    }

    /// The next application datagram received, borrowed until the next call.
    #[must_use]
    pub fn poll_data(&mut self) -> Option<&[u8]> {
        self.data.pop().map(|((), d)| d)
    }

    /// Handles one datagram; application data is returned borrowed from it (zero-copy), STUN and TURN
    /// control traffic gives `Ok(None)`. A rejected datagram changes nothing.
    pub fn receive<'a>(&mut self, now: Instant, datagram: Datagram<'a>) -> Result<Option<&'a [u8]>, IceRelayError> {
        self.touch(now);
        let result = self.receive_inner(datagram);
        self.flush();
        result
    }

    fn receive_inner<'a>(&mut self, datagram: Datagram<'a>) -> Result<Option<&'a [u8]>, IceRelayError> {
        let now = self.now;
        let inner = match unwrap_relayed(&mut self.servers, now, datagram) {
            None => datagram,
            Some(Ok(Some(inner))) => inner,
            Some(Ok(None)) => return Ok(None),
            Some(Err(e)) => return Err(IceRelayError::Turn(e)),
        };
        match self.agent.receive(now, inner).map_err(IceRelayError::Ice)? {
            Incoming::Data(d) => Ok(Some(d)),
            Incoming::Stun => Ok(None),
        }
    }

    fn touch(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// Starts the allocations that can start: those with a socket of their own, and (given `host`) those
    /// waiting for a host socket of its family.
    fn start_servers(&mut self, host: Option<SocketAddr>) {
        for s in &mut self.servers {
            let Server::Waiting(c, rng) = s else { continue };
            let local = if c.local.ip().is_unspecified() {
                host.filter(|h| h.is_ipv4() == c.server.is_ipv4())
            } else {
                Some(c.local)
            };
            let Some(local) = local else { continue };
            let mut config = c.clone();
            config.local = local;
            tracing::debug!(target: TARGET, server = %config.server, %local, "TURN allocation");
            let mut turn = TurnClient::new(config, rng.clone());
            turn.allocate(self.now);
            *s = Server::Started(turn);
        }
    }

    /// Hands on what the last call produced, in one pass: TURN events become relay candidates, the
    /// agent learns gathering is over once every allocation settled, the agent's events bind channels,
    /// what the agent sends goes through a relay or out, what the relays send goes out.
    fn flush(&mut self) {
        let now = self.now;
        for i in 0..self.servers.len() {
            while let Some(e) = self.servers.get_mut(i).and_then(Server::client_mut).and_then(Machine::poll_event) {
                on_turn_event(&mut self.agent, now, &e);
                self.events.push(IceRelayEvent::Turn(i, e));
            }
        }
        if self.gathering == Gathering::Ending && !self.is_allocating() {
            self.gathering = Gathering::Ended;
            self.agent.end_of_local_candidates(now);
        }
        while let Some(e) = self.agent.poll_event() {
            if let IceEvent::SelectedPairChanged { local, remote } = e {
                on_selected_pair(&mut self.servers, now, &local, &remote);
            }
            self.events.push(IceRelayEvent::Ice(e));
        }
        self.flush_agent_transmits();
        self.flush_turn_transmits();
    }

    fn flush_agent_transmits(&mut self) {
        while let Some(t) = self.agent.poll_transmit() {
            match send_relayed(&mut self.servers, self.now, t.source, t.destination, t.contents) {
                Some(Err(e)) => tracing::debug!(target: TARGET, error = %e, "relayed datagram not sent"),
                Some(Ok(())) => {}
                None => {
                    let _ = self.out.push((t.source, t.destination), t.contents);
                }
            }
        }
    }

    fn flush_turn_transmits(&mut self) {
        for turn in self.servers.iter_mut().filter_map(Server::client_mut) {
            while let Some(t) = turn.poll_transmit() {
                let _ = self.out.push((t.source, t.destination), t.contents);
            }
        }
    }
}

impl Machine for IceRelay {
    type Event = IceRelayEvent;

    fn handle_timeout(&mut self, now: Instant) {
        self.touch(now);
        self.agent.handle_timeout(self.now);
        for turn in self.servers.iter_mut().filter_map(Server::client_mut) {
            turn.handle_timeout(self.now);
        }
        self.flush();
    }

    /// The next event. A pure read: it owes nothing to the peer or the TURN servers.
    fn poll_event(&mut self) -> Option<IceRelayEvent> {
        self.events.pop()
    }

    /// The earliest deadline of the agent and the TURN clients, or the latest `now` given while datagrams
    /// wait in `poll_transmit`.
    fn poll_timeout(&self) -> Option<Instant> {
        let inner = self.turns().filter_map(Machine::poll_timeout).chain(self.agent.poll_timeout()).min();
        deadline(inner, self.now, !self.out.is_empty())
    }
}

impl PathMachine for IceRelay {
    type Error = IceRelayError;

    fn handle_receive(&mut self, now: Instant, datagram: Datagram<'_>) -> Result<(), IceRelayError> {
        if let Some(d) = self.receive(now, datagram)?
            && !self.data.push((), d)
        {
            tracing::debug!(target: TARGET, "receive queue full, data dropped");
        }
        Ok(())
    }

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        let ((source, destination), contents) = self.out.pop()?;
        Some(Transmit { source, destination, contents })
    }
}

// ----- routing between the agent and the relays -----

/// Unwraps a datagram from a TURN server: `None` when no client in `turns` accepts it; otherwise the
/// client's verdict, and for peer data the datagram as the agent must see it (from the peer, to the
/// relayed address), borrowed from `datagram`.
fn unwrap_relayed<'a>(
    turns: &mut [Server],
    now: Instant,
    datagram: Datagram<'a>,
) -> Option<Result<Option<Datagram<'a>>, Error>> {
    let turn = turns.iter_mut().filter_map(Server::client_mut).find(|c| c.accepts(&datagram))?;
    let peer = match turn.handle_receive_peer(now, datagram) {
        Ok(Some(peer)) => peer,
        Ok(None) => return Some(Ok(None)),
        Err(e) => return Some(Err(e)),
    };
    let Some(relayed) = turn.relayed_address() else { return Some(Ok(None)) };
    // What the relay delivers arrived, for the agent, on the relayed address from the peer.
    Some(Ok(Some(Datagram { source: peer.peer, destination: relayed, contents: peer.data })))
}

/// Sends `data` through the TURN client whose relayed address is `source`; `None` when no client owns
/// `source` (the datagram goes straight out).
fn send_relayed(
    turns: &mut [Server],
    now: Instant,
    source: SocketAddr,
    destination: SocketAddr,
    data: &[u8],
) -> Option<Result<(), Error>> {
    let turn = turns.iter_mut().filter_map(Server::client_mut).find(|c| c.relayed_address() == Some(source))?;
    Some(turn.send_to(now, destination, data))
}

/// A TURN event's effect on the agent: a (new) allocation becomes a relay candidate (a new allocation
/// after a 437 has a new address: it is advertised as any trickled candidate). Returns whether the agent
/// changed.
fn on_turn_event(agent: &mut IceAgent, now: Instant, event: &TurnEvent) -> bool {
    let TurnEvent::Allocated { relayed, mapped, .. } = *event else { return false };
    if agent.local_candidates().iter().any(|c| c.address == relayed) {
        return false;
    }
    if let Err(e) = agent.add_local_candidate(now, CandidateKind::Relay, relayed, relayed, mapped) {
        tracing::debug!(target: TARGET, error = %e, "relay candidate refused");
    }
    true
}

/// A newly selected pair on a relayed candidate: data to its remote goes as ChannelData from now on (4
/// bytes of overhead instead of 36). Returns whether a client was asked to bind a channel.
fn on_selected_pair(turns: &mut [Server], now: Instant, local: &Candidate, remote: &Candidate) -> bool {
    if local.kind != CandidateKind::Relay {
        return false;
    }
    let Some(turn) = turns.iter_mut().filter_map(Server::client_mut).find(|c| c.relayed_address() == Some(local.base))
    else {
        return false;
    };
    let _ = turn.bind_channel(now, remote.address);
    true
}
