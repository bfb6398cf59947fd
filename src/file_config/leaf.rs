//! The values at the leaves of a configuration: whole numbers, flags and human durations, each
//! read with its place in the file so that a wrong one is reported there.

use core::fmt;
use core::marker::PhantomData;
use core::time::Duration;

use serde::de::{DeserializeSeed, Deserializer, Visitor};

use super::at::At;
use super::duration;

/// A whole number that fits in `T` (`u8` or `u32`); its range is checked by `build()`.
pub(crate) struct Whole<'a, T>(pub(crate) At<'a>, pub(crate) PhantomData<T>);

/// Reads a whole number at `at`.
pub(crate) fn whole<T>(at: At<'_>) -> Whole<'_, T> {
    Whole(at, PhantomData)
}

impl<'de, T: TryFrom<u64>> DeserializeSeed<'de> for Whole<'_, T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_u64(self)
    }
}

impl<T: TryFrom<u64>> Visitor<'_> for Whole<'_, T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a whole number for {}", self.0)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v).map_err(|_| self.0.error(format_args!("{v} is too large")))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(self.0.error(format_args!("{v} is negative"))),
        }
    }
}

/// A flag: `true` or `false`.
pub(crate) struct Flag<'a>(pub(crate) At<'a>);

impl<'de> DeserializeSeed<'de> for Flag<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_bool(self)
    }
}

impl Visitor<'_> for Flag<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "true or false for {}", self.0)
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }
}

/// A human duration: a string such as `"30s"`, `"250ms"` or `"1m30s"`.
pub(crate) struct Span<'a>(pub(crate) At<'a>);

impl<'de> DeserializeSeed<'de> for Span<'_> {
    type Value = Duration;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Duration, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for Span<'_> {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} for {}", duration::EXPECTING, self.0)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
        duration::parse(v).map_err(|e| self.0.error(duration::malformed(v, &e)))
    }
}
