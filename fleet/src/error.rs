//! The typed errors of building a fleet and attaching breakers to it.

use std::time::Duration;

/// What went wrong configuring a [`Fleet`](crate::Fleet) or attaching a breaker to it.
///
/// The server being down is never an error here: the agent connects in the background and the
/// breakers work locally until it does.
///
/// ```
/// use async_breaker_fleet::{Fleet, FleetError};
///
/// let err = Fleet::builder("redis://127.0.0.1:1/").namespace("bad name").build().unwrap_err();
/// assert!(matches!(err, FleetError::Namespace(_)));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// The server URL could not be parsed (the URL itself is not repeated: it may hold a password).
    #[error("invalid Redis URL: {0}")]
    Url(#[source] redis::RedisError),
    /// A Cluster or Sentinel deployment was given no server URL (the deployment is named).
    #[error("a {0} deployment needs at least one server URL")]
    NoServers(&'static str),
    /// The Sentinel service (master) name is empty or longer than 128 bytes.
    #[error("invalid Sentinel service name {0:?}: use 1 to 128 bytes")]
    Service(String),
    /// The namespace is empty, longer than 64 bytes, or holds something other than ASCII
    /// letters, digits and `_ - . :`.
    #[error("invalid fleet namespace {0:?}: use 1 to 64 ASCII letters, digits or `_ - . :`")]
    Namespace(String),
    /// The replica id is empty, longer than 64 bytes, or holds something other than ASCII
    /// letters, digits and `_ - .`.
    #[error("invalid replica id {0:?}: use 1 to 64 ASCII letters, digits or `_ - .`")]
    ReplicaId(String),
    /// A duration setting is out of its range.
    #[error("invalid {setting}: {value:?} ({rule})")]
    Duration {
        /// The builder method.
        setting: &'static str,
        /// The value given.
        value: Duration,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// The breaker's name cannot name fleet keys: it is empty, longer than 128 bytes, or holds
    /// `{`, `}`, whitespace other than a plain space, or control characters.
    #[error("breaker name {0:?} cannot join a fleet: use 1 to 128 bytes without braces or control characters")]
    BreakerName(String),
    /// A [`Monitor`](async_breaker::Monitor) of the user's own, not an
    /// `async_breaker::CircuitBreaker`, was given to attach: it has no hooks to coordinate.
    #[error("{0:?} is not an async_breaker::CircuitBreaker: only breakers can join a fleet")]
    NotABreaker(String),
    /// A breaker of this name is already attached to this fleet.
    #[error("a breaker named {0:?} is already attached to this fleet")]
    AlreadyAttached(String),
    /// The reconcile interval is too long for this breaker: the agent renews a fleet hold at
    /// every reconcile tick, and the core releases a hold not renewed within the breaker's
    /// probe deadline (its safety valve), so the interval must be at most half of it.
    #[error(
        "reconcile_interval {reconcile:?} is too long for breaker {name:?}, whose probe_deadline \
         is {probe_deadline:?}: set FleetBuilder::reconcile_interval to at most {most:?}, or the \
         breaker's Builder::probe_deadline to at least {least:?}",
        most = *.probe_deadline / 2,
        least = *.reconcile * 2
    )]
    ReconcileTooSlow {
        /// The breaker's name.
        name: String,
        /// The breaker's probe deadline.
        probe_deadline: Duration,
        /// The fleet's reconcile interval.
        reconcile: Duration,
    },
    /// The quorum is out of range: a count of 0 or above 1000 replicas, or a fraction that
    /// is not above 0 and at most 1.
    #[error("invalid fleet quorum: {0}")]
    Quorum(String),
    /// The fleet has been shut down.
    #[error("the fleet has been shut down")]
    ShutDown,
    /// The agent's threads could not be started.
    #[error("could not start the fleet agent thread: {0}")]
    Spawn(#[source] std::io::Error),
}
