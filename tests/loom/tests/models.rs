//! Loom models of the compare-exchange transitions.
//!
//! Built and run only with `RUSTFLAGS="--cfg async_breaker_loom"` (see `.ci/loom.sh`): under that
//! cfg `async_breaker`'s `sync` shim hands out loom's atomics, so the breaker's word and the [`ManualClock`]
//! are model-checked, and loom explores every interleaving of the threads below (up to
//! `LOOM_MAX_PREEMPTIONS` preemptions per execution).
//!
//! Every model drives the breaker through its public API only (`try_acquire`, permits,
//! `state`, `failure_count`) with a manual clock; the default clock would make executions
//! nondeterministic. Each asserts a property that a wrong transition in `src/word.rs` breaks:
//! the single probe, the single open transition, the stale-cycle check, the freed probe slot,
//! the reclaimed lost probe.
//!
//! The breaker is shared through `std::sync::Arc` (which loom does not track) because
//! `OwnedPermit` is built on it; the objects loom does track (the word and
//! the clock's atomic) are created inside each execution, as loom requires.

#![cfg(async_breaker_loom)]

use std::sync::Arc;
use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

use async_breaker::{CircuitBreaker, ManualClock, OwnedPermit, State};

/// The recovery timeout of every model: 1 s.
const RECOVERY: Duration = Duration::from_secs(1);
/// The default probe deadline of the models (longer than any clock advance they make, so a
/// probe is only reclaimed where a model means it to be).
const PROBE_DEADLINE: Duration = Duration::from_secs(5);

type Breaker = Arc<CircuitBreaker>;

fn breaker_with(threshold: u32, probe_deadline: Duration) -> (Breaker, ManualClock) {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .failure_threshold(threshold)
        .recovery_timeout(RECOVERY)
        .probe_deadline(probe_deadline)
        .clock(clock.clone())
        .build()
        .expect("valid model configuration");
    (Arc::new(breaker), clock)
}

fn breaker(threshold: u32) -> (Breaker, ManualClock) {
    breaker_with(threshold, PROBE_DEADLINE)
}

/// Fails `threshold` closed calls, so the breaker opens at the clock's current time.
fn trip(breaker: &Breaker) {
    for _ in 0..breaker.failure_threshold() {
        breaker.try_acquire().expect("closed admits").failure();
    }
    assert_eq!(breaker.state(), State::Open);
}

/// Opens a threshold-1 breaker and lets the recovery timeout pass: the probe slot is up for
/// grabs. Returns the breaker at clock time 1 s, failure count 1.
fn half_open(probe_deadline: Duration) -> (Breaker, ManualClock) {
    let (breaker, clock) = breaker_with(1, probe_deadline);
    trip(&breaker);
    clock.advance(RECOVERY);
    assert_eq!(breaker.state(), State::HalfOpen);
    (breaker, clock)
}

/// Admits a closed-state call on the main thread, as an owned permit to hand to a thread.
fn closed_permit(breaker: &Breaker) -> OwnedPermit {
    let permit = breaker.try_acquire_owned().expect("closed admits");
    assert!(!permit.is_probe());
    permit
}

/// Joins every handle and returns the permits the threads were admitted with.
fn admitted(handles: Vec<thread::JoinHandle<Option<OwnedPermit>>>) -> Vec<OwnedPermit> {
    handles
        .into_iter()
        .filter_map(|handle| handle.join().expect("model thread panicked"))
        .collect()
}

/// Model 1: callers race for the half-open probe. Exactly one is admitted, as the probe; every
/// other caller (and a late one on the main thread) is rejected while the probe is held, and
/// the probe's success then closes the breaker.
///
/// Three racers, each a load, a clock read and at most one compare-exchange: small enough for
/// the full preemption bound.
#[test]
fn exactly_one_caller_wins_the_half_open_probe() {
    loom::model(|| {
        let (breaker, _clock) = half_open(PROBE_DEADLINE);
        let handles = (0..3)
            .map(|_| {
                let breaker = Arc::clone(&breaker);
                thread::spawn(move || match breaker.try_acquire_owned() {
                    Ok(permit) => Some(permit),
                    Err(rejected) => {
                        // Only a probe in flight can turn a caller away here.
                        assert_eq!(rejected.state(), State::HalfOpen);
                        None
                    }
                })
            })
            .collect();
        let mut probes = admitted(handles);
        assert_eq!(probes.len(), 1, "exactly one probe must be admitted");
        let probe = probes.pop().expect("one probe");
        assert!(probe.is_probe());
        assert!(breaker.try_acquire().is_err(), "the probe is still held");
        probe.success();
        assert_eq!(breaker.state(), State::Closed);
        assert_eq!(breaker.failure_count(), 0);
    });
}

