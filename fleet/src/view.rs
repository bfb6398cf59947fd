//! The fleet's state of one breaker as the server reports it: in a script's reply or in a
//! pub/sub message. Both are parsed defensively: anything malformed is an `Err`, never a panic.

use std::time::Duration;

use redis::Value;

/// The longest message accepted on the channel.
pub(crate) const MAX_MESSAGE: usize = 512;
/// The message format's version tag.
const VERSION: &str = "abf2";

/// What the fleet is doing with one breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Every replica admits calls.
    Closed,
    /// The fleet's open period runs for `remaining` more.
    Open { remaining: Duration },
    /// `holder` holds the probe lease for `lease` more.
    Probing { holder: String, lease: Duration },
    /// The open period is over and nobody holds the lease: the next ACQUIRE wins.
    Due,
}

/// Why the fleet is where it is, as the scripts record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Why {
    /// Nothing recorded (a fresh state, or one written before reasons were kept).
    Unknown,
    /// `tripped` distinct replicas' breakers tripped, of `live` live replicas.
    Quorum { tripped: u16, live: u16 },
    /// Failures counted across replicas reached the threshold (from `replicas` replicas).
    Counted { replicas: u16 },
    /// The fleet's probe: it failed (open) or succeeded (closed).
    Probe,
}

impl Why {
    fn parse(code: &str, tripped: u64, live: u64) -> Result<Why, Malformed> {
        let n = |v: u64| u16::try_from(v).map_err(|_| Malformed("replica count out of range"));
        match code {
            "-" => Ok(Why::Unknown),
            "q" => Ok(Why::Quorum {
                tripped: n(tripped)?,
                live: n(live)?,
            }),
            "c" => Ok(Why::Counted {
                replicas: n(tripped)?,
            }),
            "p" => Ok(Why::Probe),
            _ => Err(Malformed("unknown cause")),
        }
    }
}

/// The breaker's membership as a script saw it: live replicas, trip votes of the closed
/// generation, and how many distinct replicas' trips open the fleet now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Count {
    pub(crate) live: u32,
    pub(crate) votes: u32,
    pub(crate) needed: u32,
}

/// One authoritative (script reply) or announced (message) state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct View {
    /// Random identity of the state key's life: a server restarted empty gets a new one.
    pub(crate) epoch: String,
    /// Bumped by every fleet transition.
    pub(crate) gen: u64,
    pub(crate) phase: Phase,
    pub(crate) level: u8,
    /// Whether the script made the transition it was asked for.
    pub(crate) won: bool,
    /// Why the fleet opened (or closed).
    pub(crate) why: Why,
    /// The membership now (script replies only).
    pub(crate) count: Option<Count>,
}

/// Why a reply or message was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed(pub(crate) &'static str);

