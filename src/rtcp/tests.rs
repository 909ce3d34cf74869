#![allow(clippy::indexing_slicing)]

use alloc::vec;
use alloc::vec::Vec;

use super::*;

type SdesItemsSnap = Vec<(SdesType, Vec<u8>)>;

/// A test-side owned summary of a parsed packet, for assertions and snapshots.
#[derive(Debug, Clone, PartialEq)]
#[allow(dead_code)] // fields are read through Debug (snapshots)
enum Snap {
    Sr { ssrc: u32, info: SenderInfo, reports: Vec<ReportBlock>, extension: Vec<u8> },
    Rr { ssrc: u32, reports: Vec<ReportBlock>, extension: Vec<u8> },
    Sdes(Vec<(u32, SdesItemsSnap)>),
    Bye { ssrcs: Vec<u32>, reason: Option<Vec<u8>> },
    App { subtype: u8, ssrc: u32, name: [u8; 4], data: Vec<u8> },
    Xr { ssrc: u32, blocks: Vec<XrSnap> },
    Nack { sender: u32, media: u32, pairs: Vec<NackPair>, lost: Vec<u16> },
    Twcc { sender: u32, media: u32, base: u16, reference_time: i32, count: u8, packets: Vec<TwccPacket> },
    Pli(Pli),
    Fir { sender: u32, media: u32, entries: Vec<FirEntry> },
    Remb { sender: u32, bitrate: u64, ssrcs: Vec<u32> },
    Unknown { packet_type: u8, count: u8, body: Vec<u8> },
}

#[derive(Debug, Clone, PartialEq)]
enum XrSnap {
    Rrtr(u64),
    Dlrr(Vec<DlrrItem>),
    Unknown(u8, u8, Vec<u8>),
}

fn snap(p: &RtcpPacket<'_>) -> Snap {
    match p {
        RtcpPacket::SenderReport(sr) => Snap::Sr {
            ssrc: sr.ssrc,
            info: sr.info,
            reports: sr.reports.clone().collect(),
            extension: sr.extension.to_vec(),
        },
        RtcpPacket::ReceiverReport(rr) => {
            Snap::Rr { ssrc: rr.ssrc, reports: rr.reports.clone().collect(), extension: rr.extension.to_vec() }
        }
        RtcpPacket::Sdes(s) => {
            Snap::Sdes(s.chunks().map(|c| (c.ssrc, c.items.map(|i| (i.kind, i.value.to_vec())).collect())).collect())
        }
        RtcpPacket::Bye(b) => Snap::Bye { ssrcs: b.ssrcs().collect(), reason: b.reason.map(<[u8]>::to_vec) },
        RtcpPacket::App(a) => Snap::App { subtype: a.subtype, ssrc: a.ssrc, name: a.name, data: a.data.to_vec() },
        RtcpPacket::ExtendedReport(x) => Snap::Xr {
            ssrc: x.ssrc,
            blocks: x
                .blocks()
                .map(|b| match b {
                    XrBlock::Rrtr { ntp_timestamp } => XrSnap::Rrtr(ntp_timestamp),
                    XrBlock::Dlrr(items) => XrSnap::Dlrr(items.collect()),
                    XrBlock::Unknown { block_type, type_specific, data } => {
                        XrSnap::Unknown(block_type, type_specific, data.to_vec())
                    }
                })
                .collect(),
        },
        RtcpPacket::Nack(n) => Snap::Nack {
            sender: n.sender_ssrc,
            media: n.media_ssrc,
            pairs: n.pairs().collect(),
            lost: n.lost().collect(),
        },
        RtcpPacket::TransportCc(t) => Snap::Twcc {
            sender: t.sender_ssrc,
            media: t.media_ssrc,
            base: t.base_sequence,
            reference_time: t.reference_time,
            count: t.feedback_count,
            packets: t.packets().collect(),
        },
        RtcpPacket::Pli(p) => Snap::Pli(*p),
        RtcpPacket::Fir(f) => Snap::Fir { sender: f.sender_ssrc, media: f.media_ssrc, entries: f.entries().collect() },
        RtcpPacket::Remb(r) => Snap::Remb { sender: r.sender_ssrc, bitrate: r.bitrate, ssrcs: r.ssrcs().collect() },
        RtcpPacket::Unknown(u) => Snap::Unknown { packet_type: u.packet_type, count: u.count, body: u.body.to_vec() },
    }
}

