//! Why a breaker changed state ([`Cause`]), and why a remote coordinator moved or holds it
//! ([`Reason`]).
//!
//! Every [`Transition`](crate::Transition) carries its cause, and so do the `tracing` events
//! (field `cause`) and the `metrics` transitions counter (label `cause`), spelled as
//! [`Cause::as_str`] gives it. A rejection by a breaker the fleet holds says why it is held
//! ([`OpenError::remote`](crate::OpenError::remote)).

use core::fmt;

/// Why a breaker changed state: the cause of a [`Transition`](crate::Transition).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use async_breaker::{Cause, CircuitBreaker, Reason};
///
/// let causes = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&causes);
/// let breaker = CircuitBreaker::builder()
///     .failure_threshold(1)
///     .on_transition(move |t| log.lock().unwrap().push(t.cause()))
///     .build()?;
/// let _ = breaker.call(|| Err::<(), _>("down")); // opened by its own calls
/// breaker.reset(); // closed by hand
/// breaker.remote().hold_because(
///     std::time::Duration::from_secs(5),
///     0,
///     Reason::Quorum { tripped: 3, live: 8 },
/// ); // held open by the fleet
/// assert_eq!(
///     *causes.lock().unwrap(),
///     [
///         Cause::Calls,
///         Cause::Manual,
///         Cause::Remote(Reason::Quorum { tripped: 3, live: 8 }),
///     ]
/// );
/// # Ok::<(), async_breaker::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cause {
    /// The breaker's own calls: failures reached the threshold (or rate), slow calls, a probe
    /// admitted or its outcome, a stalled probe reclaimed, an unrenewed hold lapsing into a
    /// local probe.
    Calls,
    /// By hand: [`force_open`](crate::CircuitBreaker::force_open),
    /// [`disable`](crate::CircuitBreaker::disable), [`reset`](crate::CircuitBreaker::reset).
    Manual,
    /// A remote coordinator (the fleet agent of `async-breaker-fleet`), saying why: see
    /// [`remote`](crate::remote).
    Remote(Reason),
}

impl Cause {
    /// A stable, lower-case label: `calls`, `manual`, or the [reason's](Reason::as_str)
    /// (`fleet_quorum`, `fleet_counted`, `fleet_probe`, `fleet_sync`, `fleet_released`). It is
    /// the `cause` field of the `tracing` events and the `cause` label of the `metrics`
    /// transitions counter.
    ///
    /// ```
    /// use async_breaker::{Cause, Reason};
    /// assert_eq!(Cause::Calls.as_str(), "calls");
    /// assert_eq!(Cause::Remote(Reason::Probe).as_str(), "fleet_probe");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Cause::Calls => "calls",
            Cause::Manual => "manual",
            Cause::Remote(reason) => reason.as_str(),
        }
    }
}

/// Says who or what moved the breaker, in words: `the breaker's own calls`, `manual control`,
/// or the fleet's reason, such as `the fleet: 3 of 8 replicas tripped`.
///
/// ```
/// use async_breaker::{Cause, Reason};
/// let quorum = Cause::Remote(Reason::Quorum { tripped: 3, live: 8 });
/// assert_eq!(quorum.to_string(), "the fleet: 3 of 8 replicas tripped");
/// assert_eq!(Cause::Remote(Reason::Released).to_string(), "the fleet let go (server unreachable)");
/// ```
impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Cause::Calls => f.write_str("the breaker's own calls"),
            Cause::Manual => f.write_str("manual control"),
            Cause::Remote(Reason::Quorum { tripped, live }) => {
                let plural = if live == 1 { "" } else { "s" };
                write!(f, "the fleet: {tripped} of {live} replica{plural} tripped")
            }
            Cause::Remote(Reason::Counted) => {
                f.write_str("the fleet: failures counted across replicas reached the threshold")
            }
            Cause::Remote(Reason::Probe) => f.write_str("the fleet's probe"),
            Cause::Remote(Reason::Sync) => f.write_str("the fleet's shared state"),
            Cause::Remote(Reason::Released) => f.write_str("the fleet let go (server unreachable)"),
        }
    }
}

