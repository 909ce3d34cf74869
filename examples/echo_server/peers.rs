//! The UDP side: every peer connection on one socket, driven by one thread (or one tokio task).
//!
//! Datagrams are routed to their connection in O(1): a STUN binding request by the local ufrag of its
//! USERNAME (a map on [`PeerConnection::local_ufrag`]), anything else by its source address (a map filled
//! with the addresses whose checks the connection accepted, and its selected pair's remote address).
//!
//! ## TURN mode ([`TurnOptions`], std loop only)
//!
//! RFC 8656 §2.2 allows one allocation per client 5-tuple, so peer connections cannot each allocate from
//! the shared socket (coturn answers the second Allocate with 437 Allocation Mismatch). In TURN mode every
//! peer connection therefore gets a UDP socket of its own, on an ephemeral port of the shared socket's
//! IP, used for everything it sends and receives: its allocation on the TURN server and, unless
//! relay-only, its host candidate (so no routing between connections is needed at all). A small reader
//! thread per connection blocks on that socket and hands each datagram to the driving thread over a
//! channel, waking it with a zero-length datagram on the shared socket (which then carries only
//! wake-ups); the driving thread still owns every connection. The connections run full ICE (a relayed
//! candidate must be checked from our side too: ICE lite is only for a public host address), and the
//! answer is sent once gathering is complete, so it carries the relay candidate (no trickle over this
//! HTTP endpoint). This costs a thread and a socket per connection, hence a lower connection cap.

use super::alloc::collections::{BinaryHeap, VecDeque};
use super::alloc::sync::Arc;
use core::cmp::Reverse;
use core::net::SocketAddr;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::collections::HashMap;
use std::io;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, SyncSender, sync_channel};
use std::thread::JoinHandle;

use bytes::Bytes;
use sansrtc::pc::{
    self, ChannelId, ChannelOptions, ConnectionState, Description, Event, IceGatheringState, IceTransportPolicy,
    TurnConfig,
};
use sansrtc::{Instant, Machine, PathMachine, SeededRng, StdAnchor};

use super::conn::{Conn, Recording, new_conn};
use super::media::MediaEcho;
use super::{Answer, Command, OfferRequest, Refused};

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
/// Peer connections served at once in TURN mode (a socket and a thread each).
const MAX_TURN_PEERS: usize = 256;
/// Datagrams waiting between the own sockets' readers and the driving thread; more are dropped, as a full
/// socket buffer would.
const RECEIVED_MAX: usize = 4096;

/// TURN mode: every peer connection allocates a relayed address on this server (see the module docs).
#[derive(Clone, Debug)]
pub struct TurnOptions {
    /// The TURN server (UDP).
    pub server: SocketAddr,
    /// Long-term credential username.
    pub username: String,
    /// Long-term credential password.
    pub credential: String,
    /// Offer and use relay candidates only (W3C `iceTransportPolicy: "relay"`).
    pub relay_only: bool,
}

/// A datagram a connection's own socket received, on its way to the driving thread.
struct Received {
    slot: usize,
    peer_id: u64,
    from: SocketAddr,
    data: Vec<u8>,
}

/// A connection's own socket in TURN mode and the thread reading it.
struct OwnSocket {
    socket: UdpSocket,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl OwnSocket {
    /// Binds an ephemeral port on `ip` and starts its reader, which sends what arrives to `to` and wakes
    /// the driving thread with a zero-length datagram to `wake`.
    fn open(
        ip: core::net::IpAddr,
        slot: usize,
        peer_id: u64,
        to: SyncSender<Received>,
        wake: SocketAddr,
    ) -> io::Result<Self> {
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0))?;
        let addr = socket.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let reading = socket.try_clone()?;
        reading.set_read_timeout(Some(Duration::from_millis(200)))?;
        let stop_reader = stop.clone();
        let reader = std::thread::Builder::new().name(format!("udp-peer{peer_id}")).spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while !stop_reader.load(Ordering::Relaxed) {
                match reading.recv_from(&mut buf) {
                    Ok((n, from)) => {
                        let data = buf.get(..n).unwrap_or(&[]).to_vec();
                        if data.is_empty() || to.try_send(Received { slot, peer_id, from, data }).is_err() {
                            continue;
                        }
                        let _ = reading.send_to(&[], wake);
                    }
                    Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                    Err(_) => break,
                }
            }
        })?;
        Ok(OwnSocket { socket, addr, stop, reader: Some(reader) })
    }
}

