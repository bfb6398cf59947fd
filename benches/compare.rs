//! `async-breaker` side by side with `failsafe` 1.x, `recloser` 1.x, `circuitbreaker-rs` 0.1,
//! `tower-resilience-circuitbreaker` 0.14 and a bare baseline.
//!
//! Run: `cargo bench --bench compare` (1 s warm-up, 3 s measurement per benchmark by default),
//! then `python3 scripts/bench_chart.py` for the median table and `docs/bench.svg`.
//!
//! Every benchmark id is `<group>/<contestant>`, contestant one of `async-breaker`, `failsafe`,
//! `recloser`, `circuitbreaker-rs`, `tower-resilience`, `bare`, or one of our variants (names
//! are stable: `scripts/bench_chart.py` parses them). `tower-resilience` is in the one-thread
//! groups only (see its section below for why).
//!
//! The default `async-breaker` contestant is named with a `&'static str`; two variants are named
//! at run time, as a per-host breaker is, so the rejection groups show what each kind of name
//! costs:
//!
//! | contestant                   | named with                                   | in groups                       |
//! |------------------------------|----------------------------------------------|---------------------------------|
//! | `async-breaker+string-name`  | `format!("upstream-{host}")` (a `String`)    | open reject (1 and 2 threads),  |
//! |                              |                                              | half-open probe in flight       |
//! | `async-breaker+cow-name`     | `Cow::Owned(format!(..))`                    | open reject (1 and 2 threads)   |
//!
//! The opt-in variants:
//!
//! | contestant                   | our breaker, plus                                           | in groups                       |
//! |------------------------------|-------------------------------------------------------------|---------------------------------|
//! | `async-breaker+metrics`      | `.metrics()` (cache-padded outcome/transition counters)     | closed success, closed failure, |
//! |                              |                                                             | open reject                     |
//! | `async-breaker+facade`       | `.export_metrics()` (feature `metrics`): one increment per  | closed success, closed failure, |
//! |                              | outcome through a `metrics` handle of a Prometheus recorder | open reject                     |
//! |                              | (`cargo bench --bench compare --features metrics`)          |                                 |
//! | `async-breaker+rate`         | `.failure_rate(FailureRate::last_calls(20, 10, 60))` in     | closed success, closed failure  |
//! |                              | place of 5 consecutive failures (a one-word window)         |                                 |
//! | `async-breaker+rate100`      | `.failure_rate(FailureRate::last_calls(100, 50, 60))`: a    | closed success, closed failure  |
//! |                              | ring of 128 slots behind a head word                        |                                 |
//! | `async-breaker+rate1000`     | `.failure_rate(FailureRate::last_calls(1000, 500, 60))`: a  | closed success, closed failure  |
//! |                              | ring of 1024 slots (8 KiB) behind a head word               |                                 |
//! | `async-breaker+slow`         | `.slow_call_threshold(1 h)`: every call timed (two clock    | closed success, closed failure  |
//! |                              | reads); none is slow                                        |                                 |
//! | `async-breaker+coarse-clock` | `.clock(CoarseClock)`: `quanta::Instant::recent()`, kept    | open reject (1 and 2 threads)   |
//! |                              | fresh by a quanta upkeep thread (1 ms) started by the bench |                                 |
//!
//! | group                              | one iteration is                                          |
//! |------------------------------------|-----------------------------------------------------------|
//! | `closed_success_sync`              | 1 sync call, closure returns `Ok`, breaker closed         |
//! | `closed_failure_sync`              | 2 sync calls: one `Err` then one `Ok` (the success resets |
//! |                                    | the consecutive-failure count, so the breaker never opens)|
//! | `open_reject`                      | 1 sync call on an open breaker (rejected, closure unused) |
//! | `half_open_probe_in_flight_reject` | 1 call rejected because a half-open probe is in flight    |
//! |                                    | (no peer can express this, see the group's comment)       |
//! | `future_closed_success`            | build the wrapped future + poll it once with a no-op      |
//! |                                    | waker; it must be `Ready(Ok(1))`. No runtime involved.    |
//! | `one_thread_closed_success`        | 1 call on 1 thread (same harness as the 2-thread group)   |
//! | `two_threads_closed_success`       | 1 call on *each* of 2 threads sharing one breaker         |
//! | `one_thread_open_reject`           | like above, breaker open                                  |
//! | `two_threads_open_reject`          | like above, breaker open                                  |
//! | `one_thread_closed_failure`        | 1 failing call then 1 successful call, on 1 thread         |
//! | `two_threads_closed_failure`       | the same on *each* of 2 threads: a failure storm, each     |
//! |                                    | thread's success resetting what both counted              |
//! | `build`                            | build one breaker (ours only; see the group's comment)    |
//!
//! Configuration shared by every contestant: open after 5 consecutive failures (except
//! `async-breaker+rate`, see above), stay open for `OPEN_WAIT` (1 h) so an open breaker never
//! drifts to half-open during a run.
//!
//! `bare` is "no breaker bookkeeping at all": one `Relaxed` load of an `open` flag, then the
//! closure is called directly (or a rejection is returned if the flag is set). Nothing is
//! recorded.
//!
//! `floor` is what the hardware asks of each path, and nothing more (see its section): a load
//! for a closed success, a load and one atomic read-modify-write per counted outcome, a load
//! and a time-stamp counter read per rejection. `scripts/bench_chart.py` reports each path of
//! ours as a ratio to it. Two more floors go with the options that need more work:
//! `floor+window` (one more read-modify-write per outcome, for a rate window's own word) and
//! `floor+timed` (a time-stamp counter read before and after each call, for slow-call
//! detection), in the closed success and closed failure groups.
//!
//! Every benchmark checks the breaker's state before and after it is measured, so a
//! misconfiguration fails the run instead of quietly measuring the wrong path.

use std::future::{ready, Future};
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use async_breaker::{CircuitBreaker, CircuitExt, Clock, FailureRate, ManualClock, State};
use criterion::measurement::WallTime;
use criterion::{criterion_main, Bencher, BenchmarkGroup, Criterion, Throughput};

/// Consecutive failures that open the breaker (every contestant is set up alike).
const FAILURES_TO_OPEN: u32 = 5;
/// Open-state wait: far longer than any bench run.
const OPEN_WAIT: Duration = Duration::from_secs(3600);

/// What the protected operation returns.
type Op = Result<u64, u64>;

// `inline(always)`: the measured loops must not pay for a call to build the operand.
#[allow(clippy::inline_always, clippy::unnecessary_wraps)]
#[inline(always)]
fn succeed() -> Op {
    Ok(black_box(1u64))
}

#[allow(clippy::inline_always)]
#[inline(always)]
fn fail() -> Op {
    Err(black_box(7u64))
}

