//! `is_closed`, `is_open` and `is_half_open`: each holds in its own state and only there.

use std::time::Duration;

use async_breaker::{CircuitBreaker, ManualClock, State};

/// The three answers, in the order closed, open, half-open.
fn answers(breaker: &CircuitBreaker) -> [bool; 3] {
    [
        breaker.is_closed(),
        breaker.is_open(),
        breaker.is_half_open(),
    ]
}

#[test]
fn each_state_question_holds_in_its_state_only() {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .failure_threshold(1)
        .recovery_timeout(Duration::from_secs(1))
        .clock(clock.clone())
        .build()
        .unwrap();
    let expect = |state: State, answer: [bool; 3]| {
        assert_eq!(breaker.state(), state);
        assert_eq!(answers(&breaker), answer, "{state:?}");
    };
    expect(State::Closed, [true, false, false]);

    breaker.try_acquire().unwrap().failure();
    expect(State::Open, [false, true, false]);

    clock.advance(Duration::from_secs(1));
    expect(State::HalfOpen, [false, false, true]);
    let probe = breaker.try_acquire().unwrap();
    expect(State::HalfOpen, [false, false, true]);
    probe.success();
    expect(State::Closed, [true, false, false]);

    // Manual control: forced open and disabled are states of their own.
    breaker.force_open();
    expect(State::ForcedOpen, [false, false, false]);
    breaker.disable();
    expect(State::Disabled, [false, false, false]);
}
