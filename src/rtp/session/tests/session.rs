//! Two sessions over an in-memory link.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::time::Duration;

use super::*;
use crate::rtcp::{Compound, RtcpPacket, SdesType, XrBlock, packet_type};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The RTP sequence number of a media packet of `ssrc` (not RTCP, not another stream).
fn media_seq(d: &[u8], ssrc: u32) -> Option<u16> {
    if matches!(d.get(1), Some(192..=223)) {
        return None;
    }
    let p = Packet::new_checked(d).ok()?;
    (p.ssrc() == ssrc).then(|| p.sequence_number())
}

/// Sends `frames` video frames of `per_frame` packets at 30 fps from `a`, running the pair in between.
/// Returns every packet sent, by sequence number.
fn send_video(p: &mut Pair, frames: u32, per_frame: u32) -> BTreeMap<u16, Vec<u8>> {
    let mut sent = BTreeMap::new();
    for f in 0..frames {
        let ts = f * 3000;
        for k in 0..per_frame {
            let payload = vec![(f * per_frame + k) as u8; 900];
            let mut rtp = OutgoingRtp::new(VIDEO, 96, ts, &payload);
            rtp.marker = k + 1 == per_frame;
            let mut out = Vec::new();
            let s = p.a.send_rtp(p.now, &rtp, &mut out).unwrap();
            sent.insert(s.sequence, out.clone());
            p.put(true, out);
        }
        p.run_for(Duration::from_micros(33_333));
    }
    sent
}

#[test]
fn nack_and_rtx_repair_every_loss_and_restore_the_original() {
    let mut p = Pair::video();
    // Every 7th first transmission of a video packet is lost.
    p.drop_ab = Box::new(|d| media_seq(d, VIDEO).is_some_and(|s| s % 7 == 3));
    let sent = send_video(&mut p, 60, 5);
    p.run_for(Duration::from_secs(1));
    // A loss shows once a later packet arrives: the last packet sent, if lost, cannot be noticed.
    let last = *sent.keys().next_back().unwrap();
    let lost: BTreeSet<u16> = sent.keys().copied().filter(|s| s % 7 == 3 && *s != last).collect();
    assert!(lost.len() > 30);
    let repaired: BTreeSet<u16> = p.b_got.iter().filter(|g| g.repaired).map(|g| g.sequence as u16).collect();
    assert_eq!(repaired, lost, "every lost packet came back through RTX, and only those");
    let all: BTreeSet<u16> = p.b_got.iter().map(|g| g.sequence as u16).collect();
    assert_eq!(all, sent.keys().copied().filter(|s| s % 7 != 3 || *s != last).collect());
    // The restored packet is the original: SSRC, sequence number, payload type, timestamp, marker, payload.
    for g in p.b_got.iter().filter(|g| g.repaired) {
        let got = Packet::new_checked(&g.bytes[..]).unwrap();
        let orig_bytes = &sent[&(g.sequence as u16)];
        let orig = Packet::new_checked(&orig_bytes[..]).unwrap();
        assert_eq!(g.ssrc, VIDEO);
        assert_eq!(
            (got.ssrc(), got.sequence_number(), got.payload_type(), got.timestamp(), got.marker()),
            (orig.ssrc(), orig.sequence_number(), orig.payload_type(), orig.timestamp(), orig.marker())
        );
        assert_eq!(got.payload(), orig.payload());
        assert_eq!(got.header_len(), orig.header_len());
    }
    let rs = p.b.receive_stats(VIDEO).unwrap();
    assert_eq!((rs.repaired, rs.unrepairable, rs.missing), (lost.len() as u64, 0, 0));
    assert_eq!(rs.lost, lost.len() as i64, "the original stream's statistics count network loss");
    assert_eq!(rs.rtx_packets, lost.len() as u64);
    let (a, b) = (p.a.stats(), p.b.stats());
    assert_eq!(a.rtx_sent, lost.len() as u64);
    assert_eq!(b.rtx_received, lost.len() as u64);
    assert_eq!(b.nacked_packets, lost.len() as u64, "one NACK each: every RTX arrived");
    assert_eq!((b.rtx_spurious, a.nack_never_sent, a.nack_too_old), (0, 0, 0));
    assert_eq!(p.a.send_stats(VIDEO).unwrap().rtx_packets, lost.len() as u64);
}

