//! The agent: one OS thread per fleet that watches every attached breaker's state word and
//! turns its local transitions into fleet transitions, and the fleet's transitions (script
//! replies, pub/sub messages, reconciliation reads) into local holds, grants and closes.
//!
//! Nothing here is on a caller's path: callers only ever touch their breaker's word, and the
//! agent changes that word with the core's single compare-exchange hooks.
//!
//! The agent sleeps (`park_timeout`) until there is news: every attached breaker rings the
//! agent's waker when its word changes phase or a caller asks for the fleet's probe, the
//! subscriber and the `Fleet` handle unpark it with each input, and its own timers (reconcile,
//! lease renewal, an unclaimed grant, reconnection, fleet counting) bound the sleep.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use async_breaker::remote::{Coordinated, Phase as Local, Snapshot};
use async_breaker::Reason;

use crate::keys::Keys;
use crate::link::{Link, Op};
use crate::stats::Counters;
use crate::view::{parse_message, Phase as Fleet, View, Why};
use crate::{Membership, Quorum};

/// Each attached breaker's last known membership, shared with the `Fleet` handle.
pub(crate) type Memberships = Arc<Mutex<HashMap<String, Membership>>>;

/// What the agent's thread receives: from the subscriber thread and from the `Fleet` handle.
pub(crate) enum Input {
    /// A raw payload from the channel (parsed and counted by the agent).
    Message(Vec<u8>),
    /// The subscriber (re)connected: messages may have been missed, so reconcile everything.
    Subscribed,
    Attach {
        id: u64,
        member: Arc<dyn Coordinated>,
        #[cfg(feature = "metrics")]
        gauges: Option<crate::export::BreakerGauges>,
    },
    Detach {
        name: String,
        id: Option<u64>,
    },
    Shutdown,
}

/// The way into the agent: every input is queued, then the agent's thread is unparked.
#[derive(Clone)]
pub(crate) struct Inbox {
    tx: Sender<Input>,
    agent: Thread,
}

impl Inbox {
    pub(crate) fn new(tx: Sender<Input>, agent: Thread) -> Inbox {
        Inbox { tx, agent }
    }

    /// Queues `input` and wakes the agent; false once the agent is gone.
    pub(crate) fn send(&self, input: Input) -> bool {
        let sent = self.tx.send(input).is_ok();
        self.agent.unpark();
        sent
    }
}

/// The waker every attached breaker rings: it unparks the agent's thread (no allocation, no
/// lock; a system call only when the agent sleeps).
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// The agent's validated timing settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// With fleet counting, how often a closed breaker with failures is sampled.
    pub(crate) poll: Duration,
    pub(crate) reconcile: Duration,
    pub(crate) lease: Duration,
    pub(crate) counting: bool,
    pub(crate) replica: String,
    pub(crate) namespace: String,
    pub(crate) quorum: Quorum,
    pub(crate) vote_window: Duration,
    /// Report through the metrics facade (feature `metrics`).
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) export: bool,
}

impl Settings {
    fn renew_every(&self) -> Duration {
        self.lease / 3
    }
    /// How long a granted probe may stay unclaimed before the lease goes back to the fleet.
    fn grant_idle(&self) -> Duration {
        self.lease / 2
    }
    /// A replica that ran no script for this long is no longer live: three reconcile
    /// intervals (every attached breaker is read back once per interval).
    pub(crate) fn member_expiry(&self) -> Duration {
        self.reconcile * 3
    }
    /// How long the last failed prober, or a replica that gave a grant back, waits before it may
    /// win the lease again while another replica's callers want it: one reconcile interval.
    pub(crate) fn grace(&self) -> Duration {
        self.reconcile
    }
}

/// The probe lease this replica holds for one breaker.
struct Lease {
    /// The generation the lease was won at (its token on the server is `gen:replica`).
    gen: u64,
    last_renew: Instant,
    /// Since when the granted probe slot has been free (reset while a probe is in flight).
    idle_since: Instant,
}

