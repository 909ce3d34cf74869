//! Inter-arrival groups (draft-ietf-rmcat-gcc-02 §5.2): packets sent within 5 ms of a group's first
//! packet form one group, and so do packets that arrive in a burst (less than 5 ms apart, ahead of their
//! send spacing) behind it; the filter sees one sample per pair of consecutive groups.

/// Send spacing within one group.
const GROUP_US: i64 = 5_000;
/// Arrival spacing under which a packet that gained on its send spacing belongs to the burst before it.
const BURST_US: i64 = 5_000;
/// A burst lasts at most this long.
const MAX_BURST_US: i64 = 100_000;
/// An arrival delta this far from the send delta is a clock jump, not queuing: start over.
const JUMP_US: i64 = 3_000_000;
/// Consecutive groups arriving before their predecessors before the grouping starts over.
const MAX_REORDERED: u32 = 3;

#[derive(Clone, Copy, Debug)]
struct Group {
    first_send: i64,
    last_send: i64,
    first_arrival: i64,
    last_arrival: i64,
}

/// The deltas between two consecutive groups (all in microseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct GroupDelta {
    /// Between their last send times.
    pub(super) send: i64,
    /// Between their last arrival times.
    pub(super) arrival: i64,
    /// The later group's last arrival.
    pub(super) at: i64,
}

#[derive(Clone, Debug, Default)]
pub(super) struct InterArrival {
    current: Option<Group>,
    previous: Option<Group>,
    reordered: u32,
}

impl InterArrival {
    pub(super) fn reset(&mut self) {
        *self = Self::default();
    }

    fn in_burst(g: &Group, send: i64, arrival: i64) -> bool {
        let arrival_delta = arrival.saturating_sub(g.last_arrival);
        let send_delta = send.saturating_sub(g.last_send);
        if send_delta == 0 {
            return true;
        }
        let propagation = arrival_delta.saturating_sub(send_delta);
        (0..=BURST_US).contains(&arrival_delta)
            && propagation < 0
            && arrival.saturating_sub(g.first_arrival) < MAX_BURST_US
    }

    /// One received packet (send time on the sender's clock, arrival on the receiver's, microseconds).
    /// Returns the deltas of the group it closed, if any.
    pub(super) fn push(&mut self, send: i64, arrival: i64) -> Option<GroupDelta> {
        let Some(mut cur) = self.current else {
            self.current =
                Some(Group { first_send: send, last_send: send, first_arrival: arrival, last_arrival: arrival });
            return None;
        };
        if send < cur.first_send {
            return None; // reordered behind its group: ignored (libwebrtc does the same)
        }
        if Self::in_burst(&cur, send, arrival) || send.saturating_sub(cur.first_send) <= GROUP_US {
            cur.last_send = cur.last_send.max(send);
            cur.last_arrival = cur.last_arrival.max(arrival);
            self.current = Some(cur);
            return None;
        }
        // A new group starts: the current one is complete.
        let mut out = None;
        if let Some(prev) = self.previous {
            let send_delta = cur.last_send.saturating_sub(prev.last_send);
            let arrival_delta = cur.last_arrival.saturating_sub(prev.last_arrival);
            let offset = arrival_delta.saturating_sub(send_delta);
            if offset >= JUMP_US || offset <= -JUMP_US {
                self.reset();
                self.current =
                    Some(Group { first_send: send, last_send: send, first_arrival: arrival, last_arrival: arrival });
                return None;
            }
            if arrival_delta < 0 {
                self.reordered += 1;
                if self.reordered >= MAX_REORDERED {
                    self.reset();
                }
                self.current =
                    Some(Group { first_send: send, last_send: send, first_arrival: arrival, last_arrival: arrival });
                return None;
            }
            self.reordered = 0;
            out = Some(GroupDelta { send: send_delta, arrival: arrival_delta, at: cur.last_arrival });
        }
        self.previous = Some(cur);
        self.current = Some(Group { first_send: send, last_send: send, first_arrival: arrival, last_arrival: arrival });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_within_five_ms_form_one_group() {
        let mut g = InterArrival::default();
        assert_eq!(g.push(0, 50_000), None);
        assert_eq!(g.push(2_000, 52_000), None);
        assert_eq!(g.push(10_000, 60_000), None); // second group starts; the first has no predecessor
        // Deltas between the groups' last packets: sent 8 ms apart, arrived 8 ms apart.
        assert_eq!(g.push(20_000, 75_000), Some(GroupDelta { send: 8_000, arrival: 8_000, at: 60_000 }));
    }

    #[test]
    fn a_burst_joins_the_group_before_it() {
        let mut g = InterArrival::default();
        g.push(0, 50_000);
        // Sent 20 ms later but arrives 1 ms later (queued behind the first): same group.
        assert_eq!(g.push(20_000, 51_000), None);
        assert_eq!(g.push(40_000, 80_000), None);
        assert_eq!(g.push(60_000, 100_000), Some(GroupDelta { send: 20_000, arrival: 29_000, at: 80_000 }));
    }

    #[test]
    fn an_absurd_jump_starts_over() {
        let mut g = InterArrival::default();
        g.push(0, 0);
        g.push(10_000, 10_000);
        assert!(g.push(20_000, 20_000).is_some());
        assert!(g.push(30_000, i64::MAX).is_some()); // closes the ordinary group before it
        assert_eq!(g.push(40_000, i64::MIN), None); // closes the absurd one: start over
        assert_eq!(g.push(50_000, 50_000), None);
        assert_eq!(g.push(60_000, 60_000), None); // closes the group at i64::MIN: start over again
        assert_eq!(g.push(70_000, 70_000), None);
        assert_eq!(g.push(80_000, 80_000), Some(GroupDelta { send: 10_000, arrival: 10_000, at: 70_000 }));
    }
}
