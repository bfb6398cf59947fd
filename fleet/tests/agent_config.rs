//! Bad configuration gets a typed error, never a panic; no server is needed.

use std::sync::Arc;
use std::time::Duration;

use async_breaker::CircuitBreaker;
use async_breaker_fleet::{Fleet, FleetError};

const NOWHERE: &str = "redis://127.0.0.1:1/";

#[test]
fn malformed_settings_are_typed_errors() {
    assert!(matches!(
        Fleet::builder("nope://x").build(),
        Err(FleetError::Url(_))
    ));
    assert!(matches!(
        Fleet::builder("").build(),
        Err(FleetError::Url(_))
    ));
    assert!(matches!(
        Fleet::builder(NOWHERE).namespace("").build(),
        Err(FleetError::Namespace(_))
    ));
    assert!(matches!(
        Fleet::builder(NOWHERE).namespace("a{b}").build(),
        Err(FleetError::Namespace(_))
    ));
    assert!(matches!(
        Fleet::builder(NOWHERE).replica_id("with space").build(),
        Err(FleetError::ReplicaId(_))
    ));
    for (builder, setting) in [
        (
            Fleet::builder(NOWHERE).poll_interval(Duration::ZERO),
            "poll_interval",
        ),
        (
            Fleet::builder(NOWHERE).timeout(Duration::from_secs(60)),
            "timeout",
        ),
        (
            Fleet::builder(NOWHERE).reconcile_interval(Duration::from_micros(10)),
            "reconcile_interval",
        ),
        (
            Fleet::builder(NOWHERE).lease(Duration::from_millis(10)),
            "lease",
        ),
        (
            Fleet::builder(NOWHERE).max_reconnect_backoff(Duration::ZERO),
            "max_reconnect_backoff",
        ),
    ] {
        match builder.build() {
            Err(FleetError::Duration { setting: s, .. }) => assert_eq!(s, setting),
            other => panic!("{setting}: {other:?}"),
        }
    }
}

#[test]
fn breakers_that_cannot_join_are_refused() {
    let fleet = Fleet::builder(NOWHERE)
        .reconcile_interval(Duration::from_secs(1))
        .build()
        .expect("valid");
    let braces = Arc::new(
        CircuitBreaker::builder()
            .name("a{b}")
            .build()
            .expect("breaker"),
    );
    assert!(matches!(
        fleet.attach(&braces),
        Err(FleetError::BreakerName(_))
    ));
    let fast = Arc::new(
        CircuitBreaker::builder()
            .name("fast")
            .recovery_timeout(Duration::from_millis(500))
            .probe_deadline(Duration::from_millis(500))
            .build()
            .expect("breaker"),
    );
    match fleet.attach(&fast) {
        Err(e @ FleetError::ReconcileTooSlow { .. }) => {
            // The default reconcile interval is 1 s: the message names both settings and the
            // values that would work.
            assert_eq!(
                e.to_string(),
                "reconcile_interval 1s is too long for breaker \"fast\", whose probe_deadline \
                 is 500ms: set FleetBuilder::reconcile_interval to at most 250ms, or the \
                 breaker's Builder::probe_deadline to at least 2s"
            );
        }
        other => panic!("{other:?}"),
    }
    let ok = Arc::new(
        CircuitBreaker::builder()
            .name("ok")
            .build()
            .expect("breaker"),
    );
    let attached = fleet.attach(&ok).expect("attach");
    assert!(matches!(
        fleet.attach(&ok),
        Err(FleetError::AlreadyAttached(_))
    ));
    drop(attached);
    fleet
        .attach(&ok)
        .expect("attach again after the handle is dropped")
        .keep();
    fleet.shutdown();
    assert!(matches!(fleet.attach(&ok), Err(FleetError::ShutDown)));
}

