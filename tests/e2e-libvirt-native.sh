#!/usr/bin/env bash
# End to end: SEV and SEV-ES guests on a TCG domain managed natively by
# libvirt with our libvirt series (patches/libvirt/), its libvirtd run
# from the build tree (build/libvirt/build). The domain XML is the one
# of SEV hardware (<launchSecurity type='sev'> with the owner's dhCert
# and session, <domain type='qemu'>): libvirt emits sev-emulated and
# fills in cbitpos and reducedPhysBits from the emulated platform. The
# guest owner's flow is run_launch's (tests/libvirt-lib.sh), with the
# series' virt-qemu-sev-validate: for an SEV guest (policy 0x1) and an
# SEV-ES guest (0x5, 2 EPYC-Rome vCPUs).
# An SEV-SNP guest (<launchSecurity type='sev-snp'>, host data, kernel
# hashes, EPYC-Rome): libvirt emits sev-snp-emulated with the platform's
# cbitpos and reducedPhysBits; the guest's configfs-tsm report (its
# report data on its command line) carries the domain's host data and
# policy, the chip ID of the domain capabilities and the measurement
# that scripts/snp-digest.py computes for the domain's firmware, kernel,
# initrd and command line; its VCEK chains to the ARK that `virsh
# qemu-monitor-command` gets from QEMU, as the kbase article says.
# Also: `virsh domcapabilities --virttype qemu` shows the emulated
# platform; `virsh nodesevinfo` and `nodesevinfo --emulated` give the
# same platform on this host without KVM; and what must be refused is:
# the validation tool without --insecure (with and without
# --ignore-config), a session made for another policy (QEMU's
# LAUNCH_START), an SEV-SNP domain with vcek='no' (QEMU: the emulated
# platform has no VLEK) and a kvm domain.
#
# Needs root. The daemon runs in a private mount namespace in which
# /usr/local (its prefix: configuration) and /var/local (its state) are
# $WORK's, so nothing on the host changes but /run/libvirt. The guest runs with the
# namespace and security driver at their defaults, so the series' "no
# /dev/sev for TCG domains" is exercised (this host has no /dev/sev).
#
# Prints one "PASS name" or "FAIL name: why" per step, then the time of
# the major steps. Files: build/e2e-libvirt-native/.
set -euo pipefail
source "$(dirname "$0")/../scripts/config.sh"
source "$TOP/scripts/guest.sh"
source "$TOP/tests/libvirt-lib.sh"

WORK=$BUILD_DIR/e2e-libvirt-native
DOM=sev-emulated-native
# virNodeGetSEVInfo asks the host's default emulator, found in PATH:
# our QEMU (setup links it there)
LIBVIRTD=(env PATH="$WORK/bin:$PATH" "$LIBVIRT_BUILD/run" "$LIBVIRT_BUILD/src/libvirtd")
VIRSH=("$LIBVIRT_BUILD/run" "$LIBVIRT_BUILD/tools/virsh")
SEV_VALIDATE=("$LIBVIRT_BUILD/run" /usr/bin/python3 "$LIBVIRT_TREE/tools/virt-qemu-sev-validate")
# The daemon's prefix is /usr/local, its state /var/local
QEMU_LOG=$WORK/var-local/log/libvirt/qemu/$DOM.log
NS_MOUNTS="$WORK/usr-local:/usr/local $WORK/var-local:/var/local"
# The build tree's client library looks for the modular daemons'
# sockets under its own prefix: name the daemon's socket
URI="qemu:///system?socket=$SOCK"
PREFIX=libvirt-native

# No virtlogd runs, and a privileged libvirtd does not start one: QEMU's
# stderr goes straight to the domain log. No cgroups: libvirt would
# create /sys/fs/cgroup/*/machine (left behind) and move QEMU out of the
# cgroup the test runs in.
write_config() {
    mkdir -p "$WORK/usr-local/etc/libvirt" "$WORK/var-local"
    cat > "$WORK/usr-local/etc/libvirt/qemu.conf" <<'EOF'
# Written by tests/e2e-libvirt-native.sh for its own libvirtd only.
stdio_handler = "file"
cgroup_controllers = [ ]
EOF
}

setup() {
    setup_guest
    write_config
    mkdir -p "$WORK/bin"
    ln -s "$QEMU_BIN" "$WORK/bin/qemu-system-x86_64"
}

