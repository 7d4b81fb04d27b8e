#!/usr/bin/env bash
# check-skips.sh - fail when ctest skipped a test that is not allowed to skip.
#
# usage: scripts/check-skips.sh [--quiet] CTEST_LOG [ALLOWED]
#
# CTEST_LOG is what ctest printed (its "The following tests did not run:" list
# names each skipped test), or the build tree's Testing/Temporary/LastTest.log;
# the build marks a GoogleTest skip as a ctest skip (FAIO_GTEST_SKIPPED in
# CMakeLists.txt). ALLOWED (default
# tests/skips-allowed.txt) holds one extended regular expression per line, a
# TAB, and the reason that test may skip here; # starts a comment. Every skip
# is printed with its reason (--quiet: only when something is wrong); a skip
# that no line allows fails the check, so a backend, FUSE or a package that
# silently goes missing turns CI red instead of green.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quiet=0
if [[ ${1:-} == --quiet ]]; then
  quiet=1
  shift
fi
log=${1:?usage: check-skips.sh [--quiet] CTEST_LOG [ALLOWED]}
allowed=${2:-$here/tests/skips-allowed.txt}

# Either ctest's console output ("N - NAME (Skipped)" under "did not run") or
# its Testing/Temporary/LastTest.log ("Skip regular expression found", then the
# test's '"NAME" end time' line).
mapfile -t skipped < <({
  sed -n 's/^[[:space:]]*[0-9][0-9]* - \(.*\) (Skipped)$/\1/p' "$log"
  awk '/^Skip regular expression found in output/ { want = 1; next }
       want && /" end time: / { sub(/^"/, ""); sub(/" end time: .*$/, ""); print; want = 0 }' "$log"
} | sed 's/  # GetParam.*//' | sort -u)
patterns=()
reasons=()
while IFS=$'\t' read -r pattern reason; do
  [[ -z $pattern || $pattern == \#* ]] && continue
  patterns+=("$pattern")
  reasons+=("$reason")
done <"$allowed"

bad=0
report=()
for t in "${skipped[@]}"; do
  why=""
  for i in "${!patterns[@]}"; do
    if [[ $t =~ ^(${patterns[$i]})$ ]]; then
      why=${reasons[$i]}
      break
    fi
  done
  if [[ -n $why ]]; then
    report+=("  skipped (allowed): $t - $why")
  else
    report+=("  SKIPPED, NOT ALLOWED: $t")
    bad=1
  fi
done
if ((bad || !quiet)); then
  echo "check-skips: ${#skipped[@]} test(s) skipped"
  ((${#report[@]} > 0)) && printf '%s\n' "${report[@]}"
fi
if ((bad)); then
  echo "check-skips: a test skipped that must run here (see $allowed)" >&2
  exit 1
fi
