//! The call path of a breaker attached to a fleet against a plain one, path by path: attaching
//! adds nothing to a call (the agent reads the word between calls and writes it only when the
//! fleet changes state).
//!
//! Run: `cargo bench -p async-breaker-fleet --bench attached`. A throwaway `redis-server` is
//! started on a free loopback port when installed (`apt-get install -y redis-server`), so the
//! agent is connected (and reconciling) while the calls are measured; without one the agent
//! runs degraded, which the bench prints.
//!
//! | benchmark | one iteration is |
//! |---|---|
//! | `closed_success/plain` | 1 sync call returning `Ok` on a plain closed breaker |
//! | `closed_success/attached` | the same on a breaker attached to a fleet |
//! | `closed_failure/plain`, `closed_failure/attached` | 1 failing call then 1 successful call (the success resets the count) |
//! | `open_reject/plain`, `open_reject/attached` | 1 call rejected (plain: open; attached: held by the fleet) |

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_breaker::{CircuitBreaker, State};
use async_breaker_fleet::Fleet;
use async_breaker_testkit::RedisServer;
use criterion::{criterion_main, Criterion};

fn breaker(name: &str) -> Arc<CircuitBreaker> {
    Arc::new(
        CircuitBreaker::builder()
            .name(name.to_owned())
            .failure_threshold(5)
            .recovery_timeout(Duration::from_secs(3600))
            .build()
            .expect("valid breaker"),
    )
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "bench setup: timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn bench(c: &mut Criterion) {
    let server = match RedisServer::start() {
        Ok(server) => Some(server),
        Err(e) => {
            eprintln!("attached bench: {e}; measuring with the agent degraded");
            None
        }
    };
    let url = server
        .as_ref()
        .map_or_else(|| "redis://127.0.0.1:1/".to_owned(), RedisServer::url);
    let fleet = Fleet::builder(url)
        .namespace("bench")
        .poll_interval(Duration::from_millis(1))
        .build()
        .expect("valid fleet");
    if server.is_some() {
        wait_for("the agent to connect", || fleet.stats().connected);
    }

    let plain = breaker("plain");
    let attached = breaker("attached");
    let _attachment = fleet.attach(&attached).expect("attach");
    let scripts = fleet.stats().scripts_run;
    if server.is_some() {
        wait_for("the first reconciliation", || {
            fleet.stats().scripts_run > scripts
        });
    }

    let mut group = c.benchmark_group("closed_success");
    for (label, b) in [("plain", &plain), ("attached", &attached)] {
        assert_eq!(b.state(), State::Closed);
        group.bench_function(label, |bench| {
            bench.iter(|| black_box(b.call(|| Ok::<u64, ()>(black_box(1)))));
        });
        assert_eq!(b.state(), State::Closed);
    }
    group.finish();

    let mut group = c.benchmark_group("closed_failure");
    for (label, b) in [("plain", &plain), ("attached", &attached)] {
        assert_eq!(b.state(), State::Closed);
        group.bench_function(label, |bench| {
            bench.iter(|| {
                let failed = black_box(b.call(|| Err::<u64, u64>(black_box(2))));
                let ok = black_box(b.call(|| Ok::<u64, u64>(black_box(1))));
                (failed, ok)
            });
        });
        assert_eq!((b.state(), b.failure_count()), (State::Closed, 0));
    }
    group.finish();

    // Open the plain breaker locally, and the attached one through the fleet (a trip published
    // by its own agent, then held): both reject with one load and one clock read.
    for b in [&plain, &attached] {
        for _ in 0..5 {
            let _ = b.call(|| Err::<(), ()>(()));
        }
    }
    if server.is_some() {
        wait_for("the fleet trip", || fleet.stats().trips_published == 1);
    }
    let mut group = c.benchmark_group("open_reject");
    for (label, b) in [("plain", &plain), ("attached", &attached)] {
        assert_eq!(b.state(), State::Open);
        group.bench_function(label, |bench| {
            bench.iter(|| black_box(b.call(|| Ok::<u64, ()>(black_box(1)))));
        });
    }
    group.finish();
    fleet.shutdown();
}

/// Every group of this bench, with criterion's command-line settings.
fn benches() {
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
}

criterion_main!(benches);
