//! The object-safe face of a machine inside the simulator.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use core::any::Any;
use core::fmt::Debug;

use crate::machine::{Datagram, Machine, PathMachine, Transmit};
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
