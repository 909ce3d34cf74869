//! Peer connections end to end: two peers in one process over an in-memory link, full stack (ICE + DTLS +
//! SCTP + a data channel), sansrtc ↔ sansrtc next to str0m ↔ str0m (str0m 0.24 on its RustCrypto backend),
//! in the same run.
//!
//! The link delivers every datagram at once and loses none; when nothing is in flight a virtual clock
//! jumps to the earliest deadline of the two peers. Everything is timed in thread CPU time.
//!
//! - Throughput: one iteration moves a 4 MiB batch of 64 KiB or 1 KiB binary messages on one ordered,
//!   reliable channel and waits until the receiver has every message and the sender every
//!   acknowledgement. Each message is checked on arrival (binary, length, first and last octet) and
//!   counted. Both senders act like an application watching `bufferedAmount`: a message is queued only
//!   while less than a limit is buffered, measured at two limits: 1 MiB and 128 KiB (str0m's default
//!   `sctp_max_buffered_amount`; str0m's SCTP, sctp-proto, scans its whole in-flight queue on every poll,
//!   so its speed depends on how much is buffered).
//! - Set-up: one iteration creates two peer connections, runs offer/answer through SDP text and drives
//!   them until the channel is open on both sides (the offerer's `open`, the answerer's `datachannel`).
//!   Certificates are generated beforehand, once, as applications do; str0m 0.24 generates its own with
//!   aws-lc-rs even on the RustCrypto backend (see `interop/Cargo.toml`), so leaving generation out also
//!   keeps the comparison on RustCrypto for both.
//!
//! str0m's DTLS runs on RustCrypto (dimpl's RustCrypto provider installed as the process default; see
//! `main`). `SANSRTC_BENCH_STR0M_AWS_LC=1` leaves it on aws-lc-rs, where str0m 0.24's `rust-crypto`
//! feature puts it by itself.

use std::collections::VecDeque;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sansrtc::dtls::Certificate;
use sansrtc::pc::{ChannelId, ChannelOptions, Config, Event, PeerConnection};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};
use sansrtc_interop::bench::{Measurement, compare, measure_cpu, quick, report};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::config::{CryptoProvider, DtlsCert};
use str0m::net::{Protocol, Receive, Transmit};
use str0m::{Candidate, Input, Output, Rtc, RtcConfig};

/// Bytes moved per throughput iteration.
const BATCH: usize = 4 * 1024 * 1024;
/// Bytes an application keeps buffered on the sending channel at most (plus one message): the limits
/// measured.
const LIMITS: [usize; 2] = [1024 * 1024, 128 * 1024];
/// Virtual time a set-up or a transfer may take before the benchmark gives up.
const LIMIT: Duration = Duration::from_secs(120);
/// First and last octet of every message.
const FILL: u8 = 0x5a;

fn addrs() -> (SocketAddr, SocketAddr) {
    ("198.51.100.10:5000".parse().expect("addr"), "203.0.113.20:6000".parse().expect("addr"))
}

fn message(size: usize) -> Vec<u8> {
    let mut m: Vec<u8> = (0..size).map(|i| (i * 7) as u8).collect();
    m[0] = FILL;
    m[size - 1] = FILL;
    m
}

/// What every received message must look like.
fn check(data: &[u8], binary: bool, size: usize) {
    assert!(binary, "a text message arrived");
    assert_eq!(data.len(), size, "message length");
    assert_eq!((data[0], data[size - 1]), (FILL, FILL), "message contents");
}

/// Two sansrtc peer connections, `a` the offerer and sender.
struct Ours {
    a: PeerConnection,
    b: PeerConnection,
    start: Instant,
    now: Instant,
    tx: ChannelId,
    open_a: bool,
    open_b: bool,
    buf: Vec<u8>,
    limit: usize,
    size: usize,
    got: usize,
    bytes: usize,
}

