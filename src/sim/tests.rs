use super::*;
use alloc::vec;
use alloc::vec::Vec;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const SERVER: &str = "198.51.100.1:3478";
const CLIENT: &str = "198.51.100.2:5000";

/// A reflector and a client on the internet; the client pings every `interval`, `rounds` times.
fn pair(seed: u64, interval: Duration, rounds: u32) -> (Sim, HostId, HostId) {
    let mut sim = Sim::new(seed);
    let server = sim.add_host("server", Net::Internet, &[sa(SERVER).ip()], Probe::new(sa(SERVER))).unwrap();
    let probe = Probe::new(sa(CLIENT)).pinging(&[sa(SERVER)], Instant::ZERO, interval).rounds(rounds);
    let client = sim.add_host("client", Net::Internet, &[sa(CLIENT).ip()], probe).unwrap();
    (sim, server, client)
}

fn pongs(sim: &mut Sim, host: HostId) -> Vec<(Instant, u32, SocketAddr, Duration)> {
    sim.drain_events::<ProbeEvent>(host)
        .into_iter()
        .filter_map(|(at, e)| match e {
            ProbeEvent::Ponged { seq, mapped, rtt, .. } => Some((at, seq, mapped, rtt.unwrap())),
            _ => None,
        })
        .collect()
}

fn pings(sim: &mut Sim, host: HostId) -> Vec<(SocketAddr, SocketAddr, u32)> {
    sim.drain_events::<ProbeEvent>(host)
        .into_iter()
        .filter_map(|(_, e)| match e {
            ProbeEvent::Pinged { from, to, seq } => Some((from, to, seq)),
            _ => None,
        })
        .collect()
}

#[test]
fn delay_is_exact_per_direction() {
    let (mut sim, server, client) = pair(1, Duration::from_secs(1), 3);
    sim.set_link(client, server, LinkConfig::with_delay_only(ms(30)));
    sim.set_link(server, client, LinkConfig::with_delay_only(ms(20)));
    assert!(sim.run_until_idle(Duration::from_secs(10)));
    let got = pongs(&mut sim, client);
    assert_eq!(got.len(), 3);
    for (i, (at, seq, mapped, rtt)) in got.into_iter().enumerate() {
        assert_eq!(seq, i as u32);
        assert_eq!(mapped, sa(CLIENT));
        assert_eq!(rtt, ms(50));
        assert_eq!(at, Instant::from_secs(i as u64) + ms(50));
    }
    assert_eq!(sim.link_stats(client, server).delivered, 3);
    assert_eq!(sim.link_stats(server, client).sent, 3);
}

#[test]
fn jitter_spreads_arrivals_within_bounds() {
    let (mut sim, server, client) = pair(2, ms(100), 200);
    sim.set_link(client, server, LinkConfig::default().with_delay(ms(30)).with_jitter(ms(10)));
    sim.set_link(server, client, LinkConfig::with_delay_only(ms(20)));
    sim.run_until_idle(Duration::from_secs(60));
    let rtts: Vec<Duration> = pongs(&mut sim, client).into_iter().map(|p| p.3).collect();
    assert_eq!(rtts.len(), 200);
    assert!(rtts.iter().all(|r| *r >= ms(50) && *r <= ms(60)), "{rtts:?}");
    let (min, max) = (rtts.iter().min().unwrap(), rtts.iter().max().unwrap());
    assert!(*max - *min > ms(8), "jitter barely used: {min:?}..{max:?}");
}

#[test]
fn loss_rate_is_roughly_as_set() {
    let (mut sim, server, client) = pair(3, ms(10), 4000);
    sim.set_link(client, server, LinkConfig::with_delay_only(ms(5)).with_loss(0.25));
    sim.run_until_idle(Duration::from_secs(100));
    let stats = sim.link_stats(client, server);
    assert_eq!(stats.sent, 4000);
    assert_eq!(stats.lost + stats.delivered, stats.sent);
    // 25 % of 4000 = 1000; the standard deviation is about 27, so ±150 is over 5 sigma.
    assert!((850..=1150).contains(&stats.lost), "lost {}", stats.lost);
    assert_eq!(pongs(&mut sim, client).len() as u64, stats.delivered);
    assert_eq!(sim.link_stats(server, client).lost, 0);
}

