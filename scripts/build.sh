#!/usr/bin/env bash
# Configure (once) and build qemu-system-x86_64 and the qtests we run,
# with ccache. Extra configure flags: QEMU_EXTRA_CONFIGURE.
# QEMU_VARIANT=nokvm builds the same tree without KVM, as QEMU is built
# for hosts whose KVM cannot run x86 guests, with what its tests need.
set -euo pipefail
source "$(dirname "$0")/config.sh"

# Hash paths relative to the QEMU tree, so that other clones and trees
# (CI's fresh clone, series-check's worktree) hit the same ccache entries.
export CCACHE_BASEDIR=$QEMU_TREE CCACHE_NOHASHDIR=true

# One log pair per tree and build directory: qemu-build (make build),
# qemu-build-asan (check-asan), qemu-bisect-build (series-check).
BUILD_LOG=$LOG_DIR/$(basename "$QEMU_TREE")-$(basename "$QEMU_BUILD").log
CONFIGURE_LOG=$LOG_DIR/configure-$(basename "$QEMU_TREE")-$(basename "$QEMU_BUILD").log

if [ "${QEMU_VARIANT:-}" = nokvm ]; then
    ACCEL_FLAGS=(--disable-kvm --enable-tcg) DOCS_FLAG=--disable-docs
else
    ACCEL_FLAGS=(--enable-kvm --enable-tcg) DOCS_FLAG=--enable-docs
fi
CONFIGURE_FLAGS=(
    --python=/usr/bin/python3
    # Debian's ccache wrappers: configure passes CC to meson explicitly,
    # so meson would not add ccache by itself.
    --cc=/usr/lib/ccache/gcc --cxx=/usr/lib/ccache/g++
    --target-list=x86_64-softmmu
    "${ACCEL_FLAGS[@]}"
    --enable-gnutls --enable-nettle
    --enable-slirp --enable-fdt=system
    --disable-install-blobs
    # The +ds tarball has no firmware blobs: use the Debian packages.
    --firmwarepath=/usr/share/seabios:/usr/lib/ipxe/qemu
    "$DOCS_FLAG" --disable-tools --disable-user
)
TARGETS=(qemu-system-x86_64)
for t in "${GENERIC_QTESTS[@]}"; do TARGETS+=("tests/qtest/$t"); done
[ "${QEMU_VARIANT:-}" = nokvm ] && TARGETS=(qemu-system-x86_64)
# The series' own tests, once the series add them (series-check builds
# every patch)
for t in "${UNIT_TESTS[@]}"; do
    [ "${QEMU_VARIANT:-}" != nokvm ] && [ -f "$QEMU_TREE/tests/unit/$t.c" ] &&
        TARGETS+=("tests/unit/$t")
done
for t in "${SERIES_QTESTS[@]}"; do
    [ -f "$QEMU_TREE/tests/qtest/$t.c" ] && TARGETS+=("tests/qtest/$t")
done

configure_if_needed() {
    local want have stamp=$QEMU_BUILD/.configure-flags
    want="${CONFIGURE_FLAGS[*]} ${QEMU_EXTRA_CONFIGURE:-}"
    have=$(cat "$stamp" 2>/dev/null || true)
    if [ -f "$QEMU_BUILD/build.ninja" ] && [ "$want" = "$have" ]; then
        echo "build: already configured, skipping configure"
        return 0
    fi
    echo "build: configuring (log: $CONFIGURE_LOG)"
    rm -rf "$QEMU_BUILD"
    mkdir -p "$QEMU_BUILD" "$LOG_DIR"
    # shellcheck disable=SC2086
    if ! (cd "$QEMU_BUILD" && ../configure "${CONFIGURE_FLAGS[@]}" ${QEMU_EXTRA_CONFIGURE:-}) \
            >"$CONFIGURE_LOG" 2>&1; then
        tail -30 "$CONFIGURE_LOG"
        exit 1
    fi
    echo "$want" > "$stamp"
}

build() {
    local targets=("${TARGETS[@]}") start=$SECONDS steps
    # ninja always reruns a few generators (qemu-version.h) that change
    # nothing, so run it and report what it compiled or linked.
    if ! ninja -C "$QEMU_BUILD" "${targets[@]}" >"$BUILD_LOG" 2>&1; then
        grep -E 'error|Error' "$BUILD_LOG" | head -30
        tail -20 "$BUILD_LOG"
        exit 1
    fi
    steps=$(grep -cE '^\[[0-9]+/[0-9]+\] (Compiling|Linking)' "$BUILD_LOG" || true)
    if [ "$steps" = 0 ]; then
        echo "build: up to date, nothing rebuilt"
    else
        echo "build: compiled/linked $steps file(s) in $((SECONDS - start)) s (log: $BUILD_LOG)"
    fi
}

# QEMU run from the build tree looks for firmware in qemu-bundle/ under
# the --firmwarepath directories: point those at the Debian packages.
link_firmware() {
    local dir
    for dir in /usr/share/seabios /usr/lib/ipxe/qemu; do
        mkdir -p "$(dirname "$QEMU_BUILD/qemu-bundle$dir")"
        ln -sfn "$dir" "$QEMU_BUILD/qemu-bundle$dir"
    done
}

main() {
    configure_if_needed
    build
    link_firmware
}

main "$@"
