//! The bell (`remote().register_waker`): a registered waker is woken once at every change of
//! the breaker's phase, whoever makes it, and when a caller records demand for the fleet's
//! probe; a call that changes no phase wakes nothing.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use async_breaker::remote::Phase;
use async_breaker::{CircuitBreaker, ManualClock};

const SECOND: Duration = Duration::from_secs(1);
const RECOVERY: Duration = Duration::from_secs(10);

/// Counts its wakes.
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A waker that counts, and its count.
fn counter() -> (Arc<Count>, Waker) {
    let count = Arc::new(Count(AtomicUsize::new(0)));
    (Arc::clone(&count), Waker::from(count))
}

fn wakes(count: &Count) -> usize {
    count.0.load(Ordering::SeqCst)
}

/// A breaker opened by 2 consecutive failures, on a clock that has run for a while.
fn breaker(clock: &ManualClock) -> CircuitBreaker {
    clock.advance(Duration::from_secs(1_000));
    CircuitBreaker::builder()
        .failure_threshold(2)
        .recovery_timeout(RECOVERY)
        .clock(clock.clone())
        .build()
        .unwrap()
}

/// How many times a waker registered just before `change` is woken by it.
fn rings(b: &CircuitBreaker, change: impl FnOnce()) -> usize {
    let (count, waker) = counter();
    b.remote().register_waker(&waker);
    change();
    wakes(&count)
}

/// `quiet` wakes nothing, and the waker is still registered after it: the next phase change
/// (a manual one) wakes it.
fn assert_quiet(b: &CircuitBreaker, what: &str, quiet: impl FnOnce()) {
    let (count, waker) = counter();
    b.remote().register_waker(&waker);
    quiet();
    assert_eq!(wakes(&count), 0, "{what} rang");
    b.force_open();
    assert_eq!(wakes(&count), 1, "{what}: the waker was lost");
    b.reset();
}

fn fail(b: &CircuitBreaker) {
    assert!(b.call(|| Err::<(), _>("down")).is_err());
}

fn succeed(b: &CircuitBreaker) {
    assert_eq!(b.call(|| Ok::<_, &str>(1)), Ok(1));
}

#[test]
fn a_trip_rings_and_the_closed_calls_before_it_do_not() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    assert_quiet(&b, "a closed success", || succeed(&b));
    assert_quiet(&b, "a failure below the threshold", || fail(&b));
    fail(&b);
    assert_eq!(b.failure_count(), 1);
    assert_quiet(&b, "a success resetting the failures", || succeed(&b));
    assert_eq!(b.failure_count(), 0);

    fail(&b);
    assert_eq!(rings(&b, || fail(&b)), 1, "the trip");
    assert_eq!(b.remote().snapshot().phase(), Phase::Open);
}

#[test]
fn a_rejection_of_an_open_breaker_does_not_ring() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    fail(&b);
    fail(&b);
    let (count, waker) = counter();
    b.remote().register_waker(&waker);
    for _ in 0..3 {
        assert!(b.try_acquire().is_err());
    }
    clock.advance(RECOVERY);
    assert_eq!(wakes(&count), 0, "rejections and time passing rang");
    let probe = b.try_acquire().unwrap();
    assert_eq!(wakes(&count), 1, "the probe admitted from open");
    assert_eq!(rings(&b, || probe.success()), 1, "the probe's success");
    assert!(b.is_closed());
}

#[test]
fn a_waker_is_woken_once_then_forgotten() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    let (count, waker) = counter();
    b.remote().register_waker(&waker);
    b.force_open();
    b.reset();
    b.disable();
    assert_eq!(wakes(&count), 1);
}

#[test]
fn a_new_registration_replaces_the_one_before() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    let (first, waker) = counter();
    b.remote().register_waker(&waker);
    let (second, waker) = counter();
    b.remote().register_waker(&waker);
    b.force_open();
    assert_eq!((wakes(&first), wakes(&second)), (0, 1));
}

#[test]
fn manual_control_rings() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    assert_eq!(rings(&b, || b.force_open()), 1, "force_open");
    assert_eq!(rings(&b, || b.disable()), 1, "disable");
    assert_eq!(rings(&b, || b.reset()), 1, "reset");
    // Resetting a closed breaker starts a new cycle but keeps the phase.
    assert_eq!(rings(&b, || b.reset()), 0, "reset of a closed breaker");
}

