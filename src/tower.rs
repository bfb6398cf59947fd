//! A tower [`Layer`] and [`Service`] that guard an inner service with a breaker (feature
//! `tower`).
//!
//! [`CircuitBreakerLayer`] wraps any [`Service`] (a hyper or reqwest-style HTTP client, a
//! gRPC channel, a database pool behind tower) in a [`CircuitBreakerService`]. Each request is
//! one guarded call:
//!
//! - **Admission happens in `call`.** If the breaker is open, or half-open with its one probe
//!   in flight, `call` returns a future that resolves at once to [`Error::Open`], and the
//!   inner service is **not** called: the request never reaches the dependency.
//! - **Otherwise the inner service is called** and its response future is wrapped in a
//!   [`ResponseFuture`] that holds the call's [`OwnedPermit`]. When the response arrives, a
//!   *response classifier* decides what it means for the dependency's health and the outcome
//!   is recorded.
//! - **`poll_ready` only asks the inner service.** It never claims the half-open probe slot, so
//!   a service that is polled ready and then dropped, or kept idle, can't wedge the breaker.
//!   A `poll_ready` error is passed through as `Error::Inner` without being recorded: no call
//!   was made.
//!
//! The service's error type is [`Error<S::Error>`](crate::Error); it implements
//! `std::error::Error + Send + Sync` when `S::Error` does, so it converts into tower's
//! `BoxError` for the rest of a middleware stack.
//!
//! ```
//! use std::sync::Arc;
//! use async_breaker::tower::CircuitBreakerLayer;
//! use async_breaker::{CircuitBreaker, Error};
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! # futures::executor::block_on(async {
//! let breaker = Arc::new(CircuitBreaker::builder().failure_threshold(2).build()?);
//! let service = CircuitBreakerLayer::new(Arc::clone(&breaker))
//!     .layer(service_fn(|healthy: bool| async move {
//!         if healthy { Ok("pong") } else { Err("connection refused") }
//!     }));
//!
//! assert_eq!(service.clone().oneshot(true).await, Ok("pong"));
//! for _ in 0..2 {
//!     assert_eq!(service.clone().oneshot(false).await, Err(Error::Inner("connection refused")));
//! }
//! // Two failures in a row: open. The inner service is not called any more.
//! assert!(breaker.is_open());
//! assert!(matches!(service.oneshot(true).await, Err(Error::Open(_))));
//! # Ok::<(), async_breaker::ConfigError>(())
//! # }).unwrap();
//! ```
//!
//! # Classifying responses
//!
//! By default ([`DefaultClassifier`]) an `Ok` response is a success and an `Err` is whatever
//! the breaker's own [`Classify`] says. Many protocols report a server's trouble inside an `Ok`
//! response, though: an HTTP client returns `Ok` for a 503. Give the layer a closure with
//! [`classify_response`](CircuitBreakerLayer::classify_response) (or implement
//! [`ClassifyResponse`]) to look at the whole `Result`. Here a 5xx response is a failure, while
//! a 4xx is the caller's own mistake and says the server is up:
//!
//! ```
//! use std::sync::Arc;
//! use async_breaker::tower::CircuitBreakerLayer;
//! use async_breaker::{CircuitBreaker, Outcome};
//! use http::{Response, StatusCode};
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! type HttpResult = Result<Response<String>, std::io::Error>;
//!
//! # futures::executor::block_on(async {
//! let breaker = Arc::new(CircuitBreaker::builder().failure_threshold(1).build()?);
//! let layer = CircuitBreakerLayer::new(Arc::clone(&breaker)).classify_response(
//!     |result: &HttpResult| match result {
//!         Ok(response) if response.status().is_server_error() => Outcome::Failure,
//!         Ok(_) => Outcome::Success, // 2xx, 3xx and 4xx: the server answered
//!         Err(_) => Outcome::Failure, // no response at all
//!     },
//! );
//! let service = layer.layer(service_fn(|status: u16| async move {
//!     let mut response = Response::new(String::new());
//!     *response.status_mut() = StatusCode::from_u16(status).unwrap();
//!     Ok::<_, std::io::Error>(response)
//! }));
//!
//! let response = service.clone().oneshot(404).await.unwrap();
//! assert_eq!(response.status(), StatusCode::NOT_FOUND); // the caller gets it unchanged
//! assert!(breaker.is_closed()); // a 4xx does not count
//!
//! let response = service.clone().oneshot(503).await.unwrap();
//! assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
//! assert!(breaker.is_open()); // a 5xx does
//! assert!(service.oneshot(200).await.unwrap_err().is_open());
//! # Ok::<(), async_breaker::ConfigError>(())
//! # }).unwrap();
//! ```
//!
//! Classification only changes what is recorded: the caller always gets the inner service's
//! response or error back unchanged.
//!
//! # Cancel safety
//!
//! A [`ResponseFuture`] dropped before it completes (by a timeout, a `select!`, a client that
//! hung up) records nothing: a closed-state call leaves no trace, and a half-open probe frees
//! its slot at once so the next request probes. If the inner service panics, in `call` or
//! while its response future is polled, the request counts as a failure and the panic goes on.
//!
//! A timeout *outside* the breaker (a layer added before this one, or a timeout around the
//! returned future) is therefore neither a success nor a failure. To count slow responses as
//! failures, put the timeout *inside*: add the timeout layer after this one, so that it wraps
//! the inner service, and its error reaches the classifier.
//!
//! # Readiness
//!
//! Following tower's contract, call `poll_ready` (for example through `ServiceExt::ready` or
//! `oneshot`) before each `call`. When the breaker rejects a request, the readiness the inner
//! service granted is not used, and it carries over to the next `call`.
//!
//! [`Layer`]: tower_layer::Layer
//! [`Service`]: tower_service::Service

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc;

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::breaker::CircuitBreaker;
use crate::classify::{AnyError, Classify, Outcome};
use crate::error::{Error, OpenError};
use crate::permit::OwnedPermit;