/// Coarse classification of a contestant's own result type; used only outside timed loops
/// (sanity checks before/after measuring), never inside them.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Outcome {
    Ok,
    Failed,
    Rejected,
}

/// A sync contestant. `Out` is the contestant's own return type, so no conversion cost is
/// added to the measured path (criterion `black_box`es it as is).
trait Contestant: Sync {
    const NAME: &'static str;
    type Out;
    /// A fresh breaker configured as described in the module docs.
    fn new_breaker() -> Self;
    fn call<F: FnOnce() -> Op>(&self, f: F) -> Self::Out;
    fn outcome(out: &Self::Out) -> Outcome;

    /// Drive the breaker to open with failing calls only; returns how many failures were
    /// recorded before the first rejection (no successful probe in between, since a success
    /// would reset the count).
    fn trip(&self) -> u32 {
        let limit = 4 * FAILURES_TO_OPEN;
        for recorded in 0..=limit {
            if Self::outcome(&self.call(fail)) == Outcome::Rejected {
                return recorded;
            }
        }
        panic!(
            "{}: still closed after {limit} consecutive failures",
            Self::NAME
        );
    }
}

/// A future-aware contestant (the contestant's own async wrapper).
trait FutureContestant {
    const NAME: &'static str;
    type Out;
    fn new_breaker() -> Self;
    fn call_future<F: Future<Output = Op>>(&self, f: F) -> impl Future<Output = Self::Out>;
    fn outcome(out: &Self::Out) -> Outcome;
}

// ---------------------------------------------------------------------------------------
// async-breaker (this crate)
//
// `failure_threshold(5)` is exactly "5 consecutive failures"; `recovery_timeout(1 h)` is the
// long open wait. The default classifier counts every `Err`; the default clock is quanta's.

const OURS: &str = "async-breaker";

struct Ours(CircuitBreaker);

fn ours_build() -> CircuitBreaker {
    CircuitBreaker::builder()
        .name("bench")
        .failure_threshold(FAILURES_TO_OPEN)
        .recovery_timeout(OPEN_WAIT)
        .build()
        .expect("valid breaker configuration")
}

fn ours_outcome(out: &Result<u64, async_breaker::Error<u64>>) -> Outcome {
    match out {
        Ok(_) => Outcome::Ok,
        Err(async_breaker::Error::Inner(_)) => Outcome::Failed,
        Err(async_breaker::Error::Open(_)) => Outcome::Rejected,
    }
}

impl Contestant for Ours {
    const NAME: &'static str = OURS;
    type Out = Result<u64, async_breaker::Error<u64>>;

    fn new_breaker() -> Self {
        Ours(ours_build())
    }

    #[inline]
    fn call<F: FnOnce() -> Op>(&self, f: F) -> Self::Out {
        self.0.call(f)
    }

    fn outcome(out: &Self::Out) -> Outcome {
        ours_outcome(out)
    }
}

impl FutureContestant for Ours {
    const NAME: &'static str = OURS;
    type Out = Result<u64, async_breaker::Error<u64>>;

    fn new_breaker() -> Self {
        Ours(ours_build())
    }

    fn call_future<F: Future<Output = Op>>(&self, f: F) -> impl Future<Output = Self::Out> {
        // Borrows the breaker (no `Arc` clone); admission happens on the first poll.
        f.circuit(&self.0)
    }

    fn outcome(out: &Self::Out) -> Outcome {
        ours_outcome(out)
    }
}

// ---------------------------------------------------------------------------------------
// async-breaker opt-in variants: what each costs against the default `async-breaker`.

/// A contestant that is our breaker as `$make` builds it: a tuple struct named `$ty`, with
/// `$name` as its benchmark id. The variants below differ only in how they are built.
macro_rules! ours_variant {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $make:expr) => {
        $(#[$doc])*
        struct $ty(CircuitBreaker);

        impl Contestant for $ty {
            const NAME: &'static str = $name;
            type Out = Result<u64, async_breaker::Error<u64>>;

            fn new_breaker() -> Self {
                $ty($make)
            }

            #[inline]
            fn call<F: FnOnce() -> Op>(&self, f: F) -> Self::Out {
                self.0.call(f)
            }

            fn outcome(out: &Self::Out) -> Outcome {
                ours_outcome(out)
            }
        }
    };
}

ours_variant!(
    /// `async-breaker` with `.metrics()`: every admission and outcome bumps a cache-padded
    /// counter (and the breaker leaves its "plain" closed-state fast paths).
    OursMetrics,
    "async-breaker+metrics",
    CircuitBreaker::builder()
        .name("bench")
        .failure_threshold(FAILURES_TO_OPEN)
        .recovery_timeout(OPEN_WAIT)
        .metrics()
        .build()
        .expect("valid breaker configuration")
);

/// `async-breaker` with `.export_metrics()` (feature `metrics`), its handles registered with a
/// `metrics-exporter-prometheus` recorder (what a service scraped by Prometheus runs): every
/// outcome is one increment through a handle held since `build()`.
#[cfg(feature = "metrics")]
struct OursFacade {
    breaker: CircuitBreaker,
    _recorder: metrics_exporter_prometheus::PrometheusRecorder,
}

#[cfg(feature = "metrics")]
impl Contestant for OursFacade {
    const NAME: &'static str = "async-breaker+facade";
    type Out = Result<u64, async_breaker::Error<u64>>;

    fn new_breaker() -> Self {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let breaker = metrics::with_local_recorder(&recorder, || {
            CircuitBreaker::builder()
                .name("bench")
                .failure_threshold(FAILURES_TO_OPEN)
                .recovery_timeout(OPEN_WAIT)
                .export_metrics()
                .build()
                .expect("valid breaker configuration")
        });
        OursFacade {
            breaker,
            _recorder: recorder,
        }
    }

    #[inline]
    fn call<F: FnOnce() -> Op>(&self, f: F) -> Self::Out {
        self.breaker.call(f)
    }

    fn outcome(out: &Self::Out) -> Outcome {
        ours_outcome(out)
    }
}

/// `async-breaker` with a count-based failure-rate window of the last `CALLS` calls in place of
/// consecutive failures: at least half of them finished, open at 60 % failed. Every
/// closed-state outcome is also recorded in the lock-free window (one word up to 32 calls, a
/// ring of slots behind a head word beyond). `closed_failure_sync` alternates failure and
/// success, so the window holds at most 50 % failures and never opens (at 50 % it would, as
/// soon as half the window had finished).
///
/// `OursRate<20>` is `async-breaker+rate`, `OursRate<100>` `async-breaker+rate100`,
/// `OursRate<1_000>` `async-breaker+rate1000`.
struct OursRate<const CALLS: u32>(CircuitBreaker);

