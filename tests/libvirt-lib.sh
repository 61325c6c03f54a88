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
timed() {
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

# Keys, secret and the guest's command line (OVMF.amdsev's secret area)
setup_guest() {
    local secret_base
    rm -rf "$WORK"
    mkdir -p "$WORK"
    host_state > "$WORK/host-before.txt"
    read -r secret_base _ < <(python3 "$TOP/scripts/ovmf-table.py" "$ASSET_DIR/OVMF.amdsev.fd" "$SECRET_AREA_GUID")
    GUEST_FIRMWARE=$ASSET_DIR/OVMF.amdsev.fd
    GUEST_APPEND="console=ttyS0 sev_secret_area=$secret_base"
    (umask 077
     head -c 16 /dev/urandom > "$WORK/tik"
     head -c 16 /dev/urandom > "$WORK/tek")
    printf '%s' "$SECRET_TEXT" > "$WORK/secret.txt"
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
domain_xml() {
    cat <<EOF
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$DOM</name>
  <memory unit='MiB'>1024</memory>
  <vcpu>1</vcpu>
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
    <model fallback='forbid'>qemu64</model>
    <feature policy='require' name='rdrand'/>
  </cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$QEMU_BIN</emulator>
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

# wait_for_guest NAME: poll the serial file until the guest (resumed) has
# reported its secret, or powered off without, or the time is up; it
# must have printed the kernel's SEV line and the secret.
wait_for_guest() {
    local name=$1 start=$EPOCHREALTIME
    local serial=$WORK/serial.log deadline=$((SECONDS + BOOT_TIMEOUT))
    until grep -q "sev-emulated-init: secret:\|sev-emulated-init: no secret" "$serial" 2>/dev/null; do
        if [ "$(vsh domstate "$DOM" 2>/dev/null)" = "shut off" ] || [ "$SECONDS" -ge "$deadline" ]; then
            break
        fi
        sleep 0.5
    done
    timed "resume to the guest's secret" "$start"
    if ! grep -q "$INIT_MARKER" "$serial" 2>/dev/null; then
        fail "$name" "the guest did not reach /init within ${BOOT_TIMEOUT}s" "$serial"
    elif ! grep -q "sev-emulated-init: kernel: $SEV_LINE" "$serial"; then
        fail "$name" "the guest did not report SEV" "$serial"
    elif ! grep -qF "sev-emulated-init: secret: $SECRET_TEXT" "$serial"; then
        fail "$name" "the guest did not read the injected secret" "$serial"
    else
        grep "sev-emulated-init: kernel:\|sev-emulated-init: secret:" "$serial" | sed 's/^/  /'
        pass "$name"
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
