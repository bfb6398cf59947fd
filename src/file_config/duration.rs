//! Human durations: `"30s"`, `"250ms"`, `"1m30s"`, `"2h"`, the format of the configuration
//! files ([`Breakers`](crate::Breakers), [`Config`](crate::Config)), for your own settings too
//! (feature `serde`).
//!
//! The grammar is strict, so a typo is an error and never a silently different value: one or
//! more groups of whole digits followed by a unit, the units `h`, `m`, `s`, `ms`, each at most
//! once and from the largest to the smallest, with nothing else (no spaces, signs, fractions or
//! bare numbers). Durations are whole milliseconds.
//!
//! Use the module with serde's `with` attribute, and [`option`] for an `Option<Duration>`;
//! a malformed value is an error with the same words as in a breaker's configuration:
//!
//! ```
//! use std::time::Duration;
//!
//! #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
//! struct Settings {
//!     #[serde(with = "async_breaker::duration")]
//!     request_timeout: Duration,
//!     #[serde(with = "async_breaker::duration::option", default)]
//!     idle_timeout: Option<Duration>,
//! }
//!
//! let settings: Settings = toml::from_str(r#"request_timeout = "1m30s""#)?;
//! assert_eq!(settings.request_timeout, Duration::from_secs(90));
//! assert_eq!(settings.idle_timeout, None);
//! assert_eq!(toml::to_string(&settings)?, "request_timeout = \"1m30s\"\n");
//!
//! let bad = toml::from_str::<Settings>(r#"request_timeout = "1.5s""#).unwrap_err();
//! assert!(bad.to_string().contains(
//!     r#"malformed duration "1.5s": no fractions: use a smaller unit (`1500ms`, not `1.5s`)"#
//! ));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use alloc::string::String;
use core::fmt;
use core::time::Duration;

/// Why a duration did not parse, or cannot be written.
///
/// ```
/// use async_breaker::duration::{parse_duration, DurationError};
/// assert_eq!(parse_duration("30"), Err(DurationError::MissingUnit { number: 30 }));
/// assert_eq!(
///     parse_duration("30sec").unwrap_err().to_string(),
///     "unknown unit `sec` (use h, m, s or ms)"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Nothing to parse.
    #[error("a duration cannot be empty")]
    Empty,
    /// A unit, or something else, where a number belongs.
    #[error("expected a whole number at `{rest}`")]
    Number {
        /// What was left.
        rest: String,
    },
    /// A number with no unit after it.
    #[error("`{number}` needs a unit (h, m, s or ms)")]
    MissingUnit {
        /// The number.
        number: u64,
    },
    /// A decimal point.
    #[error("no fractions: use a smaller unit (`1500ms`, not `1.5s`)")]
    Fraction,
    /// A unit that is not one of ours.
    #[error("unknown unit `{unit}` (use h, m, s or ms)")]
    Unit {
        /// The unit given.
        unit: String,
    },
    /// A unit repeated, or smaller before larger.
    #[error("units must go from largest to smallest, each at most once (h, m, s, ms)")]
    Order,
    /// More than `Duration` holds.
    #[error("too long")]
    Overflow,
    /// A duration to write that is not a whole number of milliseconds.
    #[error("{nanos} ns is finer than the smallest unit (ms)")]
    Precision {
        /// The nanoseconds past the last whole millisecond.
        nanos: u32,
    },
}

/// The units, largest first, with their length in milliseconds.
const UNITS: [(&str, u64); 4] = [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];

/// Parses a human duration. See the [module](self) documentation for the grammar.
///
/// # Errors
///
/// A [`DurationError`] saying what is wrong with `text`.
///
/// ```
/// use std::time::Duration;
/// use async_breaker::duration::parse_duration;
/// assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
/// assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
/// assert!(parse_duration("30s1m").is_err(), "largest unit first");
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    parse(text)
}