impl<const CALLS: u32> Contestant for OursRate<CALLS> {
    const NAME: &'static str = match CALLS {
        20 => "async-breaker+rate",
        100 => "async-breaker+rate100",
        1_000 => "async-breaker+rate1000",
        _ => panic!("a window length with no contestant name"),
    };
    type Out = Result<u64, async_breaker::Error<u64>>;

    fn new_breaker() -> Self {
        OursRate(
            CircuitBreaker::builder()
                .name("bench")
                .failure_rate(FailureRate::last_calls(CALLS, CALLS / 2, 60))
                .recovery_timeout(OPEN_WAIT)
                .build()
                .expect("valid breaker configuration"),
        )
    }

    #[inline]
    fn call<F: FnOnce() -> Op>(&self, f: F) -> Self::Out {
        self.0.call(f)
    }

    fn outcome(out: &Self::Out) -> Outcome {
        ours_outcome(out)
    }
}

ours_variant!(
    /// `async-breaker` with `.slow_call_threshold(1 h)`: a call is timed (a clock read when it
    /// starts and one when it ends) so that a slow success can count as a failure; no call
    /// here is slow.
    OursSlow,
    "async-breaker+slow",
    CircuitBreaker::builder()
        .name("bench")
        .failure_threshold(FAILURES_TO_OPEN)
        .slow_call_threshold(OPEN_WAIT)
        .recovery_timeout(OPEN_WAIT)
        .build()
        .expect("valid breaker configuration")
);

/// A coarse clock: `quanta::Instant::recent()`, one relaxed load of a global that quanta's
/// upkeep thread refreshes every `UPKEEP_INTERVAL`, instead of the default clock's `raw()`
/// (an `rdtsc` plus scaling). It is only as fresh as the last upkeep tick, which is fine for a
/// breaker that keeps millisecond resolution. (`quanta` is a runtime dependency of the crate
/// under its default `std` feature, so the bench can name it.)
struct CoarseClock {
    origin: quanta::Instant,
}

impl Clock for CoarseClock {
    #[inline]
    fn now(&self) -> Duration {
        quanta::Instant::recent().saturating_duration_since(self.origin)
    }
}

/// How often quanta's upkeep thread refreshes `Instant::recent()`: the breaker's resolution.
const UPKEEP_INTERVAL: Duration = Duration::from_millis(1);

/// `async-breaker` with [`CoarseClock`]. It owns the upkeep thread's handle, so the thread
/// runs exactly while this contestant is being measured (quanta allows one upkeep thread per
/// process; dropping the handle stops and joins it).
struct OursCoarse {
    breaker: CircuitBreaker,
    _upkeep: quanta::Handle,
}

impl Contestant for OursCoarse {
    const NAME: &'static str = "async-breaker+coarse-clock";
    type Out = Result<u64, async_breaker::Error<u64>>;

    fn new_breaker() -> Self {
        let upkeep = quanta::Upkeep::new(UPKEEP_INTERVAL)
            .start()
            .expect("no other quanta upkeep thread is running");
        // `recent()` is seeded by `start`, so the origin is on the upkeep clock's time base.
        let clock = CoarseClock {
            origin: quanta::Instant::recent(),
        };
        OursCoarse {
            breaker: CircuitBreaker::builder()
                .name("bench")
                .failure_threshold(FAILURES_TO_OPEN)
                .recovery_timeout(OPEN_WAIT)
                .clock(clock)
                .build()
                .expect("valid breaker configuration"),
            _upkeep: upkeep,
        }
    }

    #[inline]
    fn call<F: FnOnce() -> Op>(&self, f: F) -> Self::Out {
        self.breaker.call(f)
    }

    fn outcome(out: &Self::Out) -> Outcome {
        ours_outcome(out)
    }
}

fn ours_named(name: impl Into<std::borrow::Cow<'static, str>>) -> CircuitBreaker {
    CircuitBreaker::builder()
        .name(name)
        .failure_threshold(FAILURES_TO_OPEN)
        .recovery_timeout(OPEN_WAIT)
        .build()
        .expect("valid breaker configuration")
}

ours_variant!(
    /// `async-breaker` named at run time, as a per-host breaker is
    /// (`.name(format!("upstream-{host}"))`): the name is a `String`. The default
    /// `async-breaker` contestant has a `&'static str` name.
    OursStringName,
    "async-breaker+string-name",
    ours_named(format!("upstream-{}", black_box("a.example")))
);

ours_variant!(
    /// `async-breaker` named with a `Cow::Owned` (the other runtime kind of name).
    OursCowName,
    "async-breaker+cow-name",
    ours_named(std::borrow::Cow::<'static, str>::Owned(format!(
        "upstream-{}",
        black_box("b.example")
    )))
);

// ---------------------------------------------------------------------------------------
// circuitbreaker-rs 0.1
//
// `consecutive_failures(5)` and `cooldown(1 h)`. Its default policy also trips on an error
// *rate* (>= 50 % once 10 calls were made), which `closed_failure_sync` (alternating failure
// and success) would reach: `min_throughput(u64::MAX)` switches that part off, so only the 5
// consecutive failures open it, like every other contestant. It wants a `std::error::Error`
// for the operation's error, so the `u64` is wrapped in `PeerError` (a move, no work). State:
// atomics for the counters and the state, a `parking_lot::Mutex` around the last success and
// failure times (taken on every outcome), and `Instant::now()` twice per call (its duration).

#[derive(Debug)]
struct PeerError(#[allow(dead_code)] u64);

impl std::fmt::Display for PeerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("operation failed")
    }
}

impl std::error::Error for PeerError {}

type CbrsResult = circuitbreaker_rs::BreakerResult<u64, PeerError>;

struct Cbrs(circuitbreaker_rs::CircuitBreaker<circuitbreaker_rs::DefaultPolicy, PeerError>);

impl Contestant for Cbrs {
    const NAME: &'static str = "circuitbreaker-rs";
    type Out = CbrsResult;

    fn new_breaker() -> Self {
        Cbrs(
            circuitbreaker_rs::CircuitBreaker::<circuitbreaker_rs::DefaultPolicy, PeerError>::builder()
                .consecutive_failures(u64::from(FAILURES_TO_OPEN))
                .min_throughput(u64::MAX)
                .cooldown(OPEN_WAIT)
                .build(),
        )
    }

    #[inline]
    fn call<F: FnOnce() -> Op>(&self, f: F) -> Self::Out {
        self.0.call(|| f().map_err(PeerError))
    }

