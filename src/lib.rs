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
//! # The state machine
//!
//! ```text
//!            failure #threshold
//!   +--------+  (one caller wins)  +------+
//!   | Closed | ------------------> | Open | <-----------------+
//!   +--------+                     +------+                   |
//!       ^                             | recovery timeout       | probe fails
//!       |      probe succeeds         v elapsed                | (fresh timer)
//!       +------------------------ +-----------+ --------------+
//!                                 | Half-open |
//!                                 +-----------+
//!                 exactly one probe admitted; everyone else rejected
//! ```
//!
//! - **Closed**: every call is admitted. A failure adds one to the consecutive-failure count; a
//!   success resets it to 0. The failure that reaches the threshold opens the breaker; exactly
//!   one caller performs that transition, however many fail at once.
//! - **Open**: calls are rejected with [`OpenError`], which says how long is left.
//! - **Half-open**: reported by [`CircuitBreaker::state`] as soon as the recovery timeout has
//!   elapsed. The first caller to arrive wins a compare-exchange and becomes the **only** probe;
//!   everyone else is rejected while it runs. A successful probe closes the breaker; a failed
//!   one re-opens it with a fresh timer.
//!
//! # One word of state
//!
//! The breaker's whole changing state is one `AtomicU64`:
//!
//! ```text
//!  63    61 60    58 57                 42 41                                          0
//! +--------+--------+---------------------+---------------------------------------------+
//! | level  | phase  |      failures       |            stamp (milliseconds)             |
//! +--------+--------+---------------------+---------------------------------------------+
//!  backoff    closed   consecutive failures   open: when it opened
//!  level      open     (up to 65 535)         probing: when the probe was admitted
//!  (0..=7)    half-open                       closed: identity of this closed cycle
//!             probing                         (42 bits of milliseconds: 139 years)
//!             forced-open
//!             disabled
//! ```
//!
//! Every change is a compare-exchange from one whole word to the next, so every transition is
//! atomic and linearizable: there is no moment when the count says one thing and the phase
//! another. There is no lock to hold, so no caller can be descheduled while holding one, and
//! nothing is allocated after construction.
//!
//! What each path costs:
//!
//! | path | atomic operations | clock reads |
//! |---|---|---|
//! | closed, admit | 1 load | 0 |
//! | closed, success with count 0 | 1 load | 0 |
//! | closed, failure (or success resetting a count) | load + CAS | 0 (1 when it opens) |
//! | open, reject | 1 load | 1 |
//! | half-open, claim the probe | load + CAS | 1 |
//!
//! # Guarantees
//!
//! - **Exactly one probe.** The half-open slot is claimed by compare-exchange: of any number of
//!   concurrent callers, one is admitted and the rest are rejected until it reports.
//! - **No wedging.** A probe whose future or [`Permit`] is dropped frees the slot at once, and
//!   the next caller probes. A probe that never reports at all (its permit leaked with
//!   `mem::forget`, its future parked for ever) is replaced once the
//!   [probe deadline](Builder::probe_deadline) has passed (default: the recovery timeout).
//! - **No stale outcomes.** A permit remembers the cycle that admitted it. An outcome reported
//!   after the breaker has opened (and perhaps closed again) since, or by a probe that was
//!   replaced, is discarded: a slow old failure can't count against a fresh closed cycle.
//! - **Panics count.** If the guarded work panics (in [`CircuitBreaker::call`] or while a
//!   [`Circuit`] future is being polled), the call is recorded as a failure and the panic goes on.
//! - **Recorded times never move backwards**: every reading is clamped to be no earlier than the
//!   breaker's last recorded transition, so a clock that steps back only delays the end of an
//!   open period until the clock catches up (an open period that had already run out may read
//!   as open again meanwhile). A clock that jumps far ahead is clamped too: nothing panics or
//!   overflows.
//! - **Limits**: stamps are 42 bits of milliseconds. After 139 years of uptime, or with a clock
//!   that reports beyond that, every timeout counts as elapsed (the breaker never sticks open)
//!   but cycles can no longer be told apart, so stale outcomes may count.
//!
//! # Cancel safety
//!
//! Admission happens at the first poll of a [`Circuit`] future, not when it is made. Dropping
//! the future at any point records nothing: a closed-state call leaves no trace and a probe
//! frees its slot. The same holds for dropping a [`Permit`] without reporting an outcome. This
//! makes `circuit()` safe inside `select!` and under timeouts: a call cut off by your own timeout
//! is neither a success nor a failure. If you want a timeout to count as a failure, put the
//! timeout *inside* the guarded future.
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
//! # Testing your code
//!
//! [`ManualClock`] moves only when told to, so tests of code that uses a breaker need no
//! sleeps. Clones share one time.
//!
//! # Beyond consecutive failures
//!
//! All off by default, and free until used: manual control ([`CircuitBreaker::force_open`],
//! [`CircuitBreaker::disable`], [`CircuitBreaker::reset`]), a third outcome
//! ([`Outcome::Ignore`]), [`Backoff`] of the open period (its level lives in the word), slow
//! calls as failures ([`Builder::slow_call_threshold`]), a [`FailureRate`] over a count- (up
//! to 1 024 calls) or time-based window and a slow-call rate ([`Builder::slow_call_rate`]) over
//! the same window (lock-free side structures; the trip itself is still one compare-exchange
//! on the word), the probe deadline, and several half-open probes
//! ([`HalfOpen`], counted in a side word whose round is the word's stamp).
//!
//! # Watching breakers
//!
//! - [`Registry`] (the original's `CircuitBreakerMonitor`): register breakers by name, look
//!   them up, list the open, half-open or closed ones. [`Registry::global`] is process-wide.
//! - [`Builder::on_transition`]: a listener called exactly once per state change, by the caller
//!   whose compare-exchange made it.
//! - [`Builder::metrics`]: opt-in counters of admissions, rejections, outcomes and transitions,
//!   read with [`CircuitBreaker::metrics`].
//! - The `tracing` feature: an event per state change and per rejection.
//! - The `metrics` feature: `Builder::export_metrics` reports through the `metrics` facade.
//!
//! None of these is on the default hot path: a breaker built without them never touches them.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `std` | yes | the default [`QuantaClock`], [`CircuitBreaker::new`], the [`Registry`]; without it the crate is `no_std` (it needs `alloc` and 64-bit atomics, and every breaker takes a [`Clock`]) |
//! | `macros` | no | the `#[circuit]` attribute for `async fn` and `fn` |
//! | `tower` | no | a tower `Layer` and `Service` |
//! | `tracing` | no | `tracing` events for transitions and rejections |
//! | `metrics` | no | `Builder::export_metrics`: calls, transitions and state through the `metrics` facade, for any exporter (Prometheus, OpenTelemetry, ...) |
//! | `serde` | no | [`Config`] and its policies deserialize from any serde format; `Breakers`, a file's named breakers, builds a [`Registry`] |
//!
//! Targets without a 64-bit compare-exchange (for example `thumbv6m`, `thumbv7m`, `riscv32imac`)
//! are not supported: the whole design is one `AtomicU64`.
//!
//! # Compared with the alternatives
//!
//! | | async-breaker | `circuitbreaker` (Python) | failsafe 1.3 | recloser 1.4 |
//! |---|---|---|---|---|
//! | state | one `AtomicU64`, CAS | plain attributes, no locking | `parking_lot::Mutex` | crossbeam-epoch state + spin-locked ring buffer |
//! | half-open admits | exactly one probe, by CAS | every concurrent caller | every caller until the first outcome | every caller until the half-open ring is full |
//! | dropped or cancelled call | records nothing; a probe frees its slot | counts as a success | no probe slot | no probe slot |
//! | outcome from an earlier cycle | discarded | counted | recorded in the current state | recorded in the current state |
//! | runtime | any, or none (permits) | asyncio | any | any |
//! | loom-tested | yes | no | no | no |
//!
//! tower-resilience guards its state with a `tokio::sync::Mutex` and works as tower middleware;
//! this crate also offers a tower layer (feature `tower`) without the lock.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;

mod breaker;
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
mod intern;
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
#[cfg(all(doctest, feature = "macros", feature = "tower"))]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

#[cfg(all(test, not(async_breaker_loom)))]
mod word_props;

pub use crate::breaker::CircuitBreaker;
pub use crate::classify::{AnyError, Classify, ErrorType, ErrorTypes, Outcome};
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
pub use crate::file_config::{Breakers, BreakersError};
pub use crate::future::{Circuit, CircuitExt};
pub use crate::observe::{MetricsSnapshot, Transition};
pub use crate::permit::{BreakerHandle, OwnedPermit, Permit};
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
