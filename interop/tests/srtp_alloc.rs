//! Protect and unprotect allocate nothing per packet: counted by a `#[global_allocator]` wrapper.
//!
//! (This lives in `interop/` rather than the library's `tests/` because implementing `GlobalAlloc` needs
//! `unsafe`, which the library package forbids for all its targets.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use sansrtc::srtp::{Config, Profile, Role, Session};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // Only allocations made by the measuring thread count (the test harness has its own threads).
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn counted<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, ALLOCATIONS.load(Ordering::Relaxed) - before)
}

#[test]
fn protect_and_unprotect_allocate_nothing() {
    // The counter works.
    let (_, n) = counted(|| Vec::<u8>::with_capacity(10));
    assert_eq!(n, 1);

    for profile in Profile::ALL {
        let block: Vec<u8> = (0..profile.keying_material_len() as u8).collect();
        let mut a = Session::from_keying_material(profile, &block, Role::Client, Config::default()).unwrap();
        let mut b = Session::from_keying_material(profile, &block, Role::Server, Config::default()).unwrap();
        let mut rtp = Vec::with_capacity(1500);
        let mut rtcp = Vec::with_capacity(1500);
        let mut slice = [0u8; 1500];
        let (ok, allocations) = counted(|| {
            let mut ok = 0;
            for i in 0..1000u32 {
                let seq = (i as u16).wrapping_add(65200); // crosses the wrap
                let ssrc = 1 + i % 8; // new SSRC contexts are created inside the loop too
                rtp.clear();
                rtp.extend_from_slice(&[0x80, 96]);
                rtp.extend_from_slice(&seq.to_be_bytes());
                rtp.extend_from_slice(&i.to_be_bytes());
                rtp.extend_from_slice(&ssrc.to_be_bytes());
                rtp.resize(12 + 1200, 0xab);
                a.protect_rtp(&mut rtp).unwrap();
                b.unprotect_rtp(&mut rtp).unwrap();
                // The slice API too.
                slice[..rtp.len()].copy_from_slice(&rtp);
                slice[8..12].copy_from_slice(&(ssrc + 100).to_be_bytes());
                let n = a.protect_rtp_in_place(&mut slice, 12 + 1200).unwrap_or(0);
                b.unprotect_rtp_in_place(&mut slice[..n]).unwrap();
                // A forged packet and a replay: error paths allocate nothing either.
                slice[n - 1] ^= 1;
                assert!(b.unprotect_rtp_in_place(&mut slice[..n]).is_err());
                rtcp.clear();
                rtcp.extend_from_slice(&[0x80, 201, 0, 1]);
                rtcp.extend_from_slice(&ssrc.to_be_bytes());
                a.protect_rtcp(&mut rtcp).unwrap();
                let mut replay_len = rtcp.len();
                slice[..replay_len].copy_from_slice(&rtcp);
                b.unprotect_rtcp(&mut rtcp).unwrap();
                replay_len = replay_len.min(slice.len());
                assert!(b.unprotect_rtcp_in_place(&mut slice[..replay_len]).is_err());
                ok += 1;
            }
            ok
        });
        assert_eq!(ok, 1000);
        assert_eq!(allocations, 0, "{profile:?}: {allocations} allocations in 1000 packets");
    }
}
