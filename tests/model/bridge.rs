//! The bridge from the model's settings and states to the real breaker's API: the one place
//! where the differential checks (the proptest and both fuzz targets) configure a real breaker
//! exactly as the model is configured, read its state in the model's terms, play a remote
//! coordinator against both, and compare the transitions each reported.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_breaker::remote::{Phase, Snapshot};
use async_breaker::{
    Backoff, Builder, Cause, CircuitBreaker, FailureRate, HalfOpen, OpenError, Reason, State,
};

use super::{
    Model, ModelCause, ModelPhase, ModelReason, ModelSnapshot, ModelState, Options, Rate, Reported,
};

/// The error the guarded calls return; the breaker's predicate counts it only if `matching`.
#[derive(Debug)]
pub struct Fault {
    pub matching: bool,
}

/// The breaker's classifier: a predicate, so that errors can match or not.
pub type Predicate = fn(&Fault) -> bool;
/// The breaker under test.
pub type Breaker = CircuitBreaker<Predicate>;

/// The predicate: a `Fault` counts as a failure only if it says so.
pub fn is_matching(fault: &Fault) -> bool {
    fault.matching
}

/// The real `FailureRate` for the model's `Rate`.
pub fn failure_rate(rate: Rate) -> FailureRate {
    match rate {
        Rate::LastCalls {
            calls,
            min_calls,
            percent,
        } => FailureRate::last_calls(calls, min_calls, percent),
        Rate::Last {
            window,
            buckets,
            min_calls,
            percent,
        } => FailureRate::last(window, buckets, min_calls, percent),
    }
}

/// `builder` with every optional setting of `options` applied as given.
pub fn configure<C>(mut builder: Builder<C>, options: &Options) -> Builder<C> {
    if let Some(deadline) = options.probe_deadline {
        builder = builder.probe_deadline(deadline);
    }
    if let Some((max, jitter)) = options.backoff {
        let backoff = Backoff::exponential(max);
        builder = builder.backoff(if jitter {
            backoff.with_jitter()
        } else {
            backoff
        });
    }
    if let Some(threshold) = options.slow_call_threshold {
        builder = builder.slow_call_threshold(threshold);
    }
    if let Some((threshold, percent)) = options.slow_call_rate {
        builder = builder.slow_call_rate(threshold, percent);
    }
    if let Some(rate) = options.failure_rate {
        builder = builder.failure_rate(failure_rate(rate));
    }
    if let Some((probes, successes)) = options.half_open {
        builder = builder.half_open(HalfOpen::probes(probes).closing_after(successes));
    }
    builder
}

/// The real breaker's state in the model's terms.
pub fn model_state(state: State) -> ModelState {
    match state {
        State::Closed => ModelState::Closed,
        State::Open => ModelState::Open,
        State::HalfOpen => ModelState::HalfOpen,
        State::ForcedOpen => ModelState::ForcedOpen,
        State::Disabled => ModelState::Disabled,
        other => panic!("unexpected state {other:?}"),
    }
}

/// The real snapshot's phase in the model's terms.
pub fn model_phase(phase: Phase) -> ModelPhase {
    match phase {
        Phase::Closed => ModelPhase::Closed,
        Phase::Open => ModelPhase::Open,
        Phase::Held => ModelPhase::Held,
        Phase::HalfOpen => ModelPhase::HalfOpen,
        Phase::Probing => ModelPhase::Probing,
        Phase::ForcedOpen => ModelPhase::ForcedOpen,
        Phase::Disabled => ModelPhase::Disabled,
        other => panic!("unexpected phase {other:?}"),
    }
}

/// The real reason for the model's.
pub fn reason(reason: ModelReason) -> Reason {
    match reason {
        ModelReason::Quorum { tripped, live } => Reason::Quorum { tripped, live },
        ModelReason::Counted => Reason::Counted,
        ModelReason::Probe => Reason::Probe,
        ModelReason::Sync => Reason::Sync,
        ModelReason::Released => Reason::Released,
    }
}

