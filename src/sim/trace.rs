//! The bounded record of what happened in a simulation.

use alloc::collections::VecDeque;
use alloc::string::String;
use core::fmt;

use crate::time::Instant;

/// One line of the trace: when, who (a host, NAT or link name), what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    /// Virtual time.
    pub at: Instant,
    /// The host or NAT name (links are named `from->to`).
    pub who: String,
    /// A node event's `Debug` text, or a network note (a drop and its reason, a delivery when packet
    /// tracing is on).
    pub what: String,
}

impl fmt::Display for TraceEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `Instant`'s Display ignores width, so pad its text.
        write!(f, "{:>14} {}: {}", alloc::format!("{}", self.at), self.who, self.what)
    }
}

/// A ring buffer of [`TraceEntry`]: when full, the oldest entry goes and is counted.
#[derive(Debug)]
pub(crate) struct Trace {
    entries: VecDeque<TraceEntry>,
    capacity: usize,
    dropped: u64,
}

impl Trace {
    pub(crate) fn new(capacity: usize) -> Self {
        Trace { entries: VecDeque::new(), capacity, dropped: 0 }
    }

    pub(crate) fn push(&mut self, entry: TraceEntry) {
        if self.capacity == 0 {
            self.dropped += 1;
            return;
        }
        while self.entries.len() >= self.capacity {
            self.entries.pop_front();
            self.dropped += 1;
        }
        self.entries.push_back(entry);
    }

    pub(crate) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        while self.entries.len() > capacity {
            self.entries.pop_front();
            self.dropped += 1;
        }
    }

    pub(crate) fn entries(&self) -> impl Iterator<Item = &TraceEntry> {
        self.entries.iter()
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}
