//! Replica processes (the `replica` example), their event lines, and the guard that stops
//! every one of them, also when a test panics.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// One event line a replica printed, stamped with its arrival time on the test's clock.
#[derive(Clone, Debug)]
pub struct Event {
    /// Index of the replica in its [`Replicas`].
    pub index: usize,
    /// When the test process read the line.
    pub at: Instant,
    /// The `key=value` pairs of the line.
    pub fields: HashMap<String, String>,
    /// The line as printed.
    pub line: String,
}

impl Event {
    /// The value of `key`, or "".
    pub fn get(&self, key: &str) -> &str {
        self.fields.get(key).map_or("", String::as_str)
    }

    /// The value of `key` as a number, or 0.
    pub fn num(&self, key: &str) -> u64 {
        self.get(key).parse().unwrap_or(0)
    }

    /// Whether this is a state change to `state` (`open`, `half-open`, `closed`, ...).
    pub fn is_state(&self, to: &str) -> bool {
        self.get("event") == "state" && self.get("to") == to
    }

    /// Whether this is a `tick` line.
    pub fn is_tick(&self) -> bool {
        self.get("event") == "tick"
    }

    /// When the replica printed the line: microseconds since the Unix epoch on the host's
    /// clock (comparable across the replicas of one host, and with
    /// [`wall_us`](super::dependency::wall_us)).
    pub fn wall_us(&self) -> u64 {
        self.num("wall_us")
    }
}

#[derive(Default)]
struct Log {
    events: Vec<Event>,
    stderr: Vec<String>,
}

/// Everything the replicas printed, with a condition variable to wait on.
#[derive(Default)]
pub struct Events {
    log: Mutex<Log>,
    changed: Condvar,
}

impl Events {
    /// A copy of every event so far.
    pub fn all(&self) -> Vec<Event> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .events
            .clone()
    }

    /// The last lines the replicas wrote to stderr (for failure messages).
    pub fn stderr_tail(&self) -> String {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let start = log.stderr.len().saturating_sub(30);
        log.stderr[start..].join("\n")
    }

    /// Every line the replicas wrote to stderr.
    pub fn stderr_all(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stderr
            .join("\n")
    }

    /// Waits until `done(events)` holds, or panics after `deadline` describing `what`.
    pub fn wait_for<T>(
        &self,
        what: &str,
        deadline: Duration,
        mut done: impl FnMut(&[Event]) -> Option<T>,
    ) -> T {
        let until = Instant::now() + deadline;
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(value) = done(&log.events) {
                return value;
            }
            let now = Instant::now();
            assert!(
                now < until,
                "timed out after {deadline:?} waiting for {what}; replica stderr:\n{}",
                log.stderr[log.stderr.len().saturating_sub(30)..].join("\n")
            );
            log = self
                .changed
                .wait_timeout(log, (until - now).min(Duration::from_millis(100)))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn push(&self, event: Event) {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .events
            .push(event);
        self.changed.notify_all();
    }

    fn push_stderr(&self, index: usize, line: &str) {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.stderr.push(format!("[replica {index}] {line}"));
    }
}

/// What one replica does differently from the shared [`ReplicaConfig`].
#[derive(Clone, Debug, Default)]
pub struct PerReplica {
    /// Threads of calls (0: an idle replica).
    pub threads: Option<usize>,
    /// Its own address of the dependency (its [`Path`](super::path::Path)).
    pub dependency: Option<String>,
}

/// The settings every replica of a test shares (each gets its own `--id`). The `fleet`
/// example builds this struct too (it includes this file): the fleet's newer settings are in
/// [`ReplicaOptions`].
#[derive(Clone, Debug)]
pub struct ReplicaConfig {
    pub redis: String,
    pub namespace: String,
    pub name: String,
    pub dependency: String,
    pub threshold: u32,
    pub recovery_ms: u64,
    pub lease_ms: u64,
    pub threads: usize,
    pub pause_ms: u64,
}

/// Settings beyond [`ReplicaConfig`], each `None` (or empty) by default: the replica example's
/// (and the library's) default.
#[derive(Clone, Debug, Default)]
pub struct ReplicaOptions {
    /// `--reconcile-ms`.
    pub reconcile_ms: Option<u64>,
    /// `--quorum` (`first`, `N`, `P%/MIN`).
    pub quorum: Option<String>,
    /// `--vote-window-ms`.
    pub vote_window_ms: Option<u64>,
    /// `--cluster`: a Redis Cluster's node URLs, instead of [`ReplicaConfig::redis`].
    pub cluster: Vec<String>,
    /// `--sentinel`: the sentinels' URLs, instead of [`ReplicaConfig::redis`] (with
    /// [`service`](Self::service)).
    pub sentinel: Vec<String>,
    /// `--service`: the primary's name the sentinels monitor.
    pub service: Option<String>,
    /// Overrides by replica index.
    pub per_replica: BTreeMap<usize, PerReplica>,
}

