//! Shared support for the multi-process fleet tests: the dependency, the replica processes,
//! a raw RESP client for poking the server, and statistics.
#![allow(dead_code)]

pub mod dependency;
pub mod replicas;
pub mod resp;
pub mod stats;

use std::sync::{Mutex, MutexGuard};

/// Serialises the multi-process tests of one test binary: each starts a server and several
/// processes, and a 2-core machine runs them more reliably one at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
