//! Support for the `#[circuit]` attribute (work in progress).
