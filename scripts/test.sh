#!/usr/bin/env bash
# The whole test suite: unit tests, the ABI test against the installed C
# header, and the VM suites that run against the real DKMS-built DAHDI driver
# under qemu.  Needs the packages that scripts/install.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --release --no-fail-fast "$@"
