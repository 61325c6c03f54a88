#!/usr/bin/env bash
# make check-hosts: sev-emulated must not need an x86 host. Cross-build
# qemu-system-x86_64 for an aarch64 Linux host and check, running it
# under Debian's qemu-aarch64-static:
#   - configure says "KVM support: NO" (no KVM for x86 guests there)
#   - qemu-system-x86_64 links, and is an aarch64 ELF
#   - it runs and prints -version
#   - -object help lists sev-emulated and sev-snp-emulated
#   - -accel help lists tcg
#   - an SEV-SNP launch of Debian's OVMF.amdsev.fd (EPYC-Rome, 1 vCPU)
#     has sev-snp-measure's launch digest, as on an x86 host
# Builds build/qemu's HEAD (its committed work, as it is: no make tree)
# in a worktree, build/qemu-hosts (build/qemu, where people edit and
# build, is never touched), at nice 10, with ccache. Installs the cross
# compiler and the arm64 libraries on first use. Prints the time of each
# step and "N passed, N failed"; exits non-zero on any failure.
# Logs: build/logs/.
set -euo pipefail
source "$(dirname "$0")/config.sh"
source "$TOP/scripts/apt-private.sh"

HOSTS_TREE=$BUILD_DIR/qemu-hosts
HOSTS_BUILD=$HOSTS_TREE/build-aarch64
HOSTS_BIN=$HOSTS_BUILD/qemu-system-x86_64
# libfdt-dev:arm64, unpacked aside (see config.sh)
FDT_ASIDE=$BUILD_DIR/hosts-aarch64/$HOSTS_FDT_DEV
DEB_DIR=$CACHE_DIR/debs
HOSTS_LIBDIR=/usr/lib/${HOSTS_CROSS_PREFIX%-}
CONFIGURE_LOG=$LOG_DIR/configure-qemu-hosts-build-aarch64.log
BUILD_LOG=$LOG_DIR/qemu-hosts-build-aarch64.log
# Wait for an apt or dpkg run by someone else on this machine instead of
# failing on its lock.
APT_WAIT=(-o DPkg::Lock::Timeout=600)

CONFIGURE_FLAGS=(
    --python=/usr/bin/python3
    --cross-prefix="$HOSTS_CROSS_PREFIX"
    # Debian's ccache has no wrapper named after the cross compiler;
    # configure writes CC word by word into meson's cross file, so
    # meson runs ccache with the compiler as its argument.
    --cc="ccache ${HOSTS_CROSS_PREFIX}gcc"
    --target-list=x86_64-softmmu
    --enable-tcg
    --enable-gnutls --enable-nettle
    --enable-slirp --enable-fdt=system
    --disable-install-blobs
    --disable-docs --disable-tools --disable-user
    # libfdt's headers and link library from the .deb unpacked aside;
    # the binary loads libfdt1:arm64's shared library, installed.
    --extra-cflags="-isystem $FDT_ASIDE/usr/include"
    --extra-ldflags="-L$FDT_ASIDE$HOSTS_LIBDIR"
)

