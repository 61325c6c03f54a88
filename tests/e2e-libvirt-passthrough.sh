#!/usr/bin/env bash
# End to end: an sev-emulated guest driven by Debian 12's own libvirt
# (9.0.0), which knows nothing of sev-emulated. The domain is type 'qemu'
# (TCG) with our QEMU as <emulator>; the SEV object and the
# confidential-guest-support machine property are passed through with
# <qemu:commandline>. The launch flow is the one of tests/e2e-launch.sh,
# with libvirt in the middle: start paused, query-sev and
# query-sev-launch-measure through `virsh qemu-monitor-command`,
# virt-qemu-sev-validate offline, sev-inject-launch-secret through
# `virsh qemu-monitor-command`, resume, and the guest prints its SEV line
# and the secret it read on the serial console (a file).
#
# It also records what does not work with passthrough: libvirt's own
# launch security APIs (domlaunchsecinfo, domsetlaunchsecstate and
# virt-qemu-sev-validate's online mode) know only <launchSecurity>
# domains, so they see nothing here.
#
# Needs root: it starts /usr/sbin/libvirtd for qemu:///system itself (this
# machine has no systemd and no libvirt-daemon-system), and fails without
# touching anything if a libvirt daemon already runs.
#
# Prints one "PASS name" or "FAIL name: why" per step, then the time of
# the major steps. Files: build/e2e-libvirt-passthrough/.
set -euo pipefail
source "$(dirname "$0")/../scripts/config.sh"
source "$TOP/scripts/guest.sh"
source "$TOP/tests/libvirt-lib.sh"

WORK=$BUILD_DIR/e2e-libvirt-passthrough
DOM=sev-emulated-passthrough
LIBVIRTD=(/usr/sbin/libvirtd)
VIRSH=(virsh)
QEMU_LOG=/var/log/libvirt/qemu/$DOM.log
# libvirtd's view of /etc (write_config)
NS_MOUNTS="$WORK/etc/passwd:/etc/passwd $WORK/etc/group:/etc/group $WORK/etc/libvirt:/etc/libvirt"
# Set once our libvirtd runs: only then does cleanup touch libvirt's files
STARTED=

