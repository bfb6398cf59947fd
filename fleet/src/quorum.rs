//! [`Quorum`]: how many distinct replicas' trips open the fleet, and [`Membership`], what the
//! server last said about one breaker's replicas.

use std::fmt;

use crate::FleetError;

/// How many *distinct* replicas' breakers must trip, within the
/// [vote window](crate::FleetBuilder::vote_window), before the fleet opens every replica.
///
/// A breaker trips for one of three reasons: the dependency is down, the network path from one
/// replica to it is broken, or that replica is sick (starved of CPU, out of connections, a bad
/// DNS cache). Only the first is the fleet's business. A quorum keeps the other two local: a
/// replica that trips below the quorum stays open on its own evidence and recovers by itself,
/// while the healthy replicas keep calling.
///
/// The count is taken among the *live* replicas of the breaker (those whose agent ran a script
/// within three reconcile intervals, on the server's clock), and never exceeds it: a fleet with
/// one live replica opens on its own trip whatever the quorum says.
///
/// ```
/// use async_breaker_fleet::{Fleet, Quorum};
///
/// // The default: two distinct replicas (or one while it is the only live replica).
/// assert_eq!(Quorum::default(), Quorum::replicas(2));
/// assert_eq!(Quorum::replicas(2).needed(8), 2);
/// assert_eq!(Quorum::replicas(2).needed(1), 1);
///
/// // A third of the live replicas, at least two.
/// let third = Quorum::fraction(1.0 / 3.0, 2);
/// assert_eq!(third.needed(9), 3);
/// assert_eq!(third.needed(3), 2);
///
/// // Today's rule elsewhere: the first trip anywhere opens everyone.
/// assert_eq!(Quorum::first_trip().needed(8), 1);
///
/// let fleet = Fleet::builder("redis://127.0.0.1:1/").quorum(third).build()?;
/// # drop(fleet);
/// # Ok::<(), async_breaker_fleet::FleetError>(())
/// ```
#[derive(Clone, Copy, PartialEq)]
pub struct Quorum {
    /// The minimum number of replicas (the whole rule without a fraction).
    min: u16,
    /// A fraction of the live replicas, in per mille (0: none).
    permille: u16,
    /// The fraction as given, for messages.
    fraction: f64,
}

impl Quorum {
    /// `k` distinct replicas (or every live replica, when fewer are live). `k` is 1 to 1000.
    ///
    /// ```
    /// use async_breaker_fleet::Quorum;
    /// assert_eq!(Quorum::replicas(3).needed(10), 3);
    /// assert_eq!(Quorum::replicas(3).needed(2), 2);
    /// ```
    pub const fn replicas(k: u16) -> Quorum {
        Quorum {
            min: k,
            permille: 0,
            fraction: 0.0,
        }
    }

    /// A fraction of the live replicas, rounded up, and at least `min` of them (or every live
    /// replica, when fewer are live). The fraction is above 0 and at most 1, taken to the
    /// nearest thousandth; `min` is 1 to 1000.
    ///
    /// ```
    /// use async_breaker_fleet::Quorum;
    /// let half = Quorum::fraction(0.5, 2);
    /// assert_eq!(half.needed(10), 5);
    /// assert_eq!(half.needed(3), 2);
    /// assert_eq!(half.needed(1), 1);
    /// ```
    pub fn fraction(fraction: f64, min: u16) -> Quorum {
        let permille = if fraction.is_finite() && fraction > 0.0 && fraction <= 1.0 {
            // In (0, 1000] by the test above: the cast keeps the value.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let p = ((fraction * 1000.0).round() as u16).max(1);
            p
        } else {
            u16::MAX // refused by `check`
        };
        Quorum {
            min,
            permille,
            fraction,
        }
    }

    /// The first trip of any replica opens every replica: no quorum. Choose it where every
    /// replica reaches the dependency the same way and a local fault is not a concern.
    ///
    /// ```
    /// use async_breaker_fleet::Quorum;
    /// assert_eq!(Quorum::first_trip(), Quorum::replicas(1));
    /// ```
    pub const fn first_trip() -> Quorum {
        Quorum::replicas(1)
    }

