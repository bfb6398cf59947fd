//! Property tests of the packed word's encoding and of the invariants the pure rules in
//! [`crate::word`] promise: fields round-trip and saturate, the reserved level bits survive
//! every transition, stamps never decrease, distinct closed cycles (and replaced probes) carry
//! distinct tickets, stale tickets change nothing, no rule panics on any raw word or reading,
//! and a granted probe slot is reported as the hold it came from.
//!
//! `PROPTEST_CASES` overrides the case count (default [`CASES`]).

use alloc::vec::Vec;
use proptest::prelude::*;

use crate::word::{
    acquire, counted, fail, manual, observe, release, remote, succeed, Admission, Counted, Manual,
    Phase, Policy, Remote, Step, Word, COUNT_MAX, MAX_LEVEL, STAMP_MAX,
};
use crate::{Outcome, State};

/// Cases per property when `PROPTEST_CASES` is not set.
const CASES: u32 = 2_000;

/// The bit the reserved level field starts at (above stamp, count and phase).
const LEVEL_SHIFT: u32 = 61;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(CASES),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn phase() -> impl Strategy<Value = Phase> {
    prop_oneof![
        Just(Phase::Closed),
        Just(Phase::Open),
        Just(Phase::HalfOpen),
        Just(Phase::Probing),
        Just(Phase::ForcedOpen),
        Just(Phase::Disabled),
        Just(Phase::Held),
        Just(Phase::Granted),
    ]
}

/// Any remote transition; a revoke names either the word itself or another one.
fn remote_step(w: Word, other: Word) -> impl Strategy<Value = Remote> {
    prop_oneof![
        (0..=MAX_LEVEL + 2).prop_map(|level| Remote::Hold { level }),
        Just(Remote::Grant),
        Just(Remote::Revoke(w)),
        Just(Remote::Revoke(other)),
        Just(Remote::Close),
        any::<bool>().prop_map(|fleet_open| Remote::Release { fleet_open }),
    ]
}

/// Values that crowd the edges of a range as well as its middle.
fn edgy_u64(max: u64) -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(max),
        Just(max.saturating_sub(1)),
        0..=max,
    ]
}

/// The same for `u32`: a failure count of 0 (a quiet closed word) comes up often.
fn edgy_u32(max: u32) -> impl Strategy<Value = u32> {
    prop_oneof![Just(0), Just(1), Just(max), 0..=max]
}

/// A validated policy, anywhere in the accepted ranges.
fn policy() -> impl Strategy<Value = Policy> {
    (
        prop_oneof![Just(1), Just(COUNT_MAX), 1..=COUNT_MAX],
        prop_oneof![1..=10_u64, 1..=STAMP_MAX],
        prop_oneof![1..=10_u64, 1..=STAMP_MAX],
    )
        .prop_map(|(failure_threshold, recovery_ms, probe_deadline_ms)| {
            Policy::plain(failure_threshold, recovery_ms, probe_deadline_ms)
        })
        .prop_flat_map(|plain| {
            (
                Just(plain),
                plain.recovery_ms..=STAMP_MAX,
                any::<bool>(),
                any::<bool>(),
            )
                .prop_map(|(plain, backoff_max_ms, backoff, jitter)| Policy {
                    backoff_max_ms: if backoff {
                        backoff_max_ms
                    } else {
                        plain.recovery_ms
                    },
                    jitter,
                    ..plain
                })
        })
}

/// Small thresholds and timeouts, so that sequences of events go round the whole cycle.
fn small_policy() -> impl Strategy<Value = Policy> {
    (1..=3_u32, 1..=5_u64, 1..=5_u64).prop_map(
        |(failure_threshold, recovery_ms, probe_deadline_ms)| {
            Policy::plain(failure_threshold, recovery_ms, probe_deadline_ms)
        },
    )
}

/// A clock reading in milliseconds: small, near the end of the stamp range, or anything.
fn reading() -> impl Strategy<Value = u64> {
    prop_oneof![
        0..100_u64,
        (STAMP_MAX - 100)..=STAMP_MAX,
        Just(u64::MAX),
        any::<u64>(),
    ]
}

/// Any raw word: well-formed ones, and any bits at all (every phase value is in use; the
/// level field may exceed what transitions write).
fn raw_word() -> impl Strategy<Value = Word> {
    prop_oneof![
        (phase(), edgy_u32(COUNT_MAX), edgy_u64(STAMP_MAX), 0..8_u64).prop_map(
            |(phase, failures, stamp, level)| Word::from_raw(
                Word::new(phase, failures, stamp).raw() | (level << LEVEL_SHIFT)
            )
        ),
        any::<u64>().prop_map(Word::from_raw),
    ]
}

