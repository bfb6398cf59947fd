//! The packed state word and the pure rules that change it: the whole state machine in one file.
//!
//! A breaker's entire mutable state is one `u64`. This module encodes and decodes that word and
//! says, for each event, what the next word is. It performs no atomic operations and never reads
//! a clock by itself: the caller passes a closure that yields "now" in milliseconds, and each
//! rule calls it only on the branches that need it. [`crate::breaker`] runs these rules inside
//! compare-exchange loops.
//!
//! # Layout
//!
//! ```text
//!  63    61 60    58 57                 42 41                                          0
//! +--------+--------+---------------------+---------------------------------------------+
//! | level  | phase  |      failures       |                    stamp                    |
//! | 3 bits | 3 bits |       16 bits       |            42 bits, milliseconds            |
//! +--------+--------+---------------------+---------------------------------------------+
//! ```
//!
//! - **stamp**: milliseconds on the breaker's clock. `Open`: when the breaker opened.
//!   `Probing`: when the probe was admitted (so a probe that never reports can be reclaimed once
//!   the probe deadline has passed). `Closed` and `HalfOpen`: the stamp of the transition
//!   that began the phase, kept as the phase's identity. 42 bits of milliseconds is 139 years.
//! - **failures**: consecutive failures (saturating at 65 535, so thresholds go up to that).
//! - **phase**: `0` closed, `1` open, `2` half-open with the probe slot free, `3` half-open with
//!   a probe in flight. `4`–`7` are reserved for forced-open and disabled states.
//! - **level**: reserved for the backoff level of the recovery timeout; always `0` today.
//!
//! # Identity of a cycle
//!
//! A permit remembers the `phase` and `stamp` bits of the word that admitted it (its
//! [`Ticket`]). An outcome counts only while the word still carries those bits; otherwise it is
//! *stale* and discarded. Stamps never decrease (every write takes `max(now, stamp)`), and a new
//! closed cycle can only begin after a probe that was admitted at least one recovery timeout
//! (at least 1 ms) after the breaker opened, so each closed cycle has a strictly larger stamp
//! than the one before it. The probe's own ticket differs from a closed-cycle ticket by phase.
//!
//! # Time
//!
//! Readings are clamped into `[stamp, STAMP_MAX]`: for the breaker, time never runs backwards. A
//! clock that steps back makes the open period resume once the clock passes the recorded stamp
//! again; a clock that runs past the 139-year range counts every timeout as elapsed, so the
//! breaker can never be stuck open. At that ceiling stamps stop growing, so the identity argument
//! above no longer holds there: stale outcomes may count (a documented limit).

use crate::State;

const STAMP_BITS: u32 = 42;
const COUNT_SHIFT: u32 = STAMP_BITS;
const COUNT_BITS: u32 = 16;
const PHASE_SHIFT: u32 = COUNT_SHIFT + COUNT_BITS;
const PHASE_BITS: u32 = 3;
const LEVEL_SHIFT: u32 = PHASE_SHIFT + PHASE_BITS;

/// The largest stamp, in milliseconds (about 139 years).
pub(crate) const STAMP_MAX: u64 = (1 << STAMP_BITS) - 1;
/// The largest failure count the word holds, and so the largest threshold.
pub(crate) const COUNT_MAX: u32 = (1 << COUNT_BITS) - 1;

const STAMP_MASK: u64 = STAMP_MAX;
const COUNT_MASK: u64 = (COUNT_MAX as u64) << COUNT_SHIFT;
const PHASE_MASK: u64 = ((1 << PHASE_BITS) - 1) << PHASE_SHIFT;
const LEVEL_MASK: u64 = !(STAMP_MASK | COUNT_MASK | PHASE_MASK);
const TICKET_MASK: u64 = PHASE_MASK | STAMP_MASK;

/// Which part of the cycle the breaker is in, as stored in the word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Every call is admitted.
    Closed = 0,
    /// Calls are rejected until the recovery timeout has elapsed since `stamp`.
    Open = 1,
    /// The recovery timeout has elapsed and the probe slot is free (an earlier probe was
    /// dropped): the next caller becomes the probe.
    HalfOpen = 2,
    /// One probe, admitted at `stamp`, is in flight; everyone else is rejected.
    Probing = 3,
}

