//! Reporting through the [`metrics`] facade (feature `metrics`): the handles one breaker
//! registers when it is built with [`Builder::export_metrics`](crate::Builder::export_metrics).
//!
//! Every handle is registered once, in `build()`, with whatever recorder is installed then (the
//! global one, or a local one set with [`metrics::with_local_recorder`]). A call then costs one
//! increment through a handle it already holds: no key is built or hashed per call.
//!
//! | series | kind | labels | what it counts |
//! |---|---|---|---|
//! | `circuit_breaker_calls_total` | counter | `breaker`, `outcome` | finished or refused calls, by `outcome`: `success`, `failure`, `slow`, `ignored`, `rejected`, `discarded` |
//! | `circuit_breaker_transitions_total` | counter | `breaker`, `from`, `to`, `cause` | state changes, by the states before and after and why |
//! | `circuit_breaker_state` | gauge | `breaker`, `state` | 1 for the state the breaker is in, 0 for the others |
//!
//! Each finished or refused call is counted under exactly one outcome. `slow` is a success
//! recorded as a failure because it lasted at least the
//! [slow-call threshold](crate::Builder::slow_call_threshold): it counts toward opening the
//! breaker like a failure, but is not counted under `failure`, so the calls that failed are
//! `failure` + `slow` (a `PromQL` selector: `outcome=~"failure|slow"`). The `slow` series is registered
//! only for a breaker with a slow-call threshold.
//!
//! States are labelled as [`State::as_str`] spells them: `closed`, `open`, `half-open`,
//! `forced-open`, `disabled`; causes as [`Cause::as_str`] does: `calls`, `manual`,
//! `fleet_quorum`, `fleet_counted`, `fleet_probe`, `fleet_sync`, `fleet_released`.
//!
//! The transitions counter has one series for each move the breaker can make for each cause
//! that can make it, 37 in all, registered at build with the others: its own calls move it
//! closed -> open -> half-open -> closed or open again (4); manual control moves it to
//! forced-open or disabled from any other state and closes it from any (12); a coordinator
//! (any of its 5 reasons) opens it from closed or half-open and closes it from open or
//! half-open (20), and letting go moves it from open to half-open (1).

use alloc::borrow::ToOwned;
use alloc::string::String;

use metrics::{Counter as Handle, Gauge, Unit};

use crate::observe::Counter;
use crate::{Cause, Reason, State};

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

/// The cause labels, in the order of [`cause_index`].
const CAUSES: [&str; 7] = [
    Cause::Calls.as_str(),
    Cause::Manual.as_str(),
    Reason::Quorum {
        tripped: 0,
        live: 0,
    }
    .as_str(),
    Reason::Counted.as_str(),
    Reason::Probe.as_str(),
    Reason::Sync.as_str(),
    Reason::Released.as_str(),
];

fn cause_index(cause: Cause) -> usize {
    match cause {
        Cause::Calls => CALLS_CAUSE,
        Cause::Manual => MANUAL_CAUSE,
        Cause::Remote(Reason::Quorum { .. }) => 2,
        Cause::Remote(Reason::Counted) => 3,
        Cause::Remote(Reason::Probe) => 4,
        Cause::Remote(Reason::Sync) => 5,
        Cause::Remote(Reason::Released) => RELEASED_CAUSE,
    }
}

const CALLS_CAUSE: usize = 0;
const MANUAL_CAUSE: usize = 1;
const RELEASED_CAUSE: usize = 6;

// The states' indices (see `index`), for the tables below.
const CLOSED: usize = 0;
const OPEN: usize = 1;
const HALF_OPEN: usize = 2;
const FORCED_OPEN: usize = 3;
const DISABLED: usize = 4;

/// Whether the breaker can ever move from the state of index `from` to that of index `to` for
/// the cause of index `cause`: its own calls make the automatic cycle, manual control moves it
/// to forced-open or disabled from any other state and closes it from any, a coordinator opens
/// it from closed or half-open and closes it from open or half-open (for any reason), and
/// letting go moves a hold whose fleet was probing to half-open.
const fn possible(from: usize, to: usize, cause: usize) -> bool {
    if from == to {
        return false;
    }
    match cause {
        CALLS_CAUSE => matches!(
            (from, to),
            (CLOSED, OPEN) | (OPEN, HALF_OPEN) | (HALF_OPEN, CLOSED | OPEN)
        ),
        MANUAL_CAUSE => matches!(to, CLOSED | FORCED_OPEN | DISABLED),
        _ => {
            matches!(
                (from, to),
                (CLOSED | HALF_OPEN, OPEN) | (OPEN | HALF_OPEN, CLOSED)
            ) || (cause == RELEASED_CAUSE && from == OPEN && to == HALF_OPEN)
        }
    }
}

