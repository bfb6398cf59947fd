//! A hyper client guarded by `CircuitBreakerLayer`, talking to a flaky server on loopback.
//!
//! Run with `cargo run --features tower --example tower`. It prints a timeline: healthy
//! requests, the server failing with 503 until the breaker opens, requests rejected without
//! reaching the server, a failed probe, and recovery. Takes about a second.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_breaker::tower::CircuitBreakerLayer;
use async_breaker::{CircuitBreaker, Error, Outcome};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tower::{ServiceBuilder, ServiceExt};

const RECOVERY: Duration = Duration::from_millis(300);

/// The flaky dependency: answers 503 while `failing` is set; counts every request it sees.
#[derive(Default)]
struct Server {
    failing: AtomicBool,
    hits: AtomicUsize,
}

async fn serve(server: Arc<Server>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let server = Arc::clone(&server);
            let service = hyper::service::service_fn(move |_: Request<Incoming>| {
                server.hits.fetch_add(1, SeqCst);
                let status = if server.failing.load(SeqCst) {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                };
                let mut response = Response::new(Full::new(Bytes::from_static(b"hello")));
                *response.status_mut() = status;
                async move { Ok::<_, Infallible>(response) }
            });
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    Ok(addr)
}

/// A 5xx is a failure; any other response (4xx included) says the server is up.
fn classify(result: &Result<Response<Incoming>, hyper_util::client::legacy::Error>) -> Outcome {
    match result {
        Ok(response) if response.status().is_server_error() => Outcome::Failure,
        Ok(_) => Outcome::Success,
        Err(_) => Outcome::Failure,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let server = Arc::new(Server::default());
    let addr = serve(Arc::clone(&server)).await?;

    let breaker = Arc::new(
        CircuitBreaker::builder()
            .name("backend")
            .failure_threshold(3)
            .recovery_timeout(RECOVERY)
            .build()?,
    );
    let client = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(Arc::clone(&breaker)).classify_response(classify))
        .service(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>());

    let start = Instant::now();
    let mut sent = 0;
    let mut request = |label: &'static str| {
        sent += 1;
        let uri = format!("http://{addr}/");
        let client = client.clone();
        let breaker = Arc::clone(&breaker);
        let server = Arc::clone(&server);
        async move {
            let request = Request::get(uri)
                .body(Empty::new())
                .expect("a valid request");
            let outcome = match client.oneshot(request).await {
                Ok(response) => {
                    let status = response.status();
                    response.into_body().collect().await?;
                    format!("{status}")
                }
                Err(Error::Open(rejected)) => format!("rejected: {rejected}"),
                Err(Error::Inner(e)) => format!("client error: {e}"),
            };
            println!(
                "{:>5} ms  {label:<9} {outcome:<66} breaker {:<9} server hits {}",
                start.elapsed().as_millis(),
                breaker.state().to_string(),
                server.hits.load(SeqCst),
            );
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        }
    };

    for _ in 0..2 {
        request("healthy").await?;
    }
    server.failing.store(true, SeqCst);
    println!("-- the server starts failing");
    for _ in 0..3 {
        request("failing").await?;
    }
    for _ in 0..3 {
        request("open").await?;
    }
    tokio::time::sleep(RECOVERY).await;
    println!("-- recovery timeout elapsed; the server is still down");
    request("probe").await?;
    request("open").await?;
    server.failing.store(false, SeqCst);
    tokio::time::sleep(RECOVERY).await;
    println!("-- recovery timeout elapsed; the server is back");
    request("probe").await?;
    request("healthy").await?;

    let hits = server.hits.load(SeqCst);
    println!(
        "{sent} requests sent, {hits} reached the server, breaker {}",
        breaker.state()
    );
    assert!(breaker.is_closed());
    assert_eq!(
        hits,
        sent - 4,
        "the 4 rejected requests never reached the server"
    );
    Ok(())
}
