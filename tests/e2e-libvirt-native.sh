#!/usr/bin/env bash
# End to end: an sev-emulated guest managed natively by libvirt with our
# libvirt series (patches/libvirt/), its libvirtd run from the build tree
# (build/libvirt/build). The domain says <launchSecurity type='sev'
# emulated='yes'> and names the TIK and TEK as libvirt secrets; libvirt
# emits the sev-emulated object itself. The guest owner's side is the
# online one: `virsh domlaunchsecinfo`, then the series' own
# virt-qemu-sev-validate --domain validates the measurement and injects
# the secret through virDomainSetLaunchSecurityState; the guest reads it.
# Also: `virsh domcapabilities --virttype qemu`, and bad XML (an emulated
# SEV domain with dhCert, session, type kvm, without reducedPhysBits, a
# missing key secret) gets a clear libvirt error, as do key secrets that
# are missing, too short or meant for something else.
#
# Needs root. The daemon runs in a private mount namespace in which
# /usr/local (its prefix: configuration) and /var/local (its state) are
# $WORK's, so nothing on the host changes but /run/libvirt. The guest runs with the
# namespace and security driver at their defaults, so the series' "no
# /dev/sev for emulated SEV" is exercised (this host has no /dev/sev).
#
# Prints one "PASS name" or "FAIL name: why" per step, then the time of
# the major steps. Files: build/e2e-libvirt-native/.
set -euo pipefail
source "$(dirname "$0")/../scripts/config.sh"
source "$TOP/scripts/guest.sh"
source "$TOP/tests/libvirt-lib.sh"

WORK=$BUILD_DIR/e2e-libvirt-native
DOM=sev-emulated-native
LIBVIRTD=("$LIBVIRT_BUILD/run" "$LIBVIRT_BUILD/src/libvirtd")
VIRSH=("$LIBVIRT_BUILD/run" "$LIBVIRT_BUILD/tools/virsh")
SEV_VALIDATE=("$LIBVIRT_BUILD/run" /usr/bin/python3 "$LIBVIRT_TREE/tools/virt-qemu-sev-validate")
# The daemon's prefix is /usr/local, its state /var/local
QEMU_LOG=$WORK/var-local/log/libvirt/qemu/$DOM.log
NS_MOUNTS="$WORK/usr-local:/usr/local $WORK/var-local:/var/local"
# The build tree's client library looks for the modular daemons'
# sockets under its own prefix: name the daemon's socket
URI="qemu:///system?socket=$SOCK"
TIK_UUID=0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f
TEK_UUID=2d6a49ad-5c1c-4bff-a2e6-2b0e1a7c9e32
MISSING_UUID=9f0c3c48-6d1e-4f57-8f31-6c1f2f6f1a01
SHORT_UUID=5b0e6f0a-3c1d-4e2f-9a8b-7c6d5e4f3a21
VTPM_UUID=7e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b

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

# launch_security [EXTRA]: the native SEV part of the domain
launch_security() {
    cat <<EOF
  <launchSecurity type='sev' kernelHashes='yes' emulated='yes'>
    <reducedPhysBits>1</reducedPhysBits>
    <policy>0x0001</policy>
    <tik secret='$TIK_UUID'/>
    <tek secret='${TEK:-$TEK_UUID}'/>${1:-}
  </launchSecurity>
EOF
}

setup() {
    setup_guest
    write_config
    domain_xml "$(launch_security)" > "$WORK/domain.xml"
}

# The guest owner's keys as libvirt secrets: ephemeral (never written to
# disk), private (never read back through the API), without a usage.
define_secrets() {
    local name=libvirt-native/key-secrets-defined uuid key out
    for key in tik tek; do
        uuid=$TIK_UUID
        [ "$key" = tek ] && uuid=$TEK_UUID
        cat > "$WORK/secret-$key.xml" <<EOF
<secret ephemeral='yes' private='yes'>
  <uuid>$uuid</uuid>
  <description>sev-emulated e2e: $key</description>
</secret>
EOF
        if ! out=$(vsh secret-define "$WORK/secret-$key.xml" 2>&1) ||
           ! out=$(vsh secret-set-value "$uuid" --file "$WORK/$key" --plain 2>&1); then
            fail "$name" "$key: $out"
            return 1
        fi
    done
    pass "$name"
}

