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
