//! axum (feature `axum`): [`IntoResponse`] for a rejection and for the tower layer's error.
//!
//! An axum route only takes a layer whose service never fails (`Error = Infallible`), and the
//! breaker's service fails with [`Error<Infallible>`](crate::Error) when it turns a request
//! away. axum's `HandleErrorLayer` turns that error back into a response; with these impls its
//! handler is one line, `|e: async_breaker::Error<Infallible>| async move { e }`, and a rejected
//! request gets the answer of [`OpenError::to_http_response`]: `503 Service Unavailable`, a
//! `Retry-After` in whole seconds (at least 1) and the rejection's message.
//!
//! Only `axum-core`, the crate that defines `IntoResponse`, is a dependency: the router and the
//! server are the user's.

use axum_core::body::Body;
use axum_core::response::{IntoResponse, Response};

use crate::error::{Error, OpenError};

/// The answer of [`OpenError::to_http_response`] as an axum response: `503 Service
/// Unavailable`, `Retry-After` in whole seconds (at least 1), the message as a `text/plain`
/// body. A handler that calls a guarded dependency itself can return the rejection (or
/// `Result<_, OpenError>`) as it is.
///
/// ```
/// use std::time::Duration;
/// use async_breaker::{CircuitBreaker, ManualClock};
/// use axum::response::IntoResponse;
///
/// let clock = ManualClock::new();
/// let breaker = CircuitBreaker::builder()
///     .name("db")
///     .failure_threshold(1)
///     .recovery_timeout(Duration::from_secs(10))
///     .clock(clock.clone())
///     .build()?;
/// let _ = breaker.call(|| Err::<(), _>("connection reset"));
/// clock.advance(Duration::from_millis(2_500));
///
/// let answer = breaker.try_acquire().unwrap_err().into_response();
/// assert_eq!(answer.status(), 503);
/// assert_eq!(answer.headers()["retry-after"], "8"); // 7.5 s, rounded up
/// assert_eq!(answer.headers()["content-type"], "text/plain; charset=utf-8");
/// # Ok::<(), async_breaker::ConfigError>(())
/// ```
impl IntoResponse for OpenError {
    fn into_response(self) -> Response {
        let (parts, message) = self.to_http_response().into_parts();
        Response::from_parts(parts, Body::from(message))
    }
}

/// A rejection ([`Error::Open`]) is the 503 answer of [`OpenError::to_http_response`]; the
/// inner service's or the call's own error ([`Error::Inner`]) is its own response. For the
/// tower layer in an axum route, whose inner error is `Infallible`, that makes the
/// `HandleErrorLayer` handler one line:
///
/// ```
/// use std::convert::Infallible;
/// use std::sync::Arc;
/// use async_breaker::tower::CircuitBreakerLayer;
/// use async_breaker::{CircuitBreaker, Error, HttpClassifier};
/// use axum::body::Body;
/// use axum::error_handling::HandleErrorLayer;
/// use axum::http::{Request, StatusCode};
/// use axum::routing::get;
/// use axum::Router;
/// use tower::{ServiceBuilder, ServiceExt};
///
/// let breaker = Arc::new(CircuitBreaker::builder().failure_threshold(1).build()?);
/// let app = Router::new()
///     .route("/", get(|| async { StatusCode::BAD_GATEWAY }))
///     .route_layer(
///         ServiceBuilder::new()
///             .layer(HandleErrorLayer::new(|e: Error<Infallible>| async move { e }))
///             .layer(CircuitBreakerLayer::new(Arc::clone(&breaker))
///                 .classify_response(HttpClassifier::new())),
///     );
///
/// # futures::executor::block_on(async {
/// let request = || Request::get("/").body(Body::empty()).unwrap();
/// let first = app.clone().oneshot(request()).await.unwrap();
/// assert_eq!(first.status(), StatusCode::BAD_GATEWAY); // the handler's answer: opens
/// let second = app.oneshot(request()).await.unwrap();
/// assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE); // the breaker's answer
/// assert_eq!(second.headers()["retry-after"], "30");
/// # });
/// # Ok::<(), async_breaker::ConfigError>(())
/// ```
///
/// An inner error that is not a response (a `BoxError` from a timeout layer, a client's
/// transport error) needs a handler that says which status it is: match on the two variants.
impl<E: IntoResponse> IntoResponse for Error<E> {
    fn into_response(self) -> Response {
        match self {
            Error::Open(rejected) => rejected.into_response(),
            Error::Inner(error) => error.into_response(),
        }
    }
}
