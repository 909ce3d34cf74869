//! STUN client transactions (RFC 8489 §6.2): retransmission over UDP, a single send over reliable
//! transports, matching responses by transaction id.
//!
//! A transaction carries no addresses: it hands out the request bytes to send, and the caller (ICE, TURN,
//! a plain STUN client) sends them to wherever the transaction is for. [`Transactions`] runs many at once
//! and keeps a caller-chosen tag `T` with each (a candidate pair, a server address, …), returned with every
//! transmit and event so the caller knows where to send and what completed.

use alloc::vec::Vec;
use core::time::Duration;

use super::TARGET;
use super::error::Error;
use super::wire::{Class, Message, MessageBuilder, MessageType, Method, TransactionId};
use crate::machine::Machine;
use crate::rand::SeededRng;
use crate::time::Instant;
use crate::util::EventQueue;

/// Retransmission settings (RFC 8489 §6.2.1, §6.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransactionConfig {
    /// Initial retransmission timeout, RTO (default 500 ms). Doubles after each retransmission.
    pub rto: Duration,
    /// Requests sent in all over an unreliable transport, Rc (default 7).
    pub max_requests: u32,
    /// After the last request, wait `last_wait_multiplier × rto` for a response, Rm (default 16).
    pub last_wait_multiplier: u32,
    /// Reliable transport (TCP, TLS): send once and wait `reliable_timeout`.
    pub reliable: bool,
    /// Timeout over a reliable transport, Ti (default 39.5 s).
    pub reliable_timeout: Duration,
}

impl Default for TransactionConfig {
    fn default() -> Self {
        TransactionConfig {
            rto: Duration::from_millis(500),
            max_requests: 7,
            last_wait_multiplier: 16,
            reliable: false,
            reliable_timeout: Duration::from_millis(39_500),
        }
    }
}

impl TransactionConfig {
    /// The reliable-transport settings (single send, 39.5 s timeout).
    pub fn reliable() -> Self {
        TransactionConfig { reliable: true, ..TransactionConfig::default() }
    }
}

/// How a transaction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransactionEvent {
    /// A response with the transaction's id arrived (its message was in the caller's hands when it was
    /// fed to `handle_response`).
    Response {
        /// The transaction.
        id: TransactionId,
        /// Success or error.
        class: Class,
        /// Round-trip time from the only request to the response; `None` if the request was retransmitted
        /// (Karn's rule: the sample would be ambiguous).
        rtt: Option<Duration>,
    },
    /// No response within the schedule (RFC 8489 §6.2.1: Rc requests, then Rm × RTO).
    TimedOut {
        /// The transaction.
        id: TransactionId,
    },
}

/// Counters of a transaction or a table of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransactionStats {
    /// Requests sent, first transmissions and retransmissions.
    pub requests_sent: u64,
    /// Of which retransmissions.
    pub retransmissions: u64,
    /// Transactions that got a response.
    pub completed: u64,
    /// Transactions that timed out.
    pub timed_out: u64,
    /// Responses rejected because no transaction in progress has their id.
    pub unknown_responses: u64,
    /// Non-responses fed as responses.
    pub not_responses: u64,
    /// Transactions refused because the table was full.
    pub refused: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    Running,
}

/// One client transaction, as a [`Machine`]: it says when to send its request, matches the response, and
/// reports [`TransactionEvent`]s.
///
/// Loop: after [`ClientTransaction::start`] (or any `handle_*` call), call
/// [`ClientTransaction::poll_transmit`] until `None` and send each datagram to the server, drain
/// [`Machine::poll_event`], and call [`Machine::handle_timeout`] when [`Machine::poll_timeout`] is reached.
/// Feed responses with [`ClientTransaction::handle_response`] after checking their integrity (a response
/// that fails it must be dropped, and the transaction goes on: RFC 8489 §6.3.4).
#[derive(Clone, Debug)]
pub struct ClientTransaction {
    config: TransactionConfig,
    id: TransactionId,
    request: Vec<u8>,
    state: State,
    sent: u32,
    interval: Duration,
    deadline: Option<Instant>,
    first_sent: Instant,
    now: Instant,
    transmit: bool,
    event: Option<TransactionEvent>,
    stats: TransactionStats,
}

