//! sansrtc SCTP against sctp-proto (the SCTP of str0m and webrtc-rs) over the in-memory lossy link, with
//! sansrtc on either side of the handshake.

use core::time::Duration;

use bytes::Bytes;
use sansrtc::SeededRng;
use sansrtc::sctp::{Association, CloseReason, Config, Event, SendError, SendOptions};
use sansrtc_interop::pipe::{Impair, Pair};
use sansrtc_interop::sctp_proto_peer::{ProtoEvent, ProtoPeer};

type P = Pair<Association, ProtoPeer>;

const WINDOW: u32 = 1024 * 1024;

fn ours(seed: u8) -> Association {
    Association::new(Config::default(), SeededRng::from_seed([seed; 32]))
}

/// sansrtc initiates (`ours_first`) or sctp-proto does.
fn connected(ours_first: bool, impair: Impair) -> P {
    let mut p: P = if ours_first {
        let mut p = Pair::new(ours(1), ProtoPeer::server(WINDOW), impair, impair);
        let now = p.now;
        p.a.connect(now);
        p
    } else {
        let now = sansrtc::Instant::from_secs(1);
        Pair::new(ours(1), ProtoPeer::client(now, WINDOW), impair, impair)
    };
    assert!(
        p.run_until(Duration::from_secs(120), |p| p.a.is_established() && p.b.is_established()),
        "handshake with sctp-proto"
    );
    assert!(p.ev_a.contains(&Event::Connected));
    p.ev_a.clear();
    p
}

fn message(index: u32, len: usize) -> Bytes {
    let mut v: Vec<u8> = (0..len).map(|i| (index as usize * 31 + i * 7) as u8).collect();
    if len >= 4 {
        v[..4].copy_from_slice(&index.to_be_bytes());
    }
    Bytes::from(v)
}

fn sizes(seed: u8, total: usize) -> Vec<usize> {
    let mut rng = SeededRng::from_seed([seed; 32]);
    let mut out = Vec::new();
    let mut sum = 0;
    while sum < total {
        let len = match rng.below(10) {
            0 => 1 + rng.below(3) as usize,
            1..=5 => 4 + rng.below(2000) as usize,
            6..=8 => 2000 + rng.below(30_000) as usize,
            _ => 100_000 + rng.below(156 * 1024) as usize,
        };
        out.push(len);
        sum += len;
    }
    out
}

