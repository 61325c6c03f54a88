#!/usr/bin/env bash
# make demo: the SEV launch flow of a Debian guest under TCG, end to end,
# as the guest owner runs it against hardware: fetch the emulated
# platform's PDH and certificate chain, verify it against the exported
# ARK, wrap the transport keys for the PDH (GODH and session), launch
# paused, check the attestation report and validate the measurement
# (libvirt's virt-qemu-sev-validate, with the owner's TIK), inject a
# secret, and the guest runs as an SEV guest and prints the secret.
# The owner's side is scripts/sev-owner.py, which shares no code with
# QEMU.
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
    printf 'demo disk passphrase %s' "$(date +%H%M%S)" > "$DEMO_DIR/secret.txt"

    say "== 1. the emulated platform, probed by a QEMU process of its own (as libvirt probes it):"
    say "   QEMU $("$QEMU_BIN" --version | head -n 1 | awk '{print $4}') + the sev-emulated series, TCG (no KVM, no SEV hardware)"
    say "   query-sev-capabilities: PDH, PEK || OCA || CEK; sev-emulated's vendor-certificates: ASK || ARK"
    probe_platform "$DEMO_DIR/platform"
    say "   the guest owner verifies the chain against the emulated ARK (a public test root):"
    sev_owner verify-chain --caps "$DEMO_DIR/platform/caps.json" \
        --ca "$DEMO_DIR/platform/ask_ark.cert" | sed 's/^/     /'

    say "== 2. the guest owner wraps fresh TEK and TIK for the PDH, for policy 0x1:"
    owner_session "$DEMO_DIR/owner" 0x1 "$DEMO_DIR/platform"
    say "   $(cd "$DEMO_DIR/owner" && ls godh.b64 session.b64 tik.bin tek.bin | tr '\n' ' ')(the keys stay with the owner)"

    say "== 3. launch, paused, with the owner's GODH and session; LAUNCH_START unwraps the keys:"
    say "   OVMF.amdsev (Debian ovmf-amdsev), Debian kernel ${GUEST_KERNEL##*vmlinuz-}, busybox initramfs, -cpu $GUEST_CPU"
    say "   -object sev-emulated,id=sev0,reduced-phys-bits=1,kernel-hashes=on,dh-cert-file=godh.b64,session-file=session.b64"
    start_guest "$DEMO_DIR" \
        -object "sev-emulated,id=sev0,reduced-phys-bits=1,kernel-hashes=on,dh-cert-file=$DEMO_DIR/owner/godh.b64,session-file=$DEMO_DIR/owner/session.b64" \
        -machine confidential-guest-support=sev0
    info=$(qmp "$DEMO_DIR" query-sev)
    say "   query-sev: $info"

    say "== 4. query-sev-attestation-report, checked by the owner with the probed PEK:"
    head -c 16 /dev/urandom | base64 | tr -d '\n' > "$DEMO_DIR/mnonce.b64"
    json_field "$(qmp "$DEMO_DIR" "query-sev-attestation-report {\"mnonce\": \"$(cat "$DEMO_DIR/mnonce.b64")\"}")" data \
        > "$DEMO_DIR/report.b64"
    sev_owner verify-report --report "$DEMO_DIR/report.b64" --caps "$DEMO_DIR/platform/caps.json" \
        --ca "$DEMO_DIR/platform/ask_ark.cert" --mnonce "$DEMO_DIR/mnonce.b64" --policy 0x1 |
        tail -n 2 | sed 's/^/   /'

    measure=$(json_field "$(qmp "$DEMO_DIR" query-sev-launch-measure)" data)
    say "== 5. query-sev-launch-measure: $measure"
    say "   the owner validates it with its TIK and builds a secret (virt-qemu-sev-validate, offline):"
    out=$(sev_validate --measurement "$measure" \
        --api-major "$(json_field "$info" api-major)" --api-minor "$(json_field "$info" api-minor)" \
        --build-id "$(json_field "$info" build-id)" --policy "$(json_field "$info" policy)" \
        --firmware "$GUEST_FIRMWARE" --kernel "$GUEST_KERNEL_FILE" \
        --initrd "$ASSET_DIR/initrd.img" --cmdline "$GUEST_APPEND" \
        --tik "$DEMO_DIR/owner/tik.bin" --tek "$DEMO_DIR/owner/tek.bin" \
        --inject-secret "luks-key:$DEMO_DIR/secret.txt" \
        --secret-header "$DEMO_DIR/header.b64" --secret-payload "$DEMO_DIR/payload.b64" 2>&1) || {
        say "$out" | sed 's/^/   /'; say "demo: FAILED, the measurement did not validate" >&2; exit 1; }
    say "$out" | sed 's/^/   /'

    say "== 6. sev-inject-launch-secret (secret: \"$(cat "$DEMO_DIR/secret.txt")\"), then cont"
    qmp "$DEMO_DIR" "$(printf 'sev-inject-launch-secret {"packet-header": "%s", "secret": "%s"}' \
        "$(cat "$DEMO_DIR/header.b64")" "$(cat "$DEMO_DIR/payload.b64")")" >/dev/null
    start=$SECONDS
    out=$(qmp "$DEMO_DIR" cont query-sev @SHUTDOWN)
    say "   query-sev after cont: $(sed -n 2p <<<"$out")"

    say "== 7. the guest (powered off after $((SECONDS - start)) s) printed:"
    grep -E "$SEV_LINE|SEV: Status|sev-emulated-init" "$DEMO_DIR/serial.log" | sed 's/^/   /'
    qmp "$DEMO_DIR" quit >/dev/null || true

    if grep -q "sev-emulated-init: kernel: $SEV_LINE" "$DEMO_DIR/serial.log" &&
       grep -qF "sev-emulated-init: secret: $(cat "$DEMO_DIR/secret.txt")" "$DEMO_DIR/serial.log"; then
        say "demo: OK, an SEV guest under TCG, launched with the owner's session, attested, measured, validated and given its secret (serial log: $DEMO_DIR/serial.log)"
    else
        say "demo: FAILED; serial log:" >&2
        cat "$DEMO_DIR/serial.log" >&2
        exit 1
    fi
}

main "$@"
