//! Headless browsers for the interop tests: Chromium (`/usr/bin/chromium`) and Firefox ESR
//! (`/usr/bin/firefox-esr`), each with a fresh profile directory, fake camera and microphone, WebRTC on
//! loopback with real host addresses, and the page to open. A browser is started in a process group of its
//! own and the whole group is killed when it is dropped (its helper processes too), then the profile is
//! removed. Used with the echo server (`tests/support/echo_server.rs`): the page POSTs its results to the
//! server's `/report`, and [`run_page`] checks them.

use core::time::Duration;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use super::echo_server::{EchoServer, Scratch};
use super::tool;

/// Which browser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Debian's `chromium`.
    Chromium,
    /// Debian's `firefox-esr`.
    Firefox,
}

impl Kind {
    /// Its executable.
    pub fn program(self) -> &'static str {
        match self {
            Kind::Chromium => "/usr/bin/chromium",
            Kind::Firefox => "/usr/bin/firefox-esr",
        }
    }

    /// How to install it.
    pub fn install(self) -> &'static str {
        match self {
            Kind::Chromium => "`apt-get install chromium` or `bash scripts/setup`",
            Kind::Firefox => "`apt-get install firefox-esr` or `bash scripts/setup`",
        }
    }

    /// Whether it is installed; when it is not, skips (with a message) or, under CI, fails
    /// (`tests/support/tool.rs`).
    pub fn available(self) -> bool {
        if Path::new(self.program()).exists() {
            return true;
        }
        tool::missing(self.program(), self.install());
        false
    }
}

/// Firefox preferences (`user.js`): loopback candidates with their real addresses, fake devices without
/// a permission prompt, media allowed to play, and nothing that reaches out to the network.
const FIREFOX_PREFS: &[(&str, &str)] = &[
    ("media.peerconnection.ice.loopback", "true"),
    ("media.peerconnection.ice.obfuscate_host_addresses", "false"),
    ("media.peerconnection.ice.default_address_only", "false"),
    ("media.peerconnection.ice.no_host", "false"),
    ("media.navigator.streams.fake", "true"),
    ("media.navigator.permission.disabled", "true"),
    ("media.autoplay.default", "0"),
    ("browser.shell.checkDefaultBrowser", "false"),
    ("browser.startup.homepage_override.mstone", "\"ignore\""),
    ("browser.aboutwelcome.enabled", "false"),
    ("datareporting.policy.dataSubmissionEnabled", "false"),
    ("toolkit.telemetry.reportingpolicy.firstRun", "false"),
    ("app.update.disabledForTesting", "true"),
    ("network.captive-portal-service.enabled", "false"),
    ("network.connectivity-service.enabled", "false"),
    ("browser.safebrowsing.update.enabled", "false"),
    ("extensions.update.enabled", "false"),
    ("network.proxy.type", "0"),
];

/// A running headless browser; killed with its helpers, and its profile removed, on drop.
pub struct Browser {
    child: Child,
    profile: PathBuf,
}

/// Headless Chromium's flags in every test: no GPU, QUIC, first-run or background work, no sound.
#[allow(dead_code)] // Not every test file starts Chromium itself.
pub const CHROMIUM_FLAGS: &[&str] = &[
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
];

/// How a browser is started besides its defaults for the tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct Launch {
    /// Chromium keeps its defaults for host candidates (no loopback candidates, host addresses hidden
    /// behind `.local` names) instead of the flags turning them off, and has no fake media devices
    /// granted (for the data page only).
    pub mdns_hiding: bool,
    /// Firefox speaks DTLS 1.2 at most (its `media.peerconnection.dtls.version.max` preference).
    pub dtls12_only: bool,
}

impl Browser {
    /// Starts `kind` on `url` with a new profile.
    pub fn launch(kind: Kind, url: &str) -> Browser {
        Browser::launch_with(kind, url, Launch::default())
    }

