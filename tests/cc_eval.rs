//! The bandwidth estimator and the pacer in a simulated bottleneck, on test cases of RFC 8867 (test cases
//! for evaluating congestion control for interactive real-time media): variable capacity (§5.1),
//! 50 ms RTT with 0 % and 5 % random loss, two competing flows (§5.4) and one flow joining another late.
//!
//! Each flow is a video-like sender that always has data: an encoder makes a frame every 33 ms at the
//! estimator's target, the pacer spaces its packets, the estimator gets every packet sent and the
//! transport-wide feedback the receiver sends every 50 ms (arrival times in 250 µs ticks, as on the wire).
//! The bottleneck is a drop-tail FIFO of 300 ms at the current capacity with optional random loss,
//! followed by the propagation delay; feedback comes back over an uncongested path. Deterministic (seeded).
//!
//! The test prints a table (steady-state utilization, p95 queuing delay, convergence after each step,
//! Jain's fairness) and asserts bounds. `CC_EVAL_SVG=1` also writes `docs/cc-variable-capacity.svg`.

extern crate alloc;

use alloc::collections::VecDeque;
use core::fmt::Write as _;
use core::time::Duration;

use sansrtc::Instant;
use sansrtc::cc::{BandwidthEstimator, Class, Config, Event, Paced, Pacer, PacerConfig, SentPacket};
use sansrtc::rtp::session::PacketFeedback;

const MTU: u64 = 1200;
const FEEDBACK_INTERVAL: Duration = Duration::from_millis(50);
const FRAME: Duration = Duration::from_nanos(33_333_333);
const SAMPLE: Duration = Duration::from_millis(100);

/// A small deterministic generator (xorshift64*), for loss.
struct Rng(u64);

impl Rng {
    fn chance(&mut self, p: f64) -> bool {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        (x as f64 / (1u64 << 53) as f64) < p
    }
}

#[derive(Clone, Copy)]
struct Packet {
    flow: usize,
    seq: u64,
    size: u64,
    /// When it joined the bottleneck queue.
    queued: Instant,
}

struct Flow {
    start: Instant,
    bwe: BandwidthEstimator,
    pacer: Pacer,
    next_frame: Instant,
    next_seq: u64,
    /// Receiver: arrivals by sequence number since the last feedback (seq, arrival).
    arrivals: Vec<(u64, Instant)>,
    /// The first sequence number not yet reported.
    reported: u64,
    next_feedback: Instant,
    /// Sender: what was sent, by sequence number, for the feedback's `sent_at`/`size` (a test-side record).
    sent: VecDeque<(u64, Instant, u64)>,
    /// Feedback on its way back: (delivery time, packets).
    feedback: VecDeque<(Instant, Vec<PacketFeedback>)>,
    /// Octets delivered to the receiver since the last sample.
    delivered_now: u64,
    frames_dropped: u64,
}

struct Scenario {
    name: &'static str,
    /// (from second, bit/s).
    capacity: Vec<(u64, u64)>,
    one_way: Duration,
    loss: f64,
    /// Flow start times (s).
    flows: Vec<u64>,
    secs: u64,
    seed: u64,
}

struct Outcome {
    /// (time s, capacity) per sample.
    capacity: Vec<(f64, f64)>,
    targets: Vec<Vec<(f64, f64)>>,
    delivered: Vec<Vec<u64>>,
    /// (time s, queuing delay ms) per packet through the bottleneck.
    delays: Vec<(f64, f64)>,
    lost_random: u64,
    dropped_queue: u64,
    frames_dropped: u64,
}

impl Scenario {
    fn capacity_at(&self, t: Instant) -> u64 {
        let s = t.as_nanos() / 1_000_000_000;
        self.capacity.iter().rev().find(|(from, _)| *from <= s).map_or(1_000_000, |c| c.1)
    }

