//! Faults against the fleet, with real replica processes and a real `redis-server`: the
//! server killed mid-run and restarted empty, the server stopped (`SIGSTOP`), the lease holder
//! killed or stopped while its probe is in flight, and garbage written into the fleet's keys
//! and channel.
//!
//! The tests run one at a time (`harness::serial`): each starts a server and several
//! processes, and the machine may have only two cores. Unix only: they send signals.
#![cfg(unix)]

mod harness;

use std::time::{Duration, Instant};

use harness::dependency::Mode;
use harness::replicas::replica_id;
use harness::resp::{Reply, Resp};
use harness::rig::Rig;
use harness::{serial, wait_until};

/// A call (admission, the dependency's round trip, recording) that takes longer than this
/// blocked on something: the fleet must never make a call wait for the server.
const CALL_BOUND_US: u64 = 1_500_000;

/// The longest call each replica measured in ticks printed after `since`.
fn max_call_us_since(rig: &Rig, since: Instant) -> u64 {
    rig.replicas
        .events()
        .all()
        .iter()
        .filter(|e| e.at >= since && e.get("event") == "tick")
        .map(|e| e.num("max_call_us"))
        .max()
        .unwrap_or(0)
}

/// Without the server, every replica keeps calling, and its breaker trips and recovers by
/// itself, as a plain local breaker.
fn works_locally(rig: &Rig) {
    let all = rig.all();
    rig.wait_calling(Instant::now(), &all, 20);
    let dead = rig.dependency.set_mode(Mode::Dead);
    rig.wait_state(dead, &all, "open");
    let healthy = rig.dependency.set_mode(Mode::Healthy);
    rig.wait_state(healthy, &all, "closed");
    rig.wait_calling(Instant::now(), &all, 20);
}

#[test]
fn calls_continue_while_the_server_is_dead_and_the_fleet_reconciles_after_a_restart() {
    let _serial = serial();
    let mut rig = Rig::start(3, "faults-kill", 300, 2_000);
    let all = rig.all();

    // Kill the server: every replica keeps calling, as a plain local breaker.
    let killed = Instant::now();
    rig.server_mut().kill();
    rig.wait_degraded(killed, &all);
    works_locally(&rig);

    // Restart it empty: the replicas reconnect, and a trip propagates again.
    let restarted = Instant::now();
    rig.server_mut()
        .restart()
        .unwrap_or_else(|err| panic!("{err}"));
    rig.wait_connected(restarted, &all);
    rig.trip_propagates(1, &all);

    let longest = max_call_us_since(&rig, killed);
    assert!(
        longest < CALL_BOUND_US,
        "a call took {longest} us while the server was down or restarting"
    );
    rig.assert_no_panic();
    let clean = rig.replicas.shutdown(harness::DEADLINE);
    assert_eq!(clean, vec![true; all.len()], "every replica exits cleanly");
}

#[test]
fn calls_never_wait_on_a_stopped_server() {
    let _serial = serial();
    let mut rig = Rig::start(3, "faults-stopped-server", 300, 2_000);
    let all = rig.all();

    // A hung server (SIGSTOP: connections stay open, nothing answers).
    let stopped = Instant::now();
    rig.server_mut()
        .pause()
        .unwrap_or_else(|err| panic!("{err}"));
    rig.wait_degraded(stopped, &all);
    works_locally(&rig);
    let longest = max_call_us_since(&rig, stopped);

    // It wakes up: the replicas reconnect and the fleet works again.
    let resumed = Instant::now();
    rig.server_mut()
        .resume()
        .unwrap_or_else(|err| panic!("{err}"));
    rig.wait_connected(resumed, &all);
    rig.trip_propagates(0, &all);
    assert!(
        longest < CALL_BOUND_US,
        "a call took {longest} us while the server was stopped"
    );
    rig.assert_no_panic();
}

#[test]
fn the_fleet_recovers_when_the_server_restarts_empty_while_it_is_open() {
    let _serial = serial();
    let mut rig = Rig::start(3, "faults-restart-open", 300, 2_000);
    let all = rig.all();

    // The fleet is open (and probing a dead dependency) when the server loses everything.
    let dead = rig.dependency.set_mode(Mode::DeadFor(replica_id(0)));
    rig.wait_state(dead, &all, "open");
    rig.dependency.set_mode(Mode::Dead);
    let restarted = Instant::now();
    rig.server_mut()
        .restart()
        .unwrap_or_else(|err| panic!("{err}"));
    rig.wait_connected(restarted, &all);

    // Nothing is wedged: the dependency heals, every replica closes, and the fleet works.
    let healthy = rig.dependency.set_mode(Mode::Healthy);
    rig.wait_state(healthy, &all, "closed");
    rig.wait_calling(Instant::now(), &all, 20);
    rig.trip_propagates(2, &all);
    rig.assert_no_panic();
}

/// Opens the fleet on a dead dependency and holds the first probe unanswered; returns the
/// holder's index and the probe's arrival.
fn hold_a_probe(rig: &Rig) -> (usize, Instant) {
    let all = rig.all();
    rig.dependency.hold_next_probe();
    let dead = rig.dependency.set_mode(Mode::Dead);
    rig.wait_state(dead, &all, "open");
    wait_until(&rig.replicas, "a held probe", || {
        rig.dependency.held_probe().is_some()
    });
    let (holder, at) = rig.dependency.held_probe().expect("held");
    let index = harness::replicas::replica_index(&holder).expect("a replica id");
    (index, at)
}

