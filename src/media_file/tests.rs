#![allow(clippy::indexing_slicing)]

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::*;

// ---------------------------------------------------------------- IVF

fn vp8_header() -> IvfHeader {
    IvfHeader { fourcc: IvfHeader::VP8, width: 320, height: 240, timebase_rate: 30, timebase_scale: 1, frame_count: 0 }
}

/// A file of `n` frames, frame `i` of `i * 37 % 500` bytes (so some are empty).
fn ivf_file(n: u32) -> Vec<u8> {
    let mut file = Vec::new();
    let mut w = IvfWriter::new(&vp8_header(), &mut file);
    for i in 0..n {
        let frame: Vec<u8> = (0..(i * 37 % 500)).map(|b| (b ^ i) as u8).collect();
        w.write_frame(u64::from(i) * 3, &frame, &mut file).unwrap();
    }
    w.finish(&mut file).unwrap();
    file
}

#[test]
fn ivf_header_layout() {
    let mut out = Vec::new();
    let h = IvfHeader { frame_count: 7, ..vp8_header() };
    h.emit(&mut out);
    assert_eq!(
        out,
        [
            b'D', b'K', b'I', b'F', 0, 0, 32, 0, b'V', b'P', b'8', b'0', 0x40, 0x01, 0xf0, 0x00, 30, 0, 0, 0, 1, 0, 0,
            0, 7, 0, 0, 0, 0, 0, 0, 0
        ]
    );
    assert_eq!(IvfHeader::parse(&out), Ok((h, 32)));
}

#[test]
fn ivf_write_read_and_frame_count() {
    let file = ivf_file(20);
    let reader = IvfReader::new(&file).unwrap();
    assert_eq!(reader.header().frame_count, 20);
    let frames: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
    assert_eq!(frames.len(), 20);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.pts, i as u64 * 3);
        assert_eq!(f.data.len(), i * 37 % 500);
        assert!(f.data.iter().enumerate().all(|(b, &v)| v == (b ^ i) as u8));
    }
    // A file the writer did not start is refused.
    let w = IvfWriter::new(&vp8_header(), &mut Vec::new());
    let mut other = file.clone();
    other[8..12].copy_from_slice(b"VP90");
    assert_eq!(w.finish(&mut other), Err(IvfError::NotThisFile));
    assert_eq!(w.finish(&mut file.clone()[..10]), Err(IvfError::NotThisFile));
}

#[test]
fn ivf_lying_headers() {
    let file = ivf_file(3);
    let mut bad = file.clone();
    bad[0] = b'X';
    assert_eq!(IvfReader::new(&bad).err(), Some(IvfError::BadSignature));
    let mut bad = file.clone();
    bad[4] = 1;
    assert_eq!(IvfReader::new(&bad).err(), Some(IvfError::BadVersion(1)));
    for size in [0u16, 12, 31, IVF_MAX_HEADER_LEN + 1, u16::MAX] {
        let mut bad = file.clone();
        bad[6..8].copy_from_slice(&size.to_le_bytes());
        assert_eq!(IvfReader::new(&bad).err(), Some(IvfError::BadHeaderSize(size)));
    }
    // A header size past the end of the file.
    let mut bad = file[..40].to_vec();
    bad[6..8].copy_from_slice(&100u16.to_le_bytes());
    assert_eq!(IvfReader::new(&bad).err(), Some(IvfError::Truncated { offset: 0, needed: 100 }));
    // A longer header is skipped.
    let mut long = file[..32].to_vec();
    long[6..8].copy_from_slice(&40u16.to_le_bytes());
    long.extend_from_slice(&[0xee; 8]);
    long.extend_from_slice(&file[32..]);
    assert_eq!(IvfReader::new(&long).unwrap().count(), 3);
    assert_eq!(IvfReader::new(&file[..31]).err(), Some(IvfError::Truncated { offset: 0, needed: 32 }));
}

