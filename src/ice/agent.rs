//! The agent: gathering, the check list driven by the pacing timer, nomination, selection, keepalives,
//! consent freshness and restarts. What arrives (answering checks, responses, indications, data) is in
//! [`receive`].

use core::net::SocketAddr;
use core::time::Duration;

use alloc::string::String;
use alloc::vec::Vec;

use super::TARGET;
use super::candidate::{
    COMPONENT_RTP, Candidate, CandidateKind, Foundation, FoundationKey, TcpType, Transport, local_preference, priority,
    tcp_other_preference, tcp_priority,
};
use super::checklist::{CheckList, CheckListState, DataCounters, Pair, PairState, Txn, priority_for};
use super::config::{Config, Credentials, Nat1To1Kind, Role};
use super::error::{ApiError, IceError};
use super::event::{IceConnectionState, IceEvent, IceStats, PairInfo};
use crate::machine::{Datagram, Machine, PathMachine, Transmit};
use crate::rand::SeededRng;
use crate::stun::{Attribute, Key, MessageBuilder, MessageType, TransactionId};
use crate::time::Instant;
use crate::util::{EventQueue, OutQueue, TimerKind, Timers, deadline};

// A child of this module (it reads the agent's private state), kept in its own file beside it.
#[path = "receive.rs"]
mod receive;

/// What a received datagram turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A STUN message the agent consumed.
    Stun,
    /// Application data (DTLS, SRTP, …) from a validated remote address, borrowed from the input.
    Data(&'a [u8]),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    Pacing,
    Retransmit,
    Nominate,
    Keepalive,
    Consent,
    Liveness,
    Failed,
}

impl TimerKind for Timer {
    const ALL: &'static [Self] = &[
        Timer::Pacing,
        Timer::Retransmit,
        Timer::Nominate,
        Timer::Keepalive,
        Timer::Consent,
        Timer::Liveness,
        Timer::Failed,
    ];
    fn index(self) -> usize {
        self as usize
    }
}

/// A local socket the caller declared (or a relay base), with its RFC 8421 rank in its family.
#[derive(Clone, Copy, Debug)]
struct Socket {
    addr: SocketAddr,
    rank: u16,
    /// Declared with `add_local_host` (a socket of the caller's, usable for STUN gathering).
    host: bool,
    /// UDP, or the TCP direction of a base declared with `add_local_tcp`.
    transport: Transport,
}

/// A server-reflexive gathering transaction (RFC 8445 §5.1.1.2).
#[derive(Clone, Copy, Debug)]
struct Gather {
    server: SocketAddr,
    base: SocketAddr,
    id: [u8; 12],
    next: Instant,
    rto: Duration,
    sent: u32,
    done: bool,
}

/// The peer's credentials, pre-keyed, and the USERNAME our checks carry (`remote:local`, RFC 8445 §7.2.2).
#[derive(Clone, Debug)]
struct Remote {
    key: Key,
    username: String,
}

impl Remote {
    fn new(remote: &Credentials, local: &Credentials) -> Self {
        let mut username = String::with_capacity(remote.ufrag.len() + 1 + local.ufrag.len());
        username.push_str(&remote.ufrag);
        username.push(':');
        username.push_str(&local.ufrag);
        Remote { key: Key::short_term(&remote.pwd), username }
    }
}

/// The selected pair and its liveness bookkeeping.
#[derive(Clone, Copy, Debug)]
struct Selected {
    local: Candidate,
    remote: Candidate,
    /// The check-list generation and pair key it came from.
    generation: u32,
    key: (usize, usize),
    last_received: Instant,
    last_sent: Instant,
    consent_last: Instant,
    next_consent: Instant,
    consent_txn: Option<Txn>,
    disconnected: bool,
    /// The pair's data counters while it is selected (counted here on the per-packet path, added to the
    /// pair's own when the selection moves).
    data: DataCounters,
}

/// An ICE agent (RFC 8445), full or lite, for one data stream with one component (rtcp-mux, BUNDLE).
///
/// See the [module documentation](super) for the calling sequence. Methods that change state (adding
/// candidates, credentials, restart, close) may be called at any time, also while handling events: what
/// they queue is announced by `poll_timeout` (the latest `now` while datagrams wait in `poll_transmit`).
/// Events are pure reads.
#[derive(Debug)]
pub struct IceAgent {
    config: Config,
    rng: SeededRng,
    role: Role,
    tie_breaker: u64,
    local_creds: Credentials,
    local_key: Key,
    remote_creds: Option<Remote>,
    sockets: Vec<Socket>,
    locals: Vec<Candidate>,
    foundations: Vec<FoundationKey>,
    remotes: Vec<Candidate>,
    stun_servers: Vec<SocketAddr>,
    gathers: Vec<Gather>,
    list: CheckList,
    selected: Option<Selected>,
    generation: u32,
    state: IceConnectionState,
    checking_since: Option<Instant>,
    first_valid_at: Option<Instant>,
    last_check: Option<Instant>,
    failed: bool,
    closed: bool,
    local_end: bool,
    gathering_reported: bool,
    remote_end: bool,
    next_prflx: u32,
    now: Instant,
    timers: Timers<Timer, 7>,
    transmits: OutQueue<(SocketAddr, SocketAddr)>,
    events: EventQueue<IceEvent>,
    stats: IceStats,
}