    fn outcome(out: &Self::Out) -> Outcome {
        match out {
            Ok(_) => Outcome::Ok,
            Err(circuitbreaker_rs::BreakerError::Operation(_)) => Outcome::Failed,
            Err(circuitbreaker_rs::BreakerError::Open) => Outcome::Rejected,
            Err(circuitbreaker_rs::BreakerError::Internal(e)) => panic!("internal error: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// tower-resilience-circuitbreaker 0.14 (tower-resilience's circuit breaker layer)
//
// A tower `Layer` around `Echo`, a service that answers at once with the result it is given
// (so no real service is involved; the result is computed by the caller, a `black_box`ed
// constant, and passed as the request). `consecutive_failures(5)` and
// `wait_duration_in_open(1 h)`. Driven without a runtime: `poll_ready` then `call`, the boxed
// response future polled once with a no-op waker (every step completes at once on one
// thread). Its state sits behind a `tokio::sync::Mutex` (locked on every call), with an atomic
// copy of the state for `poll_ready`; every call boxes its response future.
//
// `Service::call` takes `&mut self`, and a service shared by several callers is cloned for
// each; here each thread clones it once and keeps its copy in a thread-local, so the measured
// loop pays no clone. Only single-thread groups: when two threads contend for its mutex, its
// `poll_ready` arms a `tokio::time::Sleep`, which needs a tokio runtime's timer.

#[derive(Clone, Copy)]
struct Echo;

impl tower::Service<Op> for Echo {
    type Response = u64;
    type Error = u64;
    type Future = std::future::Ready<Op>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), u64>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, result: Op) -> Self::Future {
        ready(result)
    }
}

type TowerService = tower_resilience_circuitbreaker::CircuitBreaker<
    Echo,
    tower_resilience_circuitbreaker::DefaultClassifier,
>;
type TowerOut = Result<u64, tower_resilience_circuitbreaker::CircuitBreakerError<u64>>;

/// The service every thread clones its own copy of; `id` tells contestants apart.
struct TowerResilience {
    id: usize,
    shared: std::sync::Mutex<TowerService>,
}

thread_local! {
    /// This thread's copy of the contestant's service, and the contestant it belongs to.
    static TOWER_COPY: std::cell::RefCell<Option<(usize, TowerService)>> =
        const { std::cell::RefCell::new(None) };
}

static TOWER_IDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl TowerResilience {
    #[inline]
    fn with_service<R>(&self, f: impl FnOnce(&mut TowerService) -> R) -> R {
        TOWER_COPY.with(|copy| {
            let mut copy = copy.borrow_mut();
            if copy.as_ref().map(|(id, _)| *id) != Some(self.id) {
                let service = self.shared.lock().expect("not poisoned").clone();
                *copy = Some((self.id, service));
            }
            let (_, service) = copy.as_mut().expect("just set");
            f(service)
        })
    }
}

impl Contestant for TowerResilience {
    const NAME: &'static str = "tower-resilience";
    type Out = TowerOut;

    fn new_breaker() -> Self {
        let layer = tower_resilience_circuitbreaker::CircuitBreakerLayer::builder()
            .consecutive_failures(FAILURES_TO_OPEN as usize)
            .wait_duration_in_open(OPEN_WAIT)
            .build()
            .expect("valid tower-resilience configuration");
        TowerResilience {
            id: TOWER_IDS.fetch_add(1, Ordering::Relaxed),
            shared: std::sync::Mutex::new(tower::Layer::layer(&layer, Echo)),
        }
    }

    #[inline]
    fn call<F: FnOnce() -> Op>(&self, f: F) -> Self::Out {
        self.with_service(|service| {
            let mut cx = Context::from_waker(futures::task::noop_waker_ref());
            match tower::Service::poll_ready(service, &mut cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => panic!("tower-resilience: not ready on one thread"),
            }
            poll_once(tower::Service::call(service, f()))
        })
    }

    fn outcome(out: &Self::Out) -> Outcome {
        use tower_resilience_circuitbreaker::CircuitBreakerError;
        match out {
            Ok(_) => Outcome::Ok,
            Err(CircuitBreakerError::Inner(_)) => Outcome::Failed,
            Err(CircuitBreakerError::OpenCircuit) => Outcome::Rejected,
        }
    }
}

impl FutureContestant for TowerResilience {
    const NAME: &'static str = "tower-resilience";
    type Out = TowerOut;

    fn new_breaker() -> Self {
        <TowerResilience as Contestant>::new_breaker()
    }

    /// Its own future: `poll_ready` on the first poll, then the boxed response future.
    async fn call_future<F: Future<Output = Op>>(&self, f: F) -> Self::Out {
        let result = f.await;
        Contestant::call(self, || result)
    }

    fn outcome(out: &Self::Out) -> Outcome {
        <TowerResilience as Contestant>::outcome(out)
    }
}

// ---------------------------------------------------------------------------------------
// bare

#[derive(Debug)]
enum BareError {
    Inner(#[allow(dead_code)] u64),
    Rejected,
}

struct Bare {
    open: AtomicBool,
}

impl Bare {
    fn outcome_of(out: &Result<u64, BareError>) -> Outcome {
        match out {
            Ok(_) => Outcome::Ok,
            Err(BareError::Inner(_)) => Outcome::Failed,
            Err(BareError::Rejected) => Outcome::Rejected,
        }
    }
}

impl Contestant for Bare {
    const NAME: &'static str = "bare";
    type Out = Result<u64, BareError>;

    fn new_breaker() -> Self {
        Bare {
            open: AtomicBool::new(false),
        }
    }

    #[inline]
    fn call<F: FnOnce() -> Op>(&self, f: F) -> Self::Out {
        if self.open.load(Ordering::Relaxed) {
            return Err(BareError::Rejected);
        }
        f().map_err(BareError::Inner)
    }

    fn outcome(out: &Self::Out) -> Outcome {
        Bare::outcome_of(out)
    }

    /// No failure accounting in `bare`: opening is just setting the flag.
    fn trip(&self) -> u32 {
        self.open.store(true, Ordering::Relaxed);
        0
    }
}

impl FutureContestant for Bare {
    const NAME: &'static str = "bare";
    type Out = Result<u64, BareError>;

    fn new_breaker() -> Self {
        <Bare as Contestant>::new_breaker()
    }

    // Same work as the sync `bare`, expressed as a wrapper future.
    async fn call_future<F: Future<Output = Op>>(&self, f: F) -> Self::Out {
        if self.open.load(Ordering::Relaxed) {
            return Err(BareError::Rejected);
        }
        f.await.map_err(BareError::Inner)
    }

    fn outcome(out: &Self::Out) -> Outcome {
        Bare::outcome_of(out)
    }
}

// ---------------------------------------------------------------------------------------
// floor: what the hardware asks of each path, and nothing more.
//
// Not a breaker: the least work any breaker with these semantics must do, so each path of ours
// can be read as a ratio to it. One word holds an "open" flag and a failure count.
// - closed success: one relaxed load of the word, then the call (no write);
// - closed failure: the load, the call, one atomic read-modify-write (`fetch_add`);
// - success after a failure: the load, the call, one read-modify-write (`fetch_and`) to reset;
// - open: the load, then one read of the time-stamp counter (`quanta::Clock::raw`, what our
//   default clock reads), and the rejection.
// It does not count towards opening and never re-reads the word: it is a floor, not a contender.

struct Floor {
    word: AtomicU64,
    clock: quanta::Clock,
}

const FLOOR_OPEN: u64 = 1 << 63;

impl Contestant for Floor {
    const NAME: &'static str = "floor";
    type Out = Result<u64, BareError>;

    fn new_breaker() -> Self {
        Floor {
            word: AtomicU64::new(0),
            clock: quanta::Clock::new(),
        }
    }

    #[inline]
    fn call<F: FnOnce() -> Op>(&self, f: F) -> Self::Out {
        let word = self.word.load(Ordering::Relaxed);
        if word & FLOOR_OPEN != 0 {
            black_box(self.clock.raw());
            return Err(BareError::Rejected);
        }
        match f() {
            Ok(value) => {
                if word != 0 {
                    self.word.fetch_and(FLOOR_OPEN, Ordering::AcqRel);
                }
                Ok(value)
            }
            Err(e) => {
                self.word.fetch_add(1, Ordering::AcqRel);
                Err(BareError::Inner(e))
            }
        }
    }

    fn outcome(out: &Self::Out) -> Outcome {
        Bare::outcome_of(out)
    }

    fn trip(&self) -> u32 {
        self.word.store(FLOOR_OPEN, Ordering::Relaxed);
        0
    }
}

/// The floor of a breaker with a rate window (`async-breaker+rate*`): the plain floor, plus
/// the window's own write on every outcome (one more read-modify-write, on a word of its own).
struct FloorWindow {
    floor: Floor,
    window: AtomicU64,
}

impl Contestant for FloorWindow {
    const NAME: &'static str = "floor+window";
    type Out = Result<u64, BareError>;

    fn new_breaker() -> Self {
        FloorWindow {
            floor: <Floor as Contestant>::new_breaker(),
            window: AtomicU64::new(0),
        }
    }

    #[inline]
    fn call<F: FnOnce() -> Op>(&self, f: F) -> Self::Out {
        let out = self.floor.call(f);
        if !matches!(out, Err(BareError::Rejected)) {
            self.window.fetch_add(1, Ordering::AcqRel);
        }
        out
    }

    fn outcome(out: &Self::Out) -> Outcome {
        Bare::outcome_of(out)
    }
}

/// The floor of a breaker that times its calls (`async-breaker+slow`): the plain floor, plus a
/// time-stamp counter read before and after the call.
struct FloorTimed(Floor);

impl Contestant for FloorTimed {
    const NAME: &'static str = "floor+timed";
    type Out = Result<u64, BareError>;

    fn new_breaker() -> Self {
        FloorTimed(<Floor as Contestant>::new_breaker())
    }

    #[inline]
    fn call<F: FnOnce() -> Op>(&self, f: F) -> Self::Out {
        let started = self.0.clock.raw();
        let out = self.0.call(f);
        black_box(self.0.clock.raw().wrapping_sub(started));
        out
    }

    fn outcome(out: &Self::Out) -> Outcome {
        Bare::outcome_of(out)
    }
}

// ---------------------------------------------------------------------------------------
// failsafe 1.x
//
// `failsafe::Config::new()` defaults to `SuccessRateOverTimeWindow.or_else(ConsecutiveFailures)`
// with jittered backoff; we replace it with a plain `consecutive_failures(5, constant(1 h))`
// policy so it matches "5 consecutive failures, fixed long open wait". The instrument is `()`
// (no-op). State lives behind a `parking_lot::Mutex`, taken on every permit check and again on
// every outcome record.

type FailsafeMachine = failsafe::StateMachine<
    failsafe::failure_policy::ConsecutiveFailures<failsafe::backoff::Constant>,
    (),
>;

struct Failsafe(FailsafeMachine);

fn failsafe_outcome(out: &Result<u64, failsafe::Error<u64>>) -> Outcome {
    match out {
        Ok(_) => Outcome::Ok,
        Err(failsafe::Error::Inner(_)) => Outcome::Failed,
        Err(failsafe::Error::Rejected) => Outcome::Rejected,
    }
}

impl Failsafe {
    fn build() -> Self {
        let policy = failsafe::failure_policy::consecutive_failures(
            FAILURES_TO_OPEN,
            failsafe::backoff::constant(OPEN_WAIT),
        );
        Failsafe(failsafe::Config::new().failure_policy(policy).build())
    }
}

impl Contestant for Failsafe {
    const NAME: &'static str = "failsafe";
    type Out = Result<u64, failsafe::Error<u64>>;

    fn new_breaker() -> Self {
        Failsafe::build()
    }

    #[inline]
    fn call<F: FnOnce() -> Op>(&self, f: F) -> Self::Out {
        // Two traits named `CircuitBreaker` provide `call`; name the sync one explicitly.
        failsafe::CircuitBreaker::call(&self.0, f)
    }

    fn outcome(out: &Self::Out) -> Outcome {
        failsafe_outcome(out)
    }
}

impl FutureContestant for Failsafe {
    const NAME: &'static str = "failsafe";
    type Out = Result<u64, failsafe::Error<u64>>;

    fn new_breaker() -> Self {
        Failsafe::build()
    }

    fn call_future<F: Future<Output = Op>>(&self, f: F) -> impl Future<Output = Self::Out> {
        // `failsafe::futures::CircuitBreaker::call` clones the state machine (an `Arc`) into the
        // returned `ResponseFuture`; the permit check happens on the first poll.
        failsafe::futures::CircuitBreaker::call(&self.0, f)
    }

    fn outcome(out: &Self::Out) -> Outcome {
        failsafe_outcome(out)
    }
}

// ---------------------------------------------------------------------------------------
// recloser 1.x
//
// recloser has no "consecutive failures" setting: it opens when the failure rate over a ring
// buffer of the last `closed_len` outcomes reaches `error_rate_closed`. A ring of 5 with a
// threshold of 1.0 means "the last 5 outcomes were all failures" = 5 consecutive failures.
// Caveat: a *fresh* breaker reports no rate until the ring has been written `closed_len`
// times and then one more, so from a fresh start the 6th consecutive failure opens it; once
// the ring has seen >= 5 outcomes, the 5th consecutive failure opens it. Half-open settings
// are left at their defaults (not exercised). Lock-free-ish: state is a crossbeam-epoch
// `Atomic<State>`, but each ring buffer write takes a small spin lock.

struct Recloser(recloser::Recloser);

fn recloser_build() -> recloser::Recloser {
    recloser::Recloser::custom()
        .closed_len(FAILURES_TO_OPEN as usize)
        .error_rate_closed(1.0)
        .open_wait(OPEN_WAIT)
        .build()
}

fn recloser_outcome(out: &Result<u64, recloser::Error<u64>>) -> Outcome {
    match out {
        Ok(_) => Outcome::Ok,
        Err(recloser::Error::Inner(_)) => Outcome::Failed,
        Err(recloser::Error::Rejected) => Outcome::Rejected,
    }
}

impl Contestant for Recloser {
    const NAME: &'static str = "recloser";
    type Out = Result<u64, recloser::Error<u64>>;

    fn new_breaker() -> Self {
        Recloser(recloser_build())
    }

    #[inline]
    fn call<F: FnOnce() -> Op>(&self, f: F) -> Self::Out {
        self.0.call(f)
    }

    fn outcome(out: &Self::Out) -> Outcome {
        recloser_outcome(out)
    }
}

/// `AsyncRecloser` owns its `Recloser` (behind an `Arc`), so the async contestant is a separate
/// breaker instance, configured identically.
struct RecloserAsync(recloser::AsyncRecloser);

impl FutureContestant for RecloserAsync {
    const NAME: &'static str = "recloser";
    type Out = Result<u64, recloser::Error<u64>>;

    fn new_breaker() -> Self {
        RecloserAsync(recloser::AsyncRecloser::from(recloser_build()))
    }

    fn call_future<F: Future<Output = Op>>(&self, f: F) -> impl Future<Output = Self::Out> {
        // Like failsafe, `call` clones an `Arc` into the returned `RecloserFuture`; the permit
        // check happens on the first poll.
        self.0.call(f)
    }

    fn outcome(out: &Self::Out) -> Outcome {
        recloser_outcome(out)
    }
}

// ---------------------------------------------------------------------------------------
// helpers

/// The contestants of every sync group, in the order they are measured and charted.
macro_rules! for_each_contestant {
    ($group:expr, $bench:ident) => {
        $bench::<Ours>($group);
        $bench::<Failsafe>($group);
        $bench::<Recloser>($group);
        $bench::<Cbrs>($group);
        $bench::<Bare>($group);
        $bench::<Floor>($group);
    };
}

type Group<'a> = BenchmarkGroup<'a, WallTime>;

fn expect<C: Contestant>(cb: &C, f: fn() -> Op, want: Outcome, when: &str) {
    let got = C::outcome(&cb.call(f));
    assert_eq!(got, want, "{} {when}", C::NAME);
}

/// Poll a future exactly once with a no-op waker; it must complete.
#[allow(clippy::inline_always)]
#[inline(always)]
fn poll_once<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    // `futures`' no-op waker rather than `Waker::noop()`, which needs Rust 1.85 (MSRV is 1.77).
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("future was expected to be Ready on its first poll"),
    }
}

/// Multi-thread harness (`iter_custom`).
///
/// Each of `threads` scoped threads runs the same loop of `iters` calls on the one shared
/// breaker and times *its own* loop; the threads are released together by a barrier, so
/// spawn/join cost stays outside every measurement. The sample's time is the *slowest*
/// thread's time: that is the wall time in which all `threads * iters` calls were done, so
/// criterion's "time per iteration" is the time for every thread to complete one call in
/// parallel, and with `Throughput::Elements(threads)` criterion's elem/s is the aggregate
/// calls/s. Taking the max (not the mean) keeps a straggler from hiding contention.
/// The 1-thread groups use the very same harness with `threads = 1` (also on a spawned
/// thread), so `two_threads_x / one_thread_x` time ratio is the per-call slowdown under
/// sharing: 1.0 = perfect scaling (2x aggregate), 2.0 = fully serialized.
/// Caveat: the machine has 2 cores, so 2 busy threads leave none for anything else.
fn run_threads<C: Contestant, R>(
    b: &mut Bencher<'_, WallTime>,
    cb: &C,
    threads: usize,
    op: impl Fn(&C) -> R + Sync,
) {
    b.iter_custom(|iters| {
        let start_line = Barrier::new(threads);
        thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        start_line.wait();
                        let t0 = Instant::now();
                        for _ in 0..iters {
                            black_box(op(cb));
                        }
                        t0.elapsed()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("bench thread panicked"))
                .max()
                .expect("at least one thread")
        })
    });
}

