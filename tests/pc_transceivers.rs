//! Transceivers in the W3C vocabulary and JSEP renegotiation, between two connections exchanging
//! descriptions only: `negotiationneeded`, directions and `currentDirection`, stopping and the reuse of a
//! rejected m-line, `addTrack` taking a transceiver a remote offer made, rollback, provisional answers,
//! and refused answers that change nothing.

use sansrtc::pc::{
    Config, Description, Direction, Error, Event, MediaKind, PeerConnection, SdpKind, SignalingState, Track,
    TransceiverInit,
};
use sansrtc::sdp::SessionDescription;
use sansrtc::{Instant, Machine, SeededRng};

const NOW: Instant = Instant::ZERO;

fn pc(seed: u8) -> PeerConnection {
    let mut pc = PeerConnection::new(Config::default(), SeededRng::from_seed([seed; 32]));
    pc.add_local_host(NOW, format!("10.0.0.{seed}:5000").parse().unwrap()).unwrap();
    pc.end_of_local_candidates(NOW);
    drain(&mut pc);
    pc
}

fn drain(pc: &mut PeerConnection) -> Vec<Event> {
    core::iter::from_fn(|| pc.poll_event()).collect()
}

fn needed(events: &[Event]) -> usize {
    events.iter().filter(|e| **e == Event::NegotiationNeeded).count()
}

/// `offerer`'s offer answered by `answerer`, both applied.
fn negotiate(offerer: &mut PeerConnection, answerer: &mut PeerConnection) -> (String, String) {
    let offer = offerer.create_offer().unwrap();
    offerer.set_local_description(NOW, &offer).unwrap();
    answerer.set_remote_description(NOW, &offer).unwrap();
    let answer = answerer.create_answer().unwrap();
    answerer.set_local_description(NOW, &answer).unwrap();
    offerer.set_remote_description(NOW, &answer).unwrap();
    (offer.sdp, answer.sdp)
}

/// (media, port, mid) of each m-line.
fn lines(sdp: &str) -> Vec<(String, u16, String)> {
    SessionDescription::parse(sdp)
        .unwrap()
        .media
        .iter()
        .map(|m| (m.media.to_string(), m.port, m.mid().unwrap_or_default().to_string()))
        .collect()
}

fn line(media: &str, port: u16, mid: &str) -> (String, u16, String) {
    (media.to_string(), port, mid.to_string())
}

#[test]
fn negotiation_needed_and_directions() {
    let (mut a, mut b) = (pc(1), pc(2));
    let audio = a.add_transceiver(NOW, MediaKind::Audio, TransceiverInit::default()).unwrap();
    let video = a.add_transceiver(NOW, MediaKind::Video, TransceiverInit::default()).unwrap();
    // Fired once: the flag stays set until negotiation.
    assert_eq!(needed(&drain(&mut a)), 1);
    assert_eq!(a.transceiver(audio).map(|t| (t.mid(), t.current_direction())), Some((None, None)));
    negotiate(&mut a, &mut b);
    assert_eq!(needed(&drain(&mut a)), 0);
    assert_eq!(needed(&drain(&mut b)), 0);
    // B has nothing to send: A sends only.
    for t in [audio, video] {
        assert_eq!(a.transceiver(t).unwrap().current_direction(), Some(Direction::SendOnly));
    }
    // The same direction again: nothing to negotiate; another one: negotiation needed.
    a.set_direction(NOW, audio, Direction::SendRecv).unwrap();
    assert_eq!(needed(&drain(&mut a)), 0);
    a.set_direction(NOW, audio, Direction::Inactive).unwrap();
    assert_eq!(needed(&drain(&mut a)), 1);
    let (offer, answer) = negotiate(&mut a, &mut b);
    assert!(offer.contains("a=mid:0\r\na=extmap") && offer.contains("a=inactive\r\n"));
    assert!(answer.contains("a=inactive\r\n"));
    assert_eq!(a.transceiver(audio).unwrap().current_direction(), Some(Direction::Inactive));
    assert_eq!(b.transceiver_by_mid("0").unwrap().current_direction(), Some(Direction::Inactive));
    // A change made while an offer is outstanding fires once the exchange is over.
    let offer = a.create_offer().unwrap();
    a.set_local_description(NOW, &offer).unwrap();
    drain(&mut a);
    a.add_transceiver(NOW, MediaKind::Audio, TransceiverInit::default()).unwrap();
    assert_eq!(needed(&drain(&mut a)), 0);
    b.set_remote_description(NOW, &offer).unwrap();
    let answer = b.create_answer().unwrap();
    b.set_local_description(NOW, &answer).unwrap();
    a.set_remote_description(NOW, &answer).unwrap();
    assert_eq!(needed(&drain(&mut a)), 1);
}

