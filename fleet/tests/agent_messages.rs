//! Versioned state and bad input: replayed or older messages are discarded, messages from
//! another epoch are never trusted blindly, and garbage in the keys or on the channel is
//! counted and ignored, never a panic.

mod agent_support;

use std::time::Duration;

use agent_support::{admits, fail, redis, server, test_replicas, wait_until, Replica};

const NS: &str = "msgs";
const CHANNEL: &str = "msgs:fleet";
const STATE: &str = "msgs:{dep}:state";

/// Two replicas whose breaker (threshold 2) stays open for a minute once tripped: the fleet
/// stays open for the whole test.
fn two_replicas(url: &str) -> Vec<Replica> {
    test_replicas(
        url,
        NS,
        2,
        Duration::from_secs(10),
        2,
        Duration::from_secs(60),
    )
}

#[test]
fn stale_replayed_and_foreign_epoch_messages_change_nothing() {
    let server = server();
    let url = server.url();
    let replicas = two_replicas(&url);
    let b = &replicas[1].fleet;
    let (ba, bb) = (&replicas[0].breaker, &replicas[1].breaker);

    fail(ba, 2);
    wait_until("b is held by the fleet", || !admits(bb));
    let (epoch, gen): (String, u64) = redis(&url, |c| {
        redis::cmd("HMGET")
            .arg(STATE)
            .arg("epoch")
            .arg("gen")
            .query(c)
    });
    assert!(gen >= 1);

    // Replays of the closed generation before the trip and of the trip itself: stale.
    let before = b.stats();
    for g in [gen - 1, gen] {
        let replay = format!("abf2 {epoch} {g} closed 0 0 - - 0 0 dep");
        let _: i64 = redis(&url, |c| {
            redis::cmd("PUBLISH").arg(CHANNEL).arg(&replay).query(c)
        });
    }
    wait_until("both replays are discarded as stale", || {
        b.stats().stale_discarded >= before.stale_discarded + 2
    });
    assert!(!admits(bb), "a replayed close re-closed the breaker");

    // A newer generation from another epoch (a server that lost its state, or a forgery):
    // not applied; the agent reads the authoritative state instead, which is still open.
    let before = b.stats();
    let foreign = format!("abf2 0ther {} closed 0 0 - - 0 0 dep", gen + 100);
    let _: i64 = redis(&url, |c| {
        redis::cmd("PUBLISH").arg(CHANNEL).arg(&foreign).query(c)
    });
    wait_until("the foreign message is received and a read follows", || {
        let s = b.stats();
        s.messages_received > before.messages_received && s.scripts_run > before.scripts_run
    });
    assert!(
        !admits(bb),
        "a message from another epoch closed the breaker"
    );
    assert_eq!(b.stats().messages_applied, before.messages_applied);
}

#[test]
fn garbage_on_the_channel_and_in_the_keys_is_counted_and_overwritten() {
    let server = server();
    let url = server.url();
    let replicas = two_replicas(&url);
    let b = &replicas[1].fleet;
    let (ba, bb) = (&replicas[0].breaker, &replicas[1].breaker);

    let oversized = format!("abf2 e1 9 open 1000 0 - - 0 0 {}", "x".repeat(4096));
    let garbage: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"hello".to_vec(),
        b"abf2 e1 9".to_vec(),
        b"abf9 e1 9 open 1000 0 - - 0 0 dep".to_vec(),
        b"abf2 e1 -1 open 1000 0 - - 0 0 dep".to_vec(),
        b"abf2 e1 9 open 1000 42 - - 0 0 dep".to_vec(),
        b"abf2 e1 9 wide-open 1000 0 - - 0 0 dep".to_vec(),
        b"abf2 e1 9 open 99999999999999999999999 0 - - 0 0 dep".to_vec(),
        vec![0xff, 0x00, 0xfe],
        oversized.into_bytes(),
    ];
    let before = b.stats();
    for g in &garbage {
        let _: i64 = redis(&url, |c| {
            redis::cmd("PUBLISH")
                .arg(CHANNEL)
                .arg(g.as_slice())
                .query(c)
        });
    }
    let n = garbage.len() as u64;
    wait_until("every garbage message is counted", || {
        b.stats().malformed_dropped >= before.malformed_dropped + n
    });
    assert!(admits(ba) && admits(bb), "garbage changed a breaker");
    assert!(b.stats().connected);

    // Garbage of every kind in the keys: wrong types, bad fields, values without a TTL.
    redis(&url, |c| {
        redis::pipe()
            .cmd("DEL")
            .arg(STATE)
            .ignore()
            .cmd("SET")
            .arg(STATE)
            .arg("not a hash")
            .ignore()
            .cmd("HSET")
            .arg("msgs:{dep}:open")
            .arg("f")
            .arg("v")
            .ignore()
            .cmd("SET")
            .arg("msgs:{dep}:lease")
            .arg("no-ttl")
            .ignore()
            .query::<()>(c)
    });
    wait_until("a reconciliation ran over the garbage", || {
        b.stats().scripts_run > before.scripts_run + 2
    });
    assert!(admits(bb), "garbage keys opened a breaker");
    redis(&url, |c| {
        redis::cmd("HSET")
            .arg(STATE)
            .arg("v")
            .arg("1")
            .arg("epoch")
            .arg("e!")
            .arg("gen")
            .arg("x")
            .query::<()>(c)?;
        redis::cmd("DEL").arg("msgs:{dep}:open").query::<()>(c)
    });
    // The fleet still works: a trip overwrites the garbage and reaches the other replica.
    fail(ba, 2);
    wait_until("b is held after the trip", || !admits(bb));
    let state: String = redis(&url, |c| {
        redis::cmd("HGET").arg(STATE).arg("state").query(c)
    });
    assert_eq!(state, "open");
}
