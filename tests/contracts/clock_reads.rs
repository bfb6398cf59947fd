//! The closed state's success path reads no clock, whatever the breaker watches, unless it
//! times calls (slow-call detection).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_breaker::{Builder, CircuitBreaker, Clock, FailureRate, ManualClock};

/// A manual clock that counts how often it is read.
#[derive(Clone, Default)]
struct Counted {
    clock: ManualClock,
    reads: Arc<AtomicUsize>,
}

impl Clock for Counted {
    fn now(&self) -> Duration {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.clock.now()
    }
}

/// How many clock reads ten closed-state successes (after the breaker is built) cost.
fn reads_of_ten_successes(builder: Builder) -> usize {
    let clock = Counted::default();
    let breaker = builder.clock(clock.clone()).build().unwrap();
    let before = clock.reads.load(Ordering::Relaxed);
    for _ in 0..10 {
        breaker.call(|| Ok::<_, &str>(())).unwrap();
        breaker.try_acquire().unwrap().success();
    }
    clock.reads.load(Ordering::Relaxed) - before
}

#[test]
fn a_closed_success_reads_no_clock_unless_calls_are_timed() {
    let watched: [(&str, Builder); 4] = [
        ("plain", CircuitBreaker::builder()),
        ("listener", CircuitBreaker::builder().on_transition(|_| {})),
        ("metrics", CircuitBreaker::builder().metrics()),
        (
            "failure rate over calls",
            CircuitBreaker::builder().failure_rate(FailureRate::last_calls(10, 5, 50)),
        ),
    ];
    for (what, builder) in watched {
        assert_eq!(reads_of_ten_successes(builder), 0, "{what}");
    }

    // Timing a call needs the clock at its start and its end: the count above is not blind.
    let timed: [(&str, Builder); 2] = [
        (
            "slow-call threshold",
            CircuitBreaker::builder().slow_call_threshold(Duration::from_secs(1)),
        ),
        (
            "slow-call rate",
            CircuitBreaker::builder()
                .failure_rate(FailureRate::last_calls(10, 5, 50))
                .slow_call_rate(Duration::from_secs(1), 50),
        ),
    ];
    for (what, builder) in timed {
        assert!(reads_of_ten_successes(builder) >= 20, "{what}");
    }
}