// ---------------------------------------------------------------------------------------
// 1. closed_success_sync

fn closed_success<C: Contestant>(g: &mut Group<'_>) {
    let cb = C::new_breaker();
    expect(&cb, succeed, Outcome::Ok, "closed before bench");
    g.bench_function(C::NAME, |b| b.iter(|| cb.call(succeed)));
    expect(&cb, succeed, Outcome::Ok, "closed after bench");
}

fn closed_success_sync(c: &mut Criterion) {
    eprintln!(
        "[compare] size_of::<CircuitBreaker>() = {} bytes (align {})",
        std::mem::size_of::<CircuitBreaker>(),
        std::mem::align_of::<CircuitBreaker>()
    );
    let mut g = c.benchmark_group("closed_success_sync");
    g.throughput(Throughput::Elements(1));
    for_each_contestant!(&mut g, closed_success);
    closed_success::<TowerResilience>(&mut g);
    closed_success::<OursMetrics>(&mut g);
    #[cfg(feature = "metrics")]
    closed_success::<OursFacade>(&mut g);
    closed_success::<OursRate<20>>(&mut g);
    closed_success::<OursRate<100>>(&mut g);
    closed_success::<OursRate<1_000>>(&mut g);
    closed_success::<OursSlow>(&mut g);
    closed_success::<FloorWindow>(&mut g);
    closed_success::<FloorTimed>(&mut g);
    g.finish();
}

