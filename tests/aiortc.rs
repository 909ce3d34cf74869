//! Interop with aiortc (Python WebRTC, a second independent SCTP and DTLS stack) as the offering peer of the
//! echo server (`examples/echo_server.rs`), on loopback.
//!
//! The echo server runs as it is deployed, built in release and started as a process
//! (`tests/support/echo_server.rs` says why).
//!
//! The client (`tests/aiortc/client.py`) does what the echo server's test page does in a browser: offers
//! four data channels — ordered reliable, unordered, `maxRetransmits: 0`, negotiated id 7 — checks that
//! messages of 0 B, 1 B, 1 KiB, 16 KiB, 64 KiB and 256 KiB come back byte for byte as strings and as binary
//! on each, then sends 32 MiB in 64 KiB messages over the reliable channel with `bufferedAmount` flow control
//! (high water 4 MiB, low water 1 MiB) and checks every echoed byte. It prints its results as JSON.
//!
//! The whole client run is repeated `SANSRTC_AIORTC_RUNS` times in a row (default 20), a new peer
//! connection each time, and every run must complete: a transfer that stalls now and then is a failure.
//!
//! aiortc speaks DTLS 1.2 only: the server offers 1.3 and falls back as DTLS client (the runs above) and
//! as DTLS server (`aiortc_falls_back_to_dtls12_with_the_server_as_dtls_server`, one run).
//!
//! aiortc lives in a virtual environment that `bash scripts/setup` makes at
//! `${XDG_CACHE_HOME:-$HOME/.cache}/sansrtc/aiortc-venv` (or `SANSRTC_AIORTC_VENV`). Without it the test is
//! skipped, or fails under CI (`tests/support/tool.rs`).

use core::time::Duration;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

#[allow(dead_code)]
#[path = "support/echo_server.rs"]
mod echo_server;
#[path = "support/tool.rs"]
mod tool;

use echo_server::{EchoServer, Scratch, tail};

/// The aiortc release the client is written against (`scripts/setup` installs it).
const AIORTC_VERSION: &str = "1.16.0";
/// Runs in a row by default.
const DEFAULT_RUNS: usize = 20;
/// One client run is bounded: its own steps give up well within this (the 32 MiB transfer after 20 s
/// without a flow-control event, or 60 s after the last message sent), the test kills it after this.
const RUN_TIMEOUT: Duration = Duration::from_secs(150);
/// 3 signalling checks + channels open + 4 channels × 6 sizes × 2 types + the 32 MiB transfer.
const EXPECTED_CHECKS: usize = 4 + 4 * 6 * 2 + 1;

