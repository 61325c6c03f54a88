#!/usr/bin/env bash
# Guest assets for the end-to-end tests and the demo: Debian's OVMF and
# kernel, and a busybox initramfs whose /init reports what the tests
# check and powers off. The .debs are cached and their sha256 is checked
# on every use; build/assets is rebuilt only when something changed.
set -euo pipefail
source "$(dirname "$0")/config.sh"
source "$TOP/scripts/apt-private.sh"

DEB_DIR=$CACHE_DIR/debs

deb_file() {    # package version -> cached .deb path, or nothing
    local f
    for f in "$DEB_DIR/$1"_*"${2#*:}"_*.deb; do
        [ -f "$f" ] && printf '%s\n' "$f" && return 0
    done
    return 0
}

fetch_deb() {   # package version sha256
    local pkg=$1 ver=$2 sum=$3 deb
    deb=$(deb_file "$pkg" "$ver")
    if [ -z "$deb" ]; then
        apt_private_setup
        echo "assets: downloading $pkg $ver"
        (cd "$DEB_DIR" && apt_private apt-get download -q "$pkg=$ver" >/dev/null)
        deb=$(deb_file "$pkg" "$ver")
    fi
    if ! echo "$sum  $deb" | sha256sum -c --status; then
        echo "assets: sha256 mismatch for $deb; removing it" >&2
        rm -f "$deb"
        exit 1
    fi
}

write_init() {
    cat > "$1" <<'INIT'
#!/bin/busybox sh
# Guest side of the sev-emulated tests: report, then power off.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "sev-emulated-init: reached /init"
line=$(dmesg | grep -o 'Memory Encryption Features active:.*')
echo "sev-emulated-init: kernel: ${line:-no memory encryption}"

# With sev_secret_area=BASE on the command line, print the first entry
# of the EFI secret table that the host injected there (read through
# /dev/mem: Debian's kernel has no efi_secret module).
for arg in $(cat /proc/cmdline); do
    case "$arg" in sev_secret_area=*) base=${arg#sev_secret_area=} ;; esac
done
if [ -n "$base" ]; then
    dd if=/dev/mem of=/secret.bin bs=1024 skip=$((base / 1024)) count=3 2>/dev/null
    guid=$(od -An -tx1 -N16 /secret.bin | tr -d ' \n')
    # GUID 1e74f542-71dd-4d66-963e-ef4287ff173b in EFI byte order
    if [ "$guid" = "42f5741edd71664d963eef4287ff173b" ]; then
        len=$(od -An -tu4 -j36 -N4 /secret.bin | tr -d ' ')
        value=$(dd if=/secret.bin bs=1 skip=40 count=$((len - 20)) 2>/dev/null)
        echo "sev-emulated-init: secret: $value"
    else
        echo "sev-emulated-init: no secret table at $base"
    fi
fi

# With sev_report_data=HEX (64 bytes) on the command line, an SEV-SNP
# guest asks its platform for an attestation report through
# configfs-tsm (Debian's tsm and sev-guest modules), and prints the
# report and the certificate table that came with it, in hex.
for arg in $(cat /proc/cmdline); do
    case "$arg" in sev_report_data=*) rdata=${arg#sev_report_data=} ;; esac
done
case "$line" in *SEV-SNP*)
    if [ -n "$rdata" ]; then
        for m in $(cat /lib/modules/order); do
            insmod /lib/modules/$m.ko || echo "sev-emulated-init: insmod $m failed"
        done
        mount -t configfs configfs /sys/kernel/config
        r=/sys/kernel/config/tsm/report/r0
        mkdir $r
        printf "$(echo "$rdata" | sed 's/../\\x&/g')" > $r/inblob
        echo "sev-emulated-init: report provider: $(cat $r/provider)"
        echo "sev-emulated-init: report: $(od -An -v -tx1 $r/outblob | tr -d ' \n')"
        echo "sev-emulated-init: report certificates: $(od -An -v -tx1 $r/auxblob | tr -d ' \n')"
        echo "sev-emulated-init: report generation: $(cat $r/generation)"
        # The same with VMPCK1, which may ask only for VMPL 1 and above:
        # the firmware refuses VMPL 0 (the driver's EINVAL)
        rmdir $r
        rmmod sev-guest
        insmod /lib/modules/sev-guest.ko vmpck_id=1 ||
            echo "sev-emulated-init: insmod sev-guest vmpck_id=1 failed"
        r=/sys/kernel/config/tsm/report/r1
        mkdir $r
        for vmpl in 0 1; do
            echo $vmpl > $r/privlevel
            printf "$(echo "$rdata" | sed 's/../\\x&/g')" > $r/inblob
            if cat $r/outblob > /report.bin 2> /report.err; then
                echo "sev-emulated-init: report vmpck1 vmpl$vmpl: $(od -An -v -tx1 /report.bin | tr -d ' \n')"
            else
                echo "sev-emulated-init: report vmpck1 vmpl$vmpl refused: $(cat /report.err)"
            fi
        done
        # Derived keys (/dev/sev-guest, VMPCK0): the same fields twice,
        # then other fields, another VMPL; then a message the firmware
        # refuses (a report of version 2), after which the driver
        # disables its VMPCK, and the next request is refused
        rmdir $r
        rmmod sev-guest
        insmod /lib/modules/sev-guest.ko
        for k in "0x8 0" "0x8 0" "0x9 0" "0x8 1"; do
            echo "sev-emulated-init: key $k: $(/bin/snp-guest key $k 2>&1)"
        done
        echo "sev-emulated-init: report version 2: $(/bin/snp-guest report-v2 2>&1)"
        dmesg | grep -o "Disabling VMPCK0.*" | sed 's/^/sev-emulated-init: driver: /'
        echo "sev-emulated-init: key after: $(/bin/snp-guest key 0x8 0 2>&1)"
    fi
    ;;
