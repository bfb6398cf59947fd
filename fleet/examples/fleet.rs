//! A fleet of replica processes sharing one breaker through Redis, on one timeline.
//!
//! ```text
//! cargo run -p async-breaker-fleet --example fleet
//! ```
//!
//! Starts a throwaway `redis-server` on a free loopback port (or uses `REDIS_URL` if set), a
//! flaky loopback dependency, and five replica processes (the `replica` example, built on the
//! fly with the same cargo), with the default quorum of two replicas. The dependency first
//! fails for one replica only (its network path broke), then for a second one, then for
//! everyone, then comes back. The timeline shows the first replica opening alone while the
//! others keep calling, the second trip opening every replica (each saying why), exactly one
//! probe per open period fleet-wide, and every replica closing after the probe that succeeds.
//!
//! Without `redis-server` on `PATH` (or `REDIS_SERVER`) it exits with status 1 and says what to
//! install (`apt-get install -y redis-server` on Debian or Ubuntu).

// The dependency and the replica processes are the multi-process tests' own harness.
#[allow(dead_code)]
#[path = "../tests/harness/dependency.rs"]
mod dependency;
#[allow(dead_code)]
#[path = "../tests/harness/replicas.rs"]
mod replicas;

use std::time::{Duration, Instant};

use async_breaker_testkit::RedisServer;
use dependency::{Dependency, Mode};
use replicas::{replica_id, ReplicaConfig, Replicas};

const REPLICAS: usize = 5;
const RECOVERY_MS: u64 = 400;
const FAILED_PROBES: usize = 3;
const DEADLINE: Duration = Duration::from_secs(30);