/// Decides what a finished request means for the dependency's health, looking at the whole
/// `Result` the inner service returned.
///
/// Implemented by [`DefaultClassifier`] and by every closure
/// `Fn(&Result<T, E>) -> Outcome`; `breaker` gives access to the breaker (and its own error
/// classifier, [`CircuitBreaker::classifier`]) for your own implementations.
///
/// ```
/// use async_breaker::tower::ClassifyResponse;
/// use async_breaker::{Classify, CircuitBreaker, Outcome};
///
/// /// Status codes as responses: 5xx is a failure, an `Err` is what the breaker says.
/// struct Status;
/// impl<E, C: Classify<E>> ClassifyResponse<u16, E, C> for Status {
///     fn classify_response(&self, result: &Result<u16, E>, breaker: &CircuitBreaker<C>) -> Outcome {
///         match result {
///             Ok(500..) => Outcome::Failure,
///             Ok(_) => Outcome::Success,
///             Err(e) => breaker.classifier().classify(e),
///         }
///     }
/// }
///
/// let breaker = CircuitBreaker::new();
/// assert_eq!(Status.classify_response(&Ok::<_, ()>(503), &breaker), Outcome::Failure);
/// assert_eq!(Status.classify_response(&Ok::<_, ()>(404), &breaker), Outcome::Success);
/// assert_eq!(Status.classify_response(&Err::<u16, _>(()), &breaker), Outcome::Failure);
/// ```
pub trait ClassifyResponse<T, E, C> {
    /// What `result` says about the dependency: [`Outcome::Ignore`] records nothing (and frees
    /// the probe slot if the request was the half-open probe).
    fn classify_response(&self, result: &Result<T, E>, breaker: &CircuitBreaker<C>) -> Outcome;
}

/// The default response classifier: `Ok(_)` is a success, `Err(e)` is what the breaker's
/// [`Classify`] says about `e` (with the default [`AnyError`], every `Err` is a failure).
///
/// ```
/// use async_breaker::tower::{ClassifyResponse, DefaultClassifier};
/// use async_breaker::{CircuitBreaker, Outcome};
///
/// let breaker = CircuitBreaker::new();
/// let ok: Result<u16, &str> = Ok(503);
/// assert_eq!(DefaultClassifier.classify_response(&ok, &breaker), Outcome::Success);
/// let err: Result<u16, &str> = Err("reset");
/// assert_eq!(DefaultClassifier.classify_response(&err, &breaker), Outcome::Failure);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DefaultClassifier;

