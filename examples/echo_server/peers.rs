//! The UDP side: every peer connection on one socket, driven by one thread (or one tokio task).
//!
//! Datagrams are routed to their connection in O(1): a STUN binding request by the local ufrag of its
//! USERNAME (a map on [`PeerConnection::local_ufrag`]), anything else by its source address (a map filled
//! with the addresses whose checks the connection accepted, and its selected pair's remote address).

use super::alloc::collections::VecDeque;
use core::net::SocketAddr;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::collections::HashMap;
use std::io;
use std::net::UdpSocket;
use std::sync::mpsc::Receiver;

use bytes::Bytes;
use sansrtc::pc::{self, ChannelId, ChannelOptions, ConnectionState, Description, Event, PeerConnection};
use sansrtc::{Instant, Machine, PathMachine, SeededRng, StdAnchor};

use super::OfferRequest;

/// `a=max-message-size` we advertise.
const MAX_MESSAGE_SIZE: u64 = 262_144;
/// Echoes are handed to the connection while its channel's buffered amount is below this; later ones wait.
const SEND_HIGH: usize = 4 * 1024 * 1024;
/// Echoes waiting per connection above which the server stops taking its events: messages not taken stay
/// in the connection, counted in its SCTP receive window, so the browser's sends slow down instead of
/// echoes being dropped or memory growing (back-pressure end to end).
const PENDING_HIGH: usize = 1024 * 1024;
/// Peer connections served at once.
const MAX_PEERS: usize = 4096;
/// The negotiated channel every connection pre-creates.
const NEGOTIATED_ID: u16 = 7;
/// A connection that has not connected this long after its answer is removed (the browser went away).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

struct Peer {
    pc: PeerConnection,
    name: String,
    /// Echoes waiting for room in the send buffer, per channel.
    pending: HashMap<ChannelId, VecDeque<(Bytes, bool)>>,
    pending_bytes: usize,
    labels: HashMap<ChannelId, String>,
    addrs: Vec<SocketAddr>,
    ufrag: String,
    /// When the answer was made; `None` once connected.
    connecting_since: Option<Instant>,
    messages: u64,
    bytes: u64,
}

/// Where the connections' datagrams go: the std socket here, a tokio one in `examples/tokio_echo.rs`.
pub trait SendTo {
    /// Sends one datagram (best effort: a lost datagram is recovered by the protocols above).
    fn send_datagram(&self, data: &[u8], to: SocketAddr) -> io::Result<()>;
}

impl SendTo for UdpSocket {
    fn send_datagram(&self, data: &[u8], to: SocketAddr) -> io::Result<()> {
        self.send_to(data, to).map(drop)
    }
}

/// Every peer connection on one socket, with O(1) routing of datagrams.
pub struct Peers<S: SendTo> {
    socket: S,
    local: SocketAddr,
    anchor: StdAnchor,
    rng: SeededRng,
    slots: Vec<Option<Peer>>,
    by_ufrag: HashMap<String, usize>,
    by_addr: HashMap<SocketAddr, usize>,
    next_name: u64,
    unmatched: u64,
}

/// Runs until `stop` is set: answers offers and drives the peer connections.
pub fn run(socket: UdpSocket, offers: Receiver<OfferRequest>, stop: &AtomicBool) -> io::Result<()> {
    let local = socket.local_addr()?;
    let mut peers = Peers::new(socket, local)?;
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::Relaxed) {
        while let Ok(req) = offers.try_recv() {
            let answer = peers.answer(&req.sdp);
            let _ = req.reply.send(answer);
        }
        let now = peers.anchor.now();
        peers.timeouts(now);
        // Sleep in the socket until the earliest deadline (or a datagram, or a wake-up from the HTTP thread).
        let wait = peers
            .deadline()
            .map(|t| t.saturating_duration_since(now))
            .unwrap_or(Duration::from_secs(1))
            .clamp(Duration::from_millis(1), Duration::from_secs(1));
        peers.socket.set_read_timeout(Some(wait))?;
        match peers.socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                peers.receive(from, buf.get(..n).unwrap_or(&[]));
                // Drain whatever else is already queued before looking at timers again.
                peers.socket.set_nonblocking(true)?;
                for _ in 0..256 {
                    match peers.socket.recv_from(&mut buf) {
                        Ok((n, from)) => peers.receive(from, buf.get(..n).unwrap_or(&[])),
                        Err(_) => break,
                    }
                }
                peers.socket.set_nonblocking(false)?;
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
            Err(e) => return Err(e),
        }
    }
    peers.close_all();
    Ok(())
}

