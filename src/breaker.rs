//! [`CircuitBreaker`]: the atomic word, the compare-exchange loops that apply the rules of
//! [`crate::word`], and the reading API.

use alloc::boxed::Box;
#[cfg(target_has_atomic = "ptr")]
use alloc::sync::Arc;
use core::fmt;
use core::time::Duration;

use crossbeam_utils::CachePadded;

use crate::bell::Bell;
use crate::cause::{Cause, Reason};
use crate::classify::{AnyError, Classify, Outcome};
use crate::clock::TimeSource;
use crate::config::{Builder, Config};
use crate::error::{Error, OpenError};
use crate::names::{self, Name, Named};
use crate::observe::{Counter, Hooks, MetricsSnapshot, Transition};
#[cfg(target_has_atomic = "ptr")]
use crate::permit::OwnedPermit;
use crate::permit::{Permit, Slot};
use crate::probes::{Join, Rounds, Success};
use crate::sync::{AtomicU64, Ordering};
use crate::window::Window;
use crate::word::{self, Admission, Manual, Phase, Policy, Refusal, Step, Ticket, Word};
use crate::State;

/// A lock-free circuit breaker.
///
/// All of its changing state (closed/open/half-open, the failure count, the time it opened)
/// lives in one `AtomicU64`, changed only by compare-exchange. It never takes a lock, never
/// allocates after construction, and admits exactly one probe when half-open.
///
/// `C` is the failure classifier; the default, [`AnyError`], counts every `Err`.
///
/// The breaker is 128 bytes: it is aligned to 128 bytes (crossbeam's `CachePadded`) so that no
/// other data shares its cache lines, and the configuration it reads on every call sits on the
/// same line as the word.
///
/// ```
/// use async_breaker::{CircuitBreaker, CircuitExt, Error};
///
/// # futures::executor::block_on(async {
/// let breaker = CircuitBreaker::new(); // 5 failures open it for 30 s
///
/// let value = async { Ok::<_, std::io::Error>(42) }.circuit(&breaker).await;
/// assert_eq!(value.unwrap(), 42);
///
/// for _ in 0..5 {
///     let _ = async { Err::<u32, _>("down") }.circuit(&breaker).await;
/// }
/// let rejected = async { Ok::<u32, &str>(1) }.circuit(&breaker).await;
/// assert!(matches!(rejected, Err(Error::Open(_))));
/// # });
/// ```
pub struct CircuitBreaker<C = AnyError> {
    core: CachePadded<Core<C>>,
}

/// Everything a breaker reads on a call, in one cache-padded block with the word first.
struct Core<C> {
    word: AtomicU64,
    /// The hold's side word ([`side`]): while the word is `Held`, when the fleet's open period
    /// ends (on the breaker's clock) and why, as a remote coordinator last reported them, and
    /// whether a caller has asked for the fleet's probe. Display data and a hint for the
    /// coordinator only: nothing decides on it, so it is written before the hold it belongs to
    /// and read and written with `Relaxed`. One word rather than three keeps the breaker in
    /// its 128 bytes.
    hold: AtomicU64,
    /// Rung at every change of the word's phase and when a caller records demand, for a
    /// coordinator asleep until then ([`Remote::register_waker`](crate::remote::Remote::register_waker)).
    /// Written only by those (rare) events and by registrations, never on a call that changes
    /// no phase.
    bell: Bell,
    policy: Policy,
    clock: TimeSource,
    /// The name and its entry in the table of names (see [`crate::names`]), if it has one:
    /// behind a pointer, so that the name costs the hot block one word.
    name: Option<Box<Named>>,
    /// Nothing beyond the word to consult on a call (see [`CircuitBreaker::plain`]), decided
    /// once at build: one byte to test on the closed-state fast paths.
    plain: bool,
    /// Listener and metrics, if any were asked for: `None` keeps the hot path to the word.
    hooks: Option<Box<Hooks>>,
    classifier: C,
}

#[cfg(feature = "std")]
impl CircuitBreaker<AnyError> {
    /// A breaker with the original's defaults: opens after 5 consecutive failures, stays open
    /// for 30 s, counts every error, reads the default clock.
    ///
    /// ```
    /// let breaker = async_breaker::CircuitBreaker::new();
    /// assert_eq!(breaker.failure_threshold(), 5);
    /// ```
    ///
    /// # Panics
    ///
    /// Only in a build for loom models (`--cfg async_breaker_loom`), which has no default clock:
    /// build the breaker with [`Builder::clock`] and a [`ManualClock`](crate::ManualClock)
    /// there (see the [loom guide](crate::guide::loom)).
    pub fn new() -> CircuitBreaker<AnyError> {
        match Config::new().build() {
            Ok(breaker) => breaker,
            // Unreachable but under `--cfg async_breaker_loom` (no default clock there).
            Err(e) => panic!("CircuitBreaker::new: {e}"),
        }
    }
}

impl CircuitBreaker<AnyError> {
    /// A builder for a breaker with non-default settings.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let breaker = async_breaker::CircuitBreaker::builder()
    ///     .name("search")
    ///     .failure_threshold(3)
    ///     .recovery_timeout(Duration::from_secs(5))
    ///     .build()?;
    /// assert_eq!(breaker.name(), "search");
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub fn builder() -> Builder<AnyError> {
        Config::new().builder()
    }
}

