//! The `serde` feature: breakers configured from real TOML, YAML and JSON files
//! (tests/data/), good and bad.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_breaker::{
    AnyError, Backoff, Breakers, BreakersError, Config, FailureRate, HalfOpen, ManualClock,
    Registry, State,
};
use serde::Deserialize;

/// A service's settings, as a newcomer would write them: the breakers under their own key, and
/// no unknown top-level key allowed either.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    breakers: Breakers,
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Reads `name` with the format its extension says; the error as the format shows it.
fn load(name: &str) -> Result<Settings, String> {
    let path = data(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => toml::from_str(&text).map_err(|e| e.to_string()),
        Some("yaml") => serde_norway::from_str(&text).map_err(|e| e.to_string()),
        Some("json") => serde_json::from_str(&text).map_err(|e| e.to_string()),
        other => panic!("no format for {other:?}"),
    }
}

/// What tests/data/good.* describe, written in code.
fn expected(name: &str) -> Config {
    match name {
        "payments" => Config::new()
            .failure_threshold(3)
            .recovery_timeout(Duration::from_secs(90))
            .probe_deadline(Duration::from_secs(10))
            .slow_call_threshold(Duration::from_millis(750))
            .backoff(Backoff::exponential(Duration::from_secs(600)).with_jitter())
            .half_open(HalfOpen::probes(3).closing_after(2)),
        "search" => Config::new()
            .recovery_timeout(Duration::from_secs(5))
            .failure_rate(FailureRate::last(Duration::from_secs(30), 10, 100, 25))
            .slow_call_rate(Duration::from_secs(2), 80),
        "inventory" => Config::new()
            .failure_rate(FailureRate::last_calls(1_000, 100, 50))
            .slow_call_rate(Duration::from_millis(250), 60),
        "defaults" => Config::new(),
        other => panic!("unexpected breaker {other}"),
    }
}

#[test]
fn the_good_files_read_the_same_in_every_format() {
    for file in ["good.toml", "good.yaml", "good.json"] {
        let settings = load(file).unwrap_or_else(|e| panic!("{file}: {e}"));
        let names: Vec<&str> = settings.breakers.iter().map(|(name, _)| name).collect();
        assert_eq!(
            names,
            ["defaults", "inventory", "payments", "search"],
            "{file}"
        );
        for (name, config) in settings.breakers.iter() {
            // `Config` has no `PartialEq` (its classifier need not have one); its `Debug` shows
            // every setting.
            assert_eq!(
                format!("{config:?}"),
                format!("{:?}", expected(name)),
                "{file}: breaker {name}"
            );
        }
    }
}

#[test]
fn the_good_file_builds_a_registry_of_working_breakers() {
    let settings = load("good.toml").unwrap();
    let clock = ManualClock::new();
    let registry = settings
        .breakers
        .build_with(|_, builder| builder.clock(clock.clone()))
        .unwrap();
    assert_eq!(registry.len(), 4);
    assert!(registry.all_closed());

    let payments = registry.get_breaker::<AnyError>("payments").unwrap();
    assert_eq!(payments.name(), "payments");
    assert_eq!(payments.failure_threshold(), 3);
    assert_eq!(payments.recovery_timeout(), Duration::from_secs(90));
    assert_eq!(payments.probe_deadline(), Duration::from_secs(10));
    for _ in 0..3 {
        let _ = payments.call(|| Err::<(), _>("down"));
    }
    assert_eq!(payments.state(), State::Open);
    let open: Vec<String> = registry
        .open()
        .iter()
        .map(|b| b.name().to_owned())
        .collect();
    assert_eq!(open, ["payments"]);

    // Half-open admits three probes at once (`half_open.probes = 3`) and closes after two
    // successes. Jitter may shorten the open period to half, never lengthen it.
    clock.advance(Duration::from_secs(90));
    let probes: Vec<_> = (0..3).map(|_| payments.try_acquire().unwrap()).collect();
    assert!(payments.try_acquire().is_err(), "a fourth is turned away");
    let mut probes = probes.into_iter();
    probes.next().unwrap().success();
    assert_eq!(payments.state(), State::HalfOpen);
    probes.next().unwrap().success();
    assert_eq!(payments.state(), State::Closed);

    let defaults = registry.get_breaker::<AnyError>("defaults").unwrap();
    assert_eq!(defaults.failure_threshold(), 5);
    assert_eq!(defaults.recovery_timeout(), Duration::from_secs(30));
}