impl IceAgent {
    /// A new agent. Local credentials come from `config` or are drawn from `rng`, as is the tie-breaker.
    pub fn new(mut config: Config, mut rng: SeededRng) -> Self {
        // Floors that keep every timer moving forward (a zero pacing or retransmission interval would spin).
        config.ta = config.ta.max(Duration::from_millis(5));
        config.check_rto = config.check_rto.max(Duration::from_millis(50));
        config.check_rto_max = config.check_rto_max.max(config.check_rto);
        config.check_max_transmissions = config.check_max_transmissions.max(1);
        config.gather_max_transmissions = config.gather_max_transmissions.max(1);
        config.keepalive_interval = config.keepalive_interval.max(Duration::from_millis(100));
        config.consent_interval = config.consent_interval.max(Duration::from_millis(100));
        let local_creds = config.local_credentials.clone().unwrap_or_else(|| Credentials::random(&mut rng));
        let tie_breaker = rng.u64();
        let role = if config.lite { Role::Controlled } else { config.role };
        let local_key = Key::short_term(&local_creds.pwd);
        IceAgent {
            local_key,
            list: CheckList::new(config.max_pairs),
            transmits: OutQueue::new(config.max_transmits),
            events: EventQueue::new(config.max_events),
            config,
            rng,
            role,
            tie_breaker,
            local_creds,
            remote_creds: None,
            sockets: Vec::new(),
            locals: Vec::new(),
            foundations: Vec::new(),
            remotes: Vec::new(),
            stun_servers: Vec::new(),
            gathers: Vec::new(),
            selected: None,
            generation: 0,
            state: IceConnectionState::New,
            checking_since: None,
            first_valid_at: None,
            last_check: None,
            failed: false,
            closed: false,
            local_end: false,
            gathering_reported: false,
            remote_end: false,
            next_prflx: 0,
            now: Instant::ZERO,
            timers: Timers::default(),
            stats: IceStats::default(),
        }
    }

    // ----- accessors -----

    /// Our credentials, to signal to the peer.
    pub fn local_credentials(&self) -> &Credentials {
        &self.local_creds
    }

    /// The current role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Sets the role before checks begin (JSEP, RFC 8829 §5.2.1 / RFC 8445 §6.1.1: the offerer controls
    /// unless one side is lite). Ignored in lite mode and once checks have started; after that, role
    /// conflicts are resolved on the wire (§7.3.1.1).
    pub fn set_role(&mut self, role: Role) {
        if !self.config.lite && self.checking_since.is_none() && self.list.pairs.is_empty() {
            self.role = role;
        }
    }

    /// The connection state.
    pub fn state(&self) -> IceConnectionState {
        self.state
    }

    /// The state of the current check list.
    pub fn check_list_state(&self) -> CheckListState {
        self.list.state
    }

    /// Gives back the datagram buffers kept for reuse when nothing is waiting, for an application that
    /// holds many idle agents (the next datagram allocates again). Call it between polls: it releases the
    /// last datagram returned by `poll_transmit`.
    pub fn trim(&mut self) {
        self.transmits.trim();
        self.events.trim();
        // Lists that stopped growing once the pair was selected keep no spare room.
        self.sockets.shrink_to_fit();
        self.foundations.shrink_to_fit();
        self.gathers.shrink_to_fit();
        if self.list.triggered.is_empty() {
            self.list.triggered = alloc::collections::VecDeque::new();
        }
    }

    /// Counters.
    pub fn stats(&self) -> IceStats {
        let mut s = self.stats;
        s.transmit_overflow = self.transmits.dropped();
        s.event_overflow = self.events.dropped();
        s
    }

    /// Our local candidates (peer-reflexive ones included).
    pub fn local_candidates(&self) -> &[Candidate] {
        &self.locals
    }

    /// The remote candidates known (signalled and peer-reflexive).
    pub fn remote_candidates(&self) -> &[Candidate] {
        &self.remotes
    }

