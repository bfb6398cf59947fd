//! The bell: one waker slot per breaker, rung when the breaker changes, so that a coordinator
//! (see [`Remote::register_waker`](crate::remote::Remote::register_waker)) can sleep instead of
//! polling the word.
//!
//! `futures-core` keeps its `AtomicWaker` in a `#[doc(hidden)]` module, but `futures-util`
//! re-exports that very type publicly as `futures_util::task::AtomicWaker` (every futures-util
//! 0.3 accepts any later futures-core 0.3), so it cannot go within 0.3 without breaking
//! futures-util: stable in practice. It needs no `std` and
//! no allocation.
//!
//! Why no wake-up is lost: a ring and a registration are read-modify-writes of the one atomic
//! state of the `AtomicWaker` (release and acquire), so they are ordered. A ring after the
//! registration wakes the waker; a ring before it publishes what the ringing caller wrote first
//! (the word, or the demand flag even though that is written `Relaxed`) to the coordinator,
//! which reads the breaker only after registering. So ring *after* the change it announces.
//!
//! Under `--cfg async_breaker_loom` the bell is loom's model of the same type instead, so the
//! loom models check the wake-up protocol too.

use core::task::Waker;

#[cfg(not(async_breaker_loom))]
use futures_core::task::__internal::AtomicWaker;
#[cfg(async_breaker_loom)]
use loom::future::AtomicWaker;

/// At most one registered waker, woken (and forgotten) by the next [`ring`](Bell::ring).
pub(crate) struct Bell(AtomicWaker);

impl Bell {
    /// A bell with no waker.
    pub(crate) fn new() -> Bell {
        Bell(AtomicWaker::new())
    }

    /// Registers `waker` for the next ring, replacing any waker registered before.
    pub(crate) fn register(&self, waker: &Waker) {
        #[cfg(not(async_breaker_loom))]
        self.0.register(waker);
        #[cfg(async_breaker_loom)]
        self.0.register_by_ref(waker);
    }

    /// Wakes the registered waker, if there is one; it is then no longer registered.
    pub(crate) fn ring(&self) {
        self.0.wake();
    }
}

#[cfg(all(test, not(async_breaker_loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counter() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (Arc::clone(&count), Waker::from(count))
    }

    fn wakes(count: &Count) -> usize {
        count.0.load(Ordering::SeqCst)
    }

    #[test]
    fn a_ring_wakes_the_last_registered_waker_once() {
        let bell = Bell::new();
        bell.ring(); // nobody registered: nothing to wake, nothing kept
        let (first, waker) = counter();
        bell.register(&waker);
        let (second, waker) = counter();
        bell.register(&waker);
        bell.ring();
        bell.ring();
        assert_eq!((wakes(&first), wakes(&second)), (0, 1));
        bell.register(&waker);
        bell.ring();
        assert_eq!(wakes(&second), 2);
    }
}
