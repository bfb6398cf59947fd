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
            assert!(e.to_string().contains("fast"), "{e}");
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
