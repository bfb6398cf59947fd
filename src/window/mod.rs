//! Rate windows: the lock-free side structures behind [`FailureRate`] and the slow-call rate.
//!
//! The consecutive-failure count fits in the state word; a rate over the last N calls or the
//! last T seconds does not, so it lives beside the word, in atomics of its own, updated by
//! compare-exchange. A window only *advises*: when it says its rate has been reached, the caller
//! still has to win the compare-exchange that opens the breaker in the state word
//! (`word::trip`), so a trip happens exactly once however many callers see the rate at once.
//!
//! Three counters, one job each:
//!
//! - [`bits`]: up to 32 calls, one bit per call in one word (one compare-exchange per outcome).
//! - [`ring`]: 33 up to [`MAX_WINDOW_CALLS`] calls, a head word and a ring of slots.
//! - [`timed`]: the calls of the last T, in buckets.
//!
//! A failure rate and a slow-call rate each have a counter of their own, over the same span:
//! the same calls, one counting failures, the other slow calls.
//!
//! Outcomes of an earlier closed cycle must never count in a later one, even when they race the
//! transition:
//!
//! - A count-based window carries a tag, the low 26 bits of the stamp of the closed cycle it
//!   counts for. An outcome with the window's tag is added. An outcome that finds another tag
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
//! What "the last N calls" means under concurrency: the order in which outcomes reach the
//! window (each one's compare-exchange on the window's word), which is the order in which they
//! were reported except for outcomes reported at the same moment. An outcome is part of the
//! rate once that compare-exchange has succeeded; until then (between its update of the state
//! word and of the window, a few instructions) a concurrent reader's rate lags by it.

mod bits;
mod ring;
mod timed;

use core::time::Duration;

/// The longest count-based window, in calls. Windows of up to 32 calls are one word (one bit
/// per call); longer ones a ring of one word per call, allocated when the breaker is built.
pub const MAX_WINDOW_CALLS: u32 = 1_024;
/// The most buckets a time-based window may have.
pub const MAX_WINDOW_BUCKETS: u32 = 64;

/// Open on a failure *rate* instead of a run of consecutive failures: when, over the window, at
/// least `min_calls` calls have finished and at least `percent` % of them failed.
///
/// - [`FailureRate::last_calls`]: the last `n` calls (up to [`MAX_WINDOW_CALLS`], 1 024).
/// - [`FailureRate::last`]: the calls that finished in the last `window`, counted in `buckets`
///   slices; a slice drops out of the window as a whole.
///
/// The window starts empty in each closed cycle (a time-based one counts from the first bucket
/// boundary after the cycle began, so no outcome of the cycle before can leak in). When a
/// failure rate is set, the failure threshold is not used to open the breaker (the consecutive
/// count is still reported by [`failure_count`](crate::CircuitBreaker::failure_count)).
///
/// The same window also carries a [slow-call rate](crate::Config::slow_call_rate) if one is
/// set. The rate is over the last `n` outcomes in the order they reach the window; an outcome
/// being reported at that moment may be missing from a concurrent caller's rate for the few
/// instructions between its update of the breaker's state and of the window.
///
/// Cost per closed-state outcome: up to 32 calls, one compare-exchange on the window word; a
/// longer window, a compare-exchange on its head word plus usually one on a slot word (and, the
/// first outcome of each closed cycle, one pass over the ring to empty it: `n` rounded up to a
/// power of two words); a time-based window, a clock read and one compare-exchange on a bucket.
/// Memory: a time-based window holds one word per bucket, a window of more than 32 calls one
/// word per call (8 KiB for 1 000 calls), allocated when the breaker is built; recording never
/// allocates.
///
/// ```
/// use std::time::Duration;
/// use async_breaker::{Config, FailureRate};
///
/// // Open when half of the last 20 calls failed, once at least 10 have finished.
/// const BY_CALLS: Config = Config::new().failure_rate(FailureRate::last_calls(20, 10, 50));
/// // resilience4j's default: half of the last 100 calls, once 100 have finished.
/// const LIKE_R4J: Config = Config::new().failure_rate(FailureRate::last_calls(100, 100, 50));
/// // Open when a quarter of the calls in the last 30 s failed, with at least 100 calls.
/// const BY_TIME: Config = Config::new()
///     .failure_rate(FailureRate::last(Duration::from_secs(30), 10, 100, 25));
/// # let _ = (BY_CALLS, LIKE_R4J, BY_TIME);
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

