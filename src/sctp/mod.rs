//! SCTP (RFC 9260) over DTLS (RFC 8261) as a sans-IO machine, with the extensions WebRTC uses: PR-SCTP
//! (RFC 3758), stream reconfiguration (RFC 6525, outgoing reset) and zero checksum (RFC 9653).
//!
//! An [`Association`] is a [`DatagramMachine`](crate::DatagramMachine): each datagram it takes or emits is
//! one SCTP packet, which in WebRTC is one DTLS application-data record. Drive it with the crate's loop:
//!
//! 1. [`handle_receive`](crate::DatagramMachine::handle_receive) every packet that arrived;
//! 2. [`handle_timeout`](crate::Machine::handle_timeout) once `now` reaches
//!    [`poll_timeout`](crate::Machine::poll_timeout);
//! 3. [`poll_transmit`](crate::DatagramMachine::poll_transmit) until `None` (packets are built on demand
//!    into one reused buffer, so each is valid until the next call);
//! 4. [`poll_event`](crate::Machine::poll_event) until `None`;
//! 5. sleep until the next packet or [`poll_timeout`](crate::Machine::poll_timeout).
//!
//! [`Association::send`], [`Association::reset_streams`], [`Association::shutdown`] and
//! [`Association::abort`] may be called at any point, also while handling events. Whatever they queue, and
//! the window update owed when `poll_event` hands over a [`Message`] that reopens the receive window
//! (RFC 9260 §6.2), is announced by `poll_timeout`: it returns the latest `now` given until `poll_transmit`
//! has returned `None`, so the loop followed to the letter sends it at once. No other event owes anything.
//! Time must not go backwards; an earlier `now` is treated as the latest one seen.
//!
//! Both sides may [`connect`](Association::connect) at once, as browsers do: colliding INITs are resolved per
//! RFC 9260 §5.2. A side that never calls `connect` answers INITs statelessly with a signed cookie.
//!
//! ```
//! use sansrtc::sctp::{Association, Config, Event, SendOptions};
//! use sansrtc::{DatagramMachine, Instant, Machine, SeededRng};
//!
//! let now = Instant::ZERO;
//! let mut a = Association::new(Config::default(), SeededRng::from_seed([1; 32]));
//! let mut b = Association::new(Config::default(), SeededRng::from_seed([2; 32]));
//! a.connect(now);
//! // Shuttle packets until both are quiet.
//! for _ in 0..4 {
//!     while let Some(p) = a.poll_transmit() { let p = p.to_vec(); let _ = b.handle_receive(now, &p); }
//!     while let Some(p) = b.poll_transmit() { let p = p.to_vec(); let _ = a.handle_receive(now, &p); }
//! }
//! assert!(a.is_established() && b.is_established());
//! a.send(now, 0, 51, b"hello"[..].into(), SendOptions::default()).unwrap();
//! while let Some(p) = a.poll_transmit() { let p = p.to_vec(); let _ = b.handle_receive(now, &p); }
//! let mut got = None;
//! while let Some(e) = b.poll_event() {
//!     if let Event::Message(m) = e { got = Some(m.data); }
//! }
//! assert_eq!(got.as_deref(), Some(&b"hello"[..]));
//! ```

mod assoc;
mod cookie;
mod error;
mod reconfig;
mod recv;
mod send;
pub mod wire;

#[cfg(test)]
mod tests;

use core::time::Duration;

use bytes::Bytes;

pub use assoc::{Association, State, Stats};
pub use error::{Error, SendError, WireError};
pub use send::DEFAULT_PRIORITY;

/// The `tracing` target of this module.
pub(crate) const TARGET: &str = "sansrtc::sctp";

