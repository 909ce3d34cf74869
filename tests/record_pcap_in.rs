//! Captures in: a session captured on one side (pcapng, as `RecordOptions::capture` writes it, and the same
//! packets rewritten as a classic pcap of Ethernet frames) is fed back into a connection configured as the
//! captured one. Fed the capture's inbound datagrams at the capture's times, it sends exactly the datagrams
//! the capture shows it sent, at the same times, and receives the same messages; packets of other sockets
//! and other sessions are skipped and counted; damaged captures give typed errors.

extern crate alloc;

use alloc::collections::VecDeque;
use core::net::SocketAddr;
use core::time::Duration;

use sansrtc::pc::{ChannelOptions, Config, ConnectionState, Description, Event, PeerConnection};
use sansrtc::record::{
    Capture, CaptureError, CaptureReader, Fed, FeedSummary, RecordOptions, RecordedPeerConnection, feed,
};
use sansrtc::{Datagram, Instant, Machine, PathMachine, Seed, SeededRng};

const SEED_A: Seed = [0xa1; 32];
const EPOCH: Duration = Duration::from_secs(1_700_000_000);
const MESSAGES: usize = 20;

/// Alice's calls before any datagram: her socket and the offer of a data channel (the same on a recorded
/// connection and on a plain one).
macro_rules! alice_setup {
    ($a:expr, $now:expr, $at:expr) => {{
        $a.add_local_host($now, $at).unwrap();
        $a.end_of_local_candidates($now);
        $a.create_data_channel($now, ChannelOptions::new("chat")).unwrap();
        let offer = $a.create_offer().unwrap();
        $a.set_local_description($now, &offer).unwrap();
        offer
    }};
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A datagram with the time it was sent or received.
type Stamped = (Instant, SocketAddr, SocketAddr, Vec<u8>);

/// Takes every transmit (stamped `now`) and event.
fn drain<P: PathMachine<Event = Event>>(pc: &mut P, now: Instant, sent: &mut Vec<Stamped>, events: &mut Vec<Event>) {
    while let Some(t) = pc.poll_transmit() {
        sent.push((now, t.source, t.destination, t.contents.to_vec()));
    }
    while let Some(e) = pc.poll_event() {
        events.push(e);
    }
}

/// Every timer due by `now`, each deadline once, as `feed` fires them.
fn alice_timers(a: &mut RecordedPeerConnection, now: Instant, sent: &mut Vec<Stamped>, events: &mut Vec<Event>) {
    let mut fired = None;
    while let Some(due) = a.poll_timeout().filter(|t| *t <= now && Some(*t) != fired) {
        fired = Some(due);
        a.handle_timeout(due);
        drain(a, due, sent, events);
    }
}

struct Recorded {
    capture: Vec<u8>,
    answer: Description,
    start: Instant,
    /// Alice's datagrams out, stamped.
    sent: Vec<Stamped>,
    received_messages: Vec<Vec<u8>>,
}

/// Alice (recorded, with a capture) offers a data channel; Bob answers and sends `MESSAGES` messages on
/// it. Event-driven virtual time, 5 ms each way.
fn live_session() -> Recorded {
    let start = Instant::from_millis(1000);
    let options = RecordOptions { capture: true, capture_epoch: EPOCH, ..RecordOptions::default() };
    let mut a = RecordedPeerConnection::new(Config::default(), SEED_A, options);
    let mut b = PeerConnection::new(Config::default(), SeededRng::from_seed([0xb2; 32]));
    let (a_addr, b_addr) = (addr("192.0.2.10:5000"), addr("198.51.100.20:6000"));
    let mut now = start;
    let (mut sent_a, mut events_a) = (Vec::new(), Vec::new());
    let offer = alice_setup!(a, now, a_addr);
    b.add_local_host(now, b_addr).unwrap();
    b.end_of_local_candidates(now);
    b.set_remote_description(now, &offer).unwrap();
    let answer_b = b.create_answer().unwrap();
    b.set_local_description(now, &answer_b).unwrap();
    a.set_remote_description(now, &answer_b).unwrap();
    drain(&mut a, now, &mut sent_a, &mut events_a);
    let delay = Duration::from_millis(5);
    let mut to_a: VecDeque<(Instant, Datagram<'static>)> = VecDeque::new();
    let mut to_b: VecDeque<(Instant, SocketAddr, SocketAddr, Vec<u8>)> = VecDeque::new();
    let mut flushed_a = 0;
    let mut sent_b = 0;
    let mut channel_b = None;
    let mut capture = Vec::new();
    let mut received = Vec::new();
    while received.len() < MESSAGES {
        assert!(now < Instant::from_secs(60), "the session did not complete");
        // Alice's sends go to Bob after the delay.
        for (t, s, d, data) in &sent_a[flushed_a..] {
            to_b.push_back((*t + delay, *s, *d, data.clone()));
        }
        flushed_a = sent_a.len();
        while let Some(t) = b.poll_transmit() {
            let contents: &'static [u8] = Box::leak(t.contents.to_vec().into_boxed_slice());
            to_a.push_back((now + delay, Datagram { source: t.source, destination: t.destination, contents }));
        }
        while let Some(e) = b.poll_event() {
            if let Event::DataChannel { id, .. } = e {
                channel_b = Some(id);
            }
        }
        if let Some(id) = channel_b
            && b.connection_state() == ConnectionState::Connected
            && sent_b < MESSAGES
            && b.data_channels().is_some()
        {
            if b.send_binary(now, id, &[sent_b as u8; 700]).is_ok() {
                sent_b += 1;
            }
            continue;
        }
        for e in events_a.drain(..) {
            if let Event::Message { data, .. } = e {
                received.push(data.to_vec());
            }
        }
        // The next moment anything happens.
        let next = [a.poll_timeout(), b.poll_timeout(), to_a.front().map(|p| p.0), to_b.front().map(|p| p.0)]
            .into_iter()
            .flatten()
            .min()
            .expect("something is always owed");
        now = now.max(next);
        if b.poll_timeout().is_some_and(|t| t <= now) {
            b.handle_timeout(now);
        }
        while to_b.front().is_some_and(|p| p.0 <= now) {
            let (_, source, destination, data) = to_b.pop_front().unwrap();
            let _ = b.handle_receive(now, Datagram { source, destination, contents: &data });
        }
        // Alice exactly as `feed` drives a connection.
        alice_timers(&mut a, now, &mut sent_a, &mut events_a);
        while to_a.front().is_some_and(|p| p.0 <= now) {
            let (_, d) = to_a.pop_front().unwrap();
            alice_timers(&mut a, now, &mut sent_a, &mut events_a);
            let _ = a.handle_receive(now, d);
            drain(&mut a, now, &mut sent_a, &mut events_a);
        }
        capture.extend(a.take_capture());
    }
    capture.extend(a.take_capture());
    assert_eq!(a.capture().unwrap().dropped(), 0);
    Recorded { capture, answer: answer_b, start, sent: sent_a, received_messages: received }
}

/// The capture's packets rewritten as a classic pcap (nanosecond timestamps, big-endian, Ethernet).
fn to_classic_pcap(capture: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xA1B2_3C4Du32.to_be_bytes());
    out.extend_from_slice(&2u16.to_be_bytes());
    out.extend_from_slice(&4u16.to_be_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65_535u32.to_be_bytes());
    out.extend_from_slice(&1u32.to_be_bytes());
    // The IP packets again, from the pcapng's raw-IP frames: find each datagram's IP packet by its offset.
    for p in CaptureReader::new(capture).unwrap().packets() {
        let p = p.unwrap();
        let d = p.udp.unwrap();
        let ip = ip_udp(d.source, d.destination, d.contents);
        let mut frame = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
        frame.extend_from_slice(&ip);
        out.extend_from_slice(&(p.timestamp.as_secs() as u32).to_be_bytes());
        out.extend_from_slice(&p.timestamp.subsec_nanos().to_be_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        out.extend_from_slice(&frame);
    }
    out
}

/// An IPv4 + UDP packet (checksums zero: "not computed" for UDP over IPv4).
fn ip_udp(src: SocketAddr, dst: SocketAddr, data: &[u8]) -> Vec<u8> {
    let (SocketAddr::V4(s), SocketAddr::V4(d)) = (src, dst) else { panic!("IPv4 in this test") };
    let mut p = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
    p[2..4].copy_from_slice(&((28 + data.len()) as u16).to_be_bytes());
    p.extend_from_slice(&s.ip().octets());
    p.extend_from_slice(&d.ip().octets());
    p.extend_from_slice(&s.port().to_be_bytes());
    p.extend_from_slice(&d.port().to_be_bytes());
    p.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(data);
    p
}

/// A STUN Binding request for another session (USERNAME `zzzz:yyyy`).
fn stranger_binding_request() -> Vec<u8> {
    let mut m = vec![0x00, 0x01, 0x00, 16, 0x21, 0x12, 0xA4, 0x42];
    m.extend_from_slice(&[9; 12]);
    m.extend_from_slice(&[0x00, 0x06, 0x00, 9]);
    m.extend_from_slice(b"zzzz:yyyy\0\0\0");
    m
}

struct Replayed {
    summary: FeedSummary,
    sent: Vec<Stamped>,
    messages: Vec<Vec<u8>>,
    state: ConnectionState,
}

/// A new Alice, built and set up as the recorded one, fed `capture`.
fn feed_alice(recorded: &Recorded, capture: &[u8]) -> (Replayed, Result<(), CaptureError>) {
    let a_addr = addr("192.0.2.10:5000");
    let mut a = PeerConnection::new(Config { key_log: true, ..Config::default() }, SeededRng::from_seed(SEED_A));
    let now = recorded.start;
    alice_setup!(a, now, a_addr);
    a.set_remote_description(now, &recorded.answer).unwrap();
    let (mut sent, mut events) = (Vec::new(), Vec::new());
    drain(&mut a, now, &mut sent, &mut events);
    let (summary, result) = feed(
        &mut a,
        capture,
        &[a_addr],
        EPOCH,
        |pc, d| pc.accepts(d),
        |now, out| match out {
            Fed::Transmit(t) => sent.push((now, t.source, t.destination, t.contents.to_vec())),
            Fed::Event(e) => events.push(e),
        },
    );
    let messages =
        events.into_iter().filter_map(|e| if let Event::Message { data, .. } = e { Some(data.to_vec()) } else { None });
    let fed = Replayed { summary, sent, messages: messages.collect(), state: a.connection_state() };
    (fed, result)
}

#[test]
fn a_fed_capture_reproduces_the_captured_session() {
    let recorded = live_session();
    assert_eq!(recorded.received_messages.len(), MESSAGES);
    // Packets of other sockets and sessions, in a second section of the file (time zero: they do not move
    // the clock).
    let mut other = Capture::new(Duration::ZERO, 1 << 20);
    let stranger = addr("203.0.113.99:7000");
    let stun = stranger_binding_request();
    other
        .received(Instant::ZERO, &Datagram { source: stranger, destination: addr("192.0.2.10:5000"), contents: &stun });
    other.received(Instant::ZERO, &Datagram { source: stranger, destination: addr("192.0.2.10:5001"), contents: b"x" });
    let mut capture = recorded.capture.clone();
    capture.extend(other.take());

    let inbound: Vec<(Instant, Vec<u8>)> = CaptureReader::new(&recorded.capture)
        .unwrap()
        .packets()
        .map(Result::unwrap)
        .filter_map(|p| {
            let d = p.udp.unwrap();
            let now = Instant::from_nanos((p.timestamp - EPOCH).as_nanos() as u64);
            (d.destination == addr("192.0.2.10:5000")).then(|| (now, d.contents.to_vec()))
        })
        .collect();
    let last_inbound = inbound.last().unwrap().0;
    // What the capture shows Alice sent up to her last input: the feed makes exactly that.
    let expected: Vec<&Stamped> = recorded.sent.iter().filter(|s| s.0 <= last_inbound).collect();
    assert!(expected.len() >= 10 && inbound.len() > MESSAGES, "{} out, {} in", expected.len(), inbound.len());

    for (format, file) in [("pcapng", capture.clone()), ("pcap", to_classic_pcap(&capture))] {
        let (fed, result) = feed_alice(&recorded, &file);
        result.unwrap();
        let s = fed.summary;
        assert_eq!(s.fed, inbound.len() as u64, "{format}: {s:?}");
        assert_eq!(s.outbound, recorded.sent.len() as u64, "{format}: every datagram Alice sent is skipped");
        assert_eq!((s.other_sessions, s.other_addresses, s.not_udp), (1, 1, 0), "{format}: {s:?}");
        assert_eq!(s.skipped(), recorded.sent.len() as u64 + 2);
        assert_eq!(s.end, last_inbound);
        assert_eq!(fed.state, ConnectionState::Connected, "{format}");
        let got: Vec<&Stamped> = fed.sent.iter().collect();
        assert_eq!(got.len(), expected.len(), "{format}: as many datagrams out as captured");
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(g, e, "{format}: datagram {i} out differs");
        }
        assert_eq!(fed.messages, recorded.received_messages, "{format}: the same messages");
    }
}

#[test]
fn a_damaged_capture_feeds_up_to_the_damage_and_names_it() {
    let recorded = live_session();
    // Cut in the middle of the tenth packet: the first nine are fed, then a typed error.
    let reader = CaptureReader::new(&recorded.capture).unwrap();
    let tenth = reader.packets().nth(9).unwrap().unwrap().offset;
    let (fed, result) = feed_alice(&recorded, &recorded.capture[..tenth + 30]);
    let e = result.unwrap_err();
    assert!(matches!(e, CaptureError::LyingLength { offset, .. } if offset == tenth + 4), "{e:?}");
    assert_eq!(fed.summary.fed + fed.summary.outbound, 9);
    // Not a capture at all.
    let (fed, result) = feed_alice(&recorded, b"not a capture");
    assert_eq!(result, Err(CaptureError::NotACapture));
    assert_eq!(fed.summary.fed, 0);
}
