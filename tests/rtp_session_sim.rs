//! Two RTP sessions over the simulator: 10 s of video across a link with 5 % loss each way and a 50 ms
//! round trip. Every lost packet is repaired through NACK and RTX and counted, a PLI reaches the sender,
//! the round-trip time from the reports matches the link, and transport-wide feedback reports every
//! packet's arrival.
#![cfg(feature = "sim")]

use core::net::SocketAddr;
use core::time::Duration;
extern crate alloc;

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};

use sansrtc::rtcp::{Compound, RtcpPacket};
use sansrtc::rtp::ExtensionKind;
use sansrtc::rtp::session::{
    Config, Event, KeyframeRequest, OutgoingRtp, PacketFeedback, ReceiveStreamConfig, Received, SendStreamConfig,
    Session,
};
use sansrtc::sim::{HostId, LinkConfig, Net, Sim};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng, Transmit};

const VIDEO: u32 = 0xa1;
const VIDEO_RTX: u32 = 0xa2;
const FRAMES: u32 = 300;
const PACKETS_PER_FRAME: u32 = 4;
const FRAME_INTERVAL: Duration = Duration::from_micros(33_333);

fn config(cname: &str) -> Config {
    let mut c = Config::new(cname, Duration::from_secs(3_900_000_000));
    c.payload_types.media(96, 90_000, true, true).unwrap().rtx(97, 96).unwrap();
    c.extensions.insert(5, ExtensionKind::TransportWideCc);
    c
}

/// One side of the call: a session bound to a local and a remote address, sending video at 30 fps when
/// it is the sender, recording what it sends and receives.
struct Peer {
    session: Session,
    local: SocketAddr,
    remote: SocketAddr,
    next_frame: Option<Instant>,
    frame: u32,
    media: VecDeque<Vec<u8>>,
    current: Vec<u8>,
    /// Media sent: RTP sequence number → (transport-wide sequence number, bytes).
    sent: BTreeMap<u16, (u16, Vec<u8>)>,
    /// RTP sequence numbers in the order sent.
    order: Vec<u16>,
    /// Received: (RTP sequence, repaired, transport-wide sequence, arrival).
    got: Vec<(u16, bool, Option<u16>, Instant)>,
    /// Transport-wide feedback sent: feedback count → (base, packets).
    feedback_sent: BTreeMap<u8, (u16, u16)>,
}

impl Peer {
    fn new(session: Session, local: SocketAddr, remote: SocketAddr, sender: bool) -> Self {
        Peer {
            session,
            local,
            remote,
            next_frame: sender.then_some(Instant::from_millis(100)),
            frame: 0,
            media: VecDeque::new(),
            current: Vec::new(),
            sent: BTreeMap::new(),
            order: Vec::new(),
            got: Vec::new(),
            feedback_sent: BTreeMap::new(),
        }
    }

    fn send_frame(&mut self, now: Instant) {
        for k in 0..PACKETS_PER_FRAME {
            let payload = vec![(self.frame * PACKETS_PER_FRAME + k) as u8; 1000];
            let mut rtp = OutgoingRtp::new(VIDEO, 96, self.frame * 3000, &payload);
            rtp.marker = k + 1 == PACKETS_PER_FRAME;
            let mut out = Vec::with_capacity(1500);
            let s = self.session.send_rtp(now, &rtp, &mut out).unwrap();
            self.sent.insert(s.sequence, (s.transport_sequence.unwrap(), out.clone()));
            self.order.push(s.sequence);
            self.media.push_back(out);
        }
        self.frame += 1;
        self.next_frame = (self.frame < FRAMES).then(|| now + FRAME_INTERVAL);
    }
}

impl Machine for Peer {
    type Event = Event;

    fn handle_timeout(&mut self, now: Instant) {
        if self.next_frame.is_some_and(|t| now >= t) {
            self.send_frame(now);
        }
        self.session.handle_timeout(now);
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.session.poll_event()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [self.session.poll_timeout(), self.next_frame].into_iter().flatten().min()
    }
}

impl PathMachine for Peer {
    type Error = sansrtc::rtp::session::Error;

