//! Human durations for configuration files: `"30s"`, `"250ms"`, `"1m30s"`, `"2h"`.
//!
//! The grammar is strict, so a typo is an error and never a silently different value: one or
//! more groups of whole digits followed by a unit, the units `h`, `m`, `s`, `ms`, each at most
//! once and from the largest to the smallest, with nothing else (no spaces, signs, fractions or
//! bare numbers).

use core::time::Duration;

/// Why a duration did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DurationError {
    /// Nothing to parse.
    #[error("a duration cannot be empty")]
    Empty,
    /// A unit, or something else, where a number belongs.
    #[error("expected a whole number at `{rest}`")]
    Number {
        /// What was left.
        rest: alloc::string::String,
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
        unit: alloc::string::String,
    },
    /// A unit repeated, or smaller before larger.
    #[error("units must go from largest to smallest, each at most once (h, m, s, ms)")]
    Order,
    /// More than `Duration` holds.
    #[error("too long")]
    Overflow,
}

/// The units, largest first, with their length in milliseconds.
const UNITS: [(&str, u64); 4] = [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];

/// Parses a human duration. See the module documentation for the grammar.
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
