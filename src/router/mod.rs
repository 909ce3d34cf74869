//! Many connections behind one set of sockets: the [`Router`] finds the connection each datagram belongs
//! to, keeps every connection's deadline, and reaps connections that ended or never connected.
//!
//! It is sans-IO like the rest of the crate: the caller owns the sockets (one or several) and the clock,
//! and drives the router with the usual loop, as if it were one machine:
//!
//! 1. [`Router::handle_receive`] each datagram that arrived on any socket (the router says which
//!    connection took it, or that none is known: [`RouteError::NotMine`]);
//! 2. [`Router::handle_timeout`] once `now` reaches [`Router::poll_timeout`]: only the connections whose
//!    deadline is due are called;
//! 3. [`Router::poll_transmit`] until `None`, sending each datagram from `source` to `destination`;
//! 4. [`Router::poll_event`] until `None`: each connection's events with its [`Key`], and
//!    [`Event::Reaped`] when a connection is gone. Act on a connection with [`Router::update`] (sending
//!    a message, closing, renegotiating): the router files its new deadline and its new keys after the
//!    call;
//! 5. wait for the next datagram or for [`Router::poll_timeout`], and repeat.
//!
//! New connections come from signalling: build one (apply the offer, make the answer), then
//! [`Router::insert`] it.
//!
//! ```
//! use core::net::SocketAddr;
//! use core::time::Duration;
//! use sansrtc::pc::{Config, Description, Event as PcEvent, PeerConnection};
//! use sansrtc::router::{self, Event, Router};
//! use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};
//!
//! let server: SocketAddr = "192.0.2.1:3478".parse().unwrap();
//! let client_addr: SocketAddr = "198.51.100.7:50000".parse().unwrap();
//! let mut now = Instant::ZERO;
//! let mut rng = SeededRng::from_seed([7; 32]);
//! let mut router: Router<PeerConnection> = Router::new(router::Config::default(), rng.fork());
//!
//! // A browser-like client, and its offer.
//! let mut client = PeerConnection::new(Config::default(), rng.fork());
//! client.add_local_host(now, client_addr).unwrap();
//! client.end_of_local_candidates(now);
//! let chat = client.create_data_channel(now, sansrtc::pc::ChannelOptions::new("chat")).unwrap();
//! let offer = client.create_offer().unwrap();
//! client.set_local_description(now, &offer).unwrap();
//!
//! // Signalling: the server answers from an ICE-lite connection on its socket, and files it.
//! let mut config = Config::default();
//! config.ice.lite = true;
//! let mut pc = PeerConnection::new(config, rng.fork());
//! pc.add_local_host(now, server).unwrap();
//! pc.end_of_local_candidates(now);
//! pc.set_remote_description(now, &offer).unwrap();
//! let answer = pc.create_answer().unwrap();
//! pc.set_local_description(now, &answer).unwrap();
//! client.set_remote_description(now, &answer).unwrap();
//! router.insert(now, pc).map_err(|_| "full").unwrap();
//!
//! // The loop (the network is instantaneous here: what one side sends, the other receives at once).
//! let mut echoed = false;
//! while !echoed {
//!     let mut to_server = Vec::new();
//!     while let Some(t) = client.poll_transmit() {
//!         to_server.push((t.source, t.destination, t.contents.to_vec()));
//!     }
//!     while let Some(e) = client.poll_event() {
//!         match e {
//!             PcEvent::ChannelOpen(id) => client.send_text(now, id, "hello").unwrap(),
//!             PcEvent::Message { data, .. } => echoed = &data[..] == b"hello",
//!             _ => {}
//!         }
//!     }
//!     // 1. Input.
//!     for (source, destination, data) in &to_server {
//!         let _ = router.handle_receive(now, Datagram { source: *source, destination: *destination, contents: data });
//!     }
//!     // 2. Timers.
//!     if router.poll_timeout().is_some_and(|t| t <= now) {
//!         router.handle_timeout(now);
//!     }
//!     // 3. Transmits (a socket would send them; here they go to the client).
//!     let mut to_client = Vec::new();
//!     while let Some((_key, t)) = router.poll_transmit() {
//!         to_client.push((t.source, t.destination, t.contents.to_vec()));
//!     }
//!     for (source, destination, data) in &to_client {
//!         let _ = client.handle_receive(now, Datagram { source: *source, destination: *destination, contents: data });
//!     }
//!     // 4. Events: echo every message.
//!     while let Some((key, event)) = router.poll_event() {
//!         if let Event::Connection(PcEvent::Message { id, data, binary }) = event {
//!             router.update(now, key, |pc| pc.send(now, id, data, binary));
//!         }
//!     }
//!     // 5. Sleep until the next deadline (or datagram).
//!     if to_server.is_empty() && to_client.is_empty() {
//!         let next = [router.poll_timeout(), client.poll_timeout()].into_iter().flatten().min();
//!         now = next.unwrap_or(now + Duration::from_millis(10)).max(now);
//!         client.handle_timeout(now);
//!     }
//! }
//! assert_eq!(router.len(), 1);
//! # let _ = chat;
//! ```
//!
//! ## How a datagram finds its connection
//!
//! In O(1), in two keyed hash tables (open addressing, hashed with keys drawn from the router's
//! generator, so a peer cannot pick addresses that collide):
//!
//! - a STUN message with a USERNAME (an ICE check) by the local ufrag it starts with, read from the
//!   datagram without parsing the rest of it or allocating; a STUN message with a USERNAME is routed by it
//!   alone, so after an ICE restart checks with the old ufrag are nobody's;
//! - anything else (DTLS, SRTP, STUN responses and indications) by its path: the (local address, remote
//!   address) it travels on. A connection's paths are learned from the checks it accepted (a check the
//!   connection authenticated, from a new address, files that address) and from its selected pair, so a
//!   path change is followed; a connection keeps its [`MAX_PATHS`] latest, and an authenticated check
//!   takes a path over from the connection that held it.
//!
//! A connection that runs full ICE on the router's side (rather than ICE lite, the usual choice for a
//! server with a public address) gets the responses to its own checks routed once the peer's check on
//! the same path has been accepted; a response that arrives before that is nobody's, and the check is
//! retransmitted.
//!
//! - mDNS (RFC 6762; draft-ietf-mmusic-mdns-ice-candidates): a datagram from or to port 5353 that is not
//!   STUN and on no filed path goes to every connection that has a use for it
//!   ([`Connection::wants_mdns`]): an answer to the connection resolving a peer's `.local` name (its
//!   queries leave from the shared socket, so the answers come back to it from port 5353), a query for a
//!   name hiding one of a connection's addresses (from the caller's socket bound to port 5353). Only the
//!   connections with mDNS under way ([`Connection::mdns_active`], a few at a time: names resolve within
//!   seconds) are asked, in a list the router keeps; each looks at the datagram's header and questions.
//!
//! The keys are refreshed after every call the router makes on a connection (an ICE restart files the new
//! ufrag and drops the old one). Nothing on this path allocates once the tables have grown to their
//! working size; datagrams no connection claims are counted ([`Stats`]) and returned as
//! [`RouteError::NotMine`], so a caller can hand them to something else (a TURN server, a new session).
//!
//! ## Deadlines and reaping
//!
//! Every connection's next deadline sits in an indexed binary heap: [`Router::poll_timeout`] is O(1),
//! moving a deadline is O(log n), and [`Router::handle_timeout`] calls only the connections that are due.
//! A connection that has not connected within [`Config::connect_timeout`] of its insertion (an offer
//! answered, and then no ICE) is closed; a connection that closed or failed is removed once its last
//! datagrams and events have been taken, reported as [`Event::Reaped`], and its memory freed. Its last
//! events (a peer connection's `ConnectionState(Closed)` or `Failed`) come before that, with the
//! connection still there: the moment to take anything from it (statistics, a journal) with
//! [`Router::update`].
//!
//! The router is generic over [`Connection`], implemented for [`PeerConnection`](crate::pc::PeerConnection)
//! and [`RecordedPeerConnection`](crate::record::RecordedPeerConnection), so a server can journal the
//! connections it routes.
//!
//! Connections are held boxed, one allocation each, and the router adds about 330 bytes per connection
//! (its entry with up to [`MAX_PATHS`] paths, its table, heap and queue slots; [`Router::footprint`]).
//! At most [`Config::max_connections`] are held; [`Router::insert`] refuses more.
//!
//! ## Back-pressure
//!
//! An application that cannot take more from one peer for now calls [`Router::pause_events`]: that
//! connection's events stay in it (a peer connection's untaken messages close its SCTP receive window,
//! so the peer slows down) while the others' flow on.
//!
//! ## Not yet
//!
//! Connections that use TURN relays: their relayed traffic arrives from the TURN server, which the
//! router does not map to a connection (RFC 8656 allows one allocation per client 5-tuple, so such
//! connections need a socket of their own anyway).

