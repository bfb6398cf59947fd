//! Every kind of breaker name (`&'static str`, `String`, `Cow` borrowed or owned) reaches a
//! rejection as a `&'static str`: the rejection holds the breaker's own copy of the name
//! (nothing is counted or copied per rejection), and a runtime name is stored once however
//! many breakers are built with it.

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

/// A rejection's name is `'static`: it may outlive the rejection and the breaker.
fn keep(name: &'static str) -> &'static str {
    name
}

/// Open and half-open (probe in flight) rejections carry the facts and the breaker's own name.
fn check(name: impl Into<Cow<'static, str>>, expected: &str) {
    let clock = ManualClock::new();
    let breaker = open_breaker(name, &clock);
    clock.advance(Duration::from_secs(1));

    let open = rejection(&breaker);
    assert_eq!(open.name(), expected);
    assert!(
        std::ptr::eq(open.name(), breaker.name()),
        "the rejection points at the breaker's name, it does not copy it"
    );
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
    assert!(std::ptr::eq(half_open.name(), breaker.name()));
    probe.success();

    let kept = keep(open.name());
    drop(breaker);
    assert_eq!(kept, expected, "the name outlives the breaker");
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
    assert!(std::ptr::eq(rejection(&breaker).name(), NAME));
}

#[test]
fn a_runtime_name_is_stored_once_however_many_breakers_use_it() {
    let clock = ManualClock::new();
    let first = open_breaker(format!("host-{}", 7), &clock);
    for _ in 0..100 {
        let again = open_breaker(String::from("host-7"), &clock);
        assert!(
            std::ptr::eq(again.name(), first.name()),
            "a rebuilt breaker shares the stored name"
        );
        assert!(std::ptr::eq(rejection(&again).name(), first.name()));
    }
    let other = open_breaker(String::from("host-8"), &clock);
    assert_eq!(other.name(), "host-8");
    assert!(!std::ptr::eq(other.name(), first.name()));
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
