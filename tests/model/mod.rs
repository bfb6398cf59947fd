//! A plain, single-threaded reference model of the circuit breaker, written from
//! `SEED-SEMANTICS.md` and the crate's documented semantics, with no bit packing.
//!
//! Shared by the proptest differential test (`tests/model_equivalence.rs`) and the fuzz targets
//! (`fuzz/fuzz_targets/differential.rs` and `config.rs`, which include this file by path), so
//! there is exactly one model. It depends on nothing but `std`: it does not use the crate's types,
//! so a mistake in the crate cannot leak into the model.
//!
//! What the model says, rule by rule:
//!
//! - **Phases**: closed, open (since `opened_at`), half-open with the probe slot free, probing (a
//!   probe round begun at `started_at`), forced open, disabled, and held by a coordinator (see
//!   below). `state()` reports open as
//!   half-open once the open period has elapsed; idle half-open and probing both read as
//!   half-open.
//! - **Counting**: a failure in closed adds one (saturating at 65 535); without a failure-rate
//!   window the one that reaches the threshold opens. A success (or an error the classifier does
//!   not match) resets the count to 0. A probe round that collects its successes closes with
//!   count 0; a probe that fails re-opens with count + 1, a fresh timer and one backoff level up.
//! - **Admission**: closed and disabled admit everyone; forced open rejects everyone (0 ms
//!   remaining). Open rejects with the milliseconds left of the open period, then admits the first
//!   caller as the probe. While a probe round is in flight, callers are admitted while the round
//!   has a place (one place by default) and rejected with 0 ms remaining otherwise, until the
//!   probe deadline has passed since the round began: then the next caller begins a new round.
//! - **Releasing**: an ignored outcome or a dropped permit records nothing; the single probe's
//!   frees the probe slot (idle half-open), one of several probes' frees its place in the round.
//! - **Manual control**: force open, disable and reset each begin a new cycle (outcomes of calls
//!   admitted before are discarded) at `max(now, recorded time + 1 ms)`; forcing open or
//!   disabling a breaker already in that phase changes nothing, a reset always begins a new
//!   closed cycle (count 0, base open period, empty failure-rate window). Disabled records
//!   nothing at all.
//! - **Open period**: `recovery * 2^level`, capped at the backoff maximum (the recovery timeout
//!   without backoff), the level an explicit counter (0..=7) raised by each failed probe and
//!   cleared by closing. With jitter the period is shortened by the documented amount:
//!   `period - splitmix64(opened_at ^ (level << 56)) % (period / 2 + 1)`.
//! - **Slow calls**: a success reported at least the threshold after the call was admitted (raw
//!   clock milliseconds, both readings) is a failure.
//! - **Failure rate**: a plain list of counted closed-state outcomes with the raw millisecond they
//!   were recorded at (and whether each failed, and whether it was slow). Count-based: the last
//!   `n` (up to 1 024) of the current closed cycle (the window starts
//!   empty in each cycle, except that two cycles whose stamps agree in the low 26 bits, with no
//!   outcome in between, cannot be told apart: a documented limit). Time-based: those in the last
//!   `buckets` whole buckets of `window / buckets` ms, counting only buckets after the one holding
//!   the current cycle's stamp (all of them in the first cycle, stamped 0); the buckets form a
//!   ring, so an outcome takes its ring slot from any other bucket there. After each outcome, at
//!   least `min_calls` outcomes with at least `percent` % failures opens the breaker. An outcome
//!   whose failure has just opened the breaker by the consecutive count (possible only with a
//!   slow-call rate and no failure rate) is still filed (a count-based window drops it if the
//!   window belongs to another cycle) but opens nothing.
//! - **Slow-call rate**: a call is slow when its outcome (success or failure, not ignored) is
//!   reported at least the rate's threshold after it was admitted (raw milliseconds). Over the
//!   failure rate's window, or without one the last 100 calls with a minimum of 100; at least
//!   `min_calls` outcomes with at least its `percent` % slow opens the breaker. A slow success is
//!   still a success (unless the slow-call threshold makes it a failure).
//! - **Staleness**: explicit counters instead of stamps. Every closed cycle has a number
//!   (`cycle`), every probe round a number (`probes`). A closed-state permit counts only while the
//!   breaker is still closed in the same cycle; a probe permit counts only while its round is
//!   still the one in flight. Anything else is discarded.
//! - **Remote coordination** (`breaker.remote()`): a sixth phase, *held* (since `since`, the
//!   fleet's open period reported as ending at `until`). A breaker forced open or disabled by hand
//!   ignores every remote operation. *Hold* (from any other phase; also renews a hold) holds it at
//!   backoff level `min(level, 7)` with the fleet's remaining time in whole milliseconds (a
//!   fraction dropped), capped at the open period at that level (no jitter). *Grant* (only from
//!   held) frees the probe slot: idle half-open. *Revoke* (only while the breaker is still exactly
//!   the granted word: same phase, recorded time, count and level, so no probe is in flight)
//!   holds it again with the fleet's period over. *Close* (from any phase but closed) begins a new
//!   closed cycle as a reset does. *Release* (only from held) opens for a full local open period
//!   from now if the fleet's period was still running, else frees the probe slot. Each remote
//!   transition is recorded at `max(now, recorded time + 1 ms)`, as a manual one, so outcomes of
//!   calls admitted before it are discarded. Held rejects every caller with the fleet's time left
//!   (state open while some is left, half-open once none is), and reads so; once it has gone
//!   unrenewed for its open period (at its level, no jitter) plus the probe deadline, the next
//!   caller begins a probe round as from an open breaker whose time has run out. At the end of
//!   the time range the fleet's period counts as over, like every other timeout.
//!   `snapshot()` reports the phase before time is taken into account (open stays open after its
//!   period), the state, the count, the level and the time left as the readers do, and a cycle
//!   identity that changes exactly when the phase or its recorded time does. A granted slot is
//!   half-open but remembers that it was granted: a revoke names it only as granted, and a probe
//!   claimed and dropped since leaves a plain half-open slot.
//! - **Why a hold** (the hold's note): every hold is for a reason (`hold` is for `Sync`); the
//!   reason replaces the note, except that `Sync` keeps the note of a breaker already held
//!   (granted included). A rejection by a held breaker reports no failures and the note, a
//!   quorum's counts capped at 255 each.
//! - **Demand**: a caller rejected by a held breaker with none of the fleet's time left sets
//!   a flag; a hold with time left (whole milliseconds, after the cap) and every close (applied
//!   or not) clear it; `take_demand()` returns it and clears it.
//! - **Reports**: a transition is reported whenever the reported state changes, with its
//!   cause: the state readers see, before time is taken into account, except that held and
//!   granted both report open (a grant, and a revoke of an unclaimed grant, report nothing; the
//!   caller that claims a granted slot reports open -> half-open). Causes: calls for admission
//!   and outcomes, manual for force open, disable and reset, the coordinator's reason for its
//!   operations (`Sync` for `hold`, `close` and a revoke, `Released` for a release).
//! - **Time**: a reading is the clock's nanoseconds / 1 000 000 (whole milliseconds), capped at
//!   2^42 − 1. Each phase remembers the time recorded by the transition that began it (the probe
//!   round's start for a closed or idle half-open phase that a probe ended, since neither a
//!   success nor a release reads the clock), and a reading below it is treated as equal to it.
//!   At the cap every timeout counts as elapsed, so nothing can be held for ever; there a new
//!   closed cycle or probe round cannot be told apart from the previous one (documented limit).

