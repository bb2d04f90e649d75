#!/usr/bin/env bash
# The whole test suite: unit tests, the ABI test against the C headers of
# both supported platforms, and the VM suites that run against the real
# DKMS-built DAHDI driver under qemu, on Debian 12 and Debian 13.  Needs the
# packages that scripts/install.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian 13's DAHDI header comes from the test bed's cached trixie stage
# (debootstrap + apt + DKMS, built on first use: needs root and the Debian
# mirror); the ABI test fails without it.
if [ -z "${DAHDI_DEBIAN13_INCLUDE_DIR:-}" ]; then
    DAHDI_DEBIAN13_INCLUDE_DIR="$(cargo run -q --release -p dahdi-tests --bin vm-platform -- include-dir debian13)"
    export DAHDI_DEBIAN13_INCLUDE_DIR
fi
cargo test --workspace --release --no-fail-fast "$@"
