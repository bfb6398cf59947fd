use async_breaker::{circuit, OpenError};

struct E;
impl From<OpenError> for E {
    fn from(_: OpenError) -> E {
        E
    }
}

#[circuit(failure_treshold = 3)]
fn typo() -> Result<(), E> {
    Ok(())
}

#[circuit(expected_exception = E)]
fn python_name() -> Result<(), E> {
    Ok(())
}

#[circuit(cls = E)]
fn python_cls() -> Result<(), E> {
    Ok(())
}

#[circuit(fallback_function = E)]
fn python_fallback() -> Result<(), E> {
    Ok(())
}

#[circuit(timeout = 3)]
fn unrelated() -> Result<(), E> {
    Ok(())
}

fn main() {}
