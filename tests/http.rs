//! The `http` feature: `HttpClassifier` (its table, with the future combinator's `.classify`
//! and with the tower layer), and the 503 answer a rejection turns into. The end-to-end tests
//! run a real hyper 1 server and a hyper-util client on loopback.
//!
//! Time is a `ManualClock`: nothing sleeps, nothing depends on the machine's speed.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use async_breaker::{
    CircuitBreaker, CircuitExt, ClassifyResult, Error, HttpClassifier, ManualClock, OpenError,
    Outcome, State,
};
use futures::executor::block_on;
use futures::FutureExt;
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Client, Error as ClientError};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

const THRESHOLD: u32 = 3;
const RECOVERY: Duration = Duration::from_secs(30);

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

fn response(status: u16) -> Response<String> {
    let mut response = Response::new(format!("status {status}"));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    response
}

/// A stand-in for an HTTP client call: `Ok` with the status asked for, whatever it is.
#[allow(clippy::unused_async)] // an `async fn` like the client calls it stands in for
async fn send(status: u16) -> Result<Response<String>, std::io::Error> {
    Ok(response(status))
}

// ---------------------------------------------------------------------------------------------
// The classifier's table.

#[test]
fn the_default_table_fails_5xx_429_and_transport_errors_only() {
    let http = HttpClassifier::new();
    let table = [
        (200, Outcome::Success),
        (204, Outcome::Success),
        (301, Outcome::Success),
        (400, Outcome::Success),
        (404, Outcome::Success),
        (408, Outcome::Success),
        (429, Outcome::Failure),
        (500, Outcome::Failure),
        (502, Outcome::Failure),
        (503, Outcome::Failure),
        (504, Outcome::Failure),
        (599, Outcome::Failure),
    ];
    for (status, expected) in table {
        let code = StatusCode::from_u16(status).unwrap();
        assert_eq!(http.status_outcome(code), expected, "{status}");
        assert_eq!(
            http.response_outcome(&response(status)),
            expected,
            "{status}"
        );
        let ok: Result<Response<String>, std::io::Error> = Ok(response(status));
        assert_eq!(http.classify_result(&ok), expected, "{status}");
        let ok: Result<StatusCode, std::io::Error> = Ok(code);
        assert_eq!(http.classify_result(&ok), expected, "{status}");
    }
    let refused: Result<Response<String>, std::io::Error> =
        Err(std::io::ErrorKind::ConnectionRefused.into());
    assert_eq!(http.classify_result(&refused), Outcome::Failure);
    let refused: Result<StatusCode, &str> = Err("connection refused");
    assert_eq!(http.classify_result(&refused), Outcome::Failure);
    assert_eq!(
        HttpClassifier::default().status_outcome(StatusCode::BAD_GATEWAY),
        Outcome::Failure
    );
}

#[test]
fn too_many_requests_is_configurable_both_ways() {
    let too_many = StatusCode::TOO_MANY_REQUESTS;
    assert_eq!(
        HttpClassifier::new().status_outcome(too_many),
        Outcome::Failure
    );
    for outcome in [Outcome::Success, Outcome::Ignore, Outcome::Failure] {
        let http = HttpClassifier::new().too_many_requests(outcome);
        assert_eq!(http.status_outcome(too_many), outcome);
        // Nothing else moves.
        assert_eq!(http.status_outcome(StatusCode::OK), Outcome::Success);
        assert_eq!(http.status_outcome(StatusCode::NOT_FOUND), Outcome::Success);
        assert_eq!(
            http.status_outcome(StatusCode::SERVICE_UNAVAILABLE),
            Outcome::Failure
        );
    }
    // 429 wins over a predicate that would call it a success, and the setting survives
    // `failing` in either order.
    let http = HttpClassifier::new()
        .too_many_requests(Outcome::Success)
        .failing(|status: StatusCode| status.as_u16() >= 400);
    assert_eq!(http.status_outcome(too_many), Outcome::Success);
    assert_eq!(http.status_outcome(StatusCode::NOT_FOUND), Outcome::Failure);
    let http = HttpClassifier::new()
        .failing(|_: StatusCode| false)
        .too_many_requests(Outcome::Ignore);
    assert_eq!(http.status_outcome(too_many), Outcome::Ignore);
    assert_eq!(
        http.status_outcome(StatusCode::INTERNAL_SERVER_ERROR),
        Outcome::Success
    );
}

