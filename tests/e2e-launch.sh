#!/usr/bin/env bash
# End to end: the SEV launch flow with the guest owner's own tools.
# A QEMU process of its own probes the emulated platform, as libvirt
# does; the guest owner (scripts/sev-owner.py, which shares no code with
# QEMU) checks its certificate chain against the exported ARK and makes
# a GODH and session for its PDH. OVMF's AmdSev build boots the Debian
# kernel and initramfs with kernel-hashes=on, paused, launched with that
# session in another process; libvirt's virt-qemu-sev-validate checks
# query-sev-launch-measure with the owner's TIK and TEK and builds a
# secret that is injected over QMP and read back inside the guest; the
# owner checks the attestation report (the PEK's signature, the mnonce,
# the policy, and that its launch digest is the measured one). Negative
# cases: a tampered measurement, a secret made for another launch, a
# kernel that does not match the measured hashes. The same for an SEV-ES guest with 2 EPYC-Rome vCPUs,
# whose launch also measures a VMSA per vCPU, as the emulated KVM builds
# it. sev-emulated emulates KVM_SEV_ES_INIT by default (legacy-vm-type
# auto): the tool's own VMSA template, given the CPU's family, model and
# stepping, matches; it must reject a wrong vCPU count, a wrong CPU
# signature and the other VM type's VMSAs. With legacy-vm-type=off
# (KVM_SEV_INIT2, whose VMSAs hold the FPU control state) the tool is
# given the VMSAs of scripts/sev-es-vmsa.py (--vmsa-cpu0/--vmsa-cpu1).
# Prints one "PASS name" or "FAIL name: why" per case.
set -euo pipefail
source "$(dirname "$0")/../scripts/config.sh"
source "$TOP/scripts/guest.sh"
source "$TOP/tests/results.sh"

WORK=$BUILD_DIR/e2e-launch
SECRET_AREA_GUID=4c2eb361-7d9b-4cc3-8081-127c90d3d294
HASH_AREA_GUID=7255371f-3a3b-4b04-927b-1da6efa8d454
SECRET_TEXT="sev-emulated e2e secret $$"
TIMEOUT=300
# OVMF stops without a word when a hash does not match: how long to wait
# before concluding the guest will not boot (a good boot takes ~10 s).
REFUSE_TIMEOUT=60

setup() {
    rm -rf "$WORK"
    mkdir -p "$WORK"
    GUEST_FIRMWARE=$ASSET_DIR/OVMF.amdsev.fd
    read -r SECRET_BASE _ < <(python3 "$TOP/scripts/ovmf-table.py" "$GUEST_FIRMWARE" "$SECRET_AREA_GUID")
    read -r HASH_BASE _ < <(python3 "$TOP/scripts/ovmf-table.py" "$GUEST_FIRMWARE" "$HASH_AREA_GUID")
    GUEST_APPEND="console=ttyS0 sev_secret_area=$SECRET_BASE"
    probe_platform "$WORK/platform"
    printf '%s' "$SECRET_TEXT" > "$WORK/secret.txt"
    # The KVM_SEV_INIT2 VMSAs of the SEV-ES guest's vCPUs (make check
    # compares them with sev-snp-measure's, tests/data/seves-vmsa)
    mkdir -p "$WORK/vmsa-init2"
    python3 "$TOP/scripts/sev-es-vmsa.py" --firmware "$GUEST_FIRMWARE" \
        "${ROME[@]}" --out-dir "$WORK/vmsa-init2"
}

# The SEV-ES guest: policy 0x5 (no debugging, SEV-ES), 2 EPYC-Rome vCPUs
# (family 23, model 49, stepping 0), as KVM_SEV_ES_INIT or KVM_SEV_INIT2
# would run it
ES_CPU=EPYC-Rome
ES_ARGS=(-smp 2)
ROME=(--family 23 --model 49 --stepping 0)
ES_INIT=policy=0x5
ES_INIT2=policy=0x5,legacy-vm-type=off
# The tool's SEV-ES arguments, one line each: its own template for a CPU
# signature (FAMILY MODEL STEPPING), or VMSA files
es_template_args() {    # NUM-CPUS FAMILY MODEL STEPPING
    echo "--num-cpus $1 --cpu-family $2 --cpu-model $3 --cpu-stepping $4"
}
es_vmsa_args() {        # DIR NUM-CPUS
    echo "--num-cpus $2 --vmsa-cpu0 $1/vmsa0.bin --vmsa-cpu1 $1/vmsa1.bin"
}

