//! DTLS 1.2 echo over std UDP, interoperable with `openssl s_server -dtls1_2` / `openssl s_client -dtls1_2`.
//!
//! ```text
//! cargo run --example dtls_echo -- --listen 127.0.0.1:4444 [--srtp-profiles SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80]
//! cargo run --example dtls_echo -- --connect 127.0.0.1:4444 [--srtp-profiles …] [--fingerprint "sha-256 AB:…"]
//! ```
//!
//! Other options: `--cert FILE --key FILE` (DER certificate, DER PKCS#8 or SEC1 key; default: a fresh
//! self-signed certificate), `--mtu N`, `--no-cookie` (server), `--keylog FILE` (NSS key log for Wireshark).
//! Without `--fingerprint` the peer's certificate is accepted on first use (and its fingerprint printed on
//! stderr). Once connected it prints `srtp-profile: NAME` and `keying-material: HEX` on stdout; then the
//! server echoes application data and the client sends stdin lines and prints what comes back.

use core::net::SocketAddr;
use core::time::Duration;
use std::io::{BufRead, Write};
use std::net::UdpSocket;
use std::sync::mpsc::{TryRecvError, channel};

use sansrtc::dtls::{Certificate, Config, Dtls, Event, Fingerprint, SrtpProfile};
use sansrtc::{DatagramMachine, Machine, SeededRng, StdAnchor};

/// `SANSRTC_LOG` filter for tracing output (see `examples/support/log.rs`).
#[path = "support/log.rs"]
mod log;

struct Args {
    listen: Option<SocketAddr>,
    connect: Option<SocketAddr>,
    profiles: Option<Vec<SrtpProfile>>,
    fingerprint: Option<Fingerprint>,
    cert: Option<(String, String)>,
    mtu: Option<usize>,
    no_cookie: bool,
    keylog: Option<String>,
}

