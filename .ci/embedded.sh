#!/usr/bin/env bash
# The crate on microcontrollers without 64-bit atomics (feature `portable-atomic`): lint the
# library for thumbv6m (Cortex-M0, no compare-exchange at all), thumbv7em (Cortex-M4) and
# riscv32imac, then build embedded/qemu-tests for each and run it under QEMU (semihosting: its
# output and exit code), with a timeout so a wedged emulator cannot hang CI.
#
# Installs what is missing: the three Rust targets (rustup), and QEMU (Debian's
# qemu-system-arm and qemu-system-misc, the latter for qemu-system-riscv32).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

targets=(thumbv6m-none-eabi thumbv7em-none-eabihf riscv32imac-unknown-none-elf)
# The QEMU machine each target runs on.
qemu_for() {
    case $1 in
        thumbv6m-none-eabi) echo "qemu-system-arm -machine microbit" ;;
        thumbv7em-none-eabihf) echo "qemu-system-arm -machine mps2-an386 -cpu cortex-m4" ;;
        riscv32imac-unknown-none-elf) echo "qemu-system-riscv32 -machine virt -bios none" ;;
    esac
}

installed=$(rustup target list --installed)
for target in "${targets[@]}"; do
    grep -qx "${target}" <<<"${installed}" || rustup target add "${target}"
done

install_qemu() {
    command -v apt-get >/dev/null || {
        echo "QEMU is missing: install Debian's qemu-system-arm and qemu-system-misc" >&2
        exit 1
    }
    echo "installing qemu-system-arm and qemu-system-misc"
    apt-get update -qq
    # QEMU's system emulators must come from the same release as the machine's qemu-utils: on a
    # bookworm machine whose qemu-utils is bookworm-backports', from bookworm-backports too.
    local release=()
    if dpkg-query -W -f '${Version}' qemu-utils 2>/dev/null | grep -q 'bpo12'; then
        if ! apt-cache policy | grep -q 'bookworm-backports'; then
            printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' \
                'Suites: bookworm-backports' 'Components: main' \
                'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
                >/etc/apt/sources.list.d/bookworm-backports.sources
            apt-get update -qq
        fi
        release=(-t bookworm-backports)
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${release[@]}" qemu-system-arm qemu-system-misc >/dev/null
}
if ! command -v qemu-system-arm >/dev/null || ! command -v qemu-system-riscv32 >/dev/null; then
    install_qemu
fi
for qemu in qemu-system-arm qemu-system-riscv32; do
    command -v "${qemu}" >/dev/null || {
        echo "${qemu} is missing: apt-get install qemu-system-arm qemu-system-misc" >&2
        exit 1
    }
done

# The library alone, as a dependent builds it, lint-clean on each target (thumbv6m needs
# portable-atomic's critical section for any compare-exchange).
export CARGO_TARGET_DIR="${root}/target/embedded"
for target in "${targets[@]}"; do
    features=portable-atomic
    [ "${target}" = thumbv6m-none-eabi ] && features+=,portable-atomic/critical-section
    echo "--- clippy: async-breaker for ${target} (--no-default-features --features ${features})"
    cargo clippy --quiet -p async-breaker --lib --target "${target}" \
        --no-default-features --features "${features}" -- -D warnings
done

# The emulated tests: a release build (opt-level "s") of embedded/qemu-tests per target.
cd embedded
failed=0
for target in "${targets[@]}"; do
    echo "--- qemu-tests for ${target}"
    cargo build --quiet --locked --release --target "${target}"
    # shellcheck disable=SC2046 # the machine's words are separate arguments
    timeout --kill-after=5 60 $(qemu_for "${target}") -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native \
        -kernel "${CARGO_TARGET_DIR}/${target}/release/qemu-tests" || {
        status=$?
        [ "${status}" -ge 124 ] && echo "${target}: QEMU timed out (${status})" >&2
        echo "${target}: the emulated tests failed (exit ${status})" >&2
        failed=1
    }
done
[ "${failed}" = 0 ] || exit 1
echo "embedded: the library builds for ${targets[*]} and its emulated tests pass"
