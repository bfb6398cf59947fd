//! Counters of what the agent did, readable at any time with [`Fleet::stats`](crate::Fleet::stats).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// The live counters, shared by the agent's threads and the [`Fleet`](crate::Fleet) handle.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) messages: AtomicU64,
    pub(crate) applied: AtomicU64,
    pub(crate) stale: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) scripts: AtomicU64,
    pub(crate) trips: AtomicU64,
    pub(crate) votes: AtomicU64,
    pub(crate) probes_won: AtomicU64,
    pub(crate) leases_revoked: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) failures_published: AtomicU64,
    pub(crate) connected: AtomicBool,
    pub(crate) subscribed: AtomicBool,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> FleetStats {
        FleetStats {
            messages_received: self.messages.load(Relaxed),
            messages_applied: self.applied.load(Relaxed),
            stale_discarded: self.stale.load(Relaxed),
            malformed_dropped: self.malformed.load(Relaxed),
            scripts_run: self.scripts.load(Relaxed),
            trips_published: self.trips.load(Relaxed),
            trips_voted: self.votes.load(Relaxed),
            probes_won: self.probes_won.load(Relaxed),
            leases_revoked: self.leases_revoked.load(Relaxed),
            failures_published: self.failures_published.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
            connected: self.connected.load(Relaxed),
            subscribed: self.subscribed.load(Relaxed),
        }
    }
}

/// What a fleet's agent has done so far: a copy of its counters.
///
/// ```
/// use async_breaker_fleet::Fleet;
///
/// // Nothing listens on port 1: the fleet starts degraded (plain local breakers).
/// let fleet = Fleet::builder("redis://127.0.0.1:1/").build()?;
/// let stats = fleet.stats();
/// assert!(stats.degraded());
/// assert_eq!(stats.malformed_dropped, 0);
/// # Ok::<(), async_breaker_fleet::FleetError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FleetStats {
    /// Pub/sub messages received on the namespace's channel (any breaker, any content).
    pub messages_received: u64,
    /// Messages applied to an attached breaker.
    pub messages_applied: u64,
    /// Messages discarded because their generation was not newer than the state already applied.
    pub stale_discarded: u64,
    /// Messages and replies dropped as malformed (garbage, truncated, oversized, wrong version).
    pub malformed_dropped: u64,
    /// Fleet scripts run on the server (every fleet transition and reconciliation is one).
    pub scripts_run: u64,
    /// Trips of this replica that opened the fleet (the quorum was reached with them).
    pub trips_published: u64,
    /// Trips of this replica sent to the fleet as votes, whether they opened it or not.
    pub trips_voted: u64,
    /// Probe leases this replica won (only replicas whose callers wanted the probe compete).
    pub probes_won: u64,
    /// Leases this replica gave back unused (no local call claimed the probe in time).
    pub leases_revoked: u64,
    /// Local failures added to fleet-wide counts (with fleet counting on).
    pub failures_published: u64,
    /// Successful connections to the server after the first one.
    pub reconnects: u64,
    /// Whether the command connection is up.
    pub connected: bool,
    /// Whether the subscriber connection is up.
    pub subscribed: bool,
}

impl FleetStats {
    /// Whether this replica's breakers are plain local breakers right now (the command
    /// connection is down).
    ///
    /// ```
    /// let stats = async_breaker_fleet::FleetStats::default();
    /// assert!(stats.degraded());
    /// ```
    pub fn degraded(&self) -> bool {
        !self.connected
    }
}
