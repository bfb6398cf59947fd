//! Names without `std`: no lock to guard a table, so each name is kept for good.

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

#[cfg(test)]
mod tests {
    use super::{register, Name};
    use alloc::borrow::Cow;
    use alloc::string::ToString;

    #[test]
    fn every_kind_of_name_reads_back() {
        assert_eq!(register(Cow::Borrowed("leaked-a")).text(), "leaked-a");
        let owned = register(Cow::Owned("leaked-b".to_string()));
        assert_eq!(owned.text(), "leaked-b");
        assert!(owned != Name::UNNAMED);
        assert_eq!(Name::UNNAMED.text(), "unnamed");
    }
}
