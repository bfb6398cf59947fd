//! Test support for the async-breaker workspace (not published): a throwaway `redis-server` on
//! loopback for tests, benches and examples.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms, unreachable_pub)]

pub mod server;

pub use server::{RedisServer, ServerError};