passed=0
failed=0
result() {      # result pass|fail WHAT
    if [ "$1" = pass ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    echo "$( [ "$1" = pass ] && echo PASS || echo FAIL ) $2"
}

timed() {       # timed NAME COMMAND...: run a setup step, print its time
    local name=$1 start=$SECONDS
    shift
    "$@"
    echo "   $name: $((SECONDS - start)) s"
}

need_root() {
    [ "$(id -u)" = 0 ] || { echo "check-hosts: need root to $1" >&2; exit 1; }
}

# The cross compiler, qemu-user and the arm64 -dev packages, from the
# system's own (bookworm) sources: only when check-hosts runs, not for
# make check.
install_packages() {
    local arch_deps=() p need log=$CACHE_DIR/hosts-deps.log
    for p in "${HOSTS_ARCH_DEPS[@]}"; do
        arch_deps+=("$p:$HOSTS_DPKG_ARCH")
    done
    if dpkg --print-foreign-architectures | grep -qx "$HOSTS_DPKG_ARCH"; then
        echo "check-hosts: dpkg architecture $HOSTS_DPKG_ARCH already added, skipping"
    else
        need_root "add the dpkg architecture $HOSTS_DPKG_ARCH"
        echo "check-hosts: adding the dpkg architecture $HOSTS_DPKG_ARCH"
        dpkg --add-architecture "$HOSTS_DPKG_ARCH"
    fi
    need=$(missing "${HOSTS_DEPS[@]}" "${arch_deps[@]}")
    if [ -z "$need" ]; then
        echo "check-hosts: cross compiler and $HOSTS_DPKG_ARCH packages all installed, skipping"
        return 0
    fi
    need_root install
    mkdir -p "$CACHE_DIR"
    echo "check-hosts: installing $(echo "$need" | tr '\n' ' ')(log: $log)"
    {
        DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "${APT_WAIT[@]}" "${HOSTS_DEPS[@]}" "${arch_deps[@]}"
    } >"$log" 2>&1 || { tail -20 "$log"; exit 1; }
}

# libfdt-dev:arm64 at the version of the installed libfdt1:arm64, cached
# with the other .debs, unpacked under build/.
unpack_fdt_dev() {
    local ver deb f stamp=$FDT_ASIDE/.deb
    ver=$(dpkg-query -W -f='${Version}' "$HOSTS_FDT_LIB:$HOSTS_DPKG_ARCH")
    deb=""
    for f in "$DEB_DIR/${HOSTS_FDT_DEV}_"*"${ver#*:}_$HOSTS_DPKG_ARCH.deb"; do
        [ -f "$f" ] && deb=$f
    done
    if [ -n "$deb" ]; then
        echo "check-hosts: $(basename "$deb") already downloaded, skipping"
    else
        echo "check-hosts: downloading $HOSTS_FDT_DEV:$HOSTS_DPKG_ARCH $ver"
        mkdir -p "$DEB_DIR"
        # apt checks it against the archive's signed index.
        (cd "$DEB_DIR" && apt-get download -q -o APT::Sandbox::User=root \
            "$HOSTS_FDT_DEV:$HOSTS_DPKG_ARCH=$ver" >/dev/null)
        deb=$(ls "$DEB_DIR/${HOSTS_FDT_DEV}_"*"${ver#*:}_$HOSTS_DPKG_ARCH.deb")
    fi
    if [ "$(cat "$stamp" 2>/dev/null)" = "$(basename "$deb")" ]; then
        echo "check-hosts: $HOSTS_FDT_DEV already unpacked in $FDT_ASIDE, skipping"
        return 0
    fi
    rm -rf "$FDT_ASIDE"
    mkdir -p "$FDT_ASIDE"
    dpkg-deb -x "$deb" "$FDT_ASIDE"
    # Its libfdt.so points at libfdt.so.1, which lives in the system's
    # multiarch directory and not here: without this link the linker
    # would take libfdt.a instead.
    ln -sfn "$HOSTS_LIBDIR/$(readlink "$FDT_ASIDE$HOSTS_LIBDIR/libfdt.so")" \
        "$FDT_ASIDE$HOSTS_LIBDIR/libfdt.so"
    basename "$deb" > "$stamp"
    echo "check-hosts: unpacked $(basename "$deb") in $FDT_ASIDE"
}

# build/qemu-hosts: a worktree of build/qemu at its HEAD (committed work
# only). Kept between runs, with its build directory, so that a second
# run rebuilds only what changed.
refresh_worktree() {
    local head common
    # Only on a fresh machine: otherwise build/qemu is left as it is.
    [ -d "$QEMU_TREE/.git" ] || "$TOP/scripts/tree.sh"
    head=$(git -C "$QEMU_TREE" rev-parse HEAD)
    echo "check-hosts: build/qemu HEAD is $(git -C "$QEMU_TREE" log -1 --format='%h %s' "$head")"
    common=$(git -C "$HOSTS_TREE" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
    if [ -n "$common" ] && [ "$common" -ef "$QEMU_TREE/.git" ]; then
        if [ "$(git -C "$HOSTS_TREE" rev-parse HEAD)" = "$head" ]; then
            echo "check-hosts: worktree $HOSTS_TREE already at that commit, skipping"
        else
            echo "check-hosts: moving worktree $HOSTS_TREE to that commit"
            git -C "$HOSTS_TREE" reset -q --hard "$head"
        fi
    else
        # Missing, or left from a build/qemu that make tree has replaced.
        echo "check-hosts: creating worktree $HOSTS_TREE"
        rm -rf "$HOSTS_TREE"
        git -C "$QEMU_TREE" worktree prune
        git -C "$QEMU_TREE" worktree add -q --detach "$HOSTS_TREE" "$head"
    fi
    # Sources that QEMU's .gitignore keeps out of git (subprojects unpacked
    # from the tarball) in trees made before tree.sh committed them: meson
    # would try to fetch them otherwise. -n: never overwrite tracked files.
    cp -a -n "$QEMU_TREE/subprojects/." "$HOSTS_TREE/subprojects/"
}

check_configure() {
    local want have stamp=$HOSTS_BUILD/.configure-flags start=$SECONDS kvm
    want="${CONFIGURE_FLAGS[*]}"
    have=$(cat "$stamp" 2>/dev/null || true)
    if [ -f "$HOSTS_BUILD/build.ninja" ] && [ -f "$CONFIGURE_LOG" ] && [ "$want" = "$have" ]; then
        echo "check-hosts: already configured, skipping configure"
    else
        echo "check-hosts: configuring (log: $CONFIGURE_LOG)"
        rm -rf "$HOSTS_BUILD"
        mkdir -p "$HOSTS_BUILD"
        if ! (cd "$HOSTS_BUILD" && nice -n 10 ../configure "${CONFIGURE_FLAGS[@]}") \
                >"$CONFIGURE_LOG" 2>&1; then
            tail -30 "$CONFIGURE_LOG"
            result fail "configure for an aarch64 host, $((SECONDS - start)) s (log: $CONFIGURE_LOG)"
            return 1
        fi
        echo "$want" > "$stamp"
    fi
    kvm=$(grep -E '^ *KVM support *:' "$CONFIGURE_LOG" | sed 's/^ *//;s/ \+/ /g' || true)
    if [ "$kvm" = "KVM support : NO" ]; then
        result pass "configure for an aarch64 host: ${kvm/ :/:}, $((SECONDS - start)) s"
    else
        result fail "configure for an aarch64 host: expected 'KVM support: NO', got '${kvm:-no KVM line}' (log: $CONFIGURE_LOG)"
    fi
}

check_build() {
    local start=$SECONDS steps
    echo "check-hosts: building qemu-system-x86_64 at nice 10 (log: $BUILD_LOG)"
    if ! nice -n 10 ninja -C "$HOSTS_BUILD" qemu-system-x86_64 >"$BUILD_LOG" 2>&1; then
        grep -E 'error|Error' "$BUILD_LOG" | head -30
        tail -20 "$BUILD_LOG"
        result fail "qemu-system-x86_64 links for an aarch64 host, $((SECONDS - start)) s (log: $BUILD_LOG)"
        return 1
    fi
    # ninja always reruns a few generators that change nothing: count
    # what it compiled or linked.
    steps=$(grep -cE '^\[[0-9]+/[0-9]+\] (Compiling|Linking)' "$BUILD_LOG" || true)
    if [ "$steps" = 0 ]; then
        steps="up to date, nothing rebuilt"
    else
        steps="compiled/linked $steps file(s)"
    fi
    result pass "qemu-system-x86_64 links for an aarch64 host: $steps, $((SECONDS - start)) s"
}

check_elf() {
    local desc
    desc=$(file -b "$HOSTS_BIN")
    case "$desc" in
        "ELF 64-bit LSB "*"ARM aarch64"*) result pass "the binary is an aarch64 ELF: ${desc%%, BuildID*}" ;;
        *) result fail "the binary is not an aarch64 ELF: $desc" ;;
    esac
}

