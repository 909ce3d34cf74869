//! Simulcast between two sansrtc peer connections driven by the README loop (`support/readme_loop.rs`),
//! over a link with 10 ms of delay that loses 5 % of what the sender sends: three VP8 encodings with rids
//! `q`, `h` and `f` offered with `a=simulcast:send` and received with `a=simulcast:recv`; each layer
//! arrives on its own SSRC, bound to its rid, and its losses are repaired by its retransmissions (RTX on
//! an SSRC no `a=ssrc-group` announced, bound to the layer by the repaired-rid extension);
//! a layer turned off with `set_encoding_active` sends nothing (frames refused with
//! `Error::EncodingInactive`), leaves the RTP session with a BYE and gets no more sender reports; turned
//! on again it asks the application for a key frame and resumes with the next sequence number.

extern crate alloc;

use alloc::collections::BTreeMap;
use core::cell::RefCell;
use core::time::Duration;

use sansrtc::pc::{
    Config, ConnectionState, Direction, Error, Event, FrameAssembler, KeyframeRequestKind, MediaKind, OutgoingFrame,
    PeerConnection, RtcStats, SendEncoding, TransceiverId, TransceiverInit,
};
use sansrtc::rtcp::{Compound, RtcpPacket};
use sansrtc::{Instant, Machine, SeededRng};

#[path = "support/readme_loop.rs"]
mod readme_loop;
use readme_loop::{Link, Side};

const RIDS: [&str; 3] = ["q", "h", "f"];
/// A frame every 33 ms.
const FRAME: Duration = Duration::from_millis(33);

fn pc(seed: u8) -> PeerConnection {
    PeerConnection::new(Config::default(), SeededRng::from_seed([seed; 32]))
}

/// What B's application saw, and the key-frame requests A's got.
#[derive(Default)]
struct Seen {
    /// Per rid (from the packet event): (SSRC, extended sequence number, repaired) of every packet.
    packets: BTreeMap<String, Vec<(u32, u64, bool)>>,
    /// Retransmissions handed up as they came (not restored).
    unrestored: usize,
    /// Frames B assembled per SSRC: (RTP timestamp, size).
    frames: BTreeMap<u32, Vec<(u32, usize)>>,
    /// SSRCs named in an RTCP BYE that reached B.
    byes: Vec<u32>,
    /// The sequence number (16 bits) of the first packet A sent on each rid, and the packets it sent.
    sent: BTreeMap<String, (u16, usize)>,
    /// (rid, kind) of each key-frame request A's application got.
    keyframe_requests: Vec<(Option<String>, KeyframeRequestKind)>,
}

/// A simulcast sender A and a receiver B, connected.
fn connected() -> (Link, TransceiverId) {
    connected_with(|answer| answer)
}

/// As [`connected`], with B's answer changed by `munge` before A applies it.
fn connected_with(munge: impl Fn(String) -> String) -> (Link, TransceiverId) {
    let mut link = Link::new(pc(31), pc(32), Duration::from_millis(10), 0.0, 31);
    let now = link.now;
    link.a.add_local_host(now, readme_loop::A.parse().unwrap()).unwrap();
    link.b.add_local_host(now, readme_loop::B.parse().unwrap()).unwrap();
    link.a.end_of_local_candidates(now);
    link.b.end_of_local_candidates(now);
    let init = TransceiverInit {
        direction: Direction::SendOnly,
        send_encodings: RIDS.iter().map(|r| SendEncoding { rid: Some(r.to_string()) }).collect(),
        ..TransceiverInit::default()
    };
    let video = link.a.add_transceiver(now, MediaKind::Video, init).unwrap();
    let offer = link.a.create_offer().unwrap();
    assert!(offer.sdp.contains("a=simulcast:send q;h;f\r\n"), "{}", offer.sdp);
    link.a.set_local_description(now, &offer).unwrap();
    link.b.set_remote_description(now, &offer).unwrap();
    let answer = link.b.create_answer().unwrap();
    assert!(answer.sdp.contains("a=simulcast:recv q;h;f\r\n"), "{}", answer.sdp);
    link.b.set_local_description(now, &answer).unwrap();
    let answer = sansrtc::pc::Description::answer(munge(answer.sdp));
    link.a.set_remote_description(now, &answer).unwrap();
    (link, video)
}

