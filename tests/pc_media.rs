//! Media between two sansrtc peer connections driven by the README loop (`support/readme_loop.rs`): audio,
//! video and a data channel negotiated in one BUNDLE group, RTP both ways through SRTP (each of the four
//! profiles), routed to the right transceiver with payloads intact while the channel keeps working;
//! video added to a data-only connection in the middle of a transfer; key-frame requests; and bad input
//! (unknown MID, SSRC or payload type, forged and replayed SRTP) dropped and counted without changing
//! anything.

use core::cell::RefCell;
use core::time::Duration;

use sansrtc::dtls::SrtpProfile;
use sansrtc::pc::{
    ChannelId, ChannelOptions, Config, ConnectionState, Direction, Event, ExtensionKind, ExtensionValue,
    KeyframeRequestKind, MediaDrop, MediaKind, OutgoingRtp, PeerConnection, RecvError, RtpPacket, SignalingState,
    Track, TransceiverId, TransceiverInit,
};
use sansrtc::rtp::{ExtensionForm, Header, Writer};
use sansrtc::sdp::SessionDescription;
use sansrtc::{Instant, SeededRng};

#[path = "support/readme_loop.rs"]
mod readme_loop;
use readme_loop::{Link, Side};

fn pc(seed: u8, config: Config) -> PeerConnection {
    PeerConnection::new(config, SeededRng::from_seed([seed; 32]))
}

fn link(seed: u8, config: impl Fn() -> Config) -> Link {
    let mut link =
        Link::new(pc(seed, config()), pc(seed ^ 0x5a, config()), Duration::from_millis(10), 0.0, u64::from(seed));
    let now = link.now;
    link.a.add_local_host(now, readme_loop::A.parse().unwrap()).unwrap();
    link.b.add_local_host(now, readme_loop::B.parse().unwrap()).unwrap();
    link.a.end_of_local_candidates(now);
    link.b.end_of_local_candidates(now);
    link
}

/// An offer from `offerer` answered by the other side; both applied. Returns (offer, answer).
fn exchange(link: &mut Link, offerer: Side) -> (String, String) {
    let now = link.now;
    let answerer = if offerer == Side::A { Side::B } else { Side::A };
    let offer = link.pc(offerer).create_offer().unwrap();
    link.pc(offerer).set_local_description(now, &offer).unwrap();
    link.pc(answerer).set_remote_description(now, &offer).unwrap();
    let answer = link.pc(answerer).create_answer().unwrap();
    link.pc(answerer).set_local_description(now, &answer).unwrap();
    link.pc(offerer).set_remote_description(now, &answer).unwrap();
    (offer.sdp, answer.sdp)
}

/// What each side's application saw.
#[derive(Default)]
struct Seen {
    events: Vec<(Side, Event)>,
}

impl Seen {
    fn rtp(&self, side: Side) -> Vec<&RtpPacket> {
        self.events
            .iter()
            .filter(|(s, _)| *s == side)
            .filter_map(|(_, e)| if let Event::Rtp(p) = e { Some(p) } else { None })
            .collect()
    }

    fn has(&self, side: Side, f: impl Fn(&Event) -> bool) -> bool {
        self.events.iter().any(|(s, e)| *s == side && f(e))
    }

    fn messages(&self, side: Side) -> Vec<Vec<u8>> {
        self.events
            .iter()
            .filter(|(s, _)| *s == side)
            .filter_map(|(_, e)| if let Event::Message { data, .. } = e { Some(data.to_vec()) } else { None })
            .collect()
    }
}

/// Runs the loop until `done`, recording every event; fails after `limit` of virtual time.
fn run(link: &mut Link, seen: &RefCell<Seen>, limit: Duration, done: impl Fn(&Seen, &Link) -> bool) {
    let mut app = |side: Side, _pc: &mut PeerConnection, _now: Instant, e: Event| {
        if let Event::ConnectionState(s @ (ConnectionState::Failed | ConnectionState::Closed)) = e {
            panic!("{side:?} {s:?}");
        }
        seen.borrow_mut().events.push((side, e));
    };
    let ok = link.run(limit, &mut app, |l| done(&seen.borrow(), l));
    assert!(ok, "not done after {limit:?}: {:#?}", seen.borrow().events.iter().rev().take(20).collect::<Vec<_>>());
}

