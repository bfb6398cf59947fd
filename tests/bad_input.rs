//! Bad input and hostile environments: configuration values at and around every limit, clocks
//! that step backwards or jump far ahead, permits that outlive their cycle or are leaked,
//! panicking guarded work and guarded futures dropped mid-flight.
//!
//! Every case either gets a typed error or the behaviour the crate documents; nothing here may
//! panic except the guarded work that panics on purpose.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_breaker::{
    CircuitBreaker, CircuitExt, Clock, Config, ConfigError, Error, ManualClock, OpenError, Outcome,
    State, MAX_FAILURE_THRESHOLD, MAX_RECOVERY_TIMEOUT,
};
use futures::executor::block_on;
use futures::task::noop_waker;

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

/// `MAX_RECOVERY_TIMEOUT` in milliseconds: the top of the breaker's time range.
fn ceiling_ms() -> u64 {
    u64::try_from(MAX_RECOVERY_TIMEOUT.as_millis()).expect("fits")
}

fn manual(threshold: u32, recovery: Duration, clock: &ManualClock) -> CircuitBreaker {
    CircuitBreaker::builder()
        .failure_threshold(threshold)
        .recovery_timeout(recovery)
        .clock(clock.clone())
        .build()
        .expect("valid configuration")
}

fn fail(b: &CircuitBreaker) {
    let result = b.call(|| Err::<(), _>("down"));
    assert_eq!(
        result,
        Err(Error::Inner("down")),
        "the failing call must run"
    );
}

fn succeed(b: &CircuitBreaker) {
    assert_eq!(
        b.call(|| Ok::<_, ()>(())),
        Ok(()),
        "the call must be admitted"
    );
}

fn rejection(b: &CircuitBreaker) -> OpenError {
    match b.try_acquire() {
        Ok(permit) => panic!("expected a rejection, got {permit:?} from {b:?}"),
        Err(rejected) => rejected,
    }
}

/// Polls `fut` once with a waker that does nothing.
fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    let waker = noop_waker();
    Pin::new(fut).poll(&mut Context::from_waker(&waker))
}

// ---------------------------------------------------------------------------------------------
// Configuration limits
// ---------------------------------------------------------------------------------------------

#[test]
fn failure_threshold_limits() {
    for ok in [1, 2, MAX_FAILURE_THRESHOLD - 1, MAX_FAILURE_THRESHOLD] {
        let b = CircuitBreaker::builder().failure_threshold(ok).build();
        assert_eq!(b.expect("in range").failure_threshold(), ok);
        assert_eq!(Config::new().failure_threshold(ok).validate(), Ok(()));
    }
    assert_eq!(MAX_FAILURE_THRESHOLD, 65_535);
    for bad in [0, MAX_FAILURE_THRESHOLD + 1, u32::MAX] {
        let err = CircuitBreaker::builder()
            .failure_threshold(bad)
            .build()
            .unwrap_err();
        assert_eq!(
            err,
            ConfigError::FailureThreshold {
                value: bad,
                max: 65_535
            }
        );
        assert_eq!(err.field(), "failure_threshold");
        assert_eq!(
            err.to_string(),
            format!("failure_threshold must be between 1 and 65535, got {bad}")
        );
        assert_eq!(
            Config::new().failure_threshold(bad).validate(),
            Err(err.clone())
        );
        assert_eq!(
            Config::new().failure_threshold(bad).build().unwrap_err(),
            err
        );
    }
}

/// Values accepted for `recovery_timeout` / `probe_deadline`, with the whole milliseconds the
/// breaker uses (fractions round up).
fn accepted_spans() -> Vec<(Duration, u64)> {
    vec![
        (Duration::from_nanos(1), 1),
        (Duration::from_micros(999), 1),
        (MS, 1),
        (Duration::from_nanos(1_000_001), 2),
        (Duration::from_micros(1_500), 2),
        (Duration::from_secs(30), 30_000),
        (
            MAX_RECOVERY_TIMEOUT
                .checked_sub(Duration::from_nanos(1))
                .unwrap(),
            ceiling_ms(),
        ),
        (MAX_RECOVERY_TIMEOUT, ceiling_ms()),
    ]
}

fn rejected_spans() -> Vec<Duration> {
    vec![
        Duration::ZERO,
        MAX_RECOVERY_TIMEOUT + Duration::from_nanos(1),
        MAX_RECOVERY_TIMEOUT + MS,
        MAX_RECOVERY_TIMEOUT * 2,
        Duration::from_secs(u64::MAX / 1_000),
        Duration::MAX,
    ]
}

