//! DTLS 1.3 handshakes between two machines: both roles, HelloRetryRequest, version negotiation and
//! fallback, loss, and bad input.

use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use crate::dtls::tests::{Net, Pair, assert_connected, certs, exchange_data};
use crate::dtls::wire::{CipherSuite, DTLS1_2, DTLS1_3, NamedGroup, SrtpProfile};
use crate::dtls::{Config, Error, Versions};
use crate::machine::{DatagramMachine, Machine};

fn configs(seed: u8, client: Versions, server: Versions) -> (Config, Config) {
    let (a, b) = certs(seed);
    let (mut cc, mut sc) = (Config::new(a), Config::new(b));
    cc.versions = client;
    sc.versions = server;
    (cc, sc)
}

fn pair(seed: u8, client: Versions, server: Versions) -> Pair {
    let (cc, sc) = configs(seed, client, server);
    Pair::new(seed, cc, sc)
}

#[test]
fn dtls13_handshake_exports_equal_keys_and_carries_data() {
    let mut p = pair(1, Versions::Both, Versions::Both);
    let mut net = Net::clean();
    p.run(&mut net, Duration::from_secs(5));
    let (c, s) = assert_connected(&p);
    assert_eq!(p.client.protocol_version(), Some(DTLS1_3));
    assert_eq!(p.server.protocol_version(), Some(DTLS1_3));
    assert_eq!(c.cipher_suite, CipherSuite::TLS13_AES_128_GCM_SHA256);
    assert_eq!(c.group, NamedGroup::X25519);
    assert_eq!(c.srtp_profile, Some(SrtpProfile::AEAD_AES_128_GCM));
    assert_eq!(c.peer_fingerprint, p.server.config.certificate.fingerprint());
    assert_eq!(s.peer_fingerprint, p.client.config.certificate.fingerprint());
    // The cookie exchange is a HelloRetryRequest: a plaintext ServerHello with the magic random.
    let first = net.wire.iter().find(|(to_server, _)| !to_server).unwrap();
    assert_eq!(first.1[0], 22);
    assert_eq!(first.1[13], 2);
    assert_eq!(first.1[27..59], crate::dtls::v13::messages::HRR_RANDOM);
    // The server's last word is an ACK (content type 26) under epoch 3, after which nothing is pending.
    assert_eq!(p.client.flight.len(), 0, "the final flight was acknowledged");
    // Both exporters agree with one computed from the other side.
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    p.client.export_keying_material(b"EXPORTER-test", &mut a).unwrap();
    p.server.export_keying_material(b"EXPORTER-test", &mut b).unwrap();
    assert_eq!(a, b);
    exchange_data(&mut p);
}

#[test]
fn dtls13_without_cookie_aes256_p256_each_profile() {
    for (i, profile) in SrtpProfile::ALL.into_iter().enumerate() {
        let (mut cc, mut sc) = configs(20 + i as u8, Versions::Dtls13, Versions::Both);
        sc.cookie_exchange = false;
        cc.cipher_suites = vec![CipherSuite::ECDHE_ECDSA_AES_256_GCM_SHA384];
        cc.groups = vec![NamedGroup::SECP256R1];
        cc.srtp_profiles = vec![profile];
        let mut p = Pair::new(3, cc, sc);
        let mut net = Net::clean();
        p.run(&mut net, Duration::from_secs(5));
        let (c, _) = assert_connected(&p);
        assert_eq!(c.srtp_profile, Some(profile));
        assert_eq!(c.cipher_suite, CipherSuite::TLS13_AES_256_GCM_SHA384);
        assert_eq!(c.group, NamedGroup::SECP256R1);
        // No cookie: the first answer is the ServerHello with its flight, no HelloRetryRequest.
        assert!(
            !net.wire.iter().any(|(to_server, d)| !to_server
                && d.len() > 59
                && d[27..59] == crate::dtls::v13::messages::HRR_RANDOM)
        );
        exchange_data(&mut p);
    }
}