#[test]
fn without_a_server_the_breaker_is_a_plain_local_breaker() {
    let fleet = Fleet::builder(NOWHERE).build().expect("valid");
    let b = Arc::new(
        CircuitBreaker::builder()
            .name("local")
            .failure_threshold(2)
            .build()
            .expect("breaker"),
    );
    let _attached = fleet.attach(&b).expect("attach");
    for _ in 0..2 {
        let _ = b.call(|| Err::<(), ()>(()));
    }
    assert!(b.is_open(), "the local breaker trips by itself");
    assert!(fleet.stats().degraded());
}

/// Every duration setting accepts both ends of its documented range and refuses just beyond.
#[test]
fn duration_settings_accept_their_whole_documented_range() {
    let ms = Duration::from_millis;
    let hour = Duration::from_secs(3600);
    let base = || Fleet::builder(NOWHERE);
    // The lease must cover three polls and operations: 3 x (10 ms + 100 ms) = 330 ms.
    let lease = |d| {
        base()
            .poll_interval(ms(10))
            .timeout(ms(100))
            .reconcile_interval(ms(10))
            .lease(d)
    };
    let accepted = [
        ("poll_interval", base().poll_interval(ms(1))),
        (
            "poll_interval",
            base()
                .poll_interval(ms(1000))
                .reconcile_interval(ms(1000))
                .lease(hour),
        ),
        ("timeout", base().timeout(ms(1))),
        ("timeout", base().timeout(ms(10_000)).lease(ms(30_015))),
        ("reconcile_interval", base().reconcile_interval(ms(5))),
        ("reconcile_interval", base().reconcile_interval(hour)),
        ("lease", lease(ms(330))),
        ("lease", lease(hour)),
        (
            "max_reconnect_backoff",
            base().max_reconnect_backoff(ms(20)),
        ),
        (
            "max_reconnect_backoff",
            base().max_reconnect_backoff(Duration::from_secs(600)),
        ),
    ];
    for (setting, builder) in accepted {
        if let Err(e) = builder.build() {
            panic!("{setting} at the end of its range: {e}");
        }
    }
    let refused = [
        ("poll_interval", base().poll_interval(ms(1001))),
        ("timeout", base().timeout(ms(10_001)).lease(hour)),
        ("reconcile_interval", base().reconcile_interval(ms(4))),
        (
            "reconcile_interval",
            base().reconcile_interval(hour + ms(1)),
        ),
        ("lease", lease(ms(329))),
        ("lease", lease(hour + ms(1))),
        (
            "max_reconnect_backoff",
            base().max_reconnect_backoff(ms(19)),
        ),
        (
            "max_reconnect_backoff",
            base().max_reconnect_backoff(Duration::from_secs(601)),
        ),
    ];
    for (setting, builder) in refused {
        match builder.build() {
            Err(FleetError::Duration { setting: s, .. }) => assert_eq!(s, setting),
            other => panic!("{setting} just beyond its range: {other:?}"),
        }
    }
}

/// A probe deadline of exactly twice the reconcile interval is enough; anything shorter is not.
#[test]
fn the_reconcile_interval_may_be_at_most_half_of_a_probe_deadline() {
    let fleet = Fleet::builder(NOWHERE)
        .reconcile_interval(Duration::from_secs(1))
        .build()
        .expect("valid");
    let with_deadline = |name: &str, ms: u64| {
        Arc::new(
            CircuitBreaker::builder()
                .name(name.to_owned())
                .probe_deadline(Duration::from_millis(ms))
                .build()
                .expect("breaker"),
        )
    };
    let _exactly = fleet
        .attach(&with_deadline("twice", 2000))
        .expect("a probe deadline of twice the interval");
    assert!(matches!(
        fleet.attach(&with_deadline("short", 1999)),
        Err(FleetError::ReconcileTooSlow { .. })
    ));
    assert!(matches!(
        fleet.attach(&with_deadline("half-again", 1500)),
        Err(FleetError::ReconcileTooSlow { .. })
    ));
}