/// Association settings. The defaults follow RFC 9260 §16 and RFC 8831. Build with
/// `Config { field: value, ..Config::default() }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Our SCTP port (5000 in WebRTC unless SDP says otherwise).
    pub local_port: u16,
    /// The peer's SCTP port.
    pub remote_port: u16,
    /// Largest packet to emit (the path MTU left after DTLS, UDP and IP). Default 1200.
    pub mtu: usize,
    /// Largest message accepted by [`Association::send`] and reassembled on receive. Default 256 KiB.
    pub max_message_size: usize,
    /// Receive window advertised, and the bound on reassembly and undelivered memory (retransmissions that fill
    /// a hole may take it up to twice this). Default 1 MiB.
    pub receive_window: u32,
    /// Bound on bytes queued for sending (unsent plus unacknowledged). Default 16 MiB.
    pub send_buffer: usize,
    /// Outbound streams requested. Default 65535.
    pub outbound_streams: u16,
    /// Inbound streams accepted. Default 65535.
    pub max_inbound_streams: u16,
    /// RTO.Initial. Default 1 s.
    pub rto_initial: Duration,
    /// RTO.Min. Default 1 s.
    pub rto_min: Duration,
    /// RTO.Max. Default 60 s. Taken as RTO.Min if below it.
    pub rto_max: Duration,
    /// Max.Init.Retransmits. Default 8.
    pub max_init_retransmits: u32,
    /// Association.Max.Retrans: consecutive timeouts before the association fails. Default 10.
    pub max_retransmits: u32,
    /// HB.interval. Default 30 s.
    pub heartbeat_interval: Duration,
    /// Valid.Cookie.Life. Default 60 s.
    pub cookie_lifetime: Duration,
    /// Longest delay before a SACK (every second packet is acknowledged at once). Default 200 ms.
    pub delayed_ack: Duration,
    /// Advertise and use zero checksums (RFC 9653) when the peer also does: only when the lower layer
    /// (DTLS) already protects integrity. Default off.
    pub zero_checksum: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            local_port: 5000,
            remote_port: 5000,
            mtu: 1200,
            max_message_size: 256 * 1024,
            receive_window: 1024 * 1024,
            send_buffer: 16 * 1024 * 1024,
            outbound_streams: 65535,
            max_inbound_streams: 65535,
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_secs(1),
            rto_max: Duration::from_secs(60),
            max_init_retransmits: 8,
            max_retransmits: 10,
            heartbeat_interval: Duration::from_secs(30),
            cookie_lifetime: Duration::from_secs(60),
            delayed_ack: Duration::from_millis(200),
            zero_checksum: false,
        }
    }
}

/// How one message is to be delivered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// Deliver without ordering (the U flag).
    pub unordered: bool,
    /// PR-SCTP: abandon after this many retransmissions (0: never retransmit).
    pub max_retransmits: Option<u32>,
    /// PR-SCTP: abandon once this long has passed since the send call.
    pub max_lifetime: Option<Duration>,
}

/// A received message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Stream it arrived on.
    pub stream: u16,
    /// Payload protocol identifier.
    pub ppid: u32,
    /// Whether it was sent unordered.
    pub unordered: bool,
    /// The reassembled message.
    pub data: Bytes,
}

/// Why an association ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The graceful SHUTDOWN sequence completed.
    Shutdown,
    /// We aborted ([`Association::abort`]).
    LocalAbort,
    /// The peer sent ABORT.
    PeerAbort,
    /// The handshake timed out (Max.Init.Retransmits).
    HandshakeTimeout,
    /// The peer kept finding our state cookie stale (RFC 9260 §5.2.6) after the retries allowed.
    StaleCookie,
    /// Too many consecutive retransmission or heartbeat timeouts: the peer is unreachable.
    Unreachable,
    /// The peer broke the protocol; we sent ABORT.
    ProtocolViolation(Error),
}

/// What an association reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The association is established; data may be sent.
    Connected,
    /// The peer restarted the association (RFC 9260 §5.2.4 action A): it is established again with fresh
    /// sequence numbers; data queued or in flight before the restart was dropped, and every stream restarts.
    Restarted,
    /// A message arrived.
    Message(Message),
    /// The peer reset its outgoing stream (our incoming stream): RFC 6525, used to close data channels.
    IncomingStreamReset(u16),
    /// Our outgoing stream reset completed; the stream's sequence numbers restarted at zero.
    OutgoingStreamReset(u16),
    /// The peer refused our reset of this outgoing stream; the stream is usable again as it was.
    StreamResetFailed(u16),
    /// The association ended; no more events follow.
    Closed(CloseReason),
}

/// TSN serial-number comparison (RFC 9260 §1.6, RFC 1982): `a < b`.
pub(crate) fn tsn_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// `a <= b` in serial-number arithmetic.
pub(crate) fn tsn_le(a: u32, b: u32) -> bool {
    a == b || tsn_lt(a, b)
}
