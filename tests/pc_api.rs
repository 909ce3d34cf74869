//! The W3C surface of the peer connection: the description getters, provisional answers, channels refused
//! at negotiation, and how a connection ends (closed or failed). Driven by the README's loop.

use core::net::SocketAddr;
use core::time::Duration;

use sansrtc::pc::{
    ChannelOptions, Config, ConnectionState, Description, Event, PeerConnection, SdpKind, SignalingState,
};
use sansrtc::{Instant, SeededRng};

#[path = "support/readme_loop.rs"]
mod readme_loop;
use readme_loop::{Link, Side};

fn pair(seed: u8) -> Link {
    let a = PeerConnection::new(Config::default(), SeededRng::from_seed([seed; 32]));
    let b = PeerConnection::new(Config::default(), SeededRng::from_seed([seed + 100; 32]));
    Link::new(a, b, Duration::from_millis(10), 0.0, u64::from(seed))
}

/// Runs the loop for `limit`, recording every event with its side.
fn run(link: &mut Link, limit: Duration, events: &mut Vec<(Side, Event)>) {
    let mut app = |side: Side, _: &mut PeerConnection, _: Instant, e: Event| events.push((side, e));
    link.run(limit, &mut app, |_| false);
}

fn addrs() -> (SocketAddr, SocketAddr) {
    (readme_loop::A.parse().unwrap(), readme_loop::B.parse().unwrap())
}

#[test]
fn description_getters_follow_w3c() {
    let mut link = pair(1);
    let now = link.now;
    let (a_addr, b_addr) = addrs();
    assert_eq!(link.a.local_description(), None);
    assert_eq!(link.a.remote_description(), None);
    let _ = link.a.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
    // The offer is created before any candidate is gathered.
    let offer = link.a.create_offer().unwrap();
    assert!(!offer.sdp.contains("a=candidate"));
    link.a.set_local_description(now, &offer).unwrap();
    assert_eq!(link.a.pending_local_description().map(|d| d.kind), Some(SdpKind::Offer));
    assert_eq!(link.a.current_local_description(), None);
    // Candidates gathered after the offer was set show in localDescription (W3C §4.4.1.1), and so does
    // the end of gathering: a caller that does not trickle sends it once gathering completes.
    link.a.add_local_host(now, a_addr).unwrap();
    link.a.end_of_local_candidates(now);
    let shown = link.a.local_description().unwrap();
    assert!(shown.sdp.contains(&format!("{} {} typ host", a_addr.ip(), a_addr.port())), "{}", shown.sdp);
    assert!(shown.sdp.contains("a=end-of-candidates"), "{}", shown.sdp);
    // Everything else is the offer as set.
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("a=candidate") && *l != "a=end-of-candidates")
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&shown.sdp), strip(&offer.sdp));

    link.b.add_local_host(now, b_addr).unwrap();
    link.b.end_of_local_candidates(now);
    link.b.set_remote_description(now, &shown).unwrap();
    assert_eq!(link.b.pending_remote_description(), Some(shown.clone()));
    assert_eq!(link.b.remote_description(), Some(shown.clone()));
    let answer = link.b.create_answer().unwrap();
    link.b.set_local_description(now, &answer).unwrap();
    // The exchange settled on b: current descriptions, nothing pending.
    assert_eq!(link.b.current_remote_description(), Some(shown.clone()));
    assert_eq!(link.b.pending_remote_description(), None);
    assert_eq!(link.b.current_local_description().map(|d| d.sdp), Some(answer.sdp.clone()));
    assert_eq!(link.b.pending_local_description(), None);
    link.a.set_remote_description(now, &answer).unwrap();
    assert_eq!(link.a.current_remote_description(), Some(answer.clone()));
    assert_eq!(link.a.current_local_description().map(|d| d.kind), Some(SdpKind::Offer));
    assert_eq!(link.a.pending_local_description(), None);

    // A re-offer rolled back leaves the current descriptions as they were.
    let reoffer = link.a.create_offer().unwrap();
    link.a.set_local_description(now, &reoffer).unwrap();
    assert!(link.a.pending_local_description().is_some());
    link.a.set_local_description(now, &Description::rollback()).unwrap();
    assert_eq!(link.a.pending_local_description(), None);
    assert_eq!(link.a.current_remote_description(), Some(answer.clone()));
    assert_eq!(link.a.signaling_state(), SignalingState::Stable);
}

