#![allow(clippy::indexing_slicing)]

use alloc::vec;
use alloc::vec::Vec;

use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn crc32c_known_answers_from_vectors() {
    let text = include_str!("../../../vectors/sctp/crc32c.txt");
    let mut n = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        let data = hex(it.next().unwrap());
        let want = u32::from_str_radix(it.next().unwrap(), 16).unwrap();
        assert_eq!(crc32c(&[&data]), want, "{line}");
        assert_eq!(crc32c_portable(&[&data]), want, "{line}");
        // Split anywhere, the same.
        let (a, b) = data.split_at(data.len() / 3);
        assert_eq!(crc32c(&[a, b]), want);
        n += 1;
    }
    assert_eq!(n, 5);
}

fn packet_with(chunks: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut buf = Vec::new();
    emit_header(&mut buf, 5000, 5001, 0xdead_beef);
    chunks(&mut buf);
    finish_packet(&mut buf, false);
    buf
}

#[test]
fn header_and_checksum_round_trip() {
    let buf = packet_with(|b| emit_chunk(b, ChunkType::COOKIE_ACK, 0, &[]));
    let p = Packet::new_checked(&buf[..]).unwrap();
    assert_eq!((p.source_port(), p.destination_port(), p.verification_tag()), (5000, 5001, 0xdead_beef));
    assert!(p.checksum_ok());
    assert_eq!(p.checksum(), compute_checksum(&buf));
    // Little-endian on the wire (RFC 9260 Appendix A).
    assert_eq!(&buf[8..12], &compute_checksum(&buf).to_le_bytes());
    let mut bad = buf.clone();
    bad[13] ^= 1;
    assert!(!Packet::new_checked(&bad[..]).unwrap().checksum_ok());
    assert_eq!(Packet::new_checked(&buf[..11]).err(), Some(WireError::TooShort));
}

#[test]
fn chunks_round_trip() {
    let cookie = [7u8; 72];
    let fields = InitFields {
        initiate_tag: 11,
        a_rwnd: 1 << 20,
        outbound_streams: 100,
        max_inbound_streams: 200,
        initial_tsn: 0xffff_fff0,
        forward_tsn: true,
        reconfig: true,
        zero_checksum: true,
        cookie: Some(&cookie),
        cookie_preservative: None,
        unrecognized: &[],
    };
    let buf = packet_with(|b| {
        emit_init(b, ChunkType::INIT_ACK, &fields);
        emit_data(b, DataFlags::BEGIN | DataFlags::UNORDERED, 42, 3, 9, 53, b"hello");
        emit_sack(b, 41, 1000, &[(2, 3), (5, 5)], &[40, 39]);
        emit_forward_tsn(b, 50, &[(1, 2), (3, 4)]);
        emit_reconfig_request(b, 7, 6, 99, &[1, 3, 5]);
        emit_reconfig_response(b, 8, ReconfigResult::PERFORMED.0);
        emit_chunk(b, ChunkType::SHUTDOWN, 0, &77u32.to_be_bytes());
        emit_chunk(b, ChunkType(0xC5), 0x12, b"xyz");
    });
    let p = Packet::new_checked(&buf[..]).unwrap();
    let chunks: Vec<Chunk<'_>> = p.chunks().map(|c| Chunk::parse(c.unwrap()).unwrap()).collect();
    assert_eq!(chunks.len(), 8);
    let Chunk::InitAck(init) = chunks[0] else { panic!() };
    assert_eq!((init.initiate_tag, init.a_rwnd, init.outbound_streams), (11, 1 << 20, 100));
    assert_eq!((init.max_inbound_streams, init.initial_tsn), (200, 0xffff_fff0));
    let params: Vec<Param<'_>> = init.params().map(|p| p.unwrap()).collect();
    assert_eq!(params[0], Param { kind: ParamType::STATE_COOKIE, value: &cookie });
    assert_eq!(params[1], Param { kind: ParamType::SUPPORTED_EXTENSIONS, value: &[130, 192] });
    assert_eq!(params[2], Param { kind: ParamType::FORWARD_TSN_SUPPORTED, value: &[] });
    assert_eq!(params[3], Param { kind: ParamType::ZERO_CHECKSUM_ACCEPTABLE, value: &[0, 0, 0, 1] });
    let Chunk::Data(d) = chunks[1] else { panic!() };
    assert!(d.flags.begin() && d.flags.unordered() && !d.flags.end());
    assert_eq!((d.tsn, d.stream, d.ssn, d.ppid, d.payload), (42, 3, 9, 53, &b"hello"[..]));
    let Chunk::Sack(s) = chunks[2] else { panic!() };
    assert_eq!((s.cumulative_tsn, s.a_rwnd), (41, 1000));
    assert_eq!(s.gap_blocks().collect::<Vec<_>>(), [(2, 3), (5, 5)]);
    assert_eq!(s.duplicate_tsns().collect::<Vec<_>>(), [40, 39]);
    let Chunk::ForwardTsn(f) = chunks[3] else { panic!() };
    assert_eq!(f.new_cumulative_tsn, 50);
    assert_eq!(f.streams().collect::<Vec<_>>(), [(1, 2), (3, 4)]);
    let Chunk::Reconfig(params) = chunks[4] else { panic!() };
    let r = ReconfigParam::parse(params.clone().next().unwrap().unwrap()).unwrap();
    let ReconfigParam::OutgoingReset { request_seq, response_seq, last_tsn, streams } = r else { panic!() };
    assert_eq!((request_seq, response_seq, last_tsn), (7, 6, 99));
    assert_eq!(streams.collect::<Vec<_>>(), [1, 3, 5]);
    let Chunk::Reconfig(params) = chunks[5] else { panic!() };
    let r = ReconfigParam::parse(params.clone().next().unwrap().unwrap()).unwrap();
    assert_eq!(r, ReconfigParam::Response { response_seq: 8, result: ReconfigResult::PERFORMED });
    assert_eq!(chunks[6], Chunk::Shutdown(77));
    let Chunk::Unknown(raw) = chunks[7] else { panic!() };
    assert_eq!((raw.kind, raw.flags, raw.value), (ChunkType(0xC5), 0x12, &b"xyz"[..]));
    // 0xC5: upper bits 11 = skip and report.
    assert_eq!(raw.kind.unknown_action(), (true, true));
    assert_eq!(ChunkType(0x05).unknown_action(), (false, false));
    assert_eq!(ChunkType(0x45).unknown_action(), (false, true));
    assert_eq!(ChunkType(0x85).unknown_action(), (true, false));
}

