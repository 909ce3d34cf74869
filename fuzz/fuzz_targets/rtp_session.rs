//! Two RTP sessions (a video sender with RTX and transport-wide CC, and its receiver) fed arbitrary RTP
//! and RTCP between their real exchanges: raw bytes with their SSRC fields pointed at the sessions'
//! streams (so they reach the stream state, NACK, RTX, report and feedback handlers), media lost or
//! delivered, timer jumps and key frame requests. Nothing may panic; a session that owes a transmit says
//! so in `poll_timeout`; the queues drain.
#![no_main]

use arbitrary::Arbitrary;
use core::time::Duration;
use libfuzzer_sys::fuzz_target;
use sansrtc::rtp::ExtensionKind;
use sansrtc::rtp::session::{
    Config, KeyframeRequest, OutgoingRtp, ReceiveStreamConfig, SendStreamConfig, Session, UnknownSsrcs,
};
use sansrtc::{Instant, SeededRng};

const VIDEO: u32 = 0x1234;
const VIDEO_RTX: u32 = 0x1235;

#[derive(Arbitrary, Debug)]
enum Op {
    /// Raw bytes into the sender, SSRC fields patched to the `ssrc`-th known SSRC.
    ToSender { ssrc: u8, bytes: Vec<u8> },
    /// Raw bytes into the receiver, patched the same way.
    ToReceiver { ssrc: u8, bytes: Vec<u8> },
    /// A media packet from the sender, delivered or lost.
    Media { deliver: bool, len: u8, marker: bool },
    /// The pending transmits of both sides, each delivered or lost by the bits of `mask`.
    Exchange { mask: u16 },
    /// Time passes (milliseconds).
    Wait(u16),
    /// The receiver asks for a key frame.
    Keyframe { fir: bool },
}

fn config(cname: &str, accept: bool) -> Config {
    let mut c = Config::new(cname, Duration::from_secs(3_900_000_000));
    if let Ok(pt) = c.payload_types.media(96, 90_000, true, true) {
        let _ = pt.rtx(97, 96);
    }
    c.extensions.insert(3, ExtensionKind::TransportWideCc);
    if accept {
        c.unknown_ssrcs = UnknownSsrcs::Accept;
        c.max_receive_streams = 4;
    }
    c.event_limit = 256;
    c.transmit_limit = 64;
    c
}

/// Points the SSRC fields of `bytes` at `ssrc`: the RTP SSRC, or an RTCP packet's sender and media SSRCs
/// and the first report block's or FCI's SSRC.
fn patch(bytes: &mut [u8], ssrc: Option<u32>) {
    let Some(ssrc) = ssrc else { return };
    let s = ssrc.to_be_bytes();
    let rtcp = matches!(bytes.get(1), Some(192..=223));
    let fields: &[usize] = if rtcp { &[4, 8, 12] } else { &[8] };
    for &at in fields {
        if let Some(dst) = bytes.get_mut(at..at + 4) {
            dst.copy_from_slice(&s);
        }
    }
}

/// Checks the transmit announcement, then drains `s`'s transmits (returned) and events.
fn drain(s: &mut Session, now: Instant) -> Vec<Vec<u8>> {
    let announced = s.poll_timeout();
    let mut out = Vec::new();
    while let Some(t) = s.poll_transmit() {
        assert!(announced.is_some_and(|a| a <= now), "an owed transmit must be announced");
        out.push(t.data().to_vec());
    }
    while s.poll_event().is_some() {}
    out
}

fuzz_target!(|ops: Vec<Op>| {
    let Ok(mut sender) = Session::new(config("s", false), SeededRng::from_seed([1; 32])) else { return };
    let Ok(mut receiver) = Session::new(config("r", true), SeededRng::from_seed([2; 32])) else { return };
    if sender.add_send_stream(SendStreamConfig::video(VIDEO, Some(VIDEO_RTX))).is_err()
        || receiver.add_receive_stream(ReceiveStreamConfig::video(VIDEO, Some(VIDEO_RTX))).is_err()
    {
        return;
    }
    let known = [VIDEO, VIDEO_RTX, sender.rtcp_ssrc(), receiver.rtcp_ssrc()];
    let mut now = Instant::from_secs(1);
    let mut frame = 0u32;
    let mut media = Vec::with_capacity(1500);
    let (mut to_receiver, mut to_sender): (Vec<Vec<u8>>, Vec<Vec<u8>>) = (Vec::new(), Vec::new());
    for op in ops.into_iter().take(256) {
        match op {
            Op::ToSender { ssrc, mut bytes } => {
                patch(&mut bytes, known.get(usize::from(ssrc)).copied());
                let _ = sender.handle_receive(now, &mut bytes);
            }
            Op::ToReceiver { ssrc, mut bytes } => {
                patch(&mut bytes, known.get(usize::from(ssrc)).copied());
                let _ = receiver.handle_receive(now, &mut bytes);
            }
            Op::Media { deliver, len, marker } => {
                let payload = vec![frame as u8; usize::from(len)];
                let mut rtp = OutgoingRtp::new(VIDEO, 96, frame.wrapping_mul(3000), &payload);
                rtp.marker = marker;
                frame += 1;
                if sender.send_rtp(now, &rtp, &mut media).is_ok() && deliver {
                    let _ = receiver.handle_receive(now, &mut media);
                }
            }
            Op::Exchange { mask } => {
                for (k, mut d) in to_receiver.drain(..).enumerate() {
                    if mask & (1 << (k % 8)) != 0 {
                        let _ = receiver.handle_receive(now, &mut d);
                    }
                }
                for (k, mut d) in to_sender.drain(..).enumerate() {
                    if mask & (1 << (8 + k % 8)) != 0 {
                        let _ = sender.handle_receive(now, &mut d);
                    }
                }
            }
            Op::Wait(ms) => {
                now += Duration::from_millis(u64::from(ms));
                sender.handle_timeout(now);
                receiver.handle_timeout(now);
            }
            Op::Keyframe { fir } => {
                let kind = if fir { KeyframeRequest::Fir } else { KeyframeRequest::Pli };
                let _ = receiver.request_keyframe(now, VIDEO, kind);
            }
        }
        to_receiver.extend(drain(&mut sender, now));
        to_sender.extend(drain(&mut receiver, now));
        to_receiver.truncate(64);
        to_sender.truncate(64);
    }
});
