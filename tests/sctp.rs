//! SCTP associations over the in-memory link: handshake (including INIT collision), reliable transfer
//! under loss, PR-SCTP, stream reset, shutdown, abort and a vanished peer.
#![cfg(feature = "sim")]

mod support;

use core::time::Duration;

use bytes::Bytes;
use sansrtc::sctp::{Association, CloseReason, Config, Event, SendError, SendOptions};
use sansrtc::{Instant, SeededRng};
use support::{Impair, Pair};

type P = Pair<Association, Association>;

fn assoc(seed: u8, config: Config) -> Association {
    Association::new(config, SeededRng::from_seed([seed; 32]))
}

fn pair(ab: Impair, ba: Impair) -> P {
    Pair::new(assoc(1, Config::default()), assoc(2, Config::default()), ab, ba)
}

fn connected(p: &mut P, both: bool) {
    let now = p.now;
    p.a.connect(now);
    if both {
        p.b.connect(now);
    }
    assert!(p.run_until(Duration::from_secs(60), |p| p.a.is_established() && p.b.is_established()));
    assert!(p.ev_a.contains(&Event::Connected) && p.ev_b.contains(&Event::Connected));
    p.ev_a.clear();
    p.ev_b.clear();
}

/// A deterministic message of `len` bytes whose content identifies it.
fn message(index: u32, len: usize) -> Bytes {
    let mut v = vec![0u8; len];
    for (i, b) in v.iter_mut().enumerate() {
        *b = (index as usize * 31 + i * 7) as u8;
    }
    if len >= 4 {
        v[..4].copy_from_slice(&index.to_be_bytes());
    }
    Bytes::from(v)
}

fn sizes(rng: &mut SeededRng, total: usize) -> Vec<usize> {
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

/// Sends `lens` on `stream` from a to b with `opts`, feeding as the send buffer allows; returns what b got.
fn transfer(p: &mut P, stream: u16, lens: &[usize], opts: SendOptions, limit: Duration) -> Vec<Bytes> {
    let mut next = 0;
    let mut got = Vec::new();
    let end = p.now + limit;
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
            if let Event::Message(m) = e {
                assert_eq!(m.stream, stream);
                got.push(m.data);
            }
        }
        if next == lens.len() && p.a.buffered_total() == 0 {
            p.pump();
            for e in p.ev_b.drain(..) {
                if let Event::Message(m) = e {
                    got.push(m.data);
                }
            }
            break;
        }
        assert!(p.now < end, "transfer did not finish: {} of {} sent, {} received", next, lens.len(), got.len());
        assert!(p.advance());
    }
    got
}

#[test]
fn handshake_and_small_transfer() {
    let mut p = pair(Impair::clean(10), Impair::clean(10));
    connected(&mut p, false);
    let got = transfer(&mut p, 1, &[5, 1, 3000, 70_000], SendOptions::default(), Duration::from_secs(10));
    assert_eq!(got, vec![message(0, 5), message(1, 1), message(2, 3000), message(3, 70_000)]);
}

#[test]
fn init_collision_both_connect() {
    for delay in [0, 5, 30] {
        let mut p = pair(Impair::clean(delay), Impair::clean(delay + 1));
        connected(&mut p, true);
        let got = transfer(&mut p, 2, &[100, 200], SendOptions::default(), Duration::from_secs(10));
        assert_eq!(got.len(), 2);
        // And the other way.
        let now = p.now;
        p.b.send(now, 3, 51, Bytes::from_static(b"back"), SendOptions::default()).unwrap();
        assert!(p.run_until(Duration::from_secs(5), |p| {
            p.ev_a.iter().any(|e| matches!(e, Event::Message(m) if m.data == "back"))
        }));
    }
}

#[test]
fn handshake_survives_loss() {
    let mut p = pair(Impair { loss: 400, ..Impair::clean(10) }, Impair { loss: 400, ..Impair::clean(10) });
    connected(&mut p, true);
}