#[test]
fn duplication_delivers_copies() {
    let (mut sim, server, client) = pair(4, ms(10), 1000);
    sim.set_link(client, server, LinkConfig::with_delay_only(ms(5)).with_duplicate(0.3));
    sim.run_until_idle(Duration::from_secs(100));
    let stats = sim.link_stats(client, server);
    assert!((220..=380).contains(&stats.duplicated), "duplicated {}", stats.duplicated);
    assert_eq!(stats.delivered, 1000 + stats.duplicated);
    let seen = pings(&mut sim, server);
    assert_eq!(seen.len() as u64, 1000 + stats.duplicated);
    let mut seqs: Vec<u32> = seen.iter().map(|p| p.2).collect();
    seqs.dedup();
    assert_eq!(seqs.len(), 1000, "copies arrive next to their original with no jitter");
}

fn arrival_order(sim: &mut Sim, server: HostId) -> Vec<u32> {
    pings(sim, server).into_iter().map(|p| p.2).collect()
}

fn inversions(seqs: &[u32]) -> usize {
    seqs.windows(2).filter(|w| w[1] < w[0]).count()
}

#[test]
fn jitter_reorders_unless_in_order() {
    let (mut sim, server, client) = pair(5, ms(2), 500);
    sim.set_link(client, server, LinkConfig::default().with_delay(ms(10)).with_jitter(ms(20)));
    sim.run_until_idle(Duration::from_secs(10));
    let order = arrival_order(&mut sim, server);
    assert_eq!(order.len(), 500);
    let reordered = sim.link_stats(client, server).reordered;
    assert!(reordered > 50, "reordered {reordered}");
    assert!(inversions(&order) > 50);

    let (mut sim, server, client) = pair(5, ms(2), 500);
    sim.set_link(client, server, LinkConfig::default().with_delay(ms(10)).with_jitter(ms(20)).in_order());
    sim.run_until_idle(Duration::from_secs(10));
    let order = arrival_order(&mut sim, server);
    assert_eq!(order, (0..500).collect::<Vec<_>>());
    assert_eq!(sim.link_stats(client, server).reordered, 0);
}

#[test]
fn explicit_reorder_probability() {
    let (mut sim, server, client) = pair(6, ms(5), 1000);
    sim.set_link(client, server, LinkConfig::with_delay_only(ms(10)).with_reorder(0.1, ms(12)));
    sim.run_until_idle(Duration::from_secs(10));
    let order = arrival_order(&mut sim, server);
    let stats = sim.link_stats(client, server);
    // Each held-back datagram (about 100) is overtaken by the next two (12 ms hold, 5 ms spacing).
    assert!((120..=280).contains(&stats.reordered), "reordered {}", stats.reordered);
    // Each held-back datagram shows up once out of order in the arrival sequence.
    let inv = inversions(&order) as u64;
    assert!((60..=140).contains(&inv) && inv <= stats.reordered, "inversions {inv}");
    assert_eq!(order.len(), 1000);
}

#[test]
fn bandwidth_cap_serialises_and_drops_tail() {
    let (mut sim, server, client) = pair(7, ms(10), 0);
    // 80 kbit/s: a 1000-byte datagram takes 100 ms to serialise. Queue of 4.
    sim.set_link(client, server, LinkConfig::with_delay_only(ms(5)).with_bandwidth(80_000, 4));
    for _ in 0..10 {
        sim.send_from(client, sa(CLIENT), sa(SERVER), &[0; 1000]);
    }
    let stats = sim.link_stats(client, server);
    assert_eq!((stats.sent, stats.queue_dropped), (10, 6));
    sim.run_until(Instant::from_millis(104));
    assert_eq!(sim.host_stats(server).received, 0);
    sim.run_until(Instant::from_millis(105));
    assert_eq!(sim.host_stats(server).received, 1);
    sim.run_until(Instant::from_millis(305));
    assert_eq!(sim.host_stats(server).received, 3);
    sim.run_until_idle(Duration::from_secs(1));
    assert_eq!(sim.host_stats(server).received, 4);
    assert_eq!(sim.link_stats(client, server).delivered, 4);
    // The queue drained: a datagram now goes straight through in 100 ms + 5 ms.
    let start = sim.now();
    sim.send_from(client, sa(CLIENT), sa(SERVER), &[0; 1000]);
    sim.run_until_idle(Duration::from_secs(1));
    assert_eq!(sim.host_stats(server).received, 5);
    assert_eq!(sim.now(), start + ms(105));
}

// ---- NAT ------------------------------------------------------------------------------------------------

const S1: &str = "198.51.100.1";
const S2: &str = "198.51.100.2";
const THIRD: &str = "198.51.100.3:7000";
const NAT_IP: &str = "203.0.113.1";
const INSIDE: &str = "192.168.0.2:5000";

struct NatWorld {
    sim: Sim,
    nat: NatId,
    client: HostId,
    s1: HostId,
    s2: HostId,
    third: HostId,
}

