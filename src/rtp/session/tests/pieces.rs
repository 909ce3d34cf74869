//! Each piece of the session alone.

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use super::super::history::{Lookup, PacketHistory};
use super::super::nack::{NackTiming, NackTracker, Repair, push_packed};
use super::super::receive::{Jitter, SeqState, TimestampUnwrapper, clamp_lost};
use super::super::report::{self, Membership, Schedule};
use super::super::send::write_rtx;
use super::super::ssrc_map::SsrcMap;
use super::super::twcc::{TwccReceiver, TwccSender};
use super::super::{Error, HistoryConfig, RtcpConfig, RtcpMinimum};
use crate::rand::SeededRng;
use crate::rtcp::{Compound, NackPair, RtcpPacket, TransportCcRepr, TwccStatus, Writer};
use crate::rtp::{ExtensionForm, ExtensionKind, ExtensionMap, ExtensionValue, Header, Packet};
use crate::time::Instant;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn ssrc_map_matches_a_model_under_random_inserts_and_removes() {
    let mut rng = SeededRng::from_seed([9; 32]);
    for key in [0, 1, 0xdead_beef_0000_0001, rng.u64()] {
        let mut map = SsrcMap::new(24, key);
        let mut model = BTreeMap::new();
        for _ in 0..20_000 {
            // Few distinct keys so that inserts, hits and removes all happen; clustered values collide.
            let ssrc = (rng.below(40) as u32) * 0x1000 + 7;
            match rng.below(3) {
                0 => {
                    let inserted = map.insert(ssrc, ssrc ^ 5);
                    let expect = !model.contains_key(&ssrc) && model.len() < 24;
                    assert_eq!(inserted, expect);
                    if expect {
                        model.insert(ssrc, ssrc ^ 5);
                    }
                }
                1 => assert_eq!(map.remove(ssrc), model.remove(&ssrc)),
                _ => assert_eq!(map.get(ssrc), model.get(&ssrc).copied()),
            }
            assert_eq!(map.len(), model.len());
        }
        for (k, v) in &model {
            assert_eq!(map.get(*k), Some(*v));
        }
    }
}

#[test]
fn sequence_numbers_extend_across_wraps_and_count_loss() {
    let mut s = SeqState::new(65_530, false);
    let mut exts = Vec::new();
    for seq in [65_530u16, 65_531, 65_533, 65_535, 0, 1, 3] {
        exts.push(s.update(seq).unwrap().ext);
    }
    assert_eq!(exts, [65_530, 65_531, 65_533, 65_535, 65_536, 65_537, 65_539]);
    assert_eq!(s.ext_max(), 65_539);
    // 10 expected (65530..=65539), 7 received.
    assert_eq!((s.expected(), s.received(), s.lost()), (10, 7, 3));
    assert_eq!(s.take_fraction_lost(), (3 * 256 / 10) as u8);
    // A reordered packet fills a hole: counted, not a new highest.
    let late = s.update(65_532).unwrap();
    assert_eq!((late.ext, late.advanced), (65_532, false));
    // Next interval: 1 expected beyond (65540), 2 received (the late one and 65540): no loss.
    s.update(4).unwrap();
    assert_eq!(s.take_fraction_lost(), 0);
    assert_eq!(s.lost(), 2, "65534 and 65538");
    // A duplicate counts as received again (RFC 3550 §A.3: loss can go negative).
    for _ in 0..3 {
        s.update(4).unwrap();
    }
    assert_eq!(s.lost(), -1);
    assert_eq!(clamp_lost(-1), -1);
    assert_eq!((clamp_lost(1 << 30), clamp_lost(-(1 << 30))), (0x7f_ffff, -0x80_0000));
}

