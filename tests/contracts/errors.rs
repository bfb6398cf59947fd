//! `OpenError` and `Error`: their accessors, equality, debug output and error chain.

use std::error::Error as _;
use std::fmt;
use std::time::Duration;

use async_breaker::{CircuitBreaker, Error, ManualClock, OpenError, State};

/// The rejection of a breaker named `name`, open after `failures` failures, asked `waited` after
/// it opened with a 30 s recovery timeout.
fn rejection(name: &'static str, failures: u32, waited: Duration) -> OpenError {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .name(name)
        .failure_threshold(failures)
        .recovery_timeout(Duration::from_secs(30))
        .clock(clock.clone())
        .build()
        .unwrap();
    for _ in 0..failures {
        breaker.try_acquire().unwrap().failure();
    }
    clock.advance(waited);
    breaker.try_acquire().unwrap_err()
}

#[derive(Debug)]
struct Cause;

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection refused")
    }
}

impl std::error::Error for Cause {}

#[derive(Debug)]
struct Failed(Cause);

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("fetch failed")
    }
}

impl std::error::Error for Failed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// A rejection's debug output shows every fact it carries, the name quoted.
#[test]
fn a_rejection_debug_output_shows_its_facts() {
    let rejected = rejection("payments", 2, Duration::from_secs(1));
    assert_eq!(
        format!("{rejected:?}"),
        r#"OpenError { name: "payments", state: Open, failures: 2, remaining: 29s }"#
    );
}

/// Two rejections are equal when every fact is: the name, the state, the failure count and the
/// time remaining. Any one differing makes them unequal.
#[test]
fn rejections_are_equal_exactly_when_all_their_facts_are() {
    let one = rejection("payments", 2, Duration::from_secs(1));
    assert_eq!(one, rejection("payments", 2, Duration::from_secs(1)));
    assert_ne!(one, rejection("billing", 2, Duration::from_secs(1)), "name");
    assert_ne!(
        one,
        rejection("payments", 3, Duration::from_secs(1)),
        "failures"
    );
    assert_ne!(
        one,
        rejection("payments", 2, Duration::from_secs(2)),
        "remaining"
    );

    // The state: a breaker forced open and one with its probe in flight, both after one
    // failure and with no time remaining.
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .name("payments")
        .failure_threshold(1)
        .recovery_timeout(Duration::from_secs(1))
        .clock(clock.clone())
        .build()
        .unwrap();
    breaker.try_acquire().unwrap().failure();
    clock.advance(Duration::from_secs(1));
    let _probe = breaker.try_acquire().unwrap();
    let in_flight = breaker.try_acquire().unwrap_err();
    breaker.force_open();
    let forced = breaker.try_acquire().unwrap_err();
    assert_eq!(
        (
            in_flight.state(),
            in_flight.failures(),
            in_flight.remaining()
        ),
        (State::HalfOpen, 1, Duration::ZERO)
    );
    assert_eq!(
        (forced.state(), forced.failures(), forced.remaining()),
        (State::ForcedOpen, 1, Duration::ZERO)
    );
    assert_ne!(in_flight, forced, "state");
}

/// `is_open` and `is_inner` tell the two variants apart: exactly one holds.
#[test]
fn an_error_is_either_open_or_inner() {
    let open: Error<Cause> = Error::Open(rejection("payments", 1, Duration::ZERO));
    assert!(open.is_open());
    assert!(!open.is_inner());
    assert!(open.open_error().is_some());
    assert!(open.inner().is_none());

    let inner = Error::Inner(Cause);
    assert!(inner.is_inner());
    assert!(!inner.is_open());
    assert!(inner.open_error().is_none());
    assert!(inner.inner().is_some());
}

/// An error's debug output names the variant around the rejection or the call's own error.
#[test]
fn an_error_debug_output_names_its_variant() {
    let rejected = rejection("payments", 1, Duration::ZERO);
    let open: Error<Cause> = Error::Open(rejected);
    assert_eq!(format!("{open:?}"), format!("Open({rejected:?})"));
    assert_eq!(format!("{:?}", Error::Inner(Cause)), "Inner(Cause)");
}

/// The chain: a rejection has no source; the call's own error is transparent, its source is
/// the inner error's source.
#[test]
fn an_error_chain_skips_the_wrapper() {
    let open: Error<Failed> = Error::Open(rejection("payments", 1, Duration::ZERO));
    assert!(open.source().is_none());
    let inner = Error::Inner(Failed(Cause));
    assert_eq!(inner.to_string(), "fetch failed");
    assert_eq!(inner.source().unwrap().to_string(), "connection refused");
}
