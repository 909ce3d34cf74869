//! DTLS 1.2: a full mutual-auth handshake (client + server in memory, cookie exchange, ECDHE on X25519 and
//! on P-256, ECDSA P-256, AES-128-GCM) for sansrtc and for `dimpl` (feature `rust-crypto`, certificates
//! loaded from DER) and for OpenSSL's libssl (memory BIOs, the same kind of certificates, the handshake
//! driven with `SSL_do_handshake`) in the same run, timed in thread CPU time (client + server); record
//! protection + unprotection of 1200-byte application records against bare AES-128-GCM encrypt + decrypt
//! (and dimpl's record path), for DTLS 1.2 and for the DTLS 1.3 record layer, in thread CPU time too.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant as StdInstant;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, KeyInit};
use sansrtc::dtls::v13::key_schedule::{HashAlg, LabelPrefix, Secret, TrafficKeys};
use sansrtc::dtls::v13::record::{Aead, RecordProtection, UnifiedHeader};
use sansrtc::dtls::wire::ContentType;
use sansrtc::dtls::{Certificate, CipherSuite, Config, Dtls, NamedGroup};
use sansrtc::{DatagramMachine, Instant, SeededRng};
use sansrtc_interop::bench::{compare, measure_cpu, report};

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
    /// DTLS 1.3 (`new_13`) rather than 1.2.
    v13: bool,
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
            v13: false,
            config: Arc::new(config),
            client_cert: der(Certificate::generate(&mut rng)),
            server_cert: der(Certificate::generate(&mut rng)),
        }
    }

    fn handshake(&self) -> (dimpl::Dtls, dimpl::Dtls) {
        let now = StdInstant::now();
        let new = if self.v13 { dimpl::Dtls::new_13 } else { dimpl::Dtls::new_12 };
        let mut c = new(self.config.clone(), self.client_cert.clone(), now);
        c.set_active(true);
        let mut s = new(self.config.clone(), self.server_cert.clone(), now);
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

/// OpenSSL 3's libssl (Debian `libssl-dev`) over memory BIOs: the C stack's DTLS 1.2 handshake, the row
/// to be as fast as.
mod openssl_dtls {
    use std::ffi::{c_char, c_int, c_long, c_uint, c_void};
    use std::ptr::null_mut;

    #[repr(C)]
    pub struct SslCtx {
        _p: [u8; 0],
    }
    #[repr(C)]
    pub struct Ssl {
        _p: [u8; 0],
    }
    #[repr(C)]
    struct SslMethod {
        _p: [u8; 0],
    }
    #[repr(C)]
    struct Bio {
        _p: [u8; 0],
    }
    #[repr(C)]
    struct BioMethod {
        _p: [u8; 0],
    }
    #[repr(C)]
    struct X509 {
        _p: [u8; 0],
    }
    #[repr(C)]
    struct EvpPkey {
        _p: [u8; 0],
    }

    const SSL_OP_NO_QUERY_MTU: u64 = 1 << 12;
    const SSL_OP_COOKIE_EXCHANGE: u64 = 1 << 13;
    const SSL_OP_NO_TICKET: u64 = 1 << 14;
    const SSL_VERIFY_PEER: c_int = 1;
    const SSL_VERIFY_FAIL_IF_NO_PEER_CERT: c_int = 2;
    const SSL_CTRL_SET_GROUPS_LIST: c_int = 92;
    const DTLS_CTRL_SET_LINK_MTU: c_int = 120;
    const SSL_CTRL_SET_MAX_PROTO_VERSION: c_int = 124;
    const DTLS1_2_VERSION: c_long = 0xfefd;
    const BIO_CTRL_PENDING: c_int = 10;
    const SSL_CTRL_GET_NEGOTIATED_GROUP: c_int = 134;
    const NID_X25519: c_long = 1034;
    const NID_X9_62_PRIME256V1: c_long = 415;

    #[link(name = "ssl")]
    unsafe extern "C" {
        fn DTLS_client_method() -> *const SslMethod;
        fn DTLS_server_method() -> *const SslMethod;
        fn SSL_CTX_new(method: *const SslMethod) -> *mut SslCtx;
        fn SSL_CTX_set_options(ctx: *mut SslCtx, op: u64) -> u64;
        fn SSL_CTX_ctrl(ctx: *mut SslCtx, cmd: c_int, larg: c_long, parg: *mut c_void) -> c_long;
        fn SSL_CTX_set_cipher_list(ctx: *mut SslCtx, list: *const c_char) -> c_int;
        fn SSL_CTX_set_tlsext_use_srtp(ctx: *mut SslCtx, profiles: *const c_char) -> c_int;
        fn SSL_CTX_use_certificate(ctx: *mut SslCtx, x: *mut X509) -> c_int;
        fn SSL_CTX_use_PrivateKey(ctx: *mut SslCtx, pkey: *mut EvpPkey) -> c_int;
        fn SSL_CTX_set_verify(ctx: *mut SslCtx, mode: c_int, cb: Option<extern "C" fn(c_int, *mut c_void) -> c_int>);
        fn SSL_CTX_set_cookie_generate_cb(
            ctx: *mut SslCtx,
            cb: Option<extern "C" fn(*mut Ssl, *mut u8, *mut c_uint) -> c_int>,
        );
        fn SSL_CTX_set_cookie_verify_cb(
            ctx: *mut SslCtx,
            cb: Option<extern "C" fn(*mut Ssl, *const u8, c_uint) -> c_int>,
        );
        fn SSL_new(ctx: *mut SslCtx) -> *mut Ssl;
        fn SSL_free(ssl: *mut Ssl);
        fn SSL_ctrl(ssl: *mut Ssl, cmd: c_int, larg: c_long, parg: *mut c_void) -> c_long;
        fn SSL_set_bio(ssl: *mut Ssl, rbio: *mut Bio, wbio: *mut Bio);
        fn SSL_set_connect_state(ssl: *mut Ssl);
        fn SSL_set_accept_state(ssl: *mut Ssl);
        fn SSL_do_handshake(ssl: *mut Ssl) -> c_int;
        fn SSL_is_init_finished(ssl: *const Ssl) -> c_int;
    }

    #[link(name = "crypto")]
    unsafe extern "C" {
        fn BIO_s_mem() -> *const BioMethod;
        fn BIO_new(method: *const BioMethod) -> *mut Bio;
        fn BIO_read(b: *mut Bio, data: *mut c_void, dlen: c_int) -> c_int;
        fn BIO_write(b: *mut Bio, data: *const c_void, dlen: c_int) -> c_int;
        fn BIO_ctrl(b: *mut Bio, cmd: c_int, larg: c_long, parg: *mut c_void) -> c_long;
        fn d2i_X509(a: *mut *mut X509, pp: *mut *const u8, len: c_long) -> *mut X509;
        fn d2i_AutoPrivateKey(a: *mut *mut EvpPkey, pp: *mut *const u8, len: c_long) -> *mut EvpPkey;
    }

    /// Accepts any certificate: like the other rows, authentication is by fingerprint, outside the handshake.
    extern "C" fn accept_any(_ok: c_int, _store: *mut c_void) -> c_int {
        1
    }

    const COOKIE: &[u8] = b"sansrtc-bench-cookie";

    extern "C" fn gen_cookie(_ssl: *mut Ssl, cookie: *mut u8, len: *mut c_uint) -> c_int {
        // SAFETY: OpenSSL hands a buffer of DTLS1_COOKIE_LENGTH (255) bytes and a length to set.
        unsafe {
            std::ptr::copy_nonoverlapping(COOKIE.as_ptr(), cookie, COOKIE.len());
            *len = COOKIE.len() as c_uint;
        }
        1
    }

    extern "C" fn verify_cookie(_ssl: *mut Ssl, cookie: *const u8, len: c_uint) -> c_int {
        // SAFETY: OpenSSL hands the received cookie and its length.
        let got = unsafe { std::slice::from_raw_parts(cookie, len as usize) };
        c_int::from(got == COOKIE)
    }

    /// A client and a server context with one certificate each (DER, and the key as a DER ECPrivateKey or
    /// PKCS#8), ECDHE-ECDSA-AES128-GCM-SHA256 on the groups of `group` ("X25519:P-256" or "P-256"), mutual authentication,
    /// cookie exchange, use_srtp, DTLS 1.2. The first of `group` is the one expected to be negotiated.
    pub struct Contexts {
        client: *mut SslCtx,
        server: *mut SslCtx,
        nid: c_long,
    }

    fn context(server: bool, cert: &[u8], key: &[u8], group: &str) -> *mut SslCtx {
        // SAFETY: plain libssl calls on pointers it returned; the strings are NUL-terminated and live across
        // each call; DER inputs are read within their lengths.
        unsafe {
            let ctx = SSL_CTX_new(if server { DTLS_server_method() } else { DTLS_client_method() });
            assert!(!ctx.is_null());
            let mut p = cert.as_ptr();
            let x = d2i_X509(null_mut(), &mut p, cert.len() as c_long);
            let mut p = key.as_ptr();
            let k = d2i_AutoPrivateKey(null_mut(), &mut p, key.len() as c_long);
            assert!(!x.is_null() && !k.is_null(), "openssl loads the certificate and key");
            assert_eq!(SSL_CTX_use_certificate(ctx, x), 1);
            assert_eq!(SSL_CTX_use_PrivateKey(ctx, k), 1);
            SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_COOKIE_EXCHANGE);
            SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MAX_PROTO_VERSION, DTLS1_2_VERSION, null_mut());
            let groups = std::ffi::CString::new(group).unwrap();
            assert_eq!(SSL_CTX_ctrl(ctx, SSL_CTRL_SET_GROUPS_LIST, 0, groups.as_ptr() as *mut c_void), 1);
            assert_eq!(SSL_CTX_set_cipher_list(ctx, c"ECDHE-ECDSA-AES128-GCM-SHA256".as_ptr()), 1);
            assert_eq!(SSL_CTX_set_tlsext_use_srtp(ctx, c"SRTP_AEAD_AES_128_GCM".as_ptr()), 0);
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, Some(accept_any));
            if server {
                SSL_CTX_set_cookie_generate_cb(ctx, Some(gen_cookie));
                SSL_CTX_set_cookie_verify_cb(ctx, Some(verify_cookie));
            }
            ctx
        }
    }

    impl Contexts {
        pub fn new(client: (&[u8], &[u8]), server: (&[u8], &[u8]), group: &str) -> Contexts {
            Contexts {
                client: context(false, client.0, client.1, group),
                server: context(true, server.0, server.1, group),
                nid: if group.starts_with("X25519") { NID_X25519 } else { NID_X9_62_PRIME256V1 },
            }
        }

        /// One complete handshake between a fresh client and server; returns the datagrams exchanged.
        pub fn handshake(&self, buf: &mut [u8]) -> usize {
            // SAFETY: each SSL owns its two memory BIOs (SSL_set_bio); bytes move between them through
            // `buf`, read within its length; both SSLs are freed before returning.
            unsafe {
                let c = SSL_new(self.client);
                let s = SSL_new(self.server);
                let (c_in, c_out, s_in, s_out) =
                    (BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
                SSL_set_bio(c, c_in, c_out);
                SSL_set_bio(s, s_in, s_out);
                SSL_ctrl(c, DTLS_CTRL_SET_LINK_MTU, 1200, null_mut());
                SSL_ctrl(s, DTLS_CTRL_SET_LINK_MTU, 1200, null_mut());
                SSL_set_connect_state(c);
                SSL_set_accept_state(s);
                let mut moved = 0;
                let mut rounds = 0;
                while SSL_is_init_finished(c) != 1 || SSL_is_init_finished(s) != 1 {
                    rounds += 1;
                    assert!(rounds < 50, "openssl handshake did not complete");
                    SSL_do_handshake(c);
                    moved += pump(c_out, s_in, buf);
                    SSL_do_handshake(s);
                    moved += pump(s_out, c_in, buf);
                }
                assert_eq!(SSL_ctrl(c, SSL_CTRL_GET_NEGOTIATED_GROUP, 0, null_mut()), self.nid);
                SSL_free(c);
                SSL_free(s);
                moved
            }
        }
    }

    /// Moves what `from` holds into `to`, one read at a time (each read a datagram's worth or more).
    unsafe fn pump(from: *mut Bio, to: *mut Bio, buf: &mut [u8]) -> usize {
        let mut n = 0;
        // SAFETY: both BIOs are live memory BIOs; `buf` is valid for its length.
        unsafe {
            while BIO_ctrl(from, BIO_CTRL_PENDING, 0, null_mut()) > 0 {
                let r = BIO_read(from, buf.as_mut_ptr().cast(), buf.len() as c_int);
                if r <= 0 {
                    break;
                }
                BIO_write(to, buf.as_ptr().cast(), r);
                n += 1;
            }
        }
        n
    }
}