#[test]
fn probation_jumps_and_restarts_follow_rfc3550_a1() {
    // An unsignalled source: the first packet is on probation, the second in sequence validates it.
    let mut s = SeqState::new(100, true);
    assert_eq!(s.update(100), Err(Error::Probation));
    assert!(!s.valid());
    let v = s.update(101).unwrap();
    assert_eq!((v.ext, s.received(), s.expected()), (101, 1, 1));
    // Out of sequence during probation restarts it.
    let mut p = SeqState::new(100, true);
    assert_eq!(p.update(100), Err(Error::Probation));
    assert_eq!(p.update(200), Err(Error::Probation));
    assert!(p.update(201).is_ok());

    // A jump beyond MAX_DROPOUT is dropped; the next in sequence restarts the source.
    let mut s = SeqState::new(10, false);
    for seq in 10..20 {
        s.update(seq).unwrap();
    }
    assert_eq!(s.update(40_000), Err(Error::SequenceJump));
    assert_eq!(s.ext_max(), 19, "a dropped jump changes nothing visible");
    assert_eq!(s.update(5_000), Err(Error::SequenceJump), "a different jump is not a restart");
    let r = s.update(5_001).unwrap();
    assert!(r.restarted);
    // Extended numbers stay monotonic: the restart continues in the next cycle.
    assert_eq!(r.ext, 65_536 + 5_001);
    assert_eq!((s.received(), s.expected(), s.lost()), (1, 1, 0));
    // Reordered across the start of the stream: dropped.
    let mut s = SeqState::new(0, false);
    s.update(0).unwrap();
    assert_eq!(s.update(65_535), Err(Error::BeforeStreamStart));
    // Within MAX_MISORDER behind is a reorder; between it and MAX_DROPOUT ahead is valid.
    assert_eq!(s.update(2_999).unwrap().ext, 2_999);
    assert_eq!(s.update(2_900).unwrap().ext, 2_900);
    assert_eq!(s.extend(2_950), Some(2_950));
    assert_eq!(s.extend(3_050), Some(3_050));
}

#[test]
fn jitter_follows_rfc3550_a8() {
    // 90 kHz video, a packet every 20 ms: constant transit gives zero jitter.
    let mut j = Jitter::default();
    for k in 0..50u64 {
        j.update(Instant::from_millis(1000 + 20 * k), (k * 1800) as u32, 90_000);
    }
    assert_eq!(j.get(), 0);
    // Transit alternating by 10 ms (900 ticks): |D| = 900 every packet, the estimate converges to it.
    let mut j = Jitter::default();
    for k in 0..400u64 {
        let extra = if k % 2 == 0 { 0 } else { 10 };
        j.update(Instant::from_millis(1000 + 20 * k + extra), (k * 1800) as u32, 90_000);
    }
    assert!((890..=900).contains(&j.get()), "{}", j.get());
    // The first step of the recursion exactly: J1 = |D| / 16 (integer form: (0 + 900) - 0 = 900, >> 4).
    let mut j = Jitter::default();
    j.update(Instant::from_millis(1000), 0, 90_000);
    j.update(Instant::from_millis(1030), 1800, 90_000);
    assert_eq!(j.get(), 900 / 16);
    // A 10 s pause is not folded in.
    let before = j.get();
    j.update(Instant::from_millis(11_030), 3600, 90_000);
    assert_eq!(j.get(), before);
}

#[test]
fn timestamps_unwrap_both_ways() {
    let mut u = TimestampUnwrapper::default();
    assert_eq!(u.unwrap(u32::MAX - 10), i64::from(u32::MAX - 10));
    assert_eq!(u.unwrap(5), (1 << 32) + 5);
    // An older timestamp before the wrap is behind, not a new cycle.
    assert_eq!(u.unwrap(u32::MAX - 20), i64::from(u32::MAX - 20));
    assert_eq!(u.unwrap(100), (1 << 32) + 100);
}

fn timing() -> NackTiming {
    NackTiming { reorder_delay: ms(5), retry_after: ms(60), max_retries: 3, max_age: ms(1000) }
}

fn lost(pairs: &[NackPair]) -> Vec<u16> {
    pairs.iter().flat_map(|p| p.lost()).collect()
}