/// No series: the move is impossible for that cause.
const NONE: u8 = u8::MAX;

/// Each possible move's place among the transition handles, by `[from][to][cause]`, and how
/// many there are.
const fn slots() -> ([[[u8; CAUSES.len()]; 5]; 5], usize) {
    let mut table = [[[NONE; CAUSES.len()]; 5]; 5];
    let mut n = 0;
    let mut from = 0;
    while from < 5 {
        let mut to = 0;
        while to < 5 {
            let mut cause = 0;
            while cause < CAUSES.len() {
                if possible(from, to, cause) {
                    // Fewer than 255 moves (checked below), so the slot fits.
                    #[allow(clippy::cast_possible_truncation)]
                    {
                        table[from][to][cause] = n as u8;
                    }
                    n += 1;
                }
                cause += 1;
            }
            to += 1;
        }
        from += 1;
    }
    (table, n)
}

const SLOTS: [[[u8; CAUSES.len()]; 5]; 5] = slots().0;
/// How many (from, to, cause) series the transitions counter has.
const MOVES: usize = slots().1;
const _: () = assert!(MOVES < NONE as usize);

/// The outcome label of the calls counter, for the counters that are outcomes.
fn outcome(counter: Counter) -> Option<usize> {
    match counter {
        Counter::Succeeded => Some(0),
        Counter::Failed => Some(1),
        Counter::Ignored => Some(2),
        Counter::Rejected => Some(3),
        Counter::Discarded => Some(4),
        Counter::Slow => Some(5),
        Counter::Admitted
        | Counter::Opened
        | Counter::HalfOpened
        | Counter::Closed
        | Counter::Manual => None,
    }
}