/// Each 1.3 suite end to end, with and without the cookie exchange: a client offering only that suite gets
/// it from a server configured with all three (a server given only ChaCha20 by a client picks it), and a
/// server configured with only that suite picks it among the three a default client offers (AES-128-GCM
/// first). Both ends agree on suite and exporter, records are protected under it, data flows both ways,
/// and a KeyUpdate each way moves both to the next keys of the suite.
#[test]
fn dtls13_each_suite_connects_both_ways_and_carries_data() {
    for (i, suite) in [
        CipherSuite::TLS13_AES_128_GCM_SHA256,
        CipherSuite::TLS13_AES_256_GCM_SHA384,
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
    ]
    .into_iter()
    .enumerate()
    {
        for (j, only_client) in [true, false].into_iter().enumerate() {
            let seed = 60 + 2 * i as u8 + j as u8;
            let (mut cc, mut sc) = configs(seed, Versions::Dtls13, Versions::Both);
            assert_eq!(
                super::messages::tls13_suite(cc.cipher_suites[0]),
                Some(CipherSuite::TLS13_AES_128_GCM_SHA256),
                "AES-128-GCM is offered first"
            );
            if only_client {
                cc.cipher_suites = vec![suite];
            } else {
                sc.cipher_suites = vec![suite];
            }
            sc.cookie_exchange = j == 0;
            let mut p = Pair::new(seed, cc, sc);
            let mut net = Net::clean();
            p.run(&mut net, Duration::from_secs(5));
            let (c, s) = assert_connected(&p);
            assert_eq!((c.cipher_suite, s.cipher_suite), (suite, suite), "{suite:?} only_client={only_client}");
            assert_eq!(p.client.protocol_version(), Some(DTLS1_3));
            let (mut a, mut b) = ([0u8; 60], [0u8; 60]);
            p.client.export_keying_material(b"EXTRACTOR-dtls_srtp", &mut a).unwrap();
            p.server.export_keying_material(b"EXTRACTOR-dtls_srtp", &mut b).unwrap();
            assert_eq!(a, b);
            exchange_data(&mut p);
            let now = p.now;
            p.client.update_keys(now).unwrap();
            p.server.update_keys(now).unwrap();
            let mut net = Net::clean();
            p.run(&mut net, Duration::from_secs(2));
            assert_eq!((epochs(&p.client), epochs(&p.server)), ((4, 4), (4, 4)), "{suite:?}");
            exchange_data(&mut p);
        }
    }
}

#[test]
fn hello_retry_request_asks_for_the_servers_group() {
    // The client offers shares for X25519 only; the server wants P-256 first.
    let (mut cc, mut sc) = configs(4, Versions::Both, Versions::Both);
    cc.groups = vec![NamedGroup::X25519, NamedGroup::SECP256R1];
    sc.groups = vec![NamedGroup::SECP256R1];
    sc.cookie_exchange = false;
    let mut p = Pair::new(4, cc, sc);
    let mut net = Net::clean();
    p.run(&mut net, Duration::from_secs(5));
    let (c, _) = assert_connected(&p);
    assert_eq!(c.group, NamedGroup::SECP256R1);
    exchange_data(&mut p);
}

#[test]
fn version_negotiation_and_fallback_to_12() {
    let cases = [
        (Versions::Both, Versions::Both, Some(DTLS1_3)),
        (Versions::Dtls13, Versions::Both, Some(DTLS1_3)),
        (Versions::Both, Versions::Dtls13, Some(DTLS1_3)),
        (Versions::Dtls13, Versions::Dtls13, Some(DTLS1_3)),
        (Versions::Both, Versions::Dtls12, Some(DTLS1_2)),
        (Versions::Dtls12, Versions::Both, Some(DTLS1_2)),
        (Versions::Dtls12, Versions::Dtls12, Some(DTLS1_2)),
        (Versions::Dtls13, Versions::Dtls12, None),
        (Versions::Dtls12, Versions::Dtls13, None),
    ];
    for (i, (cv, sv, want)) in cases.into_iter().enumerate() {
        let mut p = pair(30 + i as u8, cv, sv);
        let mut net = Net::clean();
        p.run(&mut net, Duration::from_secs(5));
        match want {
            Some(v) => {
                assert_connected(&p);
                assert_eq!(p.client.protocol_version(), Some(v), "case {i}");
                assert_eq!(p.server.protocol_version(), Some(v), "case {i}");
                exchange_data(&mut p);
            }
            None => {
                assert!(!p.client.is_connected() && !p.server.is_connected(), "case {i}");
                assert!(p.client.is_closed() || p.server.is_closed(), "case {i}");
            }
        }
    }
}

#[test]
fn downgrade_sentinel_is_set_by_a_13_server_and_refused_by_a_13_client() {
    // A server speaking 1.3 that negotiates 1.2 marks its random.
    let mut p = pair(40, Versions::Dtls12, Versions::Both);
    p.run(&mut Net::clean(), Duration::from_secs(5));
    assert_connected(&p);
    assert!(p.client.hs.server_random.ends_with(b"DOWNGRD\x01"));
    // A 1.2-only server does not.
    let mut p = pair(41, Versions::Dtls12, Versions::Dtls12);
    p.run(&mut Net::clean(), Duration::from_secs(5));
    assert!(!p.client.hs.server_random.ends_with(b"DOWNGRD\x01"));

    // A 1.3-capable client given a 1.2 ServerHello with the sentinel (as if an attacker had removed 1.3
    // from its offer) refuses it with illegal_parameter.
    let (cc, sc) = configs(42, Versions::Both, Versions::Both);
    let mut victim = crate::dtls::Dtls::client(cc.clone(), crate::rand::SeededRng::from_seed([1; 32]), p.now);
    let mut stripped = cc;
    stripped.versions = Versions::Dtls12;
    let mut honest_client = crate::dtls::Dtls::client(stripped, crate::rand::SeededRng::from_seed([1; 32]), p.now);
    let mut server = crate::dtls::Dtls::server(sc, crate::rand::SeededRng::from_seed([2; 32]));
    let now = p.now;
    while victim.poll_transmit().is_some() {}
    // Cookie round, then the ServerHello flight of the 1.3 server answering a 1.2-only hello.
    for _ in 0..2 {
        while let Some(d) = honest_client.poll_transmit() {
            let d = d.to_vec();
            let _ = server.handle_receive(now, &d);
        }
        while let Some(d) = server.poll_transmit() {
            let d = d.to_vec();
            if d[13] == 2 {
                // The ServerHello flight: hand it to the victim, whose ClientHello had offered 1.3.
                let _ = victim.handle_receive(now, &d);
            } else {
                let _ = honest_client.handle_receive(now, &d);
            }
        }
    }
    assert_eq!(victim.close_reason(), Some(Error::Downgrade));
    let alert = victim.poll_transmit().expect("alert");
    assert_eq!(alert[0], 21);
    assert_eq!(alert[alert.len() - 1], 47);
}

