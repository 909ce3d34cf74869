//! The running digest of a journal's outputs: a fast 256-bit hash, not a cryptographic one.
//!
//! The digest answers one question: did two runs give the same outputs? It must not collide by accident
//! (a replay that diverges must say so), and it runs over every byte a recorded connection sends and
//! every message it delivers, so it must cost little next to the AES-GCM the connection already spends on
//! those bytes. It is not meant to resist someone crafting a collision: a journal is trusted input to a
//! developer's replay, and a crafted journal can simply hold the digests it likes. SHA-256 (format
//! version 1) cost more than half the throughput of a recorded connection; this hash costs a few percent.
//!
//! Construction: four 64-bit lanes, seeded from the previous digest. Each 32-byte block feeds one word pair
//! to each lane through a 64 × 64 → 128-bit multiply whose halves are folded (a "multiply-fold" mixer,
//! each output bit depending on every input bit of both words), added to the lane's rotated previous value
//! so that no word pair can cancel the state. The tail is zero-padded and the length mixed in, then each
//! output word mixes two lanes, twice, so that every output bit depends on every input bit.

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

fn word(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let n = b.len().min(8);
    if let (Some(dst), Some(src)) = (w.get_mut(..n), b.get(..n)) {
        dst.copy_from_slice(src);
    }
    u64::from_le_bytes(w)
}

#[inline(always)]
fn block(lanes: &mut [u64; 4], b: &[u8; 32]) {
    let mut words = [0u64; 4];
    for (w, c) in words.iter_mut().zip(b.chunks_exact(8)) {
        *w = word(c);
    }
    for (i, lane) in lanes.iter_mut().enumerate() {
        let w = words.get(i).copied().unwrap_or(0);
        let k = K.get(i).copied().unwrap_or(1);
        *lane = fold_mul(*lane ^ w ^ k, w.rotate_left(32) ^ K.get(i + 4).copied().unwrap_or(1))
            .wrapping_add(lane.rotate_left(23));
    }
}

/// A running digest being extended by one call's kind and outcome: [`Chain::update`] any number of times,
/// then [`Chain::finish`].
#[derive(Clone, Debug)]
pub struct Chain {
    lanes: [u64; 4],
    buf: [u8; 32],
    filled: usize,
    len: u64,
}

impl Chain {
    /// Starts from the previous digest.
    pub fn new(prev: &[u8; 32]) -> Chain {
        let mut lanes = [0u64; 4];
        for (lane, c) in lanes.iter_mut().zip(prev.chunks_exact(8)) {
            *lane = word(c);
        }
        Chain { lanes, buf: [0; 32], filled: 0, len: 0 }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.len = self.len.wrapping_add(data.len() as u64);
        if self.filled > 0 {
            let take = (32 - self.filled).min(data.len());
            let (head, rest) = data.split_at(take);
            if let Some(dst) = self.buf.get_mut(self.filled..self.filled + take) {
                dst.copy_from_slice(head);
            }
            self.filled += take;
            data = rest;
            if self.filled < 32 {
                return;
            }
            let b = self.buf;
            block(&mut self.lanes, &b);
            self.filled = 0;
        }
        let mut blocks = data.chunks_exact(32);
        for b in &mut blocks {
            if let Ok(b) = <&[u8; 32]>::try_from(b) {
                block(&mut self.lanes, b);
            }
        }
        let rest = blocks.remainder();
        if let Some(dst) = self.buf.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        self.filled = rest.len();
    }

    /// The new digest.
    pub fn finish(mut self) -> [u8; 32] {
        if self.filled > 0 {
            if let Some(pad) = self.buf.get_mut(self.filled..) {
                pad.fill(0);
            }
            let b = self.buf;
            block(&mut self.lanes, &b);
        }
        let [a, b, c, d] = self.lanes;
        let len = self.len;
        let mut s = [a ^ len, b, c, d ^ len.rotate_left(17)];
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