// ---------------------------------------------------------------------------------------
// 2. closed_failure_sync: one iteration = one failing call + one successful call.
//    For us and failsafe the success zeroes the consecutive-failure count; for recloser the
//    ring of 5 alternates F/S, so its failure rate stays at 0.4..0.6 (< 1.0); for
//    `async-breaker+rate` (and `+rate100`, `+rate1000`) the window holds at most 50 % failures
//    (< 60 %, see `OursRate`).
//    None ever opens: the checks after the run would see a rejection instead of `Err`/`Ok`.

fn closed_failure<C: Contestant>(g: &mut Group<'_>) {
    let cb = C::new_breaker();
    expect(&cb, fail, Outcome::Failed, "closed before bench");
    expect(&cb, succeed, Outcome::Ok, "closed before bench");
    g.bench_function(C::NAME, |b| {
        b.iter(|| {
            let failed = cb.call(fail);
            let ok = cb.call(succeed);
            (failed, ok)
        });
    });
    expect(&cb, fail, Outcome::Failed, "still closed after bench");
    expect(&cb, succeed, Outcome::Ok, "still closed after bench");
}

fn closed_failure_sync(c: &mut Criterion) {
    let mut g = c.benchmark_group("closed_failure_sync");
    // Two calls per iteration.
    g.throughput(Throughput::Elements(2));
    for_each_contestant!(&mut g, closed_failure);
    closed_failure::<TowerResilience>(&mut g);
    closed_failure::<OursMetrics>(&mut g);
    #[cfg(feature = "metrics")]
    closed_failure::<OursFacade>(&mut g);
    closed_failure::<OursRate<20>>(&mut g);
    closed_failure::<OursRate<100>>(&mut g);
    closed_failure::<OursRate<1_000>>(&mut g);
    closed_failure::<OursSlow>(&mut g);
    closed_failure::<FloorWindow>(&mut g);
    closed_failure::<FloorTimed>(&mut g);
    g.finish();
}