fn nat_world(config: NatConfig) -> NatWorld {
    let mut sim = Sim::new(11);
    sim.set_default_link(LinkConfig::with_delay_only(ms(10)));
    let s1 = sim.add_host("s1", Net::Internet, &[ip(S1)], Probe::new(SocketAddr::new(ip(S1), 1000))).unwrap();
    let s2 = sim.add_host("s2", Net::Internet, &[ip(S2)], Probe::new(SocketAddr::new(ip(S2), 1000))).unwrap();
    let third = sim.add_host("third", Net::Internet, &[sa(THIRD).ip()], Probe::new(sa(THIRD))).unwrap();
    let nat = sim.add_nat("nat", Net::Internet, ip(NAT_IP), config).unwrap();
    let client = sim.add_host("client", Net::Behind(nat), &[sa(INSIDE).ip()], Probe::new(sa(INSIDE))).unwrap();
    NatWorld { sim, nat, client, s1, s2, third }
}

/// The client pings `to` (on S1 or S2); returns the address the server saw.
fn mapped_seen(w: &mut NatWorld, to: SocketAddr) -> SocketAddr {
    let server = if to.ip() == ip(S1) { w.s1 } else { w.s2 };
    w.sim.with_node(w.client, |p: &mut Probe, now| p.send_ping(now, to)).unwrap();
    w.sim.run_until_idle(Duration::from_secs(1));
    let seen = pings(&mut w.sim, server);
    assert_eq!(seen.len(), 1, "{}", w.sim.trace_text());
    let (_, _, mapped, _) = pongs(&mut w.sim, w.client)[0];
    assert_eq!(mapped, seen[0].0, "the pong reports what the server saw");
    seen[0].0
}

#[test]
fn mapping_behaviours() {
    let s1a = SocketAddr::new(ip(S1), 1000);
    let s1b = SocketAddr::new(ip(S1), 2000);
    let s2a = SocketAddr::new(ip(S2), 1000);
    for (mapping, same_ip_other_port, other_ip) in [
        (Mapping::EndpointIndependent, true, true),
        (Mapping::AddressDependent, true, false),
        (Mapping::AddressAndPortDependent, false, false),
    ] {
        let mut w = nat_world(NatConfig::new(mapping, Filtering::EndpointIndependent));
        let m1 = mapped_seen(&mut w, s1a);
        let m2 = mapped_seen(&mut w, s1b);
        let m3 = mapped_seen(&mut w, s2a);
        assert_eq!(m1.ip(), ip(NAT_IP));
        assert_eq!(m1 == m2, same_ip_other_port, "{mapping:?}");
        assert_eq!(m1 == m3, other_ip, "{mapping:?}");
        let created = w.sim.nat_stats(w.nat).mappings_created;
        assert_eq!(created, 1 + u64::from(!same_ip_other_port) + u64::from(!other_ip), "{mapping:?}");
        assert_eq!(w.sim.nat_mapping(w.nat, sa(INSIDE), s2a), Some(m3));
    }
}

#[test]
fn presets_name_the_classic_types() {
    let full = NatConfig::full_cone();
    assert_eq!((full.mapping, full.filtering), (Mapping::EndpointIndependent, Filtering::EndpointIndependent));
    let r = NatConfig::restricted_cone();
    assert_eq!((r.mapping, r.filtering), (Mapping::EndpointIndependent, Filtering::AddressDependent));
    let pr = NatConfig::port_restricted_cone();
    assert_eq!((pr.mapping, pr.filtering), (Mapping::EndpointIndependent, Filtering::AddressAndPortDependent));
    let sym = NatConfig::symmetric();
    assert_eq!((sym.mapping, sym.filtering), (Mapping::AddressAndPortDependent, Filtering::AddressAndPortDependent));
    assert_eq!(full.mapping_timeout, Duration::from_secs(120));
}