impl ReplicaConfig {
    /// Replica `index`'s threads of calls.
    pub fn threads_of(&self, options: &ReplicaOptions, index: usize) -> usize {
        options
            .per_replica
            .get(&index)
            .and_then(|p| p.threads)
            .unwrap_or(self.threads)
    }

    /// Replica `index`'s address of the dependency.
    pub fn dependency_of(&self, options: &ReplicaOptions, index: usize) -> String {
        options
            .per_replica
            .get(&index)
            .and_then(|p| p.dependency.clone())
            .unwrap_or_else(|| self.dependency.clone())
    }

    fn args(&self, options: &ReplicaOptions, index: usize) -> Vec<String> {
        let optional = [
            (
                "--reconcile-ms",
                options.reconcile_ms.map(|ms| ms.to_string()),
            ),
            ("--quorum", options.quorum.clone()),
            (
                "--vote-window-ms",
                options.vote_window_ms.map(|ms| ms.to_string()),
            ),
            ("--service", options.service.clone()),
        ];
        // Where the fleet lives: one server, a Cluster's nodes, or the sentinels.
        let deployment = if !options.cluster.is_empty() {
            ("--cluster", options.cluster.join(","))
        } else if !options.sentinel.is_empty() {
            ("--sentinel", options.sentinel.join(","))
        } else {
            ("--redis", self.redis.clone())
        };
        [
            deployment,
            ("--namespace", self.namespace.clone()),
            ("--name", self.name.clone()),
            ("--dependency", self.dependency_of(options, index)),
            ("--id", replica_id(index)),
            ("--threshold", self.threshold.to_string()),
            ("--recovery-ms", self.recovery_ms.to_string()),
            ("--lease-ms", self.lease_ms.to_string()),
            ("--threads", self.threads_of(options, index).to_string()),
            ("--pause-ms", self.pause_ms.to_string()),
        ]
        .into_iter()
        .chain(
            optional
                .into_iter()
                .filter_map(|(flag, value)| value.map(|value| (flag, value))),
        )
        .flat_map(|(flag, value)| [flag.to_string(), value])
        // `FLEET_HARNESS_LOCAL=1` runs plain local breakers: a check that the tests fail
        // without the fleet.
        .chain(local().then(|| "--local".to_string()))
        .collect()
    }
}

/// Whether `FLEET_HARNESS_LOCAL=1` asks for plain local breakers (`--local`): replicas that
/// never attach to the fleet, a check that the tests fail without it.
pub fn local() -> bool {
    std::env::var_os("FLEET_HARNESS_LOCAL").is_some_and(|v| v == "1")
}

struct Process {
    id: String,
    child: Child,
    stdin: Option<ChildStdin>,
}

/// A set of replica processes. Dropping it closes every replica's stdin (a clean exit), then
/// kills whatever has not exited within a few seconds, and reaps them all.
pub struct Replicas {
    processes: Vec<Option<Process>>,
    events: Arc<Events>,
}

impl Replicas {
    /// An empty set sharing one event log.
    pub fn new() -> Replicas {
        Replicas {
            processes: Vec::new(),
            events: Arc::new(Events::default()),
        }
    }

    /// The shared event log.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// Starts replica `r<index>` with `config` (and the replica example's defaults for
    /// everything else); returns its index.
    pub fn spawn(&mut self, config: &ReplicaConfig) -> usize {
        self.spawn_with(config, &ReplicaOptions::default())
    }