impl ClientTransaction {
    /// An idle transaction with `config`.
    pub fn new(config: TransactionConfig) -> Self {
        ClientTransaction {
            config,
            id: TransactionId::default(),
            request: Vec::new(),
            state: State::Idle,
            sent: 0,
            interval: config.rto,
            deadline: None,
            first_sent: Instant::ZERO,
            now: Instant::ZERO,
            transmit: false,
            event: None,
            stats: TransactionStats::default(),
        }
    }

    /// Starts (or restarts, abandoning what was running) the transaction for the encoded `request`, which
    /// must be a STUN request; its transaction id is the one responses must carry. The request is copied
    /// into a buffer the transaction keeps and reuses. Then call [`ClientTransaction::poll_transmit`].
    pub fn start(&mut self, now: Instant, request: &[u8]) -> Result<(), Error> {
        let msg = Message::new_checked(request)?;
        if msg.class() != Class::Request {
            return Err(Error::NotARequest);
        }
        self.request.clear();
        self.request.extend_from_slice(request);
        self.begin(now, msg.transaction_id());
        Ok(())
    }

    /// Starts the transaction with a request written in place by `write` into the reused buffer: a
    /// request of `method` with id `id`, `write` adding its attributes (and integrity, fingerprint).
    pub fn start_with(
        &mut self,
        now: Instant,
        method: Method,
        id: TransactionId,
        write: impl FnOnce(&mut MessageBuilder<'_, Vec<u8>>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.request.clear();
        let mut builder = MessageBuilder::new(&mut self.request, MessageType::new(method, Class::Request), id)?;
        if let Err(e) = write(&mut builder) {
            self.request.clear();
            self.state = State::Idle;
            self.deadline = None;
            self.transmit = false;
            return Err(e);
        }
        self.begin(now, id);
        Ok(())
    }

    fn begin(&mut self, now: Instant, id: TransactionId) {
        self.now = self.now.max(now);
        self.id = id;
        self.state = State::Running;
        self.sent = 1;
        self.interval = self.config.rto;
        self.first_sent = self.now;
        self.transmit = true;
        self.event = None;
        self.stats.requests_sent += 1;
        let wait = if self.config.reliable { self.config.reliable_timeout } else { self.config.rto };
        self.deadline = Some(self.now + wait);
        tracing::trace!(target: TARGET, id = ?self.id, "request sent");
    }

    /// The settings.
    pub fn config(&self) -> TransactionConfig {
        self.config
    }

    /// Changes the settings; they apply from the next [`ClientTransaction::start`] on (for instance the RTO
    /// ICE computes from its pacing, RFC 8445 §14.3).
    pub fn set_config(&mut self, config: TransactionConfig) {
        self.config = config;
    }

    /// The transaction id (of the running or last transaction).
    pub fn id(&self) -> TransactionId {
        self.id
    }

    /// Whether the transaction is waiting for a response.
    pub fn is_running(&self) -> bool {
        self.state == State::Running
    }

    /// Requests sent for the current transaction so far.
    pub fn requests_sent(&self) -> u32 {
        self.sent
    }

    /// The counters.
    pub fn stats(&self) -> TransactionStats {
        self.stats
    }

    /// Stops the transaction without an event.
    pub fn cancel(&mut self) {
        self.state = State::Idle;
        self.deadline = None;
        self.transmit = false;
    }

    /// The request to send (first transmission or retransmission), or `None`. Valid until the next call.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<&[u8]> {
        if !core::mem::take(&mut self.transmit) || self.state != State::Running {
            return None;
        }
        Some(&self.request)
    }

    /// Whether `msg` is a response to this running transaction (same id, response class).
    pub fn matches<T: AsRef<[u8]>>(&self, msg: &Message<T>) -> bool {
        self.state == State::Running && msg.class().is_response() && msg.transaction_id() == self.id
    }

    /// Feeds a response (already checked for integrity where credentials are used). On a match the
    /// transaction ends with [`TransactionEvent::Response`]; otherwise the message is rejected and counted:
    /// [`Error::UnknownTransaction`] (another id, or nothing running) or [`Error::NotAResponse`].
    pub fn handle_response<T: AsRef<[u8]>>(&mut self, now: Instant, msg: &Message<T>) -> Result<(), Error> {
        self.now = self.now.max(now);
        if !msg.class().is_response() {
            self.stats.not_responses += 1;
            tracing::debug!(target: TARGET, typ = ?msg.typ(), "not a response, dropped");
            return Err(Error::NotAResponse);
        }
        if self.state != State::Running || msg.transaction_id() != self.id {
            self.stats.unknown_responses += 1;
            tracing::debug!(target: TARGET, id = ?msg.transaction_id(), "response to unknown transaction dropped");
            return Err(Error::UnknownTransaction);
        }
        let rtt = (self.sent == 1).then(|| self.now - self.first_sent);
        self.finish(TransactionEvent::Response { id: self.id, class: msg.class(), rtt });
        self.stats.completed += 1;
        Ok(())
    }

