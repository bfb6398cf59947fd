//! A breaker seen through a registry (`dyn Monitor`) reports what the breaker itself reports.

use std::sync::Arc;
use std::time::Duration;

use async_breaker::{CircuitBreaker, ManualClock, Registry, State};

#[test]
fn a_monitor_reports_the_breaker_s_own_readings() {
    let clock = ManualClock::new();
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .name("inventory")
            .failure_threshold(2)
            .recovery_timeout(Duration::from_secs(10))
            .metrics()
            .clock(clock.clone())
            .build()
            .unwrap(),
    );
    let plain = Arc::new(CircuitBreaker::builder().name("plain").build().unwrap());
    let registry = Registry::new();
    registry.register(Arc::clone(&breaker)).unwrap();
    registry.register(plain).unwrap();
    let monitor = registry.get("inventory").unwrap();

    breaker.try_acquire().unwrap().failure();
    assert_eq!(monitor.failure_count(), 1);
    breaker.try_acquire().unwrap().failure();
    clock.advance(Duration::from_secs(3));
    assert_eq!(monitor.state(), State::Open);
    assert_eq!(monitor.failure_count(), 2);
    assert_eq!(monitor.open_remaining(), Duration::from_secs(7));
    assert_eq!(monitor.open_remaining(), breaker.open_remaining());

    let metrics = monitor.metrics().expect("built with metrics");
    assert_eq!(
        (metrics.admitted, metrics.failed, metrics.opened),
        (2, 2, 1)
    );
    assert_eq!(Some(metrics), breaker.metrics());
    assert!(
        registry.get("plain").unwrap().metrics().is_none(),
        "built without metrics"
    );
}

/// `all` lists every breaker and `open`, `half_open` and `closed` those in that state, each in
/// the order of their names; the debug output maps each name to its state.
#[test]
fn a_registry_lists_its_breakers_by_state() {
    let names = |monitors: Vec<Arc<dyn async_breaker::Monitor>>| -> Vec<String> {
        monitors.iter().map(|m| m.name().to_owned()).collect()
    };
    let clock = ManualClock::new();
    let make = |name: &'static str, recovery: u64| {
        Arc::new(
            CircuitBreaker::builder()
                .name(name)
                .failure_threshold(1)
                .recovery_timeout(Duration::from_secs(recovery))
                .clock(clock.clone())
                .build()
                .unwrap(),
        )
    };
    let (a, b, c, d) = (make("a", 1), make("b", 60), make("c", 60), make("d", 60));
    let registry = Registry::new();
    assert!(registry.is_empty());
    assert_eq!(format!("{registry:?}"), "{}");
    for breaker in [&d, &c, &b, &a] {
        registry.register(Arc::clone(breaker)).unwrap();
    }
    assert!(registry.all_closed());
    for opened in [&a, &b] {
        opened.try_acquire().unwrap().failure();
    }
    clock.advance(Duration::from_secs(1));

    assert_eq!(names(registry.all()), ["a", "b", "c", "d"]);
    assert_eq!(names(registry.half_open()), ["a"]);
    assert_eq!(names(registry.open()), ["b"]);
    assert_eq!(names(registry.closed()), ["c", "d"]);
    assert!(!registry.all_closed());
    assert_eq!(registry.len(), 4);
    assert!(!registry.is_empty());
    assert_eq!(
        format!("{registry:?}"),
        r#"{"a": HalfOpen, "b": Open, "c": Closed, "d": Closed}"#
    );
}
