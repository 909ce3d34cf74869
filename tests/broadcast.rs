//! `examples/broadcast.rs` against headless Chromium: the example (built in release, started as a process
//! on 127.0.0.1) forwards one Chromium publisher's fake camera and microphone to three viewers that come
//! at different times:
//!
//! 1. a Chromium viewer that joins *before* the publisher: it decodes once the publisher comes, then
//!    leaves (and is reaped);
//! 2. a Chromium viewer that joins later: a key-frame request goes to the publisher on its behalf, and it
//!    decodes at once;
//! 3. a sansrtc viewer in the test that joins last: its video, put back together with `FrameAssembler`,
//!    starts at a key frame, its sequence numbers have no gaps and its timestamps only go up, and ffmpeg
//!    decodes every frame from the IVF file it makes of them; its audio is the publisher's Opus. A burst of
//!    its own key-frame requests is passed on through the rate limit, not as a flood.
//!
//! Then a new Chromium publisher replaces the first, and both remaining viewers go on from its first key
//! frame (the Chromium one decodes 60 more frames, the sansrtc one's timestamps keep increasing). With
//! `--video h264`, the publisher sends H.264 when Chromium offers it, and a Chromium viewer decodes it.
//!
//! Without a browser, sansrtc publishers and a sansrtc viewer show that a packet lost on the publisher's
//! way is repaired (NACK, RTX restored) before forwarding, so the viewer gets every frame in order, and
//! that publishers may leave and come while the viewer stays.
//!
//! Bounded in time, loopback only. The browser tests skip when Chromium (or ffmpeg) is missing and fail
//! under CI (`tests/support/tool.rs`). The forwarding's pure parts have their unit tests in
//! `examples/broadcast/forward.rs`, included here.

extern crate alloc;

use core::time::Duration;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Instant;

#[allow(dead_code)]
#[path = "support/browser.rs"]
mod browser;
#[allow(dead_code)]
#[path = "support/echo_server.rs"]
mod echo_server;
/// The forwarding's pure parts (payload-type mapping, key-frame detection and gate, rate limit of the
/// key-frame requests, timestamps across publishers), with their unit tests.
#[allow(dead_code)]
#[path = "../examples/broadcast/forward.rs"]
mod forward;
#[path = "support/tool.rs"]
mod tool;

use sansrtc::media_file::{IvfHeader, IvfWriter};
use sansrtc::pc::{
    Config, Description, Direction, Event, FrameAssembler, MediaKind, OutgoingFrame, PeerConnection, RtpPacket,
    TransceiverInit,
};
use sansrtc::{Datagram, Machine, PathMachine, SeededRng, StdAnchor};

use browser::{Browser, Kind, json_number, json_str};
use echo_server::{Scratch, build_example, spawn_example, tail};

/// Bound on each step: start, connect, decode.
const STEP: Duration = Duration::from_secs(60);
/// Video frames each viewer must decode.
const FRAMES: u64 = 60;

/// The example, killed on drop; its stdout in `broadcast.log`, its stderr in `broadcast.trace`.
struct Server {
    child: Child,
    url: String,
    log: PathBuf,
    trace: PathBuf,
    reports: Receiver<String>,
}

