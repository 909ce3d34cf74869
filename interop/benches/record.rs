//! What recording costs and what it gives: two peer connections in one process over an in-memory link
//! (the pc benchmark's set-up: one ordered reliable channel, 64 KiB binary messages, at most 1 MiB
//! buffered), every datagram delivered at once, a virtual clock jumping to the earliest deadline.
//!
//! - Throughput, thread CPU time, 4 MiB per iteration: plain `PeerConnection`s, then both sides wrapped in
//!   `RecordedPeerConnection` keeping digest journals, whole-output journals, and digest journals with
//!   pcapng captures; the journal and capture bytes are taken after each exchange, as a caller appending
//!   to files would (and dropped). The overhead against plain connections is the figure to watch.
//! - Journal size per minute: a connected pair left idle for 60 s (keepalives, consent checks,
//!   heartbeats), and a data channel carrying 1 MiB/s for 60 s (a 16 KiB message every 15.625 ms).
//! - Replay speed: the 60 s data-channel session's journals replayed (`Replayer::run`), against the 60 s
//!   they recorded.
//!
//! An argument (`cargo bench --bench record -- digest`) runs only the plain figure and the throughput
//! variants named so or, if none is, whose name contains it, for profiling one of them.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use sansrtc::dtls::Certificate;
use sansrtc::pc::{ChannelId, ChannelOptions, Config, Error, Event, PeerConnection, RecvError};
use sansrtc::record::{RecordOptions, RecordedPeerConnection, Replayer};
use sansrtc::{Datagram, Instant, PathMachine, SeededRng};
use sansrtc_interop::bench::{Measurement, measure_cpu, quick, report, thread_cpu_ns};

const BATCH: usize = 4 * 1024 * 1024;
const SIZE: usize = 64 * 1024;
const LIMIT: usize = 1024 * 1024;

/// What the benchmark needs of a connection, plain or recorded.
trait Peer: PathMachine<Event = Event, Error = RecvError> + Sized {
    fn build(config: Config, seed: [u8; 32], options: Option<RecordOptions>) -> Self;
    fn pc(&self) -> &PeerConnection;
    fn add_local_host(&mut self, now: Instant, addr: SocketAddr) -> Result<(), Error>;
    fn end_of_local_candidates(&mut self, now: Instant);
    fn create_data_channel(&mut self, now: Instant, o: ChannelOptions) -> Result<ChannelId, Error>;
    fn create_offer(&mut self) -> Result<sansrtc::pc::Description, Error>;
    fn create_answer(&mut self) -> Result<sansrtc::pc::Description, Error>;
    fn set_local_description(&mut self, now: Instant, d: &sansrtc::pc::Description) -> Result<(), Error>;
    fn set_remote_description(&mut self, now: Instant, d: &sansrtc::pc::Description) -> Result<(), Error>;
    fn send(&mut self, now: Instant, id: ChannelId, data: Bytes) -> Result<(), Error>;
    /// The journal bytes written since the last call, handed to `journal` piece by piece as a caller
    /// writing them to a file would, and the capture bytes into `capture`.
    fn take(&mut self, journal: &mut dyn FnMut(&[u8]), capture: &mut Vec<u8>);
}

macro_rules! forward {
    () => {
        fn add_local_host(&mut self, now: Instant, addr: SocketAddr) -> Result<(), Error> {
            Self::add_local_host(self, now, addr)
        }
        fn end_of_local_candidates(&mut self, now: Instant) {
            Self::end_of_local_candidates(self, now)
        }
        fn create_data_channel(&mut self, now: Instant, o: ChannelOptions) -> Result<ChannelId, Error> {
            Self::create_data_channel(self, now, o)
        }
        fn create_offer(&mut self) -> Result<sansrtc::pc::Description, Error> {
            Self::create_offer(self)
        }
        fn create_answer(&mut self) -> Result<sansrtc::pc::Description, Error> {
            Self::create_answer(self)
        }
        fn set_local_description(&mut self, now: Instant, d: &sansrtc::pc::Description) -> Result<(), Error> {
            Self::set_local_description(self, now, d)
        }
        fn set_remote_description(&mut self, now: Instant, d: &sansrtc::pc::Description) -> Result<(), Error> {
            Self::set_remote_description(self, now, d)
        }
        fn send(&mut self, now: Instant, id: ChannelId, data: Bytes) -> Result<(), Error> {
            Self::send(self, now, id, data, true)
        }
    };
}

