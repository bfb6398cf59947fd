//! Phases the deployment tests (`processes_cluster`, `processes_sentinel`) share: a dead
//! dependency's probe cycles, rounds of a quorum of broken replicas, a look at the breaker's
//! state hash on the server, and what the replicas reported around a failover.

use std::time::{Duration, Instant};

use super::dependency::Mode;
use super::replicas::{replica_id, Event};
use super::resp::{Reply, Resp};
use super::rig::Rig;

/// The fields of a breaker's `state` hash the tests compare across migrations and failovers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateHash {
    /// Chosen once, when the state is created: a state lost and created again has another.
    pub epoch: String,
    /// Bumped by every transition: it only grows.
    pub gen: u64,
    /// `closed`, `open`, `probing`.
    pub state: String,
}

/// The breaker's state hash (`key`) as the server on `port` holds it (for a Cluster: the
/// primary serving its slot, else the reply is a redirection and this panics).
pub fn read_state(port: u16, key: &str) -> StateHash {
    let mut redis = Resp::connect(port).expect("connect to the server");
    let reply = redis
        .cmd(&["HMGET", key, "epoch", "gen", "state"])
        .expect("HMGET");
    let Reply::Array(Some(fields)) = &reply else {
        panic!("HMGET {key} on port {port}: {reply:?}");
    };
    let text = |i: usize| {
        fields[i]
            .text()
            .unwrap_or_else(|| panic!("HMGET {key} on port {port}: field {i} missing: {reply:?}"))
    };
    StateHash {
        epoch: text(0),
        gen: text(1).parse().expect("a numeric gen"),
        state: text(2),
    }
}

/// Panics if a replica of `which` reported a change to `to` in `since..until`.
pub fn assert_no_state_change(
    rig: &Rig,
    what: &str,
    since: Instant,
    until: Instant,
    which: &[usize],
    to: &str,
) {
    let events = rig.replicas.events().all();
    if let Some(e) = events
        .iter()
        .find(|e| e.at >= since && e.at < until && which.contains(&e.index) && e.is_state(to))
    {
        panic!("{what}: r{} changed to {to}: {}", e.index, e.line);
    }
}

/// The dependency dies until `cycles` probes failed, then heals: every replica opens, the
/// dependency gets exactly one probe per open period fleet-wide (at least `cycles` + 1
/// cycles, the last one's probe succeeding), and every replica closes. Returns (the death,
/// the moment every replica had closed).
pub fn dead_cycles(rig: &Rig, what: &str, cycles: usize) -> (Instant, Instant) {
    let all = rig.all();
    let dead = rig.dependency.set_mode(Mode::Dead);
    rig.wait_state(dead, &all, "open");
    rig.wait_probes(dead, cycles);
    let healthy = rig.dependency.set_mode(Mode::Healthy);
    let closed = rig.wait_state(healthy, &all, "closed");
    let all_closed = closed.into_iter().max().expect("replicas");
    rig.assert_one_probe_per_cycle(what, dead, all_closed, cycles + 1);
    let ok_probes = rig
        .dependency
        .count_since(dead, |c| c.probe && c.ok && c.at <= all_closed);
    assert_eq!(ok_probes, 1, "{what}: one successful probe closes everyone");
    rig.wait_latest_state(&all, "closed");
    (dead, all_closed)
}

/// `rounds` rounds in which the calls of two replicas (a different pair each round) fail:
/// with the default quorum of two, they open on their own calls and every other replica
/// opens by the fleet's quorum; then the dependency heals and every replica closes. Returns
/// the trip propagation delays: from the quorum-reaching trip (the later of the two) to
/// each other replica's open, on the replicas' clocks (`wall_us`).
pub fn quorum_rounds(rig: &Rig, rounds: usize) -> Vec<Duration> {
    let all = rig.all();
    let n = all.len();
    let mut delays = Vec::new();
    for round in 0..rounds {
        rig.wait_calling(Instant::now(), &all, 1);
        let broken = [(2 * round) % n, (2 * round + 1) % n];
        let others: Vec<usize> = all
            .iter()
            .copied()
            .filter(|r| !broken.contains(r))
            .collect();
        let cut = rig.dependency.set_mode(Mode::Broken(
            broken.iter().map(|r| replica_id(*r)).collect(),
        ));
        let opened = rig.wait_state_events(cut, &all, "open");
        // Healed at once: a probe, an open period later, finds it healthy.
        rig.dependency.set_mode(Mode::Healthy);
        for r in broken {
            assert_eq!(
                opened[r].get("cause"),
                "calls",
                "round {round}: r{r} opens on its own calls: {}",
                opened[r].line
            );
        }
        let quorum_trip = broken
            .iter()
            .map(|r| &opened[*r])
            .max_by_key(|e| e.wall_us())
            .expect("two trips");
        for r in &others {
            let e = &opened[*r];
            assert_eq!(
                e.get("cause"),
                "fleet_quorum",
                "round {round}: r{r} opened by the fleet's quorum: {}",
                e.line
            );
            assert_eq!(e.num("tripped"), 2, "round {round}: {}", e.line);
            delays.push(Duration::from_micros(
                e.wall_us().saturating_sub(quorum_trip.wall_us()),
            ));
        }
        // Every replica closes (whether the first probe came before or after the healing).
        rig.wait_latest_state(&all, "closed");
    }
    delays
}

