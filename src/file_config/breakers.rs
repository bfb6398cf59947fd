//! [`Breakers`]: a table of named breaker configurations, and the [`Registry`] it builds.

use std::collections::BTreeMap;
use std::fmt;
use std::string::String;
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use super::at::At;
use super::policies::Table;
use crate::{Builder, CircuitBreaker, Config, ConfigError, Registry, RegistryError};

/// Named breaker configurations read from a file: a table whose keys are the breakers' names
/// and whose values are [`Config`]s (feature `serde`).
///
/// Every key of a breaker's table is optional and takes the documented default when left out;
/// anything given is checked: unknown or repeated keys, values of the wrong type, malformed
/// durations and out-of-range values are errors that name the breaker, the key and the reason.
///
/// | key | value | builder method |
/// |---|---|---|
/// | `failure_threshold` | whole number, 1 to 65 535 | [`failure_threshold`](Builder::failure_threshold) |
/// | `recovery_timeout` | duration | [`recovery_timeout`](Builder::recovery_timeout) |
/// | `probe_deadline` | duration | [`probe_deadline`](Builder::probe_deadline) |
/// | `slow_call_threshold` | duration | [`slow_call_threshold`](Builder::slow_call_threshold) |
/// | `backoff` | `{ max = duration, jitter = bool }` (`jitter` optional, default false) | [`backoff`](Builder::backoff) |
/// | `failure_rate` | `{ last_calls = n, min_calls = n, percent = n }` or `{ last = duration, buckets = n, min_calls = n, percent = n }` | [`failure_rate`](Builder::failure_rate) |
/// | `half_open` | `{ probes = n, successes = n }` (`successes` optional, default all) | [`half_open`](Builder::half_open) |
///
/// Durations are strings of whole numbers with units, largest first: `"30s"`, `"250ms"`,
/// `"1m30s"`, `"2h"` (units `h`, `m`, `s`, `ms`).
///
/// Put it in your own settings type, under the key you like:
///
/// ```
/// use async_breaker::{Breakers, State};
///
/// #[derive(Debug, serde::Deserialize)]
/// struct Settings {
///     breakers: Breakers,
/// }
///
/// let settings: Settings = toml::from_str(r#"
///     [breakers.payments]
///     failure_threshold = 3
///     recovery_timeout = "1m30s"
///     backoff = { max = "10m", jitter = true }
///
///     [breakers.search]
///     failure_rate = { last_calls = 20, min_calls = 10, percent = 50 }
/// "#)?;
///
/// let registry = settings.breakers.build()?;
/// let payments = registry.get("payments").unwrap();
/// assert_eq!(payments.state(), State::Closed);
/// assert_eq!(registry.len(), 2);
///
/// let bad = toml::from_str::<Settings>(r#"
///     [breakers.payments]
///     recovery_timeout = "30 s"
/// "#);
/// assert!(bad.unwrap_err().to_string().contains(
///     "breaker `payments`, key `recovery_timeout`: malformed duration"
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub struct Breakers {
    configs: BTreeMap<String, Config>,
}

/// Building the breakers of a [`Breakers`] table failed.
///
/// ```
/// use std::sync::Arc;
/// use async_breaker::{Breakers, BreakersError, CircuitBreaker, Registry};
///
/// let breakers: Breakers = serde_json::from_str(r#"{ "payments": {} }"#)?;
/// let registry = Registry::new();
/// let taken = CircuitBreaker::builder().name("payments").build()?;
/// registry.register(Arc::new(taken))?;
/// let err = breakers.register_into(&registry, |_, builder| builder).unwrap_err();
/// assert!(matches!(err, BreakersError::Registry(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub enum BreakersError {
    /// A breaker's configuration did not build (a setting the customizing closure changed).
    #[error("breaker `{name}`: {source}")]
    Config {
        /// The breaker's name.
        name: String,
        /// What was wrong.
        source: ConfigError,
    },
    /// A name was already registered; nothing was registered.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

