//! `#[circuit]`: a flaky price service guarded by the attribute, with a cached fallback, and a
//! health check that reads the breakers from the global registry.
//!
//! Run with `cargo run --example macro --features macros`.

use std::sync::atomic::{AtomicBool, Ordering};

use async_breaker::{circuit, OpenError, Registry};

/// The service's error type. `From<OpenError>` is how a rejection becomes an `Err`.
#[derive(Debug)]
enum ServiceError {
    Unavailable(OpenError),
    Io(std::io::Error),
}

impl From<OpenError> for ServiceError {
    fn from(rejected: OpenError) -> ServiceError {
        ServiceError::Unavailable(rejected)
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceError::Unavailable(rejected) => write!(f, "unavailable: {rejected}"),
            ServiceError::Io(e) => write!(f, "io: {e}"),
        }
    }
}

static DEPENDENCY_UP: AtomicBool = AtomicBool::new(true);

/// Three consecutive failures open the breaker for 30 seconds; while open, calls return
/// `Err(ServiceError::Unavailable(..))` at once, without touching the dependency.
#[circuit(failure_threshold = 3, recovery_timeout = 30)]
async fn stock(sku: &str) -> Result<u32, ServiceError> {
    if DEPENDENCY_UP.load(Ordering::SeqCst) {
        Ok(u32::try_from(sku.len()).unwrap_or(u32::MAX) * 10)
    } else {
        Err(ServiceError::Io(std::io::Error::other(
            "connection refused",
        )))
    }
}

/// Called with the same arguments as `price` when its breaker rejects a call. The fallback of an
/// `async fn` is an `async fn` (this one happens not to await anything).
#[allow(clippy::unused_async)]
async fn cached_price(sku: &str) -> Result<u64, ServiceError> {
    println!("    (price of {sku} from the cache)");
    Ok(999)
}

#[circuit(failure_threshold = 2, name = "prices", fallback = cached_price)]
async fn price(sku: &str) -> Result<u64, ServiceError> {
    if DEPENDENCY_UP.load(Ordering::SeqCst) {
        Ok(1_250)
    } else {
        Err(ServiceError::Io(std::io::Error::other("timeout")))
    }
}

/// What a health endpoint would report.
fn health() {
    let registry = Registry::global();
    for breaker in registry.all() {
        println!(
            "    {:<16} {:<9} {} failure(s)",
            breaker.name(),
            breaker.state(),
            breaker.failure_count()
        );
    }
    println!("    all closed: {}", registry.all_closed());
}

fn main() {
    futures::executor::block_on(async {
        println!("healthy dependency:");
        println!("  stock(apple) = {:?}", stock("apple").await.ok());
        println!("  price(apple) = {:?}", price("apple").await.ok());
        health();

        println!("the dependency goes down:");
        DEPENDENCY_UP.store(false, Ordering::SeqCst);
        for attempt in 1..=4 {
            match stock("apple").await {
                Ok(n) => println!("  stock #{attempt}: {n}"),
                Err(e) => println!("  stock #{attempt}: {e}"),
            }
        }
        for attempt in 1..=3 {
            match price("apple").await {
                Ok(p) => println!("  price #{attempt}: {p}"),
                Err(e) => println!("  price #{attempt}: {e}"),
            }
        }
        health();

        // The generated accessor reaches a breaker without calling the function.
        let breaker = stock_breaker();
        println!(
            "{} is {}; a probe is allowed in {:?}",
            breaker.name(),
            breaker.state(),
            breaker.open_remaining()
        );
    });
}
