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
//!   a probe in flight, `4` forced open, `5` disabled, `6` held open by a remote coordinator,
//!   `7` held with the fleet's probe granted here, its slot free (see
//!   [Remote coordination](#remote-coordination)).
//! - **level**: the backoff level. Each failed probe raises it by one (up to 7); the open period
//!   is the recovery timeout doubled once per level, capped by the backoff maximum. Closing resets
//!   it to 0. Without backoff the cap equals the recovery timeout, so the level changes nothing.
//!
//! # Identity of a cycle
//!
//! A permit remembers the `phase` and `stamp` bits of the word that admitted it (its
//! [`Ticket`]). An outcome counts only while the word still carries those bits; otherwise it is
//! *stale* and discarded. Stamps never decrease (every write takes `max(now, stamp)`), and a new
//! closed cycle can only begin after a probe that was admitted at least one recovery timeout
//! (at least 1 ms) after the breaker opened, so each closed cycle has a strictly larger stamp
//! than the one before it. The probe's own ticket differs from a closed-cycle ticket by phase.
//! Manual transitions (force open, disable, reset) take `max(now, stamp + 1)`, so they too start
//! a cycle no earlier ticket can match.
//!
//! # Remote coordination
//!
//! A coordinator outside the call path (the fleet agent of `async-breaker-fleet`) can move the
//! word with [`remote`]: *hold* it open while the fleet is open or probing elsewhere, *grant*
//! it the fleet's one probe, *revoke* an unclaimed grant, *close* it when the fleet closes, and
//! *release* it back to a plain local breaker. Each is one compare-exchange and starts a new
//! cycle (stamp `max(now, stamp + 1)`), so every permit admitted before is stale.
//!
//! A grant installs `Granted` (phase 7), not `HalfOpen`: both admit the next caller as the
//! probe and read as half-open, but a `Granted` word is still the fleet's hold as far as
//! transition reports go ([`Phase::reported`]). So a grant taken back unclaimed was never a
//! transition, and the caller that claims the slot reports open -> half-open, exactly as a
//! local probe admitted from `Open` does.
//!
//! `Held` (phase 6) rejects every caller and never admits a probe while the coordinator keeps
//! renewing it. Its stamp is when it was last held; how long the fleet's open period still runs
//! is display data that the breaker keeps beside the word (it decides nothing). A `Held` word not
//! renewed for its open period plus the probe deadline behaves like an `Open` word whose time has
//! run out: the next caller becomes a local probe. So a coordinator that dies or hangs can never
//! hold a breaker for ever.
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
/// The largest backoff level: the open period doubles at most seven times (128x).
pub(crate) const MAX_LEVEL: u64 = 7;

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
    /// Forced open by hand: every call is rejected until the breaker is reset.
    ForcedOpen = 4,
    /// Disabled by hand: every call is admitted and no outcome is recorded.
    Disabled = 5,
    /// Held open by a remote coordinator since `stamp`: every call is rejected, and no probe is
    /// admitted until the coordinator grants one, or until the hold has gone unrenewed for its
    /// open period plus the probe deadline (then the next caller probes, as from `Open`).
    Held = 6,
    /// Held, with the fleet's probe granted here since `stamp`: the probe slot is free, so the
    /// next caller becomes the probe, as from `HalfOpen`. Reported as the hold it came from
    /// (open) until a caller claims the slot.
    Granted = 7,
}

impl Phase {
    /// The state readers see for this phase, before the recovery timeout is taken into account
    /// (an `Open` word whose timeout has elapsed reads as half-open; see [`observe`]).
    pub(crate) const fn state(self) -> State {
        match self {
            Phase::Closed => State::Closed,
            Phase::Open | Phase::Held => State::Open,
            Phase::HalfOpen | Phase::Probing | Phase::Granted => State::HalfOpen,
            Phase::ForcedOpen => State::ForcedOpen,
            Phase::Disabled => State::Disabled,
        }
    }

    /// The state transition reports (listeners, `tracing`, `metrics`) take this phase for: the
    /// phase's [`state`](Self::state), except that a granted, unclaimed probe slot is still the
    /// fleet's hold (open). A change of this is a transition; nothing else is.
    #[inline]
    pub(crate) const fn reported(self) -> State {
        match self {
            Phase::Granted => State::Open,
            phase => phase.state(),
        }
    }

