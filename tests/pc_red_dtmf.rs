//! Audio loss protection and DTMF between two sansrtc peer connections driven by the README loop
//! (`support/readme_loop.rs`, which also checks that `poll_timeout` announces every datagram owed):
//! - RED (RFC 2198): negotiated as `red/48000/2` with `a=fmtp:63 111/111`; the sender wraps each Opus
//!   packet with the two before it (`Config::red_distance`); packets lost on the link come out of the
//!   receiver anyway, recovered from the next packets' redundancy, each packet exactly once, with its
//!   payload, timestamp and sequence number; a loss longer than the redundancy stays lost.
//! - DTMF (RFC 4733): `insert_dtmf` on one side, `Event::Dtmf` once per digit on the other, with the
//!   duration asked for, over a clean link and over one that loses 20 % of what the sender sends;
//!   `Event::DtmfToneChange` follows the W3C `tonechange` sequence.

use core::cell::RefCell;
use core::time::Duration;

use sansrtc::pc::{Codec, Config, ConnectionState, Event, MediaKind, OutgoingRtp, PeerConnection, Track};
use sansrtc::{Instant, PathMachine, SeededRng};

#[path = "support/readme_loop.rs"]
mod readme_loop;
use readme_loop::{Link, Side};

fn link(seed: u8, a: Config, b: Config) -> Link {
    let a = PeerConnection::new(a, SeededRng::from_seed([seed; 32]));
    let b = PeerConnection::new(b, SeededRng::from_seed([seed ^ 0x5a; 32]));
    let mut link = Link::new(a, b, Duration::from_millis(10), 0.0, u64::from(seed));
    let now = link.now;
    link.a.add_local_host(now, readme_loop::A.parse().unwrap()).unwrap();
    link.b.add_local_host(now, readme_loop::B.parse().unwrap()).unwrap();
    link.a.end_of_local_candidates(now);
    link.b.end_of_local_candidates(now);
    link
}

/// A sends audio to B (both with a microphone), A offers; returns the answer.
fn negotiate(link: &mut Link) -> String {
    let now = link.now;
    link.a.add_track(now, Track::new(MediaKind::Audio, "a-mic"), &["a"]).unwrap();
    link.b.add_track(now, Track::new(MediaKind::Audio, "b-mic"), &["b"]).unwrap();
    let offer = link.a.create_offer().unwrap();
    link.a.set_local_description(now, &offer).unwrap();
    link.b.set_remote_description(now, &offer).unwrap();
    let answer = link.b.create_answer().unwrap();
    link.b.set_local_description(now, &answer).unwrap();
    link.a.set_remote_description(now, &answer).unwrap();
    answer.sdp
}

fn connected(l: &Link) -> bool {
    l.a.connection_state() == ConnectionState::Connected && l.b.connection_state() == ConnectionState::Connected
}

/// Every event, by side.
type Seen = RefCell<Vec<(Side, Instant, Event)>>;

fn run(link: &mut Link, seen: &Seen, limit: Duration, done: impl Fn(&[(Side, Instant, Event)], &Link) -> bool) {
    let mut app = |side: Side, _pc: &mut PeerConnection, now: Instant, e: Event| {
        if let Event::ConnectionState(s @ (ConnectionState::Failed | ConnectionState::Closed)) = e {
            panic!("{side:?} {s:?}");
        }
        seen.borrow_mut().push((side, now, e));
    };
    let ok = link.run(limit, &mut app, |l| done(&seen.borrow(), l));
    assert!(ok, "not done after {limit:?}");
}

/// Runs the loop for `d` of virtual time (or until nothing is left to wait for).
fn settle(link: &mut Link, seen: &Seen, d: Duration) {
    let mut app = |side: Side, _pc: &mut PeerConnection, now: Instant, e: Event| seen.borrow_mut().push((side, now, e));
    link.run(d, &mut app, |_| false);
}

/// An Opus packet (TOC 0x78: 20 ms, one frame) whose bytes say which it is.
fn opus(i: u32) -> Vec<u8> {
    let mut p = vec![0x78];
    p.extend_from_slice(&i.to_be_bytes());
    p.extend((0..40 + i % 13).map(|k| (k * 7 + i) as u8));
    p
}

