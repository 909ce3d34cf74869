//! Candidate pairs and the check list (RFC 8445 §6.1.2 – §6.1.4).

use core::time::Duration;

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use super::Role;
use super::candidate::{Candidate, Foundation, pair_priority};
use super::event::PairStats;
use crate::time::Instant;

/// The state of a candidate pair (RFC 8445 §6.1.2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PairState {
    /// Not checked until its foundation is unfrozen.
    Frozen,
    /// Ready to be checked when the pacing allows.
    Waiting,
    /// A check is outstanding.
    InProgress,
    /// A check succeeded: the pair is valid.
    Succeeded,
    /// Checks failed (or the pair was cancelled once another was nominated).
    Failed,
}

/// The state of the check list (RFC 8445 §6.1.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CheckListState {
    /// Checks are running.
    Running,
    /// A pair was nominated; no more new checks.
    Completed,
    /// No pair can succeed any more.
    Failed,
}

/// One outstanding STUN transaction of a pair.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Txn {
    pub(crate) id: [u8; 12],
    pub(crate) next: Instant,
    pub(crate) rto: Duration,
    pub(crate) sent: u32,
    pub(crate) use_candidate: bool,
    /// Whether the request carried ICE-CONTROLLING (else ICE-CONTROLLED), for a 487 answer (§7.2.5.1).
    pub(crate) controlling: bool,
    /// The PRIORITY we sent (for a peer-reflexive local candidate learnt from the answer).
    pub(crate) priority: u32,
}

/// Application datagrams and bytes carried by a pair (kept in the selection while it is selected: the
/// per-packet path touches nothing else).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DataCounters {
    pub(crate) packets_sent: u64,
    pub(crate) bytes_sent: u64,
    pub(crate) packets_received: u64,
    pub(crate) bytes_received: u64,
}

impl DataCounters {
    pub(crate) fn add(&mut self, other: &DataCounters) {
        self.packets_sent += other.packets_sent;
        self.bytes_sent += other.bytes_sent;
        self.packets_received += other.packets_received;
        self.bytes_received += other.bytes_received;
    }
}

/// A pair's counters, compact (a check list holds up to `max_pairs` of them); [`PairStats`] is their
/// public view.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PairCounters {
    pub(crate) requests_sent: u32,
    pub(crate) consent_requests_sent: u32,
    pub(crate) requests_received: u32,
    pub(crate) responses_sent: u32,
    pub(crate) responses_received: u32,
    rtt_measurements: u32,
    /// The latest round trip, in microseconds (meaningful once `rtt_measurements` > 0).
    current_rtt_us: u32,
    total_rtt_us: u64,
    pub(crate) data: DataCounters,
}

impl PairCounters {
    /// A round trip measured.
    pub(crate) fn rtt(&mut self, rtt: Duration) {
        let us = u32::try_from(rtt.as_micros()).unwrap_or(u32::MAX);
        self.current_rtt_us = us;
        self.total_rtt_us = self.total_rtt_us.saturating_add(u64::from(us));
        self.rtt_measurements = self.rtt_measurements.saturating_add(1);
    }

    /// The public view, with the data the pair carries while selected (`selected`) added.
    pub(crate) fn view(&self, selected: Option<&DataCounters>) -> PairStats {
        let mut data = self.data;
        if let Some(s) = selected {
            data.add(s);
        }
        PairStats {
            requests_sent: u64::from(self.requests_sent),
            consent_requests_sent: u64::from(self.consent_requests_sent),
            requests_received: u64::from(self.requests_received),
            responses_sent: u64::from(self.responses_sent),
            responses_received: u64::from(self.responses_received),
            packets_sent: data.packets_sent,
            bytes_sent: data.bytes_sent,
            packets_received: data.packets_received,
            bytes_received: data.bytes_received,
            current_rtt: (self.rtt_measurements > 0).then(|| Duration::from_micros(u64::from(self.current_rtt_us))),
            total_rtt: Duration::from_micros(self.total_rtt_us),
            rtt_measurements: u64::from(self.rtt_measurements),
        }
    }
}