# run_qemu LOG ARGS: the aarch64 binary under qemu-user, with / as the
# root for its loader and the arm64 libraries (multiarch).
run_qemu() {
    local log=$LOG_DIR/hosts-aarch64-$1.log
    shift
    timeout 300 qemu-aarch64-static -L / "$HOSTS_BIN" "$@" >"$log" 2>&1
}

check_version() {
    local start=$SECONDS log=$LOG_DIR/hosts-aarch64-version.log
    if run_qemu version -version && grep -q '^QEMU emulator version' "$log"; then
        result pass "runs under qemu-aarch64-static: $(head -1 "$log"), $((SECONDS - start)) s"
    else
        result fail "does not run under qemu-aarch64-static (log: $log)"
        head -5 "$log"
    fi
}

check_object_help() {
    local start=$SECONDS log=$LOG_DIR/hosts-aarch64-object-help.log sev
    if ! run_qemu object-help -object help; then
        result fail "-object help exited with an error (log: $log)"
        head -5 "$log"
    elif awk '$1 == "sev-emulated" { es = 1 } $1 == "sev-snp-emulated" { snp = 1 }
              END { exit !(es && snp) }' "$log"; then
        result pass "-object help lists sev-emulated and sev-snp-emulated, $((SECONDS - start)) s"
    else
        sev=$(awk '$1 ~ /^sev/ { printf " %s", $1 }' "$log")
        result fail "-object help does not list sev-emulated and sev-snp-emulated (SEV types listed:${sev:- none}; log: $log)"
        # Say why when it is the known reason.
        if ! grep -q '^#define CONFIG_SEV ' "$HOSTS_BUILD/x86_64-softmmu-config-devices.h"; then
            echo "   CONFIG_SEV is not set in this build (x86_64-softmmu-config-devices.h): sev-emulated"
            echo "   is still built only with SEV, which depends on KVM, and there is no KVM here"
        fi
    fi
}