/// Writes a summary back with the writer: the round trip.
fn write(s: &Snap, w: &mut Writer<'_>) {
    match s {
        Snap::Sr { ssrc, info, reports, extension } => w.sender_report(*ssrc, info, reports, extension),
        Snap::Rr { ssrc, reports, extension } => w.receiver_report(*ssrc, reports, extension),
        Snap::Sdes(chunks) => {
            let items: Vec<Vec<(SdesType, &[u8])>> =
                chunks.iter().map(|(_, items)| items.iter().map(|(k, v)| (*k, &v[..])).collect()).collect();
            let reprs: Vec<SdesChunkRepr<'_>> =
                chunks.iter().zip(&items).map(|((ssrc, _), items)| SdesChunkRepr { ssrc: *ssrc, items }).collect();
            w.sdes(&reprs)
        }
        Snap::Bye { ssrcs, reason } => w.bye(ssrcs, reason.as_deref()),
        Snap::App { subtype, ssrc, name, data } => w.app(*subtype, *ssrc, *name, data),
        Snap::Xr { ssrc, blocks } => {
            let reprs: Vec<XrBlockRepr<'_>> = blocks
                .iter()
                .map(|b| match b {
                    XrSnap::Rrtr(t) => XrBlockRepr::Rrtr { ntp_timestamp: *t },
                    XrSnap::Dlrr(items) => XrBlockRepr::Dlrr(items),
                    XrSnap::Unknown(bt, ts, data) => XrBlockRepr::Unknown { block_type: *bt, type_specific: *ts, data },
                })
                .collect();
            w.extended_report(*ssrc, &reprs)
        }
        Snap::Nack { sender, media, pairs, .. } => w.nack(*sender, *media, pairs),
        Snap::Twcc { sender, media, base, reference_time, count, packets } => {
            let statuses: Vec<TwccStatus> = packets.iter().map(|p| p.status).collect();
            w.transport_cc(&TransportCcRepr {
                sender_ssrc: *sender,
                media_ssrc: *media,
                base_sequence: *base,
                reference_time: *reference_time,
                feedback_count: *count,
                packets: &statuses,
            })
        }
        Snap::Pli(p) => w.pli(p.sender_ssrc, p.media_ssrc),
        Snap::Fir { sender, entries, .. } => w.fir(*sender, entries),
        Snap::Remb { sender, bitrate, ssrcs } => w.remb(*sender, *bitrate, ssrcs),
        Snap::Unknown { packet_type, count, body } => w.raw(*packet_type, *count, body),
    }
    .unwrap();
}

fn parse_all(datagram: &[u8]) -> Vec<Snap> {
    Compound::new(datagram).map(|p| snap(&p.unwrap())).collect()
}

fn round_trip(datagram: &[u8]) -> Vec<Snap> {
    let snaps = parse_all(datagram);
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out);
    for s in &snaps {
        write(s, &mut w);
    }
    assert_eq!(out, datagram, "parse -> write gives the same bytes");
    snaps
}

