#!/usr/bin/env bash
# build/qemu: QEMU 10.2.2 with Debian's build patches as commit "upstream"
# (tag), then the series from patches/ applied with git am.
# Refuses to discard commits in build/qemu that patches/ does not hold.
set -euo pipefail
source "$(dirname "$0")/config.sh"

SRC_DIR=$CACHE_DIR/source

series_files() {
    local f
    [ -f "$TOP/patches/series" ] || return 0
    while read -r f; do
        case "$f" in ''|'#'*) continue ;; esac
        printf '%s\n' "$TOP/patches/$f"
    done < "$TOP/patches/series"
}

patch_ids() {   # stdin: patches or log -p; stdout: sorted patch ids
    git patch-id --stable | awk '{print $1}' | sort
}

tree_ids() { git -C "$QEMU_TREE" log -p --reverse upstream..HEAD | patch_ids; }

series_ids() {
    local files
    files=$(series_files)
    [ -z "$files" ] || cat $files | patch_ids
}

# Identity for the harness's own commits (the base commit, git am's
# committer): the project repo's configured one.
tree_git() {
    git -C "$QEMU_TREE" \
        -c user.name="$(git -C "$TOP" config user.name || echo sev-emulated-harness)" \
        -c user.email="$(git -C "$TOP" config user.email || echo harness@localhost)" "$@"
}

create_upstream() {
    local tmp=$BUILD_DIR/qemu.unpack
    rm -rf "$tmp"
    mkdir -p "$BUILD_DIR"
    echo "tree: unpacking QEMU $QEMU_DEB_VERSION (dpkg-source -x, Debian patches applied)"
    # The .dsc signature cannot be checked here (no Debian keyring for
    # sid uploaders); the orig tarball sha256 was verified by fetch-qemu.sh.
    dpkg-source -q -x "$SRC_DIR"/qemu_*.dsc "$tmp" >/dev/null 2>&1
    # debian/ is packaging, not QEMU: leave it out of the tree we patch.
    rm -rf "$tmp/debian" "$tmp/.pc"
    git -C "$tmp" init -q -b master
    # Diffs (format-patch, log -p) show code moved to a new file as a
    # copy, so that checkpatch and reviewers see what changed, not every
    # moved line as new; patch ids then agree with patches/ everywhere.
    git -C "$tmp" config diff.renames copies
    # Build directories other than build/ (which QEMU ignores already)
    echo "/build-*/" >> "$tmp/.git/info/exclude"
    mv "$tmp" "$QEMU_TREE"
    # -f: the tarball's subprojects/ are in QEMU's .gitignore
    tree_git add -f -A .
    tree_git commit -q -m "upstream: QEMU $QEMU_DEB_VERSION (Debian source, patches applied)"
    tree_git tag upstream
}

apply_series() {
    local files
    files=$(series_files)
    if [ -z "$files" ]; then
        echo "tree: patches/ is empty, tree is plain upstream"
        return 0
    fi
    echo "tree: applying $(echo "$files" | wc -l) patch(es) from patches/"
    tree_git am -q --whitespace=nowarn $files
}

main() {
    "$TOP/scripts/fetch-qemu.sh"
    if [ ! -d "$QEMU_TREE/.git" ]; then
        create_upstream
        apply_series
        return 0
    fi
    if [ -n "$(git -C "$QEMU_TREE" status --porcelain --untracked-files=no)" ]; then
        echo "tree: $QEMU_TREE has uncommitted changes; commit and export them first" >&2
        exit 1
    fi
    local have want extra
    have=$(tree_ids)
    want=$(series_ids)
    if [ "$have" = "$want" ]; then
        echo "tree: $QEMU_TREE already matches patches/, skipping"
        return 0
    fi
    extra=$(comm -23 <(echo "$have") <(echo "$want") | grep . || true)
    if [ -n "$extra" ] && [ "${FORCE:-0}" != 1 ]; then
        echo "tree: $QEMU_TREE has $(echo "$extra" | wc -l) commit(s) not in patches/." >&2
        echo "tree: run 'make export' first, or FORCE=1 make tree to discard them" >&2
        exit 1
    fi
    echo "tree: resetting to upstream and re-applying patches/"
    tree_git reset -q --hard upstream
    apply_series
}

main "$@"
