//! Every kind of breaker name (`&'static str`, `String`, `Cow` borrowed or owned) reaches a
//! rejection: the rejection carries a handle (nothing is counted or copied per rejection),
//! resolved when the name is asked for, borrowed for a `&'static str` name; a name is freed
//! with the last breaker that uses it. (Memory returning to where it started after a million
//! names: `tests/names_memory.rs`.)

use std::borrow::Cow;
use std::time::Duration;

use async_breaker::{CircuitBreaker, Error, ManualClock, OpenError, State};

const RECOVERY: Duration = Duration::from_secs(30);

fn open_breaker(name: impl Into<Cow<'static, str>>, clock: &ManualClock) -> CircuitBreaker {
    let breaker = CircuitBreaker::builder()
        .name(name)
        .failure_threshold(1)
        .recovery_timeout(RECOVERY)
        .clock(clock.clone())
        .build()
        .expect("valid configuration");
    let _ = breaker.call(|| Err::<(), _>("down"));
    assert_eq!(breaker.state(), State::Open);
    breaker
}

fn rejection(breaker: &CircuitBreaker) -> OpenError {
    match breaker.call(|| Ok::<(), ()>(())) {
        Err(Error::Open(rejected)) => rejected,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// Open and half-open (probe in flight) rejections carry the facts and the breaker's own name.
fn check(name: impl Into<Cow<'static, str>>, expected: &str) {
    let clock = ManualClock::new();
    let breaker = open_breaker(name, &clock);
    clock.advance(Duration::from_secs(1));

    let open = rejection(&breaker);
    assert_eq!(open.name(), expected);
    assert_eq!(breaker.name(), expected);
    assert_eq!(open.state(), State::Open);
    assert_eq!(open.failures(), 1);
    assert_eq!(open.remaining(), Duration::from_secs(29));
    assert_eq!(
        open.to_string(),
        format!(r#"circuit "{expected}" is open (1 failure, 29s remaining)"#)
    );

    clock.advance(RECOVERY);
    let probe = breaker.try_acquire().expect("the probe is admitted");
    let half_open = rejection(&breaker);
    assert_eq!(half_open.state(), State::HalfOpen);
    assert_eq!(half_open.remaining(), Duration::ZERO);
    assert_eq!(half_open.name(), expected);
    probe.success();

    let kept = open.name();
    let is_static = matches!(kept, Cow::Borrowed(_));
    drop(breaker);
    assert_eq!(kept, expected, "a name asked for is the caller's to keep");
    // A runtime name goes with its (last) breaker; a `&'static str` name is kept.
    let after = if is_static {
        expected
    } else {
        "<dropped breaker>"
    };
    assert_eq!(open.name(), after);
    assert_eq!(
        open.to_string(),
        format!(r#"circuit "{after}" is open (1 failure, 29s remaining)"#)
    );
}

#[test]
fn a_static_name() {
    check("static-name", "static-name");
}

#[test]
fn a_string_name() {
    check(format!("upstream-{}", "a.example"), "upstream-a.example");
}

#[test]
fn a_borrowed_cow_name() {
    check(Cow::Borrowed("cow-borrowed"), "cow-borrowed");
}

#[test]
fn an_owned_cow_name() {
    check(Cow::<str>::Owned("cow-owned".to_owned()), "cow-owned");
}

#[test]
fn a_static_name_is_used_in_place() {
    static NAME: &str = "in-place";
    let clock = ManualClock::new();
    let breaker = open_breaker(NAME, &clock);
    assert!(std::ptr::eq(breaker.name(), NAME));
    match rejection(&breaker).name() {
        Cow::Borrowed(name) => assert!(std::ptr::eq(name, NAME), "not copied"),
        Cow::Owned(name) => panic!("a static name was copied: {name}"),
    }
}

#[test]
fn breakers_with_one_name_each_keep_it_until_the_last_is_dropped() {
    let clock = ManualClock::new();
    let first = open_breaker(format!("host-{}", 7), &clock);
    let from_first = rejection(&first);
    let mut again: Vec<_> = (0..100)
        .map(|_| open_breaker(String::from("host-7"), &clock))
        .collect();
    let from_last = rejection(&again[99]);
    assert_eq!(
        from_last, from_first,
        "same name, same facts: equal rejections"
    );
    drop(first);
    assert_eq!(from_first.name(), "<dropped breaker>");
    assert_eq!(
        from_last.name(),
        "host-7",
        "the other breakers' names live on"
    );
    assert_eq!(rejection(&again[0]).name(), "host-7");
    again.clear();
    assert_eq!(from_last.name(), "<dropped breaker>");
    let other = open_breaker(String::from("host-8"), &clock);
    assert_eq!(other.name(), "host-8");
    assert_eq!(rejection(&other).name(), "host-8");
}

#[test]
fn rejections_on_many_threads_all_see_the_name() {
    let clock = ManualClock::new();
    let breaker = open_breaker(format!("shared-{}", "db"), &clock);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..1_000 {
                    let rejected = rejection(&breaker);
                    assert_eq!(rejected.name(), "shared-db");
                    assert_eq!(rejected.failures(), 1);
                }
            });
        }
    });
}
