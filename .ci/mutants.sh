#!/usr/bin/env bash
# Mutation testing with cargo-mutants (configuration and exclusions: .cargo/mutants.toml).
#
#   bash .ci/mutants.sh quick       # a quarter of the mutants of the state machine (src/word.rs)
#                                   # and of the fleet protocol (fleet/src/view.rs,
#                                   # fleet/src/keys.rs) against the unit tests that pin them;
#                                   # the quarter is picked by the commit (round-robin, so each
#                                   # quarter spans every function): about 5 minutes on 2 cores,
#                                   # a step of .ci/run
#   bash .ci/mutants.sh quick all   # all four quarters, about 20 minutes on 2 cores
#   MUTANTS_SHARD=2 bash .ci/mutants.sh quick   # one given quarter (0-3)
#   bash .ci/mutants.sh             # every mutant of the workspace (about 1 650) against the
#                                   # tests of its package, doc tests and compile-fail tests
#                                   # included, then the code compiled only without `std`:
#                                   # before a release; about 5-6 hours on 2 cores (core
#                                   # mutants take 5-10 s each, fleet mutants 25-40 s; a hung
#                                   # test is killed after 1 minute, 4 in the fleet crate:
#                                   # profile `mutants` of .config/nextest.toml)
#
# Either mode fails when a mutant is MISSED: the code changed and every test still passed. A
# TIMEOUT (the tests hung or ran past the limit under the mutant) counts as caught, because the
# tests did not pass; it is listed but does not fail the run. The limits are generous (minutes
# for tests that take seconds), so load on the machine cannot turn a surviving mutant into a
# timeout. UNVIABLE mutants (they do not compile) say nothing and are only counted.
#
# The quick mode mutates the checkout in place (no copy of the tree or of target/, so it reuses
# the build `cargo test` has already made) and puts every file back after each mutant. Run it on
# a clean tree: it refuses to start when the files it mutates have uncommitted changes. Results:
# target/mutants/quick-core, target/mutants/quick-fleet; target/mutants/{core,macros,fleet,nostd}
# (mutants.out/; core-pass2 and so on for a second pass) for the full run, which works in a copy
# of the tree.
#
# Environment: MUTANTS_JOBS (full mode, default 1) builds and tests that many mutants at once,
# each in its own copy of the tree (worth it with more than 2 cores); MUTANTS_RESUME=1 (full
# mode) continues an interrupted full run of the same commit: mutants it already caught, or found
# unviable, are not built again, and packages it finished are skipped; PROPTEST_CASES (quick
# mode, default 256) sizes the property tests of the word.
set -euo pipefail
cd "$(dirname "$0")/.."

MUTANTS_VERSION="27"

ensure_tools() {
    if ! cargo mutants --version 2>/dev/null | grep -q "^cargo-mutants ${MUTANTS_VERSION}\."; then
        echo "installing cargo-mutants ${MUTANTS_VERSION}"
        cargo install --locked cargo-mutants --version "^${MUTANTS_VERSION}"
    fi
    if ! cargo nextest --version >/dev/null 2>&1; then
        echo "installing cargo-nextest"
        cargo install --locked cargo-nextest
    fi
}

# Runs cargo-mutants; only MISSED mutants (exit code 2) fail. Exit code 3 means some timed out
# and none was missed.
run_mutants() {
    local rc=0
    cargo mutants "$@" || rc=$?
    case ${rc} in
        0) ;;
        3) echo "cargo-mutants: some mutants timed out (counted as caught), none was missed" ;;
        *) return "${rc}" ;;
    esac
}

