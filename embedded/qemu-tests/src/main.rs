//! async-breaker's state machine on an emulated microcontroller.
//!
//! Built for thumbv6m (QEMU `microbit`, Cortex-M0), thumbv7em (`mps2-an386`, Cortex-M4) and
//! riscv32imac (`virt`), none of which has a 64-bit compare-exchange: the breaker's word comes
//! from portable-atomic. Output and the exit code go through semihosting; the last line is
//! `<target>: N passed, M failed` and the exit code is 0 only when nothing failed (a panic
//! exits non-zero too). `bash .ci/embedded.sh` builds and runs it.
//!
//! Time is a tick counter the tests move by hand, read through a [`Clock`] as a hardware
//! timer's counter would be; futures are driven by a hand-written executor.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use core::cell::Cell;
use core::future::Future;
use core::pin::{pin, Pin};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use core::time::Duration;

use async_breaker::{CircuitBreaker, CircuitExt, Clock, Error, ManualClock, OpenError, State};
use semihosting::println;

// The critical-section implementations the allocator (and on thumbv6m, portable-atomic) take:
// interrupts off, on one core.
#[cfg(target_arch = "arm")]
use cortex_m as _;
#[cfg(target_arch = "riscv32")]
use riscv as _;

// ---- the heap (the crate needs `alloc`) ---------------------------------------------------

#[global_allocator]
static HEAP: embedded_alloc::LlffHeap = embedded_alloc::LlffHeap::empty();

/// 4 KiB: the Cortex-M0 board has 16 KiB of RAM in all.
const HEAP_SIZE: usize = 4096;

fn init_heap() {
    use core::mem::MaybeUninit;
    static mut MEMORY: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
    // SAFETY: called once, before anything allocates; nothing else touches MEMORY.
    unsafe { HEAP.init(core::ptr::addr_of_mut!(MEMORY) as usize, HEAP_SIZE) }
}

// ---- a clock on a tick counter ----------------------------------------------------------------

/// Milliseconds, as a timer interrupt would count them. A plain 32-bit load and store: every
/// target here has those, even the one without a compare-exchange.
static TICKS: AtomicU32 = AtomicU32::new(0);

/// The breaker's clock: the tick counter, in milliseconds.
struct TickClock;

impl Clock for TickClock {
    fn now(&self) -> Duration {
        Duration::from_millis(u64::from(TICKS.load(Ordering::Relaxed)))
    }
}

fn advance(ms: u32) {
    TICKS.store(TICKS.load(Ordering::Relaxed) + ms, Ordering::Relaxed);
}

const TIMEOUT: Duration = Duration::from_millis(250);

/// A breaker on the tick clock: 3 consecutive failures open it for 250 ms.
fn sensor() -> CircuitBreaker {
    TICKS.store(1_000, Ordering::Relaxed);
    CircuitBreaker::builder()
        .name("sensor")
        .failure_threshold(3)
        .recovery_timeout(TIMEOUT)
        .clock(TickClock)
        .metrics()
        .build()
        .expect("valid settings")
}

fn fail(breaker: &CircuitBreaker, n: u32) -> Result<(), String> {
    for _ in 0..n {
        breaker
            .try_acquire()
            .map_err(|e| format!("a failure was rejected: {e}"))?
            .failure();
    }
    Ok(())
}

// ---- checks ----------------------------------------------------------------------------------

type Outcome = Result<(), String>;

macro_rules! check {
    ($cond:expr) => {
        if !$cond {
            return Err(format!("line {}: {}", line!(), stringify!($cond)));
        }
    };
}

macro_rules! check_eq {
    ($left:expr, $right:expr) => {
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err(format!(
                "line {}: {} == {}: {:?} != {:?}",
                line!(),
                stringify!($left),
                stringify!($right),
                left,
                right
            ));
        }
    };
}

// ---- the state machine, through permits -----------------------------------------------------

fn closed_counts_consecutive_failures() -> Outcome {
    let breaker = sensor();
    fail(&breaker, 2)?;
    check_eq!(breaker.failure_count(), 2);
    check_eq!(breaker.state(), State::Closed);
    breaker.try_acquire().map_err(|e| format!("{e}"))?.success();
    check_eq!(breaker.failure_count(), 0);
    fail(&breaker, 2)?;
    check_eq!(breaker.state(), State::Closed);
    Ok(())
}

fn trips_and_rejects() -> Outcome {
    let breaker = sensor();
    fail(&breaker, 3)?;
    check_eq!(breaker.state(), State::Open);
    let rejected: OpenError = match breaker.try_acquire() {
        Ok(_) => return Err("an open breaker admitted a call".into()),
        Err(rejected) => rejected,
    };
    check_eq!(rejected.name(), "sensor");
    check_eq!(rejected.failures(), 3);
    check_eq!(rejected.remaining(), TIMEOUT);
    advance(100);
    check_eq!(breaker.open_remaining(), Duration::from_millis(150));
    check!(breaker.try_acquire().is_err());
    let metrics = breaker.metrics().ok_or("metrics were asked for")?;
    check_eq!(metrics.rejected, 2);
    check_eq!(metrics.opened, 1);
    Ok(())
}

