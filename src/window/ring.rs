//! The count-based window of more than 32 calls (up to [`MAX_WINDOW_CALLS`]): a head word and a
//! ring of slot words, one per call, allocated when the breaker is built.
//!
//! The head word holds everything an outcome needs to decide: the cycle's tag, the number of
//! outcomes the window has taken in this cycle (`seq`), how many of the last `N` were counted
//! (`hits`), and the newest outcome's bit. An outcome is added by one compare-exchange on the
//! head, so the tally is exact over the last `N` outcomes in the order they reached the head.
//!
//! The ring keeps each outcome's bit so that the one leaving the window (`N` outcomes back) can
//! be subtracted. Outcome `seq` lives in slot `seq mod R` (`R`, the ring's length, is `N`
//! rounded up to a power of two). Its bit is written to the slot by whoever moves the head past
//! `seq + 1` (*helping*: the head carries the newest bit until then), so by the time the head
//! has moved on, every older slot holds its outcome, and no thread ever waits for another.
//!
//! A slot is written only over its exact predecessor: the value `R` outcomes earlier in the same
//! cycle, or the cycle's *empty* mark on its first lap. A thread that was paused with an old
//! view of the head therefore cannot overwrite a newer value. Each new cycle starts with a
//! *sweep*: the head is switched to a marking state naming the old and new tags, and every slot
//! of the old cycle is turned into the new cycle's empty mark (any thread that meets the marking
//! head helps finish it) before the head becomes active again. So while a cycle's head is
//! active, every slot carries its tag, and nothing an earlier cycle writes can land in it.
//!
//! ```text
//! head, active:   63 | 62          37 | 36        14 | 13       3 | 2    | 1      | 0
//!                  0 | cycle tag (26) |    seq (23) |  hits (11) | full | lapped | newest
//! head, marking:  63 | 62          37 | 36                     11 | 10               0
//!                  1 |  new tag (26)  |          old tag (26)     |        0
//! slot:           63          38 | 37    | 36        14 | 13  1 | 0
//!                 cycle tag (26) | empty |    seq (23) |   0   | bit
//! ```
//!
//! `full`: the window holds `N` outcomes (the next one evicts the oldest); `lapped`: the
//! newest outcome is past the ring's first lap (its slot's predecessor is an outcome, not the
//! empty mark). Sequence numbers wrap at 2^23: a thread paused between reading the head and
//! writing a slot while exactly a multiple of 2^23 (8.4 million) other outcomes reach the same
//! window could write one stale bit, a documented limit; the counts stay within `0..=calls`.
//!
//! A new cycle costs one sweep of `R` slots (a load and a compare-exchange each), paid by the
//! cycle's first outcome; every other outcome costs a head load, one or two slot loads, at most
//! one slot compare-exchange and the head compare-exchange.
//!
//! [`MAX_WINDOW_CALLS`]: crate::MAX_WINDOW_CALLS

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::{Tally, TAG_MASK};
use crate::sync::{AtomicU64, Ordering};

const SEQ_BITS: u32 = 23;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;
const MARKING: u64 = 1 << 63;
const HITS_MASK: u64 = 0x7ff;

/// A slot's empty flag.
const EMPTY: u64 = 1 << 37;

/// The head word, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Head {
    Active {
        tag: u64,
        seq: u64,
        hits: u64,
        full: bool,
        lapped: bool,
        newest: bool,
    },
    Marking {
        to: u64,
        from: u64,
    },
}

impl Head {
    fn decode(raw: u64) -> Head {
        if raw & MARKING == 0 {
            Head::Active {
                tag: (raw >> 37) & TAG_MASK,
                seq: (raw >> 14) & SEQ_MASK,
                hits: (raw >> 3) & HITS_MASK,
                full: raw & 0b100 != 0,
                lapped: raw & 0b10 != 0,
                newest: raw & 1 != 0,
            }
        } else {
            Head::Marking {
                to: (raw >> 37) & TAG_MASK,
                from: (raw >> 11) & TAG_MASK,
            }
        }
    }

    fn encode(self) -> u64 {
        match self {
            Head::Active {
                tag,
                seq,
                hits,
                full,
                lapped,
                newest,
            } => {
                (tag << 37)
                    | (seq << 14)
                    | (hits.min(HITS_MASK) << 3)
                    | (u64::from(full) << 2)
                    | (u64::from(lapped) << 1)
                    | u64::from(newest)
            }
            Head::Marking { to, from } => MARKING | (to << 37) | (from << 11),
        }
    }