impl Peer for PeerConnection {
    fn build(config: Config, seed: [u8; 32], _: Option<RecordOptions>) -> Self {
        PeerConnection::new(config, SeededRng::from_seed(seed))
    }
    fn pc(&self) -> &PeerConnection {
        self
    }
    fn take(&mut self, _: &mut dyn FnMut(&[u8]), capture: &mut Vec<u8>) {
        capture.clear();
    }
    forward!();
}

impl Peer for RecordedPeerConnection {
    fn build(config: Config, seed: [u8; 32], options: Option<RecordOptions>) -> Self {
        RecordedPeerConnection::new(config, seed, options.unwrap_or_default())
    }
    fn pc(&self) -> &PeerConnection {
        self.peer_connection()
    }
    fn take(&mut self, journal: &mut dyn FnMut(&[u8]), capture: &mut Vec<u8>) {
        let _ = self.take_journal_with(|b| {
            journal(b);
            Ok::<(), ()>(())
        });
        self.take_capture_into(capture);
    }
    forward!();
}

/// Two connections, `a` sending on `tx`, over an instant link.
struct Pair<P: Peer> {
    a: P,
    b: P,
    now: Instant,
    tx: ChannelId,
    open: bool,
    buf: Vec<u8>,
    got: usize,
    bytes: usize,
    /// Journal and capture bytes taken, and the journals kept when asked.
    journal_bytes: [usize; 2],
    capture_bytes: usize,
    keep: Option<[Vec<u8>; 2]>,
    capture_buf: Vec<u8>,
}

impl<P: Peer> Pair<P> {
    fn connect(certs: &(Certificate, Certificate), options: Option<RecordOptions>, keep: bool) -> Self {
        let addr = |s: &str| s.parse::<SocketAddr>().expect("address");
        let config = |cert: &Certificate| Config { certificate: Some(cert.clone()), ..Config::default() };
        let now = Instant::from_secs(1);
        let mut a = P::build(config(&certs.0), [1; 32], options);
        let mut b = P::build(config(&certs.1), [2; 32], options);
        a.add_local_host(now, addr("10.0.0.1:5000")).expect("host");
        a.end_of_local_candidates(now);
        let tx = a.create_data_channel(now, ChannelOptions::new("bench")).expect("channel");
        let offer = a.create_offer().expect("offer");
        a.set_local_description(now, &offer).expect("local offer");
        b.add_local_host(now, addr("10.0.0.2:5000")).expect("host");
        b.end_of_local_candidates(now);
        b.set_remote_description(now, &offer).expect("remote offer");
        let answer = b.create_answer().expect("answer");
        b.set_local_description(now, &answer).expect("local answer");
        a.set_remote_description(now, &answer).expect("remote answer");
        let keep = keep.then(|| [Vec::new(), Vec::new()]);
        let mut p = Pair {
            a,
            b,
            now,
            tx,
            open: false,
            buf: Vec::with_capacity(1500),
            got: 0,
            bytes: 0,
            journal_bytes: [0; 2],
            capture_bytes: 0,
            keep,
            capture_buf: Vec::new(),
        };
        while !p.open {
            if !p.exchange() {
                p.advance(None);
            }
        }
        p
    }

    fn events(&mut self) {
        while let Some(e) = self.a.poll_event() {
            if e == Event::ChannelOpen(self.tx) {
                self.open = true;
            }
        }
        while let Some(e) = self.b.poll_event() {
            if let Event::Message { data, .. } = e {
                self.got += 1;
                self.bytes += data.len();
            }
        }
    }

