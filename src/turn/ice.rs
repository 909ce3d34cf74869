//! An ICE agent with TURN relay candidates: [`IceRelay`] routes what the agent sends from a relayed
//! address through the [`TurnClient`] that owns it, and what a relay delivers back to the agent as if it had
//! arrived on the relayed address, so relay candidates are gathered, paired and checked like any other
//! and data through a relay is transparent to the layers above (RFC 8445 §5.1.1.2, RFC 8656 §2).

use alloc::vec::Vec;
use core::net::SocketAddr;

use super::TARGET;
use super::client::{TurnClient, TurnConfig, TurnEvent};
use super::error::Error;
use crate::ice::{ApiError, Candidate, CandidateKind, IceAgent, IceError, IceEvent, Incoming};
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

/// An [`IceAgent`] plus the [`TurnClient`]s of its relay candidates, as one [`PathMachine`].
///
/// Use it like the agent (declare host sockets on [`IceRelay::agent_mut`], signal candidates, feed every
/// datagram, drain transmits and events), and add TURN servers with [`IceRelay::add_turn_server`]: each
/// allocation becomes a relay candidate of the agent. A TURN client's `local` must be one of the agent's
/// host sockets; datagrams from the TURN server to it go to the client, everything else to the agent.
/// With [`crate::ice::CandidateFilter::RELAY_ONLY`] in the agent's config only relayed paths are used.
///
/// Data: [`IceRelay::send`] sends on the selected pair (through the relay when it is a relayed one; a
/// channel is bound to the selected remote so data then travels as ChannelData);
/// [`IceRelay::poll_data`] yields received application data from recycled buffers.
#[derive(Debug)]
pub struct IceRelay {
    agent: IceAgent,
    turns: Vec<TurnClient>,
    rng: SeededRng,
    now: Instant,
    out: OutQueue<(SocketAddr, SocketAddr)>,
    data: OutQueue<()>,
    events: EventQueue<IceRelayEvent>,
}

impl IceRelay {
    /// Wraps `agent`; `rng` seeds the TURN clients added later.
    pub fn new(agent: IceAgent, rng: SeededRng) -> Self {
        IceRelay {
            agent,
            turns: Vec::new(),
            rng,
            now: Instant::ZERO,
            out: OutQueue::new(256),
            data: OutQueue::new(256),
            events: EventQueue::new(512),
        }
    }

    /// The agent (to read its state and selected pair).
    pub fn agent(&self) -> &IceAgent {
        &self.agent
    }

    /// The agent, to declare sockets and candidates. Drain output and events after changing it.
    pub fn agent_mut(&mut self) -> &mut IceAgent {
        &mut self.agent
    }

    /// The TURN client of server `index`.
    pub fn turn(&self, index: usize) -> Option<&TurnClient> {
        self.turns.get(index)
    }

    /// Starts an allocation on a TURN server; its relayed address becomes a relay candidate once
    /// allocated. Returns the server index, or `Err(TableFull)` past four servers.
    pub fn add_turn_server(&mut self, now: Instant, config: TurnConfig) -> Result<usize, Error> {
        self.now = self.now.max(now);
        if self.turns.len() >= MAX_SERVERS {
            return Err(Error::TableFull);
        }
        let mut turn = TurnClient::new(config, self.rng.fork());
        turn.allocate(self.now);
        self.turns.push(turn);
        self.pump();
        Ok(self.turns.len() - 1)
    }

    /// Adds a remote candidate to the agent ([`IceAgent::add_remote_candidate`]).
    pub fn add_remote_candidate(&mut self, now: Instant, candidate: crate::ice::Candidate) -> Result<(), ApiError> {
        self.now = self.now.max(now);
        let r = self.agent.add_remote_candidate(self.now, candidate);
        self.pump();
        r
    }

    /// Sends application data on the selected pair.
    pub fn send(&mut self, now: Instant, data: &[u8]) -> Result<(), IceRelayError> {
        self.now = self.now.max(now);
        // Brings the agent's clock to `now` (its consent check in `send` reads it); early calls are harmless.
        self.agent.handle_timeout(self.now);
        let t = self.agent.send(data).map_err(IceRelayError::Api)?;
        let (source, destination) = (t.source, t.destination);
        if let Some(sent) = send_relayed(&mut self.turns, self.now, source, destination, data) {
            self.pump();
            return sent.map_err(IceRelayError::Turn);
        } else if !self.out.push((source, destination), data) {
            tracing::debug!(target: TARGET, "output queue full, data dropped");
        }
        self.pump();
        Ok(())
    }