#[test]
fn filtering_behaviours() {
    // (preset, S1 from another port gets in, a third host gets in)
    for (config, other_port, third_host) in [
        (NatConfig::full_cone(), true, true),
        (NatConfig::restricted_cone(), true, false),
        (NatConfig::port_restricted_cone(), false, false),
        (NatConfig::symmetric(), false, false),
    ] {
        let name = format!("{:?}", config.filtering);
        let mut w = nat_world(config);
        let mapped = mapped_seen(&mut w, SocketAddr::new(ip(S1), 1000));
        // The server it talked to, from the same port: always admitted.
        w.sim.with_node(w.s1, |p: &mut Probe, now| p.send_ping(now, mapped)).unwrap();
        // The same server IP from another port.
        w.sim
            .with_node(w.s1, |p: &mut Probe, now| p.send_ping_from(now, SocketAddr::new(ip(S1), 2000), mapped))
            .unwrap();
        // A host the client never contacted.
        w.sim.with_node(w.third, |p: &mut Probe, now| p.send_ping(now, mapped)).unwrap();
        w.sim.run_until_idle(Duration::from_secs(1));
        let froms: Vec<SocketAddr> = pings(&mut w.sim, w.client).into_iter().map(|p| p.0).collect();
        let mut expected = vec![SocketAddr::new(ip(S1), 1000)];
        if other_port {
            expected.push(SocketAddr::new(ip(S1), 2000));
        }
        if third_host {
            expected.push(sa(THIRD));
        }
        assert_eq!(froms, expected, "{name}");
        let filtered = 3 - expected.len() as u64;
        assert_eq!(w.sim.nat_stats(w.nat).filtered, filtered, "{name}");
        assert_eq!(w.sim.trace().filter(|e| e.what.ends_with("filtered")).count() as u64, filtered);
    }
}

#[test]
fn unsolicited_without_mapping_is_dropped() {
    let mut w = nat_world(NatConfig::full_cone());
    w.sim.with_node(w.third, |p: &mut Probe, now| p.send_ping(now, SocketAddr::new(ip(NAT_IP), 5000))).unwrap();
    w.sim.run_until_idle(Duration::from_secs(1));
    assert!(pings(&mut w.sim, w.client).is_empty());
    assert_eq!(w.sim.nat_stats(w.nat).unmapped, 1);
}

#[test]
fn mapping_expires_after_idle_timeout() {
    let mut w = nat_world(NatConfig::full_cone());
    let mapped = mapped_seen(&mut w, SocketAddr::new(ip(S1), 1000));
    // The pong at 100 s goes out through the mapping and refreshes it.
    w.sim.run_until(Instant::from_secs(100));
    w.sim.with_node(w.s1, |p: &mut Probe, now| p.send_ping(now, mapped)).unwrap();
    w.sim.run_until_idle(Duration::from_secs(1));
    assert_eq!(pings(&mut w.sim, w.client).len(), 1);
    assert_eq!(w.sim.nat_mappings(w.nat), 1);
    // 120 s after that refresh the mapping is gone.
    w.sim.run_until(Instant::from_secs(221));
    assert_eq!(w.sim.nat_mappings(w.nat), 0);
    w.sim.with_node(w.s1, |p: &mut Probe, now| p.send_ping(now, mapped)).unwrap();
    w.sim.run_until_idle(Duration::from_secs(1));
    assert!(pings(&mut w.sim, w.client).is_empty());
    let stats = w.sim.nat_stats(w.nat);
    assert_eq!((stats.expired, stats.unmapped), (1, 1));
}

#[test]
fn keepalives_hold_a_mapping_and_inbound_refresh_is_optional() {
    // Client pings every 60 s: the mapping lives on for 10 minutes with one port.
    let mut w = nat_world(NatConfig::full_cone());
    let to = SocketAddr::new(ip(S1), 1000);
    let probe = Probe::new(sa(INSIDE)).pinging(&[to], Instant::ZERO, Duration::from_secs(60));
    *w.sim.node_mut::<Probe>(w.client).unwrap() = probe;
    w.sim.run_until(Instant::from_secs(600));
    let seen: Vec<SocketAddr> = pings(&mut w.sim, w.s1).into_iter().map(|p| p.0).collect();
    assert_eq!(seen.len(), 10);
    assert!(seen.iter().all(|m| *m == seen[0]));
    assert_eq!(w.sim.nat_stats(w.nat).mappings_created, 1);

    // Only inbound traffic: without inbound refresh it expires, with it the mapping stays.
    for (refresh, alive) in [(false, false), (true, true)] {
        let mut w = nat_world(
            NatConfig::full_cone().with_mapping_timeout(Duration::from_secs(30)).with_inbound_refresh(refresh),
        );
        let mapped = mapped_seen(&mut w, to);
        // Inbound garbage the client rejects (so it sends nothing back) every 20 s.
        for t in [20, 40, 60] {
            w.sim.run_until(Instant::from_secs(t));
            w.sim.send_from(w.s1, to, mapped, b"noise");
        }
        w.sim.run_until_idle(Duration::from_secs(1));
        assert_eq!(w.sim.nat_mappings(w.nat) == 1, alive, "refresh {refresh}");
        assert_eq!(w.sim.host_stats(w.client).rejected, if alive { 3 } else { 1 }, "refresh {refresh}");
    }
}

