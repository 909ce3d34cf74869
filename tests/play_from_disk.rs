//! `examples/play_from_disk.rs` against headless Chromium: ffmpeg makes a VP8 IVF of a test pattern (key
//! frames every second) and an Ogg Opus tone, 2 s each, the example (built in release, started as a
//! process on 127.0.0.1) serves them, and the page decodes them: 90 video frames at 320×240 (so the file
//! looped at least once, its RTP timestamps going on increasing), frames presented by the `<video>`
//! element, and Opus packets received, within 60 s. Skips when ffmpeg or Chromium is missing, fails under
//! CI (`tests/support/tool.rs`).

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
/// The example's file reading and pacing, with its unit tests.
#[allow(dead_code)]
#[path = "../examples/play_from_disk/media.rs"]
mod media;
#[path = "support/tool.rs"]
mod tool;

use sansrtc::pc::{Config, Description, Direction, Event, FrameAssembler, MediaKind, PeerConnection, TransceiverInit};
use sansrtc::{Datagram, Machine, PathMachine, SeededRng, StdAnchor};

use browser::{Browser, Kind, json_number, json_str};
use echo_server::{Scratch, build_example, spawn_example, tail};

/// Bound on one run: start, connect, decode.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Frames the page waits for before it reports: more than the file's 60.
const FRAMES: u64 = 90;
/// The files' length, in seconds.
const SECONDS: &str = "2";

/// The example, killed on drop; its stdout in `play_from_disk.log`, its stderr in `play_from_disk.trace`.
struct Player {
    child: Child,
    url: String,
    log: PathBuf,
    trace: PathBuf,
    reports: Receiver<String>,
}

impl Player {
    fn start(dir: &Path, video: &Path, audio: &Path) -> Player {
        let (url_tx, url_rx) = channel();
        let (report_tx, reports) = channel();
        let exe = build_example("play_from_disk");
        let (video, audio) = (video.to_string_lossy(), audio.to_string_lossy());
        let args = ["--video", video.as_ref(), "--audio", audio.as_ref()];
        let (child, log, trace) = spawn_example(&exe, "play_from_disk", dir, &args, move |line| {
            // "play_from_disk: http://127.0.0.1:PORT/  udp 127.0.0.1:PORT"
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                let _ = url_tx.send(url.to_string());
            }
            if let Some(report) = line.strip_prefix("report: ") {
                let _ = report_tx.send(report.to_string());
            }
        });
        let mut player = Player { child, url: String::new(), log, trace, reports };
        match url_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(url) => player.url = url,
            Err(_) => panic!("play_from_disk did not start:\n{}", player.tails()),
        }
        player
    }

    fn tails(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "play_from_disk log:\n{}\nplay_from_disk trace:\n{}",
            tail(&read(&self.log), 30),
            tail(&read(&self.trace), 30)
        )
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs ffmpeg with `args` (quietly, overwriting), asserting it succeeds.
fn ffmpeg(args: &[&str], out: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .arg(out)
        .stdin(Stdio::null())
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "ffmpeg {args:?} {} failed", out.display());
}

fn ffmpeg_available() -> bool {
    let found = Command::new("ffmpeg").arg("-version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !found {
        tool::missing("ffmpeg", "`apt-get install ffmpeg`");
    }
    found
}

/// Makes the test files in `dir` with ffmpeg: a VP8 IVF of a test pattern with a key frame every second,
/// and an Ogg Opus tone, [`SECONDS`] long each.
fn make_files(dir: &Path) -> (PathBuf, PathBuf) {
    let (video, audio) = (dir.join("testsrc.ivf"), dir.join("sine.ogg"));
    let pattern = "testsrc=size=320x240:rate=30";
    ffmpeg(&["-f", "lavfi", "-i", pattern, "-t", SECONDS, "-c:v", "libvpx", "-g", "30", "-f", "ivf"], &video);
    ffmpeg(&["-f", "lavfi", "-i", "sine=frequency=440", "-t", SECONDS, "-c:a", "libopus"], &audio);
    (video, audio)
}