impl Phase {
    /// The state readers see for this phase, before the recovery timeout is taken into account
    /// (an `Open` word whose timeout has elapsed reads as half-open; see [`observe`]).
    pub(crate) const fn state(self) -> State {
        match self {
            Phase::Closed => State::Closed,
            Phase::Open => State::Open,
            Phase::HalfOpen | Phase::Probing => State::HalfOpen,
        }
    }

    const fn from_bits(bits: u64) -> Phase {
        match bits {
            1 => Phase::Open,
            2 => Phase::HalfOpen,
            3 => Phase::Probing,
            // Only `new` writes phases and it writes the four above, so 0 is the only other
            // value that can occur; the reserved values fall back to the safe default.
            _ => Phase::Closed,
        }
    }
}

/// The decoded breaker state: a plain `u64` with named accessors.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word(u64);

impl Word {
    /// The word of a fresh breaker: closed, no failures, stamp 0.
    pub(crate) const INITIAL: Word = Word(0);

    /// Packs the fields. `failures` saturates at [`COUNT_MAX`] and `stamp` at [`STAMP_MAX`].
    pub(crate) fn new(phase: Phase, failures: u32, stamp: u64) -> Word {
        let failures = u64::from(failures.min(COUNT_MAX));
        let stamp = stamp.min(STAMP_MAX);
        Word(((phase as u64) << PHASE_SHIFT) | (failures << COUNT_SHIFT) | stamp)
    }

    pub(crate) const fn from_raw(raw: u64) -> Word {
        Word(raw)
    }

    pub(crate) const fn raw(self) -> u64 {
        self.0
    }

    pub(crate) const fn phase(self) -> Phase {
        Phase::from_bits((self.0 & PHASE_MASK) >> PHASE_SHIFT)
    }

    // The mask keeps 16 bits, so the value always fits.
    #[allow(clippy::cast_possible_truncation)]
    pub(crate) const fn failures(self) -> u32 {
        ((self.0 & COUNT_MASK) >> COUNT_SHIFT) as u32
    }

    pub(crate) const fn stamp(self) -> u64 {
        self.0 & STAMP_MASK
    }

    /// The reserved backoff-level bits (always zero today).
    pub(crate) const fn level(self) -> u64 {
        (self.0 & LEVEL_MASK) >> LEVEL_SHIFT
    }

    /// The identity a permit admitted by this word carries.
    pub(crate) const fn ticket(self) -> Ticket {
        Ticket(self.0 & TICKET_MASK)
    }

    /// Whether `ticket` was issued in the cycle this word is still in.
    pub(crate) const fn issued(self, ticket: Ticket) -> bool {
        self.0 & TICKET_MASK == ticket.0
    }

    fn with(self, phase: Phase, failures: u32, stamp: u64) -> Word {
        Word((self.0 & LEVEL_MASK) | Word::new(phase, failures, stamp).0)
    }
}

impl core::fmt::Debug for Word {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Word")
            .field("phase", &self.phase())
            .field("failures", &self.failures())
            .field("stamp", &self.stamp())
            .field("level", &self.level())
            .finish()
    }
}

/// The phase and stamp of the word that admitted a call: which cycle its outcome belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket(u64);

impl Ticket {
    /// Whether this ticket belongs to the half-open probe (rather than a closed-state call).
    pub(crate) const fn is_probe(self) -> bool {
        Word(self.0).phase() as u64 == Phase::Probing as u64
    }
}

/// The validated numbers the rules need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Policy {
    /// Consecutive failures that open the breaker, in `1..=COUNT_MAX`.
    pub(crate) failure_threshold: u32,
    /// How long the breaker stays open, in milliseconds, in `1..=STAMP_MAX`.
    pub(crate) recovery_ms: u64,
    /// How long a probe may stay in flight before its slot is handed to the next caller, in
    /// milliseconds, in `1..=STAMP_MAX`.
    pub(crate) probe_deadline_ms: u64,
}