/// Writes `duration` in the grammar [`parse_duration`] reads, largest unit first and without
/// zero groups: `"1m30s"`, `"250ms"`, `"2h"`; zero is `"0s"`.
///
/// # Errors
///
/// [`DurationError::Precision`] if `duration` is not a whole number of milliseconds;
/// [`DurationError::Overflow`] if it has more milliseconds than a `u64` holds.
///
/// ```
/// use std::time::Duration;
/// use async_breaker::duration::{format_duration, parse_duration};
/// assert_eq!(format_duration(Duration::from_secs(90)).as_deref(), Ok("1m30s"));
/// assert_eq!(format_duration(Duration::from_millis(3_723_004)).as_deref(), Ok("1h2m3s4ms"));
/// assert_eq!(format_duration(Duration::ZERO).as_deref(), Ok("0s"));
/// assert!(format_duration(Duration::from_micros(1)).is_err());
/// let d = Duration::from_millis(5_400_250);
/// assert_eq!(parse_duration(&format_duration(d)?), Ok(d));
/// # Ok::<(), async_breaker::duration::DurationError>(())
/// ```
pub fn format_duration(duration: Duration) -> Result<String, DurationError> {
    let nanos = duration.subsec_nanos() % 1_000_000;
    if nanos != 0 {
        return Err(DurationError::Precision { nanos });
    }
    let mut ms = u64::try_from(duration.as_millis()).map_err(|_| DurationError::Overflow)?;
    if ms == 0 {
        return Ok("0s".into());
    }
    let mut text = String::new();
    for (unit, length) in UNITS {
        let count = ms / length;
        if count > 0 {
            ms %= length;
            // Writing to a `String` cannot fail.
            let _ = fmt::Write::write_fmt(&mut text, format_args!("{count}{unit}"));
        }
    }
    Ok(text)
}

/// The error message for a malformed duration, shared by the configuration readers and
/// [`deserialize`], so both say the same.
pub(crate) fn malformed(text: &str, error: &DurationError) -> impl fmt::Display {
    format!("malformed duration \"{text}\": {error}")
}

/// What a deserializer expects, in its "invalid type" errors.
pub(crate) const EXPECTING: &str = "a duration such as \"30s\", \"250ms\" or \"1m30s\"";

/// Serializes a `Duration` as a string such as `"1m30s"`, for `#[serde(with =
/// "async_breaker::duration")]` (see the [module](self) documentation).
///
/// # Errors
///
/// The serializer's custom error if the duration is not a whole number of milliseconds or is
/// too long ([`format_duration`]).
///
/// ```
/// use std::time::Duration;
/// let mut json = Vec::new();
/// async_breaker::duration::serialize(
///     &Duration::from_millis(1_500),
///     &mut serde_json::Serializer::new(&mut json),
/// )?;
/// assert_eq!(json, br#""1s500ms""#);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn serialize<S: serde::Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let text = format_duration(*duration).map_err(serde::ser::Error::custom)?;
    serializer.serialize_str(&text)
}

/// Deserializes a `Duration` from a string such as `"1m30s"`, for `#[serde(with =
/// "async_breaker::duration")]` (see the [module](self) documentation).
///
/// # Errors
///
/// The deserializer's custom error, `malformed duration "<text>": <why>`, or its "invalid
/// type" error for a value that is not a string.
///
/// ```
/// use std::time::Duration;
/// let mut json = serde_json::Deserializer::from_str(r#""2h""#);
/// assert_eq!(async_breaker::duration::deserialize(&mut json)?, Duration::from_secs(7_200));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn deserialize<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    deserializer.deserialize_str(Human)
}

/// Reads a human duration from a string.
struct Human;

impl serde::de::Visitor<'_> for Human {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTING)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
        parse(v).map_err(|e| E::custom(malformed(v, &e)))
    }
}

