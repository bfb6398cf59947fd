//! The `tracing` feature: one event per state change (warn when opening, info when probing or
//! closing) and one per rejection (debug), carrying the breaker's name; no spans.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_breaker::{CircuitBreaker, ManualClock};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// What one event said.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    level: Level,
    message: String,
    breaker: String,
}

#[derive(Default)]
struct Fields {
    message: String,
    breaker: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "breaker" {
            value.clone_into(&mut self.breaker);
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
        .map(|e| (e.level, e.message.clone(), e.breaker.clone()))
        .collect();
    let traced = |level, message: &str| (level, message.to_owned(), "traced".to_owned());
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