impl<S: SendTo> Peers<S> {
    /// No connections yet; datagrams go out through `socket`, which is bound to `local`.
    pub fn new(socket: S, local: SocketAddr) -> io::Result<Self> {
        let rng = SeededRng::from_os().map_err(|e| io::Error::other(format!("OS random source: {e}")))?;
        Ok(Peers {
            socket,
            local,
            anchor: StdAnchor::starting_now(),
            rng,
            slots: Vec::new(),
            by_ufrag: HashMap::new(),
            by_addr: HashMap::new(),
            next_name: 1,
            unmatched: 0,
        })
    }

    /// The clock the connections run on.
    pub fn now(&self) -> Instant {
        self.anchor.now()
    }

    /// The clock's anchor, to turn deadlines into `std` instants.
    pub fn anchor(&self) -> &StdAnchor {
        &self.anchor
    }

    /// Closes every connection (sending what closing sends).
    pub fn close_all(&mut self) {
        let now = self.anchor.now();
        for i in 0..self.slots.len() {
            if let Some(p) = self.slots.get_mut(i).and_then(Option::as_mut) {
                p.pc.close(now);
            }
            self.flush(i);
        }
        println!("udp: {} peer connections closed, {} unmatched datagrams dropped", self.count(), self.unmatched);
    }

    fn count(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// Answers an offer with a new connection; returns the answer's SDP.
    pub fn answer(&mut self, offer: &str) -> Result<String, String> {
        if self.count() >= MAX_PEERS {
            return Err(format!("too many peer connections ({MAX_PEERS})"));
        }
        let now = self.anchor.now();
        let mut config = pc::Config { max_message_size: MAX_MESSAGE_SIZE, ..pc::Config::default() };
        // A server with a public address needs no checks of its own: ICE lite (RFC 8445 §2.5).
        config.ice.lite = true;
        let mut conn = PeerConnection::new(config, self.rng.fork());
        let err = |e: pc::Error| e.to_string();
        conn.add_local_host(now, self.local).map_err(err)?;
        conn.end_of_local_candidates(now);
        conn.set_remote_description(now, &Description::offer(offer)).map_err(err)?;
        let mut negotiated = ChannelOptions::new("negotiated");
        negotiated.negotiated = Some(NEGOTIATED_ID);
        let neg = conn.create_data_channel(now, negotiated).map_err(err)?;
        let answer = conn.create_answer().map_err(err)?;
        conn.set_local_description(now, &answer).map_err(err)?;
        let name = format!("peer{}", self.next_name);
        self.next_name += 1;
        let ufrag = conn.local_ufrag().to_string();
        let mut labels = HashMap::new();
        labels.insert(neg, "negotiated".to_string());
        let peer = Peer {
            pc: conn,
            name: name.clone(),
            pending: HashMap::new(),
            pending_bytes: 0,
            labels,
            addrs: Vec::new(),
            ufrag: ufrag.clone(),
            connecting_since: Some(now),
            messages: 0,
            bytes: 0,
        };
        let slot = match self.slots.iter().position(Option::is_none) {
            Some(i) => {
                self.slots[i] = Some(peer);
                i
            }
            None => {
                self.slots.push(Some(peer));
                self.slots.len() - 1
            }
        };
        self.by_ufrag.insert(ufrag.clone(), slot);
        println!("{name}: offer answered (ufrag {ufrag}), {} peer connections", self.count());
        self.flush(slot);
        Ok(answer.sdp)
    }

    /// The earliest deadline of any connection.
    pub fn deadline(&self) -> Option<Instant> {
        self.slots.iter().flatten().filter_map(|p| p.pc.poll_timeout()).min()
    }

    /// Runs the timers that are due.
    pub fn timeouts(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            let stale = self.slots[i]
                .as_ref()
                .and_then(|p| p.connecting_since)
                .is_some_and(|t| now.saturating_duration_since(t) > CONNECT_TIMEOUT);
            if stale {
                if let Some(p) = self.slots[i].as_mut() {
                    println!("{}: not connected after {CONNECT_TIMEOUT:?}, closing", p.name);
                    p.pc.close(now);
                }
                self.flush(i);
                self.remove(i);
                continue;
            }
            let due = self.slots[i].as_ref().and_then(|p| p.pc.poll_timeout()).is_some_and(|t| t <= now);
            if due {
                if let Some(p) = self.slots[i].as_mut() {
                    p.pc.handle_timeout(now);
                }
                self.flush(i);
            }
        }
    }

