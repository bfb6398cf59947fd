//! The cluster launcher against real `redis-server` processes: formation, redirections, slot
//! migration with keys, failover and rejoin. Each test forms its own cluster (a few seconds).

use std::collections::HashSet;
use std::net::TcpStream;
use std::time::Instant;

use async_breaker_testkit::cluster::{key_slot, RedisCluster, SLOTS};
use async_breaker_testkit::{ClusterNode, DeployError};

fn start() -> RedisCluster {
    let started = Instant::now();
    let cluster = RedisCluster::start()
        .unwrap_or_else(|e| panic!("these tests need redis-server and redis-cli: {e}"));
    eprintln!("cluster formed in {:?}", started.elapsed());
    cluster
}

fn connect(node: &ClusterNode) -> redis::Connection {
    redis::Client::open(node.url())
        .expect("url")
        .get_connection()
        .unwrap_or_else(|e| panic!("connect to port {}: {e}", node.port))
}

fn get(node: &ClusterNode, key: &str) -> redis::RedisResult<Option<String>> {
    redis::cmd("GET").arg(key).query(&mut connect(node))
}

fn set(node: &ClusterNode, key: &str, value: &str) {
    redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query::<()>(&mut connect(node))
        .unwrap_or_else(|e| panic!("SET {key} on port {}: {e}", node.port));
}

/// `GET key` on `node` is redirected with `MOVED <slot> 127.0.0.1:<to>`.
fn assert_moved(node: &ClusterNode, key: &str, to: u16) {
    let err = get(node, key).expect_err("a node that does not serve the key redirects");
    let expected = format!("127.0.0.1:{to}");
    assert_eq!(
        err.redirect_node(),
        Some((expected.as_str(), key_slot(key.as_bytes()))),
        "{err}"
    );
}

fn owners(nodes: &[ClusterNode], slot: u16) -> usize {
    nodes.iter().filter(|n| n.serves(slot)).count()
}

#[test]
fn a_cluster_forms_redirects_and_moves_slots_with_their_keys() {
    let cluster = start();

    // Six nodes: three primaries splitting every slot, one replica of each.
    let urls = cluster.urls();
    assert_eq!(urls.len(), 6);
    assert_eq!(urls.iter().collect::<HashSet<_>>().len(), 6);
    assert!(urls.iter().all(|u| u.starts_with("redis://127.0.0.1:")));
    let nodes = cluster.nodes().expect("CLUSTER NODES");
    assert_eq!(nodes.len(), 6);
    let primaries = cluster.primaries().expect("primaries");
    let replicas = cluster.replicas().expect("replicas");
    assert_eq!((primaries.len(), replicas.len()), (3, 3));
    for primary in &primaries {
        let theirs = replicas
            .iter()
            .filter(|r| r.primary_id.as_deref() == Some(primary.id.as_str()))
            .count();
        assert_eq!(theirs, 1, "replicas of {primary:?}");
        assert!(primary.slot_count() > 0);
    }
    assert!((0..SLOTS).all(|slot| owners(&primaries, slot) == 1));
    assert_eq!(
        primaries.iter().map(ClusterNode::slot_count).sum::<usize>(),
        usize::from(SLOTS)
    );

    // The local hash slot is the server's, hash tags included.
    let keys = [
        "foo",
        "shop:{shop:payments}:state",
        "shop:{shop:payments}:lease",
        "{}",
        "a{b}c{d}",
    ];
    for key in keys {
        let server: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut connect(&primaries[0]))
            .expect("CLUSTER KEYSLOT");
        assert_eq!(key_slot(key.as_bytes()), server, "{key}");
    }

    // A breaker's keys live on the primary of their slot; the others redirect there.
    let (state, lease) = ("shop:{shop:payments}:state", "shop:{shop:payments}:lease");
    let slot = key_slot(state.as_bytes());
    let owner = cluster.primary_for_key(state).expect("owner");
    assert_eq!(cluster.primary_for_slot(slot).expect("owner"), owner);
    set(&owner, state, "open");
    set(&owner, lease, "replica-1");
    let other = primaries
        .iter()
        .find(|p| p.id != owner.id)
        .expect("another primary")
        .clone();
    assert_moved(&other, state, owner.port);

    // The slot moves to `other`, keys included; the old owner now redirects.
    let started = Instant::now();
    cluster.migrate_slot(slot, other.port).expect("migrate");
    eprintln!("slot migrated in {:?}", started.elapsed());
    assert_eq!(cluster.primary_for_key(state).expect("owner").id, other.id);
    assert_eq!(get(&other, state).expect("GET").as_deref(), Some("open"));
    assert_eq!(
        get(&other, lease).expect("GET").as_deref(),
        Some("replica-1")
    );
    assert_moved(&owner, state, other.port);
    let nodes = cluster.wait_until_ok().expect("settled");
    assert!(nodes.iter().any(|n| n.id == other.id && n.serves(slot)));
    assert!(nodes.iter().all(|n| n.id == other.id || !n.serves(slot)));
    // Moving it where it is changes nothing.
    cluster.migrate_slot(slot, other.port).expect("no-op");
    assert_eq!(cluster.primary_for_slot(slot).expect("owner").id, other.id);

    // Ten slots of `owner` move to `other`.
    let before = cluster.primaries().expect("primaries");
    let count = |nodes: &[ClusterNode], id: &str| {
        nodes
            .iter()
            .find(|n| n.id == id)
            .map_or(0, ClusterNode::slot_count)
    };
    let moved = cluster
        .reshard(owner.port, other.port, 10)
        .expect("reshard");
    assert_eq!(moved.len(), 10);
    let after = cluster.primaries().expect("primaries");
    assert_eq!(count(&after, &owner.id), count(&before, &owner.id) - 10);
    assert_eq!(count(&after, &other.id), count(&before, &other.id) + 10);
    assert!(moved
        .iter()
        .all(|&s| owners(&after, s) == 1 && after.iter().any(|n| n.id == other.id && n.serves(s))));

    // What cannot be done is refused.
    let replica = &cluster.replicas().expect("replicas")[0];
    for result in [
        cluster.migrate_slot(SLOTS, other.port),
        cluster.migrate_slot(slot, replica.port),
        cluster.reshard(owner.port, owner.port, 1).map(drop),
        cluster.reshard(owner.port, other.port, 20_000).map(drop),
    ] {
        assert!(matches!(result, Err(DeployError::Invalid(_))), "{result:?}");
    }

    // Dropping the cluster kills every node.
    let ports = cluster.ports();
    drop(cluster);
    for port in ports {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port} still answers"
        );
    }
}

