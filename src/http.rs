//! HTTP (feature `http`): [`HttpClassifier`], what a response means for the breaker, and
//! [`OpenError::to_http_response`], the answer to give a caller the breaker turned away.
//!
//! An HTTP client returns `Ok(response)` for a 503 just as for a 200, so the breaker's error
//! classifier never sees a server's trouble. `HttpClassifier` reads the status: it serves the
//! future combinator ([`Circuit::classify`](crate::Circuit::classify)) and the tower layer
//! (`CircuitBreakerLayer::classify_response`) alike.

use core::fmt;

use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Response, StatusCode};

use crate::classify::{ClassifyResult, Outcome};
use crate::error::OpenError;

/// The default failing statuses: every 5xx.
fn server_error(status: StatusCode) -> bool {
    status.is_server_error()
}

/// What an HTTP response means for the breaker: a transport error (`Err`, no response at all)
/// and a 5xx are failures; 2xx, 3xx and 4xx are successes (the server answered, and a 4xx is
/// the caller's own mistake); 429 Too Many Requests is a failure unless configured otherwise.
///
/// Why 429 counts by default: the server says it is serving less than it is asked to, and asks
/// to be called less. That is what an open breaker does, and a breaker that counted 429s as
/// successes would keep sending at full rate to a server that is shedding load. If a 429 from
/// your dependency is a per-caller quota rather than an overloaded server, say so with
/// [`too_many_requests`](HttpClassifier::too_many_requests) (`Outcome::Success` or
/// `Outcome::Ignore`).
///
/// The same value classifies:
///
/// - `Result<http::Response<B>, E>` and `Result<http::StatusCode, E>`, as a [`ClassifyResult`]
///   for [`Circuit::classify`](crate::Circuit::classify), and (feature `tower`) as a
///   `ClassifyResponse` for `CircuitBreakerLayer::classify_response`;
/// - a response or a status alone: [`response_outcome`](HttpClassifier::response_outcome),
///   [`status_outcome`](HttpClassifier::status_outcome).
///
/// ```
/// use async_breaker::{CircuitBreaker, CircuitExt, HttpClassifier};
/// use http::{Response, StatusCode};
///
/// /// A stand-in for an HTTP client call: `Ok` whatever the status.
/// async fn send(status: u16) -> Result<Response<()>, std::io::Error> {
///     let mut response = Response::new(());
///     *response.status_mut() = StatusCode::from_u16(status).unwrap();
///     Ok(response)
/// }
///
/// # futures::executor::block_on(async {
/// let breaker = CircuitBreaker::builder().failure_threshold(2).build()?;
/// let http = HttpClassifier::new();
/// for status in [404, 503, 404] {
///     // The caller gets every response back; only 503 counts, and a 404 in between resets.
///     let response = send(status).circuit(&breaker).classify(http).await?;
///     assert_eq!(response.status(), status);
/// }
/// assert!(breaker.is_closed());
/// for _ in 0..2 {
///     send(503).circuit(&breaker).classify(http).await?;
/// }
/// assert!(breaker.is_open());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Copy)]
pub struct HttpClassifier<P = fn(StatusCode) -> bool> {
    too_many_requests: Outcome,
    failing: P,
}

impl HttpClassifier {
    /// 5xx and transport errors fail, 429 fails, every other status succeeds.
    ///
    /// ```
    /// use async_breaker::{HttpClassifier, Outcome};
    /// use http::StatusCode;
    ///
    /// let http = HttpClassifier::new();
    /// assert_eq!(http.status_outcome(StatusCode::BAD_GATEWAY), Outcome::Failure);
    /// assert_eq!(http.status_outcome(StatusCode::TOO_MANY_REQUESTS), Outcome::Failure);
    /// assert_eq!(http.status_outcome(StatusCode::NOT_FOUND), Outcome::Success);
    /// ```
    pub fn new() -> HttpClassifier {
        HttpClassifier {
            too_many_requests: Outcome::Failure,
            failing: server_error,
        }
    }
}

impl Default for HttpClassifier {
    /// The same as [`HttpClassifier::new`].
    fn default() -> HttpClassifier {
        HttpClassifier::new()
    }
}

impl<P> HttpClassifier<P> {
    /// What a 429 Too Many Requests response records: [`Outcome::Failure`] by default (see
    /// above why), [`Outcome::Success`] when the dependency's 429s are per-caller quotas, or
    /// [`Outcome::Ignore`] to record nothing. It takes precedence over
    /// [`failing`](HttpClassifier::failing).
    ///
    /// ```
    /// use async_breaker::{HttpClassifier, Outcome};
    /// use http::StatusCode;
    ///
    /// let quota = HttpClassifier::new().too_many_requests(Outcome::Success);
    /// assert_eq!(quota.status_outcome(StatusCode::TOO_MANY_REQUESTS), Outcome::Success);
    /// assert_eq!(quota.status_outcome(StatusCode::SERVICE_UNAVAILABLE), Outcome::Failure);
    /// ```
    #[must_use]
    pub fn too_many_requests(self, outcome: Outcome) -> HttpClassifier<P> {
        HttpClassifier {
            too_many_requests: outcome,
            failing: self.failing,
        }
    }

