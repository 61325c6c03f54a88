#!/usr/bin/env bash
# make bench: time from QEMU start to the guest's /init, with and without
# sev-emulated, RUNS runs each, interleaved, same binary. Prints both
# medians and their ratio (target: <= 1.05). Numbers, no asserts.
set -euo pipefail
source "$(dirname "$0")/config.sh"
source "$TOP/scripts/guest.sh"

RUNS=${RUNS:-5}
# Same CPU features for both: sev-emulated turns RDRAND on by default,
# and a guest without RDRAND boots measurably slower.
CPU=(-cpu qemu64,rdrand=on)

# time_to_init [extra QEMU args...]: seconds until the /init marker.
time_to_init() {
    local -a cmd
    local start line
    mapfile -d '' cmd < <(guest_cmd "$@")
    start=$EPOCHREALTIME
    while IFS= read -r line; do
        if [[ "$line" == *"$INIT_MARKER"* ]]; then
            awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f\n", b - a }'
            # The guest powers off right after; let QEMU finish.
            cat >/dev/null
            return 0
        fi
    done < <(timeout 300 "${cmd[@]}" </dev/null 2>/dev/null)
    echo "bench: the guest did not reach /init" >&2
    return 1
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

main() {
    local i t sev=() plain=()
    echo "bench: $RUNS boots each of OVMF + Debian kernel + initramfs to /init, TCG, -smp 1 -m 1G ${CPU[*]}"
    for i in $(seq "$RUNS"); do
        t=$(time_to_init "${CPU[@]}" "${SEV_OBJECT[@]}")
        sev+=("$t")
        t=$(time_to_init "${CPU[@]}")
        plain+=("$t")
        echo "  run $i: sev-emulated ${sev[-1]} s, without ${plain[-1]} s"
    done
    local m_sev m_plain
    m_sev=$(printf '%s\n' "${sev[@]}" | median)
    m_plain=$(printf '%s\n' "${plain[@]}" | median)
    echo "median time to /init: sev-emulated $m_sev s, without $m_plain s"
    awk -v a="$m_sev" -v b="$m_plain" 'BEGIN { printf "ratio sev-emulated / without: %.3f (target <= 1.05)\n", a / b }'
}

main "$@"