#[test]
fn ivf_lying_frame_sizes() {
    let file = ivf_file(3); // frames of 0, 37, 74 bytes
    // The last frame claims one byte more than there is.
    let mut bad = file.clone();
    let last = 32 + 12 + 12 + 37;
    bad[last..last + 4].copy_from_slice(&75u32.to_le_bytes());
    let got: Vec<_> = IvfReader::new(&bad).unwrap().collect();
    assert_eq!(got.len(), 3);
    assert_eq!(got[2], Err(IvfError::Truncated { offset: last as u64, needed: 12 + 75 }));
    // An absurd size: an error, not an allocation, from both readers.
    bad[last..last + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let got: Vec<_> = IvfReader::new(&bad).unwrap().collect();
    assert_eq!(got[2], Err(IvfError::FrameTooLarge { offset: last as u64, len: u32::MAX }));
    let mut r = IvfStreamReader::new();
    assert_eq!(r.push(&bad), bad.len());
    assert!(r.poll_frame().unwrap().is_ok());
    assert!(r.poll_frame().unwrap().is_ok());
    assert_eq!(r.poll_frame(), Some(Err(IvfError::FrameTooLarge { offset: last as u64, len: u32::MAX })));
    assert_eq!(r.poll_frame(), None);
    assert_eq!(r.finish(), Err(IvfError::FrameTooLarge { offset: last as u64, len: u32::MAX }));
    // A smaller bound applies to real frames too.
    let got: Vec<_> = IvfReader::new(&file).unwrap().with_max_frame_len(40).collect();
    assert_eq!(got[2], Err(IvfError::FrameTooLarge { offset: last as u64, len: 74 }));
    // A frame header cut short.
    let got: Vec<_> = IvfReader::new(&file[..last + 5]).unwrap().collect();
    assert_eq!(got[2], Err(IvfError::Truncated { offset: last as u64, needed: 12 }));
}

#[test]
fn ivf_stream_reader_matches_slice_reader_in_any_chunking() {
    let file = ivf_file(30);
    let want: Vec<(u64, Vec<u8>)> =
        IvfReader::new(&file).unwrap().map(|f| f.unwrap()).map(|f| (f.pts, f.data.to_vec())).collect();
    for chunk in [1, 2, 5, 11, 12, 13, 100, 4096, file.len()] {
        // A bound just above the largest frame: the buffer fills and push takes less than offered.
        let mut r = IvfStreamReader::with_max_frame_len(500);
        assert!(r.capacity() <= 1024);
        let mut got = Vec::new();
        for mut piece in file.chunks(chunk) {
            while !piece.is_empty() {
                let n = r.push(piece);
                piece = &piece[n..];
                while let Some(f) = r.poll_frame() {
                    let f = f.unwrap();
                    got.push((f.pts, f.data.to_vec()));
                }
            }
        }
        assert_eq!(r.header(), Some(&IvfHeader { frame_count: 30, ..vp8_header() }));
        assert_eq!(got, want, "chunk {chunk}");
        assert_eq!(r.finish(), Ok(()));
    }
    // Ending inside a frame.
    let mut r = IvfStreamReader::new();
    r.push(&file[..file.len() - 1]);
    while r.poll_frame().is_some() {}
    assert!(matches!(r.finish(), Err(IvfError::Truncated { .. })));
    let mut r = IvfStreamReader::new();
    r.push(b"DKIF\x01\x00");
    assert_eq!(r.poll_frame(), None);
    assert_eq!(r.finish(), Err(IvfError::Truncated { offset: 0, needed: 32 }));
}

// ---------------------------------------------------------------- Ogg

/// The Ogg CRC computed bit by bit as RFC 3533 §6 describes it (polynomial 0x04c11db7, MSB first,
/// initial value 0, no final XOR), independently of the table.
fn crc_bitwise(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &byte in data {
        for bit in (0..8).rev() {
            let top = (crc >> 31) ^ u32::from((byte >> bit) & 1);
            crc <<= 1;
            if top != 0 {
                crc ^= 0x04c1_1db7;
            }
        }
    }
    crc
}

/// The first page of an Ogg Opus file that ffmpeg 5.1 wrote (`-f lavfi -i sine -c:a libopus`): OpusHead,
/// mono, pre-skip 312, 48 kHz; its CRC field says 0x2c6e1431.
const FFMPEG_OPUSHEAD_PAGE: [u8; 47] = [
    0x4f, 0x67, 0x67, 0x53, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x63, 0x26, 0x39, 0x43, 0x00,
    0x00, 0x00, 0x00, 0x31, 0x14, 0x6e, 0x2c, 0x01, 0x13, 0x4f, 0x70, 0x75, 0x73, 0x48, 0x65, 0x61, 0x64, 0x01, 0x01,
    0x38, 0x01, 0x80, 0xbb, 0x00, 0x00, 0x00, 0x00, 0x00,
];

#[test]
fn ogg_crc_known_values() {
    assert_eq!(crc32(b""), 0);
    assert_eq!(crc32(b"123456789"), 0x89a1_897f);
    for data in [&b"123456789"[..], &[0xff; 1000], &[0x00, 0x01, 0x80], b"OggS"] {
        assert_eq!(crc32(data), crc_bitwise(data));
    }
    assert_eq!(crc32_update(crc32(b"1234"), b"56789"), crc32(b"123456789"));
    // The page ffmpeg wrote: its CRC is the CRC of the page with the field zeroed.
    let mut zeroed = FFMPEG_OPUSHEAD_PAGE;
    zeroed[22..26].fill(0);
    assert_eq!(crc32(&zeroed), 0x2c6e_1431);
    assert_eq!(crc_bitwise(&zeroed), 0x2c6e_1431);
    let page = Page::parse(&FFMPEG_OPUSHEAD_PAGE).unwrap();
    assert_eq!((page.bos(), page.eos(), page.continued()), (true, false, false));
    assert_eq!((page.granule(), page.serial(), page.sequence()), (0, 0x4339_2663, 0));
    assert_eq!(page.segments(), [19]);
    let head = OpusHead::parse(page.body()).unwrap();
    assert_eq!((head.channels, head.pre_skip, head.input_sample_rate), (1, 312, 48_000));
    // Our writer gives the same page for the same header and serial.
    let mut w = PageWriter::new(0x4339_2663);
    let mut out = Vec::new();
    let mut packet = Vec::new();
    head.emit(&mut packet).unwrap();
    w.write_packet(&packet, 0, &mut out).unwrap();
    w.flush(&mut out);
    assert_eq!(out, FFMPEG_OPUSHEAD_PAGE);
    // Any flipped bit is caught.
    for i in 0..FFMPEG_OPUSHEAD_PAGE.len() {
        let mut bad = FFMPEG_OPUSHEAD_PAGE;
        bad[i] ^= 0x10;
        assert!(Page::parse(&bad).is_err(), "byte {i}");
    }
}

/// Reads every packet of `file` pushed in chunks of `chunk` bytes; errors are collected apart.
/// Packets read (data, granule position, EOS) and errors.
type OggRead = (Vec<(Vec<u8>, Option<u64>, bool)>, Vec<OggError>);

fn read_ogg(file: &[u8], chunk: usize, max_packet: u32) -> OggRead {
    let mut r = OggReader::with_max_packet_len(max_packet);
    let (mut packets, mut errors) = (Vec::new(), Vec::new());
    for mut piece in file.chunks(chunk) {
        while !piece.is_empty() {
            let n = r.push(piece);
            piece = &piece[n..];
            while let Some(p) = r.poll_packet() {
                match p {
                    Ok(p) => packets.push((p.data.to_vec(), p.granule_position, p.eos)),
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    if let Err(e) = r.finish() {
        errors.push(e);
    }
    (packets, errors)
}

fn pages(file: &[u8]) -> Vec<Page<'_>> {
    let mut out = Vec::new();
    let mut rest = file;
    while !rest.is_empty() {
        let p = Page::parse(rest).unwrap();
        rest = &rest[p.len()..];
        out.push(p);
    }
    out
}

#[test]
fn ogg_lacing_edge_cases() {
    for (len, lacing) in [
        (0usize, vec![0u8]),
        (1, vec![1]),
        (254, vec![254]),
        (255, vec![255, 0]),
        (256, vec![255, 1]),
        (510, vec![255, 255, 0]),
        (511, vec![255, 255, 1]),
    ] {
        let mut w = PageWriter::new(7);
        let mut out = Vec::new();
        let packet: Vec<u8> = (0..len).map(|i| i as u8).collect();
        w.write_packet(&packet, 99, &mut out).unwrap();
        w.finish(None, &mut out).unwrap();
        let ps = pages(&out);
        assert_eq!(ps.len(), 1);
        assert_eq!(ps[0].segments(), &lacing[..], "len {len}");
        assert_eq!(ps[0].granule(), 99);
        assert_eq!(ps[0].flags(), FLAG_BOS | FLAG_EOS);
        let (packets, errors) = read_ogg(&out, 7, 1 << 20);
        assert_eq!(errors, []);
        assert_eq!(packets, [(packet, Some(99), true)]);
    }
}

#[test]
fn ogg_packets_spanning_pages() {
    // 65025 = 255 * 255: 255 full segments fill a page, and the terminating 0 goes on the next one.
    let sizes = [65025usize, 65024, 65026, 100_000, 300, 0, 255 * 300];
    let mut w = PageWriter::new(1);
    let mut out = Vec::new();
    let mut want = Vec::new();
    for (i, &len) in sizes.iter().enumerate() {
        let packet: Vec<u8> = (0..len).map(|b| (b * 7 + i) as u8).collect();
        w.write_packet(&packet, i as u64 + 1, &mut out).unwrap();
        w.flush(&mut out);
        want.push(packet);
    }
    w.finish(None, &mut out).unwrap();
    let ps = pages(&out);
    // Packet 0: a full page (no packet ends on it: granule -1), then a continued page with one 0 lacing.
    assert_eq!(ps[0].segments(), &[255; 255][..]);
    assert_eq!((ps[0].granule(), ps[0].continued(), ps[0].bos()), (-1, false, true));
    assert_eq!(ps[1].segments(), [0]);
    assert_eq!((ps[1].granule(), ps[1].continued(), ps[1].bos()), (1, true, false));
    // Packet 1 (65024 bytes): 254 full segments and 254.
    assert_eq!(ps[2].segments().len(), 255);
    assert_eq!(ps[2].granule(), 2);
    for (i, p) in ps.iter().enumerate() {
        assert_eq!(p.sequence(), i as u32);
        assert_eq!(p.eos(), i == ps.len() - 1);
    }
    for chunk in [1000, 65307, 1 << 20] {
        let (packets, errors) = read_ogg(&out, chunk, 1 << 20);
        assert_eq!(errors, []);
        assert_eq!(packets.len(), sizes.len());
        for (i, (data, granule, _)) in packets.iter().enumerate() {
            assert_eq!(data, &want[i], "packet {i}");
            assert_eq!(*granule, Some(i as u64 + 1));
        }
    }
    // The reassembly bound: the 100000-byte and 76500-byte packets are dropped, the rest come through.
    let (packets, errors) = read_ogg(&out, 4096, 70_000);
    assert_eq!(errors, [OggError::PacketTooLarge { max: 70_000 }; 2]);
    let lens: Vec<usize> = packets.iter().map(|p| p.0.len()).collect();
    assert_eq!(lens, [65025, 65024, 65026, 300, 0]);
}

#[test]
fn ogg_bad_pages_are_reported_and_skipped() {
    let mut w = PageWriter::new(5);
    let mut file = Vec::new();
    for i in 0..6u64 {
        w.write_packet(&[i as u8; 100], i * 10, &mut file).unwrap();
        w.flush(&mut file);
    }
    w.finish(None, &mut file).unwrap();
    let page_len = 27 + 1 + 100;
    // A flipped byte in page 2: bad CRC, the page is dropped, the rest follow (with a gap).
    let mut bad = file.clone();
    bad[2 * page_len + 60] ^= 1;
    let (packets, errors) = read_ogg(&bad, 333, 1 << 20);
    assert_eq!(errors, [OggError::BadCrc { sequence: 2 }, OggError::PageGap { expected: 2, got: 3 }]);
    assert_eq!(packets.iter().map(|p| p.0[0]).collect::<Vec<_>>(), [0, 1, 3, 4, 5]);
    // A page lost whole: a gap.
    let mut gap = file[..2 * page_len].to_vec();
    gap.extend_from_slice(&file[3 * page_len..]);
    let (packets, errors) = read_ogg(&gap, 50, 1 << 20);
    assert_eq!(errors, [OggError::PageGap { expected: 2, got: 3 }]);
    assert_eq!(packets.len(), 5);
    // Garbage between pages: skipped to the next capture pattern.
    let mut junk = file[..page_len].to_vec();
    junk.extend_from_slice(b"garbage!");
    junk.extend_from_slice(&file[page_len..]);
    let (packets, errors) = read_ogg(&junk, 10_000, 1 << 20);
    assert_eq!(errors, [OggError::BadCapture { skipped: 8 }]);
    assert_eq!(packets.len(), 6);
    // A version other than 0.
    let mut v = file.clone();
    v[4] = 1;
    assert_eq!(Page::parse(&v), Err(OggError::BadVersion(1)));
    // Truncated: the end of the input inside a page.
    let (packets, errors) = read_ogg(&file[..file.len() - 3], 64, 1 << 20);
    assert_eq!(packets.len(), 6);
    assert_eq!(errors, [OggError::TruncatedPage { needed: 3 }]);
    // A segment table that claims more than the page has.
    let mut lie = file[..page_len].to_vec();
    lie[27] = 200;
    assert_eq!(Page::parse(&lie), Err(OggError::TruncatedPage { needed: 100 }));
    assert_eq!(Page::parse(&lie[..20]), Err(OggError::TruncatedPage { needed: 7 }));
    assert_eq!(Page::parse(b"Ogx"), Err(OggError::BadCapture { skipped: 0 }));
    // A packet left open at the end.
    let mut w = PageWriter::new(5);
    let mut open = Vec::new();
    w.write_packet(&[1; 70_000], 1, &mut open).unwrap();
    let (packets, errors) = read_ogg(&open, 4096, 1 << 20);
    assert!(packets.is_empty());
    assert_eq!(errors, [OggError::BrokenContinuation]);
}

#[test]
fn ogg_other_streams_are_skipped_and_chains_followed() {
    let mut file = Vec::new();
    let (mut a, mut b) = (PageWriter::new(1), PageWriter::new(2));
    for i in 0..3u8 {
        a.write_packet(&[i], u64::from(i), &mut file).unwrap();
        a.flush(&mut file);
        b.write_packet(&[100 + i], u64::from(i), &mut file).unwrap();
        b.flush(&mut file);
    }
    a.finish(None, &mut file).unwrap();
    let mut c = PageWriter::new(3);
    c.write_packet(&[200], 0, &mut file).unwrap();
    c.finish(None, &mut file).unwrap();
    let (packets, errors) = read_ogg(&file, 100, 1 << 20);
    assert_eq!(errors, []);
    assert_eq!(packets.iter().map(|p| p.0[0]).collect::<Vec<_>>(), [0, 1, 2, 200]);
}

// ---------------------------------------------------------------- Opus

#[test]
fn opus_toc_durations() {
    // config (TOC >> 3) to frame duration, RFC 6716 table 2.
    let frame = |config: u8| packet_samples_of(&[config << 3]);
    let want = [
        480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 480, 960, 120, 240, 480, 960, 120,
        240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960,
    ];
    for config in 0..32u8 {
        assert_eq!(frame(config), Ok(want[usize::from(config)]), "config {config}");
    }
    assert_eq!(packet_samples_of(&[(19 << 3) | 1, 0, 0]), Ok(1920)); // two equal 20 ms frames
    assert_eq!(packet_samples_of(&[(19 << 3) | 2, 0, 0]), Ok(1920)); // two 20 ms frames, sizes differ
    assert_eq!(packet_samples_of(&[(19 << 3) | 3, 6]), Ok(5760)); // six 20 ms frames: 120 ms
    assert_eq!(packet_samples_of(&[(16 << 3) | 3, 0x80 | 48]), Ok(5760)); // 48 × 2.5 ms, VBR flag
    assert_eq!(packet_samples_of(&[(19 << 3) | 3, 7]), Err(OggError::BadOpusPacket)); // 140 ms
    assert_eq!(packet_samples_of(&[(3 << 3) | 3, 3]), Err(OggError::BadOpusPacket)); // 180 ms
    assert_eq!(packet_samples_of(&[(19 << 3) | 3, 0]), Err(OggError::BadOpusPacket));
    assert_eq!(packet_samples_of(&[(19 << 3) | 3]), Err(OggError::BadOpusPacket));
    assert_eq!(packet_samples_of(&[]), Err(OggError::BadOpusPacket));
}

fn packet_samples_of(p: &[u8]) -> Result<u32, OggError> {
    super::opus::packet_samples(p)
}

#[test]
fn opus_head_and_tags_layout() {
    let head = OpusHead::new(2);
    assert_eq!(head.pre_skip, 3840);
    let mut out = Vec::new();
    head.emit(&mut out).unwrap();
    assert_eq!(out, [b'O', b'p', b'u', b's', b'H', b'e', b'a', b'd', 1, 2, 0x00, 0x0f, 0x80, 0xbb, 0, 0, 0, 0, 0]);
    assert_eq!(OpusHead::parse(&out), Ok(head));
    // Family 1, 6 channels (5.1): 4 streams, 2 coupled.
    let surround = OpusHead {
        channels: 6,
        mapping_family: 1,
        stream_count: 4,
        coupled_count: 2,
        channel_mapping: vec![0, 4, 1, 2, 3, 5],
        ..OpusHead::new(2)
    };
    let mut out = Vec::new();
    surround.emit(&mut out).unwrap();
    assert_eq!(out.len(), 21 + 6);
    assert_eq!(OpusHead::parse(&out), Ok(surround.clone()));
    let mut bad = out.clone();
    bad[21] = 6; // names decoded channel 6 of 0..=5
    assert_eq!(OpusHead::parse(&bad), Err(OggError::BadOpusHead));
    assert_eq!(OpusHead::parse(&out[..25]), Err(OggError::BadOpusHead));
    assert_eq!(OpusHead::new(3).emit(&mut Vec::new()), Err(OggError::Unrepresentable));
    assert_eq!(OpusHead::new(0).emit(&mut Vec::new()), Err(OggError::Unrepresentable));
    let tags = OpusTags { vendor: String::from("sansrtc"), comments: vec![String::from("TITLE=a")] };
    let mut out = Vec::new();
    tags.emit(&mut out).unwrap();
    assert_eq!(&out[..19], b"OpusTags\x07\x00\x00\x00sansrtc");
    assert_eq!(OpusTags::parse(&out), Ok(tags));
    // A comment count the packet cannot hold.
    let mut lie = out.clone();
    lie[19..23].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(OpusTags::parse(&lie), Err(OggError::BadOpusTags));
    let mut lie = out.clone();
    lie[23..27].copy_from_slice(&1000u32.to_le_bytes());
    assert_eq!(OpusTags::parse(&lie), Err(OggError::BadOpusTags));
}

/// Packets of mixed durations: 20 ms, 10 ms, 60 ms (SILK), 3 × 20 ms (code 3), 2.5 ms.
fn mixed_packets(n: usize) -> Vec<Vec<u8>> {
    let tocs: [&[u8]; 5] = [&[0xfc], &[0xf4], &[0x18], &[0xfb, 0x03], &[0x80]];
    (0..n)
        .map(|i| {
            let mut p = tocs[i % tocs.len()].to_vec();
            p.extend((0..(i * 13 % 300)).map(|b| b as u8));
            p
        })
        .collect()
}

/// The reader after the input, the packets (data, samples, granule) and errors.
type OpusRead = (OggOpusReader, Vec<(Vec<u8>, u32, Option<u64>)>, Vec<OggError>);

fn read_opus(file: &[u8], chunk: usize) -> OpusRead {
    let mut r = OggOpusReader::new();
    let (mut packets, mut errors) = (Vec::new(), Vec::new());
    for mut piece in file.chunks(chunk) {
        while !piece.is_empty() {
            let n = r.push(piece);
            piece = &piece[n..];
            while let Some(p) = r.poll_packet() {
                match p {
                    Ok(p) => packets.push((p.data.to_vec(), p.samples, p.granule)),
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    if let Err(e) = r.finish() {
        errors.push(e);
    }
    (r, packets, errors)
}

#[test]
fn opus_writer_pages_and_granules() {
    let durations = [960u64, 480, 2880, 2880, 120];
    let packets = mixed_packets(200);
    let mut head = OpusHead::new(1);
    head.pre_skip = 1000;
    let mut file = Vec::new();
    let mut w =
        OggOpusWriter::new(&head, &OpusTags::new("sansrtc"), 99, &mut file).unwrap().with_max_page_samples(9600);
    let mut granule = 0;
    let mut want = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        granule += durations[i % 5];
        assert_eq!(w.write_packet(p, &mut file), Ok(granule));
        want.push((p.clone(), durations[i % 5] as u32, Some(granule)));
    }
    w.finish(&mut file).unwrap();
    let ps = pages(&file);
    // OpusHead alone on a BOS page, OpusTags on the next, both granule 0; audio from page 2.
    assert_eq!((ps[0].flags(), ps[0].granule(), ps[0].segments()), (FLAG_BOS, 0, &[19][..]));
    assert_eq!(&ps[0].body()[..8], b"OpusHead");
    assert_eq!((ps[1].flags(), ps[1].granule()), (0, 0));
    assert_eq!(&ps[1].body()[..8], b"OpusTags");
    let mut total = 0u64;
    let mut at = 0;
    for (i, p) in ps.iter().enumerate() {
        assert_eq!(p.sequence(), i as u32);
        assert_eq!(p.serial(), 99);
        assert_eq!(p.eos(), i == ps.len() - 1);
        if i < 2 {
            continue;
        }
        // Each page's granule is the sum of all durations up to its last packet, and the page stays
        // within 9600 samples.
        let n = p.segments().iter().filter(|&&l| l < 255).count();
        let page: u64 = (at..at + n).map(|k| durations[k % 5]).sum();
        assert!(page <= 9600);
        total += page;
        at += n;
        assert_eq!(p.granule(), total as i64);
    }
    assert_eq!(at, 200);
    for chunk in [1, 17, 4096, file.len()] {
        let (r, got, errors) = read_opus(&file, chunk);
        assert_eq!(errors, []);
        assert_eq!(r.head(), Some(&head));
        assert_eq!(r.tags().unwrap().vendor, "sansrtc");
        assert_eq!(got, want, "chunk {chunk}");
    }
}

#[test]
fn opus_reader_counts_back_on_a_stream_joined_late() {
    // A stream whose first audio page starts at granule 96000 (e.g. recorded from mid-call): each packet's
    // end granule comes from the page granule minus the packets after it.
    let mut file = Vec::new();
    let _ = OggOpusWriter::new(&OpusHead::new(2), &OpusTags::new("x"), 1, &mut file).unwrap();
    // Audio pages 2.. written by hand: a page writer run past two throwaway pages.
    let mut pages_w = PageWriter::new(1);
    let mut audio = Vec::new();
    let mut dummy = Vec::new();
    pages_w.write_packet(b"h", 0, &mut dummy).unwrap();
    pages_w.flush(&mut dummy);
    pages_w.write_packet(b"t", 0, &mut dummy).unwrap();
    pages_w.flush(&mut dummy);
    for (i, g) in [96_960u64, 97_920, 98_400].iter().enumerate() {
        let toc = if i == 2 { 0xf4 } else { 0xfc };
        pages_w.write_packet(&[toc], *g, &mut audio).unwrap();
    }
    pages_w.finish(None, &mut audio).unwrap();
    file.extend_from_slice(&audio);
    let (_, got, errors) = read_opus(&file, 64);
    assert_eq!(errors, []);
    let granules: Vec<_> = got.iter().map(|p| p.2).collect();
    assert_eq!(granules, [Some(96_960), Some(97_920), Some(98_400)]);
}

#[test]
fn opus_reader_recounts_after_a_lost_page() {
    let packets = mixed_packets(40);
    let mut file = Vec::new();
    let mut w =
        OggOpusWriter::new(&OpusHead::new(1), &OpusTags::new("x"), 1, &mut file).unwrap().with_max_page_samples(9600);
    let want: Vec<u64> = packets.iter().map(|p| w.write_packet(p, &mut file).unwrap()).collect();
    w.finish(&mut file).unwrap();
    // Drop the fourth audio page whole.
    let ps = pages(&file);
    let start: usize = ps[..5].iter().map(|p| p.len()).sum();
    let lost = ps[5].len();
    let lost_packets = ps[5].segments().iter().filter(|&&l| l < 255).count();
    let before: usize = ps[2..5].iter().map(|p| p.segments().iter().filter(|&&l| l < 255).count()).sum();
    let mut cut = file[..start].to_vec();
    cut.extend_from_slice(&file[start + lost..]);
    let (_, got, errors) = read_opus(&cut, 500);
    assert_eq!(errors, [OggError::PageGap { expected: 5, got: 6 }]);
    assert_eq!(got.len(), 40 - lost_packets);
    let mut expected: Vec<Option<u64>> = want.iter().copied().map(Some).collect();
    expected.drain(before..before + lost_packets);
    assert_eq!(got.iter().map(|p| p.2).collect::<Vec<_>>(), expected);
}

#[test]
fn opus_end_trimming() {
    let mut file = Vec::new();
    let mut w = OggOpusWriter::new(&OpusHead::new(1), &OpusTags::new("x"), 1, &mut file).unwrap();
    for _ in 0..10 {
        w.write_packet(&[0xfc], &mut file).unwrap();
    }
    assert_eq!(w.granule(), 9600);
    w.clone().finish_at(9600 + 1, &mut Vec::new()).unwrap_err();
    w.finish_at(9000, &mut file).unwrap();
    let ps = pages(&file);
    assert_eq!(ps.last().unwrap().granule(), 9000);
    let (_, got, errors) = read_opus(&file, 1000);
    assert_eq!(errors, []);
    assert_eq!(got.last().unwrap().2, Some(9000));
    assert_eq!(got[8].2, Some(8640));
    assert_eq!(got[0].2, Some(960));
}

#[test]
fn opus_reader_rejects_non_opus_and_bad_packets() {
    let mut w = PageWriter::new(1);
    let mut file = Vec::new();
    w.write_packet(b"OpusHeaX and more bytes here", 0, &mut file).unwrap();
    w.finish(None, &mut file).unwrap();
    let (_, got, errors) = read_opus(&file, 1000);
    assert!(got.is_empty());
    assert_eq!(errors, [OggError::BadOpusHead]);
    // An empty audio packet has no TOC.
    let mut file = Vec::new();
    let mut ow = OggOpusWriter::new(&OpusHead::new(1), &OpusTags::new("x"), 1, &mut file).unwrap();
    assert_eq!(ow.write_packet(&[], &mut file), Err(OggError::BadOpusPacket));
    ow.write_packet(&[0xfc], &mut file).unwrap();
    ow.finish(&mut file).unwrap();
    let (_, got, errors) = read_opus(&file, 1000);
    assert_eq!((got.len(), errors.len()), (1, 0));
}

#[test]
fn every_truncation_and_every_corrupted_byte() {
    // IVF: cut at every length, both readers: fewer frames, and an error unless the cut falls between
    // frames.
    let ivf = ivf_file(6);
    let all = IvfReader::new(&ivf).unwrap().count();
    let frame_ends: Vec<usize> = core::iter::once(32)
        .chain(IvfReader::new(&ivf).unwrap().map(|f| f.unwrap().data.len() + 12).scan(32, |at, n| {
            *at += n;
            Some(*at)
        }))
        .collect();
    for cut in 0..ivf.len() {
        let part = &ivf[..cut];
        let frames = IvfReader::new(part).map_or(0, |r| r.take_while(Result::is_ok).count());
        assert!(frames < all);
        let mut s = IvfStreamReader::new();
        s.push(part);
        while s.poll_frame().is_some() {}
        assert_eq!(s.finish().is_ok(), frame_ends.contains(&cut), "cut {cut}");
    }
    // Ogg Opus: cut at every length: fewer packets and an error at the end, unless the cut falls between
    // pages; corrupt any one byte: the page it is in is reported (CRC or capture), the others come.
    let mut ogg = Vec::new();
    let mut w =
        OggOpusWriter::new(&OpusHead::new(2), &OpusTags::new("x"), 3, &mut ogg).unwrap().with_max_page_samples(2000);
    for p in mixed_packets(12) {
        w.write_packet(&p, &mut ogg).unwrap();
    }
    w.finish(&mut ogg).unwrap();
    let boundaries: Vec<usize> = pages(&ogg)
        .iter()
        .scan(0, |at, p| {
            *at += p.len();
            Some(*at)
        })
        .collect();
    for cut in 0..ogg.len() {
        let (_, got, errors) = read_opus(&ogg[..cut], 100);
        assert!(got.len() < 12);
        assert_eq!(errors.is_empty(), cut == 0 || boundaries.contains(&cut), "cut {cut}");
    }
    for at in 0..ogg.len() {
        let mut bad = ogg.clone();
        bad[at] ^= 0x41;
        let (_, got, errors) = read_opus(&bad, 100);
        assert!(!errors.is_empty(), "byte {at}");
        assert!(got.len() < 12, "byte {at}");
    }
}

// ---------------------------------------------------------------- Annex-B

const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1e];
const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];
const SEI: &[u8] = &[0x06, 0x05, 0x01, 0x80];
const IDR0: &[u8] = &[0x65, 0x88, 0x84, 0x00, 0x33]; // first_mb_in_slice 0
const IDR1: &[u8] = &[0x65, 0x44, 0x21]; // first_mb_in_slice 1 (bits 010)
const P0: &[u8] = &[0x41, 0x9a, 0x02];
const P1: &[u8] = &[0x41, 0x20, 0x02]; // first_mb_in_slice != 0
const AUD: &[u8] = &[0x09, 0xf0];

fn annexb(nals: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![0xff, 0xee]; // junk before the first start code is skipped
    for (i, n) in nals.iter().enumerate() {
        out.extend_from_slice(if i % 2 == 0 { &[0, 0, 0, 1][..] } else { &[0, 0, 1][..] });
        out.extend_from_slice(n);
        if i % 3 == 2 {
            out.extend_from_slice(&[0, 0]); // trailing_zero_8bits
        }
    }
    out
}

fn chunked_units(stream: &[u8], codec: NalCodec, chunk: usize, max: u32) -> (Vec<Vec<Vec<u8>>>, Vec<AnnexBError>) {
    let mut r = AnnexBReader::with_max_access_unit_len(codec, max);
    let (mut units, mut errors) = (Vec::new(), Vec::new());
    for mut piece in stream.chunks(chunk) {
        while !piece.is_empty() {
            let n = r.push(piece);
            piece = &piece[n..];
            while let Some(au) = r.poll_access_unit() {
                match au {
                    Ok(au) => units.push(au.nals().map(<[u8]>::to_vec).collect()),
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    while let Some(au) = r.finish() {
        units.push(au.nals().map(<[u8]>::to_vec).collect());
    }
    (units, errors)
}

#[test]
fn annexb_nal_units() {
    let stream = annexb(&[SPS, PPS, SEI, IDR0, IDR1]);
    let nals: Vec<&[u8]> = nal_units(&stream).collect();
    assert_eq!(nals, [SPS, PPS, SEI, IDR0, IDR1]);
    assert_eq!(nal_units(&[0, 0, 1]).collect::<Vec<_>>(), [&[][..]]);
    assert_eq!(nal_units(&[0, 0, 2, 0, 1, 5]).count(), 0);
    assert_eq!(nal_units(&[0, 0, 0, 0, 1, 5, 0, 0, 0, 0, 0, 1, 6]).collect::<Vec<_>>(), [&[5][..], &[6][..]]);
    // An emulation-prevented 00 00 03 01 is no start code.
    assert_eq!(nal_units(&[0, 0, 1, 0x41, 0, 0, 3, 1, 9]).collect::<Vec<_>>(), [&[0x41, 0, 0, 3, 1, 9][..]]);
}

#[test]
fn annexb_h264_access_units() {
    // Picture 1: SPS PPS SEI IDR(slice 0) IDR(slice 1); picture 2: P(slice 0) P(slice 1); picture 3 after
    // an AUD: AUD P(slice 0); picture 4: SEI P; picture 5: P.
    let nals = [SPS, PPS, SEI, IDR0, IDR1, P0, P1, AUD, P0, SEI, P0, P0];
    let stream = annexb(&nals);
    let want: Vec<Vec<Vec<u8>>> = [&nals[0..5], &nals[5..7], &nals[7..9], &nals[9..11], &nals[11..12]]
        .iter()
        .map(|au| au.iter().map(|n| n.to_vec()).collect())
        .collect();
    let units: Vec<_> = access_units(&stream, NalCodec::H264).collect();
    assert_eq!(units.iter().map(|u| u.nals().map(<[u8]>::to_vec).collect::<Vec<_>>()).collect::<Vec<_>>(), want);
    assert!(units[0].is_random_access() && !units[1].is_random_access());
    assert!(units[1].data.starts_with(&[0, 0, 1]) && units[0].data.ends_with(IDR1));
    for chunk in [1, 2, 3, 5, 8, 1000] {
        let (got, errors) = chunked_units(&stream, NalCodec::H264, chunk, 1 << 20);
        assert_eq!(got, want, "chunk {chunk}");
        // The two junk bytes and the zero_byte of the first (4-byte) start code.
        assert_eq!(errors, [AnnexBError::NoStartCode { skipped: 3 }], "chunk {chunk}");
    }
}

#[test]
fn annexb_h265_access_units() {
    let vps: &[u8] = &[0x40, 0x01, 0x0c];
    let sps: &[u8] = &[0x42, 0x01, 0x01];
    let pps: &[u8] = &[0x44, 0x01, 0xc1];
    let idr_first: &[u8] = &[0x26, 0x01, 0xaf, 0x10]; // IDR_W_RADL, first_slice_segment_in_pic_flag 1
    let idr_next: &[u8] = &[0x26, 0x01, 0x2f, 0x10]; // same picture, flag 0
    let trail_first: &[u8] = &[0x02, 0x01, 0xd0, 0x01]; // TRAIL_R, flag 1
    let suffix_sei: &[u8] = &[0x50, 0x01, 0x05];
    let aud: &[u8] = &[0x46, 0x01, 0x50];
    let nals = [vps, sps, pps, idr_first, idr_next, suffix_sei, trail_first, aud, trail_first, trail_first];
    let stream = annexb(&nals);
    let want: Vec<Vec<Vec<u8>>> = [&nals[0..6], &nals[6..7], &nals[7..9], &nals[9..10]]
        .iter()
        .map(|au| au.iter().map(|n| n.to_vec()).collect())
        .collect();
    let units: Vec<_> = access_units(&stream, NalCodec::H265).collect();
    assert_eq!(units.len(), 4);
    assert!(units[0].is_random_access() && !units[1].is_random_access());
    for chunk in [1, 2, 4, 7, 1000] {
        let (got, _) = chunked_units(&stream, NalCodec::H265, chunk, 1 << 20);
        assert_eq!(got, want, "chunk {chunk}");
    }
}

#[test]
fn annexb_reader_judges_short_nal_units_at_the_end() {
    // Two access unit delimiters; the second, one byte long, ends the input (found by fuzzing).
    let stream = [0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x29, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x01, 0x29];
    let want: Vec<Vec<Vec<u8>>> = vec![vec![vec![0x29, 0x00, 0x00, 0x04]], vec![vec![0x29]]];
    let slice: Vec<Vec<Vec<u8>>> =
        access_units(&stream, NalCodec::H264).map(|au| au.nals().map(<[u8]>::to_vec).collect()).collect();
    assert_eq!(slice, want);
    for chunk in [1, 11, 16] {
        let (got, _) = chunked_units(&stream, NalCodec::H264, chunk, 1 << 20);
        assert_eq!(got, want, "chunk {chunk}");
    }
}

#[test]
fn annexb_reader_bounds_access_units() {
    let mut big = vec![0x41, 0x9a];
    big.extend(core::iter::repeat_n(0x55, 500));
    let nals: [&[u8]; 5] = [SPS, PPS, IDR0, &big, P0];
    let stream = annexb(&nals);
    // The 500-byte picture does not fit in 200 bytes: reported and dropped, the pictures around it pass.
    let (got, errors) = chunked_units(&stream, NalCodec::H264, 9, 200);
    assert!(errors.contains(&AnnexBError::AccessUnitTooLarge { max: 200 }), "{errors:?}");
    assert_eq!(got, [vec![SPS.to_vec(), PPS.to_vec(), IDR0.to_vec()], vec![P0.to_vec()]]);
    let (got, _) = chunked_units(&stream, NalCodec::H264, 9, 1000);
    assert_eq!(got.len(), 3);
}