fn is_epoch(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn phase_of(state: &str, ms: u64, holder: &str) -> Result<Phase, Malformed> {
    let ms = Duration::from_millis(ms);
    match state {
        "closed" => Ok(Phase::Closed),
        "open" if ms.is_zero() => Ok(Phase::Due),
        "open" => Ok(Phase::Open { remaining: ms }),
        "probing" if ms.is_zero() || holder == "-" => Ok(Phase::Due),
        "probing" if crate::keys::is_replica_id(holder) => Ok(Phase::Probing {
            holder: holder.to_owned(),
            lease: ms,
        }),
        _ => Err(Malformed("unknown state or holder")),
    }
}

fn level_of(level: u64) -> Result<u8, Malformed> {
    u8::try_from(level)
        .ok()
        .filter(|l| *l <= 7)
        .ok_or(Malformed("backoff level out of range"))
}

/// Parses a pub/sub message:
/// `abf2 <epoch> <gen> <state> <ms> <level> <holder> <cause> <tripped> <live> <name>`.
/// Returns the breaker's name and the announced state.
pub(crate) fn parse_message(payload: &[u8]) -> Result<(&str, View), Malformed> {
    if payload.len() > MAX_MESSAGE {
        return Err(Malformed("oversized"));
    }
    let text = std::str::from_utf8(payload).map_err(|_| Malformed("not UTF-8"))?;
    let mut parts = text.splitn(11, ' ');
    let mut next = || parts.next().ok_or(Malformed("truncated"));
    if next()? != VERSION {
        return Err(Malformed("unknown version"));
    }
    let epoch = next()?;
    let gen = next()?
        .parse::<u64>()
        .map_err(|_| Malformed("bad generation"))?;
    let state = next()?;
    let ms = next()?
        .parse::<u64>()
        .map_err(|_| Malformed("bad duration"))?;
    let level = next()?.parse::<u64>().map_err(|_| Malformed("bad level"))?;
    let holder = next()?;
    let cause = next()?;
    let tripped = next()?
        .parse::<u64>()
        .map_err(|_| Malformed("bad replica count"))?;
    let live = next()?
        .parse::<u64>()
        .map_err(|_| Malformed("bad replica count"))?;
    let name = next()?;
    if !is_epoch(epoch) || name.is_empty() {
        return Err(Malformed("bad epoch or name"));
    }
    let view = View {
        epoch: epoch.to_owned(),
        gen,
        phase: phase_of(state, ms, holder)?,
        level: level_of(level)?,
        won: false,
        why: Why::parse(cause, tripped, live)?,
        count: None,
    };
    Ok((name, view))
}

fn text(v: &Value) -> Result<&str, Malformed> {
    match v {
        Value::BulkString(b) => std::str::from_utf8(b).map_err(|_| Malformed("not UTF-8")),
        Value::SimpleString(s) => Ok(s),
        _ => Err(Malformed("expected a string")),
    }
}

fn number(v: &Value) -> Result<u64, Malformed> {
    match v {
        Value::Int(n) => u64::try_from(*n).map_err(|_| Malformed("negative number")),
        other => text(other)?
            .parse()
            .map_err(|_| Malformed("expected a number")),
    }
}

/// Parses the fleet script's reply: `{ epoch, gen, state, open pttl, level, holder, lease
/// pttl, won, cause, tripped, live at the opening, votes, live, needed }`.
pub(crate) fn parse_reply(reply: &Value) -> Result<View, Malformed> {
    let Value::Array(items) = reply else {
        return Err(Malformed("reply is not an array"));
    };
    let [epoch, gen, state, open_ms, level, holder, lease_ms, won, cause, tripped, opened_live, votes, live, needed] =
        items.as_slice()
    else {
        return Err(Malformed("reply has the wrong length"));
    };
    let small =
        |v: &Value| u32::try_from(number(v)?).map_err(|_| Malformed("replica count out of range"));
    let epoch = text(epoch)?;
    if !is_epoch(epoch) {
        return Err(Malformed("bad epoch"));
    }
    let state = text(state)?;
    let holder = text(holder)?;
    let ms = if state == "probing" {
        number(lease_ms)?
    } else {
        number(open_ms)?
    };
    Ok(View {
        epoch: epoch.to_owned(),
        gen: number(gen)?,
        phase: phase_of(state, ms, holder)?,
        level: level_of(number(level)?)?,
        won: number(won)? == 1,
        why: Why::parse(text(cause)?, number(tripped)?, number(opened_live)?)?,
        count: Some(Count {
            live: small(live)?,
            votes: small(votes)?,
            needed: small(needed)?,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_round_trips() {
        let (name, view) = parse_message(b"abf2 e1 7 open 1500 2 - q 3 8 pay ments").unwrap();
        assert_eq!(
            view.why,
            Why::Quorum {
                tripped: 3,
                live: 8
            }
        );
        assert_eq!(name, "pay ments");
        assert_eq!(view.gen, 7);
        assert_eq!(view.level, 2);
        assert_eq!(
            view.phase,
            Phase::Open {
                remaining: Duration::from_millis(1500)
            }
        );
        let (_, view) = parse_message(b"abf2 e1 8 probing 900 2 r-1 - 0 0 pay").unwrap();
        assert_eq!(
            view.phase,
            Phase::Probing {
                holder: "r-1".into(),
                lease: Duration::from_millis(900)
            }
        );
        let (_, view) = parse_message(b"abf2 e1 9 open 0 2 - - 0 0 pay").unwrap();
        assert_eq!(view.phase, Phase::Due);
    }

    #[test]
    fn a_closed_fleet_parses_from_a_message_and_a_reply() {
        let (name, view) = parse_message(b"abf2 e1 4 closed 0 0 - - 0 0 pay").unwrap();
        assert_eq!((name, view.gen, view.phase), ("pay", 4, Phase::Closed));
        let s = |x: &str| Value::BulkString(x.as_bytes().to_vec());
        let reply = Value::Array(vec![
            s("e1"),
            Value::Int(5),
            s("closed"),
            Value::Int(0),
            Value::Int(0),
            s("-"),
            Value::Int(0),
            Value::Int(0),
            s("p"),
            Value::Int(0),
            Value::Int(0),
            Value::Int(2),
            Value::Int(3),
            Value::Int(2),
        ]);
        let view = parse_reply(&reply).unwrap();
        assert_eq!((view.gen, view.phase, view.won), (5, Phase::Closed, false));
        assert_eq!(view.why, Why::Probe);
        assert_eq!(
            view.count,
            Some(Count {
                live: 3,
                votes: 2,
                needed: 2
            })
        );
    }

    /// `Due`: the open period is over and nobody holds the lease, whether the holder is the
    /// placeholder `-` or the lease has no time left.
    #[test]
    fn a_probe_without_a_holder_or_without_lease_time_is_due() {
        for message in [
            &b"abf2 e1 8 probing 900 2 - - 0 0 pay"[..],
            b"abf2 e1 8 probing 0 2 r-1 - 0 0 pay",
            b"abf2 e1 8 probing 0 2 - - 0 0 pay",
        ] {
            let (_, view) = parse_message(message).unwrap();
            assert_eq!(view.phase, Phase::Due, "{message:?}");
        }
    }

    /// `MAX_MESSAGE` bytes is the longest message accepted, one more is dropped unread.
    #[test]
    fn a_message_of_the_longest_accepted_length_parses() {
        let head = "abf2 e1 7 open 1500 2 - - 0 0 ";
        let longest = format!("{head}{}", "n".repeat(MAX_MESSAGE - head.len()));
        assert_eq!(longest.len(), MAX_MESSAGE);
        let (name, _) = parse_message(longest.as_bytes()).unwrap();
        assert_eq!(name.len(), MAX_MESSAGE - head.len());
        let over = format!("{longest}n");
        assert_eq!(parse_message(over.as_bytes()), Err(Malformed("oversized")));
    }

    /// A reply's strings count whether the server sends them as bulk or as simple strings.
    #[test]
    fn replies_accept_simple_strings_as_well_as_bulk_strings() {
        let s = |x: &str| Value::SimpleString(x.to_owned());
        let reply = Value::Array(vec![
            s("e1"),
            s("6"),
            s("open"),
            s("2500"),
            s("1"),
            s("-"),
            s("0"),
            s("0"),
            s("q"),
            s("2"),
            s("5"),
            s("0"),
            s("5"),
            s("2"),
        ]);
        let view = parse_reply(&reply).unwrap();
        assert_eq!(view.epoch, "e1");
        assert_eq!((view.gen, view.level), (6, 1));
        assert_eq!(
            view.why,
            Why::Quorum {
                tripped: 2,
                live: 5
            }
        );
        assert_eq!(
            view.phase,
            Phase::Open {
                remaining: Duration::from_millis(2500)
            }
        );
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let long = vec![b'a'; MAX_MESSAGE + 1];
        for bad in [
            &b""[..],
            b"abf2",
            b"abf1 e1 7 open 1500 2 - - 0 0 pay",
            b"abf1 e1 7 open 1500 2 - pay",
            b"abf2 e1 7 open 1500 2 - z 0 0 pay",
            b"abf2 e1 7 open 1500 2 - q 70000 8 pay",
            b"abf2 e1 7 open 1500 2 - q x 8 pay",
            b"abf2 e1 7 open 1500 2 - q 2 -8 pay",
            b"abf2 e1 -7 open 1500 2 - - 0 0 pay",
            b"abf2 e1 7 open 1500 9 - - 0 0 pay",
            b"abf2 e1 7 opened 1500 2 - - 0 0 pay",
            b"abf2 e:1 7 open 1500 2 - - 0 0 pay",
            b"abf2 e1 7 open 1500 2 - - 0 0",
            b"abf2 e1 99999999999999999999999 open 1 2 - - 0 0 pay",
            b"abf2 e1 7 probing 10 2 a:b - 0 0 pay",
            b"\xff\xfe",
            &long,
        ] {
            assert!(parse_message(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn replies_are_checked() {
        let s = |x: &str| Value::BulkString(x.as_bytes().to_vec());
        let good = Value::Array(vec![
            s("e1"),
            s("3"),
            s("probing"),
            Value::Int(0),
            Value::Int(1),
            s("r1"),
            Value::Int(700),
            Value::Int(1),
            s("c"),
            Value::Int(4),
            Value::Int(6),
            Value::Int(0),
            Value::Int(6),
            Value::Int(3),
        ]);
        let view = parse_reply(&good).unwrap();
        assert!(view.won);
        assert_eq!(view.gen, 3);
        assert_eq!(view.why, Why::Counted { replicas: 4 });
        assert_eq!(
            view.phase,
            Phase::Probing {
                holder: "r1".into(),
                lease: Duration::from_millis(700)
            }
        );
        assert!(parse_reply(&Value::Nil).is_err());
        assert!(parse_reply(&Value::Array(vec![s("e1")])).is_err());
    }
}
