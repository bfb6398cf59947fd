use async_breaker::circuit;

// A body of the wrong type is reported at the body, as it is without the attribute.
#[circuit(fallback = zero)]
fn wrong_ok_type() -> Result<u32, String> {
    Ok("seven")
}

fn zero() -> Result<u32, String> {
    Ok(0)
}

fn main() {}
