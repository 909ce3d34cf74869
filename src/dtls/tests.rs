//! In-memory pairs over a seeded lossy pipe, vectors and bad input.

extern crate std;

use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use super::*;
use crate::machine::{DatagramMachine, Machine};
use crate::rand::SeededRng;
use crate::time::Instant;
use alloc::string::ToString;

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

/// A DTLS 1.2 configuration: the tests here are about 1.2, whatever the default.
pub(crate) fn config12(certificate: Certificate) -> Config {
    let mut c = Config::new(certificate);
    c.versions = Versions::Dtls12;
    c
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
        Pair::new(seed, config12(a), config12(b))
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
        let done = |d: &Dtls| d.is_connected() || d.is_closed();
        self.run_until(net, limit, |p| done(&p.client) && done(&p.server) && p.in_flight.is_empty());
    }

    /// Runs until `done`, or `limit` of virtual time passes, or nothing is left to do.
    pub fn run_until(&mut self, net: &mut Net, limit: Duration, done: impl Fn(&Pair) -> bool) {
        let end = self.now + limit;
        loop {
            self.collect(net);
            if done(self) {
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

pub(crate) fn assert_connected(p: &Pair) -> (Connected, Connected) {
    let c = Pair::connected(&p.client_events).expect("client connected");
    let s = Pair::connected(&p.server_events).expect("server connected");
    assert_eq!(c.srtp_profile, s.srtp_profile);
    assert_eq!(c.cipher_suite, s.cipher_suite);
    assert_eq!(c.group, s.group);
    assert_eq!(p.client.group(), Some(c.group));
    assert_eq!(p.server.group(), Some(s.group));
    let (ck, sk) = (c.keying.expect("client keying"), s.keying.expect("server keying"));
    assert_eq!(ck.material(), sk.material());
    assert_eq!(ck.material().len(), c.srtp_profile.and_then(|p| p.keying_material_len()).unwrap_or(0));
    (c, s)
}

pub(crate) fn exchange_data(p: &mut Pair) {
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
    assert_eq!(c.group, NamedGroup::X25519);
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
        let mut cc = config12(a);
        let mut sc = config12(b);
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
    // 30 % loss per datagram can lose a one-datagram exchange six times in a row; with the RFC's doubling
    // timer that takes minutes of virtual time, hence the generous limit.
    for seed in 0..48u8 {
        let (a, b) = certs(seed);
        let mut cc = config12(a);
        let mut sc = config12(b);
        cc.mtu = 500;
        sc.mtu = 500;
        let mut p = Pair::new(seed, cc, sc);
        let mut net = Net::lossy(seed);
        p.run(&mut net, Duration::from_secs(400));
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
    let mut client = Dtls::client(config12(a), SeededRng::from_seed([1; 32]), now);
    let mut server = Dtls::server(config12(b), SeededRng::from_seed([2; 32]));
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

/// The ServerKeyExchange's group and public key length in the server's flight on `wire`.
fn server_key_exchange(wire: &[(bool, Vec<u8>)]) -> (NamedGroup, usize) {
    for (_, d) in wire.iter().filter(|(to_server, _)| !to_server) {
        for rec in wire::RecordIter::new(d).map_while(Result::ok).filter(|r| r.epoch() == 0) {
            for (h, body) in wire::handshake::HandshakeIter::new(rec.fragment()).map_while(Result::ok) {
                if h.msg_type == wire::HandshakeType::SERVER_KEY_EXCHANGE && h.fragment_length == h.length {
                    let ske = wire::ServerKeyExchange::parse(body).unwrap();
                    return (ske.group, ske.public.len());
                }
            }
        }
    }
    panic!("no ServerKeyExchange on the wire");
}

/// The groups the client's last ClientHello offered, in order.
fn offered_groups(wire: &[(bool, Vec<u8>)]) -> Vec<u16> {
    let (_, d) = wire.iter().find(|(to_server, _)| *to_server).unwrap();
    let rec = wire::RecordIter::new(d).next().unwrap().unwrap();
    let (_, body) = wire::handshake::HandshakeIter::new(rec.fragment()).next().unwrap().unwrap();
    let ch = wire::ClientHello::parse(body).unwrap();
    let list = ch.extensions.find(wire::ExtensionType::SUPPORTED_GROUPS).unwrap();
    wire::handshake::u16_list(wire::handshake::parse_u16_vec(list).unwrap()).collect()
}

#[test]
fn x25519_is_preferred_and_p256_still_negotiated_in_both_roles() {
    let (x, p256) = (NamedGroup::X25519, NamedGroup::SECP256R1);
    // (client groups, server groups, what the client offers, the group chosen, its public key length)
    type Case<'a> = (&'a [NamedGroup], &'a [NamedGroup], &'a [u16], NamedGroup, usize);
    let cases: [Case<'_>; 5] = [
        (&[x, p256], &[x, p256], &[29, 23], x, 32),
        (&[p256], &[x, p256], &[23], p256, 65),
        (&[x, p256], &[p256], &[29, 23], p256, 65),
        // The server's preference decides.
        (&[x, p256], &[p256, x], &[29, 23], p256, 65),
        (&[p256, x], &[x, p256], &[23, 29], x, 32),
    ];
    for (i, (cg, sg, offered, chosen, key_len)) in cases.into_iter().enumerate() {
        let (a, b) = certs(40 + i as u8);
        let (mut cc, mut sc) = (config12(a), config12(b));
        cc.groups = cg.to_vec();
        sc.groups = sg.to_vec();
        let mut p = Pair::new(40 + i as u8, cc, sc);
        let mut net = Net::clean();
        p.run(&mut net, Duration::from_secs(5));
        let (c, s) = assert_connected(&p);
        assert_eq!((c.group, s.group), (chosen, chosen), "case {i}");
        assert_eq!(offered_groups(&net.wire), offered, "case {i}");
        assert_eq!(server_key_exchange(&net.wire), (chosen, key_len), "case {i}");
        exchange_data(&mut p);
    }
}

#[test]
fn no_common_group_fails_with_handshake_failure() {
    let hf = Error::PeerAlert(AlertDescription::HANDSHAKE_FAILURE);
    // A server without X25519 answers an X25519-only client with secp256r1 (offered for the certificate):
    // the client refuses it.
    let (a, b) = certs(50);
    let (mut cc, mut sc) = (config12(a), config12(b));
    cc.groups = vec![NamedGroup::X25519];
    sc.groups = vec![NamedGroup::SECP256R1];
    let mut p = Pair::new(50, cc, sc);
    p.run(&mut Net::clean(), Duration::from_secs(5));
    assert_eq!(Pair::closed(&p.client_events), Some(Error::NoCommonGroup));
    assert_eq!(Pair::closed(&p.server_events), Some(hf));
    // An X25519-only server and a secp256r1-only client.
    let (a, b) = certs(51);
    let (mut cc, mut sc) = (config12(a), config12(b));
    cc.groups = vec![NamedGroup::SECP256R1];
    sc.groups = vec![NamedGroup::X25519];
    let mut p = Pair::new(51, cc, sc);
    p.run(&mut Net::clean(), Duration::from_secs(5));
    assert_eq!(Pair::closed(&p.server_events), Some(Error::NoCommonGroup));
    assert_eq!(Pair::closed(&p.client_events), Some(hf));
}

#[test]
fn low_order_x25519_client_key_is_refused_with_illegal_parameter() {
    for (seed, bad_key) in [
        (52u8, [0u8; 32]),
        (53, {
            let mut one = [0u8; 32];
            one[0] = 1;
            one
        }),
    ] {
        let (a, b) = certs(seed);
        let (cfp, sfp) = (a.fingerprint(), b.fingerprint());
        let mut c = Dtls::client(config12(a), SeededRng::from_seed([seed; 32]), Instant::ZERO);
        let mut sc = config12(b);
        sc.cookie_exchange = false;
        let mut s = Dtls::server(sc, SeededRng::from_seed([!seed; 32]));
        c.set_remote_fingerprint(sfp);
        s.set_remote_fingerprint(cfp);
        let mut refused = None;
        for _ in 0..4 {
            while let Some(d) = c.poll_transmit() {
                let mut d = d.to_vec();
                // The ClientKeyExchange: header (type 16, length 33, unfragmented), then a 32-byte key.
                let at = (0..d.len().saturating_sub(45)).find(|&i| {
                    d[i] == 16 && d[i + 1..i + 4] == [0, 0, 33] && d[i + 9..i + 12] == [0, 0, 33] && d[i + 12] == 32
                });
                if let Some(i) = at {
                    d[i + 13..i + 45].copy_from_slice(&bad_key);
                    refused = Some(s.handle_receive(Instant::ZERO, &d));
                } else {
                    let _ = s.handle_receive(Instant::ZERO, &d);
                }
            }
            while let Some(d) = s.poll_transmit() {
                let d = d.to_vec();
                if d[0] == 21 {
                    assert_eq!(d[13..15], [2, AlertDescription::ILLEGAL_PARAMETER.0]);
                }
                let _ = c.handle_receive(Instant::ZERO, &d);
            }
        }
        assert_eq!(refused, Some(Err(Error::BadKeyShare)));
        assert!(s.is_closed() && !s.is_connected());
        assert_eq!(s.close_reason(), Some(Error::BadKeyShare));
        assert_eq!(c.close_reason(), Some(Error::PeerAlert(AlertDescription::ILLEGAL_PARAMETER)));
    }
}

#[test]
fn no_common_srtp_profile_fails() {
    let (a, b) = certs(6);
    let mut cc = config12(a);
    let mut sc = config12(b);
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
    let mut cfg = config12(a);
    cfg.max_retransmits = 3;
    let mut c = Dtls::client(cfg, SeededRng::from_seed([9; 32]), Instant::ZERO);
    // The ClientHello is owed at once, and said so.
    assert_eq!(c.poll_timeout(), Some(Instant::ZERO));
    while c.poll_transmit().is_some() {}
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
    let mut cc = config12(a);
    cc.key_log = true;
    let mut p = Pair::new(11, cc, config12(b));
    p.run(&mut Net::clean(), Duration::from_secs(5));
    let line = p
        .client_events
        .iter()
        .find_map(|e| if let Event::KeyLog(k) = e { Some(std::format!("{k}")) } else { None })
        .unwrap();
    assert!(line.starts_with("CLIENT_RANDOM "));
    assert_eq!(line.len(), 14 + 64 + 1 + 96);
}

// ----- known answers (vectors/dtls) -----

fn kv(text: &str) -> std::collections::HashMap<&str, Vec<u8>> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let bytes = (0..v.len() / 2).map(|i| u8::from_str_radix(&v[2 * i..2 * i + 2], 16).unwrap()).collect();
            (k.trim(), bytes)
        })
        .collect()
}

#[test]
fn prf_known_answers() {
    for (text, hash) in [
        (include_str!("../../vectors/dtls/prf_sha256.txt"), crypto::PrfHash::Sha256),
        (include_str!("../../vectors/dtls/prf_sha384.txt"), crypto::PrfHash::Sha384),
    ] {
        let v = kv(text);
        let mut out = vec![0u8; v["output"].len()];
        crypto::prf(hash, &v["secret"], &v["label"], &[&v["seed"]], &mut out);
        assert_eq!(out, v["output"]);
        // The seed split across parts must not matter.
        let (a, b) = v["seed"].split_at(5);
        let mut out2 = vec![0u8; out.len()];
        crypto::prf(hash, &v["secret"], &v["label"], &[a, b], &mut out2);
        assert_eq!(out2, out);
    }
}

#[test]
fn hmac_known_answers() {
    let v = kv(include_str!("../../vectors/dtls/hmac_sha256_rfc4231.txt"));
    for i in 1..=2 {
        let k = std::format!("key{i}");
        let d = std::format!("data{i}");
        let m = std::format!("mac{i}");
        assert_eq!(crypto::hmac_sha256(&v[k.as_str()], &[&v[d.as_str()]])[..], v[m.as_str()][..]);
    }
}

#[test]
fn ecdh_known_answer() {
    let v = kv(include_str!("../../vectors/dtls/ecdh_p256_rfc5903.txt"));
    let i = crypto::EcdhKey::from_scalar(&v["i"].clone().try_into().unwrap()).unwrap();
    let r = crypto::EcdhKey::from_scalar(&v["r"].clone().try_into().unwrap()).unwrap();
    assert_eq!(i.public()[1..33], v["gix"][..]);
    assert_eq!(i.public()[33..], v["giy"][..]);
    assert_eq!(r.public()[1..33], v["grx"][..]);
    assert_eq!(i.agree(r.public()).unwrap()[..], v["girx"][..]);
    assert_eq!(r.agree(i.public()).unwrap()[..], v["girx"][..]);
    // Points not on the curve or in the wrong encoding are refused.
    let mut bad = *r.public();
    bad[64] ^= 1;
    assert!(i.agree(&bad).is_err());
    assert!(i.agree(&r.public()[..33]).is_err());
}

fn arr(v: &[u8]) -> [u8; 32] {
    v.try_into().unwrap()
}

#[test]
fn x25519_known_answers() {
    let v = kv(include_str!("../../vectors/dtls/x25519_rfc7748.txt"));
    // §5.2: the function itself (the u-coordinate's top bit is ignored, §5).
    for i in 1..=2 {
        let k = crypto::X25519Key::from_secret(arr(&v[std::format!("k{i}").as_str()]));
        assert_eq!(k.agree(&v[std::format!("u{i}").as_str()]).unwrap()[..], v[std::format!("out{i}").as_str()][..]);
    }
    // §5.2 iterated: k ← X25519(k, u), u ← old k, from k = u = 9.
    let (mut k, mut u) = ([0u8; 32], [0u8; 32]);
    k[0] = 9;
    u[0] = 9;
    for n in 1..=1000 {
        let out = crypto::X25519Key::from_secret(k).agree(&u).unwrap();
        u = k;
        k = out;
        if n == 1 {
            assert_eq!(k[..], v["iter1"][..]);
        }
    }
    assert_eq!(k[..], v["iter1000"][..]);
    // §6.1: both public keys and the shared secret.
    let alice = crypto::X25519Key::from_secret(arr(&v["alice_private"]));
    let bob = crypto::X25519Key::from_secret(arr(&v["bob_private"]));
    assert_eq!(alice.public()[..], v["alice_public"][..]);
    assert_eq!(bob.public()[..], v["bob_public"][..]);
    assert_eq!(alice.agree(bob.public()).unwrap()[..], v["shared"][..]);
    assert_eq!(bob.agree(alice.public()).unwrap()[..], v["shared"][..]);
    // §6.1: a low-order peer key makes the secret all zeros, which is refused; so is a wrong length.
    let mut order8 = [0u8; 32];
    order8.copy_from_slice(&hex32("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"));
    let mut one = [0u8; 32];
    one[0] = 1;
    for low in [[0u8; 32], one, order8] {
        assert_eq!(alice.agree(&low), Err(Error::BadKeyShare));
    }
    assert_eq!(alice.agree(&bob.public()[..31]), Err(Error::BadKeyShare));
    assert_eq!(alice.agree(&[bob.public().as_slice(), &[0]].concat()), Err(Error::BadKeyShare));
    // Through the group-agnostic key share too, for both groups.
    let mut rng = SeededRng::from_seed([3; 32]);
    for g in [NamedGroup::X25519, NamedGroup::SECP256R1] {
        let (a, b) =
            (crypto::KeyShare::generate(g, &mut rng).unwrap(), crypto::KeyShare::generate(g, &mut rng).unwrap());
        assert_eq!(a.agree(b.public()).unwrap(), b.agree(a.public()).unwrap());
        assert_eq!(a.public().len(), if g == NamedGroup::X25519 { 32 } else { 65 });
    }
    assert!(crypto::KeyShare::generate(NamedGroup::SECP384R1, &mut rng).is_none());
}

/// The 1,000,000-iteration result of RFC 7748 §5.2 (about a minute; `cargo test -- --ignored`).
#[test]
#[ignore = "slow: one million X25519 operations"]
fn x25519_million_iterations() {
    let v = kv(include_str!("../../vectors/dtls/x25519_rfc7748.txt"));
    let (mut k, mut u) = ([0u8; 32], [0u8; 32]);
    k[0] = 9;
    u[0] = 9;
    for _ in 0..1_000_000 {
        let out = x25519_dalek::x25519(k, u);
        u = k;
        k = out;
    }
    assert_eq!(k[..], v["iter1000000"][..]);
}

fn hex32(s: &str) -> Vec<u8> {
    (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap()).collect()
}

#[test]
fn ecdsa_known_answers() {
    use p256::ecdsa::SigningKey;
    let v = kv(include_str!("../../vectors/dtls/ecdsa_p256_rfc6979.txt"));
    let key = SigningKey::from_slice(&v["x"]).unwrap();
    let point = key.verifying_key().to_sec1_point(false);
    assert_eq!(point.as_bytes()[1..33], v["ux"][..]);
    assert_eq!(point.as_bytes()[33..], v["uy"][..]);
    for i in 1..=2 {
        let msg = &v[std::format!("msg{i}").as_str()];
        let der_sig = crypto::sign(&key, msg).unwrap();
        let rs = der::decode_ecdsa_sig(&der_sig).unwrap();
        assert_eq!(rs[..32], v[std::format!("r{i}").as_str()][..]);
        assert_eq!(rs[32..], v[std::format!("s{i}").as_str()][..]);
        crypto::verify(key.verifying_key(), msg, &der_sig).unwrap();
        assert_eq!(crypto::verify(key.verifying_key(), b"other", &der_sig), Err(Error::BadSignature));
        // DER round trip of r ‖ s.
        assert_eq!(der::encode_ecdsa_sig(&rs), der_sig);
    }
}

#[test]
fn record_protection_round_trip_and_tamper() {
    use super::wire::{ContentType, DTLS1_2, Record};
    for key_len in [16usize, 32] {
        let c = crypto::RecordCipher::new(&vec![7u8; key_len], &[1, 2, 3, 4]).unwrap();
        let mut out = Vec::new();
        c.seal(&mut out, ContentType::APPLICATION_DATA, DTLS1_2, 1, 42, b"payload");
        assert_eq!(out.len(), 13 + 8 + 7 + 16);
        let (rec, rest) = Record::parse_prefix(&out).unwrap();
        assert!(rest.is_empty());
        let mut plain = Vec::new();
        c.open(&rec, &mut plain).unwrap();
        assert_eq!(plain, b"payload");
        // Any change to header (additional data), nonce, ciphertext or tag fails.
        for i in [3usize, 10, 14, 22, out.len() - 1] {
            let mut bad = out.clone();
            bad[i] ^= 0x40;
            let (rec, _) = Record::parse_prefix(&bad).unwrap();
            assert_eq!(c.open(&rec, &mut plain), Err(Error::BadRecordMac), "byte {i}");
        }
    }
}

#[test]
fn certificate_generate_load_fingerprint() {
    let mut rng = SeededRng::from_seed([3; 32]);
    let cert = Certificate::generate(&mut rng);
    let fp = cert.fingerprint();
    let text = std::format!("{fp}");
    assert!(text.starts_with("sha-256 "));
    assert_eq!(text.len(), 8 + 32 * 3 - 1);
    assert_eq!(Fingerprint::parse(&text), Some(fp));
    assert_eq!(Fingerprint::parse(&text.to_lowercase()), Some(fp));
    assert_eq!(Fingerprint::parse("sha-1 AB"), None);
    // The generated certificate's key is extractable and matches.
    let key = peer_public_key(cert.der()).unwrap();
    assert_eq!(&key, cert.signing_key().verifying_key());
    // Reloading from DER (PKCS#8 and SEC1) gives the same identity.
    for key_der in [cert.private_key_pkcs8_der(), cert.private_key_sec1_der()] {
        let loaded = Certificate::from_der(cert.der(), &key_der).unwrap();
        assert_eq!(loaded.fingerprint(), fp);
    }
    // A key that does not match the certificate is refused.
    let other = Certificate::generate(&mut rng);
    assert_eq!(Certificate::from_der(cert.der(), &other.private_key_pkcs8_der()).unwrap_err(), Error::InvalidKey);
    assert!(peer_public_key(&cert.der()[..50]).is_err());
}

#[test]
fn openssl_generated_certificate_loads() {
    // An OpenSSL certificate and its key, when the openssl CLI is present (the interop test needs it too).
    let dir = std::env::temp_dir().join(std::format!("sansrtc-dtls-cert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| std::process::Command::new("openssl").args(args).current_dir(&dir).output();
    if run(&["version"]).is_err() {
        return;
    }
    assert!(
        run(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-outform", "DER", "-out", "sec1.der"])
            .unwrap()
            .status
            .success()
    );
    assert!(
        run(&["pkcs8", "-topk8", "-nocrypt", "-inform", "DER", "-in", "sec1.der", "-outform", "DER", "-out", "p8.der"])
            .unwrap()
            .status
            .success()
    );
    assert!(
        run(&[
            "req", "-new", "-x509", "-key", "sec1.der", "-keyform", "DER", "-outform", "DER", "-out", "cert.der",
            "-subj", "/CN=x", "-days", "1"
        ])
        .unwrap()
        .status
        .success()
    );
    let cert = std::fs::read(dir.join("cert.der")).unwrap();
    for k in ["sec1.der", "p8.der"] {
        let key = std::fs::read(dir.join(k)).unwrap();
        let c = Certificate::from_der(&cert, &key).unwrap();
        assert_eq!(c.fingerprint(), Fingerprint::of_der(&cert));
    }
    // And OpenSSL parses ours.
    let mut rng = SeededRng::from_seed([4; 32]);
    let ours = Certificate::generate(&mut rng);
    std::fs::write(dir.join("ours.der"), ours.der()).unwrap();
    let out = run(&["x509", "-inform", "DER", "-in", "ours.der", "-noout", "-fingerprint", "-sha256"]).unwrap();
    assert!(out.status.success());
    let printed = alloc::string::String::from_utf8_lossy(&out.stdout).to_string();
    let hex = std::format!("{}", ours.fingerprint()).trim_start_matches("sha-256 ").to_string();
    assert!(printed.contains(&hex), "{printed} vs {hex}");
    let verify = run(&["x509", "-inform", "DER", "-in", "ours.der", "-noout", "-text"]).unwrap();
    assert!(alloc::string::String::from_utf8_lossy(&verify.stdout).contains("prime256v1"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn renegotiation_is_refused_with_a_warning() {
    use super::wire::{ContentType, DTLS1_2};
    let mut p = Pair::default_pair(12);
    p.run(&mut Net::clean(), Duration::from_secs(5));
    assert_connected(&p);
    // A HelloRequest (type 0, empty) under epoch 1 from the server, at the client's next expected seq.
    let seq = p.client.reasm.next_seq;
    let mut hs = Vec::new();
    super::wire::handshake::write_message(&mut hs, super::wire::HandshakeType::HELLO_REQUEST, seq, &[]);
    let mut rec = Vec::new();
    p.server.write_cipher.as_ref().unwrap().seal(&mut rec, ContentType::HANDSHAKE, DTLS1_2, 1, 1000, &hs);
    assert_eq!(p.client.handle_receive(p.now, &rec), Err(Error::UnexpectedMessage));
    assert!(p.client.is_connected());
    let alert = p.client.poll_transmit().unwrap().to_vec();
    let (r, _) = super::wire::Record::parse_prefix(&alert).unwrap();
    let mut plain = Vec::new();
    p.server.read_cipher.as_ref().unwrap().open(&r, &mut plain).unwrap();
    assert_eq!(plain, [1, AlertDescription::NO_RENEGOTIATION.0]);
}

#[test]
fn time_going_backwards_is_treated_as_the_latest_instant() {
    let (a, _) = certs(13);
    let mut c = Dtls::client(config12(a), SeededRng::from_seed([13; 32]), Instant::from_secs(10));
    while c.poll_transmit().is_some() {}
    assert_eq!(c.poll_timeout(), Some(Instant::from_secs(11)));
    // An earlier `now` fires nothing and moves nothing.
    c.handle_timeout(Instant::from_secs(1));
    assert!(c.poll_transmit().is_none());
    assert_eq!(c.poll_timeout(), Some(Instant::from_secs(11)));
    c.handle_timeout(Instant::from_secs(11));
    assert!(c.poll_transmit().is_some());
    assert_eq!(c.stats().retransmissions, 1);
    // A retransmission armed from a backwards `now` still counts from the latest instant seen.
    c.handle_timeout(Instant::from_secs(2));
    assert_eq!(c.poll_timeout(), Some(Instant::from_secs(13)));
}

#[test]
fn data_written_without_a_now_is_announced_by_poll_timeout() {
    // `send` and `close` take no `now`: what they queue is owed at the latest `now` the machine was given.
    let mut p = Pair::default_pair(10);
    p.run(&mut Net::clean(), Duration::from_secs(5));
    assert_connected(&p);
    let now = p.now;
    assert!(p.client.poll_timeout().is_none_or(|t| t > now), "nothing owed once drained");
    p.client.send(b"hello").unwrap();
    assert_eq!(p.client.poll_timeout(), Some(now));
    assert!(p.client.poll_transmit().is_some());
    assert!(p.client.poll_transmit().is_none());
    assert!(p.client.poll_timeout().is_none_or(|t| t > now));
    p.client.close();
    assert_eq!(p.client.poll_timeout(), Some(now));
    // Taking events owes nothing.
    while p.client.poll_event().is_some() {}
    assert!(p.client.poll_transmit().is_some());
    assert!(p.client.poll_transmit().is_none());
    assert!(p.client.poll_timeout().is_none_or(|t| t > now));
}
