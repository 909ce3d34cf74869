//! Small internal building blocks shared by the state machines.

// Until every layer uses them (the STUN, DTLS and SCTP machines do), some helpers have no caller.
#![allow(dead_code)]

pub(crate) mod queue;
pub(crate) mod timer;

#[allow(unused_imports)]
pub(crate) use queue::{EventQueue, OutQueue};
#[allow(unused_imports)]
pub(crate) use timer::{TimerKind, Timers};