#[test]
fn recovery_timeout_limits() {
    assert_eq!(
        MAX_RECOVERY_TIMEOUT,
        Duration::from_millis((1 << 42) - 1),
        "42 bits of milliseconds"
    );
    for (span, ms) in accepted_spans() {
        let b = CircuitBreaker::builder().recovery_timeout(span).build();
        let b = b.unwrap_or_else(|e| panic!("{span:?} must be accepted: {e}"));
        assert_eq!(
            b.recovery_timeout(),
            Duration::from_millis(ms),
            "whole milliseconds, a fraction rounded up"
        );
    }
    for span in rejected_spans() {
        let err = CircuitBreaker::builder()
            .recovery_timeout(span)
            .build()
            .unwrap_err();
        assert_eq!(
            err,
            ConfigError::RecoveryTimeout {
                value: span,
                max: MAX_RECOVERY_TIMEOUT
            }
        );
        assert_eq!(err.field(), "recovery_timeout");
        assert_eq!(
            err.to_string(),
            format!(
                "recovery_timeout must be between 1ms and {MAX_RECOVERY_TIMEOUT:?}, got {span:?}"
            )
        );
        assert_eq!(
            Config::new().recovery_timeout(span).validate(),
            Err(err.clone())
        );
    }
    // The unset probe deadline follows the recovery timeout, but the error names the setting
    // the user actually gave.
    let err = Config::new()
        .recovery_timeout(Duration::ZERO)
        .validate()
        .unwrap_err();
    assert_eq!(err.field(), "recovery_timeout");
}

#[test]
fn probe_deadline_limits() {
    for (span, _) in accepted_spans() {
        let config = Config::new().probe_deadline(span);
        assert_eq!(config.get_probe_deadline(), span);
        assert!(config.build().is_ok(), "{span:?} must be accepted");
    }
    for span in rejected_spans() {
        let err = CircuitBreaker::builder()
            .probe_deadline(span)
            .build()
            .unwrap_err();
        assert_eq!(
            err,
            ConfigError::ProbeDeadline {
                value: span,
                max: MAX_RECOVERY_TIMEOUT
            }
        );
        assert_eq!(err.field(), "probe_deadline");
        assert_eq!(
            err.to_string(),
            format!(
                "probe_deadline must be between 1ms and {MAX_RECOVERY_TIMEOUT:?}, got {span:?}"
            )
        );
    }
    // Default: the recovery timeout, whatever it is.
    assert_eq!(Config::new().get_probe_deadline(), Duration::from_secs(30));
    assert_eq!(Config::new().recovery_timeout(MS).get_probe_deadline(), MS);
}

#[test]
fn every_bad_field_is_reported_by_name_and_the_first_one_wins() {
    let err = Config::new()
        .failure_threshold(0)
        .recovery_timeout(Duration::ZERO)
        .probe_deadline(Duration::ZERO)
        .validate()
        .unwrap_err();
    assert_eq!(err.field(), "failure_threshold");
    let err = Config::new()
        .recovery_timeout(Duration::MAX)
        .probe_deadline(Duration::ZERO)
        .validate()
        .unwrap_err();
    assert_eq!(err.field(), "recovery_timeout");
    let err = Config::new()
        .probe_deadline(Duration::MAX)
        .validate()
        .unwrap_err();
    assert_eq!(err.field(), "probe_deadline");
    // A valid deadline rescues nothing: an invalid recovery timeout is still an error.
    assert!(Config::new()
        .recovery_timeout(Duration::ZERO)
        .probe_deadline(SEC)
        .validate()
        .is_err());
    // ...and a valid recovery timeout with an explicit bad deadline is an error too.
    assert!(Config::new()
        .recovery_timeout(SEC)
        .probe_deadline(Duration::MAX)
        .validate()
        .is_err());
    // ConfigError is a std error with a readable message.
    let boxed: Box<dyn std::error::Error> = Box::new(err);
    assert!(boxed
        .to_string()
        .starts_with("probe_deadline must be between 1ms and "));
}

