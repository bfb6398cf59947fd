//! The name table with `std`: a map behind a mutex, locked only to build a breaker.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

static NAMES: Mutex<BTreeMap<&'static str, &'static &'static str>> = Mutex::new(BTreeMap::new());

pub(super) fn intern(name: Cow<'static, str>) -> &'static &'static str {
    // A panic while holding the lock leaves the map intact (inserting is the last step).
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(&entry) = names.get(&*name) {
        return entry;
    }
    let text = super::stored(name);
    let entry: &'static &'static str = Box::leak(Box::new(text));
    names.insert(text, entry);
    entry
}
