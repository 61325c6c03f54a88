#!/usr/bin/env bash
# Download QEMU's Debian source package into the cache (once) and verify the
# orig tarball's sha256 on every run.
set -euo pipefail
source "$(dirname "$0")/config.sh"
source "$TOP/scripts/apt-private.sh"

SRC_DIR=$CACHE_DIR/source

verify() {
    echo "$QEMU_ORIG_SHA256  $SRC_DIR/$QEMU_ORIG_TARBALL" | sha256sum -c --status
}

main() {
    mkdir -p "$SRC_DIR"
    if [ -f "$SRC_DIR/$QEMU_ORIG_TARBALL" ] && ls "$SRC_DIR"/qemu_*.dsc >/dev/null 2>&1; then
        echo "fetch: QEMU source $QEMU_DEB_VERSION already cached, skipping download"
    else
        apt_private_setup
        echo "fetch: downloading QEMU source $QEMU_DEB_VERSION"
        (cd "$SRC_DIR" && apt_private apt-get source -d -q "qemu=$QEMU_DEB_VERSION" >/dev/null)
    fi
    if ! verify; then
        echo "fetch: sha256 mismatch for $QEMU_ORIG_TARBALL; removing it" >&2
        rm -f "$SRC_DIR/$QEMU_ORIG_TARBALL"
        exit 1
    fi
    echo "fetch: $QEMU_ORIG_TARBALL sha256 OK"
}

main "$@"
