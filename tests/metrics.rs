//! The `metrics` feature: what a breaker built with `export_metrics()` reports through the
//! facade, read back exactly from `metrics-util`'s debugging recorder.
//!
//! Each test builds its breaker inside `metrics::with_local_recorder` with a recorder of its
//! own, so tests running in parallel never see each other's series.

// Every value compared is a whole count (or a 0/1 gauge), which an f64 holds exactly.
#![allow(clippy::float_cmp)]

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use async_breaker::{Builder, CircuitBreaker, Error, ManualClock, Outcome, Reason, State};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

const CALLS: &str = "circuit_breaker_calls_total";
const TRANSITIONS: &str = "circuit_breaker_transitions_total";
const STATE: &str = "circuit_breaker_state";

/// Builds the breaker with a fresh debugging recorder of its own.
fn build(builder: Builder) -> (CircuitBreaker, Snapshotter) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let breaker = metrics::with_local_recorder(&recorder, || builder.export_metrics().build())
        .expect("valid configuration");
    (breaker, snapshotter)
}

/// Every series the recorder holds, as `name{label="value",...}` (labels sorted) to its value.
/// The debugging recorder hands out each value once (a snapshot resets it), so each test takes
/// one snapshot at its end.
fn series(snapshotter: &Snapshotter) -> BTreeMap<String, f64> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}=\"{}\"", l.key(), l.value()))
                .collect();
            labels.sort();
            let value = match value {
                #[allow(clippy::cast_precision_loss)]
                DebugValue::Counter(n) => n as f64,
                DebugValue::Gauge(g) => g.into_inner(),
                DebugValue::Histogram(_) => panic!("no histogram is exported"),
            };
            (format!("{}{{{}}}", key.name(), labels.join(",")), value)
        })
        .collect()
}

fn calls(breaker: &str, outcome: &str) -> String {
    format!("{CALLS}{{breaker=\"{breaker}\",outcome=\"{outcome}\"}}")
}

/// A transition made by the breaker's own calls.
fn moved(breaker: &str, from: &str, to: &str) -> String {
    moved_by(breaker, from, to, "calls")
}

fn moved_by(breaker: &str, from: &str, to: &str, cause: &str) -> String {
    format!("{TRANSITIONS}{{breaker=\"{breaker}\",cause=\"{cause}\",from=\"{from}\",to=\"{to}\"}}")
}

/// The sum of every transition series.
fn all_transitions(all: &BTreeMap<String, f64>) -> f64 {
    all.iter()
        .filter(|(k, _)| k.starts_with(TRANSITIONS))
        .map(|(_, v)| v)
        .sum()
}

fn state(breaker: &str, state: &str) -> String {
    format!("{STATE}{{breaker=\"{breaker}\",state=\"{state}\"}}")
}

/// The value of `key`, which must have been registered.
fn get(all: &BTreeMap<String, f64>, key: &str) -> f64 {
    *all.get(key)
        .unwrap_or_else(|| panic!("{key} was not registered; got {all:#?}"))
}

/// Asserts the five call counters of `breaker`.
fn assert_calls(all: &BTreeMap<String, f64>, breaker: &str, expected: [(&str, u32); 5]) {
    for (outcome, n) in expected {
        assert_eq!(
            get(all, &calls(breaker, outcome)),
            f64::from(n),
            "calls with outcome {outcome}"
        );
    }
}

/// Asserts that the state gauge shows `current` and no other state.
fn assert_state(all: &BTreeMap<String, f64>, breaker: &str, current: State) {
    for s in [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::ForcedOpen,
        State::Disabled,
    ] {
        let expected = if s == current { 1.0 } else { 0.0 };
        assert_eq!(get(all, &state(breaker, s.as_str())), expected, "state {s}");
    }
}

/// A breaker on a manual clock, opening after `threshold` failures for 1 s.
fn on_manual_clock(name: &'static str, threshold: u32) -> (Builder, ManualClock) {
    let clock = ManualClock::new();
    let builder = CircuitBreaker::builder()
        .name(name)
        .failure_threshold(threshold)
        .recovery_timeout(Duration::from_secs(1))
        .clock(clock.clone());
    (builder, clock)
}

/// Runs `work` on 8 threads at once, released together.
fn on_eight_threads(breaker: &Arc<CircuitBreaker>, work: fn(&CircuitBreaker)) {
    let start = Arc::new(Barrier::new(THREADS as usize));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (breaker, start) = (Arc::clone(breaker), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                work(&breaker);
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
}

#[allow(clippy::unnecessary_wraps)] // the shape of a guarded call
fn ok() -> Result<(), &'static str> {
    Ok(())
}

fn down() -> Result<(), &'static str> {
    Err("down")
}

