#!/usr/bin/env bash
# make bench: the cost of sev-emulated. Boots the Debian guest (OVMF +
# kernel + initramfs, -smp 1, TCG) as a plain guest, an SEV guest and an
# SEV-ES guest, and with OVMF's AmdSev build (measured direct boot) as an
# SEV-ES guest and an SEV-SNP guest of sev-snp-emulated (also with their
# RAM populated before they run, -mem-prealloc), RUNS times each,
# interleaved, and prints per guest:
# - time from QEMU's start to the guest's /init (median);
# - guest instructions executed, counted by QEMU's TCG insn plugin
#   (tests/tcg/plugins) in one more boot, to the guest's power-off right
#   after /init;
# - host time per guest instruction, which tells QEMU's own extra cost
#   apart from the extra work the guest does.
# Targets (issue 9): SEV-ES within 1.05x of plain per instruction and
# within 1.5x in time; (issue 18) SEV-SNP within 1.25x of SEV-ES with the
# same firmware in time. Numbers only, no asserts: wall times vary by 10%.
set -euo pipefail
source "$(dirname "$0")/config.sh"
source "$TOP/scripts/guest.sh"

RUNS=${RUNS:-5}
INSN_PLUGIN=$QEMU_BUILD/tests/tcg/plugins/libinsn.so
# Same CPU for all: guest.sh's, with RDRAND, which sev-emulated
# requires; a guest without RDRAND would also boot measurably slower.
# quiet: the kernel's console output would be most of an SEV-ES guest's
# port I/O, each byte a #VC and a VMGEXIT; it is not what is measured.
GUEST_APPEND="console=ttyS0 quiet"

GUESTS=(plain sev sev-es sev-es-amdsev snp sev-es-prealloc snp-prealloc)
declare -A GUEST_ARGS=(
    [plain]=""
    [sev]="-object sev-emulated,id=sev0,reduced-phys-bits=1 -machine confidential-guest-support=sev0"
    [sev-es]="-object sev-emulated,id=sev0,reduced-phys-bits=1,policy=0x5 -machine confidential-guest-support=sev0"
    [sev-es-amdsev]="-object sev-emulated,id=sev0,reduced-phys-bits=1,policy=0x5,kernel-hashes=on -machine confidential-guest-support=sev0"
    [snp]="-object sev-snp-emulated,id=sev0,reduced-phys-bits=1,kernel-hashes=on -machine confidential-guest-support=sev0"
)
# The firmware of each guest: Debian 12's OVMF, or the AmdSev build, which
# boots only a kernel whose hashes the launch measured. The CPU: an SNP
# guest needs XSAVEC, which qemu64 lacks, so the two AmdSev guests, which
# are compared with each other, run on EPYC-Rome.
AMDSEV_FIRMWARE=$ASSET_DIR/OVMF.amdsev.fd
declare -A GUEST_FW=(
    [sev-es-amdsev]=$AMDSEV_FIRMWARE
    [snp]=$AMDSEV_FIRMWARE
)
declare -A GUEST_CPUS=(
    [sev-es-amdsev]=EPYC-Rome
    [snp]=EPYC-Rome
)
# The *-prealloc rows: the two AmdSev guests with their RAM populated
# before they run. An SNP guest touches all the RAM it validates (OVMF
# reads each page it validates, against cache incoherency), which an
# SEV-ES guest does not: where the host is slow to populate memory on
# first touch, that, not the emulation, is most of what SNP costs more.
for g in sev-es-amdsev snp; do
    p=${g%-amdsev}-prealloc
    GUEST_ARGS[$p]="-mem-prealloc ${GUEST_ARGS[$g]}"
    GUEST_FW[$p]=${GUEST_FW[$g]}
    GUEST_CPUS[$p]=${GUEST_CPUS[$g]}
done

# guest_cmd_for GUEST [extra QEMU args...]: guest_cmd with GUEST's
# firmware and CPU
guest_cmd_for() {
    local g=$1
    shift
    GUEST_FIRMWARE=${GUEST_FW[$g]:-$GUEST_FIRMWARE} \
        GUEST_CPU=${GUEST_CPUS[$g]:-$GUEST_CPU} guest_cmd "$@"
}

# time_to_init GUEST: seconds until the /init marker.
time_to_init() {
    local -a cmd extra
    local start line
    read -ra extra <<<"${GUEST_ARGS[$1]}"
    mapfile -d '' cmd < <(guest_cmd_for "$1" "${extra[@]}")
    start=$EPOCHREALTIME
    while IFS= read -r line; do
        if [[ "$line" == *"$INIT_MARKER"* ]]; then
            awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f\n", b - a }'
            # The guest powers off right after; let QEMU finish.
            cat >/dev/null
            return 0
        fi
    done < <(timeout 300 "${cmd[@]}" </dev/null 2>/dev/null)
    echo "bench: the $1 guest did not reach /init" >&2
    return 1
}

# insns GUEST: guest instructions of one boot to power-off.
insns() {
    local -a cmd extra
    local out
    read -ra extra <<<"${GUEST_ARGS[$1]}"
    mapfile -d '' cmd < <(guest_cmd_for "$1" "${extra[@]}" \
        -plugin "$INSN_PLUGIN,inline=on" -d plugin)
    out=$(timeout 600 "${cmd[@]}" </dev/null 2>&1 >/dev/null)
    if [[ "$out" =~ total\ insns:\ ([0-9]+) ]]; then
        echo "${BASH_REMATCH[1]}"
    else
        echo "bench: no instruction count for the $1 guest: $out" >&2
        return 1
    fi
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

main() {
    local i g
    declare -A times med count
    ninja -C "$QEMU_BUILD" tests/tcg/plugins/libinsn.so >/dev/null

    echo "bench: $RUNS boots of each guest to /init, interleaved; TCG, -smp 1 -m 1G -cpu $GUEST_CPU (sev-es-amdsev, snp, *-prealloc: EPYC-Rome), -append '$GUEST_APPEND'"
    for i in $(seq "$RUNS"); do
        local line="  run $i:"
        for g in "${GUESTS[@]}"; do
            local t
            t=$(time_to_init "$g")
            times[$g]+="$t "
            line+=" $g $t s"
        done
        echo "$line"
    done
    echo "bench: counting guest instructions (insn plugin, one boot each)"
    for g in "${GUESTS[@]}"; do
        med[$g]=$(printf '%s\n' ${times[$g]} | median)
        count[$g]=$(insns "$g")
    done

    echo
    printf '%-15s %14s %8s %16s %8s %13s %8s\n' guest "time to /init" "x plain" \
        "guest insns" "x plain" "ns per insn" "x plain"
    for g in "${GUESTS[@]}"; do
        awk -v g="$g" -v t="${med[$g]}" -v n="${count[$g]}" \
            -v t0="${med[plain]}" -v n0="${count[plain]}" 'BEGIN {
            printf "%-15s %12.2f s %8.3f %16.0f %8.3f %13.3f %8.3f\n",
                g, t, t / t0, n, n / n0, t / n * 1e9, (t / n) / (t0 / n0)
        }'
    done
    echo
    awk -v t="${med[snp]}" -v t0="${med[sev-es-amdsev]}" \
        -v tp="${med[snp-prealloc]}" -v tp0="${med[sev-es-prealloc]}" 'BEGIN {
        printf "snp time to /init: %.3fx sev-es-amdsev; with their RAM populated first: %.3fx\n",
            t / t0, tp / tp0 }'
    echo "targets: sev-es ns per insn <= 1.05x plain, time to /init <= 1.5x plain;"
    echo "         snp time to /init <= 1.25x sev-es-amdsev"
}

main "$@"