impl<T, E, C: Classify<E>> ClassifyResponse<T, E, C> for DefaultClassifier {
    #[inline]
    fn classify_response(&self, result: &Result<T, E>, breaker: &CircuitBreaker<C>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            Err(e) => breaker.classifier().classify(e),
        }
    }
}

/// A closure classifies the whole result itself.
///
/// ```
/// use async_breaker::tower::ClassifyResponse;
/// use async_breaker::{CircuitBreaker, Outcome};
///
/// let only_errors = |r: &Result<u16, ()>| if r.is_err() { Outcome::Failure } else { Outcome::Success };
/// assert_eq!(only_errors.classify_response(&Err(()), &CircuitBreaker::new()), Outcome::Failure);
/// ```
impl<T, E, C, F> ClassifyResponse<T, E, C> for F
where
    F: Fn(&Result<T, E>) -> Outcome,
{
    #[inline]
    fn classify_response(&self, result: &Result<T, E>, _: &CircuitBreaker<C>) -> Outcome {
        self(result)
    }
}

/// A [`Layer`] that wraps services in a [`CircuitBreakerService`] sharing one breaker.
///
/// Every service the layer makes (and every clone of them) reports to the same
/// `Arc<CircuitBreaker<C>>`, so one breaker guards one dependency however many clones of the
/// client are in use. `R` is the [response classifier](ClassifyResponse).
///
/// ```
/// use std::sync::Arc;
/// use async_breaker::tower::CircuitBreakerLayer;
/// use async_breaker::CircuitBreaker;
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
///
/// # futures::executor::block_on(async {
/// let breaker = Arc::new(CircuitBreaker::builder().name("users").build()?);
/// let service = ServiceBuilder::new()
///     .layer(CircuitBreakerLayer::new(Arc::clone(&breaker)))
///     .service(service_fn(|id: u32| async move { Ok::<_, std::io::Error>(id * 2) }));
/// assert_eq!(service.oneshot(21).await.unwrap(), 42);
/// # Ok::<(), async_breaker::ConfigError>(())
/// # }).unwrap();
/// ```
pub struct CircuitBreakerLayer<C = AnyError, R = DefaultClassifier> {
    breaker: Arc<CircuitBreaker<C>>,
    classifier: R,
}

impl<C> CircuitBreakerLayer<C, DefaultClassifier> {
    /// A layer guarding services with `breaker`, classifying responses with
    /// [`DefaultClassifier`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use async_breaker::tower::CircuitBreakerLayer;
    /// use async_breaker::CircuitBreaker;
    ///
    /// let layer = CircuitBreakerLayer::new(Arc::new(CircuitBreaker::new()));
    /// assert_eq!(layer.breaker().name(), "unnamed");
    /// ```
    pub fn new(breaker: Arc<CircuitBreaker<C>>) -> CircuitBreakerLayer<C, DefaultClassifier> {
        CircuitBreakerLayer {
            breaker,
            classifier: DefaultClassifier,
        }
    }
}

impl<C, R> CircuitBreakerLayer<C, R> {
    /// Replaces the response classifier, for example with a closure
    /// `Fn(&Result<S::Response, S::Error>) -> Outcome` (annotate its parameter's type: the
    /// layer does not know the service yet). The classifier is cloned into every request's
    /// future, so it must be `Clone` (closures are when what they capture is); see the
    /// [module docs](self#classifying-responses) for an HTTP example.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use async_breaker::tower::CircuitBreakerLayer;
    /// use async_breaker::{CircuitBreaker, Outcome};
    /// use tower::{service_fn, Layer, ServiceExt};
    ///
    /// # futures::executor::block_on(async {
    /// let breaker = Arc::new(CircuitBreaker::builder().failure_threshold(1).build()?);
    /// // A service that reports trouble in-band, as `Ok(None)`.
    /// let service = CircuitBreakerLayer::new(Arc::clone(&breaker))
    ///     .classify_response(|r: &Result<Option<u8>, ()>| match r {
    ///         Ok(Some(_)) => Outcome::Success,
    ///         Ok(None) | Err(()) => Outcome::Failure,
    ///     })
    ///     .layer(service_fn(|n: u8| async move { Ok::<_, ()>(n.checked_sub(1)) }));
    /// assert_eq!(service.clone().oneshot(0).await, Ok(None));
    /// assert!(breaker.is_open());
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// # }).unwrap();
    /// ```
    pub fn classify_response<F>(self, classifier: F) -> CircuitBreakerLayer<C, F> {
        CircuitBreakerLayer {
            breaker: self.breaker,
            classifier,
        }
    }

