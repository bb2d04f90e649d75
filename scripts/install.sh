#!/usr/bin/env bash
# Installs everything this project needs on a Debian 12 machine, as root,
# non-interactively and idempotently, then proves that DKMS really built
# dahdi.ko for the installed Debian kernel (DKMS can report "installed" for a
# build that produced nothing usable, which is the failure this project exists
# to catch).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run as root (it installs Debian packages)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

PACKAGES=(
    # C toolchain: the ABI test compiles the real header; benches compile C baselines.
    build-essential pkg-config python3
    # udev crate (libudev's hardware database: card names in dahdi-loader status)
    libudev-dev
    # the real driver, built by the real DKMS for a real Debian kernel
    dkms linux-headers-amd64 linux-image-amd64 dahdi-dkms dahdi-linux
    # dahdi-tools: the reference userland the tests cross-check against
    dahdi
    # compressed modules: the loader's tests compress fixtures with the real tools
    xz-utils zstd
    # module signatures: the loader's tests make keys and certificates (DKMS needs it too)
    openssl
    # the VM test bed
    qemu-system-x86 busybox-static debootstrap e2fsprogs kmod cpio
    # providers scenarios: Debian 13's DAHDI source package, fetched from the mirror
    curl
    # Debian 13 (trixie) in the test bed: debootstrap verifies trixie with these keys
    debian-archive-keyring
    # UEFI firmware: the boot guard's test boots real GRUB the way a machine does
    ovmf
    # the loader's man page (rendered by its tests), unit checks, and Debian package checks
    man-db groff-base systemd lintian
    # Prometheus' own text-format parser: the loader's metrics test reads its textfile with it
    # (Debian's package, for Debian's /usr/bin/python3)
    python3-prometheus-client
)

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -gt 0 ]; then
    echo "install.sh: installing ${missing[*]}"
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "install.sh: all ${#PACKAGES[@]} packages already installed"
fi

# Rust: the machine's toolchain must have rustfmt and clippy for CI.
if command -v rustup >/dev/null 2>&1; then
    rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi

# cargo-deb builds the loader's Debian package (`cargo deb -p dahdi-loader`); pinned, so
# that every machine packs the same way. Installed only when that version is missing.
CARGO_DEB_VERSION=3.8.0
if ! cargo deb --version 2>/dev/null | grep -qx "cargo-deb $CARGO_DEB_VERSION"; then
    echo "install.sh: installing cargo-deb $CARGO_DEB_VERSION"
    cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked
else
    echo "install.sh: cargo-deb $CARGO_DEB_VERSION already installed"
fi

# Which kernels did Debian install?  Never hard-code the version: Debian
# publishes new ABIs (6.1.0-N) all the time.
kernels=()
for img in /boot/vmlinuz-*; do
    [ -e "$img" ] || continue
    kver="${img#/boot/vmlinuz-}"
    [ -d "/lib/modules/$kver/build" ] && kernels+=("$kver")
done
if [ "${#kernels[@]}" -eq 0 ]; then
    echo "install.sh: no kernel with headers found under /boot and /lib/modules" >&2
    echo "install.sh: install linux-image-amd64 and linux-headers-amd64" >&2
    exit 1
fi

dahdi_ver="$(dpkg-query -W -f='${Version}' dahdi-dkms | sed -e 's/^[0-9]*://' -e 's/~.*//' -e 's/-[^-]*$//')"
ok=0
for kver in "${kernels[@]}"; do
    ko="/lib/modules/$kver/updates/dkms/dahdi.ko"
    if [ ! -f "$ko" ]; then
        echo "install.sh: dahdi.ko missing for $kver; asking DKMS to build it"
        dkms autoinstall -k "$kver" || true
    fi
    if [ -f "$ko" ]; then
        echo "install.sh: DKMS built $ko"
        ok=$((ok + 1))
    else
        echo "install.sh: DKMS did not produce dahdi.ko for kernel $kver" >&2
        dkms status >&2 || true
        for log in /var/lib/dkms/dahdi/*/"$kver"/*/log/make.log /var/lib/dkms/dahdi/*/build/make.log; do
            [ -f "$log" ] || continue
            echo "---- tail of $log ----" >&2
            tail -n 40 "$log" >&2
        done
        echo "install.sh: dahdi-dkms version: ${dahdi_ver:-unknown}" >&2
        exit 1
    fi
done
echo "install.sh: ready ($ok kernel(s) with DAHDI modules: ${kernels[*]})"
