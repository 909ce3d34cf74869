//! Writes the RTP and RTCP of a recorded peer connection in the clear, as a pcapng file for tshark,
//! Wireshark, GStreamer or ffmpeg.
//!
//! ```text
//! cargo run --example pcap_decrypt -- session.journal media.pcapng
//! tshark -r media.pcapng -o rtp.heuristic_rtp:TRUE -Y rtp
//! ```
//!
//! The journal (from [`sansrtc::record::RecordedPeerConnection`]) is replayed against this build; once
//! DTLS has connected, the SRTP keys are exported from the replayed connection (RFC 5764 §4.2, the
//! `EXTRACTOR-dtls_srtp` exporter) into an SRTP session of its own, which decrypts every SRTP and SRTCP
//! datagram the connection received (with the remote's key) and sent (with its own). Each is written as
//! the plain RTP or RTCP packet it carried, in an IPv4 or IPv6 + UDP frame with the original addresses and
//! time (`sansrtc::record::Capture`: time zero is the Unix epoch unless `--epoch SECONDS` says otherwise).
//! STUN, DTLS and SCTP are left out: the DTLS-decrypting capture (`RecordOptions::capture`) shows those.
//! The replay must match the recording up to the end (it is how the keys are found); it stops at the first
//! divergence and says so. Exit 0 on success, 1 on divergence, 2 for bad arguments or an unreadable journal.

use core::time::Duration;
use std::process::ExitCode;

use sansrtc::record::{Call, Capture, ReplayError, Replayer};
use sansrtc::srtp::{self, Session};
use sansrtc::{Datagram, dtls};

/// What [`decrypt`] wrote and skipped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// RTP packets written.
    pub rtp: u64,
    /// RTCP packets written.
    pub rtcp: u64,
    /// SRTP or SRTCP datagrams that did not decrypt (or came before the keys).
    pub failed: u64,
}

/// RFC 7983: a first byte of 128–191 is RTP or RTCP; RFC 5761 §4: payload types 64–95 (with the marker
/// bit, 192–223) are RTCP.
fn classify(datagram: &[u8]) -> Option<bool> {
    match datagram {
        [first, second, ..] if (128..=191).contains(first) => Some((64..=95).contains(&(second & 0x7f))),
        _ => None,
    }
}

/// Decrypts `datagram` (SRTCP when `rtcp`) with `context`, into `buf`.
fn unprotect(context: &mut srtp::Context, rtcp: bool, datagram: &[u8], buf: &mut Vec<u8>) -> bool {
    buf.clear();
    buf.extend_from_slice(datagram);
    if rtcp { context.unprotect_rtcp(buf).is_ok() } else { context.unprotect_rtp(buf).is_ok() }
}

/// Replays `journal` and writes its decrypted RTP and RTCP as a pcapng file into `out`.
pub fn decrypt(journal: &[u8], epoch: Duration, out: &mut Vec<u8>) -> Result<Counts, ReplayError> {
    let mut replayer = Replayer::new(journal)?;
    let mut capture = Capture::new(epoch, usize::MAX);
    let mut session: Option<Session> = None;
    let mut counts = Counts::default();
    let mut buf = Vec::with_capacity(1500);
    loop {
        if session.is_none() {
            session = keys(replayer.peer_connection());
        }
        let Some(step) = replayer.step()? else { break };
        let now = step.now;
        // Inbound: what the connection was given. Outbound: what it sent.
        let (datagram, inbound) = match (&step.entry.call, step.transmit()) {
            (Call::Receive { datagram, .. }, _) => (*datagram, true),
            (_, Some(t)) => (t, false),
            _ => continue,
        };
        let Some(rtcp) = classify(datagram.contents) else { continue };
        let Some(s) = session.as_mut() else {
            counts.failed += 1;
            continue;
        };
        let context = if inbound { s.inbound() } else { s.outbound() };
        if !unprotect(context, rtcp, datagram.contents, &mut buf) {
            counts.failed += 1;
            continue;
        }
        let clear = Datagram { contents: &buf, ..datagram };
        if inbound {
            capture.received(now, &clear);
        } else {
            capture.sent(now, &clear);
        }
        *(if rtcp { &mut counts.rtcp } else { &mut counts.rtp }) += 1;
        out.extend(capture.take());
    }
    out.extend(capture.take());
    Ok(counts)
}

/// The SRTP session keyed from the connection's DTLS exporter, once DTLS has connected with an SRTP
/// profile.
fn keys(pc: &sansrtc::pc::PeerConnection) -> Option<Session> {
    let profile = pc.srtp_profile()?;
    let role = match pc.dtls_role()? {
        dtls::Role::Client => srtp::Role::Client,
        dtls::Role::Server => srtp::Role::Server,
    };
    let mut block = vec![0; profile.keying_material_len()];
    pc.dtls()?.export_keying_material(b"EXTRACTOR-dtls_srtp", &mut block).ok()?;
    Session::from_keying_material(profile, &block, role, srtp::Config::default()).ok()
}

pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut epoch = Duration::ZERO;
    let mut files = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--epoch" {
            let Some(secs) = it.next().and_then(|s| s.parse::<f64>().ok()) else {
                eprintln!("--epoch SECONDS");
                return ExitCode::from(2);
            };
            epoch = Duration::from_secs_f64(secs);
        } else {
            files.push(a);
        }
    }
    let [journal, out_path] = files[..] else {
        eprintln!("usage: pcap_decrypt JOURNAL OUT.pcapng [--epoch SECONDS]");
        return ExitCode::from(2);
    };
    let journal = match std::fs::read(journal) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("{journal}: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = Vec::new();
    let result = decrypt(&journal, epoch, &mut out);
    if let Err(e) = std::fs::write(out_path, &out) {
        eprintln!("{out_path}: {e}");
        return ExitCode::from(2);
    }
    match result {
        Ok(c) => {
            println!(
                "{out_path}: {} RTP and {} RTCP packets in the clear; {} did not decrypt",
                c.rtp, c.rtcp, c.failed
            );
            ExitCode::SUCCESS
        }
        Err(ReplayError::Diverged(d)) => {
            eprintln!("the replay diverged (the packets before it are written):\n{d}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