# monitor COMMAND [JSON-ARGUMENTS]: one QMP command through libvirt
# (virsh qemu-monitor-command); prints its "return" as one line of JSON
# (for json_field), keeps the pretty reply in $WORK/qmp-COMMAND.json.
# A QMP error goes to stderr and fails.
monitor() {
    local request
    request=$(python3 -c 'import json, sys
r = {"execute": sys.argv[1]}
if len(sys.argv) > 2:
    r["arguments"] = json.loads(sys.argv[2])
print(json.dumps(r))' "$@")
    vsh qemu-monitor-command "$DOM" --pretty "$request" > "$WORK/qmp-$1.json" || return 1
    python3 -c 'import json, sys
reply = json.load(open(sys.argv[1]))
if "error" in reply:
    sys.exit("%s: %s" % (sys.argv[2], reply["error"]["desc"]))
print(json.dumps(reply["return"]))' "$WORK/qmp-$1.json" "$1"
}

# The configuration libvirtd sees: /etc/libvirt and, for its start-up
# check, /etc/passwd and /etc/group, in a private mount namespace
# (start_libvirtd) so that nothing in the real /etc changes, even if the
# test is killed.
write_config() {
    local etc=$WORK/etc uid gid
    mkdir -p "$etc"
    cp -a /etc/libvirt "$etc/libvirt"
    cp /etc/passwd /etc/group "$etc/"
    # libvirt's QEMU driver resolves its built-in default account
    # (Debian: user and group libvirt-qemu, made by libvirt-daemon-system)
    # before it reads qemu.conf, and without it refuses to start:
    #   error : virGetUserID:760 : invalid argument: Failed to parse user 'libvirt-qemu'
    #   error : virStateInitialize:660 : Initialization of QEMU state driver failed: ...
    # so a placeholder account, never used (qemu.conf says root), exists
    # in libvirtd's view only.
    if ! getent passwd libvirt-qemu >/dev/null || ! getent group libvirt-qemu >/dev/null; then
        uid=$(awk -F: '{ used[$3] = 1 } END { for (i = 999; i > 100; i--) if (!used[i]) { print i; exit } }' /etc/passwd)
        gid=$(awk -F: '{ used[$3] = 1 } END { for (i = 999; i > 100; i--) if (!used[i]) { print i; exit } }' /etc/group)
        getent passwd libvirt-qemu >/dev/null ||
            echo "libvirt-qemu:x:$uid:$gid:placeholder for $(basename "$0"):/nonexistent:/usr/sbin/nologin" >> "$etc/passwd"
        getent group libvirt-qemu >/dev/null || echo "libvirt-qemu:x:$gid:" >> "$etc/group"
    fi
    cat > "$etc/libvirt/qemu.conf" <<'EOF'
# Written by tests/e2e-libvirt-passthrough.sh for its own libvirtd only.
# Run QEMU as root (as the other tests run it), not as the placeholder
# libvirt-qemu account.
user = "root"
group = "root"
# No virtlogd runs, and a privileged libvirtd does not start one: QEMU's
# stderr goes straight to /var/log/libvirt/qemu/DOM.log.
stdio_handler = "file"
# No cgroups: otherwise libvirt creates /sys/fs/cgroup/*/machine (left
# behind) and moves QEMU there, out of the cgroup the test runs in.
cgroup_controllers = [ ]
EOF
}

# Everything SEV is in <qemu:commandline>, appended by libvirt to the
# end of QEMU's command line:
# - the TIK and TEK as secret objects, and sev-emulated with
#   reduced-phys-bits (which it requires, as sev-guest does) and
#   kernel-hashes=on (OVMF's AmdSev build checks the kernel, initrd and
#   command line against the hashes measured with it);
# - -machine confidential-guest-support=sev0: libvirt emits its own
#   -machine pc-q35-...; QEMU merges repeated -machine options.
passthrough_args() {
    cat <<EOF
    <qemu:arg value='-object'/>
    <qemu:arg value='secret,id=tik,file=$WORK/tik'/>
    <qemu:arg value='-object'/>
    <qemu:arg value='secret,id=tek,file=$WORK/tek'/>
    <qemu:arg value='-object'/>
    <qemu:arg value='sev-emulated,id=sev0,reduced-phys-bits=1,kernel-hashes=on,tik-secret=tik,tek-secret=tek'/>
    <qemu:arg value='-machine'/>
    <qemu:arg value='confidential-guest-support=sev0'/>
EOF
}

setup() {
    setup_guest
    write_config
    domain_xml "" "$(passthrough_args)" > "$WORK/domain.xml"
}

# What libvirt made of the XML (see the log: one argument a line)
check_command_line() {
    local name=libvirt/qemu-command-line arg missing=()
    for arg in "$QEMU_BIN" "-accel tcg" "-cpu qemu64,rdrand=on" \
               "-bios $ASSET_DIR/OVMF.amdsev.fd" "-kernel $ASSET_DIR/vmlinuz" \
               "-initrd $ASSET_DIR/initrd.img" \
               "-object sev-emulated,id=sev0,reduced-phys-bits=1,kernel-hashes=on,tik-secret=tik,tek-secret=tek" \
               "-machine confidential-guest-support=sev0"; do
        grep -qF -- "$arg" "$QEMU_LOG" || missing+=("$arg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        fail "$name" "missing from the command line: ${missing[*]}" "$QEMU_LOG"
    elif grep -q "RDRAND" "$QEMU_LOG"; then
        fail "$name" "QEMU warned that the CPU has no RDRAND" "$QEMU_LOG"
    else
        pass "$name"
    fi
}

check_query_sev() {
    local name=libvirt/query-sev-through-libvirt state emulated
    SEV_INFO=$(monitor query-sev)
    state=$(json_field "$SEV_INFO" state)
    emulated=$(json_field "$SEV_INFO" emulated)
    if [ "$state" = launch-secret ] && [ "$emulated" = True ]; then
        pass "$name"
    else
        fail "$name" "state '$state', emulated '$emulated'" "$WORK/qmp-query-sev.json"
        return 1
    fi
}

# The guest owner's side, offline: validate the measurement and build the
# secret (header and payload files) for the TIK/TEK of this launch.
validate_offline() {
    local name=libvirt/measurement-validated-offline start=$EPOCHREALTIME measure out
    measure=$(json_field "$(monitor query-sev-launch-measure)" data)
    if ! out=$(sev_validate --measurement "$measure" \
                   --api-major "$(json_field "$SEV_INFO" api-major)" \
                   --api-minor "$(json_field "$SEV_INFO" api-minor)" \
                   --build-id "$(json_field "$SEV_INFO" build-id)" \
                   --policy "$(json_field "$SEV_INFO" policy)" \
                   --firmware "$GUEST_FIRMWARE" --kernel "$ASSET_DIR/vmlinuz" \
                   --initrd "$ASSET_DIR/initrd.img" --cmdline "$GUEST_APPEND" \
                   --tik "$WORK/tik" --tek "$WORK/tek" \
                   --inject-secret "luks-key:$WORK/secret.txt" \
                   --secret-header "$WORK/header.b64" --secret-payload "$WORK/payload.b64" 2>&1); then
        fail "$name" "virt-qemu-sev-validate: $out"
        return 1
    fi
    timed "virt-qemu-sev-validate" "$start"
    echo "  $out" | tr '\n' ' '; echo
    pass "$name"
}

# Expected limitations: libvirt's launch security APIs read the domain's
# <launchSecurity>, which a passthrough domain has not.
check_limitations() {
    local name out rc

    # Prints one empty line (virsh's empty table) and exits 0.
    name=libvirt/limitation-domlaunchsecinfo-empty
    rc=0; out=$(vsh domlaunchsecinfo "$DOM" 2>&1) || rc=$?
    if [ "$rc" = 0 ] && [ -z "$out" ]; then
        pass "$name"
    else
        fail "$name" "expected no output; exit $rc: $out"
    fi

    # Refused before QEMU sees anything (the secret is injected below):
    #   error: Unable to set launch security state
    #   error: Operation not supported: setting a launch secret is only supported in SEV-enabled domains
    name=libvirt/limitation-domsetlaunchsecstate-refused
    rc=0; out=$(vsh domsetlaunchsecstate "$DOM" --secrethdr "$WORK/header.b64" \
                    --secret "$WORK/payload.b64" 2>&1) || rc=$?
    if [ "$rc" = 1 ] && [[ "$out" == *"setting a launch secret is only supported in SEV-enabled domains"* ]]; then
        echo "  $out" | tr '\n' ' '; echo
        pass "$name"
    else
        fail "$name" "expected a refusal; exit $rc: $out"
    fi

    # virt-qemu-sev-validate's online mode (--connect/--domain, the only
    # one that can --inject-secret by itself) checks the XML:
    #   ERROR: Domain is not configured with SEV launch security
    # and with --ignore-config reads domlaunchsecinfo's empty answer:
    #   ERROR: 'api-major' not reported in domain launch security info
    # (--insecure: it runs on the host.)
    name=libvirt/limitation-sev-validate-online-refused
    local out2 rc2=0
    rc=0; out=$(sev_validate --connect "$URI" --domain "$DOM" --insecure \
                    --tik "$WORK/tik" --tek "$WORK/tek" 2>&1) || rc=$?
    out2=$(sev_validate --connect "$URI" --domain "$DOM" --insecure --ignore-config \
               --tik "$WORK/tik" --tek "$WORK/tek" 2>&1) || rc2=$?
    if [ "$rc" != 0 ] && [[ "$out" == *"Domain is not configured with SEV launch security"* ]] &&
       [ "$rc2" != 0 ] && [[ "$out2" == *"'api-major' not reported in domain launch security info"* ]]; then
        echo "  $out $out2" | tr '\n' ' '; echo
        pass "$name"
    else
        fail "$name" "expected refusals; exit $rc: $out; with --ignore-config, exit $rc2: $out2"
    fi
}

inject_secret() {
    local name=libvirt/secret-injected-via-qemu-monitor-command args out
    args=$(printf '{"packet-header": "%s", "secret": "%s"}' \
               "$(cat "$WORK/header.b64")" "$(cat "$WORK/payload.b64")")
    if out=$(monitor sev-inject-launch-secret "$args" 2>&1); then
        pass "$name"
    else
        fail "$name" "$out"
        return 1
    fi
}

boot_and_check() {
    local name=libvirt/guest-booted-sev-and-read-secret out
    if ! out=$(vsh resume "$DOM" 2>&1); then
        fail "$name" "virsh resume: $out" "$QEMU_LOG"
        return 1
    fi
    wait_for_guest "$name"
}

# The EXIT trap; the domain's log moves to $WORK/qemu.log. Also left on
# the host, as on any libvirt host: /var/lib/libvirt, /var/cache/libvirt
# (the capabilities of our QEMU) and /var/log/libvirt.
cleanup() {
    stop_libvirtd
    if [ -n "$STARTED" ]; then
        [ ! -f "$QEMU_LOG" ] || mv "$QEMU_LOG" "$WORK/qemu.log"
        STARTED=
    fi
}

main() {
    local start=$EPOCHREALTIME
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    if ! preflight libvirt/preflight; then
        return 0
    fi
    if [ ! -x /usr/sbin/libvirtd ] || ! command -v virsh >/dev/null ||
       [ ! -f /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ]; then
        fail libvirt/preflight "needs Debian's libvirt-daemon, libvirt-daemon-driver-qemu and libvirt-clients"
        return 0
    fi
    pass libvirt/preflight
    setup
    STARTED=1
    if start_libvirtd libvirt/libvirtd-started &&
       define_and_start libvirt/define-and-start-paused; then
        check_command_line
        if check_query_sev && validate_offline; then
            check_limitations
            inject_secret && boot_and_check
        fi
    fi
    check_cleanup libvirt/host-left-as-found
    timed "total" "$start"
    print_times
}

main "$@"
