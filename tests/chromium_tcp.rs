//! Browser interop over ICE-TCP (RFC 6544, RFC 4571 framing) with UDP blocked: headless Chromium against
//! the echo server (`examples/echo_server.rs --tcp`), the data page's every check and its 32 MiB transfer.
//!
//! The test runs itself again inside a user and network namespace of its own (`unshare -rn`), so that it
//! can change the network without touching the machine's: there the echo server listens on 10.99.0.1
//! (one end of a veth pair) for HTTP, UDP and TCP; Chromium runs in a second network namespace (a
//! holder process's, entered with `nsenter`) at 10.99.0.2, the other end, so that it has a non-loopback
//! interface to gather host candidates on; an nftables rule drops every UDP datagram arriving on the
//! server's end. Chromium's UDP checks go nowhere; its `tcptype active` candidate pairs with the server's
//! `tcptype passive` one, and everything (STUN, DTLS, SCTP) goes over one TCP connection. The server's
//! log must say the connection is `via tcp`, the nftables counter that UDP was dropped.
//!
//! Needs `/usr/bin/chromium`, `unshare` and `nsenter` (util-linux), `ip` (iproute2) and `nft` (nftables),
//! all installed by `bash scripts/setup`, and namespaces the user may create (root, or unprivileged user
//! namespaces). Outside CI the test skips with a message when one is missing; under CI it fails
//! (`tests/support/tool.rs`).

use core::time::Duration;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

#[allow(dead_code)]
#[path = "support/browser.rs"]
mod browser;
#[allow(dead_code)]
#[path = "support/echo_server.rs"]
mod echo_server;
#[path = "support/tool.rs"]
mod tool;

use browser::{DATA_CHECKS, Kind};
use echo_server::{EchoServer, Scratch};

/// Set in the copy of the test that runs inside the namespace.
const INNER: &str = "SANSRTC_CHROMIUM_TCP_NETNS";
/// The server's end of the veth pair, and Chromium's.
const SERVER_IP: &str = "10.99.0.1";
const BROWSER_IP: &str = "10.99.0.2";
/// The page gives up after 85 s; the test after this.
const TIMEOUT: Duration = Duration::from_secs(100);
const INSTALL: &str = "`apt-get install nftables iproute2 util-linux` or `bash scripts/setup`";

#[test]
fn chromium_over_ice_tcp_with_udp_blocked() {
    if std::env::var_os(INNER).is_some() {
        inside_namespace();
        return;
    }
    if !Kind::Chromium.available() {
        return;
    }
    for tool in ["unshare", "nsenter", "ip", "nft"] {
        if !on_path(tool) {
            tool::missing(tool, INSTALL);
            return;
        }
    }
    let can = Command::new("unshare").args(["-rn", "true"]).stderr(Stdio::null()).status();
    if !can.is_ok_and(|s| s.success()) {
        tool::missing(
            "permission to create user and network namespaces (`unshare -rn`)",
            "root, or `sysctl -w kernel.unprivileged_userns_clone=1`",
        );
        return;
    }
    // Built here, where cargo has its usual environment; the copy inside finds it up to date.
    let _ = echo_server::build_example("echo_server");
    let exe = std::env::current_exe().expect("the test's executable");
    let status = Command::new("unshare")
        .arg("-rn")
        .arg(exe)
        .args(["--exact", "chromium_over_ice_tcp_with_udp_blocked", "--nocapture", "--test-threads=1"])
        .env(INNER, "1")
        .status()
        .expect("run unshare");
    assert!(status.success(), "the run inside the namespace failed: {status}");
}

/// Whether `program` is an executable in `PATH` (or in `/usr/sbin`, `/sbin`, where `ip` and `nft` live).
fn on_path(program: &str) -> bool {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':').chain(["/usr/sbin", "/sbin"]).any(|dir| Path::new(dir).join(program).is_file())
}

/// Runs a command to completion; panics with its output if it fails.
fn run(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{args:?} failed: {text}");
    text
}

/// A process killed (with its process group) on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The second network namespace, for Chromium: a process that holds it while the test runs.
fn browser_namespace() -> Killed {
    let holder = Command::new("unshare").args(["-n", "sleep", "600"]).process_group(0).spawn().expect("unshare -n");
    let pid = holder.id();
    let holder = Killed(holder);
    let ours = std::fs::read_link("/proc/self/ns/net").expect("our network namespace");
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_link(format!("/proc/{pid}/ns/net")).is_ok_and(|ns| ns == ours) {
        assert!(Instant::now() < deadline, "the holder did not enter its namespace");
        std::thread::sleep(Duration::from_millis(20));
    }
    holder
}

