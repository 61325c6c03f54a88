#!/usr/bin/env bash
# End to end: SEV and SEV-ES guests on a TCG domain driven by Debian 12's
# own libvirt (9.0.0), which knows nothing of sev-emulated. The domain
# XML is the one of SEV hardware (<domain type='qemu'>,
# <launchSecurity type='sev'> with the owner's dhCert and session), as
# with the libvirt series, and the guest owner's flow is run_launch's
# (tests/libvirt-lib.sh) with Debian's virt-qemu-sev-validate: for an
# SEV guest (policy 0x1) and an SEV-ES guest (0x5, 2 EPYC-Rome vCPUs).
#
# What stock libvirt does with the emulated platform: on this host
# without KVM its only capability probe runs with TCG, where QEMU
# answers query-sev-capabilities with the emulated platform, so it
# offers SEV (`virsh nodesevinfo` gives the emulated PDH and chain, and
# cbitpos and reducedPhysBits are filled in from it) but puts sev-guest
# on the command line, which QEMU runs with KVM only. So <emulator> is a
# wrapper (setup) that passes sev-guest's properties to sev-emulated,
# which takes the same ones: that is the passthrough. Recorded as
# limitations: without it the start fails, and /dev/sev needs
# namespaces off (qemu.conf) on a host without the device. The libvirt
# series (tests/e2e-libvirt-native.sh) needs neither.
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
# virNodeGetSEVInfo asks the host's default emulator, found in PATH:
# the wrapper (setup)
LIBVIRTD=(env PATH="$WORK/bin:$PATH" /usr/sbin/libvirtd)
VIRSH=(virsh)
# Debian's, with Debian's python (as scripts/guest.sh's sev_validate)
SEV_VALIDATE=(/usr/bin/python3 /usr/bin/virt-qemu-sev-validate)
PREFIX=libvirt
EMULATOR=$WORK/bin/qemu-system-x86_64
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
# No mount namespace: in one, libvirt 9.0 would create /dev/sev for an
# SEV domain, which this host has not (the series skips it for TCG)
namespaces = [ ]
EOF
}

# The wrapper: QEMU, with sev-guest's object (JSON, as libvirt 9.0 writes
# -object for QEMU 10) made sev-emulated's
write_wrapper() {
    mkdir -p "$WORK/bin"
    cat > "$EMULATOR" <<EOF
#!/bin/bash
# Written by tests/e2e-libvirt-passthrough.sh: Debian's libvirt asks for
# sev-guest, which QEMU runs with KVM only; sev-emulated takes the same
# properties.
old='"qom-type":"sev-guest"'
new='"qom-type":"sev-emulated"'
args=()
for arg in "\$@"; do
    args+=("\${arg/"\$old"/"\$new"}")
done
exec "$QEMU_BIN" "\${args[@]}"
EOF
    chmod 755 "$EMULATOR"
}

setup() {
    setup_guest
    write_config
    write_wrapper
}

# What libvirt asked for (the log), and what QEMU runs: query-sev
# through libvirt says emulated
check_command_line() {
    local name=$1 policy=$(($2)) state emulated info
    if ! grep -q '"qom-type":"sev-guest","id":"lsec0","cbitpos":51,"reduced-phys-bits":1,"policy":'"$policy"',"dh-cert-file":"[^"]*","session-file":"[^"]*","kernel-hashes":true' "$QEMU_LOG"; then
        fail "$name" "no sev-guest object with the platform's values and the session" "$QEMU_LOG"
        return
    fi
    info=$(monitor query-sev) || { fail "$name" "query-sev failed" "$WORK/qmp-query-sev.json"; return; }
    state=$(json_field "$info" state)
    emulated=$(json_field "$info" emulated)
    if [ "$state" = launch-secret ] && [ "$emulated" = True ]; then
        grep -o -- "-object '{\"qom-type\":\"sev-guest\"[^']*'" "$QEMU_LOG" | sed 's/^/  /'
        pass "$name"
    else
        fail "$name" "query-sev: state '$state', emulated '$emulated'" "$WORK/qmp-query-sev.json"
    fi
}

# Without the wrapper, QEMU refuses libvirt's sev-guest under TCG
check_limitation_without_wrapper() {
    local name=$PREFIX/limitation-sev-guest-refused-without-wrapper out rc=0
    EMULATOR=$QEMU_BIN domain_xml "$(launch_security "$WORK/sev" 0x0001)" |
        sed "s|<name>$DOM<|<name>${DOM}-bad<|" > "$WORK/bad-no-wrapper.xml"
    vsh define "$WORK/bad-no-wrapper.xml" >/dev/null
    out=$(vsh start --paused "${DOM}-bad" 2>&1) || rc=$?
    if [ "$rc" != 0 ] && [[ "$out" == *"accelerator does not support confidential guest sev-guest"* ]] &&
       [ "$(vsh domstate "${DOM}-bad" 2>/dev/null)" = "shut off" ]; then
        echo "  $out" | tr '\n' ' '; echo
        pass "$name"
    else
        fail "$name" "expected QEMU to refuse sev-guest; exit $rc: $out"
    fi
    vsh destroy "${DOM}-bad" >/dev/null 2>&1 || true
    vsh undefine "${DOM}-bad" >/dev/null 2>&1 || true
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
    if ! preflight $PREFIX/preflight; then
        return 0
    fi
    if [ ! -x /usr/sbin/libvirtd ] || ! command -v virsh >/dev/null ||
       [ ! -f /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ]; then
        fail $PREFIX/preflight "needs Debian's libvirt-daemon, libvirt-daemon-driver-qemu and libvirt-clients"
        return 0
    fi
    pass $PREFIX/preflight
    setup
    STARTED=1
    if start_libvirtd $PREFIX/libvirtd-started &&
       owner_platform $PREFIX/owner-platform-from-nodesevinfo; then
        run_launch sev 0x0001
        VCPUS=2 CPU_MODEL=EPYC-Rome run_launch sev-es 0x0005 \
            --num-cpus 2 --cpu-family 23 --cpu-model 49 --cpu-stepping 0
        check_limitation_without_wrapper
    fi
    check_cleanup $PREFIX/host-left-as-found
    timed "total" "$start"
    print_times
}

main "$@"
