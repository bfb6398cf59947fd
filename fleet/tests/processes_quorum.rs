//! The quorum, with real replica processes (the `replica` example) and a real `redis-server`:
//! each replica reaches the loopback dependency through its own path (a loopback TCP proxy,
//! `harness::path`) that the test can cut for that replica alone.
//!
//! - one sick replica (its path cut) opens only itself: the others keep calling, reject
//!   nothing, and it recovers by itself;
//! - a quorum of broken paths (two, the default) opens every replica, within 100 ms (p99) of
//!   the trip that reached the quorum, and the others say why (`cause=fleet_quorum`);
//! - a dead dependency gets one probe per cycle, and a replica whose path stays broken cannot
//!   keep the fleet open once the dependency recovers;
//! - idle replicas (`--threads 0`) never take the probe: a busy replica's callers get it
//!   within the open period plus one lease plus one reconcile interval;
//! - membership follows the live replicas: a fractional quorum shrinks when replicas are
//!   killed and grows when new ones join.
//!
//! The tests run one at a time (`harness::serial`); every wait is for a condition, bounded by
//! `harness::DEADLINE`, and every observation window asserts what must not happen during it.
//! Run with `-- --nocapture` to see the figures. Unix only: it sends signals.
#![cfg(unix)]

mod harness;

use std::time::{Duration, Instant};

use harness::dependency::{Call, Mode};
use harness::replicas::{replica_id, Event};
use harness::rig::Rig;
use harness::stats::percentile;
use harness::{serial, wait_until, DEADLINE};

const RECOVERY_MS: u64 = 300;
const LEASE_MS: u64 = 1_000;
const RECONCILE_MS: u64 = 200;
/// What a loaded 2-core machine may add to a bound made of the fleet's own timings.
const ALLOWANCE_MS: u64 = 500;

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// The delay from `from_us` to `to_us` (both microseconds since the epoch on this host's
/// clock), zero if `to_us` is earlier.
fn wall_delay(from_us: u64, to_us: u64) -> Duration {
    Duration::from_micros(to_us.saturating_sub(from_us))
}

/// The first event among `events` of a replica in `which` changing to `to` at or after
/// `since`, if any.
fn state_change<'a>(
    events: &'a [Event],
    since: Instant,
    which: &[usize],
    to: &str,
) -> Option<&'a Event> {
    events
        .iter()
        .find(|e| e.at >= since && which.contains(&e.index) && e.is_state(to))
}

