#!/usr/bin/env bash
# make check-asan: build the series with AddressSanitizer and
# UndefinedBehaviorSanitizer in build/qemu/build-asan, run
# sev-emulated-test and one end-to-end boot under them, and count the
# sanitizer reports (there must be none).
set -euo pipefail
source "$(dirname "$0")/config.sh"

export QEMU_BUILD=$QEMU_TREE/build-asan
export QEMU_BIN=$QEMU_BUILD/qemu-system-x86_64
export QEMU_EXTRA_CONFIGURE="--enable-asan --enable-ubsan"
REPORTS=$LOG_DIR/asan
export ASAN_OPTIONS="log_path=$REPORTS/asan:detect_leaks=1:fast_unwind_on_malloc=0"
export UBSAN_OPTIONS="log_path=$REPORTS/ubsan:print_stacktrace=1"
# Known leaks of upstream QEMU, each explained in the file
export LSAN_OPTIONS="suppressions=$TOP/tests/lsan-suppressions.txt"

main() {
    local rc=0 reports
    "$TOP/scripts/build.sh"
    rm -rf "$REPORTS"
    mkdir -p "$REPORTS"

    echo "== sev-emulated-test under ASan/UBSan"
    (cd "$QEMU_BUILD" && QTEST_QEMU_BINARY=./qemu-system-x86_64 \
        ./tests/qtest/sev-emulated-test) >"$LOG_DIR/asan-qtest.log" 2>&1 || rc=$?
    echo "   $(grep -c '^ok ' "$LOG_DIR/asan-qtest.log") ok, $(grep -c '^not ok ' "$LOG_DIR/asan-qtest.log") not ok, exit status $rc"

    echo "== end-to-end boot under ASan/UBSan"
    "$TOP/tests/e2e-boot.sh" | grep -E '^(PASS|FAIL) ' || rc=1

    # Every QEMU process writes a file, if only to warn that ASan does not
    # fully support the coroutines' swapcontext: count real reports.
    reports=$({ grep -lE 'ERROR: |runtime error' "$REPORTS"/* 2>/dev/null || true; } | wc -l)
    echo "sanitizer reports: $reports (in $REPORTS)"
    if [ "$reports" != 0 ]; then
        grep -lE 'ERROR: |runtime error' "$REPORTS"/* | xargs head -40
        rc=1
    fi
    [ "$rc" = 0 ] && echo "check-asan: OK" || echo "check-asan: FAILED"
    return "$rc"
}

main "$@"
