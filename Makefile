# sev-emulated: a QEMU patch series (patches/) that runs x86 guests as
# AMD SEV guests under TCG, plus the harness that builds and tests it.
#
#   make demo    boot a Debian guest as an SEV guest, show what it sees
#   make check   build from patches/ and run every test
#
# Development:
#   make tree    build/qemu = QEMU 10.2.2 (commit/tag "upstream") + the topic
#                series of patches/ (folders, in the order of patches/series)
#   make build   configure and build QEMU in build/qemu/build
#   make libvirt-tree   build/libvirt = libvirt 11.3.0 + patches/libvirt/
#   make libvirt-build  configure and build libvirt in build/libvirt/build
#   make export  build/qemu's commits, series by series -> patches/NAME/,
#                and build/libvirt's -> patches/libvirt/
#   make bench   time to /init and time per guest instruction:
#                plain, SEV and SEV-ES guests
#   make check-asan    the series' qtest and a boot under ASan and UBSan
#   make series-check  every patch: checkpatch, builds, passes its tests;
#                      the series applies to pristine upstream sources
#   make check-hosts   cross-build for an aarch64 host; run it under
#                      qemu-user: it links and lists sev-emulated
#   make stress-es     boot an SEV-ES guest's firmware 30 times under
#                      load: Debian 12's OVMF hangs only in its own
#                      nested #VC, OVMF 2026.08 never

SHELL := /bin/bash
.PHONY: all demo check check-asan series-check check-hosts stress-es deps tree build \
	libvirt-tree libvirt-build assets export bench clean

all: check

deps:
	@scripts/deps.sh

tree: deps
	@scripts/tree.sh

build: tree
	@scripts/build.sh

libvirt-tree: deps
	@scripts/tree.sh libvirt

libvirt-build: libvirt-tree
	@scripts/build-libvirt.sh

assets: deps
	@scripts/assets.sh

check: build libvirt-build assets
	@scripts/check.sh

demo: build assets
	@scripts/demo.sh

bench: build assets
	@scripts/bench.sh

check-asan: tree assets
	@scripts/check-asan.sh

series-check: tree libvirt-tree
	@scripts/series-check.sh

stress-es: build assets
	@tests/stress-es.sh

# Builds build/qemu's HEAD as it is (someone may be editing it): not
# through make tree, which would refuse or reset it. Installs its cross
# packages itself: make check does not need them.
check-hosts: deps
	@scripts/check-hosts.sh

export:
	@scripts/export.sh qemu
	@if [ -d build/libvirt/.git ]; then scripts/export.sh libvirt; fi

clean:
	rm -rf build
