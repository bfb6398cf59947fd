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
mod table {
    use alloc::borrow::Cow;
    use alloc::boxed::Box;
    use alloc::collections::BTreeMap;
    use std::sync::{Mutex, PoisonError};

    static NAMES: Mutex<BTreeMap<&'static str, &'static &'static str>> =
        Mutex::new(BTreeMap::new());

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
}

/// Without `std` there is no mutex: the table is a list of leaked nodes, pushed under a spin
/// flag (so two builders can never both add the same name) and read without it.
#[cfg(not(feature = "std"))]
mod table {
    use alloc::borrow::Cow;
    use alloc::boxed::Box;
    use core::sync::atomic::{AtomicBool, Ordering};

    use crossbeam_utils::atomic::AtomicCell;

    struct Node {
        name: &'static str,
        next: Link,
    }

    /// A link compared by address.
    #[derive(Clone, Copy)]
    struct Link(Option<&'static Node>);

    impl PartialEq for Link {
        fn eq(&self, other: &Link) -> bool {
            match (self.0, other.0) {
                (Some(a), Some(b)) => core::ptr::eq(a, b),
                (a, b) => a.is_none() && b.is_none(),
            }
        }
    }

    impl Eq for Link {}

    static HEAD: AtomicCell<Link> = AtomicCell::new(Link(None));
    static WRITING: AtomicBool = AtomicBool::new(false);

    fn find(mut link: Link, name: &str) -> Option<&'static &'static str> {
        while let Some(node) = link.0 {
            if node.name == name {
                return Some(&node.name);
            }
            link = node.next;
        }
        None
    }

    pub(super) fn intern(name: Cow<'static, str>) -> &'static &'static str {
        if let Some(entry) = find(HEAD.load(), &name) {
            return entry;
        }
        while WRITING
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        // Only the holder of the flag pushes, so the head read here is the head replaced below.
        let head = HEAD.load();
        let entry = find(head, &name).unwrap_or_else(|| {
            let node: &'static Node = Box::leak(Box::new(Node {
                name: super::stored(name),
                next: head,
            }));
            HEAD.store(Link(Some(node)));
            &node.name
        });
        WRITING.store(false, Ordering::Release);
        entry
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