impl Txn {
    /// When it was last transmitted (each transmission sets `next` one `rto` later).
    pub(crate) fn last_sent(&self) -> Instant {
        self.next.saturating_sub(self.rto)
    }
}

/// A candidate pair. `local` and `remote` index the agent's candidate lists, which only grow within a
/// generation, so the indices are stable.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pair {
    pub(crate) local: usize,
    pub(crate) remote: usize,
    pub(crate) priority: u64,
    pub(crate) state: PairState,
    /// Nominated (RFC 8445 §8.1): usable as the selected pair.
    pub(crate) nominated: bool,
    /// Controlled side: the peer sent USE-CANDIDATE before our own check succeeded (§7.3.1.5).
    pub(crate) nominate_on_success: bool,
    /// Controlling side: a USE-CANDIDATE check is running or due for this pair.
    pub(crate) nominating: bool,
    /// A check of ours succeeded at least once (RFC 8445 §7.2.5.3.2: in the valid list).
    pub(crate) valid: bool,
    pub(crate) txn: Option<Txn>,
    pub(crate) local_foundation: Foundation,
    pub(crate) remote_foundation: Foundation,
    /// Counters (the data counters of the selected pair are kept in the selection while it lasts).
    pub(crate) stats: PairCounters,
}

impl Pair {
    pub(crate) fn new(local: usize, l: &Candidate, remote: usize, r: &Candidate, role: Role) -> Self {
        Pair {
            local,
            remote,
            priority: priority_for(role, l.priority, r.priority),
            state: PairState::Frozen,
            nominated: false,
            nominate_on_success: false,
            nominating: false,
            valid: false,
            txn: None,
            local_foundation: l.foundation,
            remote_foundation: r.foundation,
            stats: PairCounters::default(),
        }
    }

    pub(crate) fn same_foundation(&self, other: &Pair) -> bool {
        self.local_foundation == other.local_foundation && self.remote_foundation == other.remote_foundation
    }
}

/// The pair priority for our role (§6.1.2.3): G is the controlling side's candidate priority.
pub(crate) fn priority_for(role: Role, local: u32, remote: u32) -> u64 {
    match role {
        Role::Controlling => pair_priority(local, remote),
        Role::Controlled => pair_priority(remote, local),
    }
}

/// The check list: pairs in priority order and the triggered-check queue.
#[derive(Debug)]
pub(crate) struct CheckList {
    pub(crate) pairs: Vec<Pair>,
    /// Pairs (as `(local, remote)`) waiting for a triggered check, FIFO (§6.1.4.1).
    pub(crate) triggered: VecDeque<(usize, usize)>,
    pub(crate) state: CheckListState,
    pub(crate) max_pairs: usize,
}

impl CheckList {
    pub(crate) fn new(max_pairs: usize) -> Self {
        CheckList { pairs: Vec::new(), triggered: VecDeque::new(), state: CheckListState::Running, max_pairs }
    }

    pub(crate) fn clear(&mut self) {
        self.pairs.clear();
        self.triggered.clear();
        self.state = CheckListState::Running;
    }

    pub(crate) fn find(&self, local: usize, remote: usize) -> Option<usize> {
        self.pairs.iter().position(|p| p.local == local && p.remote == remote)
    }

    /// Inserts a pair keeping priority order and the cap: when full, the new pair replaces the
    /// lowest-priority Frozen/Waiting pair if it beats it, else it is refused (§6.1.2.5). Returns the
    /// index of the pair, or `None` when refused.
    pub(crate) fn insert(&mut self, pair: Pair) -> Option<usize> {
        if self.pairs.len() >= self.max_pairs {
            let victim = self
                .pairs
                .iter()
                .enumerate()
                .filter(|(_, p)| matches!(p.state, PairState::Frozen | PairState::Waiting) && !p.nominated)
                .min_by_key(|(_, p)| p.priority)
                .map(|(i, p)| (i, p.priority));
            match victim {
                Some((i, prio)) if prio < pair.priority => {
                    let gone = self.pairs.remove(i);
                    self.triggered.retain(|k| *k != (gone.local, gone.remote));
                }
                _ => return None,
            }
        }
        let at = self.pairs.partition_point(|p| p.priority >= pair.priority);
        crate::util::reserve_compact(&mut self.pairs);
        self.pairs.insert(at, pair);
        Some(at)
    }

