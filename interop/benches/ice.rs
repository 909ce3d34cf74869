//! ICE: handling one incoming connectivity check (binding request with USERNAME, PRIORITY,
//! ICE-CONTROLLING, MESSAGE-INTEGRITY, FINGERPRINT) and producing its response, and the agent's memory with
//! 10 local × 10 remote candidates, measured with a counting allocator. No other stack in this workspace
//! exposes a sans-IO ICE agent, so the figures stand alone.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use sansrtc::ice::{Candidate, CandidateKind, Config, Credentials, Foundation, IceAgent, Role};
use sansrtc::stun::{Attribute, Key, MessageBuilder, MessageType, TransactionId};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};
use sansrtc_interop::bench::{measure, report};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
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
    let now = Instant::ZERO;
    for i in 0..locals {
        a.add_local_host(now, SocketAddr::new([10, 0, 0, 1].into(), 5000 + i)).unwrap();
    }
    a.set_remote_credentials(Credentials::new("bbbb", "bbbbbbbbbbbbbbbbbbbbbbbbbb").unwrap());
    for i in 0..remotes {
        let c = Candidate::remote(
            CandidateKind::Host,
            SocketAddr::new([10, 0, 0, 2].into(), 6000 + i),
            2_130_706_175 - u32::from(i),
            Foundation::new("1").unwrap(),
        );
        a.add_remote_candidate(now, c).unwrap();
    }
    while a.poll_event().is_some() {}
    while a.poll_transmit().is_some() {}
    a
}

fn check() -> Vec<u8> {
    let mut buf = Vec::new();
    let mut b = MessageBuilder::new(&mut buf, MessageType::BINDING_REQUEST, TransactionId([7; 12])).unwrap();
    b.add(Attribute::Username("aaaa:bbbb")).unwrap();
    b.add(Attribute::Priority(1_845_501_695)).unwrap();
    b.add(Attribute::IceControlling(5)).unwrap();
    b.message_integrity(&Key::short_term(A_PWD)).unwrap().fingerprint().unwrap();
    b.finish();
    buf
}

fn main() {
    let mut a = agent(1, 1);
    let req = check();
    let d = Datagram {
        source: "10.0.0.2:6000".parse().unwrap(),
        destination: "10.0.0.1:5000".parse().unwrap(),
        contents: &req,
    };
    let mut handle = || {
        let ok = a.handle_receive(Instant::ZERO, d).is_ok();
        let mut n = 0;
        while let Some(t) = a.poll_transmit() {
            n += t.contents.len();
        }
        while a.poll_event().is_some() {}
        (ok, n)
    };
    for _ in 0..100 {
        black_box(handle());
    }
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..10_000 {
        black_box(handle());
    }
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    let m = measure(&mut handle);
    report("ice/binding request -> response", "sansrtc", m);
    println!("{:<34} {:<12} {:>12} allocations in 10000 answered checks", "", "", allocs);

    let live0 = LIVE.load(Ordering::Relaxed);
    let big = agent(10, 10);
    let live = LIVE.load(Ordering::Relaxed) - live0;
    println!(
        "{:<34} {:<12} {:>12} bytes live ({} pairs, {} B agent struct)",
        "ice/agent memory 10x10",
        "sansrtc",
        live + std::mem::size_of::<IceAgent>(),
        big.pairs().count(),
        std::mem::size_of::<IceAgent>()
    );
    drop(big);
}
