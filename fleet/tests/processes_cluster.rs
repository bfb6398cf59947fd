//! The fleet on a real Redis Cluster (three primaries with a replica each, from the testkit),
//! with real replica processes (the `replica` example with `--cluster`), in phases:
//!
//! 1. a dead dependency opens every one of 8 replicas, gets exactly one probe per open period
//!    fleet-wide over at least 6 cycles, and one probe closes every replica once it heals;
//! 2. pairs of broken replicas (the default quorum of two) open every other replica, by the
//!    quorum: the trip propagation is printed, its p99 bounded by one reconcile interval plus
//!    an allowance (what the fleet guarantees without pub/sub);
//! 3. a second breaker, whose slot lives on another primary, with its own small fleet in the
//!    same namespace (so on the same channel): it trips and recovers with one probe per
//!    cycle, and the first fleet stays closed meanwhile;
//! 4. the breaker's slot migrates to another primary and back and again while the fleet is
//!    open and probing: the state's `epoch` is the same throughout, its generation only
//!    grows, one probe per cycle continues across the migrations, and every replica closes
//!    after healing;
//! 5. the primary owning the slot is killed while the dependency is healthy: every replica
//!    keeps making successful calls in every second of the failover (no call waits on the
//!    cluster, nobody opens), reports itself degraded while the slot has no primary, is
//!    connected again after the failover, the state kept its epoch, and the fleet then opens,
//!    probes once per cycle and closes as before.
//!
//! Every wait is for a condition with a generous deadline. Run with `-- --nocapture` to see
//! the figures. Unix only: it sends signals.
#![cfg(unix)]

mod harness;

use std::time::{Duration, Instant};

use async_breaker_testkit::{key_slot, ClusterNode};
use harness::dependency::Mode;
use harness::phases::{
    assert_no_state_change, check_failover, dead_cycles, quorum_rounds, read_state,
};
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
/// Slot moves while the fleet is open: away, back, away again.
const MOVES: usize = 3;
/// What a loaded 2-core machine may add to a bound made of the fleet's own timings.
const ALLOWANCE_MS: u64 = 500;

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// The primary serving `key`'s slot.
fn owner(rig: &Rig, key: &str) -> ClusterNode {
    rig.cluster()
        .primary_for_key(key)
        .unwrap_or_else(|err| panic!("{err}"))
}

#[test]
fn a_fleet_on_a_redis_cluster_survives_slot_migration_and_failover() {
    let _serial = serial();
    let test_started = Instant::now();
    let mut rig = Rig::builder(REPLICAS, "cluster")
        .cluster()
        .recovery_ms(RECOVERY_MS)
        .lease_ms(LEASE_MS)
        .reconcile_ms(RECONCILE_MS)
        .start();
    let started = test_started.elapsed();

    // 1. A dead dependency: every replica opens, one probe per cycle, one probe closes all.
    let (dead, all_closed) = dead_cycles(&rig, "dead dependency", CYCLES);
    let state_key = rig.key("state");
    let home = owner(&rig, &state_key);
    let epoch = read_state(home.port, &state_key).epoch;
    println!(
        "cluster: dead dependency: {REPLICAS} replicas opened, {} cycles with one probe each, \
         every replica closed after the last ({:?} in all)",
        rig.probe_cycles(dead, all_closed).len(),
        all_closed.duration_since(dead)
    );

    // 2. Pairs of broken replicas (the quorum) open every other one.
    let delays = quorum_rounds(&rig, ROUNDS);
    let (p50, p99) = (percentile(&delays, 50), percentile(&delays, 99));
    println!(
        "cluster: trip propagation (the quorum-reaching trip -> each other replica open, \
         replica clocks, {} samples): p50 {p50:?}, p99 {p99:?}, max {:?}",
        delays.len(),
        percentile(&delays, 100)
    );
    let bound = ms(RECONCILE_MS + ALLOWANCE_MS);
    assert!(
        p99 <= bound,
        "propagation p99 {p99:?} above {bound:?}: {delays:?}"
    );

    // 3. A second breaker on another primary.
    second_breaker(&rig, &home, &epoch);

    // 4. The slot migrates, back and forth, while the fleet is open and probing.
    let last = migrations(&rig, &home, &epoch);

    // 5. The slot's primary is killed while the dependency is healthy.
    failover(&mut rig, &last, &epoch);

    let exits = rig.shut_down_cleanly();
    assert_eq!(exits.len(), REPLICAS);
    println!(
        "cluster test: the cluster and {REPLICAS} replicas started in {started:?}, the whole \
         test took {:?}",
        test_started.elapsed()
    );
}

