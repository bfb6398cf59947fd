//! Support for the code the `#[circuit]` attribute generates. Not a public API: nothing here is
//! covered by semver, and the names may change in any release.
//!
//! What a guarded function does on every call:
//!
//! 1. `Slot::get` / `AnySlot::get`: one acquire load of a `OnceLock` (the breaker is made on the
//!    first call only), plus one `TypeId` comparison for the type-erased slot.
//! 2. `admit`: the breaker's own admission (one atomic load when closed).
//! 3. `Admitted::run` / `Admitted::run_async`: runs the body, records its outcome through the
//!    breaker's classifier, and records a failure if the body panics.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use pin_project_lite::pin_project;

use crate::classify::{Classify, Outcome};
use crate::config::{Builder, Config, MAX_FAILURE_THRESHOLD, MAX_RECOVERY_TIMEOUT};
use crate::error::OpenError;
use crate::permit::Slot as Claim;
use crate::registry::Registry;
use crate::CircuitBreaker;

/// The breaker of a function whose classifier type the macro can name (`AnyError`,
/// `ErrorTypes`): no type check per call.
pub struct Slot<C> {
    cell: OnceLock<Arc<CircuitBreaker<C>>>,
}

impl<C> Slot<C> {
    /// An empty slot, for a `static`.
    pub const fn new() -> Slot<C> {
        Slot {
            cell: OnceLock::new(),
        }
    }
}

impl<C: Send + Sync + 'static> Slot<C> {
    /// The breaker, made (or found in the global registry) on the first call.
    #[inline]
    pub fn get(
        &'static self,
        site: &'static str,
        name: &'static str,
        config: impl FnOnce() -> Builder<C>,
    ) -> &'static CircuitBreaker<C> {
        self.cell.get_or_init(|| obtain(site, name, config))
    }
}

impl<C> Default for Slot<C> {
    fn default() -> Slot<C> {
        Slot::new()
    }
}

/// The breaker of a function whose classifier type the macro cannot name (a `preset`, a
/// `failure_if` predicate): stored type-erased, checked with one `TypeId` comparison per call.
pub struct AnySlot {
    cell: OnceLock<Arc<dyn Any + Send + Sync>>,
}

impl AnySlot {
    /// An empty slot, for a `static`.
    pub const fn new() -> AnySlot {
        AnySlot {
            cell: OnceLock::new(),
        }
    }

    /// The breaker, made (or found in the global registry) on the first call.
    ///
    /// # Panics
    ///
    /// If the slot already holds a breaker with another classifier type. That can only happen
    /// when a generic function's classifier type depends on its type parameters (for example
    /// `failure_if = is_bad::<E>`): one breaker serves every instantiation, so its type must be
    /// the same for all of them.
    #[inline]
    pub fn get<C: Send + Sync + 'static>(
        &'static self,
        site: &'static str,
        name: &'static str,
        config: impl FnOnce() -> Builder<C>,
    ) -> &'static CircuitBreaker<C> {
        let any: &'static (dyn Any + Send + Sync) = &**self.cell.get_or_init(|| {
            let breaker: Arc<dyn Any + Send + Sync> = obtain(site, name, config);
            breaker
        });
        match any.downcast_ref::<CircuitBreaker<C>>() {
            Some(breaker) => breaker,
            None => mismatch(name),
        }
    }
}

impl Default for AnySlot {
    fn default() -> AnySlot {
        AnySlot::new()
    }
}

#[cold]
#[inline(never)]
fn mismatch(name: &str) -> ! {
    panic!(
        "#[circuit] `{name}`: this generic function's classifier type differs between \
         instantiations; one breaker serves every instantiation, so the classifier must not \
         depend on the function's type parameters"
    )
}

/// The breakers made so far, by the site of their `#[circuit]` attribute (module path, function
/// name, file, line and column). The guarded function and its accessor each have their own
/// `static` slot; both fill it from here, so they always get the same breaker, registered or not.
static SITES: Mutex<BTreeMap<&'static str, Arc<dyn Any + Send + Sync>>> =
    Mutex::new(BTreeMap::new());

/// The breaker of the attribute at `site`: the one made earlier for this site; else the one
/// registered in the global registry under `name` with classifier `C`; else a new one built from
/// `config` and registered. Never panics on a registration conflict: if the name is taken by a
/// breaker of another classifier type, the new breaker is used unregistered. Runs once per slot,
/// never on the call path.
fn obtain<C: Send + Sync + 'static>(
    site: &'static str,
    name: &'static str,
    config: impl FnOnce() -> Builder<C>,
) -> Arc<CircuitBreaker<C>> {
    let mut sites = SITES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(made) = sites.get(site) {
        return match Arc::clone(made).downcast() {
            Ok(breaker) => breaker,
            Err(_) => mismatch(name),
        };
    }
    let registry = Registry::global();
    let breaker = registry
        .get_breaker::<C>(name)
        .unwrap_or_else(|| register(registry, name, config));
    sites.insert(site, Arc::clone(&breaker) as Arc<dyn Any + Send + Sync>);
    breaker
}

