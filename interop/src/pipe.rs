//! The lossy in-memory pipe between two datagram machines, from the crate's simulator (`sansrtc::sim::pipe`).

pub use sansrtc::sim::pipe::{Impair, Link, Pair};