struct Slot {
    id: u64,
    member: Arc<dyn Coordinated>,
    keys: Keys,
    /// The (epoch, generation) of the newest fleet state applied.
    applied: Option<(String, u64)>,
    /// The fleet's current closed generation, when it is closed (for fleet counting).
    closed_gen: Option<u64>,
    lease: Option<Lease>,
    next_acquire: Instant,
    next_reconcile: Instant,
    /// The cycle of the local open period already published with TRIP.
    tripped_cycle: Option<u64>,
    /// The cycle of the open word that `release` left when the server went away: the fleet's
    /// knowledge, not this replica's own evidence (see `rejoin`).
    released: Option<u64>,
    last_cycle: u64,
    last_failures: u32,
    pending_failures: u64,
    /// This replica's trip is a vote below the quorum: withdrawn when the breaker recovers by
    /// itself.
    voted: bool,
    #[cfg(feature = "metrics")]
    gauges: Option<crate::export::BreakerGauges>,
}

pub(crate) struct Agent {
    settings: Settings,
    link: Link,
    slots: HashMap<String, Slot>,
    counters: Arc<Counters>,
    memberships: Memberships,
    rx: Receiver<Input>,
    /// When every breaker is next read back (see `tick`).
    next_round: Instant,
    /// This replica's own channel: publishing on it at shutdown stops the subscriber at once.
    stop_channel: String,
    #[cfg(feature = "metrics")]
    export: Option<Arc<crate::export::Exported>>,
    #[cfg(feature = "metrics")]
    next_export: Instant,
}

impl Agent {
    pub(crate) fn new(
        settings: Settings,
        link: Link,
        counters: Arc<Counters>,
        memberships: Memberships,
        rx: Receiver<Input>,
    ) -> Agent {
        Agent {
            stop_channel: crate::keys::stop_channel(&settings.namespace, &settings.replica),
            next_round: Instant::now(),
            settings,
            link,
            slots: HashMap::new(),
            counters,
            memberships,
            rx,
            #[cfg(feature = "metrics")]
            export: None,
            #[cfg(feature = "metrics")]
            next_export: Instant::now(),
        }
    }

    /// Reports through these metrics handles (feature `metrics`).
    #[cfg(feature = "metrics")]
    pub(crate) fn exporting(mut self, export: Option<Arc<crate::export::Exported>>) -> Agent {
        self.export = export;
        self
    }

    /// Moves the fleet-wide metrics once per reconcile interval, and at once when the
    /// connection changed.
    #[cfg(feature = "metrics")]
    fn export(&mut self, now: Instant, was_up: bool) {
        let Some(export) = &self.export else {
            return;
        };
        if now >= self.next_export || was_up != self.link.is_up() {
            self.next_export = now + self.settings.reconcile;
            export.update(&self.counters.snapshot());
            let memberships = self
                .memberships
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for (name, slot) in &self.slots {
                if let (Some(gauges), Some(m)) = (&slot.gauges, memberships.get(name)) {
                    gauges.set(*m);
                }
            }
        }
    }