#[test]
fn port_allocation() {
    let mut w = nat_world(NatConfig::symmetric().with_port_allocation(PortAllocation::Preserve));
    let m1 = mapped_seen(&mut w, SocketAddr::new(ip(S1), 1000));
    let m2 = mapped_seen(&mut w, SocketAddr::new(ip(S2), 1000));
    assert_eq!(m1.port(), sa(INSIDE).port(), "preserved");
    assert_ne!(m2.port(), sa(INSIDE).port(), "taken, so another port");

    let mut w = nat_world(NatConfig::symmetric().with_port_allocation(PortAllocation::Sequential));
    let m1 = mapped_seen(&mut w, SocketAddr::new(ip(S1), 1000));
    let m2 = mapped_seen(&mut w, SocketAddr::new(ip(S2), 1000));
    assert_eq!((m1.port(), m2.port()), (1024, 1025));

    // Random ports follow the seed.
    let run = || {
        let mut w = nat_world(NatConfig::symmetric());
        mapped_seen(&mut w, SocketAddr::new(ip(S1), 1000))
    };
    assert_eq!(run(), run());
}

#[test]
fn hairpinning_is_optional() {
    for on in [true, false] {
        let mut w = nat_world(NatConfig::full_cone().with_hairpinning(on));
        let other_inside = sa("192.168.0.3:6000");
        let other =
            w.sim.add_host("other", Net::Behind(w.nat), &[other_inside.ip()], Probe::new(other_inside)).unwrap();
        // The other host gets a mapping by talking to S1; the client then uses that public address.
        w.sim.with_node(other, |p: &mut Probe, now| p.send_ping(now, SocketAddr::new(ip(S1), 1000))).unwrap();
        w.sim.run_until_idle(Duration::from_secs(1));
        let (_, _, other_public, _) = pongs(&mut w.sim, other)[0];
        w.sim.with_node(w.client, |p: &mut Probe, now| p.send_ping(now, other_public)).unwrap();
        w.sim.run_until_idle(Duration::from_secs(1));
        let seen = pings(&mut w.sim, other);
        let stats = w.sim.nat_stats(w.nat);
        if on {
            assert_eq!(seen.len(), 1);
            assert_eq!(seen[0].0.ip(), ip(NAT_IP), "the sender appears under its external address");
            assert_eq!(stats.hairpinned, 2, "the ping and its pong");
            assert_eq!(pongs(&mut w.sim, w.client)[0].2, seen[0].0);
        } else {
            assert!(seen.is_empty());
            assert_eq!(stats.hairpin_dropped, 1);
        }
    }
}

#[test]
fn nested_nats() {
    let mut sim = Sim::new(12);
    let server = SocketAddr::new(ip(S1), 1000);
    let s = sim.add_host("server", Net::Internet, &[server.ip()], Probe::new(server)).unwrap();
    let carrier = sim.add_nat("cgnat", Net::Internet, ip(NAT_IP), NatConfig::full_cone()).unwrap();
    let home = sim.add_nat("home", Net::Behind(carrier), ip("100.64.0.7"), NatConfig::full_cone()).unwrap();
    let inside = sa(INSIDE);
    let probe = Probe::new(inside).pinging(&[server], Instant::ZERO, Duration::from_secs(1)).rounds(1);
    let c = sim.add_host("client", Net::Behind(home), &[inside.ip()], probe).unwrap();
    sim.run_until_idle(Duration::from_secs(1));
    let seen = pings(&mut sim, s);
    assert_eq!(seen[0].0.ip(), ip(NAT_IP));
    assert_eq!(pongs(&mut sim, c).len(), 1);
    assert_eq!(sim.nat_stats(home).outbound, 1);
    assert_eq!(sim.nat_stats(carrier).inbound, 1);
}