// ---------------------------------------------------------------------------------------
// 3. open_reject

fn report_trip<C: Contestant>(cb: &C) {
    let n = cb.trip();
    if n > 0 {
        eprintln!(
            "[compare] {}: opened after {n} consecutive failures from fresh",
            C::NAME
        );
    }
    expect(cb, succeed, Outcome::Rejected, "open before bench");
}

fn open_reject_one<C: Contestant>(g: &mut Group<'_>) {
    let cb = C::new_breaker();
    report_trip(&cb);
    g.bench_function(C::NAME, |b| b.iter(|| cb.call(succeed)));
    expect(&cb, succeed, Outcome::Rejected, "still open after bench");
}

fn open_reject(c: &mut Criterion) {
    let mut g = c.benchmark_group("open_reject");
    g.throughput(Throughput::Elements(1));
    for_each_contestant!(&mut g, open_reject_one);
    open_reject_one::<TowerResilience>(&mut g);
    open_reject_one::<OursStringName>(&mut g);
    open_reject_one::<OursCowName>(&mut g);
    open_reject_one::<OursMetrics>(&mut g);
    #[cfg(feature = "metrics")]
    open_reject_one::<OursFacade>(&mut g);
    open_reject_one::<OursCoarse>(&mut g);
    g.finish();
}

// ---------------------------------------------------------------------------------------
// 4. half_open_probe_in_flight_reject
//
// Skipped for every peer, because none can hold "a probe is in flight, reject the others"
// through a measured loop:
// - failsafe 1.3: `StateMachine::is_call_permitted` returns `true` for every call in
//   `HalfOpen`; the first recorded outcome closes or re-opens the breaker. Any number of
//   concurrent trial calls is admitted.
// - recloser 1.4: `call_permitted` returns `true` for every call in `HalfOpen`; the state
//   admits calls until its half-open ring (`half_open_len`) is full of outcomes. No limit on
//   concurrent trials either.
// - circuitbreaker-rs 0.1: a budget of half-open calls (`probe_interval`) spent on admission,
//   but only a closure-taking `call`, so a probe is in flight only while its closure runs.
// - tower-resilience 0.14: a semaphore of `permitted_calls_in_half_open` permits, held by a
//   response future; a probe held across the loop would need its future parked on another
//   task, and a rejection there needs a tokio runtime (see its section).
// So only our breaker (which admits exactly one probe), named with a `&'static str` and with a
// `String`, and `bare` (one relaxed load + rejection, the floor) are measured.
//
// Our breaker here has a 1 ms recovery timeout, so that it turns half-open shortly after it is
// tripped, and a 1 h probe deadline, so the probe held through the run is never presumed lost
// and replaced. One caller claims the probe (`try_acquire`) and holds the permit; every
// measured call is then rejected with `State::HalfOpen`.

/// Measures rejections of our breaker, named `name`, while one probe is held in flight.
fn half_open_ours(
    g: &mut Group<'_>,
    contestant: &str,
    name: impl Into<std::borrow::Cow<'static, str>>,
) {
    let breaker = CircuitBreaker::builder()
        .name(name)
        .failure_threshold(FAILURES_TO_OPEN)
        .recovery_timeout(Duration::from_millis(1))
        .probe_deadline(OPEN_WAIT)
        .build()
        .expect("valid breaker configuration");
    for _ in 0..FAILURES_TO_OPEN {
        assert!(breaker.call(fail).is_err_and(|e| e.is_inner()));
    }
    thread::sleep(Duration::from_millis(5));
    assert_eq!(breaker.state(), State::HalfOpen, "half-open before probe");
    let probe = breaker.try_acquire().expect("the probe is admitted");
    assert!(probe.is_probe());
    let rejected = |when: &str| match breaker.call(succeed) {
        Err(async_breaker::Error::Open(e)) => assert_eq!(e.state(), State::HalfOpen, "{when}"),
        other => panic!("{contestant} {when}: expected a half-open rejection, got {other:?}"),
    };
    rejected("probe in flight before bench");
    g.bench_function(contestant, |b| b.iter(|| breaker.call(succeed)));
    rejected("probe still in flight after bench");
    probe.success();
    assert_eq!(breaker.state(), State::Closed, "the probe closes it");
}

fn half_open_probe_in_flight_reject(c: &mut Criterion) {
    let mut g = c.benchmark_group("half_open_probe_in_flight_reject");
    g.throughput(Throughput::Elements(1));

    half_open_ours(&mut g, OURS, "bench");
    half_open_ours(
        &mut g,
        <OursStringName as Contestant>::NAME,
        format!("upstream-{}", black_box("c.example")),
    );

    // `bare` has a single flag; "probe in flight" is that flag being set. `floor` also reads
    // the clock, as a rejection must to know whether the probe's deadline has passed.
    let cb = <Bare as Contestant>::new_breaker();
    cb.trip();
    expect(&cb, succeed, Outcome::Rejected, "probe in flight");
    g.bench_function(<Bare as Contestant>::NAME, |b| b.iter(|| cb.call(succeed)));
    let cb = <Floor as Contestant>::new_breaker();
    cb.trip();
    expect(&cb, succeed, Outcome::Rejected, "probe in flight");
    g.bench_function(<Floor as Contestant>::NAME, |b| b.iter(|| cb.call(succeed)));
    g.finish();
}

// ---------------------------------------------------------------------------------------
// 5. future_closed_success: build the wrapped future around `ready(Ok(1))`, poll it once with
//    a no-op waker, expect `Ready(Ok(1))`. No executor in the measured loop.

fn future_closed<C: FutureContestant>(g: &mut Group<'_>) {
    let cb = C::new_breaker();
    let warm = poll_once(cb.call_future(ready(succeed())));
    assert_eq!(
        C::outcome(&warm),
        Outcome::Ok,
        "{} closed before bench",
        C::NAME
    );
    g.bench_function(C::NAME, |b| {
        b.iter(|| poll_once(cb.call_future(ready(Ok(black_box(1u64))))));
    });
    let after = poll_once(cb.call_future(ready(succeed())));
    assert_eq!(
        C::outcome(&after),
        Outcome::Ok,
        "{} closed after bench",
        C::NAME
    );
}

