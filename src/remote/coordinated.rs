//! [`Coordinated`]: a breaker's remote hooks behind a trait object, whatever its classifier.

use core::task::Waker;
use core::time::Duration;

use crate::remote::Snapshot;
use crate::{CircuitBreaker, Reason};

/// The [remote hooks](crate::remote) of a breaker of any classifier, as one object-safe trait:
/// a coordinator that keeps breakers of several classifier types (the breakers of a
/// [`Registry`](crate::Registry), say) holds them as `Arc<dyn Coordinated>`. Each method is the
/// [`Remote`](crate::remote::Remote) method of the same name, or the breaker's setting.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use async_breaker::remote::{Coordinated, Phase};
/// use async_breaker::{CircuitBreaker, Reason};
///
/// let plain = Arc::new(CircuitBreaker::builder().name("db").build()?);
/// let picky = Arc::new(
///     CircuitBreaker::builder()
///         .name("search")
///         .failure_if(|e: &std::io::Error| e.kind() == std::io::ErrorKind::TimedOut)
///         .build()?,
/// );
/// let coordinated: Vec<Arc<dyn Coordinated>> = vec![plain, picky];
/// for breaker in &coordinated {
///     breaker.hold_because(Duration::from_secs(5), 0, Reason::Sync); // the fleet is open
///     assert_eq!(breaker.snapshot().phase(), Phase::Held);
/// }
/// assert_eq!(coordinated[1].name(), "search");
/// # Ok::<(), async_breaker::ConfigError>(())
/// ```
pub trait Coordinated: Send + Sync {
    /// The breaker's name ([`CircuitBreaker::name`]).
    fn name(&self) -> &str;
    /// [`Remote::snapshot`](crate::remote::Remote::snapshot).
    fn snapshot(&self) -> Snapshot;
    /// [`Remote::register_waker`](crate::remote::Remote::register_waker).
    fn register_waker(&self, waker: &Waker);
    /// [`Remote::hold_because`](crate::remote::Remote::hold_because).
    fn hold_because(&self, remaining: Duration, level: u8, reason: Reason) -> Option<Snapshot>;
    /// [`Remote::grant_probe`](crate::remote::Remote::grant_probe).
    fn grant_probe(&self) -> Option<Snapshot>;
    /// [`Remote::revoke_probe`](crate::remote::Remote::revoke_probe).
    fn revoke_probe(&self, granted: &Snapshot) -> bool;
    /// [`Remote::close_because`](crate::remote::Remote::close_because).
    fn close_because(&self, reason: Reason) -> Option<Snapshot>;
    /// [`Remote::take_demand`](crate::remote::Remote::take_demand).
    fn take_demand(&self) -> bool;
    /// [`Remote::release`](crate::remote::Remote::release).
    fn release(&self) -> Option<Snapshot>;
    /// [`CircuitBreaker::probe_deadline`].
    fn probe_deadline(&self) -> Duration;
    /// [`CircuitBreaker::recovery_timeout`].
    fn recovery_timeout(&self) -> Duration;
    /// [`CircuitBreaker::failure_threshold`].
    fn failure_threshold(&self) -> u32;
}

impl<C: Send + Sync> Coordinated for CircuitBreaker<C> {
    fn name(&self) -> &str {
        CircuitBreaker::name(self)
    }
    fn snapshot(&self) -> Snapshot {
        self.remote().snapshot()
    }
    fn register_waker(&self, waker: &Waker) {
        self.remote().register_waker(waker);
    }
    fn hold_because(&self, remaining: Duration, level: u8, reason: Reason) -> Option<Snapshot> {
        self.remote().hold_because(remaining, level, reason)
    }
    fn grant_probe(&self) -> Option<Snapshot> {
        self.remote().grant_probe()
    }
    fn revoke_probe(&self, granted: &Snapshot) -> bool {
        self.remote().revoke_probe(granted)
    }
    fn close_because(&self, reason: Reason) -> Option<Snapshot> {
        self.remote().close_because(reason)
    }
    fn take_demand(&self) -> bool {
        self.remote().take_demand()
    }
    fn release(&self) -> Option<Snapshot> {
        self.remote().release()
    }
    fn probe_deadline(&self) -> Duration {
        CircuitBreaker::probe_deadline(self)
    }
    fn recovery_timeout(&self) -> Duration {
        CircuitBreaker::recovery_timeout(self)
    }
    fn failure_threshold(&self) -> u32 {
        CircuitBreaker::failure_threshold(self)
    }
}
