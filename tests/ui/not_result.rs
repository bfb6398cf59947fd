use async_breaker::circuit;

#[circuit]
async fn no_return_type() {}

#[circuit]
fn returns_a_number() -> u32 {
    1
}

trait Api {
    type Result;
}

struct Client;

impl Api for Client {
    type Result = Result<(), ()>;
}

// A qualified path is not taken for a `Result`, whatever its last segment is called.
#[circuit]
fn qualified() -> <Client as Api>::Result {
    Ok(())
}

fn main() {}
