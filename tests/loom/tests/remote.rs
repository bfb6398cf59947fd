//! Loom models of the remote transitions (`breaker.remote()`, used by the fleet agent) racing
//! the call path: a grant against callers, a revoke against the caller claiming the grant (and
//! what each reports), a hold against a closed-state outcome, the fleet closing against the
//! probe's own outcome, a lapsed hold reclaimed by racing callers, and the demand for the
//! fleet's probe against the coordinator taking it.
//!
//! Built and run only under `--cfg async_breaker_loom` (see `.ci/loom.sh`). Every model drives
//! the public API with a manual clock; the breaker is shared through `std::sync::Arc`, the
//! objects loom tracks (the word, the hold's side word, the clock) are made inside each
//! execution. Transitions are observed through `on_transition` into a `std::sync::Mutex` log
//! (loom does not track it; no loom operation runs while it is held).

#![cfg(async_breaker_loom)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use loom::thread;

use async_breaker::remote::Phase;
use async_breaker::{Cause, CircuitBreaker, ManualClock, OwnedPermit, State};

const RECOVERY: Duration = Duration::from_secs(1);
const PROBE_DEADLINE: Duration = Duration::from_secs(5);

type Breaker = Arc<CircuitBreaker>;

fn breaker(threshold: u32) -> (Breaker, ManualClock) {
    let clock = ManualClock::new();
    clock.advance(Duration::from_secs(100));
    let breaker = CircuitBreaker::builder()
        .failure_threshold(threshold)
        .recovery_timeout(RECOVERY)
        .probe_deadline(PROBE_DEADLINE)
        .clock(clock.clone())
        .build()
        .expect("valid model configuration");
    (Arc::new(breaker), clock)
}

/// A breaker held by the fleet with its open period over (the fleet is probing elsewhere).
fn held() -> (Breaker, ManualClock) {
    let (breaker, clock) = breaker(1);
    breaker.remote().hold(Duration::ZERO, 0).expect("holds");
    assert!(breaker.try_acquire().is_err());
    (breaker, clock)
}

fn claim(breaker: &Breaker) -> Option<OwnedPermit> {
    breaker.try_acquire_owned().ok()
}

/// Model R1: the agent grants the fleet's probe while two callers arrive. At most one caller is
/// admitted, always as the probe; a caller admitted means the grant came first.
#[test]
fn a_grant_racing_callers_admits_at_most_one_probe() {
    loom::model(|| {
        let (breaker, _clock) = held();
        let agent = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || breaker.remote().grant_probe().is_some())
        };
        let callers: Vec<_> = (0..2)
            .map(|_| {
                let breaker = Arc::clone(&breaker);
                thread::spawn(move || claim(&breaker))
            })
            .collect();
        assert!(agent.join().unwrap(), "a held breaker accepts the grant");
        let admitted: Vec<OwnedPermit> = callers
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect();
        assert!(admitted.len() <= 1, "two probes admitted");
        if let Some(probe) = admitted.first() {
            assert!(probe.is_probe());
            assert_eq!(breaker.remote().snapshot().phase(), Phase::Probing);
        } else {
            assert_eq!(breaker.remote().snapshot().phase(), Phase::HalfOpen);
        }
    });
}

/// Model R2: the agent revokes an unclaimed grant while a caller claims it. Exactly one of them
/// wins: either the revoke (the caller is rejected, the breaker is held again) or the caller
/// (the revoke fails and the probe is in flight). Never both, never neither.
#[test]
fn a_revoke_racing_the_claim_lets_exactly_one_win() {
    loom::model(|| {
        let (breaker, _clock) = held();
        let granted = breaker.remote().grant_probe().expect("held");
        let agent = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || breaker.remote().revoke_probe(&granted))
        };
        let caller = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || claim(&breaker))
        };
        let revoked = agent.join().unwrap();
        let probe = caller.join().unwrap();
        assert_ne!(
            revoked,
            probe.is_some(),
            "exactly one of revoke and claim wins"
        );
        let phase = breaker.remote().snapshot().phase();
        if revoked {
            assert_eq!(phase, Phase::Held);
        } else {
            assert!(probe.expect("claimed").is_probe());
            assert_eq!(phase, Phase::Probing);
        }
    });
}

/// Model R3: the fleet's hold races a closed-state failure that reaches the threshold. Either
/// order ends held; the failure counts only if it landed before the hold (then the count it
/// made survives the hold), and the breaker is never left in its own open period.
#[test]
fn a_hold_racing_a_tripping_failure_ends_held() {
    loom::model(|| {
        let (breaker, _clock) = breaker(1);
        let permit = breaker.try_acquire_owned().expect("closed admits");
        let agent = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || breaker.remote().hold(Duration::from_millis(500), 0))
        };
        let caller = thread::spawn(move || permit.failure());
        assert!(agent.join().unwrap().is_some());
        caller.join().unwrap();
        let after = breaker.remote().snapshot();
        assert_eq!(after.phase(), Phase::Held);
        assert!(after.failures() <= 1);
        assert_eq!(breaker.state(), State::Open);
    });
}