#[test]
fn dtls13_lossy_reordering_duplicating_small_mtu_still_connects() {
    let mut retransmissions = 0;
    for seed in 0..48u8 {
        let (mut cc, mut sc) = configs(seed, Versions::Both, Versions::Both);
        cc.mtu = 500;
        sc.mtu = 500;
        let mut p = Pair::new(seed, cc, sc);
        let mut net = Net::lossy(seed);
        p.run(&mut net, Duration::from_secs(400));
        assert!(net.wire.iter().all(|(_, d)| d.len() <= 500), "seed {seed}");
        assert_connected(&p);
        assert_eq!(p.client.protocol_version(), Some(DTLS1_3), "seed {seed}");
        retransmissions += p.client.stats().retransmissions + p.server.stats().retransmissions;
    }
    assert!(retransmissions > 0);
}

#[test]
fn dtls13_wrong_fingerprint_fails() {
    let (cc, sc) = configs(50, Versions::Both, Versions::Both);
    let mut p = Pair::new(50, cc, sc);
    let other = certs(99).0.fingerprint();
    p.client.set_remote_fingerprint(other);
    p.run(&mut Net::clean(), Duration::from_secs(5));
    assert_eq!(Pair::closed(&p.client_events), Some(Error::FingerprintMismatch));
    assert!(!p.server.is_connected());
}

#[test]
fn dtls13_close_notify_closes_both() {
    // A short retransmission timeout, so that lost KeyUpdates are re-sent within the chat.
    let (mut cc, mut sc) = configs(51, Versions::Both, Versions::Both);
    cc.initial_rto = Duration::from_millis(100);
    sc.initial_rto = Duration::from_millis(100);
    let mut p = Pair::new(51, cc, sc);
    p.run(&mut Net::clean(), Duration::from_secs(5));
    assert_connected(&p);
    p.client.close();
    p.run(&mut Net::clean(), Duration::from_secs(1));
    assert_eq!(Pair::closed(&p.server_events), Some(Error::PeerClosed));
}

/// Datagrams a connected 1.3 pair exchanged, for forging.
fn connected_pair(seed: u8) -> (Pair, Vec<(bool, Vec<u8>)>) {
    let mut p = pair(seed, Versions::Both, Versions::Both);
    let mut net = Net::clean();
    p.run(&mut net, Duration::from_secs(5));
    assert_connected(&p);
    (p, net.wire)
}

#[test]
fn forged_epochs_sequence_numbers_and_acks_are_dropped() {
    let (mut p, wire) = connected_pair(60);
    let now = p.now;
    p.client.send(b"x").unwrap();
    let data = p.client.poll_transmit().unwrap().to_vec();
    // The genuine record is accepted once, a replay is dropped.
    p.server.handle_receive(now, &data).unwrap();
    assert_eq!(p.server.poll_data(), Some(&b"x"[..]));
    assert!(p.server.handle_receive(now, &data).is_err());
    assert_eq!(p.server.poll_data(), None);
    // Every epoch bit pattern, flipped sequence bytes and a flipped tag: dropped, no state change.
    for forge in 0..6 {
        let mut d = data.clone();
        match forge {
            0..=3 => d[0] = (d[0] & !3) | forge as u8,
            4 => d[1] ^= 0x40,
            _ => {
                let n = d.len();
                d[n - 1] ^= 1;
            }
        }
        let before = p.server.stats().records_dropped;
        let _ = p.server.handle_receive(now, &d);
        assert!(p.server.is_connected(), "forge {forge}");
        assert_eq!(p.server.poll_data(), None, "forge {forge}");
        assert!(p.server.stats().records_dropped > before || forge == 3, "forge {forge}");
    }
    // An ACK for records never sent: sealed properly by the server, but naming a record the client never
    // sent. The client drops it and stays connected.
    let mut body = Vec::new();
    crate::dtls::v13::messages::emit_ack(&mut body, &[(2, 999_999)]);
    p.server.send_record13(crate::dtls::wire::ContentType::ACK, &body);
    let ack = p.server.poll_transmit().unwrap().to_vec();
    let before = p.client.stats().records_dropped;
    assert!(p.client.handle_receive(now, &ack).is_err());
    assert_eq!(p.client.stats().records_dropped, before + 1);
    assert!(p.client.is_connected());
    // Replaying every handshake datagram of the session at both ends: no panic, still connected.
    for (to_server, d) in &wire {
        let dst = if *to_server { &mut p.server } else { &mut p.client };
        let _ = dst.handle_receive(now, d);
    }
    assert!(p.client.is_connected() && p.server.is_connected());
    while p.client.poll_transmit().is_some() {}
    while p.server.poll_transmit().is_some() {}
    exchange_data(&mut p);
}