/// With the holder out of the game, the next probe comes from another replica, and not
/// before the lease could have expired; it succeeds and closes every other replica.
fn another_replica_probes(rig: &Rig, holder: usize, held_at: Instant, others: &[usize]) {
    let healthy = rig.dependency.set_mode(Mode::Healthy);
    rig.wait_state(healthy, others, "closed");
    let probes: Vec<_> = rig
        .dependency
        .calls_since(held_at)
        .into_iter()
        .filter(|c| c.probe && c.at > held_at)
        .collect();
    let next = probes.first().expect("a second probe closed the fleet");
    assert_ne!(
        next.replica,
        replica_id(holder),
        "the next probe is another replica's"
    );
    let lease = Duration::from_millis(rig.config.lease_ms);
    assert!(
        next.at.duration_since(held_at) >= lease / 2,
        "another replica probed {:?} after the held probe, while the lease ({lease:?}) was \
         still live: {probes:?}",
        next.at.duration_since(held_at)
    );
}

#[test]
fn a_killed_lease_holder_loses_the_lease_and_another_replica_probes() {
    let _serial = serial();
    let mut rig = Rig::start(4, "faults-holder-killed", 300, 1_500);
    let (holder, held_at) = hold_a_probe(&rig);
    rig.replicas.kill(holder);
    let others: Vec<usize> = rig.all().into_iter().filter(|r| *r != holder).collect();
    another_replica_probes(&rig, holder, held_at, &others);
    rig.dependency.release(false);
    rig.wait_calling(Instant::now(), &others, 20);
    rig.assert_no_panic();
}

#[test]
fn a_stopped_lease_holder_loses_the_lease_and_its_late_probe_is_discarded() {
    let _serial = serial();
    let rig = Rig::start(4, "faults-holder-stopped", 300, 1_500);
    let (holder, held_at) = hold_a_probe(&rig);
    rig.replicas.signal(holder, "-STOP");
    let others: Vec<usize> = rig.all().into_iter().filter(|r| *r != holder).collect();
    another_replica_probes(&rig, holder, held_at, &others);

    // The holder wakes up: its agent learns the fleet closed and closes it, and the failure
    // its probe reports afterwards belongs to a finished cycle: nobody re-opens.
    let resumed = Instant::now();
    rig.replicas.signal(holder, "-CONT");
    rig.wait_state(resumed, &[holder], "closed");
    let released = Instant::now();
    rig.dependency.release(false);
    rig.wait_calling(released, &rig.all(), 20);
    let reopened: Vec<_> = rig
        .replicas
        .events()
        .all()
        .into_iter()
        .filter(|e| e.at >= released && e.is_state("open"))
        .collect();
    assert!(
        reopened.is_empty(),
        "the late probe re-opened: {reopened:?}"
    );
    for r in rig.all() {
        assert_eq!(rig.latest_state(r), "closed", "replica r{r}");
    }
    rig.assert_no_panic();
}

#[test]
fn garbage_in_the_keys_and_on_the_channel_is_ignored() {
    let _serial = serial();
    let rig = Rig::start(3, "faults-garbage", 300, 2_000);
    let all = rig.all();
    let mut redis = Resp::connect(rig.server().port()).expect("connect to the server");
    let prefix = format!("{}:{{{}}}", rig.config.namespace, rig.config.name);
    let channel = format!("{}:fleet", rig.config.namespace);
    let oversized = vec![b'x'; 1 << 20];
    let garbage: Vec<&[u8]> = vec![
        b"",
        b"\xff\xfe\x00garbage",
        b"abf1",
        b"abf1 epoch",
        b"abf1 e1 notanumber open 100 0 - dependency",
        b"abf1 e1 99999999999999999999999 open 100 0 - dependency",
        b"abf1 e1 7 open 100 200 - dependency",
        b"abf1 e1 7 sideways 100 0 - dependency",
        b"abf1 e1 7 probing 100 0 bad:holder dependency",
        b"abf1 e!1 7 open 100 0 - dependency",
        b"abf9 e1 7 open 100 0 - dependency",
        b"abf1 e1 -3 open -100 0 - dependency",
        &oversized,
    ];

    let start = Instant::now();
    for value in &garbage {
        for key in ["state", "open", "lease", "fails"] {
            let key = format!("{prefix}:{key}");
            let reply = redis
                .command(&[b"SET", key.as_bytes(), value])
                .expect("SET");
            assert_eq!(reply, Reply::Simple("OK".into()));
        }
        let reply = redis
            .command(&[b"PUBLISH", channel.as_bytes(), value])
            .expect("PUBLISH");
        assert!(matches!(reply, Reply::Int(n) if n >= 1), "{reply:?}");
    }
    // The state key as a hash with garbage fields too.
    let state = format!("{prefix}:state");
    redis.cmd(&["DEL", &state]).expect("DEL");
    redis
        .cmd(&[
            "HSET", &state, "v", "1", "epoch", "!!", "gen", "x", "state", "open",
        ])
        .expect("HSET");

    // Nothing opened, nothing died, and the malformed input was counted.
    rig.wait_calling(Instant::now(), &all, 20);
    rig.replicas
        .events()
        .wait_for("the malformed input counted", harness::DEADLINE, |events| {
            events
                .iter()
                .any(|e| e.at >= start && e.num("malformed") > 0)
                .then_some(())
        });
    let opened: Vec<_> = rig
        .replicas
        .events()
        .all()
        .into_iter()
        .filter(|e| e.at >= start && e.is_state("open"))
        .collect();
    assert!(opened.is_empty(), "garbage opened a breaker: {opened:?}");
    for r in &all {
        assert!(rig.replicas.pid(*r).is_some());
    }

    // The fleet still works over the garbage left in the keys.
    rig.trip_propagates(0, &all);
    rig.assert_no_panic();
}
