//! Stress: several threads hammer one breaker on the real default clock with millisecond
//! timeouts, against a flaky simulated dependency (a per-thread xorshift, so each thread's
//! choices are reproducible; the interleaving of course is not).
//!
//! What is asserted, none of it about speed:
//!
//! 1. **One probe at a time.** Every probe permit increments an in-flight counter right after
//!    admission and decrements it right before reporting; the counter never exceeds 1. (The
//!    decrement comes *before* the report: once the report is in, the next probe may legitimately
//!    be admitted at once, for example after a dropped probe.) The probe deadline is set far
//!    beyond the run, so no probe is ever presumed lost and the bound is exact.
//! 2. **Progress.** The breaker keeps cycling closed → open → half-open → closed: each run
//!    continues until it has seen `cycles` recoveries (probe successes) *and* as many callers
//!    admitted into a closed breaker after having been rejected, under a generous wall-clock
//!    deadline whose only purpose is to turn a wedged breaker into a failure instead of a hang.
//!    After the threads stop, the breaker must recover once more from whatever state they left.
//! 3. **Exact accounting.** Probes are serialised, so the test keeps a ledger inside each
//!    probe's exclusive window: probes admitted = successes + failures + drops; every open
//!    episode that saw a probe ends with exactly one probe success; while a probe is in flight
//!    the breaker reads half-open with exactly `threshold + failed probes so far in this
//!    episode` failures (so no stale or concurrent outcome slipped into the word); every
//!    rejection carries consistent fields; and the final state matches the ledger.
//!
//! Scale it with `ASYNC_BREAKER_STRESS_ITERS` (default 100: recoveries per scenario; try
//! 10000 for a long soak).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use async_breaker::{CircuitBreaker, CircuitExt, Error, OpenError, Permit, State};

const THREADS: usize = 4;

