//! Where a value sits in a configuration file, so an error can say so; and the loop that reads
//! a table's keys, refusing unknown and repeated ones.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::de::{Error, MapAccess};

/// A breaker and a key path (at most `table.key`), as error messages show them:
/// ``breaker `payments`, key `backoff.max` ``.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct At<'a> {
    breaker: Option<&'a str>,
    table: Option<&'a str>,
    key: Option<&'a str>,
}

impl<'a> At<'a> {
    /// The configuration of the breaker called `name`.
    pub(crate) fn breaker(name: &'a str) -> At<'a> {
        At {
            breaker: Some(name),
            ..At::default()
        }
    }

    /// The value of `key` inside this one.
    pub(crate) fn key(self, key: &'a str) -> At<'a> {
        At {
            breaker: self.breaker,
            table: self.key,
            key: Some(key),
        }
    }

    /// An error about the value here.
    pub(crate) fn error<E: Error>(self, reason: impl fmt::Display) -> E {
        E::custom(format_args!("{self}: {reason}"))
    }
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.breaker, self.table, self.key) {
            (None, _, None) => f.write_str("breaker configuration"),
            (Some(name), _, None) => write!(f, "breaker `{name}`"),
            (breaker, table, Some(key)) => {
                if let Some(name) = breaker {
                    write!(f, "breaker `{name}`, ")?;
                }
                match table {
                    Some(table) => write!(f, "key `{table}.{key}`"),
                    None => write!(f, "key `{key}`"),
                }
            }
        }
    }
}

/// Reads the table at `at` key by key: `read` reads the value of a key it knows and returns
/// `Ok(true)`, or returns `Ok(false)` for a key it does not know, which is then an error that
/// lists `known`. A key given twice is an error too.
pub(crate) fn read_table<'de, A: MapAccess<'de>>(
    mut map: A,
    at: At<'_>,
    known: &[&str],
    mut read: impl FnMut(&str, &mut A) -> Result<bool, A::Error>,
) -> Result<(), A::Error> {
    let mut seen: Vec<String> = Vec::new();
    while let Some(key) = map.next_key::<String>()? {
        if seen.contains(&key) {
            return Err(at.key(&key).error("given twice"));
        }
        if !read(&key, &mut map)? {
            return Err(at.error(format_args!(
                "unknown key `{key}` (expected {})",
                OneOf(known)
            )));
        }
        seen.push(key);
    }
    Ok(())
}

/// "`a`, `b` or `c`".
struct OneOf<'a>(&'a [&'a str]);

impl fmt::Display for OneOf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, key) in self.0.iter().enumerate() {
            let sep = match i {
                0 => "",
                i if i + 1 == self.0.len() => " or ",
                _ => ", ",
            };
            write!(f, "{sep}`{key}`")?;
        }
        Ok(())
    }
}

/// The error for a key that must be given.
pub(crate) fn missing<E: Error>(at: At<'_>, key: &str) -> E {
    at.error(format_args!("missing key `{key}`"))
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::*;

    #[test]
    fn places_read_naturally() {
        assert_eq!(At::default().to_string(), "breaker configuration");
        assert_eq!(At::default().key("backoff").to_string(), "key `backoff`");
        assert_eq!(
            At::default().key("backoff").key("max").to_string(),
            "key `backoff.max`"
        );
        let p = At::breaker("payments");
        assert_eq!(p.to_string(), "breaker `payments`");
        assert_eq!(
            p.key("recovery_timeout").to_string(),
            "breaker `payments`, key `recovery_timeout`"
        );
        assert_eq!(
            p.key("failure_rate").key("percent").to_string(),
            "breaker `payments`, key `failure_rate.percent`"
        );
    }

    #[test]
    fn lists_read_naturally() {
        assert_eq!(OneOf(&["a"]).to_string(), "`a`");
        assert_eq!(OneOf(&["a", "b"]).to_string(), "`a` or `b`");
        assert_eq!(OneOf(&["a", "b", "c"]).to_string(), "`a`, `b` or `c`");
    }
}
