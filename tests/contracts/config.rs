//! Configuration values read back as they were set.

use std::time::Duration;

use async_breaker::Backoff;

#[test]
fn a_backoff_reads_back_its_maximum_and_jitter() {
    let plain = Backoff::exponential(Duration::from_secs(60));
    assert_eq!(plain.max(), Duration::from_secs(60));
    assert!(!plain.jitter());
    let jittered = plain.with_jitter();
    assert!(jittered.jitter());
    assert_eq!(jittered.max(), Duration::from_secs(60));
}