#[test]
fn a_sub_millisecond_recovery_timeout_behaves_as_one_millisecond() {
    for tiny in [Duration::from_nanos(1), Duration::from_micros(999)] {
        let clock = ManualClock::new();
        clock.set(Duration::from_millis(5));
        let b = manual(1, tiny, &clock);
        fail(&b);
        assert_eq!(b.state(), State::Open);
        assert_eq!(b.open_remaining(), MS);
        assert_eq!(rejection(&b).remaining(), MS);
        assert_eq!(
            rejection(&b).to_string(),
            r#"circuit "unnamed" is open (1 failure, 1ms remaining)"#
        );
        clock.advance(Duration::from_micros(999));
        assert_eq!(b.state(), State::Open, "not a full millisecond yet");
        clock.advance(Duration::from_micros(1));
        assert_eq!(b.state(), State::HalfOpen);
        let probe = b.try_acquire().expect("probe admitted after 1 ms");
        assert!(probe.is_probe());
        probe.success();
        assert!(b.is_closed());
    }
}

#[test]
fn a_fractional_recovery_timeout_rounds_up() {
    let clock = ManualClock::new();
    let b = manual(1, Duration::from_micros(1_500), &clock);
    fail(&b);
    assert_eq!(b.open_remaining(), Duration::from_millis(2));
    clock.advance(MS);
    assert_eq!(b.state(), State::Open);
    clock.advance(MS);
    assert_eq!(b.state(), State::HalfOpen);
}

#[test]
fn a_sub_millisecond_probe_deadline_behaves_as_one_millisecond() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .failure_threshold(1)
        .recovery_timeout(SEC)
        .probe_deadline(Duration::from_nanos(1))
        .clock(clock.clone())
        .build()
        .unwrap();
    fail(&b);
    clock.advance(SEC);
    let lost = b.try_acquire().unwrap();
    assert!(lost.is_probe());
    std::mem::forget(lost);
    assert_eq!(rejection(&b).state(), State::HalfOpen, "same millisecond");
    clock.advance(MS);
    assert!(b.try_acquire().unwrap().is_probe(), "reclaimed after 1 ms");
}

#[test]
fn the_largest_threshold_counts_every_failure() {
    let clock = ManualClock::new();
    let b = manual(MAX_FAILURE_THRESHOLD, SEC, &clock);
    for _ in 1..MAX_FAILURE_THRESHOLD {
        fail(&b);
    }
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.failure_count(), MAX_FAILURE_THRESHOLD - 1);
    fail(&b);
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.failure_count(), MAX_FAILURE_THRESHOLD);
    // A failed probe can't push the count past what the word holds; it saturates.
    clock.advance(SEC);
    fail(&b);
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.failure_count(), MAX_FAILURE_THRESHOLD);
    assert_eq!(b.open_remaining(), SEC, "a fresh timer");
    clock.advance(SEC);
    succeed(&b);
    assert_eq!((b.state(), b.failure_count()), (State::Closed, 0));
}

#[test]
fn the_longest_recovery_timeout_holds_until_the_end_of_the_time_range() {
    let clock = ManualClock::new();
    let b = manual(1, MAX_RECOVERY_TIMEOUT, &clock);
    fail(&b);
    assert_eq!(b.open_remaining(), MAX_RECOVERY_TIMEOUT);
    assert_eq!(
        rejection(&b).to_string(),
        format!(
            r#"circuit "unnamed" is open (1 failure, {}s remaining)"#,
            ceiling_ms().div_ceil(1_000)
        )
    );
    clock.set(Duration::from_millis(ceiling_ms() - 1));
    assert_eq!(b.open_remaining(), MS);
    clock.set(MAX_RECOVERY_TIMEOUT);
    assert_eq!(b.state(), State::HalfOpen);
    succeed(&b);
    assert!(b.is_closed());
}

// ---------------------------------------------------------------------------------------------
// Clocks that misbehave
// ---------------------------------------------------------------------------------------------

