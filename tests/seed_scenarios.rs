//! The Python originals' own test scenarios (SEED-SEMANTICS.md), driven by a `ManualClock`
//! instead of sleeps, through both the future combinator and the sync API.

use std::cell::Cell;
use std::time::Duration;

use async_breaker::{CircuitBreaker, CircuitExt, Error, ManualClock, State};
use futures::executor::block_on;

fn breaker(threshold: u32, timeout: Duration, clock: &ManualClock) -> CircuitBreaker {
    CircuitBreaker::builder()
        .failure_threshold(threshold)
        .recovery_timeout(timeout)
        .clock(clock.clone())
        .build()
        .expect("valid configuration")
}

/// Runs one guarded async call that succeeds or fails as told, counting whether it ran.
fn attempt(
    b: &CircuitBreaker,
    ok: bool,
    ran: &Cell<u32>,
) -> Result<&'static str, Error<&'static str>> {
    block_on(
        async {
            ran.set(ran.get() + 1);
            if ok {
                Ok("ok")
            } else {
                Err("connection refused")
            }
        }
        .circuit(b),
    )
}

#[test]
fn pass_through_returns_the_guarded_value_unchanged() {
    let b = CircuitBreaker::new();
    assert_eq!(
        block_on(async { Ok::<_, ()>(vec![1, 2, 3]) }.circuit(&b)),
        Ok(vec![1, 2, 3])
    );
    assert_eq!(b.call(|| Ok::<_, ()>("sync")), Ok("sync"));
    let err = block_on(async { Err::<(), _>("inner") }.circuit(&b)).unwrap_err();
    assert_eq!(err.into_inner(), Some("inner"));
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn default_breaker_has_the_originals_defaults() {
    let b = CircuitBreaker::default();
    assert_eq!(b.failure_threshold(), 5);
    assert_eq!(b.recovery_timeout(), Duration::from_secs(30));
    assert_eq!(b.name(), "unnamed");
    for n in 1..=4 {
        let _ = b.call(|| Err::<(), _>("x"));
        assert_eq!((b.state(), b.failure_count()), (State::Closed, n));
    }
    let _ = b.call(|| Err::<(), _>("x"));
    assert_eq!(b.state(), State::Open);
}

#[test]
fn threshold_one_opens_on_the_first_failure_and_skips_the_work() {
    let clock = ManualClock::new();
    let b = breaker(1, Duration::from_secs(30), &clock);
    let ran = Cell::new(0);
    assert_eq!(
        attempt(&b, false, &ran),
        Err(Error::Inner("connection refused"))
    );
    assert_eq!(b.state(), State::Open);

    let rejected = attempt(&b, true, &ran).unwrap_err();
    assert!(rejected.is_open());
    assert_eq!(ran.get(), 1, "the guarded work must not run while open");

    let mut sync_ran = false;
    let sync = b.call(|| {
        sync_ran = true;
        Ok::<_, ()>(())
    });
    assert!(sync.unwrap_err().is_open());
    assert!(!sync_ran);
}

#[test]
fn threshold_three_counts_opens_rejects_probes_and_reopens() {
    let clock = ManualClock::new();
    let b = breaker(3, Duration::from_secs(1), &clock);
    let ran = Cell::new(0);

    assert_eq!(attempt(&b, true, &ran), Ok("ok"));
    assert_eq!(b.failure_count(), 0);

    for expected in 1..=2 {
        assert!(attempt(&b, false, &ran).unwrap_err().is_inner());
        assert_eq!((b.state(), b.failure_count()), (State::Closed, expected));
    }
    assert!(attempt(&b, false, &ran).unwrap_err().is_inner());
    assert_eq!((b.state(), b.failure_count()), (State::Open, 3));
    let remaining = b.open_remaining();
    assert!(
        remaining > Duration::ZERO && remaining <= Duration::from_secs(1),
        "{remaining:?}"
    );

    for _ in 0..2 {
        let open = attempt(&b, true, &ran).unwrap_err();
        let open = open.open_error().expect("rejected");
        assert_eq!(open.failures(), 3);
        assert_eq!(open.state(), State::Open);
    }
    assert_eq!(b.failure_count(), 3, "rejections do not count");
    assert_eq!(ran.get(), 4);

    clock.advance(Duration::from_secs(1));
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(b.open_remaining(), Duration::ZERO);

    // The probe fails: open again, with a fresh one-second timer.
    assert!(attempt(&b, false, &ran).unwrap_err().is_inner());
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.open_remaining(), Duration::from_secs(1));
    assert!(attempt(&b, true, &ran).unwrap_err().is_open());
    assert_eq!(ran.get(), 5);

    clock.advance(Duration::from_millis(999));
    assert_eq!(b.state(), State::Open);
    clock.advance(Duration::from_millis(1));
    assert_eq!(b.state(), State::HalfOpen);
}