impl Server {
    /// Starts the example with `args` besides `--http`.
    fn start(dir: &Path, args: &[&str]) -> Server {
        let (url_tx, url_rx) = channel();
        let (report_tx, reports) = channel();
        let exe = build_example("broadcast");
        let (child, log, trace) = spawn_example(&exe, "broadcast", dir, args, move |line| {
            // "broadcast: http://127.0.0.1:PORT/  udp 127.0.0.1:PORT"
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                let _ = url_tx.send(url.to_string());
            }
            if let Some(report) = line.strip_prefix("report: ") {
                let _ = report_tx.send(report.to_string());
            }
        });
        let mut server = Server { child, url: String::new(), log, trace, reports };
        match url_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(url) => server.url = url,
            Err(_) => panic!("broadcast did not start:\n{}", server.tails()),
        }
        server
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (up to [`STEP`]) for a log line containing every one of `parts`; returns it.
    fn wait_for_line(&self, parts: &[&str]) -> String {
        let deadline = Instant::now() + STEP;
        loop {
            if let Some(line) = self.log_text().lines().find(|l| parts.iter().all(|p| l.contains(p))) {
                return line.to_string();
            }
            assert!(Instant::now() < deadline, "no log line with {parts:?} within {STEP:?}:\n{}", self.tails());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The next report, from the page with `role`.
    fn report(&self, role: &str, browser: &Browser) -> String {
        let deadline = Instant::now() + STEP;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.reports.recv_timeout(left) {
                Ok(r) if json_str(&r, "role") == Some(role) => return r,
                Ok(_) => {}
                Err(_) => {
                    panic!("no {role} report within {STEP:?}; Chromium:\n{}\n{}", browser.log_tail(), self.tails())
                }
            }
        }
    }

    /// `GET /stats`.
    fn stats(&self) -> String {
        let (status, body) = http(&self.url, "GET", "/stats", "", "");
        assert!(status.starts_with("HTTP/1.1 200"), "GET /stats: {status}");
        body
    }

    fn tails(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!("broadcast log:\n{}\nbroadcast trace:\n{}", tail(&read(&self.log), 40), tail(&read(&self.trace), 20))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request to the example; returns the status line and the body.
fn http(url: &str, method: &str, path: &str, content_type: &str, body: &str) -> (String, String) {
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(addr).expect("connect to the example");
    stream.set_read_timeout(Some(Duration::from_secs(15))).expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send the request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read the response");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    (head.lines().next().unwrap_or_default().to_string(), body.to_string())
}

/// Checks a viewer page's report: no error, `FRAMES` VP8 frames decoded at the fake camera's size, Opus
/// received.
fn check_viewer_report(report: &str, server: &Server) {
    check_viewer_codec(report, server, "video/VP8");
}

/// [`check_viewer_report`] with the video codec `video`.
fn check_viewer_codec(report: &str, server: &Server, video: &str) {
    let context = || format!("report: {report}\n{}", server.tails());
    let number = |key| json_number(report, key).unwrap_or_else(|| panic!("no {key} in the report: {}", context()));
    assert!(report.contains("\"errors\":[]"), "page errors: {}", context());
    assert!(report.contains("\"ok\":true"), "the page did not get what it waited for: {}", context());
    assert_eq!(json_str(report, "videoCodec"), Some(video), "{}", context());
    assert!(number("framesDecoded") >= FRAMES, "frames decoded: {}", context());
    assert_eq!((number("frameWidth"), number("frameHeight")), (320, 240), "{}", context());
    assert!(number("audioPacketsReceived") > 0, "audio: {}", context());
    assert_eq!(json_str(report, "audioCodec"), Some("audio/opus"), "{}", context());
}

/// Whether RTP timestamp `b` is after `a` (RFC 3550 arithmetic: half the space ahead).
fn after(a: u32, b: u32) -> bool {
    b != a && b.wrapping_sub(a) < 1 << 31
}

fn ffmpeg_available() -> bool {
    let found = Command::new("ffmpeg").arg("-version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !found {
        tool::missing("ffmpeg", "`apt-get install ffmpeg`");
    }
    found
}

/// What the sansrtc viewer received.
#[derive(Default)]
struct Received {
    /// Each video frame: RTP timestamp, key frame.
    frames: Vec<(u32, bool)>,
    /// Each video frame's octets 1 to 4 (the frame number [`SansrtcPublisher`] writes there).
    numbers: Vec<u32>,
    /// Every video packet's extended sequence number, in arrival order.
    video_seqs: Vec<u64>,
    audio_frames: usize,
    /// Video packets that came as retransmissions (restored by the connection).
    repaired: usize,
}

/// A sansrtc viewer in the test: offers to receive video and audio, joins through `POST /view`, puts the
/// video frames back together and writes them to an IVF file.
struct SansrtcViewer {
    socket: UdpSocket,
    local: core::net::SocketAddr,
    anchor: StdAnchor,
    pc: PeerConnection,
    video_mid: String,
    video_in: FrameAssembler,
    audio_in: FrameAssembler,
    ivf: Vec<u8>,
    writer: IvfWriter,
    first_ts: Option<u32>,
    /// The video packets put back in order before the assembler (the example's own [`forward::Reorder`]):
    /// a retransmission comes after the packets that followed its original.
    video_order: forward::Reorder<RtpPacket>,
    /// RTP datagrams received; the one with this count is dropped.
    rtp_received: u64,
    drop_at: Option<u64>,
    got: Received,
}

impl SansrtcViewer {
    fn join(server: &Server) -> SansrtcViewer {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
        let local = socket.local_addr().expect("address");
        let anchor = StdAnchor::starting_now();
        let now = anchor.now();
        let mut pc = PeerConnection::new(Config::default(), SeededRng::from_seed([9; 32]));
        let recvonly = || TransceiverInit::with_direction(Direction::RecvOnly);
        pc.add_transceiver(now, MediaKind::Video, recvonly()).expect("video transceiver");
        pc.add_transceiver(now, MediaKind::Audio, recvonly()).expect("audio transceiver");
        pc.add_local_host(now, local).expect("host");
        pc.end_of_local_candidates(now);
        let offer = pc.create_offer().expect("offer");
        pc.set_local_description(now, &offer).expect("local offer");
        let (status, answer) = http(&server.url, "POST", "/view", "application/sdp", &offer.sdp);
        assert!(status.starts_with("HTTP/1.1 201"), "the offer was not answered: {status} {answer}");
        pc.set_remote_description(now, &Description::answer(answer)).expect("the example's answer");
        let mid = |kind| pc.transceivers().find(|t| t.kind() == kind).and_then(|t| t.mid()).map(str::to_string);
        let (video_mid, audio_mid) = (mid(MediaKind::Video).expect("video mid"), mid(MediaKind::Audio).expect("audio"));
        let codecs = |m: &str| pc.transceiver_by_mid(m).map(|t| t.codecs().to_vec()).unwrap_or_default();
        let video_codecs = codecs(&video_mid);
        assert!(video_codecs.first().is_some_and(|c| c.name == "VP8"), "VP8 first: {video_codecs:?}");
        let (video_in, audio_in) = (FrameAssembler::new(&video_codecs), FrameAssembler::new(&codecs(&audio_mid)));
        let header = IvfHeader {
            fourcc: IvfHeader::VP8,
            width: 320,
            height: 240,
            timebase_rate: 90_000,
            timebase_scale: 1,
            frame_count: 0,
        };
        let mut ivf = Vec::new();
        let writer = IvfWriter::new(&header, &mut ivf);
        SansrtcViewer {
            socket,
            local,
            anchor,
            pc,
            video_mid,
            video_in,
            audio_in,
            ivf,
            writer,
            first_ts: None,
            video_order: forward::Reorder::new(Duration::from_secs(2)),
            rtp_received: 0,
            drop_at: None,
            got: Received::default(),
        }
    }

    /// Runs the README loop until `done` says so (asked at most every 50 ms), within [`STEP`].
    fn run_until(&mut self, server: &Server, what: &str, done: impl FnMut(&Received) -> bool) {
        self.run_with(server, what, None, done);
    }

    /// [`SansrtcViewer::run_until`], turning `publisher` too.
    fn run_with(
        &mut self,
        server: &Server,
        what: &str,
        mut publisher: Option<&mut SansrtcPublisher>,
        mut done: impl FnMut(&Received) -> bool,
    ) {
        let started = Instant::now();
        let mut asked = Instant::now();
        let mut buf = vec![0u8; 2048];
        while !done(&self.got) {
            asked += Duration::from_millis(50);
            while Instant::now() < asked {
                assert!(
                    started.elapsed() < STEP,
                    "{what}: not within {STEP:?}: {} video frames, {} audio packets\n{}",
                    self.got.frames.len(),
                    self.got.audio_frames,
                    server.tails()
                );
                self.turn(&mut buf);
                if let Some(p) = publisher.as_deref_mut() {
                    p.turn(&mut buf);
                }
            }
        }
    }

    /// One turn: a datagram (or a short wait), timers, events, transmits.
    fn turn(&mut self, buf: &mut [u8]) {
        let now = || self.anchor.now();
        let wait = self.pc.poll_timeout().map_or(Duration::from_millis(5), |t| t.saturating_duration_since(now()));
        let wait = wait.clamp(Duration::from_millis(1), Duration::from_millis(5));
        self.socket.set_read_timeout(Some(wait)).expect("timeout");
        if let Ok((n, source)) = self.socket.recv_from(buf) {
            let data = &buf[..n];
            if is_rtp(data) {
                self.rtp_received += 1;
            }
            if !is_rtp(data) || Some(self.rtp_received) != self.drop_at {
                let datagram = Datagram { source, destination: self.local, contents: data };
                let _ = self.pc.handle_receive(now(), datagram);
            }
        }
        let t = now();
        if self.pc.poll_timeout().is_some_and(|d| d <= t) {
            self.pc.handle_timeout(t);
        }
        while let Some(event) = self.pc.poll_event() {
            let Event::Rtp(packet) = event else { continue };
            if packet.mid.as_str() == self.video_mid {
                self.got.video_seqs.push(packet.sequence_number);
                self.got.repaired += usize::from(packet.repaired);
                self.video_order.push(t, packet.ssrc, packet.sequence_number, packet);
            } else if self.audio_in.push(&packet).is_some() {
                self.got.audio_frames += 1;
            }
        }
        self.video_order.handle_timeout(t);
        while let Some(released) = self.video_order.poll() {
            let forward::Release::Packet(packet) = released else { continue };
            if let Some(f) = self.video_in.push(&packet) {
                let first = *self.first_ts.get_or_insert(f.timestamp);
                let pts = u64::from(f.timestamp.wrapping_sub(first));
                self.writer.write_frame(pts, f.data, &mut self.ivf).expect("IVF frame");
                self.got.frames.push((f.timestamp, f.keyframe));
                let number = f.data.get(1..5).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                self.got.numbers.push(number);
            }
        }
        self.flush();
    }

    fn flush(&mut self) {
        while let Some(t) = self.pc.poll_transmit() {
            let _ = self.socket.send_to(t.contents, t.destination);
        }
    }

    /// `n` key-frame requests (PLI) at once.
    fn request_keyframes(&mut self, n: usize) {
        for _ in 0..n {
            self.pc.request_keyframe(self.anchor.now(), &self.video_mid).expect("a PLI");
        }
        self.flush();
    }

    /// Closes the connection; returns the IVF file of the video frames.
    fn close(mut self) -> Vec<u8> {
        self.pc.close(self.anchor.now());
        self.flush();
        self.writer.finish(&mut self.ivf).expect("IVF frame count");
        self.ivf
    }
}

/// Decodes `file` with ffmpeg; returns the frames it decoded (ffmpeg must report no error).
fn ffmpeg_decode(file: &Path) -> u64 {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-i"])
        .arg(file)
        .args(["-f", "framemd5", "-"])
        .stdin(Stdio::null())
        .output()
        .expect("run ffmpeg");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "ffmpeg decoding {}: {stderr}", file.display());
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.starts_with('#')).count() as u64
}

