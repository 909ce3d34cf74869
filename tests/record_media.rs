//! Media and recording: a recorded connection that receives audio (the peer offers it, the recorded side
//! answers) replays identically from its journal; so does one that adds transceivers and a track, sends
//! RTP with header extensions, raw RTP and RTCP, asks for a key frame, changes a direction and stops a
//! transceiver (the media calls are journaled); one that sets the NTP epoch and codec preferences, plays
//! DTMF tones and turns an encoding off and on again replays identically too, and differently without its DTMF call; and `examples/pcap_decrypt.rs` turns the journal into a
//! pcapng of the RTP and RTCP in the clear, which tshark decodes as RTP with the payloads that were sent.

use core::net::SocketAddr;
use core::time::Duration;
use std::process::Command;

use sansrtc::pc::{
    Config, ConnectionState, Direction, Event, ExtensionValue, MediaKind, OutgoingRtp, PeerConnection, Track,
    TransceiverInit,
};
use sansrtc::record::{Call, CaptureReader, Journal, RecordOptions, RecordedPeerConnection, Replayer};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

#[path = "support/tool.rs"]
mod tool;

#[allow(dead_code)]
#[path = "../examples/pcap_decrypt.rs"]
mod pcap_decrypt;

const PACKETS: u32 = 50;

fn payload(i: u32) -> Vec<u8> {
    (0..160).map(|k| (i * 31 + k) as u8).collect()
}

/// Bob (plain) sends `PACKETS` Opus packets to Alice (recorded, answering); returns Alice.
fn session() -> (RecordedPeerConnection, Vec<u8>, u32) {
    let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
    let mut a = RecordedPeerConnection::new(Config::default(), [0x11; 32], RecordOptions::default());
    let mut b = PeerConnection::new(Config::default(), SeededRng::from_seed([0x22; 32]));
    let mut now = Instant::from_secs(2);
    a.add_local_host(now, addr("10.2.0.1:4000")).unwrap();
    b.add_local_host(now, addr("10.2.0.2:4000")).unwrap();
    a.end_of_local_candidates(now);
    b.end_of_local_candidates(now);
    b.add_transceiver(now, MediaKind::Audio, TransceiverInit::default()).unwrap();
    let offer = b.create_offer().unwrap();
    b.set_local_description(now, &offer).unwrap();
    a.set_remote_description(now, &offer).unwrap();
    let answer = a.create_answer().unwrap();
    a.set_local_description(now, &answer).unwrap();
    b.set_remote_description(now, &answer).unwrap();
    let (mut sent, mut got) = (0, 0);
    let mut journal = Vec::new();
    let mut ssrc = 0;
    for _ in 0..3000 {
        for _ in 0..2 {
            let mut out = Vec::new();
            while let Some(t) = b.poll_transmit() {
                out.push((t.source, t.destination, t.contents.to_vec()));
            }
            for (source, destination, data) in out {
                let _ = a.handle_receive(now, Datagram { source, destination, contents: &data });
            }
            let mut out = Vec::new();
            while let Some(t) = a.poll_transmit() {
                out.push((t.source, t.destination, t.contents.to_vec()));
            }
            for (source, destination, data) in out {
                let _ = b.handle_receive(now, Datagram { source, destination, contents: &data });
            }
        }
        while let Some(e) = a.poll_event() {
            if let Event::Rtp(p) = e {
                assert_eq!(p.payload(), &payload(got)[..], "packet {got} arrives whole");
                got += 1;
            }
        }
        while b.poll_event().is_some() {}
        if b.connection_state() == ConnectionState::Connected && sent < PACKETS && b.srtp_profile().is_some() {
            let p = payload(sent);
            let s = b.write_rtp(now, "0", &OutgoingRtp::new(111, 960 * sent, &p)).unwrap();
            ssrc = s.ssrc;
            sent += 1;
            if sent == PACKETS {
                // An RTCP receiver report with no blocks (RFC 3550 §6.4.2), from Bob's SSRC.
                let mut rr = vec![0x80, 201, 0, 1];
                rr.extend_from_slice(&ssrc.to_be_bytes());
                b.write_rtcp(now, &rr).unwrap();
            }
        }
        journal.extend(a.take_journal());
        if got == PACKETS {
            break;
        }
        now += Duration::from_millis(20);
        if a.poll_timeout().is_some_and(|t| t <= now) {
            a.handle_timeout(now);
        }
        if b.poll_timeout().is_some_and(|t| t <= now) {
            b.handle_timeout(now);
        }
    }
    assert_eq!(got, PACKETS, "every packet arrived");
    // A few seconds more, for receiver reports.
    for _ in 0..300 {
        now += Duration::from_millis(20);
        if a.poll_timeout().is_some_and(|t| t <= now) {
            a.handle_timeout(now);
        }
        while a.poll_transmit().is_some() {}
        while a.poll_event().is_some() {}
    }
    journal.extend(a.take_journal());
    (a, journal, ssrc)
}

