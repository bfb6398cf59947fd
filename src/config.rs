//! Configuration: `const` presets ([`Config`]), the [`Builder`], and [`ConfigError`].

use alloc::borrow::Cow;
use alloc::boxed::Box;
use core::time::Duration;

use crate::classify::{AnyError, ErrorType, ErrorTypes};
use crate::clock::{duration_millis, Clock, TimeSource};
use crate::names::Named;
use crate::observe::{Hooks, Metrics, SlowFailures, Transition};
use crate::probes::{HalfOpen, Rounds};
use crate::window::{FailureRate, Window};
use crate::word::{Policy, COUNT_MAX, STAMP_MAX};
use crate::CircuitBreaker;

/// The default number of consecutive failures that opens a breaker: 5, as in the original.
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 5;
/// The default time a breaker stays open before it admits a probe: 30 s, as in the original.
pub const DEFAULT_RECOVERY_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest failure threshold the packed state word holds (65 535).
pub const MAX_FAILURE_THRESHOLD: u32 = COUNT_MAX;
/// The longest recovery timeout the packed state word holds (2⁴² − 1 ms, about 139 years).
pub const MAX_RECOVERY_TIMEOUT: Duration = Duration::from_millis(STAMP_MAX);

/// A configuration value was out of range. Returned by `build()`; nothing is ever silently
/// replaced by a default.
///
/// ```
/// use async_breaker::{CircuitBreaker, ConfigError};
///
/// let err = CircuitBreaker::builder().failure_threshold(0).build().unwrap_err();
/// assert_eq!(err.field(), "failure_threshold");
/// assert!(matches!(err, ConfigError::FailureThreshold { value: 0, .. }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `failure_threshold` was 0 or above [`MAX_FAILURE_THRESHOLD`].
    #[error("failure_threshold must be between 1 and {max}, got {value}")]
    FailureThreshold {
        /// The value given.
        value: u32,
        /// The largest accepted value.
        max: u32,
    },
    /// `recovery_timeout` was below 1 ms (the breaker's resolution) or above
    /// [`MAX_RECOVERY_TIMEOUT`].
    #[error("recovery_timeout must be between 1ms and {max:?}, got {value:?}")]
    RecoveryTimeout {
        /// The value given.
        value: Duration,
        /// The largest accepted value.
        max: Duration,
    },
    /// No clock was given, and there is no default one: without the `std` feature (and in a
    /// build for loom models, `--cfg async_breaker_loom`) the breaker needs a [`Clock`] from
    /// [`Builder::clock`], such as a [`ManualClock`](crate::ManualClock).
    #[error(
        "a clock is required: without the `std` feature, or under `--cfg async_breaker_loom`, \
         there is no default clock (give one with `Builder::clock`, e.g. a `ManualClock`)"
    )]
    MissingClock,
    /// The backoff maximum was below the recovery timeout or above [`MAX_RECOVERY_TIMEOUT`].
    #[error(
        "backoff maximum must be between the recovery_timeout ({min:?}) and {max:?}, got {value:?}"
    )]
    Backoff {
        /// The value given.
        value: Duration,
        /// The smallest accepted value: the recovery timeout.
        min: Duration,
        /// The largest accepted value.
        max: Duration,
    },
    /// The failure-rate window's settings were out of range: a percentage outside 1–100, zero
    /// minimum calls, a count window outside 1–[`MAX_WINDOW_CALLS`](crate::MAX_WINDOW_CALLS)
    /// calls, or a time window outside 1–64 buckets,
    /// longer than [`MAX_RECOVERY_TIMEOUT`], or not splitting into whole milliseconds.
    #[error("failure_rate needs {needs}, got {rate}")]
    FailureRate {
        /// The settings given.
        rate: FailureRate,
        /// What valid settings need, in words: the first rule `rate` breaks.
        needs: &'static str,
    },
    /// The half-open probe counts were out of range: `successes` must be between 1 and
    /// `probes`, and `probes` at most [`MAX_HALF_OPEN_PROBES`](crate::MAX_HALF_OPEN_PROBES).
    #[error("half_open needs 1 <= successes <= probes <= 2047, got {successes} of {probes}")]
    HalfOpen {
        /// The probes given.
        probes: u32,
        /// The successes given.
        successes: u32,
    },
    /// `slow_call_threshold` was below 1 ms or above [`MAX_RECOVERY_TIMEOUT`].
    #[error("slow_call_threshold must be between 1ms and {max:?}, got {value:?}")]
    SlowCallThreshold {
        /// The value given.
        value: Duration,
        /// The largest accepted value.
        max: Duration,
    },
    /// `probe_deadline` was below 1 ms or above [`MAX_RECOVERY_TIMEOUT`].
    #[error("probe_deadline must be between 1ms and {max:?}, got {value:?}")]
    ProbeDeadline {
        /// The value given.
        value: Duration,
        /// The largest accepted value.
        max: Duration,
    },
    /// `slow_call_rate`'s threshold was below 1 ms or above [`MAX_RECOVERY_TIMEOUT`], or its
    /// percentage outside 1–100.
    #[error(
        "slow_call_rate needs a threshold between 1ms and {max:?} and a percentage between 1 \
         and 100, got {threshold:?} and {percent}"
    )]
    SlowCallRate {
        /// The threshold given.
        threshold: Duration,
        /// The percentage given.
        percent: u8,
        /// The longest accepted threshold.
        max: Duration,
    },
}

