//! What a guarded call returns when it fails: the rejection [`OpenError`] and the wrapper
//! [`Error`].

use alloc::borrow::Cow;
use core::error::Error as StdError;
use core::fmt;
use core::time::Duration;

use crate::cause::Reason;
use crate::names::Name;
use crate::word::Refusal;
use crate::State;

/// How the facts of a rejection share one `u64`: the time remaining in the low 42 bits (the
/// breaker's whole time range, [`MAX_RECOVERY_TIMEOUT`](crate::MAX_RECOVERY_TIMEOUT)), then
/// the failure count in 19 bits (more than
/// [`MAX_FAILURE_THRESHOLD`](crate::MAX_FAILURE_THRESHOLD) needs), then the state in 3.
/// Both numbers saturate, so the packing never loses a value the breaker can produce.
///
/// A rejection by a held breaker has state codes of its own (held open, held half-open), and
/// its 19 middle bits hold the hold's [`Reason`] instead of a count ([`Reason::packed`]: the
/// kind, and a quorum's counts saturating at 255).
///
/// Any other rejection keeps the failure count in the low 16 of the middle bits (the word's
/// whole range) and how many of those failures were slow ([`OpenError::slow`]) in the other 3
/// and, when needed, in the time's high bits: the top middle bit says the time field is split.
/// Unsplit, the slow count is the next 2 bits (0 to 3) and the time has all 42. Split, the time
/// has the low 29 bits (up to about 6.2 days) and the slow count is those 2 bits below the
/// time field's top 13 (up to 32 767). A count that fits neither reads as the most it can
/// (3 when more than 2²⁹ ms remain, else 32 767): the time is never the one to lose a value.
mod facts {
    use crate::cause::Reason;
    use crate::State;

    const REMAINING_BITS: u32 = 42;
    const FAILURES_BITS: u32 = 19;
    const STATE_SHIFT: u32 = REMAINING_BITS + FAILURES_BITS;
    pub(super) const REMAINING_MAX: u64 = (1 << REMAINING_BITS) - 1;
    pub(super) const FAILURES_MAX: u32 = (1 << FAILURES_BITS) - 1;
    /// A count's bits in the middle of a rejection that is not held.
    const COUNT_BITS: u32 = 16;
    const COUNT_MAX: u32 = (1 << COUNT_BITS) - 1;
    /// The middle bit that says the time field is split between the time and the slow count.
    const SPLIT: u32 = 1 << (FAILURES_BITS - 1);
    /// The slow count's low bits, between the count and [`SPLIT`].
    const SLOW_LOW_BITS: u32 = FAILURES_BITS - 1 - COUNT_BITS;
    const SLOW_LOW_MAX: u32 = (1 << SLOW_LOW_BITS) - 1;
    /// A split time field: the time in its low bits, the slow count's high bits above.
    const SPLIT_TIME_BITS: u32 = 29;
    const SPLIT_TIME_MAX: u64 = (1 << SPLIT_TIME_BITS) - 1;
    pub(super) const SLOW_MAX: u32 = (1 << (SLOW_LOW_BITS + REMAINING_BITS - SPLIT_TIME_BITS)) - 1;
    /// The state codes of a rejection by a held breaker: the fleet's open period still running,
    /// or over (its probe in flight elsewhere).
    const HELD_OPEN: u64 = 5;
    const HELD_HALF_OPEN: u64 = 6;

    // The packing has room for the word's whole ranges: checked when the crate compiles.
    const _: () = assert!(REMAINING_MAX >= crate::word::STAMP_MAX);
    const _: () = assert!(FAILURES_MAX >= crate::word::COUNT_MAX);
    const _: () = assert!(COUNT_MAX >= crate::word::COUNT_MAX);

