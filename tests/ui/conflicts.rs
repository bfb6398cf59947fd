use async_breaker::{circuit, Config, OpenError};

#[derive(Debug)]
struct E;
impl std::fmt::Display for E {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("E")
    }
}
impl std::error::Error for E {}
impl From<OpenError> for E {
    fn from(_: OpenError) -> E {
        E
    }
}

fn always(_: &E) -> bool {
    true
}

#[circuit(failure_on = [E], failure_if = always)]
fn both_classifiers() -> Result<(), E> {
    Ok(())
}

const PRESET: Config = Config::new();

#[circuit(preset = PRESET, failure_if = always)]
fn preset_and_classifier() -> Result<(), E> {
    Ok(())
}

#[circuit(failure_threshold = 2, failure_threshold = 3)]
fn twice() -> Result<(), E> {
    Ok(())
}

#[circuit(failure_threshold)]
fn no_value() -> Result<(), E> {
    Ok(())
}

#[circuit]
const fn constant() -> Result<(), E> {
    Ok(())
}

fn main() {}
