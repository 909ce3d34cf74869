//! DTLS 1.3 building blocks (RFC 9147 over TLS 1.3, RFC 8446), tested on their own and not yet wired into
//! the [`Dtls`](crate::dtls::Dtls) machine, which negotiates DTLS 1.2 only:
//!
//! - [`key_schedule`]: HKDF, HKDF-Expand-Label with the `"tls13 "` or `"dtls13"` label prefix, the early,
//!   handshake and master secrets, traffic secrets, keys and IVs (and DTLS 1.3's record number keys),
//!   Finished, KeyUpdate, resumption and the exporter. Checked against every secret, key and IV of RFC 8448
//!   §3 and against OpenSSL's exporter.
//! - [`record`]: the unified header of protected records, record number encryption, reconstruction of
//!   sequence numbers and epochs from their low bits, and AES-GCM record protection with the per-record
//!   nonce. Checked against the protected records of RFC 8448 §3 (TLS 1.3 framing, same AEAD and nonce).

pub mod key_schedule;
pub mod record;

#[cfg(test)]
mod tests;
