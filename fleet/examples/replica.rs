//! One replica of a service: one process, one breaker attached to the fleet, a few threads of
//! calls against a loopback "dependency". The multi-process tests and the `fleet` example run
//! several of these.
//!
//! ```text
//! cargo run -p async-breaker-fleet --example replica -- \
//!     --redis redis://127.0.0.1:6379/ --dependency 127.0.0.1:7000 --id r1
//! ```
//!
//! Options (each also read from the environment variable in brackets):
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `--redis URL` (`REDIS_URL`) | `redis://127.0.0.1:6379/` | the fleet's server |
//! | `--cluster URL,URL,...` | none | a Redis Cluster's nodes instead (`Fleet::cluster`) |
//! | `--sentinel URL,URL,...` | none | Sentinels instead (`Fleet::sentinel`), with `--service` |
//! | `--service NAME` | `mymaster` | the primary's name the sentinels monitor |
//! | `--namespace NS` (`FLEET_NAMESPACE`) | `fleet-demo` | the key namespace |
//! | `--name NAME` (`FLEET_BREAKER`) | `dependency` | the breaker's (and fleet's) name |
//! | `--dependency ADDR` (`FLEET_DEPENDENCY`) | required | the dependency's `host:port` |
//! | `--id ID` (`FLEET_REPLICA`) | `replica-<pid>` | this replica's id |
//! | `--threshold N` | 5 | consecutive failures that trip the breaker |
//! | `--recovery-ms MS` | 300 | the open period |
//! | `--lease-ms MS` | 1000 | the probe lease |
//! | `--reconcile-ms MS` | 200 | the fleet's reconcile interval |
//! | `--probe-deadline-ms MS` | 2000 | the breaker's probe deadline (at least twice the reconcile interval) |
//! | `--quorum SPEC` | the library's (`Quorum::replicas(2)`) | how many distinct replicas' trips open the fleet: `first` (the first trip opens everyone), `N` (N replicas), or `P%/MIN` (P percent of the live replicas, at least MIN, e.g. `50%/2`) |
//! | `--vote-window-ms MS` | the library's (10 s) | how long a trip counts toward the quorum |
//! | `--threads N` | 4 | threads of calls; 0 runs an idle replica (attached, never calling) |
//! | `--pause-ms MS` | 2 | pause between two calls of one thread |
//! | `--local` | off | do not attach to the fleet (a plain local breaker) |
//!
//! The dependency speaks one line per call: the replica sends `<id> <probe 0|1>\n` and reads
//! `ok\n` (success) or anything else, or a closed connection (failure).
//!
//! Output: one line per event on stdout, `key=value` pairs, `t` in milliseconds since start
//! and `wall_us` in microseconds since the Unix epoch (the host's clock, so that lines of
//! different replicas on one host can be compared):
//!
//! ```text
//! t=12 wall_us=1767225600012000 replica=r1 event=ready
//! t=803 wall_us=1767225600803000 replica=r1 event=state from=closed to=open failures=5 cause=calls
//! t=809 wall_us=1767225600809000 replica=r1 event=rejected remote=none message: circuit "dependency" is open ...
//! t=1000 wall_us=1767225601000000 replica=r1 event=tick calls=120 rejected=40 held=0 probes=0 max_call_us=900 degraded=0 ... members=8 votes=1 needed=2
//! t=2000 wall_us=1767225602000000 replica=r1 event=exit calls=240 rejected=80 held=0 probes=1 max_call_us=900 degraded=0 ...
//! ```
//!
//! A `state` line names the transition's cause (`cause=`, [`Cause::as_str`]: `calls`,
//! `manual`, `fleet_quorum`, `fleet_counted`, `fleet_probe`, `fleet_sync`, `fleet_released`);
//! for `fleet_quorum` also `tripped=` and `live=`. The first call rejected after each
//! transition prints a `rejected` line: `remote=` the fleet's reason for holding the breaker
//! (`none` when it is open on its own evidence), then the rejection's message after
//! `message:`.
//!
//! `tick` and `exit` lines count `calls`, `rejected` (of which `held`: rejected by a breaker
//! the fleet holds), `probes` (calls made as the half-open probe) and the longest call
//! (`max_call_us`), and carry the fleet's statistics ([`FleetStats`]): `degraded`
//! (1 while the server is unreachable), `subscribed` (1 while the channel is), `malformed`,
//! `stale`, `trips` (trips that opened the fleet), `voted` (trips sent as votes),
//! `probes_won`, `revoked` (leases given back unused), `reconnects`, and what the server last
//! said about the breaker's replicas ([`Fleet::membership`]): `members` (live replicas),
//! `votes`, `needed` (0s before the first script reply).
//!
//! [`FleetStats`]: async_breaker_fleet::FleetStats
//! [`Fleet::membership`]: async_breaker_fleet::Fleet::membership
//! [`Cause::as_str`]: async_breaker::Cause::as_str
//!
//! It exits cleanly (status 0, after an `event=exit` line) when its stdin reaches end of file;
//! a configuration error exits with status 2 and a message on stderr.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_breaker::{Cause, CircuitBreaker, Reason, State};
use async_breaker_fleet::{Fleet, FleetStats, Membership, Quorum};

