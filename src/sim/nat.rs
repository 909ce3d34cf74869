//! NAT boxes with the mapping and filtering behaviours of RFC 4787.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};
use core::time::Duration;

use super::Net;
use crate::rand::SeededRng;
use crate::time::Instant;

/// How a NAT reuses an external address for one internal address (RFC 4787 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mapping {
    /// One mapping per internal address, whatever the destination (REQ-1 recommends it).
    EndpointIndependent,
    /// One mapping per internal address and destination IP.
    AddressDependent,
    /// One mapping per internal address and destination IP and port ("symmetric").
    AddressAndPortDependent,
}

/// Which outside senders a NAT lets through a mapping (RFC 4787 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Filtering {
    /// Anyone may send to the mapping ("full cone").
    EndpointIndependent,
    /// Only IPs the internal host has sent to from this mapping ("restricted cone").
    AddressDependent,
    /// Only IP and port pairs the internal host has sent to ("port-restricted cone").
    AddressAndPortDependent,
}

/// How a NAT picks the external port of a new mapping (RFC 4787 §4.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PortAllocation {
    /// A random free port in the range (drawn from the simulator's seed).
    Random,
    /// The next free port in the range, in order.
    Sequential,
    /// The internal port if free ("port preservation"), otherwise a random free port.
    Preserve,
}

/// A NAT's behaviour. The presets name the classic RFC 3489 types; every field can be changed after.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NatConfig {
    /// Mapping behaviour.
    pub mapping: Mapping,
    /// Filtering behaviour.
    pub filtering: Filtering,
    /// External port choice.
    pub port_allocation: PortAllocation,
    /// External ports used for mappings (inclusive).
    pub port_range: (u16, u16),
    /// A mapping unused for this long expires (RFC 4787 REQ-5: at least 2 minutes; default 120 s).
    pub mapping_timeout: Duration,
    /// Whether inbound datagrams also refresh a mapping (RFC 4787 REQ-6 makes outbound refresh required
    /// and inbound refresh optional; default `false`).
    pub inbound_refresh: bool,
    /// Whether a datagram from inside to the NAT's own public address loops back in (RFC 4787 REQ-9).
    pub hairpinning: bool,
    /// Most mappings alive at once; new ones beyond are refused and counted.
    pub max_mappings: usize,
}

impl NatConfig {
    /// A NAT with the given behaviours, random port allocation, 120 s timeout, no hairpinning.
    pub fn new(mapping: Mapping, filtering: Filtering) -> Self {
        NatConfig {
            mapping,
            filtering,
            port_allocation: PortAllocation::Random,
            port_range: (1024, 65535),
            mapping_timeout: Duration::from_secs(120),
            inbound_refresh: false,
            hairpinning: false,
            max_mappings: 4096,
        }
    }

    /// Endpoint-independent mapping and filtering.
    pub fn full_cone() -> Self {
        NatConfig::new(Mapping::EndpointIndependent, Filtering::EndpointIndependent)
    }

    /// Endpoint-independent mapping, address-dependent filtering.
    pub fn restricted_cone() -> Self {
        NatConfig::new(Mapping::EndpointIndependent, Filtering::AddressDependent)
    }

    /// Endpoint-independent mapping, address-and-port-dependent filtering.
    pub fn port_restricted_cone() -> Self {
        NatConfig::new(Mapping::EndpointIndependent, Filtering::AddressAndPortDependent)
    }

    /// Address-and-port-dependent mapping and filtering.
    pub fn symmetric() -> Self {
        NatConfig::new(Mapping::AddressAndPortDependent, Filtering::AddressAndPortDependent)
    }

    /// Sets the port allocation.
    pub fn with_port_allocation(mut self, allocation: PortAllocation) -> Self {
        self.port_allocation = allocation;
        self
    }

    /// Sets the idle time after which a mapping expires.
    pub fn with_mapping_timeout(mut self, timeout: Duration) -> Self {
        self.mapping_timeout = timeout;
        self
    }

    /// Turns hairpinning on or off.
    pub fn with_hairpinning(mut self, on: bool) -> Self {
        self.hairpinning = on;
        self
    }

    /// Lets inbound datagrams refresh mappings too.
    pub fn with_inbound_refresh(mut self, on: bool) -> Self {
        self.inbound_refresh = on;
        self
    }
}