#[test]
fn stopping_rejects_the_line_and_a_new_transceiver_reuses_it() {
    let (mut a, mut b) = (pc(3), pc(4));
    let audio = a.add_transceiver(NOW, MediaKind::Audio, TransceiverInit::default()).unwrap();
    let video = a.add_transceiver(NOW, MediaKind::Video, TransceiverInit::default()).unwrap();
    negotiate(&mut a, &mut b);
    drain(&mut a);
    drain(&mut b);
    a.stop_transceiver(NOW, audio).unwrap();
    assert_eq!(needed(&drain(&mut a)), 1);
    assert!(a.transceiver(audio).unwrap().is_stopping());
    assert_eq!(a.set_direction(NOW, audio, Direction::SendRecv), Err(Error::TransceiverStopped));
    let (offer, answer) = negotiate(&mut a, &mut b);
    // Port 0, no msid; the BUNDLE group is what is left.
    assert_eq!(lines(&offer), [line("audio", 0, "0"), line("video", 9, "1")]);
    assert_eq!(lines(&answer), [line("audio", 0, "0"), line("video", 9, "1")]);
    assert!(offer.contains("a=group:BUNDLE 1\r\n") && answer.contains("a=group:BUNDLE 1\r\n"));
    // Stopped on both sides and forgotten; the video transceivers go on.
    assert!(a.transceiver(audio).is_none());
    assert!(b.transceiver_by_mid("0").is_none());
    assert_eq!(a.transceivers().count(), 1);
    assert_eq!(a.transceiver(video).unwrap().current_direction(), Some(Direction::SendOnly));
    // A new transceiver takes the rejected line, with a new mid.
    let again = a.add_transceiver(NOW, MediaKind::Audio, TransceiverInit::default()).unwrap();
    assert_eq!(needed(&drain(&mut a)), 1);
    let (offer, _) = negotiate(&mut a, &mut b);
    assert_eq!(lines(&offer), [line("audio", 9, "2"), line("video", 9, "1")]);
    assert_eq!(a.transceiver(again).unwrap().mid(), Some("2"));
    assert_eq!(a.transceiver(again).unwrap().current_direction(), Some(Direction::SendOnly));
    assert!(drain(&mut b).iter().any(|e| matches!(e, Event::Track { mid, .. } if mid == "2")));
    assert_eq!(b.transceivers().count(), 2);
    // A transceiver stopped before it was ever negotiated is stopped at once.
    let never = a.add_transceiver(NOW, MediaKind::Video, TransceiverInit::default()).unwrap();
    a.stop_transceiver(NOW, never).unwrap();
    assert!(a.transceiver(never).unwrap().is_stopped());
    assert_eq!(lines(&a.create_offer().unwrap().sdp).len(), 2);
}

#[test]
fn add_track_takes_the_transceiver_a_remote_offer_made() {
    let (mut a, mut b) = (pc(5), pc(6));
    let cam = a.add_transceiver(NOW, Track::new(MediaKind::Video, "cam"), TransceiverInit::default()).unwrap();
    negotiate(&mut a, &mut b);
    let theirs = b.transceiver_by_mid("0").unwrap().id();
    assert_eq!(b.transceiver(theirs).unwrap().direction(), Direction::RecvOnly);
    drain(&mut b);
    // B now sends too: addTrack reuses the recvonly transceiver and makes it sendrecv.
    let mine = b.add_track(NOW, Track::new(MediaKind::Video, "b-cam"), &["b"]).unwrap();
    assert_eq!(mine, theirs);
    assert_eq!(b.transceiver(mine).unwrap().direction(), Direction::SendRecv);
    assert_eq!(needed(&drain(&mut b)), 1);
    drain(&mut a);
    // B offers this time; A answers, and learns of B's track.
    let (offer, _) = negotiate(&mut b, &mut a);
    assert!(offer.contains("a=msid:b b-cam\r\n"));
    assert_eq!(a.transceiver(cam).unwrap().current_direction(), Some(Direction::SendRecv));
    assert_eq!(b.transceiver(mine).unwrap().current_direction(), Some(Direction::SendRecv));
    assert!(drain(&mut a).iter().any(|e| matches!(e, Event::Track { transceiver, stream_ids, .. }
        if *transceiver == cam && stream_ids == &["b".to_string()])));
    // The same track twice is refused.
    assert_eq!(b.add_track(NOW, Track::new(MediaKind::Video, "b-cam"), &[]), Err(Error::InvalidParameter));
}