#[cfg(feature = "std")]
impl Default for CircuitBreaker<AnyError> {
    fn default() -> CircuitBreaker<AnyError> {
        CircuitBreaker::new()
    }
}

/// The hold's side word, beside the state word: what a coordinator said of its hold, and the
/// demand for the fleet's probe.
///
/// ```text
///   63   62           43 42                                  0
/// +------+--------------+-------------------------------------+
/// |demand|     note     |              held until             |
/// | 1 bit|   19 bits    |         43 bits, milliseconds       |
/// +------+--------------+-------------------------------------+
/// ```
///
/// - **held until**: when the fleet's open period ends, on the breaker's clock: a hold's stamp
///   plus at most one open period, so at most twice the stamp range, which 43 bits hold.
/// - **note**: why the breaker is held, as [`Reason::packed`] (a quorum's counts saturate at
///   255: all a rejection keeps of them).
/// - **demand**: a caller was turned away by the hold with the fleet's open period over.
mod side {
    use crate::cause::Reason;
    use crate::word::STAMP_MAX;

    const UNTIL_BITS: u32 = 43;
    const UNTIL_MASK: u64 = (1 << UNTIL_BITS) - 1;
    const NOTE_MASK: u64 = ((1 << 19) - 1) << UNTIL_BITS;
    pub(super) const DEMAND: u64 = 1 << 63;
    /// A fresh breaker's: the period over, following the shared state, no demand.
    pub(super) const EMPTY: u64 = 0;

    const _: () = assert!(2 * STAMP_MAX <= UNTIL_MASK);
    const _: () = assert!(UNTIL_MASK & NOTE_MASK == 0 && (UNTIL_MASK | NOTE_MASK) & DEMAND == 0);

    pub(super) const fn until(hold: u64) -> u64 {
        hold & UNTIL_MASK
    }

    #[cfg(test)]
    pub(super) const fn note(hold: u64) -> Reason {
        Reason::unpacked(note_bits(hold))
    }

    /// The note as [`Reason::packed`] bits.
    pub(super) const fn note_bits(hold: u64) -> u32 {
        // Masked to 19 bits, so the cast keeps every bit.
        #[allow(clippy::cast_possible_truncation)]
        let bits = ((hold & NOTE_MASK) >> UNTIL_BITS) as u32;
        bits
    }

    pub(super) const fn demand(hold: u64) -> bool {
        hold & DEMAND != 0
    }

    /// `hold` with its time and note replaced (each if given).
    pub(super) fn with(hold: u64, until: Option<u64>, note: Option<Reason>) -> u64 {
        let mut next = hold;
        if let Some(until) = until {
            next = (next & !UNTIL_MASK) | until.min(UNTIL_MASK);
        }
        if let Some(note) = note {
            next = (next & !NOTE_MASK) | (u64::from(note.packed()) << UNTIL_BITS);
        }
        next
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_fields_of_the_side_word_are_independent() {
            let quorum = Reason::Quorum {
                tripped: 3,
                live: 300,
            };
            let hold = with(EMPTY | DEMAND, Some(2 * STAMP_MAX), Some(quorum));
            assert_eq!(until(hold), 2 * STAMP_MAX);
            assert_eq!(
                note(hold),
                Reason::Quorum {
                    tripped: 3,
                    live: 255
                }
            );
            assert!(demand(hold));
            let renewed = with(hold, Some(7), None);
            assert_eq!((until(renewed), note(renewed)), (7, note(hold)));
            let noted = with(renewed & !DEMAND, None, Some(Reason::Probe));
            assert_eq!((until(noted), note(noted)), (7, Reason::Probe));
            assert!(!demand(noted));
            assert_eq!(until(with(EMPTY, Some(u64::MAX), None)), UNTIL_MASK);
            assert_eq!(note(EMPTY), Reason::Sync);
        }
    }
}

/// A clock reading taken at most once per operation, however often a CAS loop retries.
pub(crate) struct LazyNow<'a> {
    clock: &'a TimeSource,
    now: Option<u64>,
}

impl LazyNow<'_> {
    #[inline]
    pub(crate) fn get(&mut self) -> u64 {
        *self.now.get_or_insert_with(|| self.clock.now_ms())
    }
}

impl<C> CircuitBreaker<C> {
    pub(crate) fn from_parts(
        policy: Policy,
        name: Option<Box<Named>>,
        clock: TimeSource,
        hooks: Option<Box<Hooks>>,
        classifier: C,
    ) -> CircuitBreaker<C> {
        // A plain breaker's only rule is the consecutive-failure count (the fast path of
        // `settle` relies on it): a failure-rate window lives in the hooks.
        debug_assert!(hooks.is_some() || policy.trip_on_count);
        CircuitBreaker {
            core: CachePadded::new(Core {
                word: AtomicU64::new(Word::INITIAL.raw()),
                hold: AtomicU64::new(side::EMPTY),
                bell: Bell::new(),
                plain: hooks.is_none() && policy.slow_call_ms == 0,
                policy,
                clock,
                name,
                hooks,
                classifier,
            }),
        }
    }

