//! Which errors count as failures: the counterpart of the Python original's
//! `expected_exception`.
//!
//! A breaker carries a classifier `C` as a type parameter. When a guarded call returns
//! `Err(e)`, the breaker asks `C::classify(&e)` what the error means for the dependency's health:
//!
//! - [`AnyError`] (the default): every `Err` is a failure. It works for every error type and
//!   compiles to nothing.
//! - [`ErrorTypes`]: only errors of the listed types count, found by walking the
//!   [`source()`](std::error::Error::source) chain; other errors count as successes, as in the
//!   original (the dependency answered).
//! - any `Fn(&E) -> bool`: a predicate; `true` means failure.
//! - your own [`Classify`] impl, which may also answer [`Outcome::Ignore`].
//!
//! Classification only ever changes what is *recorded*; the caller always gets its own error
//! back, unchanged, inside [`Error::Inner`](crate::Error::Inner).

use alloc::borrow::Cow;
use core::error::Error as StdError;
use core::fmt;

/// What one finished call says about the guarded dependency.
///
/// ```
/// use async_breaker::{Classify, Outcome};
///
/// /// Timeouts count, a caller's own mistake is ignored, anything else means "it answered".
/// struct Http;
/// impl Classify<u16> for Http {
///     fn classify(&self, status: &u16) -> Outcome {
///         match status {
///             500.. => Outcome::Failure,
///             400..=499 => Outcome::Ignore,
///             _ => Outcome::Success,
///         }
///     }
/// }
/// assert_eq!(Http.classify(&503), Outcome::Failure);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The dependency is healthy: resets the failure count; closes a half-open breaker.
    Success,
    /// The dependency failed: counts towards the threshold; re-opens a half-open breaker.
    Failure,
    /// Says nothing about the dependency (a cancelled request, the caller's own mistake): records
    /// nothing, and frees the probe slot if the call was the half-open probe.
    Ignore,
}

/// Decides what an error returned by a guarded call means.
///
/// A breaker carries a classifier as its type parameter `C`. When a guarded call returns
/// `Err(e)`, the breaker records `C::classify(&e)`:
///
/// - [`AnyError`] (the default): every `Err` is a failure, for every error type, at no cost.
/// - [`ErrorTypes`]: only errors of the listed types count, also found through the `source()`
///   chain; other errors count as successes, as in the Python original (the dependency
///   answered).
/// - any `Fn(&E) -> bool`: a predicate; `true` means failure.
/// - your own implementation, which may also answer [`Outcome::Ignore`].
///
/// Classification only changes what is recorded: the caller always gets its own error back,
/// unchanged, in [`Error::Inner`](crate::Error::Inner).
///
/// ```
/// use async_breaker::{Classify, Outcome};
///
/// struct OnlyTimeouts;
/// impl Classify<std::io::Error> for OnlyTimeouts {
///     fn classify(&self, error: &std::io::Error) -> Outcome {
///         if error.kind() == std::io::ErrorKind::TimedOut {
///             Outcome::Failure
///         } else {
///             Outcome::Success
///         }
///     }
/// }
/// # let _ = OnlyTimeouts;
/// ```
pub trait Classify<E> {
    /// What `error` means for the dependency's health.
    fn classify(&self, error: &E) -> Outcome;
}

/// The default classifier: every `Err` is a failure, whatever its type.
///
/// ```
/// use async_breaker::{AnyError, Classify, Outcome};
/// assert_eq!(AnyError.classify(&"anything"), Outcome::Failure);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AnyError;

impl<E> Classify<E> for AnyError {
    #[inline]
    fn classify(&self, _: &E) -> Outcome {
        Outcome::Failure
    }
}

/// A predicate classifier: `true` means failure, `false` success.
///
/// ```
/// use async_breaker::{Classify, Outcome};
/// let is_timeout = |e: &&str| e.contains("timeout");
/// assert_eq!(is_timeout.classify(&"read timeout"), Outcome::Failure);
/// assert_eq!(is_timeout.classify(&"not found"), Outcome::Success);
/// ```
impl<E, F> Classify<E> for F
where
    F: Fn(&E) -> bool,
{
    #[inline]
    fn classify(&self, error: &E) -> Outcome {
        if self(error) {
            Outcome::Failure
        } else {
            Outcome::Success
        }
    }
}

/// One error type to look for, made in a `const` by [`ErrorType::of`].
///
/// ```
/// use async_breaker::ErrorType;
/// const IO: ErrorType = ErrorType::of::<std::io::Error>();
/// # let _ = IO;
/// ```
#[derive(Clone, Copy)]
pub struct ErrorType {
    is: fn(&(dyn StdError + 'static)) -> bool,
    name: fn() -> &'static str,
}

impl ErrorType {
    /// The error type `T`.
    pub const fn of<T: StdError + 'static>() -> ErrorType {
        ErrorType {
            is: is_type::<T>,
            name: core::any::type_name::<T>,
        }
    }

    /// Whether `error` is of this type.
    ///
    /// ```
    /// use async_breaker::ErrorType;
    /// let e = std::io::Error::other("x");
    /// assert!(ErrorType::of::<std::io::Error>().matches(&e));
    /// assert!(!ErrorType::of::<std::fmt::Error>().matches(&e));
    /// ```
    pub fn matches(&self, error: &(dyn StdError + 'static)) -> bool {
        (self.is)(error)
    }
}

fn is_type<T: StdError + 'static>(error: &(dyn StdError + 'static)) -> bool {
    error.is::<T>()
}

