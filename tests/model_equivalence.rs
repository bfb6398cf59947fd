//! Differential property test: arbitrary sequences of operations applied to the real
//! [`CircuitBreaker`] (driven by a [`ManualClock`]) and to the plain reference model in
//! `tests/model/mod.rs`. Every admission decision, `state()`, `failure_count()` and
//! `open_remaining()` must agree after every operation.
//!
//! `PROPTEST_CASES` overrides the case count (default [`CASES`], about 3 s of CPU in a debug
//! build).
//!
//! A documented limit: at the last millisecond of the breaker's 139-year time range every timeout
//! counts as elapsed, so a probe admitted there carries the same ticket as the one it replaces,
//! and a closed cycle that begins there the same ticket as the one before it, so outcomes from
//! earlier cycles can count there. That is a documented limit, and the model mirrors it; the
//! property that reaches that millisecond and two minimal cases check that both agree.

mod model;

use std::time::Duration;

use async_breaker::{CircuitBreaker, ConfigError, ManualClock, Outcome, Permit, State};
use proptest::prelude::*;

use model::{Decision, Model, ModelState, Settings, Token, TIME_MAX_MS};

/// Cases per property when `PROPTEST_CASES` is not set.
const CASES: u32 = 1_000;

/// The error the guarded calls return; the breaker's predicate counts it only if `matching`.
#[derive(Debug)]
struct Fault {
    matching: bool,
}

type Predicate = fn(&Fault) -> bool;

fn is_matching(fault: &Fault) -> bool {
    fault.matching
}

/// How a held permit is completed.
#[derive(Clone, Copy, Debug)]
enum Completion {
    /// `permit.success()`.
    Success,
    /// `permit.record(&Ok(()))`.
    RecordOk,
    /// `permit.failure()`.
    Failure,
    /// `permit.record(&Err(matching))`.
    MatchingError,
    /// `permit.record(&Err(non-matching))`: counts as a success.
    NonMatchingError,
    /// `permit.record_outcome(Outcome::Ignore)`.
    Ignore,
    /// `drop(permit)`.
    Drop,
    /// `mem::forget(permit)`: never reports.
    Forget,
}

#[derive(Clone, Debug)]
enum Op {
    /// `try_acquire`, holding the permit if admitted.
    Acquire,
    /// Completes held permit `index` (modulo the number held).
    Complete(usize, Completion),
    /// Moves the clock forward by this many nanoseconds (saturating).
    Advance(u64),
    /// Sets the clock back by this many nanoseconds (saturating at 0).
    StepBack(u64),
    /// Sets the clock to `TIME_MAX_MS - n` milliseconds plus a fraction: the end of time.
    NearEnd(u64, u64),
    /// Advances by `Duration::MAX` (the manual clock saturates).
    AdvanceMax,
    /// Reads the state (also checked after every other operation).
    Read,
}

fn completion() -> impl Strategy<Value = Completion> {
    prop_oneof![
        Just(Completion::Success),
        Just(Completion::RecordOk),
        Just(Completion::Failure),
        Just(Completion::MatchingError),
        Just(Completion::NonMatchingError),
        Just(Completion::Ignore),
        Just(Completion::Drop),
        Just(Completion::Forget),
    ]
}

const MS: u64 = 1_000_000;

/// Operations that stay far from the end of the time range.
fn everyday_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Acquire),
        6 => (any::<usize>(), completion()).prop_map(|(i, c)| Op::Complete(i, c)),
        2 => (0..3 * MS).prop_map(Op::Advance),
        2 => (0..16_u64).prop_map(|ms| Op::Advance(ms * MS)),
        1 => (1..1_000_000_u64).prop_map(|ms| Op::Advance(ms * MS)),
        1 => (0..20 * MS).prop_map(Op::StepBack),
        1 => Just(Op::Read),
    ]
}

/// Everyday operations plus jumps to (and past) the end of the breaker's time range.
fn any_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => everyday_op(),
        1 => ((0..20_u64), (0..MS)).prop_map(|(ms, ns)| Op::NearEnd(ms, ns)),
        1 => Just(Op::AdvanceMax),
    ]
}

/// Small thresholds and timeouts so every phase is reached; sub-millisecond timeouts round up.
fn settings() -> impl Strategy<Value = (u32, Duration, Option<Duration>)> {
    (
        1..=3_u32,
        (
            1..=8_u64,
            prop_oneof![3 => Just(0_u32), 1 => 1..1_000_000_u32],
        )
            .prop_map(|(ms, ns)| Duration::from_millis(ms) + Duration::from_nanos(ns.into())),
        proptest::option::of((1..=12_u64).prop_map(Duration::from_millis)),
    )
}

fn model_state(state: State) -> ModelState {
    match state {
        State::Closed => ModelState::Closed,
        State::Open => ModelState::Open,
        State::HalfOpen => ModelState::HalfOpen,
        other => panic!("unexpected state {other:?}"),
    }
}

