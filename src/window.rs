//! Failure-rate windows: the lock-free side structure behind [`FailureRate`].
//!
//! The consecutive-failure count fits in the state word; a failure *rate* over the last N calls
//! or the last T seconds does not, so it lives beside the word, in atomics of its own, updated by
//! compare-exchange. The window only *advises*: when it says the rate has been reached, the caller
//! still has to win the compare-exchange that opens the breaker in the state word, so a trip
//! happens exactly once however many callers see the rate at the same moment.
//!
//! Outcomes of an earlier closed cycle must never count in a later one, even when they race the
//! transition:
//!
//! - The count-based window word carries a tag, the low 26 bits of the stamp of the closed cycle
//!   it counts for. An outcome with the window's tag is added. An outcome that finds another tag
//!   asks the state word whether its own cycle is still current: if so, the window belongs to an
//!   older cycle and is started afresh; if not, the outcome is the stale one and is dropped. (Two
//!   cycles whose stamps agree in the low 26 bits, 2^26 ms or about 18.6 hours apart with
//!   no outcome in between, cannot be told apart: a documented limit.)
//! - The time-based window needs no tag. An outcome is filed under the clock reading taken
//!   *before* its ticket was checked against the state word, so an outcome of an earlier cycle
//!   always lands in a bucket no later than the one holding the new cycle's stamp, and a cycle
//!   only counts the buckets after that one (the very first cycle, stamped 0, counts them all).
//!   A new cycle therefore starts counting at the next bucket boundary. Bucket numbers are kept
//!   modulo 2^32: a ring slot left untouched for a multiple of 2^32 bucket lengths (at least
//!   49.7 days) can be taken for a current one, a documented limit.
//!
//! ```text
//! count-based:  63             38 37   32 31                               0
//!              +-----------------+-------+----------------------------------+
//!              | cycle tag (26)  | calls | one bit per call, 1 = failure    |
//!              +-----------------+-------+----------------------------------+
//!
//! time-based bucket: 63                 32 31        16 15         0
//!                   +---------------------+------------+------------+
//!                   |   bucket number     |   calls    |  failures  |
//!                   +---------------------+------------+------------+
//! ```

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::time::Duration;

use crate::sync::{AtomicU64, Ordering};

/// The longest count-based window: one bit per call in a 32-bit ring.
pub const MAX_WINDOW_CALLS: u32 = 32;
/// The most buckets a time-based window may have.
pub const MAX_WINDOW_BUCKETS: u32 = 64;

/// Open on a failure *rate* instead of a run of consecutive failures: when, over the window, at
/// least `min_calls` calls have finished and at least `percent` % of them failed.
///
/// - [`FailureRate::last_calls`]: the last `n` calls (up to 32).
/// - [`FailureRate::last`]: the calls that finished in the last `window`, counted in `buckets`
///   slices; a slice drops out of the window as a whole.
///
/// The window starts empty in each closed cycle (a time-based one counts from the first bucket
/// boundary after the cycle began, so no outcome of the cycle before can leak in). When a
/// failure rate is set, the failure
/// threshold is not used to open the breaker (the consecutive count is still reported by
/// [`failure_count`](crate::CircuitBreaker::failure_count)). Every outcome in the closed state
/// then costs one compare-exchange on the window (and, for a time-based window, a clock read).
///
/// ```
/// use std::time::Duration;
/// use async_breaker::{Config, FailureRate};
///
/// // Open when half of the last 20 calls failed, once at least 10 have finished.
/// const BY_CALLS: Config = Config::new().failure_rate(FailureRate::last_calls(20, 10, 50));
/// // Open when a quarter of the calls in the last 30 s failed, with at least 100 calls.
/// const BY_TIME: Config = Config::new()
///     .failure_rate(FailureRate::last(Duration::from_secs(30), 10, 100, 25));
/// # let _ = (BY_CALLS, BY_TIME);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailureRate {
    pub(crate) span: Span,
    pub(crate) min_calls: u32,
    pub(crate) percent: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Span {
    Calls(u32),
    Time { window: Duration, buckets: u32 },
}

impl FailureRate {
    /// Over the last `calls` calls (1 to 32): open when at least `min_calls` have finished and at
    /// least `percent` % of them failed.
    pub const fn last_calls(calls: u32, min_calls: u32, percent: u8) -> FailureRate {
        FailureRate {
            span: Span::Calls(calls),
            min_calls,
            percent,
        }
    }

