//! A browser session replays: headless Chromium runs the echo server's page (`examples/echo_server/
//! page.html`: four data channels, messages of up to 256 KiB, 32 MiB each way) against the echo server
//! started with `--record DIR`, which journals the connection. The journal then replays against this build
//! in two separate processes of `examples/replay.rs` (built in release, as the echo server is): every output
//! identical, the same digest from both (nothing depends on hash-map order or addresses in memory). The
//! session runs DTLS 1.3 (the default); one byte of one recorded inbound DTLS record changed makes the
//! replay report a divergence at that very call.
//!
//! Skips (with a message) when `/usr/bin/chromium` is absent, or fails under CI (`tests/support/tool.rs`).

use core::time::Duration;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[allow(dead_code)]
#[path = "support/browser.rs"]
mod browser;
#[allow(dead_code)]
#[path = "support/echo_server.rs"]
mod echo_server;
#[path = "support/tool.rs"]
mod tool;

use browser::{Browser, Kind};
use echo_server::{EchoServer, Scratch, build_example};
use sansrtc::record::{Call, Journal};

/// The page gives up after 85 s; the test after this.
const TIMEOUT: Duration = Duration::from_secs(100);

/// Runs the replay example on `journal`: its exit code and output.
fn replay(exe: &Path, journal: &Path) -> (i32, String) {
    let out = Command::new(exe).arg(journal).stdin(Stdio::null()).output().expect("run the replay example");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// The `digest …` the replay example prints at the end of an identical replay.
fn digest(output: &str) -> &str {
    let at = output.rfind("digest ").unwrap_or_else(|| panic!("no digest in:\n{output}")) + "digest ".len();
    output[at..].split_whitespace().next().expect("a digest")
}

#[test]
fn a_recorded_chromium_session_replays() {
    if !Kind::Chromium.available() {
        return;
    }
    let dir = Scratch::new("chromium-replay");
    let record = dir.0.join("journals");
    let server = EchoServer::start_with(&dir.0, &["--record", record.to_str().expect("a UTF-8 path")]);
    let replay_exe = build_example("replay");
    let browser = Browser::launch(Kind::Chromium, &server.url);
    let report = server.reports().recv_timeout(TIMEOUT).unwrap_or_else(|_| {
        panic!(
            "no report from Chromium within {TIMEOUT:?}; Chromium's log:\n{}\n{}",
            browser.log_tail(),
            server.tails()
        )
    });
    drop(browser);
    assert!(report.contains("\"ok\":true") && report.contains("\"errors\":[]"), "the page passed: {report}");
    // The page closes its connection; the server saves the journal's last bytes as the connection ends.
    server.assert_closed_cleanly(1);
    // DTLS 1.3, the default, with the server as DTLS client (it answers `a=setup:active`).
    assert!(server.log_text().contains("connection Connected (DTLS 1.3, Client)"), "{}", server.tails());
    let journals: Vec<PathBuf> = std::fs::read_dir(&record)
        .expect("the record directory")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "journal"))
        .collect();
    assert_eq!(journals.len(), 1, "one journal for one connection: {journals:?}");
    let path = &journals[0];
    let bytes = std::fs::read(path).expect("read the journal");

    // Replayed twice, each in a process of its own: identical, with the same digest.
    let (code_1, out_1) = replay(&replay_exe, path);
    assert_eq!(code_1, 0, "the browser session replays identically:\n{}", tail(&out_1));
    assert!(out_1.contains("identical: every output matched"), "{}", tail(&out_1));
    let (code_2, out_2) = replay(&replay_exe, path);
    assert_eq!(code_2, 0, "{}", tail(&out_2));
    assert_eq!(digest(&out_1), digest(&out_2), "two processes, the same digest");
    println!("journal {} bytes; {}", bytes.len(), out_1.lines().last().unwrap_or(""));

    // One byte of one inbound DTLS record, half way through the session, changed: the replay diverges at
    // that call (the record no longer authenticates, so handle_receive's result differs).
    let journal = Journal::parse(&bytes).expect("the journal reads");
    let dtls: Vec<(u64, usize, usize)> = journal
        .entries()
        .map(|e| e.expect("every record reads"))
        .filter_map(|e| match e.call {
            // A DTLS 1.3 record with the unified header (RFC 9147 §4: 001CSLEE), or 1.2 application data.
            Call::Receive { datagram, .. }
                if datagram.contents.first().is_some_and(|&b| b & 0xe0 == 0x20 || b == 23)
                    && datagram.contents.len() > 100 =>
            {
                let at = datagram.contents.as_ptr() as usize - bytes.as_ptr() as usize;
                Some((e.index, e.offset, at + datagram.contents.len() - 1))
            }
            _ => None,
        })
        .collect();
    assert!(dtls.len() > 1000, "the session carried DTLS application data: {} records", dtls.len());
    let (index, offset, byte) = dtls[dtls.len() / 2];
    let mut damaged = bytes.clone();
    damaged[byte] ^= 0x01;
    let damaged_path = dir.0.join("damaged.journal");
    std::fs::write(&damaged_path, &damaged).expect("write the changed journal");
    let (code, out) = replay(&replay_exe, &damaged_path);
    assert_eq!(code, 1, "a changed input diverges:\n{}", tail(&out));
    let expected = format!("divergence at call #{index} (offset {offset})");
    assert!(out.contains(&expected), "expected {expected:?} in:\n{}", tail(&out));
    println!("{}", tail(&out));
}

fn tail(text: &str) -> String {
    echo_server::tail(text, 30)
}
