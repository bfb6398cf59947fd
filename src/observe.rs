//! Watching a breaker: state-change events ([`Transition`]) and opt-in [`Metrics`].
//!
//! Both are off unless asked for when the breaker is built, and then cost nothing on the
//! closed-state hot path beyond one predictable branch. A listener is called exactly once per
//! transition, by the caller whose compare-exchange made it, after the new state is installed
//! and outside any lock; a panic in a listener is caught and cannot corrupt the breaker.

use alloc::boxed::Box;
use core::fmt;
use core::time::Duration;

use crossbeam_utils::CachePadded;

use crate::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use crate::{Cause, State};

/// One state change of a breaker, as passed to a listener registered with
/// [`Builder::on_transition`](crate::Builder::on_transition).
///
/// `Open -> HalfOpen` is reported when the first probe is admitted (that is the moment the
/// breaker's word changes); [`CircuitBreaker::state`](crate::CircuitBreaker::state) already
/// reports `HalfOpen` from the moment the recovery timeout elapses.
///
/// Each transition says why it happened ([`cause`](Self::cause)): the breaker's own calls,
/// manual control, or a remote coordinator with its reason. For a breaker the fleet holds (see
/// [`remote`](crate::remote)), granting it the fleet's probe and taking the grant back are not
/// transitions: the hold stays open as far as reports go until a caller claims the probe, which
/// reports `Open -> HalfOpen` (cause [`Cause::Calls`], as a local probe admitted), and the
/// probe's outcome then reports `HalfOpen -> Closed` or `HalfOpen -> Open` (also
/// [`Cause::Calls`]). A grant given back unclaimed calls no listener, emits no `tracing` event
/// and counts no transition.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use async_breaker::{CircuitBreaker, State};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&seen);
/// let breaker = CircuitBreaker::builder()
///     .failure_threshold(1)
///     .on_transition(move |t| log.lock().unwrap().push((t.from(), t.to(), t.failures())))
///     .build()?;
/// let _ = breaker.call(|| Err::<(), _>("down"));
/// assert_eq!(*seen.lock().unwrap(), [(State::Closed, State::Open, 1)]);
/// # Ok::<(), async_breaker::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition<'a> {
    pub(crate) name: &'a str,
    pub(crate) from: State,
    pub(crate) to: State,
    pub(crate) failures: u32,
    pub(crate) at: Duration,
    pub(crate) cause: Cause,
}

impl Transition<'_> {
    /// The breaker's name.
    pub fn name(&self) -> &str {
        self.name
    }

    /// The state before.
    pub fn from(&self) -> State {
        self.from
    }

    /// The state after.
    pub fn to(&self) -> State {
        self.to
    }

    /// The consecutive-failure count after the transition.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// When it happened, on the breaker's clock (millisecond resolution).
    pub fn at(&self) -> Duration {
        self.at
    }

    /// Why it happened: the breaker's own calls, manual control, or a remote coordinator and
    /// its [reason](crate::Reason).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use async_breaker::{Cause, CircuitBreaker, Reason};
    ///
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&seen);
    /// let breaker = CircuitBreaker::builder()
    ///     .on_transition(move |t| log.lock().unwrap().push(t.cause()))
    ///     .build()?;
    /// breaker.force_open();
    /// breaker.reset();
    /// breaker.remote().hold_because(std::time::Duration::from_secs(1), 0, Reason::Counted);
    /// breaker.remote().close_because(Reason::Probe);
    /// assert_eq!(
    ///     *seen.lock().unwrap(),
    ///     [
    ///         Cause::Manual,
    ///         Cause::Manual,
    ///         Cause::Remote(Reason::Counted),
    ///         Cause::Remote(Reason::Probe),
    ///     ]
    /// );
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub fn cause(&self) -> Cause {
        self.cause
    }
}

/// `circuit "payments": closed -> open (5 failures; the breaker's own calls)`: the name, the
/// states, the failure count after the transition and its [cause](Transition::cause).
impl fmt::Display for Transition<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "circuit {:?}: {} -> {} ({} failures; {})",
            self.name, self.from, self.to, self.failures, self.cause
        )
    }
}