/// Chrome's periodic compound from a video sender: SR with one report block, then SDES CNAME.
fn chrome_sr_sdes() -> Vec<u8> {
    let mut p = vec![
        0x81, 0xc8, 0x00, 0x0c, // SR, RC=1, length 12
        0x9a, 0x3e, 0x71, 0x05, // sender SSRC
        0xe9, 0x3c, 0x1f, 0x4e, 0x8d, 0x4f, 0xdf, 0x3b, // NTP
        0x6b, 0x1c, 0x22, 0x10, // RTP timestamp
        0x00, 0x00, 0x05, 0x3a, // packets
        0x00, 0x0c, 0x41, 0x55, // octets
        0x2c, 0x77, 0x05, 0xd1, // report block: SSRC
        0x05, 0xff, 0xff, 0xfe, // fraction lost 5, cumulative -2 (duplicates)
        0x00, 0x01, 0x2a, 0x4f, // extended highest seq
        0x00, 0x00, 0x00, 0x1d, // jitter
        0x1f, 0x4e, 0x8a, 0x3d, // LSR
        0x00, 0x00, 0x4c, 0x4b, // DLSR
    ];
    p.extend_from_slice(&[0x81, 0xca, 0x00, 0x06, 0x9a, 0x3e, 0x71, 0x05, 0x01, 0x10]);
    p.extend_from_slice(b"vN8x3r1mFhH4YxQz");
    p.extend_from_slice(&[0x00, 0x00]);
    p
}

#[test]
fn chrome_sr_and_sdes() {
    let bytes = chrome_sr_sdes();
    let snaps = round_trip(&bytes);
    let Snap::Sr { ssrc, info, reports, .. } = &snaps[0] else { panic!("{snaps:?}") };
    assert_eq!(*ssrc, 0x9a3e_7105);
    assert_eq!(info.packet_count, 1338);
    assert_eq!(reports[0].cumulative_lost, -2);
    assert_eq!(reports[0].fraction_lost, 5);
    assert_eq!(reports[0].highest_sequence, 0x0001_2a4f);
    let Some(Ok(RtcpPacket::Sdes(sdes))) = Compound::new(&bytes).nth(1) else { panic!() };
    assert_eq!(sdes.cname(), Some(&b"vN8x3r1mFhH4YxQz"[..]));
    insta::assert_debug_snapshot!("chrome_sr_sdes", snaps);
}

/// A TWCC feedback built by hand from the draft's rules: a run-length chunk (5 × small delta), a
/// two-bit status vector (small, not received, large, small, small, not received, not received), a
/// one-bit vector with 3 of 14 symbols used (received, not received, received), padded with the P bit.
fn hand_twcc() -> Vec<u8> {
    let mut p = vec![0xaf, 0xcd, 0x00, 0x09, 0x00, 0x00, 0x00, 0x01, 0x9a, 0x3e, 0x71, 0x05];
    p.extend_from_slice(&[0x00, 0x99, 0x00, 0x0f, 0x00, 0x01, 0x02, 0x07]); // base 153, 15 packets, ref 258, #7
    p.extend_from_slice(&[0x20, 0x05, 0xd2, 0x50, 0xa8, 0x00]); // chunks
    p.extend_from_slice(&[4, 0, 1, 2, 200]); // 5 small deltas
    p.extend_from_slice(&[3, 0xff, 0x38, 9, 10]); // small, large (-200), small, small
    p.extend_from_slice(&[11, 12]); // one-bit vector: two small
    p.extend_from_slice(&[0x00, 0x02]); // padding
    p
}

#[test]
fn twcc_hand_built_feedback() {
    let bytes = hand_twcc();
    let snaps = parse_all(&bytes);
    let Snap::Twcc { base, reference_time, packets, .. } = &snaps[0] else { panic!("{snaps:?}") };
    assert_eq!((*base, *reference_time, packets.len()), (153, 258, 15));
    use TwccStatus::*;
    let statuses: Vec<TwccStatus> = packets.iter().map(|p| p.status).collect();
    assert_eq!(
        statuses,
        [
            SmallDelta(4),
            SmallDelta(0),
            SmallDelta(1),
            SmallDelta(2),
            SmallDelta(200),
            SmallDelta(3),
            NotReceived,
            LargeDelta(-200),
            SmallDelta(9),
            SmallDelta(10),
            NotReceived,
            NotReceived,
            SmallDelta(11),
            NotReceived,
            SmallDelta(12),
        ]
    );
    assert_eq!(packets[14].sequence, 167);
    insta::assert_debug_snapshot!("twcc_hand_built", snaps);
}