/// The real cause for the model's.
pub fn cause(cause: ModelCause) -> Cause {
    match cause {
        ModelCause::Calls => Cause::Calls,
        ModelCause::Manual => Cause::Manual,
        ModelCause::Remote(r) => Cause::Remote(reason(r)),
    }
}

/// A remote coordinator's operation, applied to the breaker (`breaker.remote()`) and the model.
#[derive(Clone, Copy, Debug)]
pub enum RemoteOp {
    /// `hold_because(remaining, level, reason)`, or `hold(remaining, level)` when the reason is
    /// `None`.
    Hold(Duration, u8, Option<ModelReason>),
    /// `grant_probe()`.
    Grant,
    /// `revoke_probe(granted)`: 0 names the last granted snapshot, anything else one of the
    /// snapshots seen lately (usually stale), modulo their number.
    Revoke(usize),
    /// `close_because(reason)`, or `close()` when the reason is `None`.
    Close(Option<ModelReason>),
    /// `release()`.
    Release,
    /// `snapshot()` (also compared after every step).
    Snapshot,
    /// `take_demand()`.
    TakeDemand,
}

/// The transitions a breaker reported to its listener: states, count after, cause.
pub type Log = Arc<Mutex<Vec<(State, State, u32, Cause)>>>;

/// `builder` with a listener that appends every transition to `log`.
pub fn listen<C>(builder: Builder<C>, log: &Log) -> Builder<C> {
    let log = Arc::clone(log);
    builder.on_transition(move |t| {
        log.lock().unwrap_or_else(PoisonError::into_inner).push((
            t.from(),
            t.to(),
            t.failures(),
            t.cause(),
        ));
    })
}

/// Whether the breaker reported exactly the transitions the model did, in order.
///
/// # Errors
///
/// Both logs, when they differ.
pub fn agree_transitions(log: &Log, model: &Model) -> Result<(), String> {
    let seen = log.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let want: Vec<(ModelState, ModelState, u32, Cause)> = model
        .transitions()
        .iter()
        .map(|r: &Reported| (r.from, r.to, r.failures, cause(r.cause)))
        .collect();
    let seen_in_model_terms: Vec<(ModelState, ModelState, u32, Cause)> = seen
        .iter()
        .map(|&(from, to, failures, c)| (model_state(from), model_state(to), failures, c))
        .collect();
    if seen_in_model_terms == want {
        Ok(())
    } else {
        Err(format!(
            "transitions: breaker {seen_in_model_terms:?}, model {want:?}"
        ))
    }
}

/// Whether a rejection says what the model's does about a hold: the reason, or none.
///
/// # Errors
///
/// Both, when they differ.
pub fn agree_hold(rejected: &OpenError, held: Option<ModelReason>) -> Result<(), String> {
    let want = held.map(reason);
    if rejected.remote() == want {
        Ok(())
    } else {
        Err(format!(
            "rejection {rejected:?} held for {:?}, model {want:?}",
            rejected.remote()
        ))
    }
}

/// How many recent snapshots a revoke may name.
const SEEN: usize = 16;

/// The coordinator's side of a differential run: the snapshots it has been handed (the
/// breaker's and the model's side by side), so that revokes can name them and successive
/// readings can be compared.
#[derive(Default)]
pub struct Coordinator {
    granted: Option<(Snapshot, ModelSnapshot)>,
    seen: Vec<(Snapshot, ModelSnapshot)>,
    last: Option<(Snapshot, ModelSnapshot)>,
}

impl Coordinator {
    fn remember(&mut self, pair: (Snapshot, ModelSnapshot)) {
        if self.seen.len() == SEEN {
            self.seen.remove(0);
        }
        self.seen.push(pair);
    }

