//! One attached breaker, whatever its classifier: the agent drives it through the core's
//! remote-control hooks only.

use std::task::Waker;
use std::time::Duration;

use async_breaker::remote::Snapshot;
use async_breaker::{CircuitBreaker, Reason};

/// The core hooks the agent uses, object-safe so breakers of every classifier share one agent.
pub(crate) trait Member: Send + Sync {
    fn name(&self) -> &str;
    fn snapshot(&self) -> Snapshot;
    fn register_waker(&self, waker: &Waker);
    fn hold_because(&self, remaining: Duration, level: u8, reason: Reason) -> Option<Snapshot>;
    fn grant_probe(&self) -> Option<Snapshot>;
    fn revoke_probe(&self, granted: &Snapshot) -> bool;
    fn close_because(&self, reason: Reason) -> Option<Snapshot>;
    fn take_demand(&self) -> bool;
    fn release(&self) -> Option<Snapshot>;
    fn probe_deadline(&self) -> Duration;
    fn recovery_timeout(&self) -> Duration;
    fn failure_threshold(&self) -> u32;
}

impl<C: Send + Sync + 'static> Member for CircuitBreaker<C> {
    fn name(&self) -> &str {
        CircuitBreaker::name(self)
    }
    fn snapshot(&self) -> Snapshot {
        self.remote().snapshot()
    }
    fn register_waker(&self, waker: &Waker) {
        self.remote().register_waker(waker);
    }
    fn hold_because(&self, remaining: Duration, level: u8, reason: Reason) -> Option<Snapshot> {
        self.remote().hold_because(remaining, level, reason)
    }
    fn grant_probe(&self) -> Option<Snapshot> {
        self.remote().grant_probe()
    }
    fn revoke_probe(&self, granted: &Snapshot) -> bool {
        self.remote().revoke_probe(granted)
    }
    fn close_because(&self, reason: Reason) -> Option<Snapshot> {
        self.remote().close_because(reason)
    }
    fn take_demand(&self) -> bool {
        self.remote().take_demand()
    }
    fn release(&self) -> Option<Snapshot> {
        self.remote().release()
    }
    fn probe_deadline(&self) -> Duration {
        CircuitBreaker::probe_deadline(self)
    }
    fn recovery_timeout(&self) -> Duration {
        CircuitBreaker::recovery_timeout(self)
    }
    fn failure_threshold(&self) -> u32 {
        CircuitBreaker::failure_threshold(self)
    }
}
