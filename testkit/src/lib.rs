//! Test support for the async-breaker workspace (not published): throwaway Redis deployments
//! on loopback for tests, benches and examples.
//!
//! - [`RedisServer`]: one `redis-server`, with the faults a client must survive (kill, restart
//!   empty on the same port, pause and resume).
//! - [`RedisCluster`]: a Redis Cluster (three primaries with a replica each, by default), with
//!   primary failover and slot migration.
//! - [`RedisSentinel`]: a primary, a replica and three sentinels, with sentinel failover.
//!
//! Every process runs on free loopback ports with persistence off and its files in a temporary
//! directory of its own; every wait has a deadline; dropping a launcher kills what it started.
//! A missing binary is an error naming the Debian package to install (`redis-server`,
//! `redis-tools` for `redis-cli`, `redis-sentinel`), never a hang. `bash .ci/fleet.sh install`
//! installs them all.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms, unreachable_pub)]

pub mod cluster;
mod deploy;
pub mod sentinel;
pub mod server;
mod tool;

pub use cluster::{key_slot, ClusterNode, RedisCluster};
pub use deploy::{DeployError, CLI_ENV, DEADLINE, SENTINEL_ENV};
pub use sentinel::RedisSentinel;
pub use server::{RedisServer, ServerError};