struct Held<'a> {
    permit: Permit<'a, Predicate>,
    token: Token,
}

/// Runs `ops` on both, checking agreement after each; returns the first disagreement.
fn run(config: (u32, Duration, Option<Duration>), ops: &[Op]) -> Result<(), TestCaseError> {
    let (threshold, recovery, deadline) = config;
    let clock = ManualClock::new();
    let mut builder = CircuitBreaker::builder()
        .failure_threshold(threshold)
        .recovery_timeout(recovery)
        .clock(clock.clone())
        .failure_if(is_matching as Predicate);
    if let Some(deadline) = deadline {
        builder = builder.probe_deadline(deadline);
    }
    let breaker = builder.build().expect("the generated settings are valid");
    let settings = Settings::new(threshold, recovery, deadline).expect("valid settings");
    prop_assert_eq!(settings.threshold, breaker.failure_threshold());
    let mut model = Model::new(settings);
    let mut now: u64 = 0;
    let mut held: Vec<Held<'_>> = Vec::new();

    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Acquire => {
                let expected = model.acquire(now);
                match (breaker.try_acquire(), expected) {
                    (Ok(permit), Decision::Admitted(token)) => {
                        prop_assert_eq!(
                            permit.is_probe(),
                            token.is_probe(),
                            "step {}: probe or not",
                            step
                        );
                        held.push(Held { permit, token });
                    }
                    (
                        Err(rejected),
                        Decision::Rejected {
                            state,
                            failures,
                            remaining_ms,
                        },
                    ) => {
                        prop_assert_eq!(model_state(rejected.state()), state, "step {}", step);
                        prop_assert_eq!(rejected.failures(), failures, "step {}", step);
                        prop_assert_eq!(
                            rejected.remaining(),
                            Duration::from_millis(remaining_ms),
                            "step {}",
                            step
                        );
                    }
                    (actual, expected) => {
                        return Err(TestCaseError::fail(format!(
                            "step {step}: breaker {:?}, model {expected:?}",
                            actual.map(|p| p.is_probe())
                        )));
                    }
                }
            }
            Op::Complete(index, how) => {
                if !held.is_empty() {
                    let Held { permit, token } = held.swap_remove(index % held.len());
                    complete(&mut model, permit, token, how, now);
                }
            }
            Op::Advance(nanos) => {
                clock.advance(Duration::from_nanos(nanos));
                now = now.saturating_add(nanos);
            }
            Op::StepBack(nanos) => {
                now = now.saturating_sub(nanos);
                clock.set(Duration::from_nanos(now));
            }
            Op::NearEnd(ms, nanos) => {
                now = (TIME_MAX_MS - ms) * MS + nanos;
                clock.set(Duration::from_nanos(now));
            }
            Op::AdvanceMax => {
                clock.advance(Duration::MAX);
                now = u64::MAX;
            }
            Op::Read => {}
        }
        prop_assert_eq!(
            model_state(breaker.state()),
            model.state(now),
            "step {}: state",
            step
        );
        prop_assert_eq!(
            breaker.failure_count(),
            model.failure_count(),
            "step {}: failure count",
            step
        );
        prop_assert_eq!(
            breaker.open_remaining(),
            Duration::from_millis(model.open_remaining_ms(now)),
            "step {}: open remaining",
            step
        );
    }
    Ok(())
}