#[test]
fn twcc_writer_round_trips_libwebrtc_style_chunks() {
    use TwccStatus::*;
    // 40 packets: a long received run, a loss burst, mixed sizes; and a long run crossing seq wrap.
    let mut statuses: Vec<TwccStatus> = (0..20).map(|i| SmallDelta(i * 3)).collect();
    statuses.extend([NotReceived; 9]);
    statuses.extend([LargeDelta(-4), SmallDelta(1), LargeDelta(2000), NotReceived, SmallDelta(0)]);
    statuses.extend((0..6).map(|i| if i % 2 == 0 { SmallDelta(i) } else { NotReceived }));
    let mut bytes = Vec::new();
    Writer::new(&mut bytes)
        .transport_cc(&TransportCcRepr {
            sender_ssrc: 1,
            media_ssrc: 0x9a3e_7105,
            base_sequence: 65530,
            reference_time: -5,
            feedback_count: 255,
            packets: &statuses,
        })
        .unwrap();
    assert_eq!(bytes.len() % 4, 0);
    let snaps = round_trip(&bytes);
    let Snap::Twcc { packets, reference_time, .. } = &snaps[0] else { panic!() };
    assert_eq!(*reference_time, -5);
    assert_eq!(packets.iter().map(|p| p.status).collect::<Vec<_>>(), statuses);
    assert_eq!(packets[6].sequence, 0, "sequence numbers wrap");
    let Some(Ok(RtcpPacket::TransportCc(t))) = Compound::new(&bytes).next() else { panic!() };
    // libwebrtc's chunker: a run of 20 small, a run of 9 not-received, then two 2-bit vectors (7 + 4).
    assert_eq!(t.chunk_count(), 4);
    // A run longer than a vector becomes a single run-length chunk.
    let many = vec![SmallDelta(1); 1000];
    let mut bytes = Vec::new();
    let repr = TransportCcRepr {
        sender_ssrc: 1,
        media_ssrc: 2,
        base_sequence: 0,
        reference_time: 0,
        feedback_count: 0,
        packets: &many,
    };
    Writer::new(&mut bytes).transport_cc(&repr).unwrap();
    let Some(Ok(RtcpPacket::TransportCc(t))) = Compound::new(&bytes).next() else { panic!() };
    assert_eq!((t.chunk_count(), t.packets().count()), (1, 1000));
    round_trip(&bytes);
}

/// What a Chrome receiver sends: RR + REMB + NACK + PLI + FIR in one compound, then XR RRTR + DLRR.
fn feedback_compound() -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out);
    let rb = ReportBlock {
        ssrc: 0x9a3e_7105,
        fraction_lost: 0,
        cumulative_lost: 12,
        highest_sequence: 0x0002_0010,
        jitter: 88,
        last_sr: 0x1f4e_8a3d,
        delay_since_last_sr: 0x0001_2000,
    };
    w.receiver_report(1, &[rb], &[]).unwrap();
    w.remb(1, 2_500_000, &[0x9a3e_7105, 0x2c77_05d1]).unwrap();
    w.nack_lost(1, 0x9a3e_7105, [10831, 10832, 10840, 10847, 10900]).unwrap();
    w.pli(1, 0x9a3e_7105).unwrap();
    w.fir(1, &[FirEntry { ssrc: 0x9a3e_7105, sequence: 3 }]).unwrap();
    w.extended_report(
        1,
        &[
            XrBlockRepr::Rrtr { ntp_timestamp: 0xe93c_1f4e_8d4f_df3b },
            XrBlockRepr::Dlrr(&[DlrrItem { ssrc: 7, last_rr: 0x1f4e_8d4f, delay_since_last_rr: 655 }]),
        ],
    )
    .unwrap();
    w.bye(&[1], Some(b"bye now")).unwrap();
    w.app(3, 1, *b"abcd", &[1, 2, 3, 4]).unwrap();
    out
}

