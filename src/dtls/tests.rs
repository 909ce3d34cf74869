//! In-memory pairs over a seeded lossy pipe, vectors and bad input.

extern crate std;

use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use super::*;
use crate::machine::{DatagramMachine, Machine};
use crate::rand::SeededRng;
use crate::time::Instant;

/// A seeded, lossy, reordering, duplicating pipe between a client and a server, on virtual time.
pub(crate) struct Net {
    pub loss: u64,    // percent
    pub dup: u64,     // percent
    pub reorder: u64, // percent: delayed by an extra random amount
    pub rng: SeededRng,
    pub wire: Vec<(bool, Vec<u8>)>,
}

impl Net {
    pub fn clean() -> Net {
        Net { loss: 0, dup: 0, reorder: 0, rng: SeededRng::from_seed([0; 32]), wire: Vec::new() }
    }
    pub fn lossy(seed: u8) -> Net {
        Net { loss: 30, dup: 10, reorder: 20, rng: SeededRng::from_seed([seed; 32]), wire: Vec::new() }
    }
}

pub(crate) struct Pair {
    pub client: Dtls,
    pub server: Dtls,
    pub now: Instant,
    // (deliver at, to_server, bytes)
    in_flight: Vec<(Instant, bool, Vec<u8>)>,
    pub client_events: Vec<Event>,
    pub server_events: Vec<Event>,
}

pub(crate) fn certs(seed: u8) -> (Certificate, Certificate) {
    let mut rng = SeededRng::from_seed([seed; 32]);
    (Certificate::generate(&mut rng), Certificate::generate(&mut rng))
}

impl Pair {
    pub fn new(seed: u8, cc: Config, sc: Config) -> Pair {
        let (cfp, sfp) = (cc.certificate.fingerprint(), sc.certificate.fingerprint());
        let now = Instant::from_secs(1);
        let mut client = Dtls::client(cc, SeededRng::from_seed([seed ^ 0x55; 32]), now);
        let mut server = Dtls::server(sc, SeededRng::from_seed([seed ^ 0xaa; 32]));
        client.set_remote_fingerprint(sfp);
        server.set_remote_fingerprint(cfp);
        Pair { client, server, now, in_flight: Vec::new(), client_events: Vec::new(), server_events: Vec::new() }
    }

    pub fn default_pair(seed: u8) -> Pair {
        let (a, b) = certs(seed);
        Pair::new(seed, Config::new(a), Config::new(b))
    }

    fn collect(&mut self, net: &mut Net) {
        let latency = Duration::from_millis(10);
        for to_server in [true, false] {
            loop {
                let src = if to_server { &mut self.client } else { &mut self.server };
                let Some(d) = src.poll_transmit() else { break };
                let d = d.to_vec();
                net.wire.push((to_server, d.clone()));
                if net.rng.below(100) < net.loss {
                    continue;
                }
                let mut at = self.now + latency;
                if net.rng.below(100) < net.reorder {
                    at += Duration::from_millis(net.rng.below(40));
                }
                if net.rng.below(100) < net.dup {
                    self.in_flight.push((at + Duration::from_millis(3), to_server, d.clone()));
                }
                self.in_flight.push((at, to_server, d));
            }
        }
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e);
        }
        while let Some(e) = self.server.poll_event() {
            self.server_events.push(e);
        }
    }

    /// Runs until both are connected (or closed), or `limit` of virtual time passes.
    pub fn run(&mut self, net: &mut Net, limit: Duration) {
        let end = self.now + limit;
        loop {
            self.collect(net);
            let done = |d: &Dtls| d.is_connected() || d.is_closed();
            if done(&self.client) && done(&self.server) && self.in_flight.is_empty() {
                return;
            }
            let next_delivery = self.in_flight.iter().map(|(t, _, _)| *t).min();
            let next =
                [next_delivery, self.client.poll_timeout(), self.server.poll_timeout()].into_iter().flatten().min();
            let Some(next) = next else { return };
            if next > end {
                return;
            }
            self.now = self.now.max(next);
            // Deliver everything due, in order of time (stable for equal times).
            self.in_flight.sort_by_key(|(t, _, _)| *t);
            while self.in_flight.first().is_some_and(|(t, _, _)| *t <= self.now) {
                let (_, to_server, d) = self.in_flight.remove(0);
                let dst = if to_server { &mut self.server } else { &mut self.client };
                let _ = dst.handle_receive(self.now, &d);
            }
            self.client.handle_timeout(self.now);
            self.server.handle_timeout(self.now);
        }
    }

    pub fn connected(events: &[Event]) -> Option<Connected> {
        events.iter().find_map(|e| if let Event::Connected(c) = e { Some(*c) } else { None })
    }

    pub fn closed(events: &[Event]) -> Option<Error> {
        events.iter().find_map(|e| if let Event::Closed { reason } = e { Some(*reason) } else { None })
    }
}

