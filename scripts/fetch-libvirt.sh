#!/usr/bin/env bash
# Download libvirt's upstream release tarball (Debian's orig tarball) into
# the cache once, from the archive the machine's apt configuration names,
# and verify its sha256 on every run.
set -euo pipefail
source "$(dirname "$0")/config.sh"
source "$TOP/scripts/apt-private.sh"

SRC_DIR=$CACHE_DIR/source

verify() {
    echo "$LIBVIRT_ORIG_SHA256  $SRC_DIR/$LIBVIRT_ORIG_TARBALL" | sha256sum -c --status
}

main() {
    local uri
    mkdir -p "$SRC_DIR"
    if [ -f "$SRC_DIR/$LIBVIRT_ORIG_TARBALL" ]; then
        echo "fetch: libvirt $LIBVIRT_VERSION already cached, skipping download"
    else
        uri=$(archive_uri)
        echo "fetch: downloading libvirt $LIBVIRT_VERSION"
        # apt's own downloader checks the hash before it keeps the file
        /usr/lib/apt/apt-helper -q download-file \
            "${uri%/}/$LIBVIRT_POOL_DIR/$LIBVIRT_ORIG_TARBALL" \
            "$SRC_DIR/$LIBVIRT_ORIG_TARBALL" "SHA256:$LIBVIRT_ORIG_SHA256" >/dev/null 2>&1 ||
            { echo "fetch: cannot download $LIBVIRT_ORIG_TARBALL" >&2; exit 1; }
    fi
    if ! verify; then
        echo "fetch: sha256 mismatch for $LIBVIRT_ORIG_TARBALL; removing it" >&2
        rm -f "$SRC_DIR/$LIBVIRT_ORIG_TARBALL"
        exit 1
    fi
    echo "fetch: $LIBVIRT_ORIG_TARBALL sha256 OK"
}

main "$@"
