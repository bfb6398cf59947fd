//! Failure-rate windows: the lock-free side structure behind [`FailureRate`].
//!
//! The consecutive-failure count fits in the state word; a failure *rate* over the last N calls
//! or the last T seconds does not, so it lives beside the word, in atomics of its own, updated by
//! compare-exchange. The window only *advises*: when it says the rate has been reached, the caller
//! still has to win the compare-exchange that opens the breaker in the state word, so a trip
//! happens exactly once however many callers see the rate at the same moment.
//!
//! Each window word carries a tag: the low bits of the stamp of the closed cycle it counts for.
//! An outcome is added only under its own cycle's tag; a window holding an older cycle's tag is
//! reset by the first outcome of the new cycle, and an outcome from an older cycle (a race with a
//! transition) never resets a newer window.
//!
//! ```text
//! count-based:  63             38 37   32 31                               0
//!              +-----------------+-------+----------------------------------+
//!              | cycle tag (26)  | calls | one bit per call, 1 = failure    |
//!              +-----------------+-------+----------------------------------+
//!
//! time-based bucket: 63        48 47        32 31        16 15         0
//!                   +------------+------------+------------+------------+
//!                   | cycle tag  | bucket no. |   calls    |  failures  |
//!                   +------------+------------+------------+------------+
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
/// The window starts empty in each closed cycle. When a failure rate is set, the failure
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
/// The number of tag bits in a bucket word.
const BUCKET_TAG_BITS: u32 = 16;

/// Whether `tag` is older than `current` in serial-number arithmetic over `bits` bits (tags come
/// from ever-increasing stamps, so the one "behind" by less than half the range is the older).
fn older(tag: u64, current: u64, bits: u32) -> bool {
    let half = 1 << (bits - 1);
    let diff = current.wrapping_sub(tag) & ((1 << bits) - 1);
    diff != 0 && diff < half
}

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
                let window_ms = u64::try_from(window.as_millis()).ok()?;
                let bucket_ms = window_ms / u64::from(buckets);
                if bucket_ms == 0 || bucket_ms * u64::from(buckets) != window_ms {
                    return None;
                }
                let buckets = (0..buckets)
                    .map(|_| AtomicU64::new(u64::MAX))
                    .collect::<Vec<_>>();
                Some(Window::Time {
                    buckets: buckets.into_boxed_slice(),
                    bucket_ms,
                    min_calls: rate.min_calls,
                    percent: rate.percent,
                })
            }
        }
    }

    /// Adds one outcome of the closed cycle whose stamp is `cycle`, finished at `now` (read only
    /// by a time-based window), and says whether the rate now calls for opening.
    pub(crate) fn record(&self, cycle: u64, failed: bool, now: &mut impl FnMut() -> u64) -> bool {
        let tally = match self {
            Window::Calls { word, size, .. } => record_call(word, *size, cycle, failed),
            Window::Time {
                buckets, bucket_ms, ..
            } => record_timed(buckets, *bucket_ms, cycle, failed, now()),
        };
        self.trips(tally)
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

fn record_call(word: &AtomicU64, size: u32, cycle: u64, failed: bool) -> Tally {
    let tag = cycle & ((1 << CALLS_TAG_BITS) - 1);
    let mut current = word.load(Ordering::Acquire);
    loop {
        let held = current >> 38;
        let (calls, ring) = if held == tag {
            ((current >> 32) & 0x3f, current & 0xffff_ffff)
        } else if current == 0 || older(held, tag, CALLS_TAG_BITS) {
            (0, 0)
        } else {
            // A newer cycle already owns the window: this outcome is stale.
            return Tally {
                calls: 0,
                failures: 0,
            };
        };
        let ring = ((ring << 1) | u64::from(failed)) & 0xffff_ffff;
        let calls = (calls + 1).min(u64::from(size));
        let next = (tag << 38) | (calls << 32) | ring;
        match word.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return calls_tally(next, size),
            Err(actual) => current = actual,
        }
    }
}

struct Bucket {
    tag: u64,
    index: u64,
    calls: u64,
    failures: u64,
}

impl Bucket {
    const EMPTY: u64 = u64::MAX;

    fn decode(raw: u64) -> Option<Bucket> {
        (raw != Bucket::EMPTY).then_some(Bucket {
            tag: raw >> 48,
            index: (raw >> 32) & 0xffff,
            calls: (raw >> 16) & 0xffff,
            failures: raw & 0xffff,
        })
    }

    fn encode(&self) -> u64 {
        (self.tag << 48)
            | (self.index << 32)
            | (self.calls.min(0xffff) << 16)
            | self.failures.min(0xffff)
    }
}

