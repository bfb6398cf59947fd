//! Names are freed: a million breakers, each named after a host seen once (as a proxy keyed by
//! upstream host names its breakers), built, used and dropped, leave the heap as they found it.
//!
//! A `#[global_allocator]` keeps, per thread, the net bytes that thread allocated. The test
//! builds, uses and drops every breaker on its own thread, so its count is exact, and the test
//! harness's threads (whose first waits allocate at moments of their own) cannot blur it.

#![allow(unsafe_code)] // the counting allocator below; the library itself forbids unsafe code

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use async_breaker::{CircuitBreaker, Error, ManualClock};

struct Net;

thread_local! {
    /// Bytes this thread allocated, less those it freed.
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

fn size(layout: Layout) -> i64 {
    i64::try_from(layout.size()).expect("an allocation fits in i64")
}

fn add(bytes: i64) {
    // `try_with`: the allocator may run while this thread's locals are being torn down.
    let _ = LIVE.try_with(|live| live.set(live.get() + bytes));
}

// SAFETY: every method forwards to `System` unchanged; the bookkeeping touches only a
// const-initialised thread-local without a destructor, which never allocates.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Net {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(size(layout));
        // SAFETY: forwarded with the caller's own guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        add(size(layout));
        // SAFETY: forwarded with the caller's own guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = i64::try_from(new_size).expect("an allocation fits in i64");
        add(new - size(layout));
        // SAFETY: forwarded with the caller's own guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-size(layout));
        // SAFETY: forwarded with the caller's own guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Net = Net;

/// Net bytes allocated by this thread so far.
fn live() -> i64 {
    LIVE.with(Cell::get)
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
