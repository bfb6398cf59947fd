//! Time sources: the [`Clock`] trait, the default [`QuantaClock`] and the test-friendly
//! [`ManualClock`].

use core::fmt;
use core::time::Duration;

use crate::sync::{Arc, AtomicU64, Ordering};

/// A monotonic time source for a breaker.
///
/// `now` returns the time elapsed since a fixed origin of the clock's choosing. The breaker keeps
/// millisecond resolution. A clock that steps backwards is tolerated: the breaker never lets its
/// own notion of time run backwards, so an open period simply resumes once the clock passes the
/// moment it was recorded at again. Nothing panics and nothing overflows, however large the
/// readings.
///
/// ```
/// use std::time::{Duration, Instant};
/// use async_breaker::{CircuitBreaker, Clock};
///
/// /// Time since this clock was made, from `std::time::Instant`.
/// struct StdClock(Instant);
///
/// impl Clock for StdClock {
///     fn now(&self) -> Duration {
///         self.0.elapsed()
///     }
/// }
///
/// let breaker = CircuitBreaker::builder().clock(StdClock(Instant::now())).build()?;
/// # Ok::<(), async_breaker::ConfigError>(())
/// ```
pub trait Clock: Send + Sync + 'static {
    /// Time elapsed since this clock's origin.
    fn now(&self) -> Duration;
}

/// The default clock: [`quanta`]'s calibrated TSC-based monotonic clock (falling back to the OS
/// monotonic clock where there is no usable TSC). Reading it costs a few nanoseconds and no
/// system call. Needs the `std` feature.
///
/// A breaker built without [`Builder::clock`](crate::Builder::clock) reads one such clock
/// shared by the whole process, made by the first breaker that needs it, so building a breaker
/// does not set up a clock. `QuantaClock::new` makes a clock of its own (detecting the counter
/// costs microseconds, on a virtual machine more), with its origin at that moment.
///
/// ```
/// use async_breaker::{Clock, QuantaClock};
///
/// let clock = QuantaClock::new();
/// let a = clock.now();
/// assert!(clock.now() >= a);
/// ```
#[cfg(feature = "std")]
#[derive(Clone)]
pub struct QuantaClock {
    clock: quanta::Clock,
    origin: u64,
}

#[cfg(feature = "std")]
impl QuantaClock {
    /// A clock whose origin is now.
    pub fn new() -> QuantaClock {
        let clock = quanta::Clock::new();
        let origin = clock.raw();
        QuantaClock { clock, origin }
    }

    /// The process-wide clock of every breaker built without a clock of its own: made on first
    /// use, so its origin is the moment the first such breaker was built. All of them read
    /// milliseconds from that one origin, which is far within the word's 42-bit stamps.
    pub(crate) fn shared() -> &'static QuantaClock {
        static SHARED: std::sync::OnceLock<QuantaClock> = std::sync::OnceLock::new();
        SHARED.get_or_init(QuantaClock::new)
    }

    /// Milliseconds since the origin, the breaker's own unit.
    #[inline]
    pub(crate) fn now_ms(&self) -> u64 {
        self.clock.delta_as_nanos(self.origin, self.clock.raw()) / 1_000_000
    }
}

#[cfg(feature = "std")]
impl Default for QuantaClock {
    fn default() -> QuantaClock {
        QuantaClock::new()
    }
}

#[cfg(feature = "std")]
impl Clock for QuantaClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.clock.delta_as_nanos(self.origin, self.clock.raw()))
    }
}

#[cfg(feature = "std")]
impl fmt::Debug for QuantaClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuantaClock")
            .field("now", &self.now())
            .finish()
    }
}

/// A clock that moves only when told to: for deterministic tests of code that uses a breaker.
///
/// Clones share one time, so a test keeps a clone and advances it while the breaker reads it.
/// It starts at zero. [`set`](ManualClock::set) may move it backwards, to test how code copes
/// with a clock that steps back.
///
/// ```
/// use std::time::Duration;
/// use async_breaker::{CircuitBreaker, ManualClock, State};
///
/// let clock = ManualClock::new();
/// let breaker = CircuitBreaker::builder()
///     .failure_threshold(1)
///     .recovery_timeout(Duration::from_secs(30))
///     .clock(clock.clone())
///     .build()?;
///
/// let _ = breaker.call(|| Err::<(), _>("boom"));
/// assert_eq!(breaker.state(), State::Open);
/// clock.advance(Duration::from_secs(30));
/// assert_eq!(breaker.state(), State::HalfOpen);
/// # Ok::<(), async_breaker::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock at zero.
    pub fn new() -> ManualClock {
        ManualClock {
            nanos: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Moves the clock forward by `by`, saturating at about 584 years.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use async_breaker::{Clock, ManualClock};
    /// let clock = ManualClock::new();
    /// clock.advance(Duration::from_millis(1_500));
    /// assert_eq!(clock.now(), Duration::from_millis(1_500));
    /// ```
    pub fn advance(&self, by: Duration) {
        let by = duration_nanos(by);
        let mut current = self.nanos.load(Ordering::Acquire);
        loop {
            let next = current.saturating_add(by);
            match self.nanos.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// Sets the clock to `to`, forwards or backwards.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use async_breaker::{Clock, ManualClock};
    /// let clock = ManualClock::new();
    /// clock.set(Duration::from_secs(10));
    /// clock.set(Duration::from_secs(4));
    /// assert_eq!(clock.now(), Duration::from_secs(4));
    /// ```
    pub fn set(&self, to: Duration) {
        self.nanos.store(duration_nanos(to), Ordering::Release);
    }
}

impl Default for ManualClock {
    fn default() -> ManualClock {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Acquire))
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now", &self.now())
            .finish()
    }
}

/// Whole nanoseconds in `d`, saturating at `u64::MAX`.
fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Whole milliseconds in `d`, saturating at `u64::MAX`.
pub(crate) fn duration_millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The clock a breaker reads: the process-wide default ([`QuantaClock::shared`]), or any other,
/// owned by the breaker in a `Box` (a `Box`, not an `Arc`: nothing else holds it, and a `Box`
/// exists on targets without pointer-sized atomics too). 16 bytes either way.
pub(crate) enum TimeSource {
    #[cfg(feature = "std")]
    Quanta(&'static QuantaClock),
    Custom(alloc::boxed::Box<dyn Clock>),
}

impl TimeSource {
    #[inline]
    pub(crate) fn now_ms(&self) -> u64 {
        match self {
            #[cfg(feature = "std")]
            TimeSource::Quanta(clock) => clock.now_ms(),
            TimeSource::Custom(clock) => duration_millis(clock.now()),
        }
    }
}

impl fmt::Debug for TimeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(feature = "std")]
            TimeSource::Quanta(clock) => clock.fmt(f),
            TimeSource::Custom(clock) => f
                .debug_struct("CustomClock")
                .field("now", &clock.now())
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_source_is_two_words() {
        assert_eq!(core::mem::size_of::<TimeSource>(), 16);
    }

    #[cfg(feature = "std")]
    #[test]
    fn the_default_clock_is_made_once_and_shared() {
        let (a, b) = (QuantaClock::shared(), QuantaClock::shared());
        assert!(core::ptr::eq(a, b));
        let earlier = a.now_ms();
        assert!(TimeSource::Quanta(b).now_ms() >= earlier);
    }
}
