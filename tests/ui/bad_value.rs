use async_breaker::{circuit, OpenError};

struct E;
impl From<OpenError> for E {
    fn from(_: OpenError) -> E {
        E
    }
}

#[circuit(failure_threshold = "ten")]
fn string_threshold() -> Result<(), E> {
    Ok(())
}

#[circuit(failure_threshold = 0)]
fn zero_threshold() -> Result<(), E> {
    Ok(())
}

#[circuit(failure_threshold = 100000)]
fn huge_threshold() -> Result<(), E> {
    Ok(())
}

#[circuit(recovery_timeout = 0)]
fn zero_timeout() -> Result<(), E> {
    Ok(())
}

// Half a millisecond past the breaker's time range (2^42 - 1 ms).
#[circuit(recovery_timeout = 4398046511.1035)]
fn too_long_timeout() -> Result<(), E> {
    Ok(())
}

#[circuit(recovery_timeout = -1)]
fn negative_timeout() -> Result<(), E> {
    Ok(())
}

#[circuit(probe_deadline = "5s")]
fn string_deadline() -> Result<(), E> {
    Ok(())
}

#[circuit(name = "")]
fn empty_name() -> Result<(), E> {
    Ok(())
}

#[circuit(name = 42)]
fn number_name() -> Result<(), E> {
    Ok(())
}

fn main() {}