/// How the settings read in an error message: `last 20 calls, judged from 10, at 50 %` or
/// `last 30s in 10 buckets, judged from 100, at 25 %`.
impl core::fmt::Display for FailureRate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.span {
            Span::Calls(calls) => write!(f, "last {calls} calls")?,
            Span::Time { window, buckets } => write!(f, "last {window:?} in {buckets} buckets")?,
        }
        write!(f, ", judged from {}, at {} %", self.min_calls, self.percent)
    }
}

impl FailureRate {
    /// Over the last `calls` calls (1 to [`MAX_WINDOW_CALLS`]): open when at least `min_calls`
    /// have finished and at least `percent` % of them failed. A `min_calls` above `calls` is
    /// taken as `calls` (a full window is judged).
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

/// The low bits of a cycle's stamp that tell count-based windows apart.
const TAG_MASK: u64 = (1 << 26) - 1;

/// The calls and the minimum a slow-call rate is judged over when no failure rate gives it a
/// window: resilience4j's defaults, the last 100 calls once 100 have finished.
pub(crate) const SLOW_WINDOW_DEFAULT: FailureRate = FailureRate::last_calls(100, 100, 100);

/// The longest window kept in one word. Under loom, windows of more than 4 calls already use
/// the ring, so that its models stay small (the algorithm is the same for every length).
const fn word_max() -> u32 {
    if cfg!(async_breaker_loom) {
        4
    } else {
        bits::BITS_MAX
    }
}

/// What a window holds for one cycle: the calls, and how many of them it counts (failures for
/// a failure rate, slow calls for a slow-call rate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) calls: u32,
    pub(crate) hits: u32,
}

impl Tally {
    pub(crate) const EMPTY: Tally = Tally { calls: 0, hits: 0 };
}

/// One counter over a span.
enum Count {
    Bits(bits::Bits),
    Ring(ring::Ring),
    Time(timed::Timed),
}

impl Count {
    fn new(span: Span) -> Count {
        match span {
            Span::Calls(size) if size <= word_max() => Count::Bits(bits::Bits::new(size)),
            Span::Calls(size) => Count::Ring(ring::Ring::new(size)),
            Span::Time { window, buckets } => {
                let ms = crate::clock::duration_millis(window) / u64::from(buckets);
                Count::Time(timed::Timed::new(buckets, ms))
            }
        }
    }

    fn record(&self, cycle: u64, hit: bool, at: u64, current: &impl Fn() -> bool) -> Tally {
        match self {
            Count::Bits(bits) => bits.record(cycle, hit, current),
            Count::Ring(ring) => ring.record(cycle, hit, current),
            Count::Time(timed) => timed.record(cycle, hit, at),
        }
    }

    #[cfg(test)]
    fn tally(&self, cycle: u64, now: u64) -> Tally {
        match self {
            Count::Bits(bits) => bits.tally(cycle),
            Count::Ring(ring) => ring.tally(cycle),
            Count::Time(timed) => timed.tally(cycle, now),
        }
    }
}

/// A counter and the percentage of counted calls that opens the breaker.
struct Judged {
    count: Count,
    percent: u8,
}

impl Judged {
    fn new(span: Span, percent: u8) -> Judged {
        Judged {
            count: Count::new(span),
            percent,
        }
    }
}

/// The validated rate windows of one breaker: a failure rate, a slow-call rate, or both, over
/// the same span and minimum of calls.
pub(crate) struct Window {
    failures: Option<Judged>,
    /// The slow-call threshold in ms and the slow-call counter.
    slow: Option<(u64, Judged)>,
    min_calls: u32,
    timed: bool,
}

impl Window {
    /// Whether `rate`'s settings are in range.
    #[cfg(test)]
    pub(crate) fn valid(rate: &FailureRate) -> bool {
        Window::check(rate).is_ok()
    }