#[test]
fn one_sick_replica_opens_only_itself() {
    const WINDOW: Duration = Duration::from_secs(10);
    let _serial = serial();
    let mut rig = Rig::builder(8, "quorum-one-sick")
        .recovery_ms(RECOVERY_MS)
        .lease_ms(LEASE_MS)
        .reconcile_ms(RECONCILE_MS)
        .paths()
        .start();
    let all = rig.all();
    let healthy: Vec<usize> = (1..8).collect();
    rig.wait_members(Instant::now(), &all, 8, 2);

    // r0's path breaks: r0 opens on its own calls.
    let cut = rig.cut(&[0]);
    let opened = rig.wait_state_events(cut, &[0], "open");
    assert_eq!(opened[0].get("cause"), "calls", "{}", opened[0].line);

    // For WINDOW, the others neither open nor reject, and keep calling every second.
    let start = Instant::now();
    let baseline: Vec<u64> = healthy
        .iter()
        .map(|r| rig.last_tick(*r).map_or(0, |e| e.num("rejected")))
        .collect();
    rig.observe(WINDOW, "the healthy replicas stay closed", |events| {
        if let Some(e) = state_change(events, cut, &healthy, "open") {
            return Some(format!("r{} opened: {}", e.index, e.line));
        }
        events
            .iter()
            .filter(|e| e.at >= start && e.is_tick() && e.index != 0)
            .find(|e| e.num("rejected") != baseline[e.index - 1])
            .map(|e| format!("r{} rejected calls: {}", e.index, e.line))
    });
    let end = Instant::now();
    // Their ticks cover the whole window.
    let after = rig.wait_tick(end, &healthy, "tick after the window", |_| true);
    let mut rejected_per_second = Vec::new();
    for (i, tick) in after.iter().enumerate() {
        let grew = tick.num("rejected") - baseline[i];
        assert_eq!(
            grew, 0,
            "r{} rejected {grew} calls: {}",
            tick.index, tick.line
        );
        #[allow(clippy::cast_precision_loss)]
        rejected_per_second.push(grew as f64 / end.duration_since(start).as_secs_f64());
    }
    let slowest_second = rig.fewest_calls_per_second(start, start + WINDOW, &healthy);

    // Meanwhile r0 re-tripped on its own: its local probes failed (on its broken path) and
    // its rejections never came from the fleet.
    let r0 = rig.states_since(cut, 0);
    let half_opens = r0.iter().filter(|e| e.is_state("half-open")).count();
    let reopened = r0.iter().filter(|e| e.is_state("open")).count();
    assert!(
        half_opens >= 3 && reopened >= 3,
        "r0 probes and re-opens by itself: {half_opens} half-open, {reopened} open"
    );
    for e in &r0 {
        assert_eq!(e.get("cause"), "calls", "r0 moves on its own: {}", e.line);
    }
    let refused_probes = rig.paths[0]
        .refused_since(cut)
        .iter()
        .filter(|r| r.probe)
        .count();
    assert!(
        refused_probes >= 3,
        "r0's probes failed on its path: {refused_probes}"
    );
    let held = rig.last_tick(0).map_or(0, |e| e.num("held"));
    assert_eq!(held, 0, "the fleet never held r0");
    let votes_seen = rig
        .replicas
        .events()
        .all()
        .iter()
        .filter(|e| e.at >= start && e.is_tick())
        .map(|e| e.num("votes"))
        .max()
        .unwrap_or(0);

    // Its path mends: it closes by itself, and every replica calls.
    let mended = rig.mend(&[0]);
    rig.wait_state(mended, &[0], "closed");
    rig.wait_calling(Instant::now(), &all, 20);
    println!(
        "one sick replica of 8: over {WINDOW:?} the 7 healthy replicas rejected \
         {rejected_per_second:?} calls per second (expected 0) and made at least \
         {slowest_second} successful calls in every second each; r0 probed {half_opens} times \
         by itself ({refused_probes} probes refused on its path); most votes seen: \
         {votes_seen} (quorum 2)"
    );
    rig.shut_down_cleanly();
}

#[test]
fn a_quorum_of_broken_paths_opens_every_replica() {
    /// 17 rounds of 6 samples: 102, so the p99 is not simply the maximum.
    const ROUNDS: usize = 17;
    const N: usize = 8;
    let _serial = serial();
    let mut rig = Rig::builder(N, "quorum-two-broken")
        .recovery_ms(RECOVERY_MS)
        .lease_ms(LEASE_MS)
        .reconcile_ms(RECONCILE_MS)
        .paths()
        .start();
    let all = rig.all();
    rig.wait_members(Instant::now(), &all, 8, 2);
    let mut delays = Vec::new();
    let mut arrival_delays = Vec::new();
    for round in 0..ROUNDS {
        rig.wait_calling(Instant::now(), &all, 1);
        let broken = [(2 * round) % N, (2 * round + 1) % N];
        let others: Vec<usize> = all
            .iter()
            .copied()
            .filter(|r| !broken.contains(r))
            .collect();
        let cut = rig.cut(&broken);
        let opened = rig.wait_state_events(cut, &all, "open");
        for r in broken {
            assert_eq!(
                opened[r].get("cause"),
                "calls",
                "round {round}: {}",
                opened[r].line
            );
        }
        // The quorum-reaching trip: the later of the two broken replicas' own trips.
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
            assert_eq!(e.num("live"), 8, "round {round}: {}", e.line);
            delays.push(wall_delay(quorum_trip.wall_us(), e.wall_us()));
            arrival_delays.push(e.at.saturating_duration_since(quorum_trip.at));
        }
        // A held replica's rejection says why.
        let reason = rig.replicas.events().wait_for(
            &format!("round {round}: a held replica's rejection"),
            DEADLINE,
            |events| {
                events
                    .iter()
                    .find(|e| {
                        e.at >= cut
                            && others.contains(&e.index)
                            && e.get("event") == "rejected"
                            && e.get("remote") == "fleet_quorum"
                    })
                    .cloned()
            },
        );
        assert!(
            reason
                .line
                .contains("held by the fleet (2 of 8 replicas tripped"),
            "round {round}: {}",
            reason.line
        );

        // Heal: one probe closes every replica.
        let mended = rig.mend(&broken);
        rig.wait_state(mended, &all, "closed");
        rig.wait_latest_state(&all, "closed");
    }
    let p50 = percentile(&delays, 50);
    let p99 = percentile(&delays, 99);
    println!(
        "quorum propagation (the trip reaching the quorum -> each other replica open, replica \
         clocks, {} samples): p50 {p50:?}, p99 {p99:?}, max {:?}; as read by the test: p50 \
         {:?}, p99 {:?}",
        delays.len(),
        percentile(&delays, 100),
        percentile(&arrival_delays, 50),
        percentile(&arrival_delays, 99),
    );
    assert!(p99 <= ms(100), "p99 {p99:?} above 100 ms: {delays:?}");
    rig.shut_down_cleanly();
}