#[test]
fn the_failing_set_is_configurable_and_errors_still_fail() {
    let listed = [502_u16, 503, 504];
    let http =
        HttpClassifier::new().failing(move |status: StatusCode| listed.contains(&status.as_u16()));
    assert_eq!(
        http.status_outcome(StatusCode::SERVICE_UNAVAILABLE),
        Outcome::Failure
    );
    assert_eq!(
        http.status_outcome(StatusCode::GATEWAY_TIMEOUT),
        Outcome::Failure
    );
    assert_eq!(
        http.status_outcome(StatusCode::INTERNAL_SERVER_ERROR),
        Outcome::Success
    );
    assert_eq!(
        http.status_outcome(StatusCode::NOT_IMPLEMENTED),
        Outcome::Success
    );
    let err: Result<Response<()>, ()> = Err(());
    assert_eq!(http.classify_result(&err), Outcome::Failure);
    assert!(format!("{http:?}").starts_with("HttpClassifier { too_many_requests: Failure"));
}

// ---------------------------------------------------------------------------------------------
// The combinator.

#[test]
fn classified_5xx_responses_trip_the_breaker_and_4xx_do_not() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock);
    let http = HttpClassifier::new();
    block_on(async {
        for _ in 0..10 {
            let answer = send(404).circuit(&breaker).classify(http).await.unwrap();
            assert_eq!(answer.status(), StatusCode::NOT_FOUND);
        }
        assert!(breaker.is_closed());
        assert_eq!(breaker.failure_count(), 0);

        // Without `.classify` a 503 is an `Ok`, hence a success: the issue's bug, by design.
        let answer = send(503).circuit(&breaker).await.unwrap();
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(breaker.failure_count(), 0);

        for n in 1..=THRESHOLD {
            let answer = send(503).circuit(&breaker).classify(http).await.unwrap();
            assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE); // returned unchanged
            assert_eq!(breaker.failure_count(), n);
        }
        assert!(breaker.is_open());

        let polled = AtomicUsize::new(0);
        let rejected = async {
            polled.fetch_add(1, SeqCst);
            Ok::<_, std::io::Error>(response(200))
        }
        .circuit(&breaker)
        .classify(http)
        .await
        .unwrap_err();
        assert!(rejected.is_open());
        assert_eq!(polled.load(SeqCst), 0, "a rejected call never runs");

        // The probe's 503 re-opens; its 404 closes.
        clock.advance(RECOVERY);
        let _ = send(503).circuit(&breaker).classify(http).await;
        assert!(breaker.is_open());
        clock.advance(RECOVERY);
        let _ = send(404).circuit(&breaker).classify(http).await;
        assert!(breaker.is_closed());
    });
}

#[test]
fn a_classifier_overrides_the_breakers_error_classifier_for_one_call() {
    let breaker = CircuitBreaker::builder()
        .failure_threshold(1)
        .build()
        .unwrap();
    block_on(async {
        // An `Err` the closure ignores records nothing...
        let ignore_errors = |r: &Result<u8, &str>| match r {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Ignore,
        };
        let e = async { Err::<u8, _>("cancelled") }
            .circuit(&breaker)
            .classify(ignore_errors)
            .await;
        assert_eq!(e, Err(Error::Inner("cancelled")));
        assert!(breaker.is_closed());
        // ...and an `Ok` the closure fails opens the breaker.
        let ok = async { Ok::<u8, &str>(0) }
            .circuit(&breaker)
            .classify(|r: &Result<u8, &str>| {
                if r == &Ok(0) {
                    Outcome::Failure
                } else {
                    Outcome::Success
                }
            })
            .await;
        assert_eq!(ok, Ok(0));
        assert!(breaker.is_open());
    });
}

#[test]
fn a_dropped_classified_probe_frees_its_slot() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock);
    block_on(async {
        for _ in 0..THRESHOLD {
            let _ = send(500)
                .circuit(&breaker)
                .classify(HttpClassifier::new())
                .await;
        }
        assert!(breaker.is_open());
        clock.advance(RECOVERY);

        let mut probe = Box::pin(
            futures::future::pending::<Result<Response<String>, std::io::Error>>()
                .circuit(&breaker)
                .classify(HttpClassifier::new()),
        );
        assert!(probe.as_mut().now_or_never().is_none()); // admitted: the probe slot is taken
        assert_eq!(
            format!("{probe:?}"),
            r#"Classified { stage: "probing", .. }"#
        );
        let other = send(200)
            .circuit(&breaker)
            .classify(HttpClassifier::new())
            .await;
        assert_eq!(
            other.unwrap_err().open_error().unwrap().state(),
            State::HalfOpen
        );

        drop(probe); // cancelled: nothing recorded, the slot is free again
        assert_eq!(breaker.failure_count(), THRESHOLD);
        let answer = send(200)
            .circuit(&breaker)
            .classify(HttpClassifier::new())
            .await;
        assert_eq!(answer.unwrap().status(), StatusCode::OK);
        assert!(breaker.is_closed());
    });
}

