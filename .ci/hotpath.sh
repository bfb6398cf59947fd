#!/usr/bin/env bash
# A guard on the hot paths that no machine load can blur: callgrind (valgrind) counts the
# instructions of tests/hotpath, the same count whatever else the machine is doing.
#
# Each path runs twice, with 1 000 and 11 000 iterations; the difference over 10 000 is one
# iteration, start-up and set-up subtracted. Two checks per path:
# - the instructions of one iteration stay within the path's budget (about a third above what
#   was measured when the budget was set, so a compiler update that moves a few instructions
#   passes and a second atomic, a clock read or a formatted message on the path does not);
# - the out-of-line functions the path must never reach (the general settle and admission
#   paths, for the closed-state paths) execute no instruction in the extra 10 000 iterations:
#   this is what keeps a plain breaker's counted outcome inline.
#
# `bash .ci/hotpath.sh` checks; `bash .ci/hotpath.sh --report` prints the counts and checks nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null || ! command -v callgrind_annotate >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
    else
        echo "hotpath: valgrind is missing (Debian package: valgrind)" >&2
        exit 1
    fi
fi

# A package of its own (tests/hotpath), so this release build compiles only the library.
export CARGO_TARGET_DIR="${HOTPATH_TARGET_DIR:-$PWD/target/hotpath}"
cargo build --release --locked --manifest-path tests/hotpath/Cargo.toml
bin="${CARGO_TARGET_DIR}/release/async-breaker-hotpath"
test -x "${bin}" || { echo "hotpath: tests/hotpath did not build" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT

# run PATH ITERATIONS: callgrind's profile of one run, in ${work}/PATH.ITERATIONS
run() {
    valgrind --tool=callgrind --callgrind-out-file="${work}/$1.$2" "${bin}" "$1" "$2" >/dev/null 2>&1
}

total() { sed -n 's/^summary: //p' "${work}/$1"; }

# Instructions executed in functions whose name matches the regex $2, in profile $1.
inside() {
    callgrind_annotate "${work}/$1" 2>/dev/null |
        awk -v re="$2" '$0 ~ re && $1 ~ /^[0-9,]+$/ { gsub(",", "", $1); n += $1 } END { print n + 0 }'
}

# path | budget in instructions per iteration (0: report only) | functions it must not reach
checks=(
    "closed-success|56|settle_other|settle_slow|call_slow|admit_slow"
    "closed-failure|156|settle_other|settle_slow|call_slow|admit_slow|report_change"
    "future-success|54|settle_other|settle_slow|admit_slow"
    "open-reject|240|report_change"
    "floor-success|0|"
    "floor-rmw|0|"
)

failed=0
printf '%-16s %8s %8s  %s\n' path instr budget "must not reach (instructions there in 10 000 iterations)"
for entry in "${checks[@]}"; do
    path=${entry%%|*}
    rest=${entry#*|}
    budget=${rest%%|*}
    forbidden=${rest#*|}
    run "${path}" 1000
    run "${path}" 11000
    small=$(total "${path}.1000")
    large=$(total "${path}.11000")
    n=$(( (large - small + 5000) / 10000 ))
    reached=0
    if [ -n "${forbidden}" ]; then
        re="::(${forbidden})( |\\[|$)"
        reached=$(( $(inside "${path}.11000" "${re}") - $(inside "${path}.1000" "${re}") ))
    fi
    shown_budget=${budget}
    [ "${budget}" = 0 ] && shown_budget=-
    printf '%-16s %8s %8s  %s\n' "${path}" "${n}" "${shown_budget}" \
        "$([ -n "${forbidden}" ] && echo "${forbidden//|/, }: ${reached}" || echo -)"
    [ "${1:-}" = "--report" ] && continue
    if [ "${budget}" != 0 ] && [ "${n}" -gt "${budget}" ]; then
        echo "hotpath: ${path} costs ${n} instructions per iteration, over its budget of ${budget}" >&2
        failed=1
    fi
    if [ "${reached}" != 0 ]; then
        echo "hotpath: ${path} reached an out-of-line path (${forbidden//|/, }): ${reached} instructions in 10 000 iterations" >&2
        failed=1
    fi
done
exit "${failed}"
