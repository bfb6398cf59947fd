#!/usr/bin/env bash
# Packages every publishable crate of the workspace as crates.io would receive it, and builds
# each package from its own tarball (cargo's verification step), so a file the library needs
# but the package leaves out fails here rather than after a release.
#
# The loom models (tests/loom) and the fuzz targets (fuzz/) are workspaces of their own and are
# never published. Tests, benches, scripts and fixtures are kept out by each manifest's
# `include` list; cargo notes each target it drops for that reason.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Cargo verifies the fleet against the library's new tarball through a temporary local
# registry in target/package, and extracts it under ~/.cargo/registry/src/-<hash>/, keyed by
# that registry's path, name and version: it never extracts the same version again, so a
# second run from the same directory would build the fleet against the library as the first
# run packaged it. Remove those extractions of this workspace's crates first (local registries
# only: crates.io's directory is `index.crates.io-<hash>`).
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/async-breaker-*

# --allow-dirty: CI runs on a clean clone, but a developer may run this before committing.
# The testkit (test support) and the demo (`publish = false`) are never published; the fleet's
# dev-dependency on the testkit is path-only, so its package's manifest leaves it out.
cargo package --workspace --exclude async-breaker-testkit --exclude async-breaker-demo --allow-dirty 2>&1 |
    grep -v '^warning: ignoring \(test\|benchmark\|example\)'
for crate in target/package/*.crate; do
    echo "package.sh: $(basename "${crate}"): $(tar -tzf "${crate}" | wc -l) files"
done