/// What one replica reported around a failover.
#[derive(Clone, Debug)]
pub struct Outage {
    pub index: usize,
    /// Its first tick after the kill saying it was degraded.
    pub degraded: Option<Instant>,
    /// The first tick of the run of connected ticks (degraded 0, subscribed 1) that holds its
    /// first connected tick after the failover.
    pub reconnected: Instant,
}

/// Waits until each of `which` printed a connected tick after `failed_over` (the moment the
/// deployment finished its failover); returns, per replica, when it was first seen degraded
/// after `killed_at` and when it was connected again.
pub fn outages(
    rig: &Rig,
    which: &[usize],
    killed_at: Instant,
    failed_over: Instant,
) -> Vec<Outage> {
    rig.wait_tick(failed_over, which, "connected after the failover", |e| {
        connected(e)
    });
    let events = rig.replicas.events().all();
    which
        .iter()
        .map(|r| {
            let ticks: Vec<&Event> = events
                .iter()
                .filter(|e| e.index == *r && e.at >= killed_at && e.is_tick())
                .collect();
            let degraded = ticks
                .iter()
                .find(|e| e.get("degraded") == "1")
                .map(|e| e.at);
            // The first connected tick after the failover, and the run of connected ticks
            // that it ends.
            let back = ticks
                .iter()
                .position(|e| e.at >= failed_over && connected(e))
                .expect("waited for it");
            let last_down = ticks[..back].iter().rposition(|e| !connected(e));
            let reconnected = ticks[last_down.map_or(0, |i| i + 1)].at;
            Outage {
                index: *r,
                degraded,
                reconnected,
            }
        })
        .collect()
}

fn connected(e: &Event) -> bool {
    e.get("degraded") == "0" && e.get("subscribed") == "1"
}

/// `to - from` in milliseconds, negative if `to` is earlier.
pub fn signed_ms(from: Instant, to: Instant) -> i128 {
    if to >= from {
        i128::try_from(to.duration_since(from).as_millis()).unwrap_or(i128::MAX)
    } else {
        -i128::try_from(from.duration_since(to).as_millis()).unwrap_or(i128::MAX)
    }
}

/// A call (admission, the dependency's round trip, recording) that takes longer than this
/// blocked on something: the fleet must never make a call wait for its servers.
pub const CALL_BOUND_US: u64 = 1_500_000;

/// How long after the deployment finished its failover every replica must be connected
/// again: the reconnection backoff's cap (2 s) and a reconcile interval, with room for a
/// loaded machine.
pub const RECONNECT_BOUND: Duration = Duration::from_secs(10);

/// What [`check_failover`] saw.
#[derive(Clone, Debug)]
pub struct FailoverReport {
    pub outages: Vec<Outage>,
    /// The fewest successful calls a replica made in one second from the kill to the
    /// failover.
    pub fewest_per_second: usize,
    /// The longest call any replica measured since the kill.
    pub longest_call_us: u64,
}

impl FailoverReport {
    /// When the last replica was connected again, after the kill and after the
    /// failover (negative: before the test saw the failover finish), in milliseconds.
    pub fn reconnected_ms(&self, killed_at: Instant, failed_over: Instant) -> (i128, i128) {
        let last = self
            .outages
            .iter()
            .map(|o| o.reconnected)
            .max()
            .expect("replicas");
        (signed_ms(killed_at, last), signed_ms(failed_over, last))
    }
}

/// The fleet's server (a Cluster's primary, Sentinel's primary) was killed at `killed_at`
/// while the dependency was healthy, and the deployment finished failing over at
/// `failed_over`. Checks that every replica kept making successful calls in every second
/// in between, no call took [`CALL_BOUND_US`], nobody opened, every replica reported itself
/// degraded before the failover and is connected again (within [`RECONNECT_BOUND`] of it).
pub fn check_failover(
    rig: &Rig,
    what: &str,
    killed_at: Instant,
    failed_over: Instant,
) -> FailoverReport {
    let all = rig.all();
    let outages = outages(rig, &all, killed_at, failed_over);
    for outage in &outages {
        assert!(
            outage.degraded.is_some_and(|at| at <= failed_over),
            "{what}: r{} did not report itself degraded before the failover finished \
             (first degraded tick: {:?} after the kill, failover after {:?})",
            outage.index,
            outage.degraded.map(|at| at.duration_since(killed_at)),
            failed_over.duration_since(killed_at)
        );
        assert!(
            outage.reconnected <= failed_over + RECONNECT_BOUND,
            "{what}: r{} connected again {:?} after the failover",
            outage.index,
            outage.reconnected.duration_since(failed_over)
        );
    }
    assert_no_state_change(rig, what, killed_at, Instant::now(), &all, "open");
    let fewest_per_second = rig.fewest_calls_per_second(killed_at, failed_over, &all);
    let longest_call_us = rig.max_call_us_since(killed_at);
    assert!(
        longest_call_us < CALL_BOUND_US,
        "{what}: a call took {longest_call_us} us"
    );
    FailoverReport {
        outages,
        fewest_per_second,
        longest_call_us,
    }
}