impl ConfigError {
    /// The name of the offending setting, as the builder method is called.
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_breaker::CircuitBreaker;
    /// let err = CircuitBreaker::builder().recovery_timeout(Duration::ZERO).build().unwrap_err();
    /// assert_eq!(err.field(), "recovery_timeout");
    /// ```
    pub fn field(&self) -> &'static str {
        match self {
            ConfigError::FailureThreshold { .. } => "failure_threshold",
            ConfigError::RecoveryTimeout { .. } => "recovery_timeout",
            ConfigError::ProbeDeadline { .. } => "probe_deadline",
            ConfigError::MissingClock => "clock",
            ConfigError::Backoff { .. } => "backoff",
            ConfigError::SlowCallThreshold { .. } => "slow_call_threshold",
            ConfigError::FailureRate { .. } => "failure_rate",
            ConfigError::HalfOpen { .. } => "half_open",
            ConfigError::SlowCallRate { .. } => "slow_call_rate",
        }
    }
}

/// A breaker configuration that can be written as a `const`: the counterpart of the Python
/// original's subclass constants (`FAILURE_THRESHOLD`, `RECOVERY_TIMEOUT`,
/// `EXPECTED_EXCEPTION`). Build as many breakers from one preset as you like.
///
/// Values are checked when a breaker is built, so an invalid preset is a [`ConfigError`] there,
/// never a panic.
///
/// ```
/// use std::time::Duration;
/// use async_breaker::{CircuitBreaker, Config, ErrorType, ErrorTypes};
///
/// const PAYMENTS: Config<ErrorTypes> = Config::new()
///     .failure_threshold(10)
///     .recovery_timeout(Duration::from_secs(60))
///     .failure_on_types(&[ErrorType::of::<std::io::Error>()]);
///
/// let eu = PAYMENTS.builder().name("payments-eu").build()?;
/// let us = PAYMENTS.builder().name("payments-us").build()?;
/// assert_eq!(eu.failure_threshold(), 10);
/// assert_eq!(us.recovery_timeout(), Duration::from_secs(60));
/// # Ok::<(), async_breaker::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Config<C = AnyError> {
    failure_threshold: u32,
    recovery_timeout: Duration,
    probe_deadline: Option<Duration>,
    backoff: Option<Backoff>,
    slow_call_threshold: Option<Duration>,
    slow_call_rate: Option<(Duration, u8)>,
    failure_rate: Option<FailureRate>,
    half_open: HalfOpen,
    classifier: C,
}

/// How the open period grows while probes keep failing: doubled after each failed probe, up to a
/// maximum, and back to the recovery timeout once the breaker closes. The level lives in the
/// breaker's state word, so there is nothing else to share or lock.
///
/// With [jitter](Backoff::with_jitter), each open period is shortened by a pseudo-random amount
/// of up to half (so it lies between half and all of the computed period), spreading the probes
/// of many breakers that opened together. The amount is derived from the moment the breaker
/// opened, so every reader agrees on it and drawing it takes no lock.
///
/// ```
/// use std::time::Duration;
/// use async_breaker::{Backoff, Config};
///
/// // 1 s, then 2 s, 4 s, ... up to 1 min while probes fail.
/// const GROWING: Config = Config::new()
///     .recovery_timeout(Duration::from_secs(1))
///     .backoff(Backoff::exponential(Duration::from_secs(60)).with_jitter());
/// # let _ = GROWING;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    max: Duration,
    jitter: bool,
}