# TCG's domain capabilities: 'sev' and 'sev-snp' (and no other launch
# security type), and <sev> with the emulated platform's values and no
# ASID counts
check_domcapabilities() {
    local name=$PREFIX/domcapabilities-tcg-emulated-platform caps
    caps=$(vsh domcapabilities --virttype qemu --emulatorbin "$QEMU_BIN" --machine q35)
    echo "$caps" > "$WORK/domcaps-qemu.xml"
    sed -n '/<sev /,/<\/sev>/p; /<launchSecurity/,/<\/launchSecurity>/p' "$WORK/domcaps-qemu.xml" \
        > "$WORK/domcaps-sev.xml"
    if grep -q "<sev supported='yes'>" "$WORK/domcaps-sev.xml" &&
       grep -q "<cbitpos>51</cbitpos>" "$WORK/domcaps-sev.xml" &&
       grep -q "<reducedPhysBits>1</reducedPhysBits>" "$WORK/domcaps-sev.xml" &&
       grep -q "<cpu0Id>" "$WORK/domcaps-sev.xml" &&
       ! grep -q "maxGuests\|maxESGuests" "$WORK/domcaps-sev.xml" &&
       [ "$(grep -c "<value>" "$WORK/domcaps-sev.xml")" = 2 ] &&
       grep -q "<value>sev</value>" "$WORK/domcaps-sev.xml" &&
       grep -q "<value>sev-snp</value>" "$WORK/domcaps-sev.xml"; then
        sed 's/^/  /' "$WORK/domcaps-sev.xml"
        pass "$name"
    else
        fail "$name" "not the emulated platform with 'sev' and 'sev-snp'" "$WORK/domcaps-sev.xml"
    fi
}

# nodesevinfo without flags on this host without KVM reports the emulated
# platform, the same as --emulated; neither has the host's ASID counts
check_nodesevinfo() {
    local name=$PREFIX/nodesevinfo-default-is-emulated-platform out
    out=$(vsh nodesevinfo 2>&1) || true
    if [ "$(sed -n 's/^pdh *: //p' <<<"$out")" = "$(cat "$WORK/owner/pdh.b64")" ] &&
       [ "$(sed -n 's/^cert-chain *: //p' <<<"$out")" = "$(cat "$WORK/owner/cert-chain.b64")" ] &&
       grep -qE '^cbitpos *: 51$' <<<"$out" &&
       ! grep -q "max-guests\|max-es-guests" <<<"$out" "$WORK/owner/nodesevinfo.txt"; then
        pass "$name"
    else
        fail "$name" "virsh nodesevinfo: $out" "$WORK/owner/nodesevinfo.txt"
    fi
}

check_command_line() {
    local name=$1 policy=$(($2))
    if grep -q '"qom-type":"sev-emulated","id":"lsec0","cbitpos":51,"reduced-phys-bits":1,"policy":'"$policy"',"dh-cert-file":"[^"]*","session-file":"[^"]*","kernel-hashes":true' "$QEMU_LOG" &&
       grep -q 'confidential-guest-support=lsec0' "$QEMU_LOG"; then
        grep -o -- "-object '{\"qom-type\":\"sev-emulated\"[^']*'" "$QEMU_LOG" | sed 's/^/  /'
        pass "$name"
    else
        fail "$name" "no sev-emulated object with the platform's values and the session" "$QEMU_LOG"
    fi
}