#[test]
fn sixteen_mib_mixed_sizes_over_lossy_link_arrive_intact_in_order() {
    let mut p = pair(Impair::lossy(), Impair::lossy());
    connected(&mut p, true);
    let mut rng = SeededRng::from_seed([9; 32]);
    let lens = sizes(&mut rng, 16 * 1024 * 1024);
    let got = transfer(&mut p, 0, &lens, SendOptions::default(), Duration::from_secs(3600));
    assert_eq!(got.len(), lens.len());
    for (i, (g, len)) in got.iter().zip(&lens).enumerate() {
        assert_eq!(g, &message(i as u32, *len), "message {i}");
    }
    let s = p.a.stats();
    assert!(s.retransmissions > 0 && s.fast_retransmits > 0, "{s:?}");
    assert!(p.b.stats().duplicates > 0);
    eprintln!("messages {} a {:?} b {:?} lost {} virtual {}", lens.len(), s, p.b.stats(), p.ab.lost, p.now);
}

#[test]
fn too_large_message_is_refused() {
    let mut p = pair(Impair::clean(1), Impair::clean(1));
    connected(&mut p, false);
    let now = p.now;
    let big = Bytes::from(vec![0u8; 256 * 1024 + 1]);
    assert_eq!(p.a.send(now, 0, 53, big, SendOptions::default()), Err(SendError::TooLarge));
    let ok = Bytes::from(vec![0u8; 256 * 1024]);
    assert_eq!(p.a.send(now, 0, 53, ok, SendOptions::default()), Ok(()));
}

#[test]
fn shutdown_from_either_side() {
    for from_a in [true, false] {
        let mut p = pair(Impair::clean(5), Impair::clean(5));
        connected(&mut p, false);
        let now = p.now;
        let lens = [10_000, 20];
        for (i, l) in lens.iter().enumerate() {
            p.a.send(now, 0, 53, message(i as u32, *l), SendOptions::default()).unwrap();
        }
        if from_a {
            p.a.shutdown(now);
        } else {
            p.b.shutdown(now);
        }
        assert!(p.run_until(Duration::from_secs(30), |p| p.a.is_closed() && p.b.is_closed()));
        assert!(p.ev_a.contains(&Event::Closed(CloseReason::Shutdown)));
        assert!(p.ev_b.contains(&Event::Closed(CloseReason::Shutdown)));
        let msgs = p.ev_b.iter().filter(|e| matches!(e, Event::Message(_))).count();
        assert_eq!(msgs, 2, "data queued before shutdown is delivered");
    }
}

#[test]
fn abort_from_either_side() {
    for from_a in [true, false] {
        let mut p = pair(Impair::clean(5), Impair::clean(5));
        connected(&mut p, false);
        let now = p.now;
        if from_a {
            p.a.abort(now);
        } else {
            p.b.abort(now);
        }
        assert!(p.run_until(Duration::from_secs(5), |p| p.a.is_closed() && p.b.is_closed()));
        let (local, remote) = if from_a { (&p.ev_a, &p.ev_b) } else { (&p.ev_b, &p.ev_a) };
        assert!(local.contains(&Event::Closed(CloseReason::LocalAbort)));
        assert!(remote.contains(&Event::Closed(CloseReason::PeerAbort)));
    }
}

#[test]
fn vanished_peer_fails_the_association() {
    let mut p = pair(Impair::clean(5), Impair::clean(5));
    connected(&mut p, false);
    p.ab.up = false;
    p.ba.up = false;
    assert!(p.run_until(Duration::from_secs(3600), |p| p.a.is_closed() && p.b.is_closed()));
    assert!(p.ev_a.contains(&Event::Closed(CloseReason::Unreachable)));
    assert!(p.ev_b.contains(&Event::Closed(CloseReason::Unreachable)));
    let _ = Instant::ZERO;
}