#[test]
fn a_session_receiving_audio_replays_identically() {
    let (a, journal, _) = session();
    let summary = Replayer::new(&journal).unwrap().run().unwrap();
    assert_eq!(summary.digest, a.digest());
    assert!(summary.events >= u64::from(PACKETS));
}

#[test]
fn pcap_decrypt_writes_rtp_that_tshark_decodes() {
    let (_, journal, ssrc) = session();
    let rr: Vec<u8> = [vec![0x80, 201, 0, 1], ssrc.to_be_bytes().to_vec()].concat();
    let mut out = Vec::new();
    let counts = pcap_decrypt::decrypt(&journal, Duration::ZERO, &mut out).unwrap();
    assert_eq!(counts.rtp, u64::from(PACKETS), "{counts:?}");
    // Bob's own receiver report, and the reports both connections' RTP sessions send on their own.
    assert!(counts.rtcp > 1, "Bob's receiver report and the sessions' reports: {counts:?}");
    assert_eq!(counts.failed, 0);
    // The packets in the file are RTP in the clear: version 2, payload type 111, Bob's SSRC, the payload.
    let packets: Vec<Vec<u8>> = CaptureReader::new(&out)
        .unwrap()
        .packets()
        .map(|p| p.unwrap().udp.unwrap().contents.to_vec())
        .filter(|d| d[1] & 0x7f == 111)
        .collect();
    assert_eq!(packets.len(), PACKETS as usize);
    let rtcp =
        CaptureReader::new(&out).unwrap().packets().filter(|p| p.unwrap().udp.unwrap().contents == &rr[..]).count();
    assert_eq!(rtcp, 1, "the receiver report in the clear");
    for (i, p) in packets.iter().enumerate() {
        assert_eq!(u32::from_be_bytes(p[8..12].try_into().unwrap()), ssrc);
        assert!(p.ends_with(&payload(i as u32)), "packet {i} in the clear");
    }

    if Command::new("tshark").arg("--version").output().is_err() {
        return tool::missing("tshark", "`bash scripts/setup` (Debian: `apt-get install tshark`)");
    }
    let path = std::env::temp_dir().join(format!("sansrtc-media-{}.pcapng", std::process::id()));
    std::fs::write(&path, &out).unwrap();
    let fields = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args(["-o", "rtp.heuristic_rtp:TRUE", "-Y", "rtp && rtp.p_type == 111"])
        .args(["-T", "fields", "-e", "rtp.ssrc", "-e", "rtp.seq", "-e", "rtp.payload"])
        .output()
        .expect("tshark runs");
    let _ = std::fs::remove_file(&path);
    assert!(fields.status.success(), "tshark: {}", String::from_utf8_lossy(&fields.stderr));
    let text = String::from_utf8(fields.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), PACKETS as usize, "tshark decodes every RTP packet:\n{text}");
    for (i, line) in lines.iter().enumerate() {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(u32::from_str_radix(cols[0].trim_start_matches("0x"), 16).unwrap(), ssrc, "{line}");
        let hex: String = payload(i as u32).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(cols[2].replace(':', ""), hex, "packet {i}'s payload as tshark decodes it");
    }
}