#[test]
fn provisional_answer_connects_and_the_final_answer_settles() {
    let mut link = pair(2);
    let now = link.now;
    let (a_addr, b_addr) = addrs();
    link.a.add_local_host(now, a_addr).unwrap();
    link.b.add_local_host(now, b_addr).unwrap();
    link.a.end_of_local_candidates(now);
    link.b.end_of_local_candidates(now);
    let chat = link.a.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
    let offer = link.a.create_offer().unwrap();
    link.a.set_local_description(now, &offer).unwrap();
    link.b.set_remote_description(now, &offer).unwrap();
    let mut pranswer = link.b.create_answer().unwrap();
    pranswer.kind = SdpKind::Pranswer;
    link.b.set_local_description(now, &pranswer).unwrap();
    assert_eq!(link.b.signaling_state(), SignalingState::HaveLocalPranswer);
    link.a.set_remote_description(now, &pranswer).unwrap();
    assert_eq!(link.a.signaling_state(), SignalingState::HaveRemotePranswer);
    assert_eq!(link.a.pending_remote_description(), Some(pranswer.clone()));
    assert_eq!(link.a.current_remote_description(), None);

    // The transport comes up on the provisional answer: the channel opens and carries a message.
    let mut events = Vec::new();
    run(&mut link, Duration::from_secs(5), &mut events);
    assert!(events.contains(&(Side::A, Event::ChannelOpen(chat))), "{events:?}");
    assert_eq!(link.a.connection_state(), ConnectionState::Connected);
    link.a.send_text(link.now, chat, "early").unwrap();
    run(&mut link, Duration::from_secs(1), &mut events);
    assert!(
        events.iter().any(|(s, e)| *s == Side::B && matches!(e, Event::Message { data, .. } if &data[..] == b"early"))
    );

    // The final answer settles both sides without disturbing the association.
    let answer = link.b.create_answer().unwrap();
    link.b.set_local_description(link.now, &answer).unwrap();
    link.a.set_remote_description(link.now, &answer).unwrap();
    assert_eq!(link.a.signaling_state(), SignalingState::Stable);
    assert_eq!(link.b.signaling_state(), SignalingState::Stable);
    assert_eq!(link.a.current_remote_description(), Some(answer.clone()));
    assert_eq!(link.a.pending_remote_description(), None);
    link.a.send_text(link.now, chat, "after").unwrap();
    events.clear();
    run(&mut link, Duration::from_secs(1), &mut events);
    assert!(
        events.iter().any(|(s, e)| *s == Side::B && matches!(e, Event::Message { data, .. } if &data[..] == b"after"))
    );
    let states = [SignalingState::HaveLocalPranswer, SignalingState::HaveRemotePranswer];
    assert!(states.iter().all(|s| link.a.signaling_state() != *s));
    // A pranswer is refused where no offer is outstanding.
    assert!(link.a.set_remote_description(link.now, &pranswer).is_err());
}