#[test]
fn a_panicking_classifier_counts_as_a_failure() {
    let breaker = CircuitBreaker::builder()
        .failure_threshold(1)
        .build()
        .unwrap();
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        block_on(
            async { Ok::<u8, ()>(1) }
                .circuit(&breaker)
                .classify(|_: &Result<u8, ()>| -> Outcome { panic!("classifier bug") }),
        )
    }));
    assert!(panicked.is_err());
    assert!(breaker.is_open());
}

// ---------------------------------------------------------------------------------------------
// The 503 answer.

/// A breaker open for `RECOVERY`, `elapsed` after it opened, and its rejection.
fn rejected_after(elapsed: Duration) -> OpenError {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .name("answer")
        .failure_threshold(1)
        .recovery_timeout(RECOVERY)
        .clock(clock.clone())
        .build()
        .unwrap();
    let _ = breaker.call(|| Err::<(), _>("down"));
    clock.advance(elapsed);
    breaker.try_acquire().unwrap_err()
}

#[test]
fn a_rejection_answers_503_with_retry_after_rounded_up() {
    let cases = [
        (Duration::from_millis(200), "1"),
        (Duration::from_millis(1), "1"),
        (Duration::from_secs(1), "1"),
        (Duration::from_millis(1_001), "2"),
        (Duration::from_millis(1_500), "2"),
        (Duration::from_secs(30), "30"),
    ];
    for (remaining, retry_after) in cases {
        let rejected = rejected_after(RECOVERY.checked_sub(remaining).unwrap());
        assert_eq!(rejected.remaining(), remaining);
        let answer = rejected.to_http_response();
        assert_eq!(
            answer.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{remaining:?}"
        );
        assert_eq!(answer.headers()[RETRY_AFTER], retry_after, "{remaining:?}");
        assert_eq!(answer.headers()[CONTENT_TYPE], "text/plain; charset=utf-8");
        assert_eq!(answer.body(), &rejected.to_string());
        assert!(answer.body().starts_with(r#"circuit "answer" is open"#));
        let from: Response<String> = rejected.into();
        assert_eq!(from.headers(), answer.headers());
        assert_eq!(from.body(), answer.body());
    }
}

#[test]
fn a_rejection_with_no_time_left_still_says_one_second() {
    // Half-open, the probe in flight: nothing remains, yet calling again at once is pointless.
    let clock = ManualClock::new();
    let breaker = breaker(&clock);
    let _ = breaker.call(|| Err::<(), _>("a"));
    let _ = breaker.call(|| Err::<(), _>("b"));
    let _ = breaker.call(|| Err::<(), _>("c"));
    clock.advance(RECOVERY);
    let _probe = breaker.try_acquire().unwrap();
    let rejected = breaker.try_acquire().unwrap_err();
    assert_eq!(rejected.state(), State::HalfOpen);
    assert_eq!(rejected.remaining(), Duration::ZERO);
    let answer = rejected.to_http_response();
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.headers()[RETRY_AFTER], "1");
    assert_eq!(answer.body(), &rejected.to_string());

    // Forced open: no end time either.
    breaker.force_open();
    let answer = breaker.try_acquire().unwrap_err().to_http_response();
    assert_eq!(answer.headers()[RETRY_AFTER], "1");
    assert!(answer.body().contains("until reset"), "{}", answer.body());
}

// ---------------------------------------------------------------------------------------------
// On loopback: a hyper server, a hyper-util client.

/// Counts the requests that reach it; `/missing` is a 404, everything else a 503.
async fn serve_unavailable() -> (SocketAddr, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counted = Arc::clone(&hits);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let hits = Arc::clone(&counted);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    hits.fetch_add(1, SeqCst);
                    let status = if request.uri().path() == "/missing" {
                        StatusCode::NOT_FOUND
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    };
                    let mut response = Response::new(Full::new(Bytes::from_static(b"busy")));
                    *response.status_mut() = status;
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, hits)
}

