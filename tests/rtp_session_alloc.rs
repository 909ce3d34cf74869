//! Once its streams are warm, an RTP session allocates nothing per packet: sending media, receiving it,
//! NACKs answered with RTX, repairs restored, reports, round-trip times and transport-wide feedback all
//! run on reused buffers. A counting global allocator (`stats_alloc`) watches five seconds of a call.
//!
//! This file holds a single test so that no other test thread allocates while it measures.

use std::alloc::System;
extern crate alloc;

use alloc::collections::VecDeque;
use core::time::Duration;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

use sansrtc::rtp::ExtensionKind;
use sansrtc::rtp::session::{
    Config, HistoryConfig, OutgoingRtp, ReceiveStreamConfig, Received, SendStreamConfig, Session, Stats,
};
use sansrtc::{Instant, SeededRng};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const VIDEO: u32 = 0x51;
const VIDEO_RTX: u32 = 0x52;
const DELAY: Duration = Duration::from_millis(25);
const FRAME: Duration = Duration::from_micros(33_333);

/// The two sessions, a fixed-delay link with preallocated buffers, and a 30 fps, 4-packet video source.
struct Call {
    alice: Session,
    bob: Session,
    now: Instant,
    next_frame: Instant,
    frame: u32,
    /// (arrival, to Bob, buffer index, length): FIFO, since both directions have the same delay.
    flight: VecDeque<(Instant, bool, usize, usize)>,
    buffers: Vec<Vec<u8>>,
    free: Vec<usize>,
    media: Vec<u8>,
    payload: Vec<u8>,
    packets_sent: u64,
    repaired: u64,
}

impl Call {
    fn new() -> Self {
        let config = |cname: &str| {
            let mut c = Config::new(cname, Duration::from_secs(3_900_000_000));
            c.payload_types.media(96, 90_000, true, true).unwrap().rtx(97, 96).unwrap();
            c.extensions.insert(3, ExtensionKind::TransportWideCc);
            c
        };
        let mut alice = Session::new(config("alice"), SeededRng::from_seed([1; 32])).unwrap();
        let mut video = SendStreamConfig::video(VIDEO, Some(VIDEO_RTX));
        // The history's ring grows to its bound while it first fills; a 256 KiB ring fills in 2 s here.
        video.history = HistoryConfig::new(1024, 256 * 1024, Duration::from_secs(2));
        alice.add_send_stream(video).unwrap();
        let mut bob = Session::new(config("bob"), SeededRng::from_seed([2; 32])).unwrap();
        bob.add_receive_stream(ReceiveStreamConfig::video(VIDEO, Some(VIDEO_RTX))).unwrap();
        Call {
            alice,
            bob,
            now: Instant::from_secs(1),
            next_frame: Instant::from_secs(1),
            frame: 0,
            flight: VecDeque::with_capacity(4096),
            buffers: (0..4096).map(|_| Vec::with_capacity(1600)).collect(),
            free: (0..4096).collect(),
            media: Vec::with_capacity(1600),
            payload: vec![7; 1000],
            packets_sent: 0,
            repaired: 0,
        }
    }

    /// Puts `data` on the link unless it is a media packet picked for loss (every 19th first
    /// transmission).
    fn put(&mut self, to_bob: bool, data: &[u8]) {
        let is_video = data.len() > 12 && data[1] & 0x7f == 96;
        if is_video && u16::from_be_bytes([data[2], data[3]]) % 19 == 5 {
            return;
        }
        let i = self.free.pop().expect("free buffer");
        let buf = &mut self.buffers[i];
        buf.clear();
        buf.extend_from_slice(data);
        self.flight.push_back((self.now + DELAY, to_bob, i, data.len()));
    }

    fn drain(&mut self) {
        while let Some(t) = self.alice.poll_transmit() {
            let i = self.free.pop().expect("free buffer");
            let buf = &mut self.buffers[i];
            buf.clear();
            buf.extend_from_slice(t.data());
            self.flight.push_back((self.now + DELAY, true, i, buf.len()));
        }
        while let Some(t) = self.bob.poll_transmit() {
            let i = self.free.pop().expect("free buffer");
            let buf = &mut self.buffers[i];
            buf.clear();
            buf.extend_from_slice(t.data());
            self.flight.push_back((self.now + DELAY, false, i, buf.len()));
        }
        while self.alice.poll_event().is_some() {}
        while self.bob.poll_event().is_some() {}
    }

    fn run_until(&mut self, until: Instant) {
        loop {
            self.drain();
            let next = [self.flight.front().map(|f| f.0), self.alice.poll_timeout(), self.bob.poll_timeout()]
                .into_iter()
                .flatten()
                .chain([self.next_frame])
                .min()
                .expect("a deadline");
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            while self.flight.front().is_some_and(|f| f.0 <= self.now) {
                let (_, to_bob, i, len) = self.flight.pop_front().expect("front");
                let session = if to_bob { &mut self.bob } else { &mut self.alice };
                if let Ok(Received::Rtp(r)) = session.handle_receive(self.now, &mut self.buffers[i][..len]) {
                    self.repaired += u64::from(r.repaired);
                }
                self.free.push(i);
            }
            if self.next_frame <= self.now {
                for k in 0..4u32 {
                    let mut rtp = OutgoingRtp::new(VIDEO, 96, self.frame * 3000, &self.payload);
                    rtp.marker = k == 3;
                    self.alice.send_rtp(self.now, &rtp, &mut self.media).expect("send");
                    let media = core::mem::take(&mut self.media);
                    self.put(true, &media);
                    self.media = media;
                    self.packets_sent += 1;
                }
                self.frame += 1;
                self.next_frame += FRAME;
            }
            for s in [&mut self.alice, &mut self.bob] {
                if s.poll_timeout().is_some_and(|t| t <= self.now) {
                    s.handle_timeout(self.now);
                }
            }
        }
        self.now = until;
    }
}

#[test]
fn a_warm_session_allocates_nothing_per_packet() {
    let mut call = Call::new();
    // The counter works.
    let probe = Region::new(GLOBAL);
    let boxed = core::hint::black_box(Box::new(1u64));
    assert_eq!(probe.change().allocations, 1);
    drop(boxed);

    call.run_until(Instant::from_secs(6));
    let (alice_before, bob_before, sent_before, repaired_before): (Stats, Stats, u64, u64) =
        (call.alice.stats(), call.bob.stats(), call.packets_sent, call.repaired);

    let region = Region::new(GLOBAL);
    call.run_until(Instant::from_secs(11));
    let allocs = region.change();

    let (alice, bob) = (call.alice.stats(), call.bob.stats());
    // Everything ran during the measured five seconds.
    assert_eq!(call.packets_sent - sent_before, 600);
    assert!(call.repaired - repaired_before >= 25, "{}", call.repaired - repaired_before);
    assert!(alice.rtx_sent > alice_before.rtx_sent);
    assert!(bob.nacks_sent > bob_before.nacks_sent);
    assert!(alice.reports_sent > alice_before.reports_sent + 5);
    assert!(bob.reports_sent > bob_before.reports_sent + 5);
    assert!(bob.twcc_sent >= bob_before.twcc_sent + 45);
    assert!(alice.twcc_received >= alice_before.twcc_received + 45);
    assert!(call.alice.rtt().is_some() && call.bob.rtt().is_some());
    assert_eq!(call.bob.receive_stats(VIDEO).expect("stream").unrepairable, 0);
    assert_eq!(allocs.allocations, 0, "{allocs:?}");
    assert_eq!(allocs.reallocations, 0, "{allocs:?}");
}
