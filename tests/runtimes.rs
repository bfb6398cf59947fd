//! The runtime matrix: one async scenario run unchanged under tokio (current-thread and
//! multi-thread), async-std, smol, `futures::executor::block_on`, and a minimal executor written
//! below (a thread that parks until its waker unparks it). The breaker needs no timer, no waker
//! of its own and no runtime hook, so the scenario must behave identically everywhere.
//!
//! The scenario trips the breaker, gets rejected, recovers through a `ManualClock`, and probes;
//! it awaits guarded futures that are genuinely `Pending` and are woken later from a plain
//! `std::thread`, and it spawns an owned `'static` guarded future on the runtime. Cancellation
//! is checked runtime-agnostically (a probe losing a `select`) and with tokio's own tools
//! (`timeout`, `select!`, `JoinHandle::abort`).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use async_breaker::{CircuitBreaker, CircuitExt, Error, ManualClock, State};

const RECOVERY: Duration = Duration::from_secs(10);
/// Generous bound on any wait for another thread or task; reaching it means a hang, not slowness.
const PATIENCE: Duration = Duration::from_secs(20);

type Output = Result<u32, Error<&'static str>>;
type Task = Pin<Box<dyn Future<Output = Output> + Send + 'static>>;
type Handle = Pin<Box<dyn Future<Output = Output>>>;
/// Spawns a task on the runtime under test (eagerly) and returns a future of its output.
type Spawn = fn(Task) -> Handle;

// ---------------------------------------------------------------------------------------------
// Runtime-agnostic helpers: a gate that keeps a future pending until another thread opens it,
// a yield, and a one-shot channel. None of them knows which executor polls it.
// ---------------------------------------------------------------------------------------------

/// Keeps the futures made by [`Gate::wait_for`] pending until [`Gate::open`] is called.
#[derive(Default)]
struct Gate {
    open: AtomicBool,
    waker: Mutex<Option<Waker>>,
    polls: AtomicUsize,
}

impl Gate {
    fn new() -> Arc<Gate> {
        Arc::new(Gate::default())
    }

    /// A future that resolves to `value` once the gate is open.
    fn wait_for(self: &Arc<Gate>, value: Result<u32, &'static str>) -> Gated {
        Gated {
            gate: Arc::clone(self),
            value: Some(value),
        }
    }

    /// Opens the gate and wakes the waiting task, from whatever thread calls it.
    fn open(&self) {
        self.open.store(true, Ordering::SeqCst);
        let waker = self.waker.lock().unwrap().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Whether a future has been polled and is now waiting on the gate.
    fn is_waiting(&self) -> bool {
        self.waker.lock().unwrap().is_some()
    }

    fn polls(&self) -> usize {
        self.polls.load(Ordering::SeqCst)
    }

    /// Opens the gate from a new OS thread as soon as a future is waiting on it, so the future
    /// is certainly `Pending` first and woken from outside the runtime.
    fn open_from_thread_when_waiting(self: &Arc<Gate>) -> thread::JoinHandle<()> {
        let gate = Arc::clone(self);
        thread::spawn(move || {
            let start = Instant::now();
            while !gate.is_waiting() {
                assert!(
                    start.elapsed() < PATIENCE,
                    "nothing ever waited on the gate"
                );
                thread::sleep(Duration::from_millis(1));
            }
            gate.open();
        })
    }
}

struct Gated {
    gate: Arc<Gate>,
    value: Option<Result<u32, &'static str>>,
}

impl Future for Gated {
    type Output = Result<u32, &'static str>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.gate.polls.fetch_add(1, Ordering::SeqCst);
        // Register first, then check: an `open` in between finds the waker or we see the flag.
        *self.gate.waker.lock().unwrap() = Some(cx.waker().clone());
        if self.gate.open.load(Ordering::SeqCst) {
            self.gate.waker.lock().unwrap().take();
            Poll::Ready(self.value.take().expect("polled after completion"))
        } else {
            Poll::Pending
        }
    }
}

/// Returns `Pending` once (waking itself), so other tasks get to run.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

async fn yield_until(what: &str, condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < PATIENCE, "gave up waiting until {what}");
        YieldNow(false).await;
    }
}

/// A one-shot channel for the output of a task run on its own OS thread.
struct Oneshot<T> {
    slot: Mutex<(Option<T>, Option<Waker>)>,
}

struct Receiver<T>(Arc<Oneshot<T>>);

