//! A small benchmark harness: time a closure, report ns per iteration, and compare two implementations
//! measured in the same run.
//!
//! Every comparison benchmark in this workspace uses it so that figures are printed the same way:
//!
//! ```text
//! stun/encode            sansrtc      123.4 ns/iter   stun-types      260.1 ns/iter   ratio 2.11x
//! ```
//!
//! Set `SANSRTC_BENCH_QUICK=1` (CI does) for a short run that still exercises every path.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// One measurement: the median of several timed batches.
#[derive(Clone, Copy, Debug)]
pub struct Measurement {
    /// Median nanoseconds per iteration over the batches.
    pub ns_per_iter: f64,
    /// How many iterations were timed in all.
    pub iterations: u64,
}

impl Measurement {
    /// Iterations per second implied by the median.
    pub fn per_second(&self) -> f64 {
        1e9 / self.ns_per_iter
    }

    /// Throughput in MB/s (10^6 bytes) when each iteration moves `bytes`.
    pub fn mb_per_s(&self, bytes: usize) -> f64 {
        bytes as f64 * self.per_second() / 1e6
    }
}

/// Whether the short CI mode is on.
pub fn quick() -> bool {
    std::env::var_os("SANSRTC_BENCH_QUICK").is_some_and(|v| v != "0")
}

fn budget() -> (Duration, usize) {
    if quick() { (Duration::from_millis(20), 3) } else { (Duration::from_millis(300), 11) }
}

/// Times `f`, returning the median over several batches. `f` should return something derived from its work
/// so the optimiser cannot drop it; the result is passed through [`black_box`].
pub fn measure<R>(mut f: impl FnMut() -> R) -> Measurement {
    let (target, batches) = budget();
    // Calibrate: grow the batch until one batch takes about target / batches.
    let per_batch = target / batches as u32;
    let mut n: u64 = 1;
    loop {
        let start = Instant::now();
        for _ in 0..n {
            black_box(f());
        }
        let took = start.elapsed();
        if took >= per_batch || n >= 1 << 30 {
            break;
        }
        n = if took.is_zero() {
            n * 16
        } else {
            (n * 2).max((n as f64 * per_batch.as_secs_f64() / took.as_secs_f64()) as u64)
        };
    }
    let mut samples = Vec::with_capacity(batches);
    for _ in 0..batches {
        let start = Instant::now();
        for _ in 0..n {
            black_box(f());
        }
        samples.push(start.elapsed().as_nanos() as f64 / n as f64);
    }
    samples.sort_by(f64::total_cmp);
    Measurement { ns_per_iter: samples[samples.len() / 2], iterations: n * batches as u64 }
}

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

unsafe extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

/// CPU time consumed by the calling thread, in nanoseconds (Linux `CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_ns() -> u64 {
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: clock_gettime writes one timespec; 3 is CLOCK_THREAD_CPUTIME_ID on Linux.
    unsafe { clock_gettime(3, &mut ts) };
    ts.sec as u64 * 1_000_000_000 + ts.nsec as u64
}

/// Like [`measure`] (median of batches, same budget and quick mode) but timed in the calling thread's CPU
/// time, so that other processes on a shared machine do not inflate the figures. Calibrates and warms up
/// with [`measure`] first.
pub fn measure_cpu<R>(mut f: impl FnMut() -> R) -> Measurement {
    let wall = measure(&mut f);
    let (_, batches) = budget();
    let n = (wall.iterations / batches as u64).max(1);
    let mut samples = Vec::with_capacity(batches);
    for _ in 0..batches {
        let start = thread_cpu_ns();
        for _ in 0..n {
            black_box(f());
        }
        samples.push((thread_cpu_ns() - start) as f64 / n as f64);
    }
    samples.sort_by(f64::total_cmp);
    Measurement { ns_per_iter: samples[samples.len() / 2], iterations: n * batches as u64 }
}

/// Prints one measurement on its own line.
pub fn report(name: &str, who: &str, m: Measurement) {
    println!("{name:<34} {who:<12} {:>12.1} ns/iter  {:>14.0} /s", m.ns_per_iter, m.per_second());
}

/// Prints ours and theirs side by side with the speed ratio (theirs time / our time: above 1 means faster).
pub fn compare(name: &str, ours: Measurement, other: &str, theirs: Measurement) -> f64 {
    let ratio = theirs.ns_per_iter / ours.ns_per_iter;
    println!(
        "{name:<34} sansrtc {:>10.1} ns/iter   {other:<12} {:>10.1} ns/iter   ratio {ratio:.2}x",
        ours.ns_per_iter, theirs.ns_per_iter
    );
    ratio
}