#[test]
fn rollback_undoes_what_an_offer_did() {
    let (mut a, mut b) = (pc(7), pc(8));
    let t = a.add_transceiver(NOW, MediaKind::Audio, TransceiverInit::default()).unwrap();
    let offer = a.create_offer().unwrap();
    a.set_local_description(NOW, &offer).unwrap();
    assert_eq!(a.transceiver(t).unwrap().mid(), Some("0"));
    a.set_local_description(NOW, &Description::rollback()).unwrap();
    assert_eq!(a.transceiver(t).unwrap().mid(), None);
    assert_eq!(a.signaling_state(), SignalingState::Stable);
    // The remote offer's transceivers go away with it.
    b.set_remote_description(NOW, &offer).unwrap();
    assert_eq!(b.transceivers().count(), 1);
    b.set_remote_description(NOW, &Description::rollback()).unwrap();
    assert_eq!(b.transceivers().count(), 0);
    // And the exchange can still be made.
    negotiate(&mut a, &mut b);
    assert_eq!(a.transceiver(t).unwrap().current_direction(), Some(Direction::SendOnly));
}

#[test]
fn provisional_answers_apply_media_too() {
    let (mut a, mut b) = (pc(9), pc(10));
    let t = a.add_transceiver(NOW, MediaKind::Audio, TransceiverInit::default()).unwrap();
    let offer = a.create_offer().unwrap();
    a.set_local_description(NOW, &offer).unwrap();
    b.add_track(NOW, Track::new(MediaKind::Audio, "mic"), &[]).unwrap();
    b.set_remote_description(NOW, &offer).unwrap();
    let mut pranswer = b.create_answer().unwrap();
    pranswer.kind = SdpKind::Pranswer;
    b.set_local_description(NOW, &pranswer).unwrap();
    a.set_remote_description(NOW, &pranswer).unwrap();
    assert_eq!(a.signaling_state(), SignalingState::HaveRemotePranswer);
    assert_eq!(a.transceiver(t).unwrap().current_direction(), Some(Direction::SendRecv));
    let answer = b.create_answer().unwrap();
    b.set_local_description(NOW, &answer).unwrap();
    a.set_remote_description(NOW, &answer).unwrap();
    assert_eq!(a.signaling_state(), SignalingState::Stable);
}

#[test]
fn refused_answers_and_rejected_sections() {
    let (mut a, mut b) = (pc(11), pc(12));
    a.add_transceiver(NOW, MediaKind::Audio, TransceiverInit::default()).unwrap();
    a.add_transceiver(NOW, MediaKind::Video, TransceiverInit::default()).unwrap();
    let offer = a.create_offer().unwrap();
    a.set_local_description(NOW, &offer).unwrap();
    b.set_remote_description(NOW, &offer).unwrap();
    let answer = b.create_answer().unwrap();
    // An answer missing an m-line is refused and changes nothing.
    let cut: String = answer.sdp.split("m=video").next().unwrap().replace("BUNDLE 0 1", "BUNDLE 0");
    assert_eq!(a.set_remote_description(NOW, &Description::answer(cut)), Err(Error::AnswerMismatch));
    assert_eq!(a.signaling_state(), SignalingState::HaveLocalOffer);
    assert!(a.transceivers().all(|t| t.current_direction().is_none()));
    // A section the offerer sent with port 0 gets no transceiver and is answered rejected.
    let (mut c, mut d) = (pc(13), pc(14));
    c.add_transceiver(NOW, MediaKind::Audio, TransceiverInit::default()).unwrap();
    let offer = c.create_offer().unwrap();
    let zeroed = offer.sdp.replace("m=audio 9 ", "m=audio 0 ");
    let zeroed = format!("{zeroed}m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:v\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\n")
        .replace("a=group:BUNDLE 0", "a=group:BUNDLE v");
    // (The video section borrows the session's transport: give it the audio section's lines.)
    let transport: String = offer
        .sdp
        .lines()
        .filter(|l| ["a=ice-ufrag", "a=ice-pwd", "a=fingerprint", "a=setup"].iter().any(|p| l.starts_with(p)))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let zeroed = zeroed.replace("a=mid:v\r\n", &format!("{transport}a=mid:v\r\n"));
    d.set_remote_description(NOW, &Description::offer(zeroed)).unwrap();
    assert_eq!(d.transceivers().count(), 1, "only the video section made one");
    let answer = d.create_answer().unwrap();
    assert_eq!(lines(&answer.sdp), [line("audio", 0, "0"), line("video", 9, "v")]);
    d.set_local_description(NOW, &answer).unwrap();
}