impl fmt::Debug for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str((self.name)())
    }
}

/// Counts an error as a failure only if it, or an error in its `source()` chain, is of one of
/// the listed types. Any other error counts as a success. Needs `E: std::error::Error + 'static`.
///
/// Build it with [`Builder::failure_on`](crate::Builder::failure_on) (repeat to add types) or,
/// in a `const` preset, with [`Config::failure_on_types`](crate::Config::failure_on_types).
///
/// ```
/// use std::io;
/// use async_breaker::{Classify, ErrorType, ErrorTypes, Outcome};
///
/// #[derive(Debug)]
/// struct Wrapped(io::Error);
/// impl std::fmt::Display for Wrapped {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("wrapped")
///     }
/// }
/// impl std::error::Error for Wrapped {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
///         Some(&self.0)
///     }
/// }
///
/// const IO_ONLY: ErrorTypes = ErrorTypes::new(&[ErrorType::of::<io::Error>()]);
/// let io_only = IO_ONLY; // or, at run time: ErrorTypes::new(&[]).with::<io::Error>()
/// assert_eq!(io_only.classify(&Wrapped(io::Error::other("reset"))), Outcome::Failure);
/// assert_eq!(io_only.classify(&std::fmt::Error), Outcome::Success);
/// ```
#[derive(Clone, Debug)]
pub struct ErrorTypes {
    types: Cow<'static, [ErrorType]>,
}

impl ErrorTypes {
    /// The given types, usable in a `const` (a list made at run time: start from
    /// `ErrorTypes::new(&[])` and add types with [`with`](ErrorTypes::with)).
    pub const fn new(types: &'static [ErrorType]) -> ErrorTypes {
        ErrorTypes {
            types: Cow::Borrowed(types),
        }
    }

    /// Adds `T` to the list.
    ///
    /// ```
    /// use async_breaker::ErrorTypes;
    /// let types = ErrorTypes::new(&[]).with::<std::io::Error>();
    /// assert_eq!(types.types().len(), 1);
    /// ```
    #[must_use]
    pub fn with<T: StdError + 'static>(mut self) -> ErrorTypes {
        self.types.to_mut().push(ErrorType::of::<T>());
        self
    }

    /// The listed types.
    pub fn types(&self) -> &[ErrorType] {
        &self.types
    }

    /// Whether `error` or anything in its `source()` chain is of a listed type.
    pub fn matches(&self, error: &(dyn StdError + 'static)) -> bool {
        let mut next = Some(error);
        while let Some(error) = next {
            if self.types.iter().any(|t| t.matches(error)) {
                return true;
            }
            next = error.source();
        }
        false
    }
}

impl<E: StdError + 'static> Classify<E> for ErrorTypes {
    fn classify(&self, error: &E) -> Outcome {
        if self.matches(error) {
            Outcome::Failure
        } else {
            Outcome::Success
        }
    }
}

/// Decides what a whole finished call means, `Ok` included: the classifier of
/// [`Circuit::classify`](crate::Circuit::classify).
///
/// The breaker's own [`Classify`] only ever sees errors, which is right for most calls. Some
/// calls report the dependency's trouble inside an `Ok`, though: an HTTP client returns
/// `Ok(response)` for a 503. A `ClassifyResult` looks at the whole `Result` of one call
/// instead. It is implemented by every closure `Fn(&Result<T, E>) -> Outcome` and, with the
/// `http` feature, by `HttpClassifier` for HTTP responses.
///
/// ```
/// use async_breaker::{ClassifyResult, Outcome};
///
/// /// Trouble reported in-band: `Ok(None)` means the backend had nothing to serve.
/// struct EmptyIsFailure;
/// impl<E> ClassifyResult<Option<u32>, E> for EmptyIsFailure {
///     fn classify_result(&self, result: &Result<Option<u32>, E>) -> Outcome {
///         match result {
///             Ok(Some(_)) => Outcome::Success,
///             Ok(None) | Err(_) => Outcome::Failure,
///         }
///     }
/// }
/// assert_eq!(EmptyIsFailure.classify_result(&Ok::<_, ()>(None)), Outcome::Failure);
/// assert_eq!(EmptyIsFailure.classify_result(&Ok::<_, ()>(Some(1))), Outcome::Success);
/// ```
pub trait ClassifyResult<T, E> {
    /// What `result` says about the dependency: [`Outcome::Ignore`] records nothing (and frees
    /// the probe slot if the call was the half-open probe).
    fn classify_result(&self, result: &Result<T, E>) -> Outcome;
}

/// A closure classifies the whole result.
///
/// ```
/// use async_breaker::{ClassifyResult, Outcome};
///
/// let zero_is_failure = |r: &Result<u32, ()>| match r {
///     Ok(0) | Err(()) => Outcome::Failure,
///     Ok(_) => Outcome::Success,
/// };
/// assert_eq!(zero_is_failure.classify_result(&Ok(0)), Outcome::Failure);
/// assert_eq!(zero_is_failure.classify_result(&Ok(7)), Outcome::Success);
/// ```
impl<T, E, F> ClassifyResult<T, E> for F
where
    F: Fn(&Result<T, E>) -> Outcome,
{
    #[inline]
    fn classify_result(&self, result: &Result<T, E>) -> Outcome {
        self(result)
    }
}
