//! Each place where SEED-SEMANTICS.md says "fix": what the Python originals get wrong and this
//! crate does instead.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll};
use std::time::Duration;

use async_breaker::{
    CircuitBreaker, CircuitExt, Classify, Config, ConfigError, Error, ManualClock, Outcome, State,
};
use futures::executor::block_on;
use futures::task::noop_waker_ref;

const TIMEOUT: Duration = Duration::from_secs(10);
const BAD_PRESET: Config = Config::new().failure_threshold(0);

fn breaker(threshold: u32, clock: &ManualClock) -> CircuitBreaker {
    CircuitBreaker::builder()
        .name("dependency")
        .failure_threshold(threshold)
        .recovery_timeout(TIMEOUT)
        .clock(clock.clone())
        .build()
        .unwrap()
}

/// A breaker that has opened and whose recovery timeout has just elapsed.
fn half_open(clock: &ManualClock) -> CircuitBreaker {
    let b = breaker(1, clock);
    let _ = b.call(|| Err::<(), _>("down"));
    clock.advance(TIMEOUT);
    assert_eq!(b.state(), State::HalfOpen);
    b
}

fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(noop_waker_ref()))
}

#[test]
fn exactly_one_probe_is_admitted_among_racing_threads() {
    for _round in 0..50 {
        let clock = ManualClock::new();
        let b = Arc::new(half_open(&clock));
        let threads = 8;
        let start = Arc::new(Barrier::new(threads));
        let admitted: Vec<_> = (0..threads)
            .map(|_| {
                let (b, start) = (Arc::clone(&b), Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    // Hold the permit until every thread has tried.
                    b.try_acquire_owned().ok()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .filter_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(admitted.len(), 1, "exactly one probe");
        assert!(admitted[0].is_probe());
    }
}

#[test]
fn other_callers_are_rejected_while_the_probe_runs_and_the_probe_decides() {
    let clock = ManualClock::new();
    let b = half_open(&clock);
    let probe = b.try_acquire().unwrap();
    assert!(probe.is_probe());
    let rejected = b.try_acquire().unwrap_err();
    assert_eq!(rejected.state(), State::HalfOpen);
    assert_eq!(rejected.remaining(), Duration::ZERO);
    assert_eq!(
        rejected.to_string(),
        r#"circuit "dependency" is half-open (1 failure, probe in flight)"#
    );
    probe.success();
    assert_eq!((b.state(), b.failure_count()), (State::Closed, 0));
    assert!(!b.try_acquire().unwrap().is_probe());
}

#[test]
fn a_dropped_probe_permit_frees_the_slot_and_records_nothing() {
    let clock = ManualClock::new();
    let b = half_open(&clock);
    drop(b.try_acquire().unwrap());
    assert_eq!((b.state(), b.failure_count()), (State::HalfOpen, 1));
    let next = b.try_acquire().expect("the next caller probes");
    assert!(next.is_probe());
}

#[test]
fn a_probe_future_dropped_mid_flight_frees_the_slot() {
    let clock = ManualClock::new();
    let b = half_open(&clock);
    let mut probe = Box::pin(std::future::pending::<Result<(), ()>>().circuit(&b));
    assert!(poll_once(&mut probe).is_pending());
    assert!(b.try_acquire().is_err(), "the pending probe holds the slot");
    drop(probe);
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(block_on(async { Ok::<_, ()>(1) }.circuit(&b)), Ok(1));
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn a_closed_state_future_dropped_mid_flight_records_nothing() {
    let clock = ManualClock::new();
    let b = breaker(1, &clock);
    let mut call = Box::pin(std::future::pending::<Result<(), ()>>().with_breaker(&b));
    assert!(poll_once(&mut call).is_pending());
    drop(call);
    assert_eq!((b.state(), b.failure_count()), (State::Closed, 0));
}

#[test]
fn a_forgotten_probe_is_replaced_after_the_probe_deadline() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .failure_threshold(1)
        .recovery_timeout(TIMEOUT)
        .probe_deadline(Duration::from_secs(3))
        .clock(clock.clone())
        .build()
        .unwrap();
    let _ = b.call(|| Err::<(), _>("down"));
    clock.advance(TIMEOUT);
    std::mem::forget(b.try_acquire().unwrap());
    clock.advance(Duration::from_millis(2_999));
    assert!(
        b.try_acquire().is_err(),
        "within its deadline the probe holds the slot"
    );
    clock.advance(Duration::from_millis(1));
    let replacement = b.try_acquire().expect("the lost probe is replaced");
    assert!(replacement.is_probe());
    replacement.success();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn a_replaced_probe_reporting_late_is_discarded() {
    let clock = ManualClock::new();
    let b = half_open(&clock);
    let slow = b.try_acquire().unwrap();
    clock.advance(TIMEOUT); // the default probe deadline is the recovery timeout
    let fresh = b.try_acquire().unwrap();
    slow.failure();
    assert_eq!(
        b.state(),
        State::HalfOpen,
        "the late failure must not re-open"
    );
    fresh.success();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn a_panicking_probe_counts_as_a_failure() {
    let clock = ManualClock::new();
    let b = half_open(&clock);
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        b.call(|| -> Result<(), ()> { panic!("probe blew up") })
    }));
    assert!(panicked.is_err());
    assert_eq!((b.state(), b.failure_count()), (State::Open, 2));
    assert_eq!(b.open_remaining(), TIMEOUT, "re-opened with a fresh timer");

    clock.advance(TIMEOUT);
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        block_on(async { panic!("async probe blew up") as Result<(), ()> }.circuit(&b))
    }));
    assert!(panicked.is_err());
    assert_eq!((b.state(), b.failure_count()), (State::Open, 3));
}

