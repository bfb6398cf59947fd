//! Feature `metrics`: the fleet's health through the `metrics` facade, read back from
//! `metrics-util`'s debugging recorder while a real `redis-server` runs, is stopped and comes
//! back.

// Every value compared is a whole count (or a 0/1 gauge), which an f64 holds exactly.
#![allow(clippy::float_cmp)]

mod agent_support;

use std::collections::BTreeMap;
use std::time::Duration;

use agent_support::{attach, breaker, builder, connected, fail, server, wait_until};
use async_breaker_fleet::Quorum;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// One snapshot of every series as `name{breaker}` (the namespace and replica labels are
/// checked once). The debugging recorder swaps each value to 0 when it hands it out, and the
/// agent sets every series at each export: a snapshot in which `fleet_scripts_total` is not 0
/// holds one whole export.
fn export(snapshotter: &Snapshotter) -> Option<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let mut labels: BTreeMap<&str, &str> = key.labels().map(|l| (l.key(), l.value())).collect();
        assert_eq!(labels.remove("namespace"), Some("metrics"), "{key:?}");
        assert_eq!(labels.remove("replica"), Some("r0"), "{key:?}");
        let name = match labels.remove("breaker") {
            Some(b) => format!("{}{{{b}}}", key.name()),
            None => key.name().to_owned(),
        };
        assert!(labels.is_empty(), "{key:?}");
        let value = match value {
            #[allow(clippy::cast_precision_loss)]
            DebugValue::Counter(n) => n as f64,
            DebugValue::Gauge(g) => g.into_inner(),
            DebugValue::Histogram(_) => panic!("no histogram is exported"),
        };
        out.insert(name, value);
    }
    (out.get("fleet_scripts_total").copied().unwrap_or(0.0) > 0.0).then_some(out)
}

/// Waits for an export in which `check` holds.
fn wait_export(
    snapshotter: &Snapshotter,
    what: &str,
    check: impl Fn(&BTreeMap<String, f64>) -> bool,
) {
    wait_until(what, || export(snapshotter).is_some_and(|s| check(&s)));
}

#[test]
fn the_fleets_health_is_exported() {
    let mut server = server();
    let url = server.url();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let lease = Duration::from_secs(2);
    let recovery = Duration::from_secs(30);
    let (fleet, dep) = metrics::with_local_recorder(&recorder, || {
        let fleet = builder(&url, "metrics", "r0", lease)
            .quorum(Quorum::replicas(2))
            .export_metrics()
            .build()
            .expect("valid settings");
        connected(&fleet);
        let dep = breaker("dep", 3, recovery);
        let attached = attach(&fleet, &dep);
        attached.keep();
        (fleet, dep)
    });
    // A second replica, not exported.
    let other = builder(&url, "metrics", "r1", lease)
        .quorum(Quorum::replicas(2))
        .build()
        .expect("valid settings");
    connected(&other);
    let other_dep = breaker("dep", 3, recovery);
    let _other_attached = attach(&other, &other_dep);

    wait_export(
        &snapshotter,
        "connected, two live replicas, quorum 2",
        |s| {
            s["fleet_connected"] == 1.0
                && s["fleet_subscribed"] == 1.0
                && s.get("fleet_members{dep}") == Some(&2.0)
                && s.get("fleet_quorum_needed{dep}") == Some(&2.0)
                && s.get("fleet_votes{dep}") == Some(&0.0)
        },
    );

    // r0 trips: one vote below the quorum.
    fail(&dep, 3);
    wait_export(&snapshotter, "r0's vote", |s| {
        s.get("fleet_votes{dep}") == Some(&1.0)
            && s["fleet_trips_voted_total"] == 1.0
            && s["fleet_trips_published_total"] == 0.0
            && s["fleet_leases_won_total"] == 0.0
    });

    // The server goes away: degraded, exported at once.
    server.kill();
    wait_until("r0 is degraded", || !fleet.stats().connected);
    wait_export(&snapshotter, "degraded", |s| s["fleet_connected"] == 0.0);

    // It comes back: a reconnection is counted.
    server.restart().expect("restart the server");
    wait_export(&snapshotter, "reconnected", |s| {
        s["fleet_connected"] == 1.0 && s["fleet_reconnects_total"] >= 1.0
    });
    let every = [
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
        "fleet_connected",
        "fleet_subscribed",
        "fleet_members{dep}",
        "fleet_votes{dep}",
        "fleet_quorum_needed{dep}",
    ];
    wait_export(&snapshotter, "every series", |s| {
        let names: Vec<&str> = s.keys().map(String::as_str).collect();
        let mut expected = every.to_vec();
        expected.sort_unstable();
        names == expected
    });
    drop(other);
}
