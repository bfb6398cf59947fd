#!/usr/bin/env bash
# The crate without `std`: lint the library with no default features, then build a `#![no_std]`
# crate that uses it (feature unification cannot sneak `std` back in there).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo clippy --no-default-features --lib -- -D warnings
(cd .ci/nostd-check && CARGO_TARGET_DIR=../../target/nostd cargo build)
(cd .ci/nostd-check && CARGO_TARGET_DIR=../../target/nostd cargo tree -e normal --prefix none) \
    | grep -q '^quanta' && { echo "quanta must not be in a no_std build" >&2; exit 1; }
echo "no_std build ok"
