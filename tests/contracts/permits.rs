//! Permits: their debug output says whose permit it is and whether it is the probe.

use std::sync::Arc;
use std::time::Duration;

use async_breaker::{CircuitBreaker, ManualClock};

#[test]
fn a_permit_debug_output_names_its_breaker_and_role() {
    let clock = ManualClock::new();
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .name("payments")
            .failure_threshold(1)
            .recovery_timeout(Duration::from_secs(1))
            .clock(clock.clone())
            .build()
            .unwrap(),
    );
    let borrowed = breaker.try_acquire().unwrap();
    assert_eq!(
        format!("{borrowed:?}"),
        r#"Permit { breaker: "payments", probe: false, pending: true, .. }"#
    );
    borrowed.failure();

    clock.advance(Duration::from_secs(1));
    let owned = Arc::clone(&breaker).try_acquire_owned().unwrap();
    assert_eq!(
        format!("{owned:?}"),
        r#"Permit { breaker: "payments", probe: true, pending: true, .. }"#
    );
}
