#!/usr/bin/env bash
# End to end: Debian's OVMF and kernel boot a busybox initramfs under TCG.
# With sev-emulated the kernel must report SEV and /init must run; the
# same boot without sev-emulated must not report SEV.
# Prints one "PASS name" or "FAIL name" line per case.
set -euo pipefail
source "$(dirname "$0")/../scripts/config.sh"
source "$TOP/scripts/guest.sh"

TIMEOUT=300

pass() { echo "PASS $1"; }
fail() {
    echo "FAIL $1: $2"
    echo "---- serial log ($3) ----"
    cat "$3"
    echo "---- end of serial log ----"
}

case_sev_guest() {
    local name=e2e/boot-sev-emulated log=$LOG_DIR/e2e-boot-sev.log rc=0
    boot_guest "$log" "$TIMEOUT" "${SEV_OBJECT[@]}" || rc=$?
    if [ "$rc" = 124 ]; then
        fail "$name" "no power-off within ${TIMEOUT}s" "$log"
    elif ! grep -q "$INIT_MARKER" "$log"; then
        fail "$name" "/init did not run (QEMU exit status $rc)" "$log"
    elif ! grep -q "sev-emulated-init: kernel: $SEV_LINE" "$log"; then
        fail "$name" "the kernel did not report '$SEV_LINE'" "$log"
    else
        pass "$name"
    fi
}

case_plain_guest() {
    local name=e2e/boot-without-sev log=$LOG_DIR/e2e-boot-plain.log rc=0
    boot_guest "$log" "$TIMEOUT" || rc=$?
    if [ "$rc" = 124 ]; then
        fail "$name" "no power-off within ${TIMEOUT}s" "$log"
    elif ! grep -q "$INIT_MARKER" "$log"; then
        fail "$name" "/init did not run (QEMU exit status $rc)" "$log"
    elif grep -q "Memory Encryption Features active" "$log"; then
        fail "$name" "the kernel reported memory encryption without SEV" "$log"
    else
        pass "$name"
    fi
}

mkdir -p "$LOG_DIR"
case_sev_guest
case_plain_guest