    /// The pairs of the check list, highest priority first, as `(local, remote, state, nominated)`.
    pub fn pairs(&self) -> impl Iterator<Item = (&Candidate, &Candidate, PairState, bool)> + '_ {
        self.list
            .pairs
            .iter()
            .filter_map(|p| Some((self.locals.get(p.local)?, self.remotes.get(p.remote)?, p.state, p.nominated)))
    }

    /// The pairs of the check list, highest priority first, with their candidates' indices and their
    /// counters (for statistics). The selected pair's data counters include what it carried while
    /// selected.
    pub fn pair_infos(&self) -> impl Iterator<Item = PairInfo<'_>> + '_ {
        let selected = self.selected.filter(|s| s.generation == self.generation);
        self.list.pairs.iter().filter_map(move |p| {
            let is_selected = selected.is_some_and(|s| s.key == (p.local, p.remote));
            let stats = p.stats.view(selected.as_ref().filter(|_| is_selected).map(|s| &s.data));
            Some(PairInfo {
                local: (p.local, self.locals.get(p.local)?),
                remote: (p.remote, self.remotes.get(p.remote)?),
                state: p.state,
                nominated: p.nominated,
                selected: is_selected,
                stats,
            })
        })
    }

    /// The selected pair `(local, remote)`: send from `local.base` to `remote.address`.
    pub fn selected_pair(&self) -> Option<(Candidate, Candidate)> {
        self.selected.map(|s| (s.local, s.remote))
    }

    // ----- local candidates -----

    /// Declares a local UDP socket. Unless the filter excludes host candidates, it becomes a host
    /// candidate (advertising the NAT 1:1 public address instead in [`Nat1To1Kind::Host`] mode); it is also
    /// the base for server-reflexive gathering from every STUN server of its family. Returns the host
    /// candidate, or `Ok(None)` when only the socket was registered.
    pub fn add_local_host(&mut self, now: Instant, addr: SocketAddr) -> Result<Option<Candidate>, ApiError> {
        self.touch(now);
        if self.closed {
            return Err(ApiError::Closed);
        }
        if addr.port() == 0 || addr.ip().is_unspecified() {
            return Err(ApiError::InvalidCandidate);
        }
        if self.sockets.iter().any(|s| s.addr == addr && (s.host || s.transport.is_tcp())) {
            return Err(ApiError::Duplicate);
        }
        self.socket_rank(addr).ok_or(ApiError::LimitReached)?;
        if let Some(s) = self.sockets.iter_mut().find(|s| s.addr == addr) {
            s.host = true;
        }
        let public = self
            .config
            .nat_1to1
            .iter()
            .find(|m| m.public.is_ipv4() == addr.is_ipv4() && m.local.is_none_or(|l| l == addr.ip()))
            .map(|m| SocketAddr::new(m.public, addr.port()));
        let mut host = None;
        if self.config.candidate_filter.host {
            let advertised = match (public, self.config.nat_1to1_kind) {
                (Some(p), Nat1To1Kind::Host) => p,
                _ => addr,
            };
            host = Some(self.push_local(CandidateKind::Host, advertised, addr, None, None)?);
        }
        if let (Some(p), Nat1To1Kind::ServerReflexive) = (public, self.config.nat_1to1_kind) {
            if self.config.candidate_filter.server_reflexive && !self.config.lite {
                let _ = self.push_local(CandidateKind::ServerReflexive, p, addr, Some(addr), None);
            }
        }
        if !self.config.lite && self.config.candidate_filter.server_reflexive {
            let servers: Vec<SocketAddr> =
                self.stun_servers.iter().copied().filter(|s| s.is_ipv4() == addr.is_ipv4()).collect();
            for server in servers {
                self.start_gather(server, addr);
            }
        }
        self.after_change();
        Ok(host)
    }

    /// Declares a local TCP host candidate (RFC 6544). `Passive`: `addr` is a listening socket; the
    /// peer's connections to it are named `(addr, peer address)`. `Active`: `addr` names the source of the
    /// connections this agent's checks open (its IP is the interface's; the candidate is advertised with
    /// port 9, §4.5); a transmit from it to an address with no connection yet asks the caller to connect
    /// there. `SimultaneousOpen` is refused ([`ApiError::InvalidCandidate`]). `addr` may not also be a
    /// UDP socket's ([`ApiError::Duplicate`]). Filtered out like any host candidate.
    pub fn add_local_tcp(&mut self, now: Instant, addr: SocketAddr, tcp_type: TcpType) -> Result<Candidate, ApiError> {
        self.touch(now);
        if self.closed {
            return Err(ApiError::Closed);
        }
        if addr.port() == 0 || addr.ip().is_unspecified() || tcp_type == TcpType::SimultaneousOpen {
            return Err(ApiError::InvalidCandidate);
        }
        if !self.config.candidate_filter.host {
            return Err(ApiError::Filtered);
        }
        if self.sockets.iter().any(|s| s.addr == addr) {
            return Err(ApiError::Duplicate);
        }
        self.socket_rank_of(addr, Transport::Tcp(tcp_type)).ok_or(ApiError::LimitReached)?;
        let advertised = match tcp_type {
            TcpType::Active => SocketAddr::new(addr.ip(), 9),
            _ => addr,
        };
        let c = self.push_local(CandidateKind::Host, advertised, addr, None, None)?;
        self.after_change();
        Ok(c)
    }

    /// Adds a local candidate the caller obtained elsewhere: a relay candidate from a TURN client
    /// (`address` = `base` = the relayed address, `related` = the mapped address), or a server-reflexive
    /// one learnt outside the agent (`base` = the host socket it maps). The agent computes its priority and
    /// foundation, reports it as [`IceEvent::LocalCandidate`] and pairs it.
    pub fn add_local_candidate(
        &mut self,
        now: Instant,
        kind: CandidateKind,
        address: SocketAddr,
        base: SocketAddr,
        related: Option<SocketAddr>,
    ) -> Result<Candidate, ApiError> {
        self.touch(now);
        if self.closed {
            return Err(ApiError::Closed);
        }
        let f = self.config.candidate_filter;
        let allowed = match kind {
            CandidateKind::Host => f.host,
            CandidateKind::ServerReflexive => f.server_reflexive && !self.config.lite,
            CandidateKind::Relay => f.relay && !self.config.lite,
            CandidateKind::PeerReflexive => false,
        };
        if !allowed {
            return Err(ApiError::Filtered);
        }
        if address.port() == 0 || address.ip().is_unspecified() || address.is_ipv4() != base.is_ipv4() {
            return Err(ApiError::InvalidCandidate);
        }
        let c = self.push_local(kind, address, base, related, related.filter(|_| kind == CandidateKind::Relay))?;
        self.after_change();
        Ok(c)
    }

    /// Adds a STUN server for server-reflexive gathering from every declared socket of its family.
    pub fn add_stun_server(&mut self, now: Instant, server: SocketAddr) -> Result<(), ApiError> {
        self.touch(now);
        if self.closed {
            return Err(ApiError::Closed);
        }
        if self.stun_servers.contains(&server) {
            return Err(ApiError::Duplicate);
        }
        if self.stun_servers.len() >= self.config.max_stun_servers {
            return Err(ApiError::LimitReached);
        }
        self.stun_servers.push(server);
        if !self.config.lite && self.config.candidate_filter.server_reflexive {
            let bases: Vec<SocketAddr> = self
                .sockets
                .iter()
                .map(|s| s.addr)
                .filter(|a| a.is_ipv4() == server.is_ipv4() && self.is_declared(*a))
                .collect();
            for base in bases {
                self.start_gather(server, base);
            }
        }
        self.after_change();
        Ok(())
    }

    /// The caller declared every socket, STUN server and relay candidate it will: once server-reflexive
    /// gathering finishes, [`IceEvent::GatheringComplete`] follows.
    pub fn end_of_local_candidates(&mut self, now: Instant) {
        self.touch(now);
        self.local_end = true;
        self.after_change();
    }

    // ----- remote side -----

    /// Sets the peer's credentials (from its offer or answer). Checks wait for them; candidates may come
    /// before.
    pub fn set_remote_credentials(&mut self, creds: Credentials) {
        self.remote_creds = Some(Remote::new(&creds, &self.local_creds));
        self.after_change();
    }

    /// Adds a remote candidate (trickle: at any time, in any order). A candidate matching a known
    /// peer-reflexive one replaces its type, priority and foundation (RFC 8445 §7.3.1.3).
    pub fn add_remote_candidate(&mut self, now: Instant, candidate: Candidate) -> Result<(), ApiError> {
        self.touch(now);
        if self.closed {
            return Err(ApiError::Closed);
        }
        if candidate.component != COMPONENT_RTP
            || candidate.address.port() == 0
            || candidate.address.ip().is_unspecified()
            || candidate.kind == CandidateKind::PeerReflexive && candidate.priority == 0
        {
            return Err(ApiError::InvalidCandidate);
        }
        let mut c = candidate;
        c.base = c.address;
        if c.transport == Transport::Tcp(TcpType::SimultaneousOpen) {
            return Err(ApiError::InvalidCandidate);
        }
        let same = |r: &Candidate| r.address == c.address && r.transport.is_tcp() == c.transport.is_tcp();
        if let Some(i) = self.remotes.iter().position(same) {
            let Some(known) = self.remotes.get_mut(i) else { return Err(ApiError::InvalidCandidate) };
            if known.kind != CandidateKind::PeerReflexive {
                return Err(ApiError::Duplicate);
            }
            *known = c;
            for p in self.list.pairs.iter_mut().filter(|p| p.remote == i) {
                p.remote_foundation = c.foundation;
            }
            // The selected pair's copy too: it is the same pair, now known by its signalled candidate.
            if let Some(s) = self.selected.as_mut().filter(|s| s.remote.address == c.address) {
                s.remote = c;
            }
            return Ok(());
        }
        if self.remotes.len() >= self.config.max_remote_candidates {
            return Err(ApiError::LimitReached);
        }
        crate::util::reserve_compact(&mut self.remotes);
        self.remotes.push(c);
        let ri = self.remotes.len() - 1;
        if !self.config.lite && self.list.state == CheckListState::Running {
            for li in 0..self.locals.len() {
                self.form_pair(li, ri);
            }
            self.list.unfreeze_initial();
        }
        tracing::debug!(target: TARGET, candidate = %c, "remote candidate");
        self.after_change();
        Ok(())
    }

    /// The peer will send no more candidates (RFC 8838 §13).
    pub fn end_of_remote_candidates(&mut self, now: Instant) {
        self.touch(now);
        self.remote_end = true;
        self.after_change();
    }

    /// ICE restart (RFC 8445 §9): new local credentials (given, or drawn from the generator), the peer's
    /// candidates and credentials forgotten, a new check list. Data keeps flowing on the old selected pair
    /// until a new one is selected. Local candidates are reported again as [`IceEvent::LocalCandidate`]s.
    pub fn restart(&mut self, now: Instant, credentials: Option<Credentials>) {
        self.touch(now);
        if self.closed {
            return;
        }
        self.local_creds = credentials.unwrap_or_else(|| Credentials::random(&mut self.rng));
        self.local_key = Key::short_term(&self.local_creds.pwd);
        self.remote_creds = None;
        self.generation = self.generation.wrapping_add(1);
        self.remotes.clear();
        self.list.clear();
        self.locals.retain(|c| c.kind != CandidateKind::PeerReflexive);
        for c in self.locals.clone() {
            self.emit(IceEvent::LocalCandidate(c));
        }
        self.gathering_reported = false;
        self.remote_end = false;
        self.failed = false;
        self.checking_since = None;
        self.first_valid_at = None;
        self.last_check = None;
        tracing::debug!(target: TARGET, generation = self.generation, "restart");
        self.after_change();
    }

    /// Closes the agent: no more checks, events or data.
    pub fn close(&mut self) {
        self.closed = true;
        self.selected = None;
        self.list.clear();
        self.gathers.clear();
        self.transmits.clear();
        self.after_change();
    }

    // ----- data -----

    /// Where to send `data`: from the selected pair's local base to its remote address. Fails without a
    /// selected pair and once consent has expired (RFC 7675 §5.1: sending stops).
    pub fn send<'a>(&mut self, data: &'a [u8]) -> Result<Transmit<'a>, ApiError> {
        if self.closed {
            return Err(ApiError::Closed);
        }
        let now = self.now;
        let Some(sel) = self.selected.as_mut() else {
            return Err(if self.failed { ApiError::ConsentExpired } else { ApiError::NoSelectedPair });
        };
        if self.config.consent_timeout <= now - sel.consent_last {
            return Err(ApiError::ConsentExpired);
        }
        sel.last_sent = now;
        sel.data.packets_sent += 1;
        sel.data.bytes_sent += data.len() as u64;
        self.stats.data_sent += 1;
        self.stats.data_bytes_sent += data.len() as u64;
        Ok(Transmit { source: sel.local.base, destination: sel.remote.address, contents: data })
    }

    // ----- sending checks (RFC 8445 §6.1.4, §7.2.4) -----

    fn write_request(&mut self, pi: usize, txn: &Txn, consent_to: Option<(SocketAddr, SocketAddr)>) -> bool {
        let Some(remote) = self.remote_creds.as_ref() else { return false };
        let (src, dst) = match consent_to {
            Some(addrs) => addrs,
            None => {
                let Some(p) = self.list.pairs.get(pi) else { return false };
                let (Some(l), Some(r)) = (self.locals.get(p.local), self.remotes.get(p.remote)) else {
                    return false;
                };
                (l.base, r.address)
            }
        };
        let (controlling, tie) = (txn.controlling, self.tie_breaker);
        let pushed = self.transmits.push_with((src, dst), |buf| {
            let mut b = MessageBuilder::new(buf, MessageType::BINDING_REQUEST, TransactionId(txn.id))?;
            b.add(Attribute::Username(&remote.username))?.add(Attribute::Priority(txn.priority))?;
            if controlling {
                b.add(Attribute::IceControlling(tie))?;
            } else {
                b.add(Attribute::IceControlled(tie))?;
            }
            if txn.use_candidate {
                b.add(Attribute::UseCandidate)?;
            }
            b.message_integrity(&remote.key)?.fingerprint()?;
            b.finish();
            Ok::<(), crate::stun::Error>(())
        });
        pushed == Ok(true)
    }

    fn new_txn(&mut self, local_priority: u32, use_candidate: bool) -> Txn {
        let pending =
            self.list.pairs.iter().filter(|p| matches!(p.state, PairState::Waiting | PairState::InProgress)).count()
                as u32;
        // §14.3: RTO = MAX(500 ms, Ta * (Waiting + In-Progress pairs)).
        let rto = self.config.check_rto.max(self.config.ta.saturating_mul(pending)).min(self.config.check_rto_max);
        // §7.1.1: PRIORITY is the priority a peer-reflexive candidate from this base would have.
        let local_pref = ((local_priority >> 8) & 0xFFFF) as u16;
        Txn {
            id: self.rng.bytes(),
            next: self.now + rto,
            rto,
            sent: 1,
            use_candidate,
            controlling: self.role == Role::Controlling,
            priority: priority(CandidateKind::PeerReflexive, local_pref, COMPONENT_RTP),
        }
    }

    fn send_check(&mut self, pi: usize) {
        let Some(p) = self.list.pairs.get(pi).copied() else { return };
        let Some(l) = self.locals.get(p.local).copied() else { return };
        let use_candidate = self.role == Role::Controlling && p.nominating;
        let txn = self.new_txn(l.priority, use_candidate);
        // The pacing slot is used even if the transmit queue refused the check (counted there).
        self.last_check = Some(self.now);
        if !self.write_request(pi, &txn, None) {
            return;
        }
        self.stats.checks_sent += 1;
        if let Some(p) = self.list.pairs.get_mut(pi) {
            p.stats.requests_sent = p.stats.requests_sent.saturating_add(1);
            p.txn = Some(txn);
            p.state = PairState::InProgress;
        }
        self.last_check = Some(self.now);
        self.mark_checking();
        tracing::trace!(target: TARGET, pair = pi, use_candidate, "check sent");
    }

    fn pace(&mut self) {
        if self.config.lite || self.remote_creds.is_none() || self.failed {
            return;
        }
        if self.last_check.is_some_and(|t| self.now < t + self.config.ta) {
            return;
        }
        if let Some((pi, _triggered)) = self.list.next_check() {
            self.send_check(pi);
        }
    }

    fn retransmit(&mut self) {
        let now = self.now;
        let max = self.config.check_max_transmissions;
        let rto_max = self.config.check_rto_max;
        for pi in 0..self.list.pairs.len() {
            let Some(p) = self.list.pairs.get(pi).copied() else { continue };
            let Some(mut txn) = p.txn else { continue };
            if txn.next > now {
                continue;
            }
            if txn.sent >= max {
                if let Some(p) = self.list.pairs.get_mut(pi) {
                    p.txn = None;
                    // A failed nomination leaves a valid pair valid (it may be nominated again).
                    if !(txn.use_candidate && p.nominating && p.state == PairState::InProgress && p.valid) {
                        p.state = PairState::Failed;
                    } else {
                        p.state = PairState::Succeeded;
                    }
                    p.nominating = false;
                }
                tracing::debug!(target: TARGET, pair = pi, "check timed out");
                continue;
            }
            txn.sent = txn.sent.saturating_add(1);
            txn.rto = txn.rto.saturating_mul(2).min(rto_max);
            txn.next = now + txn.rto;
            if self.write_request(pi, &txn, None) {
                self.stats.retransmits += 1;
            }
            if let Some(p) = self.list.pairs.get_mut(pi) {
                p.txn = Some(txn);
            }
        }
        // Every pair failed but the failed timeout has not passed: start another round of checks rather
        // than sit idle (RFC 8863: stay patient while success is still possible; loss may have eaten a
        // whole transaction).
        let idle =
            !self.list.pairs.iter().any(|p| {
                matches!(p.state, PairState::Frozen | PairState::Waiting | PairState::InProgress) || p.nominated
            });
        if idle && !self.failed && self.list.state == CheckListState::Running {
            for p in self.list.pairs.iter_mut().filter(|p| p.state == PairState::Failed) {
                p.state = PairState::Waiting;
            }
        }
        // Consent checks retransmit the same way until the next one replaces them.
        if let Some(sel) = self.selected {
            if let Some(mut txn) = sel.consent_txn {
                if txn.next <= now {
                    let keep = txn.sent < max;
                    txn.sent = txn.sent.saturating_add(1);
                    txn.rto = txn.rto.saturating_mul(2).min(rto_max);
                    txn.next = now + txn.rto;
                    if keep && self.write_request(0, &txn, Some((sel.local.base, sel.remote.address))) {
                        self.stats.retransmits += 1;
                    }
                    if let Some(s) = self.selected.as_mut() {
                        s.consent_txn = keep.then_some(txn);
                    }
                }
            }
        }
        for gi in 0..self.gathers.len() {
            let Some(mut g) = self.gathers.get(gi).copied() else { continue };
            if g.done || g.next > now {
                continue;
            }
            if g.sent >= self.config.gather_max_transmissions {
                g.done = true;
            } else {
                g.sent = g.sent.saturating_add(1);
                g.rto = g.rto.saturating_mul(2).min(rto_max);
                g.next = now + g.rto;
                self.write_gather(&g);
                self.stats.retransmits += 1;
            }
            if let Some(slot) = self.gathers.get_mut(gi) {
                *slot = g;
            }
        }
    }

    // ----- nomination and selection (RFC 8445 §8) -----

    /// Controlling side, regular nomination (§8.1.1): once the best valid pair cannot be beaten by a pair
    /// still pending, or `nomination_delay` after the first valid pair, nominate it with a USE-CANDIDATE
    /// check.
    fn maybe_nominate(&mut self, deadline_passed: bool) {
        if self.config.lite || self.role != Role::Controlling || self.list.state != CheckListState::Running {
            return;
        }
        if self.list.pairs.iter().any(|p| p.nominating || p.nominated) {
            return;
        }
        let Some(best) = self.list.pairs.iter().position(|p| p.state == PairState::Succeeded) else { return };
        let better_pending = self.list.pairs.iter().take(best).any(|p| p.state != PairState::Failed);
        if better_pending && !deadline_passed {
            return;
        }
        if let Some(p) = self.list.pairs.get_mut(best) {
            p.nominating = true;
        }
        tracing::debug!(target: TARGET, pair = best, "nominating");
        self.list.trigger(best);
    }

    fn select(&mut self, pi: usize) {
        let Some(p) = self.list.pairs.get(pi).copied() else { return };
        let (Some(l), Some(r)) = (self.locals.get(p.local).copied(), self.remotes.get(p.remote).copied()) else {
            return;
        };
        let now = self.now;
        let current = self.selected;
        if let Some(cur) = current {
            if cur.generation == self.generation {
                let cur_prio = self.list.find(cur.key.0, cur.key.1).and_then(|i| self.list.pairs.get(i));
                if cur_prio.is_some_and(|c| c.priority >= p.priority) && cur.key != (p.local, p.remote) {
                    return;
                }
            }
        }
        let same_path = current.is_some_and(|c| c.local.base == l.base && c.remote.address == r.address);
        let same_pair = current.is_some_and(|c| c.generation == self.generation && c.key == (p.local, p.remote));
        let mut data = DataCounters::default();
        match current {
            Some(c) if same_pair => data = c.data,
            Some(c) => self.fold_selected_data(&c),
            None => {}
        }
        let next_consent = now + self.consent_delay();
        self.selected = Some(Selected {
            local: l,
            remote: r,
            generation: self.generation,
            key: (p.local, p.remote),
            last_received: now,
            last_sent: current.map_or(now, |c| c.last_sent),
            consent_last: now,
            next_consent,
            consent_txn: None,
            disconnected: false,
            data,
        });
        self.list.complete(p.priority);
        if !same_pair {
            self.stats.selected_pair_changes += 1;
        }
        if !same_path {
            tracing::debug!(target: TARGET, local = %l.base, remote = %r.address, "selected pair");
            self.emit(IceEvent::SelectedPairChanged { local: l, remote: r });
        }
    }

    /// The check-list entry of the selected pair (while its generation lasts).
    fn selected_pair_mut(&mut self) -> Option<&mut Pair> {
        let sel = self.selected.filter(|s| s.generation == self.generation)?;
        let i = self.list.find(sel.key.0, sel.key.1)?;
        self.list.pairs.get_mut(i)
    }

    /// A selection ends: the data it carried is added to its pair's counters.
    fn fold_selected_data(&mut self, sel: &Selected) {
        if sel.generation != self.generation {
            return;
        }
        if let Some(i) = self.list.find(sel.key.0, sel.key.1) {
            if let Some(p) = self.list.pairs.get_mut(i) {
                p.stats.data.add(&sel.data);
            }
        }
    }

    fn consent_delay(&mut self) -> Duration {
        // RFC 7675 §5.1: uniformly in [0.8, 1.2] × the interval.
        let base = self.config.consent_interval;
        self.rng.duration_between((base / 5).saturating_mul(4), (base / 5).saturating_mul(6))
    }

    fn keepalive_and_consent(&mut self) {
        let now = self.now;
        let Some(sel) = self.selected else { return };
        if !self.config.lite && now >= sel.next_consent {
            let delay = self.consent_delay();
            // Between a restart and the new remote credentials there is nobody to ask; try next round.
            let txn = self.remote_creds.is_some().then(|| self.new_txn(sel.local.priority, false));
            let sent = txn.is_some_and(|t| self.write_request(0, &t, Some((sel.local.base, sel.remote.address))));
            if sent {
                self.stats.checks_sent += 1;
                if let Some(p) = self.selected_pair_mut() {
                    p.stats.requests_sent = p.stats.requests_sent.saturating_add(1);
                    p.stats.consent_requests_sent = p.stats.consent_requests_sent.saturating_add(1);
                }
            }
            if let Some(s) = self.selected.as_mut() {
                s.consent_txn = txn.filter(|_| sent);
                s.next_consent = now + delay;
                if sent {
                    s.last_sent = now;
                }
            }
        }
        let Some(sel) = self.selected else { return };
        if now >= sel.last_sent + self.config.keepalive_interval {
            // §11: a Binding indication keeps the NAT bindings open when nothing else was sent.
            let id: [u8; 12] = self.rng.bytes();
            let pushed = self.transmits.push_with((sel.local.base, sel.remote.address), |buf| {
                MessageBuilder::new(buf, MessageType::BINDING_INDICATION, TransactionId(id))?.fingerprint()?;
                Ok::<(), crate::stun::Error>(())
            });
            if pushed == Ok(true) {
                self.stats.keepalives_sent += 1;
            }
            if let Some(s) = self.selected.as_mut() {
                s.last_sent = now;
            }
        }
    }

    fn liveness(&mut self) {
        let now = self.now;
        if let Some(sel) = self.selected {
            if now >= sel.consent_last + self.config.consent_timeout {
                // RFC 7675 §5.1: consent lost: stop sending, the session fails.
                tracing::debug!(target: TARGET, "consent expired");
                self.fold_selected_data(&sel);
                self.selected = None;
                self.failed = true;
                self.list.state = CheckListState::Failed;
                for p in self.list.pairs.iter_mut() {
                    p.txn = None;
                }
                return;
            }
            let silent = now >= sel.last_received + self.config.disconnected_timeout;
            if let Some(s) = self.selected.as_mut() {
                s.disconnected = silent;
            }
        } else if let Some(since) = self.checking_since {
            if !self.failed && now >= since + self.config.failed_timeout {
                tracing::debug!(target: TARGET, "no pair selected in time: failed");
                self.failed = true;
                self.list.state = CheckListState::Failed;
                self.list.triggered.clear();
                for p in self.list.pairs.iter_mut() {
                    p.txn = None;
                    if p.state != PairState::Succeeded {
                        p.state = PairState::Failed;
                    }
                }
                for g in self.gathers.iter_mut() {
                    g.done = true;
                }
            }
        }
    }

    // ----- helpers -----

    fn touch(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    fn emit(&mut self, e: IceEvent) {
        if !self.closed || matches!(e, IceEvent::StateChanged(IceConnectionState::Closed)) {
            self.events.push(e);
        }
    }

    fn mark_checking(&mut self) {
        if self.checking_since.is_none() {
            self.checking_since = Some(self.now);
        }
    }

    /// Something authenticated (or data on a validated pair) arrived from `remote` on `base`.
    fn mark_received(&mut self, base: SocketAddr, remote: SocketAddr, counts_as_consent: bool) {
        let now = self.now;
        if let Some(s) = self.selected.as_mut() {
            if s.local.base == base && s.remote.address == remote {
                s.last_received = now;
                s.disconnected = false;
                if counts_as_consent {
                    s.consent_last = now;
                }
            }
        }
    }

    /// Whether `base` is a socket the caller declared with `add_local_host` (not a relay's address).
    fn is_declared(&self, base: SocketAddr) -> bool {
        self.sockets.iter().any(|s| s.addr == base && s.host)
    }

    /// The transport of the base `base` (UDP for a base the caller never declared as TCP).
    pub(super) fn transport_of(&self, base: SocketAddr) -> Transport {
        self.sockets.iter().find(|s| s.addr == base).map_or(Transport::Udp, |s| s.transport)
    }

    /// The RFC 8421 rank of `addr` among the UDP bases of its family, registering it when new.
    fn socket_rank(&mut self, addr: SocketAddr) -> Option<u16> {
        self.socket_rank_of(addr, Transport::Udp)
    }

    /// The rank of `addr` among the bases of its family and transport protocol, registering it when new.
    fn socket_rank_of(&mut self, addr: SocketAddr, transport: Transport) -> Option<u16> {
        if let Some(s) = self.sockets.iter().find(|s| s.addr == addr) {
            return Some(s.rank);
        }
        if self.sockets.len() >= self.config.max_local_candidates {
            return None;
        }
        let rank = self
            .sockets
            .iter()
            .filter(|s| s.addr.is_ipv4() == addr.is_ipv4() && s.transport.is_tcp() == transport.is_tcp())
            .count() as u16;
        self.sockets.push(Socket { addr, rank, host: false, transport });
        Some(rank)
    }

    fn foundation_for(&mut self, key: FoundationKey) -> Foundation {
        let n = match self.foundations.iter().position(|k| *k == key) {
            Some(i) => i,
            None => {
                self.foundations.push(key);
                self.foundations.len() - 1
            }
        };
        Foundation::from_number((n as u32).wrapping_add(1))
    }

    fn push_local(
        &mut self,
        kind: CandidateKind,
        address: SocketAddr,
        base: SocketAddr,
        related: Option<SocketAddr>,
        server: Option<SocketAddr>,
    ) -> Result<Candidate, ApiError> {
        if self.locals.iter().any(|c| c.address == address && c.base == base) {
            return Err(ApiError::Duplicate);
        }
        if self.locals.len() >= self.config.max_local_candidates {
            return Err(ApiError::LimitReached);
        }
        let rank = self.socket_rank(base).ok_or(ApiError::LimitReached)?;
        let transport = self.transport_of(base);
        let foundation = self.foundation_for(FoundationKey {
            tcp: transport.is_tcp(),
            kind,
            base_ip: base.ip(),
            server_ip: server.map(|s| s.ip()),
        });
        let priority = match transport {
            Transport::Udp => priority(kind, local_preference(base.is_ipv6(), rank), COMPONENT_RTP),
            Transport::Tcp(t) => tcp_priority(kind, t, tcp_other_preference(base.is_ipv6(), rank), COMPONENT_RTP),
        };
        let c = Candidate { kind, address, base, priority, foundation, component: COMPONENT_RTP, related, transport };
        crate::util::reserve_compact(&mut self.locals);
        self.locals.push(c);
        let li = self.locals.len() - 1;
        if kind != CandidateKind::PeerReflexive {
            tracing::debug!(target: TARGET, candidate = %c, "local candidate");
            self.emit(IceEvent::LocalCandidate(c));
            if !self.config.lite && self.list.state == CheckListState::Running {
                for ri in 0..self.remotes.len() {
                    self.form_pair(li, ri);
                }
                self.list.unfreeze_initial();
            }
        }
        Ok(c)
    }

    /// Forms the pair (`li`, `ri`) if both are of one family, replacing a server-reflexive local by its base
    /// and keeping only the best of redundant pairs (§6.1.2.4).
    fn form_pair(&mut self, li: usize, ri: usize) {
        let (Some(l), Some(r)) = (self.locals.get(li).copied(), self.remotes.get(ri).copied()) else { return };
        if l.kind == CandidateKind::PeerReflexive
            || l.base.is_ipv4() != r.address.is_ipv4()
            || !l.transport.pairs_with(r.transport)
        {
            return;
        }
        let new = Pair::new(li, &l, ri, &r, self.role);
        let redundant = self
            .list
            .pairs
            .iter()
            .position(|p| p.remote == ri && self.locals.get(p.local).is_some_and(|x| x.base == l.base));
        if let Some(i) = redundant {
            let Some(old) = self.list.pairs.get(i) else { return };
            if old.priority >= new.priority || !matches!(old.state, PairState::Frozen | PairState::Waiting) {
                return;
            }
            self.list.pairs.remove(i);
        }
        if self.list.insert(new).is_none() {
            self.stats.discarded.limit_reached += 1;
        }
    }

    fn local_for_base(&self, base: SocketAddr) -> Option<usize> {
        // The pairable candidate of that base: host or relay first, else a server-reflexive one (no-host
        // filter), never a peer-reflexive one.
        let pairable = |c: &Candidate| c.base == base && c.kind != CandidateKind::PeerReflexive;
        self.locals.iter().enumerate().filter(|(_, c)| pairable(c)).max_by_key(|(_, c)| c.priority).map(|(i, _)| i)
    }

    fn switch_role(&mut self, role: Role) {
        if self.role == role || self.config.lite {
            return;
        }
        self.role = role;
        for p in self.list.pairs.iter_mut() {
            let (l, r) = (self.locals.get(p.local), self.remotes.get(p.remote));
            if let (Some(l), Some(r)) = (l, r) {
                p.priority = priority_for(role, l.priority, r.priority);
            }
            if role == Role::Controlled {
                p.nominating = false;
            }
        }
        self.list.resort();
        tracing::debug!(target: TARGET, ?role, "role changed");
        self.emit(IceEvent::RoleChanged(role));
    }

    fn start_gather(&mut self, server: SocketAddr, base: SocketAddr) {
        if self.gathers.iter().any(|g| g.server == server && g.base == base) {
            return;
        }
        if self.gathers.len() >= self.config.max_local_candidates.saturating_mul(self.config.max_stun_servers.max(1)) {
            return;
        }
        let g = Gather {
            server,
            base,
            id: self.rng.bytes(),
            next: self.now + self.config.check_rto,
            rto: self.config.check_rto,
            sent: 1,
            done: false,
        };
        self.write_gather(&g);
        self.gathers.push(g);
    }

    fn write_gather(&mut self, g: &Gather) {
        let id = g.id;
        let _ = self.transmits.push_with((g.base, g.server), |buf| {
            MessageBuilder::new(buf, MessageType::BINDING_REQUEST, TransactionId(id))?.fingerprint()?;
            Ok::<(), crate::stun::Error>(())
        });
    }

    fn derive_state(&self) -> IceConnectionState {
        if self.closed {
            return IceConnectionState::Closed;
        }
        if self.failed {
            return IceConnectionState::Failed;
        }
        if let Some(sel) = self.selected {
            if sel.disconnected {
                return IceConnectionState::Disconnected;
            }
            let fresh = sel.generation == self.generation;
            if fresh && self.list.state == CheckListState::Completed && self.remote_end {
                return IceConnectionState::Completed;
            }
            return IceConnectionState::Connected;
        }
        if self.checking_since.is_some() {
            return IceConnectionState::Checking;
        }
        IceConnectionState::New
    }

    /// Runs after every input: sends what pacing allows, reports state and gathering, re-arms timers.
    fn after_change(&mut self) {
        if !self.closed {
            self.pace();
            if self.local_end && !self.gathering_reported && self.gathers.iter().all(|g| g.done) {
                self.gathering_reported = true;
                self.emit(IceEvent::GatheringComplete);
            }
            self.fail_if_nothing_to_check();
        }
        let state = self.derive_state();
        if state != self.state {
            // Browsers always report `connected` before `completed`, and applications wait for it: when
            // selection and completion land in the same input, report both steps.
            if state == IceConnectionState::Completed
                && !matches!(self.state, IceConnectionState::Connected | IceConnectionState::Completed)
            {
                self.emit(IceEvent::StateChanged(IceConnectionState::Connected));
            }
            self.state = state;
            tracing::debug!(target: TARGET, %state, "state");
            self.emit(IceEvent::StateChanged(state));
        }
        self.rearm();
    }

    /// Gathering ended without a single local candidate (a relay-only policy whose relays all failed),
    /// and the peer has sent all of its: no pair can ever form and no check can reach us, so the agent
    /// fails (W3C `failed`: gathering finished, no more remote candidates, every pair — here none —
    /// failed) instead of staying `new`.
    fn fail_if_nothing_to_check(&mut self) {
        let no_local = self.locals.iter().all(|c| c.kind == CandidateKind::PeerReflexive);
        if !self.failed
            && !self.config.lite
            && self.gathering_reported
            && self.remote_end
            && self.remote_creds.is_some()
            && no_local
            && self.selected.is_none()
            && self.list.pairs.is_empty()
        {
            tracing::debug!(target: TARGET, "no local candidate and no more remote ones: failed");
            self.failed = true;
            self.list.state = CheckListState::Failed;
        }
    }

    fn rearm(&mut self) {
        self.timers.clear_all();
        if self.closed {
            return;
        }
        let now = self.now;
        if !self.config.lite && self.remote_creds.is_some() && !self.failed && self.list.has_work() {
            let at = self.last_check.map_or(now, |t| t + self.config.ta);
            self.timers.set(Timer::Pacing, at);
        }
        let retransmit = self
            .list
            .pairs
            .iter()
            .filter_map(|p| p.txn.map(|t| t.next))
            .chain(self.gathers.iter().filter(|g| !g.done).map(|g| g.next))
            .chain(self.selected.and_then(|s| s.consent_txn.map(|t| t.next)))
            .min();
        if let Some(at) = retransmit {
            self.timers.set(Timer::Retransmit, at);
        }
        if let Some(first) = self.first_valid_at {
            let idle = !self.list.pairs.iter().any(|p| p.nominating || p.nominated)
                && self.list.pairs.iter().any(|p| p.state == PairState::Succeeded);
            if idle && self.role == Role::Controlling && !self.config.lite && self.list.state == CheckListState::Running
            {
                self.timers.set(Timer::Nominate, first + self.config.nomination_delay);
            }
        }
        if let Some(sel) = self.selected {
            self.timers.set(Timer::Keepalive, sel.last_sent + self.config.keepalive_interval);
            if !self.config.lite {
                self.timers.set(Timer::Consent, sel.next_consent);
            }
            let mut live = sel.consent_last + self.config.consent_timeout;
            if !sel.disconnected {
                live = live.min(sel.last_received + self.config.disconnected_timeout);
            }
            self.timers.set(Timer::Liveness, live);
        } else if let (Some(since), false) = (self.checking_since, self.failed) {
            self.timers.set(Timer::Failed, since + self.config.failed_timeout);
        }
    }
}

