//! The name table with `std`: serials to text, behind a lock taken to build, drop and read.

use alloc::borrow::Cow;
use alloc::collections::BTreeMap;
use core::num::NonZeroU64;
use std::sync::{PoisonError, RwLock};

/// A breaker's serial in the table; 1 is the unnamed breaker, which has no entry. Never 0,
/// so that a `Result<_, OpenError>` needs no room of its own for the discriminant.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Name(NonZeroU64);

struct Table {
    /// The serial the next registration takes.
    next: u64,
    names: BTreeMap<u64, Cow<'static, str>>,
    /// The serial of each `&'static str` name entered so far (kept for good).
    statics: BTreeMap<&'static str, u64>,
}

static TABLE: RwLock<Table> = RwLock::new(Table {
    next: 2,
    names: BTreeMap::new(),
    statics: BTreeMap::new(),
});

// A `Cow` and not a `&str`: a borrowed name's entry borrows it too, no copy.
#[allow(clippy::ptr_arg)]
pub(super) fn register(text: &Cow<'static, str>) -> Name {
    // No code that can panic runs under the lock but the map's own, which leaves it intact.
    let mut table = TABLE.write().unwrap_or_else(PoisonError::into_inner);
    if let Cow::Borrowed(text) = text {
        if let Some(&serial) = table.statics.get(text) {
            return Name::from_serial(serial);
        }
    }
    let serial = table.next;
    table.next += 1;
    table.names.insert(serial, text.clone());
    if let Cow::Borrowed(text) = text {
        table.statics.insert(text, serial);
    }
    Name::from_serial(serial)
}

pub(super) fn release(name: Name) {
    let mut table = TABLE.write().unwrap_or_else(PoisonError::into_inner);
    table.names.remove(&name.0.get());
}

impl Name {
    pub(crate) const UNNAMED: Name = Name(NonZeroU64::MIN);

    fn from_serial(serial: u64) -> Name {
        Name(NonZeroU64::new(serial).unwrap_or(NonZeroU64::MAX))
    }

    /// The text this handle names: borrowed for a `&'static str` name, a copy for a
    /// runtime name, [`DROPPED`](super::DROPPED) once its breaker is gone.
    pub(crate) fn text(self) -> Cow<'static, str> {
        if self == Name::UNNAMED {
            return Cow::Borrowed(super::UNNAMED);
        }
        let table = TABLE.read().unwrap_or_else(PoisonError::into_inner);
        table
            .names
            .get(&self.0.get())
            .cloned()
            .unwrap_or(Cow::Borrowed(super::DROPPED))
    }
}
