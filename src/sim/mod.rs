//! A deterministic network simulator with virtual time (feature `sim`).
//!
//! ICE, TURN, DTLS, SCTP and the peer connection are tested on it: a [`Sim`] runs real state machines over
//! a simulated network where every delay, loss and NAT decision follows one seed.
//!
//! ## The pieces
//!
//! - **Hosts** ([`Sim::add_host`]) have one or more IP addresses (IPv4 and/or IPv6) and run a **node**:
//!   any [`PathMachine`](crate::PathMachine) whose events are `Debug`, through the object-safe [`Node`]
//!   adapter, so ICE agents, TURN and STUN servers and peer connections share one simulation. A
//!   [`DatagramMachine`](crate::DatagramMachine) (DTLS, SCTP) runs wrapped in [`Connected`], bound to a
//!   local and a remote address. A node may send from any port of its host's addresses and receives
//!   every datagram sent to them.
//! - **Networks** ([`Net`]): the public [`Net::Internet`] and the private side of each NAT,
//!   [`Net::Behind`].
//! - **NAT boxes** ([`Sim::add_nat`], [`NatConfig`]) with RFC 4787 mapping and filtering behaviours
//!   (presets from full cone to symmetric), idle mapping timeouts, port allocation with optional port
//!   preservation, and optional hairpinning. A NAT's outside address sits on the internet or, for nested
//!   NATs, behind another NAT. Inbound datagrams the filter rejects are dropped and counted.
//! - **Links** ([`LinkConfig`]): a datagram travels hop by hop between **endpoints** ([`Endpoint`]: hosts
//!   and NATs); a client behind a NAT reaching a public server takes two hops, client→NAT and
//!   NAT→server. Each direction of each hop has delay, jitter, loss, duplication, reordering and an
//!   optional bandwidth cap with a drop-tail queue. A hop uses, most specific first: its own link
//!   ([`Sim::set_link`]), its network's link ([`Sim::set_network_link`], e.g. a fast LAN behind a NAT),
//!   or the default link ([`Sim::set_default_link`], perfect unless set). Links can be changed mid-run.
//!
//! ## Running
//!
//! The **clock is virtual**: [`Sim::step`] jumps to the next deadline (the earliest datagram arrival or
//! node `poll_timeout`) and drives every node with the loop of [`crate::machine`]: `handle_receive` for
//! each arrival, `handle_timeout` when due, drain `poll_transmit`, drain `poll_event`. Time never goes
//! back. [`Sim::run_until`], [`Sim::run_for`], [`Sim::run_until_idle`] and [`Sim::run_until_cond`] loop
//! over steps; a run at one instant that never ends (a zero-delay loop, a timer that never moves) is
//! stopped and counted ([`SimStats::stalls`]).
//!
//! A test reaches a node mid-run with [`Sim::node_mut`] or [`Sim::with_node`] (which also passes `now`);
//! the simulator drains what the call queued at the next step, at the same virtual time.
//!
//! ## Results
//!
//! Node events are recorded in the [trace](Sim::trace) (virtual time, host name, `Debug` text) together
//! with every drop (lost, queue full, filtered, no mapping, no route) and, with
//! [`Sim::trace_packets`], every delivery and translation. They are also kept per host, typed, until the
//! test takes them ([`Sim::drain_events`]). Counters per link ([`LinkStats`]), NAT ([`NatStats`]), host
//! ([`HostStats`]) and simulation ([`SimStats`]) count every delivery and drop.
//!
//! All randomness (loss, jitter, duplication, NAT ports) comes from the seed given to [`Sim::new`]; seed
//! nodes from it too with [`Sim::fork_rng`]. The same seed and setup give the same trace, byte for byte.
//! Memory is bounded: link queues and datagrams in flight per link, events per host, NAT mappings, and
//! the trace (a ring buffer counting what it drops).
//!
//! [`Probe`] is a small "what's my address" node for tests and demos.
//!
//! ## Example
//!
//! ```
//! use core::net::{IpAddr, SocketAddr};
//! use core::time::Duration;
//! use sansrtc::Instant;
//! use sansrtc::sim::{LinkConfig, Net, NatConfig, Probe, ProbeEvent, Sim};
//!
//! # fn main() -> Result<(), sansrtc::sim::SimError> {
//! let mut sim = Sim::new(7);
//! sim.set_default_link(LinkConfig::default().with_delay(Duration::from_millis(20)));
//!
//! // A public reflector, and a client behind a full-cone NAT pinging it once.
//! let server: SocketAddr = "198.51.100.1:3478".parse().unwrap();
//! sim.add_host("server", Net::Internet, &[server.ip()], Probe::new(server))?;
//! let nat = sim.add_nat("nat", Net::Internet, "203.0.113.1".parse().unwrap(), NatConfig::full_cone())?;
//! let local: SocketAddr = "192.168.1.2:5000".parse().unwrap();
//! let probe = Probe::new(local).pinging(&[server], Instant::ZERO, Duration::from_secs(1)).rounds(1);
//! let client = sim.add_host("client", Net::Behind(nat), &[local.ip()], probe)?;
//!
//! sim.run_until_idle(Duration::from_secs(10));
//! let events = sim.drain_events::<ProbeEvent>(client);
//! let [(at, ProbeEvent::Ponged { mapped, .. })] = events.as_slice() else { panic!("{events:?}") };
//! assert_eq!(mapped.ip(), "203.0.113.1".parse::<IpAddr>().unwrap()); // the NAT's address
//! assert_eq!(*at, Instant::from_millis(80)); // two hops each way, 20 ms per hop
//! # Ok(())
//! # }
//! ```

