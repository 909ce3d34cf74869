//! A connected peer connection with media under arbitrary RTP and RTCP. Two peer connections with fixed
//! seeds negotiate audio, video and a data channel in one BUNDLE group and connect in memory (ICE, DTLS,
//! SRTP keyed, the channel open). The input is then read as a program: RTP packets with arbitrary
//! headers (CSRCs, padding, extension blocks of any profile and contents, payload types, sequence
//! numbers, timestamps) and RTCP compounds (SR, RR, SDES, BYE, APP, NACK, TWCC, PLI, FIR, REMB, XR and
//! unknown types, with arbitrary bodies), their SSRC fields pointed at the real streams or not, which
//! either side protects through `write_rtp_raw` / `write_rtcp` (so they pass SRTP authentication and
//! reach the routing and RTCP handling), mixed with raw unprotected datagrams, real datagrams mutated,
//! dropped, duplicated or reordered, key-frame requests, messages and time steps. Nothing may panic, and
//! at the end the connection must still work: still connected, a clean video packet arrives intact on
//! its transceiver, and a message still crosses the data channel.
#![no_main]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use core::time::Duration;
use libfuzzer_sys::fuzz_target;
use sansrtc::dtls::Certificate;
use sansrtc::pc::{
    ChannelId, ChannelOptions, Config, ConnectionState, Event, MediaKind, OutgoingRtp, PeerConnection, Track,
    TransceiverInit,
};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

/// Virtual time the program may spend in all: below every timeout that would legitimately end the
/// connection (ICE consent, 30 s; SCTP's retransmission limit), so a connection lost is a bug.
const TIME_BUDGET: Duration = Duration::from_secs(20);

#[derive(Arbitrary, Debug)]
enum Op {
    /// An RTP packet protected and sent by one side.
    Rtp { from_a: bool, video: bool, rtp: Rtp },
    /// A compound RTCP packet protected and sent by one side.
    Rtcp { from_a: bool, parts: Vec<RtcpPart> },
    /// Raw bytes into one side, from its peer's address or from a stranger.
    Raw { to_a: bool, stranger: bool, bytes: Vec<u8> },
    /// A byte of the next datagram for one side flipped.
    Mutate { to_a: bool, at: u16, xor: u8 },
    /// The next datagram for one side lost.
    Drop { to_a: bool },
    /// The next datagram for one side sent twice (the copy last).
    Duplicate { to_a: bool },
    /// The next datagram for one side moved to the back.
    Reorder { to_a: bool },
    /// Up to `n` queued datagrams delivered each way.
    Deliver { n: u8 },
    /// Time passes (milliseconds), timers fire, then the queues are delivered.
    Wait(u16),
    /// One side asks for a key frame.
    Keyframe { from_a: bool, video: bool },
    /// A message on the channel from one side.
    Message { from_a: bool, len: u16 },
}

