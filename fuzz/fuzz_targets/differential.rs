//! Differential fuzzing: an arbitrary sequence of operations applied to the real breaker (driven
//! by a `ManualClock`) and to the plain reference model shared with the property tests
//! (`tests/model/mod.rs`). Every admission decision, `state()`, `failure_count()`,
//! `open_remaining()` and `remote().snapshot()` (phase, state, count, level, time left, whether
//! the cycle changed) must agree after every operation.
//!
//! The operations cover admission (borrowed, owned, `call`), every way of completing a permit,
//! slow successes, the manual transitions, a remote coordinator (`hold`/`hold_because` with any
//! remaining time, level and reason, `grant_probe`, `revoke_probe` of the last grant or of an
//! older snapshot, `close`/`close_because`, `release`, `snapshot`, `take_demand`, each answer
//! compared, and what a rejection by a held breaker says of the hold) and, when the input asks
//! for a listener, every transition reported with its cause; and a clock that moves anywhere, including the last
//! millisecond of the breaker's 139-year range and beyond: there the breaker cannot tell a new
//! cycle from the previous one (a documented limit), and the model mirrors that. The settings
//! cover, each optional, a probe deadline, backoff with or without jitter, a slow-call threshold,
//! a count- (one word up to 32 calls, a ring of slots beyond) or time-based failure-rate window,
//! a slow-call rate (over that window or the default one of 100 calls) and several half-open
//! probes.
#![no_main]

// The configuration-validation part of the model is exercised by the `config` target.
#[allow(dead_code)]
#[path = "../../tests/model/mod.rs"]
mod model;
use model::bridge::{
    agree_hold, agree_transitions, configure, is_matching, listen, model_state, Breaker,
    Coordinator, Fault, Log, Predicate, RemoteOp,
};

use std::sync::Arc;
use std::time::Duration;

use arbitrary::Arbitrary;
use async_breaker::{CircuitBreaker, Error, ManualClock, OpenError, Outcome, OwnedPermit, Permit};
use libfuzzer_sys::fuzz_target;

use model::{Decision, Manual, Model, ModelReason, Options, Rate, Settings, Token, TIME_MAX_MS};

const MS: u64 = 1_000_000;

#[derive(Arbitrary, Clone, Copy, Debug)]
enum Completion {
    Success,
    RecordOk,
    Failure,
    MatchingError,
    NonMatchingError,
    Ignore,
    RecordSuccess,
    RecordFailure,
    Drop,
    Forget,
}

#[derive(Arbitrary, Clone, Copy, Debug)]
enum CallResult {
    Ok,
    Matching,
    NonMatching,
}

#[derive(Arbitrary, Clone, Copy, Debug)]
enum ManualOp {
    ForceOpen,
    Disable,
    Reset,
}

/// Why a coordinator holds or closes.
#[derive(Arbitrary, Clone, Copy, Debug)]
enum ReasonInput {
    Quorum(u16, u16),
    Counted,
    Probe,
    Sync,
    Released,
}

#[derive(Arbitrary, Clone, Copy, Debug)]
enum RemoteInput {
    /// `hold` (no reason) or `hold_because`: the fleet's remaining time (see
    /// [`fleet_remaining`]) and level.
    Hold(u32, u8, Option<ReasonInput>),
    Grant,
    /// `revoke_probe`: of the last grant, or else of a recent snapshot (usually stale).
    Revoke(bool, u8),
    /// `close` (no reason) or `close_because`.
    Close(Option<ReasonInput>),
    Release,
    Snapshot,
    TakeDemand,
}

