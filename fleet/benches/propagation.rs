//! How fast fleet transitions reach the other replicas, on loopback, in one process: several
//! fleets (each with its own connections, as separate replicas would have) share one breaker
//! name, with the default quorum of two replicas. Each cycle: one replica trips (a vote below
//! the quorum), then a second one: the time from the second, quorum-reaching trip until every
//! replica rejects is the *trip propagation*; the open period ends, a replica whose caller
//! wants the probe wins the lease and probes successfully; the time until every replica is
//! closed is the *close propagation*. It also counts the leases won per cycle (always exactly
//! one).
//!
//! Run: `cargo bench -p async-breaker-fleet --bench propagation` (needs `redis-server`:
//! `apt-get install -y redis-server`). Settings: `FLEET_CYCLES` (default 100), `FLEET_REPLICAS`
//! (default 3); default fleet timings (5 ms poll interval).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_breaker::CircuitBreaker;
use async_breaker_fleet::Fleet;
use async_breaker_testkit::RedisServer;

fn env(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Spins (sleeping 50 µs) until `done`; `None` after 30 s.
fn time_until(start: Instant, mut done: impl FnMut() -> bool) -> Option<Duration> {
    while !done() {
        if start.elapsed() > Duration::from_secs(30) {
            return None;
        }
        std::thread::sleep(Duration::from_micros(50));
    }
    Some(start.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{what}: n={} p50={:.2?} p99={:.2?} max={:.2?}",
        samples.len(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples[samples.len() - 1]
    );
}

fn main() {
    // `cargo test --benches` runs this with `--bench`-less arguments: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let server = match RedisServer::start() {
        Ok(server) => server,
        Err(e) => {
            eprintln!("propagation bench skipped: {e}");
            return;
        }
    };
    let (cycles, n) = (env("FLEET_CYCLES", 100), env("FLEET_REPLICAS", 3).max(3));
    let recovery = Duration::from_millis(100);
    let replicas: Vec<(Fleet, Arc<CircuitBreaker>)> = (0..n)
        .map(|i| {
            let fleet = Fleet::builder(server.url())
                .namespace("propagation")
                .replica_id(format!("r{i}"))
                .reconcile_interval(Duration::from_millis(200))
                .build()
                .expect("fleet");
            let breaker = Arc::new(
                CircuitBreaker::builder()
                    .name("dep")
                    .failure_threshold(1)
                    .recovery_timeout(recovery)
                    .probe_deadline(Duration::from_secs(1))
                    .build()
                    .expect("breaker"),
            );
            fleet.attach(&breaker).expect("attach").keep();
            (fleet, breaker)
        })
        .collect();
    let start = Instant::now();
    time_until(start, || {
        replicas
            .iter()
            .all(|(f, _)| f.stats().connected && f.stats().subscribed && f.stats().scripts_run > 0)
    })
    .expect("replicas connect");

    let won = || -> u64 { replicas.iter().map(|(f, _)| f.stats().probes_won).sum() };
    let (mut trips, mut closes, mut probes) = (Vec::new(), Vec::new(), Vec::new());
    for cycle in 0..cycles {
        let (first, second) = (cycle % n, (cycle + 1) % n);
        let before = won();
        // A first trip: one vote, below the quorum; wait until the server counted it.
        let voted = |(f, _): &(Fleet, Arc<CircuitBreaker>)| f.stats().trips_voted;
        let votes_before = voted(&replicas[first]);
        let _ = replicas[first].1.call(|| Err::<(), ()>(()));
        time_until(Instant::now(), || {
            voted(&replicas[first]) > votes_before
                && replicas[first]
                    .0
                    .membership("dep")
                    .is_some_and(|m| m.votes >= 1)
        })
        .expect("the first trip is counted");
        // The second trip reaches the quorum.
        let t0 = Instant::now();
        let _ = replicas[second].1.call(|| Err::<(), ()>(()));
        let trip = time_until(t0, || {
            replicas.iter().all(|(_, b)| b.try_acquire().is_err())
        })
        .expect("every replica rejects");
        trips.push(trip);

        // The open period ends; callers knock on every replica (a rejection while the fleet's
        // open period is over is the demand that lets a replica compete); the winner (exactly
        // one) claims the probe and succeeds.
        let t = Instant::now();
        time_until(t, || {
            for (_, b) in &replicas {
                if b.remote().snapshot().phase() == async_breaker::remote::Phase::Held {
                    drop(b.try_acquire());
                }
            }
            won() > before
        })
        .expect("a replica wins the lease");
        let probe = replicas
            .iter()
            .find_map(|(_, b)| b.try_acquire().ok())
            .expect("the winner admits the probe");
        probe.success();
        let t1 = Instant::now();
        let close = time_until(t1, || replicas.iter().all(|(_, b)| b.is_closed()))
            .expect("every replica closes");
        closes.push(close);
        probes.push(won() - before);
    }
    report(
        "trip propagation (quorum-reaching trip -> every replica rejects)",
        trips,
    );
    report(
        "close propagation (probe success -> every replica closed)",
        closes,
    );
    let exact = probes.iter().filter(|p| **p == 1).count();
    println!("leases won per cycle: exactly one in {exact} of {cycles} cycles");
}