    /// Checks the settings of a failure rate; the error says what a valid one needs.
    pub(crate) fn check(rate: &FailureRate) -> Result<(), &'static str> {
        if rate.percent == 0 || rate.percent > 100 {
            return Err("a percentage between 1 and 100");
        }
        if rate.min_calls == 0 {
            return Err("at least 1 call before it judges (min_calls)");
        }
        match rate.span {
            Span::Calls(size) if !(1..=MAX_WINDOW_CALLS).contains(&size) => {
                Err("a window of 1 to 1024 calls")
            }
            Span::Calls(_) => Ok(()),
            Span::Time { window, buckets } => {
                // Every bucket a whole, non-zero number of milliseconds, and the window no
                // longer than the breaker's time range.
                if !(1..=MAX_WINDOW_BUCKETS).contains(&buckets) {
                    Err("1 to 64 buckets")
                } else if window.is_zero()
                    || window.as_nanos() % (u128::from(buckets) * 1_000_000) != 0
                {
                    Err("a window that splits into buckets of whole milliseconds")
                } else if window > crate::MAX_RECOVERY_TIMEOUT {
                    Err("a window no longer than MAX_RECOVERY_TIMEOUT")
                } else {
                    Ok(())
                }
            }
        }
    }

    /// The windows for a failure rate (`rate`) and a slow-call rate (`slow`: threshold in ms and
    /// percentage), both already validated; `None` if neither is set. The slow-call rate uses the
    /// failure rate's span and minimum, or [`SLOW_WINDOW_DEFAULT`]'s.
    pub(crate) fn new(rate: Option<&FailureRate>, slow: Option<(u64, u8)>) -> Option<Window> {
        let shape = rate.or(slow.is_some().then_some(&SLOW_WINDOW_DEFAULT))?;
        let min_calls = match shape.span {
            Span::Calls(size) => shape.min_calls.min(size),
            Span::Time { .. } => shape.min_calls,
        };
        Some(Window {
            failures: rate.map(|rate| Judged::new(rate.span, rate.percent)),
            slow: slow.map(|(ms, percent)| (ms, Judged::new(shape.span, percent))),
            min_calls,
            timed: matches!(shape.span, Span::Time { .. }),
        })
    }

    /// Adds one outcome of the closed cycle whose stamp is `cycle` (`failed`: it counts as a
    /// failure; `slow`: it took at least the slow-call rate's threshold) and says whether a rate
    /// now calls for opening. `at` is the clock reading taken before the outcome's ticket was
    /// checked against the state word (used only by a time-based window); `current` asks the
    /// state word whether `cycle` is still the current closed cycle.
    pub(crate) fn record(
        &self,
        cycle: u64,
        failed: bool,
        slow: bool,
        at: u64,
        current: impl Fn() -> bool,
    ) -> bool {
        let mut trips = false;
        if let Some(judged) = &self.failures {
            trips |= self.trips(judged, judged.count.record(cycle, failed, at, &current));
        }
        if let Some((_, judged)) = &self.slow {
            trips |= self.trips(judged, judged.count.record(cycle, slow, at, &current));
        }
        trips
    }

    /// Whether outcomes are filed by time (so the caller must read the clock before checking
    /// the ticket).
    pub(crate) fn is_timed(&self) -> bool {
        self.timed
    }

    /// The slow-call rate's threshold in ms, if one is set.
    pub(crate) fn slow_ms(&self) -> Option<u64> {
        self.slow.as_ref().map(|(ms, _)| *ms)
    }

    /// At least `min_calls` calls, and at least `percent` % of them counted.
    fn trips(&self, judged: &Judged, tally: Tally) -> bool {
        tally.calls >= self.min_calls
            && u64::from(tally.hits) * 100 >= u64::from(judged.percent) * u64::from(tally.calls)
    }

    /// What the failure counter holds for the cycle `cycle` at `now`.
    #[cfg(test)]
    fn tally(&self, cycle: u64, now: u64) -> Tally {
        self.failures
            .as_ref()
            .map_or(Tally::EMPTY, |judged| judged.count.tally(cycle, now))
    }
}

#[cfg(test)]
mod tests {
    use alloc::collections::VecDeque;
    use alloc::vec::Vec;

    use super::*;

    fn calls(size: u32, min: u32, percent: u8) -> Window {
        let rate = FailureRate::last_calls(size, min, percent);
        assert!(Window::valid(&rate));
        Window::new(Some(&rate), None).unwrap()
    }

    fn timed(window: Duration, buckets: u32, min: u32, percent: u8) -> Window {
        let rate = FailureRate::last(window, buckets, min, percent);
        assert!(Window::valid(&rate));
        Window::new(Some(&rate), None).unwrap()
    }

