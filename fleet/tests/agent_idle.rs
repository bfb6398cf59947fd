//! The agent sleeps until there is news (Linux: counted from `/proc`). Its own test binary, so
//! that no other test's fleet threads are counted.
#![cfg(target_os = "linux")]

mod agent_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_support::{breaker, connected, fail, server, wait_until};
use async_breaker::State;
use async_breaker_fleet::{Fleet, Quorum};

/// Voluntary context switches of this process's threads whose name starts with `prefix`: each
/// time such a thread blocked (a sleep, a read waiting for a reply).
fn switches(prefix: &str) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let dir = task.expect("task").path();
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue; // the thread ended meanwhile
        };
        if !comm.trim_end().starts_with(prefix) {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(dir.join("status")) else {
            continue;
        };
        total += status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .expect("a voluntary_ctxt_switches line");
    }
    total
}

/// The reconcile interval: at most half the test breakers' probe deadline (1 s).
const RECONCILE: Duration = Duration::from_millis(500);

/// Two idle replicas with four attached breakers each, over four reconcile intervals: each
/// agent sleeps through them, waking for the reconcile rounds (one sleep and one read per
/// breaker each), not 200 times a second as an agent polling every 5 ms would. Then a local trip still
/// reaches another replica: nothing needed the agent to be awake.
#[test]
fn an_idle_agent_sleeps_between_reconcile_rounds_and_a_trip_still_wakes_it() {
    let server = server();
    let make = |id: &str| {
        Fleet::builder(server.url())
            .namespace("idle")
            .replica_id(id)
            .quorum(Quorum::first_trip())
            .poll_interval(Duration::from_millis(5))
            .reconcile_interval(RECONCILE)
            .build()
            .expect("valid fleet settings")
    };
    let (a, b) = (make("a"), make("b"));
    connected(&a);
    connected(&b);
    let on = |fleet: &Fleet, name: &str| {
        let breaker = breaker(name, 1, Duration::from_secs(30));
        fleet.attach(&breaker).expect("attach").keep();
        breaker
    };
    let names = ["w", "x", "y", "z"];
    let mine: Vec<Arc<_>> = names.iter().map(|n| on(&a, n)).collect();
    let theirs: Vec<Arc<_>> = names.iter().map(|n| on(&b, n)).collect();
    // Every breaker read back once: attached and settled.
    wait_until("both fleets read every breaker", || {
        names
            .iter()
            .all(|n| a.membership(n).is_some() && b.membership(n).is_some())
    });

    let scripts = a.stats().scripts_run + b.stats().scripts_run;
    let before = switches("fleet-agent");
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let (woke, idle) = (switches("fleet-agent") - before, start.elapsed());
    let reads = a.stats().scripts_run + b.stats().scripts_run - scripts;
    // Per agent and round: one sleep, four reads, and a few spare (a round straddling the
    // window's edges, the scheduler): 96. Polling every 5 ms would be about 800.
    let rounds = u64::try_from(idle.as_millis() / RECONCILE.as_millis()).expect("short") + 2;
    let bound = 2 * rounds * (1 + 4 + 3);
    assert!(
        woke <= bound,
        "the two idle agents blocked {woke} times in {idle:?} (at most {bound}); {reads} reads"
    );
    assert!(reads <= 2 * rounds * 4, "{reads} reads in {idle:?}");

    fail(&mine[2], 1);
    wait_until("the trip reaches the other replica", || {
        theirs[2].state() == State::Open
    });
    assert!(theirs
        .iter()
        .enumerate()
        .all(|(i, b)| i == 2 || b.state() == State::Closed));
}