pub mod bridge;

use std::time::Duration;

/// The largest time the breaker records, in milliseconds.
pub const TIME_MAX_MS: u64 = (1 << 42) - 1;
/// The largest failure count (and so the largest threshold).
pub const COUNT_MAX: u32 = 65_535;
/// The highest backoff level: the open period doubles at most seven times.
pub const LEVEL_MAX: u32 = 7;
/// The longest count-based failure-rate window.
pub const WINDOW_CALLS_MAX: u32 = 1_024;
/// The most buckets of a time-based failure-rate window.
pub const WINDOW_BUCKETS_MAX: u32 = 64;
/// The most probes a half-open round may admit.
pub const PROBES_MAX: u32 = 2_047;

/// The states readers see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelState {
    /// Every call is admitted.
    Closed,
    /// Calls are rejected until the open period has elapsed.
    Open,
    /// A probe may be admitted or is in flight.
    HalfOpen,
    /// Forced open by hand: every call is rejected until reset.
    ForcedOpen,
    /// Disabled by hand: every call is admitted, nothing recorded, until reset.
    Disabled,
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
    /// Not `1 <= successes <= probes <= PROBES_MAX`.
    HalfOpen,
    /// A percentage outside 1–100, zero minimum calls, a count window outside 1–1 024 calls, or a
    /// time window outside 1–64 buckets that does not split into whole milliseconds.
    FailureRate,
    /// A maximum below the recovery timeout or above [`TIME_MAX_MS`] ms.
    Backoff,
    /// Below 1 ms or above [`TIME_MAX_MS`] ms.
    SlowCallThreshold,
    /// A threshold below 1 ms or above [`TIME_MAX_MS`] ms, or a percentage outside 1–100.
    SlowCallRate,
}

impl BadSetting {
    /// The name of the builder method, as `ConfigError::field` reports it.
    pub fn field(self) -> &'static str {
        match self {
            BadSetting::FailureThreshold => "failure_threshold",
            BadSetting::RecoveryTimeout => "recovery_timeout",
            BadSetting::ProbeDeadline => "probe_deadline",
            BadSetting::HalfOpen => "half_open",
            BadSetting::FailureRate => "failure_rate",
            BadSetting::Backoff => "backoff",
            BadSetting::SlowCallThreshold => "slow_call_threshold",
            BadSetting::SlowCallRate => "slow_call_rate",
        }
    }
}

/// A failure-rate window as given to the builder (unvalidated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rate {
    /// `FailureRate::last_calls(calls, min_calls, percent)`.
    LastCalls {
        /// Window length in calls.
        calls: u32,
        /// Calls needed before the rate is judged.
        min_calls: u32,
        /// Failure percentage that opens.
        percent: u8,
    },
    /// `FailureRate::last(window, buckets, min_calls, percent)`.
    Last {
        /// Window length in time.
        window: Duration,
        /// Slices of the window.
        buckets: u32,
        /// Calls needed before the rate is judged.
        min_calls: u32,
        /// Failure percentage that opens.
        percent: u8,
    },
}

/// The optional settings, as given to the builder (unvalidated). `Default` is none of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `probe_deadline`.
    pub probe_deadline: Option<Duration>,
    /// `backoff(Backoff::exponential(max))`, `.with_jitter()` when the flag is set.
    pub backoff: Option<(Duration, bool)>,
    /// `slow_call_threshold`.
    pub slow_call_threshold: Option<Duration>,
    /// `slow_call_rate(threshold, percent)`.
    pub slow_call_rate: Option<(Duration, u8)>,
    /// `failure_rate`.
    pub failure_rate: Option<Rate>,
    /// `half_open(HalfOpen::probes(probes).closing_after(successes))`.
    pub half_open: Option<(u32, u32)>,
}

/// A validated failure-rate window, in the model's units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// The last `n` counted outcomes.
    Calls(u32),
    /// The outcomes in the last `buckets` buckets of `bucket_ms` each.
    Time {
        /// Length of one bucket.
        bucket_ms: u64,
        /// Buckets in the window.
        buckets: u32,
    },
}

