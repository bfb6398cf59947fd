//! Several half-open probes: the side word that counts them.
//!
//! With the default of one probe, the state word alone admits it (phase `Probing` *is* the slot).
//! With [`HalfOpen::probes`] above one, the state word still marks the half-open *round* (phase
//! `Probing`, stamped when the round began) and decides how it ends, but which callers of the
//! round are admitted, and how many have succeeded, is counted here:
//!
//! ```text
//!  63                                          22 21        11 10         0
//! +---------------------------------------------+------------+------------+
//! |        round: its stamp (42 bits, ms)        |  admitted  | succeeded  |
//! +---------------------------------------------+------------+------------+
//! ```
//!
//! A caller joins the round the state word showed it; a word holding an older round is reset by
//! the first caller of the new one (stamps only grow, so "older" is a plain comparison); a caller
//! whose view is older than the word's round is told to look again, so it can never reset a newer
//! round. After joining, the caller checks that the state word still shows its round: the round
//! can only have stayed, never come back, so it was current throughout and the admission
//! linearizes at the join.

use crate::sync::{AtomicU64, Ordering};

/// The most probes a half-open round may admit.
pub const MAX_HALF_OPEN_PROBES: u32 = (1 << COUNT_BITS) - 1;

const COUNT_BITS: u32 = 11;
const TAG_SHIFT: u32 = 2 * COUNT_BITS;
const ADMITTED_SHIFT: u32 = COUNT_BITS;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

/// How many probes a half-open breaker admits, and how many must succeed to close it.
///
/// The default is one probe that closes the breaker on success. With more, the breaker admits up
/// to `probes` calls in each half-open round (a dropped or ignored probe frees its place), closes
/// once `successes` of them have succeeded, and re-opens on the first failure.
///
/// ```
/// use async_breaker::{Config, HalfOpen};
///
/// // Try three calls at once; close when two of them succeed.
/// const CAUTIOUS: Config = Config::new().half_open(HalfOpen::probes(3).closing_after(2));
/// # let _ = CAUTIOUS;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HalfOpen {
    pub(crate) probes: u32,
    pub(crate) successes: u32,
}

impl HalfOpen {
    /// One probe, closing on its success: the default.
    pub const ONE: HalfOpen = HalfOpen {
        probes: 1,
        successes: 1,
    };

    /// Admit up to `probes` calls per half-open round (1 to 2047); by default all of them must
    /// succeed to close.
    pub const fn probes(probes: u32) -> HalfOpen {
        HalfOpen {
            probes,
            successes: probes,
        }
    }

    /// Close once `successes` probes (1 to `probes`) have succeeded.
    #[must_use]
    pub const fn closing_after(mut self, successes: u32) -> HalfOpen {
        self.successes = successes;
        self
    }

    pub(crate) const fn is_valid(self) -> bool {
        self.successes >= 1 && self.successes <= self.probes && self.probes <= MAX_HALF_OPEN_PROBES
    }
}

/// What joining a round gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Join {
    /// Admitted as one of the round's probes.
    Joined,
    /// The round has admitted all it may.
    Full,
    /// The word already belongs to a newer round: the caller's view is out of date.
    Newer,
}

/// What a probe's success did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Success {
    /// Counted; enough successes to close.
    Close,
    /// Counted; not yet enough.
    Counted,
    /// The round is over.
    Stale,
}

/// The counting side of a multi-probe half-open round.
pub(crate) struct Rounds {
    word: AtomicU64,
    probes: u64,
    successes: u64,
}

fn unpack(word: u64) -> (u64, u64, u64) {
    (
        word >> TAG_SHIFT,
        (word >> ADMITTED_SHIFT) & COUNT_MASK,
        word & COUNT_MASK,
    )
}

fn pack(round: u64, admitted: u64, succeeded: u64) -> u64 {
    (round << TAG_SHIFT) | (admitted.min(COUNT_MASK) << ADMITTED_SHIFT) | succeeded.min(COUNT_MASK)
}

impl Rounds {
    /// The counter for `half_open`, or `None` for the default single probe (the state word
    /// handles that alone).
    pub(crate) fn new(half_open: HalfOpen) -> Option<Rounds> {
        (half_open != HalfOpen::ONE).then(|| Rounds {
            // Round 0 with nothing admitted: the same as no round at all.
            word: AtomicU64::new(0),
            probes: u64::from(half_open.probes),
            successes: u64::from(half_open.successes),
        })
    }

