//! Beyond the originals: manual control, backoff of the open period, slow calls.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_breaker::{
    Backoff, CircuitBreaker, CircuitExt, ConfigError, ManualClock, State, MAX_RECOVERY_TIMEOUT,
};
use futures::executor::block_on;

const SECOND: Duration = Duration::from_secs(1);

fn breaker(clock: &ManualClock) -> async_breaker::Builder {
    CircuitBreaker::builder()
        .name("control")
        .failure_threshold(1)
        .recovery_timeout(SECOND)
        .clock(clock.clone())
}

#[test]
fn force_open_rejects_until_reset_and_fires_events() {
    let clock = ManualClock::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let b = breaker(&clock)
        .metrics()
        .on_transition(move |t| sink.lock().unwrap().push((t.from(), t.to())))
        .build()
        .unwrap();
    let before = b.try_acquire().unwrap();
    b.force_open();
    assert_eq!(b.state(), State::ForcedOpen);
    clock.advance(SECOND * 3600);
    let rejected = b.try_acquire().unwrap_err();
    assert_eq!(rejected.state(), State::ForcedOpen);
    assert_eq!(
        rejected.to_string(),
        r#"circuit "control" is forced-open (0 failures, until reset)"#
    );
    before.failure();
    assert_eq!(
        b.failure_count(),
        0,
        "an outcome from before the manual change is discarded"
    );
    b.force_open();
    b.reset();
    assert_eq!(b.state(), State::Closed);
    assert!(b.try_acquire().is_ok());
    assert_eq!(
        *log.lock().unwrap(),
        [
            (State::Closed, State::ForcedOpen),
            (State::ForcedOpen, State::Closed)
        ],
        "a repeated force_open changes nothing and fires nothing"
    );
    let m = b.metrics().unwrap();
    assert_eq!((m.manual, m.closed, m.rejected, m.discarded), (1, 1, 1, 1));
}

#[test]
fn disabled_admits_everything_and_records_nothing() {
    let clock = ManualClock::new();
    let b = breaker(&clock).build().unwrap();
    let _ = b.call(|| Err::<(), _>("down"));
    assert_eq!(b.state(), State::Open);
    b.disable();
    for _ in 0..10 {
        assert!(b
            .call(|| Err::<(), _>("still down"))
            .unwrap_err()
            .is_inner());
    }
    assert!(block_on(async { Err::<(), _>("x") }.circuit(&b))
        .unwrap_err()
        .is_inner());
    assert_eq!((b.state(), b.failure_count()), (State::Disabled, 1));
    b.reset();
    assert_eq!((b.state(), b.failure_count()), (State::Closed, 0));
    let _ = b.call(|| Err::<(), _>("down"));
    assert_eq!(b.state(), State::Open, "counting again after reset");
}

#[test]
fn reset_from_half_open_discards_the_probe() {
    let clock = ManualClock::new();
    let b = breaker(&clock).build().unwrap();
    let _ = b.call(|| Err::<(), _>("down"));
    clock.advance(SECOND);
    let probe = b.try_acquire().unwrap();
    b.reset();
    probe.failure();
    assert_eq!(b.state(), State::Closed, "the stale probe cannot re-open");
}

#[test]
fn backoff_doubles_the_open_period_while_probes_fail_and_resets_on_close() {
    let clock = ManualClock::new();
    let b = breaker(&clock)
        .backoff(Backoff::exponential(SECOND * 5))
        .build()
        .unwrap();
    let _ = b.call(|| Err::<(), _>("down"));
    for expected in [1, 2, 4, 5, 5] {
        assert_eq!(b.open_remaining(), SECOND * expected);
        clock.advance(SECOND * expected - Duration::from_millis(1));
        assert_eq!(b.state(), State::Open);
        clock.advance(Duration::from_millis(1));
        let _ = b.call(|| Err::<(), _>("probe fails"));
    }
    clock.advance(SECOND * 5);
    assert!(b.call(|| Ok::<_, ()>(())).is_ok());
    assert_eq!(b.state(), State::Closed);
    let _ = b.call(|| Err::<(), _>("down again"));
    assert_eq!(b.open_remaining(), SECOND, "back to the base period");
}

#[test]
fn jittered_backoff_stays_within_half_and_all_of_the_period() {
    for start in 0..50 {
        let clock = ManualClock::new();
        clock.advance(Duration::from_millis(start * 37));
        let b = breaker(&clock)
            .backoff(Backoff::exponential(SECOND * 8).with_jitter())
            .build()
            .unwrap();
        let _ = b.call(|| Err::<(), _>("down"));
        let remaining = b.open_remaining();
        assert!(
            remaining >= SECOND / 2 && remaining <= SECOND,
            "{remaining:?}"
        );
    }
}

#[test]
fn backoff_settings_are_checked() {
    let err = CircuitBreaker::builder()
        .recovery_timeout(SECOND * 10)
        .backoff(Backoff::exponential(SECOND))
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "backoff");
    assert!(matches!(err, ConfigError::Backoff { .. }));
    let err = CircuitBreaker::builder()
        .backoff(Backoff::exponential(Duration::MAX))
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "backoff");
    assert!(CircuitBreaker::builder()
        .backoff(Backoff::exponential(MAX_RECOVERY_TIMEOUT))
        .build()
        .is_ok());
}

#[test]
fn a_slow_success_counts_as_a_failure() {
    let clock = ManualClock::new();
    let b = breaker(&clock)
        .failure_threshold(2)
        .slow_call_threshold(Duration::from_millis(500))
        .build()
        .unwrap();
    let fast = b.call(|| {
        clock.advance(Duration::from_millis(499));
        Ok::<_, ()>("fast")
    });
    assert_eq!(fast, Ok("fast"));
    assert_eq!(b.failure_count(), 0);

    let slow = b.call(|| {
        clock.advance(Duration::from_millis(500));
        Ok::<_, ()>("slow")
    });
    assert_eq!(slow, Ok("slow"), "the caller still gets its value");
    assert_eq!(b.failure_count(), 1);

    let permit = b.try_acquire().unwrap();
    clock.advance(SECOND);
    permit.success();
    assert_eq!(b.state(), State::Open, "slow through the permit API too");
}

#[test]
fn slow_call_threshold_is_checked() {
    let err = CircuitBreaker::builder()
        .slow_call_threshold(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "slow_call_threshold");
}
