//! Remote coordination (`breaker.remote()`): the hooks a fleet agent uses. Each test states one
//! documented contract of `src/remote.rs` with a manual clock.

use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use async_breaker::remote::Phase;
use async_breaker::{Backoff, CircuitBreaker, ManualClock, State};

const SECOND: Duration = Duration::from_secs(1);
const RECOVERY: Duration = Duration::from_secs(10);
const DEADLINE: Duration = Duration::from_secs(4);

/// A breaker on a clock that has run for a while (so the first transition's stamp is not the
/// clock's origin).
fn breaker(clock: &ManualClock) -> CircuitBreaker {
    clock.advance(Duration::from_secs(1_000));
    CircuitBreaker::builder()
        .name("fleet")
        .failure_threshold(2)
        .recovery_timeout(RECOVERY)
        .probe_deadline(DEADLINE)
        .clock(clock.clone())
        .build()
        .unwrap()
}

#[test]
fn a_hold_rejects_everyone_and_reports_the_fleets_remaining_time() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    let held = b.remote().hold(SECOND * 7, 0).unwrap();
    assert_eq!(held.phase(), Phase::Held);
    assert_eq!((held.state(), held.remaining()), (State::Open, SECOND * 7));
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.open_remaining(), SECOND * 7);

    clock.advance(SECOND * 3);
    let rejected = b.try_acquire().unwrap_err();
    assert_eq!(
        (rejected.state(), rejected.remaining()),
        (State::Open, SECOND * 4)
    );
    assert_eq!(
        rejected.to_string(),
        r#"circuit "fleet" is open (0 failures, 4s remaining)"#
    );

    // The fleet's period ran out: its probe is elsewhere, so this replica reports half-open
    // and still admits nobody, not even after its own recovery timeout.
    clock.advance(SECOND * 4);
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(b.open_remaining(), Duration::ZERO);
    let rejected = b.try_acquire().unwrap_err();
    assert_eq!(
        (rejected.state(), rejected.remaining()),
        (State::HalfOpen, Duration::ZERO)
    );
    clock.advance(SECOND * 6);
    assert!(
        b.try_acquire().is_err(),
        "held until its period and the probe deadline have passed unrenewed"
    );
}

#[test]
fn a_hold_longer_than_the_open_period_is_capped_at_it() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    let held = b.remote().hold(RECOVERY * 100, 0).unwrap();
    assert_eq!(held.remaining(), RECOVERY);
    let at_level_two = b.remote().hold(RECOVERY * 100, 2).unwrap();
    // Without backoff the period never grows past the recovery timeout.
    assert_eq!(
        (at_level_two.remaining(), at_level_two.level()),
        (RECOVERY, 2)
    );

    let grows = CircuitBreaker::builder()
        .recovery_timeout(RECOVERY)
        .backoff(Backoff::exponential(RECOVERY * 8))
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(
        grows.remote().hold(RECOVERY * 100, 2).unwrap().remaining(),
        RECOVERY * 4
    );
    assert_eq!(
        grows.remote().hold(RECOVERY * 100, 200).unwrap().level(),
        7,
        "the level is capped at 7"
    );
}

#[test]
fn an_unrenewed_hold_lapses_into_a_local_probe_after_its_period_and_the_probe_deadline() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    b.remote().hold(SECOND, 0);
    clock.advance(Duration::from_millis(13_999)); // the period and the deadline, less 1 ms
    assert!(
        b.try_acquire().is_err(),
        "still held one millisecond before"
    );
    clock.advance(Duration::from_millis(1));
    let probe = b.try_acquire().expect("a lapsed hold admits a probe");
    assert!(probe.is_probe());
    assert!(b.try_acquire().is_err(), "and exactly one");
    probe.success();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn renewing_a_hold_keeps_the_breaker_held() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    let first = b.remote().hold(Duration::ZERO, 0).unwrap();
    for _ in 0..10 {
        clock.advance(DEADLINE);
        let renewed = b.remote().hold(Duration::ZERO, 0).unwrap();
        assert_ne!(renewed.cycle_id(), first.cycle_id());
        assert!(b.try_acquire().is_err());
    }
    assert_eq!(b.remote().snapshot().phase(), Phase::Held);
}

#[test]
fn a_granted_probe_admits_exactly_one_caller_among_racing_threads() {
    for _ in 0..20 {
        let clock = ManualClock::new();
        let b = Arc::new(breaker(&clock));
        b.remote().hold(Duration::ZERO, 0);
        assert!(b.try_acquire().is_err(), "no probe before the grant");
        let granted = b.remote().grant_probe().unwrap();
        assert_eq!(
            (granted.phase(), granted.state()),
            (Phase::HalfOpen, State::HalfOpen)
        );
        let barrier = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (b, barrier) = (Arc::clone(&b), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    b.try_acquire_owned().ok()
                })
            })
            .collect();
        let admitted: Vec<_> = handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect();
        assert_eq!(admitted.len(), 1, "exactly one probe");
        assert!(admitted[0].is_probe());
    }
}

