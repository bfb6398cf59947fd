//! The server is never a single point of failure: killed, the replicas are plain local
//! breakers (no call waits on it); restarted empty, the state reconciles; and a replica that
//! stops renewing its probe lease loses it to another replica, while a live one keeps it and a
//! late outcome follows whatever the fleet did meanwhile. Cut off, a replica retries with
//! back-off.

mod agent_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_support::proxy::Proxy;
use agent_support::{
    admits, attach, builder, connected, fail, redis, replicas, server, test_replicas, wait_until,
    want, Replica,
};
use async_breaker::remote::Phase;
use async_breaker::{CircuitBreaker, OwnedPermit, Permit};

#[test]
fn a_dead_server_leaves_local_breakers_and_an_empty_restart_reconciles() {
    let mut server = server();
    let url = server.url();
    let recovery = Duration::from_millis(300);
    let replicas = test_replicas(&url, "faults", 2, Duration::from_secs(10), 2, recovery);
    let (a, b) = (&replicas[0].fleet, &replicas[1].fleet);
    let (ba, bb) = (&*replicas[0].breaker, &*replicas[1].breaker);

    // Held by the fleet, then the server dies.
    fail(ba, 2);
    wait_until("b is held", || !admits(bb));
    let epoch = || -> String {
        redis(&url, |c| {
            redis::cmd("HGET")
                .arg("faults:{dep}:state")
                .arg("epoch")
                .query(c)
        })
    };
    let first_epoch = epoch();
    server.kill();
    wait_until("both replicas degrade", || {
        a.stats().degraded() && b.stats().degraded()
    });

    wait_until("b's hold is released to its own timer", || {
        bb.remote().snapshot().phase() != Phase::Held
    });
    // Plain local breakers now: calls keep completing on many threads, the open period runs
    // out on the local timer, a local probe closes the breaker.
    let calls = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let mut done = 0u32;
                    for _ in 0..1000 {
                        let _ = bb.call(|| Ok::<(), ()>(()));
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("caller"))
            .sum::<u32>()
    });
    assert_eq!(calls, 4000);
    wait_until("b closes by itself (local probe)", || {
        let _ = bb.call(|| Ok::<(), ()>(()));
        bb.is_closed()
    });

    // While the server is down, a trips locally again; the server comes back empty: a's open
    // knowledge is re-published and b follows it.
    wait_until("a closes by itself too", || {
        let _ = ba.call(|| Ok::<(), ()>(()));
        ba.is_closed()
    });
    fail(ba, 2);
    assert!(ba.is_open());
    assert!(admits(bb));
    server.restart().expect("restart the server");
    wait_until("both reconnect", || {
        let (sa, sb) = (a.stats(), b.stats());
        sa.connected && sb.connected && sa.reconnects >= 1 && sb.reconnects >= 1
    });
    wait_until("b is held again by a's republished trip", || !admits(bb));
    let state: String = redis(&url, |c| {
        redis::cmd("HGET")
            .arg("faults:{dep}:state")
            .arg("state")
            .query(c)
    });
    assert!(state == "open" || state == "probing", "{state}");
    // The state was created afresh: a new epoch, so nothing from before is mistaken for it.
    assert_ne!(epoch(), first_epoch);
}

#[test]
fn a_lease_holder_that_stops_renewing_loses_the_lease_to_another_replica() {
    let server = server();
    let url = server.url();
    let lease = Duration::from_secs(3);
    let replicas = test_replicas(&url, "lease", 2, lease, 2, Duration::from_millis(300));

    // The holder claims its probe, then its agent dies (no renewal, no result) while the
    // probe is still in flight.
    let (h, probe) = probe_in_flight(&replicas);
    let (holder, other) = (&replicas[h], &replicas[1 - h]);
    holder.fleet.shutdown();
    assert!(
        !admits(&other.breaker),
        "the other replica waits for the lease"
    );
    wait_until(
        "the other replica wins the lease after the deadline",
        || {
            want(&other.breaker);
            won(other) == 1
        },
    );
    other
        .breaker
        .try_acquire()
        .expect("the new holder admits its probe")
        .success();
    wait_until("the fleet closes", || {
        let s: String = redis(&url, |c| {
            redis::cmd("HGET")
                .arg("lease:{dep}:state")
                .arg("state")
                .query(c)
        });
        s == "closed"
    });
    assert!(other.breaker.is_closed());
    drop(probe);
}