/// Runs the loop for `d` of virtual time, B's packets and frames and A's key-frame requests recorded.
fn run_for(link: &mut Link, seen: &RefCell<Seen>, assembler: &mut FrameAssembler, d: Duration) {
    let end = link.now + d;
    let mut app = |side: Side, _pc: &mut PeerConnection, _now: Instant, e: Event| {
        let mut seen = seen.borrow_mut();
        match (side, e) {
            (_, Event::ConnectionState(s @ (ConnectionState::Failed | ConnectionState::Closed))) => {
                panic!("{side:?} {s:?}")
            }
            (Side::B, Event::Rtp(p)) => {
                let rid = p.rid.as_deref().unwrap_or("-").to_string();
                if p.rtx {
                    seen.unrestored += 1;
                    return;
                }
                seen.packets.entry(rid).or_default().push((p.ssrc, p.sequence_number, p.repaired));
                if let Some(f) = assembler.push(&p) {
                    seen.frames.entry(f.ssrc).or_default().push((f.timestamp, f.data.len()));
                }
            }
            (Side::B, Event::Rtcp(bytes)) => {
                for p in Compound::new(&bytes[..]).flatten() {
                    if let RtcpPacket::Bye(bye) = p {
                        seen.byes.extend(bye.ssrcs());
                    }
                }
            }
            (Side::A, Event::KeyframeRequest { rid, kind, .. }) => {
                seen.keyframe_requests.push((rid.map(|r| r.to_string()), kind));
            }
            _ => {}
        }
    };
    link.run(d, &mut app, |l| l.now >= end);
    link.now = link.now.max(end);
}

/// A's events now, as the application drains them after an API call.
fn drain_a(link: &mut Link, seen: &RefCell<Seen>) {
    while let Some(e) = link.a.poll_event() {
        if let Event::KeyframeRequest { rid, kind, .. } = e {
            seen.borrow_mut().keyframe_requests.push((rid.map(|r| r.to_string()), kind));
        }
    }
}

/// A VP8 frame of `len` bytes (the first byte a key frame's payload header when `key`).
fn vp8(seq: u32, len: usize, key: bool) -> Vec<u8> {
    let mut f: Vec<u8> =
        (0..len).map(|k| (k as u32).wrapping_mul(2_654_435_761).wrapping_add(seq).to_le_bytes()[2]).collect();
    f[0] = if key { 0x10 } else { 0x11 };
    f
}

/// Sends `frames` frames on each rid of `rids`, a frame period apart, with the loop run in between.
/// Layer sizes grow with the layer, as a real encoder's do: 1, 3 and 7 packets.
fn send_frames(
    link: &mut Link,
    seen: &RefCell<Seen>,
    asm: &mut FrameAssembler,
    rids: &[&str],
    frames: u32,
    ts: &mut u32,
) {
    for i in 0..frames {
        for rid in rids {
            let len = match *rid {
                "q" => 800,
                "h" => 2_500,
                _ => 8_000,
            };
            let data = vp8(*ts, len, i == 0);
            let frame = OutgoingFrame { rid: Some(rid), ..OutgoingFrame::new(*ts, &data) };
            let sent = link.a.write_frame(link.now, "0", &frame).unwrap_or_else(|e| panic!("frame on {rid}: {e}"));
            let mut seen = seen.borrow_mut();
            let entry = seen.sent.entry(rid.to_string()).or_insert((sent.first_sequence_number, 0));
            entry.1 += sent.packets;
        }
        *ts = ts.wrapping_add(2_970);
        run_for(link, seen, asm, FRAME);
    }
}

