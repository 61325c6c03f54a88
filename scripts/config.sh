# Every external input of the harness: versions, checksums, paths.
# Sourced by the other scripts; nothing here runs anything.

# Upstream QEMU, as Debian packages it (orig tarball lacks blobs and wheels;
# Debian's own patches make it build).
QEMU_DEB_VERSION=1:10.2.2+ds-1
QEMU_ORIG_TARBALL=qemu_10.2.2+ds.orig.tar.xz
QEMU_ORIG_SHA256=be05230fe47a6937cd29f28f562932c8125f9c93c2a82c625198f7a4aa601dfb
QEMU_SOURCE_SUITE=sid

# Guest assets: Debian binary packages, never installed, only unpacked.
# Format: package version suite sha256-of-.deb
GUEST_DEBS=(
    "ovmf 2022.11-6+deb12u2 bookworm SHA_OVMF"
    "linux-image-6.12.95+deb12-amd64 6.12.95-1~bpo12+1 bookworm-backports SHA_KERNEL"
    "busybox-static 1:1.35.0-4+b4 bookworm SHA_BUSYBOX"
)

# Build dependencies: from bookworm, and meson/pycotap from backports.
BUILD_DEPS=(libglib2.0-dev libpixman-1-dev zlib1g-dev libslirp-dev libfdt-dev
    libgnutls28-dev nettle-dev ninja-build pkg-config flex bison python3-venv
    dpkg-dev git ccache xz-utils cpio)
BACKPORTS_DEPS=(meson python3-pycotap)
# For the end-to-end tests and the demo.
TEST_DEPS=(python3)

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=$TOP/build
QEMU_TREE=$BUILD_DIR/qemu
QEMU_BUILD=$QEMU_TREE/build
QEMU_BIN=$QEMU_BUILD/qemu-system-x86_64
CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/sev-emulated
APT_DIR=$CACHE_DIR/apt
LOG_DIR=$BUILD_DIR/logs
ASSET_DIR=$BUILD_DIR/assets
export CCACHE_DIR=${CCACHE_DIR:-$CACHE_DIR/ccache}
