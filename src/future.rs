//! The future combinator: [`CircuitExt`] and the [`Circuit`] future it returns.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::classify::{Classify, ClassifyResult};
use crate::error::{Error, OpenError};
use crate::fallback::Fallback;
use crate::permit::{BreakerHandle, Slot};

/// Guards any future that yields a `Result` with a breaker: `fut.circuit(&breaker)`.
///
/// Works with every executor (tokio, async-std, smol, `futures::executor`, your own): the
/// breaker never needs a timer, a waker or a runtime hook. The handle may be `&CircuitBreaker`,
/// `&Arc<CircuitBreaker>`, or an owned `Arc<CircuitBreaker>` for a `'static` future to spawn.
///
/// ```
/// use std::sync::Arc;
/// use async_breaker::{CircuitBreaker, CircuitExt};
///
/// async fn fetch() -> Result<String, std::io::Error> {
///     Ok("body".into())
/// }
///
/// # futures::executor::block_on(async {
/// let breaker = Arc::new(CircuitBreaker::new());
///
/// // Borrowed: the usual form.
/// let body = fetch().circuit(&breaker).await?;
/// assert_eq!(body, "body");
///
/// // Owned: a 'static future, ready for `tokio::spawn` and friends.
/// let task = fetch().with_breaker(Arc::clone(&breaker));
/// fn assert_static<T: 'static>(_: &T) {}
/// assert_static(&task);
/// assert_eq!(task.await?, "body");
/// # Ok::<(), async_breaker::Error<std::io::Error>>(())
/// # }).unwrap();
/// ```
pub trait CircuitExt: Future + Sized {
    /// Runs this future through the breaker. Admission is decided at the first poll: if the
    /// breaker rejects, the future resolves to [`Error::Open`] without polling the inner
    /// future. Otherwise its `Ok` is recorded as a success and its `Err` as whatever the
    /// breaker's classifier says.
    fn circuit<B: BreakerHandle>(self, breaker: B) -> Circuit<Self, B> {
        Circuit {
            inner: self,
            stage: Stage::Unpolled { handle: breaker },
        }
    }

    /// Another name for [`circuit`](CircuitExt::circuit).
    fn with_breaker<B: BreakerHandle>(self, breaker: B) -> Circuit<Self, B> {
        self.circuit(breaker)
    }
}

impl<F, T, E> CircuitExt for F where F: Future<Output = Result<T, E>> {}

pin_project! {
    /// A future guarded by a breaker; made by [`CircuitExt::circuit`]. Resolves to
    /// `Result<T, Error<E>>`.
    ///
    /// # Cancel safety
    ///
    /// Dropping it before it completes records nothing: a closed-state call leaves no trace,
    /// and a half-open probe frees its slot so the next caller probes. If polling the inner
    /// future panics, the call counts as a failure and the panic continues.
    ///
    /// ```
    /// use async_breaker::{CircuitBreaker, CircuitExt};
    /// # futures::executor::block_on(async {
    /// let breaker = CircuitBreaker::new();
    /// let guarded = async { Ok::<_, ()>(1) }.circuit(&breaker);
    /// drop(guarded); // never polled: never admitted, nothing recorded
    /// assert_eq!(breaker.failure_count(), 0);
    /// # });
    /// ```
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Circuit<F, B: BreakerHandle> {
        #[pin]
        inner: F,
        stage: Stage<B>,
    }
}

enum Stage<B: BreakerHandle> {
    /// Not polled yet: not admitted.
    Unpolled { handle: B },
    /// Admitted; the inner future is running.
    Running(Slot<B>),
    /// Resolved.
    Done,
}

impl<B: BreakerHandle> Stage<B> {
    /// At the first poll, asks the breaker to admit the call; then the admitted call's slot,
    /// or the rejection (the stage is then `Done`). `what` names the future in the panic of a
    /// poll after completion.
    #[inline]
    fn admitted(&mut self, what: &str) -> Result<&mut Slot<B>, OpenError> {
        if let Stage::Unpolled { .. } = self {
            let Stage::Unpolled { handle } = core::mem::replace(self, Stage::Done) else {
                unreachable!()
            };
            let ticket = handle.breaker().admit()?;
            *self = Stage::Running(Slot::new(handle, ticket));
        }
        match self {
            Stage::Running(slot) => Ok(slot),
            _ => panic!("`{what}` polled after it completed"),
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Stage::Unpolled { .. } => "unpolled",
            Stage::Running(slot) if slot.is_probe() => "probing",
            Stage::Running(_) => "running",
            Stage::Done => "done",
        }
    }
}

