#!/usr/bin/env bash
# make demo: the SEV launch flow of a Debian guest under TCG, end to end:
# boot paused, measurement, validated by the guest owner's tool
# (libvirt's virt-qemu-sev-validate), secret injected, guest running as
# an SEV guest and printing the secret.
set -euo pipefail
source "$(dirname "$0")/config.sh"
source "$TOP/scripts/guest.sh"

DEMO_DIR=$BUILD_DIR/demo
SECRET_AREA_GUID=4c2eb361-7d9b-4cc3-8081-127c90d3d294

say() { printf '%s\n' "$*"; }

main() {
    local secret_base info measure out start
    rm -rf "$DEMO_DIR"
    mkdir -p "$DEMO_DIR"
    trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

    GUEST_FIRMWARE=$ASSET_DIR/OVMF.amdsev.fd
    read -r secret_base _ < <(python3 "$TOP/scripts/ovmf-table.py" "$GUEST_FIRMWARE" "$SECRET_AREA_GUID")
    GUEST_APPEND="console=ttyS0 sev_secret_area=$secret_base"
    head -c 16 /dev/urandom > "$DEMO_DIR/tik"
    head -c 16 /dev/urandom > "$DEMO_DIR/tek"
    printf 'demo disk passphrase %s' "$(date +%H%M%S)" > "$DEMO_DIR/secret.txt"

    say "== 1. QEMU $("$QEMU_BIN" --version | head -n 1 | awk '{print $4}') + the sev-emulated series, TCG (no KVM, no SEV hardware)"
    say "   OVMF.amdsev (Debian ovmf-amdsev), Debian kernel ${GUEST_KERNEL##*vmlinuz-}, busybox initramfs"
    say "   -object sev-emulated,id=sev0,reduced-phys-bits=1,kernel-hashes=on,tik-secret=tik,tek-secret=tek"
    say "   -cpu $GUEST_CPU (sev-emulated needs a CPU with RDRAND), random keys in -object secret, paused with -S"
    start_guest "$DEMO_DIR" \
        -object "secret,id=tik,file=$DEMO_DIR/tik" -object "secret,id=tek,file=$DEMO_DIR/tek" \
        -object sev-emulated,id=sev0,reduced-phys-bits=1,kernel-hashes=on,tik-secret=tik,tek-secret=tek \
        -machine confidential-guest-support=sev0
    info=$(qmp "$DEMO_DIR" query-sev)
    say "   query-sev: $info"

    measure=$(json_field "$(qmp "$DEMO_DIR" query-sev-launch-measure)" data)
    say "== 2. query-sev-launch-measure: $measure"

    say "== 3. the guest owner validates it and builds a secret (virt-qemu-sev-validate, offline):"
    out=$(sev_validate --measurement "$measure" \
        --api-major "$(json_field "$info" api-major)" --api-minor "$(json_field "$info" api-minor)" \
        --build-id "$(json_field "$info" build-id)" --policy "$(json_field "$info" policy)" \
        --firmware "$GUEST_FIRMWARE" --kernel "$GUEST_KERNEL_FILE" \
        --initrd "$ASSET_DIR/initrd.img" --cmdline "$GUEST_APPEND" \
        --tik "$DEMO_DIR/tik" --tek "$DEMO_DIR/tek" \
        --inject-secret "luks-key:$DEMO_DIR/secret.txt" \
        --secret-header "$DEMO_DIR/header.b64" --secret-payload "$DEMO_DIR/payload.b64" 2>&1) || {
        say "$out" | sed 's/^/   /'; say "demo: FAILED, the measurement did not validate" >&2; exit 1; }
    say "$out" | sed 's/^/   /'

    say "== 4. sev-inject-launch-secret (secret: \"$(cat "$DEMO_DIR/secret.txt")\"), then cont"
    qmp "$DEMO_DIR" "$(printf 'sev-inject-launch-secret {"packet-header": "%s", "secret": "%s"}' \
        "$(cat "$DEMO_DIR/header.b64")" "$(cat "$DEMO_DIR/payload.b64")")" >/dev/null
    start=$SECONDS
    out=$(qmp "$DEMO_DIR" cont query-sev @SHUTDOWN)
    say "   query-sev after cont: $(sed -n 2p <<<"$out")"

    say "== 5. the guest (powered off after $((SECONDS - start)) s) printed:"
    grep -E "$SEV_LINE|SEV: Status|sev-emulated-init" "$DEMO_DIR/serial.log" | sed 's/^/   /'
    qmp "$DEMO_DIR" quit >/dev/null || true

    if grep -q "sev-emulated-init: kernel: $SEV_LINE" "$DEMO_DIR/serial.log" &&
       grep -qF "sev-emulated-init: secret: $(cat "$DEMO_DIR/secret.txt")" "$DEMO_DIR/serial.log"; then
        say "demo: OK, an SEV guest under TCG, measured, validated and given its secret (serial log: $DEMO_DIR/serial.log)"
    else
        say "demo: FAILED; serial log:" >&2
        cat "$DEMO_DIR/serial.log" >&2
        exit 1
    fi
}

main "$@"