    fn finish(&mut self, event: TransactionEvent) {
        self.state = State::Idle;
        self.deadline = None;
        self.transmit = false;
        self.event = Some(event);
    }
}

impl Machine for ClientTransaction {
    type Event = TransactionEvent;

    /// Retransmits when due (RFC 8489 §6.2.1: at 0, RTO, 3·RTO, … doubling, Rc requests in all) or times
    /// the transaction out (Rm × RTO after the last request; `reliable_timeout` over reliable transports).
    fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        let Some(deadline) = self.deadline.filter(|d| self.state == State::Running && *d <= self.now) else {
            return;
        };
        if self.config.reliable || self.sent >= self.config.max_requests.max(1) {
            tracing::debug!(target: TARGET, id = ?self.id, sent = self.sent, "transaction timed out");
            self.stats.timed_out += 1;
            self.finish(TransactionEvent::TimedOut { id: self.id });
            return;
        }
        self.sent += 1;
        self.stats.requests_sent += 1;
        self.stats.retransmissions += 1;
        self.transmit = true;
        // Deadlines follow the schedule, not the (possibly late) call.
        let wait = if self.sent >= self.config.max_requests {
            self.config.rto.saturating_mul(self.config.last_wait_multiplier)
        } else {
            self.interval = self.interval.saturating_mul(2);
            self.interval
        };
        self.deadline = Some(deadline + wait);
        tracing::trace!(target: TARGET, id = ?self.id, sent = self.sent, "request retransmitted");
    }

    /// How the transaction ended, once. A pure read: it owes the server nothing.
    fn poll_event(&mut self) -> Option<TransactionEvent> {
        self.event.take()
    }

    /// The next retransmission or the timeout, or the latest `now` given while the request waits in
    /// [`ClientTransaction::poll_transmit`] (after [`ClientTransaction::start`] or a retransmission).
    fn poll_timeout(&self) -> Option<Instant> {
        let running = self.state == State::Running;
        crate::util::deadline(self.deadline.filter(|_| running), self.now, running && self.transmit)
    }
}

/// Many client transactions at once, each with a tag `T` telling the caller where it goes and what it is
/// for. Bounded: at most `capacity` run at a time. Request buffers are kept and reused, so once warmed up
/// the table allocates nothing.
///
/// Loop: [`Transactions::start`], then [`Transactions::poll_transmit`] until `None` (send each request as
/// its tag says), [`Machine::poll_event`] until `None`, [`Machine::handle_timeout`] at
/// [`Machine::poll_timeout`]; feed responses with [`Transactions::handle_response`].
#[derive(Debug)]
pub struct Transactions<T> {
    slots: Vec<(T, ClientTransaction)>,
    capacity: usize,
    config: TransactionConfig,
    rng: SeededRng,
    events: EventQueue<(T, TransactionEvent)>,
    stats: TransactionStats,
}

impl<T: Clone> Transactions<T> {
    /// A table running at most `capacity` transactions with `config`, drawing transaction ids from `rng`.
    pub fn new(config: TransactionConfig, capacity: usize, rng: SeededRng) -> Self {
        Transactions {
            slots: Vec::new(),
            capacity,
            config,
            rng,
            events: EventQueue::new(capacity.max(1)),
            stats: TransactionStats::default(),
        }
    }