#[test]
fn a_channel_refused_at_negotiation_gets_an_error_and_a_close() {
    let mut link = pair(3);
    let now = link.now;
    // Created before the DTLS role is known: "auto" takes the first free id of our parity once the role
    // is known; "fixed" asked for id 1 in advance. The offerer is the DTLS server (odd ids), so "auto"
    // gets 1 and "fixed" collides with it.
    let auto = link.a.create_data_channel(now, ChannelOptions::new("auto")).unwrap();
    let fixed = link
        .a
        .create_data_channel(now, ChannelOptions { negotiated: Some(1), ..ChannelOptions::new("fixed") })
        .unwrap();
    let chat = link.negotiate();
    let mut events = Vec::new();
    run(&mut link, Duration::from_secs(5), &mut events);
    let a: Vec<&Event> = events.iter().filter(|(s, _)| *s == Side::A).map(|(_, e)| e).collect();
    let error = a.iter().position(|e| matches!(e, Event::ChannelError { id, .. } if *id == fixed));
    let close = a.iter().position(|e| **e == Event::ChannelClose(fixed));
    assert!(error.is_some() && close.is_some() && error < close, "{a:?}");
    assert!(a.contains(&&Event::ChannelOpen(auto)), "{a:?}");
    assert!(a.contains(&&Event::ChannelOpen(chat)), "{a:?}");
    assert_eq!(link.a.channel_stream_id(auto), Some(1));
    assert_eq!(link.a.channel_stream_id(fixed), None);
    assert!(link.a.send_text(link.now, fixed, "x").is_err());
}

/// Connects `link` and opens its channel; returns the events so far.
fn connect(link: &mut Link) -> Vec<(Side, Event)> {
    let chat = link.negotiate();
    let mut events = Vec::new();
    run(link, Duration::from_secs(5), &mut events);
    assert!(events.contains(&(Side::A, Event::ChannelOpen(chat))), "{events:?}");
    events
}

fn states(events: &[(Side, Event)], side: Side) -> Vec<ConnectionState> {
    events
        .iter()
        .filter_map(|(s, e)| match e {
            Event::ConnectionState(c) if *s == side => Some(*c),
            _ => None,
        })
        .collect()
}

#[test]
fn a_peer_closing_is_closed_not_failed() {
    let mut link = pair(4);
    let _ = connect(&mut link);
    link.a.close(link.now);
    let mut events = Vec::new();
    run(&mut link, Duration::from_secs(60), &mut events);
    assert_eq!(states(&events, Side::B), [ConnectionState::Closed], "{events:?}");
    assert_eq!(link.b.connection_state(), ConnectionState::Closed);
    assert!(events.iter().any(|(s, e)| *s == Side::B && matches!(e, Event::ChannelClose(_))), "{events:?}");
    // The peer that closed reports closed too, and so does its signalling.
    assert_eq!(link.a.connection_state(), ConnectionState::Closed);
    assert_eq!(link.a.signaling_state(), SignalingState::Closed);
    // The other side stopped: nothing left to wait for (no consent checks, no retransmissions).
    assert_eq!(link.next_wake(), None);
}

type Sent = (SocketAddr, SocketAddr, Vec<u8>);

fn first_bytes(out: &[Sent]) -> Vec<Option<&u8>> {
    out.iter().map(|o| o.2.first()).collect()
}

/// `a`'s DTLS version once connected: 1.3, the default.
fn dtls13(link: &Link) -> bool {
    let version = link.a.dtls().and_then(|d| d.protocol_version());
    assert_eq!(version, Some(sansrtc::dtls::wire::DTLS1_3));
    true
}

/// Whether `record`, the last datagram `close` sent, can be its close_notify: an alert (content type 21)
/// in DTLS 1.2; in DTLS 1.3 the type is encrypted, so a record with the unified header (RFC 9147 §4:
/// 001CSLEE).
fn is_close_notify(dtls13: bool, record: &[u8]) -> bool {
    if dtls13 { record.first().is_some_and(|b| b & 0xe0 == 0x20) } else { record.first() == Some(&21) }
}

