//! A fleet attaches what a `Registry` holds: breakers of any classifier, one or all.

mod agent_support;

use std::sync::Arc;
use std::time::Duration;

use agent_support::{builder, connected, server, wait_until};
use async_breaker::{CircuitBreaker, MetricsSnapshot, Monitor, Registry, State};
use async_breaker_fleet::FleetError;

/// The `search` breaker's classifier: only a timeout counts.
type TimeoutsOnly = fn(&std::io::Error) -> bool;

/// One replica's breakers, as a service builds them: two classifiers, kept as typed `Arc`s
/// for calling and registered in one registry.
struct Service {
    registry: Registry,
    db: Arc<CircuitBreaker>,
    search: Arc<CircuitBreaker<TimeoutsOnly>>,
}

fn service() -> Service {
    let registry = Registry::new();
    let db = Arc::new(
        CircuitBreaker::builder()
            .name("db")
            .failure_threshold(1)
            .recovery_timeout(Duration::from_secs(30))
            .build()
            .expect("breaker"),
    );
    let timeouts_only: TimeoutsOnly = |e| e.kind() == std::io::ErrorKind::TimedOut;
    let search = Arc::new(
        CircuitBreaker::builder()
            .name("search")
            .failure_threshold(1)
            .recovery_timeout(Duration::from_secs(30))
            .failure_if(timeouts_only)
            .build()
            .expect("breaker"),
    );
    registry.register(Arc::clone(&db)).expect("register db");
    registry
        .register(Arc::clone(&search))
        .expect("register search");
    Service {
        registry,
        db,
        search,
    }
}

#[test]
fn a_registrys_breakers_of_any_classifier_follow_the_fleet() {
    let server = server();
    let lease = Duration::from_secs(2);
    let (a, b) = (
        builder(&server.url(), "registry", "a", lease)
            .build()
            .expect("fleet"),
        builder(&server.url(), "registry", "b", lease)
            .build()
            .expect("fleet"),
    );
    connected(&a);
    connected(&b);
    let (sa, sb) = (service(), service());
    let on_a = a
        .attach_registry(&sa.registry)
        .expect("attach a's registry");
    let on_b = b
        .attach_registry(&sb.registry)
        .expect("attach b's registry");
    assert_eq!((on_a.len(), on_b.len()), (2, 2));
    assert!(matches!(
        a.attach_registry(&sa.registry),
        Err(FleetError::AlreadyAttached(_))
    ));
    wait_until("both fleets read both breakers", || {
        ["db", "search"]
            .iter()
            .all(|n| a.membership(n).is_some() && b.membership(n).is_some())
    });

    // The attached breaker keeps its own classifier: a refused connection does not count...
    let refused = || std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    let _ = sa.search.call(|| Err::<(), _>(refused()));
    assert_eq!(sa.search.state(), State::Closed);
    // ...a timeout does, and the trip reaches the other replica's registered breaker.
    let _ = sa
        .search
        .call(|| Err::<(), _>(std::io::Error::from(std::io::ErrorKind::TimedOut)));
    wait_until("b's search breaker follows the fleet", || {
        sb.search.state() == State::Open
    });
    assert_eq!(sb.db.state(), State::Closed, "db is another breaker");
    assert_eq!(sa.db.state(), State::Closed);
}

/// A `Monitor` of the user's own is not a breaker: a typed error, and nothing attached.
#[test]
fn a_monitor_that_is_not_a_breaker_cannot_join() {
    struct Gauge;
    impl Monitor for Gauge {
        fn name(&self) -> &'static str {
            "gauge"
        }
        fn state(&self) -> State {
            State::Closed
        }
        fn failure_count(&self) -> u32 {
            0
        }
        fn open_remaining(&self) -> Duration {
            Duration::ZERO
        }
        fn metrics(&self) -> Option<MetricsSnapshot> {
            None
        }
        fn into_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
            self
        }
    }
    let fleet = builder(
        "redis://127.0.0.1:1/",
        "registry",
        "a",
        Duration::from_secs(2),
    )
    .build()
    .expect("fleet");
    let gauge: Arc<dyn Monitor> = Arc::new(Gauge);
    let err = fleet.attach_monitor(&gauge).unwrap_err();
    assert!(
        matches!(&err, FleetError::NotABreaker(name) if name == "gauge"),
        "{err:?}"
    );
    let registry = service().registry;
    registry.register_monitor(gauge).expect("register");
    assert!(matches!(
        fleet.attach_registry(&registry),
        Err(FleetError::NotABreaker(_))
    ));
    // All or none: the breakers attached before the gauge were detached again.
    assert!(!fleet.detach("db") && !fleet.detach("search"));
}
