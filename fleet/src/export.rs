//! Fleet health through the [`metrics`] facade (feature `metrics`, asked for with
//! [`FleetBuilder::export_metrics`](crate::FleetBuilder::export_metrics)), so a degraded fleet
//! can be alerted on.
//!
//! Handles are registered on the caller's thread, when the fleet is built (and, for the
//! per-breaker gauges, when a breaker is attached), with whatever recorder is installed then.
//! The agent's thread only moves them: once per reconcile interval, and at once when the
//! connection goes up or down.
//!
//! | series | kind | labels | what it says |
//! |---|---|---|---|
//! | `fleet_connected` | gauge | `namespace`, `replica` | 1 while the command connection is up (0: degraded, plain local breakers) |
//! | `fleet_subscribed` | gauge | `namespace`, `replica` | 1 while the subscriber connection is up |
//! | `fleet_members` | gauge | `namespace`, `replica`, `breaker` | live replicas of the breaker, as the server counts them |
//! | `fleet_votes` | gauge | `namespace`, `replica`, `breaker` | distinct replicas whose trip counts toward the quorum now |
//! | `fleet_quorum_needed` | gauge | `namespace`, `replica`, `breaker` | trips that open the fleet now |
//! | `fleet_<counter>_total` | counter | `namespace`, `replica` | every counter of [`FleetStats`](crate::FleetStats): `messages`, `messages_applied`, `stale_discarded`, `malformed_dropped`, `scripts`, `trips_published`, `trips_voted`, `leases_won`, `leases_given_back`, `failures_published`, `reconnects` |

use metrics::{Counter, Gauge, Unit};

use crate::{FleetStats, Membership};

/// The fleet-wide handles.
pub(crate) struct Exported {
    connected: Gauge,
    subscribed: Gauge,
    counters: [Counter; 11],
    labels: [(&'static str, String); 2],
}

const COUNTERS: [&str; 11] = [
    "fleet_messages_total",
    "fleet_messages_applied_total",
    "fleet_stale_discarded_total",
    "fleet_malformed_dropped_total",
    "fleet_scripts_total",
    "fleet_trips_published_total",
    "fleet_trips_voted_total",
    "fleet_leases_won_total",
    "fleet_leases_given_back_total",
    "fleet_failures_published_total",
    "fleet_reconnects_total",
];

fn values(s: &FleetStats) -> [u64; 11] {
    [
        s.messages_received,
        s.messages_applied,
        s.stale_discarded,
        s.malformed_dropped,
        s.scripts_run,
        s.trips_published,
        s.trips_voted,
        s.probes_won,
        s.leases_revoked,
        s.failures_published,
        s.reconnects,
    ]
}

/// One attached breaker's gauges.
pub(crate) struct BreakerGauges {
    members: Gauge,
    votes: Gauge,
    needed: Gauge,
}

impl BreakerGauges {
    pub(crate) fn set(&self, m: Membership) {
        self.members.set(f64::from(m.live));
        self.votes.set(f64::from(m.votes));
        self.needed.set(f64::from(m.needed));
    }
}

impl Exported {
    /// Describes the series and registers the fleet-wide handles.
    pub(crate) fn register(namespace: &str, replica: &str) -> Exported {
        metrics::describe_gauge!(
            "fleet_connected",
            "1 while the fleet agent's command connection is up; 0 while its breakers are plain local breakers."
        );
        metrics::describe_gauge!(
            "fleet_subscribed",
            "1 while the fleet agent is subscribed to its namespace's channel."
        );
        metrics::describe_gauge!(
            "fleet_members",
            "Live replicas of a breaker, counted by the server."
        );
        metrics::describe_gauge!(
            "fleet_votes",
            "Distinct replicas whose trip counts toward the fleet's quorum now."
        );
        metrics::describe_gauge!(
            "fleet_quorum_needed",
            "Distinct replicas' trips that open the fleet now."
        );
        for name in COUNTERS {
            metrics::describe_counter!(
                name,
                Unit::Count,
                "A fleet agent counter (see FleetStats)."
            );
        }
        let labels = [
            ("namespace", namespace.to_owned()),
            ("replica", replica.to_owned()),
        ];
        Exported {
            connected: metrics::gauge!("fleet_connected", &labels),
            subscribed: metrics::gauge!("fleet_subscribed", &labels),
            counters: COUNTERS.map(|name| metrics::counter!(name, &labels)),
            labels,
        }
    }

    /// Registers the gauges of the attached breaker `name`.
    pub(crate) fn breaker(&self, name: &str) -> BreakerGauges {
        let labels = [
            self.labels[0].clone(),
            self.labels[1].clone(),
            ("breaker", name.to_owned()),
        ];
        BreakerGauges {
            members: metrics::gauge!("fleet_members", &labels),
            votes: metrics::gauge!("fleet_votes", &labels),
            needed: metrics::gauge!("fleet_quorum_needed", &labels),
        }
    }

    /// Moves every fleet-wide handle to `stats`.
    pub(crate) fn update(&self, stats: &FleetStats) {
        self.connected.set(if stats.connected { 1.0 } else { 0.0 });
        self.subscribed
            .set(if stats.subscribed { 1.0 } else { 0.0 });
        for (counter, value) in self.counters.iter().zip(values(stats)) {
            counter.absolute(value);
        }
    }
}