impl Backoff {
    /// Double the open period after each failed probe (at most 7 times, 128x), never beyond
    /// `max`.
    pub const fn exponential(max: Duration) -> Backoff {
        Backoff { max, jitter: false }
    }

    /// Shorten each open period by a pseudo-random amount of up to half.
    #[must_use]
    pub const fn with_jitter(mut self) -> Backoff {
        self.jitter = true;
        self
    }

    /// The longest open period.
    pub const fn max(&self) -> Duration {
        self.max
    }

    /// Whether jitter is on.
    pub const fn jitter(&self) -> bool {
        self.jitter
    }
}

impl Config<AnyError> {
    /// The original's defaults: 5 consecutive failures, 30 s open, every error counts.
    pub const fn new() -> Config<AnyError> {
        Config {
            failure_threshold: DEFAULT_FAILURE_THRESHOLD,
            recovery_timeout: DEFAULT_RECOVERY_TIMEOUT,
            probe_deadline: None,
            backoff: None,
            slow_call_threshold: None,
            slow_call_rate: None,
            failure_rate: None,
            half_open: HalfOpen::ONE,
            classifier: AnyError,
        }
    }

    /// Count only errors of these types (found through the `source()` chain) as failures.
    ///
    /// ```
    /// use async_breaker::{Config, ErrorType, ErrorTypes};
    /// const IO: Config<ErrorTypes> =
    ///     Config::new().failure_on_types(&[ErrorType::of::<std::io::Error>()]);
    /// # let _ = IO;
    /// ```
    pub const fn failure_on_types(self, types: &'static [ErrorType]) -> Config<ErrorTypes> {
        self.classify_with(ErrorTypes::new(types))
    }

    /// Count an error as a failure when `predicate` returns `true` (a plain `fn`, so the preset
    /// stays `const`).
    ///
    /// ```
    /// use async_breaker::Config;
    /// fn transient(e: &std::io::Error) -> bool {
    ///     e.kind() == std::io::ErrorKind::TimedOut
    /// }
    /// const NET: Config<fn(&std::io::Error) -> bool> = Config::new().failure_if(transient);
    /// # let _ = NET;
    /// ```
    pub const fn failure_if<E>(self, predicate: fn(&E) -> bool) -> Config<fn(&E) -> bool> {
        self.classify_with(predicate)
    }

    /// Use any [`Classify`](crate::Classify) implementation.
    ///
    /// ```
    /// use async_breaker::{AnyError, Config};
    /// const SAME: Config<AnyError> = Config::new().classify_with(AnyError);
    /// # let _ = SAME;
    /// ```
    pub const fn classify_with<C>(self, classifier: C) -> Config<C> {
        Config {
            failure_threshold: self.failure_threshold,
            recovery_timeout: self.recovery_timeout,
            probe_deadline: self.probe_deadline,
            backoff: self.backoff,
            slow_call_threshold: self.slow_call_threshold,
            slow_call_rate: self.slow_call_rate,
            failure_rate: self.failure_rate,
            half_open: self.half_open,
            classifier,
        }
    }
}

impl Default for Config<AnyError> {
    fn default() -> Config<AnyError> {
        Config::new()
    }
}

impl<C> Config<C> {
    /// Consecutive failures that open the breaker (`1..=`[`MAX_FAILURE_THRESHOLD`]).
    ///
    /// ```
    /// # use async_breaker::Config;
    /// const STRICT: Config = Config::new().failure_threshold(1);
    /// assert_eq!(STRICT.get_failure_threshold(), 1);
    /// ```
    #[must_use]
    pub const fn failure_threshold(mut self, threshold: u32) -> Config<C> {
        self.failure_threshold = threshold;
        self
    }

    /// How long the breaker stays open before it admits a probe (1 ms up to
    /// [`MAX_RECOVERY_TIMEOUT`]; fractions of a millisecond round up).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use async_breaker::Config;
    /// const PATIENT: Config = Config::new().recovery_timeout(Duration::from_secs(120));
    /// assert_eq!(PATIENT.get_recovery_timeout(), Duration::from_secs(120));
    /// ```
    #[must_use]
    pub const fn recovery_timeout(mut self, timeout: Duration) -> Config<C> {
        self.recovery_timeout = timeout;
        self
    }