#[test]
fn nack_is_repeated_after_a_round_trip_until_the_repair_arrives() {
    let mut p = Pair::video();
    // Packet 20 (relative) and its first two retransmissions are lost.
    let first = Rc::new(RefCell::new(None::<u16>));
    let f = first.clone();
    let rtx_seen = Rc::new(RefCell::new(0));
    let r = rtx_seen.clone();
    p.drop_ab = Box::new(move |d| {
        if let Some(s) = media_seq(d, VIDEO) {
            let base = *f.borrow_mut().get_or_insert(s);
            return s == base.wrapping_add(20);
        }
        if media_seq(d, VIDEO_RTX).is_some() {
            *r.borrow_mut() += 1;
            return *r.borrow() <= 2;
        }
        false
    });
    let nacks = Rc::new(RefCell::new(Vec::new()));
    let n = nacks.clone();
    let clock = Rc::new(RefCell::new(Instant::ZERO));
    let c = clock.clone();
    p.drop_ba = Box::new(move |d| {
        if Compound::new(d).any(|x| matches!(x, Ok(RtcpPacket::Nack(_)))) {
            n.borrow_mut().push(*c.borrow());
        }
        false
    });
    for f in 0..30u32 {
        *clock.borrow_mut() = p.now;
        let mut out = Vec::new();
        p.a.send_rtp(p.now, &OutgoingRtp::new(VIDEO, 96, f * 3000, &[1; 500]), &mut out).unwrap();
        p.put(true, out);
        let until = p.now + ms(33);
        while p.now < until {
            *clock.borrow_mut() = p.now;
            let step = p.now + ms(1);
            p.run_until(step);
        }
    }
    p.run_for(Duration::from_secs(1));
    let nacks = nacks.borrow();
    assert_eq!(nacks.len(), 3, "{nacks:?}");
    // The RTT is 50 ms (the initial 100 ms until the first report): NACKs at least a round trip apart.
    for w in nacks.windows(2) {
        assert!(w[1] - w[0] >= ms(50), "{nacks:?}");
    }
    assert_eq!(p.b.receive_stats(VIDEO).unwrap().repaired, 1);
    assert_eq!(p.b.stats().nacked_packets, 3);
}

#[test]
fn round_trip_time_from_sender_and_receiver_reports() {
    let mut p = Pair::video();
    p.delay_ab = ms(30);
    p.delay_ba = ms(20);
    send_video(&mut p, 150, 2);
    // The sender measures from LSR/DLSR of the receiver's reports; the receiver, which sends nothing,
    // from DLRR answers to its XR RRTR.
    let a_rtt = p.a.rtt().unwrap();
    let b_rtt = p.b.rtt().unwrap();
    for rtt in [a_rtt, b_rtt, p.a.send_stats(VIDEO).unwrap().rtt.unwrap()] {
        assert!(rtt.abs_diff(ms(50)) < Duration::from_micros(100), "{rtt:?}");
    }
    let a_samples = p.a_events.iter().filter(|(_, e)| matches!(e, Event::RoundTripTime { .. })).count();
    let b_samples = p.b_events.iter().filter(|(_, e)| matches!(e, Event::RoundTripTime { .. })).count();
    assert!(a_samples >= 5 && b_samples >= 5, "{a_samples} {b_samples}");
    assert!(p.a_events.iter().any(|(_, e)| matches!(e, Event::RoundTripTime { ssrc, .. } if *ssrc == p.b.rtcp_ssrc())));
}

