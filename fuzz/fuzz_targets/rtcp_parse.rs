//! RTCP compound parsing: arbitrary bytes through every packet view and every lazy list.
#![no_main]

use std::hint::black_box;

use libfuzzer_sys::fuzz_target;
use sansrtc::rtcp::{Compound, RtcpPacket, XrBlock};

fuzz_target!(|data: &[u8]| {
    let _ = Compound::check_framing(data);
    for packet in Compound::new(data).flatten() {
        match packet {
            RtcpPacket::SenderReport(sr) => {
                black_box(sr.reports.count());
            }
            RtcpPacket::ReceiverReport(rr) => {
                black_box(rr.reports.count());
            }
            RtcpPacket::Sdes(s) => {
                for c in s.chunks() {
                    black_box(c.items.count());
                }
                let _ = s.cname();
            }
            RtcpPacket::Bye(b) => {
                black_box(b.ssrcs().count());
            }
            RtcpPacket::ExtendedReport(x) => {
                for b in x.blocks() {
                    if let XrBlock::Dlrr(items) = b {
                        black_box(items.count());
                    }
                }
            }
            RtcpPacket::Nack(n) => {
                black_box(n.lost().count());
            }
            RtcpPacket::TransportCc(t) => assert_eq!(t.packets().count(), usize::from(t.status_count)),
            RtcpPacket::Fir(f) => {
                black_box(f.entries().count());
            }
            RtcpPacket::Remb(r) => {
                black_box(r.ssrcs().count());
            }
            _ => {}
        }
    }
});
