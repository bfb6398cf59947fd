//! Breakers configured from a file (feature `serde`): [`Config`](crate::Config) and its
//! policies deserialize from any serde format, and a table of named breakers ([`Breakers`])
//! builds into a [`Registry`](crate::Registry).
//!
//! The readers here are written by hand rather than derived so that every error names where
//! it happened: the breaker, the key and the reason. Unknown keys, keys given twice, values of
//! the wrong type, malformed durations and out-of-range values (the very checks of `build()`)
//! are all errors; a key left out takes its documented default, and nothing else is ever
//! filled in.
//!
//! - `at`: where a value sits, for error messages.
//! - `duration`: the human durations' grammar, public as [`crate::duration`].
//! - `leaf`: numbers, flags and durations.
//! - `policies`: [`Config`](crate::Config) and one reader per policy.
//! - `breakers`: the named table and the registry it builds.

mod at;
mod breakers;
pub mod duration;
mod leaf;
mod policies;

pub use breakers::{Breakers, BreakersError};
