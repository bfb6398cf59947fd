//! Documented promises of the public API that no other test held the code to, found by mutation
//! testing (`.ci/mutants.sh`): one contract per test, named for it.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_breaker::{CircuitBreaker, CircuitExt, ManualClock};
use futures::future::{pending, FusedFuture};
use futures::task::noop_waker_ref;

const SECOND: Duration = Duration::from_secs(1);

/// A breaker of threshold 1 on a manual clock, opened by one failure.
fn opened(clock: &ManualClock) -> CircuitBreaker {
    let breaker = CircuitBreaker::builder()
        .failure_threshold(1)
        .recovery_timeout(SECOND)
        .clock(clock.clone())
        .build()
        .unwrap();
    breaker.try_acquire().unwrap().failure();
    breaker
}

/// `FusedFuture`: a `select!` loop skips a circuit once, and only once, it has resolved, whether
/// the inner future finished or the breaker turned the call away.
#[test]
fn a_circuit_is_terminated_exactly_when_it_has_resolved() {
    let mut cx = Context::from_waker(noop_waker_ref());
    let breaker = CircuitBreaker::new();

    let mut running = pin!(pending::<Result<(), io::Error>>().circuit(&breaker));
    assert!(!running.is_terminated(), "unpolled");
    assert!(running.as_mut().poll(&mut cx).is_pending());
    assert!(!running.is_terminated(), "admitted and running");

    let mut done = pin!(async { Ok::<_, io::Error>(7) }.circuit(&breaker));
    assert!(matches!(done.as_mut().poll(&mut cx), Poll::Ready(Ok(7))));
    assert!(done.is_terminated(), "resolved");

    let clock = ManualClock::new();
    let open = opened(&clock);
    let mut rejected = pin!(async { Ok::<_, io::Error>(7) }.circuit(&open));
    assert!(matches!(
        rejected.as_mut().poll(&mut cx),
        Poll::Ready(Err(async_breaker::Error::Open(_)))
    ));
    assert!(rejected.is_terminated(), "rejected");
}

/// A circuit's debug output names the stage it is in: not yet admitted, running as a plain call
/// or as the half-open probe, or resolved.
#[test]
fn a_circuit_debug_output_names_its_stage() {
    let mut cx = Context::from_waker(noop_waker_ref());
    let clock = ManualClock::new();
    let breaker = opened(&clock);
    clock.advance(SECOND);

    let mut probe = pin!(pending::<Result<(), io::Error>>().circuit(&breaker));
    assert!(
        format!("{probe:?}").contains(r#"stage: "unpolled""#),
        "{probe:?}"
    );
    assert!(probe.as_mut().poll(&mut cx).is_pending());
    assert!(
        format!("{probe:?}").contains(r#"stage: "probing""#),
        "{probe:?}"
    );

    let closed = CircuitBreaker::new();
    let mut call = pin!(pending::<Result<(), io::Error>>().circuit(&closed));
    assert!(call.as_mut().poll(&mut cx).is_pending());
    assert!(
        format!("{call:?}").contains(r#"stage: "running""#),
        "{call:?}"
    );

    let mut done = pin!(async { Ok::<_, io::Error>(()) }.circuit(&closed));
    assert!(done.as_mut().poll(&mut cx).is_ready());
    assert!(format!("{done:?}").contains(r#"stage: "done""#), "{done:?}");
}

/// A guarded future with a fallback can be debug-printed (for logs of the futures a task holds).
#[test]
fn a_fallback_future_debug_output_names_its_type() {
    let breaker = CircuitBreaker::new();
    let guarded = async { Ok::<u32, io::Error>(1) }
        .circuit(&breaker)
        .fallback_value(0);
    assert!(
        format!("{guarded:?}").starts_with("Fallback"),
        "{guarded:?}"
    );
}
