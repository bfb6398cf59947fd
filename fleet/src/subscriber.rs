//! The subscriber thread: listens on the namespace's channel and hands every payload to the
//! agent. It never interprets a message itself (the agent parses and counts), and it reconnects
//! with backoff when the server goes away.
//!
//! It sleeps in a blocking read. To stop, the agent publishes on this replica's own stop
//! channel; a read that sees nothing wakes once per read timeout (the reconcile interval, at
//! most 5 s) to check for shutdown, and a backoff pause is cut short by an unpark.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use crate::agent::{Inbox, Input};
use crate::link::FIRST_BACKOFF;
use crate::stats::Counters;
use crate::target::Target;
use crate::view::MAX_MESSAGE;

pub(crate) struct Subscriber {
    pub(crate) target: Arc<Target>,
    pub(crate) channel: String,
    /// This replica's own channel: a message on it asks the subscriber to look at `stop`.
    pub(crate) stop_channel: String,
    pub(crate) timeout: Duration,
    /// How long a read waits for a message before it checks for shutdown.
    pub(crate) idle: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) to_agent: Inbox,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) counters: Arc<Counters>,
}

impl Subscriber {
    pub(crate) fn run(self) {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 0;
        while !self.stop.load(Relaxed) {
            match self.listen(attempt) {
                Ok(()) => return,
                Err(e) => {
                    attempt += 1;
                    if self.counters.subscribed.swap(false, Relaxed) {
                        tracing::warn!(error = %e, "fleet: subscriber connection lost");
                        backoff = FIRST_BACKOFF;
                    }
                }
            }
            self.sleep(backoff);
            backoff = (backoff * 2).min(self.max_backoff);
        }
    }

    /// Waits out a backoff; `Fleet::shutdown` unparks this thread to cut it short.
    fn sleep(&self, total: Duration) {
        let until = std::time::Instant::now() + total;
        loop {
            let now = std::time::Instant::now();
            if now >= until || self.stop.load(Relaxed) {
                return;
            }
            std::thread::park_timeout(until - now);
        }
    }

    /// Subscribes and forwards messages until shutdown (`Ok`) or a connection error.
    fn listen(&self, attempt: usize) -> redis::RedisResult<()> {
        let mut con = self.target.channel(self.timeout, attempt)?;
        let mut pubsub = con.as_pubsub();
        pubsub.subscribe(&self.channel)?;
        pubsub.subscribe(&self.stop_channel)?;
        pubsub.set_read_timeout(Some(self.idle))?;
        self.counters.subscribed.store(true, Relaxed);
        if !self.to_agent.send(Input::Subscribed) {
            return Ok(());
        }
        loop {
            if self.stop.load(Relaxed) {
                return Ok(());
            }
            match pubsub.get_message() {
                Ok(msg) if msg.get_channel_name() == self.stop_channel => {}
                Ok(msg) => {
                    // Never copy more than the parser accepts: a longer payload is still
                    // recognised (and counted) as oversized.
                    let bytes = msg.get_payload_bytes();
                    let payload = bytes[..bytes.len().min(MAX_MESSAGE + 1)].to_vec();
                    if !self.to_agent.send(Input::Message(payload)) {
                        return Ok(());
                    }
                }
                Err(e) if e.is_timeout() => {}
                Err(e) => return Err(e),
            }
        }
    }
}