    /// The breaker the layer's services report to.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use async_breaker::tower::CircuitBreakerLayer;
    /// use async_breaker::CircuitBreaker;
    ///
    /// let breaker = Arc::new(CircuitBreaker::new());
    /// let layer = CircuitBreakerLayer::new(Arc::clone(&breaker));
    /// assert!(Arc::ptr_eq(layer.breaker(), &breaker));
    /// ```
    pub fn breaker(&self) -> &Arc<CircuitBreaker<C>> {
        &self.breaker
    }
}

impl<C> From<Arc<CircuitBreaker<C>>> for CircuitBreakerLayer<C, DefaultClassifier> {
    /// The same as [`CircuitBreakerLayer::new`].
    fn from(breaker: Arc<CircuitBreaker<C>>) -> CircuitBreakerLayer<C, DefaultClassifier> {
        CircuitBreakerLayer::new(breaker)
    }
}

impl<S, C, R: Clone> Layer<S> for CircuitBreakerLayer<C, R> {
    type Service = CircuitBreakerService<S, C, R>;

    fn layer(&self, inner: S) -> CircuitBreakerService<S, C, R> {
        CircuitBreakerService {
            inner,
            breaker: Arc::clone(&self.breaker),
            classifier: self.classifier.clone(),
        }
    }
}

impl<C, R: Clone> Clone for CircuitBreakerLayer<C, R> {
    fn clone(&self) -> Self {
        CircuitBreakerLayer {
            breaker: Arc::clone(&self.breaker),
            classifier: self.classifier.clone(),
        }
    }
}

impl<C, R> fmt::Debug for CircuitBreakerLayer<C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerLayer")
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}

/// A [`Service`] that runs each request through a breaker; made by [`CircuitBreakerLayer`] or
/// [`CircuitBreakerService::new`].
///
/// - `poll_ready` delegates to the inner service and never claims the probe slot.
/// - `call` asks the breaker for a permit. Rejected: the inner service is not called and the
///   [`ResponseFuture`] resolves at once to [`Error::Open`]. Admitted: the inner service is
///   called and the response future records the outcome when the response arrives.
///
/// Clones share the breaker (and clone the inner service).
///
/// # Cancel safety
///
/// Dropping the [`ResponseFuture`] before it completes records nothing, and frees the
/// half-open probe slot if the request was the probe. A panic in the inner service's `call`
/// or while polling its future is recorded as a failure before it continues.
///
/// ```
/// use std::sync::Arc;
/// use async_breaker::tower::CircuitBreakerService;
/// use async_breaker::{CircuitBreaker, Error};
/// use tower::{service_fn, ServiceExt};
///
/// # futures::executor::block_on(async {
/// let breaker = Arc::new(CircuitBreaker::builder().failure_threshold(1).build()?);
/// let service = CircuitBreakerService::new(
///     service_fn(|_: ()| async { Err::<(), _>("down") }),
///     Arc::clone(&breaker),
/// );
/// assert_eq!(service.clone().oneshot(()).await, Err(Error::Inner("down")));
/// let rejected = service.oneshot(()).await.unwrap_err();
/// assert!(rejected.is_open());
/// # Ok::<(), async_breaker::ConfigError>(())
/// # }).unwrap();
/// ```
///
/// [`Service`]: tower_service::Service
pub struct CircuitBreakerService<S, C = AnyError, R = DefaultClassifier> {
    inner: S,
    breaker: Arc<CircuitBreaker<C>>,
    classifier: R,
}

impl<S, C> CircuitBreakerService<S, C, DefaultClassifier> {
    /// Guards `inner` with `breaker`, classifying responses with [`DefaultClassifier`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use async_breaker::tower::CircuitBreakerService;
    /// use async_breaker::CircuitBreaker;
    /// use tower::{service_fn, ServiceExt};
    ///
    /// # futures::executor::block_on(async {
    /// let inner = service_fn(|n: u8| async move { Ok::<_, ()>(n) });
    /// let service = CircuitBreakerService::new(inner, Arc::new(CircuitBreaker::new()));
    /// assert_eq!(service.oneshot(7).await, Ok(7));
    /// # });
    /// ```
    pub fn new(
        inner: S,
        breaker: Arc<CircuitBreaker<C>>,
    ) -> CircuitBreakerService<S, C, DefaultClassifier> {
        CircuitBreakerService {
            inner,
            breaker,
            classifier: DefaultClassifier,
        }
    }
}

