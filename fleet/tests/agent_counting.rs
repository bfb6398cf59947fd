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
    // The fleet opened for the breakers' own open period (a minute).
    for breaker in [ba, bb] {
        let left = breaker.open_remaining();
        assert!(left > Duration::from_secs(30), "{left:?}");
    }
}

/// The guide's promise: sampled counts may miss a failure that a success reset in between, but
/// never count one twice, however the failures and the samples interleave.
#[test]
fn a_failure_is_counted_once_however_it_is_sampled() {
    let server = server();
    let url = server.url();
    // A threshold out of reach, and operation timeouts no loaded machine reaches: the
    // replica stays closed and connected throughout.
    let builders = vec![builder(&url, "once", "a", Duration::from_secs(10))
        .timeout(Duration::from_secs(2))
        .fleet_counting(true)];
    let replicas = replicas(builders, 100, Duration::from_secs(60));
    let (fleet, breaker) = (&replicas[0].fleet, &*replicas[0].breaker);
    let fails = || -> u64 {
        redis(&url, |c| {
            redis::cmd("HGET")
                .arg("once:{dep}:state")
                .arg("fails")
                .query(c)
        })
    };
    let published = |n: u64| {
        wait_until(&format!("{n} failures published"), || {
            fleet.stats().failures_published >= n
        });
        assert_eq!(fleet.stats().failures_published, n);
        assert_eq!(fails(), n);
    };

    // One failure at a time, each sampled on its own, then two at once.
    fail(breaker, 1);
    published(1);
    fail(breaker, 1);
    published(2);
    fail(breaker, 2);
    published(4);

    // Ten reconcile reads later the count has not moved: nothing new, nothing counted again.
    let scripts = fleet.stats().scripts_run;
    wait_until("ten more reconcile reads", || {
        fleet.stats().scripts_run >= scripts + 10
    });
    assert_eq!(fails(), 4);

    // A success resets the local count; the failures after it count from zero.
    let _ = breaker.call(|| Ok::<(), &str>(()));
    fail(breaker, 1);
    published(5);
    fail(breaker, 1);
    published(6);
    assert_eq!(
        fleet.stats().reconnects,
        0,
        "the replica lost its connection"
    );
    assert!(admits(breaker));
}