#[test]
fn nack_tracker_waits_retries_and_gives_up() {
    let mut t = NackTracker::new(64);
    let t0 = Instant::from_secs(10);
    for seq in [100u64, 101, 104, 105] {
        t.on_received(t0, seq, ms(5));
    }
    assert_eq!(t.missing(), 2);
    assert_eq!(t.due, Some(t0 + ms(5)));
    let mut pairs = Vec::new();
    // Not yet: inside the reordering delay.
    assert_eq!(t.poll(t0 + ms(4), &timing(), &mut pairs, 10), 0);
    assert!(pairs.is_empty());
    assert_eq!(t.due, Some(t0 + ms(5)));
    assert_eq!(t.poll(t0 + ms(5), &timing(), &mut pairs, 10), 0);
    assert_eq!(lost(&pairs), [102, 103]);
    // Asked again only after the retry interval.
    assert_eq!(t.due, Some(t0 + ms(65)));
    pairs.clear();
    t.poll(t0 + ms(64), &timing(), &mut pairs, 10);
    assert!(pairs.is_empty());
    // 103 arrives late (reordered or repaired); only 102 is asked for again.
    assert_eq!(t.on_repaired(103), Repair::Missing);
    assert_eq!(t.on_repaired(103), Repair::Duplicate, "a second repair is a duplicate");
    assert_eq!(t.on_repaired(101), Repair::Duplicate, "so is a retransmission of one never lost");
    assert!(t.on_received(t0 + ms(64), 104, ms(5)).duplicate, "and an original received twice");
    t.poll(t0 + ms(65), &timing(), &mut pairs, 10);
    assert_eq!(lost(&pairs), [102]);
    pairs.clear();
    t.poll(t0 + ms(125), &timing(), &mut pairs, 10);
    assert_eq!(lost(&pairs), [102]);
    // Three NACKs sent: at the next due time 102 is given up.
    pairs.clear();
    assert_eq!(t.poll(t0 + ms(185), &timing(), &mut pairs, 10), 1);
    assert!(pairs.is_empty());
    assert_eq!((t.missing(), t.due), (0, None));
    // Given up, then it comes after all: not a duplicate (it was never handed up), once.
    assert_eq!(t.on_repaired(102), Repair::Other);
    assert_eq!(t.on_repaired(102), Repair::Duplicate);
}

#[test]
fn nack_tracker_window_age_and_packing() {
    let t0 = Instant::from_secs(10);
    // Falling out of the window gives a missing packet up; so does a gap wider than the window.
    let mut t = NackTracker::new(16);
    t.on_received(t0, 0, ms(5));
    assert_eq!(t.on_received(t0, 2, ms(5)).new_missing, 1);
    let a = t.on_received(t0, 17, ms(5));
    assert_eq!((a.given_up, a.new_missing), (1, 14), "1 fell out of the window (2..=17)");
    let a = t.on_received(t0, 18, ms(5));
    assert_eq!(a.given_up, 0);
    assert_eq!(t.missing(), 14);
    let a = t.on_received(t0, 100, ms(5));
    // The 14 tracked ones fall out, and 66 of the 81 new ones never fit the window.
    assert_eq!((a.given_up, a.new_missing), (14 + 66, 15));
    assert_eq!(t.missing(), 15);
    // A repair out of the window or ahead of the highest changes nothing.
    assert_eq!(t.on_repaired(50), Repair::Other);
    assert_eq!(t.on_repaired(101), Repair::Other);
    // Too old: given up at max_age whatever the retries.
    let mut pairs = Vec::new();
    assert_eq!(t.poll(t0 + ms(1000), &timing(), &mut pairs, 100), 15);
    assert_eq!(t.reset(), 0);

    // Packing: within 16 after the PID goes in the bitmask; the pair limit leaves the rest due now.
    let mut pairs = Vec::new();
    for seq in [10u16, 11, 26, 27, 60] {
        assert!(push_packed(&mut pairs, seq, 2) || seq == 60);
    }
    assert_eq!(pairs, [NackPair { pid: 10, blp: 1 | (1 << 15) }, NackPair { pid: 27, blp: 0 }]);
    assert!(!push_packed(&mut pairs, 60, 2));
    let mut t = NackTracker::new(128);
    t.on_received(t0, 0, ms(0));
    for seq in (2..100).step_by(2) {
        t.on_received(t0, seq, ms(0));
    }
    let mut pairs = Vec::new();
    t.poll(t0 + ms(5), &timing(), &mut pairs, 2);
    assert_eq!(lost(&pairs), (1..36).step_by(2).map(|s| s as u16).collect::<Vec<_>>());
    assert_eq!(t.due, Some(t0 + ms(5)), "the rest is due at once");
}