fn cycles() -> u64 {
    std::env::var("ASYNC_BREAKER_STRESS_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

/// A deadline that only a wedged breaker can reach: scales with the work asked for.
fn deadline(cycles: u64) -> Duration {
    Duration::from_secs(60) + Duration::from_millis(cycles.saturating_mul(100))
}

/// xorshift64: a tiny deterministic generator, one per thread.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// Simulated work: a short spin, sometimes a yield, so calls overlap.
    fn work(&mut self) {
        let spins = self.next() % 200;
        for _ in 0..spins {
            std::hint::spin_loop();
        }
        if self.chance(10) {
            thread::yield_now();
        }
    }
}

/// The ledger kept inside probes' exclusive windows, and the counters of the whole run.
#[derive(Default)]
struct Ledger {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    probes: AtomicU64,
    probe_successes: AtomicU64,
    probe_failures: AtomicU64,
    probe_drops: AtomicU64,
    /// Open episodes in which a probe was admitted.
    episodes: AtomicU64,
    /// Whether the current episode has had a probe and not yet a successful one.
    episode_active: AtomicBool,
    /// Failed probes so far in the current episode.
    episode_failures: AtomicU64,
    /// Callers admitted into a closed breaker right after having been rejected.
    readmissions: AtomicU64,
    rejections: AtomicU64,
    closed_calls: AtomicU64,
    /// Mixed scenario: `call()`s whose closure ran / were rejected.
    calls_ran: AtomicU64,
    calls_rejected: AtomicU64,
    violations: Mutex<Vec<String>>,
    stop: AtomicBool,
}

impl Ledger {
    fn violation(&self, message: String) {
        self.violations.lock().unwrap().push(message);
        self.stop.store(true, SeqCst);
    }

    fn check(&self, ok: bool, message: impl FnOnce() -> String) {
        if !ok {
            self.violation(message());
        }
    }

    fn enter_probe(&self) {
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.max_in_flight.fetch_max(now, SeqCst);
        self.check(now <= 1, || format!("{now} probes in flight at once"));
    }

    fn leave_probe(&self) {
        self.in_flight.fetch_sub(1, SeqCst);
    }
}

/// Every rejection must describe a breaker that has reached its threshold: open with time left
/// (at most the recovery timeout), or half-open with a probe in flight and none left.
fn check_rejection(ledger: &Ledger, rejected: &OpenError, threshold: u32, recovery: Duration) {
    let ok = rejected.failures() >= threshold
        && match rejected.state() {
            State::Open => {
                rejected.remaining() > Duration::ZERO && rejected.remaining() <= recovery
            }
            State::HalfOpen => rejected.remaining() == Duration::ZERO,
            _ => false,
        };
    ledger.check(ok, || format!("inconsistent rejection: {rejected:?}"));
}

struct Scenario {
    name: &'static str,
    threshold: u32,
    recovery: Duration,
    /// Percent of calls that fail while the breaker is closed.
    closed_failure_rate: u64,
    /// Percent of probes that fail / are dropped without an outcome.
    probe_failure_rate: u64,
    probe_drop_rate: u64,
}

fn breaker(s: &Scenario) -> CircuitBreaker {
    CircuitBreaker::builder()
        .name(s.name)
        .failure_threshold(s.threshold)
        .recovery_timeout(s.recovery)
        // Far beyond any run: no probe is presumed lost, so "one in flight" is exact.
        .probe_deadline(Duration::from_secs(24 * 3_600))
        .build()
        .expect("valid configuration")
}

/// The body of one probe, inside its exclusive window: checks the breaker against the ledger,
/// picks an outcome, updates the ledger, and only then reports.
fn run_probe(permit: Permit<'_>, s: &Scenario, ledger: &Ledger, rng: &mut Rng) {
    let b = permit.breaker();
    ledger.enter_probe();
    ledger.probes.fetch_add(1, SeqCst);
    if !ledger.episode_active.swap(true, SeqCst) {
        ledger.episodes.fetch_add(1, SeqCst);
        ledger.episode_failures.store(0, SeqCst);
    }
    let expected = u64::from(s.threshold) + ledger.episode_failures.load(SeqCst);
    let (state, failures) = (b.state(), b.failure_count());
    ledger.check(
        state == State::HalfOpen && u64::from(failures) == expected,
        || format!("probe sees {state} with {failures} failures, ledger expects half-open with {expected}"),
    );
    rng.work();
    let roll = rng.next() % 100;
    if roll < s.probe_drop_rate {
        ledger.probe_drops.fetch_add(1, SeqCst);
        ledger.leave_probe();
        drop(permit);
    } else if roll < s.probe_drop_rate + s.probe_failure_rate {
        ledger.probe_failures.fetch_add(1, SeqCst);
        ledger.episode_failures.fetch_add(1, SeqCst);
        ledger.leave_probe();
        permit.failure();
    } else {
        ledger.probe_successes.fetch_add(1, SeqCst);
        ledger.episode_active.store(false, SeqCst);
        ledger.leave_probe();
        permit.success();
    }
}

fn done(ledger: &Ledger, target: u64) -> bool {
    ledger.probe_successes.load(SeqCst) >= target && ledger.readmissions.load(SeqCst) >= target
}

/// One worker: permits only (closed calls, held-over stale permits, probes).
fn permit_worker(b: &CircuitBreaker, s: &Scenario, ledger: &Ledger, seed: u64, target: u64) {
    let mut rng = Rng::new(seed);
    // Closed-state permits held across iterations: by the time they report, the breaker has
    // often moved to another cycle, and their outcome must be discarded.
    let mut held: Vec<(Permit<'_>, bool)> = Vec::new();
    let mut was_rejected = false;
    let start = Instant::now();
    while !ledger.stop.load(SeqCst) && !done(ledger, target) {
        if start.elapsed() > deadline(target) {
            ledger.violation(format!("no progress before the deadline: {b:?}"));
            break;
        }
        if !held.is_empty() && rng.chance(30) {
            let (permit, ok) = held.swap_remove(0);
            if ok {
                permit.success();
            } else {
                permit.failure();
            }
        }
        match b.try_acquire() {
            Err(rejected) => {
                ledger.rejections.fetch_add(1, SeqCst);
                check_rejection(ledger, &rejected, s.threshold, s.recovery);
                was_rejected = true;
                // The open period lasts milliseconds; don't burn a whole core asking.
                if rng.chance(50) {
                    thread::yield_now();
                }
            }
            Ok(permit) if permit.is_probe() => {
                was_rejected = false;
                run_probe(permit, s, ledger, &mut rng);
            }
            Ok(permit) => {
                ledger.closed_calls.fetch_add(1, SeqCst);
                if was_rejected {
                    ledger.readmissions.fetch_add(1, SeqCst);
                    was_rejected = false;
                }
                let ok = !rng.chance(s.closed_failure_rate);
                if held.len() < 4 && rng.chance(5) {
                    held.push((permit, ok));
                    continue;
                }
                rng.work();
                match rng.next() % 20 {
                    0 => drop(permit),
                    _ if ok => permit.success(),
                    _ => permit.failure(),
                }
            }
        }
    }
    // Held permits are dropped without an outcome: that records nothing.
    drop(held);
}

/// Final checks once every thread has stopped, then one more recovery from whatever state the
/// threads left behind.
fn quiesce(b: &CircuitBreaker, s: &Scenario, ledger: &Ledger) {
    let violations = ledger.violations.lock().unwrap();
    assert!(violations.is_empty(), "{}: {violations:#?}", s.name);
    drop(violations);
    assert_eq!(
        ledger.max_in_flight.load(SeqCst),
        1,
        "probes were admitted one at a time"
    );
    let probes = ledger.probes.load(SeqCst);
    let (successes, failures, drops) = (
        ledger.probe_successes.load(SeqCst),
        ledger.probe_failures.load(SeqCst),
        ledger.probe_drops.load(SeqCst),
    );
    assert_eq!(
        probes,
        successes + failures + drops,
        "every probe is accounted for"
    );
    let active = ledger.episode_active.load(SeqCst);
    assert_eq!(
        ledger.episodes.load(SeqCst),
        successes + u64::from(active),
        "every finished open episode ended with exactly one successful probe"
    );
    let threshold = u64::from(s.threshold);
    let failure_count = u64::from(b.failure_count());
    match b.state() {
        State::Closed => {
            assert!(!active, "closed, yet the last probe did not succeed");
            assert!(failure_count < threshold);
        }
        state => {
            let expected = threshold
                + if active {
                    ledger.episode_failures.load(SeqCst)
                } else {
                    0
                };
            assert_eq!(
                failure_count, expected,
                "{state} breaker's count vs the ledger"
            );
        }
    }

    // Never stuck: from here a lone caller gets it closed again.
    let start = Instant::now();
    loop {
        assert!(start.elapsed() < Duration::from_secs(30), "stuck: {b:?}");
        match b.try_acquire() {
            Ok(permit) => {
                permit.success();
                if b.is_closed() {
                    break;
                }
            }
            Err(_) => thread::sleep(Duration::from_millis(1)),
        }
    }
    assert_eq!(b.failure_count(), 0);
}

fn run_permits(s: &Scenario) {
    let target = cycles();
    let b = breaker(s);
    let ledger = Ledger::default();
    thread::scope(|scope| {
        for t in 0..THREADS {
            let (b, ledger) = (&b, &ledger);
            scope.spawn(move || permit_worker(b, s, ledger, t as u64 + 1, target));
        }
    });
    quiesce(&b, s, &ledger);
    assert!(ledger.probe_successes.load(SeqCst) >= target);
    assert!(ledger.readmissions.load(SeqCst) >= target);
    eprintln!(
        "{}: {} probes ({} ok, {} failed, {} dropped), {} closed calls, {} rejections",
        s.name,
        ledger.probes.load(SeqCst),
        ledger.probe_successes.load(SeqCst),
        ledger.probe_failures.load(SeqCst),
        ledger.probe_drops.load(SeqCst),
        ledger.closed_calls.load(SeqCst),
        ledger.rejections.load(SeqCst),
    );
}

#[test]
fn permits_one_millisecond_recovery() {
    run_permits(&Scenario {
        name: "stress-1ms",
        threshold: 3,
        recovery: Duration::from_millis(1),
        closed_failure_rate: 45,
        probe_failure_rate: 40,
        probe_drop_rate: 15,
    });
}

#[test]
fn permits_threshold_one_three_millisecond_recovery() {
    run_permits(&Scenario {
        name: "stress-3ms",
        threshold: 1,
        recovery: Duration::from_millis(3),
        closed_failure_rate: 10,
        probe_failure_rate: 30,
        probe_drop_rate: 20,
    });
}

/// Mixed traffic: `call()`, guarded futures and permits on one breaker. A `call()` or a future
/// may be the probe without the test knowing, so the exact ledger does not apply; what must
/// still hold: permit probes never overlap, a rejected call never runs its work, every
/// rejection is consistent, and the breaker keeps cycling.
#[test]
fn mixed_calls_futures_and_permits() {
    let s = Scenario {
        name: "stress-mixed",
        threshold: 3,
        recovery: Duration::from_millis(2),
        closed_failure_rate: 35,
        probe_failure_rate: 30,
        probe_drop_rate: 10,
    };
    // Only permit probes are known to be probes: about a third of them.
    let target = cycles().div_ceil(3);
    let b = breaker(&s);
    let ledger = Ledger::default();
    thread::scope(|scope| {
        for t in 0..THREADS {
            let (b, ledger, s) = (&b, &ledger, &s);
            scope.spawn(move || mixed_worker(b, s, ledger, t, target));
        }
    });
    let violations = ledger.violations.lock().unwrap();
    assert!(violations.is_empty(), "{violations:#?}");
    assert!(ledger.max_in_flight.load(SeqCst) <= 1);
    assert!(ledger.probe_successes.load(SeqCst) >= target);
    let count = b.failure_count();
    match b.state() {
        State::Closed => assert!(count < s.threshold),
        _ => assert!(count >= s.threshold),
    }
    eprintln!(
        "stress-mixed: {} calls ran, {} rejected; permits: {} probes ({} ok), {} closed",
        ledger.calls_ran.load(SeqCst),
        ledger.calls_rejected.load(SeqCst),
        ledger.probes.load(SeqCst),
        ledger.probe_successes.load(SeqCst),
        ledger.closed_calls.load(SeqCst),
    );
}

/// Probes that are leaked with `mem::forget` never report. With a short probe deadline the
/// breaker must reclaim the slot and keep cycling.
#[test]
fn leaked_probes_are_reclaimed_under_load() {
    let target = cycles().div_ceil(2);
    let b = CircuitBreaker::builder()
        .name("stress-leaks")
        .failure_threshold(2)
        .recovery_timeout(Duration::from_millis(2))
        .probe_deadline(Duration::from_millis(3))
        .build()
        .unwrap();
    let recoveries = AtomicU64::new(0);
    let leaked = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    thread::scope(|scope| {
        for t in 0..THREADS {
            let (b, recoveries, leaked, stop) = (&b, &recoveries, &leaked, &stop);
            scope.spawn(move || {
                let mut rng = Rng::new(200 + t as u64);
                let start = Instant::now();
                while !stop.load(SeqCst) && recoveries.load(SeqCst) < target {
                    assert!(start.elapsed() < deadline(target), "wedged: {b:?}");
                    match b.try_acquire() {
                        Ok(permit) if permit.is_probe() => match rng.next() % 3 {
                            0 => {
                                leaked.fetch_add(1, SeqCst);
                                std::mem::forget(permit);
                            }
                            1 => permit.failure(),
                            _ => {
                                permit.success();
                                recoveries.fetch_add(1, SeqCst);
                            }
                        },
                        Ok(permit) => {
                            if rng.chance(40) {
                                permit.failure();
                            } else {
                                permit.success();
                            }
                        }
                        Err(_) => thread::yield_now(),
                    }
                }
                stop.store(true, SeqCst);
            });
        }
    });
    assert!(recoveries.load(SeqCst) >= target);
    eprintln!(
        "stress-leaks: {} recoveries, {} probes leaked",
        recoveries.load(SeqCst),
        leaked.load(SeqCst)
    );
}

/// One worker of the mixed scenario.
fn mixed_worker(b: &CircuitBreaker, s: &Scenario, ledger: &Ledger, t: usize, target: u64) {
    let mut rng = Rng::new(100 + t as u64);
    let start = Instant::now();
    while !ledger.stop.load(SeqCst) && ledger.probe_successes.load(SeqCst) < target {
        if start.elapsed() > deadline(target) {
            ledger.violation(format!("no progress before the deadline: {b:?}"));
            break;
        }
        let fail = rng.chance(s.closed_failure_rate);
        let spins = rng.next() % 200;
        let work = || {
            for _ in 0..spins {
                std::hint::spin_loop();
            }
        };
        let ran = AtomicBool::new(false);
        let result = match rng.next() % 3 {
            0 => b.call(|| {
                ran.store(true, SeqCst);
                work();
                if fail {
                    Err("down")
                } else {
                    Ok(())
                }
            }),
            1 => futures::executor::block_on(
                async {
                    ran.store(true, SeqCst);
                    work();
                    if fail {
                        Err("down")
                    } else {
                        Ok(())
                    }
                }
                .circuit(b),
            ),
            _ => match b.try_acquire() {
                Ok(permit) if permit.is_probe() => {
                    ledger.enter_probe();
                    ledger.probes.fetch_add(1, SeqCst);
                    ran.store(true, SeqCst);
                    rng.work();
                    ledger.leave_probe();
                    if rng.chance(s.probe_failure_rate) {
                        permit.failure();
                        Err(Error::Inner("down"))
                    } else {
                        // Never stale (no deadline can pass): this closes it.
                        ledger.probe_successes.fetch_add(1, SeqCst);
                        permit.success();
                        Ok(())
                    }
                }
                Ok(permit) => {
                    ledger.closed_calls.fetch_add(1, SeqCst);
                    ran.store(true, SeqCst);
                    work();
                    permit.record(&if fail { Err("down") } else { Ok(()) });
                    Ok(())
                }
                Err(rejected) => Err(Error::Open(rejected)),
            },
        };
        match result {
            Err(Error::Open(rejected)) => {
                ledger.calls_rejected.fetch_add(1, SeqCst);
                ledger.check(!ran.load(SeqCst), || "a rejected call ran".into());
                check_rejection(ledger, &rejected, s.threshold, s.recovery);
                thread::yield_now();
            }
            Ok(()) | Err(Error::Inner(_)) => {
                ledger.calls_ran.fetch_add(1, SeqCst);
                ledger.check(ran.load(SeqCst), || "an admitted call did not run".into());
            }
        }
    }
}