    #[inline]
    const fn from_bits(bits: u64) -> Phase {
        match bits {
            1 => Phase::Open,
            2 => Phase::HalfOpen,
            3 => Phase::Probing,
            4 => Phase::ForcedOpen,
            5 => Phase::Disabled,
            6 => Phase::Held,
            7 => Phase::Granted,
            // The field is three bits wide, so 0 is the only other value.
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
    #[inline]
    pub(crate) fn new(phase: Phase, failures: u32, stamp: u64) -> Word {
        let failures = u64::from(failures.min(COUNT_MAX));
        let stamp = stamp.min(STAMP_MAX);
        Word(((phase as u64) << PHASE_SHIFT) | (failures << COUNT_SHIFT) | stamp)
    }

    #[inline]
    pub(crate) const fn from_raw(raw: u64) -> Word {
        Word(raw)
    }

    #[inline]
    pub(crate) const fn raw(self) -> u64 {
        self.0
    }

    #[inline]
    pub(crate) const fn phase(self) -> Phase {
        Phase::from_bits((self.0 & PHASE_MASK) >> PHASE_SHIFT)
    }

    // The mask keeps 16 bits, so the value always fits.
    #[allow(clippy::cast_possible_truncation)]
    #[inline]
    pub(crate) const fn failures(self) -> u32 {
        ((self.0 & COUNT_MASK) >> COUNT_SHIFT) as u32
    }

    #[inline]
    pub(crate) const fn stamp(self) -> u64 {
        self.0 & STAMP_MASK
    }

    /// The backoff level, `0..=MAX_LEVEL`.
    pub(crate) const fn level(self) -> u64 {
        (self.0 & LEVEL_MASK) >> LEVEL_SHIFT
    }

    fn with_level(self, level: u64) -> Word {
        Word((self.0 & !LEVEL_MASK) | (level.min(MAX_LEVEL) << LEVEL_SHIFT))
    }

    /// The identity a permit admitted by this word carries.
    #[inline]
    pub(crate) const fn ticket(self) -> Ticket {
        Ticket(self.0 & TICKET_MASK)
    }

    /// The phase and stamp bits: the identity of the word's cycle, for remote coordinators.
    pub(crate) const fn cycle_id(self) -> u64 {
        self.0 & TICKET_MASK
    }

    /// Closed, as a single mask test (the admission fast path).
    #[inline]
    pub(crate) const fn is_closed(self) -> bool {
        self.0 & PHASE_MASK == 0
    }

    /// Whether `ticket` was issued in the cycle this word is still in.
    #[inline]
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

    /// Whether this ticket belongs to a closed-state call.
    pub(crate) const fn is_closed(self) -> bool {
        Word(self.0).phase() as u64 == Phase::Closed as u64
    }

    /// The stamp of the cycle that issued this ticket.
    pub(crate) const fn stamp(self) -> u64 {
        Word(self.0).stamp()
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
    /// The longest open period backoff may reach, in `recovery_ms..=STAMP_MAX`; equal to
    /// `recovery_ms` when there is no backoff.
    pub(crate) backoff_max_ms: u64,
    /// Whether each open period is shortened by a pseudo-random amount of up to half.
    pub(crate) jitter: bool,
    /// A call slower than this many milliseconds counts as a failure even if it succeeded;
    /// 0 turns slow-call detection off (and with it the clock reads it needs).
    pub(crate) slow_call_ms: u64,
    /// Whether reaching `failure_threshold` consecutive failures opens the breaker; `false` when
    /// a failure-rate window decides instead (see [`trip`]).
    pub(crate) trip_on_count: bool,
}

impl Policy {
    /// Consecutive failures, plain open period, no backoff: the policy the unit tests start from.
    #[cfg(test)]
    pub(crate) const fn plain(
        failure_threshold: u32,
        recovery_ms: u64,
        probe_deadline_ms: u64,
    ) -> Policy {
        Policy {
            failure_threshold,
            recovery_ms,
            probe_deadline_ms,
            backoff_max_ms: recovery_ms,
            jitter: false,
            slow_call_ms: 0,
            trip_on_count: true,
        }
    }

    /// The open period of a breaker that opened at `w`'s stamp at `w`'s backoff level:
    /// `recovery_ms * 2^level`, capped at `backoff_max_ms`, and with jitter somewhere in its
    /// upper half. The jitter is derived from the stamp, so every reader agrees on it without
    /// sharing any state beyond the word.
    #[inline]
    pub(crate) fn open_ms(&self, w: Word) -> u64 {
        let period = self.period_ms(w.level());
        if self.jitter {
            period - mix(w.stamp() ^ (w.level() << 56)) % (period / 2 + 1)
        } else {
            period
        }
    }
}

impl Policy {
    /// The open period at backoff `level`, without jitter: `recovery_ms * 2^level`, capped at
    /// `backoff_max_ms`.
    #[inline]
    pub(crate) fn period_ms(&self, level: u64) -> u64 {
        let grown = self.recovery_ms.saturating_mul(1 << level.min(MAX_LEVEL));
        grown.min(self.backoff_max_ms.max(self.recovery_ms))
    }
}

/// The finaliser of `SplitMix64`: a cheap, well-spread hash for jitter.
#[inline]
const fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Why a call was turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// `Open`, `Probing` while another caller's probe is in flight, `ForcedOpen`, or `Held`.
    pub(crate) phase: Phase,
    pub(crate) failures: u32,
    /// Milliseconds until a probe may be admitted; 0 while a probe is in flight. For `Held` the
    /// rule leaves it 0 and the breaker fills in what it was told of the fleet's open period.
    pub(crate) remaining_ms: u64,
}

impl Refusal {
    /// The state the rejected caller is told about: a held breaker whose fleet open period has
    /// run out is half-open (the fleet's probe is in flight elsewhere).
    #[inline]
    pub(crate) const fn state(&self) -> State {
        match self.phase {
            Phase::Held => held_state(self.remaining_ms),
            phase => phase.state(),
        }
    }
}

/// Milliseconds left at `now` of the fleet's open period of the `Held` word `w`, which its
/// coordinator said ends at `held_until`. None at the end of the stamp range, where every
/// timeout counts as run out (the hold has lapsed there: the next caller probes).
#[inline]
pub(crate) fn held_remaining(w: Word, held_until: u64, now: u64) -> u64 {
    let now = clamp(now, w.stamp());
    if now == STAMP_MAX {
        0
    } else {
        held_until.saturating_sub(now)
    }
}

/// The public state of a `Held` word whose fleet open period has `remaining_ms` left.
#[inline]
pub(crate) const fn held_state(remaining_ms: u64) -> State {
    if remaining_ms > 0 {
        State::Open
    } else {
        State::HalfOpen
    }
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

impl Step {
    /// The word to install, if any.
    #[inline]
    pub(crate) fn written(self) -> Option<Word> {
        match self {
            Step::Write(next) => Some(next),
            Step::Keep | Step::Stale => None,
        }
    }
}

/// Clamps a clock reading into `[floor, STAMP_MAX]`.
#[inline]
fn clamp(now_ms: u64, floor: u64) -> u64 {
    now_ms.min(STAMP_MAX).max(floor)
}

/// Whether `limit_ms` has run out since `since`, at time `now` (already clamped). At the end of
/// the stamp range no more time can be measured, so every limit counts as run out rather than
/// holding the breaker in one phase for ever.
#[inline]
fn expired(since: u64, now: u64, limit_ms: u64) -> bool {
    now == STAMP_MAX || now - since >= limit_ms
}

/// Milliseconds left in the open period of `w` (0 once it has run out).
#[inline]
fn remaining(w: Word, now: u64, policy: &Policy) -> u64 {
    let period = policy.open_ms(w);
    if expired(w.stamp(), now, period) {
        0
    } else {
        period - (now - w.stamp())
    }
}

/// A caller asks to run. Reads the clock only when the breaker is not closed.
///
/// While a probe is in flight everyone else is turned away, until the probe deadline has passed
/// since it was admitted: then the probe is presumed lost (leaked, or stuck for ever) and this
/// caller takes the slot. The lost probe's ticket no longer matches, so if it ever reports, its
/// outcome is discarded.
#[inline]
pub(crate) fn acquire(w: Word, policy: &Policy, now: &mut impl FnMut() -> u64) -> Admission {
    match w.phase() {
        Phase::Closed | Phase::Disabled => Admission::Admit(w.ticket()),
        Phase::Open => {
            let now = clamp(now(), w.stamp());
            match remaining(w, now, policy) {
                0 => Admission::Probe(w.with(Phase::Probing, w.failures(), now)),
                remaining_ms => Admission::Reject(Refusal {
                    phase: Phase::Open,
                    failures: w.failures(),
                    remaining_ms,
                }),
            }
        }
        Phase::HalfOpen | Phase::Granted => {
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
        Phase::ForcedOpen => Admission::Reject(Refusal {
            phase: Phase::ForcedOpen,
            failures: w.failures(),
            remaining_ms: 0,
        }),
        Phase::Held => {
            let now = clamp(now(), w.stamp());
            if expired(w.stamp(), now, held_limit(w, policy)) {
                Admission::Probe(w.with(Phase::Probing, w.failures(), now))
            } else {
                Admission::Reject(Refusal {
                    phase: Phase::Held,
                    failures: w.failures(),
                    remaining_ms: 0,
                })
            }
        }
    }
}

/// How long a `Held` word lasts without renewal: its open period plus the probe deadline.
#[inline]
fn held_limit(w: Word, policy: &Policy) -> u64 {
    policy
        .period_ms(w.level())
        .saturating_add(policy.probe_deadline_ms)
}

/// A call admitted with `ticket` succeeded (or failed with an error that does not count).
#[inline]
pub(crate) fn succeed(w: Word, ticket: Ticket) -> Step {
    if !w.issued(ticket) {
        return Step::Stale;
    }
    match w.phase() {
        Phase::Closed if w.failures() == 0 => Step::Keep,
        Phase::Closed => Step::Write(w.with(Phase::Closed, 0, w.stamp())),
        // The probe succeeded: close, back to the base open period; the probe's stamp becomes
        // the identity of the new closed cycle.
        Phase::Probing => Step::Write(w.with(Phase::Closed, 0, w.stamp()).with_level(0)),
        // A disabled breaker records nothing.
        Phase::Disabled => Step::Keep,
        // No ticket is ever issued in these phases.
        Phase::Open | Phase::HalfOpen | Phase::ForcedOpen | Phase::Held | Phase::Granted => {
            Step::Stale
        }
    }
}

/// A call admitted with `ticket` failed. Reads the clock only when the failure opens the breaker.
#[inline]
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
        Phase::Closed if failures < policy.failure_threshold || !policy.trip_on_count => {
            Step::Write(w.with(Phase::Closed, failures, w.stamp()))
        }
        Phase::Closed => Step::Write(w.with(Phase::Open, failures, clamp(now(), w.stamp()))),
        // The probe failed: open again, one backoff level up.
        Phase::Probing => Step::Write(
            w.with(Phase::Open, failures, clamp(now(), w.stamp()))
                .with_level(w.level() + 1),
        ),
        Phase::Disabled => Step::Keep,
        Phase::Open | Phase::HalfOpen | Phase::ForcedOpen | Phase::Held | Phase::Granted => {
            Step::Stale
        }
    }
}

/// A failure-rate window says the closed cycle of `ticket` has failed too often: open, if that
/// cycle is still current. Reads the clock only when it opens.
#[inline]
pub(crate) fn trip(w: Word, ticket: Ticket, now: &mut impl FnMut() -> u64) -> Step {
    if !w.issued(ticket) || w.phase() != Phase::Closed {
        return Step::Stale;
    }
    Step::Write(w.with(Phase::Open, w.failures(), clamp(now(), w.stamp())))
}

/// A call admitted with `ticket` ended without an outcome (dropped, cancelled or ignored).
/// A closed-state call leaves no trace; a probe frees the probe slot.
#[inline]
pub(crate) fn release(w: Word, ticket: Ticket) -> Step {
    if !w.issued(ticket) {
        return Step::Stale;
    }
    match w.phase() {
        Phase::Probing => Step::Write(w.with(Phase::HalfOpen, w.failures(), w.stamp())),
        Phase::Closed | Phase::Disabled => Step::Keep,
        Phase::Open | Phase::HalfOpen | Phase::ForcedOpen | Phase::Held | Phase::Granted => {
            Step::Stale
        }
    }
}

/// What the counted-outcome fast path ([`counted`]) makes of a closed-state outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counted {
    /// A success with no failures to reset, or an ignored outcome: nothing to write.
    Quiet,
    /// Install this word (one compare-exchange); it changes only the failure count.
    Write(Word),
    /// Anything else (a stale ticket, the failure that opens): the general rules decide.
    General,
}

/// The outcome of a closed-state call on a breaker whose only rule is the consecutive-failure
/// count: a success resets the count, a failure below `failure_threshold` adds one, an ignored
/// outcome leaves no trace. Each is a mask, a compare and an add or an and on the word, so the
/// caller's whole work is one load and at most one compare-exchange. For every word and ticket
/// it agrees with [`succeed`], [`fail`] (with `trip_on_count`) and [`release`] wherever it does
/// not answer [`Counted::General`].
#[inline]
pub(crate) fn counted(
    w: Word,
    ticket: Ticket,
    outcome: crate::Outcome,
    failure_threshold: u32,
) -> Counted {
    // A closed ticket has phase bits 0, so a word that carries it is closed.
    if !ticket.is_closed() {
        return Counted::General;
    }
    match outcome {
        // The common case first: one mask and one compare say "still this cycle, no failures".
        crate::Outcome::Success if w.0 & (TICKET_MASK | COUNT_MASK) == ticket.0 => Counted::Quiet,
        crate::Outcome::Success if w.issued(ticket) => Counted::Write(Word(w.0 & !COUNT_MASK)),
        // Below the threshold, and so below the count's saturation: the add carries nowhere.
        crate::Outcome::Failure if w.issued(ticket) && w.failures() + 1 < failure_threshold => {
            Counted::Write(Word(w.0 + (1 << COUNT_SHIFT)))
        }
        crate::Outcome::Ignore if w.issued(ticket) => Counted::Quiet,
        _ => Counted::General,
    }
}

/// A transition made by hand rather than by outcomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Manual {
    /// Reject every call until reset.
    ForceOpen,
    /// Admit every call and record nothing, until reset.
    Disable,
    /// Back to closed with no failures and the base open period.
    Reset,
}

