# Every external input of the harness: versions, checksums, paths.
# Sourced by the other scripts; nothing here runs anything.

# Upstream QEMU, as Debian packages it (orig tarball lacks blobs and wheels;
# Debian's own patches make it build).
QEMU_DEB_VERSION=1:10.2.2+ds-1
QEMU_ORIG_TARBALL=qemu_10.2.2+ds.orig.tar.xz
QEMU_ORIG_SHA256=be05230fe47a6937cd29f28f562932c8125f9c93c2a82c625198f7a4aa601dfb
QEMU_SOURCE_SUITE=sid
# The series as posted: its version goes into every subject line.
SERIES_PREFIX="PATCH v2"

# Guest assets: Debian binary packages, downloaded and unpacked, never
# installed. Format: package version sha256-of-the-.deb
GUEST_DEBS=(
    "ovmf 2022.11-6+deb12u2 e73d3d1a8799f7f6fc16b73501d913edcdd86237556fbff30693e747e6dc262e"
    "linux-image-6.12.95+deb12-amd64 6.12.95-1~bpo12+1 5e524b782be67cb0d6a2e7b51816a2ac519e573ef7324b9a63a4124365653ecc"
    "busybox-static 1:1.35.0-4+deb12u1+b1 3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744"
    "ovmf-amdsev 2026.08+ds-2 92c9b6d15e4eeb371938c3f99080c1a8fc057dfd6bc0509d37f8b615e9edebfb"
)
# What the guest boots, inside those packages.
GUEST_OVMF=usr/share/ovmf/OVMF.fd
# OVMF's AmdSev build (from sid): measured direct boot and the secret area.
GUEST_OVMF_AMDSEV=usr/share/ovmf/OVMF.amdsev.fd
GUEST_KERNEL=boot/vmlinuz-6.12.95+deb12-amd64

# Build dependencies: from bookworm, and meson/pycotap from backports.
BUILD_DEPS=(libglib2.0-dev libpixman-1-dev zlib1g-dev libslirp-dev libfdt-dev
    libgnutls28-dev nettle-dev ninja-build pkg-config flex bison python3-venv
    dpkg-dev git ccache xz-utils cpio python3-sphinx python3-sphinx-rtd-theme)
BACKPORTS_DEPS=(meson python3-pycotap)
# For the tests and the demo (firmware for the generic qtests).
# virt-qemu-sev-validate imports lxml and cryptography without depending
# on them.
TEST_DEPS=(python3 seabios ipxe-qemu libvirt-clients-qemu python3-libvirt
    python3-lxml python3-cryptography)

# make check-hosts: qemu-system-x86_64 cross-built for an aarch64 Linux
# host, with Debian's cross compiler and bookworm's arm64 libraries
# (multiarch), installed only when check-hosts runs. Debian's
# qemu-user-static runs the result.
HOSTS_DPKG_ARCH=arm64
HOSTS_CROSS_PREFIX=aarch64-linux-gnu-
HOSTS_DEPS=(gcc-aarch64-linux-gnu qemu-user-static file)
# Installed as :arm64. pkgconf:arm64 provides aarch64-linux-gnu-pkg-config.
HOSTS_ARCH_DEPS=(libc6-dev libglib2.0-dev libpixman-1-dev zlib1g-dev
    libslirp-dev libgnutls28-dev nettle-dev libfdt1 pkgconf)
# libfdt-dev is not Multi-Arch: same, so its arm64 build cannot be
# installed beside the amd64 one: downloaded at libfdt1:arm64's version
# and unpacked aside.
HOSTS_FDT_DEV=libfdt-dev
HOSTS_FDT_LIB=libfdt1

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=$TOP/build
QEMU_TREE=${QEMU_TREE:-$BUILD_DIR/qemu}
QEMU_BUILD=${QEMU_BUILD:-$QEMU_TREE/build}
QEMU_BIN=$QEMU_BUILD/qemu-system-x86_64
CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/sev-emulated
APT_DIR=$CACHE_DIR/apt
LOG_DIR=$BUILD_DIR/logs
ASSET_DIR=$BUILD_DIR/assets
export CCACHE_DIR=${CCACHE_DIR:-$CACHE_DIR/ccache}
