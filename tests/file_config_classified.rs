//! The `serde` feature, beyond the default classifier: breakers from a file with a classifier
//! of the user's choice (`Breakers::build_with`, `register_into`, `build_map`), and the public
//! duration format (`async_breaker::duration`) in a settings type of the user's own.
#![cfg(feature = "serde")]

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use async_breaker::duration::{self, DurationError};
use async_breaker::{Breakers, BreakersError, ErrorTypes, Registry, RegistryError, State};

const FILE: &str = r#"
    [payments]
    failure_threshold = 1
    recovery_timeout = "1m30s"

    [search]
    failure_threshold = 2
"#;

fn breakers() -> Breakers {
    toml::from_str(FILE).unwrap()
}

fn timeout() -> io::Error {
    io::Error::from(io::ErrorKind::TimedOut)
}

fn declined() -> io::Error {
    io::Error::other("card declined")
}

/// A classifier type a caller can name, so the registry can hand the breaker back.
type IsTimeout = fn(&io::Error) -> bool;

fn is_timeout(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::TimedOut
}

#[test]
fn build_with_gives_every_breaker_the_closures_classifier_and_uses_it() {
    let registry = breakers()
        .build_with(|_, builder| builder.failure_if(is_timeout as IsTimeout))
        .unwrap();
    assert_eq!(registry.len(), 2);
    let payments = registry.try_get_breaker::<IsTimeout>("payments").unwrap();
    assert_eq!(payments.failure_threshold(), 1, "from the file");
    assert_eq!(payments.recovery_timeout(), Duration::from_secs(90));

    let _ = payments.call(|| Err::<(), _>(declined()));
    assert_eq!(
        payments.state(),
        State::Closed,
        "not a failure to the classifier"
    );
    let _ = payments.call(|| Err::<(), _>(timeout()));
    assert_eq!(payments.state(), State::Open, "a timeout is");
    let open: Vec<String> = registry
        .open()
        .iter()
        .map(|b| b.name().to_owned())
        .collect();
    assert_eq!(open, ["payments"]);
}

#[test]
fn the_closure_sees_each_name_and_may_classify_by_type() {
    let mut seen = Vec::new();
    let registry = breakers()
        .build_with(|name, builder| {
            seen.push(name.to_owned());
            builder.failure_on::<io::Error>()
        })
        .unwrap();
    assert_eq!(seen, ["payments", "search"]);
    let search = registry.try_get_breaker::<ErrorTypes>("search").unwrap();
    for _ in 0..2 {
        let _ = search.call(|| "x".parse::<u8>());
    }
    assert!(search.is_closed(), "a parse error is not an io::Error");
    for _ in 0..2 {
        let _ = search.call(|| Err::<(), _>(timeout()));
    }
    assert!(search.is_open());
}

#[test]
fn build_map_keeps_breakers_whose_classifier_is_an_unnameable_closure() {
    let limit = 500;
    let map = breakers()
        .build_map(|_, builder| builder.failure_if(move |status: &u16| *status >= limit))
        .unwrap();
    let names: Vec<&str> = map.keys().map(String::as_str).collect();
    assert_eq!(names, ["payments", "search"]);
    let payments = &map["payments"];
    let _ = payments.call(|| Err::<(), _>(404_u16));
    assert!(payments.is_closed());
    let _ = payments.call(|| Err::<(), _>(503_u16));
    assert!(payments.is_open());

    // Registered by hand, they are listed, though `try_get_breaker` cannot name their type.
    let registry = Registry::new();
    for breaker in map.values() {
        registry.register(Arc::clone(breaker)).unwrap();
    }
    assert_eq!(registry.open().len(), 1);
    assert!(matches!(
        registry.try_get_breaker::<IsTimeout>("payments"),
        Err(RegistryError::WrongClassifier { .. })
    ));
}

#[test]
fn a_classified_table_registers_nothing_if_a_name_is_taken() {
    let registry = Registry::new();
    let taken = async_breaker::CircuitBreaker::builder()
        .name("search")
        .build()
        .unwrap();
    registry.register(Arc::new(taken)).unwrap();
    let err = breakers()
        .register_into(&registry, |_, builder| {
            builder.failure_if(is_timeout as IsTimeout)
        })
        .unwrap_err();
    assert_eq!(
        err,
        BreakersError::Registry(RegistryError::Duplicate {
            name: "search".into()
        })
    );
    assert_eq!(registry.len(), 1);
    assert!(registry.get("payments").is_none());
}