/// Validated settings, in the units the model works in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Consecutive failures that open the breaker (unused with a failure-rate window).
    pub threshold: u32,
    /// Base open period, in whole milliseconds.
    pub recovery_ms: u64,
    /// How long a probe round may stay in flight before it is replaced, in whole milliseconds.
    pub probe_deadline_ms: u64,
    /// The longest open period; equal to `recovery_ms` without backoff.
    pub backoff_max_ms: u64,
    /// Whether open periods are jittered.
    pub jitter: bool,
    /// Slow-call threshold in whole milliseconds, if detection is on.
    pub slow_call_ms: Option<u64>,
    /// The rate window, if any (a failure rate's, or the slow-call rate's default), with its
    /// minimum calls.
    pub window: Option<(Window, u32)>,
    /// The failure rate's percentage, if a failure rate is set.
    pub failure_percent: Option<u32>,
    /// The slow-call rate's threshold in whole milliseconds and its percentage, if one is set.
    pub slow_rate: Option<(u64, u32)>,
    /// Probes admitted per half-open round.
    pub probes: u32,
    /// Successes that close a round.
    pub successes: u32,
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

/// Checks a failure-rate window the way `ConfigError::FailureRate` documents it.
fn window(rate: Rate) -> Option<(Window, u32, u32)> {
    let (kind, min_calls, percent) = match rate {
        Rate::LastCalls {
            calls,
            min_calls,
            percent,
        } => {
            if !(1..=WINDOW_CALLS_MAX).contains(&calls) {
                return None;
            }
            // Implementation-defined, not documented: a minimum above the window's length is
            // treated as the window's length (a full window is judged).
            (Window::Calls(calls), min_calls.min(calls), percent)
        }
        Rate::Last {
            window,
            buckets,
            min_calls,
            percent,
        } => {
            if !(1..=WINDOW_BUCKETS_MAX).contains(&buckets) {
                return None;
            }
            // "splits into whole milliseconds": every bucket a whole, non-zero number of ms.
            let bucket_nanos = u128::from(buckets) * 1_000_000;
            if window.is_zero() || window.as_nanos() % bucket_nanos != 0 {
                return None;
            }
            // No longer than the breaker's time range (documented with `ConfigError::FailureRate`).
            let window_ms = u64::try_from(window.as_millis()).ok()?;
            if window_ms > TIME_MAX_MS {
                return None;
            }
            let bucket_ms = window_ms / u64::from(buckets);
            (Window::Time { bucket_ms, buckets }, min_calls, percent)
        }
    };
    if percent == 0 || percent > 100 || min_calls == 0 {
        return None;
    }
    Some((kind, min_calls, u32::from(percent)))
}

impl Settings {
    /// Checks the settings the way the builder documents them, and reports the first bad one in
    /// the order the builder checks them: threshold, recovery timeout, probe deadline, half-open
    /// probes, failure rate, backoff, slow-call threshold, slow-call rate. An unset probe deadline
    /// is the recovery timeout.
    ///
    /// # Errors
    ///
    /// The first setting out of range.
    pub fn with(
        threshold: u32,
        recovery: Duration,
        options: &Options,
    ) -> Result<Settings, BadSetting> {
        if threshold == 0 || threshold > COUNT_MAX {
            return Err(BadSetting::FailureThreshold);
        }
        let recovery_ms = span_ms(recovery).ok_or(BadSetting::RecoveryTimeout)?;
        let probe_deadline_ms =
            span_ms(options.probe_deadline.unwrap_or(recovery)).ok_or(BadSetting::ProbeDeadline)?;
        let (probes, successes) = options.half_open.unwrap_or((1, 1));
        if !(1 <= successes && successes <= probes && probes <= PROBES_MAX) {
            return Err(BadSetting::HalfOpen);
        }
        let window = match options.failure_rate {
            None => None,
            Some(rate) => Some(window(rate).ok_or(BadSetting::FailureRate)?),
        };
        let (backoff_max_ms, jitter) = match options.backoff {
            None => (recovery_ms, false),
            Some((max, jitter)) => {
                let max_ms = span_ms(max)
                    .filter(|&ms| ms >= recovery_ms)
                    .ok_or(BadSetting::Backoff)?;
                (max_ms, jitter)
            }
        };
        let slow_call_ms = match options.slow_call_threshold {
            None => None,
            Some(threshold) => Some(span_ms(threshold).ok_or(BadSetting::SlowCallThreshold)?),
        };
        let slow_rate = match options.slow_call_rate {
            None => None,
            Some((threshold, percent)) => {
                let ms = span_ms(threshold)
                    .filter(|_| (1..=100).contains(&percent))
                    .ok_or(BadSetting::SlowCallRate)?;
                Some((ms, u32::from(percent)))
            }
        };
        // Without a failure rate, a slow-call rate is judged over the last 100 calls, once 100
        // have finished (documented with `slow_call_rate`).
        let failure_percent = window.map(|(_, _, percent)| percent);
        let window = match (window, slow_rate) {
            (Some((kind, min_calls, _)), _) => Some((kind, min_calls)),
            (None, Some(_)) => Some((Window::Calls(100), 100)),
            (None, None) => None,
        };
        Ok(Settings {
            threshold,
            recovery_ms,
            probe_deadline_ms,
            backoff_max_ms,
            jitter,
            slow_call_ms,
            window,
            failure_percent,
            slow_rate,
            probes,
            successes,
        })
    }

    /// Whether half-open rounds admit more than one probe.
    pub fn multi_probe(&self) -> bool {
        (self.probes, self.successes) != (1, 1)
    }
}

/// Which cycle an admitted call belongs to, and when it was admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token {
    /// Admitted while closed, in closed cycle number `cycle`.
    Closed {
        /// The closed cycle that admitted the call.
        cycle: u64,
        /// The raw clock reading at admission, in ms.
        started_ms: u64,
    },
    /// Admitted as a probe of round number `probe`.
    Probe {
        /// The probe round this call belongs to.
        probe: u64,
        /// The raw clock reading at admission, in ms.
        started_ms: u64,
    },
    /// Admitted while disabled: its outcome is never recorded.
    Disabled,
}

impl Token {
    /// Whether this call is a half-open probe.
    pub fn is_probe(self) -> bool {
        matches!(self, Token::Probe { .. })
    }

    fn started_ms(self) -> Option<u64> {
        match self {
            Token::Closed { started_ms, .. } | Token::Probe { started_ms, .. } => Some(started_ms),
            Token::Disabled => None,
        }
    }
}

