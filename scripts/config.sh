# Every external input of the harness: versions, checksums, paths.
# Sourced by the other scripts; nothing here runs anything.

# Upstream QEMU, as Debian packages it (orig tarball lacks blobs and wheels;
# Debian's own patches make it build).
QEMU_DEB_VERSION=1:10.2.2+ds-1
QEMU_ORIG_TARBALL=qemu_10.2.2+ds.orig.tar.xz
QEMU_ORIG_SHA256=be05230fe47a6937cd29f28f562932c8125f9c93c2a82c625198f7a4aa601dfb
QEMU_SOURCE_SUITE=sid
# The suite whose go-sev-guest and Go toolchain verify SEV-SNP reports
# (scripts/go-sev-guest.sh): bookworm has no go-sev-guest
VERIFIER_SUITE=trixie
# The series as posted: its version goes into every subject line.
SERIES_PREFIX="PATCH v3"

# The qtests that the series add: built and run wherever their source
# exists (a series, or a patch in series-check, may not have them yet)
SERIES_QTESTS=(sev-emulated-test x86-cpl-test x86-smm-tlb-test x86-rep-stos-test
               x86-tb-lookup-test x86-cr3-reload-test)
# QEMU's own tests that cover what the series change: the generic qtests
# that touch every QOM type and QMP command, and the crypto unit tests
# (the crypto series add CTR mode to the gnutls backend, hogweed's
# akcipher to gnutls builds, elliptic curves, AES-GCM and DER encoders)
GENERIC_QTESTS=(qom-test device-introspect-test qmp-cmd-test cpu-plug-test)
UNIT_TESTS=(test-crypto-cipher test-crypto-akcipher test-crypto-ecc test-crypto-aead
            test-crypto-der)

# Guest assets: Debian binary packages, downloaded and unpacked, never
# installed. Format: package version sha256-of-the-.deb
GUEST_DEBS=(
    "ovmf 2022.11-6+deb12u2 e73d3d1a8799f7f6fc16b73501d913edcdd86237556fbff30693e747e6dc262e"
    "linux-image-6.12.95+deb12-amd64 6.12.95-1~bpo12+1 5e524b782be67cb0d6a2e7b51816a2ac519e573ef7324b9a63a4124365653ecc"
    "busybox-static 1:1.35.0-4+deb12u1+b1 3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744"
    "ovmf-amdsev 2026.08+ds-2 92c9b6d15e4eeb371938c3f99080c1a8fc057dfd6bc0509d37f8b615e9edebfb"
    "ovmf-generic 2026.08+ds-2 05c1593998ba58700ff86c062bde306321af1f5a2943ea9ceef6c2332f3f3374"
)
# What the guest boots: a package above, and the file inside it. Each
# package is unpacked on its own, as two of them ship usr/share/ovmf/OVMF.fd.
GUEST_OVMF="ovmf usr/share/ovmf/OVMF.fd"
# OVMF's AmdSev build (from sid): measured direct boot and the secret area.
GUEST_OVMF_AMDSEV="ovmf-amdsev usr/share/ovmf/OVMF.amdsev.fd"
# OVMF 2026.08's generic build (from sid), for the SEV-ES boots: Debian
# 12's OVMF has a #VC bug that hangs some of them (tests/stress-es.sh).
GUEST_OVMF_2026="ovmf-generic usr/share/ovmf/OVMF.fd"
GUEST_KERNEL="linux-image-6.12.95+deb12-amd64 boot/vmlinuz-6.12.95+deb12-amd64"

# Build dependencies: from bookworm, and meson/pycotap from backports.
BUILD_DEPS=(libglib2.0-dev libpixman-1-dev zlib1g-dev libslirp-dev libfdt-dev
    libgnutls28-dev nettle-dev ninja-build pkg-config flex bison python3-venv
    dpkg-dev git ccache xz-utils cpio python3-sphinx python3-sphinx-rtd-theme)
BACKPORTS_DEPS=(meson python3-pycotap)
# For the tests and the demo (firmware for the generic qtests).
# virt-qemu-sev-validate imports lxml and cryptography without depending
# on them. xxd (with the compiler and binutils the build has) regenerates
# the qtest's guest headers from their assembly source.
TEST_DEPS=(python3 seabios ipxe-qemu libvirt-clients-qemu python3-libvirt
    python3-lxml python3-cryptography xxd openssl)

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