/// The replica's settings, from the command line and the environment.
struct Settings {
    redis: String,
    cluster: Vec<String>,
    sentinel: Vec<String>,
    service: String,
    namespace: String,
    name: String,
    dependency: String,
    id: String,
    threshold: u32,
    recovery: Duration,
    lease: Duration,
    reconcile: Duration,
    probe_deadline: Duration,
    threads: usize,
    pause: Duration,
    local: bool,
    /// `None`: the library's default quorum.
    quorum: Option<Quorum>,
    /// `None`: the library's default vote window.
    vote_window: Option<Duration>,
}

/// Parses `--quorum`: `first`, `N` (N replicas) or `P%/MIN` (P percent of the live
/// replicas, at least MIN).
fn parse_quorum(spec: &str) -> Result<Quorum, String> {
    let bad = |why: &str| format!("--quorum {spec}: {why} (use `first`, `N` or `P%/MIN`)");
    if spec == "first" {
        return Ok(Quorum::first_trip());
    }
    if let Some((percent, min)) = spec.split_once('/') {
        let percent = percent
            .strip_suffix('%')
            .ok_or_else(|| bad("a fraction is a percentage"))?
            .parse::<f64>()
            .map_err(|err| bad(&err.to_string()))?;
        let min = min.parse::<u16>().map_err(|err| bad(&err.to_string()))?;
        return Ok(Quorum::fraction(percent / 100.0, min));
    }
    spec.parse::<u16>()
        .map(Quorum::replicas)
        .map_err(|err| bad(&err.to_string()))
}

impl Settings {
    fn parse() -> Result<Settings, String> {
        let env = |key: &str, default: &str| std::env::var(key).unwrap_or_else(|_| default.into());
        let mut settings = Settings {
            redis: env("REDIS_URL", "redis://127.0.0.1:6379/"),
            cluster: Vec::new(),
            sentinel: Vec::new(),
            service: "mymaster".into(),
            namespace: env("FLEET_NAMESPACE", "fleet-demo"),
            name: env("FLEET_BREAKER", "dependency"),
            dependency: env("FLEET_DEPENDENCY", ""),
            id: env("FLEET_REPLICA", &format!("replica-{}", std::process::id())),
            threshold: 5,
            recovery: Duration::from_millis(300),
            lease: Duration::from_secs(1),
            reconcile: Duration::from_millis(200),
            probe_deadline: Duration::from_secs(2),
            threads: 4,
            pause: Duration::from_millis(2),
            local: false,
            quorum: None,
            vote_window: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            if flag == "--local" {
                settings.local = true;
                continue;
            }
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let number = |value: &str| {
                value
                    .parse::<u64>()
                    .map_err(|err| format!("{flag} {value}: {err}"))
            };
            match flag.as_str() {
                "--redis" => settings.redis = value,
                "--cluster" => settings.cluster = value.split(',').map(Into::into).collect(),
                "--sentinel" => settings.sentinel = value.split(',').map(Into::into).collect(),
                "--service" => settings.service = value,
                "--namespace" => settings.namespace = value,
                "--name" => settings.name = value,
                "--dependency" => settings.dependency = value,
                "--id" => settings.id = value,
                "--threshold" => {
                    settings.threshold =
                        u32::try_from(number(&value)?).map_err(|e| e.to_string())?;
                }
                "--recovery-ms" => settings.recovery = Duration::from_millis(number(&value)?),
                "--lease-ms" => settings.lease = Duration::from_millis(number(&value)?),
                "--probe-deadline-ms" => {
                    settings.probe_deadline = Duration::from_millis(number(&value)?);
                }
                "--reconcile-ms" => settings.reconcile = Duration::from_millis(number(&value)?),
                "--threads" => {
                    settings.threads =
                        usize::try_from(number(&value)?).map_err(|e| e.to_string())?;
                }
                "--pause-ms" => settings.pause = Duration::from_millis(number(&value)?),
                "--quorum" => settings.quorum = Some(parse_quorum(&value)?),
                "--vote-window-ms" => {
                    settings.vote_window = Some(Duration::from_millis(number(&value)?));
                }
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        if settings.dependency.is_empty() {
            return Err("--dependency host:port is required".into());
        }
        Ok(settings)
    }
}

/// Prints one event line; stdout is line-buffered, so each line reaches the reader at once.
fn emit(started: Instant, id: &str, rest: &str) {
    let t = started.elapsed().as_millis();
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_micros());
    let mut out = std::io::stdout().lock();
    // A closed stdout (the parent went away) is no reason to panic.
    let _ = writeln!(out, "t={t} wall_us={wall} replica={id} {rest}");
}

/// Counters shared by the call threads.
#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    rejected: AtomicU64,
    /// Rejections by a breaker the fleet holds.
    held: AtomicU64,
    probes: AtomicU64,
    max_call_us: AtomicU64,
    /// Transitions so far (bumped by the listener).
    transitions: AtomicU64,
    /// The transition count at the last `rejected` line.
    reported: AtomicU64,
}