    /// Takes the journals and captures as a caller appending them to files would: the journal piece by
    /// piece (`take_journal_with`, the messages sent where they lie), the capture into the same buffer
    /// every time, written out and reused.
    fn take(&mut self) {
        for (i, p) in [&mut self.a, &mut self.b].into_iter().enumerate() {
            let mut len = 0;
            let mut keep = self.keep.as_mut().map(|k| &mut k[i]);
            p.take(
                &mut |b| {
                    len += b.len();
                    if let Some(k) = keep.as_mut() {
                        k.extend_from_slice(b);
                    }
                },
                &mut self.capture_buf,
            );
            self.journal_bytes[i] += len;
            self.capture_bytes += self.capture_buf.len();
        }
    }

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
        self.take();
        moved
    }

    /// Nothing in flight: jump to the earliest deadline (or `until`, if sooner) and fire the timers due.
    fn advance(&mut self, until: Option<Instant>) {
        let (ta, tb) = (self.a.poll_timeout(), self.b.poll_timeout());
        let next = ta.into_iter().chain(tb).chain(until).min().unwrap_or(self.now + Duration::from_millis(10));
        self.now = next.max(self.now + Duration::from_micros(1));
        let now = self.now;
        if ta.is_some_and(|t| t <= now) {
            self.a.handle_timeout(now);
        }
        if tb.is_some_and(|t| t <= now) {
            self.b.handle_timeout(now);
        }
        self.events();
    }

    /// Sends `count` messages of `msg` as fast as the buffered limit lets; returns the bytes received.
    fn transfer(&mut self, msg: &Bytes, count: usize) -> usize {
        (self.got, self.bytes) = (0, 0);
        let mut sent = 0;
        while self.got < count {
            while sent < count && self.a.pc().buffered_amount(self.tx) < LIMIT {
                self.a.send(self.now, self.tx, msg.clone()).expect("send");
                sent += 1;
            }
            if !self.exchange() {
                self.advance(None);
            }
        }
        while self.a.pc().buffered_amount(self.tx) > 0 {
            if !self.exchange() {
                self.advance(None);
            }
        }
        self.bytes
    }

    /// `length` of virtual time sending `msg` every `every` (none when `every` is zero).
    fn paced(&mut self, length: Duration, msg: &Bytes, every: Duration) {
        let end = self.now + length;
        let mut next_send = self.now;
        while self.now < end {
            if !every.is_zero() && self.now >= next_send {
                self.a.send(self.now, self.tx, msg.clone()).expect("send");
                next_send += every;
            }
            if !self.exchange() {
                let until = if every.is_zero() { end } else { next_send.min(end) };
                self.advance(Some(until));
            }
        }
    }
}

fn throughput<P: Peer>(
    name: &str,
    certs: &(Certificate, Certificate),
    options: Option<RecordOptions>,
) -> (Measurement, usize, [usize; 2]) {
    let count = if quick() { BATCH / SIZE / 8 } else { BATCH / SIZE };
    let msg = Bytes::from(vec![0x5a; SIZE]);
    let mut pair = Pair::<P>::connect(certs, options, false);
    assert_eq!(pair.transfer(&msg, count), SIZE * count);
    pair.journal_bytes = [0; 2];
    let mut best: Option<Measurement> = None;
    let mut runs = 0;
    for _ in 0..if quick() { 1 } else { 3 } {
        let m = measure_cpu(|| {
            runs += 1;
            black_box(pair.transfer(&msg, count))
        });
        if best.is_none_or(|b| m.ns_per_iter < b.ns_per_iter) {
            best = Some(m);
        }
    }
    let m = best.expect("measured");
    report(&format!("record/throughput {name}"), "sansrtc", m);
    let per_iter = |n: usize| n / runs.max(1);
    (m, SIZE * count, [per_iter(pair.journal_bytes[0]), per_iter(pair.journal_bytes[1])])
}

/// What recording with `options` costs against plain connections, measured interleaved: plain and
/// recorded pairs take turns (each first every other round), each moving the same 4 MiB, so that a
/// machine busy with other work slows both alike. Returns the median of the rounds' recorded/plain
/// thread-CPU ratios.
fn interleaved_cost(certs: &(Certificate, Certificate), options: RecordOptions) -> f64 {
    let count = if quick() { BATCH / SIZE / 8 } else { BATCH / SIZE };
    let msg = Bytes::from(vec![0x5a; SIZE]);
    let mut plain = Pair::<PeerConnection>::connect(certs, None, false);
    let mut recorded = Pair::<RecordedPeerConnection>::connect(certs, Some(options), false);
    plain.transfer(&msg, count);
    recorded.transfer(&msg, count);
    let mut ratios = Vec::new();
    for round in 0..if quick() { 4 } else { 40 } {
        // Each goes first every other round, so that neither always finds the other's data in the cache.
        let mut timed = |plain_first: bool| {
            let mut t = [0u64; 2];
            for which in if plain_first { [0, 1] } else { [1, 0] } {
                let start = thread_cpu_ns();
                match which {
                    0 => black_box(plain.transfer(&msg, count)),
                    _ => black_box(recorded.transfer(&msg, count)),
                };
                t[which] = thread_cpu_ns() - start;
            }
            t
        };
        let [p, r] = timed(round % 2 == 0);
        ratios.push(r as f64 / p.max(1) as f64);
    }
    ratios.sort_by(f64::total_cmp);
    ratios[ratios.len() / 2]
}