#[test]
fn feedback_compound_round_trips() {
    let bytes = feedback_compound();
    let snaps = round_trip(&bytes);
    assert_eq!(snaps.len(), 8);
    let Snap::Nack { lost, pairs, .. } = &snaps[2] else { panic!() };
    assert_eq!(lost, &[10831, 10832, 10840, 10847, 10900]);
    assert_eq!(pairs.len(), 2);
    let Snap::Remb { bitrate, .. } = &snaps[1] else { panic!() };
    assert_eq!(*bitrate, 2_500_000);
    insta::assert_debug_snapshot!("feedback_compound", snaps);
}

#[test]
fn reduced_size_and_unknown_packets() {
    // RFC 5506: a lone PLI is a valid datagram.
    let mut bytes = Vec::new();
    Writer::new(&mut bytes).pli(5, 6).unwrap();
    assert_eq!(parse_all(&bytes), [Snap::Pli(Pli { sender_ssrc: 5, media_ssrc: 6 })]);
    // An unknown type (and an unknown PSFB FMT) between known ones: skipped, not fatal.
    let mut bytes = Vec::new();
    let mut w = Writer::new(&mut bytes);
    w.raw(199, 2, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    w.raw(packet_type::PSFB, 9, &[0; 12]).unwrap();
    w.raw(packet_type::PSFB, psfb::AFB, b"\0\0\0\0\0\0\0\0GOOG").unwrap();
    w.pli(5, 6).unwrap();
    let snaps = round_trip(&bytes);
    assert!(matches!(snaps[0], Snap::Unknown { packet_type: 199, count: 2, .. }));
    assert!(matches!(snaps[1], Snap::Unknown { packet_type: 206, count: 9, .. }));
    assert!(matches!(snaps[2], Snap::Unknown { packet_type: 206, count: 15, .. }));
    assert!(matches!(snaps[3], Snap::Pli(_)));
}

#[test]
fn malformed_bodies_and_framing() {
    // An RR claiming 2 report blocks with room for none: that packet errs, the next still parses.
    let mut bytes = vec![0x82, 201, 0, 1, 0, 0, 0, 1];
    Writer::new(&mut bytes).pli(1, 2).unwrap();
    let items: Vec<_> = Compound::new(&bytes).collect();
    assert_eq!(items[0], Err(Error::BadLength { packet_type: 201 }));
    assert!(matches!(items[1], Ok(RtcpPacket::Pli(_))));
    // A length running past the datagram ends the iteration.
    let bytes = [0x80, 201, 0, 9, 0, 0, 0, 1];
    assert_eq!(Compound::new(&bytes).collect::<Vec<_>>(), [Err(Error::Truncated)]);
    assert_eq!(Compound::check_framing(&bytes), Err(Error::Truncated));
    assert_eq!(Compound::check_framing(&feedback_compound()), Ok(8));
    // Bad version, bad padding, a TWCC whose chunks claim more deltas than present.
    assert_eq!(Compound::new(&[0x40, 201, 0, 0]).next(), Some(Err(Error::BadVersion(1))));
    assert_eq!(Compound::new(&[0xa0, 201, 0, 0]).next(), Some(Err(Error::BadPadding)));
    let mut twcc = hand_twcc();
    twcc[3] = 7; // cut the deltas off
    twcc.truncate(32);
    twcc[0] &= !0x20;
    assert_eq!(Compound::new(&twcc).next(), Some(Err(Error::BadItem)));
}

#[test]
fn random_input_never_panics() {
    let mut rng = crate::SeededRng::from_seed([5; 32]);
    let seeds = [chrome_sr_sdes(), hand_twcc(), feedback_compound()];
    for i in 0..20000 {
        let mut b = seeds[i % 3].clone();
        // Mutate a few octets or truncate.
        for _ in 0..rng.below(4) {
            let at = rng.below(b.len() as u64) as usize;
            b[at] = rng.below(256) as u8;
        }
        b.truncate(rng.below(b.len() as u64 + 1) as usize);
        for p in Compound::new(&b).flatten() {
            let _ = snap(&p);
        }
    }
}