quick() {
    local paths=(src/word.rs fleet/src/view.rs fleet/src/keys.rs)
    if ! git diff --quiet HEAD -- "${paths[@]}"; then
        echo "quick mutants: ${paths[*]} have uncommitted changes; commit or stash them first" >&2
        exit 1
    fi
    export PROPTEST_CASES="${PROPTEST_CASES:-256}"
    local shard=()
    if [ "${1:-}" != "all" ]; then
        local k="${MUTANTS_SHARD:-$((0x$(git rev-parse --short=7 HEAD) % 4))}"
        shard=(--shard "${k}/4" --sharding round-robin)
        echo "quick mutants: quarter ${k} of 0-3"
    fi
    mkdir -p target/mutants
    local t0=$SECONDS
    # The baseline, unmutated: the tests below must build and pass first. (cargo-mutants' own
    # baseline is skipped to save its time; without this, a tree that does not build would make
    # every mutant "unviable" and the step pass without testing anything.)
    cargo test -p async-breaker --lib
    cargo test -p async-breaker-fleet --lib
    # The state machine: its unit and property tests sit beside it, in the library's unit tests.
    run_mutants --in-place --baseline skip --timeout 300 --build-timeout 600 \
        --package async-breaker --file src/word.rs "${shard[@]}" \
        --output target/mutants/quick-core -- --lib
    # The fleet protocol: parsing and naming, pinned by the fleet crate's unit tests.
    run_mutants --in-place --baseline skip --timeout 300 --build-timeout 600 \
        --package async-breaker-fleet --file fleet/src/view.rs --file fleet/src/keys.rs "${shard[@]}" \
        --output target/mutants/quick-fleet -- --lib
    echo "quick mutants: no survivor in ${paths[*]} ($((SECONDS - t0)) s)"
}

# One package's mutants (`$1`, a name for its results) in two passes. Pass 1 runs the tests
# through nextest: fast, but no doc tests, and without the attribute macro's compile-fail tests
# (a couple of minutes each time they run). Pass 2 retests only what pass 1 missed with `cargo
# test`: the same tests plus the doc tests and the compile-fail tests. What survives pass 2 fails
# the run. The remaining arguments choose the package and the tests.
campaign() {
    local name=$1
    shift
    if [ -e "target/mutants/${name}.done" ]; then
        echo "full mutants: ${name} already done for this commit"
        return 0
    fi
    local both=("$@" --all-features --jobs "${MUTANTS_JOBS:-1}" --profile mutants
        --timeout-multiplier 4)
    local rc=0
    NEXTEST_PROFILE=mutants cargo mutants "${both[@]}" "${iterate[@]}" \
        --output "target/mutants/${name}" --minimum-test-timeout 120 \
        -- -E 'not test(compile_fail)' || rc=$?
    case ${rc} in
        0 | 3) ;;
        2)
            # Exactly the missed mutants, by name (not the timeouts: they were caught).
            local missed
            missed=$(sed 's/[][\\.*^$(){}?+|]/\\&/g' "target/mutants/${name}/mutants.out/missed.txt" |
                paste -sd '|')
            run_mutants "${both[@]}" --re "^(${missed})\$" --test-tool cargo \
                --output "target/mutants/${name}-pass2" --minimum-test-timeout 300
            ;;
        *) return "${rc}" ;;
    esac
    touch "target/mutants/${name}.done"
}

full() {
    mkdir -p target/mutants
    local t0=$SECONDS
    local commit stamp=target/mutants/full-commit
    commit=$(git describe --always --dirty --abbrev=40)
    iterate=()
    if [ "${MUTANTS_RESUME:-0}" = 1 ]; then
        if [ "$(cat "${stamp}" 2>/dev/null)" != "${commit}" ] || [[ ${commit} == *-dirty ]]; then
            echo "full mutants: no interrupted run of ${commit} to resume (target/mutants/full-commit)" >&2
            exit 1
        fi
        iterate=(--iterate)
    else
        rm -rf target/mutants/{core,macros,fleet,nostd}{,-pass2,.done}
        echo "${commit}" >"${stamp}"
    fi
    # The fleet crate's tests start their own redis-server.
    bash .ci/fleet.sh install
    # Each package's mutants against its own tests; the attribute macro's against the core's
    # tests of it too (tests/macros.rs, tests/ui).
    campaign core --package async-breaker
    campaign macros --package async-breaker-macros \
        --test-package async-breaker-macros,async-breaker
    campaign fleet --package async-breaker-fleet
    # The code compiled only without `std` (excluded above, where it is compiled out), against
    # the library's unit tests built without `std`.
    if [ ! -e target/mutants/nostd.done ]; then
        run_mutants --config .ci/mutants-nostd.toml --package async-breaker --no-default-features \
            --profile mutants --file src/names/leaked.rs --cargo-arg=--lib "${iterate[@]}" \
            --timeout 300 --output target/mutants/nostd
        touch target/mutants/nostd.done
    fi
    echo "full mutants: no survivor in the workspace ($((SECONDS - t0)) s)"
}

ensure_tools
case "${1:-full}" in
    quick) quick "${2:-}" ;;
    full) full ;;
    *)
        echo "usage: $0 [quick [all]]" >&2
        exit 2
        ;;
esac