    /// Which statuses (other than 429) are failures, in place of "every 5xx"; every other
    /// status is a success. Transport errors are failures whatever the predicate says.
    ///
    /// ```
    /// use async_breaker::{HttpClassifier, Outcome};
    /// use http::StatusCode;
    ///
    /// // A 501 Not Implemented is the caller's problem; a 408 Request Timeout is the server's.
    /// let http = HttpClassifier::new().failing(|status: StatusCode| {
    ///     (status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED)
    ///         || status == StatusCode::REQUEST_TIMEOUT
    /// });
    /// assert_eq!(http.status_outcome(StatusCode::NOT_IMPLEMENTED), Outcome::Success);
    /// assert_eq!(http.status_outcome(StatusCode::REQUEST_TIMEOUT), Outcome::Failure);
    /// assert_eq!(http.status_outcome(StatusCode::BAD_GATEWAY), Outcome::Failure);
    /// ```
    pub fn failing<Q>(self, failing: Q) -> HttpClassifier<Q>
    where
        Q: Fn(StatusCode) -> bool,
    {
        HttpClassifier {
            too_many_requests: self.too_many_requests,
            failing,
        }
    }
}

impl<P: Fn(StatusCode) -> bool> HttpClassifier<P> {
    /// What a response with `status` means for the dependency.
    ///
    /// ```
    /// use async_breaker::{HttpClassifier, Outcome};
    /// use http::StatusCode;
    ///
    /// assert_eq!(HttpClassifier::new().status_outcome(StatusCode::OK), Outcome::Success);
    /// ```
    pub fn status_outcome(&self, status: StatusCode) -> Outcome {
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.too_many_requests
        } else if (self.failing)(status) {
            Outcome::Failure
        } else {
            Outcome::Success
        }
    }

    /// What `response` means for the dependency: its status's outcome. For a tower layer or
    /// any code that sees the response alone.
    ///
    /// ```
    /// use async_breaker::{HttpClassifier, Outcome};
    /// use http::{Response, StatusCode};
    ///
    /// let mut response = Response::new("down for maintenance");
    /// *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    /// assert_eq!(HttpClassifier::new().response_outcome(&response), Outcome::Failure);
    /// ```
    pub fn response_outcome<B>(&self, response: &Response<B>) -> Outcome {
        self.status_outcome(response.status())
    }
}

impl<P> fmt::Debug for HttpClassifier<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClassifier")
            .field("too_many_requests", &self.too_many_requests)
            .finish_non_exhaustive()
    }
}

/// A response is what its status says; an `Err` (no response) is a failure.
///
/// ```
/// use async_breaker::{ClassifyResult, HttpClassifier, Outcome};
/// use http::Response;
///
/// let refused: Result<Response<()>, &str> = Err("connection refused");
/// assert_eq!(HttpClassifier::new().classify_result(&refused), Outcome::Failure);
/// ```
impl<P, B, E> ClassifyResult<Response<B>, E> for HttpClassifier<P>
where
    P: Fn(StatusCode) -> bool,
{
    fn classify_result(&self, result: &Result<Response<B>, E>) -> Outcome {
        match result {
            Ok(response) => self.response_outcome(response),
            Err(_) => Outcome::Failure,
        }
    }
}

/// For clients that return just the status: a status is what it says; an `Err` is a failure.
///
/// ```
/// use async_breaker::{ClassifyResult, HttpClassifier, Outcome};
/// use http::StatusCode;
///
/// let http = HttpClassifier::new();
/// assert_eq!(http.classify_result(&Ok::<_, ()>(StatusCode::NOT_FOUND)), Outcome::Success);
/// assert_eq!(http.classify_result(&Err::<StatusCode, _>(())), Outcome::Failure);
/// ```
impl<P, E> ClassifyResult<StatusCode, E> for HttpClassifier<P>
where
    P: Fn(StatusCode) -> bool,
{
    fn classify_result(&self, result: &Result<StatusCode, E>) -> Outcome {
        match result {
            Ok(status) => self.status_outcome(*status),
            Err(_) => Outcome::Failure,
        }
    }
}