# The validation tool refuses a TCG domain without --insecure, whether
# or not --ignore-config is given (exit 3: InsecureUsageException). Run
# on the host, it refuses first for that ("running locally on the
# hypervisor host is not secure"), so it runs here as if on the guest
# owner's machine: its idea of its own host name differs from the
# hypervisor's. Called by run_launch while the SEV guest is paused.
paused_checks() {
    [ "$1" = sev ] || return 0
    local name=$PREFIX/sev-validate-refused-without-insecure dir=$2 out out2 rc=0 rc2=0
    local expected="SEV of a domain of type 'qemu' is emulated by the hypervisor"
    local remote=("$LIBVIRT_BUILD/run" /usr/bin/python3 -c 'import runpy, socket, sys
socket.getfqdn = lambda *args: "guest-owner.invalid"
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")' "$LIBVIRT_TREE/tools/virt-qemu-sev-validate")
    out=$("${remote[@]}" --connect "$URI" --domain "$DOM" \
              --tik "$dir/tik.bin" --tek "$dir/tek.bin" --firmware "$GUEST_FIRMWARE" 2>&1) || rc=$?
    out2=$("${remote[@]}" --connect "$URI" --domain "$DOM" --ignore-config \
               --tik "$dir/tik.bin" --tek "$dir/tek.bin" --firmware "$GUEST_FIRMWARE" 2>&1) || rc2=$?
    if [ "$rc" = 3 ] && [ "$rc2" = 3 ] &&
       [[ "$out" == *"$expected"* ]] && [[ "$out2" == *"$expected"* ]]; then
        echo "  $out | $out2"
        pass "$name"
    else
        fail "$name" "expected exit 3 with '$expected'; exit $rc: $out; with --ignore-config, exit $rc2: $out2"
    fi
}

# bad_define NAME EXPECTED: a domain (stdin) that libvirt must refuse at
# define with an error containing EXPECTED; nothing is defined.
bad_define() {
    local name=$PREFIX/refused-$1 expected=$2 xml=$WORK/bad-$1.xml out rc=0
    sed "s|<name>$DOM<|<name>${DOM}-bad<|" > "$xml"
    out=$(vsh define "$xml" 2>&1) || rc=$?
    if [ "$rc" != 0 ] && [[ "$out" == *"$expected"* ]] && ! vsh dominfo "${DOM}-bad" >/dev/null 2>&1; then
        echo "  $out" | tr '\n' ' '; echo
        pass "$name"
    else
        fail "$name" "expected an error with '$expected'; exit $rc: $out"
        vsh undefine "${DOM}-bad" >/dev/null 2>&1 || true
    fi
}

# bad_start NAME EXPECTED: a domain (stdin) that libvirt defines and
# QEMU refuses to start with an error containing EXPECTED; nothing runs
bad_start() {
    local name=$PREFIX/refused-$1 expected=$2 xml=$WORK/bad-$1.xml out rc=0
    sed "s|<name>$DOM<|<name>${DOM}-bad<|" > "$xml"
    vsh define "$xml" >/dev/null
    out=$(vsh start "${DOM}-bad" 2>&1) || rc=$?
    if [ "$rc" != 0 ] && [[ "$out" == *"$expected"* ]] &&
       [ "$(vsh domstate "${DOM}-bad" 2>/dev/null)" = "shut off" ]; then
        echo "  $out" | tr '\n' ' '; echo
        pass "$name"
    else
        fail "$name" "expected a start error with '$expected'; exit $rc: $out"
    fi
    vsh destroy "${DOM}-bad" >/dev/null 2>&1 || true
    vsh undefine "${DOM}-bad" >/dev/null 2>&1 || true
}

# Domains libvirt or QEMU must refuse: the SEV session for policy 0x1
# with policy 0x3 in the XML (QEMU's LAUNCH_START checks the session's
# POLICY_MAC: the start fails, nothing runs); SEV-SNP with vcek='no'
# (the emulated platform has no VLEK); type kvm (no KVM here)
check_refusals() {
    domain_xml "$(launch_security "$WORK/sev" 0x0003)" |
        bad_start session-for-another-policy \
            "BAD_MEASUREMENT (0x0b): the session's POLICY_MAC does not match policy 0x3"
    CPU_MODEL=EPYC-Rome domain_xml "  <launchSecurity type='sev-snp' vcek='no'>
    <policy>0x00030000</policy>
  </launchSecurity>" |
        bad_start sev-snp-without-vcek "'vcek-disabled' cannot be set: the emulated platform has no VLEK"
    domain_xml "$(launch_security "$WORK/sev" 0x0001)" | sed "s|<domain type='qemu'|<domain type='kvm'|" |
        bad_define kvm "does not support virt type 'kvm'"
}

# run_snp_launch: an SEV-SNP guest of a TCG domain, its launch given as
# on hardware: host data, kernel hashes, the default policy, no cbitpos
# or reducedPhysBits. Started paused for the command line and the
# platform's certificates (`virsh qemu-monitor-command`, as the kbase
# article tells a verifier), then run to its power-off; its report is
# checked on the host (scripts/snp-report.py, openssl).
run_snp_launch() {
    local tag=sev-snp dir=$WORK/sev-snp rd hd out chip digest line
    local TIMED_PREFIX="sev-snp: " name=$PREFIX/sev-snp/guest-report-of-the-launch
    local deadline=$((SECONDS + BOOT_TIMEOUT)) start
    mkdir -p "$dir"
    rd=$(od -An -v -tx1 -N64 /dev/urandom | tr -d ' \n')
    hd=$(od -An -v -tx1 -N32 /dev/urandom | tr -d ' \n')
    CPU_MODEL=EPYC-Rome GUEST_APPEND="console=ttyS0 sev_report_data=$rd" \
        domain_xml "  <launchSecurity type='sev-snp' kernelHashes='yes'>
    <policy>0x00030000</policy>
    <hostData>$(xxd -r -p <<<"$hd" | base64 -w0)</hostData>
  </launchSecurity>" > "$WORK/domain.xml"
    cp "$WORK/domain.xml" "$dir/domain.xml"
    define_and_start "$PREFIX/$tag/define-and-start-paused" || return 0
    if grep -q '"qom-type":"sev-snp-emulated","id":"lsec0","cbitpos":51,"reduced-phys-bits":1,"kernel-hashes":true,"policy":196608,"host-data":"'"$(xxd -r -p <<<"$hd" | base64 -w0)"'"}' "$QEMU_LOG" &&
       grep -q 'confidential-guest-support=lsec0' "$QEMU_LOG"; then
        grep -o -- "-object '{\"qom-type\":\"sev-snp-emulated\"[^']*'" "$QEMU_LOG" | sed 's/^/  /'
        pass "$PREFIX/$tag/qemu-command-line"
    else
        fail "$PREFIX/$tag/qemu-command-line" \
            "no sev-snp-emulated object with the platform's values and the host data" "$QEMU_LOG"
    fi
    # The verifier's roots: the chain of QEMU's platform (VCEK, ASK, ARK)
    out=$(vsh qemu-monitor-command "$DOM" \
              '{"execute": "qom-get", "arguments": {"path": "/objects/lsec0", "property": "certificates"}}' 2>&1) || true
    python3 -c 'import json, sys
sys.stdout.write(json.loads(sys.stdin.read())["return"])' <<<"$out" > "$dir/host-chain.pem" 2>/dev/null || true
    awk -v dir="$dir" '/BEGIN CERTIFICATE/ { n++ } n == 3 { print > (dir "/host-ark.pem") }' "$dir/host-chain.pem"
    start=$EPOCHREALTIME
    if ! out=$(vsh resume "$DOM" 2>&1); then
        fail "$name" "virsh resume: $out" "$QEMU_LOG"
        return 0
    fi
    until [ "$(vsh domstate "$DOM" 2>/dev/null)" = "shut off" ] || [ "$SECONDS" -ge "$deadline" ]; do
        sleep 0.5
    done
    timed "resume to power-off" "$start"
    cp "$QEMU_LOG" "$dir/qemu.log" 2>/dev/null || true
    cp "$WORK/serial.log" "$dir/serial.log" 2>/dev/null || true
    vsh destroy "$DOM" >/dev/null 2>&1 || true
    vsh undefine "$DOM" >/dev/null 2>&1 || true
    line="sev-emulated-init: kernel: $SEV_LINE SEV-ES SEV-SNP"
    if ! grep -q "$line" "$dir/serial.log" 2>/dev/null; then
        fail "$name" "the guest did not report '$line' within ${BOOT_TIMEOUT}s" "$dir/serial.log"
        return 0
    fi
    # The chip ID of the domain capabilities; the digest of the launch as
    # the guest owner computes it
    chip=$(sed -n 's|.*<cpu0Id>\(.*\)</cpu0Id>.*|\1|p' "$WORK/domcaps-qemu.xml" | base64 -d | xxd -p | tr -d '\n')
    digest=$(report_guest_digest "console=ttyS0 sev_report_data=$rd")
    check_snp_report "$name" "$dir" "^signature: \|^measurement\|^host_data" \
        --expect report_data="$rd" --expect host_data="$hd" --expect policy=0000030000000000 \
        --expect vmpl=00000000 --expect chip_id="$chip" --expect measurement="$digest"
}

cleanup() {
    stop_libvirtd
}

main() {
    local start=$EPOCHREALTIME
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    if ! preflight $PREFIX/preflight; then
        return 0
    fi
    if [ ! -x "$LIBVIRT_BUILD/src/libvirtd" ]; then
        fail $PREFIX/preflight "no $LIBVIRT_BUILD/src/libvirtd (make libvirt-build)"
        return 0
    fi
    pass $PREFIX/preflight
    setup
    if start_libvirtd $PREFIX/libvirtd-started &&
       owner_platform $PREFIX/owner-platform-from-nodesevinfo-emulated --emulated; then
        check_nodesevinfo
        check_domcapabilities
        run_launch sev 0x0001
        VCPUS=2 CPU_MODEL=EPYC-Rome run_launch sev-es 0x0005 \
            --num-cpus 2 --cpu-family 23 --cpu-model 49 --cpu-stepping 0
        run_snp_launch
        check_refusals
    fi
    check_cleanup $PREFIX/host-left-as-found
    timed "total" "$start"
    print_times
}

main "$@"