/// Why a remote coordinator moved or holds a breaker: the reason given to
/// [`Remote::hold_because`](crate::remote::Remote::hold_because) and
/// [`Remote::close_because`](crate::remote::Remote::close_because).
///
/// ```
/// use std::time::Duration;
/// use async_breaker::{CircuitBreaker, Reason};
///
/// let breaker = CircuitBreaker::builder().name("dep").build()?;
/// breaker.remote().hold_because(Duration::from_secs(2), 0, Reason::Quorum { tripped: 3, live: 8 });
/// let rejected = breaker.try_acquire().unwrap_err();
/// assert_eq!(rejected.remote(), Some(Reason::Quorum { tripped: 3, live: 8 }));
/// assert_eq!(
///     rejected.to_string(),
///     r#"circuit "dep" is open, held by the fleet (3 of 8 replicas tripped, 2s remaining)"#
/// );
/// # Ok::<(), async_breaker::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// Enough distinct replicas' breakers tripped: `tripped` of the `live` replicas. The
    /// coordinator saturates both at `u16::MAX`; a rejection keeps them up to 255 (see
    /// [`OpenError::remote`](crate::OpenError::remote)).
    Quorum {
        /// Replicas whose breakers tripped.
        tripped: u16,
        /// Replicas alive in the fleet.
        live: u16,
    },
    /// Failures counted across the fleet reached the breaker's threshold.
    Counted,
    /// The fleet's one probe (on whichever replica) failed (re-open) or succeeded (close).
    Probe,
    /// Following the shared state (reconciliation, a missed message, a rejoin) without a
    /// fresher reason.
    Sync,
    /// The coordinator lost its server and let go: a plain local breaker again.
    Released,
}

impl Reason {
    /// A stable, lower-case label: `fleet_quorum`, `fleet_counted`, `fleet_probe`,
    /// `fleet_sync` or `fleet_released` (what [`Cause::as_str`] gives for a remote cause).
    ///
    /// ```
    /// use async_breaker::Reason;
    /// assert_eq!(Reason::Quorum { tripped: 3, live: 8 }.as_str(), "fleet_quorum");
    /// assert_eq!(Reason::Sync.as_str(), "fleet_sync");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Quorum { .. } => "fleet_quorum",
            Reason::Counted => "fleet_counted",
            Reason::Probe => "fleet_probe",
            Reason::Sync => "fleet_sync",
            Reason::Released => "fleet_released",
        }
    }

    /// The kind's code in [`packed`](Self::packed). `Sync` is 0, so a note never written
    /// reads as "following the shared state".
    const fn kind(self) -> u32 {
        match self {
            Reason::Sync => 0,
            Reason::Quorum { .. } => 1,
            Reason::Counted => 2,
            Reason::Probe => 3,
            Reason::Released => 4,
        }
    }

    /// The reason of kind `kind` with the given counts (used by `Quorum` only); an unknown kind
    /// reads as `Sync`.
    const fn of_kind(kind: u32, tripped: u16, live: u16) -> Reason {
        match kind {
            1 => Reason::Quorum { tripped, live },
            2 => Reason::Counted,
            3 => Reason::Probe,
            4 => Reason::Released,
            _ => Reason::Sync,
        }
    }

    /// The counts of a `Quorum` reason; zero for the others.
    const fn counts(self) -> (u16, u16) {
        match self {
            Reason::Quorum { tripped, live } => (tripped, live),
            _ => (0, 0),
        }
    }

    /// The reason in 19 bits, as a rejection and the hold's note keep it: `live` in bits 0..8,
    /// `tripped` in 8..16, each saturating at 255, and the kind in 16..19.
    pub(crate) const fn packed(self) -> u32 {
        let (tripped, live) = self.counts();
        let (tripped, live) = (saturate(tripped), saturate(live));
        (self.kind() << 16) | (tripped << 8) | live
    }

    /// The reason 19 packed bits say (the inverse of [`packed`](Self::packed), up to the
    /// saturation of the counts).
    // Each count is masked to 8 bits before the cast.
    #[allow(clippy::cast_possible_truncation)]
    pub(crate) const fn unpacked(bits: u32) -> Reason {
        Reason::of_kind(
            (bits >> 16) & 0b111,
            ((bits >> 8) & 0xff) as u16,
            (bits & 0xff) as u16,
        )
    }
}

