//! Answering real Chromium 156 offers (`vectors/sdp/chromium156_*`, captured as described in
//! `vectors/sdp/README.md`): the answer must pass `validate_webrtc` as an answer and the checks Chromium's
//! `setRemoteDescription` makes (issue 8): no `actpass`, a fingerprint, ufrag 4–256 and pwd 22–256
//! characters, `a=rtcp-mux` on bundled media sections; audio and video are accepted next to the data
//! channel, all in the offer's BUNDLE group.

use core::net::SocketAddr;

use sansrtc::pc::{Config, Description, PeerConnection, SdpKind, SignalingState};
use sansrtc::sdp::{SdpType, SessionDescription, Setup};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

fn answer(dir: &str) -> (String, String) {
    let offer = std::fs::read_to_string(format!("{}/vectors/sdp/{dir}/offer.sdp", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut pc = PeerConnection::new(Config::default(), SeededRng::from_seed([5; 32]));
    let now = Instant::ZERO;
    pc.add_local_host(now, "127.0.0.1:40000".parse().unwrap()).unwrap();
    pc.end_of_local_candidates(now);
    pc.set_remote_description(now, &Description::offer(offer.clone())).unwrap();
    assert_eq!(pc.signaling_state(), SignalingState::HaveRemoteOffer);
    let answer = pc.create_answer().unwrap();
    assert_eq!(answer.kind, SdpKind::Answer);
    pc.set_local_description(now, &answer).unwrap();
    assert_eq!(pc.signaling_state(), SignalingState::Stable);
    (offer, answer.sdp)
}

fn check_chromium_rules(offer: &str, answer: &str) {
    let offer = SessionDescription::parse(offer).unwrap();
    let sdp = SessionDescription::parse(answer).unwrap();
    sdp.validate_webrtc(SdpType::Answer).unwrap();
    // One answer m-line per offer m-line, in order, with the same mids (RFC 3264 §6), each accepted.
    assert_eq!(sdp.media.len(), offer.media.len());
    for (o, a) in offer.media.iter().zip(&sdp.media) {
        assert_eq!((o.media.as_ref(), o.mid()), (a.media.as_ref(), a.mid()));
        assert!(!a.is_rejected(), "{:?} accepted", a.mid());
        assert_eq!(a.proto, o.proto);
    }
    let data = sdp.media.iter().find(|m| m.is_data_channel()).unwrap();
    assert_eq!(data.port, 9);
    assert_eq!(data.proto, "UDP/DTLS/SCTP");
    assert_eq!(data.attributes.sctp_port(), Some(5000));
    assert_eq!(data.attributes.max_message_size(), Some(262_144));
    for m in &sdp.media {
        assert_eq!(sdp.setup_for(m), Some(Setup::Active), "never actpass in an answer");
        assert!(sdp.fingerprints_for(m).next().is_some());
        let (ufrag, pwd) = sdp.ice_credentials_for(m).unwrap();
        assert!((4..=256).contains(&ufrag.len()) && (22..=256).contains(&pwd.len()));
        assert!(m.attributes.ice_options().any(|o| o == "trickle"));
    }
    // The BUNDLE group is the offer's; its tag (the first mid) carries the candidates.
    let bundled: Vec<&str> = sdp.bundle_mids().collect();
    assert_eq!(bundled, offer.bundle_mids().collect::<Vec<_>>());
    let tag = sdp.media_by_mid(bundled[0]).unwrap();
    assert_eq!(tag.attributes.candidates().count(), 1);
    assert!(tag.attributes.end_of_candidates());
    // Every bundled media section has rtcp-mux.
    for m in sdp.media.iter().filter(|m| m.is_rtp() && m.mid().is_some_and(|mid| bundled.contains(&mid))) {
        assert!(m.attributes.rtcp_mux());
    }
}

#[test]
fn answers_chromium_data_only_offer() {
    let (offer, answer) = answer("chromium156_loopback_data");
    check_chromium_rules(&offer, &answer);
}

#[test]
fn answers_chromium_media_offers_accepting_audio_and_video() {
    for dir in
        ["chromium156_allcodecs_media_data", "chromium156_balanced_media_data", "chromium156_maxbundle_media_data"]
    {
        let (offer, answer) = answer(dir);
        check_chromium_rules(&offer, &answer);
    }
}

#[test]
fn chromium_checks_reach_the_connection_and_only_it() {
    // After answering, a binding request from the browser's candidate is for this connection (by the
    // USERNAME's local ufrag), a DTLS record from an unknown address is not.
    let offer = std::fs::read_to_string(format!(
        "{}/vectors/sdp/chromium156_loopback_data/offer.sdp",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let now = Instant::ZERO;
    let local: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut ours = PeerConnection::new(Config::default(), SeededRng::from_seed([6; 32]));
    ours.add_local_host(now, local).unwrap();
    ours.end_of_local_candidates(now);
    ours.set_remote_description(now, &Description::offer(offer)).unwrap();
    let answer = ours.create_answer().unwrap();
    ours.set_local_description(now, &answer).unwrap();

    // As controlled agent with the browser's host candidate known, we check it ourselves: our own
    // binding request carries USERNAME "<their ufrag>:<our ufrag>".
    let _ = ours.poll_timeout();
    ours.handle_timeout(Instant::from_millis(100));
    let t = ours.poll_transmit().expect("a connectivity check");
    assert_eq!(t.destination, "127.0.0.1:39829".parse().unwrap());
    assert_eq!(sansrtc::pc::stun_username_local_ufrag(t.contents), Some("k3yy"));
    let check = t.contents.to_vec();

    // The browser's checks carry USERNAME "<our ufrag>:k3yy": accepted; someone else's ufrag is not.
    assert!(check.len() > 20);
    let to_us = binding_request(&format!("{}:k3yy", ours.local_ufrag()));
    let d = Datagram { source: "127.0.0.1:39829".parse().unwrap(), destination: local, contents: &to_us };
    assert_eq!(sansrtc::pc::stun_username_local_ufrag(&to_us), Some(ours.local_ufrag()));
    assert!(ours.accepts(&d));
    let other = binding_request("zzzz:k3yy");
    assert!(!ours.accepts(&Datagram { contents: &other, source: "127.0.0.1:1".parse().unwrap(), ..d }));
    // Non-STUN from the browser's known candidate is routed to us; from elsewhere it is not.
    let dtls = [22u8, 0xfe, 0xfd, 0, 0];
    assert!(ours.accepts(&Datagram { contents: &dtls, ..d }));
    let stranger = Datagram { source: "127.0.0.1:1".parse().unwrap(), ..d };
    assert!(!ours.accepts(&Datagram { contents: &dtls, ..stranger }));
    // And it is dropped and counted if fed anyway (no validated pair leads there).
    assert!(ours.handle_receive(now, Datagram { contents: &dtls, ..stranger }).is_err());
    assert_eq!(ours.stats().ice_dropped, 1);
}

/// A bare binding request with a USERNAME (no integrity: enough for routing, which verifies nothing).
fn binding_request(username: &str) -> Vec<u8> {
    let padded = username.len().div_ceil(4) * 4;
    let mut m = vec![0x00, 0x01];
    m.extend_from_slice(&u16::try_from(4 + padded).unwrap().to_be_bytes());
    m.extend_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
    m.extend_from_slice(&[1; 12]);
    m.extend_from_slice(&[0x00, 0x06]);
    m.extend_from_slice(&u16::try_from(username.len()).unwrap().to_be_bytes());
    m.extend_from_slice(username.as_bytes());
    m.resize(20 + 4 + padded, 0);
    m
}

fn loopback_offer() -> String {
    std::fs::read_to_string(format!("{}/vectors/sdp/chromium156_loopback_data/offer.sdp", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
}

fn fresh() -> PeerConnection {
    PeerConnection::new(Config::default(), SeededRng::from_seed([7; 32]))
}

#[test]
fn hostile_remote_descriptions_are_refused_with_the_line() {
    use sansrtc::pc::Error;
    use sansrtc::sdp::SdpErrorKind;
    let now = Instant::ZERO;
    let offer = loopback_offer();
    let line_of = |needle: &str| offer.lines().position(|l| l.starts_with(needle)).unwrap() as u32 + 1;

    // No fingerprint: the m= line is named.
    let no_fp: String = offer.lines().filter(|l| !l.starts_with("a=fingerprint")).map(|l| format!("{l}\r\n")).collect();
    let Err(Error::Sdp(e)) = fresh().set_remote_description(now, &Description::offer(no_fp)) else { panic!() };
    assert_eq!((e.kind, e.line), (SdpErrorKind::MissingFingerprint, line_of("m=application")));

    // A ufrag of 3 characters: the a=ice-ufrag line is named.
    let short = offer.replace("a=ice-ufrag:k3yy", "a=ice-ufrag:k3y");
    let Err(Error::Sdp(e)) = fresh().set_remote_description(now, &Description::offer(short)) else { panic!() };
    assert_eq!(e.line, line_of("a=ice-ufrag"));

    // An answer saying actpass (Chromium's rule, mirrored).
    let mut pc = fresh();
    let ours = pc.create_offer().unwrap();
    pc.set_local_description(now, &ours).unwrap();
    let Err(Error::Sdp(e)) = pc.set_remote_description(now, &Description::answer(offer.clone())) else { panic!() };
    assert_eq!((e.kind, e.line), (SdpErrorKind::BadSetup, line_of("a=setup")));
    assert_eq!(pc.signaling_state(), SignalingState::HaveLocalOffer, "a refused answer changes nothing");

    // Only an audio section: answered with audio alone.
    let audio = std::fs::read_to_string(format!(
        "{}/vectors/sdp/chromium156_balanced_media_data/offer.sdp",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let audio_only: String = audio.split("m=").take(2).collect::<Vec<_>>().join("m=");
    let audio_only = audio_only.replace("a=group:BUNDLE 0 1 2", "a=group:BUNDLE 0");
    let mut pc = fresh();
    pc.set_remote_description(now, &Description::offer(audio_only)).unwrap();
    let answer = pc.create_answer().unwrap();
    assert!(answer.sdp.contains("a=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"), "{}", answer.sdp);
    pc.set_local_description(now, &answer).unwrap();
    assert!(pc.data_channels().is_none());
    // Only a video section we cannot decode: nothing this connection can use.
    let video_only: String = audio
        .split("m=")
        .enumerate()
        .filter(|(i, _)| *i != 1 && *i != 3)
        .map(|(_, s)| s)
        .collect::<Vec<_>>()
        .join("m=");
    let unknown = video_only.replace("a=group:BUNDLE 0 1 2", "a=group:BUNDLE 1").replace("VP8/90000", "XYZ/90000");
    let mut pc = fresh();
    pc.set_remote_description(now, &Description::offer(unknown)).unwrap();
    let answer = pc.create_answer().unwrap();
    assert!(answer.sdp.contains("m=video 0 UDP/TLS/RTP/SAVPF 96\r\n"), "{}", answer.sdp);
    assert!(matches!(pc.set_local_description(now, &answer), Err(Error::NoDataChannelSection)));

    // A 10 MB body is refused before it is read, and garbage is refused too.
    let huge = "v=0\r\n".to_string() + &"a=x\r\n".repeat(2_000_000);
    assert!(matches!(fresh().set_remote_description(now, &Description::offer(huge)), Err(Error::Sdp(_))));
    assert!(fresh().set_remote_description(now, &Description::offer("\u{0}garbage")).is_err());
    // None of this left a state behind.
    let mut pc = fresh();
    let _ = pc.set_remote_description(now, &Description::offer("v=1"));
    assert_eq!(pc.signaling_state(), SignalingState::Stable);
}
