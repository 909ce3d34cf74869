//! Browser interop: headless Chromium against the echo server (`examples/echo_server.rs`), on loopback.
//!
//! Data (`chromium_echo`): the page (`examples/echo_server/page.html`) opens four data channels — ordered
//! reliable, unordered, `maxRetransmits: 0`, negotiated id 7 — checks that messages of 0 B, 1 B, 1 KiB,
//! 16 KiB, 64 KiB and 256 KiB come back byte for byte as strings and as binary, then sends 32 MiB over the
//! reliable channel with `bufferedAmount` flow control, and POSTs its results to `/report`. The whole run
//! is repeated `SANSRTC_CHROMIUM_RUNS` times in a row (default 10), a new browser each time, and every run
//! must complete.
//!
//! Media (`chromium_media`, the page's `?media` mode): a fake camera and microphone; the offer carries
//! audio (Opus), video (VP8) and the channels in one BUNDLE group; the answer says `sendrecv` for both;
//! the server echoes both tracks back on its own streams. The page checks that `ontrack` fires for both
//! kinds (stream `echo`), that within 15 s of the answer `getStats()` shows at least 60 VP8 frames decoded
//! and 200 Opus packets received on the echoed tracks, and makes every channel echo check above on the
//! same connection (no bulk transfer). `SANSRTC_CHROMIUM_MEDIA_RUNS` runs (default 2).
//!
//! DTLS (`chromium_dtls_versions_in_both_roles`): with the server's default (1.3 preferred) Chromium
//! connects over DTLS 1.3 (its transport stats say `tlsVersion` `FEFC`) with the server as DTLS client and,
//! answering `a=setup:passive` (`--dtls-role server`), as DTLS server; with the server pinned to 1.2
//! (`--dtls 1.2`) over 1.2 (`FEFD`) in both roles. Each is one quick run (the channel echo checks, no bulk
//! transfer); `chromium_echo` checks `FEFC` on every run too.
//!
//! The echo server runs as it is deployed, built in release and started as a process
//! (`tests/support/echo_server.rs` says why). Skips (with a message) when `/usr/bin/chromium` is absent
//! (`apt-get install chromium`, or `bash scripts/setup`), or fails under CI (`tests/support/tool.rs`).

use core::time::Duration;

#[allow(dead_code)]
#[path = "support/browser.rs"]
mod browser;
#[allow(dead_code)]
#[path = "support/echo_server.rs"]
mod echo_server;
#[path = "support/tool.rs"]
mod tool;

use browser::{DATA_CHECKS, Kind, MEDIA_CHECKS};
use echo_server::{EchoServer, Scratch};

/// Each data run is bounded: the page gives up after 85 s, the test after this.
const TIMEOUT: Duration = Duration::from_secs(100);
/// Each media run: 15 s for the media after the answer, the channel checks next to it.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(45);

#[test]
fn chromium_echo() {
    if !Kind::Chromium.available() {
        return;
    }
    let runs = browser::runs("SANSRTC_CHROMIUM_RUNS", 10);
    let dir = Scratch::new("chromium");
    let server = EchoServer::start(&dir.0);
    let reports = browser::run_page(Kind::Chromium, &server, "", runs, DATA_CHECKS, TIMEOUT);
    for (report, _) in &reports {
        assert_eq!(browser::json_str(report, "tlsVersion"), Some("FEFC"), "DTLS 1.3 by default: {report}");
    }
    if let Ok(path) = std::env::var("SANSRTC_SAVE_OFFER") {
        let offer = browser::json_str(&reports[0].0, "offer").expect("offer in the report");
        std::fs::write(&path, offer.replace("\\r\\n", "\r\n")).expect("save offer");
    }
    // The page closes its peer connection at the end: the server reports every connection `Closed`, as
    // Chromium does, never `Failed`.
    server.assert_closed_cleanly(runs);
}

/// DTLS 1.3 in both roles by default; 1.2 in both roles with the server pinned to it.
#[test]
fn chromium_dtls_versions_in_both_roles() {
    if !Kind::Chromium.available() {
        return;
    }
    let cases: [(&[&str], &str, &str, &str, &str); 4] = [
        (&[], "1.3", "Client", "server", "FEFC"),
        (&["--dtls-role", "server"], "1.3", "Server", "client", "FEFC"),
        (&["--dtls", "1.2"], "1.2", "Client", "server", "FEFD"),
        (&["--dtls", "1.2", "--dtls-role", "server"], "1.2", "Server", "client", "FEFD"),
    ];
    for (args, version, server_role, chromium_role, tls_version) in cases {
        let report = browser::dtls_run(Kind::Chromium, args, TIMEOUT, version, server_role);
        assert_eq!(browser::json_str(&report, "tlsVersion"), Some(tls_version), "{args:?}: {report}");
        assert_eq!(browser::json_str(&report, "dtlsRole"), Some(chromium_role), "{args:?}: {report}");
    }
}

/// Audio and video from the fake devices echoed by the server, decoded by Chromium, next to the channel
/// checks.
#[test]
fn chromium_media() {
    if !Kind::Chromium.available() {
        return;
    }
    let runs = browser::runs("SANSRTC_CHROMIUM_MEDIA_RUNS", 2);
    let dir = Scratch::new("chromium-media");
    let server = EchoServer::start(&dir.0);
    browser::run_page(Kind::Chromium, &server, "?media", runs, MEDIA_CHECKS, MEDIA_TIMEOUT);
    server.assert_closed_cleanly(runs);
    // The server echoed both kinds (its counts come when each connection is removed).
    let (audio, video) = browser::echoed_media(&server, runs);
    assert!(audio >= 200 && video >= 60, "echoed {audio} audio and {video} video packets:\n{}", server.tails());
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
