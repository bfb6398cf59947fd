//! The hot paths as instruction counts, beside the loops that are their floors.
//!
//! `.ci/hotpath.sh` runs this binary under callgrind (valgrind), which counts the instructions
//! each run executes: the same count whatever else the machine is doing, so a guard built on it
//! never flakes on a loaded CI machine. Each path runs twice, `n` and `n + 10 000` iterations;
//! the difference over 10 000 is the cost of one iteration, set-up and process start-up
//! subtracted. The script fails if a path costs more than its budget there.
//!
//! Run by hand: `cargo run --release --manifest-path tests/hotpath/Cargo.toml -- <path>
//! <iterations>`, with `<path>` one of the names in [`PATHS`]. Timings are
//! `benches/compare.rs`'s job; this program only says how much work each path is.

use std::future::{ready, Future};
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use async_breaker::{CircuitBreaker, CircuitExt, Error, ManualClock};

/// Every path this binary runs, with what one iteration is.
const PATHS: &[(&str, &str)] = &[
    ("closed-success", "one successful call on a closed breaker"),
    (
        "closed-failure",
        "one failing call then one successful call (the success resets the count)",
    ),
    (
        "future-success",
        "a guarded future that is ready at once, polled once (no executor)",
    ),
    ("open-reject", "one call rejected by an open breaker"),
    (
        "floor-success",
        "one relaxed load of a flag, then the call (no breaker)",
    ),
    (
        "floor-rmw",
        "one atomic read-modify-write per call, two calls (no breaker)",
    ),
];

/// A plain breaker with a recovery timeout no run outlasts, on a `ManualClock`: the default
/// clock calibrates itself against the system clock for as long as that takes, which would
/// make the counts vary from run to run. (The rejection path's clock read is then an indirect
/// call to `ManualClock::now` instead of a time-stamp counter read.)
fn breaker() -> CircuitBreaker {
    CircuitBreaker::builder()
        .name("instructions")
        .failure_threshold(5)
        .recovery_timeout(Duration::from_hours(1))
        .clock(ManualClock::new())
        .build()
        .expect("valid breaker configuration")
}

#[inline(never)]
fn op(ok: bool) -> Result<u64, u64> {
    if black_box(ok) {
        Ok(1)
    } else {
        Err(2)
    }
}

/// A waker that does nothing: the futures here are ready at once.
struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

fn run(path: &str, iterations: u64) -> Result<(), String> {
    match path {
        "closed-success" => {
            let breaker = breaker();
            for _ in 0..iterations {
                black_box(breaker.call(|| op(true))).map_err(|e| e.to_string())?;
            }
        }
        "closed-failure" => {
            let breaker = breaker();
            for _ in 0..iterations {
                let failed = black_box(breaker.call(|| op(false)));
                assert!(matches!(failed, Err(Error::Inner(2))), "{failed:?}");
                black_box(breaker.call(|| op(true))).map_err(|e| e.to_string())?;
            }
        }
        "future-success" => {
            let breaker = breaker();
            let waker = Waker::from(Arc::new(Noop));
            let mut cx = Context::from_waker(&waker);
            for _ in 0..iterations {
                let mut call = pin!(ready(op(true)).circuit(&breaker));
                match call.as_mut().poll(&mut cx) {
                    Poll::Ready(Ok(v)) => {
                        black_box(v);
                    }
                    other => return Err(format!("expected Ready(Ok(_)), got {other:?}")),
                }
            }
        }
        "open-reject" => {
            let breaker = breaker();
            while breaker.is_closed() {
                let _ = breaker.call(|| op(false));
            }
            for _ in 0..iterations {
                let rejected = black_box(breaker.call(|| op(true)));
                assert!(matches!(rejected, Err(Error::Open(_))), "{rejected:?}");
            }
        }
        "floor-success" => {
            let open = AtomicBool::new(false);
            for _ in 0..iterations {
                if !black_box(&open).load(Ordering::Relaxed) {
                    black_box(op(true)).map_err(|e| e.to_string())?;
                }
            }
        }
        "floor-rmw" => {
            let word = AtomicU64::new(0);
            for _ in 0..iterations {
                let failed = op(false);
                black_box(&word).fetch_add(1, Ordering::AcqRel);
                black_box(failed).expect_err("the failing call");
                let ok = op(true);
                black_box(&word).fetch_and(0, Ordering::AcqRel);
                black_box(ok).map_err(|e| e.to_string())?;
            }
        }
        other => return Err(format!("no path named {other:?}")),
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let [path, n] = args.as_slice() else {
        eprintln!("usage: instructions <path> <iterations>; paths:");
        for (name, what) in PATHS {
            eprintln!("  {name:16} {what}");
        }
        std::process::exit(2);
    };
    let iterations = n.parse::<u64>().unwrap_or(0);
    if let Err(e) = run(path, iterations) {
        eprintln!("instructions: {e}");
        std::process::exit(1);
    }
}
