//! RTP and RTCP as Chromium sends them (`vectors/browser/chromium-rtp/`, see its README): decrypted
//! packets captured from one session, decoded with `sansrtc::rtp` and `sansrtc::rtcp`. Their SSRCs must be
//! the ones Chromium's offer signalled (`offer.sdp`) or, for feedback, name sansrtc's own (`answer.sdp`);
//! their header extensions must use the ids negotiated for their m-section, the MID extension must name
//! it, and the payload types must be the negotiated VP8, Opus and RTX.

use sansrtc::rtcp::{Compound, RtcpPacket, TwccStatus};
use sansrtc::rtp::{ExtensionKind, ExtensionMap, ExtensionValue, Packet};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/browser/chromium-rtp");

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// One m-section of an SDP, as far as these checks need it.
#[derive(Debug, Default)]
struct Section {
    mid: String,
    /// `a=extmap` id and URI.
    extmap: Vec<(u8, String)>,
    /// `a=rtpmap` payload type and encoding name.
    rtpmap: Vec<(u8, String)>,
    /// `a=fmtp:PT apt=N`: RTX payload type and the one it repairs.
    apt: Vec<(u8, u8)>,
    /// `a=ssrc` SSRCs in order of first appearance, and the CNAME.
    ssrcs: Vec<u32>,
    cname: String,
    /// `a=ssrc-group:FID media rtx`.
    fid: Option<(u32, u32)>,
}

impl Section {
    fn pt(&self, name: &str) -> u8 {
        self.rtpmap.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)).map(|(pt, _)| *pt).expect(name)
    }

    fn extensions(&self) -> ExtensionMap {
        let mut map = ExtensionMap::new();
        for (id, uri) in &self.extmap {
            map.insert_uri(*id, uri);
        }
        map
    }
}

fn sections(sdp: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for line in sdp.lines() {
        if line.starts_with("m=") {
            out.push(Section::default());
        }
        let Some(s) = out.last_mut() else { continue };
        let Some(attr) = line.strip_prefix("a=") else { continue };
        let (name, value) = attr.split_once(':').unwrap_or((attr, ""));
        let mut words = value.split_whitespace();
        match name {
            "mid" => s.mid = value.to_string(),
            "extmap" => {
                let id = words.next().and_then(|w| w.split('/').next()?.parse().ok()).expect("extmap id");
                s.extmap.push((id, words.next().expect("extmap uri").to_string()));
            }
            "rtpmap" => {
                let pt = words.next().and_then(|w| w.parse().ok()).expect("rtpmap pt");
                let name = words.next().and_then(|w| w.split('/').next()).expect("rtpmap name");
                s.rtpmap.push((pt, name.to_string()));
            }
            "fmtp" => {
                let pt: u8 = words.next().and_then(|w| w.parse().ok()).expect("fmtp pt");
                if let Some(apt) = words.next().and_then(|w| w.strip_prefix("apt=")) {
                    s.apt.push((pt, apt.parse().expect("apt")));
                }
            }
            "ssrc" => {
                let ssrc: u32 = words.next().and_then(|w| w.parse().ok()).expect("ssrc");
                if !s.ssrcs.contains(&ssrc) {
                    s.ssrcs.push(ssrc);
                }
                if let Some(cname) = words.next().and_then(|w| w.strip_prefix("cname:")) {
                    s.cname = cname.to_string();
                }
            }
            "ssrc-group" if words.next() == Some("FID") => {
                let mut n = words.map(|w| w.parse::<u32>().expect("FID ssrc"));
                s.fid = Some((n.next().expect("media"), n.next().expect("rtx")));
            }
            _ => {}
        }
    }
    out
}

struct Session {
    /// Chromium's audio and video sections (its offer).
    chromium: [Section; 2],
    /// sansrtc's (the answer: the negotiated extension ids and payload types).
    sansrtc: [Section; 2],
}

fn session() -> Session {
    let offer = String::from_utf8(read("offer.sdp")).expect("offer");
    let answer = String::from_utf8(read("answer.sdp")).expect("answer");
    let two = |sdp: &str| -> [Section; 2] {
        let mut s = sections(sdp).into_iter();
        let audio = s.next().expect("audio section");
        let video = s.next().expect("video section");
        assert_eq!((audio.mid.as_str(), video.mid.as_str()), ("0", "1"));
        [audio, video]
    };
    Session { chromium: two(&offer), sansrtc: two(&answer) }
}

