# The result lines of the test scripts, which scripts/check.sh counts.
# Sourced.

pass() { echo "PASS $1"; }

# fail NAME WHY [FILE]: and FILE's contents (a log) if there is one
fail() {
    echo "FAIL $1: $2"
    if [ -n "${3:-}" ] && [ -f "$3" ]; then
        echo "---- $3 ----"
        cat "$3"
        echo "---- end ----"
    fi
}
