//! `tracing` events (feature `tracing`): one per state change and one per rejection, with no
//! spans. Levels: opening is `warn`, probing and closing are `info`, a rejection is `debug`.

use crate::{OpenError, State};

pub(crate) fn transition(name: &str, from: State, to: State) {
    match to {
        State::Open => tracing::warn!(breaker = name, %from, %to, "circuit breaker opened"),
        State::HalfOpen => {
            tracing::info!(breaker = name, %from, %to, "circuit breaker admitted a probe");
        }
        State::Closed => tracing::info!(breaker = name, %from, %to, "circuit breaker closed"),
        State::ForcedOpen | State::Disabled => {
            tracing::warn!(breaker = name, %from, %to, "circuit breaker set by hand");
        }
    }
}

pub(crate) fn rejected(rejected: &OpenError) {
    tracing::debug!(
        breaker = rejected.name(),
        state = %rejected.state(),
        failures = rejected.failures(),
        remaining_ms = u64::try_from(rejected.remaining().as_millis()).unwrap_or(u64::MAX),
        "circuit breaker rejected a call"
    );
}