/// Runs `threshold`-breaker with `failures` closed calls admitted up front, each reporting a
/// failure from its own thread, and returns the breaker afterwards.
fn concurrent_failures(threshold: u32, failures: usize) -> Breaker {
    let (breaker, _clock) = breaker(threshold);
    let permits: Vec<OwnedPermit> = (0..failures).map(|_| closed_permit(&breaker)).collect();
    let handles: Vec<_> = permits
        .into_iter()
        .map(|permit| thread::spawn(move || permit.failure()))
        .collect();
    for handle in handles {
        handle.join().expect("model thread panicked");
    }
    breaker
}

/// Model 2a: two failures race to a threshold of 2. The breaker ends open with exactly two
/// failures: none lost (it would stay closed at 1), none counted twice, and only one open
/// transition (a second one would count the late failure again, making 3).
#[test]
fn concurrent_failures_reaching_the_threshold_open_once() {
    loom::model(|| {
        let breaker = concurrent_failures(2, 2);
        assert_eq!(breaker.state(), State::Open);
        assert_eq!(breaker.failure_count(), 2);
        assert_eq!(breaker.open_remaining(), RECOVERY);
        assert!(breaker.try_acquire().is_err());
    });
}

/// Model 2b: two failures race below a threshold of 3: both count and the breaker stays closed.
#[test]
fn concurrent_failures_below_the_threshold_both_count() {
    loom::model(|| {
        let breaker = concurrent_failures(3, 2);
        assert_eq!(breaker.state(), State::Closed);
        assert_eq!(breaker.failure_count(), 2);
    });
}

/// Model 2c: three failures admitted in the same closed cycle race to a threshold of 2. The
/// second to land opens the breaker; the third belongs to the cycle that just ended and is
/// discarded, so the count is exactly 2 whichever order they land in.
#[test]
fn a_failure_landing_after_the_open_transition_is_discarded() {
    loom::model(|| {
        let breaker = concurrent_failures(2, 3);
        assert_eq!(breaker.state(), State::Open);
        assert_eq!(breaker.failure_count(), 2);
    });
}

/// Model 2d: the synchronous `call` of a plain breaker records its outcome inline (one load and
/// one compare-exchange, no general path unless it loses the race or opens). Three calls on
/// three threads, a failure and a success on one and a failure on another, against a
/// threshold of 2: every interleaving ends as some serial order of the three outcomes would,
/// closed with one failure (the other thread's, after the reset) or open with exactly two (the
/// success then belongs to an ended cycle and is discarded).
#[test]
fn inline_outcomes_of_sync_calls_linearize() {
    loom::model(|| {
        let (breaker, _clock) = breaker(2);
        let flapping = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || {
                let _ = breaker.call(|| Err::<(), ()>(()));
                let _ = breaker.call(|| Ok::<(), ()>(()));
            })
        };
        let failing = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || {
                let _ = breaker.call(|| Err::<(), ()>(()));
            })
        };
        flapping.join().expect("model thread panicked");
        failing.join().expect("model thread panicked");
        let outcome = (breaker.state(), breaker.failure_count());
        assert!(
            matches!(outcome, (State::Closed, 1) | (State::Open, 2)),
            "{outcome:?} matches no serial order"
        );
    });
}

/// A threshold-1 breaker holding a call admitted in its first closed cycle, then opened and
/// past its recovery timeout, with the probe admitted: `(breaker, stale, probe)`.
fn stale_and_probe() -> (Breaker, OwnedPermit, OwnedPermit) {
    let (breaker, clock) = breaker(1);
    let stale = closed_permit(&breaker);
    trip(&breaker);
    clock.advance(RECOVERY);
    let probe = breaker.try_acquire_owned().expect("the probe slot is free");
    assert!(probe.is_probe());
    (breaker, stale, probe)
}

/// Model 3a: the probe's success races a failure from the earlier closed cycle. Whether the
/// stale failure lands while the probe is in flight or after the probe has closed the breaker,
/// it is discarded: the breaker ends closed with a zero count.
#[test]
fn a_stale_failure_cannot_spoil_a_successful_probe() {
    loom::model(|| {
        let (breaker, stale, probe) = stale_and_probe();
        let old = thread::spawn(move || stale.failure());
        let new = thread::spawn(move || probe.success());
        old.join().expect("model thread panicked");
        new.join().expect("model thread panicked");
        assert_eq!(breaker.state(), State::Closed);
        assert_eq!(breaker.failure_count(), 0);
    });
}

