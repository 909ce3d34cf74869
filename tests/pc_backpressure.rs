//! Back-pressure through a peer connection (issue 8): an application that stops taking events stops the
//! sender. Messages it has not taken stay in the data channel layer, counted in SCTP's receive window,
//! so the window closes and the sender's buffered amount stops falling; nothing is dropped and nothing
//! piles up in the connection's event queue. Once the application takes events again, the window opens
//! and everything arrives, in order.

use core::time::Duration;

use bytes::Bytes;
use sansrtc::pc::{ChannelId, Config, Event, PeerConnection};
use sansrtc::{Instant, Machine, SeededRng};

/// Moves datagrams both ways until nothing moves, then runs timers 10 ms later.
#[path = "support/pc_pair.rs"]
mod pc_pair;
use pc_pair::pump;

fn step(now: &mut Instant, a: &mut PeerConnection, b: &mut PeerConnection) {
    for _ in 0..1000 {
        if !(pump(*now, a, b) | pump(*now, b, a)) {
            break;
        }
    }
    *now += Duration::from_millis(10);
    a.handle_timeout(*now);
    b.handle_timeout(*now);
}

fn connected() -> (PeerConnection, PeerConnection, ChannelId, ChannelId, Instant) {
    let mut a = PeerConnection::new(Config::default(), SeededRng::from_seed([1; 32]));
    let mut b = PeerConnection::new(Config::default(), SeededRng::from_seed([2; 32]));
    let mut now = Instant::ZERO;
    let chat = pc_pair::negotiate(now, &mut a, &mut b);
    let (mut open, mut remote) = (false, None);
    for _ in 0..1000 {
        step(&mut now, &mut a, &mut b);
        while let Some(e) = a.poll_event() {
            open |= e == Event::ChannelOpen(chat);
        }
        while let Some(e) = b.poll_event() {
            if let Event::DataChannel { id, .. } = e {
                remote = Some(id);
            }
        }
        if let (true, Some(remote)) = (open, remote) {
            return (a, b, chat, remote, now);
        }
    }
    panic!("not connected");
}

#[test]
fn a_receiver_that_stops_taking_events_stops_the_sender() {
    let (mut a, mut b, chat, remote, mut now) = connected();
    const SIZE: usize = 16 * 1024;
    const COUNT: usize = 512; // 8 MiB: far more than the receive window (1 MiB) and the event budget.
    let message = |n: usize| Bytes::from((0..SIZE).map(|i| (i * 7 + n) as u8).collect::<Vec<u8>>());
    for n in 0..COUNT {
        a.send(now, chat, message(n), true).unwrap();
    }
    // The receiver runs its timers and moves datagrams, but takes no event for 30 virtual seconds.
    for _ in 0..3000 {
        step(&mut now, &mut a, &mut b);
    }
    let stuck = a.buffered_amount(chat);
    assert!(stuck > 4 * 1024 * 1024, "the sender was not held back: {stuck} bytes still buffered");
    assert_eq!(b.stats().events_dropped, 0);
    // Taking events opens the window; everything arrives intact and in order.
    let mut next = 0;
    for _ in 0..10_000 {
        while let Some(e) = b.poll_event() {
            if let Event::Message { id, data, binary } = e {
                assert_eq!((id, binary), (remote, true));
                assert!(data == message(next), "message {next} differs");
                next += 1;
            }
        }
        if next == COUNT {
            break;
        }
        step(&mut now, &mut a, &mut b);
    }
    assert_eq!(next, COUNT, "messages lost");
    assert_eq!(b.stats().events_dropped, 0);
    for _ in 0..100 {
        step(&mut now, &mut a, &mut b);
    }
    assert_eq!(a.buffered_amount(chat), 0);
}