#[test]
fn a_clock_stepping_back_resumes_the_open_period_when_it_passes_the_stamp_again() {
    let clock = ManualClock::new();
    clock.set(Duration::from_secs(100));
    let b = manual(1, Duration::from_secs(10), &clock);
    fail(&b); // opened at 100 s
    clock.set(Duration::from_secs(50));
    // For the breaker, time is clamped to the moment it opened: the whole period is left.
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.open_remaining(), Duration::from_secs(10));
    assert_eq!(rejection(&b).remaining(), Duration::from_secs(10));
    clock.set(Duration::ZERO);
    assert_eq!(b.open_remaining(), Duration::from_secs(10));
    clock.set(Duration::from_secs(105));
    assert_eq!(b.open_remaining(), Duration::from_secs(5));
    clock.set(Duration::from_millis(109_999));
    assert_eq!(b.open_remaining(), MS);
    clock.set(Duration::from_secs(110));
    assert_eq!(b.state(), State::HalfOpen);

    // A probe admitted at 110 s; the clock steps back; the probe still decides.
    let probe = b.try_acquire().unwrap();
    assert!(probe.is_probe());
    clock.set(Duration::from_secs(1));
    assert_eq!(rejection(&b).state(), State::HalfOpen);
    probe.failure();
    // Re-opened at max(clock, stamp) = 110 s, not at 1 s: the open period is whole, and only
    // ends 10 s after 110 s.
    assert_eq!(b.open_remaining(), Duration::from_secs(10));
    clock.set(Duration::from_secs(119));
    assert_eq!(b.open_remaining(), SEC);
    clock.set(Duration::from_secs(120));
    assert_eq!(b.state(), State::HalfOpen);
    succeed(&b);
    assert!(b.is_closed());

    // Closed again (cycle stamped 120 s). The clock steps back and the breaker trips: it opens
    // at 120 s, not at the clock's 3 s.
    clock.set(Duration::from_secs(3));
    fail(&b);
    assert_eq!(b.open_remaining(), Duration::from_secs(10));
    clock.set(Duration::from_secs(13));
    assert_eq!(b.state(), State::Open, "13 s is before the recorded 120 s");
    assert_eq!(b.open_remaining(), Duration::from_secs(10));
    clock.set(Duration::from_secs(130));
    assert_eq!(b.state(), State::HalfOpen);
}

#[test]
fn a_clock_stepping_back_does_not_reclaim_a_probe_early() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .failure_threshold(1)
        .recovery_timeout(Duration::from_secs(10))
        .probe_deadline(Duration::from_secs(5))
        .clock(clock.clone())
        .build()
        .unwrap();
    clock.set(Duration::from_secs(100));
    fail(&b);
    clock.set(Duration::from_secs(110));
    std::mem::forget(b.try_acquire().unwrap()); // probe admitted at 110 s, then lost
    clock.set(Duration::from_secs(1));
    assert_eq!(rejection(&b).state(), State::HalfOpen);
    clock.set(Duration::from_secs(114));
    assert_eq!(rejection(&b).state(), State::HalfOpen);
    clock.set(Duration::from_secs(115));
    assert!(b.try_acquire().unwrap().is_probe());
}

/// A custom clock that can be switched to report `Duration::MAX` (about 584 billion years).
#[derive(Clone, Default)]
struct JumpClock {
    nanos: Arc<AtomicU64>,
    at_end_of_time: Arc<AtomicBool>,
}

impl JumpClock {
    fn set(&self, to: Duration) {
        self.at_end_of_time.store(false, Ordering::SeqCst);
        self.nanos
            .store(u64::try_from(to.as_nanos()).unwrap(), Ordering::SeqCst);
    }

    fn jump_to_the_end(&self) {
        self.at_end_of_time.store(true, Ordering::SeqCst);
    }
}

impl Clock for JumpClock {
    fn now(&self) -> Duration {
        if self.at_end_of_time.load(Ordering::SeqCst) {
            Duration::MAX
        } else {
            Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
        }
    }
}

fn jumpy(threshold: u32, recovery: Duration, clock: &JumpClock) -> CircuitBreaker {
    CircuitBreaker::builder()
        .name("far")
        .failure_threshold(threshold)
        .recovery_timeout(recovery)
        .clock(clock.clone())
        .build()
        .unwrap()
}

#[test]
fn a_clock_at_duration_max_never_holds_the_breaker_open() {
    let clock = JumpClock::default();
    clock.jump_to_the_end();
    let b = jumpy(2, Duration::from_secs(3_600), &clock);
    succeed(&b);
    fail(&b);
    fail(&b);
    // At the end of the measurable range every timeout counts as elapsed.
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(b.open_remaining(), Duration::ZERO);
    assert_eq!(b.failure_count(), 2);
    let _ = format!("{b:?}"); // reads the clock; must not overflow
    let probe = b.try_acquire().unwrap();
    assert!(probe.is_probe());
    probe.failure();
    assert_eq!(b.failure_count(), 3);
    assert_eq!(b.state(), State::HalfOpen, "re-opened, and elapsed at once");
    succeed(&b);
    assert_eq!((b.state(), b.failure_count()), (State::Closed, 0));
}

