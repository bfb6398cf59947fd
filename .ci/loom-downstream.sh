#!/usr/bin/env bash
# Model-checks a downstream crate's own code around the breaker with loom
# (examples/loom-downstream/, the recipe of docs/loom.md): a refreshing cache whose
# single-flight refresh goes through a breaker permit.
#
# 1. The cache as shipped: every model passes.
# 2. The same models against a deliberately broken single-flight claim (feature `broken`, a
#    check-then-act race): the build must succeed, and the run must fail on the model's own
#    assertion ("single flight violated"), not on anything else.
# 3. loom's account of that failure: the failing execution is recorded (LOOM_CHECKPOINT_FILE,
#    written before every iteration) and replayed alone with LOOM_LOG and LOOM_LOCATION, and its
#    thread switches and atomic operations are printed.
#
# Both `--cfg loom` (the crate's own atomics) and `--cfg async_breaker_loom` (the breaker's) are
# set. The crate is a workspace of its own with its own target directory, so the cfg change does
# not invalidate the normal build. LOOM_MAX_PREEMPTIONS bounds the preemptions per execution
# (default here: 4; the models pass unbounded too, in a few seconds).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}/examples/loom-downstream"

export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-4}"
export RUSTFLAGS="${RUSTFLAGS:-} --cfg loom --cfg async_breaker_loom"
export CARGO_TARGET_DIR="${LOOM_DOWNSTREAM_TARGET_DIR:-${root}/target/loom-downstream}"
export NO_COLOR=1
# Only the last step asks for loom's log, location tracking and checkpoints.
unset LOOM_LOG LOOM_LOCATION LOOM_CHECKPOINT_FILE LOOM_CHECKPOINT_INTERVAL

out="${CARGO_TARGET_DIR}/broken"
mkdir -p "${out}"
model=(cargo test --release --locked --test model)
broken=(cargo test --release --locked --features broken --test model)
race=one_refresh_at_a_time_while_closed

echo "loom-downstream: LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS}, target dir ${CARGO_TARGET_DIR}"
start=$SECONDS

echo "--- the cache's protocol: every model must pass"
"${model[@]}" -- --test-threads=2

echo "--- the broken single-flight claim: it builds..."
"${broken[@]}" --no-run

echo "--- ...and the model must reject it"
status=0
"${broken[@]}" -- --test-threads=2 >"${out}/run.log" 2>&1 || status=$?
grep -E '^test |^test result' "${out}/run.log" || true
fail() {
    echo "loom-downstream: $1 (full output: $2)" >&2
    exit 1
}
if [ "${status}" -eq 0 ]; then
    fail "the broken protocol passed the models" "${out}/run.log"
fi
grep -q "test ${race} ... FAILED" "${out}/run.log" ||
    fail "the model ${race} did not fail" "${out}/run.log"
grep -q "single flight violated: two refreshes reached the upstream at once" "${out}/run.log" ||
    fail "the run failed, but not on the model's single-flight assertion" "${out}/run.log"
echo "(the broken protocol failed the model, exit status ${status}, as it must)"

echo "--- loom's failing execution of ${race}, replayed alone"
checkpoint="${out}/${race}.json"
rm -f "${checkpoint}"
status=0
LOOM_CHECKPOINT_INTERVAL=1 LOOM_CHECKPOINT_FILE="${checkpoint}" \
    "${broken[@]}" -- --exact "${race}" >"${out}/record.log" 2>&1 || status=$?
if [ "${status}" -eq 0 ] || [ ! -s "${checkpoint}" ]; then
    fail "recording the failing execution did not fail, or wrote no checkpoint" "${out}/record.log"
fi
status=0
LOOM_LOG=trace LOOM_LOCATION=1 LOOM_CHECKPOINT_INTERVAL=1 LOOM_CHECKPOINT_FILE="${checkpoint}" \
    "${broken[@]}" -- --exact "${race}" >"${out}/replay.log" 2>&1 || status=$?
# The replay must fail again, in its first iteration: the recorded execution itself.
if [ "${status}" -eq 0 ] ||
    ! grep -q "single flight violated" "${out}/replay.log" ||
    ! grep -q "Iteration 1 " "${out}/replay.log" ||
    grep -q "Iteration 2 " "${out}/replay.log"; then
    fail "the replay did not fail on the recorded execution alone" "${out}/replay.log"
fi
# Thread switches and atomic operations (loom's object numbers name the atomics), up to the
# assertion that fails.
sed -n '/Iteration 1 /,/^ *right:/p' "${out}/replay.log" |
    grep -E 'THREAD|spawn thread|Atomic::(load|store|rmw)|panicked|single flight|left:|right:' |
    sed -E 's/^ *(TRACE|INFO) iter\{1\}:(thread\{id=[0-9]+\}: )?//; s/loom::rt(::[a-z]+)?: //;
        s/state=Ref<loom::rt::atomic::State>\(([0-9]+)\)/atomic #\1/'
echo "(full trace: ${out}/replay.log)"

echo "loom-downstream: passed in $((SECONDS - start)) s (build included)"