check_domcapabilities() {
    local name=libvirt-native/domcapabilities-tcg-reports-emulated-sev caps
    caps=$(vsh domcapabilities --virttype qemu --emulatorbin "$QEMU_BIN" --machine q35)
    echo "$caps" | sed -n '/<launchSecurity/,/<\/launchSecurity>/p' > "$WORK/domcaps-launchsecurity.xml"
    if grep -q "<value>sev</value>" "$WORK/domcaps-launchsecurity.xml" &&
       grep -A1 "<enum name='emulated'>" "$WORK/domcaps-launchsecurity.xml" | grep -q "<value>yes</value>"; then
        sed 's/^/  /' "$WORK/domcaps-launchsecurity.xml"
        pass "$name"
    else
        fail "$name" "no emulated sev in launchSecurity" "$WORK/domcaps-launchsecurity.xml"
    fi
}

check_command_line() {
    local name=libvirt-native/qemu-command-line
    if grep -q '"qom-type":"sev-emulated","id":"lsec0","reduced-phys-bits":1,"policy":1,"tik-secret":"lsec0-tik-secret0","tek-secret":"lsec0-tek-secret0","kernel-hashes":true' "$QEMU_LOG" &&
       grep -q 'confidential-guest-support=lsec0' "$QEMU_LOG" &&
       grep -q '"id":"lsec0-tik-secret0","data":' "$QEMU_LOG"; then
        grep -o -- "-object '{\"qom-type\":\"sev-emulated\"[^']*'" "$QEMU_LOG" | sed 's/^/  /'
        pass "$name"
    else
        fail "$name" "no sev-emulated object with its key secrets" "$QEMU_LOG"
    fi
}

# virsh domlaunchsecinfo: the measurement and query-sev's values
check_launchsecinfo() {
    local name=libvirt-native/domlaunchsecinfo out
    out=$(vsh domlaunchsecinfo "$DOM" 2>&1) || true
    echo "$out" > "$WORK/domlaunchsecinfo.txt"
    if echo "$out" | grep -qE '^sev-measurement *: [A-Za-z0-9+/]{60,}=*$' &&
       echo "$out" | grep -qE '^sev-api-major *: 1$' &&
       echo "$out" | grep -qE '^sev-api-minor *: 40$' &&
       echo "$out" | grep -qE '^sev-build-id *: 40$' &&
       echo "$out" | grep -qE '^sev-policy *: 1$'; then
        sed 's/^/  /' "$WORK/domlaunchsecinfo.txt"
        pass "$name"
    else
        fail "$name" "unexpected output" "$WORK/domlaunchsecinfo.txt"
    fi
}

# The series' virt-qemu-sev-validate, online: it reads the measurement
# and query-sev's values from libvirt, validates them against the guest
# owner's own copies of the firmware, kernel, initrd and command line,
# injects the secret through virDomainSetLaunchSecurityState and resumes
# the domain. --insecure: it runs on the host (the guest owner would not).
validate_online() {
    local name=libvirt-native/sev-validate-online-and-inject start=$EPOCHREALTIME out
    if out=$(timeout "$VIRSH_TIMEOUT" "${SEV_VALIDATE[@]}" --connect "$URI" --domain "$DOM" \
                 --insecure --tik "$WORK/tik" --tek "$WORK/tek" \
                 --firmware "$GUEST_FIRMWARE" --kernel "$ASSET_DIR/vmlinuz" \
                 --initrd "$ASSET_DIR/initrd.img" --cmdline "$GUEST_APPEND" \
                 --inject-secret "luks-key:$WORK/secret.txt" 2>&1) &&
       [[ "$out" == *"OK: Looks good to me"* ]]; then
        timed "virt-qemu-sev-validate --domain" "$start"
        echo "  $out" | tr '\n' ' '; echo
        pass "$name"
    else
        fail "$name" "virt-qemu-sev-validate: $out"
        return 1
    fi
}

# bad_define NAME EXPECTED EXTRA-OR-SED: a domain that libvirt must refuse
# at define with an error containing EXPECTED; nothing is defined.
bad_define() {
    local name=libvirt-native/refused-$1 expected=$2 xml=$WORK/bad-$1.xml out rc=0
    cat > "$xml"
    out=$(vsh define "$xml" 2>&1) || rc=$?
    if [ "$rc" != 0 ] && [[ "$out" == *"$expected"* ]] && ! vsh dominfo "${DOM}-bad" >/dev/null 2>&1; then
        echo "  $out" | tr '\n' ' '; echo
        pass "$name"
    else
        fail "$name" "expected an error with '$expected'; exit $rc: $out"
        vsh undefine "${DOM}-bad" >/dev/null 2>&1 || true
    fi
}