fn one_probe_then_close() -> Outcome {
    let breaker = sensor();
    fail(&breaker, 3)?;
    advance(249);
    check!(breaker.try_acquire().is_err());
    advance(1);
    check_eq!(breaker.state(), State::HalfOpen);
    let probe = breaker
        .try_acquire()
        .map_err(|e| format!("no probe: {e}"))?;
    check!(probe.is_probe());
    // Exactly one probe: everyone else is turned away while it runs.
    for _ in 0..3 {
        check!(breaker.try_acquire().is_err());
    }
    probe.success();
    check_eq!(breaker.state(), State::Closed);
    check_eq!(breaker.failure_count(), 0);
    let permit = breaker.try_acquire().map_err(|e| format!("{e}"))?;
    check!(!permit.is_probe());
    permit.success();
    Ok(())
}

fn a_failed_probe_reopens_with_a_fresh_timer() -> Outcome {
    let breaker = sensor();
    fail(&breaker, 3)?;
    advance(300);
    let probe = breaker
        .try_acquire()
        .map_err(|e| format!("no probe: {e}"))?;
    probe.failure();
    check_eq!(breaker.state(), State::Open);
    check_eq!(breaker.open_remaining(), TIMEOUT);
    advance(250);
    check_eq!(breaker.state(), State::HalfOpen);
    Ok(())
}

fn a_dropped_probe_frees_its_slot() -> Outcome {
    let breaker = sensor();
    fail(&breaker, 3)?;
    advance(250);
    let probe = breaker
        .try_acquire()
        .map_err(|e| format!("no probe: {e}"))?;
    check!(breaker.try_acquire().is_err());
    drop(probe);
    let next = breaker
        .try_acquire()
        .map_err(|e| format!("the slot stayed taken: {e}"))?;
    check!(next.is_probe());
    next.success();
    check_eq!(breaker.state(), State::Closed);
    Ok(())
}

fn a_stale_outcome_is_discarded() -> Outcome {
    let breaker = sensor();
    // Admitted while closed, reported only after the breaker opened and closed again.
    let old = breaker.try_acquire().map_err(|e| format!("{e}"))?;
    fail(&breaker, 3)?;
    advance(250);
    breaker
        .try_acquire()
        .map_err(|e| format!("no probe: {e}"))?
        .success();
    check_eq!(breaker.state(), State::Closed);
    fail(&breaker, 2)?;
    old.failure();
    // Counted, the old failure would have been the third and opened the breaker.
    check_eq!(breaker.failure_count(), 2);
    check_eq!(breaker.state(), State::Closed);
    let metrics = breaker.metrics().ok_or("metrics were asked for")?;
    check_eq!(metrics.discarded, 1);
    check_eq!(
        (metrics.opened, metrics.half_opened, metrics.closed),
        (1, 1, 1)
    );
    Ok(())
}

fn a_listener_sees_every_transition() -> Outcome {
    static SEEN: portable_atomic::AtomicU32 = portable_atomic::AtomicU32::new(0);
    TICKS.store(0, Ordering::Relaxed);
    let breaker = CircuitBreaker::builder()
        .name("listened")
        .failure_threshold(1)
        .recovery_timeout(TIMEOUT)
        .clock(TickClock)
        .on_transition(|t| {
            // One decimal digit per transition: 1 closed, 2 open, 3 half-open.
            let digit = match t.to() {
                State::Closed => 1,
                State::Open => 2,
                _ => 3,
            };
            let _ = SEEN.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                Some(s * 10 + digit)
            });
        })
        .build()
        .map_err(|e| format!("{e}"))?;
    fail(&breaker, 1)?;
    advance(250);
    breaker.try_acquire().map_err(|e| format!("{e}"))?.success();
    check_eq!(SEEN.load(Ordering::Relaxed), 231);
    Ok(())
}

fn the_manual_clock_drives_a_breaker() -> Outcome {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .failure_threshold(1)
        .recovery_timeout(Duration::from_secs(30))
        .clock(clock.clone())
        .build()
        .map_err(|e| format!("{e}"))?;
    let _ = breaker.call(|| Err::<(), _>("boom"));
    check_eq!(breaker.state(), State::Open);
    clock.advance(Duration::from_secs(29));
    check_eq!(breaker.state(), State::Open);
    clock.advance(Duration::from_secs(1));
    check_eq!(breaker.state(), State::HalfOpen);
    check_eq!(breaker.call(|| Ok::<_, &str>(5)), Ok(5));
    check_eq!(breaker.state(), State::Closed);
    Ok(())
}

// ---- the future combinator under a hand-written executor ------------------------------------

/// Set by the waker: the executor polls again only when the future asked for it.
static WOKEN: AtomicBool = AtomicBool::new(false);