#[test]
fn chromium_decodes_a_file_played_from_disk() {
    if !ffmpeg_available() || !Kind::Chromium.available() {
        return;
    }
    let scratch = Scratch::new("play-from-disk");
    let (video, audio) = make_files(&scratch.0);

    // What the example will play: 60 frames over 2 s at the 90 kHz clock, and about 2 s of Opus at 48 kHz
    // (the encoder's pre-skip and last packet make it a little longer).
    let (ivf, header) = media::Media::ivf(std::fs::read(&video).expect("IVF")).expect("an IVF file");
    assert_eq!((&header.fourcc, header.width, header.height), (b"VP80", 320, 240));
    assert_eq!((ivf.frames.len(), ivf.span), (60, 180_000));
    let ogg = media::Media::ogg_opus(&std::fs::read(&audio).expect("Ogg")).expect("an Ogg Opus file");
    assert!((96_000..=96_000 + 2 * 3840).contains(&ogg.span), "Opus span {} ticks", ogg.span);

    let player = Player::start(&scratch.0, &video, &audio);
    let url = format!("{}?frames={FRAMES}", player.url);
    let started = Instant::now();
    let browser = Browser::launch(Kind::Chromium, &url);
    let report = match player.reports.recv_timeout(TIMEOUT) {
        Ok(r) => r,
        Err(_) => panic!("no report within {TIMEOUT:?}; Chromium:\n{}\n{}", browser.log_tail(), player.tails()),
    };
    let elapsed = started.elapsed();
    drop(browser);
    println!("report after {elapsed:?}: {report}");
    let context = || format!("report: {report}\n{}", player.tails());
    let number = |key| json_number(&report, key).unwrap_or_else(|| panic!("no {key} in the report: {}", context()));
    assert!(report.contains("\"errors\":[]"), "page errors: {}", context());
    assert!(report.contains("\"ok\":true"), "the page did not get what it waited for: {}", context());
    assert_eq!(json_str(&report, "videoCodec"), Some("video/VP8"), "{}", context());
    assert!(number("framesDecoded") >= FRAMES, "frames decoded: {}", context());
    assert!(number("framesPresented") >= 30, "frames the <video> element presented: {}", context());
    assert_eq!((number("frameWidth"), number("frameHeight")), (320, 240), "{}", context());
    assert!(number("audioPacketsReceived") > 0, "audio: {}", context());
    assert_eq!(json_str(&report, "audioCodec"), Some("audio/opus"), "{}", context());
    let log = std::fs::read_to_string(&player.log).unwrap_or_default();
    assert!(!log.contains("refused"), "the server sent every frame: {}", context());
}

/// Sends `offer` to the example's `POST /offer`; returns the answer (`201 Created`).
fn post_offer(url: &str, offer: &str) -> String {
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(addr).expect("connect to the example");
    stream.set_read_timeout(Some(Duration::from_secs(15))).expect("timeout");
    write!(
        stream,
        "POST /offer HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{offer}",
        offer.len()
    )
    .expect("send the offer");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read the answer");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 201"), "the offer was not answered: {response}");
    body.to_string()
}

/// Whether RTP timestamp `b` is after `a` (RFC 3550 arithmetic: half the space ahead).
fn after(a: u32, b: u32) -> bool {
    b != a && b.wrapping_sub(a) < 1 << 31
}