#[test]
fn threshold_two_recovers_after_a_successful_probe() {
    let clock = ManualClock::new();
    let b = breaker(2, Duration::from_secs(1), &clock);
    let ran = Cell::new(0);

    assert!(attempt(&b, false, &ran).is_err());
    assert!(attempt(&b, false, &ran).is_err());
    assert_eq!(b.state(), State::Open);

    // The dependency is healthy again, but the breaker is still open.
    assert!(attempt(&b, true, &ran).unwrap_err().is_open());
    assert_eq!(ran.get(), 2);

    clock.advance(Duration::from_secs(1));
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(attempt(&b, true, &ran), Ok("ok"));
    assert_eq!((b.state(), b.failure_count()), (State::Closed, 0));

    for _ in 0..3 {
        assert_eq!(attempt(&b, true, &ran), Ok("ok"));
        assert_eq!(b.state(), State::Closed);
    }
    assert_eq!(ran.get(), 6);
}

#[test]
fn fallback_runs_instead_of_the_work_when_open_and_its_value_is_returned() {
    let clock = ManualClock::new();
    let b = breaker(1, Duration::from_secs(30), &clock);
    let _ = b.call(|| Err::<u32, _>("down"));
    assert!(b.is_open());

    let ran = Cell::new(false);
    let seen = Cell::new(None);
    let value = block_on(
        async {
            ran.set(true);
            Ok::<u32, &str>(1)
        }
        .circuit(&b)
        .fallback(|rejected| {
            seen.set(Some(rejected.failures()));
            async { Ok(42) }
        }),
    );
    assert_eq!(value, Ok(42));
    assert!(!ran.get());
    assert_eq!(seen.get(), Some(1));

    assert_eq!(
        block_on(async { Ok::<u32, &str>(1) }.circuit(&b).fallback_value(7)),
        Ok(7)
    );
    assert_eq!(b.call_or_else(|| Ok::<u32, &str>(1), |_| Ok(9)), Ok(9));
}

#[test]
fn fallback_is_not_called_while_the_breaker_admits() {
    let b = CircuitBreaker::new();
    let called = Cell::new(false);
    let value = block_on(async { Err::<u32, _>("inner") }.circuit(&b).fallback(|_| {
        called.set(true);
        async { Ok(0) }
    }));
    assert_eq!(value, Err("inner"), "the call's own error passes through");
    assert!(!called.get());
}

#[derive(Debug)]
struct ConnectionError;
impl std::fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection error")
    }
}
impl std::error::Error for ConnectionError {}

#[derive(Debug)]
enum AppError {
    Connection(ConnectionError),
    Validation,
}
impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("app error")
    }
}
impl std::error::Error for AppError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AppError::Connection(e) => Some(e),
            AppError::Validation => None,
        }
    }
}

#[test]
fn classification_counts_matching_errors_and_resets_on_others() {
    let b = CircuitBreaker::builder()
        .failure_threshold(3)
        .failure_on::<ConnectionError>()
        .build()
        .unwrap();
    let fail = |e: AppError| block_on(async move { Err::<(), _>(e) }.circuit(&b));

    let _ = fail(AppError::Connection(ConnectionError));
    let _ = fail(AppError::Connection(ConnectionError));
    assert_eq!(b.failure_count(), 2, "found through the source() chain");

    let err = fail(AppError::Validation).unwrap_err();
    assert!(
        matches!(err.into_inner(), Some(AppError::Validation)),
        "the error is still returned"
    );
    assert_eq!(
        b.failure_count(),
        0,
        "a non-matching error counts as a success"
    );
    assert!(b.is_closed());
}