fn assert_connected(p: &Pair) -> (Connected, Connected) {
    let c = Pair::connected(&p.client_events).expect("client connected");
    let s = Pair::connected(&p.server_events).expect("server connected");
    assert_eq!(c.srtp_profile, s.srtp_profile);
    assert_eq!(c.cipher_suite, s.cipher_suite);
    let (ck, sk) = (c.keying.expect("client keying"), s.keying.expect("server keying"));
    assert_eq!(ck.material(), sk.material());
    assert_eq!(ck.material().len(), c.srtp_profile.and_then(|p| p.keying_material_len()).unwrap_or(0));
    (c, s)
}

fn exchange_data(p: &mut Pair) {
    let mut net = Net::clean();
    p.client.send(b"hello from client").unwrap();
    p.server.send(b"hello from server").unwrap();
    p.run(&mut net, Duration::from_secs(1));
    assert_eq!(p.server.poll_data(), Some(&b"hello from client"[..]));
    assert_eq!(p.server.poll_data(), None);
    assert_eq!(p.client.poll_data(), Some(&b"hello from server"[..]));
}

#[test]
fn handshake_in_memory_exports_equal_keys_and_carries_data() {
    let mut p = Pair::default_pair(1);
    let mut net = Net::clean();
    p.run(&mut net, Duration::from_secs(5));
    let (c, s) = assert_connected(&p);
    assert_eq!(c.srtp_profile, Some(SrtpProfile::AEAD_AES_128_GCM));
    assert_eq!(c.cipher_suite, CipherSuite::ECDHE_ECDSA_AES_128_GCM_SHA256);
    assert_eq!(c.peer_fingerprint, p.server.config.certificate.fingerprint());
    assert_eq!(s.peer_fingerprint, p.client.config.certificate.fingerprint());
    // Cookie exchange happened: the first server datagram is a HelloVerifyRequest.
    let first_from_server = net.wire.iter().find(|(to_server, _)| !to_server).unwrap();
    assert_eq!(first_from_server.1[0], 22);
    assert_eq!(first_from_server.1[13], 3);
    exchange_data(&mut p);
    assert!(p.client_events.contains(&Event::Data));
    assert!(p.server_events.contains(&Event::Data));
}

#[test]
fn handshake_without_cookie_and_aes256_and_each_profile() {
    for (i, profile) in SrtpProfile::ALL.into_iter().enumerate() {
        let (a, b) = certs(10 + i as u8);
        let mut cc = Config::new(a);
        let mut sc = Config::new(b);
        sc.cookie_exchange = false;
        cc.cipher_suites = vec![CipherSuite::ECDHE_ECDSA_AES_256_GCM_SHA384];
        cc.srtp_profiles = vec![profile];
        let mut p = Pair::new(3, cc, sc);
        let mut net = Net::clean();
        p.run(&mut net, Duration::from_secs(5));
        let (c, _) = assert_connected(&p);
        assert_eq!(c.srtp_profile, Some(profile));
        assert_eq!(c.cipher_suite, CipherSuite::ECDHE_ECDSA_AES_256_GCM_SHA384);
        exchange_data(&mut p);
    }
}

#[test]
fn lossy_reordering_duplicating_small_mtu_still_connects() {
    let mut retransmissions = 0;
    let mut fragmented = false;
    for seed in 0..12u8 {
        let (a, b) = certs(seed);
        let mut cc = Config::new(a);
        let mut sc = Config::new(b);
        cc.mtu = 500;
        sc.mtu = 500;
        let mut p = Pair::new(seed, cc, sc);
        let mut net = Net::lossy(seed);
        p.run(&mut net, Duration::from_secs(120));
        assert!(net.wire.iter().all(|(_, d)| d.len() <= 500));
        assert_connected(&p);
        retransmissions += p.client.stats().retransmissions + p.server.stats().retransmissions;
        // A plaintext handshake record whose fragment is shorter than its message: fragmentation happened.
        fragmented |= net.wire.iter().any(|(_, d)| {
            d[0] == 22 && d[3..5] == [0, 0] && {
                let len = u32::from_be_bytes([0, d[14], d[15], d[16]]);
                let frag = u32::from_be_bytes([0, d[22], d[23], d[24]]);
                frag < len
            }
        });
    }
    assert!(retransmissions > 0);
    assert!(fragmented);
}

