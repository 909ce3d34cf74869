//! Hostile and broken input: dropped, counted, bounded, never a panic, and no state changed.

use alloc::vec::Vec;
use core::time::Duration;

use super::*;
use crate::rtcp::{NackPair, SenderInfo, Writer, packet_type, rtpfb};

/// Everything a dropped packet must leave as it was.
#[derive(Debug, PartialEq)]
struct Snapshot {
    receive: Option<ReceiveStats>,
    send: Option<SendStats>,
    rtt: Option<Duration>,
    timeout: Option<Instant>,
}

fn snapshot(s: &Session) -> Snapshot {
    Snapshot { receive: s.receive_stats(VIDEO), send: s.send_stats(VIDEO), rtt: s.rtt(), timeout: s.poll_timeout() }
}

/// A pair with some video sent a → b and reports exchanged.
fn warm() -> Pair {
    let mut p = Pair::video();
    for f in 0..40u32 {
        p.send_a(&OutgoingRtp::new(VIDEO, 96, f * 3000, &[5; 700]));
        p.run_for(Duration::from_millis(33));
    }
    p.run_for(Duration::from_millis(200));
    p
}

/// Feeds `datagram` to `session` at `now`, checking it is dropped with `want` and changes nothing but
/// counters: no event, no transmit, same statistics.
fn assert_dropped(session: &mut Session, now: Instant, mut datagram: Vec<u8>, want: Error) {
    while session.poll_event().is_some() {}
    while session.poll_transmit().is_some() {}
    let before = snapshot(session);
    assert_eq!(session.handle_receive(now, &mut datagram).map(|_| ()), Err(want));
    assert_eq!(snapshot(session), before);
    assert_eq!(session.poll_event(), None);
    assert!(session.poll_transmit().is_none());
}

#[test]
fn unknown_ssrcs_are_dropped_when_rejected() {
    let mut p = warm();
    let mut out = Vec::new();
    let mut other = Session::new(config("o"), SeededRng::from_seed([8; 32])).unwrap();
    other.add_send_stream(SendStreamConfig::video(0x4242, None)).unwrap();
    other.send_rtp(p.now, &OutgoingRtp::new(0x4242, 96, 0, b"who"), &mut out).unwrap();
    let now = p.now;
    assert_dropped(&mut p.b, now, out.clone(), Error::UnknownSsrc(0x4242));
    assert_eq!(p.b.stats().unknown_ssrc, 1);
    assert_eq!(p.b.receive_stats(0x4242), None);
    // Our own SSRC coming back (a loop) is dropped too.
    let mut own = Vec::new();
    p.a.send_rtp(now, &OutgoingRtp::new(VIDEO, 96, 0, b"me"), &mut own).unwrap();
    assert_dropped(&mut p.a, now, own, Error::OwnSsrc(VIDEO));
    // RTCP about streams we do not have.
    let mut pli = Vec::new();
    Writer::new(&mut pli).pli(1, 0x4242).unwrap();
    assert_dropped(&mut p.a, now, pli, Error::UnknownSsrc(0x4242));
}

#[test]
fn a_nack_with_1000_entries_does_bounded_work() {
    let mut p = warm();
    let pairs: Vec<NackPair> = (0..1000u16).map(|k| NackPair { pid: k.wrapping_mul(17), blp: 0xffff }).collect();
    let mut nack = Vec::new();
    Writer::new(&mut nack).nack(p.b.rtcp_ssrc(), VIDEO, &pairs).unwrap();
    assert_eq!(nack.len(), 12 + 4000);
    let before = p.a.stats();
    let now = p.now;
    p.a.handle_receive(now, &mut nack).unwrap();
    let after = p.a.stats();
    assert_eq!(after.nack_fci_dropped - before.nack_fci_dropped, 1000 - 253);
    let asked = after.nack_requests - before.nack_requests;
    assert_eq!(asked, 253 * 17);
    // Only packets actually sent (40, all in the history) are resent, each at most once.
    let resent = after.rtx_sent - before.rtx_sent;
    assert!(resent <= 40, "{resent}");
    let classified =
        resent + (after.nack_never_sent - before.nack_never_sent) + (after.rtx_suppressed - before.rtx_suppressed);
    assert_eq!(classified, asked);
    let mut queued = 0;
    while p.a.poll_transmit().is_some() {
        queued += 1;
    }
    assert_eq!(queued, resent);
    // The same NACK again within half a round trip resends nothing.
    let mut again = Vec::new();
    Writer::new(&mut again).nack(p.b.rtcp_ssrc(), VIDEO, &pairs).unwrap();
    p.a.handle_receive(now, &mut again).unwrap();
    assert_eq!(p.a.stats().rtx_sent, after.rtx_sent);
}

