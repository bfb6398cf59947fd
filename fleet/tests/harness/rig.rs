//! A test rig: one deployment of the fleet's server (a single `redis-server`, a Redis
//! Cluster, or a primary under Sentinel), one dependency, `n` replica processes (each
//! optionally reaching the dependency through its own [`Path`], which the test can cut), and
//! the waits the tests share. Fields drop in order: the replicas stop first, then the paths,
//! the dependency, and the servers.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_breaker_testkit::{RedisCluster, RedisSentinel, RedisServer};

use super::dependency::{Call, Dependency, Mode};
use super::path::Path;
use super::replicas::{
    local, replica_id, Event, PerReplica, ReplicaConfig, ReplicaOptions, Replicas,
};
use super::wait_until;

/// Threads of calls per replica: also how many calls a replica can have in flight.
pub const THREADS: usize = 4;

/// The servers the replicas of a [`Rig`] share the fleet through.
pub enum Deployment {
    /// One `redis-server` ([`RigBuilder::start`] by default).
    Server(RedisServer),
    /// A Redis Cluster, three primaries with a replica each ([`RigBuilder::cluster`]).
    Cluster(RedisCluster),
    /// A primary, its replica and three sentinels ([`RigBuilder::sentinel`]).
    Sentinel(RedisSentinel),
    /// Another rig's deployment ([`RigBuilder::join`]): that rig owns it and must outlive
    /// this one.
    Joined,
}

impl Deployment {
    fn kind(&self) -> &'static str {
        match self {
            Deployment::Server(_) => "a single server",
            Deployment::Cluster(_) => "a cluster",
            Deployment::Sentinel(_) => "a sentinel deployment",
            Deployment::Joined => "another rig's deployment",
        }
    }
}

/// The processes and servers of one test.
pub struct Rig {
    pub replicas: Replicas,
    /// Each replica's own path to the dependency, by index (empty without
    /// [`RigBuilder::paths`]).
    pub paths: Vec<Path>,
    pub dependency: Dependency,
    /// Dropped last: [`Rig::server`], [`Rig::cluster`], [`Rig::sentinel`].
    pub deployment: Deployment,
    pub config: ReplicaConfig,
    pub options: ReplicaOptions,
}

/// Which deployment [`RigBuilder::start`] starts (or joins).
#[derive(Clone, Debug)]
enum Kind {
    Server,
    Cluster,
    Sentinel,
    /// Another rig's: its replica settings' deployment flags.
    Join {
        redis: String,
        cluster: Vec<String>,
        sentinel: Vec<String>,
        service: Option<String>,
    },
}

/// The settings of a [`Rig`]: [`Rig::builder`].
#[derive(Clone, Debug)]
pub struct RigBuilder {
    n: usize,
    namespace: String,
    name: String,
    kind: Kind,
    recovery_ms: u64,
    lease_ms: u64,
    reconcile_ms: u64,
    quorum: Option<String>,
    vote_window_ms: Option<u64>,
    threads: BTreeMap<usize, usize>,
    paths: bool,
}

impl RigBuilder {
    /// The breaker's name (default `dependency`): the hash tag of its keys.
    pub fn name(mut self, name: &str) -> RigBuilder {
        self.name = name.into();
        self
    }

    /// Runs the fleet on a Redis Cluster (three primaries with a replica each) instead of one
    /// server: the replicas get `--cluster` with every node's URL.
    pub fn cluster(mut self) -> RigBuilder {
        self.kind = Kind::Cluster;
        self
    }

    /// Runs the fleet on a primary that three sentinels monitor instead of one server: the
    /// replicas get `--sentinel` with the sentinels' URLs and `--service`.
    pub fn sentinel(mut self) -> RigBuilder {
        self.kind = Kind::Sentinel;
        self
    }

    /// Shares `other`'s deployment (its replicas' flags) instead of starting one: `other` owns
    /// it, so it must outlive the new rig (declare the new rig after it).
    pub fn join(mut self, other: &Rig) -> RigBuilder {
        self.kind = Kind::Join {
            redis: other.config.redis.clone(),
            cluster: other.options.cluster.clone(),
            sentinel: other.options.sentinel.clone(),
            service: other.options.service.clone(),
        };
        self
    }

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

