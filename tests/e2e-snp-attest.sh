#!/usr/bin/env bash
# End to end: what sev-snp-emulated's platform gives a verifier, checked
# with tools that share no code with QEMU (openssl, python3-cryptography).
# The read-only property `certificates` holds the VCEK, ASK and ARK
# (PEM), as AMD's key server serves them for a real platform:
#   - openssl verifies the chain VCEK <- ASK <- ARK;
#   - the VCEK is what the key server issues and go-sev-guest accepts: a
#     v3 certificate with serial 0, AMD's names, RSA-PSS (SHA-384, salt
#     48) by the ASK, a P-384 key, and exactly AMD's extensions, none
#     critical: structVersion 0, productName Milan-B0, the SPLs of the
#     TCB that the manual documents (boot loader 3, TEE 0, SNP 8,
#     microcode 115), and the hwID, the 64 bytes of the chip ID that
#     query-sev-capabilities reports;
#   - the platform is deterministic: two processes with the same
#     platform-secret present the same VCEK key and chip ID, another
#     secret another.
# Then Debian's Linux 6.12, as an SEV-SNP guest with host data, asks
# for a report through configfs-tsm (its sev-guest driver does the
# guest messages' AES-GCM) with random report data, and prints the report
# and the certificate table it got with it. On the host,
# scripts/snp-report.py (python3-cryptography) checks the report's
# signature with the VCEK of that table, its reserved bytes, and the
# fields that were put in: report data, host data, policy, VMPL 0, the
# chip ID of query-sev-capabilities, the measurement that
# scripts/snp-digest.py computes for the launch (the guest owner's, which
# make check checks against sev-snp-measure), the TCB of the VCEK's
# extensions; openssl checks the guest's chain against the ARK that the
# host exports. go-sev-guest's check tool (Debian's, scripts/go-sev-guest.sh)
# verifies the same report and table with the host's ASK and ARK as its
# only roots, and validates the report data, host data, measurement,
# chip ID, VMPL, policy and TCB. With VMPCK1 (the driver's vmpck_id=1),
# the guest's report for VMPL 0 is refused, the one for VMPL 1 given.
# Derived keys (MSG_KEY_REQ, through /dev/sev-guest) are the same for the
# same platform, launch and fields (also from another QEMU process), and
# differ with the fields, the VMPL and the platform. A message the
# firmware refuses (a report request of version 2) makes Linux's driver
# disable its VMPCK, as on hardware.
# Prints one "PASS name" or "FAIL name: why" per case.
set -euo pipefail
source "$(dirname "$0")/../scripts/config.sh"
source "$TOP/scripts/guest.sh"
source "$TOP/tests/results.sh"

WORK=$BUILD_DIR/e2e-snp-attest
TIMEOUT=300

# platform DIR [PROPS]: the certificates (DIR/chain.pem) and the chip ID
# (DIR/caps.json) of a platform, from a QEMU process whose guest does
# not run
platform() {
    local dir=$1 props=${2:+,$2} sock=$1/qmp.sock pid out
    mkdir -p "$dir"
    rm -f "$sock"
    "$QEMU_BIN" -accel tcg -M q35,confidential-guest-support=sev0 -cpu EPYC-Rome \
        -bios "$ASSET_DIR/OVMF.amdsev.fd" -S -nodefaults -display none \
        -object secret,id=ps,data=another-platform-secret \
        -object "sev-snp-emulated,id=sev0,reduced-phys-bits=1$props" \
        -qmp "unix:$sock,server=on,wait=off" </dev/null >"$dir/qemu.log" 2>&1 &
    pid=$!
    wait_for_socket "$sock" "$pid" || true
    out=$(python3 "$TOP/scripts/qmp.py" "$sock" \
              'qom-get {"path": "/objects/sev0", "property": "certificates"}' \
              query-sev-capabilities quit) || {
        cat "$dir/qemu.log" >&2
        return 1
    }
    wait "$pid" || true
    sed -n 1p <<<"$out" | python3 -c 'import json, sys
sys.stdout.write(json.load(sys.stdin))' >"$dir/chain.pem"
    sed -n 2p <<<"$out" >"$dir/caps.json"
    # one file per certificate: vcek.pem, ask.pem, ark.pem
    awk -v dir="$dir" '
        /BEGIN CERTIFICATE/ { n++; f = dir "/" (n == 1 ? "vcek" : n == 2 ? "ask" : "ark") ".pem" }
        { print > f }' "$dir/chain.pem"
}