fn waker() -> Waker {
    fn clone(_: *const ()) -> RawWaker {
        RawWaker::new(core::ptr::null(), &VTABLE)
    }
    fn wake(_: *const ()) {
        WOKEN.store(true, Ordering::Release);
    }
    fn drop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, drop);
    // SAFETY: the vtable's functions ignore the data pointer, and are all safe to call from any
    // context.
    unsafe { Waker::from_raw(RawWaker::new(core::ptr::null(), &VTABLE)) }
}

/// Polls `future` to completion; a `Pending` without a wake-up is an error (it would sleep
/// forever), and so is a future that needs more than 100 polls.
fn block_on<F: Future>(future: F) -> Result<F::Output, String> {
    let mut future = pin!(future);
    let waker = waker();
    let mut cx = Context::from_waker(&waker);
    for _ in 0..100 {
        WOKEN.store(false, Ordering::Release);
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return Ok(out);
        }
        if !WOKEN.load(Ordering::Acquire) {
            return Err("pending without a wake-up: the executor would sleep forever".into());
        }
    }
    Err("no result after 100 polls".into())
}

/// A call to the dependency: pending `pending` times (waking its task each time), then done.
struct Call<'a> {
    pending: u32,
    result: Option<Result<u32, &'static str>>,
    polls: &'a Cell<u32>,
}

fn call<'a>(pending: u32, result: Result<u32, &'static str>, polls: &'a Cell<u32>) -> Call<'a> {
    Call {
        pending,
        result: Some(result),
        polls,
    }
}

impl Future for Call<'_> {
    type Output = Result<u32, &'static str>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.polls.set(self.polls.get() + 1);
        if self.pending > 0 {
            self.pending -= 1;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(self.result.take().expect("polled after completion"))
    }
}

fn the_future_combinator() -> Outcome {
    let breaker = sensor();
    let polls = Cell::new(0);
    let out = block_on(call(2, Ok(7), &polls).circuit(&breaker))?;
    check!(matches!(out, Ok(7)));
    check_eq!(polls.get(), 3);

    for _ in 0..3 {
        let out = block_on(call(1, Err("timeout"), &polls).circuit(&breaker))?;
        check!(matches!(out, Err(Error::Inner("timeout"))));
    }
    check_eq!(breaker.state(), State::Open);

    // Rejected without running the call.
    polls.set(0);
    let out = block_on(call(0, Ok(1), &polls).circuit(&breaker))?;
    check!(matches!(&out, Err(Error::Open(e)) if e.remaining() == TIMEOUT));
    check_eq!(polls.get(), 0);

    // A probe cancelled mid-call (the future dropped while pending) frees the slot.
    advance(250);
    {
        let waker = waker();
        let mut cx = Context::from_waker(&waker);
        let mut probe = pin!(call(5, Ok(1), &polls).circuit(&breaker));
        check!(probe.as_mut().poll(&mut cx).is_pending());
        check!(breaker.try_acquire().is_err());
    }
    // The next probe, through the combinator, closes the breaker.
    let out = block_on(call(1, Ok(42), &polls).circuit(&breaker))?;
    check!(matches!(out, Ok(42)));
    check_eq!(breaker.state(), State::Closed);
    Ok(())
}

// ---- the runner --------------------------------------------------------------------------------

const TESTS: &[(&str, fn() -> Outcome)] = &[
    (
        "closed_counts_consecutive_failures",
        closed_counts_consecutive_failures,
    ),
    ("trips_and_rejects", trips_and_rejects),
    ("one_probe_then_close", one_probe_then_close),
    (
        "a_failed_probe_reopens_with_a_fresh_timer",
        a_failed_probe_reopens_with_a_fresh_timer,
    ),
    (
        "a_dropped_probe_frees_its_slot",
        a_dropped_probe_frees_its_slot,
    ),
    ("a_stale_outcome_is_discarded", a_stale_outcome_is_discarded),
    (
        "a_listener_sees_every_transition",
        a_listener_sees_every_transition,
    ),
    (
        "the_manual_clock_drives_a_breaker",
        the_manual_clock_drives_a_breaker,
    ),
    ("the_future_combinator", the_future_combinator),
];

fn run() -> i32 {
    init_heap();
    let target = env!("QEMU_TESTS_TARGET");
    println!(
        "{target}: the word is a portable-atomic AtomicU64 (lock-free: {})",
        portable_atomic::AtomicU64::is_lock_free()
    );
    let (mut passed, mut failed) = (0, 0);
    for (name, test) in TESTS {
        match test() {
            Ok(()) => {
                passed += 1;
                println!("test {name} ... ok");
            }
            Err(why) => {
                failed += 1;
                println!("test {name} ... FAILED: {why}");
            }
        }
    }
    println!("{target}: {passed} passed, {failed} failed");
    i32::from(failed != 0)
}

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    semihosting::process::exit(run())
}
