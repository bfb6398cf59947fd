//! The sentinel launcher against real `redis-server` and sentinel processes: discovery, then a
//! failover when the primary dies.

use std::collections::HashMap;
use std::net::TcpStream;
use std::time::Instant;

use async_breaker_testkit::sentinel::{SERVICE_NAME, TILT_PERIOD};
use async_breaker_testkit::{DeployError, RedisSentinel};

fn connect(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .expect("url")
        .get_connection()
        .unwrap_or_else(|e| panic!("connect to port {port}: {e}"))
}

fn role(port: u16) -> String {
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query(&mut connect(port))
        .expect("INFO");
    info.lines()
        .find_map(|l| l.trim_end().strip_prefix("role:"))
        .expect("a role")
        .to_owned()
}

/// The primary's port according to each sentinel.
fn named_primaries(deployment: &RedisSentinel) -> Vec<u16> {
    deployment
        .sentinel_urls()
        .iter()
        .map(|url| {
            let (host, port): (String, u16) = redis::cmd("SENTINEL")
                .arg("GET-MASTER-ADDR-BY-NAME")
                .arg(deployment.service_name())
                .query(
                    &mut redis::Client::open(url.as_str())
                        .expect("url")
                        .get_connection()
                        .expect("connect to a sentinel"),
                )
                .expect("GET-MASTER-ADDR-BY-NAME");
            assert_eq!(host, "127.0.0.1");
            port
        })
        .collect()
}

#[test]
fn the_sentinels_promote_the_replica_when_the_primary_dies() {
    let started = Instant::now();
    let mut deployment = RedisSentinel::start()
        .unwrap_or_else(|e| panic!("this test needs redis-server (and redis-sentinel): {e}"));
    eprintln!("sentinel deployment ready in {:?}", started.elapsed());

    assert_eq!(deployment.service_name(), SERVICE_NAME);
    assert_eq!(deployment.sentinel_urls().len(), 3);
    let old = deployment.primary_port();
    assert_eq!(
        deployment.primary_url(),
        format!("redis://127.0.0.1:{old}/")
    );
    assert_eq!(named_primaries(&deployment), vec![old; 3]);
    for url in deployment.sentinel_urls() {
        let mut sentinel = redis::Client::open(url.as_str())
            .expect("url")
            .get_connection()
            .expect("connect to a sentinel");
        let debug: HashMap<String, String> = redis::cmd("SENTINEL")
            .arg("DEBUG")
            .query(&mut sentinel)
            .expect("SENTINEL DEBUG (Redis 7)");
        assert_eq!(
            debug.get("TILT-PERIOD").map(String::as_str),
            Some(TILT_PERIOD.as_millis().to_string().as_str())
        );
    }
    assert_eq!(role(old), "master");
    let replicas = deployment.replica_ports();
    assert_eq!(replicas.len(), 1);
    let replica = replicas[0];
    assert_eq!(role(replica), "slave");

    let mut primary = connect(old);
    redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query::<()>(&mut primary)
        .expect("SET");
    let acked: i64 = redis::cmd("WAIT")
        .arg(1)
        .arg(60_000)
        .query(&mut primary)
        .expect("WAIT");
    assert_eq!(acked, 1);

    let started = Instant::now();
    assert_eq!(deployment.kill_primary().expect("kill"), old);
    assert!(TcpStream::connect(("127.0.0.1", old)).is_err());
    let again = deployment.kill_primary();
    assert!(matches!(again, Err(DeployError::Invalid(_))), "{again:?}");

    let new = deployment.wait_for_failover().expect("failover");
    eprintln!("sentinel failover took {:?}", started.elapsed());
    assert_eq!(new, replica);
    assert_eq!(deployment.primary_port(), new);
    assert_eq!(named_primaries(&deployment), vec![new; 3]);
    assert_eq!(role(new), "master");
    assert!(deployment.replica_ports().is_empty());
    let value: Option<String> = redis::cmd("GET")
        .arg("k")
        .query(&mut connect(new))
        .expect("GET");
    assert_eq!(value.as_deref(), Some("v"));
    redis::cmd("SET")
        .arg("k")
        .arg("written after the failover")
        .query::<()>(&mut connect(new))
        .expect("the new primary takes writes");

    let ports: Vec<u16> = deployment
        .sentinel_urls()
        .iter()
        .map(|u| {
            u.trim_start_matches("redis://127.0.0.1:")
                .trim_end_matches('/')
                .parse()
                .expect("a port")
        })
        .chain([new])
        .collect();
    drop(deployment);
    for port in ports {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port} still answers"
        );
    }
}