#[test]
fn the_handles_report_their_names_and_attachments() {
    let fleet = Fleet::builder(NOWHERE)
        .namespace("shop")
        .replica_id("pod-7")
        .build()
        .expect("valid");
    assert_eq!(fleet.namespace(), "shop");
    assert_eq!(fleet.replica_id(), "pod-7");
    let debug = format!("{fleet:?}");
    assert!(debug.contains("shop") && debug.contains("pod-7"), "{debug}");

    let db = Arc::new(
        CircuitBreaker::builder()
            .name("orders-db")
            .build()
            .expect("breaker"),
    );
    let attachment = fleet.attach(&db).expect("attach");
    assert_eq!(attachment.name(), "orders-db");
    assert!(format!("{attachment:?}").contains("orders-db"));
    // Fleet::detach reports whether the breaker was attached; once the breaker is attached
    // again, dropping the older handle changes nothing.
    assert!(fleet.detach("orders-db"));
    assert!(!fleet.detach("orders-db"));
    fleet.attach(&db).expect("attach again").keep();
    drop(attachment);
    assert!(
        matches!(fleet.attach(&db), Err(FleetError::AlreadyAttached(_))),
        "a kept attachment stays attached, whatever an older handle does"
    );
    assert!(fleet.detach("orders-db"));
}

/// Without `replica_id`, every fleet gets its own id: the process id and a random suffix.
#[test]
fn default_replica_ids_are_the_process_id_and_a_random_suffix() {
    let a = Fleet::builder(NOWHERE).build().expect("valid");
    let b = Fleet::builder(NOWHERE).build().expect("valid");
    let pid = format!("{}-", std::process::id());
    for id in [a.replica_id(), b.replica_id()] {
        assert!(id.starts_with(&pid) && id.len() > pid.len(), "{id}");
    }
    assert_ne!(a.replica_id(), b.replica_id());
}

#[test]
fn cluster_and_sentinel_deployments_check_their_servers_and_service() {
    let none: [&str; 0] = [];
    let err = Fleet::cluster(none).build().unwrap_err();
    assert!(matches!(err, FleetError::NoServers("cluster")), "{err:?}");
    assert_eq!(
        err.to_string(),
        "a cluster deployment needs at least one server URL"
    );
    assert!(matches!(
        Fleet::cluster([NOWHERE, "nope://x"]).build(),
        Err(FleetError::Url(_))
    ));
    assert!(matches!(
        Fleet::sentinel(none, "mymaster").build(),
        Err(FleetError::NoServers("sentinel"))
    ));
    assert!(matches!(
        Fleet::sentinel(["nope://x"], "mymaster").build(),
        Err(FleetError::Url(_))
    ));
    for service in [String::new(), "m".repeat(129)] {
        let err = Fleet::sentinel([NOWHERE], service.as_str())
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, FleetError::Service(s) if *s == service),
            "{err:?}"
        );
    }
    assert!(Fleet::sentinel([NOWHERE], "m".repeat(128)).build().is_ok());
}

/// Nothing answers: a Cluster or Sentinel fleet starts anyway, its breakers are plain local
/// breakers, and it shuts down promptly.
#[test]
fn unreachable_cluster_and_sentinels_leave_local_breakers() {
    for fleet in [
        Fleet::cluster([NOWHERE, "redis://127.0.0.1:2/"]).build(),
        Fleet::sentinel([NOWHERE], "mymaster").build(),
    ] {
        let fleet = fleet.expect("valid settings");
        let breaker = Arc::new(
            CircuitBreaker::builder()
                .name("local")
                .failure_threshold(1)
                .build()
                .expect("breaker"),
        );
        let _attached = fleet.attach(&breaker).expect("attach");
        let _ = breaker.call(|| Err::<(), _>("down"));
        assert!(breaker.try_acquire().is_err(), "the local trip holds");
        assert!(fleet.stats().degraded());
        fleet.shutdown();
    }
}