/// What a NAT did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NatStats {
    /// Datagrams translated on the way out.
    pub outbound: u64,
    /// Datagrams translated on the way in (hairpinned ones included).
    pub inbound: u64,
    /// Inbound datagrams the filter rejected.
    pub filtered: u64,
    /// Inbound datagrams to a port with no live mapping.
    pub unmapped: u64,
    /// Mappings created.
    pub mappings_created: u64,
    /// Mappings that expired.
    pub expired: u64,
    /// Datagrams looped back to the inside.
    pub hairpinned: u64,
    /// Datagrams to the NAT's own address dropped because hairpinning is off.
    pub hairpin_dropped: u64,
    /// Outbound datagrams dropped because no mapping could be made (no port free, limit reached, or an
    /// address family the NAT does not translate).
    pub exhausted: u64,
}

/// Why a NAT dropped a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NatDrop {
    Filtered,
    Unmapped,
    HairpinOff,
    Exhausted,
}

/// What happens to an outbound datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outbound {
    /// Sent on outside from this external address.
    Forward(SocketAddr),
    /// Looped back: delivered inside to `internal`, from `external`.
    Hairpin { external: SocketAddr, internal: SocketAddr },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct MapKey {
    internal: SocketAddr,
    remote_ip: Option<IpAddr>,
    remote_port: Option<u16>,
}

#[derive(Clone, Debug)]
struct MapEntry {
    port: u16,
    last_used: Instant,
    /// Destinations sent to through this mapping, oldest first (filter state).
    permits: Vec<SocketAddr>,
}

/// Destinations remembered per mapping for filtering.
const MAX_PERMITS: usize = 64;

/// A NAT box in a simulation.
#[derive(Debug)]
pub(crate) struct Nat {
    pub(crate) name: String,
    pub(crate) public_ip: IpAddr,
    pub(crate) outside: Net,
    pub(crate) config: NatConfig,
    rng: SeededRng,
    mappings: BTreeMap<MapKey, MapEntry>,
    by_port: BTreeMap<u16, MapKey>,
    next_port: u16,
    pub(crate) stats: NatStats,
}

impl Nat {
    pub(crate) fn new(name: String, public_ip: IpAddr, outside: Net, config: NatConfig, rng: SeededRng) -> Self {
        let next_port = config.port_range.0;
        Nat {
            name,
            public_ip,
            outside,
            config,
            rng,
            mappings: BTreeMap::new(),
            by_port: BTreeMap::new(),
            next_port,
            stats: NatStats::default(),
        }
    }

    fn key(&self, internal: SocketAddr, remote: SocketAddr) -> MapKey {
        let (remote_ip, remote_port) = match self.config.mapping {
            Mapping::EndpointIndependent => (None, None),
            Mapping::AddressDependent => (Some(remote.ip()), None),
            Mapping::AddressAndPortDependent => (Some(remote.ip()), Some(remote.port())),
        };
        MapKey { internal, remote_ip, remote_port }
    }

    fn is_expired(&self, entry: &MapEntry, now: Instant) -> bool {
        now.saturating_duration_since(entry.last_used) >= self.config.mapping_timeout
    }

    fn remove(&mut self, key: &MapKey) {
        if let Some(entry) = self.mappings.remove(key) {
            self.by_port.remove(&entry.port);
            self.stats.expired += 1;
        }
    }

    /// Removes every expired mapping.
    pub(crate) fn expire(&mut self, now: Instant) {
        let dead: Vec<MapKey> =
            self.mappings.iter().filter(|(_, e)| self.is_expired(e, now)).map(|(k, _)| *k).collect();
        for key in dead {
            self.remove(&key);
        }
    }

    /// Live mappings at `now`.
    pub(crate) fn live_mappings(&self, now: Instant) -> usize {
        self.mappings.values().filter(|e| !self.is_expired(e, now)).count()
    }

    /// The external address of the mapping `internal` would use towards `remote`, if it exists.
    pub(crate) fn mapping_for(&self, now: Instant, internal: SocketAddr, remote: SocketAddr) -> Option<SocketAddr> {
        let entry = self.mappings.get(&self.key(internal, remote))?;
        (!self.is_expired(entry, now)).then_some(SocketAddr::new(self.public_ip, entry.port))
    }