#[test]
fn a_panic_in_a_closed_state_call_counts_as_a_failure() {
    let clock = ManualClock::new();
    let b = breaker(2, &clock);
    let _ = catch_unwind(AssertUnwindSafe(|| {
        b.call(|| -> Result<(), ()> { panic!("boom") })
    }));
    assert_eq!((b.state(), b.failure_count()), (State::Closed, 1));
}

#[test]
fn an_outcome_from_an_earlier_cycle_is_discarded() {
    let clock = ManualClock::new();
    let b = breaker(2, &clock);
    let old = b.try_acquire().unwrap(); // admitted in the first closed cycle

    b.try_acquire().unwrap().failure();
    b.try_acquire().unwrap().failure();
    assert_eq!(b.state(), State::Open);
    clock.advance(TIMEOUT);
    b.try_acquire().unwrap().success();
    assert_eq!((b.state(), b.failure_count()), (State::Closed, 0));

    old.failure();
    assert_eq!(
        b.failure_count(),
        0,
        "a slow old failure must not count now"
    );
}

#[test]
fn a_stale_success_cannot_close_an_open_breaker() {
    let clock = ManualClock::new();
    let b = breaker(1, &clock);
    let old = b.try_acquire().unwrap();
    b.try_acquire().unwrap().failure();
    assert_eq!(b.state(), State::Open);
    old.success();
    assert_eq!(b.state(), State::Open);
}

#[test]
fn a_fresh_breaker_has_no_open_time_remaining() {
    let b = CircuitBreaker::new();
    assert_eq!(b.open_remaining(), Duration::ZERO);
}

#[test]
fn every_entry_point_checks_admission() {
    let clock = ManualClock::new();
    let b = Arc::new(breaker(1, &clock));
    let _ = b.call(|| Err::<(), _>("down"));
    assert!(b.try_acquire().is_err());
    assert!(b.try_acquire_owned().is_err());
    assert!(b.call(|| Ok::<_, ()>(())).unwrap_err().is_open());
    assert!(block_on(async { Ok::<_, ()>(()) }.circuit(&b))
        .unwrap_err()
        .is_open());
    assert!(block_on(async { Ok::<_, ()>(()) }.circuit(Arc::clone(&b)))
        .unwrap_err()
        .is_open());
}

