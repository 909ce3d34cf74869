#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::SeededRng;

/// RFC 2198 §3's example: a primary of payload type 0 and a redundant block of type 5 (DVI4) 20 ms (160
/// samples at 8 kHz) earlier.
#[test]
fn rfc2198_example() {
    let redundant = [0xaau8; 12];
    let primary = [0x55u8; 20];
    let mut out = Vec::new();
    let n = write(0, &primary, [(5, 160, &redundant[..])], &mut out).unwrap();
    assert_eq!(n, 4 + 1 + 12 + 20);
    // F=1, PT=5; offset 160 in 14 bits, length 12 in 10 bits; then F=0, PT=0.
    assert_eq!(out[..5], [0x85, 0x02, 0x80, 0x0c, 0x00]);
    let red = RedPayload::new_checked(&out).unwrap();
    assert_eq!(red.redundant_count(), 1);
    let blocks: Vec<RedBlock<'_>> = red.redundant().collect();
    assert_eq!(blocks, [RedBlock { payload_type: 5, timestamp_offset: 160, data: &redundant, offset: 5 }]);
    assert_eq!(red.primary(), RedBlock { payload_type: 0, timestamp_offset: 0, data: &primary, offset: 17 });
}

#[test]
fn primary_alone_and_empty_primary() {
    let mut out = Vec::new();
    write(111, b"opus", core::iter::empty(), &mut out).unwrap();
    assert_eq!(out, b"\x6fopus");
    let red = RedPayload::new_checked(&out).unwrap();
    assert_eq!(red.redundant_count(), 0);
    assert_eq!(red.primary().data, b"opus");
    // A primary header with nothing after it: valid, empty primary.
    assert_eq!(RedPayload::new_checked(&[111]).unwrap().primary().data, b"");
}

#[test]
fn hostile_payloads_are_typed_errors() {
    assert_eq!(RedPayload::new_checked(&[]), Err(RedError::Empty));
    // A redundant header cut short, and one with no primary header after it.
    assert_eq!(RedPayload::new_checked(&[0xef, 0x00, 0x04]), Err(RedError::Truncated));
    assert_eq!(RedPayload::new_checked(&[0xef, 0x00, 0x04, 0x01]), Err(RedError::Truncated));
    // A block length past the end: 1023 octets announced, 3 there.
    assert_eq!(RedPayload::new_checked(&[0xef, 0x03, 0xc3, 0xff, 0x6f, 1, 2, 3]), Err(RedError::BlockPastEnd));
    // Two blocks whose lengths together run past the end.
    let p = [0xef, 0x00, 0x00, 0x02, 0xef, 0x00, 0x00, 0x02, 0x6f, 1, 2, 3];
    assert_eq!(RedPayload::new_checked(&p), Err(RedError::BlockPastEnd));
    // Headers without end.
    let many: Vec<u8> = core::iter::repeat_n([0xef, 0, 0, 0], MAX_BLOCKS).flatten().chain([0x6f]).collect();
    assert_eq!(RedPayload::new_checked(&many), Err(RedError::TooManyBlocks));
    let most: Vec<u8> = core::iter::repeat_n([0xef, 0, 0, 0], MAX_BLOCKS - 1).flatten().chain([0x6f]).collect();
    assert_eq!(RedPayload::new_checked(&most).unwrap().redundant_count(), MAX_BLOCKS - 1);
}

#[test]
fn writing_refuses_what_the_headers_cannot_say() {
    let mut out = Vec::new();
    let long = [0u8; MAX_BLOCK_LEN + 1];
    assert_eq!(write(111, b"x", [(111, 960, &long[..])], &mut out), Err(RedError::BlockTooLong));
    assert_eq!(write(111, b"x", [(111, MAX_TIMESTAMP_OFFSET + 1, &b"y"[..])], &mut out), Err(RedError::OffsetTooLarge));
    assert_eq!(write(128, b"x", core::iter::empty(), &mut out), Err(RedError::BadPayloadType));
    assert_eq!(write(111, b"x", [(200, 960, &b"y"[..])], &mut out), Err(RedError::BadPayloadType));
    let blocks = vec![(111u8, 960u32, &b"y"[..]); MAX_BLOCKS];
    assert_eq!(write(111, b"x", blocks, &mut out), Err(RedError::TooManyBlocks));
    write(111, b"x", [(111, MAX_TIMESTAMP_OFFSET, &[7u8; MAX_BLOCK_LEN][..])], &mut out).unwrap();
    let red = RedPayload::new_checked(&out).unwrap();
    let b = red.redundant().next().unwrap();
    assert_eq!((b.timestamp_offset, b.data.len()), (MAX_TIMESTAMP_OFFSET as u16, MAX_BLOCK_LEN));
}

