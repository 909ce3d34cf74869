//! The estimator and the pacer on the real feedback path: two RTP sessions with transport-wide CC, the
//! sender's packets paced and numbered by its session, the receiver's session sending TWCC feedback
//! over RTCP, and the sender's `Event::TransportFeedback`s handed to the estimator as they come (with
//! `Event::RoundTripTime` and `Event::Remb`). The path is a 1 Mbit/s drop-tail bottleneck with 20 ms of
//! delay each way, so the estimate must find the capacity from feedback decoded off the wire (reference
//! times, 250 µs deltas, feedback counts).

extern crate alloc;

use alloc::collections::VecDeque;
use core::time::Duration;

use sansrtc::cc::{
    BandwidthEstimator, Class, Config as CcConfig, Event as CcEvent, Paced, Pacer, PacerConfig, SentPacket,
};
use sansrtc::rtp::ExtensionKind;
use sansrtc::rtp::session::{
    Config, Event, OutgoingRtp, PacketFeedback, ReceiveStreamConfig, SendStreamConfig, Session,
};
use sansrtc::{Instant, SeededRng};

const VIDEO: u32 = 0x51;
/// Padding for probes goes on its own stream.
const PADDING: u32 = 0x77;
const CAPACITY: u64 = 1_000_000;
const DELAY: Duration = Duration::from_millis(20);
const QUEUE_BYTES: u64 = CAPACITY * 300 / 8000;

fn session(cname: &str, seed: u8) -> Session {
    let mut c = Config::new(cname, Duration::from_secs(3_900_000_000));
    c.payload_types.media(96, 90_000, true, true).unwrap();
    c.extensions.insert(3, ExtensionKind::TransportWideCc);
    Session::new(c, SeededRng::from_seed([seed; 32])).unwrap()
}

