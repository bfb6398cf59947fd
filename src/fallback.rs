//! [`Fallback`]: a guarded future that runs a fallback instead of failing when rejected.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::classify::Classify;
use crate::error::{Error, OpenError};
use crate::future::Circuit;
use crate::permit::BreakerHandle;

pin_project! {
    /// A guarded future with a fallback for rejections; made by [`Circuit::fallback`] or
    /// [`Circuit::fallback_value`]. Resolves to the inner future's `Result<T, E>` when the call
    /// ran, or to the fallback's when the breaker rejected it.
    ///
    /// # Cancel safety
    ///
    /// As for [`Circuit`]: dropping it records nothing and frees a probe slot.
    ///
    /// ```
    /// use async_breaker::{CircuitBreaker, CircuitExt};
    /// # futures::executor::block_on(async {
    /// let breaker = CircuitBreaker::new();
    /// let n = async { Ok::<u8, ()>(1) }.circuit(&breaker).fallback_value(0).await;
    /// assert_eq!(n, Ok(1));
    /// # });
    /// ```
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Fallback<F, B: BreakerHandle, G, R> {
        #[pin]
        state: FallbackState<F, B, G, R>,
    }
}

pin_project! {
    #[project = FallbackProj]
    enum FallbackState<F, B: BreakerHandle, G, R> {
        Guarded { #[pin] guarded: Circuit<F, B>, fallback: Option<G> },
        Fallback { #[pin] fallback: R },
    }
}

impl<F, B: BreakerHandle, G, R> Fallback<F, B, G, R> {
    pub(crate) fn new(guarded: Circuit<F, B>, fallback: G) -> Fallback<F, B, G, R> {
        Fallback {
            state: FallbackState::Guarded {
                guarded,
                fallback: Some(fallback),
            },
        }
    }
}

impl<F, B, G, R, T, E> Future for Fallback<F, B, G, R>
where
    F: Future<Output = Result<T, E>>,
    B: BreakerHandle,
    B::Classifier: Classify<E>,
    G: FnOnce(OpenError) -> R,
    R: Future<Output = Result<T, E>>,
{
    type Output = Result<T, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match self.as_mut().project().state.project() {
                FallbackProj::Guarded { guarded, fallback } => {
                    let rejected = match guarded.poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(value)) => return Poll::Ready(Ok(value)),
                        Poll::Ready(Err(Error::Inner(e))) => return Poll::Ready(Err(e)),
                        Poll::Ready(Err(Error::Open(rejected))) => rejected,
                    };
                    let Some(fallback) = fallback.take() else {
                        panic!("`Fallback` polled after it completed");
                    };
                    let next = fallback(rejected);
                    self.as_mut()
                        .project()
                        .state
                        .set(FallbackState::Fallback { fallback: next });
                }
                FallbackProj::Fallback { fallback } => return fallback.poll(cx),
            }
        }
    }
}

impl<F, B: BreakerHandle, G, R> core::fmt::Debug for Fallback<F, B, G, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Fallback").finish_non_exhaustive()
    }
}
