//! Shared by the single-process agent tests: a throwaway server, fleets with test timings,
//! breakers, and condition waits with generous deadlines.
#![allow(dead_code)] // each test file uses a different part

pub mod proxy;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_breaker::{Backoff, CircuitBreaker};
use async_breaker_fleet::{Attachment, Fleet, FleetBuilder, Quorum};
use async_breaker_testkit::RedisServer;

/// Every wait in these tests: far longer than anything should take, even on a loaded machine.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Starts a throwaway redis-server; without one the test fails with the install hint.
pub fn server() -> RedisServer {
    RedisServer::start().unwrap_or_else(|e| panic!("these tests need a local redis-server: {e}"))
}

/// A fleet (one replica) with short timings; `lease` also sets how long an unclaimed grant waits.
pub fn fleet(url: &str, namespace: &str, replica: &str, lease: Duration) -> Fleet {
    builder(url, namespace, replica, lease)
        .build()
        .expect("valid fleet settings")
}

/// The settings of [`fleet`], to adjust before building. These tests check the fleet's
/// protocol with the first trip opening everyone ([`Quorum::first_trip`]); the quorum has tests
/// of its own (`agent_quorum.rs`).
pub fn builder(url: &str, namespace: &str, replica: &str, lease: Duration) -> FleetBuilder {
    Fleet::builder(url)
        .quorum(Quorum::first_trip())
        .namespace(namespace)
        .replica_id(replica)
        .poll_interval(Duration::from_millis(2))
        .reconcile_interval(Duration::from_millis(100))
        .lease(lease)
        .timeout(Duration::from_millis(200))
        .max_reconnect_backoff(Duration::from_millis(100))
}

/// One replica: its fleet, its breaker, attached (the attachment is dropped first).
pub struct Replica {
    pub attachment: Attachment,
    pub breaker: Arc<CircuitBreaker>,
    pub fleet: Fleet,
}

/// One replica per builder (ids `r0`, `r1`, ...), each connected, with a breaker named `dep`
/// (`threshold` failures, `recovery` open period) attached and reconciled once.
pub fn replicas(builders: Vec<FleetBuilder>, threshold: u32, recovery: Duration) -> Vec<Replica> {
    builders
        .into_iter()
        .map(|b| {
            let fleet = b.build().expect("valid fleet settings");
            connected(&fleet);
            let breaker = breaker("dep", threshold, recovery);
            let attachment = attach(&fleet, &breaker);
            Replica {
                attachment,
                breaker,
                fleet,
            }
        })
        .collect()
}

/// [`replicas`] with the test timings of [`fleet`].
pub fn test_replicas(
    url: &str,
    namespace: &str,
    n: usize,
    lease: Duration,
    threshold: u32,
    recovery: Duration,
) -> Vec<Replica> {
    let builders = (0..n)
        .map(|i| builder(url, namespace, &format!("r{i}"), lease))
        .collect();
    replicas(builders, threshold, recovery)
}

/// A breaker opening after `threshold` consecutive failures, open for `recovery` (doubling per
/// failed probe up to 8x), probe deadline 1 s so a 100 ms reconcile interval renews holds.
pub fn breaker(name: &str, threshold: u32, recovery: Duration) -> Arc<CircuitBreaker> {
    Arc::new(
        CircuitBreaker::builder()
            .name(name.to_owned())
            .failure_threshold(threshold)
            .recovery_timeout(recovery)
            .probe_deadline(Duration::from_secs(1))
            .backoff(Backoff::exponential(recovery * 8))
            .build()
            .expect("valid breaker"),
    )
}

/// Waits until `done` holds, failing the test with `what` after [`DEADLINE`].
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits until the fleet's agent has both connections up.
pub fn connected(fleet: &Fleet) {
    wait_until("the agent is connected and subscribed", || {
        let s = fleet.stats();
        s.connected && s.subscribed
    });
}

/// Records `n` failures.
pub fn fail(breaker: &CircuitBreaker, n: u32) {
    for _ in 0..n {
        let _ = breaker.call(|| Err::<(), &str>("dependency down"));
    }
}

/// A caller turned away by a breaker the fleet holds: once the fleet's open period is over,
/// that is the demand that makes this replica compete for the probe lease (an idle replica
/// never does). Only knocks while the breaker is held, so it never claims a granted probe
/// (if the grant lands in between, the claimed probe is dropped unused, freeing the slot again).
pub fn want(breaker: &CircuitBreaker) {
    if breaker.remote().snapshot().phase() == async_breaker::remote::Phase::Held {
        drop(breaker.try_acquire());
    }
}

/// Whether a call right now would be admitted (the permit is dropped unused: nothing recorded).
pub fn admits(breaker: &CircuitBreaker) -> bool {
    breaker.try_acquire().is_ok()
}

/// Runs `f` on a fresh connection to `url`.
pub fn redis<T>(url: &str, f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>) -> T {
    let client = redis::Client::open(url).expect("url");
    let mut con = client
        .get_connection_with_timeout(Duration::from_secs(5))
        .expect("connect to the test server");
    f(&mut con).expect("redis command")
}

/// Attaches `breaker` and waits for the agent's first reconciliation of it.
pub fn attach(fleet: &Fleet, breaker: &Arc<CircuitBreaker>) -> Attachment {
    let before = fleet.stats().scripts_run;
    let attachment = fleet.attach(breaker).expect("attach");
    wait_until("the first reconciliation after attaching", || {
        fleet.stats().scripts_run > before
    });
    attachment
}