#[test]
fn a_probe_whose_lease_was_lost_does_not_reopen_the_fleet() {
    let server = server();
    let url = server.url();
    let replicas = test_replicas(
        &url,
        "stolen",
        2,
        Duration::from_secs(3),
        2,
        Duration::from_millis(300),
    );
    let (h, late) = probe_in_flight(&replicas);
    let (holder, other) = (&replicas[h], &replicas[1 - h]);

    // The lease vanishes (as if the holder had hung past it): the other replica takes over
    // and its probe closes the fleet.
    let _: i64 = redis(&url, |c| {
        redis::cmd("DEL").arg("stolen:{dep}:lease").query(c)
    });
    wait_until("the other replica wins the lease", || {
        want(&other.breaker);
        won(other) == 1
    });
    other
        .breaker
        .try_acquire()
        .expect("the new holder admits its probe")
        .success();
    let fleet_state = || -> String {
        redis(&url, |c| {
            redis::cmd("HGET")
                .arg("stolen:{dep}:state")
                .arg("state")
                .query(c)
        })
    };
    wait_until("the fleet closes", || fleet_state() == "closed");

    // The first holder's probe fails late: stale, so it neither re-opens the fleet nor keeps
    // its own breaker open.
    late.failure();
    wait_until("the late holder follows the fleet and closes", || {
        holder.breaker.is_closed()
    });
    assert_eq!(fleet_state(), "closed");
    let trips: u64 = replicas
        .iter()
        .map(|r| r.fleet.stats().trips_published)
        .sum();
    assert_eq!(trips, 1, "the stale failure was published as a trip");
}

#[test]
fn a_partitioned_replica_follows_a_fleet_that_closed_meanwhile() {
    let server = server();
    let proxy = Proxy::start(server.port());
    // `a` talks to the server directly, `b` through the proxy the test cuts. `a` opens the
    // fleet for 500 ms; `b`'s own open period is 30 s, so the hold released during the
    // partition is still running on `b`'s timer when the partition heals.
    let lease = Duration::from_secs(3);
    let a = replicas(
        vec![builder(&server.url(), "part", "a", lease)],
        2,
        Duration::from_millis(500),
    );
    let b = replicas(
        vec![builder(&proxy.url(), "part", "b", lease)],
        2,
        Duration::from_secs(30),
    );
    let (a, b) = (&a[0], &b[0]);
    fail(&a.breaker, 2);
    wait_until("b is held", || !admits(&b.breaker));

    proxy.cut(true);
    wait_until("b degrades", || b.fleet.stats().degraded());
    assert!(
        !admits(&b.breaker),
        "b keeps the released open period locally"
    );
    // Meanwhile the fleet's open period ends, `a` wins the lease and its probe closes the fleet.
    wait_until("a wins the lease", || {
        want(&a.breaker);
        a.fleet.stats().probes_won == 1
    });
    a.breaker
        .try_acquire()
        .expect("a admits its probe")
        .success();
    let state = || -> String {
        redis(&server.url(), |c| {
            redis::cmd("HGET")
                .arg("part:{dep}:state")
                .arg("state")
                .query(c)
        })
    };
    wait_until("the fleet closes", || state() == "closed");

    // The partition heals: `b` follows the closed fleet instead of re-opening it with the
    // open period it kept from before.
    proxy.cut(false);
    wait_until("b reconnects and closes", || {
        b.fleet.stats().connected && b.breaker.is_closed()
    });
    assert_eq!(state(), "closed");
    assert!(a.breaker.is_closed());
    assert_eq!(
        a.fleet.stats().trips_published + b.fleet.stats().trips_published,
        1
    );
}