    fn run(&self) -> Outcome {
        let t0 = Instant::ZERO;
        let mut flows: Vec<Flow> = self
            .flows
            .iter()
            .map(|&start| {
                let bwe = BandwidthEstimator::new(Config::new(50_000, 300_000, 5_000_000)).unwrap();
                let pacer = Pacer::new(PacerConfig::default(), bwe.target_bitrate());
                let start = t0 + Duration::from_secs(start);
                Flow {
                    start,
                    bwe,
                    pacer,
                    next_frame: start,
                    next_seq: 0,
                    arrivals: Vec::new(),
                    reported: 0,
                    next_feedback: start + FEEDBACK_INTERVAL,
                    sent: VecDeque::new(),
                    feedback: VecDeque::new(),
                    delivered_now: 0,
                    frames_dropped: 0,
                }
            })
            .collect();
        let mut rng = Rng(self.seed | 1);
        let mut link = Link::default();
        let mut in_flight: VecDeque<(Instant, Packet)> = VecDeque::new();
        let mut out = Outcome {
            capacity: Vec::new(),
            targets: vec![Vec::new(); flows.len()],
            delivered: vec![Vec::new(); flows.len()],
            delays: Vec::new(),
            lost_random: 0,
            dropped_queue: 0,
            frames_dropped: 0,
        };
        let end = t0 + Duration::from_secs(self.secs);
        let mut next_sample = t0 + SAMPLE;
        let mut now = t0;
        while now < end {
            // 1. Everything due at `now`, in a fixed order.
            // Deliveries to receivers.
            while in_flight.front().is_some_and(|(at, _)| *at <= now) {
                let (at, p) = in_flight.pop_front().unwrap();
                let f = &mut flows[p.flow];
                f.arrivals.push((p.seq, at));
                f.delivered_now += p.size;
            }
            link.step(now, self, &mut in_flight, &mut out.delays);
            for (i, f) in flows.iter_mut().enumerate() {
                if now < f.start {
                    continue;
                }
                // Receiver: feedback every 50 ms, reporting up to the newest arrival.
                if f.next_feedback <= now {
                    f.next_feedback = now + FEEDBACK_INTERVAL;
                    f.arrivals.sort_unstable();
                    if let Some(&(newest, _)) = f.arrivals.last() {
                        let mut fb = Vec::new();
                        let mut arrivals = f.arrivals.iter().peekable();
                        let first_sent = f.sent.front().map_or(0, |s| s.0);
                        for seq in f.reported..=newest {
                            while arrivals.next_if(|a| a.0 < seq).is_some() {}
                            let arrival = arrivals.next_if(|a| a.0 == seq).map(|a| a.1);
                            let Some(&(_, sent_at, size)) =
                                seq.checked_sub(first_sent).and_then(|k| f.sent.get(k as usize))
                            else {
                                continue;
                            };
                            fb.push(PacketFeedback {
                                transport_sequence: seq,
                                ssrc: 1,
                                sequence: seq as u16,
                                sent_at,
                                size: size as usize,
                                // 250 µs ticks, like the wire format.
                                arrival_us: arrival.map(|a| (a.as_nanos() / 250_000 * 250) as i64),
                                feedback_count: 0,
                            });
                        }
                        f.reported = newest + 1;
                        f.arrivals.clear();
                        f.feedback.push_back((now + self.one_way, fb));
                    }
                }
                // Sender: feedback arriving back.
                while f.feedback.front().is_some_and(|(at, _)| *at <= now) {
                    let (_, fb) = f.feedback.pop_front().unwrap();
                    let _ = f.bwe.handle_feedback(now, fb);
                }
                while f.sent.front().is_some_and(|s| s.0 + 4096 < f.next_seq) {
                    f.sent.pop_front();
                }
                // Encoder: a frame at the target, cut into packets of at most 1200 octets.
                if f.next_frame <= now {
                    f.next_frame += FRAME;
                    let mut bytes = f.bwe.target_bitrate() / 8 / 30;
                    let mut dropped = false;
                    while bytes > 0 {
                        let size = bytes.min(MTU);
                        bytes -= size;
                        dropped |= f.pacer.enqueue(now, size, size as usize, Class::Video).is_err();
                    }
                    f.frames_dropped += u64::from(dropped);
                }
                f.bwe.handle_timeout(now);
                f.pacer.handle_timeout(now);
                // Pacer output onto the bottleneck, reported to the estimator; the estimator's events to
                // the pacer (the first packet sent starts the probes), until neither has anything.
                loop {
                    let mut moved = false;
                    while let Some(e) = f.bwe.poll_event() {
                        moved = true;
                        match e {
                            Event::TargetBitrate { bitrate, .. } => f.pacer.set_target(bitrate),
                            Event::Probe(c) => f.pacer.start_probe(c),
                            _ => {}
                        }
                    }
                    while let Some(x) = f.pacer.poll_transmit() {
                        moved = true;
                        let (size, probe_cluster) = match x {
                            Paced::Packet { size, probe_cluster, .. } => (size as u64, probe_cluster),
                            Paced::Padding { size, probe_cluster } => (size as u64, Some(probe_cluster)),
                        };
                        let seq = f.next_seq;
                        f.next_seq += 1;
                        let sent =
                            SentPacket { transport_sequence: Some(seq as u16), size: size as usize, probe_cluster };
                        f.bwe.handle_sent(now, sent);
                        f.sent.push_back((seq, now, size));
                        let p = Packet { flow: i, seq, size, queued: now };
                        if rng.chance(self.loss) {
                            out.lost_random += 1;
                        } else if link.bytes + size > self.capacity_at(now) * 300 / 8000 {
                            out.dropped_queue += 1; // drop-tail: the queue holds 300 ms at the capacity
                        } else {
                            link.bytes += size;
                            link.queue.push_back(p);
                        }
                    }
                    if !moved {
                        break;
                    }
                }
            }
            // A packet the pacer just put on an idle link starts service now.
            link.step(now, self, &mut in_flight, &mut out.delays);
            if next_sample <= now {
                next_sample += SAMPLE;
                out.capacity.push((secs(now), self.capacity_at(now) as f64));
                for (i, f) in flows.iter_mut().enumerate() {
                    let target = if now < f.start { 0.0 } else { f.bwe.target_bitrate() as f64 };
                    out.targets[i].push((secs(now), target));
                    out.delivered[i].push(core::mem::take(&mut f.delivered_now));
                }
            }
            // 2. The next moment anything is due.
            let mut next = next_sample.min(end);
            let mut consider = |t: Option<Instant>| {
                if let Some(t) = t {
                    next = next.min(t.max(now));
                }
            };
            consider(in_flight.front().map(|x| x.0));
            consider(link.serving.map(|s| s.1));
            for f in &flows {
                if now < f.start {
                    consider(Some(f.start));
                    continue;
                }
                consider(Some(f.next_feedback));
                consider(Some(f.next_frame));
                consider(f.feedback.front().map(|x| x.0));
                consider(f.bwe.poll_timeout());
                consider(f.pacer.poll_timeout());
            }
            assert!(next >= now);
            if next == now {
                // Something owed now was handled above; a pacer asking for `now` again would spin.
                let owed = flows.iter().any(|f| f.pacer.poll_timeout() == Some(now));
                assert!(!owed, "the pacer announces work it does not do");
                next = now + Duration::from_nanos(1);
            }
            now = next;
        }
        out.frames_dropped = flows.iter().map(|f| f.frames_dropped).sum();
        out
    }
}