    /// Applies `op` to both at `now_nanos` (the breaker's clock reads it), comparing what each
    /// returns.
    ///
    /// # Errors
    ///
    /// The first disagreement.
    pub fn apply(
        &mut self,
        breaker: &Breaker,
        model: &mut Model,
        op: RemoteOp,
        now_nanos: u64,
    ) -> Result<(), String> {
        let remote = breaker.remote();
        let (real, expected) = match op {
            RemoteOp::Hold(remaining, level, why) => (
                match why {
                    Some(why) => remote.hold_because(remaining, level, reason(why)),
                    None => remote.hold(remaining, level),
                },
                model.hold(
                    remaining,
                    level,
                    why.unwrap_or(ModelReason::Sync),
                    now_nanos,
                ),
            ),
            RemoteOp::Grant => (remote.grant_probe(), model.grant(now_nanos)),
            RemoteOp::Close(why) => (
                match why {
                    Some(why) => remote.close_because(reason(why)),
                    None => remote.close(),
                },
                model.close_remotely(why.unwrap_or(ModelReason::Sync), now_nanos),
            ),
            RemoteOp::Release => (remote.release(), model.release_hold(now_nanos)),
            RemoteOp::Snapshot => (Some(remote.snapshot()), Some(model.snapshot(now_nanos))),
            RemoteOp::TakeDemand => {
                let (real, expected) = (remote.take_demand(), model.take_demand());
                if real != expected {
                    return Err(format!("{op:?}: breaker {real}, model {expected}"));
                }
                return Ok(());
            }
            RemoteOp::Revoke(index) => {
                let named = match (index, self.granted) {
                    (0, Some(granted)) => Some(granted),
                    _ if self.seen.is_empty() => None,
                    _ => Some(self.seen[index % self.seen.len()]),
                };
                if let Some((real, expected)) = named {
                    let revoked = remote.revoke_probe(&real);
                    let model_revoked = model.revoke(&expected, now_nanos);
                    if revoked != model_revoked {
                        return Err(format!(
                            "{op:?} of {real:?}: breaker {revoked}, model {model_revoked} \
                             ({expected:?})"
                        ));
                    }
                }
                return Ok(());
            }
        };
        match (real, expected) {
            (Some(real), Some(expected)) => {
                agree(&real, &expected).map_err(|e| format!("{op:?} returned {e}"))?;
                if matches!(op, RemoteOp::Grant) {
                    self.granted = Some((real, expected));
                }
                self.remember((real, expected));
                Ok(())
            }
            (None, None) => Ok(()),
            (real, expected) => Err(format!("{op:?}: breaker {real:?}, model {expected:?}")),
        }
    }

    /// Compares a fresh snapshot of each at `now_nanos`, and whether each saw its cycle change
    /// since the last such check.
    ///
    /// # Errors
    ///
    /// The first disagreement.
    pub fn check(
        &mut self,
        breaker: &Breaker,
        model: &Model,
        now_nanos: u64,
    ) -> Result<(), String> {
        let real = breaker.remote().snapshot();
        let expected = model.snapshot(now_nanos);
        agree(&real, &expected).map_err(|e| format!("snapshot: {e}"))?;
        if let Some((before, model_before)) = self.last {
            let changed = before.cycle_id() != real.cycle_id();
            let model_changed = model_before.cycle_id() != expected.cycle_id();
            if changed != model_changed {
                return Err(format!(
                    "cycle changed: breaker {changed} ({before:?} to {real:?}), model \
                     {model_changed} ({model_before:?} to {expected:?})"
                ));
            }
        }
        self.last = Some((real, expected));
        Ok(())
    }
}

/// Whether a real snapshot reads as the model's: phase, state, count, level and time left.
///
/// # Errors
///
/// Both, when they differ.
pub fn agree(real: &Snapshot, expected: &ModelSnapshot) -> Result<(), String> {
    let seen = (
        model_phase(real.phase()),
        model_state(real.state()),
        real.failures(),
        u32::from(real.level()),
        real.remaining(),
    );
    let want = (
        expected.phase,
        expected.state,
        expected.failures,
        expected.level,
        Duration::from_millis(expected.remaining_ms),
    );
    if seen == want {
        Ok(())
    } else {
        Err(format!("breaker {real:?}, model {expected:?}"))
    }
}
