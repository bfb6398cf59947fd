//! A throwaway Redis Sentinel deployment on loopback: a primary, a replica, three sentinels.
//!
//! [`RedisSentinel::start`] runs a primary and a replica of it (`--replicaof`), waits until the
//! replica is linked, then starts three sentinels monitoring the primary as
//! [`SERVICE_NAME`] with a quorum of two, short timings ([`DOWN_AFTER`], [`FAILOVER_TIMEOUT`],
//! [`TILT_PERIOD`]) and a configuration file each in its own temporary directory (sentinels
//! rewrite it). It returns once every sentinel sees the primary up, its replica linked and the
//! two other sentinels, and none is in TILT mode: a failover started earlier may not find its
//! quorum. Every process is on free loopback ports with persistence off; dropping the
//! [`RedisSentinel`] kills them all.
//!
//! ```no_run
//! use async_breaker_testkit::RedisSentinel;
//!
//! let mut deployment = RedisSentinel::start()?;
//! let sentinels = deployment.sentinel_urls(); // what a sentinel-aware client is given
//! # let _ = sentinels;
//! let old = deployment.kill_primary()?;
//! let new = deployment.wait_for_failover()?; // the replica, promoted
//! assert_ne!(old, new);
//! assert_eq!(deployment.primary_port(), new);
//! # Ok::<(), async_breaker_testkit::DeployError>(())
//! ```

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::deploy::{info_field, query, url, wait_for, DeployError, Why, DEADLINE};
use crate::server::{RedisServer, Setup, DEFAULT_READY_TIMEOUT};
use crate::tool::{REDIS_SENTINEL, REDIS_SERVER};

/// The name the sentinels monitor the primary under (`sentinel monitor <name> ...`).
pub const SERVICE_NAME: &str = "testkit";

/// How many sentinels [`RedisSentinel::start`] runs; two of them must agree the primary is down.
pub const SENTINELS: usize = 3;

/// The sentinels' `down-after-milliseconds`: how long the primary goes unanswered before a
/// sentinel thinks it down. Short, for fast tests; long enough that a primary of a loaded
/// machine is not failed over by mistake.
pub const DOWN_AFTER: Duration = Duration::from_secs(2);

/// The sentinels' `failover-timeout`: a failover that stalls is abandoned after this long and
/// tried again after twice this long.
pub const FAILOVER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a sentinel here stays in TILT mode, instead of the default 30 s: after its timer
/// ran late (a starved process, on a loaded machine) a sentinel distrusts its clock and watches
/// without acting for this long. Set with `SENTINEL DEBUG TILT-PERIOD` where the server has it
/// (Redis 7, Valkey).
pub const TILT_PERIOD: Duration = Duration::from_secs(5);

/// A primary, a replica and [`SENTINELS`] sentinels on loopback, killed when dropped.
#[derive(Debug)]
pub struct RedisSentinel {
    /// The sentinels (dropped, so killed, first).
    sentinels: Vec<RedisServer>,
    /// The data nodes: the first primary, then the replica.
    nodes: Vec<RedisServer>,
    /// The index in `nodes` of the primary, as of the last failover.
    primary: usize,
}

impl RedisSentinel {
    /// Starts the deployment (see the [module](self) documentation).
    ///
    /// The sentinels run `redis-sentinel` (`$REDIS_SENTINEL`, else on `PATH`), else the server's
    /// binary with `--sentinel`: the same program.
    ///
    /// # Errors
    ///
    /// [`DeployError::NotInstalled`] without `redis-server` (or with `REDIS_SENTINEL` naming a
    /// missing file), [`DeployError::Server`] if a process does not start,
    /// [`DeployError::Timeout`] if the replica or the sentinels are not ready within
    /// [`DEADLINE`].
    pub fn start() -> Result<RedisSentinel, DeployError> {
        let server = REDIS_SERVER.find()?;
        let (sentinel, leading) = sentinel_binary(
            std::env::var_os(REDIS_SENTINEL.env),
            std::env::var_os("PATH").as_ref(),
            &server,
        )?;
        let mut deployment = RedisSentinel {
            sentinels: Vec::new(),
            nodes: Vec::new(),
            primary: 0,
        };
        let data_options = |more: &[String]| Setup {
            options: ["--repl-diskless-sync-delay", "0"]
                .iter()
                .map(OsString::from)
                .chain(more.iter().map(OsString::from))
                .collect(),
            ..Setup::default()
        };
        let primary =
            RedisServer::start_binary(server.clone(), data_options(&[]), DEFAULT_READY_TIMEOUT)?;
        let primary_port = primary.port();
        deployment.nodes.push(primary);
        let replicaof = [
            "--replicaof".to_owned(),
            "127.0.0.1".to_owned(),
            primary_port.to_string(),
        ];
        let replica =
            RedisServer::start_binary(server, data_options(&replicaof), DEFAULT_READY_TIMEOUT)?;
        let replica_port = replica.port();
        deployment.nodes.push(replica);
        deployment.wait("the replica to link to the primary", || {
            let info: String = query(replica_port, redis::cmd("INFO").arg("replication")).why()?;
            match info_field(&info, "master_link_status") {
                Some("up") => Ok(()),
                other => Err(format!("master_link_status {other:?}")),
            }
        })?;

        let config = format!(
            "sentinel monitor {SERVICE_NAME} 127.0.0.1 {primary_port} 2\n\
             sentinel down-after-milliseconds {SERVICE_NAME} {}\n\
             sentinel failover-timeout {SERVICE_NAME} {}\n\
             sentinel parallel-syncs {SERVICE_NAME} 1\n",
            DOWN_AFTER.as_millis(),
            FAILOVER_TIMEOUT.as_millis(),
        );
        for _ in 0..SENTINELS {
            let setup = Setup {
                config: Some(config.clone()),
                leading: leading.clone(),
                ..Setup::default()
            };
            let sentinel =
                RedisServer::start_binary(sentinel.clone(), setup, DEFAULT_READY_TIMEOUT)?;
            shorten_tilt(sentinel.port())?;
            deployment.sentinels.push(sentinel);
        }
        deployment.wait_until_ready()?;
        Ok(deployment)
    }

