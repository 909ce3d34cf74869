//! The estimator as a whole: bounds under hostile feedback, REMB, the delay signal, application-limited
//! senders.

use super::*;
use crate::rand::SeededRng;
use rand_core::Rng;

const MIN: u64 = 50_000;
const MAX: u64 = 5_000_000;

fn fb(seq: u64, sent_at: Instant, arrival_us: Option<i64>) -> PacketFeedback {
    PacketFeedback {
        transport_sequence: seq,
        ssrc: 1,
        sequence: seq as u16,
        sent_at,
        size: 1200,
        arrival_us,
        feedback_count: 0,
    }
}

fn estimator() -> BandwidthEstimator {
    let mut c = Config::new(MIN, 300_000, MAX);
    c.probing = false;
    BandwidthEstimator::new(c).unwrap()
}

/// Sends `rate` bit/s of 1200-octet packets for `secs` over a link that adds `extra_us` of queuing per
/// packet (0: a steady path), feedback every 50 ms; returns the estimator.
fn run(e: &mut BandwidthEstimator, rate: u64, secs: u64, extra_us: i64, seq: &mut u64, now: &mut Instant) {
    let gap = Duration::from_nanos(1200 * 8 * 1_000_000_000 / rate);
    let end = *now + Duration::from_secs(secs);
    let mut batch = Vec::new();
    let mut queue = 0i64;
    let mut next_fb = *now + Duration::from_millis(50);
    while *now < end {
        e.handle_sent(*now, SentPacket { transport_sequence: Some(*seq as u16), size: 1200, probe_cluster: None });
        queue += extra_us;
        batch.push(fb(*seq, *now, Some(micros(*now) + 20_000 + queue)));
        *seq += 1;
        *now += gap;
        if *now >= next_fb {
            let _ = e.handle_feedback(*now, batch.drain(..));
            next_fb += Duration::from_millis(50);
        }
        e.handle_timeout(*now);
        while e.poll_event().is_some() {}
    }
}

#[test]
fn config_is_checked() {
    assert_eq!(BandwidthEstimator::new(Config::new(0, 1, 2)).err(), Some(Error::InvalidBounds));
    assert_eq!(BandwidthEstimator::new(Config::new(10, 5, 20)).err(), Some(Error::InvalidBounds));
    assert_eq!(BandwidthEstimator::new(Config::new(10, 30, 20)).err(), Some(Error::InvalidBounds));
    let mut c = Config::new(10, 10, 20);
    c.send_history = 1000;
    assert_eq!(BandwidthEstimator::new(c).err(), Some(Error::InvalidHistory));
}

#[test]
fn feedback_for_packets_never_sent_changes_nothing() {
    let mut e = estimator();
    let now = Instant::from_secs(1);
    let r = e.handle_feedback(now, (0..100).map(|s| fb(s, now, Some(1000))));
    assert_eq!(r, Err(Error::FeedbackForUnsentPackets));
    assert_eq!(e.stats().unknown_feedback, 100);
    e.handle_sent(now, SentPacket { transport_sequence: Some(5), size: 1200, probe_cluster: None });
    // Reported once: matched; reported again: unknown.
    assert_eq!(e.handle_feedback(now, [fb(5, now, Some(0))]), Ok(()));
    assert_eq!(e.handle_feedback(now, [fb(5, now, Some(0))]), Err(Error::FeedbackForUnsentPackets));
    assert_eq!(e.target_bitrate(), 300_000);
}

#[test]
fn absurd_feedback_never_leaves_the_bounds() {
    let mut rng = SeededRng::from_seed([9; 32]);
    let mut e = BandwidthEstimator::new(Config::new(MIN, 300_000, MAX)).unwrap();
    let mut now = Instant::from_secs(1);
    let mut seq = 0u64;
    for round in 0..2000u32 {
        now += Duration::from_millis(u64::from(rng.next_u32() % 40));
        for _ in 0..(rng.next_u32() % 20) {
            let size = if rng.next_u32() % 50 == 0 { usize::MAX } else { (rng.next_u32() % 1500) as usize };
            let cluster = (rng.next_u32() % 4 == 0).then_some(rng.next_u32() % 5);
            e.handle_sent(now, SentPacket { transport_sequence: Some(seq as u16), size, probe_cluster: cluster });
            seq += 1;
        }
        let n = rng.next_u32() % 30;
        let start = seq.saturating_sub(u64::from(rng.next_u32() % 40));
        let arrival = |rng: &mut SeededRng| match rng.next_u32() % 6 {
            0 => None,
            1 => Some(i64::MAX - i64::from(rng.next_u32())),
            2 => Some(i64::MIN + i64::from(rng.next_u32())),
            _ => Some(i64::from(round) * 30_000 + i64::from(rng.next_u32() % 100_000)),
        };
        let packets: Vec<PacketFeedback> = (0..u64::from(n))
            .map(|k| fb(start + k + u64::from(rng.next_u32() % 3) * 65_536, now, arrival(&mut rng)))
            .collect();
        let _ = e.handle_feedback(now, packets);
        match rng.next_u32() % 10 {
            0 => e.handle_remb(now, u64::MAX),
            1 => e.handle_remb(now, 0),
            2 => e.handle_rtt(now, Duration::MAX),
            3 => e.handle_timeout(now + Duration::from_secs(5)),
            _ => {}
        }
        e.handle_timeout(now);
        while let Some(ev) = e.poll_event() {
            if let Event::TargetBitrate { bitrate, .. } = ev {
                assert!((MIN..=MAX).contains(&bitrate), "{bitrate}");
            }
        }
        assert!((MIN..=MAX).contains(&e.target_bitrate()), "{}", e.target_bitrate());
    }
    assert!(e.stats().feedback_packets > 1000, "{:?}", e.stats());
}