impl Ours {
    fn connect(certs: &(Certificate, Certificate), seed: u64) -> Self {
        let (a_addr, b_addr) = addrs();
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&seed.to_le_bytes());
        let mut rng = SeededRng::from_seed(s);
        let config = |cert: &Certificate| Config { certificate: Some(cert.clone()), ..Config::default() };
        let now = Instant::from_secs(1);
        let mut a = PeerConnection::new(config(&certs.0), rng.fork());
        let mut b = PeerConnection::new(config(&certs.1), rng.fork());
        a.add_local_host(now, a_addr).expect("host");
        a.end_of_local_candidates(now);
        let tx = a.create_data_channel(now, ChannelOptions::new("bench")).expect("channel");
        let offer = a.create_offer().expect("offer");
        a.set_local_description(now, &offer).expect("local offer");
        b.add_local_host(now, b_addr).expect("host");
        b.end_of_local_candidates(now);
        b.set_remote_description(now, &offer).expect("remote offer");
        let answer = b.create_answer().expect("answer");
        b.set_local_description(now, &answer).expect("local answer");
        a.set_remote_description(now, &answer).expect("remote answer");
        let mut p = Ours {
            a,
            b,
            start: now,
            now,
            tx,
            open_a: false,
            open_b: false,
            buf: Vec::with_capacity(1500),
            limit: LIMITS[0],
            size: 0,
            got: 0,
            bytes: 0,
        };
        while !(p.open_a && p.open_b) {
            if !p.exchange() {
                p.advance();
            }
        }
        p
    }

    fn events(&mut self) {
        while let Some(e) = self.a.poll_event() {
            if e == Event::ChannelOpen(self.tx) {
                self.open_a = true;
            }
        }
        while let Some(e) = self.b.poll_event() {
            match e {
                Event::DataChannel { .. } => self.open_b = true,
                Event::Message { data, binary, .. } => {
                    check(&data, binary, self.size);
                    self.got += 1;
                    self.bytes += data.len();
                }
                _ => {}
            }
        }
    }

    /// Delivers datagrams both ways until neither side has any left; whether any moved.
    fn exchange(&mut self) -> bool {
        let now = self.now;
        let mut moved = false;
        loop {
            let mut any = false;
            while let Some(t) = self.a.poll_transmit() {
                let (source, destination) = (t.source, t.destination);
                self.buf.clear();
                self.buf.extend_from_slice(t.contents);
                let _ = self.b.handle_receive(now, Datagram { source, destination, contents: &self.buf });
                self.events();
                any = true;
            }
            while let Some(t) = self.b.poll_transmit() {
                let (source, destination) = (t.source, t.destination);
                self.buf.clear();
                self.buf.extend_from_slice(t.contents);
                let _ = self.a.handle_receive(now, Datagram { source, destination, contents: &self.buf });
                self.events();
                any = true;
            }
            if !any {
                break;
            }
            moved = true;
        }
        self.events();
        moved
    }

    /// Nothing in flight: jump to the earliest deadline and fire the timers due.
    fn advance(&mut self) {
        let (ta, tb) = (self.a.poll_timeout(), self.b.poll_timeout());
        let next = ta.into_iter().chain(tb).min().unwrap_or(self.now + Duration::from_millis(10));
        self.now = next.max(self.now + Duration::from_micros(1));
        assert!(self.now - self.start < LIMIT, "stuck at {:?}", self.now - self.start);
        let now = self.now;
        if ta.is_some_and(|t| t <= now) {
            self.a.handle_timeout(now);
        }
        if tb.is_some_and(|t| t <= now) {
            self.b.handle_timeout(now);
        }
        self.events();
    }

    /// Sends `count` copies of `msg` and returns the bytes the receiver got.
    fn transfer(&mut self, msg: &Bytes, count: usize) -> usize {
        self.start = self.now;
        (self.size, self.got, self.bytes) = (msg.len(), 0, 0);
        let mut sent = 0;
        while self.got < count {
            while sent < count && self.a.buffered_amount(self.tx) < self.limit {
                self.a.send(self.now, self.tx, msg.clone(), true).expect("send");
                sent += 1;
            }
            if !self.exchange() {
                self.advance();
            }
        }
        // The last acknowledgements, so that the next batch starts from an empty flight.
        while self.a.buffered_amount(self.tx) > 0 {
            if !self.exchange() {
                self.advance();
            }
        }
        assert_eq!(self.got, count, "messages received");
        assert_eq!(self.a.stats().transmit_dropped + self.b.stats().transmit_dropped, 0, "transmits dropped");
        self.bytes
    }
}

/// Two str0m `Rtc`s, `a` the offerer and sender. Every mutation is followed by draining `poll_output` to
/// its timeout, as str0m requires.
struct Theirs {
    a: Rtc,
    b: Rtc,
    start: std::time::Instant,
    now: std::time::Instant,
    next_a: std::time::Instant,
    next_b: std::time::Instant,
    to_a: VecDeque<Transmit>,
    to_b: VecDeque<Transmit>,
    tx: Option<str0m::channel::ChannelId>,
    open_a: bool,
    open_b: bool,
    limit: usize,
    size: usize,
    got: usize,
    bytes: usize,
}

