//! The feedback loops of the peer connection's RTP session, end to end: two connections with audio, video
//! and a data channel in one BUNDLE group, driven by the README loop over a link with a 25 ms one-way
//! delay (50 ms round trip) that loses 5 % of datagrams. `a` sends audio and video to `b`.
//!
//! - Every video packet lost in the middle of the stream is recovered through NACK and RTX, and the
//!   statistics count exactly the losses the link made (`packetsLost`, `packetsRepaired`, `nackCount`,
//!   `retransmittedPacketsSent`).
//! - A key frame request from `b` reaches `a` as `Event::KeyframeRequest` (PLI), counted on both sides.
//! - The round-trip time measured from sender and receiver reports is within 5 ms of the link's.
//! - Transport-wide CC feedback reports every packet `a` sent, media and RTX, as received or lost, as it
//!   was on the link (there the link loses only what `a` sends, so no feedback packet is lost).

use core::cell::RefCell;
use core::time::Duration;
extern crate alloc;
use alloc::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use sansrtc::pc::{
    ChannelId, ChannelOptions, Config, ConnectionState, Event, ExtensionKind, ExtensionValue, KeyframeRequestKind,
    MediaKind, OutgoingRtp, PeerConnection, StatsReport, TransceiverInit,
};
use sansrtc::{Instant, SeededRng};

#[path = "support/readme_loop.rs"]
mod readme_loop;
use readme_loop::{Link, Side};

const AUDIO: &str = "0";
const VIDEO: &str = "1";

/// What the application saw.
#[derive(Default)]
struct Seen {
    /// Video packets `b` received: sequence number → (received as original, received repaired).
    video: BTreeMap<u64, (bool, bool)>,
    audio: usize,
    /// Transport-wide sequence numbers `b` received (media and repaired).
    twcc_received: BTreeSet<u16>,
    /// Transport-wide feedback `a` got: sequence → arrival (or none).
    feedback: BTreeMap<u64, Option<i64>>,
    feedback_twice: usize,
    keyframe_requests: usize,
    messages: usize,
}

/// Two connections with audio, video and a channel "chat", `a`'s offer answered by `b`, connected.
fn connected(loss_from: Option<Side>, seed: u64) -> (Link, ChannelId) {
    let a = PeerConnection::new(Config::default(), SeededRng::from_seed([41; 32]));
    let b = PeerConnection::new(Config::default(), SeededRng::from_seed([42; 32]));
    let mut link = Link::new(a, b, Duration::from_millis(25), 0.05, seed);
    link.loss_from = loss_from;
    let now = link.now;
    link.a.add_local_host(now, readme_loop::A.parse().unwrap()).unwrap();
    link.b.add_local_host(now, readme_loop::B.parse().unwrap()).unwrap();
    link.a.end_of_local_candidates(now);
    link.b.end_of_local_candidates(now);
    link.a.add_transceiver(now, MediaKind::Audio, TransceiverInit::default()).unwrap();
    link.a.add_transceiver(now, MediaKind::Video, TransceiverInit::default()).unwrap();
    let chat = link.a.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
    let offer = link.a.create_offer().unwrap();
    link.a.set_local_description(now, &offer).unwrap();
    link.b.set_remote_description(now, &offer).unwrap();
    let answer = link.b.create_answer().unwrap();
    link.b.set_local_description(now, &answer).unwrap();
    link.a.set_remote_description(now, &answer).unwrap();
    let up = |l: &Link| {
        l.a.connection_state() == ConnectionState::Connected && l.b.connection_state() == ConnectionState::Connected
    };
    assert!(link.run(Duration::from_secs(30), &mut |_, _, _, _| {}, up));
    (link, chat)
}

