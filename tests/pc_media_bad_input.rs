//! Hostile and broken media reaching a connected peer connection, properly SRTP-protected by the peer
//! (so it gets past SRTP to the routing and the RTP session) or tampered with on the wire: RTP and RTCP
//! with an unknown SSRC, payload type or MID; a NACK with 1,000 FCI entries; transport-wide feedback
//! claiming 65,535 packets; a sender report going back in time; SRTP replays and forgeries; RTX for a
//! sequence number never sent. Each is dropped and counted (the connection's `stats()` and the RTP
//! session's `media_stats()`), changes no stream's state, and a clean packet after it still flows.

use core::time::Duration;

use sansrtc::pc::{
    Config, ConnectionState, Event, ExtensionKind, MediaKind, OutgoingRtp, PeerConnection, RecvError, TransceiverInit,
};
use sansrtc::rtcp::{NackPair, SenderInfo, Writer, packet_type, rtpfb};
use sansrtc::rtp::Header;
use sansrtc::rtp::session::{ReceiveStats, SendStats};
use sansrtc::{Instant, Machine, PathMachine, SeededRng};

#[path = "support/readme_loop.rs"]
mod readme_loop;
use readme_loop::{Link, Side};

const AUDIO: &str = "0";
const VIDEO: &str = "1";

struct Setup {
    link: Link,
    video: u32,
    video_rtx: u32,
    audio: u32,
    mid_id: u8,
    frame: u32,
}

/// Two connected peers, `a` sending audio and video to `b` for a second (reports exchanged).
fn setup() -> Setup {
    let a = PeerConnection::new(Config::default(), SeededRng::from_seed([61; 32]));
    let b = PeerConnection::new(Config::default(), SeededRng::from_seed([62; 32]));
    let mut link = Link::new(a, b, Duration::from_millis(10), 0.0, 63);
    let now = link.now;
    link.a.add_local_host(now, readme_loop::A.parse().unwrap()).unwrap();
    link.b.add_local_host(now, readme_loop::B.parse().unwrap()).unwrap();
    link.a.end_of_local_candidates(now);
    link.b.end_of_local_candidates(now);
    link.a.add_transceiver(now, MediaKind::Audio, TransceiverInit::default()).unwrap();
    link.a.add_transceiver(now, MediaKind::Video, TransceiverInit::default()).unwrap();
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
    let t = link.a.transceiver_by_mid(VIDEO).unwrap();
    let (_, video, video_rtx) = t.ssrcs().next().unwrap();
    let mid_id = t.header_extensions().iter().find(|e| e.kind == ExtensionKind::Mid).unwrap().id;
    let audio = link.a.transceiver_by_mid(AUDIO).unwrap().ssrcs().next().unwrap().1;
    let mut s = Setup { link, video, video_rtx, audio, mid_id, frame: 0 };
    for _ in 0..50 {
        s.send_frame();
        let until = s.link.now + Duration::from_millis(20);
        advance(&mut s.link, until);
    }
    let until = s.link.now + Duration::from_millis(1500);
    advance(&mut s.link, until);
    let sb = s.link.b.rtp_session().unwrap();
    assert!(sb.receive_stats(s.video).unwrap().last_sender_report.is_some(), "a sender report arrived");
    s
}

/// Runs the README loop until `until` (events are dropped).
fn advance(link: &mut Link, until: Instant) {
    while link.next_wake().is_some_and(|w| w <= until) {
        assert!(link.turn(&mut |_, _, _, e| {
            if let Event::ConnectionState(s @ (ConnectionState::Failed | ConnectionState::Closed)) = e {
                panic!("{s:?}")
            }
        }));
    }
    link.now = until;
}

/// Takes what `pc` would send now, without the link.
fn take(pc: &mut PeerConnection) -> Vec<Vec<u8>> {
    core::iter::from_fn(|| pc.poll_transmit().map(|t| t.contents.to_vec())).collect()
}