    /// How long a half-open probe may stay in flight before the breaker presumes it lost (its
    /// permit leaked with `mem::forget`, or its future stuck for ever) and admits the next
    /// caller as a new probe; the lost probe's outcome, if it ever comes, is discarded.
    /// Default: the recovery timeout. Same range as the recovery timeout.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use async_breaker::Config;
    /// const QUICK: Config = Config::new().probe_deadline(Duration::from_secs(2));
    /// assert_eq!(QUICK.get_probe_deadline(), Duration::from_secs(2));
    /// assert_eq!(Config::new().get_probe_deadline(), Duration::from_secs(30));
    /// ```
    #[must_use]
    pub const fn probe_deadline(mut self, deadline: Duration) -> Config<C> {
        self.probe_deadline = Some(deadline);
        self
    }

    /// Let the open period grow while probes keep failing. See [`Backoff`].
    #[must_use]
    pub const fn backoff(mut self, backoff: Backoff) -> Config<C> {
        self.backoff = Some(backoff);
        self
    }

    /// Count a call that lasted `threshold` or longer as a failure even if it succeeded (a
    /// dependency that answers slowly is not healthy). Off by default; when on, an admitted
    /// call reads the clock when it starts and when it succeeds.
    ///
    /// The boundary is inclusive, in whole milliseconds of the breaker's clock: a success that
    /// lasted exactly `threshold` is slow, one that lasted 1 ms less is not.
    ///
    /// A slow success is reported as slow, not only as a failure:
    /// [`MetricsSnapshot::slow`](crate::MetricsSnapshot::slow), the `metrics` facade's
    /// `outcome="slow"`, a rejection's [`OpenError::slow`](crate::OpenError::slow) and message
    /// (`circuit "x" is open (3 failures, 3 slow, 29s remaining)`), and the `slow` field of
    /// the `tracing` events for opening and rejecting.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use async_breaker::Config;
    /// const PROMPT: Config = Config::new().slow_call_threshold(Duration::from_millis(500));
    /// # let _ = PROMPT;
    /// ```
    #[must_use]
    pub const fn slow_call_threshold(mut self, threshold: Duration) -> Config<C> {
        self.slow_call_threshold = Some(threshold);
        self
    }

    /// Open on a failure rate over a window of calls or time instead of a run of consecutive
    /// failures. See [`FailureRate`].
    #[must_use]
    pub const fn failure_rate(mut self, rate: FailureRate) -> Config<C> {
        self.failure_rate = Some(rate);
        self
    }

    /// Open when at least `percent` % (1–100) of the calls in the window took `threshold` (1 ms
    /// up to [`MAX_RECOVERY_TIMEOUT`]; fractions of a millisecond round up) or longer, whether
    /// they succeeded or failed: resilience4j's `slowCallRateThreshold` and
    /// `slowCallDurationThreshold`. A slow success stays a success for the consecutive count and
    /// the failure rate (unlike [`slow_call_threshold`](Config::slow_call_threshold), which
    /// turns it into a failure; both may be set). Ignored outcomes and half-open probes are not
    /// counted, as for the failure rate.
    ///
    /// The window is the [failure rate](Config::failure_rate)'s (its span and minimum calls;
    /// the slow calls have a counter of their own, tripping on their own percentage). Without a
    /// failure rate it is resilience4j's default window, **the last 100 calls, judged once 100
    /// have finished**, and failures keep opening the breaker by the consecutive
    /// [threshold](Config::failure_threshold). When on, an admitted call reads the clock when it
    /// starts and when it ends.
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_breaker::{Config, FailureRate};
    ///
    /// // resilience4j: slidingWindowSize 100, minimumNumberOfCalls 100,
    /// // failureRateThreshold 50, slowCallDurationThreshold 2 s, slowCallRateThreshold 80.
    /// const PORTED: Config = Config::new()
    ///     .failure_rate(FailureRate::last_calls(100, 100, 50))
    ///     .slow_call_rate(Duration::from_secs(2), 80);
    /// // Only slowness over the default window (last 100 calls); failures by the count of 5.
    /// const SLOW_ONLY: Config = Config::new().slow_call_rate(Duration::from_millis(500), 50);
    /// # let _ = (PORTED, SLOW_ONLY);
    /// ```
    #[must_use]
    pub const fn slow_call_rate(mut self, threshold: Duration, percent: u8) -> Config<C> {
        self.slow_call_rate = Some((threshold, percent));
        self
    }