#[test]
fn a_session_sending_media_replays_identically() {
    let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
    for whole_outputs in [false, true] {
        let options = RecordOptions { whole_outputs, ..RecordOptions::default() };
        let mut a = RecordedPeerConnection::new(Config::default(), [0x33; 32], options);
        let mut b = PeerConnection::new(Config::default(), SeededRng::from_seed([0x44; 32]));
        let mut now = Instant::from_secs(2);
        a.add_local_host(now, addr("10.3.0.1:4000")).unwrap();
        b.add_local_host(now, addr("10.3.0.2:4000")).unwrap();
        a.end_of_local_candidates(now);
        b.end_of_local_candidates(now);
        let init = TransceiverInit { stream_ids: vec!["s".into()], ..TransceiverInit::default() };
        let audio = a.add_transceiver(now, Track::new(MediaKind::Audio, "mic"), init).unwrap();
        a.add_track(now, Track::new(MediaKind::Video, "cam"), &["s"]).unwrap();
        let spare = a.add_transceiver(now, MediaKind::Video, TransceiverInit::default()).unwrap();
        assert!(a.add_track(now, Track::new(MediaKind::Audio, "mic"), &[]).is_err(), "an error is journaled too");
        let offer = a.create_offer().unwrap();
        a.set_local_description(now, &offer).unwrap();
        b.set_remote_description(now, &offer).unwrap();
        let answer = b.create_answer().unwrap();
        b.set_local_description(now, &answer).unwrap();
        a.set_remote_description(now, &answer).unwrap();
        let (mut sent, mut got) = (0u32, 0);
        for _ in 0..3000 {
            for _ in 0..2 {
                let out: Vec<_> =
                    core::iter::from_fn(|| a.poll_transmit().map(|t| (t.source, t.destination, t.contents.to_vec())))
                        .collect();
                for (source, destination, data) in out {
                    let _ = b.handle_receive(now, Datagram { source, destination, contents: &data });
                }
                let out: Vec<_> =
                    core::iter::from_fn(|| b.poll_transmit().map(|t| (t.source, t.destination, t.contents.to_vec())))
                        .collect();
                for (source, destination, data) in out {
                    let _ = a.handle_receive(now, Datagram { source, destination, contents: &data });
                }
            }
            while a.poll_event().is_some() {}
            while let Some(e) = b.poll_event() {
                got += u32::from(matches!(e, Event::Rtp(_)));
            }
            if a.connection_state() == ConnectionState::Connected && a.srtp_profile().is_some() && sent < PACKETS {
                let p = payload(sent);
                let level = [ExtensionValue::AudioLevel { voice: true, level: (sent % 100) as u8 }];
                let packet =
                    OutgoingRtp { extensions: &level, marker: sent == 0, ..OutgoingRtp::new(111, 960 * sent, &p) };
                a.write_rtp(now, "0", &packet).unwrap();
                a.write_rtp(now, "1", &OutgoingRtp::new(96, 3000 * sent, &p)).unwrap();
                assert!(a.write_rtp(now, "7", &OutgoingRtp::new(96, 0, &p)).is_err());
                sent += 1;
                if sent == 10 {
                    a.request_keyframe(now, "1").unwrap_or_default();
                    let mut rr = vec![0x80, 201, 0, 1];
                    rr.extend_from_slice(&[1, 2, 3, 4]);
                    a.write_rtcp(now, &rr).unwrap();
                    let _ = a.write_rtp_raw(now, "0", &[0x80, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 1, 2, 3]);
                    a.set_direction(now, audio, Direction::SendOnly).unwrap();
                    a.stop_transceiver(now, spare).unwrap();
                }
            }
            if got >= 2 * PACKETS {
                break;
            }
            now += Duration::from_millis(20);
            if a.poll_timeout().is_some_and(|t| t <= now) {
                a.handle_timeout(now);
            }
            if b.poll_timeout().is_some_and(|t| t <= now) {
                b.handle_timeout(now);
            }
        }
        assert!(got >= 2 * PACKETS, "Bob got the audio and the video: {got}");
        let journal = a.take_journal();
        let summary = Replayer::new(&journal).unwrap().run().unwrap();
        assert_eq!(summary.digest, a.digest(), "whole outputs: {whole_outputs}");
        // Every media call is in the journal, read back as it was made.
        let calls: Vec<String> = Journal::parse(&journal)
            .unwrap()
            .entries()
            .map(|e| e.unwrap())
            .filter(|e| {
                matches!(
                    e.call,
                    Call::AddTransceiver { .. }
                        | Call::AddTrack { .. }
                        | Call::WriteRtp { .. }
                        | Call::WriteRtpRaw { .. }
                        | Call::WriteRtcp { .. }
                        | Call::RequestKeyframe { .. }
                        | Call::SetDirection { .. }
                        | Call::StopTransceiver { .. }
                )
            })
            .map(|e| e.call.to_string())
            .collect();
        assert_eq!(calls.len(), 4 + 3 * PACKETS as usize + 5, "{calls:#?}");
        assert!(calls[0].starts_with("add_transceiver(") && calls[0].contains("track=Some(\"mic\")"), "{}", calls[0]);
        assert!(calls.iter().any(|c| c.contains("mid 0, pt 111") && c.contains("1 extensions")));
    }
}