fn secs(t: Instant) -> f64 {
    t.as_nanos() as f64 / 1e9
}

/// The bottleneck: a FIFO served at the capacity of the moment each packet starts.
#[derive(Default)]
struct Link {
    queue: VecDeque<Packet>,
    bytes: u64,
    /// The packet in service and when it leaves.
    serving: Option<(Packet, Instant)>,
}

impl Link {
    fn step(
        &mut self,
        now: Instant,
        s: &Scenario,
        in_flight: &mut VecDeque<(Instant, Packet)>,
        delays: &mut Vec<(f64, f64)>,
    ) {
        loop {
            match self.serving {
                Some((p, done)) if done <= now => {
                    in_flight.push_back((done + s.one_way, p));
                    self.serving = None;
                }
                Some(_) => return,
                None => {}
            }
            let Some(p) = self.queue.pop_front() else { return };
            self.bytes -= p.size;
            let service = Duration::from_nanos(p.size * 8 * 1_000_000_000 / s.capacity_at(now));
            delays.push((secs(now), (now - p.queued).as_secs_f64() * 1000.0));
            self.serving = Some((p, now + service));
        }
    }
}

fn window<T: Copy>(series: &[(f64, T)], from: f64, to: f64) -> impl Iterator<Item = T> + '_ {
    series.iter().filter(move |(t, _)| *t >= from && *t < to).map(|(_, v)| *v)
}

