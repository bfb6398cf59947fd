//! The process-wide table of breaker names.
//!
//! Each distinct name is stored once, the first time a builder is given it, and lives until the
//! process ends; every later breaker with the same name shares that entry. A breaker and each
//! of its rejections then hold one thin pointer to a `&'static str`: copying it into a
//! rejection writes nothing shared (a reference-counted name would write its count on every
//! rejection, and every rejecting core would fight over that cache line), and keeps the
//! rejection small enough to be returned in two registers.
//!
//! The table only grows by names never seen before. Its size is bounded by the *distinct* names
//! a process ever uses, however many breakers are built with them: one entry (a pointer and a
//! length, plus the table's own node) per name, and for a runtime name (`String`,
//! `Cow::Owned`) one copy of its text. A `&'static str` name is not copied: its entry points at
//! it.

use alloc::borrow::Cow;
use alloc::boxed::Box;

/// The one entry for `name` in the table, adding it if it is new.
pub(crate) fn intern(name: Cow<'static, str>) -> &'static &'static str {
    table::intern(name)
}

/// The `'static` text of a new entry: a `&'static str` as it is, a runtime name leaked once.
fn stored(name: Cow<'static, str>) -> &'static str {
    match name {
        Cow::Borrowed(name) => name,
        Cow::Owned(name) => Box::leak(name.into_boxed_str()),
    }
}

#[cfg(feature = "std")]
#[path = "locked.rs"]
mod table;

#[cfg(all(not(feature = "std"), target_has_atomic = "ptr"))]
#[path = "list.rs"]
mod table;

// TEMPORARY, until the rewrite of the no_std table (which takes its flag from portable-atomic)
// lands: list.rs needs crossbeam's `AtomicCell` and a compare-exchange on `AtomicBool`, neither
// of which exists without a pointer-sized compare-exchange (thumbv6m). There every build gets an
// entry of its own: correct names, no sharing.
#[cfg(all(not(feature = "std"), not(target_has_atomic = "ptr")))]
mod table {
    use alloc::borrow::Cow;
    use alloc::boxed::Box;

    pub(super) fn intern(name: Cow<'static, str>) -> &'static &'static str {
        Box::leak(Box::new(super::stored(name)))
    }
}

#[cfg(test)]
mod tests {
    use super::intern;
    use alloc::borrow::Cow;
    use alloc::string::ToString;

    #[test]
    fn a_name_is_stored_once() {
        let first = intern(Cow::Owned("intern-test-a".to_string()));
        let again = intern(Cow::Owned("intern-test-a".to_string()));
        let borrowed = intern(Cow::Borrowed("intern-test-a"));
        assert_eq!(*first, "intern-test-a");
        assert!(
            core::ptr::eq(first, again),
            "the second build reuses the entry"
        );
        assert!(core::ptr::eq(first, borrowed), "whatever kind of name");
        let other = intern(Cow::Borrowed("intern-test-b"));
        assert!(!core::ptr::eq(first, other));
        assert_eq!(*other, "intern-test-b");
    }
}
