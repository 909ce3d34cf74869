//! `examples/rtp_forward.rs` between headless Chromium and GStreamer, both ways, on loopback.
//!
//! The example is built in release and started as a process (as `tests/support/echo_server.rs` does for
//! the echo server); Chromium opens its page with a fake camera and microphone
//! (`tests/support/browser.rs`); `gst-launch-1.0` (Debian's `gstreamer1.0-tools` with the good plugins)
//! and `ffmpeg` are started and stopped by the tests, each bounded in time.
//!
//! - `gstreamer_receives_chromium`: Chromium's VP8 goes through the example as plain RTP to
//!   `udpsrc ! rtpjitterbuffer ! rtpvp8depay ! vp8dec ! fakesink`, which must decode at least
//!   [`MIN_FRAMES`] frames (counted from `fakesink`'s `-v` messages) within [`TIMEOUT`]. Then ffmpeg
//!   opens the SDP file the example wrote (`-protocol_whitelist file,udp,rtp -i out.sdp`), must find
//!   VP8 video and Opus audio in it, and decode 20 frames, also within a bound. Then the test reads the
//!   stream itself for 3 s: one SSRC, payload type 96, not one sequence number missing (Chromium's
//!   retransmissions sent as bandwidth probes come out once: the connection does not hand them up); and
//!   the example, stopped with SIGINT, must have asked for a key frame at the start and every second since.
//! - `chromium_receives_gstreamer`: `videotestsrc ! vp8enc ! rtpvp8pay ! udpsink` sends plain RTP to the
//!   example's `--recv-video` port, and `audiotestsrc ! opusenc ! rtpopuspay ! udpsink` to its
//!   `--recv-audio` port; Chromium's page must decode at least [`MIN_FRAMES`] frames of the video
//!   (`getStats` `framesDecoded`) as VP8 at the test pattern's 320×240 and receive Opus packets, and the
//!   example must say, when stopped with SIGINT, that it sent the video packets to the browser.
//!
//! Skips (with a message) when Chromium, GStreamer or ffmpeg is missing, and fails under CI
//! (`tests/support/tool.rs`). Without any of them: the example's SDP file writer, sequence rewriting,
//! RTX and padding handling, plain RTP admission and key-frame schedule (`forward::tests`).

extern crate alloc;

use alloc::sync::Arc;
use core::net::SocketAddr;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Instant;

#[allow(dead_code)]
#[path = "support/browser.rs"]
mod browser;
#[allow(dead_code)]
#[path = "support/echo_server.rs"]
mod echo_server;
/// The example's pure parts, with their unit tests.
#[allow(dead_code)]
#[path = "../examples/rtp_forward/forward.rs"]
mod forward;
#[path = "support/tool.rs"]
mod tool;

use browser::{Browser, Kind, json_number, json_str};
use echo_server::{Scratch, build_example, spawn_example, tail};

/// Bound on each direction: start, connect, decode.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Frames that must be decoded on the far side.
const MIN_FRAMES: u64 = 60;
/// Frames ffmpeg decodes from the SDP file.
const FFMPEG_FRAMES: &str = "20";
/// Bound on ffmpeg reading the SDP file (it waits for a key frame: one is asked for every second).
const FFMPEG_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether GStreamer and the elements the tests use are installed.
fn gstreamer_available() -> bool {
    let elements = [
        "udpsrc",
        "udpsink",
        "rtpjitterbuffer",
        "rtpvp8depay",
        "rtpvp8pay",
        "vp8dec",
        "vp8enc",
        "fakesink",
        "videotestsrc",
        "audiotestsrc",
        "opusenc",
        "rtpopuspay",
    ];
    let ok = Command::new("gst-launch-1.0").arg("--version").output().is_ok_and(|o| o.status.success())
        && elements.iter().all(|e| Command::new("gst-inspect-1.0").arg(e).output().is_ok_and(|o| o.status.success()));
    if !ok {
        tool::missing(
            "gst-launch-1.0 with udpsrc, rtpjitterbuffer, rtpvp8pay/depay, vp8enc/dec, opusenc and rtpopuspay",
            "`apt-get install gstreamer1.0-tools gstreamer1.0-plugins-good` or `bash scripts/setup`",
        );
    }
    ok
}