#[test]
fn registering_into_a_registry_with_a_taken_name_registers_nothing() {
    let settings = load("good.json").unwrap();
    let registry = Registry::new();
    let search = Config::new().builder().name("search").build().unwrap();
    registry.register(std::sync::Arc::new(search)).unwrap();
    let err = settings
        .breakers
        .register_into(&registry, |_, builder| builder)
        .unwrap_err();
    assert!(matches!(err, BreakersError::Registry(_)), "{err:?}");
    assert_eq!(registry.len(), 1, "nothing was added");
}

#[test]
fn a_setting_broken_after_reading_names_its_breaker() {
    let settings = load("good.yaml").unwrap();
    let err = settings
        .breakers
        .build_with(|name, builder| {
            if name == "search" {
                builder.failure_threshold(0)
            } else {
                builder
            }
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "breaker `search`: failure_threshold must be between 1 and 65535, got 0"
    );
}

/// Every bad file, with what its error must say (the breaker, the key and the reason).
const BAD: &[(&str, &str)] = &[
    (
        "slow_rate_percent_zero.toml",
        "breaker `payments`, key `slow_call_rate`: slow_call_rate needs a threshold between 1ms and 4398046511.103s and a percentage between 1 and 100, got 2s and 0",
    ),
    (
        "slow_rate_without_threshold.yaml",
        "breaker `payments`, key `slow_call_rate`: missing key `threshold`",
    ),
    (
        "window_too_large.json",
        "breaker `payments`, key `failure_rate`: failure_rate needs a window of 1 to 1024 calls, got last 1025 calls, judged from 10, at 50 %",
    ),
    (
        "unknown_key.toml",
        "breaker `payments`: unknown key `failure_treshold` (expected `failure_threshold`, `recovery_timeout`, `probe_deadline`, `slow_call_threshold`, `backoff`, `failure_rate`, `slow_call_rate` or `half_open`)",
    ),
    (
        "unknown_nested_key.yaml",
        "breaker `payments`, key `backoff`: unknown key `maximum` (expected `max` or `jitter`)",
    ),
    (
        "malformed_duration.json",
        "breaker `payments`, key `recovery_timeout`: malformed duration \"30x\": unknown unit `x` (use h, m, s or ms)",
    ),
    (
        "duration_with_space.toml",
        "breaker `payments`, key `probe_deadline`: malformed duration \"30 s\": `30` needs a unit (h, m, s or ms)",
    ),
    (
        "duration_without_unit.yaml",
        "breaker `payments`, key `recovery_timeout`: malformed duration \"30\": `30` needs a unit",
    ),
    (
        "duration_as_number.toml",
        "invalid type: integer `30`, expected a duration such as \"30s\", \"250ms\" or \"1m30s\" for breaker `payments`, key `recovery_timeout`",
    ),
    (
        "threshold_zero.toml",
        "breaker `payments`, key `failure_threshold`: failure_threshold must be between 1 and 65535, got 0",
    ),
    (
        "threshold_negative.json",
        "breaker `payments`, key `failure_threshold`: -1 is negative",
    ),
    (
        "threshold_as_string.toml",
        "invalid type: string \"5\", expected a whole number for breaker `payments`, key `failure_threshold`",
    ),
    (
        "recovery_zero.yaml",
        "breaker `payments`, key `recovery_timeout`: recovery_timeout must be between 1ms and",
    ),
    (
        "backoff_below_recovery.toml",
        "breaker `payments`, key `backoff`: backoff maximum must be between the recovery_timeout (60s)",
    ),
    (
        "backoff_without_max.json",
        "breaker `payments`, key `backoff`: missing key `max`",
    ),
    (
        "half_open_more_successes.yaml",
        "breaker `payments`, key `half_open`: half_open needs 1 <= successes <= probes <= 2047, got 3 of 2",
    ),
    (
        "rate_percent_zero.toml",
        "breaker `search`, key `failure_rate`: failure_rate needs a percentage between 1 and 100, got last 20 calls, judged from 10, at 0 %",
    ),
    (
        "rate_percent_too_large.json",
        "breaker `search`, key `failure_rate.percent`: 300 is too large",
    ),
    (
        "rate_both_windows.toml",
        "breaker `search`, key `failure_rate`: give `last_calls` (a window of calls) or `last` (a window of time), not both",
    ),
    (
        "rate_time_without_buckets.yaml",
        "breaker `search`, key `failure_rate`: missing key `buckets`",
    ),
    (
        "key_twice.json",
        "breaker `payments`, key `failure_threshold`: given twice",
    ),
    ("breaker_twice.json", "breaker `payments`: given twice"),
    (
        "breaker_not_a_table.yaml",
        "expected a table of circuit breaker settings for breaker `payments`",
    ),
];

#[test]
fn every_bad_file_is_refused_with_a_clear_error() {
    let dir = data("bad");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = BAD.iter().map(|(f, _)| (*f).to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "every file in tests/data/bad is checked");

    for (file, message) in BAD {
        match load(&format!("bad/{file}")) {
            Ok(settings) => panic!("{file} was accepted: {settings:?}"),
            Err(e) => assert!(
                e.contains(message),
                "{file}: the error\n  {e}\ndoes not say\n  {message}"
            ),
        }
    }
}

#[test]
fn policies_and_configs_read_on_their_own() {
    let config: Config =
        serde_json::from_str(r#"{ "failure_threshold": 2, "recovery_timeout": "250ms" }"#).unwrap();
    assert_eq!(config.get_failure_threshold(), 2);
    assert_eq!(config.get_recovery_timeout(), Duration::from_millis(250));

    let backoff: Backoff = toml::from_str(r#"max = "1h""#).unwrap();
    assert_eq!(backoff, Backoff::exponential(Duration::from_secs(3600)));
    let backoff: Backoff = toml::from_str("max = \"1h\"\njitter = false").unwrap();
    assert_eq!(backoff, Backoff::exponential(Duration::from_secs(3600)));
    let backoff: Backoff = toml::from_str("max = \"1h\"\njitter = true").unwrap();
    assert_eq!(
        backoff,
        Backoff::exponential(Duration::from_secs(3600)).with_jitter()
    );
    let err = serde_json::from_str::<Backoff>(r#"{ "max": "1h", "jitter": "yes" }"#).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "invalid type: string \"yes\", expected true or false for key `backoff.jitter`"
        ),
        "{err}"
    );

    let rate: FailureRate =
        serde_norway::from_str("{ last_calls: 8, min_calls: 4, percent: 75 }").unwrap();
    assert_eq!(rate, FailureRate::last_calls(8, 4, 75));

    let half_open: HalfOpen = serde_json::from_str(r#"{ "probes": 4 }"#).unwrap();
    assert_eq!(half_open, HalfOpen::probes(4));

    let err = serde_json::from_str::<HalfOpen>(r#"{ "probes": 4, "extra": 1 }"#).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("key `half_open`: unknown key `extra` (expected `probes` or `successes`)"),
        "{err}"
    );
    let err = serde_json::from_str::<Config>(r#"{ "recovery_timeout": "1.5s" }"#).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("key `recovery_timeout`: malformed duration \"1.5s\": no fractions"),
        "{err}"
    );
}

/// A table of breakers answers by name, counts them, and builds them.
#[test]
fn a_table_of_breakers_answers_by_name() {
    let breakers: Breakers =
        serde_json::from_str(r#"{ "db": { "failure_threshold": 2 }, "cache": {} }"#).unwrap();
    assert_eq!(breakers.get("db").unwrap().get_failure_threshold(), 2);
    assert_eq!(breakers.get("cache").unwrap().get_failure_threshold(), 5);
    assert!(breakers.get("queue").is_none());
    assert_eq!(breakers.len(), 2);
    assert!(!breakers.is_empty());
    let none = Breakers::default();
    assert_eq!(none.len(), 0);
    assert!(none.is_empty());

    // `build` makes a registry of them, named by their keys.
    let registry = breakers.build().unwrap();
    assert_eq!(registry.len(), 2);
    let db = registry.get_breaker::<AnyError>("db").unwrap();
    assert_eq!((db.name(), db.failure_threshold()), ("db", 2));
    assert_eq!(registry.get("cache").unwrap().name(), "cache");

    // Anything but a table is refused, saying what was expected.
    let err = serde_json::from_str::<Breakers>("[1, 2]").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid type: sequence, expected a table of circuit breakers by name"),
        "{err}"
    );
}

#[test]
fn an_unknown_top_level_key_is_the_settings_types_business() {
    let err = toml::from_str::<Settings>("[breaker.payments]\n").unwrap_err();
    assert!(err.to_string().contains("unknown field `breaker`"), "{err}");
}
