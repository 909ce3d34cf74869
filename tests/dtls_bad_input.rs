//! Bad input to the DTLS machine: typed errors or silent drops (RFC 6347 §4.1.2.7), fatal alerts where the
//! RFC says so, never a panic. Also a Chromium-shaped ClientHello (DTLS 1.0 record version, fragmented over
//! two datagrams, DTLS 1.3 supported_versions and hybrid key_share offered) answered with DTLS 1.2.

use sansrtc::dtls::wire::handshake::HandshakeIter;
use sansrtc::dtls::wire::{HandshakeType, RecordIter, ServerHello, ServerKeyExchange};
use sansrtc::dtls::{AlertDescription, Certificate, CipherSuite, Config, Dtls, Error, Event, SrtpProfile};
use sansrtc::{DatagramMachine, Instant, Machine, SeededRng};

const EMS: u16 = 23;
const RENEG: u16 = 0xff01;
const GROUPS: u16 = 10;
const POINT_FORMATS: u16 = 11;
const SIG_ALGS: u16 = 13;
const USE_SRTP: u16 = 14;
const SUPPORTED_VERSIONS: u16 = 43;
const KEY_SHARE: u16 = 51;

fn u16s(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}

fn vec16(v: &[u8]) -> Vec<u8> {
    let mut o = (v.len() as u16).to_be_bytes().to_vec();
    o.extend_from_slice(v);
    o
}

fn standard_exts() -> Vec<(u16, Vec<u8>)> {
    vec![
        (EMS, vec![]),
        (RENEG, vec![0]),
        (GROUPS, vec16(&u16s(&[23]))),
        (POINT_FORMATS, vec![1, 0]),
        (SIG_ALGS, vec16(&u16s(&[0x0403]))),
        (USE_SRTP, [vec16(&u16s(&[1, 7])), vec![0]].concat()),
    ]
}

/// A ClientHello body.
fn client_hello(version: u16, suites: &[u16], exts: &[(u16, Vec<u8>)], cookie: &[u8]) -> Vec<u8> {
    let mut b = version.to_be_bytes().to_vec();
    b.extend_from_slice(&[0x11; 32]);
    b.push(0);
    b.push(cookie.len() as u8);
    b.extend_from_slice(cookie);
    b.extend_from_slice(&vec16(&u16s(suites)));
    b.extend_from_slice(&[1, 0]);
    let mut e = Vec::new();
    for (t, d) in exts {
        e.extend_from_slice(&t.to_be_bytes());
        e.extend_from_slice(&vec16(d));
    }
    b.extend_from_slice(&vec16(&e));
    b
}