/// A count in eight bits, saturating at 255.
const fn saturate(count: u16) -> u32 {
    if count > 0xff {
        0xff
    } else {
        count as u32
    }
}

#[cfg(test)]
mod tests {
    use super::{Cause, Reason};
    use alloc::string::ToString;

    const REASONS: [Reason; 5] = [
        Reason::Quorum {
            tripped: 3,
            live: 8,
        },
        Reason::Counted,
        Reason::Probe,
        Reason::Sync,
        Reason::Released,
    ];

    #[test]
    fn the_packing_fits_nineteen_bits_and_saturates_the_counts_at_255() {
        for reason in REASONS {
            assert!(reason.packed() < 1 << 19);
            assert_eq!(Reason::unpacked(reason.packed()), reason);
        }
        assert_eq!(Reason::unpacked(0), Reason::Sync, "a note never written");
        assert_eq!(
            Reason::unpacked(0b111 << 16),
            Reason::Sync,
            "an unknown kind"
        );
        let wide = Reason::Quorum {
            tripped: 300,
            live: 1_000,
        };
        assert_eq!(
            Reason::unpacked(wide.packed()),
            Reason::Quorum {
                tripped: 255,
                live: 255
            }
        );
        let edge = Reason::Quorum {
            tripped: 255,
            live: 256,
        };
        assert_eq!(
            Reason::unpacked(edge.packed()),
            Reason::Quorum {
                tripped: 255,
                live: 255
            }
        );
    }

    #[test]
    fn labels_are_distinct_and_stable() {
        let labels = [
            Cause::Calls.as_str(),
            Cause::Manual.as_str(),
            Cause::Remote(REASONS[0]).as_str(),
            Cause::Remote(Reason::Counted).as_str(),
            Cause::Remote(Reason::Probe).as_str(),
            Cause::Remote(Reason::Sync).as_str(),
            Cause::Remote(Reason::Released).as_str(),
        ];
        assert_eq!(
            labels,
            [
                "calls",
                "manual",
                "fleet_quorum",
                "fleet_counted",
                "fleet_probe",
                "fleet_sync",
                "fleet_released"
            ]
        );
    }

    #[test]
    fn causes_display_in_words() {
        let shown = |cause: Cause| cause.to_string();
        assert_eq!(shown(Cause::Calls), "the breaker's own calls");
        assert_eq!(shown(Cause::Manual), "manual control");
        assert_eq!(
            shown(Cause::Remote(REASONS[0])),
            "the fleet: 3 of 8 replicas tripped"
        );
        assert_eq!(
            shown(Cause::Remote(Reason::Quorum {
                tripped: 1,
                live: 1
            })),
            "the fleet: 1 of 1 replica tripped"
        );
        assert_eq!(
            shown(Cause::Remote(Reason::Counted)),
            "the fleet: failures counted across replicas reached the threshold"
        );
        assert_eq!(shown(Cause::Remote(Reason::Probe)), "the fleet's probe");
        assert_eq!(
            shown(Cause::Remote(Reason::Sync)),
            "the fleet's shared state"
        );
        assert_eq!(
            shown(Cause::Remote(Reason::Released)),
            "the fleet let go (server unreachable)"
        );
    }
}
