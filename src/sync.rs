//! The one place that names the atomics the breaker uses.
//!
//! Under `--cfg async_breaker_loom` the word's atomics are loom's model-checked types; otherwise
//! the standard library's, or with the `portable-atomic` feature the `portable-atomic` crate's
//! (native instructions where the target has them, emulated where it has not). The cfg is
//! specific to this crate, so turning it on does not switch loom mode in tokio or any other
//! dependency that reacts to the plain `loom` cfg.
//!
//! [`atomic`] is for the atomics loom does not model (counters that are never a decision
//! input): the standard library's, or portable-atomic's with the feature, under loom too.

// The one error a user should see on such a target, rather than a missing `AtomicU64`.
#[cfg(all(not(target_has_atomic = "64"), not(feature = "portable-atomic")))]
compile_error!(
    "async-breaker needs 64-bit atomics, which this target does not have: enable the crate's \
     `portable-atomic` feature (the crate's guide::embedded says how)"
);

#[cfg(async_breaker_loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(async_breaker_loom)]
pub(crate) use loom::sync::Arc;

// `alloc::sync::Arc` exists only where the target has a pointer-sized compare-exchange; without
// one (thumbv6m), the feature brings portable-atomic-util's. Only `ManualClock` uses it there:
// the APIs that take an `Arc<CircuitBreaker>` are not compiled on such a target.
#[cfg(all(not(async_breaker_loom), target_has_atomic = "ptr"))]
pub(crate) use alloc::sync::Arc;
#[cfg(all(
    not(async_breaker_loom),
    not(target_has_atomic = "ptr"),
    feature = "portable-atomic"
))]
pub(crate) use portable_atomic_util::Arc;

#[cfg(not(async_breaker_loom))]
pub(crate) use self::atomic::{AtomicU64, Ordering};

/// The atomics that stay real under loom: `core`'s, or portable-atomic's with the feature.
#[cfg(not(feature = "portable-atomic"))]
pub(crate) use core::sync::atomic;
/// The atomics that stay real under loom: `core`'s, or portable-atomic's with the feature.
#[cfg(feature = "portable-atomic")]
pub(crate) use portable_atomic as atomic;