/// A sansrtc peer connection as the receiver, frames put back together with `FrameAssembler`: the video
/// comes frame for frame as in the file, from its first (key) frame, 3000 ticks apart (30 fps at 90 kHz)
/// across the loop at the end of the file; a key-frame request (PLI) restarts it at the first frame at
/// once, its RTP timestamp still increasing; the audio comes packet for packet as in the Ogg file.
#[test]
fn key_frame_requests_restart_the_file_and_timestamps_keep_increasing() {
    if !ffmpeg_available() {
        return;
    }
    let scratch = Scratch::new("play-from-disk-pli");
    let (video, audio) = make_files(&scratch.0);
    let (ivf, _) = media::Media::ivf(std::fs::read(&video).expect("IVF")).expect("an IVF file");
    let ogg = media::Media::ogg_opus(&std::fs::read(&audio).expect("Ogg")).expect("an Ogg Opus file");
    let file_frames: Vec<&[u8]> = ivf.frames.iter().map(|f| ivf.data(f)).collect();
    let opus_packets: Vec<&[u8]> = ogg.frames.iter().map(|f| ogg.data(f)).collect();
    let player = Player::start(&scratch.0, &video, &audio);

    let socket = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
    let local = socket.local_addr().expect("address");
    let anchor = StdAnchor::starting_now();
    let now = || anchor.now();
    let mut pc = PeerConnection::new(Config::default(), SeededRng::from_seed([5; 32]));
    let recvonly = || TransceiverInit::with_direction(Direction::RecvOnly);
    pc.add_transceiver(now(), MediaKind::Video, recvonly()).expect("video transceiver");
    pc.add_transceiver(now(), MediaKind::Audio, recvonly()).expect("audio transceiver");
    pc.add_local_host(now(), local).expect("host");
    pc.end_of_local_candidates(now());
    let offer = pc.create_offer().expect("offer");
    pc.set_local_description(now(), &offer).expect("local offer");
    let answer = post_offer(&player.url, &offer.sdp);
    pc.set_remote_description(now(), &Description::answer(answer)).expect("the example's answer");

    let mid = |kind| pc.transceivers().find(|t| t.kind() == kind).and_then(|t| t.mid()).map(str::to_string);
    let (video_mid, audio_mid) = (mid(MediaKind::Video).expect("video mid"), mid(MediaKind::Audio).expect("audio"));
    let codecs = |m: &str| pc.transceiver_by_mid(m).map(|t| t.codecs().to_vec()).unwrap_or_default();
    let (mut video_in, mut audio_in) =
        (FrameAssembler::new(&codecs(&video_mid)), FrameAssembler::new(&codecs(&audio_mid)));
    // (RTP timestamp, index of the file frame it is, key frame) of every video frame; Opus packets matched.
    let mut frames: Vec<(u32, Option<usize>, bool)> = Vec::new();
    let (mut audio_frames, mut audio_matched) = (0usize, 0usize);
    // The frame count at which the key-frame request went out.
    const REQUEST_AT: usize = 70;
    let mut requested = None;
    let started = std::time::Instant::now();
    let mut buf = vec![0u8; 2048];
    while frames.len() < REQUEST_AT + 20 {
        assert!(
            started.elapsed() < TIMEOUT,
            "{} video frames within {TIMEOUT:?}: {frames:?}\n{}",
            frames.len(),
            player.tails()
        );
        let wait = pc.poll_timeout().map_or(Duration::from_millis(10), |t| t.saturating_duration_since(now()));
        socket
            .set_read_timeout(Some(wait.clamp(Duration::from_millis(1), Duration::from_millis(10))))
            .expect("timeout");
        if let Ok((n, source)) = socket.recv_from(&mut buf) {
            let _ = pc.handle_receive(now(), Datagram { source, destination: local, contents: &buf[..n] });
        }
        let t = now();
        if pc.poll_timeout().is_some_and(|d| d <= t) {
            pc.handle_timeout(t);
        }
        while let Some(event) = pc.poll_event() {
            let Event::Rtp(packet) = event else { continue };
            if packet.mid.as_str() == video_mid {
                if let Some(f) = video_in.push(&packet) {
                    let index = file_frames.iter().position(|d| *d == f.data);
                    frames.push((f.timestamp, index, f.keyframe));
                }
            } else if let Some(f) = audio_in.push(&packet) {
                audio_frames += 1;
                audio_matched += usize::from(opus_packets.contains(&f.data));
            }
        }
        if frames.len() >= REQUEST_AT && requested.is_none() {
            pc.request_keyframe(now(), &video_mid).expect("a PLI");
            requested = Some(frames.len());
        }
        while let Some(t) = pc.poll_transmit() {
            let _ = socket.send_to(t.contents, t.destination);
        }
    }
    pc.close(now());
    while let Some(t) = pc.poll_transmit() {
        let _ = socket.send_to(t.contents, t.destination);
    }
    let requested = requested.expect("requested");
    let context = || format!("frames (timestamp, file index, key): {frames:?}\n{}", player.tails());

    // Every frame is one of the file's, and the timestamps only go up.
    assert!(frames.iter().all(|f| f.1.is_some()), "a frame not in the file: {}", context());
    assert!(frames.windows(2).all(|w| after(w[0].0, w[1].0)), "timestamps go back: {}", context());
    // From the first (key) frame, in the file's order and 3000 ticks apart, through the loop at 60.
    assert_eq!(frames[0].1, Some(0), "{}", context());
    assert!(frames[0].2, "the first frame is a key frame: {}", context());
    for (i, w) in frames[..requested].windows(2).enumerate() {
        assert_eq!(w[1].1, Some((i + 1) % file_frames.len()), "frame {}: {}", i + 1, context());
        assert_eq!(w[1].0.wrapping_sub(w[0].0), 3000, "frame {}: {}", i + 1, context());
    }
    // The request (at the 70th frame, the file's 10th of its second pass) restarts the file at its first
    // frame within a few frames, not at the 120th; then it goes on in order.
    let restart = frames[requested..].iter().position(|f| f.1 == Some(0)).map(|i| i + requested);
    let restart = restart.filter(|&r| r <= requested + 3).unwrap_or_else(|| panic!("no restart: {}", context()));
    assert!(frames[restart].2, "{}", context());
    for (i, w) in frames[restart..].windows(2).enumerate() {
        assert_eq!(w[1].1, Some(i + 1), "after the restart: {}", context());
    }
    // The audio: Opus packets of the file.
    assert!(audio_frames > 50, "{audio_frames} Opus packets: {}", context());
    assert_eq!(audio_matched, audio_frames, "Opus packets not in the file: {}", context());
    // The example counts the request (its summary comes when the connection closes).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let summary = loop {
        let log = std::fs::read_to_string(&player.log).unwrap_or_default();
        if let Some(line) = log.lines().find(|l| l.contains("sent ")) {
            break line.to_string();
        }
        assert!(std::time::Instant::now() < deadline, "no summary: {}", context());
        std::thread::sleep(Duration::from_millis(100));
    };
    // "… (L loops, R restarts on K key-frame requests) …": each request restarted the file (more than ours
    // if the receiver gave up on a lost packet and asked for one itself).
    let count = |after: &str| -> u64 {
        let words: Vec<&str> = summary.split([' ', '(', ')', ',']).collect();
        let at = words.iter().position(|w| *w == after).unwrap_or_else(|| panic!("{after}: {summary}"));
        words[at - 1].parse().unwrap_or_else(|_| panic!("{after}: {summary}"))
    };
    let (restarts, requests) = (count("restarts"), count("key-frame"));
    assert!(restarts >= 1 && restarts == requests, "{summary}\n{}", context());
    assert!(summary.contains("0 frames refused"), "{summary}\n{}", context());
    println!(
        "{} video frames, restart after the request at frame {restart}; {audio_frames} Opus packets; {summary}",
        frames.len()
    );
}
