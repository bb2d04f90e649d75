#!/usr/bin/env bash
# Builds the loader's Debian package and checks it with lintian, in one command:
#
#     scripts/deb.sh                      # target/debian/dahdi-loader_VERSION-1_amd64.deb
#     scripts/deb.sh --deb-revision 2     # any further arguments go to cargo deb
#
# cargo deb builds the release binary (build.rs writes the man page and completions in the
# same build) and packs what loader/Cargo.toml's [package.metadata.deb] lists. lintian
# must report nothing beyond the overrides in loader/dist/lintian/dahdi-loader, each of
# which says why it stays. scripts/install.sh installs cargo-deb and lintian.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-deb >/dev/null || { echo "deb.sh: cargo-deb missing: run scripts/install.sh" >&2; exit 1; }
command -v lintian >/dev/null || { echo "deb.sh: lintian missing: run scripts/install.sh" >&2; exit 1; }

# cargo deb prints the path of each package it wrote, the .deb last.
deb=$(cargo deb -p dahdi-loader "$@" | grep '\.deb$' | tail -n 1)
echo "deb.sh: built $deb"
# --fail-on warning: a new warning or error fails the build; overridden tags do not.
# (lintian also warns that it runs as root, as in the project's containers: not a finding.)
status=0
lintian --fail-on error,warning "$deb" || status=$?
if [ "$status" -ne 0 ]; then
    echo "deb.sh: lintian reports a warning or error (above) not explained in loader/dist/lintian/dahdi-loader" >&2
    exit 1
fi
echo "deb.sh: lintian clean (remaining tags explained in loader/dist/lintian/dahdi-loader)"
