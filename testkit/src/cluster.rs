//! A throwaway Redis Cluster on loopback, and the faults a cluster client must survive.
//!
//! [`RedisCluster::start`] runs six `redis-server` processes in cluster mode (persistence off,
//! each on free loopback ports in a temporary directory of its own), joins them with
//! `redis-cli --cluster create` as three primaries with one replica each, and returns once every
//! node reports `cluster_state:ok`, every node sees the same owner for every slot, and every
//! replica is linked to its primary. Dropping the [`RedisCluster`] kills every node.
//!
//! The faults: [`kill_primary`](RedisCluster::kill_primary) then
//! [`wait_for_failover`](RedisCluster::wait_for_failover) (a replica takes over),
//! [`restart_node`](RedisCluster::restart_node) (a killed node rejoins), and
//! [`migrate_slot`](RedisCluster::migrate_slot) / [`reshard`](RedisCluster::reshard) (slots and
//! their keys move to another primary while clients use them).
//!
//! ```no_run
//! use async_breaker_testkit::cluster::{key_slot, RedisCluster};
//!
//! let mut cluster = RedisCluster::start()?;
//! let seeds = cluster.urls(); // redis://127.0.0.1:<port>/ of every node
//! # let _ = seeds;
//! let key = "shop:{shop:payments}:state";
//! let owner = cluster.primary_for_key(key)?;
//! let other = cluster.primaries()?.into_iter().find(|p| p.id != owner.id).unwrap();
//! cluster.migrate_slot(key_slot(key.as_bytes()), other.port)?; // the key moves too
//! let killed = cluster.kill_primary(other.port)?;
//! let heir = cluster.wait_for_failover(&killed)?; // its replica, promoted
//! assert!(heir.serves(key_slot(key.as_bytes())));
//! # Ok::<(), async_breaker_testkit::DeployError>(())
//! ```

use std::ffi::OsString;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::deploy::{info_field, query, url, wait_for, Conn, DeployError, Why, DEADLINE};
use crate::server::{scratch_dir, RedisServer, Setup, DEFAULT_READY_TIMEOUT};
use crate::tool::{self, REDIS_CLI, REDIS_SERVER};

/// The number of hash slots of a Redis Cluster.
pub const SLOTS: u16 = 16_384;

/// Primaries of [`RedisCluster::start`] (the fewest `redis-cli --cluster create` accepts).
pub const DEFAULT_PRIMARIES: usize = 3;

/// Replicas of each primary with [`RedisCluster::start`].
pub const DEFAULT_REPLICAS_PER_PRIMARY: usize = 1;

/// Every node's `cluster-node-timeout`: how long a node goes unanswered before it is suspected
/// failing, so most of a failover's time. Short, for fast tests; long enough that a node of a
/// loaded machine is not failed over by mistake.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long one `MIGRATE` of a batch of keys may take.
const MIGRATE_TIMEOUT_MS: u64 = 10_000;

/// The hash slot of `key`, as Redis Cluster computes it: CRC16 (XMODEM) of the key, or of its
/// hash tag (the bytes between the first `{` and the next `}`, when not empty), modulo 16384.
///
/// ```
/// use async_breaker_testkit::cluster::key_slot;
///
/// assert_eq!(key_slot(b"foo"), 12182);
/// // The fleet's keys of one breaker share the slot of their hash tag.
/// assert_eq!(key_slot(b"shop:{payments}:state"), key_slot(b"payments"));
/// assert_eq!(key_slot(b"shop:{payments}:lease"), key_slot(b"payments"));
/// ```
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(key);
    crc16(hashed) % SLOTS
}

/// CRC-16/XMODEM (polynomial 0x1021, initial value 0), the checksum of Redis Cluster.
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 == 0 {
                crc << 1
            } else {
                (crc << 1) ^ 0x1021
            };
        }
    }
    crc
}

/// One node of a [`RedisCluster`], as the cluster sees it (`CLUSTER NODES`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterNode {
    /// The node id (40 hex digits).
    pub id: String,
    /// Its loopback port.
    pub port: u16,
    /// For a replica, its primary's id; `None` for a primary.
    pub primary_id: Option<String>,
    /// The slots it serves, in ranges (empty for a replica).
    pub slots: Vec<RangeInclusive<u16>>,
}