/// One datagram holding one handshake fragment record.
#[allow(clippy::too_many_arguments)]
fn hs_record(version: u16, epoch: u16, rseq: u64, ty: u8, mseq: u16, total: u32, off: u32, frag: &[u8]) -> Vec<u8> {
    let mut hs = vec![ty];
    hs.extend_from_slice(&total.to_be_bytes()[1..]);
    hs.extend_from_slice(&mseq.to_be_bytes());
    hs.extend_from_slice(&off.to_be_bytes()[1..]);
    hs.extend_from_slice(&(frag.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(frag);
    record(22, version, epoch, rseq, &hs)
}

fn record(ty: u8, version: u16, epoch: u16, rseq: u64, payload: &[u8]) -> Vec<u8> {
    let mut r = vec![ty];
    r.extend_from_slice(&version.to_be_bytes());
    r.extend_from_slice(&epoch.to_be_bytes());
    r.extend_from_slice(&rseq.to_be_bytes()[2..]);
    r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    r.extend_from_slice(payload);
    r
}

fn server(cookie: bool) -> Dtls {
    server_with(cookie, sansrtc::dtls::Versions::Dtls12)
}

fn server_with(cookie: bool, versions: sansrtc::dtls::Versions) -> Dtls {
    let mut rng = SeededRng::from_seed([21; 32]);
    let mut cfg = Config::new(Certificate::generate(&mut rng));
    cfg.cookie_exchange = cookie;
    cfg.versions = versions;
    Dtls::server(cfg, rng.fork())
}

fn drain(d: &mut Dtls) -> Vec<Vec<u8>> {
    core::iter::from_fn(|| d.poll_transmit().map(<[u8]>::to_vec)).collect()
}

fn events(d: &mut Dtls) -> Vec<Event> {
    core::iter::from_fn(|| d.poll_event()).collect()
}

/// Plaintext handshake messages (reassembled by concatenating fragments in order) in epoch-0 records.
fn messages(datagrams: &[Vec<u8>]) -> Vec<(HandshakeType, Vec<u8>)> {
    let mut out: Vec<(HandshakeType, u16, Vec<u8>)> = Vec::new();
    for d in datagrams {
        for rec in RecordIter::new(d) {
            let rec = rec.unwrap();
            if rec.content_type().0 != 22 || rec.epoch() != 0 {
                continue;
            }
            for f in HandshakeIter::new(rec.fragment()) {
                let (h, body) = f.unwrap();
                match out.iter_mut().find(|(_, s, _)| *s == h.message_seq) {
                    Some((_, _, b)) => b.extend_from_slice(body),
                    None => out.push((h.msg_type, h.message_seq, body.to_vec())),
                }
            }
        }
    }
    out.into_iter().map(|(t, _, b)| (t, b)).collect()
}

fn alert_sent(datagrams: &[Vec<u8>], desc: AlertDescription) -> bool {
    datagrams.iter().any(|d| d.first() == Some(&21) && d.get(13..15) == Some(&[2, desc.0][..]))
}

/// A ClientHello shaped like Chromium 156's: DTLS 1.3 + 1.2 in supported_versions, X25519MLKEM768 and x25519
/// key shares, TLS 1.3 suites and GREASE, use_srtp AES128_CM_SHA1_80 / AEAD_AES_256_GCM / AEAD_AES_128_GCM.
fn chromium_client_hello(cookie: &[u8]) -> Vec<u8> {
    let grease = 0x3a3a;
    let mut key_share = Vec::new();
    key_share.extend_from_slice(&u16s(&[0x11ec]));
    key_share.extend_from_slice(&vec16(&[0x42; 1216]));
    key_share.extend_from_slice(&u16s(&[29]));
    key_share.extend_from_slice(&vec16(&[0x43; 32]));
    let exts = vec![
        (grease, vec![]),
        (EMS, vec![]),
        (RENEG, vec![0]),
        (GROUPS, vec16(&u16s(&[grease, 0x11ec, 29, 23, 24]))),
        (POINT_FORMATS, vec![1, 0]),
        (SIG_ALGS, vec16(&u16s(&[0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]))),
        (USE_SRTP, [vec16(&u16s(&[1, 8, 7])), vec![0]].concat()),
        (SUPPORTED_VERSIONS, [vec![4], u16s(&[0xfefc, 0xfefd])].concat()),
        (KEY_SHARE, vec16(&key_share)),
    ];
    let suites = [grease, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc009, 0xc013, 0xc00a, 0xc014];
    client_hello(0xfefd, &suites, &exts, cookie)
}

fn send_fragmented_ch(s: &mut Dtls, body: &[u8], mseq: u16, first_rseq: u64) {
    let (a, b) = body.split_at(1188);
    let total = body.len() as u32;
    let d1 = hs_record(0xfeff, 0, first_rseq, 1, mseq, total, 0, a);
    let d2 = hs_record(0xfeff, 0, first_rseq + 1, 1, mseq, total, a.len() as u32, b);
    assert_eq!(d1.len(), 1213);
    s.handle_receive(Instant::ZERO, &d1).unwrap();
    assert!(s.poll_transmit().is_none(), "no answer before the ClientHello is complete");
    s.handle_receive(Instant::ZERO, &d2).unwrap();
}

fn check_server_flight(flight: &[Vec<u8>]) {
    let msgs = messages(flight);
    let types: Vec<_> = msgs.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        types,
        [
            HandshakeType::SERVER_HELLO,
            HandshakeType::CERTIFICATE,
            HandshakeType::SERVER_KEY_EXCHANGE,
            HandshakeType::CERTIFICATE_REQUEST,
            HandshakeType::SERVER_HELLO_DONE
        ]
    );
    let sh = ServerHello::parse(&msgs[0].1).unwrap();
    assert_eq!(sh.version, 0xfefd);
    assert_eq!(sh.cipher_suite, CipherSuite::ECDHE_ECDSA_AES_128_GCM_SHA256);
    // Our preference among AES128_CM_SHA1_80, AEAD_AES_256_GCM, AEAD_AES_128_GCM: AEAD_AES_128_GCM first.
    let srtp = sh.extensions.find(sansrtc::dtls::wire::ExtensionType::USE_SRTP).unwrap();
    assert_eq!(srtp, [0, 2, 0, 7, 0]);
    assert!(sh.extensions.find(sansrtc::dtls::wire::ExtensionType::SUPPORTED_VERSIONS).is_none());
    // Chromium offers x25519 (after the hybrid X25519MLKEM768 we do not support): X25519 is chosen.
    let ske = ServerKeyExchange::parse(&msgs[2].1).unwrap();
    assert_eq!((ske.group.0, ske.public.len()), (29, 32));
    assert!(flight.iter().all(|d| d.len() <= 1200));
}

#[test]
fn chromium_fragmented_client_hello_without_cookie() {
    let body = chromium_client_hello(&[]);
    assert!(body.len() + 24 > 1400, "about Chromium's 1413 bytes: {}", body.len());
    let mut s = server(false);
    send_fragmented_ch(&mut s, &body, 0, 0);
    check_server_flight(&drain(&mut s));
}

#[test]
fn chromium_fragmented_client_hello_with_cookie_exchange() {
    let mut s = server(true);
    send_fragmented_ch(&mut s, &chromium_client_hello(&[]), 0, 0);
    let hvr = drain(&mut s);
    let msgs = messages(&hvr);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].0, HandshakeType::HELLO_VERIFY_REQUEST);
    // Stateless: the HelloVerifyRequest echoes the record sequence number of the ClientHello (RFC 6347 §4.2.1).
    assert_eq!(&hvr[0][5..11], &[0, 0, 0, 0, 0, 1]);
    let hv = sansrtc::dtls::wire::HelloVerifyRequest::parse(&msgs[0].1).unwrap();
    send_fragmented_ch(&mut s, &chromium_client_hello(hv.cookie), 1, 2);
    check_server_flight(&drain(&mut s));
    // A wrong cookie gets a fresh HelloVerifyRequest and a typed error, no state.
    let mut s = server(true);
    let body = client_hello(0xfefd, &[0xc02b], &standard_exts(), &[9; 32]);
    let e = s.handle_receive(Instant::ZERO, &hs_record(0xfefd, 0, 0, 1, 0, body.len() as u32, 0, &body));
    assert_eq!(e, Err(Error::BadCookie));
    assert_eq!(messages(&drain(&mut s))[0].0, HandshakeType::HELLO_VERIFY_REQUEST);
}

