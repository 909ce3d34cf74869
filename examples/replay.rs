//! Replays a journal of a recorded peer connection against this build of the library, prints the session's
//! timeline and says whether every output was the same as when it was recorded.
//!
//! ```text
//! cargo run --example replay -- session.journal          # API calls and events, then the verdict
//! cargo run --example replay -- session.journal --all    # every call, with what it gave back
//! ```
//!
//! Journals come from [`sansrtc::record::RecordedPeerConnection`] (the echo server writes one per
//! connection with `--record DIR`). Exits 0 when the replay matched to the end, 1 at the first divergence
//! (printed with the inputs just before it), 2 when the journal cannot be read (the error names the byte
//! offset). `SANSRTC_LOG=sansrtc=debug` shows the library's own logs of the replayed session.

use std::io::Write;
use std::process::ExitCode;

use sansrtc::record::{Call, ReplayError, Replayer, render_outcome};

/// `SANSRTC_LOG` filter for tracing output (see `examples/support/log.rs`).
#[path = "support/log.rs"]
mod log;

/// How a replay ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every output matched.
    Identical,
    /// An output differed.
    Diverged,
    /// The journal cannot be read.
    Unreadable,
}

impl Verdict {
    fn exit_code(self) -> ExitCode {
        match self {
            Verdict::Identical => ExitCode::SUCCESS,
            Verdict::Diverged => ExitCode::from(1),
            Verdict::Unreadable => ExitCode::from(2),
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// Replays `journal`, writing the timeline to `out`: every input but datagrams and timeouts, and every
/// event (with `all`, every call and its outcome).
pub fn replay(journal: &[u8], all: bool, out: &mut impl Write) -> std::io::Result<Verdict> {
    let mut replayer = match Replayer::new(journal) {
        Ok(r) => r,
        Err(e) => {
            writeln!(out, "unreadable journal: {e}")?;
            return Ok(Verdict::Unreadable);
        }
    };
    let j = replayer.journal();
    let outputs = if j.whole_outputs() { "whole outputs" } else { "output digests" };
    let certificate = match &j.config().certificate {
        Some(c) => format!("given, {}", c.fingerprint()),
        None => "generated from the seed".to_string(),
    };
    writeln!(out, "journal: {} bytes, format version {}, {outputs}", journal.len(), sansrtc::record::VERSION)?;
    writeln!(out, "seed: {}; certificate {certificate}", hex(j.seed()))?;
    loop {
        let step = match replayer.step() {
            Ok(Some(step)) => step,
            Ok(None) => break,
            Err(ReplayError::Diverged(d)) => {
                writeln!(out, "\nDIVERGED: {d}")?;
                return Ok(Verdict::Diverged);
            }
            Err(ReplayError::Journal(e)) => {
                writeln!(out, "\nunreadable journal: {e}")?;
                return Ok(Verdict::Unreadable);
            }
        };
        let (now, index, call) = (step.now, step.entry.index, &step.entry.call);
        if all {
            let outcome = render_outcome(call.kind(), step.outcome).unwrap_or_else(|e| format!("({e})"));
            writeln!(out, "{now:>18} #{index:<7} {call} -> {outcome}")?;
        } else if let Some(event) = &step.event {
            writeln!(out, "{now:>18} #{index:<7} event {event:?}")?;
        } else if !call.is_poll() && !matches!(call, Call::Receive { .. } | Call::Timeout { .. }) {
            writeln!(out, "{now:>18} #{index:<7} {call}")?;
        }
    }
    let pc = replayer.peer_connection();
    writeln!(out, "\nidentical: every output matched; the connection ends {}", pc.connection_state())?;
    let summary = replayer.summary();
    writeln!(
        out,
        "{} calls ({} inputs), {} datagrams sent, {} events, to {}; digest {}",
        summary.calls,
        summary.inputs,
        summary.transmits,
        summary.events,
        summary.end,
        hex(&summary.digest)
    )?;
    Ok(Verdict::Identical)
}

pub fn main() -> ExitCode {
    log::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let all = args.iter().any(|a| a == "--all");
    let Some(path) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: replay JOURNAL [--all]");
        return ExitCode::from(2);
    };
    let journal = match std::fs::read(path) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::from(2);
        }
    };
    let stdout = std::io::stdout();
    match replay(&journal, all, &mut stdout.lock()) {
        Ok(verdict) => verdict.exit_code(),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