#[test]
fn a_setting_the_closure_breaks_names_the_breaker() {
    let err = breakers()
        .build_map(|name, builder| {
            let builder = builder.failure_if(is_timeout as IsTimeout);
            if name == "search" {
                builder.failure_threshold(0)
            } else {
                builder
            }
        })
        .unwrap_err();
    assert!(
        matches!(&err, BreakersError::Config { name, .. } if name == "search"),
        "{err:?}"
    );
}

/// A user's own settings with the crate's duration format.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Settings {
    #[serde(with = "async_breaker::duration")]
    timeout: Duration,
    #[serde(
        with = "async_breaker::duration::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    idle: Option<Duration>,
}

#[test]
fn durations_round_trip_through_toml_and_json() {
    for (timeout, idle) in [
        (Duration::from_secs(90), None),
        (Duration::from_millis(3_723_004), Some(Duration::ZERO)),
        (Duration::from_secs(7_200), Some(Duration::from_millis(250))),
        (Duration::from_secs(5_400), Some(Duration::from_millis(1))),
    ] {
        let settings = Settings { timeout, idle };
        let text = toml::to_string(&settings).unwrap();
        assert_eq!(
            toml::from_str::<Settings>(&text).unwrap(),
            settings,
            "{text}"
        );
        let json = serde_json::to_string(&settings).unwrap();
        assert_eq!(
            serde_json::from_str::<Settings>(&json).unwrap(),
            settings,
            "{json}"
        );
    }
    let written = toml::to_string(&Settings {
        timeout: Duration::from_secs(5_400),
        idle: Some(Duration::from_millis(1_500)),
    })
    .unwrap();
    assert_eq!(written, "timeout = \"1h30m\"\nidle = \"1s500ms\"\n");
    assert_eq!(
        serde_json::to_string(&Settings {
            timeout: Duration::ZERO,
            idle: None
        })
        .unwrap(),
        r#"{"timeout":"0s"}"#
    );
}

#[test]
fn a_malformed_duration_says_what_a_config_file_says() {
    let err = toml::from_str::<Settings>(r#"timeout = "30 s""#).unwrap_err();
    assert!(
        err.to_string()
            .contains(r#"malformed duration "30 s": `30` needs a unit (h, m, s or ms)"#),
        "{err}"
    );
    let err = serde_json::from_str::<Settings>(r#"{"timeout":"30s","idle":"1s1m"}"#).unwrap_err();
    assert!(
        err.to_string().contains(
            r#"malformed duration "1s1m": units must go from largest to smallest, each at most once (h, m, s, ms)"#
        ),
        "{err}"
    );
    // The same words as in a breaker's configuration.
    let file = toml::from_str::<Breakers>("[db]\nrecovery_timeout = \"30 s\"").unwrap_err();
    assert!(
        file.to_string()
            .contains(r#"malformed duration "30 s": `30` needs a unit (h, m, s or ms)"#),
        "{file}"
    );
    let err = serde_json::from_str::<Settings>(r#"{"timeout":30}"#).unwrap_err();
    assert!(
        err.to_string()
            .contains(r#"expected a duration such as "30s", "250ms" or "1m30s""#),
        "{err}"
    );
}

#[test]
fn a_duration_finer_than_a_millisecond_is_not_written() {
    let err = serde_json::to_string(&Settings {
        timeout: Duration::from_micros(1_500),
        idle: None,
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("500000 ns is finer than the smallest unit (ms)"),
        "{err}"
    );
    assert_eq!(
        duration::format_duration(Duration::from_nanos(1_000_001)),
        Err(DurationError::Precision { nanos: 1 })
    );
    assert_eq!(
        duration::format_duration(Duration::from_secs(u64::MAX)),
        Err(DurationError::Overflow)
    );
    let most = Duration::from_millis(u64::MAX);
    assert_eq!(
        duration::parse_duration(&duration::format_duration(most).unwrap()),
        Ok(most)
    );
}

#[test]
fn parse_and_format_agree_on_the_grammar() {
    let mut by_text = BTreeMap::new();
    for ms in [
        0_u64, 1, 999, 1_000, 59_999, 60_000, 3_599_999, 3_600_000, 86_400_001,
    ] {
        let d = Duration::from_millis(ms);
        let text = duration::format_duration(d).unwrap();
        assert_eq!(duration::parse_duration(&text), Ok(d), "{text}");
        assert!(by_text.insert(text, ms).is_none(), "one text per duration");
    }
    assert_eq!(by_text.get("59s999ms"), Some(&59_999));
    assert_eq!(by_text.get("24h1ms"), Some(&86_400_001));
    assert_eq!(
        duration::parse_duration("90m"),
        Ok(Duration::from_secs(5_400))
    );
    assert_eq!(
        duration::parse_duration("1.5s"),
        Err(DurationError::Fraction)
    );
}