    /// Starts replica `r<index>` with `config` and `options`; returns its index.
    pub fn spawn_with(&mut self, config: &ReplicaConfig, options: &ReplicaOptions) -> usize {
        let index = self.processes.len();
        let id = replica_id(index);
        let mut child = Command::new(replica_binary())
            .args(config.args(options, index))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn a replica");
        let stdout = child.stdout.take().expect("replica stdout");
        let stderr = child.stderr.take().expect("replica stderr");
        let events = Arc::clone(&self.events);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let at = Instant::now();
                let fields = line
                    .split_whitespace()
                    .filter_map(|pair| pair.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                events.push(Event {
                    index,
                    at,
                    fields,
                    line,
                });
            }
            // The process closed its stdout: it exited (or is about to).
            let fields = HashMap::from([("event".to_string(), "eof".to_string())]);
            events.push(Event {
                index,
                at: Instant::now(),
                fields,
                line: String::new(),
            });
        });
        let events = Arc::clone(&self.events);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                events.push_stderr(index, &line);
            }
        });
        let stdin = child.stdin.take();
        self.processes.push(Some(Process { id, child, stdin }));
        index
    }

    /// How many replicas were started (alive or not).
    pub fn len(&self) -> usize {
        self.processes.len()
    }

    /// Replica `index`'s pid, while it runs.
    pub fn pid(&self, index: usize) -> Option<u32> {
        self.processes[index].as_ref().map(|p| p.child.id())
    }

    /// Waits until every replica printed `event=ready`.
    pub fn wait_ready(&self, deadline: Duration) {
        let n = self.len();
        self.events
            .wait_for("every replica ready", deadline, |events| {
                let ready = events.iter().filter(|e| e.get("event") == "ready").count();
                (ready >= n).then_some(())
            });
    }

    /// Kills replica `index` with SIGKILL and reaps it.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut process) = self.processes[index].take() {
            let _ = signal(process.child.id(), "-CONT");
            let _ = process.child.kill();
            let _ = process.child.wait();
            drop(process.stdin.take());
        }
    }

    /// Stops (`SIGSTOP`) or continues (`SIGCONT`) replica `index`.
    pub fn signal(&self, index: usize, which: &str) {
        let pid = self.pid(index).expect("the replica runs");
        signal(pid, which).expect("send the signal");
    }

    /// Closes every replica's stdin and waits (bounded) for each to exit cleanly; returns the
    /// exit statuses' success flags. Kills whatever is still running at the deadline.
    pub fn shutdown(&mut self, deadline: Duration) -> Vec<bool> {
        for process in self.processes.iter_mut().flatten() {
            let _ = signal(process.child.id(), "-CONT");
            drop(process.stdin.take());
        }
        let until = Instant::now() + deadline;
        let mut clean = Vec::new();
        for slot in &mut self.processes {
            let Some(mut process) = slot.take() else {
                continue;
            };
            loop {
                match process.child.try_wait() {
                    Ok(Some(status)) => {
                        clean.push(status.success());
                        break;
                    }
                    Ok(None) if Instant::now() < until => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    _ => {
                        eprintln!("replica {} did not exit in time: killing it", process.id);
                        let _ = process.child.kill();
                        let _ = process.child.wait();
                        clean.push(false);
                        break;
                    }
                }
            }
        }
        clean
    }
}

impl Drop for Replicas {
    fn drop(&mut self) {
        self.shutdown(Duration::from_secs(5));
    }
}

/// Replica `index`'s id (`r<index>`).
pub fn replica_id(index: usize) -> String {
    format!("r{index}")
}

/// The index of the replica with id `id`.
pub fn replica_index(id: &str) -> Option<usize> {
    id.strip_prefix('r')?.parse().ok()
}

/// Sends a signal with the system's `kill` command.
pub fn signal(pid: u32, which: &str) -> std::io::Result<()> {
    let status = Command::new("kill")
        .arg(which)
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "kill {which} {pid}: {status}"
        )))
    }
}

/// The `replica` example's binary, built once per test process with the same cargo, profile
/// and target directory as the test itself: `cargo test` only builds examples when no test
/// filter is given, and `CARGO_BIN_EXE_*` exists only for `[[bin]]` targets.
pub fn replica_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        // target/<profile>/deps/<test>-<hash>
        let exe = std::env::current_exe().expect("the test's own path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test lives in target/<profile>/deps");
        let target_dir = profile_dir.parent().expect("the target directory");
        let profile = profile_dir
            .file_name()
            .and_then(|name| name.to_str())
            .expect("a profile directory name");
        let profile = match profile {
            "debug" => "dev",
            "release" => "release",
            other => other,
        };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "async-breaker-fleet",
                "--example",
                "replica",
            ])
            .args(["--profile", profile])
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .status()
            .expect("run cargo build for the replica example");
        assert!(status.success(), "building the replica example failed");
        let binary = profile_dir
            .join("examples")
            .join(format!("replica{}", std::env::consts::EXE_SUFFIX));
        assert!(
            binary.is_file(),
            "no replica binary at {}",
            binary.display()
        );
        binary
    })
}