    /// The facts of a rejection in `state` after `failures` failures, `slow` of them slow,
    /// with `remaining_ms` until a probe.
    #[inline]
    pub(super) fn pack(state: State, failures: u32, remaining_ms: u64, slow: u32) -> u64 {
        let state = match state {
            State::Closed => 0,
            State::Open => 1,
            State::HalfOpen => 2,
            State::ForcedOpen => 3,
            State::Disabled => 4,
        };
        let remaining_ms = remaining_ms.min(REMAINING_MAX);
        let (middle, time) = if slow <= SLOW_LOW_MAX || remaining_ms > SPLIT_TIME_MAX {
            (slow.min(SLOW_LOW_MAX) << COUNT_BITS, remaining_ms)
        } else {
            let slow = slow.min(SLOW_MAX);
            (
                SPLIT | ((slow & SLOW_LOW_MAX) << COUNT_BITS),
                (u64::from(slow >> SLOW_LOW_BITS) << SPLIT_TIME_BITS) | remaining_ms,
            )
        };
        (state << STATE_SHIFT)
            | (u64::from(middle | failures.min(COUNT_MAX)) << REMAINING_BITS)
            | time
    }

    /// The facts of a rejection by a held breaker with `remaining_ms` of the fleet's open
    /// period left, held for the reason packed in `reason` ([`Reason::packed`]).
    #[inline]
    pub(super) fn pack_held(remaining_ms: u64, reason: u32) -> u64 {
        let state = if remaining_ms > 0 {
            HELD_OPEN
        } else {
            HELD_HALF_OPEN
        };
        (state << STATE_SHIFT)
            | (u64::from(reason) << REMAINING_BITS)
            | remaining_ms.min(REMAINING_MAX)
    }

    pub(super) fn state(facts: u64) -> State {
        match facts >> STATE_SHIFT {
            0 => State::Closed,
            1 | HELD_OPEN => State::Open,
            2 | HELD_HALF_OPEN => State::HalfOpen,
            3 => State::ForcedOpen,
            _ => State::Disabled,
        }
    }

    /// Whether the rejection came from a held breaker.
    pub(super) fn held(facts: u64) -> bool {
        matches!(facts >> STATE_SHIFT, HELD_OPEN | HELD_HALF_OPEN)
    }

    /// The 19 middle bits: a count, or a held rejection's reason.
    fn middle(facts: u64) -> u32 {
        // Masked to 19 bits, so the cast keeps every bit.
        #[allow(clippy::cast_possible_truncation)]
        let middle = (facts >> REMAINING_BITS) as u32 & FAILURES_MAX;
        middle
    }

    pub(super) fn failures(facts: u64) -> u32 {
        if held(facts) {
            0
        } else {
            middle(facts) & COUNT_MAX
        }
    }

    /// Whether the time field is split between the time and the slow count.
    fn split(facts: u64) -> bool {
        !held(facts) && middle(facts) & SPLIT != 0
    }

    pub(super) fn slow(facts: u64) -> u32 {
        if held(facts) {
            return 0;
        }
        let low = (middle(facts) >> COUNT_BITS) & SLOW_LOW_MAX;
        if split(facts) {
            // Masked to 13 bits, so the cast keeps every bit.
            #[allow(clippy::cast_possible_truncation)]
            let high = ((facts & REMAINING_MAX) >> SPLIT_TIME_BITS) as u32;
            (high << SLOW_LOW_BITS) | low
        } else {
            low
        }
    }

    pub(super) fn remote(facts: u64) -> Option<Reason> {
        held(facts).then(|| Reason::unpacked(middle(facts)))
    }

    pub(super) fn remaining_ms(facts: u64) -> u64 {
        if split(facts) {
            facts & SPLIT_TIME_MAX
        } else {
            facts & REMAINING_MAX
        }
    }
}

/// A call was rejected because the breaker is open, or half-open with its one probe in flight.
///
/// It carries the facts the Python original prints: the breaker's name, the failure count and
/// the time until a probe may be admitted. A breaker held open by a remote coordinator (the
/// fleet, see [`remote`](crate::remote)) says so, and why ([`remote`](Self::remote)), in
/// place of the failure count. It is small and made of plain values (the name is a
/// handle, read only when asked for, see [`name`](Self::name)): making one never allocates and
/// writes no memory shared with other threads, so rejecting calls scales with the cores
/// rejecting them. The message is only formatted when it is displayed.
///
/// ```
/// use std::time::Duration;
/// use async_breaker::{CircuitBreaker, ManualClock, State};
///
/// let clock = ManualClock::new();
/// let breaker = CircuitBreaker::builder()
///     .name("payments")
///     .failure_threshold(1)
///     .recovery_timeout(Duration::from_secs(30))
///     .clock(clock.clone())
///     .build()?;
/// let _ = breaker.call(|| Err::<(), _>("boom"));
/// clock.advance(Duration::from_secs(1));
///
/// let rejected = breaker.try_acquire().unwrap_err();
/// assert_eq!(rejected.name(), "payments");
/// assert_eq!(rejected.state(), State::Open);
/// assert_eq!(rejected.failures(), 1);
/// assert_eq!(rejected.remaining(), Duration::from_secs(29));
/// assert_eq!(rejected.to_string(), r#"circuit "payments" is open (1 failure, 29s remaining)"#);
/// # Ok::<(), async_breaker::ConfigError>(())
/// ```
#[derive(Clone, Copy)]
pub struct OpenError {
    name: Name,
    /// State, failure count and time remaining, packed (see `facts`): with the name, two words,
    /// which a function returns in two registers.
    facts: u64,
}