    pub(crate) fn run(mut self) {
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        'run: loop {
            loop {
                match self.rx.try_recv() {
                    Ok(input) => {
                        if !self.handle(input) {
                            break 'run;
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => break 'run,
                }
            }
            // Register before reading any word: a change after this rings, so the sleep below
            // ends at once; a change before it is seen by the step.
            for slot in self.slots.values() {
                slot.member.register_waker(&waker);
            }
            #[cfg(feature = "metrics")]
            let was_up = self.link.is_up();
            let now = Instant::now();
            self.tick(now);
            #[cfg(feature = "metrics")]
            self.export(now, was_up);
            let now = Instant::now();
            let wake_at = self.wake_at(now);
            if wake_at > now {
                std::thread::park_timeout(wake_at - now);
            }
        }
        let names: Vec<String> = self.slots.keys().cloned().collect();
        for name in names {
            self.detach(&name, None);
        }
        self.link.publish(&self.stop_channel, "stop");
    }

    /// The earliest of the agent's own timers; changes of the breakers wake it before.
    fn wake_at(&self, now: Instant) -> Instant {
        let mut at = self.next_round;
        if !self.link.is_up() {
            return at.min(self.link.next_attempt());
        }
        #[cfg(feature = "metrics")]
        if self.export.is_some() {
            at = at.min(self.next_export);
        }
        for slot in self.slots.values() {
            at = at.min(slot.next_reconcile);
            let s = slot.member.snapshot();
            if let Some(lease) = &slot.lease {
                at = at.min(lease.last_renew + self.settings.renew_every());
                if s.phase() == Local::HalfOpen {
                    at = at.min(lease.idle_since + self.settings.grant_idle());
                }
            } else if s.phase() == Local::Held && s.remaining().is_zero() && slot.next_acquire > now
            {
                // Demand that arrives while this replica has to wait stays recorded (and rings
                // no more): look again when the wait is over.
                at = at.min(slot.next_acquire);
            }
            if self.settings.counting
                && s.phase() == Local::Closed
                && (s.failures() > 0 || slot.pending_failures > 0)
            {
                at = at.min(now + self.settings.poll);
            }
        }
        at
    }

    /// Returns false on shutdown.
    fn handle(&mut self, input: Input) -> bool {
        let now = Instant::now();
        match input {
            Input::Message(payload) => self.on_message(&payload, now),
            Input::Subscribed => {
                for slot in self.slots.values_mut() {
                    slot.next_reconcile = now;
                }
            }
            Input::Attach {
                id,
                member,
                #[cfg(feature = "metrics")]
                gauges,
            } => {
                let name = member.name().to_owned();
                let snapshot = member.snapshot();
                let slot = Slot {
                    id,
                    keys: Keys::new(&self.settings.namespace, &name),
                    member,
                    applied: None,
                    closed_gen: None,
                    lease: None,
                    next_acquire: now,
                    next_reconcile: now,
                    tripped_cycle: None,
                    released: None,
                    last_cycle: snapshot.cycle_id(),
                    last_failures: snapshot.failures(),
                    pending_failures: 0,
                    voted: false,
                    #[cfg(feature = "metrics")]
                    gauges,
                };
                self.slots.insert(name, slot);
            }
            Input::Detach { name, id } => self.detach(&name, id),
            Input::Shutdown => return false,
        }
        true
    }

    /// Hands a breaker back to local control: an unclaimed granted probe is taken back and its
    /// lease given to the fleet; a held breaker keeps its remaining open time on its own timer.
    fn detach(&mut self, name: &str, id: Option<u64>) {
        if id.is_some_and(|id| self.slots.get(name).is_some_and(|s| s.id != id)) {
            return;
        }
        let Some(slot) = self.slots.remove(name) else {
            return;
        };
        self.memberships
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
        let s = slot.member.snapshot();
        if let Some(lease) = &slot.lease {
            if s.phase() == Local::HalfOpen && slot.member.revoke_probe(&s) {
                let _ = self
                    .link
                    .run(&slot.keys, name, Op::Revoke { gen: lease.gen });
            }
        }
        slot.member.release();
    }

    fn on_message(&mut self, payload: &[u8], now: Instant) {
        Counters::add(&self.counters.messages, 1);
        let (name, view) = match parse_message(payload) {
            Ok(parsed) => parsed,
            Err(why) => {
                Counters::add(&self.counters.malformed, 1);
                tracing::warn!(
                    why = why.0,
                    len = payload.len(),
                    "fleet: malformed message dropped"
                );
                return;
            }
        };
        if !self.link.is_up() {
            return; // degraded: local breakers; reconnection reconciles
        }
        let Some(slot) = self.slots.get_mut(name) else {
            return;
        };
        match &slot.applied {
            Some((epoch, gen)) if *epoch == view.epoch => {
                if view.gen <= *gen {
                    Counters::add(&self.counters.stale, 1);
                    tracing::debug!(
                        breaker = name,
                        gen = view.gen,
                        applied = gen,
                        "fleet: stale message discarded"
                    );
                    return;
                }
            }
            // A new epoch (the server lost its state) or nothing applied yet: never trust the
            // message blindly, read the authoritative state instead.
            _ => {
                slot.next_reconcile = now;
                return;
            }
        }
        Counters::add(&self.counters.applied, 1);
        apply(slot, &view, &self.settings, now);
    }

    fn tick(&mut self, now: Instant) {
        if !self.link.is_up() {
            if !self.link.try_connect(now) {
                return;
            }
            for slot in self.slots.values_mut() {
                slot.next_reconcile = now;
            }
        }
        // Every breaker is read back in one round per reconcile interval, so an idle agent
        // wakes once per interval however many breakers it has; a breaker read out of turn
        // (attached, a message from another epoch) joins the next round.
        if now >= self.next_round {
            self.next_round = now + self.settings.reconcile;
            for slot in self.slots.values_mut() {
                slot.next_reconcile = now;
            }
        }
        for slot in self.slots.values_mut() {
            let mut ctx = Ctx {
                link: &mut self.link,
                settings: &self.settings,
                counters: &self.counters,
                memberships: &self.memberships,
                next_round: self.next_round,
            };
            ctx.step(slot, now);
            if !self.link.is_up() {
                break;
            }
        }
        if !self.link.is_up() {
            self.degrade();
        }
    }

    /// The server is unreachable: every breaker becomes a plain local breaker at once.
    fn degrade(&mut self) {
        for slot in self.slots.values_mut() {
            slot.released = slot
                .member
                .release()
                .filter(|s| s.phase() == Local::Open)
                .map(|s| s.cycle_id());
            slot.lease = None;
            slot.tripped_cycle = None;
            slot.closed_gen = None;
            slot.pending_failures = 0;
            slot.voted = false;
        }
    }
}

struct Ctx<'a> {
    link: &'a mut Link,
    settings: &'a Settings,
    counters: &'a Counters,
    memberships: &'a Memberships,
    /// When the next round of reconcile reads is due.
    next_round: Instant,
}

