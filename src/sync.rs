//! The one place that names the atomics the breaker uses.
//!
//! Under `--cfg async_breaker_loom` these are loom's model-checked types; otherwise the standard
//! library's. The cfg is specific to this crate, so turning it on does not switch loom mode in
//! tokio or any other dependency that reacts to the plain `loom` cfg.

#[cfg(async_breaker_loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(async_breaker_loom)]
pub(crate) use loom::sync::Arc;

#[cfg(not(async_breaker_loom))]
pub(crate) use alloc::sync::Arc;
#[cfg(not(async_breaker_loom))]
pub(crate) use core::sync::atomic::{AtomicU64, Ordering};
