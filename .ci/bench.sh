#!/usr/bin/env bash
# Compile every benchmark without running it, so benches never rot in CI.
# (The zero-allocation proof, tests/alloc.rs, runs with the normal `cargo test`.)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --no-run "$@"
