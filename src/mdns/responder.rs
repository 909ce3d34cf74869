//! The hiding side: a random `<UUIDv4>.local` name per local address (draft-ietf-mmusic-mdns-ice-candidates
//! §3.1.1), and answers to the queries that ask for one.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;
use core::net::{IpAddr, SocketAddr};

use super::wire::{self, Message, RecordType};
use super::{Error, TARGET};
use crate::machine::{Datagram, Machine, PathMachine, Transmit};
use crate::rand::SeededRng;
use crate::time::Instant;
use crate::util::OutQueue;

/// Names a responder holds at most.
pub const MAX_NAMES: usize = 16;
/// Answers queued at most.
const MAX_ANSWERS: usize = 32;
/// The TTL of answers to the group or to a QU question (RFC 6762 §10: host records, 120 s).
pub const TTL: u32 = 120;
/// The TTL of answers to one-shot queries from a port other than 5353 (RFC 6762 §6.7: at most 10 s).
pub const LEGACY_TTL: u32 = 10;

/// Counters of what the responder answered and dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResponderStats {
    /// Queries answered.
    pub answered: u64,
    /// Queries asking for none of our names (or for a type the name has no record of).
    pub not_ours: u64,
    /// Responses from other hosts (ignored).
    pub responses: u64,
    /// Datagrams that did not parse.
    pub malformed: u64,
    /// Answers dropped because the transmit queue was full.
    pub dropped: u64,
    /// Queries asking for one of our names whose family has no socket to answer from.
    pub no_source: u64,
}

/// Hides local addresses behind random `.local` names and answers mDNS queries for them.
///
/// A [`PathMachine`]: [`Responder::hide`] makes (or gives back) the name of an address; the caller
/// puts it in its candidates instead of the address; [`Responder::set_source`] names the socket bound
/// to port 5353 (one per family) that receives the group's queries and sends the answers. Feed it what
/// that socket receives (`handle_receive`) and drain `poll_transmit`. A query from port 5353 is
/// answered to the group, or to the querier alone when its question has the QU bit (RFC 6762 §5.4); a
/// one-shot query from another port is answered to it alone, with its id and question repeated and a
/// TTL of 10 s (§6.7). It has no timers and no events.
#[derive(Debug)]
pub struct Responder {
    names: Vec<(String, IpAddr)>,
    sources: [Option<SocketAddr>; 2],
    transmits: OutQueue<(SocketAddr, SocketAddr)>,
    scratch: Vec<u8>,
    now: Instant,
    stats: ResponderStats,
}

impl Default for Responder {
    fn default() -> Self {
        Self::new()
    }
}

/// A random version 4 UUID (RFC 9562 §5.4) followed by `.local`.
pub fn random_name(rng: &mut SeededRng) -> String {
    let mut b = rng.bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut name = String::with_capacity(42);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            name.push('-');
        }
        let _ = write!(name, "{x:02x}");
    }
    name.push_str(".local");
    name
}

impl Responder {
    /// A responder with no names and no socket.
    pub fn new() -> Self {
        Responder {
            names: Vec::new(),
            sources: [None, None],
            transmits: OutQueue::new(MAX_ANSWERS),
            scratch: Vec::new(),
            now: Instant::ZERO,
            stats: ResponderStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> ResponderStats {
        ResponderStats { dropped: self.transmits.dropped(), ..self.stats }
    }

    /// Sets the socket (bound to port 5353) answers of its family leave from.
    pub fn set_source(&mut self, source: SocketAddr) {
        self.sources[usize::from(source.is_ipv6())] = Some(source);
    }

    /// The name hiding `addr`: the one it already has, or a new random one from `rng`.
    /// [`Error::TooManyNames`] once [`MAX_NAMES`] addresses are hidden.
    pub fn hide(&mut self, rng: &mut SeededRng, addr: IpAddr) -> Result<&str, Error> {
        let i = match self.names.iter().position(|(_, a)| *a == addr) {
            Some(i) => i,
            None if self.names.len() >= MAX_NAMES => return Err(Error::TooManyNames),
            None => {
                self.names.push((random_name(rng), addr));
                self.names.len() - 1
            }
        };
        self.names.get(i).map(|(n, _)| n.as_str()).ok_or(Error::TooManyNames)
    }

    /// The address a name of ours hides.
    pub fn address_of(&self, name: &str) -> Option<IpAddr> {
        self.names.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, a)| *a)
    }

