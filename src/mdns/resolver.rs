//! The resolver: one-shot mDNS queries for `.local` names, retransmitted with backoff until answered or
//! given up, and a small cache of the answers.

use alloc::string::String;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};
use core::time::Duration;

use super::wire::{self, Message, RecordType};
use super::{Error, TARGET};
use crate::machine::{Datagram, Machine, PathMachine, Transmit};
use crate::time::Instant;
use crate::util::{EventQueue, OutQueue};

/// The resolver's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Names being resolved at once at most (default 16); [`Resolver::query`] refuses more.
    pub max_queries: usize,
    /// Answers kept at most (default 32); the one expiring soonest makes room.
    pub max_cache: usize,
    /// The wait between the first query and its first retransmission (default 1 s, the least RFC 6762
    /// §5.2 allows); each later wait is twice the one before.
    pub first_interval: Duration,
    /// How long a name may take to resolve (default 5 s): then [`Event::Failed`].
    pub timeout: Duration,
    /// The longest an answer is cached, whatever TTL it carries (default 120 s, RFC 6762 §10's TTL for
    /// host address records).
    pub max_ttl: Duration,
    /// Records a response may announce in its header (all sections together, default 64): a response
    /// announcing more is dropped unread.
    pub max_records: usize,
    /// Ask only for names of the form `<UUID>.local` (default `true`): draft-ietf-mmusic-mdns-ice-candidates
    /// §3.2.1.3 says ICE agents should resolve no other names, as resolution lets an attacker point ICE
    /// traffic at devices with well-known names.
    pub ice_names_only: bool,
    /// Events queued at most (default 64).
    pub max_events: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_queries: 16,
            max_cache: 32,
            first_interval: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
            max_ttl: Duration::from_secs(120),
            max_records: 64,
            ice_names_only: true,
            max_events: 64,
        }
    }
}

/// What the resolver reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `name` resolved to `addr` (from an answer, or from the cache).
    Resolved {
        /// The name, as given to [`Resolver::query`].
        name: String,
        /// Its address.
        addr: IpAddr,
    },
    /// `name` did not resolve within [`Config::timeout`], or resolved to more than one address (which
    /// draft-ietf-mmusic-mdns-ice-candidates §3.2.1.3 says to ignore).
    Failed {
        /// The name, as given to [`Resolver::query`].
        name: String,
    },
}

/// Counters of the resolver's work and of what it dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Queries started ([`Resolver::query`] calls that sent one).
    pub queries: u64,
    /// Query datagrams queued (first sends and retransmissions; one per record type and group).
    pub transmits: u64,
    /// Names answered from the cache.
    pub cache_hits: u64,
    /// Names resolved by a response.
    pub resolved: u64,
    /// Names that never resolved in time.
    pub timed_out: u64,
    /// Names that resolved to more than one address in one response (reported as failed).
    pub ambiguous: u64,
    /// Well-formed responses taken.
    pub responses: u64,
    /// Address records for names not being resolved (dropped; nothing is cached for them).
    pub unsolicited: u64,
    /// Address records with a TTL of zero (RFC 6762 §10.1 goodbyes): the name leaves the cache.
    pub goodbyes: u64,
    /// Address records whose TTL exceeded [`Config::max_ttl`] (clamped to it).
    pub ttl_clamped: u64,
    /// Datagrams that did not parse (truncated, bad labels, pointer loops, bad record data).
    pub malformed: u64,
    /// Datagrams announcing more records than [`Config::max_records`].
    pub too_many_records: u64,
    /// Queries from other hosts (the resolver answers nothing).
    pub not_responses: u64,
    /// Responses with a non-zero opcode or rcode.
    pub bad_opcode: u64,
    /// Datagrams not from port 5353.
    pub bad_source_port: u64,
    /// [`Resolver::query`] calls refused (a name that is not `<UUID>.local`, too many outstanding
    /// queries, no socket to send from).
    pub refused: u64,
    /// Cached answers evicted to make room.
    pub evicted: u64,
    /// Events dropped because the event queue was full.
    pub events_dropped: u64,
}

/// A name being resolved.
#[derive(Debug)]
struct Query {
    name: String,
    /// When the next query goes out.
    next_send: Instant,
    /// The wait after the next send.
    interval: Duration,
    /// When the name is given up.
    deadline: Instant,
    /// Queries sent so far.
    sent: u32,
    /// The address found in the response being read, and whether it found another as well.
    found: Option<(IpAddr, u32)>,
    ambiguous: bool,
}