#[test]
fn remb_is_an_upper_bound_and_a_huge_one_is_harmless() {
    let mut e = estimator();
    let mut now = Instant::from_secs(1);
    let mut seq = 0;
    run(&mut e, 300_000, 1, 0, &mut seq, &mut now);
    e.handle_remb(now, 100_000);
    assert_eq!(e.target_bitrate(), 100_000);
    e.handle_remb(now, 1);
    assert_eq!(e.target_bitrate(), MIN);
    e.handle_remb(now, u64::MAX);
    assert!(e.target_bitrate() <= MAX && e.target_bitrate() >= 300_000);
}

#[test]
fn a_steady_path_grows_the_target_and_a_growing_queue_cuts_it() {
    let mut e = estimator();
    let mut now = Instant::from_secs(1);
    let mut seq = 0;
    // The sender keeps up with the target: send at the target for a few seconds.
    for _ in 0..10 {
        let rate = e.target_bitrate();
        run(&mut e, rate, 1, 0, &mut seq, &mut now);
    }
    let grown = e.target_bitrate();
    assert!(grown > 500_000, "{grown}");
    assert_eq!(e.usage(), Usage::Normal);
    // Now each packet waits 1 ms longer than the one before: over-use, cut to about 0.85 × acked.
    run(&mut e, grown, 1, 1000, &mut seq, &mut now);
    assert!(e.stats().overuses >= 1);
    assert!(e.target_bitrate() < grown * 9 / 10, "{} {grown}", e.target_bitrate());
}

#[test]
fn an_application_limited_sender_does_not_grow_the_target() {
    let mut e = estimator();
    let mut now = Instant::from_secs(1);
    let mut seq = 0;
    // 100 kbit/s sent against a 300 kbit/s target, on a perfect path, for 30 s.
    run(&mut e, 100_000, 30, 0, &mut seq, &mut now);
    assert!(e.application_limited());
    // Before a window of feedback (the first 500 ms) each update may add 1 kbit/s; then nothing.
    assert!(e.target_bitrate() <= 320_000, "{}", e.target_bitrate());
}

#[test]
fn feedback_stopping_cuts_the_target() {
    let mut e = estimator();
    let mut now = Instant::from_secs(1);
    let mut seq = 0;
    run(&mut e, 300_000, 2, 0, &mut seq, &mut now);
    let before = e.target_bitrate();
    for _ in 0..300 {
        now += Duration::from_millis(10);
        e.handle_sent(now, SentPacket { transport_sequence: Some(seq as u16), size: 1200, probe_cluster: None });
        seq += 1;
        e.handle_timeout(now);
    }
    assert!(e.stats().feedback_timeouts >= 2);
    assert!(e.target_bitrate() <= before * 64 / 100, "{} {before}", e.target_bitrate());
    assert!(e.target_bitrate() >= MIN);
}

#[test]
fn start_probes_go_out_with_the_first_packet_and_results_raise_the_target() {
    let mut e = BandwidthEstimator::new(Config::new(MIN, 300_000, MAX)).unwrap();
    let mut now = Instant::from_secs(1);
    assert_eq!(e.poll_timeout(), None);
    e.handle_sent(now, SentPacket { transport_sequence: Some(0), size: 1200, probe_cluster: None });
    let mut clusters = Vec::new();
    while let Some(ev) = e.poll_event() {
        if let Event::Probe(c) = ev {
            clusters.push(c);
        }
    }
    assert_eq!(clusters.iter().map(|c| c.bitrate).collect::<Vec<_>>(), [900_000, 1_800_000]);
    // The second cluster, 1000-octet packets at 1.8 Mbit/s, arrives at 1.8 Mbit/s.
    let c = clusters[1];
    let mut batch = Vec::new();
    for k in 0..6u64 {
        now += Duration::from_nanos(1000 * 8 * 1_000_000_000 / 1_800_000);
        e.handle_sent(
            now,
            SentPacket { transport_sequence: Some(1 + k as u16), size: 1000, probe_cluster: Some(c.id) },
        );
        let mut p = fb(1 + k, now, Some(micros(now) + 30_000));
        p.size = 1000;
        batch.push(p);
    }
    e.handle_feedback(now + Duration::from_millis(40), batch).unwrap();
    assert_eq!(e.stats().probe_results, 1);
    let t = e.target_bitrate();
    assert!((1_700_000..=1_810_000).contains(&t), "{t}");
    // The result reached 70 % of the probe: the next one doubles it.
    let next: Vec<_> = core::iter::from_fn(|| e.poll_event()).collect();
    assert!(next.iter().any(|ev| matches!(ev, Event::Probe(c) if c.bitrate >= 3_400_000)), "{next:?}");
}