/// A count in the `/stats` JSON of the publisher's video track.
fn video_count(stats: &str, key: &str) -> u64 {
    let video = stats.split("\"kind\":\"video\"").nth(1).unwrap_or_else(|| panic!("no publisher video: {stats}"));
    json_number(video, key).unwrap_or_else(|| panic!("no {key}: {stats}"))
}

#[test]
fn chromium_publisher_to_viewers_joining_before_and_after() {
    if !Kind::Chromium.available() || !ffmpeg_available() {
        return;
    }
    let scratch = Scratch::new("broadcast");
    let server = Server::start(&scratch.0, &[]);
    let started = Instant::now();
    let publish = format!("{}?publish&frames=100000&timeout=600000", server.url);

    // 1. A viewer before there is a publisher; it leaves once it has decoded, and is reaped.
    let viewer1 = Browser::launch(Kind::Chromium, &format!("{}?view&frames={FRAMES}&leave", server.url));
    server.wait_for_line(&["viewer1: connection Connected"]);
    let publisher1 = Browser::launch(Kind::Chromium, &publish);
    server.wait_for_line(&["publisher1: connection Connected"]);
    let report1 = server.report("viewer", &viewer1);
    println!("viewer 1 after {:?}: {report1}", started.elapsed());
    check_viewer_report(&report1, &server);
    server.wait_for_line(&["viewer1: video from a key frame of publisher1 on"]);
    println!("{}", server.wait_for_line(&["viewer1: gone (Closed)"]));
    drop(viewer1);

    // 2. A Chromium viewer that joins later: a key-frame request goes to the publisher for it.
    let viewer2 =
        Browser::launch(Kind::Chromium, &format!("{}?view&frames={FRAMES}&repeat&timeout=600000", server.url));
    let asked = server.wait_for_line(&["viewer2: key-frame request on its behalf (joined)"]);
    println!("{asked}");
    assert!(asked.contains("sent to publisher1") || asked.contains("held by the rate limit"), "{asked}");
    let report2 = server.report("viewer", &viewer2);
    println!("viewer 2 after {:?}: {report2}", started.elapsed());
    check_viewer_report(&report2, &server);

    // 3. A sansrtc viewer, last: a request for it too; its own burst of five goes through the rate limit.
    let before = server.stats();
    let mut viewer3 = SansrtcViewer::join(&server);
    viewer3.run_until(&server, "20 frames", |r| r.frames.len() >= 20);
    println!("{}", server.wait_for_line(&["viewer3: key-frame request on its behalf (joined)"]));
    viewer3.request_keyframes(5);
    viewer3.run_until(&server, "the five requests and 60 frames", |r| {
        r.frames.len() as u64 >= FRAMES
            && r.audio_frames >= 50
            && server.log_text().matches("viewer3: its Pli passed on").count() == 5
    });
    let after_burst = server.stats();
    println!("stats before viewer 3: {before}\nstats after its burst: {after_burst}");
    // Its request on joining and its five cost the publisher three at most (one on joining, one for the
    // first of the burst, one for the four held), however they fell in the 500 ms windows.
    let sent = video_count(&after_burst, "keyframeRequestsSent") - video_count(&before, "keyframeRequestsSent");
    assert!((1..=3).contains(&sent), "{sent} key-frame requests sent to the publisher for six: {after_burst}");
    let log = server.log_text();
    let held = log.lines().filter(|l| l.starts_with("viewer3: its Pli passed on") && l.contains("held")).count();
    assert!(held >= 4, "requests held by the rate limit:\n{}", tail(&log, 60));

    // 4. A new publisher replaces the first: both viewers go on, from its first key frame.
    let frames_before = viewer3.got.frames.len();
    let publisher2 = Browser::launch(Kind::Chromium, &publish);
    viewer3.run_until(&server, "the new publisher", |_| {
        server.log_text().contains("viewer3: video from a key frame of publisher2 on")
    });
    println!("{}", server.wait_for_line(&["publisher1: replaced by a new publisher"]));
    let switched_at = viewer3.got.frames.len();
    viewer3
        .run_until(&server, "60 frames of the new publisher", |r| r.frames.len() as u64 >= switched_at as u64 + FRAMES);
    server.wait_for_line(&["viewer2: video from a key frame of publisher2 on"]);
    while server.reports.try_recv().is_ok() {}
    let first = server.report("viewer", &viewer2);
    let second = server.report("viewer", &viewer2);
    println!("viewer 2 after the switch: {second}");
    check_viewer_report(&second, &server);
    let decoded = |r: &str| json_number(r, "framesDecoded").unwrap_or_default();
    assert!(decoded(&second) >= decoded(&first) + FRAMES, "viewer 2 decodes the new publisher: {first}\n{second}");

    // The sansrtc viewer's whole stream, across both publishers: from a key frame, its sequence numbers
    // without a gap, its timestamps only going up, and ffmpeg decodes every frame.
    let got = core::mem::take(&mut viewer3.got);
    let ivf = viewer3.close();
    let context = || format!("frames (timestamp, key): {:?}\n{}", got.frames, server.tails());
    assert!(frames_before < switched_at, "{}", context());
    assert!(got.frames[0].1, "the first frame a late viewer gets is a key frame: {}", context());
    assert!(
        got.frames[frames_before..=switched_at].iter().any(|f| f.1),
        "the new publisher's key frame: {}",
        context()
    );
    assert!(got.frames.windows(2).all(|w| after(w[0].0, w[1].0)), "timestamps only go up: {}", context());
    // (A packet lost on the way and retransmitted arrives late: the numbers are compared as a set.)
    let mut seqs = got.video_seqs.clone();
    seqs.sort_unstable();
    seqs.dedup();
    let first_seq = seqs[0];
    assert_eq!(first_seq, got.video_seqs[0], "{}", context());
    let all: Vec<u64> = (first_seq..first_seq + seqs.len() as u64).collect();
    assert_eq!(seqs, all, "video sequence numbers without gaps: {}", context());
    let file = scratch.0.join("viewer3.ivf");
    std::fs::write(&file, &ivf).expect("write the IVF");
    let decoded = ffmpeg_decode(&file);
    assert_eq!(decoded, got.frames.len() as u64, "ffmpeg decodes every frame: {}", context());
    println!("{}", server.wait_for_line(&["viewer3: gone (Closed)"]));
    drop((viewer2, publisher1, publisher2));
    println!(
        "{} video frames ({} after the switch) and {} Opus packets to viewer 3, all decoded by ffmpeg; {:?} in all",
        got.frames.len(),
        got.frames.len() - switched_at,
        got.audio_frames,
        started.elapsed()
    );
}

