//! [`Breakers`]: a table of named breaker configurations, and the [`Registry`] it builds.

use std::collections::BTreeMap;
use std::fmt;
use std::string::String;
use std::sync::Arc;
use std::vec::Vec;

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
    /// such as a clock, a listener or [metrics](Builder::metrics).
    ///
    /// # Errors
    ///
    /// [`BreakersError::Config`] if a breaker does not build after `customize`.
    ///
    /// ```
    /// let breakers: async_breaker::Breakers = serde_json::from_str(r#"{ "db": {} }"#)?;
    /// let registry = breakers.build_with(|_name, builder| builder.metrics())?;
    /// assert!(registry.get("db").unwrap().metrics().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build_with(
        &self,
        customize: impl FnMut(&str, Builder) -> Builder,
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
    pub fn register_into(
        &self,
        registry: &Registry,
        mut customize: impl FnMut(&str, Builder) -> Builder,
    ) -> Result<(), BreakersError> {
        let mut built: Vec<Arc<CircuitBreaker>> = Vec::with_capacity(self.configs.len());
        for (name, config) in &self.configs {
            if registry.get(name).is_some() {
                return Err(RegistryError::Duplicate { name: name.clone() }.into());
            }
            let builder = config.builder().name(name.clone());
            let breaker =
                customize(name, builder)
                    .build()
                    .map_err(|source| BreakersError::Config {
                        name: name.clone(),
                        source,
                    })?;
            built.push(Arc::new(breaker));
        }
        for breaker in built {
            registry.register(breaker)?;
        }
        Ok(())
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