fn history(max_packets: usize, max_bytes: usize) -> PacketHistory {
    PacketHistory::new(HistoryConfig::new(max_packets, max_bytes, Duration::from_secs(2)))
}

#[test]
fn history_finds_what_was_sent_and_tells_never_sent_from_gone() {
    let mut h = history(4, 10_000);
    let t0 = Instant::from_secs(1);
    for (k, seq) in (65_534u16..=65_535).chain(0..4).enumerate() {
        h.store(t0, seq, &[k as u8; 100]);
    }
    assert_eq!(h.kept(), (4, 400));
    assert!(matches!(h.lookup(t0, 3), Lookup::Found { packet, last_resent: None } if packet == [5; 100]));
    assert!(matches!(h.lookup(t0, 0), Lookup::Found { packet, .. } if packet == [2; 100]));
    assert_eq!(h.lookup(t0, 65_535), Lookup::Gone, "evicted by count");
    assert_eq!(h.lookup(t0, 4), Lookup::NeverSent, "ahead of the newest");
    assert_eq!(h.lookup(t0, 65_533), Lookup::NeverSent, "before the first");
    assert_eq!(h.lookup(t0, 30_000), Lookup::NeverSent);
    h.mark_resent(t0 + ms(5), 1);
    assert!(matches!(h.lookup(t0, 1), Lookup::Found { last_resent: Some(t), .. } if t == t0 + ms(5)));
    // Too old: gone.
    assert_eq!(h.lookup(t0 + Duration::from_secs(3), 3), Lookup::Gone);
}

#[test]
fn history_is_bounded_in_bytes_and_never_returns_overwritten_octets() {
    let mut rng = SeededRng::from_seed([4; 32]);
    let max_bytes = 5_000;
    let mut h = history(1000, max_bytes);
    let t0 = Instant::from_secs(1);
    let mut sent: Vec<Vec<u8>> = Vec::new();
    for seq in 0..3000u16 {
        let len = 1 + rng.below(1400) as usize;
        let fill = (seq % 251) as u8;
        let packet = vec![fill; len];
        h.store(t0, seq, &packet);
        sent.push(packet);
        let (n, bytes) = h.kept();
        assert!(bytes <= max_bytes as u64 && n >= 1);
        // Every packet still found has its own octets; the newest is always found.
        for back in 0..8u16.min(seq + 1) {
            let s = seq - back;
            match h.lookup(t0, s) {
                Lookup::Found { packet, .. } => assert_eq!(packet, &sent[usize::from(s)][..]),
                Lookup::Gone => assert_ne!(back, 0),
                Lookup::NeverSent => panic!("{s} was sent"),
            }
        }
    }
    assert_eq!(h.buffer_len(), max_bytes);
    // A packet larger than the whole ring is sent but not kept.
    h.store(t0, 3000, &vec![1; 6000]);
    assert_eq!(h.lookup(t0, 3000), Lookup::Gone);
}

#[test]
fn twcc_sender_extends_and_remembers_a_bounded_history() {
    let mut s = TwccSender::new(16);
    assert_eq!(s.newest(), None);
    assert_eq!(s.extend(0), None);
    let t0 = Instant::from_secs(1);
    for k in 0..70_000u64 {
        assert_eq!(s.assign(t0, 1, k as u16, 100), k as u16);
    }
    assert_eq!(s.newest(), Some(69_999));
    assert_eq!(s.extend((69_999u32 % 65_536) as u16), Some(69_999));
    assert_eq!(s.extend((70_000u32 % 65_536) as u16), None, "never sent");
    assert_eq!(s.extend((69_990u32 % 65_536) as u16), Some(69_990));
    assert!(s.get(69_990).is_some());
    assert_eq!(s.get(69_983), None, "out of the history");
}

/// Parses a TWCC feedback packet built from `statuses` and returns (sequence, arrival in µs).
fn parse_twcc(base: u16, reference_time: i32, statuses: &[TwccStatus]) -> Vec<(u16, Option<i64>)> {
    let mut buf = Vec::new();
    let repr = TransportCcRepr {
        sender_ssrc: 1,
        media_ssrc: 2,
        base_sequence: base,
        reference_time,
        feedback_count: 0,
        packets: statuses,
    };
    Writer::new(&mut buf).transport_cc(&repr).unwrap();
    let Some(Ok(RtcpPacket::TransportCc(fb))) = Compound::new(&buf).next() else { panic!() };
    let mut at = i64::from(fb.reference_time) * 64_000;
    fb.packets()
        .map(|p| {
            (
                p.sequence,
                p.status.delta().map(|d| {
                    at += i64::from(d) * 250;
                    at
                }),
            )
        })
        .collect()
}