#[test]
fn overlapping_and_duplicate_fragments_reassemble() {
    let body = client_hello(0xfefd, &[0xc02b], &standard_exts(), &[]);
    let total = body.len() as u32;
    let mut s = server(false);
    for (i, (a, b)) in [(0usize, 40usize), (20, 70), (20, 70), (60, body.len())].into_iter().enumerate() {
        s.handle_receive(Instant::ZERO, &hs_record(0xfefd, 0, i as u64, 1, 0, total, a as u32, &body[a..b])).unwrap();
    }
    assert_eq!(messages(&drain(&mut s))[0].0, HandshakeType::SERVER_HELLO);
    // The same ClientHello again is the peer retransmitting: our flight is re-sent.
    s.handle_receive(Instant::ZERO, &hs_record(0xfefd, 0, 9, 1, 0, total, 0, &body)).unwrap();
    assert_eq!(messages(&drain(&mut s))[0].0, HandshakeType::SERVER_HELLO);
    assert_eq!(s.stats().retransmissions, 1);
}

#[test]
fn malformed_records_are_dropped_with_typed_errors() {
    let mut s = server(false);
    let t = Instant::ZERO;
    assert_eq!(s.handle_receive(t, &[22, 0xfe]), Err(Error::Truncated));
    assert_eq!(s.handle_receive(t, &record(99, 0xfefd, 0, 0, &[1, 2, 3])), Err(Error::UnknownContentType(99)));
    assert_eq!(s.handle_receive(t, &record(22, 0x0303, 0, 0, &[1, 2, 3])), Err(Error::UnsupportedVersion(0x0303)));
    assert_eq!(s.handle_receive(t, &record(22, 0xfefd, 7, 0, &[1, 2, 3])), Err(Error::WrongEpoch(7)));
    assert_eq!(s.handle_receive(t, &record(23, 0xfefd, 0, 0, b"data")), Err(Error::WrongEpoch(0)));
    // Declared record length beyond the datagram.
    let mut r = record(22, 0xfefd, 0, 0, &[0; 10]);
    r.truncate(20);
    assert_eq!(s.handle_receive(t, &r), Err(Error::Truncated));
    // Fragment beyond its message, oversized message.
    assert_eq!(s.handle_receive(t, &hs_record(0xfefd, 0, 1, 1, 0, 100, 90, &[0; 20])), Err(Error::FragmentOutOfBounds));
    assert_eq!(
        s.handle_receive(t, &hs_record(0xfefd, 0, 2, 1, 0, 1 << 20, 0, &[0; 20])),
        Err(Error::FragmentOutOfBounds)
    );
    // A fragment disagreeing with an earlier one about the message length.
    s.handle_receive(t, &hs_record(0xfefd, 0, 3, 1, 0, 200, 0, &[0; 50])).unwrap();
    assert_eq!(s.handle_receive(t, &hs_record(0xfefd, 0, 4, 1, 0, 300, 50, &[0; 50])), Err(Error::FragmentOutOfBounds));
    // Reassembly memory is bounded: messages far ahead are refused.
    assert_eq!(s.handle_receive(t, &hs_record(0xfefd, 0, 5, 1, 200, 10, 0, &[0; 10])), Err(Error::UnexpectedSequence));
    // Handshake messages other than ClientHello before one.
    assert_eq!(s.handle_receive(t, &hs_record(0xfefd, 0, 6, 16, 1, 1, 0, &[0])), Err(Error::UnexpectedSequence));
    assert!(!s.is_closed());
    assert!(drain(&mut s).is_empty());
    assert!(s.stats().records_dropped >= 10);
}

