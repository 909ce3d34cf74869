//! The UDP side: every peer connection on one socket, driven by one thread (or one tokio task).
//!
//! The connections live in the library's [`Router`], which finds each datagram's connection in O(1) (a
//! STUN check by the local ufrag of its USERNAME, anything else by the path it arrives on), keeps every
//! connection's deadline, gives up on connections that do not connect within
//! [`router::Config::connect_timeout`], and reaps those that ended. The loop is the router's: input
//! ([`Router::handle_receive`], [`Router::handle_timeout`]), then one drain of every connection's
//! transmits and events; what the server does to a connection (echo a message, close it) goes through
//! [`Router::update`]. The server's own state per connection (echoes waiting, channel labels, the session,
//! the journal files) sits in a table indexed by the connection's [`Key`].
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
//! HTTP endpoint). This costs a thread and a socket per connection, hence a lower connection cap. These
//! connections are in the router too, for their deadlines, events and reaping; what their own sockets
//! receive is handed to them with [`Router::update`] (the router routes only the shared socket's
//! datagrams).

use super::alloc::collections::VecDeque;
use super::alloc::sync::Arc;
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
use sansrtc::dtls::wire::DTLS1_3;
use sansrtc::dtls::{Certificate, Versions};
use sansrtc::ice::{CandidateKind, TcpType};
use sansrtc::pc::{
    self, ChannelId, ChannelOptions, ConnectionState, Description, Event, IceGatheringState, IceTransportPolicy, Setup,
    TurnConfig,
};
use sansrtc::router::{self, Key, RouteError, Router};
use sansrtc::{Datagram, Instant, PathMachine, SeededRng, StdAnchor};

use super::conn::{Conn, Recording, new_conn};
use super::media::MediaEcho;
use super::udp::SocketStats;
use super::{Answer, Command, OfferRequest, Refused};