/// The same for an `Option<Duration>`: `#[serde(with = "async_breaker::duration::option")]`,
/// with `#[serde(default)]` to let the key be left out. `None` is written as the format's
/// none (TOML has none: skip it with `skip_serializing_if = "Option::is_none"`).
///
/// ```
/// use std::time::Duration;
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Settings {
///     #[serde(with = "async_breaker::duration::option", default)]
///     idle: Option<Duration>,
/// }
///
/// let some: Settings = serde_json::from_str(r#"{ "idle": "5m" }"#)?;
/// assert_eq!(some.idle, Some(Duration::from_secs(300)));
/// let none: Settings = serde_json::from_str("{}")?;
/// assert_eq!(none.idle, None);
/// assert_eq!(serde_json::to_string(&some)?, r#"{"idle":"5m"}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub mod option {
    use core::time::Duration;

    /// Serializes `Some` as [`super::serialize`] does, `None` as none.
    ///
    /// # Errors
    ///
    /// As [`super::serialize`].
    ///
    /// ```
    /// let mut json = Vec::new();
    /// let none: Option<std::time::Duration> = None;
    /// async_breaker::duration::option::serialize(
    ///     &none,
    ///     &mut serde_json::Serializer::new(&mut json),
    /// )?;
    /// assert_eq!(json, b"null");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[allow(clippy::ref_option)] // serde's `with` passes `&Option<T>`.
    pub fn serialize<S: serde::Serializer>(
        duration: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match duration {
            Some(duration) => serializer.serialize_some(&Human(*duration)),
            None => serializer.serialize_none(),
        }
    }

    /// Deserializes a human duration, or none, as [`super::deserialize`] does.
    ///
    /// # Errors
    ///
    /// As [`super::deserialize`].
    ///
    /// ```
    /// let mut json = serde_json::Deserializer::from_str("null");
    /// assert_eq!(async_breaker::duration::option::deserialize(&mut json)?, None);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        deserializer.deserialize_option(Maybe)
    }

    /// A duration to serialize through [`super::serialize`].
    struct Human(Duration);

    impl serde::Serialize for Human {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            super::serialize(&self.0, serializer)
        }
    }

    /// Reads none, or a human duration.
    struct Maybe;

    impl<'de> serde::de::Visitor<'de> for Maybe {
        type Value = Option<Duration>;

        fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            write!(f, "{} or none", super::EXPECTING)
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Option<Duration>, E> {
            Ok(None)
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Option<Duration>, E> {
            Ok(None)
        }

        fn visit_some<D: serde::Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Option<Duration>, D::Error> {
            super::deserialize(deserializer).map(Some)
        }
    }
}

/// Parses a human duration.
pub(crate) fn parse(text: &str) -> Result<Duration, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut rest = text;
    let mut total_ms: u64 = 0;
    // Units still allowed: those after the last one used.
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(DurationError::Number { rest: rest.into() });
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| DurationError::Overflow)?;
        rest = &rest[digits..];
        if rest.starts_with(['.', ',']) {
            return Err(DurationError::Fraction);
        }
        let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        if letters == 0 {
            return Err(DurationError::MissingUnit { number });
        }
        let unit = &rest[..letters];
        rest = &rest[letters..];
        let Some(position) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(DurationError::Unit { unit: unit.into() });
        };
        if position < next_unit {
            return Err(DurationError::Order);
        }
        next_unit = position + 1;
        total_ms = number
            .checked_mul(UNITS[position].1)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or(DurationError::Overflow)?;
    }
    Ok(Duration::from_millis(total_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn good() {
        assert_eq!(parse("30s"), Ok(ms(30_000)));
        assert_eq!(parse("250ms"), Ok(ms(250)));
        assert_eq!(parse("1m30s"), Ok(ms(90_000)));
        assert_eq!(parse("2h"), Ok(ms(7_200_000)));
        assert_eq!(parse("1h2m3s4ms"), Ok(ms(3_723_004)));
        assert_eq!(
            parse("0s"),
            Ok(ms(0)),
            "zero parses; build() rejects it where it must"
        );
        assert_eq!(
            parse("90m"),
            Ok(ms(5_400_000)),
            "a unit may exceed the next one up"
        );
        assert_eq!(parse("007s"), Ok(ms(7_000)));
    }

    #[test]
    fn bad() {
        assert_eq!(parse(""), Err(DurationError::Empty));
        assert_eq!(parse("30"), Err(DurationError::MissingUnit { number: 30 }));
        assert_eq!(parse("30x"), Err(DurationError::Unit { unit: "x".into() }));
        assert_eq!(parse("1d"), Err(DurationError::Unit { unit: "d".into() }));
        assert_eq!(parse("30S"), Err(DurationError::Unit { unit: "S".into() }));
        assert_eq!(
            parse("30sec"),
            Err(DurationError::Unit { unit: "sec".into() })
        );
        assert_eq!(parse("30s1m"), Err(DurationError::Order));
        assert_eq!(parse("1s1s"), Err(DurationError::Order));
        assert_eq!(parse("s"), Err(DurationError::Number { rest: "s".into() }));
        assert_eq!(
            parse(" 30s"),
            Err(DurationError::Number {
                rest: " 30s".into()
            })
        );
        assert_eq!(
            parse("30s "),
            Err(DurationError::Number { rest: " ".into() })
        );
        assert_eq!(parse("1.5s"), Err(DurationError::Fraction));
        assert_eq!(
            parse("-1s"),
            Err(DurationError::Number { rest: "-1s".into() })
        );
        assert_eq!(parse("99999999999999999999s"), Err(DurationError::Overflow));
        assert_eq!(parse("18446744073709551615h"), Err(DurationError::Overflow));
    }
}