fn refused_hello(body: Vec<u8>, err: Error, alert: AlertDescription) {
    let mut s = server(false);
    let r = s.handle_receive(Instant::ZERO, &hs_record(0xfefd, 0, 0, 1, 0, body.len() as u32, 0, &body));
    assert_eq!(r, Err(err));
    assert!(s.is_closed());
    assert!(alert_sent(&drain(&mut s), alert), "{err}: alert {alert}");
    assert!(events(&mut s).contains(&Event::Closed { reason: err }));
}

#[test]
fn unacceptable_client_hellos_fail_with_alerts() {
    let hf = AlertDescription::HANDSHAKE_FAILURE;
    refused_hello(client_hello(0xfefd, &[0x002f, 0xc02f], &standard_exts(), &[]), Error::NoCommonCipherSuite, hf);
    refused_hello(
        client_hello(0xfeff, &[0xc02b], &standard_exts(), &[]),
        Error::UnsupportedVersion(0xfeff),
        AlertDescription::PROTOCOL_VERSION,
    );
    let no_ems: Vec<_> = standard_exts().into_iter().filter(|(t, _)| *t != EMS).collect();
    refused_hello(client_hello(0xfefd, &[0xc02b], &no_ems, &[]), Error::NoExtendedMasterSecret, hf);
    let mut other_srtp = standard_exts();
    other_srtp[5] = (USE_SRTP, [vec16(&u16s(&[0x0005])), vec![0]].concat());
    refused_hello(client_hello(0xfefd, &[0xc02b], &other_srtp, &[]), Error::NoCommonSrtpProfile, hf);
    let no_srtp: Vec<_> = standard_exts().into_iter().filter(|(t, _)| *t != USE_SRTP).collect();
    refused_hello(client_hello(0xfefd, &[0xc02b], &no_srtp, &[]), Error::NoCommonSrtpProfile, hf);
    let mut p384_only = standard_exts();
    p384_only[2] = (GROUPS, vec16(&u16s(&[24])));
    refused_hello(client_hello(0xfefd, &[0xc02b], &p384_only, &[]), Error::NoCommonGroup, hf);
    let mut bad_groups = standard_exts();
    bad_groups[2] = (GROUPS, vec16(&[0, 29, 0]));
    let mut s = server(false);
    let body = client_hello(0xfefd, &[0xc02b], &bad_groups, &[]);
    assert!(s.handle_receive(Instant::ZERO, &hs_record(0xfefd, 0, 0, 1, 0, body.len() as u32, 0, &body)).is_err());
}