#[derive(Debug)]
struct Cached {
    name: String,
    addr: IpAddr,
    expires: Instant,
}

/// A multicast DNS resolver for `.local` names (RFC 6762 one-shot queries, as
/// draft-ietf-mmusic-mdns-ice-candidates §3.2.1 has ICE agents resolve them).
///
/// A [`PathMachine`] like the crate's others:
///
/// 1. [`Resolver::set_source`] names the socket(s) to send from (one per address family);
/// 2. [`Resolver::query`] asks for a name: an A query and an AAAA query, one question each (the QU bit
///    set on the first send, RFC 6762 §5.4), to 224.0.0.251:5353 and/or \[ff02::fb\]:5353, or at once [`Event::Resolved`] from the cache;
/// 3. feed datagrams from port 5353 to `handle_receive`, call `handle_timeout` at `poll_timeout`
///    (retransmissions after 1 s, 2 s, … as RFC 6762 §5.2 says, [`Event::Failed`] after
///    [`Config::timeout`]), drain `poll_transmit` (send each from `source` to `destination`) and
///    `poll_event`.
///
/// Only answers for names being resolved are used; every other record is dropped and counted
/// ([`Stats`]). Everything is bounded: outstanding queries, the cache (whose TTLs are clamped to
/// [`Config::max_ttl`]), queued transmits and events, and the records read from one response. Time must
/// not go backwards; an earlier `now` is treated as the latest seen.
///
/// Queries are sent from the caller's socket, not from port 5353, so they are one-shot queries (RFC 6762
/// §5.1) and responders answer them by unicast to that socket (§6.7), from port 5353; responses to the
/// multicast group, received on a socket bound to port 5353 that joined it, are taken the same way.
#[derive(Debug)]
pub struct Resolver {
    config: Config,
    now: Instant,
    /// The sockets queries leave from: IPv4, IPv6.
    sources: [Option<SocketAddr>; 2],
    queries: Vec<Query>,
    cache: Vec<Cached>,
    transmits: OutQueue<(SocketAddr, SocketAddr)>,
    events: EventQueue<Event>,
    scratch: Vec<u8>,
    stats: Stats,
}

/// Whether `name` is `<UUID>.local` (8-4-4-4-12 hexadecimal digits, any case, a trailing dot optional).
pub fn is_ice_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let Some((uuid, domain)) = name.split_once('.') else { return false };
    if !domain.eq_ignore_ascii_case("local") || uuid.len() != 36 {
        return false;
    }
    uuid.bytes().enumerate().all(|(i, b)| match i {
        8 | 13 | 18 | 23 => b == b'-',
        _ => b.is_ascii_hexdigit(),
    })
}