impl Counters {
    fn line(&self, fleet: Option<(&FleetStats, Option<Membership>)>) -> String {
        let mut line = format!(
            "calls={} rejected={} held={} probes={} max_call_us={}",
            self.calls.load(Ordering::Relaxed),
            self.rejected.load(Ordering::Relaxed),
            self.held.load(Ordering::Relaxed),
            self.probes.load(Ordering::Relaxed),
            self.max_call_us.load(Ordering::Relaxed),
        );
        if let Some((stats, membership)) = fleet {
            let membership = membership.unwrap_or_default();
            let _ = write!(
                line,
                " degraded={} subscribed={} malformed={} stale={} trips={} voted={} \
                 probes_won={} revoked={} reconnects={} members={} votes={} needed={}",
                u8::from(stats.degraded()),
                u8::from(stats.subscribed),
                stats.malformed_dropped,
                stats.stale_discarded,
                stats.trips_published,
                stats.trips_voted,
                stats.probes_won,
                stats.leases_revoked,
                stats.reconnects,
                membership.live,
                membership.votes,
                membership.needed,
            );
        }
        line
    }

    /// Whether this is the first rejection since the last transition (at most one
    /// `rejected` line per transition).
    fn first_rejection(&self) -> bool {
        let now = self.transitions.load(Ordering::Relaxed);
        let seen = self.reported.load(Ordering::Relaxed);
        seen != now
            && self
                .reported
                .compare_exchange(seen, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// `cause=<label>`, and the counts of a quorum.
fn cause_fields(cause: Cause) -> String {
    match cause {
        Cause::Remote(Reason::Quorum { tripped, live }) => {
            format!("cause={} tripped={tripped} live={live}", cause.as_str())
        }
        _ => format!("cause={}", cause.as_str()),
    }
}

/// The `tick` and `exit` lines' fields.
fn report(counters: &Counters, fleet: Option<&Fleet>, name: &str) -> String {
    let stats = fleet.map(|fleet| (fleet.stats(), fleet.membership(name)));
    counters.line(stats.as_ref().map(|(stats, m)| (stats, *m)))
}

/// Attaches `breaker` to the fleet the settings name, unless `--local`.
fn join_fleet(settings: &Settings, breaker: &Arc<CircuitBreaker>) -> Result<Option<Fleet>, String> {
    if settings.local {
        return Ok(None);
    }
    let builder = if !settings.cluster.is_empty() {
        Fleet::cluster(settings.cluster.iter().map(String::as_str))
    } else if !settings.sentinel.is_empty() {
        Fleet::sentinel(
            settings.sentinel.iter().map(String::as_str),
            settings.service.as_str(),
        )
    } else {
        Fleet::builder(settings.redis.as_str())
    };
    let mut builder = builder
        .namespace(settings.namespace.as_str())
        .replica_id(settings.id.as_str())
        .lease(settings.lease)
        .reconcile_interval(settings.reconcile);
    if let Some(quorum) = settings.quorum {
        builder = builder.quorum(quorum);
    }
    if let Some(window) = settings.vote_window {
        builder = builder.vote_window(window);
    }
    let fleet = builder.build().map_err(|err| err.to_string())?;
    fleet.attach(breaker).map_err(|err| err.to_string())?.keep();
    Ok(Some(fleet))
}

/// One thread's connection to the dependency, reopened after any error.
struct Link {
    addr: String,
    stream: Option<BufReader<TcpStream>>,
}

impl Link {
    /// One call: `Ok` if the dependency answered `ok`.
    fn call(&mut self, id: &str, probe: bool) -> Result<(), String> {
        let result = self.try_call(id, probe);
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    fn try_call(&mut self, id: &str, probe: bool) -> Result<(), String> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.addr).map_err(|e| e.to_string())?;
            stream
                .set_read_timeout(Some(Duration::from_secs(2)))
                .map_err(|e| e.to_string())?;
            let _ = stream.set_nodelay(true);
            self.stream = Some(BufReader::new(stream));
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err("no connection".into());
        };
        let request = format!("{id} {}\n", u8::from(probe));
        stream
            .get_mut()
            .write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut reply = String::new();
        stream.read_line(&mut reply).map_err(|e| e.to_string())?;
        if reply.trim_end() == "ok" {
            Ok(())
        } else {
            Err(format!("dependency answered {reply:?}"))
        }
    }
}

fn state_name(state: State) -> String {
    state.to_string()
}

/// One thread of calls, until `stop`.
fn call_loop(
    breaker: &CircuitBreaker,
    stop: &AtomicBool,
    counters: &Counters,
    started: Instant,
    id: &str,
    link: &mut Link,
    pause: Duration,
) {
    while !stop.load(Ordering::Relaxed) {
        let began = Instant::now();
        match breaker.try_acquire() {
            Ok(permit) => {
                let probe = permit.is_probe();
                let result = link.call(id, probe);
                permit.record(&result);
                counters.calls.fetch_add(1, Ordering::Relaxed);
                if probe {
                    counters.probes.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(rejected) => {
                counters.rejected.fetch_add(1, Ordering::Relaxed);
                let remote = rejected.remote();
                if remote.is_some() {
                    counters.held.fetch_add(1, Ordering::Relaxed);
                }
                if counters.first_rejection() {
                    emit(
                        started,
                        id,
                        &format!(
                            "event=rejected remote={} message: {rejected}",
                            remote.map_or("none", Reason::as_str)
                        ),
                    );
                }
            }
        }
        let took = u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX);
        counters.max_call_us.fetch_max(took, Ordering::Relaxed);
        std::thread::sleep(pause);
    }
}

fn main() {
    let settings = match Settings::parse() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("replica: {message}");
            std::process::exit(2);
        }
    };
    let started = Instant::now();
    let id: Arc<str> = Arc::from(settings.id.as_str());

