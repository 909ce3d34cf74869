//! Guides and design notes, the pages of `docs/` in the repository: how the pieces fit, how to embed
//! the stack, and why it is built the way it is. Each page is a module with no items.
//!
//! - [`architecture`]: the layers, what flows between them, the poll contract.
//! - [`layers`]: one protocol at a time (STUN, DTLS with SRTP, SRTP, SCTP), with compiled examples.
//! - [`game_engine`]: a peer connection per player in a game engine's network thread.
//! - [`bare_metal`]: a port with no operating system: features, flash and memory figures, clock, seed.
//! - [`recording_walkthrough`]: recording a browser session, replaying it after a change, reading the capture.
//! - Design notes: [`dtls_notes`], [`sctp_notes`], [`rtp_session_notes`], [`journal_format`],
//!   [`congestion_control`].

#[doc = include_str!("../docs/architecture.md")]
pub mod architecture {}

#[doc = include_str!("../docs/layers.md")]
pub mod layers {}

#[doc = include_str!("../docs/game-engine.md")]
pub mod game_engine {}

#[doc = include_str!("../docs/bare-metal.md")]
pub mod bare_metal {}

#[doc = include_str!("../docs/dtls.md")]
pub mod dtls_notes {}

#[doc = include_str!("../docs/sctp.md")]
pub mod sctp_notes {}

#[doc = include_str!("../docs/rtp-session.md")]
pub mod rtp_session_notes {}

#[doc = include_str!("../docs/journal.md")]
pub mod journal_format {}

#[doc = include_str!("../docs/recording-walkthrough.md")]
pub mod recording_walkthrough {}

#[doc = include_str!("../docs/cc.md")]
pub mod congestion_control {}
