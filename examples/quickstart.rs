//! The network simulator in one screen: two hosts behind different NATs find their public addresses with a
//! "what's my address" server, then try to reach each other. A full-cone NAT lets the other host in once
//! its mapping exists; a symmetric NAT does not. Everything runs in virtual time from one seed, so every
//! run prints the same timeline.
//!
//! Run with `cargo run --release --features sim --example quickstart`.

use core::net::SocketAddr;
use core::time::Duration;

use sansrtc::Instant;
use sansrtc::sim::{HostId, LinkConfig, NatConfig, Net, Probe, ProbeEvent, Sim};

fn main() -> Result<(), Box<dyn core::error::Error>> {
    let mut sim = Sim::new(2026);
    // Every hop: 20 ms one way, up to 5 ms jitter, kept in order.
    sim.set_default_link(
        LinkConfig::default().with_delay(Duration::from_millis(20)).with_jitter(Duration::from_millis(5)).in_order(),
    );

    // Record every delivery and NAT translation too, not just node events and drops.
    sim.trace_packets(true);

    let server: SocketAddr = "198.51.100.1:3478".parse()?;
    sim.add_host("server", Net::Internet, &[server.ip()], Probe::new(server))?;

    let cone = sim.add_nat("cone-nat", Net::Internet, "203.0.113.10".parse()?, NatConfig::full_cone())?;
    let alice_local: SocketAddr = "192.168.1.10:5000".parse()?;
    let alice = sim.add_host("alice", Net::Behind(cone), &[alice_local.ip()], Probe::new(alice_local))?;

    let sym = sim.add_nat("symmetric-nat", Net::Internet, "203.0.113.20".parse()?, NatConfig::symmetric())?;
    let bob_local: SocketAddr = "10.0.0.20:6000".parse()?;
    let bob = sim.add_host("bob", Net::Behind(sym), &[bob_local.ip()], Probe::new(bob_local))?;

    println!("1. Both ask the server for their public address.");
    sim.with_node(alice, |p: &mut Probe, now| p.send_ping(now, server));
    sim.with_node(bob, |p: &mut Probe, now| p.send_ping(now, server));
    sim.run_until(Instant::from_secs(1));
    let alice_public = learned(&mut sim, alice).ok_or("alice got no answer")?;
    let bob_public = learned(&mut sim, bob).ok_or("bob got no answer")?;

    println!("2. Alice (full cone) pings Bob's public address: Bob's symmetric NAT only admits the server.");
    sim.with_node(alice, |p: &mut Probe, now| p.send_ping(now, bob_public));
    sim.run_until(Instant::from_secs(2));

    println!("3. Bob pings Alice's public address: her full-cone mapping lets anyone in, and the answer");
    println!("   returns through the new mapping Bob's NAT made for Alice (a different port than the server saw).");
    sim.with_node(bob, |p: &mut Probe, now| p.send_ping(now, alice_public));
    sim.run_until(Instant::from_secs(3));

    println!();
    println!("Timeline (virtual time, who, what):");
    for entry in sim.trace() {
        println!("{entry}");
    }
    println!();
    println!("alice is {alice_local}, seen as {alice_public}; bob is {bob_local}, seen by the server as {bob_public}");
    let (c, s) = (sim.nat_stats(cone), sim.nat_stats(sym));
    println!("cone-nat:      {} mappings, {} in, {} filtered", c.mappings_created, c.inbound, c.filtered);
    println!("symmetric-nat: {} mappings, {} in, {} filtered", s.mappings_created, s.inbound, s.filtered);
    Ok(())
}

/// The public address a host learned from its last answer.
fn learned(sim: &mut Sim, host: HostId) -> Option<SocketAddr> {
    sim.drain_events::<ProbeEvent>(host).into_iter().rev().find_map(|(_, e)| match e {
        ProbeEvent::Ponged { mapped, .. } => Some(mapped),
        _ => None,
    })
}
