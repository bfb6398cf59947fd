use async_breaker::circuit;

fn sync_fallback(_: u32) -> Result<u32, String> {
    Ok(0)
}

async fn async_fallback(_: u32) -> Result<u32, String> {
    Ok(0)
}

#[circuit(fallback = sync_fallback)]
async fn async_fn_sync_fallback(n: u32) -> Result<u32, String> {
    Ok(n)
}

#[circuit(fallback = async_fallback)]
fn sync_fn_async_fallback(n: u32) -> Result<u32, String> {
    Ok(n)
}

fn main() {}