/// Everything a dropped packet must leave as it was at the receiver `b` and the sender `a`.
#[derive(Debug, PartialEq)]
struct Snapshot {
    b_video: Option<ReceiveStats>,
    b_audio: Option<ReceiveStats>,
    a_video: Option<SendStats>,
    rtt: (Option<Duration>, Option<Duration>),
}

impl Setup {
    fn snapshot(&self) -> Snapshot {
        let (a, b) = (self.link.a.rtp_session().unwrap(), self.link.b.rtp_session().unwrap());
        let mut a_video = a.send_stats(self.video);
        if let Some(s) = a_video.as_mut() {
            // NACKed sequence numbers are counted as asked, whatever happens to them.
            s.nack_requests = 0;
        }
        Snapshot {
            b_video: b.receive_stats(self.video),
            b_audio: b.receive_stats(self.audio),
            a_video,
            rtt: (a.rtt(), b.rtt()),
        }
    }

    fn send_frame(&mut self) {
        let now = self.link.now;
        let f = self.frame;
        self.link.a.write_rtp(now, AUDIO, &OutgoingRtp::new(111, f * 960, &[1; 100])).unwrap();
        self.link.a.write_rtp(now, VIDEO, &OutgoingRtp::new(96, f * 3000, &[2; 900])).unwrap();
        self.frame += 1;
    }

    /// Delivers `datagrams` to `to` at once; returns how each was taken.
    fn deliver(&mut self, to: Side, datagrams: &[Vec<u8>]) -> Vec<Result<(), RecvError>> {
        datagrams.iter().map(|d| self.link.inject(to, d)).collect()
    }

    /// `from` sends raw RTP on `mid` (protected by its SRTP), delivered at once to the other side.
    fn raw_rtp(&mut self, from: Side, mid: &str, packet: &[u8]) -> Vec<Result<(), RecvError>> {
        let now = self.link.now;
        self.link.pc(from).write_rtp_raw(now, mid, packet).unwrap();
        let d = take(self.link.pc(from));
        self.deliver(other(from), &d)
    }

    /// `from` sends a raw RTCP compound (protected by its SRTCP), delivered at once to the other side.
    fn raw_rtcp(&mut self, from: Side, packet: &[u8]) -> Vec<Result<(), RecvError>> {
        let now = self.link.now;
        self.link.pc(from).write_rtcp(now, packet).unwrap();
        let d = take(self.link.pc(from));
        self.deliver(other(from), &d)
    }

    /// A clean audio and video frame still arrives at `b`, with the next sequence numbers.
    fn clean_frame_flows(&mut self) {
        // A frame's time later (the pacer spaces a frame sent at the same instant as the last one).
        let until = self.link.now + Duration::from_millis(20);
        advance(&mut self.link, until);
        while self.link.b.poll_event().is_some() {}
        let before = self.link.b.rtp_session().unwrap().receive_stats(self.video).unwrap();
        self.send_frame();
        let d = take(&mut self.link.a);
        assert!(self.deliver(Side::B, &d).iter().all(Result::is_ok));
        let got: Vec<(String, u64)> = core::iter::from_fn(|| self.link.b.poll_event())
            .filter_map(|e| if let Event::Rtp(p) = e { Some((p.mid.to_string(), p.sequence_number)) } else { None })
            .collect();
        assert!(got.iter().any(|(m, s)| m == VIDEO && *s == before.highest_sequence + 1), "{got:?}");
        assert!(got.iter().any(|(m, _)| m == AUDIO), "{got:?}");
        let after = self.link.b.rtp_session().unwrap().receive_stats(self.video).unwrap();
        assert_eq!(after.packets, before.packets + 1);
    }
}

fn other(side: Side) -> Side {
    if side == Side::A { Side::B } else { Side::A }
}

fn rtp(ssrc: u32, pt: u8, seq: u16, mid: Option<(u8, &str)>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let h = Header { marker: false, payload_type: pt, sequence_number: seq, timestamp: 0, ssrc };
    let mut w = sansrtc::rtp::Writer::new(&mut out, &h, &[]).unwrap();
    if let Some((id, mid)) = mid {
        w.start_extensions(sansrtc::rtp::ExtensionForm::OneByte).unwrap();
        w.extension(id, mid.as_bytes()).unwrap();
    }
    w.finish(payload, 0).unwrap();
    out
}

