#!/usr/bin/env bash
# powerloss.sh - a longer power-loss campaign than CI's (which runs 3 rounds
# per test): runs tests/kernel_faults' faio_powerloss_test with ROUNDS rounds
# per backend and per negative control, and prints the totals: acknowledged
# records, records lost (must be 0 for the good writer on every backend), and
# how often each negative control was caught (should be every round).
#   scripts/powerloss.sh [ROUNDS] [BUILD_DIR]      (defaults: 20, build)
#   FAIO_POWERLOSS_SEED=N replays the random stop times of a previous run.
# Needs root, a loop device, mkfs.ext4 and e2fsck. Exit status: the test's.
set -euo pipefail

rounds=${1:-20}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${2:-$root/build}
bin=$(find "$build" -name faio_powerloss_test -type f -perm -u+x | head -n 1)
if [[ -z "$bin" ]]; then
  echo "powerloss.sh: faio_powerloss_test not found under $build (build the tests first)" >&2
  exit 2
fi
log=$(mktemp "${TMPDIR:-/tmp}/faio-powerloss.XXXXXX")
trap 'rm -f "$log"' EXIT

status=0
FAIO_POWERLOSS_ROUNDS=$rounds "$bin" >"$log" 2>&1 || status=$?
grep -E '^\[ powerloss\]|^\[  (PASSED|FAILED|SKIPPED) |Skipped|Failure' "$log" || true

echo
echo "=== summary ($rounds rounds per test)"
awk '
  /^\[ powerloss\] .* good round/ {
    b = $3; n[b]++; acked[b] += $8 + 0; lost[b] += $10 + 0
  }
  /^\[ powerloss\] .*: caught in/ { print "negative control " $3 " " $4 " " $5 " " $6 " " $7 " " $8 " " $9 }
  END {
    for (b in n) printf "good writer on %-10s %3d rounds, %7d records acknowledged, %d lost\n", b, n[b], acked[b], lost[b]
  }' "$log"
exit "$status"
