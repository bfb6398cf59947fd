//! The bridge from the model's settings and states to the real breaker's API: the one place
//! where the differential checks (the proptest and both fuzz targets) configure a real breaker
//! exactly as the model is configured, and read its state in the model's terms.

use async_breaker::{Backoff, Builder, CircuitBreaker, FailureRate, HalfOpen, State};

use super::{ModelState, Options, Rate};

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
