//! Remote coordination: the hooks a coordinator outside the call path uses to make several
//! breakers act as one, such as the fleet agent of `async-breaker-fleet`, which shares one
//! breaker across every replica of a service through Redis or Valkey.
//!
//! Nothing here touches the call path. A coordinator reads a breaker with
//! [`Remote::snapshot`] (one atomic load) as often as it likes, or sleeps until the breaker
//! changes ([`Remote::register_waker`], see [below](#sleeping-until-something-changes)), and
//! moves it with single compare-exchange transitions:
//!
//! | call | from | to | when |
//! |---|---|---|---|
//! | [`hold_because`](Remote::hold_because) ([`hold`](Remote::hold)) | closed, open, held, half-open, probing | held | the fleet is open, or probing elsewhere (also renews a hold) |
//! | [`grant_probe`](Remote::grant_probe) | held | half-open (granted) | this breaker won the fleet's one probe |
//! | [`revoke_probe`](Remote::revoke_probe) | that exact half-open word | held | nobody here claimed the grant |
//! | [`close_because`](Remote::close_because) ([`close`](Remote::close)) | open, held, half-open, probing | closed | the fleet closed |
//! | [`release`](Remote::release) | held | open or half-open | the coordinator lost the fleet: a plain local breaker again |
//!
//! A breaker forced open or disabled by hand ignores all of them: manual control wins locally.
//! Every transition starts a new cycle, so outcomes of calls admitted before it are discarded.
//!
//! # What is reported, and why
//!
//! A remote transition that changes the public state fires the usual
//! [transition event](crate::Builder::on_transition) (and `tracing` event, and `metrics`
//! transition) with the cause [`Cause::Remote`] and the [`Reason`] given:
//! [`hold_because`](Remote::hold_because) and [`close_because`](Remote::close_because) take
//! one ([`hold`](Remote::hold) and [`close`](Remote::close) give [`Reason::Sync`]), and
//! [`release`](Remote::release) reports [`Reason::Released`]. Renewing a hold reports nothing
//! (the breaker stays open).
//!
//! Granting the fleet's probe and taking the grant back are **not** transitions: no listener
//! call, no `tracing` event, no `metrics` transition, so a grant given back unclaimed leaves no
//! trace. As far as reports go, the hold stays open until a caller claims the granted probe:
//! that caller reports `Open -> HalfOpen` (cause [`Cause::Calls`], as a local probe admitted
//! from open does), and the probe's outcome then reports `HalfOpen -> Closed` or
//! `HalfOpen -> Open`, also [`Cause::Calls`]. (Taking the slot back after a claimed probe was
//! dropped is reported `HalfOpen -> Open`, [`Reason::Sync`]: the claim was reported.)
//!
//! # The hold's note
//!
//! The reason a breaker is held is kept beside the word, and a caller it turns away is told
//! ([`OpenError::remote`](crate::OpenError::remote), and its message:
//! `circuit "dep" is open, held by the fleet (3 of 8 replicas tripped, 5s remaining)`). A
//! coordinator renews its holds with [`Reason::Sync`] as it reconciles; renewing a hold with
//! `Sync` keeps the note of the hold it renews, while any other reason replaces it.
//!
//! # Held
//!
//! A held breaker rejects every caller, reports [`State::Open`] with the time left of the fleet's
//! open period, then [`State::HalfOpen`] once it has run out (the fleet's probe is in flight
//! somewhere else), and admits no probe of its own. A hold lasts until the coordinator moves the
//! breaker on, or until it has gone unrenewed for its open period (at its backoff level) plus
//! the [probe deadline](crate::Builder::probe_deadline): then the next caller probes as if the
//! breaker were plainly open. A coordinator that dies or hangs can therefore never wedge a
//! breaker; a live one renews each hold well within the probe deadline.
//!
//! ```
//! use std::time::Duration;
//! use async_breaker::{CircuitBreaker, ManualClock, State};
//! use async_breaker::remote::Phase;
//!
//! let clock = ManualClock::new();
//! let breaker = CircuitBreaker::builder()
//!     .recovery_timeout(Duration::from_secs(10))
//!     .clock(clock.clone())
//!     .build()?;
//! let remote = breaker.remote();
//!
//! // Another replica tripped; the fleet stays open for 7 more seconds.
//! remote.hold(Duration::from_secs(7), 0);
//! assert_eq!(breaker.state(), State::Open);
//! assert_eq!(breaker.open_remaining(), Duration::from_secs(7));
//! assert!(breaker.try_acquire().is_err());
//!
//! // The fleet's open period ends and this replica wins the probe lease.
//! clock.advance(Duration::from_secs(7));
//! let granted = remote.grant_probe().expect("held");
//! assert_eq!(granted.phase(), Phase::HalfOpen);
//! let probe = breaker.try_acquire()?;
//! assert!(probe.is_probe());
//! assert!(breaker.try_acquire().is_err()); // exactly one probe
//! probe.success();
//! assert_eq!(remote.snapshot().phase(), Phase::Closed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Demand
//!
//! Once the fleet's open period is over, the fleet needs one probe, on a replica whose callers
//! want it. A caller turned away by a held breaker whose fleet period is over sets a flag (at
//! most one shared write per such period, however many callers are turned away; no other path
//! writes it), which [`take_demand`](Remote::take_demand) reads and clears. A coordinator
//! competes for the fleet's probe only where there is demand, so an idle replica never wins it.
//! A hold with time left, and closing, clear the flag.
//!
//! # Sleeping until something changes
//!
//! Rather than reading every breaker every few milliseconds, a coordinator can sleep until one
//! changes: each breaker has a bell with room for one [`Waker`], which
//! [`register_waker`](Remote::register_waker) fills and which is rung, waking it once, at every
//! change of the breaker's [`Phase`] (whoever makes it: callers, manual control, a
//! coordinator) and when a caller records [demand](#demand). A call that changes no phase (a
//! success, a failure below the threshold, a rejection) rings nothing and costs nothing more.
//! Time passing is not a change: an open breaker whose period runs out reads half-open without
//! ringing, so a coordinator still wakes for the deadlines it knows of.
//!
//! The protocol is that of an `AtomicWaker`: register, *then* read the breaker
//! ([`snapshot`](Remote::snapshot), [`take_demand`](Remote::take_demand)), then sleep; register
//! again after each wake. A change after the registration wakes the waker, and a change before
//! it is in what the coordinator reads, so none is missed.

