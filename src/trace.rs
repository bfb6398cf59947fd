//! `tracing` events (feature `tracing`): one per state change and one per rejection, with no
//! spans. Levels: opening is `warn`, probing and closing are `info`, a rejection is `debug`.
//! Every event has a `cause` field ([`Cause::as_str`]); the message of a transition a remote
//! coordinator made says so ("circuit breaker opened by the fleet"). An opening by the breaker's
//! own calls and a rejection carry `failures` and `slow` (how many of those failures were slow
//! successes, see [`OpenError::slow`]).

use crate::{Cause, OpenError, State};

/// An opening by the breaker's own calls also says how many failures opened it and how many of
/// those were slow ([`OpenError::slow`]).
pub(crate) fn transition(
    name: &str,
    from: State,
    to: State,
    cause: Cause,
    failures: u32,
    slow: u32,
) {
    let label = cause.as_str();
    let fleet = matches!(cause, Cause::Remote(_));
    match to {
        State::Open if fleet => tracing::warn!(
            breaker = name,
            %from,
            %to,
            cause = label,
            "circuit breaker opened by the fleet"
        ),
        State::Open => tracing::warn!(
            breaker = name,
            %from,
            %to,
            cause = label,
            failures,
            slow,
            "circuit breaker opened"
        ),
        State::HalfOpen if fleet => tracing::warn!(
            breaker = name,
            %from,
            %to,
            cause = label,
            "circuit breaker released by the fleet: it probes on its own"
        ),
        State::HalfOpen => tracing::info!(
            breaker = name,
            %from,
            %to,
            cause = label,
            "circuit breaker admitted a probe"
        ),
        State::Closed if fleet => tracing::info!(
            breaker = name,
            %from,
            %to,
            cause = label,
            "circuit breaker closed by the fleet"
        ),
        State::Closed => {
            tracing::info!(breaker = name, %from, %to, cause = label, "circuit breaker closed");
        }
        State::ForcedOpen | State::Disabled => tracing::warn!(
            breaker = name,
            %from,
            %to,
            cause = label,
            "circuit breaker set by hand"
        ),
    }
}

pub(crate) fn rejected(breaker: &str, rejected: &OpenError) {
    let cause = match rejected.remote() {
        Some(reason) => Cause::Remote(reason),
        None if rejected.state() == State::ForcedOpen => Cause::Manual,
        None => Cause::Calls,
    };
    tracing::debug!(
        breaker,
        state = %rejected.state(),
        failures = rejected.failures(),
        slow = rejected.slow(),
        remaining_ms = u64::try_from(rejected.remaining().as_millis()).unwrap_or(u64::MAX),
        cause = cause.as_str(),
        "circuit breaker rejected a call"
    );
}