/// `a` sends 20 ms of audio and a 1000-octet video packet every 20 ms for `secs` seconds (and a message
/// on "chat" every second), `b` asks for a key frame at `pli_at` (again each second until `a` heard it),
/// then the loop runs two more seconds for the last repairs and feedback. Returns what was seen and the
/// video and transport-wide sequence numbers `a` sent.
fn run(link: &mut Link, chat: ChannelId, secs: u32, pli_at: Option<u32>) -> (Seen, Vec<u16>, Vec<u16>) {
    let seen = RefCell::new(Seen::default());
    let mut app = |side: Side, _: &mut PeerConnection, _: Instant, e: Event| {
        let mut s = seen.borrow_mut();
        match (side, e) {
            (Side::B, Event::Rtp(p)) => {
                if let Some(ExtensionValue::TransportWideCc(t)) = p.extension(ExtensionKind::TransportWideCc) {
                    s.twcc_received.insert(t);
                }
                if p.mid == VIDEO {
                    assert!(!p.rtx, "RTX arrives restored");
                    let entry = s.video.entry(p.sequence_number).or_default();
                    if p.repaired { entry.1 = true } else { entry.0 = true }
                } else {
                    s.audio += 1;
                }
            }
            (Side::B, Event::Message { .. }) => s.messages += 1,
            (Side::A, Event::KeyframeRequest { mid, kind: KeyframeRequestKind::Pli, .. }) if mid == VIDEO => {
                s.keyframe_requests += 1;
            }
            (Side::A, Event::TransportFeedback(f)) => {
                let again = s.feedback.insert(f.transport_sequence, f.arrival_us).is_some();
                s.feedback_twice += usize::from(again);
            }
            (_, Event::ConnectionState(c @ (ConnectionState::Failed | ConnectionState::Closed))) => {
                panic!("{side:?} {c:?}")
            }
            _ => {}
        }
    };
    let start = link.now;
    let frames = secs * 50;
    let (mut sent, mut video_seqs, mut twcc_seqs) = (0u32, Vec::new(), Vec::new());
    let mut pli_next = pli_at.map(|s| start + Duration::from_secs(u64::from(s)));
    let end = start + Duration::from_secs(u64::from(secs) + 2);
    while link.now < end {
        let now = link.now;
        while sent < frames && start + Duration::from_millis(20 * u64::from(sent)) <= now {
            let audio = [0x11u8; 160];
            let a = link.a.write_rtp(now, AUDIO, &OutgoingRtp::new(111, sent * 960, &audio)).unwrap();
            let mut video = vec![0x22u8; 1000];
            video[..4].copy_from_slice(&sent.to_be_bytes());
            let v = link.a.write_rtp(
                now,
                VIDEO,
                &OutgoingRtp { marker: true, ..OutgoingRtp::new(96, sent * 3000, &video) },
            );
            let v = v.unwrap();
            video_seqs.push(v.sequence_number);
            twcc_seqs.extend(a.transport_sequence.into_iter().chain(v.transport_sequence));
            if sent % 50 == 0 {
                // Before the channel is open a message is refused; the later ones count.
                let _ = link.a.send(now, chat, Bytes::from_static(b"tick"), false);
            }
            sent += 1;
        }
        if pli_next.is_some_and(|t| t <= now) {
            if seen.borrow().keyframe_requests == 0 {
                link.b.request_keyframe(now, VIDEO).unwrap();
                pli_next = pli_next.map(|t| t + Duration::from_secs(1));
            } else {
                pli_next = None;
            }
        }
        let next = [(sent < frames).then(|| start + Duration::from_millis(20 * u64::from(sent))), pli_next, Some(end)]
            .into_iter()
            .flatten()
            .min();
        match (next, link.next_wake()) {
            (Some(t), wake) if t > now && wake.is_none_or(|w| w > t) => link.now = t,
            _ => assert!(link.turn(&mut app)),
        }
    }
    (seen.into_inner(), video_seqs, twcc_seqs)
}

fn report(pc: &PeerConnection, now: Instant) -> StatsReport {
    pc.stats_report(now)
}