#[test]
fn an_sctp_abort_alone_is_closed_too() {
    // The peer aborts its association but keeps DTLS up (as a stack closing its data transport would).
    let mut link = pair(5);
    let _ = connect(&mut link);
    let v13 = dtls13(&link);
    // `close` aborts SCTP before close_notify; drop the close_notify so only the ABORT arrives.
    link.a.close(link.now);
    let mut out = Vec::new();
    while let Some(t) = sansrtc::PathMachine::poll_transmit(&mut link.a) {
        out.push((t.source, t.destination, t.contents.to_vec()));
    }
    // The ABORT is the first record; the close_notify follows.
    assert!(out.len() >= 2 && is_close_notify(v13, &out[out.len() - 1].2), "{:?}", first_bytes(&out));
    let (source, destination, abort) = &out[0];
    let now = link.now;
    let _ = sansrtc::PathMachine::handle_receive(
        &mut link.b,
        now,
        sansrtc::Datagram { source: *source, destination: *destination, contents: abort },
    );
    assert_eq!(link.b.connection_state(), ConnectionState::Closed);
}

#[test]
fn a_dtls_failure_is_failed() {
    // b expects another certificate than a presents: the handshake fails on the fingerprint.
    let mut link = pair(6);
    let now = link.now;
    let (a_addr, b_addr) = addrs();
    link.a.add_local_host(now, a_addr).unwrap();
    link.b.add_local_host(now, b_addr).unwrap();
    link.a.end_of_local_candidates(now);
    link.b.end_of_local_candidates(now);
    let _ = link.a.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
    let offer = link.a.create_offer().unwrap();
    link.a.set_local_description(now, &offer).unwrap();
    let other = PeerConnection::new(Config::default(), SeededRng::from_seed([99; 32])).local_fingerprint();
    let mine = link.a.local_fingerprint();
    let hex = |f: &sansrtc::dtls::Fingerprint| f.0.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":");
    let forged = Description::offer(offer.sdp.replace(&hex(&mine), &hex(&other)));
    assert_ne!(forged.sdp, offer.sdp);
    link.b.set_remote_description(now, &forged).unwrap();
    let answer = link.b.create_answer().unwrap();
    link.b.set_local_description(now, &answer).unwrap();
    link.a.set_remote_description(now, &answer).unwrap();
    let mut events = Vec::new();
    run(&mut link, Duration::from_secs(10), &mut events);
    assert_eq!(link.b.connection_state(), ConnectionState::Failed, "{events:?}");
    assert!(states(&events, Side::B).contains(&ConnectionState::Failed));
    assert!(!states(&events, Side::B).contains(&ConnectionState::Closed));
}

#[test]
fn a_close_notify_alone_is_closed_and_leaves_nothing_owed() {
    // The peer's ABORT is lost and only its close_notify arrives: our DTLS is gone, so the ABORT we owe in
    // turn cannot leave. The connection must not keep saying "now" for it.
    let mut link = pair(7);
    let _ = connect(&mut link);
    let v13 = dtls13(&link);
    link.a.close(link.now);
    let mut out = Vec::new();
    while let Some(t) = sansrtc::PathMachine::poll_transmit(&mut link.a) {
        out.push((t.source, t.destination, t.contents.to_vec()));
    }
    assert!(out.len() >= 2 && is_close_notify(v13, &out[out.len() - 1].2), "{:?}", first_bytes(&out));
    let (source, destination, notify) = out[out.len() - 1].clone();
    let now = link.now;
    let datagram = sansrtc::Datagram { source, destination, contents: &notify };
    let _ = sansrtc::PathMachine::handle_receive(&mut link.b, now, datagram);
    assert_eq!(link.b.connection_state(), ConnectionState::Closed);
    while sansrtc::PathMachine::poll_transmit(&mut link.b).is_some() {}
    use sansrtc::Machine;
    link.b.handle_timeout(now);
    while sansrtc::PathMachine::poll_transmit(&mut link.b).is_some() {}
    assert!(link.b.poll_timeout().is_none_or(|t| t > now), "still owes something: {:?}", link.b.poll_timeout());
}
