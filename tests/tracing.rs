//! The `tracing` feature: one event per state change (warn when opening, info when probing or
//! closing) and one per rejection (debug), carrying the breaker's name and the cause; no spans.
//! A transition a remote coordinator made says so in its message; granting the fleet's probe
//! and taking the grant back unclaimed emit nothing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_breaker::{CircuitBreaker, ManualClock, Reason};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// What one event said.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    level: Level,
    message: String,
    breaker: String,
    cause: String,
    /// The `failures` and `slow` fields, where the event has them.
    counts: (Option<u64>, Option<u64>),
}

#[derive(Default)]
struct Fields {
    message: String,
    breaker: String,
    cause: String,
    counts: (Option<u64>, Option<u64>),
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "failures" => self.counts.0 = Some(value),
            "slow" => self.counts.1 = Some(value),
            _ => self.record_debug(field, &value),
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "breaker" => value.clone_into(&mut self.breaker),
            "cause" => value.clone_into(&mut self.cause),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "breaker" => format!("{value:?}")
                .trim_matches('"')
                .clone_into(&mut self.breaker),
            _ => {}
        }
    }
}

/// Records every event; counts spans, which the crate must never open.
#[derive(Clone, Default)]
struct Capture {
    events: Arc<Mutex<Vec<Seen>>>,
    spans: Arc<Mutex<usize>>,
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        *self.spans.lock().unwrap() += 1;
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.events.lock().unwrap().push(Seen {
            level: *event.metadata().level(),
            message: fields.message,
            breaker: fields.breaker,
            cause: fields.cause,
            counts: fields.counts,
        });
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[test]
fn transitions_and_rejections_are_traced_at_their_levels() {
    let capture = Capture::default();
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .name("traced")
        .failure_threshold(1)
        .recovery_timeout(Duration::from_secs(1))
        .clock(clock.clone())
        .build()
        .unwrap();
    tracing::subscriber::with_default(capture.clone(), || {
        let _ = b.call(|| Ok::<_, ()>(())); // closed success: nothing to say
        let _ = b.call(|| Err::<(), _>("down")); // opens
        let _ = b.call(|| Ok::<_, ()>(())); // rejected
        clock.advance(Duration::from_secs(1));
        let _ = b.call(|| Ok::<_, ()>(())); // probe admitted, then closes
    });
    let seen: Vec<_> = capture
        .events
        .lock()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e.level,
                e.message.clone(),
                e.breaker.clone(),
                e.cause.clone(),
            )
        })
        .collect();
    let traced = |level, message: &str| {
        (
            level,
            message.to_owned(),
            "traced".to_owned(),
            "calls".to_owned(),
        )
    };
    assert_eq!(
        seen,
        [
            traced(Level::WARN, "circuit breaker opened"),
            traced(Level::DEBUG, "circuit breaker rejected a call"),
            traced(Level::INFO, "circuit breaker admitted a probe"),
            traced(Level::INFO, "circuit breaker closed"),
        ]
    );
    assert_eq!(*capture.spans.lock().unwrap(), 0, "no spans");
}

/// What a remote coordinator does is traced with its reason as the cause, a rejection by a held
/// breaker with the hold's, manual control with `manual`; a grant taken back unclaimed and a
/// renewed hold emit nothing.
#[test]
fn remote_and_manual_transitions_are_traced_with_their_cause() {
    let capture = Capture::default();
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .name("fleet")
        .recovery_timeout(Duration::from_secs(1))
        .clock(clock.clone())
        .build()
        .unwrap();
    tracing::subscriber::with_default(capture.clone(), || {
        let quorum = Reason::Quorum {
            tripped: 3,
            live: 8,
        };
        b.remote().hold_because(Duration::from_secs(1), 0, quorum);
        b.remote().hold(Duration::from_secs(1), 0); // renewed: nothing
        let _ = b.try_acquire(); // rejected, held for the quorum
        clock.advance(Duration::from_secs(1));
        let granted = b.remote().grant_probe().unwrap();
        assert!(b.remote().revoke_probe(&granted)); // given back unused: nothing
        b.remote().close_because(Reason::Probe);
        b.remote().hold(Duration::ZERO, 0);
        b.remote().release();
        b.force_open();
        let _ = b.try_acquire(); // rejected by hand
    });
    let seen: Vec<_> = capture
        .events
        .lock()
        .unwrap()
        .iter()
        .map(|e| (e.level, e.message.clone(), e.cause.clone()))
        .collect();
    let event = |level, message: &str, cause: &str| (level, message.to_owned(), cause.to_owned());
    assert_eq!(
        seen,
        [
            event(
                Level::WARN,
                "circuit breaker opened by the fleet",
                "fleet_quorum"
            ),
            event(
                Level::DEBUG,
                "circuit breaker rejected a call",
                "fleet_quorum"
            ),
            event(
                Level::INFO,
                "circuit breaker closed by the fleet",
                "fleet_probe"
            ),
            event(
                Level::WARN,
                "circuit breaker opened by the fleet",
                "fleet_sync"
            ),
            event(
                Level::WARN,
                "circuit breaker released by the fleet: it probes on its own",
                "fleet_released"
            ),
            event(Level::WARN, "circuit breaker set by hand", "manual"),
            event(Level::DEBUG, "circuit breaker rejected a call", "manual"),
        ]
    );
}

/// An opening and a rejection say how many of the failures were slow successes.
#[test]
fn opening_and_rejecting_say_how_many_failures_were_slow() {
    let capture = Capture::default();
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .name("slow")
        .failure_threshold(3)
        .slow_call_threshold(Duration::from_millis(200))
        .clock(clock.clone())
        .build()
        .unwrap();
    tracing::subscriber::with_default(capture.clone(), || {
        let _ = b.call(|| Err::<(), _>("down"));
        for _ in 0..2 {
            let _ = b.call(|| {
                clock.advance(Duration::from_millis(200));
                Ok::<_, ()>(())
            });
        }
        let _ = b.call(|| Ok::<_, ()>(())); // rejected
    });
    let seen: Vec<_> = capture
        .events
        .lock()
        .unwrap()
        .iter()
        .map(|e| (e.message.clone(), e.counts))
        .collect();
    assert_eq!(
        seen,
        [
            ("circuit breaker opened".to_owned(), (Some(3), Some(2))),
            (
                "circuit breaker rejected a call".to_owned(),
                (Some(3), Some(2))
            ),
        ]
    );
}