mod coordinated;

pub use self::coordinated::Coordinated;

use core::fmt;
use core::task::Waker;
use core::time::Duration;

use crate::breaker::CircuitBreaker;
use crate::word::{self, Word, MAX_LEVEL};
use crate::{Cause, Reason, State};

/// Where a breaker's word is, in more detail than [`State`]: what a coordinator needs to tell a
/// local open period from a fleet hold, and a free probe slot from a probe in flight.
///
/// ```
/// use async_breaker::{remote::Phase, CircuitBreaker};
/// assert_eq!(CircuitBreaker::new().remote().snapshot().phase(), Phase::Closed);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Every call is admitted.
    Closed,
    /// Open on its own timer; the breaker probes by itself when it runs out.
    Open,
    /// Held open by a coordinator (see the [module docs](self#held)).
    Held,
    /// The probe slot is free: the next caller becomes the probe. Also a held breaker granted
    /// the fleet's probe ([`Remote::grant_probe`]) whose grant nobody has claimed yet.
    HalfOpen,
    /// A probe admitted here is in flight.
    Probing,
    /// Forced open by hand.
    ForcedOpen,
    /// Disabled by hand.
    Disabled,
}

impl Phase {
    fn of(w: Word) -> Phase {
        match w.phase() {
            word::Phase::Closed => Phase::Closed,
            word::Phase::Open => Phase::Open,
            word::Phase::Held => Phase::Held,
            word::Phase::HalfOpen | word::Phase::Granted => Phase::HalfOpen,
            word::Phase::Probing => Phase::Probing,
            word::Phase::ForcedOpen => Phase::ForcedOpen,
            word::Phase::Disabled => Phase::Disabled,
        }
    }
}