/// `a=max-message-size` we advertise.
const MAX_MESSAGE_SIZE: u64 = 262_144;
/// Echoes are handed to the connection while its channel's buffered amount is below this; later ones wait.
const SEND_HIGH: usize = 4 * 1024 * 1024;
/// Echoes waiting per connection above which the server pauses its events ([`Router::pause_events`]):
/// messages not taken stay in the connection, counted in its SCTP receive window, so the browser's sends
/// slow down instead of echoes being dropped or memory growing (back-pressure end to end).
const PENDING_HIGH: usize = 1024 * 1024;
/// Peer connections served at once: each idle one holds about 16 KiB of heap (`tests/pc_memory.rs`),
/// so the cap bounds the server's memory near 256 MiB; `docs/scale.md` measures 10,000 at once.
const MAX_PEERS: usize = 16_384;
/// The negotiated channel every connection pre-creates.
const NEGOTIATED_ID: u16 = 7;
/// Peer connections served at once in TURN mode (a socket and a thread each).
const MAX_TURN_PEERS: usize = 256;
/// Datagrams waiting between the own sockets' readers and the driving thread; more are dropped, as a full
/// socket buffer would.
const RECEIVED_MAX: usize = 4096;
/// `recvmmsg` calls per turn of the loop at most (Linux): up to this many batches of queued datagrams are
/// taken before the timers run again.
#[cfg(target_os = "linux")]
const DRAIN_BATCHES: usize = 9;

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
    fn open(ip: core::net::IpAddr, peer_id: u64, to: SyncSender<Received>, wake: SocketAddr) -> io::Result<Self> {
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
                        if data.is_empty() || to.try_send(Received { peer_id, from, data }).is_err() {
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
    /// Connection id → its key, for what the own sockets receive.
    by_id: HashMap<u64, Key>,
}

/// The server's own state of one connection (the connection itself is in the router, under `key`).
struct Peer {
    key: Key,
    /// `--record DIR`: the connection's journal and capture files (`DIR/peerN-SESSION.journal`, `.pcapng`).
    recording: Option<Recording>,
    /// Recording: bytes journaled or captured since the last save (the key is in `Peers::unsaved`).
    unsaved: bool,
    name: String,
    /// Echoes waiting for room in the send buffer, per channel.
    pending: HashMap<ChannelId, VecDeque<(Bytes, bool)>>,
    pending_bytes: usize,
    /// Its events are paused in the router (`pending_bytes` reached [`PENDING_HIGH`]).
    paused: bool,
    labels: HashMap<ChannelId, String>,
    messages: u64,
    bytes: u64,
    /// Unique per connection, for names and TURN mode's own sockets.
    id: u64,
    /// TURN mode: the connection's own socket.
    own: Option<OwnSocket>,
    /// TURN mode: where to send the answer once gathering is complete.
    reply: Option<Sender<Result<Answer, Refused>>>,
    /// The session: the last segment of its WHIP/WHEP URL (random, so that it cannot be guessed).
    session: String,
    /// Its audio and video echoed back.
    media: MediaEcho,
    /// The selected ICE pair last printed (kinds and addresses), to print it again when it changes.
    pair: Option<(CandidateKind, SocketAddr, CandidateKind, SocketAddr)>,
}

impl Peer {
    /// Appends what the journal and the capture wrote since the last save to their files.
    fn save(&mut self, router: &mut Router<Conn>, now: Instant) {
        self.unsaved = false;
        let Some(recording) = self.recording.as_mut() else { return };
        let saved = router.update(now, self.key, |c| recording.save(c));
        if let Some(Err(e)) = saved {
            println!("{}: journal or capture not written ({e}); recording stops", self.name);
            self.recording = None;
        }
    }

    /// Echoes what waits, in order per channel, while the channel's send buffer has room; resumes the
    /// connection's events once few enough wait. After an input, or when a send buffer drained.
    fn echo_waiting(&mut self, router: &mut Router<Conn>, now: Instant) {
        // Empty messages wait too: look at the queues, not at the bytes.
        if !self.pending.is_empty() {
            let (name, pending, pending_bytes) = (&self.name, &mut self.pending, &mut self.pending_bytes);
            router.update(now, self.key, |pc| {
                for (&id, q) in pending.iter_mut() {
                    while let Some((data, _)) = q.front() {
                        if pc.buffered_amount(id) + data.len() > SEND_HIGH && pc.buffered_amount(id) > 0 {
                            break;
                        }
                        let Some((data, binary)) = q.pop_front() else { break };
                        let len = data.len();
                        match pc.send(now, id, data.clone(), binary) {
                            Ok(()) => *pending_bytes -= len,
                            Err(pc::Error::DataChannel(_)) if pc.buffered_amount(id) > 0 => {
                                // Send buffer full after all: wait for acknowledgements.
                                q.push_front((data, binary));
                                break;
                            }
                            Err(e) => {
                                println!("{name}: echo on channel {id} failed: {e}");
                                *pending_bytes -= len;
                            }
                        }
                    }
                }
                pending.retain(|_, q| !q.is_empty());
            });
        }
        if self.paused && self.pending_bytes < PENDING_HIGH {
            self.paused = false;
            router.pause_events(self.key, false);
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

/// Every peer connection on one socket, in the library's router.
pub struct Peers<S: SendTo> {
    socket: S,
    local: SocketAddr,
    anchor: StdAnchor,
    rng: SeededRng,
    /// The DTLS certificate every connection presents: made once and shared, so that a connection's set-up
    /// does not pay for a key pair and a signature of its own.
    certificate: Certificate,
    router: Router<Conn>,
    /// The server's state of each connection, at its key's index.
    peers: Vec<Option<Peer>>,
    by_session: HashMap<String, Key>,
    /// Recording connections with bytes to save (saved once per drain, not per datagram).
    unsaved: Vec<Key>,
    next_name: u64,
    unmatched: u64,
    turn: Option<Turn>,
    /// `--record DIR`: where each connection's journal and capture go.
    record: Option<PathBuf>,
    /// The wall-clock time (since the Unix epoch) of the clock's zero, for the captures' timestamps.
    epoch: Duration,
    /// Full ICE rather than ICE lite (see [`PeerOptions::full_ice`]).
    pub full_ice: bool,
    /// `--tcp`: the listening socket every connection advertises as a passive ICE-TCP candidate.
    pub tcp: Option<super::tcp::TcpSide>,
    /// Stops the TCP side's threads.
    tcp_stop: Option<Arc<AtomicBool>>,
    /// See [`PeerOptions::dtls_versions`].
    pub dtls_versions: Versions,
    /// See [`PeerOptions::answer_setup`].
    pub answer_setup: Setup,
    /// The shared socket's receive buffer and drops, for `/stats` and the closing line.
    pub socket_stats: Arc<SocketStats>,
    /// `--mdns`: what the socket bound to port 5353 received, from its reader.
    mdns: Option<Receiver<(SocketAddr, Vec<u8>)>>,
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
    run_recording(socket, commands, stop, turn, PeerOptions::default(), Arc::default(), None)
}

/// How the connections run besides TURN.
#[derive(Clone, Debug)]
pub struct PeerOptions {
    /// `--record DIR`: journal every connection into this directory; each file replays with
    /// `cargo run --example replay -- FILE` (see `docs/journal.md`).
    pub record: Option<PathBuf>,
    /// `--mdns`: also receive the mDNS group (224.0.0.251:5353) on a socket of its own, for the answers
    /// to the connections' queries that responders send to the group rather than back to the querying
    /// socket ([`super::udp::open_mdns`]).
    pub mdns: bool,
    /// `--full-ice`: run full ICE rather than ICE lite, so that the server checks the peer's candidates
    /// too and reaches a peer whose candidates its own address cannot be paired with from the peer's
    /// side (Firefox offers no loopback candidate and will not pair its own with the server's
    /// `127.0.0.1`; checks from the server find the way as peer-reflexive candidates).
    pub full_ice: bool,
    /// `--tcp ADDR`: also listen for ICE-TCP (RFC 6544) connections on this address, offered to every
    /// peer as a passive candidate (see `examples/echo_server/tcp.rs`). Not in TURN mode.
    pub tcp: Option<SocketAddr>,
    /// `--dtls 1.2|1.3`: the DTLS versions every connection negotiates (default both, 1.3 preferred).
    pub dtls_versions: Versions,
    /// `--dtls-role client|server`: our DTLS role when the offer leaves it to us (`a=setup:actpass`):
    /// `Setup::Active` (the default) makes the server the DTLS client, `Setup::Passive` the DTLS server.
    pub answer_setup: Setup,
}

impl Default for PeerOptions {
    fn default() -> Self {
        PeerOptions {
            record: None,
            mdns: false,
            full_ice: false,
            tcp: None,
            dtls_versions: Versions::DEFAULT,
            answer_setup: Setup::Active,
        }
    }
}

/// [`run_with_turn`] with [`PeerOptions`]; the drops the socket's receive buffer counts go to
/// `socket_stats` (Linux); `tcp` is the listening socket of [`PeerOptions::tcp`], bound by the caller.
pub fn run_recording(
    socket: UdpSocket,
    commands: Receiver<Command>,
    stop: &AtomicBool,
    turn: Option<TurnOptions>,
    options: PeerOptions,
    socket_stats: Arc<SocketStats>,
    tcp: Option<std::net::TcpListener>,
) -> io::Result<()> {
    let local = socket.local_addr()?;
    let mut peers = Peers::new(socket, local)?;
    peers.record = options.record;
    peers.full_ice = options.full_ice;
    if let (Some(listener), None) = (tcp, &turn) {
        let wake = SocketAddr::new(super::wake_ip(local), local.port());
        let stop_tcp = Arc::new(AtomicBool::new(false));
        peers.tcp = Some(super::tcp::TcpSide::start(listener, wake, stop_tcp.clone())?);
        peers.tcp_stop = Some(stop_tcp);
    }
    peers.dtls_versions = options.dtls_versions;
    peers.answer_setup = options.answer_setup;
    peers.socket_stats = socket_stats;
    #[cfg(target_os = "linux")]
    let mut batch = super::udp::Batch::new();
    let _mdns_reader = if options.mdns {
        let (tx, rx) = sync_channel(RECEIVED_MAX);
        peers.mdns = Some(rx);
        let reader = super::udp::open_mdns(local.ip())?;
        Some(super::udp::MdnsReader::start(reader, tx, local)?)
    } else {
        None
    };
    if let Some(options) = turn {
        let (to_loop, received) = sync_channel(RECEIVED_MAX);
        peers.turn = Some(Turn { options, to_loop, received, by_id: HashMap::new() });
    }
    #[cfg(not(target_os = "linux"))]
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::Relaxed) {
        while let Ok(command) = commands.try_recv() {
            peers.command(command);
        }
        peers.receive_own();
        peers.receive_tcp();
        peers.receive_mdns();
        let now = peers.anchor.now();
        peers.timeouts(now);
        // Sleep in the socket until the earliest deadline (or a datagram, or a wake-up from the HTTP thread).
        let wait = peers
            .deadline()
            .map(|t| t.saturating_duration_since(now))
            .unwrap_or(Duration::from_secs(1))
            .clamp(Duration::from_millis(1), Duration::from_secs(1));
        peers.socket.set_read_timeout(Some(wait))?;
        #[cfg(target_os = "linux")]
        receive_batches(&mut peers, &mut batch)?;
        #[cfg(not(target_os = "linux"))]
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
    if let Some(stop) = &peers.tcp_stop {
        stop.store(true, Ordering::Relaxed);
    }
    Ok(())
}

/// Batches of datagrams, one `recvmmsg` call each: waits for the first (up to the socket's read timeout),
/// then drains what else is already queued, up to [`DRAIN_BATCHES`] calls, before the timers' turn.
#[cfg(target_os = "linux")]
fn receive_batches(peers: &mut Peers<UdpSocket>, batch: &mut super::udp::Batch) -> io::Result<()> {
    let stats = peers.socket_stats.clone();
    for call in 0..DRAIN_BATCHES {
        let received = match batch.receive(&peers.socket, call == 0, &stats) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Ok(()),
            Err(e) => return Err(e),
        };
        for i in 0..received {
            if let Some((from, data)) = batch.datagram(i) {
                peers.receive(from, data);
            }
        }
        if received < super::udp::BATCH {
            return Ok(()); // the queue is empty (or nearly)
        }
    }
    Ok(())
}

impl<S: SendTo> Peers<S> {
    /// No connections yet; datagrams go out through `socket`, which is bound to `local`.
    pub fn new(socket: S, local: SocketAddr) -> io::Result<Self> {
        let mut rng = SeededRng::from_os().map_err(|e| io::Error::other(format!("OS random source: {e}")))?;
        let config = router::Config { max_connections: MAX_PEERS, ..router::Config::default() };
        let router = Router::new(config, rng.fork());
        Ok(Peers {
            socket,
            local,
            anchor: StdAnchor::starting_now(),
            epoch: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default(),
            certificate: Certificate::generate(&mut rng),
            rng,
            router,
            peers: Vec::new(),
            by_session: HashMap::new(),
            unsaved: Vec::new(),
            next_name: 1,
            unmatched: 0,
            turn: None,
            record: None,
            full_ice: false,
            tcp: None,
            tcp_stop: None,
            dtls_versions: Versions::DEFAULT,
            answer_setup: Setup::Active,
            socket_stats: Arc::default(),
            mdns: None,
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
        let keys: Vec<Key> = self.router.keys().collect();
        let open = keys.len();
        for key in keys {
            self.router.update(now, key, |pc| pc.close(now));
        }
        self.flush();
        // Connections whose events are paused are not reaped: what they journaled since is saved here.
        for p in self.peers.iter_mut().flatten() {
            p.save(&mut self.router, now);
        }
        println!(
            "udp: {open} peer connections closed, {} unmatched datagrams dropped; {}",
            self.unmatched,
            self.socket_stats.summary()
        );
        for p in self.peers.iter_mut().flatten() {
            if let Some(mut own) = p.own.take() {
                own.stop.store(true, Ordering::Relaxed);
                if let Some(t) = own.reader.take() {
                    let _ = t.join();
                }
            }
        }
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
    /// `{"timestamp": ms, "udp": {"receiveBuffer", "receiveBufferDrops"}, "connections": [{"session", "name",
    /// "connectionState", "stats": [...]}]}` (`receiveBufferDrops`: `null` where not counted).
    #[cfg(feature = "serde")]
    pub fn stats_json(&self) -> Result<String, String> {
        let now = self.anchor.now();
        let connections: Vec<serde_json::Value> = self
            .peers
            .iter()
            .flatten()
            .filter_map(|p| Some((p, self.router.get(p.key)?)))
            .map(|(p, pc)| {
                serde_json::json!({
                    "session": p.session,
                    "name": p.name,
                    "connectionState": pc.connection_state().as_str(),
                    "stats": pc.stats_report(now),
                })
            })
            .collect();
        let timestamp = now.as_nanos() as f64 / 1e6;
        let socket = serde_json::json!({
            "receiveBuffer": self.socket_stats.receive_buffer(),
            "receiveBufferDrops": self.socket_stats.drops(),
        });
        let stats = serde_json::json!({ "timestamp": timestamp, "udp": socket, "connections": connections });
        serde_json::to_string(&stats).map_err(|e| e.to_string())
    }

    /// Without the `serde` feature there is no JSON writer for the statistics.
    #[cfg(not(feature = "serde"))]
    pub fn stats_json(&self) -> Result<String, String> {
        Err("statistics need the serde feature (cargo run --features serde …)".to_string())
    }

    /// Ends a session (WHIP/WHEP `DELETE`): the connection closes (close_notify, SCTP ABORT, consent
    /// revoked: RFC 7675 §5.2) and the router reaps it once that is sent. Whether the session existed.
    pub fn delete(&mut self, session: &str) -> bool {
        let Some(key) = self.by_session.remove(session) else { return false };
        let now = self.anchor.now();
        if let Some(p) = peer(&mut self.peers, key) {
            println!("{}: session ended by DELETE", p.name);
        }
        self.router.update(now, key, |pc| pc.close(now));
        self.flush();
        true
    }

    /// Answers an offer: at once, or in TURN mode once the new connection's gathering is complete.
    pub fn offer(&mut self, req: OfferRequest) {
        if self.turn.is_none() {
            let _ = req.reply.send(self.answer(&req.sdp));
            return;
        }
        match self.open(&req.sdp) {
            Ok((key, _)) => {
                if let Some(p) = peer(&mut self.peers, key) {
                    p.reply = Some(req.reply);
                }
                self.flush();
            }
            Err(e) => {
                let _ = req.reply.send(Err(e));
            }
        }
    }

    /// Answers an offer with a new connection; returns the answer's SDP (not for TURN mode, whose
    /// answers wait for gathering: use [`Peers::offer`]).
    pub fn answer(&mut self, offer: &str) -> Result<Answer, Refused> {
        let (_, answer) = self.open(offer)?;
        self.flush();
        answer.ok_or_else(|| Refused::Busy("no answer before gathering".to_string()))
    }

    /// A new connection with the offer applied (and outside TURN mode, answered), filed in the router.
    fn open(&mut self, offer: &str) -> Result<(Key, Option<Answer>), Refused> {
        let max = if self.turn.is_some() { MAX_TURN_PEERS } else { MAX_PEERS };
        if self.router.len() >= max {
            return Err(Refused::Busy(format!("too many peer connections ({max})")));
        }
        let now = self.anchor.now();
        let mut config = pc::Config {
            max_message_size: MAX_MESSAGE_SIZE,
            dtls_versions: self.dtls_versions,
            answer_setup: self.answer_setup,
            certificate: Some(self.certificate.clone()),
            ..pc::Config::default()
        };
        let id = self.next_name;
        let mut own = None;
        let mut local = self.local;
        if let Some(turn) = &self.turn {
            let o = OwnSocket::open(self.local.ip(), id, turn.to_loop.clone(), self.local)
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
        if let (Some(tcp), None) = (&self.tcp, &own) {
            conn.add_local_tcp(now, tcp.listen, TcpType::Passive).map_err(err)?;
        }
        conn.end_of_local_candidates(now);
        conn.set_remote_description(now, &Description::offer(offer)).map_err(err)?;
        // Every audio and video m-section of the offer gets a track of ours: the echo goes back on it.
        let echoed = MediaEcho::add_tracks(&mut conn, now).map_err(err)?;
        let mut negotiated = ChannelOptions::new("negotiated");
        negotiated.negotiated = Some(NEGOTIATED_ID);
        let neg = conn.create_data_channel(now, negotiated).map_err(err)?;
        let session: String = self.rng.bytes::<16>().iter().map(|b| format!("{b:02x}")).collect();
        // In TURN mode the answer waits for gathering (`IceGatheringState::Complete`).
        let answer = match own {
            None => Some(make_answer(&mut conn, now, &session)?),
            Some(_) => None,
        };
        let name = format!("peer{id}");
        self.next_name += 1;
        let ufrag = conn.local_ufrag().to_string();
        let key = self.router.insert(now, conn).map_err(|e| Refused::Busy(e.to_string()))?;
        let recording = match &self.record {
            Some(dir) => match Recording::create(dir, &format!("{name}-{session}")) {
                Ok(r) => Some(r),
                Err(e) => {
                    self.router.remove(key);
                    return Err(Refused::Busy(format!("cannot create the journal: {e}")));
                }
            },
            None => None,
        };
        let mut labels = HashMap::new();
        labels.insert(neg, "negotiated".to_string());
        let own_addr = own.as_ref().map(|o| o.addr);
        let peer = Peer {
            key,
            recording,
            unsaved: false,
            name: name.clone(),
            pending: HashMap::new(),
            pending_bytes: 0,
            paused: false,
            labels,
            messages: 0,
            bytes: 0,
            id,
            own,
            reply: None,
            session: session.clone(),
            media: MediaEcho::default(),
            pair: None,
        };
        if self.peers.len() <= key.index() {
            self.peers.resize_with(key.index() + 1, || None);
        }
        if let Some(place) = self.peers.get_mut(key.index()) {
            *place = Some(peer);
        }
        self.by_session.insert(session, key);
        let count = self.router.len();
        match own_addr {
            None => {
                println!(
                    "{name}: offer answered (ufrag {ufrag}), {echoed} media tracks echoed, {count} peer connections"
                )
            }
            Some(a) => {
                if let Some(turn) = self.turn.as_mut() {
                    turn.by_id.insert(id, key);
                }
                println!("{name}: offer taken (ufrag {ufrag}), own socket {a}, {count} peer connections")
            }
        }
        Ok((key, answer))
    }

    /// TURN mode: hands what the connections' own sockets received to them.
    pub fn receive_own(&mut self) {
        let Some(turn) = &self.turn else { return };
        let received: Vec<Received> = turn.received.try_iter().take(4096).collect();
        if received.is_empty() {
            return;
        }
        let now = self.anchor.now();
        for r in received {
            let Some(&key) = self.turn.as_ref().and_then(|t| t.by_id.get(&r.peer_id)) else { continue };
            let Some(own) = peer(&mut self.peers, key).and_then(|p| p.own.as_ref()).map(|o| o.addr) else {
                continue;
            };
            let datagram = Datagram { source: r.from, destination: own, contents: &r.data };
            self.router.update(now, key, |pc| pc.handle_receive(now, datagram));
            self.after_input(now, key);
        }
        self.flush();
    }

    /// `--tcp`: hands the frames the connections' streams carried to the router, each as a datagram from
    /// the browser's end of its connection to the listening address.
    pub fn receive_tcp(&mut self) {
        let Some(tcp) = &self.tcp else { return };
        let frames = tcp.take();
        if frames.is_empty() {
            return;
        }
        let listen = tcp.listen;
        let now = self.anchor.now();
        for f in frames {
            let datagram = Datagram { source: f.from, destination: listen, contents: &f.data };
            match self.router.handle_receive(now, datagram) {
                Ok(key) | Err(RouteError::Rejected(key, _)) => self.after_input(now, key),
                Err(RouteError::NotMine) => self.unmatched += 1,
            }
        }
        self.flush();
    }

    /// `--mdns`: hands what the mDNS socket received to the router, which gives each answer to the
    /// connections resolving its name.
    pub fn receive_mdns(&mut self) {
        let Some(rx) = &self.mdns else { return };
        let received: Vec<(SocketAddr, Vec<u8>)> = rx.try_iter().take(RECEIVED_MAX).collect();
        for (from, data) in received {
            self.receive_on(super::udp::MDNS_LOCAL, from, &data);
        }
    }

    /// The earliest deadline of any connection.
    pub fn deadline(&self) -> Option<Instant> {
        self.router.poll_timeout()
    }

    /// Runs the timers that are due (giving up on connections that did not connect in time).
    pub fn timeouts(&mut self, now: Instant) {
        if self.router.poll_timeout().is_some_and(|t| t <= now) {
            self.router.handle_timeout(now);
        }
        self.flush();
    }

    /// Routes one received datagram to its connection (zero-length ones are wake-ups and ignored).
    pub fn receive(&mut self, from: SocketAddr, data: &[u8]) {
        self.receive_on(self.local, from, data);
    }

    /// [`Peers::receive`] for a datagram that arrived on the socket bound to `local`.
    pub fn receive_on(&mut self, local: SocketAddr, from: SocketAddr, data: &[u8]) {
        if data.is_empty() {
            return; // a wake-up from the HTTP thread
        }
        let now = self.anchor.now();
        let datagram = Datagram { source: from, destination: local, contents: data };
        match self.router.handle_receive(now, datagram) {
            Ok(key) | Err(RouteError::Rejected(key, _)) => self.after_input(now, key),
            Err(RouteError::NotMine) => self.unmatched += 1,
        }
        self.flush();
    }

    /// After connection `key` took an input: acknowledgements may have made room for echoes waiting.
    fn after_input(&mut self, now: Instant, key: Key) {
        let Some(p) = peer(&mut self.peers, key) else { return };
        mark_unsaved(&mut self.unsaved, p);
        p.echo_waiting(&mut self.router, now);
    }

    /// The README's loop after an input, over every connection at once: sends what they queued, handles
    /// their events (a connection whose waiting echoes reach [`PENDING_HIGH`] has its events paused:
    /// they stay in the library, where untaken messages close SCTP's receive window), sends what handling
    /// them queued, and saves what recording connections journaled. `poll_timeout` then says when next.
    fn flush(&mut self) {
        let now = self.anchor.now();
        // Echoes queue transmits and may free room for more events: a few rounds, then the next turn.
        for _ in 0..4 {
            self.send_all();
            let mut any = false;
            while let Some((key, event)) = self.router.poll_event() {
                any = true;
                self.event(now, key, event);
            }
            if !any {
                break;
            }
        }
        self.send_all();
        for key in core::mem::take(&mut self.unsaved) {
            if let Some(p) = peer(&mut self.peers, key) {
                p.save(&mut self.router, now);
            }
        }
    }

    /// Sends every datagram the connections owe, each from its connection's socket.
    fn send_all(&mut self) {
        let Peers { router, peers, socket, unsaved, tcp, .. } = self;
        while let Some((key, t)) = router.poll_transmit() {
            let p = peer(peers, key);
            let sent = match (p.as_ref().and_then(|p| p.own.as_ref()), tcp.as_ref()) {
                (Some(own), _) => own.socket.send_to(t.contents, t.destination).map(drop),
                (None, Some(tcp)) if t.source == tcp.listen => {
                    tcp.send(t.destination, t.contents);
                    Ok(())
                }
                (None, _) => socket.send_datagram(t.contents, t.destination),
            };
            if let Err(e) = sent {
                println!("{key}: send to {} failed: {e}", t.destination);
            }
            if let Some(p) = p {
                mark_unsaved(unsaved, p);
            }
        }
    }

    /// One event from the router.
    fn event(&mut self, now: Instant, key: Key, event: router::Event<Event>) {
        let ev = match event {
            router::Event::Connection(ev) => ev,
            router::Event::Reaped(reason) => {
                let Some(p) = self.peers.get_mut(key.index()).and_then(|p| p.take_if(|p| p.key == key)) else {
                    return;
                };
                if reason == router::Reason::NotConnected {
                    println!("{}: not connected in time, closed", p.name);
                }
                if let Some(turn) = self.turn.as_mut() {
                    turn.by_id.remove(&p.id);
                }
                if self.by_session.get(&p.session) == Some(&key) {
                    self.by_session.remove(&p.session);
                }
                println!("{}: removed after {} messages / {} bytes echoed; {}", p.name, p.messages, p.bytes, p.media);
                return;
            }
        };
        let Peers { router, peers, unsaved, .. } = self;
        let Some(p) = peer(peers, key) else { return };
        mark_unsaved(unsaved, p);
        // The selected pair, printed when it changes (a peer-reflexive remote candidate becomes the host
        // candidate it is once a `.local` name resolves).
        if let Some((local, remote)) = router.get(key).and_then(|c| c.peer_connection().ice().selected_pair()) {
            let pair = (local.kind, local.base, remote.kind, remote.address);
            if p.pair != Some(pair) {
                let (l, r) = (local.kind, remote.kind);
                println!("{}: selected pair {l:?} {} -> {r:?} {}", p.name, local.base, remote.address);
                p.pair = Some(pair);
            }
        }
        match ev {
            Event::Message { id, data, binary } => {
                p.messages += 1;
                p.bytes += data.len() as u64;
                p.pending_bytes += data.len();
                p.pending.entry(id).or_default().push_back((data, binary));
                p.echo_waiting(router, now);
                if p.pending_bytes >= PENDING_HIGH && !p.paused {
                    p.paused = true;
                    router.pause_events(key, true);
                }
            }
            Event::BufferedAmountLow(_) => p.echo_waiting(router, now),
            Event::DataChannel { id, label, protocol } => {
                let o = router.get(key).and_then(|pc| pc.channel_options(id).cloned());
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
                // Connected: which DTLS version and role the handshake settled on.
                let dtls = router.get(key).and_then(|pc| pc.dtls());
                match dtls.and_then(|d| d.protocol_version().map(|v| (v, d.role()))) {
                    Some((v, role)) if s == ConnectionState::Connected => {
                        let version = if v == DTLS1_3 { "1.3" } else { "1.2" };
                        println!("{}: connection {s:?} (DTLS {version}, {role:?})", p.name);
                    }
                    _ => println!("{}: connection {s:?}", p.name),
                }
                if s == ConnectionState::Failed && p.own.is_some() {
                    // A failed connection is not closed yet: close it so its allocation is released.
                    router.update(now, key, |pc| pc.close(now));
                }
            }
            Event::IceConnectionState(s) => {
                // The path in use: UDP or ICE-TCP, and the peer's address.
                let path = router.get(key).and_then(|pc| pc.ice().selected_pair());
                match path {
                    Some((l, r)) => println!("{}: ICE {s:?} via {} {}", p.name, l.transport.as_str(), r.address),
                    None => println!("{}: ICE {s:?}", p.name),
                }
            }
            Event::Track { mid, kind, stream_ids, .. } => {
                println!("{}: {kind} track on mid {mid} (streams {stream_ids:?})", p.name);
            }
            Event::Rtp(packet) => {
                let media = &mut p.media;
                router.update(now, key, |pc| media.echo(pc, now, &packet));
            }
            Event::KeyframeRequest { mid, .. } => {
                let media = &mut p.media;
                router.update(now, key, |pc| media.relay_keyframe_request(pc, now, &mid));
            }
            Event::IceCandidateError { server, failure } => {
                println!("{}: no relay candidate from {server}: {failure}", p.name);
            }
            Event::IceGatheringState(IceGatheringState::Complete) => {
                if let Some(reply) = p.reply.take() {
                    let session = &p.session;
                    let answer = router
                        .update(now, key, |pc| make_answer(pc, now, session))
                        .unwrap_or_else(|| Err(Refused::Busy("the connection is gone".to_string())));
                    match &answer {
                        Ok(_) => println!("{}: offer answered after gathering", p.name),
                        Err(e) => {
                            println!("{}: cannot answer: {e:?}", p.name);
                            router.update(now, key, |pc| pc.close(now));
                        }
                    }
                    let _ = reply.send(answer);
                }
            }
            _ => {}
        }
        // An ended connection is reaped once its last events are taken: each of them is saved while the
        // connection is still there (only the final empty polls are left out of the journal).
        let ended = |pc: &Conn| matches!(pc.connection_state(), ConnectionState::Closed | ConnectionState::Failed);
        if p.recording.is_some() && router.get(key).is_some_and(ended) {
            p.save(router, now);
        }
    }
}

/// The server's state of connection `key`, if it is still there.
fn peer(peers: &mut [Option<Peer>], key: Key) -> Option<&mut Peer> {
    peers.get_mut(key.index()).and_then(Option::as_mut).filter(|p| p.key == key)
}

/// Files a recording connection for the save at the end of the drain.
fn mark_unsaved(unsaved: &mut Vec<Key>, p: &mut Peer) {
    if p.recording.is_some() && !p.unsaved {
        p.unsaved = true;
        unsaved.push(p.key);
    }
}

/// Creates and applies the answer to the offer the connection holds.
fn make_answer(pc: &mut Conn, now: Instant, session: &str) -> Result<Answer, Refused> {
    let bad = |e: pc::Error| Refused::BadOffer(e.to_string());
    let answer = pc.create_answer().map_err(bad)?;
    pc.set_local_description(now, &answer).map_err(bad)?;
    Ok(Answer { sdp: answer.sdp, session: session.to_string() })
}
