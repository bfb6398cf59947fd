//! A lock-free, runtime-agnostic circuit breaker for async (and sync) Rust.
//!
//! A circuit breaker sits between your code and a dependency that can fail: a database, a
//! payment API, another service. While the dependency is healthy it lets every call through.
//! When calls keep failing it *opens* and turns calls away at once, so your service stops
//! queueing behind a dead dependency and the dependency gets room to recover. After a while it
//! lets one *probe* call through to find out whether the dependency is back.
//!
//! This crate is the Rust counterpart of Python's `circuitbreaker` and `aiocircuitbreaker`, with
//! the same defaults (open after 5 consecutive failures, probe after 30 s) and the same
//! vocabulary, but lock-free, exact about its probe, and usable from any executor.
//!
//! # Quick start
//!
//! ```
//! use std::time::Duration;
//! use async_breaker::{CircuitBreaker, CircuitExt, Error};
//!
//! async fn charge(amount: u64) -> Result<u64, std::io::Error> {
//!     Ok(amount) // a real network call in your code
//! }
//!
//! # futures::executor::block_on(async {
//! let breaker = CircuitBreaker::builder()
//!     .name("payments")
//!     .failure_threshold(5)
//!     .recovery_timeout(Duration::from_secs(30))
//!     .build()?;
//!
//! match charge(42).circuit(&breaker).await {
//!     Ok(receipt) => println!("charged: {receipt}"),
//!     Err(Error::Open(rejected)) => println!("not even tried: {rejected}"),
//!     Err(Error::Inner(e)) => println!("the call failed: {e}"),
//! }
//! # Ok::<(), async_breaker::ConfigError>(())
//! # }).unwrap();
//! ```
//!
//! # How it behaves
//!
//! - **Closed**: every call is admitted. A failure adds one to the consecutive-failure count; a
//!   success resets it to 0. The failure that reaches the threshold opens the breaker, and
//!   exactly one caller makes that transition however many fail at once.
//! - **Open**: calls are rejected at once with an [`OpenError`] that says how long is left.
//! - **Half-open**: once the recovery timeout has elapsed, the first caller wins a
//!   compare-exchange and becomes the **only** probe; everyone else is rejected while it runs.
//!   Its success closes the breaker; its failure re-opens it with a fresh timer.
//!
//! The whole changing state is one `AtomicU64`, changed only by compare-exchange: no lock, no
//! allocation after construction, and a closed-state success reads the word and writes nothing.
//! A dropped or cancelled call records nothing (a dropped probe frees its slot), a probe that
//! never reports is replaced after the [probe deadline](Builder::probe_deadline), and an outcome
//! from an earlier cycle is discarded. [`guide::state_machine`] has the diagram, the word's layout,
//! every guarantee and the "Cancel safety" rules.
//!
//! # Without futures
//!
//! [`CircuitBreaker::try_acquire`] returns a [`Permit`] (or the rejection) and needs no
//! executor at all: report with [`Permit::success`], [`Permit::failure`] or
//! [`Permit::record`]. [`CircuitBreaker::call`] wraps a synchronous closure.
//!
//! ```
//! use async_breaker::CircuitBreaker;
//!
//! let breaker = CircuitBreaker::new();
//! if let Ok(permit) = breaker.try_acquire() {
//!     let healthy = true; // ... run the call on your own runtime ...
//!     if healthy { permit.success() } else { permit.failure() }
//! };
//! ```
//!
//! # Which errors count
//!
//! By default every `Err` is a failure. Like the original's `expected_exception`, a breaker can
//! count only some errors: by type (also found through `source()` chains, see
//! [`ErrorTypes`]), by predicate, or with your own [`Classify`]. An error that does not count is
//! recorded as a success: the dependency answered.
//!
//! ```
//! use async_breaker::CircuitBreaker;
//!
//! let breaker = CircuitBreaker::builder()
//!     .failure_threshold(1)
//!     .failure_on::<std::io::Error>()
//!     .build()?;
//! let _ = breaker.call(|| "x".parse::<u8>()); // a parse error is not the dependency's fault
//! assert!(breaker.is_closed());
//! # Ok::<(), async_breaker::ConfigError>(())
//! ```
//!
//! A call that reports trouble inside an `Ok` (an HTTP client's `Ok(response)` with a 503)
//! is classified whole, for that call, with [`Circuit::classify`]: a closure over the
//! `Result`, or with the `http` feature, `HttpClassifier`.
//!
//! # Presets
//!
//! The original configures breakers by subclassing with constants. Here a [`Config`] is a
//! `const`:
//!
//! ```
//! use std::time::Duration;
//! use async_breaker::Config;
//!
//! const BACKEND: Config = Config::new()
//!     .failure_threshold(10)
//!     .recovery_timeout(Duration::from_secs(60));
//!
//! let users = BACKEND.builder().name("users").build()?;
//! let orders = BACKEND.builder().name("orders").build()?;
//! # Ok::<(), async_breaker::ConfigError>(())
//! ```
//!
//! # Guides
//!
//! The depth lives in the [`guide`] modules (also the repository's `docs/` folder):
//!
//! - [`guide::state_machine`]: states, the word's layout, guarantees, cancel safety, testing
//!   with [`ManualClock`].
//! - [`guide::policies`]: failure rates (by count, up to 1 024 calls, or by time), slow calls,
//!   backoff, several probes, manual control, each beside its resilience4j configuration.
//! - `guide::operate` (features `metrics`, `serde`): [`Registry`], events, counters, `tracing`,
//!   Prometheus through the `metrics` facade, breakers configured from files.
//! - `guide::tower` and `guide::attribute` (features `tower`, `macros`).
//! - `guide::http` (features `http`, `tower`): 5xx responses as failures with
//!   [`Circuit::classify`] and with the layer, a rejection as a 503 with `Retry-After`.
//! - [`guide::embedded`]: microcontrollers without 64-bit atomics (feature `portable-atomic`),
//!   a [`Clock`] from a hardware timer, and what lock-free means there.
//! - [`guide::python`], [`guide::comparison`], [`guide::verification`],
//!   [`guide::performance`].
//! - [`guide::loom`]: model-checking your own concurrent code around the breaker with loom.
//! - [`remote`]: the hooks the `async-breaker-fleet` crate uses to share one breaker across
//!   every replica of a service through Redis or Valkey. Every transition says why it happened
//!   ([`Cause`]: the breaker's own calls, manual control, or the fleet with its [`Reason`]).
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `std` | yes | the default [`QuantaClock`], [`CircuitBreaker::new`], the [`Registry`]; without it the crate is `no_std` (it needs `alloc` and 64-bit atomics, or `portable-atomic`, and every breaker takes a [`Clock`]) |
//! | `portable-atomic` | no | every atomic from the `portable-atomic` crate, for targets without a 64-bit compare-exchange (`thumbv6m`, `thumbv7m`/`thumbv7em`, `riscv32imac`): built and run under QEMU for `thumbv6m`, `thumbv7em` and `riscv32imac` ([`guide::embedded`]) |
//! | `macros` | no | the `#[circuit]` attribute for `async fn` and `fn` |
//! | `tower` | no | a tower `Layer` and `Service` |
//! | `http` | no | `HttpClassifier` (5xx responses count as failures, for [`Circuit::classify`] and the tower layer) and [`OpenError::to_http_response`] (a 503 with `Retry-After`) |
//! | `axum` | no | `http` and `tower`, and axum's `IntoResponse` for [`OpenError`] (the 503) and [`Error`], so a `HandleErrorLayer` handler around the layer is one line |
//! | `tracing` | no | `tracing` events for transitions and rejections |
//! | `metrics` | no | `Builder::export_metrics`: calls, transitions and state through the `metrics` facade, for any exporter (Prometheus, OpenTelemetry, ...) |
//! | `serde` | no | [`Config`] and its policies deserialize from any serde format; `Breakers`, a file's named breakers, builds a [`Registry`]; `duration`, the files' human durations (`"1m30s"`) for your own settings |
//!
//! # Without `std`, on a microcontroller
//!
//! Without the `std` feature the crate is `no_std` with `alloc`, and every breaker is built with
//! a [`Clock`] of your own (a hardware timer's tick count will do). Its whole state is one
//! `AtomicU64`, so a target needs a 64-bit compare-exchange; microcontrollers without one
//! (Cortex-M0/M0+, Cortex-M3/M4/M7/M33, `riscv32imac`) get it from the `portable-atomic`
//! feature:
//!
//! ```toml
//! async-breaker = { version = "0.1", default-features = false, features = ["portable-atomic"] }
//! ```
//!
//! A target without any compare-exchange (`thumbv6m`) also needs portable-atomic's
//! `critical-section` or `unsafe-assume-single-core` feature, your choice as with embassy or
//! heapless. Lock-free then means: the word changes inside a critical section a few instructions
//! long (interrupts disabled, on a single core), and nothing waits behind another caller. On a
//! 32-bit target with portable-atomic's defaults the 64-bit word is guarded by a short global
//! spin lock instead, which an interrupt handler must not need (choose
//! `unsafe-assume-single-core` there to use a breaker from interrupts). The methods that take an
//! `Arc<CircuitBreaker>` exist only where `alloc::sync::Arc` does (not on `thumbv6m`); a
//! `&'static CircuitBreaker` serves there. [`guide::embedded`] has the dependency lines, a
//! clock from a timer, every target's meaning of lock-free, and the QEMU tests.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
// The unit tests run without the `std` feature too (`.ci/nostd.sh`): the test harness needs std.
#[cfg(all(test, not(feature = "std")))]
#[macro_use]
extern crate std;

