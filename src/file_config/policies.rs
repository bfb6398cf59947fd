//! [`Config`] and each of its policies, read from a table.
//!
//! One place per key: a breaker-wide setting is one arm of [`Config`]'s reader; a policy that
//! is a table of its own (backoff, failure rate, half-open probes) is one arm there plus one
//! [`Reader`] below. To add a policy, add its key to `CONFIG_KEYS`, its arm, and (for a table)
//! its reader; the range checks stay in `Config::validate`, shared with `build()`.

use core::fmt;
use core::marker::PhantomData;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::at::{missing, read_table, At};
use super::leaf::{whole, Flag, Span};
use crate::{Backoff, Config, FailureRate, HalfOpen};

/// A value read from a table of keys.
pub(crate) trait Reader: Sized {
    /// What the table is, for type errors ("expected ... for breaker `payments`").
    const WHAT: &'static str;

    /// Reads the table at `at`.
    fn read<'de, A: MapAccess<'de>>(at: At<'_>, map: A) -> Result<Self, A::Error>;
}

/// Reads a `T` from the table at `at`.
pub(crate) struct Table<'a, T>(At<'a>, PhantomData<T>);

impl<T> Table<'_, T> {
    pub(crate) fn at(at: At<'_>) -> Table<'_, T> {
        Table(at, PhantomData)
    }
}

impl<'de, T: Reader> DeserializeSeed<'de> for Table<'_, T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: Reader> Visitor<'de> for Table<'_, T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} for {}", T::WHAT, self.0)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::read(self.0, map)
    }
}

/// The keys of a breaker's table.
const CONFIG_KEYS: &[&str] = &[
    "failure_threshold",
    "recovery_timeout",
    "probe_deadline",
    "slow_call_threshold",
    "backoff",
    "failure_rate",
    "slow_call_rate",
    "half_open",
];

impl Reader for Config {
    const WHAT: &'static str = "a table of circuit breaker settings";

    fn read<'de, A: MapAccess<'de>>(at: At<'_>, map: A) -> Result<Config, A::Error> {
        let mut config = Config::new();
        read_table(map, at, CONFIG_KEYS, |key, map| {
            let here = at.key(key);
            config = match key {
                "failure_threshold" => config.failure_threshold(map.next_value_seed(whole(here))?),
                "recovery_timeout" => config.recovery_timeout(map.next_value_seed(Span(here))?),
                "probe_deadline" => config.probe_deadline(map.next_value_seed(Span(here))?),
                "slow_call_threshold" => {
                    config.slow_call_threshold(map.next_value_seed(Span(here))?)
                }
                "backoff" => config.backoff(map.next_value_seed(Table::at(here))?),
                "failure_rate" => config.failure_rate(map.next_value_seed(Table::at(here))?),
                "slow_call_rate" => {
                    let SlowCallRate { threshold, percent } =
                        map.next_value_seed(Table::at(here))?;
                    config.slow_call_rate(threshold, percent)
                }
                "half_open" => config.half_open(map.next_value_seed(Table::at(here))?),
                _ => return Ok(false),
            };
            Ok(true)
        })?;
        // The same checks as `build()`, reported at the key they concern.
        config.validate().map_err(|e| at.key(e.field()).error(e))?;
        Ok(config)
    }
}

/// `backoff = { max = "5m", jitter = true }`: [`Backoff::exponential`] up to `max`, with
/// [jitter](Backoff::with_jitter) if `jitter` is true (default false).
impl Reader for Backoff {
    const WHAT: &'static str = "a table with `max` and optionally `jitter`";