#[test]
fn the_estimate_finds_a_bottleneck_through_real_transport_wide_feedback() {
    let mut alice = session("alice", 1);
    let mut bob = session("bob", 2);
    alice.add_send_stream(SendStreamConfig::video(VIDEO, None)).unwrap();
    alice.add_send_stream(SendStreamConfig::video(PADDING, None)).unwrap();
    bob.add_receive_stream(ReceiveStreamConfig::video(VIDEO, None)).unwrap();
    bob.add_receive_stream(ReceiveStreamConfig::video(PADDING, None)).unwrap();
    let mut bwe = BandwidthEstimator::new(CcConfig::new(50_000, 300_000, 5_000_000)).unwrap();
    let mut pacer = Pacer::new(PacerConfig::default(), bwe.target_bitrate());

    let mut now = Instant::from_secs(1);
    let end = now + Duration::from_secs(30);
    let mut next_frame = now;
    let mut frame = 0u32;
    let payload = vec![7u8; 1200];
    let mut out = Vec::with_capacity(1500);
    // The bottleneck (to Bob): FIFO of (packet, time it entered); the one in service and when it leaves.
    let mut queue: VecDeque<(Vec<u8>, Instant)> = VecDeque::new();
    let mut queued = 0u64;
    let mut serving: Option<(Vec<u8>, Instant)> = None;
    // Both directions after the bottleneck: (arrival, to Bob, datagram).
    let mut flight: VecDeque<(Instant, bool, Vec<u8>)> = VecDeque::new();
    let mut feedback: Vec<PacketFeedback> = Vec::new();
    let mut delays = Vec::new();
    let mut received_bytes = 0u64;
    let mut rtt_seen = false;
    let mut samples = Vec::new();
    while now < end {
        // Arrivals.
        while flight.front().is_some_and(|f| f.0 <= now) {
            let (_, to_bob, mut d) = flight.pop_front().unwrap();
            if to_bob {
                if now >= Instant::from_secs(21) {
                    received_bytes += d.len() as u64;
                }
                let _ = bob.handle_receive(now, &mut d);
            } else {
                let _ = alice.handle_receive(now, &mut d);
            }
        }
        // The bottleneck.
        loop {
            match &serving {
                Some((_, done)) if *done <= now => {
                    let (d, _) = serving.take().unwrap();
                    flight.push_back((now + DELAY, true, d));
                }
                Some(_) => break,
                None => {}
            }
            let Some((d, entered)) = queue.pop_front() else { break };
            queued -= d.len() as u64;
            delays.push((now - entered).as_secs_f64() * 1000.0);
            let service = Duration::from_nanos(d.len() as u64 * 8 * 1_000_000_000 / CAPACITY);
            serving = Some((d, now + service));
        }
        // The encoder: a frame at the target.
        if next_frame <= now {
            next_frame += Duration::from_nanos(33_333_333);
            let mut bytes = bwe.target_bitrate() / 8 / 30;
            while bytes > 0 {
                let size = bytes.min(1200);
                bytes -= size;
                let _ = pacer.enqueue(now, u64::from(frame) << 16 | size, size as usize, Class::Video);
            }
            frame += 1;
        }
        for s in [&mut alice, &mut bob] {
            if s.poll_timeout().is_some_and(|t| t <= now) {
                s.handle_timeout(now);
            }
        }
        if pacer.poll_timeout().is_some_and(|t| t <= now) {
            pacer.handle_timeout(now);
        }
        if bwe.poll_timeout().is_some_and(|t| t <= now) {
            bwe.handle_timeout(now);
        }
        loop {
            let mut moved = false;
            // Alice's session: feedback to the estimator (all of what arrived, in order).
            while let Some(e) = alice.poll_event() {
                match e {
                    Event::TransportFeedback(p) => feedback.push(p),
                    Event::RoundTripTime { rtt, .. } => {
                        rtt_seen = true;
                        bwe.handle_rtt(now, rtt);
                    }
                    Event::Remb { bitrate, .. } => bwe.handle_remb(now, bitrate),
                    _ => {}
                }
            }
            if !feedback.is_empty() {
                let _ = bwe.handle_feedback(now, feedback.drain(..));
            }
            while let Some(e) = bwe.poll_event() {
                moved = true;
                match e {
                    CcEvent::TargetBitrate { bitrate, .. } => pacer.set_target(bitrate),
                    CcEvent::Probe(c) => pacer.start_probe(c),
                    _ => {}
                }
            }
            while let Some(p) = pacer.poll_transmit() {
                moved = true;
                let (rtp, probe_cluster) = match p {
                    Paced::Packet { token, size, probe_cluster, .. } => {
                        let ts = (token >> 16) as u32 * 3000;
                        (OutgoingRtp::new(VIDEO, 96, ts, &payload[..size.min(1200)]), probe_cluster)
                    }
                    Paced::Padding { size, probe_cluster } => {
                        (OutgoingRtp::new(PADDING, 96, frame * 3000, &payload[..size.min(1200)]), Some(probe_cluster))
                    }
                };
                let sent = alice.send_rtp(now, &rtp, &mut out).unwrap();
                assert!(sent.transport_sequence.is_some());
                bwe.handle_sent(
                    now,
                    SentPacket { transport_sequence: sent.transport_sequence, size: out.len(), probe_cluster },
                );
                if queued + out.len() as u64 <= QUEUE_BYTES {
                    queued += out.len() as u64;
                    queue.push_back((out.clone(), now));
                }
            }
            if !moved {
                break;
            }
        }
        // RTCP both ways (not through the bottleneck).
        while let Some(t) = alice.poll_transmit() {
            flight.push_back((now + DELAY, true, t.data().to_vec()));
        }
        while let Some(t) = bob.poll_transmit() {
            flight.push_back((now + DELAY, false, t.data().to_vec()));
        }
        if samples.last().is_none_or(|(t, _)| now - *t >= Duration::from_millis(500)) {
            samples.push((now, bwe.target_bitrate()));
        }
        let next = [
            flight.iter().map(|f| f.0).min(),
            serving.as_ref().map(|s| s.1),
            Some(next_frame),
            alice.poll_timeout(),
            bob.poll_timeout(),
            pacer.poll_timeout(),
            bwe.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap();
        now = next.max(now + Duration::from_micros(1));
    }
    delays.sort_by(f64::total_cmp);
    let p95 = delays[delays.len() * 95 / 100];
    let utilization = received_bytes as f64 * 8.0 / 10.0 / CAPACITY as f64;
    let stats = bwe.stats();
    println!("utilization {utilization:.3}, p95 queuing delay {p95:.1} ms, {stats:?}");
    // The estimate found the bottleneck from feedback off the wire, and stays near it.
    assert!(stats.feedback_packets > 2000 && stats.unknown_feedback == 0, "{stats:?}");
    assert!(stats.overuses > 0 && stats.probe_results > 0, "{stats:?}");
    assert!(rtt_seen);
    assert!(utilization > 0.85, "{utilization}");
    assert!(p95 < 100.0, "{p95}");
    for (t, target) in samples.iter().filter(|(t, _)| *t >= Instant::from_secs(6)) {
        assert!((600_000..=1_300_000).contains(target), "{t:?}: {target}");
    }
}