    /// Over the calls that finished in the last `window`, counted in `buckets` equal slices (1 to
    /// 64): open when at least `min_calls` have finished and at least `percent` % failed.
    pub const fn last(window: Duration, buckets: u32, min_calls: u32, percent: u8) -> FailureRate {
        FailureRate {
            span: Span::Time { window, buckets },
            min_calls,
            percent,
        }
    }
}

/// The number of tag bits in a count-based window word.
const CALLS_TAG_BITS: u32 = 26;
/// Bucket numbers wrap at 2^32 buckets.
const NUMBER_MASK: u64 = 0xffff_ffff;

/// A validated failure-rate window, ready to count.
pub(crate) enum Window {
    Calls {
        word: AtomicU64,
        size: u32,
        min_calls: u32,
        percent: u8,
    },
    Time {
        buckets: Box<[AtomicU64]>,
        bucket_ms: u64,
        min_calls: u32,
        percent: u8,
    },
}

/// The counts a window holds for one cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) calls: u32,
    pub(crate) failures: u32,
}

impl Window {
    /// Builds the window, or `None` if the settings are out of range (the caller turns that into
    /// a `ConfigError`).
    pub(crate) fn new(rate: &FailureRate) -> Option<Window> {
        if rate.percent == 0 || rate.percent > 100 || rate.min_calls == 0 {
            return None;
        }
        match rate.span {
            Span::Calls(size) => (1..=MAX_WINDOW_CALLS)
                .contains(&size)
                .then(|| Window::Calls {
                    word: AtomicU64::new(0),
                    size,
                    min_calls: rate.min_calls.min(size),
                    percent: rate.percent,
                }),
            Span::Time { window, buckets } => {
                if !(1..=MAX_WINDOW_BUCKETS).contains(&buckets) {
                    return None;
                }
                // Every bucket a whole, non-zero number of milliseconds, and the window no longer
                // than the breaker's time range.
                let bucket_nanos = u128::from(buckets) * 1_000_000;
                if window.is_zero()
                    || window.as_nanos() % bucket_nanos != 0
                    || window > crate::MAX_RECOVERY_TIMEOUT
                {
                    return None;
                }
                let bucket_ms = u64::try_from(window.as_millis() / u128::from(buckets)).ok()?;
                // Bucket 0 with nothing in it: the same as an empty bucket.
                let buckets = (0..buckets).map(|_| AtomicU64::new(0)).collect::<Vec<_>>();
                Some(Window::Time {
                    buckets: buckets.into_boxed_slice(),
                    bucket_ms,
                    min_calls: rate.min_calls,
                    percent: rate.percent,
                })
            }
        }
    }

    /// Adds one outcome of the closed cycle whose stamp is `cycle` and says whether the rate now
    /// calls for opening. `at` is the clock reading taken before the outcome's ticket was
    /// checked against the state word (used only by a time-based window); `current` asks the
    /// state word whether `cycle` is still the current closed cycle.
    pub(crate) fn record(
        &self,
        cycle: u64,
        failed: bool,
        at: u64,
        current: impl Fn() -> bool,
    ) -> bool {
        let tally = match self {
            Window::Calls { word, size, .. } => record_call(word, *size, cycle, failed, current),
            Window::Time {
                buckets, bucket_ms, ..
            } => record_timed(buckets, *bucket_ms, cycle, failed, at),
        };
        self.trips(tally)
    }

    /// Whether outcomes of this window are filed by time (so the caller must read the clock
    /// before checking the ticket).
    pub(crate) fn is_timed(&self) -> bool {
        matches!(self, Window::Time { .. })
    }

    fn trips(&self, tally: Tally) -> bool {
        let (min_calls, percent) = match self {
            Window::Calls {
                min_calls, percent, ..
            }
            | Window::Time {
                min_calls, percent, ..
            } => (*min_calls, *percent),
        };
        tally.calls >= min_calls
            && u64::from(tally.failures) * 100 >= u64::from(percent) * u64::from(tally.calls)
    }

    /// What the window holds for the cycle `cycle` at `now`.
    #[cfg(test)]
    pub(crate) fn tally(&self, cycle: u64, now: u64) -> Tally {
        match self {
            Window::Calls { word, size, .. } => {
                let w = word.load(Ordering::Acquire);
                if w >> 38 == cycle & ((1 << CALLS_TAG_BITS) - 1) {
                    calls_tally(w, *size)
                } else {
                    Tally {
                        calls: 0,
                        failures: 0,
                    }
                }
            }
            Window::Time {
                buckets, bucket_ms, ..
            } => timed_tally(buckets, *bucket_ms, cycle, now),
        }
    }
}

