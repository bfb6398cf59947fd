//! Loom models of the bell (`remote().register_waker`) a coordinator sleeps on: no wake-up is
//! lost. The coordinator registers a waker, then reads the breaker, while a caller changes it;
//! whatever the interleaving, the coordinator either read the change or its waker was woken
//! (so it would read the change on waking).
//!
//! Built and run only under `--cfg async_breaker_loom` (see `.ci/loom.sh`), where the bell is
//! loom's model of `AtomicWaker`. Every model drives the public API with a manual clock; the
//! objects loom tracks (the word, the hold's side word, the bell, the clock, the waker's flag)
//! are made inside each execution.

#![cfg(async_breaker_loom)]

use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::Duration;

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;

use async_breaker::remote::Phase;
use async_breaker::{CircuitBreaker, ManualClock};

type Breaker = Arc<CircuitBreaker>;

/// Says whether it was woken.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn flag() -> (Arc<Flag>, Waker) {
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    (Arc::clone(&flag), Waker::from(flag))
}

fn breaker() -> (Breaker, ManualClock) {
    let clock = ManualClock::new();
    clock.advance(Duration::from_secs(100));
    let breaker = CircuitBreaker::builder()
        .failure_threshold(1)
        .recovery_timeout(Duration::from_secs(1))
        .clock(clock.clone())
        .build()
        .expect("valid model configuration");
    (Arc::new(breaker), clock)
}

/// Model B1: a caller trips the breaker while the coordinator registers and then reads it. The
/// coordinator saw the trip, or it is woken.
#[test]
fn a_trip_racing_the_coordinators_registration_is_never_missed() {
    loom::model(|| {
        let (breaker, _clock) = breaker();
        let caller = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || breaker.try_acquire().expect("closed admits").failure())
        };
        let (woken, waker) = flag();
        breaker.remote().register_waker(&waker);
        let seen = breaker.remote().snapshot().phase();
        caller.join().unwrap();
        assert_eq!(breaker.remote().snapshot().phase(), Phase::Open);
        assert!(
            seen == Phase::Open || woken.0.load(Ordering::SeqCst),
            "lost wake-up: read {seen:?} and was not woken"
        );
    });
}

/// Model B2: a caller turned away by a hold whose fleet period is over records demand while
/// the coordinator registers and then takes the demand. The coordinator took it, or it is woken
/// and the demand is still there to take.
#[test]
fn demand_racing_the_coordinators_registration_is_never_missed() {
    loom::model(|| {
        let (breaker, _clock) = breaker();
        breaker.remote().hold(Duration::ZERO, 0).expect("holds");
        let caller = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || breaker.try_acquire().is_err())
        };
        let (woken, waker) = flag();
        breaker.remote().register_waker(&waker);
        let took = breaker.remote().take_demand();
        assert!(caller.join().unwrap(), "held: rejected");
        let woken = woken.0.load(Ordering::SeqCst);
        assert!(took || woken, "lost wake-up: no demand taken and not woken");
        if !took {
            assert!(
                breaker.remote().take_demand(),
                "woken, but no demand to take"
            );
        }
    });
}