    const CURRENT: fn() -> bool = || true;
    const STALE: fn() -> bool = || false;

    fn fail(w: &Window, cycle: u64, failed: bool, current: fn() -> bool) -> bool {
        w.record(cycle, failed, false, 0, current)
    }

    #[test]
    fn settings_out_of_range_are_refused() {
        for rate in [
            FailureRate::last_calls(0, 1, 50),
            FailureRate::last_calls(MAX_WINDOW_CALLS + 1, 1, 50),
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
            assert!(!Window::valid(&rate), "{rate:?}");
        }
        assert!(Window::valid(&FailureRate::last_calls(
            MAX_WINDOW_CALLS,
            1,
            50
        )));
        assert!(Window::new(None, None).is_none());
    }

    #[test]
    fn the_last_n_calls_decide() {
        for size in [4, 40] {
            let w = calls(size, size, 50);
            for _ in 0..size / 2 {
                assert!(!fail(&w, 7, true, CURRENT), "fewer than min_calls");
            }
            for _ in 0..size / 2 - 1 {
                assert!(!fail(&w, 7, false, CURRENT), "fewer than min_calls");
            }
            assert!(fail(&w, 7, false, CURRENT), "half of {size} failed");
            assert!(
                !fail(&w, 7, false, CURRENT),
                "the oldest failure left the window"
            );
            assert_eq!(
                w.tally(7, 0),
                Tally {
                    calls: size,
                    hits: size / 2 - 1
                }
            );
        }
    }

    #[test]
    fn a_new_cycle_starts_empty_and_a_stale_outcome_cannot_write() {
        for size in [4, 40] {
            let w = calls(size, 1, 100);
            assert!(fail(&w, 7, true, CURRENT));
            assert!(!fail(&w, 9, false, CURRENT), "cycle 9 starts afresh");
            assert_eq!(w.tally(9, 0), Tally { calls: 1, hits: 0 });
            assert!(!fail(&w, 7, true, STALE), "cycle 7 is over");
            assert_eq!(w.tally(9, 0), Tally { calls: 1, hits: 0 });
        }
    }

    #[test]
    fn a_cycle_that_starts_long_after_the_last_one_still_counts() {
        // Stamps more than half the tag range apart (a count window's tag is 26 bits).
        for size in [4, 40] {
            let w = calls(size, 2, 50);
            let first = 1_000;
            let much_later = first + (1 << 25) + 12_345;
            assert!(!fail(&w, first, true, CURRENT), "below min_calls");
            assert!(fail(&w, first, true, CURRENT), "2 of 2 failed");
            assert!(!fail(&w, much_later, true, CURRENT), "a fresh window");
            assert!(fail(&w, much_later, false, CURRENT), "1 of 2 failed");
        }
    }

