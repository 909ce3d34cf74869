//! How long a peer connection takes from the offer to an open data channel, in virtual time and in round
//! trips (issue 8). Two public hosts in the simulator, no loss, the signalling instantaneous. The set-up is
//! run at two link delays: the time grows by a whole number of round trips per extra round-trip time, and
//! that slope is the number of round trips on the critical path; the intercept is what timers and pacing add.

#![cfg(feature = "sim")]

use core::net::SocketAddr;
use core::time::Duration;

use sansrtc::pc::{ChannelOptions, Config, Event, PeerConnection};
use sansrtc::sim::{LinkConfig, Net, Sim};

const A_ADDR: &str = "198.51.100.10:5000";
const B_ADDR: &str = "203.0.113.20:6000";

/// Virtual time from `create_offer` to the data channel being open on both sides, with `one_way` delay
/// each way. Returns (time the offerer sees the channel open, time the answerer sees it announced).
fn setup(seed: u64, one_way: Duration, loss: f64) -> (Duration, Duration) {
    let mut sim = Sim::new(seed);
    sim.set_event_capacity(1 << 12);
    sim.set_default_link(LinkConfig::default().with_delay(one_way).with_loss(loss));
    let (a_addr, b_addr): (SocketAddr, SocketAddr) = (A_ADDR.parse().unwrap(), B_ADDR.parse().unwrap());
    let pa = PeerConnection::new(Config::default(), sim.fork_rng());
    let pb = PeerConnection::new(Config::default(), sim.fork_rng());
    let a = sim.add_host("alice", Net::Internet, &[a_addr.ip()], pa).unwrap();
    let b = sim.add_host("bob", Net::Internet, &[b_addr.ip()], pb).unwrap();
    let start = sim.now();
    let chat = sim
        .with_node(a, |pc: &mut PeerConnection, now| {
            pc.add_local_host(now, a_addr).unwrap();
            pc.end_of_local_candidates(now);
            let chat = pc.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
            let offer = pc.create_offer().unwrap();
            pc.set_local_description(now, &offer).unwrap();
            (chat, offer)
        })
        .unwrap();
    let (chat, offer) = chat;
    let answer = sim
        .with_node(b, |pc: &mut PeerConnection, now| {
            pc.add_local_host(now, b_addr).unwrap();
            pc.end_of_local_candidates(now);
            pc.set_remote_description(now, &offer).unwrap();
            let answer = pc.create_answer().unwrap();
            pc.set_local_description(now, &answer).unwrap();
            answer
        })
        .unwrap();
    sim.with_node(a, |pc: &mut PeerConnection, now| pc.set_remote_description(now, &answer).unwrap()).unwrap();
    let (mut open_a, mut open_b) = (None, None);
    let end = start + Duration::from_secs(60);
    while open_a.is_none() || open_b.is_none() {
        assert!(sim.now() < end, "not open after 60 s");
        let next = sim.now() + Duration::from_millis(1);
        sim.run_until(next);
        for (at, e) in sim.drain_events::<Event>(a) {
            println!("{:>5} ms alice {e:?}", (at - start).as_millis());
            if e == Event::ChannelOpen(chat) && open_a.is_none() {
                open_a = Some(at - start);
            }
        }
        for (at, e) in sim.drain_events::<Event>(b) {
            println!("{:>5} ms bob   {e:?}", (at - start).as_millis());
            if matches!(e, Event::DataChannel { ref label, .. } if label == "chat") && open_b.is_none() {
                open_b = Some(at - start);
            }
        }
    }
    (open_a.unwrap(), open_b.unwrap())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[test]
fn offer_to_open_in_round_trips() {
    // One-way delays whose round trips are multiples of ICE's 50 ms pacing interval, so pacing adds no
    // fraction of a round trip and the slope is exact.
    let (short, long) = (Duration::from_millis(25), Duration::from_millis(50));
    let (a1, b1) = setup(1, short, 0.0);
    let (a2, b2) = setup(1, long, 0.0);
    let rtt_step = ms(2 * (long - short));
    let (rt_a, rt_b) = ((ms(a2) - ms(a1)) / rtt_step, (ms(b2) - ms(b1)) / rtt_step);
    let overhead_a = ms(a1) - rt_a * ms(2 * short);
    println!("one-way {short:?}: offerer open at {:.1} ms, answerer at {:.1} ms", ms(a1), ms(b1));
    println!("one-way {long:?}: offerer open at {:.1} ms, answerer at {:.1} ms", ms(a2), ms(b2));
    println!(
        "round trips from offer to open: offerer {rt_a:.2}, answerer {rt_b:.2}; not in round trips: {overhead_a:.1} ms"
    );
    // Whole or half round trips (the answerer learns of the channel half a round trip before the offerer
    // hears back): nothing on the path waits for a timer.
    for rt in [rt_a, rt_b] {
        assert!((2.0 * rt - (2.0 * rt).round()).abs() < 0.05, "{rt} round trips");
    }
    assert!(overhead_a.abs() < 1.0, "{overhead_a} ms spent outside round trips");
    // Today 4: ICE 2 (a check, then the nomination), the DTLS 1.3 handshake in one (no cookie exchange: ICE
    // has already validated the address; with DTLS 1.2 it takes two, 5 in all), and SCTP's INIT and COOKIE
    // exchanges overlapping the end of it; the offerer's channel is open as its DCEP OPEN leaves (RFC 8832
    // §6), and the answerer sees the channel when the OPEN arrives.
    assert!(rt_a <= 4.05, "offerer needs {rt_a} round trips");
    assert!(rt_b <= 4.55, "answerer needs {rt_b} round trips");
}

#[test]
fn offer_to_open_with_loss_is_bounded() {
    // 10 % loss each way, 20 ms one-way: every seed opens, within the retransmission schedule.
    let mut worst = Duration::ZERO;
    let mut total = Duration::ZERO;
    for seed in 0..16 {
        let (a, b) = setup(seed, Duration::from_millis(20), 0.10);
        worst = worst.max(a.max(b));
        total += a.max(b);
    }
    println!("10 % loss, 20 ms one-way: mean {:.0} ms, worst {:.0} ms over 16 seeds", ms(total / 16), ms(worst));
    assert!(worst < Duration::from_secs(15), "worst set-up {worst:?}");
}