impl<F, B: BreakerHandle> Circuit<F, B> {
    /// Runs `fallback` instead of the inner future when the breaker rejects the call (the
    /// counterpart of the original's `fallback_function`). The combined future resolves to the
    /// inner future's own `Result<T, E>`, or to the fallback's.
    ///
    /// ```
    /// use async_breaker::{CircuitBreaker, CircuitExt};
    /// # futures::executor::block_on(async {
    /// let breaker = CircuitBreaker::builder().failure_threshold(1).build().unwrap();
    /// let _ = async { Err::<&str, _>("down") }.circuit(&breaker).await;
    ///
    /// let answer = async { Ok::<_, ()>("live") }
    ///     .circuit(&breaker)
    ///     .fallback(|rejected| async move {
    ///         assert!(rejected.to_string().contains("is open"));
    ///         Ok("cached")
    ///     })
    ///     .await;
    /// assert_eq!(answer, Ok("cached"));
    /// # });
    /// ```
    pub fn fallback<G, R>(self, fallback: G) -> Fallback<F, B, G, R>
    where
        G: FnOnce(OpenError) -> R,
    {
        Fallback::new(self, fallback)
    }

    /// Resolves to `Ok(value)` instead of a rejection.
    ///
    /// ```
    /// use async_breaker::{CircuitBreaker, CircuitExt};
    /// # futures::executor::block_on(async {
    /// let breaker = CircuitBreaker::builder().failure_threshold(1).build().unwrap();
    /// let _ = async { Err::<u32, _>("down") }.circuit(&breaker).await;
    /// let n = async { Ok::<u32, &str>(7) }.circuit(&breaker).fallback_value(0).await;
    /// assert_eq!(n, Ok(0));
    /// # });
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn fallback_value<T, E>(
        self,
        value: T,
    ) -> Fallback<
        F,
        B,
        impl FnOnce(OpenError) -> core::future::Ready<Result<T, E>>,
        core::future::Ready<Result<T, E>>,
    >
    where
        F: Future<Output = Result<T, E>>,
    {
        self.fallback(move |_| core::future::ready(Ok(value)))
    }

    /// Classifies this call's whole `Result` with `classifier` instead of the breaker's error
    /// classifier: for calls that report the dependency's trouble inside an `Ok`, such as an
    /// HTTP client's `Ok(response)` with a 503. `classifier` is any [`ClassifyResult`]: a
    /// closure `Fn(&Result<T, E>) -> Outcome` (annotate its parameter's type) or, with the
    /// `http` feature, an `HttpClassifier`.
    ///
    /// Only what is recorded changes: the future still resolves to the call's own `Ok` or
    /// `Err` (in [`Error::Inner`]), or to [`Error::Open`] when the breaker rejects it, and
    /// admission and cancel safety are those of [`Circuit`]. A plain `Circuit` never pays for
    /// this: the classifier lives only in the [`Classified`] future this returns.
    ///
    /// ```
    /// use async_breaker::{CircuitBreaker, CircuitExt, Outcome};
    ///
    /// /// A client that answers with a status code even when the server is in trouble.
    /// async fn get(status: u16) -> Result<u16, std::io::Error> {
    ///     Ok(status)
    /// }
    ///
    /// # futures::executor::block_on(async {
    /// let breaker = CircuitBreaker::builder().failure_threshold(1).build()?;
    /// let server_trouble = |r: &Result<u16, std::io::Error>| match r {
    ///     Ok(500..) | Err(_) => Outcome::Failure,
    ///     Ok(_) => Outcome::Success,
    /// };
    ///
    /// assert_eq!(get(404).circuit(&breaker).classify(server_trouble).await?, 404);
    /// assert!(breaker.is_closed()); // a 4xx: the server answered
    /// assert_eq!(get(503).circuit(&breaker).classify(server_trouble).await?, 503);
    /// assert!(breaker.is_open()); // the caller still got its 503, and the breaker counted it
    /// assert!(get(200).circuit(&breaker).classify(server_trouble).await.unwrap_err().is_open());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn classify<K>(self, classifier: K) -> Classified<F, B, K> {
        Classified {
            inner: self.inner,
            stage: self.stage,
            classifier,
        }
    }
}

