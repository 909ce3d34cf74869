//! DTLS 1.2 (RFC 6347 over RFC 5246) and DTLS 1.3 (RFC 9147 over RFC 8446) for WebRTC: client and server as
//! one sans-IO machine, DTLS-SRTP keying (RFC 5764), certificates authenticated by fingerprint (RFC 8122).
//!
//! [`Dtls`] is a [`DatagramMachine`](crate::DatagramMachine). Drive it with the crate's loop:
//!
//! 1. `handle_receive(now, datagram)` for each datagram from the peer;
//! 2. `handle_timeout(now)` when `now` reaches `poll_timeout()` (flight retransmission, RFC 6347 §4.2.4);
//! 3. `poll_transmit()` until `None`, sending each datagram to the peer;
//! 4. `poll_event()` until `None` ([`Event::Connected`] carries the SRTP profile and keying material);
//! 5. `poll_data()` until `None` for received application data;
//! 6. sleep until the next datagram or `poll_timeout()`.
//!
//! Events and data are pure reads. [`Dtls::send`], [`Dtls::close`] and [`Dtls::set_remote_fingerprint`]
//! take no `now`: what they queue is announced by `poll_timeout`, which returns the latest `now` given while
//! datagrams wait in `poll_transmit`.
//!
//! A client starts its handshake in [`Dtls::client`]; a server waits for a ClientHello. Time must not go
//! backwards (an earlier `now` counts as the latest seen). [`Dtls::send`] protects application data once
//! connected; [`Dtls::close`] sends close_notify.
//!
//! Supported: ECDHE-ECDSA with AES-128-GCM/SHA-256 and AES-256-GCM/SHA-384, the key exchange on X25519
//! (RFC 7748, RFC 8422; preferred) or secp256r1 as [`Config::groups`] says, ECDSA on secp256r1, the extended
//! master secret (required), use_srtp with the four profiles of [`SrtpProfile::ALL`], mutual certificate
//! authentication, HelloVerifyRequest cookies, fragmentation to a caller-set MTU, retransmission,
//! a 64-record replay window.
//!
//! DTLS 1.3 ([`v13`], with the `dtls13` feature, on by default) as [`Config::versions`] allows: the same
//! suites' 1.3 counterparts (TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384), key shares on X25519 and
//! secp256r1, a HelloRetryRequest carrying a stateless cookie (or asking for the server's group), mutual
//! certificate authentication, the unified record header with encrypted record numbers, epochs 0, 2 and 3,
//! the client's final flight retransmitted until the server's ACK, the RFC 8446 exporter for DTLS-SRTP,
//! version negotiation with the downgrade sentinel, KeyUpdate (RFC 9147 §8) and the NSS key log. Not
//! supported in 1.3: connection IDs, 0-RTT, resumption. Not supported at all: renegotiation, resumption.
//!
//! ```
//! use sansrtc::dtls::{Certificate, Config, Dtls, Event};
//! use sansrtc::{DatagramMachine, Instant, Machine, SeededRng};
//!
//! let mut rng = SeededRng::from_seed([1; 32]);
//! let (cc, sc) = (Certificate::generate(&mut rng), Certificate::generate(&mut rng));
//! let (cfp, sfp) = (cc.fingerprint(), sc.fingerprint());
//! let now = Instant::ZERO;
//! let mut client = Dtls::client(Config::new(cc), rng.fork(), now);
//! let mut server = Dtls::server(Config::new(sc), rng.fork());
//! client.set_remote_fingerprint(sfp);
//! server.set_remote_fingerprint(cfp);
//! for _ in 0..10 {
//!     while let Some(d) = client.poll_transmit() { let d = d.to_vec(); let _ = server.handle_receive(now, &d); }
//!     while let Some(d) = server.poll_transmit() { let d = d.to_vec(); let _ = client.handle_receive(now, &d); }
//! }
//! let mut keys = None;
//! while let Some(e) = client.poll_event() {
//!     if let Event::Connected(c) = e { keys = c.keying; }
//! }
//! assert!(keys.is_some());
//! ```

