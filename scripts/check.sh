#!/usr/bin/env bash
# Run every test against the built tree and print "N passed, N failed".
#   1. checkpatch.pl on every patch of the QEMU topic series
#   2. the qtests the series add (SERIES_QTESTS: sev-emulated-test, ...)
#   3. QEMU's generic x86_64 qtests that touch every type and command,
#      and the unit tests of what the series changes elsewhere (crypto)
#   4. the qtest's guest headers regenerated from their assembly source;
#      scripts/sev-es-vmsa.py against reference SEV-ES VMSAs (sev-snp-
#      measure's, and virt-qemu-sev-validate's template);
#      scripts/snp-digest.py against sev-snp-measure's SNP launch digests;
#      scripts/sev-owner.py's known answers; the Sphinx manual builds
#      without warnings
#   5. end to end with Debian guests (tests/e2e-*.sh): boots with and
#      without sev-emulated, SEV-ES boots with 1 and 4 vCPUs, the SEV
#      and SEV-ES launch flows with the guest owner's session and
#      virt-qemu-sev-validate, and the emulated platform's certificates,
#      sessions and reports against the owner's tool
#   6. the series built without KVM (build/qemu/build-nokvm): the qtest
#      and an SEV boot on that binary
#   7. the libvirt series (patches/libvirt/, built in build/libvirt):
#      libvirt's syntax-check and its unit tests of what the series
#      changes; its end-to-end test, and the one with Debian's own
#      libvirt, are among the e2e tests of 5
# Logs: build/logs/. Exits non-zero if anything failed.
set -euo pipefail
source "$(dirname "$0")/config.sh"

# libvirt's unit tests of the domain XML, the capabilities and the
# command line (the series adds test data to each)
LIBVIRT_TESTS=(genericxml2xmltest virschematest qemucapabilitiestest
    qemucaps2xmltest domaincapstest qemuxmlconftest qemusecuritytest)

passed=0
failed=0
failures=()