fn client() -> Client<HttpConnector, Empty<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

fn get(addr: SocketAddr, path: &str) -> Request<Empty<Bytes>> {
    Request::get(format!("http://{addr}{path}"))
        .body(Empty::new())
        .unwrap()
}

/// The status of a guarded call (its body read to the end), or its error.
async fn status_of(
    result: Result<Response<Incoming>, Error<ClientError>>,
) -> Result<StatusCode, Error<ClientError>> {
    let response = result?;
    let status = response.status();
    response.into_body().collect().await.unwrap();
    Ok(status)
}

#[tokio::test]
async fn a_hyper_client_classified_over_loopback_trips_on_503s_and_answers_503() {
    let (addr, hits) = serve_unavailable().await;
    let clock = ManualClock::new();
    let breaker = breaker(&clock);
    let client = client();
    let http = HttpClassifier::new();

    // 404s from the real server: answered, not counted.
    for _ in 0..5 {
        let result = client
            .request(get(addr, "/missing"))
            .circuit(&breaker)
            .classify(http)
            .await;
        assert_eq!(status_of(result).await.unwrap(), StatusCode::NOT_FOUND);
    }
    assert_eq!(breaker.failure_count(), 0);

    // 503s: each returned to the caller, each counted; the third opens the breaker.
    for n in 1..=THRESHOLD {
        let result = client
            .request(get(addr, "/"))
            .circuit(&breaker)
            .classify(http)
            .await;
        assert_eq!(
            status_of(result).await.unwrap(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(breaker.failure_count(), n);
    }
    assert!(breaker.is_open());
    assert_eq!(hits.load(SeqCst), 5 + THRESHOLD as usize);

    // Open: the request is not sent, and the rejection becomes the 503 answer.
    let result = client
        .request(get(addr, "/"))
        .circuit(&breaker)
        .classify(http)
        .await;
    let rejected = match result {
        Err(Error::Open(rejected)) => rejected,
        other => panic!("expected a rejection, got {other:?}"),
    };
    assert_eq!(hits.load(SeqCst), 5 + THRESHOLD as usize, "not sent");
    let answer = rejected.to_http_response();
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.headers()[RETRY_AFTER], "30");
    assert_eq!(
        answer.body(),
        r#"circuit "backend" is open (3 failures, 30s remaining)"#
    );

    // A transport error (nobody listens on the port) is a failure too: the probe re-opens.
    clock.advance(RECOVERY);
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nowhere = closed.local_addr().unwrap();
    drop(closed);
    let result = client
        .request(get(nowhere, "/"))
        .circuit(&breaker)
        .classify(http)
        .await;
    assert!(matches!(result, Err(Error::Inner(_))), "{result:?}");
    assert!(breaker.is_open());
}

/// A front server guarding its backend call with the breaker answers for it when open: the
/// 503, `Retry-After` and message arrive over the wire.
#[tokio::test]
async fn a_front_server_sends_the_503_answer_over_loopback() {
    let (backend, backend_hits) = serve_unavailable().await;
    let clock = ManualClock::new();
    let breaker = breaker(&clock);
    clock.advance(Duration::from_millis(10));

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front = listener.local_addr().unwrap();
    let guarded = Arc::clone(&breaker);
    tokio::spawn(async move {
        let client = client();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (client, breaker) = (client.clone(), Arc::clone(&guarded));
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_: Request<Incoming>| {
                    let (client, breaker) = (client.clone(), Arc::clone(&breaker));
                    async move {
                        let called = client
                            .request(get(backend, "/"))
                            .circuit(&breaker)
                            .classify(HttpClassifier::new())
                            .await;
                        let answer = match called {
                            Ok(response) => {
                                let status = response.status();
                                let body = response.into_body().collect().await.unwrap();
                                let mut answer = Response::new(Full::new(body.to_bytes()));
                                *answer.status_mut() = status;
                                answer
                            }
                            Err(Error::Open(rejected)) => rejected
                                .to_http_response()
                                .map(|body| Full::new(Bytes::from(body))),
                            Err(Error::Inner(e)) => panic!("backend unreachable: {e}"),
                        };
                        Ok::<_, Infallible>(answer)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    let caller = client();
    for _ in 0..THRESHOLD {
        let response = caller.request(get(front, "/")).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            response.headers().get(RETRY_AFTER).is_none(),
            "the backend's own 503"
        );
        assert_eq!(
            response.into_body().collect().await.unwrap().to_bytes(),
            "busy"
        );
    }
    assert!(breaker.is_open());

    clock.advance(Duration::from_millis(1_500)); // 28.5 s left: Retry-After 29
    let response = caller.request(get(front, "/")).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[RETRY_AFTER], "29");
    assert_eq!(
        response.headers()[CONTENT_TYPE],
        "text/plain; charset=utf-8"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        body,
        r#"circuit "backend" is open (3 failures, 29s remaining)"#
    );
    assert_eq!(
        backend_hits.load(SeqCst),
        THRESHOLD as usize,
        "the backend was spared"
    );
}

// ---------------------------------------------------------------------------------------------
// The tower layer with the same classifier.

#[cfg(feature = "tower")]
mod layer {
    use super::*;
    use async_breaker::tower::CircuitBreakerLayer;
    use tower::{service_fn, Layer, ServiceBuilder, ServiceExt};

    #[test]
    fn the_layer_counts_what_the_classifier_says() {
        let clock = ManualClock::new();
        let breaker = breaker(&clock);
        let service = CircuitBreakerLayer::new(Arc::clone(&breaker))
            .classify_response(HttpClassifier::new().too_many_requests(Outcome::Ignore))
            .layer(service_fn(|status: u16| async move {
                Ok::<_, std::io::Error>(response(status))
            }));
        block_on(async {
            for status in [200, 404, 429, 429, 400] {
                let answer = service.clone().oneshot(status).await.unwrap();
                assert_eq!(answer.status(), status);
            }
            assert_eq!(breaker.failure_count(), 0);
            for status in [503, 500] {
                let _ = service.clone().oneshot(status).await.unwrap();
            }
            // 429 is ignored here: it neither counts nor resets.
            let _ = service.clone().oneshot(429).await.unwrap();
            assert_eq!(breaker.failure_count(), 2);
            let _ = service.clone().oneshot(502).await.unwrap();
            assert!(breaker.is_open());
            let rejected = service.clone().oneshot(200).await.unwrap_err();
            assert_eq!(
                rejected.open_error().unwrap().to_http_response().headers()[RETRY_AFTER],
                "30"
            );
        });
    }

    #[test]
    fn the_layer_classifies_status_only_services_and_errors() {
        let breaker = Arc::new(
            CircuitBreaker::builder()
                .failure_threshold(2)
                .build()
                .unwrap(),
        );
        let service = CircuitBreakerLayer::new(Arc::clone(&breaker))
            .classify_response(HttpClassifier::new())
            .layer(service_fn(|status: Option<u16>| async move {
                status
                    .map(|s| StatusCode::from_u16(s).unwrap())
                    .ok_or("connection reset")
            }));
        block_on(async {
            assert_eq!(
                service.clone().oneshot(Some(404)).await,
                Ok(StatusCode::NOT_FOUND)
            );
            assert_eq!(
                service.clone().oneshot(None).await,
                Err(Error::Inner("connection reset"))
            );
            assert_eq!(breaker.failure_count(), 1);
            assert_eq!(
                service.clone().oneshot(Some(504)).await,
                Ok(StatusCode::GATEWAY_TIMEOUT)
            );
            assert!(breaker.is_open());
        });
    }

    #[tokio::test]
    async fn the_layer_around_a_hyper_client_over_loopback() {
        let (addr, hits) = serve_unavailable().await;
        let clock = ManualClock::new();
        let breaker = breaker(&clock);
        let service = ServiceBuilder::new()
            .layer(
                CircuitBreakerLayer::new(Arc::clone(&breaker))
                    .classify_response(HttpClassifier::new()),
            )
            .service(client());
        for _ in 0..4 {
            let result = service.clone().oneshot(get(addr, "/missing")).await;
            assert_eq!(status_of(result).await.unwrap(), StatusCode::NOT_FOUND);
        }
        assert!(breaker.is_closed());
        for _ in 0..THRESHOLD {
            let result = service.clone().oneshot(get(addr, "/")).await;
            assert_eq!(
                status_of(result).await.unwrap(),
                StatusCode::SERVICE_UNAVAILABLE
            );
        }
        assert!(breaker.is_open());
        let result = service.clone().oneshot(get(addr, "/")).await;
        assert!(matches!(result, Err(Error::Open(_))));
        assert_eq!(hits.load(SeqCst), 4 + THRESHOLD as usize);
    }
}
