//! [`Registry`]: find breakers by name and ask which are open, the counterpart of the Python
//! original's `CircuitBreakerMonitor`.
//!
//! Registration is explicit ([`Registry::register`]; the `#[circuit]` attribute registers the
//! breakers it creates in [`Registry::global`]). A name can be registered once: a duplicate is a
//! [`RegistryError`], never a silent replacement. Nothing on a breaker's call path touches a
//! registry; the registry's lock is only taken to register, unregister and read.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use crate::observe::MetricsSnapshot;
use crate::{CircuitBreaker, State};

/// A breaker seen through a registry: its name and state, whatever its classifier type.
///
/// ```
/// use std::sync::Arc;
/// use async_breaker::{CircuitBreaker, Monitor, State};
///
/// let breaker: Arc<dyn Monitor> = Arc::new(CircuitBreaker::new());
/// assert_eq!(breaker.state(), State::Closed);
/// ```
pub trait Monitor: Send + Sync + 'static {
    /// The breaker's name.
    fn name(&self) -> &str;
    /// Its state now (see [`CircuitBreaker::state`]).
    fn state(&self) -> State;
    /// Its consecutive-failure count.
    fn failure_count(&self) -> u32;
    /// Time until it admits a probe; zero unless open.
    fn open_remaining(&self) -> Duration;
    /// Its counters, if it was built with metrics.
    fn metrics(&self) -> Option<MetricsSnapshot>;
    /// The breaker itself, for [`Registry::get_breaker`].
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<C: Send + Sync + 'static> Monitor for CircuitBreaker<C> {
    fn name(&self) -> &str {
        CircuitBreaker::name(self)
    }

    fn state(&self) -> State {
        CircuitBreaker::state(self)
    }

    fn failure_count(&self) -> u32 {
        CircuitBreaker::failure_count(self)
    }

    fn open_remaining(&self) -> Duration {
        CircuitBreaker::open_remaining(self)
    }

    fn metrics(&self) -> Option<MetricsSnapshot> {
        CircuitBreaker::metrics(self)
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

/// A registration was refused.
///
/// ```
/// use std::sync::Arc;
/// use async_breaker::{CircuitBreaker, Registry, RegistryError};
///
/// let registry = Registry::new();
/// let make = || Arc::new(CircuitBreaker::builder().name("db").build().unwrap());
/// registry.register(make())?;
/// assert_eq!(
///     registry.register(make()),
///     Err(RegistryError::Duplicate { name: "db".into() })
/// );
/// # Ok::<(), RegistryError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A breaker with this name is already registered; the registry is unchanged.
    #[error("a circuit breaker named {name:?} is already registered")]
    Duplicate {
        /// The name in question.
        name: String,
    },
}

/// A set of breakers keyed by name. Use [`Registry::global`] for the process-wide one, or make
/// local ones (per test, per subsystem) with [`Registry::new`].
///
/// Listings are sorted by name. Half-open breakers have their own filter: they are in neither
/// [`open`](Registry::open) nor [`closed`](Registry::closed), and
/// [`all_closed`](Registry::all_closed) is `false` while any breaker probes.
///
/// ```
/// use std::sync::Arc;
/// use async_breaker::{CircuitBreaker, Registry};
///
/// let registry = Registry::new();
/// for name in ["users", "orders", "payments"] {
///     let breaker = CircuitBreaker::builder().name(name).failure_threshold(1).build().unwrap();
///     registry.register(Arc::new(breaker)).unwrap();
/// }
/// assert!(registry.all_closed());
///
/// let payments = registry.get_breaker::<async_breaker::AnyError>("payments").unwrap();
/// let _ = payments.call(|| Err::<(), _>("down"));
///
/// let open: Vec<String> = registry.open().iter().map(|b| b.name().to_owned()).collect();
/// assert_eq!(open, ["payments"]);
/// assert_eq!(registry.closed().len(), 2);
/// assert!(!registry.all_closed());
/// ```
#[derive(Default)]
pub struct Registry {
    breakers: RwLock<BTreeMap<String, Arc<dyn Monitor>>>,
}

impl Registry {
    /// An empty registry.
    pub const fn new() -> Registry {
        Registry {
            breakers: RwLock::new(BTreeMap::new()),
        }
    }

