//! The quorum, live membership and demand, with several fleets in one process against a real
//! `redis-server`: one replica's trip stays its own, a quorum of distinct replicas opens every
//! replica (saying so), votes end with the window, the replica's own recovery and its
//! membership, fleet counting honours the quorum, and only a replica whose callers want the
//! probe competes for it.

mod agent_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_support::{admits, attach, builder, connected, fail, server, wait_until};
use async_breaker::remote::Phase;
use async_breaker::{Cause, CircuitBreaker, Reason, State};
use async_breaker_fleet::{Attachment, Fleet, FleetBuilder, Quorum};

const LEASE: Duration = Duration::from_secs(10);

type Log = Arc<Mutex<Vec<(State, State, Cause)>>>;

/// One replica whose breaker logs its transitions with their causes.
struct Replica {
    attachment: Attachment,
    breaker: Arc<CircuitBreaker>,
    fleet: Fleet,
    log: Log,
}

/// `n` replicas `r0..` with the quorum `quorum`, breaker `dep` opening after 3 failures for
/// `recovery`, each live as the server counts it.
fn quorum_replicas(
    url: &str,
    namespace: &str,
    n: usize,
    quorum: Quorum,
    recovery: Duration,
    adjust: impl Fn(FleetBuilder) -> FleetBuilder,
) -> Vec<Replica> {
    let replicas: Vec<Replica> = (0..n)
        .map(|i| {
            let fleet = adjust(builder(url, namespace, &format!("r{i}"), LEASE).quorum(quorum))
                .build()
                .expect("valid fleet settings");
            connected(&fleet);
            let log = Log::default();
            let record = Arc::clone(&log);
            let breaker = Arc::new(
                CircuitBreaker::builder()
                    .name("dep")
                    .failure_threshold(3)
                    .recovery_timeout(recovery)
                    .probe_deadline(Duration::from_secs(1))
                    .on_transition(move |t| {
                        record.lock().unwrap().push((t.from(), t.to(), t.cause()));
                    })
                    .build()
                    .expect("valid breaker"),
            );
            let attachment = attach(&fleet, &breaker);
            Replica {
                attachment,
                breaker,
                fleet,
                log,
            }
        })
        .collect();
    for r in &replicas {
        wait_until("every replica is live", || {
            r.fleet
                .membership("dep")
                .is_some_and(|m| m.live == u32::try_from(n).unwrap())
        });
    }
    replicas
}

fn votes(r: &Replica) -> u32 {
    r.fleet.membership("dep").map_or(0, |m| m.votes)
}

#[test]
fn one_replica_tripping_opens_only_itself_and_a_second_opens_everyone_saying_why() {
    let server = server();
    let recovery = Duration::from_secs(5);
    let replicas = quorum_replicas(
        &server.url(),
        "q-open",
        3,
        Quorum::default(),
        recovery,
        |b| b,
    );
    let m = replicas[2].fleet.membership("dep").expect("reconciled");
    assert_eq!((m.live, m.votes, m.needed), (3, 0, 2));

    // r0 trips: its vote is recorded, the fleet stays closed, r1 and r2 keep admitting.
    fail(&replicas[0].breaker, 3);
    assert!(replicas[0].breaker.is_open());
    wait_until("r0's vote is counted", || votes(&replicas[0]) == 1);
    assert_eq!(replicas[0].fleet.stats().trips_voted, 1);
    assert_eq!(replicas[0].fleet.stats().trips_published, 0);
    for r in &replicas[1..] {
        assert!(admits(&r.breaker), "a healthy replica rejects");
        assert!(r.breaker.is_closed());
    }
    // r0 stays open on its own evidence, with its own timer (not held by the fleet).
    assert_eq!(replicas[0].breaker.remote().snapshot().phase(), Phase::Open);

    assert_eq!(
        *replicas[0].log.lock().unwrap(),
        [(State::Closed, State::Open, Cause::Calls)]
    );

    // r1 trips too: two distinct replicas, the quorum: every replica opens.
    let watched = &replicas[2].breaker;
    fail(&replicas[1].breaker, 3);
    wait_until("the healthy replica is held open by the fleet", || {
        !admits(watched)
    });
    assert_eq!(replicas[1].fleet.stats().trips_published, 1);
    let rejected = watched.try_acquire().expect_err("held");
    assert_eq!(rejected.state(), State::Open);
    assert_eq!(
        rejected.remote(),
        Some(Reason::Quorum {
            tripped: 2,
            live: 3
        })
    );
    let text = rejected.to_string();
    assert!(text.contains("2 of 3 replicas tripped"), "{text}");
    let events = replicas[2].log.lock().unwrap().clone();
    assert_eq!(
        events,
        [(
            State::Closed,
            State::Open,
            Cause::Remote(Reason::Quorum {
                tripped: 2,
                live: 3
            })
        )]
    );
    // r0, open on its own, is now held by the fleet too.
    wait_until("r0 follows the fleet", || {
        replicas[0].breaker.remote().snapshot().phase() == Phase::Held
    });
}