#[test]
fn twcc_receiver_reports_every_arrival_to_250_microseconds() {
    let mut r = TwccReceiver::new(64);
    let mut statuses = Vec::new();
    assert!(r.build(&mut statuses, 100).is_none());
    let t0 = Instant::from_micros(5_000_123);
    // 65534, 65535 arrive, 0 is lost, 1 and 2 arrive (2 before 1: reordered).
    let arrivals = [(65_534u16, 0u64), (65_535, 1_100), (2, 3_000), (1, 3_400)];
    for (seq, after_us) in arrivals {
        assert!(r.record(t0 + Duration::from_micros(after_us), seq, 7));
    }
    let fb = r.build(&mut statuses, 100).unwrap();
    assert_eq!((fb.base_sequence, fb.feedback_count, fb.media_ssrc), (65_534, 0, 7));
    assert_eq!(fb.reference_time, 5_000_123 / 64_000);
    let got = parse_twcc(fb.base_sequence, fb.reference_time, &statuses);
    let seqs: Vec<u16> = got.iter().map(|g| g.0).collect();
    assert_eq!(seqs, [65_534, 65_535, 0, 1, 2]);
    assert_eq!(got[2].1, None);
    // Each arrival within 125 µs (half a tick) of the truth, on the receiver's clock.
    let truth = [Some(0), Some(1_100), None, Some(3_400), Some(3_000)];
    for ((_, at), want) in got.iter().zip(truth) {
        match (at, want) {
            (Some(at), Some(w)) => assert!((at - (5_000_123 + w)).abs() <= 125, "{at} vs {w}"),
            (None, None) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(r.build(&mut statuses, 100).is_none(), "nothing new");
    // A late arrival for a reported sequence number is not reported again.
    assert!(!r.record(t0 + ms(10), 0, 7));
    // Long runs are split by the per-feedback limit; gaps of more than 8 s split too.
    for k in 3..13u16 {
        r.record(t0 + ms(20 + u64::from(k)), k, 7);
    }
    r.record(t0 + Duration::from_secs(10), 13, 7);
    let fb = r.build(&mut statuses, 4).unwrap();
    assert_eq!((fb.base_sequence, statuses.len(), fb.feedback_count), (3, 4, 1));
    let fb = r.build(&mut statuses, 100).unwrap();
    assert_eq!((fb.base_sequence, statuses.len()), (7, 6), "stops before the 10 s gap");
    let fb = r.build(&mut statuses, 100).unwrap();
    assert_eq!((fb.base_sequence, statuses.len()), (13, 1));
    assert!(r.build(&mut statuses, 100).is_none());
}

#[test]
fn ntp_conversions_and_round_trip_time() {
    // 2^32 s + 0.5 s past the NTP epoch wraps the era; half a second is 0x8000_0000 in the fraction.
    let t = report::ntp(Duration::from_secs(1 << 32), Instant::from_millis(500));
    assert_eq!(t, 0x8000_0000);
    let t = report::ntp(Duration::from_secs(3_900_000_000), Instant::from_millis(1_250));
    assert_eq!(t >> 32, 3_900_000_001);
    assert_eq!(t as u32, 0x4000_0000);
    assert_eq!(report::mid32(0x1234_5678_9abc_def0), 0x5678_9abc);
    assert_eq!(report::to_units(ms(500)), 32_768);
    // Sent at 10.0 s (LSR), held 0.25 s (DLSR), back at 10.35 s: 100 ms.
    let lsr = 10 << 16;
    let rtt = report::rtt_from((10 << 16) + 22_938, lsr, 16_384).unwrap();
    assert!(rtt.abs_diff(ms(100)) < Duration::from_micros(20), "{rtt:?}");
    assert_eq!(report::rtt_from(1000, 0, 0), None, "no SR received yet");
    assert_eq!(report::rtt_from(1000, 900, 200), None, "negative");
}

#[test]
fn report_interval_follows_rfc3550_a7() {
    let mut rng = SeededRng::from_seed([5; 32]);
    let who = Membership { members: 2, senders: 1, we_sent: true };
    let standard = RtcpConfig { minimum: RtcpMinimum::Standard, ..RtcpConfig::default() };
    let mut s = Schedule::new();
    let (lo, hi) = (|t: f64| t * 0.5 / 1.21828, |t: f64| t * 1.5 / 1.21828);
    let mut sum = 0.0;
    for _ in 0..1000 {
        let t = s.interval(&standard, who, &mut rng).as_secs_f64();
        assert!(t >= lo(2.5) - 1e-6 && t <= hi(2.5) + 1e-6, "{t}");
        sum += t;
    }
    let mean = sum / 1000.0;
    assert!((mean - 2.5 / 1.21828).abs() < 0.05, "{mean}");
    s.initial = false;
    let t = s.interval(&standard, who, &mut rng).as_secs_f64();
    assert!(t >= lo(5.0) - 1e-6 && t <= hi(5.0) + 1e-6);
    // Reduced: 360 / 2000 kb/s = 0.18 s.
    let reduced = RtcpConfig::default();
    let t = s.interval(&reduced, who, &mut rng).as_secs_f64();
    assert!(t >= lo(0.18) - 1e-6 && t <= hi(0.18) + 1e-6, "{t}");
    // A starved session: 10 kb/s of RTCP bandwidth shared by 400 receivers is above the minimum.
    let tiny = RtcpConfig { session_bandwidth: 200_000, minimum: RtcpMinimum::Standard, ..RtcpConfig::default() };
    let crowd = Membership { members: 400, senders: 1, we_sent: false };
    let t = s.interval(&tiny, crowd, &mut rng).as_secs_f64();
    // avg 128 octets * 8 * 399 / 7500 b/s = 54.5 s deterministic.
    assert!(t >= lo(54.4) && t <= hi(54.6), "{t}");
}

#[test]
fn rtx_packets_carry_the_osn_and_rewritten_extensions() {
    let mut map = ExtensionMap::new();
    map.insert(3, ExtensionKind::TransportWideCc);
    map.insert(10, ExtensionKind::RtpStreamId);
    map.insert(11, ExtensionKind::RepairedRtpStreamId);
    let mut original = Vec::new();
    let h = Header { marker: true, payload_type: 96, sequence_number: 4242, timestamp: 9000, ssrc: 0xaaaa };
    let mut w = crate::rtp::Writer::new(&mut original, &h, &[0x5555]).unwrap();
    w.start_extensions(ExtensionForm::OneByte).unwrap();
    w.extension_value(&map, &ExtensionValue::TransportWideCc(17)).unwrap();
    w.extension_value(&map, &ExtensionValue::RtpStreamId("h")).unwrap();
    w.finish(b"payload", 3).unwrap();
    let original = Packet::new_checked(&original[..]).unwrap();
    let rtx_header = Header { marker: true, payload_type: 97, sequence_number: 7, timestamp: 9000, ssrc: 0xbbbb };
    let mut out = Vec::new();
    write_rtx(&mut out, &original, &rtx_header, &map, Some((3, 99))).unwrap();
    let rtx = Packet::new_checked(&out[..]).unwrap();
    assert_eq!((rtx.ssrc(), rtx.sequence_number(), rtx.payload_type(), rtx.timestamp()), (0xbbbb, 7, 97, 9000));
    assert!(rtx.marker());
    assert_eq!(rtx.csrcs().collect::<Vec<_>>(), [0x5555]);
    assert_eq!(rtx.payload(), [&4242u16.to_be_bytes()[..], b"payload"].concat());
    assert_eq!(rtx.padding_len(), 0);
    assert_eq!(rtx.extension_value(&map, ExtensionKind::TransportWideCc), Some(ExtensionValue::TransportWideCc(99)));
    assert_eq!(rtx.extension_value(&map, ExtensionKind::RtpStreamId), None);
    assert_eq!(
        rtx.extension_value(&map, ExtensionKind::RepairedRtpStreamId),
        Some(ExtensionValue::RepairedRtpStreamId("h"))
    );
}
