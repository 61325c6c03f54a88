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
# Then SEV-SNP attestation: an sev-snp-emulated guest whose launch digest
# the owner computes (scripts/snp-digest.py), which asks its platform for
# a report through Linux's configfs-tsm, and a verifier that checks the
# report and the certificates it came with against the platform's
# exported ARK, with scripts/snp-report.py and go-sev-guest, without a
# network.
set -euo pipefail
source "$(dirname "$0")/config.sh"
source "$TOP/scripts/guest.sh"

DEMO_DIR=$BUILD_DIR/demo
SECRET_AREA_GUID=4c2eb361-7d9b-4cc3-8081-127c90d3d294

say() { printf '%s\n' "$*"; }

# demo_snp: the SEV-SNP part (steps 8 to 11)
demo_snp() {
    local dir=$DEMO_DIR/snp rd hd digest chip caps start out
    mkdir -p "$dir"
    rd=$(od -An -v -tx1 -N64 /dev/urandom | tr -d ' \n')
    hd=$(printf 'demo host data %s' "$(date +%H%M%S)" | sha256sum | cut -c1-64)
    say "== 8. an SEV-SNP guest: sev-snp-emulated, OVMF.amdsev, -cpu EPYC-Rome, launched paused, with host data"
    say "   the verifier's nonce, which the guest puts in its report as REPORT_DATA: ${rd:0:32}..."
    GUEST_FIRMWARE=$ASSET_DIR/OVMF.amdsev.fd GUEST_CPU=EPYC-Rome \
        GUEST_APPEND="console=ttyS0 sev_report_data=$rd" start_guest "$dir" \
        -object "sev-snp-emulated,id=sev0,reduced-phys-bits=1,kernel-hashes=on,host-data=$(xxd -r -p <<<"$hd" | base64 -w0)" \
        -machine confidential-guest-support=sev0
    caps=$(qmp "$dir" query-sev-capabilities)
    chip=$(python3 -c 'import base64, json, sys
print(base64.b64decode(json.loads(sys.argv[1])["cpu0-id"]).hex())' "$caps")
    qmp "$dir" 'qom-get {"path": "/objects/sev0", "property": "certificates"}' |
        python3 -c 'import json, sys; sys.stdout.write(json.load(sys.stdin))' > "$dir/platform.pem"
    awk -v dir="$dir" '/BEGIN CERTIFICATE/ { n++ } n >= 2 { print > (dir "/ask-ark.pem") }
                       n == 3 { print > (dir "/ark.pem") }' "$dir/platform.pem"
    say "   the platform's certificates (property certificates, what AMD's key server serves): VCEK, ASK, ARK"
    digest=$(report_guest_digest "console=ttyS0 sev_report_data=$rd")
    say "   the guest owner's launch digest (scripts/snp-digest.py): $digest"

    say "== 9. cont: the guest boots and asks for a report through configfs-tsm:"
    start=$SECONDS
    run_guest "$dir" 300 || true
    say "   QEMU's launch-digest: $(qmp "$dir" 'qom-get {"path": "/objects/sev0", "property": "launch-digest"}' |
        python3 -c 'import base64, json, sys; print(base64.b64decode(json.load(sys.stdin)).hex())')"
    qmp "$dir" quit >/dev/null || true
    grep -E "SEV: SNP|sev-emulated-init: (kernel|report provider|key 0x8 0)" "$dir/serial.log" | head -n 5 | sed "s/^/   /"
    say "   (powered off after $((SECONDS - start)) s)"

    say "== 10. the verifier, with the platform's exported ARK as its root and no network:"
    if ! out=$(/usr/bin/python3 "$TOP/scripts/snp-report.py" "$dir/serial.log" "$dir" \
                   --expect report_data="$rd" --expect host_data="$hd" --expect measurement="$digest" \
                   --expect chip_id="$chip" --expect vmpl=00000000 2>&1); then
        say "$out" | sed 's/^/   /'; say "demo: FAILED, the SEV-SNP report did not check" >&2; exit 1
    fi
    grep -E "^(version|policy|vmpl|measurement|host_data|reported_tcb|signature):" <<<"$out" | sed 's/^/   snp-report.py: /'
    say "   openssl: $(openssl verify -CAfile "$dir/ark.pem" -untrusted "$dir/ask.pem" "$dir/vcek.pem" 2>&1)"
    cat "$dir/report.bin" "$dir/cert-table.bin" > "$dir/attestation.bin"
    if out=$("$("$TOP/scripts/go-sev-guest.sh" 2>/dev/null)" -in "$dir/attestation.bin" -inform bin \
                 -network=false -product_key_path "$dir/ask-ark.pem" -product Milan \
                 -guest_policy 0x30000 -report_data "$rd" -host_data "$hd" -measurement "$digest" \
                 -chip_id "$chip" -vmpl 0 2>&1); then
        say "   go-sev-guest check: OK (signature, chain to the given ARK, report data, host data, measurement, chip ID, VMPL, policy)"
    else
        say "$out" | sed 's/^/   /'; say "demo: FAILED, go-sev-guest refused the report" >&2; exit 1
    fi
    say "== 11. an emulated platform's report proves nothing about confidentiality: its ARK and ASK"
    say "   are test keys whose private halves are public. It shows that the guest, its kernel and the"
    say "   verifier speak SEV-SNP attestation as they would on hardware."
    say "demo: OK, an SEV-SNP guest under TCG, measured as its owner computes it, attested with a report"
    say "   that its kernel asked for and that go-sev-guest verified (serial log: $dir/serial.log)"
}

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
        demo_snp
    else
        say "demo: FAILED; serial log:" >&2
        cat "$DEMO_DIR/serial.log" >&2
        exit 1
    fi
}

main "$@"
