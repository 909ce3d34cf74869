//! Bridges a browser to plain RTP over UDP, both ways, for GStreamer, ffmpeg and ffplay: what the
//! browser's camera and microphone send goes out as plain RTP with an SDP file to open it, and plain RTP
//! that arrives on a port goes to the browser.
//!
//! ```text
//! cargo run --release --example rtp_forward -- --http 127.0.0.1:8080 \
//!     --send-video 127.0.0.1:5004 --send-audio 127.0.0.1:5006 --sdp out.sdp \
//!     --recv-video 127.0.0.1:5008 --recv-audio 127.0.0.1:5010
//! ```
//!
//! Open `http://127.0.0.1:8080/` in a browser: the page sends its camera and microphone, POSTs its offer
//! to `/offer` (`application/sdp`, answered `201 Created` with the answer) and plays what comes back.
//!
//! **Browser → tool.** Play the browser's media with the SDP file (written at start, before any browser
//! connects, so the tool can be started first):
//!
//! ```text
//! ffplay -protocol_whitelist file,udp,rtp -i out.sdp
//! ffmpeg -protocol_whitelist file,udp,rtp -i out.sdp -c copy out.mkv
//! gst-launch-1.0 udpsrc port=5004 \
//!     caps="application/x-rtp,media=video,clock-rate=90000,encoding-name=VP8,payload=96" \
//!     ! rtpjitterbuffer ! rtpvp8depay ! vp8dec ! videoconvert ! autovideosink
//! gst-launch-1.0 udpsrc port=5006 \
//!     caps="application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=111" \
//!     ! rtpjitterbuffer ! rtpopusdepay ! opusdec ! audioconvert ! autoaudiosink
//! ```
//!
//! Each stream goes out with the payload type of the SDP file (96 for VP8, 111 for Opus), an SSRC of its
//! own and sequence numbers without jumps: a retransmission (RTX) goes out as the packet it repairs,
//! once; padding-only packets are not forwarded and the numbers close up over them; a new connection
//! continues the same stream (see `examples/rtp_forward/forward.rs`). The browser is asked for a key
//! frame (PLI) when its video starts and every `--keyframe-interval` seconds (default 2; 0: only at
//! the start), so a tool started late soon has one to decode from.
//!
//! **Tool → browser.** RTP sent to `--recv-video` / `--recv-audio` goes to the browser on the connection's
//! video / audio transceiver (the answer then says `sendrecv`), with the negotiated payload type and the
//! connection's own SSRC and sequence numbers
//! ([`write_rtp`](sansrtc::pc::PeerConnection::write_rtp)); packets older than the newest are dropped, so
//! are RTCP and padding-only packets. Keep the packets within 1200 octets (`mtu=1200`, `pkt_size=1200`):
//! the connection adds its header extensions and the SRTP tag, and the datagram must still fit the path.
//! Send key frames often: the tool cannot hear the browser's key-frame requests.
//!
//! ```text
//! gst-launch-1.0 videotestsrc is-live=true ! video/x-raw,width=640,height=480,framerate=30/1 \
//!     ! vp8enc deadline=1 keyframe-max-dist=30 ! rtpvp8pay mtu=1200 ! udpsink host=127.0.0.1 port=5008
//! gst-launch-1.0 audiotestsrc is-live=true ! opusenc ! rtpopuspay mtu=1200 ! udpsink host=127.0.0.1 port=5010
//! ffmpeg -re -f lavfi -i testsrc=size=640x480:rate=30 -c:v libvpx -deadline realtime -g 30 \
//!     -f rtp 'rtp://127.0.0.1:5008?pkt_size=1200'
//! ```
//!
//! Defaults: `--http 127.0.0.1:8080`; the connection's UDP socket on the HTTP address's IP, any port
//! (`--udp ADDR`); `--video-codec VP8` (or `VP9`, `H264`, `AV1`: the only video codec answered, and the
//! one in the SDP file, on Chromium's payload type for it: 98, 108, 45). VP8 and H.264 play in ffmpeg,
//! ffplay and GStreamer (`rtph264depay ! avdec_h264`); VP9 in GStreamer (`rtpvp9depay ! vp9dec`), not in
//! Debian's ffmpeg 5, whose RTP VP9 input is experimental and rejects Chromium's stream; AV1 needs a tool
//! with an AV1 RTP depacketizer. Audio is Opus. One connection at a time, ICE lite; a new offer replaces the
//! connection before it. A port given as 0 (`--recv-video 127.0.0.1:0`) is picked by the system and
//! printed. `SANSRTC_LOG` selects log lines (see `examples/support/log.rs`); Ctrl-C closes the connection
//! and exits, printing what was forwarded. `tests/rtp_forward.rs` runs it with headless Chromium and
//! `gst-launch-1.0`, both ways.

