//! A plain, single-threaded reference model of the circuit breaker, written from
//! `SEED-SEMANTICS.md` and the crate's documented semantics, with no bit packing.
//!
//! Shared by the proptest differential test (`tests/model_equivalence.rs`) and the fuzz target
//! (`fuzz/fuzz_targets/differential.rs`, which includes this file by path), so there is exactly
//! one model. It depends on nothing but `std`: it does not use the crate's types, so a mistake in
//! the crate cannot leak into the model.
//!
//! What the model says, rule by rule:
//!
//! - **Phases**: closed, open (since `opened_at`), half-open with the probe slot free, and
//!   probing (a probe admitted at `started_at`). `state()` reports open as half-open once the
//!   recovery timeout has elapsed; idle half-open and probing both read as half-open.
//! - **Counting**: a failure in closed adds one (saturating at 65 535); the one that reaches the
//!   threshold opens. A success (or an error the classifier does not match) resets the count to
//!   0. A probe that succeeds closes with count 0; a probe that fails re-opens with count + 1 and
//!   a fresh timer.
//! - **Admission**: closed admits everyone. Open rejects with the milliseconds left until the
//!   recovery timeout, then admits the first caller as the probe. While a probe is in flight every
//!   other caller is rejected with 0 ms remaining, until the probe deadline has passed since the
//!   probe was admitted: then the next caller replaces it as the probe.
//! - **Releasing**: an ignored outcome or a dropped permit records nothing; a probe's frees the
//!   probe slot (idle half-open), so the next caller probes at once.
//! - **Staleness**: explicit counters instead of stamps. Every closed cycle has a number
//!   (`cycle`), every probe admission a number (`probe`). A closed-state permit counts only while
//!   the breaker is still closed in the same cycle; a probe permit counts only while that very
//!   probe is still the one in flight. Anything else is discarded.
//! - **Time**: a reading is the clock's nanoseconds / 1 000 000 (whole milliseconds), capped at
//!   2^42 − 1. Each phase remembers the time recorded by the transition that began it (the probe's
//!   admission time for a closed or idle half-open phase that a probe ended, since neither a
//!   success nor a release reads the clock), and a reading below it is treated as equal to it.
//!   At the cap every timeout counts as elapsed, so nothing can be held for ever.

use std::time::Duration;

/// The largest time the breaker records, in milliseconds.
pub const TIME_MAX_MS: u64 = (1 << 42) - 1;
/// The largest failure count (and so the largest threshold).
pub const COUNT_MAX: u32 = 65_535;

/// The three states readers see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelState {
    /// Every call is admitted.
    Closed,
    /// Calls are rejected until the recovery timeout has elapsed.
    Open,
    /// A probe may be admitted or is in flight.
    HalfOpen,
}

/// Which configuration setting is invalid, as the builder reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadSetting {
    /// Zero or above [`COUNT_MAX`].
    FailureThreshold,
    /// Below 1 ms or above [`TIME_MAX_MS`] ms.
    RecoveryTimeout,
    /// Below 1 ms or above [`TIME_MAX_MS`] ms (the recovery timeout when not set).
    ProbeDeadline,
}

impl BadSetting {
    /// The name of the builder method, as `ConfigError::field` reports it.
    pub fn field(self) -> &'static str {
        match self {
            BadSetting::FailureThreshold => "failure_threshold",
            BadSetting::RecoveryTimeout => "recovery_timeout",
            BadSetting::ProbeDeadline => "probe_deadline",
        }
    }
}

/// Validated settings, in the units the model works in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Consecutive failures that open the breaker.
    pub threshold: u32,
    /// Open period, in whole milliseconds.
    pub recovery_ms: u64,
    /// How long a probe may stay in flight before it is replaced, in whole milliseconds.
    pub probe_deadline_ms: u64,
}

/// A span in milliseconds, a fraction rounded up; `None` below 1 ms or above the time range.
fn span_ms(span: Duration) -> Option<u64> {
    if span.is_zero() || span > Duration::from_millis(TIME_MAX_MS) {
        return None;
    }
    // Within range, so the millisecond count fits a u64 comfortably.
    let ms = u64::try_from(span.as_nanos().div_ceil(1_000_000)).ok()?;
    Some(ms)
}