impl Theirs {
    fn connect(provider: &Arc<CryptoProvider>, certs: &(DtlsCert, DtlsCert), limit: usize) -> Self {
        let (a_addr, b_addr) = addrs();
        // The origin of the virtual clock; str0m never reads the clock itself.
        let now = std::time::Instant::now();
        let rtc = |cert: &DtlsCert| {
            RtcConfig::new()
                .set_crypto_provider(provider.clone())
                .set_dtls_cert(cert.clone())
                // Room for the application's own limit plus a message.
                .set_sctp_max_buffered_amount(2 * limit)
                .build(now)
        };
        let mut p = Theirs {
            a: rtc(&certs.0),
            b: rtc(&certs.1),
            start: now,
            now,
            next_a: now,
            next_b: now,
            to_a: VecDeque::new(),
            to_b: VecDeque::new(),
            tx: None,
            open_a: false,
            open_b: false,
            limit,
            size: 0,
            got: 0,
            bytes: 0,
        };
        p.a.add_local_candidate(Candidate::host(a_addr, "udp").expect("candidate"));
        p.drain_a();
        p.b.add_local_candidate(Candidate::host(b_addr, "udp").expect("candidate"));
        p.drain_b();
        let mut change = p.a.sdp_api();
        p.tx = Some(change.add_channel("bench".into()));
        let (offer, pending) = change.apply().expect("offer");
        p.drain_a();
        let offer = SdpOffer::from_sdp_string(&offer.to_sdp_string()).expect("offer text");
        let answer = p.b.sdp_api().accept_offer(offer).expect("accept offer");
        p.drain_b();
        let answer = SdpAnswer::from_sdp_string(&answer.to_sdp_string()).expect("answer text");
        p.a.sdp_api().accept_answer(pending, answer).expect("accept answer");
        p.drain_a();
        while !(p.open_a && p.open_b) {
            if !p.exchange() {
                p.advance();
            }
        }
        p
    }

    fn drain_a(&mut self) {
        loop {
            match self.a.poll_output().expect("poll_output") {
                Output::Timeout(t) => {
                    self.next_a = t;
                    return;
                }
                Output::Transmit(t) => self.to_b.push_back(t),
                Output::Event(str0m::Event::ChannelOpen(id, _)) if Some(id) == self.tx => self.open_a = true,
                Output::Event(_) => {}
            }
        }
    }

    fn drain_b(&mut self) {
        loop {
            match self.b.poll_output().expect("poll_output") {
                Output::Timeout(t) => {
                    self.next_b = t;
                    return;
                }
                Output::Transmit(t) => self.to_a.push_back(t),
                Output::Event(str0m::Event::ChannelOpen(..)) => self.open_b = true,
                Output::Event(str0m::Event::ChannelData(d)) => {
                    check(&d.data, d.binary, self.size);
                    self.got += 1;
                    self.bytes += d.data.len();
                }
                Output::Event(_) => {}
            }
        }
    }

    fn receive(rtc: &mut Rtc, now: std::time::Instant, t: &Transmit) {
        let contents = (&t.contents[..]).try_into().expect("datagram");
        let r = Receive { proto: Protocol::Udp, source: t.source, destination: t.destination, contents };
        rtc.handle_input(Input::Receive(now, r)).expect("handle_input");
    }

    fn exchange(&mut self) -> bool {
        let mut moved = false;
        loop {
            let mut any = false;
            while let Some(t) = self.to_b.pop_front() {
                Self::receive(&mut self.b, self.now, &t);
                self.drain_b();
                any = true;
            }
            while let Some(t) = self.to_a.pop_front() {
                Self::receive(&mut self.a, self.now, &t);
                self.drain_a();
                any = true;
            }
            if !any {
                break;
            }
            moved = true;
        }
        moved
    }

    fn advance(&mut self) {
        let next = self.next_a.min(self.next_b);
        self.now = next.max(self.now + Duration::from_micros(1));
        assert!(self.now - self.start < LIMIT, "stuck at {:?}", self.now - self.start);
        if self.next_a <= self.now {
            self.a.handle_input(Input::Timeout(self.now)).expect("timeout");
            self.drain_a();
        }
        if self.next_b <= self.now {
            self.b.handle_input(Input::Timeout(self.now)).expect("timeout");
            self.drain_b();
        }
    }

    fn transfer(&mut self, msg: &[u8], count: usize) -> usize {
        self.start = self.now;
        (self.size, self.got, self.bytes) = (msg.len(), 0, 0);
        let tx = self.tx.expect("channel");
        let mut sent = 0;
        while self.got < count {
            while sent < count {
                let mut ch = self.a.channel(tx).expect("channel");
                if ch.buffered_amount() >= self.limit || !ch.write(true, msg).expect("write") {
                    break;
                }
                sent += 1;
                self.drain_a();
            }
            if !self.exchange() {
                self.advance();
            }
        }
        while self.a.channel(tx).expect("channel").buffered_amount() > 0 {
            if !self.exchange() {
                self.advance();
            }
        }
        assert_eq!(self.got, count, "messages received");
        self.bytes
    }
}