    /// Starts a transaction tagged `tag`: a request of `method` with a fresh random id, whose attributes
    /// (and integrity, fingerprint) `write` adds. Returns the id. Fails with [`Error::TableFull`] when
    /// `capacity` transactions are running (counted), or with `write`'s error.
    pub fn start(
        &mut self,
        now: Instant,
        tag: T,
        method: Method,
        write: impl FnOnce(&mut MessageBuilder<'_, Vec<u8>>) -> Result<(), Error>,
    ) -> Result<TransactionId, Error> {
        let index = match self.slots.iter().position(|(_, tx)| !tx.is_running()) {
            Some(i) => i,
            None if self.slots.len() < self.capacity => {
                self.slots.push((tag.clone(), ClientTransaction::new(self.config)));
                self.slots.len() - 1
            }
            None => {
                self.stats.refused += 1;
                tracing::debug!(target: TARGET, "transaction table full");
                return Err(Error::TableFull);
            }
        };
        let id = TransactionId::random(&mut self.rng);
        let (slot_tag, tx) = self.slots.get_mut(index).ok_or(Error::TableFull)?;
        tx.set_config(self.config);
        tx.start_with(now, method, id, write)?;
        *slot_tag = tag;
        self.stats.requests_sent += 1;
        Ok(id)
    }

    /// The next request to send with its tag, or `None`. Valid until the next call.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<(&T, &[u8])> {
        let slot = self.slots.iter_mut().find(|(_, tx)| tx.transmit && tx.is_running())?;
        let (tag, tx) = slot;
        let bytes = tx.poll_transmit()?;
        Some((&*tag, bytes))
    }

    /// Feeds a response (already checked for integrity where credentials are used). On a match the
    /// transaction ends, its tag is returned and a [`TransactionEvent::Response`] is queued with it;
    /// otherwise the message is rejected and counted.
    pub fn handle_response<B: AsRef<[u8]>>(&mut self, now: Instant, msg: &Message<B>) -> Result<T, Error> {
        if !msg.class().is_response() {
            self.stats.not_responses += 1;
            return Err(Error::NotAResponse);
        }
        let Some((tag, tx)) = self.slots.iter_mut().find(|(_, tx)| tx.matches(msg)) else {
            self.stats.unknown_responses += 1;
            tracing::debug!(target: TARGET, id = ?msg.transaction_id(), "response to unknown transaction dropped");
            return Err(Error::UnknownTransaction);
        };
        tx.handle_response(now, msg)?;
        self.stats.completed += 1;
        if let Some(event) = tx.poll_event() {
            self.events.push((tag.clone(), event));
        }
        Ok(tag.clone())
    }

    /// The settings new transactions get.
    pub fn config(&self) -> TransactionConfig {
        self.config
    }

    /// Changes the settings for transactions started from now on (running ones keep theirs).
    pub fn set_config(&mut self, config: TransactionConfig) {
        self.config = config;
    }

    /// Stops the transaction `id` without an event; returns whether it was running.
    pub fn cancel(&mut self, id: TransactionId) -> bool {
        match self.slots.iter_mut().find(|(_, tx)| tx.is_running() && tx.id() == id) {
            Some((_, tx)) => {
                tx.cancel();
                true
            }
            None => false,
        }
    }

    /// The tag of running transaction `id`.
    pub fn get(&self, id: TransactionId) -> Option<&T> {
        self.slots.iter().find(|(_, tx)| tx.is_running() && tx.id() == id).map(|(tag, _)| tag)
    }

    /// Transactions running.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|(_, tx)| tx.is_running()).count()
    }

    /// Whether none is running.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The counters, summed over every transaction the table ran (events lost to a full event queue are
    /// counted apart, in [`Transactions::events_dropped`]).
    pub fn stats(&self) -> TransactionStats {
        let mut stats = self.stats;
        for (_, tx) in &self.slots {
            let s = tx.stats();
            stats.retransmissions += s.retransmissions;
            stats.requests_sent += s.retransmissions;
            stats.timed_out += s.timed_out;
        }
        stats
    }

    /// Events refused because the event queue was full.
    pub fn events_dropped(&self) -> u64 {
        self.events.dropped()
    }
}

impl<T: Clone> Machine for Transactions<T> {
    type Event = (T, TransactionEvent);

    fn handle_timeout(&mut self, now: Instant) {
        for (tag, tx) in &mut self.slots {
            tx.handle_timeout(now);
            if let Some(event) = tx.poll_event() {
                self.events.push((tag.clone(), event));
            }
        }
    }

    /// The next ended transaction with its tag. A pure read: it owes nothing.
    fn poll_event(&mut self) -> Option<(T, TransactionEvent)> {
        self.events.pop()
    }

    /// The earliest deadline of the running transactions; a transaction whose request waits in
    /// [`Transactions::poll_transmit`] counts with the latest `now` it was given.
    fn poll_timeout(&self) -> Option<Instant> {
        self.slots.iter().filter_map(|(_, tx)| tx.poll_timeout()).min()
    }
}
