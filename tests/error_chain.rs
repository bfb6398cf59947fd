//! An error chain through [`async_breaker::Error`] prints each message once.
//!
//! `Error` is transparent: `Error::Inner` forwards `Display` *and* `source()` to the call's own
//! error, so a chain reporter sees the same chain as without a breaker. Checked with anyhow's
//! alternate form (`{:#}`: every message of the chain, joined by ": ") and with a hand-written
//! walker of `source()`.

use std::error::Error as StdError;
use std::fmt;

use async_breaker::{CircuitBreaker, Error};

/// The root cause.
#[derive(Debug)]
struct Timeout;

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out after 2s")
    }
}

impl StdError for Timeout {}

/// The guarded call's error, with the root cause as its source.
#[derive(Debug)]
struct Fetch(Timeout);

impl fmt::Display for Fetch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("fetching the price failed")
    }
}

impl StdError for Fetch {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.0)
    }
}

/// Every message of the chain, outermost first.
fn chain(error: &dyn StdError) -> Vec<String> {
    let mut messages = vec![error.to_string()];
    let mut next = error.source();
    while let Some(e) = next {
        messages.push(e.to_string());
        next = e.source();
    }
    messages
}

fn failed_call() -> Error<Fetch> {
    let breaker = CircuitBreaker::new();
    breaker
        .call(|| Err::<(), _>(Fetch(Timeout)))
        .expect_err("the call fails")
}

fn rejected_call() -> Error<Fetch> {
    let breaker = CircuitBreaker::builder()
        .name("prices")
        .failure_threshold(1)
        .build()
        .expect("valid configuration");
    let _ = breaker.call(|| Err::<(), _>(Fetch(Timeout)));
    breaker
        .call(|| Ok::<(), Fetch>(()))
        .expect_err("the breaker is open")
}

#[test]
fn a_failed_call_prints_its_chain_once_through_anyhow() {
    let report = format!("{:#}", anyhow::Error::new(failed_call()));
    assert_eq!(report, "fetching the price failed: timed out after 2s");
}

#[test]
fn a_failed_call_has_the_same_chain_as_its_own_error() {
    let error = failed_call();
    assert!(error.is_inner());
    assert_eq!(chain(&error), chain(&Fetch(Timeout)));
    assert_eq!(
        chain(&error),
        ["fetching the price failed", "timed out after 2s"]
    );
}

#[test]
fn a_failed_call_with_an_error_without_source_is_one_message() {
    let breaker = CircuitBreaker::new();
    let error = breaker
        .call(|| Err::<(), _>(Timeout))
        .expect_err("the call fails");
    assert_eq!(chain(&error), ["timed out after 2s"]);
    assert_eq!(
        format!("{:#}", anyhow::Error::new(error)),
        "timed out after 2s"
    );
}

#[test]
fn a_rejection_is_a_root_cause() {
    let error = rejected_call();
    assert!(error.is_open());
    let message = r#"circuit "prices" is open (1 failure, 30s remaining)"#;
    assert_eq!(chain(&error), [message]);
    assert_eq!(format!("{:#}", anyhow::Error::new(error)), message);
}

#[test]
fn context_added_by_the_caller_appears_once_above_the_call_error() {
    let report = anyhow::Error::new(failed_call()).context("refreshing the cart");
    assert_eq!(
        format!("{report:#}"),
        "refreshing the cart: fetching the price failed: timed out after 2s"
    );
}
