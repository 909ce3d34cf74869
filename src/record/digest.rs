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
//! Construction (version 4; version 5 hashes a condensed transmit's head with its records in one
//! piece, see [`chain_datagram`]): XXH3-128 (the `twox-hash` crate, which picks AVX2 or SSE2 at run time
//! where `std` is on and runs its portable code otherwise; XXH3's output is fixed by its specification,
//! the same on every machine) of `kind ‖ head` (the
//! outcome but for its bulk), xored, when the outcome has a bulk (a transmit's datagram, a message's
//! bytes), with XXH3-128 of the bulk seeded with the first digest's two halves xored, gives two 64-bit
//! words `lo`, `hi`. The bulk is hashed in one pass where it lies (version 3 streamed the whole outcome
//! through XXH3's 600-byte state, which cost more than the hashing on 1,200-byte datagrams). The
//! previous chain's four little-endian words are xored with `lo`, `hi`, `rotl(lo, 32)`, `rotl(hi, 32)`,
//! then two rounds of `s_i = fold(s_i ^ K[i], s_(i+1+round mod 4) ^ K[7-i]) ^ s_i` (`fold(a, b)` the 64 ×
//! 64 → 128-bit product's halves xored, `K` eight fixed odd constants) give the new 32-byte chain: each
//! of its 64-bit words depends on every bit of the previous chain and of the XXH3 digest.

use twox_hash::XxHash3_128;

use super::wire::Head;

fn xxh3_128(data: &[u8]) -> u128 {
    XxHash3_128::oneshot(data)
}

fn xxh3_128_with_seed(data: &[u8], seed: u64) -> u128 {
    XxHash3_128::oneshot_with_seed(seed, data)
}

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

/// The running digest: the previous digest extended by one record, `head` (the record kind and the
/// outcome but for its bulk) and `bulk` (a transmit's datagram or a message's bytes, hashed where they
/// lie, in one pass; empty for other outcomes).
pub fn chain(prev: &[u8; 32], head: &[u8], bulk: &[u8]) -> [u8; 32] {
    let mut d = xxh3_128(head);
    if !bulk.is_empty() {
        d ^= xxh3_128_with_seed(bulk, (d as u64) ^ ((d >> 64) as u64));
    }
    mix(prev, d)
}

/// Records of a datagram condensed at most (more are hashed whole).
const CONDENSED_RECORDS: usize = 3;
/// What [`condense`] keeps of a record: its header, explicit nonce and tag.
const CONDENSED_LEN: usize = 13 + 8 + 16;

/// The longest head [`chain_datagram`] digests in one piece with a condensed datagram (a transmit's head
/// between IPv6 addresses is 59 bytes).
const HEAD_MAX: usize = 64;

/// [`chain`] for a transmit, whose datagram is its bulk. A datagram of DTLS 1.2 records all in an epoch
/// past 0 (the data-channel path) is digested by each record's header, explicit nonce and AEAD tag, not
/// its ciphertext: every suite sansrtc negotiates is AES-GCM, whose tag authenticates the ciphertext
/// under a key and nonce that the header and nonce (and the seed) fix, so two runs that sent different
/// bytes give different tags, as they would different digests. The head and what is kept of the
/// records are hashed as one string, in one pass (the head's encoding says where it ends). This keeps
/// the digest off the bulk of what a connection sends; any other datagram is hashed whole.
pub fn chain_datagram(prev: &[u8; 32], head: &[u8], datagram: &[u8]) -> [u8; 32] {
    if head.len() > HEAD_MAX {
        return chain(prev, head, datagram);
    }
    let mut view = TransmitView::new();
    view.put(head);
    chain_transmit(prev, &mut view, datagram)
}

/// Room for a transmit's head and its condensed records.
pub type TransmitView = Head<{ HEAD_MAX + CONDENSED_LEN * CONDENSED_RECORDS }>;

