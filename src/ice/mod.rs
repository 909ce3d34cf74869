//! The ICE agent (RFC 8445 full and lite, RFC 7675 consent freshness, RFC 8838 trickle, restarts).
//!
//! [`IceAgent`] is a [`PathMachine`](crate::PathMachine): the caller owns the sockets, the agent owns every
//! decision about which path to use. The loop is the crate's usual one:
//!
//! 1. declare local sockets with [`IceAgent::add_local_host`] (and relay candidates from a TURN client
//!    with [`IceAgent::add_local_candidate`]), STUN servers with [`IceAgent::add_stun_server`], then
//!    [`IceAgent::end_of_local_candidates`];
//! 2. signal the [`IceEvent::LocalCandidate`]s and [`IceAgent::local_credentials`] to the peer; feed the
//!    peer's with [`IceAgent::add_remote_candidate`] (any time, even before
//!    [`IceAgent::set_remote_credentials`]) and [`IceAgent::end_of_remote_candidates`];
//! 3. feed every datagram that arrives on a declared socket to [`IceAgent::receive`] (or
//!    `handle_receive`), call `handle_timeout` at `poll_timeout`, drain `poll_transmit` (send each from
//!    `source` to `destination`) and `poll_event`;
//! 4. send application data with [`IceAgent::send`], which says from which socket to which address, and
//!    refuses once consent is lost.
//!
//! Events are pure reads. Whatever a call queues (a candidate added, a restart) is announced by
//! `poll_timeout`, which returns the latest `now` given while datagrams wait in `poll_transmit`. Time must
//! not go backwards; an earlier `now` is treated as the latest seen.
//!
//! ## Choices worth knowing
//!
//! - **One component, one data stream** (rtcp-mux, BUNDLE): every candidate has component id 1.
//! - **ICE-TCP** (RFC 6544): [`IceAgent::add_local_tcp`] declares a passive candidate (a listening
//!   socket, for a server) or an active one (the connections a client opens, advertised with port 9).
//!   The caller owns the connections; a connection is named by its two ends like a UDP path
//!   (`(base, peer)`: the listening or active base, and the peer's address), and its bytes are split into
//!   RFC 4571 frames by a [`framing::FrameDecoder`] and fed as datagrams. A transmit from a TCP base goes
//!   out framed on the connection to its destination (opening it first from an active base). TCP
//!   candidates rank below UDP ones but relays (RFC 6544 §4.2); an active local candidate pairs with
//!   passive remote ones, a passive one only answers the connections the peer opens (§6.2), whose
//!   sources become peer-reflexive active candidates. A base names one socket: a TCP base may not
//!   also be a UDP one.
//! - **Pruning** (RFC 8445 §6.1.2.4): a server-reflexive local candidate is paired through its base, so
//!   with its host candidate present the host pair is kept and the server-reflexive one is redundant; with
//!   host candidates filtered out it stands in for the base. Peer-reflexive local candidates are never
//!   paired (checks leave from the base either way).
//! - **Patience** (RFC 8863): when every pair has failed but the failed timeout has not passed, the agent
//!   starts another round of checks instead of idling, so heavy loss only delays success; `failed` is
//!   declared `failed_timeout` after checks began without a selected pair, never earlier.
//! - **Nomination**: regular nomination (§8.1.1) by the controlling agent, once the best valid pair cannot be
//!   beaten by a pending one or `nomination_delay` after the first valid pair; as controlled agent, a
//!   USE-CANDIDATE in any check is honoured (aggressive nomination by the peer).
//! - **Liveness**: `disconnected` after `disconnected_timeout` without any packet from the selected remote
//!   (data, checks, keepalives), `connected` again on the next one; consent (RFC 7675) needs a response to
//!   our own consent checks within `consent_timeout`, else sending stops and the state is `failed`. A lite
//!   agent runs no consent checks (RFC 7675 §4); the full peer's checks count as its consent.
//! - **Symmetric responses**: a response counts only from the address the request went to and on the
//!   socket it left from (§7.2.5.2.1); anything else is dropped and counted, with no state change.
//! - **Nothing unauthenticated moves the agent**: requests and responses count only with a valid
//!   MESSAGE-INTEGRITY (and a valid FINGERPRINT that is the last attribute, when present); binding
//!   indications, which carry no integrity, only on a validated pair (as liveness). A dropped datagram
//!   changes nothing but its discard counter: `receive` returns `Ok` only for what the agent took.
//!
//! ```
//! use core::net::SocketAddr;
//! use sansrtc::ice::{Config, IceAgent, IceEvent, Role};
//! use sansrtc::{Instant, Machine, PathMachine, SeededRng};
//!
//! let now = Instant::ZERO;
//! let mut a = IceAgent::new(Config { role: Role::Controlling, ..Config::default() }, SeededRng::from_seed([1; 32]));
//! let mut b = IceAgent::new(Config { role: Role::Controlled, ..Config::default() }, SeededRng::from_seed([2; 32]));
//! let (a_addr, b_addr): (SocketAddr, SocketAddr) = ("10.0.0.1:5000".parse().unwrap(), "10.0.0.2:6000".parse().unwrap());
//! a.add_local_host(now, a_addr).unwrap();
//! b.add_local_host(now, b_addr).unwrap();
//! a.set_remote_credentials(b.local_credentials().clone());
//! b.set_remote_credentials(a.local_credentials().clone());
//! // Exchange candidates (normally through signalling).
//! while let Some(e) = a.poll_event() { if let IceEvent::LocalCandidate(c) = e { b.add_remote_candidate(now, c).unwrap(); } }
//! while let Some(e) = b.poll_event() { if let IceEvent::LocalCandidate(c) = e { a.add_remote_candidate(now, c).unwrap(); } }
//! // A perfect network: deliver everything at once, jump to each deadline.
//! let mut now = now;
//! for _ in 0..200 {
//!     let mut moved = false;
//!     while let Some(t) = a.poll_transmit() { let (s, d, v) = (t.source, t.destination, t.contents.to_vec()); moved = true;
//!         let _ = b.handle_receive(now, sansrtc::Datagram { source: s, destination: d, contents: &v }); }
//!     while let Some(t) = b.poll_transmit() { let (s, d, v) = (t.source, t.destination, t.contents.to_vec()); moved = true;
//!         let _ = a.handle_receive(now, sansrtc::Datagram { source: s, destination: d, contents: &v }); }
//!     if !moved { now = a.poll_timeout().into_iter().chain(b.poll_timeout()).min().unwrap_or(now).max(now); }
//!     a.handle_timeout(now);
//!     b.handle_timeout(now);
//!     if a.selected_pair().is_some() && b.selected_pair().is_some() { break; }
//! }
//! let t = a.send(b"hello").unwrap();
//! assert_eq!((t.source, t.destination), (a_addr, b_addr));
//! ```

mod agent;
mod candidate;
mod checklist;
mod config;
mod error;
mod event;
pub mod framing;

#[cfg(test)]
mod tests;

pub use agent::{IceAgent, Incoming};
pub use candidate::{
    COMPONENT_RTP, Candidate, CandidateKind, Foundation, TcpType, Transport, local_preference, pair_priority, priority,
    tcp_other_preference, tcp_priority, tcp_type_preference,
};
pub use checklist::{CheckListState, PairState};
pub use config::{CandidateFilter, Config, Credentials, Nat1To1, Nat1To1Kind, Role};
pub use error::{ApiError, IceError};
pub use event::{Discards, IceConnectionState, IceEvent, IceStats, PairInfo, PairStats};

/// The tracing target of this module.
const TARGET: &str = "sansrtc::ice";
