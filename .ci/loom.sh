#!/usr/bin/env bash
# Model-checks every compare-exchange transition of the breaker with loom (src/loom_models.rs).
#
# The models build only under `--cfg async_breaker_loom`, which switches `crate::sync` (and so
# the breaker's word and `ManualClock`) to loom's atomics without switching any dependency. They
# get their own target directory so the cfg change does not invalidate the normal build.
#
# LOOM_MAX_PREEMPTIONS bounds the preemptions loom explores per execution (default here: 3,
# which covers every model in a few minutes on 2 cores). Override it from the environment to go
# deeper, e.g. LOOM_MAX_PREEMPTIONS=4 .ci/loom.sh.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
export RUSTFLAGS="${RUSTFLAGS:-} --cfg async_breaker_loom"
export CARGO_TARGET_DIR="${LOOM_TARGET_DIR:-${CARGO_TARGET_DIR:-target}/loom}"

echo "loom: LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS}, target dir ${CARGO_TARGET_DIR}"
start=$(date +%s)
cargo test --lib --release loom_models -- --test-threads="${LOOM_TEST_THREADS:-2}"
echo "loom: models passed in $(( $(date +%s) - start )) s (build included)"