fn payload(i: u32, len: usize) -> Vec<u8> {
    (0..len).map(|k| (k as u32).wrapping_mul(2_654_435_761).wrapping_add(i).to_le_bytes()[1]).collect()
}

fn connected(l: &Link) -> bool {
    l.a.connection_state() == ConnectionState::Connected && l.b.connection_state() == ConnectionState::Connected
}

fn sections(sdp: &str) -> Vec<(String, u16, Option<String>)> {
    let sdp = SessionDescription::parse(sdp).unwrap();
    sdp.media.iter().map(|m| (m.media.to_string(), m.port, m.mid().map(String::from))).collect()
}

#[test]
fn audio_video_and_data_in_one_bundle_both_ways() {
    let mut link = link(1, Config::default);
    let now = link.now;
    let streams = TransceiverInit { stream_ids: vec!["s".into()], ..TransceiverInit::default() };
    let a_audio = link.a.add_track(now, Track::new(MediaKind::Audio, "mic"), &["s"]).unwrap();
    let a_video = link.a.add_transceiver(now, Track::new(MediaKind::Video, "cam"), streams).unwrap();
    let chat = link.a.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
    // B adds a microphone before the offer: the offer's audio section takes it (RFC 8829 §5.10).
    let b_audio = link.b.add_track(now, Track::new(MediaKind::Audio, "b-mic"), &["b"]).unwrap();
    let (offer, answer) = exchange(&mut link, Side::A);

    let expect = |port| {
        vec![
            ("audio".to_string(), port, Some("0".to_string())),
            ("video".to_string(), port, Some("1".to_string())),
            ("application".to_string(), port, Some("2".to_string())),
        ]
    };
    assert_eq!(sections(&offer), expect(9));
    assert_eq!(sections(&answer), expect(9));
    assert!(offer.contains("a=group:BUNDLE 0 1 2\r\n") && answer.contains("a=group:BUNDLE 0 1 2\r\n"));
    assert!(
        offer.contains("a=msid:s mic\r\n")
            && offer.contains("a=msid:s cam\r\n")
            && answer.contains("a=msid:b b-mic\r\n")
    );
    // A's video is answered recvonly (B has no camera), audio sendrecv both ways.
    assert_eq!(link.b.transceiver(b_audio).and_then(|t| t.mid()), Some("0"));
    assert_eq!(link.a.transceiver(a_audio).and_then(|t| t.current_direction()), Some(Direction::SendRecv));
    assert_eq!(link.a.transceiver(a_video).and_then(|t| t.current_direction()), Some(Direction::SendOnly));
    let b_video = link.b.transceiver_by_mid("1").map(|t| t.id()).unwrap();
    assert_eq!(link.b.transceiver(b_video).and_then(|t| t.current_direction()), Some(Direction::RecvOnly));

    let seen = RefCell::new(Seen::default());
    run(&mut link, &seen, Duration::from_secs(30), |s, l| {
        connected(l) && s.has(Side::A, |e| *e == Event::ChannelOpen(chat))
    });
    assert!(profiles_agree(&link));
    // B was told about both of A's tracks, with A's stream.
    for (mid, kind) in [("0", MediaKind::Audio), ("1", MediaKind::Video)] {
        assert!(
            seen.borrow().has(Side::B, |e| matches!(e, Event::Track { mid: m, kind: k, stream_ids, .. }
                if m == mid && *k == kind && stream_ids == &["s".to_string()])),
            "track {mid}"
        );
    }
    assert!(seen.borrow().has(Side::A, |e| matches!(e, Event::Track { transceiver, stream_ids, .. }
        if *transceiver == a_audio && stream_ids == &["b".to_string()])));

    // 40 audio and 40 video packets from A, 40 audio packets from B, and messages, all at once.
    let n = 40u32;
    let now = link.now;
    for i in 0..n {
        let level = [ExtensionValue::AudioLevel { voice: true, level: (i % 127) as u8 }];
        let a = payload(i, 40 + (i as usize * 7) % 120);
        let rtp = OutgoingRtp { extensions: &level, ..OutgoingRtp::new(111, 960 * i, &a) };
        link.a.write_rtp(now, "0", &rtp).unwrap();
        let v = payload(1000 + i, 200 + (i as usize * 37) % 1000);
        let rtp = OutgoingRtp { marker: i % 4 == 3, ..OutgoingRtp::new(96, 3000 * (i / 4), &v) };
        link.a.write_rtp(now, "1", &rtp).unwrap();
        let b = payload(2000 + i, 60);
        link.b.write_rtp(now, "0", &OutgoingRtp::new(111, 960 * i, &b)).unwrap();
        link.a.send_text(now, chat, &format!("m{i}")).unwrap();
    }
    // B cannot send video: its transceiver is recvonly.
    assert_eq!(link.b.write_rtp(now, "1", &OutgoingRtp::new(96, 0, b"x")), Err(sansrtc::pc::Error::NotSending));
    run(&mut link, &seen, Duration::from_secs(10), |s, _| {
        s.rtp(Side::B).len() == 2 * n as usize
            && s.rtp(Side::A).len() == n as usize
            && s.messages(Side::B).len() == n as usize
    });

    let seen = seen.borrow();
    let at_b = seen.rtp(Side::B);
    let audio: Vec<_> = at_b.iter().filter(|p| p.mid == "0").collect();
    let video: Vec<_> = at_b.iter().filter(|p| p.mid == "1").collect();
    assert_eq!((audio.len(), video.len()), (n as usize, n as usize));
    for (i, p) in audio.iter().enumerate() {
        let i = i as u32;
        assert_eq!((p.transceiver, p.payload_type, p.timestamp, p.rtx), (b_audio, 111, 960 * i, false));
        assert_eq!(p.payload(), payload(i, 40 + (i as usize * 7) % 120), "audio {i}");
        assert_eq!(
            p.extension(ExtensionKind::AudioLevel),
            Some(ExtensionValue::AudioLevel { voice: true, level: (i % 127) as u8 })
        );
        assert_eq!(p.extension(ExtensionKind::Mid), Some(ExtensionValue::Mid("0")));
        assert_eq!(p.sequence_number, audio[0].sequence_number + u64::from(i));
    }
    let a_ssrcs: Vec<u32> = link.a.transceiver(a_video).unwrap().ssrcs().map(|(_, s, _)| s).collect();
    for (i, p) in video.iter().enumerate() {
        let i = i as u32;
        assert_eq!((p.transceiver, p.payload_type, p.marker), (b_video, 96, i % 4 == 3));
        assert_eq!(p.payload_bytes(), payload(1000 + i, 200 + (i as usize * 37) % 1000));
        assert_eq!(p.ssrc, a_ssrcs[0]);
    }
    let at_a = seen.rtp(Side::A);
    for (i, p) in at_a.iter().enumerate() {
        assert_eq!((p.transceiver, &*p.mid, p.payload_type), (a_audio, "0", 111));
        assert_eq!(p.payload(), payload(2000 + i as u32, 60));
    }
    let expected: Vec<Vec<u8>> = (0..n).map(|i| format!("m{i}").into_bytes()).collect();
    assert_eq!(seen.messages(Side::B), expected);
    for pc in [&link.a, &link.b] {
        let s = pc.stats();
        assert_eq!((s.media_dropped, s.srtp_auth_failed, s.srtp_replayed), (0, 0, 0), "{s:?}");
    }
}

