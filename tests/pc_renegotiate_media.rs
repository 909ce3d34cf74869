//! Renegotiating media in the middle of a data-channel transfer, between two peer connections driven by
//! the README loop (`support/readme_loop.rs`) over a link with delay and loss, with signalling that takes
//! time too (each description reaches the other side 30 ms after it was made). A data-only connection
//! carries 3,000 numbered, ordered, reliable messages; meanwhile five offer/answer exchanges, from either
//! side, add a video transceiver, make the answerer send on it too, turn it recvonly, stop it, and add a
//! new one that reuses the stopped m-section. Every message must arrive once and in order; each
//! exchange must complete while messages are in flight; `track` must fire for each new sender; RTP must
//! flow (intact, each frame once, in order) exactly where the negotiated directions allow; and nothing
//! may restart: no ICE restart (same credentials, no new candidates, no state change), no new DTLS
//! handshake (same fingerprints and roles), no channel closed or reopened.

extern crate alloc;
use alloc::collections::BTreeSet;

use core::cell::RefCell;
use core::time::Duration;

use sansrtc::dtls::Role as DtlsRole;
use sansrtc::pc::{
    ChannelId, ChannelOptions, Config, ConnectionState, Description, Direction, Error, Event, MediaKind, OutgoingRtp,
    PeerConnection, Track, TransceiverId, TransceiverInit,
};
use sansrtc::sdp::SessionDescription;
use sansrtc::{Instant, SeededRng};

#[path = "support/readme_loop.rs"]
mod readme_loop;
use readme_loop::{Link, Side};

/// Messages in the transfer, and the pace at which the application releases them.
const TOTAL: u32 = 3000;
const MESSAGE_EVERY: Duration = Duration::from_millis(2);
/// How long a description takes to reach the other side.
const SIGNALLING: Duration = Duration::from_millis(30);
/// A video frame (one RTP packet) every 20 ms on each transceiver that may send.
const FRAME_EVERY: Duration = Duration::from_millis(20);

fn ms(now: Instant) -> u64 {
    now.saturating_duration_since(Instant::ZERO).as_millis() as u64
}

/// Message `k`: its number, then bytes that depend on it, of a length that varies.
fn message(k: u32) -> Vec<u8> {
    let len = 200 + (k as usize * 131) % 1200;
    let mut out = k.to_be_bytes().to_vec();
    out.extend((4..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).wrapping_add(k).to_le_bytes()[1]));
    out
}

/// Frame `n` from `side`: its number, the side, then bytes that depend on both.
fn frame(side: Side, n: u32) -> Vec<u8> {
    let tag = if side == Side::A { 0xa0 } else { 0xb0 };
    let mut out = n.to_be_bytes().to_vec();
    out.push(tag);
    out.extend((0..400u32).map(|i| (i ^ n.wrapping_mul(7)) as u8 ^ tag));
    out
}

/// The distinct `a=ice-ufrag`, `a=ice-pwd` and `a=fingerprint` lines of a description.
fn transport_lines(sdp: &str) -> BTreeSet<String> {
    sdp.lines()
        .filter(|l| l.starts_with("a=ice-ufrag:") || l.starts_with("a=ice-pwd:") || l.starts_with("a=fingerprint:"))
        .map(String::from)
        .collect()
}

fn setup_lines(sdp: &str) -> Vec<String> {
    sdp.lines().filter(|l| l.starts_with("a=setup:")).map(String::from).collect()
}

/// (media, port, mid) of each m-section.
fn sections(sdp: &str) -> Vec<(String, u16, String)> {
    let sdp = SessionDescription::parse(sdp).unwrap();
    sdp.media.iter().map(|m| (m.media.to_string(), m.port, m.mid().unwrap_or_default().to_string())).collect()
}

fn other(side: Side) -> Side {
    if side == Side::A { Side::B } else { Side::A }
}

