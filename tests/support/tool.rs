//! Interop tests run against real peers and tools installed on the machine (Chromium, OpenSSL, coturn,
//! aiortc; `bash scripts/setup` installs them all). Outside CI a test whose tool is missing is skipped with
//! a message saying how to install it; under CI (the `CI` environment variable set to anything non-empty,
//! as `.ci/run` runs) it fails, so that CI never passes without having run them.

/// Whether the tests run under CI (`CI` set and not empty).
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// `what` is missing: under CI this fails the test; otherwise it says the test is skipped and how to get
/// `what` (`install`), and the test returns.
pub fn missing(what: &str, install: &str) {
    let msg = format!("{what} not found; install it with {install}");
    assert!(!in_ci(), "CI is set and {msg}: interop tests must not be skipped under CI");
    println!("SKIPPED: {msg}");
}
