//! The `metrics` feature end to end: examples/prometheus.rs's breaker reports to
//! `metrics-exporter-prometheus`, whose HTTP endpoint is scraped over loopback and parsed,
//! showing the series move as the breaker trips and recovers. The breaker runs on a manual
//! clock, so nothing here waits for time to pass.
//!
//! The exporter installs the process-wide recorder, so this file holds one test.

// Every value compared is a whole count (or a 0/1 gauge), which an f64 holds exactly.
#![allow(clippy::float_cmp)]

#[path = "../examples/prometheus.rs"]
#[allow(dead_code)] // the example's `main` and printing helpers are not used here
mod example;

use std::collections::BTreeMap;

use async_breaker::{ManualClock, Reason, State};

fn series(name: &str, labels: &[(&str, &str)]) -> String {
    let mut labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    labels.sort();
    format!("{name}{{{}}}", labels.join(","))
}

fn calls(outcome: &str) -> String {
    series(
        "circuit_breaker_calls_total",
        &[("breaker", "payments"), ("outcome", outcome)],
    )
}

/// A transition made by the breaker's own calls.
fn moved(from: &str, to: &str) -> String {
    moved_by(from, to, "calls")
}

fn moved_by(from: &str, to: &str, cause: &str) -> String {
    series(
        "circuit_breaker_transitions_total",
        &[
            ("breaker", "payments"),
            ("cause", cause),
            ("from", from),
            ("to", to),
        ],
    )
}

fn state(state: &str) -> String {
    series(
        "circuit_breaker_state",
        &[("breaker", "payments"), ("state", state)],
    )
}

/// What a scrape says: the value of each series that must be there.
struct Scrape(BTreeMap<String, f64>);

impl Scrape {
    fn take(addr: std::net::SocketAddr) -> Scrape {
        let body = example::scrape(addr).expect("the endpoint answers");
        Scrape(example::parse(&body).unwrap_or_else(|e| panic!("{e} in\n{body}")))
    }

    fn get(&self, key: &str) -> f64 {
        *self
            .0
            .get(key)
            .unwrap_or_else(|| panic!("{key} is not in the scrape: {:#?}", self.0))
    }

    fn calls(&self) -> [f64; 5] {
        ["success", "failure", "ignored", "rejected", "discarded"].map(|o| self.get(&calls(o)))
    }

    /// The one state whose gauge is 1; every other state's is 0.
    fn state(&self) -> &'static str {
        let states = ["closed", "open", "half-open", "forced-open", "disabled"];
        let on: Vec<&str> = states
            .into_iter()
            .filter(|s| self.get(&state(s)) == 1.0)
            .collect();
        let off = states
            .into_iter()
            .filter(|s| self.get(&state(s)) == 0.0)
            .count();
        assert_eq!((on.len(), off), (1, 4), "{:#?}", self.0);
        on[0]
    }
}

#[test]
fn the_scraped_series_move_as_the_breaker_trips_and_recovers() {
    let addr = example::start_exporter().expect("the exporter starts");
    let clock = ManualClock::new();
    let breaker = example::payments(clock.clone()).unwrap();
    let dependency = example::Dependency::default();

    let fresh = Scrape::take(addr);
    assert_eq!(fresh.state(), "closed");
    assert_eq!(fresh.calls(), [0.0; 5]);
    assert_eq!(fresh.get(&moved("closed", "open")), 0.0);

    for amount in 0..10 {
        breaker.call(|| dependency.charge(amount)).unwrap();
    }
    let healthy = Scrape::take(addr);
    assert_eq!(healthy.calls(), [10.0, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(healthy.state(), "closed");

    dependency.set_down(true);
    for amount in 0..10 {
        let _ = breaker.call(|| dependency.charge(amount));
    }
    assert_eq!(breaker.state(), State::Open);
    let tripped = Scrape::take(addr);
    assert_eq!(tripped.calls(), [10.0, 3.0, 0.0, 7.0, 0.0]);
    assert_eq!(tripped.get(&moved("closed", "open")), 1.0);
    assert_eq!(tripped.state(), "open");
    // What the example prints for this phase: exactly the series that moved.
    assert_eq!(
        example::moved(&healthy.0, &tripped.0),
        [
            format!("{} 3", calls("failure")),
            format!("{} 7", calls("rejected")),
            format!("{} 0", state("closed")),
            format!("{} 1", state("open")),
            format!("{} 1", moved("closed", "open")),
        ]
        .join("\n")
    );

    // The recovery timeout passes while the dependency is still down: the probe fails.
    clock.advance(example::RECOVERY);
    let _ = breaker.call(|| dependency.charge(0));
    let reopened = Scrape::take(addr);
    assert_eq!(reopened.get(&moved("open", "half-open")), 1.0);
    assert_eq!(reopened.get(&moved("half-open", "open")), 1.0);
    assert_eq!(reopened.calls(), [10.0, 4.0, 0.0, 7.0, 0.0]);
    assert_eq!(reopened.state(), "open");

    // Back up: the next probe closes the breaker and calls flow again.
    dependency.set_down(false);
    clock.advance(example::RECOVERY);
    let probe = breaker.try_acquire().unwrap();
    assert_eq!(
        Scrape::take(addr).state(),
        "half-open",
        "while the probe runs"
    );
    probe.record(&dependency.charge(1));
    for amount in 0..4 {
        breaker.call(|| dependency.charge(amount)).unwrap();
    }
    let recovered = Scrape::take(addr);
    assert_eq!(recovered.calls(), [15.0, 4.0, 0.0, 7.0, 0.0]);
    assert_eq!(recovered.get(&moved("open", "half-open")), 2.0);
    assert_eq!(recovered.get(&moved("half-open", "closed")), 1.0);
    assert_eq!(recovered.state(), "closed");
    assert_eq!(
        recovered.get(&moved_by("closed", "open", "fleet_quorum")),
        0.0
    );

    // The fleet opens it (3 of 8 replicas tripped), then closes it after its probe succeeded:
    // each move is counted under its cause, apart from the breaker's own.
    let quorum = Reason::Quorum {
        tripped: 3,
        live: 8,
    };
    breaker
        .remote()
        .hold_because(example::RECOVERY, 0, quorum)
        .unwrap();
    let held = Scrape::take(addr);
    assert_eq!(held.get(&moved_by("closed", "open", "fleet_quorum")), 1.0);
    assert_eq!(held.get(&moved("closed", "open")), 1.0, "unchanged");
    assert_eq!(held.state(), "open");
    breaker.remote().close_because(Reason::Probe).unwrap();
    let closed = Scrape::take(addr);
    assert_eq!(closed.get(&moved_by("open", "closed", "fleet_probe")), 1.0);
    assert_eq!(closed.get(&moved_by("open", "closed", "manual")), 0.0);
    assert_eq!(closed.state(), "closed");
}
