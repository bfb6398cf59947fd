//! The count-based window of up to [`BITS_MAX`] calls: one bit per call in one word.
//!
//! ```text
//! 63             38 37   32 31                               0
//! +-----------------+-------+----------------------------------+
//! | cycle tag (26)  | calls | one bit per call, 1 = counted    |
//! +-----------------+-------+----------------------------------+
//! ```
//!
//! An outcome is one compare-exchange, and the word after it is a pure function of the word
//! before, so a word that returns to an earlier value (ABA) is harmless.

use super::{Tally, TAG_MASK};
use crate::sync::{AtomicU64, Ordering};

/// The longest window one word holds.
pub(super) const BITS_MAX: u32 = 32;

pub(super) struct Bits {
    word: AtomicU64,
    size: u32,
}

impl Bits {
    pub(super) fn new(size: u32) -> Bits {
        Bits {
            word: AtomicU64::new(0),
            size,
        }
    }

    /// Adds one outcome (`hit`: the bit the window counts) of the cycle stamped `cycle`.
    pub(super) fn record(&self, cycle: u64, hit: bool, current: &impl Fn() -> bool) -> Tally {
        let tag = cycle & TAG_MASK;
        let mut observed = self.word.load(Ordering::Acquire);
        // The foreign tag this outcome's cycle was last found current against: a window of
        // another cycle is replaced only after the state word says this cycle is the current
        // one, and asked again if the window changed hands meanwhile.
        let mut checked = None;
        loop {
            let held = observed >> 38;
            let (calls, ring) = if held == tag {
                ((observed >> 32) & 0x3f, observed & 0xffff_ffff)
            } else {
                if checked != Some(held) {
                    if !current() {
                        return Tally::EMPTY;
                    }
                    checked = Some(held);
                }
                (0, 0)
            };
            let ring = ((ring << 1) | u64::from(hit)) & 0xffff_ffff;
            let calls = (calls + 1).min(u64::from(self.size));
            let next = (tag << 38) | (calls << 32) | ring;
            match self.word.compare_exchange_weak(
                observed,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return tally(next, self.size),
                Err(actual) => observed = actual,
            }
        }
    }

    #[cfg(test)]
    pub(super) fn tally(&self, cycle: u64) -> Tally {
        let w = self.word.load(Ordering::Acquire);
        if w >> 38 == cycle & TAG_MASK {
            tally(w, self.size)
        } else {
            Tally::EMPTY
        }
    }
}

fn tally(w: u64, size: u32) -> Tally {
    let calls = u32::try_from((w >> 32) & 0x3f).unwrap_or(0).min(size);
    let ring_mask = if calls >= 32 {
        u32::MAX
    } else {
        (1u32 << calls) - 1
    };
    // The ring's low bits are the newest calls.
    let ring = u32::try_from(w & 0xffff_ffff).unwrap_or(0) & ring_mask;
    Tally {
        calls,
        hits: ring.count_ones(),
    }
}
