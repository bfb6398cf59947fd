//! Shared support for the multi-process fleet tests: the dependency, the replica processes,
//! a raw RESP client for poking the server, and statistics.
#![allow(dead_code)]

pub mod dependency;
pub mod replicas;
pub mod resp;
pub mod stats;
