#!/usr/bin/env bash
# go-sev-guest's `check` tool, the SEV-SNP report verifier that the e2e
# tests use as code that shares nothing with QEMU: built from Debian's
# packages of go-sev-guest and its Go libraries, with Debian's Go, all
# from VERIFIER_SUITE (bookworm has no go-sev-guest), downloaded and
# unpacked under the build directory, never installed. Prints the path
# of the tool; builds it only once.
#
# Debian's -dev package leaves out the files that go-sev-guest embeds:
# AMD's ARK and ASK certificates (verify/trust), which it trusts when
# not told otherwise, and its test keys (testing/data), which the tool
# links in for its test modes. The ARK/ASK files stay empty here, so
# that nothing is trusted by default: the tests give the roots with
# -product_key_path. The test keys are made afresh: the tool parses
# them when it starts, and uses them for nothing the tests run.
set -euo pipefail
source "$(dirname "$0")/config.sh"
source "$TOP/scripts/apt-private.sh"

# package version sha256-of-the-.deb
VERIFIER_DEBS=(
    "golang-1.24-go 1.24.4-1 93c6c109bbc0f1d55523282a16739d10634499c04f6d066a6aa58b67b687a44f"
    "golang-1.24-src 1.24.4-1 c396bc2c2e94606e0a060cff52b9bbbf1d7cefacb040eb3c40a55604111e66e1"
    "golang-github-google-go-sev-guest-dev 0.13.0-1 9d72eadc63ce9ea5fb7e70f6219e61f9906a6925fd4666c2dae32c08abfb3332"
    "golang-github-google-go-cmp-dev 0.6.0-1 54da011292cc02a629d663c0cdb5dc5973efc2cde9677938bbad30e6800ee14c"
    "golang-github-google-logger-dev 1.1.1-2 cb171b4236835aefe3681ed9d3df7152feb37424e6d928cbc402d267a7a32236"
    "golang-github-google-uuid-dev 1.6.0-1 dac5a782fcd3baee1e74e6129977d5e6accffa1dcb83ded6de13cb4167b6171d"
    "golang-go.uber-multierr-dev 1.6.0-1 5af28d314c3594ab5dccd15aaf924dc06823b83d8bb60e47e3f0bb1724e7a8b2"
    "golang-go.uber-atomic-dev 1.11.0-1 fa84cb55fad518753928280f9798014f6fb3fb0e6f095292874266be81ece007"
    "golang-golang-x-crypto-dev 1:0.25.0-1 c6ecd307e88b1d3af7ecfaee12b258c24aff3b16acbbc87acbe02079aabf5867"
    "golang-golang-x-sys-dev 0.22.0-1 043942ee171abf52df6d43d1f56bc5aee4d9823e967fe38eee6236507b2e33fc"
    "golang-google-protobuf-dev 1.36.5-1 28914f483ac5e3a95c62fff519b82d8f6c4d9f40f7a9ca330a0841bdc79e867d"
)
DIR=$BUILD_DIR/go-sev-guest
DEB_DIR=$CACHE_DIR/debs
TOOL=$DIR/check

fetch() {   # package version sha256
    local pkg=$1 ver=$2 sum=$3 deb
    deb=$(ls "$DEB_DIR/${pkg}_"*"${ver#*:}"_*.deb 2>/dev/null | head -1 || true)
    if [ -z "$deb" ]; then
        apt_private_setup >&2
        echo "go-sev-guest: downloading $pkg $ver" >&2
        (cd "$DEB_DIR" && apt_private apt-get download -q "$pkg=$ver" >/dev/null)
        deb=$(ls "$DEB_DIR/${pkg}_"*"${ver#*:}"_*.deb | head -1)
    fi
    if ! echo "$sum  $deb" | sha256sum -c --status; then
        echo "go-sev-guest: sha256 mismatch for $deb; removing it" >&2
        rm -f "$deb"
        exit 1
    fi
    echo "$deb"
}

main() {
    local stamp entry root src key
    stamp=$(printf '%s\n' "${VERIFIER_DEBS[@]}" | cat - "$0" | sha256sum | cut -d' ' -f1)
    if [ -x "$TOOL" ] && [ "$(cat "$DIR/.stamp" 2>/dev/null)" = "$stamp" ]; then
        echo "$TOOL"
        return 0
    fi
    mkdir -p "$DEB_DIR"
    rm -rf "$DIR"
    root=$DIR/root
    mkdir -p "$root"
    for entry in "${VERIFIER_DEBS[@]}"; do
        dpkg-deb -x "$(fetch $entry)" "$root"
    done
    src=$root/usr/share/gocode/src/github.com/google/go-sev-guest
    for f in ask_ark_milan ask_ark_milan_vlek ask_ark_genoa ask_ark_genoa_vlek \
             ask_ark_turin_vcek ask_ark_turin_vlek; do
        : > "$src/verify/trust/$f.pem"
    done
    mkdir -p "$src/testing/data/keys"
    for key in vcek vlek; do
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 \
            -out "$src/testing/data/keys/${key}_private_key.pem" 2>/dev/null
    done
    for key in ark ask asvk; do
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
            -out "$src/testing/data/keys/${key}_private_key.pem" 2>/dev/null
    done
    # GOPATH mode: the packages' sources as Debian installs them
    GOROOT=$root/usr/lib/go-1.24 GOPATH=$root/usr/share/gocode GO111MODULE=off \
        GOCACHE=$DIR/cache CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS= \
        "$root/usr/lib/go-1.24/bin/go" build -o "$TOOL" \
        github.com/google/go-sev-guest/tools/check >&2
    echo "$stamp" > "$DIR/.stamp"
    echo "$TOOL"
}

main "$@"