/// RTX resending a packet that arrived (as Chromium probes the bandwidth): taken and counted, not handed
/// up as a second `Event::Rtp`.
#[test]
fn retransmissions_of_packets_received_are_not_handed_up_again() {
    let mut s = setup();
    s.clean_frame_flows();
    while s.link.b.poll_event().is_some() {}
    let before = (s.snapshot(), s.link.b.media_stats().unwrap());
    let high = before.0.b_video.unwrap().highest_sequence as u16;
    let mut body = high.to_be_bytes().to_vec();
    body.extend_from_slice(&[2; 900]);
    let r = s.raw_rtp(Side::A, VIDEO, &rtp(s.video_rtx, 97, 1001, None, &body));
    assert!(r.iter().all(Result::is_ok), "{r:?}");
    let events: Vec<Event> = core::iter::from_fn(|| s.link.b.poll_event()).collect();
    assert!(!events.iter().any(|e| matches!(e, Event::Rtp(_))), "{events:?}");
    let after = (s.snapshot(), s.link.b.media_stats().unwrap());
    assert_eq!(after.1.rtx_duplicates - before.1.rtx_duplicates, 1);
    assert_eq!(after.1.rtx_received - before.1.rtx_received, 1);
    let (v0, v1) = (before.0.b_video.unwrap(), after.0.b_video.unwrap());
    assert_eq!((v1.rtx_packets - v0.rtx_packets, v1.highest_sequence), (1, v0.highest_sequence));
    s.clean_frame_flows();
}