# launch DIR [PROPS [extra QEMU args]]: start paused, measured, with a
# session the guest owner made for the probed platform (in DIR/owner);
# PROPS are sev-emulated's policy and the like (policy=0x1 by default).
# The CPU is GUEST_CPU (scripts/guest.sh), EPYC-Rome for SEV-ES.
launch() {
    local dir=$1 props=${2:-policy=0x1} policy
    shift 2 || shift $#
    policy=$(sed -n 's/.*policy=\(0x[0-9a-fA-F]*\).*/\1/p' <<<"$props")
    mkdir -p "$dir"
    owner_session "$dir/owner" "$policy" "$WORK/platform"
    start_guest "$dir" \
        -object "sev-emulated,id=sev0,reduced-phys-bits=1,kernel-hashes=on,dh-cert-file=$dir/owner/godh.b64,session-file=$dir/owner/session.b64,$props" \
        -machine confidential-guest-support=sev0 "$@"
}

# validate DIR [MEASUREMENT] [extra tool args]: run the tool on DIR's
# launch, with the TIK and TEK of DIR's owner.
validate() {
    local dir=$1 measure=${2:-} info
    shift 2 || shift $#
    info=$(qmp "$dir" query-sev)
    [ -n "$measure" ] || measure=$(json_field "$(qmp "$dir" query-sev-launch-measure)" data)
    sev_validate --measurement "$measure" \
        --api-major "$(json_field "$info" api-major)" \
        --api-minor "$(json_field "$info" api-minor)" \
        --build-id "$(json_field "$info" build-id)" \
        --policy "$(json_field "$info" policy)" \
        --firmware "$GUEST_FIRMWARE" --kernel "$GUEST_KERNEL_FILE" \
        --initrd "$ASSET_DIR/initrd.img" --cmdline "$GUEST_APPEND" \
        --tik "$dir/owner/tik.bin" --tek "$dir/owner/tek.bin" "$@"
}

# check_attestation NAME DIR: the owner asks for an attestation report
# with a fresh mnonce and checks it against the probed chain (the PEK's
# signature, the mnonce, the policy); its launch digest must be the one
# the launch measurement binds: HMAC(TIK, 0x04 || API || BUILD ||
# POLICY || LD || MNONCE) with the owner's TIK.
check_attestation() {
    local name=$1 dir=$2 info mnonce out
    info=$(qmp "$dir" query-sev)
    mnonce=$(head -c 16 /dev/urandom | base64)
    printf '%s' "$mnonce" >"$dir/mnonce.b64"
    if ! out=$(qmp "$dir" "query-sev-attestation-report {\"mnonce\": \"$mnonce\"}" 2>&1); then
        fail "$name" "query-sev-attestation-report: $out"
        return
    fi
    json_field "$out" data >"$dir/report.b64"
    if ! out=$(sev_owner verify-report --report "$dir/report.b64" \
                   --caps "$WORK/platform/caps.json" --ca "$WORK/platform/ask_ark.cert" \
                   --mnonce "$dir/mnonce.b64" --policy "$(json_field "$info" policy)" 2>&1); then
        fail "$name" "the owner rejected the attestation report: $out"
    elif ! out=$(python3 - "$dir" "$(json_field "$(qmp "$dir" query-sev-launch-measure)" data)" \
                     "$(json_field "$info" api-major)" "$(json_field "$info" api-minor)" \
                     "$(json_field "$info" build-id)" "$(json_field "$info" policy)" <<'PY' 2>&1
import base64, hashlib, hmac, struct, sys
d, measurement, major, minor, build, policy = sys.argv[1:]
report = base64.b64decode(open(d + "/report.b64").read())
blob = base64.b64decode(measurement)
tik = open(d + "/owner/tik.bin", "rb").read()
msg = (bytes([4, int(major), int(minor), int(build)]) +
       struct.pack("<I", int(policy)) + report[16:48] + blob[32:48])
if hmac.new(tik, msg, hashlib.sha256).digest() != blob[:32]:
    sys.exit("the report's launch digest is not the measured one")
PY
); then
        fail "$name" "$out"
    else
        pass "$name"
    fi
}