#[test]
fn a_probe_running_longer_than_the_lease_keeps_it_and_no_other_replica_probes() {
    let server = server();
    let url = server.url();
    // A live holder renews its lease while its probe runs: the probe below runs for two whole
    // leases, and the lease must outlive it. A generous operation timeout, so that a slow
    // renewal on a loaded machine is still a renewal (not a disconnection).
    let lease = Duration::from_secs(3);
    let timeout = Duration::from_millis(900);
    let builders = (0..2)
        .map(|i| builder(&url, "long", &format!("r{i}"), lease).timeout(timeout))
        .collect();
    let replicas = replicas(builders, 2, Duration::from_millis(300));
    let (h, probe) = probe_in_flight(&replicas);
    let other = &replicas[1 - h];
    let lease_key = || -> Option<String> {
        redis(&url, |c| redis::cmd("GET").arg("long:{dep}:lease").query(c))
    };
    let token = lease_key().expect("the holder's lease is on the server");
    assert!(token.ends_with(&format!(":r{h}")), "{token}");

    // The probe is in flight for two leases: throughout, the lease stays the holder's and the
    // other replica neither wins it nor admits a call.
    let claimed = Instant::now();
    let holder = &replicas[h];
    let (holder_scripts, other_scripts) = (
        holder.fleet.stats().scripts_run,
        other.fleet.stats().scripts_run,
    );
    while claimed.elapsed() < lease * 2 {
        assert_eq!(
            lease_key().as_deref(),
            Some(token.as_str()),
            "the live holder's lease expired while its probe ran"
        );
        assert_eq!(won(other), 0, "another replica won the lease mid-probe");
        assert!(!admits(&other.breaker), "another replica admitted a call");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Meanwhile the waiting replica talked to the server only to read the state back, once
    // per reconcile interval (100 ms here): no acquisition attempts while the lease is taken.
    let (reads, elapsed) = (
        other.fleet.stats().scripts_run - other_scripts,
        claimed.elapsed(),
    );
    let bound = u64::try_from(elapsed.as_millis() / 100).expect("short") + 3;
    assert!(
        reads <= bound,
        "{reads} scripts in {elapsed:?} from the waiting replica (at most {bound})"
    );
    // And the holder only read the state back and renewed its lease, every third of it (1 s
    // here, plus one in flight at either end): the lease is kept without a renewal per poll,
    // which would be hundreds of scripts a second.
    let scripts = holder.fleet.stats().scripts_run - holder_scripts;
    let bound = bound + u64::try_from(elapsed.as_millis() / 1000).expect("short") + 2;
    assert!(
        scripts <= bound,
        "{scripts} scripts in {elapsed:?} from the holder (at most {bound})"
    );

    // The long probe's outcome still counts: it closes every replica.
    probe.success();
    wait_until("every replica closes", || {
        replicas.iter().all(|r| r.breaker.is_closed())
    });
    assert_eq!(replicas.iter().map(won).sum::<u64>(), 1);
}

/// Leases won so far by one replica.
fn won(replica: &Replica) -> u64 {
    replica.fleet.stats().probes_won
}

/// Trips replica 0 (two failures), waits until one of the two replicas wins the probe lease,
/// and claims the probe there: returns the holder's index and its probe, in flight.
fn probe_in_flight(replicas: &[Replica]) -> (usize, Permit<'_>) {
    fail(&replicas[0].breaker, 2);
    wait_until("one replica wins the lease", || {
        for r in replicas {
            want(&r.breaker);
        }
        replicas.iter().map(won).sum::<u64>() == 1
    });
    let h = usize::from(won(&replicas[1]) == 1);
    let probe = replicas[h]
        .breaker
        .try_acquire()
        .expect("the holder admits the probe");
    (h, probe)
}

/// Cut off from the server, each of a replica's two connections (commands, channel) retries
/// after 20 ms, then twice as long each time up to `max_reconnect_backoff`; healed, both come
/// back and stay: a quiet channel is not a lost connection.
#[test]
fn a_cut_off_replica_retries_with_back_off_and_keeps_its_connections_once_healed() {
    let server = server();
    let proxy = Proxy::start(server.port());
    // Generous operation timeouts: no operation times out on a loaded machine, so every
    // connection the proxy sees below is a reconnection attempt.
    let cap = Duration::from_millis(200);
    let r = replicas(
        vec![builder(&proxy.url(), "retry", "a", Duration::from_secs(10))
            .timeout(Duration::from_secs(2))
            .max_reconnect_backoff(cap)],
        2,
        Duration::from_millis(300),
    );
    let fleet = &r[0].fleet;
    proxy.cut(true);
    wait_until("the replica degrades", || {
        let s = fleet.stats();
        !s.connected && !s.subscribed
    });

    // The proxy accepts every attempt and drops it before any reply, so none succeeds. In any
    // window, each connection makes at most 4 attempts sooner than `cap` after the previous
    // one (after 20, 40, 80 and 160 ms), the others `cap` apart, plus one at each end.
    let start = Instant::now();
    let before = proxy.accepted();
    wait_until("thirty reconnection attempts", || {
        proxy.accepted() >= before + 30
    });
    let (attempts, elapsed) = (proxy.accepted() - before, start.elapsed());
    let bound = 2 * (u64::try_from(elapsed.as_millis() / cap.as_millis()).expect("short") + 6);
    assert!(
        attempts <= bound,
        "{attempts} connection attempts in {elapsed:?} (at most {bound})"
    );

    proxy.cut(false);
    wait_until("the replica reconnects and resubscribes", || {
        let s = fleet.stats();
        s.connected && s.subscribed
    });
    // Ten reconcile reads later (ten reconcile intervals of quiet channel), no new connection.
    let connections = proxy.accepted();
    let scripts = fleet.stats().scripts_run;
    wait_until("ten more reconcile reads", || {
        fleet.stats().scripts_run >= scripts + 10
    });
    assert_eq!(proxy.accepted(), connections, "a connection was remade");
    assert!(fleet.stats().subscribed);
}

/// A replica holding the probe lease, its probe in flight (an owned permit), reading the fleet
/// state back only once a minute.
fn holder_with_probe_in_flight(url: &str, namespace: &str) -> (Replica, OwnedPermit) {
    let fleet = builder(url, namespace, "late", Duration::from_secs(30))
        .reconcile_interval(Duration::from_secs(60))
        .build()
        .expect("valid fleet settings");
    connected(&fleet);
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .name("dep")
            .failure_threshold(2)
            .recovery_timeout(Duration::from_millis(300))
            .probe_deadline(Duration::from_secs(300))
            .build()
            .expect("valid breaker"),
    );
    let attachment = attach(&fleet, &breaker);
    fail(&breaker, 2);
    wait_until("the replica wins the lease", || {
        want(&breaker);
        fleet.stats().probes_won == 1
    });
    let probe = breaker
        .try_acquire_owned()
        .expect("the holder admits the probe");
    let replica = Replica {
        attachment,
        breaker,
        fleet,
    };
    (replica, probe)
}

