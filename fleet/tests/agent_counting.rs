//! Fleet-wide counting (opt-in): failures on different replicas add up to one threshold.

mod agent_support;

use std::time::Duration;

use agent_support::{admits, builder, fail, redis, replicas, server, wait_until};

#[test]
fn failures_on_two_replicas_trip_the_whole_fleet() {
    let server = server();
    let url = server.url();
    let builders = ["a", "b"]
        .iter()
        .map(|id| builder(&url, "count", id, Duration::from_secs(10)).fleet_counting(true))
        .collect();
    // Threshold 4: neither replica alone reaches it.
    let replicas = replicas(builders, 4, Duration::from_secs(60));
    let (a, b) = (&replicas[0].fleet, &replicas[1].fleet);
    let (ba, bb) = (&*replicas[0].breaker, &*replicas[1].breaker);

    fail(ba, 2);
    wait_until("a's failures reach the server", || {
        a.stats().failures_published >= 2
    });
    assert!(admits(ba) && admits(bb), "2 of 4 failures opened a breaker");
    let fails: String = redis(&url, |c| {
        redis::cmd("HGET")
            .arg("count:{dep}:state")
            .arg("fails")
            .query(c)
    });
    assert_eq!(fails, "2");

    fail(bb, 2);
    wait_until("the fleet opens everyone", || !admits(ba) && !admits(bb));
    assert_eq!(
        (ba.failure_count(), bb.failure_count()),
        (2, 2),
        "neither breaker reached its threshold locally"
    );
    assert_eq!(a.stats().trips_published + b.stats().trips_published, 1);
}