fn calls_tally(w: u64, size: u32) -> Tally {
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
        failures: ring.count_ones(),
    }
}

fn record_call(
    word: &AtomicU64,
    size: u32,
    cycle: u64,
    failed: bool,
    current: impl Fn() -> bool,
) -> Tally {
    let tag = cycle & ((1 << CALLS_TAG_BITS) - 1);
    let mut observed = word.load(Ordering::Acquire);
    let mut checked = false;
    loop {
        let (calls, ring) = if observed >> 38 == tag {
            ((observed >> 32) & 0x3f, observed & 0xffff_ffff)
        } else {
            // Another cycle's window: start afresh if this outcome's cycle is the current one
            // (then the window's is older); otherwise this outcome is the stale one.
            if !checked && !current() {
                return Tally {
                    calls: 0,
                    failures: 0,
                };
            }
            checked = true;
            (0, 0)
        };
        let ring = ((ring << 1) | u64::from(failed)) & 0xffff_ffff;
        let calls = (calls + 1).min(u64::from(size));
        let next = (tag << 38) | (calls << 32) | ring;
        match word.compare_exchange_weak(observed, next, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return calls_tally(next, size),
            Err(actual) => observed = actual,
        }
    }
}

fn bucket(raw: u64) -> (u64, u64, u64) {
    (raw >> 32, (raw >> 16) & 0xffff, raw & 0xffff)
}

fn record_timed(buckets: &[AtomicU64], bucket_ms: u64, cycle: u64, failed: bool, at: u64) -> Tally {
    let number = (at / bucket_ms) & NUMBER_MASK;
    let slot = &buckets[usize::try_from(number % buckets.len() as u64).unwrap_or(0)];
    let mut observed = slot.load(Ordering::Acquire);
    loop {
        let (held, calls, failures) = bucket(observed);
        // The same bucket: add to it. Another (earlier) lap of the ring: start it afresh.
        let (calls, failures) = if held == number {
            (calls, failures)
        } else {
            (0, 0)
        };
        let next = (number << 32)
            | ((calls + 1).min(0xffff) << 16)
            | (failures + u64::from(failed)).min(0xffff);
        match slot.compare_exchange_weak(observed, next, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return timed_tally(buckets, bucket_ms, cycle, at),
            Err(actual) => observed = actual,
        }
    }
}