fn usage(msg: &str) -> ! {
    eprintln!("dtls_echo: {msg}");
    eprintln!("usage: dtls_echo (--listen ADDR | --connect ADDR) [--srtp-profiles A:B] [--fingerprint FP]");
    eprintln!("                 [--cert DER --key DER] [--mtu N] [--no-cookie] [--keylog FILE]");
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        listen: None,
        connect: None,
        profiles: None,
        fingerprint: None,
        cert: None,
        mtu: None,
        no_cookie: false,
        keylog: None,
    };
    let mut it = std::env::args().skip(1);
    let mut cert = None;
    let mut key = None;
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--listen" => a.listen = Some(value().parse().unwrap_or_else(|_| usage("bad --listen address"))),
            "--connect" => a.connect = Some(value().parse().unwrap_or_else(|_| usage("bad --connect address"))),
            "--srtp-profiles" => {
                let v = value();
                let list = v
                    .split([':', ','])
                    .filter(|s| !s.is_empty())
                    .map(|n| SrtpProfile::from_name(n).unwrap_or_else(|| usage(&format!("unknown SRTP profile {n}"))))
                    .collect();
                a.profiles = Some(list);
            }
            "--fingerprint" => {
                a.fingerprint = Some(Fingerprint::parse(&value()).unwrap_or_else(|| usage("bad --fingerprint")))
            }
            "--cert" => cert = Some(value()),
            "--key" => key = Some(value()),
            "--mtu" => a.mtu = Some(value().parse().unwrap_or_else(|_| usage("bad --mtu"))),
            "--no-cookie" => a.no_cookie = true,
            "--keylog" => a.keylog = Some(value()),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    match (cert, key) {
        (Some(c), Some(k)) => a.cert = Some((c, k)),
        (None, None) => {}
        _ => usage("--cert and --key go together"),
    }
    if a.listen.is_some() == a.connect.is_some() {
        usage("exactly one of --listen and --connect");
    }
    a
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn main() {
    log::init();
    let args = parse_args();
    let mut rng = SeededRng::from_os().expect("OS random source");
    let certificate = match &args.cert {
        Some((c, k)) => {
            let c = std::fs::read(c).expect("read --cert");
            let k = std::fs::read(k).expect("read --key");
            Certificate::from_der(&c, &k).expect("load certificate and key")
        }
        None => Certificate::generate(&mut rng),
    };
    eprintln!("local fingerprint: {}", certificate.fingerprint());
    let mut config = Config::new(certificate);
    if let Some(p) = args.profiles.clone() {
        config.srtp_profiles = p;
    }
    if let Some(m) = args.mtu {
        config.mtu = m;
    }
    config.cookie_exchange = !args.no_cookie;
    config.key_log = args.keylog.is_some();

    let anchor = StdAnchor::starting_now();
    let (sock, mut peer, mut dtls) = match (args.listen, args.connect) {
        (Some(addr), _) => (UdpSocket::bind(addr).expect("bind"), None, Dtls::server(config, rng.fork())),
        (_, Some(addr)) => {
            let local: SocketAddr = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().expect("addr");
            (UdpSocket::bind(local).expect("bind"), Some(addr), Dtls::client(config, rng.fork(), anchor.now()))
        }
        _ => unreachable!(),
    };
    if let Some(fp) = args.fingerprint {
        dtls.set_remote_fingerprint(fp);
    }
    let is_client = args.connect.is_some();

    // Client: stdin lines arrive on a channel.
    let (tx, rx) = channel::<String>();
    if is_client {
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let mut stdin_done_at = None;
    let mut trusted = false;
    let mut buf = [0u8; 2048];
    let stdout = std::io::stdout();
    loop {
        // 3. Send what is queued.
        while let Some(d) = dtls.poll_transmit() {
            if let Some(p) = peer {
                let _ = sock.send_to(d, p);
            }
        }
        // 4. Events.
        while let Some(e) = dtls.poll_event() {
            match e {
                Event::Connected(c) => {
                    let mut out = stdout.lock();
                    if let (Some(p), Some(k)) = (c.srtp_profile, c.keying) {
                        let _ = writeln!(out, "srtp-profile: {}", p.name().unwrap_or("unknown"));
                        let _ = writeln!(out, "keying-material: {}", hex(k.material()));
                    }
                    let _ = out.flush();
                    eprintln!("connected: {} with peer {}", c.cipher_suite, c.peer_fingerprint);
                }
                Event::Closed { reason } => {
                    eprintln!("closed: {reason}");
                    while let Some(d) = dtls.poll_transmit() {
                        if let Some(p) = peer {
                            let _ = sock.send_to(d, p);
                        }
                    }
                    return;
                }
                Event::KeyLog(line) => {
                    if let Some(path) = &args.keylog {
                        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("keylog");
                        let _ = writeln!(f, "{line}");
                    }
                }
                Event::Alert(a) => eprintln!("alert: {a}"),
                _ => {}
            }
        }
        // Trust on first use when no fingerprint was given.
        if args.fingerprint.is_none() && !trusted {
            if let Some(fp) = dtls.peer_fingerprint() {
                eprintln!("peer fingerprint (accepted on first use): {fp}");
                dtls.set_remote_fingerprint(fp);
                trusted = true;
                continue;
            }
        }
        // Application data.
        while let Some(data) = dtls.poll_data() {
            let data = data.to_vec();
            if is_client {
                let mut out = stdout.lock();
                let _ = out.write_all(&data);
                let _ = out.flush();
            } else {
                let _ = dtls.send(&data);
            }
        }
        if is_client && dtls.is_connected() {
            loop {
                match rx.try_recv() {
                    Ok(mut line) => {
                        line.push('\n');
                        let _ = dtls.send(line.as_bytes());
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        stdin_done_at.get_or_insert(std::time::Instant::now());
                        break;
                    }
                }
            }
            if stdin_done_at.is_some_and(|t| t.elapsed() > Duration::from_secs(1)) {
                dtls.close();
                continue;
            }
        }
        // 5. Wait for a datagram or the next deadline (at most 20 ms, to poll stdin).
        let wait = dtls
            .poll_timeout()
            .map(|t| t.saturating_duration_since(anchor.now()))
            .unwrap_or(Duration::from_millis(20))
            .clamp(Duration::from_millis(1), Duration::from_millis(20));
        let _ = sock.set_read_timeout(Some(wait));
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            // 1. Feed it (a server talks to the first peer that writes).
            if peer.is_none() {
                peer = Some(from);
            }
            if Some(from) == peer {
                if let Err(e) = dtls.handle_receive(anchor.now(), &buf[..n]) {
                    eprintln!("dropped datagram: {e}");
                }
            }
        }
        // 2. Fire timers.
        dtls.handle_timeout(anchor.now());
    }
}
