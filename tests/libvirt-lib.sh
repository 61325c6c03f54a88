# The libvirt end-to-end tests (tests/e2e-libvirt-*.sh): a libvirtd of
# their own, started and stopped by the test as root, driving the Debian
# test guest of scripts/guest.sh as an sev-emulated guest. Sourced after
# scripts/config.sh and scripts/guest.sh. The test sets:
#   WORK        its files (logs, keys, domain XML, serial output)
#   DOM         the domain's name
#   LIBVIRTD    the daemon's command (an array)
#   VIRSH       virsh's command (an array)
#   NS_MOUNTS   "SOURCE:TARGET" pairs bind-mounted in the daemon's private
#               mount namespace, so that the configuration it reads (and
#               the state it writes there) never touches the host's
#   QEMU_LOG    where libvirtd writes the domain's log
#   SEV_VALIDATE virt-qemu-sev-validate's command (an array)
#
# Both run the guest owner's flow of an SEV launch through libvirt
# (run_launch), for SEV and for SEV-ES with 2 vCPUs: the platform's PDH
# and chain from `virsh nodesevinfo`, the chain checked against the
# emulated vendor's root (probed from QEMU, out of band), a GODH and
# session made by scripts/sev-owner.py, <launchSecurity type='sev'>
# with them, start paused, `virsh domlaunchsecinfo`,
# virt-qemu-sev-validate --domain, the secret built by the tool offline
# and injected with `virsh domsetlaunchsecstate`, resume, and the guest
# reads it.

URI=qemu:///system
# Both daemons (Debian's and the build tree's) listen there
SOCK=/run/libvirt/libvirt-sock
PID_DIR=/run/libvirt/qemu
SECRET_AREA_GUID=4c2eb361-7d9b-4cc3-8081-127c90d3d294
SECRET_TEXT="sev-emulated libvirt secret $$"
# Resume to the guest's power-off: ~10 s on an idle machine, much more
# on 2 cores beside a compiler.
BOOT_TIMEOUT=600
# libvirtd up (it probes the QEMU binary's capabilities on first use),
# and down.
DAEMON_TIMEOUT=60
# Any one virsh call
VIRSH_TIMEOUT=120
# libvirt's daemons that could serve qemu:///system
DAEMONS=(libvirtd virtqemud virtproxyd)

LIBVIRTD_PID=
QEMU_PID=
declare -A TIMES=()
STEPS=()

source "$TOP/tests/results.sh"