    /// An active head of cycle `tag` with no outcome yet.
    fn fresh(tag: u64) -> Head {
        Head::Active {
            tag,
            seq: 0,
            hits: 0,
            full: false,
            lapped: false,
            newest: false,
        }
    }
}

fn filled(tag: u64, seq: u64, bit: bool) -> u64 {
    (tag << 38) | (seq << 14) | u64::from(bit)
}

fn empty(tag: u64) -> u64 {
    (tag << 38) | EMPTY
}

fn slot_tag(raw: u64) -> u64 {
    raw >> 38
}

pub(super) struct Ring {
    head: AtomicU64,
    slots: Box<[AtomicU64]>,
    size: u32,
}

impl Ring {
    /// A window of the last `size` outcomes (`1..=`[`MAX_WINDOW_CALLS`](crate::MAX_WINDOW_CALLS)).
    pub(super) fn new(size: u32) -> Ring {
        let len = size.next_power_of_two();
        // The first cycle is stamped 0: its head is the fresh head of tag 0 (the word 0), and
        // its slots carry tag 0's empty mark.
        let slots = (0..len)
            .map(|_| AtomicU64::new(empty(0)))
            .collect::<Vec<_>>();
        Ring {
            head: AtomicU64::new(Head::fresh(0).encode()),
            slots: slots.into_boxed_slice(),
            size,
        }
    }

    fn len(&self) -> u64 {
        self.slots.len() as u64
    }

    fn slot(&self, seq: u64) -> &AtomicU64 {
        let index = usize::try_from(seq & (self.len() - 1)).unwrap_or(0);
        &self.slots[index]
    }