/// `--video h264`: the publisher is asked for H.264 when its browser offers it (Debian's Chromium does,
/// with OpenH264), else VP8; a Chromium viewer decodes whichever it sends, forwarded with the viewer's own
/// H.264 payload type, with key frames found in H.264 payloads (an IDR or SPS) to start it.
#[test]
fn chromium_h264_when_the_publisher_offers_it() {
    if !Kind::Chromium.available() {
        return;
    }
    let scratch = Scratch::new("broadcast-h264");
    let server = Server::start(&scratch.0, &["--video", "h264"]);
    let publisher = Browser::launch(Kind::Chromium, &format!("{}?publish&frames=100000&timeout=600000", server.url));
    let answered = server.wait_for_line(&["publisher1: offer answered"]);
    println!("{answered}");
    server.wait_for_line(&["publisher1: connection Connected"]);
    let viewer = Browser::launch(Kind::Chromium, &format!("{}?view&frames={FRAMES}", server.url));
    let report = server.report("viewer", &viewer);
    println!("{report}");
    let h264 = answered.contains("video on mid 1 (H264");
    check_viewer_codec(&report, &server, if h264 { "video/H264" } else { "video/VP8" });
    server.wait_for_line(&["viewer1: video from a key frame of publisher1 on"]);
    drop((viewer, publisher));
}

