#!/usr/bin/env bash
# The fleet crate against real Redis deployments: its tests (unit, agent, multi-process, faults,
# doc tests), the launchers of the testkit crate (a redis-server, a Redis Cluster, a Sentinel
# deployment) and the fleet example. Installs the Debian packages redis-server, redis-tools
# (redis-cli) and redis-sentinel when one of their binaries is missing.
#
#   bash .ci/fleet.sh            # install if needed, test, run the example
#   bash .ci/fleet.sh install    # only make sure the binaries are there (before `cargo test --workspace`)
#   bash .ci/fleet.sh test       # install if needed, then the fleet and testkit crates' tests
#   bash .ci/fleet.sh example    # install if needed, then the fleet example
#
# REDIS_SERVER, REDIS_CLI and REDIS_SENTINEL name binaries to use instead of those on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

# `binary VARIABLE NAME`: the binary the tests will run, the variable's value or NAME.
binary() {
    local value=${!1:-}
    echo "${value:-$2}"
}

# `have VARIABLE NAME`: whether that binary is there.
have() {
    local bin
    bin=$(binary "$1" "$2")
    if [ "${bin}" != "$2" ]; then
        [ -x "${bin}" ]
    else
        command -v "$2" >/dev/null 2>&1
    fi
}

install() {
    if have REDIS_SERVER redis-server && have REDIS_CLI redis-cli \
        && have REDIS_SENTINEL redis-sentinel; then
        return
    fi
    echo "a Redis binary is missing: installing the Debian packages redis-server redis-tools redis-sentinel"
    local sudo_cmd=()
    if [ "$(id -u)" -ne 0 ]; then
        sudo_cmd=(sudo)
    fi
    "${sudo_cmd[@]}" apt-get update
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y redis-server redis-tools redis-sentinel
}

versions() {
    "$(binary REDIS_SERVER redis-server)" --version
    "$(binary REDIS_CLI redis-cli)" --version
    "$(binary REDIS_SENTINEL redis-sentinel)" --version
}

run_tests() {
    # The multi-process tests build the `replica` example themselves.
    cargo test -p async-breaker-fleet -p async-breaker-testkit -- --nocapture
}

run_example() {
    # One timeline: a trip, every replica rejecting, one probe fleet-wide, every replica closing.
    cargo run -p async-breaker-fleet --example fleet
}

install
versions
case "${1:-all}" in
    install) ;;
    test) run_tests ;;
    example) run_example ;;
    all) run_tests && run_example ;;
    *) echo "usage: $0 [install|test|example]" >&2; exit 2 ;;
esac
