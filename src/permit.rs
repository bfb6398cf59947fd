//! Permits: one admitted call's claim on the breaker, released on drop.

#[cfg(target_has_atomic = "ptr")]
use alloc::sync::Arc;
use core::fmt;

use crate::breaker::CircuitBreaker;
use crate::classify::{AnyError, Classify, Outcome};
use crate::word::Ticket;

/// Anything that leads to a breaker: `&CircuitBreaker`, `&Arc<CircuitBreaker>` or an owned
/// `Arc<CircuitBreaker>`. The future combinator and permits hold one, so the same code serves
/// borrowed and `'static` uses.
///
/// The `Arc` implementations exist only where `alloc::sync::Arc` does, on targets with a
/// pointer-sized compare-exchange (`cfg(target_has_atomic = "ptr")`: not thumbv6m, for
/// example); a reference works everywhere.
///
/// ```
/// use std::sync::Arc;
/// use async_breaker::{BreakerHandle, CircuitBreaker};
///
/// fn name_of<B: BreakerHandle>(handle: B) -> String {
///     handle.breaker().name().to_owned()
/// }
/// let breaker = Arc::new(CircuitBreaker::new());
/// assert_eq!(name_of(&*breaker), name_of(Arc::clone(&breaker)));
/// ```
pub trait BreakerHandle {
    /// The breaker's failure classifier.
    type Classifier;

    /// The breaker this handle leads to.
    fn breaker(&self) -> &CircuitBreaker<Self::Classifier>;
}

impl<C> BreakerHandle for &CircuitBreaker<C> {
    type Classifier = C;

    fn breaker(&self) -> &CircuitBreaker<C> {
        self
    }
}

#[cfg(target_has_atomic = "ptr")]
#[cfg_attr(docsrs, doc(cfg(target_has_atomic = "ptr")))]
impl<C> BreakerHandle for &Arc<CircuitBreaker<C>> {
    type Classifier = C;

    fn breaker(&self) -> &CircuitBreaker<C> {
        self
    }
}

#[cfg(target_has_atomic = "ptr")]
#[cfg_attr(docsrs, doc(cfg(target_has_atomic = "ptr")))]
impl<C> BreakerHandle for Arc<CircuitBreaker<C>> {
    type Classifier = C;

    fn breaker(&self) -> &CircuitBreaker<C> {
        self
    }
}

/// A handle and the ticket of the call it admitted. Dropping it without an outcome releases the
/// claim: nothing is recorded, and a half-open probe's slot is freed.
pub(crate) struct Slot<B: BreakerHandle> {
    handle: B,
    ticket: Option<Ticket>,
    /// When the call started, if the breaker detects slow calls.
    started: u64,
}

impl<B: BreakerHandle> Slot<B> {
    #[inline]
    pub(crate) fn new(handle: B, ticket: Ticket) -> Slot<B> {
        let started = handle.breaker().call_started();
        Slot {
            handle,
            ticket: Some(ticket),
            started,
        }
    }

    pub(crate) fn handle(&self) -> &B {
        &self.handle
    }

    pub(crate) fn is_probe(&self) -> bool {
        self.ticket.is_some_and(Ticket::is_probe)
    }

    /// Records `outcome` once; later calls and the drop do nothing.
    #[inline]
    pub(crate) fn settle(&mut self, outcome: Outcome) -> bool {
        match self.ticket.take() {
            Some(ticket) => self.handle.breaker().settle(ticket, outcome, self.started),
            None => false,
        }
    }

    /// Records a finished call's result through the breaker's classifier.
    #[inline]
    pub(crate) fn finish<T, E>(&mut self, result: &Result<T, E>) -> bool
    where
        B::Classifier: Classify<E>,
    {
        let outcome = match result {
            Ok(_) => Outcome::Success,
            Err(e) => self.handle.breaker().classifier().classify(e),
        };
        self.settle(outcome)
    }

    /// Runs `work`; if it panics, records a failure before the panic continues.
    #[inline]
    pub(crate) fn run<R>(&mut self, work: impl FnOnce() -> R) -> R {
        struct FailOnUnwind<'s, B: BreakerHandle> {
            slot: &'s mut Slot<B>,
            armed: bool,
        }
        impl<B: BreakerHandle> Drop for FailOnUnwind<'_, B> {
            #[inline]
            fn drop(&mut self) {
                if self.armed {
                    self.slot.settle(Outcome::Failure);
                }
            }
        }
        let mut guard = FailOnUnwind {
            slot: self,
            armed: true,
        };
        let out = work();
        guard.armed = false;
        out
    }
}

impl<B: BreakerHandle> Drop for Slot<B> {
    #[inline]
    fn drop(&mut self) {
        self.settle(Outcome::Ignore);
    }
}