#[test]
fn malformed_chunks_are_errors_not_panics() {
    let cases: [&[u8]; 7] = [
        &[0, 0, 0, 2],                                      // length below the header
        &[0, 0, 0, 40, 1, 2],                               // length past the end
        &[0, 3],                                            // a stub of a header
        &[0, 3, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0],             // DATA too short for its fields
        &[3, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 9, 0, 0], // SACK claiming 9 gap blocks
        &[1, 0, 0, 8, 0, 0, 0, 1],                          // INIT without its fixed fields
        &[192, 0, 0, 6, 0, 0],                              // FORWARD-TSN too short
    ];
    for (i, c) in cases.iter().enumerate() {
        let mut buf = vec![0u8; 12];
        buf.extend_from_slice(c);
        let p = Packet::new_checked(&buf[..]).unwrap();
        let results: Vec<_> = p.chunks().map(|r| r.and_then(Chunk::parse)).collect();
        assert!(results.iter().any(|r| r.is_err()), "case {i}: {results:?}");
    }
    // A parameter whose length runs past the chunk.
    let mut init = vec![0u8; 16];
    init.extend_from_slice(&[0, 7, 0, 99, 1, 2, 3, 4]);
    let buf = packet_with(|b| emit_chunk(b, ChunkType::INIT, 0, &init));
    let p = Packet::new_checked(&buf[..]).unwrap();
    let Ok(Chunk::Init(i)) = Chunk::parse(p.chunks().next().unwrap().unwrap()) else { panic!() };
    assert_eq!(i.params().next(), Some(Err(WireError::BadLength)));
}

#[test]
fn missing_final_padding_is_tolerated() {
    let mut buf = vec![0u8; 12];
    buf.extend_from_slice(&[0, 3, 0, 17, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 53, b'x']);
    let p = Packet::new_checked(&buf[..]).unwrap();
    let c: Vec<_> = p.chunks().collect();
    assert_eq!(c.len(), 1);
    let Ok(Chunk::Data(d)) = Chunk::parse(c[0].unwrap()) else { panic!() };
    assert_eq!(d.payload, b"x");
}

#[test]
fn reads_past_the_end_are_errors_not_zeros() {
    let b = [1u8, 2, 3, 4, 5];
    assert_eq!(be16(&b, 0), Ok(0x0102));
    assert_eq!(be16(&b, 3), Ok(0x0405));
    assert_eq!(be16(&b, 4), Err(WireError::Truncated));
    assert_eq!(be16(&b, 5), Err(WireError::Truncated));
    assert_eq!(be16(&b, usize::MAX), Err(WireError::Truncated));
    assert_eq!(be32(&b, 1), Ok(0x0203_0405));
    assert_eq!(be32(&b, 2), Err(WireError::Truncated));
    assert_eq!(be32(&[0, 0, 0], 0), Err(WireError::Truncated));
    assert_eq!(be32(&[], 0), Err(WireError::Truncated));
}