    #[inline]
    fn count(&self, counter: Counter) {
        if let Some(hooks) = &self.core.hooks {
            hooks.count(counter);
        }
    }

    /// Reports a change of public state made by this caller's compare-exchange, for `cause`.
    /// Inlined test of the phase: a write that keeps the phase (a failure counted, failures
    /// reset) reports nothing and makes no call.
    #[inline]
    pub(crate) fn changed(&self, from: Word, to: Word, cause: Cause, now: &mut LazyNow<'_>) {
        if from.phase() != to.phase() {
            self.report_change(from, to, cause, now);
        }
    }

    /// [`changed`](Self::changed) once the phase has changed: reports the change of state if
    /// there is one (the reported state may not have changed: half-open waiting and half-open
    /// probing are one state, and a granted probe slot is still the fleet's hold until a caller
    /// claims it; see [`word::Phase::reported`]), then rings the bell either way. Ringing last
    /// means a coordinator woken by it finds the listener's and the metrics' share done.
    #[inline(never)]
    fn report_change(&self, from: Word, to: Word, cause: Cause, now: &mut LazyNow<'_>) {
        let failures = to.failures();
        self.tally_slow(false, to);
        let (from, to) = (from.phase().reported(), to.phase().reported());
        if from != to {
            #[cfg(feature = "tracing")]
            crate::trace::transition(self.name(), from, to, cause, failures, self.slow(failures));
            if let Some(hooks) = &self.core.hooks {
                hooks.transition(&Transition {
                    name: self.name(),
                    from,
                    to,
                    failures,
                    at: Duration::from_millis(now.get()),
                    cause,
                });
            }
        }
        #[cfg(not(feature = "tracing"))]
        let _ = (now, cause);
        self.core.bell.ring();
    }

    /// Keeps the count of slow failures (a breaker with slow-call detection only) in step with
    /// the word `to` just installed: one more if this write counted a slow success as a
    /// failure, none once the word counts no failures.
    fn tally_slow(&self, slow: bool, to: Word) {
        if let Some(count) = self
            .core
            .hooks
            .as_ref()
            .and_then(|hooks| hooks.slow.as_ref())
        {
            if to.failures() == 0 {
                count.clear();
            } else if slow {
                count.add();
            }
        }
    }

    /// How many of the `failures` the word counts now were slow (see [`OpenError::slow`]).
    fn slow(&self, failures: u32) -> u32 {
        self.core
            .hooks
            .as_ref()
            .map_or(0, |hooks| hooks.slow(failures))
    }

    #[inline]
    pub(crate) fn load(&self) -> Word {
        Word::from_raw(self.core.word.load(Ordering::Acquire))
    }