mod cert;
mod conn;
pub(crate) mod crypto;
mod der;
mod error;
mod fragment;
mod handshake;
mod reassembly;
pub mod v13;
pub mod wire;

#[cfg(test)]
mod tests;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

pub use cert::{Certificate, Fingerprint, peer_public_key};
pub use conn::Dtls;
pub use error::Error;
pub use wire::{AlertDescription, CipherSuite, NamedGroup, SrtpProfile};

/// Which end of the handshake we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sends the ClientHello (the SDP `a=setup:active` end).
    Client,
    /// Answers it (`a=setup:passive`).
    Server,
}

/// Which DTLS versions a machine negotiates. Without the `dtls13` feature every value means 1.2 only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Versions {
    /// DTLS 1.2 only: a 1.3 offer is answered with 1.2.
    Dtls12,
    /// DTLS 1.3 only: a peer without it fails with a protocol_version alert.
    Dtls13,
    /// Both, preferring 1.3. A client offers 1.3 then 1.2 (supported_versions); a server answers 1.3 when
    /// it is offered, else 1.2 with the downgrade sentinel in its random (RFC 8446 §4.1.3), which a client
    /// offering 1.3 checks.
    Both,
}

impl Versions {
    /// The default of [`Config::versions`]: [`Versions::Both`] with the `dtls13` feature, else
    /// [`Versions::Dtls12`].
    pub const DEFAULT: Versions = if cfg!(feature = "dtls13") { Versions::Both } else { Versions::Dtls12 };
}

impl Default for Versions {
    fn default() -> Versions {
        Versions::DEFAULT
    }
}

/// Connection settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Our certificate and key.
    pub certificate: Certificate,
    /// SRTP protection profiles in preference order (empty: no use_srtp). Default: [`SrtpProfile::ALL`].
    pub srtp_profiles: Vec<SrtpProfile>,
    /// Cipher suites in preference order: a client offers them in this order, a server takes the first of
    /// them the client offers. A DTLS 1.2 suite also stands for the TLS 1.3 suite of the same AEAD when 1.3
    /// is negotiated; TLS_CHACHA20_POLY1305_SHA256 is a 1.3 suite only (and needs the `dtls13` feature).
    /// Default: AES-128-GCM, AES-256-GCM, then ChaCha20-Poly1305 (1.3 only), the order browsers prefer.
    pub cipher_suites: Vec<CipherSuite>,
    /// ECDHE key exchange groups in preference order, from [`NamedGroup::X25519`] and
    /// [`NamedGroup::SECP256R1`] (others are ignored). Default: X25519 then secp256r1. A client offers them
    /// in this order in supported_groups (and lists secp256r1 last even when it is not here, since that
    /// extension also names the curve of our ECDSA certificate, RFC 8422 §5.1.1) and refuses a server's
    /// choice outside them; a server takes the first of them the client offers. With none in common the
    /// handshake fails with [`Error::NoCommonGroup`]. In DTLS 1.3 a client sends a key share for each.
    /// X25519 needs the `x25519` feature (on by default).
    pub groups: Vec<NamedGroup>,
    /// Largest datagram we send (handshake flights are fragmented to fit). Default 1200.
    pub mtu: usize,
    /// First retransmission timeout (RFC 6347 §4.2.4.1: 1 s).
    pub initial_rto: Duration,
    /// Retransmission timeout cap (60 s).
    pub max_rto: Duration,
    /// Retransmissions of one flight before the handshake fails with [`Error::HandshakeTimeout`].
    pub max_retransmits: u32,
    /// Server: answer a ClientHello without a valid cookie with a HelloVerifyRequest (RFC 6347 §4.2.1).
    /// Default true.
    pub cookie_exchange: bool,
    /// The DTLS versions we speak. Default: [`Versions::Both`] (1.3 preferred, 1.2 for peers without it)
    /// with the `dtls13` feature, [`Versions::Dtls12`] without it (a build without 1.3 offers only 1.2
    /// whatever this says).
    pub versions: Versions,
    /// Emit [`Event::KeyLog`] with the NSS key-log line once the master secret is known. Default false.
    pub key_log: bool,
}