    /// The name hiding `addr`, if it is hidden.
    pub fn name_of(&self, addr: IpAddr) -> Option<&str> {
        self.names.iter().find(|(_, a)| *a == addr).map(|(n, _)| n.as_str())
    }

    /// Names held.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no name is held.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Whether `contents` is a query asking for one of our names (what [`PathMachine::handle_receive`]
    /// answers): for a caller routing one mDNS socket's datagrams to many responders. Reads the questions
    /// only, allocates nothing.
    pub fn is_asked(&self, contents: &[u8]) -> bool {
        if self.names.is_empty() {
            return false;
        }
        let Ok(msg) = Message::new_checked(contents) else { return false };
        !msg.flags().is_response() && matches!(self.asked(&msg), Ok(Some(_)))
    }

    /// Our name and address asked for by `msg`'s questions (A for IPv4, AAAA for IPv6, or ANY), and
    /// whether that question has the QU bit.
    fn asked(&self, msg: &Message<&[u8]>) -> Result<Option<(usize, bool)>, Error> {
        for q in msg.questions() {
            let q = q?;
            if q.class != wire::CLASS_IN {
                continue;
            }
            let found = self.names.iter().position(|(n, a)| {
                q.name.eq_str(n)
                    && match q.qtype {
                        RecordType::A => a.is_ipv4(),
                        RecordType::AAAA => a.is_ipv6(),
                        RecordType::ANY => true,
                        _ => false,
                    }
            });
            if let Some(i) = found {
                return Ok(Some((i, q.unicast_response)));
            }
        }
        Ok(None)
    }
}

impl Machine for Responder {
    type Event = core::convert::Infallible;

    fn handle_timeout(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
    }

    fn poll_event(&mut self) -> Option<Self::Event> {
        None
    }

    fn poll_timeout(&self) -> Option<Instant> {
        (!self.transmits.is_empty()).then_some(self.now)
    }
}

impl PathMachine for Responder {
    type Error = Error;

    /// Answers a query for one of our names; anything else is dropped and counted.
    fn handle_receive(&mut self, now: Instant, datagram: Datagram<'_>) -> Result<(), Error> {
        self.handle_timeout(now);
        let msg = Message::new_checked(datagram.contents).inspect_err(|_| self.stats.malformed += 1)?;
        if msg.flags().is_response() {
            self.stats.responses += 1;
            return Ok(());
        }
        let asked = self.asked(&msg).inspect_err(|_| self.stats.malformed += 1)?;
        let Some((i, qu)) = asked else {
            self.stats.not_ours += 1;
            return Ok(());
        };
        let Some((name, addr)) = self.names.get(i) else { return Ok(()) };
        let Some(source) = self.sources[usize::from(datagram.source.is_ipv6())] else {
            self.stats.no_source += 1;
            return Err(Error::NoSource);
        };
        let legacy = datagram.source.port() != wire::PORT;
        let (id, ttl) = if legacy { (msg.id(), LEGACY_TTL) } else { (0, TTL) };
        let destination = if legacy || qu { datagram.source } else { wire::group_for(source) };
        wire::emit_answer(&mut self.scratch, id, name, &[*addr], ttl, legacy)?;
        tracing::trace!(target: TARGET, name = %name, %destination, "answer");
        self.stats.answered += 1;
        self.transmits.push((source, destination), &self.scratch);
        Ok(())
    }

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        let ((source, destination), contents) = self.transmits.pop()?;
        Some(Transmit { source, destination, contents })
    }
}