#[test]
fn hostile_media_is_dropped_counted_and_changes_nothing() {
    let mut s = setup();
    s.clean_frame_flows();

    // RTP with an unknown SSRC and nothing else to route it by; with a payload type not negotiated on
    // the m-section its SSRC belongs to; with a MID naming no m-section. Dropped from the header,
    // before SRTP.
    let before = (s.snapshot(), s.link.b.stats());
    let highest = before.0.b_video.unwrap().highest_sequence as u16;
    let r = s.raw_rtp(Side::A, VIDEO, &rtp(0x0bad_0001, 50, 1, None, b"who"));
    let r2 = s.raw_rtp(Side::A, VIDEO, &rtp(s.video, 50, highest, None, b"pt"));
    let r3 = s.raw_rtp(Side::A, VIDEO, &rtp(0x0bad_0002, 96, 1, Some((s.mid_id, "zz")), b"mid"));
    assert!(r.iter().chain(&r2).chain(&r3).all(Result::is_err), "{r:?} {r2:?} {r3:?}");
    let after = s.link.b.stats();
    assert_eq!(after.rtp_unroutable - before.1.rtp_unroutable, 1);
    assert_eq!(after.rtp_unknown_payload_type - before.1.rtp_unknown_payload_type, 1);
    assert_eq!(after.rtp_unknown_mid - before.1.rtp_unknown_mid, 1);
    assert_eq!(s.snapshot(), before.0);
    s.clean_frame_flows();

    // RTCP about an SSRC we do not have.
    let before = (s.snapshot(), s.link.b.stats(), s.link.b.media_stats().unwrap());
    let mut pli = Vec::new();
    Writer::new(&mut pli).pli(0x5151_5151, 0x4242_4242).unwrap();
    assert!(s.raw_rtcp(Side::A, &pli).iter().all(Result::is_err));
    assert_eq!(s.link.b.stats().rtcp_session_dropped - before.1.rtcp_session_dropped, 1);
    assert_eq!(s.link.b.media_stats().unwrap().unknown_ssrc - before.2.unknown_ssrc, 1);
    assert_eq!(s.snapshot(), before.0);
    s.clean_frame_flows();

    // A NACK with 1,000 FCI entries, for sequence numbers never sent: at most 253 are read, nothing is
    // resent.
    let before = (s.snapshot(), s.link.a.media_stats().unwrap());
    let high = before.0.b_video.unwrap().highest_sequence as u16;
    let pairs: Vec<NackPair> =
        (0..1000u16).map(|k| NackPair { pid: high.wrapping_add(100 + 16 * k), blp: 0xffff }).collect();
    let mut nack = Vec::new();
    Writer::new(&mut nack).nack(0x5151_5151, s.video, &pairs).unwrap();
    assert_eq!(nack.len(), 12 + 4000);
    let r = s.raw_rtcp(Side::B, &nack);
    let after = s.link.a.media_stats().unwrap();
    assert_eq!(after.nack_fci_dropped - before.1.nack_fci_dropped, 1000 - 253, "{r:?}");
    assert_eq!(after.nack_never_sent - before.1.nack_never_sent, 253 * 17);
    assert_eq!(after.rtx_sent, before.1.rtx_sent, "nothing resent");
    assert!(take(&mut s.link.a).is_empty(), "nothing owed");
    assert_eq!(s.snapshot(), before.0);
    s.clean_frame_flows();

    // Transport-wide feedback claiming 65,535 packets, from beyond the newest sent: dropped whole.
    let newest = last_transport_sequence(&mut s);
    let before = (s.snapshot(), s.link.a.media_stats().unwrap(), s.link.a.stats());
    let fb = huge_twcc(s.video, newest.wrapping_add(1), 65_535);
    assert!(s.raw_rtcp(Side::B, &fb).iter().all(Result::is_err));
    let after = s.link.a.media_stats().unwrap();
    assert_eq!(s.link.a.stats().rtcp_session_dropped - before.2.rtcp_session_dropped, 1);
    assert!(after.twcc_unknown > before.1.twcc_unknown, "{after:?}");
    assert!(!core::iter::from_fn(|| s.link.a.poll_event()).any(|e| matches!(e, Event::TransportFeedback(_))));
    assert_eq!(s.snapshot(), before.0);
    s.clean_frame_flows();

    // A sender report whose NTP time goes backwards.
    let before = (s.snapshot(), s.link.b.media_stats().unwrap());
    let last = before.0.b_video.unwrap().last_sender_report.unwrap().0;
    for ntp in [last.ntp_timestamp - 1, last.ntp_timestamp.wrapping_sub(10 << 32)] {
        let mut sr = Vec::new();
        Writer::new(&mut sr).sender_report(s.video, &SenderInfo { ntp_timestamp: ntp, ..last }, &[], &[]).unwrap();
        assert!(s.raw_rtcp(Side::A, &sr).iter().all(Result::is_err));
    }
    assert_eq!(s.link.b.media_stats().unwrap().sr_not_monotonic - before.1.sr_not_monotonic, 2);
    assert_eq!(s.snapshot(), before.0);
    s.clean_frame_flows();

    // RTX repairing a sequence number never sent (beyond the highest received).
    let before = (s.snapshot(), s.link.b.media_stats().unwrap(), s.link.b.stats());
    let high = before.0.b_video.unwrap().highest_sequence as u16;
    let mut body = high.wrapping_add(500).to_be_bytes().to_vec();
    body.extend_from_slice(&[9; 50]);
    let r = s.raw_rtp(Side::A, VIDEO, &rtp(s.video_rtx, 97, 1000, None, &body));
    assert!(r.iter().all(Result::is_err), "{r:?}");
    assert_eq!(s.link.b.stats().rtp_session_dropped - before.2.rtp_session_dropped, 1);
    assert_eq!(s.link.b.media_stats().unwrap().rtx_spurious - before.1.rtx_spurious, 1);
    assert_eq!(s.snapshot(), before.0);
    s.clean_frame_flows();

    // SRTP: forged packets (a flipped bit in the tag, or in the authenticated header), then the genuine
    // ones they were made from (still taken: a forgery moves no replay window), then those again
    // (replays).
    let until = s.link.now + Duration::from_millis(20);
    advance(&mut s.link, until);
    s.send_frame();
    let clean = take(&mut s.link.a);
    let before = (s.snapshot(), s.link.b.stats());
    let mut forged = clean.clone();
    for d in &mut forged {
        let n = d.len();
        d[n - 1] ^= 1;
    }
    let mut header_forged = clean[0].clone();
    header_forged[3] ^= 0x01;
    forged.push(header_forged);
    assert!(s.deliver(Side::B, &forged).iter().all(Result::is_err), "forgeries dropped");
    assert_eq!(s.link.b.stats().srtp_auth_failed - before.1.srtp_auth_failed, forged.len() as u64);
    assert_eq!(s.snapshot(), before.0);
    assert!(s.deliver(Side::B, &clean).iter().all(Result::is_ok), "the genuine packets are taken");
    let mid = (s.snapshot(), s.link.b.stats());
    assert_ne!(mid.0, before.0, "the genuine frame counted");
    assert!(s.deliver(Side::B, &clean).iter().all(Result::is_err), "replays dropped");
    assert_eq!(s.link.b.stats().srtp_replayed - mid.1.srtp_replayed, clean.len() as u64);
    assert_eq!(s.snapshot(), mid.0);
    // An SRTCP forgery.
    let mut sr = Vec::new();
    let info =
        SenderInfo { ntp_timestamp: last_ntp(&s) + (1 << 32), rtp_timestamp: 0, packet_count: 1, octet_count: 1 };
    Writer::new(&mut sr).sender_report(s.video, &info, &[], &[]).unwrap();
    let now = s.link.now;
    s.link.a.write_rtcp(now, &sr).unwrap();
    let mut d = take(&mut s.link.a);
    let n = d[0].len();
    d[0][n - 1] ^= 1;
    assert!(s.deliver(Side::B, &d).iter().all(Result::is_err));
    assert_eq!(s.link.b.stats().srtcp_auth_failed - mid.1.srtcp_auth_failed, 1);
    assert_eq!(s.snapshot(), mid.0);
    s.clean_frame_flows();

    // Nothing above disturbed the connection: media keeps flowing through the README loop.
    for _ in 0..25 {
        s.send_frame();
        let until = s.link.now + Duration::from_millis(20);
        advance(&mut s.link, until);
    }
    s.clean_frame_flows();
    let b = s.link.b.rtp_session().unwrap().receive_stats(s.video).unwrap();
    assert_eq!(b.lost, 0, "{b:?}");
    println!(
        "b: {:?}\nb session: {:?}\na session: {:?}",
        s.link.b.stats(),
        s.link.b.media_stats(),
        s.link.a.media_stats()
    );
}