impl Breakers {
    /// The configuration of the breaker called `name`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let breakers: async_breaker::Breakers =
    ///     serde_json::from_str(r#"{ "db": { "recovery_timeout": "10s" } }"#)?;
    /// let db = breakers.get("db").unwrap();
    /// assert_eq!(db.get_recovery_timeout(), Duration::from_secs(10));
    /// assert_eq!(db.get_failure_threshold(), 5, "the default");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn get(&self, name: &str) -> Option<&Config> {
        self.configs.get(name)
    }

    /// The breakers' names and configurations, in name order.
    ///
    /// ```
    /// let breakers: async_breaker::Breakers = serde_json::from_str(r#"{ "b": {}, "a": {} }"#)?;
    /// let names: Vec<&str> = breakers.iter().map(|(name, _)| name).collect();
    /// assert_eq!(names, ["a", "b"]);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Config)> {
        self.configs
            .iter()
            .map(|(name, config)| (name.as_str(), config))
    }

    /// How many breakers there are.
    ///
    /// ```
    /// let none: async_breaker::Breakers = serde_json::from_str("{}")?;
    /// assert_eq!(none.len(), 0);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.configs.len()
    }

    /// Whether there are none.
    ///
    /// ```
    /// assert!(async_breaker::Breakers::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.configs.is_empty()
    }

    /// Builds every breaker, named by its key, into a new [`Registry`].
    ///
    /// # Errors
    ///
    /// None in practice: every configuration was checked when it was read. The error type is
    /// that of [`build_with`](Breakers::build_with).
    ///
    /// ```
    /// let breakers: async_breaker::Breakers =
    ///     serde_json::from_str(r#"{ "db": { "failure_threshold": 2 } }"#)?;
    /// let registry = breakers.build()?;
    /// let db = registry.get_breaker::<async_breaker::AnyError>("db").unwrap();
    /// assert_eq!(db.failure_threshold(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(&self) -> Result<Registry, BreakersError> {
        self.build_with(|_, builder| builder)
    }

    /// Like [`build`](Breakers::build), passing each breaker's [`Builder`] (already named and
    /// configured from the file) through `customize` first: to add what a file cannot hold,
    /// such as a clock, a listener, [metrics](Builder::metrics) or a classifier.
    ///
    /// `customize` may return a builder with another classifier
    /// ([`failure_on`](Builder::failure_on), [`failure_if`](Builder::failure_if),
    /// [`classify_with`](Builder::classify_with)); every breaker then has that classifier type
    /// `C`, and [`Registry::try_get_breaker::<C>`](Registry::try_get_breaker) finds it. A
    /// closure's type cannot be named: to call through breakers classified by a closure, keep
    /// them with [`build_map`](Breakers::build_map) instead, or classify with a type you can
    /// name.
    ///
    /// # Errors
    ///
    /// [`BreakersError::Config`] if a breaker does not build after `customize`.
    ///
    /// ```
    /// use async_breaker::{Breakers, ErrorTypes};
    ///
    /// let breakers: Breakers = serde_json::from_str(r#"{ "db": { "failure_threshold": 1 } }"#)?;
    /// let registry = breakers.build_with(|_name, builder| builder.metrics())?;
    /// assert!(registry.get("db").unwrap().metrics().is_some());
    ///
    /// let registry = breakers.build_with(|_name, builder| builder.failure_on::<std::io::Error>())?;
    /// let db = registry.try_get_breaker::<ErrorTypes>("db")?;
    /// let _ = db.call(|| "x".parse::<u8>()); // not an I/O error: not the database's fault
    /// assert!(db.is_closed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build_with<C: Send + Sync + 'static>(
        &self,
        customize: impl FnMut(&str, Builder) -> Builder<C>,
    ) -> Result<Registry, BreakersError> {
        let registry = Registry::new();
        self.register_into(&registry, customize)?;
        Ok(registry)
    }

    /// Builds every breaker (through `customize`, as in [`build_with`](Breakers::build_with))
    /// and adds it to an existing `registry`, for example [`Registry::global`]. Nothing is
    /// registered unless every breaker builds and no name is taken.
    ///
    /// # Errors
    ///
    /// [`BreakersError::Config`] if a breaker does not build; [`BreakersError::Registry`] if a
    /// name is already registered.
    ///
    /// ```
    /// # use async_breaker::{Breakers, Registry};
    /// let breakers: Breakers = serde_json::from_str(r#"{ "db": {} }"#)?;
    /// let registry = Registry::new();
    /// breakers.register_into(&registry, |_, builder| builder)?;
    /// assert!(registry.get("db").is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register_into<C: Send + Sync + 'static>(
        &self,
        registry: &Registry,
        customize: impl FnMut(&str, Builder) -> Builder<C>,
    ) -> Result<(), BreakersError> {
        if let Some(name) = self
            .configs
            .keys()
            .find(|name| registry.get(name).is_some())
        {
            return Err(RegistryError::Duplicate { name: name.clone() }.into());
        }
        for breaker in self.build_map(customize)?.into_values() {
            registry.register(breaker)?;
        }
        Ok(())
    }

    /// Builds every breaker (through `customize`, as in [`build_with`](Breakers::build_with))
    /// into a map from name to breaker, registered nowhere: the way to keep breakers whose
    /// classifier type cannot be named, such as a [`failure_if`](Builder::failure_if)
    /// closure's. Register them yourself if you want them listed too.
    ///
    /// # Errors
    ///
    /// [`BreakersError::Config`] if a breaker does not build after `customize`.
    ///
    /// ```
    /// use async_breaker::Breakers;
    ///
    /// let breakers: Breakers = toml::from_str(r#"
    ///     [payments]
    ///     failure_threshold = 1
    /// "#)?;
    /// let map = breakers.build_map(|_name, builder| {
    ///     builder.failure_if(|e: &std::io::Error| e.kind() == std::io::ErrorKind::TimedOut)
    /// })?;
    /// let payments = &map["payments"];
    /// let declined = std::io::Error::other("card declined");
    /// let _ = payments.call(|| Err::<(), _>(declined));
    /// assert!(payments.is_closed(), "the dependency answered");
    /// let _ = payments.call(|| Err::<(), _>(std::io::Error::from(std::io::ErrorKind::TimedOut)));
    /// assert!(payments.is_open());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build_map<C>(
        &self,
        mut customize: impl FnMut(&str, Builder) -> Builder<C>,
    ) -> Result<BTreeMap<String, Arc<CircuitBreaker<C>>>, BreakersError> {
        let mut built = BTreeMap::new();
        for (name, config) in &self.configs {
            let builder = config.builder().name(name.clone());
            let breaker =
                customize(name, builder)
                    .build()
                    .map_err(|source| BreakersError::Config {
                        name: name.clone(),
                        source,
                    })?;
            built.insert(name.clone(), Arc::new(breaker));
        }
        Ok(built)
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
impl<'de> Deserialize<'de> for Breakers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Breakers, D::Error> {
        deserializer.deserialize_map(Named)
    }
}

/// Reads the table of named breakers.
struct Named;

impl<'de> Visitor<'de> for Named {
    type Value = Breakers;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table of circuit breakers by name")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Breakers, A::Error> {
        let mut configs = BTreeMap::new();
        while let Some(name) = map.next_key::<String>()? {
            let at = At::breaker(&name);
            if configs.contains_key(&name) {
                return Err(at.error("given twice"));
            }
            let config = map.next_value_seed(Table::<Config>::at(at))?;
            configs.insert(name, config);
        }
        Ok(Breakers { configs })
    }
}
