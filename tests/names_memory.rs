//! Names are freed: a million breakers, each named after a host seen once (as a proxy keyed by
//! upstream host names its breakers), built, used and dropped, leave the heap as they found it.
//!
//! A `#[global_allocator]` keeps the net bytes allocated by the whole process. This binary has
//! a single test, so nothing else allocates while it measures.

#![allow(unsafe_code)] // the counting allocator below; the library itself forbids unsafe code

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_breaker::{CircuitBreaker, Error, ManualClock};

struct Net;

/// Bytes allocated and not yet freed, by the whole process.
static LIVE: AtomicI64 = AtomicI64::new(0);

fn size(layout: Layout) -> i64 {
    i64::try_from(layout.size()).expect("an allocation fits in i64")
}

// SAFETY: every method forwards to `System` unchanged; the bookkeeping is one atomic add.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Net {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(size(layout), Ordering::Relaxed);
        // SAFETY: forwarded with the caller's own guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(size(layout), Ordering::Relaxed);
        // SAFETY: forwarded with the caller's own guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = i64::try_from(new_size).expect("an allocation fits in i64");
        LIVE.fetch_add(new - size(layout), Ordering::Relaxed);
        // SAFETY: forwarded with the caller's own guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(size(layout), Ordering::Relaxed);
        // SAFETY: forwarded with the caller's own guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Net = Net;

fn live() -> i64 {
    LIVE.load(Ordering::Relaxed)
}

/// A breaker named after `host`, opened, and one rejection's name read back.
fn use_once(host: &str, clock: &ManualClock) {
    let breaker = CircuitBreaker::builder()
        .name(format!("upstream-{host}"))
        .failure_threshold(1)
        .recovery_timeout(Duration::from_secs(30))
        .clock(clock.clone())
        .build()
        .expect("valid configuration");
    let _ = breaker.call(|| Err::<(), _>("down"));
    match breaker.call(|| Ok::<(), ()>(())) {
        Err(Error::Open(rejected)) => assert_eq!(rejected.name().len(), host.len() + 9),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn a_million_distinct_names_built_and_dropped_return_the_memory() {
    let clock = ManualClock::new();
    // Whatever the first use of the library and of the name table keeps for good.
    use_once("warm-up.example", &clock);
    let start = live();

    // One at a time: the table never holds more than one name.
    for i in 0..1_000_000_u32 {
        use_once(&format!("h{i}.example"), &clock);
    }
    assert_eq!(live() - start, 0, "bytes still held after a million names");

    // Ten thousand alive at once (a registry filled lazily), then all dropped.
    let held: Vec<CircuitBreaker> = (0..10_000)
        .map(|i| {
            CircuitBreaker::builder()
                .name(format!("upstream-{i}.example"))
                .clock(clock.clone())
                .build()
                .expect("valid configuration")
        })
        .collect();
    let growth = live() - start;
    assert!(
        growth > 10_000 * 40,
        "ten thousand live names hold their text twice and an entry each: {growth} bytes"
    );
    drop(held);
    assert_eq!(
        live() - start,
        0,
        "bytes still held after dropping them all"
    );
}