#[test]
fn ipv6_hosts() {
    let mut sim = Sim::new(13);
    sim.set_default_link(LinkConfig::with_delay_only(ms(7)));
    let server = sa("[2001:db8::1]:3478");
    let s = sim.add_host("server", Net::Internet, &[server.ip(), ip(S1)], Probe::new(server)).unwrap();
    let client6 = sa("[2001:db8::2]:5000");
    let targets = [server, SocketAddr::new(ip(S1), 3478)];
    let client4 = sa(CLIENT);
    let probe = Probe::new(client6).pinging(&targets[..1], Instant::ZERO, Duration::from_secs(1)).rounds(1);
    let c = sim.add_host("client", Net::Internet, &[client6.ip(), client4.ip()], probe).unwrap();
    sim.run_until_idle(Duration::from_secs(1));
    sim.with_node(c, |p: &mut Probe, now| p.send_ping_from(now, client4, targets[1])).unwrap();
    sim.run_until_idle(Duration::from_secs(1));
    let got = pongs(&mut sim, c);
    assert_eq!(got.iter().map(|p| p.2).collect::<Vec<_>>(), [client6, client4]);
    assert_eq!(got[0].3, ms(14));
    assert_eq!(pings(&mut sim, s).iter().map(|p| p.1).collect::<Vec<_>>(), targets);
    // A v6 host behind a v4 NAT cannot get out.
    let nat = sim.add_nat("nat", Net::Internet, ip(NAT_IP), NatConfig::full_cone()).unwrap();
    let v6_inside = sa("[fd00::2]:5000");
    let h = sim.add_host("inside6", Net::Behind(nat), &[v6_inside.ip()], Probe::new(v6_inside)).unwrap();
    sim.with_node(h, |p: &mut Probe, now| p.send_ping(now, server)).unwrap();
    sim.run_until_idle(Duration::from_secs(1));
    assert_eq!(sim.nat_stats(nat).exhausted, 1);
}

#[test]
fn setup_errors_and_routing_drops() {
    let (mut sim, _server, client) = pair(14, ms(10), 0);
    assert_eq!(
        sim.add_host("dup", Net::Internet, &[sa(SERVER).ip()], Probe::new(sa(SERVER))).err(),
        Some(SimError::AddressInUse(sa(SERVER).ip()))
    );
    assert_eq!(sim.add_host("none", Net::Internet, &[], Probe::new(sa(SERVER))).err(), Some(SimError::NoAddress));
    assert_eq!(
        sim.add_host("lost", Net::Behind(NatId(9)), &[ip("10.0.0.1")], Probe::new(sa("10.0.0.1:1"))).err(),
        Some(SimError::UnknownNat)
    );
    // To nowhere, and from an address the host does not have.
    sim.with_node(client, |p: &mut Probe, now| p.send_ping(now, sa("192.0.2.99:1"))).unwrap();
    sim.with_node(client, |p: &mut Probe, now| p.send_ping_from(now, sa("192.0.2.1:1"), sa(SERVER))).unwrap();
    sim.run_until_idle(Duration::from_secs(1));
    assert_eq!(sim.stats().unroutable, 1);
    assert_eq!(sim.host_stats(client).bad_source, 1);
    assert!(sim.node::<Probe>(client).is_some());
    assert_eq!((sim.host_name(client), sim.host_addrs(client)), ("client", &[sa(CLIENT).ip()][..]));
    assert!(sim.node::<u32>(client).is_none());
}

#[test]
fn clock_jumps_to_deadlines_and_never_goes_back() {
    let (mut sim, server, _client) = pair(15, ms(250), 4);
    sim.set_default_link(LinkConfig::with_delay_only(ms(40)));
    let mut times = Vec::new();
    while let Some(t) = sim.step() {
        times.push(t);
    }
    // Pings at 0, 250, 500, 750; each arrives 40 ms later and its pong 40 ms after that.
    let expect: Vec<Instant> =
        [0, 40, 80, 250, 290, 330, 500, 540, 580, 750, 790, 830].iter().map(|m| Instant::from_millis(*m)).collect();
    assert_eq!(times, expect);
    sim.run_until(Instant::from_secs(5));
    assert_eq!(sim.now(), Instant::from_secs(5));
    sim.run_until(Instant::from_secs(1));
    assert_eq!(sim.now(), Instant::from_secs(5), "time never goes back");
    assert_eq!(sim.host_stats(server).received, 4);
}

#[test]
fn run_until_cond_stops_when_true() {
    let (mut sim, _server, client) = pair(16, ms(100), 100);
    sim.set_default_link(LinkConfig::with_delay_only(ms(10)));
    let mut got = 0;
    let met = sim.run_until_cond(
        |sim| {
            got += pongs(sim, client).len();
            got >= 3
        },
        Duration::from_secs(60),
    );
    assert!(met);
    assert_eq!(sim.now(), Instant::from_millis(220));
    assert!(!sim.run_until_cond(|_| false, Duration::from_secs(1)));
    assert_eq!(sim.now(), Instant::from_millis(1220));
}

