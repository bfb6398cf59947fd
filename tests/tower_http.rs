//! The tower layer end to end: a real hyper 1 server and a hyper-util client on loopback, the
//! client wrapped by `CircuitBreakerLayer`; plus network-free tests of the service's contract
//! (readiness, panics, rejection) with `tower::service_fn`.
//!
//! Time is a `ManualClock`: nothing sleeps, nothing depends on the machine's speed.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_breaker::tower::{CircuitBreakerLayer, CircuitBreakerService};
use async_breaker::{AnyError, CircuitBreaker, Error, ManualClock, Outcome, State};
use futures::executor::block_on;
use futures::FutureExt;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Client, Error as ClientError};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Semaphore};
use tower::{service_fn, Layer, Service, ServiceBuilder, ServiceExt};

const THRESHOLD: u32 = 3;
const RECOVERY: Duration = Duration::from_secs(30);
/// Concurrent callers racing for the half-open probe.
const CALLERS: usize = 16;

// ---------------------------------------------------------------------------------------------
// The server: fails with 503 on demand, counts every request that reaches it.

struct Backend {
    failing: AtomicBool,
    hits: AtomicUsize,
    /// `/gated` waits for a permit here before answering.
    gate: Semaphore,
    /// `/stall` and `/gated` report their arrival here; `/stall` then never answers.
    arrived: mpsc::UnboundedSender<()>,
}

impl Backend {
    fn hits(&self) -> usize {
        self.hits.load(SeqCst)
    }

    fn fail(&self, failing: bool) {
        self.failing.store(failing, SeqCst);
    }

    fn status(&self) -> StatusCode {
        if self.failing.load(SeqCst) {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        }
    }
}

async fn handle(
    backend: Arc<Backend>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    backend.hits.fetch_add(1, SeqCst);
    let status = match request.uri().path() {
        "/missing" => StatusCode::NOT_FOUND,
        "/stall" => {
            let _ = backend.arrived.send(());
            std::future::pending::<()>().await;
            unreachable!()
        }
        "/gated" => {
            let _ = backend.arrived.send(());
            backend.gate.acquire().await.unwrap().forget();
            backend.status()
        }
        _ => backend.status(),
    };
    let mut response = Response::new(Full::new(Bytes::from(status.as_str().to_owned())));
    *response.status_mut() = status;
    Ok(response)
}

/// Starts the server on 127.0.0.1 with an OS-chosen port.
async fn serve() -> (SocketAddr, Arc<Backend>, mpsc::UnboundedReceiver<()>) {
    let (arrived, arrivals) = mpsc::unbounded_channel();
    let backend = Arc::new(Backend {
        failing: AtomicBool::new(false),
        hits: AtomicUsize::new(0),
        gate: Semaphore::new(0),
        arrived,
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shared = Arc::clone(&backend);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let backend = Arc::clone(&shared);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    handle(Arc::clone(&backend), request)
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, backend, arrivals)
}

// ---------------------------------------------------------------------------------------------
// The client: hyper-util's legacy client behind the breaker layer.

type HttpResult = Result<Response<Incoming>, ClientError>;

/// A 5xx response is a failure; any other response (a 4xx included) means the server is up.
fn classify_http(result: &HttpResult) -> Outcome {
    match result {
        Ok(response) if response.status().is_server_error() => Outcome::Failure,
        Ok(_) => Outcome::Success,
        Err(_) => Outcome::Failure,
    }
}

fn breaker(clock: &ManualClock) -> Arc<CircuitBreaker> {
    Arc::new(
        CircuitBreaker::builder()
            .name("backend")
            .failure_threshold(THRESHOLD)
            .recovery_timeout(RECOVERY)
            .clock(clock.clone())
            .build()
            .unwrap(),
    )
}

/// The client as the tests use it: hyper-util's client behind the breaker, 5xx = failure.
type Guarded = CircuitBreakerService<
    Client<HttpConnector, Empty<Bytes>>,
    AnyError,
    fn(&HttpResult) -> Outcome,
>;

fn guarded_client(breaker: &Arc<CircuitBreaker>) -> Guarded {
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let classify: fn(&HttpResult) -> Outcome = classify_http;
    ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(Arc::clone(breaker)).classify_response(classify))
        .service(client)
}