/// [`chain_datagram`] with the head already written in `view` (where the records are condensed after
/// it, so it is not copied).
pub fn chain_transmit(prev: &[u8; 32], view: &mut TransmitView, datagram: &[u8]) -> [u8; 32] {
    if condense(datagram, view) { mix(prev, xxh3_128(view.bytes())) } else { chain(prev, view.bytes(), datagram) }
}

/// Appends the header, explicit nonce and tag of each record of `datagram` to `view` (each in one
/// fixed-size piece); `false`, with `view` as it was, unless the datagram is made of at most
/// [`CONDENSED_RECORDS`] whole DTLS 1.2 records, each in an epoch past 0.
fn condense(mut datagram: &[u8], view: &mut TransmitView) -> bool {
    let head = view.len();
    let mut records = 0;
    while !datagram.is_empty() {
        let kept = (records < CONDENSED_RECORDS).then(|| condense_record(datagram)).flatten();
        let Some((record, len)) = kept else {
            view.truncate(head);
            return false;
        };
        view.put(&record);
        records += 1;
        datagram = datagram.get(len..).unwrap_or_default();
    }
    true
}

/// The header, explicit nonce and tag of the DTLS 1.2 record at the start of `datagram`, and its
/// length; `None` unless it is whole, in an epoch past 0, and long enough for a nonce and a tag.
#[inline]
fn condense_record(datagram: &[u8]) -> Option<([u8; CONDENSED_LEN], usize)> {
    let header: &[u8; 21] = datagram.first_chunk()?;
    let [ty, v0, v1, e0, e1, _, _, _, _, _, _, l0, l1, ..] = *header;
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    if !(20..=26).contains(&ty) || [v0, v1] != [0xfe, 0xfd] || [e0, e1] == [0, 0] || len < 8 + 16 {
        return None;
    }
    let tag: &[u8; 16] = datagram.get(..13 + len)?.last_chunk()?;
    let mut out = [0u8; CONDENSED_LEN];
    let (h, t) = out.split_at_mut(21);
    h.copy_from_slice(header);
    t.copy_from_slice(tag);
    Some((out, 13 + len))
}