impl Settings {
    /// Checks the settings the way the builder documents it: the first bad one, in the order
    /// threshold, recovery timeout, probe deadline. An unset probe deadline is the recovery
    /// timeout.
    ///
    /// # Errors
    ///
    /// The first setting out of range.
    pub fn new(
        threshold: u32,
        recovery: Duration,
        probe_deadline: Option<Duration>,
    ) -> Result<Settings, BadSetting> {
        if threshold == 0 || threshold > COUNT_MAX {
            return Err(BadSetting::FailureThreshold);
        }
        let recovery_ms = span_ms(recovery).ok_or(BadSetting::RecoveryTimeout)?;
        let probe_deadline_ms =
            span_ms(probe_deadline.unwrap_or(recovery)).ok_or(BadSetting::ProbeDeadline)?;
        Ok(Settings {
            threshold,
            recovery_ms,
            probe_deadline_ms,
        })
    }
}

/// Which cycle an admitted call belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token {
    /// Admitted while closed, in closed cycle number `cycle`.
    Closed {
        /// The closed cycle that admitted the call.
        cycle: u64,
    },
    /// Admitted as probe number `probe`.
    Probe {
        /// The probe admission this call is.
        probe: u64,
    },
}

impl Token {
    /// Whether this call is the half-open probe.
    pub fn is_probe(self) -> bool {
        matches!(self, Token::Probe { .. })
    }
}

/// What a caller asking to run gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Admitted: as a closed-state call, or as the half-open probe (see [`Token::is_probe`]).
    Admitted(Token),
    /// Turned away.
    Rejected {
        /// `Open`, or `HalfOpen` while another caller's probe is in flight.
        state: ModelState,
        /// The failure count at the time.
        failures: u32,
        /// Milliseconds until a probe may be admitted; 0 while a probe is in flight.
        remaining_ms: u64,
    },
}

/// Where in the cycle the breaker is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Closed since `since` (ms): the time the breaker recorded when the phase began.
    Closed { since: u64 },
    /// Open since `opened_at` (ms).
    Open { opened_at: u64 },
    /// Recovery timeout elapsed, probe slot free; recorded time `since` (ms).
    HalfOpen { since: u64 },
    /// Probe number `probe` admitted at `started_at` (ms) and still in flight.
    Probing { started_at: u64, probe: u64 },
}

/// The reference breaker.
#[derive(Clone, Debug)]
pub struct Model {
    settings: Settings,
    phase: Phase,
    failures: u32,
    /// The current (or, while not closed, the last) closed cycle.
    cycle: u64,
    /// How many probes have been admitted so far.
    probes: u64,
    /// When the current (or last) closed cycle began, and when the last probe was admitted.
    /// Used only for the documented limit at the end of the time range: there, a new closed
    /// cycle or probe cannot be told apart from the previous one, so it keeps its number.
    closed_at: u64,
    probe_at: Option<u64>,
}

/// Whole milliseconds of a clock reading in nanoseconds, capped at the time range.
pub fn reading_ms(now_nanos: u64) -> u64 {
    (now_nanos / 1_000_000).min(TIME_MAX_MS)
}

impl Model {
    /// A fresh breaker: closed, no failures, time 0.
    pub fn new(settings: Settings) -> Model {
        Model {
            settings,
            phase: Phase::Closed { since: 0 },
            failures: 0,
            cycle: 0,
            probes: 0,
            closed_at: 0,
            probe_at: None,
        }
    }

    /// The time the current phase was recorded at.
    fn since(&self) -> u64 {
        match self.phase {
            Phase::Closed { since } | Phase::HalfOpen { since } => since,
            Phase::Open { opened_at } => opened_at,
            Phase::Probing { started_at, .. } => started_at,
        }
    }

    /// "Now" for the breaker: the reading in ms, never below the current phase's recorded time.
    fn now(&self, now_nanos: u64) -> u64 {
        reading_ms(now_nanos).max(self.since())
    }

    /// Whether `limit` ms have passed between `from` and `now`; always at the end of time.
    fn elapsed(from: u64, now: u64, limit: u64) -> bool {
        now >= TIME_MAX_MS || now - from >= limit
    }