mod connection;
mod heap;
mod table;

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;
use core::net::SocketAddr;
use core::time::Duration;

pub use connection::{Connection, Status};

use self::heap::DeadlineHeap;
use self::table::{Hasher, Table};
use crate::machine::{Datagram, Transmit};
use crate::rand::SeededRng;
use crate::time::Instant;

const TARGET: &str = "sansrtc::router";

/// Paths (local address, remote address) a connection keeps filed at most.
pub const MAX_PATHS: usize = 3;

/// The router's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Connections held at most (default 10,000): [`Router::insert`] refuses more.
    pub max_connections: usize,
    /// A connection not connected this long after its insertion is closed and reaped (default 30 s).
    pub connect_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config { max_connections: 10_000, connect_timeout: Duration::from_secs(30) }
    }
}

/// A connection's handle in its router: stays unique (a slot reused by a later connection gets a new
/// generation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    slot: u32,
    generation: u32,
}

impl Key {
    /// The slot, below [`Config::max_connections`] (for tables of the caller's).
    pub fn index(self) -> usize {
        self.slot as usize
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.slot, self.generation)
    }
}

/// Why a connection was reaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// It closed (by the application or the peer).
    Closed,
    /// It failed (ICE or DTLS).
    Failed,
    /// It did not connect within [`Config::connect_timeout`] (and was closed).
    NotConnected,
}