    /// A small deterministic generator (xorshift64*), so the long runs below need no crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    /// Every count-based window, one word or ring, against a plain list of the last `n`
    /// outcomes of the current cycle, over many laps of the ring and many cycles, with stale
    /// outcomes of ended cycles mixed in.
    #[test]
    fn count_windows_hold_exactly_the_last_n_outcomes_of_the_cycle() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for size in [
            1,
            2,
            3,
            31,
            32,
            33,
            63,
            64,
            65,
            100,
            127,
            128,
            1_000,
            MAX_WINDOW_CALLS,
        ] {
            let w = calls(size, 1, 100);
            let mut model: VecDeque<bool> = VecDeque::new();
            let mut cycle = 0;
            let mut ended: Vec<u64> = Vec::new();
            for step in 0..(size * 6 + 200) {
                match rng.next() % 200 {
                    // A new cycle now and then (its first outcome empties the window).
                    0 => {
                        ended.push(cycle);
                        cycle += 1 + rng.next() % 5_000;
                        model.clear();
                    }
                    // A stale outcome of an ended cycle: dropped.
                    1..=4 if !ended.is_empty() => {
                        let old = ended[usize::try_from(rng.next()).unwrap() % ended.len()];
                        let before = w.tally(cycle, 0);
                        fail(&w, old, rng.next() % 2 == 0, STALE);
                        if !model.is_empty() {
                            assert_eq!(w.tally(cycle, 0), before, "size {size} step {step}");
                        }
                    }
                    _ => {
                        let failed = rng.next() % 3 == 0;
                        fail(&w, cycle, failed, CURRENT);
                        model.push_back(failed);
                        if model.len() > size as usize {
                            model.pop_front();
                        }
                        let expected = Tally {
                            calls: u32::try_from(model.len()).unwrap(),
                            hits: u32::try_from(model.iter().filter(|f| **f).count()).unwrap(),
                        };
                        assert_eq!(w.tally(cycle, 0), expected, "size {size} step {step}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_percentage_edge_trips_at_exactly_the_percentage() {
        // 1 000 calls at 50 %: 499 failures do not trip, 500 do.
        let w = calls(1_000, 1_000, 50);
        for i in 0..999 {
            assert!(!fail(&w, 0, i < 499, CURRENT), "call {i}");
        }
        assert!(!fail(&w, 0, false, CURRENT), "499 of 1000");
        let w = calls(1_000, 1_000, 50);
        for i in 0..999 {
            assert!(!fail(&w, 0, i < 500, CURRENT), "call {i}");
        }
        assert!(fail(&w, 0, false, CURRENT), "500 of 1000");
    }

    #[test]
    fn a_slow_call_rate_counts_slow_calls_over_the_same_window() {
        let rate = FailureRate::last_calls(40, 4, 50);
        let w = Window::new(Some(&rate), Some((100, 75))).unwrap();
        assert_eq!(w.slow_ms(), Some(100));
        // Slow successes: 3 of 4 slow trips the slow rate (75 %), not the failure rate.
        assert!(!w.record(0, false, true, 0, CURRENT));
        assert!(!w.record(0, false, true, 0, CURRENT));
        assert!(!w.record(0, false, false, 0, CURRENT));
        assert!(w.record(0, false, true, 0, CURRENT), "3 of 4 slow");
        assert_eq!(w.tally(0, 0), Tally { calls: 4, hits: 0 }, "no failure");
        // Alone, over the default window: the last 100 calls, at least 100.
        let w = Window::new(None, Some((100, 1))).unwrap();
        for _ in 0..99 {
            assert!(!w.record(0, true, true, 0, CURRENT));
        }
        assert!(w.record(0, false, true, 0, CURRENT), "100 calls, all slow");
    }

    #[test]
    fn time_buckets_expire_as_a_whole() {
        let w = timed(Duration::from_secs(4), 4, 2, 50);
        assert!(!w.record(0, true, false, 100, CURRENT));
        assert!(w.record(0, false, false, 1_100, CURRENT), "1 of 2 failed");
        assert_eq!(w.tally(0, 3_999), Tally { calls: 2, hits: 1 });
        assert_eq!(
            w.tally(0, 4_000),
            Tally { calls: 1, hits: 0 },
            "the first second left"
        );
        assert!(!w.record(0, false, false, 4_200, CURRENT));
        assert_eq!(w.tally(0, 4_200), Tally { calls: 2, hits: 0 });
        assert_eq!(w.tally(0, 60_000), Tally::EMPTY);
    }

    #[test]
    fn a_later_cycle_counts_from_the_next_bucket_boundary() {
        let w = timed(Duration::from_secs(10), 10, 1, 50);
        // The old cycle's failures, one of them in the very bucket the new cycle begins in.
        assert!(w.record(0, true, false, 5_100, CURRENT));
        assert!(w.record(0, true, false, 6_200, CURRENT));
        let new_cycle = 6_500;
        assert_eq!(w.tally(new_cycle, 6_900), Tally::EMPTY);
        assert!(!w.record(new_cycle, false, false, 7_000, CURRENT));
        assert_eq!(w.tally(new_cycle, 7_000), Tally { calls: 1, hits: 0 });
    }

    #[test]
    fn a_time_window_works_for_cycles_of_any_length() {
        let w = timed(Duration::from_secs(4), 4, 2, 50);
        let day = 86_400_000;
        assert!(!w.record(day, true, false, day + 1_500, CURRENT));
        assert!(w.record(day, true, false, day + 2_500, CURRENT));
        let week = 7 * day;
        assert!(
            !w.record(week, true, false, week + 3_500, CURRENT),
            "a week later: a fresh start"
        );
        assert_eq!(w.tally(week, week + 3_500), Tally { calls: 1, hits: 1 });
    }
}
