//! One breaker on three replicas (three fleets in one process, each with its own connections):
//! a trip opens everyone, one replica wins the probe lease, and its outcome closes or re-opens
//! every replica; one fleet keeps several breakers in step. Detaching or shutting down hands a
//! breaker back to local control.

mod agent_support;

use std::sync::Arc;
use std::time::Duration;

use agent_support::{
    admits, attach, breaker, connected, fail, fleet, redis, server, test_replicas, wait_until,
    want, Replica,
};
use async_breaker::remote::Phase;
use async_breaker::CircuitBreaker;
use async_breaker_fleet::{Attachment, Fleet};

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
    let winner = wait_for_one_winner(&fleets, &breakers, &before);
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
    let winner = wait_for_one_winner(&fleets, &breakers, &before);
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
    let winner = wait_for_one_winner(&fleets, &breakers, &before);
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

#[test]
fn a_detached_or_dropped_breaker_leaves_the_fleets_hold_for_its_own_timer() {
    let server = server();
    // An open period far longer than the test: the fleet stays open throughout.
    let recovery = Duration::from_secs(60);
    let mut replicas = test_replicas(
        &server.url(),
        "detach",
        3,
        Duration::from_secs(10),
        2,
        recovery,
    );
    fail(&replicas[0].breaker, 2);
    wait_until("replicas 1 and 2 are held by the fleet", || {
        replicas[1..]
            .iter()
            .all(|r| r.breaker.remote().snapshot().phase() == Phase::Held)
    });
    let own_timer = |b: &CircuitBreaker| {
        b.remote().snapshot().phase() == Phase::Open && b.is_open() && !admits(b)
    };

    // Replica 2's whole fleet is dropped: that shuts it down, and by the time the drop returns
    // its breaker is a plain local breaker again, open on its own timer.
    let Replica {
        attachment,
        breaker: dropped,
        fleet,
    } = replicas.pop().expect("replica 2");
    drop(fleet);
    assert!(own_timer(&dropped), "{:?}", dropped.remote().snapshot());
    drop(attachment);

    // Replica 1 drops its attachment only: the same, once its agent has seen the detach.
    let detached = replicas.pop().expect("replica 1");
    drop(detached.attachment);
    wait_until("the detached breaker opens on its own timer", || {
        own_timer(&detached.breaker)
    });
}

#[test]
fn shutting_down_hands_an_unclaimed_grant_back_to_the_fleet() {
    let server = server();
    let url = server.url();
    // A long lease: only a grant handed back (not one running out) lets the other replica probe.
    let (replicas, winner) = tripped_pair(&url, "handback", Duration::from_secs(10));
    let fleets: Vec<&Fleet> = replicas.iter().map(|r| &r.fleet).collect();
    let lease = || -> Option<String> {
        redis(&url, |c| {
            redis::cmd("GET").arg("handback:{dep}:lease").query(c)
        })
    };
    let token = lease().expect("the winner holds the lease");
    assert!(token.ends_with(&format!(":r{winner}")), "{token}");

    // The winner shuts down before anyone claimed its probe: by the time shutdown returns,
    // its lease is back with the fleet (the other replica may already hold a new one), and the
    // other replica wins it and probes.
    fleets[winner].shutdown();
    assert_ne!(lease(), Some(token), "the lease outlived the shutdown");
    let other = &replicas[1 - winner];
    takes_over_and_closes(other);
}

