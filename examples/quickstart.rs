//! Two sansrtc peer connections in one process, over the network simulator: Alice sits behind a NAT, Bob
//! is public, every hop takes 20 ms. They exchange an offer and an answer (the signalling channel is just
//! a function call here), ICE finds the path through the NAT, DTLS authenticates both ends by the
//! fingerprints in the descriptions, SCTP comes up, and a data channel carries messages both ways.
//! Everything runs in virtual time from one seed, so every run prints the same timeline.
//!
//! Run with `cargo run --release --features sim --example quickstart`.

use core::net::SocketAddr;
use core::time::Duration;

use sansrtc::pc::{ChannelOptions, Config, Event, PeerConnection};
use sansrtc::sim::{LinkConfig, NatConfig, Net, Sim};

/// `SANSRTC_LOG` filter for tracing output (see `examples/support/log.rs`).
#[path = "support/log.rs"]
mod log;

pub fn main() -> Result<(), Box<dyn core::error::Error>> {
    log::init();
    let mut sim = Sim::new(2026);
    sim.set_default_link(LinkConfig::default().with_delay(Duration::from_millis(20)));

    let nat = sim.add_nat("nat", Net::Internet, "203.0.113.1".parse()?, NatConfig::port_restricted_cone())?;
    let alice_addr: SocketAddr = "192.168.1.10:5000".parse()?;
    let bob_addr: SocketAddr = "198.51.100.20:6000".parse()?;
    let alice_pc = PeerConnection::new(Config::default(), sim.fork_rng());
    let bob_pc = PeerConnection::new(Config::default(), sim.fork_rng());
    let alice = sim.add_host("alice", Net::Behind(nat), &[alice_addr.ip()], alice_pc)?;
    let bob = sim.add_host("bob", Net::Internet, &[bob_addr.ip()], bob_pc)?;

    // 1. Each side declares its socket; its host candidate is gathered at once.
    for (host, addr) in [(alice, alice_addr), (bob, bob_addr)] {
        sim.with_node(host, |pc: &mut PeerConnection, now| -> Result<(), sansrtc::pc::Error> {
            pc.add_local_host(now, addr)?;
            pc.end_of_local_candidates(now);
            Ok(())
        })
        .ok_or("no node")??;
    }

    // 2. Alice creates a channel and offers; Bob answers (a=setup:active: Bob will be the DTLS client).
    let chat = sim
        .with_node(alice, |pc: &mut PeerConnection, now| pc.create_data_channel(now, ChannelOptions::new("chat")))
        .ok_or("no node")??;
    let offer = sim
        .with_node(alice, |pc: &mut PeerConnection, now| {
            let offer = pc.create_offer()?;
            pc.set_local_description(now, &offer).map(|()| offer)
        })
        .ok_or("no node")??;
    println!("Alice's offer:\n{}", offer.sdp);
    let answer = sim
        .with_node(bob, |pc: &mut PeerConnection, now| {
            pc.set_remote_description(now, &offer)?;
            let answer = pc.create_answer()?;
            pc.set_local_description(now, &answer).map(|()| answer)
        })
        .ok_or("no node")??;
    println!("Bob's answer:\n{}", answer.sdp);
    sim.with_node(alice, |pc: &mut PeerConnection, now| pc.set_remote_description(now, &answer)).ok_or("no node")??;

    // 3. Run the network; greet each other once the channel is open on both sides.
    let mut timeline = Vec::new();
    let mut bob_chat = None;
    let mut alice_open = false;
    let mut sent = false;
    let mut received = 0;
    for _ in 0..2_000 {
        let next = sim.now() + Duration::from_millis(10);
        sim.run_until(next);
        for (host, name) in [(alice, "alice"), (bob, "bob")] {
            for (at, event) in sim.drain_events::<Event>(host) {
                timeline.push(format!("{:>8.3} s  {name:<5}  {event:?}", at.as_nanos() as f64 / 1e9));
                match event {
                    Event::ChannelOpen(id) if host == alice && id == chat => alice_open = true,
                    Event::DataChannel { id, .. } if host == bob => bob_chat = Some(id),
                    Event::Message { data, .. } => {
                        timeline.push(format!("            {name:<5}  got {:?}", String::from_utf8_lossy(&data)));
                        received += 1;
                    }
                    _ => {}
                }
            }
        }
        if let (true, false, Some(id)) = (alice_open, sent, bob_chat) {
            sim.with_node(alice, |pc: &mut PeerConnection, now| pc.send_text(now, chat, "hello Bob"))
                .ok_or("no node")??;
            sim.with_node(bob, |pc: &mut PeerConnection, now| pc.send_binary(now, id, b"hello Alice"))
                .ok_or("no node")??;
            sent = true;
        }
        if received == 2 {
            break;
        }
    }

    println!("Timeline (virtual time, who, event):");
    for line in &timeline {
        println!("{line}");
    }
    if received != 2 {
        return Err("the messages did not arrive".into());
    }
    Ok(())
}
