//! Differential fuzzing: an arbitrary sequence of operations applied to the real breaker (driven
//! by a `ManualClock`) and to the plain reference model shared with the property tests
//! (`tests/model/mod.rs`). Every admission decision, `state()`, `failure_count()` and
//! `open_remaining()` must agree after every operation.
//!
//! The clock is kept below the last millisecond of the breaker's 139-year range unless
//! `ASYNC_BREAKER_FUZZ_END_OF_TIME` is set: at that millisecond the breaker reuses tickets (a
//! known bug, see `breaker_matches_the_model_at_the_end_of_time` in `tests/model_equivalence.rs`),
//! and the fuzzer would find nothing else.
#![no_main]

// The configuration-validation part of the model is exercised by the `config` target.
#[allow(dead_code)]
#[path = "../../tests/model/mod.rs"]
mod model;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arbitrary::Arbitrary;
use async_breaker::{
    CircuitBreaker, Error, ManualClock, OpenError, Outcome, OwnedPermit, Permit, State,
};
use libfuzzer_sys::fuzz_target;

use model::{Decision, Model, ModelState, Settings, Token, TIME_MAX_MS};

const MS: u64 = 1_000_000;

/// The error the guarded calls return; the breaker's predicate counts it only if `matching`.
#[derive(Debug)]
struct Fault {
    matching: bool,
}

type Predicate = fn(&Fault) -> bool;

fn is_matching(fault: &Fault) -> bool {
    fault.matching
}

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
enum Op {
    /// `try_acquire`, holding the permit.
    Acquire,
    /// `try_acquire_owned`, holding the permit.
    AcquireOwned,
    /// `call` with a closure returning this.
    Call(CallResult),
    /// Completes held permit `index % held`.
    Complete(u8, Completion),
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
}

#[derive(Arbitrary, Debug)]
struct Input {
    threshold: u8,
    recovery_ms: u8,
    recovery_extra_nanos: u32,
    probe_deadline_ms: Option<u8>,
    ops: Vec<Op>,
}

enum Held<'a> {
    Borrowed(Permit<'a, Predicate>, Token),
    Owned(OwnedPermit<Predicate>, Token),
}

fn end_of_time() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("ASYNC_BREAKER_FUZZ_END_OF_TIME").is_some())
}

/// The clock value to use: anything, or capped below the last millisecond of the range.
fn cap(nanos: u64) -> u64 {
    if end_of_time() {
        nanos
    } else {
        nanos.min(TIME_MAX_MS * MS - 1)
    }
}

fn model_state(state: State) -> ModelState {
    match state {
        State::Closed => ModelState::Closed,
        State::Open => ModelState::Open,
        State::HalfOpen => ModelState::HalfOpen,
        other => panic!("unexpected state {other:?}"),
    }
}

fn check_rejection(rejected: &OpenError, expected: Decision) {
    match expected {
        Decision::Rejected {
            state,
            failures,
            remaining_ms,
        } => {
            assert_eq!(model_state(rejected.state()), state);
            assert_eq!(rejected.failures(), failures);
            assert_eq!(rejected.remaining(), Duration::from_millis(remaining_ms));
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
            model.success(token);
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

fuzz_target!(|input: Input| {
    let threshold = u32::from(input.threshold % 4) + 1;
    // Whole milliseconds, or (odd `recovery_extra_nanos`) with a fraction that rounds up.
    let extra = if input.recovery_extra_nanos & 1 == 1 {
        u64::from(input.recovery_extra_nanos >> 1) % MS
    } else {
        0
    };
    let recovery =
        Duration::from_millis(u64::from(input.recovery_ms % 16) + 1) + Duration::from_nanos(extra);
    let deadline = input
        .probe_deadline_ms
        .map(|ms| Duration::from_millis(u64::from(ms % 24) + 1));

    let clock = ManualClock::new();
    let mut builder = CircuitBreaker::builder()
        .failure_threshold(threshold)
        .recovery_timeout(recovery)
        .clock(clock.clone())
        .failure_if(is_matching as Predicate);
    if let Some(deadline) = deadline {
        builder = builder.probe_deadline(deadline);
    }
    let breaker = Arc::new(builder.build().expect("valid settings"));
    let mut model =
        Model::new(Settings::new(threshold, recovery, deadline).expect("valid settings"));
    let mut now: u64 = 0;
    let mut held: Vec<Held<'_>> = Vec::new();
    let mut limbo: Vec<OwnedPermit<Predicate>> = Vec::new();

    for op in input.ops.iter().take(512) {
        match *op {
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
            Op::Call(result) => {
                let expected = model.acquire(now);
                let mut ran = false;
                let outcome = breaker.call(|| {
                    ran = true;
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
                    match held.swap_remove(i) {
                        Held::Borrowed(permit, token) => {
                            complete!(permit, how);
                            settle_model(&mut model, token, how, now);
                        }
                        // A forgotten owned permit would leak its `Arc` and trip LeakSanitizer:
                        // park it instead. It never reports while the run is checked; it is
                        // released only when the breaker is torn down after the last check.
                        Held::Owned(permit, _) if matches!(how, Completion::Forget) => {
                            limbo.push(permit);
                        }
                        Held::Owned(permit, token) => {
                            complete!(permit, how);
                            settle_model(&mut model, token, how, now);
                        }
                    }
                }
            }
            Op::AdvanceNanos(nanos) => now = cap(now.saturating_add(u64::from(nanos) % (4 * MS))),
            Op::AdvanceMillis(ms) => now = cap(now.saturating_add(u64::from(ms) * MS)),
            Op::AdvanceFar(nanos) => now = cap(now.saturating_add(nanos)),
            Op::StepBack(nanos) => now = now.saturating_sub(u64::from(nanos)),
            Op::Set(nanos) => now = cap(nanos),
            Op::NearEnd(ms) => now = cap((TIME_MAX_MS - u64::from(ms % 32)) * MS),
            Op::Read => {}
        }
        clock.set(Duration::from_nanos(now));
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
});