#[test]
fn one_fleet_keeps_every_attached_breaker_in_step() {
    let server = server();
    let url = server.url();
    let names = ["alpha", "beta", "gamma"];
    let fleets: Vec<Fleet> = (0..2)
        .map(|i| {
            let f = fleet(&url, "several", &format!("r{i}"), Duration::from_secs(10));
            connected(&f);
            f
        })
        .collect();
    // Long open periods: every breaker stays open for the whole test once tripped.
    let breakers: Vec<Vec<Arc<CircuitBreaker>>> = fleets
        .iter()
        .map(|_| {
            names
                .iter()
                .map(|name| breaker(name, 2, Duration::from_secs(60)))
                .collect()
        })
        .collect();
    let _attachments: Vec<Attachment> = fleets
        .iter()
        .zip(&breakers)
        .flat_map(|(f, bs)| bs.iter().map(move |b| attach(f, b)))
        .collect();

    // Replica 0's breakers trip one after the other: each time replica 1's breaker of that
    // name follows, and the ones not tripped yet still admit calls.
    for (i, name) in names.iter().enumerate() {
        fail(&breakers[0][i], 2);
        wait_until(&format!("replica 1's {name} is held"), || {
            !admits(&breakers[1][i])
        });
        for later in &breakers[1][i + 1..] {
            assert!(admits(later), "{} followed {name}'s trip", later.name());
        }
    }
    assert_eq!(fleets[0].stats().trips_published, 3);
}

#[test]
fn a_lease_holder_forced_open_by_hand_gives_the_lease_back() {
    let server = server();
    // A lease longer than any wait in this test: the other replica can only get the probe
    // if the holder hands the lease back.
    let (replicas, holder) = tripped_pair(&server.url(), "manual", Duration::from_secs(60));
    let other = &replicas[1 - holder];

    replicas[holder].breaker.force_open();
    takes_over_and_closes(other);
    // Manual control wins locally: the fleet closing leaves the forced breaker open.
    assert_eq!(
        replicas[holder].breaker.remote().snapshot().phase(),
        Phase::ForcedOpen
    );
}

#[test]
fn an_unclaimed_grant_goes_back_to_the_fleet() {
    let server = server();
    let (replicas, first) = tripped_pair(&server.url(), "unclaimed", Duration::from_secs(2));
    let fleets: Vec<&Fleet> = replicas.iter().map(|r| &r.fleet).collect();

    // The caller that wanted the probe on the winner went away: it takes its grant back and
    // gives the lease to the fleet, which grants the probe again to a replica whose callers
    // want it, until one is claimed.
    wait_until("the winner gives the unclaimed grant back", || {
        fleets[first].stats().leases_revoked == 1
    });
    wait_until("a replica is granted the probe again", || {
        for r in &replicas {
            want(&r.breaker);
        }
        won(&fleets).iter().sum::<u64>() >= 2
    });
    let mut probe = None;
    wait_until("a replica admits the probe", || {
        probe = replicas.iter().find_map(|r| r.breaker.try_acquire().ok());
        probe.is_some()
    });
    probe.expect("claimed").success();
    wait_until("every replica closes", || {
        replicas.iter().all(|r| r.breaker.is_closed())
    });
}

/// Two replicas with `lease` and a 300 ms open period; replica 0 trips, and one replica wins
/// the probe lease: returns them and the winner.
fn tripped_pair(url: &str, namespace: &str, lease: Duration) -> (Vec<Replica>, usize) {
    let replicas = test_replicas(url, namespace, 2, lease, 2, Duration::from_millis(300));
    let fleets: Vec<&Fleet> = replicas.iter().map(|r| &r.fleet).collect();
    let breakers: Vec<&CircuitBreaker> = replicas.iter().map(|r| &*r.breaker).collect();
    let before = won(&fleets);
    fail(&replicas[0].breaker, 2);
    let winner = wait_for_one_winner(&fleets, &breakers, &before);
    drop(fleets);
    (replicas, winner)
}

/// Waits until `other` wins the probe lease (its first), probes successfully, and closes.
fn takes_over_and_closes(other: &Replica) {
    wait_until("the other replica wins the lease", || {
        want(&other.breaker);
        other.fleet.stats().probes_won == 1
    });
    other
        .breaker
        .try_acquire()
        .expect("the new holder admits its probe")
        .success();
    wait_until("the other replica closes", || other.breaker.is_closed());
}

/// Waits until one more lease has been won across the fleets, and returns the replica that won it.
/// `before` is [`won`] taken before the round's trip.
/// Every replica's callers want the probe.
fn wait_for_one_winner(fleets: &[&Fleet], breakers: &[&CircuitBreaker], before: &[u64]) -> usize {
    wait_until("one replica wins the probe lease", || {
        for b in breakers {
            want(b);
        }
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
