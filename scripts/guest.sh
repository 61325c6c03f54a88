# Booting the Debian test guest (OVMF + kernel + busybox initramfs) under
# TCG. Sourced by the tests, the demo and the benchmark.

# The guest's serial output on reaching /init (see scripts/assets.sh).
INIT_MARKER="sev-emulated-init: reached /init"
# What Linux 6.12 prints when it runs as an SEV guest.
SEV_LINE="Memory Encryption Features active: AMD SEV"

# sev-emulated, like sev-guest, needs reduced-phys-bits.
SEV_OBJECT=(-object sev-emulated,id=sev0,reduced-phys-bits=1
            -machine confidential-guest-support=sev0)

# What guest_cmd boots; callers may change these. The CPU model: QEMU's
# default TCG model (phys-bits 40, below sev-emulated's C-bit 51) with
# RDRAND, which sev-emulated requires (every SEV-capable CPU has it, and
# Linux's early SEV code executes it); the plain guest gets the same CPU.
GUEST_CPU=qemu64,rdrand=on
GUEST_FIRMWARE=$ASSET_DIR/OVMF.fd
GUEST_KERNEL_FILE=$ASSET_DIR/vmlinuz
GUEST_APPEND="console=ttyS0"

# guest_cmd [extra QEMU args...]: the QEMU command line, serial on stdout,
# NUL-separated.
guest_cmd() {
    printf '%s\0' "$QEMU_BIN" -accel tcg -M q35 -cpu "$GUEST_CPU" -m 1G -smp 1 \
        -nodefaults -display none -serial stdio -no-reboot \
        -global apic-common.vapic=off \
        -bios "$GUEST_FIRMWARE" -kernel "$GUEST_KERNEL_FILE" \
        -initrd "$ASSET_DIR/initrd.img" -append "$GUEST_APPEND" "$@"
}

# OVMF's SEV-ES AP wake-up race. An AP that has done its work tells the
# BSP so, and then asks for its AP reset hold (edk2's SevEsPlaceApHlt());
# a BSP that sends its next INIT-SIPI in between wakes an AP that is not
# held yet. The AP runs on into its hold, and the BSP spins forever in
# WaitApWakeup() for an AP that never wakes. KVM does the same, and so
# does the emulation; edk2 has no fix yet (its pull request 13164 would
# have the BSP send the SIPI again). Under TCG, with both host cores
# busy, it hung 2 of 45 SEV-ES boots with 2 vCPUs. These trace events
# show it (lost_ap_wakeup), so that a test can tell it from a hang of
# the emulation's own, and boot again.
AP_WAKEUP_TRACE=(-trace sev_es_init -trace sev_es_sipi -trace sev_es_ap_hold)
# How long a log of a boot stays the same before a lost wake-up in it
# counts as the end of the boot
BOOT_STALL=30

# lost_ap_wakeup LOG: whether LOG (QEMU's stderr with AP_WAKEUP_TRACE)
# ends with an AP that an INIT-SIPI woke before it was held, and that
# then asked for its hold: a later INIT, not its first, that found it
# not held ("hold 0"), its SIPI, then its hold, and nothing after.
lost_ap_wakeup() {
    awk '
        {
            # the event name, after the "PID@SECONDS:" of -msg timestamp=on
            for (i = 1; i < NF; i++) {
                event = $i
                sub(/^[0-9]+@[0-9.]+:/, "", event)
                if (event ~ /^sev_es_(init|sipi|ap_hold)$/ && $(i + 1) == "cpu") {
                    break
                }
            }
            if (i == NF) {
                next
            }
            cpu = $(i + 2)
            if (event == "sev_es_init") {
                early[cpu] = (cpu in seen) && $(i + 4) == 0
            } else if (event == "sev_es_sipi") {
                early[cpu] = early[cpu] && $(i + 6) == 0
            }
            last[cpu] = event ":" early[cpu]
            seen[cpu] = 1
        }
        END {
            for (cpu in last) {
                if (last[cpu] == "sev_es_ap_hold:1") {
                    exit 0
                }
            }
            exit 1
        }' "$1"
}

