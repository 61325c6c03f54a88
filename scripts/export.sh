#!/usr/bin/env bash
# export.sh [qemu|libvirt]: export the commits upstream..HEAD of the
# project's tree (build/qemu, build/libvirt) to its series (the topic
# folders of patches/, patches/libvirt/) as git format-patch output with
# stable contents (no commit hashes, no version signature), each listed
# in its series file.  Series NAME is the range from the previous series'
# branch (or "upstream") to its own branch, series/NAME (config.sh).
set -euo pipefail
source "$(dirname "$0")/config.sh"
select_project "${1:-qemu}"

tree_git() { git -C "$PROJECT_TREE" "$@"; }

# 0000-cover-letter.patch of a series: git's cover letter (shortlog and
# diffstat of the series as it is now) with the subject and text of the
# hand-written cover-letter.txt beside it.
write_cover_letter() {
    local out=$1 range=$2 prefix=$3 text=$1/cover-letter.txt
    [ -f "$text" ] || return 0
    tree_git format-patch -q --zero-commit --no-signature \
        --subject-prefix="$prefix" \
        --cover-letter --numbered -o "$out/.cover" "$range"
    python3 - "$out/.cover/0000-cover-letter.patch" "$text" \
        "$out/0000-cover-letter.patch" <<'PY'
import sys
letter, text, dest = sys.argv[1:]
subject, _, body = open(text).read().partition("\n\n")
s = open(letter).read()
s = s.replace("*** SUBJECT HERE ***", subject.strip())
s = s.replace("*** BLURB HERE ***", body.rstrip("\n"))
open(dest, "w").write(s)
PY
    rm -rf "$out/.cover"
}

export_series() {
    local name=$1 range=$2 out prefix
    out=$(series_dir "$name")
    mkdir -p "$out"
    find "$out" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]-*.patch' -delete
    prefix=$(series_prefix "$name")
    tree_git format-patch -q --zero-commit --no-signature \
        --subject-prefix="$prefix" --numbered -o "$out" "$range"
    (cd "$out" && ls [0-9][0-9][0-9][0-9]-*.patch 2>/dev/null | grep -v '^0000-' > series || true)
    write_cover_letter "$out" "$range" "$prefix"
    echo "export: $(grep -c . "$out/series" || true) patch(es) in ${out#"$TOP"/}/"
}

main() {
    local name branch prev=upstream
    if [ -n "$(tree_git status --porcelain --untracked-files=no)" ]; then
        echo "export: $PROJECT_TREE has uncommitted changes; commit them first" >&2
        exit 1
    fi
    # Every series' branch must exist and follow the previous one, and
    # the last must be HEAD: a commit outside them belongs to no series.
    for name in $(series_names); do
        branch=$(series_branch "$name")
        if ! tree_git rev-parse -q --verify "$branch" >/dev/null; then
            echo "export: no branch $branch in $PROJECT_TREE: point it at the last commit of series $name" >&2
            exit 1
        fi
        if ! tree_git merge-base --is-ancestor "$prev" "$branch"; then
            echo "export: $branch does not follow $prev" >&2
            exit 1
        fi
        prev=$branch
    done
    if [ "$(tree_git rev-parse "$prev")" != "$(tree_git rev-parse HEAD)" ]; then
        echo "export: HEAD is not $prev: the commits $prev..HEAD belong to no series" >&2
        exit 1
    fi
    # tree.sh sets diff.renames=copies in the tree: a patch that moves
    # code to a new file shows the move, not a new file whose every
    # (pre-existing) line checkpatch would judge.
    tree_git config diff.renames copies
    prev=upstream
    for name in $(series_names); do
        branch=$(series_branch "$name")
        export_series "$name" "$prev..$branch"
        prev=$branch
    done
}

main "$@"
