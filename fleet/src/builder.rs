//! [`FleetBuilder`]: the fleet's settings, validated by [`FleetBuilder::build`].

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use crate::agent::Settings;
use crate::keys::{check_namespace, check_replica_id};
use crate::target::Spec;
use crate::{Fleet, FleetError, Quorum};

/// The namespace used when none is given.
pub const DEFAULT_NAMESPACE: &str = "async-breaker";

/// Settings of a [`Fleet`], made with [`Fleet::builder`].
///
/// ```
/// use std::time::Duration;
/// use async_breaker_fleet::{Fleet, Quorum};
///
/// let fleet = Fleet::builder("redis://127.0.0.1:1/")
///     .namespace("shop")
///     .replica_id("web-1")
///     .poll_interval(Duration::from_millis(5))
///     .reconcile_interval(Duration::from_millis(500))
///     .lease(Duration::from_secs(2))
///     .timeout(Duration::from_millis(250))
///     .fleet_counting(true)
///     .quorum(Quorum::fraction(0.25, 2))
///     .vote_window(Duration::from_secs(10))
///     .build()?;
/// assert_eq!(fleet.replica_id(), "web-1");
/// # Ok::<(), async_breaker_fleet::FleetError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct FleetBuilder {
    spec: Spec,
    namespace: String,
    replica_id: Option<String>,
    poll: Duration,
    reconcile: Duration,
    lease: Duration,
    timeout: Duration,
    max_backoff: Duration,
    counting: bool,
    quorum: Quorum,
    vote_window: Duration,
    export: bool,
}

impl FleetBuilder {
    pub(crate) fn new(spec: Spec) -> FleetBuilder {
        FleetBuilder {
            spec,
            namespace: DEFAULT_NAMESPACE.to_owned(),
            replica_id: None,
            poll: Duration::from_millis(5),
            reconcile: Duration::from_secs(1),
            lease: Duration::from_secs(2),
            timeout: Duration::from_millis(250),
            max_backoff: Duration::from_secs(2),
            counting: false,
            quorum: Quorum::default(),
            vote_window: Duration::from_secs(10),
            export: false,
        }
    }

    /// The prefix of every key and of the channel (default `async-breaker`): 1 to 64 ASCII
    /// letters, digits or `_ - . :`. Replicas of one service share a namespace; unrelated
    /// services sharing a server should not.
    pub fn namespace(mut self, namespace: impl Into<String>) -> FleetBuilder {
        self.namespace = namespace.into();
        self
    }

    /// This replica's identity in lease tokens (default: the process id and a random suffix):
    /// 1 to 64 ASCII letters, digits or `_ - .`. Must differ between replicas.
    pub fn replica_id(mut self, id: impl Into<String>) -> FleetBuilder {
        self.replica_id = Some(id.into());
        self
    }

    /// With [fleet counting](Self::fleet_counting), how often a closed breaker that has
    /// failures is sampled (default 5 ms; 1 ms to 1 s). Nothing else polls: the agent sleeps
    /// until an attached breaker changes state (the breaker wakes it), a message arrives, or
    /// one of its timers (reconcile, lease renewal) is due, so a local trip leaves the process
    /// at once.
    pub fn poll_interval(mut self, every: Duration) -> FleetBuilder {
        self.poll = every;
        self
    }

    /// How often each breaker's fleet state is read back, healing any missed message and
    /// renewing the local hold (default 1 s; at least the poll interval, and at most half of
    /// every attached breaker's probe deadline).
    pub fn reconcile_interval(mut self, every: Duration) -> FleetBuilder {
        self.reconcile = every;
        self
    }

    /// How long the probe lease lasts without renewal (default 2 s; at least three times the
    /// poll interval plus the timeout). A replica that dies or hangs while probing is replaced
    /// after at most this long. An unused grant is given back after half of it.
    pub fn lease(mut self, lease: Duration) -> FleetBuilder {
        self.lease = lease;
        self
    }

    /// The timeout of every server operation, connecting included (default 250 ms; 1 ms to
    /// 10 s). An operation that takes longer degrades the replica to local breakers.
    pub fn timeout(mut self, timeout: Duration) -> FleetBuilder {
        self.timeout = timeout;
        self
    }

    /// The longest wait between reconnection attempts (default 2 s): attempts start after
    /// 20 ms and double up to it.
    pub fn max_reconnect_backoff(mut self, cap: Duration) -> FleetBuilder {
        self.max_backoff = cap;
        self
    }

    /// Count failures across the fleet (default off): every replica adds the failures its
    /// breaker sees to a per-generation counter on the server, and when the sum reaches the
    /// breaker's failure threshold the whole fleet opens. Counts are sampled every poll interval
    /// and sent in batches, off the call path.
    pub fn fleet_counting(mut self, on: bool) -> FleetBuilder {
        self.counting = on;
        self
    }

    /// How many distinct replicas' trips open the fleet (default [`Quorum::replicas(2)`](Quorum::replicas):
    /// two replicas, or one while it is the only live replica). A replica that trips below
    /// the quorum stays open on its own evidence and recovers by itself; the others keep
    /// calling. [`Quorum::first_trip`] opens every replica on the first trip anywhere. With
    /// [`fleet_counting`](Self::fleet_counting), failures counted from fewer distinct replicas
    /// than the quorum never open the fleet either.
    ///
    /// ```
    /// use async_breaker_fleet::{Fleet, FleetError, Quorum};
    ///
    /// let fleet = Fleet::builder("redis://127.0.0.1:1/").quorum(Quorum::replicas(3)).build()?;
    /// # drop(fleet);
    /// let err = Fleet::builder("redis://127.0.0.1:1/").quorum(Quorum::fraction(1.5, 1)).build();
    /// assert!(matches!(err, Err(FleetError::Quorum(_))));
    /// # Ok::<(), FleetError>(())
    /// ```
    pub fn quorum(mut self, quorum: Quorum) -> FleetBuilder {
        self.quorum = quorum;
        self
    }