#[test]
fn losses_are_repaired_and_counted_keyframes_requested_and_rtt_measured() {
    let (mut link, chat) = connected(None, 51);
    let (seen, video_seqs, _) = run(&mut link, chat, 10, Some(5));
    let now = link.now;
    assert!(link.lost > 20, "the link lost {} datagrams", link.lost);

    // Every video packet from the first received to the last received arrived, once as an original or
    // repaired by RTX; the losses the link made are the ones the statistics count.
    let first = *seen.video.keys().next().unwrap();
    let last = *seen.video.keys().last().unwrap();
    let expected = last - first + 1;
    assert_eq!(seen.video.len() as u64, expected, "every video packet in the stream's span arrived");
    let originals = seen.video.values().filter(|(o, _)| *o).count() as u64;
    let repaired_only = seen.video.values().filter(|(o, r)| !*o && *r).count() as u64;
    let lost = expected - originals;
    assert!(lost >= 10, "{lost} video packets lost on the link");
    assert_eq!(repaired_only, lost, "every lost video packet was repaired");
    // The sender sent them all; the span covers all but losses at the very edges.
    assert!(video_seqs.len() as u64 - expected <= 3, "{} sent, {expected} in span", video_seqs.len());

    let rb = report(&link.b, now);
    let ra = report(&link.a, now);
    let ssrc_v = link.a.transceiver_by_mid(VIDEO).unwrap().ssrcs().next().unwrap().1;
    let inbound = rb.inbound_rtp().find(|s| s.ssrc == ssrc_v).expect("inbound-rtp for video");
    assert_eq!((inbound.kind, inbound.mid.as_deref()), ("video", Some(VIDEO)));
    assert_eq!(inbound.packets_received, originals);
    assert_eq!(inbound.packets_lost, lost as i64, "packetsLost is the link's");
    assert_eq!(inbound.packets_repaired, lost, "each repaired once");
    assert!(inbound.nack_count > 0 && inbound.retransmitted_packets_received >= lost, "{inbound:?}");
    assert!(inbound.pli_count >= 1, "{inbound:?}");
    assert_eq!(inbound.bytes_received, (originals + lost) * 1000);
    let codec = rb.get(inbound.codec_id.as_deref().unwrap()).expect("codecId resolves");
    assert_eq!(codec.type_name(), "codec");
    let outbound = ra.outbound_rtp().find(|s| s.ssrc == ssrc_v).expect("outbound-rtp for video");
    assert_eq!(outbound.packets_sent, video_seqs.len() as u64);
    assert_eq!(outbound.bytes_sent, video_seqs.len() as u64 * 1000);
    assert!(outbound.header_bytes_sent >= 12 * outbound.packets_sent);
    assert!(outbound.retransmitted_packets_sent >= lost, "{outbound:?}");
    assert!(outbound.nack_count >= lost && outbound.pli_count >= 1, "{outbound:?}");
    assert!(ra.get(&outbound.media_source_id).is_some(), "mediaSourceId resolves");
    println!(
        "video: {} sent, {lost} lost on the link, {repaired_only} repaired; NACKs {}, RTX sent {}",
        video_seqs.len(),
        inbound.nack_count,
        outbound.retransmitted_packets_sent
    );

    // The key frame request arrived.
    assert!(seen.keyframe_requests >= 1);

    // Round-trip time from the reports: 50 ms on the link.
    let remote = ra.remote_inbound_rtp().find(|s| s.ssrc == ssrc_v).expect("remote-inbound-rtp");
    assert_eq!(outbound.remote_id.as_deref(), Some(remote.id.as_str()));
    assert_eq!(remote.local_id, outbound.id);
    let rtt = remote.round_trip_time.expect("roundTripTime");
    println!("RTT from reports: {:.3} ms (link: 50 ms)", rtt * 1000.0);
    assert!((rtt - 0.050).abs() < 0.005, "RTT {rtt}");
    assert!(remote.round_trip_time_measurements > 0 && remote.reports_received > 0);
    let mean = remote.total_round_trip_time / remote.round_trip_time_measurements as f64;
    assert!((mean - 0.050).abs() < 0.005, "mean RTT {mean}");
    let remote_out = rb.remote_outbound_rtp().find(|s| s.ssrc == ssrc_v).expect("remote-outbound-rtp");
    assert_eq!(inbound.remote_id.as_deref(), Some(remote_out.id.as_str()));
    assert!(remote_out.reports_received > 0 && remote_out.packets_sent > 0);

    // Audio and data flowed alongside.
    assert!(seen.audio >= 450, "{} audio packets", seen.audio);
    assert!(seen.messages >= 5, "{} messages", seen.messages);
    assert!(rb.inbound_rtp().any(|s| s.kind == "audio"));
    assert_eq!(link.a.stats().media_dropped + link.b.stats().media_dropped, 0);

    // With serde, the entries carry their W3C names.
    #[cfg(feature = "serde")]
    for (r, t, keys) in [
        (&rb, "inbound-rtp", &INBOUND[..]),
        (&ra, "outbound-rtp", &OUTBOUND[..]),
        (&ra, "remote-inbound-rtp", &REMOTE_INBOUND[..]),
        (&rb, "remote-outbound-rtp", &REMOTE_OUTBOUND[..]),
        (&rb, "codec", &CODEC[..]),
        (&ra, "media-source", &["id", "timestamp", "kind"][..]),
    ] {
        let json = serde_json::to_value(r).unwrap();
        let e = json.as_array().unwrap().iter().find(|e| e["type"] == t).unwrap_or_else(|| panic!("no {t}"));
        for k in keys {
            assert!(e.get(k).is_some(), "{k} missing in {e}");
        }
    }
}

