//! Shared support for the multi-process fleet tests: the dependency, the replica processes,
//! the rig (one server, a Cluster or Sentinel), phases the deployment tests share, a raw RESP
//! client for poking the server, and statistics.
#![allow(dead_code)]

pub mod dependency;
pub mod path;
pub mod phases;
pub mod replicas;
pub mod resp;
pub mod rig;
pub mod stats;

use std::sync::{Mutex, MutexGuard};

/// Serialises the multi-process tests of one test binary: each starts a server and several
/// processes, and a 2-core machine runs them more reliably one at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

use std::time::{Duration, Instant};

/// Every wait in these tests is for a condition; this only bounds how long a broken build
/// can hang.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Polls `done` every 10 ms until it holds, or panics after [`DEADLINE`] naming `what`,
/// with the replicas' last stderr lines.
pub fn wait_until(replicas: &replicas::Replicas, what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + DEADLINE;
    while !done() {
        assert!(
            Instant::now() < until,
            "timed out after {DEADLINE:?} waiting for {what}; replica stderr:\n{}",
            replicas.events().stderr_tail()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
