#!/usr/bin/env bash
# make demo: boot Debian's OVMF, kernel and a busybox initramfs under TCG
# as an SEV guest, and show what the guest and the host see.
set -euo pipefail
source "$(dirname "$0")/config.sh"
source "$TOP/scripts/guest.sh"

DEMO_DIR=$BUILD_DIR/demo

main() {
    rm -rf "$DEMO_DIR"
    mkdir -p "$DEMO_DIR"
    echo "== QEMU $("$QEMU_BIN" --version | head -n 1 | awk '{print $4}') with the sev-emulated series, TCG, no KVM"
    echo "   guest: Debian OVMF $(echo "${GUEST_DEBS[0]}" | awk '{print $2}'), kernel ${GUEST_KERNEL##*vmlinuz-}, busybox initramfs"
    echo "   -object sev-emulated,id=sev0 -machine confidential-guest-support=sev0"
    start_guest "$DEMO_DIR" "${SEV_OBJECT[@]}"
    trap 'kill "$GUEST_PID" 2>/dev/null || true' EXIT

    echo "== paused before the first instruction; host asks query-sev:"
    echo "   $(qmp "$DEMO_DIR" query-sev)"
    echo "== running the guest until it powers off"
    local start=$SECONDS
    qmp "$DEMO_DIR" cont @SHUTDOWN >/dev/null
    echo "   guest powered off after $((SECONDS - start)) s"

    echo "== what the guest printed:"
    grep -E "$SEV_LINE|SEV: Status|sev-emulated-init" "$DEMO_DIR/serial.log" \
        | sed 's/^/   /'
    echo "== host asks query-sev again:"
    echo "   $(qmp "$DEMO_DIR" query-sev)"
    qmp "$DEMO_DIR" quit >/dev/null
    wait "$GUEST_PID" || true
    trap - EXIT

    if grep -q "sev-emulated-init: kernel: $SEV_LINE" "$DEMO_DIR/serial.log"; then
        echo "demo: the Debian guest ran as an SEV guest (serial log: $DEMO_DIR/serial.log)"
    else
        echo "demo: FAILED, the guest did not report SEV; serial log:" >&2
        cat "$DEMO_DIR/serial.log" >&2
        exit 1
    fi
}

main "$@"