/// The key exchange group a server chooses for a ClientHello offering `groups` (or no supported_groups).
fn chosen_group(groups: Option<&[u16]>) -> (u16, usize) {
    let mut exts = standard_exts();
    match groups {
        Some(g) => exts[2] = (GROUPS, vec16(&u16s(g))),
        None => {
            exts.remove(2);
        }
    }
    let mut s = server(false);
    let body = client_hello(0xfefd, &[0xc02b], &exts, &[]);
    s.handle_receive(Instant::ZERO, &hs_record(0xfefd, 0, 0, 1, 0, body.len() as u32, 0, &body)).unwrap();
    let msgs = messages(&drain(&mut s));
    let ske = ServerKeyExchange::parse(&msgs[2].1).unwrap();
    (ske.group.0, ske.public.len())
}

#[test]
fn server_picks_x25519_when_offered_else_p256() {
    assert_eq!(chosen_group(Some(&[29])), (29, 32));
    assert_eq!(chosen_group(Some(&[23, 29])), (29, 32), "our preference, not the client's order");
    assert_eq!(chosen_group(Some(&[0x11ec, 24, 23])), (23, 65));
    assert_eq!(chosen_group(Some(&[0x0a0a, 0x11ec, 29, 23])), (29, 32), "GREASE and unknown groups skipped");
    assert_eq!(chosen_group(None), (23, 65), "no supported_groups: secp256r1");
}

/// A connected client/server pair over a clean in-memory exchange.
fn connected_pair(seed: u8) -> (Dtls, Dtls) {
    let mut rng = SeededRng::from_seed([seed; 32]);
    let (a, b) = (Certificate::generate(&mut rng), Certificate::generate(&mut rng));
    let (afp, bfp) = (a.fingerprint(), b.fingerprint());
    let mut c = Dtls::client(Config::new(a), rng.fork(), Instant::ZERO);
    let mut s = Dtls::server(Config::new(b), rng.fork());
    c.set_remote_fingerprint(bfp);
    s.set_remote_fingerprint(afp);
    for _ in 0..8 {
        for d in drain(&mut c) {
            let _ = s.handle_receive(Instant::ZERO, &d);
        }
        for d in drain(&mut s) {
            let _ = c.handle_receive(Instant::ZERO, &d);
        }
    }
    assert!(c.is_connected() && s.is_connected());
    (c, s)
}