fn record_timed(
    buckets: &[AtomicU64],
    bucket_ms: u64,
    cycle: u64,
    failed: bool,
    now: u64,
) -> Tally {
    let tag = cycle & ((1 << BUCKET_TAG_BITS) - 1);
    let number = now / bucket_ms;
    let index = number & 0xffff;
    let slot = &buckets[usize::try_from(number % buckets.len() as u64).unwrap_or(0)];
    let mut current = slot.load(Ordering::Acquire);
    loop {
        let (calls, failures) = match Bucket::decode(current) {
            Some(b) if b.tag == tag && b.index == index => (b.calls, b.failures),
            Some(b) if b.tag != tag && !older(b.tag, tag, BUCKET_TAG_BITS) => {
                // A newer cycle owns this bucket: this outcome is stale.
                return timed_tally(buckets, bucket_ms, cycle, now);
            }
            // Empty, from an older cycle, or an earlier lap of the ring: start it afresh.
            _ => (0, 0),
        };
        let next = Bucket {
            tag,
            index,
            calls: calls + 1,
            failures: failures + u64::from(failed),
        }
        .encode();
        match slot.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return timed_tally(buckets, bucket_ms, cycle, now),
            Err(actual) => current = actual,
        }
    }
}

/// Sums the buckets of cycle `cycle` that are still inside the window at `now`.
fn timed_tally(buckets: &[AtomicU64], bucket_ms: u64, cycle: u64, now: u64) -> Tally {
    let tag = cycle & ((1 << BUCKET_TAG_BITS) - 1);
    let number = now / bucket_ms;
    let lap = buckets.len() as u64;
    let mut tally = Tally {
        calls: 0,
        failures: 0,
    };
    for slot in buckets {
        if let Some(b) = Bucket::decode(slot.load(Ordering::Acquire)) {
            // How many buckets ago this one was filled (16-bit wrapping), inside the window?
            let age = number.wrapping_sub(b.index) & 0xffff;
            if b.tag == tag && age < lap {
                tally.calls += u32::try_from(b.calls).unwrap_or(u32::MAX);
                tally.failures += u32::try_from(b.failures).unwrap_or(u32::MAX);
            }
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
        ] {
            assert!(Window::new(&rate).is_none(), "{rate:?}");
        }
    }

    #[test]
    fn the_last_n_calls_decide() {
        let w = calls(4, 4, 50);
        let mut never = || unreachable!("a count-based window reads no clock");
        assert!(!w.record(7, true, &mut never));
        assert!(!w.record(7, true, &mut never), "fewer than min_calls");
        assert!(!w.record(7, false, &mut never));
        assert!(w.record(7, false, &mut never), "2 of 4 failed");
        assert!(
            !w.record(7, false, &mut never),
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
    fn a_new_cycle_starts_empty_and_an_old_one_cannot_write() {
        let w = calls(4, 1, 100);
        let mut never = || unreachable!();
        assert!(w.record(7, true, &mut never));
        assert!(!w.record(9, false, &mut never), "cycle 9 starts afresh");
        assert_eq!(
            w.tally(9, 0),
            Tally {
                calls: 1,
                failures: 0
            }
        );
        assert!(!w.record(7, true, &mut never), "cycle 7 is over");
        assert_eq!(
            w.tally(9, 0),
            Tally {
                calls: 1,
                failures: 0
            }
        );
    }

    #[test]
    fn time_buckets_expire_as_a_whole() {
        let w = Window::new(&FailureRate::last(Duration::from_secs(4), 4, 2, 50)).unwrap();
        assert!(!w.record(1, true, &mut || 100));
        assert!(w.record(1, false, &mut || 1_100), "1 of 2 failed");
        assert_eq!(
            w.tally(1, 3_999),
            Tally {
                calls: 2,
                failures: 1
            }
        );
        assert_eq!(
            w.tally(1, 4_000),
            Tally {
                calls: 1,
                failures: 0
            },
            "the first second left"
        );
        assert!(!w.record(1, false, &mut || 4_200));
        assert_eq!(
            w.tally(1, 4_200),
            Tally {
                calls: 2,
                failures: 0
            }
        );
        assert_eq!(
            w.tally(1, 60_000),
            Tally {
                calls: 0,
                failures: 0
            }
        );
    }

    #[test]
    fn serial_tags_wrap() {
        assert!(older(5, 6, 16));
        assert!(older(0xffff, 2, 16), "across the wrap");
        assert!(!older(6, 5, 16));
        assert!(!older(6, 6, 16));
    }
}