#[derive(Arbitrary, Clone, Copy, Debug)]
enum Op {
    /// `try_acquire`, holding the permit.
    Acquire,
    /// `try_acquire_owned`, holding the permit.
    AcquireOwned,
    /// `call` with a closure that advances the clock by this many nanoseconds (up to about
    /// 8 ms) and returns this.
    Call(CallResult, u32),
    /// Completes held permit `index % held`.
    Complete(u8, Completion),
    /// Advances by this many nanoseconds (up to about 8 ms), then completes held permit
    /// `index % held` as a success: a slow one, with a slow-call threshold, if it took long
    /// enough.
    SlowSuccess(u8, u32),
    /// `force_open`, `disable` or `reset`.
    Manual(ManualOp),
    /// Advances by this many nanoseconds (up to about 4 ms).
    AdvanceNanos(u32),
    /// Advances by this many milliseconds.
    AdvanceMillis(u8),
    /// Advances by anything (saturating).
    AdvanceFar(u64),
    /// Sets the clock back by this many nanoseconds.
    StepBack(u32),
    /// Sets the clock to anything, forwards or backwards.
    Set(u64),
    /// Sets the clock to this many milliseconds before the end of the range.
    NearEnd(u8),
    /// Reads the state (also checked after every operation).
    Read,
    /// A remote coordinator's operation.
    Remote(RemoteInput),
}

#[derive(Arbitrary, Debug)]
enum RateInput {
    /// Window length, minimum calls, percentage.
    Calls(u8, u8, u8),
    /// Bucket length in ms, buckets, minimum calls, percentage.
    Time(u8, u8, u8, u8),
}

#[derive(Arbitrary, Debug)]
struct Input {
    threshold: u8,
    recovery_ms: u8,
    recovery_extra_nanos: u32,
    probe_deadline_ms: Option<u8>,
    /// Backoff maximum above the recovery timeout, in ms; jitter.
    backoff: Option<(u8, bool)>,
    /// Slow-call threshold in ms, plus a fraction when odd.
    slow_call: Option<(u8, u32)>,
    failure_rate: Option<RateInput>,
    /// Probes per round, successes that close it.
    half_open: Option<(u8, u8)>,
    /// Slow-call rate: threshold in ms (plus a fraction when odd), percentage.
    slow_call_rate: Option<(u8, u32, u8)>,
    /// A listener whose every transition is compared with the model's (it takes the breaker off
    /// its plain fast paths, so only some inputs have one).
    listening: bool,
    ops: Vec<Op>,
}

enum Held<'a> {
    Borrowed(Permit<'a, Predicate>, Token),
    Owned(OwnedPermit<Predicate>, Token),
}

/// A fraction of a millisecond when `raw` is odd, else none.
fn fraction(raw: u32) -> u64 {
    if raw & 1 == 1 {
        u64::from(raw >> 1) % MS
    } else {
        0
    }
}

/// A full probe round at the end of time must answer (it once spun for ever); a hang here is
/// caught by libFuzzer's `-timeout` (set in `.ci/fuzz.sh`) rather than by a watchdog thread,
/// whose thread-local set-up LeakSanitizer reports as a leak.
fn guarded_acquire(breaker: &Arc<Breaker>) -> Result<OwnedPermit<Predicate>, OpenError> {
    breaker.try_acquire_owned()
}

fn check_rejection(rejected: &OpenError, expected: Decision) {
    match expected {
        Decision::Rejected {
            state,
            failures,
            remaining_ms,
            held,
        } => {
            assert_eq!(model_state(rejected.state()), state);
            assert_eq!(rejected.failures(), failures);
            assert_eq!(rejected.remaining(), Duration::from_millis(remaining_ms));
            if let Err(disagreement) = agree_hold(rejected, held) {
                panic!("{disagreement}");
            }
        }
        Decision::Admitted(token) => {
            panic!("breaker rejected {rejected:?}, model admitted {token:?}")
        }
    }
}

fn admitted(expected: Decision, is_probe: bool) -> Token {
    match expected {
        Decision::Admitted(token) => {
            assert_eq!(is_probe, token.is_probe(), "probe or not");
            token
        }
        rejected @ Decision::Rejected { .. } => {
            panic!("breaker admitted (probe: {is_probe}), model {rejected:?}")
        }
    }
}

/// Whether the model admitted a probe (`call` does not say, so this only feeds `admitted`).
fn expected_probe(expected: Decision) -> bool {
    matches!(expected, Decision::Admitted(token) if token.is_probe())
}

