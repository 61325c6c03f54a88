# Private apt configuration: reads the archive URI from the machine's own
# apt sources and adds suites (bookworm-backports, sid, trixie) only in a private
# list under the cache, so the system's sources are never changed.
# Sourced; defines apt_private, and missing, which lists the packages
# among its arguments that are not installed.

missing() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' \
            || printf '%s\n' "$p"
    done
}

archive_uri() {
    local uri=""
    if [ -f /etc/apt/sources.list ]; then
        uri=$(awk '$1 == "deb" && $0 !~ /security/ {
                  for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
              /etc/apt/sources.list)
    fi
    if [ -z "$uri" ]; then
        local f
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] || continue
            # deb822: first URIs: line of a stanza whose suites are bookworm's.
            uri=$(awk 'BEGIN { RS = ""; FS = "\n" }
                  /Suites:[^\n]*bookworm([ \n]|$)/ {
                      for (i = 1; i <= NF; i++) if ($i ~ /^URIs:/) {
                          split($i, a, /[ \t]+/); print a[2]; exit } }' "$f")
            [ -n "$uri" ] && break
        done
    fi
    if [ -z "$uri" ]; then
        echo "error: cannot find the Debian archive URI in the apt configuration" >&2
        return 1
    fi
    printf '%s\n' "$uri"
}

# Write the private configuration once and refresh its lists at most daily.
apt_private_setup() {
    local uri keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/archives/partial"
    # sid and trixie are here for source and single-file downloads only:
    # never install from them, even as a dependency.
    printf 'Package: *\nPin: release n=%s\nPin-Priority: -1\n\n' \
        "$QEMU_SOURCE_SUITE" "$VERIFIER_SUITE" > "$APT_DIR/preferences"
    uri=$(archive_uri) || return 1
    cat > "$APT_DIR/private.sources.new" <<EOS
Types: deb
URIs: $uri
Suites: bookworm bookworm-backports
Components: main
Signed-By: $keyring

Types: deb deb-src
URIs: $uri
Suites: $QEMU_SOURCE_SUITE
Components: main
Signed-By: $keyring

Types: deb
URIs: $uri
Suites: $VERIFIER_SUITE
Components: main
Signed-By: $keyring
EOS
    local stamp=$APT_DIR/lists/.updated
    if ! cmp -s "$APT_DIR/private.sources.new" "$APT_DIR/sources.list.d/private.sources" 2>/dev/null \
       || [ -z "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
        mkdir -p "$APT_DIR/sources.list.d"
        mv "$APT_DIR/private.sources.new" "$APT_DIR/sources.list.d/private.sources"
        echo "apt: updating private package lists"
        apt_private apt-get update -qq
        touch "$stamp"
    else
        rm -f "$APT_DIR/private.sources.new"
    fi
}

# apt_private TOOL ARGS: run apt-get or apt-cache with the private config.
apt_private() {
    local tool=$1; shift
    "$tool" \
        -o Dir::Etc::SourceList=/dev/null \
        -o Dir::Etc::SourceParts="$APT_DIR/sources.list.d" \
        -o Dir::State::Lists="$APT_DIR/lists" \
        -o Dir::Cache::Archives="$APT_DIR/archives" \
        -o Dir::Etc::Preferences="$APT_DIR/preferences" \
        -o Dir::Etc::PreferencesParts=/dev/null \
        -o APT::Sandbox::User=root \
        "$@"
}