/// Sums the buckets inside the window at `now` that belong to the cycle stamped `cycle`: those
/// after the bucket holding the stamp (all of them for the first cycle, stamped 0).
fn timed_tally(buckets: &[AtomicU64], bucket_ms: u64, cycle: u64, now: u64) -> Tally {
    let full = now / bucket_ms;
    let number = full & NUMBER_MASK;
    let lap = buckets.len() as u64;
    // How many buckets ago the cycle began (its own bucket is not counted). A cycle stamped
    // ahead of the reading (a reset in the same millisecond, a clock that stepped back) has no
    // bucket after its own yet.
    let began = if cycle == 0 {
        u64::MAX
    } else {
        full.saturating_sub(cycle / bucket_ms)
    };
    let mut tally = Tally {
        calls: 0,
        failures: 0,
    };
    for slot in buckets {
        let (held, calls, failures) = bucket(slot.load(Ordering::Acquire));
        let age = number.wrapping_sub(held) & NUMBER_MASK;
        if age < lap && age < began {
            tally.calls += u32::try_from(calls).unwrap_or(u32::MAX);
            tally.failures += u32::try_from(failures).unwrap_or(u32::MAX);
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(size: u32, min: u32, percent: u8) -> Window {
        Window::new(&FailureRate::last_calls(size, min, percent)).unwrap()
    }

    const CURRENT: fn() -> bool = || true;
    const STALE: fn() -> bool = || false;

    #[test]
    fn settings_out_of_range_are_refused() {
        for rate in [
            FailureRate::last_calls(0, 1, 50),
            FailureRate::last_calls(33, 1, 50),
            FailureRate::last_calls(10, 0, 50),
            FailureRate::last_calls(10, 5, 0),
            FailureRate::last_calls(10, 5, 101),
            FailureRate::last(Duration::from_secs(10), 0, 5, 50),
            FailureRate::last(Duration::from_secs(10), 65, 5, 50),
            FailureRate::last(Duration::from_millis(10), 20, 5, 50),
            FailureRate::last(Duration::from_millis(1_001), 10, 5, 50),
            FailureRate::last(Duration::MAX, 10, 5, 50),
            // Longer than the breaker's time range (found by the config fuzz target).
            FailureRate::last(Duration::from_secs(72_300_789_061_647_103), 10, 5, 10),
            FailureRate::last(
                crate::MAX_RECOVERY_TIMEOUT + Duration::from_millis(10),
                10,
                5,
                50,
            ),
        ] {
            assert!(Window::new(&rate).is_none(), "{rate:?}");
        }
    }

    #[test]
    fn the_last_n_calls_decide() {
        let w = calls(4, 4, 50);
        assert!(!w.record(7, true, 0, CURRENT));
        assert!(!w.record(7, true, 0, CURRENT), "fewer than min_calls");
        assert!(!w.record(7, false, 0, CURRENT));
        assert!(w.record(7, false, 0, CURRENT), "2 of 4 failed");
        assert!(
            !w.record(7, false, 0, CURRENT),
            "the oldest failure left the window"
        );
        assert_eq!(
            w.tally(7, 0),
            Tally {
                calls: 4,
                failures: 1
            }
        );
    }

    #[test]
    fn a_new_cycle_starts_empty_and_a_stale_outcome_cannot_write() {
        let w = calls(4, 1, 100);
        assert!(w.record(7, true, 0, CURRENT));
        assert!(!w.record(9, false, 0, CURRENT), "cycle 9 starts afresh");
        assert_eq!(
            w.tally(9, 0),
            Tally {
                calls: 1,
                failures: 0
            }
        );
        assert!(!w.record(7, true, 0, STALE), "cycle 7 is over");
        assert_eq!(
            w.tally(9, 0),
            Tally {
                calls: 1,
                failures: 0
            }
        );
    }

    #[test]
    fn a_cycle_that_starts_long_after_the_last_one_still_counts() {
        // Stamps more than half the tag range apart (the count window's tag is 26 bits).
        let w = calls(4, 2, 50);
        let first = 1_000;
        let much_later = first + (1 << 25) + 12_345;
        assert!(!w.record(first, true, 0, CURRENT), "below min_calls");
        assert!(w.record(first, true, 0, CURRENT), "2 of 2 failed");
        assert!(!w.record(much_later, true, 0, CURRENT), "a fresh window");
        assert!(w.record(much_later, false, 0, CURRENT), "1 of 2 failed");
    }

    #[test]
    fn time_buckets_expire_as_a_whole() {
        let w = Window::new(&FailureRate::last(Duration::from_secs(4), 4, 2, 50)).unwrap();
        assert!(!w.record(0, true, 100, CURRENT));
        assert!(w.record(0, false, 1_100, CURRENT), "1 of 2 failed");
        assert_eq!(
            w.tally(0, 3_999),
            Tally {
                calls: 2,
                failures: 1
            }
        );
        assert_eq!(
            w.tally(0, 4_000),
            Tally {
                calls: 1,
                failures: 0
            },
            "the first second left"
        );
        assert!(!w.record(0, false, 4_200, CURRENT));
        assert_eq!(
            w.tally(0, 4_200),
            Tally {
                calls: 2,
                failures: 0
            }
        );
        assert_eq!(
            w.tally(0, 60_000),
            Tally {
                calls: 0,
                failures: 0
            }
        );
    }

    #[test]
    fn a_later_cycle_counts_from_the_next_bucket_boundary() {
        let w = Window::new(&FailureRate::last(Duration::from_secs(10), 10, 1, 50)).unwrap();
        // The old cycle's failures, one of them in the very bucket the new cycle begins in.
        assert!(w.record(0, true, 5_100, CURRENT));
        assert!(w.record(0, true, 6_200, CURRENT));
        let new_cycle = 6_500;
        assert_eq!(
            w.tally(new_cycle, 6_900),
            Tally {
                calls: 0,
                failures: 0
            }
        );
        assert!(!w.record(new_cycle, false, 7_000, CURRENT));
        assert_eq!(
            w.tally(new_cycle, 7_000),
            Tally {
                calls: 1,
                failures: 0
            }
        );
    }

    #[test]
    fn a_time_window_works_for_cycles_of_any_length() {
        let w = Window::new(&FailureRate::last(Duration::from_secs(4), 4, 2, 50)).unwrap();
        let day = 86_400_000;
        assert!(!w.record(day, true, day + 1_500, CURRENT));
        assert!(w.record(day, true, day + 2_500, CURRENT));
        let week = 7 * day;
        assert!(
            !w.record(week, true, week + 3_500, CURRENT),
            "a week later: a fresh start"
        );
        assert_eq!(
            w.tally(week, week + 3_500),
            Tally {
                calls: 1,
                failures: 1
            }
        );
    }
}