    /// How many probes a half-open breaker admits and how many must succeed to close it
    /// (default: one). See [`HalfOpen`].
    #[must_use]
    pub const fn half_open(mut self, half_open: HalfOpen) -> Config<C> {
        self.half_open = half_open;
        self
    }

    /// The probe deadline in force: the one set, or else the recovery timeout.
    pub const fn get_probe_deadline(&self) -> Duration {
        match self.probe_deadline {
            Some(deadline) => deadline,
            None => self.recovery_timeout,
        }
    }

    /// The configured failure threshold (not yet validated).
    ///
    /// ```
    /// assert_eq!(async_breaker::Config::new().get_failure_threshold(), 5);
    /// ```
    pub const fn get_failure_threshold(&self) -> u32 {
        self.failure_threshold
    }

    /// The configured recovery timeout (not yet validated).
    ///
    /// ```
    /// # use std::time::Duration;
    /// assert_eq!(async_breaker::Config::new().get_recovery_timeout(), Duration::from_secs(30));
    /// ```
    pub const fn get_recovery_timeout(&self) -> Duration {
        self.recovery_timeout
    }

    /// The configured classifier.
    ///
    /// ```
    /// assert_eq!(*async_breaker::Config::new().classifier(), async_breaker::AnyError);
    /// ```
    pub const fn classifier(&self) -> &C {
        &self.classifier
    }

    /// Checks every value, as `build()` does.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first setting that is out of range.
    ///
    /// ```
    /// # use async_breaker::Config;
    /// assert!(Config::new().validate().is_ok());
    /// assert!(Config::new().failure_threshold(0).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.policy().map(|_| ())
    }

    pub(crate) fn policy(&self) -> Result<Policy, ConfigError> {
        if self.failure_threshold == 0 || self.failure_threshold > MAX_FAILURE_THRESHOLD {
            return Err(ConfigError::FailureThreshold {
                value: self.failure_threshold,
                max: MAX_FAILURE_THRESHOLD,
            });
        }
        let recovery_ms = span_ms(self.recovery_timeout).ok_or(ConfigError::RecoveryTimeout {
            value: self.recovery_timeout,
            max: MAX_RECOVERY_TIMEOUT,
        })?;
        let deadline = self.get_probe_deadline();
        let probe_deadline_ms = span_ms(deadline).ok_or(ConfigError::ProbeDeadline {
            value: deadline,
            max: MAX_RECOVERY_TIMEOUT,
        })?;
        if !self.half_open.is_valid() {
            return Err(ConfigError::HalfOpen {
                probes: self.half_open.probes,
                successes: self.half_open.successes,
            });
        }
        if let Some(rate) = self.failure_rate {
            if let Err(needs) = Window::check(&rate) {
                return Err(ConfigError::FailureRate { rate, needs });
            }
        }
        let (backoff_max_ms, jitter) = match self.backoff {
            None => (recovery_ms, false),
            Some(backoff) => {
                let max_ms = span_ms(backoff.max)
                    .filter(|&max_ms| max_ms >= recovery_ms)
                    .ok_or(ConfigError::Backoff {
                        value: backoff.max,
                        min: self.recovery_timeout,
                        max: MAX_RECOVERY_TIMEOUT,
                    })?;
                (max_ms, backoff.jitter)
            }
        };
        let slow_call_ms = match self.slow_call_threshold {
            None => 0,
            Some(threshold) => span_ms(threshold).ok_or(ConfigError::SlowCallThreshold {
                value: threshold,
                max: MAX_RECOVERY_TIMEOUT,
            })?,
        };
        self.slow_rate()?;
        Ok(Policy {
            failure_threshold: self.failure_threshold,
            recovery_ms,
            probe_deadline_ms,
            backoff_max_ms,
            jitter,
            slow_call_ms,
            trip_on_count: self.failure_rate.is_none(),
        })
    }

    /// The slow-call rate's threshold in whole milliseconds and its percentage, if one is set.
    fn slow_rate(&self) -> Result<Option<(u64, u8)>, ConfigError> {
        let Some((threshold, percent)) = self.slow_call_rate else {
            return Ok(None);
        };
        match span_ms(threshold) {
            Some(ms) if (1..=100).contains(&percent) => Ok(Some((ms, percent))),
            _ => Err(ConfigError::SlowCallRate {
                threshold,
                percent,
                max: MAX_RECOVERY_TIMEOUT,
            }),
        }
    }

    /// The same settings with another classifier (`classify_with` for any `C`, outside `const`).
    fn reclassify<D>(self, classifier: D) -> Config<D> {
        Config {
            failure_threshold: self.failure_threshold,
            recovery_timeout: self.recovery_timeout,
            probe_deadline: self.probe_deadline,
            backoff: self.backoff,
            slow_call_threshold: self.slow_call_threshold,
            slow_call_rate: self.slow_call_rate,
            failure_rate: self.failure_rate,
            half_open: self.half_open,
            classifier,
        }
    }

    /// A builder starting from this preset, to add a name or a clock.
    ///
    /// ```
    /// # use async_breaker::Config;
    /// const PRESET: Config = Config::new().failure_threshold(3);
    /// let breaker = PRESET.builder().name("inventory").build()?;
    /// assert_eq!(breaker.name(), "inventory");
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub fn builder(self) -> Builder<C> {
        Builder {
            config: self,
            name: None,
            clock: None,
            hooks: Hooks::default(),
        }
    }

    /// Builds an unnamed breaker with the default clock.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first setting that is out of range.
    ///
    /// ```
    /// # use async_breaker::Config;
    /// let breaker = Config::new().failure_threshold(2).build()?;
    /// assert_eq!(breaker.failure_threshold(), 2);
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub fn build(self) -> Result<CircuitBreaker<C>, ConfigError> {
        self.builder().build()
    }
}