    /// How long a replica's trip counts as a vote toward the [quorum](Self::quorum) (default
    /// 10 s; 1 ms to 1 hour). Votes also end when the fleet leaves its closed generation, when
    /// the replica's breaker recovers by itself, and when the replica stops being live. Times
    /// are the server's own: no host's clock is compared with another's.
    ///
    /// ```
    /// use std::time::Duration;
    /// let fleet = async_breaker_fleet::Fleet::builder("redis://127.0.0.1:1/")
    ///     .vote_window(Duration::from_secs(30))
    ///     .build()?;
    /// # drop(fleet);
    /// # Ok::<(), async_breaker_fleet::FleetError>(())
    /// ```
    pub fn vote_window(mut self, window: Duration) -> FleetBuilder {
        self.vote_window = window;
        self
    }

    /// Report the fleet's health through the [`metrics`](https://docs.rs/metrics) facade
    /// (feature `metrics`): connection, membership, votes, the quorum, and every counter of
    /// [`FleetStats`](crate::FleetStats). The handles are registered by `build` (and
    /// `attach`) with the recorder installed then. See the guide for the series.
    ///
    /// ```
    /// let fleet = async_breaker_fleet::Fleet::builder("redis://127.0.0.1:1/")
    ///     .export_metrics()
    ///     .build()?;
    /// # drop(fleet);
    /// # Ok::<(), async_breaker_fleet::FleetError>(())
    /// ```
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn export_metrics(mut self) -> FleetBuilder {
        self.export = true;
        self
    }

    /// How to log in to the primary that the sentinels name, for a fleet made with
    /// [`Fleet::sentinel`]: username, password and database (default: none, none, 0). The
    /// sentinels' own credentials go in their URLs. Ignored by other deployments.
    ///
    /// ```
    /// use async_breaker_fleet::redis::RedisConnectionInfo;
    /// use async_breaker_fleet::Fleet;
    ///
    /// let fleet = Fleet::sentinel(["redis://127.0.0.1:1/"], "mymaster")
    ///     .sentinel_primary(RedisConnectionInfo::default().set_password("s3cret").set_db(2))
    ///     .build()?;
    /// # drop(fleet);
    /// # Ok::<(), async_breaker_fleet::FleetError>(())
    /// ```
    pub fn sentinel_primary(mut self, login: redis::RedisConnectionInfo) -> FleetBuilder {
        if let Spec::Sentinel { primary, .. } = &mut self.spec {
            *primary = login;
        }
        self
    }

    /// Validates the settings and starts the agent's threads. The server need not be up: the
    /// agent connects in the background, and until then the breakers are plain local breakers.
    ///
    /// # Errors
    ///
    /// A [`FleetError`] for a malformed URL (or an empty list of them), Sentinel service name, namespace, replica id, quorum or duration, or
    /// when a thread cannot be started.
    pub fn build(self) -> Result<Fleet, FleetError> {
        check_namespace(&self.namespace)?;
        let quorum = self.quorum.check()?;
        within(
            "vote_window",
            self.vote_window,
            ms(1),
            Duration::from_secs(3600),
            "between 1 ms and 1 hour",
        )?;
        let replica = match self.replica_id {
            Some(id) => id,
            None => default_replica_id(),
        };
        check_replica_id(&replica)?;
        within(
            "poll_interval",
            self.poll,
            ms(1),
            ms(1000),
            "between 1 ms and 1 s",
        )?;
        within(
            "timeout",
            self.timeout,
            ms(1),
            ms(10_000),
            "between 1 ms and 10 s",
        )?;
        within(
            "reconcile_interval",
            self.reconcile,
            self.poll,
            Duration::from_secs(3600),
            "between the poll interval and 1 hour",
        )?;
        within(
            "lease",
            self.lease,
            (self.poll + self.timeout) * 3,
            Duration::from_secs(3600),
            "between 3 x (poll interval + timeout) and 1 hour",
        )?;
        within(
            "max_reconnect_backoff",
            self.max_backoff,
            crate::link::FIRST_BACKOFF,
            Duration::from_secs(600),
            "between 20 ms and 10 minutes",
        )?;
        let target = self.spec.resolve(self.timeout)?;
        let settings = Settings {
            poll: self.poll,
            reconcile: self.reconcile,
            lease: self.lease,
            counting: self.counting,
            replica,
            namespace: self.namespace,
            quorum,
            vote_window: self.vote_window,
            export: self.export,
        };
        Fleet::start(target, settings, self.timeout, self.max_backoff)
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn within(
    setting: &'static str,
    value: Duration,
    min: Duration,
    max: Duration,
    rule: &'static str,
) -> Result<(), FleetError> {
    if value >= min && value <= max {
        Ok(())
    } else {
        Err(FleetError::Duration {
            setting,
            value,
            rule,
        })
    }
}

fn default_replica_id() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!("{}-{:08x}", std::process::id(), h.finish() & 0xffff_ffff)
}