impl Resolver {
    /// A resolver with no socket to send from yet.
    pub fn new(config: Config) -> Self {
        Resolver {
            transmits: OutQueue::new(config.max_queries.saturating_mul(4).max(4)),
            events: EventQueue::new(config.max_events),
            config,
            now: Instant::ZERO,
            sources: [None, None],
            queries: Vec::new(),
            cache: Vec::new(),
            scratch: Vec::new(),
            stats: Stats::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        Stats { events_dropped: self.events.dropped(), ..self.stats }
    }

    /// Sets the socket queries of its address family leave from (replacing the one set before).
    pub fn set_source(&mut self, source: SocketAddr) {
        self.sources[usize::from(source.is_ipv6())] = Some(source);
    }

    /// The sockets queries leave from.
    pub fn sources(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.sources.iter().flatten().copied()
    }

    /// Names being resolved.
    pub fn pending(&self) -> usize {
        self.queries.len()
    }

    /// Whether `name` is being resolved.
    pub fn is_pending(&self, name: &str) -> bool {
        self.queries.iter().any(|q| q.name.eq_ignore_ascii_case(name))
    }

    /// Whether a transmit is waiting in [`PathMachine::poll_transmit`].
    pub fn has_transmit(&self) -> bool {
        !self.transmits.is_empty()
    }

    /// Answers cached (fresh or not yet purged).
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// Resolves `name`: answered from the cache ([`Event::Resolved`] at once), or joined to a query for it
    /// already under way, or a new query sent (drain `poll_transmit`). Refused (and counted) when the name
    /// is invalid or not `<UUID>.local` while [`Config::ice_names_only`], when [`Config::max_queries`] are
    /// under way, or with no socket to send from.
    pub fn query(&mut self, now: Instant, name: &str) -> Result<(), Error> {
        self.touch(now);
        let now = self.now;
        if let Err(e) = self.check_name(name) {
            self.stats.refused += 1;
            return Err(e);
        }
        self.purge(now);
        if let Some(c) = self.cache.iter().find(|c| c.name.eq_ignore_ascii_case(name)) {
            self.stats.cache_hits += 1;
            let event = Event::Resolved { name: String::from(name), addr: c.addr };
            self.events.push(event);
            return Ok(());
        }
        if self.is_pending(name) {
            return Ok(());
        }
        if self.sources.iter().all(Option::is_none) {
            self.stats.refused += 1;
            return Err(Error::NoSource);
        }
        if self.queries.len() >= self.config.max_queries {
            self.stats.refused += 1;
            return Err(Error::TooManyQueries);
        }
        tracing::debug!(target: TARGET, name, "resolving");
        self.stats.queries += 1;
        let mut q = Query {
            name: String::from(name),
            next_send: now,
            interval: self.config.first_interval,
            deadline: now + self.config.timeout,
            sent: 0,
            found: None,
            ambiguous: false,
        };
        self.send(&mut q)?;
        self.queries.push(q);
        Ok(())
    }

    fn check_name(&self, name: &str) -> Result<(), Error> {
        wire::encoded_name_len(name)?;
        if self.config.ice_names_only && !is_ice_name(name) {
            return Err(Error::NotAnIceName);
        }
        Ok(())
    }

    /// Queues the query for `q` to every group with a source, and schedules the next one.
    fn send(&mut self, q: &mut Query) -> Result<(), Error> {
        // RFC 6762 §5.4: the QU bit on the first query only; later ones may be answered to the group.
        let qu = q.sent == 0;
        // One question per message: many DNS parsers take exactly one question per query and drop the
        // rest, so a query with two may go unanswered.
        for qtype in [RecordType::A, RecordType::AAAA] {
            wire::emit_query(&mut self.scratch, &q.name, &[qtype], qu)?;
            for source in self.sources.iter().flatten() {
                if self.transmits.push((*source, wire::group_for(*source)), &self.scratch) {
                    self.stats.transmits += 1;
                }
            }
        }
        tracing::trace!(target: TARGET, name = %q.name, sent = q.sent, "query");
        q.sent = q.sent.saturating_add(1);
        q.next_send = self.now + q.interval;
        q.interval = q.interval.saturating_mul(2);
        Ok(())
    }

    /// Drops expired cache entries.
    fn purge(&mut self, now: Instant) {
        self.cache.retain(|c| c.expires > now);
    }

    fn touch(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
    }

    fn remember(&mut self, name: &str, addr: IpAddr, ttl: u32) {
        let mut ttl = Duration::from_secs(u64::from(ttl));
        if ttl > self.config.max_ttl {
            self.stats.ttl_clamped += 1;
            ttl = self.config.max_ttl;
        }
        let expires = self.now + ttl;
        if let Some(c) = self.cache.iter_mut().find(|c| c.name.eq_ignore_ascii_case(name)) {
            c.addr = addr;
            c.expires = expires;
            return;
        }
        if self.config.max_cache == 0 {
            return;
        }
        if self.cache.len() >= self.config.max_cache {
            if let Some(i) = self.cache.iter().enumerate().min_by_key(|(_, c)| c.expires).map(|(i, _)| i) {
                self.cache.swap_remove(i);
                self.stats.evicted += 1;
            }
        }
        self.cache.push(Cached { name: String::from(name), addr, expires });
    }

    /// Reads a response's address records into the queries they answer; nothing changes if it is
    /// malformed.
    fn read_response(&mut self, msg: &Message<&[u8]>) -> Result<(), Error> {
        for q in &mut self.queries {
            q.found = None;
            q.ambiguous = false;
        }
        let mut unsolicited = 0;
        let mut goodbyes = Vec::new();
        for record in msg.records() {
            let record = record?;
            let Some(addr) = record.address()? else { continue };
            let Some(q) = self.queries.iter_mut().find(|q| record.name.eq_str(&q.name)) else {
                if record.ttl == 0 && self.cache.iter().any(|c| record.name.eq_str(&c.name)) {
                    goodbyes.push(record.name);
                } else {
                    unsolicited += 1;
                }
                continue;
            };
            if record.ttl == 0 {
                // A goodbye (RFC 6762 §10.1): the address is going away, not an answer.
                goodbyes.push(record.name);
                continue;
            }
            match q.found {
                None => q.found = Some((addr, record.ttl)),
                Some((a, _)) if a != addr => q.ambiguous = true,
                Some(_) => {}
            }
        }
        self.stats.unsolicited += unsolicited;
        for name in goodbyes {
            self.stats.goodbyes += 1;
            self.cache.retain(|c| !name.eq_str(&c.name));
        }
        Ok(())
    }

    /// Reports and retires the queries the last response answered.
    fn settle(&mut self) {
        let mut i = 0;
        while i < self.queries.len() {
            let Some(q) = self.queries.get(i) else { break };
            let (Some((addr, ttl)), ambiguous) = (q.found, q.ambiguous) else {
                i += 1;
                continue;
            };
            let q = self.queries.swap_remove(i);
            if ambiguous {
                tracing::debug!(target: TARGET, name = %q.name, "more than one address: ignored");
                self.stats.ambiguous += 1;
                self.events.push(Event::Failed { name: q.name });
            } else {
                tracing::debug!(target: TARGET, name = %q.name, %addr, "resolved");
                self.stats.resolved += 1;
                self.remember(&q.name, addr, ttl);
                self.events.push(Event::Resolved { name: q.name, addr });
            }
        }
    }
}

impl Machine for Resolver {
    type Event = Event;