#[test]
fn a_clock_jumping_to_duration_max_mid_open_period_releases_the_breaker() {
    let clock = JumpClock::default();
    clock.set(SEC);
    let b = jumpy(1, Duration::from_secs(3_600), &clock);
    fail(&b);
    assert_eq!(b.open_remaining(), Duration::from_secs(3_600));
    clock.jump_to_the_end();
    assert_eq!(b.state(), State::HalfOpen);
    let probe = b.try_acquire().unwrap();
    assert!(probe.is_probe());
    probe.success();
    assert!(b.is_closed());

    // The clock comes back from the end of time. The breaker's stamps stay at the ceiling, so
    // (as documented) every timeout keeps counting as elapsed: it can open, but never stays
    // stuck open.
    clock.set(Duration::from_secs(2));
    fail(&b);
    assert_eq!(b.state(), State::HalfOpen);
    succeed(&b);
    assert!(b.is_closed());
}

#[test]
fn a_manual_clock_saturates_instead_of_overflowing() {
    let clock = ManualClock::new();
    let b = manual(1, Duration::from_secs(30), &clock);
    fail(&b);
    clock.advance(Duration::MAX);
    clock.advance(Duration::MAX);
    assert_eq!(clock.now(), Duration::from_nanos(u64::MAX));
    assert_eq!(b.state(), State::HalfOpen);
    succeed(&b);
    assert!(b.is_closed());
    clock.set(Duration::MAX); // also saturates
    assert_eq!(clock.now(), Duration::from_nanos(u64::MAX));
    fail(&b);
    assert_eq!(b.state(), State::HalfOpen);
}

#[test]
fn the_open_period_is_cut_short_at_the_end_of_the_time_range() {
    let clock = ManualClock::new();
    clock.set(Duration::from_millis(ceiling_ms() - 1));
    let b = manual(1, Duration::from_secs(3_600), &clock);
    fail(&b);
    assert_eq!(b.open_remaining(), Duration::from_secs(3_600));
    clock.advance(MS);
    assert_eq!(
        b.state(),
        State::HalfOpen,
        "at the ceiling every timeout has elapsed"
    );
}

/// At the top of the 139-year stamp range (or with a clock that reports more) stamps can no
/// longer grow, so cycles can no longer be told apart: this is the documented limit of stale
/// detection. What must still hold there: nothing panics, the breaker keeps cycling, and the
/// outcome of an earlier cycle is counted exactly like a current one (no worse).
#[test]
fn at_the_clock_ceiling_cycles_still_run_but_stale_outcomes_can_count() {
    let clock = JumpClock::default();
    clock.jump_to_the_end();
    let b = jumpy(2, SEC, &clock);
    fail(&b);
    fail(&b);
    succeed(&b); // the probe closes: every timeout counts as elapsed at the ceiling
    assert!(b.is_closed());

    let old = b.try_acquire().unwrap(); // admitted in this closed cycle
    fail(&b);
    fail(&b); // opens
    succeed(&b); // probe: closed again
    assert_eq!((b.state(), b.failure_count()), (State::Closed, 0));
    old.failure();
    assert_eq!(
        b.failure_count(),
        1,
        "documented limit: at the ceiling an earlier cycle's outcome is indistinguishable"
    );
}

/// At the ceiling the probe deadline counts as elapsed, so a probe can be replaced at once; the
/// replaced probe's outcome is then indistinguishable from the replacement's (documented limit),
/// and the breaker still decides on the first outcome it gets.
#[test]
fn at_the_clock_ceiling_a_replaced_probe_is_indistinguishable() {
    let clock = JumpClock::default();
    clock.jump_to_the_end();
    let b = jumpy(1, SEC, &clock);
    fail(&b);
    let lost = b.try_acquire().unwrap();
    assert!(lost.is_probe());
    let replacement = b.try_acquire().unwrap();
    assert!(replacement.is_probe());
    lost.success();
    assert_eq!(
        b.state(),
        State::Closed,
        "documented limit: the first probe outcome decides"
    );
    replacement.failure();
    assert_eq!(
        (b.state(), b.failure_count()),
        (State::Closed, 0),
        "the replacement's ticket ended with the cycle its twin closed"
    );
}

// ---------------------------------------------------------------------------------------------
// Permits that outlive their cycle, leaked permits
// ---------------------------------------------------------------------------------------------

