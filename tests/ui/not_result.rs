use async_breaker::circuit;

#[circuit]
async fn no_return_type() {}

#[circuit]
fn returns_a_number() -> u32 {
    1
}

fn main() {}