#[test]
fn reports_carry_loss_jitter_cname_and_reference_time() {
    let mut p = Pair::new(config("alice"), config("bob"));
    p.a.add_send_stream(SendStreamConfig::video(VIDEO, None)).unwrap();
    let mut rc = ReceiveStreamConfig::video(VIDEO, None);
    rc.nack = false;
    p.b.add_receive_stream(rc).unwrap();
    p.drop_ab = Box::new(|d| media_seq(d, VIDEO).is_some_and(|s| s % 10 == 0));
    let reports = Rc::new(RefCell::new(Vec::new()));
    let r = reports.clone();
    p.drop_ba = Box::new(move |d| {
        r.borrow_mut().push(d.to_vec());
        false
    });
    let sent = send_video(&mut p, 90, 4);
    p.run_for(ms(10));
    let lost = sent.keys().filter(|s| *s % 10 == 0).count() as i32;
    let rs = p.b.receive_stats(VIDEO).unwrap();
    assert_eq!(rs.lost, i64::from(lost));
    assert_eq!(rs.expected, sent.len() as u64 - u64::from(sent.keys().next_back().unwrap() % 10 == 0));
    // Constant delay, timestamps at the 90 kHz clock of the frame times (33.33 ms): jitter stays tiny.
    assert!(rs.jitter < 10, "{}", rs.jitter);
    // The last report block the sender saw says the same.
    let (_, block) = p
        .a_events
        .iter()
        .rev()
        .find_map(|(t, e)| match e {
            Event::ReceiverReport { ssrc: VIDEO, reporter, block } if *reporter == p.b.rtcp_ssrc() => Some((t, *block)),
            _ => None,
        })
        .unwrap();
    assert!(block.cumulative_lost >= lost - 4 && block.cumulative_lost <= lost, "{block:?} {lost}");
    assert!((20..=32).contains(&block.fraction_lost), "about 10 % of 256: {block:?}");
    assert_eq!(p.a.send_stats(VIDEO).unwrap().last_report, Some(block));
    // Bob's reports: RR first (he sends nothing), SDES with his CNAME, XR with his reference time.
    let reports = reports.borrow();
    let regular: Vec<&Vec<u8>> =
        reports.iter().filter(|d| Compound::new(d).any(|x| matches!(x, Ok(RtcpPacket::ExtendedReport(_))))).collect();
    assert!(regular.len() >= 5);
    for d in &regular {
        let packets: Vec<RtcpPacket<'_>> = Compound::new(d).map(Result::unwrap).collect();
        let RtcpPacket::ReceiverReport(rr) = &packets[0] else { panic!("{packets:?}") };
        assert_eq!(rr.ssrc, p.b.rtcp_ssrc());
        let RtcpPacket::Sdes(sdes) = &packets[1] else { panic!() };
        assert_eq!(sdes.cname(), Some(&b"bob"[..]));
        let RtcpPacket::ExtendedReport(xr) = &packets[2] else { panic!() };
        assert!(xr.blocks().any(|b| matches!(b, XrBlock::Rrtr { .. })));
    }
}

#[test]
fn sender_reports_tie_rtp_time_to_the_wall_clock() {
    let mut p = Pair::video();
    send_video(&mut p, 90, 1);
    let srs: Vec<(Instant, crate::rtcp::SenderInfo)> = p
        .b_events
        .iter()
        .filter_map(|(t, e)| match e {
            Event::SenderReport { ssrc: VIDEO, info } => Some((*t, *info)),
            _ => None,
        })
        .collect();
    assert!(srs.len() >= 5);
    let first = srs[0].1;
    for (arrived, info) in &srs {
        // Sent 25 ms before it arrived, on the sender's wall clock (NTP epoch + now).
        let sent = *arrived - ms(25);
        let want = report::ntp(NTP_EPOCH, sent);
        assert_eq!(info.ntp_timestamp, want);
        // The RTP time advanced at 90 kHz with the NTP time (frames carry timestamps of 33.33 ms steps).
        let d_ntp = (info.ntp_timestamp - first.ntp_timestamp) as f64 / 4_294_967_296.0;
        let d_rtp = f64::from(info.rtp_timestamp.wrapping_sub(first.rtp_timestamp)) / 90_000.0;
        assert!((d_ntp - d_rtp).abs() < 0.001, "{d_ntp} {d_rtp}");
        assert!(info.packet_count >= 1 && info.octet_count == info.packet_count * 900);
    }
    let rs = p.b.receive_stats(VIDEO).unwrap();
    assert_eq!(rs.last_sender_report.map(|s| s.0), srs.last().map(|s| s.1));
}

