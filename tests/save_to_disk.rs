//! `examples/save_to_disk.rs` records headless Chromium's fake camera and microphone, and ffmpeg reads
//! what it wrote.
//!
//! The example is built in release and started as a process (as `tests/support/echo_server.rs` does for
//! the echo server), with its IVF and Ogg files in a scratch directory; Chromium opens its page with fake
//! devices (`tests/support/browser.rs`), sends VP8 and Opus for at least 5 s and 90 video frames
//! (`?frames=90`), reports what it sent and closes the connection.
//!
//! - `save_to_disk_chromium`: the example must finish both files and exit on its own when the peer
//!   leaves; then `ffprobe -count_frames` must count at least 60 frames in the IVF file, as many as the
//!   example says it wrote (and its header says), their timestamps rising over at least 2 s, and
//!   `ffmpeg -v error -i FILE -f null -` must decode both files without a word (the IVF file with
//!   `-enc_time_base:v -1`: see [`assert_decodes`]); the last Ogg page must end the stream. Run
//!   `SANSRTC_SAVE_TO_DISK_RUNS` times (default 1).
//! - `save_to_disk_sigterm`: the page would record for 60 s; SIGTERM 6 s after the connection must finish
//!   both files (the IVF frame count patched in, the last Ogg page flagged end of stream) and exit 0, and
//!   ffmpeg must decode them.
//!
//! Skips (with a message) when Chromium or ffmpeg is missing, or fails under CI (`tests/support/tool.rs`).
//!
//! Without a browser: the recorder's Ogg granule positions follow the RTP timestamps across a gap, a
//! late packet and a jump (`recorder_audio_follows_rtp_timestamps`), and the VP8 key frame header gives
//! the IVF frame size (`recorder_vp8_keyframe_size`).

use core::time::Duration;
use std::io::{BufRead, BufReader, Write};
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
#[allow(dead_code)]
#[path = "../examples/save_to_disk/recorder.rs"]
mod recorder;
#[path = "support/tool.rs"]
mod tool;

use browser::{Browser, Kind};
use echo_server::{Scratch, build_example, tail};

/// The page must report within this (it connects, then records 5 s and 90 frames).
const REPORT_TIMEOUT: Duration = Duration::from_secs(60);
/// After the report the page closes its connection: the example must be done within this.
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);
/// The fewest frames the IVF file must hold.
const MIN_FRAMES: u64 = 60;

fn ffmpeg_available() -> bool {
    let ok = ["ffmpeg", "ffprobe"]
        .iter()
        .all(|t| Command::new(t).arg("-version").output().is_ok_and(|o| o.status.success()));
    if !ok {
        tool::missing("ffmpeg and ffprobe", "`apt-get install ffmpeg` or `bash scripts/setup`");
    }
    ok
}

/// The example running, killed on drop; its stdout lines are copied to `save_to_disk.log` and handed out.
struct Recorder {
    child: Child,
    url: String,
    lines: Receiver<String>,
    log: PathBuf,
    trace: PathBuf,
    video: PathBuf,
    audio: PathBuf,
}

