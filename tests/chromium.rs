//! Browser interop: headless Chromium against the echo server (`examples/echo_server.rs`), on loopback.
//!
//! The page (`examples/echo_server/page.html`) opens four data channels — ordered reliable, unordered,
//! `maxRetransmits: 0`, negotiated id 7 — checks that messages of 0 B, 1 B, 1 KiB, 16 KiB, 64 KiB and
//! 256 KiB come back byte for byte as strings and as binary, then sends 32 MiB over the reliable channel with
//! `bufferedAmount` flow control, and POSTs its results to `/report`. The whole run is repeated
//! `SANSRTC_CHROMIUM_RUNS` times in a row (default 10), a new browser each time, and every run must
//! complete. The echo server runs as it is deployed, built in release and started as a process
//! (`tests/support/echo_server.rs` says why). Skips (with a message) when `/usr/bin/chromium` is absent (`apt-get install chromium`, or
//! `bash scripts/setup`), or fails under CI (`tests/support/tool.rs`).

use core::time::Duration;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

#[allow(dead_code)]
#[path = "support/echo_server.rs"]
mod echo_server;
#[path = "support/tool.rs"]
mod tool;

use echo_server::{EchoServer, Scratch};

const CHROMIUM: &str = "/usr/bin/chromium";
/// Each run is bounded: the page gives up after 85 s, the test after this.
const TIMEOUT: Duration = Duration::from_secs(100);
/// Runs in a row by default.
const DEFAULT_RUNS: usize = 10;
/// 3 signalling checks + channels open + 4 channels × 6 sizes × 2 types + the 32 MiB transfer.
const EXPECTED_CHECKS: usize = 4 + 4 * 6 * 2 + 1;

/// Headless Chromium with its own profile directory; killed and cleaned up on drop.
struct Browser {
    child: Child,
    profile: PathBuf,
}

impl Browser {
    fn launch(url: &str) -> Browser {
        let profile = std::env::temp_dir().join(format!("sansrtc-chromium-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&profile).expect("profile dir");
        let log = std::fs::File::create(profile.join("chromium.log")).expect("log file");
        let child = Command::new(CHROMIUM)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--mute-audio",
                // Loopback host candidates, and real addresses rather than mDNS names.
                "--allow-loopback-in-peer-connection",
                "--disable-features=WebRtcHideLocalIpsWithMdns",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start chromium");
        Browser { child, profile }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.profile.join("chromium.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

/// Pulls the string value of `"key":"…"` out of the report (JSON.stringify output; escapes kept).
fn json_str<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let start = json.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let rest = &json[start..];
    let mut prev = 0u8;
    let end = rest.bytes().position(|b| {
        let stop = b == b'"' && prev != b'\\';
        prev = if prev == b'\\' && b == b'\\' { 0 } else { b };
        stop
    })?;
    Some(&rest[..end])
}

#[test]
fn chromium_echo() {
    if !Path::new(CHROMIUM).exists() {
        return tool::missing(CHROMIUM, "`apt-get install chromium` or `bash scripts/setup`");
    }
    let runs = std::env::var("SANSRTC_CHROMIUM_RUNS")
        .ok()
        .map(|v| v.parse::<usize>().expect("SANSRTC_CHROMIUM_RUNS is a number"))
        .unwrap_or(DEFAULT_RUNS);
    let dir = Scratch::new("chromium");
    let server = EchoServer::start(&dir.0);
    let mut times = Vec::new();
    for run in 1..=runs {
        let started = Instant::now();
        let browser = Browser::launch(&server.url);
        let report = match server.reports().recv_timeout(TIMEOUT) {
            Ok(r) => r,
            Err(_) => panic!(
                "run {run} of {runs}: no report from Chromium within {TIMEOUT:?}; Chromium's log:\n{}\n{}",
                browser.log_tail(),
                server.tails()
            ),
        };
        drop(browser);
        let elapsed = started.elapsed();
        println!("run {run}/{runs}: report after {elapsed:?}: {report}");
        if let Ok(path) = std::env::var("SANSRTC_SAVE_OFFER") {
            let offer = json_str(&report, "offer").expect("offer in the report");
            let offer = offer.replace("\\r\\n", "\r\n");
            std::fs::write(&path, offer).expect("save offer");
        }
        let passed = report.matches("\"pass\":true").count();
        let failed: Vec<&str> = report.split("{\"name\":\"").skip(1).filter(|c| c.contains("\"pass\":false")).collect();
        let context = || format!("run {run} of {runs}: report: {report}\n{}", server.tails());
        assert!(failed.is_empty(), "failed checks: {failed:#?}\n{}", context());
        assert!(report.contains("\"errors\":[]"), "run {run} of {runs}: page errors: {report}");
        assert_eq!(passed, EXPECTED_CHECKS, "run {run} of {runs}: every check ran and passed: {report}");
        assert!(report.contains("\"ok\":true"), "run {run} of {runs}: {report}");
        times.push(elapsed.as_secs_f64());
    }
    let total: f64 = times.iter().sum();
    let max = times.iter().copied().fold(0.0, f64::max);
    println!("{runs} Chromium runs complete: {total:.1} s in all, slowest {max:.1} s");
    // The page closes its peer connection at the end: the server reports every connection `Closed`, as
    // Chromium does, never `Failed`.
    server.assert_closed_cleanly(runs);
}

/// The offer Chromium made in the test page (captured by this test) parses, round-trips and validates.
#[test]
fn chromium_echo_offer_fixture() {
    use sansrtc::sdp::{SdpType, SessionDescription};
    let text = include_str!("../vectors/browser/chromium156_echo/offer.sdp");
    let sdp = SessionDescription::parse(text).expect("parse");
    assert_eq!(sdp.to_string(), text);
    sdp.validate_webrtc(SdpType::Offer).expect("valid WebRTC offer");
    assert_eq!(sdp.media.len(), 1);
    let m = &sdp.media[0];
    assert_eq!(m.media, "application");
    assert_eq!(m.attributes.candidates().count(), 2);
    assert_eq!(m.attributes.values("max-message-size").next(), Some("262144"));
}
