#!/usr/bin/env bash
# Install the build and test dependencies (Debian 12), skipping what is there.
set -euo pipefail
source "$(dirname "$0")/config.sh"
source "$TOP/scripts/apt-private.sh"

meson_new_enough() {
    command -v meson >/dev/null && dpkg --compare-versions "$(meson --version)" ge 1.5
}

main() {
    local need
    need=$(missing "${BUILD_DEPS[@]}" "${TEST_DEPS[@]}" "${LIBVIRT_BUILD_DEPS[@]}" \
               "${LIBVIRT_TEST_DEPS[@]}")
    if ! meson_new_enough || [ -n "$(missing "${BACKPORTS_DEPS[@]}")" ]; then
        need="$need backports"
    fi
    if [ -z "${need// /}" ]; then
        echo "deps: all installed, skipping"
        return 0
    fi
    [ "$(id -u)" = 0 ] || { echo "deps: need root to install:$need" >&2; exit 1; }
    mkdir -p "$CACHE_DIR"
    export DEBIAN_FRONTEND=noninteractive
    echo "deps: installing$(echo " $need" | tr '\n' ' ')(log: $CACHE_DIR/deps.log)"
    # Bookworm packages through the system's own sources (which carry its
    # updates and security suites), backports through the private list.
    {
        apt-get update -q &&
        apt-get install -y -q --no-install-recommends \
            "${BUILD_DEPS[@]}" "${TEST_DEPS[@]}" \
            "${LIBVIRT_BUILD_DEPS[@]}" "${LIBVIRT_TEST_DEPS[@]}" &&
        apt_private_setup &&
        apt_private apt-get install -y -q --no-install-recommends \
            -t bookworm-backports "${BACKPORTS_DEPS[@]}"
    } >"$CACHE_DIR/deps.log" 2>&1 || { tail -20 "$CACHE_DIR/deps.log"; exit 1; }
}

main "$@"