inject_args() {     # DIR: the sev-inject-launch-secret step for qmp.py
    printf 'sev-inject-launch-secret {"packet-header": "%s", "secret": "%s"}' \
        "$(cat "$1/header.b64")" "$(cat "$1/payload.b64")"
}

stop_guest() { kill "$GUEST_PID" 2>/dev/null || true; wait "$GUEST_PID" 2>/dev/null || true; }

# case_measured_boot [NAME PROPS TOOL-ARGS QEMU-ARGS...]: the launch
# flow, with plain SEV unless told otherwise.
case_measured_boot() {
    local name=${1:-e2e/measured-boot-and-secret} props=${2:-policy=0x1} out rc=0
    local dir=$WORK/${name#e2e/} attempt=${ATTEMPT:-1}
    local -a all=("$@")
    local -a tool_args=()
    read -ra tool_args <<<"${3:-}"
    shift 3 || shift $#
    launch "$dir" "$props" "$@"
    check_attestation "$name-attestation" "$dir"
    if ! out=$(validate "$dir" "" "${tool_args[@]}" \
                   --inject-secret "luks-key:$WORK/secret.txt" \
                   --secret-header "$dir/header.b64" --secret-payload "$dir/payload.b64" 2>&1); then
        fail "$name" "virt-qemu-sev-validate rejected the measurement: $out"
    elif ! qmp "$dir" "$(inject_args "$dir")" >/dev/null; then
        fail "$name" "QEMU refused the secret built by virt-qemu-sev-validate"
    else
        run_guest "$dir" "$TIMEOUT" || rc=$?
        if [ "$rc" = 125 ] && [ "$attempt" -lt 3 ]; then
            stop_guest
            lost_wakeup_note
            ATTEMPT=$((attempt + 1)) case_measured_boot "${all[@]}"
            return
        elif ! grep -q "sev-emulated-init: kernel: $SEV_LINE" "$dir/serial.log" ||
           { [[ "$props" == *policy=0x5* ]] && ! grep -q "$SEV_LINE SEV-ES" "$dir/serial.log"; }; then
            fail "$name" "the guest did not report SEV" "$dir/serial.log"
        elif ! grep -qF "sev-emulated-init: secret: $SECRET_TEXT" "$dir/serial.log"; then
            fail "$name" "the guest did not read the injected secret" "$dir/serial.log"
        else
            echo "  $out" | tr '\n' ' '; echo
            pass "$name"
        fi
    fi
    stop_guest
}

case_tampered_measurement() {
    local name=e2e/tampered-measurement-rejected dir=$WORK/tampered measure bad out rc=0
    launch "$dir"
    measure=$(json_field "$(qmp "$dir" query-sev-launch-measure)" data)
    # Change one character of the MEASURE part (the first 43 characters)
    bad=$(python3 -c 'import sys; m = sys.argv[1]; print(m[:10] + ("B" if m[10] != "B" else "C") + m[11:])' "$measure")
    out=$(validate "$dir" "$bad" 2>&1) || rc=$?
    if [ "$rc" = 1 ] && [[ "$out" == *"Measurement does not match"* ]]; then
        pass "$name"
    else
        fail "$name" "virt-qemu-sev-validate said (exit $rc): $out"
    fi
    stop_guest
}

case_wrong_tik_secret() {
    local name=e2e/secret-with-wrong-tik-refused dir=$WORK/victim other=$WORK/other out
    launch "$dir"
    local victim_pid=$GUEST_PID
    # A packet made for another launch, whose session's TIK is not this
    # guest's
    launch "$other"
    validate "$other" "" --inject-secret "luks-key:$WORK/secret.txt" \
        --secret-header "$other/header.b64" --secret-payload "$other/payload.b64" >/dev/null
    stop_guest
    GUEST_PID=$victim_pid
    if out=$(qmp "$dir" "$(inject_args "$other")" 2>&1); then
        fail "$name" "QEMU accepted a packet made with another TIK"
    elif [[ "$out" != *"MAC does not match"* ]]; then
        fail "$name" "unexpected error: $out"
    else
        timeout "$TIMEOUT" python3 "$TOP/scripts/qmp.py" "$dir/qmp.sock" cont @SHUTDOWN >/dev/null || true
        if grep -q "sev-emulated-init: secret:" "$dir/serial.log"; then
            fail "$name" "the guest found a secret" "$dir/serial.log"
        elif ! grep -q "sev-emulated-init: no secret table" "$dir/serial.log"; then
            fail "$name" "the guest did not reach /init" "$dir/serial.log"
        else
            pass "$name"
        fi
    fi
    stop_guest
}

# QEMU boots a kernel with one flipped byte, and the hashes table that
# OVMF checks says the original kernel (written over the measured one
# at reset, as a host could): OVMF must refuse to boot it.
case_flipped_kernel() {
    local name=e2e/flipped-kernel-refused-by-ovmf dir=$WORK/flipped rc=0
    mkdir -p "$dir"
    cp "$ASSET_DIR/vmlinuz" "$dir/vmlinuz"
    python3 - "$dir/vmlinuz" "$ASSET_DIR/vmlinuz" "$dir/kernel-hash.bin" <<'PY'
import hashlib, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(1 << 20)
    b = f.read(1)
    f.seek(1 << 20)
    f.write(bytes([b[0] ^ 0x01]))
with open(sys.argv[2], "rb") as f, open(sys.argv[3], "wb") as out:
    out.write(hashlib.sha256(f.read()).digest())
PY
    # Kernel hash: table GUID+length (18), cmdline and initrd entries
    # (2 x 50), kernel entry GUID+length (18)
    local hash_gpa=$((HASH_BASE + 18 + 100 + 18))
    GUEST_KERNEL_FILE=$dir/vmlinuz boot_guest "$dir/serial.log" "$REFUSE_TIMEOUT" \
        -object sev-emulated,id=sev0,reduced-phys-bits=1,kernel-hashes=on \
        -machine confidential-guest-support=sev0 \
        -device "loader,addr=$hash_gpa,file=$dir/kernel-hash.bin,force-raw=on" || rc=$?
    if grep -q "EFI stub\|Linux version\|$INIT_MARKER" "$dir/serial.log"; then
        fail "$name" "OVMF booted a kernel that does not match its hash" "$dir/serial.log"
    elif [ "$rc" != 124 ]; then
        fail "$name" "QEMU exited ($rc) instead of the guest stopping in OVMF" "$dir/serial.log"
    else
        pass "$name"
    fi
}

# case_es_wrong_vmsas NAME PROPS TOOL-ARGS: an SEV-ES launch that the
# tool must reject: the VMSAs it is given or builds do not match the
# guest's vCPUs.
case_es_wrong_vmsas() {
    local name=$1 props=$2 dir=$WORK/${1#e2e/} out rc=0
    local -a args
    read -ra args <<<"$3"
    launch "$dir" "$props" "${ES_ARGS[@]}"
    out=$(validate "$dir" "" "${args[@]}" 2>&1) || rc=$?
    if [ "$rc" = 0 ] || ! grep -q "Measurement does not match" <<<"$out"; then
        fail "$name" "virt-qemu-sev-validate said (exit $rc): $out"
    else
        pass "$name"
    fi
    stop_guest
}

main() {
    # No QEMU outlives the script, whatever happens.
    trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
    setup
    case_measured_boot
    case_tampered_measurement
    case_wrong_tik_secret
    case_flipped_kernel
    # SEV-ES: the CPU's signature is measured (in each VMSA's RDX)
    local GUEST_CPU=$ES_CPU
    case_measured_boot e2e/sev-es-measured-boot-and-secret "$ES_INIT" \
        "$(es_template_args 2 23 49 0)" "${ES_ARGS[@]}"
    case_es_wrong_vmsas e2e/sev-es-wrong-vcpu-count-rejected "$ES_INIT" \
        "$(es_template_args 3 23 49 0)"
    # EPYC-Milan's signature: family 25, model 1, stepping 1
    case_es_wrong_vmsas e2e/sev-es-wrong-cpu-signature-rejected "$ES_INIT" \
        "$(es_template_args 2 25 1 1)"
    case_es_wrong_vmsas e2e/sev-es-kvm-sev-init2-vmsas-rejected "$ES_INIT" \
        "$(es_vmsa_args "$WORK/vmsa-init2" 2)"
    case_measured_boot e2e/sev-es-kvm-sev-init2-measured-boot-and-secret "$ES_INIT2" \
        "$(es_vmsa_args "$WORK/vmsa-init2" 2)" "${ES_ARGS[@]}"
}

main "$@"