/// What the router reports, with the [`Key`] of the connection concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<E> {
    /// An event of the connection's own.
    Connection(E),
    /// The connection is gone: its datagrams and events have all been taken, its keys and memory freed.
    Reaped(Reason),
}

/// Why [`Router::handle_receive`] did not deliver a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteError<E> {
    /// No connection claims it (unknown ufrag, unknown path, or not a datagram a connection takes).
    NotMine,
    /// The connection it routes to rejected it (and counted it).
    Rejected(Key, E),
}

/// Why [`Router::insert`] refused a connection (handed back, boxed).
pub enum InsertError<C> {
    /// The router holds [`Config::max_connections`].
    Full(Box<C>),
    /// Another connection has the same local ufrag.
    UfragInUse(Box<C>),
}

impl<C> fmt::Debug for InsertError<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InsertError::Full(_) => f.write_str("Full"),
            InsertError::UfragInUse(_) => f.write_str("UfragInUse"),
        }
    }
}

impl<C> fmt::Display for InsertError<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InsertError::Full(_) => f.write_str("the router holds its maximum of connections"),
            InsertError::UfragInUse(_) => f.write_str("another connection has the same local ufrag"),
        }
    }
}

impl<C> core::error::Error for InsertError<C> {}

impl<E: fmt::Display> fmt::Display for RouteError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::NotMine => f.write_str("no connection claims the datagram"),
            RouteError::Rejected(key, e) => write!(f, "connection {key} rejected the datagram: {e}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for RouteError<E> {}

/// Counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams handed to a connection.
    pub routed: u64,
    /// STUN messages whose USERNAME names no connection's ufrag.
    pub unknown_ufrag: u64,
    /// Other datagrams on a path no connection has.
    pub unknown_path: u64,
    /// Datagrams a connection rejected.
    pub rejected: u64,
    /// Connections refused because the router was full.
    pub refused: u64,
    /// Connections reaped.
    pub reaped: u64,
    /// Connections closed for not connecting in time.
    pub not_connected: u64,
    /// Paths dropped: a connection's oldest beyond [`MAX_PATHS`], or taken over by another connection.
    pub paths_dropped: u64,
    /// ICE restarts whose new ufrag another connection already had (checks with it are nobody's).
    pub ufrag_conflicts: u64,
    /// mDNS datagrams handed to the connections that wanted them (counted once however many took it).
    pub mdns_routed: u64,
    /// mDNS datagrams (from or to port 5353, on no path) no connection wanted.
    pub mdns_unwanted: u64,
}

/// A connection and what the router keeps about it.
#[derive(Debug)]
struct Entry<C> {
    conn: C,
    /// The 64-bit keyed hash of its current ufrag: the table files its top 32 bits, and a lookup matches
    /// on all 64 without reading the connection (a different ufrag with the same 64-bit hash, a 2^-64
    /// chance, would reach this connection, whose ICE agent rejects it).
    ufrag_hash: u64,
    /// Its paths, with their hashes; `next_path` is where the next one goes (round robin).
    paths: [Option<(SocketAddr, SocketAddr, u32)>; MAX_PATHS],
    next_path: u8,
    /// Until it connects: when it is given up.
    connect_by: Option<Instant>,
    /// In the transmit and event queues.
    in_tx: bool,
    in_ev: bool,
    /// It ended: reaped once its transmits and events are taken.
    ending: Option<Reason>,
    /// Its events are left in it ([`Router::pause_events`]).
    paused: bool,
    /// In the list of connections with mDNS under way.
    in_mdns: bool,
}