    fn handle_receive(&mut self, now: Instant, d: Datagram<'_>) -> Result<(), Self::Error> {
        let mut buf = d.contents.to_vec();
        if let Received::Rtp(r) = self.session.handle_receive(now, &mut buf)? {
            self.got.push((r.sequence as u16, r.repaired, r.transport_sequence, now));
        }
        Ok(())
    }

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        if let Some(m) = self.media.pop_front() {
            self.current = m;
        } else {
            let out = self.session.poll_transmit()?;
            self.current = out.data().to_vec();
            for p in Compound::new(&self.current).flatten() {
                if let RtcpPacket::TransportCc(fb) = p {
                    self.feedback_sent.insert(fb.feedback_count, (fb.base_sequence, fb.status_count));
                }
            }
        }
        Some(Datagram { source: self.local, destination: self.remote, contents: &self.current })
    }
}

struct Call {
    sim: Sim,
    alice: HostId,
    bob: HostId,
}

fn call(seed: u64) -> Call {
    let mut sim = Sim::new(seed);
    sim.set_event_capacity(1_000_000);
    sim.set_default_link(LinkConfig::default().with_delay(Duration::from_millis(25)).with_loss(0.05));
    let (a, b): (SocketAddr, SocketAddr) = ("198.51.100.1:5000".parse().unwrap(), "203.0.113.9:6000".parse().unwrap());
    let mut alice = Session::new(config("alice"), sim.fork_rng()).unwrap();
    alice.add_send_stream(SendStreamConfig::video(VIDEO, Some(VIDEO_RTX))).unwrap();
    let mut bob = Session::new(config("bob"), SeededRng::from_seed([seed as u8; 32])).unwrap();
    bob.add_receive_stream(ReceiveStreamConfig::video(VIDEO, Some(VIDEO_RTX))).unwrap();
    let alice = sim.add_host("alice", Net::Internet, &[a.ip()], Peer::new(alice, a, b, true)).unwrap();
    let bob = sim.add_host("bob", Net::Internet, &[b.ip()], Peer::new(bob, b, a, false)).unwrap();
    Call { sim, alice, bob }
}

#[test]
fn video_over_a_lossy_link_is_repaired_and_measured() {
    for seed in 1..=8 {
        run(seed);
    }
}