    /// Adds one outcome (`hit`: the bit the window counts) of the cycle stamped `cycle`, and
    /// returns the window's tally with it. `current` asks the state word whether `cycle` is
    /// still the current closed cycle (asked only when the window belongs to another cycle).
    pub(super) fn record(&self, cycle: u64, hit: bool, current: &impl Fn() -> bool) -> Tally {
        let tag = cycle & TAG_MASK;
        let size = u64::from(self.size);
        let mut observed = self.head.load(Ordering::Acquire);
        let mut checked = None;
        loop {
            let (seq, hits, full, lapped, newest) = match Head::decode(observed) {
                Head::Marking { to, from } => {
                    // A new cycle's sweep is under way: finish it, then activate its head.
                    self.sweep(from, to);
                    observed = self.replace(observed, Head::fresh(to).encode());
                    continue;
                }
                Head::Active { tag: held, .. } if held != tag => {
                    // Another cycle's window: start a fresh one if this outcome's cycle is the
                    // current one (the window's is then older), else this outcome is stale.
                    if checked != Some(held) {
                        if !current() {
                            return Tally::EMPTY;
                        }
                        checked = Some(held);
                    }
                    let marking = Head::Marking {
                        to: tag,
                        from: held,
                    }
                    .encode();
                    observed = self.replace(observed, marking);
                    continue;
                }
                Head::Active {
                    seq,
                    hits,
                    full,
                    lapped,
                    newest,
                    ..
                } => (seq, hits, full, lapped, newest),
            };
            if full || seq != 0 {
                // The newest outcome's bit is still only in the head: put it in its slot.
                self.publish(tag, seq.wrapping_sub(1) & SEQ_MASK, newest, lapped);
            }
            let evicted = if full {
                let oldest = seq.wrapping_sub(size) & SEQ_MASK;
                if let Some(bit) = self.bit(tag, oldest) {
                    bit
                } else {
                    // Only a head that moved on since it was read can name a slot that does
                    // not hold its outcome; read it again. (If it did not move, the head came
                    // back to the same word: the documented wrap limit.)
                    let again = self.head.load(Ordering::Acquire);
                    if again != observed {
                        observed = again;
                        continue;
                    }
                    false
                }
            } else {
                false
            };
            // With this outcome, the window holds `seq + 1` outcomes until it is full.
            let calls = if full { size } else { seq + 1 };
            let hits = (hits + u64::from(hit))
                .saturating_sub(u64::from(evicted))
                .min(calls);
            let next = Head::Active {
                tag,
                seq: (seq + 1) & SEQ_MASK,
                hits,
                full: full || seq + 1 >= size,
                lapped: lapped || seq >= self.len(),
                newest: hit,
            }
            .encode();
            match self.head.compare_exchange_weak(
                observed,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return Tally {
                        calls: u32::try_from(calls).unwrap_or(u32::MAX),
                        hits: u32::try_from(hits).unwrap_or(u32::MAX),
                    }
                }
                Err(actual) => observed = actual,
            }
        }
    }

    /// Installs `next` in the head if it still holds `observed`; returns the head as it now is.
    fn replace(&self, observed: u64, next: u64) -> u64 {
        match self
            .head
            .compare_exchange(observed, next, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => next,
            Err(actual) => actual,
        }
    }

    /// Writes outcome `seq`'s bit to its slot, over the slot's exact predecessor only: the
    /// outcome `R` earlier (`lapped`) or the cycle's empty mark (first lap).
    fn publish(&self, tag: u64, seq: u64, bit: bool, lapped: bool) {
        let slot = self.slot(seq);
        let want = filled(tag, seq, bit);
        let held = slot.load(Ordering::Acquire);
        if held == want {
            return;
        }
        let predecessor = if lapped {
            held & !1 == filled(tag, seq.wrapping_sub(self.len()) & SEQ_MASK, false)
        } else {
            held == empty(tag)
        };
        if predecessor {
            // A failure means another thread wrote the same value first.
            let _ = slot.compare_exchange(held, want, Ordering::AcqRel, Ordering::Acquire);
        }
    }

    /// Outcome `seq`'s bit, if its slot holds it.
    fn bit(&self, tag: u64, seq: u64) -> Option<bool> {
        let held = self.slot(seq).load(Ordering::Acquire);
        (held & !1 == filled(tag, seq, false)).then_some(held & 1 == 1)
    }

    /// Turns every slot of cycle `from` into cycle `to`'s empty mark.
    fn sweep(&self, from: u64, to: u64) {
        for slot in &*self.slots {
            let mut held = slot.load(Ordering::Acquire);
            while slot_tag(held) == from {
                match slot.compare_exchange_weak(
                    held,
                    empty(to),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => break,
                    Err(actual) => held = actual,
                }
            }
        }
    }

    #[cfg(test)]
    pub(super) fn tally(&self, cycle: u64) -> Tally {
        match Head::decode(self.head.load(Ordering::Acquire)) {
            Head::Active {
                tag,
                seq,
                hits,
                full,
                ..
            } if tag == cycle & TAG_MASK => Tally {
                calls: if full {
                    self.size
                } else {
                    u32::try_from(seq).unwrap_or(0)
                },
                hits: u32::try_from(hits).unwrap_or(0),
            },
            _ => Tally::EMPTY,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_words_round_trip() {
        for head in [
            Head::fresh(0),
            Head::Active {
                tag: TAG_MASK,
                seq: SEQ_MASK,
                hits: 1_024,
                full: true,
                lapped: true,
                newest: true,
            },
            Head::Marking {
                to: TAG_MASK,
                from: 12_345,
            },
        ] {
            assert_eq!(Head::decode(head.encode()), head);
        }
        assert_eq!(Head::fresh(0).encode(), 0);
    }

    /// A writer of an ended cycle, paused before it published its outcome, cannot write into
    /// the next cycle's slots: each cycle's empty mark is its own.
    #[test]
    fn a_late_publish_of_an_ended_cycle_lands_nowhere() {
        let ring = Ring::new(6);
        let current = || true;
        for cycle in [1, 2] {
            assert_eq!(ring.record(cycle, true, &current).calls, 1);
            assert_eq!(ring.record(cycle, false, &current).calls, 2);
        }
        // Cycle 2 holds outcomes 0 and 1 (1 still only in the head); cycle 1's outcome 1 and
        // every later one never reached a slot.
        for seq in 1..8 {
            ring.publish(1, seq, true, false);
        }
        assert_eq!(ring.slots[0].load(Ordering::Acquire), filled(2, 0, true));
        for slot in &ring.slots[1..] {
            assert_eq!(slot.load(Ordering::Acquire), empty(2));
        }
        // Cycle 2 goes on as if nothing happened: its outcomes land, the oldest leave.
        for _ in 0..6 {
            ring.record(2, false, &current);
        }
        assert_eq!(
            ring.tally(2),
            Tally { calls: 6, hits: 0 },
            "outcomes 0 (a hit) and 1 left"
        );
    }
}
