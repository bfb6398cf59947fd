//! Key and channel names, and the validation of the names that go into them.

use crate::FleetError;

/// The keys of one breaker. The breaker's name is the hash tag (`{name}`), so one breaker's
/// keys share a Redis Cluster slot and one script can touch them all.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    pub(crate) state: String,
    pub(crate) open: String,
    pub(crate) lease: String,
    /// Live replicas: a sorted set scored with the server's time of each one's last script.
    pub(crate) members: String,
    /// Trip votes of the closed generation, scored with the server's time of each trip.
    pub(crate) votes: String,
    /// Replicas that counted failures in the closed generation (fleet counting).
    pub(crate) counted: String,
}

impl Keys {
    pub(crate) fn new(namespace: &str, name: &str) -> Keys {
        let key = |suffix: &str| format!("{namespace}:{{{name}}}:{suffix}");
        Keys {
            state: key("state"),
            open: key("open"),
            lease: key("lease"),
            members: key("members"),
            votes: key("votes"),
            counted: key("counted"),
        }
    }
}

/// The one pub/sub channel of a namespace: every message names its breaker.
pub(crate) fn channel(namespace: &str) -> String {
    format!("{namespace}:fleet")
}

/// One replica's own channel, on which its agent tells its subscriber to stop: a message there
/// only makes the subscriber look at its stop flag.
pub(crate) fn stop_channel(namespace: &str, replica: &str) -> String {
    format!("{namespace}:fleet:stop:{replica}")
}

pub(crate) fn check_namespace(namespace: &str) -> Result<(), FleetError> {
    let ok = (1..=64).contains(&namespace.len())
        && namespace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(FleetError::Namespace(namespace.to_owned()))
    }
}

pub(crate) fn check_replica_id(id: &str) -> Result<(), FleetError> {
    if is_replica_id(id) {
        Ok(())
    } else {
        Err(FleetError::ReplicaId(id.to_owned()))
    }
}

/// Replica ids travel in lease values and messages: a word without spaces or colons.
pub(crate) fn is_replica_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

pub(crate) fn check_breaker_name(name: &str) -> Result<(), FleetError> {
    let ok = (1..=128).contains(&name.len())
        && !name
            .chars()
            .any(|c| c == '{' || c == '}' || c.is_control() || (c.is_whitespace() && c != ' '));
    if ok {
        Ok(())
    } else {
        Err(FleetError::BreakerName(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_one_hash_tag() {
        let keys = Keys::new("app", "payments");
        assert_eq!(keys.state, "app:{payments}:state");
        assert_eq!(keys.open, "app:{payments}:open");
        assert_eq!(keys.lease, "app:{payments}:lease");
        assert_eq!(keys.members, "app:{payments}:members");
        assert_eq!(keys.votes, "app:{payments}:votes");
        assert_eq!(keys.counted, "app:{payments}:counted");
        assert_eq!(channel("app"), "app:fleet");
        // Under the namespace's channel prefix (one ACL pattern covers both), one per replica.
        assert_eq!(stop_channel("app", "web-1"), "app:fleet:stop:web-1");
    }

    #[test]
    fn names_are_validated() {
        assert!(check_breaker_name("payments api").is_ok());
        assert!(check_breaker_name("").is_err());
        assert!(check_breaker_name("a}b").is_err());
        assert!(check_breaker_name("a\nb").is_err());
        assert!(check_breaker_name(&"x".repeat(129)).is_err());
        assert!(check_namespace("my-app:prod").is_ok());
        assert!(check_namespace("my app").is_err());
        assert!(check_replica_id("host-1.pod_2").is_ok());
        assert!(check_replica_id("a:b").is_err());
        assert!(check_replica_id("").is_err());
    }

    /// Names hold no whitespace but a plain space, and no control character, whitespace or not.
    #[test]
    fn breaker_names_refuse_other_whitespace_and_control_characters() {
        assert!(
            check_breaker_name("payments\u{2003}api").is_err(),
            "an em space"
        );
        assert!(check_breaker_name("payments\u{0}api").is_err(), "a NUL");
        assert!(check_breaker_name("payments\tapi").is_err(), "a tab");
        assert!(check_breaker_name("paiements café").is_ok());
    }
}