    /// Routes one received datagram to its connection (zero-length ones are wake-ups and ignored).
    pub fn receive(&mut self, from: SocketAddr, data: &[u8]) {
        if data.is_empty() {
            return; // a wake-up from the HTTP thread
        }
        let by_ufrag = pc::stun_username_local_ufrag(data).and_then(|u| self.by_ufrag.get(u).copied());
        let Some(i) = by_ufrag.or_else(|| self.by_addr.get(&from).copied()) else {
            self.unmatched += 1;
            return;
        };
        let now = self.anchor.now();
        let Some(p) = self.slots.get_mut(i).and_then(Option::as_mut) else { return };
        let datagram = sansrtc::Datagram { source: from, destination: self.local, contents: data };
        let accepted = p.pc.handle_receive(now, datagram).is_ok();
        // An authenticated check from a new address: file the address for what follows (DTLS).
        if accepted && by_ufrag.is_some() && !p.addrs.contains(&from) && p.addrs.len() < 8 {
            p.addrs.push(from);
            self.by_addr.insert(from, i);
        }
        self.flush(i);
    }

    /// Sends what the connection queued, handles its events and moves waiting echoes along.
    fn flush(&mut self, i: usize) {
        let now = self.anchor.now();
        let Some(p) = self.slots.get_mut(i).and_then(Option::as_mut) else { return };
        let mut closed = false;
        let mut rounds = 0;
        loop {
            rounds += 1;
            let mut progress = false;
            while let Some(t) = p.pc.poll_transmit() {
                if let Err(e) = self.socket.send_datagram(t.contents, t.destination) {
                    println!("{}: send to {} failed: {e}", p.name, t.destination);
                }
            }
            while p.pending_bytes < PENDING_HIGH
                && let Some(ev) = p.pc.poll_event()
            {
                progress = true;
                match ev {
                    Event::Message { id, data, binary } => {
                        p.messages += 1;
                        p.bytes += data.len() as u64;
                        p.pending_bytes += data.len();
                        p.pending.entry(id).or_default().push_back((data, binary));
                    }
                    Event::DataChannel { id, label, protocol } => {
                        let o = p.pc.channel_options(id).cloned();
                        println!(
                            "{}: channel {id} {label:?} opened by the peer (protocol {protocol:?}, ordered {:?}, {:?})",
                            p.name,
                            o.as_ref().map(|o| o.ordered),
                            o.as_ref().map(|o| o.reliability)
                        );
                        p.labels.insert(id, label);
                    }
                    Event::ChannelOpen(id) => println!("{}: channel {id} {:?} open", p.name, p.labels.get(&id)),
                    Event::ChannelClose(id) => {
                        println!("{}: channel {id} {:?} closed", p.name, p.labels.get(&id));
                        if let Some(q) = p.pending.remove(&id) {
                            p.pending_bytes -= q.iter().map(|(d, _)| d.len()).sum::<usize>();
                        }
                    }
                    Event::ConnectionState(s) => {
                        println!("{}: connection {s:?}", p.name);
                        if s == ConnectionState::Connected {
                            p.connecting_since = None;
                        }
                        closed |= matches!(s, ConnectionState::Closed | ConnectionState::Failed);
                    }
                    Event::IceConnectionState(s) => println!("{}: ICE {s:?}", p.name),
                    _ => {}
                }
            }
            // Echo, in order per channel, while the channel's send buffer has room.
            for (&id, q) in p.pending.iter_mut() {
                while let Some((data, _)) = q.front() {
                    if p.pc.buffered_amount(id) + data.len() > SEND_HIGH && p.pc.buffered_amount(id) > 0 {
                        break;
                    }
                    let Some((data, binary)) = q.pop_front() else { break };
                    let len = data.len();
                    match p.pc.send(now, id, data.clone(), binary) {
                        Ok(()) => {
                            p.pending_bytes -= len;
                            progress = true;
                        }
                        Err(pc::Error::DataChannel(_)) if p.pc.buffered_amount(id) > 0 => {
                            // Send buffer full after all: wait for acknowledgements.
                            q.push_front((data, binary));
                            break;
                        }
                        Err(e) => {
                            println!("{}: echo on channel {id} failed: {e}", p.name);
                            p.pending_bytes -= len;
                        }
                    }
                }
            }
            if !progress || rounds > 64 {
                break;
            }
        }
        while let Some(t) = p.pc.poll_transmit() {
            let _ = self.socket.send_datagram(t.contents, t.destination);
        }
        if closed {
            self.remove(i);
        }
    }

    /// Forgets a connection and its routing entries.
    fn remove(&mut self, i: usize) {
        let Some(p) = self.slots.get_mut(i).and_then(Option::take) else { return };
        println!("{}: removed after {} messages / {} bytes echoed", p.name, p.messages, p.bytes);
        self.by_ufrag.remove(&p.ufrag);
        for a in &p.addrs {
            self.by_addr.remove(a);
        }
    }
}