impl Ctx<'_> {
    fn run(&mut self, slot: &Slot, op: Op) -> Option<View> {
        let view = self.link.run(&slot.keys, slot.member.name(), op)?;
        if let Some(count) = view.count {
            self.memberships
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(
                    slot.member.name().to_owned(),
                    Membership {
                        live: count.live,
                        votes: count.votes,
                        needed: count.needed,
                    },
                );
        }
        Some(view)
    }

    fn step(&mut self, slot: &mut Slot, now: Instant) {
        let s = slot.member.snapshot();
        if slot.lease.is_some() {
            self.step_leased(slot, &s, now);
        } else {
            self.step_free(slot, &s, now);
        }
        if self.settings.counting {
            self.count(slot, now);
        }
        if self.link.is_up() && now >= slot.next_reconcile {
            slot.next_reconcile = self.next_round;
            if let Some(view) = self.run(slot, Op::Read) {
                apply(slot, &view, self.settings, now);
            }
        }
    }

    /// This replica holds the probe lease: watch the local probe and report its outcome.
    fn step_leased(&mut self, slot: &mut Slot, s: &Snapshot, now: Instant) {
        let Some(lease) = slot.lease.as_mut() else {
            return;
        };
        let gen = lease.gen;
        let renew_due = now.duration_since(lease.last_renew) >= self.settings.renew_every();
        let view = match s.phase() {
            Local::HalfOpen => {
                if now.duration_since(lease.idle_since) >= self.settings.grant_idle() {
                    // Nobody here wants the probe: take the grant back first, then the lease.
                    if !slot.member.revoke_probe(s) {
                        return; // claimed meanwhile: the next tick sees Probing
                    }
                    slot.lease = None;
                    Counters::add(&self.counters.leases_revoked, 1);
                    self.run(slot, Op::Revoke { gen })
                } else if renew_due {
                    self.renew(slot, now)
                } else {
                    None
                }
            }
            Local::Probing => {
                lease.idle_since = now;
                if renew_due {
                    self.renew(slot, now)
                } else {
                    None
                }
            }
            Local::Closed => {
                slot.lease = None;
                self.run(
                    slot,
                    Op::Result {
                        gen,
                        success: true,
                        period: slot.member.recovery_timeout(),
                        level: 0,
                    },
                )
            }
            Local::Open => {
                slot.lease = None;
                slot.tripped_cycle = Some(s.cycle_id());
                let period = if s.remaining().is_zero() {
                    slot.member.recovery_timeout()
                } else {
                    s.remaining()
                };
                let view = self.run(
                    slot,
                    Op::Result {
                        gen,
                        success: false,
                        period,
                        level: s.level(),
                    },
                );
                if let Some(v) = view.as_ref().filter(|v| !v.won && v.phase == Fleet::Closed) {
                    // The lease was lost meanwhile (this replica hung past it) and another
                    // replica's probe closed the fleet: this probe's failure is stale, like a
                    // stale outcome locally; follow the fleet instead of re-tripping it.
                    slot.applied = Some((v.epoch.clone(), v.gen));
                    slot.closed_gen = Some(v.gen);
                    slot.member.close_because(reason(v.why));
                    return;
                }
                view
            }
            Local::ForcedOpen | Local::Disabled => {
                // Manual control wins locally; let another replica probe.
                slot.lease = None;
                self.run(slot, Op::Revoke { gen })
            }
            // Held again: a newer fleet state was applied, the lease is gone.
            _ => {
                slot.lease = None;
                None
            }
        };
        if let Some(view) = view {
            apply(slot, &view, self.settings, now);
        }
    }

    fn renew(&mut self, slot: &mut Slot, now: Instant) -> Option<View> {
        let gen = slot.lease.as_ref()?.gen;
        let view = self.run(
            slot,
            Op::Renew {
                gen,
                lease: self.settings.lease,
            },
        )?;
        if let Some(lease) = slot.lease.as_mut() {
            lease.last_renew = now;
        }
        Some(view)
    }

    /// No lease here: publish a local trip, or compete for the lease when the fleet's open
    /// period is over.
    fn step_free(&mut self, slot: &mut Slot, s: &Snapshot, now: Instant) {
        match s.phase() {
            Local::Open if slot.released == Some(s.cycle_id()) => self.rejoin(slot, s, now),
            Local::Open if slot.tripped_cycle != Some(s.cycle_id()) && !s.remaining().is_zero() => {
                slot.tripped_cycle = Some(s.cycle_id());
                self.trip(slot, s, now);
            }
            Local::Closed if slot.voted => {
                // Recovered by itself (its own probe succeeded): its trip is no evidence now.
                slot.voted = false;
                if let Some(view) = self.run(slot, Op::Withdraw) {
                    apply(slot, &view, self.settings, now);
                }
            }
            // Compete for the fleet's probe only where a caller wants it: a replica without
            // traffic never takes the lease from one whose callers are waiting.
            Local::Held
                if s.remaining().is_zero()
                    && now >= slot.next_acquire
                    && slot.member.take_demand() =>
            {
                let acquire = Op::Acquire {
                    lease: self.settings.lease,
                };
                let Some(view) = self.run(slot, acquire) else {
                    return;
                };
                if !view.won {
                    apply(slot, &view, self.settings, now);
                    if view.phase == Fleet::Due {
                        // Due but refused: this replica failed the last probe or gave the
                        // lease back, and waits while others may want it.
                        slot.next_acquire = now + self.settings.grace() / 4;
                    }
                    return;
                }
                slot.applied = Some((view.epoch.clone(), view.gen));
                if slot.member.grant_probe().is_some() {
                    Counters::add(&self.counters.probes_won, 1);
                    slot.lease = Some(Lease {
                        gen: view.gen,
                        last_renew: now,
                        idle_since: now,
                    });
                } else if let Some(view) = self.run(slot, Op::Revoke { gen: view.gen }) {
                    // The word changed under us (manual control): give the lease back.
                    apply(slot, &view, self.settings, now);
                }
            }
            _ => {}
        }
    }

    /// Back from an outage with the open period a released hold left: that is the fleet's
    /// knowledge from before, not a local trip. If the server kept the fleet's state (same
    /// epoch), follow it (it may have closed meanwhile); if it lost it (a new epoch: an empty
    /// restart), publish what this replica still knows with TRIP.
    fn rejoin(&mut self, slot: &mut Slot, s: &Snapshot, now: Instant) {
        slot.released = None;
        slot.tripped_cycle = Some(s.cycle_id());
        let Some(view) = self.run(slot, Op::Read) else {
            return;
        };
        let known = slot.applied.as_ref().is_some_and(|(e, _)| *e == view.epoch);
        if known || s.remaining().is_zero() {
            if view.phase == Fleet::Closed {
                slot.member.close_because(reason(view.why));
            }
            apply(slot, &view, self.settings, now);
            return;
        }
        self.trip(slot, s, now);
    }

    /// Publishes this breaker's open period (TRIP) and follows the fleet's reply.
    fn trip(&mut self, slot: &mut Slot, s: &Snapshot, now: Instant) {
        let trip = Op::Trip {
            period: s.remaining(),
            level: s.level(),
        };
        Counters::add(&self.counters.votes, 1);
        if let Some(view) = self.run(slot, trip) {
            if view.won {
                Counters::add(&self.counters.trips, 1);
            }
            // Below the quorum the fleet stays closed and this breaker stays open on its own
            // evidence, recovering by itself; its vote is withdrawn when it does.
            slot.voted = !view.won && view.phase == Fleet::Closed;
            apply(slot, &view, self.settings, now);
        }
    }

    /// Fleet counting: publish the local failures seen since the last poll, batched.
    fn count(&mut self, slot: &mut Slot, now: Instant) {
        let s = slot.member.snapshot();
        let failures = s.failures();
        let new = if s.cycle_id() != slot.last_cycle || failures < slot.last_failures {
            failures // a new cycle, or a success reset the count in between
        } else {
            failures - slot.last_failures
        };
        slot.last_cycle = s.cycle_id();
        slot.last_failures = failures;
        if s.phase() != Local::Closed {
            slot.pending_failures = 0;
            return;
        }
        slot.pending_failures += u64::from(new);
        let Some(gen) = slot.closed_gen else {
            return;
        };
        if slot.pending_failures == 0 || !self.link.is_up() {
            return;
        }
        let op = Op::Count {
            gen,
            failures: slot.pending_failures,
            threshold: slot.member.failure_threshold(),
            period: slot.member.recovery_timeout(),
        };
        Counters::add(&self.counters.failures_published, slot.pending_failures);
        slot.pending_failures = 0;
        if let Some(view) = self.run(slot, op) {
            if view.won {
                Counters::add(&self.counters.trips, 1);
            }
            apply(slot, &view, self.settings, now);
        }
    }
}

