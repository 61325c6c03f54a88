#!/usr/bin/env bash
# tree.sh [qemu|libvirt]: the project's source as commit (and tag)
# "upstream", then its series applied with git am, each followed by its
# branch series/NAME (see config.sh):
#   build/qemu     QEMU 10.2.2 with Debian's build patches, the topic
#                  series of patches/ in the order of patches/series
#   build/libvirt  libvirt's release tarball, patches/libvirt/
# Refuses to discard commits in the tree that the series do not hold.
set -euo pipefail
source "$(dirname "$0")/config.sh"
select_project "${1:-qemu}"

SRC_DIR=$CACHE_DIR/source

all_series_files() {
    local name
    for name in $(series_names); do
        series_files "$name"
    done
}

patch_ids() {   # stdin: patches or log -p; stdout: sorted patch ids
    git patch-id --stable | awk '{print $1}' | sort
}

tree_ids() { git -C "$PROJECT_TREE" log -p --reverse upstream..HEAD | patch_ids; }

series_ids() {
    local files
    files=$(all_series_files)
    [ -z "$files" ] || cat $files | patch_ids
}

# Identity for the harness's own commits (the base commit, git am's
# committer): the project repo's configured one.
tree_git() {
    git -C "$PROJECT_TREE" \
        -c user.name="$(git -C "$TOP" config user.name || echo sev-emulated-harness)" \
        -c user.email="$(git -C "$TOP" config user.email || echo harness@localhost)" "$@"
}

unpack_qemu() {
    local tmp=$1
    echo "tree: unpacking QEMU $QEMU_DEB_VERSION (dpkg-source -x, Debian patches applied)"
    # The .dsc signature cannot be checked here (no Debian keyring for
    # sid uploaders); the orig tarball sha256 was verified by fetch-qemu.sh.
    dpkg-source -q -x "$SRC_DIR"/qemu_*.dsc "$tmp" >/dev/null 2>&1
    # debian/ is packaging, not QEMU: leave it out of the tree we patch.
    rm -rf "$tmp/debian" "$tmp/.pc"
    UPSTREAM_SUBJECT="upstream: QEMU $QEMU_DEB_VERSION (Debian source, patches applied)"
}

unpack_libvirt() {
    local tmp=$1
    echo "tree: unpacking libvirt $LIBVIRT_VERSION (release tarball)"
    mkdir -p "$tmp"
    tar -C "$tmp" --strip-components=1 --no-same-owner -xf "$SRC_DIR/$LIBVIRT_ORIG_TARBALL"
    UPSTREAM_SUBJECT="upstream: libvirt $LIBVIRT_VERSION (release tarball)"
    # Upstream, keycodemapdb is a git submodule, which libvirt's
    # syntax-check skips; committed as files, its code would be checked
    # against libvirt's style and fail. The build uses the files anyway.
    UNTRACKED=subprojects/keycodemapdb
}

create_upstream() {
    local tmp=$PROJECT_TREE.unpack
    rm -rf "$tmp"
    mkdir -p "$BUILD_DIR"
    "unpack_$PROJECT" "$tmp"
    git -C "$tmp" init -q -b master
    # Diffs (format-patch, log -p) show code moved to a new file as a
    # copy, so that checkpatch and reviewers see what changed, not every
    # moved line as new; patch ids then agree with patches/ everywhere.
    git -C "$tmp" config diff.renames copies
    # Build directories (QEMU's .gitignore has build/, libvirt's tarball
    # has no .gitignore)
    printf '/build/\n/build-*/\n' >> "$tmp/.git/info/exclude"
    [ -z "${UNTRACKED:-}" ] || echo "/$UNTRACKED/" >> "$tmp/.git/info/exclude"
    mv "$tmp" "$PROJECT_TREE"
    # -f: the tarball's subprojects/ are in QEMU's .gitignore
    tree_git add -f -A .
    [ -z "${UNTRACKED:-}" ] || tree_git rm -r -q --cached "$UNTRACKED"
    tree_git commit -q -m "$UPSTREAM_SUBJECT"
    tree_git tag upstream
}

apply_series() {
    local name files
    for name in $(series_names); do
        files=$(series_files "$name")
        if [ -n "$files" ]; then
            echo "tree: applying $(echo "$files" | wc -l) patch(es) of $(series_dir "$name" | sed "s|^$TOP/||")/"
            tree_git am -q --whitespace=nowarn $files
        fi
    done
    set_series_branches
}

# Point each series/NAME branch at the last commit of series NAME, in a
# tree whose commits are exactly the series'
set_series_branches() {
    local commits=() n=0 name count
    mapfile -t commits < <(git -C "$PROJECT_TREE" rev-list --reverse upstream..HEAD)
    for name in $(series_names); do
        count=$(series_files "$name" | grep -c . || true)
        n=$((n + count))
        if [ "$n" = 0 ]; then
            tree_git branch -f "$(series_branch "$name")" upstream
        else
            tree_git branch -f "$(series_branch "$name")" "${commits[$((n - 1))]}"
        fi
    done
}

main() {
    local name
    "$TOP/scripts/fetch-$PROJECT.sh"
    if [ ! -d "$PROJECT_TREE/.git" ]; then
        create_upstream
        apply_series
        return 0
    fi
    if [ -n "$(git -C "$PROJECT_TREE" status --porcelain --untracked-files=no)" ]; then
        echo "tree: $PROJECT_TREE has uncommitted changes; commit and export them first" >&2
        exit 1
    fi
    local have want extra
    have=$(tree_ids)
    want=$(series_ids)
    if [ "$have" = "$want" ]; then
        echo "tree: $PROJECT_TREE already matches ${PROJECT_PATCHES#"$TOP"/}/, skipping"
        # A tree made before the series had branches
        for name in $(series_names); do
            git -C "$PROJECT_TREE" rev-parse -q --verify "$(series_branch "$name")" >/dev/null ||
                { set_series_branches; break; }
        done
        return 0
    fi
    extra=$(comm -23 <(echo "$have") <(echo "$want") | grep . || true)
    if [ -n "$extra" ] && [ "${FORCE:-0}" != 1 ]; then
        echo "tree: $PROJECT_TREE has $(echo "$extra" | wc -l) commit(s) not in ${PROJECT_PATCHES#"$TOP"/}/." >&2
        echo "tree: run 'make export' first, or FORCE=1 make $([ "$PROJECT" = qemu ] && echo tree || echo libvirt-tree) to discard them" >&2
        exit 1
    fi
    echo "tree: resetting to upstream and re-applying ${PROJECT_PATCHES#"$TOP"/}/"
    tree_git reset -q --hard upstream
    # Branches of series that are gone would be exported again
    git -C "$PROJECT_TREE" for-each-ref --format='%(refname:short)' refs/heads/series/ |
        xargs -r git -C "$PROJECT_TREE" branch -q -D
    apply_series
}

main "$@"
