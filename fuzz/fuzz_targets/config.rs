//! Arbitrary configuration values: the builder must return `Ok` or a `ConfigError` (never
//! panic), exactly when the reference model's validation (`tests/model/mod.rs`) accepts or
//! rejects them, naming the same setting. When `Ok`, a few operations run against it.
#![no_main]

// Only the validation and admission parts of the model are used here.
#[allow(dead_code)]
#[path = "../../tests/model/mod.rs"]
mod model;

use std::time::Duration;

use arbitrary::Arbitrary;
use async_breaker::{CircuitBreaker, ManualClock};
use libfuzzer_sys::fuzz_target;

use model::{Decision, Model, Settings};

#[derive(Arbitrary, Debug)]
struct Input {
    threshold: u32,
    recovery_secs: u64,
    recovery_nanos: u32,
    probe_deadline: Option<(u64, u32)>,
    /// Clock steps in nanoseconds between operations; each step also acquires and records.
    steps: Vec<(u64, u8)>,
}

/// A `Duration` from arbitrary parts; `Duration::new` would panic when the nanoseconds carry
/// into a full `u64` of seconds, so the nanoseconds are kept below one second.
fn duration(secs: u64, nanos: u32) -> Duration {
    Duration::new(secs, nanos % 1_000_000_000)
}

fuzz_target!(|input: Input| {
    let recovery = duration(input.recovery_secs, input.recovery_nanos);
    let deadline = input.probe_deadline.map(|(s, n)| duration(s, n));
    let clock = ManualClock::new();
    let mut builder = CircuitBreaker::builder()
        .failure_threshold(input.threshold)
        .recovery_timeout(recovery)
        .clock(clock.clone());
    if let Some(deadline) = deadline {
        builder = builder.probe_deadline(deadline);
    }
    let expected = Settings::new(input.threshold, recovery, deadline);
    let breaker = match (builder.build(), expected) {
        (Ok(breaker), Ok(settings)) => {
            assert_eq!(breaker.failure_threshold(), settings.threshold);
            assert_eq!(
                breaker.recovery_timeout(),
                Duration::from_millis(settings.recovery_ms)
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
            "builder {:?}, model {model:?}",
            built.map(|b| b.failure_threshold())
        ),
    };
    let (breaker, settings) = breaker;
    let mut model = Model::new(settings);
    let mut now = 0_u64;
    for &(step, how) in input.steps.iter().take(64) {
        now = now.saturating_add(step);
        clock.set(Duration::from_nanos(now));
        let expected = model.acquire(now);
        match (breaker.try_acquire(), expected) {
            (Ok(permit), Decision::Admitted(token)) => {
                assert_eq!(permit.is_probe(), token.is_probe());
                match how % 3 {
                    0 => {
                        permit.success();
                        model.success(token);
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
                    failures,
                    remaining_ms,
                    ..
                },
            ) => {
                assert_eq!(rejected.failures(), failures);
                assert_eq!(rejected.remaining(), Duration::from_millis(remaining_ms));
                let _ = rejected.to_string();
            }
            (actual, expected) => panic!(
                "breaker {:?}, model {expected:?}",
                actual.map(|p| p.is_probe())
            ),
        }
        assert_eq!(breaker.failure_count(), model.failure_count());
        assert_eq!(
            breaker.open_remaining(),
            Duration::from_millis(model.open_remaining_ms(now))
        );
        let _ = format!("{breaker:?}");
    }
});