/// The checks every captured RTP packet passes; returns it parsed.
fn rtp<'a>(bytes: &'a [u8], section: &Section, negotiated: &Section) -> Packet<&'a [u8]> {
    let p = Packet::new_checked(bytes).expect("an RTP packet");
    assert!(bytes[0] >> 6 == 2, "version 2");
    assert!(section.ssrcs.contains(&p.ssrc()), "SSRC {} signalled in {:?}", p.ssrc(), section.ssrcs);
    // Every extension element uses an id negotiated for this m-section (one-byte form, RFC 8285).
    assert_eq!(p.extension_profile(), Some(0xBEDE));
    let ids: Vec<u8> = negotiated.extmap.iter().map(|(id, _)| *id).collect();
    let mut seen = Vec::new();
    for e in p.extensions() {
        let e = e.expect("a well-formed extension element");
        assert!(ids.contains(&e.id), "extension id {} negotiated ({ids:?})", e.id);
        seen.push(e.id);
    }
    let map = negotiated.extensions();
    assert_eq!(p.extension_value(&map, ExtensionKind::Mid), Some(ExtensionValue::Mid(&negotiated.mid)));
    // Chromium numbers every packet for transport-wide congestion control (negotiated both ways).
    assert!(matches!(
        p.extension_value(&map, ExtensionKind::TransportWideCc),
        Some(ExtensionValue::TransportWideCc(_))
    ));
    assert!(!p.payload().is_empty());
    p
}

/// RFC 7741 §4.2: the VP8 payload descriptor's length and its S bit and partition index.
fn vp8_descriptor(payload: &[u8]) -> (usize, bool, u8) {
    let first = payload[0];
    let mut len = 1;
    if first & 0x80 != 0 {
        let x = payload[1];
        len = 2;
        if x & 0x80 != 0 {
            len += if payload[len] & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            len += 1;
        }
        if x & 0x30 != 0 {
            len += 1;
        }
    }
    (len, first & 0x10 != 0, first & 0x07)
}

#[test]
fn opus() {
    let s = session();
    let bytes = read("opus.bin");
    let p = rtp(&bytes, &s.chromium[0], &s.sansrtc[0]);
    assert_eq!(p.payload_type(), s.sansrtc[0].pt("opus"));
    assert_eq!(p.ssrc(), s.chromium[0].ssrcs[0]);
    let map = s.sansrtc[0].extensions();
    assert!(matches!(p.extension_value(&map, ExtensionKind::AudioLevel), Some(ExtensionValue::AudioLevel { .. })));
    // RFC 6716 §3.1: the TOC byte says one frame (code 0) of 20 ms (one of the 20 ms configurations of
    // Table 2), the packetization Chromium uses (`minptime=10` allows it).
    let toc = p.payload()[0];
    assert_eq!(toc & 0x03, 0, "one frame per packet");
    assert!([1, 5, 9, 13, 15, 19, 23, 27, 31].contains(&(toc >> 3)), "20 ms frames: config {}", toc >> 3);
}

#[test]
fn vp8_key_frame_start() {
    let s = session();
    let bytes = read("vp8-keyframe-start.bin");
    let p = rtp(&bytes, &s.chromium[1], &s.sansrtc[1]);
    assert_eq!(p.payload_type(), s.sansrtc[1].pt("VP8"));
    assert_eq!(Some(p.ssrc()), s.chromium[1].fid.map(|(media, _)| media));
    let (len, start, partition) = vp8_descriptor(p.payload());
    assert!(start && partition == 0, "the first packet of a frame");
    // RFC 6386 §9.1: a key frame's tag (P bit clear), the start code, then 14-bit width and height.
    let frame = &p.payload()[len..];
    assert_eq!(frame[0] & 0x01, 0, "key frame");
    assert_eq!(&frame[3..6], &[0x9d, 0x01, 0x2a]);
    let width = u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff;
    let height = u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff;
    assert_eq!((width, height), (320, 240), "the page's camera constraints");
}

#[test]
fn vp8_delta_frame() {
    let s = session();
    let key = read("vp8-keyframe-start.bin");
    let key = Packet::new_checked(&key[..]).unwrap();
    let bytes = read("vp8-delta.bin");
    let p = rtp(&bytes, &s.chromium[1], &s.sansrtc[1]);
    assert_eq!(p.payload_type(), s.sansrtc[1].pt("VP8"));
    assert_eq!(p.ssrc(), key.ssrc());
    let (len, start, _) = vp8_descriptor(p.payload());
    assert!(start);
    assert_eq!(p.payload()[len] & 0x01, 1, "an interframe");
    // Later in the same stream.
    assert!(p.sequence_number().wrapping_sub(key.sequence_number()) < 0x8000);
    assert!(p.timestamp().wrapping_sub(key.timestamp()) < 0x8000_0000);
}