    /// Starts the deployment (unless it joins another rig's), a healthy dependency and the
    /// replicas; returns once every replica is ready and connected to the fleet (unless
    /// `FLEET_HARNESS_LOCAL=1`: plain local breakers never connect), and every busy one is
    /// calling.
    pub fn start(self) -> Rig {
        let started = |err: &dyn std::fmt::Display| -> ! { panic!("{err}") };
        let (deployment, redis, cluster, sentinel, service) = match self.kind.clone() {
            Kind::Server => {
                let server = RedisServer::start().unwrap_or_else(|err| started(&err));
                let url = server.url();
                (
                    Deployment::Server(server),
                    url,
                    Vec::new(),
                    Vec::new(),
                    None,
                )
            }
            Kind::Cluster => {
                let cluster = RedisCluster::start().unwrap_or_else(|err| started(&err));
                let urls = cluster.urls();
                let first = urls[0].clone();
                (Deployment::Cluster(cluster), first, urls, Vec::new(), None)
            }
            Kind::Sentinel => {
                let sentinel = RedisSentinel::start().unwrap_or_else(|err| started(&err));
                let urls = sentinel.sentinel_urls();
                let service = Some(sentinel.service_name().to_string());
                let primary = sentinel.primary_url();
                (
                    Deployment::Sentinel(sentinel),
                    primary,
                    Vec::new(),
                    urls,
                    service,
                )
            }
            Kind::Join {
                redis,
                cluster,
                sentinel,
                service,
            } => (Deployment::Joined, redis, cluster, sentinel, service),
        };
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
            redis,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
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
            cluster,
            sentinel,
            service,
            per_replica,
        };
        let mut rig = Rig {
            replicas: Replicas::new(),
            paths: Vec::new(),
            dependency,
            deployment,
            config,
            options,
        };
        for _ in 0..self.n {
            rig.spawn_one(self.paths);
        }
        rig.replicas.wait_ready(super::DEADLINE);
        let since = Instant::now();
        if !local() {
            rig.wait_connected(since, &rig.all());
        }
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

