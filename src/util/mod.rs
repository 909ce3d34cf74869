//! Small internal building blocks shared by the state machines.

// Until every layer uses them (the STUN, DTLS and SCTP machines do), some helpers have no caller.
#![allow(dead_code)]

pub(crate) mod queue;
pub(crate) mod timer;
pub(crate) mod vecmap;

#[allow(unused_imports)]
pub(crate) use queue::{EventQueue, OutQueue};
#[allow(unused_imports)]
pub(crate) use timer::{TimerKind, Timers, deadline};
pub(crate) use vecmap::VecMap;

/// Makes room for one more element in `v`, growing from one slot and doubling (where `Vec` would start at
/// four): for lists that usually hold one or two entries for a connection's whole life (its candidates,
/// its pairs), and still amortized O(1) per push.
pub(crate) fn reserve_compact<T>(v: &mut alloc::vec::Vec<T>) {
    if v.len() == v.capacity() {
        v.reserve_exact(v.len().max(1));
    }
}