impl ClusterNode {
    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        url(self.port)
    }

    /// Whether it is a primary.
    pub fn is_primary(&self) -> bool {
        self.primary_id.is_none()
    }

    /// Whether it serves `slot`.
    pub fn serves(&self, slot: u16) -> bool {
        self.slots.iter().any(|range| range.contains(&slot))
    }

    /// How many slots it serves.
    pub fn slot_count(&self) -> usize {
        self.slots.iter().map(|range| range.clone().count()).sum()
    }
}

/// One line of `CLUSTER NODES`.
#[derive(Debug)]
struct Entry {
    node: ClusterNode,
    flags: Vec<String>,
}

impl Entry {
    fn myself(&self) -> bool {
        self.flags.iter().any(|f| f == "myself")
    }

    /// A flag that says the node is not (yet, or any more) a healthy member.
    fn unhealthy_flag(&self) -> Option<&str> {
        self.flags
            .iter()
            .map(String::as_str)
            .find(|f| matches!(*f, "fail" | "fail?" | "handshake" | "noaddr"))
    }
}

/// Parses a `CLUSTER NODES` reply: `<id> <ip:port@bus[,hostname]> <flags> <primary|-> <ping>
/// <pong> <epoch> <link> <slot or range>...`. Slots being migrated (`[slot->-id]`,
/// `[slot-<-id]`) are not ownership and are skipped.
fn parse_nodes(text: &str) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let bad = || format!("malformed CLUSTER NODES line {line:?}");
        if fields.len() < 8 {
            return Err(bad());
        }
        let address = fields[1].split(['@', ',']).next().ok_or_else(bad)?;
        let port = address
            .rsplit(':')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(bad)?;
        let mut slots = Vec::new();
        for field in fields[8..].iter().filter(|f| !f.starts_with('[')) {
            let (start, end) = field.split_once('-').unwrap_or((field, field));
            let (Ok(start), Ok(end)) = (start.parse::<u16>(), end.parse::<u16>()) else {
                return Err(bad());
            };
            slots.push(start..=end);
        }
        entries.push(Entry {
            node: ClusterNode {
                id: fields[0].to_owned(),
                port,
                primary_id: (fields[3] != "-").then(|| fields[3].to_owned()),
                slots,
            },
            flags: fields[2].split(',').map(str::to_owned).collect(),
        });
    }
    Ok(entries)
}

/// A Redis Cluster of `redis-server` processes on loopback, killed when dropped.
#[derive(Debug)]
pub struct RedisCluster {
    /// Every node, in start order (killed ones too: they can be restarted).
    nodes: Vec<RedisServer>,
    /// `redis-cli`'s output.
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts [`DEFAULT_PRIMARIES`] primaries with [`DEFAULT_REPLICAS_PER_PRIMARY`] replica
    /// each and waits until the cluster is formed (see the [module](self) documentation).
    ///
    /// # Errors
    ///
    /// [`DeployError::NotInstalled`] without `redis-server` or `redis-cli` (the message names
    /// the Debian package), [`DeployError::Command`] if `redis-cli --cluster create` fails,
    /// [`DeployError::Timeout`] if the cluster does not form within [`DEADLINE`].
    pub fn start() -> Result<RedisCluster, DeployError> {
        RedisCluster::start_with(DEFAULT_PRIMARIES, DEFAULT_REPLICAS_PER_PRIMARY)
    }

