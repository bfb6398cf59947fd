//! One circuit breaker across every replica of a service, through Redis or Valkey.
#![forbid(unsafe_code)]
pub mod server;
