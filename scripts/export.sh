#!/usr/bin/env bash
# Export the commits upstream..HEAD of build/qemu to patches/ as
# git format-patch output with stable contents (no commit hashes, no
# version signature), and list them in patches/series.
set -euo pipefail
source "$(dirname "$0")/config.sh"

# patches/0000-cover-letter.patch: git's cover letter (shortlog and
# diffstat of the series as it is now) with the subject and text of the
# hand-written patches/cover-letter.txt.
write_cover_letter() {
    local out=$1 text=$1/cover-letter.txt
    [ -f "$text" ] || return 0
    git -C "$QEMU_TREE" format-patch -q --zero-commit --no-signature \
        --subject-prefix="$SERIES_PREFIX" \
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
    if [ -n "$(git -C "$QEMU_TREE" status --porcelain --untracked-files=no)" ]; then
        echo "export: $QEMU_TREE has uncommitted changes; commit them first" >&2
        exit 1
    fi
    local out=$TOP/patches
    mkdir -p "$out"
    find "$out" -name '[0-9][0-9][0-9][0-9]-*.patch' -delete
    # tree.sh sets diff.renames=copies in the tree: a patch that moves
    # code to a new file shows the move, not a new file whose every
    # (pre-existing) line checkpatch would judge.
    git -C "$QEMU_TREE" config diff.renames copies
    git -C "$QEMU_TREE" format-patch -q --zero-commit --no-signature \
        --subject-prefix="$SERIES_PREFIX" --numbered -o "$out" upstream..HEAD
    (cd "$out" && ls [0-9][0-9][0-9][0-9]-*.patch > series)
    write_cover_letter "$out"
    echo "export: $(wc -l < "$out/series") patch(es) in patches/ (see patches/series)"
}

main "$@"