fn inside_namespace() {
    let holder = browser_namespace();
    let pid = holder.0.id().to_string();
    let in_browser_ns = |args: &[&str]| {
        let mut all = vec!["nsenter", "-t", &pid, "-n"];
        all.extend_from_slice(args);
        run(&all);
    };
    run(&["ip", "link", "set", "lo", "up"]);
    run(&["ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1"]);
    run(&["ip", "link", "set", "veth1", "netns", &pid]);
    run(&["ip", "addr", "add", &format!("{SERVER_IP}/24"), "dev", "veth0"]);
    run(&["ip", "link", "set", "veth0", "up"]);
    in_browser_ns(&["ip", "addr", "add", &format!("{BROWSER_IP}/24"), "dev", "veth1"]);
    in_browser_ns(&["ip", "link", "set", "veth1", "up"]);
    in_browser_ns(&["ip", "link", "set", "lo", "up"]);
    // UDP to the server is dropped; its own wake-ups (over loopback) are not.
    run(&["nft", "add", "table", "inet", "sansrtc"]);
    run(&["nft", "add", "chain", "inet", "sansrtc", "input", "{ type filter hook input priority 0; }"]);
    run(&[
        "nft", "add", "rule", "inet", "sansrtc", "input", "iifname", "veth0", "meta", "l4proto", "udp", "counter",
        "drop",
    ]);

    let dir = Scratch::new("chromium-tcp");
    let any = format!("{SERVER_IP}:0");
    let server = EchoServer::start_with(&dir.0, &["--http", &any, "--udp", &any, "--tcp", &any]);
    assert!(server.url.contains(SERVER_IP), "{}", server.url);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log_text().contains("ICE-TCP passive candidate") {
        assert!(Instant::now() < deadline, "the server did not listen on TCP:\n{}", server.tails());
        std::thread::sleep(Duration::from_millis(50));
    }

    let profile = dir.0.join("chromium-profile");
    std::fs::create_dir_all(&profile).expect("profile dir");
    let log = std::fs::File::create(dir.0.join("chromium.log")).expect("log file");
    let started = Instant::now();
    let browser = Command::new("nsenter")
        .args(["-t", &pid, "-n", Kind::Chromium.program()])
        .args(browser::CHROMIUM_FLAGS)
        .args([
            // Real addresses rather than mDNS names; no loopback: the veth address is the host candidate.
            "--disable-features=WebRtcHideLocalIpsWithMdns",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(&server.url)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("start chromium");
    let browser = Killed(browser);
    let chromium_log = || {
        let text = std::fs::read_to_string(dir.0.join("chromium.log")).unwrap_or_default();
        echo_server::tail(&text, 30)
    };
    let report = server.reports().recv_timeout(TIMEOUT).unwrap_or_else(|_| {
        panic!("no report within {TIMEOUT:?}; Chromium's log:\n{}\n{}", chromium_log(), server.tails())
    });
    drop(browser);
    println!("Chromium over ICE-TCP: report after {:?}: {report}", started.elapsed());
    let context = || format!("report: {report}\n{}", server.tails());
    let failed: Vec<&str> = report.split("{\"name\":\"").skip(1).filter(|c| c.contains("\"pass\":false")).collect();
    assert!(failed.is_empty(), "failed checks: {failed:#?}\n{}", context());
    assert!(report.contains("\"errors\":[]"), "page errors: {}", context());
    assert_eq!(report.matches("\"pass\":true").count(), DATA_CHECKS, "every check ran and passed: {}", context());
    // The answer carries the passive candidate. (Chromium's offer, taken after gathering, lists no
    // candidate in this setup: the server, ICE lite, learns Chromium's end of the connection from its
    // checks, as a peer-reflexive active candidate.)
    let answer = browser::json_str(&report, "answer").unwrap_or_default().to_lowercase();
    assert!(answer.contains(&format!("{SERVER_IP} ")) && answer.contains("tcptype passive"), "answer: {answer}");
    // The server's connection ran over TCP, and UDP really was dropped.
    let log = server.log_text();
    assert!(log.contains(&format!("via tcp {BROWSER_IP}:")), "{}", context());
    assert!(!log.contains("via udp"), "{}", context());
    let counters = run(&["nft", "list", "chain", "inet", "sansrtc", "input"]);
    let dropped =
        counters.split("packets ").nth(1).and_then(|s| s.split_whitespace().next()).and_then(|n| n.parse::<u64>().ok());
    assert!(dropped.is_some_and(|n| n > 0), "no UDP was dropped: {counters}");
    println!("UDP datagrams dropped by the rule: {dropped:?}");
}