#[test]
fn keyframe_requests_and_remb_are_events() {
    let mut p = Pair::video();
    send_video(&mut p, 3, 1);
    p.b.request_keyframe(p.now, VIDEO, KeyframeRequest::Pli).unwrap();
    p.b.request_keyframe(p.now, VIDEO, KeyframeRequest::Fir).unwrap();
    p.b.request_keyframe(p.now, VIDEO, KeyframeRequest::Fir).unwrap();
    // A replayed FIR (same command sequence number) is the same request.
    let firs = Rc::new(RefCell::new(Vec::new()));
    let f = firs.clone();
    p.drop_ba = Box::new(move |d| {
        if Compound::new(d).any(|x| matches!(x, Ok(RtcpPacket::Fir(_)))) {
            f.borrow_mut().push(d.to_vec());
        }
        false
    });
    p.run_for(ms(100));
    let mut replay = firs.borrow().last().unwrap().clone();
    assert!(p.a.handle_receive(p.now, &mut replay).is_ok());
    let mut remb = Vec::new();
    crate::rtcp::Writer::new(&mut remb).remb(p.b.rtcp_ssrc(), 1_500_000, &[VIDEO]).unwrap();
    p.a.handle_receive(p.now, &mut remb).unwrap();
    p.flush();
    let requests: Vec<Event> =
        p.a_events.iter().map(|(_, e)| *e).filter(|e| matches!(e, Event::KeyframeRequest { .. })).collect();
    assert_eq!(
        requests,
        [
            Event::KeyframeRequest { ssrc: VIDEO, kind: KeyframeRequest::Pli },
            Event::KeyframeRequest { ssrc: VIDEO, kind: KeyframeRequest::Fir },
            Event::KeyframeRequest { ssrc: VIDEO, kind: KeyframeRequest::Fir },
        ]
    );
    assert_eq!(p.a.send_stats(VIDEO).unwrap().keyframe_requests, 3);
    let remb = p.a_events.iter().find_map(|(_, e)| match e {
        Event::Remb { bitrate, ssrcs, .. } => Some((*bitrate, ssrcs.as_slice().to_vec())),
        _ => None,
    });
    assert_eq!(remb, Some((1_500_000, vec![VIDEO])));
    let st = p.b.receive_stats(VIDEO).unwrap();
    assert_eq!((st.plis_sent, st.firs_sent), (1, 2));
    assert_eq!(p.b.request_keyframe(p.now, 0x999, KeyframeRequest::Pli), Err(UsageError::NoSuchStream(0x999)));
}

#[test]
fn unrepairable_loss_asks_for_a_key_frame() {
    // The sender keeps no RTX: NACKs go unanswered until the receiver gives up and sends a PLI.
    let mut p = Pair::new(config("a"), config("b"));
    p.a.add_send_stream(SendStreamConfig::video(VIDEO, None)).unwrap();
    p.b.add_receive_stream(ReceiveStreamConfig::video(VIDEO, None)).unwrap();
    p.drop_ab = Box::new(|d| media_seq(d, VIDEO).is_some_and(|s| s % 50 == 7));
    let sent = send_video(&mut p, 60, 2);
    p.run_for(Duration::from_secs(2));
    let lost = sent.keys().filter(|s| *s % 50 == 7).count() as u64;
    assert!(lost >= 2);
    let rs = p.b.receive_stats(VIDEO).unwrap();
    assert_eq!((rs.unrepairable, rs.missing, rs.repaired), (lost, 0, 0));
    let given_up: u32 = p
        .b_events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Unrepairable { ssrc: VIDEO, packets, .. } => Some(*packets),
            _ => None,
        })
        .sum();
    assert_eq!(u64::from(given_up), lost);
    assert!(rs.plis_sent >= 1);
    assert!(p.a_events.iter().any(|(_, e)| *e == Event::KeyframeRequest { ssrc: VIDEO, kind: KeyframeRequest::Pli }));
    // Each loss was NACKed max_retries times, and answered with nothing.
    assert_eq!(p.b.stats().nacked_packets, lost * 10);
    assert_eq!(p.a.stats().nack_no_rtx, lost * 10);
}

#[test]
fn transport_feedback_reports_every_packet_with_its_arrival() {
    let mut p = Pair::video();
    p.drop_ab = Box::new(|d| media_seq(d, VIDEO).is_some_and(|s| s % 9 == 4));
    let sent = send_video(&mut p, 40, 3);
    p.run_for(Duration::from_millis(500));
    let feedback: Vec<PacketFeedback> = p
        .a_events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::TransportFeedback(f) => Some(*f),
            _ => None,
        })
        .collect();
    // Every transport-wide sequence number the sender used (media and RTX) is reported exactly once.
    let reported: Vec<u64> = feedback.iter().map(|f| f.transport_sequence).collect();
    let sent_count = sent.len() as u64 + p.a.stats().rtx_sent;
    assert_eq!(reported, (0..sent_count).collect::<Vec<_>>());
    for f in &feedback {
        let lost = f.ssrc == VIDEO && f.sequence % 9 == 4;
        match f.arrival_us {
            None => assert!(lost, "{f:?}"),
            // Arrived 25 ms after it was sent, on the receiver's clock, within half a 250 µs tick.
            Some(at) => {
                assert!(!lost);
                let truth = (f.sent_at + ms(25)).as_nanos() as i64 / 1000;
                assert!((at - truth).abs() <= 125, "{f:?} {truth}");
            }
        }
        assert!(f.size > 900);
    }
    assert!(feedback.iter().any(|f| f.ssrc == VIDEO_RTX && f.arrival_us.is_some()), "RTX is reported too");
    // Feedback went out about every 100 ms.
    let b = p.b.stats();
    assert!((12..=20).contains(&b.twcc_sent), "{}", b.twcc_sent);
    // What the receiver's application saw carries the sequence numbers too.
    assert!(p.b_got.iter().all(|g| g.transport_sequence.is_some()));
}

