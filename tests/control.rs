//! Beyond the originals: manual control, backoff of the open period, slow calls.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_breaker::{
    Backoff, CircuitBreaker, CircuitExt, ConfigError, FailureRate, HalfOpen, ManualClock, State,
    MAX_RECOVERY_TIMEOUT,
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
        clock.advance(Duration::from_millis(u64::from(expected) * 1_000 - 1));
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

#[test]
fn a_failure_rate_over_the_last_calls_opens_the_breaker() {
    let clock = ManualClock::new();
    let b = breaker(&clock)
        .failure_rate(FailureRate::last_calls(10, 4, 50))
        .metrics()
        .build()
        .unwrap();
    // Alternating outcomes never make two failures in a row, but half of the calls fail.
    for ok in [false, true, false] {
        let _ = b.call(|| if ok { Ok(()) } else { Err("x") });
        assert_eq!(
            b.state(),
            State::Closed,
            "fewer than 4 calls: too early to judge"
        );
    }
    let _ = b.call(|| Ok::<_, &str>(()));
    assert_eq!(b.state(), State::Open, "2 of 4 failed: 50%");
    assert_eq!(b.metrics().unwrap().opened, 1);

    // The next closed cycle starts with an empty window.
    clock.advance(SECOND);
    assert!(b.call(|| Ok::<_, &str>(())).is_ok());
    assert_eq!(b.state(), State::Closed);
    let _ = b.call(|| Err::<(), _>("x"));
    assert_eq!(b.state(), State::Closed, "1 call in the new window");
}

#[test]
fn with_a_failure_rate_consecutive_failures_alone_do_not_open() {
    let clock = ManualClock::new();
    let b = breaker(&clock)
        .failure_threshold(2)
        .failure_rate(FailureRate::last_calls(10, 10, 50))
        .build()
        .unwrap();
    for _ in 0..8 {
        let _ = b.call(|| Ok::<_, &str>(()));
    }
    for _ in 0..3 {
        let _ = b.call(|| Err::<(), _>("x"));
    }
    assert_eq!(
        b.failure_count(),
        3,
        "the consecutive count is still reported"
    );
    assert_eq!(
        b.state(),
        State::Closed,
        "3 of the last 10 is 30%, under 50%"
    );
    for _ in 0..2 {
        let _ = b.call(|| Err::<(), _>("x"));
    }
    assert_eq!(b.state(), State::Open, "5 of the last 10");
}

#[test]
fn a_time_window_forgets_old_buckets() {
    let clock = ManualClock::new();
    let b = breaker(&clock)
        .failure_rate(FailureRate::last(SECOND * 10, 10, 4, 75))
        .build()
        .unwrap();
    for _ in 0..3 {
        let _ = b.call(|| Err::<(), _>("x"));
    }
    clock.advance(SECOND * 10);
    let _ = b.call(|| Err::<(), _>("x"));
    assert_eq!(
        b.state(),
        State::Closed,
        "the first three failures left the window"
    );
    for _ in 0..2 {
        let _ = b.call(|| Err::<(), _>("x"));
    }
    let _ = b.call(|| Ok::<_, &str>(()));
    assert_eq!(b.state(), State::Open, "3 of 4 in the last 10 s");
}

