#!/usr/bin/env bash
# Export the commits upstream..HEAD of build/qemu to patches/ as
# git format-patch output with stable contents (no commit hashes, no
# version signature), and list them in patches/series.
set -euo pipefail
source "$(dirname "$0")/config.sh"

main() {
    if [ -n "$(git -C "$QEMU_TREE" status --porcelain --untracked-files=no)" ]; then
        echo "export: $QEMU_TREE has uncommitted changes; commit them first" >&2
        exit 1
    fi
    local out=$TOP/patches
    mkdir -p "$out"
    # The cover letter is written by hand; everything else is regenerated.
    find "$out" -name '[0-9][0-9][0-9][0-9]-*.patch' ! -name '0000-*' -delete
    git -C "$QEMU_TREE" format-patch -q --zero-commit --no-signature \
        --no-numbered -o "$out" upstream..HEAD
    (cd "$out" && ls [0-9][0-9][0-9][0-9]-*.patch | grep -v '^0000-' > series)
    echo "export: $(wc -l < "$out/series") patch(es) in patches/ (see patches/series)"
}

main "$@"