#[test]
fn reduced_size_feedback_goes_alone_compound_otherwise() {
    for reduced in [false, true] {
        let mut b = config("b");
        b.rtcp.reduced_size = reduced;
        let mut p = Pair::new(config("a"), b);
        p.a.add_send_stream(SendStreamConfig::video(VIDEO, Some(VIDEO_RTX))).unwrap();
        p.b.add_receive_stream(ReceiveStreamConfig::video(VIDEO, Some(VIDEO_RTX))).unwrap();
        send_video(&mut p, 2, 1);
        p.b.request_keyframe(p.now, VIDEO, KeyframeRequest::Pli).unwrap();
        let out = p.b.poll_transmit().unwrap();
        let types: Vec<u8> = Compound::new(out.data())
            .map(|x| match x.unwrap() {
                RtcpPacket::ReceiverReport(_) => packet_type::RR,
                RtcpPacket::Sdes(s) => {
                    assert_eq!(s.chunks().next().unwrap().items.next().unwrap().kind, SdesType::Cname);
                    packet_type::SDES
                }
                RtcpPacket::Pli(_) => packet_type::PSFB,
                other => panic!("{other:?}"),
            })
            .collect();
        let want: &[u8] =
            if reduced { &[packet_type::PSFB] } else { &[packet_type::RR, packet_type::SDES, packet_type::PSFB] };
        assert_eq!(types, want);
        assert_eq!(out.kind, PacketKind::Rtcp);
    }
}

#[test]
fn polls_tell_the_truth_and_time_never_goes_back() {
    let mut p = Pair::video();
    assert_eq!(p.a.poll_timeout(), None, "no time given yet");
    send_video(&mut p, 2, 1);
    let now = p.now;
    p.b.request_keyframe(now, VIDEO, KeyframeRequest::Pli).unwrap();
    assert_eq!(p.b.poll_timeout(), Some(now), "a transmit is owed now");
    // An earlier `now` counts as the latest seen.
    p.b.handle_timeout(now - ms(500));
    assert_eq!(p.b.poll_timeout(), Some(now));
    assert!(p.b.poll_transmit().is_some());
    assert!(p.b.poll_transmit().is_none());
    assert!(p.b.poll_timeout().unwrap() > now);
    // Draining events never owes a transmit the timeout did not announce.
    let before = p.b.poll_timeout();
    while p.b.poll_event().is_some() {}
    assert_eq!(p.b.poll_timeout(), before);
    assert!(p.b.poll_transmit().is_none());
}

#[test]
fn reports_follow_the_standard_interval() {
    let mut a = config("a");
    a.rtcp.minimum = RtcpMinimum::Standard;
    let mut p = Pair::new(a, config("b"));
    p.a.add_send_stream(SendStreamConfig::audio(AUDIO, 48_000)).unwrap();
    p.b.add_receive_stream(ReceiveStreamConfig::audio(AUDIO, 48_000)).unwrap();
    let mut times = Vec::new();
    let start = p.now;
    for k in 0..3000u32 {
        let mut out = Vec::new();
        p.a.send_rtp(p.now, &OutgoingRtp::new(AUDIO, 111, k * 960, &[0; 60]), &mut out).unwrap();
        p.put(true, out);
        let reports = p.a.stats().reports_sent;
        p.run_for(ms(20));
        if p.a.stats().reports_sent > reports {
            times.push(p.now - start);
        }
    }
    // 60 s: the first report within 1.5 × 2.5 s / 1.22, then about every 5 s (timer reconsideration
    // makes the mean a little longer than 5 s / 1.22).
    assert!(times[0] <= Duration::from_millis(3100), "{times:?}");
    assert!((9..=16).contains(&times.len()), "{times:?}");
    for w in times.windows(2) {
        assert!(w[1] - w[0] >= Duration::from_millis(2000), "{times:?}");
    }
    // Audio has no NACK and no RTX; the receiver's reports reached the sender.
    assert!(p.a.send_stats(AUDIO).unwrap().last_report.is_some());
}