/// The outcome labels, in the order of [`outcome`].
const OUTCOMES: [&str; 6] = [
    "success",
    "failure",
    "ignored",
    "rejected",
    "discarded",
    "slow",
];

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
    /// Registers the handles if they were asked for; the `slow` outcome's only if the breaker
    /// detects slow calls.
    pub(crate) fn register(&mut self, name: &str, slow: bool) {
        if matches!(self, Export::Asked) {
            *self = Export::On(Exported::register(name, slow));
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

    pub(crate) fn transition(&self, from: State, to: State, cause: Cause) {
        if let Export::On(exported) = self {
            exported.transition(from, to, cause);
        }
    }
}

/// The facade handles of one breaker.
pub(crate) struct Exported {
    /// One per outcome, in the order of [`OUTCOMES`] (`slow` a no-op handle unless the breaker
    /// detects slow calls).
    calls: [Handle; 6],
    /// One per possible move and cause, in the order of [`SLOTS`].
    transitions: [Handle; MOVES],
    state: [Gauge; 5],
}

impl Exported {
    /// Describes the series and registers every handle of the breaker called `name` (the
    /// `slow` outcome's only if `slow`), starting the state gauge at closed.
    pub(crate) fn register(name: &str, slow: bool) -> Exported {
        metrics::describe_counter!(
            CALLS,
            Unit::Count,
            "Calls through a circuit breaker, by outcome: success, failure, slow (a success counted as a failure for lasting at least the slow-call threshold; not also under failure), ignored, rejected (not admitted), discarded (outcome of an earlier cycle)."
        );
        metrics::describe_counter!(
            TRANSITIONS,
            Unit::Count,
            "State changes of a circuit breaker, by the states before and after and the cause: calls, manual, or a fleet reason (fleet_quorum, fleet_counted, fleet_probe, fleet_sync, fleet_released)."
        );
        metrics::describe_gauge!(
            STATE,
            "1 for the state a circuit breaker is in, 0 for its other states."
        );
        let breaker = || -> String { name.to_owned() };
        let calls = OUTCOMES.map(|outcome| {
            if outcome == "slow" && !slow {
                Handle::noop()
            } else {
                metrics::counter!(CALLS, "breaker" => breaker(), "outcome" => outcome)
            }
        });
        let mut transitions: [Handle; MOVES] = core::array::from_fn(|_| Handle::noop());
        for (from, tos) in SLOTS.iter().enumerate() {
            for (to, causes) in tos.iter().enumerate() {
                for (cause, &slot) in causes.iter().enumerate() {
                    if let Some(handle) = transitions.get_mut(usize::from(slot)) {
                        *handle = metrics::counter!(
                            TRANSITIONS,
                            "breaker" => breaker(),
                            "from" => STATES[from].as_str(),
                            "to" => STATES[to].as_str(),
                            "cause" => CAUSES[cause]
                        );
                    }
                }
            }
        }
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
    /// order still leave exactly the breaker's state at 1. The counter is found by indexing a
    /// fixed table: no key is built.
    pub(crate) fn transition(&self, from: State, to: State, cause: Cause) {
        let slot = SLOTS[index(from)][index(to)][cause_index(cause)];
        if let Some(handle) = self.transitions.get(usize::from(slot)) {
            handle.increment(1);
        }
        self.state[index(from)].decrement(1.0);
        self.state[index(to)].increment(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn can(from: State, to: State, cause: Cause) -> bool {
        possible(index(from), index(to), cause_index(cause))
    }

    #[test]
    fn thirty_seven_moves_are_possible_each_with_its_own_slot() {
        assert_eq!(MOVES, 37);
        let mut seen = std::collections::BTreeSet::new();
        for (from, tos) in SLOTS.iter().enumerate() {
            for (to, causes) in tos.iter().enumerate() {
                for (cause, &slot) in causes.iter().enumerate() {
                    assert_eq!(slot != NONE, possible(from, to, cause));
                    if slot != NONE {
                        assert!(usize::from(slot) < MOVES);
                        assert!(seen.insert(slot), "slot {slot} twice");
                    }
                }
            }
        }
        assert_eq!(seen.len(), MOVES);
        // Without a coordinator: the automatic cycle and manual control (15 moves of state, one
        // of them, half-open to closed, by both).
        let local: usize = [Cause::Calls, Cause::Manual]
            .iter()
            .map(|&cause| {
                STATES
                    .iter()
                    .map(|&from| STATES.iter().filter(|&&to| can(from, to, cause)).count())
                    .sum::<usize>()
            })
            .sum();
        assert_eq!(
            local, 16,
            "half-open -> closed both by a probe and by a reset"
        );
        let fleet = Cause::Remote(Reason::Sync);
        let released = Cause::Remote(Reason::Released);
        assert!(can(State::Closed, State::Open, Cause::Calls));
        assert!(can(State::Open, State::HalfOpen, Cause::Calls));
        assert!(can(State::HalfOpen, State::Closed, Cause::Calls));
        assert!(can(State::HalfOpen, State::Open, Cause::Calls));
        assert!(!can(State::Open, State::Closed, Cause::Calls));
        assert!(can(State::Open, State::Closed, Cause::Manual));
        assert!(!can(State::Closed, State::Open, Cause::Manual));
        assert!(can(State::Closed, State::Open, fleet));
        assert!(can(State::HalfOpen, State::Open, fleet));
        assert!(can(State::Open, State::Closed, fleet));
        assert!(!can(State::Open, State::HalfOpen, fleet));
        assert!(can(State::Open, State::HalfOpen, released));
        assert!(!can(State::Closed, State::HalfOpen, Cause::Calls));
        assert!(!can(State::Disabled, State::Open, Cause::Calls));
        assert!(!can(State::ForcedOpen, State::HalfOpen, Cause::Manual));
        assert!(!can(State::Closed, State::ForcedOpen, fleet));
    }

    #[test]
    fn causes_and_indices_agree() {
        let causes = [
            Cause::Calls,
            Cause::Manual,
            Cause::Remote(Reason::Quorum {
                tripped: 1,
                live: 2,
            }),
            Cause::Remote(Reason::Counted),
            Cause::Remote(Reason::Probe),
            Cause::Remote(Reason::Sync),
            Cause::Remote(Reason::Released),
        ];
        for (i, cause) in causes.iter().enumerate() {
            assert_eq!(cause_index(*cause), i);
            assert_eq!(CAUSES[i], cause.as_str());
        }
    }

    #[test]
    fn states_and_indices_agree() {
        for (i, state) in STATES.iter().enumerate() {
            assert_eq!(index(*state), i);
        }
    }
}
