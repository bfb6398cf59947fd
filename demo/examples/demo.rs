//! A flaky dependency behind a breaker, as a timeline.
//!
//! The "inventory service" is healthy, goes down for a while, then comes back. Calls arrive
//! every 50 ms. Watch the breaker count failures, open, turn calls away without touching the
//! service, send one probe after each recovery timeout, and close once a probe succeeds.
//!
//! Run it with `cargo run --example demo`. It takes about three seconds and needs no network.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_breaker::{CircuitBreaker, CircuitExt, Error, State};
use futures::executor::block_on;
use futures::future::join;

/// Returns `Pending` once, like a network call that has to wait for its answer.
struct OneRoundTrip(bool);

impl Future for OneRoundTrip {
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

/// The simulated dependency: down between 0.6 s and 1.9 s after start.
struct Inventory {
    started: Instant,
    hits: Cell<u32>,
}

impl Inventory {
    async fn stock(&self, item: &str) -> Result<u32, String> {
        self.hits.set(self.hits.get() + 1);
        OneRoundTrip(false).await;
        let t = self.started.elapsed();
        if t >= Duration::from_millis(600) && t < Duration::from_millis(1_900) {
            Err(format!("connection refused while fetching {item}"))
        } else {
            Ok(42)
        }
    }
}

fn main() -> Result<(), async_breaker::ConfigError> {
    let breaker = CircuitBreaker::builder()
        .name("inventory")
        .failure_threshold(3)
        .recovery_timeout(Duration::from_millis(400))
        .build()?;
    let service = Inventory {
        started: Instant::now(),
        hits: Cell::new(0),
    };

    println!(
        "breaker {:?}: opens after 3 consecutive failures, probes after 400 ms\n",
        breaker.name()
    );
    let mut last = breaker.state();
    let (mut calls, mut rejected) = (0, 0);
    let mut report = |role: &str, result: Result<u32, Error<String>>| {
        calls += 1;
        let at = service.started.elapsed().as_secs_f64();
        let line = match result {
            Ok(n) => format!("ok: {n} in stock"),
            Err(Error::Inner(e)) => format!("failed: {e}"),
            Err(Error::Open(e)) => {
                rejected += 1;
                format!("rejected without calling: {e}")
            }
        };
        println!("t={at:4.2}s  {role} #{calls:<2}  {line}");
    };
    let mut transition = |now: State| {
        if now != last {
            println!(
                "          -- state: {last} -> {now} (failures: {})",
                breaker.failure_count()
            );
            last = now;
        }
    };

    while service.started.elapsed() < Duration::from_millis(2_800) {
        let before = breaker.state();
        transition(before);
        if before == State::HalfOpen {
            // Two callers at once: the first wins the probe slot, the second is turned away
            // while the probe is in flight.
            let (probe, other) = block_on(join(
                service.stock("widget").circuit(&breaker),
                service.stock("gadget").circuit(&breaker),
            ));
            report("probe", probe);
            report("call ", other);
        } else {
            report("call ", block_on(service.stock("widget").circuit(&breaker)));
        }
        transition(breaker.state());
        std::thread::sleep(Duration::from_millis(50));
    }

    println!(
        "\n{calls} calls, {rejected} rejected by the breaker, {} reached the service; final state: {}",
        service.hits.get(),
        breaker.state()
    );
    Ok(())
}