/// Makes the local breaker follow one fleet state.
fn apply(slot: &mut Slot, view: &View, settings: &Settings, now: Instant) {
    slot.applied = Some((view.epoch.clone(), view.gen));
    let had_lease = slot.lease.is_some();
    if let Some(lease) = &slot.lease {
        let ours =
            matches!(&view.phase, Fleet::Probing { holder, .. } if *holder == settings.replica);
        if ours && view.gen == lease.gen {
            return; // our own probe round: nothing to follow
        }
        slot.lease = None; // the fleet moved on: the lease is lost
    }
    let member = &slot.member;
    let reason = reason(view.why);
    match &view.phase {
        Fleet::Closed => {
            slot.closed_gen = Some(view.gen);
            // Close what follows the fleet: a hold, or the probe of a lease just lost. A
            // breaker open, half-open or probing on its own evidence (a trip below the
            // quorum) recovers by itself.
            let phase = member.snapshot().phase();
            let following = phase == Local::Held
                || (had_lease && matches!(phase, Local::HalfOpen | Local::Probing));
            if following {
                member.close_because(reason);
            }
        }
        Fleet::Open { remaining } => {
            slot.closed_gen = None;
            slot.voted = false;
            member.hold_because(*remaining, view.level, reason);
            slot.next_acquire = now + *remaining;
        }
        Fleet::Probing { lease, .. } => {
            slot.closed_gen = None;
            slot.voted = false;
            member.hold_because(Duration::ZERO, view.level, reason);
            slot.next_acquire = now + *lease;
        }
        Fleet::Due => {
            slot.closed_gen = None;
            slot.voted = false;
            member.hold_because(Duration::ZERO, view.level, reason);
            slot.next_acquire = now;
        }
    }
}

/// The core's name for why the fleet is where it is.
fn reason(why: Why) -> Reason {
    match why {
        Why::Quorum { tripped, live } => Reason::Quorum { tripped, live },
        Why::Counted { .. } => Reason::Counted,
        Why::Probe => Reason::Probe,
        Why::Unknown => Reason::Sync,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(lease: Duration) -> Settings {
        Settings {
            poll: Duration::from_millis(5),
            reconcile: Duration::from_secs(1),
            lease,
            counting: false,
            replica: "r0".to_owned(),
            namespace: "app".to_owned(),
            quorum: Quorum::default(),
            vote_window: Duration::from_secs(10),
            export: false,
        }
    }

    /// `FleetBuilder::lease` documents it: an unused grant is given back after half the lease,
    /// well before a lease nobody renewed would run out.
    #[test]
    fn an_unused_grant_is_given_back_after_half_the_lease() {
        assert_eq!(
            settings(Duration::from_secs(2)).grant_idle(),
            Duration::from_secs(1)
        );
        assert_eq!(
            settings(Duration::from_millis(300)).grant_idle(),
            Duration::from_millis(150)
        );
    }
}
