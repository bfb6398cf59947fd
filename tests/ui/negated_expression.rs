use async_breaker::{circuit, OpenError};

struct E;
impl From<OpenError> for E {
    fn from(_: OpenError) -> E {
        E
    }
}

const LIMIT: u32 = 3;

// A negated constant is an expression, not a negative literal: the compiler type-checks it
// like any other expression setting.
#[circuit(failure_threshold = -LIMIT)]
fn negated_constant() -> Result<(), E> {
    Ok(())
}

fn main() {}
