//! Remote coordination (`breaker.remote()`): the hooks a fleet agent uses. Each test states one
//! documented contract of `src/remote.rs` with a manual clock.

use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use async_breaker::remote::Phase;
use async_breaker::{Backoff, Cause, CircuitBreaker, ManualClock, Reason, State};

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
        r#"circuit "fleet" is open, held by the fleet (4s remaining)"#
    );
    assert_eq!(
        (rejected.remote(), rejected.failures()),
        (Some(Reason::Sync), 0)
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
    assert_eq!(
        rejected.to_string(),
        r#"circuit "fleet" is half-open, held by the fleet (probe in flight on another replica)"#
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

/// What a listener saw: states, count after, cause.
type Seen = Arc<Mutex<Vec<(State, State, u32, Cause)>>>;

/// A breaker like [`breaker`] with a listener logging every transition.
fn listened(clock: &ManualClock) -> (CircuitBreaker, Seen) {
    clock.advance(Duration::from_secs(1_000));
    let seen = Seen::default();
    let sink = Arc::clone(&seen);
    let b = CircuitBreaker::builder()
        .name("fleet")
        .failure_threshold(2)
        .recovery_timeout(RECOVERY)
        .probe_deadline(DEADLINE)
        .clock(clock.clone())
        .on_transition(move |t| {
            sink.lock()
                .unwrap()
                .push((t.from(), t.to(), t.failures(), t.cause()));
        })
        .build()
        .unwrap();
    (b, seen)
}

/// Everything logged so far, emptying the log.
fn take(seen: &Seen) -> Vec<(State, State, u32, Cause)> {
    std::mem::take(&mut *seen.lock().unwrap())
}

#[test]
fn remote_transitions_fire_events_once_per_change_of_public_state() {
    let clock = ManualClock::new();
    let (b, seen) = listened(&clock);
    b.remote().hold(SECOND, 0);
    b.remote().hold(SECOND, 0); // a renewal: still open, no event
    b.remote().grant_probe(); // not a transition
    b.try_acquire().unwrap().success();
    b.remote().close(); // closed already
    assert_eq!(
        take(&seen),
        [
            (State::Closed, State::Open, 0, Cause::Remote(Reason::Sync)),
            (State::Open, State::HalfOpen, 0, Cause::Calls),
            (State::HalfOpen, State::Closed, 0, Cause::Calls),
        ]
    );
}

/// The breaker's own calls: a trip, the probe admitted, its failure, the next one's success,
/// a stalled probe reclaimed (no change of state: nothing), all `Calls`.
#[test]
fn the_breakers_own_transitions_are_caused_by_its_calls() {
    let clock = ManualClock::new();
    let (b, seen) = listened(&clock);
    let _ = b.call(|| Err::<(), _>("one"));
    let _ = b.call(|| Err::<(), _>("two"));
    clock.advance(RECOVERY);
    b.try_acquire().unwrap().failure();
    clock.advance(RECOVERY);
    let lost = b.try_acquire().unwrap();
    clock.advance(DEADLINE);
    b.try_acquire().unwrap().success(); // replaces the stalled probe, then closes
    drop(lost);
    assert_eq!(
        take(&seen),
        [
            (State::Closed, State::Open, 2, Cause::Calls),
            (State::Open, State::HalfOpen, 2, Cause::Calls),
            (State::HalfOpen, State::Open, 3, Cause::Calls),
            (State::Open, State::HalfOpen, 3, Cause::Calls),
            (State::HalfOpen, State::Closed, 0, Cause::Calls),
        ]
    );
}

#[test]
fn manual_transitions_are_caused_by_hand() {
    let clock = ManualClock::new();
    let (b, seen) = listened(&clock);
    b.remote().hold(SECOND, 0);
    b.force_open();
    b.disable();
    b.reset();
    assert_eq!(
        take(&seen),
        [
            (State::Closed, State::Open, 0, Cause::Remote(Reason::Sync)),
            (State::Open, State::ForcedOpen, 0, Cause::Manual),
            (State::ForcedOpen, State::Disabled, 0, Cause::Manual),
            (State::Disabled, State::Closed, 0, Cause::Manual),
        ]
    );
}

/// `hold_because` reports the reason it is given, whichever it is; `close_because` too;
/// `hold` and `close` report `Sync`; `release` reports `Released`.
#[test]
fn each_remote_transition_reports_the_reason_it_was_given() {
    let reasons = [
        Reason::Quorum {
            tripped: 3,
            live: 8,
        },
        Reason::Counted,
        Reason::Probe,
        Reason::Sync,
        Reason::Released,
    ];
    let clock = ManualClock::new();
    let (b, seen) = listened(&clock);
    for opened_for in reasons {
        for closed_for in reasons {
            b.remote().hold_because(SECOND, 0, opened_for).unwrap();
            b.remote().close_because(closed_for).unwrap();
            assert_eq!(
                take(&seen),
                [
                    (State::Closed, State::Open, 0, Cause::Remote(opened_for)),
                    (State::Open, State::Closed, 0, Cause::Remote(closed_for)),
                ]
            );
        }
    }
    // From half-open (a local probe in flight) too, and the probe's outcome is then stale.
    // (Each remote transition stamped its cycle a millisecond on: let the clock catch up.)
    clock.advance(SECOND);
    let _ = b.call(|| Err::<(), _>("one"));
    let _ = b.call(|| Err::<(), _>("two"));
    clock.advance(RECOVERY);
    let probe = b.try_acquire().unwrap();
    b.remote().hold_because(SECOND, 0, Reason::Counted);
    probe.success();
    b.remote().close();
    b.remote().hold(Duration::ZERO, 0);
    b.remote().release();
    assert_eq!(
        take(&seen),
        [
            (State::Closed, State::Open, 2, Cause::Calls),
            (State::Open, State::HalfOpen, 2, Cause::Calls),
            (
                State::HalfOpen,
                State::Open,
                2,
                Cause::Remote(Reason::Counted)
            ),
            (State::Open, State::Closed, 0, Cause::Remote(Reason::Sync)),
            (State::Closed, State::Open, 0, Cause::Remote(Reason::Sync)),
            (
                State::Open,
                State::HalfOpen,
                0,
                Cause::Remote(Reason::Released)
            ),
        ]
    );
    // Released while the fleet's period still ran: open on its own timer, still open.
    b.remote().hold(SECOND, 0);
    b.remote().release();
    assert_eq!(
        take(&seen),
        [(State::HalfOpen, State::Open, 0, Cause::Remote(Reason::Sync))]
    );
}

/// A grant given back unused is no transition at all; a claimed grant reports open ->
/// half-open and then the probe's outcome, both the breaker's own calls.
#[test]
fn a_grant_is_reported_only_once_claimed() {
    let clock = ManualClock::new();
    let (b, seen) = listened(&clock);
    b.remote().hold_because(
        SECOND,
        0,
        Reason::Quorum {
            tripped: 2,
            live: 3,
        },
    );
    take(&seen);
    clock.advance(SECOND);
    for _ in 0..5 {
        let granted = b.remote().grant_probe().unwrap();
        assert_eq!(granted.state(), State::HalfOpen);
        assert_eq!(b.state(), State::HalfOpen);
        assert!(b.remote().revoke_probe(&granted));
        b.remote().hold(Duration::ZERO, 0); // renewed between grants: nothing either
    }
    assert_eq!(take(&seen), [], "no listener call for a grant given back");

    b.remote().grant_probe().unwrap();
    b.try_acquire().unwrap().failure();
    b.remote().hold_because(SECOND, 1, Reason::Probe); // open already: nothing
    clock.advance(SECOND);
    b.remote().grant_probe().unwrap();
    b.try_acquire().unwrap().success();
    assert_eq!(
        take(&seen),
        [
            (State::Open, State::HalfOpen, 0, Cause::Calls),
            (State::HalfOpen, State::Open, 1, Cause::Calls),
            (State::Open, State::HalfOpen, 1, Cause::Calls),
            (State::HalfOpen, State::Closed, 0, Cause::Calls),
        ]
    );

    // A grant claimed and dropped leaves a half-open slot that was reported as such: taking it
    // back is reported, so the listener's states always follow on.
    b.remote().hold(Duration::ZERO, 0);
    let granted = b.remote().grant_probe().unwrap();
    drop(b.try_acquire().unwrap());
    assert!(!b.remote().revoke_probe(&granted), "claimed since");
    assert!(b.remote().revoke_probe(&b.remote().snapshot()));
    assert_eq!(
        take(&seen),
        [
            (State::Closed, State::Open, 0, Cause::Remote(Reason::Sync)),
            (State::Open, State::HalfOpen, 0, Cause::Calls),
            (State::HalfOpen, State::Open, 0, Cause::Remote(Reason::Sync)),
        ]
    );
}

/// A hold nobody renewed lapses into a local probe: the breaker's own call.
#[test]
fn a_lapsed_hold_is_probed_by_the_breakers_own_calls() {
    let clock = ManualClock::new();
    let (b, seen) = listened(&clock);
    b.remote().hold_because(SECOND, 0, Reason::Counted);
    clock.advance(RECOVERY + DEADLINE);
    b.try_acquire().unwrap().success();
    assert_eq!(
        take(&seen),
        [
            (
                State::Closed,
                State::Open,
                0,
                Cause::Remote(Reason::Counted)
            ),
            (State::Open, State::HalfOpen, 0, Cause::Calls),
            (State::HalfOpen, State::Closed, 0, Cause::Calls),
        ]
    );
}

#[test]
fn a_transition_displays_its_cause() {
    let shown = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&shown);
    let b = CircuitBreaker::builder()
        .name("dep")
        .on_transition(move |t| sink.lock().unwrap().push(t.to_string()))
        .build()
        .unwrap();
    b.remote().hold_because(
        SECOND,
        0,
        Reason::Quorum {
            tripped: 3,
            live: 8,
        },
    );
    b.remote().close_because(Reason::Probe);
    b.remote().hold_because(SECOND, 0, Reason::Counted);
    b.reset();
    assert_eq!(
        *shown.lock().unwrap(),
        [
            r#"circuit "dep": closed -> open (0 failures; the fleet: 3 of 8 replicas tripped)"#,
            r#"circuit "dep": open -> closed (0 failures; the fleet's probe)"#,
            r#"circuit "dep": closed -> open (0 failures; the fleet: failures counted across replicas reached the threshold)"#,
            r#"circuit "dep": open -> closed (0 failures; manual control)"#,
        ]
    );
}

/// A rejection by a held breaker says the fleet holds it and why; a renewal with `Sync` keeps
/// the reason, any other reason replaces it, and a hold from a breaker not held yet takes its
/// reason, `Sync` included.
#[test]
fn a_held_rejection_names_the_reason_of_the_hold_it_renews() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    let rejection = |b: &CircuitBreaker| b.try_acquire().unwrap_err();
    let quorum = Reason::Quorum {
        tripped: 3,
        live: 8,
    };
    b.remote().hold_because(SECOND * 5, 0, quorum);
    for _ in 0..3 {
        clock.advance(SECOND);
        b.remote().hold(SECOND * 5, 0); // the agent reconciling
        assert_eq!(rejection(&b).remote(), Some(quorum));
    }
    assert_eq!(
        rejection(&b).to_string(),
        r#"circuit "fleet" is open, held by the fleet (3 of 8 replicas tripped, 5s remaining)"#
    );
    // Granted and revoked in between: still the same hold.
    b.remote().hold(Duration::ZERO, 0);
    let granted = b.remote().grant_probe().unwrap();
    b.remote().hold(SECOND, 0); // re-held while granted: a renewal
    assert_eq!(rejection(&b).remote(), Some(quorum));
    let granted_again = b.remote().grant_probe().unwrap();
    assert!(b.remote().revoke_probe(&granted_again));
    assert!(!b.remote().revoke_probe(&granted));
    assert_eq!(rejection(&b).remote(), Some(quorum));

    b.remote().hold_because(SECOND * 2, 1, Reason::Probe);
    let rejected = rejection(&b);
    assert_eq!(
        (rejected.remote(), rejected.failures()),
        (Some(Reason::Probe), 0)
    );
    assert_eq!(
        rejected.to_string(),
        r#"circuit "fleet" is open, held by the fleet (its probe failed, 2s remaining)"#
    );
    b.remote().hold_because(SECOND * 2, 1, Reason::Counted);
    assert_eq!(rejection(&b).remote(), Some(Reason::Counted));

    // Closed in between: the next hold's reason is its own, even `Sync`.
    b.remote().close_because(Reason::Probe);
    b.remote().hold(SECOND, 0);
    assert_eq!(rejection(&b).remote(), Some(Reason::Sync));
    // Open on its own timer: not held, no reason, the local count.
    b.remote().close();
    let _ = b.call(|| Err::<(), _>("one"));
    let _ = b.call(|| Err::<(), _>("two"));
    let rejected = rejection(&b);
    assert_eq!((rejected.remote(), rejected.failures()), (None, 2));
    b.remote().hold(SECOND, 0); // a plain open breaker held: not a renewal
    assert_eq!(rejection(&b).remote(), Some(Reason::Sync));
}

