//! A pcapng capture of what a peer connection sent and received, written into memory for the caller to
//! append to a file: each datagram as an IPv4 or IPv6 packet with its UDP header (link type raw IP), time-
//! stamped from the connection's `now`, and the DTLS key log in a Decryption Secrets Block so Wireshark
//! and tshark decrypt DTLS, and so show SCTP and DCEP, with no other file.
//!
//! The layout follows the pcapng specification (draft-ietf-opsawg-pcapng): a Section Header Block, one
//! Interface Description Block (`LINKTYPE_RAW`, nanosecond timestamps), then Enhanced Packet Blocks (with
//! the inbound/outbound direction flag) and, once the master secret is known and before any packet it
//! decrypts, a Decryption Secrets Block of type TLS key log (`0x544c534b`).

use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};
use core::time::Duration;

use crate::machine::Datagram;
use crate::time::Instant;

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 0x0000_0001;
const EPB: u32 = 0x0000_0006;
const DSB: u32 = 0x0000_000A;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// `LINKTYPE_RAW`: each packet begins with an IPv4 or IPv6 header.
const LINKTYPE_RAW: u16 = 101;
/// Decryption Secrets Block secrets type: an NSS key log.
pub const SECRETS_TLS_KEY_LOG: u32 = 0x544c_534b;
const OPT_END: u16 = 0;
const OPT_SHB_USERAPPL: u16 = 4;
const OPT_IF_NAME: u16 = 2;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_EPB_FLAGS: u16 = 2;
const UDP: u8 = 17;
const TTL: u8 = 64;

/// Which way a packet went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Inbound,
    Outbound,
}

/// A pcapng capture being written. Feed it what the connection received and sent, and its key log; take
/// the bytes with [`Capture::take`] and append them to a file. The first bytes taken start the file.
#[derive(Debug)]
pub struct Capture {
    out: Vec<u8>,
    /// The wall-clock time (since the Unix epoch) of [`Instant::ZERO`].
    epoch: Duration,
    ip_id: u16,
    max_pending: usize,
    written: u64,
    dropped: u64,
}

impl Capture {
    /// A capture whose packets are stamped `epoch + now`: `epoch` is the wall-clock time (since the Unix
    /// epoch) the caller's [`Instant::ZERO`] stands for. At most `max_pending` bytes wait to be taken;
    /// packets beyond that are dropped and counted ([`Capture::dropped`]), secrets never are.
    pub fn new(epoch: Duration, max_pending: usize) -> Self {
        let mut c = Capture { out: Vec::new(), epoch, ip_id: 0, max_pending, written: 0, dropped: 0 };
        c.header();
        c
    }

    fn header(&mut self) {
        let mut body = Vec::with_capacity(64);
        body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&u64::MAX.to_le_bytes()); // section length: not given
        option(&mut body, OPT_SHB_USERAPPL, b"sansrtc");
        option(&mut body, OPT_END, &[]);
        block(&mut self.out, SHB, &body);
        body.clear();
        body.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes()); // snap length: none
        option(&mut body, OPT_IF_NAME, b"sansrtc");
        option(&mut body, OPT_IF_TSRESOL, &[9]); // nanoseconds
        option(&mut body, OPT_END, &[]);
        block(&mut self.out, IDB, &body);
    }

    /// A datagram the connection received at `now` (from `source`, the remote, to `destination`, ours).
    pub fn received(&mut self, now: Instant, datagram: &Datagram<'_>) {
        self.packet(now, datagram, Direction::Inbound);
    }

    /// A datagram the connection sent at `now` (from `source`, ours, to `destination`).
    pub fn sent(&mut self, now: Instant, transmit: &Datagram<'_>) {
        self.packet(now, transmit, Direction::Outbound);
    }

    /// NSS key-log lines (DTLS 1.2's `CLIENT_RANDOM …`, or DTLS 1.3's five traffic and exporter secrets,
    /// newline-separated), written as one Decryption Secrets Block. Add it before the packets it decrypts:
    /// Wireshark reads secrets in file order.
    pub fn key_log(&mut self, line: &str) {
        let mut body = Vec::with_capacity(16 + line.len());
        body.extend_from_slice(&SECRETS_TLS_KEY_LOG.to_le_bytes());
        let secrets_len = line.len() + 1;
        body.extend_from_slice(&u32::try_from(secrets_len).unwrap_or(u32::MAX).to_le_bytes());
        body.extend_from_slice(line.as_bytes());
        body.push(b'\n');
        pad(&mut body);
        block(&mut self.out, DSB, &body);
    }

    /// The bytes written since the last call (the whole file so far, the first time).
    pub fn take(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.out)
    }

    /// As [`Self::take`], into `out` (cleared first) by swapping buffers: the capture keeps `out`'s buffer
    /// for what comes next, so a caller passing the same `Vec` every time neither copies nor allocates.
    pub fn take_into(&mut self, out: &mut Vec<u8>) {
        out.clear();
        core::mem::swap(&mut self.out, out);
    }

    /// Packets written.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Packets not written: the pending bytes were at their bound, the addresses were of two families, or
    /// the datagram was too large for a UDP header.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn packet(&mut self, now: Instant, d: &Datagram<'_>, direction: Direction) {
        if self.out.len().saturating_add(d.contents.len() + 96) > self.max_pending {
            self.dropped += 1;
            return;
        }
        let ip_len = match (d.source, d.destination) {
            (SocketAddr::V4(_), SocketAddr::V4(_)) => 20,
            (SocketAddr::V6(_), SocketAddr::V6(_)) => 40,
            _ => {
                self.dropped += 1;
                return;
            }
        };
        let packet_len = ip_len + 8 + d.contents.len();
        // The UDP length (and IPv4's total length) must fit 16 bits.
        let ipv4_header = if ip_len == 20 { 20 } else { 0 };
        if d.contents.len() + 8 + ipv4_header > usize::from(u16::MAX) {
            self.dropped += 1;
            return;
        }
        self.ip_id = self.ip_id.wrapping_add(1);
        // The Enhanced Packet Block written in place: header, fields, packet, padding, options, length.
        let padded = packet_len.next_multiple_of(4);
        let total = u32::try_from(12 + 20 + padded + 8 + 4).unwrap_or(u32::MAX);
        let nanos = self.epoch.as_nanos().saturating_add(u128::from(now.as_nanos()));
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX);
        let len = u32::try_from(packet_len).unwrap_or(u32::MAX);
        let out = &mut self.out;
        out.reserve(total as usize);
        out.extend_from_slice(&EPB.to_le_bytes());
        out.extend_from_slice(&total.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes()); // interface 0
        out.extend_from_slice(&((nanos >> 32) as u32).to_le_bytes());
        out.extend_from_slice(&(nanos as u32).to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        ip_udp(out, d.source, d.destination, d.contents, self.ip_id);
        pad(out);
        let flags: u32 = match direction {
            Direction::Inbound => 1,
            Direction::Outbound => 2,
        };
        option(out, OPT_EPB_FLAGS, &flags.to_le_bytes());
        option(out, OPT_END, &[]);
        out.extend_from_slice(&total.to_le_bytes());
        self.written += 1;
    }
}