# check_vcek DIR: the VCEK of DIR, field by field (python3-cryptography,
# Debian's); prints the VCEK's public key and hwID (hex) on success
check_vcek() {
    /usr/bin/python3 - "$1" <<'PY'
import base64, json, sys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

d = sys.argv[1]
load = lambda n: x509.load_pem_x509_certificate(open("%s/%s.pem" % (d, n), "rb").read())
vcek, ask = load("vcek"), load("ask")
caps = json.load(open(d + "/caps.json"))
chip_id = base64.b64decode(caps["cpu0-id"])
errors = []

def expect(what, got, want):
    if got != want:
        errors.append("%s: %r, not %r" % (what, got, want))

def names(name):
    return [(a.oid.dotted_string, a.value, a._type.name) for a in name]

amd = [("2.5.4.11", "Engineering", "UTF8String"), ("2.5.4.6", "US", "PrintableString"),
       ("2.5.4.7", "Santa Clara", "UTF8String"), ("2.5.4.8", "CA", "UTF8String"),
       ("2.5.4.10", "Advanced Micro Devices", "UTF8String")]
expect("version", vcek.version, x509.Version.v3)
expect("serial", vcek.serial_number, 0)
expect("subject", names(vcek.subject), amd + [("2.5.4.3", "SEV-VCEK", "UTF8String")])
expect("issuer", names(vcek.issuer), amd + [("2.5.4.3", "SEV-Milan", "UTF8String")])
expect("issuer bytes = the ASK's subject", vcek.issuer.public_bytes(), ask.subject.public_bytes())
expect("signature algorithm", vcek.signature_algorithm_oid.dotted_string, "1.2.840.113549.1.1.10")
key = vcek.public_key()
expect("key", isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name, "secp384r1")

kds = "1.3.6.1.4.1.3704.1."
der_int = lambda v: bytes([2, 1, v])
want = [(kds + "1", der_int(0)), (kds + "2", bytes([0x16, 8]) + b"Milan-B0"),
        (kds + "3.1", der_int(3)), (kds + "3.2", der_int(0)), (kds + "3.4", der_int(0)),
        (kds + "3.5", der_int(0)), (kds + "3.6", der_int(0)), (kds + "3.7", der_int(0)),
        (kds + "3.3", der_int(8)), (kds + "3.8", der_int(115)), (kds + "4", chip_id)]
got = [(e.oid.dotted_string, e.value.value) for e in vcek.extensions]
expect("extensions", got, want)
expect("critical extensions", [e.oid.dotted_string for e in vcek.extensions if e.critical], [])
expect("chip ID length", len(chip_id), 64)
if errors:
    print("; ".join(errors))
    sys.exit(1)
print(key.public_bytes(serialization.Encoding.X962,
                       serialization.PublicFormat.UncompressedPoint).hex(), chip_id.hex())
PY
}

