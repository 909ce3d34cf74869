//! DTLS 1.3 (RFC 9147 over TLS 1.3, RFC 8446) inside the [`Dtls`](crate::dtls::Dtls) machine:
//!
//! - [`key_schedule`]: HKDF, HKDF-Expand-Label with the `"tls13 "` or `"dtls13"` label prefix, the early,
//!   handshake and master secrets, traffic secrets, keys and IVs (and DTLS 1.3's record number keys),
//!   Finished, KeyUpdate, resumption and the exporter. Checked against every secret, key and IV of RFC 8448
//!   §3 and against OpenSSL's exporter.
//! - [`record`]: the unified header of protected records, record number encryption (AES-ECB or the
//!   ChaCha20 block), reconstruction of sequence numbers and epochs from their low bits, and record
//!   protection with the per-record nonce under TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 or
//!   TLS_CHACHA20_POLY1305_SHA256. Checked against the protected records of RFC 8448 §3 (TLS 1.3 framing,
//!   same AEAD and nonce), RFC 8439's ChaCha20 block and AEAD vectors, and masks recomputed from RFC 9147
//!   §4.2.3's description.
//! - [`messages`]: the 1.3 handshake message bodies and extensions, and the ACK record.
//! - `conn`, `client`, `server`: the 1.3 record layer of the machine, ACKs, and the handshake of each role.

/// Whether the `dtls13` feature is on: without it no 1.3 path is reachable and the linker drops them.
pub(crate) const ENABLED: bool = cfg!(feature = "dtls13");

mod client;
pub(crate) mod conn;
pub mod key_schedule;
pub mod messages;
pub mod record;
mod server;

#[cfg(test)]
mod handshake_tests;
#[cfg(test)]
mod tests;