impl<B: BreakerHandle> fmt::Debug for Slot<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("breaker", &self.handle.breaker().name())
            .field("probe", &self.is_probe())
            .field("pending", &self.ticket.is_some())
            .finish_non_exhaustive()
    }
}

macro_rules! permit_methods {
    () => {
        /// Records a success: resets the failure count, or closes the breaker if this was the
        /// half-open probe.
        #[inline]
        pub fn success(mut self) {
            self.slot.settle(Outcome::Success);
        }

        /// Records a failure: counts towards the threshold (the failure that reaches it opens
        /// the breaker), or re-opens the breaker with a fresh timer if this was the probe.
        #[inline]
        pub fn failure(mut self) {
            self.slot.settle(Outcome::Failure);
        }

        /// Records `outcome` as given ([`Outcome::Ignore`] is the same as dropping the permit).
        pub fn record_outcome(mut self, outcome: Outcome) {
            self.slot.settle(outcome);
        }

        /// Records a call's result: `Ok` is a success, an `Err` is what the breaker's
        /// classifier says it is.
        #[inline]
        pub fn record<T, E>(mut self, result: &Result<T, E>)
        where
            C: Classify<E>,
        {
            self.slot.finish(result);
        }

        /// Whether this permit is the half-open probe (whose outcome closes or re-opens the
        /// breaker) rather than a closed-state call.
        pub fn is_probe(&self) -> bool {
            self.slot.is_probe()
        }

        /// The breaker that issued this permit.
        pub fn breaker(&self) -> &CircuitBreaker<C> {
            self.slot.handle().breaker()
        }
    };
}

/// Permission to run one call, from [`CircuitBreaker::try_acquire`]. Report how the call went
/// with [`success`](Permit::success), [`failure`](Permit::failure) or
/// [`record`](Permit::record); each consumes the permit, so an outcome is recorded at most once.
///
/// # Cancel safety
///
/// Dropping a permit records nothing. If it was the half-open probe, its slot is freed and the
/// next caller becomes the probe. An outcome reported after the breaker has moved to another
/// cycle (it opened and closed again since the permit was issued, or a lost probe was replaced)
/// is discarded.
///
/// ```
/// use async_breaker::CircuitBreaker;
///
/// let breaker = CircuitBreaker::builder().failure_threshold(1).build()?;
/// match breaker.try_acquire() {
///     Ok(permit) => {
///         let result: Result<(), &str> = Err("timeout");
///         permit.record(&result);
///     }
///     Err(rejected) => println!("skipped: {rejected}"),
/// }
/// assert!(breaker.is_open());
/// # Ok::<(), async_breaker::ConfigError>(())
/// ```
#[must_use = "a permit records nothing unless you report an outcome; dropping it releases it"]
pub struct Permit<'a, C = AnyError> {
    slot: Slot<&'a CircuitBreaker<C>>,
}

impl<'a, C> Permit<'a, C> {
    pub(crate) fn new(slot: Slot<&'a CircuitBreaker<C>>) -> Permit<'a, C> {
        Permit { slot }
    }

    permit_methods!();
}

impl<C> fmt::Debug for Permit<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.slot.fmt(f)
    }
}

/// A [`Permit`] that owns an `Arc` of its breaker, so it is `'static`: from
/// [`CircuitBreaker::try_acquire_owned`]. Same methods, same cancel safety.
///
/// Only on targets with a pointer-sized compare-exchange, where `alloc::sync::Arc` exists
/// (`cfg(target_has_atomic = "ptr")`); on the others (thumbv6m) a [`Permit`] borrows the
/// breaker, which a `static` breaker makes `'static` too.
///
/// ```
/// use std::sync::Arc;
/// let breaker = Arc::new(async_breaker::CircuitBreaker::new());
/// let permit = breaker.try_acquire_owned()?;
/// assert!(!permit.is_probe());
/// permit.failure();
/// assert_eq!(breaker.failure_count(), 1);
/// # Ok::<(), async_breaker::OpenError>(())
/// ```
#[cfg(target_has_atomic = "ptr")]
#[cfg_attr(docsrs, doc(cfg(target_has_atomic = "ptr")))]
#[must_use = "a permit records nothing unless you report an outcome; dropping it releases it"]
pub struct OwnedPermit<C = AnyError> {
    slot: Slot<Arc<CircuitBreaker<C>>>,
}

#[cfg(target_has_atomic = "ptr")]
impl<C> OwnedPermit<C> {
    pub(crate) fn new(slot: Slot<Arc<CircuitBreaker<C>>>) -> OwnedPermit<C> {
        OwnedPermit { slot }
    }

    permit_methods!();
}

#[cfg(target_has_atomic = "ptr")]
impl<C> fmt::Debug for OwnedPermit<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.slot.fmt(f)
    }
}