#[test]
fn rtx_retransmission() {
    let s = session();
    let bytes = read("rtx.bin");
    let p = rtp(&bytes, &s.chromium[1], &s.sansrtc[1]);
    // RFC 4588: the RTX payload type of VP8, on the RTX SSRC of the FID group.
    let vp8 = s.sansrtc[1].pt("VP8");
    assert!(s.sansrtc[1].apt.contains(&(p.payload_type(), vp8)), "pt {} is VP8's RTX", p.payload_type());
    assert_eq!(Some(p.ssrc()), s.chromium[1].fid.map(|(_, rtx)| rtx));
    // The original sequence number, then a VP8 payload of the same stream.
    let osn = u16::from_be_bytes([p.payload()[0], p.payload()[1]]);
    let key = read("vp8-keyframe-start.bin");
    let key = Packet::new_checked(&key[..]).unwrap();
    assert!(osn.wrapping_sub(key.sequence_number()) < 0x8000, "OSN {osn} after the key frame's");
    assert!(p.payload().len() > 2 + vp8_descriptor(&p.payload()[2..]).0);
}

/// The SSRCs Chromium sends with (its RTCP's sender SSRC is one of them).
fn chromium_ssrcs(s: &Session) -> Vec<u32> {
    s.chromium.iter().flat_map(|m| m.ssrcs.iter().copied()).collect()
}

fn packets(bytes: &[u8]) -> Vec<RtcpPacket<'_>> {
    Compound::check_framing(bytes).expect("a well-framed compound packet");
    Compound::new(bytes).map(|p| p.expect("every packet decodes")).collect()
}

#[test]
fn rtcp_sender_report_and_sdes() {
    let s = session();
    let bytes = read("rtcp-sr-sdes.bin");
    let p = packets(&bytes);
    let [RtcpPacket::SenderReport(sr), RtcpPacket::Sdes(sdes)] = &p[..] else { panic!("SR then SDES: {p:?}") };
    assert!(chromium_ssrcs(&s).contains(&sr.ssrc));
    assert!(sr.info.packet_count > 0 && sr.info.octet_count > sr.info.packet_count);
    // NTP time of the capture: after 2020 (RFC 5905: seconds since 1900 in the top 32 bits).
    assert!(sr.info.ntp_timestamp >> 32 > 3_786_825_600);
    assert_eq!(sdes.chunks().map(|c| c.ssrc).collect::<Vec<_>>(), [sr.ssrc]);
    assert_eq!(sdes.cname(), Some(s.chromium[1].cname.as_bytes()));
}

#[test]
fn rtcp_transport_cc_feedback() {
    let s = session();
    let bytes = read("rtcp-twcc.bin");
    let p = packets(&bytes);
    let [RtcpPacket::TransportCc(fb)] = &p[..] else { panic!("one transport-cc feedback: {p:?}") };
    assert!(chromium_ssrcs(&s).contains(&fb.sender_ssrc));
    // About what sansrtc sent: the media SSRC is one of sansrtc's.
    let ours: Vec<u32> = s.sansrtc.iter().flat_map(|m| m.ssrcs.iter().copied()).collect();
    assert!(ours.contains(&fb.media_ssrc), "{} in {ours:?}", fb.media_ssrc);
    let reported: Vec<_> = fb.packets().collect();
    assert_eq!(reported.len(), usize::from(fb.status_count));
    assert!(reported.iter().any(|r| !matches!(r.status, TwccStatus::NotReceived)));
    assert_eq!(reported.first().map(|r| r.sequence), Some(fb.base_sequence));
}

#[test]
fn rtcp_nack() {
    let s = session();
    let bytes = read("rtcp-nack.bin");
    let p = packets(&bytes);
    // Reduced-size RTCP was negotiated, yet Chromium puts its feedback after a receiver report.
    let [RtcpPacket::ReceiverReport(rr), RtcpPacket::Nack(nack)] = &p[..] else { panic!("RR then NACK: {p:?}") };
    assert!(chromium_ssrcs(&s).contains(&rr.ssrc));
    assert_eq!(nack.sender_ssrc, rr.ssrc);
    // The echoed video packet that was never sent.
    assert_eq!(Some(nack.media_ssrc), s.sansrtc[1].fid.map(|(media, _)| media));
    assert!(nack.lost().count() >= 1);
    let block = rr.reports.clone().next().expect("a report block");
    assert!(s.sansrtc.iter().any(|m| m.ssrcs.contains(&block.ssrc)));
}

#[test]
fn rtcp_pli() {
    let s = session();
    let bytes = read("rtcp-pli.bin");
    let p = packets(&bytes);
    let [RtcpPacket::ReceiverReport(rr), RtcpPacket::Pli(pli)] = &p[..] else { panic!("RR then PLI: {p:?}") };
    assert_eq!(pli.sender_ssrc, rr.ssrc);
    assert!(chromium_ssrcs(&s).contains(&pli.sender_ssrc));
    assert_eq!(Some(pli.media_ssrc), s.sansrtc[1].fid.map(|(media, _)| media));
}
