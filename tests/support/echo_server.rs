//! The echo server (`examples/echo_server.rs`) as the interop tests against real peers run it: the example
//! built in release (with cargo, by the test) and started as a process on 127.0.0.1, as it is deployed.
//!
//! At that speed the server keeps up with its peer, whose bursts then fill the SCTP receive window and now
//! and then overflow the server's socket buffer: the conditions under which a 32 MiB transfer once stalled
//! for good (a retransmission filling a hole refused beyond the window). A debug build of the server in the
//! test process is the bottleneck itself and hardly ever meets them.

use core::time::Duration;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};

/// The running server, killed on drop. Its stdout (peer connection events) goes to `echo_server.log` in the
/// directory given, its stderr (`tracing` output when `SANSRTC_LOG` is set) to `echo_server.trace`.
pub struct EchoServer {
    child: Child,
    /// `http://127.0.0.1:PORT/`.
    pub url: String,
    /// The UDP socket's address (`127.0.0.1:PORT`), when its first line said it.
    pub udp: Option<core::net::SocketAddr>,
    log: PathBuf,
    trace: PathBuf,
    reports: Receiver<String>,
}

impl EchoServer {
    /// Builds the example in release and starts it on ephemeral ports, its files in `dir`.
    pub fn start(dir: &Path) -> EchoServer {
        EchoServer::start_with(dir, &[])
    }

    /// [`EchoServer::start`] with more command-line arguments (`--full-ice`, …).
    pub fn start_with(dir: &Path, args: &[&str]) -> EchoServer {
        EchoServer::start_exe(&build(), dir, args)
    }

    /// [`EchoServer::start_with`], the server's executable already built (by [`build_example`]).
    pub fn start_exe(exe: &Path, dir: &Path, args: &[&str]) -> EchoServer {
        // Its first line says where it listens; `report: …` lines carry the JSON a page POSTed to /report.
        let (first_tx, first_rx) = channel();
        let (report_tx, reports) = channel();
        let mut first = true;
        let (child, log, trace) = spawn_example(exe, "echo_server", dir, args, move |line| {
            if core::mem::take(&mut first) {
                let _ = first_tx.send(line.to_string());
            }
            if let Some(report) = line.strip_prefix("report: ") {
                let _ = report_tx.send(report.to_string());
            }
        });
        let server = |url, udp| EchoServer { child, url, udp, log: log.clone(), trace: trace.clone(), reports };
        let first = match first_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(line) => line,
            Err(_) => {
                let s = server(String::new(), None);
                panic!("the echo server did not start:\n{}", s.tails())
            }
        };
        // "echo server: http://127.0.0.1:PORT/  udp 127.0.0.1:PORT"
        let url = first.split_whitespace().find(|w| w.starts_with("http://")).map(str::to_string);
        let url = url.unwrap_or_else(|| panic!("no URL in the echo server's first line: {first:?}"));
        let udp = first.split_once(" udp ").and_then(|(_, addr)| addr.trim().parse().ok());
        server(url, udp)
    }

    /// Datagrams its UDP socket dropped so far because the receive buffer was full: the kernel's count,
    /// the last column of `/proc/net/udp` (the server reads the same count from its datagrams'
    /// `SO_RXQ_OVFL` control messages). `None` off Linux or if the socket is not found.
    pub fn receive_drops(&self) -> Option<u64> {
        let port = self.udp?.port();
        let table = std::fs::read_to_string("/proc/net/udp").ok()?;
        let local = format!(":{port:04X}");
        table.lines().skip(1).find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(1)?.ends_with(&local).then(|| fields.last()?.parse().ok())?
        })
    }

    /// The JSON bodies POSTed to `/report`, in order.
    pub fn reports(&self) -> &Receiver<String> {
        &self.reports
    }

    /// Its log (peer connection events, one line each) so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (up to 10 s) until the log reports `runs` connections `Closed`, and asserts it does, and that
    /// none reported `Failed`: clients that close cleanly must be seen closed, as browsers see them.
    pub fn assert_closed_cleanly(&self, runs: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let closed = || self.log_text().matches("connection Closed").count();
        while closed() < runs && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = self.log_text();
        assert_eq!(closed(), runs, "every connection ends closed:\n{}", tail(&log, 60));
        assert!(!log.contains("connection Failed"), "a clean close reported as a failure:\n{}", tail(&log, 60));
    }

    /// The last lines of its log and trace, for a failure message.
    pub fn tails(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "echo server log ({}):\n{}\necho server trace ({}):\n{}",
            self.log.display(),
            tail(&read(&self.log), 20),
            self.trace.display(),
            tail(&read(&self.trace), 20)
        )
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Builds `examples/echo_server.rs` in release (`cargo build --release --example echo_server`, the first
/// time a few minutes); returns the executable.
fn build() -> PathBuf {
    build_example("echo_server")
}

/// An example started with `--http 127.0.0.1:0` and `args`: its stdout copied line by line to
/// `DIR/NAME.log` by a thread that hands each line to `on_line`, its stderr (the trace) to `DIR/NAME.trace`.
/// Returns the process and the two paths.
#[allow(dead_code)] // Not every test file starts an example.
pub fn spawn_example(
    exe: &Path,
    name: &str,
    dir: &Path,
    args: &[&str],
    mut on_line: impl FnMut(&str) + Send + 'static,
) -> (Child, PathBuf, PathBuf) {
    let log = dir.join(format!("{name}.log"));
    let trace = dir.join(format!("{name}.trace"));
    let mut child = Command::new(exe)
        .args(["--http", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&trace).expect("trace file"))
        .spawn()
        .unwrap_or_else(|e| panic!("start {name}: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let log_path = log.clone();
    std::thread::spawn(move || {
        let mut file = std::fs::File::create(&log_path).expect("log file");
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = writeln!(file, "{line}");
            on_line(&line);
        }
    });
    (child, log, trace)
}

/// Builds an example of this package in release; returns its executable (named by cargo's artifact
/// message).
pub fn build_example(name: &str) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let out = Command::new(cargo)
        .args(["build", "--release", "-p", "sansrtc", "--example", name, "--message-format=json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build");
    assert!(out.status.success(), "cargo build --release --example {name} failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("\"reason\":\"compiler-artifact\"") && l.contains(&format!("\"name\":\"{name}\"")))
        .expect("cargo reported the example's artifact");
    let key = "\"executable\":\"";
    let start = line.find(key).expect("an executable") + key.len();
    let end = line[start..].find('"').expect("end of the path") + start;
    PathBuf::from(&line[start..end])
}

/// A scratch directory for one test's files, removed on drop unless the test failed (the server's log and
/// trace stay for a look).
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// `sansrtc-TAG-PID` in the temporary directory, empty.
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("sansrtc-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