#[test]
fn concurrent_failures_under_a_rate_open_exactly_once() {
    for _ in 0..20 {
        let opened = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = Arc::clone(&opened);
        let b = Arc::new(
            CircuitBreaker::builder()
                .failure_rate(FailureRate::last_calls(32, 4, 50))
                .on_transition(move |t| {
                    if t.to() == State::Open {
                        seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                })
                .build()
                .unwrap(),
        );
        let start = Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (b, start) = (Arc::clone(&b), Arc::clone(&start));
                std::thread::spawn(move || {
                    let permit = b.try_acquire().unwrap();
                    start.wait();
                    permit.failure();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(b.state(), State::Open);
        assert_eq!(opened.load(std::sync::atomic::Ordering::Relaxed), 1);
    }
}

#[test]
fn failure_rate_errors_say_what_is_needed() {
    let message = |rate| {
        CircuitBreaker::builder()
            .failure_rate(rate)
            .build()
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        message(FailureRate::last_calls(1_025, 1, 50)),
        "failure_rate needs a window of 1 to 1024 calls, got last 1025 calls, judged from 1, at 50 %"
    );
    assert_eq!(
        message(FailureRate::last_calls(10, 0, 50)),
        "failure_rate needs at least 1 call before it judges (min_calls), got last 10 calls, judged from 0, at 50 %"
    );
    assert_eq!(
        message(FailureRate::last_calls(10, 1, 101)),
        "failure_rate needs a percentage between 1 and 100, got last 10 calls, judged from 1, at 101 %"
    );
    assert_eq!(
        message(FailureRate::last(SECOND, 65, 1, 50)),
        "failure_rate needs 1 to 64 buckets, got last 1s in 65 buckets, judged from 1, at 50 %"
    );
    assert_eq!(
        message(FailureRate::last(Duration::from_millis(5), 10, 1, 50)),
        "failure_rate needs a window that splits into buckets of whole milliseconds, got last 5ms in 10 buckets, judged from 1, at 50 %"
    );
}

#[test]
fn failure_rate_settings_are_checked() {
    for rate in [
        FailureRate::last_calls(0, 1, 50),
        FailureRate::last_calls(1_025, 1, 50),
        FailureRate::last_calls(10, 1, 0),
        FailureRate::last(SECOND, 0, 1, 50),
        FailureRate::last(Duration::from_millis(5), 10, 1, 50),
    ] {
        let err = CircuitBreaker::builder()
            .failure_rate(rate)
            .build()
            .unwrap_err();
        assert!(
            matches!(err, ConfigError::FailureRate { rate: r, .. } if r == rate),
            "{err:?}"
        );
        assert_eq!(err.field(), "failure_rate");
    }
}

fn half_open_with(clock: &ManualClock, half_open: HalfOpen) -> CircuitBreaker {
    let b = breaker(clock).half_open(half_open).build().unwrap();
    let _ = b.call(|| Err::<(), _>("down"));
    clock.advance(SECOND);
    assert_eq!(b.state(), State::HalfOpen);
    b
}

#[test]
fn exactly_n_probes_are_admitted_among_racing_threads() {
    for _ in 0..30 {
        let clock = ManualClock::new();
        let b = Arc::new(half_open_with(&clock, HalfOpen::probes(3)));
        let start = Arc::new(std::sync::Barrier::new(8));
        let admitted: Vec<_> = (0..8)
            .map(|_| {
                let (b, start) = (Arc::clone(&b), Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    b.try_acquire_owned().ok()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .filter_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(admitted.len(), 3);
        assert!(admitted.iter().all(async_breaker::OwnedPermit::is_probe));
    }
}

#[test]
fn several_probes_close_after_enough_successes() {
    let clock = ManualClock::new();
    let b = half_open_with(&clock, HalfOpen::probes(3).closing_after(2));
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    let p3 = b.try_acquire().unwrap();
    let full = b.try_acquire().unwrap_err();
    assert_eq!(full.state(), State::HalfOpen);
    p1.success();
    assert_eq!(b.state(), State::HalfOpen, "one success of two");
    drop(p2);
    let p4 = b.try_acquire().expect("a dropped probe frees its place");
    p3.success();
    assert_eq!((b.state(), b.failure_count()), (State::Closed, 0));
    p4.failure();
    assert_eq!(
        b.state(),
        State::Closed,
        "a probe of a finished round is stale"
    );
}

#[test]
fn one_failed_probe_among_several_reopens() {
    let clock = ManualClock::new();
    let b = half_open_with(&clock, HalfOpen::probes(2));
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    p1.success();
    p2.failure();
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.open_remaining(), SECOND);
    clock.advance(SECOND);
    let q1 = b.try_acquire().unwrap();
    let q2 = b
        .try_acquire()
        .expect("the new round starts with every place free");
    q1.success();
    q2.success();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn a_round_whose_probes_all_vanish_is_replaced_after_the_deadline() {
    let clock = ManualClock::new();
    let b = breaker(&clock)
        .half_open(HalfOpen::probes(2))
        .probe_deadline(SECOND * 5)
        .build()
        .unwrap();
    let _ = b.call(|| Err::<(), _>("down"));
    clock.advance(SECOND);
    std::mem::forget(b.try_acquire().unwrap());
    std::mem::forget(b.try_acquire().unwrap());
    assert!(b.try_acquire().is_err());
    clock.advance(SECOND * 5);
    let fresh = b.try_acquire().expect("a new round");
    let second = b.try_acquire().expect("with both places");
    fresh.success();
    second.success();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn half_open_settings_are_checked() {
    for (probes, successes) in [(0, 0), (3, 0), (3, 4), (2048, 1)] {
        let err = CircuitBreaker::builder()
            .half_open(HalfOpen::probes(probes).closing_after(successes))
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::HalfOpen { probes, successes });
        assert_eq!(err.field(), "half_open");
    }
    assert!(CircuitBreaker::builder()
        .half_open(HalfOpen::probes(2047).closing_after(1))
        .build()
        .is_ok());
}