/// Model 3b: the probe's failure races a success from the earlier closed cycle. The stale
/// success must neither close the breaker nor reset the count: it ends open with a fresh timer
/// and the count one higher than when it opened.
#[test]
fn a_stale_success_cannot_close_for_a_failed_probe() {
    loom::model(|| {
        let (breaker, stale, probe) = stale_and_probe();
        let old = thread::spawn(move || stale.success());
        let new = thread::spawn(move || probe.failure());
        old.join().expect("model thread panicked");
        new.join().expect("model thread panicked");
        assert_eq!(breaker.state(), State::Open);
        assert_eq!(breaker.failure_count(), 2);
        assert_eq!(breaker.open_remaining(), RECOVERY);
    });
}

/// Model 4: the probe is dropped (no outcome) while two new callers race for admission. The
/// breaker never wedges and never admits two probes: at most one racer gets in (only after the
/// drop freed the slot), and if neither did, the next caller does. Either way exactly one new
/// probe exists at the end, and its success closes the breaker.
///
/// Two racers plus the dropping thread: three threads, at the full preemption bound.
#[test]
fn a_dropped_probe_frees_the_slot_for_exactly_one_caller() {
    loom::model(|| {
        let (breaker, _clock) = half_open(PROBE_DEADLINE);
        let probe = breaker.try_acquire_owned().expect("the probe slot is free");
        assert!(probe.is_probe());
        let mut handles = vec![thread::spawn(move || {
            drop(probe);
            None
        })];
        handles.extend((0..2).map(|_| {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || breaker.try_acquire_owned().ok())
        }));
        let mut probes = admitted(handles);
        assert!(probes.len() <= 1, "two probes in flight");
        let next = match probes.pop() {
            Some(winner) => {
                assert!(breaker.try_acquire().is_err(), "the winner holds the slot");
                winner
            }
            None => breaker
                .try_acquire_owned()
                .expect("the dropped probe must have freed the slot"),
        };
        assert!(next.is_probe());
        assert_eq!(breaker.state(), State::HalfOpen);
        next.success();
        assert_eq!(breaker.state(), State::Closed);
    });
}

/// A closed breaker with one failure already counted and two more calls admitted, whose
/// outcomes race: one succeeds, one fails.
fn success_races_failure(threshold: u32) -> Breaker {
    let (breaker, _clock) = breaker(threshold);
    breaker.try_acquire().expect("closed admits").failure();
    let ok = closed_permit(&breaker);
    let failed = closed_permit(&breaker);
    let a = thread::spawn(move || ok.success());
    let b = thread::spawn(move || failed.failure());
    a.join().expect("model thread panicked");
    b.join().expect("model thread panicked");
    breaker
}

/// Model 5a: with a threshold of 3, a success resetting the count races a failure. The two
/// linearizations end closed with count 1 (reset, then fail) or 0 (fail to 2, then reset);
/// anything else lost or invented an update.
#[test]
fn a_reset_racing_a_failure_below_the_threshold_linearizes() {
    loom::model(|| {
        let breaker = success_races_failure(3);
        assert_eq!(breaker.state(), State::Closed);
        let count = breaker.failure_count();
        assert!(count <= 1, "count {count} matches no linearization");
    });
}

/// Model 5b: with a threshold of 2 the same race decides whether the breaker opens: reset then
/// fail ends closed with count 1; fail first opens with count 2, and the success, now from an
/// ended cycle, is discarded rather than closing the breaker again.
#[test]
fn a_reset_racing_the_opening_failure_linearizes() {
    loom::model(|| {
        let breaker = success_races_failure(2);
        let outcome = (breaker.state(), breaker.failure_count());
        assert!(
            outcome == (State::Closed, 1) || outcome == (State::Open, 2),
            "{outcome:?} matches no linearization"
        );
    });
}