#[derive(Arbitrary, Debug)]
struct Rtp {
    /// Index into the known SSRCs; beyond them, `raw_ssrc`.
    ssrc: u8,
    raw_ssrc: u32,
    payload_type: u8,
    sequence_number: u16,
    timestamp: u32,
    marker: bool,
    csrcs: Vec<u32>,
    /// An extension block: its profile (0xBEDE one-byte, 0x100x two-byte, or any) and body words.
    extension: Option<(u16, Vec<u8>)>,
    /// Padding bytes (0: none).
    padding: u8,
    payload: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
enum RtcpKind {
    SenderReport,
    ReceiverReport,
    Sdes,
    Bye,
    App,
    Nack,
    Twcc,
    Pli,
    Fir,
    Remb,
    Xr,
    Other(u8, u8),
}

#[derive(Arbitrary, Debug)]
struct RtcpPart {
    kind: RtcpKind,
    /// The 5-bit count (reports, sources) where the kind does not fix it as a feedback format.
    count: u8,
    /// The sender's SSRC and (for feedback) the media SSRC: indexes into the known SSRCs or raw values.
    sender: u8,
    media: u8,
    raw_ssrc: u32,
    body: Vec<u8>,
}

/// Picks the `i`-th known SSRC, or `raw` beyond them.
fn pick(known: &[u32], i: u8, raw: u32) -> u32 {
    known.get(usize::from(i)).copied().unwrap_or(raw)
}

fn rtp_bytes(rtp: &Rtp, known: &[u32], reserved: u32) -> Vec<u8> {
    let mut ssrc = pick(known, rtp.ssrc, rtp.raw_ssrc);
    if ssrc == reserved {
        // The final check's stream stays the final check's: its SRTP index must not be pushed ahead.
        ssrc ^= 1;
    }
    let csrcs = &rtp.csrcs[..rtp.csrcs.len().min(15)];
    let mut out = Vec::with_capacity(1500);
    out.push(0x80 | (u8::from(rtp.padding > 0) << 5) | (u8::from(rtp.extension.is_some()) << 4) | csrcs.len() as u8);
    out.push((u8::from(rtp.marker) << 7) | (rtp.payload_type & 0x7f));
    out.extend_from_slice(&rtp.sequence_number.to_be_bytes());
    out.extend_from_slice(&rtp.timestamp.to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
    for c in csrcs {
        out.extend_from_slice(&c.to_be_bytes());
    }
    if let Some((profile, body)) = &rtp.extension {
        let body = &body[..body.len().min(1020) / 4 * 4];
        out.extend_from_slice(&profile.to_be_bytes());
        out.extend_from_slice(&((body.len() / 4) as u16).to_be_bytes());
        out.extend_from_slice(body);
    }
    out.extend_from_slice(&rtp.payload[..rtp.payload.len().min(1100)]);
    if rtp.padding > 0 {
        out.extend(core::iter::repeat_n(0, usize::from(rtp.padding) - 1));
        out.push(rtp.padding);
    }
    out
}

/// A compound RTCP packet, framed correctly (so `write_rtcp` takes it); the contents are the input's.
fn rtcp_bytes(parts: &[RtcpPart], known: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1200);
    for p in parts.iter().take(8) {
        let (pt, count, feedback, prefix): (u8, u8, bool, &[u8]) = match p.kind {
            RtcpKind::SenderReport => (200, p.count, false, &[]),
            RtcpKind::ReceiverReport => (201, p.count, false, &[]),
            RtcpKind::Sdes => (202, p.count, false, &[]),
            RtcpKind::Bye => (203, p.count, false, &[]),
            RtcpKind::App => (204, p.count, false, &[]),
            RtcpKind::Nack => (205, 1, true, &[]),
            RtcpKind::Twcc => (205, 15, true, &[]),
            RtcpKind::Pli => (206, 1, true, &[]),
            RtcpKind::Fir => (206, 4, true, &[]),
            RtcpKind::Remb => (206, 15, true, b"REMB"),
            RtcpKind::Xr => (207, 0, false, &[]),
            RtcpKind::Other(pt, count) => (pt, count, false, &[]),
        };
        let body = &p.body[..p.body.len().min(256)];
        let mut packet = Vec::with_capacity(16 + body.len());
        packet.push(0x80 | (count & 0x1f));
        packet.push(pt);
        packet.extend_from_slice(&[0, 0]);
        packet.extend_from_slice(&pick(known, p.sender, p.raw_ssrc).to_be_bytes());
        if feedback {
            let media = if pt == 206 && count != 1 { 0 } else { pick(known, p.media, p.raw_ssrc) };
            packet.extend_from_slice(&media.to_be_bytes());
        }
        packet.extend_from_slice(prefix);
        packet.extend_from_slice(body);
        // The first SSRC inside the body points at a stream too: a report block's (SR, RR), a FIR
        // entry's, the first of a REMB's list.
        let at = match p.kind {
            RtcpKind::SenderReport => Some(28),
            RtcpKind::ReceiverReport => Some(8),
            RtcpKind::Fir => Some(12),
            RtcpKind::Remb => Some(20),
            _ => None,
        };
        if let Some(field) = at.and_then(|at| packet.get_mut(at..at + 4)) {
            field.copy_from_slice(&pick(known, p.media, p.raw_ssrc).to_be_bytes());
        }
        while packet.len() % 4 != 0 {
            packet.push(0);
        }
        let words = (packet.len() / 4 - 1) as u16;
        packet[2..4].copy_from_slice(&words.to_be_bytes());
        out.extend_from_slice(&packet);
    }
    out
}

type Queue = VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>;

struct Link {
    a: PeerConnection,
    b: PeerConnection,
    /// Datagrams in flight to `a` and to `b`.
    to_a: Queue,
    to_b: Queue,
    now: Instant,
    chat: ChannelId,
    /// `b`'s id for the channel, once announced.
    b_chat: Option<ChannelId>,
    /// Whether `a` received a clean video packet from `b`.
    clean_video: bool,
    /// The messages `b` received.
    b_messages: Vec<Vec<u8>>,
}

impl Link {
    fn queue(&mut self, to_a: bool) -> &mut Queue {
        if to_a { &mut self.to_a } else { &mut self.to_b }
    }