#[test]
fn client_hello_with_duplicate_extensions_or_lying_versions_is_refused() {
    use crate::dtls::wire::handshake::{ClientHello, put_ext, write_message};
    use crate::dtls::wire::{ExtensionType, HandshakeType};
    let (_, sc) = configs(70, Versions::Both, Versions::Both);
    let hello = |extra: &[u8]| {
        let mut body = Vec::new();
        ClientHello::emit(
            &mut body,
            DTLS1_2,
            &[7; 32],
            &[],
            &[CipherSuite::TLS13_AES_128_GCM_SHA256],
            &[NamedGroup::X25519],
            &[SrtpProfile::AEAD_AES_128_GCM],
            extra,
        );
        let mut msg = Vec::new();
        write_message(&mut msg, HandshakeType::CLIENT_HELLO, 0, &body);
        let mut rec = Vec::new();
        crate::dtls::wire::record::write_header(
            &mut rec,
            crate::dtls::wire::ContentType::HANDSHAKE,
            DTLS1_2,
            0,
            0,
            msg.len() as u16,
        );
        rec.extend_from_slice(&msg);
        rec
    };
    let share = [0x09u8; 32];
    let mut dup = Vec::new();
    crate::dtls::v13::messages::emit_client_hello_ext(&mut dup, &[DTLS1_3], &[(NamedGroup::X25519, &share)], &[]);
    put_ext(&mut dup, ExtensionType::SUPPORTED_VERSIONS, &[2, 0xfe, 0xfc]);
    let mut lying_empty = Vec::new();
    put_ext(&mut lying_empty, ExtensionType::SUPPORTED_VERSIONS, &[0]);
    let mut lying_odd = Vec::new();
    put_ext(&mut lying_odd, ExtensionType::SUPPORTED_VERSIONS, &[3, 0xfe, 0xfc, 0xfe]);
    // Offers 1.3 but sends no key_share at all.
    let mut no_share = Vec::new();
    put_ext(&mut no_share, ExtensionType::SUPPORTED_VERSIONS, &[2, 0xfe, 0xfc]);
    // Any extension type twice, even one we do not read (RFC 8446 §4.2).
    let mut dup_unknown = Vec::new();
    crate::dtls::v13::messages::emit_client_hello_ext(
        &mut dup_unknown,
        &[DTLS1_3],
        &[(NamedGroup::X25519, &share)],
        &[],
    );
    put_ext(&mut dup_unknown, ExtensionType(0x1234), &[]);
    put_ext(&mut dup_unknown, ExtensionType(0x1234), &[1]);
    for (i, extra) in [dup, lying_empty, lying_odd, no_share, dup_unknown].iter().enumerate() {
        let mut server = crate::dtls::Dtls::server(sc.clone(), crate::rand::SeededRng::from_seed([3; 32]));
        let r = server.handle_receive(crate::time::Instant::from_secs(1), &hello(extra));
        assert!(r.is_err(), "case {i}");
        assert!(!server.is_connected(), "case {i}");
        // Either silence or one fatal alert, never a ServerHello.
        while let Some(d) = server.poll_transmit() {
            assert_eq!(d[0], 21, "case {i}: only an alert");
        }
        assert!(server.poll_timeout().is_none() || server.is_closed(), "case {i}");
    }
}