    pub(crate) fn lazy_now(&self) -> LazyNow<'_> {
        LazyNow {
            clock: &self.core.clock,
            now: None,
        }
    }

    /// The compare-exchange loop every change of the word goes through: applies `rule` to the
    /// current word and installs what it returns, retrying on contention with the word another
    /// caller installed. Returns the words before and after, or `None` once `rule` declines (the
    /// change no longer applies to the word as it now is).
    pub(crate) fn update(
        &self,
        mut rule: impl FnMut(Word) -> Option<Word>,
    ) -> Option<(Word, Word)> {
        let mut current = self.load();
        loop {
            let next = rule(current)?;
            match self.core.word.compare_exchange_weak(
                current.raw(),
                next.raw(),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some((current, next)),
                Err(actual) => current = Word::from_raw(actual),
            }
        }
    }

    /// Whether this breaker has nothing beyond the word to consult on a call: no listener,
    /// metrics, rate window or probe rounds, and no slow-call detection. Then the closed-state
    /// fast paths below are the whole story.
    #[inline]
    fn plain(&self) -> bool {
        self.core.plain
    }

    /// Asks for admission. Closed: one atomic load, no clock read, no write. Open or
    /// half-open: one clock read, and a compare-exchange only to claim the probe slot.
    #[inline]
    pub(crate) fn admit(&self) -> Result<Ticket, OpenError> {
        let current = self.load();
        if current.is_closed() && self.plain() {
            return Ok(current.ticket());
        }
        self.admit_slow(current)
    }

    /// Everything [`admit`](Self::admit) does beyond the plain closed case.
    #[inline(never)]
    fn admit_slow(&self, mut current: Word) -> Result<Ticket, OpenError> {
        let mut now = self.lazy_now();
        loop {
            match word::acquire(current, &self.core.policy, &mut || now.get()) {
                Admission::Admit(ticket) => {
                    self.count(Counter::Admitted);
                    return Ok(ticket);
                }
                Admission::Reject(refusal) => {
                    if refusal.phase == Phase::Held {
                        return Err(self.reject_held(current, &mut now));
                    }
                    if refusal.phase == Phase::Probing {
                        if let Some(rounds) = self.rounds() {
                            // A round with several probes may still have a place.
                            match rounds.join(current.stamp()) {
                                Join::Joined => {
                                    let again = self.load();
                                    if again.issued(current.ticket()) {
                                        self.count(Counter::Admitted);
                                        return Ok(current.ticket());
                                    }
                                    rounds.leave(current.stamp());
                                    current = again;
                                    continue;
                                }
                                Join::Newer => {
                                    current = self.load();
                                    continue;
                                }
                                Join::Full => {}
                            }
                        }
                    }
                    return Err(self.reject(refusal));
                }
                Admission::Probe(next) => match self.core.word.compare_exchange_weak(
                    current.raw(),
                    next.raw(),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        self.changed(current, next, Cause::Calls, &mut now);
                        if let Some(rounds) = self.rounds() {
                            // This caller began the round; it takes the round's first place
                            // unless others already filled them all (only possible at the end
                            // of the stamp range, where a new round cannot be told apart from
                            // the full one: then it is turned away like any caller of a full
                            // round, rather than starting the same round again for ever).
                            match rounds.join(next.stamp()) {
                                Join::Joined => {}
                                Join::Full => {
                                    return Err(self.reject(Refusal {
                                        phase: Phase::Probing,
                                        failures: next.failures(),
                                        remaining_ms: 0,
                                    }));
                                }
                                Join::Newer => {
                                    current = self.load();
                                    continue;
                                }
                            }
                        }
                        self.count(Counter::Admitted);
                        return Ok(next.ticket());
                    }
                    Err(actual) => current = Word::from_raw(actual),
                },
            }
        }
    }

    /// When an admitted call starts, on the breaker's clock, if slow-call detection (a
    /// threshold or a rate) needs to know; 0 (and no clock read) otherwise.
    #[inline]
    pub(crate) fn call_started(&self) -> u64 {
        // `plain()` first: on the fast path it was just tested, so this costs nothing there.
        if self.plain() || (self.core.policy.slow_call_ms == 0 && !self.times_calls()) {
            0
        } else {
            self.core.clock.now_ms()
        }
    }

    /// Whether a slow-call rate needs each call's duration.
    #[inline]
    fn times_calls(&self) -> bool {
        self.window()
            .is_some_and(|window| window.slow_ms().is_some())
    }

    /// Records the outcome of the call admitted with `ticket` and started at `started` (see
    /// [`call_started`](Self::call_started)). Returns `false` if the outcome was discarded
    /// because the breaker has moved to another cycle since.
    ///
    /// Inline, only the commonest case: a plain breaker's closed-state success with no failures
    /// to reset, one load. The rest is out of line, in two steps so that the counted outcomes
    /// of a plain breaker pay a small call and not the general path's prologue: see
    /// [`settle_other`](Self::settle_other).
    #[inline]
    pub(crate) fn settle(&self, ticket: Ticket, outcome: Outcome, started: u64) -> bool {
        if outcome == Outcome::Success
            && self.plain()
            && word::counted(
                self.load(),
                ticket,
                outcome,
                self.core.policy.failure_threshold,
            ) == word::Counted::Quiet
        {
            return true;
        }
        self.settle_other(ticket, outcome, started)
    }

    /// [`settle`](Self::settle) beyond the quiet success: a plain breaker's closed-state
    /// outcome through [`settle_counted`](Self::settle_counted), anything else through the
    /// general path.
    #[inline(never)]
    fn settle_other(&self, ticket: Ticket, outcome: Outcome, started: u64) -> bool {
        if self.plain() && ticket.is_closed() {
            return self.settle_counted(ticket, outcome);
        }
        self.settle_slow(ticket, outcome, started)
    }

    /// The outcome of a closed-state ticket of a plain breaker (the caller knows both): one
    /// load for a success with no failures to reset or an ignored outcome, one load and one
    /// compare-exchange for a failure below the threshold or a success that resets the count
    /// ([`word::counted`]). Anything else, or a lost race for the word, takes the general path.
    /// Inline into the sync [`call`](Self::call), so that its counted outcomes make no call.
    #[inline]
    pub(crate) fn settle_counted(&self, ticket: Ticket, outcome: Outcome) -> bool {
        let current = self.load();
        match word::counted(current, ticket, outcome, self.core.policy.failure_threshold) {
            word::Counted::Quiet => return true,
            word::Counted::Write(next) => {
                if self
                    .core
                    .word
                    .compare_exchange(
                        current.raw(),
                        next.raw(),
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    )
                    .is_ok()
                {
                    return true;
                }
            }
            word::Counted::General => {}
        }
        self.settle_slow(ticket, outcome, 0)
    }

    /// Everything [`settle`](Self::settle) does beyond [`settle_counted`](Self::settle_counted).
    #[inline(never)]
    fn settle_slow(&self, ticket: Ticket, outcome: Outcome, started: u64) -> bool {
        let mut now = self.lazy_now();
        let slow_ms = self.core.policy.slow_call_ms;
        // Inclusive: a success that lasted exactly the threshold is slow.
        let slow = outcome == Outcome::Success
            && slow_ms != 0
            && now.get().saturating_sub(started) >= slow_ms;
        let outcome = if slow { Outcome::Failure } else { outcome };
        if ticket.is_probe() && outcome != Outcome::Failure {
            if let Some(rounds) = self.rounds() {
                return self.settle_round(rounds, ticket, outcome, &mut now);
            }
        }
        if self.window().is_some_and(Window::is_timed) {
            // A time window files the outcome under a reading taken before the ticket is
            // checked below, so an outcome of an earlier cycle can never land after the
            // bucket where the current cycle began (see `window`).
            now.get();
        }
        let mut last = Step::Stale;
        let written = self.update(|current| {
            last = match outcome {
                Outcome::Success => word::succeed(current, ticket),
                Outcome::Failure => {
                    word::fail(current, ticket, &self.core.policy, &mut || now.get())
                }
                Outcome::Ignore => word::release(current, ticket),
            };
            last.written()
        });
        if let Some((from, to)) = written {
            self.tally_slow(slow, to);
            self.changed(from, to, Cause::Calls, &mut now);
        } else if last == Step::Stale {
            self.count(Counter::Discarded);
            return false;
        }
        self.count(if slow {
            Counter::Slow
        } else {
            outcome_counter(outcome)
        });
        self.windowed(ticket, outcome, started, &mut now)
    }

    fn window(&self) -> Option<&Window> {
        self.core.hooks.as_ref()?.window.as_ref()
    }

    fn rounds(&self) -> Option<&Rounds> {
        self.core.hooks.as_ref()?.rounds.as_ref()
    }

    /// A success or a release of one of several probes: counted in the round's side word; the
    /// success that completes the round closes the breaker through the state word.
    fn settle_round(
        &self,
        rounds: &Rounds,
        ticket: Ticket,
        outcome: Outcome,
        now: &mut LazyNow<'_>,
    ) -> bool {
        if !self.load().issued(ticket) {
            self.count(Counter::Discarded);
            return false;
        }
        if outcome == Outcome::Ignore {
            rounds.leave(ticket.stamp());
            self.count(Counter::Ignored);
            return true;
        }
        match rounds.succeed(ticket.stamp()) {
            Success::Stale => {
                self.count(Counter::Discarded);
                return false;
            }
            Success::Counted => {
                self.count(Counter::Succeeded);
                return true;
            }
            Success::Close => {}
        }
        if let Some((from, to)) = self.update(|current| word::succeed(current, ticket).written()) {
            self.count(Counter::Succeeded);
            self.changed(from, to, Cause::Calls, now);
            true
        } else {
            self.count(Counter::Discarded);
            false
        }
    }

    /// Adds a counted closed-state outcome of a call started at `started` to the rate windows
    /// (failure rate, slow-call rate), if there are any, and opens the breaker if one says so
    /// (exactly one caller's compare-exchange does).
    fn windowed(
        &self,
        ticket: Ticket,
        outcome: Outcome,
        started: u64,
        now: &mut LazyNow<'_>,
    ) -> bool {
        let Some(window) = self.window() else {
            return true;
        };
        if !ticket.is_closed() || outcome == Outcome::Ignore {
            return true;
        }
        let slow = window
            .slow_ms()
            .is_some_and(|ms| now.get().saturating_sub(started) >= ms);
        // Only a time-based window files outcomes by the clock (read before the ticket was
        // checked, in `settle_slow`); a count-based one needs no reading.
        let at = if window.is_timed() { now.get() } else { 0 };
        let current = || self.load().issued(ticket);
        if !window.record(
            ticket.stamp(),
            outcome == Outcome::Failure,
            slow,
            at,
            current,
        ) {
            return true;
        }
        let opened =
            self.update(|current| word::trip(current, ticket, &mut || now.get()).written());
        if let Some((from, to)) = opened {
            self.changed(from, to, Cause::Calls, now);
        }
        true
    }

    /// What the breaker has counted, if it was built with
    /// [`metrics()`](crate::Builder::metrics); `None` otherwise.
    ///
    /// ```
    /// let plain = async_breaker::CircuitBreaker::new();
    /// assert!(plain.metrics().is_none());
    /// ```
    pub fn metrics(&self) -> Option<MetricsSnapshot> {
        let metrics = self.core.hooks.as_ref()?.metrics.as_ref()?;
        Some(metrics.snapshot())
    }

    /// Turns a caller away: counts the rejection, builds the error, reports it to `tracing`.
    /// Writes nothing shared unless metrics are on: the rejection is plain values and the name
    /// a handle.
    #[inline]
    fn reject(&self, refusal: Refusal) -> OpenError {
        let slow = self.slow(refusal.failures);
        self.rejected(OpenError::refused(self.handle(), refusal, slow))
    }

    /// Turns a caller away from the `Held` word `w`: with the fleet's time left and the
    /// hold's note. If the fleet's open period is over (its probe is in flight elsewhere), this
    /// is demand for the probe, which the coordinator takes with
    /// [`take_demand`](crate::remote::Remote::take_demand): the flag is written only if it is
    /// not set yet, so the callers turned away in one such period write it once between them.
    /// The caller that sets it rings the bell.
    #[inline]
    fn reject_held(&self, w: Word, now: &mut LazyNow<'_>) -> OpenError {
        let hold = self.core.hold.load(Ordering::Relaxed);
        let remaining_ms = word::held_remaining(w, side::until(hold), now.get());
        if remaining_ms == 0
            && !side::demand(hold)
            && !side::demand(self.core.hold.fetch_or(side::DEMAND, Ordering::Relaxed))
        {
            self.core.bell.ring();
        }
        self.rejected(OpenError::held_packed(
            self.handle(),
            remaining_ms,
            side::note_bits(hold),
        ))
    }

    /// The handle a rejection carries for the name.
    #[inline]
    fn handle(&self) -> Name {
        self.core
            .name
            .as_ref()
            .map_or(Name::UNNAMED, |named| named.name())
    }

    /// Counts the rejection and reports it to `tracing`.
    #[inline]
    fn rejected(&self, rejected: OpenError) -> OpenError {
        self.count(Counter::Rejected);
        #[cfg(feature = "tracing")]
        crate::trace::rejected(self.name(), &rejected);
        rejected
    }

    pub(crate) fn view_of(&self, w: Word, now: &mut LazyNow<'_>) -> word::View {
        let held_until = side::until(self.core.hold.load(Ordering::Relaxed));
        word::observe(w, &self.core.policy, held_until, &mut || now.get())
    }

    fn view(&self) -> word::View {
        self.view_of(self.load(), &mut self.lazy_now())
    }

    /// Records when the fleet's open period ends and why it holds the breaker (each if given),
    /// ahead of the hold that reports them; the demand flag is left as it is.
    pub(crate) fn set_hold(&self, until: Option<u64>, note: Option<Reason>) {
        let _ = self
            .core
            .hold
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |hold| {
                Some(side::with(hold, until, note))
            });
    }

    /// Whether a caller was turned away by a hold whose fleet open period was over since the
    /// last call, clearing the flag. Writes only if the flag is set.
    pub(crate) fn take_demand(&self) -> bool {
        side::demand(self.core.hold.load(Ordering::Relaxed))
            && side::demand(self.core.hold.fetch_and(!side::DEMAND, Ordering::Relaxed))
    }

    /// Forgets any demand: the fleet's open period starts again, or the fleet closed.
    pub(crate) fn clear_demand(&self) {
        let _ = self.take_demand();
    }

    /// Registers `waker` for the next ring of the bell, replacing any waker registered before.
    pub(crate) fn register_waker(&self, waker: &core::task::Waker) {
        self.core.bell.register(waker);
    }

    pub(crate) fn policy(&self) -> &Policy {
        &self.core.policy
    }

    /// Asks to run one call, without futures: for custom runtimes, sync code, or work whose
    /// outcome is known elsewhere. Report the outcome on the returned [`Permit`].
    ///
    /// # Errors
    ///
    /// An [`OpenError`] if the breaker is open, or half-open with a probe already in flight.
    ///
    /// # Cancel safety
    ///
    /// Dropping the permit without reporting records nothing, and if it was the half-open probe
    /// the slot is freed so the next caller probes. A probe permit leaked with
    /// [`mem::forget`](core::mem::forget) holds the slot until the
    /// [probe deadline](crate::Builder::probe_deadline) has passed; then the next caller
    /// becomes the probe, and the leaked permit (could it still report) would be discarded.
    ///
    /// ```
    /// let breaker = async_breaker::CircuitBreaker::new();
    /// let permit = breaker.try_acquire()?;
    /// // ... do the work, then:
    /// permit.success();
    /// # Ok::<(), async_breaker::OpenError>(())
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_, C>, OpenError> {
        self.admit()
            .map(|ticket| Permit::new(Slot::new(self, ticket)))
    }

    /// Like [`try_acquire`](Self::try_acquire), but the permit owns a handle to the breaker,
    /// so it is `'static` and can move into a spawned task or another thread. Only on targets
    /// with a pointer-sized compare-exchange, where `alloc::sync::Arc` exists (not thumbv6m).
    ///
    /// # Errors
    ///
    /// An [`OpenError`] if the breaker is rejecting calls.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let breaker = Arc::new(async_breaker::CircuitBreaker::new());
    /// let permit = breaker.try_acquire_owned()?;
    /// std::thread::spawn(move || permit.success()).join().unwrap();
    /// # Ok::<(), async_breaker::OpenError>(())
    /// ```
    #[cfg(target_has_atomic = "ptr")]
    #[cfg_attr(docsrs, doc(cfg(target_has_atomic = "ptr")))]
    pub fn try_acquire_owned(self: &Arc<Self>) -> Result<OwnedPermit<C>, OpenError> {
        self.admit()
            .map(|ticket| OwnedPermit::new(Slot::new(Arc::clone(self), ticket)))
    }

    /// Runs a synchronous call through the breaker: rejected without running `f` when open,
    /// otherwise runs it and records its outcome (classified by the breaker's classifier).
    /// A panic in `f` counts as a failure and then resumes unwinding.
    ///
    /// # Errors
    ///
    /// [`Error::Open`] if the call was rejected, [`Error::Inner`] with `f`'s own error.
    ///
    /// ```
    /// let breaker = async_breaker::CircuitBreaker::new();
    /// let n = breaker.call(|| "7".parse::<u8>())?;
    /// assert_eq!(n, 7);
    /// # Ok::<(), async_breaker::Error<std::num::ParseIntError>>(())
    /// ```
    #[inline]
    pub fn call<T, E, F>(&self, f: F) -> Result<T, Error<E>>
    where
        F: FnOnce() -> Result<T, E>,
        C: Classify<E>,
    {
        let current = self.load();
        if current.is_closed() && self.plain() {
            return self.run_counted(current.ticket(), f);
        }
        self.call_slow(current, f)
    }

    /// Runs a call admitted by the closed fast path of a plain breaker and records its outcome
    /// through [`settle_counted`](Self::settle_counted), without asking again what the
    /// admission already knows (plain, closed, no start time to take).
    #[inline]
    fn run_counted<T, E, F>(&self, ticket: Ticket, f: F) -> Result<T, Error<E>>
    where
        F: FnOnce() -> Result<T, E>,
        C: Classify<E>,
    {
        /// Records a failure if `f` unwinds; forgotten once it returns, so the normal path
        /// keeps nothing in memory for it and runs no drop.
        struct FailOnUnwind<'b, C> {
            breaker: &'b CircuitBreaker<C>,
            ticket: Ticket,
        }
        impl<C> Drop for FailOnUnwind<'_, C> {
            fn drop(&mut self) {
                self.breaker.settle_counted(self.ticket, Outcome::Failure);
            }
        }
        let guard = FailOnUnwind {
            breaker: self,
            ticket,
        };
        let result = f();
        core::mem::forget(guard);
        let outcome = match &result {
            Ok(_) => Outcome::Success,
            Err(e) => self.core.classifier.classify(e),
        };
        self.settle_counted(ticket, outcome);
        result.map_err(Error::Inner)
    }

    /// [`call`](Self::call) beyond the plain closed case: kept out of line, so that the closed
    /// fast path inlined into the caller saves no registers for it.
    #[inline(never)]
    fn call_slow<T, E, F>(&self, current: Word, f: F) -> Result<T, Error<E>>
    where
        F: FnOnce() -> Result<T, E>,
        C: Classify<E>,
    {
        let ticket = self.admit_slow(current)?;
        self.run_admitted(ticket, f)
    }

    /// Runs an admitted call and records its outcome.
    #[inline]
    fn run_admitted<T, E, F>(&self, ticket: Ticket, f: F) -> Result<T, Error<E>>
    where
        F: FnOnce() -> Result<T, E>,
        C: Classify<E>,
    {
        let mut slot = Slot::new(self, ticket);
        let result = slot.run(f);
        slot.finish(&result);
        result.map_err(Error::Inner)
    }

    /// Like [`call`](Self::call), but when the breaker rejects, runs `fallback` instead of `f`
    /// and returns its result: the counterpart of the original's `fallback_function`.
    ///
    /// # Errors
    ///
    /// `f`'s error if it ran, otherwise `fallback`'s.
    ///
    /// ```
    /// let breaker = async_breaker::CircuitBreaker::builder().failure_threshold(1).build()?;
    /// let _ = breaker.call(|| Err::<&str, _>("down"));
    /// let answer = breaker.call_or_else(|| Ok::<_, ()>("live"), |_rejected| Ok("cached"));
    /// assert_eq!(answer, Ok("cached"));
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub fn call_or_else<T, E, F, G>(&self, f: F, fallback: G) -> Result<T, E>
    where
        F: FnOnce() -> Result<T, E>,
        G: FnOnce(OpenError) -> Result<T, E>,
        C: Classify<E>,
    {
        match self.call(f) {
            Ok(value) => Ok(value),
            Err(Error::Inner(e)) => Err(e),
            Err(Error::Open(rejected)) => fallback(rejected),
        }
    }

    fn set(&self, to: Manual) {
        let mut now = self.lazy_now();
        if let Some((from, next)) =
            self.update(|current| word::manual(current, to, &mut || now.get()))
        {
            self.tally_slow(false, next);
            self.changed(from, next, Cause::Manual, &mut now);
        }
    }

    /// Opens the breaker by hand: every call is rejected ([`State::ForcedOpen`]) until
    /// [`reset`](Self::reset), whatever the recovery timeout. Outcomes of calls admitted before
    /// are discarded. Fires a transition event like any other change.
    ///
    /// ```
    /// use async_breaker::{CircuitBreaker, State};
    /// let breaker = CircuitBreaker::new();
    /// breaker.force_open(); // e.g. during a maintenance window
    /// assert_eq!(breaker.state(), State::ForcedOpen);
    /// assert!(breaker.try_acquire().is_err());
    /// breaker.reset();
    /// assert!(breaker.try_acquire().is_ok());
    /// ```
    pub fn force_open(&self) {
        self.set(Manual::ForceOpen);
    }

    /// Disables the breaker: every call is admitted and no outcome is recorded
    /// ([`State::Disabled`]) until [`reset`](Self::reset).
    ///
    /// ```
    /// use async_breaker::{CircuitBreaker, State};
    /// let breaker = CircuitBreaker::builder().failure_threshold(1).build()?;
    /// breaker.disable();
    /// let _ = breaker.call(|| Err::<(), _>("ignored while disabled"));
    /// assert_eq!((breaker.state(), breaker.failure_count()), (State::Disabled, 0));
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub fn disable(&self) {
        self.set(Manual::Disable);
    }

    /// Closes the breaker by hand, with no failures, the base open period and an empty
    /// failure-rate window, from any state. It always starts a new cycle, so outcomes of calls
    /// admitted before are discarded.
    ///
    /// ```
    /// use async_breaker::{CircuitBreaker, State};
    /// let breaker = CircuitBreaker::builder().failure_threshold(1).build()?;
    /// let _ = breaker.call(|| Err::<(), _>("down"));
    /// assert_eq!(breaker.state(), State::Open);
    /// breaker.reset();
    /// assert_eq!((breaker.state(), breaker.failure_count()), (State::Closed, 0));
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub fn reset(&self) {
        self.set(Manual::Reset);
    }

    /// The state now. Reads the clock only when the breaker is open, to tell whether the
    /// recovery timeout has elapsed (then it reports [`State::HalfOpen`]).
    ///
    /// ```
    /// use async_breaker::{CircuitBreaker, State};
    /// assert_eq!(CircuitBreaker::new().state(), State::Closed);
    /// ```
    pub fn state(&self) -> State {
        self.view().state
    }

    /// Whether the breaker is closed.
    ///
    /// ```
    /// assert!(async_breaker::CircuitBreaker::new().is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.state() == State::Closed
    }

    /// Whether the breaker is open (rejecting, with time left before a probe).
    ///
    /// ```
    /// assert!(!async_breaker::CircuitBreaker::new().is_open());
    /// ```
    pub fn is_open(&self) -> bool {
        self.state() == State::Open
    }

    /// Whether the breaker is half-open (a probe may be admitted, or is in flight).
    ///
    /// ```
    /// assert!(!async_breaker::CircuitBreaker::new().is_half_open());
    /// ```
    pub fn is_half_open(&self) -> bool {
        self.state() == State::HalfOpen
    }

    /// The current run of consecutive failures. It stays at the count that opened the
    /// breaker while open, grows by one for each failed probe, and is 0 after a success.
    ///
    /// ```
    /// let breaker = async_breaker::CircuitBreaker::new();
    /// let _ = breaker.call(|| Err::<(), _>("x"));
    /// assert_eq!(breaker.failure_count(), 1);
    /// ```
    pub fn failure_count(&self) -> u32 {
        self.load().failures()
    }

    /// Time until an open breaker admits a probe; zero unless the breaker is open.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(async_breaker::CircuitBreaker::new().open_remaining(), Duration::ZERO);
    /// ```
    pub fn open_remaining(&self) -> Duration {
        Duration::from_millis(self.view().remaining_ms)
    }

    /// The breaker's name (`unnamed` unless one was set).
    ///
    /// ```
    /// assert_eq!(async_breaker::CircuitBreaker::new().name(), "unnamed");
    /// ```
    pub fn name(&self) -> &str {
        names::text_of(self.core.name.as_deref())
    }

    /// Consecutive failures that open the breaker.
    ///
    /// ```
    /// assert_eq!(async_breaker::CircuitBreaker::new().failure_threshold(), 5);
    /// ```
    pub fn failure_threshold(&self) -> u32 {
        self.core.policy.failure_threshold
    }

    /// How long the breaker stays open before admitting a probe, as configured (in whole
    /// milliseconds: a fraction is rounded up when the breaker is built).
    ///
    /// ```
    /// # use std::time::Duration;
    /// assert_eq!(async_breaker::CircuitBreaker::new().recovery_timeout(), Duration::from_secs(30));
    /// ```
    pub fn recovery_timeout(&self) -> Duration {
        Duration::from_millis(self.core.policy.recovery_ms)
    }

    /// How long a half-open probe may stay in flight before the next caller replaces it.
    ///
    /// ```
    /// # use std::time::Duration;
    /// assert_eq!(async_breaker::CircuitBreaker::new().probe_deadline(), Duration::from_secs(30));
    /// ```
    pub fn probe_deadline(&self) -> Duration {
        Duration::from_millis(self.core.policy.probe_deadline_ms)
    }

    /// The failure classifier.
    ///
    /// ```
    /// assert_eq!(*async_breaker::CircuitBreaker::new().classifier(), async_breaker::AnyError);
    /// ```
    pub fn classifier(&self) -> &C {
        &self.core.classifier
    }
}

impl<C> fmt::Debug for CircuitBreaker<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let view = self.view();
        f.debug_struct("CircuitBreaker")
            .field("name", &self.name())
            .field("state", &view.state)
            .field("failures", &view.failures)
            .field("open_remaining", &Duration::from_millis(view.remaining_ms))
            .field("failure_threshold", &self.core.policy.failure_threshold)
            .field("recovery_timeout", &self.recovery_timeout())
            .field("clock", &self.core.clock)
            .field("hooks", &self.core.hooks)
            .finish_non_exhaustive()
    }
}

fn outcome_counter(outcome: Outcome) -> Counter {
    match outcome {
        Outcome::Success => Counter::Succeeded,
        Outcome::Failure => Counter::Failed,
        Outcome::Ignore => Counter::Ignored,
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::clock::QuantaClock;

    #[test]
    fn a_breaker_built_without_a_clock_reads_the_shared_one() {
        for breaker in [CircuitBreaker::new(), CircuitBreaker::new()] {
            let TimeSource::Quanta(clock) = breaker.core.clock else {
                panic!("not the default clock: {:?}", breaker.core.clock);
            };
            assert!(core::ptr::eq(clock, QuantaClock::shared()));
        }
    }
}