impl<F, B, T, E> Future for Circuit<F, B>
where
    F: Future<Output = Result<T, E>>,
    B: BreakerHandle,
    B::Classifier: Classify<E>,
{
    type Output = Result<T, Error<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let slot = match this.stage.admitted("Circuit") {
            Ok(slot) => slot,
            Err(rejected) => return Poll::Ready(Err(Error::Open(rejected))),
        };
        let inner = this.inner;
        let result = match slot.run(|| inner.poll(cx)) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => result,
        };
        slot.finish(&result);
        *this.stage = Stage::Done;
        Poll::Ready(result.map_err(Error::Inner))
    }
}

impl<F, B> futures_core::FusedFuture for Circuit<F, B>
where
    Circuit<F, B>: Future,
    B: BreakerHandle,
{
    fn is_terminated(&self) -> bool {
        matches!(self.stage, Stage::Done)
    }
}

impl<F, B: BreakerHandle> core::fmt::Debug for Circuit<F, B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Circuit")
            .field("stage", &self.stage.describe())
            .finish_non_exhaustive()
    }
}

pin_project! {
    /// A guarded future whose whole `Result` is classified by its own [`ClassifyResult`];
    /// made by [`Circuit::classify`]. Resolves to `Result<T, Error<E>>`, like [`Circuit`].
    ///
    /// # Cancel safety
    ///
    /// As for [`Circuit`]: dropping it before it completes records nothing and frees a
    /// half-open probe's slot. If polling the inner future, or the classifier, panics, the call
    /// counts as a failure and the panic continues.
    ///
    /// ```
    /// use async_breaker::{CircuitBreaker, CircuitExt, Outcome};
    /// # futures::executor::block_on(async {
    /// let breaker = CircuitBreaker::builder().failure_threshold(1).build()?;
    /// let guarded = async { Ok::<u8, ()>(0) }
    ///     .circuit(&breaker)
    ///     .classify(|_: &Result<u8, ()>| Outcome::Failure);
    /// assert_eq!(format!("{guarded:?}"), r#"Classified { stage: "unpolled", .. }"#);
    /// assert_eq!(guarded.await, Ok(0));
    /// assert!(breaker.is_open());
    /// # Ok::<(), async_breaker::ConfigError>(())
    /// # }).unwrap();
    /// ```
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Classified<F, B: BreakerHandle, K> {
        #[pin]
        inner: F,
        stage: Stage<B>,
        classifier: K,
    }
}

impl<F, B, K, T, E> Future for Classified<F, B, K>
where
    F: Future<Output = Result<T, E>>,
    B: BreakerHandle,
    K: ClassifyResult<T, E>,
{
    type Output = Result<T, Error<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let slot = match this.stage.admitted("Classified") {
            Ok(slot) => slot,
            Err(rejected) => return Poll::Ready(Err(Error::Open(rejected))),
        };
        let inner = this.inner;
        let result = match slot.run(|| inner.poll(cx)) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => result,
        };
        let classifier = this.classifier;
        let outcome = slot.run(|| classifier.classify_result(&result));
        slot.settle(outcome);
        *this.stage = Stage::Done;
        Poll::Ready(result.map_err(Error::Inner))
    }
}

impl<F, B, K> futures_core::FusedFuture for Classified<F, B, K>
where
    Classified<F, B, K>: Future,
    B: BreakerHandle,
{
    fn is_terminated(&self) -> bool {
        matches!(self.stage, Stage::Done)
    }
}

impl<F, B: BreakerHandle, K> core::fmt::Debug for Classified<F, B, K> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Classified")
            .field("stage", &self.stage.describe())
            .finish_non_exhaustive()
    }
}