esac

# With sev_workload=spawn or sev_workload=loop on the command line, a
# workload for make bench, timed by the guest (/proc/uptime): spawn
# runs 1000 processes one after the other (each one's exec and exit
# switch address spaces, which on x86 writes CR3), loop counts to
# 200000 in the shell (user space, CPU-bound)
for arg in $(cat /proc/cmdline); do
    case "$arg" in sev_workload=*) workload=${arg#sev_workload=} ;; esac
done
if [ -n "$workload" ]; then
    start=$(cut -d' ' -f1 /proc/uptime)
    i=0
    case "$workload" in
    spawn) while [ $i -lt 1000 ]; do /bin/true; i=$((i + 1)); done ;;
    loop) while [ $i -lt 200000 ]; do i=$((i + 1)); done ;;
    esac
    end=$(cut -d' ' -f1 /proc/uptime)
    echo "sev-emulated-init: workload $workload: $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }') s"
fi
poweroff -f
INIT
    chmod +x "$1"
}

# write_snp_guest_tool DEST: a static program for the SEV-SNP guest
# driver's ioctls, which busybox cannot make: "key FIELDS VMPL" prints
# a derived key (hex), "report-v2" asks for a report with message
# version 2; failures print the firmware's and the VMM's error
write_snp_guest_tool() {
    cat > "$1.c" <<'TOOL'
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/sev-guest.h>

static int request(unsigned long cmd, __u8 version, void *req, void *resp)
{
    struct snp_guest_request_ioctl io = {
        .msg_version = version,
        .req_data = (__u64)(unsigned long)req,
        .resp_data = (__u64)(unsigned long)resp,
    };
    int fd = open("/dev/sev-guest", O_RDWR), ret;

    if (fd < 0) {
        printf("open: %s\n", strerror(errno));
        return 1;
    }
    ret = ioctl(fd, cmd, &io);
    if (ret < 0) {
        printf("refused: %s, exitinfo2 0x%llx\n", strerror(errno),
               (unsigned long long)io.exitinfo2);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "key")) {
        struct snp_derived_key_req req = {
            .guest_field_select = strtoull(argv[2], NULL, 0),
            .vmpl = strtoul(argv[3], NULL, 0),
        };
        struct snp_derived_key_resp resp;
        int i;

        if (request(SNP_GET_DERIVED_KEY, 1, &req, &resp)) {
            return 1;
        }
        for (i = 0; i < 32; i++) {
            printf("%02x", resp.data[0x20 + i]);
        }
        printf("\n");
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "report-v2")) {
        static struct snp_report_req req;
        static struct snp_report_resp resp;

        if (request(SNP_GET_REPORT, 2, &req, &resp)) {
            return 1;
        }
        printf("given\n");
        return 0;
    }
    fprintf(stderr, "usage: snp-guest key FIELDS VMPL | report-v2\n");
    return 2;
}
TOOL
    gcc -static -O2 -Wall -o "$1" "$1.c"
    rm "$1.c"
}