impl<S, C, R> CircuitBreakerService<S, C, R> {
    /// Replaces the response classifier; see
    /// [`CircuitBreakerLayer::classify_response`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use async_breaker::tower::CircuitBreakerService;
    /// use async_breaker::{CircuitBreaker, Outcome};
    /// use tower::{service_fn, ServiceExt};
    ///
    /// # futures::executor::block_on(async {
    /// let breaker = Arc::new(CircuitBreaker::builder().failure_threshold(1).build()?);
    /// // Errors from this service are the caller's fault: never count them.
    /// let service = CircuitBreakerService::new(
    ///     service_fn(|_: ()| async { Err::<(), _>("bad request") }),
    ///     Arc::clone(&breaker),
    /// )
    /// .classify_response(|_: &Result<(), &str>| Outcome::Ignore);
    /// let _ = service.oneshot(()).await;
    /// assert!(breaker.is_closed());
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// # }).unwrap();
    /// ```
    pub fn classify_response<F>(self, classifier: F) -> CircuitBreakerService<S, C, F> {
        CircuitBreakerService {
            inner: self.inner,
            breaker: self.breaker,
            classifier,
        }
    }

    /// The breaker this service reports to.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use async_breaker::tower::CircuitBreakerService;
    /// use async_breaker::CircuitBreaker;
    ///
    /// let service = CircuitBreakerService::new((), Arc::new(CircuitBreaker::new()));
    /// assert!(service.breaker().is_closed());
    /// ```
    pub fn breaker(&self) -> &Arc<CircuitBreaker<C>> {
        &self.breaker
    }

    /// The inner service.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use async_breaker::tower::CircuitBreakerService;
    /// use async_breaker::CircuitBreaker;
    ///
    /// let service = CircuitBreakerService::new("inner", Arc::new(CircuitBreaker::new()));
    /// assert_eq!(*service.get_ref(), "inner");
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use async_breaker::tower::CircuitBreakerService;
    /// use async_breaker::CircuitBreaker;
    ///
    /// let mut service = CircuitBreakerService::new(1, Arc::new(CircuitBreaker::new()));
    /// *service.get_mut() += 1;
    /// assert_eq!(*service.get_ref(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use async_breaker::tower::CircuitBreakerService;
    /// use async_breaker::CircuitBreaker;
    ///
    /// let service = CircuitBreakerService::new("inner", Arc::new(CircuitBreaker::new()));
    /// assert_eq!(service.into_inner(), "inner");
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, R, Req> Service<Req> for CircuitBreakerService<S, C, R>
where
    S: Service<Req>,
    R: ClassifyResponse<S::Response, S::Error, C> + Clone,
{
    type Response = S::Response;
    type Error = Error<S::Error>;
    type Future = ResponseFuture<S::Future, C, R>;

    /// Delegates to the inner service. The breaker is not consulted, so no probe slot is
    /// claimed; an inner error is returned as `Error::Inner` and not recorded.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Error::Inner)
    }

    /// Admits the request or rejects it without calling the inner service.
    fn call(&mut self, request: Req) -> Self::Future {
        let permit = match self.breaker.try_acquire_owned() {
            Ok(permit) => permit,
            Err(rejected) => {
                return ResponseFuture {
                    kind: Kind::Rejected {
                        rejected: Some(rejected),
                    },
                };
            }
        };
        let mut permit = Some(permit);
        let inner = &mut self.inner;
        let future = fail_on_unwind(&mut permit, || inner.call(request));
        ResponseFuture {
            kind: Kind::Called {
                future,
                permit,
                classifier: self.classifier.clone(),
            },
        }
    }
}

impl<S: Clone, C, R: Clone> Clone for CircuitBreakerService<S, C, R> {
    fn clone(&self) -> Self {
        CircuitBreakerService {
            inner: self.inner.clone(),
            breaker: Arc::clone(&self.breaker),
            classifier: self.classifier.clone(),
        }
    }
}

impl<S: fmt::Debug, C, R> fmt::Debug for CircuitBreakerService<S, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerService")
            .field("inner", &self.inner)
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}