fn complete(
    model: &mut Model,
    permit: Permit<'_, Predicate>,
    token: Token,
    how: Completion,
    now: u64,
) {
    match how {
        Completion::Success => {
            permit.success();
            model.success(token);
        }
        Completion::RecordOk => {
            permit.record(&Ok::<(), Fault>(()));
            model.success(token);
        }
        Completion::Failure => {
            permit.failure();
            model.failure(token, now);
        }
        Completion::MatchingError => {
            permit.record(&Err::<(), _>(Fault { matching: true }));
            model.failure(token, now);
        }
        Completion::NonMatchingError => {
            permit.record(&Err::<(), _>(Fault { matching: false }));
            model.success(token);
        }
        Completion::Ignore => {
            permit.record_outcome(Outcome::Ignore);
            model.release(token);
        }
        Completion::Drop => {
            drop(permit);
            model.release(token);
        }
        Completion::Forget => std::mem::forget(permit),
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(CASES),
        // Failures are reported with the shrunk input; no regression files are written.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// The breaker and the model agree on every decision and every reading.
    #[test]
    fn breaker_matches_the_model(
        config in settings(),
        ops in proptest::collection::vec(everyday_op(), 1..120),
    ) {
        run(config, &ops)?;
    }

    /// The same, with jumps to and past the end of the breaker's 139-year time range.
    #[test]
    fn breaker_matches_the_model_at_the_end_of_time(
        config in settings(),
        ops in proptest::collection::vec(any_op(), 1..120),
    ) {
        run(config, &ops)?;
    }

    /// The builder accepts exactly the settings the model accepts, and names the same bad one.
    #[test]
    fn builder_validates_like_the_model(
        threshold in prop_oneof![0..=4_u32, 65_534..=65_536_u32, any::<u32>()],
        recovery in duration(),
        deadline in proptest::option::of(duration()),
    ) {
        let mut builder = CircuitBreaker::builder()
            .failure_threshold(threshold)
            .recovery_timeout(recovery);
        if let Some(deadline) = deadline {
            builder = builder.probe_deadline(deadline);
        }
        let built: Result<CircuitBreaker, ConfigError> = builder.build();
        match (built, Settings::new(threshold, recovery, deadline)) {
            (Ok(breaker), Ok(settings)) => {
                prop_assert_eq!(breaker.failure_threshold(), settings.threshold);
                prop_assert_eq!(
                    breaker.recovery_timeout(),
                    Duration::from_millis(settings.recovery_ms)
                );
            }
            (Err(error), Err(bad)) => prop_assert_eq!(error.field(), bad.field()),
            (built, model) => {
                return Err(TestCaseError::fail(format!(
                    "builder {:?}, model {model:?}",
                    built.map(|b| b.failure_threshold())
                )));
            }
        }
    }
}

/// Durations around every limit: zero, sub-millisecond, whole milliseconds, the maximum.
fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        (1..2_000_000_u64).prop_map(Duration::from_nanos),
        (0..10_000_u64).prop_map(Duration::from_millis),
        // Within 1.5 ms either side of the longest accepted timeout.
        (0..3_000_000_u64).prop_map(|ns| Duration::from_nanos(TIME_MAX_MS * MS - 1_500_000 + ns)),
        Just(Duration::MAX),
        (any::<u64>(), 0..1_000_000_000_u32).prop_map(|(s, n)| Duration::new(s, n)),
    ]
}

const END: Op = Op::NearEnd(0, 0);

fn acquire() -> Op {
    Op::Acquire
}

/// The permit held at `i` (in the order `run` keeps them, `swap_remove` order).
fn held(i: usize, how: Completion) -> Op {
    Op::Complete(i, how)
}

/// The documented limit at the end of the time range, for probes: every probe deadline has
/// passed, so each caller replaces the probe, and the replaced probe cannot be told apart from
/// its replacement: its late success closes the breaker, in the breaker and in the model alike.
#[test]
fn replaced_probe_at_the_end_of_time_is_indistinguishable() {
    let ops = [
        END,
        acquire(),                    // closed call A
        held(0, Completion::Failure), // threshold 1: opens at the end of time
        acquire(),                    // probe P1 (the timeout has elapsed)
        acquire(),                    // probe P2 replaces P1 (the deadline has passed)
        held(0, Completion::Success), // P1's late success: counts (documented limit)
    ];
    run((1, Duration::from_millis(1), None), &ops).unwrap();
}

/// The documented limit at the end of the time range, for closed cycles: a probe admitted there
/// closes with the same stamp as the closed cycle before it, so a call admitted in that earlier
/// cycle still counts in the new one (here its failure re-opens the breaker), in the breaker and
/// in the model alike.
#[test]
fn earlier_closed_cycle_at_the_end_of_time_is_indistinguishable() {
    let ops = [
        END,
        acquire(),                    // closed call A, cycle 0
        held(0, Completion::Failure), // opens at the end of time
        acquire(),                    // probe P1
        held(0, Completion::Success), // closes: cycle 1, stamped at the end of time
        acquire(),                    // closed call B, cycle 1
        acquire(),                    // closed call C, cycle 1
        held(1, Completion::Failure), // C opens again
        acquire(),                    // probe P2
        held(1, Completion::Success), // closes: cycle 2, same stamp as cycle 1
        held(0, Completion::Failure), // B belongs to cycle 1: counts (documented limit)
    ];
    run((1, Duration::from_millis(1), None), &ops).unwrap();
}

/// The same scenarios one millisecond before the end of the time range agree, so the everyday
/// properties cover the rest of the range.
#[test]
fn the_same_scenarios_just_before_the_end_of_time_agree() {
    let ops = [
        Op::NearEnd(10, 0),
        acquire(),
        held(0, Completion::Failure),
        Op::Advance(MS),
        acquire(),
        Op::Advance(MS),
        acquire(),
        held(0, Completion::Success),
        held(0, Completion::Success),
        acquire(),
        acquire(),
        held(1, Completion::Failure),
        Op::Advance(MS),
        acquire(),
        held(1, Completion::Success),
        held(0, Completion::Failure),
    ];
    run((1, Duration::from_millis(1), None), &ops).unwrap();
}