/// A clock that yields `now` and counts how often it was read.
struct Counting {
    now: u64,
    reads: u32,
}

impl Counting {
    fn read(&mut self) -> u64 {
        self.reads += 1;
        self.now
    }
}

/// Every word a rule can produce from `w` with the ticket of `ticket_source`, reading `now`.
/// Each rule reads the clock at most once, and `succeed` and `release` never do.
fn successors(w: Word, ticket_source: Word, policy: &Policy, now: u64) -> Vec<Word> {
    let ticket = ticket_source.ticket();
    let mut out = Vec::new();
    let mut clock = Counting { now, reads: 0 };
    if let Admission::Probe(next) = acquire(w, policy, &mut || clock.read()) {
        out.push(next);
    }
    assert!(clock.reads <= 1, "acquire read the clock twice");
    let mut clock = Counting { now, reads: 0 };
    let failed = fail(w, ticket, policy, &mut || clock.read());
    assert!(clock.reads <= 1, "fail read the clock twice");
    let mut clock = Counting { now, reads: 0 };
    let _ = observe(w, policy, 0, &mut || clock.read());
    assert!(clock.reads <= 1, "observe read the clock twice");
    for step in [succeed(w, ticket), failed, release(w, ticket)] {
        if let Step::Write(next) = step {
            out.push(next);
        }
    }
    out
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fields_round_trip(
        phase in phase(),
        failures in 0..=COUNT_MAX,
        stamp in edgy_u64(STAMP_MAX),
    ) {
        let w = Word::new(phase, failures, stamp);
        prop_assert_eq!((w.phase(), w.failures(), w.stamp(), w.level()), (phase, failures, stamp, 0));
        prop_assert_eq!(Word::from_raw(w.raw()), w);
        prop_assert_eq!(Word::from_raw(w.raw()).raw(), w.raw());
    }

    #[test]
    fn oversized_fields_saturate_without_touching_their_neighbours(
        phase in phase(),
        failures in any::<u32>(),
        stamp in any::<u64>(),
    ) {
        let w = Word::new(phase, failures, stamp);
        prop_assert_eq!(w.phase(), phase);
        prop_assert_eq!(w.failures(), failures.min(COUNT_MAX));
        prop_assert_eq!(w.stamp(), stamp.min(STAMP_MAX));
        prop_assert_eq!(w.level(), 0);
    }

    #[test]
    fn raw_fields_decode_independently(raw in any::<u64>()) {
        let w = Word::from_raw(raw);
        prop_assert_eq!(w.stamp(), raw & STAMP_MAX);
        prop_assert_eq!(u64::from(w.failures()), (raw >> 42) & u64::from(COUNT_MAX));
        prop_assert_eq!(w.level(), raw >> LEVEL_SHIFT);
        let expected = match (raw >> 58) & 0b111 {
            1 => Phase::Open,
            2 => Phase::HalfOpen,
            3 => Phase::Probing,
            4 => Phase::ForcedOpen,
            5 => Phase::Disabled,
            6 => Phase::Held,
            7 => Phase::Granted,
            _ => Phase::Closed,
        };
        prop_assert_eq!(w.phase(), expected);
        // A ticket is exactly the phase and stamp bits.
        prop_assert!(w.issued(w.ticket()));
        prop_assert_eq!(w.ticket().is_probe(), expected == Phase::Probing);
    }

    /// No rule panics, whatever the word, the ticket, the policy or the reading; every word a
    /// rule writes never moves the stamp backwards, and the backoff level changes only as
    /// documented: one up when a probe fails (saturating), back to 0 when a probe closes.
    #[test]
    fn transitions_move_the_level_only_as_documented_and_never_lower_the_stamp(
        w in raw_word(),
        other in raw_word(),
        own_ticket in any::<bool>(),
        policy in policy(),
        now in reading(),
    ) {
        let source = if own_ticket { w } else { other };
        for next in successors(w, source, &policy, now) {
            let expected = match (w.phase(), next.phase()) {
                (Phase::Probing, Phase::Open) => (w.level() + 1).min(MAX_LEVEL),
                (Phase::Probing, Phase::Closed) => 0,
                _ => w.level(),
            };
            prop_assert_eq!(next.level(), expected, "{:?} -> {:?}", w, next);
            prop_assert!(next.stamp() >= w.stamp(), "{:?} -> {:?}", w, next);
            prop_assert!(next.stamp() <= STAMP_MAX);
        }
    }

    /// A manual transition starts a new cycle: no ticket issued before matches the new word
    /// (below the end of the stamp range), the stamp never goes back, and a reset clears the
    /// count and the backoff level.
    #[test]
    fn manual_transitions_start_a_new_cycle(
        w in raw_word(),
        to in prop_oneof![Just(Manual::ForceOpen), Just(Manual::Disable), Just(Manual::Reset)],
        now in reading(),
    ) {
        let Some(next) = manual(w, to, &mut || now) else {
            return Ok(());
        };
        prop_assert!(next.stamp() >= w.stamp());
        if w.stamp() < STAMP_MAX {
            prop_assert!(!next.issued(w.ticket()), "{:?} -> {:?}", w, next);
        }
        if to == Manual::Reset {
            prop_assert_eq!((next.phase(), next.failures(), next.level()), (Phase::Closed, 0, 0));
        }
    }

    /// A remote transition leaves a breaker forced open or disabled by hand alone; otherwise
    /// it starts a new cycle (no earlier ticket matches, below the end of the stamp range),
    /// never lowers the stamp, reads the clock at most once, and lands in the documented phase
    /// and level.
    #[test]
    fn remote_transitions_start_a_new_cycle_and_spare_manual_states(
        (w, to) in (raw_word(), raw_word()).prop_flat_map(|(w, other)| (Just(w), remote_step(w, other))),
        now in reading(),
    ) {
        let mut clock = Counting { now, reads: 0 };
        let next = remote(w, to, &mut || clock.read());
        prop_assert!(clock.reads <= 1, "a remote transition read the clock twice");
        if matches!(w.phase(), Phase::ForcedOpen | Phase::Disabled) {
            prop_assert_eq!(next, None);
            return Ok(());
        }
        let expected = match to {
            Remote::Hold { level } => Some((Phase::Held, level.min(MAX_LEVEL), w.failures())),
            Remote::Grant => (w.phase() == Phase::Held).then_some((Phase::Granted, w.level(), w.failures())),
            Remote::Revoke(granted) => (granted == w && matches!(w.phase(), Phase::HalfOpen | Phase::Granted))
                .then_some((Phase::Held, w.level(), w.failures())),
            Remote::Close => (w.phase() != Phase::Closed).then_some((Phase::Closed, 0, 0)),
            Remote::Release { fleet_open } => (w.phase() == Phase::Held).then_some((
                if fleet_open { Phase::Open } else { Phase::HalfOpen },
                w.level(),
                w.failures(),
            )),
        };
        prop_assert_eq!(next.map(|n| (n.phase(), n.level(), n.failures())), expected);
        if let Some(next) = next {
            prop_assert!(next.stamp() >= w.stamp());
            if w.stamp() < STAMP_MAX {
                prop_assert!(!next.issued(w.ticket()), "{:?} -> {:?}", w, next);
                prop_assert_ne!(next.cycle_id(), w.cycle_id());
            }
        }
    }

    /// Granting the probe and taking an unclaimed grant back never change the reported state
    /// (nothing is reported), while claiming the granted slot does (open -> half-open); any
    /// other phase reports as the state it reads as before time is taken into account.
    #[test]
    fn grants_are_reported_only_when_claimed(
        w in raw_word(),
        policy in policy(),
        now in reading(),
    ) {
        for phase in [Phase::Closed, Phase::Open, Phase::HalfOpen, Phase::Probing, Phase::ForcedOpen, Phase::Disabled, Phase::Held] {
            prop_assert_eq!(phase.reported(), phase.state());
        }
        prop_assert_eq!(Phase::Granted.reported(), State::Open);
        if let Some(granted) = remote(w, Remote::Grant, &mut || now) {
            prop_assert_eq!(w.phase().reported(), granted.phase().reported());
            if let Some(revoked) = remote(granted, Remote::Revoke(granted), &mut || now) {
                prop_assert_eq!(revoked.phase().reported(), granted.phase().reported());
            }
            let Admission::Probe(claimed) = acquire(granted, &policy, &mut || now) else {
                return Err(TestCaseError::fail("a granted slot admits the next caller as the probe"));
            };
            prop_assert_eq!(
                (granted.phase().reported(), claimed.phase().reported()),
                (State::Open, State::HalfOpen)
            );
        }
    }

    /// A held breaker admits nobody until its hold has gone unrenewed for its open period plus
    /// the probe deadline; then exactly the caller that finds it so becomes a probe.
    #[test]
    fn a_held_word_rejects_until_its_hold_lapses(
        policy in policy(),
        level in 0..=MAX_LEVEL,
        failures in 0..=COUNT_MAX,
        stamp in 0..STAMP_MAX / 2,
        after in prop_oneof![0..10_u64, any::<u64>()],
    ) {
        let held = Word::from_raw(Word::new(Phase::Held, failures, stamp).raw() | (level << LEVEL_SHIFT));
        let now = stamp.saturating_add(after);
        let limit = policy.period_ms(level).saturating_add(policy.probe_deadline_ms);
        match acquire(held, &policy, &mut || now) {
            Admission::Probe(next) => {
                prop_assert!(now.min(STAMP_MAX) == STAMP_MAX || after >= limit);
                prop_assert_eq!((next.phase(), next.level(), next.failures()), (Phase::Probing, level, failures));
            }
            Admission::Reject(refusal) => {
                prop_assert!(after < limit);
                prop_assert_eq!(refusal.phase, Phase::Held);
            }
            Admission::Admit(_) => prop_assert!(false, "a held word admitted a plain call"),
        }
    }

    /// The counted-outcome fast path agrees with the rules it shortcuts, for any word, any
    /// ticket and any threshold, and answers for every closed-state outcome of the word's own
    /// cycle but the failure that reaches the threshold.
    #[test]
    fn the_counted_fast_path_agrees_with_the_rules(
        w in raw_word(),
        other in raw_word(),
        own in any::<bool>(),
        outcome in prop_oneof![Just(Outcome::Success), Just(Outcome::Failure), Just(Outcome::Ignore)],
        policy in policy(),
    ) {
        let policy = Policy { trip_on_count: true, ..policy };
        let ticket = if own { w.ticket() } else { other.ticket() };
        let mut no_clock = || -> u64 { panic!("the fast path's cases read no clock") };
        let fast = counted(w, ticket, outcome, policy.failure_threshold);
        let answers = w.phase() == Phase::Closed
            && w.issued(ticket)
            && (outcome != Outcome::Failure || w.failures() + 1 < policy.failure_threshold);
        prop_assert_eq!(fast != Counted::General, answers);
        let mut rule = || match outcome {
            Outcome::Success => succeed(w, ticket),
            Outcome::Failure => fail(w, ticket, &policy, &mut no_clock),
            Outcome::Ignore => release(w, ticket),
        };
        match fast {
            Counted::General => {}
            Counted::Quiet => prop_assert_eq!(rule(), Step::Keep),
            Counted::Write(next) => prop_assert_eq!(rule(), Step::Write(next)),
        }
        prop_assert_eq!(w.is_closed(), w.phase() == Phase::Closed);
    }

    /// An outcome whose ticket does not match the word changes nothing and reads no clock.
    #[test]
    fn stale_tickets_change_nothing(
        w in raw_word(),
        other in raw_word(),
        policy in policy(),
    ) {
        prop_assume!(!w.issued(other.ticket()));
        let ticket = other.ticket();
        let mut no_clock = || -> u64 { panic!("a stale outcome read the clock") };
        prop_assert_eq!(succeed(w, ticket), Step::Stale);
        prop_assert_eq!(fail(w, ticket, &policy, &mut no_clock), Step::Stale);
        prop_assert_eq!(release(w, ticket), Step::Stale);
    }

    /// What readers see is consistent with the word: open exactly while time remains, never
    /// more than the longest open period, and the count as stored.
    #[test]
    fn observation_is_consistent(
        w in raw_word(),
        policy in policy(),
        now in reading(),
        held_for in 0..=STAMP_MAX,
    ) {
        // What a coordinator records for a hold: a period that ends at most one open period on.
        let held_until = now.min(STAMP_MAX).saturating_add(held_for.min(policy.period_ms(w.level())));
        let view = observe(w, &policy, held_until, &mut || now);
        prop_assert_eq!(view.failures, w.failures());
        prop_assert!(view.remaining_ms <= policy.backoff_max_ms.max(policy.recovery_ms));
        prop_assert_eq!(view.state == State::Open, view.remaining_ms > 0);
        match w.phase() {
            Phase::Closed => prop_assert_eq!(view.state, State::Closed),
            Phase::Open | Phase::Held => prop_assert_ne!(view.state, State::Closed),
            Phase::HalfOpen | Phase::Probing | Phase::Granted => {
                prop_assert_eq!(view.state, State::HalfOpen);
            }
            Phase::ForcedOpen => prop_assert_eq!(view.state, State::ForcedOpen),
            Phase::Disabled => prop_assert_eq!(view.state, State::Disabled),
        }
    }

    /// Driving the rules from a fresh word with arbitrary events and readings below the end of
    /// the stamp range (forwards and backwards): every closed cycle gets a ticket no earlier
    /// cycle had, and a probe that replaces a lost one never shares its ticket.
    #[test]
    fn distinct_cycles_carry_distinct_tickets(
        policy in prop_oneof![small_policy(), policy()],
        events in proptest::collection::vec((0..10_u8, 0..4_usize, 0..(STAMP_MAX - 1)), 1..200),
        small in any::<bool>(),
    ) {
        let mut w = Word::INITIAL;
        let mut closed_tickets = vec![w.ticket()];
        let mut outstanding = vec![w.ticket()];
        let mut now = 0_u64;
        for (event, pick, jump) in events {
            // Mostly small steps so timeouts of a few ms elapse; sometimes far jumps.
            now = if small { now.saturating_add(jump % 7) % (STAMP_MAX - 1) } else { jump };
            let ticket = outstanding[pick % outstanding.len()];
            let before = w;
            let next = match event {
                0 => match acquire(w, &policy, &mut || now) {
                    Admission::Admit(t) => {
                        outstanding.push(t);
                        None
                    }
                    Admission::Probe(next) => {
                        outstanding.push(next.ticket());
                        Some(next)
                    }
                    Admission::Reject(_) => None,
                },
                1 => match succeed(w, ticket) {
                    Step::Write(next) => Some(next),
                    _ => None,
                },
                2 | 3 => match fail(w, ticket, &policy, &mut || now) {
                    Step::Write(next) => Some(next),
                    _ => None,
                },
                4 => match release(w, ticket) {
                    Step::Write(next) => Some(next),
                    _ => None,
                },
                // A coordinator moving the breaker in between.
                5 => remote(w, Remote::Hold { level: (pick as u64) % 3 }, &mut || now),
                6 => remote(w, Remote::Grant, &mut || now),
                7 => remote(w, Remote::Close, &mut || now),
                8 => remote(w, Remote::Release { fleet_open: pick % 2 == 0 }, &mut || now),
                _ => remote(w, Remote::Revoke(w), &mut || now),
            };
            if let Some(next) = next {
                if next.phase() == Phase::Closed && before.phase() != Phase::Closed {
                    prop_assert!(
                        !closed_tickets.contains(&next.ticket()),
                        "closed cycle {:?} reuses an earlier cycle's ticket", next
                    );
                    closed_tickets.push(next.ticket());
                }
                if before.phase() == Phase::Probing && next.phase() == Phase::Probing {
                    prop_assert_ne!(before.ticket(), next.ticket(), "a replaced probe's ticket still counts");
                }
                w = next;
            }
        }
    }
}