impl Machine for IceAgent {
    type Event = IceEvent;

    fn handle_timeout(&mut self, now: Instant) {
        self.touch(now);
        if self.closed {
            return;
        }
        while let Some(timer) = self.timers.pop_due(self.now) {
            match timer {
                Timer::Pacing => self.pace(),
                Timer::Retransmit => self.retransmit(),
                Timer::Nominate => self.maybe_nominate(true),
                Timer::Keepalive | Timer::Consent => self.keepalive_and_consent(),
                Timer::Liveness | Timer::Failed => self.liveness(),
            }
        }
        self.after_change();
    }

    /// The next event. A pure read: it owes the peer nothing.
    fn poll_event(&mut self) -> Option<IceEvent> {
        self.events.pop()
    }

    /// The earliest timer, or the latest `now` given while datagrams wait in `poll_transmit` (queued by any
    /// call: adding a candidate, a restart, a check answered).
    fn poll_timeout(&self) -> Option<Instant> {
        deadline(self.timers.next(), self.now, !self.transmits.is_empty())
    }
}

impl PathMachine for IceAgent {
    type Error = IceError;

    /// Like [`IceAgent::receive`], for callers that only carry STUN on this path: application data from a
    /// validated address is accepted (`Ok`) but not handed back.
    fn handle_receive(&mut self, now: Instant, datagram: Datagram<'_>) -> Result<(), IceError> {
        self.receive(now, datagram).map(|_| ())
    }

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        let ((source, destination), contents) = self.transmits.pop()?;
        Some(Transmit { source, destination, contents })
    }
}