#[test]
fn unacknowledged_final_flight_is_retransmitted_then_given_up_without_closing() {
    let (cc, sc) = configs(80, Versions::Both, Versions::Both);
    let (cfp, sfp) = (cc.certificate.fingerprint(), sc.certificate.fingerprint());
    let mut now = crate::time::Instant::from_secs(1);
    let mut client = crate::dtls::Dtls::client(cc, crate::rand::SeededRng::from_seed([1; 32]), now);
    let mut server = crate::dtls::Dtls::server(sc, crate::rand::SeededRng::from_seed([2; 32]));
    client.set_remote_fingerprint(sfp);
    server.set_remote_fingerprint(cfp);
    // Until the client is connected, everything is delivered; the server's ACK never is.
    for _ in 0..4 {
        while let Some(d) = client.poll_transmit() {
            let d = d.to_vec();
            let _ = server.handle_receive(now, &d);
        }
        if client.is_connected() {
            break;
        }
        while let Some(d) = server.poll_transmit() {
            let d = d.to_vec();
            let _ = client.handle_receive(now, &d);
        }
    }
    assert!(client.is_connected() && server.is_connected());
    while server.poll_transmit().is_some() {}
    // The final flight is re-sent on the timer, up to the budget, and then the client stops, connected.
    let mut resent = 0;
    while let Some(t) = client.poll_timeout() {
        now = t;
        client.handle_timeout(now);
        while client.poll_transmit().is_some() {
            resent += 1;
        }
        assert!(resent < 100);
    }
    assert_eq!(client.stats().retransmissions, u64::from(client.config.max_retransmits));
    assert!(resent >= client.config.max_retransmits as usize);
    assert!(client.is_connected() && !client.is_closed());
    client.send(b"still here").unwrap();
    let d = client.poll_transmit().unwrap().to_vec();
    server.handle_receive(now, &d).unwrap();
    assert_eq!(server.poll_data(), Some(&b"still here"[..]));
}

#[test]
fn lost_ack_of_the_final_flight_is_answered_again_once_epoch_2_is_gone() {
    let (cc, sc) = configs(81, Versions::Both, Versions::Both);
    let (cfp, sfp) = (cc.certificate.fingerprint(), sc.certificate.fingerprint());
    let mut now = crate::time::Instant::from_secs(1);
    let mut client = crate::dtls::Dtls::client(cc, crate::rand::SeededRng::from_seed([3; 32]), now);
    let mut server = crate::dtls::Dtls::server(sc, crate::rand::SeededRng::from_seed([4; 32]));
    client.set_remote_fingerprint(sfp);
    server.set_remote_fingerprint(cfp);
    // Everything is delivered until the client is connected; the server's ACK of its final flight is lost.
    for _ in 0..4 {
        while let Some(d) = client.poll_transmit() {
            let d = d.to_vec();
            let _ = server.handle_receive(now, &d);
        }
        if client.is_connected() {
            break;
        }
        while let Some(d) = server.poll_transmit() {
            let d = d.to_vec();
            let _ = client.handle_receive(now, &d);
        }
    }
    assert!(client.is_connected() && server.is_connected());
    while server.poll_transmit().is_some() {}
    let epoch2 = |d: &crate::dtls::Dtls| d.v13.as_ref().is_some_and(|v| v.has_epoch2_keys());
    // The server, done, holds no epoch 2 keys; the client keeps them for its unacknowledged flight.
    assert!(!epoch2(&server) && epoch2(&client) && !client.flight.is_empty());
    // The flight is re-sent on the timer; the server cannot read it any more but answers with its ACK.
    now = client.poll_timeout().unwrap();
    client.handle_timeout(now);
    while let Some(d) = client.poll_transmit() {
        let d = d.to_vec();
        assert!(server.handle_receive(now, &d).is_err(), "epoch 2 is not read any more");
    }
    let mut acks = 0;
    while let Some(d) = server.poll_transmit() {
        let d = d.to_vec();
        client.handle_receive(now, &d).unwrap();
        acks += 1;
    }
    assert!(acks >= 1);
    assert!(client.flight.is_empty() && !epoch2(&client), "flight acknowledged, epoch 2 dropped");
    assert_eq!(client.stats().retransmissions, 1);
    // Data still flows both ways.
    client.send(b"ping").unwrap();
    let d = client.poll_transmit().unwrap().to_vec();
    server.handle_receive(now, &d).unwrap();
    assert_eq!(server.poll_data(), Some(&b"ping"[..]));
    server.send(b"pong").unwrap();
    let d = server.poll_transmit().unwrap().to_vec();
    client.handle_receive(now, &d).unwrap();
    assert_eq!(client.poll_data(), Some(&b"pong"[..]));
}

/// The secrets of a key log, by label, from its lines (checking each is keyed by `client_random`).
fn key_log_secrets(log: &str, client_random: &[u8; 32]) -> Vec<(alloc::string::String, Vec<u8>)> {
    let random: alloc::string::String = client_random.iter().map(|b| alloc::format!("{b:02x}")).collect();
    log.lines()
        .map(|line| {
            let mut parts = line.split(' ');
            let (label, r, secret) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
            assert_eq!(parts.next(), None, "{line}");
            assert_eq!(r, random, "{line}");
            let bytes = (0..secret.len() / 2).map(|i| u8::from_str_radix(&secret[2 * i..2 * i + 2], 16).unwrap());
            (label.into(), bytes.collect())
        })
        .collect()
}