/// Applies `how` to the model for the call admitted with `token`.
fn settle_model(model: &mut Model, token: Token, how: Completion, now: u64) {
    match how {
        Completion::Success
        | Completion::RecordOk
        | Completion::NonMatchingError
        | Completion::RecordSuccess => {
            model.success(token, now);
        }
        Completion::Failure | Completion::MatchingError | Completion::RecordFailure => {
            model.failure(token, now);
        }
        Completion::Ignore | Completion::Drop => {
            model.release(token);
        }
        Completion::Forget => {}
    }
}

macro_rules! complete {
    ($permit:expr, $how:expr) => {{
        let permit = $permit;
        match $how {
            Completion::Success => permit.success(),
            Completion::RecordOk => permit.record(&Ok::<(), Fault>(())),
            Completion::Failure => permit.failure(),
            Completion::MatchingError => permit.record(&Err::<(), _>(Fault { matching: true })),
            Completion::NonMatchingError => permit.record(&Err::<(), _>(Fault { matching: false })),
            Completion::Ignore => permit.record_outcome(Outcome::Ignore),
            Completion::RecordSuccess => permit.record_outcome(Outcome::Success),
            Completion::RecordFailure => permit.record_outcome(Outcome::Failure),
            Completion::Drop => drop(permit),
            Completion::Forget => std::mem::forget(permit),
        }
    }};
}

/// The settings the input describes, small enough that every phase is reached.
fn settings(input: &Input) -> (u32, Duration, Options) {
    let threshold = u32::from(input.threshold % 4) + 1;
    // Whole milliseconds, or (odd `recovery_extra_nanos`) with a fraction that rounds up.
    let recovery = Duration::from_millis(u64::from(input.recovery_ms % 16) + 1)
        + Duration::from_nanos(fraction(input.recovery_extra_nanos));
    let recovery_ms = u64::try_from(recovery.as_nanos().div_ceil(u128::from(MS))).unwrap_or(0);
    let options = Options {
        probe_deadline: input
            .probe_deadline_ms
            .map(|ms| Duration::from_millis(u64::from(ms % 24) + 1)),
        backoff: input.backoff.map(|(extra, jitter)| {
            (
                Duration::from_millis(recovery_ms + u64::from(extra % 64)),
                jitter,
            )
        }),
        slow_call_threshold: input.slow_call.map(|(ms, raw)| {
            Duration::from_millis(u64::from(ms % 8) + 1) + Duration::from_nanos(fraction(raw))
        }),
        failure_rate: input.failure_rate.as_ref().map(|rate| match *rate {
            RateInput::Calls(calls, min_calls, percent) => Rate::LastCalls {
                calls: window_calls(calls),
                min_calls: u32::from(min_calls % 80) + 1,
                percent: percent % 100 + 1,
            },
            RateInput::Time(bucket_ms, buckets, min_calls, percent) => {
                let buckets = u32::from(buckets % 64) + 1;
                Rate::Last {
                    window: Duration::from_millis(
                        (u64::from(bucket_ms % 16) + 1) * u64::from(buckets),
                    ),
                    buckets,
                    min_calls: u32::from(min_calls % 40) + 1,
                    percent: percent % 100 + 1,
                }
            }
        }),
        half_open: input.half_open.map(|(probes, successes)| {
            let probes = u32::from(probes % 5) + 1;
            (probes, u32::from(successes) % probes + 1)
        }),
        slow_call_rate: input.slow_call_rate.map(|(ms, raw, percent)| {
            (
                Duration::from_millis(u64::from(ms % 8) + 1) + Duration::from_nanos(fraction(raw)),
                percent % 100 + 1,
            )
        }),
    };
    (threshold, recovery, options)
}

/// The fleet's remaining time for a hold: whole milliseconds around the open periods the
/// settings give, any nanoseconds up to about 1 s, none, or far beyond any period.
fn fleet_remaining(raw: u32) -> Duration {
    match raw & 3 {
        0 => Duration::from_millis(u64::from(raw >> 2) % 128),
        1 => Duration::from_nanos(u64::from(raw >> 2)),
        2 => Duration::ZERO,
        _ => Duration::MAX,
    }
}

