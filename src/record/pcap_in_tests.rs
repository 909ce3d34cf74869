//! Unit tests of the capture reader: both formats and byte orders, the link layers, what is skipped, and
//! damaged files (typed errors with offsets, never a panic).

#![allow(clippy::indexing_slicing)]

use alloc::vec;
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;

use super::pcap_in::{CaptureError, CaptureReader, CapturedPacket, Skip};
use super::{Capture, Datagram};
use crate::Instant;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// An IPv4 header and UDP header (checksums left zero, which readers must not mind) before `data`.
fn ipv4_udp(src: SocketAddr, dst: SocketAddr, data: &[u8], protocol: u8, frag: u16) -> Vec<u8> {
    let (SocketAddr::V4(s), SocketAddr::V4(d)) = (src, dst) else { panic!("IPv4 only") };
    let total = (28 + data.len()) as u16;
    let mut p = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, protocol, 0, 0];
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p[6..8].copy_from_slice(&frag.to_be_bytes());
    p.extend_from_slice(&s.ip().octets());
    p.extend_from_slice(&d.ip().octets());
    p.extend_from_slice(&s.port().to_be_bytes());
    p.extend_from_slice(&d.port().to_be_bytes());
    p.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(data);
    p
}

fn ipv6_udp(src: SocketAddr, dst: SocketAddr, data: &[u8]) -> Vec<u8> {
    let (SocketAddr::V6(s), SocketAddr::V6(d)) = (src, dst) else { panic!("IPv6 only") };
    let len = (8 + data.len()) as u16;
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&len.to_be_bytes());
    p.extend_from_slice(&[17, 64]);
    p.extend_from_slice(&s.ip().octets());
    p.extend_from_slice(&d.ip().octets());
    p.extend_from_slice(&s.port().to_be_bytes());
    p.extend_from_slice(&d.port().to_be_bytes());
    p.extend_from_slice(&len.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(data);
    p
}

fn ethernet(ip: &[u8], ethertype: u16, vlan: bool) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    if vlan {
        f.extend_from_slice(&0x8100u16.to_be_bytes());
        f.extend_from_slice(&[0, 5]);
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(ip);
    f
}

/// A classic pcap file: `(seconds, fraction, frame)` records.
fn pcap(big_endian: bool, nanos: bool, link_type: u32, packets: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let w32 = |out: &mut Vec<u8>, v: u32| {
        out.extend_from_slice(&if big_endian { v.to_be_bytes() } else { v.to_le_bytes() });
    };
    let w16 = |out: &mut Vec<u8>, v: u16| {
        out.extend_from_slice(&if big_endian { v.to_be_bytes() } else { v.to_le_bytes() });
    };
    let mut out = Vec::new();
    w32(&mut out, if nanos { 0xA1B2_3C4D } else { 0xA1B2_C3D4 });
    w16(&mut out, 2);
    w16(&mut out, 4);
    w32(&mut out, 0);
    w32(&mut out, 0);
    w32(&mut out, 65_535);
    w32(&mut out, link_type);
    for (secs, frac, frame) in packets {
        w32(&mut out, *secs);
        w32(&mut out, *frac);
        w32(&mut out, frame.len() as u32);
        w32(&mut out, frame.len() as u32);
        out.extend_from_slice(frame);
    }
    out
}

fn all(bytes: &[u8]) -> Result<Vec<CapturedPacket<'_>>, CaptureError> {
    CaptureReader::new(bytes)?.packets().collect()
}

#[test]
fn classic_pcap_in_both_byte_orders_and_link_layers() {
    let (a, b) = (addr("10.0.0.1:5000"), addr("10.0.0.2:6000"));
    let udp = ipv4_udp(a, b, b"hello", 17, 0x4000);
    let tcp = ipv4_udp(a, b, b"tcp!!", 6, 0);
    let fragment = ipv4_udp(a, b, b"frag", 17, 0x2000);
    let eth = ethernet(&udp, 0x0800, false);
    let tagged = ethernet(&udp, 0x0800, true);
    let arp = ethernet(&[0; 28], 0x0806, false);
    let cut = ethernet(&udp[..30], 0x0800, false);
    for big_endian in [false, true] {
        let file = pcap(
            big_endian,
            false,
            1,
            &[
                (10, 250_000, &eth),
                (11, 0, &tagged),
                (12, 0, &arp),
                (13, 0, &ethernet(&tcp, 0x0800, false)),
                (14, 0, &ethernet(&fragment, 0x0800, false)),
                (15, 0, &cut),
            ],
        );
        let packets = all(&file).unwrap();
        assert_eq!(packets.len(), 6);
        let hello = Datagram { source: a, destination: b, contents: b"hello" };
        assert_eq!(packets[0].udp, Ok(hello));
        assert_eq!(packets[0].timestamp, Duration::new(10, 250_000_000));
        assert_eq!(packets[0].offset, 24);
        assert_eq!(packets[1].udp, Ok(hello));
        assert_eq!(packets[2].udp, Err(Skip::NotUdp));
        assert_eq!(packets[3].udp, Err(Skip::NotUdp));
        assert_eq!(packets[4].udp, Err(Skip::Fragment));
        assert_eq!(packets[5].udp, Err(Skip::Malformed));
    }
    // Nanosecond timestamps, raw IPv6, Linux cooked captures and BSD loopback.
    let (c, d) = (addr("[2001:db8::1]:443"), addr("[2001:db8::2]:50000"));
    let v6 = ipv6_udp(c, d, b"six");
    let file = pcap(true, true, 101, &[(1, 999_999_999, &v6)]);
    let p = all(&file).unwrap();
    assert_eq!(p[0].udp, Ok(Datagram { source: c, destination: d, contents: b"six" }));
    assert_eq!(p[0].timestamp, Duration::new(1, 999_999_999));
    let mut sll = vec![0; 14];
    sll.extend_from_slice(&0x86DDu16.to_be_bytes());
    sll.extend_from_slice(&v6);
    let mut sll2 = vec![0x86, 0xDD];
    sll2.extend_from_slice(&[0; 18]);
    sll2.extend_from_slice(&v6);
    let mut lo = 30u32.to_le_bytes().to_vec();
    lo.extend_from_slice(&v6);
    for (link, frame) in [(113, &sll), (276, &sll2), (0, &lo), (229, &v6)] {
        let file = pcap(false, true, link, &[(1, 0, frame)]);
        assert_eq!(all(&file).unwrap()[0].udp.map(|d| d.contents), Ok(&b"six"[..]), "link type {link}");
    }
}