/// Plays another replica that took the lease over after it ran out and finished its round,
/// leaving the state hash with `fields` (and an open period of `open_for`), whose message was
/// lost: the keys are written without publishing anything.
fn fleet_moved_on_silently(
    url: &str,
    namespace: &str,
    fields: &[(&str, &str)],
    open_for: Option<Duration>,
) {
    let state = format!("{namespace}:{{dep}}:state");
    let mut moved = redis::pipe();
    moved
        .atomic()
        .del(format!("{namespace}:{{dep}}:lease"))
        .ignore()
        .hincr(&state, "gen", 2)
        .ignore();
    for (field, value) in fields {
        moved.hset(&state, *field, *value).ignore();
    }
    if let Some(period) = open_for {
        moved
            .cmd("SET")
            .arg(format!("{namespace}:{{dep}}:open"))
            .arg("1")
            .arg("PX")
            .arg(u64::try_from(period.as_millis()).expect("short"))
            .ignore();
    }
    let () = redis(url, |c| moved.query(c));
}

fn fleet_state(url: &str, namespace: &str) -> String {
    redis(url, |c| {
        redis::cmd("HGET")
            .arg(format!("{namespace}:{{dep}}:state"))
            .arg("state")
            .query(c)
    })
}

#[test]
fn a_late_probe_failure_follows_a_fleet_that_closed_meanwhile() {
    let server = server();
    let url = server.url();
    let (holder, late) = holder_with_probe_in_flight(&url, "lateclosed");
    fleet_moved_on_silently(
        &url,
        "lateclosed",
        &[("state", "closed"), ("level", "0")],
        None,
    );

    // The failure comes back to a fleet that closed: stale, so the holder closes instead of
    // re-opening the fleet.
    late.failure();
    wait_until("the late holder follows the fleet and closes", || {
        holder.breaker.is_closed()
    });
    assert_eq!(fleet_state(&url, "lateclosed"), "closed");
    assert_eq!(holder.fleet.stats().trips_published, 1);
}

#[test]
fn a_late_probe_failure_follows_a_fleet_that_reopened_meanwhile() {
    let server = server();
    let url = server.url();
    let (holder, late) = holder_with_probe_in_flight(&url, "lateopen");
    // The other replica's probe failed: open again for a minute, at backoff level 1.
    fleet_moved_on_silently(
        &url,
        "lateopen",
        &[("state", "open"), ("level", "1")],
        Some(Duration::from_secs(60)),
    );

    // The failure comes back to a fleet that is open: the holder is held by the fleet's new
    // open period (not closed, not open on a period of its own).
    late.failure();
    wait_until("the late holder is held at the fleet's level", || {
        let s = holder.breaker.remote().snapshot();
        s.phase() == Phase::Held && s.level() == 1
    });
    assert!(!admits(&holder.breaker));
    assert_eq!(fleet_state(&url, "lateopen"), "open");
    assert_eq!(holder.fleet.stats().trips_published, 1);
}
