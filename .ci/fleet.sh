#!/usr/bin/env bash
# The fleet crate against a real redis-server: its tests (unit, agent, multi-process, faults,
# doc tests) and the fleet example. Installs redis-server (Debian package) when it is missing.
#
#   bash .ci/fleet.sh            # install if needed, test, run the example
#   bash .ci/fleet.sh install    # only make sure redis-server is there (before `cargo test --workspace`)
#   bash .ci/fleet.sh test       # install if needed, then the fleet crate's tests
#   bash .ci/fleet.sh example    # install if needed, then the fleet example
set -euo pipefail
cd "$(dirname "$0")/.."

install() {
    if [ -n "${REDIS_SERVER:-}" ] || command -v redis-server >/dev/null 2>&1; then
        return
    fi
    echo "redis-server is missing: installing the Debian package redis-server"
    local sudo_cmd=()
    if [ "$(id -u)" -ne 0 ]; then
        sudo_cmd=(sudo)
    fi
    "${sudo_cmd[@]}" apt-get update
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server
}

run_tests() {
    # The multi-process tests build the `replica` example themselves.
    cargo test -p async-breaker-fleet -- --nocapture
}

run_example() {
    # One timeline: a trip, every replica rejecting, one probe fleet-wide, every replica closing.
    cargo run -p async-breaker-fleet --example fleet
}

install
"${REDIS_SERVER:-redis-server}" --version
case "${1:-all}" in
    install) ;;
    test) run_tests ;;
    example) run_example ;;
    all) run_tests && run_example ;;
    *) echo "usage: $0 [install|test|example]" >&2; exit 2 ;;
esac