# libvirt, for the libvirt series in patches/libvirt/ and its tests: the
# newest libvirt whose source the Debian archive serves and that builds on
# Debian 12. sid lists 12.8.0-1, but the archive here does not serve its
# files; bookworm-backports' 11.3.0-2~bpo12+1 is served but its
# debian.tar.xz is not. libvirt builds from its upstream release tarball
# (Debian's orig tarball), so only that is fetched and checked.
LIBVIRT_VERSION=11.3.0
LIBVIRT_ORIG_TARBALL=libvirt_11.3.0.orig.tar.xz
LIBVIRT_ORIG_SHA256=6bcb0c42c4580436fea262ced56f68a6afe20f7390b1bea2116718cc034a0283
LIBVIRT_POOL_DIR=pool/main/libv/libvirt
LIBVIRT_SERIES_PREFIX="PATCH"
# To build it (beside BUILD_DEPS): the QEMU driver, the daemon, the remote
# and secrets drivers and the unit tests. libnl: 11.3 does not build
# without it (virnetdevbridge.c uses netlink unconditionally).
LIBVIRT_BUILD_DEPS=(libxml2-dev libxml2-utils xsltproc libtirpc-dev libjson-c-dev
    python3-docutils libnl-3-dev libnl-route-3-dev libcap-ng-dev libselinux1-dev
    libacl1-dev)
# Debian 12's own libvirt daemon, for the passthrough test (not
# libvirt-daemon-system: the test starts the daemon itself).
LIBVIRT_TEST_DEPS=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients)

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
LIBVIRT_TREE=${LIBVIRT_TREE:-$BUILD_DIR/libvirt}
LIBVIRT_BUILD=$LIBVIRT_TREE/build

# select_project qemu|libvirt: PROJECT_TREE, PROJECT_PATCHES (where its
# series live) and PROJECT_PREFIX (their subject prefix) of one of the two
# projects we patch.
select_project() {
    case "$1" in
        qemu)
            PROJECT_TREE=$QEMU_TREE PROJECT_PATCHES=$TOP/patches
            PROJECT_PREFIX=$SERIES_PREFIX ;;
        libvirt)
            PROJECT_TREE=$LIBVIRT_TREE PROJECT_PATCHES=$TOP/patches/libvirt
            PROJECT_PREFIX=$LIBVIRT_SERIES_PREFIX ;;
        *)
            echo "unknown project '$1' (qemu or libvirt)" >&2
            return 1 ;;
    esac
    PROJECT=$1
}

# The QEMU patches are topic series, each posted on its own: one folder
# of patches/ per series (patch files, their "series" list, a cover
# letter), applied in the order patches/series lists the folders.
# libvirt's patches are one series, patches/libvirt/.
#
# series_names: the series of the selected project, in order.
series_names() {
    if [ "$PROJECT" = qemu ]; then
        sed -e '/^#/d' -e '/^$/d' "$PROJECT_PATCHES/series"
    else
        echo libvirt
    fi
}

# series_dir NAME: the folder of series NAME
series_dir() {
    if [ "$PROJECT" = qemu ]; then echo "$PROJECT_PATCHES/$1"; else echo "$PROJECT_PATCHES"; fi
}

# series_files NAME: its patch files, in order
series_files() {
    local dir f
    dir=$(series_dir "$1")
    [ -f "$dir/series" ] || return 0
    while read -r f; do
        case "$f" in ''|'#'*) continue ;; esac
        printf '%s\n' "$dir/$f"
    done < "$dir/series"
}

# In the project's tree, the branch series/NAME points at the last commit
# of series NAME: tree.sh sets it, export.sh exports each series from the
# previous one's branch (or "upstream") to its own.  Amend with
# "git rebase -i --update-refs upstream", which moves the branches along.
series_branch() { echo "series/$1"; }

# series_prefix NAME: the subject prefix of series NAME: that of the
# project, or the series' own (its subject-prefix file) for a series
# posted at another version than the others
series_prefix() {
    local f
    f=$(series_dir "$1")/subject-prefix
    if [ -f "$f" ]; then cat "$f"; else echo "$PROJECT_PREFIX"; fi
}

# series_based_on NAME: the series that NAME's cover letter says it is
# based on ("Based-on: NAME" lines), which must be applied before it
series_based_on() {
    sed -n 's/^Based-on: \([0-9][0-9]-[a-z0-9-]*\).*/\1/p' "$(series_dir "$1")/cover-letter.txt" 2>/dev/null
}

# make stress-es: OVMF 2026.08 (sid's ovmf-generic), whose #VC handler no
# longer enables interrupts; checked against Debian 12's OVMF of the
# guest assets.
STRESS_OVMF_DEB=ovmf-generic
STRESS_OVMF_VERSION=2026.08+ds-2
STRESS_OVMF_SHA256=05c1593998ba58700ff86c062bde306321af1f5a2943ea9ceef6c2332f3f3374
STRESS_OVMF_FILE=usr/share/ovmf/OVMF.fd