    /// The process-wide registry.
    ///
    /// ```
    /// let global = async_breaker::Registry::global();
    /// assert!(std::ptr::eq(global, async_breaker::Registry::global()));
    /// ```
    pub fn global() -> &'static Registry {
        static GLOBAL: Registry = Registry::new();
        &GLOBAL
    }

    /// Adds a breaker under its name.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Duplicate`] if the name is taken.
    pub fn register<C: Send + Sync + 'static>(
        &self,
        breaker: Arc<CircuitBreaker<C>>,
    ) -> Result<(), RegistryError> {
        self.register_monitor(breaker)
    }

    /// Adds any [`Monitor`] under its name.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Duplicate`] if the name is taken.
    pub fn register_monitor(&self, breaker: Arc<dyn Monitor>) -> Result<(), RegistryError> {
        let mut breakers = self
            .breakers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let name = breaker.name();
        if breakers.contains_key(name) {
            return Err(RegistryError::Duplicate {
                name: name.to_owned(),
            });
        }
        breakers.insert(name.to_owned(), breaker);
        Ok(())
    }

    /// Removes and returns the breaker registered under `name`.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use async_breaker::{CircuitBreaker, Registry};
    /// let registry = Registry::new();
    /// registry.register(Arc::new(CircuitBreaker::new())).unwrap();
    /// assert!(registry.unregister("unnamed").is_some());
    /// assert!(registry.is_empty());
    /// ```
    pub fn unregister(&self, name: &str) -> Option<Arc<dyn Monitor>> {
        let mut breakers = self
            .breakers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        breakers.remove(name)
    }

    /// The breaker registered under `name`.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use async_breaker::{CircuitBreaker, Registry};
    /// let registry = Registry::new();
    /// registry.register(Arc::new(CircuitBreaker::builder().name("db").build().unwrap())).unwrap();
    /// assert_eq!(registry.get("db").unwrap().name(), "db");
    /// assert!(registry.get("cache").is_none());
    /// ```
    pub fn get(&self, name: &str) -> Option<Arc<dyn Monitor>> {
        let breakers = self.breakers.read().unwrap_or_else(PoisonError::into_inner);
        breakers.get(name).cloned()
    }

    /// The breaker registered under `name`, as a `CircuitBreaker<C>` you can call through;
    /// `None` if there is none or its classifier type is not `C`.
    pub fn get_breaker<C: Send + Sync + 'static>(
        &self,
        name: &str,
    ) -> Option<Arc<CircuitBreaker<C>>> {
        self.get(name)?.into_any().downcast().ok()
    }

    /// Every registered breaker.
    pub fn all(&self) -> Vec<Arc<dyn Monitor>> {
        self.matching(|_| true)
    }

    /// The breakers that are open (rejecting, with time left before a probe).
    pub fn open(&self) -> Vec<Arc<dyn Monitor>> {
        self.matching(|state| state == State::Open)
    }

    /// The breakers that are half-open (probing, or ready to).
    pub fn half_open(&self) -> Vec<Arc<dyn Monitor>> {
        self.matching(|state| state == State::HalfOpen)
    }

    /// The breakers that are closed.
    pub fn closed(&self) -> Vec<Arc<dyn Monitor>> {
        self.matching(|state| state == State::Closed)
    }

    /// Whether every registered breaker is closed (`true` for an empty registry).
    pub fn all_closed(&self) -> bool {
        let breakers = self.breakers.read().unwrap_or_else(PoisonError::into_inner);
        breakers.values().all(|b| b.state() == State::Closed)
    }

    /// How many breakers are registered.
    pub fn len(&self) -> usize {
        self.breakers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no breaker is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn matching(&self, keep: impl Fn(State) -> bool) -> Vec<Arc<dyn Monitor>> {
        let breakers = self.breakers.read().unwrap_or_else(PoisonError::into_inner);
        breakers
            .values()
            .filter(|b| keep(b.state()))
            .cloned()
            .collect()
    }
}

impl core::fmt::Debug for Registry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let breakers = self.breakers.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_map()
            .entries(breakers.iter().map(|(name, b)| (name, b.state())))
            .finish()
    }
}
