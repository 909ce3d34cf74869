//! TURN (RFC 8656, compatible with RFC 5766 servers such as coturn): a client for relayed addresses.
//!
//! - [`TurnClient`]: one allocation on one server as a [`PathMachine`](crate::PathMachine): long-term
//!   credentials, refreshes of the allocation, permissions and channels, Send/Data indications and
//!   ChannelData, typed failures ([`Failure`]) in [`TurnEvent`]s.
//! - [`wire`]: ChannelData ([`ChannelData`], [`emit_channel_data`]) and the framing of TURN over TCP/TLS
//!   ([`StreamDecoder`], [`split_frame`], [`emit_stream_frame`]).
//! - [`IceRelay`]: an [`IceAgent`](crate::ice::IceAgent) with TURN relay candidates: allocations become
//!   relay candidates, checks and data on relayed pairs travel through the relay.
//!
//! Both are driven by the crate's loop. Events are pure reads; whatever a call queues ([`TurnClient::send_to`],
//! a permission or channel request) is announced by `poll_timeout`, which returns the latest `now` given
//! while datagrams wait in `poll_transmit`.
//!
//! ## Choices worth knowing
//!
//! - **Timing**: the allocation is refreshed a minute before its lifetime ends (at half-life for lifetimes
//!   of two minutes or less), permissions every 240 s (they last 300 s), channel bindings every 540 s (they
//!   last 600 s); a channel bound to a peer also keeps a permission of its own (RFC 8656 §12.2).
//! - **NAT bindings**: the client sends nothing between refreshes, so a NAT whose mappings expire in under
//!   240 s needs traffic from above; through [`IceRelay`] the ICE keepalives and consent checks provide it.
//! - **Integrity** (RFC 8489 §9.2.5): once credentials are sent, only the 401 and 438 challenges are taken
//!   without MESSAGE-INTEGRITY; any other unauthenticated or forged response is dropped, and a request whose
//!   only answers were forged fails with [`Failure::IntegrityViolated`] instead of a timeout.
//! - **Over TCP/TLS** the caller owns the connection: set [`TurnConfig::transaction`] to
//!   [`TransactionConfig::reliable`](crate::stun::TransactionConfig::reliable) and
//!   [`TurnConfig::pad_channel_data`], write each transmit to the stream, and feed each frame from
//!   [`StreamDecoder::next_raw`] as one datagram.
//!
//! ```
//! use core::net::SocketAddr;
//! use sansrtc::turn::{TurnClient, TurnConfig};
//! use sansrtc::{Instant, Machine, PathMachine, SeededRng};
//!
//! let server: SocketAddr = "198.51.100.1:3478".parse().unwrap();
//! let local: SocketAddr = "192.0.2.10:50000".parse().unwrap();
//! let mut turn = TurnClient::new(TurnConfig::new(server, local, "user", "pass"), SeededRng::from_seed([1; 32]));
//! let now = Instant::ZERO;
//! turn.allocate(now);
//! let t = turn.poll_transmit().unwrap(); // the first Allocate, to be answered with a 401
//! assert_eq!((t.source, t.destination), (local, server));
//! assert!(turn.poll_timeout().is_some()); // its retransmission
//! ```

mod client;
pub mod error;
pub(crate) mod ice;
pub mod wire;

#[cfg(test)]
pub(crate) mod test_server;
#[cfg(test)]
mod tests;

/// The `tracing` target of this module.
const TARGET: &str = "sansrtc::turn";

pub use client::{PeerData, RelayFamily, Request, TurnClient, TurnConfig, TurnEvent, TurnStats};
pub use error::{Error, Failure};
pub use ice::{IceRelay, IceRelayError, IceRelayEvent};
pub use wire::{
    ChannelData, Frame, StreamDecoder, emit_channel_data, emit_stream_frame, is_channel_data, split_frame,
    stream_frame_len, write_channel_data,
};
