//! The foundation in one screen: a caller-driven clock and a seeded generator give the same output on every
//! run. (Later layers replace this with two peers connecting over the simulator.)

use core::time::Duration;

use sansrtc::{Instant, SeededRng};

fn main() {
    let mut rng = SeededRng::from_seed([1; 32]);
    let mut now = Instant::ZERO;
    for step in 0..3 {
        // A randomised interval as ICE consent freshness uses (RFC 7675: 4 to 6 seconds).
        let wait = rng.duration_between(Duration::from_secs(4), Duration::from_secs(6));
        now += wait;
        println!("step {step}: at {now} (waited {wait:?})");
    }
}