#[test]
fn same_seed_same_bytes_on_the_wire() {
    let run = || {
        let mut p = Pair::default_pair(7);
        let mut net = Net::lossy(7);
        p.run(&mut net, Duration::from_secs(60));
        net.wire
    };
    let (a, b) = (run(), run());
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn wrong_fingerprint_fails_clearly() {
    let mut p = Pair::default_pair(4);
    p.client.set_remote_fingerprint(Fingerprint([0xab; 32]));
    let mut net = Net::clean();
    p.run(&mut net, Duration::from_secs(10));
    assert_eq!(Pair::closed(&p.client_events), Some(Error::FingerprintMismatch));
    assert!(Pair::connected(&p.client_events).is_none());
    assert!(Pair::connected(&p.server_events).is_none());
    // The server learns through the bad_certificate alert.
    assert_eq!(Pair::closed(&p.server_events), Some(Error::PeerAlert(AlertDescription::BAD_CERTIFICATE)));
}

#[test]
fn fingerprint_set_after_handshake_delays_connected() {
    let (a, b) = certs(5);
    let sfp = b.fingerprint();
    let cfp = a.fingerprint();
    let now = Instant::from_secs(1);
    let mut client = Dtls::client(Config::new(a), SeededRng::from_seed([1; 32]), now);
    let mut server = Dtls::server(Config::new(b), SeededRng::from_seed([2; 32]));
    server.set_remote_fingerprint(cfp);
    for _ in 0..10 {
        while let Some(d) = client.poll_transmit() {
            let d = d.to_vec();
            let _ = server.handle_receive(now, &d);
        }
        while let Some(d) = server.poll_transmit() {
            let d = d.to_vec();
            let _ = client.handle_receive(now, &d);
        }
    }
    assert!(!client.is_connected());
    assert!(core::iter::from_fn(|| client.poll_event()).all(|e| !matches!(e, Event::Connected(_))));
    client.set_remote_fingerprint(sfp);
    assert!(client.is_connected());
    assert!(matches!(client.poll_event(), Some(Event::Connected(_))));
}

#[test]
fn no_common_srtp_profile_fails() {
    let (a, b) = certs(6);
    let mut cc = Config::new(a);
    let mut sc = Config::new(b);
    cc.srtp_profiles = vec![SrtpProfile::AES128_CM_SHA1_32];
    sc.srtp_profiles = vec![SrtpProfile::AEAD_AES_128_GCM];
    let mut p = Pair::new(6, cc, sc);
    p.run(&mut Net::clean(), Duration::from_secs(5));
    assert_eq!(Pair::closed(&p.server_events), Some(Error::NoCommonSrtpProfile));
    assert_eq!(Pair::closed(&p.client_events), Some(Error::PeerAlert(AlertDescription::HANDSHAKE_FAILURE)));
}

#[test]
fn close_notify_closes_both() {
    let mut p = Pair::default_pair(8);
    p.run(&mut Net::clean(), Duration::from_secs(5));
    assert_connected(&p);
    p.client.close();
    p.run(&mut Net::clean(), Duration::from_secs(1));
    assert_eq!(Pair::closed(&p.client_events), Some(Error::Closed));
    assert_eq!(Pair::closed(&p.server_events), Some(Error::PeerClosed));
    assert_eq!(p.client.send(b"x"), Err(Error::Closed));
}

#[test]
fn handshake_times_out_without_peer() {
    let (a, _) = certs(9);
    let mut cfg = Config::new(a);
    cfg.max_retransmits = 3;
    let mut c = Dtls::client(cfg, SeededRng::from_seed([9; 32]), Instant::ZERO);
    let mut deadlines = Vec::new();
    while let Some(t) = c.poll_timeout() {
        deadlines.push(t);
        c.handle_timeout(t);
        while c.poll_transmit().is_some() {}
    }
    assert_eq!(
        deadlines,
        [Instant::from_secs(1), Instant::from_secs(3), Instant::from_secs(7), Instant::from_secs(15)]
    );
    assert!(matches!(c.poll_event(), Some(Event::Closed { reason: Error::HandshakeTimeout })));
}

#[test]
fn key_log_line_is_emitted() {
    let (a, b) = certs(11);
    let mut cc = Config::new(a);
    cc.key_log = true;
    let mut p = Pair::new(11, cc, Config::new(b));
    p.run(&mut Net::clean(), Duration::from_secs(5));
    let line = p
        .client_events
        .iter()
        .find_map(|e| if let Event::KeyLog(k) = e { Some(std::format!("{k}")) } else { None })
        .unwrap();
    assert!(line.starts_with("CLIENT_RANDOM "));
    assert_eq!(line.len(), 14 + 64 + 1 + 96);
}
