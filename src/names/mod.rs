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
mod table;

#[cfg(not(feature = "std"))]
#[path = "leaked.rs"]
mod table;

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