#[cfg(feature = "serde")]
const INBOUND: [&str; 17] = [
    "id",
    "timestamp",
    "ssrc",
    "kind",
    "transportId",
    "codecId",
    "mid",
    "remoteId",
    "packetsReceived",
    "bytesReceived",
    "headerBytesReceived",
    "packetsLost",
    "jitter",
    "nackCount",
    "pliCount",
    "firCount",
    "retransmittedPacketsReceived",
];
#[cfg(feature = "serde")]
const OUTBOUND: [&str; 16] = [
    "ssrc",
    "kind",
    "transportId",
    "codecId",
    "mid",
    "mediaSourceId",
    "remoteId",
    "packetsSent",
    "bytesSent",
    "headerBytesSent",
    "retransmittedPacketsSent",
    "retransmittedBytesSent",
    "nackCount",
    "pliCount",
    "firCount",
    "timestamp",
];
#[cfg(feature = "serde")]
const REMOTE_INBOUND: [&str; 11] = [
    "ssrc",
    "localId",
    "packetsLost",
    "jitter",
    "fractionLost",
    "roundTripTime",
    "totalRoundTripTime",
    "roundTripTimeMeasurements",
    "reportsReceived",
    "codecId",
    "transportId",
];
#[cfg(feature = "serde")]
const REMOTE_OUTBOUND: [&str; 6] =
    ["ssrc", "localId", "packetsSent", "bytesSent", "remoteTimestamp", "reportsReceived"];
#[cfg(feature = "serde")]
const CODEC: [&str; 4] = ["payloadType", "mimeType", "clockRate", "transportId"];

#[test]
fn transport_wide_feedback_reports_every_packet_as_the_link_delivered_it() {
    let (mut link, chat) = connected(Some(Side::A), 52);
    let (seen, _, twcc_seqs) = run(&mut link, chat, 6, None);
    assert!(link.lost > 10, "the link lost {} datagrams", link.lost);
    assert_eq!(seen.feedback_twice, 0, "each packet reported once");
    // Every transport-wide sequence number `a` gave media is reported, and so is every RTX packet in
    // between (the reported numbers run without a gap).
    let reported: Vec<u64> = seen.feedback.keys().copied().collect();
    assert!(twcc_seqs.len() >= 550, "media carried transport-wide sequence numbers");
    for s in &twcc_seqs {
        assert!(seen.feedback.contains_key(&u64::from(*s)), "transport sequence {s} reported");
    }
    assert!(reported.windows(2).all(|w| w[1] == w[0] + 1), "no gap in the reported sequence numbers");
    assert!(reported.len() > twcc_seqs.len(), "RTX packets are reported too");
    // Received or lost, as on the link.
    // The padding of `a`'s bandwidth probes (padding-only RTX) is reported too, though `b` makes no event
    // of it: as many as `b`'s session took.
    let (mut lost, mut padding) = (0, 0);
    for (seq, arrival) in &seen.feedback {
        let received = seen.twcc_received.contains(&(*seq as u16));
        if arrival.is_some() && !received {
            padding += 1;
            continue;
        }
        assert_eq!(arrival.is_some(), received, "transport sequence {seq}");
        lost += usize::from(!received);
    }
    assert_eq!(padding, link.b.media_stats().unwrap().rtx_padding, "reported received: media, RTX or padding");
    println!("transport-wide feedback: {} packets reported ({padding} padding), {lost} lost", reported.len());
    assert!(lost > 10);
    // Arrival times advance with the 20 ms sending period (the link's delay is constant).
    let arrivals: Vec<i64> = seen.feedback.values().flatten().copied().collect();
    let span = arrivals.last().unwrap() - arrivals.first().unwrap();
    assert!(span >= 5_000_000, "arrivals span {span} µs");
}