#[test]
fn a_closed_permit_reporting_while_open_is_discarded() {
    let clock = ManualClock::new();
    let b = manual(2, SEC, &clock);
    let slow_success = b.try_acquire().unwrap();
    let slow_failure = b.try_acquire().unwrap();
    fail(&b);
    fail(&b);
    assert_eq!((b.state(), b.failure_count()), (State::Open, 2));
    slow_success.success();
    assert_eq!(
        (b.state(), b.failure_count()),
        (State::Open, 2),
        "a stale success must not close"
    );
    slow_failure.failure();
    assert_eq!(b.failure_count(), 2, "a stale failure must not count");
    assert_eq!(b.open_remaining(), SEC, "nor restart the timer");
}

#[test]
fn a_closed_permit_reporting_in_a_later_closed_cycle_is_discarded() {
    let clock = ManualClock::new();
    let b = manual(1, SEC, &clock);
    let old = b.try_acquire().unwrap();
    let old_owned = {
        let shared = Arc::new(manual(1, SEC, &clock));
        let permit = shared.try_acquire_owned().unwrap();
        let _ = shared.call(|| Err::<(), _>("x"));
        clock.advance(SEC);
        assert_eq!(shared.call(|| Ok::<_, ()>(())), Ok(()));
        (shared, permit)
    };
    fail(&b);
    clock.advance(SEC);
    succeed(&b);
    assert!(b.is_closed());
    old.failure(); // threshold 1: a counted failure would open the breaker
    assert_eq!((b.state(), b.failure_count()), (State::Closed, 0));

    // The same with an owned permit reported from another thread.
    let (shared, permit) = old_owned;
    std::thread::spawn(move || permit.failure()).join().unwrap();
    assert_eq!((shared.state(), shared.failure_count()), (State::Closed, 0));
}

#[test]
fn a_probe_reporting_after_it_was_replaced_is_discarded() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .failure_threshold(1)
        .recovery_timeout(Duration::from_secs(10))
        .probe_deadline(Duration::from_secs(2))
        .clock(clock.clone())
        .build()
        .unwrap();
    fail(&b);
    clock.advance(Duration::from_secs(10));
    let slow = b.try_acquire().unwrap();
    assert!(slow.is_probe());
    clock.advance(Duration::from_secs(2));
    let fresh = b.try_acquire().unwrap();
    assert!(fresh.is_probe(), "replaced after the probe deadline");
    slow.success();
    assert_eq!(
        b.state(),
        State::HalfOpen,
        "the replaced probe's success is discarded"
    );
    assert_eq!(
        rejection(&b).to_string(),
        r#"circuit "unnamed" is half-open (1 failure, probe in flight)"#
    );
    fresh.failure();
    assert_eq!((b.state(), b.failure_count()), (State::Open, 2));
    assert_eq!(b.open_remaining(), Duration::from_secs(10));
}

#[test]
fn a_forgotten_probe_is_reclaimed_after_the_default_deadline() {
    let clock = ManualClock::new();
    let b = manual(1, Duration::from_secs(30), &clock);
    fail(&b);
    clock.advance(Duration::from_secs(30));
    let probe = b.try_acquire().unwrap();
    assert!(probe.is_probe());
    std::mem::forget(probe);
    assert_eq!(b.state(), State::HalfOpen);
    clock.advance(Duration::from_millis(29_999));
    let rejected = rejection(&b);
    assert_eq!(
        (rejected.state(), rejected.remaining()),
        (State::HalfOpen, Duration::ZERO)
    );
    clock.advance(MS);
    let next = b
        .try_acquire()
        .expect("the lost probe is replaced at the deadline");
    assert!(next.is_probe());
    next.success();
    assert!(b.is_closed());
}

#[test]
fn a_forgotten_future_probe_is_reclaimed_after_a_custom_deadline() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .failure_threshold(1)
        .recovery_timeout(Duration::from_secs(30))
        .probe_deadline(Duration::from_secs(5))
        .clock(clock.clone())
        .build()
        .unwrap();
    fail(&b);
    clock.advance(Duration::from_secs(30));
    let mut stuck = Box::pin(std::future::pending::<Result<(), ()>>().circuit(&b));
    assert!(poll_once(&mut stuck).is_pending());
    assert!(format!("{stuck:?}").contains("probing"));
    std::mem::forget(stuck);
    clock.advance(Duration::from_secs(4));
    assert_eq!(rejection(&b).state(), State::HalfOpen);
    clock.advance(SEC);
    assert!(b.try_acquire().unwrap().is_probe());
}