#[test]
fn tampered_replayed_and_out_of_order_records_after_connect() {
    let (mut c, mut s) = connected_pair(31);
    let t = Instant::ZERO;
    c.send(b"one").unwrap();
    let d = drain(&mut c).remove(0);
    let mut bad = d.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(s.handle_receive(t, &bad), Err(Error::BadRecordMac));
    s.handle_receive(t, &d).unwrap();
    assert_eq!(s.poll_data(), Some(&b"one"[..]));
    assert_eq!(s.handle_receive(t, &d), Err(Error::Replayed));
    assert_eq!(s.poll_data(), None);
    // Reordered records inside the window are accepted once each.
    c.send(b"two").unwrap();
    c.send(b"three").unwrap();
    let ds = drain(&mut c);
    s.handle_receive(t, &ds[1]).unwrap();
    s.handle_receive(t, &ds[0]).unwrap();
    assert_eq!(s.poll_data(), Some(&b"three"[..]));
    assert_eq!(s.poll_data(), Some(&b"two"[..]));
    assert_eq!(s.handle_receive(t, &ds[0]), Err(Error::Replayed));
    // Unprotected alerts after the handshake are ignored (they could be forged).
    assert_eq!(s.handle_receive(t, &record(21, 0xfefd, 0, 99, &[2, 40])), Err(Error::WrongEpoch(0)));
    assert!(s.is_connected());
    // Data too large for a record is refused.
    assert_eq!(c.send(&vec![0; 20_000]), Err(Error::TooLarge));
    // A fatal alert from the peer closes.
    let mut fresh = server(false);
    let _ = fresh.handle_receive(t, &record(21, 0xfefd, 0, 0, &[2, 40]));
    assert!(fresh.is_closed());
    assert!(
        events(&mut fresh).contains(&Event::Closed { reason: Error::PeerAlert(AlertDescription::HANDSHAKE_FAILURE) })
    );
}

#[test]
fn out_of_order_handshake_message_is_fatal() {
    let mut s = server(false);
    let body = client_hello(0xfefd, &[0xc02b], &standard_exts(), &[]);
    s.handle_receive(Instant::ZERO, &hs_record(0xfefd, 0, 0, 1, 0, body.len() as u32, 0, &body)).unwrap();
    drain(&mut s);
    // Expecting the client's Certificate (seq 1); a ServerHelloDone arrives instead.
    let r = s.handle_receive(Instant::ZERO, &hs_record(0xfefd, 0, 1, 14, 1, 0, 0, &[]));
    assert_eq!(r, Err(Error::UnexpectedMessage));
    assert!(s.is_closed());
    assert!(alert_sent(&drain(&mut s), AlertDescription::UNEXPECTED_MESSAGE));
}

