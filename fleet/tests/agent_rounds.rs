//! One breaker on three replicas (three fleets in one process, each with its own connections):
//! a trip opens everyone, one replica wins the probe lease, and its outcome closes or re-opens
//! every replica.

mod agent_support;

use std::time::Duration;

use agent_support::{admits, fail, server, test_replicas, wait_until};
use async_breaker::CircuitBreaker;
use async_breaker_fleet::Fleet;

#[test]
fn trip_then_one_probe_then_close_or_reopen_everyone() {
    let server = server();
    // A long lease: the test claims the granted probe itself, long before the grant is given back.
    let lease = Duration::from_secs(10);
    let recovery = Duration::from_millis(400);
    let replicas = test_replicas(&server.url(), "rounds", 3, lease, 3, recovery);
    let fleets: Vec<&Fleet> = replicas.iter().map(|r| &r.fleet).collect();
    let breakers: Vec<&CircuitBreaker> = replicas.iter().map(|r| &*r.breaker).collect();

    // 1. Replica 0 trips: every replica rejects and reports the fleet's remaining time.
    let before = won(&fleets);
    fail(breakers[0], 3);
    assert!(breakers[0].is_open());
    wait_until("every replica rejects", || {
        breakers.iter().all(|b| !admits(b))
    });
    for b in &breakers[1..] {
        let rejected = b.try_acquire().expect_err("held by the fleet");
        assert!(
            rejected.remaining() <= recovery,
            "{:?}",
            rejected.remaining()
        );
    }
    assert_eq!(fleets[0].stats().trips_published, 1);
    assert_eq!(fleets[1].stats().trips_published, 0);

    // 2. The open period ends: exactly one replica wins the lease, and only its breaker
    //    admits a probe (exactly one call).
    let winner = wait_for_one_winner(&fleets, &before);
    let probe = breakers[winner]
        .try_acquire()
        .expect("the winner admits the probe");
    assert!(
        !admits(breakers[winner]),
        "a second local call while the probe runs"
    );
    for (i, b) in breakers.iter().enumerate() {
        if i != winner {
            assert!(
                !admits(b),
                "replica {i} admitted a call while {winner} probes"
            );
        }
    }

    // 3. The probe succeeds: every replica closes.
    probe.success();
    wait_until("every replica closes", || {
        breakers.iter().all(|b| b.is_closed())
    });

    // 4. Another trip (replica 1 this time), and the probe fails: every replica re-opens at
    //    backoff level 1.
    let before = won(&fleets);
    fail(breakers[1], 3);
    wait_until("every replica rejects again", || {
        breakers.iter().all(|b| !admits(b))
    });
    let winner = wait_for_one_winner(&fleets, &before);
    let before = won(&fleets);
    let probe = breakers[winner]
        .try_acquire()
        .expect("the winner admits the probe");
    probe.failure();
    wait_until("every replica holds at backoff level 1", || {
        breakers
            .iter()
            .all(|b| !admits(b) && b.remote().snapshot().level() == 1)
    });
    // The fleet's fresh open period is the doubled one.
    wait_until("a replica reports the doubled open period", || {
        breakers[(winner + 1) % 3].open_remaining() > recovery
    });

    // 5. Next round: one probe again, success closes everyone and resets the level.
    let winner = wait_for_one_winner(&fleets, &before);
    breakers[winner]
        .try_acquire()
        .expect("the winner admits the probe")
        .success();
    wait_until("every replica closes at level 0", || {
        breakers
            .iter()
            .all(|b| b.is_closed() && b.remote().snapshot().level() == 0)
    });
    let won: u64 = fleets.iter().map(|f| f.stats().probes_won).sum();
    assert_eq!(won, 3, "one lease per round");
}

/// Waits until one more lease has been won across the fleets, and returns the replica that won it.
/// `before` is [`won`] taken before the round's trip.
fn wait_for_one_winner(fleets: &[&Fleet], before: &[u64]) -> usize {
    wait_until("one replica wins the probe lease", || {
        won(fleets).iter().sum::<u64>() > before.iter().sum::<u64>()
    });
    let after = won(fleets);
    assert_eq!(
        after.iter().sum::<u64>(),
        before.iter().sum::<u64>() + 1,
        "more than one lease in a round"
    );
    (0..fleets.len())
        .find(|&i| after[i] > before[i])
        .expect("a winner")
}

/// Leases won so far, per replica.
fn won(fleets: &[&Fleet]) -> Vec<u64> {
    fleets.iter().map(|f| f.stats().probes_won).collect()
}
