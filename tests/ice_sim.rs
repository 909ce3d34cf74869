//! ICE agents on the crate's network simulator: every pair of NAT behaviours (RFC 4787 mapping ×
//! filtering) and public hosts, with server-reflexive gathering from a STUN server on the internet, against
//! the outcome RFC 8445 predicts; loss on the path; IPv6.

#![cfg(feature = "sim")]

use core::net::{IpAddr, SocketAddr};
use core::time::Duration;

use sansrtc::ice::{CandidateKind, Config, IceAgent, IceConnectionState, IceEvent, Role};
use sansrtc::sim::{Filtering, HostId, LinkConfig, Mapping, NatConfig, Net, Sim};
use sansrtc::stun::{Attribute, Class, Message, MessageBuilder};
use sansrtc::{Datagram, Instant, Machine, PathMachine, Transmit};

/// A minimal STUN server: answers Binding requests with XOR-MAPPED-ADDRESS (RFC 8489 §7.3.1).
#[derive(Debug, Default)]
struct StunServer {
    out: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    current: Vec<u8>,
}

impl Machine for StunServer {
    type Event = ();
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_event(&mut self) -> Option<()> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

impl PathMachine for StunServer {
    type Error = ();
    fn handle_receive(&mut self, _: Instant, d: Datagram<'_>) -> Result<(), ()> {
        let m = Message::new_checked(d.contents).map_err(|_| ())?;
        if m.class() != Class::Request {
            return Err(());
        }
        let mut buf = Vec::new();
        let mut b = MessageBuilder::response(&mut buf, &m, Class::Success).map_err(|_| ())?;
        b.add(Attribute::XorMappedAddress(d.source)).map_err(|_| ())?.fingerprint().map_err(|_| ())?;
        b.finish();
        self.out.push((d.destination, d.source, buf));
        Ok(())
    }
    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        if self.out.is_empty() {
            return None;
        }
        let (source, destination, bytes) = self.out.remove(0);
        self.current = bytes;
        Some(Transmit { source, destination, contents: &self.current })
    }
}

const STUN: &str = "198.51.100.1:3478";

/// Where a side sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Public,
    Nat(Mapping, Filtering),
}

impl Place {
    fn all() -> Vec<Place> {
        let mut v = vec![Place::Public];
        for m in [Mapping::EndpointIndependent, Mapping::AddressDependent, Mapping::AddressAndPortDependent] {
            for f in [Filtering::EndpointIndependent, Filtering::AddressDependent, Filtering::AddressAndPortDependent] {
                v.push(Place::Nat(m, f));
            }
        }
        v
    }

    fn filtering(self) -> Filtering {
        match self {
            Place::Public => Filtering::EndpointIndependent,
            Place::Nat(_, f) => f,
        }
    }
}

/// The outcome RFC 8445 predicts on these RFC 4787 behaviours (one public IP per NAT, random ports, no
/// relay). ICE succeeds when the two sides can settle on a mapping pair X (on A's NAT) and T (on B's) with
/// A's mapping towards T being X and B's towards X being T (responses must come from where the request
/// went), and each side can learn the other's end of it through the filters:
///
/// - address-and-port-dependent ("symmetric") mapping on both sides: every new destination makes a new
///   mapping, so no such pair exists;
/// - endpoint-independent on both: the server-reflexive candidates are that pair;
/// - EI on one side (say A), anything else on B: A's end is its server-reflexive address, which B knows;
///   B's end is B's mapping towards it, which A learns only if B's check gets through A's filter on that
///   mapping, i.e. unless A filters by address and port;
/// - otherwise (AD mapping on one side at least, the other AD or APD): neither end is signalled; one side
///   must let a check sent to its server-reflexive address in (EI filtering) and the other must then let
///   in the answer-side check from a new port of the same IP (not APD filtering).
fn predicted(a: Place, b: Place) -> bool {
    use Mapping::{AddressAndPortDependent as Apd, EndpointIndependent as Ei};
    let m = |p: Place| match p {
        Place::Public => Ei,
        Place::Nat(m, _) => m,
    };
    let (fa, fb) = (a.filtering(), b.filtering());
    let open = |f: Filtering| f == Filtering::EndpointIndependent;
    let not_apd = |f: Filtering| f != Filtering::AddressAndPortDependent;
    match (m(a), m(b)) {
        (Apd, Apd) => false,
        (Ei, Ei) => true,
        (Ei, _) => not_apd(fa),
        (_, Ei) => not_apd(fb),
        _ => (open(fb) && not_apd(fa)) || (open(fa) && not_apd(fb)),
    }
}

