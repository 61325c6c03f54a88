#!/usr/bin/env bash
# End to end: the emulated SEV platform as the guest owner sees it, with
# the harness's own owner tool (scripts/sev-owner.py, which shares no
# code with QEMU's):
#   - the capability probe's PDH and chain verify against the exported
#     ARK, and every QEMU process presents the same platform keys;
#   - a platform of one's own (platform-secret) has other keys under the
#     same root, and refuses a session made for the default platform;
#   - LAUNCH_START refuses every bad GODH and session (tests/bad-inputs.md)
#     with the firmware's status, and QEMU does not start; a good one
#     starts the guest, for SEV and SEV-ES policies.
# The launch flow itself (measurement, secret, attestation) is in
# e2e-launch.sh. Prints one "PASS name" or "FAIL name: why" per case, and
# "INFO" lines with the time the platform costs.
set -euo pipefail
source "$(dirname "$0")/../scripts/config.sh"
source "$TOP/scripts/guest.sh"
source "$TOP/tests/results.sh"

WORK=$BUILD_DIR/e2e-platform
PLATFORM=$WORK/platform

# qemu_launch DIR PROPS: start an emulated SEV guest paused with the
# sev-emulated properties PROPS, ask query-sev and quit. Returns QEMU's
# status; its stderr is in DIR/qemu.log, query-sev's answer in
# DIR/query-sev.json.
qemu_launch() {
    local dir=$1 props=$2
    (echo '{"execute": "qmp_capabilities"}'
     echo '{"execute": "query-sev"}'
     echo '{"execute": "quit"}') |
        timeout 60 "$QEMU_BIN" -accel tcg -machine q35,confidential-guest-support=sev0 \
            -cpu EPYC -nodefaults -display none -S -bios "$ASSET_DIR/OVMF.amdsev.fd" \
            -object "sev-emulated,id=sev0,reduced-phys-bits=1,$props" \
            -qmp stdio 2>"$dir/qemu.log" | sed -n 3p >"$dir/query-sev.json"
    return "${PIPESTATUS[1]}"
}

# The public key of a base64 SEV certificate: what must be equal between
# processes (the signatures are randomized)
pubkey() {
    python3 -c 'import base64, sys
print(base64.b64decode(sys.argv[1])[0x10:0x414].hex())' "$1"
}

case_chain() {
    local name=e2e/platform-chain-verified out
    if out=$(sev_owner verify-chain --caps "$PLATFORM/caps.json" \
                 --ca "$PLATFORM/ask_ark.cert" 2>&1); then
        echo "  $out" | tr '\n' ' '; echo
        pass "$name"
    else
        fail "$name" "$out"
    fi
}

# Another probe, and the platform of a machine that uses sev-emulated:
# the same PDH key and chip ID as the first probe
case_same_platform() {
    local name=e2e/platform-same-in-every-process dir=$WORK/again
    local a b
    probe_platform "$dir"
    a=$(json_field "$(cat "$PLATFORM/caps.json")" pdh)
    b=$(json_field "$(cat "$dir/caps.json")" pdh)
    if [ "$(pubkey "$a")" != "$(pubkey "$b")" ]; then
        fail "$name" "two probes report different PDH keys"
    elif [ "$(json_field "$(cat "$PLATFORM/caps.json")" cpu0-id)" != \
           "$(json_field "$(cat "$dir/caps.json")" cpu0-id)" ]; then
        fail "$name" "two probes report different chip IDs"
    elif ! cmp -s "$PLATFORM/ask_ark.cert" "$dir/ask_ark.cert"; then
        fail "$name" "two probes export different ARK/ASK"
    else
        pass "$name"
    fi
}

