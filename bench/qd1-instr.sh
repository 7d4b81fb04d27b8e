#!/usr/bin/env bash
# qd1-instr.sh [BUILD] - user-space instructions per one-at-a-time operation of
# qd1_bench (bench/qd1_bench.cc: prepare, submit, wait for it, result; a cached
# 16 MiB file), counted by callgrind.
#
# qd1_bench runs under callgrind at two operation counts (one round each); the
# difference of the totals divided by the difference of the counts is the
# marginal cost of one operation of all the program's loops (faio's, and the
# plain system call's and, for reads, preadv2's beside it, which cost a few
# dozen instructions each), free of setup and teardown. Stable on a noisy
# machine: it does not count the kernel's work.
#
# Environment: BACKEND (default io_uring), OP (read, write or wsync16; default
# read), SMALL (2000), LARGE (6000). SMALL is at least 2000: qd1_bench's
# uncounted warm-up is min(ops, 2000) operations, the same at both counts only
# from there.
set -euo pipefail
build=${1:-build}
bin=$build/bench/qd1_bench
backend=${BACKEND:-io_uring}
op=${OP:-read}
small=${SMALL:-2000}
large=${LARGE:-6000}
[[ -x $bin ]] || { echo "qd1-instr.sh: no $bin (build the benchmarks)" >&2; exit 2; }
((small >= 2000 && large > small)) || { echo "qd1-instr.sh: needs 2000 <= SMALL < LARGE" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "qd1-instr.sh: needs valgrind" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/faio-qd1.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
count() {  # operations -> total instructions
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
    "$bin" --backend "$backend" --op "$op" --rounds 1 --ops "$1" --size 16 --dir "$tmp" \
    >"$tmp/out.txt" 2>"$tmp/vg.log" || { cat "$tmp/vg.log" >&2; exit 1; }
  if grep -q unavailable "$tmp/out.txt"; then  # no faio loop was run: no figure
    cat "$tmp/out.txt" >&2
    exit 1
  fi
  sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$tmp/cg.out"
}
a=$(count "$small")
b=$(count "$large")
echo "# instructions per one-at-a-time $op (callgrind, marginal over $small -> $large operations, all loops)"
awk -v a="$a" -v b="$b" -v s="$small" -v l="$large" -v be="$backend" \
  'BEGIN { printf "%-12s %10.1f\n", be, (b - a) / (l - s) }'
