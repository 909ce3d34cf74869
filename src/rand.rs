//! Injected randomness.
//!
//! Every state machine owns a [`SeededRng`]: a ChaCha20 stream generator seeded at construction from a
//! caller-given 32-byte seed or from a caller-supplied `rand_core` crypto RNG. Nothing in the library reads
//! a global or OS random source, so the same seed and the same timestamped inputs give byte-identical
//! outputs. With the `std` feature, [`SeededRng::from_os`] is a convenience for applications that do not
//! need reproducibility.
//!
//! A machine that builds sub-machines gives each a child generator from [`SeededRng::fork`], so adding draws
//! to one layer does not shift the bytes another layer sees.

use core::convert::Infallible;
use core::time::Duration;

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, Rng as _, SeedableRng, TryCryptoRng, TryRng};

/// A 32-byte seed for [`SeededRng`].
pub type Seed = [u8; 32];

/// A deterministic cryptographically secure generator (ChaCha20).
///
/// Implements `rand_core`'s [`TryRng`] and [`TryCryptoRng`] (and so `Rng` and `CryptoRng`), so it can be
/// handed to the RustCrypto key generators directly.
///
/// It holds the seed and its position in the stream (48 octets), not ChaCha20's 256-octet output buffer:
/// every layer of every connection owns one and draws rarely (identifiers, keys, timer jitter), so each
/// draw recomputes the block it reads from instead. The stream is `rand_chacha`'s `ChaCha20Rng`, word
/// for word.
#[derive(Clone, PartialEq, Eq)]
pub struct SeededRng {
    seed: Seed,
    /// The offset in the stream, in 32-bit words (`ChaCha20Rng::get_word_pos`).
    word_pos: u128,
}

impl core::fmt::Debug for SeededRng {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SeededRng").field("word_pos", &self.word_pos).finish_non_exhaustive()
    }
}

impl SeededRng {
    /// A generator whose whole output is fixed by `seed`.
    pub fn from_seed(seed: Seed) -> Self {
        SeededRng { seed, word_pos: 0 }
    }

    /// Draws from the ChaCha20 stream at the current position, and moves past what `draw` took.
    fn draw<T>(&mut self, draw: impl FnOnce(&mut ChaCha20Rng) -> T) -> T {
        let mut rng = ChaCha20Rng::from_seed(self.seed);
        rng.set_word_pos(self.word_pos);
        let out = draw(&mut rng);
        self.word_pos = rng.get_word_pos();
        out
    }

    /// A generator seeded with 32 bytes drawn from `rng`.
    pub fn from_rng<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        Self::from_seed(seed)
    }

    /// A generator seeded from the operating system's random source (`std` only). A convenience for
    /// applications; runs seeded this way are not reproducible.
    #[cfg(feature = "std")]
    pub fn from_os() -> Result<Self, getrandom::Error> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)?;
        Ok(Self::from_seed(seed))
    }

    /// A child generator seeded from this one's next 32 bytes.
    pub fn fork(&mut self) -> SeededRng {
        SeededRng::from_rng(self)
    }

    /// The next uniformly random `u32`.
    pub fn u32(&mut self) -> u32 {
        self.draw(|r| r.next_u32())
    }

    /// The next uniformly random `u64`.
    pub fn u64(&mut self) -> u64 {
        self.draw(|r| r.next_u64())
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        self.draw(|r| r.fill_bytes(out));
    }

    /// `N` random bytes.
    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        self.fill(&mut out);
        out
    }

    /// A uniformly random value in `0..bound` (0 when `bound` is 0), without modulo bias.
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            return 0;
        }
        // Lemire's multiply-shift with rejection of the biased low zone.
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let m = u128::from(self.u64()) * u128::from(bound);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// A uniformly random duration in `[low, high]` at nanosecond granularity (`low` when `high <= low`).
    /// Used for randomised timers such as ICE consent checks (RFC 7675 §5.1).
    pub fn duration_between(&mut self, low: Duration, high: Duration) -> Duration {
        let span = high.saturating_sub(low).as_nanos().min(u128::from(u64::MAX - 1)) as u64;
        low + Duration::from_nanos(self.below(span + 1))
    }
}

impl TryRng for SeededRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.u32())
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.u64())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.fill(dst);
        Ok(())
    }
}

impl TryCryptoRng for SeededRng {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_other_seed_differs() {
        let mut a = SeededRng::from_seed([7; 32]);
        let mut b = SeededRng::from_seed([7; 32]);
        let mut c = SeededRng::from_seed([8; 32]);
        let (x, y, z): ([u8; 64], [u8; 64], [u8; 64]) = (a.bytes(), b.bytes(), c.bytes());
        assert_eq!(x, y);
        assert_ne!(x, z);
    }

    #[test]
    fn chacha20_reference_stream() {
        // ChaCha20 with an all-zero key and nonce, block 0 (RFC 8439 §2.3.2 style known answer; the first
        // words of the keystream for the zero key are the widely published 76 b8 e0 ad ...).
        let mut rng = SeededRng::from_seed([0; 32]);
        let first: [u8; 8] = rng.bytes();
        assert_eq!(first, [0x76, 0xb8, 0xe0, 0xad, 0xa0, 0xf1, 0x3d, 0x90]);
    }

    #[test]
    fn the_stream_is_chacha20rngs_word_for_word() {
        // Mixed draws (odd byte counts consume whole words; u64s straddle ChaCha20Rng's 64-word buffer),
        // taken from the compact generator and from `ChaCha20Rng` itself.
        let mut ours = SeededRng::from_seed([5; 32]);
        let mut reference = ChaCha20Rng::from_seed([5; 32]);
        for i in 0..500usize {
            match i % 4 {
                0 => assert_eq!(ours.u32(), reference.next_u32()),
                1 => assert_eq!(ours.u64(), reference.next_u64()),
                _ => {
                    let (mut a, mut b) = ([0u8; 77], [0u8; 77]);
                    let n = i % 77;
                    ours.fill(&mut a[..n]);
                    reference.fill_bytes(&mut b[..n]);
                    assert_eq!(a, b);
                }
            }
            assert_eq!(ours.word_pos, reference.get_word_pos());
        }
        assert!(core::mem::size_of::<SeededRng>() <= 48);
    }

    #[test]
    fn forks_are_independent_and_deterministic() {
        let mut parent1 = SeededRng::from_seed([1; 32]);
        let mut parent2 = SeededRng::from_seed([1; 32]);
        let mut child1 = parent1.fork();
        let mut child2 = parent2.fork();
        assert_eq!(child1.u64(), child2.u64());
        assert_ne!(parent1.u64(), child1.u64());
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = SeededRng::from_seed([3; 32]);
        let mut seen = [false; 7];
        for _ in 0..1_000 {
            let v = rng.below(7);
            assert!(v < 7);
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
        assert_eq!(rng.below(0), 0);
        assert_eq!(rng.below(1), 0);
    }

    #[test]
    fn duration_between_is_bounded() {
        let mut rng = SeededRng::from_seed([4; 32]);
        let (lo, hi) = (Duration::from_secs(4), Duration::from_secs(6));
        for _ in 0..1_000 {
            let d = rng.duration_between(lo, hi);
            assert!(d >= lo && d <= hi);
        }
        assert_eq!(rng.duration_between(hi, lo), hi);
    }

    #[test]
    fn from_rng_draws_a_seed() {
        let mut source = SeededRng::from_seed([9; 32]);
        let expected_seed: [u8; 32] = SeededRng::from_seed([9; 32]).bytes();
        assert_eq!(SeededRng::from_rng(&mut source), SeededRng::from_seed(expected_seed));
    }
}