# stalled_on_lost_wakeup STATE TRACE-LOG [LOG...]: called once per poll
# of a boot, with the name of an array that keeps its state (empty at
# first): whether the logs, together, have not grown for BOOT_STALL
# seconds and TRACE-LOG shows a lost AP wake-up
stalled_on_lost_wakeup() {
    local -n state=$1
    local now
    shift
    now=$(cat "$@" 2>/dev/null | wc -c)
    if [ "$now" != "${state[0]:-}" ]; then
        state=("$now" "$SECONDS")
        return 1
    fi
    [ $((SECONDS - state[1])) -ge "$BOOT_STALL" ] && lost_ap_wakeup "$1"
}

# watch_boot LOG LIMIT PID: until process PID ends (0), LIMIT seconds
# pass (124), or LOG shows a lost AP wake-up and has not grown for
# BOOT_STALL seconds (125)
watch_boot() {
    local log=$1 deadline=$((SECONDS + $2)) pid=$3
    local -a stall=()
    while kill -0 "$pid" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || return 124
        if stalled_on_lost_wakeup stall "$log"; then
            return 125
        fi
        sleep 1
    done
}

# lost_wakeup_note: what a test prints when it boots again
lost_wakeup_note() {
    echo "  the firmware lost an AP wake-up (OVMF's SEV-ES race, scripts/guest.sh): again"
}

# boot_guest LOG TIMEOUT [extra QEMU args...]: boot until the guest powers
# off (QEMU exits) or TIMEOUT seconds pass; serial and stderr go to LOG.
# Returns QEMU's exit status (124 on timeout). A boot in which the
# firmware lost an AP wake-up is made again, twice at most (125 if the
# last one lost one too).
boot_guest() {
    local log=$1 limit=$2 pid rc attempt
    shift 2
    local -a cmd
    mapfile -d '' cmd < <(guest_cmd "${AP_WAKEUP_TRACE[@]}" "$@")
    for attempt in 1 2 3; do
        [ "$attempt" = 1 ] || lost_wakeup_note
        "${cmd[@]}" </dev/null >"$log" 2>&1 &
        pid=$!
        rc=0
        watch_boot "$log" "$limit" "$pid" || rc=$?
        if [ "$rc" = 0 ]; then
            wait "$pid" || rc=$?
            return "$rc"
        fi
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        [ "$rc" = 125 ] || return "$rc"
    done
    return 125
}