/// A state-change listener, owned by its breaker alone.
pub(crate) type Listener = Box<dyn Fn(&Transition<'_>) + Send + Sync>;

/// What the breaker counted, from [`CircuitBreaker::metrics`](crate::CircuitBreaker::metrics).
///
/// ```
/// use async_breaker::CircuitBreaker;
///
/// let breaker = CircuitBreaker::builder().failure_threshold(1).metrics().build()?;
/// let _ = breaker.call(|| Ok::<_, ()>(()));
/// let _ = breaker.call(|| Err::<(), _>(()));
/// let _ = breaker.call(|| Ok::<_, ()>(()));
/// let m = breaker.metrics().unwrap();
/// assert_eq!((m.admitted, m.succeeded, m.failed, m.rejected, m.opened), (2, 1, 1, 1, 1));
/// # Ok::<(), async_breaker::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Calls admitted (closed-state calls and probes).
    pub admitted: u64,
    /// Calls rejected because the breaker was open or a probe was in flight.
    pub rejected: u64,
    /// Outcomes recorded as successes (including errors the classifier did not count).
    pub succeeded: u64,
    /// Outcomes recorded as failures, slow ones included.
    pub failed: u64,
    /// Of the [`failed`](Self::failed), the successes recorded as failures because they lasted
    /// at least the [slow-call threshold](crate::Builder::slow_call_threshold). The `metrics`
    /// facade exports these under `outcome="slow"` rather than `outcome="failure"`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_breaker::{CircuitBreaker, ManualClock};
    ///
    /// let clock = ManualClock::new();
    /// let breaker = CircuitBreaker::builder()
    ///     .slow_call_threshold(Duration::from_secs(1))
    ///     .clock(clock.clone())
    ///     .metrics()
    ///     .build()?;
    /// let _ = breaker.call(|| {
    ///     clock.advance(Duration::from_secs(2));
    ///     Ok::<_, ()>(())
    /// });
    /// let _ = breaker.call(|| Err::<(), _>(()));
    /// let m = breaker.metrics().unwrap();
    /// assert_eq!((m.succeeded, m.failed, m.slow), (0, 2, 1));
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub slow: u64,
    /// Admitted calls that ended with no outcome: dropped, cancelled or ignored.
    pub ignored: u64,
    /// Outcomes discarded because they belonged to an earlier cycle or a replaced probe.
    pub discarded: u64,
    /// Transitions to open (from closed, or from half-open when a probe failed).
    pub opened: u64,
    /// Transitions from open to half-open (a probe admitted).
    pub half_opened: u64,
    /// Transitions to closed (a probe succeeded, or a manual reset).
    pub closed: u64,
    /// Manual transitions to forced-open or disabled.
    pub manual: u64,
}

/// Counters, on their own cache lines, away from the state word.
#[derive(Default)]
pub(crate) struct Metrics {
    counters: CachePadded<[AtomicU64; 11]>,
}

#[derive(Clone, Copy)]
pub(crate) enum Counter {
    Admitted = 0,
    Rejected,
    Succeeded,
    Failed,
    Ignored,
    Discarded,
    Opened,
    HalfOpened,
    Closed,
    Manual,
    /// A success recorded as a failure for its duration: counted as failed and as slow.
    Slow,
}