impl OpenError {
    /// The rejection of a caller the rules of the word turned away, `slow` of whose failures
    /// were slow: the one place a rejection is made.
    #[inline]
    pub(crate) fn refused(name: Name, refusal: Refusal, slow: u32) -> OpenError {
        OpenError {
            name,
            facts: facts::pack(
                refusal.state(),
                refusal.failures,
                refusal.remaining_ms,
                slow,
            ),
        }
    }

    /// The rejection of a caller by a held breaker with `remaining_ms` of the fleet's open
    /// period left, held for `reason`.
    #[inline]
    #[cfg(test)]
    pub(crate) fn held(name: Name, remaining_ms: u64, reason: Reason) -> OpenError {
        OpenError::held_packed(name, remaining_ms, reason.packed())
    }

    /// [`held`](Self::held) with the reason as [`Reason::packed`] bits, as the breaker keeps
    /// it: no decoding and encoding again on the rejection path.
    #[inline]
    pub(crate) fn held_packed(name: Name, remaining_ms: u64, reason: u32) -> OpenError {
        OpenError {
            name,
            facts: facts::pack_held(remaining_ms, reason),
        }
    }

    /// The name of the breaker that rejected the call: borrowed if it was named with a
    /// `&'static str`, a copy if it was named at run time (the rejection itself carries only a
    /// handle, see [`Builder::name`](crate::Builder::name)). A rejection kept after every
    /// breaker with its name was dropped reads `<dropped breaker>`.
    ///
    /// ```
    /// let breaker = async_breaker::CircuitBreaker::builder()
    ///     .name(format!("upstream-{}", "db-1"))
    ///     .failure_threshold(1)
    ///     .build()?;
    /// let _ = breaker.call(|| Err::<(), _>("down"));
    /// let rejected = breaker.try_acquire().unwrap_err();
    /// assert_eq!(rejected.name(), "upstream-db-1");
    /// drop(breaker);
    /// assert_eq!(rejected.name(), "<dropped breaker>");
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub fn name(&self) -> Cow<'static, str> {
        self.name.text()
    }

    /// [`State::Open`], [`State::HalfOpen`] when another caller's probe is in flight, or
    /// [`State::ForcedOpen`]. A held breaker is open while the fleet's open period runs, and
    /// half-open once it is over (the fleet's probe is in flight on another replica).
    pub fn state(&self) -> State {
        facts::state(self.facts)
    }

    /// The breaker's consecutive-failure count when it rejected the call. 0 for a rejection
    /// by a held breaker ([`remote`](Self::remote) is `Some`): the local count is not what
    /// turned the call away, the fleet is.
    pub fn failures(&self) -> u32 {
        facts::failures(self.facts)
    }

    /// How many of the [`failures`](Self::failures) were slow: successes that lasted at least
    /// the [slow-call threshold](crate::Builder::slow_call_threshold). These are the slow ones
    /// among the consecutive failures the breaker has counted since its count last went back to
    /// zero (a success, a close or a reset), so for a breaker opened by its consecutive count,
    /// the slow ones among the failures that opened it. 0 without a slow-call threshold and for
    /// a rejection by a held breaker. Under concurrent calls the count is display data, read
    /// without ordering against the failure count (never above it), so it may briefly miss a
    /// call still settling. Kept up to 32 767, and up to 3 while more than about 6.2 days
    /// (2²⁹ ms) remain: past that it reads as the most it can (the rejection stays two words).
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_breaker::{CircuitBreaker, ManualClock};
    ///
    /// let clock = ManualClock::new();
    /// let breaker = CircuitBreaker::builder()
    ///     .name("search")
    ///     .failure_threshold(3)
    ///     .slow_call_threshold(Duration::from_millis(500))
    ///     .clock(clock.clone())
    ///     .build()?;
    /// let _ = breaker.call(|| Err::<(), _>("down"));
    /// for _ in 0..2 {
    ///     let _ = breaker.call(|| {
    ///         clock.advance(Duration::from_millis(600));
    ///         Ok::<_, ()>(())
    ///     });
    /// }
    /// let rejected = breaker.try_acquire().unwrap_err();
    /// assert_eq!((rejected.failures(), rejected.slow()), (3, 2));
    /// assert_eq!(
    ///     rejected.to_string(),
    ///     r#"circuit "search" is open (3 failures, 2 slow, 30s remaining)"#
    /// );
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub fn slow(&self) -> u32 {
        facts::slow(self.facts)
    }

    /// Time until the breaker admits a probe; zero while a probe is already in flight. For a
    /// held breaker: what is left of the fleet's open period.
    pub fn remaining(&self) -> Duration {
        Duration::from_millis(facts::remaining_ms(self.facts))
    }

    /// Why the fleet holds the breaker, if a breaker held by a remote coordinator rejected the
    /// call ([`Remote::hold_because`](crate::remote::Remote::hold_because)); `None` for every
    /// other rejection. A [`Reason::Quorum`]'s counts are kept up to 255 each: larger counts
    /// read as 255 here (the rejection stays two words).
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_breaker::{CircuitBreaker, Reason};
    ///
    /// let breaker = CircuitBreaker::builder().failure_threshold(1).build()?;
    /// let _ = breaker.call(|| Err::<(), _>("down"));
    /// assert_eq!(breaker.try_acquire().unwrap_err().remote(), None); // open on its own
    ///
    /// let quorum = Reason::Quorum { tripped: 300, live: 1_000 };
    /// breaker.remote().hold_because(Duration::from_secs(9), 0, quorum);
    /// let rejected = breaker.try_acquire().unwrap_err();
    /// assert_eq!(rejected.remote(), Some(Reason::Quorum { tripped: 255, live: 255 }));
    /// assert_eq!(rejected.failures(), 0);
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub fn remote(&self) -> Option<Reason> {
        facts::remote(self.facts)
    }
}