check_bad_xml() {
    local dh='<dhCert>AQAAAAAOAAAAQAAAAAOAAAAQAAAAAOAAAAQAAAAAOAAAAQAAAAAOAAA</dhCert>'
    local session='<session>IHAVENOIDEABUTJUSTPROVIDINGASTRING</session>'
    domain_xml "$(launch_security "
    $dh")" | sed "s|<name>$DOM<|<name>${DOM}-bad<|" |
        bad_define dhcert "emulated SEV launch security does not use 'dhCert' or 'session'"
    domain_xml "$(launch_security "
    $session")" | sed "s|<name>$DOM<|<name>${DOM}-bad<|" |
        bad_define session "emulated SEV launch security does not use 'dhCert' or 'session'"
    # This host has no KVM, so libvirt refuses the domain type before it
    # looks at launch security (the series' "needs a domain of type
    # 'qemu'" is in its qemuxmlconftest, with a KVM host's capabilities).
    domain_xml "$(launch_security)" | sed -e "s|<name>$DOM<|<name>${DOM}-bad<|" \
                                          -e "s|<domain type='qemu'|<domain type='kvm'|" |
        bad_define kvm "does not support virt type 'kvm'"
    domain_xml "$(launch_security)" | sed -e "s|<name>$DOM<|<name>${DOM}-bad<|" \
                                          -e "s| emulated='yes'||" |
        bad_define not-emulated "SEV launch security needs a domain of type 'kvm', not 'qemu', unless it is emulated"
    domain_xml "$(launch_security)" | sed -e "s|<name>$DOM<|<name>${DOM}-bad<|" \
                                          -e "/<reducedPhysBits>/d" |
        bad_define no-reduced-phys-bits "emulated SEV launch security needs 'reducedPhysBits'"
}

# bad_key_start NAME UUID EXPECTED: a domain whose TEK is the secret UUID
# is defined, but its start fails with an error containing EXPECTED and
# leaves nothing running
bad_key_start() {
    local name=libvirt-native/refused-$1 uuid=$2 expected=$3 xml=$WORK/bad-$1.xml out rc=0
    domain_xml "$(TEK=$uuid launch_security)" |
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

# Key secrets that cannot be used: one that does not exist, one of 15
# bytes (QEMU refuses it), one whose usage is another feature's (vTPM)
check_bad_key_secrets() {
    bad_key_start missing-key-secret "$MISSING_UUID" "$MISSING_UUID"
    head -c 15 /dev/urandom > "$WORK/short-key"
    cat > "$WORK/secret-short.xml" <<EOF
<secret ephemeral='yes' private='yes'>
  <uuid>$SHORT_UUID</uuid>
</secret>
EOF
    cat > "$WORK/secret-vtpm.xml" <<EOF
<secret ephemeral='yes' private='yes'>
  <uuid>$VTPM_UUID</uuid>
  <usage type='vtpm'><name>sev-emulated e2e</name></usage>
</secret>
EOF
    vsh secret-define "$WORK/secret-short.xml" >/dev/null
    vsh secret-set-value "$SHORT_UUID" --file "$WORK/short-key" --plain >/dev/null
    vsh secret-define "$WORK/secret-vtpm.xml" >/dev/null
    vsh secret-set-value "$VTPM_UUID" --file "$WORK/tek" --plain >/dev/null
    bad_key_start short-key-secret "$SHORT_UUID" "must hold 16 bytes, not 15"
    bad_key_start vtpm-key-secret "$VTPM_UUID" "is of type 'vtpm' not expected 'none'"
}

cleanup() {
    stop_libvirtd
}

main() {
    local start=$EPOCHREALTIME
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    if ! preflight libvirt-native/preflight; then
        return 0
    fi
    if [ ! -x "$LIBVIRT_BUILD/src/libvirtd" ]; then
        fail libvirt-native/preflight "no $LIBVIRT_BUILD/src/libvirtd (make libvirt-build)"
        return 0
    fi
    pass libvirt-native/preflight
    setup
    if start_libvirtd libvirt-native/libvirtd-started && define_secrets; then
        check_domcapabilities
        check_bad_xml
        check_bad_key_secrets
        if define_and_start libvirt-native/define-and-start-paused; then
            check_command_line
            check_launchsecinfo
            validate_online && wait_for_guest libvirt-native/guest-booted-sev-and-read-secret
        fi
    fi
    check_cleanup libvirt-native/host-left-as-found
    timed "total" "$start"
    print_times
}

main "$@"