/// A second breaker, whose slot is served by another primary than `home`, with its own small
/// fleet in the same namespace (so on the same channel): it trips and recovers with one
/// probe per cycle, with a state of its own, and `rig`'s fleet stays closed meanwhile.
fn second_breaker(rig: &Rig, home: &ClusterNode, epoch: &str) {
    let all = rig.all();
    let name = (0..1_000)
        .map(|i| format!("other-{i}"))
        .find(|name| {
            let key = format!("{}:{{{name}}}:state", rig.config.namespace);
            owner(rig, &key).id != home.id
        })
        .expect("a name on another primary");
    let mut other = Rig::builder(3, &rig.config.namespace)
        .name(&name)
        .join(rig)
        .recovery_ms(RECOVERY_MS)
        .lease_ms(LEASE_MS)
        .reconcile_ms(RECONCILE_MS)
        .start();
    let key = other.key("state");
    let other_home = owner(rig, &key);
    assert_ne!(other_home.id, home.id, "the second breaker's primary");
    let (dead, all_closed) = dead_cycles(&other, "second breaker", 3);
    let state = read_state(other_home.port, &key);
    assert_ne!(state.epoch, epoch, "two breakers, two states");
    assert_eq!(state.state, "closed");
    assert_no_state_change(
        rig,
        "the first fleet stays closed",
        dead,
        Instant::now(),
        &all,
        "open",
    );
    other.shut_down_cleanly();
    println!(
        "cluster: breaker {name:?} (slot {}, port {}) tripped and recovered with one probe per \
         cycle ({} cycles) beside {:?} (slot {}, port {}), which stayed closed",
        key_slot(key.as_bytes()),
        other_home.port,
        other.probe_cycles(dead, all_closed).len(),
        rig.config.name,
        key_slot(rig.key("state").as_bytes()),
        home.port
    );
}

