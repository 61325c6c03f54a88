#!/usr/bin/env bash
# make series-check: the QEMU topic series as QEMU maintainers would take
# them, one by one:
#   - checkpatch.pl: no errors, no warnings, on every patch
#   - every series applies (git apply --check, patch after patch) to the
#     pristine upstream sources (the orig tarball, without Debian's
#     patches), after the series its cover letter is "Based-on:" only
#   - a series based on no other builds on upstream alone and passes the
#     tests that exist there (worktree build/qemu-alone)
#   - every patch of all the series, in order, builds on its own and
#     passes the tests that exist at that point: bisectable
#     (worktree build/qemu-bisect)
#   - MAINTAINERS covers every file the series add
# and the libvirt series (patches/libvirt/) as a libvirt maintainer would:
#   - every patch builds and passes libvirt's syntax-check and its unit
#     tests of what the series changes
# Prints "N passed, N failed"; exits non-zero on any failure.
# With --quick, the builds are left out.
set -euo pipefail
source "$(dirname "$0")/config.sh"

PRISTINE=$BUILD_DIR/pristine
ALONE_TREE=$BUILD_DIR/qemu-alone
BISECT_TREE=$BUILD_DIR/qemu-bisect
LIBVIRT_BISECT_TREE=$BUILD_DIR/libvirt-bisect
# As scripts/check.sh
LIBVIRT_TESTS=(genericxml2xmltest virschematest qemucapabilitiestest
    qemucaps2xmltest domaincapstest qemuxmlconftest qemusecuritytest)

passed=0
failed=0
skipped=0
result() {      # result pass|fail WHAT
    if [ "$1" = pass ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    echo "$( [ "$1" = pass ] && echo PASS || echo FAIL ) $2"
}

# series_with_deps NAME: the series NAME needs, then NAME, in the order
# of patches/series
series_with_deps() {
    local want=" $1 " changed=1 name dep
    while [ "$changed" = 1 ]; do
        changed=0
        for name in $want; do
            for dep in $(series_based_on "$name"); do
                case "$want" in *" $dep "*) ;; *) want="$want$dep "; changed=1 ;; esac
            done
        done
    done
    for name in $(series_names); do
        case "$want" in *" $name "*) echo "$name" ;; esac
    done
}

check_checkpatch() {
    local name p out
    for name in $(series_names); do
        for p in $(series_files "$name"); do
            out=$(cd "$QEMU_TREE" && perl scripts/checkpatch.pl -q "$p" 2>&1 || true)
            if [ -z "$out" ]; then
                result pass "checkpatch ${p#"$TOP"/}"
            else
                result fail "checkpatch ${p#"$TOP"/}"
                echo "$out"
            fi
        done
    done
}

pristine_reset() {
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
}

check_pristine_apply() {
    local name dep p ok deps
    for name in $(series_names); do
        pristine_reset
        ok=pass
        deps=$(series_with_deps "$name" | tr '\n' ' ')
        for dep in $deps; do
            for p in $(series_files "$dep"); do
                if git -C "$PRISTINE" apply --check "$p" 2>"$LOG_DIR/pristine-apply.log"; then
                    git -C "$PRISTINE" apply "$p"
                else
                    ok=fail
                    echo "  ${p#"$TOP"/} does not apply:"
                    cat "$LOG_DIR/pristine-apply.log"
                    break 2
                fi
            done
        done
        result "$ok" "series $name applies to pristine $QEMU_ORIG_TARBALL (with: ${deps% })"
    done
    pristine_reset
}

check_maintainers() {
    local f missing=""
    for f in $(git -C "$QEMU_TREE" diff --no-renames --name-only --diff-filter=A upstream..HEAD); do
        (cd "$QEMU_TREE" && perl scripts/get_maintainer.pl -f "$f" --no-git-fallback 2>/dev/null \
            | grep -qv '^qemu-devel@nongnu.org') || missing="$missing $f"
    done
    if [ -z "$missing" ]; then
        result pass "MAINTAINERS covers the files the series add"
    else
        result fail "MAINTAINERS does not cover:$missing"
    fi
}