# case_linux_report: the report that Linux asks for, checked on the host
case_linux_report() {
    local name=snp-attest/linux-report dir=$WORK/linux rc=0 rd hd out
    local digest caps chip
    rd=$(od -An -v -tx1 -N64 /dev/urandom | tr -d ' \n')
    hd=$(od -An -v -tx1 -N32 /dev/urandom | tr -d ' \n')
    mkdir -p "$dir"
    GUEST_FIRMWARE=$ASSET_DIR/OVMF.amdsev.fd GUEST_CPU=EPYC-Rome \
        GUEST_APPEND="console=ttyS0 sev_report_data=$rd" start_guest "$dir" \
        -object "sev-snp-emulated,id=sev0,reduced-phys-bits=1,kernel-hashes=on,host-data=$(xxd -r -p <<<"$hd" | base64 -w0)" \
        -machine confidential-guest-support=sev0 || { fail "$name" "QEMU did not start"; return; }
    caps=$(qmp "$dir" query-sev-capabilities)
    run_guest "$dir" "$TIMEOUT" || rc=$?
    out=$(qmp "$dir" 'qom-get {"path": "/objects/sev0", "property": "certificates"}' quit 2>&1) || true
    wait "$GUEST_PID" 2>/dev/null || true
    python3 -c 'import json, sys
sys.stdout.write(json.loads(sys.stdin.readline()))' <<<"$out" > "$dir/host-chain.pem" || true
    # the host's ASK and ARK: a verifier's trusted roots
    awk -v dir="$dir" '/BEGIN CERTIFICATE/ { n++ } n == 3 { print > (dir "/host-ark.pem") }
                       n >= 2 { print > (dir "/host-ask-ark.pem") }' "$dir/host-chain.pem"
    if [ "$rc" != 0 ]; then
        fail "$name" "the guest did not power off (status $rc)" "$dir/serial.log"
        return
    fi
    if ! grep -q "sev-emulated-init: report provider: sev_guest" "$dir/serial.log"; then
        fail "$name" "the guest has no configfs-tsm report of sev_guest" "$dir/serial.log"
        return
    fi
    chip=$(python3 -c 'import base64, json, sys
print(base64.b64decode(json.loads(sys.argv[1])["cpu0-id"]).hex())' "$caps")
    digest=$(report_guest_digest "console=ttyS0 sev_report_data=$rd")
    # policy 0x30000 (QEMU's default), TCB 3/0/8/115 (the manual's)
    check_snp_report "$name" "$dir" "^signature: \|^measurement\|^report_data" \
        --expect report_data="$rd" --expect host_data="$hd" --expect policy=0000030000000000 \
        --expect vmpl=00000000 --expect chip_id="$chip" --expect measurement="$digest" \
        --expect reported_tcb=0300000000000873 --expect version=03000000
    go_sev_guest_check "$dir" "$rd" "$hd" "$digest" "$chip"
    vmpck1_reports "$dir" "$rd" "$digest"
    derived_keys "$dir" "$rd" "$hd"
}

# guest_key LOG FIELDS VMPL: the derived key that the guest of LOG got
guest_key() {
    sed -n "s/^sev-emulated-init: key $2 $3: \([0-9a-f]\{64\}\)\r\{0,1\}$/\1/p" "$1" | head -n 1
}

# snp_keys_boot DIR REPORT-DATA HOST-DATA [PROPS]: boot the report guest
# again, PROPS added to its sev-snp-emulated; 0 if it powered off
snp_keys_boot() {
    local dir=$1 rc=0
    mkdir -p "$dir"
    GUEST_FIRMWARE=$ASSET_DIR/OVMF.amdsev.fd GUEST_CPU=EPYC-Rome \
        GUEST_APPEND="console=ttyS0 sev_report_data=$2" start_guest "$dir" \
        -object secret,id=ps,data=another-platform-secret \
        -object "sev-snp-emulated,id=sev0,reduced-phys-bits=1,kernel-hashes=on,host-data=$(xxd -r -p <<<"$3" | base64 -w0)${4:+,$4}" \
        -machine confidential-guest-support=sev0 || return 1
    run_guest "$dir" "$TIMEOUT" || rc=$?
    qmp "$dir" quit >/dev/null 2>&1 || true
    wait "$GUEST_PID" 2>/dev/null || true
    return "$rc"
}

# derived_keys DIR REPORT-DATA HOST-DATA: the guest's derived keys
# (MSG_KEY_REQ through /dev/sev-guest): the same for the same fields,
# another for another field selection or VMPL; the same from another
# QEMU process with the same launch, another from another platform.
# Then a message that the firmware refuses (a report request of
# version 2): the driver disables its VMPCK, as on hardware, and
# refuses the next request itself.
derived_keys() {
    local name=snp-attest/linux-derived-keys dir=$1 log=$1/serial.log k1 k2 k3 k4 again other
    k1=$(guest_key "$log" 0x8 0)
    k2=$(sed -n "s/^sev-emulated-init: key 0x8 0: \([0-9a-f]\{64\}\)\r\{0,1\}$/\1/p" "$log" | sed -n 2p)
    k3=$(guest_key "$log" 0x9 0)
    k4=$(guest_key "$log" 0x8 1)
    if [ -z "$k1" ] || [ -z "$k3" ] || [ -z "$k4" ]; then
        fail "$name" "the guest did not get its keys" "$log"
    elif [ "$k1" != "$k2" ] || [ "$k1" = "$k3" ] || [ "$k1" = "$k4" ] || [ "$k3" = "$k4" ]; then
        fail "$name" "measurement twice: $k1, $k2; with the policy: $k3; VMPL 1: $k4"
    elif ! snp_keys_boot "$dir/again" "$2" "$3" ||
         ! snp_keys_boot "$dir/other-platform" "$2" "$3" platform-secret=ps; then
        fail "$name" "a guest to compare with did not power off"
    else
        again=$(guest_key "$dir/again/serial.log" 0x8 0)
        other=$(guest_key "$dir/other-platform/serial.log" 0x8 0)
        if [ "$again" != "$k1" ] || [ -z "$other" ] || [ "$other" = "$k1" ]; then
            fail "$name" "the same launch in another process: $again, not $k1; another platform: $other"
        else
            echo "  MSG_KEY_REQ, measurement, VMPL 0: $k1 (the same from another process)"
            pass "$name"
        fi
    fi
    name=snp-attest/linux-driver-disables-vmpck
    if ! grep -q "sev-emulated-init: report version 2: refused: Input/output error, exitinfo2 0x16" "$log"; then
        fail "$name" "a report request of version 2 did not get INVALID_PARAM (0x16)" "$log"
    elif ! grep -q "sev-emulated-init: driver: Disabling VMPCK0" "$log" ||
         ! grep -q "sev-emulated-init: key after: refused: Inappropriate ioctl for device" "$log"; then
        fail "$name" "the driver did not disable its VMPCK" "$log"
    else
        grep "sev-emulated-init: \(report version 2\|driver\|key after\)" "$log" | sed 's/^/  /'
        pass "$name"
    fi
}

# vmpck1_reports DIR REPORT-DATA MEASUREMENT: with VMPCK1 (the driver's
# vmpck_id=1), a report for VMPL 0 is refused (the firmware's report
# status INVALID_PARAM, which the driver returns as EINVAL), one for
# VMPL 1 is given, signed by the same VCEK; VMPCK1's sequence numbers
# are its own
vmpck1_reports() {
    local name=snp-attest/linux-vmpck1-reports dir=$1 out
    mkdir -p "$dir/vmpck1"
    if ! grep -q "sev-emulated-init: report vmpck1 vmpl0 refused: .*Invalid argument" "$dir/serial.log"; then
        fail "$name" "a report for VMPL 0 with VMPCK1 was not refused with EINVAL" "$dir/serial.log"
    elif ! out=$(/usr/bin/python3 "$TOP/scripts/snp-report.py" "$dir/serial.log" "$dir/vmpck1" \
                     --report "report vmpck1 vmpl1" --expect vmpl=01000000 \
                     --expect report_data="$2" --expect measurement="$3" 2>&1); then
        fail "$name" "$out"
    else
        pass "$name"
    fi
}

# go_sev_guest_check DIR REPORT-DATA HOST-DATA MEASUREMENT CHIP-ID: the
# guest's report and certificate table, as go-sev-guest's check tool
# reads them, verified with the host's ASK and ARK as the only roots,
# without a network, and validated against what was put in
go_sev_guest_check() {
    local name=snp-attest/linux-report-go-sev-guest dir=$1 tool out
    if ! tool=$("$TOP/scripts/go-sev-guest.sh" 2>"$dir/go-sev-guest-build.log"); then
        fail "$name" "go-sev-guest did not build" "$dir/go-sev-guest-build.log"
        return
    fi
    cat "$dir/report.bin" "$dir/cert-table.bin" > "$dir/attestation.bin"
    if out=$("$tool" -in "$dir/attestation.bin" -inform bin -network=false \
                 -product_key_path "$dir/host-ask-ark.pem" -product Milan \
                 -guest_policy 0x30000 -vmpl 0 -report_data "$2" -host_data "$3" \
                 -measurement "$4" -chip_id "$5" -minimum_tcb 0x7308000000000003 2>&1); then
        echo "  go-sev-guest check: the report verifies and validates"
        pass "$name"
    else
        fail "$name" "$out"
    fi
}

main() {
    local out a b c
    rm -rf "$WORK"
    mkdir -p "$WORK"
    if ! platform "$WORK/default" || ! platform "$WORK/default-again" ||
       ! platform "$WORK/own" platform-secret=ps; then
        fail "snp-attest/certificates" "QEMU did not give its certificates"
        return
    fi
    for p in default own; do
        if out=$(openssl verify -CAfile "$WORK/$p/ark.pem" -untrusted "$WORK/$p/ask.pem" \
                     "$WORK/$p/vcek.pem" 2>&1); then
            pass "snp-attest/$p/openssl-verifies-vcek-ask-ark"
        else
            fail "snp-attest/$p/openssl-verifies-vcek-ask-ark" "$out"
        fi
    done
    if a=$(check_vcek "$WORK/default" 2>&1); then
        pass "snp-attest/default/vcek-as-the-key-server-issues-it"
    else
        fail "snp-attest/default/vcek-as-the-key-server-issues-it" "$a"
    fi
    b=$(check_vcek "$WORK/default-again" 2>&1) || true
    c=$(check_vcek "$WORK/own" 2>&1) || true
    if [ "$a" != "$b" ]; then
        fail "snp-attest/same-platform-same-vcek" "two processes: '$a' and '$b'"
    else
        pass "snp-attest/same-platform-same-vcek"
    fi
    if [ "${#c}" -ne "${#a}" ] || [ "${c%% *}" = "${a%% *}" ] || [ "${c##* }" = "${a##* }" ]; then
        fail "snp-attest/platform-secret-other-vcek" "default '$a', with platform-secret '$c'"
    else
        pass "snp-attest/platform-secret-other-vcek"
    fi
    case_linux_report
}

main "$@"