    /// The next application datagram received, borrowed until the next call.
    #[must_use]
    pub fn poll_data(&mut self) -> Option<&[u8]> {
        self.data.pop().map(|((), d)| d)
    }

    /// Handles one datagram; application data is returned borrowed from it (zero-copy), STUN and TURN
    /// control traffic gives `Ok(None)`.
    pub fn receive<'a>(&mut self, now: Instant, datagram: Datagram<'a>) -> Result<Option<&'a [u8]>, IceRelayError> {
        self.now = self.now.max(now);
        let result = self.receive_inner(datagram);
        self.pump();
        result
    }

    fn receive_inner<'a>(&mut self, datagram: Datagram<'a>) -> Result<Option<&'a [u8]>, IceRelayError> {
        let now = self.now;
        let inner = match unwrap_relayed(&mut self.turns, now, datagram) {
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

    /// Moves output between the pieces: agent datagrams from a relayed address go through their TURN
    /// client, the rest straight out; TURN events become relay candidates.
    fn pump(&mut self) {
        let now = self.now;
        for _ in 0..4 {
            while let Some(t) = self.agent.poll_transmit() {
                match send_relayed(&mut self.turns, now, t.source, t.destination, t.contents) {
                    Some(Err(e)) => tracing::debug!(target: TARGET, error = %e, "relayed datagram not sent"),
                    Some(Ok(())) => {}
                    None => {
                        let _ = self.out.push((t.source, t.destination), t.contents);
                    }
                }
            }
            for turn in &mut self.turns {
                while let Some(t) = turn.poll_transmit() {
                    let _ = self.out.push((t.source, t.destination), t.contents);
                }
            }
            let mut changed = false;
            for i in 0..self.turns.len() {
                while let Some(e) = self.turns.get_mut(i).and_then(|t| t.poll_event()) {
                    changed |= on_turn_event(&mut self.agent, now, &e);
                    self.events.push(IceRelayEvent::Turn(i, e));
                }
            }
            while let Some(e) = self.agent.poll_event() {
                if let IceEvent::SelectedPairChanged { local, remote } = e {
                    changed |= on_selected_pair(&mut self.turns, now, &local, &remote);
                }
                self.events.push(IceRelayEvent::Ice(e));
            }
            if !changed {
                break;
            }
        }
    }
}

impl Machine for IceRelay {
    type Event = IceRelayEvent;

    fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        self.agent.handle_timeout(self.now);
        for turn in &mut self.turns {
            turn.handle_timeout(self.now);
        }
        self.pump();
    }

    /// The next event. A pure read: it owes nothing to the peer or the TURN servers.
    fn poll_event(&mut self) -> Option<IceRelayEvent> {
        self.events.pop()
    }

    /// The earliest deadline of the agent and the TURN clients, or the latest `now` given while datagrams
    /// wait in `poll_transmit`.
    fn poll_timeout(&self) -> Option<Instant> {
        let inner = self.turns.iter().filter_map(|t| t.poll_timeout()).chain(self.agent.poll_timeout()).min();
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

// ----- routing shared with the peer connection (which keeps its agent and TURN clients apart) -----

/// Unwraps a datagram from a TURN server: `None` when no client in `turns` accepts it; otherwise the
/// client's verdict, and for peer data the datagram as the agent must see it (from the peer, to the
/// relayed address), borrowed from `datagram`.
pub(crate) fn unwrap_relayed<'a>(
    turns: &mut [TurnClient],
    now: Instant,
    datagram: Datagram<'a>,
) -> Option<Result<Option<Datagram<'a>>, Error>> {
    let turn = turns.iter_mut().find(|c| c.accepts(&datagram))?;
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
pub(crate) fn send_relayed(
    turns: &mut [TurnClient],
    now: Instant,
    source: SocketAddr,
    destination: SocketAddr,
    data: &[u8],
) -> Option<Result<(), Error>> {
    let turn = turns.iter_mut().find(|c| c.relayed_address() == Some(source))?;
    Some(turn.send_to(now, destination, data))
}

/// A TURN event's effect on the agent: a (new) allocation becomes a relay candidate (a new allocation
/// after a 437 has a new address: it is advertised as any trickled candidate). Returns whether the agent
/// changed.
pub(crate) fn on_turn_event(agent: &mut IceAgent, now: Instant, event: &TurnEvent) -> bool {
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
pub(crate) fn on_selected_pair(turns: &mut [TurnClient], now: Instant, local: &Candidate, remote: &Candidate) -> bool {
    if local.kind != CandidateKind::Relay {
        return false;
    }
    let Some(turn) = turns.iter_mut().find(|c| c.relayed_address() == Some(local.base)) else { return false };
    let _ = turn.bind_channel(now, remote.address);
    true
}