/// One reading of a breaker's word, from [`Remote::snapshot`] or returned by a transition.
///
/// ```
/// use async_breaker::{remote::Phase, CircuitBreaker, State};
///
/// let breaker = CircuitBreaker::builder().failure_threshold(1).build()?;
/// let before = breaker.remote().snapshot();
/// let _ = breaker.call(|| Err::<(), _>("down"));
/// let after = breaker.remote().snapshot();
/// assert_ne!(before.cycle_id(), after.cycle_id()); // something happened in between
/// assert_eq!((after.phase(), after.state(), after.failures()), (Phase::Open, State::Open, 1));
/// assert!(after.remaining() > std::time::Duration::ZERO);
/// # Ok::<(), async_breaker::ConfigError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Snapshot {
    word: u64,
    state: State,
    remaining_ms: u64,
}

impl Snapshot {
    fn new(w: Word, view: &word::View) -> Snapshot {
        Snapshot {
            word: w.raw(),
            state: view.state,
            remaining_ms: view.remaining_ms,
        }
    }

    fn word(&self) -> Word {
        Word::from_raw(self.word)
    }

    /// The phase of the word.
    ///
    /// ```
    /// use async_breaker::{remote::Phase, CircuitBreaker};
    /// let breaker = CircuitBreaker::new();
    /// breaker.force_open();
    /// assert_eq!(breaker.remote().snapshot().phase(), Phase::ForcedOpen);
    /// ```
    pub fn phase(&self) -> Phase {
        Phase::of(self.word())
    }

    /// The public state, as [`CircuitBreaker::state`] reported it at the time.
    ///
    /// ```
    /// use async_breaker::{CircuitBreaker, State};
    /// assert_eq!(CircuitBreaker::new().remote().snapshot().state(), State::Closed);
    /// ```
    pub fn state(&self) -> State {
        self.state
    }

    /// The consecutive-failure count.
    ///
    /// ```
    /// let breaker = async_breaker::CircuitBreaker::new();
    /// let _ = breaker.call(|| Err::<(), _>("down"));
    /// assert_eq!(breaker.remote().snapshot().failures(), 1);
    /// ```
    pub fn failures(&self) -> u32 {
        self.word().failures()
    }

    /// The backoff level, `0..=7`: how many times the open period has doubled.
    ///
    /// ```
    /// assert_eq!(async_breaker::CircuitBreaker::new().remote().snapshot().level(), 0);
    /// ```
    pub fn level(&self) -> u8 {
        // The level field is three bits wide.
        u8::try_from(self.word().level()).unwrap_or(u8::MAX)
    }

    /// Time left of the open period (a local one, or the fleet's while held); zero otherwise.
    ///
    /// ```
    /// use std::time::Duration;
    /// let breaker = async_breaker::CircuitBreaker::new();
    /// assert_eq!(breaker.remote().snapshot().remaining(), Duration::ZERO);
    /// breaker.remote().hold(Duration::from_secs(3), 0);
    /// assert!(breaker.remote().snapshot().remaining() > Duration::from_secs(2));
    /// ```
    pub fn remaining(&self) -> Duration {
        Duration::from_millis(self.remaining_ms)
    }

    /// The identity of the word's cycle: it changes with every transition (and every renewed
    /// hold), so two snapshots with the same cycle saw no transition in between.
    ///
    /// ```
    /// let breaker = async_breaker::CircuitBreaker::new();
    /// let a = breaker.remote().snapshot();
    /// assert_eq!(a.cycle_id(), breaker.remote().snapshot().cycle_id());
    /// breaker.reset();
    /// assert_ne!(a.cycle_id(), breaker.remote().snapshot().cycle_id());
    /// ```
    pub fn cycle_id(&self) -> u64 {
        self.word().cycle_id()
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("phase", &self.phase())
            .field("state", &self.state)
            .field("failures", &self.failures())
            .field("level", &self.level())
            .field("remaining", &self.remaining())
            .field("cycle", &self.cycle_id())
            .finish_non_exhaustive()
    }
}

/// A coordinator's handle on one breaker, from [`CircuitBreaker::remote`]. See the
/// [module docs](self).
///
/// ```
/// use async_breaker::{remote::Phase, CircuitBreaker};
///
/// let breaker = CircuitBreaker::new();
/// let remote = breaker.remote();
/// remote.hold(std::time::Duration::ZERO, 0); // the fleet is probing elsewhere
/// assert_eq!(remote.snapshot().phase(), Phase::Held);
/// remote.close(); // the fleet's probe succeeded
/// assert!(breaker.is_closed());
/// ```
pub struct Remote<'a, C> {
    breaker: &'a CircuitBreaker<C>,
}