#[test]
fn odd_remote_offers() {
    // Two data channel sections: the second is rejected. A mid that changes kind gets a new transceiver.
    let (mut a, mut b) = (pc(15), pc(16));
    a.create_data_channel(NOW, sansrtc::pc::ChannelOptions::new("x")).unwrap();
    a.add_transceiver(NOW, MediaKind::Audio, TransceiverInit::default()).unwrap();
    let offer = a.create_offer().unwrap().sdp;
    let data: String = offer.split("m=").last().unwrap().replace("a=mid:1", "a=mid:9");
    let doubled = format!("{offer}m={data}").replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0 1 9");
    b.set_remote_description(NOW, &Description::offer(doubled)).unwrap();
    let answer = b.create_answer().unwrap();
    assert_eq!(lines(&answer.sdp), [line("audio", 9, "0"), line("application", 9, "1"), line("application", 0, "9")]);
    b.set_local_description(NOW, &answer).unwrap();
    let audio = b.transceiver_by_mid("0").unwrap().id();
    // A re-offer says mid 0 is video now.
    let reoffer = offer
        .replacen("m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 110 126", "m=video 9 UDP/TLS/RTP/SAVPF 96", 1)
        .replace("a=rtpmap:111 opus/48000/2", "a=rtpmap:96 VP8/90000");
    assert!(reoffer != offer);
    b.set_remote_description(NOW, &Description::offer(reoffer)).unwrap();
    let video = b.transceiver_by_mid("0").unwrap();
    assert_eq!(video.kind(), MediaKind::Video);
    assert!(video.id() != audio);
    assert!(b.transceiver(audio).is_none_or(|t| t.is_stopped() && t.mid().is_none()));
}

#[test]
fn rejecting_the_bundle_tag_rejects_its_group() {
    // RFC 8843 §7.3.3: the offerer-tagged section (here audio, with a codec we do not have) cannot be
    // rejected alone, so the whole group is, and there is nothing left to connect with.
    let (mut a, mut b) = (pc(18), pc(19));
    a.add_transceiver(NOW, MediaKind::Audio, TransceiverInit::default()).unwrap();
    a.create_data_channel(NOW, sansrtc::pc::ChannelOptions::new("x")).unwrap();
    let offer = a.create_offer().unwrap().sdp;
    let offer = offer
        .replacen("m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 110 126", "m=audio 9 UDP/TLS/RTP/SAVPF 111", 1)
        .replace("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 speex/48000/2");
    let offer: String = offer
        .lines()
        .filter(|l| {
            !["a=rtpmap:9 ", "a=rtpmap:0 ", "a=rtpmap:8 ", "a=rtpmap:110", "a=rtpmap:126", "a=fmtp:110", "a=fmtp:126"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .map(|l| format!("{l}\r\n"))
        .collect();
    b.set_remote_description(NOW, &Description::offer(offer)).unwrap();
    let answer = b.create_answer().unwrap();
    assert_eq!(lines(&answer.sdp), [line("audio", 0, "0"), line("application", 0, "1")]);
    assert!(!answer.sdp.contains("a=group:BUNDLE"));
    assert_eq!(b.set_local_description(NOW, &answer), Err(Error::NoDataChannelSection));
}

#[test]
fn codec_preferences_apply_to_re_offers() {
    let (mut a, mut b) = (pc(20), pc(21));
    let t = a.add_transceiver(NOW, MediaKind::Video, TransceiverInit::default()).unwrap();
    negotiate(&mut a, &mut b);
    let vp8 = a.transceiver(t).unwrap().codecs()[0].clone();
    assert_eq!((&*vp8.name, vp8.payload_type), ("VP8", 96));
    a.set_codec_preferences(t, &[sansrtc::pc::Codec::av1(45, 46), sansrtc::pc::Codec::vp8()]).unwrap();
    let (offer, answer) = negotiate(&mut a, &mut b);
    assert!(offer.contains("m=video 9 UDP/TLS/RTP/SAVPF 45 46 96 97\r\n"), "{offer}");
    assert!(answer.contains("m=video 9 UDP/TLS/RTP/SAVPF 45 46 96 97\r\n"), "{answer}");
    let names: Vec<String> = a.transceiver(t).unwrap().codecs().iter().map(|c| c.name.to_string()).collect();
    assert_eq!(names, ["AV1", "VP8"]);
}