fn messages_b(p: &mut P) -> Vec<sansrtc::sctp::Message> {
    p.ev_b
        .drain(..)
        .filter_map(|e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

#[test]
fn unordered_delivery_has_no_head_of_line_blocking() {
    for unordered in [true, false] {
        let mut p = pair(Impair::clean(10), Impair::clean(10));
        connected(&mut p, false);
        p.ab.drop_next = 1; // The first DATA packet is lost.
        let now = p.now;
        let opts = SendOptions { unordered, ..SendOptions::default() };
        for i in 0..5 {
            p.a.send(now, 4, 53, message(i, 1100), opts).unwrap();
        }
        // Before any retransmission (RTO is 1 s), the later messages are already there when unordered.
        p.run_until(Duration::from_millis(100), |_| false);
        let early: Vec<u32> =
            messages_b(&mut p).iter().map(|m| u32::from_be_bytes(m.data[..4].try_into().unwrap())).collect();
        if unordered {
            assert_eq!(early, [1, 2, 3, 4]);
        } else {
            assert!(early.is_empty(), "ordered delivery waits for message 0: {early:?}");
        }
        assert!(p.run_until(Duration::from_secs(5), |p| p.a.buffered_total() == 0));
        p.pump();
        let late: Vec<u32> =
            messages_b(&mut p).iter().map(|m| u32::from_be_bytes(m.data[..4].try_into().unwrap())).collect();
        if unordered {
            assert_eq!(late, [0]);
        } else {
            assert_eq!(late, [0, 1, 2, 3, 4]);
        }
    }
}

#[test]
fn max_retransmits_zero_drops_under_loss_and_never_stalls() {
    let mut p = pair(Impair::lossy(), Impair::lossy());
    connected(&mut p, false);
    let lens: Vec<usize> = (0..400).map(|i| 200 + (i % 7) * 700).collect();
    let opts = SendOptions { max_retransmits: Some(0), unordered: true, ..SendOptions::default() };
    let got = transfer(&mut p, 6, &lens, opts, Duration::from_secs(600));
    assert!(got.len() < lens.len(), "some messages are dropped");
    assert!(got.len() > lens.len() / 2);
    for g in &got {
        let i = u32::from_be_bytes(g[..4].try_into().unwrap());
        assert_eq!(g, &message(i, lens[i as usize]));
    }
    assert!(p.a.stats().abandoned > 0);
    // The association still carries reliable data afterwards.
    let after = transfer(&mut p, 7, &[5000, 10], SendOptions::default(), Duration::from_secs(60));
    assert_eq!(after, vec![message(0, 5000), message(1, 10)]);
}

#[test]
fn ordered_partial_reliability_skips_lost_messages() {
    let mut p = pair(Impair::lossy(), Impair::lossy());
    connected(&mut p, false);
    let lens: Vec<usize> = (0..300).map(|i| 100 + (i % 5) * 900).collect();
    let opts = SendOptions { max_retransmits: Some(1), ..SendOptions::default() };
    let got = transfer(&mut p, 8, &lens, opts, Duration::from_secs(600));
    let ids: Vec<u32> = got.iter().map(|g| u32::from_be_bytes(g[..4].try_into().unwrap())).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ordered channel stays in order");
    assert!(ids.len() > 250);
}

#[test]
fn max_lifetime_abandons_late_messages() {
    let mut p = pair(Impair::clean(10), Impair::clean(10));
    connected(&mut p, false);
    p.ab.up = false;
    let now = p.now;
    let opts = SendOptions { max_lifetime: Some(Duration::from_millis(500)), ..SendOptions::default() };
    for i in 0..10 {
        p.a.send(now, 9, 53, message(i, 3000), opts).unwrap();
    }
    p.run_until(Duration::from_millis(1500), |_| false);
    p.ab.up = true;
    assert!(p.run_until(Duration::from_secs(30), |p| p.a.buffered_total() == 0));
    assert!(p.a.stats().abandoned > 0);
    let now = p.now;
    p.a.send(now, 9, 53, message(99, 10), opts).unwrap();
    assert!(p.run_until(Duration::from_secs(10), |p| {
        p.ev_b.iter().any(|e| matches!(e, Event::Message(m) if m.data == message(99, 10)))
    }));
    let late = messages_b(&mut p).iter().filter(|m| m.data.len() == 3000).count();
    assert_eq!(late, 0, "nothing past its lifetime is delivered");
}

#[test]
fn stream_reset_reports_on_both_sides_and_restarts_the_stream() {
    let mut p = pair(Impair::lossy(), Impair::lossy());
    connected(&mut p, false);
    let now = p.now;
    p.a.send(now, 3, 53, message(0, 20_000), SendOptions::default()).unwrap();
    p.a.reset_streams(now, &[3]).unwrap();
    assert_eq!(p.a.send(now, 3, 53, message(1, 1), SendOptions::default()), Err(SendError::StreamClosing));
    assert!(p.run_until(Duration::from_secs(60), |p| p.ev_a.contains(&Event::OutgoingStreamReset(3))));
    assert!(p.ev_b.contains(&Event::IncomingStreamReset(3)));
    let pos_msg = p.ev_b.iter().position(|e| matches!(e, Event::Message(_))).unwrap();
    let pos_reset = p.ev_b.iter().position(|e| *e == Event::IncomingStreamReset(3)).unwrap();
    assert!(pos_msg < pos_reset, "data sent before the reset arrives first");
    p.ev_b.clear();
    let got = transfer(&mut p, 3, &[10], SendOptions::default(), Duration::from_secs(30));
    assert_eq!(got, vec![message(0, 10)]);
}

fn pair_with(config: Config, ab: Impair, ba: Impair) -> P {
    Pair::new(assoc(1, config), assoc(2, config), ab, ba)
}

#[test]
fn packets_respect_the_mtu_and_small_messages_are_bundled() {
    let mut p = pair(Impair::clean(5), Impair::clean(5));
    connected(&mut p, false);
    let now = p.now;
    for i in 0..10 {
        p.a.send(now, 1, 51, message(i, 50), SendOptions::default()).unwrap();
    }
    p.a.send(now, 1, 53, message(10, 100_000), SendOptions::default()).unwrap();
    let mut sizes = Vec::new();
    while let Some(pkt) = sansrtc::DatagramMachine::poll_transmit(&mut p.a) {
        sizes.push(pkt.len());
    }
    assert!(sizes.iter().all(|&s| s <= 1200), "{sizes:?}");
    // The ten 50-byte messages (66 bytes each with the DATA header) share the first packet.
    assert!(sizes[0] >= 12 + 10 * 68, "{sizes:?}");
}

#[test]
fn delayed_ack_waits_for_a_second_packet_or_200_ms() {
    let mut p = pair(Impair::clean(5), Impair::clean(5));
    connected(&mut p, false);
    let now = p.now;
    p.a.send(now, 1, 51, message(0, 10), SendOptions::default()).unwrap();
    let one = sansrtc::DatagramMachine::poll_transmit(&mut p.a).unwrap().to_vec();
    sansrtc::DatagramMachine::handle_receive(&mut p.b, now, &one).unwrap();
    assert!(sansrtc::DatagramMachine::poll_transmit(&mut p.b).is_none(), "no SACK for a single packet yet");
    let deadline = sansrtc::Machine::poll_timeout(&p.b).unwrap();
    assert_eq!(deadline, now + Duration::from_millis(200));
    sansrtc::Machine::handle_timeout(&mut p.b, deadline);
    assert!(sansrtc::DatagramMachine::poll_transmit(&mut p.b).is_some(), "SACK after 200 ms");
    // Two packets: acknowledged at once.
    for i in 0..2 {
        p.a.send(now, 1, 51, message(i, 1100), SendOptions::default()).unwrap();
    }
    let pkts: Vec<Vec<u8>> =
        core::iter::from_fn(|| sansrtc::DatagramMachine::poll_transmit(&mut p.a).map(<[u8]>::to_vec)).collect();
    assert_eq!(pkts.len(), 2);
    for pk in &pkts {
        sansrtc::DatagramMachine::handle_receive(&mut p.b, deadline, pk).unwrap();
    }
    assert!(sansrtc::DatagramMachine::poll_transmit(&mut p.b).is_some());
}

#[test]
fn congestion_window_grows_then_collapses_on_timeout() {
    let mut p = pair(Impair::clean(20), Impair::clean(20));
    connected(&mut p, false);
    let initial = p.a.cwnd();
    assert_eq!(initial, 4380, "min(4 MTU, max(2 MTU, 4380))");
    let _ = transfer(&mut p, 0, &[200_000; 3], SendOptions::default(), Duration::from_secs(30));
    let grown = p.a.cwnd();
    assert!(grown > 4 * initial, "slow start: {initial} -> {grown}");
    // The link goes dark: T3 fires and cwnd drops to one MTU.
    p.ab.up = false;
    let now = p.now;
    p.a.send(now, 0, 53, message(0, 50_000), SendOptions::default()).unwrap();
    p.run_until(Duration::from_secs(2), |p| p.a.stats().t3_expiries > 0);
    assert_eq!(p.a.cwnd(), 1200);
    p.ab.up = true;
    assert!(p.run_until(Duration::from_secs(60), |p| p.a.buffered_total() == 0));
}

#[test]
fn rto_follows_measured_rtt() {
    let config = Config { rto_min: Duration::from_millis(50), ..Config::default() };
    let mut p = pair_with(config, Impair::clean(40), Impair::clean(40));
    connected(&mut p, false);
    let _ = transfer(&mut p, 0, &[20_000; 20], SendOptions::default(), Duration::from_secs(30));
    let rto = p.a.rto();
    // RTT is 80 ms plus up to 200 ms of delayed ack: well under the 1 s initial RTO, above the RTT.
    assert!(rto > Duration::from_millis(80) && rto < Duration::from_secs(1), "{rto:?}");
}

#[test]
fn zero_checksum_only_when_both_sides_advertise_it() {
    for (za, zb) in [(true, true), (true, false), (false, true)] {
        let mut p = Pair::new(
            assoc(1, Config { zero_checksum: za, ..Config::default() }),
            assoc(2, Config { zero_checksum: zb, ..Config::default() }),
            Impair::clean(5),
            Impair::clean(5),
        );
        connected(&mut p, false);
        assert_eq!(p.a.zero_checksum_in_use(), za && zb);
        let now = p.now;
        p.a.send(now, 0, 51, message(0, 10), SendOptions::default()).unwrap();
        let pkt = sansrtc::DatagramMachine::poll_transmit(&mut p.a).unwrap().to_vec();
        let zero = pkt[8..12] == [0; 4];
        assert_eq!(zero, za && zb);
        sansrtc::DatagramMachine::handle_receive(&mut p.b, now, &pkt).unwrap();
    }
}

#[test]
fn send_buffer_is_bounded() {
    let config = Config { send_buffer: 100_000, ..Config::default() };
    let mut p = pair_with(config, Impair::clean(5), Impair::clean(5));
    connected(&mut p, false);
    let now = p.now;
    assert_eq!(p.a.send(now, 0, 53, message(0, 60_000), SendOptions::default()), Ok(()));
    assert_eq!(p.a.send(now, 0, 53, message(1, 60_000), SendOptions::default()), Err(SendError::BufferFull));
    assert!(p.run_until(Duration::from_secs(5), |p| p.a.buffered_total() == 0));
    assert_eq!(p.a.send(p.now, 0, 53, message(1, 60_000), SendOptions::default()), Ok(()));
}

#[test]
fn unanswered_init_times_out() {
    let mut p = pair(Impair::clean(5), Impair::clean(5));
    p.ab.up = false;
    let now = p.now;
    p.a.connect(now);
    assert!(p.run_until(Duration::from_secs(3600), |p| p.a.is_closed()));
    assert!(p.ev_a.contains(&Event::Closed(CloseReason::HandshakeTimeout)));
    // Max.Init.Retransmits (8) retransmissions after the first INIT.
    assert_eq!(p.ab.sent, 9);
}

#[test]
fn tsn_wraparound_under_loss() {
    // This seed gives the initiator an initial TSN of 0xfffffad1: the transfer crosses 2^32.
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&52681u64.to_le_bytes());
    let mut p: P = Pair::new(
        Association::new(Config::default(), SeededRng::from_seed(seed)),
        assoc(2, Config::default()),
        Impair::lossy(),
        Impair::lossy(),
    );
    connected(&mut p, false);
    let mut rng = SeededRng::from_seed([10; 32]);
    let lens: Vec<usize> = (0..3000).map(|_| 1 + rng.below(3000) as usize).collect();
    let got = transfer(&mut p, 0, &lens, SendOptions::default(), Duration::from_secs(3600));
    assert_eq!(got.len(), lens.len());
    assert!(got.iter().zip(&lens).enumerate().all(|(i, (g, l))| *g == message(i as u32, *l)));
    // Partial reliability and a stream reset across the wrap as well.
    let opts = SendOptions { max_retransmits: Some(0), ..SendOptions::default() };
    let _ = transfer(&mut p, 1, &[500; 200], opts, Duration::from_secs(600));
    let now = p.now;
    p.a.reset_streams(now, &[1]).unwrap();
    assert!(p.run_until(Duration::from_secs(60), |p| p.ev_a.contains(&Event::OutgoingStreamReset(1))));
}

#[test]
fn a_loss_on_one_ordered_stream_does_not_hold_back_another() {
    let mut p = pair(Impair::clean(10), Impair::clean(10));
    connected(&mut p, false);
    p.ab.drop_next = 1; // Stream 4's first message (TSN order: first) is lost.
    let now = p.now;
    for i in 0..3 {
        p.a.send(now, 4, 53, message(i, 1100), SendOptions::default()).unwrap();
        p.a.send(now, 5, 53, message(10 + i, 1100), SendOptions::default()).unwrap();
    }
    assert!(p.run_until(Duration::from_secs(5), |p| p.a.buffered_total() == 0));
    p.pump();
    let got: Vec<(u16, u32)> =
        messages_b(&mut p).iter().map(|m| (m.stream, u32::from_be_bytes(m.data[..4].try_into().unwrap()))).collect();
    // Stream 5 went ahead while stream 4 waited for its retransmission; each stream stayed in order.
    assert_eq!(got, [(5, 10), (5, 11), (5, 12), (4, 0), (4, 1), (4, 2)]);
}

#[test]
fn peer_restart_is_detected_and_data_flows_again() {
    let mut p = pair(Impair::clean(10), Impair::clean(10));
    connected(&mut p, false);
    let got = transfer(&mut p, 1, &[1000, 2000, 3000], SendOptions::default(), Duration::from_secs(10));
    assert_eq!(got.len(), 3);
    // b is replaced by a fresh association on the same ports (the peer process restarted) and connects.
    p.b = assoc(3, Config::default());
    let now = p.now;
    p.b.connect(now);
    assert!(p.run_until(Duration::from_secs(30), |p| p.b.is_established()));
    assert!(p.ev_a.contains(&Event::Restarted), "survivor reports the restart: {:?}", p.ev_a);
    assert!(!p.ev_a.iter().any(|e| matches!(e, Event::Closed(_))));
    assert!(p.a.is_established());
    assert!(p.ev_b.contains(&Event::Connected));
    p.ev_a.clear();
    p.ev_b.clear();
    // Data flows again both ways, sequence numbers restarted.
    let got = transfer(&mut p, 1, &[10, 70_000, 5], SendOptions::default(), Duration::from_secs(10));
    assert_eq!(got, vec![message(0, 10), message(1, 70_000), message(2, 5)]);
    let now = p.now;
    p.b.send(now, 2, 53, Bytes::from_static(b"back"), SendOptions::default()).unwrap();
    assert!(p.run_until(Duration::from_secs(5), |p| {
        p.ev_a.iter().any(|e| matches!(e, Event::Message(m) if m.stream == 2 && &m.data[..] == b"back"))
    }));
}

#[test]
fn stale_cookie_is_reported_and_the_initiator_retries_with_a_cookie_preservative() {
    // 40 ms each way and a 60 ms cookie lifetime: the first cookie is 80 ms old when it comes back.
    let short = Config { cookie_lifetime: Duration::from_millis(60), ..Config::default() };
    let mut p = pair_with_b(short, Impair::clean(40), Impair::clean(40));
    let now = p.now;
    p.a.connect(now);
    assert!(p.run_until(Duration::from_secs(10), |p| p.a.is_established() && p.b.is_established()));
    // The first COOKIE-ECHO was refused with a Stale Cookie error, and the second INIT asked for more time.
    assert!(p.b.stats().stale_cookies >= 1, "{:?}", p.b.stats());
    assert!(p.ev_a.contains(&Event::Connected));
}

#[test]
fn stale_cookie_retries_are_bounded() {
    // The lifetime can never cover the round trip (the preservative is capped at one more lifetime).
    let tiny = Config { cookie_lifetime: Duration::from_millis(5), ..Config::default() };
    let mut p = pair_with_b(tiny, Impair::clean(40), Impair::clean(40));
    let now = p.now;
    p.a.connect(now);
    assert!(p.run_until(Duration::from_secs(10), |p| p.a.is_closed()));
    assert!(p.ev_a.contains(&Event::Closed(CloseReason::StaleCookie)), "{:?}", p.ev_a);
    assert_eq!(p.b.stats().stale_cookies, 3, "one refusal plus two retries");
    assert!(!p.b.is_established());
}

fn pair_with_b(config: Config, ab: Impair, ba: Impair) -> P {
    Pair::new(assoc(1, Config::default()), assoc(2, config), ab, ba)
}

/// Bytes of the first `budget` bytes b received that came on each of `streams`, with every stream
/// saturated from the start (weighted fair queueing shows in the order messages are sent).
fn shares(priorities: &[(u16, u16)], budget: usize) -> Vec<usize> {
    let mut p = pair(Impair::clean(10), Impair::clean(10));
    connected(&mut p, false);
    let now = p.now;
    for &(stream, priority) in priorities {
        p.a.set_stream_priority(stream, priority);
        assert_eq!(p.a.stream_priority(stream), priority);
    }
    // 1 MiB per stream, queued before anything is sent: all streams compete from the first packet.
    for n in 0..1024u32 {
        for &(stream, _) in priorities {
            p.a.send(now, stream, 53, message(n, 1024), SendOptions::default()).unwrap();
        }
    }
    let mut got = vec![0usize; priorities.len()];
    let end = p.now + Duration::from_secs(60);
    while got.iter().sum::<usize>() < budget {
        assert!(p.now < end && p.advance(), "transfer stalled");
        for e in p.ev_b.drain(..) {
            if let Event::Message(m) = e {
                let k = priorities.iter().position(|&(s, _)| s == m.stream).unwrap();
                got[k] += m.data.len();
            }
        }
    }
    got
}

#[test]
fn streams_share_the_link_in_proportion_to_their_priorities() {
    // RFC 8831 §6.4 priorities as scheduling weights: 128 / 256 / 512 / 1024.
    let got = shares(&[(1, 128), (3, 256), (5, 512), (7, 1024)], 1024 * 1024);
    println!("bytes per stream by priority 128/256/512/1024: {got:?}");
    let total: usize = got.iter().sum();
    for (k, &weight) in [1usize, 2, 4, 8].iter().enumerate() {
        let expected = total * weight / 15;
        let diff = got[k].abs_diff(expected);
        assert!(diff * 10 <= expected, "stream {k}: {} bytes, expected about {expected} ({got:?})", got[k]);
    }
    // Equal priorities (the default) share equally.
    let got = shares(&[(1, 256), (2, 256)], 1024 * 1024);
    assert!(got[0].abs_diff(got[1]) <= 8 * 1024, "{got:?}");
}

#[test]
fn a_large_message_is_not_interleaved_with_other_streams() {
    // Without I-DATA, the fragments of one message take consecutive TSNs (RFC 9260 §6.9): a high-priority
    // stream waits for a low-priority stream's message in progress to end.
    let mut p = pair(Impair::clean(10), Impair::clean(10));
    connected(&mut p, false);
    let now = p.now;
    p.a.set_stream_priority(1, 128);
    p.a.set_stream_priority(2, 1024);
    p.a.send(now, 1, 53, message(0, 200_000), SendOptions::default()).unwrap();
    for n in 1..50 {
        p.a.send(now, 2, 53, message(n, 1000), SendOptions::default()).unwrap();
    }
    let mut order = Vec::new();
    let end = p.now + Duration::from_secs(30);
    while order.len() < 50 {
        assert!(p.now < end && p.advance(), "transfer stalled");
        for e in p.ev_b.drain(..) {
            if let Event::Message(m) = e {
                assert_eq!(m.data, message(u32::from_be_bytes(m.data[..4].try_into().unwrap()), m.data.len()));
                order.push(m.stream);
            }
        }
    }
    // The big message began first (it was queued first); stream 2's messages all follow it except those
    // that went before its first fragment.
    let big = order.iter().position(|&s| s == 1).unwrap();
    assert!(order[big + 1..].iter().all(|&s| s == 2));
    assert_eq!(order.iter().filter(|&&s| s == 2).count(), 49);
}

#[test]
fn sends_before_establishment_are_queued_and_delivered_in_order() {
    let config_a = Config { send_buffer: 1024 * 1024, ..Config::default() };
    let config_b = Config { max_inbound_streams: 8, ..Config::default() };
    let mut p = Pair::new(assoc(1, config_a), assoc(2, config_b), Impair::clean(10), Impair::clean(10));
    let now = p.now;
    for n in 0..100 {
        p.a.send(now, 1, 53, message(n, 3000), SendOptions::default()).unwrap();
    }
    // A stream the peer will not accept: dropped once the handshake says so, and counted.
    p.a.send(now, 20, 53, message(999, 10), SendOptions::default()).unwrap();
    // The queue before establishment has the same bound as after.
    let big = Bytes::from(vec![0u8; 200_000]);
    let refused = (0..200).map(|_| p.a.send(now, 2, 53, big.clone(), SendOptions::default())).find(|r| r.is_err());
    assert_eq!(refused, Some(Err(SendError::BufferFull)));
    // Nothing goes out but the INIT until the association is established.
    assert_eq!(p.a.buffered_amount(1), 300_000);
    connected(&mut p, false);
    let mut got = Vec::new();
    let end = p.now + Duration::from_secs(60);
    while p.a.buffered_total() > 0 {
        assert!(p.now < end && p.advance(), "transfer stalled");
        for e in p.ev_b.drain(..) {
            if let Event::Message(m) = e
                && m.stream == 1
            {
                got.push(m.data);
            }
        }
    }
    p.pump();
    for e in p.ev_b.drain(..) {
        if let Event::Message(m) = e
            && m.stream == 1
        {
            got.push(m.data);
        }
    }
    assert_eq!(got.len(), 100);
    for (n, m) in got.iter().enumerate() {
        assert_eq!(*m, message(n as u32, 3000));
    }
    assert_eq!(p.a.stats().abandoned, 1, "the message on stream 20 was dropped");
}