/// The tower layer's response classifier: the same outcomes as for
/// [`Circuit::classify`](crate::Circuit::classify).
///
/// ```
/// use std::sync::Arc;
/// use async_breaker::tower::CircuitBreakerLayer;
/// use async_breaker::{CircuitBreaker, HttpClassifier};
/// use http::{Response, StatusCode};
/// use tower::{service_fn, Layer, ServiceExt};
///
/// # futures::executor::block_on(async {
/// let breaker = Arc::new(CircuitBreaker::builder().failure_threshold(1).build()?);
/// let service = CircuitBreakerLayer::new(Arc::clone(&breaker))
///     .classify_response(HttpClassifier::new())
///     .layer(service_fn(|status: u16| async move {
///         let mut response = Response::new(());
///         *response.status_mut() = StatusCode::from_u16(status).unwrap();
///         Ok::<_, std::io::Error>(response)
///     }));
/// assert_eq!(service.clone().oneshot(404).await?.status(), 404);
/// assert!(breaker.is_closed());
/// assert_eq!(service.clone().oneshot(500).await?.status(), 500);
/// assert!(breaker.is_open());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[cfg(feature = "tower")]
impl<P, B, E, C> crate::tower::ClassifyResponse<Response<B>, E, C> for HttpClassifier<P>
where
    P: Fn(StatusCode) -> bool,
{
    fn classify_response(
        &self,
        result: &Result<Response<B>, E>,
        _: &crate::CircuitBreaker<C>,
    ) -> Outcome {
        self.classify_result(result)
    }
}

/// For services whose response is just the status.
///
/// ```
/// use async_breaker::tower::ClassifyResponse;
/// use async_breaker::{CircuitBreaker, HttpClassifier, Outcome};
/// use http::StatusCode;
///
/// let result: Result<StatusCode, ()> = Ok(StatusCode::GATEWAY_TIMEOUT);
/// let outcome = HttpClassifier::new().classify_response(&result, &CircuitBreaker::new());
/// assert_eq!(outcome, Outcome::Failure);
/// ```
#[cfg(feature = "tower")]
impl<P, E, C> crate::tower::ClassifyResponse<StatusCode, E, C> for HttpClassifier<P>
where
    P: Fn(StatusCode) -> bool,
{
    fn classify_response(
        &self,
        result: &Result<StatusCode, E>,
        _: &crate::CircuitBreaker<C>,
    ) -> Outcome {
        self.classify_result(result)
    }
}

impl OpenError {
    /// The answer to give a caller this rejection turned away: `503 Service Unavailable`, a
    /// `Retry-After` header with the time until the breaker admits a probe in whole seconds
    /// (rounded up, and at least 1: a half-open breaker with its probe in flight, or a
    /// forced-open one, has no time left to announce but should not be called again at once),
    /// and the rejection's message as a `text/plain` body.
    ///
    /// For a server that guards its own dependency: a breaker open on the database becomes a
    /// quick 503 that tells clients when to come back. Also as
    /// `http::Response::<String>::from(rejected)`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_breaker::{CircuitBreaker, ManualClock};
    /// use http::StatusCode;
    ///
    /// let clock = ManualClock::new();
    /// let breaker = CircuitBreaker::builder()
    ///     .name("db")
    ///     .failure_threshold(1)
    ///     .recovery_timeout(Duration::from_secs(30))
    ///     .clock(clock.clone())
    ///     .build()?;
    /// let _ = breaker.call(|| Err::<(), _>("connection reset"));
    /// clock.advance(Duration::from_millis(1_500));
    ///
    /// let rejected = breaker.try_acquire().unwrap_err();
    /// let answer = rejected.to_http_response();
    /// assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    /// assert_eq!(answer.headers()["retry-after"], "29"); // 28.5 s, rounded up
    /// assert_eq!(answer.body(), r#"circuit "db" is open (1 failure, 29s remaining)"#);
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// ```
    pub fn to_http_response(&self) -> Response<String> {
        let remaining = self.remaining();
        let whole = remaining.as_secs() + u64::from(remaining.subsec_nanos() > 0);
        let retry_after = whole.max(1);
        let mut response = Response::new(self.to_string());
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        let headers = response.headers_mut();
        headers.insert(RETRY_AFTER, HeaderValue::from(retry_after));
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}

/// The same as [`OpenError::to_http_response`].
///
/// ```
/// use async_breaker::CircuitBreaker;
///
/// let breaker = CircuitBreaker::builder().failure_threshold(1).build()?;
/// let _ = breaker.call(|| Err::<(), _>("down"));
/// let answer = http::Response::<String>::from(breaker.try_acquire().unwrap_err());
/// assert_eq!(answer.status(), 503);
/// # Ok::<(), async_breaker::ConfigError>(())
/// ```
impl From<OpenError> for Response<String> {
    fn from(rejected: OpenError) -> Response<String> {
        rejected.to_http_response()
    }
}
