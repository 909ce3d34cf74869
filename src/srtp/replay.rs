//! The sliding replay window (RFC 3711 §3.3.2), as a fixed bitmap of up to 1024 packets.

use super::Error;

/// Largest supported window, in packets.
pub(crate) const MAX_WINDOW: u16 = 1024;
const WORDS: usize = MAX_WINDOW as usize / 64;

/// Bit `d` is set when the index `highest - d` has been received. Bit 0 is the highest index itself.
#[derive(Clone, Debug)]
pub(crate) struct ReplayWindow {
    bits: [u64; WORDS],
    size: u16,
}

impl ReplayWindow {
    pub(crate) fn new(size: u16) -> Self {
        Self { bits: [0; WORDS], size: size.clamp(1, MAX_WINDOW) }
    }

    fn words(&self) -> usize {
        usize::from(self.size).div_ceil(64)
    }

    /// Checks a packet `behind` indices behind the highest (0 = the highest itself).
    pub(crate) fn check_behind(&self, behind: u64) -> Result<(), Error> {
        if behind >= u64::from(self.size) {
            return Err(Error::TooOld);
        }
        let (w, b) = ((behind / 64) as usize, behind % 64);
        match self.bits.get(w) {
            Some(word) if word & (1 << b) != 0 => Err(Error::Replayed),
            Some(_) => Ok(()),
            None => Err(Error::TooOld),
        }
    }

    /// Marks a packet `behind` indices behind the highest as received.
    pub(crate) fn mark_behind(&mut self, behind: u64) {
        if behind < u64::from(self.size) {
            let (w, b) = ((behind / 64) as usize, behind % 64);
            if let Some(word) = self.bits.get_mut(w) {
                *word |= 1 << b;
            }
        }
    }

    /// Moves the window forward by `ahead` indices and marks the new highest as received.
    pub(crate) fn advance(&mut self, ahead: u64) {
        let words = self.words();
        if ahead >= u64::from(self.size) {
            self.bits = [0; WORDS];
        } else if ahead > 0 {
            let (ws, bs) = ((ahead / 64) as usize, (ahead % 64) as u32);
            for i in (0..words).rev() {
                let lo = i.checked_sub(ws).map_or(0, |j| self.bits[j]);
                let lower = i.checked_sub(ws + 1).map_or(0, |j| self.bits[j]);
                self.bits[i] = if bs == 0 { lo } else { (lo << bs) | (lower >> (64 - bs)) };
            }
        }
        // Bits at or beyond `size` are never read; clear the partial top word for tidiness.
        let top = usize::from(self.size) % 64;
        if top != 0 {
            self.bits[words - 1] &= (1u64 << top) - 1;
        }
        self.bits[0] |= 1;
    }
}
