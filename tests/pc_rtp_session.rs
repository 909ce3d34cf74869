//! The peer connection's media path under the RTP session layer (`rtp::session`), over a link that loses
//! 5 % of datagrams, driven by the README loop: each side's session sends through
//! `PeerConnection::write_rtp_raw` / `write_rtcp` and is fed the connection's `Event::Rtp` and
//! `Event::Rtcp`. NACKs go one way and RTX the other, routed by the SSRCs the descriptions signalled (the
//! session writes no MID), and every frame arrives, repaired where it was lost.

use core::cell::RefCell;
use core::time::Duration;

use sansrtc::pc::{Config, ConnectionState, Event, MediaKind, PeerConnection, TransceiverInit};
use sansrtc::rtp::session::{self, OutgoingRtp, PacketKind, ReceiveStreamConfig, Received, SendStreamConfig, Session};
use sansrtc::{Instant, SeededRng};

#[path = "support/readme_loop.rs"]
mod readme_loop;
use readme_loop::{Link, Side};

fn session(cname: &str, seed: u8) -> Session {
    let mut c = session::Config::new(cname, Duration::from_secs(3_900_000_000));
    c.payload_types.media(96, 90_000, true, true).unwrap().rtx(97, 96).unwrap();
    Session::new(c, SeededRng::from_seed([seed; 32])).unwrap()
}

/// Frame `i`: its index in the first four bytes, then a pattern of it.
fn frame(i: u32) -> Vec<u8> {
    let mut f = i.to_be_bytes().to_vec();
    f.extend((0..796u32).map(|k| (k.wrapping_mul(31) ^ i.wrapping_mul(2_654_435_761)) as u8));
    f
}

fn frame_index(f: &[u8]) -> u32 {
    let i = u32::from_be_bytes([f[0], f[1], f[2], f[3]]);
    assert_eq!(f, frame(i), "frame {i} intact");
    i
}

/// Hands what a session owes to its connection (RTX through `write_rtp_raw`, RTCP through `write_rtcp`).
fn flush(s: &mut Session, pc: &mut PeerConnection, now: Instant) {
    while let Some(out) = s.poll_transmit() {
        let r = match out.kind {
            PacketKind::Rtp => pc.write_rtp_raw(now, "0", out.data()),
            PacketKind::Rtcp => pc.write_rtcp(now, out.data()),
        };
        // Before ICE and DTLS are up a packet cannot leave; the session repeats what matters.
        if let Err(e) = r {
            assert_eq!(e, sansrtc::pc::Error::NotConnected);
        }
    }
}