/// `span` in whole milliseconds, a fraction rounded up so a tiny span never becomes zero; `None`
/// if it is zero or longer than the word can measure.
fn span_ms(span: Duration) -> Option<u64> {
    let mut ms = duration_millis(span);
    if span > Duration::from_millis(ms) {
        ms = ms.saturating_add(1);
    }
    (ms != 0 && span <= MAX_RECOVERY_TIMEOUT).then_some(ms)
}

/// Builds a [`CircuitBreaker`]: start with [`CircuitBreaker::builder`] or
/// [`Config::builder`], finish with [`build`](Builder::build).
///
/// ```
/// use std::time::Duration;
/// use async_breaker::CircuitBreaker;
///
/// let breaker = CircuitBreaker::builder()
///     .name("inventory")
///     .failure_threshold(3)
///     .recovery_timeout(Duration::from_secs(10))
///     .failure_on::<std::io::Error>()
///     .build()?;
/// assert_eq!(breaker.name(), "inventory");
/// # Ok::<(), async_breaker::ConfigError>(())
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `build()` is called"]
pub struct Builder<C = AnyError> {
    config: Config<C>,
    name: Option<Cow<'static, str>>,
    clock: Option<TimeSource>,
    hooks: Hooks,
}

impl<C> Builder<C> {
    /// The breaker's name, shown in rejections and `Debug`. Unnamed breakers are called
    /// `unnamed`.
    ///
    /// A rejection carries a handle to the name rather than the name (a reference-counted
    /// name would have every rejecting core write one shared count), and the handle is looked
    /// up only when the rejection is displayed or asked for [its name](crate::OpenError::name).
    /// With `std`, the lookup table holds the names of the breakers alive now: dropping a
    /// breaker frees its name, so naming breakers after hosts learned at run time costs memory
    /// only while they live. A `&'static str` name is not copied. Without `std`, a name is kept
    /// for the life of the program, once per breaker built: name breakers with literals there.
    ///
    /// ```
    /// use async_breaker::CircuitBreaker;
    ///
    /// let host = "db-1";
    /// let breaker = CircuitBreaker::builder().name(format!("upstream-{host}")).build()?;
    /// assert_eq!(breaker.name(), "upstream-db-1");
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Builder<C> {
        self.name = Some(name.into());
        self
    }

    /// Consecutive failures that open the breaker (default 5).
    pub fn failure_threshold(mut self, threshold: u32) -> Builder<C> {
        self.config = self.config.failure_threshold(threshold);
        self
    }