impl Recorder {
    fn start(dir: &Path) -> Recorder {
        let exe = build_example("save_to_disk");
        let (video, audio) = (dir.join("out.ivf"), dir.join("out.ogg"));
        let log = dir.join("save_to_disk.log");
        let trace = dir.join("save_to_disk.trace");
        let mut child = Command::new(exe)
            .args(["--http", "127.0.0.1:0", "--video"])
            .arg(&video)
            .arg("--audio")
            .arg(&audio)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&trace).expect("trace file"))
            .spawn()
            .expect("start save_to_disk");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        let log_path = log.clone();
        std::thread::spawn(move || {
            let mut file = std::fs::File::create(&log_path).expect("log file");
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
                let _ = tx.send(line);
            }
        });
        let mut recorder = Recorder { child, url: String::new(), lines, log, trace, video, audio };
        // "save_to_disk: http://127.0.0.1:PORT/  udp 127.0.0.1:PORT"
        let first = recorder.lines.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
        recorder.url = match first.split_whitespace().find(|w| w.starts_with("http://")) {
            Some(url) => url.to_string(),
            None => panic!("save_to_disk did not start: {first:?}\n{}", recorder.tails()),
        };
        recorder
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

    /// Waits for the process to exit, at most `timeout`.
    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    fn sigterm(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success(), "kill -TERM failed");
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Frames the example says it wrote (`wrote N video frames`).
    fn frames_written(&self) -> u64 {
        let log = self.log_text();
        let line = log.lines().find_map(|l| l.split("wrote ").nth(1).filter(|r| r.contains(" video frames")));
        line.and_then(|r| r.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no frame count in the log:\n{}", self.tails()))
    }

    /// Audio packets the example says it wrote (`wrote N audio packets`).
    fn audio_packets_written(&self) -> u64 {
        let log = self.log_text();
        let line = log.lines().find_map(|l| l.split("wrote ").nth(1).filter(|r| r.contains(" audio packets")));
        line.and_then(|r| r.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no audio packet count in the log:\n{}", self.tails()))
    }

    fn tails(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "save_to_disk log ({}):\n{}\ntrace ({}):\n{}",
            self.log.display(),
            tail(&read(&self.log), 30),
            self.trace.display(),
            tail(&read(&self.trace), 30)
        )
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Frames ffprobe counts by reading the file's first video stream.
fn ffprobe_frames(file: &Path) -> u64 {
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames"])
        .args(["-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("run ffprobe");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "ffprobe {}: {}{}",
        file.display(),
        out,
        String::from_utf8_lossy(&o.stderr)
    );
    out.trim().parse().unwrap_or_else(|_| panic!("ffprobe {}: {out:?}", file.display()))
}

/// ffmpeg decodes the whole file: exit 0 and nothing printed at level error. `args` go before the output.
///
/// For video, `-enc_time_base:v -1` keeps each frame's own timestamp (the file's 1/90000): without it
/// ffmpeg re-times the frames for the null muxer to 1/r_frame_rate, a rate it guesses from the
/// timestamps (20 fps for Chromium's fake camera), and two frames captured 30 ms apart (a late capture
/// on a loaded machine, then one on time) land on the same tick: "non monotonically increasing dts to
/// muxer", about ffmpeg's own re-timing rather than the file. [`pts_strictly_increase`] checks the
/// file's own timestamps.
fn assert_decodes(file: &Path, args: &[&str]) {
    let o = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(args)
        .args(["-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    let errors = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && errors.is_empty(), "ffmpeg decoding {}: {:?}: {errors}", file.display(), o.status);
}

/// The video packets' timestamps (ffprobe), which must rise strictly; returns the last one.
fn pts_strictly_increase(file: &Path) -> u64 {
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("run ffprobe");
    let out = String::from_utf8_lossy(&o.stdout);
    let pts: Vec<u64> = out.lines().map(|l| l.trim().parse().expect("a pts")).collect();
    assert!(pts.windows(2).all(|w| w[0] < w[1]), "timestamps of {} do not rise: {pts:?}", file.display());
    pts.last().copied().unwrap_or(0)
}

/// The duration ffprobe gives an Ogg file (from its granule positions), in seconds.
fn ogg_seconds(file: &Path) -> f64 {
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("run ffprobe");
    let out = String::from_utf8_lossy(&o.stdout);
    out.trim().parse().unwrap_or_else(|_| panic!("ffprobe {}: {out:?}", file.display()))
}

/// Both files decode, and the IVF file holds at least `MIN_FRAMES`, exactly the frames the example wrote.
/// Returns (frames written, ffprobe's count).
fn check_files(recorder: &Recorder) -> (u64, u64) {
    let written = recorder.frames_written();
    let counted = ffprobe_frames(&recorder.video);
    assert!(
        counted >= MIN_FRAMES,
        "ffprobe counts {counted} frames in {}:\n{}",
        recorder.video.display(),
        recorder.tails()
    );
    assert_eq!(counted, written, "ffprobe's count against the example's:\n{}", recorder.tails());
    assert_decodes(&recorder.video, &["-enc_time_base:v", "-1"]);
    assert_decodes(&recorder.audio, &[]);
    // Time base 1/90000, from the first frame: the frames span the recording (at least 2 s of it).
    let last = pts_strictly_increase(&recorder.video);
    assert!(last >= 2 * 90_000, "the frames span {last} ticks of 1/90000 s");
    // The IVF header's frame count was patched in (bytes 24..28).
    let ivf = std::fs::read(&recorder.video).expect("read the IVF file");
    let header_count = ivf.get(24..28).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    assert_eq!(header_count.map(u64::from), Some(written), "IVF header frame count");
    // The last Ogg page is flagged end of stream (header type 0x04 at byte 5 of the page).
    let ogg = std::fs::read(&recorder.audio).expect("read the Ogg file");
    let last_page = ogg.windows(4).rposition(|w| w == b"OggS").expect("an Ogg page");
    assert_eq!(ogg.get(last_page + 5).map(|f| f & 0x04), Some(0x04), "the last Ogg page ends the stream");
    (written, counted)
}

#[test]
fn save_to_disk_chromium() {
    if !Kind::Chromium.available() || !ffmpeg_available() {
        return;
    }
    let runs = browser::runs("SANSRTC_SAVE_TO_DISK_RUNS", 1);
    for run in 1..=runs {
        let dir = Scratch::new(&format!("save-to-disk-{run}"));
        let mut recorder = Recorder::start(&dir.0);
        let started = Instant::now();
        let browser = Browser::launch(Kind::Chromium, &format!("{}?frames=90", recorder.url));
        let report = recorder.wait_line("report: ", REPORT_TIMEOUT).unwrap_or_else(|| {
            panic!(
                "run {run}: no report within {REPORT_TIMEOUT:?}; browser:\n{}\n{}",
                browser.log_tail(),
                recorder.tails()
            )
        });
        assert!(report.contains("\"ok\":true") && report.contains("\"errors\":[]"), "run {run}: report: {report}");
        // The page closes its connection after the report: the example finishes the files and exits.
        let status = recorder.wait_exit(EXIT_TIMEOUT).unwrap_or_else(|| {
            panic!("run {run}: save_to_disk still running {EXIT_TIMEOUT:?} after the report:\n{}", recorder.tails())
        });
        let elapsed = started.elapsed();
        drop(browser);
        assert!(status.success(), "run {run}: save_to_disk exited with {status}:\n{}", recorder.tails());
        let log = recorder.log_text();
        assert!(
            log.contains("the peer left (connection closed)"),
            "run {run}: not ended by the peer:\n{}",
            tail(&log, 20)
        );
        let (written, counted) = check_files(&recorder);
        // On loopback next to nothing is lost for good: the file holds (nearly) every frame sent, and
        // the audio of the whole recording.
        let sent = browser::json_number(&report, "framesSent").unwrap_or(0);
        assert!(written * 10 >= sent * 9, "run {run}: {written} frames written of {sent} sent:\n{}", recorder.tails());
        let audio_sent = browser::json_number(&report, "audioPacketsSent").unwrap_or(0);
        let audio_written = recorder.audio_packets_written();
        assert!(
            audio_written >= 200 && audio_written * 10 >= audio_sent * 9,
            "run {run}: {audio_written} audio packets written of {audio_sent} sent:\n{}",
            recorder.tails()
        );
        let seconds = ogg_seconds(&recorder.audio);
        assert!(seconds >= 4.0, "run {run}: the Ogg file lasts {seconds} s");
        println!(
            "run {run}/{runs}: {elapsed:.1?} from launch to exit; Chromium sent {sent} frames and {audio_sent} audio \
             packets; {written} frames written, ffprobe counts {counted}; {audio_written} audio packets written, \
             {seconds:.2} s of Ogg Opus"
        );
    }
}

#[test]
fn save_to_disk_sigterm() {
    if !Kind::Chromium.available() || !ffmpeg_available() {
        return;
    }
    let dir = Scratch::new("save-to-disk-sigterm");
    let mut recorder = Recorder::start(&dir.0);
    let started = Instant::now();
    // The page would record for 60 s: the signal comes first.
    let browser = Browser::launch(Kind::Chromium, &format!("{}?seconds=60", recorder.url));
    recorder.wait_line("save_to_disk: connection connected", REPORT_TIMEOUT).unwrap_or_else(|| {
        panic!("no connection within {REPORT_TIMEOUT:?}; browser:\n{}\n{}", browser.log_tail(), recorder.tails())
    });
    // 90 frames at up to 30 per second, with room for a slow start.
    std::thread::sleep(Duration::from_secs(6));
    recorder.sigterm();
    let status = recorder
        .wait_exit(EXIT_TIMEOUT)
        .unwrap_or_else(|| panic!("save_to_disk still running {EXIT_TIMEOUT:?} after SIGTERM:\n{}", recorder.tails()));
    drop(browser);
    assert!(status.success(), "save_to_disk exited with {status}:\n{}", recorder.tails());
    let log = recorder.log_text();
    assert!(log.contains("stopped by a signal"), "not ended by the signal:\n{}", tail(&log, 20));
    let (written, counted) = check_files(&recorder);
    println!("SIGTERM after {:.1?}: {written} frames written, ffprobe counts {counted}", started.elapsed());
}

/// Audio written with its RTP timestamps: a gap of two packets is filled with two "no frame" packets, a
/// late packet is dropped, a 10 s jump is filled up to 1 s; the granule positions read back count it all.
#[test]
fn recorder_audio_follows_rtp_timestamps() {
    use sansrtc::media_file::OggOpusReader;
    use sansrtc::pc::TransceiverId;

    let dir = Scratch::new("save-to-disk-audio");
    let path = dir.0.join("gaps.ogg");
    let mut audio = recorder::AudioRecorder::create(&path, 7).expect("create");
    let stream = recorder::Stream { transceiver: TransceiverId(0), mid: "0".into(), payload_type: 111 };
    audio.bind(stream, 2).expect("bind");
    // TOC 0xfc: CELT fullband, 20 ms (960 samples), stereo, one frame.
    let packet = [0xfc, 0xff, 0xfe];
    for ts in [1000u32, 1960, 4840, 1960, 4840 + 960 + 480_000] {
        audio.write(ts, &packet).expect("write");
    }
    assert_eq!((audio.packets, audio.concealed, audio.dropped), (4, 2 + 50, 1));
    audio.finish().expect("finish");

    let mut reader = OggOpusReader::new();
    let file = std::fs::read(&path).expect("read");
    assert_eq!(reader.push(&file), file.len());
    let mut packets = Vec::new();
    while let Some(p) = reader.poll_packet() {
        let p = p.expect("packet");
        packets.push((p.data.to_vec(), p.granule));
    }
    reader.finish().expect("complete stream");
    assert_eq!(reader.head().map(|h| h.channels), Some(2));
    let concealment: Vec<usize> =
        packets.iter().enumerate().filter(|(_, (d, _))| d == &[0xfc]).map(|(i, _)| i).collect();
    let expected: Vec<usize> = [2, 3].into_iter().chain(5..55).collect();
    assert_eq!(concealment, expected, "concealment packets after the gap and the jump");
    assert_eq!(packets.len(), 56);
    assert_eq!(packets.last().and_then(|(_, g)| *g), Some(56 * 960), "the last granule counts every packet");
}

/// The size in a VP8 key frame's header (14 bits each, scaling bits masked off); none for an inter frame
/// or a frame too short.
#[test]
fn recorder_vp8_keyframe_size() {
    let key = [0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x42, 0xe0, 0x01, 0x00];
    assert_eq!(recorder::vp8_keyframe_size(&key), Some((640, 480)));
    let mut inter = key;
    inter[0] |= 1;
    assert_eq!(recorder::vp8_keyframe_size(&inter), None);
    let mut bad_start = key;
    bad_start[4] = 0;
    assert_eq!(recorder::vp8_keyframe_size(&bad_start), None);
    assert_eq!(recorder::vp8_keyframe_size(&key[..9]), None);
}
