//! One circuit breaker across every replica of a service, through Redis or Valkey.
//!
//! Attach an [`async_breaker::CircuitBreaker`] to a [`Fleet`] and every replica's breaker of
//! that name acts as one:
//!
//! - **Nothing on the call path.** Calls still only touch the breaker's local lock-free word.
//!   A background agent watches the word and talks to the server on transitions only.
//! - **A quorum opens everyone**: when enough distinct live replicas' breakers trip
//!   ([`Quorum`], two by default), every replica opens and says why; one sick replica opens
//!   only itself.
//! - **Exactly one probe fleet-wide, where the callers are**: when the open period ends, one
//!   replica whose callers are waiting wins a lease (atomically, on the server) and probes;
//!   its outcome closes or re-opens every replica.
//! - **Atomic, versioned state**: every fleet transition is one Lua script bumping a
//!   generation; late or replayed messages are discarded. Open periods travel as server TTLs,
//!   never as timestamps.
//! - **Fleet-wide counting** (opt-in, [`FleetBuilder::fleet_counting`]).
//! - **The server is never a single point of failure**: if it is down, slow or partitioned,
//!   every replica degrades to a plain local breaker and reconciles when it comes back.
//!
//! # Runtime
//!
//! The agent runs on two OS threads of its own (one for commands, one subscribed to the
//! namespace's channel) with redis' blocking client. It needs no async runtime and never
//! blocks one: it works the same under tokio, async-std, smol or no executor at all. It
//! sleeps until there is news: an attached breaker wakes it when it changes state
//! ([`Remote::register_waker`](async_breaker::remote::Remote::register_waker)), as do
//! messages and its own timers (reconcile, lease renewal).
//!
//! # Deployments
//!
//! One server ([`Fleet::builder`]), a Redis Cluster ([`Fleet::cluster`]: each breaker's keys
//! share one slot; redirections, slot migrations and failovers are followed) or a primary
//! behind Sentinel ([`Fleet::sentinel`]: asked of the sentinels at every connect, so a
//! failover is followed). During a failover the replica's breakers work locally.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use async_breaker::CircuitBreaker;
//! use async_breaker_fleet::Fleet;
//!
//! let fleet = Fleet::builder("redis://127.0.0.1:6379/")
//!     .namespace("shop")
//!     .build()?;
//! let payments = Arc::new(
//!     CircuitBreaker::builder()
//!         .name("payments")
//!         .failure_threshold(5)
//!         .recovery_timeout(Duration::from_secs(30))
//!         .build()?,
//! );
//! let _attached = fleet.attach(&payments)?;
//! // Use `payments` as usual; it now opens when two replicas' "payments" breakers opened.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Threat model
//!
//! Whoever can write the namespace's keys or publish on its channel can open (and close) your
//! breakers on every replica. Protect the server like any other control plane: AUTH (user and
//! password in the URL), TLS (`rediss://`, feature `tls`), ACLs limiting the key pattern
//! `<namespace>:*` and the channel `<namespace>:fleet` to the service's user. Malformed input
//! is never trusted: it is dropped, counted in [`FleetStats::malformed_dropped`] and logged
//! with a `tracing` warning, and the scripts overwrite malformed keys.
//!
//! The [`guide`] has the settings, the protocol, a sequence diagram, a comparison with
//! gobreaker v2 and tripswitch, and the limits.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms, unreachable_pub)]

mod agent;
mod builder;
mod error;
#[cfg(feature = "metrics")]
mod export;
mod fleet;
mod keys;
mod link;
mod quorum;
mod stats;

/// The fleet guide (the repository's `docs/fleet.md`): settings, runtime, protocol, a sequence
/// diagram, behaviour when the server is down, a comparison, the threat model and the limits.
#[doc = include_str!("../guide.md")]
pub mod guide {}
mod subscriber;
mod target;
mod view;

/// The `redis` client the fleet is built on, re-exported so that its types in this API
/// ([`redis::RedisConnectionInfo`] for [`FleetBuilder::sentinel_primary`], [`redis::RedisError`]
/// in [`FleetError::Url`]) need no dependency of your own, at the version the fleet uses.
///
/// ```
/// use async_breaker_fleet::redis::RedisConnectionInfo;
///
/// let login = RedisConnectionInfo::default().set_password("s3cret");
/// assert_eq!(login.password(), Some("s3cret"));
/// ```
pub use redis;

pub use crate::builder::{FleetBuilder, DEFAULT_NAMESPACE};
pub use crate::error::FleetError;
pub use crate::fleet::{Attachment, Fleet};
pub use crate::quorum::{Membership, Quorum};
pub use crate::stats::FleetStats;
