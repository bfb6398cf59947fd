//! The subscriber thread: listens on the namespace's channel and hands every payload to the
//! agent. It never interprets a message itself (the agent parses and counts), and it reconnects
//! with backoff when the server goes away.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use redis::Client;

use crate::agent::Input;
use crate::link::{connect, FIRST_BACKOFF};
use crate::stats::Counters;
use crate::view::MAX_MESSAGE;

/// How often a blocked read wakes up to check for shutdown.
const WAKE: Duration = Duration::from_millis(100);

pub(crate) struct Subscriber {
    pub(crate) client: Client,
    pub(crate) channel: String,
    pub(crate) timeout: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) to_agent: Sender<Input>,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) counters: Arc<Counters>,
}

impl Subscriber {
    pub(crate) fn run(self) {
        let mut backoff = FIRST_BACKOFF;
        while !self.stop.load(Relaxed) {
            match self.listen() {
                Ok(()) => return,
                Err(e) => {
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

    /// Sleeps in short slices so shutdown is never delayed by a long backoff.
    fn sleep(&self, total: Duration) {
        let mut left = total;
        while !left.is_zero() && !self.stop.load(Relaxed) {
            let step = left.min(WAKE);
            std::thread::sleep(step);
            left -= step;
        }
    }

    /// Subscribes and forwards messages until shutdown (`Ok`) or a connection error.
    fn listen(&self) -> redis::RedisResult<()> {
        let mut con = connect(&self.client, self.timeout)?;
        let mut pubsub = con.as_pubsub();
        pubsub.subscribe(&self.channel)?;
        pubsub.set_read_timeout(Some(WAKE))?;
        self.counters.subscribed.store(true, Relaxed);
        if self.to_agent.send(Input::Subscribed).is_err() {
            return Ok(());
        }
        loop {
            if self.stop.load(Relaxed) {
                return Ok(());
            }
            match pubsub.get_message() {
                Ok(msg) => {
                    // Never copy more than the parser accepts: a longer payload is still
                    // recognised (and counted) as oversized.
                    let bytes = msg.get_payload_bytes();
                    let payload = bytes[..bytes.len().min(MAX_MESSAGE + 1)].to_vec();
                    if self.to_agent.send(Input::Message(payload)).is_err() {
                        return Ok(());
                    }
                }
                Err(e) if e.is_timeout() => {}
                Err(e) => return Err(e),
            }
        }
    }
}