fn run(seed: u64) {
    let Call { mut sim, alice, bob } = call(seed);
    // Bob asks for a key frame three times during the call.
    for at in [3, 6, 9] {
        sim.run_until(Instant::from_secs(at));
        sim.with_node::<Peer, _>(bob, |p, now| p.session.request_keyframe(now, VIDEO, KeyframeRequest::Pli))
            .unwrap()
            .unwrap();
    }
    sim.run_until(Instant::from_secs(12));
    let lost_on_link = sim.link_stats(alice, bob).lost;
    assert!(lost_on_link > 40, "{lost_on_link}");
    let alice_events = sim.drain_events::<Event>(alice);

    let a = sim.node::<Peer>(alice).unwrap();
    let b = sim.node::<Peer>(bob).unwrap();
    assert_eq!(a.sent.len() as u32, FRAMES * PACKETS_PER_FRAME);

    // Every video packet reached Bob, either first time or repaired; the repairs are exactly the
    // originals the link lost. (A loss before the first packet Bob got cannot be noticed: the stream
    // starts at the first packet that arrives. The call ends with a loss-free second.)
    let originals: BTreeSet<u16> = b.got.iter().filter(|g| !g.1).map(|g| g.0).collect();
    let repaired: BTreeSet<u16> = b.got.iter().filter(|g| g.1).map(|g| g.0).collect();
    let first = a.order.iter().position(|s| originals.contains(s)).unwrap();
    let all: BTreeSet<u16> = a.order[first..].iter().copied().collect();
    let lost: BTreeSet<u16> = all.difference(&originals).copied().collect();
    assert!(lost.len() >= 30, "{}", lost.len());
    assert_eq!(repaired, lost, "every lost packet was repaired, and only those");
    assert_eq!(originals.union(&repaired).copied().collect::<BTreeSet<u16>>(), all);
    let rs = b.session.receive_stats(VIDEO).unwrap();
    assert_eq!((rs.repaired, rs.unrepairable, rs.missing), (lost.len() as u64, 0, 0));
    assert_eq!(rs.lost, lost.len() as i64);
    let (sa, sb) = (a.session.stats(), b.session.stats());
    assert_eq!(sb.rtx_received, lost.len() as u64 + sb.rtx_spurious + sb.rtx_duplicates);
    assert!(sa.rtx_sent >= lost.len() as u64, "some RTX packets were lost too and sent again");
    assert!(sb.nacked_packets > lost.len() as u64, "NACKs lost or unanswered in time are repeated");

    // The key frame requests: Bob sent three PLIs; those the link delivered reached Alice as events.
    let plis =
        alice_events.iter().filter(|(_, e)| *e == Event::KeyframeRequest { ssrc: VIDEO, kind: KeyframeRequest::Pli });
    let plis = plis.count() as u64;
    assert_eq!(sb.plis_sent, 3);
    assert!((1..=3).contains(&plis), "{plis}");
    assert_eq!(a.session.send_stats(VIDEO).unwrap().keyframe_requests, plis);

    // The round-trip time from Alice's sender reports and Bob's receiver reports (LSR/DLSR), and from
    // Bob's RRTR and Alice's DLRR: the link's 50 ms, to within 5 ms.
    let a_rtt = a.session.rtt().unwrap();
    let b_rtt = b.session.rtt().unwrap();
    assert!(a_rtt.abs_diff(Duration::from_millis(50)) < Duration::from_millis(5), "{a_rtt:?}");
    assert!(b_rtt.abs_diff(Duration::from_millis(50)) < Duration::from_millis(5), "{b_rtt:?}");
    let samples: Vec<Duration> = alice_events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::RoundTripTime { rtt, .. } => Some(*rtt),
            _ => None,
        })
        .collect();
    assert!(samples.len() >= 10);
    assert!(samples.iter().all(|r| r.abs_diff(Duration::from_millis(50)) < Duration::from_millis(5)));

    // Transport-wide feedback: every feedback packet that arrived reports its packets exactly (arrival
    // time on Bob's clock to within half a 250 µs tick, "not received" for the lost ones); the only
    // packets not reported are those covered by feedback packets the link lost on the way back.
    let feedback: Vec<PacketFeedback> = alice_events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::TransportFeedback(f) => Some(*f),
            _ => None,
        })
        .collect();
    let arrivals: BTreeMap<u16, Instant> = b.got.iter().filter_map(|g| Some((g.2?, g.3))).collect();
    let mut reported = BTreeSet::new();
    for f in &feedback {
        let tseq = f.transport_sequence as u16;
        match (f.arrival_us, arrivals.get(&tseq)) {
            (Some(us), Some(at)) => {
                let truth = at.as_nanos() as i64 / 1000;
                assert!((us - truth).abs() <= 125, "{f:?} arrived at {at}");
            }
            (None, None) => {}
            other => panic!("{f:?}: {other:?}"),
        }
        reported.insert(f.transport_sequence);
    }
    let received_feedback: BTreeSet<u8> = feedback.iter().map(|f| f.feedback_count).collect();
    let mut covered_by_lost = BTreeSet::new();
    for (count, (base, n)) in &b.feedback_sent {
        if !received_feedback.contains(count) {
            covered_by_lost.extend((0..*n).map(|k| u64::from(base.wrapping_add(k))));
        }
    }
    let total = sa.rtx_sent + a.sent.len() as u64;
    let mut accounted = reported.clone();
    accounted.extend(&covered_by_lost);
    // Counted from the first packet Bob got (he cannot know of a loss before it); nothing is sent in the
    // last 2 s, so no packet is still waiting for its feedback.
    let first = u64::from(*arrivals.keys().next().unwrap());
    assert_eq!(accounted, (first..total).collect::<BTreeSet<u64>>());
    assert!(reported.len() as u64 >= total * 85 / 100, "{} of {total}", reported.len());
    assert!(b.feedback_sent.len() >= 90, "about every 100 ms: {}", b.feedback_sent.len());
    println!(
        "seed {seed}: {} packets, {} lost on the way and repaired ({} RTX sent, {} sequence numbers NACKed), \
         {plis} of 3 PLIs delivered, RTT {a_rtt:?} (sender) {b_rtt:?} (receiver), {} of {total} packets \
         reported in {} of {} feedback packets",
        a.sent.len(),
        lost.len(),
        sa.rtx_sent,
        sb.nacked_packets,
        reported.len(),
        received_feedback.len(),
        b.feedback_sent.len()
    );
}
