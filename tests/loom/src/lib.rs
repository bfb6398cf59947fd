//! Loom models live in `tests/models.rs`.