/// The virtual environment's directory.
fn venv() -> PathBuf {
    if let Some(v) = std::env::var_os("SANSRTC_AIORTC_VENV").filter(|v| !v.is_empty()) {
        return PathBuf::from(v);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("sansrtc").join("aiortc-venv")
}

/// The virtual environment's Python, if aiortc `AIORTC_VERSION` imports there.
fn aiortc_python() -> Option<PathBuf> {
    let python = venv().join("bin").join("python");
    let out = Command::new(&python)
        .args(["-c", "import aiortc; print(aiortc.__version__)"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    (out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == AIORTC_VERSION).then_some(python)
}

/// A child process, killed on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What one client run printed, and how it ended.
struct Outcome {
    report: String,
    log: String,
    timed_out: bool,
    elapsed: Duration,
}

/// Runs the client against `url` until it exits or `RUN_TIMEOUT` passes.
fn run_client(python: &Path, url: &str) -> Outcome {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aiortc/client.py");
    let started = Instant::now();
    let child = Command::new(python)
        .arg(&script)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the aiortc client");
    let mut client = Process(child);
    // Read both pipes on threads, so a full pipe never blocks the client.
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = reader(client.0.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = reader(client.0.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let mut timed_out = false;
    loop {
        match client.0.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > RUN_TIMEOUT => {
                timed_out = true;
                let _ = client.0.kill();
                let _ = client.0.wait();
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("waiting for the aiortc client: {e}"),
        }
    }
    let elapsed = started.elapsed();
    let report = stdout.join().unwrap_or_default();
    let log = stderr.join().unwrap_or_default();
    Outcome { report: report.trim().to_string(), log, timed_out, elapsed }
}

/// Pulls the number after `"key":` out of the report.
fn json_number(json: &str, key: &str) -> Option<f64> {
    let start = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &json[start..];
    let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-')).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[test]
fn aiortc_echo_repeated() {
    let Some(python) = aiortc_python() else {
        let what = format!("aiortc {AIORTC_VERSION} in {}", venv().display());
        return tool::missing(&what, "`bash scripts/setup` (a Python virtual environment with aiortc)");
    };
    let runs = std::env::var("SANSRTC_AIORTC_RUNS")
        .ok()
        .map(|v| v.parse::<usize>().expect("SANSRTC_AIORTC_RUNS is a number"))
        .unwrap_or(DEFAULT_RUNS);
    let dir = Scratch::new("aiortc");
    let server = EchoServer::start(&dir.0);
    let mut summary = Vec::new();
    for run in 1..=runs {
        let out = run_client(&python, &server.url);
        let context = || {
            let log = tail(&out.log, 40);
            format!("run {run} of {runs} after {:?}; client log:\n{log}\n{}", out.elapsed, server.tails())
        };
        assert!(!out.timed_out, "aiortc client killed after {RUN_TIMEOUT:?}: {}", context());
        let report = &out.report;
        let passed = report.matches("\"pass\":true").count();
        let failed: Vec<&str> = report.split("{\"name\":\"").skip(1).filter(|c| c.contains("\"pass\":false")).collect();
        assert!(failed.is_empty(), "failed checks: {failed:#?}\nreport: {report}\n{}", context());
        assert!(report.contains("\"errors\":[]"), "client errors: {report}\n{}", context());
        assert_eq!(passed, EXPECTED_CHECKS, "every check ran and passed: {report}\n{}", context());
        assert!(report.contains("\"ok\":true"), "{report}\n{}", context());
        let bulk_ms = json_number(report, "bulk_ms").unwrap_or(f64::NAN);
        let lost = json_number(report, "lost").unwrap_or(0.0);
        println!(
            "run {run}/{runs}: {:.1} s in all, 32 MiB echoed in {:.1} s, {lost} lossy-channel messages sent again",
            out.elapsed.as_secs_f64(),
            bulk_ms / 1000.0
        );
        summary.push(out.elapsed.as_secs_f64());
    }
    let total: f64 = summary.iter().sum();
    let max = summary.iter().copied().fold(0.0, f64::max);
    println!("{runs} aiortc runs complete: {total:.1} s in all, slowest {max:.1} s");
    // Every connection the client closed ends `Closed` on the server, never `Failed`.
    server.assert_closed_cleanly(runs);
    // aiortc speaks DTLS 1.2 only: the server, DTLS client by default, offered 1.3 and fell back.
    let fell_back = server.log_text().matches("connection Connected (DTLS 1.2, Client)").count();
    assert_eq!(fell_back, runs, "{}", server.tails());
}

/// The fallback the other way: the server answering `a=setup:passive` (`--dtls-role server`) is the DTLS
/// server, offered 1.2 alone by aiortc, and answers 1.2. One run.
#[test]
fn aiortc_falls_back_to_dtls12_with_the_server_as_dtls_server() {
    let Some(python) = aiortc_python() else {
        let what = format!("aiortc {AIORTC_VERSION} in {}", venv().display());
        return tool::missing(&what, "`bash scripts/setup` (a Python virtual environment with aiortc)");
    };
    let dir = Scratch::new("aiortc-dtls-server");
    let server = EchoServer::start_with(&dir.0, &["--dtls-role", "server"]);
    let out = run_client(&python, &server.url);
    let context = || format!("client log:\n{}\n{}", tail(&out.log, 40), server.tails());
    assert!(!out.timed_out, "aiortc client killed after {RUN_TIMEOUT:?}: {}", context());
    assert!(out.report.contains("\"ok\":true") && out.report.contains("\"errors\":[]"), "{}", context());
    assert_eq!(out.report.matches("\"pass\":true").count(), EXPECTED_CHECKS, "{}", context());
    server.assert_closed_cleanly(1);
    assert!(server.log_text().contains("connection Connected (DTLS 1.2, Server)"), "{}", context());
}