impl fmt::Debug for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let OpenError { name, facts: _ } = *self;
        let mut shown = f.debug_struct("OpenError");
        shown
            .field("name", &name)
            .field("state", &self.state())
            .field("failures", &self.failures())
            .field("remaining", &self.remaining());
        if let Some(reason) = self.remote() {
            shown.field("remote", &reason);
        }
        let slow = self.slow();
        if slow > 0 {
            shown.field("slow", &slow);
        }
        shown.finish()
    }
}

impl PartialEq for OpenError {
    fn eq(&self, other: &OpenError) -> bool {
        self.facts == other.facts && (self.name == other.name || self.name() == other.name())
    }
}

impl Eq for OpenError {}

/// `circuit "payments" is open (5 failures, 29s remaining)` (`(5 failures, 2 slow, 29s
/// remaining)` when some were [slow](OpenError::slow)), or for a breaker the fleet holds,
/// `circuit "payments" is open, held by the fleet (3 of 8 replicas tripped, 29s remaining)`
/// and, once the fleet's open period is over,
/// `circuit "payments" is half-open, held by the fleet (probe in flight on another replica)`.
impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        write!(f, "circuit {:?} is {state}", self.name)?;
        if let Some(reason) = self.remote() {
            f.write_str(", held by the fleet (")?;
            if state == State::HalfOpen {
                return f.write_str("probe in flight on another replica)");
            }
            match reason {
                Reason::Quorum { tripped, live } => {
                    let plural = if live == 1 { "" } else { "s" };
                    write!(f, "{tripped} of {live} replica{plural} tripped, ")?;
                }
                Reason::Counted => {
                    f.write_str("failures counted across replicas reached the threshold, ")?;
                }
                Reason::Probe => f.write_str("its probe failed, ")?,
                Reason::Released => f.write_str("its server unreachable, ")?,
                Reason::Sync => {}
            }
        } else {
            let failures = self.failures();
            let plural = if failures == 1 { "" } else { "s" };
            write!(f, " ({failures} failure{plural}, ")?;
            let slow = self.slow();
            if slow > 0 {
                write!(f, "{slow} slow, ")?;
            }
            match state {
                State::HalfOpen => return f.write_str("probe in flight)"),
                State::ForcedOpen => return f.write_str("until reset)"),
                _ => {}
            }
        }
        let ms = facts::remaining_ms(self.facts);
        if ms >= 1_000 {
            // Whole seconds, rounded up while any time remains, as the original prints them.
            write!(f, "{}s remaining)", ms.div_ceil(1_000))
        } else {
            write!(f, "{ms}ms remaining)")
        }
    }
}