fn main() {
    if let Err(message) = run() {
        eprintln!("fleet example: {message}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let started = Instant::now();
    // Kept alive until the end of `run`: dropping it stops the server.
    let (_server, url) = match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => (None, url),
        _ => {
            let server = RedisServer::start().map_err(|err| err.to_string())?;
            let url = server.url();
            (Some(server), url)
        }
    };
    let dependency = Dependency::start();
    let config = ReplicaConfig {
        redis: url.clone(),
        namespace: format!("fleet-example-{}", std::process::id()),
        name: "payments".into(),
        dependency: dependency.addr(),
        threshold: 5,
        recovery_ms: RECOVERY_MS,
        lease_ms: 2_000,
        threads: 4,
        pause_ms: 5,
    };
    let mut replicas = Replicas::new();
    for _ in 0..REPLICAS {
        replicas.spawn(&config);
    }
    let ms = |at: Instant| at.saturating_duration_since(started).as_millis();
    println!(
        "{:>6} ms  redis at {url}, dependency at {}, {REPLICAS} replica processes x 4 threads",
        0,
        dependency.addr()
    );
    replicas.wait_ready(DEADLINE);
    let flowing = Instant::now();
    wait_until("every replica calling", || {
        (0..REPLICAS).all(|r| dependency.count_since(flowing, |c| c.replica == replica_id(r)) > 0)
    })?;
    println!(
        "{:>6} ms  every replica is closed and calling the dependency",
        ms(Instant::now())
    );

    // The dependency fails first as r0 sees it (say its network path broke): r0 trips alone,
    // below the quorum, and the others keep calling.
    let dead_at = dependency.set_mode(Mode::Broken(vec![replica_id(0)]));
    wait_until("r0 open", || open_since(&replicas, dead_at)[0].is_some())?;
    let alone = Instant::now();
    let window = Duration::from_secs(1);
    while alone.elapsed() < window {
        if open_since(&replicas, dead_at)[1..]
            .iter()
            .any(Option::is_some)
        {
            return Err("a healthy replica opened on r0's trip alone".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let healthy_calls = dependency.count_since(alone, |c| c.ok && c.replica != replica_id(0));
    println!(
        "{:>6} ms  r0's path is broken: r0 opened alone; in the next {} ms the other replicas \
         made {healthy_calls} successful calls and none opened",
        ms(Instant::now()),
        window.as_millis()
    );
    // Now r1's path breaks too: two distinct replicas tripped, the quorum: everyone opens.
    let second_at = dependency.set_mode(Mode::Broken(vec![replica_id(0), replica_id(1)]));
    wait_until("every replica open", || {
        open_since(&replicas, second_at)
            .iter()
            .skip(1)
            .all(Option::is_some)
    })?;
    let all_dead = dependency.set_mode(Mode::Dead);
    wait_until("the failed probes", || {
        dependency.count_since(dead_at, |c| c.probe) >= FAILED_PROBES
    })?;
    let healthy_at = dependency.set_mode(Mode::Healthy);
    wait_until("every replica closed", || {
        closed_since(&replicas, healthy_at)
            .iter()
            .all(Option::is_some)
    })?;
    let done = Instant::now();

    print_timeline(
        &replicas,
        &dependency,
        started,
        [dead_at, second_at, all_dead, healthy_at, done],
    );
    let clean = replicas.shutdown(Duration::from_secs(10));
    if clean.iter().all(|ok| *ok) {
        Ok(())
    } else {
        Err(format!("a replica did not exit cleanly: {clean:?}"))
    }
}

/// Prints the state changes and probes since `dead_at`, in arrival order, and a summary.
fn print_timeline(
    replicas: &Replicas,
    dependency: &Dependency,
    started: Instant,
    [dead_at, second_at, all_dead, healthy_at, done]: [Instant; 5],
) {
    let ms = |at: Instant| at.saturating_duration_since(started).as_millis();
    // One timeline: state changes and probes, in arrival order.
    let mut lines: Vec<(Instant, String)> = Vec::new();
    for event in replicas.events().all() {
        if event.at >= dead_at && event.get("event") == "state" {
            lines.push((
                event.at,
                format!(
                    "{} {} -> {} (cause: {}; its own consecutive failures: {})",
                    event.get("replica"),
                    event.get("from"),
                    event.get("to"),
                    cause(&event),
                    event.get("failures")
                ),
            ));
        }
    }
    let calls = dependency.calls_since(dead_at);
    for call in calls.iter().filter(|c| c.probe && c.at <= done) {
        let outcome = if call.ok { "succeeds" } else { "fails" };
        lines.push((call.at, format!("PROBE from {}: {outcome}", call.replica)));
    }
    lines.push((
        dead_at,
        "r0's path to the dependency BREAKS (every call from r0 fails)".into(),
    ));
    lines.push((
        second_at,
        "r1's path BREAKS too: a second replica will trip".into(),
    ));
    lines.push((all_dead, "the dependency goes DOWN for everyone".into()));
    lines.push((healthy_at, "the dependency comes BACK".into()));
    lines.sort_by_key(|(at, _)| *at);
    for (at, line) in &lines {
        println!("{:>6} ms  {line}", ms(*at));
    }

    let opened: Vec<Instant> = open_since(replicas, second_at)
        .into_iter()
        .flatten()
        .collect();
    let first = opened.iter().min().copied().unwrap_or(second_at);
    let last = opened.iter().max().copied().unwrap_or(second_at);
    let dead_calls = calls
        .iter()
        .filter(|c| !c.probe && !c.ok && c.at < healthy_at)
        .count();
    let probe_times: Vec<Instant> = calls
        .iter()
        .filter(|c| c.probe && c.at <= done)
        .map(|c| c.at)
        .collect();
    let probes = probe_times.len();
    // A failed probe re-opens the fleet for a full recovery timeout, so probes closer than
    // half of it belong to one open period.
    let periods = 1 + probe_times
        .windows(2)
        .filter(|w| w[1].duration_since(w[0]) >= Duration::from_millis(RECOVERY_MS / 2))
        .count();
    println!(
        "summary: quorum-reaching trip -> all {REPLICAS} replicas rejecting in {} ms; \
         {dead_calls} calls failed before the fleet opened; \
         {probes} probes in {periods} open periods; all closed {} ms after the dependency \
         came back",
        last.duration_since(first).as_millis(),
        done.duration_since(healthy_at).as_millis(),
    );
}

/// A state line's cause, with the figures of a quorum.
fn cause(event: &replicas::Event) -> String {
    match event.get("cause") {
        "fleet_quorum" => format!(
            "the fleet, {} of {} replicas tripped",
            event.get("tripped"),
            event.get("live")
        ),
        "calls" => "its own calls".into(),
        other => other.replace('_', " "),
    }
}

/// Each replica's first `to=open` state change at or after `since`.
fn open_since(replicas: &Replicas, since: Instant) -> Vec<Option<Instant>> {
    state_since(replicas, "open", since)
}

/// Each replica's first `to=closed` state change at or after `since`.
fn closed_since(replicas: &Replicas, since: Instant) -> Vec<Option<Instant>> {
    state_since(replicas, "closed", since)
}

fn state_since(replicas: &Replicas, to: &str, since: Instant) -> Vec<Option<Instant>> {
    let mut first = vec![None; replicas.len()];
    for event in replicas.events().all() {
        if event.at >= since && event.is_state(to) {
            first[event.index].get_or_insert(event.at);
        }
    }
    first
}

/// Polls `done` every 10 ms for up to [`DEADLINE`].
fn wait_until(what: &str, mut done: impl FnMut() -> bool) -> Result<(), String> {
    let until = Instant::now() + DEADLINE;
    while !done() {
        if Instant::now() >= until {
            return Err(format!("timed out after {DEADLINE:?} waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}