    /// How long the breaker stays open before admitting a probe (default 30 s).
    pub fn recovery_timeout(mut self, timeout: Duration) -> Builder<C> {
        self.config = self.config.recovery_timeout(timeout);
        self
    }

    /// How long a half-open probe may stay in flight before the next caller replaces it
    /// (default: the recovery timeout). See [`Config::probe_deadline`].
    pub fn probe_deadline(mut self, deadline: Duration) -> Builder<C> {
        self.config = self.config.probe_deadline(deadline);
        self
    }

    /// Let the open period grow while probes keep failing. See [`Backoff`].
    pub fn backoff(mut self, backoff: Backoff) -> Builder<C> {
        self.config = self.config.backoff(backoff);
        self
    }

    /// How many probes a half-open breaker admits and how many must succeed to close it. See
    /// [`HalfOpen`].
    pub fn half_open(mut self, half_open: HalfOpen) -> Builder<C> {
        self.config = self.config.half_open(half_open);
        self
    }

    /// Open on a failure rate over a window instead of consecutive failures. See
    /// [`FailureRate`].
    pub fn failure_rate(mut self, rate: FailureRate) -> Builder<C> {
        self.config = self.config.failure_rate(rate);
        self
    }

    /// Count a call that lasted `threshold` or longer (exactly `threshold` included) as a
    /// failure even if it succeeded, and report it as slow. See
    /// [`Config::slow_call_threshold`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_breaker::{CircuitBreaker, ManualClock};
    ///
    /// let clock = ManualClock::new();
    /// let breaker = CircuitBreaker::builder()
    ///     .name("slow-docs")
    ///     .failure_threshold(1)
    ///     .slow_call_threshold(Duration::from_secs(2))
    ///     .clock(clock.clone())
    ///     .build()?;
    /// let _ = breaker.call(|| {
    ///     clock.advance(Duration::from_secs(2)); // exactly the threshold: slow
    ///     Ok::<_, ()>(())
    /// });
    /// let rejected = breaker.try_acquire().unwrap_err();
    /// assert_eq!((rejected.failures(), rejected.slow()), (1, 1));
    /// assert_eq!(
    ///     rejected.to_string(),
    ///     r#"circuit "slow-docs" is open (1 failure, 1 slow, 30s remaining)"#
    /// );
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub fn slow_call_threshold(mut self, threshold: Duration) -> Builder<C> {
        self.config = self.config.slow_call_threshold(threshold);
        self
    }

    /// Open when at least `percent` % of the calls in the window took `threshold` or longer.
    /// See [`Config::slow_call_rate`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_breaker::{CircuitBreaker, FailureRate};
    /// let breaker = CircuitBreaker::builder()
    ///     .failure_rate(FailureRate::last_calls(1_000, 100, 50))
    ///     .slow_call_rate(Duration::from_secs(1), 60)
    ///     .build()?;
    /// # let _ = breaker;
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub fn slow_call_rate(mut self, threshold: Duration, percent: u8) -> Builder<C> {
        self.config = self.config.slow_call_rate(threshold, percent);
        self
    }

    /// The time source (default with the `std` feature: one [`QuantaClock`](crate::QuantaClock)
    /// shared by every breaker built without a clock; required without it). Each breaker keeps
    /// the clock given here. Pass a [`ManualClock`](crate::ManualClock) to drive the breaker
    /// from a test.
    pub fn clock(mut self, clock: impl Clock) -> Builder<C> {
        self.clock = Some(TimeSource::Custom(Box::new(clock)));
        self
    }