    fn admit_probe(&mut self, now: u64) -> Decision {
        // Documented limit: at the end of the time range a new probe is indistinguishable from
        // the previous one.
        if !(now == TIME_MAX_MS && self.probe_at == Some(TIME_MAX_MS)) {
            self.probes += 1;
        }
        self.probe_at = Some(now);
        self.phase = Phase::Probing {
            started_at: now,
            probe: self.probes,
        };
        Decision::Admitted(Token::Probe { probe: self.probes })
    }

    /// A caller asks to run, the clock reading `now_nanos`.
    pub fn acquire(&mut self, now_nanos: u64) -> Decision {
        let now = self.now(now_nanos);
        match self.phase {
            Phase::Closed { .. } => Decision::Admitted(Token::Closed { cycle: self.cycle }),
            Phase::Open { opened_at } => {
                if Self::elapsed(opened_at, now, self.settings.recovery_ms) {
                    self.admit_probe(now)
                } else {
                    Decision::Rejected {
                        state: ModelState::Open,
                        failures: self.failures,
                        remaining_ms: self.settings.recovery_ms - (now - opened_at),
                    }
                }
            }
            Phase::HalfOpen { .. } => self.admit_probe(now),
            Phase::Probing { started_at, .. } => {
                if Self::elapsed(started_at, now, self.settings.probe_deadline_ms) {
                    // The probe is presumed lost; this caller replaces it.
                    self.admit_probe(now)
                } else {
                    Decision::Rejected {
                        state: ModelState::HalfOpen,
                        failures: self.failures,
                        remaining_ms: 0,
                    }
                }
            }
        }
    }

    /// Whether `token` still belongs to the breaker's current cycle.
    fn current(&self, token: Token) -> bool {
        match (token, self.phase) {
            (Token::Closed { cycle }, Phase::Closed { .. }) => cycle == self.cycle,
            (Token::Probe { probe }, Phase::Probing { probe: current, .. }) => probe == current,
            _ => false,
        }
    }

    /// The call admitted with `token` succeeded (or failed with an error that does not count).
    /// Returns whether the outcome counted.
    pub fn success(&mut self, token: Token) -> bool {
        if !self.current(token) {
            return false;
        }
        self.failures = 0;
        if let Phase::Probing { started_at, .. } = self.phase {
            // Documented limit: at the end of the time range a new closed cycle is
            // indistinguishable from the previous one.
            if !(started_at == TIME_MAX_MS && self.closed_at == TIME_MAX_MS) {
                self.cycle += 1;
            }
            self.closed_at = started_at;
            self.phase = Phase::Closed { since: started_at };
        }
        true
    }

    /// The call admitted with `token` failed, the clock reading `now_nanos`. Returns whether the
    /// outcome counted.
    pub fn failure(&mut self, token: Token, now_nanos: u64) -> bool {
        if !self.current(token) {
            return false;
        }
        self.failures = self.failures.saturating_add(1).min(COUNT_MAX);
        let opens = token.is_probe() || self.failures >= self.settings.threshold;
        if opens {
            self.phase = Phase::Open {
                opened_at: self.now(now_nanos),
            };
        }
        true
    }

    /// The call admitted with `token` ended with no outcome (ignored, dropped). Returns whether
    /// the release applied to the current cycle.
    pub fn release(&mut self, token: Token) -> bool {
        if !self.current(token) {
            return false;
        }
        if let Phase::Probing { started_at, .. } = self.phase {
            self.phase = Phase::HalfOpen { since: started_at };
        }
        true
    }

    /// The state readers see at `now_nanos`.
    pub fn state(&self, now_nanos: u64) -> ModelState {
        match self.phase {
            Phase::Closed { .. } => ModelState::Closed,
            Phase::Open { .. } if self.open_remaining_ms(now_nanos) > 0 => ModelState::Open,
            Phase::Open { .. } | Phase::HalfOpen { .. } | Phase::Probing { .. } => {
                ModelState::HalfOpen
            }
        }
    }

    /// The consecutive-failure count.
    pub fn failure_count(&self) -> u32 {
        self.failures
    }

    /// Milliseconds until an open breaker admits a probe; 0 unless open.
    pub fn open_remaining_ms(&self, now_nanos: u64) -> u64 {
        match self.phase {
            Phase::Open { opened_at } => {
                let now = self.now(now_nanos);
                if Self::elapsed(opened_at, now, self.settings.recovery_ms) {
                    0
                } else {
                    self.settings.recovery_ms - (now - opened_at)
                }
            }
            _ => 0,
        }
    }
}
