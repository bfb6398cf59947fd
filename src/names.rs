//! Breaker names, and the handle a rejection carries in place of one.
//!
//! A rejection must write no memory shared with other threads: a reference-counted name would
//! have every rejecting core bump one count on one cache line. So an [`OpenError`] does not own
//! its breaker's name; it carries a [`Name`], one word, copied out of the breaker.
//!
//! With `std`, a [`Name`] is a serial number, and a process-wide table maps serials to text. A
//! name given at run time (a `String`, a `Cow::Owned`) gets an entry of its own when its
//! breaker is built, removed when that breaker is dropped, so those entries are exactly the
//! runtime names of the breakers alive now: a service that names a breaker after each upstream
//! host it learns returns the memory when it drops them. A `&'static str` name is entered once,
//! the first time it is used, and kept (a program has only so many string literals), so its
//! rejections read it for ever. Only building, dropping and *reading* a rejection's name take
//! the table's lock; making a rejection does not. A rejection that outlives every breaker of a
//! runtime name reads [`DROPPED`]. Serials are never reused (64 bits), so a rejection never
//! reads another breaker's name.
//!
//! Without `std` there is no lock to guard a table (the library has no `unsafe`), so a name is
//! stored for the life of the program, once per breaker built with it: name breakers with
//! literals, or build breakers with runtime names once, at start-up.
//!
//! [`OpenError`]: crate::OpenError

use alloc::borrow::Cow;

/// What a rejection reads as its name when every breaker with that name has been dropped.
#[cfg(feature = "std")]
pub(crate) const DROPPED: &str = "<dropped breaker>";

/// The name of a breaker that was given none.
const UNNAMED: &str = "unnamed";

pub(crate) use table::Name;

/// A named breaker's hold on its name: the text, and the table entry rejections read, removed
/// when this is dropped.
pub(crate) struct Named {
    name: Name,
    #[cfg(feature = "std")]
    text: Cow<'static, str>,
}

impl Named {
    /// Registers `text` as the name of one new breaker.
    pub(crate) fn new(text: Cow<'static, str>) -> Named {
        #[cfg(feature = "std")]
        {
            Named {
                name: table::register(&text),
                text,
            }
        }
        #[cfg(not(feature = "std"))]
        {
            Named {
                name: table::register(text),
            }
        }
    }

    /// The handle a rejection carries.
    #[inline]
    pub(crate) fn name(&self) -> Name {
        self.name
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        #[cfg(feature = "std")]
        {
            &self.text
        }
        #[cfg(not(feature = "std"))]
        {
            self.name.0
        }
    }
}

#[cfg(feature = "std")]
impl Drop for Named {
    fn drop(&mut self) {
        if let Cow::Owned(_) = self.text {
            table::release(self.name);
        }
    }
}

/// The name of a breaker that may have none.
pub(crate) fn text_of(named: Option<&Named>) -> &str {
    named.map_or(UNNAMED, Named::as_str)
}

#[cfg(feature = "std")]
mod table {
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
}

#[cfg(not(feature = "std"))]
mod table {
    use alloc::borrow::Cow;
    use alloc::boxed::Box;

    /// The name's text, kept for the life of the program, behind one thin pointer.
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub(crate) struct Name(pub(super) &'static &'static str);

    pub(super) fn register(text: Cow<'static, str>) -> Name {
        let text: &'static str = match text {
            Cow::Borrowed(text) => text,
            Cow::Owned(text) => Box::leak(text.into_boxed_str()),
        };
        Name(Box::leak(Box::new(text)))
    }

    impl Name {
        pub(crate) const UNNAMED: Name = Name(&super::UNNAMED);

        /// The text this handle names.
        pub(crate) fn text(self) -> Cow<'static, str> {
            Cow::Borrowed(self.0)
        }
    }
}

impl core::fmt::Debug for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(&self.text(), f)
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::{Name, Named, DROPPED};
    use alloc::borrow::Cow;
    use alloc::string::ToString;

    #[test]
    fn a_name_reads_back_while_its_breaker_lives_and_is_freed_with_it() {
        let a = Named::new(Cow::Owned("names-test-a".to_string()));
        let a2 = Named::new(Cow::Owned("names-test-a".to_string()));
        let b = Named::new(Cow::Borrowed("names-test-a"));
        let b2 = Named::new(Cow::Borrowed("names-test-a"));
        assert_eq!((a.as_str(), b.as_str()), ("names-test-a", "names-test-a"));
        assert!(a.name() != a2.name(), "each runtime name has its own entry");
        assert!(a.name() != b.name());
        assert!(b.name() == b2.name(), "a static name is entered once");
        let (kept_a, kept_b) = (a.name(), b.name());
        assert_eq!(kept_a.text(), "names-test-a");
        assert!(matches!(kept_b.text(), Cow::Borrowed("names-test-a")));
        drop(a);
        assert_eq!(kept_a.text(), DROPPED);
        assert_eq!(a2.name().text(), "names-test-a", "the other entry stays");
        drop((b, b2));
        assert_eq!(kept_b.text(), "names-test-a", "a static name is kept");
        assert_eq!(Name::UNNAMED.text(), "unnamed");
    }
}
