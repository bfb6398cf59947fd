//! The `axum` feature against real servers on loopback: an axum route guarded by the tower layer
//! (`route_layer` + `HandleErrorLayer` + `CircuitBreakerLayer`), and a reqwest client call
//! classified with `HttpClassifier`, its rejection answered with a 503 by a gateway. Both are the
//! examples of the guides (`docs/tower.md`, "axum"; `docs/http.md`, "reqwest").
//!
//! Time is a `ManualClock`: `Retry-After` is exact and nothing sleeps.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use async_breaker::tower::CircuitBreakerLayer;
use async_breaker::{
    CircuitBreaker, CircuitExt, Error, HttpClassifier, ManualClock, OpenError, Outcome, State,
};
use axum::error_handling::HandleErrorLayer;
use axum::extract::{Path, State as AppState};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tower::ServiceBuilder;

const RECOVERY: Duration = Duration::from_secs(30);

fn breaker(name: &'static str, threshold: u32, clock: &ManualClock) -> Arc<CircuitBreaker> {
    Arc::new(
        CircuitBreaker::builder()
            .name(name)
            .failure_threshold(threshold)
            .recovery_timeout(RECOVERY)
            .clock(clock.clone())
            .build()
            .unwrap(),
    )
}

/// Serves `app` on a fresh loopback port until the test's runtime ends.
async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

/// A response's status, `Retry-After` (if any) and body, read off the wire.
async fn get_text(client: &reqwest::Client, url: &str) -> (StatusCode, Option<String>, String) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .map(|value| value.to_str().unwrap().to_owned());
    (status, retry_after, response.text().await.unwrap())
}

// ---------------------------------------------------------------------------------------------
// (a) A server guarding its own route: the guide's example.

/// The guarded route's handler: counts its calls, fails with a 500 while the dependency it
/// stands for is down.
#[derive(Clone, Default)]
struct Flaky {
    calls: Arc<AtomicUsize>,
    healthy: Arc<AtomicBool>,
}

async fn flaky(AppState(flaky): AppState<Flaky>) -> (StatusCode, &'static str) {
    flaky.calls.fetch_add(1, SeqCst);
    if flaky.healthy.load(SeqCst) {
        (StatusCode::OK, "fresh data")
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, "the database is down")
    }
}

/// The app of the tower guide's axum section: `/report` guarded, `/health` (added after the
/// route layer) not.
fn app(breaker: &Arc<CircuitBreaker>, flaky: Flaky) -> Router {
    Router::new()
        .route("/report", get(self::flaky))
        .route_layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(
                    |e: Error<Infallible>| async move { e },
                ))
                .layer(
                    CircuitBreakerLayer::new(Arc::clone(breaker))
                        .classify_response(HttpClassifier::new()),
                ),
        )
        .route("/health", get(|| async { "ok" }))
        .with_state(flaky)
}