fn reason(input: ReasonInput) -> ModelReason {
    match input {
        ReasonInput::Quorum(tripped, live) => ModelReason::Quorum { tripped, live },
        ReasonInput::Counted => ModelReason::Counted,
        ReasonInput::Probe => ModelReason::Probe,
        ReasonInput::Sync => ModelReason::Sync,
        ReasonInput::Released => ModelReason::Released,
    }
}

fn remote_op(input: RemoteInput) -> RemoteOp {
    match input {
        RemoteInput::Hold(raw, level, why) => {
            RemoteOp::Hold(fleet_remaining(raw), level, why.map(reason))
        }
        RemoteInput::Grant => RemoteOp::Grant,
        RemoteInput::Revoke(true, _) => RemoteOp::Revoke(0),
        RemoteInput::Revoke(false, index) => RemoteOp::Revoke(usize::from(index) + 1),
        RemoteInput::Close(why) => RemoteOp::Close(why.map(reason)),
        RemoteInput::Release => RemoteOp::Release,
        RemoteInput::Snapshot => RemoteOp::Snapshot,
        RemoteInput::TakeDemand => RemoteOp::TakeDemand,
    }
}

/// A count-based window's length: mostly one word (1 to 32 calls), often a ring of slots (33 to
/// 80 calls, which 512 operations lap), now and then 100 calls.
fn window_calls(raw: u8) -> u32 {
    match raw {
        0..=127 => u32::from(raw % 32) + 1,
        128..=247 => u32::from(raw - 128) % 48 + 33,
        _ => 100,
    }
}