#[test]
fn a_replica_that_recovers_by_itself_withdraws_its_vote() {
    let server = server();
    let recovery = Duration::from_millis(150);
    let replicas = quorum_replicas(
        &server.url(),
        "q-withdraw",
        3,
        Quorum::default(),
        recovery,
        |b| b,
    );
    fail(&replicas[0].breaker, 3);
    wait_until("r0's vote is counted", || {
        votes(&replicas[1]) == 1 || votes(&replicas[0]) == 1
    });
    // r0's own probe succeeds after its open period: it closed by itself, its vote goes.
    wait_until("r0 probes by itself and closes", || {
        if let Ok(permit) = replicas[0].breaker.try_acquire() {
            permit.success();
        }
        replicas[0].breaker.is_closed()
    });
    wait_until("the vote is withdrawn", || {
        // A fresh read: any script reply carries the count.
        replicas[0].fleet.stats().scripts_run > 0 && votes(&replicas[0]) == 0
    });
    // r1's trip alone is now one vote: the fleet stays closed.
    fail(&replicas[1].breaker, 3);
    wait_until("r1's vote is counted", || votes(&replicas[1]) == 1);
    assert!(admits(&replicas[2].breaker));
    assert_eq!(replicas[1].fleet.stats().trips_published, 0);
}

#[test]
fn votes_end_with_the_window() {
    let server = server();
    let recovery = Duration::from_secs(30);
    let window = Duration::from_millis(300);
    let replicas = quorum_replicas(
        &server.url(),
        "q-window",
        3,
        Quorum::default(),
        recovery,
        |b| b.vote_window(window),
    );
    fail(&replicas[0].breaker, 3);
    wait_until("r0's vote is counted", || votes(&replicas[0]) == 1);
    // The window passes (on the server's clock): the reconcile reads report no vote.
    wait_until("r0's vote expires", || {
        votes(&replicas[2]) == 0 && votes(&replicas[0]) == 0
    });
    fail(&replicas[1].breaker, 3);
    wait_until("r1's vote is counted", || votes(&replicas[1]) == 1);
    assert!(
        admits(&replicas[2].breaker),
        "one vote in the window opened the fleet"
    );
    assert_eq!(replicas[1].fleet.stats().trips_published, 0);
}

#[test]
fn a_replica_that_stops_is_no_longer_live_and_its_vote_stops_counting() {
    let server = server();
    let recovery = Duration::from_secs(30);
    // Half of the live replicas, at least two: 2 of 4, then 2 of 3.
    let mut replicas = quorum_replicas(
        &server.url(),
        "q-members",
        4,
        Quorum::fraction(0.5, 2),
        recovery,
        |b| b,
    );
    fail(&replicas[3].breaker, 3);
    wait_until("r3's vote is counted", || votes(&replicas[0]) == 1);
    // r3 goes away without a word (its agent stops, as a killed process's would: no script).
    let gone = replicas.pop().expect("r3");
    gone.attachment.keep();
    gone.fleet.shutdown();
    // Three reconcile intervals (100 ms each) later the server no longer counts it.
    wait_until("three live replicas", || {
        replicas[0]
            .fleet
            .membership("dep")
            .is_some_and(|m| m.live == 3 && m.needed == 2 && m.votes == 0)
    });
    // Its vote went with it: one more trip is one vote, not the quorum.
    fail(&replicas[0].breaker, 3);
    wait_until("r0's vote is counted", || votes(&replicas[1]) == 1);
    assert!(admits(&replicas[1].breaker));
    // A second live replica's trip is the quorum.
    fail(&replicas[1].breaker, 3);
    wait_until("every live replica is held", || {
        !admits(&replicas[2].breaker)
    });
}

