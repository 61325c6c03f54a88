#!/usr/bin/env bash
# make series-check: the series as a QEMU maintainer would check it.
#   - checkpatch.pl: no errors, no warnings, on every patch
#   - the series applies (git apply --check, patch after patch) to the
#     pristine upstream sources: the orig tarball, without Debian's patches
#   - every patch builds on its own and passes the tests that exist at
#     that point (sev-emulated-test, qom-test, qmp-cmd-test): bisectable
#   - MAINTAINERS covers every file the series adds
# and the libvirt series (patches/libvirt/) as a libvirt maintainer would:
#   - every patch builds and passes libvirt's syntax-check and its unit
#     tests of what the series changes
# Prints "N passed, N failed"; exits non-zero on any failure.
# With --quick, the per-patch builds are left out.
set -euo pipefail
source "$(dirname "$0")/config.sh"

PRISTINE=$BUILD_DIR/pristine
BISECT_TREE=$BUILD_DIR/qemu-bisect
LIBVIRT_BISECT_TREE=$BUILD_DIR/libvirt-bisect
# As scripts/check.sh
LIBVIRT_TESTS=(genericxml2xmltest virschematest qemucapabilitiestest
    qemucaps2xmltest domaincapstest qemuxmlconftest qemusecuritytest)

passed=0
failed=0
result() {      # result pass|fail WHAT
    if [ "$1" = pass ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    echo "$( [ "$1" = pass ] && echo PASS || echo FAIL ) $2"
}

series() { sed -e '/^#/d' -e '/^$/d' "$TOP/patches/series"; }

check_checkpatch() {
    local p out
    for p in $(series); do
        out=$(cd "$QEMU_TREE" && perl scripts/checkpatch.pl -q "$TOP/patches/$p" 2>&1 || true)
        if [ -z "$out" ]; then result pass "checkpatch $p"; else result fail "checkpatch $p"; echo "$out"; fi
    done
}

check_pristine_apply() {
    local p ok=pass
    if [ ! -d "$PRISTINE/.git" ]; then
        echo "series-check: unpacking the pristine orig tarball in $PRISTINE"
        rm -rf "$PRISTINE"
        mkdir -p "$PRISTINE"
        tar -xf "$CACHE_DIR/source/$QEMU_ORIG_TARBALL" -C "$PRISTINE" --strip-components=1
        git -C "$PRISTINE" init -q
        git -C "$PRISTINE" add -A
        git -C "$PRISTINE" -c user.name=series-check -c user.email=series-check@localhost \
            commit -q -m pristine
    fi
    git -C "$PRISTINE" reset -q --hard
    git -C "$PRISTINE" clean -q -fdx
    for p in $(series); do
        if git -C "$PRISTINE" apply --check "$TOP/patches/$p" 2>"$LOG_DIR/pristine-apply.log"; then
            git -C "$PRISTINE" apply "$TOP/patches/$p"
        else
            ok=fail
            cat "$LOG_DIR/pristine-apply.log"
            break
        fi
    done
    result "$ok" "series applies to pristine upstream $QEMU_ORIG_TARBALL"
    git -C "$PRISTINE" reset -q --hard
    git -C "$PRISTINE" clean -q -fdx
}

check_maintainers() {
    local f missing=""
    for f in $(git -C "$QEMU_TREE" diff --no-renames --name-only --diff-filter=A upstream..HEAD); do
        (cd "$QEMU_TREE" && perl scripts/get_maintainer.pl -f "$f" --no-git-fallback 2>/dev/null \
            | grep -qv '^qemu-devel@nongnu.org') || missing="$missing $f"
    done
    if [ -z "$missing" ]; then
        result pass "MAINTAINERS covers the files the series adds"
    else
        result fail "MAINTAINERS does not cover:$missing"
    fi
}

# run_qtest NAME: 0 if it passes (or does not exist yet at this patch)
run_qtest() {
    [ -x "$QEMU_BUILD/tests/qtest/$1" ] || return 0
    (cd "$QEMU_BUILD" && QTEST_QEMU_BINARY=./qemu-system-x86_64 "./tests/qtest/$1") \
        >"$LOG_DIR/bisect-$1.log" 2>&1
}

check_bisect() {
    local commits c n=0 subject t ok
    rm -rf "$BISECT_TREE"
    git -C "$QEMU_TREE" worktree prune
    git -C "$QEMU_TREE" worktree add -q --detach "$BISECT_TREE" upstream
    # Sources that QEMU's .gitignore keeps out of git (subprojects unpacked
    # from the tarball): meson would try to fetch them otherwise.
    cp -a "$QEMU_TREE/subprojects/." "$BISECT_TREE/subprojects/"
    commits=$(git -C "$QEMU_TREE" rev-list --reverse upstream..HEAD)
    for c in $commits; do
        n=$((n + 1))
        subject=$(git -C "$QEMU_TREE" log -1 --format=%s "$c")
        git -C "$BISECT_TREE" checkout -q --detach "$c"
        ok=pass
        if ! QEMU_TREE=$BISECT_TREE QEMU_BUILD=$BISECT_TREE/build "$TOP/scripts/build.sh" >"$LOG_DIR/bisect-build-$n.log" 2>&1; then
            ok=fail
            tail -20 "$LOG_DIR/bisect-build-$n.log"
        else
            for t in sev-emulated-test qom-test qmp-cmd-test; do
                QEMU_BUILD=$BISECT_TREE/build run_qtest "$t" || { ok=fail; echo "  $t failed (log: $LOG_DIR/bisect-$t.log)"; }
            done
        fi
        result "$ok" "patch $n builds and passes its tests: $subject"
    done
    git -C "$QEMU_TREE" worktree remove --force "$BISECT_TREE"
}

check_libvirt_bisect() {
    local c n=0 subject ok log
    [ -d "$LIBVIRT_TREE/.git" ] || { result fail "no libvirt tree: make libvirt-tree"; return; }
    rm -rf "$LIBVIRT_BISECT_TREE"
    git -C "$LIBVIRT_TREE" worktree prune
    git -C "$LIBVIRT_TREE" worktree add -q --detach "$LIBVIRT_BISECT_TREE" upstream
    # keycodemapdb is not tracked (see tree.sh): meson needs it
    mkdir -p "$LIBVIRT_BISECT_TREE/subprojects"
    cp -a "$LIBVIRT_TREE/subprojects/keycodemapdb" "$LIBVIRT_BISECT_TREE/subprojects/"
    for c in $(git -C "$LIBVIRT_TREE" rev-list --reverse upstream..HEAD); do
        n=$((n + 1))
        subject=$(git -C "$LIBVIRT_TREE" log -1 --format=%s "$c")
        git -C "$LIBVIRT_BISECT_TREE" checkout -q --detach "$c"
        log=$LOG_DIR/libvirt-bisect-$n.log
        ok=pass
        if ! LIBVIRT_TREE=$LIBVIRT_BISECT_TREE "$TOP/scripts/build-libvirt.sh" >"$log" 2>&1; then
            ok=fail
            tail -20 "$log"
        elif ! (cd "$LIBVIRT_BISECT_TREE" &&
                meson test -C build --no-rebuild "${LIBVIRT_TESTS[@]}" &&
                meson test -C build --no-rebuild --suite syntax-check) >>"$log" 2>&1; then
            ok=fail
            grep -E ' FAIL ' "$log" | head
        fi
        result "$ok" "libvirt patch $n builds and passes its tests: $subject"
    done
    git -C "$LIBVIRT_TREE" worktree remove --force "$LIBVIRT_BISECT_TREE"
}

main() {
    local start=$SECONDS
    mkdir -p "$LOG_DIR"
    check_checkpatch
    check_pristine_apply
    check_maintainers
    # --quick: leave out the build of every patch (minutes per patch)
    if [ "${1:-}" != --quick ]; then
        check_bisect
        check_libvirt_bisect
    fi
    echo "series-check: $((SECONDS - start)) s"
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
}

main "$@"