#[derive(Debug)]
struct Slot<C> {
    generation: u32,
    entry: Option<Box<Entry<C>>>,
}

/// Many connections on the caller's sockets. See the [module docs](self).
#[derive(Debug)]
pub struct Router<C> {
    config: Config,
    hasher: Hasher,
    now: Instant,
    slots: Vec<Slot<C>>,
    free: Vec<u32>,
    live: usize,
    ufrags: Table,
    paths: Table,
    heap: DeadlineHeap,
    /// Connections that may owe a transmit (their `poll_timeout` had reached `now`).
    tx_ready: VecDeque<u32>,
    /// Connections that may have events.
    ev_ready: VecDeque<u32>,
    /// Due connections, taken from the heap by `handle_timeout`.
    due: Vec<u32>,
    reaped: VecDeque<(Key, Reason)>,
    /// Connections with mDNS under way ([`Connection::mdns_active`]).
    mdns: Vec<u32>,
    stats: Stats,
}

/// The local ufrag of a STUN message's USERNAME (`<local ufrag>:<remote ufrag>`), reading only the
/// header and the attributes up to USERNAME; `None` for anything else (not STUN, no USERNAME).
fn stun_ufrag(datagram: &[u8]) -> Option<&[u8]> {
    const USERNAME: u16 = 0x0006; // RFC 8489 §14.3
    if !crate::stun::is_stun(datagram) {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([*datagram.get(2)?, *datagram.get(3)?]));
    let body = datagram.get(crate::stun::wire::HEADER_LEN..)?.get(..len)?;
    let mut rest = body;
    while let [t0, t1, l0, l1, tail @ ..] = rest {
        let (typ, alen) = (u16::from_be_bytes([*t0, *t1]), usize::from(u16::from_be_bytes([*l0, *l1])));
        let value = tail.get(..alen)?;
        if typ == USERNAME {
            let end = value.iter().position(|&b| b == b':').unwrap_or(value.len());
            return value.get(..end);
        }
        rest = tail.get(alen.next_multiple_of(4)..)?;
    }
    None
}

/// The part of a ufrag's hash the table files.
fn top(hash: u64) -> u32 {
    (hash >> 32) as u32
}

impl<C: Connection> Router<C> {
    /// An empty router. Its hash keys come from `rng`.
    pub fn new(config: Config, mut rng: SeededRng) -> Self {
        let max = config.max_connections.min(u32::MAX as usize - 1);
        let config = Config { max_connections: max, ..config };
        Router {
            hasher: Hasher::new(rng.u64(), rng.u64()),
            now: Instant::ZERO,
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            ufrags: Table::new(max),
            paths: Table::new(max.saturating_mul(MAX_PATHS)),
            heap: DeadlineHeap::default(),
            tx_ready: VecDeque::new(),
            ev_ready: VecDeque::new(),
            due: Vec::new(),
            reaped: VecDeque::new(),
            mdns: Vec::new(),
            stats: Stats::default(),
            config,
        }
    }

    // ----- accessors -----