#[test]
fn arbitrary_and_mutated_datagrams_never_panic() {
    let mut rng = SeededRng::from_seed([77; 32]);
    // Capture a real handshake's datagrams.
    let mut wire = Vec::new();
    {
        let mut r2 = SeededRng::from_seed([78; 32]);
        let (a, b) = (Certificate::generate(&mut r2), Certificate::generate(&mut r2));
        let (afp, bfp) = (a.fingerprint(), b.fingerprint());
        let mut c = Dtls::client(Config::new(a), r2.fork(), Instant::ZERO);
        let mut s = Dtls::server(Config::new(b), r2.fork());
        c.set_remote_fingerprint(bfp);
        s.set_remote_fingerprint(afp);
        for _ in 0..8 {
            for d in drain(&mut c) {
                let _ = s.handle_receive(Instant::ZERO, &d);
                wire.push(d);
            }
            for d in drain(&mut s) {
                let _ = c.handle_receive(Instant::ZERO, &d);
                wire.push(d);
            }
        }
    }
    // The captured handshake is DTLS 1.3 (the default); the servers alternate between 1.2 only and the
    // default (both, 1.3 preferred), with and without cookies.
    assert!(wire.iter().any(|d| d.first().is_some_and(|b| b & 0xe0 == 0x20)), "unified-header records");
    for round in 0..200u64 {
        let versions = if round % 4 < 2 { sansrtc::dtls::Versions::Dtls12 } else { sansrtc::dtls::Versions::DEFAULT };
        let mut s = server_with(round % 2 == 0, versions);
        let mut c = Dtls::client(
            Config::new(Certificate::generate(&mut rng)),
            SeededRng::from_seed([round as u8; 32]),
            Instant::ZERO,
        );
        for d in &wire {
            let mut m = d.clone();
            match rng.below(4) {
                0 => {
                    let i = rng.below(m.len() as u64) as usize;
                    m[i] ^= 1 << rng.below(8);
                }
                1 => m.truncate(rng.below(m.len() as u64) as usize),
                2 => {
                    let n = rng.below(64) as usize;
                    m = (0..n).map(|_| rng.below(256) as u8).collect();
                    if let Some(first) = m.first_mut() {
                        *first = 20 + rng.below(4) as u8;
                    }
                }
                _ => {}
            }
            let now = Instant::from_millis(round * 10);
            let _ = s.handle_receive(now, &m);
            let _ = c.handle_receive(now, &m);
            s.handle_timeout(now);
            c.handle_timeout(now);
            drain(&mut s);
            drain(&mut c);
            events(&mut s);
            events(&mut c);
        }
    }
}

#[test]
fn srtp_profile_names_are_openssls() {
    assert_eq!(SrtpProfile::from_name("SRTP_AES128_CM_SHA1_80"), Some(SrtpProfile::AES128_CM_SHA1_80));
    assert_eq!(SrtpProfile::from_name("SRTP_AEAD_AES_256_GCM").unwrap().keying_material_len(), Some(88));
    assert_eq!(SrtpProfile::AES128_CM_SHA1_32.keying_material_len(), Some(60));
    assert_eq!(SrtpProfile::from_name("nope"), None);
}