#[test]
fn red_recovers_lost_opus_packets_once() {
    // Unpaced, so that what A has to send right after a write is that packet (the test drops it there).
    let sender = Config { red_distance: 2, pacer: None, ..Config::default() };
    let mut link = link(7, sender, Config::default());
    let answer = negotiate(&mut link);
    assert!(answer.contains("a=rtpmap:63 red/48000/2\r\n") && answer.contains("a=fmtp:63 111/111\r\n"), "{answer}");
    let seen = Seen::default();
    run(&mut link, &seen, Duration::from_secs(10), |_, l| connected(l));

    // 60 packets, 20 ms apart; 5, 12 and 13 are lost (recoverable with two redundant blocks), and 30, 31,
    // 32 (30 is not: the first packet after it, 33, carries 31 and 32 only).
    let lost = [5u32, 12, 13, 30, 31, 32];
    let mut first_seq = None;
    for i in 0..60u32 {
        let now = link.now;
        let sent = link.a.write_rtp(now, "0", &OutgoingRtp::new(111, 4_000 + i * 960, &opus(i))).unwrap();
        first_seq.get_or_insert(sent.sequence_number);
        if lost.contains(&i) {
            // Lost on the way: everything A has to send now.
            while link.a.poll_transmit().is_some() {}
        }
        settle(&mut link, &seen, Duration::from_millis(20));
    }
    settle(&mut link, &seen, Duration::from_millis(200));

    let got: Vec<(u32, u16, bool, Vec<u8>, u8)> = seen
        .borrow()
        .iter()
        .filter_map(|(side, _, e)| match e {
            Event::Rtp(p) if *side == Side::B => {
                Some((p.timestamp, p.sequence_number as u16, p.recovered, p.payload().to_vec(), p.as_bytes()[1] & 0x7f))
            }
            _ => None,
        })
        .collect();
    let first_seq = first_seq.unwrap();
    let expected: Vec<u32> = (0..60).filter(|i| *i != 30).collect();
    let indices: Vec<u32> = got.iter().map(|g| (g.0 - 4_000) / 960).collect();
    assert_eq!(indices, expected, "each packet once, in order, 30 alone missing");
    for (ts, seq, recovered, payload, wire_pt) in &got {
        let i = (ts - 4_000) / 960;
        assert_eq!(payload, &opus(i), "packet {i}");
        assert_eq!(*seq, first_seq.wrapping_add(i as u16), "packet {i}'s sequence number");
        assert_eq!(*recovered, lost.contains(&i), "packet {i}");
        assert_eq!(*wire_pt, 63, "every packet travelled as RED");
    }
    // The payload type the application sees is Opus's.
    assert!(seen.borrow().iter().all(|(_, _, e)| !matches!(e, Event::Rtp(p) if p.payload_type != 111)));
    println!("{} packets delivered, {} recovered from redundancy", got.len(), got.iter().filter(|g| g.2).count());
}

#[test]
fn red_is_answered_only_for_opus_and_sent_only_when_asked() {
    // Without red_distance the same negotiation sends plain Opus, and received RED is still unwrapped.
    let mut link = link(8, Config::default(), Config::default());
    negotiate(&mut link);
    let seen = Seen::default();
    run(&mut link, &seen, Duration::from_secs(10), |_, l| connected(l));
    let now = link.now;
    link.a.write_rtp(now, "0", &OutgoingRtp::new(111, 960, &opus(1))).unwrap();
    run(&mut link, &seen, Duration::from_secs(1), |s, _| {
        s.iter().any(|(side, _, e)| *side == Side::B && matches!(e, Event::Rtp(_)))
    });
    let wire = seen.borrow().iter().find_map(|(side, _, e)| match e {
        Event::Rtp(p) if *side == Side::B => Some((p.as_bytes()[1] & 0x7f, p.payload().to_vec())),
        _ => None,
    });
    assert_eq!(wire, Some((111, opus(1))));
    // RED whose blocks are not Opus is not negotiated: an offer of red for G.722 gets no red back.
    let mut b = PeerConnection::new(Config::default(), SeededRng::from_seed([9; 32]));
    let offer = link.a.create_offer().unwrap().sdp.replace("a=fmtp:63 111/111", "a=fmtp:63 9/9");
    b.set_remote_description(Instant::ZERO, &sansrtc::pc::Description::offer(offer)).unwrap();
    let answer = b.create_answer().unwrap().sdp;
    assert!(!answer.contains("red/48000"), "{answer}");
    assert!(answer.contains("opus/48000/2"));
    // With RED first in the codec preferences, the answer puts it first (a browser then sends RED).
    let mut c = PeerConnection::new(Config::default(), SeededRng::from_seed([10; 32]));
    let t = c.add_track(Instant::ZERO, Track::new(MediaKind::Audio, "m"), &["s"]).unwrap();
    c.set_codec_preferences(t, &[Codec::red(), Codec::opus()]).unwrap();
    let offer = link.a.create_offer().unwrap();
    c.set_remote_description(Instant::ZERO, &offer).unwrap();
    let answer = c.create_answer().unwrap().sdp;
    assert!(answer.contains("m=audio 9 UDP/TLS/RTP/SAVPF 63 111\r\n"), "{answer}");
}

/// The digits B reported: (tone, duration in RTP units, ended).
fn digits(seen: &Seen) -> Vec<(char, u32, bool)> {
    seen.borrow()
        .iter()
        .filter_map(|(side, _, e)| match e {
            Event::Dtmf { digit, .. } if *side == Side::B => Some((digit.tone().unwrap(), digit.duration, digit.ended)),
            _ => None,
        })
        .collect()
}