/// Why a call was turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// `Open`, or `Probing` while another caller's probe is in flight.
    pub(crate) phase: Phase,
    pub(crate) failures: u32,
    /// Milliseconds until a probe may be admitted; 0 while a probe is in flight.
    pub(crate) remaining_ms: u64,
}

/// What a caller asking for admission gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Admitted; the word does not change.
    Admit(Ticket),
    /// Admitted as the half-open probe, once `next` has been installed by compare-exchange.
    Probe(Word),
    /// Rejected; the word does not change.
    Reject(Refusal),
}

/// What recording an outcome does to the word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// The outcome counts but changes nothing (a success with no failures to reset).
    Keep,
    /// The outcome belongs to an earlier cycle and is discarded.
    Stale,
    /// Install this word.
    Write(Word),
}

/// Clamps a clock reading into `[floor, STAMP_MAX]`.
fn clamp(now_ms: u64, floor: u64) -> u64 {
    now_ms.min(STAMP_MAX).max(floor)
}

/// Whether `limit_ms` has run out since `since`, at time `now` (already clamped). At the end of
/// the stamp range no more time can be measured, so every limit counts as run out rather than
/// holding the breaker in one phase for ever.
fn expired(since: u64, now: u64, limit_ms: u64) -> bool {
    now == STAMP_MAX || now - since >= limit_ms
}

/// Milliseconds left in the open period (0 once it has run out).
fn remaining(opened: u64, now: u64, policy: &Policy) -> u64 {
    if expired(opened, now, policy.recovery_ms) {
        0
    } else {
        policy.recovery_ms - (now - opened)
    }
}

/// A caller asks to run. Reads the clock only when the breaker is not closed.
///
/// While a probe is in flight everyone else is turned away, until the probe deadline has passed
/// since it was admitted: then the probe is presumed lost (leaked, or stuck for ever) and this
/// caller takes the slot. The lost probe's ticket no longer matches, so if it ever reports, its
/// outcome is discarded.
pub(crate) fn acquire(w: Word, policy: &Policy, now: &mut impl FnMut() -> u64) -> Admission {
    match w.phase() {
        Phase::Closed => Admission::Admit(w.ticket()),
        Phase::Open => {
            let now = clamp(now(), w.stamp());
            if expired(w.stamp(), now, policy.recovery_ms) {
                Admission::Probe(w.with(Phase::Probing, w.failures(), now))
            } else {
                Admission::Reject(Refusal {
                    phase: Phase::Open,
                    failures: w.failures(),
                    remaining_ms: remaining(w.stamp(), now, policy),
                })
            }
        }
        Phase::HalfOpen => {
            let now = clamp(now(), w.stamp());
            Admission::Probe(w.with(Phase::Probing, w.failures(), now))
        }
        Phase::Probing => {
            let now = clamp(now(), w.stamp());
            if expired(w.stamp(), now, policy.probe_deadline_ms) {
                Admission::Probe(w.with(Phase::Probing, w.failures(), now))
            } else {
                Admission::Reject(Refusal {
                    phase: Phase::Probing,
                    failures: w.failures(),
                    remaining_ms: 0,
                })
            }
        }
    }
}

/// A call admitted with `ticket` succeeded (or failed with an error that does not count).
pub(crate) fn succeed(w: Word, ticket: Ticket) -> Step {
    if !w.issued(ticket) {
        return Step::Stale;
    }
    match w.phase() {
        Phase::Closed if w.failures() == 0 => Step::Keep,
        // Reset the count; a successful probe also closes, its stamp becoming the identity of
        // the new closed cycle.
        Phase::Closed | Phase::Probing => Step::Write(w.with(Phase::Closed, 0, w.stamp())),
        // No ticket is ever issued in these phases.
        Phase::Open | Phase::HalfOpen => Step::Stale,
    }
}

