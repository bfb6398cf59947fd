//! The agent's command connection: every operation has a short timeout, a failure drops the
//! connection, and reconnection attempts back off exponentially up to a cap.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::{Script, Value};

use crate::keys::Keys;
use crate::stats::Counters;
use crate::target::{Con, Target};
use crate::view::{parse_reply, View};

/// The first wait before reconnecting; it doubles up to the configured cap.
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_millis(20);

/// The fleet script: one atomic transition (or read) per invocation.
const LUA: &str = include_str!("lua/fleet.lua");

/// One fleet operation on one breaker.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op {
    /// The authoritative state.
    Read,
    /// A local breaker opened: open the fleet if it is closed.
    Trip { period: Duration, level: u8 },
    /// Add local failures to the closed generation `gen`; open the fleet at `threshold`.
    Count {
        gen: u64,
        failures: u64,
        threshold: u32,
        period: Duration,
    },
    /// The open period is over: try to win the probe lease.
    Acquire { lease: Duration },
    /// Keep the lease won at `gen`.
    Renew { gen: u64, lease: Duration },
    /// The probe under the lease won at `gen` finished.
    Result {
        gen: u64,
        success: bool,
        period: Duration,
        level: u8,
    },
    /// Give the lease won at `gen` back unused.
    Revoke { gen: u64 },
    /// This replica's breaker recovered by itself: withdraw its trip vote.
    Withdraw,
}

/// What every script is told besides its operation: who runs it, and the fleet's rules.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    pub(crate) replica: String,
    /// A replica that ran no script for this long is no longer live.
    pub(crate) expiry: Duration,
    pub(crate) quorum: crate::Quorum,
    pub(crate) window: Duration,
    /// How long the last failed prober (or a replica that gave a grant back) waits before it
    /// may win the lease again, so that another replica whose callers want it wins first.
    pub(crate) grace: Duration,
}

impl Op {
    /// The operation's name in the script.
    fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Trip { .. } => "trip",
            Op::Count { .. } => "count",
            Op::Acquire { .. } => "acquire",
            Op::Renew { .. } => "renew",
            Op::Result { .. } => "result",
            Op::Revoke { .. } => "revoke",
            Op::Withdraw => "withdraw",
        }
    }
}

/// Milliseconds, at least 0, at most 2^40.
fn ms0(d: Duration) -> u64 {
    u64::try_from(d.as_millis())
        .unwrap_or(u64::MAX)
        .min(1 << 40)
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, 1 << 40)
}

/// A fresh random epoch candidate: used only if this call creates the breaker's state.
fn epoch_candidate() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

pub(crate) struct Link {
    target: Arc<Target>,
    con: Option<Con>,
    timeout: Duration,
    max_backoff: Duration,
    backoff: Duration,
    next_attempt: Instant,
    /// When the current (or last) connection was made.
    connected_at: Instant,
    ever_connected: bool,
    script: Script,
    channel: String,
    rules: Rules,
    counters: Arc<Counters>,
}

impl Link {
    pub(crate) fn new(
        target: Arc<Target>,
        timeout: Duration,
        max_backoff: Duration,
        channel: String,
        rules: Rules,
        counters: Arc<Counters>,
    ) -> Link {
        Link {
            target,
            con: None,
            timeout,
            max_backoff,
            backoff: FIRST_BACKOFF,
            next_attempt: Instant::now(),
            connected_at: Instant::now(),
            ever_connected: false,
            script: Script::new(LUA),
            channel,
            rules,
            counters,
        }
    }

    pub(crate) fn is_up(&self) -> bool {
        self.con.is_some()
    }

    /// When the next connection attempt may be made.
    pub(crate) fn next_attempt(&self) -> Instant {
        self.next_attempt
    }

    /// Publishes `payload` on `channel`, best effort (used to stop this replica's subscriber).
    pub(crate) fn publish(&mut self, channel: &str, payload: &str) {
        if let Some(con) = self.con.as_mut() {
            let _ = redis::cmd("PUBLISH")
                .arg(channel)
                .arg(payload)
                .exec(con.as_dyn());
        }
    }

