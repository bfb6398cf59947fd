//! Property tests of the packed word's encoding and invariants (filled in by the proof work).