#[test]
fn dtls13_key_log_has_the_five_secrets_that_decrypt_the_records() {
    use super::key_schedule::{HashAlg, LabelPrefix, Secret, TrafficKeys, export};
    use super::record::{Aead, RecordProtection, UnifiedHeader};
    use crate::dtls::Event;
    use crate::dtls::wire::ContentType;

    for (seed, suite, hash, aead) in [
        (40, CipherSuite::ECDHE_ECDSA_AES_128_GCM_SHA256, HashAlg::Sha256, Aead::Aes128Gcm),
        (41, CipherSuite::ECDHE_ECDSA_AES_256_GCM_SHA384, HashAlg::Sha384, Aead::Aes256Gcm),
        (42, CipherSuite::TLS13_CHACHA20_POLY1305_SHA256, HashAlg::Sha256, Aead::ChaCha20Poly1305),
    ] {
        let (mut cc, mut sc) = configs(seed, Versions::Both, Versions::Both);
        cc.key_log = true;
        sc.key_log = true;
        cc.cipher_suites = vec![suite];
        let mut p = Pair::new(seed, cc, sc);
        p.run(&mut Net::clean(), Duration::from_secs(5));
        assert_connected(&p);
        let random = p.client.hs.client_random;
        let log = alloc::format!("{}", p.client.key_log().unwrap());
        // Both ends log the same lines, reported once as an event too.
        assert_eq!(log, alloc::format!("{}", p.server.key_log().unwrap()));
        let events: Vec<_> =
            p.client_events.iter().filter_map(|e| if let Event::KeyLog(k) = e { Some(**k) } else { None }).collect();
        assert_eq!(events, [p.client.key_log().unwrap()]);
        let secrets = key_log_secrets(&log, &random);
        let labels: Vec<&str> = secrets.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            labels,
            [
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                "CLIENT_TRAFFIC_SECRET_0",
                "SERVER_TRAFFIC_SECRET_0",
                "EXPORTER_SECRET"
            ]
        );
        // The key schedule's values.
        let v = p.client.v13.as_deref().unwrap();
        let (ch, sh) = *v.hs_secrets.as_deref().unwrap();
        let (ca, sa) = *v.app_secrets.as_deref().unwrap();
        let ex = v.exporter.unwrap();
        for ((_, logged), secret) in secrets.iter().zip([ch, sh, ca, sa, ex]) {
            assert_eq!(logged.len(), hash.output_len());
            assert_eq!(&logged[..], secret.as_bytes());
        }
        // The exporter secret gives the connection's exported keying material.
        let (mut ours, mut logged) = ([0u8; 30], [0u8; 30]);
        p.client.export_keying_material(b"EXTRACTOR-dtls_srtp", &mut ours).unwrap();
        let ex = Secret::from_slice(&secrets[4].1).unwrap();
        export(hash, LabelPrefix::Dtls13, &ex, b"EXTRACTOR-dtls_srtp", &[], &mut logged).unwrap();
        assert_eq!(ours, logged);
        // The application traffic secrets decrypt what each side sends, as a capture reader would.
        let mut net = Net::clean();
        p.client.send(b"from the client").unwrap();
        p.server.send(b"from the server").unwrap();
        p.run(&mut net, Duration::from_secs(1));
        for (to_server, secret, text) in
            [(true, &secrets[2].1, &b"from the client"[..]), (false, &secrets[3].1, &b"from the server"[..])]
        {
            let secret = Secret::from_slice(secret).unwrap();
            let keys = TrafficKeys::derive(hash, LabelPrefix::Dtls13, &secret, aead.key_len()).unwrap();
            let prot = RecordProtection::new(aead, &keys).unwrap();
            let mut found = false;
            for (_, d) in net.wire.iter().filter(|(t, _)| *t == to_server) {
                let mut rest = &d[..];
                while !rest.is_empty() {
                    let Ok((rec, r)) = UnifiedHeader::parse_prefix(rest, 0) else { break };
                    rest = r;
                    let mut plain = Vec::new();
                    if let Ok(o) = prot.open(&rec, 0, &mut plain) {
                        found |= o.content_type == ContentType::APPLICATION_DATA && plain == text;
                    }
                }
            }
            assert!(found, "the logged secret decrypts the application data sent to_server={to_server}");
        }
    }
}