# A platform of one's own: other chip keys under the same emulated root;
# a session made for the default platform's PDH does not unwrap there
case_own_platform() {
    local name=e2e/platform-secret-own-platform dir=$WORK/own out rc=0
    local secret=$WORK/own/platform-secret.bin
    mkdir -p "$dir"
    head -c 32 /dev/urandom >"$secret"
    out=$( (echo '{"execute": "qmp_capabilities"}'
            echo '{"execute": "query-sev-capabilities"}'
            echo '{"execute": "quit"}') |
           timeout 60 "$QEMU_BIN" -accel tcg -machine q35,confidential-guest-support=sev0 \
               -cpu EPYC -nodefaults -display none -S -bios "$ASSET_DIR/OVMF.amdsev.fd" \
               -object "secret,id=ps,file=$secret,format=raw" \
               -object sev-emulated,id=sev0,reduced-phys-bits=1,platform-secret=ps \
               -qmp stdio 2>"$dir/qemu.log" | sed -n 3p)
    python3 -c 'import json, sys; print(json.dumps(json.loads(sys.argv[1])["return"]))' \
        "$out" >"$dir/caps.json"
    owner_session "$dir/default-session" 0x1 "$PLATFORM"
    if ! sev_owner verify-chain --caps "$dir/caps.json" --ca "$PLATFORM/ask_ark.cert" >/dev/null; then
        fail "$name" "its chain does not verify against the emulated ARK"
    elif [ "$(pubkey "$(json_field "$(cat "$dir/caps.json")" pdh)")" = \
           "$(pubkey "$(json_field "$(cat "$PLATFORM/caps.json")" pdh)")" ]; then
        fail "$name" "it has the default platform's PDH"
    else
        (echo '{"execute": "qmp_capabilities"}'; echo '{"execute": "quit"}') |
            timeout 60 "$QEMU_BIN" -accel tcg -machine q35,confidential-guest-support=sev0 \
                -cpu EPYC -nodefaults -display none -S -bios "$ASSET_DIR/OVMF.amdsev.fd" \
                -object "secret,id=ps,file=$secret,format=raw" \
                -object "sev-emulated,id=sev0,reduced-phys-bits=1,platform-secret=ps,dh-cert-file=$dir/default-session/godh.b64,session-file=$dir/default-session/session.b64" \
                -qmp stdio >/dev/null 2>"$dir/qemu.log" || rc=$?
        if [ "$rc" = 0 ] || ! grep -q "BAD_MEASUREMENT (0x0b): the session's WRAP_MAC" "$dir/qemu.log"; then
            fail "$name" "a session for the default platform was not refused (exit $rc)" "$dir/qemu.log"
        else
            pass "$name"
        fi
    fi
}

