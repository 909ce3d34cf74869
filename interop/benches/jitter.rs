//! The receive-side media buffers, per packet: the video jitter buffer with frame assembly and the audio
//! playout buffer (`sansrtc::jitter`).
//!
//! - **Video**: a 30 fps VP9 stream of 10-packet frames (1,200-byte payloads from `Vp9Packetizer`, a key
//!   frame every 60), through `VideoBuffer` over `Vp9Depacketizer`: `handle_receive` per packet, the
//!   timeouts when due, `poll_event` until `None` (each frame depacketized into the buffer's reused frame
//!   buffer). With no loss, and with 1 % loss each repaired by a retransmission 40 ms later (the gap waits
//!   for it), in both modes.
//! - **Audio**: a 50 packets/s stream of 100-byte packets at 48 kHz with 0..30 ms of jitter and 1 % loss
//!   through `AudioBuffer`: `handle_receive`, the playout timeouts, `poll_event` until `None`.
//!
//! Time is virtual (the buffers read no clock); figures are thread CPU time per packet sent. No comparison
//! stack is run: str0m's buffering lives inside its connection, and webrtc-rs's `SampleBuilder` bounds its
//! wait in packets rather than time, so neither does the same work. `SANSRTC_BENCH_QUICK=1` runs few
//! batches.

use std::collections::VecDeque;
use std::time::Duration;

use sansrtc::jitter::{AudioBuffer, AudioConfig, AudioEvent, Mode, VideoBuffer, VideoConfig, VideoEvent};
use sansrtc::packetize::Packetizer;
use sansrtc::packetize::vp9::{Vp9Depacketizer, Vp9Packetizer};
use sansrtc::{Instant, SeededRng};
use sansrtc_interop::bench::{Measurement, measure_cpu, report};

const PACKETS_PER_FRAME: usize = 10;

fn vp9_frame(key: bool, len: usize, rng: &mut SeededRng) -> Vec<u8> {
    // A 320×180 key frame header, or an inter frame's first byte; then data.
    let mut f = if key { vec![0x82, 0x49, 0x83, 0x42, 0x20, 0x13, 0xf0, 0x0b, 0x30] } else { vec![0x86] };
    f.extend((0..len).map(|_| rng.u32() as u8));
    f
}

fn payloads(frame: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    Vp9Packetizer::new(1).packetize(frame, 1200 + 3, &mut |p| out.push(p.data.to_vec())).unwrap();
    out
}

struct Video {
    buffer: VideoBuffer<Vp9Depacketizer>,
    key: Vec<Vec<u8>>,
    delta: Vec<Vec<u8>>,
    loss_percent: u64,
    seq: u16,
    ts: u32,
    frame: u32,
    now: Instant,
    rng: SeededRng,
    /// (due, seq, ts, marker, key frame, packet index)
    repairs: VecDeque<(Instant, u16, u32, bool, bool, usize)>,
    frames_out: u64,
    bytes_out: u64,
    repaired: u64,
}

impl Video {
    fn new(mode: Mode, loss_percent: u64) -> Self {
        let mut rng = SeededRng::from_seed([1; 32]);
        let key = payloads(&vp9_frame(true, 11_900, &mut rng));
        let delta = payloads(&vp9_frame(false, 11_990, &mut rng));
        assert_eq!((key.len(), delta.len()), (PACKETS_PER_FRAME, PACKETS_PER_FRAME));
        let mut buffer = VideoBuffer::new(VideoConfig::new(mode), Vp9Depacketizer::new());
        buffer.set_rtt(Duration::from_millis(30));
        Self {
            buffer,
            key,
            delta,
            loss_percent,
            seq: 0,
            ts: 0,
            frame: 0,
            now: Instant::from_secs(1),
            rng,
            repairs: VecDeque::with_capacity(256),
            frames_out: 0,
            bytes_out: 0,
            repaired: 0,
        }
    }

    fn drain(&mut self) {
        while let Some(e) = self.buffer.poll_event() {
            if let VideoEvent::Frame(f) = e {
                self.frames_out += 1;
                self.bytes_out += f.data.len() as u64;
            }
        }
    }