#[test]
fn a_grant_needs_a_held_breaker() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    assert!(b.remote().grant_probe().is_none());
    let _ = b.call(|| Err::<(), _>("down"));
    let _ = b.call(|| Err::<(), _>("down"));
    assert_eq!(b.remote().snapshot().phase(), Phase::Open);
    assert!(
        b.remote().grant_probe().is_none(),
        "a local open period is not the fleet's"
    );
}

#[test]
fn an_unclaimed_grant_can_be_revoked_but_a_claimed_one_cannot() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    b.remote().hold(Duration::ZERO, 0);
    let granted = b.remote().grant_probe().unwrap();
    assert!(b.remote().revoke_probe(&granted));
    assert_eq!(b.remote().snapshot().phase(), Phase::Held);
    assert!(b.try_acquire().is_err());
    assert!(
        !b.remote().revoke_probe(&granted),
        "a revoked grant is not revoked twice"
    );

    let granted = b.remote().grant_probe().unwrap();
    let probe = b.try_acquire().unwrap();
    assert!(!b.remote().revoke_probe(&granted));
    assert_eq!(b.remote().snapshot().phase(), Phase::Probing);
    probe.failure();
    let reopened = b.remote().snapshot();
    assert_eq!(
        (reopened.phase(), reopened.level(), reopened.failures()),
        (Phase::Open, 1, 1)
    );
}

#[test]
fn a_revoke_names_the_exact_grant() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    b.remote().hold(Duration::ZERO, 0);
    let granted = b.remote().grant_probe().unwrap();
    // A probe claimed later and dropped frees the slot under a new stamp: the grant's snapshot
    // no longer names it, a fresh one does.
    clock.advance(SECOND);
    drop(b.try_acquire().unwrap());
    assert!(!b.remote().revoke_probe(&granted));
    let fresh = b.remote().snapshot();
    assert_eq!(fresh.phase(), Phase::HalfOpen);
    assert!(b.remote().revoke_probe(&fresh));
    assert_eq!(b.remote().snapshot().phase(), Phase::Held);

    // A grant from an earlier hold does not match a later one.
    clock.advance(SECOND);
    let old = b.remote().grant_probe().unwrap();
    assert!(b.remote().revoke_probe(&old));
    clock.advance(SECOND);
    b.remote().hold(Duration::ZERO, 0);
    let _current = b.remote().grant_probe().unwrap();
    assert!(!b.remote().revoke_probe(&old));
    assert_eq!(b.remote().snapshot().phase(), Phase::HalfOpen);
}

#[test]
fn the_fleet_closing_closes_every_non_closed_phase_and_leaves_a_closed_count_alone() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    let _ = b.call(|| Err::<(), _>("one"));
    assert!(
        b.remote().close().is_none(),
        "closed already: nothing to do"
    );
    assert_eq!(b.failure_count(), 1, "the local count is its own");

    let _ = b.call(|| Err::<(), _>("two"));
    assert_eq!(b.state(), State::Open);
    let closed = b.remote().close().unwrap();
    assert_eq!(
        (closed.phase(), closed.failures(), closed.level()),
        (Phase::Closed, 0, 0)
    );

    b.remote().hold(SECOND, 3);
    assert_eq!(b.remote().close().unwrap().level(), 0);

    b.remote().hold(Duration::ZERO, 0);
    b.remote().grant_probe();
    let probe = b.try_acquire().unwrap();
    assert!(b.remote().close().is_some());
    probe.failure();
    assert_eq!(
        (b.state(), b.failure_count()),
        (State::Closed, 0),
        "the probe's late outcome belongs to the cycle the fleet closed"
    );
}

#[test]
fn outcomes_of_calls_admitted_before_a_hold_are_discarded() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .failure_threshold(2)
        .recovery_timeout(RECOVERY)
        .clock(clock.clone())
        .metrics()
        .build()
        .unwrap();
    let before = b.try_acquire().unwrap();
    b.remote().hold(SECOND, 0);
    b.remote().close();
    before.failure();
    assert_eq!(b.failure_count(), 0);
    assert_eq!(b.metrics().unwrap().discarded, 1);
}