#[test]
fn a_scripted_sequence_is_counted_exactly() {
    let (builder, clock) = on_manual_clock("scripted", 2);
    let (breaker, snapshotter) = build(builder.metrics());

    // Closed: 3 successes, a failure, a success (resets the count), an ignored call.
    for _ in 0..3 {
        breaker.call(ok).unwrap();
    }
    let _ = breaker.call(down);
    breaker.call(ok).unwrap();
    breaker
        .try_acquire()
        .unwrap()
        .record_outcome(Outcome::Ignore);
    drop(breaker.try_acquire().unwrap()); // dropped: ignored too

    // A call admitted now reports after the breaker has opened: discarded.
    let late = breaker.try_acquire().unwrap();
    let _ = breaker.call(down);
    let _ = breaker.call(down); // opens
    assert_eq!(breaker.state(), State::Open);
    late.success();
    for _ in 0..2 {
        assert!(matches!(breaker.call(ok), Err(Error::Open(_))));
    }

    // Half-open: the probe fails (re-opens), then a later probe succeeds (closes).
    clock.advance(Duration::from_secs(1));
    let probe = breaker.try_acquire().unwrap();
    assert!(breaker.try_acquire().is_err(), "one probe at a time");
    probe.failure();
    clock.advance(Duration::from_secs(1));
    breaker.call(ok).unwrap();
    assert_eq!(breaker.state(), State::Closed);

    let all = series(&snapshotter);
    assert_calls(
        &all,
        "scripted",
        [
            ("success", 5),
            ("failure", 4),
            ("ignored", 2),
            ("rejected", 3),
            ("discarded", 1),
        ],
    );
    assert_eq!(get(&all, &moved("scripted", "closed", "open")), 1.0);
    assert_eq!(get(&all, &moved("scripted", "open", "half-open")), 2.0);
    assert_eq!(get(&all, &moved("scripted", "half-open", "open")), 1.0);
    assert_eq!(get(&all, &moved("scripted", "half-open", "closed")), 1.0);
    assert_state(&all, "scripted", State::Closed);

    // The facade and the built-in snapshot agree call for call.
    let m = breaker.metrics().unwrap();
    assert_eq!(
        (m.succeeded, m.failed, m.ignored, m.rejected, m.discarded),
        (5, 4, 2, 3, 1)
    );
    assert_eq!((m.opened, m.half_opened, m.closed), (2, 2, 1));
}

#[test]
fn every_series_is_registered_at_build_and_starts_closed() {
    let (_breaker, snapshotter) = build(CircuitBreaker::builder().name("fresh"));
    let all = series(&snapshotter);
    let names: Vec<&str> = all.keys().map(|k| &k[..k.find('{').unwrap()]).collect();
    assert_eq!(names.iter().filter(|n| **n == CALLS).count(), 5);
    assert_eq!(
        names.iter().filter(|n| **n == TRANSITIONS).count(),
        37,
        "the 37 possible moves and causes, none of the impossible ones"
    );
    assert_eq!(names.iter().filter(|n| **n == STATE).count(), 5);
    assert_eq!(all.len(), 47);
    // Each cause's moves: the breaker's own calls 4, manual control 12, each of the fleet's
    // five reasons 4, and letting go one more.
    let per_cause = |cause: &str| {
        all.keys()
            .filter(|k| k.starts_with(TRANSITIONS) && k.contains(&format!("cause=\"{cause}\"")))
            .count()
    };
    assert_eq!(per_cause("calls"), 4);
    assert_eq!(per_cause("manual"), 12);
    for reason in ["fleet_quorum", "fleet_counted", "fleet_probe", "fleet_sync"] {
        assert_eq!(per_cause(reason), 4, "{reason}");
    }
    assert_eq!(per_cause("fleet_released"), 5);
    assert!(all.contains_key(&moved("fresh", "open", "half-open")));
    assert!(all.contains_key(&moved_by("fresh", "open", "half-open", "fleet_released")));
    assert!(!all.contains_key(&moved("fresh", "closed", "half-open")));
    assert!(
        !all.contains_key(&moved("fresh", "open", "closed")),
        "only by hand or the fleet"
    );
    assert!(!all.contains_key(&moved_by("fresh", "closed", "open", "manual")));
    assert!(!all.contains_key(&moved_by("fresh", "open", "half-open", "fleet_sync")));
    assert!(!all.contains_key(&moved_by("fresh", "closed", "forced-open", "fleet_sync")));
    assert_state(&all, "fresh", State::Closed);
    let counted: f64 = all
        .iter()
        .filter(|(k, _)| !k.starts_with(STATE))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(counted, 0.0);
}

#[test]
fn a_breaker_without_export_registers_nothing() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let breaker = metrics::with_local_recorder(&recorder, || {
        CircuitBreaker::builder()
            .name("quiet")
            .failure_threshold(1)
            .metrics()
            .build()
    })
    .unwrap();
    let _ = breaker.call(down);
    let _ = breaker.call(ok);
    assert!(series(&snapshotter).is_empty());
    assert_eq!(breaker.metrics().unwrap().rejected, 1);
    let shown = format!("{breaker:?}");
    assert!(shown.contains("export_metrics: false"), "{shown}");
}