#[test]
fn every_remote_transition_rings_and_a_renewal_does_not() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    let remote = b.remote();
    assert_eq!(
        rings(&b, || assert!(remote.hold(SECOND * 5, 0).is_some())),
        1,
        "hold"
    );
    assert_quiet(&b, "a renewed hold", || {
        assert!(remote.hold(SECOND * 5, 0).is_some());
    });
    remote.hold(Duration::ZERO, 0).unwrap();

    let mut granted = None;
    assert_eq!(rings(&b, || granted = remote.grant_probe()), 1, "grant");
    let granted = granted.expect("held");
    assert_eq!(
        rings(&b, || assert!(remote.revoke_probe(&granted))),
        1,
        "revoke"
    );
    remote.grant_probe().unwrap();
    let mut probe = None;
    assert_eq!(rings(&b, || probe = b.try_acquire().ok()), 1, "claim");
    assert!(probe.expect("granted").is_probe());
    assert_eq!(rings(&b, || assert!(remote.close().is_some())), 1, "close");
    assert!(b.is_closed());

    remote.hold(SECOND * 5, 0).unwrap();
    assert_eq!(
        rings(&b, || assert!(remote.release().is_some())),
        1,
        "release"
    );
    assert_eq!(remote.snapshot().phase(), Phase::Open);
}

#[test]
fn demand_rings_once_until_it_is_taken() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    let remote = b.remote();
    remote.hold(SECOND * 2, 0).unwrap();
    assert_quiet(&b, "a rejection with the fleet's period running", || {
        assert!(b.try_acquire().is_err());
    });
    assert!(!remote.take_demand());

    remote.hold(SECOND * 2, 0).unwrap();
    // Past the fleet's period (the transitions above, at one reading of the clock, each moved
    // the breaker's own time on by a millisecond), well within the hold's lapse.
    clock.advance(SECOND * 3);
    let (count, waker) = counter();
    remote.register_waker(&waker);
    assert!(b.try_acquire().is_err());
    assert_eq!(wakes(&count), 1, "the first caller asking for the probe");
    remote.register_waker(&waker);
    assert!(b.try_acquire().is_err());
    assert!(b.try_acquire().is_err());
    assert_eq!(wakes(&count), 1, "the demand was recorded already");

    assert!(remote.take_demand());
    assert!(b.try_acquire().is_err());
    assert_eq!(wakes(&count), 2, "new demand after the last was taken");
    assert!(remote.take_demand());
}

/// Wakes a parked thread, and says it did.
struct Unpark {
    thread: thread::Thread,
    woken: AtomicBool,
}

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.thread.unpark();
    }
}

#[test]
fn a_coordinator_parked_on_the_bell_is_woken_by_a_trip_on_another_thread() {
    let b = Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(1)
            .recovery_timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
    );
    let (registered, ready) = std::sync::mpsc::channel();
    let coordinator = {
        let b = Arc::clone(&b);
        thread::spawn(move || {
            let unpark = Arc::new(Unpark {
                thread: thread::current(),
                woken: AtomicBool::new(false),
            });
            b.remote().register_waker(&Waker::from(Arc::clone(&unpark)));
            let seen = b.remote().snapshot().phase();
            registered.send(()).unwrap();
            let deadline = Instant::now() + Duration::from_secs(30);
            // `park_timeout` may return early and spuriously: only the flag says it was woken.
            while !unpark.woken.load(Ordering::SeqCst) && Instant::now() < deadline {
                thread::park_timeout(Duration::from_secs(30));
            }
            (seen, unpark.woken.load(Ordering::SeqCst))
        })
    };
    ready.recv().unwrap();
    assert!(b.call(|| Err::<(), _>("down")).is_err());
    let (seen, woken) = coordinator.join().unwrap();
    assert_eq!(seen, Phase::Closed, "registered before the trip");
    assert!(woken, "not woken by the trip within 30 s");
    assert_eq!(b.remote().snapshot().phase(), Phase::Open);
}