/// Why a coordinator holds or moves the breaker (`async_breaker::Reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelReason {
    /// `tripped` of `live` replicas tripped.
    Quorum {
        /// Replicas tripped.
        tripped: u16,
        /// Replicas alive.
        live: u16,
    },
    /// Failures counted across the fleet.
    Counted,
    /// The fleet's probe.
    Probe,
    /// Following the shared state.
    Sync,
    /// The coordinator let go.
    Released,
}

impl ModelReason {
    /// As a rejection reports it: a quorum's counts capped at 255.
    pub fn in_rejection(self) -> ModelReason {
        match self {
            ModelReason::Quorum { tripped, live } => ModelReason::Quorum {
                tripped: tripped.min(255),
                live: live.min(255),
            },
            other => other,
        }
    }
}

/// Why a transition happened (`async_breaker::Cause`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelCause {
    /// Admission and outcomes.
    Calls,
    /// Force open, disable, reset.
    Manual,
    /// A coordinator, for its reason.
    Remote(ModelReason),
}

/// One reported transition: the states before and after, the count after, and the cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reported {
    /// The state before.
    pub from: ModelState,
    /// The state after.
    pub to: ModelState,
    /// The consecutive-failure count after.
    pub failures: u32,
    /// Why.
    pub cause: ModelCause,
}

/// What a caller asking to run gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Admitted: as a closed-state call, a probe (see [`Token::is_probe`]) or while disabled.
    Admitted(Token),
    /// Turned away.
    Rejected {
        /// `Open`, `HalfOpen` while a full probe round is in flight, or `ForcedOpen`; held: `Open`
        /// while the fleet's period runs, `HalfOpen` after.
        state: ModelState,
        /// The failure count at the time; 0 when held.
        failures: u32,
        /// Milliseconds until a probe may be admitted; 0 unless open (held: the fleet's time).
        remaining_ms: u64,
        /// Held: why (as a rejection reports it).
        held: Option<ModelReason>,
    },
}

/// A manual transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manual {
    /// `force_open()`.
    ForceOpen,
    /// `disable()`.
    Disable,
    /// `reset()`.
    Reset,
}

/// The phase a coordinator sees in a snapshot (`remote::Phase`): where the breaker is, before
/// time is taken into account (an open breaker whose period has run out is still `Open`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelPhase {
    /// Closed.
    Closed,
    /// Open on its own timer.
    Open,
    /// Held open by a coordinator.
    Held,
    /// Idle half-open: the probe slot is free.
    HalfOpen,
    /// A probe round is in flight.
    Probing,
    /// Forced open by hand.
    ForcedOpen,
    /// Disabled by hand.
    Disabled,
}

/// What `remote().snapshot()` (and every remote transition that applies) reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelSnapshot {
    /// The phase.
    pub phase: ModelPhase,
    /// The state readers see.
    pub state: ModelState,
    /// The consecutive-failure count.
    pub failures: u32,
    /// The backoff level, `0..=7`.
    pub level: u32,
    /// Milliseconds left of the open period (the local one, or the fleet's while held).
    pub remaining_ms: u64,
    /// The time the phase was recorded at: with the phase, the cycle's identity.
    pub since: u64,
    /// Whether a half-open slot was granted by the coordinator (and not claimed since). A
    /// snapshot of the real breaker does not show it; a revoke compares it.
    pub granted: bool,
}

impl ModelSnapshot {
    /// The identity of the cycle: two snapshots agree on it exactly when no transition happened
    /// in between (`Snapshot::cycle`).
    pub fn cycle_id(&self) -> (ModelPhase, u64) {
        (self.phase, self.since)
    }

    /// Everything the breaker is, as opposed to how it reads at some time: what a revoke must
    /// find unchanged.
    fn word(&self) -> (ModelPhase, u64, u32, u32, bool) {
        (
            self.phase,
            self.since,
            self.failures,
            self.level,
            self.granted,
        )
    }
}

/// Where in the cycle the breaker is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Closed since `since` (ms): the time the breaker recorded when the phase began (the same
    /// as `closed_at`).
    Closed { since: u64 },
    /// Open since `opened_at` (ms).
    Open { opened_at: u64 },
    /// Open period elapsed, (single) probe slot free; recorded time `since` (ms); `granted` by
    /// a coordinator (and so still reported open) or not.
    HalfOpen { since: u64, granted: bool },
    /// Probe round number `probe` begun at `started_at` (ms) and still in flight.
    Probing { started_at: u64, probe: u64 },
    /// Forced open by hand since `since`.
    ForcedOpen { since: u64 },
    /// Disabled by hand since `since`.
    Disabled { since: u64 },
    /// Held by a coordinator since `since` (ms); the fleet's open period ends at `until` (ms).
    Held { since: u64, until: u64 },
}

/// One counted closed-state outcome, for the failure-rate window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counted {
    at_ms: u64,
    failed: bool,
    slow: bool,
}

/// The low bits of a cycle's stamp that tell count-based windows apart (documented limit).
const CALLS_TAG_BITS: u32 = 26;

/// The reference breaker.
#[derive(Clone, Debug)]
pub struct Model {
    settings: Settings,
    phase: Phase,
    failures: u32,
    /// The backoff level: failed probes since the breaker last closed, at most [`LEVEL_MAX`].
    level: u32,
    /// The current (or, while not closed, the last) closed cycle.
    cycle: u64,
    /// How many probe rounds have begun so far; the current round's number.
    probes: u64,
    /// Probes admitted to, and successes counted in, round number `probes`.
    admitted: u32,
    succeeded: u32,
    /// When the current (or last) closed cycle began, and when the last probe round began.
    /// Used only for the documented limit at the end of the time range: there, a new closed
    /// cycle or probe round cannot be told apart from the previous one, so it keeps its number
    /// (and a probe round its counts).
    closed_at: u64,
    probe_at: Option<u64>,
    /// The failure-rate window's outcomes, oldest first.
    outcomes: Vec<Counted>,
    /// The closed cycle (number, stamp) the count-based window's outcomes belong to.
    window_cycle: (u64, u64),
    /// Why the breaker is held, as the coordinator last said.
    note: ModelReason,
    /// Whether a caller was rejected by a held breaker with none of the fleet's time left since
    /// the flag was last taken.
    demand: bool,
    /// The state last reported, and every transition reported so far.
    reported: ModelState,
    log: Vec<Reported>,
}