    /// One frame interval: its packets (some lost, earlier losses repaired), timeouts, frames out.
    fn frame(&mut self) -> u64 {
        let key = self.frame % 60 == 0;
        for i in 0..PACKETS_PER_FRAME {
            let (seq, ts, marker) = (self.seq, self.ts, i + 1 == PACKETS_PER_FRAME);
            self.seq = self.seq.wrapping_add(1);
            if self.loss_percent > 0 && self.rng.below(100) < self.loss_percent {
                self.repairs.push_back((self.now + Duration::from_millis(40), seq, ts, marker, key, i));
                self.repaired += 1;
            } else {
                let payload = if key { &self.key[i] } else { &self.delta[i] };
                self.buffer.handle_receive_parts(self.now, seq, ts, marker, payload);
            }
            while let Some(&(due, seq, ts, marker, key, i)) = self.repairs.front() {
                if due > self.now {
                    break;
                }
                self.repairs.pop_front();
                let payload = if key { &self.key[i] } else { &self.delta[i] };
                self.buffer.handle_receive_parts(self.now, seq, ts, marker, payload);
            }
            self.drain();
            if self.buffer.poll_timeout().is_some_and(|t| t <= self.now) {
                self.buffer.handle_timeout(self.now);
                self.drain();
            }
            self.now += Duration::from_millis(1);
        }
        let next = self.now + Duration::from_millis(23);
        while let Some(t) = self.buffer.poll_timeout().filter(|t| *t <= next) {
            self.now = self.now.max(t);
            self.buffer.handle_timeout(self.now);
            self.drain();
        }
        self.now = next;
        self.ts = self.ts.wrapping_add(3000);
        self.frame += 1;
        self.frames_out
    }
}

struct Audio {
    buffer: AudioBuffer,
    payload: Vec<u8>,
    seq: u16,
    sent: u64,
    arrival: Instant,
    rng: SeededRng,
    played: u64,
    gaps: u64,
}

impl Audio {
    fn new() -> Self {
        Self {
            buffer: AudioBuffer::new(AudioConfig::new(48_000)),
            payload: vec![7; 100],
            seq: 0,
            sent: 0,
            arrival: Instant::ZERO,
            rng: SeededRng::from_seed([2; 32]),
            played: 0,
            gaps: 0,
        }
    }

    fn drain(&mut self) {
        while let Some(e) = self.buffer.poll_event() {
            match e {
                AudioEvent::Packet { .. } => self.played += 1,
                AudioEvent::Gap { .. } => self.gaps += 1,
            }
        }
    }

    fn packet(&mut self) -> u64 {
        let send = Instant::from_millis(1_000 + 20 * self.sent);
        let arrival = (send + Duration::from_millis(self.rng.below(30))).max(self.arrival);
        while let Some(t) = self.buffer.poll_timeout().filter(|t| *t <= arrival) {
            self.buffer.handle_timeout(t);
            self.drain();
        }
        self.arrival = arrival;
        if self.rng.below(100) != 0 {
            self.buffer.handle_receive_parts(arrival, self.seq, (self.sent as u32).wrapping_mul(960), &self.payload);
            self.drain();
        }
        self.seq = self.seq.wrapping_add(1);
        self.sent += 1;
        self.played
    }
}

fn per_packet(m: Measurement, packets: f64) -> Measurement {
    Measurement { ns_per_iter: m.ns_per_iter / packets, iterations: (m.iterations as f64 * packets) as u64 }
}

fn main() {
    println!("jitter: sansrtc alone, ns per packet (no comparison stack is run for this benchmark)");
    for (mode, name) in [(Mode::Latency, "latency"), (Mode::Quality, "quality")] {
        for loss in [0, 1] {
            let mut v = Video::new(mode, loss);
            for _ in 0..120 {
                v.frame();
            }
            let m = measure_cpu(|| v.frame());
            let st = v.buffer.stats();
            report(&format!("jitter/video {name} {loss}% loss"), "sansrtc", per_packet(m, PACKETS_PER_FRAME as f64));
            println!(
                "    {} frames out of {} ({:.1} MB), {} repairs waited for, {} gaps given up, {} key frame requests, {} packets passed over for a complete key frame",
                v.frames_out,
                v.frame,
                v.bytes_out as f64 / 1e6,
                v.repaired,
                st.gaps_given_up,
                st.keyframe_requests,
                st.skipped
            );
            assert_eq!(st.gaps_given_up, 0, "every loss is repaired in time");
            if mode == Mode::Quality || loss == 0 {
                assert!(v.frames_out + 3 >= u64::from(v.frame), "{} of {}", v.frames_out, v.frame);
            }
        }
    }
    let mut a = Audio::new();
    for _ in 0..500 {
        a.packet();
    }
    let m = measure_cpu(|| a.packet());
    report("jitter/audio 1% loss 0-30ms jitter", "sansrtc", m);
    println!(
        "    {} packets played, {} gaps, target delay now {:?}, jitter {:?}",
        a.played,
        a.gaps,
        a.buffer.target_delay(),
        a.buffer.jitter()
    );
}