fn request(addr: SocketAddr, path: &str) -> Request<Empty<Bytes>> {
    Request::get(format!("http://{addr}{path}"))
        .body(Empty::new())
        .unwrap()
}

/// One request; the status of the response (its body read to the end), or the error.
async fn get(
    service: &Guarded,
    addr: SocketAddr,
    path: &str,
) -> Result<StatusCode, Error<ClientError>> {
    let response = service.clone().oneshot(request(addr, path)).await?;
    let status = response.status();
    response.into_body().collect().await.unwrap();
    Ok(status)
}

#[track_caller]
fn assert_open<T: std::fmt::Debug>(result: Result<T, Error<ClientError>>, state: State) {
    match result {
        Err(Error::Open(rejected)) => {
            assert_eq!(rejected.name(), "backend");
            assert_eq!(rejected.state(), state);
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// End to end.

#[tokio::test]
async fn opens_rejects_without_reaching_the_server_and_recovers() {
    let (addr, backend, _) = serve().await;
    let clock = ManualClock::new();
    let breaker = breaker(&clock);
    let client = guarded_client(&breaker);

    // Healthy: every request passes and reaches the server.
    for _ in 0..3 {
        assert_eq!(get(&client, addr, "/").await.unwrap(), StatusCode::OK);
    }
    assert_eq!(backend.hits(), 3);
    assert_eq!(breaker.failure_count(), 0);

    // Failing: the caller still sees each 503; the third in a row opens the breaker.
    backend.fail(true);
    for n in 1..=THRESHOLD {
        assert!(breaker.is_closed());
        let status = get(&client, addr, "/").await.unwrap();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(breaker.failure_count(), n);
    }
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(backend.hits(), 6);

    // Open: rejected at once, and the server never sees the requests.
    for _ in 0..10 {
        assert_open(get(&client, addr, "/").await, State::Open);
    }
    clock.advance(Duration::from_millis(29_999));
    assert_open(get(&client, addr, "/").await, State::Open);
    assert_eq!(backend.hits(), 6);

    // Recovery timeout elapsed, server still down: one probe goes through, fails, re-opens.
    clock.advance(Duration::from_millis(1));
    assert_eq!(breaker.state(), State::HalfOpen);
    let status = get(&client, addr, "/").await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(backend.hits(), 7);
    assert_eq!(breaker.state(), State::Open);
    assert_open(get(&client, addr, "/").await, State::Open);
    assert_eq!(backend.hits(), 7);

    // Server healthy again, timer elapsed: the probe is admitted in `call`; while it is in
    // flight everyone else is rejected; its success closes the breaker.
    backend.fail(false);
    clock.advance(RECOVERY);
    let probe = client.clone().oneshot(request(addr, "/"));
    let mut probe = Box::pin(probe);
    // The first poll runs `poll_ready` and `call`: the probe is admitted and on its way.
    assert!(probe.as_mut().now_or_never().is_none());
    for _ in 0..5 {
        assert_open(get(&client, addr, "/").await, State::HalfOpen);
    }
    let response = probe.await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(backend.hits(), 8, "exactly one probe reached the server");
    assert!(breaker.is_closed());
    assert_eq!(breaker.failure_count(), 0);

    // Closed again: everything passes.
    for _ in 0..3 {
        assert_eq!(get(&client, addr, "/").await.unwrap(), StatusCode::OK);
    }
    assert_eq!(backend.hits(), 11);
}

#[tokio::test]
async fn client_errors_do_not_open_the_breaker() {
    let (addr, backend, _) = serve().await;
    let clock = ManualClock::new();
    let breaker = breaker(&clock);
    let client = guarded_client(&breaker);

    // Many more 404s than the threshold: the server answered every time.
    for _ in 0..(THRESHOLD * 3) {
        let status = get(&client, addr, "/missing").await.unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    assert!(breaker.is_closed());
    assert_eq!(breaker.failure_count(), 0);

    // A 4xx between 5xx responses breaks the run of consecutive failures.
    backend.fail(true);
    for _ in 0..(THRESHOLD - 1) {
        get(&client, addr, "/").await.unwrap();
    }
    assert_eq!(breaker.failure_count(), THRESHOLD - 1);
    get(&client, addr, "/missing").await.unwrap();
    assert_eq!(breaker.failure_count(), 0);
    for _ in 0..(THRESHOLD - 1) {
        get(&client, addr, "/").await.unwrap();
    }
    assert!(breaker.is_closed());
    // One more 5xx completes a run: now it opens.
    get(&client, addr, "/").await.unwrap();
    assert!(breaker.is_open());
    assert_eq!(backend.hits(), (THRESHOLD * 3 + 2 * THRESHOLD) as usize);
}

#[tokio::test]
async fn connection_errors_count_as_failures() {
    // A port with no listener: the client gets a connection error, not a response.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let clock = ManualClock::new();
    let breaker = breaker(&clock);
    let client = guarded_client(&breaker);

    for _ in 0..THRESHOLD {
        let error = get(&client, addr, "/").await.unwrap_err();
        assert!(
            error.inner().is_some_and(ClientError::is_connect),
            "{error:?}"
        );
    }
    assert!(breaker.is_open());
    assert_open(get(&client, addr, "/").await, State::Open);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_concurrent_probe_reaches_the_server() {
    let (addr, backend, mut arrivals) = serve().await;
    let clock = ManualClock::new();
    let breaker = breaker(&clock);
    let client = guarded_client(&breaker);

    backend.fail(true);
    for _ in 0..THRESHOLD {
        get(&client, addr, "/").await.unwrap();
    }
    assert!(breaker.is_open());
    backend.fail(false);
    clock.advance(RECOVERY);
    let before = backend.hits();

    // 16 concurrent requests; the server holds the one that reaches it until released.
    let (results, mut finished) = mpsc::unbounded_channel();
    for _ in 0..CALLERS {
        let client = client.clone();
        let results = results.clone();
        tokio::spawn(async move {
            let _ = results.send(get(&client, addr, "/gated").await);
        });
    }
    // Everyone but the probe is turned away while the probe is held at the server.
    for _ in 0..CALLERS - 1 {
        assert_open(finished.recv().await.unwrap(), State::HalfOpen);
    }
    arrivals.recv().await.unwrap(); // the probe is at the server
    assert_eq!(backend.hits(), before + 1);
    assert_eq!(breaker.state(), State::HalfOpen);

    backend.gate.add_permits(1);
    assert_eq!(finished.recv().await.unwrap().unwrap(), StatusCode::OK);
    assert_eq!(
        backend.hits(),
        before + 1,
        "exactly one probe reached the server"
    );
    assert!(breaker.is_closed());
}

#[tokio::test]
async fn a_dropped_probe_frees_the_slot() {
    let (addr, backend, mut arrivals) = serve().await;
    let clock = ManualClock::new();
    let breaker = breaker(&clock);
    let client = guarded_client(&breaker);

    backend.fail(true);
    for _ in 0..THRESHOLD {
        get(&client, addr, "/").await.unwrap();
    }
    backend.fail(false);
    clock.advance(RECOVERY);
    let before = backend.hits();

    // The probe reaches the server, which never answers; the caller gives up (as a timeout
    // would) and the response future is dropped.
    tokio::select! {
        result = get(&client, addr, "/stall") => panic!("the stalled request finished: {result:?}"),
        _ = arrivals.recv() => {}
    }
    assert_eq!(backend.hits(), before + 1);
    // Nothing recorded: still half-open (not re-opened), the count untouched, the slot free.
    assert_eq!(breaker.state(), State::HalfOpen);
    assert_eq!(breaker.failure_count(), THRESHOLD);

    // The next request is the new probe: it reaches the server and closes the breaker.
    assert_eq!(get(&client, addr, "/").await.unwrap(), StatusCode::OK);
    assert_eq!(backend.hits(), before + 2);
    assert!(breaker.is_closed());
}

#[tokio::test]
async fn a_timeout_outside_the_breaker_records_nothing() {
    let (addr, backend, _) = serve().await;
    let clock = ManualClock::new();
    let breaker = breaker(&clock);
    let client = guarded_client(&breaker);

    backend.fail(true);
    for _ in 0..THRESHOLD - 1 {
        get(&client, addr, "/").await.unwrap();
    }
    // `/stall` never answers; the timeout drops the request future in flight.
    let timed_out =
        tokio::time::timeout(Duration::from_millis(50), get(&client, addr, "/stall")).await;
    assert!(timed_out.is_err());
    assert_eq!(breaker.failure_count(), THRESHOLD - 1);
    assert!(breaker.is_closed());
}

// ---------------------------------------------------------------------------------------------
// The service contract, without a network.

fn open_breaker(clock: &ManualClock) -> Arc<CircuitBreaker> {
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(1)
            .recovery_timeout(RECOVERY)
            .clock(clock.clone())
            .build()
            .unwrap(),
    );
    breaker.try_acquire().unwrap().failure();
    assert!(breaker.is_open());
    breaker
}

#[test]
fn poll_ready_does_not_claim_the_probe() {
    let clock = ManualClock::new();
    let breaker = open_breaker(&clock);
    let calls = Arc::new(AtomicUsize::new(0));
    let inner = {
        let calls = Arc::clone(&calls);
        service_fn(move |()| {
            calls.fetch_add(1, SeqCst);
            async { Ok::<_, Infallible>("ok") }
        })
    };
    let layer = CircuitBreakerLayer::new(Arc::clone(&breaker));
    let mut idle = layer.layer(inner.clone());
    let mut busy = layer.layer(inner);

    block_on(async {
        // Ready even while open: readiness is the inner service's alone.
        idle.ready().await.unwrap();
        clock.advance(RECOVERY);
        // Polled ready, half-open, and left uncalled: it holds nothing.
        idle.ready().await.unwrap();
        assert_eq!(breaker.state(), State::HalfOpen);
        assert_eq!(busy.ready().await.unwrap().call(()).await, Ok("ok"));
        assert_eq!(calls.load(SeqCst), 1);
        assert!(breaker.is_closed());
    });
}

/// A service whose readiness fails, to check that the error passes through unrecorded.
#[derive(Clone)]
struct NeverReady;

impl Service<()> for NeverReady {
    type Response = ();
    type Error = &'static str;
    type Future = std::future::Ready<Result<(), &'static str>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Err("pool closed"))
    }

    fn call(&mut self, (): ()) -> Self::Future {
        unreachable!("called without being ready")
    }
}

#[test]
fn poll_ready_errors_pass_through_unrecorded() {
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(1)
            .build()
            .unwrap(),
    );
    let service = CircuitBreakerService::new(NeverReady, Arc::clone(&breaker));
    let result = block_on(service.oneshot(()));
    assert_eq!(result, Err(Error::Inner("pool closed")));
    assert!(breaker.is_closed());
    assert_eq!(breaker.failure_count(), 0);
}

#[test]
fn a_rejected_request_never_calls_the_inner_service() {
    let clock = ManualClock::new();
    let breaker = open_breaker(&clock);
    let calls = Arc::new(AtomicUsize::new(0));
    let mut service = {
        let calls = Arc::clone(&calls);
        CircuitBreakerService::new(
            service_fn(move |()| {
                calls.fetch_add(1, SeqCst);
                async { Ok::<_, Infallible>(()) }
            }),
            Arc::clone(&breaker),
        )
    };
    clock.advance(Duration::from_secs(10));
    // The rejection is ready at the first poll.
    let rejected = service.call(()).now_or_never().unwrap().unwrap_err();
    let rejected = rejected.open_error().copied().expect("a rejection");
    assert_eq!(rejected.state(), State::Open);
    assert_eq!(rejected.remaining(), Duration::from_secs(20));
    assert_eq!(calls.load(SeqCst), 0);
}

#[test]
fn a_panicking_response_future_counts_as_a_failure() {
    let clock = ManualClock::new();
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(2)
            .recovery_timeout(RECOVERY)
            .clock(clock.clone())
            .build()
            .unwrap(),
    );
    let mut service = CircuitBreakerService::new(
        service_fn(|explode: bool| async move {
            assert!(!explode, "the inner future panics");
            Ok::<_, Infallible>(())
        }),
        Arc::clone(&breaker),
    );

    let future = service.call(true);
    let panicked = catch_unwind(AssertUnwindSafe(|| block_on(future)));
    assert!(panicked.is_err());
    assert_eq!(breaker.failure_count(), 1);
    let future = service.call(true);
    assert!(catch_unwind(AssertUnwindSafe(|| block_on(future))).is_err());
    assert!(breaker.is_open());

    // A panicking probe re-opens the breaker too.
    clock.advance(RECOVERY);
    let future = service.call(true);
    assert!(catch_unwind(AssertUnwindSafe(|| block_on(future))).is_err());
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(breaker.open_remaining(), RECOVERY);
}

/// A service whose `call` itself panics.
#[derive(Clone)]
struct PanicsInCall;

impl Service<()> for PanicsInCall {
    type Response = ();
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<(), Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, (): ()) -> Self::Future {
        panic!("the inner service's call panics")
    }
}

