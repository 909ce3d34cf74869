//! Handshake message reassembly (RFC 6347 §4.2.3) with bounded memory: a small window of message slots,
//! each capped in size, tracking received byte ranges so overlapping and duplicate fragments are harmless.

use alloc::vec::Vec;

use smallvec::SmallVec;

use super::error::Error;
use super::wire::HandshakeType;
use super::wire::handshake::HandshakeHeader;

/// Largest handshake message we reassemble (certificates in WebRTC are well under 2 KiB).
pub(crate) const MAX_MESSAGE: u32 = 16 * 1024;
/// How many messages ahead of the next expected one we buffer.
pub(crate) const WINDOW: u16 = 8;
/// Most disjoint byte ranges a slot tracks (more means a pathological fragment pattern: dropped).
const MAX_RANGES: usize = 16;

/// One message being reassembled.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) seq: u16,
    pub(crate) msg_type: HandshakeType,
    pub(crate) epoch: u16,
    pub(crate) body: Vec<u8>,
    ranges: SmallVec<[(u32, u32); 4]>,
}

impl Slot {
    pub(crate) fn is_complete(&self) -> bool {
        let len = self.body.len() as u32;
        self.ranges.first().is_some_and(|(s, e)| *s == 0 && *e >= len)
    }

    fn add(&mut self, off: u32, data: &[u8]) -> Result<(), Error> {
        let end = off + data.len() as u32;
        let dst = self.body.get_mut(off as usize..end as usize).ok_or(Error::FragmentOutOfBounds)?;
        dst.copy_from_slice(data);
        // Merge [off, end) into the sorted, disjoint range list.
        let (mut s, mut e) = (off, end);
        let mut merged: SmallVec<[(u32, u32); 4]> = SmallVec::new();
        let mut placed = false;
        for &(rs, re) in &self.ranges {
            if re < s {
                merged.push((rs, re));
            } else if rs > e {
                if !placed {
                    merged.push((s, e));
                    placed = true;
                }
                merged.push((rs, re));
            } else {
                s = s.min(rs);
                e = e.max(re);
            }
        }
        if !placed {
            merged.push((s, e));
        }
        if merged.len() > MAX_RANGES {
            return Err(Error::BufferFull);
        }
        self.ranges = merged;
        Ok(())
    }
}

/// The reassembly window.
#[derive(Debug, Default)]
pub(crate) struct Reassembler {
    /// The next message_seq to process.
    pub(crate) next_seq: u16,
    slots: Vec<Slot>,
}

/// What happened to an incoming fragment.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Insert {
    /// Stored (or a harmless duplicate of stored data).
    Stored,
    /// An already processed message: the peer is retransmitting.
    Old,
}

impl Reassembler {
    /// Stores a fragment. Checks the window, the size cap and consistency with earlier fragments.
    pub(crate) fn insert(&mut self, epoch: u16, h: &HandshakeHeader, frag: &[u8]) -> Result<Insert, Error> {
        if h.message_seq < self.next_seq {
            return Ok(Insert::Old);
        }
        if h.message_seq >= self.next_seq.saturating_add(WINDOW) {
            return Err(Error::UnexpectedSequence);
        }
        if h.length > MAX_MESSAGE {
            return Err(Error::FragmentOutOfBounds);
        }
        let idx = match self.slots.iter().position(|s| s.seq == h.message_seq) {
            Some(i) => {
                let s = self.slots.get(i).ok_or(Error::BufferFull)?;
                if s.msg_type != h.msg_type || s.body.len() as u32 != h.length {
                    return Err(Error::FragmentOutOfBounds);
                }
                i
            }
            None => {
                if self.slots.len() >= usize::from(WINDOW) {
                    return Err(Error::BufferFull);
                }
                let body = alloc::vec![0; h.length as usize];
                self.slots.push(Slot {
                    seq: h.message_seq,
                    msg_type: h.msg_type,
                    epoch,
                    body,
                    ranges: SmallVec::new(),
                });
                self.slots.len() - 1
            }
        };
        let slot = self.slots.get_mut(idx).ok_or(Error::BufferFull)?;
        if h.length == 0 {
            slot.ranges.clear();
            slot.ranges.push((0, 0));
            return Ok(Insert::Stored);
        }
        slot.add(h.fragment_offset, frag)?;
        Ok(Insert::Stored)
    }

    /// Takes the next message in order if it is complete, advancing `next_seq`.
    pub(crate) fn pop_ready(&mut self) -> Option<Slot> {
        let i = self.slots.iter().position(|s| s.seq == self.next_seq && s.is_complete())?;
        let slot = self.slots.swap_remove(i);
        self.next_seq = self.next_seq.wrapping_add(1);
        Some(slot)
    }

    /// Takes any complete message of type `ty` (the lowest seq), without regard to order. Used by a server
    /// waiting for a ClientHello (whose seq depends on cookie exchanges) and a client waiting for a
    /// ServerHello or HelloVerifyRequest.
    pub(crate) fn pop_complete_of(&mut self, types: &[HandshakeType]) -> Option<Slot> {
        let i = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| types.contains(&s.msg_type) && s.is_complete())
            .min_by_key(|(_, s)| s.seq)
            .map(|(i, _)| i)?;
        Some(self.slots.swap_remove(i))
    }

    /// Restarts the window at `next` and drops slots below it.
    pub(crate) fn rebase(&mut self, next: u16) {
        self.next_seq = next;
        self.slots.retain(|s| s.seq >= next && s.seq < next.saturating_add(WINDOW));
    }

    /// Drops everything.
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
    }

    /// Forgets everything held and gives its memory back (the handshake is over).
    pub(crate) fn release(&mut self) {
        self.slots = Vec::new();
    }
}
