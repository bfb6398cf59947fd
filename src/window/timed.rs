//! The time-based window: a ring of buckets, each one word.
//!
//! ```text
//! 63                 32 31        16 15         0
//! +---------------------+------------+------------+
//! |   bucket number     |   calls    |    hits    |
//! +---------------------+------------+------------+
//! ```
//!
//! No tag: an outcome is filed under the clock reading taken *before* its ticket was checked
//! against the state word, so an outcome of an earlier cycle always lands in a bucket no later
//! than the one holding the new cycle's stamp, and a cycle only counts the buckets after that one
//! (the very first cycle, stamped 0, counts them all). Bucket numbers are kept modulo 2^32.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::Tally;
use crate::sync::{AtomicU64, Ordering};

/// Bucket numbers wrap at 2^32 buckets.
const NUMBER_MASK: u64 = 0xffff_ffff;

pub(super) struct Timed {
    buckets: Box<[AtomicU64]>,
    bucket_ms: u64,
}

fn bucket(raw: u64) -> (u64, u64, u64) {
    (raw >> 32, (raw >> 16) & 0xffff, raw & 0xffff)
}

impl Timed {
    pub(super) fn new(buckets: u32, bucket_ms: u64) -> Timed {
        // Bucket 0 with nothing in it: the same as an empty bucket.
        let buckets = (0..buckets).map(|_| AtomicU64::new(0)).collect::<Vec<_>>();
        Timed {
            buckets: buckets.into_boxed_slice(),
            bucket_ms,
        }
    }

    /// Files one outcome (`hit`: whether it is what the window counts) at `at` and sums the
    /// window of the cycle stamped `cycle`.
    pub(super) fn record(&self, cycle: u64, hit: bool, at: u64) -> Tally {
        let number = (at / self.bucket_ms) & NUMBER_MASK;
        let slot = &self.buckets[usize::try_from(number % self.buckets.len() as u64).unwrap_or(0)];
        let mut observed = slot.load(Ordering::Acquire);
        loop {
            let (held, calls, hits) = bucket(observed);
            // The same bucket: add to it. Another (earlier) lap of the ring: start it afresh.
            let (calls, hits) = if held == number {
                (calls, hits)
            } else {
                (0, 0)
            };
            let next = (number << 32)
                | ((calls + 1).min(0xffff) << 16)
                | (hits + u64::from(hit)).min(0xffff);
            match slot.compare_exchange_weak(observed, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return self.tally(cycle, at),
                Err(actual) => observed = actual,
            }
        }
    }

    /// Sums the buckets inside the window at `now` that belong to the cycle stamped `cycle`:
    /// those after the bucket holding the stamp (all of them for the first cycle, stamped 0).
    pub(super) fn tally(&self, cycle: u64, now: u64) -> Tally {
        let full = now / self.bucket_ms;
        let number = full & NUMBER_MASK;
        let lap = self.buckets.len() as u64;
        // How many buckets ago the cycle began (its own bucket is not counted). A cycle stamped
        // ahead of the reading (a reset in the same millisecond, a clock that stepped back) has
        // no bucket after its own yet.
        let began = if cycle == 0 {
            u64::MAX
        } else {
            full.saturating_sub(cycle / self.bucket_ms)
        };
        let mut tally = Tally::EMPTY;
        for slot in &*self.buckets {
            let (held, calls, hits) = bucket(slot.load(Ordering::Acquire));
            let age = number.wrapping_sub(held) & NUMBER_MASK;
            if age < lap && age < began {
                tally.calls += u32::try_from(calls).unwrap_or(u32::MAX);
                tally.hits += u32::try_from(hits).unwrap_or(u32::MAX);
            }
        }
        tally
    }
}
