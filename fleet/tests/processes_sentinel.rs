//! The fleet on a primary that Redis Sentinel monitors (a primary, its replica and three
//! sentinels, from the testkit), with real replica processes (the `replica` example with
//! `--sentinel` and `--service`), in phases:
//!
//! 1. a dead dependency opens every one of 8 replicas, gets exactly one probe per open period
//!    fleet-wide over at least 6 cycles, and one probe closes every replica once it heals;
//! 2. pairs of broken replicas (the default quorum of two) open every other replica, by the
//!    quorum: the trip propagation is printed, its p99 bounded by one reconcile interval plus
//!    an allowance;
//! 3. the primary is killed while the dependency is healthy: every replica keeps making
//!    successful calls in every second until the sentinels promoted the replica (no call
//!    waits on the server, nobody opens), reports itself degraded meanwhile, and is connected
//!    again (to the new primary) after the failover; the state kept its epoch;
//! 4. the dependency dies again: every replica opens, one probe per cycle over at least 4
//!    cycles, and every replica closes once it heals.
//!
//! Every wait is for a condition with a generous deadline. Run with `-- --nocapture` to see
//! the figures. Unix only: it sends signals.
#![cfg(unix)]

mod harness;

use std::time::{Duration, Instant};

use harness::phases::{check_failover, dead_cycles, quorum_rounds, read_state};
use harness::rig::Rig;
use harness::serial;
use harness::stats::percentile;

const REPLICAS: usize = 8;
const RECOVERY_MS: u64 = 300;
const LEASE_MS: u64 = 1_000;
const RECONCILE_MS: u64 = 200;
/// Failed probes of the first dead-dependency phase.
const CYCLES: usize = 6;
/// Rounds of two broken replicas: 6 samples of trip propagation each.
const ROUNDS: usize = 3;
/// What a loaded 2-core machine may add to a bound made of the fleet's own timings.
const ALLOWANCE_MS: u64 = 500;

#[test]
fn a_fleet_under_sentinel_survives_a_failover() {
    let _serial = serial();
    let test_started = Instant::now();
    let mut rig = Rig::builder(REPLICAS, "sentinel")
        .sentinel()
        .recovery_ms(RECOVERY_MS)
        .lease_ms(LEASE_MS)
        .reconcile_ms(RECONCILE_MS)
        .start();
    let started = test_started.elapsed();
    let all = rig.all();
    let state_key = rig.key("state");

    // 1. A dead dependency: every replica opens, one probe per cycle, one probe closes all.
    let (dead, all_closed) = dead_cycles(&rig, "dead dependency", CYCLES);
    let primary = rig.sentinel().primary_port();
    let before = read_state(primary, &state_key);
    println!(
        "sentinel: dead dependency: {REPLICAS} replicas opened, {} cycles with one probe each, \
         every replica closed after the last ({:?} in all)",
        rig.probe_cycles(dead, all_closed).len(),
        all_closed.duration_since(dead)
    );

    // 2. Pairs of broken replicas (the quorum) open every other one.
    let delays = quorum_rounds(&rig, ROUNDS);
    let (p50, p99) = (percentile(&delays, 50), percentile(&delays, 99));
    println!(
        "sentinel: trip propagation (the quorum-reaching trip -> each other replica open, \
         replica clocks, {} samples): p50 {p50:?}, p99 {p99:?}, max {:?}",
        delays.len(),
        percentile(&delays, 100)
    );
    let bound = Duration::from_millis(RECONCILE_MS + ALLOWANCE_MS);
    assert!(
        p99 <= bound,
        "propagation p99 {p99:?} above {bound:?}: {delays:?}"
    );

    // 3. The primary is killed while the dependency is healthy.
    rig.wait_calling(Instant::now(), &all, 20);
    let killed_at = Instant::now();
    let killed = rig
        .sentinel_mut()
        .kill_primary()
        .unwrap_or_else(|err| panic!("{err}"));
    let promoted = rig
        .sentinel_mut()
        .wait_for_failover()
        .unwrap_or_else(|err| panic!("{err}"));
    let failed_over = Instant::now();
    assert_ne!(promoted, killed);
    let report = check_failover(&rig, "the primary killed", killed_at, failed_over);
    let after = read_state(promoted, &state_key);
    assert_eq!(after.epoch, before.epoch, "the failover kept the state");
    assert!(after.gen >= before.gen, "{before:?} then {after:?}");
    let (after_kill, after_failover) = report.reconnected_ms(killed_at, failed_over);
    println!(
        "sentinel: primary on port {killed} killed; the sentinels promoted port {promoted} \
         after {:?}; every replica reported degraded, and was connected again {after_kill} ms \
         after the kill ({after_failover:+} ms from the failover seen by the test); the fewest \
         successful calls of a replica in one second meanwhile: {}; longest call {} us",
        failed_over.duration_since(killed_at),
        report.fewest_per_second,
        report.longest_call_us,
    );

    // 4. The fleet works on the new primary.
    let (dead, all_closed) = dead_cycles(&rig, "after the failover", 4);
    let healed = read_state(promoted, &state_key);
    assert_eq!(healed.epoch, before.epoch);
    assert!(healed.gen > after.gen, "{after:?} then {healed:?}");
    println!(
        "sentinel: after the failover, {} cycles with one probe each; every replica closed; \
         gen {} -> {} -> {}",
        rig.probe_cycles(dead, all_closed).len(),
        before.gen,
        after.gen,
        healed.gen
    );

    let exits = rig.shut_down_cleanly();
    assert_eq!(exits.len(), REPLICAS);
    println!(
        "sentinel test: the deployment and {REPLICAS} replicas started in {started:?}, the \
         whole test took {:?}",
        test_started.elapsed()
    );
}
