//! A test rig: one server, one dependency, `n` replica processes (each optionally reaching
//! the dependency through its own [`Path`], which the test can cut), and the waits the tests
//! share. Fields drop in order: the replicas stop first, then the paths, the dependency, and
//! the server.

use std::collections::BTreeMap;
use std::time::Instant;

use async_breaker_testkit::RedisServer;

use super::dependency::{Dependency, Mode};
use super::path::Path;
use super::replicas::{replica_id, Event, PerReplica, ReplicaConfig, ReplicaOptions, Replicas};
use super::wait_until;

/// Threads of calls per replica: also how many calls a replica can have in flight.
pub const THREADS: usize = 4;

/// The processes and servers of one test.
pub struct Rig {
    pub replicas: Replicas,
    /// Each replica's own path to the dependency, by index (empty without
    /// [`RigBuilder::paths`]).
    pub paths: Vec<Path>,
    pub dependency: Dependency,
    pub server: RedisServer,
    pub config: ReplicaConfig,
    pub options: ReplicaOptions,
}

/// The settings of a [`Rig`]: [`Rig::builder`].
#[derive(Clone, Debug)]
pub struct RigBuilder {
    n: usize,
    namespace: String,
    recovery_ms: u64,
    lease_ms: u64,
    reconcile_ms: u64,
    quorum: Option<String>,
    vote_window_ms: Option<u64>,
    threads: BTreeMap<usize, usize>,
    paths: bool,
}

impl RigBuilder {
    /// The open period (default 300 ms).
    pub fn recovery_ms(mut self, ms: u64) -> RigBuilder {
        self.recovery_ms = ms;
        self
    }

    /// The probe lease (default 1000 ms).
    pub fn lease_ms(mut self, ms: u64) -> RigBuilder {
        self.lease_ms = ms;
        self
    }

    /// The reconcile interval (default 200 ms).
    pub fn reconcile_ms(mut self, ms: u64) -> RigBuilder {
        self.reconcile_ms = ms;
        self
    }

    /// `--quorum` (`first`, `N`, `P%/MIN`; default: the library's).
    pub fn quorum(mut self, spec: &str) -> RigBuilder {
        self.quorum = Some(spec.into());
        self
    }

    /// `--vote-window-ms` (default: the library's).
    pub fn vote_window_ms(mut self, ms: u64) -> RigBuilder {
        self.vote_window_ms = Some(ms);
        self
    }

    /// Replica `index` runs `threads` threads of calls (0: idle) instead of [`THREADS`].
    pub fn threads_for(mut self, index: usize, threads: usize) -> RigBuilder {
        self.threads.insert(index, threads);
        self
    }

    /// Each replica reaches the dependency through its own [`Path`] ([`Rig::cut`]).
    pub fn paths(mut self) -> RigBuilder {
        self.paths = true;
        self
    }

    /// Starts the server, a healthy dependency and the replicas; returns once every replica
    /// is ready and connected to the fleet, and every busy one is calling.
    pub fn start(self) -> Rig {
        let server = RedisServer::start().unwrap_or_else(|err| panic!("{err}"));
        let dependency = Dependency::start();
        let per_replica = self
            .threads
            .iter()
            .map(|(index, threads)| {
                let per = PerReplica {
                    threads: Some(*threads),
                    dependency: None,
                };
                (*index, per)
            })
            .collect();
        let config = ReplicaConfig {
            redis: server.url(),
            namespace: self.namespace.clone(),
            name: "dependency".into(),
            dependency: dependency.addr(),
            threshold: 5,
            recovery_ms: self.recovery_ms,
            lease_ms: self.lease_ms,
            threads: THREADS,
            pause_ms: 5,
        };
        let options = ReplicaOptions {
            reconcile_ms: Some(self.reconcile_ms),
            quorum: self.quorum.clone(),
            vote_window_ms: self.vote_window_ms,
            per_replica,
        };
        let mut rig = Rig {
            replicas: Replicas::new(),
            paths: Vec::new(),
            dependency,
            server,
            config,
            options,
        };
        for _ in 0..self.n {
            rig.spawn_one(self.paths);
        }
        rig.replicas.wait_ready(super::DEADLINE);
        let since = Instant::now();
        rig.wait_connected(since, &rig.all());
        rig.wait_calling(since, &rig.busy(), 1);
        rig
    }
}