#[test]
fn removing_a_send_stream_says_goodbye() {
    let mut p = Pair::video();
    send_video(&mut p, 2, 1);
    p.a.remove_send_stream(p.now, VIDEO).unwrap();
    p.run_for(ms(100));
    assert!(p.b_events.iter().any(|(_, e)| *e == Event::Bye { ssrc: VIDEO }));
    assert_eq!(p.a.send_stats(VIDEO), None);
    let mut out = Vec::new();
    assert_eq!(
        p.a.send_rtp(p.now, &OutgoingRtp::new(VIDEO, 96, 0, b"x"), &mut out),
        Err(UsageError::NoSuchStream(VIDEO))
    );
    // The SSRCs are free again.
    p.a.add_send_stream(SendStreamConfig::video(VIDEO, Some(VIDEO_RTX))).unwrap();
}

#[test]
fn unknown_ssrcs_are_accepted_after_probation_when_configured() {
    let mut b = config("b");
    b.unknown_ssrcs = UnknownSsrcs::Accept;
    b.max_receive_streams = 1;
    let mut p = Pair::new(config("a"), b);
    p.a.add_send_stream(SendStreamConfig::video(VIDEO, None)).unwrap();
    p.a.add_send_stream(SendStreamConfig::video(0x7777, None)).unwrap();
    // Losses, but not among the first packets (so probation takes exactly two).
    let mut count = 0;
    p.drop_ab = Box::new(move |d| {
        count += 1;
        count > 10 && media_seq(d, VIDEO).is_some_and(|s| s % 20 == 10)
    });
    send_video(&mut p, 30, 2);
    assert_eq!(p.b_errors.first(), Some(&Error::Probation));
    assert_eq!(p.b.stats().probation, 1);
    assert!(p.b_events.iter().any(|(_, e)| *e == Event::NewReceiveStream { ssrc: VIDEO, payload_type: 96 }));
    // From the payload type's format: NACK on (nothing to repair with, so it is given up), 90 kHz.
    let rs = p.b.receive_stats(VIDEO).unwrap();
    assert!(rs.packets >= 55);
    assert!(p.b.stats().nacks_sent > 0);
    // The stream limit holds.
    let mut out = Vec::new();
    p.a.send_rtp(p.now, &OutgoingRtp::new(0x7777, 96, 0, b"x"), &mut out).unwrap();
    assert_eq!(p.b.handle_receive(p.now, &mut out).map(|_| ()), Err(Error::TooManyStreams));
    assert_eq!(p.b.receive_stats(0x7777), None);
}

#[test]
fn streams_and_ssrcs_are_checked() {
    let mut s = Session::new(config("x"), SeededRng::from_seed([3; 32])).unwrap();
    s.add_send_stream(SendStreamConfig::video(1, Some(2))).unwrap();
    assert_eq!(s.add_send_stream(SendStreamConfig::video(2, None)), Err(UsageError::SsrcInUse(2)));
    assert_eq!(s.add_receive_stream(ReceiveStreamConfig::video(3, Some(1))), Err(UsageError::SsrcInUse(1)));
    assert_eq!(s.add_receive_stream(ReceiveStreamConfig::video(4, Some(4))), Err(UsageError::SsrcInUse(4)));
    let rtcp = s.rtcp_ssrc();
    assert_eq!(s.add_receive_stream(ReceiveStreamConfig::audio(rtcp, 48_000)), Err(UsageError::SsrcInUse(rtcp)));
    let mut c = config("x");
    c.max_send_streams = 1;
    let mut s = Session::new(c, SeededRng::from_seed([3; 32])).unwrap();
    s.add_send_stream(SendStreamConfig::video(1, None)).unwrap();
    assert_eq!(s.add_send_stream(SendStreamConfig::video(5, None)), Err(UsageError::TooManyStreams));
    let mut c = config("x");
    c.nack.window = 100;
    assert_eq!(Session::new(c, SeededRng::from_seed([3; 32])).err(), Some(UsageError::BadConfig("nack.window")));
    // Extensions are written with the map; a kind without an ID is refused and leaves nothing behind.
    let mut out = vec![9; 10];
    let audio_level = [crate::rtp::ExtensionValue::AudioLevel { voice: true, level: 3 }];
    let mut rtp = OutgoingRtp::new(1, 96, 0, b"x");
    rtp.extensions = &audio_level;
    assert!(matches!(s.send_rtp(Instant::from_secs(1), &rtp, &mut out), Err(UsageError::Rtp(_))));
    assert!(out.is_empty());
}