#[test]
fn an_ignored_outcome_is_the_same_as_dropping() {
    let clock = ManualClock::new();
    let b = manual(2, SEC, &clock);
    fail(&b);
    b.try_acquire().unwrap().record_outcome(Outcome::Ignore);
    assert_eq!(b.failure_count(), 1, "neither reset nor counted");
    fail(&b);
    clock.advance(SEC);
    let probe = b.try_acquire().unwrap();
    assert!(probe.is_probe());
    probe.record_outcome(Outcome::Ignore);
    let next = b.try_acquire().unwrap();
    assert!(next.is_probe(), "the slot was freed");
    drop(next);
    assert!(b.try_acquire().unwrap().is_probe());
}

// ---------------------------------------------------------------------------------------------
// Panicking work, dropped futures
// ---------------------------------------------------------------------------------------------

#[test]
fn a_panic_in_sync_work_counts_as_a_failure_and_goes_on() {
    let clock = ManualClock::new();
    let b = manual(2, SEC, &clock);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        b.call(|| -> Result<(), ()> { panic!("deliberate panic in guarded work") })
    }));
    assert!(caught.is_err(), "the panic propagates");
    assert_eq!((b.state(), b.failure_count()), (State::Closed, 1));
    let caught = catch_unwind(AssertUnwindSafe(|| {
        b.call_or_else(
            || -> Result<(), ()> { panic!("deliberate panic in guarded work") },
            |_| Ok(()),
        )
    }));
    assert!(caught.is_err());
    assert_eq!((b.state(), b.failure_count()), (State::Open, 2));

    // A panicking probe re-opens with a fresh timer.
    clock.advance(SEC);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        b.call(|| -> Result<(), ()> { panic!("deliberate panic in the probe") })
    }));
    assert!(caught.is_err());
    assert_eq!((b.state(), b.failure_count()), (State::Open, 3));
    assert_eq!(b.open_remaining(), SEC);
}

/// A future that is pending on its first poll and panics on its second.
struct PanicsOnSecondPoll {
    polled: bool,
}

impl Future for PanicsOnSecondPoll {
    type Output = Result<(), &'static str>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        assert!(!self.polled, "deliberate panic in a guarded future");
        self.polled = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[test]
fn a_panic_while_polling_a_guarded_future_counts_as_a_failure() {
    let clock = ManualClock::new();
    let b = manual(2, SEC, &clock);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        block_on(PanicsOnSecondPoll { polled: false }.circuit(&b))
    }));
    assert!(caught.is_err());
    assert_eq!((b.state(), b.failure_count()), (State::Closed, 1));

    // Panicking on the first poll, through an owned handle, then dropping the future after the
    // panic: counted once, and the drop adds nothing.
    let shared = Arc::new(manual(3, SEC, &clock));
    let mut guarded = Box::pin(
        async {
            assert!(!shared_panics(), "deliberate panic in a guarded future");
            Ok::<(), &'static str>(())
        }
        .with_breaker(Arc::clone(&shared)),
    );
    let caught = catch_unwind(AssertUnwindSafe(|| poll_once(&mut guarded)));
    assert!(caught.is_err());
    drop(guarded);
    assert_eq!(shared.failure_count(), 1);

    // A panicking probe future re-opens the breaker.
    fail(&b);
    assert!(b.is_open());
    clock.advance(SEC);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        block_on(PanicsOnSecondPoll { polled: false }.circuit(&b))
    }));
    assert!(caught.is_err());
    assert_eq!((b.state(), b.failure_count()), (State::Open, 3));
}

#[test]
fn a_guarded_future_dropped_mid_flight_records_nothing() {
    let clock = ManualClock::new();
    let b = manual(3, SEC, &clock);
    fail(&b);
    fail(&b);
    // Closed: admitted, pending, dropped. Neither a failure (would open) nor a success (would
    // reset the count).
    let mut guarded = Box::pin(std::future::pending::<Result<(), ()>>().circuit(&b));
    assert!(poll_once(&mut guarded).is_pending());
    drop(guarded);
    assert_eq!((b.state(), b.failure_count()), (State::Closed, 2));

    // The same with a fallback wrapped around it.
    let mut guarded = Box::pin(
        std::future::pending::<Result<(), ()>>()
            .circuit(&b)
            .fallback_value(()),
    );
    assert!(poll_once(&mut guarded).is_pending());
    drop(guarded);
    assert_eq!((b.state(), b.failure_count()), (State::Closed, 2));

    fail(&b);
    assert!(b.is_open());
    // Never polled while open: never admitted, does not take the probe slot.
    clock.advance(SEC);
    drop(async { Ok::<_, ()>(()) }.circuit(&b));
    // A probe future dropped mid-flight frees the slot for the next caller.
    let mut probe = Box::pin(std::future::pending::<Result<(), ()>>().circuit(&b));
    assert!(poll_once(&mut probe).is_pending());
    assert_eq!(rejection(&b).state(), State::HalfOpen);
    drop(probe);
    assert_eq!(b.failure_count(), 3);
    let next = b.try_acquire().unwrap();
    assert!(next.is_probe());
    next.success();
    assert_eq!((b.state(), b.failure_count()), (State::Closed, 0));
}

