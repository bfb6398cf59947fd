//! Loom models of the refreshing cache's protocol, with the breaker inside the model.
//!
//! Run with both cfgs (`bash .ci/loom-downstream.sh` from the repository root):
//!
//! ```text
//! RUSTFLAGS="--cfg loom --cfg async_breaker_loom" cargo test --release --test model
//! ```
//!
//! `--cfg loom` swaps this crate's atomics for loom's, `--cfg async_breaker_loom` the
//! breaker's (its state word and `ManualClock`), so loom interleaves the cache's steps, the
//! breaker's compare-exchanges and the clock. Everything loom tracks (the breaker, its clock,
//! the cache) is built inside `loom::model`, and the clock is a `ManualClock`: time moves only
//! when a model thread says so, which is itself an interleaving loom explores.

#![cfg(loom)]

#[cfg(not(async_breaker_loom))]
compile_error!(
    "the models need `--cfg async_breaker_loom` as well as `--cfg loom`: without it the \
     breaker's atomics are the standard library's, invisible to loom"
);

use std::num::NonZeroU64;
use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

use async_breaker::{CircuitBreaker, ManualClock, State};
use loom_downstream::{Lookup, RefreshingCache};

const RECOVERY: Duration = Duration::from_secs(1);

fn value(n: u64) -> NonZeroU64 {
    NonZeroU64::new(n).expect("non-zero")
}

/// A cache over a breaker that opens after `threshold` consecutive failures, read by a
/// `ManualClock` (built inside the model, as everything loom tracks must be).
fn cache(threshold: u32) -> (Arc<RefreshingCache>, ManualClock) {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .failure_threshold(threshold)
        .recovery_timeout(RECOVERY)
        .clock(clock.clone())
        .build()
        .expect("valid model settings");
    (Arc::new(RefreshingCache::new(breaker)), clock)
}

/// A stand-in for the upstream that counts its calls and fails the model if two are ever in
/// flight at once.
#[derive(Default)]
struct Upstream {
    in_flight: AtomicUsize,
    calls: AtomicUsize,
}

impl Upstream {
    fn fetch(&self, answer: Result<u64, &'static str>) -> Result<NonZeroU64, &'static str> {
        let others = self.in_flight.fetch_add(1, Ordering::SeqCst);
        assert_eq!(
            others, 0,
            "single flight violated: two refreshes reached the upstream at once"
        );
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        answer.map(value)
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

/// Spawns one refresh per answer, all racing, and returns what each got.
fn race(
    cache: &Arc<RefreshingCache>,
    upstream: &Arc<Upstream>,
    answers: &[Result<u64, &'static str>],
) -> Vec<thread::JoinHandle<Lookup>> {
    answers
        .iter()
        .map(|&answer| {
            let (cache, upstream) = (Arc::clone(cache), Arc::clone(upstream));
            thread::spawn(move || cache.refresh(|| upstream.fetch(answer)))
        })
        .collect()
}

fn joined(handles: Vec<thread::JoinHandle<Lookup>>) -> Vec<Lookup> {
    handles
        .into_iter()
        .map(|handle| handle.join().expect("model thread panicked"))
        .collect()
}

/// A background refresher and a caller refresh at once while the breaker is closed, which
/// admits them both: only the cache's single flight keeps them from calling the upstream
/// together. Each gets the value, fresh or from the cache, or a miss (nothing was cached yet),
/// and the fresh values handed out are exactly the upstream's calls.
#[test]
fn one_refresh_at_a_time_while_closed() {
    loom::model(|| {
        let (cache, _clock) = cache(3);
        let upstream = Arc::new(Upstream::default());
        let lookups = joined(race(&cache, &upstream, &[Ok(7), Ok(7)]));

        let fresh = lookups
            .iter()
            .filter(|lookup| **lookup == Lookup::Fresh(value(7)))
            .count();
        assert!(fresh >= 1, "someone refreshed: {lookups:?}");
        assert!(
            lookups.iter().all(|lookup| matches!(
                lookup,
                Lookup::Fresh(v) | Lookup::Cached(v) if *v == value(7)
            ) || *lookup == Lookup::Miss),
            "{lookups:?}"
        );
        assert_eq!(fresh, upstream.calls(), "{lookups:?}");
        assert_eq!(cache.cached(), Some(value(7)));
        assert_eq!(cache.breaker().state(), State::Closed);
    });
}

/// Two refreshes fail against a threshold-2 breaker. However they interleave, no outcome is
/// lost: the breaker's consecutive failures are exactly the upstream's calls, and it is open
/// exactly when both reached the upstream.
#[test]
fn every_failed_refresh_counts_towards_opening() {
    loom::model(|| {
        let (cache, _clock) = cache(2);
        let upstream = Arc::new(Upstream::default());
        let lookups = joined(race(&cache, &upstream, &[Err("down"), Err("down")]));

        assert!(
            lookups.iter().all(|lookup| *lookup == Lookup::Miss),
            "{lookups:?}"
        );
        let calls = upstream.calls();
        assert!((1..=2).contains(&calls));
        let breaker = cache.breaker();
        assert_eq!(
            usize::try_from(breaker.failure_count()).unwrap(),
            calls,
            "every failed upstream call is a failure the breaker counted"
        );
        let expected = if calls == 2 {
            State::Open
        } else {
            State::Closed
        };
        assert_eq!(breaker.state(), expected);
    });
}

/// The breaker is open over a cached value, and the recovery timeout passes on a third thread
/// while a refresher and a caller race. Whatever the order: nobody misses (the cache was
/// filled), a fresh value closed the breaker and replaced the cached one, and if the clock
/// moved too late for both of them the old value stays and the breaker waits half-open.
#[test]
fn recovery_racing_the_clock_never_loses_the_cached_value() {
    loom::model(|| {
        let (cache, clock) = cache(1);
        assert_eq!(
            cache.refresh(|| Ok::<_, ()>(value(1))),
            Lookup::Fresh(value(1))
        );
        assert_eq!(
            cache.refresh(|| Err::<NonZeroU64, _>("down")),
            Lookup::Cached(value(1))
        );
        assert_eq!(cache.breaker().state(), State::Open);

        let upstream = Arc::new(Upstream::default());
        let timer = thread::spawn(move || clock.advance(RECOVERY));
        let lookups = joined(race(&cache, &upstream, &[Ok(2), Ok(2)]));
        timer.join().expect("timer thread panicked");

        assert!(!lookups.contains(&Lookup::Miss), "{lookups:?}");
        let fresh = lookups
            .iter()
            .filter(|lookup| **lookup == Lookup::Fresh(value(2)))
            .count();
        assert_eq!(fresh, upstream.calls(), "{lookups:?}");
        if fresh == 0 {
            assert_eq!(lookups, [Lookup::Cached(value(1)); 2]);
            assert_eq!(cache.cached(), Some(value(1)));
            assert_eq!(cache.breaker().state(), State::HalfOpen);
        } else {
            assert_eq!(cache.cached(), Some(value(2)));
            assert_eq!(cache.breaker().state(), State::Closed);
            assert_eq!(cache.breaker().failure_count(), 0);
        }
    });
}