#[test]
fn pcapng_written_by_capture_reads_back() {
    let (a, b) = (addr("192.0.2.1:5000"), addr("198.51.100.2:6000"));
    let (c, d) = (addr("[2001:db8::1]:5000"), addr("[2001:db8::2]:6000"));
    let mut capture = Capture::new(Duration::from_secs(1_700_000_000), 1 << 20);
    capture.received(Instant::from_nanos(1_234), &Datagram { source: b, destination: a, contents: b"in" });
    capture.key_log("CLIENT_RANDOM 00 11");
    capture.sent(Instant::from_millis(5), &Datagram { source: c, destination: d, contents: &[7; 1200] });
    let file = capture.take();
    let reader = CaptureReader::new(&file).unwrap();
    assert!(reader.is_pcapng());
    let p: Vec<_> = reader.packets().collect::<Result<_, _>>().unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].udp, Ok(Datagram { source: b, destination: a, contents: b"in" }));
    assert_eq!(p[0].timestamp, Duration::new(1_700_000_000, 1_234));
    assert_eq!(p[1].udp.unwrap().contents, &[7; 1200][..]);
    assert_eq!(p[1].timestamp, Duration::new(1_700_000_000, 5_000_000));
}

/// A pcapng file by hand in either byte order: one interface of `link_type` with microsecond stamps
/// (no if_tsresol), one Enhanced Packet Block holding `frame`.
fn pcapng(big_endian: bool, link_type: u16, frame: &[u8], captured: u32) -> Vec<u8> {
    let w32 = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    let w16 = |v: u16| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    let block = |out: &mut Vec<u8>, kind: u32, body: &[u8]| {
        let total = (body.len() + 12) as u32;
        out.extend_from_slice(&w32(kind));
        out.extend_from_slice(&w32(total));
        out.extend_from_slice(body);
        out.extend_from_slice(&w32(total));
    };
    let mut out = Vec::new();
    let mut shb = w32(0x1A2B_3C4D).to_vec();
    shb.extend_from_slice(&w16(1));
    shb.extend_from_slice(&w16(0));
    shb.extend_from_slice(&[0xff; 8]);
    block(&mut out, 0x0A0D_0D0A, &shb);
    let mut idb = w16(link_type).to_vec();
    idb.extend_from_slice(&[0, 0]);
    idb.extend_from_slice(&w32(0));
    block(&mut out, 1, &idb);
    let mut epb = w32(0).to_vec();
    epb.extend_from_slice(&w32(0));
    epb.extend_from_slice(&w32(3_000_001)); // 3.000001 s in microseconds
    epb.extend_from_slice(&w32(captured));
    epb.extend_from_slice(&w32(frame.len() as u32));
    epb.extend_from_slice(frame);
    while epb.len() % 4 != 0 {
        epb.push(0);
    }
    block(&mut out, 6, &epb);
    out
}

#[test]
fn pcapng_big_endian_with_microseconds() {
    let (a, b) = (addr("10.0.0.1:1"), addr("10.0.0.2:2"));
    let ip = ipv4_udp(a, b, b"abc", 17, 0);
    for big_endian in [false, true] {
        let file = pcapng(big_endian, 101, &ip, ip.len() as u32);
        let p = all(&file).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].udp, Ok(Datagram { source: a, destination: b, contents: b"abc" }));
        assert_eq!(p[0].timestamp, Duration::new(3, 1_000));
    }
}