    let counters = Arc::new(Counters::default());
    let listener_id = Arc::clone(&id);
    let listener_counters = Arc::clone(&counters);
    let breaker = CircuitBreaker::builder()
        .name(settings.name.clone())
        .failure_threshold(settings.threshold)
        .recovery_timeout(settings.recovery)
        .probe_deadline(settings.probe_deadline)
        .on_transition(move |transition| {
            listener_counters
                .transitions
                .fetch_add(1, Ordering::Relaxed);
            emit(
                started,
                &listener_id,
                &format!(
                    "event=state from={} to={} failures={} {}",
                    state_name(transition.from()),
                    state_name(transition.to()),
                    transition.failures(),
                    cause_fields(transition.cause()),
                ),
            );
        })
        .build();
    let breaker = match breaker {
        Ok(breaker) => Arc::new(breaker),
        Err(err) => {
            eprintln!("replica: bad breaker settings: {err}");
            std::process::exit(2);
        }
    };
    let fleet = match join_fleet(&settings, &breaker) {
        Ok(fleet) => Arc::new(fleet),
        Err(message) => {
            eprintln!("replica: cannot join the fleet: {message}");
            std::process::exit(2);
        }
    };

    let stop = Arc::new(AtomicBool::new(false));
    // `--threads 0`: an idle replica, attached to the fleet but never calling.
    let mut workers = Vec::new();
    for _ in 0..settings.threads {
        let breaker = Arc::clone(&breaker);
        let stop = Arc::clone(&stop);
        let counters = Arc::clone(&counters);
        let id = Arc::clone(&id);
        let mut link = Link {
            addr: settings.dependency.clone(),
            stream: None,
        };
        let pause = settings.pause;
        workers.push(std::thread::spawn(move || {
            call_loop(&breaker, &stop, &counters, started, &id, &mut link, pause);
        }));
    }

    // Ticks until stdin closes.
    let ticker = {
        let stop = Arc::clone(&stop);
        let counters = Arc::clone(&counters);
        let id = Arc::clone(&id);
        let fleet = Arc::clone(&fleet);
        let name = settings.name.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let line = report(&counters, fleet.as_ref().as_ref(), &name);
                emit(started, &id, &format!("event=tick {line}"));
            }
        })
    };
    emit(started, &id, "event=ready");

    let mut sink = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.join();
    }
    let _ = ticker.join();
    let line = report(&counters, fleet.as_ref().as_ref(), &settings.name);
    if let Some(fleet) = fleet.as_ref() {
        fleet.shutdown();
    }
    emit(started, &id, &format!("event=exit {line}"));
}
