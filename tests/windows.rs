//! Count-based windows of more than 32 calls and the slow-call rate, at their exact boundaries:
//! `N - 1`, `N` and `N + 1` calls, the minimum of calls, the percentage edge, the 32/33-call
//! switch from one word to a ring of slots, new cycles, and the slow-call rate alone, beside a
//! failure rate, beside a slow-call threshold and over a time-based window.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use async_breaker::{
    CircuitBreaker, ConfigError, FailureRate, ManualClock, Outcome, State, MAX_RECOVERY_TIMEOUT,
    MAX_WINDOW_CALLS,
};

const RECOVERY: Duration = Duration::from_secs(10);

fn rate_breaker(rate: FailureRate) -> (CircuitBreaker, ManualClock) {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .failure_rate(rate)
        .recovery_timeout(RECOVERY)
        .clock(clock.clone())
        .build()
        .expect("valid rate");
    (breaker, clock)
}

/// Reports `failed` for one closed-state call.
fn report(breaker: &CircuitBreaker, failed: bool) {
    let permit = breaker.try_acquire().expect("closed");
    assert!(!permit.is_probe());
    if failed {
        permit.failure();
    } else {
        permit.success();
    }
}

/// Reports `count` outcomes, all `failed` or all not, asserting the breaker stays closed.
fn report_closed(breaker: &CircuitBreaker, count: u32, failed: bool) {
    for i in 0..count {
        report(breaker, failed);
        assert_eq!(breaker.state(), State::Closed, "call {i} of {count}");
    }
}

#[test]
fn the_longest_window_is_1024_calls() {
    assert_eq!(MAX_WINDOW_CALLS, 1_024);
    let ok = CircuitBreaker::builder().failure_rate(FailureRate::last_calls(1_024, 1_024, 50));
    assert!(ok.build().is_ok());
    let err = CircuitBreaker::builder()
        .failure_rate(FailureRate::last_calls(1_025, 1, 50))
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "failure_rate");
}

/// A time window may span the breaker's whole time range, `MAX_RECOVERY_TIMEOUT`, and no more.
#[test]
fn the_longest_time_window_is_the_breaker_s_time_range() {
    // 2^42 - 1 ms splits into 3 whole-millisecond buckets, and so does 3 ms more.
    let longest = FailureRate::last(MAX_RECOVERY_TIMEOUT, 3, 1, 50);
    assert!(CircuitBreaker::builder()
        .failure_rate(longest)
        .build()
        .is_ok());
    let longer = FailureRate::last(MAX_RECOVERY_TIMEOUT + Duration::from_millis(3), 3, 1, 50);
    let err = CircuitBreaker::builder()
        .failure_rate(longer)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "failure_rate");
}

/// `N - 1` calls are under the minimum of `N`, however many failed; the `N`th is judged.
#[test]
fn a_full_window_is_judged_at_the_nth_call_not_before() {
    for n in [32, 33, 100, 1_000, 1_024] {
        let (breaker, _) = rate_breaker(FailureRate::last_calls(n, n, 50));
        report_closed(&breaker, n - 1, true);
        report(&breaker, false);
        assert_eq!(
            breaker.state(),
            State::Open,
            "{n} of {n}: all but one failed"
        );
    }
}

/// At `N + 1` calls the oldest leaves: the same window trips or not depending on whether the
/// call that left was a failure.
#[test]
fn the_call_n_back_leaves_the_window() {
    for n in [32_u32, 33, 100, 999, 1_000] {
        // Failures that make half of `n`.
        let need = n.div_ceil(2);
        // Oldest a success: S, then need - 1 failures, then successes up to N: under half.
        let (breaker, _) = rate_breaker(FailureRate::last_calls(n, n, 50));
        report(&breaker, false);
        report_closed(&breaker, need - 1, true);
        report_closed(&breaker, n - need, false);
        // N + 1: a failure pushes the oldest success out: half failed.
        report(&breaker, true);
        assert_eq!(breaker.state(), State::Open, "window of {n}");

        // Oldest a failure: pushing it out with a failure keeps the same count.
        let (breaker, _) = rate_breaker(FailureRate::last_calls(n, n, 50));
        report(&breaker, true);
        report_closed(&breaker, n - need + 1, false);
        report_closed(&breaker, need - 2, true);
        report(&breaker, true);
        assert_eq!(breaker.state(), State::Closed, "window of {n}");
        assert_eq!(breaker.failure_count(), need - 1);
    }
}

