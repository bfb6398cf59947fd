//! Eight replica processes (the `replica` example, four threads of calls each) share one
//! breaker through one real `redis-server`, calling one loopback dependency.
//!
//! Over several rounds (more than 20 open/half-open cycles in all) it checks, from what the
//! dependency receives and what the replicas print:
//! - a trip on one replica opens every replica (the others' own calls still succeed, so only
//!   the fleet can open them);
//! - after a replica reports open, at most its in-flight calls (one per thread) still reach the
//!   dependency, until the next probe;
//! - exactly one probe per open period fleet-wide: two probes are never closer than half the
//!   recovery timeout (a failed probe re-opens the fleet for a full recovery timeout, so
//!   consecutive cycles' probes are at least that far apart);
//! - on recovery, one probe closes every replica.
//!
//! It prints the trip and close propagation latencies (p50/p99) and probes per cycle; run it
//! with `cargo test -p async-breaker-fleet --test processes -- --nocapture` to see them
//! (`FLEET_ROUNDS=20` for more samples). Latencies are measured between the arrivals of the
//! replicas' event lines in the test process, so they include the pipe and the scheduler.
//! The replica binary is built by the test itself (see `harness::replicas::replica_binary`).

mod harness;

use std::time::{Duration, Instant};

use harness::dependency::{Call, Dependency, Mode};
use harness::replicas::replica_id;
use harness::rig::{Rig, THREADS};
use harness::stats::percentile;
use harness::{wait_until, DEADLINE};

const REPLICAS: usize = 8;
const RECOVERY_MS: u64 = 300;
const LEASE_MS: u64 = 2_000;
/// Rounds by default; `FLEET_ROUNDS=<n>` runs more (never fewer), for more latency samples.
const ROUNDS: usize = 4;
const CYCLES_PER_ROUND: usize = 6;

/// Groups probe arrival times into cycles: a probe closer than `gap` to the first probe of
/// the current group joins it.
fn probe_groups(probes: &[&Call], gap: Duration) -> Vec<Vec<Instant>> {
    let mut groups: Vec<Vec<Instant>> = Vec::new();
    for call in probes {
        match groups.last_mut() {
            Some(group) if call.at.duration_since(group[0]) < gap => group.push(call.at),
            _ => groups.push(vec![call.at]),
        }
    }
    groups
}

/// The latency from `first` to each replica's time in `at`, leaving out `first`'s own.
fn latencies(at: &[Instant]) -> Vec<Duration> {
    let first = at.iter().min().copied().expect("replicas");
    let origin = at.iter().position(|t| *t == first);
    (0..at.len())
        .filter(|r| Some(*r) != origin)
        .map(|r| at[r].duration_since(first))
        .collect()
}

#[test]
fn eight_replicas_share_one_breaker() {
    let mut rig = Rig::start(REPLICAS, "processes", RECOVERY_MS, LEASE_MS);
    let all = rig.all();
    let mut trip_latency = Vec::new();
    let mut close_latency = Vec::new();
    let mut cycles = 0;
    let mut probes = 0;
    let rounds = std::env::var("FLEET_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .map_or(ROUNDS, |n: usize| n.max(ROUNDS));
    for round in 0..rounds {
        rig.wait_calling(Instant::now(), &all, 1);

        // One replica's calls fail (and every probe): only it trips by itself, the others
        // open only if the fleet tells them to.
        let tripper = round % REPLICAS;
        let dead_at = rig.dependency.set_mode(Mode::DeadFor(replica_id(tripper)));
        let opened = rig.wait_state(dead_at, &all, "open");
        trip_latency.extend(latencies(&opened));

        // Open/half-open cycles on a dead dependency.
        let cycles_from = rig.dependency.set_mode(Mode::Dead);
        wait_until(&rig.replicas, "the probe cycles", || {
            rig.dependency.count_since(cycles_from, |c| c.probe) >= CYCLES_PER_ROUND
        });

        // Recovery: one probe closes everyone.
        let healthy_at = rig.dependency.set_mode(Mode::Healthy);
        let closed = rig.wait_state(healthy_at, &all, "closed");
        close_latency.extend(latencies(&closed));
        let all_closed = closed.iter().max().copied().expect("replicas");

        let (round_cycles, round_probes) = check_round(
            round,
            &rig.dependency,
            &opened,
            dead_at,
            healthy_at,
            all_closed,
        );
        cycles += round_cycles;
        probes += round_probes;
        for r in &all {
            assert_eq!(
                rig.latest_state(*r),
                "closed",
                "round {round}: r{r} ends closed"
            );
        }
    }
    assert!(
        cycles >= 20,
        "at least 20 open/half-open cycles, got {cycles}"
    );
    rig.assert_no_panic();
    let clean = rig.replicas.shutdown(DEADLINE);
    assert_eq!(clean, vec![true; REPLICAS], "every replica exits cleanly");

    #[allow(clippy::cast_precision_loss)]
    let per_cycle = probes as f64 / cycles as f64;
    println!(
        "fleet of {REPLICAS} replicas x {THREADS} threads, {rounds} rounds, {cycles} cycles: \
         {probes} probes ({per_cycle:.2} per cycle)"
    );
    println!(
        "trip propagation (the tripping replica open -> each other replica open, {} samples): \
         p50 {:?}, p99 {:?}, max {:?}",
        trip_latency.len(),
        percentile(&trip_latency, 50),
        percentile(&trip_latency, 99),
        percentile(&trip_latency, 100),
    );
    println!(
        "close propagation (the probing replica closed -> each other replica closed, {} \
         samples): p50 {:?}, p99 {:?}, max {:?}",
        close_latency.len(),
        percentile(&close_latency, 50),
        percentile(&close_latency, 99),
        percentile(&close_latency, 100),
    );
}

/// Checks what the dependency saw during one round (from `dead_at` until every replica
/// closed at `all_closed`); returns the round's cycles and probes.
fn check_round(
    round: usize,
    dependency: &Dependency,
    opened: &[Instant],
    dead_at: Instant,
    healthy_at: Instant,
    all_closed: Instant,
) -> (usize, usize) {
    // What the dependency saw during the round.
    let calls = dependency.calls_since(dead_at);
    for (r, opened_at) in opened.iter().enumerate() {
        let late: Vec<&Call> = calls
            .iter()
            .filter(|c| c.replica == replica_id(r) && !c.probe)
            .filter(|c| c.at > *opened_at && c.at < healthy_at)
            .collect();
        assert!(
            late.len() <= THREADS,
            "round {round}: replica r{r} sent {} calls after it reported open \
             (at most {THREADS} can be in flight): {late:?}",
            late.len()
        );
    }
    let round_probes: Vec<&Call> = calls
        .iter()
        .filter(|c| c.probe && c.at <= all_closed)
        .collect();
    let groups = probe_groups(&round_probes, Duration::from_millis(RECOVERY_MS / 2));
    for group in &groups {
        assert_eq!(
            group.len(),
            1,
            "round {round}: {} probes in one cycle: {group:?}",
            group.len()
        );
    }
    let successful: Vec<&&Call> = round_probes
        .iter()
        .filter(|c| c.at >= healthy_at && c.ok)
        .collect();
    assert_eq!(
        successful.len(),
        1,
        "round {round}: one successful probe closes everyone: {successful:?}"
    );
    assert!(
        round_probes.len() > CYCLES_PER_ROUND,
        "round {round}: {CYCLES_PER_ROUND} failed probes and one successful"
    );
    (groups.len(), round_probes.len())
}
