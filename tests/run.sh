#!/bin/sh
# Run every test binary, keep going after a failure, and close with one
# "N passed, N failed" line. A sanitizer report aborts the binary, which
# counts as a failure of the whole binary.
set -u
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export SMSGW_TOP="$(pwd)"
passed=0; failed=0; broken=""
for t in "$@"; do
    name=$(basename "$t")
    echo "=== $name"
    out=$(mktemp)
    timeout 600 "$t" >"$out" 2>&1
    rc=$?
    cat "$out"
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    if [ $rc -ne 0 ] && [ -z "$f" ]; then
        failed=$((failed + 1)); broken="$broken $name(rc=$rc)"
    fi
    [ $rc -ne 0 ] && [ -n "$f" ] && broken="$broken $name"
    rm -f "$out"
done
[ -n "$broken" ] && echo "failing:$broken"
echo "tests: $passed passed, $failed failed"
[ $failed -eq 0 ] && [ -z "$broken" ]
