//! `Registry::try_get_breaker`: a breaker of the classifier type asked for, or an error that
//! says whether the name is missing or the breaker has another classifier type.

use std::sync::Arc;
use std::time::Duration;

use async_breaker::{
    AnyError, CircuitBreaker, ErrorTypes, MetricsSnapshot, Monitor, Registry, RegistryError, State,
};

fn registry() -> Registry {
    let registry = Registry::new();
    let db = CircuitBreaker::builder()
        .name("db")
        .failure_threshold(1)
        .build()
        .unwrap();
    registry.register(Arc::new(db)).unwrap();
    let io = CircuitBreaker::builder()
        .name("io")
        .failure_on::<std::io::Error>()
        .build()
        .unwrap();
    registry.register(Arc::new(io)).unwrap();
    registry
}

#[test]
fn the_registered_breaker_comes_back_and_is_the_same_one() {
    let registry = registry();
    let db = registry.try_get_breaker::<AnyError>("db").unwrap();
    let _ = db.call(|| Err::<(), _>("down"));
    assert_eq!(
        registry.get("db").unwrap().state(),
        State::Open,
        "one breaker, two handles"
    );
    let io = registry.try_get_breaker::<ErrorTypes>("io").unwrap();
    assert_eq!(io.name(), "io");
    assert!(Arc::ptr_eq(
        &db,
        &registry.get_breaker::<AnyError>("db").unwrap()
    ));
}

#[test]
fn a_missing_name_is_missing() {
    let registry = registry();
    let err = registry.try_get_breaker::<AnyError>("cache").unwrap_err();
    assert_eq!(
        err,
        RegistryError::Missing {
            name: "cache".into()
        }
    );
    assert_eq!(
        err.to_string(),
        r#"no circuit breaker named "cache" is registered"#
    );
    assert!(registry.get_breaker::<AnyError>("cache").is_none());
}

#[test]
fn another_classifier_type_is_named_with_both_types() {
    let registry = registry();
    let err = registry.try_get_breaker::<ErrorTypes>("db").unwrap_err();
    assert_eq!(
        err,
        RegistryError::WrongClassifier {
            name: "db".into(),
            requested: std::any::type_name::<ErrorTypes>(),
            registered: std::any::type_name::<AnyError>(),
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            r#"the circuit breaker named "db" has classifier type `{}`, not `{}`"#,
            std::any::type_name::<AnyError>(),
            std::any::type_name::<ErrorTypes>()
        )
    );
    assert!(registry.get_breaker::<ErrorTypes>("db").is_none());
    assert!(matches!(
        registry.try_get_breaker::<AnyError>("io"),
        Err(RegistryError::WrongClassifier { registered, .. }) if registered.ends_with("ErrorTypes")
    ));
}

/// A monitor of the user's own: no classifier type to name.
struct Gauge(&'static str);

impl Monitor for Gauge {
    fn name(&self) -> &str {
        self.0
    }
    fn state(&self) -> State {
        State::Closed
    }
    fn failure_count(&self) -> u32 {
        0
    }
    fn open_remaining(&self) -> Duration {
        Duration::ZERO
    }
    fn metrics(&self) -> Option<MetricsSnapshot> {
        None
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
        self
    }
}

#[test]
fn a_monitor_that_is_not_a_breaker_has_an_unknown_classifier() {
    let registry = registry();
    registry.register_monitor(Arc::new(Gauge("gauge"))).unwrap();
    assert_eq!(registry.get("gauge").unwrap().classifier_type(), None);
    let err = registry.try_get_breaker::<AnyError>("gauge").unwrap_err();
    assert!(
        matches!(
            &err,
            RegistryError::WrongClassifier {
                registered: "unknown",
                ..
            }
        ),
        "{err:?}"
    );
}