/// The word after a manual transition, or `None` if forcing open or disabling a breaker that is
/// already there. Every change starts a new cycle (stamp `max(now, stamp + 1)`), so no earlier
/// ticket matches; a reset always does, even of a closed breaker, so it clears the failure-rate
/// window along with the count.
pub(crate) fn manual(w: Word, to: Manual, now: &mut impl FnMut() -> u64) -> Option<Word> {
    let target = match to {
        Manual::ForceOpen => Phase::ForcedOpen,
        Manual::Disable => Phase::Disabled,
        Manual::Reset => Phase::Closed,
    };
    if w.phase() == target && to != Manual::Reset {
        return None;
    }
    let stamp = clamp(now(), w.stamp().saturating_add(1));
    Some(match to {
        Manual::ForceOpen => w.with(Phase::ForcedOpen, w.failures(), stamp),
        Manual::Disable => w.with(Phase::Disabled, w.failures(), stamp),
        Manual::Reset => w.with(Phase::Closed, 0, stamp).with_level(0),
    })
}

/// A transition asked for by a remote coordinator (see [Remote coordination](self#remote-coordination)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Remote {
    /// The fleet is open, or probing elsewhere: reject every call at backoff `level`, and admit
    /// no probe until granted. Also renews a hold.
    Hold {
        /// The fleet's backoff level.
        level: u64,
    },
    /// This breaker won the fleet's probe: free the probe slot so the next caller probes
    /// (`Granted`).
    Grant,
    /// Take back a grant nobody claimed: only if the word is still exactly this one, granted or
    /// half-open (a probe claimed and dropped since leaves a half-open word).
    Revoke(Word),
    /// The fleet closed: closed, no failures, the base open period.
    Close,
    /// The coordinator lost the fleet: a plain local breaker again. With `fleet_open` the local
    /// breaker opens for a full open period of its own; otherwise (the fleet was probing) the
    /// probe slot is freed so the next caller probes locally.
    Release {
        /// Whether the fleet's open period was still running.
        fleet_open: bool,
    },
}

