//! RTP through a peer connection, per packet, in both directions, and an SFU's forwarding cost: sansrtc
//! next to str0m 0.24 (RustCrypto backend, RTP mode), in the same run.
//!
//! Both stacks connect two peers over an in-memory link (ICE, DTLS, SRTP keyed from DTLS) with one
//! negotiated video m-section through SDP text: VP8 with `nack`, `nack pli`, `transport-cc` and RTX, and
//! the same header extensions (Chromium's ids: abs-send-time, transport-wide CC, MID, RID, repaired RID,
//! video orientation). Every packet carries a 1,200-byte payload.
//!
//! - **Send**: write → datagram. sansrtc: `PeerConnection::write_rtp` with the payload and abs-send-time
//!   (the connection's RTP session sets the SSRC, the sequence number, the MID and the transport-wide
//!   sequence number, records the send for transport-wide feedback and its sender report, and copies the
//!   packet into the stream's RTX history) then `poll_transmit` until `None`, each datagram copied out.
//!   str0m: `StreamTx::write_rtp` (a `nackable` packet, the payload an `Arc` shared with no copy) then the
//!   str0m loop: `poll_output` until `Timeout`, `handle_input(Timeout)` when it is due (str0m releases a
//!   written packet from its send queue on a timeout), the `Transmit`s kept.
//! - **Receive**: datagram → event. sansrtc: `handle_receive` then `poll_event` until `None`
//!   (`Event::Rtp`, a view into the decrypted datagram). str0m: `handle_input(Receive)` then
//!   `poll_output` until `Timeout` (`Event::RtpPacket`).
//! - **Timers and feedback**: between batches, each side's due timers fire and everything in flight is
//!   exchanged (sender and receiver reports, transport-wide feedback, consent checks), timed apart and
//!   divided by the media packets of the batch.
//!
//! The work is the same on both sides: each connection numbers the transport-wide sequence itself and
//! records each send for its TWCC feedback, keeps an RTX history of the packets it sends, keeps RFC 3550
//! statistics, NACK bookkeeping and a TWCC register of every packet received, and sends sender and
//! receiver reports and TWCC feedback from its timers (sansrtc's in its RTP session layer,
//! `rtp::session`, which the connection drives). Where it still differs: sansrtc's RTX history copies
//! each sent packet into a ring of octets (str0m keeps the packet it built, its payload the caller's
//! `Arc`); sansrtc hands a received packet up as a view into the buffer it was decrypted in, str0m
//! allocates it.
//!
//! Both use the SRTP profile str0m negotiates between two str0m peers, SRTP_AEAD_AES_256_GCM (dimpl's
//! DTLS server picks it first); sansrtc is configured to offer only that profile. The cipher itself
//! differs: str0m 0.24's RustCrypto SRTP runs on aes-gcm 0.10 (and allocates its output), sansrtc on
//! aes-gcm 0.11, which is about twice as fast on x86-64 (0.10's GHASH multiplies one block at a time);
//! the `bare AES-256-GCM` lines measure each crate alone on the same packet, and `beyond the cipher` is
//! each stack's cost with its own cipher's share taken out.
//!
//! - **Forwarding**: a publisher's video stream arrives at an SFU connection and is forwarded to 100
//!   subscriber connections (10 in quick mode), each the sending end of its own connected pair. The
//!   SFU's CPU time from the incoming datagram to every outgoing datagram (receive, then per subscriber
//!   `write_rtp` and the transmit) divided by packets × subscribers. str0m forwards the received payload
//!   `Arc` without copying it, with the incoming sequence number and timestamp. A second sansrtc line
//!   forwards pass-through with `write_rtp_raw` (the packet as received).
//! - **Frames**: sansrtc only, `PeerConnection::write_frame` of a 20,000-byte VP8 frame (18 packets)
//!   then `poll_transmit` until `None`, each datagram copied out, per frame. `write_frame` writes each
//!   payload's descriptor and a run borrowed from the frame straight into the packet
//!   (`Packetizer::packetize_parts`); the line after it is the former path on the same connection, which
//!   `write_frame` took before: `Packetizer::packetize` into the packetizer's scratch buffer, then
//!   `write_rtp` with each whole payload (the frame's bytes copied once more).
//! - **Allocations**: a counting global allocator counts allocations during warm send, receive and
//!   forwarding phases; sansrtc must make none (the benchmark fails otherwise), str0m's count is printed.
//!
//! Everything is timed in thread CPU time; the virtual clock moves 100 µs per packet (10,000 packets/s,
//! about 100 Mbit/s). `SANSRTC_BENCH_QUICK=1` runs few batches and 10 subscribers.

use std::alloc::{GlobalAlloc, Layout, System};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use sansrtc::dtls::{Certificate, SrtpProfile};
use sansrtc::pc::{
    Config, ConnectionState, Event, ExtensionValue, MediaKind, OutgoingFrame, OutgoingRtp, PeerConnection,
    TransceiverInit,
};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};
use sansrtc_interop::bench::{Measurement, compare, measure_cpu, quick, report, thread_cpu_ns};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::config::{CryptoProvider, DtlsCert};
use str0m::format::Codec;
use str0m::media::{Direction, Mid, Pt};
use str0m::net::{Protocol, Receive, Transmit};
use str0m::rtp::{ExtensionValues, RtpWrite, SeqNo, Ssrc};
use str0m::{Candidate, Input, Output, Rtc, RtcConfig};