#[test]
fn dtmf_digits_round_trip() {
    let mut link = link(11, Config::default(), Config::default());
    let answer = negotiate(&mut link);
    assert!(answer.contains("a=rtpmap:110 telephone-event/48000\r\n") && answer.contains("a=fmtp:110 0-15\r\n"));
    let seen = Seen::default();
    run(&mut link, &seen, Duration::from_secs(10), |_, l| connected(l));
    // Some audio first, so that the events follow the audio clock.
    let now = link.now;
    link.a.write_rtp(now, "0", &OutgoingRtp::new(111, 77_000, &opus(0))).unwrap();
    let start = link.now;
    link.a.insert_dtmf(start, "0", "159#", Duration::from_millis(100), Duration::from_millis(70)).unwrap();
    assert_eq!(link.a.dtmf_tone_buffer("0"), "159#");
    run(&mut link, &seen, Duration::from_secs(5), |s, _| {
        s.iter().any(|(side, _, e)| *side == Side::A && matches!(e, Event::DtmfToneChange { tone: None, .. }))
            && s.iter().filter(|(side, _, e)| *side == Side::B && matches!(e, Event::Dtmf { .. })).count() == 4
    });
    // 100 ms at 48 kHz, each once, each ended.
    assert_eq!(digits(&seen), [('1', 4_800, true), ('5', 4_800, true), ('9', 4_800, true), ('#', 4_800, true)]);
    let changes: Vec<(Option<char>, u64)> = seen
        .borrow()
        .iter()
        .filter_map(|(side, at, e)| match e {
            Event::DtmfToneChange { tone, .. } if *side == Side::A => {
                Some((*tone, at.saturating_duration_since(start).as_millis() as u64))
            }
            _ => None,
        })
        .collect();
    assert_eq!(changes, [(Some('1'), 0), (Some('5'), 170), (Some('9'), 340), (Some('#'), 510), (None, 680)]);
    // The telephone events went on Opus's clock: the first began where the audio stood.
    let stamps: Vec<u32> = seen
        .borrow()
        .iter()
        .filter_map(|(side, _, e)| match e {
            Event::Dtmf { digit, .. } if *side == Side::B => Some(digit.timestamp),
            _ => None,
        })
        .collect();
    assert_eq!(stamps[0], 77_000);
    assert_eq!(stamps[1] - stamps[0], 170 * 48);
    // Refusals.
    assert!(link.a.insert_dtmf(link.now, "0", "12x", Duration::from_millis(100), Duration::from_millis(70)).is_err());
    assert!(link.a.insert_dtmf(link.now, "9", "1", Duration::from_millis(100), Duration::from_millis(70)).is_err());
}

#[test]
fn dtmf_digits_survive_a_lossy_link_once_each() {
    for seed in [21u8, 22, 23] {
        let mut link = link(seed, Config::default(), Config::default());
        negotiate(&mut link);
        let seen = Seen::default();
        run(&mut link, &seen, Duration::from_secs(10), |_, l| connected(l));
        link.loss_ppm = 200_000;
        link.loss_from = Some(Side::A);
        let now = link.now;
        link.a.insert_dtmf(now, "0", "2468", Duration::from_millis(200), Duration::from_millis(100)).unwrap();
        run(&mut link, &seen, Duration::from_secs(5), |s, _| {
            s.iter().any(|(side, _, e)| *side == Side::A && matches!(e, Event::DtmfToneChange { tone: None, .. }))
        });
        // Past the receiver's timeout.
        settle(&mut link, &seen, Duration::from_millis(500));
        let got = digits(&seen);
        let tones: String = got.iter().map(|d| d.0).collect();
        println!("seed {seed}: {got:?}, {} of {} datagrams lost", link.lost, link.sent);
        assert_eq!(tones, "2468", "each digit once (seed {seed})");
        assert!(got.iter().all(|d| d.1 > 0 && d.1 <= 9_600));
    }
}

#[test]
fn red_wraps_frames_written_with_write_frame() {
    // `write_frame` hands the packetized Opus payload over in one part; it travels as RED and comes out
    // as the same Opus packets.
    let sender = Config { red_distance: 1, ..Config::default() };
    let mut link = link(9, sender, Config::default());
    negotiate(&mut link);
    let seen = Seen::default();
    run(&mut link, &seen, Duration::from_secs(10), |_, l| connected(l));
    for i in 0..10u32 {
        let now = link.now;
        let frame = opus(i);
        link.a.write_frame(now, "0", &sansrtc::pc::OutgoingFrame::new(8_000 + i * 960, &frame)).unwrap();
        settle(&mut link, &seen, Duration::from_millis(20));
    }
    settle(&mut link, &seen, Duration::from_millis(200));
    let got: Vec<(u32, Vec<u8>, u8)> = seen
        .borrow()
        .iter()
        .filter_map(|(side, _, e)| match e {
            Event::Rtp(p) if *side == Side::B => Some((p.timestamp, p.payload().to_vec(), p.as_bytes()[1] & 0x7f)),
            _ => None,
        })
        .collect();
    assert_eq!(got.len(), 10, "{got:?}");
    for (ts, payload, wire_pt) in &got {
        let i = (ts - 8_000) / 960;
        assert_eq!(payload, &opus(i), "packet {i}");
        assert_eq!(*wire_pt, 63, "packet {i} travelled as RED");
    }
}
