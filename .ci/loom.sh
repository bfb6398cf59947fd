#!/usr/bin/env bash
# Model-checks every compare-exchange transition of the breaker with loom (tests/loom/).
#
# The models build only under `--cfg async_breaker_loom`, which switches `crate::sync` (and so
# the breaker's word, its side words and `ManualClock`) to loom's atomics without switching any
# dependency. They are a package of their own, so a run builds only the library and loom, in a
# target directory of its own so the cfg change does not invalidate the normal build.
#
# LOOM_MAX_PREEMPTIONS bounds the preemptions loom explores per execution (default here: 5, about 10 s).
# Override it from the environment to go deeper, e.g. LOOM_MAX_PREEMPTIONS=5 .ci/loom.sh.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../tests/loom"

export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-5}"
export RUSTFLAGS="${RUSTFLAGS:-} --cfg async_breaker_loom"
export CARGO_TARGET_DIR="${LOOM_TARGET_DIR:-../../target/loom}"

echo "loom: LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS}, target dir ${CARGO_TARGET_DIR}"
start=$(date +%s)
cargo test --release -- --test-threads="${LOOM_TEST_THREADS:-2}"
echo "loom: models passed in $(( $(date +%s) - start )) s (build included)"