    /// [`Browser::launch`] as `launch` says.
    pub fn launch_with(kind: Kind, url: &str, launch: Launch) -> Browser {
        let Launch { mdns_hiding, dtls12_only } = launch;
        assert!(!(dtls12_only && kind == Kind::Chromium), "no switch limits Chromium to DTLS 1.2");
        let profile = std::env::temp_dir().join(format!("sansrtc-{kind:?}-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&profile).expect("profile dir");
        let log = std::fs::File::create(profile.join("browser.log")).expect("log file");
        let mut command = Command::new(kind.program());
        match kind {
            Kind::Chromium => {
                command
                    .args(CHROMIUM_FLAGS)
                    .args(["--autoplay-policy=no-user-gesture-required", "--remote-debugging-port=0"])
                    .arg(format!("--user-data-dir={}", profile.display()));
                if !mdns_hiding {
                    command.args([
                        // A fake camera and microphone, granted without asking (a page with that grant
                        // sees real host addresses, so not with `mdns_hiding`).
                        "--use-fake-device-for-media-stream",
                        "--use-fake-ui-for-media-stream",
                        // Loopback host candidates, and real addresses rather than mDNS names.
                        "--allow-loopback-in-peer-connection",
                        "--disable-features=WebRtcHideLocalIpsWithMdns",
                    ]);
                }
            }
            Kind::Firefox => {
                // DTLS 1.2 at most (0x0303 = 771) when asked; 1.3 (772) is Firefox's own maximum.
                let dtls_max: &[(&str, &str)] =
                    if dtls12_only { &[("media.peerconnection.dtls.version.max", "771")] } else { &[] };
                let prefs: String = FIREFOX_PREFS
                    .iter()
                    .chain(dtls_max)
                    .map(|(name, value)| format!("user_pref(\"{name}\", {value});\n"))
                    .collect();
                std::fs::write(profile.join("user.js"), prefs).expect("user.js");
                command.args(["--headless", "--no-remote", "--profile"]).arg(&profile);
                // Its own home: nothing read from or written to the user's.
                command.env("HOME", &profile).env("MOZ_CRASHREPORTER_DISABLE", "1");
            }
        }
        let child = command
            .arg(url)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", kind.program()));
        Browser { child, profile }
    }

    /// The last lines the browser wrote.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.profile.join("browser.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole process group (the browser's helpers too), then the browser itself is reaped.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

/// Pulls the string value of `"key":"…"` out of the report (JSON.stringify output; escapes kept).
pub fn json_str<'a>(json: &'a str, key: &str) -> Option<&'a str> {
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

/// A number out of the report (`"key":123`).
pub fn json_number(json: &str, key: &str) -> Option<u64> {
    let start = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = json[start..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Runs of `name` from the environment variable `var` (a number), else `default`.
pub fn runs(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .map(|v| v.parse::<usize>().unwrap_or_else(|_| panic!("{var} is a number")))
        .unwrap_or(default)
}

/// Opens the echo server's page (`query` appended to its URL) in `kind`, `runs` times in a row, a new
/// browser each time, each run bounded by `timeout`; every report must come, with no page error and
/// exactly `expected` checks, all passed. Returns the reports and the time of each run.
pub fn run_page(
    kind: Kind,
    server: &EchoServer,
    query: &str,
    runs: usize,
    expected: usize,
    timeout: Duration,
) -> Vec<(String, Duration)> {
    run_page_with(kind, server, query, runs, expected, timeout, Launch::default())
}

/// [`run_page`], the browser started with [`Browser::launch_with`] and `launch`.
pub fn run_page_with(
    kind: Kind,
    server: &EchoServer,
    query: &str,
    runs: usize,
    expected: usize,
    timeout: Duration,
    launch: Launch,
) -> Vec<(String, Duration)> {
    let url = format!("{}{query}", server.url);
    let mut out = Vec::new();
    for run in 1..=runs {
        let started = Instant::now();
        let browser = Browser::launch_with(kind, &url, launch);
        let report = match server.reports().recv_timeout(timeout) {
            Ok(r) => r,
            Err(_) => panic!(
                "{kind:?} run {run} of {runs} ({url}): no report within {timeout:?}; its log:\n{}\n{}",
                browser.log_tail(),
                server.tails()
            ),
        };
        drop(browser);
        let elapsed = started.elapsed();
        println!("{kind:?} run {run}/{runs} ({url}): report after {elapsed:?}: {report}");
        let passed = report.matches("\"pass\":true").count();
        let failed: Vec<&str> = report.split("{\"name\":\"").skip(1).filter(|c| c.contains("\"pass\":false")).collect();
        let context = || format!("{kind:?} run {run} of {runs}: report: {report}\n{}", server.tails());
        assert!(failed.is_empty(), "failed checks: {failed:#?}\n{}", context());
        assert!(report.contains("\"errors\":[]"), "page errors: {}", context());
        assert_eq!(passed, expected, "every check ran and passed: {}", context());
        assert!(report.contains("\"ok\":true"), "{}", context());
        out.push((report, elapsed));
    }
    let total: f64 = out.iter().map(|(_, t)| t.as_secs_f64()).sum();
    let max = out.iter().map(|(_, t)| t.as_secs_f64()).fold(0.0, f64::max);
    println!("{runs} {kind:?} runs of {url} complete: {total:.1} s in all, slowest {max:.1} s");
    out
}

/// Checks the page makes: 3 signalling checks, the channels open, then 4 channels × 6 sizes × 2 types
/// echoed.
const CHANNEL_CHECKS: usize = 4 + 4 * 6 * 2;
/// The quick page (`?quick`): the channel checks alone, no bulk transfer.
pub const QUICK_CHECKS: usize = CHANNEL_CHECKS;
/// The data page: the channel checks and the 32 MiB transfer.
pub const DATA_CHECKS: usize = CHANNEL_CHECKS + 1;
/// The media page (`?media`): the channel checks and getUserMedia, the offer, the answer, a track of each
/// kind, video frames decoded, audio packets received.
pub const MEDIA_CHECKS: usize = CHANNEL_CHECKS + 7;

/// The server's side of media runs: the counts its log gives when each of the `runs` connections is
/// removed (`RTP echoed: A audio, V video`), summed (waiting up to 10 s for the lines).
pub fn echoed_media(server: &EchoServer, runs: usize) -> (u64, u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.log_text().matches("RTP echoed: ").count() < runs && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = server.log_text();
    let mut sum = (0, 0);
    for line in log.lines() {
        let Some(rest) = line.split("RTP echoed: ").nth(1) else { continue };
        let mut words = rest.split([' ', ',']).filter(|w| !w.is_empty());
        let audio = words.next().and_then(|w| w.parse::<u64>().ok()).unwrap_or(0);
        let video = words.nth(1).and_then(|w| w.parse::<u64>().ok()).unwrap_or(0);
        sum.0 += audio;
        sum.1 += video;
    }
    sum
}

/// One quick run (`?quick`) of `kind` against an echo server started with `args`, which must report the
/// connection `Connected` over DTLS `version` (`"1.3"`, `"1.2"`) with itself in `server_role` (`"Client"`,
/// `"Server"`) and closed cleanly. Returns the page's report (its `transport` holds the browser's own
/// `tlsVersion` and `dtlsRole` where its `getStats()` has them).
pub fn dtls_run(kind: Kind, args: &[&str], timeout: Duration, version: &str, server_role: &str) -> String {
    dtls_run_with(kind, args, timeout, version, server_role, Launch::default())
}

/// [`dtls_run`] with the browser started with `launch`.
pub fn dtls_run_with(
    kind: Kind,
    args: &[&str],
    timeout: Duration,
    version: &str,
    server_role: &str,
    launch: Launch,
) -> String {
    let dir = Scratch::new(&format!("{kind:?}-dtls"));
    let server = EchoServer::start_with(&dir.0, args);
    let mut reports = run_page_with(kind, &server, "?quick", 1, QUICK_CHECKS, timeout, launch);
    server.assert_closed_cleanly(1);
    let line = format!("connection Connected (DTLS {version}, {server_role})");
    assert!(server.log_text().contains(&line), "{args:?}: no {line:?} in the server's log:\n{}", server.tails());
    reports.remove(0).0
}
