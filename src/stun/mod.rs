//! STUN (RFC 8489, RFC 5389): the message codec, credentials and integrity, and client transactions.
//!
//! - [`wire`]: the zero-copy [`Message`] view with a lazy attribute iterator, typed [`Attribute`]s for
//!   STUN, ICE and TURN, and the [`MessageBuilder`] writing into caller-owned buffers.
//! - [`Key`]: short-term and long-term credentials, pre-keyed for MESSAGE-INTEGRITY and
//!   MESSAGE-INTEGRITY-SHA256; checks on [`Message`] allocate nothing.
//! - [`ClientTransaction`] and [`Transactions`]: the RFC 8489 §6.2 retransmission schedule and response
//!   matching, as sans-IO machines.
//!
//! An ICE agent answering a connectivity check:
//!
//! ```
//! use core::net::SocketAddr;
//! use sansrtc::stun::{Attribute, Class, Key, Message, MessageBuilder, is_stun};
//!
//! # let key = Key::short_term("VOkJxbRl1RmTxUk/WvJxBt");
//! # let mut req = Vec::new();
//! # let mut b = MessageBuilder::new(&mut req, sansrtc::stun::MessageType::BINDING_REQUEST,
//! #     sansrtc::stun::TransactionId([1; 12]))?;
//! # b.add(Attribute::Username("evtj:h6vY"))?.message_integrity(&key)?.fingerprint()?;
//! # let datagram = &req[..];
//! # let from: SocketAddr = "192.0.2.1:32853".parse().unwrap();
//! let mut out = Vec::with_capacity(1500); // reused for every answer
//! if is_stun(datagram) {
//!     let request = Message::new_checked(datagram)?;
//!     // FINGERPRINT, then MESSAGE-INTEGRITY with the password for this USERNAME.
//!     request.verify_with(|username| (username == "evtj:h6vY").then_some(&key))?;
//!     out.clear();
//!     let mut b = MessageBuilder::response(&mut out, &request, Class::Success)?;
//!     b.add(Attribute::XorMappedAddress(from))?;
//!     b.message_integrity(&key)?;
//!     b.fingerprint()?;
//!     b.finish();
//!     // send `out` back to `from`
//! }
//! # Ok::<(), sansrtc::stun::Error>(())
//! ```

pub mod error;
mod integrity;
mod transaction;
pub mod wire;

#[cfg(test)]
mod tests;

/// The `tracing` target of this module.
const TARGET: &str = "sansrtc::stun";

pub use error::Error;
pub use integrity::{FINGERPRINT_XOR, Key, userhash};
pub use transaction::{ClientTransaction, TransactionConfig, TransactionEvent, TransactionStats, Transactions};
pub use wire::{
    Attribute, AttributeType, Class, ErrorCode, Message, MessageBuilder, MessageType, Method, RawAttribute,
    SliceBuffer, TransactionId, is_stun,
};