/// A sansrtc publisher in the test: sends made-up VP8 frames of three packets at 30 fps (a key frame
/// first and whenever asked for one), each numbered in its octets 1 to 4, and can drop one of its RTP
/// datagrams on the way.
struct SansrtcPublisher {
    socket: UdpSocket,
    local: core::net::SocketAddr,
    anchor: StdAnchor,
    pc: PeerConnection,
    mid: String,
    number: u32,
    timestamp: u32,
    next_at: Instant,
    keyframe: bool,
    /// RTP datagrams sent; the one with this count is dropped.
    rtp_sent: u64,
    drop_at: Option<u64>,
    dropped: u64,
    requests: u64,
}

impl SansrtcPublisher {
    fn join(server: &Server, seed: u8, number: u32, timestamp: u32) -> SansrtcPublisher {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
        let local = socket.local_addr().expect("address");
        let anchor = StdAnchor::starting_now();
        let now = anchor.now();
        let mut pc = PeerConnection::new(Config::default(), SeededRng::from_seed([seed; 32]));
        let init = TransceiverInit::with_direction(Direction::SendOnly);
        let id = pc.add_transceiver(now, MediaKind::Video, init).expect("video transceiver");
        pc.add_local_host(now, local).expect("host");
        pc.end_of_local_candidates(now);
        let offer = pc.create_offer().expect("offer");
        pc.set_local_description(now, &offer).expect("local offer");
        let (status, answer) = http(&server.url, "POST", "/publish", "application/sdp", &offer.sdp);
        assert!(status.starts_with("HTTP/1.1 201"), "the offer was not answered: {status} {answer}");
        pc.set_remote_description(now, &Description::answer(answer)).expect("the example's answer");
        let t = pc.transceiver(id).expect("transceiver");
        assert_eq!(t.codecs().first().map(|c| &*c.name), Some("VP8"), "VP8 asked for: {:?}", t.codecs());
        let mid = t.mid().expect("mid").to_string();
        SansrtcPublisher {
            socket,
            local,
            anchor,
            pc,
            mid,
            number,
            timestamp,
            next_at: Instant::now(),
            keyframe: true,
            rtp_sent: 0,
            drop_at: None,
            dropped: 0,
            requests: 0,
        }
    }