/// Always true; keeps the compiler from treating the code after the panic as unreachable.
fn shared_panics() -> bool {
    std::hint::black_box(true)
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

#[test]
fn rejection_messages() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .name("payments")
        .failure_threshold(5)
        .recovery_timeout(Duration::from_secs(30))
        .probe_deadline(Duration::from_secs(60))
        .clock(clock.clone())
        .build()
        .unwrap();
    for _ in 0..5 {
        let _ = b.call(|| Err::<(), _>("down"));
    }
    clock.advance(SEC);
    let rejected = rejection(&b);
    assert_eq!(rejected.name(), "payments");
    assert_eq!(rejected.state(), State::Open);
    assert_eq!(rejected.failures(), 5);
    assert_eq!(rejected.remaining(), Duration::from_secs(29));
    assert_eq!(
        rejected.to_string(),
        r#"circuit "payments" is open (5 failures, 29s remaining)"#
    );

    // Whole seconds round up while any time remains; below a second, milliseconds.
    let open_msg = |remaining: &str| {
        format!(r#"circuit "payments" is open (5 failures, {remaining} remaining)"#)
    };
    clock.advance(Duration::from_millis(27_999));
    assert_eq!(rejection(&b).remaining(), Duration::from_millis(1_001));
    assert_eq!(rejection(&b).to_string(), open_msg("2s"));
    clock.advance(MS);
    assert_eq!(rejection(&b).to_string(), open_msg("1s"));
    clock.advance(MS);
    assert_eq!(rejection(&b).to_string(), open_msg("999ms"));
    clock.advance(Duration::from_millis(249));
    assert_eq!(rejection(&b).to_string(), open_msg("750ms"));
    clock.advance(Duration::from_millis(749));
    assert_eq!(rejection(&b).to_string(), open_msg("1ms"));
    clock.advance(MS);
    assert_eq!(b.state(), State::HalfOpen);

    // Half-open with a probe in flight.
    let probe = b.try_acquire().unwrap();
    let rejected = rejection(&b);
    assert_eq!(
        (rejected.state(), rejected.remaining()),
        (State::HalfOpen, Duration::ZERO)
    );
    assert_eq!(
        rejected.to_string(),
        r#"circuit "payments" is half-open (5 failures, probe in flight)"#
    );
    probe.failure();
    assert_eq!(
        rejection(&b).to_string(),
        r#"circuit "payments" is open (6 failures, 30s remaining)"#
    );

    // Through `Error`: a rejection prints the same message, the call's own error prints itself.
    let err: Error<&str> = b.call(|| Ok(())).unwrap_err();
    assert!(err.is_open());
    assert_eq!(
        err.to_string(),
        r#"circuit "payments" is open (6 failures, 30s remaining)"#
    );
    assert_eq!(
        Error::Inner("connection refused").to_string(),
        "connection refused"
    );
    let err = block_on(async { Ok::<(), &str>(()) }.circuit(&b)).unwrap_err();
    assert_eq!(err.open_error().map(OpenError::failures), Some(6));

    // One failure: singular; a runtime name; the unnamed breaker.
    let one = manual(1, SEC, &clock);
    fail(&one);
    assert_eq!(
        rejection(&one).to_string(),
        r#"circuit "unnamed" is open (1 failure, 1s remaining)"#
    );
    let named = CircuitBreaker::builder()
        .name(format!("shard-{}", 7))
        .failure_threshold(1)
        .clock(clock.clone())
        .build()
        .unwrap();
    fail(&named);
    assert_eq!(
        rejection(&named).to_string(),
        r#"circuit "shard-7" is open (1 failure, 30s remaining)"#
    );
}