#[test]
fn nacks_for_packets_never_sent_are_counted() {
    let mut p = warm();
    let next = p.a.send_stats(VIDEO).map(|s| s.packets).unwrap();
    assert_eq!(next, 40);
    let mut nack = Vec::new();
    // Far ahead of anything sent.
    Writer::new(&mut nack).nack_lost(1, VIDEO, [30_000u16, 30_001]).unwrap();
    let before = p.a.stats();
    let now = p.now;
    p.a.handle_receive(now, &mut nack).unwrap();
    let after = p.a.stats();
    assert_eq!((after.nack_never_sent - before.nack_never_sent, after.rtx_sent - before.rtx_sent), (2, 0));
    assert!(p.a.poll_transmit().is_none());
}

/// A transport-wide feedback body claiming `count` packets from `base`, all "not received" (run-length
/// chunks of 8191).
fn huge_twcc(media: u32, base: u16, count: u16) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&1u32.to_be_bytes());
    body.extend_from_slice(&media.to_be_bytes());
    body.extend_from_slice(&base.to_be_bytes());
    body.extend_from_slice(&count.to_be_bytes());
    body.extend_from_slice(&[0, 0, 1, 0]);
    let mut left = count;
    while left > 0 {
        let n = left.min(0x1fff);
        body.extend_from_slice(&n.to_be_bytes());
        left -= n;
    }
    let mut out = Vec::new();
    Writer::new(&mut out).raw(packet_type::RTPFB, rtpfb::TRANSPORT_CC, &body).unwrap();
    out
}

#[test]
fn transport_feedback_claiming_65535_packets_is_bounded() {
    let mut p = warm();
    while p.a.poll_event().is_some() {}
    let now = p.now;
    // 40 packets were sent with transport-wide numbers 0..40: the claim is read until the newest.
    let mut fb = huge_twcc(VIDEO, 0, 65_535);
    let before = p.a.stats();
    p.a.handle_receive(now, &mut fb).unwrap();
    let after = p.a.stats();
    let events: Vec<Event> = core::iter::from_fn(|| p.a.poll_event()).collect();
    assert_eq!(events.len(), 40);
    assert!(events.iter().all(|e| matches!(e, Event::TransportFeedback(f) if f.arrival_us.is_none())));
    assert_eq!(after.twcc_unknown - before.twcc_unknown, 65_535 - 40);
    // After many more packets, the claim is read for at most the send history (2048 by default).
    for f in 0..3000u32 {
        let mut out = Vec::new();
        p.a.send_rtp(now, &OutgoingRtp::new(VIDEO, 96, f, &[1; 10]), &mut out).unwrap();
    }
    while p.a.poll_transmit().is_some() {}
    let newest = 3040u16;
    let mut fb = huge_twcc(VIDEO, newest - 2048, 65_535);
    let before = p.a.stats();
    p.a.handle_receive(now, &mut fb).unwrap();
    let after = p.a.stats();
    assert_eq!(core::iter::from_fn(|| p.a.poll_event()).count(), 2048);
    assert_eq!(after.twcc_dropped - before.twcc_dropped, 65_535 - 2048);
    assert_eq!(after.twcc_unknown, before.twcc_unknown);
    // Feedback about packets never sent, and where transport-wide CC is off, changes nothing.
    assert_dropped(&mut p.a, now, huge_twcc(VIDEO, 20_000, 100), Error::FeedbackForUnsentPackets);
    assert_dropped(&mut p.b, now, huge_twcc(VIDEO, 0, 100), Error::FeedbackForUnsentPackets);
}