/// Whole milliseconds of a clock reading in nanoseconds, capped at the time range.
pub fn reading_ms(now_nanos: u64) -> u64 {
    raw_ms(now_nanos).min(TIME_MAX_MS)
}

/// Whole milliseconds of a clock reading in nanoseconds, uncapped: what slow-call detection and
/// the time-based window compare.
pub fn raw_ms(now_nanos: u64) -> u64 {
    now_nanos / 1_000_000
}

/// The finaliser of `SplitMix64`, as the jitter contract documents it.
pub fn splitmix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Model {
    /// A fresh breaker: closed, no failures, time 0.
    pub fn new(settings: Settings) -> Model {
        Model {
            settings,
            phase: Phase::Closed { since: 0 },
            failures: 0,
            level: 0,
            cycle: 0,
            probes: 0,
            admitted: 0,
            succeeded: 0,
            closed_at: 0,
            probe_at: None,
            outcomes: Vec::new(),
            window_cycle: (0, 0),
            note: ModelReason::Sync,
            demand: false,
            reported: ModelState::Closed,
            log: Vec::new(),
        }
    }

    /// Every transition reported so far, oldest first.
    pub fn transitions(&self) -> &[Reported] {
        &self.log
    }

    /// The state reports take the breaker to be in: the state before time is taken into
    /// account, held and granted reporting open.
    fn reporting_state(&self) -> ModelState {
        match self.phase {
            Phase::Closed { .. } => ModelState::Closed,
            Phase::Open { .. } | Phase::Held { .. } | Phase::HalfOpen { granted: true, .. } => {
                ModelState::Open
            }
            Phase::HalfOpen { granted: false, .. } | Phase::Probing { .. } => ModelState::HalfOpen,
            Phase::ForcedOpen { .. } => ModelState::ForcedOpen,
            Phase::Disabled { .. } => ModelState::Disabled,
        }
    }

    /// Reports a transition for `cause` if the reported state changed.
    fn report(&mut self, cause: ModelCause) {
        let to = self.reporting_state();
        if to != self.reported {
            self.log.push(Reported {
                from: self.reported,
                to,
                failures: self.failures,
                cause,
            });
            self.reported = to;
        }
    }

    /// The time the current phase was recorded at.
    fn since(&self) -> u64 {
        match self.phase {
            Phase::Closed { since }
            | Phase::HalfOpen { since, .. }
            | Phase::ForcedOpen { since }
            | Phase::Disabled { since }
            | Phase::Held { since, .. } => since,
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

    /// The open period of a breaker that opened at `opened_at` at the current backoff level.
    pub fn open_period_ms(&self, opened_at: u64) -> u64 {
        let s = &self.settings;
        let period = self.base_period_ms(self.level);
        if s.jitter {
            let mixed = splitmix64(opened_at ^ (u64::from(self.level) << 56));
            period - mixed % (period / 2 + 1)
        } else {
            period
        }
    }

    /// The open period at backoff `level`, without jitter.
    fn base_period_ms(&self, level: u32) -> u64 {
        let s = &self.settings;
        let grown = s.recovery_ms.saturating_mul(1 << level);
        grown.min(s.backoff_max_ms.max(s.recovery_ms))
    }

    /// How long a hold lasts unrenewed: its open period (at the current level, no jitter) plus
    /// the probe deadline.
    fn hold_limit_ms(&self) -> u64 {
        self.base_period_ms(self.level)
            .saturating_add(self.settings.probe_deadline_ms)
    }

    /// Milliseconds left at `now` (ms, not below the hold's recorded time) of a fleet open period
    /// that ends at `until`; none at the end of the time range.
    fn held_remaining(until: u64, now: u64) -> u64 {
        if now >= TIME_MAX_MS {
            0
        } else {
            until.saturating_sub(now)
        }
    }

    /// The state a held breaker with `remaining_ms` of the fleet's period left reads as.
    fn held_state(remaining_ms: u64) -> ModelState {
        if remaining_ms > 0 {
            ModelState::Open
        } else {
            ModelState::HalfOpen
        }
    }

    /// Whether the next caller, at `now_nanos`, would begin a probe round that cannot be told
    /// apart from the previous one (the end of time) while that round has no place left. The
    /// model rejects that caller; the harnesses use this to guard a call that might not return.
    pub fn rejoins_full_round(&self, now_nanos: u64) -> bool {
        if !self.settings.multi_probe() || self.probe_at != Some(TIME_MAX_MS) {
            return false;
        }
        let now = self.now(now_nanos);
        let begins = match self.phase {
            Phase::Open { opened_at } => {
                Self::elapsed(opened_at, now, self.open_period_ms(opened_at))
            }
            Phase::HalfOpen { .. } => true,
            Phase::Probing { started_at, .. } => {
                Self::elapsed(started_at, now, self.settings.probe_deadline_ms)
            }
            Phase::Held { since, .. } => Self::elapsed(since, now, self.hold_limit_ms()),
            _ => false,
        };
        begins && now == TIME_MAX_MS && self.admitted >= self.settings.probes
    }

    /// Begins a probe round at `now` and admits the caller to it.
    fn begin_round(&mut self, now: u64, started_ms: u64) -> Decision {
        // Documented limit: at the end of the time range a new round is indistinguishable from
        // the previous one, so it keeps the previous round's number and counts.
        if !(now == TIME_MAX_MS && self.probe_at == Some(TIME_MAX_MS)) {
            self.probes += 1;
            self.admitted = 0;
            self.succeeded = 0;
        }
        self.probe_at = Some(now);
        self.phase = Phase::Probing {
            started_at: now,
            probe: self.probes,
        };
        self.join_round(started_ms)
    }

    /// Admits the caller to the current round if it has a place.
    fn join_round(&mut self, started_ms: u64) -> Decision {
        if self.settings.multi_probe() {
            if self.admitted >= self.settings.probes {
                return Decision::Rejected {
                    state: ModelState::HalfOpen,
                    failures: self.failures,
                    remaining_ms: 0,
                    held: None,
                };
            }
            self.admitted += 1;
        }
        Decision::Admitted(Token::Probe {
            probe: self.probes,
            started_ms,
        })
    }

    /// A caller asks to run, the clock reading `now_nanos`.
    pub fn acquire(&mut self, now_nanos: u64) -> Decision {
        let decision = self.decide(now_nanos);
        self.report(ModelCause::Calls);
        decision
    }

    fn decide(&mut self, now_nanos: u64) -> Decision {
        let now = self.now(now_nanos);
        let started_ms = raw_ms(now_nanos);
        match self.phase {
            Phase::Closed { .. } => Decision::Admitted(Token::Closed {
                cycle: self.cycle,
                started_ms,
            }),
            Phase::Disabled { .. } => Decision::Admitted(Token::Disabled),
            Phase::ForcedOpen { .. } => Decision::Rejected {
                state: ModelState::ForcedOpen,
                failures: self.failures,
                remaining_ms: 0,
                held: None,
            },
            Phase::Open { opened_at } => {
                let period = self.open_period_ms(opened_at);
                if Self::elapsed(opened_at, now, period) {
                    self.begin_round(now, started_ms)
                } else {
                    Decision::Rejected {
                        state: ModelState::Open,
                        failures: self.failures,
                        remaining_ms: period - (now - opened_at),
                        held: None,
                    }
                }
            }
            Phase::HalfOpen { .. } => self.begin_round(now, started_ms),
            Phase::Held { since, until } => {
                if Self::elapsed(since, now, self.hold_limit_ms()) {
                    // The coordinator stopped renewing: a local probe, as from open.
                    self.begin_round(now, started_ms)
                } else {
                    let remaining_ms = Self::held_remaining(until, now);
                    if remaining_ms == 0 {
                        self.demand = true;
                    }
                    Decision::Rejected {
                        state: Self::held_state(remaining_ms),
                        failures: 0,
                        remaining_ms,
                        held: Some(self.note.in_rejection()),
                    }
                }
            }
            Phase::Probing { started_at, .. } => {
                if Self::elapsed(started_at, now, self.settings.probe_deadline_ms) {
                    // The round is presumed lost; this caller begins a new one.
                    self.begin_round(now, started_ms)
                } else if self.settings.multi_probe() {
                    self.join_round(started_ms)
                } else {
                    Decision::Rejected {
                        state: ModelState::HalfOpen,
                        failures: self.failures,
                        remaining_ms: 0,
                        held: None,
                    }
                }
            }
        }
    }

    /// Whether `token` still belongs to the breaker's current cycle.
    fn current(&self, token: Token) -> bool {
        match (token, self.phase) {
            (Token::Closed { cycle, .. }, Phase::Closed { .. }) => cycle == self.cycle,
            (Token::Probe { probe, .. }, Phase::Probing { probe: current, .. }) => probe == current,
            _ => false,
        }
    }

    /// Closes after a successful probe round begun at `started_at`.
    fn close(&mut self, started_at: u64) {
        // Documented limit: at the end of the time range a new closed cycle is
        // indistinguishable from the previous one.
        if !(started_at == TIME_MAX_MS && self.closed_at == TIME_MAX_MS) {
            self.cycle += 1;
        }
        self.closed_at = started_at;
        self.phase = Phase::Closed { since: started_at };
        self.failures = 0;
        self.level = 0;
    }

    /// The call admitted with `token` succeeded (or failed with an error that does not count),
    /// the clock reading `now_nanos`. A slow success is a failure. Returns whether the outcome
    /// counted.
    pub fn success(&mut self, token: Token, now_nanos: u64) -> bool {
        let counted = self.succeed(token, now_nanos);
        self.report(ModelCause::Calls);
        counted
    }

    fn succeed(&mut self, token: Token, now_nanos: u64) -> bool {
        if let (Some(slow_ms), Some(started_ms)) = (self.settings.slow_call_ms, token.started_ms())
        {
            if raw_ms(now_nanos).saturating_sub(started_ms) >= slow_ms {
                return self.failure(token, now_nanos);
            }
        }
        if !self.current(token) {
            return false;
        }
        if let Phase::Probing { started_at, .. } = self.phase {
            if self.settings.multi_probe() {
                self.succeeded += 1;
                if self.succeeded >= self.settings.successes {
                    self.close(started_at);
                }
            } else {
                self.close(started_at);
            }
        } else {
            self.failures = 0;
            let slow = self.slow(token, now_nanos);
            self.count(false, slow, now_nanos, true);
        }
        true
    }

    /// The call admitted with `token` failed, the clock reading `now_nanos`. Returns whether the
    /// outcome counted.
    pub fn failure(&mut self, token: Token, now_nanos: u64) -> bool {
        let counted = self.fail(token, now_nanos);
        self.report(ModelCause::Calls);
        counted
    }

    fn fail(&mut self, token: Token, now_nanos: u64) -> bool {
        if !self.current(token) {
            return false;
        }
        self.failures = self.failures.saturating_add(1).min(COUNT_MAX);
        if token.is_probe() {
            self.level = (self.level + 1).min(LEVEL_MAX);
            self.open(now_nanos);
        } else {
            // Without a failure rate the consecutive count opens (a slow-call rate alone
            // leaves it in charge of failures).
            let by_count = self.settings.failure_percent.is_none();
            let opened = by_count && self.failures >= self.settings.threshold;
            if opened {
                self.open(now_nanos);
            }
            let slow = self.slow(token, now_nanos);
            self.count(true, slow, now_nanos, !opened);
        }
        true
    }

    /// Whether the call admitted with `token` and ending at `now_nanos` counts as slow for the
    /// slow-call rate.
    fn slow(&self, token: Token, now_nanos: u64) -> bool {
        match (self.settings.slow_rate, token.started_ms()) {
            (Some((ms, _)), Some(started_ms)) => raw_ms(now_nanos).saturating_sub(started_ms) >= ms,
            _ => false,
        }
    }

    fn open(&mut self, now_nanos: u64) {
        self.phase = Phase::Open {
            opened_at: self.now(now_nanos),
        };
    }

    /// Adds a counted closed-state outcome to the rate window, if there is one, and opens if a
    /// rate calls for it. `current`: whether the outcome's cycle is still the current one (it is
    /// not when its own failure has just opened the breaker by the consecutive count).
    fn count(&mut self, failed: bool, slow_call: bool, now_nanos: u64, current: bool) {
        let Some((window, min_calls)) = self.settings.window else {
            return;
        };
        let at_ms = raw_ms(now_nanos);
        // The stamp of the closed cycle the outcome belongs to.
        let stamp = self.closed_at;
        let counted = Counted {
            at_ms,
            failed,
            slow: slow_call,
        };
        let inside: Vec<Counted> = match window {
            Window::Calls(n) => {
                let (cycle, tag) = self.window_cycle;
                let mask = (1 << CALLS_TAG_BITS) - 1;
                if cycle != self.cycle && tag & mask != stamp & mask {
                    if !current {
                        // The window belongs to another cycle and this one is over: dropped.
                        return;
                    }
                    self.outcomes.clear();
                }
                self.window_cycle = (self.cycle, stamp);
                self.outcomes.push(counted);
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                if self.outcomes.len() > n {
                    self.outcomes.drain(..self.outcomes.len() - n);
                }
                self.outcomes.clone()
            }
            Window::Time { bucket_ms, buckets } => {
                // Bucket numbers are kept modulo 2^32 (documented): a bucket 2^32 buckets old is
                // indistinguishable from a current one.
                const WRAP: u64 = 1 << 32;
                let lap = u64::from(buckets);
                let bucket = at_ms / bucket_ms;
                let slot = |b: u64| (b % WRAP) % lap;
                // The buckets form a ring: an outcome takes its bucket's place in the ring from
                // any other bucket there (only ever a bucket outside the window, unless the clock
                // stepped back).
                self.outcomes.retain(|o| {
                    let other = o.at_ms / bucket_ms;
                    other % WRAP == bucket % WRAP || slot(other) != slot(bucket)
                });
                self.outcomes.push(counted);
                // The cycle counts the buckets after the one holding its stamp (all of them in
                // the first cycle, stamped 0; none yet if the stamp is ahead of the reading).
                let began = if stamp == 0 {
                    u64::MAX
                } else {
                    bucket.saturating_sub(stamp / bucket_ms)
                };
                self.outcomes
                    .iter()
                    .filter(|o| {
                        let age = (bucket % WRAP + WRAP - (o.at_ms / bucket_ms) % WRAP) % WRAP;
                        age < lap && age < began
                    })
                    .copied()
                    .collect()
            }
        };
        if !current {
            return;
        }
        let calls = inside.len() as u64;
        let reaches = |hits: usize, percent: u32| hits as u64 * 100 >= u64::from(percent) * calls;
        let failures = inside.iter().filter(|o| o.failed).count();
        let slows = inside.iter().filter(|o| o.slow).count();
        let trips = calls >= u64::from(min_calls)
            && (self
                .settings
                .failure_percent
                .is_some_and(|percent| reaches(failures, percent))
                || self
                    .settings
                    .slow_rate
                    .is_some_and(|(_, percent)| reaches(slows, percent)));
        if trips {
            self.open(now_nanos);
        }
    }

    /// The call admitted with `token` ended with no outcome (ignored, dropped). Returns whether
    /// the release applied to the current cycle.
    pub fn release(&mut self, token: Token) -> bool {
        if !self.current(token) {
            return false;
        }
        if let Phase::Probing { started_at, .. } = self.phase {
            if self.settings.multi_probe() {
                self.admitted = self.admitted.saturating_sub(1);
            } else {
                self.phase = Phase::HalfOpen {
                    since: started_at,
                    granted: false,
                };
            }
        }
        // Freeing the slot keeps the state half-open: nothing to report.
        true
    }

    /// `force_open()`, `disable()` or `reset()`, the clock reading `now_nanos`.
    pub fn manual(&mut self, to: Manual, now_nanos: u64) {
        if let (Manual::ForceOpen, Phase::ForcedOpen { .. })
        | (Manual::Disable, Phase::Disabled { .. }) = (to, self.phase)
        {
            return;
        }
        let since = self.next_since(now_nanos);
        match to {
            Manual::ForceOpen => self.phase = Phase::ForcedOpen { since },
            Manual::Disable => self.phase = Phase::Disabled { since },
            Manual::Reset => self.begin_closed(since),
        }
        self.report(ModelCause::Manual);
    }

    /// The time a manual or remote transition at `now_nanos` records: a new cycle, never
    /// earlier than the current phase's, `max(now, recorded time + 1 ms)`.
    fn next_since(&self, now_nanos: u64) -> u64 {
        reading_ms(now_nanos)
            .max(self.since().saturating_add(1))
            .min(TIME_MAX_MS)
    }

    /// A new closed cycle recorded at `since`, with count 0 and the base open period, begun by
    /// hand or by a coordinator.
    fn begin_closed(&mut self, since: u64) {
        // Documented limit, as for closing: at the end of time the new cycle is
        // indistinguishable from the previous closed one.
        if !(since == TIME_MAX_MS && self.closed_at == TIME_MAX_MS) {
            self.cycle += 1;
        }
        self.closed_at = since;
        self.phase = Phase::Closed { since };
        self.failures = 0;
        self.level = 0;
    }

    /// Whether the breaker is under manual control, which every remote operation leaves alone.
    fn manual_control(&self) -> bool {
        matches!(
            self.phase,
            Phase::ForcedOpen { .. } | Phase::Disabled { .. }
        )
    }

    /// `remote().hold_because(remaining, level, reason)` at `now_nanos` (`hold` is for
    /// `Sync`).
    pub fn hold(
        &mut self,
        remaining: Duration,
        level: u8,
        reason: ModelReason,
        now_nanos: u64,
    ) -> Option<ModelSnapshot> {
        // Implementation-defined, not documented: a fraction of a millisecond is dropped.
        let remaining_ms = u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX);
        let held = self.hold_for(remaining_ms, level, reason, now_nanos);
        if remaining_ms > 0 {
            // A new open period of the fleet: no caller has asked for its probe yet.
            self.demand = false;
        }
        held
    }

    fn hold_for(
        &mut self,
        remaining_ms: u64,
        level: u8,
        reason: ModelReason,
        now_nanos: u64,
    ) -> Option<ModelSnapshot> {
        if self.manual_control() {
            return None;
        }
        let renewal = matches!(
            self.phase,
            Phase::Held { .. } | Phase::HalfOpen { granted: true, .. }
        );
        if reason != ModelReason::Sync || !renewal {
            self.note = reason;
        }
        let since = self.next_since(now_nanos);
        self.level = u32::from(level).min(LEVEL_MAX);
        let until = since.saturating_add(remaining_ms.min(self.base_period_ms(self.level)));
        self.phase = Phase::Held { since, until };
        self.report(ModelCause::Remote(reason));
        Some(self.snapshot(now_nanos))
    }

    /// `remote().grant_probe()` at `now_nanos`.
    pub fn grant(&mut self, now_nanos: u64) -> Option<ModelSnapshot> {
        if !matches!(self.phase, Phase::Held { .. }) {
            return None;
        }
        let since = self.next_since(now_nanos);
        self.phase = Phase::HalfOpen {
            since,
            granted: true,
        };
        // Still reported open: nothing to report, whatever the cause.
        self.report(ModelCause::Remote(ModelReason::Sync));
        Some(self.snapshot(now_nanos))
    }

    /// `remote().revoke_probe(granted)` at `now_nanos`: whether it revoked.
    pub fn revoke(&mut self, granted: &ModelSnapshot, now_nanos: u64) -> bool {
        let current = self.snapshot(now_nanos);
        if self.manual_control()
            || current.phase != ModelPhase::HalfOpen
            || current.word() != granted.word()
        {
            return false;
        }
        let since = self.next_since(now_nanos);
        // Held again, with the fleet's open period over (and the note it had).
        self.phase = Phase::Held { since, until: 0 };
        self.report(ModelCause::Remote(ModelReason::Sync));
        true
    }

    /// `remote().close_because(reason)` at `now_nanos` (`close` is for `Sync`).
    pub fn close_remotely(&mut self, reason: ModelReason, now_nanos: u64) -> Option<ModelSnapshot> {
        self.demand = false;
        if self.manual_control() || matches!(self.phase, Phase::Closed { .. }) {
            return None;
        }
        let since = self.next_since(now_nanos);
        self.begin_closed(since);
        self.report(ModelCause::Remote(reason));
        Some(self.snapshot(now_nanos))
    }

    /// `remote().take_demand()`.
    pub fn take_demand(&mut self) -> bool {
        std::mem::take(&mut self.demand)
    }

    /// `remote().release()` at `now_nanos`.
    pub fn release_hold(&mut self, now_nanos: u64) -> Option<ModelSnapshot> {
        let Phase::Held { until, .. } = self.phase else {
            return None;
        };
        let fleet_open = Self::held_remaining(until, self.now(now_nanos)) > 0;
        let since = self.next_since(now_nanos);
        self.phase = if fleet_open {
            // A full local open period (at the hold's level), from now.
            Phase::Open { opened_at: since }
        } else {
            Phase::HalfOpen {
                since,
                granted: false,
            }
        };
        self.report(ModelCause::Remote(ModelReason::Released));
        Some(self.snapshot(now_nanos))
    }

    /// `remote().snapshot()` at `now_nanos`.
    pub fn snapshot(&self, now_nanos: u64) -> ModelSnapshot {
        let phase = match self.phase {
            Phase::Closed { .. } => ModelPhase::Closed,
            Phase::Open { .. } => ModelPhase::Open,
            Phase::Held { .. } => ModelPhase::Held,
            Phase::HalfOpen { .. } => ModelPhase::HalfOpen,
            Phase::Probing { .. } => ModelPhase::Probing,
            Phase::ForcedOpen { .. } => ModelPhase::ForcedOpen,
            Phase::Disabled { .. } => ModelPhase::Disabled,
        };
        ModelSnapshot {
            phase,
            state: self.state(now_nanos),
            failures: self.failures,
            level: self.level,
            remaining_ms: self.open_remaining_ms(now_nanos),
            since: self.since(),
            granted: matches!(self.phase, Phase::HalfOpen { granted: true, .. }),
        }
    }

    /// The state readers see at `now_nanos`.
    pub fn state(&self, now_nanos: u64) -> ModelState {
        match self.phase {
            Phase::Closed { .. } => ModelState::Closed,
            Phase::ForcedOpen { .. } => ModelState::ForcedOpen,
            Phase::Disabled { .. } => ModelState::Disabled,
            Phase::Held { until, .. } => {
                Self::held_state(Self::held_remaining(until, self.now(now_nanos)))
            }
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

    /// Milliseconds until an open breaker admits a probe (a held one: of the fleet's open
    /// period); 0 unless open or held.
    pub fn open_remaining_ms(&self, now_nanos: u64) -> u64 {
        match self.phase {
            Phase::Held { until, .. } => Self::held_remaining(until, self.now(now_nanos)),
            Phase::Open { opened_at } => {
                let now = self.now(now_nanos);
                let period = self.open_period_ms(opened_at);
                if Self::elapsed(opened_at, now, period) {
                    0
                } else {
                    period - (now - opened_at)
                }
            }
            _ => 0,
        }
    }
}