# timed NAME START: record the time since START ($EPOCHREALTIME) for
# print_times
# (prefixed with TIMED_PREFIX: run_launch's launch)
timed() {
    set -- "${TIMED_PREFIX:-}$1" "$2"
    STEPS+=("$1")
    TIMES[$1]=$(awk -v a="$2" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
}

print_times() {
    local step
    for step in "${STEPS[@]}"; do
        echo "time: $step: ${TIMES[$step]} s"
    done
}

# running_daemons: the libvirt daemons running (pgrep -a lines), if any
running_daemons() {
    local d
    for d in "${DAEMONS[@]}"; do
        pgrep -a -x "$d" || true
    done
}

vsh() { timeout "$VIRSH_TIMEOUT" "${VIRSH[@]}" -q -c "$URI" "$@"; }

# preflight NAME: root, no libvirt daemon running, the QEMU build and the
# guest assets. Fails (and the test stops) without touching anything.
preflight() {
    local name=$1 running
    if [ "$(id -u)" != 0 ]; then
        fail "$name" "needs root: it starts libvirtd for $URI"
        return 1
    fi
    running=$(running_daemons)
    if [ -n "$running" ]; then
        fail "$name" "a libvirt daemon is already running, not touching it: $running"
        return 1
    fi
    if [ ! -x "$QEMU_BIN" ] || [ ! -f "$ASSET_DIR/OVMF.amdsev.fd" ]; then
        fail "$name" "no $QEMU_BIN or guest assets (make build; scripts/assets.sh)"
        return 1
    fi
}

# What a test must leave as it found it: the configuration it mounts its
# own copies over, and the cgroup directories libvirt would create.
host_state() {
    sha256sum /etc/passwd /etc/group
    find /etc/libvirt /usr/local /var/local -maxdepth 2 -printf '%p %M %s %T@\n' 2>/dev/null | sort
    find /etc/libvirt -type f -exec sha256sum {} + | sort
    ls -d /sys/fs/cgroup/*/machine 2>/dev/null || true
}

# The secret, the guest's command line (OVMF.amdsev's secret area), and
# the emulated vendor's root (ASK || ARK), which the guest owner gets out
# of band: from a QEMU process of its own (scripts/guest.sh)
setup_guest() {
    local secret_base
    rm -rf "$WORK"
    mkdir -p "$WORK"
    host_state > "$WORK/host-before.txt"
    read -r secret_base _ < <(python3 "$TOP/scripts/ovmf-table.py" "$ASSET_DIR/OVMF.amdsev.fd" "$SECRET_AREA_GUID")
    GUEST_FIRMWARE=$ASSET_DIR/OVMF.amdsev.fd
    GUEST_APPEND="console=ttyS0 sev_secret_area=$secret_base"
    printf '%s' "$SECRET_TEXT" > "$WORK/secret.txt"
    probe_platform "$WORK/vendor"
}

# domain_xml [EXTRA [QEMU-ARGS]]: the test guest as a TCG domain running
# our QEMU, with EXTRA (launch security) before </domain> and QEMU-ARGS
# (<qemu:arg/> lines) passed through to QEMU's command line, after
# -global apic-common.vapic=off, as in scripts/guest.sh: this QEMU build
# has no kvmvapic.bin (Debian's orig tarball has no blobs).
# <loader type='rom'> is -bios. <features><acpi/> is needed, not only
# wanted: without it libvirt 9.0 passes -no-acpi, which QEMU 10 no longer
# has ("qemu-system-x86_64: -no-acpi: invalid option"). The CPU is QEMU's
# default TCG model (as scripts/guest.sh; phys-bits 40, below
# sev-emulated's C-bit 51) with RDRAND, which sev-emulated requires
# (Linux's early SEV code executes it).
# on_poweroff destroy: libvirt always passes -no-shutdown, and the
# guest's /init powers off when done.
# VCPUS and CPU_MODEL (default 1 and qemu64 with rdrand) are the SEV-ES
# guest's 2 and EPYC-Rome; EMULATOR (default our QEMU) the <emulator>.
domain_xml() {
    local model=${CPU_MODEL:-qemu64}
    cat <<EOF
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$DOM</name>
  <memory unit='MiB'>1024</memory>
  <vcpu>${VCPUS:-1}</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <loader readonly='yes' type='rom'>$ASSET_DIR/OVMF.amdsev.fd</loader>
    <kernel>$ASSET_DIR/vmlinuz</kernel>
    <initrd>$ASSET_DIR/initrd.img</initrd>
    <cmdline>$GUEST_APPEND</cmdline>
  </os>
  <features>
    <acpi/>
  </features>
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='forbid'>$model</model>$([ "$model" != qemu64 ] || printf "\n    <feature policy='require' name='rdrand'/>")
  </cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>${EMULATOR:-$QEMU_BIN}</emulator>
    <serial type='file'>
      <source path='$WORK/serial.log'/>
    </serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
${1:-}
  <qemu:commandline>
    <qemu:arg value='-global'/>
    <qemu:arg value='apic-common.vapic=off'/>
$(printf "    <qemu:arg value='%s'/>\n" "${AP_WAKEUP_TRACE[@]}")
${2:-}
  </qemu:commandline>
</domain>
EOF
}

# start_libvirtd NAME: the daemon in the foreground of a background job
# (its pid is ours to stop), in a private mount namespace with NS_MOUNTS.
# Its sockets are the real ones, so that virsh and
# virt-qemu-sev-validate connect to qemu:///system as usual.
start_libvirtd() {
    local name=$1 start=$EPOCHREALTIME
    unshare --mount --propagation private -- sh -c '
        for m in $NS_MOUNTS; do
            mount --bind "${m%%:*}" "${m#*:}" || exit 1
        done
        exec "$@"' sh "${LIBVIRTD[@]}" </dev/null >"$WORK/libvirtd.log" 2>&1 &
    LIBVIRTD_PID=$!
    local deadline=$((SECONDS + DAEMON_TIMEOUT))
    until [ -S "$SOCK" ] && vsh uri >/dev/null 2>&1; do
        if ! kill -0 "$LIBVIRTD_PID" 2>/dev/null; then
            LIBVIRTD_PID=
            fail "$name" "libvirtd exited" "$WORK/libvirtd.log"
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            fail "$name" "no $SOCK within ${DAEMON_TIMEOUT}s" "$WORK/libvirtd.log"
            return 1
        fi
        sleep 0.1
    done
    timed "libvirtd up" "$start"
    pass "$name"
}
export NS_MOUNTS

# define_and_start NAME: define $WORK/domain.xml and start it paused
define_and_start() {
    local name=$1 start=$EPOCHREALTIME state out
    # libvirt appends to both: keep this run's lines only
    rm -f "$WORK/serial.log" "$QEMU_LOG"
    if ! out=$(vsh define "$WORK/domain.xml" 2>&1); then
        fail "$name" "virsh define: $out"
        return 1
    fi
    if ! out=$(vsh start --paused "$DOM" 2>&1); then
        fail "$name" "virsh start --paused: $out" "$QEMU_LOG"
        return 1
    fi
    QEMU_PID=$(cat "$PID_DIR/$DOM.pid")
    state=$(vsh domstate "$DOM")
    if [ "$state" != paused ]; then
        fail "$name" "domain state '$state', not paused" "$QEMU_LOG"
        return 1
    fi
    timed "define and start paused" "$start"
    pass "$name"
}

# wait_for_guest NAME [LINE]: poll the serial file until the guest
# (resumed) has reported its secret, or powered off without, or the time
# is up; it must have printed the kernel's SEV line (or LINE: the
# SEV-ES one) and the secret. Returns 2, with no result, if the firmware
# lost an AP wake-up (scripts/guest.sh): QEMU's log, with the trace of
# AP_WAKEUP_TRACE, shows it, and neither log has grown for BOOT_STALL
# seconds.
wait_for_guest() {
    local name=$1 line=${2:-$SEV_LINE} start=$EPOCHREALTIME
    local serial=$WORK/serial.log deadline=$((SECONDS + BOOT_TIMEOUT))
    local -a stall=()
    until grep -q "sev-emulated-init: secret:\|sev-emulated-init: no secret" "$serial" 2>/dev/null; do
        if [ "$(vsh domstate "$DOM" 2>/dev/null)" = "shut off" ] || [ "$SECONDS" -ge "$deadline" ]; then
            break
        fi
        if stalled_on_lost_wakeup stall "$QEMU_LOG" "$serial"; then
            return 2
        fi
        sleep 0.5
    done
    timed "resume to the guest's secret" "$start"
    if ! grep -q "$INIT_MARKER" "$serial" 2>/dev/null; then
        fail "$name" "the guest did not reach /init within ${BOOT_TIMEOUT}s" "$serial"
    elif ! grep -q "sev-emulated-init: kernel: $line" "$serial"; then
        fail "$name" "the guest did not report '$line'" "$serial"
    elif ! grep -qF "sev-emulated-init: secret: $SECRET_TEXT" "$serial"; then
        fail "$name" "the guest did not read the injected secret" "$serial"
    else
        grep "sev-emulated-init: kernel:\|sev-emulated-init: secret:" "$serial" | sed 's/^/  /'
        pass "$name"
    fi
}

# owner_platform NAME [VIRSH-ARGS]: the guest owner's copy of the
# platform's PDH and certificate chain, from `virsh nodesevinfo
# [VIRSH-ARGS]` ($WORK/owner/pdh.b64, cert-chain.b64), checked against
# the emulated vendor's root (setup_guest)
owner_platform() {
    local name=$1 out dir=$WORK/owner
    shift
    mkdir -p "$dir"
    if ! out=$(vsh nodesevinfo "$@" 2>&1); then
        fail "$name" "virsh nodesevinfo $*: $out"
        return 1
    fi
    echo "$out" > "$dir/nodesevinfo.txt"
    sed -n 's/^pdh *: //p' <<<"$out" > "$dir/pdh.b64"
    sed -n 's/^cert-chain *: //p' <<<"$out" > "$dir/cert-chain.b64"
    if ! out=$(sev_owner verify-chain --pdh "$dir/pdh.b64" --cert-chain "$dir/cert-chain.b64" \
                   --ca "$WORK/vendor/ask_ark.cert" 2>&1); then
        fail "$name" "the chain from virsh nodesevinfo does not verify: $out" "$dir/nodesevinfo.txt"
        return 1
    fi
    grep -v '^pdh\|^cert-chain' "$dir/nodesevinfo.txt" | sed 's/^/  /'
    pass "$name"
}

# launch_security DIR POLICY: <launchSecurity> with the owner's GODH and
# session in DIR; no cbitpos or reducedPhysBits (libvirt fills them in)
launch_security() {
    cat <<EOF
  <launchSecurity type='sev' kernelHashes='yes'>
    <policy>$2</policy>
    <dhCert>$(cat "$1/godh.b64")</dhCert>
    <session>$(cat "$1/session.b64")</session>
  </launchSecurity>
EOF
}

# check_launchsecinfo NAME POLICY: virsh domlaunchsecinfo gives the
# measurement and query-sev's values (kept in $WORK/domlaunchsecinfo.txt)
check_launchsecinfo() {
    local name=$1 policy=$(($2)) out
    out=$(vsh domlaunchsecinfo "$DOM" 2>&1) || true
    echo "$out" > "$WORK/domlaunchsecinfo.txt"
    if echo "$out" | grep -qE '^sev-measurement *: [A-Za-z0-9+/]{60,}=*$' &&
       echo "$out" | grep -qE '^sev-api-major *: 1$' &&
       echo "$out" | grep -qE '^sev-api-minor *: 40$' &&
       echo "$out" | grep -qE '^sev-build-id *: 40$' &&
       echo "$out" | grep -qE "^sev-policy *: $policy\$"; then
        sed 's/^/  /' "$WORK/domlaunchsecinfo.txt"
        pass "$name"
    else
        fail "$name" "unexpected output" "$WORK/domlaunchsecinfo.txt"
        return 1
    fi
}

# launchsecinfo FIELD: one value of $WORK/domlaunchsecinfo.txt
launchsecinfo() {
    sed -n "s/^sev-$1 *: //p" "$WORK/domlaunchsecinfo.txt"
}

# validate_online NAME DIR [TOOL-ARGS...]: virt-qemu-sev-validate, online:
# the measurement and query-sev's values from libvirt, validated against
# the guest owner's own copies of the firmware, kernel, initrd and command
# line and the TIK/TEK in DIR. --insecure: it runs on the host (the guest
# owner would not), and the domain's SEV is emulated.
validate_online() {
    local name=$1 dir=$2 start=$EPOCHREALTIME out
    shift 2
    if out=$(timeout "$VIRSH_TIMEOUT" "${SEV_VALIDATE[@]}" --connect "$URI" --domain "$DOM" \
                 --insecure --tik "$dir/tik.bin" --tek "$dir/tek.bin" \
                 --firmware "$GUEST_FIRMWARE" --kernel "$ASSET_DIR/vmlinuz" \
                 --initrd "$ASSET_DIR/initrd.img" --cmdline "$GUEST_APPEND" "$@" 2>&1) &&
       [[ "$out" == *"OK: Looks good to me"* ]]; then
        timed "virt-qemu-sev-validate --domain" "$start"
        echo "  $out" | tr '\n' ' '; echo
        pass "$name"
    else
        fail "$name" "virt-qemu-sev-validate: $out"
        return 1
    fi
}

# inject_secret NAME DIR [TOOL-ARGS...]: the guest owner builds the secret
# packet offline (virt-qemu-sev-validate, from domlaunchsecinfo's values,
# which it validates again), and the host injects it with `virsh
# domsetlaunchsecstate`
inject_secret() {
    local name=$1 dir=$2 out
    shift 2
    if ! out=$("${SEV_VALIDATE[@]}" --measurement "$(launchsecinfo measurement)" \
                   --api-major "$(launchsecinfo api-major)" --api-minor "$(launchsecinfo api-minor)" \
                   --build-id "$(launchsecinfo build-id)" --policy "$(launchsecinfo policy)" \
                   --firmware "$GUEST_FIRMWARE" --kernel "$ASSET_DIR/vmlinuz" \
                   --initrd "$ASSET_DIR/initrd.img" --cmdline "$GUEST_APPEND" \
                   --tik "$dir/tik.bin" --tek "$dir/tek.bin" "$@" \
                   --inject-secret "luks-key:$WORK/secret.txt" \
                   --secret-header "$dir/header.b64" --secret-payload "$dir/payload.b64" 2>&1); then
        fail "$name" "virt-qemu-sev-validate (offline): $out"
        return 1
    fi
    if ! out=$(vsh domsetlaunchsecstate "$DOM" --secrethdr "$dir/header.b64" \
                   --secret "$dir/payload.b64" 2>&1); then
        fail "$name" "virsh domsetlaunchsecstate: $out"
        return 1
    fi
    pass "$name"
}

# run_launch TAG POLICY [TOOL-ARGS...]: the guest owner's flow for one
# launch (see the top): an SEV guest, or an SEV-ES one with VCPUS and
# CPU_MODEL set and TOOL-ARGS giving the tool the vCPU count and CPU
# signature. Results are named PREFIX/TAG/...; the test's
# check_command_line NAME POLICY checks QEMU's command line, and its
# paused_checks TAG DIR, if any, runs while the guest is paused.
run_launch() {
    local tag=$1 policy=$2 dir=$WORK/$1 out line=$SEV_LINE rc=0
    local TIMED_PREFIX="$tag: " attempt=${ATTEMPT:-1}
    local -a all=("$@")
    shift 2
    [ $((policy & 4)) = 0 ] || line="$SEV_LINE SEV-ES"
    mkdir -p "$dir"
    if ! out=$(sev_owner session --pdh "$WORK/owner/pdh.b64" --cert-chain "$WORK/owner/cert-chain.b64" \
                   --verify-chain-ca "$WORK/vendor/ask_ark.cert" --policy "$policy" --out "$dir" 2>&1); then
        fail "$PREFIX/$tag/owner-session" "$out"
        return 1
    fi
    domain_xml "$(launch_security "$dir" "$policy")" > "$WORK/domain.xml"
    cp "$WORK/domain.xml" "$dir/domain.xml"
    if define_and_start "$PREFIX/$tag/define-and-start-paused"; then
        check_command_line "$PREFIX/$tag/qemu-command-line" "$policy"
        if declare -F paused_checks >/dev/null; then
            paused_checks "$tag" "$dir"
        fi
        if check_launchsecinfo "$PREFIX/$tag/domlaunchsecinfo" "$policy" &&
           validate_online "$PREFIX/$tag/sev-validate-online" "$dir" "$@" &&
           inject_secret "$PREFIX/$tag/secret-injected-with-domsetlaunchsecstate" "$dir" "$@"; then
            if out=$(vsh resume "$DOM" 2>&1); then
                wait_for_guest "$PREFIX/$tag/guest-booted-and-read-secret" "$line" || rc=$?
            else
                fail "$PREFIX/$tag/guest-booted-and-read-secret" "virsh resume: $out" "$QEMU_LOG"
            fi
        fi
        cp "$QEMU_LOG" "$dir/qemu.log" 2>/dev/null || true
        cp "$WORK/serial.log" "$dir/serial.log" 2>/dev/null || true
    fi
    vsh destroy "$DOM" >/dev/null 2>&1 || true
    vsh undefine "$DOM" >/dev/null 2>&1 || true
    if [ "$rc" = 2 ]; then
        lost_wakeup_note
        if [ "$attempt" -lt 3 ]; then
            ATTEMPT=$((attempt + 1)) run_launch "${all[@]}"
        else
            fail "$PREFIX/$tag/guest-booted-and-read-secret" \
                "the firmware lost an AP wake-up in 3 launches" "$QEMU_LOG"
        fi
    fi
}

# Idempotent; also the EXIT trap. libvirtd leaves running domains alone
# when it stops, so the domain is destroyed first, and its QEMU killed if
# it still runs. What stays on the host: /run/libvirt, as on any libvirt
# host, and what the test's own daemon writes outside NS_MOUNTS.
stop_libvirtd() {
    if [ -n "$LIBVIRTD_PID" ] && kill -0 "$LIBVIRTD_PID" 2>/dev/null; then
        vsh destroy "$DOM" >/dev/null 2>&1 || true
        vsh undefine "$DOM" >/dev/null 2>&1 || true
        kill "$LIBVIRTD_PID" 2>/dev/null || true
        for _ in $(seq $((DAEMON_TIMEOUT * 10))); do
            kill -0 "$LIBVIRTD_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$LIBVIRTD_PID" 2>/dev/null || true
        wait "$LIBVIRTD_PID" 2>/dev/null || true
    fi
    LIBVIRTD_PID=
    # Only if that pid is still our domain's QEMU
    if [ -n "$QEMU_PID" ] && grep -qF "guest=$DOM," "/proc/$QEMU_PID/cmdline" 2>/dev/null; then
        kill "$QEMU_PID" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$QEMU_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$QEMU_PID" 2>/dev/null || true
    fi
    QEMU_PID=
}

# check_cleanup NAME: stop everything, then compare the host with what it was
check_cleanup() {
    local name=$1 start=$EPOCHREALTIME left
    cleanup
    timed "cleanup" "$start"
    host_state > "$WORK/host-after.txt"
    left=$(running_daemons; pgrep -a -f "guest=$DOM," || true)
    if [ -n "$left" ]; then
        fail "$name" "still running: $left"
    elif ! diff -u "$WORK/host-before.txt" "$WORK/host-after.txt"; then
        fail "$name" "/etc/libvirt, /usr/local, /var/local, /etc/passwd, /etc/group or the cgroups changed (diff above)"
    else
        pass "$name"
    fi
}