/// Model R4: the fleet closes while the local probe reports a failure. Either order ends
/// closed with no failures and the base level: a failure after the close is stale, a failure
/// before it re-opened the breaker, which the close then closes.
#[test]
fn the_fleet_closing_racing_the_probe_outcome_ends_closed() {
    loom::model(|| {
        let (breaker, _clock) = held();
        breaker.remote().grant_probe().expect("held");
        let probe = breaker.try_acquire_owned().expect("granted");
        assert!(probe.is_probe());
        let agent = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || breaker.remote().close().is_some())
        };
        let caller = thread::spawn(move || probe.failure());
        assert!(
            agent.join().unwrap(),
            "the probe's word is not closed yet, in either order"
        );
        caller.join().unwrap();
        let after = breaker.remote().snapshot();
        assert_eq!(
            (after.phase(), after.failures(), after.level()),
            (Phase::Closed, 0, 0)
        );
    });
}

/// Model R5: a hold nobody renewed lapses; two callers race for the local probe that replaces
/// the fleet's. Exactly one is admitted.
#[test]
fn a_lapsed_hold_admits_exactly_one_local_probe() {
    loom::model(|| {
        let (breaker, clock) = held();
        clock.advance(RECOVERY + PROBE_DEADLINE);
        let callers: Vec<_> = (0..2)
            .map(|_| {
                let breaker = Arc::clone(&breaker);
                thread::spawn(move || claim(&breaker))
            })
            .collect();
        let admitted: Vec<OwnedPermit> = callers
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect();
        assert_eq!(admitted.len(), 1, "exactly one local probe");
        assert!(admitted[0].is_probe());
    });
}

/// Model R6: a renewal of the hold races a caller that finds the hold lapsed. Either the
/// renewal lands first (the caller is rejected and the breaker stays held) or the caller's
/// probe does (the renewal then holds again and the probe's outcome is stale): never a probe
/// counted against the renewed hold.
#[test]
fn a_renewal_racing_a_lapse_never_lets_a_stale_probe_count() {
    loom::model(|| {
        let (breaker, clock) = held();
        clock.advance(RECOVERY + PROBE_DEADLINE);
        let agent = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || breaker.remote().hold(Duration::ZERO, 0).is_some())
        };
        let caller = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || claim(&breaker))
        };
        assert!(agent.join().unwrap());
        if let Some(probe) = caller.join().unwrap() {
            probe.success();
        }
        assert_eq!(breaker.remote().snapshot().phase(), Phase::Held);
    });
}

/// Model R7: a caller turned away by a hold whose fleet period is over sets the demand while
/// the coordinator takes it. The demand is never lost and never doubled: exactly one of the
/// concurrent take and a take afterwards sees it.
#[test]
fn demand_racing_its_take_is_seen_exactly_once() {
    loom::model(|| {
        let (breaker, _clock) = held();
        assert!(
            breaker.remote().take_demand(),
            "the rejection in `held` asked"
        );
        let agent = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || breaker.remote().take_demand())
        };
        let caller = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || breaker.try_acquire_owned().is_err())
        };
        assert!(caller.join().unwrap(), "held: rejected");
        let during = agent.join().unwrap();
        let after = breaker.remote().take_demand();
        assert!(during != after, "taken during: {during}, after: {after}");
        assert!(!breaker.remote().take_demand());
    });
}

/// Model R8: the revoke of an unclaimed grant races the caller claiming it, with a listener.
/// The grant itself reported nothing; if the revoke wins nothing is reported at all (a grant
/// given back unused leaves no trace), and if the claim wins exactly `Open -> HalfOpen` by the
/// breaker's own calls is.
#[test]
fn a_grant_is_reported_only_by_the_caller_that_claims_it() {
    loom::model(|| {
        let clock = ManualClock::new();
        clock.advance(Duration::from_secs(100));
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        let breaker = Arc::new(
            CircuitBreaker::builder()
                .failure_threshold(1)
                .recovery_timeout(RECOVERY)
                .probe_deadline(PROBE_DEADLINE)
                .clock(clock.clone())
                .on_transition(move |t| sink.lock().unwrap().push((t.from(), t.to(), t.cause())))
                .build()
                .expect("valid model configuration"),
        );
        breaker.remote().hold(Duration::ZERO, 0).expect("holds");
        log.lock().unwrap().clear();
        let granted = breaker.remote().grant_probe().expect("held");
        assert!(
            log.lock().unwrap().is_empty(),
            "a grant is not a transition"
        );
        let agent = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || breaker.remote().revoke_probe(&granted))
        };
        let caller = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || claim(&breaker))
        };
        let revoked = agent.join().unwrap();
        let probe = caller.join().unwrap();
        let seen = log.lock().unwrap().clone();
        if revoked {
            assert!(probe.is_none());
            assert_eq!(seen, [], "a grant given back unused");
        } else {
            assert!(probe.expect("claimed").is_probe());
            assert_eq!(seen, [(State::Open, State::HalfOpen, Cause::Calls)]);
        }
    });
}