/// Folds a record's 128-bit XXH3 digest into the previous chain.
fn mix(prev: &[u8; 32], d: u128) -> [u8; 32] {
    let (lo, hi) = (d as u64, (d >> 64) as u64);
    let mut s = [0u64; 4];
    for (w, c) in s.iter_mut().zip(prev.chunks_exact(8)) {
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

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use alloc::collections::BTreeSet;
    use alloc::vec::Vec;

    use super::*;

    /// A DTLS 1.2 record of `len` body bytes in `epoch`, its bytes from `fill`.
    fn record(epoch: u16, len: usize, fill: u8) -> Vec<u8> {
        let mut r = alloc::vec![23, 0xfe, 0xfd];
        r.extend_from_slice(&epoch.to_be_bytes());
        r.extend_from_slice(&[0, 0, 0, 0, 0, 7]);
        r.extend_from_slice(&(len as u16).to_be_bytes());
        r.extend((0..len).map(|i| fill.wrapping_add(i as u8)));
        r
    }

    #[test]
    fn protected_records_are_digested_by_header_nonce_and_tag() {
        let prev = [5; 32];
        let one = record(1, 1200, 0);
        // Header, nonce and tag decide; the ciphertext between them does not enter the digest.
        let mut same_tag = one.clone();
        same_tag[13 + 8 + 100] ^= 1;
        assert_eq!(chain_datagram(&prev, &[0x12], &one), chain_datagram(&prev, &[0x12], &same_tag));
        for at in [0, 4, 12, 13, 20, one.len() - 16, one.len() - 1] {
            let mut d = one.clone();
            d[at] ^= 1;
            assert_ne!(chain_datagram(&prev, &[0x12], &one), chain_datagram(&prev, &[0x12], &d), "byte {at}");
        }
        // The head counts too.
        assert_ne!(chain_datagram(&prev, &[0x12], &one), chain_datagram(&prev, &[0x12, 0], &one));
        // Two records condense too; epoch 0, a fourth record, a torn record or another version hash whole.
        let two = [record(1, 100, 1), record(1, 50, 2)].concat();
        let condensed = |d: &[u8]| {
            let mut v = TransmitView::new();
            v.put(&[0x12]);
            condense(d, &mut v).then(|| v.len() - 1)
        };
        assert_eq!(condensed(&two), Some(2 * CONDENSED_LEN));
        let four = [record(1, 30, 1), record(1, 30, 2), record(1, 30, 3), record(1, 30, 4)].concat();
        assert_eq!(condensed(&four[..four.len() / 4 * 3]), Some(3 * CONDENSED_LEN));
        assert_eq!(condensed(&four), None);
        assert_eq!(condensed(&record(0, 100, 1)), None);
        assert_eq!(condensed(&one[..one.len() - 1]), None);
        let mut v10 = one.clone();
        v10[2] = 0xff;
        assert_eq!(condensed(&v10), None);
        for d in [&four[..], &record(0, 100, 1), &one[..one.len() - 1], &v10] {
            assert_eq!(chain_datagram(&prev, &[0x12], d), chain(&prev, &[0x12], d));
        }
    }

    #[test]
    fn bulk_is_its_own_part() {
        // Where the head ends and the bulk begins is part of what is digested, and an empty bulk adds
        // nothing.
        let data: Vec<u8> = (0..200u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut seen = BTreeSet::new();
        for cut in [1, 2, 31, 64, 150, 199, 200] {
            assert!(seen.insert(chain(&[1; 32], &data[..cut], &data[cut..])), "cut at {cut}");
        }
        assert_eq!(chain(&[1; 32], &data, &[]), chain(&[1; 32], &data, b""));
        assert_ne!(chain(&[1; 32], &data[..1], &data[1..]), chain(&[1; 32], &data, &[]));
    }

    #[test]
    fn xxh3_is_the_specified_one() {
        // XXH3-128 of the empty input and of one zero byte, as the reference implementation gives them:
        // the digest is the same on every machine and with every SIMD back end.
        assert_eq!(xxh3_128(b""), 0x99aa_06d3_0147_98d8_6001_c324_468d_497f);
        assert_eq!(xxh3_128(&[0]), 0xa6cd_5e93_9200_0f6a_c44b_dff4_074e_ecdb);
    }

    #[test]
    fn every_bit_matters() {
        // Every single-bit change of the input, the previous digest, the kind or the length gives a new
        // digest, and no two of them collide, even in 64 of their bits.
        let data = [0u8; 70];
        let mut seen = BTreeSet::new();
        assert!(seen.insert(chain(&[0; 32], &[0], &data)[..8].to_vec()));
        for i in 0..data.len() * 8 {
            let mut d = data;
            d[i / 8] ^= 1 << (i % 8);
            assert!(seen.insert(chain(&[0; 32], &[0], &d)[..8].to_vec()), "data bit {i}");
        }
        for i in 0..256 {
            let mut p = [0u8; 32];
            p[i / 8] ^= 1 << (i % 8);
            assert!(seen.insert(chain(&p, &[0], &data)[..8].to_vec()), "previous digest bit {i}");
        }
        for k in 1..=255 {
            assert!(seen.insert(chain(&[0; 32], &[k], &data)[..8].to_vec()), "kind {k}");
        }
        for n in 0..data.len() {
            assert!(seen.insert(chain(&[0; 32], &[0], &data[..n])[..8].to_vec()), "length {n}");
        }
    }

    #[test]
    fn output_bits_are_balanced() {
        // Over many inputs each output bit is set about half the time.
        let mut ones = [0u32; 256];
        let n = 2000u32;
        for i in 0..n {
            let d = chain(&[0; 32], &[1], &i.to_le_bytes());
            for (bit, count) in ones.iter_mut().enumerate() {
                *count += u32::from(d[bit / 8] >> (bit % 8) & 1);
            }
        }
        for (bit, count) in ones.iter().enumerate() {
            assert!((800..1200).contains(count), "bit {bit} set {count} times in {n}");
        }
    }
}