#[test]
fn a_killed_primary_is_replaced_by_its_replica_and_rejoins_as_a_replica() {
    let mut cluster = start();
    let key = "shop:{shop:inventory}:state";
    let owner = cluster.primary_for_key(key).expect("owner");
    // The replica has the key before its primary dies (WAIT counts the acknowledgements of the
    // writes of its own connection).
    let mut con = connect(&owner);
    redis::cmd("SET")
        .arg(key)
        .arg("closed")
        .query::<()>(&mut con)
        .expect("SET");
    let acked: i64 = redis::cmd("WAIT")
        .arg(1)
        .arg(60_000)
        .query(&mut con)
        .expect("WAIT");
    assert_eq!(acked, 1);
    let replica = cluster
        .replicas()
        .expect("replicas")
        .into_iter()
        .find(|r| r.primary_id.as_deref() == Some(owner.id.as_str()))
        .expect("the owner's replica");

    let refused = cluster.kill_primary(replica.port);
    assert!(
        matches!(refused, Err(DeployError::Invalid(_))),
        "{refused:?}"
    );

    let started = Instant::now();
    let killed = cluster.kill_primary(owner.port).expect("kill");
    assert_eq!(killed, owner);
    assert!(!cluster.ports().contains(&owner.port));
    assert!(TcpStream::connect(("127.0.0.1", owner.port)).is_err());
    let heir = cluster.wait_for_failover(&killed).expect("failover");
    eprintln!("failover took {:?}", started.elapsed());
    assert_eq!(heir.id, replica.id);
    assert_eq!(heir.port, replica.port);
    assert!(heir.is_primary());
    assert!(killed
        .slots
        .iter()
        .flat_map(Clone::clone)
        .all(|s| heir.serves(s)));
    assert_eq!(cluster.primary_for_key(key).expect("owner").id, heir.id);
    assert_eq!(get(&heir, key).expect("GET").as_deref(), Some("closed"));
    assert_eq!(cluster.urls().len(), 5);

    // The old primary comes back empty and follows the node that took its slots.
    let started = Instant::now();
    let back = cluster.restart_node(owner.port).expect("restart");
    eprintln!("rejoined in {:?}", started.elapsed());
    assert_eq!(back.id, owner.id);
    assert_eq!(back.primary_id.as_deref(), Some(heir.id.as_str()));
    assert!(back.slots.is_empty());
    assert_eq!(cluster.urls().len(), 6);
    assert_eq!(cluster.primaries().expect("primaries").len(), 3);
}
