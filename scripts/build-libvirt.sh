#!/usr/bin/env bash
# Configure (once) and build libvirt in build/libvirt/build with ccache:
# the QEMU driver, libvirtd, the remote and secrets drivers, virsh and the
# unit tests; no docs, no other drivers. Run from the build tree (its
# "run" script), never installed.
set -euo pipefail
source "$(dirname "$0")/config.sh"

# As for QEMU: hash paths relative to the tree, so fresh clones hit the cache
export CCACHE_BASEDIR=$LIBVIRT_TREE CCACHE_NOHASHDIR=true

# One log pair per tree: libvirt (make libvirt-build), libvirt-bisect
# (series-check)
BUILD_LOG=$LOG_DIR/$(basename "$LIBVIRT_TREE")-build.log
CONFIGURE_LOG=$LOG_DIR/$(basename "$LIBVIRT_TREE")-configure.log

DISABLED=(driver_network driver_interface driver_lxc driver_ch driver_libxl
    driver_vbox driver_esx driver_hyperv driver_openvz driver_vmware driver_vz
    driver_bhyve storage_dir storage_fs storage_disk storage_lvm storage_iscsi
    storage_iscsi_direct storage_mpath storage_scsi storage_rbd storage_gluster
    storage_vstorage storage_zfs nss wireshark_dissector secdriver_apparmor
    apparmor polkit firewalld nbdkit sasl libssh libssh2 bash_completion nls docs)
MESON_FLAGS=(-Dsystem=false -Dtests=enabled -Dexpensive_tests=disabled
    -Ddriver_qemu=enabled -Ddriver_libvirtd=enabled -Ddriver_remote=enabled
    -Ddriver_secrets=enabled -Ddriver_test=enabled -Dlibnl=enabled
    -Dgit_werror=disabled
    # Debian's default (libvirt-qemu) is an account that only the
    # libvirt-daemon-system package creates; libvirtd refuses to start
    # without it. The build tree's daemon runs its guests as root.
    -Dqemu_user=root -Dqemu_group=root)
for opt in "${DISABLED[@]}"; do
    MESON_FLAGS+=("-D$opt=disabled")
done

configure_if_needed() {
    local want have stamp=$LIBVIRT_BUILD/.configure-flags
    want="${MESON_FLAGS[*]}"
    have=$(cat "$stamp" 2>/dev/null || true)
    if [ -f "$LIBVIRT_BUILD/build.ninja" ] && [ "$want" = "$have" ]; then
        echo "build-libvirt: already configured, skipping configure"
        return 0
    fi
    echo "build-libvirt: configuring (log: $CONFIGURE_LOG)"
    rm -rf "$LIBVIRT_BUILD"
    mkdir -p "$LOG_DIR"
    if ! (cd "$LIBVIRT_TREE" && CC="ccache gcc" meson setup build "${MESON_FLAGS[@]}") \
            >"$CONFIGURE_LOG" 2>&1; then
        tail -30 "$CONFIGURE_LOG"
        exit 1
    fi
    echo "$want" > "$stamp"
}

build() {
    local start=$SECONDS steps
    if ! ninja -C "$LIBVIRT_BUILD" >"$BUILD_LOG" 2>&1; then
        grep -E 'error|Error' "$BUILD_LOG" | head -30
        tail -20 "$BUILD_LOG"
        exit 1
    fi
    steps=$(grep -cE '^\[[0-9]+/[0-9]+\] (Compiling|Linking)' "$BUILD_LOG" || true)
    if [ "$steps" = 0 ]; then
        echo "build-libvirt: up to date, nothing rebuilt"
    else
        echo "build-libvirt: compiled/linked $steps file(s) in $((SECONDS - start)) s (log: $BUILD_LOG)"
    fi
}

main() {
    configure_if_needed
    build
}

main "$@"
