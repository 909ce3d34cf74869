//! Frames and recording: a recorded connection that sends VP8 and Opus frames with `write_frame` (with
//! header extensions, a rid-less and a refused call among them) replays identically from its journal,
//! in both journal kinds; the journal reads the calls back with their arguments, and a whole-outputs
//! journal's outcomes render what each frame sent.

use core::net::SocketAddr;
use core::time::Duration;

use sansrtc::pc::{
    Config, ConnectionState, Direction, Event, ExtensionValue, MediaKind, OutgoingFrame, PeerConnection,
    TransceiverInit,
};
use sansrtc::record::{Call, Journal, RecordOptions, RecordedPeerConnection, Replayer, render_outcome};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

const FRAMES: u32 = 20;

fn frame(i: u32) -> Vec<u8> {
    (0..(1 + i as usize * 700)).map(|k| (i as usize * 31 + k) as u8).collect()
}

#[test]
fn a_session_sending_frames_replays_identically() {
    let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
    for whole_outputs in [false, true] {
        let options = RecordOptions { whole_outputs, ..RecordOptions::default() };
        let mut a = RecordedPeerConnection::new(Config::default(), [0x55; 32], options);
        let mut b = PeerConnection::new(Config::default(), SeededRng::from_seed([0x66; 32]));
        let mut now = Instant::from_secs(2);
        a.add_local_host(now, addr("10.4.0.1:4000")).unwrap();
        b.add_local_host(now, addr("10.4.0.2:4000")).unwrap();
        a.end_of_local_candidates(now);
        b.end_of_local_candidates(now);
        let send = TransceiverInit::with_direction(Direction::SendOnly);
        a.add_transceiver(now, MediaKind::Audio, send.clone()).unwrap();
        a.add_transceiver(now, MediaKind::Video, send).unwrap();
        let offer = a.create_offer().unwrap();
        a.set_local_description(now, &offer).unwrap();
        b.set_remote_description(now, &offer).unwrap();
        let answer = b.create_answer().unwrap();
        b.set_local_description(now, &answer).unwrap();
        a.set_remote_description(now, &answer).unwrap();
        let (mut sent, mut packets, mut got) = (0u32, 0usize, 0usize);
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
                got += usize::from(matches!(e, Event::Rtp(_)));
            }
            if a.connection_state() == ConnectionState::Connected && a.srtp_profile().is_some() && sent < FRAMES {
                let video = frame(sent);
                let orientation = [ExtensionValue::VideoOrientation { back_camera: false, flip: true, rotation: 180 }];
                let f = OutgoingFrame { extensions: &orientation, ..OutgoingFrame::new(3000 * sent, &video) };
                packets += a.write_frame(now, "1", &f).unwrap().packets;
                let mut opus = frame(sent % 3);
                opus.truncate(1 + (sent as usize % 3) * 100);
                opus[0] = 0x78;
                let level = [ExtensionValue::AudioLevel { voice: true, level: sent as u8 }];
                let f = OutgoingFrame {
                    payload_type: Some(111),
                    extensions: &level,
                    ..OutgoingFrame::new(960 * sent, &opus)
                };
                packets += a.write_frame(now, "0", &f).unwrap().packets;
                assert!(a.write_frame(now, "1", &OutgoingFrame::new(0, &[])).is_err(), "an error is journaled too");
                sent += 1;
            }
            if sent == FRAMES && got >= packets {
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
        assert_eq!(got, packets, "Bob got every packet");
        assert!(packets > 2 * FRAMES as usize, "frames of several packets: {packets}");
        let journal = a.take_journal();
        let summary = Replayer::new(&journal).unwrap().run().unwrap();
        assert_eq!(summary.digest, a.digest(), "whole outputs: {whole_outputs}");

        // The calls read back as they were made.
        let entries: Vec<_> = Journal::parse(&journal)
            .unwrap()
            .entries()
            .map(|e| e.unwrap())
            .filter(|e| matches!(e.call, Call::WriteFrame { .. }))
            .collect();
        assert_eq!(entries.len(), 3 * FRAMES as usize);
        let Call::WriteFrame { mid, payload_type, timestamp, data, extensions, rid, .. } = &entries[3].call else {
            unreachable!()
        };
        assert_eq!((*mid, *payload_type, *timestamp, *rid), ("1", None, 3000, None));
        assert_eq!(*data, &frame(1)[..]);
        assert_eq!(extensions, &[ExtensionValue::VideoOrientation { back_camera: false, flip: true, rotation: 180 }]);
        let Call::WriteFrame { payload_type, extensions, .. } = &entries[4].call else { unreachable!() };
        assert_eq!((*payload_type, extensions.len()), (Some(111), 1));
        assert_eq!(
            entries[3].call.to_string(),
            format!(
                "write_frame({}, mid 1, pt None, ts 3000, 701 bytes, 1 extensions)",
                entries[3].call.now().unwrap()
            )
        );
        if whole_outputs {
            let sent = render_outcome(0x38, entries[3].outcome.unwrap()).unwrap();
            assert!(sent.starts_with("Ok(ssrc 0x") && sent.contains(", pt 96, 1 packets, seq "), "{sent}");
            let refused = render_outcome(0x38, entries[5].outcome.unwrap()).unwrap();
            assert!(refused.starts_with("Err(") && refused.contains("frame not packetized"), "{refused}");
        }
    }
}
