#!/usr/bin/env bash
# make stress-es: boots an SEV-ES guest's firmware many times while both
# cores are busy, the way kvm-unit-tests' x86/run starts its EFI tests
# (pc machine and its default devices, a virtio FAT disk, pc-testdev,
# isa-debug-exit, 256 MiB, one vCPU, OVMF as read-only pflash), and
# counts the boots that never reach BdsDxe.
#
# Debian 12's OVMF (2022.11) hangs in some of them: its #VC handler
# reads a PCD on the first call of MemEncryptSevGetEncryptionMask(), the
# PCD protocol's lock restores the TPL, which executes STI inside the
# handler, and a timer interrupt then takes an MMIO #VC for its EOI,
# whose CPUID #VC exceeds OVMF's #VC nesting limit: OVMF stops in
# CpuDeadLoop(). Hardware and KVM deliver the same interrupt there;
# edk2 fixed the firmware in August 2026 (OvmfPkg: "Avoid using the PCD
# in MemEncryptSevGetEncryptionMask()"). So:
#   - every hang of Debian 12's OVMF must have that signature in the
#     trace of #VC and VMGEXIT events: a #VC for MMIO (0x400), then one
#     for CPUID (0x72), and no VMGEXIT after them; a hang without it is
#     a FAIL;
#   - OVMF 2026.08 (Debian's ovmf-generic) must never hang.
# Prints one PASS/FAIL line per firmware and the counts. Not part of
# make check: 30 boots of each firmware take 20-40 minutes.
#
# Usage: tests/stress-es.sh [RUNS]   (default 30 per firmware)
set -euo pipefail
source "$(dirname "$0")/../scripts/config.sh"
source "$TOP/tests/results.sh"

RUNS=${1:-30}
# A good boot reaches BdsDxe in 10-60 s, issuing #VCs all along; a hung
# one spins in CpuDeadLoop() without any. A boot whose trace has not
# grown for STALL seconds is hung; one that is merely slow is given up
# to LIMIT seconds.
STALL=30
LIMIT=600
WORK=$BUILD_DIR/stress-es
OLD_FW=$ASSET_DIR/OVMF.fd
NEW_FW=$ASSET_DIR/OVMF-2026.fd

# boot_once FIRMWARE LOG TRACE: 0 if the firmware reached BdsDxe, 1 if
# it stopped making #VCs first (or ran out of time); QEMU is killed
# either way
boot_once() {
    local fw=$1 log=$2 trace=$3 pid start size last_size=-1 last_change rc=1
    rm -f "$log" "$trace"
    "$QEMU_BIN" -accel tcg -machine pc,confidential-guest-support=sev0 \
        -object sev-emulated,id=sev0,reduced-phys-bits=1,policy=0x5 \
        -cpu qemu64,rdrand=on -m 256 -smp 1 \
        -drive if=pflash,format=raw,readonly=on,file="$fw" \
        -drive file=fat:rw:"$WORK/efi",format=raw,if=virtio \
        -device pc-testdev -device isa-debug-exit,iobase=0xf4,iosize=0x4 \
        -display none -vga none -net none -serial file:"$log" \
        -trace enable=sev_es_vc -trace enable=sev_es_vmgexit -D "$trace" \
        </dev/null >/dev/null 2>&1 &
    pid=$!
    start=$SECONDS
    last_change=$SECONDS
    while [ $((SECONDS - start)) -lt "$LIMIT" ] && kill -0 "$pid" 2>/dev/null; do
        if grep -q BdsDxe "$log" 2>/dev/null; then
            rc=0
            break
        fi
        size=$(stat -c %s "$trace" 2>/dev/null || echo 0)
        if [ "$size" != "$last_size" ]; then
            last_size=$size
            last_change=$SECONDS
        elif [ $((SECONDS - last_change)) -ge "$STALL" ]; then
            break
        fi
        sleep 1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    return "$rc"
}

# known_hang TRACE: whether the last two events are OVMF's nested #VC,
# MMIO (the timer's EOI) and then CPUID, with no VMGEXIT after them
known_hang() {
    grep -o 'sev_es_[a-z]* .*' "$1" | tail -n 2 | awk '
        { events = events " " $1 ":" $6 }
        END { exit !(events == " sev_es_vc:0x400 sev_es_vc:0x72") }'
}

# stress FIRMWARE NAME: RUNS boots under load; sets ok, known, other
stress() {
    local fw=$1 name=$2 i log trace
    ok=0 known=0 other=0
    for i in $(seq 1 "$RUNS"); do
        log=$WORK/$name-$i.log
        trace=$WORK/$name-$i.trace
        if boot_once "$fw" "$log" "$trace"; then
            ok=$((ok + 1))
            rm -f "$trace"
        elif known_hang "$trace"; then
            known=$((known + 1))
            tail -n 3 "$trace" > "$trace.tail" && rm -f "$trace"
        else
            other=$((other + 1))
            tail -n 40 "$trace" > "$trace.tail" && rm -f "$trace"
        fi
    done
    echo "$name: $RUNS boots under load: $ok reached BdsDxe, $known hung in" \
         "OVMF's nested #VC, $other hung otherwise"
}

fetch_new_firmware() {
    [ -f "$NEW_FW" ] && return 0
    source "$TOP/scripts/apt-private.sh"
    apt_private_setup
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && apt_private apt-get download -q "$STRESS_OVMF_DEB=$STRESS_OVMF_VERSION" >/dev/null)
    echo "$STRESS_OVMF_SHA256  $(ls "$tmp"/*.deb)" | sha256sum -c --status ||
        { echo "stress-es: sha256 mismatch for $STRESS_OVMF_DEB" >&2; exit 1; }
    dpkg-deb -x "$tmp"/*.deb "$tmp/unpack"
    cp "$tmp/unpack/$STRESS_OVMF_FILE" "$NEW_FW"
    rm -rf "$tmp"
}

main() {
    local busy=()
    mkdir -p "$WORK/efi" "$LOG_DIR"
    fetch_new_firmware
    # Both cores busy, as with two shell loops in the report
    (while :; do :; done) & busy+=($!)
    (while :; do :; done) & busy+=($!)
    trap 'kill "${busy[@]}" 2>/dev/null || true' EXIT

    stress "$OLD_FW" ovmf-2022.11
    if [ "$other" = 0 ]; then
        pass "e2e/sev-es-stress-ovmf-2022.11 (every hang is OVMF's nested #VC)"
    else
        fail "e2e/sev-es-stress-ovmf-2022.11" "$other hang(s) without OVMF's nested #VC" \
            "$(ls "$WORK"/ovmf-2022.11-*.trace.tail | head -n 1)"
    fi
    stress "$NEW_FW" ovmf-2026.08
    if [ "$ok" = "$RUNS" ]; then
        pass "e2e/sev-es-stress-ovmf-2026.08 (no hang)"
    else
        fail "e2e/sev-es-stress-ovmf-2026.08" "$((RUNS - ok)) boot(s) hung" \
            "$(ls "$WORK"/ovmf-2026.08-*.trace.tail | head -n 1)"
    fi
}

main