/// The documented limit, found by these properties: at the very end of the stamp range every
/// timeout counts as elapsed, so a probe admitted there has the same ticket as the probe it
/// replaces, and a closed cycle that begins there has the same ticket as the previous one. The
/// breaker keeps cycling; it only loses the ability to tell those cycles apart.
#[test]
fn at_the_end_of_the_stamp_range_tickets_repeat_but_the_breaker_cycles() {
    let policy = Policy::plain(1, 1, 1);
    let mut end = || STAMP_MAX;
    let closed_at_end = Word::new(Phase::Closed, 0, STAMP_MAX);
    let Step::Write(opened) = fail(closed_at_end, closed_at_end.ticket(), &policy, &mut end) else {
        panic!("the failure opens");
    };
    let Admission::Probe(probing) = acquire(opened, &policy, &mut end) else {
        panic!("every timeout has elapsed at the end of time");
    };
    let Admission::Probe(replacement) = acquire(probing, &policy, &mut end) else {
        panic!("every deadline has passed at the end of time");
    };
    assert_eq!(replacement.ticket(), probing.ticket(), "documented limit");
    let Step::Write(reclosed) = succeed(replacement, replacement.ticket()) else {
        panic!("the probe closes");
    };
    assert_eq!(reclosed.phase(), Phase::Closed);
    assert_eq!(
        reclosed.ticket(),
        closed_at_end.ticket(),
        "documented limit"
    );
}
