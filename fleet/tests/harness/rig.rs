//! A test rig: one server, one dependency, `n` replica processes, and the waits the tests
//! share. Fields drop in order: the replicas stop first, then the dependency, then the server.

use std::time::Instant;

use async_breaker_fleet::server::RedisServer;

use super::dependency::{Dependency, Mode};
use super::replicas::{replica_id, Event, ReplicaConfig, Replicas};
use super::wait_until;

/// Threads of calls per replica: also how many calls a replica can have in flight.
pub const THREADS: usize = 4;

/// The processes and servers of one test.
pub struct Rig {
    pub replicas: Replicas,
    pub dependency: Dependency,
    pub server: RedisServer,
    pub config: ReplicaConfig,
}

impl Rig {
    /// Starts a server, a healthy dependency and `n` replicas; returns once every replica is
    /// ready, attached to the fleet, and calling.
    pub fn start(n: usize, namespace: &str, recovery_ms: u64, lease_ms: u64) -> Rig {
        let server = RedisServer::start().unwrap_or_else(|err| panic!("{err}"));
        let dependency = Dependency::start();
        let config = ReplicaConfig {
            redis: server.url(),
            namespace: namespace.into(),
            name: "dependency".into(),
            dependency: dependency.addr(),
            threshold: 5,
            recovery_ms,
            lease_ms,
            threads: THREADS,
            pause_ms: 5,
        };
        let mut replicas = Replicas::new();
        for _ in 0..n {
            replicas.spawn(&config);
        }
        let rig = Rig {
            replicas,
            dependency,
            server,
            config,
        };
        rig.replicas.wait_ready(super::DEADLINE);
        let since = Instant::now();
        rig.wait_connected(since, &rig.all());
        rig.wait_calling(since, &rig.all(), 1);
        rig
    }

    /// Every replica's index.
    pub fn all(&self) -> Vec<usize> {
        (0..self.replicas.len()).collect()
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
        self.replicas
            .events()
            .wait_for(&format!("{which:?} {what}"), super::DEADLINE, |events| {
                which
                    .iter()
                    .all(|r| {
                        events.iter().any(|e| {
                            e.index == *r && e.at >= since && e.get("event") == "tick" && ok(e)
                        })
                    })
                    .then_some(())
            });
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
        self.replicas
            .events()
            .wait_for(&format!("{which:?} {to}"), super::DEADLINE, |events| {
                which
                    .iter()
                    .map(|r| {
                        events
                            .iter()
                            .find(|e| e.index == *r && e.at >= since && e.is_state(to))
                            .map(|e| e.at)
                    })
                    .collect::<Option<Vec<Instant>>>()
            })
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
