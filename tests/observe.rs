//! The registry (the originals' monitor), state-change events and metrics.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use async_breaker::{AnyError, CircuitBreaker, ManualClock, Registry, RegistryError, State};

const TIMEOUT: Duration = Duration::from_secs(1);

#[test]
fn monitor_scenario_five_breakers_one_trips() {
    let registry = Registry::new();
    for i in 0..5 {
        let b = CircuitBreaker::builder()
            .name(format!("breaker-{i}"))
            .failure_threshold(1)
            .build()
            .unwrap();
        registry.register(Arc::new(b)).unwrap();
    }
    assert_eq!(registry.len(), 5);
    assert_eq!(registry.closed().len(), 5);
    assert!(registry.all_closed());

    let tripping = registry.get_breaker::<AnyError>("breaker-3").unwrap();
    let _ = tripping.call(|| Err::<(), _>("down"));
    assert_eq!(registry.closed().len(), 4);
    let open: Vec<_> = registry
        .open()
        .iter()
        .map(|b| b.name().to_owned())
        .collect();
    assert_eq!(open, ["breaker-3"]);
    assert!(!registry.all_closed());
}

#[test]
fn half_open_breakers_have_their_own_filter() {
    let clock = ManualClock::new();
    let registry = Registry::new();
    let b = Arc::new(
        CircuitBreaker::builder()
            .name("probing")
            .failure_threshold(1)
            .recovery_timeout(TIMEOUT)
            .clock(clock.clone())
            .build()
            .unwrap(),
    );
    registry.register(Arc::clone(&b)).unwrap();
    let _ = b.call(|| Err::<(), _>("down"));
    clock.advance(TIMEOUT);
    let _probe = b.try_acquire().unwrap();
    assert_eq!(registry.half_open().len(), 1);
    assert!(registry.open().is_empty() && registry.closed().is_empty());
    assert!(!registry.all_closed(), "a probing breaker is not closed");
}

#[test]
fn duplicate_names_are_refused_and_the_first_stays() {
    let registry = Registry::new();
    let first = Arc::new(
        CircuitBreaker::builder()
            .name("db")
            .failure_threshold(1)
            .build()
            .unwrap(),
    );
    registry.register(Arc::clone(&first)).unwrap();
    let second = Arc::new(CircuitBreaker::builder().name("db").build().unwrap());
    let err = registry.register(second).unwrap_err();
    assert_eq!(err, RegistryError::Duplicate { name: "db".into() });
    assert_eq!(
        err.to_string(),
        r#"a circuit breaker named "db" is already registered"#
    );

    let _ = first.call(|| Err::<(), _>("down"));
    assert_eq!(
        registry.get("db").unwrap().state(),
        State::Open,
        "still the first breaker"
    );
    assert!(
        registry.get_breaker::<fn(&()) -> bool>("db").is_none(),
        "wrong classifier type"
    );
    assert!(registry.unregister("db").is_some());
    assert!(registry.get("db").is_none());
}

#[test]
fn the_global_registry_is_one_instance() {
    let name = "observe-test-global";
    let b = Arc::new(CircuitBreaker::builder().name(name).build().unwrap());
    Registry::global().register(b).unwrap();
    assert_eq!(Registry::global().get(name).unwrap().name(), name);
    Registry::global().unregister(name);
}

type Log = Arc<Mutex<Vec<(State, State, u32, Duration)>>>;

fn logged(clock: &ManualClock, threshold: u32) -> (CircuitBreaker, Log) {
    let log: Log = Arc::default();
    let sink = Arc::clone(&log);
    let b = CircuitBreaker::builder()
        .name("events")
        .failure_threshold(threshold)
        .recovery_timeout(TIMEOUT)
        .clock(clock.clone())
        .metrics()
        .on_transition(move |t| {
            assert_eq!(t.name(), "events");
            sink.lock()
                .unwrap()
                .push((t.from(), t.to(), t.failures(), t.at()));
        })
        .build()
        .unwrap();
    (b, log)
}

#[test]
fn each_transition_is_reported_once_with_time_and_count() {
    let clock = ManualClock::new();
    let (b, log) = logged(&clock, 2);
    clock.advance(Duration::from_millis(5));
    let _ = b.call(|| Err::<(), _>("x"));
    let _ = b.call(|| Err::<(), _>("x"));
    clock.advance(TIMEOUT);
    let _ = b.call(|| Err::<(), _>("probe fails"));
    clock.advance(TIMEOUT);
    let _ = b.call(|| Ok::<_, ()>(()));
    let five = Duration::from_millis(5);
    assert_eq!(
        *log.lock().unwrap(),
        [
            (State::Closed, State::Open, 2, five),
            (State::Open, State::HalfOpen, 2, five + TIMEOUT),
            (State::HalfOpen, State::Open, 3, five + TIMEOUT),
            (State::Open, State::HalfOpen, 3, five + TIMEOUT * 2),
            (State::HalfOpen, State::Closed, 0, five + TIMEOUT * 2),
        ]
    );
    let m = b.metrics().unwrap();
    assert_eq!((m.opened, m.half_opened, m.closed), (2, 2, 1));
    assert_eq!(
        (m.admitted, m.succeeded, m.failed, m.rejected),
        (4, 1, 3, 0)
    );
}

#[test]
fn concurrent_failures_fire_exactly_one_open_event() {
    for _ in 0..20 {
        let clock = ManualClock::new();
        let threads = 8;
        let (b, log) = logged(&clock, 4);
        let b = Arc::new(b);
        let start = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (b, start) = (Arc::clone(&b), Arc::clone(&start));
                std::thread::spawn(move || {
                    let permit = b.try_acquire().unwrap();
                    start.wait();
                    permit.failure();
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 1, "{log:?}");
        assert_eq!(
            (log[0].0, log[0].1, log[0].2),
            (State::Closed, State::Open, 4)
        );
        let m = b.metrics().unwrap();
        assert_eq!(
            m.failed + m.discarded,
            8,
            "every outcome is either counted or discarded"
        );
        assert_eq!(
            m.failed, 4,
            "exactly the failures up to the threshold count"
        );
    }
}

#[test]
fn a_panicking_listener_does_not_corrupt_the_breaker() {
    let clock = ManualClock::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let b = CircuitBreaker::builder()
        .failure_threshold(1)
        .recovery_timeout(TIMEOUT)
        .clock(clock.clone())
        .on_transition(move |_| {
            seen.fetch_add(1, Ordering::Relaxed);
            panic!("listener bug");
        })
        .build()
        .unwrap();
    let result = b.call(|| Err::<(), _>("down"));
    assert!(
        result.unwrap_err().is_inner(),
        "the caller gets its own result, not the panic"
    );
    assert_eq!(b.state(), State::Open);
    clock.advance(TIMEOUT);
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(calls.load(Ordering::Relaxed), 3);
}

#[test]
fn metrics_count_rejections_drops_and_stale_outcomes() {
    let clock = ManualClock::new();
    let (b, _log) = logged(&clock, 1);
    let stale = b.try_acquire().unwrap();
    drop(b.try_acquire().unwrap());
    b.try_acquire().unwrap().failure();
    stale.success();
    let _ = b.try_acquire();
    let m = b.metrics().unwrap();
    assert_eq!(
        (m.admitted, m.ignored, m.failed, m.discarded, m.rejected),
        (3, 1, 1, 1, 1)
    );
}