    fn allocate(&mut self, internal_port: u16) -> Option<u16> {
        let (low, high) = self.config.port_range;
        if low > high {
            return None;
        }
        let span = u32::from(high) - u32::from(low) + 1;
        let free = |nat: &Nat, port: u16| !nat.by_port.contains_key(&port);
        match self.config.port_allocation {
            PortAllocation::Preserve if (low..=high).contains(&internal_port) && free(self, internal_port) => {
                return Some(internal_port);
            }
            PortAllocation::Sequential => {
                for _ in 0..span {
                    let port = self.next_port;
                    self.next_port = if port >= high { low } else { port + 1 };
                    if free(self, port) {
                        return Some(port);
                    }
                }
                return None;
            }
            _ => {}
        }
        // Random (also the fallback for a preserved port that is taken): a few draws, then a scan from a
        // random start so a nearly full table still finds a port.
        for _ in 0..16 {
            let port = low + self.rng.below(u64::from(span)) as u16;
            if free(self, port) {
                return Some(port);
            }
        }
        let start = self.rng.below(u64::from(span)) as u32;
        (0..span).map(|i| low + ((start + i) % span) as u16).find(|port| free(self, *port))
    }

    /// Translates a datagram from inside (`src`) to `dst`, creating or refreshing its mapping.
    pub(crate) fn outbound(&mut self, now: Instant, src: SocketAddr, dst: SocketAddr) -> Result<Outbound, NatDrop> {
        if src.is_ipv4() != self.public_ip.is_ipv4() {
            self.stats.exhausted += 1;
            return Err(NatDrop::Exhausted);
        }
        let key = self.key(src, dst);
        if self.mappings.get(&key).is_some_and(|e| self.is_expired(e, now)) {
            self.remove(&key);
        }
        if !self.mappings.contains_key(&key) {
            self.expire(now);
            let port = if self.mappings.len() < self.config.max_mappings { self.allocate(src.port()) } else { None };
            let Some(port) = port else {
                self.stats.exhausted += 1;
                return Err(NatDrop::Exhausted);
            };
            self.by_port.insert(port, key);
            self.mappings.insert(key, MapEntry { port, last_used: now, permits: Vec::new() });
            self.stats.mappings_created += 1;
        }
        let Some(entry) = self.mappings.get_mut(&key) else {
            self.stats.exhausted += 1;
            return Err(NatDrop::Exhausted);
        };
        entry.last_used = now;
        if let Some(i) = entry.permits.iter().position(|p| *p == dst) {
            entry.permits.remove(i);
        } else if entry.permits.len() >= MAX_PERMITS {
            entry.permits.remove(0);
        }
        entry.permits.push(dst);
        let external = SocketAddr::new(self.public_ip, entry.port);
        self.stats.outbound += 1;
        if dst.ip() == self.public_ip {
            // RFC 4787 §6 REQ-9: a hairpinned datagram comes back in from the sender's external address.
            if !self.config.hairpinning {
                self.stats.hairpin_dropped += 1;
                return Err(NatDrop::HairpinOff);
            }
            let internal = self.inbound(now, external, dst)?;
            self.stats.hairpinned += 1;
            return Ok(Outbound::Hairpin { external, internal });
        }
        Ok(Outbound::Forward(external))
    }

    /// Translates a datagram from outside (`src`) to the NAT's address `dst`: the internal address it goes
    /// to, if a live mapping exists and its filter admits `src`.
    pub(crate) fn inbound(&mut self, now: Instant, src: SocketAddr, dst: SocketAddr) -> Result<SocketAddr, NatDrop> {
        let Some(key) = self.by_port.get(&dst.port()).copied() else {
            self.stats.unmapped += 1;
            return Err(NatDrop::Unmapped);
        };
        if self.mappings.get(&key).is_none_or(|e| self.is_expired(e, now)) {
            self.remove(&key);
            self.stats.unmapped += 1;
            return Err(NatDrop::Unmapped);
        }
        let filtering = self.config.filtering;
        let refresh = self.config.inbound_refresh;
        let Some(entry) = self.mappings.get_mut(&key) else {
            self.stats.unmapped += 1;
            return Err(NatDrop::Unmapped);
        };
        let admitted = match filtering {
            Filtering::EndpointIndependent => true,
            Filtering::AddressDependent => entry.permits.iter().any(|p| p.ip() == src.ip()),
            Filtering::AddressAndPortDependent => entry.permits.contains(&src),
        };
        if !admitted {
            self.stats.filtered += 1;
            return Err(NatDrop::Filtered);
        }
        if refresh {
            entry.last_used = now;
        }
        self.stats.inbound += 1;
        Ok(key.internal)
    }
}
