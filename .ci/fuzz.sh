#!/usr/bin/env bash
# Bounded fuzzing of every cargo-fuzz target in fuzz/ on nightly.
#
#   .ci/fuzz.sh                      # each target for FUZZ_SECONDS (default 60)
#   FUZZ_SECONDS=3600 FUZZ_SEED=0 .ci/fuzz.sh   # before a release: an hour per target, random seed
#   FUZZ_KEEP_GOING=1 .ci/fuzz.sh    # keep fuzzing past crashes (libFuzzer fork mode), e.g.
#                                    # while a known disagreement is open, and count them
#
# Works from a clean clone: installs cargo-fuzz if it is missing, builds each target with
# AddressSanitizer (FUZZ_SANITIZER=none to build without), runs it with libFuzzer for the given
# time on the corpus in fuzz/corpus/<target> (git-ignored, grown by every run), and prints the
# executions it ran. A disagreement between the breaker and the reference model, or any panic,
# fails the run and leaves the input in fuzz/artifacts/<target>/; reproduce it with
# `cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>`.
#
# The differential target lets its clock go anywhere, the last millisecond of the breaker's
# 139-year time range and beyond included: the reference model mirrors the documented limit there.
set -euo pipefail

FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
# A fixed seed makes the CI run reproducible (the same inputs in the same order on the same
# binary); FUZZ_SEED=0 lets libFuzzer pick a random seed, for exploratory and release runs.
FUZZ_SEED="${FUZZ_SEED:-1}"
FUZZ_SANITIZER="${FUZZ_SANITIZER:-address}"
FUZZ_KEEP_GOING="${FUZZ_KEEP_GOING:-0}"
TARGETS=(differential config)

cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "fuzz.sh: a nightly toolchain is required (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

for target in "${TARGETS[@]}"; do
    echo "fuzz.sh: building ${target} (sanitizer: ${FUZZ_SANITIZER})"
    cargo +nightly fuzz build --sanitizer "${FUZZ_SANITIZER}" "${target}"
done

failed=0
for target in "${TARGETS[@]}"; do
    log="$(mktemp)"
    echo "fuzz.sh: running ${target} for ${FUZZ_SECONDS}s"
    start="${SECONDS}"
    set +e
    extra=()
    if [ "${FUZZ_KEEP_GOING}" = 1 ]; then
        extra=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    fi
    before="$(ls "artifacts/${target}" 2>/dev/null | wc -l)"
    cargo +nightly fuzz run --sanitizer "${FUZZ_SANITIZER}" "${target}" -- \
        -max_total_time="${FUZZ_SECONDS}" -timeout=10 -seed="${FUZZ_SEED}" -print_final_stats=1 \
        "${extra[@]}" >"${log}" 2>&1
    status=$?
    set -e
    grep -E '^(#[0-9]+[[:space:]]+(INITED|DONE)|stat::|==[0-9]+==|SUMMARY)' "${log}" || true
    runs="$(grep -Eo '^stat::number_of_executed_units: *[0-9]+' "${log}" | grep -Eo '[0-9]+$' | tail -n 1 || true)"
    if [ -z "${runs}" ]; then
        # Fork mode prints no final stats, only progress lines `#<runs>: cov: ...`.
        runs="$(grep -Eo '^#[0-9]+' "${log}" | tr -d '#' | tail -n 1 || true)"
    fi
    crashes=$(( $(ls "artifacts/${target}" 2>/dev/null | wc -l) - before ))
    echo "fuzz.sh: ${target}: ${runs:-?} executions in $((SECONDS - start))s, ${crashes} new artifacts, exit status ${status}"
    if [ "${FUZZ_KEEP_GOING}" = 1 ] && [ "${crashes}" -gt 0 ]; then
        # Fuzzed for the whole time; the artifacts are in fuzz/artifacts/<target>/.
        failed=1
        rm -f "${log}"
        continue
    fi
    if [ "${status}" -ne 0 ]; then
        tail -n 60 "${log}" >&2
        rm -f "${log}"
        exit "${status}"
    fi
    rm -f "${log}"
done
exit "${failed}"