    /// One turn: a datagram (or 1 ms), timers, events, the frame due, transmits.
    fn turn(&mut self, buf: &mut [u8]) {
        self.socket.set_read_timeout(Some(Duration::from_millis(1))).expect("timeout");
        if let Ok((n, source)) = self.socket.recv_from(buf) {
            let datagram = Datagram { source, destination: self.local, contents: &buf[..n] };
            let _ = self.pc.handle_receive(self.anchor.now(), datagram);
        }
        let now = self.anchor.now();
        if self.pc.poll_timeout().is_some_and(|d| d <= now) {
            self.pc.handle_timeout(now);
        }
        while let Some(event) = self.pc.poll_event() {
            if let Event::KeyframeRequest { .. } = event {
                self.requests += 1;
                self.keyframe = true;
            }
        }
        if Instant::now() >= self.next_at {
            self.next_at += Duration::from_millis(33);
            // The VP8 payload header's P bit (the low bit of the first octet) is clear on key frames.
            let mut frame = vec![if self.keyframe { 0x10 } else { 0x11 }];
            frame.extend_from_slice(&self.number.to_le_bytes());
            frame.extend((0..3000u32).map(|i| (i ^ self.number) as u8));
            if self.pc.write_frame(now, &self.mid, &OutgoingFrame::new(self.timestamp, &frame)).is_ok() {
                self.keyframe = false;
            }
            self.number += 1;
            self.timestamp = self.timestamp.wrapping_add(3000);
        }
        while let Some(t) = self.pc.poll_transmit() {
            if is_rtp(t.contents) {
                self.rtp_sent += 1;
                if Some(self.rtp_sent) == self.drop_at {
                    self.dropped += 1;
                    continue;
                }
            }
            let _ = self.socket.send_to(t.contents, t.destination);
        }
    }

