//! Interop with OpenSSL's DTLS 1.2 (`openssl s_server` / `openssl s_client`) on 127.0.0.1, both roles, every
//! SRTP profile OpenSSL supports: equal DTLS-SRTP keying material on both sides and application data both
//! ways; the key exchange on X25519 by default and on P-256 when either side asks for it, the group
//! checked on both sides (ours from `Connected`, OpenSSL's from its own output). OpenSSL is started and killed by the test; each run is bounded in time. Without `openssl` the tests
//! are skipped, or fail under CI (`tests/support/tool.rs`).

use core::net::SocketAddr;
use core::time::Duration;
use std::io::{BufRead, BufReader, Write};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Instant as StdInstant;

use sansrtc::dtls::{Certificate, CipherSuite, Config, Dtls, Event, Fingerprint, NamedGroup, SrtpProfile, Versions};
use sansrtc::{DatagramMachine, Machine, SeededRng, StdAnchor};

#[path = "support/tool.rs"]
mod tool;

const RUN_LIMIT: Duration = Duration::from_secs(15);

/// Kills the child on drop, so a failed assertion never leaves OpenSSL running.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn openssl_available() -> bool {
    Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success())
}

/// A fresh directory, unique in this process even for equal tags (tests run in parallel).
fn tempdir(tag: &str) -> PathBuf {
    static NEXT: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("sansrtc-dtls-openssl-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An OpenSSL P-256 key and self-signed certificate; returns the DER certificate's fingerprint.
fn openssl_cert(dir: &Path) -> Fingerprint {
    let run = |args: &[&str]| {
        let st = Command::new("openssl").args(args).current_dir(dir).stdout(Stdio::null()).status().unwrap();
        assert!(st.success(), "openssl {args:?}");
    };
    run(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "key.pem"]);
    run(&["req", "-new", "-x509", "-key", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=openssl"]);
    run(&["x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der"]);
    Fingerprint::of_der(&std::fs::read(dir.join("cert.der")).unwrap())
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Forwards a child's stdout lines to a channel.
fn lines(child: &mut Child) -> Receiver<String> {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Collects output lines until `pred` matches one (returning it) or the deadline passes.
fn wait_line(
    rx: &Receiver<String>,
    seen: &mut Vec<String>,
    deadline: StdInstant,
    pred: impl Fn(&str) -> bool,
) -> Option<String> {
    if let Some(l) = seen.iter().find(|l| pred(l)) {
        return Some(l.clone());
    }
    while StdInstant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(20)) {
            let hit = pred(&l);
            seen.push(l.clone());
            if hit {
                return Some(l);
            }
        }
    }
    None
}

/// One round of the sans-IO loop over a UDP socket: send, wait for a datagram or the deadline, feed it.
fn pump(dtls: &mut Dtls, sock: &UdpSocket, peer: &mut Option<SocketAddr>, anchor: &StdAnchor, events: &mut Vec<Event>) {
    while let Some(d) = dtls.poll_transmit() {
        if let Some(p) = peer {
            sock.send_to(d, *p).unwrap();
        }
    }
    let now = anchor.now();
    let wait = dtls
        .poll_timeout()
        .map(|t| t.saturating_duration_since(now))
        .unwrap_or(Duration::from_millis(20))
        .clamp(Duration::from_millis(1), Duration::from_millis(20));
    sock.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 2048];
    if let Ok((n, from)) = sock.recv_from(&mut buf) {
        peer.get_or_insert(from);
        let _ = dtls.handle_receive(anchor.now(), &buf[..n]);
    }
    dtls.handle_timeout(anchor.now());
    while let Some(d) = dtls.poll_transmit() {
        if let Some(p) = peer {
            sock.send_to(d, *p).unwrap();
        }
    }
    while let Some(e) = dtls.poll_event() {
        events.push(e);
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

struct Outcome {
    ours: String,
    theirs: String,
    key_log: Option<String>,
    group: NamedGroup,
    /// OpenSSL's output lines read up to the end of the exchange.
    seen: Vec<String>,
}

/// How one run is set up: our suites and groups, OpenSSL's `-groups`, and the group that must win.
#[derive(Clone, Copy)]
struct Setup {
    suite: Option<CipherSuite>,
    our_groups: Option<&'static [NamedGroup]>,
    openssl_groups: Option<&'static str>,
    expect: NamedGroup,
    /// What we offer; OpenSSL's DTLS stops at 1.2, so a 1.3 offer must fall back to it.
    versions: Versions,
}

const DEFAULT: Setup = Setup {
    suite: None,
    our_groups: None,
    openssl_groups: None,
    expect: NamedGroup::X25519,
    versions: Versions::Dtls12,
};

/// Drives `dtls` against the running OpenSSL until connected, then exchanges data both ways.
fn exercise(
    mut dtls: Dtls,
    sock: UdpSocket,
    mut peer: Option<SocketAddr>,
    rx: &Receiver<String>,
    stdin: &mut ChildStdin,
    profile: SrtpProfile,
) -> Outcome {
    let anchor = StdAnchor::starting_now();
    let deadline = StdInstant::now() + RUN_LIMIT;
    let mut events = Vec::new();
    let mut seen = Vec::new();
    let connected = loop {
        assert!(StdInstant::now() < deadline, "handshake timed out; events {events:?}; openssl said {seen:?}");
        pump(&mut dtls, &sock, &mut peer, &anchor, &mut events);
        if let Some(c) = events.iter().find_map(|e| if let Event::Connected(c) = e { Some(*c) } else { None }) {
            break c;
        }
        if let Some(reason) =
            events.iter().find_map(|e| if let Event::Closed { reason } = e { Some(*reason) } else { None })
        {
            while let Ok(l) = rx.try_recv() {
                seen.push(l);
            }
            panic!("closed: {reason}; openssl said {seen:?}");
        }
        while let Ok(l) = rx.try_recv() {
            seen.push(l);
        }
    };
    assert_eq!(connected.srtp_profile, Some(profile));
    assert_eq!(dtls.protocol_version(), Some(0xfefd), "DTLS 1.2 with OpenSSL");
    let keying = connected.keying.unwrap();
    assert_eq!(keying.material().len(), profile.keying_material_len().unwrap());
    let theirs = wait_line(rx, &mut seen, deadline, |l| l.trim_start().starts_with("Keying material:"))
        .expect("openssl printed keying material");
    let theirs = theirs.trim().trim_start_matches("Keying material:").trim().to_string();

    // Application data: ours → OpenSSL (printed on its stdout), OpenSSL → ours.
    dtls.send(b"ping-from-sansrtc\n").unwrap();
    pump(&mut dtls, &sock, &mut peer, &anchor, &mut events);
    assert!(
        wait_line(rx, &mut seen, deadline, |l| l.contains("ping-from-sansrtc")).is_some(),
        "openssl got our data: {seen:?}"
    );
    stdin.write_all(b"pong-from-openssl\n").unwrap();
    stdin.flush().unwrap();
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("pong-from-openssl") {
        assert!(StdInstant::now() < deadline, "no data from openssl");
        pump(&mut dtls, &sock, &mut peer, &anchor, &mut events);
        while let Some(d) = dtls.poll_data() {
            got.extend_from_slice(d);
        }
    }
    eprintln!(
        "{}: {} / {}: keying {}",
        connected.role == sansrtc::dtls::Role::Client,
        connected.cipher_suite,
        profile,
        hex(keying.material())
    );
    dtls.close();
    pump(&mut dtls, &sock, &mut peer, &anchor, &mut events);
    let key_log = events.iter().find_map(|e| if let Event::KeyLog(k) = e { Some(k.to_string()) } else { None });
    Outcome { ours: hex(keying.material()), theirs, key_log, group: connected.group, seen }
}

fn our_config(seed: u8, profile: SrtpProfile, setup: Setup) -> (Config, SeededRng) {
    let mut rng = SeededRng::from_seed([seed; 32]);
    let mut cfg = Config::new(Certificate::generate(&mut rng));
    cfg.key_log = true;
    cfg.srtp_profiles = vec![profile];
    if let Some(s) = setup.suite {
        cfg.cipher_suites = vec![s];
    }
    if let Some(g) = setup.our_groups {
        cfg.groups = g.to_vec();
    }
    cfg.versions = setup.versions;
    (cfg, rng)
}

/// `-groups LIST` when the setup names OpenSSL's groups.
fn groups_args(setup: Setup) -> Vec<String> {
    setup.openssl_groups.map(|g| vec!["-groups".to_string(), g.to_string()]).unwrap_or_default()
}

fn against_openssl_server(profile: SrtpProfile, setup: Setup) {
    let dir = tempdir(&format!("srv-{}-{}", profile.0, setup.expect.0));
    let fp = openssl_cert(&dir);
    let port = free_port();
    let len = profile.keying_material_len().unwrap().to_string();
    let mut child = Command::new("openssl")
        .args(["s_server", "-dtls1_2", "-accept", &format!("127.0.0.1:{port}")])
        .args(["-cert", "cert.pem", "-key", "key.pem", "-verify", "1", "-use_srtp", profile.name().unwrap()])
        .args(["-keymatexport", "EXTRACTOR-dtls_srtp", "-keymatexportlen", &len, "-keylogfile", "keylog.txt"])
        .args(["-trace", "-msgfile", "trace.txt"])
        .args(groups_args(setup))
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = lines(&mut child);
    let mut stdin = child.stdin.take().unwrap();
    let guard = Guard(child);
    let mut seen = Vec::new();
    wait_line(&rx, &mut seen, StdInstant::now() + Duration::from_secs(5), |l| l.contains("ACCEPT"))
        .expect("s_server up");

    let (cfg, mut rng) = our_config(profile.0 as u8, profile, setup);
    let anchor_now = sansrtc::Instant::ZERO;
    let mut dtls = Dtls::client(cfg, rng.fork(), anchor_now);
    dtls.set_remote_fingerprint(fp);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let out = exercise(dtls, sock, Some(format!("127.0.0.1:{port}").parse().unwrap()), &rx, &mut stdin, profile);
    assert_eq!(out.ours, out.theirs, "keying material differs ({})", profile);
    // Our NSS key-log line is the one OpenSSL writes for the same connection.
    let theirs = std::fs::read_to_string(dir.join("keylog.txt")).unwrap();
    let ours = out.key_log.expect("key log event");
    assert!(theirs.lines().any(|l| l.trim() == ours), "{ours} not in {theirs}");
    // The group: ours from Connected, OpenSSL's from the ServerKeyExchange it traced.
    assert_eq!(out.group, setup.expect);
    let trace = std::fs::read_to_string(dir.join("trace.txt")).unwrap();
    let curves: Vec<&str> = trace.lines().filter(|l| l.contains("named_curve:")).map(str::trim).collect();
    let want = format!("({})", setup.expect.0);
    assert!(curves.len() == 1 && curves[0].ends_with(&want), "openssl sent {curves:?}, expected {}", setup.expect);
    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);
}

fn against_openssl_client(profile: SrtpProfile, setup: Setup) {
    let dir = tempdir(&format!("cli-{}-{}", profile.0, setup.expect.0));
    let fp = openssl_cert(&dir);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    let (cfg, mut rng) = our_config(0x40 + profile.0 as u8, profile, setup);
    let mut dtls = Dtls::server(cfg, rng.fork());
    dtls.set_remote_fingerprint(fp);
    let len = profile.keying_material_len().unwrap().to_string();
    let mut child = Command::new("openssl")
        .args(["s_client", "-dtls1_2", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-cert", "cert.pem", "-key", "key.pem", "-use_srtp", profile.name().unwrap()])
        .args(["-keymatexport", "EXTRACTOR-dtls_srtp", "-keymatexportlen", &len])
        .args(groups_args(setup))
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = lines(&mut child);
    let mut stdin = child.stdin.take().unwrap();
    let guard = Guard(child);
    let out = exercise(dtls, sock, None, &rx, &mut stdin, profile);
    assert_eq!(out.ours, out.theirs, "keying material differs ({})", profile);
    // The group: ours from Connected, OpenSSL's from its "Server Temp Key" line.
    assert_eq!(out.group, setup.expect);
    let temp_key = out.seen.iter().find(|l| l.starts_with("Server Temp Key:")).expect("openssl printed the temp key");
    let want = if setup.expect == NamedGroup::X25519 { "X25519" } else { "prime256v1" };
    assert!(temp_key.contains(want), "{temp_key}, expected {want}");
    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sansrtc_client_against_openssl_server_every_profile() {
    if !openssl_available() {
        return tool::missing("openssl", "`apt-get install openssl` or `bash scripts/setup`");
    }
    for profile in SrtpProfile::ALL {
        against_openssl_server(profile, DEFAULT);
    }
    let aes256 = Setup { suite: Some(CipherSuite::ECDHE_ECDSA_AES_256_GCM_SHA384), ..DEFAULT };
    against_openssl_server(SrtpProfile::AES128_CM_SHA1_80, aes256);
}

/// P-256 is still negotiated when we offer only it, or when OpenSSL allows only it.
const P256_SETUPS: [Setup; 2] = [
    Setup { our_groups: Some(&[NamedGroup::SECP256R1]), expect: NamedGroup::SECP256R1, ..DEFAULT },
    Setup { openssl_groups: Some("P-256"), expect: NamedGroup::SECP256R1, ..DEFAULT },
];

#[test]
fn p256_against_openssl_in_both_roles() {
    if !openssl_available() {
        return tool::missing("openssl", "`apt-get install openssl` or `bash scripts/setup`");
    }
    for setup in P256_SETUPS {
        against_openssl_server(SrtpProfile::AEAD_AES_128_GCM, setup);
        against_openssl_client(SrtpProfile::AEAD_AES_128_GCM, setup);
    }
}

#[test]
fn sansrtc_server_against_openssl_client_every_profile() {
    if !openssl_available() {
        return tool::missing("openssl", "`apt-get install openssl` or `bash scripts/setup`");
    }
    for profile in SrtpProfile::ALL {
        against_openssl_client(profile, DEFAULT);
    }
}

/// Offering DTLS 1.3 as well (supported_versions, key shares, the 1.3 suites) still ends in 1.2 with OpenSSL,
/// in both roles; as a server we mark our random with the downgrade sentinel, which OpenSSL's 1.2-only DTLS
/// client ignores.
#[test]
fn offering_13_falls_back_to_12_against_openssl_in_both_roles() {
    if !openssl_available() {
        return tool::missing("openssl", "`apt-get install openssl` or `bash scripts/setup`");
    }
    let both = Setup { versions: Versions::Both, ..DEFAULT };
    against_openssl_server(SrtpProfile::AEAD_AES_128_GCM, both);
    against_openssl_client(SrtpProfile::AEAD_AES_128_GCM, both);
}
