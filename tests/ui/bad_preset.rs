use std::time::Duration;

use async_breaker::{circuit, Config, OpenError};

struct E;
impl From<OpenError> for E {
    fn from(_: OpenError) -> E {
        E
    }
}

const NEVER_OPENS: Config = Config::new().failure_threshold(0);

#[circuit(preset = NEVER_OPENS)]
fn bad_preset() -> Result<(), E> {
    Ok(())
}

#[circuit(recovery_timeout = Duration::ZERO)]
fn zero_duration() -> Result<(), E> {
    Ok(())
}

fn main() {}