    /// The URL (`redis://127.0.0.1:<port>/`) of each sentinel.
    pub fn sentinel_urls(&self) -> Vec<String> {
        self.sentinels.iter().map(RedisServer::url).collect()
    }

    /// The name the sentinels know the primary by ([`SERVICE_NAME`]).
    pub fn service_name(&self) -> &str {
        SERVICE_NAME
    }

    /// The primary's port: the first primary's, and after
    /// [`wait_for_failover`](Self::wait_for_failover) the promoted replica's.
    pub fn primary_port(&self) -> u16 {
        self.nodes[self.primary].port()
    }

    /// The primary's URL (see [`primary_port`](Self::primary_port)).
    pub fn primary_url(&self) -> String {
        url(self.primary_port())
    }

    /// The ports of the running data nodes that are not the primary.
    pub fn replica_ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|&(i, node)| i != self.primary && node.pid().is_some())
            .map(|(_, node)| node.port())
            .collect()
    }

    /// Kills the primary with `SIGKILL`; returns its port. The sentinels promote the replica
    /// after about [`DOWN_AFTER`] and a few seconds:
    /// [`wait_for_failover`](Self::wait_for_failover).
    ///
    /// # Errors
    ///
    /// [`DeployError::Invalid`] if the primary was killed already.
    pub fn kill_primary(&mut self) -> Result<u16, DeployError> {
        let primary = &mut self.nodes[self.primary];
        if primary.pid().is_none() {
            return Err(DeployError::Invalid(format!(
                "the primary on port {} was killed already",
                primary.port()
            )));
        }
        primary.kill();
        Ok(primary.port())
    }

    /// Waits until every sentinel names another running data node as the primary
    /// (`SENTINEL GET-MASTER-ADDR-BY-NAME`) and that node reports `role:master`; returns its
    /// port, which [`primary_port`](Self::primary_port) reports from now on.
    ///
    /// # Errors
    ///
    /// [`DeployError::Timeout`] after [`DEADLINE`].
    pub fn wait_for_failover(&mut self) -> Result<u16, DeployError> {
        let old = self.primary_port();
        let what = format!("the sentinels to promote a replica of the primary on port {old}");
        let new = self.wait(what, || {
            let mut named = None;
            for sentinel in &self.sentinels {
                let (_, port): (String, u16) = query(
                    sentinel.port(),
                    redis::cmd("SENTINEL")
                        .arg("GET-MASTER-ADDR-BY-NAME")
                        .arg(SERVICE_NAME),
                )
                .why()?;
                match named {
                    None => named = Some(port),
                    Some(first) if first != port => {
                        return Err(format!("sentinels disagree: port {first} or port {port}"))
                    }
                    Some(_) => {}
                }
            }
            let port = named.ok_or("no sentinel")?;
            let index = self
                .nodes
                .iter()
                .position(|n| n.port() == port && n.pid().is_some() && port != old)
                .ok_or_else(|| format!("the sentinels still name port {port}"))?;
            let info: String = query(port, redis::cmd("INFO").arg("replication")).why()?;
            match info_field(&info, "role") {
                Some("master") => Ok(index),
                other => Err(format!("port {port} has role {other:?}")),
            }
        })?;
        self.primary = new;
        Ok(self.primary_port())
    }

    /// [`wait_for`] with [`DEADLINE`]; a timeout carries the end of every process' log.
    fn wait<T>(
        &self,
        what: impl std::fmt::Display,
        probe: impl FnMut() -> Result<T, String>,
    ) -> Result<T, DeployError> {
        wait_for(what, DEADLINE, probe)
            .map_err(|err| err.with_logs(self.nodes.iter().chain(&self.sentinels)))
    }

    /// Every sentinel sees the primary up (no `s_down`, `o_down` or failover flag), the
    /// replica linked, and the other sentinels.
    fn wait_until_ready(&self) -> Result<(), DeployError> {
        let primary = self.primary_port();
        let replicas = self.nodes.len() - 1;
        let others = (SENTINELS - 1).to_string();
        self.wait("the sentinels to discover the deployment", || {
            for sentinel in &self.sentinels {
                let port = sentinel.port();
                let info: String = query(port, redis::cmd("INFO").arg("sentinel")).why()?;
                if info_field(&info, "sentinel_tilt") != Some("0") {
                    return Err(format!("sentinel on port {port} is in TILT mode"));
                }
                let master: HashMap<String, String> =
                    query(port, redis::cmd("SENTINEL").arg("MASTER").arg(SERVICE_NAME)).why()?;
                let field = |name: &str| master.get(name).map_or("", String::as_str);
                let wanted = [
                    ("port", primary.to_string()),
                    ("flags", "master".to_owned()),
                    ("num-slaves", replicas.to_string()),
                    ("num-other-sentinels", others.clone()),
                ];
                for (name, value) in &wanted {
                    if field(name) != value {
                        return Err(format!(
                            "sentinel on port {port}: {name} is {:?}, not {value:?}",
                            field(name)
                        ));
                    }
                }
                let known: Vec<HashMap<String, String>> = query(
                    port,
                    redis::cmd("SENTINEL").arg("REPLICAS").arg(SERVICE_NAME),
                )
                .why()?;
                for replica in &known {
                    let flags = replica.get("flags").map_or("", String::as_str);
                    let link = replica.get("master-link-status").map_or("", String::as_str);
                    if flags != "slave" || link != "ok" {
                        return Err(format!(
                            "sentinel on port {port}: a replica has flags {flags:?}, link {link:?}"
                        ));
                    }
                }
            }
            Ok(())
        })
    }
}