#[test]
fn a_sender_report_going_back_in_time_is_dropped() {
    let mut p = warm();
    let last = p.b.receive_stats(VIDEO).unwrap().last_sender_report.unwrap().0;
    let now = p.now;
    for ntp in [last.ntp_timestamp - 1, last.ntp_timestamp, last.ntp_timestamp - (10 << 32)] {
        let mut sr = Vec::new();
        let info = SenderInfo { ntp_timestamp: ntp, ..last };
        Writer::new(&mut sr).sender_report(VIDEO, &info, &[], &[]).unwrap();
        assert_dropped(&mut p.b, now, sr, Error::SenderReportNotMonotonic);
    }
    assert_eq!(p.b.stats().sr_not_monotonic, 3);
    // One moving forward is taken.
    let mut sr = Vec::new();
    let info = SenderInfo { ntp_timestamp: last.ntp_timestamp + 1, ..last };
    Writer::new(&mut sr).sender_report(VIDEO, &info, &[], &[]).unwrap();
    p.b.handle_receive(now, &mut sr).unwrap();
    assert_eq!(p.b.receive_stats(VIDEO).unwrap().last_sender_report, Some((info, now)));
}

/// An RTX packet of the video stream repairing `osn`.
fn rtx(osn: u16, rtx_seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let h = Header { marker: false, payload_type: 97, sequence_number: rtx_seq, timestamp: 0, ssrc: VIDEO_RTX };
    let mut body = osn.to_be_bytes().to_vec();
    body.extend_from_slice(payload);
    crate::rtp::Writer::new(&mut out, &h, &[]).unwrap().finish(&body, 0).unwrap();
    out
}

#[test]
fn rtx_for_a_packet_never_sent_is_dropped() {
    let mut p = warm();
    let high = p.b.receive_stats(VIDEO).unwrap().highest_sequence as u16;
    let before_received = p.b.stats().rtp_received;
    let now = p.now;
    for osn in [high.wrapping_add(1), high.wrapping_add(1000), high.wrapping_add(30_000)] {
        assert_dropped(&mut p.b, now, rtx(osn, 5, b"forged"), Error::RepairNotRequested);
    }
    // RTX with the wrong payload type.
    let mut bad_pt = rtx(high, 5, b"x");
    bad_pt[1] = 98;
    assert_dropped(&mut p.b, now, bad_pt, Error::UnknownPayloadType(98));
    assert_eq!(p.b.stats().rtx_spurious, 3);
    // A repair of a packet that was received (a bandwidth probe resending it) is counted, not handed up
    // again; so is an original received twice. Both count for the stream's statistics.
    let before = p.b.receive_stats(VIDEO).unwrap();
    let mut dup = rtx(high, 6, b"again");
    let got = p.b.handle_receive(now, &mut dup).unwrap();
    assert_eq!(got, Received::Duplicate { ssrc: VIDEO, sequence: before.highest_sequence, repaired: true });
    let mut original = Vec::new();
    let h = Header { marker: false, payload_type: 96, sequence_number: high, timestamp: 0, ssrc: VIDEO };
    crate::rtp::Writer::new(&mut original, &h, &[]).unwrap().finish(b"again", 0).unwrap();
    let got = p.b.handle_receive(now, &mut original).unwrap();
    assert_eq!(got, Received::Duplicate { ssrc: VIDEO, sequence: before.highest_sequence, repaired: false });
    let (stats, after) = (p.b.stats(), p.b.receive_stats(VIDEO).unwrap());
    assert_eq!((stats.rtx_spurious, stats.rtx_duplicates, stats.duplicates), (3, 1, 1));
    assert_eq!(stats.rtp_received, before_received);
    assert_eq!((after.rtx_packets, after.packets), (before.rtx_packets + 1, before.packets + 1));
    assert_eq!(after.payload_bytes, before.payload_bytes + 10);
    assert_eq!((after.repaired, after.missing), (before.repaired, before.missing));
    // A padding-only RTX packet (a probe) is not a repair.
    let mut probe = Vec::new();
    let h = Header { marker: false, payload_type: 97, sequence_number: 7, timestamp: 0, ssrc: VIDEO_RTX };
    crate::rtp::Writer::new(&mut probe, &h, &[]).unwrap().finish(&[], 200).unwrap();
    assert_eq!(p.b.handle_receive(now, &mut probe).unwrap(), Received::Padding { ssrc: VIDEO_RTX });
}