    fn read<'de, A: MapAccess<'de>>(at: At<'_>, map: A) -> Result<Backoff, A::Error> {
        let (mut max, mut jitter) = (None, false);
        read_table(map, at, &["max", "jitter"], |key, map| {
            match key {
                "max" => max = Some(map.next_value_seed(Span(at.key(key)))?),
                "jitter" => jitter = map.next_value_seed(Flag(at.key(key)))?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        let backoff = Backoff::exponential(max.ok_or_else(|| missing(at, "max"))?);
        Ok(if jitter {
            backoff.with_jitter()
        } else {
            backoff
        })
    }
}

/// `failure_rate = { last_calls = 20, min_calls = 10, percent = 50 }` for
/// [`FailureRate::last_calls`], or `{ last = "30s", buckets = 10, min_calls = 100,
/// percent = 25 }` for [`FailureRate::last`].
impl Reader for FailureRate {
    const WHAT: &'static str =
        "a table with `last_calls` or `last` and `buckets`, `min_calls` and `percent`";

    fn read<'de, A: MapAccess<'de>>(at: At<'_>, map: A) -> Result<FailureRate, A::Error> {
        let (mut calls, mut last, mut buckets) = (None, None, None);
        let (mut min_calls, mut percent) = (None, None);
        let keys = ["last_calls", "last", "buckets", "min_calls", "percent"];
        read_table(map, at, &keys, |key, map| {
            let here = at.key(key);
            match key {
                "last_calls" => calls = Some(map.next_value_seed(whole(here))?),
                "last" => last = Some(map.next_value_seed(Span(here))?),
                "buckets" => buckets = Some(map.next_value_seed(whole(here))?),
                "min_calls" => min_calls = Some(map.next_value_seed(whole(here))?),
                "percent" => percent = Some(map.next_value_seed(whole(here))?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        let min_calls = min_calls.ok_or_else(|| missing(at, "min_calls"))?;
        let percent = percent.ok_or_else(|| missing(at, "percent"))?;
        match (calls, last, buckets) {
            (Some(calls), None, None) => Ok(FailureRate::last_calls(calls, min_calls, percent)),
            (None, Some(window), Some(buckets)) => {
                Ok(FailureRate::last(window, buckets, min_calls, percent))
            }
            (Some(_), Some(_), _) => Err(at.error(
                "give `last_calls` (a window of calls) or `last` (a window of time), not both",
            )),
            (Some(_), None, Some(_)) => {
                Err(at.error("`buckets` belongs to a window of time (`last`), not `last_calls`"))
            }
            (None, Some(_), None) => Err(missing(at, "buckets")),
            (None, None, _) => Err(at.error(
                "give `last_calls` (a window of calls) or `last` and `buckets` (a window of time)",
            )),
        }
    }
}

/// `slow_call_rate = { threshold = "2s", percent = 80 }` for [`Config::slow_call_rate`]: open
/// when at least `percent` % of the calls in the window took `threshold` or longer.
struct SlowCallRate {
    threshold: core::time::Duration,
    percent: u8,
}

impl Reader for SlowCallRate {
    const WHAT: &'static str = "a table with `threshold` and `percent`";

    fn read<'de, A: MapAccess<'de>>(at: At<'_>, map: A) -> Result<SlowCallRate, A::Error> {
        let (mut threshold, mut percent) = (None, None);
        read_table(map, at, &["threshold", "percent"], |key, map| {
            match key {
                "threshold" => threshold = Some(map.next_value_seed(Span(at.key(key)))?),
                "percent" => percent = Some(map.next_value_seed(whole(at.key(key)))?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(SlowCallRate {
            threshold: threshold.ok_or_else(|| missing(at, "threshold"))?,
            percent: percent.ok_or_else(|| missing(at, "percent"))?,
        })
    }
}

/// `half_open = { probes = 3, successes = 2 }`: [`HalfOpen::probes`], closing after
/// `successes` (default: all of them).
impl Reader for HalfOpen {
    const WHAT: &'static str = "a table with `probes` and optionally `successes`";

    fn read<'de, A: MapAccess<'de>>(at: At<'_>, map: A) -> Result<HalfOpen, A::Error> {
        let (mut probes, mut successes) = (None, None);
        read_table(map, at, &["probes", "successes"], |key, map| {
            match key {
                "probes" => probes = Some(map.next_value_seed(whole(at.key(key)))?),
                "successes" => successes = Some(map.next_value_seed(whole(at.key(key)))?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        let half_open = HalfOpen::probes(probes.ok_or_else(|| missing(at, "probes"))?);
        Ok(match successes {
            Some(successes) => half_open.closing_after(successes),
            None => half_open,
        })
    }
}

/// The types that deserialize on their own, each read at the key it is usually found under.
macro_rules! deserialize_at {
    ($($ty:ty => $at:expr),* $(,)?) => {$(
        #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$ty, D::Error> {
                Table::<$ty>::at($at).deserialize(deserializer)
            }
        }
    )*};
}

deserialize_at! {
    Config => At::default(),
    Backoff => At::default().key("backoff"),
    FailureRate => At::default().key("failure_rate"),
    HalfOpen => At::default().key("half_open"),
}