fn ffmpeg_available() -> bool {
    let ok = Command::new("ffmpeg").arg("-version").output().is_ok_and(|o| o.status.success());
    if !ok {
        tool::missing("ffmpeg", "`apt-get install ffmpeg` or `bash scripts/setup`");
    }
    ok
}

/// An even port `p` on 127.0.0.1 with `p + 1` free too (ffmpeg's RTP input takes both: RTP and RTCP).
fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let probe = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = probe.local_addr().expect("addr").port() & !1;
        drop(probe);
        let pair = [port, port + 1].map(|p| UdpSocket::bind(("127.0.0.1", p)));
        if port > 1024 && pair.iter().all(Result::is_ok) {
            return port;
        }
    }
    panic!("no free pair of UDP ports on 127.0.0.1");
}

/// The example running, killed on drop; its stdout lines copied to `rtp_forward.log` and handed out.
struct Forwarder {
    child: Child,
    url: String,
    lines: Receiver<String>,
    log: PathBuf,
    trace: PathBuf,
}

impl Forwarder {
    fn start(dir: &Path, args: &[&str]) -> Forwarder {
        let (tx, lines) = channel();
        let exe = build_example("rtp_forward");
        let (child, log, trace) = spawn_example(&exe, "rtp_forward", dir, args, move |line| {
            let _ = tx.send(line.to_string());
        });
        let mut f = Forwarder { child, url: String::new(), lines, log, trace };
        // "rtp_forward: http://127.0.0.1:PORT/  udp 127.0.0.1:PORT"
        let first = f.lines.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
        f.url = match first.split_whitespace().find(|w| w.starts_with("http://")) {
            Some(url) => url.to_string(),
            None => panic!("rtp_forward did not start: {first:?}\n{}", f.tails()),
        };
        f
    }

    /// The next stdout line that starts with `prefix` (the rest of it), waiting at most `timeout`.
    fn wait_line(&self, prefix: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let line = self.lines.recv_timeout(left).ok()?;
            if let Some(rest) = line.strip_prefix(prefix) {
                return Some(rest.to_string());
            }
        }
    }

    /// SIGINT (Ctrl-C), then waits for the exit, at most `timeout`.
    fn interrupt(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success(), "kill -INT failed");
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn tails(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "rtp_forward log ({}):\n{}\ntrace ({}):\n{}",
            self.log.display(),
            tail(&read(&self.log), 30),
            self.trace.display(),
            tail(&read(&self.trace), 30)
        )
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `gst-launch-1.0 -v` pipeline, killed on drop; its output lines go to a file, and the buffers its
/// `fakesink` receives are counted.
struct Gst {
    child: Child,
    log: PathBuf,
    buffers: Arc<AtomicU64>,
}