#[test]
fn sequence_jumps_are_dropped_until_confirmed() {
    let mut p = warm();
    let high = p.b.receive_stats(VIDEO).unwrap().highest_sequence as u16;
    let now = p.now;
    let packet = |seq: u16| {
        let mut out = Vec::new();
        let h = Header { marker: false, payload_type: 96, sequence_number: seq, timestamp: 0, ssrc: VIDEO };
        crate::rtp::Writer::new(&mut out, &h, &[]).unwrap().finish(b"jump", 0).unwrap();
        out
    };
    let missing = p.b.receive_stats(VIDEO).unwrap().missing;
    let mut jump = packet(high.wrapping_add(20_000));
    assert_eq!(p.b.handle_receive(now, &mut jump).map(|_| ()), Err(Error::SequenceJump));
    let st = p.b.receive_stats(VIDEO).unwrap();
    assert_eq!((st.highest_sequence as u16, st.missing), (high, missing));
}

#[test]
fn garbage_never_panics_and_the_session_keeps_working() {
    let mut p = warm();
    let mut rng = SeededRng::from_seed([6; 32]);
    let ssrcs = [VIDEO, VIDEO_RTX, p.b.rtcp_ssrc(), p.a.rtcp_ssrc(), 0];
    let mut now = p.now;
    for round in 0..20_000u32 {
        let len = rng.below(120) as usize;
        let mut d: Vec<u8> = (0..len).map(|_| rng.u32() as u8).collect();
        if let Some(first) = d.first_mut() {
            *first = 0x80 | (*first & 0x3f);
        }
        // Aim some at the streams and at RTCP types the session reads.
        if d.len() >= 12 && round % 2 == 0 {
            let ssrc = ssrcs[rng.below(ssrcs.len() as u64) as usize];
            d[8..12].copy_from_slice(&ssrc.to_be_bytes());
            d[1] = [96, 97, 200, 201, 205, 206, 207][rng.below(7) as usize];
            if d[1] >= 200 {
                d[4..8].copy_from_slice(&ssrc.to_be_bytes());
                let words = (d.len() / 4 - 1) as u16;
                d[2..4].copy_from_slice(&words.to_be_bytes());
                d.truncate(4 * (usize::from(words) + 1));
            }
        }
        now += Duration::from_micros(rng.below(3000));
        let target = if round % 3 == 0 { &mut p.a } else { &mut p.b };
        let _ = target.handle_receive(now, &mut d);
        target.handle_timeout(now);
        while target.poll_transmit().is_some() {}
        while target.poll_event().is_some() {}
    }
    // Still working: new video arrives and is NACKed and repaired as before.
    p.now = now;
    p.b_got.clear();
    p.drop_ab = Box::new(|d| {
        let p = Packet::new_checked(d);
        p.is_ok_and(|p| p.ssrc() == VIDEO && p.sequence_number() % 5 == 0) && d[1] & 0x7f == 96
    });
    for f in 0..30u32 {
        p.send_a(&OutgoingRtp::new(VIDEO, 96, 200_000 + f * 3000, &[5; 700]));
        p.run_for(Duration::from_millis(33));
    }
    p.run_for(Duration::from_millis(500));
    let got: Vec<u16> = p.b_got.iter().filter(|g| g.ssrc == VIDEO).map(|g| g.sequence as u16).collect();
    assert!(got.len() >= 25, "{}", got.len());
    assert!(p.b_got.iter().any(|g| g.repaired));
}