extern crate alloc;

use alloc::borrow::Cow;
use alloc::sync::Arc;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;
use std::io;
use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, SyncSender, TrySendError, channel, sync_channel};

use sansrtc::pc::{
    Codec, Config, ConnectionState, Description, Direction, Event, MediaKind, OutgoingRtp, PeerConnection, RtpPacket,
    Track,
};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng, StdAnchor};

/// `SANSRTC_LOG` filter for tracing output (see `examples/support/log.rs`).
#[path = "support/log.rs"]
mod log;

/// The echo server's HTTP/1.1 server.
#[allow(dead_code)] // Parts only the echo server uses.
#[path = "echo_server/http.rs"]
mod http;

/// `POST /offer` handed to the connection's thread.
#[path = "support/signal.rs"]
mod signal;
/// The receive step the UDP examples share.
#[path = "support/udp.rs"]
mod udp;

#[path = "rtp_forward/forward.rs"]
mod forward;

use forward::{Inbound, Input, KeyframeSchedule, Outbound, SdpStream, Sequence};
use http::{Request, Response};
use signal::Offer;

/// The page served at `GET /`.
const PAGE: &str = include_str!("rtp_forward/page.html");
/// Datagrams from the plain RTP ports waiting for the connection's thread; more are dropped.
const QUEUE: usize = 512;
/// The longest the loop sleeps when nothing is due (it also looks at the stop flag).
const IDLE: Duration = Duration::from_millis(500);
/// The target of the example's own log lines.
const TARGET: &str = "rtp_forward";

fn usage(msg: &str) -> ! {
    eprintln!("rtp_forward: {msg}");
    eprintln!(
        "usage: rtp_forward [--http ADDR] [--udp ADDR] [--send-video ADDR] [--send-audio ADDR] [--sdp FILE]\n\
         \x20                  [--recv-video ADDR] [--recv-audio ADDR] [--keyframe-interval SECONDS]\n\
         \x20                  [--video-codec VP8|VP9|H264|AV1]"
    );
    std::process::exit(2)
}

/// The command line.
struct Args {
    http: SocketAddr,
    udp: Option<SocketAddr>,
    send_video: Option<SocketAddr>,
    send_audio: Option<SocketAddr>,
    sdp: Option<PathBuf>,
    recv_video: Option<SocketAddr>,
    recv_audio: Option<SocketAddr>,
    keyframe_interval: Option<Duration>,
    video_codec: Codec,
}