#[test]
fn renegotiation_removes_stopped_streams_and_keeps_running_ones() {
    let (mut link, chat) = connected(Some(Side::A), 53);
    link.loss_ppm = 0;
    let (seen, video_seqs, _) = run(&mut link, chat, 2, None);
    assert_eq!(seen.video.len(), video_seqs.len());
    let ssrc_of = |pc: &PeerConnection, mid: &str| pc.transceiver_by_mid(mid).unwrap().ssrcs().next().unwrap().1;
    let (audio, video) = (ssrc_of(&link.a, AUDIO), ssrc_of(&link.a, VIDEO));
    let sends = |pc: &PeerConnection| pc.rtp_session().unwrap().send_ssrcs().collect::<Vec<_>>();
    let receives = |pc: &PeerConnection| pc.rtp_session().unwrap().receive_ssrcs().collect::<Vec<_>>();
    assert!(sends(&link.a).contains(&audio) && sends(&link.a).contains(&video));
    assert!(receives(&link.b).contains(&audio) && receives(&link.b).contains(&video));
    let before = link.b.rtp_session().unwrap().receive_stats(video).unwrap();

    // `a` stops its audio transceiver and renegotiates; video keeps going.
    let now = link.now;
    let id = link.a.transceiver_by_mid(AUDIO).unwrap().id();
    link.a.stop_transceiver(now, id).unwrap();
    let offer = link.a.create_offer().unwrap();
    link.a.set_local_description(now, &offer).unwrap();
    link.b.set_remote_description(now, &offer).unwrap();
    let answer = link.b.create_answer().unwrap();
    link.b.set_local_description(now, &answer).unwrap();
    link.a.set_remote_description(now, &answer).unwrap();
    assert!(!sends(&link.a).contains(&audio) && sends(&link.a).contains(&video), "{:?}", sends(&link.a));
    assert!(!receives(&link.b).contains(&audio) && receives(&link.b).contains(&video));

    let start = link.now;
    let mut got = 0u64;
    for i in 0..50u32 {
        let at = start + Duration::from_millis(20 * u64::from(i));
        while link.next_wake().is_some_and(|w| w <= at) {
            link.turn(&mut |side, _, _, e| got += u64::from(side == Side::B && matches!(e, Event::Rtp(_))));
        }
        link.now = at;
        link.a.write_rtp(at, VIDEO, &OutgoingRtp::new(96, (1000 + i) * 3000, &[7; 500])).unwrap();
    }
    let end = link.now + Duration::from_millis(200);
    while link.next_wake().is_some_and(|w| w <= end) {
        link.turn(&mut |side, _, _, e| got += u64::from(side == Side::B && matches!(e, Event::Rtp(_))));
    }
    assert_eq!(got, 50);
    // The video stream's state carried on: no restart, no loss, 50 more packets in sequence.
    let after = link.b.rtp_session().unwrap().receive_stats(video).unwrap();
    assert_eq!(after.packets, before.packets + 50);
    assert_eq!(after.highest_sequence, before.highest_sequence + 50);
    assert_eq!((after.lost, after.expected), (0, before.expected + 50));
    assert!(after.sender_reports > before.sender_reports, "reports continue");
}