/// A server speaking DTLS 1.3 answers Chromium's 1.3 offer (GREASE, an X25519MLKEM768 share it does not
/// take, the X25519 share it does) in 1.3: a HelloRetryRequest with a cookie when cookies are on, else a
/// ServerHello selecting 1.3 and X25519, the rest of its flight in protected epoch-2 records.
#[test]
fn chromium_13_client_hello_gets_a_13_answer() {
    use sansrtc::dtls::Versions;
    use sansrtc::dtls::v13::messages::{HRR_RANDOM, ServerHelloExt};
    let server13 = |cookie: bool| {
        let mut rng = SeededRng::from_seed([21; 32]);
        let mut cfg = Config::new(Certificate::generate(&mut rng));
        cfg.cookie_exchange = cookie;
        cfg.versions = Versions::Both;
        Dtls::server(cfg, rng.fork())
    };
    let mut s = server13(true);
    send_fragmented_ch(&mut s, &chromium_client_hello(&[]), 0, 0);
    let hrr = drain(&mut s);
    let msgs = messages(&hrr);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].0, HandshakeType::SERVER_HELLO);
    let sh = ServerHello::parse(&msgs[0].1).unwrap();
    assert_eq!(*sh.random, HRR_RANDOM);
    let ext = ServerHelloExt::parse(&sh.extensions, true).unwrap();
    assert_eq!(ext.version, Some(0xfefc));
    assert!(ext.cookie.is_some_and(|c| !c.is_empty()));
    assert_eq!(ext.share, None, "Chromium sent an X25519 share: no group to ask for");

    let mut s = server13(false);
    send_fragmented_ch(&mut s, &chromium_client_hello(&[]), 0, 0);
    let flight = drain(&mut s);
    // Split into records: DTLSPlaintext (13-byte header) and unified headers (one byte, a 16-bit sequence
    // number, a length: what we write).
    let (mut plain, mut protected) = (Vec::new(), Vec::new());
    for d in &flight {
        let mut rest = &d[..];
        while let Some(&b) = rest.first() {
            let (hdr, len) = if b & 0xe0 == 0x20 {
                (5, u16::from_be_bytes([rest[3], rest[4]]) as usize)
            } else {
                (13, u16::from_be_bytes([rest[11], rest[12]]) as usize)
            };
            let (rec, tail) = rest.split_at(hdr + len);
            if b & 0xe0 == 0x20 {
                protected.push(b)
            } else {
                plain.push(rec.to_vec())
            }
            rest = tail;
        }
    }
    let msgs = messages(&plain);
    assert_eq!(msgs.len(), 1, "only the ServerHello is in plaintext");
    let sh = ServerHello::parse(&msgs[0].1).unwrap();
    assert_eq!(sh.cipher_suite, CipherSuite::TLS13_AES_128_GCM_SHA256);
    let ext = ServerHelloExt::parse(&sh.extensions, false).unwrap();
    assert_eq!(ext.version, Some(0xfefc));
    let (group, key) = ext.share.unwrap();
    assert_eq!((group.0, key.len()), (29, 32));
    // EncryptedExtensions … Finished: unified headers of epoch 2 (0b001_0_1_1_10: a 16-bit sequence number
    // and a length).
    assert!(protected.len() >= 5, "{protected:?}");
    assert!(protected.iter().all(|&b| b == 0x2e));
    assert!(flight.iter().all(|d| d.len() <= 1200));
    assert!(!s.is_closed());
}

/// Chromium offers TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 and TLS_CHACHA20_POLY1305_SHA256: a 1.3
/// server takes the first of its own suites that is offered, AES-128-GCM by default, else as configured.
#[test]
fn chromium_13_client_hello_gets_the_servers_preferred_suite() {
    use sansrtc::dtls::Versions;
    let default_suites = {
        let mut rng = SeededRng::from_seed([21; 32]);
        Config::new(Certificate::generate(&mut rng)).cipher_suites
    };
    assert!(default_suites.contains(&CipherSuite::TLS13_CHACHA20_POLY1305_SHA256));
    for (suites, expected) in [
        (default_suites, CipherSuite::TLS13_AES_128_GCM_SHA256),
        (
            vec![CipherSuite::TLS13_CHACHA20_POLY1305_SHA256, CipherSuite::ECDHE_ECDSA_AES_128_GCM_SHA256],
            CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        ),
        (vec![CipherSuite::ECDHE_ECDSA_AES_256_GCM_SHA384], CipherSuite::TLS13_AES_256_GCM_SHA384),
    ] {
        let mut rng = SeededRng::from_seed([21; 32]);
        let mut cfg = Config::new(Certificate::generate(&mut rng));
        cfg.cookie_exchange = false;
        cfg.versions = Versions::Both;
        cfg.cipher_suites = suites;
        let mut s = Dtls::server(cfg, rng.fork());
        send_fragmented_ch(&mut s, &chromium_client_hello(&[]), 0, 0);
        let flight = drain(&mut s);
        // The ServerHello is the first record of the first datagram, in plaintext.
        let rec = RecordIter::new(&flight[0]).next().unwrap().unwrap();
        let (h, body) = HandshakeIter::new(rec.fragment()).next().unwrap().unwrap();
        assert_eq!(h.msg_type, HandshakeType::SERVER_HELLO);
        assert_eq!(ServerHello::parse(body).unwrap().cipher_suite, expected);
        assert!(!s.is_closed());
    }
}