/// Groups probe arrival times into cycles: a probe closer than `gap` to the first probe of
/// the current group joins it.
fn probe_groups(mut probes: Vec<(Instant, String)>, gap: Duration) -> Vec<Vec<(Instant, String)>> {
    probes.sort();
    let mut groups: Vec<Vec<(Instant, String)>> = Vec::new();
    for probe in probes {
        match groups.last_mut() {
            Some(group) if probe.0.duration_since(group[0].0) < gap => group.push(probe),
            _ => groups.push(vec![probe]),
        }
    }
    groups
}

/// Every probe since `since`: those the dependency received and those refused on r0's path.
fn probes_since(rig: &Rig, since: Instant) -> Vec<(Instant, String)> {
    let mut probes: Vec<(Instant, String)> = rig
        .dependency
        .calls_since(since)
        .into_iter()
        .filter(|c| c.probe)
        .map(|c| (c.at, c.replica))
        .collect();
    probes.extend(
        rig.paths[0]
            .refused_since(since)
            .into_iter()
            .filter(|r| r.probe)
            .map(|r| (r.at, replica_id(0))),
    );
    probes
}

#[test]
fn a_dead_dependency_gets_one_probe_per_cycle_and_a_sick_replica_cannot_keep_it_open() {
    const CYCLES: usize = 20;
    let _serial = serial();
    let mut rig = Rig::builder(8, "quorum-dead")
        .recovery_ms(RECOVERY_MS)
        .lease_ms(LEASE_MS)
        .reconcile_ms(RECONCILE_MS)
        .paths()
        .start();
    let all = rig.all();
    let others: Vec<usize> = (1..8).collect();
    rig.wait_members(Instant::now(), &all, 8, 2);

    // The dependency dies (and r0's path breaks): the fleet opens once the quorum tripped.
    let dead = rig.dependency.set_mode(Mode::Dead);
    rig.cut(&[0]);
    rig.wait_state(dead, &all, "open");
    wait_until(&rig.replicas, "the probe cycles", || {
        probes_since(&rig, dead).len() > CYCLES
    });

    // The dependency recovers, r0's path stays broken: every other replica closes.
    let healthy = rig.dependency.set_mode(Mode::Healthy);
    let closed = rig.wait_state_events(healthy, &others, "closed");
    let all_closed = closed.iter().map(|e| e.at).max().expect("replicas");
    let recovery = all_closed.duration_since(healthy);

    let probes: Vec<_> = probes_since(&rig, dead)
        .into_iter()
        .filter(|(at, _)| *at <= all_closed)
        .collect();
    let groups = probe_groups(probes.clone(), ms(RECOVERY_MS / 2));
    for group in &groups {
        assert_eq!(
            group.len(),
            1,
            "{} probes in one cycle: {group:?}",
            group.len()
        );
    }
    assert!(
        groups.len() > CYCLES,
        "at least {CYCLES} cycles: {}",
        groups.len()
    );
    let at_recovery: Vec<&(Instant, String)> =
        probes.iter().filter(|(at, _)| *at >= healthy).collect();
    let r0_won_at_recovery = at_recovery.iter().any(|(_, r)| *r == replica_id(0));

    // The bound the guide gives from a trip to a busy replica's first success (open period
    // + lease + reconcile interval) holds from the recovery too: at worst the fleet was just
    // re-opened, and r0 may win one probe that fails on its path, costing one more open
    // period.
    let bound = ms(RECOVERY_MS + LEASE_MS + RECONCILE_MS + ALLOWANCE_MS);
    println!(
        "dead dependency, 8 replicas: {} cycles, {} probes ({} per cycle at most); recovery \
         with r0's path broken: every other replica closed {recovery:?} after the dependency \
         healed (bound {bound:?}); probes since the recovery: {:?} (r0 won one: \
         {r0_won_at_recovery})",
        groups.len(),
        probes.len(),
        groups.iter().map(Vec::len).max().unwrap_or(0),
        at_recovery
            .iter()
            .map(|(at, r)| format!("{r} +{:?}", at.duration_since(healthy)))
            .collect::<Vec<_>>(),
    );
    assert!(
        recovery <= bound,
        "the fleet closed {recovery:?} after the recovery, above {bound:?}; probes since: \
         {at_recovery:?}"
    );

    // r0 cannot re-open the others: it trips alone, below the quorum, and stays open on
    // its own while they keep calling.
    let watched = Instant::now();
    rig.observe(Duration::from_secs(3), "the others stay closed", |events| {
        state_change(events, all_closed + ms(1), &others, "open")
            .map(|e| format!("r{} re-opened: {}", e.index, e.line))
    });
    rig.wait_calling(watched, &others, 20);
    let r0_open = rig
        .states_since(healthy, 0)
        .into_iter()
        .rfind(|e| e.is_state("open"));
    if let Some(e) = &r0_open {
        assert_eq!(
            e.get("cause"),
            "calls",
            "r0 re-opens on its own: {}",
            e.line
        );
    }
    assert_eq!(
        rig.dependency
            .count_since(all_closed + ms(1), |c: &Call| c.replica == replica_id(0)),
        0,
        "r0's broken path lets nothing through"
    );
    rig.shut_down_cleanly();
}

