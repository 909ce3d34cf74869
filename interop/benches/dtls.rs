//! DTLS 1.2: a full mutual-auth handshake (client + server in memory, cookie exchange, ECDHE on X25519 and
//! on P-256, ECDSA P-256, AES-128-GCM) for sansrtc and for `dimpl` (feature `rust-crypto`, certificates
//! loaded from DER) in the same run, timed in thread CPU time (client + server); record protection +
//! unprotection of 1200-byte application records against bare AES-128-GCM encrypt + decrypt (and dimpl's
//! record path).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant as StdInstant;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, KeyInit};
use sansrtc::dtls::{Certificate, CipherSuite, Config, Dtls, NamedGroup};
use sansrtc::{DatagramMachine, Instant, SeededRng};
use sansrtc_interop::bench::{compare, measure, measure_cpu, report};

const RECORD: usize = 1200;

struct Sansrtc {
    client_cfg: Config,
    server_cfg: Config,
}

impl Sansrtc {
    /// Both ends configured with the one key exchange `group`.
    fn new(group: NamedGroup) -> Sansrtc {
        let mut rng = SeededRng::from_seed([1; 32]);
        let mut client_cfg = Config::new(Certificate::generate(&mut rng));
        let mut server_cfg = Config::new(Certificate::generate(&mut rng));
        for cfg in [&mut client_cfg, &mut server_cfg] {
            cfg.cipher_suites = vec![CipherSuite::ECDHE_ECDSA_AES_128_GCM_SHA256];
            cfg.groups = vec![group];
        }
        Sansrtc { client_cfg, server_cfg }
    }

    fn handshake(&self, n: u64) -> (Dtls, Dtls) {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&n.to_le_bytes());
        let mut rng = SeededRng::from_seed(seed);
        let now = Instant::ZERO;
        let mut c = Dtls::client(self.client_cfg.clone(), rng.fork(), now);
        let mut s = Dtls::server(self.server_cfg.clone(), rng.fork());
        c.set_remote_fingerprint(self.server_cfg.certificate.fingerprint());
        s.set_remote_fingerprint(self.client_cfg.certificate.fingerprint());
        let mut buf = Vec::with_capacity(2048);
        while !(c.is_connected() && s.is_connected()) {
            while let Some(d) = c.poll_transmit() {
                buf.clear();
                buf.extend_from_slice(d);
                let _ = s.handle_receive(now, &buf);
            }
            while let Some(d) = s.poll_transmit() {
                buf.clear();
                buf.extend_from_slice(d);
                let _ = c.handle_receive(now, &buf);
            }
            assert!(!c.is_closed() && !s.is_closed());
        }
        assert_eq!(c.group(), self.client_cfg.groups.first().copied());
        (c, s)
    }
}

struct Dimpl {
    config: Arc<dimpl::Config>,
    client_cert: dimpl::DtlsCertificate,
    server_cert: dimpl::DtlsCertificate,
}

impl Dimpl {
    /// Both ends configured with the one key exchange `group`.
    fn new(group: dimpl::NamedGroup) -> Dimpl {
        // The same kind of certificates, made by sansrtc and handed over as DER (cert + PKCS#8 key).
        let mut rng = SeededRng::from_seed([2; 32]);
        let der = |c: Certificate| dimpl::DtlsCertificate {
            certificate: c.der().to_vec(),
            private_key: c.private_key_pkcs8_der(),
        };
        let config = dimpl::Config::builder()
            .dtls12_cipher_suites(&[dimpl::crypto::Dtls12CipherSuite::ECDHE_ECDSA_AES128_GCM_SHA256])
            .kx_groups(&[group])
            .require_client_certificate(true)
            .use_server_cookie(true)
            .build()
            .expect("dimpl config");
        Dimpl {
            config: Arc::new(config),
            client_cert: der(Certificate::generate(&mut rng)),
            server_cert: der(Certificate::generate(&mut rng)),
        }
    }