/// Measures the two in turn, several rounds, keeping each one's fastest median (the machine is shared).
fn best_of(mut ours: impl FnMut() -> usize, mut theirs: impl FnMut() -> usize) -> (Measurement, Measurement) {
    let mut best: [Option<Measurement>; 2] = [None, None];
    for _ in 0..if quick() { 1 } else { 2 } {
        for (i, m) in [measure_cpu(&mut ours), measure_cpu(&mut theirs)].into_iter().enumerate() {
            if best[i].is_none_or(|b| m.ns_per_iter < b.ns_per_iter) {
                best[i] = Some(m);
            }
        }
    }
    (best[0].expect("measured"), best[1].expect("measured"))
}

fn main() {
    let mut rng = SeededRng::from_seed([7; 32]);
    let our_certs = (Certificate::generate(&mut rng), Certificate::generate(&mut rng));
    // str0m's `rust-crypto` backend leaves DTLS to dimpl's default provider, which is aws-lc-rs when
    // that is built (and str0m-rust-crypto builds it): make it RustCrypto, unless asked not to.
    let dtls_backend = if std::env::var_os("SANSRTC_BENCH_STR0M_AWS_LC").is_some() {
        "aws-lc-rs (dimpl's default)"
    } else {
        dimpl07::crypto::CryptoProvider::install_default(dimpl07::crypto::rust_crypto::default_provider());
        "RustCrypto"
    };
    let provider = Arc::new(str0m::crypto::from_feature_flags());
    let cert = || provider.dtls_provider.generate_certificate().expect("str0m certificate");
    let their_certs = (cert(), cert());
    println!(
        "full stack over an in-memory link, one ordered reliable channel; thread CPU time; \
         str0m's DTLS on {dtls_backend}"
    );

    for limit in LIMITS {
        for size in [64 * 1024, 1024] {
            let count = if quick() { BATCH / size / 8 } else { BATCH / size };
            let raw = message(size);
            let msg = Bytes::from(raw.clone());
            let mut ours = Ours::connect(&our_certs, 1);
            ours.limit = limit;
            let mut theirs = Theirs::connect(&provider, &their_certs, limit);
            // Warm up both (buffers, congestion windows).
            assert_eq!(ours.transfer(&msg, count), size * count);
            assert_eq!(theirs.transfer(&raw, count), size * count);
            let (m_ours, m_theirs) =
                best_of(|| black_box(ours.transfer(&msg, count)), || black_box(theirs.transfer(&raw, count)));
            let name = format!("pc/{} KiB msgs, {} KiB buffered", size / 1024, limit / 1024);
            report(&name, "sansrtc", m_ours);
            report(&name, "str0m", m_theirs);
            let ratio = compare(&name, m_ours, "str0m", m_theirs);
            let bytes = size * count;
            println!(
                "{name}: sansrtc {:.0} MB/s {:.0} msg/s, str0m {:.0} MB/s {:.0} msg/s: {ratio:.2}x (target 4x)",
                m_ours.mb_per_s(bytes),
                m_ours.per_second() * count as f64,
                m_theirs.mb_per_s(bytes),
                m_theirs.per_second() * count as f64,
            );
        }
    }

    let name = "pc/set-up offer to open";
    let ours = Ours::connect(&our_certs, 1);
    let theirs = Theirs::connect(&provider, &their_certs, LIMITS[0]);
    println!(
        "{name}: virtual time on an instant link: sansrtc {:.1} ms, str0m {:.1} ms",
        (ours.now - ours.start).as_secs_f64() * 1e3,
        (theirs.now - theirs.start).as_secs_f64() * 1e3,
    );
    let mut seed = 1;
    let (m_ours, m_theirs) = best_of(
        || {
            seed += 1;
            let p = Ours::connect(&our_certs, seed);
            black_box(p.now - p.start).as_nanos() as usize
        },
        || {
            let p = Theirs::connect(&provider, &their_certs, LIMITS[0]);
            black_box(p.now - p.start).as_nanos() as usize
        },
    );
    report(name, "sansrtc", m_ours);
    report(name, "str0m", m_theirs);
    let ratio = compare(name, m_ours, "str0m", m_theirs);
    println!(
        "{name}: sansrtc {:.2} ms CPU, str0m {:.2} ms CPU: {ratio:.2}x (target: at least 1x)",
        m_ours.ns_per_iter / 1e6,
        m_theirs.ns_per_iter / 1e6
    );
}