impl StdError for OpenError {}

/// A rejection as an `io::Error` of kind `Other` with the [`OpenError`] inside, so code that
/// returns `io::Result` (and functions under `#[circuit]`) can use `?` on it.
///
/// ```
/// let breaker = async_breaker::CircuitBreaker::builder().failure_threshold(1).build().unwrap();
/// let _ = breaker.call(|| Err::<(), _>("down"));
/// let io: std::io::Error = breaker.try_acquire().unwrap_err().into();
/// assert!(io.get_ref().unwrap().is::<async_breaker::OpenError>());
/// ```
#[cfg(feature = "std")]
impl From<OpenError> for std::io::Error {
    fn from(open: OpenError) -> std::io::Error {
        std::io::Error::other(open)
    }
}

/// The error of a guarded call: rejected by the breaker, or the call's own error.
///
/// ```
/// use async_breaker::{CircuitBreaker, Error};
///
/// let breaker = CircuitBreaker::new();
/// match breaker.call(|| "42".parse::<u32>()) {
///     Ok(n) => assert_eq!(n, 42),
///     Err(Error::Open(rejected)) => panic!("rejected: {rejected}"),
///     Err(Error::Inner(e)) => panic!("the call failed: {e}"),
/// }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum Error<E> {
    /// The breaker turned the call away; the guarded work did not run.
    Open(OpenError),
    /// The guarded work ran and returned this error.
    Inner(E),
}

impl<E> Error<E> {
    /// Whether the breaker rejected the call.
    ///
    /// ```
    /// # use async_breaker::Error;
    /// assert!(!Error::Inner("x").is_open());
    /// ```
    pub fn is_open(&self) -> bool {
        matches!(self, Error::Open(_))
    }

    /// Whether the guarded work ran and failed.
    ///
    /// ```
    /// # use async_breaker::Error;
    /// assert!(Error::Inner("x").is_inner());
    /// ```
    pub fn is_inner(&self) -> bool {
        matches!(self, Error::Inner(_))
    }

    /// The rejection, if the breaker turned the call away.
    ///
    /// ```
    /// # use async_breaker::Error;
    /// assert!(Error::Inner("x").open_error().is_none());
    /// ```
    pub fn open_error(&self) -> Option<&OpenError> {
        match self {
            Error::Open(open) => Some(open),
            Error::Inner(_) => None,
        }
    }

    /// The call's own error, by reference.
    ///
    /// ```
    /// # use async_breaker::Error;
    /// assert_eq!(Error::Inner("x").inner(), Some(&"x"));
    /// ```
    pub fn inner(&self) -> Option<&E> {
        match self {
            Error::Inner(e) => Some(e),
            Error::Open(_) => None,
        }
    }

    /// The call's own error, if the work ran.
    ///
    /// ```
    /// # use async_breaker::Error;
    /// assert_eq!(Error::Inner("x").into_inner(), Some("x"));
    /// ```
    pub fn into_inner(self) -> Option<E> {
        match self {
            Error::Inner(e) => Some(e),
            Error::Open(_) => None,
        }
    }

    /// Maps the call's own error, keeping a rejection as it is.
    ///
    /// ```
    /// # use async_breaker::Error;
    /// assert_eq!(Error::Inner(2).map_inner(|n| n * 2).into_inner(), Some(4));
    /// ```
    pub fn map_inner<F, G: FnOnce(E) -> F>(self, f: G) -> Error<F> {
        match self {
            Error::Inner(e) => Error::Inner(f(e)),
            Error::Open(open) => Error::Open(open),
        }
    }
}

