//! Audio and video m-sections in descriptions: answers to the real browser offers of `vectors/sdp/`
//! (Chromium 156 in three shapes, Firefox ESR 153, aiortc 1.16; see `vectors/sdp/README.md`) validate as
//! answers, accept audio and video next to the data channel with the offer's payload types and extension
//! ids, and are kept as insta snapshots; so are our own offers (media and data, media only, simulcast).

use sansrtc::pc::{
    ChannelOptions, Codec, Config, Description, Direction, Event, MediaKind, PeerConnection, SendEncoding, Track,
    TransceiverInit,
};
use sansrtc::sdp::{MediaDescription, SdpType, SessionDescription};
use sansrtc::{Instant, Machine, SeededRng};

const MEDIA_FIXTURES: [&str; 5] = [
    "chromium156_allcodecs_media_data",
    "chromium156_balanced_media_data",
    "chromium156_maxbundle_media_data",
    "firefox_esr_153_media_data",
    "aiortc116_media_data",
];

fn fixture(dir: &str) -> String {
    std::fs::read_to_string(format!("{}/vectors/sdp/{dir}/offer.sdp", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn fresh(seed: u8) -> PeerConnection {
    let mut pc = PeerConnection::new(Config::default(), SeededRng::from_seed([seed; 32]));
    let now = Instant::ZERO;
    pc.add_local_host(now, "127.0.0.1:40000".parse().unwrap()).unwrap();
    pc.end_of_local_candidates(now);
    pc
}

/// `pc` answers `offer` (after `prepare`), applies its answer, and returns it with the events.
fn answer(
    mut pc: PeerConnection,
    offer: &str,
    prepare: impl FnOnce(&mut PeerConnection),
) -> (String, Vec<Event>, PeerConnection) {
    let now = Instant::ZERO;
    prepare(&mut pc);
    pc.set_remote_description(now, &Description::offer(offer)).unwrap();
    let answer = pc.create_answer().unwrap();
    pc.set_local_description(now, &answer).unwrap();
    let events = core::iter::from_fn(|| pc.poll_event()).collect();
    (answer.sdp, events, pc)
}

fn formats<'a>(m: &'a MediaDescription<'_>) -> &'a str {
    &m.formats
}

fn extmaps(m: &MediaDescription<'_>) -> Vec<(u16, String)> {
    m.attributes.extmaps().map(|e| (e.id, e.uri.to_string())).collect()
}

#[test]
fn answers_to_browser_media_offers() {
    for dir in MEDIA_FIXTURES {
        let text = fixture(dir);
        let (sdp, events, pc) = answer(fresh(5), &text, |_| {});
        let offer = SessionDescription::parse(&text).unwrap();
        let answer = SessionDescription::parse(&sdp).unwrap();
        answer.validate_webrtc(SdpType::Answer).unwrap_or_else(|e| panic!("{dir}: {e}"));
        assert_eq!(answer.bundle_mids().collect::<Vec<_>>(), ["0", "1", "2"], "{dir}");
        for (o, a) in offer.media.iter().zip(&answer.media) {
            assert!(!a.is_rejected(), "{dir}: {:?}", a.mid());
            if !a.is_rtp() {
                continue;
            }
            // Nothing to send yet: each transceiver a remote offer made is recvonly.
            assert_eq!(a.attributes.direction(), Some(Direction::RecvOnly), "{dir}");
            assert!(a.attributes.rtcp_mux());
            assert_eq!(a.attributes.rtcp_rsize(), o.attributes.rtcp_rsize());
            // The offer's payload types, in its order; the extension ids are the offer's for what we use.
            let offered: Vec<&str> = o.formats().collect();
            let mut last = 0;
            for f in a.formats() {
                let at = offered.iter().position(|x| *x == f).unwrap_or_else(|| panic!("{dir}: {f} not offered"));
                assert!(at >= last, "{dir}: {f} out of order");
                last = at;
            }
            for (id, uri) in extmaps(a) {
                assert!(extmaps(o).contains(&(id, uri.clone())), "{dir}: {id} {uri}");
            }
            assert!(a.attributes.msids().next().is_none() && a.attributes.ssrcs().next().is_none());
        }
        // One track event per offered track, after the signalling state changed.
        let tracks = events.iter().filter(|e| matches!(e, Event::Track { .. })).count();
        assert_eq!(tracks, 2, "{dir}");
        let state =
            events.iter().position(|e| *e == Event::SignalingState(sansrtc::pc::SignalingState::HaveRemoteOffer));
        let track = events.iter().position(|e| matches!(e, Event::Track { .. }));
        assert!(state < track, "{dir}: {events:?}");
        assert_eq!(pc.transceivers().count(), 2);
        insta::assert_snapshot!(format!("answer_{dir}"), sdp);
    }
}

#[test]
fn what_each_browser_offer_gets() {
    let get = |dir: &str| {
        let (sdp, _, _) = answer(fresh(5), &fixture(dir), |_| {});
        SessionDescription::parse(&sdp).unwrap().into_owned()
    };
    // Chromium's full list: VP8, H.264 42001f and 42e01f in packetization mode 1, AV1, VP9 profiles 0
    // and 2, each with its RTX; not H.264 mode 0, Main profile, red or ulpfec.
    let a = get("chromium156_allcodecs_media_data");
    assert_eq!(formats(&a.media[0]), "111");
    assert_eq!(formats(&a.media[1]), "96 97 102 103 108 109 45 46 98 99 100 101");
    let fmtp: Vec<&str> = a.media[1].attributes.fmtps().map(|f| f.params).collect();
    assert!(fmtp.contains(&"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"));
    assert!(fmtp.contains(&"apt=102"));
    // Firefox: Opus, G.722, PCMU, PCMA and DTMF on its payload types; VP8, VP9 and AV1 with RTX.
    let f = get("firefox_esr_153_media_data");
    assert_eq!(formats(&f.media[0]), "109 9 0 8 101");
    assert_eq!(formats(&f.media[1]), "120 124 121 125 99 100");
    // The directions of Firefox's extmaps: a recvonly one we do not use is left out.
    assert!(!extmaps(&f.media[0]).iter().any(|(id, _)| *id == 2));
    // aiortc: Opus on 96, VP8 on 97 without RTX (none offered).
    let a = get("aiortc116_media_data");
    assert_eq!((formats(&a.media[0]), formats(&a.media[1])), ("96", "97"));
}

#[test]
fn answer_that_sends_back() {
    // The application adds its tracks first: the offer's sendrecv sections take them (W3C addTrack), so
    // the answer is sendrecv with our msid, SSRCs and RTX group.
    let (sdp, _, pc) = answer(fresh(6), &fixture("chromium156_balanced_media_data"), |pc| {
        let now = Instant::ZERO;
        pc.add_track(now, Track::new(MediaKind::Audio, "mic"), &["me"]).unwrap();
        pc.add_track(now, Track::new(MediaKind::Video, "cam"), &["me"]).unwrap();
    });
    let parsed = SessionDescription::parse(&sdp).unwrap();
    for m in &parsed.media[..2] {
        assert_eq!(m.attributes.direction(), Some(Direction::SendRecv));
        assert_eq!(
            m.attributes.msids().map(|m| (m.stream, m.track)).collect::<Vec<_>>(),
            [("me", Some(if m.media == "audio" { "mic" } else { "cam" }))]
        );
    }
    // This offer has no RTX for VP8: one SSRC each, no FID group.
    assert_eq!(parsed.media[1].attributes.ssrc_groups().count(), 0);
    assert!(parsed.media.iter().take(2).all(|m| m.attributes.ssrcs().any(|s| s.attribute == "cname")));
    assert_eq!(pc.transceivers().count(), 2, "the remote offer took our transceivers");
    assert!(pc.transceivers().all(|t| t.current_direction() == Some(Direction::SendRecv)));
    insta::assert_snapshot!("answer_sendrecv_chromium156_balanced", sdp);
}

#[test]
fn our_offers() {
    let now = Instant::ZERO;
    let mut pc = fresh(7);
    let init = |streams: &[&str]| TransceiverInit {
        stream_ids: streams.iter().map(|s| s.to_string()).collect(),
        ..TransceiverInit::default()
    };
    pc.add_transceiver(now, Track::new(MediaKind::Audio, "mic"), init(&["s"])).unwrap();
    let simulcast = TransceiverInit {
        send_encodings: ["h", "m", "l"].iter().map(|r| SendEncoding { rid: Some(r.to_string()) }).collect(),
        ..init(&["s"])
    };
    let video = pc.add_transceiver(now, Track::new(MediaKind::Video, "cam"), simulcast).unwrap();
    pc.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
    let offer = pc.create_offer().unwrap();
    let parsed = SessionDescription::parse(&offer.sdp).unwrap();
    parsed.validate_webrtc(SdpType::Offer).unwrap();
    assert_eq!(parsed.bundle_mids().collect::<Vec<_>>(), ["0", "1", "2"]);
    let v = &parsed.media[1];
    assert_eq!(v.attributes.rids().collect::<Vec<_>>(), ["h send", "m send", "l send"]);
    assert_eq!(v.attributes.simulcast(), Some("send h;m;l"));
    assert_eq!(pc.transceiver(video).map(|t| t.ssrcs().count()), Some(3));
    pc.set_local_description(now, &offer).unwrap();
    assert_eq!(pc.transceiver(video).and_then(|t| t.mid()), Some("1"));
    insta::assert_snapshot!("offer_audio_video_simulcast_data", offer.sdp);

    // A second peer answers it: audio both ways, video received (three rids), data.
    let (answer, events, _) = answer(fresh(8), &offer.sdp, |pc| {
        pc.add_track(Instant::ZERO, Track::new(MediaKind::Audio, "their-mic"), &[]).unwrap();
    });
    let a = SessionDescription::parse(&answer).unwrap();
    assert_eq!(a.media[0].attributes.direction(), Some(Direction::SendRecv));
    assert_eq!(a.media[1].attributes.direction(), Some(Direction::RecvOnly));
    assert_eq!(a.media[1].attributes.simulcast(), Some("recv h;m;l"));
    assert!(a.media[0].attributes.msids().any(|m| m.stream == "-" && m.track == Some("their-mic")));
    assert!(events.iter().any(
        |e| matches!(e, Event::Track { kind: MediaKind::Video, stream_ids, .. } if stream_ids == &["s".to_string()])
    ));
    pc.set_remote_description(now, &Description::answer(answer)).unwrap();
    assert_eq!(pc.transceiver(video).and_then(|t| t.current_direction()), Some(Direction::SendOnly));

    // Media only: no data section when no channel was created.
    let mut pc = fresh(9);
    pc.add_transceiver(now, MediaKind::Video, TransceiverInit::with_direction(Direction::RecvOnly)).unwrap();
    let offer = pc.create_offer().unwrap();
    SessionDescription::parse(&offer.sdp).unwrap().validate_webrtc(SdpType::Offer).unwrap();
    assert!(!offer.sdp.contains("m=application") && offer.sdp.contains("a=recvonly\r\n"));
    assert!(!offer.sdp.contains("a=msid") && !offer.sdp.contains("a=ssrc"));
    insta::assert_snapshot!("offer_video_recvonly", offer.sdp);
}

#[test]
fn codec_preferences_shape_offers_and_answers() {
    let now = Instant::ZERO;
    let mut pc = fresh(10);
    let t = pc.add_transceiver(now, MediaKind::Video, TransceiverInit::default()).unwrap();
    pc.set_codec_preferences(t, &[Codec::h264(102, "42001f", 103), Codec::vp8()]).unwrap();
    let offer = pc.create_offer().unwrap();
    assert!(offer.sdp.contains("m=video 9 UDP/TLS/RTP/SAVPF 102 103 96 97\r\n"), "{}", offer.sdp);
    // Not supported, or not of the transceiver's kind: refused.
    assert!(pc.set_codec_preferences(t, &[Codec::h265(49, 50)]).is_err());
    assert!(pc.set_codec_preferences(t, &[Codec::opus()]).is_err());
    // Answering Chromium with AV1 preferred: AV1 first, only what the preferences list.
    let (sdp, _, _) = answer(fresh(11), &fixture("chromium156_allcodecs_media_data"), |pc| {
        let t = pc.add_track(now, Track::new(MediaKind::Video, "v"), &[]).unwrap();
        pc.set_codec_preferences(t, &[Codec::av1(45, 46), Codec::vp8()]).unwrap();
    });
    assert!(sdp.contains("m=video 9 UDP/TLS/RTP/SAVPF 45 46 96 97\r\n"), "{sdp}");
}