#[test]
fn encodings_dtmf_codecs_and_the_ntp_epoch_are_journaled_and_replayed() {
    // Alice (recorded) sends audio and video; she sets the NTP epoch, offers VP8 alone, plays DTMF tones,
    // turns her video encoding off and on again, and makes three of these calls fail. The replay makes every call again:
    // one left out changes what Alice sends (tones, a BYE, sender reports), so the digests would differ.
    let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
    let mut a = RecordedPeerConnection::new(Config::default(), [0x55; 32], RecordOptions::default());
    let mut b = PeerConnection::new(Config::default(), SeededRng::from_seed([0x66; 32]));
    let mut now = Instant::from_secs(2);
    a.set_ntp_epoch(Duration::from_secs(3_900_000_000));
    a.add_local_host(now, addr("10.4.0.1:4000")).unwrap();
    b.add_local_host(now, addr("10.4.0.2:4000")).unwrap();
    a.end_of_local_candidates(now);
    b.end_of_local_candidates(now);
    a.add_transceiver(now, MediaKind::Audio, TransceiverInit::default()).unwrap();
    let video = a.add_transceiver(now, MediaKind::Video, TransceiverInit::default()).unwrap();
    let codecs = Config::default().codecs;
    let vp8: Vec<_> = codecs.iter().filter(|c| c.name == "VP8").cloned().collect();
    let opus: Vec<_> = codecs.iter().filter(|c| c.name == "opus").cloned().collect();
    a.set_codec_preferences(video, &vp8).unwrap();
    assert!(a.set_codec_preferences(video, &opus).is_err(), "an audio codec on a video transceiver");
    let offer = a.create_offer().unwrap();
    assert!(offer.sdp.contains("VP8/90000") && !offer.sdp.contains("VP9/90000"), "only VP8 offered");
    a.set_local_description(now, &offer).unwrap();
    b.set_remote_description(now, &offer).unwrap();
    let answer = b.create_answer().unwrap();
    b.set_local_description(now, &answer).unwrap();
    a.set_remote_description(now, &answer).unwrap();
    let (mut sent, mut tones, mut journal) = (0u32, Vec::new(), Vec::new());
    for _ in 0..1500 {
        for _ in 0..2 {
            let out: Vec<_> =
                core::iter::from_fn(|| a.poll_transmit().map(|t| (t.source, t.destination, t.contents.to_vec())))
                    .collect();
            for (source, destination, data) in out {
                let _ = b.handle_receive(now, Datagram { source, destination, contents: &data });
            }
            let out: Vec<_> =
                core::iter::from_fn(|| b.poll_transmit().map(|t| (t.source, t.destination, t.contents.to_vec())))
                    .collect();
            for (source, destination, data) in out {
                let _ = a.handle_receive(now, Datagram { source, destination, contents: &data });
            }
        }
        while a.poll_event().is_some() {}
        while let Some(e) = b.poll_event() {
            if let Event::Dtmf { digit, .. } = e {
                tones.push(digit.tone());
            }
        }
        if a.connection_state() == ConnectionState::Connected && a.srtp_profile().is_some() && sent < 100 {
            let p = payload(sent);
            a.write_rtp(now, "0", &OutgoingRtp::new(111, 960 * sent, &p)).unwrap();
            let _ = a.write_rtp(now, "1", &OutgoingRtp::new(96, 3000 * sent, &p));
            if sent == 5 {
                a.insert_dtmf(now, "0", "1#", Duration::from_millis(100), Duration::from_millis(50)).unwrap();
                assert!(a.insert_dtmf(now, "0", "x", Duration::from_millis(100), Duration::from_millis(50)).is_err());
                a.set_encoding_active(now, video, None, false).unwrap();
                assert!(a.set_encoding_active(now, video, Some("nope"), true).is_err());
            }
            if sent == 40 {
                a.set_encoding_active(now, video, None, true).unwrap();
            }
            sent += 1;
        }
        journal.extend(a.take_journal());
        if sent == 100 {
            break;
        }
        now += Duration::from_millis(20);
        if a.poll_timeout().is_some_and(|t| t <= now) {
            a.handle_timeout(now);
        }
        if b.poll_timeout().is_some_and(|t| t <= now) {
            b.handle_timeout(now);
        }
    }
    assert_eq!(sent, 100, "the call connected");
    assert_eq!(tones, [Some('1'), Some('#')], "Bob heard the tones");
    journal.extend(a.take_journal());
    let summary = Replayer::new(&journal).unwrap().run().unwrap();
    assert_eq!(summary.digest, a.digest());
    let calls: Vec<String> = Journal::parse(&journal)
        .unwrap()
        .entries()
        .map(|e| e.unwrap())
        .filter(|e| {
            matches!(
                e.call,
                Call::SetNtpEpoch { .. }
                    | Call::InsertDtmf { .. }
                    | Call::SetEncodingActive { .. }
                    | Call::SetCodecPreferences { .. }
            )
        })
        .map(|e| e.call.to_string())
        .collect();
    assert_eq!(calls.len(), 8, "{calls:#?}");
    assert_eq!(calls[0], "set_ntp_epoch(3900000000s)");
    assert_eq!(calls[1], format!("set_codec_preferences({video}, [96 VP8/90000])"));
    assert!(calls[3].starts_with("insert_dtmf(") && calls[3].contains("\"1#\", 100ms, gap 50ms"), "{}", calls[3]);
    assert!(calls[5].starts_with("set_encoding_active(") && calls[5].ends_with("rid None, false)"), "{}", calls[5]);
    assert!(calls[7].ends_with("rid None, true)"), "{}", calls[7]);

    // A journal whose DTMF call is taken out replays differently: the call is what made the tones.
    let parsed = Journal::parse(&journal).unwrap();
    let dtmf = parsed.entries().map(|e| e.unwrap()).find(|e| matches!(e.call, Call::InsertDtmf { .. })).unwrap();
    let next = Journal::parse(&journal).unwrap().entries().map(|e| e.unwrap()).find(|e| e.index == dtmf.index + 1);
    let mut cut = journal[..dtmf.offset].to_vec();
    cut.extend_from_slice(&journal[next.unwrap().offset..]);
    assert!(Replayer::new(&cut).unwrap().run().is_err(), "a replay without the DTMF call diverges");
}
