//! Guides: the depth behind the crate documentation, one module per topic. Each is also a page
//! of the repository's `docs/` folder, and every Rust example in them runs as a doc test.
//!
//! | guide | for |
//! |---|---|
//! | [`state_machine`] | states, the word's layout, guarantees, cancel safety, testing with `ManualClock` |
//! | [`policies`] | failure rates, slow calls, backoff, probes, manual control, beside resilience4j |
//! | `operate` (features `metrics` and `serde`) | registry, events, counters, tracing, Prometheus, configuration files |
//! | `tower` (feature `tower`) | guarding any tower `Service`; axum routes (feature `axum`) |
//! | `http` (features `http` and `tower`) | counting 5xx responses with the combinator and the layer, answering 503 with `Retry-After` |
//! | `attribute` (feature `macros`) | the `#[circuit]` attribute |
//! | [`embedded`] | microcontrollers without 64-bit atomics (feature `portable-atomic`), a clock from a hardware timer, what lock-free means there |
//! | [`python`] | coming from Python's `circuitbreaker` and `aiocircuitbreaker` |
//! | [`comparison`] | against failsafe, recloser, circuitbreaker-rs, tower-resilience, resilience4j, gobreaker, Polly |
//! | [`verification`] | every check, what it proves, and the command that reproduces it |
//! | [`loom`] | model-checking your own concurrent code around the breaker with loom |
//! | [`performance`] | the benchmark, the machine, and what each option costs |
//!
//! Sharing one breaker across replicas is the `async-breaker-fleet` crate's guide.

// The guides are prose written for GitHub as much as for rustdoc: product names and paths are
// words there, not code.
// A link from one guide to another is an absolute docs.rs URL
// (`https://docs.rs/async-breaker/latest/async_breaker/guide/<module>/index.html`): a relative
// `.md` link works on GitHub but is dead here. `.ci/links.sh` checks the relative links that
// remain (files beside the guides) and that every such URL names a module of this file.
#![allow(clippy::doc_markdown)]

#[doc = include_str!("../docs/state-machine.md")]
pub mod state_machine {}

#[doc = include_str!("../docs/policies.md")]
pub mod policies {}

#[cfg(all(feature = "metrics", feature = "serde"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "metrics", feature = "serde"))))]
#[doc = include_str!("../docs/operate.md")]
pub mod operate {}

#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
#[doc = include_str!("../docs/tower.md")]
pub mod tower {}

#[cfg(all(feature = "http", feature = "tower"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "http", feature = "tower"))))]
#[doc = include_str!("../docs/http.md")]
pub mod http {}

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
#[doc = include_str!("../docs/attribute.md")]
pub mod attribute {}

#[doc = include_str!("../docs/embedded.md")]
pub mod embedded {}

#[doc = include_str!("../docs/python.md")]
pub mod python {}

#[doc = include_str!("../docs/comparison.md")]
pub mod comparison {}

#[doc = include_str!("../docs/verification.md")]
pub mod verification {}

#[doc = include_str!("../docs/performance.md")]
pub mod performance {}

#[doc = include_str!("../docs/loom.md")]
pub mod loom {}
