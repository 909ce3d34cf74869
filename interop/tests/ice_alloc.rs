//! The ICE agent's per-packet path allocates nothing: answering a connectivity check (parse, verify
//! FINGERPRINT and MESSAGE-INTEGRITY, look up the pair, write the response into a recycled buffer, hand it
//! out) once warmed up. Also bounds the agent's memory with 10 local × 10 remote candidates.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;

use sansrtc::ice::{Candidate, CandidateKind, Config, Credentials, Foundation, IceAgent, Role};
use sansrtc::stun::{Attribute, Class, Key, Message, MessageBuilder, MessageType, TransactionId};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the counters are thread-local so parallel tests do not mix.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        let _ = LIVE.try_with(|c| c.set(c.get() + layout.size() as i64));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE.try_with(|c| c.set(c.get() - layout.size() as i64));
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const A_PWD: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaa";

fn agent(locals: u16, remotes: u16) -> IceAgent {
    let cfg = Config {
        role: Role::Controlled,
        local_credentials: Some(Credentials::new("aaaa", A_PWD).unwrap()),
        ..Config::default()
    };
    let mut a = IceAgent::new(cfg, SeededRng::from_seed([1; 32]));
    for i in 0..locals {
        a.add_local_host(Instant::ZERO, SocketAddr::new([10, 0, 0, 1].into(), 5000 + i)).unwrap();
    }
    a.set_remote_credentials(Credentials::new("bbbb", "bbbbbbbbbbbbbbbbbbbbbbbbbb").unwrap());
    for i in 0..remotes {
        let c = Candidate::remote(
            CandidateKind::Host,
            SocketAddr::new([10, 0, 0, 2].into(), 6000 + i),
            2_130_706_175 - u32::from(i),
            Foundation::new("1").unwrap(),
        );
        a.add_remote_candidate(Instant::ZERO, c).unwrap();
    }
    while a.poll_event().is_some() {}
    while a.poll_transmit().is_some() {}
    a
}

#[test]
fn answering_a_check_does_not_allocate() {
    let mut a = agent(1, 1);
    let mut req = Vec::new();
    let mut b = MessageBuilder::new(&mut req, MessageType::BINDING_REQUEST, TransactionId([7; 12])).unwrap();
    b.add(Attribute::Username("aaaa:bbbb")).unwrap();
    b.add(Attribute::Priority(1_845_501_695)).unwrap();
    b.add(Attribute::IceControlling(5)).unwrap();
    b.message_integrity(&Key::short_term(A_PWD)).unwrap().fingerprint().unwrap();
    b.finish();
    let d = Datagram {
        source: "10.0.0.2:6000".parse().unwrap(),
        destination: "10.0.0.1:5000".parse().unwrap(),
        contents: &req,
    };
    let round = |a: &mut IceAgent, t: u64| {
        a.handle_receive(Instant::from_millis(t), d).unwrap();
        let mut answered = false;
        while let Some(t) = a.poll_transmit() {
            if t.destination == d.source {
                let m = Message::new_checked(t.contents).unwrap();
                answered |= m.class() == Class::Success && m.transaction_id() == TransactionId([7; 12]);
            }
        }
        while a.poll_event().is_some() {}
        answered
    };
    for t in 0..50 {
        assert!(round(&mut a, t));
    }
    let before = ALLOCS.with(Cell::get);
    for t in 50..1_050 {
        assert!(round(&mut a, t));
    }
    let allocs = ALLOCS.with(Cell::get) - before;
    assert_eq!(allocs, 0, "{allocs} allocations answering 1000 checks");
    assert!(a.stats().responses_sent >= 1_050);
}

#[test]
fn memory_with_ten_by_ten_candidates_is_bounded() {
    let live0 = LIVE.with(Cell::get);
    let a = agent(10, 10);
    let live = LIVE.with(Cell::get) - live0;
    assert_eq!(a.pairs().count(), 100);
    let total = live as usize + std::mem::size_of::<IceAgent>();
    println!("agent with 10 local x 10 remote candidates: {total} bytes ({live} heap)");
    assert!(total < 64 * 1024, "{total} bytes");
}
