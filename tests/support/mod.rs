//! The lossy in-memory pipe the SCTP and data channel tests share lives in the crate's simulator.

pub use sansrtc::sim::pipe::{Impair, Pair};