impl Gst {
    fn start(dir: &Path, name: &str, pipeline: &str) -> Gst {
        let log = dir.join(format!("{name}.log"));
        let mut child = Command::new("gst-launch-1.0")
            .arg("-v")
            .args(pipeline.split_whitespace())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start gst-launch-1.0");
        let buffers = Arc::new(AtomicU64::new(0));
        let (stdout, stderr) = (child.stdout.take().expect("stdout"), child.stderr.take().expect("stderr"));
        let file = std::fs::File::create(&log).expect("gst log");
        for (out, file) in
            [(Box::new(stdout) as Box<dyn Read + Send>, file.try_clone().expect("log")), (Box::new(stderr), file)]
        {
            let buffers = buffers.clone();
            std::thread::spawn(move || {
                let mut file = file;
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    let _ = writeln!(file, "{line}");
                    // `fakesink silent=false` under -v: "…: last-message = chain   ******* (fakesink0:sink) …"
                    if line.contains("last-message = chain") {
                        buffers.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        Gst { child, log, buffers }
    }

    /// Waits until the sink has counted `n` buffers, at most `timeout`; returns the count.
    fn wait_buffers(&mut self, n: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        while self.buffers.load(Ordering::Relaxed) < n && Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("gst-launch-1.0 exited ({status}):\n{}", self.tail());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.buffers.load(Ordering::Relaxed)
    }

    fn tail(&self) -> String {
        tail(&std::fs::read_to_string(&self.log).unwrap_or_default(), 30)
    }

    /// The output caps of the decoder (`width=(int)W, height=(int)H`), once it has negotiated them.
    fn decoded_size(&self) -> Option<(u64, u64)> {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let line = log.lines().find(|l| l.contains("vp8dec0.GstPad:src: caps = video/x-raw"))?;
        let field = |key: &str| -> Option<u64> {
            let rest = line.split(&format!("{key}=(int)")).nth(1)?;
            rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
        };
        Some((field("width")?, field("height")?))
    }
}

impl Drop for Gst {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// ffmpeg reads the SDP file: the streams it finds and the frames it decodes (its `-v info` output), and
/// whether it finished on its own within [`FFMPEG_TIMEOUT`].
fn ffmpeg_reads(sdp: &Path, out: &Path) -> (bool, String) {
    let log = std::fs::File::create(out).expect("ffmpeg log");
    let mut child = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-protocol_whitelist", "file,udp,rtp", "-i"])
        .arg(sdp)
        .args(["-frames:v", FFMPEG_FRAMES, "-f", "null", "-"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start ffmpeg");
    let deadline = Instant::now() + FFMPEG_TIMEOUT;
    let finished = loop {
        match child.try_wait().expect("try_wait") {
            Some(status) => break status.success(),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break false;
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    (finished, std::fs::read_to_string(out).unwrap_or_default())
}

/// What arrives on `port` for `period` (then what is numbered within it, for another [`SETTLE`]): the
/// SSRCs and payload types seen, packets, and the sequence numbers missing between the first and the
/// last (extended across wraps).
fn sniff(port: u16, period: Duration) -> (Vec<u32>, Vec<u8>, u64, u64) {
    let socket = UdpSocket::bind(("127.0.0.1", port)).expect("bind the video port");
    socket.set_read_timeout(Some(Duration::from_millis(50))).expect("timeout");
    let (mut ssrcs, mut types, mut seqs) = (Vec::new(), Vec::new(), Vec::<i64>::new());
    let mut buf = [0u8; 2048];
    let started = Instant::now();
    let mut last: Option<i64> = None;
    let mut cutoff = None;
    while started.elapsed() < period + SETTLE {
        let Ok(n) = socket.recv(&mut buf) else { continue };
        let Ok(p) = sansrtc::rtp::Packet::new_checked(&buf[..n]) else { panic!("not RTP: {:?}", &buf[..n]) };
        let seq = match last {
            None => i64::from(p.sequence_number()),
            Some(l) => l + i64::from(p.sequence_number().wrapping_sub(l as u16) as i16),
        };
        if started.elapsed() >= period && cutoff.is_none() {
            cutoff = seqs.iter().copied().max();
        }
        if cutoff.is_some_and(|c| seq > c) {
            continue;
        }
        last = Some(last.map_or(seq, |l| l.max(seq)));
        if !ssrcs.contains(&p.ssrc()) {
            ssrcs.push(p.ssrc());
        }
        if !types.contains(&p.payload_type()) {
            types.push(p.payload_type());
        }
        seqs.push(seq);
    }
    seqs.sort_unstable();
    seqs.dedup();
    let span = seqs.last().zip(seqs.first()).map_or(0, |(l, f)| l - f + 1) as u64;
    (ssrcs, types, seqs.len() as u64, span - seqs.len() as u64)
}

/// After [`sniff`]'s period, how long a retransmission may take to fill a gap.
const SETTLE: Duration = Duration::from_millis(500);

#[test]
fn gstreamer_receives_chromium() {
    if !Kind::Chromium.available() || !gstreamer_available() || !ffmpeg_available() {
        return;
    }
    let dir = Scratch::new("rtp-forward-gst-in");
    let (video_port, audio_port) = (free_port_pair(), free_port_pair());
    let sdp = dir.0.join("out.sdp");
    let (video_to, audio_to) = (format!("127.0.0.1:{video_port}"), format!("127.0.0.1:{audio_port}"));
    let forwarder = Forwarder::start(
        &dir.0,
        &[
            "--send-video",
            &video_to,
            "--send-audio",
            &audio_to,
            "--keyframe-interval",
            "1",
            "--sdp",
            sdp.to_str().expect("path"),
        ],
    );
    forwarder.wait_line("rtp_forward: wrote ", Duration::from_secs(5)).expect("the SDP file written");
    let text = std::fs::read_to_string(&sdp).expect("read the SDP file");
    assert!(text.contains(&format!("m=video {video_port} RTP/AVP 96\r\n")), "{text}");
    assert!(text.contains("a=rtpmap:96 VP8/90000\r\n") && text.contains("a=rtpmap:111 opus/48000/2\r\n"), "{text}");

    let started = Instant::now();
    let caps = "application/x-rtp,media=video,clock-rate=90000,encoding-name=VP8,payload=96";
    let pipeline = format!(
        "udpsrc address=127.0.0.1 port={video_port} caps={caps} ! rtpjitterbuffer latency=200 ! rtpvp8depay \
         ! vp8dec ! fakesink silent=false sync=false"
    );
    let mut gst = Gst::start(&dir.0, "gst-receive", &pipeline);
    // One key frame a second for the tools that join (gst now, ffmpeg later).
    let browser = Browser::launch(Kind::Chromium, &forwarder.url);
    let frames = gst.wait_buffers(MIN_FRAMES, TIMEOUT);
    let elapsed = started.elapsed();
    assert!(
        frames >= MIN_FRAMES,
        "GStreamer decoded {frames} frames in {TIMEOUT:?}; gst:\n{}\nbrowser:\n{}\n{}",
        gst.tail(),
        browser.log_tail(),
        forwarder.tails()
    );
    let size = gst.decoded_size();
    drop(gst);
    assert!(size.is_some_and(|(w, h)| w > 0 && h > 0), "decoded size {size:?}");

    // The SDP file as ffmpeg reads it, on the same ports (GStreamer has let go of the video one).
    let ffmpeg_started = Instant::now();
    let (finished, out) = ffmpeg_reads(&sdp, &dir.0.join("ffmpeg.log"));
    let ffmpeg_time = ffmpeg_started.elapsed();
    let context = || format!("ffmpeg:\n{}\n{}", tail(&out, 30), forwarder.tails());
    assert!(out.contains("Video: vp8") && out.contains("Audio: opus"), "streams of the SDP file: {}", context());
    assert!(finished, "ffmpeg did not decode {FFMPEG_FRAMES} frames within {FFMPEG_TIMEOUT:?}: {}", context());
    let decoded = out
        .rsplit("frame=")
        .next()
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(decoded >= 20, "ffmpeg decoded {decoded} frames: {}", context());

    // The stream itself for 3 s: one SSRC, the SDP file's payload type, no number missing.
    let (ssrcs, types, packets, missing) = sniff(video_port, Duration::from_secs(3));
    drop(browser);
    assert!(packets >= 30, "{packets} packets in 3 s:\n{}", forwarder.tails());
    assert_eq!((ssrcs.len(), types.as_slice()), (1, &[96u8][..]), "SSRCs {ssrcs:x?}, payload types {types:?}");
    assert_eq!(missing, 0, "{missing} sequence numbers missing of {packets}:\n{}", forwarder.tails());

    // What it forwarded, as it says when stopped.
    let mut forwarder = forwarder;
    let status = forwarder.interrupt(Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "rtp_forward on SIGINT: {status:?}\n{}", forwarder.tails());
    let log = forwarder.log_text();
    let summary = log.lines().find_map(|l| l.strip_prefix("rtp_forward: video: ")).unwrap_or_default().to_string();
    let keyframes = summary
        .split(" key frames asked for")
        .next()
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    // One at the start and one a second after.
    assert!(keyframes >= 3, "key frames asked for: {summary}");
    println!(
        "GStreamer decoded {frames} frames ({size:?}) in {elapsed:.1?} from launch; ffmpeg decoded {decoded} frames \
         from the SDP file in {ffmpeg_time:.1?}; {packets} packets in 3 s, none missing, one SSRC; video: {summary}"
    );
}

#[test]
fn chromium_receives_gstreamer() {
    if !Kind::Chromium.available() || !gstreamer_available() {
        return;
    }
    let dir = Scratch::new("rtp-forward-gst-out");
    let mut forwarder = Forwarder::start(&dir.0, &["--recv-video", "127.0.0.1:0", "--recv-audio", "127.0.0.1:0"]);
    let port = |kind: &str| {
        forwarder
            .wait_line(&format!("rtp_forward: {kind} RTP in on "), Duration::from_secs(5))
            .and_then(|addr| addr.trim().parse::<SocketAddr>().ok())
            .unwrap_or_else(|| panic!("no plain RTP port for {kind}:\n{}", forwarder.tails()))
            .port()
    };
    let (video_port, audio_port) = (port("video"), port("audio"));
    let started = Instant::now();
    // Two branches: VP8 (a key frame every half second) and Opus.
    let pipeline = format!(
        "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 \
         ! vp8enc deadline=1 keyframe-max-dist=15 ! rtpvp8pay mtu=1200 ! udpsink host=127.0.0.1 port={video_port} \
         audiotestsrc is-live=true ! opusenc ! rtpopuspay mtu=1200 ! udpsink host=127.0.0.1 port={audio_port}"
    );
    let gst = Gst::start(&dir.0, "gst-send", &pipeline);
    let browser = Browser::launch(Kind::Chromium, &format!("{}?frames={MIN_FRAMES}", forwarder.url));
    let report = forwarder.wait_line("report: ", TIMEOUT).unwrap_or_else(|| {
        panic!(
            "no report within {TIMEOUT:?}; gst:\n{}\nbrowser:\n{}\n{}",
            gst.tail(),
            browser.log_tail(),
            forwarder.tails()
        )
    });
    let elapsed = started.elapsed();
    drop(browser);
    drop(gst);
    let decoded = json_number(&report, "framesDecoded").unwrap_or(0);
    assert!(
        report.contains("\"ok\":true") && report.contains("\"errors\":[]") && decoded >= MIN_FRAMES,
        "report: {report}\n{}",
        forwarder.tails()
    );
    assert_eq!(json_str(&report, "receivedCodec"), Some("video/VP8"), "report: {report}");
    assert_eq!(
        (json_number(&report, "frameWidth"), json_number(&report, "frameHeight")),
        (Some(320), Some(240)),
        "the test pattern's size: {report}"
    );
    let audio = json_number(&report, "audioPacketsReceived").unwrap_or(0);
    assert!(audio > 0, "no Opus packets reached Chromium: {report}\n{}", forwarder.tails());
    // Stopped with Ctrl-C, it says what it sent to the browser.
    let status = forwarder.interrupt(Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "rtp_forward on SIGINT: {status:?}\n{}", forwarder.tails());
    let log = forwarder.log_text();
    let sent = log
        .lines()
        .find_map(|l| l.strip_prefix("rtp_forward: video:"))
        .and_then(|l| l.split(" plain RTP packets to the browser").next())
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(sent >= decoded, "{sent} plain RTP packets sent to the browser for {decoded} frames:\n{log}");
    println!(
        "Chromium decoded {decoded} frames of GStreamer's VP8 in {elapsed:.1?} and received {audio} Opus packets; \
         {sent} video packets forwarded"
    );
}