#[test]
fn trace_records_events_and_is_bounded() {
    let (mut sim, _server, client) = pair(17, ms(100), 10);
    sim.set_trace_capacity(5);
    sim.run_until_idle(Duration::from_secs(5));
    let entries: Vec<&TraceEntry> = sim.trace().collect();
    assert_eq!(entries.len(), 5);
    assert_eq!(sim.stats().trace_dropped, 15, "10 pings and 10 pongs recorded, 15 rotated out");
    let last = entries[4];
    assert_eq!((last.who.as_str(), last.at), ("client", Instant::from_millis(900)));
    assert!(last.what.starts_with("Ponged { from: 198.51.100.1:3478, seq: 9"), "{}", last.what);
    assert_eq!(sim.take_events(client).len(), 10);

    // Undrained events are bounded per host too.
    let (mut sim, _server, client) = pair(17, ms(100), 10);
    sim.set_event_capacity(4);
    sim.run_until_idle(Duration::from_secs(5));
    assert_eq!(sim.take_events(client).len(), 4);
    assert_eq!(sim.host_stats(client).events_dropped, 6);
    assert_eq!(sim.trace().filter(|e| e.who == "client").count(), 10);
}

#[test]
fn stalls_are_detected() {
    // A node whose timeout never moves on would spin forever at one instant.
    struct Spin;
    impl crate::Machine for Spin {
        type Event = ();
        fn handle_timeout(&mut self, _: Instant) {}
        fn poll_event(&mut self) -> Option<()> {
            None
        }
        fn poll_timeout(&self) -> Option<Instant> {
            Some(Instant::ZERO)
        }
    }
    impl crate::PathMachine for Spin {
        type Error = ();
        fn handle_receive(&mut self, _: Instant, _: Datagram<'_>) -> Result<(), ()> {
            Ok(())
        }
        fn poll_transmit(&mut self) -> Option<crate::Transmit<'_>> {
            None
        }
    }
    let mut sim = Sim::new(0);
    sim.add_host("spin", Net::Internet, &[ip(S1)], Spin).unwrap();
    assert!(!sim.run_until_idle(Duration::from_secs(1)));
    assert_eq!(sim.stats().stalls, 1);
}

#[test]
fn network_links_apply_inside_a_network_and_hop_links_win() {
    let mut w = nat_world(NatConfig::full_cone());
    // Default 10 ms per hop; the LAN behind the NAT is 1 ms.
    w.sim.set_network_link(Net::Behind(w.nat), LinkConfig::with_delay_only(ms(1)));
    let to = SocketAddr::new(ip(S1), 1000);
    mapped_seen(&mut w, to);
    assert_eq!(w.sim.drain_events::<ProbeEvent>(w.client).len(), 0);
    w.sim.with_node(w.client, |p: &mut Probe, now| p.send_ping(now, to)).unwrap();
    w.sim.run_until_idle(Duration::from_secs(1));
    assert_eq!(pongs(&mut w.sim, w.client)[0].3, ms(22));
    // A hop's own link beats the network link, and changes apply mid-run.
    w.sim.set_link(w.client, w.nat, LinkConfig::with_delay_only(ms(5)));
    w.sim.with_node(w.client, |p: &mut Probe, now| p.send_ping(now, to)).unwrap();
    w.sim.run_until_idle(Duration::from_secs(1));
    assert_eq!(pongs(&mut w.sim, w.client)[0].3, ms(26));
    // Cutting the path: everything is lost, and counted.
    w.sim.set_link(w.nat, w.s1, LinkConfig::default().with_loss(1.0));
    w.sim.with_node(w.client, |p: &mut Probe, now| p.send_ping(now, to)).unwrap();
    w.sim.run_until_idle(Duration::from_secs(1));
    assert!(pongs(&mut w.sim, w.client).is_empty());
    assert_eq!(w.sim.link_stats(w.nat, w.s1).lost, 1);
    assert_eq!(w.sim.link_stats(w.client, w.nat).sent, 4);
}

/// A bare-payload machine that answers `hello` with `hi`.
#[derive(Default)]
struct Greeter {
    reply: Option<&'static [u8]>,
    heard: Vec<Vec<u8>>,
}