impl Drop for OwnSocket {
    fn drop(&mut self) {
        // The reader notices within its read timeout; it is joined only at shutdown (`close_all`).
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// TURN mode's state in [`Peers`].
struct Turn {
    options: TurnOptions,
    to_loop: SyncSender<Received>,
    received: Receiver<Received>,
}

struct Peer {
    /// Journaled into its file with `--record DIR`.
    pc: Conn,
    /// `--record DIR`: the connection's journal and capture files (`DIR/peerN-SESSION.journal`, `.pcapng`).
    recording: Option<Recording>,
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
    /// Unique per connection (slots are reused).
    id: u64,
    /// TURN mode: the connection's own socket.
    own: Option<OwnSocket>,
    /// TURN mode: where to send the answer once gathering is complete.
    reply: Option<Sender<Result<Answer, Refused>>>,
    /// The session: the last segment of its WHIP/WHEP URL (random, so that it cannot be guessed).
    session: String,
    /// The deadline filed in [`Peers`]' timer heap for this connection (entries that differ are stale).
    scheduled: Option<Instant>,
    /// Its audio and video echoed back.
    media: MediaEcho,
}

impl Peer {
    /// Appends what the journal and the capture wrote since the last call to their files.
    fn save_journal(&mut self) {
        let Some(recording) = self.recording.as_mut() else { return };
        if let Err(e) = recording.save(&mut self.pc) {
            println!("{}: journal or capture not written ({e}); recording stops", self.name);
            self.recording = None;
        }
    }

    /// When the connection next needs the loop: its own timers, or giving up on connecting.
    fn deadline(&self) -> Option<Instant> {
        let give_up = self.connecting_since.map(|t| t + CONNECT_TIMEOUT + Duration::from_millis(1));
        match (self.pc.poll_timeout(), give_up) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Echoes what waits, in order per channel, while the channel's send buffer has room.
    fn echo_waiting(&mut self, now: Instant) {
        for (&id, q) in self.pending.iter_mut() {
            while let Some((data, _)) = q.front() {
                if self.pc.buffered_amount(id) + data.len() > SEND_HIGH && self.pc.buffered_amount(id) > 0 {
                    break;
                }
                let Some((data, binary)) = q.pop_front() else { break };
                let len = data.len();
                match self.pc.send(now, id, data.clone(), binary) {
                    Ok(()) => {
                        self.pending_bytes -= len;
                    }
                    Err(pc::Error::DataChannel(_)) if self.pc.buffered_amount(id) > 0 => {
                        // Send buffer full after all: wait for acknowledgements.
                        q.push_front((data, binary));
                        break;
                    }
                    Err(e) => {
                        println!("{}: echo on channel {id} failed: {e}", self.name);
                        self.pending_bytes -= len;
                    }
                }
            }
        }
    }
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
    /// Empty slots, for reuse.
    free: Vec<usize>,
    /// Connections in `slots`.
    live: usize,
    /// Every connection's next deadline (earliest first) as (deadline, slot, connection id); entries that
    /// no longer match the connection's `scheduled` are skipped. Finding what is due costs O(log n), not a
    /// scan over the connections.
    timers: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    by_ufrag: HashMap<String, usize>,
    by_addr: HashMap<SocketAddr, usize>,
    by_session: HashMap<String, usize>,
    next_name: u64,
    unmatched: u64,
    turn: Option<Turn>,
    /// `--record DIR`: where each connection's journal goes.
    record: Option<PathBuf>,
    /// The wall-clock time (since the Unix epoch) of the clock's zero, for the captures' timestamps.
    epoch: Duration,
    /// Full ICE rather than ICE lite (see [`PeerOptions::full_ice`]).
    pub full_ice: bool,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.save_journal();
    }
}

/// Runs until `stop` is set: answers offers and drives the peer connections.
pub fn run(socket: UdpSocket, commands: Receiver<Command>, stop: &AtomicBool) -> io::Result<()> {
    run_with_turn(socket, commands, stop, None)
}

/// [`run`], in TURN mode when `turn` is given (see the module docs).
pub fn run_with_turn(
    socket: UdpSocket,
    commands: Receiver<Command>,
    stop: &AtomicBool,
    turn: Option<TurnOptions>,
) -> io::Result<()> {
    run_recording(socket, commands, stop, turn, PeerOptions::default())
}

/// How the connections run besides TURN.
#[derive(Clone, Debug, Default)]
pub struct PeerOptions {
    /// `--record DIR`: journal every connection into this directory; each file replays with
    /// `cargo run --example replay -- FILE` (see `docs/journal.md`).
    pub record: Option<PathBuf>,
    /// `--full-ice`: run full ICE rather than ICE lite, so that the server checks the peer's candidates
    /// too and reaches a peer whose candidates its own address cannot be paired with from the peer's
    /// side (Firefox offers no loopback candidate and will not pair its own with the server's
    /// `127.0.0.1`; checks from the server find the way as peer-reflexive candidates).
    pub full_ice: bool,
}

/// [`run_with_turn`] with [`PeerOptions`].
pub fn run_recording(
    socket: UdpSocket,
    commands: Receiver<Command>,
    stop: &AtomicBool,
    turn: Option<TurnOptions>,
    options: PeerOptions,
) -> io::Result<()> {
    let local = socket.local_addr()?;
    let mut peers = Peers::new(socket, local)?;
    peers.record = options.record;
    peers.full_ice = options.full_ice;
    if let Some(options) = turn {
        let (to_loop, received) = sync_channel(RECEIVED_MAX);
        peers.turn = Some(Turn { options, to_loop, received });
    }
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::Relaxed) {
        while let Ok(command) = commands.try_recv() {
            peers.command(command);
        }
        peers.receive_own();
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
            epoch: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default(),
            rng,
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            timers: BinaryHeap::new(),
            by_ufrag: HashMap::new(),
            by_addr: HashMap::new(),
            by_session: HashMap::new(),
            next_name: 1,
            unmatched: 0,
            turn: None,
            record: None,
            full_ice: false,
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

    /// Closes every connection (sending what closing sends: with TURN, the release of its allocation).
    pub fn close_all(&mut self) {
        let now = self.anchor.now();
        for i in 0..self.slots.len() {
            if let Some(p) = self.slots.get_mut(i).and_then(Option::as_mut) {
                p.pc.close(now);
            }
            self.flush(i);
        }
        println!("udp: {} peer connections closed, {} unmatched datagrams dropped", self.count(), self.unmatched);
        for p in self.slots.iter_mut().flatten() {
            if let Some(mut own) = p.own.take() {
                own.stop.store(true, Ordering::Relaxed);
                if let Some(t) = own.reader.take() {
                    let _ = t.join();
                }
            }
        }
    }

    fn count(&self) -> usize {
        self.live
    }

    /// Carries out a command from the HTTP side.
    pub fn command(&mut self, command: Command) {
        match command {
            Command::Offer(req) => self.offer(req),
            Command::Stats(reply) => {
                let _ = reply.send(self.stats_json());
            }
            Command::Delete { session, reply } => {
                let _ = reply.send(self.delete(&session));
            }
            Command::Exists { session, reply } => {
                let _ = reply.send(self.by_session.contains_key(&session));
            }
        }
    }

    /// The W3C statistics of every live connection, as JSON:
    /// `{"timestamp": ms, "connections": [{"session", "name", "connectionState", "stats": [...]}]}`.
    #[cfg(feature = "serde")]
    pub fn stats_json(&self) -> Result<String, String> {
        let now = self.anchor.now();
        let connections: Vec<serde_json::Value> = self
            .slots
            .iter()
            .flatten()
            .map(|p| {
                serde_json::json!({
                    "session": p.session,
                    "name": p.name,
                    "connectionState": p.pc.connection_state().as_str(),
                    "stats": p.pc.stats_report(now),
                })
            })
            .collect();
        let timestamp = now.as_nanos() as f64 / 1e6;
        serde_json::to_string(&serde_json::json!({ "timestamp": timestamp, "connections": connections }))
            .map_err(|e| e.to_string())
    }

    /// Without the `serde` feature there is no JSON writer for the statistics.
    #[cfg(not(feature = "serde"))]
    pub fn stats_json(&self) -> Result<String, String> {
        Err("statistics need the serde feature (cargo run --features serde …)".to_string())
    }

    /// Ends a session (WHIP/WHEP `DELETE`): the connection closes (close_notify, SCTP ABORT, consent
    /// revoked: RFC 7675 §5.2) and is forgotten. Whether the session existed.
    pub fn delete(&mut self, session: &str) -> bool {
        let Some(&slot) = self.by_session.get(session) else { return false };
        let now = self.anchor.now();
        let Some(p) = self.slots.get_mut(slot).and_then(Option::as_mut) else { return false };
        println!("{}: session ended by DELETE", p.name);
        p.pc.close(now);
        let id = p.id;
        // Sends what closing sends and takes the events (the connection reports itself closed).
        self.flush(slot);
        if self.slots.get(slot).and_then(Option::as_ref).is_some_and(|p| p.id == id) {
            self.remove(slot);
        }
        true
    }

    /// Answers an offer: at once, or in TURN mode once the new connection's gathering is complete.
    pub fn offer(&mut self, req: OfferRequest) {
        if self.turn.is_none() {
            let _ = req.reply.send(self.answer(&req.sdp));
            return;
        }
        match self.open(&req.sdp) {
            Ok(slot) => {
                if let Some(p) = self.slots.get_mut(slot).and_then(Option::as_mut) {
                    p.reply = Some(req.reply);
                }
                self.flush(slot);
            }
            Err(e) => {
                let _ = req.reply.send(Err(e));
            }
        }
    }

    /// Answers an offer with a new connection; returns the answer's SDP (not for TURN mode, whose
    /// answers wait for gathering: use [`Peers::offer`]).
    pub fn answer(&mut self, offer: &str) -> Result<Answer, Refused> {
        let slot = self.open(offer)?;
        let now = self.anchor.now();
        let answer = self.slots.get_mut(slot).and_then(Option::as_mut).map(|p| make_answer(p, now));
        match answer {
            Some(Ok(answer)) => {
                self.flush(slot);
                Ok(answer)
            }
            Some(Err(e)) => {
                self.remove(slot);
                Err(e)
            }
            None => Err(Refused::Busy("no connection".to_string())),
        }
    }

    /// A new connection with the offer applied, filed in a slot.
    fn open(&mut self, offer: &str) -> Result<usize, Refused> {
        let max = if self.turn.is_some() { MAX_TURN_PEERS } else { MAX_PEERS };
        if self.count() >= max {
            return Err(Refused::Busy(format!("too many peer connections ({max})")));
        }
        let now = self.anchor.now();
        let mut config = pc::Config { max_message_size: MAX_MESSAGE_SIZE, ..pc::Config::default() };
        let id = self.next_name;
        let slot = self.free.last().copied().unwrap_or(self.slots.len());
        let mut own = None;
        let mut local = self.local;
        if let Some(turn) = &self.turn {
            let o = OwnSocket::open(self.local.ip(), slot, id, turn.to_loop.clone(), self.local)
                .map_err(|e| Refused::Busy(format!("cannot open a socket for the connection: {e}")))?;
            local = o.addr;
            let t = &turn.options;
            config.turn_servers = vec![TurnConfig::new(t.server, local, &t.username, &t.credential)];
            if t.relay_only {
                config.ice_transport_policy = IceTransportPolicy::Relay;
            }
            own = Some(o);
        } else if !self.full_ice {
            // A server with a public address needs no checks of its own: ICE lite (RFC 8445 §2.5).
            config.ice.lite = true;
        }
        // The seed drawn as `fork` would draw it; the journal keeps it.
        let mut conn = new_conn(config, self.rng.bytes(), self.record.is_some(), self.epoch);
        let err = |e: pc::Error| Refused::BadOffer(e.to_string());
        conn.add_local_host(now, local).map_err(err)?;
        conn.end_of_local_candidates(now);
        conn.set_remote_description(now, &Description::offer(offer)).map_err(err)?;
        // Every audio and video m-section of the offer gets a track of ours: the echo goes back on it.
        let echoed = MediaEcho::add_tracks(&mut conn, now).map_err(err)?;
        let mut negotiated = ChannelOptions::new("negotiated");
        negotiated.negotiated = Some(NEGOTIATED_ID);
        let neg = conn.create_data_channel(now, negotiated).map_err(err)?;
        let name = format!("peer{id}");
        self.next_name += 1;
        let ufrag = conn.local_ufrag().to_string();
        let session: String = self.rng.bytes::<16>().iter().map(|b| format!("{b:02x}")).collect();
        let mut labels = HashMap::new();
        labels.insert(neg, "negotiated".to_string());
        let recording = match &self.record {
            Some(dir) => Some(
                Recording::create(dir, &format!("{name}-{session}"))
                    .map_err(|e| Refused::Busy(format!("cannot create the journal: {e}")))?,
            ),
            None => None,
        };
        let peer = Peer {
            pc: conn,
            recording,
            name: name.clone(),
            pending: HashMap::new(),
            pending_bytes: 0,
            labels,
            addrs: Vec::new(),
            ufrag: ufrag.clone(),
            connecting_since: Some(now),
            messages: 0,
            bytes: 0,
            id,
            own,
            reply: None,
            session: session.clone(),
            scheduled: None,
            media: MediaEcho::default(),
        };
        let turn = peer.own.as_ref().map(|o| o.addr);
        match self.slots.get_mut(slot) {
            Some(s) => {
                *s = Some(peer);
                self.free.pop();
            }
            None => self.slots.push(Some(peer)),
        }
        self.live += 1;
        self.by_session.insert(session, slot);
        match turn {
            None => {
                self.by_ufrag.insert(ufrag.clone(), slot);
                println!(
                    "{name}: offer answered (ufrag {ufrag}), {echoed} media tracks echoed, {} peer connections",
                    self.count()
                );
            }
            Some(a) => {
                println!("{name}: offer taken (ufrag {ufrag}), own socket {a}, {} peer connections", self.count())
            }
        }
        Ok(slot)
    }

    /// TURN mode: hands what the connections' own sockets received to them.
    pub fn receive_own(&mut self) {
        let Some(turn) = &self.turn else { return };
        let received: Vec<Received> = turn.received.try_iter().take(4096).collect();
        let now = self.anchor.now();
        for r in received {
            let Some(p) = self.slots.get_mut(r.slot).and_then(Option::as_mut) else { continue };
            let Some(own) = p.own.as_ref().filter(|_| p.id == r.peer_id) else { continue };
            let datagram = sansrtc::Datagram { source: r.from, destination: own.addr, contents: &r.data };
            let _ = p.pc.handle_receive(now, datagram);
            self.flush(r.slot);
        }
    }

    /// The earliest deadline of any connection (possibly a stale one, which only wakes the loop early).
    pub fn deadline(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Runs the timers that are due.
    pub fn timeouts(&mut self, now: Instant) {
        while let Some(&Reverse((t, i, id))) = self.timers.peek() {
            if t > now {
                break;
            }
            self.timers.pop();
            let Some(p) = self.slots.get_mut(i).and_then(Option::as_mut) else { continue };
            if p.id != id || p.scheduled != Some(t) {
                continue; // stale: the connection was removed or rescheduled
            }
            p.scheduled = None;
            let stale = p.connecting_since.is_some_and(|t| now.saturating_duration_since(t) > CONNECT_TIMEOUT);
            if stale {
                println!("{}: not connected after {CONNECT_TIMEOUT:?}, closing", p.name);
                p.pc.close(now);
                self.flush(i);
                self.remove(i);
                continue;
            }
            if p.pc.poll_timeout().is_some_and(|t| t <= now) {
                p.pc.handle_timeout(now);
            }
            self.flush(i);
        }
    }

    /// Files connection `i`'s next deadline in the timer heap (if it changed).
    fn schedule(&mut self, i: usize) {
        let Some(p) = self.slots.get_mut(i).and_then(Option::as_mut) else { return };
        let next = p.deadline();
        if next == p.scheduled {
            return;
        }
        p.scheduled = next;
        if let Some(t) = next {
            self.timers.push(Reverse((t, i, p.id)));
        }
        // Stale entries leave as they come due; rebuild if they pile up (deadlines that keep moving).
        if self.timers.len() > 4 * self.live + 64 {
            self.timers = self
                .slots
                .iter()
                .enumerate()
                .filter_map(|(i, p)| p.as_ref().and_then(|p| p.scheduled.map(|t| Reverse((t, i, p.id)))))
                .collect();
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

    /// The README's loop for connection `i` after an input: sends what it queued, handles its events (while
    /// the echoes waiting for send-buffer room stay under a mark; beyond it, events stay in the library,
    /// where untaken messages close SCTP's receive window), moves waiting echoes along (an input too: what
    /// they queue leaves at once), then files its next deadline, which `poll_timeout` makes "now"
    /// whenever something is owed.
    fn flush(&mut self, i: usize) {
        let now = self.anchor.now();
        let Some(p) = self.slots.get_mut(i).and_then(Option::as_mut) else { return };
        let mut closed = false;
        while let Some(t) = p.pc.poll_transmit() {
            let sent = match &p.own {
                Some(own) => own.socket.send_to(t.contents, t.destination).map(drop),
                None => self.socket.send_datagram(t.contents, t.destination),
            };
            if let Err(e) = sent {
                println!("{}: send to {} failed: {e}", p.name, t.destination);
            }
        }
        while p.pending_bytes < PENDING_HIGH
            && let Some(ev) = p.pc.poll_event()
        {
            match ev {
                Event::Message { id, data, binary } => {
                    p.messages += 1;
                    p.bytes += data.len() as u64;
                    p.pending_bytes += data.len();
                    p.pending.entry(id).or_default().push_back((data, binary));
                    p.echo_waiting(now);
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
                Event::Track { mid, kind, stream_ids, .. } => {
                    println!("{}: {kind} track on mid {mid} (streams {stream_ids:?})", p.name);
                }
                Event::Rtp(packet) => p.media.echo(&mut p.pc, now, &packet),
                Event::KeyframeRequest { mid, .. } => p.media.relay_keyframe_request(&mut p.pc, now, &mid),
                Event::IceCandidateError { server, failure } => {
                    println!("{}: no relay candidate from {server}: {failure}", p.name);
                }
                Event::IceGatheringState(IceGatheringState::Complete) => {
                    if let Some(reply) = p.reply.take() {
                        let answer = make_answer(p, now);
                        match &answer {
                            Ok(_) => println!("{}: offer answered after gathering", p.name),
                            Err(e) => {
                                println!("{}: cannot answer: {e:?}", p.name);
                                closed = true;
                            }
                        }
                        let _ = reply.send(answer);
                    }
                }
                _ => {}
            }
        }
        // Acknowledgements may have made room for echoes waiting on any channel.
        p.echo_waiting(now);
        while let Some(t) = p.pc.poll_transmit() {
            let _ = match &p.own {
                Some(own) => own.socket.send_to(t.contents, t.destination).map(drop),
                None => self.socket.send_datagram(t.contents, t.destination),
            };
        }
        p.save_journal();
        if closed {
            self.remove(i);
        } else {
            self.schedule(i);
        }
    }

    /// Forgets a connection and its routing entries.
    fn remove(&mut self, i: usize) {
        let Some(mut p) = self.slots.get_mut(i).and_then(Option::take) else { return };
        self.live -= 1;
        self.free.push(i);
        if let Some(own) = &p.own {
            // A failed connection is not closed yet: close it so its allocation is released.
            p.pc.close(self.anchor.now());
            while let Some(t) = p.pc.poll_transmit() {
                let _ = own.socket.send_to(t.contents, t.destination);
            }
        }
        println!("{}: removed after {} messages / {} bytes echoed; {}", p.name, p.messages, p.bytes, p.media);
        self.by_ufrag.remove(&p.ufrag);
        self.by_session.remove(&p.session);
        for a in &p.addrs {
            self.by_addr.remove(a);
        }
    }
}

/// Creates and applies the answer to the offer the connection holds.
fn make_answer(p: &mut Peer, now: Instant) -> Result<Answer, Refused> {
    let bad = |e: pc::Error| Refused::BadOffer(e.to_string());
    let answer = p.pc.create_answer().map_err(bad)?;
    p.pc.set_local_description(now, &answer).map_err(bad)?;
    Ok(Answer { sdp: answer.sdp, session: p.session.clone() })
}
