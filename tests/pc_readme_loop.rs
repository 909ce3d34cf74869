//! Two peer connections driven by the README's loop to the letter (see `support/readme_loop.rs`): no
//! extra drain rounds, sleeping until `poll_timeout`. Whatever a connection owes must be announced by
//! `poll_timeout`, or these transfers stall.

use core::time::Duration;

use bytes::Bytes;
use sansrtc::pc::{ChannelId, Config, ConnectionState, Event, PeerConnection};
use sansrtc::{Instant, SeededRng};

#[path = "support/readme_loop.rs"]
mod readme_loop;
use readme_loop::{Link, Side};

const MESSAGE: usize = 64 * 1024;
const HIGH: usize = 1024 * 1024;
const LOW: usize = 256 * 1024;

fn payload(i: usize) -> Bytes {
    let mut v = vec![0u8; MESSAGE];
    for (k, b) in v.iter_mut().enumerate() {
        *b = (k as u32).wrapping_mul(2_654_435_761).wrapping_add(i as u32).to_le_bytes()[0];
    }
    Bytes::from(v)
}

/// `total` bytes from `a` to `b` in 64 KiB messages with `bufferedAmount` flow control, over a link with
/// `loss` and 20 ms one way; `b` takes every message as it comes and checks it. Returns the virtual time
/// it took and the longest time without a delivered message.
fn transfer(seed: u64, loss: f64, total: usize) -> (Duration, Duration) {
    let a = PeerConnection::new(Config::default(), SeededRng::from_seed([seed as u8; 32]));
    let b = PeerConnection::new(Config::default(), SeededRng::from_seed([seed as u8 ^ 0x5a; 32]));
    let mut link = Link::new(a, b, Duration::from_millis(20), loss, seed);
    let chat = link.negotiate();
    let count = total / MESSAGE;
    #[derive(Default)]
    struct App {
        sent: usize,
        received: usize,
        open: bool,
        last_delivery: Instant,
        longest_gap: Duration,
        corrupted: Option<usize>,
    }
    let state = core::cell::RefCell::new(App::default());
    let mut app = |side: Side, pc: &mut PeerConnection, now: Instant, e: Event| {
        let mut st = state.borrow_mut();
        match (side, e) {
            (Side::A, Event::ChannelOpen(id)) if id == chat => {
                st.open = true;
                pc.set_buffered_amount_low_threshold(chat, LOW).unwrap();
                fill(pc, now, chat, &mut st.sent, count);
            }
            (Side::A, Event::BufferedAmountLow(id)) if id == chat => fill(pc, now, chat, &mut st.sent, count),
            (Side::B, Event::Message { data, binary: true, .. }) => {
                if st.corrupted.is_none() && data != payload(st.received) {
                    st.corrupted = Some(st.received);
                }
                st.received += 1;
                st.longest_gap = st.longest_gap.max(now.saturating_duration_since(st.last_delivery));
                st.last_delivery = now;
            }
            (_, Event::ConnectionState(s @ (ConnectionState::Failed | ConnectionState::Closed))) => {
                panic!("{side:?} {s:?}")
            }
            _ => {}
        }
    };
    let start = link.now;
    let end = start + Duration::from_secs(600);
    while state.borrow().received < count {
        let (received, open) = (state.borrow().received, state.borrow().open);
        assert!(link.now < end, "stalled: {received}/{count} messages after {:?} (open {open})", link.now);
        assert!(link.turn(&mut app), "nothing left to wait for with {received}/{count} delivered");
    }
    let st = state.borrow();
    assert_eq!(st.corrupted, None, "message {:?} corrupted", st.corrupted);
    assert_eq!(st.sent, count);
    (link.now.saturating_duration_since(start), st.longest_gap)
}

/// Sends while the buffered amount is below the high-water mark.
fn fill(pc: &mut PeerConnection, now: Instant, chat: ChannelId, sent: &mut usize, count: usize) {
    while *sent < count && pc.buffered_amount(chat) < HIGH {
        pc.send(now, chat, payload(*sent), true).unwrap();
        *sent += 1;
    }
}

#[test]
fn sixty_four_mib_through_a_lossy_link_by_the_readme_loop() {
    let total = 64 * 1024 * 1024;
    let (took, gap) = transfer(7, 0.02, total);
    println!("64 MiB at 2 % loss, 20 ms one way: {took:?} of virtual time, longest gap {gap:?}");
    // No stall: at 2 % loss a gap is a retransmission or two, never the seconds of a backed-off timer.
    assert!(gap < Duration::from_secs(3), "longest gap between messages {gap:?}");
}