    /// Connects if the backoff allows it now. Returns true when a connection was just made.
    pub(crate) fn try_connect(&mut self, now: Instant) -> bool {
        if self.con.is_some() || now < self.next_attempt {
            return false;
        }
        match self.target.command(self.timeout) {
            Ok(con) => {
                self.con = Some(con);
                self.connected_at = now;
                if self.ever_connected {
                    Counters::add(&self.counters.reconnects, 1);
                }
                self.ever_connected = true;
                self.counters.connected.store(true, Relaxed);
                tracing::info!("fleet: connected to the server");
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "fleet: cannot connect to the server");
                self.schedule(now);
                false
            }
        }
    }

    fn schedule(&mut self, now: Instant) {
        self.next_attempt = now + self.backoff;
        self.backoff = (self.backoff * 2).min(self.max_backoff);
    }

    /// Drops the connection: the agent is degraded until `try_connect` succeeds again.
    ///
    /// A connection that served for a while reconnects after the first, short backoff; one
    /// that fails soon after it was made (a Cluster whose slot has no primary during a
    /// failover, a Sentinel naming a primary that is not one yet) keeps backing off, so a
    /// failover costs a few attempts, not fifty a second.
    pub(crate) fn fail(&mut self, now: Instant) {
        if self.con.take().is_some() {
            self.counters.connected.store(false, Relaxed);
            if now.duration_since(self.connected_at) >= self.max_backoff {
                self.backoff = FIRST_BACKOFF;
            }
            self.schedule(now);
        }
    }

    /// Runs one fleet operation. `None` when there is no connection, when the server failed or
    /// timed out (the connection is then dropped), or when the reply was malformed (counted).
    pub(crate) fn run(&mut self, keys: &Keys, name: &str, op: Op) -> Option<View> {
        let con = self.con.as_mut()?;
        let mut inv = self.script.key(&keys.state);
        let (min, permille) = self.rules.quorum.args();
        inv.key(&keys.open)
            .key(&keys.lease)
            .key(&keys.members)
            .key(&keys.votes)
            .key(&keys.counted)
            .arg(epoch_candidate())
            .arg(&self.channel)
            .arg(name)
            .arg(op.name())
            .arg(&self.rules.replica)
            .arg(ms(self.rules.expiry))
            .arg(min)
            .arg(permille)
            .arg(ms(self.rules.window))
            .arg(ms0(self.rules.grace));
        match op {
            Op::Read | Op::Withdraw => &mut inv,
            Op::Trip { period, level } => inv.arg(ms(period)).arg(level),
            Op::Count {
                gen,
                failures,
                threshold,
                period,
            } => inv.arg(gen).arg(failures).arg(threshold).arg(ms(period)),
            Op::Acquire { lease } => inv.arg(ms(lease)),
            Op::Renew { gen, lease } => inv.arg(gen).arg(ms(lease)),
            Op::Result {
                gen,
                success,
                period,
                level,
            } => inv
                .arg(gen)
                .arg(if success { "1" } else { "0" })
                .arg(ms(period))
                .arg(level),
            Op::Revoke { gen } => inv.arg(gen),
        };
        Counters::add(&self.counters.scripts, 1);
        match inv.invoke::<Value>(con.as_dyn()) {
            Ok(reply) => match parse_reply(&reply) {
                Ok(view) => Some(view),
                Err(why) => {
                    Counters::add(&self.counters.malformed, 1);
                    tracing::warn!(
                        breaker = name,
                        why = why.0,
                        "fleet: malformed script reply dropped"
                    );
                    None
                }
            },
            Err(e) => {
                tracing::warn!(breaker = name, error = %e, "fleet: server operation failed; degrading to local breakers");
                self.fail(Instant::now());
                None
            }
        }
    }
}