# wait_for_socket SOCKET PID: until QEMU (PID) listens on SOCKET (10 s at
# most); fails if QEMU exits first.
wait_for_socket() {
    local i
    for i in $(seq 100); do
        [ -S "$1" ] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# start_guest DIR [extra QEMU args...]: start the guest paused (-S) in the
# background with a QMP socket DIR/qmp.sock and serial output in
# DIR/serial.log; it stays (paused) after powering off. Sets GUEST_PID.
start_guest() {
    local dir=$1
    shift
    local -a cmd
    rm -f "$dir/qmp.sock"
    mapfile -d '' cmd < <(guest_cmd -S -no-shutdown "${AP_WAKEUP_TRACE[@]}" \
        -qmp "unix:$dir/qmp.sock,server=on,wait=off" "$@")
    "${cmd[@]}" </dev/null >"$dir/serial.log" 2>&1 &
    GUEST_PID=$!
    wait_for_socket "$dir/qmp.sock" "$GUEST_PID" && return 0
    echo "QEMU did not start:" >&2
    cat "$dir/serial.log" >&2
    return 1
}

# run_guest DIR TIMEOUT: let the guest of start_guest run until it
# powers off: 0, 124 if TIMEOUT seconds pass first, 125 if the firmware
# lost an AP wake-up (AP_WAKEUP_TRACE)
run_guest() {
    local dir=$1 limit=$2 pid rc=0
    python3 "$TOP/scripts/qmp.py" "$dir/qmp.sock" cont @SHUTDOWN >/dev/null &
    pid=$!
    watch_boot "$dir/serial.log" "$limit" "$pid" || rc=$?
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    return "$rc"
}

# qmp DIR STEP...: run QMP steps against the guest (see scripts/qmp.py).
qmp() {
    local dir=$1
    shift
    python3 "$TOP/scripts/qmp.py" "$dir/qmp.sock" "$@"
}

# sev_validate ARGS...: libvirt's guest-owner tool, with Debian's python
# (it needs the python3-libvirt, -lxml and -cryptography packages).
sev_validate() {
    /usr/bin/python3 /usr/bin/virt-qemu-sev-validate "$@"
}

# json_field JSON KEY: one field of a JSON object (stdlib python).
json_field() {
    python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}

# probe_platform DIR: what a management stack's capability probe and a
# guest owner fetch from the emulated SEV platform, from a QEMU process
# of its own that runs no guest: DIR/caps.json (query-sev-capabilities)
# and DIR/ask_ark.cert (the emulated vendor's ASK || ARK, from
# sev-emulated's vendor-certificates).
probe_platform() {
    local dir=$1 sock=$1/probe.sock pid out
    mkdir -p "$dir"
    rm -f "$sock"
    "$QEMU_BIN" -accel tcg -machine none -nodefaults -display none \
        -object sev-emulated,id=sev0,reduced-phys-bits=1 \
        -qmp "unix:$sock,server=on,wait=off" </dev/null >"$dir/probe.log" 2>&1 &
    pid=$!
    wait_for_socket "$sock" "$pid" || true
    out=$(python3 "$TOP/scripts/qmp.py" "$sock" query-sev-capabilities \
              'qom-get {"path": "/objects/sev0", "property": "vendor-certificates"}' quit) || {
        cat "$dir/probe.log" >&2
        return 1
    }
    wait "$pid" || true
    sed -n 1p <<<"$out" >"$dir/caps.json"
    sed -n 2p <<<"$out" | python3 -c 'import base64, json, sys
sys.stdout.buffer.write(base64.b64decode(json.load(sys.stdin)))' >"$dir/ask_ark.cert"
}

# sev_owner ARGS...: the harness's guest-owner tool, with Debian's python
# (scripts/sev-owner.py: it shares no code with QEMU's)
sev_owner() {
    /usr/bin/python3 "$TOP/scripts/sev-owner.py" "$@"
}

# owner_session DIR POLICY PLATFORM-DIR: the guest owner checks the chain
# of PLATFORM-DIR's probe against its ARK, and makes a GODH and session
# for POLICY: DIR/godh.b64, DIR/session.b64, DIR/tik.bin, DIR/tek.bin
owner_session() {
    sev_owner session --caps "$3/caps.json" --verify-chain-ca "$3/ask_ark.cert" \
        --policy "$2" --out "$1" >/dev/null
}

# report_guest_digest APPEND: the SEV-SNP launch digest of the report
# guest (OVMF.amdsev, one EPYC-Rome vCPU: family 23, model 49, stepping
# 0; the kernel, initrd and command line APPEND, hashed), as its owner
# computes it with scripts/snp-digest.py
report_guest_digest() {
    /usr/bin/python3 "$TOP/scripts/snp-digest.py" --firmware "$ASSET_DIR/OVMF.amdsev.fd" \
        --vcpus 1 --family 23 --model 49 --stepping 0 --kernel "$ASSET_DIR/vmlinuz" \
        --initrd "$ASSET_DIR/initrd.img" --append "$1"
}

# check_snp_report NAME DIR SHOW [--expect FIELD=HEX ...]: a test result
# (tests/results.sh) for the report in the guest's DIR/serial.log:
# scripts/snp-report.py checks it and the --expect'ed fields, and openssl
# chains the VCEK that came with it to the host's ARK (DIR/host-ark.pem).
# On success it shows the report's lines that match SHOW (a grep pattern).
check_snp_report() {
    local name=$1 dir=$2 show=$3 report out
    shift 3
    if ! report=$(/usr/bin/python3 "$TOP/scripts/snp-report.py" "$dir/serial.log" "$dir" "$@" 2>&1); then
        fail "$name" "$report"
    elif ! out=$(openssl verify -CAfile "$dir/host-ark.pem" -untrusted "$dir/ask.pem" \
                     "$dir/vcek.pem" 2>&1); then
        fail "$name" "the guest's VCEK does not chain to the host's ARK: $out"
    else
        grep "$show" <<<"$report" | sed 's/^/  /'
        pass "$name"
    fi
}