#[test]
fn releasing_a_hold_hands_the_breaker_back_to_its_own_timer() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    assert!(b.remote().release().is_none(), "not held");

    b.remote().hold(SECOND * 3, 0);
    clock.advance(SECOND);
    let open = b.remote().release().unwrap();
    assert_eq!(open.phase(), Phase::Open);
    assert_eq!(
        open.remaining(),
        RECOVERY,
        "a full local open period, from now"
    );
    clock.advance(RECOVERY);
    assert!(b.try_acquire().unwrap().is_probe());

    let clock = ManualClock::new();
    let b = breaker(&clock);
    b.remote().hold(Duration::ZERO, 0);
    assert_eq!(b.remote().release().unwrap().phase(), Phase::HalfOpen);
    assert!(
        b.try_acquire().unwrap().is_probe(),
        "the fleet was probing: probe locally now"
    );
}

#[test]
fn manual_control_wins_over_every_remote_transition() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    for manual in [CircuitBreaker::force_open, CircuitBreaker::disable] {
        manual(&b);
        let before = b.remote().snapshot();
        assert!(b.remote().hold(SECOND, 1).is_none());
        assert!(b.remote().grant_probe().is_none());
        assert!(!b.remote().revoke_probe(&before));
        assert!(b.remote().close().is_none());
        assert!(b.remote().release().is_none());
        assert_eq!(b.remote().snapshot(), before);
        b.reset();
    }
    b.remote().hold(SECOND, 0);
    b.force_open();
    assert_eq!(b.state(), State::ForcedOpen, "manual moves a held breaker");
}

#[test]
fn remote_transitions_fire_events_once_per_change_of_public_state() {
    let clock = ManualClock::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let b = CircuitBreaker::builder()
        .recovery_timeout(RECOVERY)
        .clock(clock.clone())
        .on_transition(move |t| sink.lock().unwrap().push((t.from(), t.to())))
        .build()
        .unwrap();
    b.remote().hold(SECOND, 0);
    b.remote().hold(SECOND, 0); // a renewal: still open, no event
    b.remote().grant_probe();
    b.try_acquire().unwrap().success();
    b.remote().close(); // closed already
    assert_eq!(
        *log.lock().unwrap(),
        [
            (State::Closed, State::Open),
            (State::Open, State::HalfOpen),
            (State::HalfOpen, State::Closed),
        ]
    );
}

#[test]
fn snapshots_tell_local_and_fleet_phases_apart() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    let closed = b.remote().snapshot();
    assert_eq!(
        (closed.phase(), closed.state(), closed.remaining()),
        (Phase::Closed, State::Closed, Duration::ZERO)
    );
    let _ = b.call(|| Err::<(), _>("a"));
    let _ = b.call(|| Err::<(), _>("b"));
    let open = b.remote().snapshot();
    assert_eq!(
        (open.phase(), open.failures(), open.remaining()),
        (Phase::Open, 2, RECOVERY)
    );
    assert_ne!(open.cycle_id(), closed.cycle_id());
    let debug = format!("{open:?}");
    assert!(
        debug.contains("phase: Open") && debug.contains("failures: 2"),
        "{debug}"
    );
    assert!(format!("{:?}", b.remote()).starts_with("Remote(Snapshot"));
}

/// Regression (found by the differential check in `tests/model_equivalence.rs`): a revoke that
/// does not apply changes nothing. It used to clear the fleet's remaining time first, so a
/// breaker held again after its grant read half-open with no time left, and a release then
/// freed its probe slot at once instead of opening for a full local period.
#[test]
fn a_failed_revoke_leaves_a_held_breakers_time_alone() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    b.remote().hold(Duration::ZERO, 0);
    let granted = b.remote().grant_probe().unwrap();
    // The fleet re-opened before the grant was used: held again, 7 s to go.
    b.remote().hold(SECOND * 7, 0);
    assert!(!b.remote().revoke_probe(&granted), "not the granted word");
    assert_eq!((b.state(), b.open_remaining()), (State::Open, SECOND * 7));
    let rejected = b.try_acquire().unwrap_err();
    assert_eq!(
        (rejected.state(), rejected.remaining()),
        (State::Open, SECOND * 7)
    );
    let released = b.remote().release().unwrap();
    assert_eq!(
        (released.phase(), released.remaining()),
        (Phase::Open, RECOVERY)
    );
}

/// Regression (found by the differential check): at the end of the breaker's time range every
/// timeout counts as run out, so a hold has lapsed there and the next caller probes; the hold
/// used to read open with the fleet's time left all the same.
#[test]
fn a_hold_at_the_end_of_time_reads_as_lapsed() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    clock.advance(Duration::MAX);
    let held = b.remote().hold(SECOND, 0).unwrap();
    assert_eq!(
        (held.phase(), held.state(), held.remaining()),
        (Phase::Held, State::HalfOpen, Duration::ZERO)
    );
    assert_eq!(
        (b.state(), b.open_remaining()),
        (State::HalfOpen, Duration::ZERO)
    );
    assert!(b.try_acquire().unwrap().is_probe());
}
