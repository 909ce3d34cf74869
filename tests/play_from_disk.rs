//! `examples/play_from_disk.rs` against headless Chromium: ffmpeg makes a VP8 IVF of a test pattern (key
//! frames every second) and an Ogg Opus tone, 2 s each, the example (built in release, started as a
//! process on 127.0.0.1) serves them, and the page decodes them: 90 video frames at 320×240 (so the file
//! looped at least once, its RTP timestamps going on increasing), frames presented by the `<video>`
//! element, and Opus packets received, within 60 s. Skips when ffmpeg or Chromium is missing, fails under
//! CI (`tests/support/tool.rs`).

use core::time::Duration;
use std::io::{BufRead, BufReader, Write};
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

use browser::{Browser, Kind, json_number, json_str};
use echo_server::{Scratch, build_example, tail};

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
        let exe = build_example("play_from_disk");
        let log = dir.join("play_from_disk.log");
        let trace = dir.join("play_from_disk.trace");
        let mut child = Command::new(exe)
            .args(["--http", "127.0.0.1:0", "--video"])
            .arg(video)
            .arg("--audio")
            .arg(audio)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&trace).expect("trace file"))
            .spawn()
            .expect("start play_from_disk");
        let stdout = child.stdout.take().expect("stdout");
        let (url_tx, url_rx) = channel();
        let (report_tx, reports) = channel();
        let log_path = log.clone();
        std::thread::spawn(move || {
            let mut file = std::fs::File::create(&log_path).expect("log file");
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
                // "play_from_disk: http://127.0.0.1:PORT/  udp 127.0.0.1:PORT"
                if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                    let _ = url_tx.send(url.to_string());
                }
                if let Some(report) = line.strip_prefix("report: ") {
                    let _ = report_tx.send(report.to_string());
                }
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

#[test]
fn chromium_decodes_a_file_played_from_disk() {
    if !ffmpeg_available() || !Kind::Chromium.available() {
        return;
    }
    let scratch = Scratch::new("play-from-disk");
    let (video, audio) = (scratch.0.join("testsrc.ivf"), scratch.0.join("sine.ogg"));
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=30",
            "-t",
            SECONDS,
            "-c:v",
            "libvpx",
            "-g",
            "30",
            "-f",
            "ivf",
        ],
        &video,
    );
    ffmpeg(&["-f", "lavfi", "-i", "sine=frequency=440", "-t", SECONDS, "-c:a", "libopus"], &audio);

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