fn profiles_agree(link: &Link) -> bool {
    link.a.srtp_profile().is_some() && link.a.srtp_profile() == link.b.srtp_profile()
}

#[test]
fn every_srtp_profile_carries_media() {
    for (i, profile) in SrtpProfile::ALL.into_iter().enumerate() {
        let config = move || Config { srtp_profiles: vec![profile].into(), ..Config::default() };
        let mut link = link(10 + i as u8, config);
        let now = link.now;
        link.a.add_transceiver(now, MediaKind::Audio, TransceiverInit::default()).unwrap();
        let (offer, _) = exchange(&mut link, Side::A);
        // A media-only offer: no data channel section.
        assert!(!offer.contains("m=application"), "{offer}");
        let seen = RefCell::new(Seen::default());
        run(&mut link, &seen, Duration::from_secs(30), |_, l| connected(l));
        assert_eq!(link.a.srtp_profile().map(|p| p.id()), Some(profile.0));
        assert!(profiles_agree(&link));
        let now = link.now;
        for k in 0..5u32 {
            link.a.write_rtp(now, "0", &OutgoingRtp::new(111, k * 960, &payload(k, 100))).unwrap();
        }
        run(&mut link, &seen, Duration::from_secs(5), |s, _| s.rtp(Side::B).len() == 5);
        let got: Vec<Vec<u8>> = seen.borrow().rtp(Side::B).iter().map(|p| p.payload().to_vec()).collect();
        assert_eq!(got, (0..5).map(|k| payload(k, 100)).collect::<Vec<_>>(), "{profile}");
        assert!(link.b.data_channels().is_none(), "no data section, no SCTP");
    }
}