impl Config {
    /// Defaults around `certificate`.
    pub fn new(certificate: Certificate) -> Config {
        Config {
            certificate,
            srtp_profiles: SrtpProfile::ALL.to_vec(),
            cipher_suites: alloc::vec![
                CipherSuite::ECDHE_ECDSA_AES_128_GCM_SHA256,
                CipherSuite::ECDHE_ECDSA_AES_256_GCM_SHA384,
                CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
            ],
            groups: alloc::vec![NamedGroup::X25519, NamedGroup::SECP256R1],
            mtu: 1200,
            initial_rto: Duration::from_secs(1),
            max_rto: Duration::from_secs(60),
            max_retransmits: 10,
            cookie_exchange: true,
            versions: Versions::DEFAULT,
            key_log: false,
        }
    }
}

/// DTLS-SRTP keying material split per RFC 5764 §4.2.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SrtpKeying {
    /// The negotiated profile.
    pub profile: SrtpProfile,
    material: [u8; 88],
    key_len: usize,
    salt_len: usize,
}

impl SrtpKeying {
    pub(crate) fn new(profile: SrtpProfile, block: &[u8]) -> Option<SrtpKeying> {
        let (key_len, salt_len) = profile.key_salt_len()?;
        let mut material = [0u8; 88];
        material.get_mut(..block.len())?.copy_from_slice(block);
        Some(SrtpKeying { profile, material, key_len, salt_len })
    }

    fn part(&self, start: usize, len: usize) -> &[u8] {
        self.material.get(start..start + len).unwrap_or(&[])
    }

    /// The whole exported block: client key ‖ server key ‖ client salt ‖ server salt.
    pub fn material(&self) -> &[u8] {
        self.part(0, 2 * (self.key_len + self.salt_len))
    }
    /// client_write_SRTP_master_key.
    pub fn client_key(&self) -> &[u8] {
        self.part(0, self.key_len)
    }
    /// server_write_SRTP_master_key.
    pub fn server_key(&self) -> &[u8] {
        self.part(self.key_len, self.key_len)
    }
    /// client_write_SRTP_master_salt.
    pub fn client_salt(&self) -> &[u8] {
        self.part(2 * self.key_len, self.salt_len)
    }
    /// server_write_SRTP_master_salt.
    pub fn server_salt(&self) -> &[u8] {
        self.part(2 * self.key_len + self.salt_len, self.salt_len)
    }
    /// Our (key, salt) for protecting what we send, given our role.
    pub fn local(&self, role: Role) -> (&[u8], &[u8]) {
        match role {
            Role::Client => (self.client_key(), self.client_salt()),
            Role::Server => (self.server_key(), self.server_salt()),
        }
    }
    /// The peer's (key, salt), for unprotecting what we receive.
    pub fn remote(&self, role: Role) -> (&[u8], &[u8]) {
        match role {
            Role::Client => (self.server_key(), self.server_salt()),
            Role::Server => (self.client_key(), self.client_salt()),
        }
    }
}

impl fmt::Debug for SrtpKeying {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpKeying").field("profile", &self.profile).finish_non_exhaustive()
    }
}

/// The handshake completed and the peer's certificate matched the expected fingerprint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connected {
    /// Our role.
    pub role: Role,
    /// The negotiated cipher suite.
    pub cipher_suite: CipherSuite,
    /// The group of the ECDHE key exchange.
    pub group: NamedGroup,
    /// The negotiated SRTP profile, if use_srtp was configured.
    pub srtp_profile: Option<SrtpProfile>,
    /// The DTLS-SRTP keying material (label "EXTRACTOR-dtls_srtp"), split per RFC 5764 §4.2.
    pub keying: Option<SrtpKeying>,
    /// The peer certificate's fingerprint.
    pub peer_fingerprint: Fingerprint,
}