impl<E> From<OpenError> for Error<E> {
    fn from(open: OpenError) -> Error<E> {
        Error::Open(open)
    }
}

impl<E: fmt::Debug> fmt::Debug for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Open(open) => f.debug_tuple("Open").field(open).finish(),
            Error::Inner(e) => f.debug_tuple("Inner").field(e).finish(),
        }
    }
}

/// `Error` is transparent: [`Error::Open`] displays as its [`OpenError`], and [`Error::Inner`]
/// displays exactly as the call's own error, with no text of its own. See the
/// [`std::error::Error`](#impl-Error-for-Error%3CE%3E) implementation for the chain.
impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Open(open) => open.fmt(f),
            Error::Inner(e) => e.fmt(f),
        }
    }
}

/// Transparent, like `#[error(transparent)]`: [`Error::Inner`] forwards both `Display` and
/// `source()` to the call's own error, so a reporter walking the chain (anyhow's `{:#}`,
/// `eyre`, a logger) prints each message once, exactly as if there were no breaker in
/// between. The call's own error is reached with [`Error::inner`] or
/// [`Error::into_inner`], not through `source()`. A rejection is a root cause: it has no
/// source.
///
/// ```
/// use std::error::Error as _;
/// use std::fmt;
///
/// #[derive(Debug)]
/// struct Timeout;
/// impl fmt::Display for Timeout {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         f.write_str("timed out")
///     }
/// }
/// impl std::error::Error for Timeout {}
///
/// #[derive(Debug)]
/// struct Fetch(Timeout);
/// impl fmt::Display for Fetch {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         f.write_str("fetching the price failed")
///     }
/// }
/// impl std::error::Error for Fetch {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
///         Some(&self.0)
///     }
/// }
///
/// let e = async_breaker::Error::Inner(Fetch(Timeout));
/// assert_eq!(e.to_string(), "fetching the price failed");
/// // The chain goes on with the inner error's own source, once.
/// assert_eq!(e.source().unwrap().to_string(), "timed out");
/// assert!(e.source().unwrap().source().is_none());
/// assert!(e.inner().is_some());
/// ```
impl<E: StdError> StdError for Error<E> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Error::Open(_) => None,
            Error::Inner(e) => e.source(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{facts, OpenError, Refusal};
    use crate::cause::Reason;
    use crate::names::Name;
    use crate::word::{Phase, COUNT_MAX, STAMP_MAX};
    use crate::State;
    use alloc::string::ToString;
    use core::time::Duration;

    #[test]
    fn a_rejection_is_two_words() {
        assert_eq!(core::mem::size_of::<OpenError>(), 16);
        assert_eq!(
            core::mem::size_of::<Result<crate::word::Ticket, OpenError>>(),
            16
        );
    }

    #[test]
    fn the_packed_facts_keep_every_value_the_breaker_makes() {
        for phase in [Phase::Open, Phase::Probing, Phase::ForcedOpen] {
            for failures in [0, 1, 4_242, COUNT_MAX] {
                for remaining_ms in [0, 1, 999, (1 << 29) - 1, 1 << 29, 1 << 41, STAMP_MAX] {
                    for slow in [0, 1, 3, 4, 5, 2_000, facts::SLOW_MAX, COUNT_MAX] {
                        let slow = slow.min(failures);
                        let rejected = OpenError::refused(
                            Name::UNNAMED,
                            Refusal {
                                phase,
                                failures,
                                remaining_ms,
                            },
                            slow,
                        );
                        assert_eq!(rejected.state(), phase.state());
                        assert_eq!(rejected.failures(), failures);
                        assert_eq!(rejected.remaining(), Duration::from_millis(remaining_ms));
                        assert_eq!(rejected.name(), "unnamed");
                        assert_eq!(rejected.remote(), None);
                        // Exact up to the documented limits, the most it can be past them.
                        let kept = if remaining_ms < 1 << 29 {
                            slow.min(facts::SLOW_MAX)
                        } else {
                            slow.min(3)
                        };
                        assert_eq!(rejected.slow(), kept, "{failures} {remaining_ms} {slow}");
                    }
                }
            }
        }
        for state in [
            State::Closed,
            State::Open,
            State::HalfOpen,
            State::ForcedOpen,
            State::Disabled,
        ] {
            for slow in [0, 7, u32::MAX] {
                let packed = facts::pack(state, u32::MAX, u64::MAX, slow);
                assert_eq!(facts::state(packed), state);
                assert_eq!(facts::remote(packed), None);
                assert_eq!(facts::remaining_ms(packed), STAMP_MAX);
                assert_eq!(facts::slow(packed), slow.min(3));
                let packed = facts::pack(state, u32::MAX, 0, slow);
                assert_eq!(facts::failures(packed), COUNT_MAX);
                assert_eq!(facts::slow(packed), slow.min(facts::SLOW_MAX));
                assert_eq!(facts::remaining_ms(packed), 0);
            }
        }
    }

    /// A held rejection keeps its reason (counts saturating at 255) and the time left, reads
    /// as open or half-open, and reports no failures; it is still two words.
    #[test]
    fn a_held_rejection_packs_its_reason_in_place_of_the_count() {
        let reasons = [
            Reason::Quorum {
                tripped: 3,
                live: 8,
            },
            Reason::Quorum {
                tripped: 255,
                live: 255,
            },
            Reason::Counted,
            Reason::Probe,
            Reason::Sync,
            Reason::Released,
        ];
        for reason in reasons {
            for remaining_ms in [0, 1, 999, STAMP_MAX, u64::MAX] {
                let rejected = OpenError::held(Name::UNNAMED, remaining_ms, reason);
                let state = if remaining_ms > 0 {
                    State::Open
                } else {
                    State::HalfOpen
                };
                assert_eq!(rejected.state(), state);
                assert_eq!(rejected.failures(), 0);
                assert_eq!(rejected.remote(), Some(reason));
                assert_eq!(
                    rejected.remaining(),
                    Duration::from_millis(remaining_ms.min(STAMP_MAX))
                );
            }
        }
        let wide = OpenError::held(
            Name::UNNAMED,
            5,
            Reason::Quorum {
                tripped: 1_000,
                live: u16::MAX,
            },
        );
        assert_eq!(
            wide.remote(),
            Some(Reason::Quorum {
                tripped: 255,
                live: 255
            })
        );
        assert_ne!(
            OpenError::held(Name::UNNAMED, 5, Reason::Probe),
            OpenError::held(Name::UNNAMED, 5, Reason::Counted)
        );
    }

    #[test]
    fn a_held_rejection_says_the_fleet_holds_it_and_why() {
        let shown =
            |remaining_ms, reason| OpenError::held(Name::UNNAMED, remaining_ms, reason).to_string();
        let quorum = Reason::Quorum {
            tripped: 3,
            live: 8,
        };
        assert_eq!(
            shown(1_200, quorum),
            r#"circuit "unnamed" is open, held by the fleet (3 of 8 replicas tripped, 2s remaining)"#
        );
        assert_eq!(
            shown(
                40,
                Reason::Quorum {
                    tripped: 1,
                    live: 1
                }
            ),
            r#"circuit "unnamed" is open, held by the fleet (1 of 1 replica tripped, 40ms remaining)"#
        );
        assert_eq!(
            shown(0, quorum),
            r#"circuit "unnamed" is half-open, held by the fleet (probe in flight on another replica)"#
        );
        assert_eq!(
            shown(0, Reason::Probe),
            r#"circuit "unnamed" is half-open, held by the fleet (probe in flight on another replica)"#
        );
        assert_eq!(
            shown(5_000, Reason::Probe),
            r#"circuit "unnamed" is open, held by the fleet (its probe failed, 5s remaining)"#
        );
        assert_eq!(
            shown(5_000, Reason::Counted),
            r#"circuit "unnamed" is open, held by the fleet (failures counted across replicas reached the threshold, 5s remaining)"#
        );
        assert_eq!(
            shown(5_000, Reason::Sync),
            r#"circuit "unnamed" is open, held by the fleet (5s remaining)"#
        );
        assert_eq!(
            shown(5_000, Reason::Released),
            r#"circuit "unnamed" is open, held by the fleet (its server unreachable, 5s remaining)"#
        );
        let debug = format!("{:?}", OpenError::held(Name::UNNAMED, 0, Reason::Probe));
        assert_eq!(
            debug,
            r#"OpenError { name: "unnamed", state: HalfOpen, failures: 0, remaining: 0ns, remote: Probe }"#
        );
    }
}