impl Outcome {
    fn delivered_bps(&self, flow: usize, from: f64, to: f64) -> f64 {
        let series: Vec<(f64, u64)> =
            self.capacity.iter().map(|c| c.0).zip(self.delivered[flow].iter().copied()).collect();
        window(&series, from, to).sum::<u64>() as f64 * 8.0 / (to - from)
    }

    /// Delivered over offered capacity in [from, to).
    fn utilization(&self, from: f64, to: f64) -> f64 {
        let capacity: f64 = window(&self.capacity, from, to).sum::<f64>() * SAMPLE.as_secs_f64() / (to - from);
        (0..self.delivered.len()).map(|i| self.delivered_bps(i, from, to)).sum::<f64>() / capacity
    }

    fn p95_delay(&self, from: f64, to: f64) -> f64 {
        let mut d: Vec<f64> = window(&self.delays, from, to).collect();
        d.sort_by(f64::total_cmp);
        d.get(d.len() * 95 / 100).copied().unwrap_or(0.0)
    }

    /// Seconds from `step` until the summed target first stays within 0.8–1.2 × the capacity for 2 s.
    fn convergence(&self, step: f64, until: f64) -> Option<f64> {
        let total: Vec<(f64, f64)> = (0..self.capacity.len())
            .map(|k| (self.capacity[k].0, self.targets.iter().map(|t| t[k].1).sum::<f64>() / self.capacity[k].1))
            .collect();
        let ok = |t: f64| window(&total, t, t + 2.0).all(|r| (0.8..=1.2).contains(&r));
        total.iter().map(|x| x.0).filter(|&t| t >= step && t + 2.0 <= until).find(|&t| ok(t)).map(|t| t - step)
    }

    /// Seconds from `step` until every flow's target first stays within 0.8–1.2 × its fair share (the
    /// capacity over the number of flows) for 2 s.
    fn fair_convergence(&self, step: f64, until: f64) -> Option<f64> {
        let n = self.targets.len() as f64;
        let worst: Vec<(f64, (f64, f64))> = (0..self.capacity.len())
            .map(|k| {
                let share = self.capacity[k].1 / n;
                let r = self.targets.iter().map(|t| t[k].1 / share);
                (self.capacity[k].0, r.fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x))))
            })
            .collect();
        let ok = |t: f64| window(&worst, t, t + 2.0).all(|(lo, hi)| lo >= 0.8 && hi <= 1.2);
        worst.iter().map(|x| x.0).filter(|&t| t >= step && t + 2.0 <= until).find(|&t| ok(t)).map(|t| t - step)
    }

    fn jain(&self, from: f64, to: f64) -> f64 {
        let x: Vec<f64> = (0..self.delivered.len()).map(|i| self.delivered_bps(i, from, to)).collect();
        let sum: f64 = x.iter().sum();
        sum * sum / (x.len() as f64 * x.iter().map(|v| v * v).sum::<f64>())
    }
}

fn conv(c: Option<f64>) -> String {
    c.map_or_else(|| "never".to_string(), |c| format!("{c:.1} s"))
}