# take "PACKAGE PATH" DEST: copy a file out of an unpacked package
take() {
    set -- $1 "$2"
    cp "$tmp/unpack/$1/$2" "$3"
}

build_assets() {
    local tmp=$ASSET_DIR.new root
    rm -rf "$tmp"
    mkdir -p "$tmp/unpack" "$tmp/initramfs"
    local entry
    for entry in "${GUEST_DEBS[@]}"; do
        set -- $entry
        mkdir -p "$tmp/unpack/$1"
        dpkg-deb -x "$(deb_file "$1" "$2")" "$tmp/unpack/$1"
    done
    take "$GUEST_OVMF" "$tmp/OVMF.fd"
    take "$GUEST_OVMF_AMDSEV" "$tmp/OVMF.amdsev.fd"
    take "$GUEST_OVMF_2026" "$tmp/OVMF-2026.fd"
    take "$GUEST_KERNEL" "$tmp/vmlinuz"
    root=$tmp/initramfs
    mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev"
    take "busybox-static bin/busybox" "$root/bin/busybox"
    write_init "$root/init"
    write_snp_guest_tool "$root/bin/snp-guest"
    # configfs-tsm and the SEV-SNP guest driver, for the report above,
    # with what they need, in the order to load them: the driver's
    # AES-GCM ("gcm(aes)", which the kernel would load with modprobe)
    mkdir -p "$root/lib/modules"
    local path module
    for path in lib/crypto/gf128mul crypto/ghash-generic crypto/crypto_null crypto/gcm \
                fs/configfs/configfs drivers/virt/coco/tsm drivers/virt/coco/sev-guest/sev-guest; do
        module=${path##*/}
        xz -dc "$tmp/unpack/${GUEST_KERNEL%% *}"/lib/modules/*/kernel/"$path".ko.xz \
            > "$root/lib/modules/$module.ko"
        echo "$module" >> "$root/lib/modules/order"
    done
    (cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -9 -n) \
        > "$tmp/initrd.img"
    rm -rf "$tmp/unpack" "$tmp/initramfs"
    rm -rf "$ASSET_DIR"
    mv "$tmp" "$ASSET_DIR"
}

main() {
    mkdir -p "$DEB_DIR"
    local entry stamp_want
    for entry in "${GUEST_DEBS[@]}"; do
        fetch_deb $entry
    done
    # Rebuild when the pinned packages or this script change.
    stamp_want=$(printf '%s\n' "${GUEST_DEBS[@]}" | cat - "$0" | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$ASSET_DIR/.stamp" 2>/dev/null)" = "$stamp_want" ]; then
        echo "assets: guest assets up to date, skipping"
        return 0
    fi
    echo "assets: building OVMF, kernel and initramfs in $ASSET_DIR"
    build_assets
    echo "$stamp_want" > "$ASSET_DIR/.stamp"
}

main "$@"