/// The signalling channel: at most one exchange under way.
enum Signalling {
    Idle,
    /// The offerer set its offer; it reaches the answerer at `at`.
    Offer {
        offerer: Side,
        offer: Description,
        at: Instant,
    },
    /// The answerer set its answer; it reaches the offerer at `at`.
    Answer {
        offerer: Side,
        answer: Description,
        at: Instant,
    },
}

/// Everything the applications saw and did.
#[derive(Default)]
struct Log {
    /// Every event, with the side and the time.
    events: Vec<(Side, Instant, Event)>,
    /// Messages B received (their numbers) and when.
    received: Vec<u32>,
    /// Frames sent, per (side, mid): numbers.
    sent_frames: Vec<(Side, String, u32)>,
    /// Every SDP each side made, in order.
    sdps: Vec<(Side, String)>,
    /// For each exchange: messages sent and received when the offer was set, and when the answer was.
    in_flight: Vec<(u32, usize, u32, usize)>,
    /// RTP B and A received: (receiving side, mid, frame number, extended sequence number, repaired by RTX).
    rtp: Vec<(Side, String, u32, u64, bool)>,
}

impl Log {
    fn has(&self, side: Side, f: impl Fn(&Event) -> bool) -> bool {
        self.events.iter().any(|(s, _, e)| *s == side && f(e))
    }

    fn track(&self, side: Side, mid: &str) -> bool {
        self.has(side, |e| matches!(e, Event::Track { mid: m, kind: MediaKind::Video, .. } if m == mid))
    }

    fn rtp_count(&self, side: Side, mid: &str) -> usize {
        self.rtp.iter().filter(|(s, m, _, _, _)| *s == side && m == mid).count()
    }
}

struct App {
    chat: ChannelId,
    sent: u32,
    next_frame: [Instant; 2],
    frames: [u32; 2],
    signalling: Signalling,
    /// The next change to make, and the message count it waits for.
    phase: usize,
    /// A's video transceivers: the first, then the one reusing its line.
    video: Option<TransceiverId>,
    video2: Option<TransceiverId>,
}

const PHASES: [u32; 5] = [400, 1000, 1600, 2000, 2400];

impl App {
    /// The application's own work at `link.now`: messages due, frames due, the next renegotiation step.
    fn step(&mut self, link: &mut Link, log: &RefCell<Log>) {
        let now = link.now;
        while self.sent < TOTAL && u64::from(self.sent) * MESSAGE_EVERY.as_millis() as u64 <= ms(now) {
            link.a.send_binary(now, self.chat, &message(self.sent)).unwrap();
            self.sent += 1;
        }
        for (i, side) in [Side::A, Side::B].into_iter().enumerate() {
            if now < self.next_frame[i] {
                continue;
            }
            self.next_frame[i] = now + FRAME_EVERY;
            let pc = link.pc(side);
            let mids: Vec<String> = pc
                .transceivers()
                .filter(|t| t.kind() == MediaKind::Video && !t.is_stopping())
                .filter(|t| matches!(t.current_direction(), Some(Direction::SendRecv | Direction::SendOnly)))
                .filter_map(|t| t.mid().map(String::from))
                .collect();
            for mid in mids {
                let n = self.frames[i];
                self.frames[i] += 1;
                let payload = frame(side, n);
                let rtp = OutgoingRtp::new(96, n.wrapping_mul(3000), &payload);
                pc.write_rtp(now, &mid, &rtp).unwrap_or_else(|e| panic!("{side:?} sending on {mid}: {e:?}"));
                log.borrow_mut().sent_frames.push((side, mid, n));
            }
        }
        self.signal(link, log);
    }

