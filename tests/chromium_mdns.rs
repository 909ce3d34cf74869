//! Browser interop with Chromium's default mDNS hiding (draft-ietf-mmusic-mdns-ice-candidates): headless
//! Chromium, started without the flags that turn hiding off, offers its host candidates behind
//! `<UUID>.local` names; the echo server (`examples/echo_server.rs`) runs full ICE, so it must resolve
//! those names to check Chromium's candidates itself, and the pair it selects must be the resolved host
//! pair, not a peer-reflexive one learned from Chromium's checks.
//!
//! Chromium leaves loopback out of its host candidates and registers its names on the interfaces that
//! do multicast, so the test runs in a network namespace of its own (`unshare -rn`): a veth pair, one end
//! with 10.99.0.1/24, multicast on, and a route for 224.0.0.0/4 through it. The test re-runs itself inside
//! the namespace (`SANSRTC_MDNS_NETNS_ECHO_SERVER` set), where the echo server listens for UDP on 10.99.0.1 and serves
//! its page on 127.0.0.1.
//!
//! Skips (with a message) when Chromium, `unshare` or `ip` is missing, or the namespace cannot be made;
//! fails instead under CI (`tests/support/tool.rs`).

use core::time::Duration;
use std::process::{Command, Stdio};

#[allow(dead_code)]
#[path = "support/browser.rs"]
mod browser;
#[allow(dead_code)]
#[path = "support/echo_server.rs"]
mod echo_server;
#[path = "support/tool.rs"]
mod tool;

use browser::{DATA_CHECKS, Kind, Launch};
use echo_server::{EchoServer, Scratch};

/// Set in the re-run inside the namespace: the echo server's executable, built outside.
const INSIDE: &str = "SANSRTC_MDNS_NETNS_ECHO_SERVER";
/// The address of the namespace's interface.
const ADDRESS: &str = "10.99.0.1";
/// The whole run inside the namespace (the page gives up after 85 s).
const TIMEOUT: Duration = Duration::from_secs(100);

/// The namespace's network: a veth pair (Chromium gathers on interfaces that are up and not loopback),
/// multicast on, the mDNS group routed through it, and a default route: a page without camera or
/// microphone permission gathers only on the address of the default route.
const SETUP: &str = "set -e
ip link set lo up
ip link add sansrtc0 type veth peer name sansrtc1
ip addr add 10.99.0.1/24 dev sansrtc0
ip link set sansrtc0 up multicast on
ip link set sansrtc1 up multicast on
ip route add 224.0.0.0/4 dev sansrtc0
ip route add default dev sansrtc0
exec \"$@\"";

#[test]
fn chromium_mdns_candidates_resolve_to_the_host_pair() {
    if let Some(exe) = std::env::var_os(INSIDE) {
        inside(std::path::Path::new(&exe));
        return;
    }
    if !Kind::Chromium.available() {
        return;
    }
    for tool in ["unshare", "ip"] {
        let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).stdout(Stdio::null()).status();
        if !found.is_ok_and(|s| s.success()) {
            tool::missing(tool, "`apt-get install util-linux iproute2`");
            return;
        }
    }
    let probe = Command::new("unshare").args(["-rn", "sh", "-c", SETUP, "sh", "true"]).output();
    match probe {
        Ok(out) if out.status.success() => {}
        other => {
            let why = match other {
                Ok(out) => String::from_utf8_lossy(&out.stderr).into_owned(),
                Err(e) => e.to_string(),
            };
            tool::missing(&format!("a network namespace (`unshare -rn`: {})", why.trim()), "root or user namespaces");
            return;
        }
    }
    // Built here, outside the namespace, and copied at once: the build directory may be shared.
    let built = echo_server::build_example("echo_server");
    let scratch = Scratch::new("chromium-mdns-exe");
    let server = scratch.0.join("echo_server");
    std::fs::copy(&built, &server).expect("copy the echo server");
    let exe = std::env::current_exe().expect("the test executable");
    let status = Command::new("unshare")
        .args(["-rn", "sh", "-c", SETUP, "sh"])
        .arg(exe)
        .args(["chromium_mdns_candidates_resolve_to_the_host_pair", "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, server)
        // The server's trace says what its resolver resolved.
        .env(
            "SANSRTC_LOG",
            std::env::var("SANSRTC_LOG").map_or("sansrtc::mdns=debug".into(), |v| format!("{v},sansrtc::mdns=debug")),
        )
        .status()
        .expect("run the test inside the namespace");
    let _ = std::fs::remove_dir_all(&scratch.0);
    assert!(status.success(), "the run inside the network namespace failed ({status})");
}

/// Inside the namespace: the page's checks all pass, the server resolved Chromium's names, and the pair
/// it selected is host to host on the namespace's address.
fn inside(exe: &std::path::Path) {
    let dir = Scratch::new("chromium-mdns");
    let server = EchoServer::start_exe(exe, &dir.0, &["--full-ice", "--mdns", "--udp", &format!("{ADDRESS}:0")]);
    let reports = browser::run_page_with(
        Kind::Chromium,
        &server,
        "",
        1,
        DATA_CHECKS,
        TIMEOUT,
        Launch { mdns_hiding: true, ..Launch::default() },
    );
    let (report, _) = reports.first().expect("one report");
    // The offer had its host candidates behind names, and no address of ours in clear.
    let offer = browser::json_str(report, "offer").expect("offer in the report");
    assert!(offer.contains(".local ") && offer.contains(" typ host"), "no .local host candidate: {offer}");
    assert!(!offer.contains(&format!(" {ADDRESS} ")), "Chromium showed its address: {offer}");
    server.assert_closed_cleanly(1);
    // The server resolved the name (its trace), and the selected pair, as the server last printed it
    // (it prints the pair whenever it changes), is host to host on the namespace's address: the
    // resolved candidate, not a peer-reflexive one.
    let name = offer.split(' ').find(|w| w.ends_with(".local")).expect("a .local name");
    let trace = std::fs::read_to_string(dir.0.join("echo_server.trace")).unwrap_or_default();
    assert!(
        trace.contains(&format!("resolved name={name} addr={ADDRESS}")),
        "{name} not resolved:\n{}",
        server.tails()
    );
    let log = server.log_text();
    let pair = log.lines().rfind(|l| l.contains("selected pair"));
    let pair = pair.unwrap_or_else(|| panic!("no pair:\n{log}"));
    println!("{pair}");
    let host = format!("Host {ADDRESS}:");
    assert_eq!(pair.matches(&host).count(), 2, "not the resolved host pair: {pair}\n{}", server.tails());
}