/// Demand for the fleet's probe: set only by a caller rejected by a hold whose fleet period is
/// over; one flag however many callers; taken once; cleared by a hold with time left and by the
/// fleet closing; never set by a hold with time left, a local open period or a probe in flight.
#[test]
fn demand_is_set_by_a_rejection_while_the_fleets_period_is_over_and_taken_once() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    let remote = b.remote();
    assert!(!remote.take_demand(), "a fresh breaker");

    // A local open period and a local probe in flight turn callers away: no demand.
    let _ = b.call(|| Err::<(), _>("one"));
    let _ = b.call(|| Err::<(), _>("two"));
    assert!(b.try_acquire().is_err());
    clock.advance(RECOVERY);
    let probe = b.try_acquire().unwrap();
    assert!(b.try_acquire().is_err());
    assert!(!remote.take_demand());
    drop(probe);

    // Held with time left: no demand.
    remote.hold(SECOND, 0);
    assert!(b.try_acquire().is_err());
    assert!(!remote.take_demand());

    // The fleet's period runs out: the first caller turned away asks, the rest add nothing.
    // (The hold's period runs from its stamp, a millisecond after the probe's.)
    clock.advance(SECOND * 2);
    for _ in 0..5 {
        assert!(b.try_acquire().is_err());
    }
    assert!(remote.take_demand());
    assert!(!remote.take_demand(), "taken");
    assert!(b.try_acquire().is_err());
    assert!(remote.take_demand(), "asked again after it was taken");

    // Cleared by a hold with time left, not by one without (the period is still over).
    assert!(b.try_acquire().is_err());
    remote.hold(Duration::ZERO, 0);
    assert!(remote.take_demand(), "a renewal of the due hold keeps it");
    assert!(b.try_acquire().is_err());
    remote.hold_because(SECOND, 1, Reason::Probe);
    assert!(!remote.take_demand(), "a new open period clears it");

    // Cleared by the fleet closing, and by a close that finds the breaker closed already.
    clock.advance(SECOND * 2);
    assert!(b.try_acquire().is_err());
    remote.close_because(Reason::Probe).unwrap();
    assert!(!remote.take_demand());
    remote.hold(Duration::ZERO, 0);
    assert!(b.try_acquire().is_err());
    b.reset();
    assert!(remote.close().is_none(), "closed already");
    assert!(!remote.take_demand());

    // A grant admits the caller: the probe is here, so nobody is turned away asking for it.
    remote.hold(Duration::ZERO, 0);
    remote.grant_probe().unwrap();
    let probe = b.try_acquire().unwrap();
    assert!(b.try_acquire().is_err(), "the probe in flight here");
    assert!(!remote.take_demand());
    drop(probe);
}

/// The demand flag is one flag: threads rejected together set it, one take sees it, the next
/// does not.
#[test]
fn demand_from_racing_callers_is_taken_exactly_once() {
    for _ in 0..20 {
        let clock = ManualClock::new();
        let b = Arc::new(breaker(&clock));
        b.remote().hold(Duration::ZERO, 0);
        let barrier = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (b, barrier) = (Arc::clone(&b), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..100 {
                        assert!(b.try_acquire().is_err());
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert!(b.remote().take_demand());
        assert!(!b.remote().take_demand());
    }
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