#[test]
fn the_minimum_of_calls_is_exact() {
    for n in [20, 100, 1_000] {
        let (breaker, _) = rate_breaker(FailureRate::last_calls(n, 10, 50));
        report_closed(&breaker, 9, true);
        report(&breaker, false);
        assert_eq!(
            breaker.state(),
            State::Open,
            "9 of 10 failed, window of {n}"
        );
    }
    // A minimum above the window's length is the length.
    let (breaker, _) = rate_breaker(FailureRate::last_calls(40, 1_000, 100));
    report_closed(&breaker, 39, true);
    report(&breaker, true);
    assert_eq!(breaker.state(), State::Open);
}

#[test]
fn the_percentage_edge_opens_at_exactly_the_percentage() {
    // 1 % of 1 000 is 10 failures.
    for (failures, opens) in [(9, false), (10, true)] {
        let (breaker, _) = rate_breaker(FailureRate::last_calls(1_000, 1_000, 1));
        report_closed(&breaker, failures, true);
        report_closed(&breaker, 999 - failures, false);
        report(&breaker, false);
        assert_eq!(breaker.is_open(), opens, "{failures} of 1000 at 1 %");
    }
    // 100 %: every call of the window.
    let (breaker, _) = rate_breaker(FailureRate::last_calls(100, 100, 100));
    report(&breaker, false);
    report_closed(&breaker, 99, true);
    report(&breaker, true);
    assert_eq!(breaker.state(), State::Open, "the success left");
}

/// A new closed cycle starts with an empty window: the failures that opened the breaker do not
/// count again.
#[test]
fn a_new_cycle_starts_with_an_empty_window() {
    for n in [33, 1_000] {
        let (breaker, clock) = rate_breaker(FailureRate::last_calls(n, n, 50));
        report_closed(&breaker, n - 1, true);
        report(&breaker, true);
        assert_eq!(breaker.state(), State::Open);
        clock.advance(RECOVERY);
        breaker.try_acquire().expect("the probe").success();
        assert_eq!(breaker.state(), State::Closed);
        report_closed(&breaker, n - 1, true);
        report(&breaker, true);
        assert_eq!(breaker.state(), State::Open, "window of {n}, second cycle");
        breaker.reset();
        report_closed(&breaker, n - 1, true);
        report(&breaker, false);
        assert_eq!(breaker.state(), State::Open, "window of {n} after a reset");
    }
}

