//! Documented promises of the public API that no other test held the code to, found by mutation
//! testing (`.ci/mutants.sh`): one contract per test, named for it. One test binary, so a
//! mutant relinks it once; a module per part of the API.

mod clock_reads;
mod config;
mod errors;
mod permits;
mod registry;
mod states;

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_breaker::{
    CircuitBreaker, CircuitExt, Clock, ErrorType, ErrorTypes, ManualClock, QuantaClock, State,
};
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

/// An error type's debug output is the type's name, as `ErrorTypes` lists show it.
#[test]
fn an_error_type_debug_output_is_the_type_name() {
    assert_eq!(
        format!("{:?}", ErrorType::of::<io::Error>()),
        std::any::type_name::<io::Error>()
    );
}

/// The default clock measures time elapsed since its origin, in its `Clock` reading and in its
/// debug output.
#[test]
fn the_default_clock_counts_the_time_since_its_origin() {
    let clock = QuantaClock::new();
    std::thread::sleep(Duration::from_millis(3));
    assert!(clock.now() >= Duration::from_millis(3), "{:?}", clock.now());
    assert!(
        format!("{clock:?}").starts_with("QuantaClock { now: "),
        "{clock:?}"
    );
}

/// A breaker on the default clock leaves the open state once its recovery timeout has passed
/// (waiting for the condition, with a generous deadline for a loaded machine).
#[test]
fn a_breaker_on_the_default_clock_half_opens_after_its_recovery_timeout() {
    let breaker = CircuitBreaker::builder()
        .failure_threshold(1)
        .recovery_timeout(Duration::from_millis(5))
        .build()
        .unwrap();
    breaker.try_acquire().unwrap().failure();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while breaker.state() == State::Open {
        assert!(
            std::time::Instant::now() < deadline,
            "still open after 30 s"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(breaker.state(), State::HalfOpen);
    assert!(breaker.try_acquire().unwrap().is_probe());
}

/// A manual clock's debug output shows where it stands, and a breaker's shows its clock's
/// reading, whichever clock it has.
#[test]
fn debug_output_shows_the_clock_reading() {
    let clock = ManualClock::new();
    clock.advance(5 * SECOND);
    assert_eq!(format!("{clock:?}"), "ManualClock { now: 5s }");
    let breaker = CircuitBreaker::builder()
        .clock(clock.clone())
        .build()
        .unwrap();
    let shown = format!("{breaker:?}");
    assert!(shown.contains("clock: CustomClock { now: 5s }"), "{shown}");
    let shown = format!("{:?}", CircuitBreaker::new());
    assert!(shown.contains("clock: QuantaClock { now: "), "{shown}");
}

/// A transition displays as `circuit "<name>": <from> -> <to> (<n> failures; <cause>)`.
#[test]
fn a_transition_displays_name_states_failures_and_cause() {
    let shown = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&shown);
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .name("payments")
        .failure_threshold(1)
        .clock(clock)
        .on_transition(move |t| sink.lock().unwrap().push(t.to_string()))
        .build()
        .unwrap();
    breaker.try_acquire().unwrap().failure();
    assert_eq!(
        *shown.lock().unwrap(),
        [r#"circuit "payments": closed -> open (1 failures; the breaker's own calls)"#]
    );
}

/// A breaker's debug output says which hooks it has: a listener, counters, windows.
#[test]
fn debug_output_lists_the_hooks() {
    let breaker = CircuitBreaker::builder()
        .on_transition(|_| {})
        .build()
        .unwrap();
    let shown = format!("{breaker:?}");
    assert!(
        shown.contains("hooks: Some(Hooks { listener: true, metrics: None"),
        "{shown}"
    );
}

/// `ErrorTypes::types` lists the types given, in order, from a `const` list and from `with`.
#[test]
fn error_types_list_the_types_given() {
    const IO: &[ErrorType] = &[ErrorType::of::<io::Error>()];
    let types = ErrorTypes::new(IO).with::<std::fmt::Error>();
    let names: Vec<String> = types.types().iter().map(|t| format!("{t:?}")).collect();
    assert_eq!(
        names,
        [
            std::any::type_name::<io::Error>(),
            std::any::type_name::<std::fmt::Error>()
        ]
    );
}