    fn handshake(&self) -> (dimpl::Dtls, dimpl::Dtls) {
        let now = StdInstant::now();
        let mut c = dimpl::Dtls::new_12(self.config.clone(), self.client_cert.clone(), now);
        c.set_active(true);
        let mut s = dimpl::Dtls::new_12(self.config.clone(), self.server_cert.clone(), now);
        c.handle_timeout(now).expect("start");
        s.handle_timeout(now).expect("start");
        let mut out = vec![0u8; 4096];
        let (mut c_ok, mut s_ok) = (false, false);
        let mut packets: Vec<Vec<u8>> = Vec::new();
        for _ in 0..50 {
            for dir in 0..2 {
                let (from, to, ok) = if dir == 0 { (&mut c, &mut s, &mut c_ok) } else { (&mut s, &mut c, &mut s_ok) };
                packets.clear();
                loop {
                    match from.poll_output(&mut out) {
                        dimpl::Output::Packet(p) => packets.push(p.to_vec()),
                        dimpl::Output::Connected => *ok = true,
                        dimpl::Output::Timeout(_) => break,
                        _ => {}
                    }
                }
                for p in &packets {
                    to.handle_packet(p).expect("dimpl packet");
                }
            }
            if c_ok && s_ok {
                return (c, s);
            }
        }
        panic!("dimpl handshake did not complete");
    }
}

fn main() {
    // Handshakes, one row per key exchange group: sansrtc and dimpl with the same settings.
    let groups = [
        ("dtls/handshake 1.2 X25519", NamedGroup::X25519, dimpl::NamedGroup::X25519),
        ("dtls/handshake 1.2 P-256", NamedGroup::SECP256R1, dimpl::NamedGroup::Secp256r1),
    ];
    for (name, ours_group, theirs_group) in groups {
        let ours = Sansrtc::new(ours_group);
        let theirs = Dimpl::new(theirs_group);
        let mut n = 0u64;
        let hs_ours = measure_cpu(|| {
            n += 1;
            let (c, s) = ours.handshake(n);
            c.is_connected() && s.is_connected()
        });
        let hs_theirs = measure_cpu(|| {
            let (c, s) = theirs.handshake();
            black_box((c, s));
        });
        compare(name, hs_ours, "dimpl", hs_theirs);
        println!(
            "{name} CPU per pair (client + server): sansrtc {:.0} µs, dimpl {:.0} µs",
            hs_ours.ns_per_iter / 1e3,
            hs_theirs.ns_per_iter / 1e3
        );
    }
    let ours = Sansrtc::new(NamedGroup::X25519);
    let theirs = Dimpl::new(dimpl::NamedGroup::X25519);

    // Records: protect on one side, unprotect on the other.
    let (mut c, mut s) = ours.handshake(u64::MAX);
    let payload = vec![0x5au8; RECORD];
    let mut wire = Vec::with_capacity(RECORD + 64);
    let rec_ours = measure(|| {
        c.send(&payload).expect("send");
        wire.clear();
        wire.extend_from_slice(c.poll_transmit().expect("record"));
        s.handle_receive(Instant::ZERO, &wire).expect("receive");
        s.poll_data().map(<[u8]>::len)
    });
    let key = [7u8; 16];
    let gcm = Aes128Gcm::new(&key.into());
    let nonce = [9u8; 12].into();
    let mut buf = vec![0x5au8; RECORD];
    let rec_bare = measure(|| {
        let tag = gcm.encrypt_inout_detached(&nonce, &[0; 13], buf.as_mut_slice().into()).expect("seal");
        gcm.decrypt_inout_detached(&nonce, &[0; 13], buf.as_mut_slice().into(), &tag).expect("open");
        buf[0]
    });
    let ratio = compare("dtls/record 1200B seal+open", rec_ours, "aes128gcm", rec_bare);
    println!(
        "dtls/record throughput: sansrtc {:.0} MB/s, bare AES-128-GCM {:.0} MB/s ({:.0} % of bare)",
        rec_ours.mb_per_s(RECORD),
        rec_bare.mb_per_s(RECORD),
        ratio * 100.0
    );

    let (mut dc, mut ds) = theirs.handshake();
    let mut out = vec![0u8; 4096];
    let mut pkt = Vec::with_capacity(RECORD + 64);
    let rec_dimpl = measure(|| {
        dc.send_application_data(&payload).expect("dimpl send");
        pkt.clear();
        loop {
            match dc.poll_output(&mut out) {
                dimpl::Output::Packet(p) => pkt.extend_from_slice(p),
                dimpl::Output::Timeout(_) => break,
                _ => {}
            }
        }
        ds.handle_packet(&pkt).expect("dimpl receive");
        let mut got = 0;
        loop {
            match ds.poll_output(&mut out) {
                dimpl::Output::ApplicationData(d) => got += d.len(),
                dimpl::Output::Timeout(_) => break,
                _ => {}
            }
        }
        got
    });
    compare("dtls/record 1200B via machines", rec_ours, "dimpl", rec_dimpl);
    report("dtls/record 1200B bare", "aes128gcm", rec_bare);
}