/// Property: any blocks the format can carry come back as written.
#[test]
fn random_round_trips() {
    let mut rng = SeededRng::from_seed([21; 32]);
    for _ in 0..2000 {
        let n = rng.below(MAX_BLOCKS as u64) as usize;
        let mut blocks: Vec<(u8, u32, Vec<u8>)> = Vec::new();
        for _ in 0..n {
            let mut data = vec![0u8; rng.below(40) as usize];
            rng.fill(&mut data);
            blocks.push((rng.below(128) as u8, rng.below(u64::from(MAX_TIMESTAMP_OFFSET) + 1) as u32, data));
        }
        let mut primary = vec![0u8; rng.below(300) as usize];
        rng.fill(&mut primary);
        let pt = rng.below(128) as u8;
        let mut out = Vec::new();
        write(pt, &primary, blocks.iter().map(|(p, o, d)| (*p, *o, &d[..])), &mut out).unwrap();
        let red = RedPayload::new_checked(&out).unwrap();
        let back: Vec<(u8, u32, Vec<u8>)> =
            red.redundant().map(|b| (b.payload_type, u32::from(b.timestamp_offset), b.data.to_vec())).collect();
        assert_eq!(back, blocks);
        for b in red.redundant().chain([red.primary()]) {
            assert_eq!(&out[b.offset..b.offset + b.data.len()], b.data);
        }
        assert_eq!((red.primary().payload_type, red.primary().data), (pt, &primary[..]));
    }
}

/// Property: random bytes never panic, and what is accepted is consistent (blocks inside the payload,
/// in order, the primary running to the end).
#[test]
fn random_bytes_never_panic() {
    let mut rng = SeededRng::from_seed([22; 32]);
    let mut decoder = RedDecoder::new();
    for i in 0..20_000u64 {
        let mut data = vec![0u8; rng.below(64) as usize];
        rng.fill(&mut data);
        // Bias towards plausible headers: lengths small.
        if data.len() > 3 && rng.below(2) == 0 {
            data[0] |= 0x80;
            data[2] &= 0x03;
            data[3] &= 0x0f;
        }
        if let Ok(red) = RedPayload::new_checked(&data) {
            let mut end = red.redundant_count() * 4 + 1;
            for b in red.redundant() {
                assert_eq!(b.offset, end);
                end += b.data.len();
            }
            assert_eq!(red.primary().offset, end);
            assert_eq!(end + red.primary().data.len(), data.len());
        }
        let _ = decoder.receive(i, (i as u32).wrapping_mul(960), &data, &mut |u| {
            assert!(u.offset + u.data.len() <= data.len());
        });
    }
}

/// A stream of Opus-like payloads, 20 ms apart.
fn payload(i: u32) -> Vec<u8> {
    let mut p = vec![0x78u8; 20 + (i % 7) as usize];
    p[1..5].copy_from_slice(&i.to_be_bytes());
    p
}

#[test]
fn encoder_repeats_the_last_payloads() {
    let mut enc = RedEncoder::new(2, 1200);
    let red = enc.encode(111, 1000, &payload(0)).unwrap().to_vec();
    assert_eq!(RedPayload::new_checked(&red).unwrap().redundant_count(), 0);
    let red = enc.encode(111, 1960, &payload(1)).unwrap().to_vec();
    let r = RedPayload::new_checked(&red).unwrap();
    let blocks: Vec<(u16, &[u8])> = r.redundant().map(|b| (b.timestamp_offset, b.data)).collect();
    assert_eq!(blocks, [(960, &payload(0)[..])]);
    enc.encode(111, 2920, &payload(2)).unwrap();
    let red = enc.encode(111, 3880, &payload(3)).unwrap().to_vec();
    let r = RedPayload::new_checked(&red).unwrap();
    let blocks: Vec<(u16, Vec<u8>)> = r.redundant().map(|b| (b.timestamp_offset, b.data.to_vec())).collect();
    assert_eq!(blocks, [(1920, payload(1)), (960, payload(2))]);
    assert_eq!(r.primary().data, payload(3));
    assert_eq!(r.primary().payload_type, 111);
}

