#!/usr/bin/env bash
# The crate without `std`: lint the library with no default features and run its unit tests,
# then build a `#![no_std]` crate that uses it (feature unification cannot sneak `std` back in
# there).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo clippy --no-default-features --lib -- -D warnings
# The unit tests without `std` (the name table and the lock-free paths have no_std variants).
cargo test --no-default-features --lib
(cd .ci/nostd-check && CARGO_TARGET_DIR=../../target/nostd cargo build)
(cd .ci/nostd-check && CARGO_TARGET_DIR=../../target/nostd cargo tree -e normal --prefix none) \
    | grep -q '^quanta' && { echo "quanta must not be in a no_std build" >&2; exit 1; }
echo "no_std build ok"