/// Runs `work`; if it panics, records a failure on the permit before the panic continues.
fn fail_on_unwind<C, T>(permit: &mut Option<OwnedPermit<C>>, work: impl FnOnce() -> T) -> T {
    struct Guard<'p, C> {
        permit: &'p mut Option<OwnedPermit<C>>,
        armed: bool,
    }
    impl<C> Drop for Guard<'_, C> {
        fn drop(&mut self) {
            if self.armed {
                if let Some(permit) = self.permit.take() {
                    permit.failure();
                }
            }
        }
    }
    let mut guard = Guard {
        permit,
        armed: true,
    };
    let out = work();
    guard.armed = false;
    out
}

pin_project! {
    /// The response future of [`CircuitBreakerService`]: resolves to the inner service's
    /// response, [`Error::Inner`] with its error, or [`Error::Open`] if the breaker rejected
    /// the request (then resolving at the first poll, without having called the inner service).
    ///
    /// # Cancel safety
    ///
    /// Dropping it before it completes records nothing: a closed-state request leaves no
    /// trace, and a half-open probe frees its slot so the next request probes. If polling the
    /// inner future panics, the request counts as a failure and the panic continues.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use async_breaker::tower::CircuitBreakerLayer;
    /// use async_breaker::{CircuitBreaker, ManualClock};
    /// use tower::{service_fn, Layer, Service, ServiceExt};
    ///
    /// # futures::executor::block_on(async {
    /// let clock = ManualClock::new();
    /// let breaker = Arc::new(
    ///     CircuitBreaker::builder()
    ///         .failure_threshold(1)
    ///         .recovery_timeout(Duration::from_secs(30))
    ///         .clock(clock.clone())
    ///         .build()?,
    /// );
    /// let mut service = CircuitBreakerLayer::new(Arc::clone(&breaker))
    ///     .layer(service_fn(|fail: bool| async move { if fail { Err(()) } else { Ok(()) } }));
    /// let _ = service.ready().await.unwrap().call(true).await; // opens
    /// clock.advance(Duration::from_secs(30)); // half-open
    ///
    /// let probe = service.ready().await.unwrap().call(false); // claims the probe slot
    /// assert!(service.ready().await.unwrap().call(false).await.unwrap_err().is_open());
    /// drop(probe); // cancelled: nothing recorded, the slot is free again
    /// assert_eq!(service.ready().await.unwrap().call(false).await, Ok(()));
    /// assert!(breaker.is_closed());
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// # }).unwrap();
    /// ```
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct ResponseFuture<F, C, R> {
        #[pin]
        kind: Kind<F, C, R>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, C, R> {
        Rejected {
            rejected: Option<OpenError>,
        },
        Called {
            #[pin]
            future: F,
            // `None` once the outcome is recorded.
            permit: Option<OwnedPermit<C>>,
            classifier: R,
        },
    }
}

impl<F, C, R, T, E> Future for ResponseFuture<F, C, R>
where
    F: Future<Output = Result<T, E>>,
    R: ClassifyResponse<T, E, C>,
{
    type Output = Result<T, Error<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Rejected { rejected } => {
                let rejected = rejected
                    .take()
                    .expect("`ResponseFuture` polled after it completed");
                Poll::Ready(Err(Error::Open(rejected)))
            }
            KindProj::Called {
                future,
                permit,
                classifier,
            } => {
                assert!(
                    permit.is_some(),
                    "`ResponseFuture` polled after it completed"
                );
                let result = match fail_on_unwind(permit, || future.poll(cx)) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(result) => result,
                };
                if let Some(permit) = permit.take() {
                    let outcome = classifier.classify_response(&result, permit.breaker());
                    permit.record_outcome(outcome);
                }
                Poll::Ready(result.map_err(Error::Inner))
            }
        }
    }
}

impl<F, C, R> fmt::Debug for ResponseFuture<F, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stage = match &self.kind {
            Kind::Rejected { rejected: Some(_) } => "rejected",
            Kind::Called {
                permit: Some(permit),
                ..
            } if permit.is_probe() => "probing",
            Kind::Called {
                permit: Some(_), ..
            } => "running",
            _ => "done",
        };
        f.debug_struct("ResponseFuture")
            .field("stage", &stage)
            .finish_non_exhaustive()
    }
}