#[test]
fn nack_and_rtx_through_the_peer_connection_repair_a_lossy_link() {
    let a = PeerConnection::new(Config::default(), SeededRng::from_seed([31; 32]));
    let b = PeerConnection::new(Config::default(), SeededRng::from_seed([32; 32]));
    let mut link = Link::new(a, b, Duration::from_millis(20), 0.05, 33);
    let now = link.now;
    link.a.add_local_host(now, readme_loop::A.parse().unwrap()).unwrap();
    link.b.add_local_host(now, readme_loop::B.parse().unwrap()).unwrap();
    link.a.end_of_local_candidates(now);
    link.b.end_of_local_candidates(now);
    let video = link.a.add_transceiver(now, MediaKind::Video, TransceiverInit::default()).unwrap();
    let offer = link.a.create_offer().unwrap();
    link.a.set_local_description(now, &offer).unwrap();
    link.b.set_remote_description(now, &offer).unwrap();
    let answer = link.b.create_answer().unwrap();
    link.b.set_local_description(now, &answer).unwrap();
    link.a.set_remote_description(now, &answer).unwrap();
    // The negotiated payload types are the session's (VP8 96, RTX 97), and the SSRCs the offer signalled.
    let t = link.a.transceiver(video).unwrap();
    let codec = &t.codecs()[0];
    assert_eq!((codec.payload_type, codec.rtx_payload_type), (96, Some(97)));
    let (_, ssrc, rtx) = t.ssrcs().next().unwrap();
    assert_eq!(link.b.transceiver_by_mid("0").unwrap().remote_ssrcs(), [(ssrc, Some(rtx))]);

    let sessions = RefCell::new((session("a", 1), session("b", 2)));
    sessions.borrow_mut().0.add_send_stream(SendStreamConfig::video(ssrc, Some(rtx))).unwrap();
    sessions.borrow_mut().1.add_receive_stream(ReceiveStreamConfig::video(ssrc, Some(rtx))).unwrap();
    let got = RefCell::new(Vec::<(u64, bool, Vec<u8>)>::new());
    let mut buf = Vec::with_capacity(1500);
    let mut app = |side: Side, pc: &mut PeerConnection, now: Instant, e: Event| {
        let mut s = sessions.borrow_mut();
        let session = if side == Side::A { &mut s.0 } else { &mut s.1 };
        let packet = match &e {
            Event::Rtp(p) => p.as_bytes(),
            Event::Rtcp(p) => &p[..],
            Event::ConnectionState(s @ (ConnectionState::Failed | ConnectionState::Closed)) => panic!("{side:?} {s:?}"),
            _ => return,
        };
        buf.clear();
        buf.extend_from_slice(packet);
        if let Ok(Received::Rtp(rtp)) = session.handle_receive(now, &mut buf) {
            got.borrow_mut().push((rtp.sequence, rtp.repaired, rtp.packet.payload().to_vec()));
        }
        flush(session, pc, now);
    };
    let connected = |l: &Link| {
        l.a.connection_state() == ConnectionState::Connected && l.b.connection_state() == ConnectionState::Connected
    };
    assert!(link.run(Duration::from_secs(30), &mut app, connected));

    // 160 frames, one every 20 ms; the sessions' timers (NACK, reports) run between the loop's turns.
    // NACK cannot repair a loss at the very start or end of a stream (no packet on the other side of the
    // gap), so the 150 in the middle must all arrive.
    let start = link.now;
    let frames = 160u32;
    let middle = 5..155u32;
    let mut sent = 0u32;
    let mut out = Vec::with_capacity(1500);
    let end = start + Duration::from_secs(8);
    let done = |got: &[(u64, bool, Vec<u8>)]| {
        let have: Vec<u32> = got.iter().filter_map(|g| Some(u32::from_be_bytes(*g.2.first_chunk()?))).collect();
        middle.clone().all(|i| have.contains(&i))
    };
    while !done(&got.borrow()) {
        if link.now >= end {
            let g = got.borrow();
            let mut seqs: Vec<u64> = g.iter().map(|g| g.0).collect();
            seqs.sort_unstable();
            seqs.dedup();
            let s = sessions.borrow();
            panic!(
                "not every frame arrived: {} unique of {frames} (sequence numbers {:?} .. {:?}), {} repaired, sent {sent}\na {:?}\nb {:?}\npc a {:?}\npc b {:?}",
                seqs.len(),
                seqs.first(),
                seqs.last(),
                g.iter().filter(|g| g.1).count(),
                s.0.stats(),
                s.1.stats(),
                link.a.stats(),
                link.b.stats()
            );
        }
        let now = link.now;
        while sent < frames && start + Duration::from_millis(20 * u64::from(sent)) <= now {
            let payload = frame(sent);
            sessions
                .borrow_mut()
                .0
                .send_rtp(now, &OutgoingRtp::new(ssrc, 96, sent * 3000, &payload), &mut out)
                .unwrap();
            link.a.write_rtp_raw(now, "0", &out).unwrap();
            sent += 1;
        }
        let mut s = sessions.borrow_mut();
        let (sa, sb) = &mut *s;
        for (session, pc) in [(sa, &mut link.a), (sb, &mut link.b)] {
            if session.poll_timeout().is_some_and(|t| t <= now) {
                session.handle_timeout(now);
            }
            flush(session, pc, now);
        }
        // Sleep until the loop's next wake-up, unless a session deadline or the next frame comes first.
        let next_frame = (sent < frames).then(|| start + Duration::from_millis(20 * u64::from(sent)));
        let other = [s.0.poll_timeout(), s.1.poll_timeout(), next_frame].into_iter().flatten().min();
        drop(s);
        match (other, link.next_wake()) {
            (Some(t), wake) if t > now && wake.is_none_or(|w| w > t) => link.now = t,
            _ => assert!(link.turn(&mut app)),
        }
    }
    let got = got.borrow();
    // Each frame arrived once (an RTX answering a NACK for a packet that was only late is dropped by the
    // session), in sequence order.
    let mut by_seq: Vec<&(u64, bool, Vec<u8>)> = got.iter().collect();
    by_seq.sort_by_key(|g| g.0);
    assert!(by_seq.windows(2).all(|w| w[0].0 < w[1].0), "no frame twice");
    for w in by_seq.windows(2) {
        let (i, j) = (frame_index(&w[0].2), frame_index(&w[1].2));
        assert_eq!(j - i, (w[1].0 - w[0].0) as u32, "sequence numbers follow the frames");
    }
    let repaired = got.iter().filter(|g| g.1).count();
    println!("{frames} frames over 5 % loss: {repaired} repaired by RTX, {} datagrams lost", link.lost);
    assert!(repaired > 0 && link.lost > 0, "the link lost something and RTX repaired it");
    let stats = sessions.borrow().1.stats();
    assert!(stats.rtp_received >= middle.len() as u64, "{stats:?}");
    assert_eq!(link.a.stats().media_dropped + link.b.stats().media_dropped, 0);
}