#[test]
fn video_added_to_a_data_only_connection_mid_transfer() {
    let mut link = link(3, Config::default);
    let now = link.now;
    let chat = link.a.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
    let (offer, _) = exchange(&mut link, Side::A);
    assert_eq!(sections(&offer), vec![("application".to_string(), 9, Some("0".to_string()))]);
    let seen = RefCell::new(Seen::default());
    run(&mut link, &seen, Duration::from_secs(30), |s, _| s.has(Side::A, |e| *e == Event::ChannelOpen(chat)));

    // A message every 5 ms of virtual time, before, during and after the renegotiation.
    let total = 400u32;
    let sent = RefCell::new(0u32);
    let video: RefCell<Option<TransceiverId>> = RefCell::new(None);
    let offered = RefCell::new(false);
    let frames = RefCell::new(0u32);
    let step = |link: &mut Link| {
        let now = link.now;
        let mut k = sent.borrow_mut();
        while *k < total && (*k as u64) * 5 <= now.saturating_duration_since(Instant::ZERO).as_millis() as u64 {
            link.a.send_binary(now, chat, &payload(*k, 3000)).unwrap();
            *k += 1;
        }
        // A third of the way in: A adds a camera and renegotiates (signalling is instant here).
        if *k >= total / 3 && video.borrow().is_none() {
            let t = link.a.add_transceiver(now, MediaKind::Video, TransceiverInit::default()).unwrap();
            *video.borrow_mut() = Some(t);
        }
        if video.borrow().is_some() && !*offered.borrow() && link.a.signaling_state() == SignalingState::Stable {
            *offered.borrow_mut() = true;
            let (offer, answer) = exchange(link, Side::A);
            assert_eq!(
                sections(&offer),
                vec![
                    ("application".to_string(), 9, Some("0".to_string())),
                    ("video".to_string(), 9, Some("1".to_string()))
                ]
            );
            assert!(offer.contains("a=group:BUNDLE 0 1\r\n") && answer.contains("a=recvonly\r\n"));
        }
        // A frame every 33 ms once negotiated.
        let sending = link.a.transceiver(video.borrow().unwrap_or(TransceiverId(u32::MAX)));
        let mut f = frames.borrow_mut();
        let ms = now.saturating_duration_since(Instant::ZERO).as_millis() as u32;
        if sending.is_some_and(|t| t.current_direction().is_some()) && ms / 33 > *f {
            *f = ms / 33;
            link.a.write_rtp(now, "1", &OutgoingRtp::new(96, ms * 90, &payload(ms, 900))).unwrap();
        }
    };
    let start = link.now;
    loop {
        step(&mut link);
        let done = {
            let s = seen.borrow();
            s.messages(Side::B).len() == total as usize && s.rtp(Side::B).len() >= 20
        };
        if done {
            break;
        }
        assert!(
            link.now < start + Duration::from_secs(60),
            "stalled: {} messages",
            seen.borrow().messages(Side::B).len()
        );
        let mut app = |side: Side, _pc: &mut PeerConnection, _now: Instant, e: Event| {
            seen.borrow_mut().events.push((side, e));
        };
        assert!(link.turn(&mut app), "nothing left to wait for");
    }
    let seen = seen.borrow();
    // Every message, in order, intact: the renegotiation disturbed neither SCTP nor DTLS.
    let expected: Vec<Vec<u8>> = (0..total).map(|k| payload(k, 3000)).collect();
    assert_eq!(seen.messages(Side::B), expected);
    assert!(seen.has(Side::B, |e| matches!(e, Event::Track { mid, kind: MediaKind::Video, .. } if mid == "1")));
    assert!(seen.rtp(Side::B).iter().all(|p| p.mid == "1" && p.payload().len() == 900));
    assert_eq!(link.b.stats().media_dropped, 0);
    // One DTLS handshake and one SCTP association for the whole run.
    assert!(!seen.events.iter().any(|(_, e)| matches!(e, Event::ChannelClose(_))));
}

