//! The one shape every state machine in the crate has.
//!
//! A machine is driven by its caller in a loop:
//!
//! 1. Feed what arrived: `handle_receive(now, …)` for each datagram.
//! 2. Fire timers: when `now` has reached [`Machine::poll_timeout`], call [`Machine::handle_timeout`].
//! 3. Drain output: call `poll_transmit()` until it returns `None`, sending each datagram.
//! 4. Drain events: call [`Machine::poll_event`] until it returns `None`.
//! 5. Sleep until the next input or until [`Machine::poll_timeout`], then go back to 1.
//!
//! Other calls that change state (sending application data, closing, adding a candidate) may be made at any
//! point, including while handling an event in step 4.
//!
//! **Polls tell the truth.** The loop above, followed to the letter, never leaves a datagram unsent:
//!
//! - [`Machine::poll_timeout`] returns the earliest moment the machine needs to be called again. Whenever a
//!   transmit is owed, that moment is *now*: the latest instant the machine was given (by any `handle_*` call
//!   or any other call taking a `now`). So a caller who sleeps until `poll_timeout` after a call that queued
//!   output, without draining `poll_transmit` first, wakes at once, calls `handle_timeout` (harmless) and
//!   drains it. This holds after any call: `handle_*`, `poll_event`, and the state-changing calls of step 4
//!   (sending, closing, opening a channel), including those that take no `now` (they use the latest one).
//! - Draining `poll_event` never creates a transmit that `poll_timeout` does not announce. Most machines'
//!   events are pure reads; where taking an event does owe the peer something (the SCTP window update when a
//!   message is taken, the data channel layer's DCEP acknowledgements and stream-reset answers), the machine
//!   says so through `poll_timeout` as above.
//! - Once `poll_transmit` has returned `None`, `poll_timeout` no longer returns `now` on that account: the
//!   caller does not spin. A caller that never drains a machine's output (because it cannot send it yet) must
//!   not sleep on that machine's `poll_timeout`.
//!
//! Two families share this contract and differ only in what a datagram is:
//!
//! - [`PathMachine`]: machines that own a network path (ICE, TURN, the peer connection). Datagrams carry
//!   their source and destination [`SocketAddr`]s ([`Datagram`], [`Transmit`]); the caller owns the sockets
//!   and sends each transmit from `source` to `destination`.
//! - [`DatagramMachine`]: machines above the path (DTLS, SCTP). They take and emit bare datagram payloads
//!   and leave addressing to the layer below.
//!
//! Rules every machine keeps:
//!
//! - Time is injected. A `now` earlier than one already seen is treated as that earlier-seen instant. A
//!   machine never makes time up: work done in a call that takes no `now` happens at the latest `now` seen.
//! - Output borrows from the machine: a [`Transmit`] is valid until the next call on the machine, so the
//!   per-packet path reuses its buffers instead of allocating. Copy it if you need to keep it.
//! - Every queue is bounded; what overflows is dropped and counted, never grown without limit.
//! - Bad input never panics: it is dropped, counted and traced, and `handle_receive` says why in its error.

use core::net::SocketAddr;

use crate::time::Instant;

/// A UDP datagram with the addresses it travels between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Datagram<'a> {
    /// The local address it leaves from (output) or the remote address it came from (input).
    pub source: SocketAddr,
    /// The remote address it goes to (output) or the local address it arrived on (input).
    pub destination: SocketAddr,
    /// The UDP payload.
    pub contents: &'a [u8],
}

/// A datagram a [`PathMachine`] asks its caller to send: from `source` (a local socket the caller declared)
/// to `destination`.
pub type Transmit<'a> = Datagram<'a>;

/// The part of the contract every machine shares: timers and events.
pub trait Machine {
    /// What the machine reports to its caller.
    type Event;

    /// Fires every timer due at or before `now`. Call it when `now` reaches [`Machine::poll_timeout`];
    /// calling it early is harmless. Then drain output and events.
    fn handle_timeout(&mut self, now: Instant);

    /// The next event, or `None` when there are no more. Call until `None` after every `handle_*` call.
    /// If taking an event makes a transmit owed, [`Machine::poll_timeout`] announces it (returns the latest
    /// `now`); see the [module docs](self).
    #[must_use]
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// When [`Machine::handle_timeout`] must next be called: the earliest armed timer, or the latest `now`
    /// given while a transmit is owed (until `poll_transmit` returns `None`), or `None` when nothing is
    /// armed or owed. Sleep until then (or the next input), then call `handle_timeout` and drain.
    #[must_use]
    fn poll_timeout(&self) -> Option<Instant>;
}

/// A machine that owns a network path and addresses its own datagrams (ICE, TURN, the peer connection).
pub trait PathMachine: Machine {
    /// Why a datagram was rejected (it has already been dropped and counted).
    type Error;

    /// Feeds one received datagram. An `Err` means the datagram was dropped and counted; the machine's state
    /// is unchanged by it.
    fn handle_receive(&mut self, now: Instant, datagram: Datagram<'_>) -> Result<(), Self::Error>;

    /// The next datagram to send, or `None`. Valid until the next call on the machine; call until `None`.
    #[must_use]
    fn poll_transmit(&mut self) -> Option<Transmit<'_>>;
}

/// A machine above the network path that takes and emits bare datagram payloads (DTLS, SCTP).
pub trait DatagramMachine: Machine {
    /// Why a datagram was rejected (it has already been dropped and counted).
    type Error;

    /// Feeds one received datagram payload. An `Err` means the datagram was dropped (or, where the protocol
    /// says so, the connection closed with an event saying why).
    fn handle_receive(&mut self, now: Instant, datagram: &[u8]) -> Result<(), Self::Error>;

    /// The next datagram payload to send, or `None`. Valid until the next call on the machine; call until
    /// `None`.
    #[must_use]
    fn poll_transmit(&mut self) -> Option<&[u8]>;
}