struct World {
    sim: Sim,
    hosts: [HostId; 2],
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn agent(sim: &mut Sim, role: Role, local: SocketAddr, config: Config) -> IceAgent {
    let mut a = IceAgent::new(Config { role, ..config }, sim.fork_rng());
    a.add_local_host(Instant::ZERO, local).unwrap();
    a.add_stun_server(Instant::ZERO, STUN.parse().unwrap()).unwrap();
    a.end_of_local_candidates(Instant::ZERO);
    a
}

fn world(seed: u64, places: [Place; 2], link: LinkConfig, config: Config) -> World {
    let mut sim = Sim::new(seed);
    sim.set_default_link(link);
    let stun: SocketAddr = STUN.parse().unwrap();
    sim.add_host("stun", Net::Internet, &[stun.ip()], StunServer::default()).unwrap();
    let mut hosts = Vec::new();
    for (i, place) in places.iter().enumerate() {
        let role = if i == 0 { Role::Controlling } else { Role::Controlled };
        let name = if i == 0 { "a" } else { "b" };
        let (net, local) = match place {
            Place::Public => {
                (Net::Internet, SocketAddr::new(ip(if i == 0 { "192.0.2.10" } else { "192.0.2.20" }), 5000))
            }
            Place::Nat(m, f) => {
                let public = ip(if i == 0 { "203.0.113.1" } else { "203.0.113.2" });
                let nat = sim.add_nat(&format!("nat-{name}"), Net::Internet, public, NatConfig::new(*m, *f)).unwrap();
                (Net::Behind(nat), SocketAddr::new(ip(if i == 0 { "10.0.1.2" } else { "10.0.2.2" }), 5000))
            }
        };
        let a = agent(&mut sim, role, local, config.clone());
        hosts.push(sim.add_host(name, net, &[local.ip()], a).unwrap());
    }
    let hosts = [hosts[0], hosts[1]];
    let mut w = World { sim, hosts };
    let creds: Vec<_> = hosts.iter().map(|h| w.sim.node::<IceAgent>(*h).unwrap().local_credentials().clone()).collect();
    w.sim.node_mut::<IceAgent>(hosts[0]).unwrap().set_remote_credentials(creds[1].clone());
    w.sim.node_mut::<IceAgent>(hosts[1]).unwrap().set_remote_credentials(creds[0].clone());
    w
}

/// Signals candidates between the agents (trickle) and returns both states.
fn signal(sim: &mut Sim, hosts: [HostId; 2]) -> [IceConnectionState; 2] {
    for side in 0..2 {
        let (me, peer) = (hosts[side], hosts[1 - side]);
        for (_, e) in sim.drain_events::<IceEvent>(me) {
            match e {
                IceEvent::LocalCandidate(c) => {
                    sim.with_node::<IceAgent, _>(peer, |a, now| a.add_remote_candidate(now, c).unwrap());
                }
                IceEvent::GatheringComplete => {
                    sim.with_node::<IceAgent, _>(peer, |a, now| a.end_of_remote_candidates(now));
                }
                _ => {}
            }
        }
    }
    let state = |h| sim.node::<IceAgent>(h).unwrap().state();
    [state(hosts[0]), state(hosts[1])]
}

impl World {
    fn agent(&self, side: usize) -> &IceAgent {
        self.sim.node::<IceAgent>(self.hosts[side]).unwrap()
    }