/// sansrtc → sctp-proto.
fn ours_to_theirs(p: &mut P, stream: u16, lens: &[usize], opts: SendOptions) -> Vec<Bytes> {
    let mut next = 0;
    let mut got = Vec::new();
    let end = p.now + Duration::from_secs(3600);
    loop {
        while next < lens.len() {
            let now = p.now;
            match p.a.send(now, stream, 53, message(next as u32, lens[next]), opts) {
                Ok(()) => next += 1,
                Err(SendError::BufferFull) => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        for e in p.ev_b.drain(..) {
            if let ProtoEvent::Message { stream: s, data, .. } = e {
                assert_eq!(s, stream);
                got.push(data);
            }
        }
        if next == lens.len() && p.a.buffered_total() == 0 {
            break;
        }
        assert!(p.now < end, "stalled: {next} of {} sent, {} received", lens.len(), got.len());
        assert!(p.advance());
    }
    p.pump();
    for e in p.ev_b.drain(..) {
        if let ProtoEvent::Message { data, .. } = e {
            got.push(data);
        }
    }
    got
}

/// sctp-proto → sansrtc.
fn theirs_to_ours(p: &mut P, stream: u16, lens: &[usize]) -> Vec<Bytes> {
    let mut next = 0;
    let mut got = Vec::new();
    let end = p.now + Duration::from_secs(3600);
    loop {
        // Keep sctp-proto's queue shallow (it has no send-buffer limit of its own).
        while next < lens.len() && p.b.buffered(stream) < 2 * 1024 * 1024 {
            assert!(p.b.send(stream, 53, &message(next as u32, lens[next]), false, None));
            next += 1;
        }
        for e in p.ev_a.drain(..) {
            if let Event::Message(m) = e {
                assert_eq!(m.stream, stream);
                got.push(m.data);
            }
        }
        if got.len() == lens.len() {
            return got;
        }
        assert!(p.now < end, "stalled: {next} of {} sent, {} received", lens.len(), got.len());
        assert!(p.advance());
    }
}

fn check(got: &[Bytes], lens: &[usize]) {
    assert_eq!(got.len(), lens.len());
    for (i, (g, l)) in got.iter().zip(lens).enumerate() {
        assert!(g == &message(i as u32, *l), "message {i} differs");
    }
}

#[test]
fn clean_handshake_both_directions_either_side_initiates() {
    for ours_first in [true, false] {
        let mut p = connected(ours_first, Impair::clean(5));
        let lens = [1, 100, 1200, 5000, 70_000, 256 * 1024];
        check(&ours_to_theirs(&mut p, 1, &lens, SendOptions::default()), &lens);
        check(&theirs_to_ours(&mut p, 2, &lens), &lens);
    }
}

#[test]
fn mixed_sizes_over_lossy_link_sansrtc_initiates() {
    let mut p = connected(true, Impair::lossy());
    let lens = sizes(3, 4 * 1024 * 1024);
    check(&ours_to_theirs(&mut p, 0, &lens, SendOptions::default()), &lens);
    check(&theirs_to_ours(&mut p, 1, &lens), &lens);
    assert!(p.a.stats().retransmissions > 0);
}

#[test]
fn mixed_sizes_over_lossy_link_sctp_proto_initiates() {
    let mut p = connected(false, Impair::lossy());
    let lens = sizes(4, 4 * 1024 * 1024);
    check(&theirs_to_ours(&mut p, 0, &lens), &lens);
    check(&ours_to_theirs(&mut p, 1, &lens, SendOptions::default()), &lens);
}

#[test]
fn partial_reliability_towards_sctp_proto_never_stalls() {
    let mut p = connected(true, Impair::lossy());
    assert!(p.a.peer_supports_forward_tsn());
    let lens: Vec<usize> = (0..300).map(|i| 100 + (i % 5) * 800).collect();
    let opts = SendOptions { unordered: true, max_retransmits: Some(0), ..SendOptions::default() };
    let got = ours_to_theirs(&mut p, 4, &lens, opts);
    assert!(got.len() < lens.len() && got.len() > lens.len() / 2, "{} of {}", got.len(), lens.len());
    // Reliable data still flows afterwards.
    let lens = [10, 20_000];
    check(&ours_to_theirs(&mut p, 5, &lens, SendOptions::default()), &lens);
}

#[test]
fn abort_and_shutdown_interoperate() {
    let mut p = connected(true, Impair::clean(5));
    let now = p.now;
    p.a.abort(now);
    assert!(p.run_until(Duration::from_secs(10), |p| p.ev_b.contains(&ProtoEvent::Closed)));

    // (sctp-proto's `close` ends its association locally without sending ABORT, so there is no
    // peer-initiated abort to test from that side.)
    let mut p = connected(true, Impair::clean(5));
    let now = p.now;
    p.a.shutdown(now);
    assert!(p.run_until(Duration::from_secs(30), |p| p.a.is_closed()));
    assert!(p.ev_a.contains(&Event::Closed(CloseReason::Shutdown)));
}

// Simultaneous INITs are not tested against sctp-proto: an sctp-proto endpoint without a server config
// panics (endpoint/mod.rs, `server_config.as_ref().unwrap()`) when an INIT reaches it. The collision is
// tested between two sansrtc associations in tests/sctp.rs and tests/datachannel.rs.

#[test]
fn stream_resets_interoperate_both_ways() {
    let mut p = connected(true, Impair::clean(5));
    // Both sides know streams 3 and 4.
    check(&ours_to_theirs(&mut p, 3, &[10], SendOptions::default()), &[10]);
    check(&theirs_to_ours(&mut p, 4, &[10]), &[10]);
    let now = p.now;
    p.a.reset_streams(now, &[3]).unwrap();
    assert!(p.run_until(Duration::from_secs(10), |p| p.ev_a.contains(&Event::OutgoingStreamReset(3))));
    assert!(p.run_until(Duration::from_secs(10), |p| p.ev_b.contains(&ProtoEvent::StreamReset(3))));
    // sctp-proto answers by resetting its own outgoing stream 3, as data channels do.
    assert!(p.run_until(Duration::from_secs(10), |p| p.ev_a.contains(&Event::IncomingStreamReset(3))));
    assert!(p.b.close_stream(4));
    assert!(p.run_until(Duration::from_secs(10), |p| p.ev_a.contains(&Event::IncomingStreamReset(4))));
    // The reset stream carries data again, from sequence number zero.
    p.ev_b.clear();
    check(&ours_to_theirs(&mut p, 3, &[20, 30], SendOptions::default()), &[20, 30]);
}
