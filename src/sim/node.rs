//! The object-safe face of a machine inside the simulator.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use core::any::Any;
use core::fmt::Debug;
use core::net::SocketAddr;

use super::ConnectedError;

use crate::machine::{Datagram, DatagramMachine, Machine, PathMachine, Transmit};
use crate::time::Instant;

/// One event a node reported: its `Debug` text (what the trace records) and the event itself, boxed so the
/// test can take it back as its concrete type ([`crate::sim::Sim::drain_events`]).
pub struct NodeEvent {
    /// When the simulator collected it.
    pub at: Instant,
    /// `format!("{event:?}")`.
    pub debug: String,
    /// The event, downcastable to the node's `Event` type.
    pub event: Box<dyn Any>,
}

impl Debug for NodeEvent {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} {}", self.at, self.debug)
    }
}

/// Anything the simulator can run on a host: an object-safe adapter over [`PathMachine`].
///
/// Every `PathMachine + 'static` whose `Event: Debug + 'static` is a `Node` through a blanket impl, so ICE
/// agents, TURN and STUN servers, peer connections and test doubles share one simulation. The methods carry
/// a `sim_` prefix so they never shadow the machine's own methods when both traits are in scope. The
/// simulator calls them in the order of [`crate::machine`]: receive, timeout when due, drain transmits,
/// drain events.
pub trait Node: Any {
    /// Feeds one datagram ([`PathMachine::handle_receive`]); `false` if the machine rejected it.
    fn sim_receive(&mut self, now: Instant, datagram: Datagram<'_>) -> bool;
    /// Fires due timers ([`Machine::handle_timeout`]).
    fn sim_timeout(&mut self, now: Instant);
    /// The next deadline ([`Machine::poll_timeout`]).
    fn sim_poll_timeout(&self) -> Option<Instant>;
    /// The next datagram to send ([`PathMachine::poll_transmit`]).
    fn sim_poll_transmit(&mut self) -> Option<Transmit<'_>>;
    /// The next event as `(Debug text, boxed event)` ([`Machine::poll_event`]).
    fn sim_poll_event(&mut self) -> Option<(String, Box<dyn Any>)>;
    /// `self` as `Any`, for downcasting to the concrete machine.
    fn sim_as_any(&self) -> &dyn Any;
    /// `self` as mutable `Any`, for downcasting to the concrete machine.
    fn sim_as_any_mut(&mut self) -> &mut dyn Any;
}

impl<M> Node for M
where
    M: PathMachine + 'static,
    M::Event: Debug + 'static,
{
    fn sim_receive(&mut self, now: Instant, datagram: Datagram<'_>) -> bool {
        PathMachine::handle_receive(self, now, datagram).is_ok()
    }

    fn sim_timeout(&mut self, now: Instant) {
        Machine::handle_timeout(self, now);
    }

    fn sim_poll_timeout(&self) -> Option<Instant> {
        Machine::poll_timeout(self)
    }

    fn sim_poll_transmit(&mut self) -> Option<Transmit<'_>> {
        PathMachine::poll_transmit(self)
    }

    fn sim_poll_event(&mut self) -> Option<(String, Box<dyn Any>)> {
        let event = Machine::poll_event(self)?;
        Some((format!("{event:?}"), Box::new(event)))
    }

    fn sim_as_any(&self) -> &dyn Any {
        self
    }

    fn sim_as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A [`DatagramMachine`] (DTLS, SCTP, …) bound to one local and one remote address, like a connected
/// UDP socket, so it can run on a simulated host.
///
/// Datagrams from any other address, or to another local address, are rejected and counted; everything
/// the machine sends goes from `local` to `remote`. Reach the machine with [`Connected::machine`] /
/// [`Connected::machine_mut`], e.g. through `sim.node_mut::<Connected<Dtls>>(host)`.
#[derive(Debug)]
pub struct Connected<M> {
    machine: M,
    local: SocketAddr,
    remote: SocketAddr,
    wrong_peer: u64,
}

impl<M: DatagramMachine> Connected<M> {
    /// Binds `machine` to `local` (an address of its host) and `remote`.
    pub fn new(machine: M, local: SocketAddr, remote: SocketAddr) -> Self {
        Connected { machine, local, remote, wrong_peer: 0 }
    }

    /// The machine.
    pub fn machine(&self) -> &M {
        &self.machine
    }

    /// The machine, to call its API. After a call, the simulator drains it at the next step.
    pub fn machine_mut(&mut self) -> &mut M {
        &mut self.machine
    }

    /// The remote address datagrams go to and are accepted from.
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// Points the binding at another remote address (after a NAT rebinding, say).
    pub fn set_remote(&mut self, remote: SocketAddr) {
        self.remote = remote;
    }

    /// Datagrams rejected because they came from, or went to, another address.
    pub fn wrong_peer(&self) -> u64 {
        self.wrong_peer
    }
}

impl<M: DatagramMachine> Machine for Connected<M> {
    type Event = M::Event;

    fn handle_timeout(&mut self, now: Instant) {
        self.machine.handle_timeout(now);
    }

    fn poll_event(&mut self) -> Option<M::Event> {
        self.machine.poll_event()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.machine.poll_timeout()
    }
}

impl<M: DatagramMachine> PathMachine for Connected<M> {
    type Error = ConnectedError<M::Error>;

    fn handle_receive(&mut self, now: Instant, datagram: Datagram<'_>) -> Result<(), Self::Error> {
        if datagram.source != self.remote || datagram.destination != self.local {
            self.wrong_peer += 1;
            return Err(ConnectedError::WrongPeer);
        }
        DatagramMachine::handle_receive(&mut self.machine, now, datagram.contents).map_err(ConnectedError::Machine)
    }

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        let (source, destination) = (self.local, self.remote);
        let contents = DatagramMachine::poll_transmit(&mut self.machine)?;
        Some(Datagram { source, destination, contents })
    }
}
