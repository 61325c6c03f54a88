#!/usr/bin/env bash
# End to end: Debian's OVMF and kernel boot a busybox initramfs under TCG.
# With sev-emulated the kernel must report SEV and /init must run; the
# same boot without sev-emulated must not report SEV.
# Prints one "PASS name" or "FAIL name" line per case.
set -euo pipefail
source "$(dirname "$0")/../scripts/config.sh"
source "$TOP/scripts/guest.sh"
source "$TOP/tests/results.sh"

TIMEOUT=300
# Which boots (E2E_BOOT_CASES: "sev plain" by default), and a suffix
# for their names and logs (E2E_NAME_SUFFIX), for other builds of QEMU.
CASES=${E2E_BOOT_CASES:-sev plain}
SUFFIX=${E2E_NAME_SUFFIX:-}

case_sev_guest() {
    local name=e2e/boot-sev-emulated$SUFFIX log=$LOG_DIR/e2e-boot-sev$SUFFIX.log rc=0
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
    local name=e2e/boot-without-sev$SUFFIX log=$LOG_DIR/e2e-boot-plain$SUFFIX.log rc=0
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
for c in $CASES; do
    case $c in
        sev) case_sev_guest ;;
        plain) case_plain_guest ;;
    esac
done