    /// Re-sorts after a role change changed every priority.
    pub(crate) fn resort(&mut self) {
        self.pairs.sort_by_key(|p| core::cmp::Reverse(p.priority));
    }

    /// Queues a triggered check for the pair at `index` and sets it Waiting (§7.3.1.4).
    pub(crate) fn trigger(&mut self, index: usize) {
        let Some(p) = self.pairs.get_mut(index) else { return };
        if matches!(p.state, PairState::Frozen | PairState::Failed) {
            p.state = PairState::Waiting;
        }
        let key = (p.local, p.remote);
        if !self.triggered.contains(&key) && self.triggered.len() < self.max_pairs {
            self.triggered.push_back(key);
        }
    }

    /// Initial states (§6.1.2.6): for each foundation, the highest-priority pair becomes Waiting (one
    /// component, one data stream), the rest stay Frozen.
    pub(crate) fn unfreeze_initial(&mut self) {
        for i in 0..self.pairs.len() {
            let Some(p) = self.pairs.get(i).copied() else { continue };
            if p.state != PairState::Frozen {
                continue;
            }
            let taken = self.pairs.iter().any(|q| q.same_foundation(&p) && q.state != PairState::Frozen);
            if !taken {
                if let Some(p) = self.pairs.get_mut(i) {
                    p.state = PairState::Waiting;
                }
            }
        }
    }

    /// After a success, unfreezes the pairs with the same foundation (§7.2.5.3.3).
    pub(crate) fn unfreeze_foundation(&mut self, index: usize) {
        let Some(done) = self.pairs.get(index).copied() else { return };
        for p in self.pairs.iter_mut() {
            if p.state == PairState::Frozen && p.same_foundation(&done) {
                p.state = PairState::Waiting;
            }
        }
    }

    /// The next pair to check (§6.1.4.2): the oldest triggered check, else the highest-priority Waiting
    /// pair, else the highest-priority Frozen pair (unfrozen).
    pub(crate) fn next_check(&mut self) -> Option<(usize, bool)> {
        while let Some(key) = self.triggered.pop_front() {
            if let Some(i) = self.find(key.0, key.1) {
                if self.pairs.get(i).is_some_and(|p| p.state != PairState::Failed || p.nominating) {
                    return Some((i, true));
                }
            }
        }
        if self.state != CheckListState::Running {
            return None;
        }
        if let Some(i) = self.pairs.iter().position(|p| p.state == PairState::Waiting) {
            return Some((i, false));
        }
        let i = self.pairs.iter().position(|p| p.state == PairState::Frozen)?;
        Some((i, false))
    }

    /// Whether a check could be sent now.
    pub(crate) fn has_work(&self) -> bool {
        !self.triggered.is_empty()
            || (self.state == CheckListState::Running
                && self.pairs.iter().any(|p| matches!(p.state, PairState::Waiting | PairState::Frozen)))
    }

    /// §8.1.2: once a pair is nominated, Frozen and Waiting pairs are removed from checking and lower
    /// in-progress checks stop being retransmitted.
    pub(crate) fn complete(&mut self, nominated_priority: u64) {
        self.state = CheckListState::Completed;
        self.triggered.clear();
        for p in self.pairs.iter_mut() {
            match p.state {
                PairState::Frozen | PairState::Waiting => p.state = PairState::Failed,
                PairState::InProgress if p.priority < nominated_priority && !p.nominating => {
                    p.state = PairState::Failed;
                    p.txn = None;
                }
                _ => {}
            }
        }
    }
}
