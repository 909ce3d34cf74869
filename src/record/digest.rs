//! The running digest of a journal's outputs: a fast 256-bit chain, not a cryptographic one.
//!
//! The digest answers one question: did two runs give the same outputs? It must not collide by accident
//! (a replay that diverges must say so), and it runs over every byte a recorded connection sends and
//! every message it delivers, so it must cost little next to the AES-GCM the connection already spends on
//! those bytes. It is not meant to resist someone crafting a collision: a journal is trusted input to a
//! developer's replay, and a crafted journal can simply hold the digests it likes. SHA-256 (format
//! version 1) cost more than half the throughput of a recorded connection; the hand-written multiply-fold
//! hash of version 2 ran at about 6 GB/s, still the largest part of what a digest journal cost.
//!
//! Construction (version 3): XXH3-128 (the `xxhash-rust` crate, its SIMD code chosen at compile time;
//! XXH3's output is fixed by its specification, the same on every machine) of `kind ‖ outcome` gives two
//! 64-bit words `lo`, `hi`; the previous chain's four little-endian words are xored with `lo`, `hi`,
//! `rotl(lo, 32)`, `rotl(hi, 32)`, then two rounds of `s_i = fold(s_i ^ K[i], s_(i+1+round mod 4) ^
//! K[7-i]) ^ s_i` (`fold(a, b)` the 64 × 64 → 128-bit product's halves xored, `K` eight fixed odd
//! constants) give the new 32-byte chain: each of its 64-bit words depends on every bit of the previous
//! chain and of the XXH3 digest.

use core::fmt;

use xxhash_rust::xxh3::{Xxh3Default, xxh3_128};

/// Odd 64-bit constants (digits of π and e), one per lane and step.
const K: [u64; 8] = [
    0x243F_6A88_85A3_08D3,
    0x1319_8A2E_0370_7344,
    0xA409_3822_299F_31D0,
    0x082E_FA98_EC4E_6C89,
    0xB7E1_5162_8AED_2A6B,
    0xBF71_5880_9CF4_F3C7,
    0x62E7_160F_38B4_DA57,
    0xA784_D904_5190_CFEF,
];

/// The 128-bit product of `a` and `b`, its halves folded with xor.
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Outcomes up to this length are gathered and hashed in one go (most are a few bytes: a result and a
/// deadline); longer ones go through XXH3's streaming state. Both give the same XXH3 digest.
const SMALL: usize = 64;

/// A running digest being extended by one call's kind and outcome: [`Chain::update`] any number of times,
/// then [`Chain::finish`].
#[derive(Clone)]
pub struct Chain {
    prev: [u8; 32],
    small: [u8; SMALL],
    filled: usize,
    long: Option<Xxh3Default>,
}

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chain").finish_non_exhaustive()
    }
}

impl Chain {
    /// Starts from the previous digest.
    pub fn new(prev: &[u8; 32]) -> Chain {
        Chain { prev: *prev, small: [0; SMALL], filled: 0, long: None }
    }

    pub fn update(&mut self, data: &[u8]) {
        if let Some(h) = self.long.as_mut() {
            h.update(data);
            return;
        }
        let end = self.filled + data.len();
        if let Some(dst) = self.small.get_mut(self.filled..end) {
            dst.copy_from_slice(data);
            self.filled = end;
            return;
        }
        let mut h = Xxh3Default::new();
        h.update(self.small.get(..self.filled).unwrap_or(&[]));
        h.update(data);
        self.long = Some(h);
    }

    /// The new digest.
    pub fn finish(self) -> [u8; 32] {
        let d = match self.long.as_ref() {
            Some(h) => h.digest128(),
            None => xxh3_128(self.small.get(..self.filled).unwrap_or(&[])),
        };
        let (lo, hi) = (d as u64, (d >> 64) as u64);
        let mut s = [0u64; 4];
        for (w, c) in s.iter_mut().zip(self.prev.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            *w = u64::from_le_bytes(b);
        }
        let [a, b, c, e] = s;
        let mut s = [a ^ lo, b ^ hi, c ^ lo.rotate_left(32), e ^ hi.rotate_left(32)];
        for round in 0..2 {
            let t = s;
            for (i, out) in s.iter_mut().enumerate() {
                let x = t.get(i).copied().unwrap_or(0);
                let y = t.get((i + 1 + round) % 4).copied().unwrap_or(0);
                *out = fold_mul(x ^ K.get(i).copied().unwrap_or(1), y ^ K.get(7 - i).copied().unwrap_or(1)) ^ x;
            }
        }
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(8).zip(s) {
            o.copy_from_slice(&w.to_le_bytes());
        }
        out
    }
}

