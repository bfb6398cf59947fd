//! Reporting through the [`metrics`] facade (feature `metrics`): the handles one breaker
//! registers when it is built with [`Builder::export_metrics`](crate::Builder::export_metrics).
//!
//! Every handle is registered once, in `build()`, with whatever recorder is installed then (the
//! global one, or a local one set with [`metrics::with_local_recorder`]). A call then costs one
//! increment through a handle it already holds: no key is built or hashed per call.
//!
//! | series | kind | labels | what it counts |
//! |---|---|---|---|
//! | `circuit_breaker_calls_total` | counter | `breaker`, `outcome` | finished or refused calls, by `outcome`: `success`, `failure`, `ignored`, `rejected`, `discarded` |
//! | `circuit_breaker_transitions_total` | counter | `breaker`, `from`, `to` | state changes, by the states before and after |
//! | `circuit_breaker_state` | gauge | `breaker`, `state` | 1 for the state the breaker is in, 0 for the others |
//!
//! States are labelled as [`State::as_str`] spells them: `closed`, `open`, `half-open`,
//! `forced-open`, `disabled`.

use alloc::borrow::ToOwned;
use alloc::string::String;

use metrics::{Counter as Handle, Gauge, Unit};

use crate::observe::Counter;
use crate::State;

/// The calls counter's name.
pub(crate) const CALLS: &str = "circuit_breaker_calls_total";
/// The transitions counter's name.
pub(crate) const TRANSITIONS: &str = "circuit_breaker_transitions_total";
/// The state gauge's name.
pub(crate) const STATE: &str = "circuit_breaker_state";

/// Every state, in the order of [`index`].
const STATES: [State; 5] = [
    State::Closed,
    State::Open,
    State::HalfOpen,
    State::ForcedOpen,
    State::Disabled,
];

fn index(state: State) -> usize {
    match state {
        State::Closed => 0,
        State::Open => 1,
        State::HalfOpen => 2,
        State::ForcedOpen => 3,
        State::Disabled => 4,
    }
}

/// Whether the breaker can ever move from `from` to `to`: the automatic cycle, and the manual
/// controls (`force_open` and `disable` from any other state, `reset` to closed from any).
fn possible(from: State, to: State) -> bool {
    from != to
        && match to {
            State::Closed | State::ForcedOpen | State::Disabled => true,
            State::Open => matches!(from, State::Closed | State::HalfOpen),
            State::HalfOpen => from == State::Open,
        }
}

/// The outcome label of the calls counter, for the counters that are outcomes.
fn outcome(counter: Counter) -> Option<usize> {
    match counter {
        Counter::Succeeded => Some(0),
        Counter::Failed => Some(1),
        Counter::Ignored => Some(2),
        Counter::Rejected => Some(3),
        Counter::Discarded => Some(4),
        Counter::Admitted
        | Counter::Opened
        | Counter::HalfOpened
        | Counter::Closed
        | Counter::Manual => None,
    }
}

/// The outcome labels, in the order of [`outcome`].
const OUTCOMES: [&str; 5] = ["success", "failure", "ignored", "rejected", "discarded"];

/// Whether a breaker reports through the facade: asked for by the builder, registered by
/// `build()`.
// The handles live in the breaker's boxed hooks; boxing them again would add a pointer chase
// to every call.
#[allow(clippy::large_enum_variant)]
#[derive(Default)]
pub(crate) enum Export {
    /// Not asked for: the default.
    #[default]
    Off,
    /// Asked for; the handles are registered when the breaker is built (and named).
    Asked,
    /// Reporting.
    On(Exported),
}

impl Export {
    /// Registers the handles if they were asked for.
    pub(crate) fn register(&mut self, name: &str) {
        if matches!(self, Export::Asked) {
            *self = Export::On(Exported::register(name));
        }
    }

    /// Whether the breaker reports through the facade (or will once built).
    pub(crate) fn is_on(&self) -> bool {
        !matches!(self, Export::Off)
    }

    #[inline]
    pub(crate) fn count(&self, counter: Counter) {
        if let Export::On(exported) = self {
            exported.count(counter);
        }
    }

    pub(crate) fn transition(&self, from: State, to: State) {
        if let Export::On(exported) = self {
            exported.transition(from, to);
        }
    }
}

/// The facade handles of one breaker.
pub(crate) struct Exported {
    calls: [Handle; 5],
    /// By `[from][to]`; a no-op handle where the move is impossible (nothing is registered).
    transitions: [[Handle; 5]; 5],
    state: [Gauge; 5],
}

impl Exported {
    /// Describes the series and registers every handle of the breaker called `name`, starting
    /// the state gauge at closed.
    pub(crate) fn register(name: &str) -> Exported {
        metrics::describe_counter!(
            CALLS,
            Unit::Count,
            "Calls through a circuit breaker, by outcome: success, failure, ignored, rejected (not admitted), discarded (outcome of an earlier cycle)."
        );
        metrics::describe_counter!(
            TRANSITIONS,
            Unit::Count,
            "State changes of a circuit breaker, by the states before and after."
        );
        metrics::describe_gauge!(
            STATE,
            "1 for the state a circuit breaker is in, 0 for its other states."
        );
        let breaker = || -> String { name.to_owned() };
        let calls = OUTCOMES
            .map(|outcome| metrics::counter!(CALLS, "breaker" => breaker(), "outcome" => outcome));
        let transitions = STATES.map(|from| {
            STATES.map(|to| {
                if possible(from, to) {
                    metrics::counter!(
                        TRANSITIONS,
                        "breaker" => breaker(),
                        "from" => from.as_str(),
                        "to" => to.as_str()
                    )
                } else {
                    Handle::noop()
                }
            })
        });
        let state = STATES.map(|state| {
            let gauge = metrics::gauge!(STATE, "breaker" => breaker(), "state" => state.as_str());
            gauge.set(if state == State::Closed { 1.0 } else { 0.0 });
            gauge
        });
        Exported {
            calls,
            transitions,
            state,
        }
    }

    /// Counts a call's outcome (the other counters are transitions, see below, or admissions,
    /// which are not exported: every admitted call ends in one of the outcomes).
    #[inline]
    pub(crate) fn count(&self, counter: Counter) {
        if let Some(i) = outcome(counter) {
            self.calls[i].increment(1);
        }
    }

    /// Counts a state change and moves the state gauge. The gauge is moved by adding -1 and +1
    /// rather than by setting it, so two transitions reported by different callers in either
    /// order still leave exactly the breaker's state at 1.
    pub(crate) fn transition(&self, from: State, to: State) {
        self.transitions[index(from)][index(to)].increment(1);
        self.state[index(from)].decrement(1.0);
        self.state[index(to)].increment(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifteen_moves_are_possible() {
        let moves: usize = STATES
            .iter()
            .map(|&from| STATES.iter().filter(|&&to| possible(from, to)).count())
            .sum();
        assert_eq!(moves, 15);
        assert!(possible(State::Closed, State::Open));
        assert!(possible(State::Open, State::HalfOpen));
        assert!(possible(State::HalfOpen, State::Closed));
        assert!(possible(State::HalfOpen, State::Open));
        assert!(!possible(State::Closed, State::HalfOpen));
        assert!(!possible(State::Disabled, State::Open));
        assert!(!possible(State::ForcedOpen, State::HalfOpen));
    }

    #[test]
    fn states_and_indices_agree() {
        for (i, state) in STATES.iter().enumerate() {
            assert_eq!(index(*state), i);
        }
    }
}
