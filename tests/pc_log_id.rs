//! Log lines carry the connection they belong to: every call on a peer connection runs inside a
//! `sansrtc::pc` span whose field `id` is the connection's initial local ICE ufrag, so the lines of two
//! connections in one process (one subscriber) are told apart, whichever layer wrote them.

extern crate alloc;

use std::io::Write;
use std::sync::Mutex;

use alloc::sync::Arc;

use sansrtc::pc::{Config, Event, PeerConnection};
use sansrtc::{Instant, Machine, SeededRng};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::util::SubscriberInitExt;

#[path = "support/pc_pair.rs"]
mod pc_pair;
use pc_pair::pump;

/// A writer that appends to a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What one run logged.
struct Run {
    /// The two connections' ids (their initial local ufrags).
    ids: [String; 2],
    /// Every line written: the offer/answer, then the transport at work.
    logs: String,
}

/// Connects two peer connections through a data channel, sends one message each way, and returns their
/// ids and the log lines written once the descriptions were exchanged, with `filter`.
fn run(filter: &str) -> Run {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let ids = {
        let _default = subscriber.set_default();
        let mut a = PeerConnection::new(Config::default(), SeededRng::from_seed([1; 32]));
        let mut b = PeerConnection::new(Config::default(), SeededRng::from_seed([2; 32]));
        let ids = [a.local_ufrag().to_owned(), b.local_ufrag().to_owned()];
        let mut now = Instant::ZERO;
        let chat = pc_pair::negotiate(now, &mut a, &mut b);
        let (mut remote, mut got_a, mut got_b) = (None, false, false);
        for _ in 0..1000 {
            let moved = pump(now, &mut a, &mut b) | pump(now, &mut b, &mut a);
            while let Some(e) = a.poll_event() {
                match e {
                    Event::ChannelOpen(id) if id == chat => a.send_text(now, chat, "from a").unwrap(),
                    Event::Message { .. } => got_a = true,
                    _ => {}
                }
            }
            while let Some(e) = b.poll_event() {
                match e {
                    Event::DataChannel { id, .. } => remote = Some(id),
                    Event::Message { .. } => {
                        got_b = true;
                        b.send_text(now, remote.unwrap(), "from b").unwrap();
                    }
                    _ => {}
                }
            }
            if got_a && got_b {
                break;
            }
            if !moved {
                now = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min().unwrap().max(now);
                a.handle_timeout(now);
                b.handle_timeout(now);
            }
        }
        assert!(got_a && got_b, "a message each way");
        ids
    };
    let logs = String::from_utf8(out.0.lock().unwrap().to_vec()).unwrap();
    Run { ids, logs }
}

#[test]
fn two_connections_lines_are_told_apart_by_id() {
    let Run { ids: [id_a, id_b], logs } = run("sansrtc=debug");
    assert_ne!(id_a, id_b);
    let (tag_a, tag_b) = (format!("pc{{id={id_a}}}"), format!("pc{{id={id_b}}}"));
    let sansrtc_lines: Vec<&str> = logs.lines().filter(|l| l.contains(" sansrtc::")).collect();
    assert!(!sansrtc_lines.is_empty(), "debug lines were written:\n{logs}");
    // Every line written (signalling, channel calls, datagrams in, timers, polls) names its connection, and
    // only one.
    for line in &sansrtc_lines {
        assert!(line.contains(&tag_a) != line.contains(&tag_b), "one connection's id on: {line}");
    }
    // Both connections and several layers speak, each line under its own connection's id.
    for tag in [&tag_a, &tag_b] {
        for target in ["sansrtc::pc:", "sansrtc::ice:", "sansrtc::dtls:", "sansrtc::sctp"] {
            assert!(
                sansrtc_lines.iter().any(|l| l.contains(tag.as_str()) && l.contains(target)),
                "a {target} line under {tag}:\n{logs}"
            );
        }
    }
    // The two DTLS roles: each handshake's lines are the right connection's (the answerer is the client).
    let connected = |tag: &str| {
        sansrtc_lines.iter().find(|l| l.contains(tag) && l.contains("DTLS connected")).copied().unwrap_or_default()
    };
    assert!(connected(&tag_a).contains("Server"), "{}", connected(&tag_a));
    assert!(connected(&tag_b).contains("Client"), "{}", connected(&tag_b));
}

#[test]
fn another_layer_alone_gets_the_id_with_the_pc_span_enabled() {
    // The span is at `error` level under `sansrtc::pc`, so one subsystem's filter plus `sansrtc::pc=error`
    // shows that subsystem's lines with their connection and no other pc line.
    let Run { ids: [id_a, id_b], logs } = run("sansrtc::ice=debug,sansrtc::pc=error");
    assert!(!logs.is_empty());
    for line in logs.lines() {
        assert!(line.contains(" sansrtc::ice"), "ICE lines only: {line}");
        assert!(line.contains(&format!("pc{{id={id_a}}}")) || line.contains(&format!("pc{{id={id_b}}}")), "{line}");
    }
}