fn outbound(pc: &PeerConnection, rid: &str) -> sansrtc::pc::OutboundRtpStats {
    pc.stats_report(Instant::ZERO)
        .iter()
        .find_map(|e| match e {
            RtcStats::OutboundRtp(o) if o.rid.as_deref() == Some(rid) => Some(o.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no outbound-rtp for {rid}"))
}

fn inbound_rids(pc: &PeerConnection) -> BTreeMap<u32, (Option<String>, u64)> {
    pc.stats_report(Instant::ZERO)
        .iter()
        .filter_map(|e| match e {
            RtcStats::InboundRtp(i) => Some((i.ssrc, (i.rid.clone(), i.packets_received))),
            _ => None,
        })
        .collect()
}

#[test]
fn three_layers_arrive_routed_by_rid_and_turn_off_and_on() {
    let (mut link, video) = connected();
    let seen = RefCell::new(Seen::default());
    let codecs = link.b.transceiver_by_mid("0").unwrap().codecs().to_vec();
    let mut asm = FrameAssembler::new(&codecs);
    let ok = link.run(Duration::from_secs(5), &mut |_, _, _, _| {}, |l| {
        l.a.srtp_profile().is_some() && l.b.srtp_profile().is_some()
    });
    assert!(ok, "connected");
    let ssrcs: Vec<(String, u32, u32)> =
        link.a.transceiver(video).unwrap().ssrcs().map(|(rid, s, rtx)| (rid.unwrap().to_string(), s, rtx)).collect();
    let ssrc_of: BTreeMap<String, u32> = ssrcs.iter().map(|(r, s, _)| (r.clone(), *s)).collect();
    assert_eq!(ssrc_of.len(), 3);

    // 1. All three layers, 5 % of A's datagrams lost.
    link.loss_ppm = 50_000;
    link.loss_from = Some(Side::A);
    let mut ts = 90_000u32;
    send_frames(&mut link, &seen, &mut asm, &RIDS, 60, &mut ts);
    link.loss_ppm = 0;
    run_for(&mut link, &seen, &mut asm, Duration::from_millis(500));
    {
        let seen = seen.borrow();
        for rid in RIDS {
            let packets = &seen.packets[rid];
            // Each layer on its own SSRC, the one A's encoding has, bound to its rid; repairs restored
            // onto it (a repair bound to another layer would show that layer's SSRC).
            assert!(packets.iter().all(|p| p.0 == ssrc_of[rid]), "{rid}: {packets:?}");
            let repaired = packets.iter().filter(|p| p.2).count();
            println!("layer {rid}: {} packets ({repaired} repaired by RTX)", packets.len());
        }
        assert_eq!(seen.unrestored, 0, "every retransmission bound to its layer and restored");
        let repaired: usize = RIDS.iter().map(|r| seen.packets[*r].iter().filter(|p| p.2).count()).sum();
        assert!(repaired > 0 && link.lost > 0, "{repaired} repaired for {} lost", link.lost);
        // Every layer's packets came, first time or repaired (1, 3 and 7 packets a frame), but those lost
        // before the first or after the last that arrived: no receiver can see those gaps.
        for (rid, per_frame) in [("q", 1), ("h", 3), ("f", 7)] {
            let mut seqs: Vec<u64> = seen.packets[rid].iter().map(|p| p.1).collect();
            seqs.sort_unstable();
            seqs.dedup();
            let (first_sent, sent) = seen.sent[rid];
            assert_eq!(sent, 60 * per_frame, "{rid}");
            let (first, last) = (seqs[0] as u16, *seqs.last().unwrap() as u16);
            let before = usize::from(first.wrapping_sub(first_sent));
            let after = usize::from(first_sent.wrapping_add(sent as u16 - 1).wrapping_sub(last));
            assert!(before <= 2 && after <= 2, "{rid}: {before} lost before the first, {after} after the last");
            assert_eq!(seqs.last().unwrap() - seqs[0] + 1, seqs.len() as u64, "{rid}: contiguous: {seqs:?}");
            assert_eq!(before + seqs.len() + after, sent, "{rid}");
        }
        // The session knows each layer's RTX SSRC now: bound by the repaired rid.
        let session = link.b.rtp_session().unwrap();
        for rid in RIDS {
            let stats = session.receive_stats(ssrc_of[rid]).unwrap();
            assert_eq!(stats.rtx_packets > 0, seen.packets[rid].iter().any(|p| p.2), "{rid}: {stats:?}");
        }
        // The frames of each layer came back whole with the layer's size (those that lost a packet
        // still missing when it came are dropped by the assembler, which does not reorder).
        for (rid, len) in [("q", 800), ("h", 2_500), ("f", 8_000)] {
            let frames = seen.frames.get(&ssrc_of[rid]).map_or(&[][..], |f| &f[..]);
            assert!(frames.len() >= 30 && frames.iter().all(|f| f.1 == len), "{rid}: {frames:?}");
        }
    }
    // The statistics bind each SSRC to its rid on both sides.
    let inbound = inbound_rids(&link.b);
    for rid in RIDS {
        assert_eq!(inbound[&ssrc_of[rid]].0.as_deref(), Some(rid), "{inbound:?}");
        let o = outbound(&link.a, rid);
        assert!(o.active && o.ssrc == ssrc_of[rid] && o.packets_sent >= 60, "{o:?}");
    }

    // 2. `h` turned off: frames for it are refused, its stream says BYE and gets no more reports.
    let h = ssrc_of["h"];
    let before = outbound(&link.a, "h");
    let h_packets = seen.borrow().packets["h"].len();
    let last_h = seen.borrow().packets["h"].iter().map(|p| p.1).max().unwrap();
    let sr_before = link.b.rtp_session().unwrap().receive_stats(h).unwrap().sender_reports;
    link.a.set_encoding_active(link.now, video, Some("h"), false).unwrap();
    assert_eq!(link.a.transceiver(video).unwrap().encoding_active(Some("h")), Some(false));
    assert!(!link.a.rtp_session().unwrap().send_ssrcs().any(|s| s == h));
    let data = vp8(0, 100, true);
    let frame = OutgoingFrame { rid: Some("h"), ..OutgoingFrame::new(ts, &data) };
    assert_eq!(link.a.write_frame(link.now, "0", &frame), Err(Error::EncodingInactive));
    send_frames(&mut link, &seen, &mut asm, &["q", "f"], 180, &mut ts);
    {
        let seen = seen.borrow();
        assert_eq!(seen.packets["h"].len(), h_packets, "nothing on h while it is off");
        assert!(seen.byes.contains(&h), "a BYE for h: {:?}", seen.byes);
        assert!(!seen.byes.contains(&ssrc_of["q"]) && !seen.byes.contains(&ssrc_of["f"]));
    }
    let stats = link.b.rtp_session().unwrap();
    let sr_after = stats.receive_stats(h).unwrap().sender_reports;
    assert_eq!(sr_after, sr_before, "no sender report for h in 6 s off");
    assert!(stats.receive_stats(ssrc_of["q"]).unwrap().sender_reports > sr_before, "q still reported");
    let off = outbound(&link.a, "h");
    assert!(!off.active, "{off:?}");
    assert_eq!((off.packets_sent, off.bytes_sent), (before.packets_sent, before.bytes_sent), "{off:?}");
    let activations = |seen: &RefCell<Seen>| -> Vec<Option<String>> {
        let seen = seen.borrow();
        let kinds = seen.keyframe_requests.iter().filter(|(_, k)| *k == KeyframeRequestKind::EncodingActivated);
        kinds.map(|(rid, _)| rid.clone()).collect()
    };
    assert!(activations(&seen).is_empty());

    // 3. `h` on again: the application is asked for a key frame on it, and its sequence numbers go on.
    link.a.set_encoding_active(link.now, video, Some("h"), true).unwrap();
    drain_a(&mut link, &seen);
    assert_eq!(activations(&seen), [Some("h".to_string())], "one request, for h");
    send_frames(&mut link, &seen, &mut asm, &RIDS, 30, &mut ts);
    run_for(&mut link, &seen, &mut asm, Duration::from_millis(500));
    {
        let seen = seen.borrow();
        let resumed: Vec<u64> = seen.packets["h"][h_packets..].iter().map(|p| p.1).collect();
        assert_eq!(resumed.len(), 30 * 3);
        assert_eq!(*resumed.iter().min().unwrap(), last_h + 1, "continuous sequence numbers");
        assert!(seen.packets["h"][h_packets..].iter().all(|p| p.0 == h), "the same SSRC");
    }
    let on = outbound(&link.a, "h");
    assert!(on.active && on.packets_sent == before.packets_sent + 90, "{before:?}\n{on:?}");

    // Refusals and no-ops.
    let now = link.now;
    assert_eq!(link.a.set_encoding_active(now, video, Some("x"), false), Err(Error::InvalidParameter));
    assert_eq!(link.a.set_encoding_active(now, TransceiverId(99), None, false), Err(Error::NoSuchTransceiver));
    link.a.set_encoding_active(now, video, None, true).unwrap();
    drain_a(&mut link, &seen);
    assert_eq!(activations(&seen).len(), 1, "turning an active encoding on does nothing");
}

/// An answer accepting two of the three layers (`a=simulcast:recv q;f`) lets A send those two, with
/// their rids; one accepting none (no `a=simulcast`, no `a=rid`: Chromium's answer to a simulcast offer)
/// lets A send the first encoding alone, without a rid (RFC 8853 §5.3). Frames for a layer not accepted
/// are refused with `Error::InvalidParameter`, and nothing goes out on its SSRC.
#[test]
fn the_answer_decides_which_layers_are_sent() {
    let two =
        |sdp: String| sdp.replace("a=rid:h recv\r\n", "").replace("a=simulcast:recv q;h;f", "a=simulcast:recv q;f");
    let none = |sdp: String| {
        sdp.lines()
            .filter(|l| !l.starts_with("a=rid:") && !l.starts_with("a=simulcast:"))
            .map(|l| format!("{l}\r\n"))
            .collect()
    };
    for (name, munge, sent, rids) in [
        ("two", &two as &dyn Fn(String) -> String, &["q", "f"][..], &[Some("q"), Some("f")][..]),
        ("none", &none, &["q"][..], &[None][..]),
    ] {
        let (mut link, video) = connected_with(munge);
        let seen = RefCell::new(Seen::default());
        let codecs = link.b.transceiver_by_mid("0").unwrap().codecs().to_vec();
        let mut asm = FrameAssembler::new(&codecs);
        let ok = link.run(Duration::from_secs(5), &mut |_, _, _, _| {}, |l| {
            l.a.srtp_profile().is_some() && l.b.srtp_profile().is_some()
        });
        assert!(ok, "{name}: connected");
        let t = link.a.transceiver(video).unwrap();
        let negotiated: Vec<&str> =
            RIDS.iter().copied().filter(|r| t.encoding_negotiated(Some(r)) == Some(true)).collect();
        assert_eq!(negotiated, sent, "{name}");
        let ssrc_of: BTreeMap<String, u32> = t.ssrcs().map(|(rid, ssrc, _)| (rid.unwrap().to_string(), ssrc)).collect();
        let mut ts = 0;
        send_frames(&mut link, &seen, &mut asm, sent, 10, &mut ts);
        for rid in RIDS.iter().filter(|r| !sent.contains(r)) {
            let data = vp8(0, 100, true);
            let frame = OutgoingFrame { rid: Some(rid), ..OutgoingFrame::new(ts, &data) };
            assert_eq!(link.a.write_frame(link.now, "0", &frame), Err(Error::InvalidParameter), "{name}: {rid}");
        }
        run_for(&mut link, &seen, &mut asm, Duration::from_millis(200));
        let seen = seen.borrow();
        // B got each accepted layer on its SSRC, with its rid when simulcast was negotiated.
        let got: Vec<Option<&str>> = seen.packets.keys().map(|k| (k != "-").then_some(k.as_str())).collect();
        let mut want = rids.to_vec();
        want.sort();
        assert_eq!(got, want, "{name}");
        for rid in sent {
            let key = if rids == [None] { "-" } else { rid };
            assert!(seen.packets[key].iter().all(|p| p.0 == ssrc_of[*rid]), "{name}: {rid}");
            assert_eq!(seen.packets[key].len(), seen.sent[*rid].1, "{name}: {rid}");
        }
        let session = link.a.rtp_session().unwrap();
        let streams: Vec<u32> = session.send_ssrcs().collect();
        assert_eq!(streams.len(), sent.len(), "{name}: send streams {streams:?}");
    }
}