/// Builds a breaker and registers it; if the name was registered meanwhile, the registered one
/// if it has our type, else ours, unregistered.
fn register<C: Send + Sync + 'static>(
    registry: &Registry,
    name: &'static str,
    config: impl FnOnce() -> Builder<C>,
) -> Arc<CircuitBreaker<C>> {
    let breaker = match config().name(name).build() {
        Ok(breaker) => Arc::new(breaker),
        Err(error) => invalid(name, &error),
    };
    match registry.register(Arc::clone(&breaker)) {
        Ok(()) => breaker,
        Err(_) => registry.get_breaker::<C>(name).unwrap_or(breaker),
    }
}

#[cold]
#[inline(never)]
fn invalid(name: &str, error: &crate::ConfigError) -> ! {
    panic!("#[circuit] `{name}`: invalid configuration: {error}")
}

/// The settings of `config` are valid. Evaluated in a `const` by the generated code, so a bad
/// preset or a bad `Duration` expression is a compile error, not a panic on the first call.
///
/// # Panics
///
/// At compile time, with a message naming the setting.
pub const fn check<C>(config: Config<C>) {
    let threshold = config.get_failure_threshold();
    assert!(
        threshold >= 1 && threshold <= MAX_FAILURE_THRESHOLD,
        "#[circuit]: failure_threshold must be between 1 and 65535"
    );
    assert!(
        span_ok(config.get_recovery_timeout()),
        "#[circuit]: recovery_timeout must be between 1ms and 2^42-1 ms"
    );
    assert!(
        span_ok(config.get_probe_deadline()),
        "#[circuit]: probe_deadline must be between 1ms and 2^42-1 ms"
    );
    core::mem::forget(config);
}

const fn span_ok(span: Duration) -> bool {
    !span.is_zero() && span.as_nanos() <= MAX_RECOVERY_TIMEOUT.as_nanos()
}

/// A `Result`, whatever it is called in the function's signature (`io::Result<T>` too).
pub trait IsResult {
    /// The error type.
    type Err;
    /// The error, if any.
    fn err(&self) -> Option<&Self::Err>;
}

impl<T, E> IsResult for Result<T, E> {
    type Err = E;

    #[inline]
    fn err(&self) -> Option<&E> {
        self.as_ref().err()
    }
}

/// A rejection in the function's own error type. Requires `E: From<OpenError>`.
#[inline]
pub fn reject<T, E: From<OpenError>>(rejected: OpenError) -> Result<T, E> {
    Err(E::from(rejected))
}

/// Asks `breaker` to admit one call.
///
/// # Errors
///
/// The rejection, if the breaker is open or half-open with its probe in flight.
#[inline]
pub fn admit<C>(breaker: &'static CircuitBreaker<C>) -> Result<Admitted<C>, OpenError> {
    breaker.admit().map(|ticket| Admitted {
        claim: Claim::new(breaker, ticket),
    })
}

/// One admitted call of a guarded function.
pub struct Admitted<C: 'static> {
    claim: Claim<&'static CircuitBreaker<C>>,
}

impl<C> Admitted<C> {
    /// Runs a synchronous body and records its outcome; a panic counts as a failure.
    #[inline]
    pub fn run<R, F>(mut self, body: F) -> R
    where
        F: FnOnce() -> R,
        R: IsResult,
        C: Classify<R::Err>,
    {
        let result = self.claim.run(body);
        record(&mut self.claim, &result);
        result
    }

    /// Runs an asynchronous body and records its outcome; a panic while it is polled counts
    /// as a failure, and dropping the future records nothing (a probe frees its slot).
    #[inline]
    pub fn run_async<R, F>(self, body: F) -> Guarded<C, F>
    where
        F: Future<Output = R>,
        R: IsResult,
        C: Classify<R::Err>,
    {
        Guarded {
            body,
            claim: Some(self.claim),
        }
    }
}

fn record<C, R>(claim: &mut Claim<&'static CircuitBreaker<C>>, result: &R)
where
    R: IsResult,
    C: Classify<R::Err>,
{
    let outcome = match result.err() {
        None => Outcome::Success,
        Some(error) => claim.handle().classifier().classify(error),
    };
    claim.settle(outcome);
}

pin_project! {
    /// The body of a guarded `async fn`, admitted.
    pub struct Guarded<C: 'static, F> {
        #[pin]
        body: F,
        claim: Option<Claim<&'static CircuitBreaker<C>>>,
    }
}

impl<C, F, R> Future for Guarded<C, F>
where
    F: Future<Output = R>,
    R: IsResult,
    C: Classify<R::Err>,
{
    type Output = R;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        let this = self.project();
        let Some(claim) = this.claim.as_mut() else {
            panic!("a #[circuit] future was polled after it completed");
        };
        let body = this.body;
        let result = match claim.run(|| body.poll(cx)) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => result,
        };
        record(claim, &result);
        *this.claim = None;
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::{span_ok, MAX_RECOVERY_TIMEOUT};
    use core::time::Duration;

    /// The bounds the attribute's compile-time check enforces on a time span (the
    /// compile-fail tests show the error; this pins both ends).
    #[test]
    fn a_span_is_checked_at_both_ends() {
        assert!(!span_ok(Duration::ZERO));
        assert!(span_ok(Duration::from_millis(1)));
        assert!(span_ok(MAX_RECOVERY_TIMEOUT));
        assert!(!span_ok(MAX_RECOVERY_TIMEOUT + Duration::from_millis(1)));
    }
}