#[test]
fn a_panicking_call_counts_as_a_failure() {
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(1)
            .build()
            .unwrap(),
    );
    let mut service = CircuitBreakerService::new(PanicsInCall, Arc::clone(&breaker));
    let panicked = catch_unwind(AssertUnwindSafe(|| service.call(())));
    assert!(panicked.is_err());
    assert!(breaker.is_open());
}

#[test]
fn a_dropped_closed_state_request_records_nothing() {
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(1)
            .build()
            .unwrap(),
    );
    let mut service = CircuitBreakerService::new(
        service_fn(|()| std::future::pending::<Result<(), &str>>()),
        Arc::clone(&breaker),
    );
    let mut future = service.call(());
    assert!((&mut future).now_or_never().is_none());
    drop(future);
    assert!(breaker.is_closed());
    assert_eq!(breaker.failure_count(), 0);
}

#[test]
fn the_default_classifier_asks_the_breaker() {
    // The breaker counts only "down"; the service's other errors are the caller's problem.
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(1)
            .failure_if(|e: &&str| *e == "down")
            .build()
            .unwrap(),
    );
    let service = CircuitBreakerLayer::new(Arc::clone(&breaker))
        .layer(service_fn(|e: &'static str| async move { Err::<(), _>(e) }));
    block_on(async {
        let result = service.clone().oneshot("bad input").await;
        assert_eq!(result, Err(Error::Inner("bad input")));
        assert!(breaker.is_closed());
        let result = service.clone().oneshot("down").await;
        assert_eq!(result, Err(Error::Inner("down")));
        assert!(breaker.is_open());
    });
}

#[test]
fn futures_and_services_are_send_and_debug() {
    fn assert_send<T: Send + 'static>(_: &T) {}
    let breaker = Arc::new(CircuitBreaker::new());
    let mut service = CircuitBreakerService::new(
        service_fn(|()| async { Ok::<_, Infallible>(()) }),
        Arc::clone(&breaker),
    );
    let future = service.call(());
    assert_send(&service);
    assert_send(&future);
    assert_eq!(
        format!("{future:?}"),
        "ResponseFuture { stage: \"running\", .. }"
    );
    assert!(format!("{:?}", CircuitBreakerLayer::new(breaker)).starts_with("CircuitBreakerLayer"));
    let shown = format!("{service:?}");
    assert!(
        shown.starts_with("CircuitBreakerService { inner: ")
            && shown.contains("breaker: CircuitBreaker {"),
        "{shown}"
    );
}

/// A response future's debug output names its stage: turned away, probing, running, done.
#[test]
fn a_response_future_debug_output_names_its_stage() {
    let stage = |future: &dyn std::fmt::Debug| format!("{future:?}");
    let clock = ManualClock::new();
    let breaker = open_breaker(&clock);
    let mut service = CircuitBreakerService::new(
        service_fn(|()| async { Ok::<_, Infallible>(()) }),
        Arc::clone(&breaker),
    );
    let rejected = service.call(());
    assert_eq!(
        stage(&rejected),
        "ResponseFuture { stage: \"rejected\", .. }"
    );
    assert!(block_on(rejected).unwrap_err().is_open());

    clock.advance(RECOVERY);
    let mut probe = Box::pin(service.call(()));
    assert_eq!(stage(&probe), "ResponseFuture { stage: \"probing\", .. }");
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    assert!(probe.as_mut().poll(&mut cx).is_ready());
    assert_eq!(stage(&probe), "ResponseFuture { stage: \"done\", .. }");
    assert!(breaker.is_closed());
}
