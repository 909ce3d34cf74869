//! The examples' logging: `examples/quickstart.rs` run as a process of its own with a `SANSRTC_LOG`
//! filter prints exactly the subsystems the filter names. The child process is this test binary running
//! the example's `main` (included below), so no extra build step is needed.

#![cfg(feature = "sim")]

use std::process::Command;

#[allow(dead_code)]
#[path = "../examples/quickstart.rs"]
mod quickstart;

/// Set in the child: run the example.
const CHILD: &str = "SANSRTC_EXAMPLE_LOGGING_CHILD";

#[test]
fn quickstart_child() {
    if std::env::var_os(CHILD).is_some() {
        quickstart::main().expect("the example runs");
    }
}

/// Runs the example with `filter` (`None`: unset) and returns its stderr, checking it succeeded.
fn run(filter: Option<&str>) -> String {
    let exe = std::env::current_exe().expect("the test binary");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "quickstart_child", "--nocapture", "--test-threads", "1"]).env(CHILD, "1");
    match filter {
        Some(f) => cmd.env("SANSRTC_LOG", f),
        None => cmd.env_remove("SANSRTC_LOG"),
    };
    let out = cmd.output().expect("start the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the example failed: {stdout}");
    assert!(stdout.contains("Timeline"), "the example ran to its end: {stdout}");
    String::from_utf8(out.stderr).expect("UTF-8 logs")
}

fn lines_of<'a>(logs: &'a str, target: &str) -> Vec<&'a str> {
    logs.lines().filter(|l| l.contains(&format!(" {target}: ")) || l.contains(&format!(" {target}::"))).collect()
}

#[test]
fn sansrtc_log_selects_the_subsystems() {
    let ice = run(Some("sansrtc::ice=trace"));
    let checks: Vec<&str> = lines_of(&ice, "sansrtc::ice").into_iter().filter(|l| l.contains("check sent")).collect();
    assert!(!checks.is_empty(), "ICE check lines at trace:\n{ice}");
    assert!(checks.iter().all(|l| l.contains("TRACE")), "{checks:?}");
    assert!(lines_of(&ice, "sansrtc::dtls").is_empty(), "no DTLS line:\n{ice}");
    assert!(ice.lines().all(|l| l.contains("sansrtc::ice")), "nothing but ICE:\n{ice}");

    // The other way round: DTLS at debug shows the handshake and no ICE line.
    let dtls = run(Some("sansrtc::dtls=debug"));
    assert!(!lines_of(&dtls, "sansrtc::dtls").is_empty(), "DTLS lines at debug:\n{dtls}");
    assert!(lines_of(&dtls, "sansrtc::ice").is_empty(), "no ICE line:\n{dtls}");
    assert!(!dtls.contains("TRACE"), "nothing below debug:\n{dtls}");

    // Unset: warnings and errors only, and a clean run has none.
    assert_eq!(run(None), "", "no output without SANSRTC_LOG");
}