/// Estimate and capacity over time, by hand (no plotting dependency).
fn svg(out: &Outcome, secs: u64) -> String {
    let (w, h, left, bottom) = (800.0, 360.0, 60.0, 40.0);
    let max = 3_000_000.0;
    let x = |t: f64| left + t / secs as f64 * (w - left - 20.0);
    let y = |bps: f64| h - bottom - bps.min(max) / max * (h - bottom - 20.0);
    let path = |pts: &[(f64, f64)]| {
        let mut d = String::new();
        for (k, (t, v)) in pts.iter().enumerate() {
            let _ = write!(d, "{}{:.1},{:.1} ", if k == 0 { "M" } else { "L" }, x(*t), y(*v));
        }
        d
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for k in 0..=6 {
        let v = k as f64 * 500_000.0;
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{:.1}" y2="{:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{:.1}</text>"##,
            w - 20.0,
            y(v),
            y(v),
            left - 5.0,
            y(v) + 4.0,
            v / 1e6
        );
    }
    for t in (0..=secs).step_by(10) {
        let _ =
            writeln!(s, r#"<text x="{:.1}" y="{}" text-anchor="middle">{t}</text>"#, x(t as f64), h - bottom + 16.0);
    }
    let _ = writeln!(s, r#"<text x="{:.1}" y="{}" text-anchor="middle">time (s)</text>"#, w / 2.0, h - 6.0);
    let _ = writeln!(
        s,
        r#"<text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle">Mbit/s</text>"#,
        h / 2.0,
        h / 2.0
    );
    let delivered: Vec<(f64, f64)> = out
        .capacity
        .iter()
        .zip(&out.delivered[0])
        .map(|(c, d)| (c.0, *d as f64 * 8.0 / SAMPLE.as_secs_f64()))
        .collect();
    // A 1 s moving average of what arrived, the capacity, the estimate.
    let smooth: Vec<(f64, f64)> = (0..delivered.len())
        .map(|k| {
            (
                delivered[k].0,
                delivered[k.saturating_sub(9)..=k].iter().map(|d| d.1).sum::<f64>() / (k.min(9) + 1) as f64,
            )
        })
        .collect();
    let _ = writeln!(s, r##"<path d="{}" fill="none" stroke="#9c9" stroke-width="1"/>"##, path(&smooth));
    let _ = writeln!(s, r##"<path d="{}" fill="none" stroke="#000" stroke-width="2"/>"##, path(&out.capacity));
    let _ = writeln!(s, r##"<path d="{}" fill="none" stroke="#d33" stroke-width="1.5"/>"##, path(&out.targets[0]));
    let _ = writeln!(
        s,
        r##"<text x="{}" y="30" fill="#000">capacity</text><text x="{}" y="46" fill="#d33">target (estimate)</text><text x="{}" y="62" fill="#393">received (1 s average)</text>"##,
        w - 170.0,
        w - 170.0,
        w - 170.0
    );
    s.push_str("</svg>\n");
    s
}

#[test]
fn rfc8867_evaluation() {
    let variable = Scenario {
        name: "variable capacity (RFC 8867 5.1), 100 ms RTT",
        capacity: vec![(0, 1_000_000), (40, 2_500_000), (60, 600_000), (80, 1_000_000)],
        one_way: Duration::from_millis(50),
        loss: 0.0,
        flows: vec![0],
        secs: 100,
        seed: 1,
    };
    let fixed = |name, loss| Scenario {
        name,
        capacity: vec![(0, 2_000_000)],
        one_way: Duration::from_millis(25),
        loss,
        flows: vec![0],
        secs: 60,
        seed: 2,
    };
    let two = Scenario {
        name: "two competing flows (RFC 8867 5.4), 3 Mbit/s",
        capacity: vec![(0, 3_000_000)],
        one_way: Duration::from_millis(50),
        loss: 0.0,
        flows: vec![0, 0],
        secs: 120,
        seed: 3,
    };
    let late =
        Scenario { name: "second flow joins at 30 s, 3 Mbit/s", flows: vec![0, 30], seed: 4, ..two.clone_shape() };

    let mut table = String::new();
    let _ = writeln!(table, "| scenario | steady utilization | p95 queuing delay | convergence | Jain |");
    let _ = writeln!(table, "| --- | --- | --- | --- | --- |");

    // Variable capacity: the second half of each segment is its steady state.
    let v = variable.run();
    let segments = [(0.0, 40.0), (40.0, 60.0), (60.0, 80.0), (80.0, 100.0)];
    let steady: Vec<(f64, f64)> = segments.iter().map(|(a, b)| ((a + b) / 2.0, *b)).collect();
    let utils: Vec<f64> = steady.iter().map(|(a, b)| v.utilization(*a, *b)).collect();
    let util_all = steady.iter().map(|(a, b)| v.utilization(*a, *b) * (b - a)).sum::<f64>()
        / steady.iter().map(|(a, b)| b - a).sum::<f64>();
    let p95_v = v.p95_delay(2.0, 100.0);
    let convs: Vec<Option<f64>> = segments.iter().map(|(a, b)| v.convergence(*a, *b)).collect();
    let _ = writeln!(
        table,
        "| {} | {:.0} % (per segment: {}) | {:.0} ms | {} | – |",
        variable.name,
        util_all * 100.0,
        utils.iter().map(|u| format!("{:.0} %", u * 100.0)).collect::<Vec<_>>().join(", "),
        p95_v,
        convs
            .iter()
            .zip(["start", "→2.5", "→0.6", "→1.0"])
            .map(|(c, s)| format!("{s}: {}", conv(*c)))
            .collect::<Vec<_>>()
            .join(", "),
    );
    if std::env::var_os("CC_EVAL_SVG").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/cc-variable-capacity.svg");
        std::fs::write(path, svg(&v, variable.secs)).unwrap();
    }

    let mut fixed_results = Vec::new();
    for (name, loss) in [("2 Mbit/s, 50 ms RTT, no loss", 0.0), ("2 Mbit/s, 50 ms RTT, 5 % loss", 0.05)] {
        let sc = fixed(name, loss);
        let o = sc.run();
        let (u, d, c) = (o.utilization(20.0, 60.0), o.p95_delay(2.0, 60.0), o.convergence(0.0, 60.0));
        let _ = writeln!(table, "| {name} | {:.0} % | {d:.0} ms | start: {} | – |", u * 100.0, conv(c));
        fixed_results.push((u, d, c, o.lost_random));
    }

    let t = two.run();
    let (tu, td, tj) = (t.utilization(30.0, 120.0), t.p95_delay(2.0, 120.0), t.jain(30.0, 120.0));
    let tc = t.fair_convergence(0.0, 120.0);
    let _ =
        writeln!(table, "| {} | {:.0} % | {td:.0} ms | to fair shares: {} | {tj:.3} |", two.name, tu * 100.0, conv(tc));
    let l = late.run();
    let (lu, ld, lj) = (l.utilization(60.0, 120.0), l.p95_delay(2.0, 120.0), l.jain(60.0, 120.0));
    let lc = l.fair_convergence(30.0, 120.0);
    let _ = writeln!(
        table,
        "| {} | {:.0} % | {ld:.0} ms | to fair shares after the join: {} | {lj:.3} |",
        late.name,
        lu * 100.0,
        conv(lc)
    );
    println!("{table}");
    println!(
        "variable: {} queue drops, {} frames dropped by the pacer; 5 % loss run: {} packets lost at random",
        v.dropped_queue, v.frames_dropped, fixed_results[1].3
    );

    // The goals (utilization >= 85 %, p95 queuing delay < 100 ms, Jain >= 0.9) are met in every case;
    // the bounds below are what is reached, with a little room.
    assert!(util_all >= 0.85 && utils.iter().all(|u| *u >= 0.85), "variable capacity utilization {utils:?}");
    assert!(p95_v < 100.0, "variable capacity p95 delay {p95_v}");
    let limits = [2.0, 15.0, 5.0, 8.0];
    assert!(convs.iter().zip(limits).all(|(c, l)| c.is_some_and(|c| c <= l)), "{convs:?}");
    for (u, d, c, _) in &fixed_results {
        assert!(*u >= 0.85 && *d < 100.0 && c.is_some_and(|c| c <= 2.0), "{u} {d} {c:?}");
    }
    assert!(tu >= 0.85 && td < 100.0 && tj >= 0.9 && tc.is_some_and(|c| c <= 30.0), "{tu} {td} {tj} {tc:?}");
    // A late joiner takes a long time to get its share (the incumbent's queue hides it): bounded here,
    // and the goal of Jain >= 0.9 over the last minute is met.
    assert!(lu >= 0.85 && ld < 100.0 && lj >= 0.9 && lc.is_some_and(|c| c <= 80.0), "{lu} {ld} {lj} {lc:?}");
}

#[test]
fn the_simulation_is_deterministic() {
    let run = || {
        Scenario {
            name: "5 % loss, two flows",
            capacity: vec![(0, 1_500_000), (10, 700_000)],
            one_way: Duration::from_millis(25),
            loss: 0.05,
            flows: vec![0, 3],
            secs: 20,
            seed: 7,
        }
        .run()
    };
    let (a, b) = (run(), run());
    assert_eq!(a.targets, b.targets);
    assert_eq!(a.delivered, b.delivered);
    assert_eq!((a.lost_random, a.dropped_queue), (b.lost_random, b.dropped_queue));
    assert!(a.lost_random > 0 && a.targets[1].iter().any(|t| t.1 > 0.0));
}

impl Scenario {
    fn clone_shape(&self) -> Scenario {
        Scenario { name: self.name, capacity: self.capacity.clone(), flows: self.flows.clone(), ..*self }
    }
}