impl crate::Machine for Greeter {
    type Event = usize;
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_event(&mut self) -> Option<usize> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

impl crate::DatagramMachine for Greeter {
    type Error = ();
    fn handle_receive(&mut self, _: Instant, datagram: &[u8]) -> Result<(), ()> {
        self.heard.push(datagram.to_vec());
        if datagram == b"hello" {
            self.reply = Some(b"hi");
        }
        Ok(())
    }
    fn poll_transmit(&mut self) -> Option<&[u8]> {
        self.reply.take()
    }
}

#[test]
fn datagram_machines_run_connected() {
    let mut sim = Sim::new(18);
    let (a, b) = (sa("198.51.100.1:1000"), sa("198.51.100.2:2000"));
    let ha = sim.add_host("a", Net::Internet, &[a.ip()], Connected::new(Greeter::default(), a, b)).unwrap();
    let hb = sim.add_host("b", Net::Internet, &[b.ip()], Probe::new(b)).unwrap();
    sim.send_from(hb, b, a, b"hello");
    sim.send_from(hb, sa("198.51.100.2:2001"), a, b"hello");
    sim.run_until_idle(Duration::from_secs(1));
    let node = sim.node::<Connected<Greeter>>(ha).unwrap();
    assert_eq!(node.machine().heard, [b"hello".to_vec()]);
    assert_eq!(node.wrong_peer(), 1);
    // The reply went from `a` to `b`: the probe rejects it as not a ping, and counts it.
    assert_eq!(sim.host_stats(hb).rejected, 1);
    assert_eq!(sim.node::<Probe>(hb).unwrap().rejected(), 1);
    assert_eq!(sim.link_stats(ha, hb).delivered, 1);
}

#[test]
fn ipv6_nat() {
    let mut sim = Sim::new(19);
    let server = sa("[2001:db8::1]:3478");
    sim.add_host("server", Net::Internet, &[server.ip()], Probe::new(server)).unwrap();
    let nat = sim.add_nat("nat66", Net::Internet, ip("2001:db8:1::1"), NatConfig::symmetric()).unwrap();
    let inside = sa("[fd00::2]:5000");
    let probe = Probe::new(inside).pinging(&[server], Instant::ZERO, Duration::from_secs(1)).rounds(1);
    let c = sim.add_host("client", Net::Behind(nat), &[inside.ip()], probe).unwrap();
    sim.run_until_idle(Duration::from_secs(1));
    let got = pongs(&mut sim, c);
    assert_eq!(got[0].2.ip(), ip("2001:db8:1::1"));
    assert_eq!(sim.nat_mapping(nat, inside, server), Some(got[0].2));
}

#[test]
fn sims_seeded_alike_run_alike() {
    let run = |seed: Seed| {
        let mut sim = Sim::from_seed(seed);
        sim.set_default_link(LinkConfig::default().with_jitter(ms(30)).with_loss(0.2));
        let server = sim.add_host("server", Net::Internet, &[sa(SERVER).ip()], Probe::new(sa(SERVER))).unwrap();
        let probe = Probe::new(sa(CLIENT)).pinging(&[sa(SERVER)], Instant::ZERO, ms(10)).rounds(50);
        sim.add_host("client", Net::Internet, &[sa(CLIENT).ip()], probe).unwrap();
        sim.run_until_idle(Duration::from_secs(5));
        (sim.trace_text(), sim.host_stats(server))
    };
    assert_eq!(run([1; 32]), run([1; 32]));
    assert_ne!(run([1; 32]).0, run([2; 32]).0);
}

#[test]
fn burst_loss_comes_in_runs() {
    let (mut sim, server, client) = pair(20, ms(10), 5000);
    sim.set_event_capacity(10_000);
    // Bursts start on 2 % of datagrams and last 5 datagrams on average: about 9 % lost, in runs.
    sim.set_link(client, server, LinkConfig::with_delay_only(ms(5)).with_burst_loss(0.02, 0.2));
    sim.run_until_idle(Duration::from_secs(100));
    let lost_stats = sim.link_stats(client, server).lost;
    let seqs: Vec<u32> = pings(&mut sim, server).into_iter().map(|p| p.2).collect();
    assert_eq!(seqs.len() as u64 + lost_stats, 5000);
    let gaps: Vec<u32> = seqs.windows(2).map(|w| w[1] - w[0] - 1).filter(|g| *g > 0).collect();
    let lost: u32 = gaps.iter().sum();
    assert!((250..=650).contains(&lost), "lost {lost}");
    let mean_run = f64::from(lost) / gaps.len() as f64;
    assert!(mean_run > 3.0, "losses should cluster, mean run {mean_run}");
}

#[test]
fn datagrams_in_flight_are_bounded_per_link() {
    let (mut sim, server, client) = pair(21, ms(10), 0);
    let mut config = LinkConfig::with_delay_only(ms(50));
    config.max_in_flight = 3;
    sim.set_link(client, server, config);
    for _ in 0..5 {
        sim.send_from(client, sa(CLIENT), sa(SERVER), b"ping 0");
    }
    assert_eq!(sim.in_flight(), 3);
    assert_eq!(sim.link_stats(client, server).queue_dropped, 2);
    assert!(sim.trace().any(|e| e.who == "client->server" && e.what.ends_with("queue full")));
    sim.run_until_idle(Duration::from_secs(1));
    assert_eq!(sim.host_stats(server).received, 3);
    // Once they landed the link takes more.
    sim.send_from(client, sa(CLIENT), sa(SERVER), b"ping 1");
    assert_eq!(sim.in_flight(), 1);
}
