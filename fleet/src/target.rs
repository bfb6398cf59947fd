//! Where the fleet's state lives: one server, a Redis Cluster, or a primary that Sentinels
//! name. Each gives the agent a command connection and the subscriber a channel connection,
//! every one of them opened, read and written with the fleet's timeout.

use std::time::Duration;

use redis::cluster::{ClusterClient, ClusterConnection};
use redis::{Client, ConnectionAddr, ConnectionLike, RedisConnectionInfo};

use crate::FleetError;

/// The deployment the builder was given, before it is checked.
#[derive(Debug, Clone)]
pub(crate) enum Spec {
    Node(String),
    Cluster(Vec<String>),
    Sentinel {
        sentinels: Vec<String>,
        service: String,
        primary: RedisConnectionInfo,
    },
}

impl Spec {
    /// Parses every URL (and a Cluster's shared credentials) without connecting.
    pub(crate) fn resolve(&self, timeout: Duration) -> Result<Target, FleetError> {
        match self {
            Spec::Node(url) => Ok(Target::Node(
                Client::open(url.as_str()).map_err(FleetError::Url)?,
            )),
            Spec::Cluster(urls) => {
                if urls.is_empty() {
                    return Err(FleetError::NoServers("cluster"));
                }
                let nodes = urls
                    .iter()
                    .map(|u| Client::open(u.as_str()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(FleetError::Url)?;
                let client = ClusterClient::builder(urls.iter().map(String::as_str))
                    .connection_timeout(timeout)
                    .response_timeout(timeout)
                    // A redirection (MOVED, ASK) is followed within one operation; a node
                    // that does not answer fails the operation instead of stalling the agent:
                    // the next attempt reads the slots afresh.
                    .retries(2)
                    .min_retry_wait(5)
                    .max_retry_wait(50)
                    .build()
                    .map_err(FleetError::Url)?;
                Ok(Target::Cluster { client, nodes })
            }
            Spec::Sentinel {
                sentinels,
                service,
                primary,
            } => {
                if sentinels.is_empty() {
                    return Err(FleetError::NoServers("sentinel"));
                }
                if service.is_empty() || service.len() > 128 {
                    return Err(FleetError::Service(service.clone()));
                }
                let sentinels = sentinels
                    .iter()
                    .map(|u| Client::open(u.as_str()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(FleetError::Url)?;
                Ok(Target::Sentinel {
                    sentinels,
                    service: service.clone(),
                    primary: primary.clone(),
                })
            }
        }
    }
}

/// A checked deployment, ready to connect.
pub(crate) enum Target {
    Node(Client),
    Cluster {
        client: ClusterClient,
        /// Every seed node, for the subscriber: a message published on any node of a Cluster
        /// reaches the subscribers of every node.
        nodes: Vec<Client>,
    },
    Sentinel {
        sentinels: Vec<Client>,
        service: String,
        primary: RedisConnectionInfo,
    },
}

/// The agent's command connection.
pub(crate) enum Con {
    Node(redis::Connection),
    Cluster(Box<ClusterConnection>),
}

impl Con {
    pub(crate) fn as_dyn(&mut self) -> &mut dyn ConnectionLike {
        match self {
            Con::Node(con) => con,
            Con::Cluster(con) => &mut **con,
        }
    }
}

impl Target {
    /// The connection scripts run on. For a Cluster, one connection per node as needed, which
    /// follows redirections; for Sentinel, the primary the first answering sentinel names.
    pub(crate) fn command(&self, timeout: Duration) -> redis::RedisResult<Con> {
        match self {
            Target::Node(client) => connect(client, timeout).map(Con::Node),
            Target::Cluster { client, .. } => {
                let con = client.get_connection()?;
                con.set_read_timeout(Some(timeout))?;
                con.set_write_timeout(Some(timeout))?;
                Ok(Con::Cluster(Box::new(con)))
            }
            Target::Sentinel { .. } => self.primary(timeout).map(Con::Node),
        }
    }

    /// A connection to subscribe on; `attempt` counts the subscriber's consecutive failures,
    /// so that a Cluster's subscriber moves on to the next node when one is gone.
    pub(crate) fn channel(
        &self,
        timeout: Duration,
        attempt: usize,
    ) -> redis::RedisResult<redis::Connection> {
        match self {
            Target::Node(client) => connect(client, timeout),
            Target::Cluster { nodes, .. } => {
                let mut last = None;
                for i in 0..nodes.len() {
                    match connect(&nodes[(attempt + i) % nodes.len()], timeout) {
                        Ok(con) => return Ok(con),
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.unwrap_or_else(|| no_node("no cluster node")))
            }
            Target::Sentinel { .. } => self.primary(timeout),
        }
    }

    /// Asks each sentinel in turn for the service's primary, then checks that the node it
    /// names is a primary indeed (a sentinel may not have seen a failover yet). Every step
    /// has the fleet's timeout: a sentinel or node that does not answer is skipped.
    fn primary(&self, timeout: Duration) -> redis::RedisResult<redis::Connection> {
        let Target::Sentinel {
            sentinels,
            service,
            primary,
        } = self
        else {
            return Err(no_node("not a sentinel deployment"));
        };
        let mut last = None;
        for sentinel in sentinels {
            let addr = connect(sentinel, timeout).and_then(|mut con| {
                redis::cmd("SENTINEL")
                    .arg("GET-MASTER-ADDR-BY-NAME")
                    .arg(service)
                    .query::<Option<(String, u16)>>(&mut con)
            });
            let (host, port) = match addr {
                Ok(Some(addr)) => addr,
                Ok(None) => {
                    last = Some(no_node("the sentinel does not know the service"));
                    continue;
                }
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            let base = sentinel.get_connection_info();
            let info = base
                .clone()
                .set_addr(tls_like(base.addr(), host, port))
                .set_redis_settings(primary.clone());
            let client = Client::open(info)?;
            match connect(&client, timeout).and_then(|mut con| {
                let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut con)?;
                match role.first() {
                    Some(redis::Value::BulkString(r)) if r.as_slice() == b"master" => Ok(con),
                    _ => Err(no_node("the node a sentinel named is not a primary (yet)")),
                }
            }) {
                Ok(con) => return Ok(con),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| no_node("no sentinel")))
    }
}

/// The primary's address, with TLS when the sentinels are reached over TLS.
fn tls_like(sentinel: &ConnectionAddr, host: String, port: u16) -> ConnectionAddr {
    match sentinel {
        ConnectionAddr::TcpTls {
            insecure,
            tls_params,
            ..
        } => ConnectionAddr::TcpTls {
            host,
            port,
            insecure: *insecure,
            tls_params: tls_params.clone(),
        },
        _ => ConnectionAddr::Tcp(host, port),
    }
}

fn no_node(why: &'static str) -> redis::RedisError {
    redis::RedisError::from((redis::ErrorKind::Io, why))
}

/// Opens a connection whose every read and write times out after `timeout`.
pub(crate) fn connect(client: &Client, timeout: Duration) -> redis::RedisResult<redis::Connection> {
    let con = client.get_connection_with_timeout(timeout)?;
    con.set_read_timeout(Some(timeout))?;
    con.set_write_timeout(Some(timeout))?;
    Ok(con)
}