/// The running digest: the previous digest extended by the call's kind and its outcome.
pub fn chain(prev: &[u8; 32], kind: u8, outcome: &[u8]) -> [u8; 32] {
    let mut c = Chain::new(prev);
    c.update(&[kind]);
    c.update(outcome);
    c.finish()
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use alloc::collections::BTreeSet;
    use alloc::vec::Vec;

    use super::*;

    #[test]
    fn pieces_hash_as_the_whole() {
        let data: Vec<u8> = (0..200u32).map(|i| (i * 7 + 3) as u8).collect();
        let whole = chain(&[1; 32], 9, &data);
        for cut in [0, 1, 31, 32, 33, 64, 150, 199, 200] {
            let mut c = Chain::new(&[1; 32]);
            c.update(&[9]);
            c.update(&data[..cut]);
            c.update(&data[cut..]);
            assert_eq!(c.finish(), whole, "cut at {cut}");
        }
    }

    #[test]
    fn xxh3_is_the_specified_one() {
        // XXH3-128 of the empty input and of one zero byte, as the reference implementation gives them:
        // the digest is the same on every machine and with every SIMD back end.
        assert_eq!(xxh3_128(b""), 0x99aa_06d3_0147_98d8_6001_c324_468d_497f);
        assert_eq!(xxh3_128(&[0]), 0xa6cd_5e93_9200_0f6a_c44b_dff4_074e_ecdb);
    }

    #[test]
    fn short_and_long_outcomes_hash_as_one() {
        // Up to `SMALL` bytes are gathered, past it streamed: the split never shows in the digest.
        let data: Vec<u8> = (0..3000u32).map(|i| (i * 13 + 5) as u8).collect();
        for len in [0, 1, SMALL - 1, SMALL, SMALL + 1, 240, 241, 1200, 3000] {
            let whole = chain(&[3; 32], 0x12, &data[..len]);
            for cut in [0, 1, SMALL - 2, SMALL, len / 2, len] {
                let cut = cut.min(len);
                let mut c = Chain::new(&[3; 32]);
                c.update(&[0x12]);
                c.update(&data[..cut]);
                c.update(&data[cut..len]);
                assert_eq!(c.finish(), whole, "len {len} cut at {cut}");
            }
        }
    }

    #[test]
    fn every_bit_matters() {
        // Every single-bit change of the input, the previous digest, the kind or the length gives a new
        // digest, and no two of them collide, even in 64 of their bits.
        let data = [0u8; 70];
        let mut seen = BTreeSet::new();
        assert!(seen.insert(chain(&[0; 32], 0, &data)[..8].to_vec()));
        for i in 0..data.len() * 8 {
            let mut d = data;
            d[i / 8] ^= 1 << (i % 8);
            assert!(seen.insert(chain(&[0; 32], 0, &d)[..8].to_vec()), "data bit {i}");
        }
        for i in 0..256 {
            let mut p = [0u8; 32];
            p[i / 8] ^= 1 << (i % 8);
            assert!(seen.insert(chain(&p, 0, &data)[..8].to_vec()), "previous digest bit {i}");
        }
        for k in 1..=255 {
            assert!(seen.insert(chain(&[0; 32], k, &data)[..8].to_vec()), "kind {k}");
        }
        for n in 0..data.len() {
            assert!(seen.insert(chain(&[0; 32], 0, &data[..n])[..8].to_vec()), "length {n}");
        }
    }

    #[test]
    fn output_bits_are_balanced() {
        // Over many inputs each output bit is set about half the time.
        let mut ones = [0u32; 256];
        let n = 2000u32;
        for i in 0..n {
            let d = chain(&[0; 32], 1, &i.to_le_bytes());
            for (bit, count) in ones.iter_mut().enumerate() {
                *count += u32::from(d[bit / 8] >> (bit % 8) & 1);
            }
        }
        for (bit, count) in ones.iter().enumerate() {
            assert!((800..1200).contains(count), "bit {bit} set {count} times in {n}");
        }
    }
}
