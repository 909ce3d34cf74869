//! The peer connection's own RTP session (`rtp::session`, driven by the connection) over a link that loses
//! 5 % of datagrams, driven by the README loop: the application sends video with `write_rtp` and takes
//! `Event::Rtp`; NACKs, RTX and reports are the connection's business. Every frame in the middle of the
//! stream arrives intact, once, repaired where it was lost.

use core::cell::RefCell;
use core::time::Duration;

use sansrtc::pc::{Config, ConnectionState, Event, MediaKind, OutgoingRtp, PeerConnection, TransceiverInit};
use sansrtc::{Instant, SeededRng};

#[path = "support/readme_loop.rs"]
mod readme_loop;
use readme_loop::{Link, Side};

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

#[test]
fn nack_and_rtx_of_the_peer_connection_repair_a_lossy_link() {
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
    let t = link.a.transceiver(video).unwrap();
    let codec = &t.codecs()[0];
    assert_eq!((codec.payload_type, codec.rtx_payload_type), (96, Some(97)));
    let (_, ssrc, rtx) = t.ssrcs().next().unwrap();
    assert_eq!(link.b.transceiver_by_mid("0").unwrap().remote_ssrcs(), [(ssrc, Some(rtx))]);

    let got = RefCell::new(Vec::<(u64, bool, Vec<u8>)>::new());
    let mut app = |side: Side, _: &mut PeerConnection, _: Instant, e: Event| match e {
        Event::Rtp(p) if side == Side::B => {
            assert_eq!((p.ssrc, p.payload_type, p.rtx), (ssrc, 96, false), "RTX arrives restored");
            got.borrow_mut().push((p.sequence_number, p.repaired, p.payload().to_vec()));
        }
        Event::ConnectionState(s @ (ConnectionState::Failed | ConnectionState::Closed)) => panic!("{side:?} {s:?}"),
        _ => {}
    };
    let connected = |l: &Link| {
        l.a.connection_state() == ConnectionState::Connected && l.b.connection_state() == ConnectionState::Connected
    };
    assert!(link.run(Duration::from_secs(30), &mut app, connected));

    // 160 frames, one every 20 ms. NACK cannot repair a loss at the very start or end of a stream (no
    // packet on the other side of the gap), so the 150 in the middle must all arrive.
    let start = link.now;
    let frames = 160u32;
    let middle = 5..155u32;
    let mut sent = 0u32;
    let end = start + Duration::from_secs(8);
    let done = |got: &[(u64, bool, Vec<u8>)]| {
        let have: Vec<u32> = got.iter().filter_map(|g| Some(u32::from_be_bytes(*g.2.first_chunk()?))).collect();
        middle.clone().all(|i| have.contains(&i))
    };
    while !done(&got.borrow()) {
        assert!(link.now < end, "not every frame arrived: {:?}\n{:?}", link.a.media_stats(), link.b.media_stats());
        let now = link.now;
        while sent < frames && start + Duration::from_millis(20 * u64::from(sent)) <= now {
            let payload = frame(sent);
            link.a.write_rtp(now, "0", &OutgoingRtp::new(96, sent * 3000, &payload)).unwrap();
            sent += 1;
        }
        let next_frame = (sent < frames).then(|| start + Duration::from_millis(20 * u64::from(sent)));
        match (next_frame, link.next_wake()) {
            (Some(t), wake) if t > now && wake.is_none_or(|w| w > t) => link.now = t,
            _ => assert!(link.turn(&mut app)),
        }
    }
    let got = got.borrow();
    // Each frame arrived once, in sequence order.
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
    let a = link.a.media_stats().unwrap();
    let b = link.b.media_stats().unwrap();
    assert!(b.nacks_sent > 0 && a.rtx_sent as usize >= repaired, "{a:?}\n{b:?}");
    assert_eq!(b.rtx_received, repaired as u64 + b.rtx_spurious + b.rtx_duplicates, "{b:?}");
    assert_eq!(link.a.stats().media_dropped + link.b.stats().media_dropped, 0);
}