/// The word after a remote transition, or `None` if it does not apply to `w`: nothing remote
/// moves a breaker forced open or disabled by hand (manual control wins locally), a grant or a
/// release needs a `Held` word, a revoke needs the exact granted word, and closing a closed
/// breaker changes nothing (its count is its own).
pub(crate) fn remote(w: Word, to: Remote, now: &mut impl FnMut() -> u64) -> Option<Word> {
    let phase = w.phase();
    if matches!(phase, Phase::ForcedOpen | Phase::Disabled) {
        return None;
    }
    let mut stamp = || clamp(now(), w.stamp().saturating_add(1));
    match to {
        Remote::Hold { level } => {
            Some(w.with(Phase::Held, w.failures(), stamp()).with_level(level))
        }
        Remote::Grant if phase == Phase::Held => {
            Some(w.with(Phase::Granted, w.failures(), stamp()))
        }
        Remote::Revoke(granted)
            if w == granted && matches!(phase, Phase::HalfOpen | Phase::Granted) =>
        {
            Some(w.with(Phase::Held, w.failures(), stamp()))
        }
        Remote::Close if phase != Phase::Closed => {
            Some(w.with(Phase::Closed, 0, stamp()).with_level(0))
        }
        Remote::Release { fleet_open } if phase == Phase::Held => {
            let to = if fleet_open {
                Phase::Open
            } else {
                Phase::HalfOpen
            };
            Some(w.with(to, w.failures(), stamp()))
        }
        Remote::Grant | Remote::Revoke(_) | Remote::Close | Remote::Release { .. } => None,
    }
}

