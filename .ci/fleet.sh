#!/usr/bin/env bash
# The fleet crate against a real redis-server: the multi-process tests, the fault tests and
# the fleet example. Installs redis-server (Debian package) when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1 && [ -z "${REDIS_SERVER:-}" ]; then
    echo "redis-server is missing: installing the Debian package"
    sudo_cmd=()
    if [ "$(id -u)" -ne 0 ]; then
        sudo_cmd=(sudo)
    fi
    "${sudo_cmd[@]}" apt-get update
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server
fi
redis-server --version || "${REDIS_SERVER}" --version

# Every test of the fleet crate (unit, agent, multi-process, faults, doc tests); the
# multi-process tests build the `replica` example themselves.
cargo test -p async-breaker-fleet -- --nocapture
# The demo: one timeline of a trip, one probe fleet-wide, and the close.
cargo run -p async-breaker-fleet --example fleet