/// A plain RTP packet with a MID extension under id `mid_id` (if given).
fn plain_rtp(pt: u8, ssrc: u32, seq: u16, mid: Option<(u8, &str)>) -> Vec<u8> {
    let mut out = Vec::new();
    let header = Header { marker: false, payload_type: pt, sequence_number: seq, timestamp: 1, ssrc };
    let mut w = Writer::new(&mut out, &header, &[]).unwrap();
    if let Some((id, mid)) = mid {
        w.start_extensions(ExtensionForm::OneByte).unwrap();
        w.extension(id, mid.as_bytes()).unwrap();
    }
    w.finish(&[0xab; 40], 0).unwrap();
    out.extend_from_slice(&[0; 16]); // room for a tag
    out
}

#[test]
fn bad_media_is_dropped_and_counted_without_state_change() {
    let mut link = link(4, Config::default);
    let now = link.now;
    link.a.add_transceiver(now, MediaKind::Audio, TransceiverInit::default()).unwrap();
    link.a.add_transceiver(now, MediaKind::Video, TransceiverInit::default()).unwrap();
    exchange(&mut link, Side::A);
    let seen = RefCell::new(Seen::default());
    run(&mut link, &seen, Duration::from_secs(30), |_, l| connected(l));
    link.recorded = Some(Vec::new());
    let now = link.now;
    for k in 0..3u32 {
        link.a.write_rtp(now, "1", &OutgoingRtp::new(96, k, &payload(k, 300))).unwrap();
    }
    run(&mut link, &seen, Duration::from_secs(5), |s, _| s.rtp(Side::B).len() == 3);
    let srtp: Vec<Vec<u8>> = link
        .recorded
        .take()
        .unwrap()
        .into_iter()
        .filter(|(to, d)| {
            *to == Side::B
                && d.first().is_some_and(|b| (128..192).contains(b))
                && d.get(1).is_some_and(|b| *b & 0x7f == 96)
        })
        .map(|(_, d)| d)
        .collect();
    assert_eq!(srtp.len(), 3);
    let before_events = seen.borrow().events.len();
    let b_transceivers: Vec<String> = link.b.transceivers().map(|t| format!("{t:?}")).collect();
    let mid_id = link
        .b
        .transceiver_by_mid("1")
        .unwrap()
        .header_extensions()
        .iter()
        .find(|e| e.kind == ExtensionKind::Mid)
        .unwrap()
        .id;

    let drop = |r: Result<(), RecvError>| match r {
        Err(RecvError::Media(why)) => why,
        other => panic!("{other:?}"),
    };
    // Replays of what arrived, and forgeries of it.
    assert_eq!(drop(link.inject(Side::B, &srtp[0])), MediaDrop::Replayed);
    assert_eq!(drop(link.inject(Side::B, &srtp[2])), MediaDrop::Replayed);
    // A replayed index is refused before its tag is even checked; a new index with a bad tag, or with the
    // header changed, fails authentication.
    let mut forged = srtp[1].clone();
    *forged.last_mut().unwrap() ^= 1;
    assert_eq!(drop(link.inject(Side::B, &forged)), MediaDrop::Replayed);
    forged[3] = forged[3].wrapping_add(10);
    assert_eq!(drop(link.inject(Side::B, &forged)), MediaDrop::AuthFailed);
    let mut forged = srtp[2].clone();
    let at = forged.len() - 30;
    forged[at] ^= 0x40;
    forged[3] = forged[3].wrapping_add(1); // a new sequence number, so it is not a replay
    assert_eq!(drop(link.inject(Side::B, &forged)), MediaDrop::AuthFailed);
    // Unknown MID, a payload type the section does not have, nothing to route by.
    assert_eq!(drop(link.inject(Side::B, &plain_rtp(96, 7, 9, Some((mid_id, "9"))))), MediaDrop::UnknownMid);
    assert_eq!(drop(link.inject(Side::B, &plain_rtp(111, 7, 9, Some((mid_id, "1"))))), MediaDrop::UnknownPayloadType);
    assert_eq!(drop(link.inject(Side::B, &plain_rtp(50, 7, 9, None))), MediaDrop::Unroutable);
    // An unknown SSRC with a payload type only the audio section has: routed, then refused by SRTP.
    assert_eq!(drop(link.inject(Side::B, &plain_rtp(111, 7, 9, None))), MediaDrop::AuthFailed);
    assert_eq!(drop(link.inject(Side::B, &[0x80, 96, 0, 1])), MediaDrop::Malformed);
    // Forged SRTCP.
    let rtcp =
        [0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0x80, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
    assert_eq!(drop(link.inject(Side::B, &rtcp)), MediaDrop::RtcpAuthFailed);

    let s = link.b.stats();
    assert_eq!(
        (s.srtp_replayed, s.srtp_auth_failed, s.rtp_unknown_mid, s.rtp_unknown_payload_type, s.rtp_unroutable),
        (3, 3, 1, 1, 1)
    );
    assert_eq!((s.rtp_malformed, s.srtcp_auth_failed, s.media_dropped), (1, 1, 11));
    // Nothing happened: no event, the transceivers as they were, and the next real packet is the next one.
    assert_eq!(seen.borrow().events.len(), before_events);
    assert_eq!(link.b.transceivers().map(|t| format!("{t:?}")).collect::<Vec<_>>(), b_transceivers);
    let now = link.now;
    link.a.write_rtp(now, "1", &OutgoingRtp::new(96, 3, &payload(3, 300))).unwrap();
    run(&mut link, &seen, Duration::from_secs(5), |s, _| s.rtp(Side::B).len() == 4);
    let got = seen.borrow().rtp(Side::B).iter().map(|p| p.sequence_number).collect::<Vec<_>>();
    assert_eq!(got, (0..4).map(|k| got[0] + k).collect::<Vec<_>>());
}

#[test]
fn key_frame_requests_and_routing_by_ssrc_and_payload_type() {
    let mut link = link(5, Config::default);
    let now = link.now;
    let a_video = link.a.add_transceiver(now, MediaKind::Video, TransceiverInit::default()).unwrap();
    exchange(&mut link, Side::A);
    let seen = RefCell::new(Seen::default());
    run(&mut link, &seen, Duration::from_secs(30), |_, l| connected(l));
    // A packet without any header extension reaches B by the SSRC A signalled (a=ssrc).
    let ssrc = link.a.transceiver(a_video).unwrap().ssrcs().next().unwrap().1;
    let raw = {
        let mut out = Vec::new();
        let header = Header { marker: true, payload_type: 96, sequence_number: 77, timestamp: 5, ssrc };
        Writer::new(&mut out, &header, &[]).unwrap().finish(b"raw frame", 0).unwrap();
        out
    };
    let now = link.now;
    link.a.write_rtp_raw(now, "0", &raw).unwrap();
    // B asks for a key frame: a PLI for A's SSRC.
    let b_video = link.b.transceiver_by_mid("0").unwrap().id();
    link.b.request_keyframe(now, "0").unwrap();
    run(&mut link, &seen, Duration::from_secs(5), |s, _| {
        !s.rtp(Side::B).is_empty() && s.has(Side::A, |e| matches!(e, Event::KeyframeRequest { .. }))
    });
    // An SSRC nobody signalled, without a MID: routed by its payload type, which only the video section
    // has (RFC 8843 §9.2).
    let unsignalled = {
        let mut out = Vec::new();
        let header = Header { marker: false, payload_type: 96, sequence_number: 1, timestamp: 6, ssrc: 0x1234 };
        Writer::new(&mut out, &header, &[]).unwrap().finish(b"by payload type", 0).unwrap();
        out
    };
    let now = link.now;
    link.a.write_rtp_raw(now, "0", &unsignalled).unwrap();
    // A FIR (RFC 5104) from B's RTP session layer, sent as is.
    let mut fir = Vec::new();
    sansrtc::rtcp::Writer::new(&mut fir).fir(1, &[sansrtc::rtcp::FirEntry { ssrc, sequence: 1 }]).unwrap();
    link.b.write_rtcp(now, &fir).unwrap();
    assert_eq!(link.b.write_rtcp(now, &[0x80, 200, 0, 9]), Err(sansrtc::pc::Error::InvalidParameter));
    run(&mut link, &seen, Duration::from_secs(5), |s, _| {
        s.rtp(Side::B).len() == 2
            && s.has(Side::A, |e| matches!(e, Event::KeyframeRequest { kind: KeyframeRequestKind::Fir, .. }))
    });
    let seen = seen.borrow();
    let p = seen.rtp(Side::B)[0];
    assert_eq!((p.transceiver, p.ssrc, p.marker, p.payload()), (b_video, ssrc, true, &b"raw frame"[..]));
    let p = seen.rtp(Side::B)[1];
    assert_eq!((p.transceiver, p.ssrc, p.payload()), (b_video, 0x1234, &b"by payload type"[..]));
    assert!(seen.has(
        Side::A,
        |e| matches!(e, Event::KeyframeRequest { transceiver, mid, kind: KeyframeRequestKind::Pli, .. }
        if *transceiver == a_video && mid == "0")
    ));
    // A receives nothing on this transceiver: it cannot ask for a key frame; B cannot send.
    assert_eq!(link.a.request_keyframe(link.now, "0"), Err(sansrtc::pc::Error::NotReceiving));
    assert_eq!(link.b.write_rtp(link.now, "0", &OutgoingRtp::new(96, 0, b"x")), Err(sansrtc::pc::Error::NotSending));
    assert_eq!(
        link.a.write_rtp(link.now, "0", &OutgoingRtp::new(35, 0, b"x")),
        Err(sansrtc::pc::Error::InvalidParameter)
    );
    assert_eq!(
        link.a.write_rtp(link.now, "7", &OutgoingRtp::new(96, 0, b"x")),
        Err(sansrtc::pc::Error::NoSuchTransceiver)
    );
}

#[test]
fn description_getters_and_trickle_name_the_bundle_tag() {
    let mut a = pc(6, Config::default());
    let now = Instant::ZERO;
    a.add_transceiver(now, MediaKind::Audio, TransceiverInit::default()).unwrap();
    let offer = a.create_offer().unwrap();
    a.set_local_description(now, &offer).unwrap();
    a.add_local_host(now, "10.0.0.1:5000".parse().unwrap()).unwrap();
    // The candidate is trickled for the audio section, the BUNDLE tag, and shows up in it.
    let mut mids = Vec::new();
    while let Some(e) = sansrtc::Machine::poll_event(&mut a) {
        if let Event::LocalCandidate { mid, .. } = e {
            mids.push(mid);
        }
    }
    assert_eq!(mids, ["0"]);
    let local = a.local_description().unwrap();
    let parsed = SessionDescription::parse(&local.sdp).unwrap();
    assert_eq!(parsed.media[0].attributes.candidates().count(), 1);
    assert_eq!(local.kind, sansrtc::pc::SdpKind::Offer);
}

#[test]
fn channels_wait_for_a_data_section_added_later() {
    // Media only at first; a channel created afterwards needs a renegotiation, which adds the data
    // section to the running transport.
    let mut link = link(7, Config::default);
    let now = link.now;
    link.a.add_transceiver(now, MediaKind::Audio, TransceiverInit::default()).unwrap();
    exchange(&mut link, Side::A);
    let seen = RefCell::new(Seen::default());
    run(&mut link, &seen, Duration::from_secs(30), |_, l| connected(l));
    let now = link.now;
    let chat: ChannelId = link.a.create_data_channel(now, ChannelOptions::new("late")).unwrap();
    run(&mut link, &seen, Duration::from_millis(100), |s, _| s.has(Side::A, |e| *e == Event::NegotiationNeeded));
    let (offer, _) = exchange(&mut link, Side::A);
    assert_eq!(sections(&offer).len(), 2);
    run(&mut link, &seen, Duration::from_secs(30), |s, _| s.has(Side::A, |e| *e == Event::ChannelOpen(chat)));
    let now = link.now;
    link.a.send_text(now, chat, "hello").unwrap();
    run(&mut link, &seen, Duration::from_secs(5), |s, _| s.messages(Side::B) == [b"hello".to_vec()]);
}

#[test]
fn stopping_and_reusing_lines_while_data_flows() {
    // Audio and video next to a channel; then video stops, audio goes inactive and back, and a new video
    // transceiver takes the stopped line: four renegotiations while messages keep flowing.
    let mut link = link(8, Config::default);
    let now = link.now;
    let audio = link.a.add_transceiver(now, MediaKind::Audio, TransceiverInit::default()).unwrap();
    let video = link.a.add_transceiver(now, MediaKind::Video, TransceiverInit::default()).unwrap();
    let chat = link.a.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
    exchange(&mut link, Side::A);
    let seen = RefCell::new(Seen::default());
    run(&mut link, &seen, Duration::from_secs(30), |s, _| s.has(Side::A, |e| *e == Event::ChannelOpen(chat)));
    let sent = RefCell::new(0u32);
    let send = |link: &mut Link, n: u32| {
        let mut k = sent.borrow_mut();
        for _ in 0..n {
            let now = link.now;
            link.a.send_binary(now, chat, &payload(*k, 5000)).unwrap();
            *k += 1;
        }
    };
    let renegotiate = |link: &mut Link, change: &dyn Fn(&mut PeerConnection)| {
        send(link, 20);
        change(&mut link.a);
        let (offer, _) = exchange(link, Side::A);
        send(link, 20);
        let total = *sent.borrow() as usize;
        run(link, &seen, Duration::from_secs(5), |s, _| s.messages(Side::B).len() == total);
        offer
    };
    let offer = renegotiate(&mut link, &|a| a.stop_transceiver(Instant::ZERO, video).unwrap());
    assert_eq!(sections(&offer)[1], ("video".to_string(), 0, Some("1".to_string())));
    assert!(link.a.transceiver(video).is_none());
    renegotiate(&mut link, &|a| a.set_direction(Instant::ZERO, audio, Direction::Inactive).unwrap());
    assert_eq!(link.a.transceiver(audio).unwrap().current_direction(), Some(Direction::Inactive));
    let r = link.a.write_rtp(link.now, "0", &OutgoingRtp::new(111, 0, b"x"));
    assert_eq!(r, Err(sansrtc::pc::Error::NotSending));
    renegotiate(&mut link, &|a| a.set_direction(Instant::ZERO, audio, Direction::SendOnly).unwrap());
    let offer = renegotiate(&mut link, &|a| {
        a.add_transceiver(Instant::ZERO, MediaKind::Video, TransceiverInit::default()).unwrap();
    });
    // The stopped line is reused with a new mid; the data section keeps its place.
    let lines = sections(&offer);
    assert_eq!(lines[1], ("video".to_string(), 9, Some("3".to_string())));
    assert_eq!(lines[2], ("application".to_string(), 9, Some("2".to_string())));
    // Media flows on the reused line and on the audio line.
    let now = link.now;
    link.a.write_rtp(now, "3", &OutgoingRtp::new(96, 0, b"new video")).unwrap();
    link.a.write_rtp(now, "0", &OutgoingRtp::new(111, 0, b"audio again")).unwrap();
    run(&mut link, &seen, Duration::from_secs(5), |s, _| s.rtp(Side::B).len() == 2);
    let got: Vec<(String, Vec<u8>)> =
        seen.borrow().rtp(Side::B).iter().map(|p| (p.mid.to_string(), p.payload().to_vec())).collect();
    assert!(got.contains(&("3".to_string(), b"new video".to_vec())));
    assert!(got.contains(&("0".to_string(), b"audio again".to_vec())));
    // Every message arrived, in order: one DTLS handshake and one SCTP association throughout.
    let expected: Vec<Vec<u8>> = (0..*sent.borrow()).map(|k| payload(k, 5000)).collect();
    assert_eq!(seen.borrow().messages(Side::B), expected);
    assert_eq!(link.b.stats().media_dropped, 0);
}