/// Model 6: a probe leaked with `mem::forget` never reports. One thread moves the clock past
/// the probe deadline and asks for admission; another asks at the same time. The lost probe
/// cannot wedge the breaker, and its slot goes to exactly one of them: the first to see the
/// deadline passed. (The thread that advanced the clock always sees it passed, so at least one
/// is admitted; two would be two probes in flight.)
#[test]
fn a_forgotten_probe_is_replaced_by_exactly_one_caller_after_its_deadline() {
    const DEADLINE: Duration = Duration::from_millis(500);
    loom::model(|| {
        let (breaker, clock) = half_open(DEADLINE);
        let lost = breaker.try_acquire().expect("the probe slot is free");
        assert!(lost.is_probe());
        std::mem::forget(lost);
        assert!(
            breaker.try_acquire().is_err(),
            "the lost probe holds the slot"
        );

        let admissions = Arc::new(AtomicUsize::new(0));
        let late = {
            let (breaker, admissions) = (Arc::clone(&breaker), Arc::clone(&admissions));
            thread::spawn(move || {
                clock.advance(DEADLINE);
                let permit = breaker.try_acquire_owned().ok();
                if permit.is_some() {
                    admissions.fetch_add(1, Ordering::Relaxed);
                }
                permit
            })
        };
        let eager = {
            let (breaker, admissions) = (Arc::clone(&breaker), Arc::clone(&admissions));
            thread::spawn(move || {
                let permit = breaker.try_acquire_owned().ok();
                if permit.is_some() {
                    admissions.fetch_add(1, Ordering::Relaxed);
                }
                permit
            })
        };
        let mut probes = admitted(vec![late, eager]);
        assert_eq!(admissions.load(Ordering::Relaxed), probes.len());
        assert_eq!(
            probes.len(),
            1,
            "exactly one caller replaces the lost probe"
        );
        let probe = probes.pop().expect("one probe");
        assert!(probe.is_probe());
        assert!(
            breaker.try_acquire().is_err(),
            "the new probe holds the slot"
        );
        probe.success();
        assert_eq!(breaker.state(), State::Closed);
        assert_eq!(breaker.failure_count(), 0);
    });
}

/// Model 7: a slow probe past its deadline finally reports a failure while a new caller
/// reclaims its slot. Either the failure lands first (the breaker re-opens with a fresh timer
/// and the caller is rejected) or the caller takes over the slot first (and the late failure,
/// from a replaced probe, is discarded). Never both, never neither.
#[test]
fn a_late_probe_outcome_races_its_replacement() {
    const DEADLINE: Duration = Duration::from_millis(500);
    loom::model(|| {
        let (breaker, clock) = half_open(DEADLINE);
        let slow = breaker.try_acquire_owned().expect("the probe slot is free");
        assert!(slow.is_probe());
        clock.advance(DEADLINE);
        let reporter = thread::spawn(move || slow.failure());
        let caller = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || breaker.try_acquire_owned().ok())
        };
        reporter.join().expect("model thread panicked");
        let replacement = caller.join().expect("model thread panicked");
        if let Some(probe) = replacement {
            assert!(probe.is_probe());
            assert_eq!(breaker.state(), State::HalfOpen);
            assert_eq!(
                breaker.failure_count(),
                1,
                "the replaced probe's failure counted"
            );
            probe.success();
            assert_eq!(breaker.state(), State::Closed);
        } else {
            assert_eq!(breaker.state(), State::Open);
            assert_eq!(breaker.failure_count(), 2);
            assert_eq!(breaker.open_remaining(), RECOVERY);
        }
    });
}

/// Model 8: three callers each try once to probe and then drop their permit, so the slot is
/// freed and can be won again. Probes may follow one another but never overlap: a counter of
/// probes in flight, raised after admission and lowered before the permit is released, is
/// never above one. At least the first caller to reach the word is admitted, and the breaker
/// ends half-open with the slot free.
///
/// Three threads, at the full preemption bound; the costliest model.
#[test]
fn probes_that_release_their_slot_never_overlap() {
    loom::model(|| {
        let (breaker, _clock) = half_open(PROBE_DEADLINE);
        let in_flight = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let (breaker, in_flight) = (Arc::clone(&breaker), Arc::clone(&in_flight));
                thread::spawn(move || {
                    let Ok(permit) = breaker.try_acquire() else {
                        return 0;
                    };
                    assert!(permit.is_probe());
                    assert_eq!(
                        in_flight.fetch_add(1, Ordering::AcqRel),
                        0,
                        "probes overlap"
                    );
                    in_flight.fetch_sub(1, Ordering::AcqRel);
                    drop(permit);
                    1
                })
            })
            .collect();
        let admitted: usize = handles
            .into_iter()
            .map(|handle| handle.join().expect("model thread panicked"))
            .sum();
        assert!((1..=3).contains(&admitted));
        let next = breaker
            .try_acquire()
            .expect("the last probe freed the slot");
        assert!(next.is_probe());
    });
}