/// Four threads report outcomes into one 1 000-call window at once (a quarter failing, so it
/// never opens); then one thread pushes them all out with 1 000 successes. The count the window
/// keeps as calls leave it must come out exact: 499 failures more stay closed, the 500th opens,
/// as on a fresh breaker.
#[test]
fn concurrent_outcomes_keep_the_count_exact() {
    let (breaker, _) = rate_breaker(FailureRate::last_calls(1_000, 1_000, 50));
    let breaker = Arc::new(breaker);
    let start = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (breaker, start) = (Arc::clone(&breaker), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                for i in 0..20_000 {
                    report(&breaker, i % 4 == 0);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("reporting thread");
    }
    assert_eq!(breaker.state(), State::Closed);
    report_closed(&breaker, 1_000, false);
    report_closed(&breaker, 499, true);
    report(&breaker, true);
    assert_eq!(breaker.state(), State::Open, "500 of the last 1000 failed");
}

// ---------------------------------------------------------------------------------------------
// The slow-call rate.
// ---------------------------------------------------------------------------------------------

const SLOW: Duration = Duration::from_millis(100);

/// Reports one closed-state call that took `took`, failing or not.
fn timed(breaker: &CircuitBreaker, clock: &ManualClock, took: Duration, failed: bool) {
    let permit = breaker.try_acquire().expect("closed");
    clock.advance(took);
    if failed {
        permit.failure();
    } else {
        permit.success();
    }
}

fn slow_breaker(
    configure: impl FnOnce(async_breaker::Builder) -> async_breaker::Builder,
) -> (CircuitBreaker, ManualClock) {
    let clock = ManualClock::new();
    let breaker = configure(CircuitBreaker::builder())
        .recovery_timeout(RECOVERY)
        .clock(clock.clone())
        .build()
        .expect("valid settings");
    (breaker, clock)
}

#[test]
fn a_slow_call_rate_opens_at_its_own_percentage() {
    for (slow, opens) in [(4, false), (5, true)] {
        let (breaker, clock) = slow_breaker(|b| {
            b.failure_rate(FailureRate::last_calls(10, 10, 50))
                .slow_call_rate(SLOW, 50)
        });
        for i in 0..9 {
            timed(
                &breaker,
                &clock,
                if i < slow { SLOW } else { SLOW / 2 },
                false,
            );
            assert_eq!(breaker.state(), State::Closed, "under the minimum");
        }
        timed(&breaker, &clock, Duration::ZERO, false);
        assert_eq!(breaker.is_open(), opens, "{slow} of 10 slow at 50 %");
        // Slow successes are successes: no failure was counted.
        assert_eq!(breaker.failure_count(), 0);
    }
}

/// A call is slow from exactly the threshold (in whole milliseconds) on.
#[test]
fn a_call_of_exactly_the_threshold_is_slow() {
    for (took, opens) in [(Duration::from_millis(99), false), (SLOW, true)] {
        let (breaker, clock) = slow_breaker(|b| {
            b.failure_rate(FailureRate::last_calls(40, 1, 100))
                .slow_call_rate(SLOW, 100)
        });
        timed(&breaker, &clock, took, false);
        assert_eq!(breaker.is_open(), opens, "one call of {took:?}");
    }
}

/// Slow successes do not move the failure rate; slow failures count for both.
#[test]
fn slow_successes_stay_successes_for_the_failure_rate() {
    let (breaker, clock) = slow_breaker(|b| {
        b.failure_rate(FailureRate::last_calls(40, 10, 50))
            .slow_call_rate(SLOW, 100)
    });
    // 10 calls: 5 slow successes, 4 fast failures, then one fast success: 40 % failed, 50 %
    // slow: neither rate is reached.
    for _ in 0..5 {
        timed(&breaker, &clock, SLOW, false);
    }
    for _ in 0..4 {
        timed(&breaker, &clock, Duration::ZERO, true);
    }
    timed(&breaker, &clock, Duration::ZERO, false);
    assert_eq!(breaker.state(), State::Closed);
    // A slow failure: 5 of 11 failed (45 %), 6 slow: still closed.
    timed(&breaker, &clock, SLOW, true);
    assert_eq!(breaker.state(), State::Closed);
    // Another: 6 of 12 failed: the failure rate opens it.
    timed(&breaker, &clock, SLOW, true);
    assert_eq!(breaker.state(), State::Open);
}

/// Without a failure rate, the slow-call rate is judged over the last 100 calls once 100 have
/// finished, and failures still open the breaker by the consecutive count.
#[test]
fn a_slow_call_rate_alone_uses_the_default_window_of_100_calls() {
    let (breaker, clock) = slow_breaker(|b| b.slow_call_rate(SLOW, 50));
    for _ in 0..99 {
        timed(&breaker, &clock, SLOW, false);
        assert_eq!(breaker.state(), State::Closed, "under 100 calls");
    }
    timed(&breaker, &clock, SLOW, false);
    assert_eq!(breaker.state(), State::Open, "100 slow calls of 100");

    let (breaker, clock) = slow_breaker(|b| b.failure_threshold(3).slow_call_rate(SLOW, 50));
    for _ in 0..3 {
        timed(&breaker, &clock, Duration::ZERO, true);
    }
    assert_eq!(breaker.state(), State::Open, "3 consecutive failures");
    assert_eq!(breaker.failure_count(), 3);
}

/// `slow_call_threshold` still turns a slow success into a failure; beside a slow-call rate,
/// the same call is also slow for the rate.
#[test]
fn a_slow_call_threshold_keeps_counting_slow_calls_as_failures() {
    let (breaker, clock) = slow_breaker(|b| b.failure_threshold(2).slow_call_threshold(SLOW));
    timed(&breaker, &clock, SLOW, false);
    timed(&breaker, &clock, SLOW, false);
    assert_eq!(
        breaker.state(),
        State::Open,
        "two slow successes are two failures"
    );

    let (breaker, clock) = slow_breaker(|b| {
        b.failure_threshold(100)
            .slow_call_threshold(SLOW * 10)
            .failure_rate(FailureRate::last_calls(4, 4, 100))
            .slow_call_rate(SLOW, 75)
    });
    timed(&breaker, &clock, SLOW * 10, false); // a failure, and slow
    timed(&breaker, &clock, SLOW, false); // slow
    timed(&breaker, &clock, Duration::ZERO, false);
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(
        breaker.failure_count(),
        0,
        "the fast success reset the count"
    );
    timed(&breaker, &clock, SLOW, false);
    assert_eq!(breaker.state(), State::Open, "3 of 4 slow");
}

/// Ignored outcomes and dropped permits are not calls for either rate.
#[test]
fn ignored_calls_are_not_counted() {
    let (breaker, clock) = slow_breaker(|b| {
        b.failure_rate(FailureRate::last_calls(40, 2, 100))
            .slow_call_rate(SLOW, 100)
    });
    timed(&breaker, &clock, SLOW, false);
    for _ in 0..5 {
        let permit = breaker.try_acquire().unwrap();
        clock.advance(Duration::ZERO);
        permit.record_outcome(Outcome::Ignore);
        drop(breaker.try_acquire().unwrap());
    }
    assert_eq!(breaker.state(), State::Closed, "one call so far");
    timed(&breaker, &clock, SLOW, false);
    assert_eq!(breaker.state(), State::Open, "2 of 2 slow");
}

#[test]
fn a_slow_call_rate_over_a_time_window() {
    let (breaker, clock) = slow_breaker(|b| {
        b.failure_rate(FailureRate::last(Duration::from_secs(10), 10, 4, 50))
            .slow_call_rate(SLOW, 50)
    });
    timed(&breaker, &clock, SLOW, false);
    timed(&breaker, &clock, Duration::ZERO, false);
    timed(&breaker, &clock, Duration::ZERO, false);
    assert_eq!(breaker.state(), State::Closed, "3 calls: under the minimum");
    // The first second's calls leave the window 10 s later (had they stayed, the calls below
    // would make 3 of 7 slow, under half).
    clock.advance(Duration::from_secs(10));
    timed(&breaker, &clock, SLOW, false);
    timed(&breaker, &clock, Duration::ZERO, false);
    timed(&breaker, &clock, Duration::ZERO, false);
    assert_eq!(breaker.state(), State::Closed, "3 calls in the window");
    timed(&breaker, &clock, SLOW, false);
    assert_eq!(breaker.state(), State::Open, "2 of 4 slow");
}

#[test]
fn slow_call_rate_settings_are_checked() {
    for (threshold, percent) in [
        (Duration::ZERO, 50),
        (SLOW, 0),
        (SLOW, 101),
        (MAX_RECOVERY_TIMEOUT + Duration::from_millis(1), 50),
    ] {
        let err = CircuitBreaker::builder()
            .slow_call_rate(threshold, percent)
            .build()
            .unwrap_err();
        assert_eq!(err.field(), "slow_call_rate");
        assert!(
            matches!(err, ConfigError::SlowCallRate { threshold: t, percent: p, .. } if t == threshold && p == percent),
            "{err}"
        );
    }
    // A fraction of a millisecond rounds up; the longest threshold is accepted.
    for threshold in [Duration::from_nanos(1), MAX_RECOVERY_TIMEOUT] {
        assert!(CircuitBreaker::builder()
            .slow_call_rate(threshold, 100)
            .build()
            .is_ok());
    }
}