    /// Changes the counts of `round` with `f`, which sees (admitted, succeeded) and returns the
    /// new pair or `None` to leave the word alone. A word of an older round counts as empty when
    /// `fresh` is set (joining) and as over otherwise.
    fn update<T>(
        &self,
        round: u64,
        fresh: bool,
        mut f: impl FnMut(u64, u64) -> Result<(u64, u64), T>,
    ) -> Result<(u64, u64), Option<T>> {
        let mut current = self.word.load(Ordering::Acquire);
        loop {
            let (held, admitted, succeeded) = unpack(current);
            let (admitted, succeeded) = match held.cmp(&round) {
                core::cmp::Ordering::Equal => (admitted, succeeded),
                core::cmp::Ordering::Less if fresh => (0, 0),
                // An older round, when not joining: that round is over. A newer round: the
                // caller's view is out of date.
                _ => return Err(None),
            };
            let (a, s) = f(admitted, succeeded).map_err(Some)?;
            match self.word.compare_exchange_weak(
                current,
                pack(round, a, s),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok((a, s)),
                Err(actual) => current = actual,
            }
        }
    }

    /// Takes a place in `round`, if it has one left.
    pub(crate) fn join(&self, round: u64) -> Join {
        match self.update(round, true, |admitted, succeeded| {
            if admitted >= self.probes {
                Err(())
            } else {
                Ok((admitted + 1, succeeded))
            }
        }) {
            Ok(_) => Join::Joined,
            Err(Some(())) => Join::Full,
            Err(None) => Join::Newer,
        }
    }

    /// Gives a place in `round` back (a dropped or ignored probe).
    pub(crate) fn leave(&self, round: u64) {
        let _ = self.update(round, false, |admitted, succeeded| {
            Ok::<_, ()>((admitted.saturating_sub(1), succeeded))
        });
    }

    /// Counts a success of a probe of `round`.
    pub(crate) fn succeed(&self, round: u64) -> Success {
        match self.update(round, false, |admitted, succeeded| {
            Ok::<_, ()>((admitted, succeeded + 1))
        }) {
            Ok((_, succeeded)) if succeeded >= self.successes => Success::Close,
            Ok(_) => Success::Counted,
            Err(_) => Success::Stale,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rounds(probes: u32, successes: u32) -> Rounds {
        Rounds::new(HalfOpen::probes(probes).closing_after(successes)).unwrap()
    }

    #[test]
    fn the_default_needs_no_side_word() {
        assert!(Rounds::new(HalfOpen::ONE).is_none());
        assert!(Rounds::new(HalfOpen::probes(1)).is_none());
    }

    #[test]
    fn a_round_admits_exactly_its_probes_and_a_leaver_frees_a_place() {
        let r = rounds(3, 3);
        for _ in 0..3 {
            assert_eq!(r.join(100), Join::Joined);
        }
        assert_eq!(r.join(100), Join::Full);
        r.leave(100);
        assert_eq!(r.join(100), Join::Joined);
        assert_eq!(r.join(100), Join::Full);
    }

    #[test]
    fn successes_close_once_enough() {
        let r = rounds(3, 2);
        assert_eq!(r.join(7), Join::Joined);
        assert_eq!(r.join(7), Join::Joined);
        assert_eq!(r.succeed(7), Success::Counted);
        assert_eq!(r.succeed(7), Success::Close);
    }

    #[test]
    fn a_new_round_starts_empty_and_old_rounds_cannot_touch_it() {
        let r = rounds(2, 2);
        assert_eq!(r.join(7), Join::Joined);
        assert_eq!(r.join(7), Join::Joined);
        assert_eq!(r.join(9), Join::Joined, "round 9 starts afresh");
        assert_eq!(
            r.join(7),
            Join::Newer,
            "a caller still seeing round 7 must look again"
        );
        assert_eq!(r.succeed(7), Success::Stale);
        r.leave(7);
        assert_eq!(
            r.join(9),
            Join::Joined,
            "round 9 still has its second place"
        );
        assert_eq!(r.join(9), Join::Full);
    }

    #[test]
    fn only_joining_starts_a_round() {
        let r = rounds(2, 1);
        assert_eq!(r.join(4), Join::Joined);
        // A success or a leaver of a round nobody joined (the side word still holds round 4)
        // counts for nothing and leaves round 4's places as they were.
        assert_eq!(r.succeed(6), Success::Stale);
        r.leave(6);
        assert_eq!(r.join(4), Join::Joined);
        assert_eq!(r.join(4), Join::Full);
        assert_eq!(r.succeed(4), Success::Close);
    }

    #[test]
    fn limits() {
        assert!(HalfOpen::probes(MAX_HALF_OPEN_PROBES).is_valid());
        assert!(!HalfOpen::probes(MAX_HALF_OPEN_PROBES + 1).is_valid());
        assert!(!HalfOpen::probes(0).is_valid());
        assert!(!HalfOpen::probes(3).closing_after(4).is_valid());
        assert!(!HalfOpen::probes(3).closing_after(0).is_valid());
    }
}
