//! A refreshing cache in front of a flaky upstream, guarded by a circuit breaker: the kind of
//! code a user of `async-breaker` writes around it, and model-checks with loom.
//!
//! [`RefreshingCache::refresh`] is called by a background refresher and by callers that want a
//! fresh value. Its protocol has two gates:
//!
//! 1. **Single flight**, this crate's own: at most one refresh reaches the upstream at a time,
//!    claimed with a compare-exchange on `refreshing`. The breaker does not give this while it
//!    is closed (a closed breaker admits every caller), so it is this crate's to get right.
//! 2. **The breaker**: the flight asks for a permit. A rejection (open, or a probe already in
//!    flight while half-open) serves the cached value; an admitted call reports its outcome on
//!    the permit, so every failure of the upstream counts towards opening the breaker.
//!
//! A caller that is turned away by either gate gets the cached value, or [`Lookup::Miss`] when
//! nothing was ever fetched.
//!
//! Under `--cfg loom` the crate's atomics are loom's; with `--cfg async_breaker_loom` as well,
//! so are the breaker's and its `ManualClock`'s, and `tests/model.rs` explores the interleavings
//! of both. The `broken` feature swaps the single-flight claim for a check-then-act race that
//! the model must catch.

use std::num::NonZeroU64;

#[cfg(loom)]
use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_breaker::CircuitBreaker;

/// What a refresh gave its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// This call fetched the value from the upstream.
    Fresh(NonZeroU64),
    /// The cached value: another refresh was in flight, the breaker rejected this one, or the
    /// upstream failed.
    Cached(NonZeroU64),
    /// No fresh value, and nothing cached yet.
    Miss,
}

/// A cached value kept fresh from an upstream behind a circuit breaker.
#[derive(Debug)]
pub struct RefreshingCache {
    breaker: CircuitBreaker,
    /// The last value fetched; 0 while nothing has been (upstream values are non-zero).
    cached: AtomicU64,
    /// Held by the one refresh in flight.
    refreshing: AtomicBool,
}

impl RefreshingCache {
    /// An empty cache whose refreshes go through `breaker`.
    pub fn new(breaker: CircuitBreaker) -> RefreshingCache {
        RefreshingCache {
            breaker,
            cached: AtomicU64::new(0),
            refreshing: AtomicBool::new(false),
        }
    }

    /// The breaker guarding the upstream.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// The cached value, without refreshing it.
    pub fn cached(&self) -> Option<NonZeroU64> {
        NonZeroU64::new(self.cached.load(Ordering::Acquire))
    }

    /// Fetches a fresh value from `upstream` if this call wins the single flight and the
    /// breaker admits it, reporting the outcome to the breaker; otherwise serves the cached
    /// value. `upstream` is called at most once, and never while another refresh is calling it.
    pub fn refresh<E>(&self, upstream: impl FnOnce() -> Result<NonZeroU64, E>) -> Lookup {
        let Some(_flight) = self.claim() else {
            return self.fallback();
        };
        let Ok(permit) = self.breaker.try_acquire() else {
            return self.fallback();
        };
        let Ok(value) = upstream() else {
            permit.failure();
            return self.fallback();
        };
        self.cached.store(value.get(), Ordering::Release);
        permit.success();
        Lookup::Fresh(value)
        // `_flight` is released on return, after the outcome is recorded.
    }

    fn fallback(&self) -> Lookup {
        self.cached().map_or(Lookup::Miss, Lookup::Cached)
    }

    /// Claims the single flight: one compare-exchange, so of two racing refreshes exactly one
    /// wins.
    #[cfg(not(feature = "broken"))]
    fn claim(&self) -> Option<Flight<'_>> {
        self.refreshing
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| Flight(&self.refreshing))
    }

    /// Deliberately wrong (feature `broken`): a check, then an act. Two refreshes can both find
    /// the flag clear: one may check between the other's check and store, and even after that
    /// store, since nothing orders one thread's store before another's load. Both then reach
    /// the upstream. Ordinary tests pass; the loom model finds the interleaving.
    #[cfg(feature = "broken")]
    fn claim(&self) -> Option<Flight<'_>> {
        if self.refreshing.load(Ordering::Acquire) {
            return None;
        }
        self.refreshing.store(true, Ordering::Relaxed);
        Some(Flight(&self.refreshing))
    }
}

/// The single flight, released when dropped (also if the upstream panics).
struct Flight<'a>(&'a AtomicBool);

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Duration;

    use async_breaker::{ManualClock, State};

    fn value(n: u64) -> NonZeroU64 {
        NonZeroU64::new(n).expect("non-zero")
    }

    #[test]
    fn serves_the_cache_when_the_upstream_fails_and_the_breaker_opens() {
        let clock = ManualClock::new();
        let breaker = CircuitBreaker::builder()
            .failure_threshold(1)
            .recovery_timeout(Duration::from_secs(1))
            .clock(clock.clone())
            .build()
            .expect("valid settings");
        let cache = RefreshingCache::new(breaker);

        assert_eq!(cache.refresh(|| Err::<NonZeroU64, _>("down")), Lookup::Miss);
        assert_eq!(cache.breaker().state(), State::Open);
        assert_eq!(cache.refresh(|| Ok::<_, ()>(value(1))), Lookup::Miss);

        clock.advance(Duration::from_secs(1));
        assert_eq!(
            cache.refresh(|| Ok::<_, ()>(value(2))),
            Lookup::Fresh(value(2))
        );
        assert_eq!(cache.breaker().state(), State::Closed);
        assert_eq!(
            cache.refresh(|| Err::<NonZeroU64, _>("down")),
            Lookup::Cached(value(2))
        );
    }
}