    /// Retransmits the queries that are due, and gives up on those past their deadline.
    fn handle_timeout(&mut self, now: Instant) {
        self.touch(now);
        let now = self.now;
        self.purge(now);
        let mut queries = core::mem::take(&mut self.queries);
        let mut i = 0;
        while i < queries.len() {
            let Some(q) = queries.get_mut(i) else { break };
            if now >= q.deadline {
                let q = queries.swap_remove(i);
                tracing::debug!(target: TARGET, name = %q.name, sent = q.sent, "no answer: failed");
                self.stats.timed_out += 1;
                self.events.push(Event::Failed { name: q.name });
                continue;
            }
            if now >= q.next_send {
                // An encoding error cannot happen for a name `query` accepted; the query is kept regardless.
                let _ = self.send(q);
            }
            i += 1;
        }
        self.queries = queries;
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.has_transmit() {
            return Some(self.now);
        }
        self.queries.iter().map(|q| q.next_send.min(q.deadline)).min()
    }
}

impl PathMachine for Resolver {
    type Error = Error;

    /// Takes a datagram from port 5353: the address records of a response that answer names being
    /// resolved complete them ([`Event::Resolved`]); anything else is dropped and counted.
    fn handle_receive(&mut self, now: Instant, datagram: Datagram<'_>) -> Result<(), Error> {
        self.touch(now);
        if datagram.source.port() != wire::PORT {
            self.stats.bad_source_port += 1;
            return Err(Error::BadSourcePort);
        }
        let msg = Message::new_checked(datagram.contents).inspect_err(|_| self.stats.malformed += 1)?;
        let flags = msg.flags();
        if !flags.is_response() {
            self.stats.not_responses += 1;
            return Err(Error::NotAResponse);
        }
        if flags.opcode() != 0 || flags.rcode() != 0 {
            self.stats.bad_opcode += 1;
            return Err(Error::BadOpcode);
        }
        let records =
            usize::from(msg.answer_count()) + usize::from(msg.authority_count()) + usize::from(msg.additional_count());
        if records > self.config.max_records {
            tracing::trace!(target: TARGET, records, "too many records");
            self.stats.too_many_records += 1;
            return Err(Error::TooManyRecords);
        }
        if let Err(e) = self.read_response(&msg) {
            tracing::trace!(target: TARGET, error = %e, "malformed response");
            self.stats.malformed += 1;
            for q in &mut self.queries {
                q.found = None;
            }
            return Err(e);
        }
        self.stats.responses += 1;
        self.settle();
        Ok(())
    }

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        let ((source, destination), contents) = self.transmits.pop()?;
        Some(Transmit { source, destination, contents })
    }
}
