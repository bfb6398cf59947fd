use async_breaker::circuit;

#[derive(Debug)]
struct PlainError;

#[circuit]
fn no_conversion() -> Result<u32, PlainError> {
    Ok(1)
}

#[circuit]
async fn no_conversion_async() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