fuzz_target!(|input: Input| {
    let (threshold, recovery, options) = settings(&input);
    let clock = ManualClock::new();
    let builder = CircuitBreaker::builder()
        .failure_threshold(threshold)
        .recovery_timeout(recovery)
        .clock(clock.clone())
        .failure_if(is_matching as Predicate);
    let mut builder = configure(builder, &options);
    let log = Log::default();
    if input.listening {
        builder = listen(builder, &log);
    }
    let breaker: Arc<Breaker> = Arc::new(builder.build().expect("valid settings"));
    let mut model =
        Model::new(Settings::with(threshold, recovery, &options).expect("valid settings"));
    let mut now: u64 = 0;
    let mut held: Vec<Held<'_>> = Vec::new();
    let mut limbo: Vec<OwnedPermit<Predicate>> = Vec::new();
    let mut coordinator = Coordinator::default();

    for op in input.ops.iter().take(512) {
        match *op {
            Op::Acquire | Op::AcquireOwned | Op::Call(..) if model.rejoins_full_round(now) => {
                let expected = model.acquire(now);
                match guarded_acquire(&breaker) {
                    Ok(permit) => {
                        let token = admitted(expected, permit.is_probe());
                        held.push(Held::Owned(permit, token));
                    }
                    Err(rejected) => check_rejection(&rejected, expected),
                }
            }
            Op::Acquire => {
                let expected = model.acquire(now);
                match breaker.try_acquire() {
                    Ok(permit) => {
                        let token = admitted(expected, permit.is_probe());
                        held.push(Held::Borrowed(permit, token));
                    }
                    Err(rejected) => check_rejection(&rejected, expected),
                }
            }
            Op::AcquireOwned => {
                let expected = model.acquire(now);
                match breaker.try_acquire_owned() {
                    Ok(permit) => {
                        let token = admitted(expected, permit.is_probe());
                        held.push(Held::Owned(permit, token));
                    }
                    Err(rejected) => check_rejection(&rejected, expected),
                }
            }
            Op::Call(result, nanos) => {
                let expected = model.acquire(now);
                let later = now.saturating_add(u64::from(nanos) % (8 * MS));
                let mut ran = false;
                let outcome = breaker.call(|| {
                    ran = true;
                    clock.set(Duration::from_nanos(later));
                    match result {
                        CallResult::Ok => Ok(()),
                        CallResult::Matching => Err(Fault { matching: true }),
                        CallResult::NonMatching => Err(Fault { matching: false }),
                    }
                });
                if let Err(Error::Open(rejected)) = outcome {
                    assert!(!ran, "rejected work ran");
                    check_rejection(&rejected, expected);
                } else {
                    assert!(ran, "admitted work did not run");
                    now = later;
                    // The caller gets its own result back, unchanged.
                    match (&outcome, result) {
                        (Ok(()), CallResult::Ok) => {}
                        (
                            Err(Error::Inner(fault)),
                            CallResult::Matching | CallResult::NonMatching,
                        ) => {
                            assert_eq!(fault.matching, matches!(result, CallResult::Matching));
                        }
                        (other, _) => panic!("call returned {other:?} for {result:?}"),
                    }
                    let token = admitted(expected, expected_probe(expected));
                    let how = match result {
                        CallResult::Ok => Completion::Success,
                        CallResult::Matching => Completion::Failure,
                        CallResult::NonMatching => Completion::NonMatchingError,
                    };
                    settle_model(&mut model, token, how, now);
                }
            }
            Op::Complete(index, how) => {
                if !held.is_empty() {
                    let i = usize::from(index) % held.len();
                    complete_held(&mut model, held.swap_remove(i), how, now, &mut limbo);
                }
            }
            Op::SlowSuccess(index, nanos) => {
                now = now.saturating_add(u64::from(nanos) % (8 * MS));
                clock.set(Duration::from_nanos(now));
                if !held.is_empty() {
                    let i = usize::from(index) % held.len();
                    let how = Completion::Success;
                    complete_held(&mut model, held.swap_remove(i), how, now, &mut limbo);
                }
            }
            Op::Manual(to) => {
                let to = match to {
                    ManualOp::ForceOpen => {
                        breaker.force_open();
                        Manual::ForceOpen
                    }
                    ManualOp::Disable => {
                        breaker.disable();
                        Manual::Disable
                    }
                    ManualOp::Reset => {
                        breaker.reset();
                        Manual::Reset
                    }
                };
                model.manual(to, now);
            }
            Op::AdvanceNanos(nanos) => now = now.saturating_add(u64::from(nanos) % (4 * MS)),
            Op::AdvanceMillis(ms) => now = now.saturating_add(u64::from(ms) * MS),
            Op::AdvanceFar(nanos) => now = now.saturating_add(nanos),
            Op::StepBack(nanos) => now = now.saturating_sub(u64::from(nanos)),
            Op::Set(nanos) => now = nanos,
            Op::NearEnd(ms) => now = (TIME_MAX_MS - u64::from(ms % 32)) * MS,
            Op::Read => {}
            Op::Remote(input) => {
                let op = remote_op(input);
                if let Err(disagreement) = coordinator.apply(&breaker, &mut model, op, now) {
                    panic!("{disagreement}");
                }
            }
        }
        clock.set(Duration::from_nanos(now));
        if let Err(disagreement) = coordinator.check(&breaker, &model, now) {
            panic!("after {op:?}: {disagreement}");
        }
        if input.listening {
            if let Err(disagreement) = agree_transitions(&log, &model) {
                panic!("after {op:?}: {disagreement}");
            }
        }
        assert_eq!(
            model_state(breaker.state()),
            model.state(now),
            "state after {op:?}"
        );
        assert_eq!(
            breaker.failure_count(),
            model.failure_count(),
            "failure count after {op:?}"
        );
        assert_eq!(
            breaker.open_remaining(),
            Duration::from_millis(model.open_remaining_ms(now)),
            "open remaining after {op:?}"
        );
    }
    drop(held);
    drop(limbo);
});

/// Completes a held permit with `how`, in the breaker and the model.
fn complete_held<'a>(
    model: &mut Model,
    held: Held<'a>,
    how: Completion,
    now: u64,
    limbo: &mut Vec<OwnedPermit<Predicate>>,
) {
    match held {
        Held::Borrowed(permit, token) => {
            complete!(permit, how);
            settle_model(model, token, how, now);
        }
        // A forgotten owned permit would leak its `Arc` and trip LeakSanitizer: park it instead.
        // It never reports while the run is checked; it is released only when the breaker is
        // torn down after the last check.
        Held::Owned(permit, _) if matches!(how, Completion::Forget) => limbo.push(permit),
        Held::Owned(permit, token) => {
            complete!(permit, how);
            settle_model(model, token, how, now);
        }
    }
}