#[test]
fn idle_replicas_never_take_the_probe() {
    const RECOVERIES: usize = 20;
    const BUSY: [usize; 2] = [2, 5];
    let _serial = serial();
    let mut builder = Rig::builder(8, "quorum-idle")
        .recovery_ms(RECOVERY_MS)
        .lease_ms(LEASE_MS)
        .reconcile_ms(RECONCILE_MS);
    for r in (0..8).filter(|r| !BUSY.contains(r)) {
        builder = builder.threads_for(r, 0);
    }
    let mut rig = builder.start();
    let all = rig.all();
    let idle: Vec<usize> = all.iter().copied().filter(|r| !BUSY.contains(r)).collect();
    assert_eq!(rig.busy(), BUSY.to_vec());
    rig.wait_members(Instant::now(), &all, 8, 2);
    let bound = ms(RECOVERY_MS + LEASE_MS + RECONCILE_MS + ALLOWANCE_MS);
    let mut recoveries = Vec::new();
    let mut winners = Vec::new();
    for round in 0..RECOVERIES {
        rig.wait_calling(Instant::now(), &BUSY, 1);
        // Dead until the fleet is open (both busy replicas tripped: the quorum), then healthy.
        let dead = rig.dependency.set_mode(Mode::Dead);
        let opened = rig.wait_state_events(dead, &all, "open");
        let healthy = rig.dependency.set_mode(Mode::Healthy);
        for r in &idle {
            assert_eq!(
                opened[*r].get("cause"),
                "fleet_quorum",
                "round {round}: {}",
                opened[*r].line
            );
        }
        let first_open = opened.iter().map(Event::wall_us).min().expect("replicas");
        rig.wait_state(healthy, &all, "closed");
        let first_ok = rig
            .dependency
            .calls_since(dead)
            .into_iter()
            .find(|c| c.ok)
            .expect("a successful call closed the fleet");
        let took = wall_delay(first_open, first_ok.wall_us);
        assert!(
            took <= bound,
            "round {round}: the first successful call came {took:?} after the fleet opened \
             (bound {bound:?}): {first_ok:?}"
        );
        assert!(
            BUSY.iter().any(|r| replica_id(*r) == first_ok.replica),
            "round {round}: {first_ok:?}"
        );
        recoveries.push(took);
        winners.push(first_ok.replica);
        rig.wait_latest_state(&all, "closed");
    }
    // The idle replicas never went half-open, never won a lease.
    let events = rig.replicas.events().all();
    for e in events.iter().filter(|e| idle.contains(&e.index)) {
        assert!(
            !e.is_state("half-open"),
            "idle r{} probed: {}",
            e.index,
            e.line
        );
        assert_eq!(
            e.num("probes_won"),
            0,
            "idle r{} won a lease: {}",
            e.index,
            e.line
        );
    }
    let exits = rig.shut_down_cleanly();
    let won: u64 = exits
        .iter()
        .filter(|e| BUSY.contains(&e.index))
        .map(|e| e.num("probes_won"))
        .sum();
    for e in exits.iter().filter(|e| idle.contains(&e.index)) {
        assert_eq!(e.num("probes_won"), 0, "idle r{}: {}", e.index, e.line);
        assert_eq!(e.num("revoked"), 0, "idle r{}: {}", e.index, e.line);
    }
    assert!(
        won >= RECOVERIES as u64,
        "the busy replicas won {won} leases"
    );
    println!(
        "6 idle + 2 busy replicas, {RECOVERIES} recoveries: fleet open -> first successful \
         call p50 {:?}, max {:?} (bound {bound:?}); leases won by the busy replicas: {won}, by \
         the idle ones: 0; first successes by {:?}",
        percentile(&recoveries, 50),
        percentile(&recoveries, 100),
        winners,
    );
}