    fn signal(&mut self, link: &mut Link, log: &RefCell<Log>) {
        let now = link.now;
        let counts = |log: &RefCell<Log>| (self.sent, log.borrow().received.len());
        match core::mem::replace(&mut self.signalling, Signalling::Idle) {
            Signalling::Idle => {
                let Some(&threshold) = PHASES.get(self.phase) else { return };
                if self.sent < threshold {
                    return;
                }
                let offerer = self.change(link);
                let offer = link.pc(offerer).create_offer().unwrap();
                link.pc(offerer).set_local_description(now, &offer).unwrap();
                let mut l = log.borrow_mut();
                l.sdps.push((offerer, offer.sdp.clone()));
                let (sent, received) = (self.sent, l.received.len());
                l.in_flight.push((sent, received, 0, 0));
                self.signalling = Signalling::Offer { offerer, offer, at: now + SIGNALLING };
            }
            Signalling::Offer { offerer, offer, at } if at <= now => {
                let answerer = other(offerer);
                link.pc(answerer).set_remote_description(now, &offer).unwrap();
                let answer = link.pc(answerer).create_answer().unwrap();
                link.pc(answerer).set_local_description(now, &answer).unwrap();
                log.borrow_mut().sdps.push((answerer, answer.sdp.clone()));
                self.signalling = Signalling::Answer { offerer, answer, at: now + SIGNALLING };
            }
            Signalling::Answer { offerer, answer, at } if at <= now => {
                link.pc(offerer).set_remote_description(now, &answer).unwrap();
                let (sent, received) = counts(log);
                if let Some(last) = log.borrow_mut().in_flight.last_mut() {
                    (last.2, last.3) = (sent, received);
                }
                self.check(link, log);
                self.phase += 1;
            }
            pending => self.signalling = pending,
        }
    }

    /// Makes the change of the current phase; returns who offers.
    fn change(&mut self, link: &mut Link) -> Side {
        let now = link.now;
        match self.phase {
            0 => {
                // A adds a camera to the data-only connection.
                let init = TransceiverInit { stream_ids: vec!["a".into()], ..TransceiverInit::default() };
                self.video = Some(link.a.add_transceiver(now, Track::new(MediaKind::Video, "cam"), init).unwrap());
                Side::A
            }
            1 => {
                // B adds a camera too: addTrack takes the recvonly transceiver A's offer made; B offers.
                let t = link.b.add_track(now, Track::new(MediaKind::Video, "b-cam"), &["b"]).unwrap();
                assert_eq!(link.b.transceiver(t).and_then(|t| t.mid()), Some("1"));
                Side::B
            }
            2 => {
                // A stops sending but keeps receiving.
                link.a.set_direction(now, self.video.unwrap(), Direction::RecvOnly).unwrap();
                Side::A
            }
            3 => {
                link.a.stop_transceiver(now, self.video.unwrap()).unwrap();
                Side::A
            }
            _ => {
                let init = TransceiverInit { stream_ids: vec!["a".into()], ..TransceiverInit::default() };
                self.video2 = Some(link.a.add_transceiver(now, Track::new(MediaKind::Video, "cam2"), init).unwrap());
                Side::A
            }
        }
    }

    /// What the exchange of the current phase must have done, checked as soon as it completes.
    fn check(&self, link: &mut Link, log: &RefCell<Log>) {
        let l = log.borrow();
        let (offer, answer) = (&l.sdps[l.sdps.len() - 2].1, &l.sdps[l.sdps.len() - 1].1);
        let video = |pc: &PeerConnection| pc.transceiver_by_mid("1").and_then(|t| t.current_direction());
        match self.phase {
            0 => {
                assert_eq!(sections(offer)[1], ("video".into(), 9, "1".into()));
                assert_eq!(video(&link.a), Some(Direction::SendOnly));
                assert_eq!(video(&link.b), Some(Direction::RecvOnly));
            }
            1 => {
                assert!(offer.contains("a=msid:b b-cam\r\n"), "{offer}");
                assert_eq!(video(&link.a), Some(Direction::SendRecv));
                assert_eq!(video(&link.b), Some(Direction::SendRecv));
            }
            2 => {
                assert!(offer.contains("a=recvonly\r\n") && answer.contains("a=sendonly\r\n"));
                assert_eq!(video(&link.a), Some(Direction::RecvOnly));
                assert_eq!(video(&link.b), Some(Direction::SendOnly));
            }
            3 => {
                assert_eq!(sections(offer)[1], ("video".into(), 0, "1".into()));
                assert_eq!(sections(answer)[1].1, 0);
                assert!(link.a.transceiver(self.video.unwrap()).is_none());
                assert!(link.a.transceiver_by_mid("1").is_none() && link.b.transceiver_by_mid("1").is_none());
            }
            _ => {
                // The stopped line, reused with a new mid; the data section keeps its place.
                let lines = sections(offer);
                assert_eq!(lines[0], ("application".into(), 9, "0".into()));
                assert_eq!(lines[1], ("video".into(), 9, "2".into()));
                assert_eq!(link.a.transceiver(self.video2.unwrap()).and_then(|t| t.mid()), Some("2"));
            }
        }
    }
}

