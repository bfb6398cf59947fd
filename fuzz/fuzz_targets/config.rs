//! Arbitrary configuration values: the builder must return `Ok` or a `ConfigError` (never
//! panic), exactly when the reference model's validation (`tests/model/mod.rs`) accepts or
//! rejects them, naming the same setting. The values cover every setting: failure threshold,
//! recovery timeout, probe deadline, `Backoff` (with or without jitter), `slow_call_threshold`,
//! `FailureRate` (count- and time-based), `slow_call_rate` and `HalfOpen`. When `Ok`, a few operations run against
//! the breaker and the model.
#![no_main]

// Only the validation and admission parts of the model are used here.
#[allow(dead_code)]
#[path = "../../tests/model/mod.rs"]
mod model;
use model::bridge::{configure, model_state};

use std::time::Duration;

use arbitrary::Arbitrary;
use async_breaker::{CircuitBreaker, ManualClock};
use libfuzzer_sys::fuzz_target;

use model::{Decision, Model, Options, Rate, Settings};

/// A duration from arbitrary parts, either anywhere or near the interesting limits.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Span {
    /// Any value.
    Any(u64, u32),
    /// Whole milliseconds.
    Millis(u16),
    /// Nanoseconds, around a millisecond.
    Nanos(u32),
    /// Near the longest accepted span (2^42 - 1 ms), within about ±2 ms.
    NearMax(u32),
}

impl Span {
    /// `Duration::new` would panic when the nanoseconds carry into a full `u64` of seconds, so
    /// they are kept below one second.
    fn duration(self) -> Duration {
        match self {
            Span::Any(secs, nanos) => Duration::new(secs, nanos % 1_000_000_000),
            Span::Millis(ms) => Duration::from_millis(u64::from(ms)),
            Span::Nanos(nanos) => Duration::from_nanos(u64::from(nanos % 3_000_000)),
            Span::NearMax(off) => Duration::from_nanos(
                (model::TIME_MAX_MS * 1_000_000 - 2_000_000) + u64::from(off % 4_000_000),
            ),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum RateInput {
    LastCalls(u32, u32, u8),
    Last(Span, u32, u32, u8),
    /// A time window of `bucket_ms * buckets` ms plus `half_ms` half milliseconds.
    Whole(u8, u8, u8, u32, u8),
}

#[derive(Arbitrary, Debug)]
struct Input {
    threshold: u32,
    recovery: Span,
    probe_deadline: Option<Span>,
    backoff: Option<(Span, bool)>,
    slow_call_threshold: Option<Span>,
    failure_rate: Option<RateInput>,
    half_open: Option<(u32, u32)>,
    slow_call_rate: Option<(Span, u8)>,
    /// Clock steps in nanoseconds between operations; each step also acquires and records.
    steps: Vec<(u64, u8)>,
}

fn rate(input: &RateInput) -> Rate {
    match *input {
        RateInput::LastCalls(calls, min_calls, percent) => Rate::LastCalls {
            calls,
            min_calls,
            percent,
        },
        RateInput::Last(window, buckets, min_calls, percent) => Rate::Last {
            window: window.duration(),
            buckets,
            min_calls,
            percent,
        },
        RateInput::Whole(bucket_ms, buckets, half_ms, min_calls, percent) => Rate::Last {
            window: Duration::from_micros(
                u64::from(bucket_ms) * u64::from(buckets) * 1_000 + u64::from(half_ms % 4) * 500,
            ),
            buckets: u32::from(buckets),
            min_calls,
            percent,
        },
    }
}

fuzz_target!(|input: Input| {
    let recovery = input.recovery.duration();
    let options = Options {
        probe_deadline: input.probe_deadline.map(Span::duration),
        backoff: input.backoff.map(|(max, jitter)| (max.duration(), jitter)),
        slow_call_threshold: input.slow_call_threshold.map(Span::duration),
        failure_rate: input.failure_rate.as_ref().map(rate),
        half_open: input.half_open,
        slow_call_rate: input
            .slow_call_rate
            .map(|(threshold, percent)| (threshold.duration(), percent)),
    };
    let clock = ManualClock::new();
    let builder = CircuitBreaker::builder()
        .failure_threshold(input.threshold)
        .recovery_timeout(recovery)
        .clock(clock.clone());
    let builder = configure(builder, &options);
    let expected = Settings::with(input.threshold, recovery, &options);
    let (breaker, settings) = match (builder.build(), expected) {
        (Ok(breaker), Ok(settings)) => {
            assert_eq!(breaker.failure_threshold(), settings.threshold);
            assert_eq!(
                breaker.recovery_timeout(),
                Duration::from_millis(settings.recovery_ms)
            );
            assert_eq!(
                breaker.probe_deadline(),
                Duration::from_millis(settings.probe_deadline_ms)
            );
            (breaker, settings)
        }
        (Err(error), Err(bad)) => {
            assert_eq!(error.field(), bad.field(), "{error}");
            // The message renders without panicking.
            let _ = error.to_string();
            return;
        }
        (built, model) => panic!(
            "builder {:?}, model {model:?} for {options:?}",
            built.map(|b| b.failure_threshold())
        ),
    };
    let mut model = Model::new(settings);
    let mut now = 0_u64;
    for &(step, how) in input.steps.iter().take(64) {
        now = now.saturating_add(step);
        clock.set(Duration::from_nanos(now));
        if model.rejoins_full_round(now) {
            // The differential target covers this case (with a guard against a call that does
            // not return); here it would only hang the run.
            return;
        }
        let expected = model.acquire(now);
        match (breaker.try_acquire(), expected) {
            (Ok(permit), Decision::Admitted(token)) => {
                assert_eq!(permit.is_probe(), token.is_probe());
                match how % 3 {
                    0 => {
                        permit.success();
                        model.success(token, now);
                    }
                    1 => {
                        permit.failure();
                        model.failure(token, now);
                    }
                    _ => {
                        drop(permit);
                        model.release(token);
                    }
                }
            }
            (
                Err(rejected),
                Decision::Rejected {
                    state,
                    failures,
                    remaining_ms,
                    held: None,
                },
            ) => {
                assert_eq!(rejected.remote(), None, "no coordinator here");
                assert_eq!(model_state(rejected.state()), state);
                assert_eq!(rejected.failures(), failures);
                assert_eq!(rejected.remaining(), Duration::from_millis(remaining_ms));
                let _ = rejected.to_string();
            }
            (actual, expected) => panic!(
                "breaker {:?}, model {expected:?}",
                actual.map(|p| p.is_probe())
            ),
        }
        assert_eq!(model_state(breaker.state()), model.state(now));
        assert_eq!(breaker.failure_count(), model.failure_count());
        assert_eq!(
            breaker.open_remaining(),
            Duration::from_millis(model.open_remaining_ms(now))
        );
        let _ = format!("{breaker:?}");
    }
});