/// What a reader sees: the public state, the failure count and the open time left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct View {
    pub(crate) state: State,
    pub(crate) failures: u32,
    pub(crate) remaining_ms: u64,
}

/// Decodes `w` for readers. Reads the clock only when the breaker is open or held. A held
/// word reports the fleet's open period as ending at `held_until` on the breaker's clock.
pub(crate) fn observe(
    w: Word,
    policy: &Policy,
    held_until: u64,
    now: &mut impl FnMut() -> u64,
) -> View {
    let (state, remaining_ms) = match w.phase() {
        Phase::Closed => (State::Closed, 0),
        Phase::Held => {
            let remaining = held_remaining(w, held_until, now());
            (held_state(remaining), remaining)
        }
        Phase::Open => {
            let now = clamp(now(), w.stamp());
            match remaining(w, now, policy) {
                0 => (State::HalfOpen, 0),
                ms => (State::Open, ms),
            }
        }
        phase => (phase.state(), 0),
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
    use crate::Outcome;

    const POLICY: Policy = Policy::plain(3, 1_000, 5_000);

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
        let view = observe(w, &POLICY, 0, &mut at(700));
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
        assert_eq!(
            observe(w, &POLICY, 0, &mut at(1_500)).state,
            State::HalfOpen
        );
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
        assert_eq!(
            observe(w, &POLICY, 0, &mut no_clock()).state,
            State::HalfOpen
        );
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
        assert_eq!(reopened, Word::new(Phase::Open, 4, 1_600).with_level(1));
        // Without backoff the raised level changes nothing: the period is capped at the base.
        assert_eq!(
            observe(reopened, &POLICY, 0, &mut at(1_600)).remaining_ms,
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
        let view = observe(opened, &POLICY, 0, &mut at(0));
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
        let policy = Policy::plain(COUNT_MAX, 1, 1);
        let w = Word::new(Phase::Probing, COUNT_MAX, 5);
        let reopened = written(fail(w, w.ticket(), &policy, &mut at(6)));
        assert_eq!(reopened.failures(), COUNT_MAX);
        assert_eq!(reopened.phase(), Phase::Open);
    }

    const BACKOFF: Policy = Policy {
        backoff_max_ms: 5_000,
        ..Policy::plain(3, 1_000, 5_000)
    };

    #[test]
    fn each_failed_probe_doubles_the_open_period_up_to_the_cap() {
        let mut w = Word::new(Phase::Open, 3, 0);
        let mut t = 0;
        for expected in [
            1_000, 2_000, 4_000, 5_000, 5_000, 5_000, 5_000, 5_000, 5_000,
        ] {
            assert_eq!(BACKOFF.open_ms(w), expected, "level {}", w.level());
            t += expected;
            assert!(matches!(
                acquire(w, &BACKOFF, &mut at(t - 1)),
                Admission::Reject(_)
            ));
            let probing = probe(acquire(w, &BACKOFF, &mut at(t)));
            w = written(fail(probing, probing.ticket(), &BACKOFF, &mut at(t)));
        }
        assert_eq!(w.level(), MAX_LEVEL, "the level saturates");
    }

    #[test]
    fn closing_returns_to_the_base_period() {
        let w = Word::new(Phase::Probing, 3, 9_000).with_level(3);
        let closed = written(succeed(w, w.ticket()));
        assert_eq!(closed.level(), 0);
        let tripping = Word::new(Phase::Closed, 2, 9_000);
        let reopened = written(fail(tripping, tripping.ticket(), &BACKOFF, &mut at(9_500)));
        assert_eq!(BACKOFF.open_ms(reopened), 1_000);
    }

    #[test]
    fn jitter_stays_in_the_upper_half_and_is_the_same_for_every_reader() {
        let jittered = Policy {
            jitter: true,
            ..BACKOFF
        };
        let mut seen = std::collections::BTreeSet::new();
        for stamp in 0..500 {
            for level in 0..=MAX_LEVEL {
                let w = Word::new(Phase::Open, 3, stamp * 7_919).with_level(level);
                let full = BACKOFF.open_ms(w);
                let period = jittered.open_ms(w);
                assert!(
                    period <= full && period >= full - full / 2,
                    "{period} of {full}"
                );
                assert_eq!(period, jittered.open_ms(w));
                seen.insert(period);
            }
        }
        assert!(
            seen.len() > 100,
            "jitter spreads the periods: {}",
            seen.len()
        );
    }

    #[test]
    fn forced_open_rejects_everyone_until_reset() {
        let w = Word::new(Phase::Closed, 2, 10);
        let ticket = w.ticket();
        let forced = manual(w, Manual::ForceOpen, &mut at(5)).unwrap();
        assert_eq!(
            forced,
            Word::new(Phase::ForcedOpen, 2, 11),
            "a new cycle, never earlier"
        );
        assert_eq!(manual(forced, Manual::ForceOpen, &mut no_clock()), None);
        assert_eq!(
            acquire(forced, &POLICY, &mut no_clock()),
            Admission::Reject(Refusal {
                phase: Phase::ForcedOpen,
                failures: 2,
                remaining_ms: 0
            })
        );
        assert_eq!(
            observe(forced, &POLICY, 0, &mut no_clock()).state,
            State::ForcedOpen
        );
        assert_eq!(fail(forced, ticket, &POLICY, &mut no_clock()), Step::Stale);
        let reset = manual(forced, Manual::Reset, &mut at(500)).unwrap();
        assert_eq!(reset, Word::new(Phase::Closed, 0, 500));
        assert_eq!(succeed(reset, ticket), Step::Stale, "the old cycle is over");
    }

    #[test]
    fn disabled_admits_everyone_and_records_nothing() {
        let w = Word::new(Phase::Open, 3, 10).with_level(2);
        let disabled = manual(w, Manual::Disable, &mut at(20)).unwrap();
        assert_eq!(
            observe(disabled, &POLICY, 0, &mut no_clock()).state,
            State::Disabled
        );
        let Admission::Admit(ticket) = acquire(disabled, &POLICY, &mut no_clock()) else {
            panic!("a disabled breaker admits");
        };
        assert_eq!(fail(disabled, ticket, &POLICY, &mut no_clock()), Step::Keep);
        assert_eq!(succeed(disabled, ticket), Step::Keep);
        assert_eq!(release(disabled, ticket), Step::Keep);
        let reset = manual(disabled, Manual::Reset, &mut at(30)).unwrap();
        assert_eq!((reset.phase(), reset.level()), (Phase::Closed, 0));
    }

    #[test]
    fn resetting_a_closed_breaker_starts_a_new_cycle() {
        let w = Word::new(Phase::Closed, 2, 10);
        let reset = manual(w, Manual::Reset, &mut at(5)).unwrap();
        assert_eq!(reset, Word::new(Phase::Closed, 0, 11));
        assert!(
            !reset.issued(w.ticket()),
            "calls of the old cycle no longer count"
        );
    }

    /// A failure-rate window opens the breaker only in the closed cycle whose calls it counted,
    /// at the time it trips; a stale cycle, or a probe's, is left alone without a clock read.
    #[test]
    fn a_rate_window_trips_only_the_closed_cycle_it_counted() {
        let w = Word::new(Phase::Closed, 1, 40);
        let opened = written(trip(w, w.ticket(), &mut at(90)));
        assert_eq!(
            (opened.phase(), opened.failures(), opened.stamp()),
            (Phase::Open, 1, 90)
        );
        let earlier = Word::new(Phase::Closed, 0, 39).ticket();
        assert_eq!(trip(w, earlier, &mut no_clock()), Step::Stale);
        let probing = Word::new(Phase::Probing, 1, 40);
        assert_eq!(
            trip(probing, probing.ticket(), &mut no_clock()),
            Step::Stale
        );
    }

    /// Every phase a word can be in, for tests that go through all of them.
    const PHASES: [Phase; 8] = [
        Phase::Closed,
        Phase::Open,
        Phase::HalfOpen,
        Phase::Probing,
        Phase::ForcedOpen,
        Phase::Disabled,
        Phase::Held,
        Phase::Granted,
    ];

    /// Every phase value round-trips through the word: all eight are in use.
    #[test]
    fn every_phase_value_round_trips() {
        for phase in PHASES {
            assert_eq!(Word::new(phase, 1, 2).phase(), phase);
        }
    }

    /// A grant installs `Granted`: it admits the next caller as the probe and reads as
    /// half-open, but reports as the hold it came from until the slot is claimed. A revoke takes
    /// back the exact granted word, or the half-open word a claimed and dropped probe left.
    #[test]
    fn a_grant_reads_half_open_but_reports_as_the_hold_until_claimed() {
        let held = Word::new(Phase::Held, 2, 100).with_level(3);
        let granted = remote(held, Remote::Grant, &mut at(100)).unwrap();
        assert_eq!(granted, Word::new(Phase::Granted, 2, 101).with_level(3));
        assert_eq!(
            (granted.phase().state(), granted.phase().reported()),
            (State::HalfOpen, State::Open)
        );
        assert_eq!(held.phase().reported(), State::Open);
        let view = observe(granted, &POLICY, 5_000, &mut no_clock());
        assert_eq!((view.state, view.remaining_ms), (State::HalfOpen, 0));
        assert_eq!(remote(granted, Remote::Grant, &mut no_clock()), None);
        assert_eq!(
            remote(
                granted,
                Remote::Release { fleet_open: false },
                &mut no_clock()
            ),
            None,
            "a release needs a held word"
        );

        let claimed = probe(acquire(granted, &POLICY, &mut at(150)));
        assert_eq!(claimed, Word::new(Phase::Probing, 2, 150).with_level(3));
        assert_eq!(claimed.phase().reported(), State::HalfOpen);
        assert_eq!(
            remote(granted, Remote::Revoke(granted), &mut at(120)),
            Some(Word::new(Phase::Held, 2, 120).with_level(3))
        );
        assert_eq!(
            remote(claimed, Remote::Revoke(granted), &mut no_clock()),
            None
        );
        let dropped = written(release(claimed, claimed.ticket()));
        assert_eq!(dropped.phase(), Phase::HalfOpen);
        assert_eq!(
            remote(dropped, Remote::Revoke(granted), &mut no_clock()),
            None,
            "not the granted word any more"
        );
        assert_eq!(
            remote(dropped, Remote::Revoke(dropped), &mut at(160)),
            Some(Word::new(Phase::Held, 2, 160).with_level(3))
        );
        let ticket = granted.ticket();
        assert_eq!(succeed(granted, ticket), Step::Stale);
        assert_eq!(fail(granted, ticket, &POLICY, &mut no_clock()), Step::Stale);
        assert_eq!(release(granted, ticket), Step::Stale);
    }

    #[test]
    fn a_ticket_says_whether_it_came_from_a_closed_call_or_the_probe_and_from_which_cycle() {
        let closed = Word::new(Phase::Closed, 1, 40);
        let Admission::Admit(ticket) = acquire(closed, &POLICY, &mut no_clock()) else {
            panic!("a closed breaker admits");
        };
        assert!(ticket.is_closed() && !ticket.is_probe());
        assert_eq!(ticket.stamp(), 40);

        let probing = probe(acquire(
            Word::new(Phase::Open, 3, 40),
            &POLICY,
            &mut at(1_040),
        ));
        let ticket = probing.ticket();
        assert!(ticket.is_probe() && !ticket.is_closed());
        assert_eq!(ticket.stamp(), 1_040);

        let disabled = Word::new(Phase::Disabled, 0, 9);
        let Admission::Admit(ticket) = acquire(disabled, &POLICY, &mut no_clock()) else {
            panic!("a disabled breaker admits");
        };
        assert!(!ticket.is_closed() && !ticket.is_probe());
    }

    #[test]
    fn the_cycle_is_phase_and_stamp_whatever_the_count_and_level() {
        let cycle = Word::new(Phase::Closed, 0, 77).cycle_id();
        assert_eq!(
            Word::new(Phase::Closed, 5, 77).with_level(3).cycle_id(),
            cycle
        );
        assert_ne!(Word::new(Phase::Closed, 0, 78).cycle_id(), cycle);
        assert_ne!(Word::new(Phase::Open, 0, 77).cycle_id(), cycle);
    }

    /// The counted-outcome fast path ([`counted`]) agrees with [`succeed`] and [`fail`] wherever
    /// it answers, in every phase, at the threshold's edges, for its own ticket and for tickets
    /// of other cycles; it answers for every closed-state outcome of its own cycle except the
    /// failure that opens.
    #[test]
    fn the_counted_fast_path_agrees_with_the_rules() {
        let policy = Policy::plain(3, 1_000, 1_000);
        for phase in PHASES {
            for failures in [0, 1, 2, 3, COUNT_MAX] {
                let w = Word::new(phase, failures, 50);
                for ticket in [
                    w.ticket(),
                    Word::new(phase, failures, 49).ticket(),
                    Word::new(Phase::Closed, 0, 50).ticket(),
                ] {
                    let own = phase == Phase::Closed && w.issued(ticket);
                    let quiet = counted(w, ticket, Outcome::Success, 3);
                    match (succeed(w, ticket), quiet) {
                        (Step::Keep, Counted::Quiet) | (_, Counted::General) => {}
                        (Step::Write(next), Counted::Write(fast)) => assert_eq!(next, fast),
                        other => panic!("{w:?} {ticket:?}: {other:?}"),
                    }
                    assert_eq!(quiet == Counted::General, !own, "{w:?} {ticket:?}");
                    let failed = counted(w, ticket, Outcome::Failure, 3);
                    match (fail(w, ticket, &policy, &mut at(60)), failed) {
                        (_, Counted::General) => {
                            assert!(!own || failures + 1 >= 3, "{w:?} {ticket:?}");
                        }
                        (Step::Write(next), Counted::Write(fast)) => {
                            assert_eq!(next, fast);
                            assert_eq!(fast.failures(), failures + 1);
                        }
                        other => panic!("{w:?} {ticket:?}: {other:?}"),
                    }
                    let ignored = counted(w, ticket, Outcome::Ignore, 3);
                    match (release(w, ticket), ignored) {
                        (Step::Keep, Counted::Quiet) => assert!(own),
                        (_, Counted::General) => assert!(!own, "{w:?} {ticket:?}"),
                        other => panic!("{w:?} {ticket:?}: {other:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn a_step_writes_a_word_only_when_it_is_a_write() {
        let w = Word::new(Phase::Open, 3, 10);
        assert_eq!(Step::Write(w).written(), Some(w));
        assert_eq!(Step::Keep.written(), None);
        assert_eq!(Step::Stale.written(), None);
    }

    /// The fleet's open period, as its coordinator reported it, counts down on the breaker's
    /// clock, never from before the hold began, and stops at zero.
    #[test]
    fn a_hold_reports_the_time_left_of_the_fleet_open_period() {
        let held = Word::new(Phase::Held, 0, 100);
        assert_eq!(held_remaining(held, 1_100, 600), 500);
        assert_eq!(
            held_remaining(held, 1_100, 40),
            1_000,
            "a clock behind the stamp"
        );
        assert_eq!(held_remaining(held, 1_100, 1_100), 0);
        assert_eq!(held_remaining(held, 1_100, 5_000), 0);
    }

    /// However short the open period, jitter keeps it in its upper half and never shortens it
    /// to nothing: a 1 ms recovery timeout stays 1 ms.
    #[test]
    fn jitter_keeps_even_the_shortest_open_periods_in_their_upper_half() {
        for recovery_ms in 1..=4 {
            let policy = Policy {
                jitter: true,
                ..Policy::plain(1, recovery_ms, 10)
            };
            for stamp in 0..200 {
                let period = policy.open_ms(Word::new(Phase::Open, 1, stamp));
                assert!(
                    period >= 1 && period <= recovery_ms && period >= recovery_ms - recovery_ms / 2,
                    "{period} of {recovery_ms}"
                );
            }
        }
    }

    #[test]
    fn debug_output_shows_the_decoded_fields() {
        let w = Word::new(Phase::Open, 3, 1_234).with_level(2);
        assert_eq!(
            format!("{w:?}"),
            "Word { phase: Open, failures: 3, stamp: 1234, level: 2 }"
        );
    }
}