#[test]
fn chunks_cut_short_of_their_fixed_fields_fail_at_every_length() {
    let cases = [
        (ChunkType::DATA, 12),
        (ChunkType::INIT, 16),
        (ChunkType::INIT_ACK, 16),
        (ChunkType::SACK, 12),
        (ChunkType::SHUTDOWN, 4),
        (ChunkType::FORWARD_TSN, 4),
    ];
    let zeros = [0u8; 16];
    for (kind, fixed) in cases {
        for n in 0..fixed {
            let raw = RawChunk { kind, flags: 0, value: &zeros[..n] };
            assert_eq!(Chunk::parse(raw), Err(WireError::Truncated), "{kind:?} with {n} of {fixed} bytes");
        }
        let raw = RawChunk { kind, flags: 0, value: &zeros[..fixed] };
        assert!(Chunk::parse(raw).is_ok(), "{kind:?} with exactly its {fixed} fixed bytes");
    }
    // Fixed fields complete, lists cut short: the gap blocks or the duplicate TSNs run past the chunk.
    let sack = |gaps: u16, dups: u16, tail: &[u8]| {
        let mut v = vec![0, 0, 0, 9, 0, 0, 4, 0];
        v.extend_from_slice(&gaps.to_be_bytes());
        v.extend_from_slice(&dups.to_be_bytes());
        v.extend_from_slice(tail);
        v
    };
    for (v, ok) in [
        (sack(1, 1, &[0, 1, 0, 2, 0, 0, 0, 7]), true),
        (sack(1, 1, &[0, 1, 0, 2, 0, 0, 0]), false),
        (sack(1, 0, &[0, 1, 0]), false),
        (sack(0, 1, &[0, 0]), false),
    ] {
        let parsed = Chunk::parse(RawChunk { kind: ChunkType::SACK, flags: 0, value: &v });
        match parsed {
            Ok(Chunk::Sack(s)) if ok => {
                assert_eq!(s.gap_blocks().collect::<Vec<_>>(), [(1, 2)]);
                assert_eq!(s.duplicate_tsns().collect::<Vec<_>>(), [7]);
            }
            other => assert_eq!(other, Err(WireError::Truncated), "{v:?}"),
        }
    }
}

#[test]
fn chunk_and_parameter_header_stubs_are_bad_lengths() {
    // One to three bytes left where a 4-byte header should be: the length field is missing, not zero.
    for n in 1..4 {
        let mut buf = vec![0u8; 12];
        buf.extend_from_slice(&[0, 3, 0][..n]);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.chunks().collect::<Vec<_>>(), [Err(WireError::BadLength)], "{n}-byte chunk header");

        let mut params = vec![0, 7, 0, 5, 9, 0, 0, 0]; // a well-formed State Cookie, padded
        params.extend_from_slice(&[0x80, 0x01, 0][..n]);
        let found: Vec<_> = Params::new(&params).collect();
        assert_eq!(
            found,
            [Ok(Param { kind: ParamType::STATE_COOKIE, value: &[9] }), Err(WireError::BadLength)],
            "{n}-byte parameter header"
        );
        let causes: Vec<_> = Causes::new(&params[8..]).collect();
        assert_eq!(causes, [Err(WireError::BadLength)]);
    }
}

#[test]
fn reconfig_parameters_cut_short_fail() {
    let param = |kind: ParamType, n: usize| Param { kind, value: &[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3][..n] };
    for n in 0..12 {
        assert_eq!(ReconfigParam::parse(param(ParamType::OUTGOING_RESET, n)), Err(WireError::Truncated), "{n}");
    }
    let Ok(ReconfigParam::OutgoingReset { request_seq, response_seq, last_tsn, streams }) =
        ReconfigParam::parse(param(ParamType::OUTGOING_RESET, 12))
    else {
        panic!()
    };
    assert_eq!((request_seq, response_seq, last_tsn), (1, 2, 3));
    assert!(streams.is_empty());
    for n in 0..8 {
        assert_eq!(ReconfigParam::parse(param(ParamType::RECONFIG_RESPONSE, n)), Err(WireError::Truncated), "{n}");
    }
    assert_eq!(
        ReconfigParam::parse(param(ParamType::RECONFIG_RESPONSE, 8)),
        Ok(ReconfigParam::Response { response_seq: 1, result: ReconfigResult::DENIED })
    );
    // Requests we only deny: a sequence number too short to read is reported as absent, not as 0.
    for n in 0..4 {
        assert_eq!(
            ReconfigParam::parse(param(ParamType::ADD_OUTGOING, n)),
            Ok(ReconfigParam::Other { kind: ParamType::ADD_OUTGOING, request_seq: None })
        );
    }
    assert_eq!(
        ReconfigParam::parse(param(ParamType::ADD_OUTGOING, 4)),
        Ok(ReconfigParam::Other { kind: ParamType::ADD_OUTGOING, request_seq: Some(1) })
    );
}
