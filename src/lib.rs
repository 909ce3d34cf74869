//! # sansrtc
//!
//! A WebRTC stack written as pure, clock-injected, sans-IO state machines. Each protocol is a value you
//! feed datagrams and timestamps; it hands back datagrams to send, events, and the next deadline. The
//! library opens no sockets, spawns no threads, reads no clock and no OS random source, and keeps no
//! global state, so you can run it in your own event loop, replay captures deterministically, or put it on
//! bare metal (`#![no_std]` + `alloc`).
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
//! ```
//! use core::time::Duration;
//! use sansrtc::{Instant, Machine, SeededRng};
//!
//! // A caller-side clock: here virtual time that jumps straight to each deadline.
//! let mut now = Instant::from_secs(0);
//! let mut rng = SeededRng::from_seed([42; 32]);
//!
//! // A toy machine standing in for any layer: it fires a timer every second, three times.
//! struct Ticker { next: Option<Instant>, fired: u32, events: Vec<u32> }
//! impl Machine for Ticker {
//!     type Event = u32;
//!     fn handle_timeout(&mut self, now: Instant) {
//!         if self.next.is_some_and(|t| now >= t) {
//!             self.fired += 1;
//!             self.events.push(self.fired);
//!             self.next = (self.fired < 3).then(|| now + Duration::from_secs(1));
//!         }
//!     }
//!     fn poll_event(&mut self) -> Option<u32> { (!self.events.is_empty()).then(|| self.events.remove(0)) }
//!     fn poll_timeout(&self) -> Option<Instant> { self.next }
//! }
//!
//! let mut machine = Ticker { next: Some(now + Duration::from_millis(rng.below(1000))), fired: 0, events: vec![] };
//! let mut seen = Vec::new();
//! while let Some(deadline) = machine.poll_timeout() {
//!     now = now.max(deadline); // 5. wait until the deadline (no datagrams arrive in this toy)
//!     machine.handle_timeout(now); // 2. fire what is due
//!     while let Some(event) = machine.poll_event() { // 4. drain events
//!         seen.push(event);
//!     }
//! }
//! assert_eq!(seen, [1, 2, 3]);
//! ```
//!
//! ## Modules
//!
//! - [`time`]: [`Instant`], monotonic nanoseconds from a caller-chosen epoch.
//! - [`rand`]: [`SeededRng`], the injected ChaCha20 generator.
//! - [`machine`]: the contract ([`Machine`], [`PathMachine`], [`DatagramMachine`], [`Transmit`]).
//! - [`sctp`]: SCTP associations (RFC 9260 over DTLS, RFC 8261) with PR-SCTP, stream reset and zero checksum.
//! - [`datachannel`]: WebRTC data channels (RFC 8831) and DCEP (RFC 8832) over an SCTP association.
//!
//! ## Logging
//!
//! Through `tracing`, one target per subsystem (`sansrtc::stun`, `sansrtc::ice`, `sansrtc::dtls`, …), so
//! one layer can be traced alone.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod datachannel;
pub mod machine;
pub mod rand;
pub mod sctp;
pub mod time;

pub(crate) mod util;

pub use machine::{Datagram, DatagramMachine, Machine, PathMachine, Transmit};
pub use rand::{Seed, SeededRng};
pub use time::Instant;
#[cfg(feature = "std")]
pub use time::StdAnchor;