#[test]
fn encoder_leaves_out_what_does_not_fit() {
    let mut enc = RedEncoder::new(3, 1200);
    enc.encode(111, 0, &payload(0)).unwrap();
    // 20 000 samples later: beyond the 14-bit offset, not repeated.
    let red = enc.encode(111, 20_000, &payload(1)).unwrap().to_vec();
    assert_eq!(RedPayload::new_checked(&red).unwrap().redundant_count(), 0);
    // The same timestamp again (no offset to give): not repeated either.
    let red = enc.encode(111, 20_000, &payload(2)).unwrap().to_vec();
    assert_eq!(RedPayload::new_checked(&red).unwrap().redundant_count(), 0);
    // A size bound: only the newest kept payload fits next to a large primary.
    let mut enc = RedEncoder::new(3, 200);
    enc.encode(111, 0, &[1; 60]).unwrap();
    enc.encode(111, 960, &[2; 60]).unwrap();
    let red = enc.encode(111, 1920, &[3; 100]).unwrap().to_vec();
    let r = RedPayload::new_checked(&red).unwrap();
    assert_eq!(r.redundant().map(|b| b.data[0]).collect::<Vec<_>>(), [2]);
    assert!(red.len() <= 200);
    // Distance 0: a primary alone, always.
    let mut enc = RedEncoder::new(0, 1200);
    enc.encode(111, 0, &payload(0)).unwrap();
    let red = enc.encode(111, 960, &payload(1)).unwrap().to_vec();
    assert_eq!(red[0], 111);
    assert_eq!(RedEncoder::new(100, 1200).distance(), MAX_DISTANCE);
}

/// Collects what a decoder hands over for one packet: (sequence number, timestamp, data, recovered).
fn unwrap_all(dec: &mut RedDecoder, seq: u64, ts: u32, red: &[u8]) -> Vec<(u64, u32, Vec<u8>, bool)> {
    let mut out = Vec::new();
    dec.receive(seq, ts, red, &mut |u| out.push((u.sequence_number, u.timestamp, u.data.to_vec(), u.recovered)))
        .unwrap();
    out
}

#[test]
fn decoder_recovers_lost_packets_once() {
    let mut enc = RedEncoder::new(2, 1200);
    let packets: Vec<Vec<u8>> = (0..8).map(|i| enc.encode(111, i * 960, &payload(i)).unwrap().to_vec()).collect();
    let mut dec = RedDecoder::new();
    let mut got = Vec::new();
    // Packets 2 and 3 lost, 5 lost, 6 arrives twice, 3 arrives late at the end.
    for i in [0u32, 1, 4, 6, 6, 7, 3] {
        got.extend(unwrap_all(&mut dec, 100 + u64::from(i), i * 960, &packets[i as usize]));
    }
    let seqs: Vec<(u64, bool)> = got.iter().map(|g| (g.0, g.3)).collect();
    assert_eq!(
        seqs,
        [(100, false), (101, false), (102, true), (103, true), (104, false), (105, true), (106, false), (107, false)]
    );
    for (seq, ts, data, _) in &got {
        let i = (*seq - 100) as u32;
        assert_eq!((*ts, data), (i * 960, &payload(i)));
    }
    assert_eq!(dec.recovered(), 3);
    // Packet 6 twice (its primary and its redundancy), 7's copy of 6, 3 late; 4's copy of 3 and 2 were
    // recoveries, 6's copy of 5 too.
    assert!(dec.duplicates() >= 4, "{}", dec.duplicates());
}

#[test]
fn decoder_drops_very_late_packets_and_follows_a_restart() {
    let mut dec = RedDecoder::new();
    let mut enc = RedEncoder::new(1, 1200);
    let packets: Vec<Vec<u8>> = (0..40).map(|i| enc.encode(111, i * 960, &payload(i)).unwrap().to_vec()).collect();
    for i in 1..40u32 {
        unwrap_all(&mut dec, u64::from(i), i * 960, &packets[i as usize]);
    }
    // Packet 0 now: older than every timestamp remembered, dropped.
    assert!(unwrap_all(&mut dec, 0, 0, &packets[0]).is_empty());
    // A restarted stream far behind is followed.
    let got = unwrap_all(&mut dec, 41, 3_000_000_000, &[111, 9, 9]);
    assert_eq!(got, [(41, 3_000_000_000, vec![9, 9], false)]);
}

#[test]
fn decoder_counts_malformed_payloads() {
    let mut dec = RedDecoder::new();
    let mut n = 0;
    assert_eq!(dec.receive(1, 0, &[0xef, 0x03, 0xc3, 0xff, 0x6f], &mut |_| n += 1), Err(RedError::BlockPastEnd));
    assert_eq!(n, 0);
    assert_eq!(dec.errors(), 1);
}
