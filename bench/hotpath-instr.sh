#!/usr/bin/env bash
# hotpath-instr.sh [BUILD] - user-space instructions per request of faio's
# completion path beside raw liburing (bench/hotpath_bench.cc's workload: 4 KiB
# random reads of a cached file, QD 32, C API), counted by callgrind.
#
# Each loop runs under callgrind at two request counts; the difference of the
# totals divided by the difference of the counts is the marginal cost per
# request, free of setup and teardown. Callgrind counts instructions, so the
# figure is stable on a noisy machine (it does not count the kernel's work).
#
# Environment: BACKEND (default io_uring), SMALL (100000), LARGE (200000).
set -euo pipefail
build=${1:-build}
bin=$build/bench/hotpath_bench
backend=${BACKEND:-io_uring}
small=${SMALL:-100000}
large=${LARGE:-200000}
[[ -x $bin ]] || { echo "hotpath-instr.sh: no $bin (build the benchmarks)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "hotpath-instr.sh: needs valgrind" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/faio-hotpath.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
file=$tmp/data
count() {  # mode requests -> total instructions
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
    "$bin" --mode "$1" --requests "$2" --rounds 1 --backend "$backend" --file "$file" \
    >/dev/null 2>"$tmp/vg.log" || { cat "$tmp/vg.log" >&2; exit 1; }
  sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$tmp/cg.out"
}
per_request() {  # mode -> marginal instructions per request
  local a b
  a=$(count "$1" "$small")
  b=$(count "$1" "$large")
  awk -v a="$a" -v b="$b" -v s="$small" -v l="$large" 'BEGIN { printf "%.1f", (b - a) / (l - s) }'
}
raw=$(per_request raw)
faio=$(per_request faio)
echo "# instructions per request (callgrind, marginal over $small -> $large requests)"
printf '%-22s %10s %8s\n' loop instr/req ratio
printf '%-22s %10s %8s\n' "raw liburing" "$raw" 1.00
printf '%-22s %10s %8s\n' "faio $backend" "$faio" "$(awk -v f="$faio" -v r="$raw" 'BEGIN { printf "%.2f", f / r }')"