/// Appends a block: type, total length, body (a multiple of 4 bytes), total length again.
fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
    let total = u32::try_from(body.len() + 12).unwrap_or(u32::MAX);
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&total.to_le_bytes());
}

/// Appends an option: code, length, value padded to 4 bytes.
fn option(out: &mut Vec<u8>, code: u16, value: &[u8]) {
    out.extend_from_slice(&code.to_le_bytes());
    out.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_le_bytes());
    out.extend_from_slice(value);
    pad(out);
}

fn pad(out: &mut Vec<u8>) {
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

/// The one's-complement sum of 16-bit words (RFC 1071), over several parts as if they were one.
fn sum(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        if let [hi, lo] = c {
            acc += u32::from(u16::from_be_bytes([*hi, *lo]));
        }
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Writes an IPv4 or IPv6 header and a UDP header (both with checksums) before `data`. `false` when the
/// addresses are of two families or `data` does not fit a UDP datagram.
fn ip_udp(out: &mut Vec<u8>, src: SocketAddr, dst: SocketAddr, data: &[u8], id: u16) -> bool {
    let Ok(udp_len) = u16::try_from(data.len() + 8) else { return false };
    let mut udp = [0u8; 8];
    udp[0..2].copy_from_slice(&src.port().to_be_bytes());
    udp[2..4].copy_from_slice(&dst.port().to_be_bytes());
    udp[4..6].copy_from_slice(&udp_len.to_be_bytes());
    // The pseudo-header's protocol and length, then the addresses (below).
    let pseudo = sum(0, &[0, UDP]) + u32::from(udp_len);
    let pseudo = sum(pseudo, &udp);
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let Ok(total) = u16::try_from(data.len() + 28) else { return false };
            let mut ip = [0u8; 20];
            ip[0] = 0x45;
            ip[2..4].copy_from_slice(&total.to_be_bytes());
            ip[4..6].copy_from_slice(&id.to_be_bytes());
            ip[6] = 0x40; // don't fragment
            ip[8] = TTL;
            ip[9] = UDP;
            ip[12..16].copy_from_slice(&s.octets());
            ip[16..20].copy_from_slice(&d.octets());
            let check = fold(sum(0, &ip));
            ip[10..12].copy_from_slice(&check.to_be_bytes());
            let c = fold(sum(sum(sum(pseudo, &s.octets()), &d.octets()), data));
            udp[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
            out.extend_from_slice(&ip);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut ip = [0u8; 40];
            ip[0] = 0x60;
            ip[4..6].copy_from_slice(&udp_len.to_be_bytes());
            ip[6] = UDP;
            ip[7] = TTL;
            ip[8..24].copy_from_slice(&s.octets());
            ip[24..40].copy_from_slice(&d.octets());
            let c = fold(sum(sum(sum(pseudo, &s.octets()), &d.octets()), data));
            udp[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
            out.extend_from_slice(&ip);
        }
        _ => return false,
    }
    out.extend_from_slice(&udp);
    out.extend_from_slice(data);
    true
}