#[test]
fn rtx_bound_after_the_stream_repairs_from_then_on() {
    // The receiver knows the media stream but not its RTX SSRC (no FID group): a retransmission is
    // refused as an unknown SSRC until the pairing is bound, then losses are repaired.
    let mut p = Pair::new(config("a"), config("b"));
    p.a.add_send_stream(SendStreamConfig::video(VIDEO, Some(VIDEO_RTX))).unwrap();
    p.b.add_receive_stream(ReceiveStreamConfig::video(VIDEO, None)).unwrap();
    p.drop_ab = Box::new(|d| media_seq(d, VIDEO).is_some_and(|s| s % 7 == 3));
    send_video(&mut p, 10, 5);
    p.run_for(Duration::from_millis(200));
    assert!(p.b_errors.iter().any(|e| matches!(e, Error::UnknownSsrc(VIDEO_RTX))), "{:?}", p.b_errors);
    assert_eq!(p.b.receive_stats(VIDEO).unwrap().repaired, 0);

    // Refused: an unknown stream, an SSRC taken (the stream's own, our RTCP SSRC), a second binding.
    assert_eq!(p.b.bind_receive_rtx(0x4242, VIDEO_RTX), Err(UsageError::NoSuchStream(0x4242)));
    assert_eq!(p.b.bind_receive_rtx(VIDEO, VIDEO), Err(UsageError::SsrcInUse(VIDEO)));
    let rtcp = p.b.rtcp_ssrc();
    assert_eq!(p.b.bind_receive_rtx(VIDEO, rtcp), Err(UsageError::SsrcInUse(rtcp)));
    p.b.bind_receive_rtx(VIDEO, VIDEO_RTX).unwrap();
    assert_eq!(p.b.bind_receive_rtx(VIDEO, 0x5555), Err(UsageError::SsrcInUse(VIDEO_RTX)));
    let before = p.b.receive_stats(VIDEO).unwrap();

    p.b_errors.clear();
    send_video(&mut p, 20, 5);
    p.run_for(Duration::from_secs(1));
    let after = p.b.receive_stats(VIDEO).unwrap();
    assert!(after.repaired > before.repaired + 10, "{before:?}\n{after:?}");
    // Originals and repairs since the binding: all 100 packets but the last (whose loss no later packet
    // shows), and the losses from before the binding that NACK was still asking for.
    assert!(after.packets - before.packets + after.repaired - before.repaired >= 99, "{after:?}");
    assert!(!p.b_errors.iter().any(|e| matches!(e, Error::UnknownSsrc(_))), "{:?}", p.b_errors);
}

#[test]
fn padding_waits_for_the_first_media_packet_then_rides_its_timestamp() {
    // Before any media, the RTX stream has no timestamp to carry and the receiver cannot tie it to its
    // stream: refused. After one media packet: a padding-only RTX packet with that packet's timestamp.
    let mut p = Pair::new(config("a"), config("b"));
    p.a.add_send_stream(SendStreamConfig::video(VIDEO, Some(VIDEO_RTX))).unwrap();
    let mut out = Vec::new();
    assert_eq!(p.a.send_padding(p.now, VIDEO, 96, 200, &[], &mut out), Err(UsageError::NoMediaSentYet(VIDEO)));
    assert!(out.is_empty());

    let payload = [7u8; 100];
    p.a.send_rtp(p.now, &OutgoingRtp::new(VIDEO, 96, 123_456, &payload), &mut out).unwrap();
    p.a.send_padding(p.now, VIDEO, 96, 200, &[], &mut out).unwrap();
    let rtp = crate::rtp::Packet::new_checked(&out[..]).unwrap();
    assert_eq!((rtp.ssrc(), rtp.timestamp(), rtp.payload().len()), (VIDEO_RTX, 123_456, 0));
    assert_eq!(rtp.padding_len(), 200, "padding only");
}
