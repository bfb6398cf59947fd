//! Loom models of every compare-exchange transition (filled in by the proof work).