    fn run(&mut self, limit: Duration, done: impl Fn([IceConnectionState; 2]) -> bool) -> bool {
        let hosts = self.hosts;
        self.sim.run_until_cond(|sim| done(signal(sim, hosts)), limit)
    }
}

fn connected(s: IceConnectionState) -> bool {
    matches!(s, IceConnectionState::Connected | IceConnectionState::Completed)
}

#[test]
fn every_nat_combination_has_the_predicted_outcome() {
    let places = Place::all();
    let mut report = String::new();
    let mut wrong = Vec::new();
    for (i, a) in places.iter().enumerate() {
        for (j, b) in places.iter().enumerate() {
            let seed = (i * 16 + j) as u64;
            let link = LinkConfig::default().with_delay(Duration::from_millis(15));
            let mut w = world(seed, [*a, *b], link, Config::default());
            let expect = predicted(*a, *b);
            let settled = w.run(Duration::from_secs(40), |s| {
                s.iter().all(|s| connected(*s)) || s.iter().all(|s| *s == IceConnectionState::Failed)
            });
            let states = [w.agent(0).state(), w.agent(1).state()];
            let ok = states.iter().all(|s| connected(*s));
            let at = w.sim.now();
            report.push_str(&format!("{a:?} <-> {b:?}: {states:?} at {at}\n"));
            assert!(settled, "{a:?} <-> {b:?} never settled: {states:?}");
            if ok != expect {
                wrong.push(format!("{a:?} <-> {b:?}: expected {expect}, got {states:?}"));
            }
            if ok {
                let (al, ar) = w.agent(0).selected_pair().unwrap();
                let (bl, br) = w.agent(1).selected_pair().unwrap();
                assert_eq!(al.base.port(), 5000);
                assert_eq!(bl.base.port(), 5000);
                // Each side sends to an address that leads to the other (a NAT mapping or a public host).
                let _ = (ar, br);
            } else {
                // Failed within the failed timeout (30 s after checks began), never hanging.
                assert!(at <= Instant::from_secs(31), "{a:?} <-> {b:?} failed only at {at}");
            }
        }
    }
    assert!(wrong.is_empty(), "{}\n{report}", wrong.join("\n"));
    // Sanity of the matrix itself: both outcomes occur.
    assert!(places.iter().any(|a| places.iter().any(|b| !predicted(*a, *b))));
    insta::assert_snapshot!("ice_nat_matrix", report);
}

#[test]
fn server_reflexive_candidates_are_gathered_through_a_nat() {
    let places = [Place::Nat(Mapping::EndpointIndependent, Filtering::AddressAndPortDependent), Place::Public];
    let mut w = world(3, places, LinkConfig::default().with_delay(Duration::from_millis(10)), Config::default());
    w.run(Duration::from_secs(5), |s| s.iter().all(|s| connected(*s)));
    let locals = w.agent(0).local_candidates();
    let srflx: Vec<_> = locals.iter().filter(|c| c.kind == CandidateKind::ServerReflexive).collect();
    assert_eq!(srflx.len(), 1, "{locals:?}");
    assert_eq!(srflx[0].address.ip(), ip("203.0.113.1"));
    assert_eq!(srflx[0].base, "10.0.1.2:5000".parse().unwrap());
    assert_eq!(srflx[0].related, Some(srflx[0].base));
}

#[test]
fn loss_on_the_simulated_path_still_connects() {
    let places = [Place::Nat(Mapping::EndpointIndependent, Filtering::AddressDependent), Place::Public];
    for (loss, seed) in [(0.3, 1u64), (0.3, 2), (0.8, 3), (0.8, 4)] {
        // Loss is set per hop; a path through a NAT has two hops each way, so the path loss L needs a hop
        // loss of 1 - sqrt(1 - L).
        let hop_loss = 1.0 - (1.0f64 - loss).sqrt();
        let patient = Config {
            consent_timeout: Duration::from_secs(300),
            check_max_transmissions: 60,
            check_rto_max: Duration::from_secs(1),
            gather_max_transmissions: 30,
            failed_timeout: Duration::from_secs(600),
            ..Config::default()
        };
        let link = LinkConfig::default().with_delay(Duration::from_millis(20)).with_loss(hop_loss);
        let mut w = world(seed, places, link, patient);
        let ok = w.run(Duration::from_secs(400), |s| s.iter().all(|s| connected(*s)));
        assert!(ok, "loss {loss} seed {seed}: {:?}", [w.agent(0).state(), w.agent(1).state()]);
    }
}

#[test]
fn duplication_and_reordering_on_the_simulated_path() {
    let places = [Place::Nat(Mapping::EndpointIndependent, Filtering::EndpointIndependent), Place::Public];
    let link = LinkConfig::default()
        .with_delay(Duration::from_millis(20))
        .with_jitter(Duration::from_millis(40))
        .with_duplicate(0.3)
        .with_reorder(0.3, Duration::from_millis(100));
    let mut w = world(9, places, link, Config::default());
    assert!(w.run(Duration::from_secs(10), |s| s.iter().all(|s| connected(*s))));
    w.run(Duration::from_secs(60), |_| false);
    for side in 0..2 {
        assert!(connected(w.agent(side).state()), "{:?}", w.agent(side).state());
        let d = w.agent(side).stats().discarded;
        assert_eq!(d.total(), d.unknown_transaction, "only duplicates of finished transactions: {d:?}");
    }
}

#[test]
fn nat_1to1_host_candidate_is_reached_at_its_public_address() {
    use sansrtc::ice::Nat1To1;
    use sansrtc::sim::PortAllocation;
    let mut sim = Sim::new(11);
    sim.set_default_link(LinkConfig::default().with_delay(Duration::from_millis(10)));
    // A static 1:1 NAT: endpoint-independent, port-preserving.
    let nat_config = NatConfig::full_cone().with_port_allocation(PortAllocation::Preserve);
    let nat = sim.add_nat("nat-a", Net::Internet, ip("203.0.113.1"), nat_config).unwrap();
    let a_local: SocketAddr = "10.0.1.2:5000".parse().unwrap();
    let b_local: SocketAddr = "192.0.2.20:5000".parse().unwrap();
    let cfg_a = Config {
        role: Role::Controlled,
        nat_1to1: vec![Nat1To1 { local: None, public: ip("203.0.113.1") }],
        ..Config::default()
    };
    let mut a = IceAgent::new(cfg_a, sim.fork_rng());
    let host = a.add_local_host(Instant::ZERO, a_local).unwrap().unwrap();
    assert_eq!(host.address, "203.0.113.1:5000".parse().unwrap());
    let mut b = IceAgent::new(Config::default(), sim.fork_rng());
    b.add_local_host(Instant::ZERO, b_local).unwrap();
    a.set_remote_credentials(b.local_credentials().clone());
    b.set_remote_credentials(a.local_credentials().clone());
    let ha = sim.add_host("a", Net::Behind(nat), &[a_local.ip()], a).unwrap();
    let hb = sim.add_host("b", Net::Internet, &[b_local.ip()], b).unwrap();
    let hosts = [ha, hb];
    assert!(sim.run_until_cond(|sim| signal(sim, hosts).iter().all(|s| connected(*s)), Duration::from_secs(10)));
    let b = sim.node::<IceAgent>(hb).unwrap();
    let (_, remote) = b.selected_pair().unwrap();
    assert_eq!((remote.kind, remote.address), (CandidateKind::Host, host.address));
    let (local, _) = sim.node::<IceAgent>(ha).unwrap().selected_pair().unwrap();
    assert_eq!(local.base, a_local, "A sends from its private socket");
}

/// Two agents on given addresses and networks, no STUN server; candidates signalled as they come.
fn pair_on(sim: &mut Sim, a: (Net, SocketAddr, Config), b: (Net, SocketAddr, Config)) -> [HostId; 2] {
    let mut agents = Vec::new();
    for (net, local, cfg) in [a, b] {
        let mut agent = IceAgent::new(cfg, sim.fork_rng());
        agent.add_local_host(Instant::ZERO, local).unwrap();
        agent.end_of_local_candidates(Instant::ZERO);
        agents.push((net, local, agent));
    }
    let creds: Vec<_> = agents.iter().map(|(_, _, a)| a.local_credentials().clone()).collect();
    agents[0].2.set_remote_credentials(creds[1].clone());
    agents[1].2.set_remote_credentials(creds[0].clone());
    let mut hosts = Vec::new();
    for (i, (net, local, agent)) in agents.into_iter().enumerate() {
        hosts.push(sim.add_host(if i == 0 { "a" } else { "b" }, net, &[local.ip()], agent).unwrap());
    }
    [hosts[0], hosts[1]]
}

#[test]
fn lite_server_on_the_internet_with_a_full_client_behind_a_nat() {
    let mut sim = Sim::new(21);
    sim.set_default_link(LinkConfig::default().with_delay(Duration::from_millis(15)));
    let nat = sim.add_nat("nat", Net::Internet, ip("203.0.113.1"), NatConfig::symmetric()).unwrap();
    let client =
        (Net::Behind(nat), "10.0.1.2:5000".parse().unwrap(), Config { role: Role::Controlled, ..Config::default() });
    let server = (Net::Internet, "192.0.2.20:443".parse().unwrap(), Config { lite: true, ..Config::default() });
    let hosts = pair_on(&mut sim, client, server);
    assert!(sim.run_until_cond(|sim| signal(sim, hosts).iter().all(|s| connected(*s)), Duration::from_secs(10)));
    let full = sim.node::<IceAgent>(hosts[0]).unwrap();
    assert_eq!(full.role(), Role::Controlling, "the full agent takes control facing a lite one");
    let lite = sim.node::<IceAgent>(hosts[1]).unwrap();
    assert_eq!(lite.stats().checks_sent, 0);
    // The lite side learnt the client's NAT mapping as a peer-reflexive candidate and uses it.
    let (_, remote) = lite.selected_pair().unwrap();
    assert_eq!((remote.kind, remote.address.ip()), (CandidateKind::PeerReflexive, ip("203.0.113.1")));
    // And the session stays up on the full side's consent checks.
    sim.run_for(Duration::from_secs(60));
    let states = signal(&mut sim, hosts);
    assert!(states.iter().all(|s| connected(*s)), "{states:?}");
}

#[test]
fn ipv6_only_on_the_simulator() {
    let mut sim = Sim::new(22);
    sim.set_default_link(LinkConfig::default().with_delay(Duration::from_millis(15)));
    let a = (Net::Internet, "[2001:db8::1]:5000".parse().unwrap(), Config::default());
    let b =
        (Net::Internet, "[2001:db8::2]:5000".parse().unwrap(), Config { role: Role::Controlled, ..Config::default() });
    let hosts = pair_on(&mut sim, a, b);
    assert!(sim.run_until_cond(|sim| signal(sim, hosts).iter().all(|s| connected(*s)), Duration::from_secs(5)));
    let (l, r) = sim.node::<IceAgent>(hosts[0]).unwrap().selected_pair().unwrap();
    assert!(l.base.is_ipv6() && r.address.is_ipv6());
}

#[test]
fn consent_is_lost_when_the_simulated_path_dies() {
    let mut sim = Sim::new(23);
    sim.set_default_link(LinkConfig::default().with_delay(Duration::from_millis(15)));
    let nat = sim.add_nat("nat", Net::Internet, ip("203.0.113.1"), NatConfig::port_restricted_cone()).unwrap();
    let a = (Net::Behind(nat), "10.0.1.2:5000".parse().unwrap(), Config::default());
    let b = (Net::Internet, "192.0.2.20:5000".parse().unwrap(), Config { role: Role::Controlled, ..Config::default() });
    let hosts = pair_on(&mut sim, a, b);
    assert!(sim.run_until_cond(|sim| signal(sim, hosts).iter().all(|s| connected(*s)), Duration::from_secs(5)));
    sim.run_for(Duration::from_secs(10));
    let _ = sim.drain_events::<IceEvent>(hosts[0]);
    // The path dies: every hop loses everything from now on.
    sim.set_default_link(LinkConfig::default().with_delay(Duration::from_millis(15)).with_loss(1.0));
    let cut = sim.now();
    let mut seen = Vec::new();
    sim.run_until_cond(
        |sim| {
            for (t, e) in sim.drain_events::<IceEvent>(hosts[0]) {
                if let IceEvent::StateChanged(s) = e {
                    seen.push((t - cut, s));
                }
            }
            seen.last().is_some_and(|(_, s)| *s == IceConnectionState::Failed)
        },
        Duration::from_secs(60),
    );
    assert_eq!(
        seen.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
        [IceConnectionState::Disconnected, IceConnectionState::Failed]
    );
    assert!(seen[0].0 <= Duration::from_secs(5), "{seen:?}");
    assert!(seen[1].0 > Duration::from_secs(24) && seen[1].0 <= Duration::from_secs(30), "{seen:?}");
    let a = sim.node_mut::<IceAgent>(hosts[0]).unwrap();
    assert_eq!(a.send(b"x").unwrap_err(), sansrtc::ice::ApiError::ConsentExpired);
}

#[test]
fn restart_behind_a_nat_keeps_data_flowing() {
    let mut sim = Sim::new(24);
    sim.set_default_link(LinkConfig::default().with_delay(Duration::from_millis(15)));
    let nat = sim.add_nat("nat", Net::Internet, ip("203.0.113.1"), NatConfig::port_restricted_cone()).unwrap();
    let a = (Net::Behind(nat), "10.0.1.2:5000".parse().unwrap(), Config::default());
    let b = (Net::Internet, "192.0.2.20:5000".parse().unwrap(), Config { role: Role::Controlled, ..Config::default() });
    let hosts = pair_on(&mut sim, a, b);
    assert!(sim.run_until_cond(|sim| signal(sim, hosts).iter().all(|s| connected(*s)), Duration::from_secs(5)));
    let before = sim.node::<IceAgent>(hosts[1]).unwrap().selected_pair().unwrap();
    // Both sides restart (as after an offer/answer with new ufrags) and swap the new credentials.
    for h in hosts {
        sim.with_node::<IceAgent, _>(h, |a, now| a.restart(now, None));
    }
    let creds: Vec<_> = hosts.iter().map(|h| sim.node::<IceAgent>(*h).unwrap().local_credentials().clone()).collect();
    sim.node_mut::<IceAgent>(hosts[0]).unwrap().set_remote_credentials(creds[1].clone());
    sim.node_mut::<IceAgent>(hosts[1]).unwrap().set_remote_credentials(creds[0].clone());
    // Data from B every 20 ms through the restart, on whatever pair B has selected.
    let received_before = sim.node::<IceAgent>(hosts[0]).unwrap().stats().data_received;
    let mut sent = 0;
    for _ in 0..100 {
        let t = sim.with_node::<IceAgent, _>(hosts[1], |b, _| b.send(&[23, 1]).map(|t| (t.source, t.destination)));
        let (src, dst) = t.unwrap().expect("B can always send during the restart");
        sim.send_from(hosts[1], src, dst, &[23, 1]);
        sent += 1;
        sim.run_for(Duration::from_millis(20));
        signal(&mut sim, hosts);
    }
    sim.run_for(Duration::from_millis(100)); // the last ones are still on the wire
    let received = sim.node::<IceAgent>(hosts[0]).unwrap().stats().data_received - received_before;
    assert_eq!(received, sent, "no datagram lost to the restart");
    // The new generation re-selected a pair (the same path here) and both sides are connected again.
    let states = signal(&mut sim, hosts);
    assert!(states.iter().all(|s| connected(*s)), "{states:?}");
    let after = sim.node::<IceAgent>(hosts[1]).unwrap().selected_pair().unwrap();
    assert_eq!(after.1.address, before.1.address);
    let checks = sim.node::<IceAgent>(hosts[0]).unwrap().pairs().filter(|p| p.3).count();
    assert_eq!(checks, 1, "one nominated pair in the new generation");
}