/// The NSS key log of a connection, for Wireshark: DTLS 1.2 has one line, `CLIENT_RANDOM <client random>
/// <master secret>`; DTLS 1.3 has five, `CLIENT_HANDSHAKE_TRAFFIC_SECRET`, `SERVER_HANDSHAKE_TRAFFIC_SECRET`,
/// `CLIENT_TRAFFIC_SECRET_0`, `SERVER_TRAFFIC_SECRET_0` and `EXPORTER_SECRET`, each keyed by the client random
/// (all hex). `Display` writes the lines separated by newlines (no final newline).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyLog {
    /// The ClientHello random.
    pub client_random: [u8; 32],
    secrets: [KeyLogSecret; 5],
    count: u8,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct KeyLogSecret {
    label: &'static str,
    bytes: [u8; 48],
    len: u8,
}

impl KeyLog {
    /// The DTLS 1.2 entry: `CLIENT_RANDOM` and the master secret.
    pub(crate) fn dtls12(client_random: [u8; 32], master_secret: [u8; 48]) -> KeyLog {
        let mut k = KeyLog::empty(client_random);
        k.push("CLIENT_RANDOM", &master_secret);
        k
    }

    pub(crate) fn empty(client_random: [u8; 32]) -> KeyLog {
        let none = KeyLogSecret { label: "", bytes: [0; 48], len: 0 };
        KeyLog { client_random, secrets: [none; 5], count: 0 }
    }

    /// Adds a line (secrets longer than 48 bytes, or a sixth line, are left out: no suite has them).
    pub(crate) fn push(&mut self, label: &'static str, secret: &[u8]) {
        let mut bytes = [0; 48];
        let (Some(slot), Some(dst)) = (self.secrets.get_mut(usize::from(self.count)), bytes.get_mut(..secret.len()))
        else {
            return;
        };
        dst.copy_from_slice(secret);
        *slot = KeyLogSecret { label, bytes, len: secret.len() as u8 };
        self.count += 1;
    }

    /// The entries: label (`CLIENT_RANDOM`, `CLIENT_HANDSHAKE_TRAFFIC_SECRET`, …) and secret.
    pub fn secrets(&self) -> impl Iterator<Item = (&'static str, &[u8])> + '_ {
        self.secrets
            .iter()
            .take(usize::from(self.count))
            .map(|s| (s.label, s.bytes.get(..usize::from(s.len)).unwrap_or(&[])))
    }
}

impl fmt::Display for KeyLog {
    /// The NSS key-log lines, newline-separated (no final newline).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (label, secret)) in self.secrets().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{label} ")?;
            for b in self.client_random {
                write!(f, "{b:02x}")?;
            }
            f.write_str(" ")?;
            for b in secret {
                write!(f, "{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyLog(..)")
    }
}

/// What a [`Dtls`] machine reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The handshake completed and the peer is authenticated. Application data may flow.
    Connected(Connected),
    /// Received application data is waiting in [`Dtls::poll_data`] (reported once per `handle_receive`
    /// that queued some).
    Data,
    /// The peer sent a warning alert (other than close_notify).
    Alert(AlertDescription),
    /// The connection is closed: by the peer, by a fatal error, or by [`Dtls::close`].
    Closed {
        /// Why.
        reason: Error,
    },
    /// The NSS key log of this connection (only when [`Config::key_log`] is set): for DTLS 1.2 once the
    /// master secret is known, for DTLS 1.3 once the application traffic secrets are.
    KeyLog(Box<KeyLog>),
}

/// Counters of what was dropped or retransmitted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams fed to `handle_receive`.
    pub datagrams_received: u64,
    /// Records dropped as malformed, unauthenticated, replayed or out of window.
    pub records_dropped: u64,
    /// Flight retransmissions (timer or peer-triggered).
    pub retransmissions: u64,
    /// Received application records refused because the receive queue was full.
    pub data_dropped: u64,
    /// Datagrams refused because the transmit queue was full (the caller did not drain `poll_transmit`).
    pub transmit_dropped: u64,
}
