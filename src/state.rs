//! The state a breaker reports to its readers.

use core::fmt;

/// Where a breaker is in its cycle, as reported by [`CircuitBreaker::state`].
///
/// `HalfOpen` is reported as soon as the recovery timeout has elapsed, whether or not a probe
/// has been admitted yet; the next caller becomes the probe.
///
/// ```
/// use async_breaker::{CircuitBreaker, State};
///
/// let breaker = CircuitBreaker::new();
/// assert_eq!(breaker.state(), State::Closed);
/// assert_eq!(State::HalfOpen.to_string(), "half-open");
/// ```
///
/// [`CircuitBreaker::state`]: crate::CircuitBreaker::state
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Every call is admitted; consecutive failures are counted.
    Closed,
    /// Calls are rejected until the recovery timeout has elapsed.
    Open,
    /// The recovery timeout has elapsed: one probe call is admitted (or is in flight) and its
    /// outcome closes or re-opens the breaker. Everyone else is rejected meanwhile.
    HalfOpen,
    /// Forced open by [`CircuitBreaker::force_open`](crate::CircuitBreaker::force_open): every
    /// call is rejected until [`reset`](crate::CircuitBreaker::reset).
    ForcedOpen,
    /// Disabled by [`CircuitBreaker::disable`](crate::CircuitBreaker::disable): every call is
    /// admitted and nothing is recorded until [`reset`](crate::CircuitBreaker::reset).
    Disabled,
}

impl State {
    /// The lower-case name used by `Display`: `closed`, `open` or `half-open`.
    ///
    /// ```
    /// assert_eq!(async_breaker::State::Open.as_str(), "open");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half-open",
            State::ForcedOpen => "forced-open",
            State::Disabled => "disabled",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}
