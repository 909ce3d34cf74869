//! Browser interop: headless Firefox ESR against the echo server (`examples/echo_server.rs`), on loopback,
//! with the same page and the same checks as `tests/chromium.rs`.
//!
//! Data (`firefox_echo`): four data channels (ordered reliable, unordered, `maxRetransmits: 0`,
//! negotiated id 7), messages of 0 B to 256 KiB echoed byte for byte as strings and as binary, then
//! 32 MiB over the reliable channel with `bufferedAmount` flow control. `SANSRTC_FIREFOX_RUNS` runs in a
//! row (default 3), a new browser each time.
//!
//! Media (`firefox_media`, the page's `?media` mode): fake camera and microphone; audio (Opus), video
//! (VP8) and the channels in one BUNDLE group, answered `sendrecv`; `ontrack` for both kinds, and within
//! 15 s at least 60 VP8 frames decoded and 200 Opus packets received on the tracks the server echoes,
//! with every channel echo check on the same connection. `SANSRTC_FIREFOX_MEDIA_RUNS` runs (default 2).
//!
//! DTLS (`firefox_dtls_versions_in_both_roles`): with the server's default (1.3 preferred) Firefox connects
//! over DTLS 1.3 (its transport stats say `tlsVersion` `FEFC`) with the server as DTLS client and,
//! answering `a=setup:passive` (`--dtls-role server`), as DTLS server; with the server pinned to 1.2
//! (`--dtls 1.2`) over 1.2 (`FEFD`) in both roles. One quick run each (the channel echo checks, no bulk
//! transfer).
//!
//! The profile (`tests/support/browser.rs`) gives Firefox real host addresses rather than mDNS names and
//! fake devices without a prompt. Firefox offers no loopback candidate (its loopback preference does not
//! bring one) and does not pair its host candidates with the server's `127.0.0.1` from its side, so the
//! server runs full ICE here (`--full-ice`): its checks from `127.0.0.1` reach Firefox's host candidate and
//! become peer-reflexive candidates on both sides. The datagrams stay on the machine. Skips (with a message) when `/usr/bin/firefox-esr` is
//! absent (`apt-get install firefox-esr`, or `bash scripts/setup`), or fails under CI
//! (`tests/support/tool.rs`).

use core::time::Duration;

#[allow(dead_code)]
#[path = "support/browser.rs"]
mod browser;
#[allow(dead_code)]
#[path = "support/echo_server.rs"]
mod echo_server;
#[path = "support/tool.rs"]
mod tool;

use browser::{DATA_CHECKS, Kind, Launch, MEDIA_CHECKS};
use echo_server::{EchoServer, Scratch};

/// Each data run is bounded: the page gives up after 85 s, the test after this.
const TIMEOUT: Duration = Duration::from_secs(100);
/// Each media run: 15 s for the media after the answer, the channel checks next to it.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(45);

#[test]
fn firefox_echo() {
    if !Kind::Firefox.available() {
        return;
    }
    let runs = browser::runs("SANSRTC_FIREFOX_RUNS", 3);
    let dir = Scratch::new("firefox");
    let server = EchoServer::start_with(&dir.0, &["--full-ice"]);
    let reports = browser::run_page(Kind::Firefox, &server, "", runs, DATA_CHECKS, TIMEOUT);
    for (report, _) in &reports {
        assert_eq!(browser::json_str(report, "tlsVersion"), Some("FEFC"), "DTLS 1.3 by default: {report}");
    }
    server.assert_closed_cleanly(runs);
}

#[test]
fn firefox_media() {
    if !Kind::Firefox.available() {
        return;
    }
    let runs = browser::runs("SANSRTC_FIREFOX_MEDIA_RUNS", 2);
    let dir = Scratch::new("firefox-media");
    let server = EchoServer::start_with(&dir.0, &["--full-ice"]);
    browser::run_page(Kind::Firefox, &server, "?media", runs, MEDIA_CHECKS, MEDIA_TIMEOUT);
    server.assert_closed_cleanly(runs);
    let (audio, video) = browser::echoed_media(&server, runs);
    assert!(audio >= 200 && video >= 60, "echoed {audio} audio and {video} video packets:\n{}", server.tails());
}

/// DTLS 1.3 in both roles by default; 1.2 in both roles with the server pinned to it, and with Firefox
/// limited to it.
#[test]
fn firefox_dtls_versions_in_both_roles() {
    if !Kind::Firefox.available() {
        return;
    }
    let cases: [(&[&str], &str, &str, &str, &str); 4] = [
        (&["--full-ice"], "1.3", "Client", "server", "FEFC"),
        (&["--full-ice", "--dtls-role", "server"], "1.3", "Server", "client", "FEFC"),
        (&["--full-ice", "--dtls", "1.2"], "1.2", "Client", "server", "FEFD"),
        (&["--full-ice", "--dtls", "1.2", "--dtls-role", "server"], "1.2", "Server", "client", "FEFD"),
    ];
    for (args, version, server_role, firefox_role, tls_version) in cases {
        let report = browser::dtls_run(Kind::Firefox, args, TIMEOUT, version, server_role);
        assert_eq!(browser::json_str(&report, "tlsVersion"), Some(tls_version), "{args:?}: {report}");
        assert_eq!(browser::json_str(&report, "dtlsRole"), Some(firefox_role), "{args:?}: {report}");
    }
    // Firefox limited to DTLS 1.2, the server as it comes (1.3 preferred): it falls back, in both roles.
    let limited = Launch { dtls12_only: true, ..Launch::default() };
    for (args, server_role, firefox_role) in
        [(&["--full-ice"][..], "Client", "server"), (&["--full-ice", "--dtls-role", "server"][..], "Server", "client")]
    {
        let report = browser::dtls_run_with(Kind::Firefox, args, TIMEOUT, "1.2", server_role, limited);
        assert_eq!(browser::json_str(&report, "tlsVersion"), Some("FEFD"), "{args:?}: {report}");
        assert_eq!(browser::json_str(&report, "dtlsRole"), Some(firefox_role), "{args:?}: {report}");
    }
}