    /// Calls `listener` once for every state change, from the caller whose compare-exchange
    /// made it, after the new state is installed. Keep it short: it runs on that caller's call
    /// path. A panic in it is caught and ignored. See [`Transition`].
    pub fn on_transition(
        mut self,
        listener: impl Fn(&Transition<'_>) + Send + Sync + 'static,
    ) -> Builder<C> {
        self.hooks.listener = Some(Box::new(listener));
        self
    }

    /// Counts admissions, rejections, outcomes and transitions, read with
    /// [`CircuitBreaker::metrics`]. Off by default, so the default hot path writes nothing;
    /// when on, each call adds one or two relaxed atomic increments on a separate cache line.
    pub fn metrics(mut self) -> Builder<C> {
        self.hooks.metrics = Some(Metrics::default());
        self
    }

    /// Reports calls, transitions and the state through the [`metrics`](https://docs.rs/metrics)
    /// facade (feature `metrics`), labelled with the breaker's name: the series are listed in
    /// the guide (docs/operate.md). The handles are registered once, by `build()`, with the
    /// recorder installed then (global, or local with `metrics::with_local_recorder`); each
    /// call then adds one increment through a handle. Independent of
    /// [`metrics`](Builder::metrics); a breaker built without either stays on the one-load
    /// fast path.
    ///
    /// ```
    /// let breaker = async_breaker::CircuitBreaker::builder()
    ///     .name("payments")
    ///     .export_metrics()
    ///     .build()?;
    /// let _ = breaker.call(|| Ok::<_, ()>(())); // circuit_breaker_calls_total{outcome="success"} + 1
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn export_metrics(mut self) -> Builder<C> {
        self.hooks.export = crate::export::Export::Asked;
        self
    }

    /// Count an error as a failure when `predicate` returns `true`; other errors count as
    /// successes.
    ///
    /// ```
    /// use async_breaker::CircuitBreaker;
    /// let breaker = CircuitBreaker::builder()
    ///     .failure_threshold(1)
    ///     .failure_if(|e: &&str| *e == "timeout")
    ///     .build()?;
    /// let _ = breaker.call(|| Err::<(), _>("not found"));
    /// assert!(breaker.is_closed());
    /// let _ = breaker.call(|| Err::<(), _>("timeout"));
    /// assert!(breaker.is_open());
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub fn failure_if<E, F: Fn(&E) -> bool>(self, predicate: F) -> Builder<F> {
        self.classify_with(predicate)
    }

    /// Use any [`Classify`](crate::Classify) implementation.
    pub fn classify_with<D>(self, classifier: D) -> Builder<D> {
        Builder {
            config: self.config.reclassify(classifier),
            name: self.name,
            clock: self.clock,
            hooks: self.hooks,
        }
    }

    /// Checks the configuration and builds the breaker.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first setting that is out of range.
    pub fn build(self) -> Result<CircuitBreaker<C>, ConfigError> {
        let policy = self.config.policy()?;
        #[cfg(all(feature = "std", not(async_breaker_loom)))]
        let clock = self
            .clock
            .unwrap_or_else(|| TimeSource::Quanta(crate::clock::QuantaClock::shared()));
        // Inside a loom model the real-time clock would make the model nondeterministic (loom
        // cannot see it), so there is no default clock there either.
        #[cfg(any(not(feature = "std"), async_breaker_loom))]
        let Some(clock) = self.clock
        else {
            return Err(ConfigError::MissingClock);
        };
        let mut hooks = self.hooks;
        hooks.window = Window::new(self.config.failure_rate.as_ref(), self.config.slow_rate()?);
        hooks.rounds = Rounds::new(self.config.half_open);
        hooks.slow = (policy.slow_call_ms != 0).then(SlowFailures::default);
        #[cfg(feature = "metrics")]
        hooks.export.register(
            self.name.as_deref().unwrap_or("unnamed"),
            policy.slow_call_ms != 0,
        );
        let name = self.name.map(|name| Box::new(Named::new(name)));
        let hooks = (!hooks.is_empty()).then(|| Box::new(hooks));
        Ok(CircuitBreaker::from_parts(
            policy,
            name,
            clock,
            hooks,
            self.config.classifier,
        ))
    }
}

impl Builder<AnyError> {
    /// Count only errors of type `T`, or errors whose `source()` chain holds a `T`, as
    /// failures. Call it again to add more types.
    pub fn failure_on<T: core::error::Error + 'static>(self) -> Builder<ErrorTypes> {
        self.classify_with(ErrorTypes::new(&[]).with::<T>())
    }
}

impl Builder<ErrorTypes> {
    /// Adds `T` to the error types that count as failures.
    ///
    /// ```
    /// use async_breaker::CircuitBreaker;
    /// let breaker = CircuitBreaker::builder()
    ///     .failure_on::<std::io::Error>()
    ///     .failure_on::<std::fmt::Error>()
    ///     .build()?;
    /// assert_eq!(breaker.classifier().types().len(), 2);
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub fn failure_on<T: core::error::Error + 'static>(mut self) -> Builder<ErrorTypes> {
        self.config.classifier = self.config.classifier.with::<T>();
        self
    }
}
