//! Multicast DNS (RFC 6762) for ICE candidates hidden behind `<UUID>.local` names
//! (draft-ietf-mmusic-mdns-ice-candidates).
//!
//! Browsers put a random `.local` name in their host candidates instead of the address; the peer
//! resolves it with an mDNS query on the local network. This module has the two halves, apart:
//!
//! - [`wire`]: DNS messages as mDNS uses them (RFC 1035 §4, RFC 6762 §18): a [`Message`](wire::Message)
//!   view with lazy question and record iterators, names read through compression pointers (pointing
//!   backwards only, at most [`wire::MAX_POINTERS`], 255 octets at most), A and AAAA records, and
//!   writers for queries and answers;
//! - [`Resolver`]: the sans-IO resolver machine (`query`, `handle_receive`, `handle_timeout`,
//!   `poll_transmit`, `poll_event`, `poll_timeout`), with retransmission backoff, a bounded wait, a
//!   bounded TTL-honouring cache and bounded outstanding queries;
//! - [`Responder`]: the hiding side, a random `<UUIDv4>.local` name per local address and answers to
//!   the queries for it (the caller puts the name in its candidates).
//!
//! The peer connection composes a resolver for remote `.local` candidates ([`crate::pc::Config::resolve_mdns`])
//! and a responder for its own hidden host addresses ([`crate::pc::Config::hide_local_addresses`]); the
//! [router](crate::router) hands each mDNS datagram to the connections that want it.
//!
//! ## The caller's socket
//!
//! Queries leave from the socket given to [`Resolver::set_source`] (the peer connection uses its first
//! host socket of each family) to 224.0.0.251:5353 or \[ff02::fb\]:5353. Sending to a multicast group
//! needs no membership; since the source port is not 5353 these are one-shot queries, which responders
//! answer by unicast to the querying socket, from port 5353 (RFC 6762 §5.1, §6.7). So a caller who only
//! has its ICE socket already gets the answers there. A caller who also wants answers sent to the group
//! binds a second socket to port 5353 (with `SO_REUSEADDR`/`SO_REUSEPORT`, as other mDNS software
//! shares it), joins 224.0.0.251 (and ff02::fb on the interface) and feeds what it receives to
//! `handle_receive` too.
//!
//! Logging: target `sansrtc::mdns`; names resolved or given up at `debug`, each query and dropped
//! response at `trace`.

mod error;
mod resolver;
mod responder;
pub mod wire;

#[cfg(test)]
mod tests;

pub use error::Error;
pub use resolver::{Config, Event, Resolver, Stats, is_ice_name};
pub use responder::{LEGACY_TTL, MAX_NAMES, Responder, ResponderStats, TTL, random_name};

const TARGET: &str = "sansrtc::mdns";