#[test]
fn membership_churn_with_a_fractional_quorum() {
    let _serial = serial();
    let mut rig = Rig::builder(6, "quorum-churn")
        .recovery_ms(RECOVERY_MS)
        .lease_ms(LEASE_MS)
        .reconcile_ms(RECONCILE_MS)
        .quorum("50%/2")
        .vote_window_ms(5_000)
        .paths()
        .start();
    let all = rig.all();
    let survivors = [0, 1, 2];
    rig.wait_members(Instant::now(), &all, 6, 3);

    // With 6 live, two broken paths are below the quorum of 3: the third does not open.
    let cut = rig.cut(&[0, 1]);
    for e in rig.wait_state_events(cut, &[0, 1], "open") {
        assert_eq!(e.get("cause"), "calls", "{}", e.line);
    }
    rig.wait_tick(cut, &[2], "2 votes of 3 needed", |e| {
        e.num("votes") == 2 && e.num("needed") == 3 && e.num("members") == 6
    });
    rig.observe(
        Duration::from_secs(3),
        "2 of 6 stay below the quorum",
        |events| {
            state_change(events, cut, &[2, 3, 4, 5], "open")
                .map(|e| format!("r{} opened: {}", e.index, e.line))
        },
    );
    let mended = rig.mend(&[0, 1]);
    rig.wait_state(mended, &[0, 1], "closed");
    rig.wait_tick(Instant::now(), &[2], "the votes withdrawn", |e| {
        e.num("votes") == 0
    });

    // Three replicas die: within the membership expiry the survivors count 3 and need 2.
    let killed = Instant::now();
    for r in [3, 4, 5] {
        rig.replicas.kill(r);
    }
    let ticks = rig.wait_members(killed, &survivors, 3, 2);
    let shrunk = ticks
        .iter()
        .map(|e| e.at.duration_since(killed))
        .max()
        .expect("survivors");
    // Expiry, then one reconcile read and one tick to report it.
    let expiry_bound = ms(3 * RECONCILE_MS + RECONCILE_MS + 200 + ALLOWANCE_MS);
    assert!(
        shrunk <= expiry_bound,
        "the survivors saw 3 members after {shrunk:?}, above {expiry_bound:?}"
    );

    // Now two broken paths are the quorum: the third survivor opens.
    let cut = rig.cut(&[0, 1]);
    let opened = rig.wait_state_events(cut, &survivors, "open");
    assert_eq!(opened[2].get("cause"), "fleet_quorum", "{}", opened[2].line);
    assert_eq!(opened[2].num("tripped"), 2, "{}", opened[2].line);
    assert_eq!(opened[2].num("live"), 3, "{}", opened[2].line);
    let mended = rig.mend(&[0, 1]);
    rig.wait_state(mended, &survivors, "closed");
    rig.wait_latest_state(&survivors, "closed");

    // Two new replicas join: 5 live, 3 needed.
    let grown = Instant::now();
    let joined = [rig.spawn(), rig.spawn()];
    let members: Vec<usize> = survivors.iter().chain(&joined).copied().collect();
    rig.wait_members(grown, &members, 5, 3);
    rig.wait_calling(Instant::now(), &members, 20);
    println!(
        "fractional quorum 50%/2: 6 live need 3 (2 broken paths opened nobody else); 3 killed: \
         the survivors reported 3 members, 2 needed, {shrunk:?} later (bound {expiry_bound:?}); \
         2 broken of 3 opened the third; 2 joined: 5 members, 3 needed"
    );
    rig.shut_down_cleanly();
}