    /// Moves both sides' transmits to the queues and drains their events. A transmit owed must have been
    /// announced by `poll_timeout`.
    fn drain(&mut self) {
        let now = self.now;
        let announced = |pc: &PeerConnection| pc.poll_timeout().is_some_and(|t| t <= now);
        let (a_announced, b_announced) = (announced(&self.a), announced(&self.b));
        while let Some(t) = self.a.poll_transmit() {
            assert!(a_announced, "a transmit owed without poll_timeout saying so");
            if self.to_b.len() < 1024 {
                self.to_b.push_back((t.source, t.destination, t.contents.to_vec()));
            }
        }
        while let Some(t) = self.b.poll_transmit() {
            assert!(b_announced, "a transmit owed without poll_timeout saying so");
            if self.to_a.len() < 1024 {
                self.to_a.push_back((t.source, t.destination, t.contents.to_vec()));
            }
        }
        while let Some(e) = self.a.poll_event() {
            if let Event::Rtp(p) = e {
                self.clean_video |= p.payload() == b"clean video" && &*p.mid == "1" && p.payload_type == 96;
            }
        }
        while let Some(e) = self.b.poll_event() {
            match e {
                Event::DataChannel { id, .. } => self.b_chat = Some(id),
                Event::Message { data, .. } => self.b_messages.push(data.to_vec()),
                _ => {}
            }
        }
    }

    /// Delivers up to `n` datagrams each way.
    fn deliver(&mut self, n: usize) {
        for _ in 0..n {
            let (x, y) = (self.to_a.pop_front(), self.to_b.pop_front());
            if x.is_none() && y.is_none() {
                break;
            }
            if let Some((source, destination, contents)) = x {
                let _ = self.a.handle_receive(self.now, Datagram { source, destination, contents: &contents });
            }
            if let Some((source, destination, contents)) = y {
                let _ = self.b.handle_receive(self.now, Datagram { source, destination, contents: &contents });
            }
        }
    }

    fn tick(&mut self, by: Duration) {
        self.now += by;
        for pc in [&mut self.a, &mut self.b] {
            if pc.poll_timeout().is_some_and(|t| t <= self.now) {
                pc.handle_timeout(self.now);
            }
        }
    }

