//! How often an idle replica's fleet threads wake: a fleet with attached breakers, healthy
//! server, no calls. Counts the voluntary context switches of the `fleet-agent` and
//! `fleet-subscriber` threads (from `/proc/self/task/*/status`, Linux) over a measuring window.
//!
//! Run: `cargo bench -p async-breaker-fleet --bench idle` (needs `redis-server`). Settings:
//! `FLEET_BREAKERS` (default 10), `FLEET_IDLE_SECS` (default 10), `FLEET_RECONCILE_MS`
//! (default 1000, the library's default).

use std::sync::Arc;
use std::time::Duration;

use async_breaker::CircuitBreaker;
use async_breaker_fleet::Fleet;
use async_breaker_testkit::RedisServer;

fn env(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Voluntary context switches of this process's threads whose name starts with `prefix`.
fn switches(prefix: &str) -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = task.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
        if !comm.trim_end().starts_with(prefix) {
            continue;
        }
        let status = std::fs::read_to_string(dir.join("status")).ok()?;
        let line = status
            .lines()
            .find(|l| l.starts_with("voluntary_ctxt_switches:"))?;
        total += line.split_whitespace().nth(1)?.parse::<u64>().ok()?;
    }
    Some(total)
}

fn main() {
    let server = RedisServer::start().expect("redis-server (apt-get install -y redis-server)");
    let breakers = env("FLEET_BREAKERS", 10);
    let secs = env("FLEET_IDLE_SECS", 10);
    let reconcile = Duration::from_millis(env("FLEET_RECONCILE_MS", 1000));
    let fleet = Fleet::builder(server.url())
        .namespace("idle")
        .reconcile_interval(reconcile)
        .build()
        .expect("fleet settings");
    let mut kept = Vec::new();
    for i in 0..breakers {
        let breaker = Arc::new(
            CircuitBreaker::builder()
                .name(format!("dep-{i}"))
                .build()
                .expect("breaker settings"),
        );
        fleet.attach(&breaker).expect("attach").keep();
        kept.push(breaker);
    }
    // Let it connect, subscribe and read every breaker once.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !(fleet.stats().connected && fleet.stats().subscribed) {
        assert!(std::time::Instant::now() < deadline, "never connected");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(reconcile * 2);
    let (agent0, sub0) = (switches("fleet-agent"), switches("fleet-subscr"));
    std::thread::sleep(Duration::from_secs(secs));
    let (agent1, sub1) = (switches("fleet-agent"), switches("fleet-subscr"));
    match (agent0, agent1, sub0, sub1) {
        (Some(a0), Some(a1), Some(s0), Some(s1)) => {
            #[allow(clippy::cast_precision_loss)]
            let per_sec = |n: u64| n as f64 / secs as f64;
            println!(
                "idle fleet, {breakers} breakers, reconcile {reconcile:?}, {secs} s: \
                 agent {} wake-ups ({:.1}/s), subscriber {} ({:.1}/s)",
                a1 - a0,
                per_sec(a1 - a0),
                s1 - s0,
                per_sec(s1 - s0)
            );
        }
        _ => println!("no /proc/self/task here: nothing to count"),
    }
}