check_accel_help() {
    local start=$SECONDS log=$LOG_DIR/hosts-aarch64-accel-help.log
    if run_qemu accel-help -accel help && grep -qx tcg "$log"; then
        result pass "-accel help lists tcg, $((SECONDS - start)) s"
    else
        result fail "-accel help does not list tcg (log: $log)"
        head -5 "$log"
    fi
}

# The launch digest of sev-snp-emulated, computed on this host: the
# reference configuration of tests/data/snp-digest for EPYC-Rome, 1 vCPU
check_snp_digest() {
    local start=$SECONDS log=$LOG_DIR/hosts-aarch64-snp-digest.log
    local dir=$BUILD_DIR/hosts-aarch64/snp-digest want got pid
    local get='qom-get {"path": "/objects/sev0", "property": "launch-digest"}'
    want=$(awk '$1 == "EPYC-Rome" && $2 == 1 && $3 == "-" { print $4 }' \
               "$TOP/tests/data/snp-digest/digests.txt")
    "$TOP/scripts/assets.sh" >/dev/null
    rm -rf "$dir"
    mkdir -p "$dir"
    timeout 600 qemu-aarch64-static -L / "$HOSTS_BIN" -accel tcg \
        -M q35,confidential-guest-support=sev0 -cpu EPYC-Rome -smp 1 -m 512 \
        -nodefaults -display none -bios "$ASSET_DIR/OVMF.amdsev.fd" -S \
        -no-shutdown -object sev-snp-emulated,id=sev0,reduced-phys-bits=1 \
        -qmp "unix:$dir/qmp.sock,server=on,wait=off" </dev/null >"$log" 2>&1 &
    pid=$!
    # QEMU under qemu-user takes seconds to start: wait for its socket
    for _ in $(seq 600); do
        [ -S "$dir/qmp.sock" ] || ! kill -0 "$pid" 2>/dev/null && break
        sleep 0.1
    done
    if [ -S "$dir/qmp.sock" ] &&
       got=$(python3 "$TOP/scripts/qmp.py" "$dir/qmp.sock" cont "$get" quit 2>>"$log" |
             sed -n 2p | python3 -c 'import base64, json, sys
print(base64.b64decode(json.loads(sys.stdin.read())).hex())') &&
       [ "$got" = "$want" ]; then
        result pass "an SEV-SNP launch has sev-snp-measure's digest ${want:0:16}..., $((SECONDS - start)) s"
    else
        result fail "an SEV-SNP launch: digest ${got:-none}, sev-snp-measure's $want (log: $log)"
        kill "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

main() {
    local start=$SECONDS
    mkdir -p "$LOG_DIR"
    # Hash paths relative to the worktree, so that a new worktree hits
    # the cache entries of the last one.
    export CCACHE_BASEDIR=$HOSTS_TREE CCACHE_NOHASHDIR=true
    echo "== setup"
    timed "packages" install_packages
    timed "libfdt-dev" unpack_fdt_dev
    timed "worktree" refresh_worktree
    echo "== cross build for aarch64"
    if check_configure && check_build; then
        echo "== the aarch64 binary under qemu-aarch64-static"
        check_elf
        check_version
        check_object_help
        check_accel_help
        check_snp_digest
    else
        echo "check-hosts: no binary, the checks that run it are left out"
    fi
    echo "check-hosts: $((SECONDS - start)) s"
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
}

main "$@"