#[test]
fn lying_lengths_unknown_links_and_truncation_are_typed_errors_with_offsets() {
    let (a, b) = (addr("10.0.0.1:1"), addr("10.0.0.2:2"));
    let ip = ipv4_udp(a, b, b"abc", 17, 0);
    // pcap: a record claiming more bytes than the file holds; the length field is at 24 + 8.
    let mut file = pcap(false, false, 101, &[(1, 0, &ip)]);
    file[32..36].copy_from_slice(&1000u32.to_le_bytes());
    file[36..40].copy_from_slice(&1000u32.to_le_bytes());
    assert_eq!(all(&file).unwrap_err(), CaptureError::LyingLength { offset: 32, claimed: 1000 });
    // ... or more than the packet it claims to be cut from.
    let mut file = pcap(false, false, 101, &[(1, 0, &ip)]);
    file[36..40].copy_from_slice(&3u32.to_le_bytes());
    assert_eq!(all(&file).unwrap_err(), CaptureError::LyingLength { offset: 32, claimed: ip.len() as u64 });
    // ... or a length no packet has (past the snapshot length), in the second record.
    let mut file = pcap(true, false, 101, &[(1, 0, &ip), (2, 0, &ip)]);
    let second = 24 + 16 + ip.len();
    file[second + 8..second + 12].copy_from_slice(&u32::MAX.to_be_bytes());
    let r: Vec<_> = CaptureReader::new(&file).unwrap().packets().collect();
    assert!(r[0].is_ok());
    assert_eq!(r[1], Err(CaptureError::LyingLength { offset: second + 8, claimed: u64::from(u32::MAX) }));
    assert_eq!(r.len(), 2, "iteration stops at the error");
    // pcap: unknown link type (IEEE 802.11 radiotap, 127); the field is at 20.
    let file = pcap(false, false, 127, &[(1, 0, &ip)]);
    assert_eq!(CaptureReader::new(&file).unwrap_err(), CaptureError::UnknownLinkType { offset: 20, link_type: 127 });
    // pcap: cut inside a record header, inside the file header, and not a capture at all.
    let file = pcap(false, false, 101, &[(1, 0, &ip)]);
    assert_eq!(all(&file[..30]).unwrap_err(), CaptureError::Truncated { offset: 24 });
    assert_eq!(CaptureReader::new(&file[..10]).unwrap_err(), CaptureError::Truncated { offset: 0 });
    assert_eq!(CaptureReader::new(b"GIF89a....").unwrap_err(), CaptureError::NotACapture);
    // pcapng: a block whose total length points past the end (the field is at 4 of the EPB, after the
    // 28-byte SHB and 20-byte IDB).
    let mut file = pcapng(false, 101, &ip, ip.len() as u32);
    file[52..56].copy_from_slice(&4096u32.to_le_bytes());
    assert_eq!(all(&file).unwrap_err(), CaptureError::LyingLength { offset: 52, claimed: 4096 });
    // ... an EPB whose captured length exceeds its block (field at 48 + 8 + 12).
    let file = pcapng(true, 101, &ip, 400);
    assert_eq!(all(&file).unwrap_err(), CaptureError::LyingLength { offset: 68, claimed: 400 });
    // ... an interface of an unknown link type (the IDB body starts at 28 + 8).
    let file = pcapng(false, 147, &ip, ip.len() as u32);
    assert_eq!(all(&file).unwrap_err(), CaptureError::UnknownLinkType { offset: 36, link_type: 147 });
    // ... cut in the middle of the packet block.
    let file = pcapng(false, 101, &ip, ip.len() as u32);
    let e = all(&file[..60]).unwrap_err();
    assert_eq!(e, CaptureError::LyingLength { offset: 52, claimed: (file.len() - 48) as u64 });
    assert_eq!(e.offset(), 52);
    assert!(alloc::format!("{e}").contains("offset 52"));
}

#[test]
fn damaged_captures_never_panic() {
    let (a, b) = (addr("10.0.0.1:1"), addr("10.0.0.2:2"));
    let ip = ipv4_udp(a, b, &[0x16; 40], 17, 0);
    let eth = ethernet(&ip, 0x0800, true);
    let files = [
        pcap(false, true, 1, &[(1, 0, &eth), (2, 0, &eth)]),
        pcap(true, false, 101, &[(1, 0, &ip), (2, 0, &ip)]),
        pcapng(false, 1, &eth, eth.len() as u32),
        pcapng(true, 101, &ip, ip.len() as u32),
    ];
    let mut x = 0x1234_5678u32;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for file in &files {
        for cut in 0..file.len() {
            if let Ok(r) = CaptureReader::new(&file[..cut]) {
                r.packets().for_each(drop);
            }
        }
        for _ in 0..2000 {
            let mut f = file.clone();
            for _ in 0..1 + rand() % 4 {
                let i = rand() as usize % f.len();
                f[i] = rand() as u8;
            }
            if let Ok(r) = CaptureReader::new(&f) {
                for p in r.packets() {
                    if let Err(e) = p {
                        assert!(e.offset() <= f.len());
                    }
                }
            }
        }
    }
}
