#!/usr/bin/env bash
# End to end: the launch digest of sev-snp-emulated against VirTEE's
# sev-snp-measure. For each configuration of tests/data/snp-digest
# (Debian's OVMF.amdsev.fd, EPYC-Rome and EPYC-Milan, 1 and 4 vCPUs,
# and one measured direct boot of the Debian kernel), QEMU launches the
# guest (SNP_LAUNCH_START at start, SNP_LAUNCH_FINISH when it first
# runs) and its launch-digest must be the one sev-snp-measure computed
# offline. Negative cases: the digest is empty before the launch
# finishes, and a launch with another vCPU count or CPU model has
# another digest. Then SNP_LAUNCH_FINISH's check of an ID block, made by
# scripts/snp-id-block.py (python3-cryptography) for the reference
# digest: good ones launch, each broken one stops QEMU with the
# firmware's status. Prints one "PASS name" or "FAIL name: why" per case.
set -euo pipefail
source "$(dirname "$0")/../scripts/config.sh"
source "$TOP/scripts/guest.sh"
source "$TOP/tests/results.sh"

WORK=$BUILD_DIR/e2e-snp-digest
DIGESTS=$TOP/tests/data/snp-digest/digests.txt

# launch DIR CPU VCPUS KERNEL [PROPS]: launch the guest paused, with
# PROPS added to the sev-snp-emulated object, then let it run, and print
# the launch digest (hex) before and after, one per line
launch() {
    local dir=$1 cpu=$2 vcpus=$3 kernel=$4 props=${5:+,$5} pid out
    local -a args=(-accel tcg -M q35,confidential-guest-support=sev0
                   -cpu "$cpu" -smp "$vcpus" -m 512 -nodefaults -display none
                   -bios "$ASSET_DIR/OVMF.amdsev.fd" -S -no-shutdown
                   -qmp "unix:$dir/qmp.sock,server=on,wait=off")
    if [ "$kernel" = - ]; then
        args+=(-object "sev-snp-emulated,id=sev0,reduced-phys-bits=1$props")
    else
        args+=(-object "sev-snp-emulated,id=sev0,reduced-phys-bits=1,kernel-hashes=on$props"
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

# id_block_case NAME EXPECT PROPS [snp-id-block.py options...]: launch
# the EPYC-Rome 1-vCPU reference guest with the ID block and ID auth the
# options make, and PROPS (with %AUTH% for the ID auth's property); with
# EXPECT "ok" the launch must finish with the reference digest, else
# QEMU must stop with EXPECT in its error
id_block_case() {
    local name="snp-id-block $1" expect=$2 props=$3 dir=$WORK/id-$1 got
    local -a blob
    shift 3
    mapfile -t blob < <(python3 "$TOP/scripts/snp-id-block.py" --digest "$ROME_1" "$@")
    props=${props//%AUTH%/id-auth=${blob[1]}}
    if got=$(launch "$dir" EPYC-Rome 1 - "id-block=${blob[0]}${props:+,$props}"); then
        if [ "$expect" = ok ] && [ "$(sed -n 2p <<<"$got")" = "$ROME_1" ]; then
            pass "$name: the launch finished"
        else
            fail "$name" "the launch finished, expected: $expect" "$dir/qemu.log"
        fi
    elif [ "$expect" != ok ] && grep -qF "SNP_LAUNCH_FINISH failed: $expect" "$dir/qemu.log"; then
        pass "$name: $expect"
    else
        fail "$name" "QEMU failed, expected: $expect" "$dir/qemu.log"
    fi
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

    # The ID block: the guest owner's expected digest and policy, signed
    ROME_1=$(awk '$1 == "EPYC-Rome" && $2 == 1 && $3 == "-" { print $4 }' "$DIGESTS")
    local policy=0x30000 bad=BAD_SIGNATURE inval=INVALID_PARAM
    id_block_case good ok %AUTH% --policy $policy
    id_block_case author-key ok %AUTH%,author-key-enabled=on --policy $policy --author-key
    id_block_case short-id-auth ok %AUTH% --policy $policy --tamper short
    id_block_case other-digest "BAD_MEASUREMENT (0x0b)" %AUTH% --policy $policy \
        --digest "$(awk '$1 == "EPYC-Rome" && $2 == 4 { print $4 }' "$DIGESTS")"
    id_block_case other-policy "POLICY_FAILURE (0x07): the guest's policy 0xb0000" \
        %AUTH%,policy=0xb0000 --policy $policy
    id_block_case id-signature "$bad (0x0a): the ID block's signature" %AUTH% \
        --policy $policy --tamper id-sig
    id_block_case author-signature "$bad (0x0a): the ID key's signature" \
        %AUTH%,author-key-enabled=on --policy $policy --author-key --tamper author-sig
    id_block_case no-author-key "$inval (0x16): the ID key's signature by the author key: algorithm 0" \
        %AUTH%,author-key-enabled=on --policy $policy
    id_block_case id-key-algorithm "$inval (0x16): the ID block's signature by the ID key: algorithm 255" \
        %AUTH% --policy $policy --tamper algo
    id_block_case id-key-curve "$inval (0x16): the ID block's signature by the ID key: the key's curve is 3" \
        %AUTH% --policy $policy --tamper curve
    id_block_case version "$inval (0x16): the ID block's version is 2" %AUTH% \
        --policy $policy --tamper version
    id_block_case no-id-auth "'id-block' needs 'id-auth'" "" --policy $policy
}

main "$@"