/// A call admitted with `ticket` failed. Reads the clock only when the failure opens the breaker.
pub(crate) fn fail(
    w: Word,
    ticket: Ticket,
    policy: &Policy,
    now: &mut impl FnMut() -> u64,
) -> Step {
    if !w.issued(ticket) {
        return Step::Stale;
    }
    let failures = w.failures().saturating_add(1).min(COUNT_MAX);
    match w.phase() {
        Phase::Closed if failures < policy.failure_threshold => {
            Step::Write(w.with(Phase::Closed, failures, w.stamp()))
        }
        Phase::Closed | Phase::Probing => {
            Step::Write(w.with(Phase::Open, failures, clamp(now(), w.stamp())))
        }
        Phase::Open | Phase::HalfOpen => Step::Stale,
    }
}

/// A call admitted with `ticket` ended without an outcome (dropped, cancelled or ignored).
/// A closed-state call leaves no trace; a probe frees the probe slot.
pub(crate) fn release(w: Word, ticket: Ticket) -> Step {
    if !w.issued(ticket) {
        return Step::Stale;
    }
    match w.phase() {
        Phase::Probing => Step::Write(w.with(Phase::HalfOpen, w.failures(), w.stamp())),
        Phase::Closed => Step::Keep,
        Phase::Open | Phase::HalfOpen => Step::Stale,
    }
}

/// What a reader sees: the public state, the failure count and the open time left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct View {
    pub(crate) state: State,
    pub(crate) failures: u32,
    pub(crate) remaining_ms: u64,
}

