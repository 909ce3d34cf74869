//! # sansrtc
//!
//! A WebRTC stack written as pure, clock-injected, sans-IO state machines. Each protocol is a value you
//! feed datagrams and timestamps; it hands back datagrams to send, events, and the next deadline. The
//! library opens no sockets, spawns no threads, reads no clock and no OS random source, and keeps no
//! global state, so you can run it in your own event loop, replay captures deterministically, or put it on
//! bare metal (`#![no_std]` + `alloc`).
//!
//! ## Where to start
//!
//! - **A WebRTC peer** (data channels, media at the RTP level, a browser on the other side):
//!   [`pc::PeerConnection`]. The repository's `examples/quickstart.rs` runs two of them through a simulated
//!   NAT, `examples/echo_server.rs` serves browsers (and WHIP) from one UDP socket, and
//!   `examples/whip_client.rs` publishes a data channel to a WHIP server.
//! - **One protocol alone** (a STUN server, DTLS-SRTP keys for SIP, SCTP over your own transport, SRTP
//!   keyed by signalling): [`guide::layers`].
//! - **How the pieces fit**: [`guide::architecture`] (the pipeline demux → ICE/TURN → DTLS → SCTP/SRTP →
//!   events, and the poll contract).
//! - **Embedding it**: in a game engine's network thread, many peers on one socket
//!   ([`guide::game_engine`]); on a microcontroller with its own UDP layer ([`guide::bare_metal`]).
//!
//! ## The loop
//!
//! Every machine has the same shape ([`machine`]):
//!
//! 1. `handle_receive(now, …)` each datagram that arrived;
//! 2. `handle_timeout(now)` once `now` reaches `poll_timeout()`;
//! 3. `poll_transmit()` until `None`, sending each datagram;
//! 4. `poll_event()` until `None`;
//! 5. wait for the next datagram or for `poll_timeout()`, and repeat.
//!
//! Time is the crate's own [`Instant`], built by the caller from whatever clock it has. Randomness comes
//! from a [`SeededRng`] the caller seeds. The same seed, configuration and timestamped inputs give the
//! same bytes out, every time.
//!
//! A STUN client transaction driven through this loop against a hand-written responder, over a "network"
//! that loses the first request:
//!
//! ```
//! use core::net::SocketAddr;
//! use core::time::Duration;
//! use sansrtc::stun::{
//!     Attribute, AttributeType, Class, ClientTransaction, Error, Key, Message, MessageBuilder, Method,
//!     TransactionConfig, TransactionEvent, TransactionId,
//! };
//! use sansrtc::{Instant, Machine, SeededRng};
//!
//! let key = Key::short_term("VOkJxbRl1RmTxUk/WvJxBt");
//! let client_addr: SocketAddr = "192.0.2.1:32853".parse().unwrap();
//!
//! // The responder: checks the request and answers with the address it came from.
//! let answer = |request: &[u8], out: &mut Vec<u8>| -> Result<(), Error> {
//!     let request = Message::new_checked(request)?;
//!     request.verify_with(|user| (user == "evtj:h6vY").then_some(&key))?;
//!     out.clear();
//!     let mut b = MessageBuilder::new(out, request.typ().with_class(Class::Success), request.transaction_id())?;
//!     b.add(Attribute::XorMappedAddress(client_addr))?;
//!     b.message_integrity(&key)?;
//!     b.fingerprint()?;
//!     Ok(())
//! };
//!
//! // Virtual time and a seeded generator: the run is the same every time.
//! let mut now = Instant::from_secs(0);
//! let mut rng = SeededRng::from_seed([42; 32]);
//! let mut tx = ClientTransaction::new(TransactionConfig::default());
//! tx.start_with(now, Method::BINDING, TransactionId::random(&mut rng), |b| {
//!     b.add(Attribute::Username("evtj:h6vY"))?;
//!     b.message_integrity(&key)?;
//!     b.fingerprint()?;
//!     Ok(())
//! })?;
//!
//! let mut in_flight: Vec<(Instant, Vec<u8>)> = Vec::new(); // responses on their way back
//! let mut requests_sent = 0;
//! let mut mapped = None;
//! let (rtt, done_at) = 'run: loop {
//!     // 1. Feed what arrived.
//!     while let Some(i) = in_flight.iter().position(|(arrives, _)| *arrives <= now) {
//!         let (_, datagram) = in_flight.swap_remove(i);
//!         let response = Message::new_checked(&datagram[..])?;
//!         response.verify_fingerprint()?;
//!         response.verify_integrity(&key)?; // drop it (and keep waiting) if this fails
//!         if let Some(Attribute::XorMappedAddress(a)) = response.attribute(AttributeType::XOR_MAPPED_ADDRESS) {
//!             mapped = Some(a);
//!         }
//!         tx.handle_response(now, &response)?;
//!     }
//!     // 2. Fire timers.
//!     if tx.poll_timeout().is_some_and(|deadline| now >= deadline) {
//!         tx.handle_timeout(now);
//!     }
//!     // 3. Send: the network loses the first request; the responder answers 20 ms later.
//!     while let Some(request) = tx.poll_transmit() {
//!         requests_sent += 1;
//!         if requests_sent > 1 {
//!             let mut response = Vec::with_capacity(128);
//!             answer(request, &mut response)?;
//!             in_flight.push((now + Duration::from_millis(20), response));
//!         }
//!     }
//!     // 4. Drain events.
//!     while let Some(event) = tx.poll_event() {
//!         match event {
//!             TransactionEvent::Response { class: Class::Success, rtt, .. } => break 'run (rtt, now),
//!             other => panic!("unexpected {other:?}"),
//!         }
//!     }
//!     // 5. Wait for the next datagram or deadline.
//!     let next_arrival = in_flight.iter().map(|(t, _)| *t).min();
//!     now = match (next_arrival, tx.poll_timeout()) {
//!         (Some(a), Some(d)) => a.min(d),
//!         (a, d) => a.or(d).expect("something to wait for"),
//!     };
//! };
//!
//! assert_eq!(mapped, Some(client_addr));
//! assert_eq!(requests_sent, 2); // the retransmission after RTO = 500 ms got through
//! assert_eq!(done_at, Instant::from_millis(520));
//! assert_eq!(rtt, None); // ambiguous after a retransmission (Karn's rule)
//! # Ok::<(), Error>(())
//! ```
//!
//! ## Modules
//!
//! The sans-IO core:
//! - [`time`]: [`Instant`], monotonic nanoseconds from a caller-chosen epoch.
//! - [`rand`]: [`SeededRng`], the injected ChaCha20 generator.
//! - [`machine`]: the contract ([`Machine`], [`PathMachine`], [`DatagramMachine`], [`Transmit`]).
//!
//! The protocols, bottom up:
//! - [`demux`]: RFC 7983 first-byte demultiplexing of STUN, DTLS, TURN channels and SRTP/SRTCP.
//! - [`stun`]: STUN messages (RFC 8489), integrity and fingerprint, client transactions.
//! - [`ice`]: the ICE agent ([`ice::IceAgent`]): full and lite, consent freshness, trickle, restarts.
//! - [`turn`]: the TURN client (RFC 8656): allocations, permissions, channels, ChannelData and stream framing.
//! - [`dtls`]: DTLS 1.2 client and server with DTLS-SRTP keying ([`dtls::Dtls`]).
//! - [`sctp`]: SCTP associations (RFC 9260 over DTLS, RFC 8261) with PR-SCTP, stream reset and zero checksum.
//! - [`datachannel`]: WebRTC data channels (RFC 8831) and DCEP (RFC 8832) over an SCTP association.
//! - [`srtp`]: SRTP/SRTCP (RFC 3711, RFC 7714) keyed from DTLS-SRTP, in place and allocation-free.
//! - [`rtp`]: RTP packets (RFC 3550) and header extensions (RFC 8285), zero-copy view and writer; the RTP
//!   session on its own ([`rtp::session`]: streams, reports, NACK/RTX, PLI/FIR, transport-wide CC).
//! - [`rtcp`]: RTCP compound packets: SR, RR, SDES, BYE, APP, XR, NACK, TWCC, PLI, FIR, REMB.
//! - [`jitter`]: receive-side media buffering: video frame assembly and a jitter buffer that waits for
//!   retransmissions in time (RTT, NACK state), and an audio playout buffer adapting to measured jitter.
//! - [`sdp`]: SDP parsing, writing, WebRTC validation and the offer/answer builder.
//! - [`packetize`]: RTP payload formats (Opus, G.711, G.722, VP8, VP9, H.264, H.265, AV1): frames into
//!   payloads and back.
//! - [`media_file`]: IVF (VP8, VP9, AV1) and Ogg Opus read and written, H.264/H.265 Annex-B split into
//!   access units; buffers in, buffers out, bounded.
//!
//! On top:
//! - [`pc`]: the peer connection ([`pc::PeerConnection`]): ICE, DTLS, data channels and SRTP media on one
//!   5-tuple, JSEP offer/answer, W3C-like events and statistics.
//! - [`router`]: many connections on the caller's sockets ([`router::Router`]): O(1) routing by STUN ufrag
//!   and by path, every deadline in one heap, reaping of closed and abandoned connections.
//! - [`record`]: record and replay: a journal of every call on a peer connection, replayed with every output
//!   compared ([`record::Replayer`]), pcapng captures with the DTLS key log ([`record::Capture`]), and
//!   captures fed back in ([`record::feed`]).
//! - `sim` (feature `sim`): the deterministic network simulator with virtual time, links and NATs.
//! - [`guide`]: the guides and design notes, as pages.
//!
//! ## Logging
//!
//! Through `tracing`, one target per subsystem (`sansrtc::stun`, `sansrtc::ice`, `sansrtc::dtls`, …), so
//! one layer can be traced alone; nothing at `info` or above is logged per packet. A peer connection's
//! calls run inside a `pc` span whose field `id` is its initial local ICE ufrag, so the lines of many
//! connections in one process are told apart (`pc{id=wC8y1Oxv}: sansrtc::ice: selected pair …`).
//!
//! ## Features
//!
//! - `std` (default): [`StdAnchor`] over `std::time::Instant`, [`SeededRng::from_os`], faster CRC32c and
//!   P-256. Turn it off for `no_std` targets ([`guide::bare_metal`]).
//! - `sim`: the network simulator. `serde`: `Serialize` for [`pc::StatsReport`].

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod cc;
pub mod datachannel;
pub mod demux;
pub mod dtls;
pub mod guide;
pub mod ice;
pub mod jitter;
pub mod machine;
pub mod mdns;
pub mod media_file;
pub mod packetize;
pub mod pc;
pub mod rand;
pub mod record;
pub mod router;
pub mod rtcp;
pub mod rtp;
pub mod sctp;
pub mod sdp;
#[cfg(feature = "sim")]
#[cfg_attr(docsrs, doc(cfg(feature = "sim")))]
pub mod sim;
pub mod srtp;
pub mod stun;
pub mod time;
pub mod turn;

pub(crate) mod util;

pub use machine::{Datagram, DatagramMachine, Machine, PathMachine, Transmit};
pub use rand::{Seed, SeededRng};
pub use time::Instant;
#[cfg(feature = "std")]
pub use time::StdAnchor;