impl Rig {
    /// Starts a server, a healthy dependency and `n` replicas whose first trip opens every
    /// replica (`--quorum first`: what the tests written before the quorum assume); returns
    /// once every replica is ready, attached to the fleet, and calling.
    pub fn start(n: usize, namespace: &str, recovery_ms: u64, lease_ms: u64) -> Rig {
        Rig::builder(n, namespace)
            .recovery_ms(recovery_ms)
            .lease_ms(lease_ms)
            .quorum("first")
            .start()
    }

    /// A rig of `n` replicas in `namespace`: recovery 300 ms, lease 1000 ms, reconcile 200 ms,
    /// [`THREADS`] threads of calls pausing 5 ms, the library's quorum and vote window, no
    /// paths.
    pub fn builder(n: usize, namespace: &str) -> RigBuilder {
        RigBuilder {
            n,
            namespace: namespace.into(),
            recovery_ms: 300,
            lease_ms: 1_000,
            reconcile_ms: 200,
            quorum: None,
            vote_window_ms: None,
            threads: BTreeMap::new(),
            paths: false,
        }
    }

    /// Starts one more replica with the rig's settings (and its own path if the others have
    /// one); returns its index once it is ready and connected (and calling, if busy).
    pub fn spawn(&mut self) -> usize {
        let since = Instant::now();
        let index = self.spawn_one(!self.paths.is_empty());
        self.replicas
            .events()
            .wait_for(&format!("r{index} ready"), super::DEADLINE, |events| {
                events
                    .iter()
                    .any(|e| e.index == index && e.get("event") == "ready")
                    .then_some(())
            });
        self.wait_connected(since, &[index]);
        if self.threads_of(index) > 0 {
            self.wait_calling(since, &[index], 1);
        }
        index
    }

    fn spawn_one(&mut self, path: bool) -> usize {
        let index = self.replicas.len();
        if path {
            assert_eq!(self.paths.len(), index, "one path per replica");
            let path = Path::start(&self.dependency.addr());
            self.options
                .per_replica
                .entry(index)
                .or_default()
                .dependency = Some(path.addr());
            self.paths.push(path);
        }
        self.replicas.spawn_with(&self.config, &self.options)
    }

    /// Replica `index`'s threads of calls (0: idle).
    pub fn threads_of(&self, index: usize) -> usize {
        self.config.threads_of(&self.options, index)
    }

    /// Every replica's index.
    pub fn all(&self) -> Vec<usize> {
        (0..self.replicas.len()).collect()
    }

    /// The replicas that make calls (not idle).
    pub fn busy(&self) -> Vec<usize> {
        self.all()
            .into_iter()
            .filter(|r| self.threads_of(*r) > 0)
            .collect()
    }

    /// Breaks the paths of `which` (every call from them fails, probes included, and never
    /// reaches the dependency); returns the time.
    pub fn cut(&self, which: &[usize]) -> Instant {
        for r in which {
            self.paths[*r].set_cut(true);
        }
        Instant::now()
    }

    /// Mends the paths of `which`; returns the time.
    pub fn mend(&self, which: &[usize]) -> Instant {
        for r in which {
            self.paths[*r].set_cut(false);
        }
        Instant::now()
    }

    /// Waits until each of `which` printed a tick after `since` whose fields satisfy `ok`;
    /// those ticks.
    pub fn wait_tick(
        &self,
        since: Instant,
        which: &[usize],
        what: &str,
        ok: impl Fn(&Event) -> bool,
    ) -> Vec<Event> {
        self.replicas
            .events()
            .wait_for(&format!("{which:?} {what}"), super::DEADLINE, |events| {
                which
                    .iter()
                    .map(|r| {
                        events
                            .iter()
                            .find(|e| e.index == *r && e.at >= since && e.is_tick() && ok(e))
                            .cloned()
                    })
                    .collect::<Option<Vec<Event>>>()
            })
    }

    /// Waits until each of `which` printed a tick after `since` reporting `members` live
    /// replicas and a quorum of `needed`; those ticks.
    pub fn wait_members(
        &self,
        since: Instant,
        which: &[usize],
        members: u64,
        needed: u64,
    ) -> Vec<Event> {
        self.wait_tick(
            since,
            which,
            &format!("report members={members} needed={needed}"),
            |e| e.num("members") == members && e.num("needed") == needed,
        )
    }

