#!/usr/bin/env bash
# export.sh [qemu|libvirt]: export the commits upstream..HEAD of the
# project's tree (build/qemu, build/libvirt) to its series (patches/,
# patches/libvirt/) as git format-patch output with stable contents (no
# commit hashes, no version signature), and list them in its series file.
set -euo pipefail
source "$(dirname "$0")/config.sh"
select_project "${1:-qemu}"

# 0000-cover-letter.patch of the series: git's cover letter (shortlog and
# diffstat of the series as it is now) with the subject and text of the
# hand-written cover-letter.txt beside it.
write_cover_letter() {
    local out=$1 text=$1/cover-letter.txt
    [ -f "$text" ] || return 0
    git -C "$PROJECT_TREE" format-patch -q --zero-commit --no-signature \
        --subject-prefix="$PROJECT_PREFIX" \
        --cover-letter --numbered -o "$out/.cover" upstream..HEAD
    python3 - "$out/.cover/0000-cover-letter.patch" "$text" \
        "$out/0000-cover-letter.patch" "$(wc -l < "$out/series")" <<'PY'
import sys
letter, text, dest, count = sys.argv[1:]
subject, _, body = open(text).read().partition("\n\n")
s = open(letter).read()
s = s.replace("*** SUBJECT HERE ***", subject.strip())
s = s.replace("*** BLURB HERE ***", body.rstrip("\n"))
open(dest, "w").write(s)
PY
    rm -rf "$out/.cover"
}

main() {
    if [ -n "$(git -C "$PROJECT_TREE" status --porcelain --untracked-files=no)" ]; then
        echo "export: $PROJECT_TREE has uncommitted changes; commit them first" >&2
        exit 1
    fi
    local out=$PROJECT_PATCHES
    mkdir -p "$out"
    find "$out" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]-*.patch' -delete
    # tree.sh sets diff.renames=copies in the tree: a patch that moves
    # code to a new file shows the move, not a new file whose every
    # (pre-existing) line checkpatch would judge.
    git -C "$PROJECT_TREE" config diff.renames copies
    git -C "$PROJECT_TREE" format-patch -q --zero-commit --no-signature \
        --subject-prefix="$PROJECT_PREFIX" --numbered -o "$out" upstream..HEAD
    (cd "$out" && ls [0-9][0-9][0-9][0-9]-*.patch > series)
    write_cover_letter "$out"
    echo "export: $(wc -l < "$out/series") patch(es) in ${out#"$TOP"/}/ (see ${out#"$TOP"/}/series)"
}

main "$@"