    fn close(mut self) {
        self.pc.close(self.anchor.now());
        while let Some(t) = self.pc.poll_transmit() {
            let _ = self.socket.send_to(t.contents, t.destination);
        }
    }
}

/// Whether a datagram is RTP: after DTLS (RFC 7983: 128 to 191), not an RTCP packet type (RFC 5761).
fn is_rtp(data: &[u8]) -> bool {
    matches!(data.first(), Some(128..=191)) && !matches!(data.get(1), Some(192..=223))
}

/// Whether the frame numbers are consecutive.
fn consecutive(numbers: &[u32]) -> bool {
    numbers.windows(2).all(|w| w[1] == w[0].wrapping_add(1))
}

/// Without a browser: a sansrtc viewer joins before any publisher; a sansrtc publisher comes, and one of
/// its video packets is lost on its way to the server: the packets after it wait for its retransmission,
/// which the publisher's connection asks for (NACK) and restores, so the viewer gets every frame, in
/// order, with no key frame asked for. One lost on the viewer's way is retransmitted by the viewer's own
/// connection on the server. The publisher leaves (reaped); a second one comes later, and the
/// viewer goes on from its first key frame, its timestamps still increasing and its sequence numbers
/// without a gap.
#[test]
fn a_publisher_loss_is_repaired_and_publishers_come_and_go() {
    let scratch = Scratch::new("broadcast-sansrtc");
    // A generous wait for retransmissions, here and in the viewer below: on a loaded machine the
    // publisher's answer to a NACK can take longer than the default 200 ms, and this test is about
    // the repair, not its timing.
    let server = Server::start(&scratch.0, &["--reorder-wait", "2000"]);
    let started = Instant::now();
    let mut viewer = SansrtcViewer::join(&server);
    viewer.run_until(&server, "the viewer connected", |_| server.log_text().contains("viewer1: connection Connected"));

    let mut publisher = SansrtcPublisher::join(&server, 21, 0, 1_000_000);
    publisher.drop_at = Some(40);
    // And one on the viewer's way, later: its connection NACKs it, and the viewer's connection on the
    // server answers from its own retransmission history (the publisher is not asked).
    viewer.drop_at = Some(100);
    viewer.run_with(&server, "60 frames of the first publisher", Some(&mut publisher), |r| {
        r.frames.len() as u64 >= FRAMES
    });
    let stats = server.stats();
    println!("after {:?}: {stats}", started.elapsed());
    let context = |v: &SansrtcViewer| format!("frames {:?} {:?}\n{}", v.got.numbers, v.got.frames, server.tails());
    assert_eq!(publisher.dropped, 1, "one RTP datagram dropped");
    assert!(viewer.got.frames[0].1, "{}", context(&viewer));
    assert!(consecutive(&viewer.got.numbers), "every frame, in order: {}", context(&viewer));
    assert!(json_number(&stats, "repaired").is_some_and(|n| n >= 1), "the loss was repaired: {stats}");
    assert_eq!(json_number(&stats, "lost"), Some(0), "{stats}");
    assert!(!server.log_text().contains("lost on the way"), "{}", server.tails());
    assert_eq!(publisher.requests, 0, "no key frame asked for: {}", server.tails());
    assert!(
        viewer.rtp_received > 100 && viewer.got.repaired >= 1,
        "the viewer's loss was repaired: {}",
        context(&viewer)
    );
    // Repaired at least once (a NACK retried on a slow machine repairs it twice), given up never.
    assert_eq!(viewer.video_order.lost, 0, "{}", context(&viewer));

    // The publisher leaves: reaped; the viewer stays.
    publisher.close();
    viewer.run_until(&server, "the publisher gone", |_| server.log_text().contains("publisher1: gone (Closed)"));
    let first_count = viewer.got.frames.len();
    println!("publisher 1 gone after {:?}", started.elapsed());

    // A second publisher, with numbers and timestamps of its own.
    let mut publisher = SansrtcPublisher::join(&server, 22, 1000, 7);
    viewer.run_with(&server, "30 frames of the second publisher", Some(&mut publisher), |r| {
        r.frames.len() >= first_count + 30
    });
    publisher.close();
    let got = core::mem::take(&mut viewer.got);
    drop(viewer.close());
    let context = || format!("frames {:?} {:?}\n{}", got.numbers, got.frames, server.tails());
    // (The first publisher's last frames may still have been on their way when it was reaped.)
    let split = got.numbers.iter().position(|&n| n >= 1000).unwrap_or_else(|| panic!("{}", context()));
    assert!(split >= first_count && got.frames[split].1, "from the second one's key frame: {}", context());
    assert!(consecutive(&got.numbers[..split]) && consecutive(&got.numbers[split..]), "{}", context());
    assert!(got.frames.windows(2).all(|w| after(w[0].0, w[1].0)), "timestamps only go up: {}", context());
    let mut seqs = got.video_seqs.clone();
    seqs.sort_unstable();
    seqs.dedup();
    let all: Vec<u64> = (seqs[0]..seqs[0] + seqs.len() as u64).collect();
    assert_eq!(seqs, all, "sequence numbers without a gap across publishers: {}", context());
    println!("{}", server.wait_for_line(&["viewer1: gone (Closed)"]));
    println!("{} frames from two publishers in {:?}", got.frames.len(), started.elapsed());
}
