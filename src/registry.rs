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
    /// The name of the classifier type (`std::any::type_name`), for
    /// [`RegistryError::WrongClassifier`]; `None` (the default) if this is not a
    /// [`CircuitBreaker`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use async_breaker::{AnyError, CircuitBreaker, Monitor};
    ///
    /// let breaker: Arc<dyn Monitor> = Arc::new(CircuitBreaker::new());
    /// assert_eq!(breaker.classifier_type(), Some(std::any::type_name::<AnyError>()));
    /// ```
    fn classifier_type(&self) -> Option<&'static str> {
        None
    }
    /// The breaker's [remote hooks](crate::remote::Coordinated), for a coordinator (a fleet
    /// attaching what a registry holds); `None` (the default) if this is not a
    /// [`CircuitBreaker`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use async_breaker::{CircuitBreaker, Monitor};
    ///
    /// let breaker: Arc<dyn Monitor> = Arc::new(CircuitBreaker::builder().name("db").build()?);
    /// let hooks = breaker.coordinated().expect("a breaker");
    /// assert_eq!(hooks.name(), "db");
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    fn coordinated(self: Arc<Self>) -> Option<Arc<dyn crate::remote::Coordinated>> {
        None
    }
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

    fn classifier_type(&self) -> Option<&'static str> {
        Some(core::any::type_name::<C>())
    }

    fn coordinated(self: Arc<Self>) -> Option<Arc<dyn crate::remote::Coordinated>> {
        Some(self)
    }
}

/// A registration was refused, or a look-up by [`Registry::try_get_breaker`] found no breaker
/// of the type asked for.
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
    /// No breaker is registered under this name.
    #[error("no circuit breaker named {name:?} is registered")]
    Missing {
        /// The name asked for.
        name: String,
    },
    /// A breaker is registered under this name, with another classifier type than the one
    /// asked for.
    #[error(
        "the circuit breaker named {name:?} has classifier type `{registered}`, not `{requested}`"
    )]
    WrongClassifier {
        /// The name asked for.
        name: String,
        /// The classifier type asked for (`std::any::type_name`).
        requested: &'static str,
        /// The registered breaker's classifier type, or `"unknown"` for a [`Monitor`] that is
        /// not a [`CircuitBreaker`].
        registered: &'static str,
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
    /// [`try_get_breaker`](Registry::try_get_breaker) says which.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use async_breaker::{AnyError, CircuitBreaker, ErrorTypes, Registry};
    /// let registry = Registry::new();
    /// registry.register(Arc::new(CircuitBreaker::builder().name("db").build().unwrap())).unwrap();
    /// assert!(registry.get_breaker::<AnyError>("db").is_some());
    /// assert!(registry.get_breaker::<ErrorTypes>("db").is_none(), "another classifier type");
    /// ```
    pub fn get_breaker<C: Send + Sync + 'static>(
        &self,
        name: &str,
    ) -> Option<Arc<CircuitBreaker<C>>> {
        self.try_get_breaker(name).ok()
    }

    /// Like [`get_breaker`](Registry::get_breaker), with an error that says why there is no
    /// `CircuitBreaker<C>` under `name`.
    ///
    /// The classifier type must be named. A breaker built with
    /// [`failure_if`](crate::Builder::failure_if) and a closure has a type no code can name:
    /// keep the `Arc` you registered, or give the breaker a classifier type of your own (a
    /// struct implementing [`Classify`](crate::Classify), or a function pointer such as
    /// `fn(&std::io::Error) -> bool`, which a non-capturing closure coerces to).
    ///
    /// # Errors
    ///
    /// [`RegistryError::Missing`] if nothing is registered under `name`;
    /// [`RegistryError::WrongClassifier`], naming both types, if the breaker there has another
    /// classifier type.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use async_breaker::{AnyError, CircuitBreaker, Registry, RegistryError};
    ///
    /// type IsTimeout = fn(&std::io::Error) -> bool;
    /// let is_timeout: IsTimeout = |e| e.kind() == std::io::ErrorKind::TimedOut;
    ///
    /// let registry = Registry::new();
    /// let db = CircuitBreaker::builder().name("db").failure_if(is_timeout).build()?;
    /// registry.register(Arc::new(db))?;
    ///
    /// let db = registry.try_get_breaker::<IsTimeout>("db")?;
    /// assert_eq!(db.name(), "db");
    /// assert!(matches!(
    ///     registry.try_get_breaker::<IsTimeout>("cache"),
    ///     Err(RegistryError::Missing { .. })
    /// ));
    /// let wrong = registry.try_get_breaker::<AnyError>("db").unwrap_err();
    /// assert!(matches!(wrong, RegistryError::WrongClassifier { .. }));
    /// assert!(wrong.to_string().contains("AnyError"), "the registered type, by name");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_get_breaker<C: Send + Sync + 'static>(
        &self,
        name: &str,
    ) -> Result<Arc<CircuitBreaker<C>>, RegistryError> {
        let monitor = self.get(name).ok_or_else(|| RegistryError::Missing {
            name: name.to_owned(),
        })?;
        let registered = monitor.classifier_type().unwrap_or("unknown");
        monitor
            .into_any()
            .downcast()
            .map_err(|_| RegistryError::WrongClassifier {
                name: name.to_owned(),
                requested: core::any::type_name::<C>(),
                registered,
            })
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