/// With the dependency dead and the fleet probing, the breaker's slot moves from `home` to
/// another primary, back, and away again, two probe cycles apart; then the dependency heals.
/// The state keeps `epoch`, its generation only grows, every cycle has one probe, nobody
/// closes before the healing and everybody after. Returns the slot's last primary.
fn migrations(rig: &Rig, home: &ClusterNode, epoch: &str) -> ClusterNode {
    let all = rig.all();
    let state_key = rig.key("state");
    let slot = key_slot(state_key.as_bytes());
    let away = rig
        .cluster()
        .primaries()
        .unwrap_or_else(|err| panic!("{err}"))
        .into_iter()
        .find(|p| p.id != home.id)
        .expect("another primary");
    let dead = rig.dependency.set_mode(Mode::Dead);
    rig.wait_state(dead, &all, "open");
    rig.wait_probes(dead, 2);
    let mut states = vec![read_state(home.port, &state_key)];
    let mut moves = Vec::new();
    for i in 0..MOVES {
        let to = if i % 2 == 0 { &away } else { home };
        let moving = Instant::now();
        rig.cluster()
            .migrate_slot(slot, to.port)
            .unwrap_or_else(|err| panic!("{err}"));
        moves.push(moving.elapsed());
        assert_eq!(owner(rig, &state_key).id, to.id, "move {i}: the slot moved");
        states.push(read_state(to.port, &state_key));
        // The probes go on: two more cycles on the new primary.
        rig.wait_probes(Instant::now(), 2);
    }
    let healthy = rig.dependency.set_mode(Mode::Healthy);
    let closed = rig.wait_state(healthy, &all, "closed");
    let all_closed = closed.into_iter().max().expect("replicas");
    rig.wait_latest_state(&all, "closed");
    let last = owner(rig, &state_key);
    states.push(read_state(last.port, &state_key));
    let cycles = rig.assert_one_probe_per_cycle(
        "across the migrations",
        dead,
        all_closed,
        2 + 2 * MOVES + 1,
    );
    assert_no_state_change(
        rig,
        "open until the dependency heals",
        dead,
        healthy,
        &all,
        "closed",
    );
    for (i, state) in states.iter().enumerate() {
        assert_eq!(state.epoch, epoch, "state {i} of {states:?}");
    }
    for pair in states.windows(2) {
        assert!(
            pair[0].gen <= pair[1].gen,
            "the generation only grows: {states:?}"
        );
    }
    assert!(
        states[0].gen < states[states.len() - 1].gen,
        "cycles bumped the generation: {states:?}"
    );
    assert_eq!(states[states.len() - 1].state, "closed", "{states:?}");
    let degraded_ticks = rig
        .replicas
        .events()
        .all()
        .iter()
        .filter(|e| e.at >= dead && e.at <= all_closed && e.is_tick())
        .filter(|e| e.get("degraded") == "1")
        .count();
    println!(
        "cluster: slot {slot} moved {MOVES} times between ports {} and {} (each move took \
         {moves:?}) while open: epoch {epoch} kept, gen {:?}; {} cycles with one probe each \
         across the moves; degraded ticks meanwhile: {degraded_ticks}",
        home.port,
        away.port,
        states.iter().map(|s| s.gen).collect::<Vec<_>>(),
        cycles.len()
    );
    last
}

/// The slot's primary (`owner`) is killed while the dependency is healthy: calls go on,
/// every replica reports degraded until the failover and is connected after it, the state
/// keeps `epoch`, and the fleet then opens, probes once per cycle and closes as before.
fn failover(rig: &mut Rig, owner: &ClusterNode, epoch: &str) {
    let all = rig.all();
    let state_key = rig.key("state");
    rig.wait_calling(Instant::now(), &all, 20);
    let killed_at = Instant::now();
    let killed = rig
        .cluster_mut()
        .kill_primary(owner.port)
        .unwrap_or_else(|err| panic!("{err}"));
    let heir = rig
        .cluster()
        .wait_for_failover(&killed)
        .unwrap_or_else(|err| panic!("{err}"));
    let failed_over = Instant::now();
    assert!(heir.serves(key_slot(state_key.as_bytes())), "{heir:?}");
    let report = check_failover(rig, "the slot's primary killed", killed_at, failed_over);
    assert_eq!(
        read_state(heir.port, &state_key).epoch,
        epoch,
        "the failover kept the state"
    );
    let (after_kill, after_failover) = report.reconnected_ms(killed_at, failed_over);
    println!(
        "cluster: primary on port {} killed; its replica on port {} took over after {:?}; \
         every replica reported degraded, and was connected again {after_kill} ms after the \
         kill ({after_failover:+} ms from the failover seen by the test); the fewest successful \
         calls of a replica in one second meanwhile: {}; longest call {} us",
        killed.port,
        heir.port,
        failed_over.duration_since(killed_at),
        report.fewest_per_second,
        report.longest_call_us,
    );
    let (dead, all_closed) = dead_cycles(rig, "after the failover", 4);
    println!(
        "cluster: after the failover, {} cycles with one probe each; every replica closed",
        rig.probe_cycles(dead, all_closed).len()
    );
}
