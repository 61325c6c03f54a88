#!/usr/bin/env bash
# End to end: the launch digest of sev-snp-emulated against VirTEE's
# sev-snp-measure. For each configuration of tests/data/snp-digest
# (Debian's OVMF.amdsev.fd, EPYC-Rome and EPYC-Milan, 1 and 4 vCPUs,
# and one measured direct boot of the Debian kernel), QEMU launches the
# guest (SNP_LAUNCH_START at start, SNP_LAUNCH_FINISH when it first
# runs) and its launch-digest must be the one sev-snp-measure computed
# offline. Negative cases: the digest is empty before the launch
# finishes, and a launch with another vCPU count or CPU model has
# another digest. Prints one "PASS name" or "FAIL name: why" per case.
set -euo pipefail
source "$(dirname "$0")/../scripts/config.sh"
source "$TOP/scripts/guest.sh"
source "$TOP/tests/results.sh"

WORK=$BUILD_DIR/e2e-snp-digest
DIGESTS=$TOP/tests/data/snp-digest/digests.txt

# launch DIR CPU VCPUS KERNEL: launch the guest paused, then let it run,
# and print the launch digest (hex) before and after, one per line
launch() {
    local dir=$1 cpu=$2 vcpus=$3 kernel=$4 pid out
    local -a args=(-accel tcg -M q35,confidential-guest-support=sev0
                   -cpu "$cpu" -smp "$vcpus" -m 512 -nodefaults -display none
                   -bios "$ASSET_DIR/OVMF.amdsev.fd" -S -no-shutdown
                   -qmp "unix:$dir/qmp.sock,server=on,wait=off")
    if [ "$kernel" = - ]; then
        args+=(-object sev-snp-emulated,id=sev0,reduced-phys-bits=1)
    else
        args+=(-object sev-snp-emulated,id=sev0,reduced-phys-bits=1,kernel-hashes=on
               -kernel "$ASSET_DIR/$kernel" -append console=ttyS0)
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    "$QEMU_BIN" "${args[@]}" </dev/null >"$dir/qemu.log" 2>&1 &
    pid=$!
    wait_for_socket "$dir/qmp.sock" "$pid" || true
    local get='qom-get {"path": "/objects/sev0", "property": "launch-digest"}'
    if ! out=$(python3 "$TOP/scripts/qmp.py" "$dir/qmp.sock" "$get" cont "$get" quit 2>>"$dir/qemu.log"); then
        kill "$pid" 2>/dev/null || true
        wait "$pid" || true
        return 1
    fi
    wait "$pid" || true
    # The QMP replies: digest before, cont, digest after, quit
    python3 -c 'import base64, json, sys
lines = sys.stdin.read().splitlines()
for line in (lines[0], lines[2]):
    print(base64.b64decode(json.loads(line)).hex() or "-")' <<<"$out"
}

main() {
    local cpu vcpus kernel want got name before
    local -a seen=()
    rm -rf "$WORK"
    mkdir -p "$WORK"
    while read -r cpu vcpus kernel want; do
        case $cpu in ''|'#'*) continue ;; esac
        name="snp-digest $cpu $vcpus vCPU(s) kernel $kernel"
        if ! got=$(launch "$WORK/$cpu-$vcpus-$kernel" "$cpu" "$vcpus" "$kernel"); then
            fail "$name" "QEMU failed" "$WORK/$cpu-$vcpus-$kernel/qemu.log"
            continue
        fi
        before=$(sed -n 1p <<<"$got")
        got=$(sed -n 2p <<<"$got")
        seen+=("$got")
        if [ "$before" != - ]; then
            fail "$name" "a launch digest before the launch finished: $before"
        elif [ "$got" = "$want" ]; then
            pass "$name: sev-snp-measure's digest ${want:0:16}..."
        else
            fail "$name" "digest $got, sev-snp-measure's $want" "$WORK/$cpu-$vcpus-$kernel/qemu.log"
        fi
    done <"$DIGESTS"

    # Another vCPU count, another CPU model: no reference digest may match
    for cpu in EPYC-Rome:2 EPYC:1; do
        name="snp-digest ${cpu%:*} ${cpu#*:} vCPU(s) differs from every reference"
        if ! got=$(launch "$WORK/other-${cpu%:*}-${cpu#*:}" "${cpu%:*}" "${cpu#*:}" -); then
            fail "$name" "QEMU failed" "$WORK/other-${cpu%:*}-${cpu#*:}/qemu.log"
        elif grep -q "$(sed -n 2p <<<"$got")" "$DIGESTS"; then
            fail "$name" "it has a reference configuration's digest"
        else
            pass "$name"
        fi
    done
}

main "$@"