record() {      # record NAME pass|fail
    if [ "$2" = pass ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$1")
    fi
}

check_patches() {
    local name p out
    select_project qemu
    for name in $(series_names); do
        for p in $(series_files "$name"); do
            p=${p#"$TOP/patches/"}
            out=$(cd "$QEMU_TREE" && perl scripts/checkpatch.pl -q "$TOP/patches/$p" 2>&1 || true)
            if [ -z "$out" ]; then
                echo "PASS checkpatch $p"
                record "checkpatch $p" pass
            else
                echo "FAIL checkpatch $p"
                echo "$out"
                record "checkpatch $p" fail
            fi
        done
    done
}

# run_qtest NAME [DIR [BUILD]]: run one test binary of tests/DIR (qtest
# by default) of the build directory BUILD ($QEMU_BUILD by default),
# count its TAP results.
run_qtest() {
    local name=$1 dir=${2:-qtest} build=${3:-$QEMU_BUILD} rc=0 ok notok
    local log=$LOG_DIR/${2:-qtest}-$1$([ -n "${3:-}" ] && echo "-$(basename "$3")").log
    local start=$SECONDS
    (cd "$build" && QTEST_QEMU_BINARY=./qemu-system-x86_64 \
        timeout 1200 "./tests/$dir/$name") >"$log" 2>&1 || rc=$?
    ok=$(grep -c '^ok ' "$log" || true)
    notok=$(grep -c '^not ok ' "$log" || true)
    passed=$((passed + ok))
    if [ "$notok" -gt 0 ]; then
        failed=$((failed + notok))
        failures+=("$name: $notok case(s)")
        grep '^not ok ' "$log"
    fi
    if [ "$rc" != 0 ] && [ "$notok" = 0 ]; then
        # Crashed or timed out outside a test case.
        record "$name (exit status $rc)" fail
        tail -20 "$log"
    fi
    echo "$( [ "$rc" = 0 ] && echo PASS || echo FAIL ) $dir $name: $ok ok, $notok not ok, $((SECONDS - start)) s (log: $log)"
}

# The manual (with the QAPI reference): QEMU's build passes -W to Sphinx,
# so any warning fails it.
check_docs() {
    local log=$LOG_DIR/docs.log start=$SECONDS
    if ninja -C "$QEMU_BUILD" sphinxdocs >"$log" 2>&1 && ! grep -q WARNING "$log"; then
        echo "PASS docs: Sphinx HTML manual, no warnings, $((SECONDS - start)) s"
        record docs pass
    else
        echo "FAIL docs: Sphinx HTML manual (log: $log)"
        grep -E 'WARNING|ERROR|error' "$log" | head -20
        record docs fail
    fi
}

# The same series without KVM (--disable-kvm), as on hosts where KVM
# cannot run x86 guests: it must build, have sev-emulated, pass the
# series' qtest and boot an SEV guest.
check_without_kvm() {
    local build=$QEMU_TREE/build-nokvm start=$SECONDS accels
    if ! QEMU_VARIANT=nokvm QEMU_BUILD=$build "$TOP/scripts/build.sh"; then
        echo "FAIL build without KVM"
        record "build without KVM" fail
        return
    fi
    accels=$("$build/qemu-system-x86_64" -accel help | tail -n +2 | tr '\n' ' ')
    if grep -q '^#define CONFIG_KVM' "$build/x86_64-softmmu-config-target.h" ||
       [[ "$accels" == *kvm* ]]; then
        echo "FAIL build without KVM: it has KVM (accelerators: $accels)"
        record "build without KVM" fail
        return
    fi
    echo "PASS build without KVM: accelerators ${accels}($((SECONDS - start)) s)"
    record "build without KVM" pass
    run_qtest sev-emulated-test qtest "$build"
    record_lines < <(QEMU_BUILD=$build E2E_BOOT_CASES="sev snp-1" E2E_NAME_SUFFIX=-without-kvm \
                         "$TOP/tests/e2e-boot.sh" 2>&1 ||
                     echo "FAIL e2e-boot.sh without KVM: exited with an error")
}

# scripts/sev-es-vmsa.py, which builds an SEV-ES guest's initial VMSAs for
# the guest owner without QEMU's code, for both VM types that
# sev-emulated emulates: its KVM_SEV_INIT2 VMSAs (legacy-vm-type=off)
# against the reference VMSAs of tests/data/seves-vmsa (made with
# VirTEE's sev-snp-measure) and their launch digest with the firmware;
# its KVM_SEV_ES_INIT VMSAs (--legacy; legacy-vm-type=on/auto) against
# those of virt-qemu-sev-validate's built-in template, whose sha256 the
# tool logs with --debug (it then fails on the made-up measurement).
check_sev_es_vmsa() {
    local ref=$TOP/tests/data/seves-vmsa/EPYC-Rome-2cpu out=$BUILD_DIR/sev-es-vmsa
    local digest=a5b2edb8684a86e529785e234bc19539224eb0d76d055bc0493622426b6c5cd5 got
    local fw=$ASSET_DIR/OVMF.amdsev.fd rome=(--family 23 --model 49 --stepping 0)
    local ours tool
    rm -rf "$out"
    mkdir -p "$out/init2" "$out/legacy"
    if ! python3 "$TOP/scripts/sev-es-vmsa.py" --firmware "$fw" "${rome[@]}" \
             --out-dir "$out/init2" >"$out/log" 2>&1 ||
       ! python3 "$TOP/scripts/sev-es-vmsa.py" --legacy --firmware "$fw" "${rome[@]}" \
             --out-dir "$out/legacy" >>"$out/log" 2>&1; then
        echo "FAIL sev-es-vmsa.py: $(cat "$out/log")"
        record "sev-es-vmsa.py" fail
        return
    fi
    got=$(cat "$fw" "$out/init2/vmsa0.bin" "$out/init2/vmsa1.bin" | sha256sum | cut -d' ' -f1)
    if cmp -s "$out/init2/vmsa0.bin" "$ref/vmsa0.bin" &&
       cmp -s "$out/init2/vmsa1.bin" "$ref/vmsa1.bin" && [ "$got" = "$digest" ]; then
        echo "PASS sev-es-vmsa.py: EPYC-Rome KVM_SEV_INIT2 VMSAs equal the reference, launch digest $got"
        record "sev-es-vmsa.py" pass
    else
        echo "FAIL sev-es-vmsa.py: KVM_SEV_INIT2 VMSAs differ from $ref (launch digest $got)"
        cmp -l "$out/init2/vmsa0.bin" "$ref/vmsa0.bin" | head -5
        cmp -l "$out/init2/vmsa1.bin" "$ref/vmsa1.bin" | head -5
        record "sev-es-vmsa.py" fail
    fi
    head -c 16 /dev/zero > "$out/key"
    ours=$(cd "$out/legacy" && sha256sum vmsa0.bin vmsa1.bin | cut -d' ' -f1 | tr '\n' ' ')
    tool=$(/usr/bin/python3 /usr/bin/virt-qemu-sev-validate --debug \
               --measurement "$(head -c 48 /dev/zero | base64 -w0)" \
               --api-major 1 --api-minor 40 --build-id 40 --policy 5 --firmware "$fw" \
               --num-cpus 2 --cpu-family 23 --cpu-model 49 --cpu-stepping 0 \
               --tik "$out/key" --tek "$out/key" 2>&1 |
           sed -n 's/^\[DEBUG\]: VMSA CPU [01](sha256): //p' | tr '\n' ' ' || true)
    if [ -n "$tool" ] && [ "$ours" = "$tool" ]; then
        echo "PASS sev-es-vmsa.py --legacy: EPYC-Rome KVM_SEV_ES_INIT VMSAs equal virt-qemu-sev-validate's"
        record "sev-es-vmsa.py --legacy" pass
    else
        echo "FAIL sev-es-vmsa.py --legacy: VMSA sha256 $ours, virt-qemu-sev-validate's: ${tool:-none logged}"
        record "sev-es-vmsa.py --legacy" fail
    fi
}

# scripts/snp-digest.py, the guest owner's SEV-SNP launch digest written
# from the SNP firmware ABI, against the digests VirTEE's sev-snp-measure
# computed for the same firmware, CPU models, vCPU counts and kernel
# (tests/data/snp-digest)
check_snp_digest() {
    local out
    if out=$(python3 "$TOP/scripts/snp-digest.py" --check "$TOP/tests/data/snp-digest/digests.txt" \
                 --firmware "$ASSET_DIR/OVMF.amdsev.fd" --kernel "$ASSET_DIR/vmlinuz" 2>&1); then
        echo "PASS snp-digest.py: sev-snp-measure's SNP launch digests: $out"
        record "snp-digest.py" pass
    else
        echo "FAIL snp-digest.py: $out"
        record "snp-digest.py" fail
    fi
}

# The qtest's guests are assembly sources (tests/qtest/sev-emulated/*.S)
# whose bytes the test includes from generated headers: regenerate the
# headers with that directory's Makefile (gcc, binutils, xxd) in a copy
# of it, and they must equal the ones in the tree.
check_qtest_guests() {
    local src=$QEMU_TREE/tests/qtest/sev-emulated tmp h log=$LOG_DIR/qtest-guests.log
    local -a headers=() differ=()
    if ! compgen -G "$src/*.S" >/dev/null; then
        echo "FAIL qtest guests: no assembly sources in $src"
        record "qtest guests" fail
        return
    fi
    tmp=$(mktemp -d)
    cp -r "$src/." "$tmp"
    for h in "$src"/*.S; do
        h=$(basename "${h%.S}").h
        headers+=("$h")
        rm -f "$tmp/$h"
    done
    if ! make -C "$tmp" "${headers[@]}" >"$log" 2>&1; then
        echo "FAIL qtest guests: make in a copy of $src failed (log: $log)"
        tail -5 "$log"
        record "qtest guests" fail
    else
        for h in "${headers[@]}"; do
            diff -u "$src/$h" "$tmp/$h" >>"$log" || differ+=("$h")
        done
        if [ ${#differ[@]} -eq 0 ]; then
            echo "PASS qtest guests: ${headers[*]} regenerated from their .S, identical"
            record "qtest guests" pass
        else
            echo "FAIL qtest guests: regenerated from their .S, ${differ[*]} not identical (diff: $log)"
            record "qtest guests" fail
        fi
    fi
    rm -rf "$tmp"
}

# libvirt's own checks, through meson: one result per test (and one for
# the whole syntax-check suite)
check_libvirt() {
    local log=$LOG_DIR/libvirt-tests.log start=$SECONDS line t result
    (cd "$LIBVIRT_TREE" && meson test -C build --no-rebuild "${LIBVIRT_TESTS[@]}") \
        >"$log" 2>&1 || true
    for t in "${LIBVIRT_TESTS[@]}"; do
        line=$(grep -E "^ *[0-9]+/[0-9]+ libvirt:[a-z-]+ / $t " "$log" || true)
        result=$(awk '{print $5}' <<<"$line")
        if [ "$result" = OK ]; then
            echo "PASS libvirt $t"
            record "libvirt $t" pass
        else
            echo "FAIL libvirt $t: ${result:-did not run} (log: $log)"
            record "libvirt $t" fail
        fi
    done
    log=$LOG_DIR/libvirt-syntax-check.log
    if (cd "$LIBVIRT_TREE" && meson test -C build --no-rebuild --suite syntax-check) >"$log" 2>&1; then
        echo "PASS libvirt syntax-check: $(grep -E '^Ok: ' "$log" | awk '{print $2}') checks"
        record "libvirt syntax-check" pass
    else
        echo "FAIL libvirt syntax-check (log: $log)"
        grep -E ' FAIL ' "$log" | head
        record "libvirt syntax-check" fail
    fi
    echo "libvirt checks: $((SECONDS - start)) s"
}

# record_lines: echo stdin, recording its "PASS name" and "FAIL name" lines
record_lines() {
    local line
    while IFS= read -r line; do
        echo "$line"
        case "$line" in
            "PASS "*) record "${line#PASS }" pass ;;
            "FAIL "*) record "${line#FAIL }" fail ;;
        esac
    done
}

run_e2e() {
    record_lines < <(for t in "$TOP"/tests/e2e-*.sh; do
                         "$t" 2>&1 || echo "FAIL $(basename "$t"): exited with an error"
                     done)
}

# scripts/sev-owner.py, the guest owner's side that the e2e tests use
# to check the emulated platform: its known-answer self-test (the SEV
# API's key derivation and session, and LAUNCH_MEASURE, from VirTEE's
# sev crate and an AMD sev-tool session)
check_owner_tool() {
    local out
    if out=$(/usr/bin/python3 "$TOP/scripts/sev-owner.py" selftest 2>&1); then
        echo "PASS sev-owner.py selftest: $(tail -n 1 <<<"$out")"
        record "sev-owner.py selftest" pass
    else
        echo "FAIL sev-owner.py selftest"
        echo "$out"
        record "sev-owner.py selftest" fail
    fi
}

main() {
    local start=$SECONDS t
    mkdir -p "$LOG_DIR"
    echo "== series hygiene (checkpatch.pl)"
    check_patches
    echo "== the series' qtests"
    for t in "${SERIES_QTESTS[@]}"; do
        run_qtest "$t"
    done
    echo "== generic x86_64 qtests"
    for t in "${GENERIC_QTESTS[@]}"; do
        run_qtest "$t"
    done
    echo "== unit tests"
    for t in "${UNIT_TESTS[@]}"; do
        run_qtest "$t" unit
    done
    echo "== the qtest's guests: headers generated from their assembly source"
    check_qtest_guests
    echo "== harness scripts: the SEV-ES VMSA builder, the guest owner's tool"
    check_sev_es_vmsa
    check_snp_digest
    check_owner_tool
    echo "== docs"
    check_docs
    echo "== the libvirt series: syntax-check and unit tests"
    check_libvirt
    echo "== end to end (Debian guests under TCG)"
    run_e2e
    echo "== the series built without KVM"
    check_without_kvm
    echo "check: $((SECONDS - start)) s"
    if [ "$failed" -gt 0 ]; then
        printf 'failed: %s\n' "${failures[@]}"
    fi
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
}

main "$@"