fn future_closed_success(c: &mut Criterion) {
    let mut g = c.benchmark_group("future_closed_success");
    g.throughput(Throughput::Elements(1));
    future_closed::<Ours>(&mut g);
    future_closed::<Failsafe>(&mut g);
    future_closed::<RecloserAsync>(&mut g);
    future_closed::<TowerResilience>(&mut g);
    future_closed::<Bare>(&mut g);
    g.finish();
}

// ---------------------------------------------------------------------------------------
// 6. one/two threads, closed success and open reject, on one shared breaker.

fn threads_closed<const THREADS: usize, C: Contestant>(g: &mut Group<'_>) {
    let cb = C::new_breaker();
    expect(&cb, succeed, Outcome::Ok, "closed before bench");
    g.bench_function(C::NAME, |b| {
        run_threads(b, &cb, THREADS, |cb| cb.call(succeed));
    });
    expect(&cb, succeed, Outcome::Ok, "closed after bench");
}

fn threads_open<const THREADS: usize, C: Contestant>(g: &mut Group<'_>) {
    let cb = C::new_breaker();
    report_trip(&cb);
    g.bench_function(C::NAME, |b| {
        run_threads(b, &cb, THREADS, |cb| cb.call(succeed));
    });
    expect(&cb, succeed, Outcome::Rejected, "still open after bench");
}

/// A failure storm: every thread fails and then succeeds, so the count goes up and is reset
/// on every pair, by whichever thread comes last.
fn threads_failure<const THREADS: usize, C: Contestant>(g: &mut Group<'_>) {
    let cb = C::new_breaker();
    expect(&cb, succeed, Outcome::Ok, "closed before bench");
    g.bench_function(C::NAME, |b| {
        run_threads(b, &cb, THREADS, |cb| (cb.call(fail), cb.call(succeed)));
    });
    expect(&cb, succeed, Outcome::Ok, "closed after bench");
}

fn one_thread_failure<C: Contestant>(g: &mut Group<'_>) {
    threads_failure::<1, C>(g);
}
fn two_threads_failure<C: Contestant>(g: &mut Group<'_>) {
    threads_failure::<2, C>(g);
}

fn one_thread_closed<C: Contestant>(g: &mut Group<'_>) {
    threads_closed::<1, C>(g);
}
fn two_threads_closed<C: Contestant>(g: &mut Group<'_>) {
    threads_closed::<2, C>(g);
}
fn one_thread_open<C: Contestant>(g: &mut Group<'_>) {
    threads_open::<1, C>(g);
}
fn two_threads_open<C: Contestant>(g: &mut Group<'_>) {
    threads_open::<2, C>(g);
}

fn threaded_groups(c: &mut Criterion) {
    let mut g = c.benchmark_group("one_thread_closed_success");
    g.throughput(Throughput::Elements(1));
    for_each_contestant!(&mut g, one_thread_closed);
    g.finish();

    let mut g = c.benchmark_group("two_threads_closed_success");
    g.throughput(Throughput::Elements(2));
    for_each_contestant!(&mut g, two_threads_closed);
    g.finish();

    // A pair (one failure, one success) per iteration, so two calls per thread.
    let mut g = c.benchmark_group("one_thread_closed_failure");
    g.throughput(Throughput::Elements(2));
    for_each_contestant!(&mut g, one_thread_failure);
    g.finish();

    let mut g = c.benchmark_group("two_threads_closed_failure");
    g.throughput(Throughput::Elements(4));
    for_each_contestant!(&mut g, two_threads_failure);
    g.finish();

    let mut g = c.benchmark_group("one_thread_open_reject");
    g.throughput(Throughput::Elements(1));
    for_each_contestant!(&mut g, one_thread_open);
    one_thread_open::<OursStringName>(&mut g);
    one_thread_open::<OursCowName>(&mut g);
    one_thread_open::<OursCoarse>(&mut g);
    g.finish();

    let mut g = c.benchmark_group("two_threads_open_reject");
    g.throughput(Throughput::Elements(2));
    for_each_contestant!(&mut g, two_threads_open);
    two_threads_open::<OursStringName>(&mut g);
    two_threads_open::<OursCowName>(&mut g);
    two_threads_open::<OursCoarse>(&mut g);
    g.finish();
}

// ---------------------------------------------------------------------------------------
// 7. build: what making one breaker costs, ours only (a breaker per host or per tenant is
//    built at run time). `async-breaker` reads the default clock; `+manual-clock` takes a
//    `ManualClock` (one `Arc` of its own), so the difference is what the default clock costs a
//    build; `+string-name` names each breaker after a new host. The breaker is dropped inside
//    the timed loop, freeing what it holds (its name's entry, for a runtime name).

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("build");
    g.throughput(Throughput::Elements(1));
    assert_eq!(ours_build().state(), State::Closed);
    g.bench_function(OURS, |b| b.iter(ours_build));
    // A breaker per upstream host: a runtime name, entered in the table of names at the build
    // and removed when the breaker is dropped (inside the loop). The name's `String` is made
    // outside the timed loop's breaker work but inside the loop, as a proxy would.
    let mut host = 0_u32;
    g.bench_function(format!("{OURS}+string-name"), |b| {
        b.iter(|| {
            host = host.wrapping_add(1);
            CircuitBreaker::builder()
                .name(format!("upstream-{host}"))
                .failure_threshold(FAILURES_TO_OPEN)
                .recovery_timeout(OPEN_WAIT)
                .build()
                .expect("valid breaker configuration")
        });
    });
    g.bench_function(format!("{OURS}+manual-clock"), |b| {
        b.iter(|| {
            CircuitBreaker::builder()
                .name("bench")
                .failure_threshold(FAILURES_TO_OPEN)
                .recovery_timeout(OPEN_WAIT)
                .clock(ManualClock::new())
                .build()
                .expect("valid breaker configuration")
        });
    });
    g.finish();
}

// ---------------------------------------------------------------------------------------

/// Quick defaults so a plain `cargo bench` stays within a few minutes on a 2-core box;
/// command-line flags (`--warm-up-time`, `--measurement-time`, ...) still override these.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .without_plots()
}

/// `criterion_group!` makes a `pub fn`; a private module keeps it out of `missing_docs`' reach.
mod suite {
    use super::{
        build, closed_failure_sync, closed_success_sync, config, future_closed_success,
        half_open_probe_in_flight_reject, open_reject, threaded_groups,
    };
    use criterion::criterion_group;

    criterion_group! {
        name = compare;
        config = config();
        targets =
            closed_success_sync,
            closed_failure_sync,
            open_reject,
            half_open_probe_in_flight_reject,
            future_closed_success,
            threaded_groups,
            build
    }
}
criterion_main!(suite::compare);
