//! Uses the breaker's whole `no_std` API surface: a user-supplied clock, the builder, permits,
//! the future combinator and a `const` preset.
#![no_std]

use core::future::Future;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

use async_breaker::{
    CircuitBreaker, CircuitExt, Clock, Config, ConfigError, Error, ManualClock, OpenError, State,
};

/// A clock fed by a hardware tick counter, as an embedded target would have.
pub struct TickClock(pub &'static AtomicU64);

impl Clock for TickClock {
    fn now(&self) -> Duration {
        Duration::from_micros(self.0.load(Ordering::Relaxed))
    }
}

/// A preset, checked when a breaker is built.
pub const SENSOR: Config = Config::new()
    .failure_threshold(3)
    .recovery_timeout(Duration::from_millis(250));

/// Builds a breaker on the tick clock.
///
/// # Errors
/// A `ConfigError` if the preset is invalid.
pub fn sensor_breaker(ticks: &'static AtomicU64) -> Result<CircuitBreaker, ConfigError> {
    SENSOR
        .builder()
        .name("sensor")
        .clock(TickClock(ticks))
        .build()
}

/// Without `std` there is no default clock: building without one is a typed error.
pub fn missing_clock_is_an_error() -> bool {
    matches!(
        CircuitBreaker::builder().build(),
        Err(ConfigError::MissingClock)
    )
}

/// One guarded read through the permit API.
///
/// # Errors
/// The rejection, if the breaker is open.
pub fn read(breaker: &CircuitBreaker, ok: bool) -> Result<State, OpenError> {
    let permit = breaker.try_acquire()?;
    if ok {
        permit.success();
    } else {
        permit.failure();
    }
    Ok(breaker.state())
}

/// The future combinator, with no runtime at all.
pub fn guarded<'a>(
    breaker: &'a CircuitBreaker,
    work: impl Future<Output = Result<u32, ()>> + 'a,
) -> impl Future<Output = Result<u32, Error<()>>> + 'a {
    work.circuit(breaker)
}

/// The test clock works without `std` too.
///
/// # Errors
/// A `ConfigError` if the preset is invalid.
pub fn manual() -> Result<(CircuitBreaker, ManualClock), ConfigError> {
    let clock = ManualClock::new();
    let breaker = SENSOR.builder().clock(clock.clone()).build()?;
    Ok((breaker, clock))
}