fn parse_args() -> Args {
    let mut a = Args {
        http: SocketAddr::from(([127, 0, 0, 1], 8080)),
        udp: None,
        send_video: None,
        send_audio: None,
        sdp: None,
        recv_video: None,
        recv_audio: None,
        keyframe_interval: Some(Duration::from_secs(2)),
        video_codec: Codec::vp8(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        let mut addr = || value().parse::<SocketAddr>().unwrap_or_else(|_| usage(&format!("bad {arg} address")));
        match arg.as_str() {
            "--http" => a.http = addr(),
            "--udp" => a.udp = Some(addr()),
            "--send-video" => a.send_video = Some(addr()),
            "--send-audio" => a.send_audio = Some(addr()),
            "--recv-video" => a.recv_video = Some(addr()),
            "--recv-audio" => a.recv_audio = Some(addr()),
            "--sdp" => a.sdp = Some(value().into()),
            "--keyframe-interval" => {
                let s: f64 = value().parse().unwrap_or_else(|_| usage("--keyframe-interval takes seconds"));
                a.keyframe_interval = match s {
                    0.0 => None,
                    s if s > 0.0 && s < 86_400.0 => Some(Duration::from_secs_f64(s)),
                    _ => usage("--keyframe-interval takes seconds (0 for none after the first)"),
                };
            }
            "--video-codec" => {
                let name = value();
                a.video_codec = Codec::defaults()
                    .into_iter()
                    .find(|c| c.kind == MediaKind::Video && c.name.eq_ignore_ascii_case(&name))
                    .unwrap_or_else(|| usage(&format!("--video-codec {name}: VP8, VP9, H264 or AV1")));
            }
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if a.sdp.is_some() && a.send_video.is_none() && a.send_audio.is_none() {
        usage("--sdp describes --send-video and --send-audio: give one");
    }
    a
}

fn main() {
    log::init();
    let args = parse_args();
    if let Err(e) = run(args) {
        eprintln!("rtp_forward: {e}");
        std::process::exit(1);
    }
}

/// A datagram from a plain RTP port.
struct Plain {
    kind: MediaKind,
    data: Vec<u8>,
}

/// Binds everything, writes the SDP file, serves HTTP on a thread, reads the plain RTP ports on a thread
/// each, and runs the connection on this one until Ctrl-C.
fn run(args: Args) -> io::Result<()> {
    let listener = TcpListener::bind(args.http)?;
    let http = listener.local_addr()?;
    let socket = UdpSocket::bind(args.udp.unwrap_or_else(|| SocketAddr::new(http.ip(), 0)))?;
    let local = socket.local_addr()?;
    // Wake-ups (a zero-length datagram: an offer, plain RTP queued, Ctrl-C) come from this socket.
    let waker = Arc::new(UdpSocket::bind(SocketAddr::new(signal::wake_ip(local), 0))?);
    let stop = Arc::new(AtomicBool::new(false));
    {
        let (stop, waker) = (stop.clone(), waker.clone());
        ctrlc::set_handler(move || {
            stop.store(true, Ordering::Relaxed);
            let _ = waker.send_to(&[], local);
        })
        .map_err(io::Error::other)?;
    }
    let (offers, offers_rx) = channel::<Offer>();
    {
        let waker = waker.clone();
        let handler = move |req: Request| handle(req, &offers, &waker, local);
        std::thread::Builder::new().name("http".into()).spawn(move || http::serve(listener, || false, handler))?;
    }
    println!("rtp_forward: http://{http}/  udp {local}");

    let mut rng = SeededRng::from_os().map_err(|e| io::Error::other(format!("OS random source: {e}")))?;
    let video_codec = args.video_codec.clone();
    let opus = Codec::opus();
    let mut video = Lane::new(MediaKind::Video, video_codec, args.send_video, &mut rng, args.keyframe_interval)?;
    let mut audio = Lane::new(MediaKind::Audio, opus, args.send_audio, &mut rng, None)?;
    if let Some(path) = &args.sdp {
        let streams: Vec<SdpStream> = [&video, &audio].into_iter().filter_map(|l| l.sdp_stream()).collect();
        std::fs::write(path, forward::sdp_file(&streams))
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        println!("rtp_forward: wrote {}", path.display());
    }
    for lane in [&video, &audio] {
        if let Some((to, out, _)) = &lane.send {
            println!("rtp_forward: {} RTP out to {to} (SSRC {:#010x})", lane.kind, out.ssrc());
        }
    }
    // The plain RTP ports, each read on a thread of its own into one bounded queue.
    let (plain_tx, plain) = sync_channel::<Plain>(QUEUE);
    let pending = Arc::new(AtomicBool::new(false));
    let overflow = Arc::new(AtomicU64::new(0));
    for (kind, addr, lane) in
        [(MediaKind::Video, args.recv_video, &mut video), (MediaKind::Audio, args.recv_audio, &mut audio)]
    {
        let Some(addr) = addr else { continue };
        let port = UdpSocket::bind(addr)?;
        println!("rtp_forward: {kind} RTP in on {}", port.local_addr()?);
        lane.recv = Some(Inbound::new(lane.codec.clock_rate));
        let queue = Queue { tx: plain_tx.clone(), pending: pending.clone(), overflow: overflow.clone() };
        let waker = waker.clone();
        std::thread::Builder::new()
            .name(format!("{kind} in"))
            .spawn(move || read_plain(&port, kind, &queue, &waker, local))?;
    }
    drop(plain_tx);
    let mut bridge = Bridge {
        socket,
        local,
        clock: StdAnchor::starting_now(),
        rng,
        video,
        audio,
        session: None,
        sessions: 0,
        dropped_in: 0,
    };
    bridge.run(&offers_rx, &plain, &pending, &stop)?;
    bridge.end(bridge.clock.now(), "Ctrl-C");
    for lane in [&bridge.video, &bridge.audio].into_iter().filter(|l| l.send.is_some() || l.recv.is_some()) {
        println!("rtp_forward: {}", lane.summary());
    }
    if bridge.video.recv.is_some() || bridge.audio.recv.is_some() {
        println!(
            "rtp_forward: plain RTP in: {} packets with no connection sending to take them, {} dropped on a full queue",
            bridge.dropped_in,
            overflow.load(Ordering::Relaxed)
        );
    }
    Ok(())
}

fn handle(req: Request, offers: &Sender<Offer>, waker: &UdpSocket, udp: SocketAddr) -> Response {
    let path = req.path.split('?').next().unwrap_or_default();
    match (req.method.as_str(), path) {
        ("GET", "/" | "/index.html") => Response::new("200 OK", "text/html; charset=utf-8", PAGE.as_bytes().to_vec()),
        ("POST", "/offer") => signal::post_offer(req, offers, waker, udp),
        ("POST", "/report") => {
            println!("report: {}", String::from_utf8_lossy(&req.body).replace('\n', " "));
            Response::text("204 No Content", "")
        }
        _ => Response::text("404 Not Found", "not found\n"),
    }
}

/// The queue from the plain RTP ports to the connection's thread.
struct Queue {
    tx: SyncSender<Plain>,
    /// Set when the connection's thread has been woken and has not taken the queue yet.
    pending: Arc<AtomicBool>,
    /// Datagrams dropped on a full queue.
    overflow: Arc<AtomicU64>,
}

/// Reads one plain RTP port into the queue. The connection's thread is woken by a datagram only when it
/// has taken everything queued before (`pending` clear), not once per packet.
fn read_plain(port: &UdpSocket, kind: MediaKind, queue: &Queue, waker: &UdpSocket, wake: SocketAddr) {
    let mut buf = vec![0u8; 2048];
    loop {
        let n = match port.recv_from(&mut buf) {
            Ok((n, _)) => n,
            Err(e) if matches!(e.kind(), io::ErrorKind::Interrupted | io::ErrorKind::ConnectionRefused) => continue,
            Err(e) => {
                eprintln!("rtp_forward: {kind} RTP in: {e}");
                return;
            }
        };
        // A full queue drops the datagram (the browser sees a loss); a closed one ends the thread.
        match queue.tx.try_send(Plain { kind, data: buf.get(..n).unwrap_or_default().to_vec() }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                queue.overflow.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => return,
        }
        if !queue.pending.swap(true, Ordering::AcqRel) {
            let _ = waker.send_to(&[], wake);
        }
    }
}

/// One kind of media: its codec, where the browser's stream goes, what comes in for the browser.
struct Lane {
    kind: MediaKind,
    /// The codec of the SDP file (its payload type is the one the tool sees).
    codec: Codec,
    /// Where the browser's stream goes, how, and the socket it goes out of.
    send: Option<(SocketAddr, Outbound, UdpSocket)>,
    recv: Option<Inbound>,
    keyframes: KeyframeSchedule,
    keyframe_requests: u64,
    /// Plain RTP packets sent to the browser, and refused by the connection (none connected, say).
    to_browser: u64,
    refused: u64,
}

impl Lane {
    fn new(
        kind: MediaKind,
        codec: Codec,
        send: Option<SocketAddr>,
        rng: &mut SeededRng,
        keyframe_interval: Option<Duration>,
    ) -> io::Result<Lane> {
        let send = match send {
            Some(to) => {
                let out = Outbound::new(rng.u32(), codec.payload_type, codec.clock_rate, rng.u32() as u16, rng.u32());
                let any: IpAddr =
                    if to.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { Ipv6Addr::UNSPECIFIED.into() };
                Some((to, out, UdpSocket::bind(SocketAddr::new(any, 0))?))
            }
            None => None,
        };
        Ok(Lane {
            kind,
            codec,
            send,
            recv: None,
            keyframes: KeyframeSchedule::new(keyframe_interval),
            keyframe_requests: 0,
            to_browser: 0,
            refused: 0,
        })
    }

    fn sdp_stream(&self) -> Option<SdpStream> {
        let (to, ..) = self.send.as_ref()?;
        Some(SdpStream {
            media: if self.kind == MediaKind::Video { "video" } else { "audio" },
            destination: *to,
            payload_type: self.codec.payload_type,
            name: self.codec.name.to_string(),
            clock_rate: self.codec.clock_rate,
            channels: if self.kind == MediaKind::Video { 0 } else { self.codec.channels },
            fmtp: self.codec.fmtp.to_string(),
        })
    }

    fn summary(&self) -> String {
        let mut s = format!("{}:", self.kind);
        if let Some((to, out, _)) = &self.send {
            let o = out.stats;
            s += &format!(
                " {} RTP packets to {to} ({} retransmissions unwrapped, {} padding-only skipped, {} duplicates, \
                 {} too late, {} of another source, {} source switches), {} key frames asked for;",
                o.forwarded,
                o.unwrapped,
                o.padding,
                o.duplicates,
                o.late,
                o.other_source,
                o.switches,
                self.keyframe_requests
            );
        }
        if let Some(i) = &self.recv {
            let st = i.stats;
            s += &format!(
                " {} plain RTP packets to the browser, {} refused ({} not RTP, {} padding-only, {} out of order, \
                 {} of another source)",
                self.to_browser, self.refused, st.not_rtp, st.padding, st.late, st.other_source
            );
        }
        s
    }
}

/// The connection and what its transceivers carry.
struct Session {
    pc: PeerConnection,
    name: u64,
    video: Option<Bound>,
    audio: Option<Bound>,
}

/// A transceiver the lane uses: its mid, the negotiated payload type of the lane's codec and of its RTX,
/// and whether it receives from the browser and sends to it.
struct Bound {
    mid: String,
    payload_type: u8,
    rtx_payload_type: Option<u8>,
    receives: bool,
    sends: bool,
}

/// The thread of the connection.
struct Bridge {
    socket: UdpSocket,
    local: SocketAddr,
    clock: StdAnchor,
    rng: SeededRng,
    video: Lane,
    audio: Lane,
    session: Option<Session>,
    sessions: u64,
    /// Plain RTP packets that came while no connection was sending on their transceiver.
    dropped_in: u64,
}

impl Bridge {
    /// The README loop: input (a datagram, plain RTP, or a deadline), timers, events, transmits.
    fn run(
        &mut self,
        offers: &Receiver<Offer>,
        plain: &Receiver<Plain>,
        pending: &AtomicBool,
        stop: &AtomicBool,
    ) -> io::Result<()> {
        let mut buf = vec![0u8; 65_536];
        // A second handle on the socket, so that receiving can borrow the bridge mutably.
        let socket = self.socket.try_clone()?;
        while !stop.load(Ordering::Relaxed) {
            while let Ok(offer) = offers.try_recv() {
                let answer = self.answer(&offer.sdp);
                let _ = offer.reply.send(answer);
            }
            let now = self.clock.now();
            let wait = self.deadline().map_or(IDLE, |t| t.saturating_duration_since(now));
            let wait = wait.clamp(Duration::from_micros(100), IDLE);
            udp::receive_step(&socket, &mut buf, wait, |source, data| self.receive(source, data))?;
            // Cleared before the queue is taken: a packet queued after this wakes the loop again.
            pending.store(false, Ordering::Release);
            while let Ok(p) = plain.try_recv() {
                self.send_plain(&p);
            }
            self.drive(self.clock.now());
        }
        Ok(())
    }

    fn receive(&mut self, source: SocketAddr, data: &[u8]) {
        // Zero-length datagrams are wake-ups.
        let (Some(s), false) = (self.session.as_mut(), data.is_empty()) else { return };
        let _ = s.pc.handle_receive(self.clock.now(), Datagram { source, destination: self.local, contents: data });
    }

    /// The earliest of the connection's deadline and the next key-frame request.
    fn deadline(&self) -> Option<Instant> {
        let s = self.session.as_ref()?;
        [s.pc.poll_timeout(), self.video.keyframes.poll_timeout()].into_iter().flatten().min()
    }

    /// A plain RTP datagram for the browser: on the lane's transceiver, if it sends.
    fn send_plain(&mut self, p: &Plain) {
        let now = self.clock.now();
        let Bridge { video, audio, session, dropped_in, .. } = self;
        let lane = if p.kind == MediaKind::Video { video } else { audio };
        let Some(packet) = lane.recv.as_mut().and_then(|i| i.accept(now, &p.data)) else { return };
        let Some(Session { pc, video, audio, .. }) = session.as_mut() else {
            *dropped_in += 1;
            return;
        };
        let bound = if p.kind == MediaKind::Video { video.as_ref() } else { audio.as_ref() };
        let Some(b) = bound.filter(|b| b.sends) else {
            *dropped_in += 1;
            return;
        };
        let out =
            OutgoingRtp { marker: packet.marker, ..OutgoingRtp::new(b.payload_type, packet.timestamp, packet.payload) };
        match pc.write_rtp(now, &b.mid, &out) {
            Ok(_) => lane.to_browser += 1,
            Err(e) => {
                if lane.refused == 0 {
                    tracing::debug!(target: TARGET, error = %e, kind = %p.kind, "plain RTP refused");
                }
                lane.refused += 1;
            }
        }
    }

    /// Timers, key-frame requests, events, transmits.
    fn drive(&mut self, now: Instant) {
        let Some(s) = self.session.as_mut() else { return };
        if s.pc.poll_timeout().is_some_and(|t| t <= now) {
            s.pc.handle_timeout(now);
        }
        if self.video.keyframes.due(now) {
            if let Some(b) = s.video.as_ref().filter(|b| b.receives) {
                match s.pc.request_keyframe(now, &b.mid) {
                    Ok(()) => self.video.keyframe_requests += 1,
                    Err(e) => tracing::debug!(target: TARGET, error = %e, "key-frame request not sent"),
                }
            }
        }
        let mut ended = None;
        while let Some(event) = s.pc.poll_event() {
            match event {
                Event::Rtp(packet) => {
                    let from =
                        |b: &Option<Bound>| b.as_ref().is_some_and(|b| b.receives && b.mid == packet.mid.as_str());
                    if from(&s.video) {
                        forward(&mut self.video, s.video.as_ref(), now, &packet);
                    } else if from(&s.audio) {
                        forward(&mut self.audio, s.audio.as_ref(), now, &packet);
                    }
                }
                Event::ConnectionState(state) => {
                    println!("rtp_forward: peer{} connection {state}", s.name);
                    if matches!(state, ConnectionState::Closed | ConnectionState::Failed) {
                        ended = Some(state);
                    }
                }
                Event::KeyframeRequest { mid, .. } => {
                    // Only the tool's encoder could make one; it does not hear us.
                    tracing::debug!(target: TARGET, %mid, "the browser asks for a key frame");
                }
                _ => {}
            }
        }
        while let Some(t) = s.pc.poll_transmit() {
            let _ = self.socket.send_to(t.contents, t.destination);
        }
        if let Some(state) = ended {
            self.end(now, &format!("connection {state}"));
        }
    }

    /// A new connection for `offer`, replacing the one before; returns the answer. The lane's codec
    /// alone; a track of ours where plain RTP comes in for the browser.
    fn answer(&mut self, offer: &str) -> Result<String, Response> {
        let now = self.clock.now();
        self.end(now, "replaced by a new offer");
        let mut config = Config::default();
        // A server on an address the browser reaches needs no checks of its own (RFC 8445 §2.5).
        config.ice.lite = true;
        config.codecs = Cow::Owned(vec![self.audio.codec.clone(), self.video.codec.clone()]);
        let mut pc = PeerConnection::new(config, self.rng.fork());
        let bad = |e: sansrtc::pc::Error| Response::text("400 Bad Request", format!("{e}\n"));
        pc.add_local_host(now, self.local)
            .map_err(|e| Response::text("500 Internal Server Error", format!("{e}\n")))?;
        pc.end_of_local_candidates(now);
        pc.set_remote_description(now, &Description::offer(offer)).map_err(bad)?;
        for lane in [&self.video, &self.audio] {
            if lane.recv.is_some() {
                let track = Track::new(lane.kind, format!("plain-{}", lane.kind));
                if let Err(e) = pc.add_track(now, track, &["rtp_forward"]) {
                    println!("rtp_forward: no {} track for the browser: {e}", lane.kind);
                }
            }
        }
        let answer = pc.create_answer().map_err(bad)?;
        pc.set_local_description(now, &answer).map_err(bad)?;
        let bind = |kind: MediaKind, codec: &Codec| {
            pc.transceivers().filter(|t| t.kind() == kind && !t.is_stopping()).find_map(|t| {
                let c = t.codecs().iter().find(|c| c.name.eq_ignore_ascii_case(&codec.name))?;
                let dir = t.current_direction()?;
                Some(Bound {
                    mid: t.mid()?.to_string(),
                    payload_type: c.payload_type,
                    rtx_payload_type: c.rtx_payload_type,
                    receives: matches!(dir, Direction::RecvOnly | Direction::SendRecv),
                    sends: matches!(dir, Direction::SendOnly | Direction::SendRecv),
                })
            })
        };
        let video = bind(MediaKind::Video, &self.video.codec);
        let audio = bind(MediaKind::Audio, &self.audio.codec);
        self.sessions += 1;
        let describe = |b: &Option<Bound>, codec: &Codec| match b {
            Some(b) => format!(
                "{} on mid {} (payload type {}{}{})",
                codec.name,
                b.mid,
                b.payload_type,
                if b.receives { ", from the browser" } else { "" },
                if b.sends { ", to the browser" } else { "" }
            ),
            None => "none".into(),
        };
        println!(
            "rtp_forward: peer{} answered: video {}; audio {}",
            self.sessions,
            describe(&video, &self.video.codec),
            describe(&audio, &self.audio.codec)
        );
        self.video.keyframes.stop();
        self.session = Some(Session { pc, name: self.sessions, video, audio });
        Ok(answer.sdp)
    }

    /// Closes and forgets the connection.
    fn end(&mut self, now: Instant, why: &str) {
        let Some(mut s) = self.session.take() else { return };
        s.pc.close(now);
        while let Some(t) = s.pc.poll_transmit() {
            let _ = self.socket.send_to(t.contents, t.destination);
        }
        self.video.keyframes.stop();
        println!("rtp_forward: peer{} {why}", s.name);
    }
}

/// A packet from the browser out as plain RTP on the lane, if it sends anywhere. Its payload type must be
/// the lane's codec or that codec's RTX (unrestored: the original is unwrapped, RFC 4588 §4); the first
/// video packet starts the key-frame requests.
fn forward(lane: &mut Lane, bound: Option<&Bound>, now: Instant, packet: &RtpPacket) {
    let (Some((to, outbound, out)), Some(b)) = (lane.send.as_mut(), bound) else { return };
    let input = if packet.rtx {
        let (Some(&[hi, lo]), Some(original)) = (packet.payload().first_chunk::<2>(), packet.payload().get(2..)) else {
            return;
        };
        if Some(packet.payload_type) != b.rtx_payload_type {
            return;
        }
        Input {
            ssrc: packet.ssrc,
            sequence: Sequence::Retransmission(u16::from_be_bytes([hi, lo])),
            timestamp: packet.timestamp,
            marker: packet.marker,
            payload: original,
        }
    } else {
        if packet.payload_type != b.payload_type {
            return;
        }
        Input {
            ssrc: packet.ssrc,
            sequence: Sequence::Extended(packet.sequence_number),
            timestamp: packet.timestamp,
            marker: packet.marker,
            payload: packet.payload(),
        }
    };
    if lane.kind == MediaKind::Video && !lane.keyframes.is_started() {
        lane.keyframes.start(now);
    }
    if let Some(bytes) = outbound.forward(now, &input) {
        // A datagram the tool is not there for yet is lost on the way, as plain RTP is.
        let _ = out.send_to(bytes, *to);
    }
}