fn main() {
    let mut rng = SeededRng::from_seed([7; 32]);
    let certs = (Certificate::generate(&mut rng), Certificate::generate(&mut rng));
    println!("in-memory pair, one ordered reliable channel, 64 KiB messages, 1 MiB buffered; thread CPU time");

    let (plain, bytes, _) = throughput::<PeerConnection>("plain", &certs, None);
    let base = plain.mb_per_s(bytes);
    println!("record/throughput plain: {base:.0} MB/s");
    let variants = [
        ("digest journals", RecordOptions::default()),
        ("whole-output journals", RecordOptions { whole_outputs: true, ..RecordOptions::default() }),
        ("digest journals + captures", RecordOptions { capture: true, ..RecordOptions::default() }),
    ];
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    for (name, options) in variants {
        let exact = filter.as_deref().is_some_and(|f| variants.iter().any(|(n, _)| *n == f));
        if filter.as_deref().is_some_and(|f| if exact { name != f } else { !name.contains(f) }) {
            continue;
        }
        let (m, bytes, journal) = throughput::<RecordedPeerConnection>(name, &certs, Some(options));
        let rate = m.mb_per_s(bytes);
        let ratio = interleaved_cost(&certs, options);
        println!(
            "record/throughput {name}: {rate:.0} MB/s, {:.1} % below plain; interleaved with plain: {:.1} % more CPU, {:.1} % less throughput; journal per MB moved: sender {:.2} MB, receiver {:.2} MB",
            (1.0 - rate / base) * 100.0,
            (ratio - 1.0) * 100.0,
            (1.0 - 1.0 / ratio) * 100.0,
            journal[0] as f64 / bytes as f64,
            journal[1] as f64 / bytes as f64,
        );
    }

    if filter.is_some() {
        return;
    }
    let minute = if quick() { Duration::from_secs(6) } else { Duration::from_secs(60) };
    let per_minute = |n: usize| n as f64 * 60.0 / minute.as_secs_f64() / 1e6;
    let mut idle = Pair::<RecordedPeerConnection>::connect(&certs, Some(RecordOptions::default()), false);
    idle.journal_bytes = [0; 2];
    idle.paced(minute, &Bytes::new(), Duration::ZERO);
    println!(
        "record/journal size idle connection: {:.3} MB/min offerer, {:.3} MB/min answerer",
        per_minute(idle.journal_bytes[0]),
        per_minute(idle.journal_bytes[1])
    );

    let msg = Bytes::from(vec![0x33; 16 * 1024]);
    let mut busy = Pair::<RecordedPeerConnection>::connect(&certs, Some(RecordOptions::default()), true);
    busy.paced(minute, &msg, Duration::from_micros(15_625));
    let [sender, receiver] = busy.keep.take().expect("kept");
    println!(
        "record/journal size 1 MiB/s data channel: {:.1} MB/min sender, {:.1} MB/min receiver ({:.1} MB received)",
        per_minute(sender.len()),
        per_minute(receiver.len()),
        busy.bytes as f64 / 1e6
    );
    for (who, journal) in [("sender", &sender), ("receiver", &receiver)] {
        let start = thread_cpu_ns();
        let summary = Replayer::new(journal).expect("journal").run().expect("identical");
        let took = Duration::from_nanos(thread_cpu_ns() - start);
        let recorded = summary.end - Instant::from_secs(1);
        println!(
            "record/replay 1 MiB/s data channel, {who}: {:.1} s recorded replayed in {:.3} s CPU: {:.0}x real time ({} calls)",
            recorded.as_secs_f64(),
            took.as_secs_f64(),
            recorded.as_secs_f64() / took.as_secs_f64(),
            summary.calls
        );
    }
}