#[cfg(feature = "axum")]
mod axum;
mod bell;
mod breaker;
mod cause;
mod classify;
mod clock;
mod config;
mod error;
#[cfg(feature = "metrics")]
mod export;
mod fallback;
#[cfg(feature = "serde")]
mod file_config;
mod future;
pub mod guide;
#[cfg(feature = "http")]
mod http;
mod names;
mod observe;
mod permit;
mod probes;
#[cfg(feature = "std")]
mod registry;
pub mod remote;
mod state;
mod sync;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;
#[cfg(feature = "tracing")]
mod trace;
mod window;
mod word;

/// The README's examples, compiled and run as doc tests (they use every feature).
#[cfg(all(doctest, feature = "macros", feature = "tower", feature = "http"))]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

#[cfg(all(test, not(async_breaker_loom)))]
mod word_props;

pub use crate::breaker::CircuitBreaker;
pub use crate::cause::{Cause, Reason};
pub use crate::classify::{AnyError, Classify, ClassifyResult, ErrorType, ErrorTypes, Outcome};
#[cfg(feature = "std")]
pub use crate::clock::QuantaClock;
pub use crate::clock::{Clock, ManualClock};
pub use crate::config::{
    Backoff, Builder, Config, ConfigError, DEFAULT_FAILURE_THRESHOLD, DEFAULT_RECOVERY_TIMEOUT,
    MAX_FAILURE_THRESHOLD, MAX_RECOVERY_TIMEOUT,
};
pub use crate::error::{Error, OpenError};
pub use crate::fallback::Fallback;
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub use crate::file_config::{duration, Breakers, BreakersError};
pub use crate::future::{Circuit, CircuitExt, Classified};
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use crate::http::HttpClassifier;
pub use crate::observe::{MetricsSnapshot, Transition};
#[cfg(target_has_atomic = "ptr")]
#[cfg_attr(docsrs, doc(cfg(target_has_atomic = "ptr")))]
pub use crate::permit::OwnedPermit;
pub use crate::permit::{BreakerHandle, Permit};
pub use crate::probes::{HalfOpen, MAX_HALF_OPEN_PROBES};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use crate::registry::{Monitor, Registry, RegistryError};
pub use crate::state::State;
pub use crate::window::{FailureRate, MAX_WINDOW_BUCKETS, MAX_WINDOW_CALLS};

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use async_breaker_macros::circuit;

/// Support for the `#[circuit]` attribute's generated code. Not a public API.
#[cfg(feature = "macros")]
#[doc(hidden)]
pub mod __private;
