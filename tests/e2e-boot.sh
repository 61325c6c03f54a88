#!/usr/bin/env bash
# End to end: Debian's OVMF and kernel boot a busybox initramfs under TCG.
# With sev-emulated the kernel must report SEV and /init must run; the
# same boot without sev-emulated must not report SEV. As an SEV-ES guest
# (policy 0x5) with 1 and 4 vCPUs, the kernel must report SEV-ES and
# bring all CPUs up. Prints one "PASS name" or "FAIL name" line per case.
set -euo pipefail
source "$(dirname "$0")/../scripts/config.sh"
source "$TOP/scripts/guest.sh"
source "$TOP/tests/results.sh"

TIMEOUT=300
# Which boots (E2E_BOOT_CASES: "sev plain sev-es-1 sev-es-4" by default),
# and a suffix for their names and logs (E2E_NAME_SUFFIX), for other
# builds of QEMU.
CASES=${E2E_BOOT_CASES:-sev plain sev-es-1 sev-es-4}
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

# case_sev_es_guest N: an SEV-ES guest with N vCPUs
case_sev_es_guest() {
    local n=$1 name=e2e/boot-sev-es-$1-cpus$SUFFIX log=$LOG_DIR/e2e-boot-sev-es-$1$SUFFIX.log rc=0
    local up="smp: Brought up 1 node, $n CPU"
    boot_guest "$log" "$TIMEOUT" -object sev-emulated,id=sev0,policy=0x5 \
        -machine confidential-guest-support=sev0 -smp "$n" || rc=$?
    if [ "$rc" = 124 ]; then
        fail "$name" "no power-off within ${TIMEOUT}s" "$log"
    elif ! grep -q "$INIT_MARKER" "$log"; then
        fail "$name" "/init did not run (QEMU exit status $rc)" "$log"
    elif ! grep -q "sev-emulated-init: kernel: $SEV_LINE SEV-ES" "$log"; then
        fail "$name" "the kernel did not report '$SEV_LINE SEV-ES'" "$log"
    elif ! grep -q "$up" "$log"; then
        fail "$name" "the kernel did not say '$up'" "$log"
    else
        pass "$name"
    fi
}

mkdir -p "$LOG_DIR"
for c in $CASES; do
    case $c in
        sev) case_sev_guest ;;
        plain) case_plain_guest ;;
        sev-es-*) case_sev_es_guest "${c#sev-es-}" ;;
    esac
done