#[test]
fn invalid_configuration_is_a_typed_error_naming_the_field() {
    let threshold = CircuitBreaker::builder()
        .failure_threshold(0)
        .build()
        .unwrap_err();
    assert_eq!(
        threshold,
        ConfigError::FailureThreshold {
            value: 0,
            max: 65_535
        }
    );
    assert_eq!(threshold.field(), "failure_threshold");
    assert_eq!(
        threshold.to_string(),
        "failure_threshold must be between 1 and 65535, got 0"
    );

    let too_big = CircuitBreaker::builder()
        .failure_threshold(65_536)
        .build()
        .unwrap_err();
    assert_eq!(too_big.field(), "failure_threshold");

    let timeout = CircuitBreaker::builder()
        .recovery_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(timeout.field(), "recovery_timeout");
    let huge = CircuitBreaker::builder()
        .recovery_timeout(Duration::MAX)
        .build()
        .unwrap_err();
    assert_eq!(huge.field(), "recovery_timeout");

    let deadline = CircuitBreaker::builder()
        .probe_deadline(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(deadline.field(), "probe_deadline");

    assert!(
        BAD_PRESET.build().is_err(),
        "a const preset is checked when built, never at compile time"
    );
}

#[test]
fn presets_are_consts_shared_by_many_breakers() {
    const PAYMENTS: Config = Config::new()
        .failure_threshold(10)
        .recovery_timeout(Duration::from_secs(60));
    let a = PAYMENTS.builder().name("a").build().unwrap();
    let b = PAYMENTS.builder().name(String::from("b")).build().unwrap();
    assert_eq!(
        (a.failure_threshold(), a.recovery_timeout()),
        (10, Duration::from_secs(60))
    );
    assert_eq!((b.name(), b.failure_threshold()), ("b", 10));
}

#[test]
fn predicate_classification() {
    let b = CircuitBreaker::builder()
        .failure_threshold(2)
        .failure_if(|e: &std::io::Error| e.kind() == std::io::ErrorKind::TimedOut)
        .build()
        .unwrap();
    let timeout = || Err::<(), _>(std::io::Error::from(std::io::ErrorKind::TimedOut));
    let not_found = || Err::<(), _>(std::io::Error::from(std::io::ErrorKind::NotFound));
    let _ = b.call(timeout);
    assert_eq!(b.failure_count(), 1);
    let _ = b.call(not_found);
    assert_eq!(
        b.failure_count(),
        0,
        "a non-matching error resets the count"
    );
    let _ = b.call(timeout);
    let _ = b.call(timeout);
    assert!(b.is_open());
}

#[test]
fn several_error_types_and_a_const_type_preset() {
    use async_breaker::{ErrorType, ErrorTypes};
    const NET: Config<ErrorTypes> = Config::new().failure_threshold(1).failure_on_types(&[
        ErrorType::of::<std::io::Error>(),
        ErrorType::of::<std::fmt::Error>(),
    ]);
    let b = NET.build().unwrap();
    let _ = b.call(|| Err::<(), _>(std::fmt::Error));
    assert!(b.is_open());

    let built = CircuitBreaker::builder()
        .failure_threshold(1)
        .failure_on::<std::num::ParseIntError>()
        .failure_on::<std::fmt::Error>()
        .build()
        .unwrap();
    let _ = built.call(|| Err::<(), _>(std::io::Error::other("unrelated")));
    assert!(built.is_closed());
    let _ = built.call(|| "x".parse::<u8>());
    assert!(built.is_open());
}

/// A classifier with all three outcomes: 5xx fails, 4xx says nothing, anything else succeeds.
struct Status;
impl Classify<u16> for Status {
    fn classify(&self, status: &u16) -> Outcome {
        match status {
            500..=599 => Outcome::Failure,
            400..=499 => Outcome::Ignore,
            _ => Outcome::Success,
        }
    }
}

#[test]
fn a_custom_classifier_can_ignore_errors() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .failure_threshold(1)
        .recovery_timeout(TIMEOUT)
        .clock(clock.clone())
        .classify_with(Status)
        .build()
        .unwrap();
    let _ = b.call(|| Err::<(), u16>(404));
    assert_eq!((b.state(), b.failure_count()), (State::Closed, 0));
    let _ = b.call(|| Err::<(), u16>(503));
    assert!(b.is_open());

    clock.advance(TIMEOUT);
    let err = block_on(async { Err::<(), u16>(429) }.circuit(&b)).unwrap_err();
    assert_eq!(err, Error::Inner(429));
    assert_eq!(
        b.state(),
        State::HalfOpen,
        "an ignored probe frees the slot"
    );
    assert!(b.try_acquire().unwrap().is_probe());
}

#[test]
fn any_error_type_works_by_default() {
    let b = CircuitBreaker::builder()
        .failure_threshold(3)
        .build()
        .unwrap();
    let _ = b.call(|| Err::<(), _>(()));
    let _ = b.call(|| Err::<(), _>(String::from("owned")));
    let _ = block_on(async { Err::<(), _>(42_u8) }.circuit(&b));
    assert!(b.is_open());
}

#[test]
fn owned_futures_are_static_and_run_on_other_threads() {
    let b = Arc::new(CircuitBreaker::new());
    let fut = async { Ok::<_, ()>(5) }.circuit(Arc::clone(&b));
    let handle = std::thread::spawn(move || block_on(fut));
    assert_eq!(handle.join().unwrap(), Ok(5));

    let permit = b.try_acquire_owned().unwrap();
    std::thread::spawn(move || permit.failure()).join().unwrap();
    assert_eq!(b.failure_count(), 1);
}

#[test]
fn the_breaker_is_send_sync_debug_and_one_cache_block() {
    fn assert_traits<T: Send + Sync + std::fmt::Debug + 'static>() {}
    assert_traits::<CircuitBreaker>();
    assert_traits::<async_breaker::OpenError>();
    assert_eq!(std::mem::size_of::<CircuitBreaker>(), 128);
    let debug = format!("{:?}", CircuitBreaker::builder().name("x").build().unwrap());
    assert!(
        debug.contains(r#"name: "x""#) && debug.contains("state: Closed"),
        "{debug}"
    );
}

#[test]
fn rejections_carry_the_originals_facts() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .name("payments")
        .recovery_timeout(Duration::from_secs(30))
        .clock(clock.clone())
        .build()
        .unwrap();
    for _ in 0..5 {
        let _ = b.call(|| Err::<(), _>("down"));
    }
    clock.advance(Duration::from_millis(500));
    let err = b.call(|| Ok::<_, &str>(())).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"circuit "payments" is open (5 failures, 30s remaining)"#
    );
    let open = err.open_error().unwrap();
    assert_eq!((&*open.name(), open.failures()), ("payments", 5));
    assert_eq!(open.remaining(), Duration::from_millis(29_500));

    clock.advance(Duration::from_millis(29_250));
    let err = b.try_acquire().unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"circuit "payments" is open (5 failures, 250ms remaining)"#
    );
}
