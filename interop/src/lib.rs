//! Test and benchmark support for comparing sansrtc with other stacks.
//!
//! This crate is `publish = false`: the heavy peers it links (other STUN, DTLS, SCTP and SRTP stacks) are
//! here so that they never become dependencies of the library.

pub mod bench;
pub mod libsrtp;
pub mod openssl;
pub mod pipe;
pub mod sctp_proto_peer;
