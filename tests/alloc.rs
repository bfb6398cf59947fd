//! Zero heap allocations per call, on every path the benchmarks measure (construction aside).
//!
//! A counting `#[global_allocator]` wraps the system allocator. Counting is per thread and only
//! while a thread has switched it on, so tests running in parallel on other threads (and the
//! test harness itself) never disturb a count. Each path is warmed up once outside the count
//! (first use of the clock, lazy thread-locals), then run `ROUNDS` times inside it; the count
//! of allocations, reallocations and deallocations must be zero.

#![allow(unsafe_code)] // the counting allocator below; the library itself forbids unsafe code

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::{ready, Future};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_breaker::{
    CircuitBreaker, CircuitExt, Error, FailureRate, ManualClock, OpenError, State,
};

struct Counting;

thread_local! {
    /// Whether this thread is counting now.
    static ON: Cell<bool> = const { Cell::new(false) };
    /// Allocations, reallocations and deallocations seen on this thread while counting.
    static EVENTS: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the allocator may run while this thread's locals are being torn down.
    let _ = ON.try_with(|on| {
        if on.get() {
            let _ = EVENTS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: every method forwards to `System` unchanged; the counting touches only const-initialised
// thread-locals without destructors, which never allocate.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded with the caller's own guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded with the caller's own guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: forwarded with the caller's own guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note();
        // SAFETY: forwarded with the caller's own guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// How many times each path runs inside the count.
const ROUNDS: u32 = 1_000;
const LONG: Duration = Duration::from_secs(3_600);

/// Heap events on this thread while `f` runs.
fn heap_events(f: impl FnOnce()) -> u64 {
    EVENTS.with(|n| n.set(0));
    ON.with(|on| on.set(true));
    f();
    ON.with(|on| on.set(false));
    EVENTS.with(Cell::get)
}

/// Runs `path` once to warm up, then `ROUNDS` times counted; asserts no heap activity.
fn assert_no_alloc(what: &str, mut path: impl FnMut()) {
    path();
    let events = heap_events(|| {
        for _ in 0..ROUNDS {
            path();
        }
    });
    assert_eq!(
        events, 0,
        "{what}: {events} heap events in {ROUNDS} calls (expected none)"
    );
}

#[allow(clippy::unnecessary_wraps)] // the shape every guarded call has
fn ok() -> Result<u64, u64> {
    Ok(std::hint::black_box(1))
}

fn err() -> Result<u64, u64> {
    Err(std::hint::black_box(7))
}

fn poll_once<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("expected Ready on the first poll"),
    }
}

/// The three ways a breaker is named: not at all, `&'static str`, runtime `String`.
fn named(name: Option<&str>) -> async_breaker::Builder {
    let builder = CircuitBreaker::builder().failure_threshold(5);
    match name {
        None => builder,
        Some("static") => builder.name("static"),
        Some(other) => builder.name(String::from(other)),
    }
}

const NAMES: [Option<&str>; 3] = [None, Some("static"), Some("a runtime String")];

fn open_breaker(name: Option<&str>) -> CircuitBreaker {
    let breaker = named(name).recovery_timeout(LONG).build().unwrap();
    for _ in 0..5 {
        assert!(breaker.call(err).is_err_and(|e| e.is_inner()));
    }
    assert_eq!(breaker.state(), State::Open);
    breaker
}

fn expect_rejected<T: std::fmt::Debug, E: std::fmt::Debug>(
    result: Result<T, Error<E>>,
) -> OpenError {
    match result {
        Err(Error::Open(rejected)) => rejected,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn closed_success_sync_future_and_permit_do_not_allocate() {
    for name in NAMES {
        let breaker = named(name).recovery_timeout(LONG).build().unwrap();
        let shared = Arc::new(named(name).recovery_timeout(LONG).build().unwrap());
        assert_no_alloc("closed success, sync call", || {
            assert_eq!(breaker.call(ok).unwrap(), 1);
        });
        assert_no_alloc("closed success, future by reference", || {
            let out = poll_once(ready(ok()).circuit(&breaker));
            assert_eq!(out.unwrap(), 1);
        });
        assert_no_alloc("closed success, future by &Arc", || {
            let out = poll_once(ready(ok()).circuit(&shared));
            assert_eq!(out.unwrap(), 1);
        });
        assert_no_alloc("closed success, future owning an Arc clone", || {
            let out = poll_once(ready(ok()).with_breaker(Arc::clone(&shared)));
            assert_eq!(out.unwrap(), 1);
        });
        assert_no_alloc("closed success, permit", || {
            breaker.try_acquire().unwrap().success();
        });
        assert_no_alloc("closed success, owned permit", || {
            shared.try_acquire_owned().unwrap().success();
        });
        assert_no_alloc("closed, permit dropped", || {
            drop(breaker.try_acquire().unwrap());
        });
        assert!(breaker.is_closed() && shared.is_closed());
        assert_eq!(breaker.failure_count(), 0);
    }
}

#[test]
fn closed_failure_and_reset_do_not_allocate() {
    for name in NAMES {
        let breaker = named(name).recovery_timeout(LONG).build().unwrap();
        assert_no_alloc("closed failure + success reset, sync", || {
            assert!(breaker.call(err).is_err_and(|e| e.is_inner()));
            assert_eq!(breaker.failure_count(), 1);
            assert_eq!(breaker.call(ok).unwrap(), 1);
        });
        assert_no_alloc("closed failure + success reset, future", || {
            assert!(poll_once(ready(err()).circuit(&breaker)).is_err_and(|e| e.is_inner()));
            assert_eq!(poll_once(ready(ok()).circuit(&breaker)).unwrap(), 1);
        });
        assert_no_alloc("closed failure + success reset, permit", || {
            breaker.try_acquire().unwrap().failure();
            breaker.try_acquire().unwrap().record(&ok());
        });
        assert!(breaker.is_closed());
        assert_eq!(breaker.failure_count(), 0);
    }
}

/// Windows of 1 000 calls (a ring of slots) with a slow-call rate, count- and time-based:
/// recording an outcome, and the sweep that empties the ring when a new cycle begins, never
/// allocate (the ring and the buckets are allocated when the breaker is built).
#[test]
fn rate_windows_do_not_allocate() {
    for rate in [
        FailureRate::last_calls(1_000, 100, 60),
        FailureRate::last(Duration::from_secs(10), 10, 100, 60),
    ] {
        let breaker = CircuitBreaker::builder()
            .recovery_timeout(LONG)
            .failure_rate(rate)
            .slow_call_rate(LONG, 50)
            .build()
            .unwrap();
        assert_no_alloc("closed failure + success, 1000-call window", || {
            assert!(breaker.call(err).is_err_and(|e| e.is_inner()));
            assert_eq!(breaker.call(ok).unwrap(), 1);
        });
        assert_no_alloc("reset (a new cycle) + first outcome", || {
            breaker.reset();
            assert_eq!(breaker.call(ok).unwrap(), 1);
        });
        assert!(breaker.is_closed());
    }
}

#[test]
fn open_reject_does_not_allocate_even_with_a_runtime_name() {
    for name in NAMES {
        let breaker = open_breaker(name);
        let expected = name.unwrap_or("unnamed");
        assert_no_alloc("open reject, sync call", || {
            let rejected = expect_rejected(breaker.call(ok));
            assert_eq!(rejected.state(), State::Open);
        });
        // The name is looked up only when asked for (a copy, if it was a runtime name).
        assert_eq!(expect_rejected(breaker.call(ok)).name(), expected);
        assert_no_alloc("open reject, future", || {
            let rejected = expect_rejected(poll_once(ready(ok()).circuit(&breaker)));
            assert_eq!(rejected.state(), State::Open);
        });
        assert_no_alloc("open reject, permit", || {
            let rejected = breaker.try_acquire().unwrap_err();
            assert_eq!(rejected.failures(), 5);
            // A rejection is `Copy` (a name handle and packed facts): copying it is free too.
            let again = rejected;
            assert_eq!(again, rejected);
        });
        assert_eq!(breaker.state(), State::Open);
    }
}

#[test]
fn half_open_probe_paths_do_not_allocate() {
    for name in NAMES {
        let clock = ManualClock::new();
        let breaker = named(name)
            .recovery_timeout(Duration::from_secs(30))
            .probe_deadline(LONG)
            .clock(clock.clone())
            .build()
            .unwrap();
        for _ in 0..5 {
            assert!(breaker.call(err).is_err_and(|e| e.is_inner()));
        }

        // Open → (time passes) → probe claimed → probe succeeds → closed → trip again.
        assert_no_alloc("probe claim + close, and reopen", || {
            clock.advance(Duration::from_secs(30));
            assert_eq!(breaker.state(), State::HalfOpen);
            let probe = breaker.try_acquire().unwrap();
            assert!(probe.is_probe());
            probe.success();
            assert!(breaker.is_closed());
            for _ in 0..5 {
                assert!(breaker.call(err).is_err_and(|e| e.is_inner()));
            }
            assert!(breaker.is_open());
        });

        // Probe failure re-opens; a dropped probe frees the slot for the next caller.
        assert_no_alloc("probe dropped, next probe fails", || {
            clock.advance(Duration::from_secs(30));
            drop(breaker.try_acquire().unwrap());
            assert!(breaker.call(err).is_err_and(|e| e.is_inner()));
            assert!(breaker.is_open());
        });

        // A probe in flight: everyone else is rejected as half-open.
        clock.advance(Duration::from_secs(30));
        let probe = breaker.try_acquire().unwrap();
        assert!(probe.is_probe());
        assert_no_alloc("half-open, probe in flight: reject", || {
            let rejected = expect_rejected(breaker.call(ok));
            assert_eq!(rejected.state(), State::HalfOpen);
            let rejected = expect_rejected(poll_once(ready(ok()).circuit(&breaker)));
            assert_eq!(rejected.state(), State::HalfOpen);
            assert!(breaker.try_acquire().is_err());
        });
        probe.success();
        assert!(breaker.is_closed());
    }
}

/// The same probe cycle on the default (quanta) clock, with a real recovery timeout: long
/// enough that the call right after the trip is still rejected on a loaded machine (the clock
/// counts whole milliseconds, so with 1 ms a trip late in one millisecond was half-open by the
/// next call whenever that call came in the next millisecond).
#[test]
fn probe_cycle_on_the_default_clock_does_not_allocate() {
    const RECOVERY: Duration = Duration::from_millis(50);
    let breaker = CircuitBreaker::builder()
        .name(String::from("quanta"))
        .failure_threshold(1)
        .recovery_timeout(RECOVERY)
        .probe_deadline(LONG)
        .build()
        .unwrap();
    let cycle = || {
        assert!(breaker.call(err).is_err_and(|e| e.is_inner()));
        assert!(breaker.call(ok).is_err_and(|e| e.is_open()));
        std::thread::sleep(RECOVERY + Duration::from_millis(1));
        let probe = breaker.try_acquire().unwrap();
        assert!(probe.is_probe());
        assert_eq!(
            expect_rejected(breaker.call(ok)).state(),
            State::HalfOpen,
            "probe in flight"
        );
        probe.success();
        assert!(breaker.is_closed());
    };
    cycle();
    let events = heap_events(|| {
        for _ in 0..20 {
            cycle();
        }
    });
    assert_eq!(
        events, 0,
        "probe cycle on the default clock: {events} heap events"
    );
}

/// The counter itself works: an allocation inside the count is seen.
#[test]
fn the_counter_sees_allocations() {
    let events = heap_events(|| {
        std::hint::black_box(Box::new(7_u64));
    });
    assert!(events >= 2, "alloc + dealloc expected, saw {events}");
}