    /// Connections held.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether no connection is held.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Whether [`Router::insert`] would refuse for lack of room.
    pub fn is_full(&self) -> bool {
        self.live >= self.config.max_connections
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Bytes the router itself holds beyond the connections (its slot vector, tables, heap and queues),
    /// for measuring its footprint.
    pub fn footprint(&self) -> usize {
        let per_slot = core::mem::size_of::<Slot<C>>();
        let boxed = core::mem::size_of::<Entry<C>>() - core::mem::size_of::<C>();
        self.slots.capacity() * per_slot
            + self.live * boxed
            + self.free.capacity() * 4
            + self.ufrags.capacity_bytes()
            + self.paths.capacity_bytes()
            + self.heap.capacity_bytes()
            + (self.tx_ready.capacity() + self.ev_ready.capacity() + self.due.capacity()) * 4
            + self.reaped.capacity() * core::mem::size_of::<(Key, Reason)>()
    }

    /// Paths filed, over every connection.
    pub fn path_count(&self) -> usize {
        self.paths.len()
    }

    /// The connection `key` names, if it is still held.
    pub fn get(&self, key: Key) -> Option<&C> {
        self.entry(key).map(|e| &e.conn)
    }

    /// The keys of every connection held.
    pub fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.entry.is_some())
            .map(|(i, s)| Key { slot: i as u32, generation: s.generation })
    }

    fn entry(&self, key: Key) -> Option<&Entry<C>> {
        let s = self.slots.get(key.slot as usize)?;
        if s.generation != key.generation {
            return None;
        }
        s.entry.as_deref()
    }

    fn entry_at(&mut self, slot: u32) -> Option<&mut Entry<C>> {
        self.slots.get_mut(slot as usize)?.entry.as_deref_mut()
    }

    fn key_at(&self, slot: u32) -> Key {
        Key { slot, generation: self.slots.get(slot as usize).map_or(0, |s| s.generation) }
    }

    /// The connection a datagram would be routed to: by the ufrag of a STUN USERNAME, else by its path
    /// (arriving on `destination` from `source`). Reads nothing beyond the STUN attributes up to
    /// USERNAME, and allocates nothing.
    pub fn route(&self, datagram: &Datagram<'_>) -> Option<Key> {
        self.route_slot(datagram).map(|(slot, _)| self.key_at(slot))
    }

    /// The slot, and whether it was found by ufrag.
    fn route_slot(&self, datagram: &Datagram<'_>) -> Option<(u32, bool)> {
        if let Some(ufrag) = stun_ufrag(datagram.contents) {
            let hash = self.hasher.bytes(ufrag);
            let slot = self.ufrag_slot(hash, u32::MAX)?;
            return Some((slot, true));
        }
        let (local, remote) = (datagram.destination, datagram.source);
        let hash = self.hasher.path(local, remote);
        let slots = &self.slots;
        let slot = self.paths.find(hash, |slot| {
            slots
                .get(slot as usize)
                .and_then(|s| s.entry.as_ref())
                .is_some_and(|e| e.paths.iter().flatten().any(|&(l, r, _)| l == local && r == remote))
        })?;
        Some((slot, false))
    }

    /// The slot whose ufrag hashes to `hash`, other than `except`.
    fn ufrag_slot(&self, hash: u64, except: u32) -> Option<u32> {
        let slots = &self.slots;
        self.ufrags.find(top(hash), |slot| {
            slot != except
                && slots.get(slot as usize).and_then(|s| s.entry.as_ref()).is_some_and(|e| e.ufrag_hash == hash)
        })
    }

    // ----- connections in and out -----

    /// Files a connection (after its signalling has begun: its local ufrag is its first key). It is given
    /// up if it has not connected within [`Config::connect_timeout`]. Then drain transmits and events.
    pub fn insert(&mut self, now: Instant, conn: C) -> Result<Key, InsertError<C>> {
        self.touch(now);
        if self.is_full() {
            self.stats.refused += 1;
            return Err(InsertError::Full(Box::new(conn)));
        }
        let hash = self.hasher.bytes(conn.local_ufrag().as_bytes());
        if self.ufrag_slot(hash, u32::MAX).is_some() {
            return Err(InsertError::UfragInUse(Box::new(conn)));
        }
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Slot { generation: 0, entry: None });
                (self.slots.len() - 1) as u32
            }
        };
        if !self.ufrags.insert(top(hash), slot) {
            // Cannot happen below the bound; refuse rather than hold an unroutable connection.
            self.free.push(slot);
            self.stats.refused += 1;
            return Err(InsertError::Full(Box::new(conn)));
        }
        let connect_by = now.checked_add(self.config.connect_timeout);
        let entry = Entry {
            conn,
            ufrag_hash: hash,
            paths: [None; MAX_PATHS],
            next_path: 0,
            connect_by,
            in_tx: false,
            in_ev: false,
            ending: None,
            paused: false,
            in_mdns: false,
        };
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return Err(InsertError::Full(Box::new(entry.conn)));
        };
        s.entry = Some(Box::new(entry));
        self.live += 1;
        self.sync(slot, true);
        Ok(self.key_at(slot))
    }

    /// Takes a connection out (no [`Event::Reaped`]); its keys are dropped at once.
    pub fn remove(&mut self, key: Key) -> Option<C> {
        self.entry(key)?;
        self.take(key.slot).map(|e| e.conn)
    }

    fn take(&mut self, slot: u32) -> Option<Box<Entry<C>>> {
        let s = self.slots.get_mut(slot as usize)?;
        let entry = s.entry.take()?;
        s.generation = s.generation.wrapping_add(1);
        self.ufrags.remove(top(entry.ufrag_hash), slot);
        for &(_, _, hash) in entry.paths.iter().flatten() {
            self.paths.remove(hash, slot);
        }
        self.heap.set(slot, None);
        if entry.in_tx {
            self.tx_ready.retain(|&s| s != slot);
        }
        if entry.in_ev {
            self.ev_ready.retain(|&s| s != slot);
        }
        if entry.in_mdns {
            self.mdns.retain(|&s| s != slot);
        }
        self.free.push(slot);
        self.live -= 1;
        Some(entry)
    }

    /// Calls `f` on the connection `key` names (to send, close, renegotiate, restart ICE), then files its
    /// new deadline and keys; `None` if it is gone. `now` is the time `f` gives the connection. Then drain
    /// transmits and events (`poll_timeout` says now if the call owes a datagram).
    pub fn update<R>(&mut self, now: Instant, key: Key, f: impl FnOnce(&mut C) -> R) -> Option<R> {
        self.touch(now);
        self.entry(key)?;
        let r = f(&mut self.entry_at(key.slot)?.conn);
        self.sync(key.slot, true);
        Some(r)
    }

    /// Leaves the connection's events in it (`true`) until called again with `false`: for an application
    /// that cannot take more from one peer for now. A peer connection keeps the messages it was not asked
    /// for in SCTP's receive buffer, whose window then closes, so the peer slows down and nothing is
    /// dropped. A paused connection is not reaped until resumed.
    pub fn pause_events(&mut self, key: Key, paused: bool) -> Option<()> {
        self.entry(key)?;
        self.entry_at(key.slot)?.paused = paused;
        if !paused {
            self.sync(key.slot, true);
        }
        Some(())
    }

    // ----- the loop -----

    fn touch(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
    }

    /// Routes one datagram to its connection and hands it over. `Ok` with the connection's key if it took
    /// it; [`RouteError::NotMine`] if no connection claims it (counted); [`RouteError::Rejected`] if the
    /// connection dropped it. Then drain transmits and events.
    pub fn handle_receive(&mut self, now: Instant, datagram: Datagram<'_>) -> Result<Key, RouteError<C::Error>> {
        self.touch(now);
        let Some((slot, by_ufrag)) = self.route_slot(&datagram) else {
            let mdns_port = datagram.source.port() == crate::mdns::wire::PORT
                || datagram.destination.port() == crate::mdns::wire::PORT;
            if mdns_port && !crate::stun::is_stun(datagram.contents) {
                return self.route_mdns(datagram);
            }
            if stun_ufrag(datagram.contents).is_some() {
                self.stats.unknown_ufrag += 1;
            } else {
                self.stats.unknown_path += 1;
            }
            tracing::trace!(target: TARGET, from = %datagram.source, "datagram for no connection");
            return Err(RouteError::NotMine);
        };
        let key = self.key_at(slot);
        let now = self.now;
        let Some(entry) = self.entry_at(slot) else { return Err(RouteError::NotMine) };
        let r = entry.conn.handle_receive(now, datagram);
        let r = match r {
            Ok(()) => {
                self.stats.routed += 1;
                // An authenticated check: the path it came on leads to this connection.
                if by_ufrag {
                    self.file_path(slot, datagram.destination, datagram.source, true);
                }
                Ok(key)
            }
            Err(e) => {
                self.stats.rejected += 1;
                Err(RouteError::Rejected(key, e))
            }
        };
        self.sync(slot, true);
        r
    }

    /// An mDNS datagram on no path: to every connection with mDNS under way that wants it. The key of
    /// the first that took it; `Rejected` if the ones that wanted it all rejected it.
    fn route_mdns(&mut self, datagram: Datagram<'_>) -> Result<Key, RouteError<C::Error>> {
        let mut due = core::mem::take(&mut self.due);
        due.clear();
        due.extend_from_slice(&self.mdns);
        let now = self.now;
        let mut taken = None;
        let mut rejected = None;
        for &slot in &due {
            let key = self.key_at(slot);
            let Some(entry) = self.entry_at(slot) else { continue };
            if !entry.conn.wants_mdns(&datagram) {
                continue;
            }
            match entry.conn.handle_receive(now, datagram) {
                Ok(()) => {
                    taken.get_or_insert(key);
                }
                Err(e) => {
                    rejected.get_or_insert((key, e));
                }
            }
            self.sync(slot, true);
        }
        self.due = due;
        match (taken, rejected) {
            (Some(key), _) => {
                self.stats.routed += 1;
                self.stats.mdns_routed += 1;
                Ok(key)
            }
            (None, Some((key, e))) => {
                self.stats.rejected += 1;
                Err(RouteError::Rejected(key, e))
            }
            (None, None) => {
                tracing::trace!(target: TARGET, from = %datagram.source, "mDNS datagram for no connection");
                self.stats.mdns_unwanted += 1;
                Err(RouteError::NotMine)
            }
        }
    }

    /// Calls the connections whose deadline is due (and gives up on those that did not connect in time).
    /// Then drain transmits and events.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.touch(now);
        let now = self.now;
        let mut due = core::mem::take(&mut self.due);
        due.clear();
        while let Some((t, _)) = self.heap.peek() {
            if t > now {
                break;
            }
            let Some(slot) = self.heap.pop() else { break };
            due.push(slot);
        }
        for &slot in &due {
            let Some(entry) = self.entry_at(slot) else { continue };
            if entry.ending.is_none() && entry.connect_by.is_some_and(|t| t <= now) {
                tracing::debug!(target: TARGET, slot, "not connected in time: closing");
                entry.ending = Some(Reason::NotConnected);
                entry.connect_by = None;
                entry.conn.close(now);
                self.stats.not_connected += 1;
            } else if entry.conn.poll_timeout().is_some_and(|t| t <= now) {
                entry.conn.handle_timeout(now);
            }
            self.sync(slot, true);
        }
        self.due = due;
    }

    /// The earliest deadline of any connection: now when one owes a transmit. O(1).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.heap.peek().map(|(t, _)| t)
    }

    /// The next datagram to send, from any connection, with the connection's key; `None` when no
    /// connection owes one. Valid until the next call on the router; call until `None`.
    ///
    /// A connection is asked only while its `poll_timeout` says it owes something at the latest `now`;
    /// if that was a due timer rather than a datagram (a caller that skipped step 2 of the loop), this
    /// returns `None` early, and `poll_timeout` still says now, so the next turn of the loop sends the rest.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<(Key, Transmit<'_>)> {
        let now = self.now;
        let slot = loop {
            let &slot = self.tx_ready.front()?;
            let Some(entry) = self.entry_at(slot) else {
                self.tx_ready.pop_front();
                continue;
            };
            if entry.conn.poll_timeout().is_some_and(|t| t <= now) {
                break slot;
            }
            entry.in_tx = false;
            self.tx_ready.pop_front();
            self.sync(slot, false);
        };
        let key = self.key_at(slot);
        let entry = self.slots.get_mut(slot as usize)?.entry.as_deref_mut()?;
        entry.conn.poll_transmit().map(|t| (key, t))
    }

    /// The next event, from any connection or about one: [`Event::Connection`] with a connection's own
    /// events, [`Event::Reaped`] when a connection is gone. Call until `None`.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<(Key, Event<C::Event>)> {
        loop {
            if let Some((key, reason)) = self.reaped.pop_front() {
                return Some((key, Event::Reaped(reason)));
            }
            let &slot = self.ev_ready.front()?;
            let key = self.key_at(slot);
            let Some(entry) = self.entry_at(slot) else {
                self.ev_ready.pop_front();
                continue;
            };
            if entry.paused {
                entry.in_ev = false;
                self.ev_ready.pop_front();
                continue;
            }
            if let Some(e) = entry.conn.poll_event() {
                return Some((key, Event::Connection(e)));
            }
            entry.in_ev = false;
            self.ev_ready.pop_front();
            // Taking events may owe the peer something (a window update): file the new deadline.
            self.sync(slot, false);
        }
    }

    // ----- keys, deadlines, reaping -----

    /// Files a path for `slot`. An authenticated check (`take_over`) takes it from another connection
    /// that had it; a selected pair does not (the other connection's check came later, or this one's
    /// pair is stale), so two connections never take a path back and forth.
    fn file_path(&mut self, slot: u32, local: SocketAddr, remote: SocketAddr, take_over: bool) {
        let hash = self.hasher.path(local, remote);
        let Some(entry) = self.entry_at(slot) else { return };
        if entry.paths.iter().flatten().any(|&(l, r, _)| l == local && r == remote) {
            return;
        }
        // Another connection's: it is this one's now (the check proved it).
        let slots = &self.slots;
        let holder = self.paths.find(hash, |s| {
            slots
                .get(s as usize)
                .and_then(|s| s.entry.as_ref())
                .is_some_and(|e| e.paths.iter().flatten().any(|&(l, r, _)| l == local && r == remote))
        });
        if let Some(other) = holder {
            if !take_over {
                return;
            }
            self.paths.remove(hash, other);
            if let Some(e) = self.entry_at(other) {
                for p in &mut e.paths {
                    if p.is_some_and(|(l, r, _)| l == local && r == remote) {
                        *p = None;
                    }
                }
            }
            self.stats.paths_dropped += 1;
        }
        let Some(entry) = self.entry_at(slot) else { return };
        let selected = entry.conn.selected_path();
        // A free place, else the oldest that is not the selected path.
        let at = match entry.paths.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                let mut i = usize::from(entry.next_path) % MAX_PATHS;
                for _ in 0..MAX_PATHS {
                    let is_selected = entry.paths.get(i).copied().flatten().map(|(l, r, _)| (l, r)) == selected;
                    if !is_selected {
                        break;
                    }
                    i = (i + 1) % MAX_PATHS;
                }
                i
            }
        };
        entry.next_path = ((at + 1) % MAX_PATHS) as u8;
        let old = entry.paths.get_mut(at).and_then(|p| p.replace((local, remote, hash)));
        if let Some((_, _, old_hash)) = old {
            self.paths.remove(old_hash, slot);
            self.stats.paths_dropped += 1;
        }
        if !self.paths.insert(hash, slot)
            && let Some(e) = self.entry_at(slot)
            && let Some(p) = e.paths.get_mut(at)
        {
            *p = None;
        }
    }

    /// After a call on a connection: refile its ufrag (ICE restart) and selected path (path change),
    /// note whether it connected or ended, file its deadline, queue it for transmits (when its deadline
    /// says one may be owed) and for events (`events`), and reap it if it ended and is drained.
    fn sync(&mut self, slot: u32, events: bool) {
        let now = self.now;
        let hasher = self.hasher;
        let Some(entry) = self.entry_at(slot) else { return };
        let hash = hasher.bytes(entry.conn.local_ufrag().as_bytes());
        let old_hash = entry.ufrag_hash;
        let selected = entry.conn.selected_path();
        match entry.conn.status() {
            Status::Connecting => {}
            Status::Connected => entry.connect_by = None,
            Status::Closed => {
                entry.ending.get_or_insert(Reason::Closed);
            }
            Status::Failed => {
                entry.ending.get_or_insert(Reason::Failed);
            }
        }
        let conn_deadline = entry.conn.poll_timeout();
        let deadline = match (conn_deadline, entry.connect_by.filter(|_| entry.ending.is_none())) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let owes = conn_deadline.is_some_and(|t| t <= now);
        let queue_tx = owes && !entry.in_tx;
        entry.in_tx |= owes;
        let queue_ev = events && !entry.in_ev && !entry.paused;
        entry.in_ev |= queue_ev;
        let drained = entry.ending.is_some() && !entry.in_tx && !entry.in_ev && !entry.paused;
        let mdns = entry.conn.mdns_active() && entry.ending.is_none();
        let mdns_changed = mdns != entry.in_mdns;
        entry.in_mdns = mdns;
        if mdns_changed {
            if mdns {
                self.mdns.push(slot);
            } else {
                self.mdns.retain(|&s| s != slot);
            }
        }
        if queue_tx {
            self.tx_ready.push_back(slot);
        }
        if queue_ev {
            self.ev_ready.push_back(slot);
        }
        if hash != old_hash {
            self.refile_ufrag(slot, old_hash, hash);
        }
        if let Some((local, remote)) = selected {
            self.file_path(slot, local, remote, false);
        }
        if drained {
            self.reap(slot);
        } else {
            self.heap.set(slot, deadline);
        }
    }

    /// ICE restart: the new ufrag replaces the old one.
    fn refile_ufrag(&mut self, slot: u32, old_hash: u64, hash: u64) {
        self.ufrags.remove(top(old_hash), slot);
        let conflict = self.ufrag_slot(hash, slot).is_some();
        if conflict || !self.ufrags.insert(top(hash), slot) {
            self.stats.ufrag_conflicts += 1;
        }
        if let Some(e) = self.entry_at(slot) {
            e.ufrag_hash = hash;
        }
        tracing::debug!(target: TARGET, slot, "ufrag changed");
    }

    fn reap(&mut self, slot: u32) {
        let key = self.key_at(slot);
        let Some(entry) = self.take(slot) else { return };
        let reason = entry.ending.unwrap_or(Reason::Closed);
        tracing::debug!(target: TARGET, %key, ?reason, "reaped");
        self.stats.reaped += 1;
        if self.reaped.len() >= self.config.max_connections.max(1) {
            // Notices nobody takes: the oldest goes (bounded like every queue).
            self.reaped.pop_front();
        }
        self.reaped.push_back((key, reason));
        drop(entry);
    }
}