#[test]
fn media_renegotiated_five_times_during_a_data_transfer() {
    let pc = |seed: u8| PeerConnection::new(Config::default(), SeededRng::from_seed([seed; 32]));
    let mut link = Link::new(pc(21), pc(22), Duration::from_millis(10), 0.01, 21);
    let now = link.now;
    link.a.add_local_host(now, readme_loop::A.parse().unwrap()).unwrap();
    link.b.add_local_host(now, readme_loop::B.parse().unwrap()).unwrap();
    link.a.end_of_local_candidates(now);
    link.b.end_of_local_candidates(now);
    let chat = link.a.create_data_channel(now, ChannelOptions::new("bulk")).unwrap();
    let offer = link.a.create_offer().unwrap();
    link.a.set_local_description(now, &offer).unwrap();
    link.b.set_remote_description(now, &offer).unwrap();
    let answer = link.b.create_answer().unwrap();
    link.b.set_local_description(now, &answer).unwrap();
    link.a.set_remote_description(now, &answer).unwrap();
    assert_eq!(sections(&offer.sdp), [("application".to_string(), 9, "0".to_string())]);

    let log = RefCell::new(Log::default());
    log.borrow_mut().sdps.extend([(Side::A, offer.sdp), (Side::B, answer.sdp)]);
    let mut record = |side: Side, _pc: &mut PeerConnection, now: Instant, e: Event| {
        let mut l = log.borrow_mut();
        match &e {
            Event::Message { data, .. } => {
                assert_eq!(side, Side::B);
                let k = u32::from_be_bytes(data[..4].try_into().unwrap());
                assert_eq!(data.to_vec(), message(k), "message {k} intact");
                l.received.push(k);
            }
            Event::Rtp(p) => {
                let n = u32::from_be_bytes(p.payload()[..4].try_into().unwrap());
                assert_eq!(p.payload(), frame(other(side), n), "frame {n} intact");
                l.rtp.push((side, p.mid.to_string(), n, p.sequence_number, p.repaired));
            }
            _ => {}
        }
        l.events.push((side, now, e));
    };

    // Connect and open the channel (A may send at once; B learns of it from the first message).
    let opened = link.run(Duration::from_secs(30), &mut record, |_| {
        let l = log.borrow();
        l.has(Side::A, |e| *e == Event::ChannelOpen(chat)) && l.has(Side::B, |e| matches!(e, Event::DataChannel { .. }))
    });
    assert!(opened, "the channel opens");
    let roles = (link.a.dtls_role(), link.b.dtls_role());
    assert_eq!(roles, (Some(DtlsRole::Server), Some(DtlsRole::Client)));
    let (ufrag_a, ufrag_b) = (link.a.local_ufrag().to_string(), link.b.local_ufrag().to_string());
    let connected_at = link.now;

    let mut app = App {
        chat,
        sent: 0,
        next_frame: [link.now; 2],
        frames: [0; 2],
        signalling: Signalling::Idle,
        phase: 0,
        video: None,
        video2: None,
    };
    let start = link.now;
    loop {
        app.step(&mut link, &log);
        let done = {
            let l = log.borrow();
            l.received.len() == TOTAL as usize && app.phase == PHASES.len() && l.rtp_count(Side::B, "2") >= 10
        };
        if done {
            break;
        }
        assert!(
            link.now < start + Duration::from_secs(60),
            "stalled: {} messages, phase {}",
            log.borrow().received.len(),
            app.phase
        );
        // The application wakes every millisecond while it has work; the loop sleeps until the earlier of
        // that and the connections' own deadlines or the next arrival.
        let app_wake = link.now + Duration::from_millis(1);
        if link.next_wake().is_none_or(|w| w > app_wake) {
            link.now = app_wake;
            continue;
        }
        assert!(link.turn(&mut record), "nothing left to wait for");
    }
    assert!(link.lost > 0, "the link lost datagrams: {} of {}", link.lost, link.sent);

    let l = log.borrow();
    // Every message once, in order.
    assert_eq!(l.received, (0..TOTAL).collect::<Vec<_>>());
    // Each exchange completed while messages were on their way: sent but not yet received, both when the
    // offer was made and when the answer was applied.
    assert_eq!(l.in_flight.len(), PHASES.len());
    for &(sent_o, recv_o, sent_a, recv_a) in &l.in_flight {
        assert!(sent_o as usize > recv_o && sent_a as usize > recv_a, "{:?}", l.in_flight);
        assert!(sent_a < TOTAL, "the transfer went on after the exchange");
    }

    // `track` fired for each new sender: A's camera at B, B's at A, A's second camera at B.
    assert!(l.track(Side::B, "1") && l.track(Side::A, "1") && l.track(Side::B, "2"));
    assert!(l.has(Side::A, |e| matches!(e, Event::Track { stream_ids, .. } if stream_ids == &["b".to_string()])));

    // RTP: each side received only frames the other sent on that mid, most of them (the link loses 1 %; the
    // connection repairs losses it learns of in time with NACK and RTX, so a repaired frame arrives after
    // later ones). Frames that came first time arrive once and in order, each with the sequence number its
    // frame number implies; a repaired one fills a gap among them.
    for (to, mid) in [(Side::B, "1"), (Side::A, "1"), (Side::B, "2")] {
        let sent: Vec<u32> =
            l.sent_frames.iter().filter(|(s, m, _)| *s == other(to) && m == mid).map(|f| f.2).collect();
        let got: Vec<(u32, u64, bool)> =
            l.rtp.iter().filter(|r| r.0 == to && r.1 == mid).map(|r| (r.2, r.3, r.4)).collect();
        let mut distinct: Vec<u32> = got.iter().map(|g| g.0).collect();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(
            distinct.len() * 10 >= sent.len() * 9 && distinct.len() >= 10,
            "{to:?} {mid}: {} of {}",
            distinct.len(),
            sent.len()
        );
        assert!(got.iter().all(|(n, _, _)| sent.contains(n)), "{to:?} {mid}: a frame nobody sent");
        let first: Vec<(u32, u64)> = got.iter().filter(|g| !g.2).map(|g| (g.0, g.1)).collect();
        assert!(first.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1), "{to:?} {mid}: duplicated or reordered");
        for &(n, seq, _) in got.iter().filter(|g| g.2) {
            assert!(!first.iter().any(|f| f.0 == n), "{to:?} {mid}: frame {n} repaired although it arrived");
            let (before, after) = (first.iter().rfind(|f| f.0 < n), first.iter().find(|f| f.0 > n));
            assert!(
                before.is_none_or(|b| b.1 < seq) && after.is_none_or(|a| seq < a.1),
                "{to:?} {mid}: repair {n} out of place"
            );
        }
    }
    // No RTP on a line after the direction or stop that ended it: A sent nothing on mid 1 after phase 2,
    // B nothing after phase 3; nobody sent on mid 1 once it was rejected.
    assert_eq!(l.rtp.iter().filter(|(_, m, _, _, _)| m != "1" && m != "2").count(), 0);
    assert_eq!(link.a.write_rtp(link.now, "1", &OutgoingRtp::new(96, 0, b"x")), Err(Error::NoSuchTransceiver));
    assert_eq!(link.b.write_rtp(link.now, "1", &OutgoingRtp::new(96, 0, b"x")), Err(Error::NoSuchTransceiver));
    // Media dropped only for a direction just changed: packets the other side sent before the exchange
    // that ended its sending completed (a sender keeps its negotiated direction until then, JSEP §4.2.3),
    // and a few of them, at most for the 70 ms an exchange and a delivery take, plus retransmissions of them
    // that NACKs sent before the change asked for. (With no receiving transceiver left, such a packet
    // counts as unroutable rather than not received.)
    for (side, pc) in [(Side::A, &link.a), (Side::B, &link.b)] {
        let s = pc.stats();
        let direction = s.rtp_not_receiving + s.rtp_unroutable;
        assert_eq!((s.media_dropped, s.srtp_auth_failed, s.srtp_replayed), (direction, 0, 0), "{side:?} {s:?}");
        assert!(direction <= 8, "{side:?} {s:?}");
    }

    // Nothing restarted. No state change after the connection was up; one channel, opened once; no new
    // candidates; the same ICE credentials and certificates in every description; the same DTLS roles.
    let late = |side: Side| l.events.iter().filter(move |(s, t, _)| *s == side && *t > connected_at);
    for side in [Side::A, Side::B] {
        let changes: Vec<&Event> = late(side)
            .map(|(_, _, e)| e)
            .filter(|e| {
                matches!(
                    e,
                    Event::ConnectionState(_)
                        | Event::IceConnectionState(_)
                        | Event::LocalCandidate { .. }
                        | Event::ChannelOpen(_)
                        | Event::ChannelClose(_)
                        | Event::DataChannel { .. }
                        | Event::ChannelError { .. }
                )
            })
            .collect();
        assert!(changes.is_empty(), "{side:?} after connecting: {changes:?}");
        let firsts: Vec<BTreeSet<String>> =
            l.sdps.iter().filter(|(s, _)| *s == side).map(|(_, sdp)| transport_lines(sdp)).collect();
        assert!(firsts.len() >= 3 && firsts.iter().all(|t| *t == firsts[0] && t.len() == 3), "{side:?}: {firsts:?}");
    }
    assert_eq!(l.events.iter().filter(|(_, _, e)| matches!(e, Event::DataChannel { .. })).count(), 1);
    assert_eq!(l.events.iter().filter(|(_, _, e)| *e == Event::ChannelOpen(chat)).count(), 1);
    assert_eq!(link.a.connection_state(), ConnectionState::Connected);
    assert_eq!(link.b.connection_state(), ConnectionState::Connected);
    assert_eq!((link.a.dtls_role(), link.b.dtls_role()), roles);
    assert_eq!((link.a.local_ufrag(), link.b.local_ufrag()), (ufrag_a.as_str(), ufrag_b.as_str()));
    // Offers, B's included, say `actpass` with the same fingerprint (RFC 8842 §5.5: no new association);
    // every answer keeps the roles: A passive (the DTLS server), B active.
    assert_eq!(l.sdps.len(), 2 * (PHASES.len() + 1));
    for pair in l.sdps.chunks(2) {
        let [(offerer, offer), (answerer, answer)] = pair else { unreachable!() };
        assert_ne!(offerer, answerer);
        assert!(setup_lines(offer).iter().all(|s| s == "a=setup:actpass"), "{:?}", setup_lines(offer));
        let role = if *answerer == Side::A { "a=setup:passive" } else { "a=setup:active" };
        assert!(setup_lines(answer).iter().all(|s| s == role), "{answerer:?}: {:?}", setup_lines(answer));
    }
}