impl<T> Oneshot<T> {
    fn send(&self, value: T) {
        let waker = {
            let mut slot = self.slot.lock().unwrap();
            slot.0 = Some(value);
            slot.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut slot = self.0.slot.lock().unwrap();
        if let Some(value) = slot.0.take() {
            Poll::Ready(value)
        } else {
            slot.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// Runs `task` to completion on a new OS thread with `block_on`; the returned future resolves to
/// its output. The "spawn" of executors that have none.
fn on_thread(task: Task, block_on: fn(Task) -> Output) -> Handle {
    let channel = Arc::new(Oneshot {
        slot: Mutex::new((None, None)),
    });
    let sender = Arc::clone(&channel);
    thread::spawn(move || sender.send(block_on(task)));
    Box::pin(Receiver(channel))
}

// ---------------------------------------------------------------------------------------------
// The minimal executor: no runtime, just `std::thread::park` and a `std::task::Wake` waker.
// ---------------------------------------------------------------------------------------------

struct Unparker(thread::Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

fn mini_block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(Unparker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        // Spurious wake-ups are harmless: we just poll again.
        thread::park();
    }
}

// ---------------------------------------------------------------------------------------------
// The scenario
// ---------------------------------------------------------------------------------------------

fn breaker(clock: &ManualClock) -> Arc<CircuitBreaker> {
    Arc::new(
        CircuitBreaker::builder()
            .name("matrix")
            .failure_threshold(2)
            .recovery_timeout(RECOVERY)
            .clock(clock.clone())
            .build()
            .expect("valid configuration"),
    )
}

async fn trip(b: &CircuitBreaker) {
    for _ in 0..b.failure_threshold() {
        let failed = async { Err::<u32, _>("down") }.circuit(b).await;
        assert_eq!(failed, Err(Error::Inner("down")));
    }
    assert_eq!(b.state(), State::Open);
}

async fn scenario(spawn: Spawn) {
    let clock = ManualClock::new();
    let b = breaker(&clock);

    // Pass-through with every kind of handle.
    assert_eq!(async { Ok::<u32, &str>(1) }.circuit(&*b).await, Ok(1));
    assert_eq!(async { Ok::<u32, &str>(2) }.circuit(&b).await, Ok(2));
    assert_eq!(
        async { Ok::<u32, &str>(3) }
            .with_breaker(Arc::clone(&b))
            .await,
        Ok(3)
    );

    // A borrowed guarded future that is genuinely pending, then woken from another OS thread.
    let gate = Gate::new();
    let opener = gate.open_from_thread_when_waiting();
    assert_eq!(gate.wait_for(Ok(4)).circuit(&b).await, Ok(4));
    opener.join().unwrap();
    assert!(gate.polls() >= 2, "pending first, then ready");

    // A failure below the threshold, then a pending success resets it.
    assert_eq!(
        async { Err::<u32, _>("down") }.circuit(&b).await,
        Err(Error::Inner("down"))
    );
    let gate = Gate::new();
    let opener = gate.open_from_thread_when_waiting();
    assert_eq!(gate.wait_for(Ok(5)).circuit(&b).await, Ok(5));
    opener.join().unwrap();
    assert_eq!(b.failure_count(), 0);

    // Trip it; the next call is rejected without running.
    trip(&b).await;
    let ran = AtomicBool::new(false);
    let rejected = async {
        ran.store(true, Ordering::SeqCst);
        Ok::<u32, &str>(6)
    }
    .circuit(&b)
    .await;
    let rejected = rejected.expect_err("open").open_error().copied().unwrap();
    assert!(!ran.load(Ordering::SeqCst), "the guarded work must not run");
    assert_eq!(rejected.state(), State::Open);
    assert_eq!(rejected.failures(), 2);
    assert_eq!(rejected.remaining(), RECOVERY);
    assert_eq!(
        rejected.to_string(),
        r#"circuit "matrix" is open (2 failures, 10s remaining)"#
    );
    assert_eq!(
        async { Ok::<u32, &str>(7) }
            .circuit(&b)
            .fallback_value(0)
            .await,
        Ok(0)
    );

    // Recovery: the manual clock moves, nothing else is needed from the runtime.
    clock.advance(RECOVERY);
    assert_eq!(b.state(), State::HalfOpen);

    // A probe that loses a race (here against a ready future) and is dropped frees the slot.
    let gate = Gate::new();
    let lost = Box::pin(gate.wait_for(Ok(8)).circuit(&b));
    match futures::future::select(lost, Box::pin(async {})).await {
        futures::future::Either::Right(((), lost)) => drop(lost),
        futures::future::Either::Left(_) => panic!("the gate was never opened"),
    }
    assert_eq!(gate.polls(), 1, "the probe was admitted and polled once");
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(b.failure_count(), 2, "a cancelled probe records nothing");

    // A probe that fails re-opens with a fresh timer.
    assert_eq!(
        async { Err::<u32, _>("still down") }.circuit(&b).await,
        Err(Error::Inner("still down"))
    );
    assert_eq!((b.state(), b.failure_count()), (State::Open, 3));
    assert_eq!(b.open_remaining(), RECOVERY);
    clock.advance(RECOVERY);

    // An owned, 'static probe spawned on the runtime, pending until another OS thread opens its
    // gate. While it is in flight, everyone else is turned away.
    let gate = Gate::new();
    let handle = spawn(Box::pin(gate.wait_for(Ok(9)).with_breaker(Arc::clone(&b))));
    yield_until("the spawned probe is pending", || gate.is_waiting()).await;
    let turned_away = async { Ok::<u32, &str>(10) }.circuit(&b).await;
    let turned_away = turned_away.expect_err("probe in flight");
    assert_eq!(turned_away.open_error().unwrap().state(), State::HalfOpen);
    assert_eq!(
        turned_away.to_string(),
        r#"circuit "matrix" is half-open (3 failures, probe in flight)"#
    );
    let opener = gate.open_from_thread_when_waiting();
    assert_eq!(handle.await, Ok(9));
    opener.join().unwrap();
    assert!(gate.polls() >= 2);
    assert_eq!((b.state(), b.failure_count()), (State::Closed, 0));

    // Closed again: calls flow, including spawned ones.
    assert_eq!(async { Ok::<u32, &str>(11) }.circuit(&b).await, Ok(11));
    let handle = spawn(Box::pin(
        async { Ok::<u32, &str>(12) }.with_breaker(Arc::clone(&b)),
    ));
    assert_eq!(handle.await, Ok(12));
    assert!(b.is_closed());
}

// ---------------------------------------------------------------------------------------------
// The matrix
// ---------------------------------------------------------------------------------------------

fn spawn_tokio(task: Task) -> Handle {
    let handle = tokio::spawn(task);
    Box::pin(async move { handle.await.expect("task panicked") })
}

#[test]
fn tokio_current_thread() {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(scenario(spawn_tokio));
}

#[test]
fn tokio_multi_thread() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(scenario(spawn_tokio));
}

#[test]
fn async_std() {
    async_std::task::block_on(scenario(|task| Box::pin(async_std::task::spawn(task))));
}

#[test]
fn smol() {
    smol::block_on(scenario(|task| Box::pin(smol::spawn(task))));
}

#[test]
fn futures_executor() {
    futures::executor::block_on(scenario(|task| {
        on_thread(task, futures::executor::block_on)
    }));
}

#[test]
fn futures_local_pool() {
    let mut pool = futures::executor::LocalPool::new();
    pool.run_until(scenario(|task| {
        on_thread(task, futures::executor::block_on)
    }));
}

#[test]
fn minimal_executor_without_any_runtime() {
    mini_block_on(scenario(|task| on_thread(task, mini_block_on)));
}

// ---------------------------------------------------------------------------------------------
// Cancel safety with tokio's own tools
// ---------------------------------------------------------------------------------------------

/// A breaker that is half-open with its probe slot free.
fn half_open() -> (ManualClock, Arc<CircuitBreaker>) {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    for _ in 0..2 {
        let _ = b.call(|| Err::<(), _>("down"));
    }
    clock.advance(RECOVERY);
    assert_eq!(b.state(), State::HalfOpen);
    (clock, b)
}

/// The next caller must be admitted as the probe, and its success closes the breaker.
fn next_caller_probes(b: &CircuitBreaker) {
    let next = b.try_acquire().expect("the probe slot must be free");
    assert!(next.is_probe());
    next.success();
    assert_eq!((b.state(), b.failure_count()), (State::Closed, 0));
}

#[tokio::test]
async fn tokio_timeout_cancelling_a_probe_frees_the_slot() {
    let (_clock, b) = half_open();
    let gate = Gate::new();
    let cut_off =
        tokio::time::timeout(Duration::from_millis(20), gate.wait_for(Ok(1)).circuit(&b)).await;
    assert!(
        cut_off.is_err(),
        "the gate never opens, so the timeout fires"
    );
    assert!(gate.polls() >= 1, "the probe was admitted and running");
    assert_eq!((b.state(), b.failure_count()), (State::HalfOpen, 2));
    next_caller_probes(&b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_select_cancelling_a_probe_frees_the_slot() {
    let (_clock, b) = half_open();
    let gate = Gate::new();
    let probe = gate.wait_for(Ok(1)).circuit(&b);
    tokio::select! {
        biased;
        _ = probe => panic!("the gate never opens"),
        () = std::future::ready(()) => {}
    }
    assert_eq!(
        gate.polls(),
        1,
        "the probe was admitted, then dropped by select!"
    );
    assert_eq!((b.state(), b.failure_count()), (State::HalfOpen, 2));
    next_caller_probes(&b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_abort_of_a_spawned_probe_frees_the_slot() {
    let (_clock, b) = half_open();
    let gate = Gate::new();
    let task = tokio::spawn(gate.wait_for(Ok(1)).with_breaker(Arc::clone(&b)));
    yield_until("the spawned probe is pending", || gate.is_waiting()).await;
    assert!(b.try_acquire().is_err(), "the spawned task holds the probe");
    task.abort();
    let aborted = task.await.unwrap_err();
    assert!(aborted.is_cancelled());
    assert_eq!((b.state(), b.failure_count()), (State::HalfOpen, 2));
    next_caller_probes(&b);
}

#[tokio::test]
async fn a_timeout_inside_the_guarded_future_counts_as_a_failure() {
    let (_clock, b) = half_open();
    let gate = Gate::new();
    let gated = gate.wait_for(Ok(1));
    let result = async {
        tokio::time::timeout(Duration::from_millis(20), gated)
            .await
            .map_err(|_| "timed out")?
    }
    .circuit(&b)
    .await;
    assert_eq!(result, Err(Error::Inner("timed out")));
    assert_eq!((b.state(), b.failure_count()), (State::Open, 3));
    assert_eq!(b.open_remaining(), RECOVERY);
}