    /// Replica `index`'s last tick (or exit) line, if any.
    pub fn last_tick(&self, index: usize) -> Option<Event> {
        self.replicas
            .events()
            .all()
            .into_iter()
            .rev()
            .find(|e| e.index == index && matches!(e.get("event"), "tick" | "exit"))
    }

    /// The state changes replica `index` printed at or after `since`.
    pub fn states_since(&self, since: Instant, index: usize) -> Vec<Event> {
        self.replicas
            .events()
            .all()
            .into_iter()
            .filter(|e| e.index == index && e.at >= since && e.get("event") == "state")
            .collect()
    }

    /// Waits until each of `which` printed a tick after `since` saying it is connected and
    /// subscribed to the fleet's channel.
    pub fn wait_connected(&self, since: Instant, which: &[usize]) {
        self.wait_ticks(since, which, "connected to the fleet", |e| {
            e.get("degraded") == "0" && e.get("subscribed") == "1"
        });
    }

    /// Waits until each of `which` printed a tick after `since` saying it is degraded.
    pub fn wait_degraded(&self, since: Instant, which: &[usize]) {
        self.wait_ticks(since, which, "degraded (server gone)", |e| {
            e.get("degraded") == "1"
        });
    }

    fn wait_ticks(&self, since: Instant, which: &[usize], what: &str, ok: impl Fn(&Event) -> bool) {
        self.wait_tick(since, which, what, ok);
    }

    /// Waits until the dependency answered `ok` to at least `n` calls of each of `which`
    /// that arrived after `since`.
    pub fn wait_calling(&self, since: Instant, which: &[usize], n: usize) {
        wait_until(&self.replicas, &format!("{which:?} calling"), || {
            which.iter().all(|r| {
                let id = replica_id(*r);
                self.dependency
                    .count_since(since, |c| c.replica == id && c.ok)
                    >= n
            })
        });
    }

    /// Waits until each of `which` reported a change to `to` after `since`; their times.
    pub fn wait_state(&self, since: Instant, which: &[usize], to: &str) -> Vec<Instant> {
        self.wait_state_events(since, which, to)
            .iter()
            .map(|e| e.at)
            .collect()
    }

    /// Waits until each of `which` reported a change to `to` after `since`; those (first)
    /// state lines.
    pub fn wait_state_events(&self, since: Instant, which: &[usize], to: &str) -> Vec<Event> {
        self.replicas
            .events()
            .wait_for(&format!("{which:?} {to}"), super::DEADLINE, |events| {
                which
                    .iter()
                    .map(|r| {
                        events
                            .iter()
                            .find(|e| e.index == *r && e.at >= since && e.is_state(to))
                            .cloned()
                    })
                    .collect::<Option<Vec<Event>>>()
            })
    }

    /// Waits until each of `which` last reported `state` (`closed` before any change).
    pub fn wait_latest_state(&self, which: &[usize], state: &str) {
        self.replicas.events().wait_for(
            &format!("{which:?} in state {state}"),
            super::DEADLINE,
            |events| {
                which
                    .iter()
                    .all(|r| {
                        events
                            .iter()
                            .rev()
                            .find(|e| e.index == *r && e.get("event") == "state")
                            .map_or("closed", |e| e.get("to"))
                            == state
                    })
                    .then_some(())
            },
        );
    }

    /// Each replica's latest reported state (`closed` before any change).
    pub fn latest_state(&self, index: usize) -> String {
        self.replicas
            .events()
            .all()
            .iter()
            .rev()
            .find(|e| e.index == index && e.get("event") == "state")
            .map_or_else(|| "closed".into(), |e| e.get("to").to_string())
    }

    /// Only `tripper`'s calls (and every probe) fail: every one of `which` must open through
    /// the fleet; then the dependency heals and every one of `which` must close.
    pub fn trip_propagates(&self, tripper: usize, which: &[usize]) {
        let since = self.dependency.set_mode(Mode::DeadFor(replica_id(tripper)));
        self.wait_state(since, which, "open");
        let healthy = self.dependency.set_mode(Mode::Healthy);
        self.wait_state(healthy, which, "closed");
        self.wait_calling(Instant::now(), which, 1);
    }

    /// Panics if a replica wrote a panic message to stderr.
    pub fn assert_no_panic(&self) {
        let stderr = self.replicas.events().stderr_all();
        assert!(
            !stderr.contains("panicked"),
            "a replica panicked:\n{stderr}"
        );
    }
}