    /// Like [`start`](Self::start), with `primaries` primaries (at least 3) and
    /// `replicas_per_primary` replicas of each.
    ///
    /// # Errors
    ///
    /// As for [`start`](Self::start); [`DeployError::Invalid`] for fewer than 3 primaries.
    pub fn start_with(
        primaries: usize,
        replicas_per_primary: usize,
    ) -> Result<RedisCluster, DeployError> {
        if primaries < 3 {
            return Err(DeployError::Invalid(format!(
                "a Redis Cluster needs at least 3 primaries, not {primaries}"
            )));
        }
        let server = REDIS_SERVER.find()?;
        let cli = REDIS_CLI.find()?;
        let dir = scratch_dir("cluster").map_err(|source| DeployError::Io {
            action: "create the cluster's temporary directory".into(),
            source,
        })?;
        // Built first, so whatever started is killed if a later step fails.
        let mut cluster = RedisCluster {
            nodes: Vec::new(),
            dir,
        };
        let node_timeout = NODE_TIMEOUT.as_millis().to_string();
        let options: Vec<OsString> = [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            &node_timeout,
            "--cluster-announce-ip",
            "127.0.0.1",
            // A replica takes over however long it was cut off from its primary.
            "--cluster-replica-validity-factor",
            "0",
            // The topology changes only when a test changes it.
            "--cluster-allow-replica-migration",
            "no",
            "--repl-diskless-sync-delay",
            "0",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        for _ in 0..primaries * (1 + replicas_per_primary) {
            let setup = Setup {
                options: options.clone(),
                cluster_bus: true,
                ..Setup::default()
            };
            let node = RedisServer::start_binary(server.clone(), setup, DEFAULT_READY_TIMEOUT)?;
            cluster.nodes.push(node);
        }
        let mut args = vec!["--cluster".to_owned(), "create".to_owned()];
        args.extend(
            cluster
                .nodes
                .iter()
                .map(|n| format!("127.0.0.1:{}", n.port())),
        );
        args.extend([
            "--cluster-replicas".to_owned(),
            replicas_per_primary.to_string(),
            "--cluster-yes".to_owned(),
        ]);
        let output = cluster.dir.join("create.log");
        tool::run(REDIS_CLI, &cli, &args, &output, DEADLINE)?;
        cluster.wait_until_ok()?;
        Ok(cluster)
    }

    /// The URL (`redis://127.0.0.1:<port>/`) of every running node, in start order: the seeds
    /// of a cluster client.
    pub fn urls(&self) -> Vec<String> {
        self.running_ports().into_iter().map(url).collect()
    }

    /// The port of every running node, in start order.
    pub fn ports(&self) -> Vec<u16> {
        self.running_ports()
    }

    /// Every running node, by port, as the first running node sees the cluster now. After
    /// [`start`](Self::start), [`wait_until_ok`](Self::wait_until_ok) and the other waits,
    /// every node sees the same.
    ///
    /// # Errors
    ///
    /// [`DeployError::Redis`] if that node does not answer; [`DeployError::Invalid`] if no node
    /// runs.
    pub fn nodes(&self) -> Result<Vec<ClusterNode>, DeployError> {
        let ports = self.running_ports();
        let Some(&first) = ports.first() else {
            return Err(DeployError::Invalid(
                "no node of the cluster is running".into(),
            ));
        };
        let text: String = query(first, redis::cmd("CLUSTER").arg("NODES"))?;
        let entries = parse_nodes(&text).map_err(DeployError::Invalid)?;
        Ok(running_view(entries, &ports))
    }

    /// The running primaries, by port (see [`nodes`](Self::nodes)).
    ///
    /// # Errors
    ///
    /// As for [`nodes`](Self::nodes).
    pub fn primaries(&self) -> Result<Vec<ClusterNode>, DeployError> {
        Ok(self
            .nodes()?
            .into_iter()
            .filter(ClusterNode::is_primary)
            .collect())
    }

    /// The running replicas, by port (see [`nodes`](Self::nodes)).
    ///
    /// # Errors
    ///
    /// As for [`nodes`](Self::nodes).
    pub fn replicas(&self) -> Result<Vec<ClusterNode>, DeployError> {
        Ok(self
            .nodes()?
            .into_iter()
            .filter(|n| !n.is_primary())
            .collect())
    }

    /// The primary serving `slot`.
    ///
    /// # Errors
    ///
    /// As for [`nodes`](Self::nodes); [`DeployError::Invalid`] if no running primary serves it
    /// (its primary was killed and not replaced yet, or `slot` is not below [`SLOTS`]).
    pub fn primary_for_slot(&self, slot: u16) -> Result<ClusterNode, DeployError> {
        self.nodes()?
            .into_iter()
            .find(|n| n.serves(slot))
            .ok_or_else(|| DeployError::Invalid(format!("no running primary serves slot {slot}")))
    }

    /// The primary serving `key` (its slot: [`key_slot`]).
    ///
    /// # Errors
    ///
    /// As for [`primary_for_slot`](Self::primary_for_slot).
    pub fn primary_for_key(&self, key: &str) -> Result<ClusterNode, DeployError> {
        self.primary_for_slot(key_slot(key.as_bytes()))
    }

    /// Waits until the cluster is healthy and settled: every running node reports
    /// `cluster_state:ok`, knows every other running node as healthy, and sees the same
    /// primaries, replicas and slot owners; running primaries own every slot; every replica's
    /// link to its primary is up. Returns that view, by port.
    ///
    /// # Errors
    ///
    /// [`DeployError::Timeout`] after [`DEADLINE`], with the last reason it was not settled.
    pub fn wait_until_ok(&self) -> Result<Vec<ClusterNode>, DeployError> {
        self.wait("the cluster to settle", || self.settled())
    }

    /// Kills the primary on `port` with `SIGKILL` (its replicas take over after about
    /// [`NODE_TIMEOUT`] and a few seconds: [`wait_for_failover`](Self::wait_for_failover)).
    /// Returns it as it was.
    ///
    /// # Errors
    ///
    /// [`DeployError::Invalid`] if no running primary serving slots listens on `port`; as for
    /// [`nodes`](Self::nodes).
    pub fn kill_primary(&mut self, port: u16) -> Result<ClusterNode, DeployError> {
        let node = self
            .nodes()?
            .into_iter()
            .find(|n| n.port == port)
            .ok_or_else(|| DeployError::Invalid(format!("no running node on port {port}")))?;
        if !node.is_primary() || node.slots.is_empty() {
            return Err(DeployError::Invalid(format!(
                "the node on port {port} is not a primary serving slots: {node:?}"
            )));
        }
        self.server_mut(port)?.kill();
        Ok(node)
    }

    /// Waits until a replica of `failed` (killed with [`kill_primary`](Self::kill_primary))
    /// serves all its slots and the cluster settled ([`wait_until_ok`](Self::wait_until_ok));
    /// returns that new primary.
    ///
    /// # Errors
    ///
    /// [`DeployError::Timeout`] after [`DEADLINE`] (`failed` had no replica, say);
    /// [`DeployError::Invalid`] if `failed` served no slots.
    pub fn wait_for_failover(&self, failed: &ClusterNode) -> Result<ClusterNode, DeployError> {
        let Some(first) = failed.slots.first().map(|range| *range.start()) else {
            return Err(DeployError::Invalid(format!(
                "{failed:?} served no slots: nothing to fail over"
            )));
        };
        let what = format!(
            "a replica to take over the slots of the primary that was on port {}",
            failed.port
        );
        self.wait(what, || {
            let nodes = self.settled()?;
            let heir = nodes
                .into_iter()
                .find(|n| n.serves(first))
                .ok_or_else(|| format!("nobody serves slot {first}"))?;
            if heir.id == failed.id {
                return Err(format!("port {} still serves slot {first}", heir.port));
            }
            let all = failed
                .slots
                .iter()
                .all(|range| range.clone().all(|slot| heir.serves(slot)));
            if all {
                Ok(heir)
            } else {
                Err(format!("port {} serves only some of the slots", heir.port))
            }
        })
    }

    /// Starts the node on `port` again (killed, or running: then it is killed first) with its
    /// cluster configuration but no data, and waits until the cluster settled with it. A primary
    /// whose slots were taken over rejoins as a replica of the node that took them.
    ///
    /// # Errors
    ///
    /// [`DeployError::Invalid`] if no node of the cluster had `port`; [`DeployError::Server`]
    /// if it does not start; [`DeployError::Timeout`] if the cluster does not settle.
    pub fn restart_node(&mut self, port: u16) -> Result<ClusterNode, DeployError> {
        self.server_mut(port)?.restart()?;
        let nodes = self.wait(
            format!("the node restarted on port {port} to rejoin"),
            || self.settled(),
        )?;
        nodes
            .into_iter()
            .find(|n| n.port == port)
            .ok_or_else(|| DeployError::Invalid(format!("port {port} is not in the cluster")))
    }

    /// Moves `slot`, with its keys, to the primary on `to_port` (`CLUSTER SETSLOT` `IMPORTING`
    /// and `MIGRATING`, `MIGRATE` of every key, `SETSLOT ... NODE` on every primary) and waits
    /// until every node sees it there. Clients using the slot meanwhile get `ASK` or `TRYAGAIN`
    /// replies while its keys are split between the two primaries, then `MOVED`. Does nothing
    /// if `to_port` already serves it.
    ///
    /// # Errors
    ///
    /// [`DeployError::Invalid`] if `slot` is not below [`SLOTS`] or `to_port` is not a running
    /// primary; [`DeployError::Redis`] if a step fails; [`DeployError::Timeout`] if the cluster
    /// does not settle with the slot moved.
    pub fn migrate_slot(&self, slot: u16, to_port: u16) -> Result<(), DeployError> {
        if slot >= SLOTS {
            return Err(DeployError::Invalid(format!(
                "slot {slot} is not below {SLOTS}"
            )));
        }
        let nodes = self.wait_until_ok()?;
        let to = primary_on(&nodes, to_port)?;
        let from = nodes
            .iter()
            .find(|n| n.serves(slot))
            .ok_or_else(|| DeployError::Invalid(format!("nobody serves slot {slot}")))?;
        if from.id == to.id {
            return Ok(());
        }
        self.move_slots(&nodes, &[slot], from, to)
    }

    /// Moves the first `count` slots of the primary on `from_port`, with their keys, to the
    /// primary on `to_port`, as [`migrate_slot`](Self::migrate_slot) does; returns the slots
    /// moved.
    ///
    /// # Errors
    ///
    /// [`DeployError::Invalid`] if either port is not a running primary, they are the same,
    /// or `from_port` serves fewer than `count` slots; otherwise as for
    /// [`migrate_slot`](Self::migrate_slot).
    pub fn reshard(
        &self,
        from_port: u16,
        to_port: u16,
        count: usize,
    ) -> Result<Vec<u16>, DeployError> {
        let nodes = self.wait_until_ok()?;
        let from = primary_on(&nodes, from_port)?;
        let to = primary_on(&nodes, to_port)?;
        if from.id == to.id {
            return Err(DeployError::Invalid(format!(
                "cannot reshard from port {from_port} to itself"
            )));
        }
        if from.slot_count() < count {
            return Err(DeployError::Invalid(format!(
                "port {from_port} serves {} slots, fewer than {count}",
                from.slot_count()
            )));
        }
        let slots: Vec<u16> = from
            .slots
            .iter()
            .flat_map(Clone::clone)
            .take(count)
            .collect();
        self.move_slots(&nodes, &slots, from, to)?;
        Ok(slots)
    }

    /// The migration steps of the Redis Cluster specification, slot by slot, then a wait until
    /// every node sees the slots on `to`.
    fn move_slots(
        &self,
        nodes: &[ClusterNode],
        slots: &[u16],
        from: &ClusterNode,
        to: &ClusterNode,
    ) -> Result<(), DeployError> {
        let mut source = Conn::open(from.port)?;
        let mut target = Conn::open(to.port)?;
        let mut others = nodes
            .iter()
            .filter(|n| n.is_primary() && n.id != from.id && n.id != to.id)
            .map(|n| Conn::open(n.port))
            .collect::<Result<Vec<_>, _>>()?;
        let setslot = |slot: u16, how: &str, id: &str| {
            let mut cmd = redis::cmd("CLUSTER");
            cmd.arg("SETSLOT").arg(slot).arg(how).arg(id);
            cmd
        };
        let started = Instant::now();
        for &slot in slots {
            target.run::<()>(&setslot(slot, "IMPORTING", &from.id))?;
            source.run::<()>(&setslot(slot, "MIGRATING", &to.id))?;
            // New keys of the slot are created on the target from now on: this ends.
            loop {
                let keys: Vec<Vec<u8>> = source.run(
                    redis::cmd("CLUSTER")
                        .arg("GETKEYSINSLOT")
                        .arg(slot)
                        .arg(100),
                )?;
                if keys.is_empty() {
                    break;
                }
                if started.elapsed() >= DEADLINE {
                    return Err(DeployError::Timeout {
                        what: format!("the keys of slot {slot} to move"),
                        waited: started.elapsed(),
                        last: format!("{} keys left to move", keys.len()),
                    });
                }
                source.run::<()>(
                    redis::cmd("MIGRATE")
                        .arg("127.0.0.1")
                        .arg(to.port)
                        .arg("")
                        .arg(0)
                        .arg(MIGRATE_TIMEOUT_MS)
                        .arg("REPLACE")
                        .arg("KEYS")
                        .arg(&keys),
                )?;
            }
            // The target first: it takes the slot with a new epoch that the others then follow.
            target.run::<()>(&setslot(slot, "NODE", &to.id))?;
            source.run::<()>(&setslot(slot, "NODE", &to.id))?;
            for other in &mut others {
                other.run::<()>(&setslot(slot, "NODE", &to.id))?;
            }
        }
        let what = format!(
            "every node to see {} slot(s) on port {}",
            slots.len(),
            to.port
        );
        self.wait(what, || {
            let nodes = self.settled()?;
            let owner = nodes.iter().find(|n| n.id == to.id).ok_or("target gone")?;
            match slots.iter().find(|&&slot| !owner.serves(slot)) {
                None => Ok(()),
                Some(slot) => Err(format!("slot {slot} is not on port {} yet", to.port)),
            }
        })
    }

    /// One check of [`wait_until_ok`](Self::wait_until_ok): the agreed view, or why not.
    fn settled(&self) -> Result<Vec<ClusterNode>, String> {
        let ports = self.running_ports();
        let mut agreed: Option<(u16, Vec<ClusterNode>)> = None;
        for &port in &ports {
            let mut con = Conn::open(port).why()?;
            let info: String = con.run(redis::cmd("CLUSTER").arg("INFO")).why()?;
            for (field, wanted) in [("cluster_state", "ok"), ("cluster_slots_ok", "16384")] {
                let seen = info_field(&info, field);
                if seen != Some(wanted) {
                    return Err(format!("port {port}: {field} is {seen:?}, not {wanted}"));
                }
            }
            let text: String = con.run(redis::cmd("CLUSTER").arg("NODES")).why()?;
            let entries = parse_nodes(&text)?;
            let me = entries
                .iter()
                .find(|e| e.myself())
                .ok_or_else(|| format!("port {port}: no `myself` in CLUSTER NODES"))?;
            if me.node.port != port {
                return Err(format!("port {port} calls itself port {}", me.node.port));
            }
            if me.node.primary_id.is_some() {
                let replication: String = con.run(redis::cmd("INFO").arg("replication")).why()?;
                let link = info_field(&replication, "master_link_status");
                if link != Some("up") {
                    return Err(format!(
                        "replica on port {port}: link to its primary {link:?}"
                    ));
                }
            }
            for &other in &ports {
                let entry = entries
                    .iter()
                    .find(|e| e.node.port == other)
                    .ok_or_else(|| format!("port {port} does not know port {other} yet"))?;
                if let Some(flag) = entry.unhealthy_flag() {
                    return Err(format!("port {port} flags port {other} `{flag}`"));
                }
            }
            let view = running_view(entries, &ports);
            let owned: usize = view.iter().map(ClusterNode::slot_count).sum();
            if owned != usize::from(SLOTS) {
                return Err(format!(
                    "port {port}: running primaries own {owned} slots, not {SLOTS}"
                ));
            }
            match &agreed {
                None => agreed = Some((port, view)),
                Some((first, seen)) if *seen != view => {
                    return Err(format!(
                        "port {port} sees {view:?}, port {first} sees {seen:?}"
                    ))
                }
                Some(_) => {}
            }
        }
        agreed
            .map(|(_, view)| view)
            .ok_or_else(|| "no node of the cluster is running".to_owned())
    }

    /// [`wait_for`] with [`DEADLINE`]; a timeout carries the end of every node's log.
    fn wait<T>(
        &self,
        what: impl std::fmt::Display,
        probe: impl FnMut() -> Result<T, String>,
    ) -> Result<T, DeployError> {
        wait_for(what, DEADLINE, probe).map_err(|err| err.with_logs(&self.nodes))
    }

    fn running_ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|n| n.pid().is_some())
            .map(RedisServer::port)
            .collect()
    }

    fn server_mut(&mut self, port: u16) -> Result<&mut RedisServer, DeployError> {
        self.nodes
            .iter_mut()
            .find(|n| n.port() == port)
            .ok_or_else(|| DeployError::Invalid(format!("no node of the cluster has port {port}")))
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.nodes.clear(); // kills every node
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The running nodes of a `CLUSTER NODES` view, by port.
fn running_view(entries: Vec<Entry>, running: &[u16]) -> Vec<ClusterNode> {
    let mut view: Vec<ClusterNode> = entries
        .into_iter()
        .map(|e| e.node)
        .filter(|n| running.contains(&n.port))
        .collect();
    view.sort_by_key(|n| n.port);
    view
}

fn primary_on(nodes: &[ClusterNode], port: u16) -> Result<&ClusterNode, DeployError> {
    nodes
        .iter()
        .find(|n| n.port == port && n.is_primary())
        .ok_or_else(|| DeployError::Invalid(format!("no running primary on port {port}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_is_xmodem() {
        // The check value of CRC-16/XMODEM.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b""), 0);
    }

    #[test]
    fn key_slots_follow_the_hash_tag_rules() {
        // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"somekey"), 11058);
        let tagged = key_slot(b"user1000");
        assert_eq!(key_slot(b"{user1000}.following"), tagged);
        assert_eq!(key_slot(b"{user1000}.followers"), tagged);
        // Only the first `{` and the next `}` count.
        assert_eq!(key_slot(b"foo{user1000}{bar}"), tagged);
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        // An empty tag, or none closed, hashes the whole key.
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") % SLOTS);
        assert_eq!(key_slot(b"foo{bar"), crc16(b"foo{bar") % SLOTS);
        assert!(key_slot(&[0xFF; 64]) < SLOTS);
    }

    #[test]
    fn cluster_nodes_lines_are_parsed_with_migrations_skipped() {
        let text = "\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,host slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 [5461-<-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003 master,fail? - 1426238318243 1426238317741 3 connected 5461 5462-10922 [10923->-e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca]
";
        let entries = parse_nodes(text).expect("well formed");
        assert_eq!(entries.len(), 3);
        let replica = &entries[0].node;
        assert_eq!(replica.port, 30004);
        assert_eq!(
            replica.primary_id.as_deref(),
            Some("e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca")
        );
        assert!(!replica.is_primary());
        assert!(replica.slots.is_empty());
        let me = &entries[1];
        assert!(me.myself());
        assert_eq!(me.unhealthy_flag(), None);
        assert_eq!(me.node.port, 30001);
        assert!(me.node.is_primary());
        assert_eq!(me.node.slots, vec![0..=5460]);
        assert_eq!(me.node.slot_count(), 5461);
        let other = &entries[2];
        assert_eq!(other.unhealthy_flag(), Some("fail?"));
        assert_eq!(other.node.slots, vec![5461..=5461, 5462..=10922]);
        assert!(other.node.serves(5461) && other.node.serves(10922));
        assert!(!other.node.serves(10923));
        assert_eq!(other.node.url(), "redis://127.0.0.1:30003/");

        assert!(parse_nodes("abc 127.0.0.1:1@2 master").is_err());
        assert!(parse_nodes("abc 127.0.0.1:x@2 master - 0 0 1 connected").is_err());
        assert!(parse_nodes("abc 127.0.0.1:1@2 master - 0 0 1 connected 5-x").is_err());
    }

    #[test]
    fn fewer_than_three_primaries_is_refused_before_anything_starts() {
        let err = RedisCluster::start_with(2, 1).expect_err("two primaries");
        assert!(matches!(err, DeployError::Invalid(_)), "{err:?}");
    }
}