/// RTP payload bytes per packet.
const PAYLOAD: usize = 1200;
/// Packets per timed batch.
const BATCH: usize = 64;
/// Virtual time between packets.
const PACKET_INTERVAL: Duration = Duration::from_micros(100);
/// Packets each stream carries before measurements start: more than a retransmission history holds
/// (1,024 packets in str0m's RTX cache and in sansrtc's RTP session), so that the figures are those of a
/// steady state, not of histories still growing.
const WARM_PACKETS: usize = 1200;
/// Virtual time a set-up may take before the benchmark gives up.
const LIMIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------------
// Counting allocator.

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts while `COUNTING` is set (the benchmark
// is single-threaded).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f`.
fn count_allocations(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    f();
    COUNTING.store(false, Ordering::Relaxed);
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

// ---------------------------------------------------------------------------------------------------
// What both pairs offer the benchmark.

fn addrs(i: usize) -> (SocketAddr, SocketAddr) {
    let i = i as u16;
    (SocketAddr::from(([198, 51, 100, 10], 5000 + i)), SocketAddr::from(([203, 0, 113, 20], 5000 + i)))
}

fn payload() -> Vec<u8> {
    (0..PAYLOAD).map(|i| (i * 7) as u8).collect()
}

/// abs-send-time (6.18 fixed-point seconds, 24 bits) of `since` the start.
fn abs_send_time(since: Duration) -> u32 {
    ((since.as_micros() << 18) / 1_000_000) as u32 & 0x00ff_ffff
}

/// A connected pair, `a` sending video to `b`.
trait Pair {
    /// The virtual time since the pair was made.
    fn elapsed(&self) -> Duration;
    /// Moves the virtual clock to `since` the start (never backwards).
    fn set_time(&mut self, since: Duration);
    /// `a` writes `n` packets (the virtual clock moving `PACKET_INTERVAL` each); the datagrams are held
    /// for [`Pair::receive`].
    fn send(&mut self, n: usize);
    /// `b` receives every held datagram; the media packets that arrived.
    fn receive(&mut self) -> usize;
    /// Fires the timers due and exchanges everything in flight both ways until nothing moves.
    fn tick(&mut self);
}

// ---------------------------------------------------------------------------------------------------
// sansrtc.

/// Datagrams held between a send and a receive, in reused buffers.
#[derive(Default)]
struct Held {
    slots: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    len: usize,
}

impl Held {
    fn push(&mut self, source: SocketAddr, destination: SocketAddr, contents: &[u8]) {
        if self.len == self.slots.len() {
            self.slots.push((source, destination, Vec::with_capacity(1500)));
        }
        let slot = &mut self.slots[self.len];
        slot.0 = source;
        slot.1 = destination;
        slot.2.clear();
        slot.2.extend_from_slice(contents);
        self.len += 1;
    }
}

struct Ours {
    a: PeerConnection,
    b: PeerConnection,
    start: Instant,
    now: Instant,
    mid: String,
    pt: u8,
    timestamp: u32,
    payload: Vec<u8>,
    to_b: Held,
    to_a: Held,
    connected: bool,
}

impl Ours {
    fn connect(certs: &(Certificate, Certificate), index: usize) -> Self {
        let (a_addr, b_addr) = addrs(index);
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&(index as u64 + 1).to_le_bytes());
        let mut rng = SeededRng::from_seed(s);
        let config = |cert: &Certificate| Config {
            certificate: Some(cert.clone()),
            srtp_profiles: Cow::Borrowed(&[SrtpProfile::AEAD_AES_256_GCM]),
            // Unpaced, as str0m's RTP mode: every row measures write → datagram at once.
            pacer: None,
            ..Config::default()
        };
        let now = Instant::from_secs(1);
        let mut a = PeerConnection::new(config(&certs.0), rng.fork());
        let mut b = PeerConnection::new(config(&certs.1), rng.fork());
        a.add_local_host(now, a_addr).expect("host");
        a.end_of_local_candidates(now);
        let video = a
            .add_transceiver(now, MediaKind::Video, TransceiverInit::with_direction(sansrtc::pc::Direction::SendOnly))
            .expect("transceiver");
        let offer = a.create_offer().expect("offer");
        a.set_local_description(now, &offer).expect("local offer");
        b.add_local_host(now, b_addr).expect("host");
        b.end_of_local_candidates(now);
        b.set_remote_description(now, &offer).expect("remote offer");
        let answer = b.create_answer().expect("answer");
        b.set_local_description(now, &answer).expect("local answer");
        a.set_remote_description(now, &answer).expect("remote answer");
        let t = a.transceiver(video).expect("transceiver");
        let mid = t.mid().expect("mid").to_owned();
        let vp8 = t.codecs().iter().find(|c| c.name.eq_ignore_ascii_case("VP8")).expect("VP8 negotiated");
        assert!(vp8.rtx_payload_type.is_some(), "RTX negotiated");
        let pt = vp8.payload_type;
        let mut p = Ours {
            a,
            b,
            start: now,
            now,
            mid,
            pt,
            timestamp: 0,
            payload: payload(),
            to_b: Held::default(),
            to_a: Held::default(),
            connected: false,
        };
        while !p.connected {
            if !p.exchange() {
                p.advance();
            }
            p.connected = p.a.connection_state() == ConnectionState::Connected
                && p.b.connection_state() == ConnectionState::Connected
                && p.a.srtp_profile().is_some()
                && p.b.srtp_profile().is_some();
        }
        assert_eq!(p.a.srtp_profile(), Some(sansrtc::srtp::Profile::AeadAes256Gcm));
        p
    }

    fn events(&mut self) -> usize {
        while let Some(e) = self.a.poll_event() {
            if let Event::ConnectionState(s @ (ConnectionState::Failed | ConnectionState::Closed)) = e {
                panic!("sansrtc sender {s:?}")
            }
        }
        let mut media = 0;
        while let Some(e) = self.b.poll_event() {
            match e {
                Event::Rtp(p) => {
                    assert_eq!(p.payload().len(), PAYLOAD, "payload length");
                    media += 1;
                }
                Event::ConnectionState(s @ (ConnectionState::Failed | ConnectionState::Closed)) => {
                    panic!("sansrtc receiver {s:?}")
                }
                _ => {}
            }
        }
        media
    }

    /// Moves every datagram each side has to the other until nothing moves; whether anything did.
    fn exchange(&mut self) -> bool {
        let now = self.now;
        let mut moved = false;
        loop {
            while let Some(t) = self.a.poll_transmit() {
                self.to_b.push(t.source, t.destination, t.contents);
            }
            while let Some(t) = self.b.poll_transmit() {
                self.to_a.push(t.source, t.destination, t.contents);
            }
            if self.to_a.len + self.to_b.len == 0 {
                break;
            }
            moved = true;
            for (source, destination, data) in &self.to_b.slots[..self.to_b.len] {
                let d = Datagram { source: *source, destination: *destination, contents: data };
                let _ = self.b.handle_receive(now, d);
            }
            self.to_b.len = 0;
            for (source, destination, data) in &self.to_a.slots[..self.to_a.len] {
                let d = Datagram { source: *source, destination: *destination, contents: data };
                let _ = self.a.handle_receive(now, d);
            }
            self.to_a.len = 0;
            self.events();
        }
        self.events();
        moved
    }

    /// Fires the timers due now.
    fn timers(&mut self) {
        let now = self.now;
        if self.a.poll_timeout().is_some_and(|t| t <= now) {
            self.a.handle_timeout(now);
        }
        if self.b.poll_timeout().is_some_and(|t| t <= now) {
            self.b.handle_timeout(now);
        }
    }

    /// Nothing in flight (while connecting): jump to the earliest deadline and fire the timers due.
    fn advance(&mut self) {
        let (ta, tb) = (self.a.poll_timeout(), self.b.poll_timeout());
        let next = ta.into_iter().chain(tb).min().unwrap_or(self.now + Duration::from_millis(10));
        self.now = next.max(self.now + Duration::from_micros(1));
        assert!(self.now - self.start < LIMIT, "stuck at {:?}", self.now - self.start);
        self.timers();
        self.events();
    }

    /// The packet `a` writes next, its abs-send-time filled in (the connection numbers its transport-wide
    /// sequence).
    fn write(&mut self) {
        self.timestamp = self.timestamp.wrapping_add(90);
        let ext = [ExtensionValue::AbsSendTime(abs_send_time(self.elapsed()))];
        let packet = OutgoingRtp { extensions: &ext, ..OutgoingRtp::new(self.pt, self.timestamp, &self.payload) };
        self.a.write_rtp(self.now, &self.mid, &packet).expect("write_rtp");
    }
}

impl Pair for Ours {
    fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    fn set_time(&mut self, since: Duration) {
        self.now = self.now.max(self.start + since);
    }

    fn send(&mut self, n: usize) {
        for _ in 0..n {
            self.now += PACKET_INTERVAL;
            self.write();
            while let Some(t) = self.a.poll_transmit() {
                self.to_b.push(t.source, t.destination, t.contents);
            }
        }
    }

    fn receive(&mut self) -> usize {
        let now = self.now;
        let mut media = 0;
        for (source, destination, data) in &self.to_b.slots[..self.to_b.len] {
            let d = Datagram { source: *source, destination: *destination, contents: data };
            let _ = self.b.handle_receive(now, d);
            while let Some(e) = self.b.poll_event() {
                if let Event::Rtp(p) = e {
                    assert_eq!(p.payload().len(), PAYLOAD, "payload length");
                    media += 1;
                }
            }
        }
        self.to_b.len = 0;
        media
    }

    fn tick(&mut self) {
        self.timers();
        while self.exchange() {}
    }
}

// ---------------------------------------------------------------------------------------------------
// str0m.

struct Theirs {
    a: Rtc,
    b: Rtc,
    start: std::time::Instant,
    now: std::time::Instant,
    next_a: std::time::Instant,
    next_b: std::time::Instant,
    to_a: VecDeque<Transmit>,
    to_b: VecDeque<Transmit>,
    connected_a: bool,
    connected_b: bool,
    ssrc: Option<Ssrc>,
    pt: Option<Pt>,
    seq: u64,
    timestamp: u32,
    payload: Arc<[u8]>,
    /// Packets `b` received since the last take (the SFU's view).
    inbox: VecDeque<str0m::rtp::RtpPacket>,
    keep: bool,
    /// Send a batch with one pass of the output loop after the last write, not one per write.
    batched: bool,
}

impl Theirs {
    fn connect(provider: &Arc<CryptoProvider>, certs: &(DtlsCert, DtlsCert), index: usize) -> Self {
        let (a_addr, b_addr) = addrs(index);
        let now = std::time::Instant::now();
        let rtc = |cert: &DtlsCert| {
            RtcConfig::new()
                .set_crypto_provider(provider.clone())
                .set_dtls_cert(cert.clone())
                .set_rtp_mode(true)
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
            connected_a: false,
            connected_b: false,
            ssrc: None,
            pt: None,
            seq: 0,
            timestamp: 0,
            payload: payload().into(),
            inbox: VecDeque::new(),
            keep: false,
            batched: false,
        };
        p.a.add_local_candidate(Candidate::host(a_addr, "udp").expect("candidate"));
        p.drain_a();
        p.b.add_local_candidate(Candidate::host(b_addr, "udp").expect("candidate"));
        p.drain_b();
        let mut change = p.a.sdp_api();
        let mid: Mid = change.add_media(str0m::media::MediaKind::Video, Direction::SendOnly, None, None, None);
        let (offer, pending) = change.apply().expect("offer");
        p.drain_a();
        let offer = SdpOffer::from_sdp_string(&offer.to_sdp_string()).expect("offer text");
        let answer = p.b.sdp_api().accept_offer(offer).expect("accept offer");
        p.drain_b();
        let answer = SdpAnswer::from_sdp_string(&answer.to_sdp_string()).expect("answer text");
        p.a.sdp_api().accept_answer(pending, answer).expect("accept answer");
        p.drain_a();
        while !(p.connected_a && p.connected_b) {
            if !p.exchange() {
                p.advance();
            }
        }
        let vp8 = p.a.codec_config().find(|c| c.spec().codec == Codec::Vp8).copied().expect("VP8");
        assert!(vp8.resend().is_some(), "RTX negotiated");
        p.pt = Some(vp8.pt());
        p.ssrc = Some(p.a.direct_api().stream_tx_by_mid(mid, None).expect("send stream").ssrc());
        p
    }

    /// str0m's loop for `a`: outputs until the next timeout, handling it once when it is already due (a
    /// written packet leaves str0m's send queue on a timeout).
    fn drain_a(&mut self) {
        let mut fired = false;
        loop {
            match self.a.poll_output().expect("poll_output") {
                Output::Timeout(t) if t <= self.now && !fired => {
                    self.a.handle_input(Input::Timeout(self.now)).expect("timeout");
                    fired = true;
                }
                Output::Timeout(t) => {
                    self.next_a = t;
                    return;
                }
                Output::Transmit(t) => self.to_b.push_back(t),
                Output::Event(str0m::Event::Connected) => self.connected_a = true,
                Output::Event(_) => {}
            }
        }
    }

    fn drain_b(&mut self) -> usize {
        let mut media = 0;
        loop {
            match self.b.poll_output().expect("poll_output") {
                Output::Timeout(t) => {
                    self.next_b = t;
                    break;
                }
                Output::Transmit(t) => self.to_a.push_back(t),
                Output::Event(str0m::Event::Connected) => self.connected_b = true,
                Output::Event(str0m::Event::RtpPacket(p)) => {
                    assert_eq!(p.payload.len(), PAYLOAD, "payload length");
                    media += 1;
                    if self.keep {
                        self.inbox.push_back(p);
                    }
                }
                Output::Event(_) => {}
            }
        }
        media
    }

    fn deliver(rtc: &mut Rtc, now: std::time::Instant, t: &Transmit) {
        let contents = (&t.contents[..]).try_into().expect("datagram");
        let r = Receive { proto: Protocol::Udp, source: t.source, destination: t.destination, contents };
        rtc.handle_input(Input::Receive(now, r)).expect("handle_input");
    }

    fn exchange(&mut self) -> bool {
        let mut moved = false;
        loop {
            let mut any = false;
            while let Some(t) = self.to_b.pop_front() {
                Self::deliver(&mut self.b, self.now, &t);
                self.drain_b();
                any = true;
            }
            while let Some(t) = self.to_a.pop_front() {
                Self::deliver(&mut self.a, self.now, &t);
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
        self.timers();
    }

    fn timers(&mut self) {
        if self.next_a <= self.now {
            self.a.handle_input(Input::Timeout(self.now)).expect("timeout");
            self.drain_a();
        }
        if self.next_b <= self.now {
            self.b.handle_input(Input::Timeout(self.now)).expect("timeout");
            self.drain_b();
        }
    }

    /// `a` writes one packet (str0m numbers the transport-wide sequence and abs-send-time itself), then
    /// runs its output loop.
    fn write(&mut self, seq: SeqNo, timestamp: u32, marker: bool, payload: Arc<[u8]>) {
        self.write_only(seq, timestamp, marker, payload);
        self.drain_a();
    }

    fn write_only(&mut self, seq: SeqNo, timestamp: u32, marker: bool, payload: Arc<[u8]>) {
        let (ssrc, pt) = (self.ssrc.expect("ssrc"), self.pt.expect("pt"));
        let mut api = self.a.direct_api();
        let tx = api.stream_tx(&ssrc).expect("send stream");
        let w = RtpWrite::new(pt, seq, timestamp, self.now, payload)
            .marker(marker)
            .nackable(true)
            .ext_vals(ExtensionValues::default());
        tx.write_rtp(w);
    }
}

impl Pair for Theirs {
    fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    fn set_time(&mut self, since: Duration) {
        self.now = self.now.max(self.start + since);
    }

    fn send(&mut self, n: usize) {
        for _ in 0..n {
            self.now += PACKET_INTERVAL;
            self.seq += 1;
            self.timestamp = self.timestamp.wrapping_add(90);
            let payload = self.payload.clone();
            self.write_only(self.seq.into(), self.timestamp, false, payload);
            if !self.batched {
                self.drain_a();
            }
        }
        if self.batched {
            self.drain_a();
        }
    }

    fn receive(&mut self) -> usize {
        let mut media = 0;
        while let Some(t) = self.to_b.pop_front() {
            Self::deliver(&mut self.b, self.now, &t);
            media += self.drain_b();
        }
        media
    }

    fn tick(&mut self) {
        self.timers();
        self.exchange();
    }
}

// ---------------------------------------------------------------------------------------------------
// Measurement.

/// CPU nanoseconds per media packet of each phase, over one sample.
#[derive(Clone, Copy, Default)]
struct Phases {
    send: f64,
    receive: f64,
    feedback: f64,
}

/// Runs `rounds` batches on `p` and returns the CPU time per packet of each phase.
fn sample(p: &mut impl Pair, rounds: usize) -> Phases {
    let (mut send, mut receive, mut feedback) = (0u64, 0u64, 0u64);
    let mut packets = 0usize;
    for _ in 0..rounds {
        let t0 = thread_cpu_ns();
        p.send(BATCH);
        let t1 = thread_cpu_ns();
        let got = black_box(p.receive());
        let t2 = thread_cpu_ns();
        p.tick();
        let t3 = thread_cpu_ns();
        assert_eq!(got, BATCH, "every packet arrived");
        packets += BATCH;
        send += t1 - t0;
        receive += t2 - t1;
        feedback += t3 - t2;
    }
    let n = packets as f64;
    Phases { send: send as f64 / n, receive: receive as f64 / n, feedback: feedback as f64 / n }
}

fn median(mut v: Vec<f64>) -> Measurement {
    v.sort_by(f64::total_cmp);
    Measurement { ns_per_iter: v[v.len() / 2], iterations: v.len() as u64 }
}

/// Samples the two interleaved (and str0m a third time writing whole batches); the median of each phase,
/// and str0m's batched send.
fn per_packet(ours: &mut Ours, theirs: &mut Theirs) -> ([(Measurement, Measurement); 3], Measurement) {
    let (samples, rounds) = if quick() { (3, 4) } else { (11, 40) };
    let mut o = Vec::new();
    let mut t = Vec::new();
    let mut b = Vec::new();
    for _ in 0..samples {
        o.push(sample(ours, rounds));
        t.push(sample(theirs, rounds));
        theirs.batched = true;
        b.push(sample(theirs, rounds).send);
        theirs.batched = false;
    }
    let pick = |v: &[Phases], f: fn(&Phases) -> f64| median(v.iter().map(f).collect());
    let phases = [
        (pick(&o, |p| p.send), pick(&t, |p| p.send)),
        (pick(&o, |p| p.receive), pick(&t, |p| p.receive)),
        (pick(&o, |p| p.feedback), pick(&t, |p| p.feedback)),
    ];
    (phases, median(b))
}

/// The cipher's share of a packet: bare AES-256-GCM seal, and open of a sealed copy, of one packet (a
/// 12-byte header as AAD, the payload in place), on sansrtc's aes-gcm 0.11 and on str0m's aes-gcm 0.10.
fn bare_gcm() -> [(Measurement, Measurement); 2] {
    const KEY: [u8; 32] = [0x2b; 32];
    let packet = || vec![0x5a; 12 + PAYLOAD];
    let ours = {
        use aes_gcm::KeyInit;
        use aes_gcm::aead::AeadInOut;
        let aead = aes_gcm::Aes256Gcm::new(&KEY.into());
        let nonce = [7u8; 12].into();
        let mut buf = packet();
        let seal = measure_cpu(|| {
            let (aad, p) = buf.split_at_mut(12);
            aead.encrypt_inout_detached(&nonce, aad, p.into()).expect("seal")[0]
        });
        let mut sealed = packet();
        let (aad, p) = sealed.split_at_mut(12);
        let tag = aead.encrypt_inout_detached(&nonce, aad, p.into()).expect("seal");
        let open = measure_cpu(|| {
            buf.copy_from_slice(&sealed);
            let (aad, p) = buf.split_at_mut(12);
            aead.decrypt_inout_detached(&nonce, aad, p.into(), &tag).expect("open");
            buf[12]
        });
        (seal, open)
    };
    let theirs = {
        use aes_gcm010::KeyInit;
        use aes_gcm010::aead::AeadInPlace;
        let aead = aes_gcm010::Aes256Gcm::new_from_slice(&KEY).expect("key");
        let nonce = aes_gcm010::Nonce::from_slice(&[7u8; 12]);
        let mut buf = packet();
        let seal = measure_cpu(|| {
            let (aad, p) = buf.split_at_mut(12);
            aead.encrypt_in_place_detached(nonce, aad, p).expect("seal")[0]
        });
        let mut sealed = packet();
        let (aad, p) = sealed.split_at_mut(12);
        let tag = aead.encrypt_in_place_detached(nonce, aad, p).expect("seal");
        let open = measure_cpu(|| {
            buf.copy_from_slice(&sealed);
            let (aad, p) = buf.split_at_mut(12);
            aead.decrypt_in_place_detached(nonce, aad, p, &tag).expect("open");
            buf[12]
        });
        (seal, open)
    };
    [ours, theirs]
}

/// Allocations per packet of a warm send and a warm receive phase.
fn allocations(p: &mut impl Pair) -> (f64, f64) {
    let rounds = if quick() { 4 } else { 16 };
    let (mut send, mut receive) = (0, 0);
    for _ in 0..rounds {
        send += count_allocations(|| p.send(BATCH));
        receive += count_allocations(|| assert_eq!(p.receive(), BATCH));
        p.tick();
    }
    let n = (rounds * BATCH) as f64;
    (send as f64 / n, receive as f64 / n)
}

// ---------------------------------------------------------------------------------------------------
// Forwarding.

/// An SFU: `ingress.b` receives the publisher's stream; each `egress[i].a` sends it to subscriber `i`.
struct Sfu<P> {
    ingress: P,
    egress: Vec<P>,
    /// sansrtc only: forward each packet as received with `write_rtp_raw` (pass-through: the publisher's
    /// SSRC, sequence number and extensions) instead of `write_rtp`.
    raw: bool,
}

impl Sfu<Ours> {
    /// The SFU's work for one batch: receive each incoming datagram and forward its packet to every
    /// subscriber (`write_rtp` with the payload, timestamp and marker; the connection sets SSRC,
    /// sequence number and MID), copying each datagram out.
    fn forward(&mut self) -> usize {
        let now = self.ingress.now;
        let mut forwarded = 0;
        let held = std::mem::take(&mut self.ingress.to_b);
        for (source, destination, data) in &held.slots[..held.len] {
            let d = Datagram { source: *source, destination: *destination, contents: data };
            let _ = self.ingress.b.handle_receive(now, d);
            while let Some(e) = self.ingress.b.poll_event() {
                let Event::Rtp(p) = e else { continue };
                for s in &mut self.egress {
                    if self.raw {
                        s.a.write_rtp_raw(now, &s.mid, p.as_bytes()).expect("write_rtp_raw");
                        while let Some(t) = s.a.poll_transmit() {
                            s.to_b.push(t.source, t.destination, t.contents);
                        }
                        forwarded += 1;
                        continue;
                    }
                    let ext = [ExtensionValue::AbsSendTime(abs_send_time(now - s.start))];
                    let out = OutgoingRtp {
                        marker: p.marker,
                        extensions: &ext,
                        ..OutgoingRtp::new(s.pt, p.timestamp, p.payload())
                    };
                    s.a.write_rtp(now, &s.mid, &out).expect("write_rtp");
                    while let Some(t) = s.a.poll_transmit() {
                        s.to_b.push(t.source, t.destination, t.contents);
                    }
                    forwarded += 1;
                }
            }
        }
        self.ingress.to_b = held;
        self.ingress.to_b.len = 0;
        forwarded
    }
}

impl Sfu<Theirs> {
    /// The same for str0m: the received payload `Arc` goes to every subscriber's `write_rtp` uncopied.
    fn forward(&mut self) -> usize {
        let now = self.ingress.now;
        let mut forwarded = 0;
        self.ingress.keep = true;
        while let Some(t) = self.ingress.to_b.pop_front() {
            Theirs::deliver(&mut self.ingress.b, now, &t);
            self.ingress.drain_b();
            while let Some(p) = self.ingress.inbox.pop_front() {
                for s in &mut self.egress {
                    s.write(p.seq_no, p.header.timestamp, p.header.marker, p.payload.clone());
                    forwarded += 1;
                }
            }
        }
        forwarded
    }
}

trait Forward {
    fn forward(&mut self) -> usize;
    fn pairs(&mut self) -> Vec<&mut dyn Pair>;
}

impl Forward for Sfu<Ours> {
    fn forward(&mut self) -> usize {
        Sfu::<Ours>::forward(self)
    }
    fn pairs(&mut self) -> Vec<&mut dyn Pair> {
        std::iter::once(&mut self.ingress as &mut dyn Pair)
            .chain(self.egress.iter_mut().map(|p| p as &mut dyn Pair))
            .collect()
    }
}

impl Forward for Sfu<Theirs> {
    fn forward(&mut self) -> usize {
        Sfu::<Theirs>::forward(self)
    }
    fn pairs(&mut self) -> Vec<&mut dyn Pair> {
        std::iter::once(&mut self.ingress as &mut dyn Pair)
            .chain(self.egress.iter_mut().map(|p| p as &mut dyn Pair))
            .collect()
    }
}

/// Packets per forwarding batch.
const FORWARD_BATCH: usize = 16;

/// One forwarding batch: the publisher sends, the SFU forwards (timed, and its allocations counted when
/// `count`), the subscribers receive and everything else moves. The SFU's CPU ns, the packet ×
/// subscriber count and the allocations.
fn forward_round<S: Forward>(sfu: &mut S, elapsed: fn(&mut S) -> Duration, count: bool) -> (u64, usize, u64) {
    sfu.pairs()[0].send(FORWARD_BATCH);
    let since = elapsed(sfu);
    for p in sfu.pairs().iter_mut().skip(1) {
        p.set_time(since);
    }
    let mut forwarded = 0;
    let t0 = thread_cpu_ns();
    let allocations = if count {
        count_allocations(|| forwarded = sfu.forward())
    } else {
        forwarded = black_box(sfu.forward());
        0
    };
    let t1 = thread_cpu_ns();
    let subscribers = sfu.pairs().len() - 1;
    assert_eq!(forwarded, FORWARD_BATCH * subscribers, "every packet forwarded");
    for (i, p) in sfu.pairs().into_iter().enumerate() {
        if i > 0 {
            assert_eq!(p.receive(), FORWARD_BATCH, "every subscriber got every packet");
        }
        p.tick();
    }
    (t1 - t0, forwarded, allocations)
}

/// CPU ns per forwarded packet per subscriber (median of samples), and allocations per forwarded packet
/// per subscriber.
fn forwarding<S: Forward>(sfu: &mut S, elapsed: fn(&mut S) -> Duration) -> (Measurement, f64) {
    // Every stream's retransmission history filled to its bound first, as in a running SFU.
    for _ in 0..WARM_PACKETS.div_ceil(FORWARD_BATCH) {
        forward_round(sfu, elapsed, false);
    }
    let (samples, rounds) = if quick() { (3, 2) } else { (11, 6) };
    let mut v = Vec::new();
    for _ in 0..samples {
        let (mut ns, mut n) = (0, 0);
        for _ in 0..rounds {
            let (t, f, _) = forward_round(sfu, elapsed, false);
            ns += t;
            n += f;
        }
        v.push(ns as f64 / n as f64);
    }
    let (_, forwarded, allocations) = forward_round(sfu, elapsed, true);
    (median(v), allocations as f64 / forwarded as f64)
}

// ---------------------------------------------------------------------------------------------------

/// The frame rows: `write_frame` of a 20 kB VP8 frame to datagrams, and the former path (`packetize`,
/// then `write_rtp` per payload), measured in turn, twice, each keeping its faster round.
fn frames(certs: &(Certificate, Certificate)) {
    use sansrtc::packetize::Packetizer as _;
    const FRAME: usize = 20_000;
    let mut ours = Ours::connect(certs, 0);
    let data: Vec<u8> = (0..FRAME as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 | 1).collect();
    let mut former = sansrtc::packetize::vp8::Vp8Packetizer::new(1);
    fn drain(o: &mut Ours) -> usize {
        let mut n = 0;
        while let Some(t) = o.a.poll_transmit() {
            o.to_b.push(t.source, t.destination, t.contents);
            n += 1;
        }
        // The media is not delivered (only `a`'s send side is measured); timers, consent checks and
        // reports flow both ways when due, on both rows alike.
        o.to_b.len = 0;
        if o.a.poll_timeout().into_iter().chain(o.b.poll_timeout()).any(|t| t <= o.now) {
            o.tick();
        }
        n
    }
    // The packets write_frame makes of the frame under the connection's media MTU.
    ours.now += PACKET_INTERVAL * 20;
    let packets = ours.a.write_frame(ours.now, &ours.mid, &OutgoingFrame::new(0, &data)).expect("write_frame").packets;
    let write_frame = |o: &mut Ours| {
        o.now += PACKET_INTERVAL * 20;
        o.timestamp = o.timestamp.wrapping_add(3000);
        let f =
            o.a.write_frame(o.now, &o.mid, &OutgoingFrame::new(o.timestamp, black_box(&data))).expect("write_frame");
        assert_eq!(f.packets, packets);
        drain(o)
    };
    let mut former_path = |o: &mut Ours, max_payload: usize| {
        o.now += PACKET_INTERVAL * 20;
        o.timestamp = o.timestamp.wrapping_add(3000);
        let (a, now, mid, pt, ts) = (&mut o.a, o.now, &o.mid, o.pt, o.timestamp);
        former
            .packetize(black_box(&data), max_payload, &mut |p| {
                let packet = OutgoingRtp { marker: p.marker, ..OutgoingRtp::new(pt, ts, p.data) };
                a.write_rtp(now, mid, &packet).expect("write_rtp");
            })
            .expect("packetize");
        drain(o)
    };
    assert_eq!(drain(&mut ours), packets);
    assert_eq!(write_frame(&mut ours), packets, "a datagram per packet");
    // VP8 splits a frame into as many payloads as the limit needs, of even size: the former path's limit
    // is the largest of write_frame's payloads (its 4-byte descriptor included), so both send the same.
    let max_payload = FRAME.div_ceil(packets) + 4;
    assert_eq!(former_path(&mut ours, max_payload), packets, "as many datagrams on the former path");
    let faster = |x: Measurement, y: Measurement| if y.ns_per_iter < x.ns_per_iter { y } else { x };
    let a = measure_cpu(|| write_frame(&mut ours));
    let b = measure_cpu(|| former_path(&mut ours, max_payload));
    let a = faster(a, measure_cpu(|| write_frame(&mut ours)));
    let b = faster(b, measure_cpu(|| former_path(&mut ours, max_payload)));
    let name = "rtp/write_frame vp8 20 kB";
    compare(name, a, "former path", b);
    println!(
        "{name}: write_frame (packetize_parts) {:.0} ns per frame, {:.0} ns per packet; former path (packetize, \
         write_rtp) {:.0} ns per frame",
        a.ns_per_iter,
        a.ns_per_iter / packets as f64,
        b.ns_per_iter
    );
}

fn main() {
    let mut rng = SeededRng::from_seed([7; 32]);
    let our_certs = (Certificate::generate(&mut rng), Certificate::generate(&mut rng));
    // As in benches/pc.rs: str0m's DTLS on RustCrypto.
    dimpl07::crypto::CryptoProvider::install_default(dimpl07::crypto::rust_crypto::default_provider());
    let provider = Arc::new(str0m::crypto::from_feature_flags());
    let cert = || provider.dtls_provider.generate_certificate().expect("str0m certificate");
    let their_certs = (cert(), cert());
    println!(
        "RTP over a connected pair, VP8 + RTX + transport-cc, {PAYLOAD}-byte payloads, SRTP_AEAD_AES_256_GCM \
         on both; thread CPU time per packet"
    );

    frames(&our_certs);

    let mut ours = Ours::connect(&our_certs, 0);
    let mut theirs = Theirs::connect(&provider, &their_certs, 0);
    // Warm up: the SRTP sessions, the streams, the buffers, the first reports, and the retransmission
    // histories filled to their bounds.
    for _ in 0..WARM_PACKETS.div_ceil(BATCH) {
        sample(&mut ours, 1);
        sample(&mut theirs, 1);
    }
    let ([send, receive, feedback], batched) = per_packet(&mut ours, &mut theirs);
    let [(seal_o, open_o), (seal_t, open_t)] = bare_gcm();
    let mut ratios = Vec::new();
    for (name, (o, t), (bare_o, bare_t)) in [
        ("rtp/send write->datagram", send, (seal_o, seal_t)),
        ("rtp/receive datagram->event", receive, (open_o, open_t)),
    ] {
        report(name, "sansrtc", o);
        report(name, "str0m", t);
        ratios.push(compare(name, o, "str0m", t));
        let (xo, xt) = (o.ns_per_iter - bare_o.ns_per_iter, t.ns_per_iter - bare_t.ns_per_iter);
        println!(
            "{name}: bare AES-256-GCM {:.0} ns (aes-gcm 0.11, sansrtc's) / {:.0} ns (0.10, str0m's); beyond the \
             cipher sansrtc {xo:.0} ns, str0m {xt:.0} ns: {:.2}x",
            bare_o.ns_per_iter,
            bare_t.ns_per_iter,
            xt / xo
        );
    }
    report("rtp/send, str0m one loop per batch", "str0m", batched);
    let name = "rtp/timers+feedback per packet";
    println!(
        "{name:<34} sansrtc {:>10.1} ns/pkt    str0m        {:>10.1} ns/pkt",
        feedback.0.ns_per_iter, feedback.1.ns_per_iter
    );
    let total = |m: &[(Measurement, Measurement); 3], i: usize| -> f64 {
        m.iter().map(|p| if i == 0 { p.0.ns_per_iter } else { p.1.ns_per_iter }).sum()
    };
    let all = [send, receive, feedback];
    let (to, tt) = (total(&all, 0), total(&all, 1));
    println!(
        "rtp: send sansrtc {:.0} pkt/s, str0m {:.0} pkt/s: {:.2}x; receive sansrtc {:.0} pkt/s, str0m {:.0} pkt/s: \
         {:.2}x; all three phases sansrtc {to:.0} ns/pkt, str0m {tt:.0} ns/pkt: {:.2}x (target 3x)",
        send.0.per_second(),
        send.1.per_second(),
        ratios[0],
        receive.0.per_second(),
        receive.1.per_second(),
        ratios[1],
        tt / to,
    );

    let (os, or) = allocations(&mut ours);
    let (ts, tr) = allocations(&mut theirs);
    println!(
        "rtp/allocations per packet (warm)   sansrtc send {os:.2} receive {or:.2}   str0m send {ts:.2} receive {tr:.2}"
    );
    assert_eq!((os, or), (0.0, 0.0), "sansrtc's warm media path allocates nothing per packet");

    let subscribers = if quick() { 10 } else { 100 };
    let mut sfu = Sfu {
        ingress: Ours::connect(&our_certs, 0),
        egress: (1..=subscribers).map(|i| Ours::connect(&our_certs, i)).collect(),
        raw: false,
    };
    let (o, oa) = forwarding(&mut sfu, |s| s.ingress.elapsed());
    sfu.raw = true;
    let (raw, raw_allocs) = forwarding(&mut sfu, |s| s.ingress.elapsed());
    drop(sfu);
    let mut sfu = Sfu {
        ingress: Theirs::connect(&provider, &their_certs, 0),
        egress: (1..=subscribers).map(|i| Theirs::connect(&provider, &their_certs, i)).collect(),
        raw: false,
    };
    let (t, ta) = forwarding(&mut sfu, |s| s.ingress.elapsed());
    let name = format!("rtp/forward 1 -> {subscribers}, per sub");
    report(&name, "sansrtc", o);
    report(&name, "str0m", t);
    let ratio = compare(&name, o, "str0m", t);
    println!(
        "{name}: sansrtc {:.0} ns, str0m {:.0} ns per forwarded packet per subscriber: {ratio:.2}x; allocations per \
         forwarded packet sansrtc {oa:.2}, str0m {ta:.2}",
        o.ns_per_iter, t.ns_per_iter
    );
    let name = format!("rtp/forward 1 -> {subscribers} raw, per sub");
    report(&name, "sansrtc", raw);
    println!(
        "{name}: sansrtc write_rtp_raw (pass-through) {:.0} ns per forwarded packet per subscriber, {raw_allocs:.2} \
         allocations",
        raw.ns_per_iter
    );
    assert_eq!((oa, raw_allocs), (0.0, 0.0), "sansrtc forwards without allocating");
}