/// A breaker's debug output says whether it exports, and one that only exports still keeps
/// its hooks.
#[test]
fn debug_output_says_whether_a_breaker_exports() {
    let (breaker, _snapshotter) = build(on_manual_clock("shown", 1).0);
    let shown = format!("{breaker:?}");
    assert!(
        shown.contains("hooks: Some(Hooks { listener: false, metrics: None"),
        "{shown}"
    );
    assert!(shown.contains("export_metrics: true"), "{shown}");
}

#[test]
fn manual_control_transitions_are_counted() {
    let (breaker, snapshotter) = build(on_manual_clock("manual", 1).0);
    breaker.force_open();
    assert!(breaker.call(ok).is_err());
    breaker.disable();
    let _ = breaker.call(down); // admitted, counted as a failure, changes nothing
    breaker.call(ok).unwrap();
    breaker.reset();
    let _ = breaker.call(down); // opens
    breaker.force_open();
    breaker.force_open(); // already forced open: no transition
    breaker.reset();
    breaker.reset(); // already closed: no transition
    breaker.disable();
    breaker.reset();

    let all = series(&snapshotter);
    let by_hand = |from, to| moved_by("manual", from, to, "manual");
    assert_eq!(get(&all, &by_hand("closed", "forced-open")), 1.0);
    assert_eq!(get(&all, &by_hand("forced-open", "disabled")), 1.0);
    assert_eq!(get(&all, &by_hand("disabled", "closed")), 2.0);
    assert_eq!(get(&all, &moved("manual", "closed", "open")), 1.0);
    assert_eq!(get(&all, &by_hand("open", "forced-open")), 1.0);
    assert_eq!(get(&all, &by_hand("forced-open", "closed")), 1.0);
    assert_eq!(get(&all, &by_hand("closed", "disabled")), 1.0);
    assert_eq!(all_transitions(&all), 8.0, "no other transition: {all:#?}");
    assert_calls(
        &all,
        "manual",
        [
            ("success", 1),
            ("failure", 2),
            ("ignored", 0),
            ("rejected", 1),
            ("discarded", 0),
        ],
    );
    assert_state(&all, "manual", State::Closed);
}

/// Every remote transition is counted under the reason the coordinator gave; renewing a hold,
/// granting the fleet's probe and taking the grant back unclaimed count nothing; claiming a
/// granted probe and its outcome are the breaker's own calls; the gauge follows throughout.
#[test]
fn remote_transitions_are_counted_by_reason_and_a_grant_given_back_is_not_a_transition() {
    let (builder, clock) = on_manual_clock("fleet", 1);
    let (breaker, snapshotter) = build(builder.metrics());
    let remote = breaker.remote();
    let quorum = Reason::Quorum {
        tripped: 3,
        live: 8,
    };
    remote.hold_because(Duration::from_secs(1), 0, quorum); // closed -> open
    remote.hold(Duration::from_secs(1), 0); // renewed: nothing
    clock.advance(Duration::from_secs(1));
    for _ in 0..3 {
        let granted = remote.grant_probe().unwrap();
        assert!(remote.revoke_probe(&granted)); // given back unused: nothing, three times
    }
    remote.grant_probe().unwrap();
    let probe = breaker.try_acquire().unwrap(); // claimed: open -> half-open, calls
    probe.failure(); // half-open -> open, calls
    remote.hold_because(Duration::from_secs(1), 1, Reason::Probe); // held again: nothing
    remote.close_because(Reason::Probe); // open -> closed
    remote.hold_because(Duration::ZERO, 0, Reason::Counted); // closed -> open
    remote.release(); // open -> half-open, released
    let _ = breaker.try_acquire().unwrap(); // the local probe, dropped: nothing
    remote.hold(Duration::from_secs(1), 0); // half-open -> open
    remote.close(); // open -> closed

    let all = series(&snapshotter);
    let fleet = |from, to, cause| get(&all, &moved_by("fleet", from, to, cause));
    assert_eq!(fleet("closed", "open", "fleet_quorum"), 1.0);
    assert_eq!(get(&all, &moved("fleet", "open", "half-open")), 1.0);
    assert_eq!(get(&all, &moved("fleet", "half-open", "open")), 1.0);
    assert_eq!(fleet("open", "closed", "fleet_probe"), 1.0);
    assert_eq!(fleet("closed", "open", "fleet_counted"), 1.0);
    assert_eq!(fleet("open", "half-open", "fleet_released"), 1.0);
    assert_eq!(fleet("half-open", "open", "fleet_sync"), 1.0);
    assert_eq!(fleet("open", "closed", "fleet_sync"), 1.0);
    assert_eq!(all_transitions(&all), 8.0, "no other transition: {all:#?}");
    assert_state(&all, "fleet", State::Closed);
    let m = breaker.metrics().unwrap();
    assert_eq!((m.opened, m.half_opened, m.closed), (4, 2, 2));
}