    /// A rig of `n` replicas in `namespace` on one server, breaker `dependency`: recovery
    /// 300 ms, lease 1000 ms, reconcile 200 ms, [`THREADS`] threads of calls pausing 5 ms, the
    /// library's quorum and vote window, no paths.
    pub fn builder(n: usize, namespace: &str) -> RigBuilder {
        RigBuilder {
            n,
            namespace: namespace.into(),
            name: "dependency".into(),
            kind: Kind::Server,
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
        if !local() {
            self.wait_connected(since, &[index]);
        }
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

    /// The single server ([`Deployment::Server`]); panics for another deployment.
    pub fn server(&self) -> &RedisServer {
        match &self.deployment {
            Deployment::Server(server) => server,
            other => panic!("the rig runs on {}, not a single server", other.kind()),
        }
    }

    /// The single server, to kill, pause or restart it.
    pub fn server_mut(&mut self) -> &mut RedisServer {
        match &mut self.deployment {
            Deployment::Server(server) => server,
            other => panic!("the rig runs on {}, not a single server", other.kind()),
        }
    }

    /// The Redis Cluster ([`RigBuilder::cluster`]); panics for another deployment.
    pub fn cluster(&self) -> &RedisCluster {
        match &self.deployment {
            Deployment::Cluster(cluster) => cluster,
            other => panic!("the rig runs on {}, not a cluster", other.kind()),
        }
    }

    /// The Redis Cluster, to kill a primary.
    pub fn cluster_mut(&mut self) -> &mut RedisCluster {
        match &mut self.deployment {
            Deployment::Cluster(cluster) => cluster,
            other => panic!("the rig runs on {}, not a cluster", other.kind()),
        }
    }

    /// The sentinel deployment ([`RigBuilder::sentinel`]); panics for another deployment.
    pub fn sentinel(&self) -> &RedisSentinel {
        match &self.deployment {
            Deployment::Sentinel(sentinel) => sentinel,
            other => panic!(
                "the rig runs on {}, not a sentinel deployment",
                other.kind()
            ),
        }
    }

    /// The sentinel deployment, to kill the primary.
    pub fn sentinel_mut(&mut self) -> &mut RedisSentinel {
        match &mut self.deployment {
            Deployment::Sentinel(sentinel) => sentinel,
            other => panic!(
                "the rig runs on {}, not a sentinel deployment",
                other.kind()
            ),
        }
    }

    /// The breaker's key with `suffix` (`state`, `open`, `lease`, ...):
    /// `<namespace>:{<name>}:<suffix>`.
    pub fn key(&self, suffix: &str) -> String {
        format!(
            "{}:{{{}}}:{suffix}",
            self.config.namespace, self.config.name
        )
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

    /// The probes the dependency received from `since` to `until`, grouped into open/half-open
    /// cycles: a probe closer than half the open period to the first probe of the current
    /// group joins it (a failed probe re-opens the fleet for a whole open period, so the
    /// probes of two cycles are at least that far apart).
    pub fn probe_cycles(&self, since: Instant, until: Instant) -> Vec<Vec<Call>> {
        let gap = Duration::from_millis(self.config.recovery_ms / 2);
        let mut groups: Vec<Vec<Call>> = Vec::new();
        let probes = self
            .dependency
            .calls_since(since)
            .into_iter()
            .filter(|c| c.probe && c.at <= until);
        for probe in probes {
            match groups.last_mut() {
                Some(group) if probe.at.duration_since(group[0].at) < gap => group.push(probe),
                _ => groups.push(vec![probe]),
            }
        }
        groups
    }

    /// Panics unless every cycle of [`probe_cycles`](Self::probe_cycles) from `since` to
    /// `until` had exactly one probe fleet-wide, and there were at least `cycles` of them;
    /// returns the cycles.
    pub fn assert_one_probe_per_cycle(
        &self,
        what: &str,
        since: Instant,
        until: Instant,
        cycles: usize,
    ) -> Vec<Vec<Call>> {
        let groups = self.probe_cycles(since, until);
        for group in &groups {
            let who: Vec<String> = group
                .iter()
                .map(|c| format!("{} +{:?}", c.replica, c.at.duration_since(group[0].at)))
                .collect();
            assert_eq!(
                group.len(),
                1,
                "{what}: {} probes in one cycle: {who:?}",
                group.len()
            );
        }
        assert!(
            groups.len() >= cycles,
            "{what}: at least {cycles} cycles, got {}",
            groups.len()
        );
        groups
    }

    /// Waits until the dependency received at least `n` probes since `since`.
    pub fn wait_probes(&self, since: Instant, n: usize) {
        wait_until(&self.replicas, &format!("{n} probes"), || {
            self.dependency.count_since(since, |c| c.probe) >= n
        });
    }

    /// Watches the replicas' events for `window`: panics at once with the violation if `bad`
    /// finds one, else returns at the end of the window.
    pub fn observe(&self, window: Duration, what: &str, bad: impl Fn(&[Event]) -> Option<String>) {
        let until = Instant::now() + window;
        let violation = self
            .replicas
            .events()
            .wait_for(what, window + super::DEADLINE, |events| {
                if let Some(violation) = bad(events) {
                    return Some(Some(violation));
                }
                (Instant::now() >= until).then_some(None)
            });
        if let Some(violation) = violation {
            panic!(
                "{what}: {violation}\nreplica stderr:\n{}",
                self.replicas.events().stderr_tail()
            );
        }
    }

    /// The longest call (`max_call_us`) any of the replicas reported in a tick after `since`.
    pub fn max_call_us_since(&self, since: Instant) -> u64 {
        self.replicas
            .events()
            .all()
            .iter()
            .filter(|e| e.at >= since && e.is_tick())
            .map(|e| e.num("max_call_us"))
            .max()
            .unwrap_or(0)
    }

    /// The fewest successful calls any of `which` made in one second of `from..until` (whole
    /// seconds); panics naming the replica and the second if one made none.
    pub fn fewest_calls_per_second(&self, from: Instant, until: Instant, which: &[usize]) -> usize {
        let calls = self.dependency.calls_since(from);
        let seconds = until.saturating_duration_since(from).as_secs();
        let mut fewest = usize::MAX;
        for r in which {
            let id = replica_id(*r);
            for second in 0..seconds {
                let start = from + Duration::from_secs(second);
                let end = start + Duration::from_secs(1);
                let n = calls
                    .iter()
                    .filter(|c| c.replica == id && c.ok && c.at >= start && c.at < end)
                    .count();
                assert!(
                    n > 0,
                    "r{r} made no successful call in second {second} of {seconds}"
                );
                fewest = fewest.min(n);
            }
        }
        fewest
    }

    /// Shuts every running replica down; panics unless each exited cleanly and none panicked.
    /// Returns their `exit` lines.
    pub fn shut_down_cleanly(&mut self) -> Vec<Event> {
        self.assert_no_panic();
        let clean = self.replicas.shutdown(super::DEADLINE);
        assert!(
            clean.iter().all(|ok| *ok),
            "every replica exits cleanly: {clean:?}\n{}",
            self.replicas.events().stderr_tail()
        );
        self.replicas
            .events()
            .all()
            .into_iter()
            .filter(|e| e.get("event") == "exit")
            .collect()
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
