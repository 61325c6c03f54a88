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

# boot_guest LOG TIMEOUT [extra QEMU args...]: boot until the guest powers
# off (QEMU exits) or TIMEOUT seconds pass; serial and stderr go to LOG.
# Returns QEMU's exit status (124 on timeout).
boot_guest() {
    local log=$1 limit=$2
    shift 2
    local -a cmd
    mapfile -d '' cmd < <(guest_cmd "$@")
    timeout "$limit" "${cmd[@]}" </dev/null >"$log" 2>&1
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
    mapfile -d '' cmd < <(guest_cmd -S -no-shutdown \
        -qmp "unix:$dir/qmp.sock,server=on,wait=off" "$@")
    "${cmd[@]}" </dev/null >"$dir/serial.log" 2>&1 &
    GUEST_PID=$!
    wait_for_socket "$dir/qmp.sock" "$GUEST_PID" && return 0
    echo "QEMU did not start:" >&2
    cat "$dir/serial.log" >&2
    return 1
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