    /// Delivers everything both ways, draining between.
    fn settle(&mut self) {
        for _ in 0..64 {
            self.drain();
            if self.to_a.is_empty() && self.to_b.is_empty() {
                break;
            }
            self.deliver(usize::MAX);
        }
        self.drain();
    }
}

/// Two connected peer connections with audio and video both ways and a channel open, or `None` if the
/// set-up failed (it does not: the seeds are fixed).
fn connected() -> Option<Link> {
    let now = Instant::ZERO;
    // The certificates are made once per process: key generation would dominate each run.
    static CERTIFICATES: OnceLock<[Certificate; 2]> = OnceLock::new();
    let [ca, cb] = CERTIFICATES
        .get_or_init(|| {
            let mut rng = SeededRng::from_seed([3; 32]);
            [Certificate::generate(&mut rng), Certificate::generate(&mut rng)]
        })
        .clone();
    let config = |certificate| Config { certificate: Some(certificate), ..Config::default() };
    let mut a = PeerConnection::new(config(ca), SeededRng::from_seed([1; 32]));
    let mut b = PeerConnection::new(config(cb), SeededRng::from_seed([2; 32]));
    a.add_local_host(now, "10.0.0.1:5000".parse().ok()?).ok()?;
    b.add_local_host(now, "10.0.0.2:5000".parse().ok()?).ok()?;
    a.end_of_local_candidates(now);
    b.end_of_local_candidates(now);
    a.add_track(now, Track::new(MediaKind::Audio, "a-mic"), &["a"]).ok()?;
    a.add_transceiver(now, Track::new(MediaKind::Video, "a-cam"), TransceiverInit::default()).ok()?;
    b.add_track(now, Track::new(MediaKind::Audio, "b-mic"), &["b"]).ok()?;
    b.add_track(now, Track::new(MediaKind::Video, "b-cam"), &["b"]).ok()?;
    let chat = a.create_data_channel(now, ChannelOptions::new("chat")).ok()?;
    let offer = a.create_offer().ok()?;
    a.set_local_description(now, &offer).ok()?;
    b.set_remote_description(now, &offer).ok()?;
    let answer = b.create_answer().ok()?;
    b.set_local_description(now, &answer).ok()?;
    a.set_remote_description(now, &answer).ok()?;
    let mut link = Link {
        a,
        b,
        to_a: VecDeque::new(),
        to_b: VecDeque::new(),
        now,
        chat,
        b_chat: None,
        clean_video: false,
        b_messages: Vec::new(),
    };
    for _ in 0..400 {
        link.settle();
        if link.a.connection_state() == ConnectionState::Connected
            && link.b.connection_state() == ConnectionState::Connected
            && link.a.channel_stream_id(chat).is_some()
            && link.b_chat.is_some()
            && link.a.srtp_profile().is_some()
        {
            return Some(link);
        }
        link.tick(Duration::from_millis(10));
    }
    None
}

/// The SSRCs of a connection's transceivers (media, then RTX).
fn ssrcs(pc: &PeerConnection) -> Vec<u32> {
    pc.transceivers().flat_map(|t| t.ssrcs().flat_map(|(_, m, r)| [m, r]).collect::<Vec<_>>()).collect()
}

fuzz_target!(|ops: Vec<Op>| {
    let Some(mut link) = connected() else { return };
    let (peer_of_a, a_addr): (SocketAddr, SocketAddr) =
        ("10.0.0.2:5000".parse().unwrap(), "10.0.0.1:5000".parse().unwrap());
    let stranger: SocketAddr = "10.9.9.9:9".parse().unwrap();
    // Known SSRCs: each side's own (media and RTX), then 1 and 0.
    let mut known = ssrcs(&link.a);
    known.extend(ssrcs(&link.b));
    known.extend([1, 0]);
    // `b`'s video SSRC carries the final clean packet.
    let reserved = link.b.transceiver_by_mid("1").and_then(|t| t.ssrcs().next()).map(|(_, m, _)| m);
    let Some(reserved) = reserved else { return };
    // A first clean packet makes the stream known to `a` (so the final one is not refused for a stream
    // table the program filled).
    let clean = OutgoingRtp::new(96, 0x1234_5678, b"clean video");
    link.b.write_rtp(link.now, "1", &clean).expect("b sends video");
    link.settle();
    assert!(link.clean_video, "media flows before the program");
    link.clean_video = false;
    let start = link.now;
    for op in ops.into_iter().take(512) {
        match op {
            Op::Rtp { from_a, video, rtp } => {
                let bytes = rtp_bytes(&rtp, &known, reserved);
                let (pc, now) = if from_a { (&mut link.a, link.now) } else { (&mut link.b, link.now) };
                let _ = pc.write_rtp_raw(now, if video { "1" } else { "0" }, &bytes);
            }
            Op::Rtcp { from_a, parts } => {
                let bytes = rtcp_bytes(&parts, &known);
                let (pc, now) = if from_a { (&mut link.a, link.now) } else { (&mut link.b, link.now) };
                let _ = pc.write_rtcp(now, &bytes);
            }
            Op::Raw { to_a, stranger: s, bytes } => {
                let (pc, mut source, destination) =
                    if to_a { (&mut link.a, peer_of_a, a_addr) } else { (&mut link.b, a_addr, peer_of_a) };
                if s {
                    source = stranger;
                }
                let _ = pc.handle_receive(link.now, Datagram { source, destination, contents: &bytes });
            }
            Op::Mutate { to_a, at, xor } => {
                if let Some((_, _, d)) = link.queue(to_a).front_mut() {
                    if !d.is_empty() {
                        let k = usize::from(at) % d.len();
                        d[k] ^= xor | 1;
                    }
                }
            }
            Op::Drop { to_a } => {
                link.queue(to_a).pop_front();
            }
            Op::Duplicate { to_a } => {
                let q = link.queue(to_a);
                if let Some(d) = q.front().cloned() {
                    q.push_back(d);
                }
            }
            Op::Reorder { to_a } => {
                let q = link.queue(to_a);
                q.rotate_left(usize::from(!q.is_empty()));
            }
            Op::Deliver { n } => link.deliver(usize::from(n % 16) + 1),
            Op::Wait(ms) => {
                let by = Duration::from_millis(u64::from(ms % 2000) + 1);
                if link.now + by <= start + TIME_BUDGET {
                    link.tick(by);
                }
                link.settle();
            }
            Op::Keyframe { from_a, video } => {
                let (pc, now) = if from_a { (&mut link.a, link.now) } else { (&mut link.b, link.now) };
                let _ = pc.request_keyframe(now, if video { "1" } else { "0" });
            }
            Op::Message { from_a, len } => {
                let body = vec![0x5a; usize::from(len % 4096)];
                let now = link.now;
                if from_a {
                    let _ = link.a.send_binary(now, link.chat, &body);
                } else if let Some(id) = link.b_chat {
                    let _ = link.b.send_binary(now, id, &body);
                }
            }
        }
        link.drain();
    }

    // The connection still works: what is in flight arrives, then a clean video packet and a message
    // cross, within a few seconds of virtual time (SCTP may have a retransmission to make).
    link.settle();
    let now = link.now;
    link.b.write_rtp(now, "1", &clean).expect("b still sends video");
    link.a.send_binary(now, link.chat, b"still open").expect("the channel is still open");
    let end = link.now + Duration::from_secs(10);
    while !(link.clean_video && link.b_messages.iter().any(|m| m == b"still open")) {
        link.settle();
        assert!(
            link.now < end,
            "the connection stopped working: video {}, states {:?} {:?}",
            link.clean_video,
            link.a.connection_state(),
            link.b.connection_state()
        );
        let next = [link.a.poll_timeout(), link.b.poll_timeout()].into_iter().flatten().min();
        let by = next.map_or(Duration::from_millis(10), |t| t.saturating_duration_since(link.now));
        link.tick(by.clamp(Duration::from_millis(1), Duration::from_millis(200)));
    }
    assert_eq!(link.a.connection_state(), ConnectionState::Connected);
    assert_eq!(link.b.connection_state(), ConnectionState::Connected);
});