    /// How many distinct replicas' trips open the fleet when `live` replicas are live (the
    /// server computes the same inside its scripts).
    ///
    /// ```
    /// use async_breaker_fleet::Quorum;
    /// assert_eq!(Quorum::fraction(0.25, 1).needed(8), 2);
    /// ```
    pub fn needed(&self, live: u32) -> u32 {
        // A fraction over 1 (refused by `build`) counts as all of them.
        let fraction = (live * u32::from(self.permille.min(1000))).div_ceil(1000);
        u32::from(self.min).max(fraction).min(live).max(1)
    }

    /// The minimum count and the fraction in per mille, as the scripts take them.
    pub(crate) fn args(self) -> (u16, u16) {
        (self.min, self.permille)
    }

    pub(crate) fn check(self) -> Result<Quorum, FleetError> {
        if !(1..=1000).contains(&self.min) {
            return Err(FleetError::Quorum(format!(
                "{} replicas: use 1 to 1000",
                self.min
            )));
        }
        if self.permille > 1000 {
            return Err(FleetError::Quorum(format!(
                "a fraction of {}: use a fraction above 0 and at most 1",
                self.fraction
            )));
        }
        Ok(self)
    }
}

impl Default for Quorum {
    /// Two distinct replicas (one while it is the only live replica).
    fn default() -> Quorum {
        Quorum::replicas(2)
    }
}

impl fmt::Debug for Quorum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.permille == 0 {
            write!(f, "Quorum::replicas({})", self.min)
        } else {
            write!(f, "Quorum::fraction({}, {})", self.fraction, self.min)
        }
    }
}

/// What the server last said about one attached breaker's replicas, from
/// [`Fleet::membership`](crate::Fleet::membership).
///
/// ```
/// use async_breaker_fleet::Membership;
/// let m = Membership::default();
/// assert_eq!((m.live, m.votes, m.needed), (0, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub struct Membership {
    /// Replicas of this breaker whose agent ran a script within the membership expiry.
    pub live: u32,
    /// Distinct live replicas whose trip in the current closed generation is still within
    /// the vote window (0 while the fleet is open).
    pub votes: u32,
    /// How many distinct replicas' trips open the fleet now.
    pub needed: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quorum_is_capped_by_the_live_replicas_and_never_zero() {
        assert_eq!(Quorum::replicas(5).needed(0), 1);
        assert_eq!(Quorum::replicas(5).needed(4), 4);
        assert_eq!(Quorum::replicas(5).needed(6), 5);
        assert_eq!(Quorum::fraction(1.0, 1).needed(7), 7);
        assert_eq!(Quorum::fraction(0.001, 1).needed(999), 1);
        assert_eq!(Quorum::fraction(0.001, 1).needed(1001), 2);
        assert_eq!(Quorum::fraction(0.5, 3).needed(4), 3);
        assert_eq!(
            Quorum::fraction(1.5, 1).needed(8),
            8,
            "refused, and never over all"
        );
    }

    #[test]
    fn bad_quorums_are_refused_by_check() {
        assert!(Quorum::replicas(0).check().is_err());
        assert!(Quorum::replicas(1001).check().is_err());
        assert!(Quorum::replicas(1000).check().is_ok());
        for bad in [0.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
            assert!(Quorum::fraction(bad, 1).check().is_err(), "{bad}");
        }
        assert!(Quorum::fraction(0.5, 0).check().is_err());
        assert_eq!(Quorum::fraction(0.3334, 1).args(), (1, 333));
        assert_eq!(Quorum::fraction(0.0001, 1).args(), (1, 1));
        assert!(Quorum::fraction(1.0, 1).check().is_ok());
    }

    #[test]
    fn debug_names_the_constructor() {
        assert_eq!(format!("{:?}", Quorum::default()), "Quorum::replicas(2)");
        assert_eq!(
            format!("{:?}", Quorum::fraction(0.5, 2)),
            "Quorum::fraction(0.5, 2)"
        );
    }
}