/// Decodes `w` for readers. Reads the clock only when the breaker is open.
pub(crate) fn observe(w: Word, policy: &Policy, now: &mut impl FnMut() -> u64) -> View {
    let (state, remaining_ms) = match w.phase() {
        Phase::Closed => (State::Closed, 0),
        Phase::Open => {
            let now = clamp(now(), w.stamp());
            match remaining(w.stamp(), now, policy) {
                0 => (State::HalfOpen, 0),
                ms => (State::Open, ms),
            }
        }
        Phase::HalfOpen | Phase::Probing => (State::HalfOpen, 0),
    };
    View {
        state,
        failures: w.failures(),
        remaining_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Policy = Policy {
        failure_threshold: 3,
        recovery_ms: 1_000,
        probe_deadline_ms: 5_000,
    };

    fn at(ms: u64) -> impl FnMut() -> u64 {
        move || ms
    }

    fn no_clock() -> impl FnMut() -> u64 {
        || panic!("this rule must not read the clock")
    }

    fn written(step: Step) -> Word {
        match step {
            Step::Write(w) => w,
            other => panic!("expected a write, got {other:?}"),
        }
    }

    fn probe(admission: Admission) -> Word {
        match admission {
            Admission::Probe(w) => w,
            other => panic!("expected a probe, got {other:?}"),
        }
    }

    #[test]
    fn fields_round_trip_at_their_limits() {
        for phase in [Phase::Closed, Phase::Open, Phase::HalfOpen, Phase::Probing] {
            for failures in [0, 1, 4_242, COUNT_MAX] {
                for stamp in [0, 1, 1 << 41, STAMP_MAX] {
                    let w = Word::new(phase, failures, stamp);
                    assert_eq!(
                        (w.phase(), w.failures(), w.stamp()),
                        (phase, failures, stamp)
                    );
                    assert_eq!(w.level(), 0);
                    assert_eq!(Word::from_raw(w.raw()), w);
                }
            }
        }
    }

    #[test]
    fn oversized_fields_saturate_instead_of_spilling_into_neighbours() {
        let w = Word::new(Phase::Probing, u32::MAX, u64::MAX);
        assert_eq!(w.phase(), Phase::Probing);
        assert_eq!(w.failures(), COUNT_MAX);
        assert_eq!(w.stamp(), STAMP_MAX);
        assert_eq!(w.level(), 0);
    }

    #[test]
    fn stamp_range_covers_a_century_of_milliseconds() {
        let century_ms = 100 * 366 * 24 * 3_600 * 1_000_u64;
        assert!(STAMP_MAX > century_ms);
    }

    #[test]
    fn transitions_keep_the_reserved_level_bits() {
        let w = Word::from_raw(Word::new(Phase::Closed, 0, 5).raw() | (0b101 << LEVEL_SHIFT));
        let opened = written(fail(
            written(fail(
                written(fail(w, w.ticket(), &POLICY, &mut at(7))),
                w.ticket(),
                &POLICY,
                &mut at(7),
            )),
            w.ticket(),
            &POLICY,
            &mut at(7),
        ));
        assert_eq!(opened.phase(), Phase::Open);
        assert_eq!(opened.level(), 0b101);
    }

    #[test]
    fn closed_admits_without_a_clock_and_without_a_write() {
        let w = Word::new(Phase::Closed, 2, 10);
        assert_eq!(
            acquire(w, &POLICY, &mut no_clock()),
            Admission::Admit(w.ticket())
        );
    }

    #[test]
    fn success_with_no_failures_changes_nothing_and_reads_no_clock() {
        let w = Word::INITIAL;
        assert_eq!(succeed(w, w.ticket()), Step::Keep);
    }

    #[test]
    fn success_resets_the_count() {
        let w = Word::new(Phase::Closed, 2, 10);
        let next = written(succeed(w, w.ticket()));
        assert_eq!(next, Word::new(Phase::Closed, 0, 10));
    }

    #[test]
    fn failures_below_the_threshold_count_without_the_clock() {
        let w = Word::new(Phase::Closed, 1, 10);
        let next = written(fail(w, w.ticket(), &POLICY, &mut no_clock()));
        assert_eq!(next, Word::new(Phase::Closed, 2, 10));
    }

    #[test]
    fn the_failure_that_reaches_the_threshold_opens_at_now() {
        let w = Word::new(Phase::Closed, 2, 10);
        let next = written(fail(w, w.ticket(), &POLICY, &mut at(500)));
        assert_eq!(next, Word::new(Phase::Open, 3, 500));
    }

    #[test]
    fn open_rejects_with_the_time_left_until_the_timeout() {
        let w = Word::new(Phase::Open, 3, 500);
        assert_eq!(
            acquire(w, &POLICY, &mut at(700)),
            Admission::Reject(Refusal {
                phase: Phase::Open,
                failures: 3,
                remaining_ms: 800
            })
        );
        let view = observe(w, &POLICY, &mut at(700));
        assert_eq!((view.state, view.remaining_ms), (State::Open, 800));
    }

    #[test]
    fn open_becomes_half_open_exactly_at_the_timeout() {
        let w = Word::new(Phase::Open, 3, 500);
        assert!(matches!(
            acquire(w, &POLICY, &mut at(1_499)),
            Admission::Reject(Refusal {
                remaining_ms: 1,
                ..
            })
        ));
        assert_eq!(observe(w, &POLICY, &mut at(1_500)).state, State::HalfOpen);
        let probing = probe(acquire(w, &POLICY, &mut at(1_500)));
        assert_eq!(probing, Word::new(Phase::Probing, 3, 1_500));
    }

    #[test]
    fn a_probe_in_flight_turns_everyone_else_away_until_its_deadline() {
        let w = Word::new(Phase::Probing, 3, 1_500);
        assert_eq!(
            acquire(w, &POLICY, &mut at(6_499)),
            Admission::Reject(Refusal {
                phase: Phase::Probing,
                failures: 3,
                remaining_ms: 0
            })
        );
        assert_eq!(observe(w, &POLICY, &mut no_clock()).state, State::HalfOpen);
    }

    #[test]
    fn a_probe_past_its_deadline_is_reclaimed_and_its_late_outcome_discarded() {
        let lost = Word::new(Phase::Probing, 3, 1_500);
        let reclaimed = probe(acquire(lost, &POLICY, &mut at(6_500)));
        assert_eq!(reclaimed, Word::new(Phase::Probing, 3, 6_500));
        assert_eq!(succeed(reclaimed, lost.ticket()), Step::Stale);
        assert_eq!(
            fail(reclaimed, lost.ticket(), &POLICY, &mut no_clock()),
            Step::Stale
        );
        assert_eq!(release(reclaimed, lost.ticket()), Step::Stale);
    }

    #[test]
    fn probe_success_closes_with_a_zero_count() {
        let w = Word::new(Phase::Probing, 3, 1_500);
        let closed = written(succeed(w, w.ticket()));
        assert_eq!(closed, Word::new(Phase::Closed, 0, 1_500));
    }

    #[test]
    fn probe_failure_reopens_with_a_fresh_timer() {
        let w = Word::new(Phase::Probing, 3, 1_500);
        let reopened = written(fail(w, w.ticket(), &POLICY, &mut at(1_600)));
        assert_eq!(reopened, Word::new(Phase::Open, 4, 1_600));
        assert_eq!(
            observe(reopened, &POLICY, &mut at(1_600)).remaining_ms,
            1_000
        );
    }

    #[test]
    fn a_released_probe_frees_the_slot_for_the_next_caller() {
        let w = Word::new(Phase::Probing, 3, 1_500);
        let free = written(release(w, w.ticket()));
        assert_eq!(free, Word::new(Phase::HalfOpen, 3, 1_500));
        let again = probe(acquire(free, &POLICY, &mut at(1_700)));
        assert_eq!(again, Word::new(Phase::Probing, 3, 1_700));
    }

    #[test]
    fn releasing_a_closed_call_records_nothing() {
        let w = Word::new(Phase::Closed, 2, 10);
        assert_eq!(release(w, w.ticket()), Step::Keep);
    }

    #[test]
    fn outcomes_from_an_earlier_cycle_are_stale() {
        let old = Word::new(Phase::Closed, 0, 10);
        let ticket = old.ticket();
        // The breaker has since opened, probed and closed again.
        let opened = Word::new(Phase::Open, 3, 20);
        let probing = Word::new(Phase::Probing, 3, 1_020);
        let reclosed = Word::new(Phase::Closed, 0, 1_020);
        for w in [opened, probing, reclosed] {
            assert_eq!(fail(w, ticket, &POLICY, &mut no_clock()), Step::Stale);
            assert_eq!(succeed(w, ticket), Step::Stale);
            assert_eq!(release(w, ticket), Step::Stale);
        }
        // ...and the probe's own ticket cannot count in the closed cycle it started.
        let probe_ticket = probing.ticket();
        assert!(probe_ticket.is_probe());
        assert!(!ticket.is_probe());
        assert_eq!(succeed(reclosed, probe_ticket), Step::Stale);
    }

    #[test]
    fn a_clock_that_steps_back_never_moves_a_stamp_backwards() {
        let w = Word::new(Phase::Closed, 2, 900);
        let opened = written(fail(w, w.ticket(), &POLICY, &mut at(100)));
        assert_eq!(opened.stamp(), 900);
        let view = observe(opened, &POLICY, &mut at(0));
        assert_eq!((view.state, view.remaining_ms), (State::Open, 1_000));
        assert!(matches!(
            acquire(opened, &POLICY, &mut at(1_900)),
            Admission::Probe(_)
        ));
    }

    #[test]
    fn a_clock_beyond_the_stamp_range_cannot_hold_the_breaker_open() {
        let w = Word::new(Phase::Closed, 2, 0);
        let opened = written(fail(w, w.ticket(), &POLICY, &mut at(u64::MAX)));
        assert_eq!(opened.stamp(), STAMP_MAX);
        assert!(matches!(
            acquire(opened, &POLICY, &mut at(u64::MAX)),
            Admission::Probe(_)
        ));
    }

    #[test]
    fn the_count_saturates_at_its_field_width() {
        let policy = Policy {
            failure_threshold: COUNT_MAX,
            recovery_ms: 1,
            probe_deadline_ms: 1,
        };
        let w = Word::new(Phase::Probing, COUNT_MAX, 5);
        let reopened = written(fail(w, w.ticket(), &policy, &mut at(6)));
        assert_eq!(reopened.failures(), COUNT_MAX);
        assert_eq!(reopened.phase(), Phase::Open);
    }
}