/// Both sides send `rounds` numbered messages, one each per 20 ms, the client updating its keys every
/// `client_every` rounds and the server every `server_every`; a message not yet received is sent again every
/// round (as a reliable layer above would). Returns once both sides have every message, with what each
/// received (duplicates included).
fn chat_across_key_updates(
    p: &mut Pair,
    net: &mut Net,
    rounds: u32,
    client_every: u32,
    server_every: u32,
    resend: bool,
) -> (Vec<u32>, Vec<u32>) {
    let (mut at_server, mut at_client) = (Vec::new(), Vec::new());
    let drain = |d: &mut crate::dtls::Dtls, into: &mut Vec<u32>| {
        while let Some(m) = d.poll_data() {
            into.push(u32::from_be_bytes(m.try_into().unwrap()));
        }
    };
    let mut round = 0u32;
    while round < rounds * 4 {
        let now = p.now;
        if round < rounds {
            if round % client_every == client_every - 1 {
                p.client.update_keys(now).unwrap();
            }
            if round % server_every == server_every - 1 {
                p.server.update_keys(now).unwrap();
            }
        }
        for n in 0..=round.min(rounds - 1) {
            let first = n == round;
            if first || (resend && !at_server.contains(&n)) {
                p.client.send(&n.to_be_bytes()).unwrap();
            }
            if first || (resend && !at_client.contains(&n)) {
                p.server.send(&n.to_be_bytes()).unwrap();
            }
        }
        let end = p.now + Duration::from_millis(20);
        p.run_until(net, Duration::from_millis(20), |p| p.now >= end);
        p.now = p.now.max(end);
        drain(&mut p.server, &mut at_server);
        drain(&mut p.client, &mut at_client);
        let all = |v: &Vec<u32>| (0..rounds).all(|n| v.contains(&n));
        if round >= rounds && all(&at_server) && all(&at_client) {
            break;
        }
        round += 1;
    }
    (at_server, at_client)
}

fn epochs(d: &crate::dtls::Dtls) -> (u64, u64) {
    let v = d.v13.as_deref().unwrap();
    (v.app_write_epoch, v.app_read_epoch)
}

#[test]
fn key_updates_on_a_reordering_network_lose_no_record() {
    let mut p = pair(50, Versions::Both, Versions::Both);
    p.run(&mut Net::clean(), Duration::from_secs(5));
    assert_connected(&p);
    assert_eq!(epochs(&p.client), (3, 3));
    // Reordering and duplication but no loss: every message arrives without being sent again, records of an
    // epoch arriving after the next epoch's are still read with the previous keys.
    let mut net = Net { loss: 0, dup: 20, reorder: 40, ..Net::lossy(50) };
    let (at_server, at_client) = chat_across_key_updates(&mut p, &mut net, 60, 7, 11, false);
    for got in [&at_server, &at_client] {
        let mut sorted = got.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, (0..60).collect::<Vec<_>>());
        assert_eq!(got.len(), 60, "each record read once (duplicates are replays)");
    }
    // 60 / 7 and 60 / 11 updates, each acknowledged: the writer's epoch is the reader's.
    let (c, s) = (epochs(&p.client), epochs(&p.server));
    assert_eq!(c, (3 + 8, 3 + 5));
    assert_eq!(s, (3 + 5, 3 + 8));
    assert!(p.client.v13.as_deref().unwrap().key_update.is_none());
    assert!(!p.client.is_closed() && !p.server.is_closed());
}

#[test]
fn key_updates_under_loss_keep_data_flowing() {
    // A short retransmission timeout, so that lost KeyUpdates are re-sent within the chat.
    let (mut cc, mut sc) = configs(51, Versions::Both, Versions::Both);
    cc.initial_rto = Duration::from_millis(100);
    sc.initial_rto = Duration::from_millis(100);
    let mut p = Pair::new(51, cc, sc);
    p.run(&mut Net::clean(), Duration::from_secs(5));
    assert_connected(&p);
    let mut net = Net::lossy(51);
    let (at_server, at_client) = chat_across_key_updates(&mut p, &mut net, 200, 5, 9, true);
    for got in [&at_server, &at_client] {
        assert!((0..200).all(|n| got.contains(&n)), "every message arrives: {got:?}");
    }
    // Every update eventually acknowledged (lost KeyUpdates re-sent, lost ACKs answered again), both sides
    // agreeing on each direction's epoch. (A KeyUpdate unlucky several times waits out a doubling timeout,
    // during which further requests wait for it: how many complete in the chat depends on the losses.)
    let mut quiet = Net::clean();
    let end = p.now + Duration::from_secs(30);
    p.run_until(&mut quiet, Duration::from_secs(30), |p| p.now >= end);
    let (c, s) = (epochs(&p.client), epochs(&p.server));
    assert_eq!((c.0, c.1), (s.1, s.0));
    assert!(c.0 > 3 && s.0 > 3, "client {c:?}, server {s:?}");
    assert!(p.client.v13.as_deref().unwrap().key_update.is_none());
    assert!(p.server.v13.as_deref().unwrap().key_update.is_none());
    assert!(p.client.stats().retransmissions + p.server.stats().retransmissions > 0);
    // One more update each, then data under the new keys.
    let now = p.now;
    p.client.update_keys(now).unwrap();
    p.server.update_keys(now).unwrap();
    let end = p.now + Duration::from_secs(1);
    p.run_until(&mut quiet, Duration::from_secs(1), |p| p.now >= end);
    assert_eq!(epochs(&p.client), (c.0 + 1, c.1 + 1));
    assert_eq!(epochs(&p.server), (s.0 + 1, s.1 + 1));
    exchange_data_13(&mut p, &mut quiet);
}