mod error;
mod link;
mod nat;
mod node;
pub mod pipe;
mod probe;
mod trace;

#[cfg(test)]
mod tests;

pub use error::{ConnectedError, ProbeError, SimError};
pub use link::{LinkConfig, LinkStats};
pub use nat::{Filtering, Mapping, NatConfig, NatStats, PortAllocation};
pub use node::{Connected, Node, NodeEvent};
pub use probe::{Probe, ProbeEvent};
pub use trace::TraceEntry;

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BinaryHeap, VecDeque};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::any::Any;
use core::cmp::{Ordering, Reverse};
use core::fmt;
use core::net::{IpAddr, SocketAddr};
use core::time::Duration;

use crate::machine::Datagram;
use crate::rand::{Seed, SeededRng};
use crate::time::Instant;
use link::{Link, LinkDrop};
use nat::{Nat, NatDrop, Outbound};
use trace::Trace;

const TARGET: &str = "sansrtc::sim";

/// Events kept per host until the test drains them.
const EVENTS_PER_HOST: usize = 4096;
/// Trace entries kept by default.
const TRACE_CAPACITY: usize = 65_536;
/// Transmits taken from one node in one step.
const MAX_BURST: usize = 65_536;
/// Datagram buffers kept for reuse.
const SPARE_BUFFERS: usize = 1024;
/// Steps at one instant before the simulator declares a stall (a zero-delay loop or a node whose timeout
/// never moves on).
const MAX_STEPS_PER_INSTANT: u32 = 100_000;

/// A host in a [`Sim`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId(usize);

/// A NAT box in a [`Sim`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NatId(usize);

/// A network: the public internet or the private side of a NAT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Net {
    /// The public network every NAT's outside ultimately reaches.
    Internet,
    /// The private network behind a NAT.
    Behind(NatId),
}

/// One end of a link hop: a host or a NAT box.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// A host.
    Host(HostId),
    /// A NAT box (both its inside and its outside side).
    Nat(NatId),
}

impl From<HostId> for Endpoint {
    fn from(h: HostId) -> Self {
        Endpoint::Host(h)
    }
}

impl From<NatId> for Endpoint {
    fn from(n: NatId) -> Self {
        Endpoint::Nat(n)
    }
}

/// What happened on one host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostStats {
    /// Datagrams handed to the node.
    pub received: u64,
    /// Of those, datagrams the node rejected (its `handle_receive` returned an error).
    pub rejected: u64,
    /// Datagrams the node sent.
    pub sent: u64,
    /// Datagrams the node sent from an address its host does not have (dropped).
    pub bad_source: u64,
    /// Events dropped because the test did not drain them (the trace still has them).
    pub events_dropped: u64,
}