/// Sets the sentinel's [`TILT_PERIOD`]: a test machine's load is no clock jump. A server
/// without `SENTINEL DEBUG` (older than Redis 7) keeps its default.
fn shorten_tilt(port: u16) -> Result<(), DeployError> {
    let set = query::<()>(
        port,
        redis::cmd("SENTINEL")
            .arg("DEBUG")
            .arg("TILT-PERIOD")
            .arg(TILT_PERIOD.as_millis().to_string()),
    );
    match set {
        Err(DeployError::Redis { source, .. }) if source.kind() != redis::ErrorKind::Io => Ok(()),
        other => other,
    }
}

/// The sentinel's binary, and the arguments that make it a sentinel: `$REDIS_SENTINEL`
/// (`env`), else `redis-sentinel` on `PATH` (`path`), else `server` with `--sentinel`.
fn sentinel_binary(
    env: Option<OsString>,
    path: Option<&OsString>,
    server: &Path,
) -> Result<(PathBuf, Vec<OsString>), DeployError> {
    let env_set = env.as_ref().is_some_and(|e| !e.is_empty());
    match REDIS_SENTINEL.find_in(env, path) {
        Ok(binary) => Ok((binary, Vec::new())),
        Err(missing) if env_set => Err(REDIS_SENTINEL.not_installed(missing)),
        Err(_) => Ok((server.to_path_buf(), vec![OsString::from("--sentinel")])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sentinel_binary_is_the_variable_else_on_path_else_the_server_in_sentinel_mode() {
        let server = Path::new("/usr/bin/redis-server");
        let nowhere = OsString::from("/nonexistent-dir");

        let (binary, leading) = sentinel_binary(None, Some(&nowhere), server).expect("fallback");
        assert_eq!(binary, server);
        assert_eq!(leading, vec![OsString::from("--sentinel")]);

        let missing = sentinel_binary(Some("/nonexistent/redis-sentinel".into()), None, server)
            .expect_err("a variable naming a missing file is an error");
        let message = missing.to_string();
        assert!(
            message.contains("apt-get install -y redis-sentinel"),
            "{message}"
        );
        assert!(message.contains("/nonexistent/redis-sentinel"), "{message}");

        let dir = crate::server::scratch_dir("sentinel-test").expect("a directory");
        std::fs::write(dir.join("redis-sentinel"), "").expect("a file");
        let path = OsString::from(&dir);
        let (binary, leading) = sentinel_binary(None, Some(&path), server).expect("on PATH");
        assert_eq!(binary, dir.join("redis-sentinel"));
        assert!(leading.is_empty());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