impl<C> fmt::Debug for Remote<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Remote").field(&self.snapshot()).finish()
    }
}

impl<C> CircuitBreaker<C> {
    /// The hooks a coordinator outside the call path uses, such as a fleet agent: see
    /// [`remote`](crate::remote).
    ///
    /// ```
    /// let breaker = async_breaker::CircuitBreaker::new();
    /// assert_eq!(breaker.remote().snapshot().state(), async_breaker::State::Closed);
    /// ```
    pub fn remote(&self) -> Remote<'_, C> {
        Remote { breaker: self }
    }
}

impl<C> Remote<'_, C> {
    /// Reads the breaker: one atomic load, and one clock read when it is open or held.
    ///
    /// ```
    /// use async_breaker::{remote::Phase, CircuitBreaker};
    /// assert_eq!(CircuitBreaker::new().remote().snapshot().phase(), Phase::Closed);
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        let w = self.breaker.load();
        Snapshot::new(w, &self.breaker.view_of(w, &mut self.breaker.lazy_now()))
    }

    /// Applies `to` by compare-exchange and reports the change for `reason`. With
    /// `held_for_ms`, the new word is a hold whose fleet open period ends that long after its
    /// stamp; with `note`, a hold for that reason. Both are written before the hold is
    /// installed (so a reader that sees the hold sees its period and its reason), and only if
    /// the transition applies to the word as it is. A `Sync` note is not written over the note
    /// of a word still held (or granted): it renews that hold, for the reason it had.
    fn apply(
        &self,
        to: word::Remote,
        held_for_ms: Option<u64>,
        note: Option<Reason>,
        reason: Reason,
    ) -> Option<Snapshot> {
        let mut now = self.breaker.lazy_now();
        let (from, next) = self.breaker.update(|current| {
            let next = word::remote(current, to, &mut || now.get())?;
            let until = held_for_ms.map(|ms| next.stamp().saturating_add(ms));
            let renewal = matches!(current.phase(), word::Phase::Held | word::Phase::Granted);
            let note = note.filter(|&note| note != Reason::Sync || !renewal);
            if until.is_some() || note.is_some() {
                self.breaker.set_hold(until, note);
            }
            Some(next)
        })?;
        self.breaker
            .changed(from, next, Cause::Remote(reason), &mut now);
        Some(Snapshot::new(next, &self.breaker.view_of(next, &mut now)))
    }

    /// [`hold_because`](Self::hold_because) with [`Reason::Sync`]: the coordinator follows
    /// the fleet's shared state without a fresher reason. Renewing a hold this way keeps the
    /// reason it was held for.
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_breaker::{CircuitBreaker, State};
    ///
    /// let breaker = CircuitBreaker::new();
    /// let held = breaker.remote().hold(Duration::from_secs(5), 1).unwrap();
    /// assert_eq!((held.state(), held.level()), (State::Open, 1));
    /// let rejected = breaker.try_acquire().unwrap_err();
    /// assert!(rejected.remaining() <= Duration::from_secs(5));
    ///
    /// breaker.force_open();
    /// assert!(breaker.remote().hold(Duration::from_secs(5), 1).is_none()); // manual wins
    /// ```
    pub fn hold(&self, remaining: Duration, level: u8) -> Option<Snapshot> {
        self.hold_because(remaining, level, Reason::Sync)
    }

    /// The fleet is open, for `reason`, with `remaining` of its open period left (or zero: it
    /// is probing elsewhere), at backoff `level` (capped at 7): reject every call and admit no
    /// probe here until [granted](Self::grant_probe). Holding a held breaker renews the hold. A
    /// probe in flight here becomes stale (its outcome is discarded). Returns the new snapshot,
    /// or `None` for a breaker forced open or disabled by hand.
    ///
    /// If the public state changes (closed or half-open to open), the transition is reported
    /// with the cause [`Cause::Remote`]`(reason)`. The reason becomes the hold's note, which a
    /// rejected caller is told ([`OpenError::remote`](crate::OpenError::remote)), except that
    /// [`Reason::Sync`] keeps the note of a hold it renews. A `remaining` above zero (once
    /// whole milliseconds) starts a new open period, so it clears the
    /// [demand](Self::take_demand) for the fleet's probe.
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_breaker::{CircuitBreaker, Reason, State};
    ///
    /// let breaker = CircuitBreaker::builder().name("dep").build()?;
    /// let quorum = Reason::Quorum { tripped: 3, live: 8 };
    /// let held = breaker.remote().hold_because(Duration::from_secs(5), 0, quorum).unwrap();
    /// assert_eq!(held.state(), State::Open);
    /// breaker.remote().hold(Duration::from_secs(5), 0); // renewed as the agent reconciles
    /// let rejected = breaker.try_acquire().unwrap_err();
    /// assert_eq!(rejected.remote(), Some(quorum), "a renewal keeps the reason");
    /// assert_eq!(
    ///     rejected.to_string(),
    ///     r#"circuit "dep" is open, held by the fleet (3 of 8 replicas tripped, 5s remaining)"#
    /// );
    ///
    /// breaker.remote().hold_because(Duration::from_secs(5), 1, Reason::Probe); // it failed
    /// assert_eq!(breaker.try_acquire().unwrap_err().remote(), Some(Reason::Probe));
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub fn hold_because(&self, remaining: Duration, level: u8, reason: Reason) -> Option<Snapshot> {
        let level = u64::from(level).min(MAX_LEVEL);
        let period = self.breaker.policy().period_ms(level);
        let remaining_ms = u64::try_from(remaining.as_millis())
            .unwrap_or(u64::MAX)
            .min(period);
        let held = self.apply(
            word::Remote::Hold { level },
            Some(remaining_ms),
            Some(reason),
            reason,
        );
        if remaining_ms > 0 {
            // After the hold is installed: a caller turned away by the hold it replaced may
            // still set the flag, but none turned away by this one can.
            self.breaker.clear_demand();
        }
        held
    }

    /// This breaker won the fleet's one probe: a held breaker frees its probe slot, so the next
    /// caller (exactly one, however many race) becomes the probe. `None` unless held.
    ///
    /// The grant is not a transition: nothing is reported until a caller claims the probe,
    /// which reports `Open -> HalfOpen` (cause [`Cause::Calls`]); see
    /// [what is reported](self#what-is-reported-and-why).
    ///
    /// ```
    /// use async_breaker::{remote::Phase, CircuitBreaker};
    ///
    /// let breaker = CircuitBreaker::new();
    /// assert!(breaker.remote().grant_probe().is_none()); // not held
    /// breaker.remote().hold(std::time::Duration::ZERO, 0);
    /// assert_eq!(breaker.remote().grant_probe().unwrap().phase(), Phase::HalfOpen);
    /// assert!(breaker.try_acquire().unwrap().is_probe());
    /// ```
    pub fn grant_probe(&self) -> Option<Snapshot> {
        // A grant reports nothing (see `word::Phase::reported`); the reason is never used.
        self.apply(word::Remote::Grant, None, None, Reason::Sync)
    }

    /// Takes back a free probe slot: only if the word is still exactly `granted`, it goes back
    /// to held (with the fleet's open period over). Pass the snapshot the grant returned, or a
    /// fresh one showing [`Phase::HalfOpen`]: a probe claimed and dropped since leaves the slot
    /// free under a new stamp, which only a fresh snapshot names. Returns whether it did;
    /// `false` means a probe is in flight or something else moved the breaker. Revoke before
    /// giving the fleet's probe lease back, never after.
    ///
    /// Taking back an unclaimed grant is not a transition: nothing is reported, so a grant
    /// given back unused leaves no trace in listeners, `tracing` or `metrics`. (Taking back a
    /// slot that a claimed probe, since dropped, left free reports `HalfOpen -> Open` with
    /// [`Reason::Sync`], since the claim reported `Open -> HalfOpen`.) The hold keeps its
    /// note.
    ///
    /// ```
    /// use async_breaker::{remote::Phase, CircuitBreaker};
    ///
    /// let breaker = CircuitBreaker::new();
    /// breaker.remote().hold(std::time::Duration::ZERO, 0);
    /// let granted = breaker.remote().grant_probe().unwrap();
    /// assert!(breaker.remote().revoke_probe(&granted));
    /// assert_eq!(breaker.remote().snapshot().phase(), Phase::Held);
    /// assert!(breaker.try_acquire().is_err());
    ///
    /// let granted = breaker.remote().grant_probe().unwrap();
    /// let probe = breaker.try_acquire().unwrap(); // claimed first
    /// assert!(!breaker.remote().revoke_probe(&granted));
    /// # drop(probe);
    /// ```
    pub fn revoke_probe(&self, granted: &Snapshot) -> bool {
        // The hold it installs has the fleet's open period over; a revoke that does not apply
        // leaves a held breaker's time alone.
        self.apply(
            word::Remote::Revoke(granted.word()),
            Some(0),
            None,
            Reason::Sync,
        )
        .is_some()
    }

    /// [`close_because`](Self::close_because) with [`Reason::Sync`]: the coordinator follows
    /// the fleet's shared state without a fresher reason.
    ///
    /// ```
    /// use async_breaker::CircuitBreaker;
    ///
    /// let breaker = CircuitBreaker::builder().failure_threshold(1).build()?;
    /// let _ = breaker.call(|| Err::<(), _>("down"));
    /// assert!(breaker.is_open());
    /// let closed = breaker.remote().close().unwrap();
    /// assert_eq!((closed.failures(), breaker.is_closed()), (0, true));
    /// assert!(breaker.remote().close().is_none());
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub fn close(&self) -> Option<Snapshot> {
        self.close_because(Reason::Sync)
    }

    /// The fleet closed, for `reason` (typically [`Reason::Probe`]: the fleet's probe
    /// succeeded): an open, held, half-open or probing breaker closes, with no failures and the
    /// base open period, and the transition is reported with the cause
    /// [`Cause::Remote`]`(reason)`. `None` if it is closed already (its count is left alone) or
    /// forced open or disabled by hand. Either way it clears the [demand](Self::take_demand)
    /// for the fleet's probe.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use async_breaker::{Cause, CircuitBreaker, Reason};
    ///
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&seen);
    /// let breaker = CircuitBreaker::builder()
    ///     .on_transition(move |t| log.lock().unwrap().push(t.to_string()))
    ///     .build()?;
    /// breaker.remote().hold(std::time::Duration::ZERO, 0);
    /// assert!(breaker.remote().close_because(Reason::Probe).is_some());
    /// assert!(breaker.is_closed());
    /// assert_eq!(
    ///     seen.lock().unwrap()[1],
    ///     r#"circuit "unnamed": open -> closed (0 failures; the fleet's probe)"#
    /// );
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub fn close_because(&self, reason: Reason) -> Option<Snapshot> {
        let closed = self.apply(word::Remote::Close, None, None, reason);
        self.breaker.clear_demand();
        closed
    }

    /// The coordinator lost the fleet (its server is down, say): a held breaker becomes a
    /// plain local one. If the fleet's open period was still running it opens for a full open
    /// period of its own; otherwise its probe slot is freed and the next caller probes. `None`
    /// unless held. A change of public state (open to half-open) is reported with the cause
    /// [`Cause::Remote`]`(`[`Reason::Released`]`)`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_breaker::{remote::Phase, CircuitBreaker};
    ///
    /// let breaker = CircuitBreaker::new();
    /// breaker.remote().hold(Duration::from_secs(3), 0);
    /// assert_eq!(breaker.remote().release().unwrap().phase(), Phase::Open);
    /// breaker.remote().hold(Duration::ZERO, 0);
    /// assert_eq!(breaker.remote().release().unwrap().phase(), Phase::HalfOpen);
    /// ```
    pub fn release(&self) -> Option<Snapshot> {
        let fleet_open = self.snapshot().remaining() > Duration::ZERO;
        self.apply(
            word::Remote::Release { fleet_open },
            None,
            None,
            Reason::Released,
        )
    }

    /// Whether a caller was turned away by this breaker while it was held with the fleet's
    /// open period over (so it read half-open: the fleet's probe in flight elsewhere) since the
    /// flag was last taken; taking it clears it. A coordinator competes for the fleet's probe
    /// only when this is `true`, so a replica without callers never wins it. See
    /// [demand](self#demand).
    ///
    /// The flag is a hint, kept beside the word with relaxed atomics: a caller turned away at
    /// the very moment a hold with time left replaces the due one may set it for that one.
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_breaker::{CircuitBreaker, ManualClock};
    ///
    /// let clock = ManualClock::new();
    /// let breaker = CircuitBreaker::builder().clock(clock.clone()).build()?;
    /// clock.advance(Duration::from_secs(60)); // up for a minute
    /// let remote = breaker.remote();
    /// remote.hold(Duration::from_secs(2), 0);
    /// assert!(breaker.try_acquire().is_err()); // the fleet's open period still runs
    /// assert!(!remote.take_demand());
    ///
    /// clock.advance(Duration::from_secs(2)); // over: the fleet wants a probe
    /// assert!(breaker.try_acquire().is_err());
    /// assert!(breaker.try_acquire().is_err());
    /// assert!(remote.take_demand()); // two callers, one flag
    /// assert!(!remote.take_demand()); // taken
    ///
    /// assert!(breaker.try_acquire().is_err());
    /// remote.hold(Duration::from_secs(2), 1); // a new open period forgets it
    /// assert!(!remote.take_demand());
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub fn take_demand(&self) -> bool {
        self.breaker.take_demand()
    }

    /// Wakes `waker` once, at the breaker's next change of [phase](Phase) or the next
    /// [demand](Self::take_demand) a caller records: see
    /// [sleeping until something changes](self#sleeping-until-something-changes).
    ///
    /// Register *before* reading the breaker ([`snapshot`](Self::snapshot),
    /// [`take_demand`](Self::take_demand)), then sleep, and register again after each wake: a
    /// wake-up is not kept for a waker registered later. A breaker has room for one waker, so
    /// a new registration replaces the one before (one coordinator per breaker; one waker may
    /// serve many breakers). The coordinator's own transitions ring too, so expect a wake after
    /// each of them.
    ///
    /// What rings: a trip, a probe admitted (also a grant claimed), the probe's outcome, manual
    /// control, a coordinator's hold (from another phase), grant, revoke, close and release, and
    /// the first caller turned away by a hold whose fleet open period is over. What does not: a
    /// success, a failure below the threshold, failures reset by a success, any other rejection,
    /// a probe replacing a stalled one, renewing a hold, and time passing. The waker is woken on the thread that made the change,
    /// inside its call: keep waking cheap (unpark a thread, wake a task).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use std::task::{Wake, Waker};
    /// use async_breaker::{remote::Phase, CircuitBreaker};
    ///
    /// /// Counts its wakes (a real coordinator unparks its thread or wakes its task).
    /// struct Count(AtomicUsize);
    ///
    /// impl Wake for Count {
    ///     fn wake(self: Arc<Self>) {
    ///         self.0.fetch_add(1, Ordering::SeqCst);
    ///     }
    /// }
    ///
    /// let breaker = CircuitBreaker::builder().failure_threshold(1).build()?;
    /// let count = Arc::new(Count(AtomicUsize::new(0)));
    /// let waker = Waker::from(Arc::clone(&count));
    /// let woken = || count.0.load(Ordering::SeqCst);
    ///
    /// breaker.remote().register_waker(&waker); // first register,
    /// assert_eq!(breaker.remote().snapshot().phase(), Phase::Closed); // then read, then sleep
    ///
    /// assert!(breaker.call(|| Ok::<_, &str>(1)).is_ok()); // no change: no wake
    /// assert_eq!(woken(), 0);
    /// assert!(breaker.call(|| Err::<(), _>("down")).is_err()); // the trip wakes it
    /// assert_eq!(woken(), 1);
    ///
    /// breaker.reset(); // woken once: a change now needs a new registration
    /// assert_eq!(woken(), 1);
    /// breaker.remote().register_waker(&waker);
    /// assert_eq!(breaker.remote().snapshot().phase(), Phase::Closed);
    /// breaker.force_open();
    /// assert_eq!(woken(), 2);
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub fn register_waker(&self, waker: &Waker) {
        self.breaker.register_waker(waker);
    }
}