# new_worktree DIR: a worktree of the QEMU tree at upstream, with the
# sources that QEMU's .gitignore keeps out of git (subprojects unpacked
# from the tarball), which meson would try to fetch otherwise
new_worktree() {
    rm -rf "$1"
    git -C "$QEMU_TREE" worktree prune
    git -C "$QEMU_TREE" worktree add -q --detach "$1" upstream
    cp -a "$QEMU_TREE/subprojects/." "$1/subprojects/"
}

# run_tests TREE LOGNAME: build TREE and run the tests that exist in it;
# 0 if all pass
run_tests() {
    local tree=$1 log=$2 t rc=0
    if ! QEMU_TREE=$tree QEMU_BUILD=$tree/build "$TOP/scripts/build.sh" >"$LOG_DIR/$log-build.log" 2>&1; then
        tail -20 "$LOG_DIR/$log-build.log"
        return 1
    fi
    for t in "${SERIES_QTESTS[@]}" "${GENERIC_QTESTS[@]}"; do
        [ -x "$tree/build/tests/qtest/$t" ] || continue
        (cd "$tree/build" && QTEST_QEMU_BINARY=./qemu-system-x86_64 "./tests/qtest/$t") \
            >"$LOG_DIR/$log-$t.log" 2>&1 || { rc=1; echo "  $t failed (log: $LOG_DIR/$log-$t.log)"; }
    done
    for t in "${UNIT_TESTS[@]}"; do
        [ -x "$tree/build/tests/unit/$t" ] || continue
        "$tree/build/tests/unit/$t" >"$LOG_DIR/$log-$t.log" 2>&1 ||
            { rc=1; echo "  $t failed (log: $LOG_DIR/$log-$t.log)"; }
    done
    return "$rc"
}

# Each series that depends on no other, alone on upstream (with Debian's
# build patches, which the build needs)
check_alone() {
    local name ok
    new_worktree "$ALONE_TREE"
    for name in $(series_names); do
        [ -z "$(series_based_on "$name")" ] || continue
        git -C "$ALONE_TREE" checkout -q --detach upstream
        ok=pass
        if ! git -C "$ALONE_TREE" -c user.name=series-check -c user.email=series-check@localhost \
                am -q $(series_files "$name") >"$LOG_DIR/alone-$name-am.log" 2>&1; then
            ok=fail
            cat "$LOG_DIR/alone-$name-am.log"
            git -C "$ALONE_TREE" am --abort 2>/dev/null || true
        elif ! run_tests "$ALONE_TREE" "alone-$name"; then
            ok=fail
        fi
        result "$ok" "series $name alone on upstream builds and passes its tests"
    done
    git -C "$QEMU_TREE" worktree remove --force "$ALONE_TREE"
}

# SERIES_CHECK_FROM=N: begin at patch N, after a run that checked the
# patches before it (with the same commits) and stopped there
check_bisect() {
    local c n=0 subject ok
    new_worktree "$BISECT_TREE"
    for c in $(git -C "$QEMU_TREE" rev-list --reverse upstream..HEAD); do
        n=$((n + 1))
        subject=$(git -C "$QEMU_TREE" log -1 --format=%s "$c")
        if [ "$n" -lt "${SERIES_CHECK_FROM:-1}" ]; then
            echo "SKIP patch $n (SERIES_CHECK_FROM=$SERIES_CHECK_FROM): $subject"
            skipped=$((skipped + 1))
            continue
        fi
        git -C "$BISECT_TREE" checkout -q --detach "$c"
        ok=pass
        run_tests "$BISECT_TREE" "bisect-$n" || ok=fail
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
    select_project qemu
    check_checkpatch
    check_pristine_apply
    check_maintainers
    # --quick: leave out the builds (minutes each)
    if [ "${1:-}" != --quick ]; then
        check_alone
        check_bisect
        check_libvirt_bisect
    fi
    echo "series-check: $((SECONDS - start)) s"
    if [ "$skipped" -gt 0 ]; then
        echo "$passed passed, $failed failed, $skipped patch(es) skipped (SERIES_CHECK_FROM)"
    else
        echo "$passed passed, $failed failed"
    fi
    [ "$failed" = 0 ]
}

main "$@"