/// Simulation-wide counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SimStats {
    /// Steps taken.
    pub steps: u64,
    /// Datagrams with no route to their destination (dropped).
    pub unroutable: u64,
    /// Times a run stopped because the simulation made no progress in virtual time.
    pub stalls: u64,
    /// Trace entries dropped from the ring buffer.
    pub trace_dropped: u64,
}

struct Host {
    name: String,
    net: Net,
    addrs: Vec<IpAddr>,
    node: Box<dyn Node>,
    events: VecDeque<NodeEvent>,
    stats: HostStats,
}

/// Where a datagram in flight is going.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arrive {
    Host(usize),
    /// A NAT's inside: translate and send out.
    NatInside(usize),
    /// A NAT's outside: filter and send in.
    NatOutside(usize),
}

struct Packet {
    at: Instant,
    seq: u64,
    hop: (Endpoint, Endpoint),
    arrive: Arrive,
    src: SocketAddr,
    dst: SocketAddr,
    data: Vec<u8>,
}

impl PartialEq for Packet {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Packet {}
impl PartialOrd for Packet {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Packet {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The simulator. See the [module documentation](self).
pub struct Sim {
    now: Instant,
    rng: SeededRng,
    hosts: Vec<Host>,
    nats: Vec<Nat>,
    default_link: LinkConfig,
    network_links: BTreeMap<Net, LinkConfig>,
    links: BTreeMap<(Endpoint, Endpoint), LinkSlot>,
    /// The network each used hop crosses.
    hop_net: BTreeMap<(Endpoint, Endpoint), Net>,
    in_flight: BinaryHeap<Reverse<Packet>>,
    seq: u64,
    poked: bool,
    trace: Trace,
    trace_packets: bool,
    event_capacity: usize,
    stats: SimStats,
    spare: Vec<Vec<u8>>,
    last_step_at: Instant,
    steps_at_instant: u32,
}

impl fmt::Debug for Sim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sim")
            .field("now", &self.now)
            .field("hosts", &self.hosts.len())
            .field("nats", &self.nats.len())
            .field("in_flight", &self.in_flight.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Sim {
    /// An empty simulation at [`Instant::ZERO`] whose randomness all derives from `seed`. The default
    /// link is perfect (no delay, no loss); see [`Sim::set_default_link`].
    pub fn new(seed: u64) -> Self {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        bytes[8..16].copy_from_slice(b"sansrtc!");
        Sim::from_seed(bytes)
    }

    /// An empty simulation whose randomness all derives from a full 32-byte seed.
    pub fn from_seed(seed: Seed) -> Self {
        Sim {
            now: Instant::ZERO,
            rng: SeededRng::from_seed(seed),
            hosts: Vec::new(),
            nats: Vec::new(),
            default_link: LinkConfig::default(),
            network_links: BTreeMap::new(),
            links: BTreeMap::new(),
            hop_net: BTreeMap::new(),
            in_flight: BinaryHeap::new(),
            seq: 0,
            poked: false,
            trace: Trace::new(TRACE_CAPACITY),
            trace_packets: false,
            event_capacity: EVENTS_PER_HOST,
            stats: SimStats::default(),
            spare: Vec::new(),
            last_step_at: Instant::ZERO,
            steps_at_instant: 0,
        }
    }

    /// A generator forked from the simulation's seed, for seeding nodes so the whole run follows one seed.
    pub fn fork_rng(&mut self) -> SeededRng {
        self.rng.fork()
    }

    /// Virtual time now.
    pub fn now(&self) -> Instant {
        self.now
    }

    // ---- building -------------------------------------------------------------------------------------

    fn address_in_use(&self, net: Net, ip: IpAddr) -> bool {
        self.hosts.iter().any(|h| h.net == net && h.addrs.contains(&ip))
            || self.nats.iter().any(|n| n.outside == net && n.public_ip == ip)
    }

    fn check_net(&self, net: Net) -> Result<(), SimError> {
        match net {
            Net::Behind(NatId(n)) if n >= self.nats.len() => Err(SimError::UnknownNat),
            _ => Ok(()),
        }
    }

    /// Adds a host on `net` with addresses `addrs` running `node`. The node sends from any
    /// `SocketAddr` on these addresses and receives every datagram sent to them, whatever the port.
    pub fn add_host(&mut self, name: &str, net: Net, addrs: &[IpAddr], node: impl Node) -> Result<HostId, SimError> {
        self.check_net(net)?;
        if addrs.is_empty() {
            return Err(SimError::NoAddress);
        }
        if let Some(ip) = addrs.iter().find(|ip| self.address_in_use(net, **ip)) {
            return Err(SimError::AddressInUse(*ip));
        }
        self.hosts.push(Host {
            name: name.into(),
            net,
            addrs: addrs.to_vec(),
            node: Box::new(node),
            events: VecDeque::new(),
            stats: HostStats::default(),
        });
        self.poked = true;
        Ok(HostId(self.hosts.len() - 1))
    }

    /// Adds a NAT whose outside has `public_ip` on `outside` (the internet, or another NAT's inside for
    /// nested NATs). Put hosts behind it with [`Net::Behind`].
    pub fn add_nat(
        &mut self,
        name: &str,
        outside: Net,
        public_ip: IpAddr,
        config: NatConfig,
    ) -> Result<NatId, SimError> {
        self.check_net(outside)?;
        if self.address_in_use(outside, public_ip) {
            return Err(SimError::AddressInUse(public_ip));
        }
        let rng = self.rng.fork();
        self.nats.push(Nat::new(name.into(), public_ip, outside, config, rng));
        Ok(NatId(self.nats.len() - 1))
    }

    /// Sets the link used by every hop with no link of its own and no network link (hops already used
    /// keep their counters and take the new settings).
    pub fn set_default_link(&mut self, config: LinkConfig) {
        for slot in self.links.values_mut().filter(|l| l.source == LinkSource::Default) {
            slot.link.set_config(config.clone());
        }
        self.default_link = config;
    }

    /// Sets the link used by every hop within `net` (for example a fast LAN behind a NAT) that has no link
    /// of its own. Takes precedence over the default link.
    pub fn set_network_link(&mut self, net: Net, config: LinkConfig) {
        // Hops in `net` already used, unless they have a link of their own, take the new settings.
        for (hop, slot) in self.links.iter_mut() {
            if slot.source != LinkSource::Hop && self.hop_net.get(hop) == Some(&net) {
                slot.source = LinkSource::Network(net);
                slot.link.set_config(config.clone());
            }
        }
        self.network_links.insert(net, config);
    }

    /// Sets the link for hops from `from` to `to` (one direction); it takes precedence over network and
    /// default links, and can be changed mid-run (for example to cut a path with a loss of 1).
    pub fn set_link(&mut self, from: impl Into<Endpoint>, to: impl Into<Endpoint>, config: LinkConfig) {
        let key = (from.into(), to.into());
        let rng = &mut self.rng;
        let slot = self
            .links
            .entry(key)
            .or_insert_with(|| LinkSlot { link: Link::new(config.clone(), rng.fork()), source: LinkSource::Hop });
        slot.source = LinkSource::Hop;
        slot.link.set_config(config);
    }

    /// Sets the same link for both directions between `a` and `b`.
    pub fn set_link_both(&mut self, a: impl Into<Endpoint>, b: impl Into<Endpoint>, config: LinkConfig) {
        let (a, b) = (a.into(), b.into());
        self.set_link(a, b, config.clone());
        self.set_link(b, a, config);
    }

    /// Also records every delivery in the trace (drops are always recorded).
    pub fn trace_packets(&mut self, on: bool) {
        self.trace_packets = on;
    }

    /// Keeps at most `capacity` undrained events per host (default 4096); more are dropped and counted in
    /// [`HostStats::events_dropped`] (the trace still records them).
    pub fn set_event_capacity(&mut self, capacity: usize) {
        self.event_capacity = capacity;
    }

    /// Keeps at most `capacity` trace entries (oldest dropped first, counted in [`SimStats`]).
    pub fn set_trace_capacity(&mut self, capacity: usize) {
        self.trace.set_capacity(capacity);
    }

    // ---- reaching nodes and results -------------------------------------------------------------------

    /// The node on `host` as its concrete type, or `None` if it is another type.
    pub fn node<T: Any>(&self, host: HostId) -> Option<&T> {
        self.hosts.get(host.0)?.node.sim_as_any().downcast_ref()
    }

    /// The node on `host` as its concrete type, to call its API mid-run. What the call queues is sent at
    /// the next step, at the current virtual time.
    pub fn node_mut<T: Any>(&mut self, host: HostId) -> Option<&mut T> {
        self.poked = true;
        self.hosts.get_mut(host.0)?.node.sim_as_any_mut().downcast_mut()
    }

    /// Runs `f` on the node on `host` (if it is a `T`) with the current virtual time, for API calls that
    /// take `now`, and returns its result. What the call queues is sent at the next step.
    pub fn with_node<T: Any, R>(&mut self, host: HostId, f: impl FnOnce(&mut T, Instant) -> R) -> Option<R> {
        let now = self.now;
        self.node_mut(host).map(|node| f(node, now))
    }

    /// Takes the events `host`'s node reported since the last drain, with when they were collected.
    /// Events of another type than `E` are dropped.
    pub fn drain_events<E: 'static>(&mut self, host: HostId) -> Vec<(Instant, E)> {
        self.take_events(host).into_iter().filter_map(|e| e.event.downcast::<E>().ok().map(|ev| (e.at, *ev))).collect()
    }

    /// Takes the events `host`'s node reported since the last drain, untyped.
    pub fn take_events(&mut self, host: HostId) -> Vec<NodeEvent> {
        self.hosts.get_mut(host.0).map(|h| h.events.drain(..).collect()).unwrap_or_default()
    }

    /// The host's name.
    pub fn host_name(&self, host: HostId) -> &str {
        self.hosts.get(host.0).map_or("", |h| h.name.as_str())
    }

    /// The host's addresses.
    pub fn host_addrs(&self, host: HostId) -> &[IpAddr] {
        self.hosts.get(host.0).map_or(&[], |h| h.addrs.as_slice())
    }

    /// The host's counters.
    pub fn host_stats(&self, host: HostId) -> HostStats {
        self.hosts.get(host.0).map(|h| h.stats).unwrap_or_default()
    }

    /// The counters of the hop from `from` to `to` (zero if nothing has used it).
    pub fn link_stats(&self, from: impl Into<Endpoint>, to: impl Into<Endpoint>) -> LinkStats {
        self.links.get(&(from.into(), to.into())).map(|l| l.link.stats).unwrap_or_default()
    }

    /// The NAT's counters.
    pub fn nat_stats(&self, nat: NatId) -> NatStats {
        self.nats.get(nat.0).map(|n| n.stats).unwrap_or_default()
    }

    /// Mappings alive on the NAT now.
    pub fn nat_mappings(&self, nat: NatId) -> usize {
        self.nats.get(nat.0).map_or(0, |n| n.live_mappings(self.now))
    }

    /// The external address the NAT maps `internal` to when sending to `remote`, if that mapping is alive.
    pub fn nat_mapping(&self, nat: NatId, internal: SocketAddr, remote: SocketAddr) -> Option<SocketAddr> {
        self.nats.get(nat.0)?.mapping_for(self.now, internal, remote)
    }

    /// The NAT's public address.
    pub fn nat_public_ip(&self, nat: NatId) -> Option<IpAddr> {
        self.nats.get(nat.0).map(|n| n.public_ip)
    }

    /// Simulation-wide counters.
    pub fn stats(&self) -> SimStats {
        SimStats { trace_dropped: self.trace.dropped(), ..self.stats }
    }

    /// The trace, oldest first.
    pub fn trace(&self) -> impl Iterator<Item = &TraceEntry> {
        self.trace.entries()
    }

    /// The trace as text, one entry per line.
    pub fn trace_text(&self) -> String {
        let mut out = String::new();
        for entry in self.trace.entries() {
            out.push_str(&format!("{entry}\n"));
        }
        out
    }

    /// Datagrams travelling now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Sends a datagram as if `host`'s node had (for tests injecting traffic). `src` must be one of the
    /// host's addresses.
    pub fn send_from(&mut self, host: HostId, src: SocketAddr, dst: SocketAddr, data: &[u8]) {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(data);
        self.host_sends(host.0, src, dst, buf);
    }

    // ---- running --------------------------------------------------------------------------------------

    /// When the next step would run: the earliest arrival or node deadline (never before now), or `None`
    /// when nothing is pending.
    pub fn next_deadline(&self) -> Option<Instant> {
        let arrival = self.in_flight.peek().map(|p| p.0.at);
        let timers = self.hosts.iter().filter_map(|h| h.node.sim_poll_timeout()).min();
        let poke = self.poked.then_some(self.now);
        [arrival, timers, poke].into_iter().flatten().min().map(|t| t.max(self.now))
    }

    /// Jumps to the next deadline and runs everything due then. Returns the new time, or `None` when
    /// nothing is pending (the simulation is idle) or it stalled (see [`SimStats::stalls`]).
    pub fn step(&mut self) -> Option<Instant> {
        let at = self.next_deadline()?;
        if at == self.last_step_at {
            self.steps_at_instant += 1;
            if self.steps_at_instant > MAX_STEPS_PER_INSTANT {
                self.stats.stalls += 1;
                self.note(String::from("sim"), format!("stalled: no progress after {MAX_STEPS_PER_INSTANT} steps"));
                self.steps_at_instant = 0;
                return None;
            }
        } else {
            self.last_step_at = at;
            self.steps_at_instant = 0;
        }
        self.now = at;
        self.poked = false;
        self.stats.steps += 1;
        // 1. Arrivals.
        while self.in_flight.peek().is_some_and(|p| p.0.at <= self.now) {
            if let Some(Reverse(packet)) = self.in_flight.pop() {
                self.arrive(packet);
            }
        }
        // 2. Timers.
        let now = self.now;
        for host in &mut self.hosts {
            if host.node.sim_poll_timeout().is_some_and(|t| t <= now) {
                host.node.sim_timeout(now);
            }
        }
        // 3. and 4. Transmits, then events.
        for i in 0..self.hosts.len() {
            self.drain_host(i);
        }
        Some(self.now)
    }

    /// Runs every step due at or before `until`, then sets the clock to `until` (if later).
    pub fn run_until(&mut self, until: Instant) {
        while self.next_deadline().is_some_and(|t| t <= until) {
            if self.step().is_none() {
                break;
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs for `duration` of virtual time.
    pub fn run_for(&mut self, duration: Duration) {
        self.run_until(self.now + duration);
    }

    /// Runs until nothing is pending or `limit` of virtual time has passed. Returns `true` if it went idle.
    /// Nodes with periodic timers never go idle; use [`Sim::run_until`] or [`Sim::run_until_cond`].
    pub fn run_until_idle(&mut self, limit: Duration) -> bool {
        let end = self.now + limit;
        loop {
            match self.next_deadline() {
                None => return true,
                Some(t) if t > end => {
                    self.now = end;
                    return false;
                }
                Some(_) => {
                    if self.step().is_none() {
                        return self.next_deadline().is_none();
                    }
                }
            }
        }
    }

    /// Runs step by step until `cond` holds (checked before the first step and after each) or `limit` of
    /// virtual time has passed. Returns whether `cond` held.
    pub fn run_until_cond(&mut self, mut cond: impl FnMut(&mut Sim) -> bool, limit: Duration) -> bool {
        let end = self.now + limit;
        loop {
            if cond(self) {
                return true;
            }
            match self.next_deadline() {
                Some(t) if t <= end => {
                    if self.step().is_none() {
                        return cond(self);
                    }
                }
                _ => {
                    self.now = self.now.max(end);
                    return cond(self);
                }
            }
        }
    }

    // ---- internals ------------------------------------------------------------------------------------

    fn note(&mut self, who: String, what: String) {
        tracing::trace!(target: TARGET, at = %self.now, %who, "{what}");
        self.trace.push(TraceEntry { at: self.now, who, what });
    }

    fn endpoint_name(&self, e: Endpoint) -> &str {
        match e {
            Endpoint::Host(HostId(h)) => self.hosts.get(h).map_or("?", |h| h.name.as_str()),
            Endpoint::Nat(NatId(n)) => self.nats.get(n).map_or("?", |n| n.name.as_str()),
        }
    }

    fn drain_host(&mut self, i: usize) {
        let mut out = Vec::new();
        let Some(host) = self.hosts.get_mut(i) else { return };
        while let Some(t) = host.node.sim_poll_transmit() {
            let mut buf = self.spare.pop().unwrap_or_default();
            buf.clear();
            buf.extend_from_slice(t.contents);
            out.push((t.source, t.destination, buf));
            if out.len() >= MAX_BURST {
                // Take the rest at the next step, at this same instant.
                self.poked = true;
                break;
            }
        }
        let mut notes = Vec::new();
        while let Some((debug, event)) = host.node.sim_poll_event() {
            notes.push(debug.clone());
            if host.events.len() >= self.event_capacity {
                host.stats.events_dropped += 1;
            } else {
                host.events.push_back(NodeEvent { at: self.now, debug, event });
            }
        }
        let name = host.name.clone();
        for what in notes {
            self.note(name.clone(), what);
        }
        for (src, dst, buf) in out {
            self.host_sends(i, src, dst, buf);
        }
    }

    fn host_sends(&mut self, i: usize, src: SocketAddr, dst: SocketAddr, buf: Vec<u8>) {
        let Some(host) = self.hosts.get_mut(i) else { return };
        if !host.addrs.contains(&src.ip()) {
            host.stats.bad_source += 1;
            let who = host.name.clone();
            self.note(who, format!("dropped {src} -> {dst}: not this host's address"));
            self.recycle(buf);
            return;
        }
        host.stats.sent += 1;
        let net = host.net;
        self.forward(Endpoint::Host(HostId(i)), net, src, dst, buf);
    }

    /// Where a datagram to `dst` goes next from network `net`.
    fn next_hop(&self, net: Net, dst: IpAddr) -> Option<(Endpoint, Arrive)> {
        if let Some(h) = self.hosts.iter().position(|h| h.net == net && h.addrs.contains(&dst)) {
            return Some((Endpoint::Host(HostId(h)), Arrive::Host(h)));
        }
        if let Some(n) = self.nats.iter().position(|n| n.outside == net && n.public_ip == dst) {
            return Some((Endpoint::Nat(NatId(n)), Arrive::NatOutside(n)));
        }
        match net {
            // Not on this private network: up to its NAT (which also handles hairpinning).
            Net::Behind(NatId(n)) => Some((Endpoint::Nat(NatId(n)), Arrive::NatInside(n))),
            Net::Internet => None,
        }
    }

    /// Sends a datagram from endpoint `from` on network `net` over the hop to its next endpoint.
    fn forward(&mut self, from: Endpoint, net: Net, src: SocketAddr, dst: SocketAddr, data: Vec<u8>) {
        let Some((to, arrive)) = self.next_hop(net, dst.ip()) else {
            self.stats.unroutable += 1;
            let who = String::from(self.endpoint_name(from));
            self.note(who, format!("dropped {src} -> {dst}: no route"));
            self.recycle(data);
            return;
        };
        let rng = &mut self.rng;
        let (source, config) = match self.network_links.get(&net) {
            Some(config) => (LinkSource::Network(net), config),
            None => (LinkSource::Default, &self.default_link),
        };
        let slot = self.links.entry((from, to)).or_insert_with(|| {
            self.hop_net.insert((from, to), net);
            LinkSlot { link: Link::new(config.clone(), rng.fork()), source }
        });
        match slot.link.schedule(self.now, data.len()) {
            Ok((first, copy)) => {
                if let Some(at) = copy {
                    self.push_packet(Packet { at, seq: 0, hop: (from, to), arrive, src, dst, data: data.clone() });
                }
                self.push_packet(Packet { at: first, seq: 0, hop: (from, to), arrive, src, dst, data });
            }
            Err(drop) => {
                let why = match drop {
                    LinkDrop::Lost => "lost",
                    LinkDrop::QueueFull => "queue full",
                };
                let who = format!("{}->{}", self.endpoint_name(from), self.endpoint_name(to));
                self.note(who, format!("dropped {src} -> {dst}: {why}"));
                self.recycle(data);
            }
        }
    }

    fn recycle(&mut self, buf: Vec<u8>) {
        if self.spare.len() < SPARE_BUFFERS {
            self.spare.push(buf);
        }
    }

    fn push_packet(&mut self, mut packet: Packet) {
        packet.seq = self.seq;
        self.seq += 1;
        self.in_flight.push(Reverse(packet));
    }

    fn arrive(&mut self, packet: Packet) {
        if let Some(slot) = self.links.get_mut(&packet.hop) {
            slot.link.arrived();
        }
        let Packet { src, dst, data, .. } = packet;
        let now = self.now;
        match packet.arrive {
            Arrive::Host(h) => {
                let Some(host) = self.hosts.get_mut(h) else { return };
                host.stats.received += 1;
                let accepted = host.node.sim_receive(now, Datagram { source: src, destination: dst, contents: &data });
                if !accepted {
                    host.stats.rejected += 1;
                }
                if self.trace_packets || !accepted {
                    let who = self.hosts.get(h).map(|h| h.name.clone()).unwrap_or_default();
                    let verdict = if accepted { "received" } else { "rejected" };
                    self.note(who, format!("{verdict} {src} -> {dst} ({} bytes)", data.len()));
                }
                self.recycle(data);
            }
            Arrive::NatInside(n) => {
                let Some(nat) = self.nats.get_mut(n) else { return };
                let outside = nat.outside;
                match nat.outbound(now, src, dst) {
                    Ok(Outbound::Forward(external)) => {
                        if self.trace_packets {
                            self.nat_note(n, format!("out {src} -> {dst} as {external}"));
                        }
                        self.forward(Endpoint::Nat(NatId(n)), outside, external, dst, data);
                    }
                    Ok(Outbound::Hairpin { external, internal }) => {
                        if self.trace_packets {
                            self.nat_note(n, format!("hairpin {src} -> {dst} as {external} -> {internal}"));
                        }
                        self.forward(Endpoint::Nat(NatId(n)), Net::Behind(NatId(n)), external, internal, data);
                    }
                    Err(drop) => self.nat_dropped(n, src, dst, drop, data),
                }
            }
            Arrive::NatOutside(n) => {
                let Some(nat) = self.nats.get_mut(n) else { return };
                match nat.inbound(now, src, dst) {
                    Ok(internal) => {
                        if self.trace_packets {
                            self.nat_note(n, format!("in {src} -> {dst} to {internal}"));
                        }
                        self.forward(Endpoint::Nat(NatId(n)), Net::Behind(NatId(n)), src, internal, data);
                    }
                    Err(drop) => self.nat_dropped(n, src, dst, drop, data),
                }
            }
        }
    }

    fn nat_note(&mut self, n: usize, what: String) {
        let who = self.nats.get(n).map(|n| n.name.clone()).unwrap_or_default();
        self.note(who, what);
    }

    fn nat_dropped(&mut self, n: usize, src: SocketAddr, dst: SocketAddr, drop: NatDrop, data: Vec<u8>) {
        let why = match drop {
            NatDrop::Filtered => "filtered",
            NatDrop::Unmapped => "no mapping",
            NatDrop::HairpinOff => "hairpinning off",
            NatDrop::Exhausted => "no mapping possible",
        };
        self.nat_note(n, format!("dropped {src} -> {dst}: {why}"));
        self.recycle(data);
    }
}

/// Where a hop's settings come from, most specific first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LinkSource {
    /// [`Sim::set_link`].
    Hop,
    /// [`Sim::set_network_link`] for this network.
    Network(Net),
    /// [`Sim::set_default_link`].
    Default,
}

/// A hop's link and where its settings come from.
#[derive(Debug)]
struct LinkSlot {
    link: Link,
    source: LinkSource,
}
