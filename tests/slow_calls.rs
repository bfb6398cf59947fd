//! Slow calls (`slow_call_threshold`) are reported as slow, not only as failures: the
//! rejection's accessor and message, the metrics snapshot; and the threshold's boundary is
//! inclusive (a success lasting exactly the threshold is slow, 1 ms less is not).

use std::time::Duration;

use async_breaker::{CircuitBreaker, ManualClock, State};

const THRESHOLD: Duration = Duration::from_millis(500);
/// One millisecond short of the threshold.
const JUST_UNDER: Duration = Duration::from_millis(499);
const RECOVERY: Duration = Duration::from_secs(30);

fn breaker(name: &'static str, failures: u32) -> (CircuitBreaker, ManualClock) {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .name(name)
        .failure_threshold(failures)
        .recovery_timeout(RECOVERY)
        .slow_call_threshold(THRESHOLD)
        .clock(clock.clone())
        .metrics()
        .build()
        .expect("valid settings");
    (breaker, clock)
}

/// A success that lasts `took` on the breaker's clock.
fn succeed_after(breaker: &CircuitBreaker, clock: &ManualClock, took: Duration) {
    breaker
        .call(|| {
            clock.advance(took);
            Ok::<_, ()>(())
        })
        .expect("admitted and successful");
}

#[test]
fn the_threshold_is_inclusive() {
    let (breaker, clock) = breaker("boundary", 1);
    // One millisecond short of the threshold: a success, the breaker stays closed.
    succeed_after(&breaker, &clock, JUST_UNDER);
    assert_eq!(breaker.state(), State::Closed);
    let m = breaker.metrics().unwrap();
    assert_eq!((m.succeeded, m.failed, m.slow), (1, 0, 0));
    // Exactly the threshold: slow, counted as a failure, and the one failure opens it.
    succeed_after(&breaker, &clock, THRESHOLD);
    assert_eq!(breaker.state(), State::Open);
    let m = breaker.metrics().unwrap();
    assert_eq!((m.succeeded, m.failed, m.slow, m.opened), (1, 1, 1, 1));
}

#[test]
fn three_slow_successes_open_the_breaker_and_the_rejection_says_so() {
    let (breaker, clock) = breaker("x", 3);
    for _ in 0..3 {
        succeed_after(&breaker, &clock, Duration::from_millis(700));
    }
    clock.advance(Duration::from_secs(1));
    let rejected = breaker.try_acquire().unwrap_err();
    assert_eq!(rejected.state(), State::Open);
    assert_eq!((rejected.failures(), rejected.slow()), (3, 3));
    assert_eq!(
        rejected.to_string(),
        r#"circuit "x" is open (3 failures, 3 slow, 29s remaining)"#
    );
    let m = breaker.metrics().unwrap();
    assert_eq!((m.failed, m.slow, m.rejected), (3, 3, 1));
}

#[test]
fn only_the_slow_ones_among_the_counted_failures_are_reported() {
    let (breaker, clock) = breaker("mixed", 3);
    // Two slow successes, then a fast one: the count (and the slow count) starts again.
    succeed_after(&breaker, &clock, THRESHOLD);
    succeed_after(&breaker, &clock, THRESHOLD);
    succeed_after(&breaker, &clock, Duration::ZERO);
    // Now an error, a slow success and another error open it: one of three was slow.
    let _ = breaker.call(|| Err::<(), _>("down"));
    succeed_after(&breaker, &clock, THRESHOLD);
    let _ = breaker.call(|| Err::<(), _>("down"));
    let rejected = breaker.try_acquire().unwrap_err();
    assert_eq!((rejected.failures(), rejected.slow()), (3, 1));
    assert_eq!(
        rejected.to_string(),
        r#"circuit "mixed" is open (3 failures, 1 slow, 30s remaining)"#
    );
    let m = breaker.metrics().unwrap();
    assert_eq!((m.succeeded, m.failed, m.slow), (1, 5, 3));
}

#[test]
fn no_slow_failures_say_nothing_of_slowness() {
    let (breaker, _clock) = breaker("errors", 2);
    for _ in 0..2 {
        let _ = breaker.call(|| Err::<(), _>("down"));
    }
    let rejected = breaker.try_acquire().unwrap_err();
    assert_eq!((rejected.failures(), rejected.slow()), (2, 0));
    assert_eq!(
        rejected.to_string(),
        r#"circuit "errors" is open (2 failures, 30s remaining)"#
    );
    assert!(!format!("{rejected:?}").contains("slow"));
}

#[test]
fn a_reset_forgets_the_slow_failures() {
    let (breaker, clock) = breaker("reset", 3);
    succeed_after(&breaker, &clock, THRESHOLD);
    succeed_after(&breaker, &clock, THRESHOLD);
    breaker.reset(); // closed, its failures forgotten
    for _ in 0..3 {
        let _ = breaker.call(|| Err::<(), _>("down"));
    }
    let rejected = breaker.try_acquire().unwrap_err();
    assert_eq!((rejected.failures(), rejected.slow()), (3, 0));
}

#[test]
fn a_probe_that_closes_the_breaker_clears_the_slow_count() {
    let (breaker, clock) = breaker("recovers", 2);
    succeed_after(&breaker, &clock, THRESHOLD);
    succeed_after(&breaker, &clock, THRESHOLD);
    assert_eq!(breaker.try_acquire().unwrap_err().slow(), 2);
    // The probe still counts as slow while half-open...
    clock.advance(RECOVERY);
    let probe = breaker.try_acquire().expect("the probe");
    let rejected = breaker.try_acquire().unwrap_err();
    assert_eq!(rejected.state(), State::HalfOpen);
    assert_eq!(
        rejected.to_string(),
        r#"circuit "recovers" is half-open (2 failures, 2 slow, probe in flight)"#
    );
    probe.success(); // ...and a quick success closes it: nothing slow is counted any more.
    assert_eq!(breaker.state(), State::Closed);
    for _ in 0..2 {
        let _ = breaker.call(|| Err::<(), _>("down"));
    }
    assert_eq!(breaker.try_acquire().unwrap_err().slow(), 0);
}

#[test]
fn a_breaker_without_slow_detection_reports_no_slow_calls() {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .failure_threshold(1)
        .clock(clock.clone())
        .metrics()
        .build()
        .unwrap();
    succeed_after(&breaker, &clock, Duration::from_secs(3_600));
    let _ = breaker.call(|| Err::<(), _>("down"));
    assert_eq!(breaker.try_acquire().unwrap_err().slow(), 0);
    let m = breaker.metrics().unwrap();
    assert_eq!((m.succeeded, m.failed, m.slow), (1, 1, 0));
}