#[test]
fn the_state_gauge_follows_the_breaker() {
    let (builder, clock) = on_manual_clock("gauge", 1);
    let (breaker, snapshotter) = build(builder);
    let _ = breaker.call(down);
    clock.advance(Duration::from_secs(1));
    let _probe = breaker.try_acquire().unwrap();
    // The debugging recorder resets what it hands out, so this one snapshot is the whole story.
    assert_state(&series(&snapshotter), "gauge", State::HalfOpen);
}

const THREADS: u32 = 8;
const PER_THREAD: u32 = 20_000;

#[test]
fn eight_threads_lose_and_double_no_count() {
    // The threshold is never reached: a success resets the count, and at most 8 failures can
    // run together, so every call is admitted and reports exactly one outcome.
    let (breaker, snapshotter) = build(
        CircuitBreaker::builder()
            .name("busy")
            .failure_threshold(100)
            .metrics(),
    );
    let breaker = Arc::new(breaker);
    on_eight_threads(&breaker, |breaker| {
        for i in 0..PER_THREAD {
            match i % 4 {
                0 | 1 => breaker.call(ok).unwrap(),
                2 => {
                    let _ = breaker.call(down);
                }
                _ => drop(breaker.try_acquire().unwrap()),
            }
        }
    });
    let all = series(&snapshotter);
    let quarter = THREADS * PER_THREAD / 4;
    assert_calls(
        &all,
        "busy",
        [
            ("success", 2 * quarter),
            ("failure", quarter),
            ("ignored", quarter),
            ("rejected", 0),
            ("discarded", 0),
        ],
    );
    assert_state(&all, "busy", State::Closed);
    let m = breaker.metrics().unwrap();
    assert_eq!(
        (m.succeeded, m.failed, m.ignored),
        (
            u64::from(2 * quarter),
            u64::from(quarter),
            u64::from(quarter)
        )
    );
}

#[test]
fn eight_threads_tripping_together_report_one_transition() {
    let (breaker, snapshotter) = build(
        CircuitBreaker::builder()
            .name("stampede")
            .failure_threshold(1)
            .recovery_timeout(Duration::from_secs(3600)),
    );
    let breaker = Arc::new(breaker);
    on_eight_threads(&breaker, |breaker| {
        for _ in 0..1_000 {
            let _ = breaker.call(down);
        }
    });
    assert_eq!(breaker.state(), State::Open);
    let all = series(&snapshotter);
    assert_eq!(get(&all, &moved("stampede", "closed", "open")), 1.0);
    // Every call ended in exactly one outcome: failed (admitted before the trip), discarded
    // (admitted before, reported after) or rejected.
    let outcomes: f64 = ["failure", "discarded", "rejected", "success", "ignored"]
        .iter()
        .map(|o| get(&all, &calls("stampede", o)))
        .sum();
    assert_eq!(outcomes, f64::from(THREADS * 1_000));
    assert!(get(&all, &calls("stampede", "failure")) >= 1.0);
    assert_state(&all, "stampede", State::Open);
}

/// A success counted as a failure for its duration is exported as `outcome="slow"`, not also
/// as `failure`; the `slow` series exists only for a breaker with a slow-call threshold.
#[test]
fn slow_successes_are_their_own_outcome() {
    let clock = ManualClock::new();
    let (breaker, snapshotter) = build(
        CircuitBreaker::builder()
            .name("slow")
            .failure_threshold(3)
            .slow_call_threshold(Duration::from_millis(100))
            .clock(clock.clone()),
    );
    for _ in 0..2 {
        let _ = breaker.call(|| {
            clock.advance(Duration::from_millis(100));
            Ok::<_, ()>(())
        });
    }
    let _ = breaker.call(|| Err::<(), _>("down"));
    let _ = breaker.call(|| Ok::<_, ()>(())); // rejected
    let all = series(&snapshotter);
    for (outcome, value) in [
        ("success", 0.0),
        ("failure", 1.0),
        ("slow", 2.0),
        ("rejected", 1.0),
    ] {
        assert_eq!(all[&calls("slow", outcome)], value, "{outcome}");
    }
    let m = breaker.metrics();
    assert!(m.is_none(), "only the facade was asked for");

    let (_plain, snapshotter) = build(CircuitBreaker::builder().name("no-slow"));
    let all = series(&snapshotter);
    assert!(!all.contains_key(&calls("no-slow", "slow")));
    assert!(all.contains_key(&calls("no-slow", "failure")));
}