fn main() {
    // Handshakes, one row per key exchange group: sansrtc, dimpl and OpenSSL with the same settings.
    let groups = [
        // OpenSSL's client lists P-256 too: in TLS 1.2 supported_groups also names the certificate's curve
        // (RFC 8422 §5.1.1), and OpenSSL's server refuses an ECDSA P-256 certificate otherwise.
        ("dtls/handshake 1.2 X25519", NamedGroup::X25519, dimpl::NamedGroup::X25519, "X25519:P-256"),
        ("dtls/handshake 1.2 P-256", NamedGroup::SECP256R1, dimpl::NamedGroup::Secp256r1, "P-256"),
    ];
    let mut rng = SeededRng::from_seed([3; 32]);
    let (oc, os) = (Certificate::generate(&mut rng), Certificate::generate(&mut rng));
    let (oc_key, os_key) = (oc.private_key_pkcs8_der(), os.private_key_pkcs8_der());
    for (name, ours_group, theirs_group, openssl_group) in groups {
        let ours = Sansrtc::new(ours_group);
        let theirs = Dimpl::new(theirs_group);
        let ossl = openssl_dtls::Contexts::new((oc.der(), &oc_key), (os.der(), &os_key), openssl_group);
        let mut obuf = vec![0u8; 1 << 16];
        let hs_ossl = measure_cpu(|| ossl.handshake(&mut obuf));
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
        compare(name, hs_ours, "openssl", hs_ossl);
        println!(
            "{name} CPU per pair (client + server): sansrtc {:.0} µs, dimpl {:.0} µs, OpenSSL {:.0} µs",
            hs_ours.ns_per_iter / 1e3,
            hs_theirs.ns_per_iter / 1e3,
            hs_ossl.ns_per_iter / 1e3
        );
    }
    {
        // DTLS 1.3 on X25519, both with HelloRetryRequest cookies (OpenSSL has no DTLS 1.3).
        let name = "dtls/handshake 1.3 X25519";
        let mut ours = Sansrtc::new(NamedGroup::X25519);
        for cfg in [&mut ours.client_cfg, &mut ours.server_cfg] {
            cfg.versions = sansrtc::dtls::Versions::Dtls13;
        }
        let mut theirs = Dimpl::new(dimpl::NamedGroup::X25519);
        theirs.v13 = true;
        let mut n = 0u64;
        let hs_ours = measure_cpu(|| {
            n += 1;
            let (c, s) = ours.handshake(n);
            assert_eq!(c.protocol_version(), Some(0xfefc));
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
    let rec_ours = measure_cpu(|| {
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
    let rec_bare = measure_cpu(|| {
        let tag = gcm.encrypt_inout_detached(&nonce, &[0; 13], buf.as_mut_slice().into()).expect("seal");
        gcm.decrypt_inout_detached(&nonce, &[0; 13], buf.as_mut_slice().into(), &tag).expect("open");
        buf[0]
    });
    // The same with one byte more, as the DTLS 1.3 inner plaintext is (content, then its type): AES-GCM
    // then ends on a partial block.
    let mut buf1201 = vec![0x5au8; RECORD + 1];
    let rec_bare1201 = measure_cpu(|| {
        let tag = gcm.encrypt_inout_detached(&nonce, &[0; 5], buf1201.as_mut_slice().into()).expect("seal");
        gcm.decrypt_inout_detached(&nonce, &[0; 5], buf1201.as_mut_slice().into(), &tag).expect("open");
        buf1201[0]
    });
    let ratio = compare("dtls/record 1200B seal+open", rec_ours, "aes128gcm", rec_bare);
    println!(
        "dtls/record throughput: sansrtc {:.0} MB/s, bare AES-128-GCM {:.0} MB/s ({:.0} % of bare)",
        rec_ours.mb_per_s(RECORD),
        rec_bare.mb_per_s(RECORD),
        ratio * 100.0
    );

    // The DTLS 1.3 record layer the machine uses, TLS_AES_128_GCM_SHA256: seal (a 1200-byte payload copied
    // after the unified header into a reused buffer, content type, AES-GCM, record number encryption), parse
    // of the unified header, and open (record number decryption and reconstruction, the ciphertext copied
    // into a reused buffer, AES-GCM, content type) of that record; against bare AES-128-GCM encrypting and
    // decrypting a 1200-byte buffer in place.
    let secret = Secret::from_slice(&[5; 32]).expect("secret");
    let keys = TrafficKeys::derive(HashAlg::Sha256, LabelPrefix::Dtls13, &secret, 16).expect("keys");
    let aead = Aead::Aes128Gcm;
    let (tx, rx) = (RecordProtection::new(aead, &keys).expect("tx"), RecordProtection::new(aead, &keys).expect("rx"));
    let (mut wire13, mut plain13) = (Vec::with_capacity(RECORD + 64), Vec::with_capacity(RECORD + 64));
    let mut seq = 0u64;
    let rec13 = measure_cpu(|| {
        wire13.clear();
        tx.seal(&mut wire13, 3, seq, &[], true, true, ContentType::APPLICATION_DATA, &payload, 0).expect("seal");
        let (rec, _) = UnifiedHeader::parse_prefix(&wire13, 0).expect("parse");
        let opened = rx.open(&rec, seq, &mut plain13).expect("open");
        seq += 1;
        opened.seq
    });
    let ratio13 = compare("dtls13/record 1200B seal+open", rec13, "aes128gcm", rec_bare);
    println!(
        "dtls13/record throughput: sansrtc {:.0} MB/s ({:.0} % of bare AES-128-GCM)",
        rec13.mb_per_s(RECORD),
        ratio13 * 100.0
    );

    // The same record through two DTLS 1.3 machines (send, poll_transmit, handle_receive, poll_data), as the
    // 1.2 row above.
    let mut ours13 = Sansrtc::new(NamedGroup::X25519);
    for cfg in [&mut ours13.client_cfg, &mut ours13.server_cfg] {
        cfg.versions = sansrtc::dtls::Versions::Dtls13;
    }
    let (mut c13, mut s13) = ours13.handshake(u64::MAX);
    let rec13_machines = measure_cpu(|| {
        c13.send(&payload).expect("send");
        wire.clear();
        wire.extend_from_slice(c13.poll_transmit().expect("record"));
        s13.handle_receive(Instant::ZERO, &wire).expect("receive");
        s13.poll_data().map(<[u8]>::len)
    });
    let ratio13m = compare("dtls13/record 1200B via machines", rec13_machines, "aes128gcm", rec_bare);
    println!("dtls13/record via machines: {:.0} % of bare AES-128-GCM", ratio13m * 100.0);

    let (mut dc, mut ds) = theirs.handshake();
    let mut out = vec![0u8; 4096];
    let mut pkt = Vec::with_capacity(RECORD + 64);
    let rec_dimpl = measure_cpu(|| {
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
    report("dtls/record 1201B bare", "aes128gcm", rec_bare1201);
}