#[tokio::test]
async fn a_guarded_route_answers_503_with_retry_after_without_calling_its_handler() {
    let clock = ManualClock::new();
    let breaker = breaker("reports", 3, &clock);
    let flaky = Flaky::default();
    let address = serve(app(&breaker, flaky.clone())).await;
    let client = reqwest::Client::new();
    let report = format!("http://{address}/report");

    // Three 500s from the handler: each reaches it, the third opens the breaker.
    for call in 1..=3 {
        let (status, retry_after, body) = get_text(&client, &report).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(retry_after, None);
        assert_eq!(body, "the database is down");
        assert_eq!(flaky.calls.load(SeqCst), call);
    }
    assert_eq!(breaker.state(), State::Open);

    // Open: the breaker answers, the handler is not called.
    for _ in 0..5 {
        let (status, retry_after, body) = get_text(&client, &report).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry_after.as_deref(), Some("30"));
        assert_eq!(
            body,
            r#"circuit "reports" is open (3 failures, 30s remaining)"#
        );
    }
    assert_eq!(flaky.calls.load(SeqCst), 3);
    let response = client.get(&report).send().await.unwrap();
    assert_eq!(
        response.headers()[CONTENT_TYPE],
        "text/plain; charset=utf-8"
    );

    // The header counts down with the clock, in whole seconds rounded up.
    clock.advance(Duration::from_millis(10_500));
    let (_, retry_after, _) = get_text(&client, &report).await;
    assert_eq!(retry_after.as_deref(), Some("20"));

    // Routes outside the route layer are not guarded; unknown paths never reach the breaker.
    let (status, _, body) = get_text(&client, &format!("http://{address}/health")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
    let (status, _, _) = get_text(&client, &format!("http://{address}/missing")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(flaky.calls.load(SeqCst), 3);

    // The dependency is back and the timeout over: one probe reaches the handler and closes.
    flaky.healthy.store(true, SeqCst);
    clock.advance(RECOVERY);
    let (status, retry_after, body) = get_text(&client, &report).await;
    assert_eq!(
        (status, retry_after, body.as_str()),
        (StatusCode::OK, None, "fresh data")
    );
    assert_eq!(flaky.calls.load(SeqCst), 4);
    assert_eq!(breaker.state(), State::Closed);

    // A breaker forced open has no time left to announce: `Retry-After` is still at least 1.
    breaker.force_open();
    let (status, retry_after, _) = get_text(&client, &report).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert_eq!(flaky.calls.load(SeqCst), 4);
}

/// `Error::Inner` answers with the inner error's own response; `Error::Open` with the 503.
#[tokio::test]
async fn the_layer_error_is_a_response_either_way() {
    let clock = ManualClock::new();
    let breaker = breaker("inner", 1, &clock);
    let _ = breaker.call(|| Err::<(), _>("down"));
    let rejected: OpenError = breaker.try_acquire().unwrap_err();

    let inner = Error::<(StatusCode, &str)>::Inner((StatusCode::IM_A_TEAPOT, "short and stout"))
        .into_response();
    assert_eq!(inner.status(), StatusCode::IM_A_TEAPOT);
    assert!(inner.headers().get(RETRY_AFTER).is_none());
    assert_eq!(body_text(inner).await, "short and stout");

    let open = Error::<(StatusCode, &str)>::Open(rejected).into_response();
    assert_eq!(open.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(open.headers()[RETRY_AFTER], "30");
    assert_eq!(body_text(open).await, rejected.to_string());
}

async fn body_text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// (b) A reqwest client: the HTTP guide's example.

/// The upstream: answers `/status/{code}` with that status, and counts its requests.
async fn upstream(hits: Arc<AtomicUsize>) -> SocketAddr {
    let app = Router::new().route(
        "/status/{code}",
        get(move |Path(code): Path<u16>| async move {
            hits.fetch_add(1, SeqCst);
            StatusCode::from_u16(code).unwrap()
        }),
    );
    serve(app).await
}

/// reqwest's `Response` is not an `http::Response`: a closure maps its status through
/// `HttpClassifier::status_outcome`, and a transport error (no response) is a failure.
async fn fetch(
    client: &reqwest::Client,
    breaker: &CircuitBreaker,
    url: &str,
) -> Result<reqwest::Response, Error<reqwest::Error>> {
    let http = HttpClassifier::new();
    client
        .get(url)
        .send()
        .circuit(breaker)
        .classify(
            move |result: &Result<reqwest::Response, reqwest::Error>| match result {
                Ok(response) => http.status_outcome(response.status()),
                Err(_) => Outcome::Failure,
            },
        )
        .await
}

#[tokio::test]
async fn a_reqwest_call_trips_on_503s_not_on_404s_and_its_rejection_is_a_503() {
    let hits = Arc::new(AtomicUsize::new(0));
    let upstream = upstream(Arc::clone(&hits)).await;
    let clock = ManualClock::new();
    let breaker = breaker("inventory", 2, &clock);
    let client = reqwest::Client::new();
    let url = |code: u16| format!("http://{upstream}/status/{code}");

    // 404s: the server answered. The caller gets them back, the breaker stays closed.
    for _ in 0..5 {
        let response = fetch(&client, &breaker, &url(404)).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(breaker.failure_count(), 0);

    // 503s count: the caller still gets each one; the second opens.
    for _ in 0..2 {
        let response = fetch(&client, &breaker, &url(503)).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(hits.load(SeqCst), 7);

    // Open: not sent. The rejection is the 503 answer for this service's own callers.
    let rejected = match fetch(&client, &breaker, &url(200)).await {
        Err(Error::Open(rejected)) => rejected,
        other => panic!("expected a rejection, got {other:?}"),
    };
    assert_eq!(hits.load(SeqCst), 7);
    let answer = rejected.into_response();
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.headers()[RETRY_AFTER], "30");
    assert_eq!(
        body_text(answer).await,
        r#"circuit "inventory" is open (2 failures, 30s remaining)"#
    );

    // A transport error is a failure too: the probe to a closed port re-opens the breaker.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused = format!("http://{}/status/200", closed.local_addr().unwrap());
    drop(closed);
    clock.advance(RECOVERY);
    let error = fetch(&client, &breaker, &refused).await.unwrap_err();
    assert!(error.is_inner(), "{error}");
    assert_eq!(breaker.state(), State::Open);

    // And a 2xx probe closes it.
    clock.advance(RECOVERY);
    let response = fetch(&client, &breaker, &url(200)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(hits.load(SeqCst), 8);
}

/// A gateway on loopback calls the upstream with reqwest and answers its own callers: the
/// upstream's status while the breaker admits, the 503 with `Retry-After` once it is open.
#[derive(Clone)]
struct Gateway {
    client: reqwest::Client,
    breaker: Arc<CircuitBreaker>,
    upstream: SocketAddr,
}

async fn gateway(AppState(gateway): AppState<Gateway>, Path(code): Path<u16>) -> Response {
    let url = format!("http://{}/status/{code}", gateway.upstream);
    match fetch(&gateway.client, &gateway.breaker, &url).await {
        Ok(upstream) => upstream.status().into_response(),
        Err(Error::Open(rejected)) => rejected.into_response(),
        Err(Error::Inner(error)) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}

#[tokio::test]
async fn a_gateway_answers_its_callers_with_the_rejection() {
    let hits = Arc::new(AtomicUsize::new(0));
    let upstream = upstream(Arc::clone(&hits)).await;
    let clock = ManualClock::new();
    let breaker = breaker("upstream", 2, &clock);
    let front = Router::new()
        .route("/status/{code}", get(gateway))
        .with_state(Gateway {
            client: reqwest::Client::new(),
            breaker: Arc::clone(&breaker),
            upstream,
        });
    let front = serve(front).await;
    let caller = reqwest::Client::new();
    let url = |code: u16| format!("http://{front}/status/{code}");

    assert_eq!(get_text(&caller, &url(404)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        get_text(&caller, &url(502)).await.0,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(
        get_text(&caller, &url(503)).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(hits.load(SeqCst), 3);

    let (status, retry_after, body) = get_text(&caller, &url(200)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(retry_after.as_deref(), Some("30"));
    assert_eq!(
        body,
        r#"circuit "upstream" is open (2 failures, 30s remaining)"#
    );
    assert_eq!(hits.load(SeqCst), 3, "not sent upstream");
}