# case_good_session NAME POLICY: the owner's session starts the guest
case_good_session() {
    local name=$1 policy=$2 dir=$WORK/${1#e2e/} rc=0
    mkdir -p "$dir"
    owner_session "$dir/owner" "$policy" "$PLATFORM"
    qemu_launch "$dir" "policy=$policy,dh-cert-file=$dir/owner/godh.b64,session-file=$dir/owner/session.b64" || rc=$?
    if [ "$rc" != 0 ]; then
        fail "$name" "QEMU refused the owner's session (exit $rc)" "$dir/qemu.log"
    elif ! grep -q '"state": "launch-secret"' "$dir/query-sev.json"; then
        fail "$name" "the guest is not launched: $(cat "$dir/query-sev.json")"
    else
        pass "$name"
    fi
}

# case_bad_session NAME POLICY ERROR CHANGE: a session for POLICY,
# changed by the python statement CHANGE (on bytearrays godh and
# session, and the launch's policy), must stop QEMU with ERROR
case_bad_session() {
    local name=$1 policy=$2 error=$3 change=$4 dir=$WORK/${1#e2e/} rc=0
    mkdir -p "$dir"
    owner_session "$dir/owner" "$policy" "$PLATFORM"
    policy=$(python3 - "$dir" "$policy" "$change" <<'PY'
import base64, sys
d, policy, change = sys.argv[1], int(sys.argv[2], 0), sys.argv[3]
godh = bytearray(base64.b64decode(open(d + "/owner/godh.b64").read()))
session = bytearray(base64.b64decode(open(d + "/owner/session.b64").read()))
text = None
exec(change)
with open(d + "/godh.b64", "w") as f:
    f.write(base64.b64encode(godh).decode())
with open(d + "/session.b64", "w") as f:
    f.write(text if text is not None else base64.b64encode(session).decode())
print(hex(policy))
PY
)
    qemu_launch "$dir" "policy=$policy,dh-cert-file=$dir/godh.b64,session-file=$dir/session.b64" || rc=$?
    if [ "$rc" = 0 ]; then
        fail "$name" "QEMU started the guest"
    elif ! grep -qF "$error" "$dir/qemu.log"; then
        fail "$name" "QEMU did not say \"$error\"" "$dir/qemu.log"
    elif [ -s "$dir/query-sev.json" ]; then
        fail "$name" "QEMU answered QMP: a guest was set up"
    else
        pass "$name"
    fi
}

case_bad_sessions() {
    local wrap="BAD_MEASUREMENT (0x0b): the session's WRAP_MAC does not match"
    local cert="INVALID_CERTIFICATE (0x06)"
    # The GODH's key: QX at 0x14, QY at 0x5c (little-endian, 72 bytes each)
    case_bad_session e2e/session-godh-off-curve 0x1 "$cert: the GODH's public key is not a point" \
        'godh[0x14] ^= 1'
    case_bad_session e2e/session-godh-p256 0x1 "$cert: the GODH certificate's curve is 1" \
        'godh[0x10] = 1'
    case_bad_session e2e/session-godh-wrong-usage 0x1 "$cert: the GODH certificate's key (usage 0x1002" \
        'godh[0x08] = 0x02'
    case_bad_session e2e/session-godh-version-2 0x1 "$cert: the GODH certificate's version is 2" \
        'godh[0] = 2'
    case_bad_session e2e/session-godh-truncated 0x1 "INVALID_LENGTH (0x04): the GODH certificate is 2083 bytes" \
        'del godh[-1]'
    case_bad_session e2e/session-truncated 0x1 "INVALID_LENGTH (0x04): the session is 127 bytes" \
        'del session[-1]'
    case_bad_session e2e/session-empty 0x1 "INVALID_LENGTH (0x04): the session is 0 bytes" \
        'text = ""'
    case_bad_session e2e/session-huge 0x1 "INVALID_LENGTH (0x04): the session is 12582912 bytes" \
        'session = session * (12582912 // 128)'
    case_bad_session e2e/session-not-base64 0x1 "'session-file'" \
        'text = "not base64!"'
    case_bad_session e2e/session-nonce-changed 0x1 "$wrap" 'session[0x00] ^= 1'
    case_bad_session e2e/session-wrap-tk-changed 0x1 "$wrap" 'session[0x10] ^= 1'
    case_bad_session e2e/session-wrap-iv-changed 0x5 \
        "BAD_MEASUREMENT (0x0b): the session's POLICY_MAC does not match" 'session[0x30] ^= 1'
    case_bad_session e2e/session-wrap-mac-changed 0x1 "$wrap" 'session[0x5f] ^= 0x80'
    case_bad_session e2e/session-policy-mismatch 0x1 \
        "BAD_MEASUREMENT (0x0b): the session's POLICY_MAC does not match policy 0x5" 'policy = 0x5'
    case_bad_session e2e/session-policy-mac-changed 0x5 \
        "BAD_MEASUREMENT (0x0b): the session's POLICY_MAC does not match policy 0x5" 'session[0x60] ^= 1'
}

# What the platform costs: QEMU's start to its QMP prompt and back out,
# with and without an answer from the platform; a launch with and
# without a session (best of 3 each, wall time)
timings() {
    python3 - "$QEMU_BIN" "$ASSET_DIR/OVMF.amdsev.fd" "$WORK/timing" "$PLATFORM" <<'PY'
import os, subprocess, sys, time
qemu, fw, work, platform = sys.argv[1:]
os.makedirs(work, exist_ok=True)
subprocess.run(["/usr/bin/python3", os.environ["TOP"] + "/scripts/sev-owner.py",
                "session", "--caps", platform + "/caps.json", "--policy", "1",
                "--out", work], check=True, stdout=subprocess.DEVNULL)
def best(args, cmds):
    times = []
    for _ in range(3):
        t = time.monotonic()
        p = subprocess.run([qemu, "-accel", "tcg", "-nodefaults", "-display", "none",
                            "-qmp", "stdio"] + args, input="".join(
            '{"execute": "%s"}\n' % c for c in ["qmp_capabilities"] + cmds + ["quit"]),
            capture_output=True, text=True)
        times.append(time.monotonic() - t)
        assert p.returncode == 0, p.stderr
    return min(times) * 1000
guest = ["-machine", "q35,confidential-guest-support=sev0", "-cpu", "EPYC", "-S",
         "-bios", fw, "-object"]
obj = "sev-emulated,id=sev0,reduced-phys-bits=1"
rows = [
    ("probe, QEMU start and quit", ["-machine", "none"], []),
    ("probe, with query-sev-capabilities", ["-machine", "none"], ["query-sev-capabilities"]),
    ("guest, random keys (no session)", guest + [obj], []),
    ("guest, owner's session (LAUNCH_START unwraps)",
     guest + [obj + ",dh-cert-file=%s/godh.b64,session-file=%s/session.b64" % (work, work)], []),
    ("guest, session, query-sev-capabilities",
     guest + [obj + ",dh-cert-file=%s/godh.b64,session-file=%s/session.b64" % (work, work)],
     ["query-sev-capabilities"]),
]
for label, args, cmds in rows:
    print("INFO timing: %-48s %6.0f ms" % (label, best(args, cmds)))
PY
}

main() {
    rm -rf "$WORK"
    mkdir -p "$WORK"
    probe_platform "$PLATFORM"
    case_chain
    case_same_platform
    case_own_platform
    case_good_session e2e/session-sev-accepted 0x1
    case_good_session e2e/session-sev-es-accepted 0x5
    case_bad_sessions
    TOP=$TOP timings
}

main "$@"