#[test]
fn fleet_counting_needs_failures_from_a_quorum_of_replicas() {
    let server = server();
    let recovery = Duration::from_secs(30);
    let replicas = quorum_replicas(
        &server.url(),
        "q-counting",
        3,
        Quorum::default(),
        recovery,
        |b| b.fleet_counting(true),
    );
    // r0 fails twice (below its own threshold of 3), succeeds, fails twice more, one at a
    // time: four failures counted fleet-wide (over the threshold), but from one replica only.
    let published = |n: u64| {
        wait_until(&format!("{n} failures published"), || {
            replicas[0].fleet.stats().failures_published == n
        });
    };
    fail(&replicas[0].breaker, 2);
    published(2);
    let _ = replicas[0].breaker.call(|| Ok::<(), &str>(()));
    fail(&replicas[0].breaker, 1);
    published(3);
    fail(&replicas[0].breaker, 1);
    published(4);
    assert!(
        admits(&replicas[1].breaker),
        "one replica's failures opened the fleet"
    );
    assert!(admits(&replicas[2].breaker));
    // r1 fails once: a second replica: the fleet opens, counted.
    fail(&replicas[1].breaker, 1);
    wait_until("every replica is held", || {
        replicas.iter().all(|r| !admits(&r.breaker))
    });
    let rejected = replicas[2].breaker.try_acquire().expect_err("held");
    assert_eq!(rejected.remote(), Some(Reason::Counted));
}

#[test]
fn only_a_replica_whose_callers_want_the_probe_competes_for_it() {
    let server = server();
    let recovery = Duration::from_millis(200);
    let replicas = quorum_replicas(
        &server.url(),
        "q-demand",
        3,
        Quorum::first_trip(),
        recovery,
        |b| b,
    );
    fail(&replicas[0].breaker, 3);
    wait_until("every replica is held", || {
        replicas[1..]
            .iter()
            .all(|r| r.breaker.remote().snapshot().phase() == Phase::Held)
    });
    // The open period ends; nobody calls: nobody takes the lease, nobody is granted.
    wait_until("the fleet's open period is over here", || {
        replicas[2]
            .breaker
            .remote()
            .snapshot()
            .remaining()
            .is_zero()
    });
    std::thread::sleep(Duration::from_millis(300)); // a window in which nothing may happen
    for r in &replicas {
        assert_eq!(
            r.fleet.stats().probes_won,
            0,
            "an idle replica took the lease"
        );
        assert_ne!(r.breaker.remote().snapshot().phase(), Phase::HalfOpen);
    }
    // A caller on r2 is turned away: r2 (and only r2) competes and wins the lease.
    wait_until("r2 is granted the probe", || {
        match replicas[2].breaker.try_acquire() {
            Ok(probe) => {
                probe.success();
                true
            }
            Err(_) => false,
        }
    });
    assert_eq!(replicas[2].fleet.stats().probes_won, 1);
    assert_eq!(replicas[0].fleet.stats().probes_won, 0);
    assert_eq!(replicas[1].fleet.stats().probes_won, 0);
    wait_until("every replica closes", || {
        replicas.iter().all(|r| r.breaker.is_closed())
    });
    // The idle replica saw two transitions, each saying why; the winner's grant became a
    // transition only when its caller claimed it.
    let opened_by_the_fleet = Cause::Remote(Reason::Quorum {
        tripped: 1,
        live: 3,
    });
    assert_eq!(
        *replicas[1].log.lock().unwrap(),
        [
            (State::Closed, State::Open, opened_by_the_fleet),
            (State::Open, State::Closed, Cause::Remote(Reason::Probe)),
        ]
    );
    assert_eq!(
        *replicas[2].log.lock().unwrap(),
        [
            (State::Closed, State::Open, opened_by_the_fleet),
            (State::Open, State::HalfOpen, Cause::Calls),
            (State::HalfOpen, State::Closed, Cause::Calls),
        ]
    );
}

#[test]
fn the_replica_whose_probe_failed_lets_another_that_wants_it_probe_next() {
    let server = server();
    let recovery = Duration::from_millis(200);
    let replicas = quorum_replicas(
        &server.url(),
        "q-bar",
        2,
        Quorum::first_trip(),
        recovery,
        |b| b,
    );
    fail(&replicas[0].breaker, 3);
    // Only r0's callers want the probe: r0 wins and its probe fails.
    wait_until("r0 is granted the probe", || {
        match replicas[0].breaker.try_acquire() {
            Ok(probe) => {
                probe.failure();
                true
            }
            Err(_) => false,
        }
    });
    // Next period both want it: r1 (which did not just fail) is granted it.
    let mut winner = None;
    wait_until("a replica is granted the next probe", || {
        for (i, r) in replicas.iter().enumerate() {
            if let Ok(probe) = r.breaker.try_acquire() {
                probe.success();
                winner = Some(i);
                return true;
            }
        }
        false
    });
    assert_eq!(
        winner,
        Some(1),
        "the replica whose probe just failed probed again first"
    );
    wait_until("every replica closes", || {
        replicas.iter().all(|r| r.breaker.is_closed())
    });
}