#[test]
fn a_keyupdate_flood_changes_the_keys_once_per_epoch() {
    let (mut p, _) = connected_pair(52);
    // Three KeyUpdates in one epoch (as a peer re-sending, or misbehaving) and their copies.
    let mut net = Net::clean();
    for _ in 0..3 {
        p.client.start_key_update13(true);
        p.client.v13.as_deref_mut().unwrap().key_update = None;
    }
    let sent: Vec<Vec<u8>> = core::iter::from_fn(|| p.client.poll_transmit().map(<[u8]>::to_vec)).collect();
    assert_eq!(sent.len(), 3);
    for _ in 0..50 {
        for d in &sent {
            let _ = p.server.handle_receive(p.now, d);
        }
    }
    // The server reads the next epoch once, and its own update (requested) is one, not three.
    assert_eq!(epochs(&p.server).1, 4);
    let v = p.server.v13.as_deref().unwrap();
    assert!(v.key_update.is_some());
    assert_eq!(v.key_update.as_ref().unwrap().records.len(), 1);
    // Every copy was acknowledged, within the bounded transmit queue.
    let acks = core::iter::from_fn(|| p.server.poll_transmit().map(<[u8]>::to_vec)).count();
    assert!(acks > 3 && acks <= 150, "{acks}");
    // Data still flows both ways.
    p.client.v13.as_deref_mut().unwrap().key_update = None;
    exchange_data_13(&mut p, &mut net);
}

fn exchange_data_13(p: &mut Pair, net: &mut Net) {
    p.client.send(b"hello from client").unwrap();
    p.server.send(b"hello from server").unwrap();
    let end = p.now + Duration::from_secs(2);
    p.run_until(net, Duration::from_secs(2), |p| p.now >= end);
    let got = core::iter::from_fn(|| p.server.poll_data().map(<[u8]>::to_vec)).collect::<Vec<_>>();
    assert!(got.contains(&b"hello from client".to_vec()), "{got:?}");
    assert_eq!(p.client.poll_data(), Some(&b"hello from server"[..]));
}

#[test]
fn keys_update_automatically_before_the_usage_limit() {
    let (mut p, _) = connected_pair(53);
    assert_eq!(super::conn::KEY_UPDATE_LIMIT, 1 << 23);
    p.client.v13.as_deref_mut().unwrap().key_update_limit = 10;
    let mut net = Net::clean();
    for i in 0..35u32 {
        p.client.send(&i.to_be_bytes()).unwrap();
        let end = p.now + Duration::from_millis(30);
        p.run_until(&mut net, Duration::from_millis(30), |p| p.now >= end);
    }
    let got = core::iter::from_fn(|| p.server.poll_data().map(<[u8]>::to_vec)).count();
    assert_eq!(got, 35);
    // Records count the ACK-eliciting KeyUpdates too; at least three updates in 35 records.
    assert!(epochs(&p.client).0 >= 6, "{:?}", epochs(&p.client));
    assert_eq!(epochs(&p.client).0, epochs(&p.server).1);
    assert!(p.client.v13.as_deref().unwrap().records_written <= 10);
    // A 1.2 connection has no KeyUpdate.
    let mut p12 = pair(54, Versions::Dtls12, Versions::Both);
    p12.run(&mut Net::clean(), Duration::from_secs(5));
    assert_eq!(p12.client.update_keys(p12.now), Err(Error::NotConnected));
}

#[test]
fn a_server_hello_selecting_a_version_not_offered_is_refused() {
    // A client offering 1.3 and 1.2 answered with a supported_versions naming anything else (1.2 there,
    // TLS 1.3, DTLS 1.0, an unknown value): a downgrade or a lying server, refused with illegal_parameter
    // before anything else of the flight is read (RFC 8446 §4.2.1).
    let genuine = [0x00, 0x2b, 0x00, 0x02, 0xfe, 0xfc];
    for (i, forged) in [DTLS1_2, 0x0304, 0xfeff, 0x1234].into_iter().enumerate() {
        let mut p = pair(90 + i as u8, Versions::Both, Versions::Both);
        let now = p.now;
        while let Some(d) = p.client.poll_transmit() {
            let d = d.to_vec();
            let _ = p.server.handle_receive(now, &d);
        }
        let mut first = p.server.poll_transmit().expect("the server's answer").to_vec();
        // The answer (a HelloRetryRequest with the cookie, or a ServerHello) is plaintext: its
        // supported_versions extension says 1.3; make it say `forged`.
        let at = first.windows(genuine.len()).position(|w| w == genuine).expect("supported_versions 1.3");
        first[at + 4..at + 6].copy_from_slice(&forged.to_be_bytes());
        assert!(p.client.handle_receive(now, &first).is_err(), "case {i}");
        assert!(!p.client.is_connected(), "case {i}");
        assert_eq!(p.client.close_reason(), Some(Error::Malformed), "case {i}");
        let alert = p.client.poll_transmit().expect("an alert").to_vec();
        assert_eq!((alert[0], alert[alert.len() - 1]), (21, 47), "case {i}: illegal_parameter");
    }
}