fn last_ntp(s: &Setup) -> u64 {
    s.link.b.rtp_session().unwrap().receive_stats(s.video).unwrap().last_sender_report.unwrap().0.ntp_timestamp
}

/// The newest transport-wide sequence number `a` sent (it sends one more frame to learn it).
fn last_transport_sequence(s: &mut Setup) -> u16 {
    let now = s.link.now;
    let sent = s.link.a.write_rtp(now, VIDEO, &OutgoingRtp::new(96, s.frame * 3000, &[3; 10])).unwrap();
    s.frame += 1;
    let d = take(&mut s.link.a);
    assert!(s.deliver(Side::B, &d).iter().all(Result::is_ok));
    sent.transport_sequence.unwrap()
}

/// A transport-wide feedback claiming `count` packets from `base`, all "not received" (run-length
/// chunks of 8191).
fn huge_twcc(media: u32, base: u16, count: u16) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&1u32.to_be_bytes());
    body.extend_from_slice(&media.to_be_bytes());
    body.extend_from_slice(&base.to_be_bytes());
    body.extend_from_slice(&count.to_be_bytes());
    body.extend_from_slice(&[0, 0, 1, 0]);
    let mut left = count;
    while left > 0 {
        let n = left.min(0x1fff);
        body.extend_from_slice(&n.to_be_bytes());
        left -= n;
    }
    let mut out = Vec::new();
    Writer::new(&mut out).raw(packet_type::RTPFB, rtpfb::TRANSPORT_CC, &body).unwrap();
    out
}
