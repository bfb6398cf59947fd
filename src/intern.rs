//! The process-wide table of breaker names given at run time (`String`, `Cow::Owned`).
//!
//! Each distinct name is copied into the table once, the first time a builder is given it, and
//! lives until the process ends; every later breaker with the same name shares that copy. A
//! breaker and each of its rejections then hold a plain `&'static str`: copying it into a
//! rejection writes nothing shared (a reference-counted name would write its count on every
//! rejection, and every rejecting core would fight over that cache line).
//!
//! The table only grows by names never seen before: its size is the total length of the
//! *distinct* runtime names a process ever uses, however many breakers are built with them.
//! `&'static str` names never enter it.

use alloc::boxed::Box;
use alloc::string::String;

/// The one copy of `name` in the table, adding it if it is new.
pub(crate) fn intern(name: String) -> &'static str {
    table::intern(name)
}

#[cfg(feature = "std")]
mod table {
    use alloc::collections::BTreeSet;
    use std::sync::{Mutex, PoisonError};

    use super::{Box, String};

    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());

    pub(super) fn intern(name: String) -> &'static str {
        // A panic while holding the lock leaves the set intact (inserting is the last step).
        let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(&known) = names.get(name.as_str()) {
            return known;
        }
        let name: &'static str = Box::leak(name.into_boxed_str());
        names.insert(name);
        name
    }
}

/// Without `std` there is no mutex: the table is a list of leaked nodes, pushed under a spin
/// flag (so two builders can never both add the same name) and read without it.
#[cfg(not(feature = "std"))]
mod table {
    use core::sync::atomic::{AtomicBool, Ordering};

    use crossbeam_utils::atomic::AtomicCell;

    use super::{Box, String};

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

    fn find(mut link: Link, name: &str) -> Option<&'static str> {
        while let Some(node) = link.0 {
            if node.name == name {
                return Some(node.name);
            }
            link = node.next;
        }
        None
    }

    pub(super) fn intern(name: String) -> &'static str {
        if let Some(known) = find(HEAD.load(), &name) {
            return known;
        }
        while WRITING
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        // Only the holder of the flag pushes, so the head read here is the head replaced below.
        let head = HEAD.load();
        let interned = find(head, &name).unwrap_or_else(|| {
            let name: &'static str = Box::leak(name.into_boxed_str());
            HEAD.store(Link(Some(Box::leak(Box::new(Node { name, next: head })))));
            name
        });
        WRITING.store(false, Ordering::Release);
        interned
    }
}

#[cfg(test)]
mod tests {
    use super::intern;
    use alloc::string::ToString;

    #[test]
    fn a_name_is_stored_once() {
        let first = intern("intern-test-a".to_string());
        let again = intern("intern-test-a".to_string());
        assert_eq!(first, "intern-test-a");
        assert!(
            core::ptr::eq(first, again),
            "the second build reuses the first copy"
        );
        let other = intern("intern-test-b".to_string());
        assert!(!core::ptr::eq(first, other));
    }
}
