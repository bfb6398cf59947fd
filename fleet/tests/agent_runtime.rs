//! The agent runs on its own threads: inside a single-threaded tokio runtime, building a
//! fleet, attaching and the fleet's transitions never block the runtime's one thread.

mod agent_support;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_support::{admits, breaker, builder, fail, server, DEADLINE};

/// Waits for `done` without blocking the runtime (the ticker task keeps running meanwhile).
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[test]
fn a_fleet_inside_a_current_thread_tokio_runtime() {
    let server = server();
    let url = server.url();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        // A task on the runtime's only thread: it advances only if nothing blocks the thread.
        let ticks = Arc::new(AtomicU64::new(0));
        let ticker = tokio::spawn({
            let ticks = Arc::clone(&ticks);
            async move {
                loop {
                    ticks.fetch_add(1, Relaxed);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        });
        let lease = Duration::from_secs(10);
        let recovery = Duration::from_secs(60);
        let (a, b) = (
            builder(&url, "tokio", "a", lease).build().expect("fleet a"),
            builder(&url, "tokio", "b", lease).build().expect("fleet b"),
        );
        let (ba, bb) = (breaker("dep", 2, recovery), breaker("dep", 2, recovery));
        let _x = a.attach(&ba).expect("attach a");
        let _y = b.attach(&bb).expect("attach b");
        until("both agents reconcile", || {
            a.stats().scripts_run > 0 && b.stats().scripts_run > 0 && b.stats().subscribed
        })
        .await;

        let before = ticks.load(Relaxed);
        fail(&ba, 2);
        until("b is held by a's trip", || !admits(&bb)).await;
        until("the ticker kept running", || ticks.load(Relaxed) > before).await;
        assert!(bb.open_remaining() > Duration::ZERO);
        ticker.abort();
    });
}