impl Metrics {
    pub(crate) fn add(&self, counter: Counter) {
        if let Counter::Slow = counter {
            self.counters[Counter::Failed as usize].fetch_add(1, Ordering::Relaxed);
        }
        self.counters[counter as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        let get = |c: Counter| self.counters[c as usize].load(Ordering::Relaxed);
        MetricsSnapshot {
            admitted: get(Counter::Admitted),
            rejected: get(Counter::Rejected),
            succeeded: get(Counter::Succeeded),
            failed: get(Counter::Failed),
            ignored: get(Counter::Ignored),
            discarded: get(Counter::Discarded),
            opened: get(Counter::Opened),
            half_opened: get(Counter::HalfOpened),
            closed: get(Counter::Closed),
            manual: get(Counter::Manual),
            slow: get(Counter::Slow),
        }
    }
}

/// The slow successes among the failures a breaker with slow-call detection counts now: raised
/// by a slow success counted as a failure, cleared whenever the word's failure count goes back
/// to zero (a success, a close, a reset). Display data for rejections and events, never a
/// decision input, so `Relaxed`; under concurrent calls it may be briefly off by the calls in
/// flight, and it is read capped at the word's failure count.
#[derive(Debug, Default)]
pub(crate) struct SlowFailures(AtomicU32);

impl SlowFailures {
    /// One more slow failure counted.
    pub(crate) fn add(&self) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_add(1));
    }

    /// The word's failure count is back to zero.
    pub(crate) fn clear(&self) {
        if self.0.load(Ordering::Relaxed) != 0 {
            self.0.store(0, Ordering::Relaxed);
        }
    }

    /// The slow ones among `failures` counted now.
    pub(crate) fn among(&self, failures: u32) -> u32 {
        self.0.load(Ordering::Relaxed).min(failures)
    }
}

/// The optional parts of one breaker (observers and a failure-rate window), boxed so that a
/// breaker without any stays small and its hot path never looks further than this pointer.
#[derive(Default)]
pub(crate) struct Hooks {
    pub(crate) listener: Option<Listener>,
    pub(crate) metrics: Option<Metrics>,
    pub(crate) window: Option<crate::window::Window>,
    pub(crate) rounds: Option<crate::probes::Rounds>,
    /// With slow-call detection ([`Builder::slow_call_threshold`](crate::Builder::slow_call_threshold)):
    /// how many of the failures the word counts now were slow successes.
    pub(crate) slow: Option<SlowFailures>,
    /// Reporting through the `metrics` facade.
    #[cfg(feature = "metrics")]
    pub(crate) export: crate::export::Export,
}

impl Hooks {
    /// Whether there is nothing here: then the breaker keeps no hooks at all.
    pub(crate) fn is_empty(&self) -> bool {
        #[cfg(feature = "metrics")]
        if self.export.is_on() {
            return false;
        }
        self.listener.is_none()
            && self.metrics.is_none()
            && self.window.is_none()
            && self.rounds.is_none()
            && self.slow.is_none()
    }

    /// How many of the `failures` the word counts now were slow: 0 without slow-call detection.
    pub(crate) fn slow(&self, failures: u32) -> u32 {
        self.slow.as_ref().map_or(0, |slow| slow.among(failures))
    }

    pub(crate) fn count(&self, counter: Counter) {
        if let Some(metrics) = &self.metrics {
            metrics.add(counter);
        }
        #[cfg(feature = "metrics")]
        self.export.count(counter);
    }

    /// Counts a transition and tells the listener, swallowing a listener's panic.
    pub(crate) fn transition(&self, transition: &Transition<'_>) {
        let counter = match transition.to {
            State::Open => Counter::Opened,
            State::HalfOpen => Counter::HalfOpened,
            State::Closed => Counter::Closed,
            State::ForcedOpen | State::Disabled => Counter::Manual,
        };
        self.count(counter);
        #[cfg(feature = "metrics")]
        self.export
            .transition(transition.from, transition.to, transition.cause);
        if let Some(listener) = &self.listener {
            // The new state is already installed; a panicking listener can only lose its own
            // work, so it is contained here rather than unwinding into the caller's call path
            // (which may be a `Drop`). Without `std` there is no unwinding to catch.
            #[cfg(feature = "std")]
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| listener(transition)));
            #[cfg(not(feature = "std"))]
            listener(transition);
        }
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut hooks = f.debug_struct("Hooks");
        hooks
            .field("listener", &self.listener.is_some())
            .field("metrics", &self.metrics.as_ref().map(Metrics::snapshot))
            .field("failure_rate_window", &self.window.is_some())
            .field("several_probes", &self.rounds.is_some())
            .field(
                "slow_failures",
                &self.slow.as_ref().map(|slow| slow.among(u32::MAX)),
            );
        #[cfg(feature = "metrics")]
        hooks.field("export_metrics", &self.export.is_on());
        hooks.finish()
    }
}
