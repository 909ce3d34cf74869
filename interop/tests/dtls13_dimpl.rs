//! DTLS 1.3 against dimpl 0.8 (a sans-IO Rust DTLS stack with its own 1.3 implementation), in both roles:
//! the handshake completes with mutual certificates, both sides export the same DTLS-SRTP keys, and
//! application data crosses both ways. dimpl's automatic mode (a client offering 1.2 and 1.3) is covered
//! too, and each of the three TLS 1.3 suites (dimpl implements them all) in both roles, chosen by either
//! side's configuration.

use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use sansrtc::dtls::{Certificate, CipherSuite, Config, Dtls, Event, SrtpProfile, Versions};
use sansrtc::{DatagramMachine, Instant, Machine, SeededRng};

struct Peer {
    dimpl: dimpl::Dtls,
    keys: Option<Vec<u8>>,
    connected: bool,
    data: Vec<Vec<u8>>,
}

fn dimpl_config(suites: Option<&[dimpl::crypto::Dtls13CipherSuite]>) -> Arc<dimpl::Config> {
    let mut b = dimpl::Config::builder().require_client_certificate(true).use_server_cookie(true);
    if let Some(suites) = suites {
        b = b.dtls13_cipher_suites(suites);
    }
    Arc::new(b.build().expect("dimpl config"))
}

fn der(c: &Certificate) -> dimpl::DtlsCertificate {
    dimpl::DtlsCertificate { certificate: c.der().to_vec(), private_key: c.private_key_pkcs8_der() }
}

/// Runs both to completion on virtual time (sansrtc) and a real clock offset by the same amount (dimpl).
fn run(ours: &mut Dtls, theirs: &mut Peer, start: StdInstant) -> Vec<Event> {
    let mut events = Vec::new();
    let mut out = vec![0u8; 4096];
    let mut now = Instant::from_secs(1);
    for _ in 0..200 {
        let std_now = start + Duration::from_nanos(now.as_nanos());
        let _ = theirs.dimpl.handle_timeout(std_now);
        ours.handle_timeout(now);
        let mut to_us = Vec::new();
        loop {
            match theirs.dimpl.poll_output(&mut out) {
                dimpl::Output::Packet(p) => to_us.push(p.to_vec()),
                dimpl::Output::Connected => theirs.connected = true,
                dimpl::Output::KeyingMaterial(k, _) => theirs.keys = Some(k.to_vec()),
                dimpl::Output::ApplicationData(d) => theirs.data.push(d.to_vec()),
                dimpl::Output::Timeout(_) => break,
                _ => {}
            }
        }
        for p in &to_us {
            let _ = ours.handle_receive(now, p);
        }
        while let Some(d) = ours.poll_transmit() {
            let d = d.to_vec();
            theirs.dimpl.handle_packet(&d).expect("dimpl accepts our datagram");
        }
        while let Some(e) = ours.poll_event() {
            events.push(e);
        }
        if ours.is_connected() && theirs.connected && theirs.keys.is_some() && to_us.is_empty() {
            break;
        }
        now += Duration::from_millis(50);
    }
    events
}

fn check(role_client: bool, versions: Versions, dimpl_auto: bool) {
    check_suites(role_client, versions, dimpl_auto, None, None, CipherSuite::TLS13_AES_128_GCM_SHA256);
}

/// One handshake and data both ways; `ours` and `theirs` restrict the suites of each side, and `expect` is
/// the suite both must agree on.
fn check_suites(
    role_client: bool,
    versions: Versions,
    dimpl_auto: bool,
    ours: Option<Vec<CipherSuite>>,
    theirs_suites: Option<&[dimpl::crypto::Dtls13CipherSuite]>,
    expect: CipherSuite,
) {
    let mut rng = SeededRng::from_seed([7; 32]);
    let (ours_cert, theirs_cert) = (Certificate::generate(&mut rng), Certificate::generate(&mut rng));
    let mut cfg = Config::new(ours_cert);
    cfg.versions = versions;
    if let Some(suites) = ours {
        cfg.cipher_suites = suites;
    }
    cfg.srtp_profiles = vec![SrtpProfile::AEAD_AES_128_GCM];
    let start = StdInstant::now();
    let std_now = start + Duration::from_secs(1);
    let mut theirs = Peer {
        dimpl: if dimpl_auto {
            dimpl::Dtls::new_auto(dimpl_config(theirs_suites), der(&theirs_cert), std_now)
        } else {
            dimpl::Dtls::new_13(dimpl_config(theirs_suites), der(&theirs_cert), std_now)
        },
        keys: None,
        connected: false,
        data: Vec::new(),
    };
    let mut ours = if role_client {
        Dtls::client(cfg, rng.fork(), Instant::from_secs(1))
    } else {
        theirs.dimpl.set_active(true);
        Dtls::server(cfg, rng.fork())
    };
    ours.set_remote_fingerprint(theirs_cert.fingerprint());
    let events = run(&mut ours, &mut theirs, start);
    let connected = events.iter().find_map(|e| if let Event::Connected(c) = e { Some(*c) } else { None });
    let c = connected.unwrap_or_else(|| panic!("sansrtc connected (client {role_client}): {events:?}"));
    assert!(theirs.connected, "dimpl connected");
    assert_eq!(ours.protocol_version(), Some(0xfefc), "DTLS 1.3 negotiated");
    assert_eq!(c.srtp_profile, Some(SrtpProfile::AEAD_AES_128_GCM));
    assert_eq!(c.cipher_suite, expect, "client {role_client}");
    let ours_keys = c.keying.expect("keying").material().to_vec();
    assert_eq!(Some(ours_keys), theirs.keys, "equal DTLS-SRTP keys");
    // Data both ways.
    ours.send(b"from sansrtc").unwrap();
    theirs.dimpl.send_application_data(b"from dimpl").expect("dimpl send");
    let _ = run(&mut ours, &mut theirs, start);
    assert!(theirs.data.iter().any(|d| d == b"from sansrtc"), "dimpl got our data");
    assert_eq!(ours.poll_data(), Some(&b"from dimpl"[..]));
}

#[test]
fn sansrtc_client_dimpl_13_server() {
    check(true, Versions::Both, false);
    check(true, Versions::Dtls13, false);
}

#[test]
fn dimpl_13_client_sansrtc_server() {
    check(false, Versions::Both, false);
    check(false, Versions::Dtls13, false);
}

#[test]
fn dimpl_auto_both_roles() {
    check(true, Versions::Both, true);
    check(false, Versions::Both, true);
}

/// TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 and TLS_CHACHA20_POLY1305_SHA256, in both roles: once
/// with dimpl allowing only that suite (our default offer or preference meets it), once with us allowing
/// only that suite (dimpl's default meets it).
#[test]
fn each_13_suite_both_roles() {
    use dimpl::crypto::Dtls13CipherSuite as D;
    for (ours, theirs) in [
        (CipherSuite::TLS13_AES_128_GCM_SHA256, D::AES_128_GCM_SHA256),
        (CipherSuite::TLS13_AES_256_GCM_SHA384, D::AES_256_GCM_SHA384),
        (CipherSuite::TLS13_CHACHA20_POLY1305_SHA256, D::CHACHA20_POLY1305_SHA256),
    ] {
        for role_client in [true, false] {
            check_suites(role_client, Versions::Dtls13, false, None, Some(&[theirs]), ours);
            check_suites(role_client, Versions::Dtls13, false, Some(vec![ours]), None, ours);
        }
    }
}
